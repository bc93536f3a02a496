"""``terraplan init`` and ``terraplan import``: create a workspace and load CRM exports into it.

A workspace is a folder with a ``.env`` naming the store (``TERRAPLAN_DATABASE_URL``, read by
:mod:`terraplan.settings` from the current folder) and the store itself, migrated to the latest
schema (an embedded SQLite file ``terraplan.db`` unless ``--db`` names another URL).

``import`` validates both files with the importer's full error report (every problem, with row,
column and value; exit code 2) and stores them as immutable, content-hashed snapshots. With
``--baseline NAME`` or ``--history FILE`` it also stores the CRM's current ownership as a
scenario (status ``solved``, its plan = the current owners) — the baseline every plan is compared
with — and attaches last year's bookings per account to it as a metric of kind ``history``
(``{"bookings_cents": {account_id: cents}, "total_cents", "source", "accounts_sha256"}``).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from terraplan.cli.common import (
    ACTOR,
    DB,
    JSON,
    console,
    emit_json,
    err_console,
    handle_errors,
    resolve_actor,
)
from terraplan.domain import format_cents, to_cents
from terraplan.errors import InputValidationError, ParameterError, Problem

QUIET = typer.Option(False, "--quiet", "-q", help="Print nothing on success.")
ENV_KEY = "TERRAPLAN_DATABASE_URL"


def _write_env(env: Path, url: str) -> bool:
    """Set ``TERRAPLAN_DATABASE_URL`` in ``env`` keeping its other lines; True when changed."""
    lines = env.read_text(encoding="utf-8").splitlines() if env.exists() else []
    new = f"{ENV_KEY}={url}"
    if new in lines:
        return False
    kept = [ln for ln in lines if not re.match(rf"\s*(export\s+)?{ENV_KEY}\s*=", ln)]
    env.write_text("\n".join([*kept, new]) + "\n", encoding="utf-8")
    return True


def read_history(path: Path) -> dict[str, int]:
    """Last year's bookings per account: a CSV with ``account_id`` and ``bookings`` (currency
    units with cents). Every bad row is reported (exit code 2), duplicates included."""
    out: dict[str, int] = {}
    problems: list[Problem] = []
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rd = csv.DictReader(fh)
        cols = rd.fieldnames or []
        missing = [c for c in ("account_id", "bookings") if c not in cols]
        if missing:
            raise InputValidationError([Problem(
                f"history file needs columns account_id and bookings; missing "
                f"{', '.join(missing)} (found {', '.join(cols) or 'no header'})",
                source=str(path))])
        for i, row in enumerate(rd, start=2):
            aid = (row.get("account_id") or "").strip()
            if not aid:
                problems.append(Problem("empty account_id", i, "account_id", "",
                                        source=str(path)))
                continue
            if aid in out:
                problems.append(Problem("duplicate account_id", i, "account_id", aid,
                                        source=str(path)))
                continue
            try:
                cents = to_cents((row.get("bookings") or "0").strip() or "0")
            except ValueError:
                problems.append(Problem("not a money amount", i, "bookings", row.get("bookings"),
                                        source=str(path)))
                continue
            if cents < 0:
                problems.append(Problem("negative bookings", i, "bookings", row.get("bookings"),
                                        source=str(path)))
                continue
            out[aid] = cents
    if problems:
        raise InputValidationError(problems)
    return out


def _report_table(report: Any) -> Table:
    t = Table(title="Import", header_style="bold")
    for name in ("file", "rows in", "loaded", "rejected", "errors", "warnings", "rejects file"):
        t.add_column(name, justify="left" if name in ("file", "rejects file") else "right")
    for part in report.parts or (report,):
        t.add_row(Path(part.source).name, f"{part.rows_in:,}", f"{part.rows_loaded:,}",
                  f"{part.rows_rejected:,}", f"{len(part.problems):,}", f"{len(part.warnings):,}",
                  "" if part.rejects_path is None else str(part.rejects_path))
    return t


def register(app: typer.Typer) -> None:
    @app.command("init")
    @handle_errors
    def init(
        directory: Path = typer.Argument(Path("."), file_okay=False,
                                         help="Workspace folder (created if missing)."),
        db: str | None = typer.Option(None, "--db", help="Store URL (default: SQLite file "
                                      "terraplan.db in the folder; or postgresql+psycopg://…)."),
        as_json: bool = JSON, quiet: bool = QUIET,
    ) -> None:
        """Create a workspace: a .env naming the store, and the store migrated to the latest
        schema. Running it again upgrades the store and changes nothing else.

        Example: terraplan init fy27 && cd fy27
        """
        from terraplan.services import init_store

        directory.mkdir(parents=True, exist_ok=True)
        url = db or f"sqlite:///{(directory / 'terraplan.db').resolve()}"
        revision = init_store(url)
        env = directory / ".env"
        changed = _write_env(env, url)
        if as_json:
            emit_json({"directory": str(directory.resolve()), "database_url": url,
                       "schema_revision": revision, "config": str(env.resolve()),
                       "config_changed": changed})
        elif not quiet:
            console.print(f"[green]workspace ready[/] in {directory.resolve()}")
            console.print(f"  store   {url} (schema {revision})")
            console.print(f"  config  {env.resolve()} ({'written' if changed else 'unchanged'})")
            console.print("next: terraplan import accounts.csv reps.csv")

    @app.command("import")
    @handle_errors
    def import_(
        accounts: Path = typer.Argument(..., help="Accounts file (CSV, Parquet or .xlsx)."),
        reps: Path = typer.Argument(..., help="Reps file (CSV, Parquet or .xlsx)."),
        spec: Path | None = typer.Option(None, "--spec", exists=True, dir_okay=False,
                                         help="Scenario spec YAML (column mapping, units)."),
        history: Path | None = typer.Option(None, "--history", help="CSV account_id, bookings: "
                                            "last year's bookings per account."),
        baseline: str | None = typer.Option(None, "--baseline", help="Also store the CRM's "
                                            "current ownership as this scenario (default "
                                            "'baseline-<sha>' when --history is given)."),
        on_error: str = typer.Option("raise", "--on-error", help="'raise': nothing loads while "
                                     "errors remain; 'skip': load the good rows, write the "
                                     "rejected ones to the rejects file."),
        rejects: Path | None = typer.Option(None, "--rejects", help="Rejects file for accounts "
                                            "in skip mode (reps go to <name>.reps.csv)."),
        cycle: str | None = typer.Option(None, "--cycle", help="Cycle of the baseline."),
        show: int = typer.Option(50, "--show", min=0, help="Problems listed on error."),
        actor: str | None = ACTOR, db: str | None = DB, as_json: bool = JSON,
        quiet: bool = QUIET,
    ) -> None:
        """Validate and store accounts and reps (immutable snapshots), optionally with last
        year's bookings and the current CRM ownership as a baseline scenario.

        Exit code 2 with every problem listed when a file has errors (in skip mode the good
        rows load and the bad ones go to the rejects file).

        Example: terraplan import accounts.csv reps.csv --history bookings.csv --on-error skip
        """
        from terraplan.domain import Plan, ScenarioSpec
        from terraplan.io import load_data
        from terraplan.services import Workspace

        if on_error not in ("raise", "skip"):
            raise ParameterError(f"--on-error must be 'raise' or 'skip'. Got {on_error!r}.")
        sp = ScenarioSpec.from_yaml(spec) if spec is not None else None
        hist = read_history(history) if history is not None else None
        try:
            book, roster, report = load_data(accounts, reps, sp,
                                             on_error="skip" if on_error == "skip" else "raise",
                                             rejects=rejects)
        except InputValidationError as exc:
            exc.shown = show
            raise
        if hist is not None:
            known = set(book.ids.tolist())
            unknown = [a for a in hist if a not in known]
            if unknown:
                err_console.print(f"[yellow]warning:[/] {len(unknown):,} history row(s) name "
                                  f"accounts not in the book (ignored), e.g. {unknown[:3]}")
                hist = {a: c for a, c in hist.items() if a in known}
        actor_ = resolve_actor(actor)
        ws = Workspace.open(db)
        try:
            info = ws.import_inputs(book, roster, actor=actor_,
                                    why=f"import {accounts.name}, {reps.name}")
            base = None
            if baseline is not None or hist is not None:
                name = baseline or f"baseline-{info.accounts.sha256[:8]}"
                base = ws.create_scenario(
                    name, actor=actor_, spec=(sp or ScenarioSpec()).model_copy(
                        update={"name": name}),
                    accounts=info.accounts.id, reps=info.reps.id, cycle=cycle,
                    plan=Plan.current(book, roster),
                    description="the CRM's current ownership at import",
                    why="baseline: current ownership")
                if hist is not None:
                    ws.record_metrics(base.id, "history", {
                        "source": str(history), "accounts_sha256": info.accounts.sha256,
                        "accounts": len(hist), "total_cents": sum(hist.values()),
                        "bookings_cents": hist}, actor=actor_)
        finally:
            ws.close()
        if as_json:
            emit_json({"report": report.to_dict(),
                       "accounts": {"snapshot": info.accounts.id,
                                    "sha256": info.accounts.sha256,
                                    "rows": info.accounts.n_rows, "new": info.accounts_created},
                       "reps": {"snapshot": info.reps.id, "sha256": info.reps.sha256,
                                "rows": info.reps.n_rows, "new": info.reps_created},
                       "baseline": None if base is None else base.to_dict(),
                       "history": None if hist is None else {
                           "accounts": len(hist), "total_cents": sum(hist.values())}})
        elif not quiet:
            console.print(_report_table(report))
            for w in list(report.warnings)[:show]:
                console.print(f"[yellow]warning:[/] {w}", markup=True, highlight=False)
            console.print(
                f"[green]imported[/] {info.accounts.n_rows:,} accounts (snapshot "
                f"{info.accounts.id}, {info.accounts.sha256[:12]}"
                f"{'' if info.accounts_created else ', already stored'}) and "
                f"{info.reps.n_rows:,} reps (snapshot {info.reps.id}, "
                f"{info.reps.sha256[:12]}{'' if info.reps_created else ', already stored'})")
            if report.rows_rejected:
                console.print(f"[yellow]{report.rows_rejected:,} row(s) rejected[/] — see the "
                              "rejects file(s) above")
            if base is not None:
                console.print(f"baseline scenario [bold]{base.name}[/] holds the current "
                              "ownership" + ("" if hist is None else
                                             f"; history {len(hist):,} accounts, "
                                             f"{format_cents(sum(hist.values()))} booked"))
