"""Distances and adjacency helpers (numpy only)."""

from terraplan.geo.distance import EARTH_RADIUS_KM, distance_to_points, haversine_km, pairwise

__all__ = ["EARTH_RADIUS_KM", "distance_to_points", "haversine_km", "pairwise"]
