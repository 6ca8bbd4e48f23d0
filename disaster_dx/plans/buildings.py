"""Building storage for plans: footprints, heights, structures and hazards per building.

Per depth hazard the ``depths`` JSON holds ``{"lower", "upper", "label"}`` and, when the
building is known to be in the area although its depth is not, ``"in_area": true`` (the
wooden-in-tsunami rule needs it); river flooding adds ``"duration_h"`` (浸水継続時間).
Landslide is ``depths["landslide"] = {"area": …, "kind": …}``: the strictest 土砂災害警戒区域
label (or 区域外) and the phenomena. Absent means unknown.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import delete, insert, select

from disaster_dx.errors import DisasterDxError
from disaster_dx.plans.judgement import DEPTH_COLUMNS, _float_column, _known_in_area
from disaster_dx.plans.storage import (
    _bump_dataset,
    _has_tables,
    create_plan_tables,
    plan_buildings,
    plan_datasets,
)
from disaster_dx.store import Store

if TYPE_CHECKING:
    import geopandas as gpd

log = logging.getLogger(__name__)


def save_buildings(
    store: Store,
    buildings: gpd.GeoDataFrame,
    *,
    actor: str,
    source: str,
    synthetic: bool = False,
) -> int:
    """Make ``buildings`` the building set for plans (replacing the previous one).

    Accepts frames from :mod:`disaster_dx.io.plateau` and :mod:`disaster_dx.io.hazard_zones`:
    per depth hazard the stored depth is ``<h>_depth_lower_m`` (or PLATEAU's ``<h>_depth_m``),
    ``<h>_depth_upper_m`` and a label. Unknown stays unknown (JSON null). Buildings without a
    footprint are kept with their representative point when they have one.
    """
    frame = buildings.to_crs("EPSG:4326") if buildings.crs is not None else buildings
    geoms = np.asarray(frame.geometry.array, dtype=object)
    present = ~shapely.is_missing(geoms)
    points = np.full(len(frame), None, dtype=object)
    points[present] = shapely.point_on_surface(geoms[present])
    lon = np.where(present, shapely.get_x(points.astype(object)), np.nan)
    lat = np.where(present, shapely.get_y(points.astype(object)), np.nan)
    if "lon" in frame and "lat" in frame:
        given_lon = pd.to_numeric(frame["lon"], errors="coerce").to_numpy(dtype=float)
        given_lat = pd.to_numeric(frame["lat"], errors="coerce").to_numpy(dtype=float)
        lon = np.where(np.isnan(lon), given_lon, lon)
        lat = np.where(np.isnan(lat), given_lat, lat)
    keep = ~(np.isnan(lon) | np.isnan(lat))
    wkb = np.full(len(frame), None, dtype=object)
    wkb[present] = shapely.to_wkb(geoms[present])
    height = _float_column(frame, "height_m")
    storeys = _float_column(frame, "storeys")
    structure = frame["structure"] if "structure" in frame else pd.Series([None] * len(frame))
    refuge = (
        frame["refuge"].fillna(False).to_numpy(dtype=bool)
        if "refuge" in frame
        else np.zeros(len(frame), dtype=bool)
    )
    names = frame["name"] if "name" in frame else pd.Series([None] * len(frame))
    depth_columns = {
        prefix: (
            _float_column(frame, f"{prefix}_depth_lower_m")
            if f"{prefix}_depth_lower_m" in frame
            else _float_column(frame, f"{prefix}_depth_m"),
            _float_column(frame, f"{prefix}_depth_upper_m"),
            frame[f"{prefix}_depth_label"].astype(object).to_numpy()
            if f"{prefix}_depth_label" in frame
            else np.full(len(frame), None, dtype=object),
        )
        for prefix in DEPTH_COLUMNS.values()
    }
    in_area = {
        prefix: _known_in_area(frame, prefix, lower)
        for prefix, (lower, _upper, _label) in depth_columns.items()
    }
    duration = _float_column(frame, "flood_duration_h")
    landslide_area = _texts(frame, "landslide_area")
    landslide_kind = _texts(frame, "landslide")
    rows = []
    for i in np.flatnonzero(keep).tolist():
        depths: dict[str, dict[str, Any]] = {}
        for prefix, (lower, upper, label) in depth_columns.items():
            if not np.isnan(upper[i]) or in_area[prefix][i]:
                depths[prefix] = {
                    "lower": _json_number(lower[i]),
                    "upper": _json_number(upper[i]),
                    "label": None if label[i] is None else str(label[i]),
                }
                if in_area[prefix][i]:
                    depths[prefix]["in_area"] = True
        if not np.isnan(duration[i]) and duration[i] >= 0:
            depths.setdefault("flood", {"lower": None, "upper": None, "label": None})
            depths["flood"]["duration_h"] = float(duration[i])
        if landslide_area[i]:
            depths["landslide"] = {"area": landslide_area[i], "kind": landslide_kind[i]}
        rows.append(
            {
                "building_id": str(frame["building_id"].iloc[i]),
                "name": None if pd.isna(names.iloc[i]) else str(names.iloc[i])[:300],
                "lon": float(lon[i]),
                "lat": float(lat[i]),
                "footprint": wkb[i],
                "height_m": None if np.isnan(height[i]) else float(height[i]),
                "storeys": None if np.isnan(storeys[i]) else int(storeys[i]),
                "structure": None if pd.isna(structure.iloc[i]) else str(structure.iloc[i]),
                "refuge": bool(refuge[i]),
                "depths": depths,
            }
        )
    ids = [r["building_id"] for r in rows]
    if len(set(ids)) != len(ids):
        raise DisasterDxError("building ids repeat; every building needs its own id")
    create_plan_tables(store)
    with store._write() as conn:
        conn.execute(delete(plan_buildings))
        for start in range(0, len(rows), 5000):
            conn.execute(insert(plan_buildings), rows[start : start + 5000])
        summary = {
            "buildings": len(rows),
            "skipped_without_position": int((~keep).sum()),
            "refuges": int(sum(r["refuge"] for r in rows)),
        }
        version = _bump_dataset(
            conn,
            store,
            "buildings",
            source=source,
            actor=actor,
            synthetic=synthetic,
            summary=summary,
        )
    log.info("buildings v%d saved: %d (%s)", version, len(rows), source)
    return version


def _texts(frame: pd.DataFrame, column: str) -> list[str | None]:
    """A text column's non-empty strings (None for anything else, or a missing column)."""
    if column not in frame:
        return [None] * len(frame)
    return [v.strip() if isinstance(v, str) and v.strip() else None for v in frame[column]]


def _json_number(value: float) -> float | str | None:
    """JSON-safe: NaN → null, ∞ → ``"inf"`` (PostgreSQL's JSON refuses Infinity)."""
    if np.isnan(value):
        return None
    if np.isinf(value):
        return "inf"
    return float(value)


def _from_json_number(value: Any) -> float:
    if value is None:
        return np.nan
    if value == "inf":
        return np.inf
    return float(value)


def load_buildings(store: Store) -> gpd.GeoDataFrame | None:
    """The stored buildings as a frame (columns as :func:`vertical_evacuation` reads them)."""
    import geopandas as gpd

    if not _has_tables(store):
        return None
    with store._read() as conn:
        rows = conn.execute(select(plan_buildings).order_by(plan_buildings.c.building_id)).all()
        exists = conn.execute(
            select(plan_datasets.c.version).where(plan_datasets.c.kind == "buildings")
        ).scalar_one_or_none()
    if exists is None:
        return None
    from disaster_dx.io.plateau import STRUCTURE_TYPES

    data: dict[str, Any] = {
        "building_id": [r.building_id for r in rows],
        "name": [r.name for r in rows],
        "lon": np.array([r.lon for r in rows], dtype=float),
        "lat": np.array([r.lat for r in rows], dtype=float),
        "height_m": np.array([np.nan if r.height_m is None else r.height_m for r in rows]),
        "storeys": pd.array([r.storeys for r in rows], dtype="Int64"),
        "structure": [r.structure for r in rows],
        "structure_ja": [STRUCTURE_TYPES.get(r.structure or "") for r in rows],
        "refuge": np.array([bool(r.refuge) for r in rows], dtype=bool),
    }
    for prefix in DEPTH_COLUMNS.values():
        data[f"{prefix}_depth_lower_m"] = np.array(
            [_from_json_number((r.depths.get(prefix) or {}).get("lower")) for r in rows]
        )
        data[f"{prefix}_depth_upper_m"] = np.array(
            [_from_json_number((r.depths.get(prefix) or {}).get("upper")) for r in rows]
        )
        data[f"{prefix}_depth_label"] = [(r.depths.get(prefix) or {}).get("label") for r in rows]
        data[f"{prefix}_in_area"] = np.array(
            [bool((r.depths.get(prefix) or {}).get("in_area")) for r in rows], dtype=bool
        )
    data["flood_duration_h"] = np.array(
        [_from_json_number((r.depths.get("flood") or {}).get("duration_h")) for r in rows]
    )
    landslide = [r.depths.get("landslide") or {} for r in rows]
    data["landslide_area"] = pd.Series([x.get("area") for x in landslide], dtype=object)
    data["landslide"] = pd.Series([x.get("kind") for x in landslide], dtype=object)
    wkb = np.array([r.footprint for r in rows], dtype=object)
    geometry = shapely.from_wkb(wkb) if len(rows) else np.zeros(0, dtype=object)
    return gpd.GeoDataFrame(data, geometry=list(geometry), crs="EPSG:4326")
