"""Per-rep drivers from a plan: potential, workload and last year's bookings re-cut.

History belongs to accounts, not to reps: last year's bookings of every account are summed over
the *new* territory that now holds the account, so a rep is measured on the book they will work.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from terraplan.domain import AccountBook, Plan, RepRoster
from terraplan.errors import ParameterError


def _owner(plan: Plan, book: AccountBook, roster: RepRoster) -> npt.NDArray[np.int32]:
    try:
        return plan.aligned(book, roster)
    except KeyError as exc:
        raise ParameterError(str(exc.args[0])) from exc


def _per_account(
    values: Mapping[str, int] | npt.ArrayLike, book: AccountBook, name: str
) -> npt.NDArray[np.int64]:
    if isinstance(values, Mapping):
        out = np.zeros(len(book), dtype=np.int64)
        unknown = []
        for aid, v in values.items():
            try:
                out[book.index_of(aid)] = int(v)
            except KeyError:
                unknown.append(aid)
        if unknown:
            raise ParameterError(
                f"{name} names {len(unknown)} account(s) not in the book, e.g. {unknown[:3]}"
            )
        return out
    arr = np.asarray(values)
    if arr.shape != (len(book),):
        raise ParameterError(f"{name} must have one value per account ({len(book)})")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ParameterError(f"{name} must be integer cents")
    return arr.astype(np.int64)


def recut_history(
    history: Mapping[str, int] | npt.ArrayLike, book: AccountBook, plan: Plan,
    roster: RepRoster,
) -> npt.NDArray[np.int64]:
    """Last year's bookings (cents per account) summed over each rep's *new* territory.

    Parameters
    ----------
    history : mapping account id → cents, or an int array aligned with ``book`` rows
    book, plan, roster : the book, the plan to re-cut to, and the reps (output order)

    Returns
    -------
    int64 array aligned with ``roster``; accounts unassigned in the plan count for nobody.
    """
    h = _per_account(history, book, "history")
    owner = _owner(plan, book, roster)
    ok = owner >= 0
    return _sum_int(owner[ok], h[ok], len(roster))


def _sum_int(
    idx: npt.NDArray[np.int32], vals: npt.NDArray[np.int64], n: int
) -> npt.NDArray[np.int64]:
    # integer-exact group sum (np.bincount would go through float64 and lose cents above 2**53)
    out = np.zeros(n, dtype=np.int64)
    np.add.at(out, idx, vals)
    return out


def rep_potential(book: AccountBook, plan: Plan, roster: RepRoster) -> npt.NDArray[np.int64]:
    """Total potential (cents) of each rep's territory under ``plan``, aligned with ``roster``."""
    owner = _owner(plan, book, roster)
    ok = owner >= 0
    return _sum_int(owner[ok], book.potential[ok], len(roster))


def rep_workload(book: AccountBook, plan: Plan, roster: RepRoster) -> npt.NDArray[np.float64]:
    """Total workload (hours) of each rep's territory under ``plan``."""
    owner = _owner(plan, book, roster)
    ok = owner >= 0
    return np.asarray(
        np.bincount(owner[ok], weights=book.workload[ok], minlength=len(roster)),
        dtype=np.float64)


def territory_overlap(
    book: AccountBook, old_plan: Plan, new_plan: Plan, roster: RepRoster
) -> npt.NDArray[np.float64]:
    """Share of each rep's new territory potential that the same rep held under ``old_plan``.

    Used to decide which reps get year-over-year quota caps (overlap ≥ 80 % by default). A rep
    with an empty new territory has overlap 0.
    """
    new = _owner(new_plan, book, roster)
    old = _owner(old_plan, book, roster)
    pot = book.potential
    ok = new >= 0
    total = _sum_int(new[ok], pot[ok], len(roster))
    kept = ok & (old == new)
    same = _sum_int(new[kept], pot[kept], len(roster))
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, same / np.maximum(total, 1), 0.0)
    return share.astype(np.float64)


__all__ = ["recut_history", "rep_potential", "rep_workload", "territory_overlap"]
