"""``terraplan validate``: check CRM exports and report every problem."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from terraplan.cli.common import console, emit_json, handle_errors
from terraplan.errors import Problem, Severity

_SHOW = 200  # rows of the problem table printed; the summary always counts them all


def _problem_table(problems: list[Problem], limit: int) -> Table:
    table = Table(title="Problems", show_lines=False, header_style="bold")
    for name in ("severity", "file", "row", "column", "value", "reason"):
        table.add_column(name, overflow="fold")
    for p in problems[:limit]:
        sev = "[red]error[/]" if p.severity is Severity.ERROR else "[yellow]warning[/]"
        value = "" if p.value is None else (p.value if len(p.value) <= 40
                                             else p.value[:37] + "...")
        table.add_row(sev, Path(p.source).name if p.source else "",
                      "" if p.row is None else str(p.row), p.column or "", value, p.reason)
    return table


def register(app: typer.Typer) -> None:
    @app.command()
    @handle_errors
    def validate(
        accounts: Annotated[Path, typer.Argument(help="Accounts file (CSV, Parquet or .xlsx).")],
        reps: Annotated[Path, typer.Argument(help="Reps file (CSV, Parquet or .xlsx).")],
        spec: Annotated[Path | None, typer.Option(
            "--spec", help="Scenario spec YAML (column mapping, coordinates, currency unit).")
        ] = None,
        on_error: Annotated[str, typer.Option(
            "--on-error", help="'raise': report only; 'skip': also write the rejected rows.")
        ] = "raise",
        rejects: Annotated[Path | None, typer.Option(
            "--rejects", help="Rejects file for accounts in skip mode (reps go to "
                              "<name>.reps.csv); default <accounts>.rejects.csv.")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
        show: Annotated[int, typer.Option("--show", help="Problems to list in the table.")
                        ] = _SHOW,
    ) -> None:
        """Check an accounts file and a reps file; print every problem and a summary.

        Exit code 2 when any error is found (in skip mode too: rows were rejected), 0 otherwise.

        Example: terraplan validate accounts.csv reps.csv --spec spec.yaml --on-error skip
        """
        from terraplan.domain import ScenarioSpec
        from terraplan.errors import ParameterError
        from terraplan.io import validate_inputs

        if on_error not in ("raise", "skip"):
            raise ParameterError(f"--on-error must be 'raise' or 'skip'. Got {on_error!r}.")
        sp = ScenarioSpec.from_yaml(spec) if spec is not None else None
        # base: the spec's folder, against which its inputs.adjacency file is resolved
        report = validate_inputs(accounts, reps, sp,
                                 on_error="skip" if on_error == "skip" else "raise",
                                 rejects=rejects,
                                 base=None if spec is None else Path(spec).parent)
        if as_json:
            emit_json(report.to_dict())
        else:
            problems = list(report.problems) + list(report.warnings)
            if problems:
                console.print(_problem_table(problems, show))
                if len(problems) > show:
                    console.print(f"... and {len(problems) - show:,} more (use --show or --json)")
            summary = Table(title="Summary", header_style="bold")
            for name in ("file", "rows in", "loaded", "rejected", "errors", "warnings",
                         "rejects file"):
                summary.add_column(name, justify="right" if name[0] in "rlew" else "left")
            for part in report.parts or (report,):
                summary.add_row(
                    Path(part.source).name, f"{part.rows_in:,}", f"{part.rows_loaded:,}",
                    f"{part.rows_rejected:,}", f"{len(part.problems):,}",
                    f"{len(part.warnings):,}", "" if part.rejects_path is None
                    else str(part.rejects_path))
            console.print(summary)
            verdict = ("[green]ok[/]" if report.ok else
                       f"[red]{len(report.problems):,} error(s)[/]")
            console.print(f"{verdict}: {report.rows_in:,} rows in = {report.rows_loaded:,} "
                          f"loaded + {report.rows_rejected:,} rejected")
            if not report.ok and on_error == "raise":
                console.print("(with --on-error raise nothing loads while errors remain; "
                              "'loaded' counts the rows that --on-error skip would keep)")
        if not report.ok:
            raise typer.Exit(2)
