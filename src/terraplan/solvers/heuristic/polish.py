"""Pool MIP polish: small pools are re-solved exactly (HiGHS MIP) inside the heuristic.

Lumpy pools — a few reps sharing a few dozen enterprise accounts with heavy-tailed potential —
are where single moves and swaps get stuck against two ±3 % bands at once. Such pools are small,
so the heuristic hands each one whose violation is still positive (or, time permitting, every
pool up to ``max_pairs`` candidate pairs) to HiGHS as a MIP over the pool's pairs only (the LP of
:mod:`terraplan.solvers.bounds` with integral ``x``), hinted with the current assignment. The
MIP's answer is applied move by move through the search state and kept only when it improves
(violation, cost) lexicographically, so global continuity budgets — which a pool MIP cannot see
— are still honoured.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from terraplan.problem import ProblemData, hard_violations
from terraplan.solvers.base import CancelToken
from terraplan.solvers.bounds import _highs, _lp_arrays
from terraplan.solvers.heuristic.state import V_EPS, SearchState

I64 = npt.NDArray[np.int64]

#: HiGHS ``mip_heuristic_effort`` of the pool MIPs (see :func:`pool_mip`).
MIP_HEURISTIC_EFFORT = 0.3

#: How far inside each band/capacity row (relative to the target) a pool MIP's plan must lie:
#: twice HiGHS' ``mip_feasibility_tolerance``
MIP_ROW_MARGIN = 2e-6

#: Relative gap (of the cluster's own cost) at which a cluster repair MIP
#: (:func:`solve_cluster_mip`) stops, as the rounding MIPs do. Its job is to put a few reps back
#: inside their bands; proving the cluster's optimum to HiGHS' default 1e-6 takes the whole time
#: share. 100k × 500, three reps pushed over a band in a plan (`/tmp` script): a 3-rep cluster
#: of pool 2 closed in 0.13 s at 5e-3, 1.06 s at 1e-3, and used all of 10 s at 1e-6; a 6-rep
#: cluster of pool 0 in 5.4 s, 5.1 s and 10 s.
CLUSTER_GAP = 5e-3


def rank_within(groups: npt.NDArray[np.integer], keys: tuple[npt.NDArray, ...]
                ) -> tuple[I64, I64]:
    """Order of the rows sorted by ``groups`` then ``keys`` and each row's rank in its group
    (row ``order[j]`` is the ``rank[j]``-th of its group)."""
    order = np.lexsort((*keys[::-1], groups))
    g = groups[order]
    rank = np.arange(len(order)) - np.searchsorted(g, g, side="left")
    return order.astype(np.int64), rank.astype(np.int64)


def pool_pairs(p: ProblemData) -> list[I64]:
    """Pair indices of each pool (pools with at least one pair)."""
    pool = p.item_pool[p.pair_item]
    order = np.argsort(pool, kind="stable")
    cuts = np.searchsorted(pool[order], np.arange(p.n_pools + 1))
    return [order[cuts[i]:cuts[i + 1]].astype(np.int64) for i in range(p.n_pools)
            if cuts[i + 1] > cuts[i]]


def pool_mip(p: ProblemData, pairs: I64, items: I64, reps: I64, hint_rep: I64,
             time_limit: float, *, seed: int = 0, gap: float = 1e-6,
             cancel: CancelToken | None = None, with_budgets: bool = False,
             max_nodes: int | None = None,
             heuristic_effort: float | None = None) -> tuple[I64 | None, str]:
    """MIP over ``pairs`` (closed under ``items``; band rows for every rep in ``reps``; the
    global continuity budgets too with ``with_budgets``), hinted with ``hint_rep`` per item:
    the chosen pair indices (``None`` without a feasible plan) and HiGHS' model status
    (``"Optimal"``: the gap was closed; ``"Time limit reached"``, …). ``max_nodes`` ends the
    search on a node budget as well as the clock (same plan on a busy machine)."""
    import highspy

    from terraplan.solvers._exact import CancelWatcher

    lp = _lp_arrays(p, pairs, items, reps, with_budgets)
    # HiGHS accepts a MIP solution up to its feasibility tolerance (1e-6) outside a row; the
    # band and capacity rows are relative to the target (bounds ~1), so a plan could end
    # 1e-6 × target outside a band, which the float re-check refuses (seen: workload 2291.3
    # against 2291.3017). Those rows are narrowed by twice that, relative to each bound (a
    # zero bound stays; the budget rows, integer counts, are not touched).
    lo, hi = lp.row_lo.copy(), lp.row_hi.copy()
    rows = lp.elastic_rows
    lo[rows] += MIP_ROW_MARGIN * np.abs(np.nan_to_num(lo[rows], neginf=0.0))
    hi[rows] -= MIP_ROW_MARGIN * np.abs(np.nan_to_num(hi[rows], posinf=0.0))
    h = _highs(dataclasses.replace(lp, row_lo=lo, row_hi=hi))
    n_x = len(pairs)
    h.changeColsIntegrality(n_x, np.arange(n_x, dtype=np.int32),
                            np.full(n_x, highspy.HighsVarType.kInteger.value, dtype=np.uint8))
    h.setOptionValue("time_limit", max(float(time_limit), 0.02))
    # HiGHS fixes its thread pool at the first solve of the process; a different "threads"
    # later makes run() fail ("Not Set"), so the pool is left at its process-wide default.
    h.setOptionValue("random_seed", int(seed) % 2_147_483_647)
    h.setOptionValue("mip_rel_gap", float(gap))
    # more primal heuristics (RINS/RENS) than the 0.05 default: a time-limited pool MIP's
    # first incumbent can be 2.6x the LP cost on a lumpy pool; at 0.3 the rounding of a 10k
    # book lands 0.33-0.45 % over the LP on seeds 0-5 instead of 0.4-22 %
    h.setOptionValue("mip_heuristic_effort", MIP_HEURISTIC_EFFORT if heuristic_effort is None
                     else float(heuristic_effort))
    if max_nodes is not None:
        h.setOptionValue("mip_max_nodes", int(max_nodes))
    # the hint: HiGHS completes the deviation columns itself
    hint = (hint_rep[p.pair_item[pairs]] == p.indices[pairs]).astype(np.float64)
    with contextlib.suppress(AttributeError, TypeError):  # highspy without sparse setSolution
        h.setSolution(n_x, np.arange(n_x, dtype=np.int32), hint)
    with CancelWatcher(cancel, h.cancelSolve):
        h.run()
    status = h.modelStatusToString(h.getModelStatus())
    if h.getInfo().primal_solution_status != 2:  # no feasible MIP solution
        return None, status
    x = np.asarray(h.getSolution().col_value, dtype=np.float64)[:n_x]
    return pairs[x > 0.5], status


def solve_pool_mip(state: SearchState, pairs: I64, time_limit: float, threads: int = 1,
                   seed: int = 0) -> bool:
    """Re-solve one pool as a MIP and apply the result when better; returns True if applied."""
    p = state.p
    items = np.unique(p.pair_item[pairs]).astype(np.int64)
    reps = np.unique(p.indices[pairs]).astype(np.int64)
    chosen, _ = pool_mip(p, pairs, items, reps, state.a, time_limit, seed=seed)
    return _apply_if_better(state, chosen)


def _item_pairs(p: ProblemData, items: I64) -> I64:
    """Every candidate pair of ``items`` (CSR rows concatenated, vectorised)."""
    lo, hi = p.indptr[items], p.indptr[items + 1]
    n = hi - lo
    if not len(items) or not n.sum():
        return np.zeros(0, np.int64)
    offs = np.repeat(lo - np.concatenate([[0], np.cumsum(n)[:-1]]), n)
    return (np.arange(int(n.sum()), dtype=np.int64) + offs).astype(np.int64)


def neighbour_reps(state: SearchState, r: int, size: int) -> I64:
    """``r`` and the ``size − 1`` reps its book could most cheaply trade with: reps among the
    two cheapest alternatives (by pair cost) of the items on ``r``, and reps holding items
    for which ``r`` is cheaper than their own rep, counted item by item."""
    p = state.p
    near = np.zeros(p.n_reps)
    idx = _item_pairs(p, np.flatnonzero(state.a == r))
    idx = idx[p.indices[idx] != r]
    if len(idx):
        o, rank = rank_within(p.pair_item[idx], (p.pair_cost[idx],))
        top = idx[o][rank < 2]
        np.add.at(near, p.indices[top].astype(np.int64), 1.0)
    into = np.flatnonzero(p.indices == r)
    into = into[p.pair_cost[into] < p.pair_cost[state.pair[p.pair_item[into]]]]
    np.add.at(near, state.a[p.pair_item[into]], 1.0)
    near[r] = -1.0
    order = np.argsort(-near, kind="stable")[:size - 1]
    return np.sort(np.concatenate([[r], order[near[order] > 0]])).astype(np.int64)


def solve_cluster_mip(state: SearchState, reps: I64, time_limit: float, seed: int = 0,
                      cancel: CancelToken | None = None, gap: float = CLUSTER_GAP) -> bool:
    """Re-solve the books of ``reps`` together — every item on them free over those reps, the
    reps' bands and capacities exact — and apply the result when it lowers (violation, cost).
    Reps outside are untouched, so their totals cannot break. The MIP stops at the relative
    ``gap`` (:data:`CLUSTER_GAP`)."""
    p = state.p
    items = np.flatnonzero(np.isin(state.a, reps)).astype(np.int64)
    if not len(items):
        return False
    idx = _item_pairs(p, items)
    pairs = idx[np.isin(p.indices[idx], reps)]
    chosen, _ = pool_mip(p, pairs, items, reps, state.a, time_limit, seed=seed, gap=gap,
                         cancel=cancel)
    return _apply_if_better(state, chosen)


def _apply_if_better(state: SearchState, chosen: I64 | None) -> bool:
    """Apply a MIP's chosen pairs move by move; undo unless (violation, cost) improved."""
    p = state.p
    if chosen is None:
        return False
    changes = [(int(t), int(pn)) for t, pn in zip(p.pair_item[chosen].tolist(), chosen.tolist(),
                                                   strict=True) if state.a[t] != p.indices[pn]]
    if not changes:
        return False
    v0, c0 = state.violation, state.cost
    undo = [(t, int(state.pair[t])) for t, _ in changes]
    for t, pn in changes:
        state.apply_move(t, pn)
    v1, c1 = state.violation, state.cost
    if v1 < v0 - V_EPS or (v1 <= v0 + V_EPS and c1 < c0 - 1e-12 * max(abs(c0), 1.0)):
        return True
    for t, pn in undo:
        state.apply_move(t, pn)
    return False


