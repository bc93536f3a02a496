"""Facts about a scenario, and about a plan on it, computed straight from the domain objects.

Nothing here reads a solver's compiled arrays: the evaluator must re-check solvers
independently (STYLE.md habit 11). Everything is vectorised over accounts; the only Python loops
run over reps, eligibility categories or account *classes* (distinct segment × vertical × region
combinations, a few hundred at most in real books).

Eligibility pools
-----------------
Accounts are grouped into *classes* by the eligibility fields the spec checks
(``spec.rules.eligibility``; a field not listed is ignored). A rep is eligible for a class when,
for every checked field, its list is empty (= any) or holds the class's value; an account with
no value in a checked field is only eligible for reps whose list for that field is empty.
Only *counting* reps — status ``active`` or ``planned_hire`` — take part in pools.

The pools are the connected components of the bipartite graph class ↔ counting rep (an edge
where the rep is eligible for the class), found with
:func:`scipy.sparse.csgraph.connected_components`. Two reps share a pool when a chain of shared
eligible accounts links them; when every rep may take every account there is one pool of
everyone. A class no counting rep may take forms a pool without reps (its accounts can only be
unassigned or violate eligibility).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from terraplan.domain import (
    BUILTIN_METRICS,
    AccountBook,
    CoordSystem,
    DistanceKind,
    Plan,
    RepRoster,
    RepStatus,
    Scenario,
    TravelWeighting,
)
from terraplan.errors import SpecError
from terraplan.evaluate.geounit import UnitGraph, unit_graph
from terraplan.geo.distance import euclidean, haversine_km

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Sentinel owner index for a rep id that the roster does not know.
UNKNOWN = -2

ELIGIBILITY_FIELDS = ("segment", "vertical", "region")


def distance_mode(scenario: Scenario) -> str:
    """``"haversine"``, ``"euclidean"`` or ``"table"`` for this scenario."""
    kind = scenario.spec.objective.distance
    if kind is DistanceKind.TABLE:
        return "table"
    if kind is DistanceKind.HAVERSINE:
        return "haversine"
    if kind is DistanceKind.EUCLIDEAN:
        return "euclidean"
    return "haversine" if scenario.accounts.coord_system is CoordSystem.LATLON else "euclidean"


def distance_unit(scenario: Scenario) -> str:
    mode = distance_mode(scenario)
    return {"haversine": "km", "euclidean": "units", "table": "table units"}[mode]


@dataclass(frozen=True, slots=True, eq=False)
class ScenarioFacts:
    """Plan-independent facts: eligibility classes, pools, rep homes, weights, current owners."""

    scenario: Scenario
    n: int
    R: int
    counting: BoolArray  # (R,) active or planned hire
    departing: BoolArray  # (R,)
    shares: FloatArray  # (R,) target shares
    capacity: FloatArray  # (R,) inf when unlimited
    hx: FloatArray  # (R,) home x, NaN when unknown
    hy: FloatArray
    account_class: IntArray  # (n,) class index
    class_codes: dict[str, IntArray]  # field -> (C,) category code (-1 missing / ignored)
    elig: BoolArray  # (C, R) rep eligible for class (all reps, whatever their status)
    class_pool: IntArray  # (C,) pool label
    rep_pool: IntArray  # (R,) pool label, -1 for reps that do not count
    n_pools: int
    current: npt.NDArray[np.int32]  # (n,) current owner index; -1 none; UNKNOWN not in roster
    locked: npt.NDArray[np.int32]  # (n,) locked rep index; -1 none; UNKNOWN not in roster
    root: IntArray  # (n,) family root row
    travel_weight: FloatArray  # (n,) per-account travel weight
    mode: str  # haversine | euclidean | table
    units: UnitGraph | None  # geo-unit mode only
    _table: dict[str, Any]

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def build(cls, scenario: Scenario) -> ScenarioFacts:
        book, roster, spec = scenario.accounts, scenario.reps, scenario.spec
        n, R = len(book), len(roster)
        unknown = [b.metric for b in spec.rules.balance
                   if b.metric not in BUILTIN_METRICS and b.metric not in book.extra]
        if unknown:
            raise SpecError(f"balance metric(s) {unknown} are not account columns; expected one "
                            f"of {list(BUILTIN_METRICS) + sorted(book.extra)}")
        status = [r.status for r in roster]
        counting = np.asarray([s is not RepStatus.DEPARTING for s in status], dtype=bool)
        departing = ~counting
        shares = np.asarray([r.target_share for r in roster], dtype=np.float64)
        capacity = np.asarray([np.inf if r.capacity is None else r.capacity for r in roster],
                              dtype=np.float64)
        hx = np.asarray([r.home.x if r.home else np.nan for r in roster], dtype=np.float64)
        hy = np.asarray([r.home.y if r.home else np.nan for r in roster], dtype=np.float64)

        account_class, class_codes, elig = _eligibility(book, roster,
                                                        tuple(spec.rules.eligibility))
        class_pool, rep_pool, n_pools = _pools(elig, counting)

        weighting = spec.objective.travel_weighting
        if weighting is TravelWeighting.WORKLOAD:
            w = np.asarray(book.workload, dtype=np.float64)
        elif weighting is TravelWeighting.VISITS:
            if "visits" not in book.extra:
                raise SpecError("objective.travel_weighting is 'visits' but the account book has "
                                f"no extra column 'visits' (extra columns: {sorted(book.extra)})")
            w = np.nan_to_num(book.extra["visits"], nan=0.0)
        else:
            w = np.ones(n, dtype=np.float64)
        w = np.nan_to_num(np.asarray(w, dtype=np.float64), nan=0.0)

        return cls(
            scenario=scenario, n=n, R=R, counting=counting, departing=departing, shares=shares,
            capacity=capacity, hx=hx, hy=hy, account_class=account_class,
            class_codes=class_codes, elig=elig, class_pool=class_pool, rep_pool=rep_pool,
            n_pools=n_pools, current=_rep_index(book.current_owner.codes,
                                                book.current_owner.categories, roster),
            locked=_rep_index(book.locked_to.codes, book.locked_to.categories, roster),
            root=book.family_root(), travel_weight=w, mode=distance_mode(scenario),
            units=unit_graph(scenario), _table={},
        )

    # -- helpers --------------------------------------------------------------------------------
    def eligible(self, rows: npt.ArrayLike, reps: npt.ArrayLike) -> BoolArray:
        """Element-wise: is rep ``reps[k]`` eligible for account ``rows[k]``? (reps must be ≥ 0)"""
        r = np.asarray(reps, dtype=np.int64)
        return self.elig[self.account_class[np.asarray(rows, dtype=np.int64)], r]

    def distance(self, rows: npt.ArrayLike, reps: npt.ArrayLike) -> FloatArray:
        """Element-wise distance from account ``rows[k]`` to the home of rep ``reps[k]``.

        ``NaN`` when unknown: a missing account location or rep home, or (table mode) a pair
        absent from the supplied table. Rep indices must be ≥ 0.
        """
        rows = np.asarray(rows, dtype=np.int64)
        reps = np.asarray(reps, dtype=np.int64)
        if self.mode == "table":
            return self._table_lookup(rows, reps)
        book = self.scenario.accounts
        f = haversine_km if self.mode == "haversine" else euclidean
        return np.asarray(f(book.x[rows], book.y[rows], self.hx[reps], self.hy[reps]),
                          dtype=np.float64)

    def _table_lookup(self, rows: IntArray, reps: IntArray) -> FloatArray:
        if not self._table:
            self._table.update(_compile_table(self.scenario))
        keys: IntArray = self._table["keys"]
        cost: FloatArray = self._table["cost"]
        out = np.full(rows.shape, np.nan, dtype=np.float64)
        if keys.size == 0 or rows.size == 0:
            return out
        q = rows * self.R + reps
        pos = np.minimum(np.searchsorted(keys, q), keys.size - 1)
        hit = keys[pos] == q
        out[hit] = cost[pos[hit]]
        return out

    def class_label(self, c: int) -> str:
        """Readable label of class ``c`` such as ``segment ENT / vertical Health / region West``."""
        book = self.scenario.accounts
        parts = []
        for f in self.scenario.spec.rules.eligibility:
            code = int(self.class_codes[f][c])
            cats = getattr(book, f).categories
            parts.append(f"{f} {cats[code] if code >= 0 else '(none)'}")
        return " / ".join(parts) or "all accounts"


def _rep_index(codes: npt.NDArray[np.int32], categories: tuple[str, ...],
               roster: RepRoster) -> npt.NDArray[np.int32]:
    lut = np.asarray([roster.index_of(c) if c in roster else UNKNOWN for c in categories] + [-1],
                     dtype=np.int32)
    return lut[codes]


def _eligibility(book: AccountBook, roster: RepRoster, fields: tuple[str, ...]
                 ) -> tuple[IntArray, dict[str, IntArray], BoolArray]:
    """Account classes and the class × rep eligibility matrix."""
    n, R = len(book), len(roster)
    key = np.zeros(n, dtype=np.int64)
    radix = []
    for f in ELIGIBILITY_FIELDS:
        cat = getattr(book, f)
        k = len(cat.categories) + 1
        radix.append(k)
        code = cat.codes.astype(np.int64) + 1 if f in fields else np.zeros(n, dtype=np.int64)
        key = key * k + code
    span = int(np.prod(radix))
    if n and span <= 4 * n + 1_000_000:
        # dense key space (the usual case): an O(n) bincount beats np.unique's sort
        present = np.bincount(key, minlength=span) > 0
        uniq = np.flatnonzero(present).astype(np.int64)
        lut = np.cumsum(present, dtype=np.int64) - 1
        inverse = lut[key]
    elif n:
        uniq, inverse = np.unique(key, return_inverse=True)
    else:
        uniq, inverse = np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64)
    # decode the class keys back into per-field codes (mixed radix, last field fastest)
    class_codes: dict[str, IntArray] = {}
    rest = uniq.copy()
    for f, k in zip(reversed(ELIGIBILITY_FIELDS), reversed(radix), strict=True):
        class_codes[f] = rest % k - 1
        rest = rest // k
    elig = np.ones((uniq.size, R), dtype=bool)
    for f in fields:
        cat = getattr(book, f)
        # ok[code + 1, r]: row 0 is "no value", admitted only by reps whose list is empty
        ok = np.zeros((len(cat.categories) + 1, R), dtype=bool)
        lookup = {c: i + 1 for i, c in enumerate(cat.categories)}
        for r, rep in enumerate(roster):
            allowed = getattr(rep, f + "s")
            if not allowed:
                ok[:, r] = True
            else:
                for v in allowed:
                    i = lookup.get(v)
                    if i is not None:
                        ok[i, r] = True
        elig &= ok[class_codes[f] + 1]
    return inverse.astype(np.int64).reshape(-1), class_codes, elig


def _pools(elig: BoolArray, counting: BoolArray) -> tuple[IntArray, IntArray, int]:
    """Connected components of the bipartite graph class ↔ counting rep."""
    C, R = elig.shape
    ci, ri = np.nonzero(elig & counting[None, :])
    graph = sp.coo_matrix((np.ones(ci.size, dtype=np.int8), (ci, C + ri)), shape=(C + R, C + R))
    n_comp, labels = connected_components(graph.tocsr(), directed=False)
    class_pool = labels[:C].astype(np.int64)
    rep_pool = np.where(counting, labels[C:], -1).astype(np.int64)
    return class_pool, rep_pool, int(n_comp)


def _compile_table(scenario: Scenario) -> dict[str, Any]:
    """Sorted ``row * R + rep`` keys of a supplied distance table (first entry wins)."""
    table = scenario.distances
    book, roster = scenario.accounts, scenario.reps
    if table is None:
        raise SpecError("objective.distance is 'table' but the scenario has no distance table")
    if len(book):
        book.index_of(str(book.ids[0]))  # builds the book's id map once
    index = book._index
    rows = np.fromiter((index.get(a, -1) for a in table.account_ids.tolist()), dtype=np.int64,
                       count=len(table.account_ids))
    reps = np.fromiter((roster.index_of(r) if r in roster else -1 for r in table.rep_ids.tolist()),
                       dtype=np.int64, count=len(table.rep_ids))
    ok = (rows >= 0) & (reps >= 0)
    keys = rows[ok] * len(roster) + reps[ok]
    cost = np.asarray(table.cost, dtype=np.float64)[ok]
    uniq, first = np.unique(keys, return_index=True)
    return {"keys": uniq, "cost": cost[first]}


@dataclass(frozen=True, slots=True, eq=False)
class PlanFacts:
    """A plan aligned to the scenario's book and roster."""

    owner: npt.NDArray[np.int32]  # (n,) roster index; -1 unassigned or owned by an unknown rep
    unknown: dict[str, int]  # rep id not in the roster -> accounts the plan gives it
    unknown_rows: IntArray  # rows assigned to an unknown rep
    not_in_book: int  # plan rows whose account id is not in the book


