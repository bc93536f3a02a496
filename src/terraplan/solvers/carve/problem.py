"""The carve-mode problem: a capacitated p-median over points, compiled to numpy arrays.

Maths (standard capacitated p-median, Osman & Christofides 1994; Lorena & Senne 2004)::

    min   sum_ij c_ij x_ij
    s.t.  sum_j x_ij = 1                      every item goes to one centre
          x_ij <= y_j                         only to an open centre
          sum_j y_j = p                       exactly p centres
          sum_i q_i x_ij <= Q_j y_j           centre capacity
          lo_b y_j <= sum_i b_i x_ij <= hi_b y_j   optional balance band per metric b
          x_{s(j) j} = y_j                    an open site's own item belongs to it

``c_ij = +inf`` marks a forbidden pair (a sparse cost table or a distance limit). Items are
points (accounts, or account families merged into one item so that they stay together).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from terraplan.domain.common import CoordSystem
from terraplan.domain.scenario import Scenario
from terraplan.domain.spec import DistanceKind, Mode, TravelWeighting
from terraplan.errors import ParameterError, SpecError, UnsupportedRuleError
from terraplan.geo.distance import pairwise

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _frozen(a: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
    a = np.ascontiguousarray(a)
    a.flags.writeable = False
    return a


@dataclass(frozen=True, slots=True)
class BalanceBand:
    """Every territory's total of ``values`` must lie in ``[lo, hi]``."""

    name: str
    values: FloatArray
    lo: float
    hi: float


