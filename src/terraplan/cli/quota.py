"""``terraplan quota``: fair quotas for a plan, with ramp, seasonality and a fairness report.

Works on files for now: a plan CSV (``account_id, rep_id``) plus the accounts and reps files (or
a scenario spec naming them). Prints rich tables and writes ``quotas.csv``, ``periods.csv`` and
``fairness.csv`` to ``--out``. Money on the command line and in the CSVs is in currency units
with cents (``1234.56``); everything inside is integer cents.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.table import Table

from terraplan.cli.common import console, handle_errors, resolve_actor, workspace
from terraplan.domain import AccountBook, Plan, RepRoster, format_cents, to_cents
from terraplan.errors import InputValidationError, ParameterError, Problem


def money(cents: int) -> str:
    """Cents as a plain decimal string for CSV output: ``-123456 -> '-1234.56'``."""
    sign = "-" if cents < 0 else ""
    u, c = divmod(abs(int(cents)), 100)
    return f"{sign}{u}.{c:02d}"


def parse_money(text: str, what: str) -> int:
    try:
        return to_cents(text)
    except ValueError as exc:
        raise ParameterError(f"{what} must be an amount like 1234.56. Got {text!r}.") from exc


def parse_floats(text: str, what: str) -> list[float]:
    try:
        return [float(x) for x in text.replace(";", ",").split(",") if x.strip()]
    except ValueError as exc:
        raise ParameterError(f"{what} must be comma-separated numbers. Got {text!r}.") from exc


def load_inputs(
    spec: Path | None, accounts: Path | None, reps: Path | None
) -> tuple[AccountBook, RepRoster]:
    """The book and roster from a scenario spec, or from an accounts and a reps file."""
    from terraplan.io import load_data, load_scenario

    if spec is not None:
        sc, _ = load_scenario(spec)
        return sc.accounts, sc.reps
    if accounts is None or reps is None:
        raise ParameterError("give --spec, or both --accounts and --reps")
    book, roster, _ = load_data(accounts, reps)
    return book, roster


def load_plan(path: Path | None, book: AccountBook, roster: RepRoster) -> Plan:
    """A plan CSV (``account_id, rep_id``), or the CRM's current owners when ``path`` is None."""
    if path is None:
        return Plan.current(book, roster)
    from terraplan.io import read_plan

    return read_plan(path)


