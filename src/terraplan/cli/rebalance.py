"""``terraplan rebalance``: react to a departure without re-planning the year.

A thin layer over :func:`terraplan.services.rebalancing.rebalance_active`: it starts from the
cycle's active plan, applies the roster events (``--depart``, ``--hire NAME --like REP``,
``--tbh N``), moves the departed book first and as few other accounts as the rules need, prints
who gets what (accounts, potential, travel), the balance before and after and the quota moved pro
rata from the effective date, and stores the result as a child scenario of the active one,
ready for ``terraplan scenario approve``. ``--dry-run`` writes nothing.

Exit codes: 0 written (or dry run ok); 1 no plan restores the rules, or refused
(``--max-moves``, hard violations); 2 bad input (unknown rep, bad date).
"""

from __future__ import annotations

from datetime import date

import typer
from rich.table import Table

from terraplan.cli.common import (
    ACTOR,
    DB,
    JSON,
    WHY,
    console,
    emit_json,
    err_console,
    handle_errors,
    resolve_actor,
    workspace,
)
from terraplan.domain import format_cents, format_compact
from terraplan.errors import ParameterError

QUIET = typer.Option(False, "--quiet", "-q", help="Print only errors.")


def _date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ParameterError(f"--effective must be a date YYYY-MM-DD. Got {text!r}.") from None


def register(app: typer.Typer) -> None:
    @app.command("rebalance")
    @handle_errors
    def rebalance(
        depart: list[str] = typer.Option([], "--depart", help="Rep id leaving (repeatable)."),
        effective: str | None = typer.Option(None, "--effective", help="Date the change takes "
                                             "effect, YYYY-MM-DD (default today)."),
        hire: list[str] = typer.Option([], "--hire", help="Name of a new hire (with --like)."),
        like: list[str] = typer.Option([], "--like", help="Rep whose profile each --hire "
                                       "takes (eligibility, home, capacity)."),
        tbh: int = typer.Option(0, "--tbh", min=0, help="TBH placeholders like the departing "
                                "rep."),
        max_moves: int | None = typer.Option(None, "--max-moves", min=0, help="Refuse if more "
                                             "accounts outside the departed book would move."),
        name: str | None = typer.Option(None, "--name", help="Child scenario name (default "
                                        "<active>-rebalance-<date>)."),
        cycle: str | None = typer.Option(None, "--cycle", help="Cycle of the active plan."),
        seed: int = typer.Option(0, "--seed", help="Search seed."),
        time_limit: float = typer.Option(30.0, "--time-limit", "-t", help="Seconds."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Show the result, write nothing."),
        top: int = typer.Option(15, "--top", min=0, help="Moved accounts listed."),
        why: str = WHY, actor: str | None = ACTOR, db: str | None = DB,
        as_json: bool = JSON, quiet: bool = QUIET,
    ) -> None:
        """Redistribute a departing rep's book over the team, keeping everyone else's book and
        the balance; store the result as a draft child of the active plan for approval.

        Example: terraplan rebalance --depart R0007 --effective 2027-03-01 --tbh 1 --dry-run
        """
        from terraplan.services.rebalancing import Hire, RebalanceRequest, rebalance_active

        if len(hire) != len(like):
            raise ParameterError("each --hire needs its --like REP (same number of each)")
        request = RebalanceRequest(
            depart=tuple(depart), effective=_date(effective),
            hires=tuple(Hire(n, lk) for n, lk in zip(hire, like, strict=True)), tbh=tbh,
            max_moves=max_moves, seed=seed, time_limit=time_limit, name=name, cycle=cycle)
        with workspace(db) as ws:
            out = rebalance_active(ws, request, actor=resolve_actor(actor), dry_run=dry_run,
                                   why=why)
        code = 0 if out.ok else 1
        if as_json:
            d = out.to_dict()
            d["dry_run"] = dry_run
            emit_json(d)
            raise typer.Exit(code)
        if out.after is None or (out.refused and quiet):
            err_console.print(f"[red]refused:[/] {out.refused}", markup=True, highlight=False)
            if out.after is None and not (request.tbh or request.hires):
                err_console.print("the remaining team may lack capacity: add a placeholder "
                                  "with --tbh 1 or a hire with --hire NAME --like REP")
            raise typer.Exit(1)
        if quiet:
            raise typer.Exit(code)
        res = out.result
        console.print(f"[bold]rebalance[/] of active plan [bold]{out.source.name}[/] effective "
                      f"{request.on}: {len(out.moves):,} account(s) move — {out.forced:,} from "
                      f"the departed book(s), {len(out.moves) - out.forced:,} others "
                      f"({res.runtime:.1f} s)")
        t = Table(title="who gets what", title_justify="left")
        for c in ("rep", "status", "accounts in", "out", "potential in", "potential out",
                  "travel before", "travel after"):
            t.add_column(c, justify="left" if c in ("rep", "status") else "right")
        for g in out.gains:
            t.add_row(g.rep_id, g.status, f"{g.accounts_in:,}", f"{g.accounts_out:,}",
                      format_compact(g.potential_in), format_compact(g.potential_out),
                      f"{g.travel_before:,.0f}", f"{g.travel_after:,.0f}")
        console.print(t)
        b = Table(title="balance (worst |deviation| from target, CV)", title_justify="left")
        for c in ("metric", "before", "after", "CV before", "CV after"):
            b.add_column(c, justify="left" if c == "metric" else "right")
        for m in res.after:
            b.add_row(m, f"{100 * res.before.get(m, float('nan')):.1f} %",
                      f"{100 * res.after[m]:.1f} %", f"{out.before.metrics[m].cv:.3f}"
                      if m in out.before.metrics else "–",
                      f"{out.after.metrics[m].cv:.3f}" if m in out.after.metrics else "–")
        console.print(b)
        if out.quota_changes is not None:
            q = Table(title=f"quota moved pro rata from {request.on}", title_justify="left")
            for c in ("rep", "before", "after", "change"):
                q.add_column(c, justify="left" if c == "rep" else "right")
            for qc in out.quota_changes:
                q.add_row(qc.rep_id, format_cents(qc.before), format_cents(qc.after),
                          ("+" if qc.delta > 0 else "") + format_cents(qc.delta))
            console.print(q)
        for n in out.notes:
            console.print(f"[dim]{n}[/]")
        if top and out.moves:
            mt = Table(title=f"moved accounts (first {min(top, len(out.moves))} of "
                             f"{len(out.moves):,})", title_justify="left")
            for c in ("account", "from", "to", "reason"):
                mt.add_column(c)
            for mv in out.moves[:top]:
                mt.add_row(mv.account_id, mv.from_rep or "—", mv.to_rep, mv.reason.name.lower())
            console.print(mt)
        if out.refused:
            err_console.print(f"[red]refused:[/] {out.refused} — nothing written",
                              highlight=False)
        elif dry_run:
            console.print("[yellow]dry run[/]: nothing written")
        elif out.scenario is not None:
            console.print(f"[green]written[/] scenario [bold]{out.scenario.name}[/] (id "
                          f"{out.scenario.id}, {out.scenario.status}) as a child of "
                          f"'{out.source.name}'; approve with `terraplan scenario approve "
                          f"{out.scenario.name}`")
        raise typer.Exit(code)
