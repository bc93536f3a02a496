"""Compile a scenario once into index-based numpy arrays; decode a solver assignment to a plan.

Every backend (CP-SAT, MILP, the heuristic) sees only :class:`ProblemData`: never pandas, the
pydantic spec or the database. Compilation is vectorised so a book of a million accounts compiles
in seconds (eligibility is decided per *account class* = (segment, vertical, region) × rep, not per
account).

Items (families compiled away)
------------------------------
When the ``families`` rule is on, a parent and all its descendants must stay with one rep. Rather
than asking every backend to add "together" constraints, compilation collapses each family into
one **item** (one decision per family root) whose metrics are the sums over its members. Every
backend and the heuristic therefore get family-togetherness for free. ``item_of[i]`` maps account
``i`` to its item; with families off every account is its own item. Item order is by the
smallest account row of the family, so with families off ``item_of`` is the identity.

Candidate pairs (CSR)
---------------------
``indptr``/``indices`` list, per item ``t``, the reps ``indices[indptr[t]:indptr[t+1]]`` it may be
assigned to (sorted ascending). A pair survives when, for **every** member of the item,

* eligibility: the rep admits the account on each field in ``rules.eligibility`` (an empty rep
  list admits anything; a missing account value is admitted only by an unrestricted rep);
* departure: the rep's status is not ``departing``;
* locks: the account is not locked, or locked to this rep (a lock to a rep that is not in the
  roster, or conflicting locks inside a family, leave the item with no candidate);
* protected pipeline: when ``continuity.protect_pipeline_above`` is set, an account whose open
  pipeline is strictly above it and whose current owner is an active roster rep behaves as
  locked to its current owner — unless it carries an explicit lock (locks rule on), which wins;
* max distance: the account-to-home distance is ``<= rules.max_distance`` (unknown locations or
  homes never violate it);
* distance table: with ``objective.distance = table`` only pairs present in the supplied table
  exist (the table is the reachable set).

An item with no candidate makes the problem infeasible; :mod:`terraplan.solvers.diagnose` says why.

Objective (evaluator units, float)
----------------------------------
For an item assignment ``a`` (rep of each item)::

    total = w_travel   · Σ_i travel_weight_i · dist(i, a(i))
          + w_disrupt  · move_cost · Σ_{i moved} move_unit_i
          + w_balance  · Σ_{soft rules b} Σ_{reps r, target_br > 0}
                             penalty_b · max(0, |T_br − target_br| / target_br − tol_b)

``T_br`` is rep r's total of rule b's metric. An account *moved* when its current owner is an
active (non-departing) roster rep and its new owner differs; accounts with no current owner, an
unknown one, or a departing one are not moves (the departure forces them, no planner choice).
``move_unit`` is 1 (``count``), potential in currency units (``potential``: cents / 100) or open
pipeline in currency units (``pipeline``). Distances are km (haversine), planar units
(euclidean) or table units; unknown distances (missing location or home) are 0.
``travel_weight`` is workload hours, the ``visits`` column, or 1.

Linear part per pair: ``pair_cost[p] = w_travel·pair_travel[p] + w_disrupt·move_cost·
pair_move_units[p]``; :func:`objective` adds the soft-balance term.

Balance targets
---------------
The eligibility **pool** of a rep is the connected component of the bipartite graph
account-classes ↔ active reps (edges = eligibility). For each balance rule ``b`` and rep ``r`` in
pool ``P``: ``target_br = (Σ_{i in P} metric_i) × share_r / Σ_{s in P} share_s``; band
``[target·(1 − tol), target·(1 + tol)]``. Departing reps have target 0 and no pool.

Integer scaling
---------------
CP-SAT needs integers. Each metric ``q`` has a decimal scale ``metric_scale[q]`` (1 for cents and
counts; the smallest of 1, 10, 100, 1000 that represents every value exactly, else 1000 with a
:class:`~terraplan.errors.PrecisionWarning`). ``item_metric_int = Σ round(value × scale)`` over
members (exact integer sums). Integer bands are ``ceil(lower × scale)`` / ``floor(upper × scale)``
and capacities ``floor(capacity × scale)``, which is exact for integer totals.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from terraplan.domain import (
    CoordSystem,
    DistanceKind,
    Mode,
    Plan,
    Provenance,
    RepStatus,
    Scenario,
    TravelWeighting,
    current_owner_index,
    locked_index,
)
from terraplan.errors import ParameterError, PrecisionWarning, SpecError
from terraplan.geo.distance import EARTH_RADIUS_KM, euclidean

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

log = logging.getLogger(__name__)

#: Member-pairs processed per compilation chunk (bounds temporary memory).
_CHUNK = 500_000

#: Integer stand-in for "no capacity limit" (fits int64 sums of a million accounts safely).
UNLIMITED = np.int64(2**50)


class _Phases:
    """Wall time per compilation phase: kept in ``ProblemData.stats`` as ``compile_<phase>_s``
    and logged at DEBUG level when each phase ends (a benchmark's log handler can snapshot the
    process's memory there)."""

    def __init__(self) -> None:
        self.t = time.perf_counter()
        self.times: dict[str, float] = {}

    def mark(self, phase: str) -> None:
        now = time.perf_counter()
        self.times[f"compile_{phase}_s"] = now - self.t
        self.t = now
        log.debug("compile phase %s: %.3f s", phase, self.times[f"compile_{phase}_s"],
                  extra={"phase": phase})


class Rule(StrEnum):
    """Names of rule groups as backends, diagnostics and conflict sets report them."""

    ELIGIBILITY = "eligibility"
    DEPARTURE = "departure"
    CAPACITY = "capacity"
    BALANCE = "balance"  # per metric: "balance[potential]"
    LOCKS = "locks"
    FAMILIES = "families"
    MAX_DISTANCE = "max_distance"
    DISTANCE_TABLE = "distance_table"
    CONTINUITY_BUDGET = "continuity_budget"  # max_moved_accounts / max_moved_share
    CONTINUITY_PER_REP = "continuity_per_rep"  # max_moved_per_rep
    MOVE_COST = "move_cost"
    PROTECT_PIPELINE = "protect_pipeline"
    CONTIGUITY = "contiguity"


def balance_rule_name(metric: str) -> str:
    return f"{Rule.BALANCE.value}[{metric}]"


@dataclass(frozen=True, slots=True, eq=False)
class ProblemData:
    """A compiled assignment problem. All arrays are read-only.

    Sizes: ``n`` accounts, ``m`` reps, ``k`` items, ``P`` candidate pairs, ``Q`` metrics,
    ``R`` balance rules.

    Attributes
    ----------
    scenario : the source scenario (for decode and diagnostics only; solvers use the arrays)
    mode : scenario mode (backends here handle ``assign``)
    n_accounts, n_reps, n_items : int
    rep_ids : tuple of rep ids in roster order (rep index = position)
    item_of : int32[n]  item of each account
    item_indptr, item_members : int64[k+1], int64[n]  CSR item → member account rows (ascending)
    item_root : int64[k]  root account row (family root, or the account itself)
    account_owner : int32[n]  current owner rep index (-1 none/unknown)
    account_movable_owner : bool[n]  current owner is an active, non-departing roster rep
        (only such accounts can count as moved)
    account_lock : int32[n]  effective lock rep (locks and protected pipeline; -1 none; -2 lock
        to a rep not in the roster)
    indptr : int64[k+1], indices : int32[P]  candidate reps per item (CSR, ascending reps)
    pair_item : int32[P]  item of each pair (row of the CSR)
    pair_travel : float64[P]  Σ_members travel_weight · distance (before ``w_travel``)
    pair_moved : int64[P]  members that would count as moved if the item goes to this rep
    pair_moved_potential : int64[P]  their potential, cents
    pair_move_units : float64[P]  their move units (see module doc)
    pair_cost : float64[P]  linear objective: w_travel·travel + w_disrupt·move_cost·move_units
    metric_names : tuple[str, ...]  metric of row q of the metric arrays (workload always row 0)
    item_metric : float64[Q, k]  float originals summed per item (money in cents)
    item_metric_int : int64[Q, k]  integer-scaled sums
    metric_scale : float64[Q]  integer = round(value × scale)
    rep_capacity : float64[m]  workload hours (inf = none or capacity rule off)
    rep_capacity_int : int64[m]  floor(capacity × workload scale) (UNLIMITED when none)
    rep_active : bool[m]  not departing (may receive accounts)
    rep_share : float64[m]
    rep_pool, item_pool : int32[m], int32[k]  eligibility pool (-1: none, e.g. departing rep or
        item with no eligible rep; an item's pool is its root account's)
    n_pools : int
    balance_metric : tuple[str, ...]  metric per balance rule; ``balance_q`` int32[R] row in the
        metric arrays
    balance_tol, balance_penalty : float64[R]; balance_hard : bool[R]
    target, lower, upper : float64[R, m]  in metric units (cents for money)
    lower_int, upper_int : int64[R, m]  integer-scaled band (ceil lower, floor upper)
    cur_indptr, cur_rep, cur_count, cur_potential : CSR item → (current owner, member count,
        their potential) over members with a movable owner; used by per-rep continuity
    max_moved_accounts : int (-1 = no limit)
    max_moved_potential : int cents (-1 = no limit) = floor(max_moved_share × total potential)
    max_moved_per_rep : int (-1 = no limit); counts accounts a rep *loses* to other reps
    move_cost, w_travel, w_disruption, w_balance : float
    rules : tuple[str, ...]  rule groups present (see :class:`Rule`)
    """

    scenario: Scenario
    mode: Mode
    n_accounts: int
    n_reps: int
    n_items: int
    rep_ids: tuple[str, ...]
    item_of: I32
    item_indptr: I64
    item_members: I64
    item_root: I64
    account_owner: I32
    account_movable_owner: B
    account_lock: I32
    indptr: I64
    indices: I32
    pair_item: I32
    pair_travel: F64
    pair_moved: I64
    pair_moved_potential: I64
    pair_move_units: F64
    pair_cost: F64
    metric_names: tuple[str, ...]
    item_metric: F64
    item_metric_int: I64
    metric_scale: F64
    rep_capacity: F64
    rep_capacity_int: I64
    rep_active: B
    rep_share: F64
    rep_pool: I32
    item_pool: I32
    n_pools: int
    balance_metric: tuple[str, ...]
    balance_q: I32
    balance_tol: F64
    balance_penalty: F64
    balance_hard: B
    target: F64
    lower: F64
    upper: F64
    lower_int: I64
    upper_int: I64
    cur_indptr: I64
    cur_rep: I32
    cur_count: I64
    cur_potential: I64
    max_moved_accounts: int
    max_moved_potential: int
    max_moved_per_rep: int
    move_cost: float
    w_travel: float
    w_disruption: float
    w_balance: float
    rules: tuple[str, ...]
    stats: dict[str, float] = field(default_factory=dict)

    # -- convenience ----------------------------------------------------------------------------
    @property
    def n_pairs(self) -> int:
        return int(self.indices.shape[0])

    def metric_row(self, name: str) -> int:
        return self.metric_names.index(name)

    def candidates(self, item: int) -> I32:
        return self.indices[self.indptr[item]:self.indptr[item + 1]]

    def has_rule(self, name: str) -> bool:
        """Whether rule group ``name`` is present (``"balance"`` matches every balance rule)."""
        return any(r == name or r.startswith(name + "[") for r in self.rules)

    def pair_lookup(self, items: npt.ArrayLike, reps: npt.ArrayLike) -> I64:
        """Pair index of each (item, rep); -1 where the rep is not a candidate of the item.

        A binary search inside each item's CSR row (its reps are sorted): O(queries × log of
        the longest row), nothing over the whole book — a pool's lookups on a 100k-account
        book cost under a millisecond, not the 29 ms of a key built over all 4.3 M pairs.
        """
        t = np.asarray(items, dtype=np.int64)
        r = np.asarray(reps, dtype=np.int64)
        t, r = np.broadcast_arrays(t, r)
        out = np.full(t.shape, -1, dtype=np.int64)
        if self.n_pairs == 0 or t.size == 0:
            return out
        lo = self.indptr[t].astype(np.int64)
        end = self.indptr[t + 1].astype(np.int64)
        hi = end.copy()
        # first position in [lo, hi) whose rep is >= r; each step halves every open interval
        steps = int(np.max(hi - lo)).bit_length()
        for _ in range(steps):
            mid = (lo + hi) >> 1
            below = (mid < hi) & (self.indices[np.minimum(mid, self.n_pairs - 1)] < r)
            lo = np.where(below, mid + 1, lo)
            hi = np.where(below, hi, mid)
        ok = (r >= 0) & (lo < end)
        ok[ok] = self.indices[lo[ok]] == r[ok]
        out[ok] = lo[ok]
        return out

    def pair_index(self, item_assignment: npt.ArrayLike) -> I64:
        """Pair index of each item's assigned rep; -1 where the rep is not a candidate."""
        return self.pair_lookup(np.arange(self.n_items), item_assignment)

    def lost_terms(self) -> list[tuple[int, int, I64, I64]]:
        """Per current owner ``s``: ``(s, Σ_t c_ts, pairs x_ts, c_ts)`` for per-rep continuity.

        ``c_ts`` counts members of item t currently owned by s (movable owners only); the
        accounts s loses are ``Σ_t c_ts − Σ_{pairs} c_ts · x_ts``.
        """
        cur_item = np.repeat(np.arange(self.n_items, dtype=np.int64), np.diff(self.cur_indptr))
        idx = self.pair_lookup(cur_item, self.cur_rep)
        out: list[tuple[int, int, I64, I64]] = []
        for s in np.unique(self.cur_rep).tolist():
            sel = self.cur_rep == s
            present = sel & (idx >= 0)
            out.append((int(s), int(self.cur_count[sel].sum()), idx[present],
                        self.cur_count[present]))
        return out

    def item_assignment(self, assignment: npt.ArrayLike) -> I32:
        """Item-level assignment from an account-level one (the root's rep per item)."""
        a = np.asarray(assignment, dtype=np.int32)
        return a[self.item_root].astype(np.int32)

    def account_assignment(self, item_assignment: npt.ArrayLike) -> I32:
        """Account-level assignment (rep per account) from an item-level one."""
        return np.asarray(item_assignment, dtype=np.int32)[self.item_of].astype(np.int32)

    def rep_totals(self, item_assignment: npt.ArrayLike, q: int) -> F64:
        """Float total of metric row ``q`` per rep for an item assignment (-1 items ignored)."""
        a = np.asarray(item_assignment, dtype=np.int64)
        ok = a >= 0
        return np.bincount(a[ok], weights=self.item_metric[q][ok],
                           minlength=self.n_reps).astype(np.float64)


def _unique_inverse(a: npt.ArrayLike) -> tuple[I64, I64]:
    """``np.unique(a, return_inverse=True)`` for int arrays via one stable sort.

    numpy 2's hash-based ``unique`` is several times slower than sorting on the million-row
    int64 keys compiled here.
    """
    v = np.asarray(a, dtype=np.int64).reshape(-1)
    if v.size == 0:
        return v.copy(), np.zeros(0, dtype=np.int64)
    order = np.argsort(v, kind="stable")
    sv = v[order]
    new = np.empty(len(sv), dtype=bool)
    new[0] = True
    np.not_equal(sv[1:], sv[:-1], out=new[1:])
    rank = np.cumsum(new) - 1
    inv = np.empty(len(v), dtype=np.int64)
    inv[order] = rank
    return sv[new], inv


def _trim(a: npt.NDArray[Any], size: int) -> npt.NDArray[Any]:
    """The first ``size`` entries of a preallocated array: a view when most of it is used (its
    untouched tail pages were never resident), else a compact copy."""
    return a[:size] if size >= 0.75 * len(a) else a[:size].copy()


def _ro(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
    a.flags.writeable = False
    return a


def _decimal_scale(values: F64, name: str, exact: bool) -> float:
    """Smallest decimal scale (1, 10, 100, 1000) that makes every value an integer."""
    if exact or values.size == 0:
        return 1.0
    finite = values[np.isfinite(values)]
    big = float(np.abs(finite).sum()) if finite.size else 0.0
    for s in (1.0, 10.0, 100.0, 1000.0):
        v = finite * s
        if np.all(np.abs(v - np.round(v)) <= 1e-9 * np.maximum(1.0, np.abs(v))):
            if big * s > 2**52:
                break
            return s
    s = 1000.0
    while s > 1.0 and big * s > 2**52:
        s /= 10.0
    warnings.warn(
        f"metric '{name}' cannot be represented exactly with scale {s:g}; exact backends round "
        f"each value to 1/{s:g} (max rounding error "
        f"{float(np.max(np.abs(finite * s - np.round(finite * s))) / s) if finite.size else 0:g})",
        PrecisionWarning, stacklevel=3,
    )
    return s


def _account_metric(scenario: Scenario, name: str) -> tuple[F64, bool]:
    """Float values of a metric per account and whether they are integers by construction."""
    book = scenario.accounts
    if name in ("potential", "pipeline"):
        return np.asarray(getattr(book, name), dtype=np.float64), True
    if name == "accounts":
        return np.ones(len(book), dtype=np.float64), True
    try:
        return np.asarray(book.metric(name), dtype=np.float64), False
    except KeyError as exc:
        raise SpecError(f"balance metric {name!r} is not a column of the account book: "
                        f"{exc.args[0]}") from None


def _families(scenario: Scenario) -> tuple[I32, I64, I64, I64]:
    """Items: (item_of, item_indptr, item_members, item_root)."""
    book = scenario.accounts
    n = len(book)
    if scenario.spec.rules.families and n and np.any(book.parent >= 0):
        root = book.family_root()
        # item order = order of the smallest row in each family (roots need not be the smallest)
        uniq, inv = _unique_inverse(root)
        first = np.full(len(uniq), n, dtype=np.int64)
        np.minimum.at(first, inv, np.arange(n, dtype=np.int64))
        order = np.argsort(first, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        item_of = rank[inv].astype(np.int32)
        item_root = uniq[order].astype(np.int64)
    else:
        item_of = np.arange(n, dtype=np.int32)
        item_root = np.arange(n, dtype=np.int64)
    k = len(item_root)
    members = np.argsort(item_of, kind="stable").astype(np.int64)
    indptr = np.zeros(k + 1, dtype=np.int64)
    np.cumsum(np.bincount(item_of, minlength=k), out=indptr[1:])
    return item_of, indptr, members, item_root


def _class_eligibility(scenario: Scenario) -> tuple[I64, B]:
    """Account class of each account and the (classes × reps) eligibility matrix.

    Only rep activity is *not* applied here (pools use active reps; candidates filter later).
    """
    book, roster = scenario.accounts, scenario.reps
    fields = scenario.spec.rules.eligibility
    n = len(book)
    cols = {"segment": book.segment, "vertical": book.vertical, "region": book.region}
    if not fields or n == 0:
        cls = np.zeros(n, dtype=np.int64)
        return cls, np.ones((1 if n else 0, len(roster)), dtype=bool)
    # one int64 key per account (mixed radix over the fields) -> fast 1-D unique
    key = np.zeros(n, dtype=np.int64)
    radix = []
    for f in fields:
        rdx = len(cols[f].categories) + 1
        radix.append(rdx)
        key = key * rdx + (cols[f].codes.astype(np.int64) + 1)
    ukey, cls = _unique_inverse(key)
    cls = cls.reshape(-1).astype(np.int64)
    uniq = np.zeros((len(ukey), len(fields)), dtype=np.int64)
    rest = ukey.copy()
    for fi in range(len(fields) - 1, -1, -1):
        uniq[:, fi] = rest % radix[fi] - 1
        rest //= radix[fi]
    elig = np.ones((len(uniq), len(roster)), dtype=bool)
    for j, rep in enumerate(roster):
        for fi, f in enumerate(fields):
            allowed = getattr(rep, f + "s")
            if not allowed:
                continue
            cat = cols[f]
            codes = [cat.code_of(v) for v in allowed]
            elig[:, j] &= np.isin(uniq[:, fi], np.asarray([c for c in codes if c >= 0] or [-9]))
    return cls, elig


class _DistanceOracle:
    """Distance of (account, rep) pairs and whether the pair exists (table mode).

    Built once per compile: the table's keys are sorted once, homes gathered once.
    """

    def __init__(self, scenario: Scenario) -> None:
        book, roster = scenario.accounts, scenario.reps
        self.book = book
        self.m = len(roster)
        kind = scenario.spec.objective.distance
        self.table = kind is DistanceKind.TABLE
        if self.table:
            table = scenario.distances
            if table is None:
                raise SpecError("objective.distance is 'table' but the scenario has no "
                                "distance table")
            a_idx = np.asarray([book.index_of(a) if _has(book, a) else -1
                                for a in table.account_ids.tolist()], dtype=np.int64)
            r_idx = np.asarray([roster.index_of(r) if r in roster else -1
                                for r in table.rep_ids.tolist()], dtype=np.int64)
            ok = (a_idx >= 0) & (r_idx >= 0)
            keys = a_idx[ok] * self.m + r_idx[ok]
            cost = np.asarray(table.cost, dtype=np.float64)[ok]
            # first entry of a duplicated pair wins (as in the evaluator)
            self.keys, first = np.unique(keys, return_index=True)
            self.cost = cost[first]
            return
        self.hx = np.asarray([r.home.x if r.home else np.nan for r in roster], dtype=np.float64)
        self.hy = np.asarray([r.home.y if r.home else np.nan for r in roster], dtype=np.float64)
        self.haversine = kind is DistanceKind.HAVERSINE or (
            kind is DistanceKind.AUTO and book.coord_system is CoordSystem.LATLON)
        if self.haversine:
            # great-circle distance from the chord between unit vectors: one arcsin per pair
            # instead of haversine's four transcendental calls (same value to ~1e-12)
            self.axyz = _unit_xyz(book.x, book.y)
            self.rxyz = _unit_xyz(self.hx, self.hy)

    def points(self) -> tuple[F64, F64] | None:
        """(account points, rep points) in a space where straight-line order equals distance
        order (unit vectors for great-circle, planar x/y for euclidean); None in table mode."""
        if self.table:
            return None
        if self.haversine:
            return self.axyz, self.rxyz
        return (np.stack([self.book.x, self.book.y], axis=1),
                np.stack([self.hx, self.hy], axis=1))

    def __call__(self, acc: npt.ArrayLike, rep: npt.ArrayLike) -> tuple[F64, B]:
        a = np.asarray(acc, dtype=np.int64)
        r = np.asarray(rep, dtype=np.int64)
        if self.table:
            q = a * self.m + r
            if not len(self.keys):
                return np.zeros(len(q)), np.zeros(len(q), dtype=bool)
            pos = np.minimum(np.searchsorted(self.keys, q), len(self.keys) - 1)
            found = self.keys[pos] == q
            return np.where(found, self.cost[pos], 0.0), found
        if self.haversine:
            diff = self.axyz[a] - self.rxyz[r]
            chord = np.sqrt(np.einsum("ij,ij->i", diff, diff))
            d = 2.0 * EARTH_RADIUS_KM * np.arcsin(np.minimum(chord * 0.5, 1.0))
        else:
            d = euclidean(self.book.x[a], self.book.y[a], self.hx[r], self.hy[r])
        return np.nan_to_num(d, nan=0.0), np.ones(len(a), dtype=bool)


def _unit_xyz(lon: npt.ArrayLike, lat: npt.ArrayLike) -> F64:
    """Unit vectors of lon/lat points in degrees (NaN rows for unknown points)."""
    lo = np.radians(np.asarray(lon, dtype=np.float64))
    la = np.radians(np.asarray(lat, dtype=np.float64))
    c = np.cos(la)
    return np.stack([c * np.cos(lo), c * np.sin(lo), np.sin(la)], axis=1)


def _distances(scenario: Scenario, acc: I64, rep: I32) -> tuple[F64, B]:
    """Distances of (account, rep) pairs (see :class:`_DistanceOracle`)."""
    return _DistanceOracle(scenario)(acc, rep)


def _has(book: object, account_id: str) -> bool:
    try:
        book.index_of(account_id)  # type: ignore[attr-defined]
    except KeyError:
        return False
    return True


#: Pre-select max_candidates with a k-d tree (False forces the brute-force path; tests compare).
_USE_KDTREE = True

#: With ``max_candidates``, each rep also keeps ``REP_COVER`` times the accounts an aggregated
#: balanced plan gives it, its nearest ones (:func:`_balanced_cover`).
REP_COVER = 3.0


def _balanced_cover(pts: tuple[F64, F64], f: _Front, K: int, m: int, metric: F64,
                    lower: F64, upper: F64, factor: float = REP_COVER,
                    buckets: int = 10) -> I64:
    """Pairs the top-K cut keeps anyway, so the cut problem still has balanced plans (sorted
    unique keys ``item·(m + 1) + rep``).

    Per pool, the items of each class row with more than ``K`` reps are bucketed by the ratio
    of their first two band metrics (deciles; one bucket per class with a single metric) and an
    *aggregated* LP splits every bucket in fractions ``y[b, r]`` over the class's reps so that
    each rep's share of the buckets meets its bands (``metric``: one row per band, ``lower`` /
    ``upper``: ``(bands, m)``; capacity is one of the bands), elastic so that it always solves.
    Each rep then keeps, of every bucket it has a share of, its ``ceil(factor · y · |b|)``
    nearest items (k-d tree over the bucket). Taking a fraction of a bucket that is homogeneous
    in the metrics' ratio is what the aggregated LP does, so the cut problem keeps close to that
    fractional plan.

    Why: the K nearest reps per account alone can strand a rep whose accounts all have K nearer
    reps, or a set of reps whose accounts are all of one metric mix; at 1M accounts × 2,000 reps
    with K = 20 and ±3 % bands, 17 reps could not reach their lower potential band with every
    candidate they had and pools of every size had infeasible LP relaxations.
    """
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix
    from scipy.spatial import cKDTree

    acc_pts, rep_pts = pts
    rep_ok = np.all(np.isfinite(rep_pts), axis=1)
    q_pts = acc_pts[f.item_root]
    q_ok = np.all(np.isfinite(q_pts), axis=1)
    bands = metric.shape[0]
    if len(f.item_root) == 0 or bands == 0:
        return np.zeros(0, np.int64)
    ratio = (metric[1] / np.maximum(metric[0], 1e-12) if bands > 1
             else np.zeros(len(f.item_root)))
    keys: list[I64] = []
    row_deg = np.diff(f.row_ptr)
    for q in range(f.n_pools):
        # every item of the pool counts towards the bands; only located items of rows with
        # more than K reps get cover pairs (the others keep every pair anyway)
        its = np.flatnonzero(f.item_pool == q)
        if not np.any((row_deg[f.item_cls[its]] > K) & q_ok[its]):
            continue
        # buckets: (class, ratio decile)
        its = its[np.lexsort((ratio[its], f.item_cls[its]))]
        cls = f.item_cls[its]
        starts = np.flatnonzero(np.r_[True, cls[1:] != cls[:-1]])
        ends = np.r_[starts[1:], len(its)]
        bucket = np.empty(len(its), dtype=np.int64)
        n_b = 0
        for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True):
            nb = min(buckets if bands > 1 else 1, hi - lo)
            bucket[lo:hi] = n_b + (np.arange(hi - lo) * nb) // (hi - lo)
            n_b += nb
        b_cls = np.empty(n_b, dtype=np.int64)
        b_cls[bucket] = cls
        b_metric = np.vstack([np.bincount(bucket, weights=metric[i][its], minlength=n_b)
                              for i in range(bands)])
        reps = np.flatnonzero(f.rep_pool == q)
        if not len(reps):
            continue
        rpos = np.full(m, -1, dtype=np.int64)
        rpos[reps] = np.arange(len(reps))
        # columns: (bucket, rep) for every rep of the bucket's class row in this pool
        deg = row_deg[b_cls]
        col_b = np.repeat(np.arange(n_b), deg)
        off = np.arange(len(col_b)) - np.repeat(np.cumsum(deg) - deg, deg)
        col_r = rpos[f.row_reps[f.row_ptr[b_cls][col_b] + off]]
        keep = col_r >= 0
        col_b, col_r = col_b[keep], col_r[keep]
        nv, nr = len(col_b), len(reps)
        # rows: per band and rep, metric ≤ upper + slack·|upper| and −metric ≤ −lower + slack
        lo_r, hi_r = lower[:, reps], upper[:, reps]
        r_i: list[I64] = []
        c_i: list[I64] = []
        v_i: list[F64] = []
        rhs: list[F64] = []
        row = 0
        for i in range(bands):
            for sign, bound in ((1.0, hi_r[i]), (-1.0, -lo_r[i])):
                fin = np.isfinite(bound)
                r_i += [row + col_r, row + np.arange(nr)]
                c_i += [np.arange(nv), nv + row + np.arange(nr)]
                v_i += [sign * b_metric[i][col_b],
                        -np.maximum(np.abs(np.where(fin, bound, 0.0)), 1.0)]
                rhs.append(np.where(fin, bound, 1e30))
                row += nr
        A_ub = coo_matrix((np.concatenate(v_i), (np.concatenate(r_i), np.concatenate(c_i))),
                          shape=(row, nv + row)).tocsr()
        A_eq = coo_matrix((np.ones(nv), (col_b, np.arange(nv))), shape=(n_b, nv + row)).tocsr()
        res = linprog(np.r_[np.zeros(nv), np.ones(row)], A_ub=A_ub, b_ub=np.concatenate(rhs),
                      A_eq=A_eq, b_eq=np.ones(n_b), bounds=(0, None), method="highs")
        if res.status != 0 or res.x is None:
            continue
        y = res.x[:nv]
        b_start = np.r_[0, np.cumsum(np.bincount(bucket, minlength=n_b))]
        tree, tree_b = None, -1
        for j in np.flatnonzero((y > 1e-9) & (row_deg[b_cls[col_b]] > K)).tolist():
            bj, r = int(col_b[j]), int(reps[col_r[j]])  # col_b ascending: a tree per bucket
            members = its[b_start[bj]:b_start[bj + 1]]
            members = members[q_ok[members]]
            if not len(members):
                continue
            n_near = min(math.ceil(factor * y[j] * len(members)), len(members))
            if not rep_ok[r]:
                near = members[:n_near]
            else:
                if tree_b != bj:
                    tree, tree_b = cKDTree(q_pts[members]), bj
                assert tree is not None
                _, idx = tree.query(rep_pts[r], k=n_near)
                near = members[np.atleast_1d(np.asarray(idx, dtype=np.int64))]
            keys.append(near * (m + 1) + r)
    return np.unique(np.concatenate(keys)) if keys else np.zeros(0, np.int64)


def _nearest_candidates(pts: tuple[F64, F64], row_ptr: I64, row_reps: I32, item_cls: I64,
                        item_root: I64, item_owner: I32, K: int, m: int,
                        cover: I64 | None = None) -> tuple[I64, I32]:
    """Per item: the K reps of its class row nearest to its root account (k-d tree over rep
    homes), plus its current owner when allowed, plus reps without a home, plus the pairs of
    ``cover`` (keys ``item·(m + 1) + rep``, see :func:`_balanced_cover`); every rep of the row
    for an item without a location. CSR (ptr, reps), reps ascending per item.

    This only pre-selects: :func:`compile` then costs these pairs exactly and keeps the owner
    plus the K cheapest, so for single accounts the result equals the brute-force choice (up to
    ties), and a book of 1M accounts × 2,000 reps never materialises its 185M eligible pairs.
    """
    from scipy.spatial import cKDTree

    acc_pts, rep_pts = pts
    k = len(item_cls)
    rep_ok = np.all(np.isfinite(rep_pts), axis=1)
    q_pts = acc_pts[item_root]
    q_ok = np.all(np.isfinite(q_pts), axis=1)
    order = np.argsort(item_cls, kind="stable")
    cls_sorted = item_cls[order]
    bounds = np.flatnonzero(np.r_[True, cls_sorted[1:] != cls_sorted[:-1], True])
    out_i: list[npt.NDArray[np.int64]] = []
    out_r: list[npt.NDArray[np.int64]] = []
    for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        its = order[a:b].astype(np.int64)
        c = int(cls_sorted[a])
        reps_c = row_reps[row_ptr[c]:row_ptr[c + 1]].astype(np.int64)
        if len(reps_c) <= K:
            out_i.append(np.repeat(its, len(reps_c)))
            out_r.append(np.tile(reps_c, len(its)))
            continue
        homed, unhomed = reps_c[rep_ok[reps_c]], reps_c[~rep_ok[reps_c]]
        located = its[q_ok[its]]
        if len(homed) and len(located):
            kk = min(K, len(homed))
            _, idx = cKDTree(rep_pts[homed]).query(q_pts[located], k=kk)
            idx = np.asarray(idx, dtype=np.int64).reshape(len(located), kk)
            out_i.append(np.repeat(located, kk))
            out_r.append(homed[idx].reshape(-1))
        lost = its[~q_ok[its]]
        if len(lost):
            out_i.append(np.repeat(lost, len(reps_c)))
            out_r.append(np.tile(reps_c, len(lost)))
        if len(unhomed):
            out_i.append(np.repeat(its, len(unhomed)))
            out_r.append(np.tile(unhomed, len(its)))
        allowed = np.zeros(m, dtype=bool)
        allowed[reps_c] = True
        own = item_owner[its].astype(np.int64)
        has = (own >= 0) & allowed[np.maximum(own, 0)]
        out_i.append(its[has])
        out_r.append(own[has])
    if cover is not None and len(cover):
        out_i.append(cover // (m + 1))
        out_r.append(cover % (m + 1))
    ii = np.concatenate(out_i) if out_i else np.zeros(0, np.int64)
    rr = np.concatenate(out_r) if out_r else np.zeros(0, np.int64)
    key = np.sort(ii * (m + 1) + rr)
    if len(key):
        key = key[np.r_[True, key[1:] != key[:-1]]]
    ptr = np.zeros(k + 1, dtype=np.int64)
    np.cumsum(np.bincount(key // (m + 1), minlength=k), out=ptr[1:])
    return ptr, (key % (m + 1)).astype(np.int32)


def _travel_weight(scenario: Scenario) -> F64:
    book = scenario.accounts
    w = scenario.spec.objective.travel_weighting
    if w is TravelWeighting.WORKLOAD:
        return np.asarray(book.workload, dtype=np.float64)
    if w is TravelWeighting.VISITS:
        if "visits" not in book.extra:
            raise SpecError("objective.travel_weighting is 'visits' but the account book has no "
                            "numeric column 'visits'")
        return np.nan_to_num(np.asarray(book.extra["visits"], dtype=np.float64), nan=0.0)
    return np.ones(len(book), dtype=np.float64)


def _segment_sum(values: npt.NDArray[Any], seg_id: npt.NDArray[Any],
                 n_seg: int) -> npt.NDArray[Any]:
    """Exact per-segment sums (int64 stays int64)."""
    out = np.zeros(n_seg, dtype=values.dtype)
    np.add.at(out, seg_id, values)
    return out


@dataclass(frozen=True, slots=True)
class _Front:
    """What :func:`compile` derives before the candidate pairs: items, owners, locks, pools and
    the allowed reps per item class row (CSR ``row_ptr``/``row_reps``, ``item_cls`` per item)."""

    item_of: I32
    item_indptr: I64
    item_members: I64
    item_root: I64
    rep_active: B
    rep_share: F64
    owner: I32
    movable: B
    lock: I32
    protected: B
    rep_pool: I32
    acc_pool: I32
    item_pool: I32
    n_pools: int
    item_cls: I64
    row_ptr: I64
    row_reps: I32


def _front(scenario: Scenario) -> _Front:
    """Items, owners, locks, protected pipeline, eligibility pools and class rows (see the
    module docstring); shared by :func:`compile` and :func:`pair_cost_chunks`."""
    rules = scenario.spec.rules
    book, roster = scenario.accounts, scenario.reps
    n, m = len(book), len(roster)
    cont = rules.continuity
    item_of, item_indptr, item_members, item_root = _families(scenario)
    k = len(item_root)

    rep_active = np.asarray([r.status is not RepStatus.DEPARTING for r in roster], dtype=bool)
    rep_share = np.asarray([r.target_share for r in roster], dtype=np.float64)

    # -- owners, locks, protected pipeline -----------------------------------------------------
    owner = current_owner_index(book, roster) if m else np.full(n, -1, np.int32)
    movable = (owner >= 0) & rep_active[np.maximum(owner, 0)] if m else np.zeros(n, bool)
    lock = np.full(n, -1, dtype=np.int32)
    if rules.locks and n:
        lock = locked_index(book, roster) if m else lock.copy()
        unknown = (book.locked_to.codes >= 0) & (lock < 0)
        lock = np.where(unknown, -2, lock).astype(np.int32)
    protected = np.zeros(n, dtype=bool)
    if cont.protect_pipeline_above is not None and n:
        protected = (book.pipeline > cont.protect_pipeline_above) & movable
        lock = np.where((lock == -1) & protected, owner, lock).astype(np.int32)

    # -- eligibility per class, pools ---------------------------------------------------------
    cls, elig = _class_eligibility(scenario)
    n_cls = elig.shape[0]
    elig_active = elig & rep_active[None, :]
    # pools: components of bipartite graph classes (0..C-1) <-> reps (C..C+m-1)
    ci, rj = np.nonzero(elig_active)
    g = coo_matrix((np.ones(len(ci)), (ci, n_cls + rj)), shape=(n_cls + m, n_cls + m))
    _, comp = connected_components(g, directed=False)
    cls_has_rep = elig_active.any(axis=1)
    # renumber components that contain an active rep as pools 0..n_pools-1
    rep_comp = comp[n_cls:]
    pool_comps = np.unique(rep_comp[rep_active]) if m else np.zeros(0, np.int64)
    comp_to_pool = np.full(n_cls + m, -1, dtype=np.int32)
    comp_to_pool[pool_comps] = np.arange(len(pool_comps), dtype=np.int32)
    rep_pool = np.where(rep_active, comp_to_pool[rep_comp], -1).astype(np.int32)
    cls_pool = np.where(cls_has_rep, comp_to_pool[comp[:n_cls]], -1).astype(np.int32)
    acc_pool = cls_pool[cls] if n else np.zeros(0, np.int32)
    item_pool = acc_pool[item_root].astype(np.int32) if k else np.zeros(0, np.int32)

    # -- class rows: per item, reps eligible for every member -----------------------------------
    # item "class set": singletons and homogeneous families use their class row; mixed families
    # AND their members' rows (deduplicated by the sorted set of classes, a small Python loop).
    item_cls = cls[item_root] if k else np.zeros(0, np.int64)
    mem_cls = cls[item_members] if n else np.zeros(0, np.int64)
    item_cls_min = np.minimum.reduceat(mem_cls, item_indptr[:-1]) if k else item_cls
    item_cls_max = np.maximum.reduceat(mem_cls, item_indptr[:-1]) if k else item_cls
    mixed = np.flatnonzero(item_cls_min != item_cls_max)
    rows = elig_active
    if len(mixed):
        extra: dict[tuple[int, ...], int] = {}
        new_rows: list[B] = []
        for t in mixed.tolist():
            key = tuple(sorted(set(mem_cls[item_indptr[t]:item_indptr[t + 1]].tolist())))
            if key not in extra:
                extra[key] = n_cls + len(new_rows)
                new_rows.append(np.logical_and.reduce(elig_active[list(key)], axis=0))
            item_cls[t] = extra[key]
        rows = np.vstack([elig_active, np.asarray(new_rows, dtype=bool)])
    # CSR of allowed reps per class row
    row_ptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(rows.sum(axis=1), out=row_ptr[1:])
    row_reps = np.nonzero(rows)[1].astype(np.int32)  # row-major: ascending reps per row
    return _Front(item_of=item_of, item_indptr=item_indptr, item_members=item_members,
                  item_root=item_root, rep_active=rep_active, rep_share=rep_share,
                  owner=np.asarray(owner, dtype=np.int32), movable=np.asarray(movable, bool),
                  lock=lock, protected=protected, rep_pool=rep_pool, acc_pool=acc_pool,
                  item_pool=item_pool, n_pools=len(pool_comps), item_cls=item_cls,
                  row_ptr=row_ptr, row_reps=row_reps)


def _top_k(it: I64, rp: I32, tr: F64, item_owner: I32, K: int) -> B:
    """Mask of the pairs to keep: per item its owner plus the cheapest by (travel, rep), K in
    all. Pairs are sorted by (item, rep). Items with more than K pairs are sorted per row of a
    (items × degree) matrix, one group per degree, instead of one lexsort of every pair (a
    4-key lexsort of 20M pairs took minutes)."""
    keep = np.ones(len(it), dtype=bool)
    if not len(it):
        return keep
    first = np.flatnonzero(np.r_[True, it[1:] != it[:-1]])
    cnt = np.diff(np.r_[first, len(it)])
    big = cnt > K
    if not big.any():
        return keep
    keep[np.repeat(big, cnt)] = False
    for d in np.unique(cnt[big]).tolist():
        rows = np.flatnonzero(cnt == d)
        idx = first[rows][:, None] + np.arange(d, dtype=np.int64)[None, :]
        key = np.where(rp[idx] == item_owner[it[first[rows]]][:, None], -np.inf, tr[idx])
        best = np.argsort(key, axis=1, kind="stable")[:, :K]  # ties: lower rep first
        keep[np.take_along_axis(idx, best, axis=1).reshape(-1)] = True
    return keep


class _PairStream:
    """Candidate pairs of a scenario in item chunks of about :data:`_CHUNK` member-pairs:
    filtered (locks, distance, table), costed and (with ``max_candidates``) cut to the owner
    plus the K cheapest. Items never straddle chunks; pairs come in (item, rep) order.

    ``capacity`` bounds the number of pairs kept, so :func:`compile` writes each chunk straight
    into preallocated arrays (untouched tail pages of those never become resident)."""

    def __init__(self, scenario: Scenario, f: _Front, max_candidates: int | None,
                 only: B | None = None, cover: I64 | None = None,
                 oracle: _DistanceOracle | None = None) -> None:
        book, rules = scenario.accounts, scenario.spec.rules
        cont = rules.continuity
        n, m = len(book), len(scenario.reps)
        self.f = f
        self.K = max_candidates
        self.max_distance = rules.max_distance
        k = len(f.item_root)
        self.k = k
        self.item_size = np.diff(f.item_indptr)
        self.potential = np.asarray(book.potential, dtype=np.int64)
        self.oracle = oracle if oracle is not None else _DistanceOracle(scenario)
        self.tw = _travel_weight(scenario)
        if cont.move_weight == "count":
            self.unit = np.ones(n, dtype=np.float64)
        else:
            self.unit = np.asarray(getattr(book, cont.move_weight), dtype=np.float64) / 100.0
        self.item_owner = f.owner[f.item_root] if k else np.zeros(0, np.int32)
        self.w_t, self.w_d = scenario.spec.objective.travel, scenario.spec.objective.disruption
        self.move_cost = float(cont.move_cost)
        deg = np.diff(f.row_ptr)[f.item_cls] if k else np.zeros(0, np.int64)
        if only is not None:  # a subset of the items: the others get no pair
            deg = np.where(only, deg, 0)
        self.pre: tuple[I64, I32] | None = None
        self.m = m
        pts = self.oracle.points()
        # pairs kept whatever the top-K cut (see _balanced_cover)
        self.cover = cover if max_candidates is not None else None
        if max_candidates is not None and pts is not None and k and _USE_KDTREE:
            self.pre = _nearest_candidates(pts, f.row_ptr, f.row_reps, f.item_cls, f.item_root,
                                           self.item_owner, max_candidates, m, self.cover)
            deg = np.diff(self.pre[0])
        self.deg = deg
        cap = np.minimum(deg, max_candidates) if max_candidates is not None else deg
        if self.cover is not None and len(self.cover):
            cap = cap + np.bincount(self.cover // (m + 1), minlength=k)
        self.capacity = int(cap.sum()) if k else 0
        # chunks of about _CHUNK member-pairs bound the temporaries at any book size
        work = np.cumsum(deg * self.item_size) if k else np.zeros(0, np.int64)
        bounds = [0]
        if k:
            cuts = np.searchsorted(work, np.arange(_CHUNK, int(work[-1]) + _CHUNK, _CHUNK),
                                   side="right")
            bounds += [int(c) for c in cuts if 0 < c < k]
            bounds.append(k)
        self.bounds = [(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=False) if b > a]

    def __iter__(self) -> Iterator[tuple[I32, I32, F64, I64, I64, F64, int]]:
        for t_lo, t_hi in self.bounds:
            yield self.chunk(t_lo, t_hi)

    def chunk(self, t_lo: int, t_hi: int) -> tuple[I32, I32, F64, I64, I64, F64, int]:
        """Pairs of items [t_lo, t_hi): (item, rep, travel, moved, moved potential, move units,
        pairs before the filters)."""
        f = self.f
        deg_c = self.deg[t_lo:t_hi]
        p_item = np.repeat(np.arange(t_lo, t_hi, dtype=np.int64), deg_c)
        if self.pre is not None:
            p_rep = self.pre[1][self.pre[0][t_lo]:self.pre[0][t_hi]]
            pc = len(p_rep)
        else:
            ptr_c = np.zeros(len(deg_c) + 1, dtype=np.int64)
            np.cumsum(deg_c, out=ptr_c[1:])
            pc = int(ptr_c[-1])
            offs = np.arange(pc, dtype=np.int64) - ptr_c[p_item - t_lo]
            offs += f.row_ptr[f.item_cls[p_item]]
            p_rep = f.row_reps[offs]
            del offs
        # expand to (member, rep) pairs for distances, locks and moves
        sizes = self.item_size[p_item]
        single = bool(np.all(sizes == 1))
        if single:  # the common case: no families in this chunk, member-pairs = pairs
            mp_pair = np.arange(pc, dtype=np.int64)
            mp_acc = f.item_members[f.item_indptr[p_item]]
            mp_rep = p_rep
        else:
            mp_pair = np.repeat(np.arange(pc, dtype=np.int64), sizes)
            mp_start = np.repeat(np.cumsum(sizes) - sizes, sizes)
            mp_acc = f.item_members[f.item_indptr[p_item[mp_pair]]
                                    + np.arange(len(mp_pair), dtype=np.int64) - mp_start]
            del mp_start
            mp_rep = p_rep[mp_pair]
        del sizes
        dist, ok = self.oracle(mp_acc, mp_rep)
        if self.max_distance is not None:
            ok &= dist <= self.max_distance
        lk = f.lock[mp_acc]
        ok &= (lk == -1) | (lk == mp_rep)
        del lk
        moved_mp = f.movable[mp_acc] & (f.owner[mp_acc] != mp_rep)
        tw_d = self.tw[mp_acc]
        tw_d *= dist
        del dist
        pot_mv = np.where(moved_mp, self.potential[mp_acc], 0)
        unit_mv = np.where(moved_mp, self.unit[mp_acc], 0.0)
        moved: npt.NDArray[Any]
        moved_pot: npt.NDArray[Any]
        travel: npt.NDArray[Any]
        units: npt.NDArray[Any]
        if single:
            keep, travel, moved, moved_pot, units = ok, tw_d, moved_mp, pot_mv, unit_mv
        else:
            keep = np.bincount(mp_pair[~ok], minlength=pc) == 0
            travel = np.bincount(mp_pair, weights=tw_d, minlength=pc)
            moved = np.bincount(mp_pair, weights=moved_mp, minlength=pc)
            moved_pot = _segment_sum(pot_mv, mp_pair, pc)
            units = np.bincount(mp_pair, weights=unit_mv, minlength=pc)
        del mp_acc, mp_pair, mp_rep
        sel = np.flatnonzero(keep)
        tr_sel: F64 = np.asarray(travel[sel], dtype=np.float64)
        if self.K is not None and len(sel):
            # keep each item's current owner plus its K nearest reps (by travel, then rep index)
            top = _top_k(p_item[sel], p_rep[sel], tr_sel, self.item_owner, self.K)
            if self.cover is not None and len(self.cover):
                key = p_item[sel].astype(np.int64) * (self.m + 1) + p_rep[sel]
                pos = np.minimum(np.searchsorted(self.cover, key), len(self.cover) - 1)
                top |= self.cover[pos] == key
            sel, tr_sel = sel[top], tr_sel[top]
        moved_sel = moved[sel] if single else np.rint(moved[sel])
        return (p_item[sel].astype(np.int32), p_rep[sel].astype(np.int32, copy=False), tr_sel,
                moved_sel.astype(np.int64), np.asarray(moved_pot[sel], dtype=np.int64),
                np.asarray(units[sel], dtype=np.float64), pc)

    def cost(self, travel: F64, units: F64) -> F64:
        """Linear objective per pair: ``w_travel·travel + w_disrupt·move_cost·units``."""
        return self.w_t * travel + self.w_d * self.move_cost * units


def pair_cost_chunks(scenario: Scenario, items: npt.ArrayLike | None = None
                     ) -> Iterator[tuple[I32, I32, F64]]:
    """Every candidate pair of ``scenario`` (no ``max_candidates`` cut), chunk by chunk, as
    ``(item, rep, pair_cost)`` with items numbered as in :func:`compile`; items never straddle
    chunks. ``items`` limits the stream to those items. Memory stays at one chunk, so a bound of
    the *full* problem can be priced on books whose full pair arrays would not fit (see
    :func:`terraplan.solvers.decompose.full_lagrangian_bound`).
    """
    f = _front(scenario)
    only = None
    if items is not None:
        only = np.zeros(len(f.item_root), dtype=bool)
        only[np.asarray(items, dtype=np.int64)] = True
    stream = _PairStream(scenario, f, None, only)
    for it, rp, travel, _, _, units, _ in stream:
        yield it, rp, stream.cost(travel, units)


@dataclass(frozen=True, slots=True)
class DroppedPairs:
    """What the pairs a ``max_candidates`` compile dropped can cost at least.

    ``items`` (single-account items) had allowed pairs cut by the top-K; every cut pair of
    ``items[j]`` costs at least ``floor[j]`` and goes to a rep of class row ``row[j]`` (CSR
    ``row_ptr``/``row_reps``: the reps eligible for that class). ``exact`` lists the items whose
    cut pairs have no such floor (families: their travel is a sum over members, so the K
    nearest to the root need not be the K cheapest); price those with
    :func:`pair_cost_chunks`.
    """

    items: I64
    floor: F64
    row: I64
    row_ptr: I64
    row_reps: I32
    exact: I64


def dropped_pairs(problem: ProblemData) -> DroppedPairs:
    """The pairs the ``max_candidates`` cut of :func:`compile` dropped, as cost floors.

    Why a floor holds for a single account ``i``: the cut keeps its current owner plus the
    cheapest other reps, and for every rep other than the owner the cost is
    ``w_travel · travel_weight_i · dist(i, r) + w_disrupt · move_cost · move_unit_i`` with the
    same move term, so the kept non-owner reps are the nearest ones and every dropped rep costs
    at least the dearest kept non-owner pair (0 when none was kept; all weights >= 0). Locked
    accounts drop nothing that was allowed. Without non-negative weights and travel weights, or
    for a problem restricted otherwise (:func:`terraplan.solvers.decompose.restrict_pairs`),
    every item with fewer pairs than eligible reps is listed in ``exact``.
    """
    sc = problem.scenario
    f = _front(sc)
    k = problem.n_items
    row_deg = np.diff(f.row_ptr)
    kept = np.diff(problem.indptr)
    cut = row_deg[f.item_cls] > kept if k else np.zeros(0, dtype=bool)
    size = np.diff(f.item_indptr)
    tw = _travel_weight(sc)
    floors_ok = (problem.stats.get("max_candidates", 0) > 0
                 and "pairs_restricted_from" not in problem.stats
                 and problem.w_travel >= 0 and problem.w_disruption * problem.move_cost >= 0
                 and not np.any(tw < 0))
    single = cut & (size == 1) & (f.lock[f.item_root] == -1) if floors_ok else \
        np.zeros(k, dtype=bool)
    exact = np.flatnonzero(cut & ~single & ((size > 1) | ~floors_ok)).astype(np.int64)
    items = np.flatnonzero(single).astype(np.int64)
    # dearest kept non-owner pair per item (0 where every kept pair is the owner's)
    other = problem.indices != problem.account_owner[problem.item_root][problem.pair_item]
    dear = np.zeros(k, dtype=np.float64)
    has = kept > 0
    if problem.n_pairs:
        dear[has] = np.maximum.reduceat(np.where(other, problem.pair_cost, 0.0),
                                        problem.indptr[:-1][has])
    if floors_ok and len(items):
        # items holding cover pairs (_balanced_cover) beyond the top-K: the cut kept their
        # K − [owner kept] nearest other reps, so the floor is the cost of the last of those
        K = int(problem.stats["max_candidates"])
        n_other = np.bincount(problem.pair_item[other], minlength=k)
        top = K - (kept - n_other)
        over = n_other > top
        dear[over & (top <= 0)] = 0.0
        sel = np.flatnonzero(other & (over & (top > 0))[problem.pair_item])
        if len(sel):
            it = problem.pair_item[sel]
            o = np.lexsort((problem.pair_cost[sel], it))
            first = np.searchsorted(it[o], it[o], side="left")
            rank = np.arange(len(o)) - first
            hit = o[rank == top[it[o]] - 1]
            dear[it[hit]] = problem.pair_cost[sel[hit]]
    floor = dear[items]
    floor -= 1e-9 * np.abs(floor)  # great-circle vs chord rounding in the nearest-rep search
    return DroppedPairs(items=items, floor=floor, row=f.item_cls[items], row_ptr=f.row_ptr,
                        row_reps=f.row_reps, exact=exact)


def compile(  # noqa: A001 - the documented public name
    scenario: Scenario, *, max_candidates: int | None = None, rep_cover: float = REP_COVER,
) -> ProblemData:
    """Compile ``scenario`` into :class:`ProblemData` (see the module docstring for semantics).

    ``max_candidates`` keeps, per item, only its current owner and the ``K`` nearest allowed
    reps (by travel): an *approximation* for very large books (1M accounts × 2,000 reps have
    ~185M eligible pairs). With it, each rep also keeps its nearest accounts of the share an
    aggregated balanced plan gives it, ``rep_cover`` times over (:func:`_balanced_cover`; needs
    coordinates; 0 turns it off), so that the cut does not make the bands unreachable.
    ``None`` (default) keeps every allowed pair, which exact backends need to prove optimality
    of the real problem. Compilation runs in chunks of about
    :data:`_CHUNK` member-pairs written straight into the final arrays, so temporaries stay
    bounded (about 75 MB) and the peak is the compiled arrays plus one chunk; per-phase wall
    times are in ``stats`` (``compile_<phase>_s``).

    Raises :class:`~terraplan.errors.SpecError` when the spec names data the scenario lacks
    (a balance metric column, the ``visits`` column, a distance table). Infeasibility is never
    an error here: items may end up with no candidate; diagnostics explain it.
    """
    if max_candidates is not None and (not isinstance(max_candidates, int)
                                       or max_candidates < 1):
        raise ParameterError("The 'max_candidates' parameter of compile must be None or an int "
                             f">= 1. Got {max_candidates!r}.")
    if not (isinstance(rep_cover, int | float) and math.isfinite(rep_cover) and rep_cover >= 0):
        raise ParameterError("The 'rep_cover' parameter of compile must be a finite number "
                             f">= 0. Got {rep_cover!r}.")
    spec = scenario.spec
    rules = spec.rules
    book, roster = scenario.accounts, scenario.reps
    n, m = len(book), len(roster)
    cont = rules.continuity

    ph = _Phases()
    f = _front(scenario)
    item_of, item_indptr, item_members, item_root = (f.item_of, f.item_indptr, f.item_members,
                                                     f.item_root)
    k = len(item_root)
    item_size = np.diff(item_indptr)
    rep_active, rep_share = f.rep_active, f.rep_share
    owner, movable, lock, protected = f.owner, f.movable, f.lock, f.protected
    rep_pool, acc_pool, item_pool, n_pools = f.rep_pool, f.acc_pool, f.item_pool, f.n_pools
    ph.mark("items_pools")

    # -- metrics ------------------------------------------------------------------------------
    names: list[str] = ["workload"]
    for b in rules.balance:
        if b.metric not in names:
            names.append(b.metric)
    q_n = len(names)
    item_metric = np.zeros((q_n, k), dtype=np.float64)
    item_metric_int = np.zeros((q_n, k), dtype=np.int64)
    scales = np.ones(q_n, dtype=np.float64)
    acc_vals: list[F64] = []
    for q, name in enumerate(names):
        vals, exact = _account_metric(scenario, name)
        vals = np.nan_to_num(vals, nan=0.0)
        acc_vals.append(vals)
        s = _decimal_scale(vals, name, exact)
        scales[q] = s
        iv = np.rint(vals * s).astype(np.int64)
        if k:
            item_metric[q] = np.add.reduceat(vals[item_members], item_indptr[:-1])
            item_metric_int[q] = np.add.reduceat(iv[item_members], item_indptr[:-1])

    # capacity (workload is row 0)
    cap = np.full(m, np.inf, dtype=np.float64)
    cap_int = np.full(m, UNLIMITED, dtype=np.int64)
    if rules.capacity:
        for j, r in enumerate(roster):
            if r.capacity is not None:
                cap[j] = r.capacity
                cap_int[j] = math.floor(r.capacity * scales[0] + 1e-9)

    # balance targets
    R = len(rules.balance)
    target = np.zeros((R, m), dtype=np.float64)
    share_pool = np.bincount(rep_pool[rep_pool >= 0], weights=rep_share[rep_pool >= 0],
                             minlength=n_pools)
    for b_i, b in enumerate(rules.balance):
        vals = acc_vals[names.index(b.metric)]
        in_pool = acc_pool >= 0
        pool_total = np.bincount(acc_pool[in_pool], weights=vals[in_pool], minlength=n_pools)
        has = rep_pool >= 0
        target[b_i, has] = (pool_total[rep_pool[has]] * rep_share[has]
                            / share_pool[rep_pool[has]])
    tol = np.asarray([b.tolerance for b in rules.balance], dtype=np.float64)
    lower = target * (1.0 - tol[:, None])
    upper = target * (1.0 + tol[:, None])
    bq = np.asarray([names.index(b.metric) for b in rules.balance], dtype=np.int32)
    sc = scales[bq][:, None] if R else np.ones((0, 1))
    lower_int = np.ceil(lower * sc - 1e-9).astype(np.int64)
    upper_int = np.floor(upper * sc + 1e-9).astype(np.int64)

    ph.mark("metrics_targets")

    # -- candidate pairs ------------------------------------------------------------------------
    # pairs the top-K cut keeps so that balanced plans survive it (coordinates only: a
    # distance table has no nearest-item search)
    cover = None
    oracle = _DistanceOracle(scenario)  # one per compile, shared with the pair stream
    pts = oracle.points() if max_candidates is not None else None
    if pts is not None and rep_cover > 0 and k:
        hard = [b_i for b_i, b in enumerate(rules.balance) if b.hard]
        rows, lo, hi = [int(bq[b_i]) for b_i in hard], list(lower[hard]), list(upper[hard])
        if rules.capacity and np.isfinite(cap).any():
            rows.append(0)  # workload
            lo.append(np.full(m, -np.inf))
            hi.append(cap)
        if rows:
            assert max_candidates is not None
            cover = _balanced_cover(pts, f, max_candidates, m, item_metric[rows],
                                    np.vstack(lo), np.vstack(hi), rep_cover)
        ph.mark("cover")
    stream = _PairStream(scenario, f, max_candidates, cover=cover, oracle=oracle)
    ph.mark("preselect")
    # each chunk is written straight into arrays sized for the most pairs that can survive:
    # no per-chunk parts kept alive, no concatenation, no dtype-conversion copies
    room = stream.capacity
    pair_item = np.empty(room, dtype=np.int32)
    indices = np.empty(room, dtype=np.int32)
    pair_travel = np.empty(room, dtype=np.float64)
    pair_moved = np.empty(room, dtype=np.int64)
    pair_moved_pot = np.empty(room, dtype=np.int64)
    pair_units = np.empty(room, dtype=np.float64)
    pair_cost = np.empty(room, dtype=np.float64)
    pos, P0 = 0, 0
    for c_it, c_rep, c_tr, c_mv, c_mp, c_un, c_pc in stream:
        end = pos + len(c_it)
        pair_item[pos:end], indices[pos:end], pair_travel[pos:end] = c_it, c_rep, c_tr
        pair_moved[pos:end], pair_moved_pot[pos:end], pair_units[pos:end] = c_mv, c_mp, c_un
        pair_cost[pos:end] = stream.cost(c_tr, c_un)
        pos, P0 = end, P0 + c_pc
    del stream
    if pos < room:  # filters dropped pairs: trim (a copy only when much was dropped)
        pair_item, indices, pair_travel, pair_moved, pair_moved_pot, pair_units, pair_cost = (
            _trim(a, pos) for a in (pair_item, indices, pair_travel, pair_moved, pair_moved_pot,
                                    pair_units, pair_cost))
    indptr = np.zeros(k + 1, dtype=np.int64)
    np.cumsum(np.bincount(pair_item, minlength=k), out=indptr[1:])
    w_t, w_d = spec.objective.travel, spec.objective.disruption

    ph.mark("pairs")

    # per-item current-owner composition (movable owners only)
    mv = movable[item_members]
    cur_item = item_of[item_members][mv].astype(np.int64)
    cur_r = owner[item_members][mv].astype(np.int64)
    key = cur_item * (m + 1) + cur_r
    ukey, kinv = _unique_inverse(key)
    cur_cnt = np.bincount(kinv, minlength=len(ukey)).astype(np.int64)
    cur_pot = _segment_sum(book.potential[item_members][mv].astype(np.int64), kinv.reshape(-1),
                           len(ukey))
    cur_items = ukey // (m + 1)
    cur_indptr = np.zeros(k + 1, dtype=np.int64)
    np.cumsum(np.bincount(cur_items, minlength=k), out=cur_indptr[1:])
    cur_rep = (ukey % (m + 1)).astype(np.int32)

    ph.mark("continuity")

    total_pot = int(book.potential.sum()) if n else 0
    max_acc = -1 if cont.max_moved_accounts is None else int(cont.max_moved_accounts)
    max_pot = -1 if cont.max_moved_share is None else int(
        math.floor(cont.max_moved_share * total_pot + 1e-9))
    max_rep = -1 if cont.max_moved_per_rep is None else int(cont.max_moved_per_rep)

    present: list[str] = []
    if rules.eligibility:
        present.append(Rule.ELIGIBILITY)
    if not rep_active.all():
        present.append(Rule.DEPARTURE)
    if rules.capacity and np.isfinite(cap).any():
        present.append(Rule.CAPACITY)
    present += [balance_rule_name(b.metric) for b in rules.balance]
    if rules.locks and np.any(book.locked_to.codes >= 0):
        present.append(Rule.LOCKS)
    if rules.families and np.any(item_size > 1):
        present.append(Rule.FAMILIES)
    if rules.max_distance is not None:
        present.append(Rule.MAX_DISTANCE)
    if spec.objective.distance is DistanceKind.TABLE:
        present.append(Rule.DISTANCE_TABLE)
    if max_acc >= 0 or max_pot >= 0:
        present.append(Rule.CONTINUITY_BUDGET)
    if max_rep >= 0:
        present.append(Rule.CONTINUITY_PER_REP)
    if cont.move_cost > 0 and spec.objective.disruption > 0:
        present.append(Rule.MOVE_COST)
    if cont.protect_pipeline_above is not None:
        present.append(Rule.PROTECT_PIPELINE)
    if rules.contiguity:
        present.append(Rule.CONTIGUITY)

    return ProblemData(
        scenario=scenario, mode=spec.mode, n_accounts=n, n_reps=m, n_items=k,
        rep_ids=roster.ids,
        item_of=_ro(item_of), item_indptr=_ro(item_indptr), item_members=_ro(item_members),
        item_root=_ro(item_root),
        account_owner=_ro(np.asarray(owner, dtype=np.int32)),
        account_movable_owner=_ro(np.asarray(movable, dtype=bool)),
        account_lock=_ro(lock),
        indptr=_ro(indptr), indices=_ro(indices), pair_item=_ro(pair_item),
        pair_travel=_ro(pair_travel), pair_moved=_ro(pair_moved),
        pair_moved_potential=_ro(pair_moved_pot), pair_move_units=_ro(pair_units),
        pair_cost=_ro(pair_cost),
        metric_names=tuple(names), item_metric=_ro(item_metric),
        item_metric_int=_ro(item_metric_int), metric_scale=_ro(scales),
        rep_capacity=_ro(cap), rep_capacity_int=_ro(cap_int), rep_active=_ro(rep_active),
        rep_share=_ro(rep_share), rep_pool=_ro(rep_pool), item_pool=_ro(item_pool),
        n_pools=n_pools,
        balance_metric=tuple(b.metric for b in rules.balance), balance_q=_ro(bq),
        balance_tol=_ro(tol),
        balance_penalty=_ro(np.asarray([b.penalty for b in rules.balance], dtype=np.float64)),
        balance_hard=_ro(np.asarray([b.hard for b in rules.balance], dtype=bool)),
        target=_ro(target), lower=_ro(lower), upper=_ro(upper),
        lower_int=_ro(lower_int), upper_int=_ro(upper_int),
        cur_indptr=_ro(cur_indptr), cur_rep=_ro(cur_rep), cur_count=_ro(cur_cnt),
        cur_potential=_ro(cur_pot),
        max_moved_accounts=max_acc, max_moved_potential=max_pot, max_moved_per_rep=max_rep,
        move_cost=float(cont.move_cost), w_travel=float(w_t), w_disruption=float(w_d),
        w_balance=float(spec.objective.balance), rules=tuple(str(r) for r in present),
        stats={"pairs_before_filters": float(P0), "pairs": float(len(indices)),
               "pairs_eligible": float(np.diff(f.row_ptr)[f.item_cls].sum()) if k else 0.0,
               "max_candidates": float(max_candidates or 0),
               "rep_cover": float(rep_cover) if max_candidates else 0.0,
               "protected_accounts": float(protected.sum()), **ph.times},
    )


# -- objective and feasibility on item assignments (shared by every backend) ------------------
def balance_penalty(problem: ProblemData, item_assignment: npt.ArrayLike) -> float:
    """Soft-balance term ``w_balance · Σ_b Σ_r penalty_b · max(0, |T−t|/t − tol_b)``."""
    total = 0.0
    for b in range(len(problem.balance_metric)):
        if problem.balance_hard[b]:
            continue
        tot = problem.rep_totals(item_assignment, int(problem.balance_q[b]))
        t = problem.target[b]
        pos = t > 0
        dev = np.abs(tot[pos] - t[pos]) / t[pos] - problem.balance_tol[b]
        total += float(problem.balance_penalty[b] * np.maximum(dev, 0.0).sum())
    return problem.w_balance * total


def objective(problem: ProblemData, item_assignment: npt.ArrayLike) -> float:
    """Objective of an item assignment in evaluator units (float).

    Items assigned to a non-candidate rep are costed with their true travel/moves via the pair
    arrays only when the pair exists; call :func:`hard_violations` first for such plans.
    """
    p = problem.pair_index(item_assignment)
    linear = float(problem.pair_cost[p[p >= 0]].sum())
    return linear + balance_penalty(problem, item_assignment)


def soft_band(p: ProblemData, b: int, r: int) -> tuple[float, float]:
    """Rep ``r``'s band of balance rule ``b`` in integer-scaled metric units, exact (floats):
    a soft rule's deviation is priced from these edges, not from ``lower_int``/``upper_int``,
    which are rounded inward (exact only as the bounds of a hard rule on integer loads)."""
    sc = float(p.metric_scale[int(p.balance_q[b])])
    return float(p.lower[b, r]) * sc, float(p.upper[b, r]) * sc


def hard_violations(problem: ProblemData, item_assignment: npt.ArrayLike) -> list[str]:
    """Hard rules an item assignment breaks, as short messages (empty = feasible).

    This is the solver-side check used by backends before returning; the independent
    re-check is :mod:`terraplan.evaluate`.
    """
    a = np.asarray(item_assignment, dtype=np.int64)
    out: list[str] = []
    p = problem.pair_index(a)
    bad = np.flatnonzero(p < 0)
    if len(bad):
        out.append(f"{len(bad)} item(s) on a non-candidate rep, e.g. item {int(bad[0])}")
        return out
    w = problem.rep_totals(a, 0)
    over = np.flatnonzero(w > problem.rep_capacity + 1e-9)
    out += [f"rep {problem.rep_ids[j]} workload {w[j]:.6g} > capacity {problem.rep_capacity[j]:g}"
            for j in over.tolist()]
    for b in range(len(problem.balance_metric)):
        if not problem.balance_hard[b]:
            continue
        tot = problem.rep_totals(a, int(problem.balance_q[b]))
        eps = 1e-9 * np.maximum(1.0, np.abs(problem.target[b]))
        for j in np.flatnonzero((tot < problem.lower[b] - eps)
                                | (tot > problem.upper[b] + eps)).tolist():
            out.append(f"rep {problem.rep_ids[j]} {problem.balance_metric[b]} {tot[j]:.6g} "
                       f"outside [{problem.lower[b, j]:.6g}, {problem.upper[b, j]:.6g}]")
    moved = int(problem.pair_moved[p].sum())
    if problem.max_moved_accounts >= 0 and moved > problem.max_moved_accounts:
        out.append(f"{moved} accounts moved > budget {problem.max_moved_accounts}")
    mpot = int(problem.pair_moved_potential[p].sum())
    if problem.max_moved_potential >= 0 and mpot > problem.max_moved_potential:
        out.append(f"{mpot} cents of potential moved > budget {problem.max_moved_potential}")
    if problem.max_moved_per_rep >= 0:
        lost = moved_per_rep(problem, a)
        for j in np.flatnonzero(lost > problem.max_moved_per_rep).tolist():
            out.append(f"rep {problem.rep_ids[j]} loses {int(lost[j])} accounts > "
                       f"{problem.max_moved_per_rep}")
    return out


def moved_per_rep(problem: ProblemData, item_assignment: npt.ArrayLike) -> I64:
    """Accounts each (movable) current owner loses to another rep."""
    a = np.asarray(item_assignment, dtype=np.int64)
    cur_item = np.repeat(np.arange(problem.n_items), np.diff(problem.cur_indptr))
    lost = problem.cur_rep != a[cur_item]
    return np.bincount(problem.cur_rep[lost], weights=problem.cur_count[lost],
                       minlength=problem.n_reps).astype(np.int64)


def warm_start(problem: ProblemData, assignment: npt.ArrayLike | None) -> I32:
    """Item-level hint from an account-level assignment (default: the current owners).

    An item takes its root account's rep when that rep is one of its candidates; otherwise the
    hint is -1 for that item (the backend chooses freely).
    """
    a = problem.account_owner if assignment is None else np.asarray(assignment, dtype=np.int32)
    if a.shape != (problem.n_accounts,):
        raise ValueError(f"initial assignment must have {problem.n_accounts} entries; "
                         f"got shape {a.shape}")
    ia = a[problem.item_root].astype(np.int32)
    ok = problem.pair_index(ia) >= 0
    return np.where(ok, ia, -1).astype(np.int32)


def decode(
    problem: ProblemData,
    assignment: npt.ArrayLike,
    *,
    reasons: npt.ArrayLike | None = None,
    solver: str = "",
    seed: int | None = None,
    note: str = "",
) -> Plan:
    """A :class:`~terraplan.domain.Plan` from an account-level assignment (rep index per account).

    ``assignment`` has one entry per account in book order (as in
    :attr:`terraplan.solvers.base.SolveResult.assignment`); use
    :meth:`ProblemData.account_assignment` to expand an item-level one.
    """
    a = np.asarray(assignment, dtype=np.int32)
    if a.shape != (problem.n_accounts,):
        raise ValueError(f"assignment must have {problem.n_accounts} entries (one per account); "
                         f"got shape {a.shape}")
    sc = problem.scenario
    return Plan.from_indices(sc.accounts, sc.reps, a, reasons=reasons,
                             provenance=Provenance(scenario=sc.name, solver=solver, seed=seed,
                                                   note=note))


def encode(problem: ProblemData, plan: Plan) -> I32:
    """Account-level assignment (rep index per book row, -1 unassigned) of a plan."""
    sc = problem.scenario
    return plan.aligned(sc.accounts, sc.reps)


__all__: Sequence[str] = (
    "UNLIMITED", "DroppedPairs", "ProblemData", "Rule", "balance_penalty", "balance_rule_name",
    "compile", "decode", "dropped_pairs", "encode", "hard_violations", "moved_per_rep",
    "objective", "pair_cost_chunks", "warm_start",
)
