"""Vectorised distances: haversine (lat/lon, km) and euclidean (planar units)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from terraplan.domain.common import CoordSystem

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)

FloatArray = npt.NDArray[np.float64]


def haversine_km(x1: npt.ArrayLike, y1: npt.ArrayLike, x2: npt.ArrayLike,
                 y2: npt.ArrayLike) -> FloatArray:
    """Great-circle distance in km; ``x`` = longitude, ``y`` = latitude, in degrees. Broadcasts."""
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(v, dtype=np.float64)) for v in (x1, y1, x2, y2))
    s = (np.sin((lat2 - lat1) * 0.5) ** 2
         + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) * 0.5) ** 2)
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(s, 0.0, 1.0)))


def euclidean(x1: npt.ArrayLike, y1: npt.ArrayLike, x2: npt.ArrayLike,
              y2: npt.ArrayLike) -> FloatArray:
    return np.hypot(np.asarray(x2, dtype=np.float64) - np.asarray(x1, dtype=np.float64),
                    np.asarray(y2, dtype=np.float64) - np.asarray(y1, dtype=np.float64))


def distance_to_points(x: npt.ArrayLike, y: npt.ArrayLike, px: npt.ArrayLike, py: npt.ArrayLike,
                       coord: CoordSystem) -> FloatArray:
    """Element-wise distance between (x, y)[i] and (px, py)[i] (broadcasting allowed)."""
    f = haversine_km if coord is CoordSystem.LATLON else euclidean
    return f(x, y, px, py)


def pairwise(x: npt.ArrayLike, y: npt.ArrayLike, px: npt.ArrayLike, py: npt.ArrayLike,
             coord: CoordSystem) -> FloatArray:
    """Dense (n, m) matrix of distances from n points to m points."""
    xa = np.asarray(x, dtype=np.float64)[:, None]
    ya = np.asarray(y, dtype=np.float64)[:, None]
    xb = np.asarray(px, dtype=np.float64)[None, :]
    yb = np.asarray(py, dtype=np.float64)[None, :]
    return distance_to_points(xa, ya, xb, yb, coord)
