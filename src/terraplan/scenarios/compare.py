"""Plan comparison arithmetic on columns (numpy only; no database, no evaluate import).

The services layer loads two plans and their input books and calls these functions; they are
vectorised so that comparing two million-account plans costs seconds, not minutes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from terraplan.domain import AccountBook
from terraplan.scenarios.repository import PlanArrays


@dataclass(frozen=True, slots=True, eq=False)
class Aligned:
    """Two plans on the union of their accounts (sorted by account id).

    ``rep_a``/``rep_b`` are ``None`` where the account is unassigned *or* absent from that plan;
    ``in_a``/``in_b`` say which.
    """

    account_ids: npt.NDArray[np.object_]
    rep_a: npt.NDArray[np.object_]
    rep_b: npt.NDArray[np.object_]
    reason_a: npt.NDArray[np.int16]
    reason_b: npt.NDArray[np.int16]
    in_a: npt.NDArray[np.bool_]
    in_b: npt.NDArray[np.bool_]

    def moved(self) -> npt.NDArray[np.bool_]:
        """Accounts present in both plans whose owner differs (an unassignment counts)."""
        both = self.in_a & self.in_b
        return both & (self.rep_a != self.rep_b)


def align(a: PlanArrays, b: PlanArrays) -> Aligned:
    """Put two plans side by side by account id."""
    if len(a) == len(b) and np.array_equal(a.account_ids, b.account_ids):
        ones = np.ones(len(a), dtype=np.bool_)
        return Aligned(a.account_ids, a.rep_ids, b.rep_ids, a.reasons, b.reasons, ones,
                       ones.copy())
    ua = np.asarray(a.account_ids, dtype=str)
    ub = np.asarray(b.account_ids, dtype=str)
    ids, inv = np.unique(np.concatenate([ua, ub]), return_inverse=True)
    n = len(ids)
    ia, ib = inv[: len(ua)], inv[len(ua):]
    rep_a = np.full(n, None, dtype=object)
    rep_b = np.full(n, None, dtype=object)
    reason_a = np.full(n, -1, dtype=np.int16)
    reason_b = np.full(n, -1, dtype=np.int16)
    in_a = np.zeros(n, dtype=np.bool_)
    in_b = np.zeros(n, dtype=np.bool_)
    rep_a[ia], reason_a[ia], in_a[ia] = a.rep_ids, a.reasons, True
    rep_b[ib], reason_b[ib], in_b[ib] = b.rep_ids, b.reasons, True
    return Aligned(np.asarray(ids, dtype=object), rep_a, rep_b, reason_a, reason_b, in_a, in_b)


def book_rows(book: AccountBook, account_ids: npt.NDArray[np.object_]) -> npt.NDArray[np.int64]:
    """Row of each account id in ``book`` (-1 when absent)."""
    if len(account_ids) == len(book) and np.array_equal(account_ids, book.ids):
        return np.arange(len(book), dtype=np.int64)
    bid = np.asarray(book.ids, dtype=str)
    order = np.argsort(bid, kind="stable")
    sorted_ids = bid[order]
    q = np.asarray(account_ids, dtype=str)
    pos = np.searchsorted(sorted_ids, q)
    pos_c = np.minimum(pos, max(len(sorted_ids) - 1, 0))
    hit = (pos < len(sorted_ids)) & (sorted_ids[pos_c] == q) if len(sorted_ids) else \
        np.zeros(len(q), dtype=np.bool_)
    return np.where(hit, order[pos_c], -1).astype(np.int64)


def rep_codes(rep_ids: npt.NDArray[np.object_], reps: tuple[str, ...]) -> npt.NDArray[np.int64]:
    """Index of each account's rep in ``reps`` (-1 for ``None`` or an unknown rep)."""
    lut: dict[str | None, int] = {r: i for i, r in enumerate(reps)}
    get = lut.get
    return np.fromiter((get(r, -1) for r in rep_ids.tolist()), dtype=np.int64,
                       count=len(rep_ids))


def per_rep_totals(
    book: AccountBook, rows: npt.NDArray[np.int64], codes: npt.NDArray[np.int64], n_reps: int,
    metric: str,
) -> npt.NDArray[np.float64]:
    """Total of ``metric`` per rep for the accounts ``rows`` of ``book`` owned by ``codes``."""
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
    mean = float(norm.mean())
    cv = float(norm.std() / mean) if mean > 0 else None
    s = np.sort(norm)
    n = len(s)
    gini = float((2 * np.arange(1, n + 1) - n - 1).dot(s) / (n * s.sum())) if s.sum() > 0 else None
    mn = float(s[0])
    mom = float(s[-1] / mn) if mn > 0 else None
    target = totals.sum() * shares / shares.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        dev = np.where(target > 0, np.abs(totals / target - 1.0), 0.0)
    return {"cv": cv, "gini": gini, "max_over_min": mom, "max_abs_dev": float(dev.max())}
