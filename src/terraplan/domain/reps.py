"""Sales reps (and planned hires) and the roster of a scenario."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from terraplan.domain.common import Point


class RepStatus(StrEnum):
    ACTIVE = "active"
    DEPARTING = "departing"
    PLANNED_HIRE = "planned_hire"  # a "to be hired" (TBH) placeholder territory


@dataclass(frozen=True, slots=True)
class Rep:
    """A rep, or a TBH placeholder, who can own accounts.

    Eligibility lists are frozensets; an empty set means *any*. ``capacity`` is workload hours per
    year (``None`` = unlimited). ``target_share`` weights the rep's fair share of every balanced
    metric (a senior rep at 1.2 carries 1.2x a standard book). ``ote`` is in cents per year;
    ``base_share`` is the base-salary share of OTE (0.5 for a 50/50 plan).
    """

    id: str
    name: str = ""
    role: str = "AE"
    segments: frozenset[str] = field(default_factory=frozenset)
    verticals: frozenset[str] = field(default_factory=frozenset)
    regions: frozenset[str] = field(default_factory=frozenset)
    home: Point | None = None
    capacity: float | None = None
    target_share: float = 1.0
    status: RepStatus = RepStatus.ACTIVE
    start_date: date | None = None
    end_date: date | None = None
    ote: int | None = None
    base_share: float | None = None

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("a rep needs a non-empty id")
        if not (self.target_share > 0):
            raise ValueError(f"rep {self.id}: target_share must be > 0, got {self.target_share}")
        if self.capacity is not None and not (self.capacity >= 0):
            raise ValueError(f"rep {self.id}: capacity must be >= 0, got {self.capacity}")
        if self.base_share is not None and not (0.0 <= self.base_share <= 1.0):
            raise ValueError(f"rep {self.id}: base_share must be in [0, 1], got {self.base_share}")
        for name in ("segments", "verticals", "regions"):
            v = getattr(self, name)
            if not isinstance(v, frozenset):
                object.__setattr__(self, name, frozenset(v))

    def admits(self, segment: str | None, vertical: str | None, region: str | None) -> bool:
        """Whether an account with these attributes is eligible for this rep."""
        return (
            (not self.segments or segment in self.segments)
            and (not self.verticals or vertical in self.verticals)
            and (not self.regions or region in self.regions)
        )


@dataclass(frozen=True, slots=True, eq=False)
class RepRoster:
    """The reps of a scenario in a fixed order (the order defines rep indices in solvers)."""

    reps: tuple[Rep, ...]
    _index: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        reps = tuple(self.reps)
        object.__setattr__(self, "reps", reps)
        for i, r in enumerate(reps):
            if r.id in self._index:
                raise ValueError(f"duplicate rep id {r.id!r}")
            self._index[r.id] = i

    @classmethod
    def of(cls, reps: Sequence[Rep]) -> RepRoster:
        return cls(tuple(reps))

    def __len__(self) -> int:
        return len(self.reps)

    def __iter__(self) -> Iterator[Rep]:
        return iter(self.reps)

    def __getitem__(self, i: int) -> Rep:
        return self.reps[i]

    def __contains__(self, rep_id: object) -> bool:
        return rep_id in self._index

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.reps)

    def index_of(self, rep_id: str) -> int:
        return self._index[rep_id]

    def get(self, rep_id: str) -> Rep:
        return self.reps[self._index[rep_id]]

    def replace(self, rep: Rep) -> RepRoster:
        """A roster with ``rep`` replacing the rep of the same id (or appended)."""
        reps = list(self.reps)
        if rep.id in self._index:
            reps[self._index[rep.id]] = rep
        else:
            reps.append(rep)
        return RepRoster(tuple(reps))