def align(scenario: Scenario, plan: Plan) -> PlanFacts:
    """Align ``plan`` to the book rows and roster order, keeping unknown reps visible.

    Unlike :meth:`Plan.aligned`, an unknown rep is not an error: its accounts count as
    unassigned for every total and are reported as an ``unknown_rep`` violation.
    """
    book, roster = scenario.accounts, scenario.reps
    n = len(book)
    rep_map = np.full(len(plan.rep_ids) + 1, -1, dtype=np.int32)
    for j, rid in enumerate(plan.rep_ids):
        rep_map[j] = roster.index_of(rid) if rid in roster else UNKNOWN
    if len(plan.account_ids) == n and np.array_equal(plan.account_ids, book.ids):
        raw = plan.owner.astype(np.int64)
        not_in_book = 0
    else:
        if n:
            book.index_of(str(book.ids[0]))
        index = book._index
        prow = np.fromiter((index.get(a, -1) for a in plan.account_ids.tolist()),
                           dtype=np.int64, count=len(plan.account_ids))
        ok = prow >= 0
        not_in_book = int(np.count_nonzero(~ok))
        raw = np.full(n, -1, dtype=np.int64)
        raw[prow[ok]] = plan.owner[ok]
    mapped = rep_map[raw]  # raw -1 picks the trailing -1
    unknown_mask = mapped == UNKNOWN
    unknown_rows = np.flatnonzero(unknown_mask)
    unknown: dict[str, int] = {}
    if unknown_rows.size:
        counts = np.bincount(raw[unknown_rows], minlength=len(plan.rep_ids))
        unknown = {plan.rep_ids[j]: int(c) for j, c in enumerate(counts.tolist()) if c}
    owner = np.where(unknown_mask, -1, mapped).astype(np.int32)
    return PlanFacts(owner=owner, unknown=unknown, unknown_rows=unknown_rows,
                     not_in_book=not_in_book)


