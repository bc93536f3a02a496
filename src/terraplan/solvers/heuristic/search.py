"""Local search: repair (drive the hard-rule violation to 0) then improve (lower the cost).

Every round generates its candidates with vectorised numpy over the pair arrays — which pairs
touch a violated rep, which pairs are cheaper than the item's current one — sorts them by their
linear cost delta, and then walks them in a bounded Python loop that scores each with the
incremental :class:`~terraplan.solvers.heuristic.state.SearchState` (rep-level work only) and
applies it when it improves ``(violation, cost)`` lexicographically. Neighbourhoods:

* **move** — one item to another candidate rep;
* **swap** — item ``t`` r→s together with an item ``u`` s→r (balance-neutral exchanges that a
  tight band blocks as single moves); partners come from a bucket of reverse pairs sorted by
  their own cost delta;
* **ejection chain** — ``t`` r→s, then the best item ``u`` s→x out of the rep it overloaded
  (depth 2 beyond the swap), tried for moves that a band blocks on the receiving side.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from terraplan.solvers.heuristic.state import V_EPS, SearchState

log = logging.getLogger(__name__)

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

#: Cost improvements smaller than this (relative to |cost|) are ignored (float noise).
C_EPS = 1e-12


def _better(dv: float, dc: float, scale: float) -> bool:
    if dv < -V_EPS:
        return True
    return dv <= V_EPS and dc < -C_EPS * max(scale, 1.0)


def _rank(dv: float, dc: float) -> tuple[int, float]:
    """Order of improving moves: violation-reducing ones by cost per unit of violation removed,
    then pure cost improvements by Δcost."""
    if dv < -V_EPS:
        return (0, dc / -dv)
    return (1, dc)


class Search:
    """Drives a :class:`SearchState` with bounded rounds; ``should_stop()`` is polled often."""

    def __init__(self, state: SearchState, rng: np.random.Generator,
                 should_stop: Callable[[], bool], swap_partners: int = 8,
                 time_left: Callable[[], float] | None = None,
                 first_round: float = 0.0) -> None:
        self.s = state
        self.p = state.p
        self.rng = rng
        self.should_stop = should_stop
        self.time_left = time_left
        # seconds the last round took (before any: ``first_round``, an estimate), so that a
        # round the time left cannot hold is not started
        self.last_round = first_round
        self.L = swap_partners
        self.evaluations = 0
        self.applied = 0
        #: moves per round handed to the swap / ejection-chain neighbourhood
        self.max_blocked = 3000

    # -- candidate generation (vectorised) -----------------------------------------------------
    def _pair_delta(self, idx: I64 | None = None) -> npt.NDArray[np.float64]:
        """Δcost of moving each pair's item onto that pair (of every pair, or of ``idx``)."""
        p = self.p
        sel = slice(None) if idx is None else idx
        return p.pair_cost[sel] - p.pair_cost[self.s.pair[p.pair_item[sel]]]

    def _off_pairs(self) -> npt.NDArray[np.bool_]:
        """Pairs that would move their item (rep differs from the item's current rep)."""
        p = self.p
        return p.indices != self.s.a[p.pair_item]

    def move_candidates(self, repair: bool) -> I64:
        p, s = self.p, self.s
        off = self._off_pairs()
        if repair:
            bad = s.rep_v > V_EPS
            cand = off & (bad[s.a[p.pair_item]] | bad[p.indices])
            if s.global_violation(s.moved, s.moved_pot, s._lost_excess(s.lost)) > V_EPS:
                cur = s.pair[p.pair_item]
                cand |= off & (p.pair_moved < p.pair_moved[cur])
        else:
            cand = off & (self._pair_delta() < 0)
            if s.has_soft:
                soft = s.rep_soft > 0
                cand |= off & (soft[s.a[p.pair_item]] | soft[p.indices])
        return np.flatnonzero(cand).astype(np.int64)

    # -- vectorised scoring of single moves against the current state -------------------------
    def _v_vec(self, reps: I64, cols: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Violation of each rep ``reps[i]`` if its totals were ``cols[i]`` (n × Q)."""
        s = self.s
        v = np.zeros(len(reps))
        if len(s.h_q):
            T = cols[:, s.h_q]
            lo = s.h_lo[:, reps].T
            hi = s.h_hi[:, reps].T
            sc = s.h_sc[:, reps].T
            v += ((np.maximum(lo - T, 0.0) + np.maximum(T - hi, 0.0)) / sc).sum(axis=1)
        v += np.maximum(cols[:, 0] - s.cap[reps], 0.0) / s.cap_sc[reps]
        return v

    def _soft_vec(self, reps: I64, cols: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        s = self.s
        if not s.has_soft:
            return np.zeros(len(reps))
        t = s.s_t[:, reps].T
        T = cols[:, s.s_q]
        pos = t > 0
        dev = np.where(pos, np.abs(T - t) / np.where(pos, t, 1.0), 0.0) - s.s_tol[None, :]
        return (s.s_w[None, :] * np.where(pos, np.maximum(dev, 0.0), 0.0)).sum(axis=1)

    def score_moves(self, idx: I64) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64],
                                             npt.NDArray[np.float64]]:
        """(Δviolation without budgets, Δcost, source-side Δviolation) of moving each pair's
        item to the pair's rep, all against the current state."""
        p, s = self.p, self.s
        t = p.pair_item[idx]
        r = s.a[t]
        to = p.indices[idx].astype(np.int64)
        tot = np.asarray(s.tot_l)
        M = s.metric_T[t]
        cr = tot[r] - M
        cs = tot[to] + M
        rv = np.asarray(s.rep_v_l)
        src = self._v_vec(r, cr) - rv[r]
        dv = src + self._v_vec(to, cs) - rv[to]
        dc = p.pair_cost[idx] - p.pair_cost[s.pair[t]]
        if s.has_soft:
            rs = np.asarray(s.rep_soft_l)
            dc = dc + self._soft_vec(r, cr) + self._soft_vec(to, cs) - rs[r] - rs[to]
        return dv, dc, src

    # -- rounds --------------------------------------------------------------------------------
    def move_round(self, repair: bool) -> tuple[int, list[int]]:
        """One pass of single moves; returns (applied, blocked promising pairs for swaps)."""
        p, s = self.p, self.s
        cand = self.move_candidates(repair)
        blocked_arr: I64 = np.zeros(0, dtype=np.int64)
        if len(cand) and not self.should_stop():
            dv, dc, src = self.score_moves(cand)
            jitter = self.rng.random(len(cand)) * 1e-12
            if repair:
                good = dv < -V_EPS
                if s.has_budget:
                    good |= dv <= V_EPS  # budget moves are judged by the scalar check
                key = np.where(dv < -V_EPS, dc / np.maximum(-dv, 1e-12), np.inf) + jitter
                blk = (~good) & (src < -V_EPS)
                bkey = src
            else:
                good = (dv <= V_EPS) & (dc < 0)
                key = dc + jitter
                blk = (dv > V_EPS) & (dc < 0)
                bkey = dc
            order = np.argsort(key[good], kind="stable")
            todo = cand[good][order]
            b = cand[blk]
            blocked_arr = b[np.argsort(bkey[blk], kind="stable")][:self.max_blocked]
        else:
            todo = cand
        applied = 0
        for n, pn in enumerate(todo.tolist()):
            if n % 256 == 0 and self.should_stop():
                break
            t = int(p.pair_item[pn])
            if s.a[t] == p.indices[pn]:
                continue
            dv1, dc1 = s.delta_move(t, pn)
            self.evaluations += 1
            if _better(dv1, dc1, s.cost):
                s.apply_move(t, pn)
                applied += 1
        self.applied += applied
        return applied, blocked_arr.tolist()

    def _reverse_buckets(self, below: F64 | None = None) -> tuple[I64, I64]:
        """Moving pairs sorted by (from rep, to rep, Δcost): (sorted pairs, their keys
        ``from · n_reps + to``); with ``below`` (per rep), only the pairs whose Δcost is below
        their from rep's entry."""
        p, s = self.p, self.s
        off = np.flatnonzero(self._off_pairs())
        delta = self._pair_delta()[off]
        frm = s.a[p.pair_item[off]]
        if below is not None:
            keep = delta < below[frm]
            off, delta, frm = off[keep], delta[keep], frm[keep]
        key = frm * p.n_reps + p.indices[off].astype(np.int64)
        order = np.lexsort((delta, key))
        return off[order], key[order]

    def _partner_bound(self, blocked: list[int], repair: bool) -> F64 | None:
        """Per rep, the Δcost a swap partner or chain link leaving it must stay below to be of
        use. When the plan keeps every rule and no soft term is scored, a swap or chain
        improves only by lowering the linear cost: a blocked move of ``t`` to rep ``s`` is
        completed by an item ``u`` leaving ``s`` with Δc(u) < −Δc(t), so rep ``s``'s entry is
        the largest −Δc(t) of the moves blocked into it (−inf: no partner leaving it is
        tried). ``None`` (every moving pair) while repairing or with soft terms, where a
        partner may trade cost for violation or soft deviation."""
        if repair or self.s.has_soft or not blocked:
            return None
        p = self.p
        b = np.asarray(blocked, dtype=np.int64)
        dc = self._pair_delta(b)
        out = np.full(p.n_reps, -np.inf)
        np.maximum.at(out, p.indices[b].astype(np.int64), -dc)
        return out

    def swap_round(self, blocked: list[int], repair: bool) -> int:
        """Try swaps (and depth-2 ejection chains) for moves that were improving but blocked.
        Partners are drawn from the moving pairs cheap enough to make an improvement
        (:meth:`_partner_bound`): sorting every moving pair of a 100k-account book took 2.4 s
        on a slow 2-core machine, which the last round of a solve spent past its deadline
        with no swap found."""
        if not blocked or self.should_stop():
            return 0
        p, s = self.p, self.s
        pairs_sorted, keys_sorted = self._reverse_buckets(self._partner_bound(blocked, repair))
        m = p.n_reps
        applied = 0
        for n, pn in enumerate(blocked):
            if n % 64 == 0 and self.should_stop():
                break
            t = int(p.pair_item[pn])
            r = int(s.a[t])
            sr = int(p.indices[pn])
            if r == sr:
                continue
            best: tuple[float, float, int, int] | None = None
            # swap partners: items on sr that could go to r
            key = sr * m + r
            lo = int(np.searchsorted(keys_sorted, key, side="left"))
            hi = min(int(np.searchsorted(keys_sorted, key, side="right")), lo + self.L)
            for q in pairs_sorted[lo:hi].tolist():
                u = int(p.pair_item[q])
                if u == t or s.a[u] != sr or p.indices[q] != r:
                    continue
                dv, dc = s.delta_swap(t, pn, u, q)
                self.evaluations += 1
                if _better(dv, dc, s.cost) and (best is None or _rank(dv, dc) < _rank(*best[:2])):
                    best = (dv, dc, u, q)
            if best is not None:
                s.apply_swap(t, pn, best[2], best[3])
                applied += 1
                continue
            # ejection chain: t r->sr, then some u sr->x (x != r) relieves sr
            lo = int(np.searchsorted(keys_sorted, sr * m, side="left"))
            hi = min(int(np.searchsorted(keys_sorted, (sr + 1) * m, side="left")), lo + 4 * self.L)
            dv1, dc1 = s.delta_move(t, pn)
            back = int(s.pair[t])
            s.apply_move(t, pn)
            chain: tuple[float, float, int] | None = None
            for q in pairs_sorted[lo:hi].tolist():
                u = int(p.pair_item[q])
                x = int(p.indices[q])
                if u == t or x == r or s.a[u] != sr:
                    continue
                dv2, dc2 = s.delta_move(u, q)
                self.evaluations += 1
                dv12, dc12 = dv1 + dv2, dc1 + dc2
                if _better(dv12, dc12, s.cost) and (
                        chain is None or _rank(dv12, dc12) < _rank(*chain[:2])):
                    chain = (dv12, dc12, q)
            if chain is not None:
                s.apply_move(int(p.pair_item[chain[2]]), chain[2])
                applied += 1
            else:
                s.apply_move(t, back)  # undo t's move
        self.applied += applied
        return applied

    def kick(self, strength: int = 4) -> int:
        """Perturbation for iterated local search: on each rep that still breaks a rule (or, when
        none does, on a few random reps), move up to ``strength`` random items to a random other
        candidate. Returns the number of items moved."""
        p, s = self.p, self.s
        bad = np.flatnonzero(s.rep_v > V_EPS)
        if not len(bad):
            bad = self.rng.choice(p.n_reps, size=min(3, p.n_reps), replace=False)
        moved = 0
        for r in bad.tolist():
            on_r = np.flatnonzero(s.a == r)
            if not len(on_r):
                continue
            pick = self.rng.choice(on_r, size=min(strength, len(on_r)), replace=False)
            for t in pick.tolist():
                lo, hi = int(p.indptr[t]), int(p.indptr[t + 1])
                if hi - lo < 2:
                    continue
                pn = int(self.rng.integers(lo, hi))
                if p.indices[pn] != r:
                    s.apply_move(t, pn)
                    moved += 1
        return moved

    def run(self, max_rounds: int = 1000, on_round: Callable[[], bool] | None = None) -> None:
        """Repair until feasible (or stuck), then improve until a local optimum (or stopped).

        ``on_round`` is called after every round; returning True stops.
        """
        s = self.s
        stuck = 0
        for rnd in range(max_rounds):
            if self.should_stop():
                return
            # a round over a 100k-account book takes seconds between polls: do not start one
            # that the time left cannot hold
            if self.time_left is not None and self.time_left() < 0.8 * self.last_round:
                return
            t_round = time.perf_counter()
            repair = s.violation > V_EPS
            moved, blocked = self.move_round(repair)
            t_swap = time.perf_counter()
            swapped = self.swap_round(blocked, repair)
            if rnd % 20 == 19:
                s.resync()
            self.last_round = time.perf_counter() - t_round
            if log.isEnabledFor(logging.DEBUG):
                log.debug("search round %d: %d moves in %.2f s, %d swaps/chains of %d blocked "
                          "in %.2f s%s", rnd, moved, t_swap - t_round, swapped, len(blocked),
                          time.perf_counter() - t_swap,
                          "" if self.time_left is None else f", {self.time_left():.2f} s left")
            if on_round is not None and on_round():
                return
            if moved + swapped == 0:
                stuck += 1
                if stuck >= 2:
                    return
            else:
                stuck = 0
