"""Where distances are measured: lon/lat ↔ JGD2011 平面直角座標系 第IV系, and shared types.

Every distance of :mod:`disaster_dx.routing` is metres in :data:`PROJECTED_CRS` (EPSG:6672),
the plane rectangular zone that covers Kochi; nodes also keep lon/lat (EPSG:4326) for maps.
The transformers are built once per process (creating one is slow).
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pyproj import Transformer

#: The CRS node lon/lat are stored in.
GEOGRAPHIC_CRS = "EPSG:4326"
#: The plane CRS every distance is measured in: JGD2011 平面直角座標系 第IV系 (Shikoku, Kochi).
PROJECTED_CRS = "EPSG:6672"

#: Marker for "no node" in every index array this package returns.
NO_NODE = -1

IntArray = NDArray[np.intp]
FloatArray = NDArray[np.float64]


@cache
def to_plane() -> Transformer:
    """The lon/lat → EPSG:6672 transformer, built once per process (creation is slow)."""
    return Transformer.from_crs(GEOGRAPHIC_CRS, PROJECTED_CRS, always_xy=True)


@cache
def to_lonlat() -> Transformer:
    """The EPSG:6672 → lon/lat transformer, built once per process."""
    return Transformer.from_crs(PROJECTED_CRS, GEOGRAPHIC_CRS, always_xy=True)


def project(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Lon/lat (degrees) → plane x/y (metres, EPSG:6672), vectorised."""
    x, y = to_plane().transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def _project_coords(coords: FloatArray) -> FloatArray:
    x, y = to_plane().transform(coords[:, 0], coords[:, 1])
    return np.column_stack((x, y))
