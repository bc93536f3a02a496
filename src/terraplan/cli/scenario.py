"""``terraplan scenario``: create, list, show, copy, compare and move scenarios through their
lifecycle (draft → solved → in_review → approved → active → archived), with an audit trail.

Every command is a thin layer over :class:`terraplan.services.Workspace`. The store is
``--db URL`` or ``TERRAPLAN_DATABASE_URL`` (default: ``terraplan.db`` in the current folder);
the audit actor is ``--actor`` or ``$USER``.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from terraplan.cli.common import (
    ACTOR,
    DB,
    JSON,
    VERSION,
    WHY,
    console,
    emit_json,
    err_console,
    handle_errors,
    resolve_actor,
    workspace,
)
from terraplan.domain import format_cents

scenario_app = typer.Typer(
    name="scenario", no_args_is_help=True,
    help="Versioned scenarios: create, copy, compare, approve, activate, archive, history.")

class ExportFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


def _ref(ref: str) -> int | str:
    return ref


def _scenario_table(rows: list[Any], title: str) -> Table:
    t = Table(title=title)
    for col in ("id", "name", "cycle", "status", "version", "parent", "accounts", "reps",
                "plan", "updated"):
        t.add_column(col, justify="right" if col in ("id", "version", "accounts", "reps",
                                                     "plan") else "left")
    for s in rows:
        t.add_row(str(s.id), s.name, s.cycle, s.status, str(s.version), s.parent_name or "",
                  f"{s.n_accounts:,}", str(s.n_reps), "" if s.plan_id is None else str(s.plan_id),
                  f"{s.updated_at:%Y-%m-%d %H:%M} {s.updated_by}")
    return t


def _print_info(info: Any, as_json: bool, verb: str = "") -> None:
    if as_json:
        emit_json(info.to_dict())
        return
    if verb:
        console.print(f"[green]{verb}[/] scenario [bold]{info.name}[/] "
                      f"(id {info.id}) — now {info.status}, version {info.version}")
    else:
        console.print(_scenario_table([info], f"scenario {info.name}"))


def register(app: typer.Typer) -> None:
    app.add_typer(scenario_app, name="scenario")


@scenario_app.command("create")
@handle_errors
def create(
    name: str = typer.Argument(..., help="Unique scenario name."),
    spec: Path | None = typer.Option(None, "--spec", exists=True, dir_okay=False,
                                     help="Scenario spec YAML (rules, objective)."),
    cycle: str | None = typer.Option(None, "--cycle", help="Planning cycle (default 'default')."),
    accounts: str | None = typer.Option(None, "--accounts",
                                        help="Account snapshot id or sha256 prefix "
                                             "(default: latest import)."),
    reps: str | None = typer.Option(None, "--reps", help="Rep snapshot id or sha256 prefix."),
    parent: str | None = typer.Option(None, "--parent", help="Parent scenario."),
    description: str = typer.Option("", "--description"),
    why: str = WHY, actor: str | None = ACTOR, db: str | None = DB, as_json: bool = JSON,
) -> None:
    """Create a draft scenario over imported inputs.

    Example: terraplan scenario create fy27-base --spec scenarios/demo.yaml --cycle FY27
    """
    from terraplan.domain import ScenarioSpec

    spec_obj = ScenarioSpec.from_yaml(spec) if spec is not None else None

    def snap(x: str | None) -> int | str | None:
        return int(x) if x is not None and x.isdigit() else x

    with workspace(db) as ws:
        # spec_dir: a geo-unit spec's adjacency file is read relative to the spec's folder
        info = ws.create_scenario(name, actor=resolve_actor(actor), spec=spec_obj, cycle=cycle,
                                  spec_dir=None if spec is None else Path(spec).parent,
                                  accounts=snap(accounts), reps=snap(reps),
                                  parent=None if parent is None else _ref(parent),
                                  description=description, why=why)
    _print_info(info, as_json, "created")


@scenario_app.command("list")
@handle_errors
def list_(
    cycle: str | None = typer.Option(None, "--cycle"),
    status: list[str] | None = typer.Option(None, "--status", help="Filter; repeatable."),
    db: str | None = DB, as_json: bool = JSON,
) -> None:
    """List scenarios. Example: terraplan scenario list --cycle FY27 --status solved"""
    with workspace(db) as ws:
        rows = ws.list_scenarios(cycle=cycle, status=status or None)
    if as_json:
        emit_json([r.to_dict() for r in rows])
    elif not rows:
        console.print("no scenarios")
    else:
        console.print(_scenario_table(rows, "scenarios"))


@scenario_app.command("show")
@handle_errors
def show(ref: str = typer.Argument(..., help="Scenario name or id."),
         db: str | None = DB, as_json: bool = JSON) -> None:
    """Show a scenario with its plans, solve runs, quotas and comp results.

    Example: terraplan scenario show fy27-base
    """
    with workspace(db) as ws:
        info = ws.get_scenario(_ref(ref))
        plans = ws.list_plans(info.id)
        runs = ws.list_solve_runs(info.id)
        quotas = ws.get_quotas(info.id)
        comps = ws.get_comp(info.id)
    if as_json:
        emit_json({
            "scenario": info.to_dict(),
            "plans": [{"id": p.id, "solve_run_id": p.solve_run_id, "accounts": p.n_accounts,
                       "assigned": p.n_assigned, "created_at": p.created_at.isoformat(),
                       "created_by": p.created_by} for p in plans],
            "solve_runs": [{"id": r.id, "backend": r.backend, "seed": r.seed,
                            "status": r.status, "objective": r.objective, "bound": r.bound,
                            "gap": r.gap, "runtime": r.runtime, "plan_id": r.plan_id,
                            "error": r.error} for r in runs],
            "quotas": None if quotas is None else {
                "id": quotas.id, "method": quotas.method, "total_cents": quotas.total_cents,
                "per_rep_cents": quotas.per_rep()},
            "comp": [{"id": c.id, "name": c.name, "total_cost_cents": c.total_cost_cents}
                     for c in comps],
        })
        return
    console.print(_scenario_table([info], f"scenario {info.name}"))
    console.print(f"inputs: accounts {info.accounts_sha256[:12]}, reps {info.reps_sha256[:12]}, "
                  f"spec {info.spec_sha256[:12]}")
    if runs:
        t = Table(title="solve runs")
        for c in ("id", "backend", "seed", "status", "objective", "gap", "runtime", "plan"):
            t.add_column(c)
        for r in runs:
            t.add_row(str(r.id), r.backend, str(r.seed), r.status,
                      "" if r.objective is None else f"{r.objective:,.4g}",
                      "" if r.gap is None else f"{r.gap:.2%}", f"{r.runtime:.1f}s",
                      "" if r.plan_id is None else str(r.plan_id))
        console.print(t)
    if plans:
        console.print(f"plans: {', '.join(str(p.id) for p in plans)} "
                      f"(current {plans[-1].id}: {plans[-1].n_assigned:,}/"
                      f"{plans[-1].n_accounts:,} accounts assigned)")
    if quotas is not None:
        console.print(f"quotas ({quotas.method}): total {format_cents(quotas.total_cents)}")
    for c in comps:
        console.print(f"comp plan {c.name}: expected cost {format_cents(c.total_cost_cents)}")


@scenario_app.command("copy")
@handle_errors
def copy(
    source: str = typer.Argument(..., help="Scenario to copy (any status)."),
    name: str = typer.Argument(..., help="Name of the new child scenario."),
    spec: Path | None = typer.Option(None, "--spec", exists=True, dir_okay=False,
                                     help="New spec for the child (then it starts as draft)."),
    cycle: str | None = typer.Option(None, "--cycle", help="Put the child in another cycle."),
    with_plan: bool = typer.Option(True, "--plan/--no-plan",
                                   help="Copy the source's current plan (child starts solved)."),
    why: str = WHY, actor: str | None = ACTOR, db: str | None = DB, as_json: bool = JSON,
) -> None:
    """Copy a scenario into a new draft child — the way to edit an approved or active plan.

    Example: terraplan scenario copy fy27-base fy27-base-v2 --why "Dana leaves in March"
    """
    from terraplan.domain import ScenarioSpec

    spec_obj = ScenarioSpec.from_yaml(spec) if spec is not None else None
    with workspace(db) as ws:
        info = ws.copy_scenario(_ref(source), name, actor=resolve_actor(actor), spec=spec_obj,
                                cycle=cycle, with_plan=with_plan, why=why,
                                spec_dir=None if spec is None else spec.parent)
    _print_info(info, as_json, "copied to")


@scenario_app.command("compare")
@handle_errors
def compare(
    a: str = typer.Argument(..., help="Scenario A (the baseline)."),
    b: str | None = typer.Argument(None, help="Scenario B (omit with --current)."),
    current: bool = typer.Option(False, "--current",
                                 help="Compare A against the CRM's current ownership."),
    a_plan: int | None = typer.Option(None, "--a-plan", help="Plan version of A (default latest)."),
    b_plan: int | None = typer.Option(None, "--b-plan", help="Plan version of B."),
    export: Path | None = typer.Option(None, "--export",
                                       help="Write the full comparison (CSV: one file of moves "
                                            "and a sibling *_reps.csv; JSON: one file)."),
    fmt: ExportFormat = typer.Option(ExportFormat.CSV, "--format", help="Export format."),
    top: int = typer.Option(20, "--top", min=0, help="Moves shown in the terminal."),
    db: str | None = DB, as_json: bool = JSON,
) -> None:
    """Who moves between two plans, per-rep deltas, quota/pay deltas and fairness side by side.

    Example: terraplan scenario compare fy27-base fy27-alt --export moves.csv
    """
    if current == (b is not None):
        from terraplan.errors import ParameterError

        raise ParameterError("give scenario B, or --current to compare A with the CRM's "
                             "current ownership (not both)")
    with workspace(db) as ws:
        if current:
            cmp = ws.compare_to_current(_ref(a), plan_id=a_plan)
        else:
            assert b is not None
            cmp = ws.compare(_ref(a), _ref(b), a_plan=a_plan, b_plan=b_plan)
    if export is not None:
        if fmt is ExportFormat.JSON:
            cmp.write_json(export)
        else:
            cmp.write_moves_csv(export)
            cmp.write_reps_csv(export.with_name(export.stem + "_reps.csv"))
    if as_json:
        emit_json(cmp.to_dict(detail=True))
        return
    s = cmp.summary()
    console.print(f"[bold]{s['a']['scenario'] or s['a']['label']}[/] → "
                  f"[bold]{s['b']['scenario'] or s['b']['label']}[/]: "
                  f"{s['moved']:,} of {s['accounts']:,} accounts move "
                  f"({s['moved_share']:.1%}), potential moved "
                  f"{format_cents(s['moved_potential_cents'])}")
    if s["moves_by_reason"]:
        console.print("by reason: " + ", ".join(f"{k} {v:,}"
                                                for k, v in s["moves_by_reason"].items()))
    t = Table(title="per rep (B − A)")
    t.add_column("rep")
    t.add_column("in", justify="right")
    t.add_column("out", justify="right")
    for m in cmp.metrics:
        t.add_column(f"Δ {m}", justify="right")
    t.add_column("Δ quota", justify="right")
    t.add_column("Δ pay", justify="right")
    for r in cmp.reps:
        def money(pair: tuple[int | None, int | None]) -> str:
            return "" if None in pair else format_cents(pair[1] - pair[0])  # type: ignore[operator]

        t.add_row(r.rep_id, str(r.accounts_in), str(r.accounts_out),
                  *[f"{r.delta(m):+,.0f}" if m != "potential" and m != "pipeline"
                    else format_cents(int(r.delta(m))) for m in cmp.metrics],
                  money(r.quota), money(r.pay))
    console.print(t)
    f = Table(title="fairness (A | B)")
    for c in ("metric", "cv", "gini", "max/min", "max dev"):
        f.add_column(c)

    def fmt2(x: float | None) -> str:
        return "—" if x is None else f"{x:.3f}"

    for m, sides in cmp.fairness.items():
        f.add_row(m, *[f"{fmt2(sides['a'][k])} | {fmt2(sides['b'][k])}"
                       for k in ("cv", "gini", "max_over_min", "max_abs_dev")])
    console.print(f)
    if top and cmp.n_moved:
        mt = Table(title=f"moves (first {min(top, cmp.n_moved)} of {cmp.n_moved:,})")
        for c in ("account", "from", "to", "reason"):
            mt.add_column(c)
        for i, mv in enumerate(cmp.moves):
            if i >= top:
                break
            mt.add_row(mv.account_id, mv.from_rep or "—", mv.to_rep or "—", mv.reason or "")
        console.print(mt)
    if export is not None:
        console.print(f"written {export}")


def _transition(verb: str, ref: str, actor: str | None, db: str | None, why: str,
                expected_version: int | None, as_json: bool, label: str) -> None:
    with workspace(db) as ws:
        info = ws.transition(_ref(ref), verb, actor=resolve_actor(actor),
                             expected_version=expected_version, why=why)
    _print_info(info, as_json, label)


@scenario_app.command("submit")
@handle_errors
def submit(ref: str = typer.Argument(...), why: str = WHY, actor: str | None = ACTOR,
           expected_version: int | None = VERSION, db: str | None = DB,
           as_json: bool = JSON) -> None:
    """Submit a solved scenario for review. Example: terraplan scenario submit fy27-base"""
    _transition("submit", ref, actor, db, why, expected_version, as_json, "submitted")


@scenario_app.command("approve")
@handle_errors
def approve(ref: str = typer.Argument(...), why: str = WHY, actor: str | None = ACTOR,
            expected_version: int | None = VERSION, db: str | None = DB,
            as_json: bool = JSON) -> None:
    """Approve a scenario under review (a solved one is submitted first, both steps audited).

    Example: terraplan scenario approve fy27-base --why "signed off by the CRO"
    """
    with workspace(db) as ws:
        info = ws.get_scenario(_ref(ref))
        if expected_version is not None and info.version != expected_version:
            from terraplan.errors import ConflictError

            raise ConflictError(f"scenario '{info.name}' changed since you read it (now "
                                f"version {info.version}, you had {expected_version})")
        if info.status == "solved":
            info = ws.transition(info.id, "submit", actor=resolve_actor(actor),
                                 expected_version=info.version, why=why)
            if not as_json:
                err_console.print(f"submitted '{info.name}' for review first")
        info = ws.transition(info.id, "approve", actor=resolve_actor(actor),
                             expected_version=info.version, why=why)
    _print_info(info, as_json, "approved")


@scenario_app.command("reopen")
@handle_errors
def reopen(ref: str = typer.Argument(...), why: str = WHY, actor: str | None = ACTOR,
           expected_version: int | None = VERSION, db: str | None = DB,
           as_json: bool = JSON) -> None:
    """Withdraw an approval (approved → in_review). Example: terraplan scenario reopen fy27-base"""
    _transition("reopen", ref, actor, db, why, expected_version, as_json, "reopened")


@scenario_app.command("activate")
@handle_errors
def activate(ref: str = typer.Argument(...), why: str = WHY, actor: str | None = ACTOR,
             expected_version: int | None = VERSION, db: str | None = DB,
             as_json: bool = JSON) -> None:
    """Make an approved scenario the cycle's active plan (the previous one is archived).

    Example: terraplan scenario activate fy27-base
    """
    _transition("activate", ref, actor, db, why, expected_version, as_json, "activated")


@scenario_app.command("archive")
@handle_errors
def archive(ref: str = typer.Argument(...), why: str = WHY, actor: str | None = ACTOR,
            expected_version: int | None = VERSION, db: str | None = DB,
            as_json: bool = JSON) -> None:
    """Archive a scenario (final). Example: terraplan scenario archive fy27-old --why superseded"""
    _transition("archive", ref, actor, db, why, expected_version, as_json, "archived")


@scenario_app.command("history")
@handle_errors
def history(ref: str | None = typer.Argument(None, help="Scenario (default: whole store)."),
            limit: int = typer.Option(50, "--limit", min=1),
            db: str | None = DB, as_json: bool = JSON) -> None:
    """The audit log: who did what, when, and why. Example: terraplan scenario history fy27-base"""
    with workspace(db) as ws:
        rows = ws.history(None if ref is None else _ref(ref), limit=limit)
    if as_json:
        emit_json([{"id": e.id, "at": e.at.isoformat(), "actor": e.actor, "action": e.action,
                    "object_type": e.object_type, "object_id": e.object_id,
                    "scenario_id": e.scenario_id, "details": dict(e.details), "why": e.why}
                   for e in rows])
        return
    t = Table(title="history (newest first)")
    for c in ("when", "who", "action", "object", "why", "details"):
        t.add_column(c)
    for e in rows:
        details = ", ".join(f"{k}={v}" for k, v in e.details.items() if v not in (None, ""))
        t.add_row(f"{e.at:%Y-%m-%d %H:%M:%S}", e.actor, e.action,
                  f"{e.object_type} {e.object_id}", e.why, details[:80])
    console.print(t)
