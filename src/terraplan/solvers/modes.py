"""One entry point for the territory modes: ``mode: carve`` and ``mode: geo_unit`` scenarios.

:func:`solve_territories` takes a loaded :class:`~terraplan.domain.Scenario` whose spec mode is
``carve`` or ``geo_unit`` and returns a :class:`TerritorySolution`: the solver's
:class:`~terraplan.solvers.base.SolveResult` (status, objective, bound, gap of the carve /
districting model) and a :class:`~terraplan.domain.Plan` whose owners are roster rep ids, with a
reason code per account.

1. **Territories.** ``carve`` builds a :class:`~terraplan.solvers.carve.CarveProblem` (capacitated
   p-median) and runs :func:`~terraplan.solvers.carve.solve_carve`; ``geo_unit`` builds a
   :class:`~terraplan.solvers.geounit.DistrictingProblem` (contiguous districts of the spec's
   ``geo_unit.unit_column``) and runs :func:`~terraplan.solvers.geounit.solve_districting`; an
   account inherits its unit's district. The unit graph is ``scenario.units`` — the spec's
   ``inputs.adjacency`` as loaded by :func:`terraplan.io.load_scenario` or the workspace — else a
   Delaunay triangulation of the unit centroids; the run message says which
   (:func:`adjacency_source`). ``backend`` is ``"milp"`` (HiGHS), ``"cpsat"``, (carve
   only) ``"heuristic"`` (location-allocation + LNS for large books), or ``"auto"``: geo-unit
   ``cpsat``; carve ``milp`` up to :data:`AUTO_CARVE_EXACT_ITEMS` items, ``heuristic`` above
   (see :func:`backends_for`, :func:`default_backend`).
2. **Territory → rep.** Territories are not reps. Each territory ``t`` goes to a distinct *active*
   rep ``r`` by a min-cost flow (OR-Tools ``SimpleMinCostFlow``, a bipartite assignment) that
   minimises, lexicographically,

   * the disruption ``D[t, r]`` = potential (cents) of the accounts of ``t`` whose current owner
     is not ``r``, then
   * the distance from ``r``'s home to the centre of ``t`` (carve: the chosen centre site;
     geo-unit: the mean location of the district's accounts), as a rank among all pairs.

   A pair is forbidden when ``r`` cannot take ``t`` under the spec's rules: the territory's
   workload exceeds the rep's capacity (``rules.capacity``) or an account of ``t`` is farther
   than ``rules.max_distance`` from the rep's home. There must be no more territories than active
   reps (a :class:`~terraplan.errors.SpecError` names both numbers); active reps without a
   territory own nothing and the result's message names them.
3. **Reasons.** Every account gets a :class:`~terraplan.domain.Reason` from
   :func:`terraplan.evaluate.explain_moves` against the current owners, as in assign mode.

Rules the territory models cannot encode are refused with
:class:`~terraplan.errors.UnsupportedRuleError` before solving (never dropped): eligibility
restrictions of active reps, locked accounts (``rules.locks``), continuity budgets and protected
pipeline (geo-unit; carve refuses them itself), and — in geo-unit mode — families that span units.
The plan is re-checked by the evaluator in the services layer like any plan.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from terraplan.domain import Mode, Plan, RepStatus, Scenario
from terraplan.domain.common import CoordSystem
from terraplan.domain.plan import Provenance, current_owner_index
from terraplan.domain.spec import DistanceKind, GeoUnitSpec
from terraplan.errors import ParameterError, SpecError, UnsupportedRuleError
from terraplan.geo.distance import pairwise
from terraplan.solvers.base import (
    CancelToken,
    ProgressCallback,
    SolveOptions,
    SolveResult,
    Status,
    StopCriterion,
)

__all__ = ["AUTO_CARVE_EXACT_ITEMS", "TERRITORY_MODES", "TerritorySolution", "adjacency_source",
           "backends_for", "default_backend", "map_territories", "solve_territories",
           "territory_count"]

TERRITORY_MODES = (Mode.CARVE, Mode.GEO_UNIT)
#: ``backend="auto"`` in carve mode: the exact model (HiGHS) up to this many items (account
#: families), the carve heuristic above. A policy, not a measured crossover: on the 300-account
#: example HiGHS ends 0.4 % below the heuristic in the same 10 s.
AUTO_CARVE_EXACT_ITEMS = 2_000

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True, eq=False)
class TerritorySolution:
    """A solved territory-mode scenario.

    ``result`` is the carve / districting model's result with ``assignment`` replaced by the
    roster index of every account's rep (book order, ``-1`` none) and ``reasons`` filled;
    ``plan`` is ``None`` when no plan was found. ``territory_rep[t]`` is the rep id of territory
    ``t``; ``idle_reps`` are the active reps that got no territory (they own nothing).
    """

    result: SolveResult
    plan: Plan | None
    territory_rep: tuple[str, ...] = ()
    idle_reps: tuple[str, ...] = ()


def backends_for(mode: Mode) -> tuple[str, ...]:
    """Backend names a territory mode accepts: ``"auto"`` and those of its model."""
    if mode is Mode.CARVE:
        from terraplan.solvers.carve import BACKENDS as carve_backends

        return ("auto", *carve_backends)
    from terraplan.solvers.geounit import BACKENDS as geo_backends

    return ("auto", *geo_backends)


def default_backend(mode: Mode, n_items: int = 0) -> str:
    """``backend="auto"`` for a territory mode: CP-SAT for geo-unit; for carve HiGHS up to
    :data:`AUTO_CARVE_EXACT_ITEMS` items, the carve heuristic above (when it exists)."""
    if mode is not Mode.CARVE:
        return "cpsat"
    if n_items > AUTO_CARVE_EXACT_ITEMS and "heuristic" in backends_for(mode):
        return "heuristic"
    return "milp"


def adjacency_source(scenario: Scenario) -> str:
    """Where a geo-unit scenario's unit graph comes from, for the run message."""
    units = scenario.units
    if units is not None:
        return (f"adjacency: supplied ({len(units.unit_ids)} units, "
                f"{int(np.asarray(units.edges).reshape(-1, 2).shape[0])} edges)")
    named = scenario.spec.inputs.adjacency
    if named is not None and named.strip().lower() != "delaunay":
        return (f"adjacency: inputs.adjacency {named!r} was not loaded with this scenario; "
                "Delaunay triangulation of the unit centroids used instead")
    return "adjacency: Delaunay triangulation of the unit centroids (no inputs.adjacency)"


