"""Compare two plans (two scenarios, two versions, or a scenario against the CRM's current owners).

The result carries a summary (counts, moved potential, fairness side by side), per-rep deltas of
every balanced metric, quota and expected pay, and the full list of moved accounts as columns
(a million-account comparison must not build a million Python objects). Exports as JSON or CSV.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from terraplan.domain import AccountBook, Reason, RepRoster
from terraplan.scenarios.compare import (
    align,
    book_rows,
    fairness,
    per_rep_totals,
    remap,
    unify_reps,
)
from terraplan.scenarios.repository import PlanArrays


@dataclass(frozen=True, slots=True)
class Side:
    """One side of a comparison: a scenario's plan, or the CRM's current ownership."""

    label: str
    scenario_id: int | None
    scenario_name: str | None
    plan_id: int | None
    status: str | None


@dataclass(frozen=True, slots=True)
class Move:
    account_id: str
    from_rep: str | None
    to_rep: str | None
    reason: str | None  # why the account sits with ``to_rep`` in plan B (Reason name)


@dataclass(frozen=True, slots=True, eq=False)
class Moves:
    """Moved accounts as columns; iterate for :class:`Move` rows."""

    account_ids: npt.NDArray[np.object_]
    from_rep: npt.NDArray[np.object_]
    to_rep: npt.NDArray[np.object_]
    reasons: npt.NDArray[np.int16]

    def __len__(self) -> int:
        return int(self.account_ids.shape[0])

    def __iter__(self) -> Iterator[Move]:
        for a, f, t, r in zip(self.account_ids.tolist(), self.from_rep.tolist(),
                              self.to_rep.tolist(), self.reasons.tolist(), strict=True):
            yield Move(a, f, t, _reason_name(r))


def _reason_name(code: int) -> str | None:
    try:
        return Reason(code).name.lower() if code >= 0 else None
    except ValueError:
        return str(code)


@dataclass(frozen=True, slots=True)
class RepDelta:
    """One rep in both plans. ``metrics[name] = (a, b)``; money metrics in cents.

    ``quota`` and ``pay`` are ``(a, b)`` cents, ``None`` on a side without quotas/comp.
    """

    rep_id: str
    metrics: Mapping[str, tuple[float, float]]
    accounts_in: int
    accounts_out: int
    quota: tuple[int | None, int | None]
    pay: tuple[int | None, int | None]

    def delta(self, metric: str) -> float:
        a, b = self.metrics[metric]
        return b - a


@dataclass(frozen=True, slots=True, eq=False)
class Comparison:
    """Plan A versus plan B."""

    a: Side
    b: Side
    n_accounts: int
    only_in_a: int
    only_in_b: int
    moves: Moves
    moved_potential_cents: int
    metrics: tuple[str, ...]
    reps: tuple[RepDelta, ...]
    fairness: Mapping[str, Mapping[str, Mapping[str, float | None]]]

    @property
    def n_moved(self) -> int:
        return len(self.moves)

    def summary(self) -> dict[str, Any]:
        """Headline figures (JSON-ready)."""
        reasons: dict[str, int] = {}
        if len(self.moves):
            codes, counts = np.unique(self.moves.reasons, return_counts=True)
            reasons = {str(_reason_name(int(c))): int(k) for c, k in zip(codes, counts,
                                                                       strict=True)}

        def tot(i: int, which: str) -> int | None:
            vals = [getattr(r, which)[i] for r in self.reps]
            return None if all(v is None for v in vals) else sum(v or 0 for v in vals)

        return {
            "a": _side_dict(self.a), "b": _side_dict(self.b),
            "accounts": self.n_accounts, "moved": self.n_moved,
            "moved_share": self.n_moved / self.n_accounts if self.n_accounts else 0.0,
            "moved_potential_cents": self.moved_potential_cents,
            "moves_by_reason": reasons,
            "only_in_a": self.only_in_a, "only_in_b": self.only_in_b,
            "quota_total_cents": {"a": tot(0, "quota"), "b": tot(1, "quota")},
            "pay_total_cents": {"a": tot(0, "pay"), "b": tot(1, "pay")},
            "fairness": {m: dict(v) for m, v in self.fairness.items()},
        }

    def rep_rows(self) -> list[dict[str, Any]]:
        rows = []
        for r in self.reps:
            row: dict[str, Any] = {"rep_id": r.rep_id, "accounts_in": r.accounts_in,
                                   "accounts_out": r.accounts_out}
            for m, (a, b) in r.metrics.items():
                row[f"{m}_a"], row[f"{m}_b"], row[f"{m}_delta"] = a, b, b - a
            for what in ("quota", "pay"):
                a_, b_ = getattr(r, what)
                row[f"{what}_a_cents"], row[f"{what}_b_cents"] = a_, b_
                row[f"{what}_delta_cents"] = None if a_ is None or b_ is None else b_ - a_
            rows.append(row)
        return rows

    def to_dict(self, detail: bool = True) -> dict[str, Any]:
        """Summary, per-rep deltas and (with ``detail``) every move."""
        out: dict[str, Any] = {"summary": self.summary(), "reps": self.rep_rows()}
        if detail:
            out["moves"] = [{"account_id": m.account_id, "from": m.from_rep, "to": m.to_rep,
                             "reason": m.reason} for m in self.moves]
        return out

    def write_json(self, target: str | Path | IO[str], detail: bool = True) -> None:
        _write(target, lambda f: json.dump(self.to_dict(detail), f, indent=2))

    def write_moves_csv(self, target: str | Path | IO[str]) -> int:
        """One row per moved account: account_id, from_rep, to_rep, reason. Returns rows."""
        def body(f: IO[str]) -> None:
            w = csv.writer(f)
            w.writerow(["account_id", "from_rep", "to_rep", "reason"])
            w.writerows((m.account_id, m.from_rep or "", m.to_rep or "", m.reason or "")
                        for m in self.moves)
        _write(target, body)
        return self.n_moved

    def write_reps_csv(self, target: str | Path | IO[str]) -> int:
        rows = self.rep_rows()

        def body(f: IO[str]) -> None:
            if not rows:
                return
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        _write(target, body)
        return len(rows)


def _side_dict(s: Side) -> dict[str, Any]:
    return {"label": s.label, "scenario_id": s.scenario_id, "scenario": s.scenario_name,
            "plan_id": s.plan_id, "status": s.status}


def _write(target: str | Path | IO[str], body: Any) -> None:
    if isinstance(target, str | Path):
        with open(target, "w", encoding="utf-8", newline="") as f:
            body(f)
    else:
        body(target)


@dataclass(frozen=True, slots=True, eq=False)
class SideData:
    """Everything needed about one side: its plan, the inputs it was planned on, quota, pay."""

    side: Side
    plan: PlanArrays
    book: AccountBook
    roster: RepRoster
    balanced: tuple[str, ...]
    quota_per_rep: Mapping[str, int] | None
    pay_per_rep: Mapping[str, int] | None


def current_plan_arrays(book: AccountBook) -> PlanArrays:
    """The CRM's current ownership of a book as plan columns (book order)."""
    return PlanArrays(np.asarray(book.ids, dtype=object),
                      np.asarray(book.current_owner.codes, dtype=np.int32),
                      tuple(book.current_owner.categories),
                      np.full(len(book), -1, dtype=np.int16))


