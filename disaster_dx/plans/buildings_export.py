"""The stored buildings with every hazard's depth and vertical-evacuation verdict, for QGIS.

Planners and the city's GIS staff check the judgement building by building: why is this house
「判定不能」, which depth did that tower get? :func:`buildings_for_export` lays the stored
buildings (:func:`disaster_dx.plans.load_buildings`) out flat, one row per building with its
footprint (or its point when no footprint is stored), and
:func:`write_buildings` writes GeoJSON (``.geojson``) or GeoPackage (``.gpkg``) through pyogrio.

The verdicts come from :func:`disaster_dx.plans.vertical_evacuation` as it is (no second
opinion here), one set of columns per hazard with depth data. Fields, ASCII names for every GIS:

- ``building_id``, ``name``, ``height_m``, ``storeys``, ``structure`` (PLATEAU code),
  ``structure_ja``, ``usage``, ``usage_ja``, ``refuge`` (a designated 津波避難ビル),
  ``floor_m`` (the estimated floor height of the highest storey);
- per hazard ``<h>`` (``tsunami``, ``flood``, ``high_tide``, ``inland_flood``):
  ``<h>_depth_lower_m``, ``<h>_depth_upper_m`` (null when unknown or unbounded),
  ``<h>_depth_open`` (the deepest class, no upper bound), ``<h>_depth_label``, ``<h>_rank``,
  ``<h>_duration_h`` (浸水継続時間), ``<h>_vertical`` (``safe`` / ``not_safe`` / ``unknown``),
  ``<h>_vertical_ja`` and ``<h>_reason`` / ``<h>_reason_ja``.

A column the stored buildings do not carry (usage, rank or duration from an importer that does
not keep them) is written empty (null) rather than left out, so the layer's fields are the same
for every city. Nothing here is personal data; the export is still a staff command.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from disaster_dx.errors import DisasterDxError
from disaster_dx.plans import DEPTH_COLUMNS, vertical_evacuation

if TYPE_CHECKING:
    import geopandas as gpd

#: Output formats by file extension → pyogrio driver.
DRIVERS = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG"}

_BASE = ("building_id", "name", "height_m", "storeys", "structure", "structure_ja")
_OPTIONAL_TEXT = ("usage", "usage_ja")


def buildings_for_export(buildings: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One flat row per building: attributes, and per hazard depth, rank, duration, verdict."""
    import geopandas as gpd

    n = len(buildings)
    data: dict[str, Any] = {}
    for column in (*_BASE, *_OPTIONAL_TEXT):
        if column in buildings:
            data[column] = buildings[column].astype(object).where(buildings[column].notna(), None)
        else:
            data[column] = pd.Series([None] * n, dtype=object)
    data["height_m"] = pd.to_numeric(pd.Series(data["height_m"]), errors="coerce").astype(float)
    data["storeys"] = pd.to_numeric(pd.Series(data["storeys"]), errors="coerce").astype("Int64")
    data["refuge"] = (
        buildings["refuge"].fillna(False).astype(bool).to_numpy()
        if "refuge" in buildings
        else np.zeros(n, dtype=bool)
    )
    floor: np.ndarray | None = None
    for hazard, prefix in DEPTH_COLUMNS.items():
        judged = vertical_evacuation(buildings, hazard)
        if floor is None:
            floor = judged.floor_m
        upper = judged.depth_upper_m
        open_class = np.isinf(upper)
        data[f"{prefix}_depth_lower_m"] = _finite(judged.depth_lower_m)
        data[f"{prefix}_depth_upper_m"] = _finite(upper)
        data[f"{prefix}_depth_open"] = open_class
        data[f"{prefix}_depth_label"] = _text_column(buildings, f"{prefix}_depth_label", n)
        data[f"{prefix}_rank"] = _int_column(buildings, f"{prefix}_rank", n)
        data[f"{prefix}_duration_h"] = _duration(buildings, prefix, n)
        verdicts = [judged.vertical(i) for i in range(n)]
        reasons = [judged.reason_of(i) for i in range(n)]
        data[f"{prefix}_vertical"] = [v.value for v in verdicts]
        data[f"{prefix}_vertical_ja"] = [v.ja for v in verdicts]
        data[f"{prefix}_reason"] = [r.value for r in reasons]
        data[f"{prefix}_reason_ja"] = [r.ja for r in reasons]
    data["floor_m"] = _finite(floor if floor is not None else np.full(n, np.nan))
    frame = pd.DataFrame(data, index=pd.RangeIndex(n))
    return gpd.GeoDataFrame(frame, geometry=_geometry(buildings), crs="EPSG:4326")


def write_buildings(buildings: gpd.GeoDataFrame, path: Path | str) -> int:
    """Write :func:`buildings_for_export` of ``buildings`` to ``path``; returns the count.

    Raises
    ------
    DisasterDxError
        The extension is not .geojson or .gpkg.
    """
    path = Path(path)
    driver = DRIVERS.get(path.suffix.lower())
    if driver is None:
        raise DisasterDxError(
            f"{path.name}: write .geojson or .gpkg (GeoPackage); {path.suffix or 'no extension'} "
            "is not supported"
        )
    frame = buildings_for_export(buildings)
    if path.exists():
        path.unlink()  # GeoPackage would otherwise add a layer to the old file
    options: dict[str, Any] = {"layer": "buildings"} if driver == "GPKG" else {}
    frame.to_file(path, driver=driver, engine="pyogrio", **options)
    return len(frame)


def _finite(values: np.ndarray) -> pd.Series:
    """Floats with NaN and ±inf as null (GeoJSON has no infinity)."""
    out = np.asarray(values, dtype=float).copy()
    out[~np.isfinite(out)] = np.nan
    return pd.Series(out, dtype=float)


def _text_column(frame: pd.DataFrame, name: str, n: int) -> pd.Series:
    if name not in frame:
        return pd.Series([None] * n, dtype=object)
    column = frame[name].astype(object)
    return column.where(column.notna(), None).reset_index(drop=True)


def _int_column(frame: pd.DataFrame, name: str, n: int) -> pd.Series:
    if name not in frame:
        return pd.Series([pd.NA] * n, dtype="Int64")
    return pd.to_numeric(frame[name], errors="coerce").astype("Int64").reset_index(drop=True)


def _duration(frame: pd.DataFrame, prefix: str, n: int) -> pd.Series:
    for name in (f"{prefix}_duration_h", f"{prefix}_duration"):
        if name in frame:
            return _finite(pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float))
    return pd.Series(np.full(n, np.nan), dtype=float)


def _geometry(buildings: gpd.GeoDataFrame) -> np.ndarray:
    """Footprints in EPSG:4326, the stored point where a building has none."""
    frame = buildings.to_crs("EPSG:4326") if buildings.crs is not None else buildings
    geoms = np.asarray(frame.geometry.array, dtype=object) if len(frame) else np.zeros(0, object)
    missing = shapely.is_missing(geoms) if len(geoms) else np.zeros(0, dtype=bool)
    if missing.any():
        if "lon" not in frame or "lat" not in frame:
            raise DisasterDxError(
                f"{int(missing.sum())} buildings have neither footprint nor point"
            )
        lon = pd.to_numeric(frame["lon"], errors="coerce").to_numpy(dtype=float)
        lat = pd.to_numeric(frame["lat"], errors="coerce").to_numpy(dtype=float)
        geoms = geoms.copy()
        geoms[missing] = shapely.points(lon[missing], lat[missing])
    return geoms