def _active(scenario: Scenario) -> IntArray:
    """Reps that can own a territory: active reps and planned hires (TBH placeholders), as
    everywhere else in terraplan (pools, the evaluator's territory count) — not departing."""
    return np.asarray([i for i, r in enumerate(scenario.reps)
                       if r.status is not RepStatus.DEPARTING], dtype=np.int64)


def territory_count(scenario: Scenario) -> int:
    """Territories of a carve / geo-unit scenario: the spec's number, or (geo-unit without one)
    one per rep that is not departing (active reps and planned hires)."""
    spec = scenario.spec
    if spec.mode is Mode.CARVE:
        if spec.carve is None:
            raise SpecError("mode: carve needs a 'carve' section with the number of territories")
        return spec.carve.territories
    if spec.geo_unit is not None and spec.geo_unit.territories is not None:
        return spec.geo_unit.territories
    return int(_active(scenario).size)


def _refuse_unencodable(scenario: Scenario, active: IntArray) -> None:
    """Raise :class:`UnsupportedRuleError` for a rule the territory models cannot keep."""
    spec = scenario.spec
    mode = spec.mode.value
    rules = spec.rules
    book = scenario.accounts
    for fld in rules.eligibility:
        limited = [scenario.reps[int(r)].id for r in active
                   if getattr(scenario.reps[int(r)], fld + "s")]
        if limited:
            raise UnsupportedRuleError(
                mode, "eligibility", f"active rep(s) {limited[:5]} take only some {fld}s; "
                "territories are drawn without eligibility — set rules.eligibility: [] or "
                "clear the reps' lists")
    if rules.locks and np.any(book.locked_to.codes >= 0):
        n = int(np.count_nonzero(book.locked_to.codes >= 0))
        raise UnsupportedRuleError(mode, "locks", f"{n} account(s) are locked to a rep; "
                                   "territories are drawn without locks — set rules.locks: false")
    if spec.mode is Mode.GEO_UNIT:
        c = rules.continuity
        if any(v is not None for v in (c.max_moved_accounts, c.max_moved_share,
                                       c.max_moved_per_rep, c.protect_pipeline_above)):
            raise UnsupportedRuleError(mode, "continuity", "districts are drawn from scratch; "
                                       "move budgets and protected pipeline are not encoded")
        if rules.families:
            column = spec.geo_unit.unit_column if spec.geo_unit is not None else "postal_code"
            codes = getattr(book, column).codes
            root = book.family_root()
            split = np.flatnonzero(codes != codes[root])
            if split.size:
                i = int(split[0])
                raise UnsupportedRuleError(
                    mode, "families", f"account {book.ids[i]} and its parent "
                    f"{book.ids[int(root[i])]} are in different {column} units; districts "
                    "keep units whole, not families — set rules.families: false")