_NO_FAIRNESS: dict[str, float | None] = {"cv": None, "gini": None, "max_over_min": None,
                                         "max_abs_dev": None}


def build_comparison(a: SideData, b: SideData) -> Comparison:
    """Compare two loaded sides (see :class:`Comparison`)."""
    # one rep list for both sides: rosters first (fairness is over planned reps), then any
    # owner only a plan knows (e.g. a departed rep in the CRM's current ownership)
    reps = unify_reps(a.roster.ids, b.roster.ids, a.plan.rep_ids, b.plan.rep_ids)
    index = {r: i for i, r in enumerate(reps)}
    n = len(reps)
    own_a = remap(a.plan.owner, a.plan.rep_ids, index)
    own_b = remap(b.plan.owner, b.plan.rep_ids, index)
    al = align(a.plan, own_a, b.plan, own_b)
    moved = al.moved()
    lut = np.asarray([*reps, None], dtype=object)
    moves = Moves(al.account_ids[moved], lut[al.own_a[moved]], lut[al.own_b[moved]],
                  al.reason_b[moved])

    # moved potential, priced on B's book (the plan being proposed)
    rows_b = book_rows(b.book, b.plan.account_ids)
    moved_rows = rows_b[al.pos_b[moved]]
    moved_potential = int(b.book.potential[moved_rows[moved_rows >= 0]].sum())

    shares = np.asarray([
        (b.roster.get(r).target_share if r in b.roster else
         a.roster.get(r).target_share if r in a.roster else 1.0) for r in reps])
    metrics = tuple(dict.fromkeys(["accounts", *a.balanced, *b.balanced]))

    def side_totals(sd: SideData, own: npt.NDArray[np.int64],
                    rows: npt.NDArray[np.int64]) -> dict[str, npt.NDArray[np.float64]]:
        out: dict[str, npt.NDArray[np.float64]] = {}
        for m in metrics:
            try:
                out[m] = per_rep_totals(sd.book, rows, own, n, m)
            except KeyError:  # metric not in this book: no figure rather than a wrong zero
                out[m] = np.full(n, np.nan)
        return out

    tot_a = side_totals(a, own_a, book_rows(a.book, a.plan.account_ids))
    tot_b = side_totals(b, own_b, rows_b)
    fa, fb = al.own_a[moved], al.own_b[moved]
    acc_out = np.bincount(fa[fa >= 0], minlength=n)
    acc_in = np.bincount(fb[fb >= 0], minlength=n)

    def money(d: Mapping[str, int] | None, r: str) -> int | None:
        return None if d is None else int(d.get(r, 0))

    rep_deltas = tuple(
        RepDelta(
            rep_id=r,
            metrics={m: (float(tot_a[m][j]), float(tot_b[m][j])) for m in metrics},
            accounts_in=int(acc_in[j]), accounts_out=int(acc_out[j]),
            quota=(money(a.quota_per_rep, r), money(b.quota_per_rep, r)),
            pay=(money(a.pay_per_rep, r), money(b.pay_per_rep, r)),
        )
        for j, r in enumerate(reps)
    )
    # fairness over the reps each side plans for (its roster), so a rep absent from one side
    # does not count as an empty territory there
    fair: dict[str, dict[str, dict[str, float | None]]] = {}
    for m in metrics:
        fair[m] = {}
        for label, sd, tot in (("a", a, tot_a), ("b", b, tot_b)):
            idx = np.asarray([index[r] for r in sd.roster.ids], dtype=np.int64)
            vals = tot[m][idx] if len(idx) else np.empty(0)
            fair[m][label] = (dict(_NO_FAIRNESS) if np.isnan(vals).any()
                              else fairness(vals, shares[idx]))
    return Comparison(
        a=a.side, b=b.side, n_accounts=int((al.in_a & al.in_b).sum()),
        only_in_a=int((al.in_a & ~al.in_b).sum()), only_in_b=int((al.in_b & ~al.in_a).sum()),
        moves=moves, moved_potential_cents=moved_potential, metrics=metrics, reps=rep_deltas,
        fairness=fair,
    )