def read_account_amounts(path: Path, column: str) -> dict[str, int]:
    """``account_id`` → cents from a CSV with an ``account_id`` and an amount column."""
    out: dict[str, int] = {}
    problems: list[Problem] = []
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rd = csv.DictReader(fh)
        cols = rd.fieldnames or []
        if "account_id" not in cols or column not in cols:
            raise InputValidationError([Problem(
                f"needs columns 'account_id' and '{column}'; found {cols}", source=str(path))])
        for i, row in enumerate(rd, start=2):
            try:
                out[row["account_id"]] = to_cents(row[column] or "0")
            except ValueError:
                problems.append(Problem("not a money amount", i, column, row[column],
                                        source=str(path)))
    if problems:
        raise InputValidationError(problems)
    return out


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def register(app: typer.Typer) -> None:
    @app.command("quota")
    @handle_errors
    def quota(
        target: str = typer.Option(..., "--target", help="Company target for the year (e.g. "
                                   "10000000 or 10,000,000.00)."),
        plan: Path | None = typer.Option(None, "--plan", help="Plan CSV (account_id, rep_id); "
                                         "default: current owners."),
        spec: Path | None = typer.Option(None, "--spec", help="Scenario spec (YAML)."),
        accounts: Path | None = typer.Option(None, "--accounts", help="Accounts file."),
        reps: Path | None = typer.Option(None, "--reps", help="Reps file."),
        history: Path | None = typer.Option(None, "--history", help="CSV account_id, "
                                            "bookings: last year's bookings per account."),
        forecast: Path | None = typer.Option(None, "--forecast", help="CSV account_id, "
                                             "forecast: optional forecast per account."),
        over: float = typer.Option(0.10, "--over", help="Over-assignment rate o (default "
                                   "0.10)."),
        method: str = typer.Option("blended", "--method", help="blended, growth_split, "
                                   "equal_probability or even."),
        weights: str = typer.Option("0.5,0.5,0", "--weights", help="Blended weights for "
                                    "potential, history, forecast."),
        cap_share: float | None = typer.Option(None, "--cap-share", help="Cap quota at this "
                                               "share of territory potential."),
        periods: str = typer.Option("quarter", "--periods", help="quarter or month."),
        seasonality: str | None = typer.Option(None, "--seasonality", help="One weight per "
                                               "period, e.g. .22,.24,.25,.29."),
        ramp: str = typer.Option("monthly", "--ramp", help="monthly (0/25/50/75/100 %), "
                                 "quarterly (25/50/75/100 %) or none."),
        mode: str = typer.Option("relief", "--mode", help="relief or redistribute."),
        year_start: str = typer.Option(f"{date.today().year}-01-01", "--year-start",
                                       help="First day of the plan year."),
        sigma: float = typer.Option(0.35, "--sigma", help="Attainment log-volatility."),
        rho: float = typer.Option(0.3, "--rho", help="Common-shock share of the variance."),
        out: Path = typer.Option(Path("quota_out"), "--out", help="Output folder for CSVs."),
        scenario: str | None = typer.Option(None, "--scenario", help="A solved scenario in the "
                                            "store: use its inputs and plan, and record the "
                                            "quotas with it (instead of --plan/--accounts/"
                                            "--reps)."),
        db: str | None = typer.Option(None, "--db", envvar="TERRAPLAN_DATABASE_URL",
                                      help="Store URL (with --scenario)."),
    ) -> None:
        """Allocate the street total over the plan's territories and report fairness.

        Example: terraplan quota --scenario base --target 120,000,000 --history bookings.csv
        """
        from terraplan.quota import (
            AttainmentModel,
            PlanCalendar,
            RampSchedule,
            quotas_for_plan,
        )

        if scenario is not None:
            if plan or accounts or reps or spec:
                raise ParameterError("--scenario takes inputs and plan from the store; drop "
                                     "--plan/--spec/--accounts/--reps")
            with workspace(db) as ws:
                stored = ws.load_scenario(scenario)
                book, roster = stored.accounts, stored.reps
                the_plan = ws.get_plan(scenario)
        else:
            book, roster = load_inputs(spec, accounts, reps)
            the_plan = load_plan(plan, book, roster)
        w = parse_floats(weights, "--weights")
        if len(w) != 3:
            raise ParameterError(f"--weights needs three numbers. Got {weights!r}.")
        try:
            ys = date.fromisoformat(year_start)
        except ValueError as exc:
            raise ParameterError(f"--year-start must be YYYY-MM-01. Got {year_start!r}.") from exc
        schedules = {"monthly": RampSchedule.monthly(), "quarterly": RampSchedule.quarterly(),
                     "none": RampSchedule.none()}
        if ramp not in schedules:
            raise ParameterError(f"--ramp must be monthly, quarterly or none. Got {ramp!r}.")
        cal = PlanCalendar(ys, periods)  # type: ignore[arg-type]
        result = quotas_for_plan(
            book, roster, the_plan, parse_money(target, "--target"),
            history=None if history is None else read_account_amounts(history, "bookings"),
            forecast=None if forecast is None else read_account_amounts(forecast, "forecast"),
            over_assignment=over, method=method, weights=(w[0], w[1], w[2]),
            cap_share=cap_share, calendar=cal,
            seasonality=parse_floats(seasonality, "--seasonality") if seasonality else None,
            ramp=schedules[ramp], mode=mode, model=AttainmentModel(sigma, rho))
        alloc, sched, report, hist = (result.allocation, result.schedule, result.fairness,
                                      result.history)

        t = Table(title=f"Quotas — target {format_cents(alloc.target)}, street "
                  f"{format_cents(alloc.street)} (+{float(alloc.over_assignment):.1%})")
        for col in ("rep", "potential", "quota TQ", "ramped RQ", "relief", "vacancy",
                    "TQ/potential", "P(quota)"):
            t.add_column(col, justify="left" if col == "rep" else "right")
        for rf, row in zip(report.reps, sched.rows, strict=True):
            t.add_row(rf.rep_id, format_cents(rf.potential), format_cents(row.territory_quota),
                      format_cents(row.ramped_quota), format_cents(row.relief),
                      format_cents(row.vacancy),
                      "-" if np.isnan(rf.kappa) else f"{rf.kappa:.3f}", f"{rf.p_quota:.0%}")
        console.print(t)
        f = Table(title="Fairness")
        for col in ("metric", "CV", "Gini", "max/min", "within ±15 %"):
            f.add_column(col, justify="left" if col == "metric" else "right")
        for name, d in (("potential", report.potential), ("workload", report.workload),
                        ("quota/potential", report.kappa)):
            f.add_row(name, f"{d.cv:.4f}", f"{d.gini:.4f}", f"{d.max_min:.4f}",
                      f"{d.band_share:.0%}")
        console.print(f)
        console.print(f"Reps expected at or above quota: {report.share_at_quota:.1%}; "
                      f"probability the company makes target: {report.p_company:.1%}")
        for wn in report.warnings:
            console.print(f"[yellow]warning:[/] {wn.message}")

        labels = cal.labels()
        write_csv(out / "quotas.csv",
                  ["rep_id", "potential", "history", "territory_quota", "ramped_quota",
                   "relief", "vacancy", "kappa", "growth", "p_quota"],
                  [[rf.rep_id, money(rf.potential),
                    "" if hist is None else money(int(hist[i])),
                    money(row.territory_quota), money(row.ramped_quota), money(row.relief),
                    money(row.vacancy), "" if np.isnan(rf.kappa) else f"{rf.kappa:.6f}",
                    "" if rf.growth is None else f"{rf.growth:.6f}", f"{rf.p_quota:.6f}"]
                   for i, (rf, row) in enumerate(zip(report.reps, sched.rows, strict=True))])
        write_csv(out / "periods.csv", ["rep_id", "period", "quota"],
                  [[row.rep_id, labels[k], money(q)] for row in sched.rows
                   for k, q in enumerate(row.periods)])
        write_csv(out / "fairness.csv", ["metric", "cv", "gini", "max_min", "band_share"],
                  [[n, d.cv, d.gini, d.max_min, d.band_share] for n, d in (
                      ("potential", report.potential), ("workload", report.workload),
                      ("kappa", report.kappa))])
        console.print(f"wrote {out / 'quotas.csv'}, {out / 'periods.csv'}, "
                      f"{out / 'fairness.csv'}")
        if scenario is not None:
            with workspace(db) as ws:
                qs = ws.record_quotas(
                    scenario, [(row.rep_id, labels[k], int(q)) for row in sched.rows
                               for k, q in enumerate(row.periods)],
                    actor=resolve_actor(None), method=str(alloc.method.value),
                    params={"target": alloc.target, "street": alloc.street,
                            "over_assignment": str(alloc.over_assignment),
                            "year_start": cal.year_start.isoformat(), "periods": periods})
            console.print(f"recorded quota set {qs.id} with scenario {scenario!r}")