@dataclass(frozen=True, slots=True, eq=False)
class CarveProblem:
    """An immutable capacitated p-median instance.

    Parameters
    ----------
    cost : (n, m) float array
        Cost of serving item ``i`` from candidate site ``j``; ``inf`` forbids the pair.
    demand : (n,) float array
        Workload ``q_i`` of each item (counts against the site capacity).
    capacity : (m,) float array
        Capacity ``Q_j`` of each site (``inf`` for none).
    p : int
        Number of territories (centres) to open.
    site_item : (m,) int array
        Item located at site ``j`` (``-1`` if the site is not an item). With ``self_assign``
        that item must belong to the site's territory when the site is open.
    balance : tuple of :class:`BalanceBand`
        Hard bands on territory totals.
    item_ids, site_ids : names used when decoding (defaults: ``"0"``, ``"1"``, ...).
    """

    cost: FloatArray
    demand: FloatArray
    capacity: FloatArray
    p: int
    site_item: IntArray
    self_assign: bool = True
    balance: tuple[BalanceBand, ...] = ()
    name: str = "carve"
    item_ids: tuple[str, ...] = ()
    site_ids: tuple[str, ...] = ()
    members: tuple[IntArray, ...] = field(default=(), repr=False)  # account rows per item

    def __post_init__(self) -> None:
        n, m = self.cost.shape if self.cost.ndim == 2 else (-1, -1)
        if n < 1 or m < 1:
            raise ParameterError(f"CarveProblem cost must be a non-empty 2-D array. "
                                 f"Got shape {self.cost.shape}.")
        for nm, arr, size in (("demand", self.demand, n), ("capacity", self.capacity, m),
                              ("site_item", self.site_item, m)):
            if arr.shape != (size,):
                raise ParameterError(
                    f"CarveProblem {nm} must have shape ({size},). Got {arr.shape}.")
        if not (isinstance(self.p, int | np.integer) and 1 <= self.p <= m):
            raise ParameterError(
                f"The 'p' parameter of CarveProblem must be an int in [1, {m}]. Got {self.p!r}.")
        if np.any(self.demand < 0) or np.any(np.isnan(self.demand)):
            raise ParameterError("CarveProblem demand must be >= 0 and not NaN.")
        if np.any(np.isnan(self.cost)) or np.any(self.cost < 0):
            raise ParameterError("CarveProblem cost must be >= 0 (inf forbids a pair), not NaN.")
        for b in self.balance:
            if b.values.shape != (n,):
                raise ParameterError(f"balance band {b.name!r} needs {n} values.")
        object.__setattr__(self, "p", int(self.p))
        for nm in ("cost", "demand", "capacity", "site_item"):
            object.__setattr__(self, nm, _frozen(getattr(self, nm)))
        if not self.item_ids:
            object.__setattr__(self, "item_ids", tuple(str(i) for i in range(n)))
        if not self.site_ids:
            object.__setattr__(self, "site_ids", tuple(str(j) for j in range(m)))

    @property
    def n(self) -> int:
        return int(self.cost.shape[0])

    @property
    def m(self) -> int:
        return int(self.cost.shape[1])

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_points(cls, x: npt.ArrayLike, y: npt.ArrayLike, demand: npt.ArrayLike, p: int,
                    capacity: float | npt.ArrayLike, *, metric: str = "euclidean",
                    name: str = "carve") -> CarveProblem:
        """Every point is an item and a candidate site (the benchmark setting).

        ``metric`` is ``"euclidean"``, ``"floor_euclidean"`` (OR-Library convention) or
        ``"haversine"`` (x = longitude, y = latitude, km).
        """
        xa = np.asarray(x, dtype=np.float64)
        ya = np.asarray(y, dtype=np.float64)
        if metric == "haversine":
            d = pairwise(xa, ya, xa, ya, CoordSystem.LATLON)
        elif metric in ("euclidean", "floor_euclidean"):
            d = pairwise(xa, ya, xa, ya, CoordSystem.PLANAR)
            if metric == "floor_euclidean":
                d = np.floor(d + 1e-9)
        else:
            raise ParameterError("The 'metric' parameter of CarveProblem.from_points must be "
                                 f"one of 'euclidean', 'floor_euclidean', 'haversine'. "
                                 f"Got {metric!r}.")
        n = xa.shape[0]
        cap = np.broadcast_to(np.asarray(capacity, dtype=np.float64), (n,)).copy()
        return cls(cost=d, demand=np.asarray(demand, dtype=np.float64), capacity=cap, p=p,
                   site_item=np.arange(n, dtype=np.int64), name=name)

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> CarveProblem:
        """Compile a carve-mode scenario.

        Items are account families (a parent and its descendants travel together); candidate
        sites are the accounts (``candidate_sites: accounts``) or the reps' home bases. The cost
        of an item at a site is the travel distance times the travel weighting (workload,
        visits, or 1), summed over the family. Hard balance rules become bands around
        ``total / territories``; the spec's ``carve.capacity`` caps each territory's workload.
        """
        spec = scenario.spec
        if spec.mode is not Mode.CARVE or spec.carve is None:
            raise SpecError("CarveProblem.from_scenario needs a spec with mode: carve and a "
                            f"'carve' section; got mode {spec.mode.value!r}.")
        rules = spec.rules
        for rule in rules.balance:
            if not rule.hard:
                raise UnsupportedRuleError("carve", f"balance[{rule.metric}]",
                                           "soft balance bands are not encoded in carve mode; "
                                           "make the band hard or drop it")
        c = rules.continuity
        if any(v is not None for v in (c.max_moved_accounts, c.max_moved_share,
                                       c.max_moved_per_rep, c.protect_pipeline_above)) or (
                c.move_cost > 0 and spec.objective.disruption > 0):
            raise UnsupportedRuleError("carve", "continuity",
                                       "new territories have no current owner to stay with")
        if rules.contiguity:
            raise UnsupportedRuleError("carve", "contiguity", "use mode: geo_unit")
        book = scenario.accounts
        n_acc = len(book)
        if n_acc == 0:
            raise SpecError("carve mode needs at least one account")
        if np.any(np.isnan(book.x)) or np.any(np.isnan(book.y)):
            bad = [str(book.ids[i]) for i in np.flatnonzero(np.isnan(book.x) | np.isnan(book.y))]
            raise SpecError(f"carve mode needs coordinates for every account; missing for "
                            f"{len(bad)} account(s), e.g. {bad[:5]}")
        coord = book.coord_system
        kind = spec.objective.distance
        if kind is DistanceKind.TABLE:
            raise UnsupportedRuleError("carve", "distance: table",
                                       "carve needs account-to-site costs; the table is "
                                       "account-to-rep")
        if kind is DistanceKind.HAVERSINE:
            coord = CoordSystem.LATLON
        elif kind is DistanceKind.EUCLIDEAN:
            coord = CoordSystem.PLANAR
        if spec.carve.candidate_sites == "accounts":
            sx, sy = book.x, book.y
            site_acc = np.arange(n_acc, dtype=np.int64)
            site_ids = tuple(str(a) for a in book.ids.tolist())
        else:
            homes = [(r.id, r.home) for r in scenario.reps if r.home is not None]
            if not homes:
                raise SpecError("carve.candidate_sites is 'reps' but no rep has a home base")
            sx = np.array([h.x for _, h in homes])
            sy = np.array([h.y for _, h in homes])
            site_acc = np.full(len(homes), -1, dtype=np.int64)
            site_ids = tuple(r for r, _ in homes)
        dist = pairwise(book.x, book.y, sx, sy, coord)
        if rules.max_distance is not None:
            dist = np.where(dist <= rules.max_distance, dist, np.inf)
        weighting = spec.objective.travel_weighting
        if weighting is TravelWeighting.WORKLOAD:
            w = book.workload
        elif weighting is TravelWeighting.VISITS:
            if "visits" not in book.extra:
                raise SpecError("travel_weighting 'visits' needs an account column 'visits'")
            w = np.nan_to_num(book.extra["visits"], nan=0.0)
        else:
            w = np.ones(n_acc)
        acc_cost = spec.objective.travel * dist * w[:, None]
        acc_cost = np.where(np.isinf(dist), np.inf, acc_cost)
        root = book.family_root() if rules.families else np.arange(n_acc, dtype=np.int64)
        roots, item_of = np.unique(root, return_inverse=True)
        n_items = roots.shape[0]
        cost = np.zeros((n_items, acc_cost.shape[1]))
        np.add.at(cost, item_of, acc_cost)
        demand = np.bincount(item_of, weights=book.workload, minlength=n_items).astype(np.float64)
        members = tuple(np.flatnonzero(item_of == k) for k in range(n_items))
        p = spec.carve.territories
        site_item = np.where(site_acc >= 0, item_of[np.maximum(site_acc, 0)], -1)
        cap_value = spec.carve.capacity if spec.carve.capacity is not None else math.inf
        capacity = np.full(len(site_ids), cap_value, dtype=np.float64)
        bands = []
        for rule in rules.balance:
            vals = np.bincount(item_of, weights=book.metric(rule.metric),
                               minlength=n_items).astype(np.float64)
            target = float(vals.sum()) / p
            bands.append(BalanceBand(rule.metric, vals, (1.0 - rule.tolerance) * target,
                                     (1.0 + rule.tolerance) * target))
        return cls(cost=cost, demand=demand, capacity=capacity, p=p,
                   site_item=site_item.astype(np.int64), self_assign=True,
                   balance=tuple(bands), name=spec.name,
                   item_ids=tuple(str(book.ids[r]) for r in roots), site_ids=site_ids,
                   members=members)

    # -- evaluation ---------------------------------------------------------------------------
    def objective(self, medians: npt.ArrayLike) -> float:
        """``sum_i cost[i, medians[i]]`` for a site index per item."""
        med = np.asarray(medians, dtype=np.int64)
        return float(self.cost[np.arange(self.n), med].sum())

    def violations(self, medians: npt.ArrayLike, *, tol: float = 1e-6) -> list[str]:
        """Every broken rule of a plan given as a site index per item, in readable words."""
        med = np.asarray(medians, dtype=np.int64)
        out: list[str] = []
        if med.shape != (self.n,):
            return [f"expected {self.n} assignments, got shape {med.shape}"]
        if med.min() < 0 or med.max() >= self.m:
            return ["assignment refers to a site index out of range"]
        open_sites = np.unique(med)
        if open_sites.size != self.p:
            out.append(f"{open_sites.size} territories used, expected exactly {self.p}")
        bad = np.isinf(self.cost[np.arange(self.n), med])
        for i in np.flatnonzero(bad)[:10]:
            out.append(f"item {self.item_ids[i]} assigned to forbidden site "
                       f"{self.site_ids[med[i]]}")
        load = np.bincount(med, weights=self.demand, minlength=self.m)
        for j in open_sites:
            if load[j] > self.capacity[j] * (1 + tol) + tol:
                out.append(f"territory at site {self.site_ids[j]}: workload {load[j]:,.2f} "
                           f"exceeds capacity {self.capacity[j]:,.2f} by "
                           f"{load[j] - self.capacity[j]:,.2f}")
            if self.self_assign and self.site_item[j] >= 0 and med[self.site_item[j]] != j:
                out.append(f"site {self.site_ids[j]} is a centre but its own item is assigned "
                           f"to site {self.site_ids[med[self.site_item[j]]]}")
        for b in self.balance:
            tot = np.bincount(med, weights=b.values, minlength=self.m)
            for j in open_sites:
                if tot[j] < b.lo - tol * max(1.0, abs(b.lo)) or tot[j] > b.hi + tol * max(
                        1.0, abs(b.hi)):
                    out.append(f"territory at site {self.site_ids[j]}: {b.name} {tot[j]:,.2f} "
                               f"outside band [{b.lo:,.2f}, {b.hi:,.2f}]")
        return out

    def precheck(self) -> list[str]:
        """Provable infeasibilities in plain words (empty when none is found)."""
        reasons: list[str] = []
        total = float(self.demand.sum())
        top = np.sort(np.where(np.isfinite(self.capacity), self.capacity, 1e300))[::-1][:self.p]
        if total > float(top.sum()) * (1 + 1e-9):
            reasons.append(f"total workload {total:,.2f} exceeds the capacity of the {self.p} "
                           f"largest sites {float(top.sum()):,.2f}")
        big = float(self.demand.max())
        if big > float(self.capacity.max()) * (1 + 1e-9):
            i = int(np.argmax(self.demand))
            reasons.append(f"item {self.item_ids[i]} alone has workload {big:,.2f}, more than "
                           f"any site's capacity {float(self.capacity.max()):,.2f}")
        no_site = np.flatnonzero(np.all(np.isinf(self.cost), axis=1))
        if no_site.size:
            reasons.append(f"{no_site.size} item(s) have no allowed site, e.g. "
                           f"{[self.item_ids[i] for i in no_site[:5]]}")
        for b in self.balance:
            tot = float(b.values.sum())
            if tot < self.p * b.lo - 1e-9 or tot > self.p * b.hi + 1e-9:
                reasons.append(f"{b.name}: total {tot:,.2f} cannot be split into {self.p} "
                               f"territories each within [{b.lo:,.2f}, {b.hi:,.2f}]")
        return reasons


def medians_from(assignment: Sequence[int] | npt.ArrayLike,
                 centres: Sequence[int] | npt.ArrayLike) -> IntArray:
    """Site index per item from a territory index per item and the site of each territory."""
    return np.asarray(centres, dtype=np.int64)[np.asarray(assignment, dtype=np.int64)]