def rep_totals(owner: npt.NDArray[np.int32], values: FloatArray, R: int) -> FloatArray:
    """Σ values per rep over assigned accounts (``np.bincount``)."""
    a = owner >= 0
    return np.bincount(owner[a], weights=values[a], minlength=R).astype(np.float64)


def pool_targets(facts: ScenarioFacts, values: FloatArray) -> FloatArray:
    """Target of every rep for one metric: pool total × share / Σ shares in the pool.

    Reps that do not count (departing) get 0. The pool total sums the metric over *all*
    accounts of the pool's classes, whoever owns them.
    """
    C = facts.elig.shape[0]
    class_tot = np.bincount(facts.account_class, weights=values, minlength=C)
    pool_tot = np.bincount(facts.class_pool, weights=class_tot, minlength=facts.n_pools)
    cnt = facts.counting
    share_sum = np.bincount(facts.rep_pool[cnt], weights=facts.shares[cnt],
                            minlength=facts.n_pools)
    out = np.zeros(facts.R, dtype=np.float64)
    p = facts.rep_pool[cnt]
    with np.errstate(over="ignore", under="ignore"):
        out[cnt] = pool_tot[p] * facts.shares[cnt] / share_sum[p]
    return out


def deviations(totals: FloatArray, targets: FloatArray, counting: BoolArray) -> FloatArray:
    """``(total − target) / target``; 0 when both are 0, ``inf`` when only the target is 0;
    ``NaN`` for reps that do not count (departing)."""
    zero_t = targets == 0
    safe = np.where(zero_t, 1.0, targets)
    with np.errstate(over="ignore"):  # a subnormal target overflows to ±inf, which is right
        dev = (totals - targets) / safe
    tz = totals[zero_t]
    dev[zero_t] = np.where(tz > 0, np.inf, np.where(tz < 0, -np.inf, 0.0))
    dev[~counting] = np.nan
    return dev
