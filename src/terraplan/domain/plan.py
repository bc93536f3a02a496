"""A plan: which rep owns each account, with provenance and per-account reason codes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from terraplan.domain.accounts import AccountBook
from terraplan.domain.common import frozen
from terraplan.domain.reps import RepRoster


class Reason(IntEnum):
    """Why an account sits where it sits (stored as int8 per account)."""

    UNCHANGED = 0  # kept its current owner
    NEW = 1  # had no current owner
    ELIGIBILITY = 2  # current owner not eligible for it
    BALANCE = 3  # moved to balance a metric
    TRAVEL = 4  # moved to a closer rep
    CAPACITY = 5  # current owner over capacity
    FAMILY = 6  # moved with its parent/child family
    DEPARTURE = 7  # current owner departs
    LOCK = 8  # locked to its rep
    DISTANCE = 9  # current owner beyond the max distance


@dataclass(frozen=True, slots=True)
class Provenance:
    scenario: str = ""
    solver: str = ""
    seed: int | None = None
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    note: str = ""


@dataclass(frozen=True, slots=True, eq=False)
class Plan:
    """Assignment account → rep.

    ``owner[i]`` indexes ``rep_ids`` for account ``account_ids[i]``; ``-1`` = unassigned.
    ``reasons`` (optional) holds a :class:`Reason` code per account. A plan is independent of any
    book's row order: use :meth:`aligned` to get owner indices for a given book and roster.
    """

    account_ids: npt.NDArray[np.object_]
    owner: npt.NDArray[np.int32]
    rep_ids: tuple[str, ...]
    reasons: npt.NDArray[np.int8] | None = None
    provenance: Provenance = Provenance()

    def __post_init__(self) -> None:
        if len(self.account_ids) != len(self.owner):
            raise ValueError("account_ids and owner must have the same length")
        if self.reasons is not None and len(self.reasons) != len(self.owner):
            raise ValueError("reasons must have one code per account")
        if len(self.owner) and (self.owner.max() >= len(self.rep_ids) or self.owner.min() < -1):
            raise ValueError("owner index out of range of rep_ids")
        frozen(self.account_ids)
        frozen(self.owner)
        if self.reasons is not None:
            frozen(self.reasons)

    def __len__(self) -> int:
        return int(self.owner.shape[0])

    @classmethod
    def from_mapping(
        cls, owners: Mapping[str, str | None], rep_ids: Sequence[str] | None = None,
        provenance: Provenance = Provenance(),
    ) -> Plan:
        reps = tuple(rep_ids) if rep_ids is not None else tuple(
            sorted({r for r in owners.values() if r is not None})
        )
        idx = {r: i for i, r in enumerate(reps)}
        return cls(
            account_ids=np.asarray(list(owners), dtype=object),
            owner=np.asarray([-1 if r is None else idx[r] for r in owners.values()],
                             dtype=np.int32),
            rep_ids=reps, provenance=provenance,
        )

    @classmethod
    def from_indices(
        cls, book: AccountBook, roster: RepRoster, owner: npt.ArrayLike,
        reasons: npt.ArrayLike | None = None, provenance: Provenance = Provenance(),
    ) -> Plan:
        """A plan from owner indices aligned to ``book`` rows and ``roster`` order."""
        return cls(
            account_ids=book.ids.copy(), owner=np.asarray(owner, dtype=np.int32).copy(),
            rep_ids=roster.ids,
            reasons=None if reasons is None else np.asarray(reasons, dtype=np.int8).copy(),
            provenance=provenance,
        )

    @classmethod
    def current(cls, book: AccountBook, roster: RepRoster) -> Plan:
        """The CRM's current ownership as a plan (owners unknown to the roster → unassigned)."""
        return cls.from_indices(book, roster, current_owner_index(book, roster),
                                provenance=Provenance(solver="current"))

    def aligned(self, book: AccountBook, roster: RepRoster) -> npt.NDArray[np.int32]:
        """Owner index into ``roster`` for every row of ``book`` (-1 when unassigned/absent).

        Raises ``KeyError`` naming a rep of the plan that the roster does not know.
        """
        rep_map = np.full(len(self.rep_ids) + 1, -1, dtype=np.int32)
        for j, rid in enumerate(self.rep_ids):
            if rid not in roster:
                if np.any(self.owner == j):
                    raise KeyError(f"plan assigns accounts to rep {rid!r}, not in the roster")
                continue
            rep_map[j] = roster.index_of(rid)
        mapped = rep_map[self.owner]  # owner -1 -> last slot -> -1
        if len(self.account_ids) == len(book) and np.array_equal(self.account_ids, book.ids):
            return mapped
        out = np.full(len(book), -1, dtype=np.int32)
        pos = {a: i for i, a in enumerate(self.account_ids.tolist())}
        rows = np.fromiter((pos.get(a, -1) for a in book.ids.tolist()), dtype=np.int64,
                           count=len(book))
        ok = rows >= 0
        out[ok] = mapped[rows[ok]]
        return out

    def owner_of(self, account_id: str) -> str | None:
        hits = np.flatnonzero(self.account_ids == account_id)
        if not len(hits):
            raise KeyError(account_id)
        j = int(self.owner[hits[0]])
        return None if j < 0 else self.rep_ids[j]

    def to_mapping(self) -> dict[str, str | None]:
        return {a: (None if j < 0 else self.rep_ids[j])
                for a, j in zip(self.account_ids.tolist(), self.owner.tolist(), strict=True)}


def current_owner_index(book: AccountBook, roster: RepRoster) -> npt.NDArray[np.int32]:
    """Roster index of each account's current owner (-1 when none or unknown)."""
    cats = book.current_owner.categories
    lut = np.asarray([roster.index_of(c) if c in roster else -1 for c in cats] + [-1],
                     dtype=np.int32)
    return lut[book.current_owner.codes]  # code -1 picks the trailing -1


def locked_index(book: AccountBook, roster: RepRoster) -> npt.NDArray[np.int32]:
    """Roster index of each account's locked-to rep (-1 when not locked or unknown)."""
    cats = book.locked_to.categories
    lut = np.asarray([roster.index_of(c) if c in roster else -1 for c in cats] + [-1],
                     dtype=np.int32)
    return lut[book.locked_to.codes]
