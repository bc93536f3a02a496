"""``terraplan demo``: the main job, end to end, on the bundled sample scenario.

It walks the whole flow of the package on ``scenarios/demo`` (3,000 accounts, 25 reps, exported
from a CRM with its own column names): import with validation → store (an embedded SQLite file)
→ evaluate the CRM's current plan → solve every rule at once with live progress → re-check the
plan with the independent evaluator → quotas and their fairness → expected comp cost under the
attainment model. Every figure printed comes from the stored, re-checked plan.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from terraplan.cli.common import console, handle_errors
from terraplan.domain import format_compact

#: Where the bundled demo lives: top-level ``scenarios/demo`` of the source tree (the README
#: installs terraplan editable, so the tree is there).
DEMO_DIR = Path(__file__).resolve().parents[3] / "scenarios" / "demo"


def _fmt_pct(x: float) -> str:
    return "–" if x != x else f"{100 * x:+.1f} %"


def _balance_table(ev_before: Any, ev_after: Any, max_rows: int) -> Table:
    t = Table(title="Per rep: deviation from the fair target, current → terraplan",
              title_justify="left")
    for col in ("rep", "potential", "before", "after", "workload", "after ", "accounts"):
        t.add_column(col, justify="left" if col == "rep" else "right")
    pb, pa = ev_before.metrics["potential"], ev_after.metrics["potential"]
    wa = ev_after.metrics["workload"]
    ac = ev_after.metrics["accounts"]
    reps = ev_after.rep_ids
    # largest current imbalance first (reps without a target have a NaN deviation: last)
    order = np.argsort(-np.nan_to_num(np.abs(pb.deviations), nan=-1.0), kind="stable").tolist()
    for r in order[:max_rows]:
        t.add_row(reps[r], format_compact(pa.totals[r]), _fmt_pct(pb.deviations[r]),
                  _fmt_pct(pa.deviations[r]), f"{wa.totals[r]:,.0f} h",
                  _fmt_pct(wa.deviations[r]),
                  f"{int(ac.totals[r]):,}")
    if len(reps) > max_rows:
        t.add_row(f"+{len(reps) - max_rows} more", "", "", "", "", "", "")
    return t


def objective_line(ob: Any, measure: str = "cut_edges") -> str:
    """``objective = w × term + …``: the terms the spec weighs (non-zero weights), as the
    evaluator computed them — travel, disruption, balance penalty and (geo-unit) compactness."""
    terms = [("travel", ob.travel_weight, ob.travel, ",.0f"),
             ("disruption", ob.disruption_weight, ob.disruption, ",.0f"),
             ("balance penalty", ob.balance_weight, ob.balance, ",.2f"),
             (f"compactness ({measure.replace('_', ' ')})", ob.compactness_weight,
              ob.compactness, ",.4g")]
    parts = [f"{w:g} × {name} {value:{fmt}}" for name, w, value, fmt in terms if w]
    return f"   objective {ob.total:,.2f} = " + (" + ".join(parts) or "0 (every weight is 0)")


def _summary_table(before: Any, after: Any) -> Table:
    t = Table(title="Plan quality (independent evaluator)", title_justify="left")
    t.add_column("figure")
    t.add_column("current CRM plan", justify="right")
    t.add_column("terraplan plan", justify="right")

    def row(name: str, f: Any) -> None:
        t.add_row(name, f(before), f(after))

    for m in ("potential", "workload", "accounts"):
        row(f"CV of {m} / target", lambda e, m=m: f"{e.metrics[m].cv:.3f}")
        row(f"max |deviation| of {m}",
            lambda e, m=m: f"{100 * e.metrics[m].max_abs_deviation:.1f} %")
    row("reps within ±15 % of potential target",
        lambda e: f"{100 * e.metrics['potential'].band_share:.0f} %")
    row("travel (workload-weighted km)", lambda e: f"{e.travel.total:,.0f}")
    row("accounts moved", lambda e: f"{e.moves.accounts_moved:,}")
    row("potential moved", lambda e: format_compact(e.moves.potential_moved))
    row("hard rule violations", lambda e: f"{e.hard_count:,}")
    return t


def register(app: typer.Typer) -> None:
    @app.command()
    @handle_errors
    def demo(
        scenario: Path = typer.Option(DEMO_DIR / "spec.yaml", "--scenario",
                                      help="Scenario spec to run (default: the bundled demo)."),
        db: Path = typer.Option(Path("terraplan-demo.db"), "--db",
                                help="SQLite file for the demo store (recreated each run)."),
        time_limit: float = typer.Option(20.0, "--time-limit", help="Solver time limit, s."),
        backend: str = typer.Option("auto", "--backend", help="auto, cpsat, milp or heuristic."),
        seed: int | None = typer.Option(None, "--seed", help="Solver seed (default: spec's)."),
        rows: int = typer.Option(12, "--rows", help="Reps shown in the balance table."),
    ) -> None:
        """Run the main job on the bundled demo scenario: import, evaluate, solve, re-check,
        quotas and comp cost — in under a minute.

        Example: terraplan demo --time-limit 20
        """
        from terraplan.io import load_scenario
        from terraplan.services import Workspace
        from terraplan.services.planning import ProgressLog, SolveRequest, solve_scenario

        t0 = time.perf_counter()
        if not scenario.exists():
            raise FileNotFoundError(2, "demo scenario not found (pass --scenario)", str(scenario))
        console.rule("[bold]terraplan demo")
        sc, report = load_scenario(scenario)
        console.print(f"[bold]1. Import[/] {scenario}: {report.rows_in:,} rows in, "
                      f"{report.rows_loaded:,} loaded, {report.rows_rejected:,} rejected, "
                      f"{len(report.warnings)} warning(s) — {len(sc.accounts):,} accounts, "
                      f"{len(sc.reps)} reps")
        if db.exists():
            db.unlink()
        for suffix in ("-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        ws = Workspace.open(f"sqlite:///{db.resolve()}")
        try:
            ws.create_scenario(sc.spec.name, actor="demo", spec=sc.spec, book=sc.accounts,
                               roster=sc.reps, units=sc.units, why="terraplan demo")
            console.print(f"[bold]2. Store[/] scenario '{sc.spec.name}' saved as a draft in "
                          f"{db} (SQLite)")
            progress = ProgressLog()
            start = time.perf_counter()

            def status_panel() -> Panel:
                p = progress.latest
                if p is None:
                    text = "compiling and diagnosing…"
                else:
                    gap = "–" if p.gap is None else f"{100 * p.gap:.2f} %"
                    bound = "–" if p.bound is None else f"{p.bound:,.0f}"
                    obj = "–" if p.objective is None else f"{p.objective:,.0f}"
                    text = f"incumbent {obj}   bound {bound}   gap {gap}"
                return Panel(f"elapsed {time.perf_counter() - start:5.1f} s   {text}",
                             title="3. Solve", title_align="left")

            with Live(status_panel(), console=console, refresh_per_second=4,
                      transient=True) as live:
                def on_progress(p: Any) -> None:
                    progress(p)
                    live.update(status_panel())

                out = solve_scenario(ws, sc.spec.name,
                                     SolveRequest(backend=backend, time_limit=time_limit,
                                                  seed=seed),
                                     actor="demo", callbacks=[on_progress])
            res = out.result
            gap = "–" if res.gap is None else f"{100 * res.gap:.2f} %"
            console.print(f"[bold]3. Solve[/] {res.backend}: {res.status.value} in "
                          f"{res.runtime:.1f} s — objective {res.objective or 0:,.0f}, "
                          f"bound {res.bound or 0:,.0f}, gap {gap}"
                          + (f" ({pairs:,} candidate pairs)"
                             if (pairs := out.problem_stats.get("candidate_pairs")) else ""))
            if out.after is None:
                console.print("[red]no plan found[/]")
                for c in res.conflicts:
                    console.print(f"  - {c}")
                raise typer.Exit(1)
            console.print(objective_line(out.after.objective,
                                         sc.spec.objective.compactness_measure))
            console.print(f"[bold]4. Re-check[/] evaluator: "
                          f"{'feasible' if out.after.feasible else 'INFEASIBLE'}, "
                          f"{out.after.hard_count} hard violation(s) "
                          f"(current CRM plan: {out.before.hard_count})")
            console.print(_summary_table(out.before, out.after))
            console.print(_balance_table(out.before, out.after, rows))
            _price(ws, sc, out)
        finally:
            ws.close()
        console.print(f"[dim]done in {time.perf_counter() - t0:.1f} s; inspect with "
                      f"`terraplan scenario list --db sqlite:///{db}`[/]")


def _price(ws: Any, sc: Any, out: Any) -> None:
    """Quotas and expected comp cost of the solved plan, recorded in the store."""
    from terraplan.domain import format_cents
    from terraplan.services.pricing import PricingRequest, price_scenario

    p = price_scenario(ws, sc.spec.name, PricingRequest(seed=sc.spec.seed), actor="demo")
    fr = p.quotas.fairness
    console.print(f"[bold]5. Quotas[/] company target {format_cents(p.target)}, street "
                  f"{format_cents(p.street)} (+10 % over-assignment), blended index; "
                  f"Σ quotas = street exactly: {sum(p.quotas.allocation.quotas) == p.street}")
    t = Table(title="Quota fairness", title_justify="left")
    for col in ("per rep", "CV", "Gini", "max/min", "within ±15 %"):
        t.add_column(col, justify="left" if col == "per rep" else "right")
    for name, d in (("potential", fr.potential), ("workload", fr.workload),
                    ("quota / potential", fr.kappa)):
        t.add_row(name, f"{d.cv:.3f}", f"{d.gini:.3f}", f"{d.max_min:.2f}",
                  f"{100 * d.band_share:.0f} %")
    console.print(t)
    console.print(f"   expected share of reps at quota {100 * fr.share_at_quota:.0f} %, "
                  f"probability the company makes target {100 * fr.p_company:.0f} %")
    for w in fr.warnings[:5]:
        console.print(f"   [yellow]warning[/] {w.message}")
    if p.estimate is not None and p.simulation is not None:
        sim = p.simulation
        console.print(f"[bold]6. Comp cost[/] {len(p.plans.rep_ids)} reps, 1× to quota, 2× "
                      f"above, cap 3× TI: expected {format_cents(round(p.estimate.total))} "
                      f"(closed form); Monte Carlo {sim.n_scenarios:,} scenarios: mean "
                      f"{format_cents(round(sim.mean))}, P90 {format_cents(round(sim.p90))}, "
                      f"CVaR90 {format_cents(round(sim.cvar90))}; cost of sales "
                      f"{100 * sim.ccos_mean:.1f} % (P90 {100 * sim.ccos_p90:.1f} %)")