def _coord(scenario: Scenario) -> CoordSystem:
    kind = scenario.spec.objective.distance
    if kind is DistanceKind.HAVERSINE:
        return CoordSystem.LATLON
    if kind is DistanceKind.EUCLIDEAN:
        return CoordSystem.PLANAR
    return scenario.accounts.coord_system


def map_territories(scenario: Scenario, territory: npt.ArrayLike, centre_x: npt.ArrayLike,
                    centre_y: npt.ArrayLike, reps: npt.ArrayLike | None = None
                    ) -> npt.NDArray[np.int64]:
    """Give every territory a distinct rep (roster index): least disruption, then nearest home.

    Parameters
    ----------
    scenario : Scenario
    territory : (n,) int array
        Territory of every account (book order), ``0 .. p-1``.
    centre_x, centre_y : (p,) float arrays
        Centre of every territory (NaN when unknown: ranks last in the tie-break).
    reps : int array, optional
        Roster indices the territories may go to (default: the active reps).

    Returns
    -------
    (p,) int array
        Roster index of each territory's rep.

    Raises
    ------
    SpecError
        More territories than candidate reps, or no assignment respects rep capacity and the
        maximum distance.
    """
    terr = np.asarray(territory, dtype=np.int64)
    cx = np.asarray(centre_x, dtype=np.float64)
    cy = np.asarray(centre_y, dtype=np.float64)
    p = cx.shape[0]
    cand = _active(scenario) if reps is None else np.asarray(reps, dtype=np.int64)
    m = cand.size
    if p > m:
        raise SpecError(f"{p} territories but only {m} active rep(s): every territory needs its "
                        f"own rep; lower the number of territories to at most {m}")
    book, roster, rules = scenario.accounts, scenario.reps, scenario.spec.rules
    cur = current_owner_index(book, roster).astype(np.int64)
    pot = np.asarray(book.potential, dtype=np.int64)
    # D[t, r] = potential of t minus potential of t already owned by r (exact integer cents)
    terr_pot = np.zeros(p, dtype=np.int64)
    np.add.at(terr_pot, terr, pot)
    kept = np.zeros((p, len(roster)), dtype=np.int64)
    own = cur >= 0
    np.add.at(kept, (terr[own], cur[own]), pot[own])
    disruption = terr_pot[:, None] - kept[:, cand]
    homes = [roster[int(r)].home for r in cand]
    hx = np.asarray([np.nan if h is None else h.x for h in homes], dtype=np.float64)
    hy = np.asarray([np.nan if h is None else h.y for h in homes], dtype=np.float64)
    coord = _coord(scenario)
    dist = pairwise(cx, cy, hx, hy, coord) if m else np.zeros((p, 0))
    allowed = np.ones((p, m), dtype=bool)
    if rules.capacity:
        load = np.bincount(terr, weights=book.workload, minlength=p)
        cap = np.asarray([np.inf if roster[int(r)].capacity is None else roster[int(r)].capacity
                          for r in cand], dtype=np.float64)
        allowed &= load[:, None] <= cap[None, :] + 1e-9 * np.maximum(1.0, cap[None, :])
    if rules.max_distance is not None:
        known = ~np.isnan(book.x) & ~np.isnan(book.y)
        kx, ky, kt = book.x[known], book.y[known], terr[known]
        for j in range(m):  # one rep at a time: O(accounts) memory on large books
            if np.isnan(hx[j]) or np.isnan(hy[j]):
                continue  # an unknown home never violates the maximum distance
            d = pairwise(kx, ky, hx[j:j + 1], hy[j:j + 1], coord)[:, 0]
            far = np.zeros(p, dtype=bool)
            far[kt[d > rules.max_distance * (1.0 + 1e-9)]] = True
            allowed[:, j] &= ~far
    # tie-break: rank of the home-to-centre distance among all pairs (NaN last); lexicographic
    # weights: any disruption difference outweighs every possible sum of p ranks
    order = np.argsort(np.where(np.isnan(dist), np.inf, dist), axis=None, kind="stable")
    rank = np.empty(p * m, dtype=np.int64)
    rank[order] = np.arange(p * m, dtype=np.int64)
    cost = _lexicographic_cost(disruption, rank.reshape(p, m), p + m + 2)
    lonely = np.flatnonzero(~allowed.any(axis=1))
    if lonely.size:
        load_t = np.bincount(terr, weights=book.workload, minlength=p)
        raise SpecError(f"{lonely.size} territory(ies) fit no active rep's capacity and maximum "
                        "distance, e.g. " + ", ".join(
                            f"T{t + 1} (workload {load_t[t]:,.1f} h)" for t in lonely[:5]))
    tt, rr = np.nonzero(allowed)
    return _assign(p, m, tt, rr, cost[tt, rr], cand)


