"""View cones: the ground a camera sees, built in metres and returned in lon/lat."""

from __future__ import annotations

import numpy as np
from shapely import Polygon

from disaster_dx.cameras.registry import Camera
from disaster_dx.geodesy import destinations

# ---------------------------------------------------------------------------------------------
# View cones
# ---------------------------------------------------------------------------------------------

#: JGD2011 平面直角座標系 第IV系 — metres, covers Kochi Prefecture (kept for callers that
#: measure cones in a plane; the cone itself is built on the ellipsoid).
METRIC_CRS = "EPSG:6672"


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

    Each arc point is the geodesic destination (GRS80, :func:`disaster_dx.geodesy.destinations`)
    ``range_m`` metres from the tower along a true bearing (clockwise from true north), so the
    range is ground metres in every direction and no grid convergence or scale factor enters.
    A field of view of 360° gives a circle.

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
    full = fov_deg >= 360.0
    start = heading_deg - (180.0 if full else fov_deg / 2.0)
    sweep = 360.0 if full else fov_deg
    steps = np.arange(segments + (0 if full else 1), dtype=float)
    lons, lats = destinations(lon, lat, start + sweep * steps / segments, range_m)
    arc = list(zip(lons.tolist(), lats.tolist(), strict=True))
    return Polygon(arc if full else [(lon, lat), *arc])


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