def merge_columns(p: ProblemData, pairs: I64, a: I64, x: npt.NDArray[np.float64] | None,
                  per_item: int, key: npt.NDArray[np.float64] | None = None) -> I64:
    """The columns of a merge neighbourhood within ``pairs`` (one pool's): every item's
    current pair, the pairs the LP relaxation uses (``x`` over all pairs of ``p``, > 1e-6) and
    each item's ``per_item`` cheapest pairs by ``key`` (over all pairs of ``p``; default the
    pair cost, e.g. the LP's reduced costs)."""
    keep = np.zeros(p.n_pairs, dtype=bool)
    items = np.unique(p.pair_item[pairs])
    cur = p.pair_lookup(items, a[items])
    keep[cur[cur >= 0]] = True
    if x is not None:
        keep[pairs[x[pairs] > 1e-6]] = True
    if per_item > 0:
        order, rank = rank_within(p.pair_item[pairs],
                                  ((p.pair_cost if key is None else key)[pairs],))
        keep[pairs[order[rank < per_item]]] = True
    return np.flatnonzero(keep).astype(np.int64)


def cpsat_over_columns(p: ProblemData, cols: npt.NDArray[np.bool_], hint: I64,
                       time_limit: float, *, seed: int = 0, threads: int = 1,
                       deterministic: bool = False,
                       cpsat_params: Mapping[str, object] | None = None,
                       cancel: CancelToken | None = None) -> tuple[I64 | None, str]:
    """``p`` solved by CP-SAT (the CP-SAT backend's model: every rule) over the pairs where
    ``cols`` is True (each item needs one), hinted with the item assignment ``hint``: the item
    assignment found (``None`` without a plan, or with one that breaks a rule once re-checked in
    float arithmetic) and the result's status. ``deterministic``:
    interleaved workers, the same plan for a seed when the search ends by proof.
    ``cpsat_params``: raw CP-SAT parameters (the backend's ``extra["cpsat_params"]``, not in
    deterministic mode), e.g. ``{"use_lns_only": True}``: every worker runs CP-SAT's LNS from
    the hint, none searches the whole model (no proof, the whole limit is used)."""
    from terraplan.solvers.base import SolveOptions
    from terraplan.solvers.cpsat.backend import CpSatBackend
    from terraplan.solvers.decompose import restrict_pairs

    view = restrict_pairs(p, cols)
    accounts = np.where(hint[view.item_of] >= 0, hint[view.item_of], -1).astype(np.int32)
    extra: dict[str, object] = {"deterministic": deterministic}
    if cpsat_params and not deterministic:
        extra["cpsat_params"] = dict(cpsat_params)
    opts = SolveOptions(time_limit=max(float(time_limit), 0.05), threads=max(threads, 1),
                        extra=extra)
    res = CpSatBackend().solve(view, seed=seed, options=opts, stop=None, cancel=cancel,
                               callbacks=(), initial=accounts)
    if res.assignment is None:
        return None, res.status.value
    out = view.item_assignment(res.assignment).astype(np.int64)
    if hard_violations(view, out):
        # CP-SAT sums integer-scaled metrics (each item's value rounded at the metric's
        # scale), which can differ from the float sums the bands are checked on
        return None, "breaks a band in float arithmetic"
    return out, res.status.value


