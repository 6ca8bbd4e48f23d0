"""View cones: the ground a camera sees, built in metres and returned in lon/lat."""

from __future__ import annotations

import math
from functools import cache

from pyproj import Geod, Transformer
from shapely import Polygon

from disaster_dx.cameras.registry import (
    Camera,
)

# ---------------------------------------------------------------------------------------------
# View cones
# ---------------------------------------------------------------------------------------------

#: JGD2011 平面直角座標系 第IV系 — metres, covers Kochi Prefecture.
METRIC_CRS = "EPSG:6672"


@cache
def _transformers() -> tuple[Transformer, Transformer, Geod]:
    """Built once per process (per-call creation is ~10,000× slower); thread-safe since 3.1."""
    to_metric = Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True)
    to_lonlat = Transformer.from_crs(METRIC_CRS, "EPSG:4326", always_xy=True)
    return to_metric, to_lonlat, Geod(ellps="GRS80")


def view_cone(
    lon: float,
    lat: float,
    *,
    heading_deg: float,
    fov_deg: float,
    range_m: float,
    segments: int = 24,
) -> Polygon:
    """The ground a camera sees: a sector from the tower, as a lon/lat polygon.

    Built in EPSG:6672 so the range is in metres. Headings are true bearings (clockwise from
    true north), so the sector is turned by the grid convergence at the tower and stretched
    by the local scale factor, both measured from a 100 m geodesic step north. A field of
    view of 360° gives a circle.

    Parameters
    ----------
    lon, lat
        The tower, in degrees.
    heading_deg
        Centre of the view, degrees clockwise from true north.
    fov_deg
        Horizontal field of view, degrees.
    range_m
        How far the view reaches on the ground, metres.
    segments
        Straight pieces of the arc.
    """
    to_metric, to_lonlat, geod = _transformers()
    x0, y0 = to_metric.transform(lon, lat)
    north_lon, north_lat, _ = geod.fwd(lon, lat, 0.0, 100.0)
    xn, yn = to_metric.transform(north_lon, north_lat)
    convergence = math.atan2(xn - x0, yn - y0)  # grid bearing of true north
    scale = math.hypot(xn - x0, yn - y0) / 100.0
    radius = range_m * scale
    full = fov_deg >= 360.0
    start = math.radians(heading_deg - (180.0 if full else fov_deg / 2.0))
    sweep = math.radians(360.0 if full else fov_deg)
    xs: list[float] = [] if full else [x0]
    ys: list[float] = [] if full else [y0]
    for i in range(segments + (0 if full else 1)):
        bearing = start + sweep * i / segments + convergence
        xs.append(x0 + radius * math.sin(bearing))
        ys.append(y0 + radius * math.cos(bearing))
    lons, lats = to_lonlat.transform(xs, ys)
    return Polygon(list(zip(lons, lats, strict=True)))


def camera_cone(camera: Camera, *, segments: int = 24) -> Polygon:
    """:func:`view_cone` of a registered camera."""
    return view_cone(
        camera.lon,
        camera.lat,
        heading_deg=camera.heading_deg,
        fov_deg=camera.fov_deg,
        range_m=camera.range_m,
        segments=segments,
    )
