"""``terraplan comp simulate|design``: cost a compensation plan and design one under budget.

Inputs are files for now: the reps file (OTE, base share, role, start/end dates) and the
``quotas.csv`` written by ``terraplan quota``. ``simulate`` prints the closed-form expectation,
the Monte Carlo distribution (mean, P50, P90, CVaR90 of cost and CCOS) and a histogram, and can
replay last year's bookings; ``design`` solves the budgeted LP for one role.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import numpy as np
import typer
from rich.markup import escape
from rich.table import Table

from terraplan.cli.common import console, handle_errors
from terraplan.cli.quota import money, parse_floats, parse_money, write_csv
from terraplan.domain import RepRoster, format_cents, to_cents
from terraplan.errors import InputValidationError, ParameterError, Problem

comp_app = typer.Typer(name="comp", no_args_is_help=True,
                       help="Compensation plans: cost simulation and design under budget.")


def _read_quotas(path: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    problems: list[Problem] = []
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rd = csv.DictReader(fh)
        cols = rd.fieldnames or []
        col = "ramped_quota" if "ramped_quota" in cols else "quota"
        if "rep_id" not in cols or col not in cols:
            raise InputValidationError([Problem(
                f"needs columns 'rep_id' and 'ramped_quota' (or 'quota'); found {cols}",
                source=str(path))])
        for i, row in enumerate(rd, start=2):
            try:
                out[row["rep_id"]] = to_cents(row[col] or "0")
            except ValueError:
                problems.append(Problem("not a money amount", i, col, row[col], source=str(path)))
    if problems:
        raise InputValidationError(problems)
    return out


def _curve(spec: str, cap: float | None, retroactive: bool):
    from terraplan.comp import PayoutCurve

    tiers = []
    for part in spec.replace(";", ",").split(","):
        if not part.strip():
            continue
        try:
            a, m = part.split(":")
            tiers.append((float(a), float(m)))
        except ValueError as exc:
            raise ParameterError(
                f"--curve must look like '0:1,1:2,1.5:3' (attainment:multiplier). Got {spec!r}."
            ) from exc
    if retroactive:
        return PayoutCurve.retroactive(tiers, cap=cap)
    return PayoutCurve.from_tiers(tiers, cap=cap)


def _inputs(roster: RepRoster, quotas: dict[str, int], curve, year_start: date,
            role: str | None):
    from terraplan.comp import plans_for_roster
    from terraplan.quota import PlanCalendar

    out = plans_for_roster(roster, quotas, curve, calendar=PlanCalendar(year_start), role=role)
    if not out.plans:
        raise ParameterError("no rep has a quota > 0, an OTE and employment in the plan year")
    return out


SPEC = typer.Option(None, "--spec", help="Scenario spec (YAML) naming the reps file.")
ACCOUNTS = typer.Option(None, "--accounts", help="Accounts file (with --reps).")
REPS = typer.Option(None, "--reps", help="Reps file (OTE, base share, role, dates).")
QUOTAS = typer.Option(..., "--quotas", help="quotas.csv from 'terraplan quota' (rep_id, "
                      "ramped_quota).")
CURVE = typer.Option("0:1,1:2,1.5:3", "--curve", help="Marginal tiers attainment:multiplier.")
CAP = typer.Option(3.0, "--cap", help="Payout cap as a multiple of TI (0 = none).")
SHARE = typer.Option(0.6, "--share-at-quota", help="Expected share of reps at quota (sets μ).")
SIGMA = typer.Option(0.35, "--sigma", help="Attainment log-volatility.")
RHO = typer.Option(0.3, "--rho", help="Common-shock share of the variance.")
YEAR = typer.Option(f"{date.today().year}-01-01", "--year-start", help="Plan year start.")


def _roster(spec: Path | None, accounts: Path | None, reps: Path | None) -> RepRoster:
    if spec is None and accounts is None and reps is not None:
        from terraplan.io import read_reps

        return read_reps(reps)[0]
    from terraplan.cli.quota import load_inputs

    return load_inputs(spec, accounts, reps)[1]


@comp_app.command("simulate")
@handle_errors
def simulate(
    quotas: Path = QUOTAS, spec: Path | None = SPEC, accounts: Path | None = ACCOUNTS,
    reps: Path | None = REPS, curve: str = CURVE, cap: float = CAP,
    retroactive: bool = typer.Option(False, "--retroactive", help="Tiers are retroactive."),
    share_at_quota: float = SHARE, sigma: float = SIGMA, rho: float = RHO,
    scenarios: int = typer.Option(20_000, "--scenarios", help="Monte Carlo scenarios."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    spif: str = typer.Option("0", "--spif", help="Fixed SPIF pool."),
    replay: Path | None = typer.Option(None, "--replay", help="CSV rep_id, bookings: last "
                                       "year's bookings to replay."),
    year_start: str = YEAR,
    out: Path = typer.Option(Path("comp_out"), "--out", help="Output folder for CSVs."),
) -> None:
    """Expected cost (closed form) and its Monte Carlo distribution with a common shock.

    Example: terraplan comp simulate --quotas out/quotas.csv --reps reps.csv --curve 0:1,1:2
    """
    from terraplan.comp import Team, expected_cost, replay_cost, simulate_cost
    from terraplan.quota import AttainmentModel

    model = AttainmentModel(sigma, rho)
    the_curve = _curve(curve, cap or None, retroactive)
    inp = _inputs(_roster(spec, accounts, reps), _read_quotas(quotas), the_curve,
                  date.fromisoformat(year_start), None)
    team = Team.from_plans(inp.rep_ids, inp.plans, model.mu_for_share(share_at_quota),
                           spif=parse_money(spif, "--spif"))
    est = expected_cost(team, model)
    sim = simulate_cost(team, model, n_scenarios=scenarios, seed=seed)
    t = Table(title=f"Plan cost — {len(team)} reps, curve {the_curve.describe()}")
    t.add_column("measure")
    t.add_column("total cost", justify="right")
    t.add_column("CCOS", justify="right")
    t.add_row("expected (closed form)", format_cents(round(est.total)),
              f"{est.ccos_of_expectations:.2%} (E[C]/E[B])")
    t.add_row(f"mean (MC, ±{format_cents(round(sim.std_error))})",
              format_cents(round(sim.mean)), f"{sim.ccos_mean:.2%}")
    t.add_row("P50", format_cents(round(sim.p50)), f"{sim.ccos_p50:.2%}")
    t.add_row("P90", format_cents(round(sim.p90)), f"{sim.ccos_p90:.2%}")
    t.add_row("CVaR90", format_cents(round(sim.cvar90)), f"{sim.ccos_cvar90:.2%}")
    console.print(t)
    peak = max(int(sim.histogram_counts.max()), 1)
    for c, lo in zip(sim.histogram_counts.tolist(), sim.histogram_edges[:-1].tolist(),
                     strict=True):
        console.print(f"{format_cents(round(lo)):>20} {'#' * round(40 * c / peak)}",
                      highlight=False)
    for cl in the_curve.cliffs(int(np.median(team.ti))):
        console.print(f"[yellow]cliff:[/] pay jumps by {format_cents(cl.jump)} at "
                      f"{cl.attainment:.0%} ({format_cents(cl.step)} between "
                      f"{cl.attainment - cl.step_width:.0%} and {cl.attainment:.0%}) for a "
                      "median-TI rep")
    if inp.skipped:
        console.print(f"[yellow]skipped {len(inp.skipped)} rep(s)[/] without quota, OTE or "
                      f"employment: {', '.join(inp.skipped[:10])}")
    write_csv(out / "cost_summary.csv", ["measure", "cost", "ccos"], [
        ["expected_closed_form", money(round(est.total)), est.ccos_of_expectations],
        ["mean", money(round(sim.mean)), sim.ccos_mean],
        ["std_error", money(round(sim.std_error)), ""],
        ["p50", money(round(sim.p50)), sim.ccos_p50],
        ["p90", money(round(sim.p90)), sim.ccos_p90],
        ["cvar90", money(round(sim.cvar90)), sim.ccos_cvar90]])
    write_csv(out / "cost_histogram.csv", ["from", "to", "scenarios"],
              [[money(round(a)), money(round(b)), c] for a, b, c in zip(
                  sim.histogram_edges[:-1].tolist(), sim.histogram_edges[1:].tolist(),
                  sim.histogram_counts.tolist(), strict=True)])
    write_csv(out / "cost_per_rep.csv",
              ["rep_id", "quota", "base", "target_incentive", "bcr", "quota_to_ote",
               "expected_cost", "expected_f"],
              [[rid, money(p.quota), money(p.base), money(p.target_incentive),
                f"{float(p.bcr):.6f}", f"{float(p.quota_to_ote):.4f}",
                money(round(float(c))), f"{float(f):.6f}"]
               for rid, p, c, f in zip(inp.rep_ids, inp.plans, est.per_rep,
                                       est.expected_payout_multiple, strict=True)])
    if replay is not None:
        books: dict[str, int] = {}
        with open(replay, newline="", encoding="utf-8-sig") as fh:
            for row in csv.DictReader(fh):
                books[row["rep_id"]] = to_cents(row["bookings"] or "0")
        r = replay_cost(inp.rep_ids, inp.plans, [books.get(i, 0) for i in inp.rep_ids],
                        spif=team.spif)
        console.print(f"Replay of last year's bookings: cost {format_cents(r.total)}, "
                      f"CCOS {float(r.ccos):.2%}")
        write_csv(out / "replay.csv", ["rep_id", "bookings", "incentive", "pay"],
                  [[i, money(b), money(n), money(p)] for i, b, n, p in zip(
                      r.rep_ids, r.bookings, r.incentive, r.pay, strict=True)])
    console.print(f"wrote CSVs to {out}/")


@comp_app.command("design")
@handle_errors
def design(
    quotas: Path = QUOTAS, spec: Path | None = SPEC, accounts: Path | None = ACCOUNTS,
    reps: Path | None = REPS,
    role: str | None = typer.Option(None, "--role", help="Design for the reps of this role."),
    budget: str = typer.Option(..., "--budget", help="Expected total cost budget (base + "
                               "incentive + SPIF)."),
    cvar_budget: str | None = typer.Option(None, "--cvar-budget", help="CVaR90 budget."),
    grid: str = typer.Option("0,0.5,1,1.25,1.5,2", "--grid", help="Attainment breakpoints."),
    m_max: float = typer.Option(3.0, "--m-max", help="Largest multiplier."),
    leverage: float | None = typer.Option(None, "--leverage", help="Minimum payout multiple "
                                          "at the 90th-percentile attainment."),
    share_at_quota: float = SHARE, sigma: float = SIGMA, rho: float = RHO,
    scenarios: int = typer.Option(5_000, "--scenarios", help="Scenarios of the LP."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    spif: str = typer.Option("0", "--spif", help="Fixed SPIF pool."),
    year_start: str = YEAR,
    out: Path = typer.Option(Path("comp_out"), "--out", help="Output folder for CSVs."),
) -> None:
    """Choose the payout multipliers that maximise incentive under the budgets (LP, HiGHS).

    Example: terraplan comp design --quotas out/quotas.csv --reps reps.csv --budget 2500000
    """
    from terraplan.comp import PayoutCurve, Team, design_curve
    from terraplan.quota import AttainmentModel

    model = AttainmentModel(sigma, rho)
    inp = _inputs(_roster(spec, accounts, reps), _read_quotas(quotas), PayoutCurve.linear(),
                  date.fromisoformat(year_start), role)
    team = Team.from_plans(inp.rep_ids, inp.plans, model.mu_for_share(share_at_quota),
                           spif=parse_money(spif, "--spif"))
    res = design_curve(
        team, model, budget=parse_money(budget, "--budget"),
        cvar_budget=None if cvar_budget is None else parse_money(cvar_budget, "--cvar-budget"),
        grid=parse_floats(grid, "--grid"), m_max=m_max, leverage_min=leverage,
        n_scenarios=scenarios, seed=seed)
    if res.curve is None:
        console.print(f"[bold red]{res.status}:[/] {res.message}")
        raise typer.Exit(1)
    t = Table(title=escape(f"Designed curve — {len(team)} reps{f' ({role})' if role else ''}, "
                           f"E[f'] = {res.objective:.3f}"))
    for col in ("band", "multiplier", "dE[C]/dm", "dP90/dm"):
        t.add_column(col, justify="right")
    for s in res.sensitivity:
        band = f"[{s.lower:g}, {'inf' if s.upper is None else f'{s.upper:g}'})"
        t.add_row(band, f"{s.multiplier:.4f}", format_cents(round(s.d_expected_cost)),
                  format_cents(round(s.d_p90)))
    console.print(t)
    console.print(f"expected cost {format_cents(round(res.expected_cost))} (closed form "
                  f"{format_cents(round(res.expected_cost_closed_form))}), P90 "
                  f"{format_cents(round(res.p90))}, CVaR90 {format_cents(round(res.cvar))}")
    console.print(f"binding: {', '.join(res.binding) or 'none'}")
    for k, v in res.duals.items():
        console.print(f"  dual {k}: {v:.6g}", highlight=False)
    write_csv(out / "design.csv",
              ["band_from", "band_to", "multiplier", "d_expected_cost", "d_p90"],
              [[s.lower, "" if s.upper is None else s.upper, s.multiplier,
                money(round(s.d_expected_cost)), money(round(s.d_p90))]
               for s in res.sensitivity])
    console.print(f"wrote {out / 'design.csv'}")


def register(app: typer.Typer) -> None:
    app.add_typer(comp_app, name="comp")
