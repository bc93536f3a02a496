"""Incremental state of the heuristic: item assignment, rep totals, violation and cost deltas.

Everything a move touches is rep-level (two reps, a handful of metric rows) or item-level (one
item's current-owner composition), so a move or swap is evaluated in O(Q + members) from cached
totals instead of recomputing the objective. Candidate *generation* is vectorised over the pair
arrays in :mod:`terraplan.solvers.heuristic.search`; this module only scores and applies.

Hard-rule violation (lexicographic first criterion, 0 = every hard rule holds)::

    V = Σ_r [ Σ_{b hard} (max(0, L_br − T_br) + max(0, T_br − U_br)) / s_br
              + max(0, W_r − cap_r) / cap_r ]
        + max(0, moved − max_moved) / max_moved + max(0, moved_pot − max_pot) / max_pot
        + Σ_s max(0, lost_s − max_per_rep) / max_per_rep

with ``s_br = max(target_br, 1)``. The cost (second criterion) is exactly
:func:`terraplan.problem.objective`: linear pair costs plus the soft-balance penalty.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from terraplan.problem import ProblemData

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

#: Violations below this (relative units) are rounding noise of float totals.
V_EPS = 1e-9


class SearchState:
    """Mutable search state over one :class:`ProblemData` (never shared between threads)."""

    def __init__(self, problem: ProblemData, item_rep: npt.ArrayLike) -> None:
        p = problem
        self.p = p
        m = p.n_reps
        self.a = np.asarray(item_rep, dtype=np.int64).copy()
        self.pair = p.pair_index(self.a)
        if np.any(self.pair < 0):
            raise ValueError("every item must sit on one of its candidate reps")
        self.metric = p.item_metric  # (Q, k)
        self.tot = np.vstack([np.bincount(self.a, weights=p.item_metric[q], minlength=m)
                              for q in range(p.item_metric.shape[0])])
        hard = [b for b in range(len(p.balance_metric)) if p.balance_hard[b]]
        soft = [b for b in range(len(p.balance_metric)) if not p.balance_hard[b]]
        self.h_q = np.asarray([int(p.balance_q[b]) for b in hard], dtype=np.int64)
        self.h_lo = np.asarray([p.lower[b] for b in hard]).reshape(len(hard), m)
        self.h_hi = np.asarray([p.upper[b] for b in hard]).reshape(len(hard), m)
        # a tiny slack so float sums that hard_violations accepts are accepted here too
        eps = 1e-9 * np.maximum(1.0, np.abs(np.asarray([p.target[b] for b in hard])
                                            .reshape(len(hard), m)))
        self.h_lo = self.h_lo - eps
        self.h_hi = self.h_hi + eps
        self.h_sc = np.maximum(np.asarray([p.target[b] for b in hard]).reshape(len(hard), m), 1.0)
        self.cap = p.rep_capacity + 1e-9
        self.cap_sc = np.where(np.isfinite(p.rep_capacity), np.maximum(p.rep_capacity, 1.0), 1.0)
        self.s_q = np.asarray([int(p.balance_q[b]) for b in soft], dtype=np.int64)
        self.s_t = np.asarray([p.target[b] for b in soft]).reshape(len(soft), m)
        self.s_tol = np.asarray([p.balance_tol[b] for b in soft], dtype=np.float64)
        self.s_w = p.w_balance * np.asarray([p.balance_penalty[b] for b in soft],
                                            dtype=np.float64)
        self.has_soft = len(soft) > 0
        # continuity
        self.max_acc = p.max_moved_accounts
        self.max_pot = p.max_moved_potential
        self.max_rep = p.max_moved_per_rep
        self.moved = int(p.pair_moved[self.pair].sum())
        self.moved_pot = int(p.pair_moved_potential[self.pair].sum())
        self.cur_item_ptr = p.cur_indptr
        if self.max_rep >= 0:
            cur_item = np.repeat(np.arange(p.n_items), np.diff(p.cur_indptr))
            lost = p.cur_rep != self.a[cur_item]
            self.lost = np.bincount(p.cur_rep[lost], weights=p.cur_count[lost],
                                    minlength=m).astype(np.int64)
        else:
            self.lost = np.zeros(m, dtype=np.int64)
        self.rep_v = self._rep_violation_all()
        self.rep_soft = self._rep_soft_all()
        self.lin = float(p.pair_cost[self.pair].sum())
        self.has_budget = self.max_acc >= 0 or self.max_pot >= 0 or self.max_rep >= 0
        self.metric_T = np.ascontiguousarray(p.item_metric.T)
        self._lists()

    # -- whole-state figures ------------------------------------------------------------------
    def _rep_violation_all(self) -> F64:
        v = np.zeros(self.p.n_reps)
        if len(self.h_q):
            T = self.tot[self.h_q]
            v += ((np.maximum(self.h_lo - T, 0.0) + np.maximum(T - self.h_hi, 0.0))
                  / self.h_sc).sum(axis=0)
        v += np.maximum(self.tot[0] - self.cap, 0.0) / self.cap_sc
        return v

    def _rep_soft_all(self) -> F64:
        out = np.zeros(self.p.n_reps)
        if self.has_soft:
            T = self.tot[self.s_q]
            t = self.s_t
            pos = t > 0
            dev = np.where(pos, np.abs(T - t) / np.where(pos, t, 1.0), 0.0) - self.s_tol[:, None]
            out = (self.s_w[:, None] * np.where(pos, np.maximum(dev, 0.0), 0.0)).sum(axis=0)
        return out

    def global_violation(self, moved: int, moved_pot: int, lost_excess: float) -> float:
        v = lost_excess
        if self.max_acc >= 0 and moved > self.max_acc:
            v += (moved - self.max_acc) / max(self.max_acc, 1)
        if self.max_pot >= 0 and moved_pot > self.max_pot:
            v += (moved_pot - self.max_pot) / max(self.max_pot, 1)
        return v

    def _lost_excess(self, lost: I64 | int) -> float:
        if self.max_rep < 0:
            return 0.0
        return float(np.maximum(np.asarray(lost) - self.max_rep, 0).sum()) / max(self.max_rep, 1)

    @property
    def violation(self) -> float:
        return float(self.rep_v.sum()) + self.global_violation(
            self.moved, self.moved_pot, self._lost_excess(self.lost))

    @property
    def cost(self) -> float:
        return self.lin + float(self.rep_soft.sum())

    # -- rep-level pieces (pure-Python floats: a handful of metrics, so no numpy overhead) --
    def _lists(self) -> None:
        """Python-list mirrors of the rep-level arrays used by the scalar move scoring."""
        m = self.p.n_reps
        self.tot_l: list[list[float]] = self.tot.T.tolist()
        self.h_q_l: list[int] = self.h_q.tolist()
        self.h_lo_l: list[list[float]] = self.h_lo.T.tolist() if len(self.h_q) else [[]] * m
        self.h_hi_l: list[list[float]] = self.h_hi.T.tolist() if len(self.h_q) else [[]] * m
        self.h_sc_l: list[list[float]] = self.h_sc.T.tolist() if len(self.h_q) else [[]] * m
        self.cap_l: list[float] = self.cap.tolist()
        self.cap_sc_l: list[float] = self.cap_sc.tolist()
        self.s_q_l: list[int] = self.s_q.tolist()
        self.s_t_l: list[list[float]] = self.s_t.T.tolist() if self.has_soft else [[]] * m
        self.s_tol_l: list[float] = self.s_tol.tolist()
        self.s_w_l: list[float] = self.s_w.tolist()
        self.rep_v_l: list[float] = self.rep_v.tolist()
        self.rep_soft_l: list[float] = self.rep_soft.tolist()
        self.cost_l: list[float] = self.p.pair_cost.tolist() if self.p.n_pairs < 20_000_000 \
            else []

    def _v_rep(self, r: int, col: list[float]) -> float:
        v = 0.0
        if self.h_q_l:
            lo, hi, sc = self.h_lo_l[r], self.h_hi_l[r], self.h_sc_l[r]
            for i, q in enumerate(self.h_q_l):
                T = col[q]
                if lo[i] > T:
                    v += (lo[i] - T) / sc[i]
                elif hi[i] < T:
                    v += (T - hi[i]) / sc[i]
        w = col[0] - self.cap_l[r]
        if w > 0:
            v += w / self.cap_sc_l[r]
        return v

    def _soft_rep(self, r: int, col: list[float]) -> float:
        if not self.has_soft:
            return 0.0
        out = 0.0
        ts = self.s_t_l[r]
        for i, q in enumerate(self.s_q_l):
            t = ts[i]
            if t > 0:
                dev = abs(col[q] - t) / t - self.s_tol_l[i]
                if dev > 0:
                    out += self.s_w_l[i] * dev
        return out

    def _cur_count(self, t: int, rep: int) -> int:
        lo, hi = self.cur_item_ptr[t], self.cur_item_ptr[t + 1]
        if hi == lo:
            return 0
        reps = self.p.cur_rep[lo:hi]
        hit = np.flatnonzero(reps == rep)
        return int(self.p.cur_count[lo + hit[0]]) if len(hit) else 0

    def _lost_delta(self, changes: list[tuple[int, int, int]]) -> tuple[dict[int, int], float]:
        """Per-rep lost deltas for item moves ``(item, from, to)`` and the change of the lost
        excess term."""
        if self.max_rep < 0:
            return {}, 0.0
        d: dict[int, int] = {}
        for t, r, s in changes:
            cr = self._cur_count(t, r)
            if cr:
                d[r] = d.get(r, 0) + cr
            cs = self._cur_count(t, s)
            if cs:
                d[s] = d.get(s, 0) - cs
        if not d:
            return d, 0.0
        keys = list(d)
        before = self.lost[keys]
        after = before + np.asarray([d[k] for k in keys])
        return d, self._lost_excess(after) - self._lost_excess(before)

    # -- moves ---------------------------------------------------------------------------------
    def _budget_delta(self, changes: list[tuple[int, int, int, int, int]]) -> float:
        """Δ of the global (continuity) violation for moves ``(item, from, to, old, new pair)``."""
        p = self.p
        dm = 0
        dp = 0
        for _, _, _, po, pn in changes:
            dm += int(p.pair_moved[pn]) - int(p.pair_moved[po])
            dp += int(p.pair_moved_potential[pn]) - int(p.pair_moved_potential[po])
        g0 = self.global_violation(self.moved, self.moved_pot, 0.0)
        g1 = self.global_violation(self.moved + dm, self.moved_pot + dp, 0.0)
        _, dl = self._lost_delta([(t, r, s) for t, r, s, _, _ in changes])
        return g1 - g0 + dl

    def delta_move(self, t: int, pn: int) -> tuple[float, float]:
        """(Δviolation, Δcost) of moving item ``t`` to pair ``pn``'s rep."""
        p = self.p
        po = int(self.pair[t])
        r = int(self.a[t])
        s = int(p.indices[pn])
        if s == r:
            return 0.0, 0.0
        vec = self.metric_l(t)
        tr, ts = self.tot_l[r], self.tot_l[s]
        cr = [a - b for a, b in zip(tr, vec, strict=True)]
        cs = [a + b for a, b in zip(ts, vec, strict=True)]
        dv = self._v_rep(r, cr) + self._v_rep(s, cs) - self.rep_v_l[r] - self.rep_v_l[s]
        dc = self._pc(pn) - self._pc(po)
        if self.has_soft:
            dc += self._soft_rep(r, cr) + self._soft_rep(s, cs) - self.rep_soft_l[r] \
                - self.rep_soft_l[s]
        if self.has_budget:
            dv += self._budget_delta([(t, r, s, po, pn)])
        return dv, dc

    def metric_l(self, t: int) -> list[float]:
        out: list[float] = self.metric_T[t].tolist()
        return out

    def _pc(self, pn: int) -> float:
        return self.cost_l[pn] if self.cost_l else float(self.p.pair_cost[pn])

    def apply_move(self, t: int, pn: int) -> None:
        p = self.p
        po = int(self.pair[t])
        r = int(self.a[t])
        s = int(p.indices[pn])
        if s == r:
            return
        if self.max_rep >= 0:
            d, _ = self._lost_delta([(t, r, s)])
            for rep, dd in d.items():
                self.lost[rep] += dd
        vec = self.metric_l(t)
        tr, ts = self.tot_l[r], self.tot_l[s]
        for i, v in enumerate(vec):
            tr[i] -= v
            ts[i] += v
        self.moved += int(p.pair_moved[pn]) - int(p.pair_moved[po])
        self.moved_pot += int(p.pair_moved_potential[pn]) - int(p.pair_moved_potential[po])
        self.lin += self._pc(pn) - self._pc(po)
        self.a[t] = s
        self.pair[t] = pn
        for rep in (r, s):
            v = self._v_rep(rep, self.tot_l[rep])
            self.rep_v_l[rep] = v
            self.rep_v[rep] = v
            so = self._soft_rep(rep, self.tot_l[rep])
            self.rep_soft_l[rep] = so
            self.rep_soft[rep] = so

    def delta_swap(self, t: int, pt: int, u: int, pu: int) -> tuple[float, float]:
        """(Δviolation, Δcost) of moving ``t`` to pair ``pt`` (rep s) and ``u`` to ``pu``
        (rep r), where ``t`` sits on r and ``u`` on s."""
        r = int(self.a[t])
        s = int(self.a[u])
        pto, puo = int(self.pair[t]), int(self.pair[u])
        vt, vu = self.metric_l(t), self.metric_l(u)
        tr, ts = self.tot_l[r], self.tot_l[s]
        cr = [a - b + c for a, b, c in zip(tr, vt, vu, strict=True)]
        cs = [a + b - c for a, b, c in zip(ts, vt, vu, strict=True)]
        dv = self._v_rep(r, cr) + self._v_rep(s, cs) - self.rep_v_l[r] - self.rep_v_l[s]
        dc = self._pc(pt) - self._pc(pto) + self._pc(pu) - self._pc(puo)
        if self.has_soft:
            dc += self._soft_rep(r, cr) + self._soft_rep(s, cs) - self.rep_soft_l[r] \
                - self.rep_soft_l[s]
        if self.has_budget:
            dv += self._budget_delta([(t, r, s, pto, pt), (u, s, r, puo, pu)])
        return dv, dc

    def apply_swap(self, t: int, pt: int, u: int, pu: int) -> None:
        self.apply_move(t, pt)
        self.apply_move(u, pu)

    def resync(self) -> None:
        """Recompute cached aggregates from scratch (drift of float sums over many moves)."""
        p = self.p
        m = p.n_reps
        self.tot = np.vstack([np.bincount(self.a, weights=p.item_metric[q], minlength=m)
                              for q in range(p.item_metric.shape[0])])
        self.rep_v = self._rep_violation_all()
        self.rep_soft = self._rep_soft_all()
        self.lin = float(p.pair_cost[self.pair].sum())
        self._lists()
