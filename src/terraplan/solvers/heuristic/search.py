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

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from terraplan.solvers.heuristic.state import V_EPS, SearchState

I64 = npt.NDArray[np.int64]

#: Cost improvements smaller than this (relative to |cost|) are ignored (float noise).
C_EPS = 1e-12


def _better(dv: float, dc: float, scale: float) -> bool:
    if dv < -V_EPS:
        return True
    return dv <= V_EPS and dc < -C_EPS * max(scale, 1.0)


class Search:
    """Drives a :class:`SearchState` with bounded rounds; ``should_stop()`` is polled often."""

    def __init__(self, state: SearchState, rng: np.random.Generator,
                 should_stop: Callable[[], bool], swap_partners: int = 8) -> None:
        self.s = state
        self.p = state.p
        self.rng = rng
        self.should_stop = should_stop
        self.L = swap_partners
        self.evaluations = 0
        self.applied = 0

    # -- candidate generation (vectorised) -----------------------------------------------------
    def _pair_delta(self) -> npt.NDArray[np.float64]:
        p = self.p
        return p.pair_cost - p.pair_cost[self.s.pair[p.pair_item]]

    def _off_pairs(self) -> npt.NDArray[np.bool_]:
        """Pairs that would move their item (rep differs from the item's current rep)."""
        p = self.p
        return p.indices != self.s.a[p.pair_item]

    def move_candidates(self, repair: bool) -> I64:
        p, s = self.p, self.s
        off = self._off_pairs()
        delta = self._pair_delta()
        if repair:
            bad = s.rep_v > V_EPS
            cand = off & (bad[s.a[p.pair_item]] | bad[p.indices])
            if s.global_violation(s.moved, s.moved_pot, s._lost_excess(s.lost)) > V_EPS:
                cur = s.pair[p.pair_item]
                cand |= off & (p.pair_moved < p.pair_moved[cur])
        else:
            cand = off & (delta < 0)
            if s.has_soft:
                soft = s.rep_soft > 0
                cand |= off & (soft[s.a[p.pair_item]] | soft[p.indices])
        idx = np.flatnonzero(cand)
        # cheapest first; a seeded jitter breaks ties so different seeds explore differently
        key = delta[idx] + self.rng.random(len(idx)) * 1e-9
        return idx[np.argsort(key, kind="stable")].astype(np.int64)

    # -- rounds --------------------------------------------------------------------------------
    def move_round(self, repair: bool) -> tuple[int, list[int]]:
        """One pass of single moves; returns (applied, blocked improving pairs)."""
        p, s = self.p, self.s
        applied = 0
        blocked: list[int] = []
        cand = self.move_candidates(repair)
        for n, pn in enumerate(cand.tolist()):
            if n % 256 == 0 and self.should_stop():
                break
            t = int(p.pair_item[pn])
            if s.a[t] == p.indices[pn]:
                continue
            dv, dc = s.delta_move(t, pn)
            self.evaluations += 1
            if _better(dv, dc, s.cost):
                s.apply_move(t, pn)
                applied += 1
            elif dc < 0 or dv < 0 or (repair and len(blocked) < 20_000):
                blocked.append(pn)
        self.applied += applied
        return applied, blocked

    def _reverse_buckets(self) -> tuple[I64, I64, I64]:
        """All moving pairs sorted by (from rep, to rep, Δcost): (sorted pairs, keys, order)."""
        p, s = self.p, self.s
        off = np.flatnonzero(self._off_pairs())
        frm = s.a[p.pair_item[off]]
        to = p.indices[off].astype(np.int64)
        key = frm * p.n_reps + to
        delta = self._pair_delta()[off]
        order = np.lexsort((delta, key))
        return off[order], key[order], order

    def swap_round(self, blocked: list[int], repair: bool) -> int:
        """Try swaps (and depth-2 ejection chains) for moves that were improving but blocked."""
        if not blocked:
            return 0
        p, s = self.p, self.s
        pairs_sorted, keys_sorted, _ = self._reverse_buckets()
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
                if _better(dv, dc, s.cost) and (best is None or (dv, dc) < best[:2]):
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
            done = False
            for q in pairs_sorted[lo:hi].tolist():
                u = int(p.pair_item[q])
                x = int(p.indices[q])
                if u == t or x == r or s.a[u] != sr:
                    continue
                dv2, dc2 = s.delta_move(u, q)
                self.evaluations += 1
                if _better(dv1 + dv2, dc1 + dc2, s.cost):
                    s.apply_move(u, q)
                    applied += 1
                    done = True
                    break
            if not done:
                s.apply_move(t, back)  # undo t's move
        self.applied += applied
        return applied

    def run(self, max_rounds: int = 1000, on_round: Callable[[], bool] | None = None) -> None:
        """Repair until feasible (or stuck), then improve until a local optimum (or stopped).

        ``on_round`` is called after every round; returning True stops.
        """
        s = self.s
        stuck = 0
        for rnd in range(max_rounds):
            if self.should_stop():
                return
            repair = s.violation > V_EPS
            moved, blocked = self.move_round(repair)
            swapped = self.swap_round(blocked, repair)
            if rnd % 20 == 19:
                s.resync()
            if on_round is not None and on_round():
                return
            if moved + swapped == 0:
                stuck += 1
                if stuck >= 2:
                    return
            else:
                stuck = 0