def _max_arc_cost(n_nodes: int) -> int:
    """Largest arc cost given to the min-cost flow: OR-Tools refuses (``BAD_COST_RANGE``)
    costs above about 2^63 / (2 × nodes + 6), measured with OR-Tools 9.15 (it scales them by
    the node count); this keeps 4 × below that."""
    return 2**62 // (4 * max(n_nodes, 1))


def _lexicographic_cost(disruption: IntArray, rank: IntArray, n_nodes: int) -> IntArray:
    """Arc costs ``disruption × scale + tie-break`` that order assignments by total disruption
    first, then by the sum of the (p, m) ``rank`` s, and fit the min-cost flow's cost range.

    The disruption stays exact whenever it fits on its own (territories below ~10^14 cents
    with a few thousand reps); to fit, the tie-break is coarsened first — ``rank`` is bucketed
    into ``levels`` monotone levels, with ``scale > p × (levels - 1)`` so that no sum of p
    tie-breaks outweighs one cent of disruption — and only past that is the disruption divided
    (ceiling divisor, re-checked).
    """
    p, m = rank.shape
    cap = _max_arc_cost(n_nodes)
    d = np.asarray(disruption, dtype=np.int64)
    top = int(np.abs(d).max(initial=0))
    if top > cap:  # absurd potentials: coarser disruption units, the least divisor that fits
        d = d // (-(-top // cap))
        top = int(np.abs(d).max(initial=0))
    # largest level count with top × (p (levels - 1) + 1) + levels - 1 <= cap
    levels = max(1, min(p * m, 1 + (cap - top) // (top * p + 1)))
    scale = p * (levels - 1) + 1
    tie = rank * levels // max(p * m, 1)  # 0 .. levels - 1, monotone in rank
    cost = d * scale + tie
    assert int(np.abs(cost).max(initial=0)) <= cap, "lexicographic arc cost out of range"
    return cost


def _assign(p: int, m: int, tt: IntArray, rr: IntArray, cost: IntArray, cand: IntArray
            ) -> IntArray:
    """Min-cost assignment of every territory to a distinct candidate over the allowed arcs."""
    from ortools.graph.python import min_cost_flow

    smcf = min_cost_flow.SimpleMinCostFlow()
    src, sink = 0, 1 + p + m
    t_nodes = 1 + np.arange(p, dtype=np.int64)
    r_nodes = 1 + p + np.arange(m, dtype=np.int64)
    tails = np.concatenate([np.zeros(p, dtype=np.int64), 1 + tt, r_nodes])
    heads = np.concatenate([t_nodes, 1 + p + rr, np.full(m, sink, dtype=np.int64)])
    caps = np.ones(tails.size, dtype=np.int64)
    costs = np.concatenate([np.zeros(p, dtype=np.int64), cost.astype(np.int64),
                            np.zeros(m, dtype=np.int64)])
    arcs = smcf.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    supplies = np.zeros(sink + 1, dtype=np.int64)
    supplies[src], supplies[sink] = p, -p
    smcf.set_nodes_supplies(np.arange(sink + 1, dtype=np.int64), supplies)
    status = smcf.solve()
    if status != smcf.OPTIMAL:
        raise SpecError(f"no assignment of the {p} territories to {m} active rep(s) respects the "
                        "reps' capacities and the maximum distance (min-cost flow status "
                        f"{status})")
    flows = smcf.flows(arcs[p:p + tt.size])
    out = np.full(p, -1, dtype=np.int64)
    used = flows > 0
    out[tt[used]] = cand[rr[used]]
    return out


def _centres_carve(scenario: Scenario, centres: npt.NDArray[np.int32]
                   ) -> tuple[FloatArray, FloatArray]:
    spec = scenario.spec
    assert spec.carve is not None
    if spec.carve.candidate_sites == "accounts":
        book = scenario.accounts
        return book.x[centres].astype(np.float64), book.y[centres].astype(np.float64)
    homes = [r.home for r in scenario.reps if r.home is not None]  # CarveProblem's site order
    return (np.asarray([homes[int(j)].x for j in centres], dtype=np.float64),
            np.asarray([homes[int(j)].y for j in centres], dtype=np.float64))


def _centroids(scenario: Scenario, terr: IntArray, p: int) -> tuple[FloatArray, FloatArray]:
    book = scenario.accounts
    ok = ~np.isnan(book.x) & ~np.isnan(book.y)
    cnt = np.bincount(terr[ok], minlength=p).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (np.bincount(terr[ok], weights=book.x[ok], minlength=p) / cnt,
                np.bincount(terr[ok], weights=book.y[ok], minlength=p) / cnt)


def solve_territories(
    scenario: Scenario,
    *,
    backend: str = "auto",
    seed: int = 0,
    options: SolveOptions | None = None,
    stop: StopCriterion | None = None,
    cancel: CancelToken | None = None,
    callbacks: Sequence[ProgressCallback] = (),
) -> TerritorySolution:
    """Solve a ``carve`` or ``geo_unit`` scenario and map its territories onto the roster.

    Parameters
    ----------
    scenario : Scenario
        Spec mode ``carve`` or ``geo_unit``.
    backend : {"auto", "milp", "cpsat"} or (carve) ``"heuristic"``
    seed : int
    options : SolveOptions
        Time limit, gap, threads and the model's ``extra`` knobs (see ``solve_carve`` and
        ``solve_districting``).
    stop, cancel, callbacks
        As for :func:`terraplan.solvers.solve`; a cancelled search keeps its incumbent.

    Returns
    -------
    TerritorySolution

    Raises
    ------
    ParameterError
        Not a territory mode, an unknown backend or a bad seed.
    SpecError
        More territories than active reps (both numbers named), or no territory → rep
        assignment respects rep capacity and maximum distance.
    UnsupportedRuleError
        A rule the territory models cannot encode (see the module docstring).
    """
    spec = scenario.spec
    if spec.mode not in TERRITORY_MODES:
        raise ParameterError("solve_territories needs a scenario with mode 'carve' or "
                             f"'geo_unit'. Got {spec.mode.value!r}; use terraplan.solvers.solve.")
    allowed = backends_for(spec.mode)
    if backend not in allowed:
        raise ParameterError(f"The 'backend' parameter of solve_territories must be one of "
                             f"{allowed} for a {spec.mode.value} scenario. Got {backend!r}.")
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
        raise ParameterError(f"The 'seed' parameter of solve_territories must be an int >= 0. "
                             f"Got {seed!r}.")
    opts = options or SolveOptions()
    active = _active(scenario)
    p = territory_count(scenario)
    if p > active.size:
        raise SpecError(f"{p} territories but only {active.size} active rep(s): every "
                        f"territory needs its own rep; lower {spec.mode.value}.territories to "
                        f"at most {active.size}")
    _refuse_unencodable(scenario, active)
    t0 = time.perf_counter()
    book = scenario.accounts
    adjacency_note = ""
    if spec.mode is Mode.CARVE:
        from terraplan.solvers.carve import CarveProblem, solve_carve

        cp = CarveProblem.from_scenario(scenario)
        name = default_backend(spec.mode, cp.n) if backend == "auto" else backend
        result = solve_carve(cp, backend=name, seed=int(seed), options=opts, stop=stop,
                             cancel=cancel, callbacks=tuple(callbacks))
        terr = None
        if result.assignment is not None and result.centres is not None:
            terr = np.empty(len(book), dtype=np.int64)
            sizes = np.fromiter((r.size for r in cp.members), dtype=np.int64,
                                count=len(cp.members))
            terr[np.concatenate(cp.members)] = np.repeat(
                np.asarray(result.assignment, dtype=np.int64), sizes)
            cx, cy = _centres_carve(scenario, result.centres)
    else:
        from terraplan.solvers.geounit import DistrictingProblem, solve_districting

        gs = scenario
        if spec.geo_unit is None or spec.geo_unit.territories is None:
            # one district per *active* rep (the problem's own default counts every rep)
            gu = GeoUnitSpec(unit_column=spec.geo_unit.unit_column if spec.geo_unit
                             else "postal_code", territories=p)
            gs = dataclasses.replace(scenario, spec=spec.model_copy(update={"geo_unit": gu}))
        dp = DistrictingProblem.from_scenario(gs)
        adjacency_note = adjacency_source(scenario)
        name = default_backend(spec.mode) if backend == "auto" else backend
        result = solve_districting(dp, backend=name, seed=int(seed), options=opts, stop=stop,
                                   cancel=cancel, callbacks=tuple(callbacks))
        terr = None
        if result.assignment is not None and dp.account_unit is not None:
            terr = np.asarray(result.assignment, dtype=np.int64)[dp.account_unit]
            cx, cy = _centroids(scenario, terr, p)
    label = f"{spec.mode.value}-{name}"
    result = dataclasses.replace(result, backend=label)
    keep = result.status.has_plan or result.status is Status.CANCELLED
    if terr is None or not keep:
        return TerritorySolution(result=dataclasses.replace(result, assignment=None,
                                                            centres=None), plan=None)
    t_rep = map_territories(scenario, terr, cx, cy, active)
    owner = t_rep[terr].astype(np.int32)
    from terraplan.evaluate import explain_moves  # the evaluator's attribution, as in solve()

    ids = scenario.reps.ids
    plan0 = Plan.from_indices(book, scenario.reps, owner)
    reasons = np.asarray(explain_moves(scenario, None, plan0), dtype=np.int8)
    plan = Plan.from_indices(book, scenario.reps, owner, reasons=reasons, provenance=Provenance(
        scenario=spec.name, solver=label, seed=int(seed), note=spec.name))
    territory_rep = tuple(ids[int(r)] for r in t_rep)
    given = set(t_rep.tolist())
    idle = tuple(ids[int(r)] for r in active if int(r) not in given)
    msg = "territory → rep: " + ", ".join(f"T{t + 1}→{r}" for t, r in enumerate(territory_rep))
    if idle:
        msg += f"; active rep(s) without a territory (own nothing): {', '.join(idle)}"
    if adjacency_note:
        msg += "; " + adjacency_note
    stats = dict(result.stats)
    stats.update(territories=p, territory_rep=list(territory_rep), idle_reps=list(idle),
                 mapping_seconds=time.perf_counter() - t0 - result.runtime)
    result = dataclasses.replace(result, assignment=owner, reasons=reasons, stats=stats,
                                 message=(result.message + "; " if result.message else "") + msg)
    return TerritorySolution(result=result, plan=plan, territory_rep=territory_rep,
                             idle_reps=idle)

