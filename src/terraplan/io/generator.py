"""Seeded generator of realistic synthetic books (accounts + reps) for demos, tests and benchmarks.

Everything is built column by column from numpy arrays drawn from one
:class:`numpy.random.Generator` (``np.random.default_rng(seed)``): no global RNG state and no
per-account Python objects, so a million accounts take seconds and the same seed always gives
the same arrays and byte-identical files.

What a generated book looks like
--------------------------------
* **Geography.** ~85 % of accounts sit in 35 US metro clusters (real metro centres, drawn with
  probability proportional to metro population, Gaussian spread growing with metro size); the
  rest are a rural spread over a crude land mask of the continental US. Regions (West, Central,
  South, Southeast, East) come from the metro (or from longitude/latitude for rural accounts);
  5-digit postal codes start with the metro's real 3-digit ZIP prefix, or with the ZIP zone
  digit of the location for rural accounts. Country is ``US``.
* **Accounts.** Three segments (SMB 70 %, Mid-Market 22 %, Enterprise 8 %; Enterprise rarer in
  rural areas), eight verticals, lognormal potential by segment and vertical (median ≈ $50k over
  the book, heavy tail capped at 40× the segment median), workload in hours/year growing with
  potential (elasticity 0.45) from a per-segment base, open pipeline on ~20 % of accounts.
* **Families.** ~5 % of accounts belong to parent/child families of 2–6 accounts; children sit
  near their parent and share its segment, vertical and region, so one rep can own the whole
  family. A child attaches to the family's root or (20 %) to an earlier child, never to a later
  member, so the parent graph is acyclic.
* **Reps.** Two teams: *Enterprise* reps cover Enterprise only, *Commercial* reps cover SMB and
  Mid-Market. Reps are split across teams in proportion to potential, and each team's regions are
  grouped (connected groups of the five regions) so that potential per rep is as even as possible
  across groups; reps in a group cover exactly its regions. Groups with ≥ 3 reps get vertical
  specialists (one per 6 reps, at least one), each covering a few of the group's largest
  verticals. Homes are at metro accounts of the group drawn by workload (plus ~2 km jitter), so
  rep density follows workload density.
  Roles: AE / Senior AE (target share 1.2) and Enterprise AE / Senior Enterprise AE, with OTE and
  base share by role. ~3 % of reps are departing and ~2 % are planned hires (TBH placeholders,
  with no current book); every pool keeps at least one active generalist.
* **Capacity.** Each pool (team × region group) gets 114.5–121.5 % of its workload as capacity
  spread over its non-departing reps by target share; departing reps get the same rate on top.
  Total capacity therefore lands at ~115–130 % of total workload and every pool fits.
* **Current assignment.** Mostly geographic: each account goes to one of its nearest eligible
  reps with multiplicative noise on distances; a multiplicatively weighted Voronoi calibration
  then nudges rep weights until the coefficient of variation of current potential per rep (over
  reps with a book) reaches a target drawn in 28–34 %. ~2 % of accounts (without open pipeline)
  keep a legacy owner who is not eligible for them, most family children follow their parent's
  owner, and ~0.5 % of accounts are locked to their (eligible, active) current owner.

Money is integer cents in the domain objects; :func:`write_book` writes currency units with two
decimals (``12345.67``).
"""

from __future__ import annotations

import csv
import io
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from terraplan.domain import (
    AccountBook,
    Categorical,
    CoordSystem,
    Point,
    Rep,
    RepRoster,
    RepStatus,
)
from terraplan.domain.common import frozen
from terraplan.errors import ParameterError

