"""Distances and destinations on the ground, in metres: one geodesic calculator for the app.

Every "how far" and "which point N metres that way" in the app is a geodesic on GRS80 (the
ellipsoid of JGD2011) through :class:`pyproj.Geod`, instead of hand formulas (equirectangular
distances, a fixed number of metres per degree) that each drift differently with latitude.
Plans and routing measure along roads in a plane projection (:mod:`disaster_dx.routing`);
this module is for straight ground distances between two places.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pyproj import Geod

#: JGD2011's ellipsoid (日本測地系2011 uses GRS80).
ELLIPSOID = "GRS80"


@cache
def geod() -> Geod:
    """The shared :class:`~pyproj.Geod` (built once per process; it is thread-safe)."""
    return Geod(ellps=ELLIPSOID)


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Geodesic distance in metres between two lon/lat points (degrees)."""
    _, _, dist = geod().inv(lon1, lat1, lon2, lat2)
    return float(dist)


def distances_m(lon: float, lat: float, lons: ArrayLike, lats: ArrayLike) -> NDArray[np.float64]:
    """Geodesic distances in metres from one point to many (vectorised)."""
    lons = np.asarray(lons, dtype=float)
    lats = np.asarray(lats, dtype=float)
    if lons.size == 0:
        return np.zeros(0)
    _, _, dist = geod().inv(np.full(lons.shape, lon), np.full(lats.shape, lat), lons, lats)
    return np.asarray(dist, dtype=float)


def destinations(
    lon: float | ArrayLike,
    lat: float | ArrayLike,
    bearing_deg: float | ArrayLike,
    distance: float | ArrayLike,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Lon/lat reached going ``distance`` metres along true bearings ``bearing_deg`` (arrays).

    Scalars broadcast against arrays: one tower and many bearings, or many points and one
    bearing.
    """
    lons, lats, bearings, dists = np.broadcast_arrays(
        np.asarray(lon, dtype=float),
        np.asarray(lat, dtype=float),
        np.asarray(bearing_deg, dtype=float),
        np.asarray(distance, dtype=float),
    )
    out_lon, out_lat, _ = geod().fwd(lons.ravel(), lats.ravel(), bearings.ravel(), dists.ravel())
    return (
        np.asarray(out_lon, dtype=float).reshape(lons.shape),
        np.asarray(out_lat, dtype=float).reshape(lons.shape),
    )
