"""``terraplan solve`` and ``terraplan explain``.

``solve`` runs :func:`terraplan.services.planning.solve_scenario` (compile → diagnose → solve →
decode → evaluate → record) in a worker thread while the terminal shows live progress (elapsed,
incumbent, bound, gap). The first Ctrl-C sets the :class:`~terraplan.solvers.base.CancelToken`:
the backend stops at its next poll, the run is recorded as ``cancelled`` and the best plan found
so far (if any) is stored for review; a second Ctrl-C abandons the run (nothing is written —
every store write is one transaction).

Scenarios of every mode go through the same service: ``assign`` (the compiled model),
``carve`` and ``geo_unit`` (territories drawn by the carve / districting model, then mapped onto
the active reps; backends ``auto``, ``milp``, ``cpsat``, and for carve ``heuristic``).

Exit codes: 0 a plan was found and stored; 1 infeasible, no plan in time, or a plan refused by
the evaluator; 2 bad input; 130 cancelled with Ctrl-C (the best plan, if any, is kept).

``explain`` says why an account sits where it sits, what a rep's book looks like against its
targets, or — when the last run found no plan — why (the conflicts recorded with the run).
"""

from __future__ import annotations

import dataclasses
import signal
import threading
import time
from contextlib import nullcontext
from typing import Any

import typer
from rich.live import Live
from rich.panel import Panel
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
    workspace,
)
from terraplan.errors import ParameterError

QUIET = typer.Option(False, "--quiet", "-q", help="Print only errors.")
BACKENDS = ("auto", "cpsat", "milp", "heuristic")


def _fmt(x: float | None, spec: str = ",.0f") -> str:
    return "–" if x is None else format(x, spec)


def _panel(latest: Any, elapsed: float, name: str, cancelling: bool) -> Panel:
    if latest is None:
        text = "compiling and diagnosing…"
    else:
        gap = "–" if latest.gap is None else f"{100 * latest.gap:.2f} %"
        text = (f"incumbent {_fmt(latest.objective)}   bound {_fmt(latest.bound)}   "
                f"gap {gap}")
    tail = "   [yellow]cancelling… (Ctrl-C again to abandon)[/]" if cancelling else ""
    return Panel(f"elapsed {elapsed:6.1f} s   {text}{tail}", title=f"solving {name}",
                 title_align="left")


def _conflicts(message: str) -> list[str]:
    """The conflicts recorded in a run message (``...; conflicts: a | b``)."""
    if "conflicts: " not in message:
        return []
    return [c.strip() for c in message.split("conflicts: ", 1)[1].split(" | ") if c.strip()]


def _result_table(out: Any) -> Table:
    t = Table(title="plan quality (independent evaluator)", title_justify="left")
    t.add_column("figure")
    t.add_column("current CRM plan", justify="right")
    t.add_column("new plan", justify="right")
    b, a = out.before, out.after
    for m in a.metrics:
        t.add_row(f"CV of {m} / target", f"{b.metrics[m].cv:.3f}", f"{a.metrics[m].cv:.3f}")
        t.add_row(f"max |deviation| {m}", f"{100 * b.metrics[m].max_abs_deviation:.1f} %",
                  f"{100 * a.metrics[m].max_abs_deviation:.1f} %")
    t.add_row(f"travel ({a.travel.unit})", f"{b.travel.total:,.0f}", f"{a.travel.total:,.0f}")
    t.add_row("accounts moved", f"{b.moves.accounts_moved:,}", f"{a.moves.accounts_moved:,}")
    t.add_row("hard violations", f"{b.hard_count:,}", f"{a.hard_count:,}")
    t.add_row("objective", f"{b.objective.total:,.0f}", f"{a.objective.total:,.0f}")
    return t


def _cli_request_type() -> type:
    from terraplan.services.planning import SolveRequest

    @dataclasses.dataclass(frozen=True, slots=True)
    class CliSolveRequest(SolveRequest):
        """A solve request whose CP-SAT search leaves SIGINT to the CLI.

        CP-SAT installs its own SIGINT handler by default (``catch_sigint_signal``) and resets
        SIGINT to the default action afterwards; with a Python handler in charge instead,
        Ctrl-C sets the cancel token and the run ends cleanly with its best plan.
        """

        def options(self) -> Any:
            base = SolveRequest.options(self)
            extra = dict(base.extra)
            params = dict(extra.get("cpsat_params", {}))
            params.setdefault("catch_sigint_signal", False)
            extra["cpsat_params"] = params
            return dataclasses.replace(base, extra=extra)

    return CliSolveRequest


