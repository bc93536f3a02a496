"""Plan comparison arithmetic on columns (numpy and the evaluator's fairness statistics; no DB).

The services layer loads two plans and their input books and calls these functions. Owners are
integer codes into one rep list shared by both sides, so comparing two million-account plans is a
handful of vectorised passes, not a million dictionary lookups.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from terraplan.domain import AccountBook
from terraplan.evaluate import fairness as fx
from terraplan.scenarios.repository import PlanArrays


def unify_reps(*rep_lists: Iterable[str]) -> tuple[str, ...]:
    """All rep ids of several lists, first occurrence order."""
    return tuple(dict.fromkeys(r for reps in rep_lists for r in reps))


def remap(codes: npt.NDArray[np.integer], reps: tuple[str, ...],
          index: dict[str, int]) -> npt.NDArray[np.int64]:
    """Re-express owner ``codes`` into ``reps`` as codes of ``index`` (-1 stays -1)."""
    lut = np.asarray([index.get(r, -1) for r in reps] + [-1], dtype=np.int64)
    return lut[np.asarray(codes, dtype=np.int64)]  # -1 picks the trailing -1


@dataclass(frozen=True, slots=True, eq=False)
class Aligned:
    """Two plans on the union of their accounts; owners are codes into a shared rep list.

    ``own_a``/``own_b`` are ``-1`` where the account is unassigned *or* absent from that plan;
    ``in_a``/``in_b`` say which.
    """

    account_ids: npt.NDArray[np.object_]
    own_a: npt.NDArray[np.int64]
    own_b: npt.NDArray[np.int64]
    reason_a: npt.NDArray[np.int16]
    reason_b: npt.NDArray[np.int16]
    in_a: npt.NDArray[np.bool_]
    in_b: npt.NDArray[np.bool_]
    pos_b: npt.NDArray[np.int64]  # row of each account in plan B (-1 when absent)

    def moved(self) -> npt.NDArray[np.bool_]:
        """Accounts present in both plans whose owner differs (an unassignment counts)."""
        return self.in_a & self.in_b & (self.own_a != self.own_b)


def align(a: PlanArrays, own_a: npt.NDArray[np.int64], b: PlanArrays,
          own_b: npt.NDArray[np.int64]) -> Aligned:
    """Put two plans side by side by account id (``own_*`` already in a shared rep list)."""
    if a.account_ids is b.account_ids or (
            len(a) == len(b) and np.array_equal(a.account_ids, b.account_ids)):
        ones = np.ones(len(a), dtype=np.bool_)
        return Aligned(a.account_ids, own_a, own_b, a.reasons, b.reasons, ones, ones.copy(),
                       np.arange(len(b), dtype=np.int64))
    ua = np.asarray(a.account_ids, dtype=str)
    ub = np.asarray(b.account_ids, dtype=str)
    ids, inv = np.unique(np.concatenate([ua, ub]), return_inverse=True)
    n = len(ids)
    ia, ib = inv[: len(ua)], inv[len(ua):]
    oa = np.full(n, -1, dtype=np.int64)
    ob = np.full(n, -1, dtype=np.int64)
    ra = np.full(n, -1, dtype=np.int16)
    rb = np.full(n, -1, dtype=np.int16)
    in_a = np.zeros(n, dtype=np.bool_)
    in_b = np.zeros(n, dtype=np.bool_)
    pos_b = np.full(n, -1, dtype=np.int64)
    oa[ia], ra[ia], in_a[ia] = own_a, a.reasons, True
    ob[ib], rb[ib], in_b[ib], pos_b[ib] = own_b, b.reasons, True, np.arange(len(ub))
    return Aligned(np.asarray(ids, dtype=object), oa, ob, ra, rb, in_a, in_b, pos_b)


def book_rows(book: AccountBook, account_ids: npt.NDArray[np.object_]) -> npt.NDArray[np.int64]:
    """Row of each account id in ``book`` (-1 when absent)."""
    if account_ids is book.ids or (
            len(account_ids) == len(book) and np.array_equal(account_ids, book.ids)):
        return np.arange(len(book), dtype=np.int64)
    if len(book) == 0:
        return np.full(len(account_ids), -1, dtype=np.int64)
    bid = np.asarray(book.ids, dtype=str)
    order = np.argsort(bid, kind="stable")
    sorted_ids = bid[order]
    q = np.asarray(account_ids, dtype=str)
    pos = np.minimum(np.searchsorted(sorted_ids, q), len(sorted_ids) - 1)
    hit = sorted_ids[pos] == q
    return np.where(hit, order[pos], -1).astype(np.int64)


def per_rep_totals(
    book: AccountBook, rows: npt.NDArray[np.int64], codes: npt.NDArray[np.int64], n_reps: int,
    metric: str,
) -> npt.NDArray[np.float64]:
    """Total of ``metric`` per rep for the accounts ``rows`` of ``book`` owned by ``codes``.

    Raises ``KeyError`` when the book has no such metric.
    """
    values = book.metric(metric)
    ok = (rows >= 0) & (codes >= 0)
    return np.bincount(codes[ok], weights=values[rows[ok]], minlength=n_reps).astype(np.float64)


def fairness(totals: npt.NDArray[np.float64],
             shares: npt.NDArray[np.float64]) -> dict[str, float | None]:
    """Balance figures of one metric across reps.

    ``cv`` coefficient of variation of share-normalised totals; ``gini`` Gini coefficient of the
    same; ``max_over_min`` ratio of the largest to the smallest normalised total (``None`` when a
    rep has nothing); ``max_abs_dev`` largest |total / target - 1| where target = grand total ×
    share / Σ shares.
    """
    if len(totals) == 0:
        return {"cv": None, "gini": None, "max_over_min": None, "max_abs_dev": None}
    norm = totals / shares
    cv = gini = mom = None
    if float(norm.mean()) > 0:  # the same statistics as the evaluator's fairness report
        cv = fx.cv(norm)
        gini = fx.gini(norm) if bool(np.all(norm >= 0)) else None
        m = fx.max_min(norm)
        mom = m if math.isfinite(m) else None
    target = totals.sum() * shares / shares.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        dev = np.where(target > 0, np.abs(totals / target - 1.0), 0.0)
    return {"cv": cv, "gini": gini, "max_over_min": mom, "max_abs_dev": float(dev.max())}
