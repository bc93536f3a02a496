"""Accounts: one :class:`Account` record for a single row and the columnar :class:`AccountBook`.

A book of a million accounts must fit in memory and compile to solver arrays quickly, so the book
is columnar (read-only numpy arrays, categorical codes for text attributes). :class:`Account` is
the row view used by tests, explanations and small programs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from terraplan.domain.common import Categorical, CoordSystem, Point, frozen

#: The account attributes usable as balance metrics besides extra numeric columns.
BUILTIN_METRICS = ("potential", "workload", "accounts", "pipeline")


@dataclass(frozen=True, slots=True)
class Account:
    """One customer account as the planner knows it.

    Money (``potential``, ``pipeline``) is integer cents; ``workload`` is hours per year.
    ``location`` is ``None`` when the CRM has no geocode.
    """

    id: str
    name: str = ""
    location: Point | None = None
    country: str | None = None
    region: str | None = None
    postal_code: str | None = None
    segment: str | None = None
    vertical: str | None = None
    potential: int = 0
    workload: float = 0.0
    current_owner: str | None = None
    parent_id: str | None = None
    locked_to: str | None = None
    pipeline: int = 0
    extra: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, eq=False)
class AccountBook:
    """All accounts of a scenario, column by column, in a fixed row order.

    Attributes
    ----------
    ids, names : object arrays of ``str``
    x, y : float64 arrays; longitude/latitude or planar coordinates, ``NaN`` when unknown
    country, region, postal_code, segment, vertical : :class:`Categorical`
    potential, pipeline : int64 cents
    workload : float64 hours per year
    current_owner, locked_to : :class:`Categorical` of rep ids (code -1 = none)
    parent : int64 row index of the parent account, -1 for none
    extra : read-only mapping metric name -> float64 array
    """

    ids: npt.NDArray[np.object_]
    names: npt.NDArray[np.object_]
    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.float64]
    country: Categorical
    region: Categorical
    postal_code: Categorical
    segment: Categorical
    vertical: Categorical
    potential: npt.NDArray[np.int64]
    workload: npt.NDArray[np.float64]
    current_owner: Categorical
    parent: npt.NDArray[np.int64]
    locked_to: Categorical
    pipeline: npt.NDArray[np.int64]
    extra: Mapping[str, npt.NDArray[np.float64]]
    coord_system: CoordSystem = CoordSystem.LATLON
    _index: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        n = len(self.ids)
        cols: dict[str, int] = {
            "names": len(self.names), "x": len(self.x), "y": len(self.y),
            "country": len(self.country), "region": len(self.region),
            "postal_code": len(self.postal_code), "segment": len(self.segment),
            "vertical": len(self.vertical), "potential": len(self.potential),
            "workload": len(self.workload), "current_owner": len(self.current_owner),
            "parent": len(self.parent), "locked_to": len(self.locked_to),
            "pipeline": len(self.pipeline),
        }
        cols.update({f"extra[{k}]": len(v) for k, v in self.extra.items()})
        bad = {k: v for k, v in cols.items() if v != n}
        if bad:
            raise ValueError(f"AccountBook columns must all have {n} rows; got {bad}")
        for a in (self.ids, self.names, self.x, self.y, self.potential, self.workload,
                  self.parent, self.pipeline, *self.extra.values()):
            a.flags.writeable = False
        object.__setattr__(self, "extra", MappingProxyType(dict(self.extra)))

    def __reduce__(self) -> tuple[object, tuple[dict[str, object]]]:
        """Pickle support (process pools, Dask workers): ``extra`` is a read-only view, which
        does not pickle, so the book is rebuilt from its columns on load."""
        cols: dict[str, object] = {f.name: getattr(self, f.name) for f in fields(self)
                                   if f.name != "_index"}
        cols["extra"] = dict(self.extra)
        return _book_from_columns, (cols,)

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_accounts(
        cls, accounts: Sequence[Account], coord_system: CoordSystem = CoordSystem.LATLON
    ) -> AccountBook:
        """Build a book from records (tests, small programs). Parent ids must exist."""
        ids = [a.id for a in accounts]
        index = {aid: i for i, aid in enumerate(ids)}
        if len(index) != len(ids):
            raise ValueError("duplicate account ids")
        parent = []
        for a in accounts:
            if a.parent_id is None:
                parent.append(-1)
            elif a.parent_id not in index:
                raise ValueError(f"account {a.id}: parent {a.parent_id!r} is not in the book")
            else:
                parent.append(index[a.parent_id])
        extra_names = sorted({k for a in accounts for k in a.extra})
        nan = float("nan")
        return cls(
            ids=np.asarray(ids, dtype=object),
            names=np.asarray([a.name for a in accounts], dtype=object),
            x=np.asarray([a.location.x if a.location else nan for a in accounts], dtype=np.float64),
            y=np.asarray([a.location.y if a.location else nan for a in accounts], dtype=np.float64),
            country=Categorical.from_values(a.country for a in accounts),
            region=Categorical.from_values(a.region for a in accounts),
            postal_code=Categorical.from_values(a.postal_code for a in accounts),
            segment=Categorical.from_values(a.segment for a in accounts),
            vertical=Categorical.from_values(a.vertical for a in accounts),
            potential=np.asarray([a.potential for a in accounts], dtype=np.int64),
            workload=np.asarray([a.workload for a in accounts], dtype=np.float64),
            current_owner=Categorical.from_values(a.current_owner for a in accounts),
            parent=np.asarray(parent, dtype=np.int64),
            locked_to=Categorical.from_values(a.locked_to for a in accounts),
            pipeline=np.asarray([a.pipeline for a in accounts], dtype=np.int64),
            extra={k: np.asarray([a.extra.get(k, nan) for a in accounts], dtype=np.float64)
                   for k in extra_names},
            coord_system=coord_system,
        )

    # -- access -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def index_of(self, account_id: str) -> int:
        """Row index of ``account_id``; ``KeyError`` when absent. The map is built lazily."""
        if not self._index and len(self):
            self._index.update({aid: i for i, aid in enumerate(self.ids.tolist())})
        return self._index[account_id]

    def __getitem__(self, i: int) -> Account:
        loc = None
        if not (np.isnan(self.x[i]) or np.isnan(self.y[i])):
            loc = Point(float(self.x[i]), float(self.y[i]))
        p = int(self.parent[i])
        return Account(
            id=str(self.ids[i]), name=str(self.names[i]), location=loc,
            country=self.country.value(i), region=self.region.value(i),
            postal_code=self.postal_code.value(i), segment=self.segment.value(i),
            vertical=self.vertical.value(i), potential=int(self.potential[i]),
            workload=float(self.workload[i]), current_owner=self.current_owner.value(i),
            parent_id=None if p < 0 else str(self.ids[p]), locked_to=self.locked_to.value(i),
            pipeline=int(self.pipeline[i]),
            extra={k: float(v[i]) for k, v in self.extra.items()},
        )

    def __iter__(self) -> Iterator[Account]:
        for i in range(len(self)):
            yield self[i]

    def metric(self, name: str) -> npt.NDArray[np.float64]:
        """Values of a balance metric per account as float64 (``accounts`` is all ones).

        Money metrics come back in cents.
        """
        if name == "accounts":
            return np.ones(len(self), dtype=np.float64)
        if name in ("potential", "pipeline"):
            return np.asarray(getattr(self, name), dtype=np.float64)
        if name == "workload":
            return self.workload
        if name in self.extra:
            return np.nan_to_num(self.extra[name], nan=0.0)
        raise KeyError(
            f"unknown metric {name!r}; expected one of {BUILTIN_METRICS + tuple(self.extra)}"
        )

    def family_root(self) -> npt.NDArray[np.int64]:
        """Row index of each account's top ancestor (itself when it has no parent).

        Families (a parent and all its descendants) must stay with one rep. Assumes the parent
        graph is acyclic, which the importer guarantees.
        """
        root = np.arange(len(self), dtype=np.int64)
        par = self.parent
        has = par >= 0
        root[has] = par[has]
        # pointer jumping: log(depth) vectorised passes
        while True:
            nxt = np.where(par[root] >= 0, par[root], root)
            if np.array_equal(nxt, root):
                return root
            root = nxt

    def take(self, idx: npt.NDArray[np.intp]) -> AccountBook:
        """Sub-book of the rows ``idx`` (parents outside the subset become -1)."""
        idx = np.asarray(idx, dtype=np.intp)
        remap = np.full(len(self), -1, dtype=np.int64)
        remap[idx] = np.arange(len(idx))
        par = self.parent[idx]
        newpar = np.where(par >= 0, remap[np.maximum(par, 0)], -1)
        return AccountBook(
            ids=self.ids[idx].copy(), names=self.names[idx].copy(),
            x=self.x[idx].copy(), y=self.y[idx].copy(),
            country=self.country.take(idx), region=self.region.take(idx),
            postal_code=self.postal_code.take(idx), segment=self.segment.take(idx),
            vertical=self.vertical.take(idx), potential=self.potential[idx].copy(),
            workload=self.workload[idx].copy(), current_owner=self.current_owner.take(idx),
            parent=newpar, locked_to=self.locked_to.take(idx),
            pipeline=self.pipeline[idx].copy(),
            extra={k: v[idx].copy() for k, v in self.extra.items()},
            coord_system=self.coord_system,
        )


def _book_from_columns(cols: dict[str, object]) -> AccountBook:
    """Unpickle an :class:`AccountBook` (see ``AccountBook.__reduce__``)."""
    return AccountBook(**cols)  # type: ignore[arg-type]


__all__ = ["Account", "AccountBook", "BUILTIN_METRICS", "frozen"]
