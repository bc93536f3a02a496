"""The geo-unit problem: partition a unit graph into ``k`` contiguous, balanced districts.

Maths (Validi & Buchanan, "Political districting to minimize cut edges", MPC 2022)::

    min   sum_e w_e z_e                        cut edges (w = 1) or cut shared perimeter
    s.t.  sum_d x_id = 1                       every unit in one district
          L <= sum_i p_i x_id <= U             population (or any metric) band
          z_e >= x_ud - x_vd, x_vd - x_ud      an edge is cut when its ends differ
          each district induces a connected subgraph

Contiguity is modelled by single-commodity flow in :mod:`~terraplan.solvers.geounit.model`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from terraplan.domain.scenario import Scenario
from terraplan.domain.spec import Mode
from terraplan.errors import ParameterError, SpecError, UnsupportedRuleError
from terraplan.geo import adjacency as adj

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _frozen(a: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
    a = np.ascontiguousarray(a)
    a.flags.writeable = False
    return a


@dataclass(frozen=True, slots=True, eq=False)
class DistrictingProblem:
    """An immutable districting instance.

    Parameters
    ----------
    population : (n,) float array
        Balance metric per unit (population, workload, potential, ...).
    edges : (m, 2) int array
        Undirected unit adjacency, ``u < v``, no duplicates (see
        :func:`terraplan.geo.adjacency.normalise_edges`).
    k : int
        Number of districts.
    lower, upper : float
        Every district's population must lie in ``[lower, upper]``.
    edge_weights : (m,) float array
        Shared perimeter per edge (1 when unknown).
    measure : {"cut_edges", "cut_perimeter"}
        The compactness objective.
    account_unit : (accounts,) int array
        For scenario problems: the unit of every account (decode a plan with
        ``assignment[account_unit]``).
    """

    population: FloatArray
    edges: IntArray
    k: int
    lower: float
    upper: float
    edge_weights: FloatArray
    measure: str = "cut_edges"
    x: FloatArray | None = None
    y: FloatArray | None = None
    unit_ids: tuple[str, ...] = ()
    name: str = "districting"
    account_unit: IntArray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        n = self.population.shape[0]
        if self.population.ndim != 1 or n < 1:
            raise ParameterError("DistrictingProblem population must be a non-empty 1-D array.")
        if self.edges.ndim != 2 or self.edges.shape[1] != 2:
            raise ParameterError(f"DistrictingProblem edges must have shape (m, 2). "
                                 f"Got {self.edges.shape}.")
        if self.edges.size and (np.any(self.edges[:, 0] >= self.edges[:, 1])
                                or self.edges.min() < 0 or self.edges.max() >= n):
            raise ParameterError("DistrictingProblem edges must satisfy 0 <= u < v < n; "
                                 "use DistrictingProblem.from_edges to normalise them.")
        if self.edge_weights.shape != (self.edges.shape[0],):
            raise ParameterError("DistrictingProblem edge_weights must have one value per edge.")
        if not (isinstance(self.k, int | np.integer) and self.k >= 1):
            raise ParameterError(
                f"The 'k' parameter of DistrictingProblem must be an int >= 1. Got {self.k!r}.")
        if not (self.lower <= self.upper):
            raise ParameterError(f"DistrictingProblem needs lower <= upper. Got "
                                 f"[{self.lower}, {self.upper}].")
        if self.measure not in ("cut_edges", "cut_perimeter"):
            raise ParameterError("The 'measure' parameter of DistrictingProblem must be "
                                 f"'cut_edges' or 'cut_perimeter'. Got {self.measure!r}.")
        if np.any(~np.isfinite(self.population)) or np.any(self.population < 0):
            raise ParameterError("DistrictingProblem population must be finite and >= 0.")
        object.__setattr__(self, "k", int(self.k))
        for nm in ("population", "edges", "edge_weights"):
            object.__setattr__(self, nm, _frozen(getattr(self, nm)))
        if not self.unit_ids:
            object.__setattr__(self, "unit_ids", tuple(str(i) for i in range(n)))

    @property
    def n(self) -> int:
        return int(self.population.shape[0])

    @property
    def m(self) -> int:
        return int(self.edges.shape[0])

    @property
    def adjacency(self) -> sp.csr_matrix:
        """Symmetric CSR adjacency (weights = shared perimeter)."""
        return adj.csr(self.n, self.edges, self.edge_weights)

    @property
    def objective_weights(self) -> FloatArray:
        """Cost of cutting each edge under :attr:`measure`."""
        return (np.ones(self.m) if self.measure == "cut_edges"
                else np.asarray(self.edge_weights, dtype=np.float64))

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_edges(cls, population: npt.ArrayLike, edges: npt.ArrayLike, k: int, lower: float,
                   upper: float, *, edge_weights: npt.ArrayLike | None = None,
                   measure: str = "cut_edges", x: npt.ArrayLike | None = None,
                   y: npt.ArrayLike | None = None, unit_ids: Sequence[str] = (),
                   name: str = "districting") -> DistrictingProblem:
        """Build from any edge list (normalised: ``u < v``, loops dropped, duplicates merged)."""
        pop = np.asarray(population, dtype=np.float64)
        e, w = adj.normalise_edges(edges, pop.shape[0], edge_weights)
        return cls(population=pop, edges=e, k=k, lower=float(lower), upper=float(upper),
                   edge_weights=w, measure=measure,
                   x=None if x is None else np.asarray(x, dtype=np.float64),
                   y=None if y is None else np.asarray(y, dtype=np.float64),
                   unit_ids=tuple(unit_ids), name=name)

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> DistrictingProblem:
        """Aggregate accounts to ``spec.geo_unit.unit_column`` and build the unit graph.

        The balance metric is the first balance rule's metric (which must be hard), the band is
        ``total / k × (1 ± tolerance)``; ``k`` is ``geo_unit.territories`` or the number of reps.
        Adjacency comes from ``scenario.units`` when present (units without accounts are kept
        with zero population so they can connect districts), else from a Delaunay triangulation
        of the unit centroids (mean account coordinates).
        """
        spec = scenario.spec
        if spec.mode is not Mode.GEO_UNIT:
            raise SpecError("DistrictingProblem.from_scenario needs mode: geo_unit; got "
                            f"{spec.mode.value!r}.")
        gu = spec.geo_unit
        unit_column = gu.unit_column if gu is not None else "postal_code"
        k = (gu.territories if gu is not None and gu.territories is not None
             else len(scenario.reps))
        if k < 1:
            raise SpecError("geo_unit mode needs geo_unit.territories or at least one rep")
        rules = spec.rules
        if not rules.balance:
            raise SpecError("geo_unit mode needs a balance rule (the metric districts balance)")
        for extra_rule in rules.balance[1:]:
            raise UnsupportedRuleError("geo_unit", f"balance[{extra_rule.metric}]",
                                       "geo-unit mode balances exactly one metric")
        rule = rules.balance[0]
        if not rule.hard:
            raise UnsupportedRuleError("geo_unit", f"balance[{rule.metric}]",
                                       "geo-unit mode needs a hard balance band")
        book = scenario.accounts
        col = getattr(book, unit_column)
        if np.any(col.codes < 0):
            bad = [str(book.ids[i]) for i in np.flatnonzero(col.codes < 0)[:5]]
            raise SpecError(f"{int((col.codes < 0).sum())} account(s) have no {unit_column}, "
                            f"e.g. {bad}")
        metric = book.metric(rule.metric)
        if scenario.units is not None:
            g = scenario.units
            index = {u: i for i, u in enumerate(g.unit_ids)}
            missing = sorted({c for c in col.categories if c not in index})
            if missing:
                raise SpecError(f"{len(missing)} {unit_column} value(s) of the accounts are not "
                                f"in the unit graph, e.g. {missing[:5]}")
            unit_of_cat = np.array([index[c] for c in col.categories], dtype=np.int64)
            n = len(g.unit_ids)
            account_unit = unit_of_cat[col.codes]
            edges, weights = g.edges, g.weights
            ids = g.unit_ids
        else:
            n = len(col.categories)
            account_unit = col.codes.astype(np.int64)
            ids = col.categories
            if np.any(np.isnan(book.x)) or np.any(np.isnan(book.y)):
                raise SpecError("Delaunay adjacency needs coordinates for every account "
                                "(or supply inputs.adjacency)")
            cnt = np.bincount(account_unit, minlength=n)
            cx = np.bincount(account_unit, weights=book.x, minlength=n) / cnt
            cy = np.bincount(account_unit, weights=book.y, minlength=n) / cnt
            g = adj.delaunay(ids, cx, cy)
            edges, weights = g.edges, g.weights
        pop = np.bincount(account_unit, weights=metric, minlength=n)
        target = float(pop.sum()) / k
        lo = math.ceil((1 - rule.tolerance) * target - 1e-9) if _is_int(pop) else (
            (1 - rule.tolerance) * target)
        hi = math.floor((1 + rule.tolerance) * target + 1e-9) if _is_int(pop) else (
            (1 + rule.tolerance) * target)
        prob = cls.from_edges(pop, edges, k, lo, hi, edge_weights=weights,
                              measure=spec.objective.compactness_measure, unit_ids=ids,
                              name=spec.name)
        object.__setattr__(prob, "account_unit", _frozen(account_unit))
        return prob

    # -- evaluation ---------------------------------------------------------------------------
    def cut_edges(self, labels: npt.ArrayLike) -> int:
        return int(adj.cut_edges(self.edges, labels).size)

    def cut_perimeter(self, labels: npt.ArrayLike) -> float:
        return float(self.edge_weights[adj.cut_edges(self.edges, labels)].sum())

    def objective(self, labels: npt.ArrayLike) -> float:
        """The compactness objective under :attr:`measure`."""
        return float(self.cut_edges(labels)) if self.measure == "cut_edges" else (
            self.cut_perimeter(labels))

    def district_population(self, labels: npt.ArrayLike) -> FloatArray:
        lab = np.asarray(labels, dtype=np.int64)
        return np.bincount(lab, weights=self.population, minlength=self.k).astype(np.float64)

    def is_contiguous(self, labels: npt.ArrayLike) -> bool:
        return adj.is_contiguous(self.n, self.edges, labels, self.k)

    def violations(self, labels: npt.ArrayLike) -> list[str]:
        """Every broken rule of a plan (district index per unit), independent of any solver."""
        lab = np.asarray(labels, dtype=np.int64)
        if lab.shape != (self.n,):
            return [f"expected {self.n} labels, got shape {lab.shape}"]
        if lab.min() < 0 or lab.max() >= self.k:
            return [f"labels must be in 0..{self.k - 1}"]
        out = []
        pieces = adj.components_per_label(self.n, self.edges, lab, self.k)
        for d in range(self.k):
            if pieces[d] == 0:
                out.append(f"district {d} is empty")
            elif pieces[d] > 1:
                out.append(f"district {d} is split into {pieces[d]} disconnected pieces")
        pops = self.district_population(lab)
        for d in range(self.k):
            if pops[d] < self.lower - 1e-6 or pops[d] > self.upper + 1e-6:
                out.append(f"district {d}: population {pops[d]:,.0f} outside "
                           f"[{self.lower:,.0f}, {self.upper:,.0f}]")
        return out

    def precheck(self) -> list[str]:
        """Provable infeasibilities in plain words (empty when none is found)."""
        out = []
        total = float(self.population.sum())
        if self.n < self.k:
            out.append(f"{self.n} units cannot form {self.k} non-empty districts")
        if total < self.k * self.lower - 1e-6 or total > self.k * self.upper + 1e-6:
            out.append(f"total population {total:,.0f} cannot be split into {self.k} "
                       f"districts each within [{self.lower:,.0f}, {self.upper:,.0f}]")
        big = int(np.argmax(self.population))
        if self.population[big] > self.upper + 1e-6:
            out.append(f"unit {self.unit_ids[big]} alone has population "
                       f"{self.population[big]:,.0f} > upper bound {self.upper:,.0f}")
        comp = adj.graph_components(self.n, self.edges)
        ncomp = int(comp.max()) + 1
        if ncomp > 1:
            cpop = np.bincount(comp, weights=self.population)
            csize = np.bincount(comp)
            if ncomp > self.k:
                out.append(f"the unit graph has {ncomp} disconnected parts but only {self.k} "
                           "districts; every part needs its own district")
            for c in range(ncomp):
                # a part must hold a whole number a >= 1 of districts: a*L <= pop <= a*U
                amin = max(1, math.ceil(cpop[c] / self.upper - 1e-9)) if self.upper > 0 else 1
                amax = math.floor(cpop[c] / self.lower + 1e-9) if self.lower > 0 else csize[c]
                amax = min(amax, int(csize[c]))
                if amin > amax:
                    first = self.unit_ids[int(np.flatnonzero(comp == c)[0])]
                    out.append(f"disconnected part containing unit {first} (population "
                               f"{cpop[c]:,.0f}) cannot hold a whole number of districts "
                               f"within [{self.lower:,.0f}, {self.upper:,.0f}]")
        return out


def _is_int(v: npt.NDArray[np.floating] | npt.NDArray[np.integer]) -> bool:
    return bool(np.allclose(v, np.round(v)))