def cpsat_pool(p: ProblemData, pool: int, cols: I64, hint: I64, time_limit: float, *,
               seed: int = 0, threads: int = 1,
               cpsat_params: Mapping[str, object] | None = None,
               cancel: CancelToken | None = None) -> tuple[I64, I64] | None:
    """Pool ``pool`` re-solved by CP-SAT (:func:`cpsat_over_columns` on the pool's view, every
    rule of the pool) over the parent pairs ``cols`` (each item of the pool needs one), hinted
    with the item assignment ``hint``: ``(items, reps)`` of its plan, or ``None``."""
    from terraplan.solvers.decompose import pool_view

    if time_limit <= 0.05:
        return None
    sub, view = pool_view(p, pool)
    if not len(sub.items):
        return None
    local, _ = cpsat_over_columns(view, np.isin(sub.pairs, cols), hint[sub.items], time_limit,
                                  seed=seed, threads=threads, cpsat_params=cpsat_params,
                                  cancel=cancel)
    return None if local is None else (sub.items, local)


def solve_cpsat_merge(state: SearchState, pool: int, cols: I64, time_limit: float, *,
                      seed: int = 0, threads: int = 1,
                      cpsat_params: Mapping[str, object] | None = None,
                      cancel: CancelToken | None = None) -> bool:
    """Re-solve pool ``pool`` by CP-SAT over the columns ``cols`` (its items' pairs to keep,
    each item's current one among them), hinted with the current plan (:func:`cpsat_pool`);
    apply the result when it lowers (violation, cost): global rules are re-checked by the
    search state.

    Lumpy pools (a few dozen accounts per rep, each worth several percent of a rep's target)
    are where the local search stops far above the LP: a better plan needs many accounts to
    trade places at once under two ±3 % bands. HiGHS' MIP over the current plan's and the LP's
    columns returned its hint unchanged in 5 s at 100k (and in 20 s with each item's three
    cheapest pairs added); CP-SAT takes pool 9 of the 100k seed-1 book from 42 % to 9.5 % over
    its LP in 20 s over those columns (22 % with the three cheapest pairs as well).
    """
    got = cpsat_pool(state.p, pool, cols, state.a, time_limit, seed=seed, threads=threads,
                     cpsat_params=cpsat_params, cancel=cancel)
    if got is None:
        return False
    return _apply_if_better(state, state.p.pair_lookup(got[0], got[1]))