__all__ = [
    "ACCOUNT_COLUMNS",
    "REGIONS",
    "REP_COLUMNS",
    "SEGMENTS",
    "VERTICALS",
    "GeneratedBook",
    "generate_book",
    "write_book",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
ProgressCallback = Callable[[str], None]

#: Canonical account CSV columns, in file order (planar books write ``y``/``x`` for
#: ``lat``/``lon``).
ACCOUNT_COLUMNS = (
    "id", "name", "lat", "lon", "country", "region", "postal_code", "segment", "vertical",
    "potential", "workload", "current_owner", "parent_id", "locked_to", "pipeline",
)
#: Canonical rep CSV columns, in file order (list columns are ';'-separated, empty = any;
#: planar books write ``home_y``/``home_x``).
REP_COLUMNS = (
    "id", "name", "role", "segments", "verticals", "regions", "home_lat", "home_lon", "capacity",
    "target_share", "status", "start_date", "end_date", "ote", "base_share",
)

SEGMENTS = ("SMB", "Mid-Market", "Enterprise")
VERTICALS = (
    "Healthcare", "Financial Services", "Manufacturing", "Retail", "Technology",
    "Public Sector", "Energy & Utilities", "Professional Services",
)
REGIONS = ("West", "Central", "South", "Southeast", "East")

# Region adjacency (for grouping regions into connected rep coverage areas).
_REGION_EDGES = frozenset({(0, 1), (0, 2), (1, 2), (1, 4), (2, 3), (3, 4)})

_SMB, _MM, _ENT = 0, 1, 2
_SEGMENT_P_METRO = np.array([0.68, 0.23, 0.09])
_SEGMENT_P_RURAL = np.array([0.80, 0.17, 0.03])
_SEG_MEDIAN_USD = np.array([32_000.0, 150_000.0, 700_000.0])
_SEG_SIGMA = np.array([0.80, 0.70, 0.90])
_SEG_BASE_HOURS = np.array([6.0, 20.0, 70.0])
_SEG_PIPELINE_P = np.array([0.17, 0.25, 0.35])
_VERTICAL_P = np.array([0.15, 0.12, 0.16, 0.14, 0.13, 0.08, 0.07, 0.15])
_VERTICAL_MULT = np.array([1.15, 1.35, 1.0, 0.85, 1.25, 0.9, 1.1, 0.8])
_POTENTIAL_CAP = 40.0  # multiples of the segment median: a heavy tail, but no absurd outliers

# (name, lon, lat, metro population in millions, 3-digit ZIP prefix, region index)
_METROS: tuple[tuple[str, float, float, float, str, int], ...] = (
    ("New York", -74.006, 40.713, 19.5, "100", 4),
    ("Los Angeles", -118.244, 34.052, 13.0, "900", 0),
    ("Chicago", -87.630, 41.878, 9.4, "606", 1),
    ("Dallas", -96.797, 32.777, 7.6, "752", 2),
    ("Houston", -95.370, 29.760, 7.1, "770", 2),
    ("Washington", -77.037, 38.907, 6.3, "200", 4),
    ("Philadelphia", -75.165, 39.953, 6.2, "191", 4),
    ("Miami", -80.192, 25.762, 6.1, "331", 3),
    ("Atlanta", -84.388, 33.749, 6.1, "303", 3),
    ("Boston", -71.059, 42.360, 4.9, "021", 4),
    ("Phoenix", -112.074, 33.448, 4.9, "850", 0),
    ("San Francisco", -122.419, 37.775, 4.7, "941", 0),
    ("Riverside", -117.396, 33.953, 4.6, "925", 0),
    ("Detroit", -83.046, 42.331, 4.4, "482", 4),
    ("Seattle", -122.332, 47.606, 4.0, "981", 0),
    ("Minneapolis", -93.265, 44.978, 3.7, "554", 1),
    ("San Diego", -117.161, 32.716, 3.3, "921", 0),
    ("Tampa", -82.457, 27.951, 3.2, "336", 3),
    ("Denver", -104.990, 39.739, 3.0, "802", 0),
    ("St. Louis", -90.199, 38.627, 2.8, "631", 1),
    ("Baltimore", -76.612, 39.290, 2.8, "212", 4),
    ("Charlotte", -80.843, 35.227, 2.7, "282", 3),
    ("Orlando", -81.379, 28.538, 2.7, "328", 3),
    ("San Antonio", -98.494, 29.424, 2.6, "782", 2),
    ("Portland", -122.676, 45.515, 2.5, "972", 0),
    ("Sacramento", -121.494, 38.582, 2.4, "958", 0),
    ("Pittsburgh", -79.996, 40.441, 2.4, "152", 4),
    ("Austin", -97.743, 30.267, 2.3, "787", 2),
    ("Las Vegas", -115.140, 36.170, 2.3, "891", 0),
    ("Cincinnati", -84.512, 39.103, 2.3, "452", 4),
    ("Kansas City", -94.579, 39.100, 2.2, "641", 1),
    ("Columbus", -82.999, 39.961, 2.1, "432", 4),
    ("Indianapolis", -86.158, 39.768, 2.1, "462", 1),
    ("Nashville", -86.781, 36.163, 2.0, "372", 2),
    ("Salt Lake City", -111.891, 40.761, 1.3, "841", 0),
)
_M_LON = np.array([m[1] for m in _METROS])
_M_LAT = np.array([m[2] for m in _METROS])
_M_POP = np.array([m[3] for m in _METROS])
_M_ZIP3 = np.array([int(m[4]) for m in _METROS], dtype=np.int64)
_M_REGION = np.array([m[5] for m in _METROS], dtype=np.int64)

# Crude land mask of the lower 48 as boxes (lon_min, lon_max, lat_min, lat_max) for rural spread.
_LAND_BOXES = np.array([
    (-123.5, -104.0, 35.0, 48.9),
    (-118.5, -104.0, 32.5, 35.0),
    (-104.0, -80.5, 30.5, 48.9),
    (-100.0, -95.0, 26.5, 30.5),
    (-82.5, -80.2, 25.5, 30.5),
    (-80.5, -75.5, 35.0, 42.5),
    (-75.5, -69.0, 41.5, 45.5),
])
_RURAL_SHARE = 0.15

# Planar projection (equirectangular, km) used when ``coord_system`` is planar.
_LON0, _LAT0 = -96.0, 37.5
_KM_PER_DEG_LAT = 110.574
_KM_PER_DEG_LON = 111.320 * math.cos(math.radians(_LAT0))

_NAME_WORDS = (
    "Summit", "Pioneer", "Harbor", "Granite", "Cedar", "Northstar", "Bluewater", "Ironwood",
    "Keystone", "Liberty", "Meridian", "Oakridge", "Pinnacle", "Redwood", "Silverline", "Trinity",
    "Vanguard", "Westfield", "Evergreen", "Frontier", "Horizon", "Lakeshore", "Maple", "Patriot",
    "Riverbend", "Sterling", "Tidewater", "Union", "Atlas", "Beacon", "Cobalt", "Crescent",
    "Eagle", "Falcon", "Golden", "Heritage", "Juniper", "Lighthouse", "Monarch", "Prairie",
)
_VERTICAL_NOUNS = (
    ("Health", "Medical", "Clinics", "Care", "Biologics"),
    ("Capital", "Bank", "Financial", "Insurance", "Credit Union"),
    ("Manufacturing", "Industries", "Fabrication", "Machine Works", "Plastics"),
    ("Retail", "Outfitters", "Markets", "Stores", "Supply"),
    ("Software", "Systems", "Networks", "Data", "Labs"),
    ("County", "City Services", "School District", "Authority", "Transit"),
    ("Energy", "Power", "Utilities", "Solar", "Water"),
    ("Consulting", "Legal", "Advisors", "Accounting", "Engineering"),
)
_LEGAL = ("Inc", "LLC", "Group", "Co", "Partners", "Holdings", "Corp", "")
_FIRST = (
    "Avery", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Alex", "Sam", "Drew",
    "Priya", "Wei", "Carlos", "Fatima", "Noah", "Olivia", "Liam", "Emma", "Mateo", "Aisha",
    "Hiro", "Grace", "Ethan", "Sofia", "Daniel", "Chloe", "Marcus", "Elena", "Omar", "Hannah",
)
_LAST = (
    "Smith", "Johnson", "Garcia", "Nguyen", "Patel", "Kim", "Brown", "Martinez", "Lee", "Walker",
    "Hall", "Young", "Lopez", "Hill", "Scott", "Green", "Adams", "Baker", "Chen", "Rivera",
    "Campbell", "Mitchell", "Carter", "Roberts", "Turner", "Phillips", "Evans", "Collins",
)

# Roles: (name, team, target_share, base_share, OTE range in dollars)
_ROLES = {
    "AE": (1.0, 0.50, 160_000, 190_000),
    "Senior AE": (1.2, 0.55, 185_000, 225_000),
    "Enterprise AE": (1.0, 0.60, 230_000, 270_000),
    "Senior Enterprise AE": (1.2, 0.65, 260_000, 300_000),
}
_TEAM_SEGMENTS = (frozenset({"SMB", "Mid-Market"}), frozenset({"Enterprise"}))
_TEAM_NAMES = ("Commercial", "Enterprise")


@dataclass(frozen=True, slots=True, eq=False)
class GeneratedBook:
    """A generated book: the domain objects plus how they were made.

    Attributes
    ----------
    accounts : AccountBook
        The accounts (columnar), current owners set.
    reps : RepRoster
        The reps, in id order.
    seed : int
        The seed passed to :func:`generate_book`.
    coord_system : CoordSystem
        ``latlon`` (x = longitude, y = latitude) or ``planar`` (km east/north of 37.5N 96W).
    current_cv : float
        Population coefficient of variation of current potential per rep, over reps that hold a
        current book (planned hires excluded).
    """

    accounts: AccountBook
    reps: RepRoster
    seed: int
    coord_system: CoordSystem
    current_cv: float

    def summary(self) -> dict[str, Any]:
        """Headline figures of the book (for the CLI and logs); money in cents."""
        a = self.accounts
        n = len(a)
        seg = np.bincount(a.segment.codes, minlength=len(a.segment.categories))
        fam = a.family_root()
        in_family = (a.parent >= 0) | np.isin(np.arange(n), a.parent[a.parent >= 0])
        caps = np.array([r.capacity or 0.0 for r in self.reps], dtype=np.float64)
        status = [r.status for r in self.reps]
        total_wl = float(a.workload.sum())
        return {
            "accounts": n,
            "reps": len(self.reps),
            "segments": {c: int(k) for c, k in zip(a.segment.categories, seg, strict=True)},
            "families": int(np.unique(fam[in_family]).size),
            "accounts_in_families": int(in_family.sum()),
            "locked": int((a.locked_to.codes >= 0).sum()),
            "with_pipeline": int((a.pipeline > 0).sum()),
            "total_potential": int(a.potential.sum()),
            "total_workload": total_wl,
            "total_capacity": float(caps.sum()),
            "capacity_ratio": float(caps.sum() / total_wl) if total_wl > 0 else math.inf,
            "departing": sum(s is RepStatus.DEPARTING for s in status),
            "planned_hires": sum(s is RepStatus.PLANNED_HIRE for s in status),
            "current_cv": self.current_cv,
        }


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------
def generate_book(
    n_accounts: int,
    n_reps: int,
    seed: int,
    *,
    coord_system: CoordSystem | str = CoordSystem.LATLON,
    family_share: float = 0.05,
    locked_share: float = 0.005,
    pipeline_share: float = 0.20,
    legacy_share: float = 0.02,
    target_cv: tuple[float, float] = (0.28, 0.34),
    plan_start: date = date(2026, 1, 1),
    progress: ProgressCallback | None = None,
) -> GeneratedBook:
    """Generate a realistic synthetic book of accounts and reps.

    Parameters
    ----------
    n_accounts : int
        Number of accounts, ≥ 1.
    n_reps : int
        Number of reps (planned hires included), ≥ 1.
    seed : int
        Seed of ``np.random.default_rng``; the only source of randomness.
    coord_system : CoordSystem or {"latlon", "planar"}, default "latlon"
        ``planar`` projects the same US geography to km (equirectangular around 37.5N 96W).
    family_share : float, default 0.05
        Share of accounts in parent/child families, in [0, 0.5].
    locked_share : float, default 0.005
        Share of accounts locked to their current owner, in [0, 0.2].
    pipeline_share : float, default 0.20
        Approximate share of accounts with open pipeline, in [0, 1]. The per-segment rates
        (17 / 25 / 35 %) are scaled to give this share.
    legacy_share : float, default 0.02
        Share of accounts currently owned by a rep who is not eligible for them, in [0, 0.2].
    target_cv : (float, float), default (0.28, 0.34)
        Range from which the target CV of current potential per rep is drawn.
    plan_start : datetime.date, default 2026-01-01
        Reference date for rep start and end dates (planned hires start after it, departing
        reps leave after it).
    progress : callable, optional
        Called with a short message at each stage (the CLI shows them).

    Returns
    -------
    GeneratedBook

    Raises
    ------
    ParameterError
        If a parameter is out of range.

    Examples
    --------
    >>> book = generate_book(500, 6, seed=1)
    >>> len(book.accounts), len(book.reps)
    (500, 6)
    """
    _check_int("n_accounts", n_accounts, 1)
    _check_int("n_reps", n_reps, 1)
    _check_int("seed", seed, 0)
    try:
        coord = CoordSystem(coord_system)
    except ValueError:
        raise ParameterError(
            "The 'coord_system' parameter of generate_book must be 'latlon' or 'planar'. "
            f"Got {coord_system!r}.") from None
    for name, val, hi in (("family_share", family_share, 0.5), ("locked_share", locked_share, 0.2),
                          ("pipeline_share", pipeline_share, 1.0),
                          ("legacy_share", legacy_share, 0.2)):
        if not (isinstance(val, int | float) and 0.0 <= val <= hi):
            raise ParameterError(f"The '{name}' parameter of generate_book must be a float in "
                                 f"[0, {hi}]. Got {val!r}.")
    lo_cv, hi_cv = target_cv
    if not (0.0 < lo_cv <= hi_cv < 2.0):
        raise ParameterError("The 'target_cv' parameter of generate_book must be a pair "
                             f"0 < low <= high < 2. Got {target_cv!r}.")

    say = progress or (lambda _msg: None)
    rng = np.random.default_rng(seed)

    say("placing accounts")
    acc = _draw_accounts(rng, n_accounts, family_share, pipeline_share)
    say("building the rep roster")
    roster = _draw_reps(rng, acc, n_reps, plan_start)
    say("drawing the current assignment")
    owner, cv = _current_assignment(rng, acc, roster, legacy_share, target_cv)
    locked = _draw_locks(rng, acc, roster, owner, locked_share)
    say("assembling the book")
    book = _assemble(acc, roster, owner, locked, coord)
    reps = _build_reps(roster, coord)
    logger.info("generated %d accounts, %d reps (seed %d), current potential CV %.3f",
                n_accounts, n_reps, seed, cv)
    return GeneratedBook(accounts=book, reps=reps, seed=seed, coord_system=coord, current_cv=cv)


def write_book(
    book: GeneratedBook | tuple[AccountBook, RepRoster],
    out_dir: str | Path,
    *,
    fmt: Literal["csv", "parquet"] = "csv",
    account_columns: Mapping[str, str] | None = None,
    rep_columns: Mapping[str, str] | None = None,
) -> tuple[Path, Path]:
    """Write ``accounts.csv`` and ``reps.csv`` (or ``.parquet``) into ``out_dir``.

    Parameters
    ----------
    book : GeneratedBook or (AccountBook, RepRoster)
        What to write.
    out_dir : path
        Created if missing; existing files of the same name are overwritten.
    fmt : {"csv", "parquet"}, default "csv"
        CSV: UTF-8, ``,``-separated, ``\\n`` line ends, quotes only where needed, money in
        currency units with two decimals, empty cells for missing values. Parquet: money as
        float64 currency units rounded to cents, list columns as ``;``-joined strings, so both
        formats carry the same table.
    account_columns, rep_columns : mapping, optional
        Header renames *from the file's name to terraplan's field* — the same direction as
        ``inputs.account_columns`` in a scenario spec — to write CRM-style headers.

    Returns
    -------
    (Path, Path)
        The accounts and reps files written.
    """
    import pyarrow as pa

    if isinstance(book, GeneratedBook):
        accounts, reps = book.accounts, book.reps
    else:
        accounts, reps = book
    if fmt not in ("csv", "parquet"):
        raise ParameterError(f"The 'fmt' parameter of write_book must be 'csv' or 'parquet'. "
                             f"Got {fmt!r}.")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    a_cols, r_cols = _canonical_columns(accounts.coord_system)
    a_names = _header(a_cols, account_columns, "account_columns")
    r_names = _header(r_cols, rep_columns, "rep_columns")
    as_text = fmt == "csv"
    a_table = pa.table(_account_arrays(accounts, as_text), names=a_names)
    r_table = pa.table(_rep_arrays(reps, as_text), names=r_names)
    a_path, r_path = out / f"accounts.{fmt}", out / f"reps.{fmt}"
    if fmt == "csv":
        for table, path in ((a_table, a_path), (r_table, r_path)):
            _write_csv(table, path)
    else:
        import pyarrow.parquet as pq

        pq.write_table(a_table, a_path, compression="zstd")
        pq.write_table(r_table, r_path, compression="zstd")
    return a_path, r_path


# --------------------------------------------------------------------------------------------
# accounts
# --------------------------------------------------------------------------------------------
@dataclass(slots=True)
class _Accounts:
    lon: FloatArray
    lat: FloatArray
    metro: IntArray  # -1 for rural
    region: IntArray
    postal: IntArray  # 0..99999
    segment: IntArray
    vertical: IntArray
    potential: IntArray  # cents
    workload: FloatArray
    pipeline: IntArray  # cents
    parent: IntArray
    names: npt.NDArray[np.object_]


def _draw_accounts(rng: np.random.Generator, n: int, family_share: float,
                   pipeline_share: float) -> _Accounts:
    # -- geography ---------------------------------------------------------------------------
    rural = rng.random(n) < _RURAL_SHARE
    metro = rng.choice(len(_METROS), size=n, p=_M_POP / _M_POP.sum()).astype(np.int64)
    sigma = 0.11 * np.sqrt(_M_POP[metro])  # degrees of latitude; bigger metros sprawl more
    dlat = rng.standard_normal(n) * sigma
    dlon = rng.standard_normal(n) * sigma / np.cos(np.radians(_M_LAT[metro]))
    lat = _M_LAT[metro] + dlat
    lon = _M_LON[metro] + dlon
    box_area = ((_LAND_BOXES[:, 1] - _LAND_BOXES[:, 0]) * (_LAND_BOXES[:, 3] - _LAND_BOXES[:, 2])
                * np.cos(np.radians((_LAND_BOXES[:, 2] + _LAND_BOXES[:, 3]) / 2)))
    box = rng.choice(len(_LAND_BOXES), size=n, p=box_area / box_area.sum())
    u, v = rng.random(n), rng.random(n)
    b = _LAND_BOXES[box]
    lon = np.where(rural, b[:, 0] + u * (b[:, 1] - b[:, 0]), lon)
    lat = np.where(rural, b[:, 2] + v * (b[:, 3] - b[:, 2]), lat)
    metro = np.where(rural, -1, metro)

    # -- segment and vertical ----------------------------------------------------------------
    r = rng.random(n)
    p_seg = np.where(rural[:, None], _SEGMENT_P_RURAL[None, :], _SEGMENT_P_METRO[None, :])
    segment = (r[:, None] > np.cumsum(p_seg, axis=1)[:, :2]).sum(axis=1).astype(np.int64)
    vertical = rng.choice(len(VERTICALS), size=n, p=_VERTICAL_P).astype(np.int64)

    # -- families: roots biased to big segments, children uniformly among the rest ------------
    parent = np.full(n, -1, dtype=np.int64)
    fam_u = rng.random(n)  # drawn unconditionally so the stream does not depend on the branch
    fam_gumbel = rng.gumbel(size=n)
    n_in_families = int(round(family_share * n))
    if n_in_families >= 2:
        sizes = 2 + np.minimum(rng.geometric(0.45, size=n_in_families // 2) - 1, 4)
        csum = np.cumsum(sizes)
        sizes = sizes[csum <= n_in_families]
        if sizes.size == 0:
            sizes = np.array([2], dtype=np.int64)
        n_fam, n_children = sizes.size, int(sizes.sum() - sizes.size)
        # Gumbel top-k = weighted sampling without replacement, O(n)
        key = np.log(np.array([1.0, 3.0, 6.0])[segment]) + fam_gumbel
        roots = np.argpartition(-key, n_fam - 1)[:n_fam] if n_fam < n else np.arange(n)
        roots = np.sort(roots)
        is_root = np.zeros(n, dtype=bool)
        is_root[roots] = True
        pool = np.flatnonzero(~is_root)
        children = np.sort(rng.choice(pool, size=n_children, replace=False))
        children = rng.permutation(children)
        # member k (k >= 1) of a family attaches to the root, or to an earlier member: acyclic
        fam_of_child = np.repeat(np.arange(n_fam), sizes - 1)
        first_child = np.cumsum(sizes - 1) - (sizes - 1)  # offset of each family's children
        pos = np.arange(n_children) - np.repeat(first_child, sizes - 1) + 1  # 1..size-1
        earlier = np.floor(fam_u[children] * pos).astype(np.int64)  # in [0, pos)
        deep = (fam_u[children] * 7.0) % 1.0 < 0.2  # 20 % attach below the root
        attach_pos = np.where(deep & (pos >= 2), earlier, 0)
        members = np.concatenate([roots[:, None], np.zeros((n_fam, sizes.max() - 1), np.int64)],
                                 axis=1)
        members[fam_of_child, pos] = children
        parent[children] = members[fam_of_child, attach_pos]
        top = roots[fam_of_child]
        # children sit near the family's root and share its segment and vertical
        jitter = 0.05 + 0.25 * rng.random(n_children)
        ang = rng.random(n_children) * 2 * np.pi
        lat[children] = lat[top] + jitter * np.sin(ang)
        lon[children] = lon[top] + jitter * np.cos(ang) / np.cos(np.radians(lat[top]))
        segment[children] = segment[top]
        vertical[children] = vertical[top]
        metro[children] = metro[top]
    else:
        top = np.zeros(0, dtype=np.int64)
        children = np.zeros(0, dtype=np.int64)

    lat = np.round(np.clip(lat, 24.5, 49.4), 6)
    lon = np.round(np.clip(lon, -124.8, -66.9), 6)

    # -- region and postal code ---------------------------------------------------------------
    region = np.where(metro >= 0, _M_REGION[np.maximum(metro, 0)], _region_of(lon, lat))
    region[children] = region[top]  # a family lives in one region, so one rep can own it
    tail = rng.integers(0, 100, size=n)
    rural_tail = rng.integers(0, 10_000, size=n)
    postal = np.where(metro >= 0, _M_ZIP3[np.maximum(metro, 0)] * 100 + tail,
                      _zip_zone(lon, lat) * 10_000 + rural_tail)

    # -- money and workload -------------------------------------------------------------------
    z = rng.standard_normal(n)
    usd = _SEG_MEDIAN_USD[segment] * _VERTICAL_MULT[vertical] * np.exp(_SEG_SIGMA[segment] * z)
    usd = np.minimum(usd, _POTENTIAL_CAP * _SEG_MEDIAN_USD[segment])
    potential = np.round(usd * 100.0).astype(np.int64)
    ratio = usd / _SEG_MEDIAN_USD[segment]
    hours = _SEG_BASE_HOURS[segment] * ratio ** 0.45 * np.exp(0.25 * rng.standard_normal(n))
    workload = np.round(np.maximum(hours, 1.0), 1)
    p_pipe = _SEG_PIPELINE_P[segment] * (pipeline_share / 0.20)
    has_pipe = rng.random(n) < p_pipe
    pipe_frac = 0.05 + 0.45 * rng.random(n)
    pipeline = np.where(has_pipe, np.round(potential * pipe_frac), 0).astype(np.int64)

    names = _account_names(rng, n, vertical, metro, parent, top, children)
    return _Accounts(lon=lon, lat=lat, metro=metro, region=region.astype(np.int64),
                     postal=postal.astype(np.int64), segment=segment, vertical=vertical,
                     potential=potential, workload=workload, pipeline=pipeline, parent=parent,
                     names=names)


def _region_of(lon: FloatArray, lat: FloatArray) -> IntArray:
    """Region index from location: West / Central / South / Southeast / East."""
    west = lon < -104.0
    mid = lon < -85.5
    out = np.where(west, 0, np.where(mid, np.where(lat >= 36.5, 1, 2),
                                     np.where(lat >= 37.0, 4, 3)))
    return out.astype(np.int64)


def _zip_zone(lon: FloatArray, lat: FloatArray) -> IntArray:
    """First ZIP digit of a location (the USPS national areas, approximated by boxes)."""
    z = np.full(lon.shape, 6, dtype=np.int64)
    z = np.where(lon < -114.0, 9, np.where(lon < -102.0, 8, z))
    plains = (lon >= -102.0) & (lon < -87.0)
    z = np.where(plains & (lat >= 42.5), 5, z)
    z = np.where(plains & (lat < 36.5), np.where(lon < -90.0, 7, 3), z)
    east = lon >= -87.0
    z = np.where(east & (lon < -80.0), np.where(lat >= 37.0, 4, 3), z)
    far_east = lon >= -80.0
    z = np.where(far_east, np.where(lat >= 41.0, np.where(lon >= -74.0, 0, 1),
                                    np.where(lat >= 39.7, 1, np.where(lat >= 33.0, 2, 3))), z)
    return z


def _account_names(rng: np.random.Generator, n: int, vertical: IntArray, metro: IntArray,
                   parent: IntArray, top: IntArray, children: IntArray) -> npt.NDArray[np.object_]:
    """Company-like names ("Summit Health Partners"); children get "<parent> - <city>".

    All word combinations are built once (40 × 40 × 8 strings) and indexed, so a million names
    cost one fancy-indexing pass and share their string objects.
    """
    n_w, n_n, n_l = len(_NAME_WORDS), sum(len(v) for v in _VERTICAL_NOUNS), len(_LEGAL)
    nouns = [w for ws in _VERTICAL_NOUNS for w in ws]
    table = np.asarray([f"{w} {nn} {lg}".rstrip() for w in _NAME_WORDS for nn in nouns
                        for lg in _LEGAL], dtype=object)
    i = rng.integers(0, n_w, size=n)
    j = vertical * 5 + rng.integers(0, 5, size=n)
    k = rng.integers(0, n_l, size=n)
    names = table[(i * n_n + j) * n_l + k]
    if children.size:
        city = np.asarray([m[0] for m in _METROS] + ["Regional"], dtype=object)
        where = city[np.where(metro[children] >= 0, metro[children], len(_METROS))]
        names[children] = names[top] + " - " + where
    return names


# --------------------------------------------------------------------------------------------
# reps
# --------------------------------------------------------------------------------------------
@dataclass(slots=True)
class _Roster:
    team: IntArray  # 0 commercial, 1 enterprise; -1 when a single rep covers everything
    group: IntArray  # index into groups
    groups: list[tuple[int, ...]]  # region indices covered, per group (empty tuple = any)
    verticals: list[tuple[int, ...]]  # specialist verticals (empty = any)
    role: list[str]
    status: list[RepStatus]
    lon: FloatArray
    lat: FloatArray
    capacity: FloatArray
    share: FloatArray
    base_share: FloatArray
    ote: IntArray  # cents
    start: list[date | None]
    end: list[date | None]
    names: list[str]
    acc_team: IntArray  # per account
    acc_group: IntArray  # per account: group index of the account's (team, region)


def _draw_reps(rng: np.random.Generator, acc: _Accounts, n_reps: int,
               plan_start: date) -> _Roster:
    n = acc.segment.size
    pot = acc.potential.astype(np.float64)
    wl = acc.workload
    if n_reps == 1:
        acc_team = np.full(n, -1, dtype=np.int64)
        team_reps = {-1: 1}
    else:
        acc_team = (acc.segment == _ENT).astype(np.int64)
        tp = np.bincount(acc_team, weights=pot, minlength=2).astype(np.float64)
        team_reps = dict(enumerate(_largest_remainder(tp, n_reps, minimum=1).tolist()))

    # per team: group the regions so that potential per rep is as even as possible
    groups: list[tuple[int, ...]] = []
    rep_team: list[int] = []
    rep_group: list[int] = []
    acc_group = np.zeros(n, dtype=np.int64)
    for t, r_t in team_reps.items():
        in_t = acc_team == t
        reg_pot = np.bincount(acc.region[in_t], weights=pot[in_t],
                              minlength=len(REGIONS)).astype(np.float64)
        partition, alloc = _best_partition(reg_pot, r_t)
        for g_regions, g_reps in zip(partition, alloc, strict=True):
            gi = len(groups)
            # a group covering every region is written as "any region" (empty list)
            groups.append(() if t == -1 or len(g_regions) == len(REGIONS) else g_regions)
            rep_team += [t] * g_reps
            rep_group += [gi] * g_reps
            acc_group[in_t & np.isin(acc.region, g_regions)] = gi
    team = np.asarray(rep_team, dtype=np.int64)
    group = np.asarray(rep_group, dtype=np.int64)
    n_groups = len(groups)

    # roles, shares and vertical specialists per group
    role: list[str] = []
    verticals: list[tuple[int, ...]] = [() for _ in range(n_reps)]
    senior = rng.random(n_reps) < 0.28
    for i in range(n_reps):
        ent = team[i] == 1
        role.append(("Senior Enterprise AE" if senior[i] else "Enterprise AE") if ent
                    else ("Senior AE" if senior[i] else "AE"))
    share = np.array([_ROLES[r][0] for r in role])
    g_wl = np.bincount(acc_group, weights=wl, minlength=n_groups)
    for g in range(n_groups):
        members = np.flatnonzero(group == g)
        n_spec = 0 if members.size < 3 else max(1, members.size // 6)
        if n_spec == 0:
            continue
        in_g = acc_group == g
        v_wl = np.bincount(acc.vertical[in_g], weights=wl[in_g], minlength=len(VERTICALS))
        order = np.argsort(-v_wl, kind="stable")
        fair = g_wl[g] / members.size
        for s, rep in enumerate(members[-n_spec:]):
            # specialist s takes verticals from the top of the list until it covers 1.5 fair shares
            rotated = np.roll(order, -2 * s)
            cum = np.cumsum(v_wl[rotated])
            k = int(np.searchsorted(cum, 1.5 * fair)) + 1
            verticals[rep] = tuple(sorted(int(v) for v in rotated[:min(k, len(VERTICALS) - 1)]))

    # statuses: ~3 % departing, ~2 % planned hires; each group keeps an active generalist
    n_dep = int(round(0.03 * n_reps))
    n_tbh = int(round(0.02 * n_reps))
    if n_reps >= 20:
        n_dep, n_tbh = max(n_dep, 1), max(n_tbh, 1)
    status = [RepStatus.ACTIVE] * n_reps
    active_gen = np.bincount(group[[not v for v in verticals]], minlength=n_groups)
    for i in rng.permutation(n_reps).tolist():
        if n_dep == 0 and n_tbh == 0:
            break
        if not verticals[i]:
            if active_gen[group[i]] <= 1:
                continue
            active_gen[group[i]] -= 1
        if n_dep > 0:
            status[i], n_dep = RepStatus.DEPARTING, n_dep - 1
        else:
            status[i], n_tbh = RepStatus.PLANNED_HIRE, n_tbh - 1

    # homes in metros: at the location of a metro account of the group drawn by workload, so
    # rep density follows workload density (as sales teams are hired) plus a small jitter
    lon = np.empty(n_reps)
    lat = np.empty(n_reps)
    metro_ok = acc.metro >= 0
    for g in range(n_groups):
        members = np.flatnonzero(group == g)
        pool = np.flatnonzero((acc_group == g) & metro_ok)
        if pool.size == 0:  # no metro accounts in the group: any of the group's accounts
            pool = np.flatnonzero(acc_group == g)
        if pool.size == 0:  # an empty group (tiny books): the biggest metro of its regions
            regs = groups[g] or tuple(range(len(REGIONS)))
            m = int(np.argmax(np.where(np.isin(_M_REGION, regs), _M_POP, 0.0)))
            hx, hy = np.full(members.size, _M_LON[m]), np.full(members.size, _M_LAT[m])
        else:
            pw = wl[pool]
            pick = pool[rng.choice(pool.size, size=members.size, p=pw / pw.sum())]
            hx, hy = acc.lon[pick], acc.lat[pick]
        jit = 0.02 * rng.standard_normal((2, members.size))
        lat[members] = np.round(np.clip(hy + jit[0], 24.5, 49.4), 6)
        lon[members] = np.round(hx + jit[1] / np.cos(np.radians(hy)), 6)

    # capacity: each pool gets 114.5–121.5 % of its workload over its non-departing reps
    capacity = np.zeros(n_reps)
    headroom = 1.145 + 0.07 * rng.random(n_groups)
    departing = np.array([s is RepStatus.DEPARTING for s in status])
    for g in range(n_groups):
        members = np.flatnonzero(group == g)
        staying = members[~departing[members]]
        rate = g_wl[g] * headroom[g] / share[staying].sum()
        capacity[members] = np.ceil(rate * share[members] / 10.0) * 10.0

    base_share = np.array([_ROLES[r][1] for r in role])
    lo = np.array([_ROLES[r][2] for r in role], dtype=np.int64)
    hi = np.array([_ROLES[r][3] for r in role], dtype=np.int64)
    ote = (lo + np.floor(rng.random(n_reps) * (hi - lo + 1) / 1000.0).astype(np.int64) * 1000)
    ote = np.minimum(ote, hi) * 100

    start: list[date | None] = []
    end: list[date | None] = []
    tenure = rng.integers(60, 3650, size=n_reps)
    later = rng.integers(20, 150, size=n_reps)
    first = rng.integers(0, len(_FIRST), size=n_reps)
    last = rng.integers(0, len(_LAST), size=n_reps)
    names: list[str] = []
    for i in range(n_reps):
        if status[i] is RepStatus.PLANNED_HIRE:
            start.append(plan_start + timedelta(days=int(later[i])))
            end.append(None)
            where = "/".join(REGIONS[r] for r in groups[group[i]]) or "All"
            names.append(f"TBH {where} {_TEAM_NAMES[max(team[i], 0)]} {i + 1}")
            continue
        start.append(plan_start - timedelta(days=int(tenure[i])))
        end.append(plan_start + timedelta(days=int(later[i]))
                   if status[i] is RepStatus.DEPARTING else None)
        names.append(f"{_FIRST[first[i]]} {_LAST[last[i]]}")

    return _Roster(team=team, group=group, groups=groups, verticals=verticals, role=role,
                   status=status, lon=lon, lat=lat, capacity=capacity, share=share,
                   base_share=base_share, ote=ote, start=start, end=end, names=names,
                   acc_team=acc_team, acc_group=acc_group)


def _largest_remainder(weights: FloatArray, total: int, minimum: int = 0) -> IntArray:
    """Split ``total`` into integers proportional to ``weights`` with at least ``minimum`` each."""
    k = weights.size
    if total < minimum * k:
        raise ValueError("total too small for the minimum")
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.sum() if w.sum() > 0 else np.full(k, 1.0 / k)
    out = np.full(k, minimum, dtype=np.int64)
    rest = total - minimum * k
    quota = w * total - out
    quota = np.maximum(quota, 0.0)
    if quota.sum() > 0 and rest > 0:
        quota = quota / quota.sum() * rest
        base = np.floor(quota).astype(np.int64)
        out += base
        left = rest - int(base.sum())
        order = np.argsort(-(quota - base), kind="stable")
        out[order[:left]] += 1
    elif rest > 0:
        out[: rest] += 1
    return out


def _connected(regions: tuple[int, ...]) -> bool:
    seen = {regions[0]}
    frontier = [regions[0]]
    while frontier:
        a = frontier.pop()
        for b in regions:
            if b not in seen and ((min(a, b), max(a, b)) in _REGION_EDGES):
                seen.add(b)
                frontier.append(b)
    return len(seen) == len(regions)


def _set_partitions(items: list[int]) -> list[list[tuple[int, ...]]]:
    if not items:
        return [[]]
    first, rest = items[0], items[1:]
    out = []
    for p in _set_partitions(rest):
        out.append([(first,), *p])
        for i in range(len(p)):
            out.append([*p[:i], tuple(sorted((first, *p[i]))), *p[i + 1:]])
    return out


_PARTITIONS = [p for p in _set_partitions(list(range(len(REGIONS))))
               if all(_connected(g) for g in p)]


def _best_partition(reg_pot: FloatArray, n_reps: int) -> tuple[list[tuple[int, ...]], list[int]]:
    """Connected region groups and reps per group minimising the spread of potential per rep.

    Finer partitions are preferred (a small bonus per group) because region eligibility is only
    interesting when it splits the country. Regions without accounts are folded into a neighbour.
    """
    best: tuple[float, int, list[tuple[int, ...]], list[int]] | None = None
    mean = reg_pot.sum() / n_reps if n_reps else 0.0
    for p in _PARTITIONS:
        if len(p) > n_reps:
            continue
        gp = np.array([reg_pot[list(g)].sum() for g in p])
        if np.any(gp <= 0) and len(p) > 1:
            continue
        alloc = _largest_remainder(gp, n_reps, minimum=1)
        per_rep = gp / alloc
        spread = float(np.sqrt(np.sum(alloc * (per_rep / mean - 1.0) ** 2) / n_reps)) if mean else 0
        score = spread - 0.05 * len(p)
        key = (score, -len(p))
        if best is None or key < (best[0], best[1]):
            best = (score, -len(p), p, alloc.tolist())
    assert best is not None  # the one-group partition always qualifies
    return best[2], best[3]


# --------------------------------------------------------------------------------------------
# current assignment
# --------------------------------------------------------------------------------------------
def _xyz(lon: FloatArray, lat: FloatArray) -> FloatArray:
    """Unit vectors: chord distance ranks like great-circle distance, so a KD-tree works."""
    la, lo = np.radians(lat), np.radians(lon)
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def _eligible(ro: _Roster, acc: _Accounts, a_idx: IntArray, r_idx: IntArray) -> BoolArray:
    """Elementwise: is rep ``r_idx[i]`` eligible for account ``a_idx[i]``?"""
    ok = ro.group[r_idx] == ro.acc_group[a_idx]
    spec = np.zeros((len(ro.verticals), len(VERTICALS)), dtype=bool)
    for r, vs in enumerate(ro.verticals):
        spec[r, list(vs) if vs else slice(None)] = True
    return ok & spec[r_idx, acc.vertical[a_idx]]


def _current_assignment(rng: np.random.Generator, acc: _Accounts, ro: _Roster,
                        legacy_share: float, target_cv: tuple[float, float]) -> tuple[IntArray,
                                                                                       float]:
    n = acc.segment.size
    n_reps = ro.team.size
    has_book = np.array([s is not RepStatus.PLANNED_HIRE for s in ro.status])
    generalist = np.array([not v for v in ro.verticals])
    pts = _xyz(acc.lon, acc.lat)
    homes = _xyz(ro.lon, ro.lat)
    # Candidates, eligible by construction: the k nearest generalists of the account's pool,
    # plus the nearest specialist of the pool covering the account's vertical (a specialist
    # works its vertical across the whole pool, so it must not depend on being among the k).
    k_near = 6
    cand = np.full((n, k_near + 1), -1, dtype=np.int64)
    dist = np.full((n, k_near + 1), np.inf)
    for g in range(len(ro.groups)):
        a_in = np.flatnonzero(ro.acc_group == g)
        if a_in.size == 0:
            continue
        reps_g = np.flatnonzero((ro.group == g) & has_book)
        gens = reps_g[generalist[reps_g]]
        k = min(k_near, gens.size)
        d, j = cKDTree(homes[gens]).query(pts[a_in], k=k)
        d, j = d.reshape(a_in.size, k), j.reshape(a_in.size, k)
        cand[a_in, :k], dist[a_in, :k] = gens[j], d
        for v in range(len(VERTICALS)):
            specs = np.asarray([r for r in reps_g.tolist() if v in ro.verticals[r]], np.int64)
            a_v = a_in[acc.vertical[a_in] == v]
            if specs.size == 0 or a_v.size == 0:
                continue
            ds, js = cKDTree(homes[specs]).query(pts[a_v], k=1)
            cand[a_v, k_near], dist[a_v, k_near] = specs[js], ds
    valid = cand >= 0
    # noisy distance: a floor so that accounts next to a rep's home still feel the noise;
    # float32 halves the memory traffic of the calibration loop at a million accounts
    noise = rng.standard_normal((n, k_near + 1), dtype=np.float32)
    np.multiply(noise, np.float32(0.35), out=noise)
    np.exp(noise, out=noise)
    base = np.maximum(dist.astype(np.float32), np.float32(0.002))
    base *= noise
    base[~valid] = np.inf
    del noise, dist
    safe_cand = np.maximum(cand, 0)
    del cand

    # legacy owners: the nearest rep (with a book) who is NOT eligible for the account
    legacy = np.zeros(n, dtype=bool)
    legacy_rep = np.full(n, -1, dtype=np.int64)
    pick = rng.random(n) < legacy_share
    if n_reps > 1 and pick.any():
        booked = np.flatnonzero(has_book)
        kk = min(6, booked.size)
        # not on accounts with open pipeline: a protected deal owned by an ineligible rep could
        # neither stay nor move, and a generated book should be solvable as shipped
        li = np.flatnonzero(pick & (acc.parent < 0) & (acc.pipeline == 0))
        _, j = cKDTree(homes[booked]).query(pts[li], k=kk)
        j = booked[j.reshape(li.size, kk)]
        inel = ~_eligible(ro, acc, np.repeat(li, kk), j.ravel()).reshape(li.size, kk)
        first = np.argmax(inel, axis=1)
        found = inel[np.arange(li.size), first]
        legacy[li[found]] = True
        legacy_rep[li[found]] = j[np.arange(li.size), first][found]

    # most children follow the owner of their family's root
    root = _family_root(acc.parent)
    follow = (acc.parent >= 0) & (rng.random(n) < 0.85)

    pot = acc.potential.astype(np.float64)
    share = np.where(has_book, ro.share, 0.0)
    g_pot = np.bincount(ro.acc_group, weights=pot, minlength=len(ro.groups))
    g_share = np.bincount(ro.group, weights=share, minlength=len(ro.groups))
    target = g_pot[ro.group] * share / np.maximum(g_share[ro.group], 1e-12)
    lo, hi = target_cv
    goal = lo + (hi - lo) * rng.random()
    band = 0.015
    jiggle = rng.standard_normal((60, n_reps))
    w = np.ones(n_reps, dtype=np.float32)
    rows = np.arange(n)

    def assign(weights: npt.NDArray[np.float32]) -> tuple[IntArray, float]:
        score = base * weights[safe_cand]
        owner = safe_cand[rows, np.argmin(score, axis=1)]
        owner = np.where(legacy, legacy_rep, owner)
        owner = np.where(follow, owner[root], owner)
        loads = np.bincount(owner, weights=pot, minlength=n_reps)[has_book]
        m = loads.mean()
        return owner, float(loads.std() / m) if m > 0 else 0.0

    # Multiplicatively weighted Voronoi calibration: a rep's distances are scaled by its
    # weight. Too unbalanced: overloaded reps get heavier (less attractive); too balanced: they
    # get lighter (rich get richer). A step that does not bring the CV closer to the goal is
    # rejected and the step halves (dense books oscillate otherwise); accepted steps grow again,
    # and a vanishing step restarts from a random nudge of the weights.
    owner, cv = assign(w)
    step = 0.5
    for it in range(60):
        if abs(cv - goal) <= band:
            break
        if step < 0.02:
            w_new = w * np.exp(0.2 * jiggle[it]).astype(np.float32)
            step = 0.5
        else:
            loads = np.bincount(owner, weights=pot, minlength=n_reps)
            ratio = np.clip(np.where(target > 0, loads / np.maximum(target, 1e-9), 1.0), 0.5, 2)
            sign = 1.0 if cv > goal else -1.0
            w_new = w * (ratio ** (sign * step)).astype(np.float32)
        owner_new, cv_new = assign(w_new)
        logger.debug("calibration step %d: current potential CV %.4f (goal %.4f, step %.3f)",
                     it, cv_new, goal, step)
        if abs(cv_new - goal) < abs(cv - goal):
            w, owner, cv = w_new, owner_new, cv_new
            step = min(0.5, step * 1.5)
        else:
            step *= 0.5
    return owner, cv


def _family_root(parent: IntArray) -> IntArray:
    root = np.arange(parent.size, dtype=np.int64)
    has = parent >= 0
    root[has] = parent[has]
    while True:
        nxt = np.where(parent[root] >= 0, parent[root], root)
        if np.array_equal(nxt, root):
            return root
        root = nxt


def _draw_locks(rng: np.random.Generator, acc: _Accounts, ro: _Roster, owner: IntArray,
                locked_share: float) -> IntArray:
    """Lock ~``locked_share`` of accounts to their current owner (eligible, active, not a child).

    A locked family root drags its children to its rep, which is fine: they share segment,
    vertical and region, so that rep is eligible for all of them.
    """
    n = owner.size
    active = np.array([s is RepStatus.ACTIVE for s in ro.status])
    ok = (acc.parent < 0) & active[owner] & _eligible(ro, acc, np.arange(n), owner)
    cand = np.flatnonzero(ok)
    k = min(int(round(locked_share * n)), cand.size)
    locked = np.full(n, -1, dtype=np.int64)
    if k > 0:
        pick = rng.choice(cand, size=k, replace=False)
        locked[pick] = owner[pick]
    return locked


# --------------------------------------------------------------------------------------------
# assembly into domain objects
# --------------------------------------------------------------------------------------------
def _project(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    x = np.round((lon - _LON0) * _KM_PER_DEG_LON, 3)
    y = np.round((lat - _LAT0) * _KM_PER_DEG_LAT, 3)
    return x, y


def _ids(prefix: str, n: int, min_width: int) -> npt.NDArray[np.object_]:
    """``prefix`` + zero-padded 1-based numbers, built as bytes (no per-id formatting)."""
    width = max(min_width, len(str(n)))
    num = np.arange(1, n + 1, dtype=np.int64)
    digits = (num[:, None] // 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)) % 10 + 48
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    raw = np.concatenate([np.broadcast_to(head, (n, head.size)), digits.astype(np.uint8)],
                         axis=1)
    size = head.size + width
    return np.ascontiguousarray(raw).view(f"S{size}").ravel().astype(f"U{size}").astype(object)


def _assemble(acc: _Accounts, ro: _Roster, owner: IntArray, locked: IntArray,
              coord: CoordSystem) -> AccountBook:
    n = owner.size
    rep_ids = tuple(_ids("R", ro.team.size, 4).tolist())
    uniq, inv = np.unique(acc.postal, return_inverse=True)
    x, y = (acc.lon, acc.lat) if coord is CoordSystem.LATLON else _project(acc.lon, acc.lat)
    return AccountBook(
        ids=_ids("A", n, 7),
        names=acc.names,
        x=np.ascontiguousarray(x, dtype=np.float64),
        y=np.ascontiguousarray(y, dtype=np.float64),
        country=Categorical(frozen(np.zeros(n, dtype=np.int32)), ("US",)),
        region=Categorical.from_codes(acc.region, REGIONS),
        postal_code=Categorical(frozen(inv.astype(np.int32).ravel()),
                                tuple(f"{p:05d}" for p in uniq.tolist())),
        segment=Categorical.from_codes(acc.segment, SEGMENTS),
        vertical=Categorical.from_codes(acc.vertical, VERTICALS),
        potential=acc.potential,
        workload=acc.workload,
        current_owner=Categorical.from_codes(owner, rep_ids),
        parent=acc.parent,
        locked_to=Categorical.from_codes(locked, rep_ids),
        pipeline=acc.pipeline,
        extra={},
        coord_system=coord,
    )


def _build_reps(ro: _Roster, coord: CoordSystem) -> RepRoster:
    ids = _ids("R", ro.team.size, 4).tolist()
    hx, hy = (ro.lon, ro.lat) if coord is CoordSystem.LATLON else _project(ro.lon, ro.lat)
    reps = []
    for i, rid in enumerate(ids):
        t = int(ro.team[i])
        reps.append(Rep(
            id=rid,
            name=ro.names[i],
            role=ro.role[i],
            segments=_TEAM_SEGMENTS[t] if t >= 0 else frozenset(),
            verticals=frozenset(VERTICALS[v] for v in ro.verticals[i]),
            regions=frozenset(REGIONS[r] for r in ro.groups[ro.group[i]]),
            home=Point(float(hx[i]), float(hy[i])),
            capacity=float(ro.capacity[i]),
            target_share=float(ro.share[i]),
            status=ro.status[i],
            start_date=ro.start[i],
            end_date=ro.end[i],
            ote=int(ro.ote[i]),
            base_share=float(ro.base_share[i]),
        ))
    return RepRoster.of(reps)


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------
def _canonical_columns(coord: CoordSystem) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if coord is CoordSystem.LATLON:
        return ACCOUNT_COLUMNS, REP_COLUMNS
    ren = {"lat": "y", "lon": "x", "home_lat": "home_y", "home_lon": "home_x"}
    return (tuple(ren.get(c, c) for c in ACCOUNT_COLUMNS),
            tuple(ren.get(c, c) for c in REP_COLUMNS))


def _header(canonical: Sequence[str], mapping: Mapping[str, str] | None,
            name: str) -> list[str]:
    if not mapping:
        return list(canonical)
    inverse: dict[str, str] = {}
    for user, ours in mapping.items():
        if ours not in canonical:
            raise ParameterError(f"The '{name}' parameter of write_book maps {user!r} to unknown "
                                 f"field {ours!r}; expected one of {', '.join(canonical)}.")
        inverse[ours] = user
    return [inverse.get(c, c) for c in canonical]


def _write_csv(table: Any, path: Path) -> None:
    """Write a table as CSV that reads like a CRM export: quotes only where a value needs them.

    Arrow either quotes every string (``needed``) or none (``none``, which fails on a value
    holding a delimiter, quote or newline), and always quotes header names. So the header comes
    from the csv module and the body is tried unquoted first, quoted on failure.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    header = _csv_line(table.column_names).encode("utf-8")
    for style in ("none", "needed"):
        opts = pacsv.WriteOptions(include_header=False, delimiter=",", quoting_style=style)
        try:
            with path.open("wb") as fh:
                fh.write(header)
                pacsv.write_csv(table, fh, write_options=opts)
            return
        except pa.ArrowInvalid:
            if style == "needed":
                raise


def _csv_line(values: Sequence[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL).writerow(values)
    return buf.getvalue()


def _money(cents: IntArray, as_text: bool) -> Any:
    """Cents -> ``"1234.56"`` strings (exact, no float) or float64 units for Parquet."""
    import pyarrow as pa
    import pyarrow.compute as pc

    c = np.asarray(cents, dtype=np.int64)
    if not as_text:
        return pa.array(np.round(c / 100.0, 2))
    neg = c < 0
    units = pa.array(np.abs(c) // 100).cast(pa.string())
    frac = pc.utf8_lpad(pa.array(np.abs(c) % 100).cast(pa.string()), width=2, padding="0")
    text = pc.binary_join_element_wise(units, frac, ".")
    if neg.any():
        text = pc.if_else(pa.array(neg), pc.binary_join_element_wise("-", text, ""), text)
    return text


def _cat(c: Categorical) -> Any:
    import pyarrow as pa

    codes = pa.array(c.codes, mask=c.codes < 0)
    return pa.array(list(c.categories), type=pa.string()).take(codes)


def _account_arrays(a: AccountBook, as_text: bool) -> list[Any]:
    import pyarrow as pa

    par = a.parent
    parent_ids = pa.array(a.ids, type=pa.string()).take(pa.array(par, mask=par < 0))
    return [
        pa.array(a.ids, type=pa.string()),
        pa.array(a.names, type=pa.string()),
        pa.array(a.y, mask=np.isnan(a.y)),
        pa.array(a.x, mask=np.isnan(a.x)),
        _cat(a.country), _cat(a.region), _cat(a.postal_code), _cat(a.segment), _cat(a.vertical),
        _money(a.potential, as_text),
        pa.array(a.workload),
        _cat(a.current_owner),
        parent_ids,
        _cat(a.locked_to),
        _money(a.pipeline, as_text),
    ]


def _rep_arrays(reps: RepRoster, as_text: bool) -> list[Any]:
    import pyarrow as pa

    def joined(vals: frozenset[str], order: Sequence[str]) -> str:
        known = [v for v in order if v in vals]
        return ";".join(known + sorted(vals - set(order)))

    def opt_float(v: float | None) -> float | None:
        return None if v is None else float(v)

    rs = list(reps)
    ote_cents = np.array([r.ote if r.ote is not None else 0 for r in rs], dtype=np.int64)
    ote = _money(ote_cents, as_text)
    ote = pa.array([None if r.ote is None else v for r, v in zip(rs, ote.to_pylist(),
                                                                 strict=True)])
    return [
        pa.array([r.id for r in rs], type=pa.string()),
        pa.array([r.name for r in rs], type=pa.string()),
        pa.array([r.role for r in rs], type=pa.string()),
        pa.array([joined(r.segments, SEGMENTS) for r in rs], type=pa.string()),
        pa.array([joined(r.verticals, VERTICALS) for r in rs], type=pa.string()),
        pa.array([joined(r.regions, REGIONS) for r in rs], type=pa.string()),
        pa.array([r.home.y if r.home else None for r in rs], type=pa.float64()),
        pa.array([r.home.x if r.home else None for r in rs], type=pa.float64()),
        pa.array([opt_float(r.capacity) for r in rs], type=pa.float64()),
        pa.array([r.target_share for r in rs], type=pa.float64()),
        pa.array([r.status.value for r in rs], type=pa.string()),
        pa.array([r.start_date.isoformat() if r.start_date else None for r in rs],
                 type=pa.string()),
        pa.array([r.end_date.isoformat() if r.end_date else None for r in rs], type=pa.string()),
        ote,
        pa.array([opt_float(r.base_share) for r in rs], type=pa.float64()),
    ]


def _check_int(name: str, value: object, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ParameterError(f"The '{name}' parameter of generate_book must be an int in "
                             f"[{low}, inf). Got {value!r}.")

