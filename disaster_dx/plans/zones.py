"""Landslide areas stored for plans: the polygons routes must avoid.

Buildings carry their own area (``landslide_area``, see :mod:`disaster_dx.plans.buildings`);
routing needs the polygons themselves, to find the streets in them. They are stored as one
dataset (``plan_datasets`` kind :data:`LANDSLIDE_ZONES`) holding a compressed array blob —
WKB polygons and their :class:`~disaster_dx.landslide.ZoneLevel` — in the same table and
format as the road network, so no table is added.
"""

from __future__ import annotations

import io
import itertools
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import shapely
from numpy.typing import NDArray
from sqlalchemy import select

from disaster_dx.plans.storage import (
    _bump_dataset,
    _has_tables,
    create_plan_tables,
    plan_datasets,
)
from disaster_dx.store import Store

if TYPE_CHECKING:
    import geopandas as gpd

log = logging.getLogger(__name__)

#: ``plan_datasets.kind`` of the stored landslide areas.
LANDSLIDE_ZONES = "zones:landslide"


@dataclass(frozen=True, eq=False)
class StoredZones:
    """Landslide area polygons (lon/lat) and their levels (1 警戒, 2 特別警戒)."""

    geometry: NDArray[np.object_]
    level: NDArray[np.int8]

    def __len__(self) -> int:
        return int(self.level.size)


def save_landslide_zones(
    store: Store,
    zones: gpd.GeoDataFrame,
    *,
    actor: str,
    source: str,
    synthetic: bool = False,
) -> int:
    """Make ``zones`` the landslide areas routes avoid; returns the new dataset version.

    ``zones`` comes from :func:`~disaster_dx.io.landslide_zones.landslide_zones_from_file`
    (``level`` and polygons); earlier areas are replaced.
    """
    frame = zones.to_crs("EPSG:4326") if zones.crs is not None else zones
    geoms = np.asarray(frame.geometry.array, dtype=object)
    wkb = [bytes(w) for w in shapely.to_wkb(geoms)]
    sizes = np.array([len(w) for w in wkb], dtype=np.int64)
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        level=frame["level"].to_numpy(dtype=np.int8),
        geometry_offsets=np.concatenate(([0], np.cumsum(sizes))),
        geometry_bytes=np.frombuffer(b"".join(wkb), dtype=np.uint8),
    )
    levels = frame["level"].to_numpy(dtype=np.int8)
    summary = {
        "zones": len(frame),
        "special": int((levels == 2).sum()),
        "warning": int((levels == 1).sum()),
    }
    create_plan_tables(store)
    with store._write() as conn:
        version = _bump_dataset(
            conn,
            store,
            LANDSLIDE_ZONES,
            source=source,
            actor=actor,
            synthetic=synthetic,
            summary=summary,
            payload=buffer.getvalue(),
        )
    log.info("landslide areas v%d saved: %d (%s)", version, len(frame), source)
    return version


def load_landslide_zones(store: Store) -> StoredZones | None:
    """The stored landslide areas, or None before any were imported."""
    if not _has_tables(store):
        return None
    with store._read() as conn:
        payload = conn.execute(
            select(plan_datasets.c.payload).where(plan_datasets.c.kind == LANDSLIDE_ZONES)
        ).scalar_one_or_none()
    if payload is None:
        return None
    with np.load(io.BytesIO(payload), allow_pickle=False) as data:
        raw = data["geometry_bytes"].tobytes()
        offsets = data["geometry_offsets"].tolist()
        geometry = shapely.from_wkb(
            np.array([raw[a:b] for a, b in itertools.pairwise(offsets)], dtype=object)
        )
        return StoredZones(np.asarray(geometry, dtype=object), data["level"].astype(np.int8))