def register(app: typer.Typer) -> None:
    @app.command("solve")
    @handle_errors
    def solve(
        scenario: str = typer.Argument(..., help="Scenario name or id."),
        backend: str = typer.Option("auto", "--backend", "-b",
                                    help="auto, cpsat, milp or heuristic (geo_unit "
                                    "scenarios: auto, milp or cpsat)."),
        time_limit: float = typer.Option(60.0, "--time-limit", "-t",
                                         help="Seconds before the best plan so far is taken."),
        seed: int | None = typer.Option(None, "--seed", help="Solver seed (default: spec's)."),
        actor: str | None = ACTOR, db: str | None = DB, as_json: bool = JSON,
        quiet: bool = QUIET,
    ) -> None:
        """Solve a scenario with live progress and store the plan (re-checked by the evaluator).

        Ctrl-C stops the search and keeps the best plan so far for review (exit 130).

        Example: terraplan solve fy27-base --backend heuristic --time-limit 30 --seed 7
        """
        from terraplan.scenarios.lifecycle import check_editable
        from terraplan.services.planning import ProgressLog, solve_scenario
        from terraplan.solvers.base import CancelToken

        if backend not in BACKENDS:
            raise ParameterError(f"--backend must be one of {', '.join(BACKENDS)}. "
                                 f"Got {backend!r}.")
        if not (time_limit > 0):
            raise ParameterError(f"--time-limit must be > 0 seconds. Got {time_limit}.")
        request = _cli_request_type()(backend=backend, time_limit=time_limit, seed=seed)
        progress = ProgressLog()
        cancel = CancelToken()
        box: dict[str, Any] = {}
        with workspace(db) as ws:
            info = ws.get_scenario(scenario)  # fail fast on a wrong name, before any thread
            # and on a frozen scenario, before minutes of search whose plan could not be stored
            check_editable(info.name, info.status, "solve")

            def work() -> None:
                try:
                    box["out"] = solve_scenario(ws, info.id, request, actor=resolve_actor(actor),
                                                callbacks=[progress], cancel=cancel)
                except BaseException as exc:  # handed to the main thread
                    box["exc"] = exc

            interrupts = {"n": 0}

            def on_sigint(signum: int, frame: Any) -> None:
                interrupts["n"] += 1
                cancel.cancel()
                if interrupts["n"] >= 2:
                    raise KeyboardInterrupt

            worker = threading.Thread(target=work, name="terraplan-solve", daemon=True)
            old = signal.signal(signal.SIGINT, on_sigint)
            t0 = time.perf_counter()
            try:
                worker.start()
                show = not (quiet or as_json)
                live = Live(_panel(None, 0.0, info.name, False), console=console,
                            refresh_per_second=4, transient=True)
                with live if show else nullcontext():
                    while worker.is_alive():
                        worker.join(0.2)
                        # CP-SAT installs its own SIGINT handler while it searches
                        # (catch_sigint_signal), which aborts the process in OR-Tools 9.x;
                        # take SIGINT back every tick so Ctrl-C always reaches the cancel token
                        signal.signal(signal.SIGINT, on_sigint)
                        if show:
                            live.update(_panel(progress.latest, time.perf_counter() - t0,
                                               info.name, cancel.cancelled))
            finally:
                signal.signal(signal.SIGINT, old)
            if "exc" in box:
                raise box["exc"]
            out = box["out"]
        res, run = out.result, out.run
        status = res.status.value
        code = 0
        if status == "cancelled" or cancel.cancelled:
            # anytime backends may return their incumbent as 'feasible' when stopped early
            code = 130
        elif out.plan is None:
            code = 1
        if as_json:
            emit_json({
                "scenario": info.name, "run_id": run.id, "status": run.status,
                "backend": res.backend, "seed": res.seed, "objective": res.objective,
                "bound": res.bound, "gap": res.gap, "runtime": res.runtime,
                "plan_id": run.plan_id, "message": run.message,
                "conflicts": list(res.conflicts), "problem": out.problem_stats,
                "before": out.before.to_dict(reps=False, max_violations=20),
                "after": None if out.after is None
                else out.after.to_dict(reps=True, max_violations=50)})
            raise typer.Exit(code)
        if quiet:
            if code:
                err_console.print(f"[red]{status}[/]: {run.message}")
            raise typer.Exit(code)
        gap = "–" if res.gap is None else f"{100 * res.gap:.2f} %"
        console.print(f"[bold]{info.name}[/]: {res.backend} {status} in {res.runtime:.1f} s — "
                      f"objective {_fmt(res.objective)}, bound {_fmt(res.bound)}, gap {gap} "
                      f"(run {run.id})")
        if "territory → rep: " in res.message:  # carve / geo_unit: who got which territory
            console.print(res.message[res.message.index("territory → rep: "):],
                          markup=False, highlight=False)
        if out.after is not None:
            console.print(_result_table(out))
            kept = "cancelled: kept the best plan found as" if code == 130 else "stored plan"
            console.print(f"{kept} {run.plan_id} — the scenario is now solved; review with "
                          f"`terraplan compare` / `terraplan explain {info.name}`, then "
                          f"`terraplan scenario approve {info.name}`")
        else:
            what = {"cancelled": "cancelled — the run is recorded, no plan was stored",
                    "infeasible": "the rules cannot all hold",
                    "no_solution_in_time": "no plan found within the time limit"}
            err_console.print(f"[red]{what.get(status, status)}[/]"
                              + (f": {res.message}" if res.message and not res.conflicts
                                 and status != "cancelled" else ""))
            for c in res.conflicts:
                err_console.print(f"  - {c}", markup=False, highlight=False)
            if res.conflicts:
                err_console.print(f"see `terraplan explain {info.name}`")
        raise typer.Exit(code)

    @app.command("explain")
    @handle_errors
    def explain(
        scenario: str = typer.Argument(..., help="Scenario name or id."),
        account: str | None = typer.Option(None, "--account", help="Explain this account."),
        rep: str | None = typer.Option(None, "--rep", help="Explain this rep's book."),
        plan_id: int | None = typer.Option(None, "--plan-id", help="Plan version (default: "
                                           "the scenario's current plan)."),
        db: str | None = DB, as_json: bool = JSON,
    ) -> None:
        """Why an account sits where it sits, a rep's book against its targets, or why the last
        solve found no plan (its recorded conflicts). Exit 1 when explaining an infeasibility.

        Example: terraplan explain fy27-base --account A0000042
        """
        from terraplan.domain import Plan
        from terraplan.evaluate import evaluate, explain_account, explain_rep

        if account is not None and rep is not None:
            raise ParameterError("give --account or --rep, not both")
        with workspace(db) as ws:
            info = ws.get_scenario(scenario)
            runs = ws.list_solve_runs(info.id)
            last = runs[-1] if runs else None
            if info.plan_id is None:
                if last is None:
                    raise ParameterError(f"scenario '{info.name}' has no plan and no solve run "
                                         f"yet; run `terraplan solve {info.name}`")
                conflicts = _conflicts(last.message)
                if as_json:
                    emit_json({"scenario": info.name, "plan": None, "run_id": last.id,
                               "status": last.status, "message": last.message,
                               "conflicts": conflicts})
                else:
                    console.print(f"[bold]{info.name}[/] has no plan: the last run ({last.id}, "
                                  f"{last.backend}) ended [red]{last.status}[/].")
                    if conflicts:
                        console.print("Why the rules cannot all hold:")
                        for c in conflicts:
                            console.print(f"  - {c}", markup=False, highlight=False)
                    elif last.message or last.error:
                        console.print(last.error or last.message, markup=False)
                raise typer.Exit(1 if last.status in ("infeasible", "no_solution_in_time",
                                                      "error") else 0)
            sc = ws.load_scenario(info.id)
            plan = ws.get_plan(info.id, plan_id)
        before = Plan.current(sc.accounts, sc.reps)
        if account is not None:
            try:
                ex = explain_account(sc, plan, account, before)
            except KeyError:
                raise ParameterError(f"account {account!r} is not in scenario "
                                     f"'{info.name}'") from None
            if as_json:
                emit_json(ex.to_dict())
            else:
                console.print(ex.sentence, markup=False, highlight=False)
            return
        if rep is not None:
            try:
                rx = explain_rep(sc, plan, rep, before)
            except KeyError:
                raise ParameterError(f"rep {rep!r} is not in scenario '{info.name}'") from None
            if as_json:
                emit_json(rx.to_dict())
            else:
                console.print(rx.sentence, markup=False, highlight=False)
            return
        ev = evaluate(sc, plan)
        if as_json:
            emit_json({"scenario": info.name, "plan_id": info.plan_id if plan_id is None
                       else plan_id, "last_run": None if last is None else {
                           "id": last.id, "status": last.status, "message": last.message},
                       "evaluation": ev.to_dict(reps=True, max_violations=100)})
        else:
            console.print(ev.summary(), markup=False, highlight=False)
