"""The building frame: its columns, per-hazard summaries, and writing it to a GeoPackage."""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from disaster_dx.io.plateau.codes import (
    CRS,
    DEPTH_HAZARDS,
    HAZARDS,
    RANK_LOWER_M,
    RiskSource,
)
from disaster_dx.io.plateau.geometry import materialise

if TYPE_CHECKING:
    import geopandas as gpd

log = logging.getLogger(__name__)

#: Columns of :attr:`BuildingImport.buildings`, in order (plus ``geometry``).
COLUMNS: tuple[str, ...] = (
    "building_id",
    "gml_id",
    "name",
    "height_m",
    "storeys",
    "storeys_below",
    "structure",
    "structure_ja",
    "usage",
    "usage_ja",
    *(
        column
        for kind in DEPTH_HAZARDS
        for column in (
            f"{kind}_depth_m",
            f"{kind}_rank",
            f"{kind}_depth_lower_m",
            f"{kind}_depth_upper_m",
            *(("flood_duration_h",) if kind == "flood" else ()),
            f"{kind}_sources",
        )
    ),
    "landslide",
    "landslide_area",
    "landslide_sources",
    "footprint_source",
    "source_file",
    "tile",
)
FLOAT_COLUMNS = (
    "height_m",
    "flood_duration_h",
    *(
        f"{kind}_{suffix}"
        for kind in DEPTH_HAZARDS
        for suffix in ("depth_m", "depth_lower_m", "depth_upper_m")
    ),
)
INT_COLUMNS = ("storeys", "storeys_below", *(f"{kind}_rank" for kind in DEPTH_HAZARDS))
SOURCE_COLUMNS = tuple(f"{kind}_sources" for kind in HAZARDS)
SUMMARY_SUFFIXES = ("depth_m", "depth_lower_m", "rank", "depth_upper_m", "sources")


def write_buildings(
    buildings: gpd.GeoDataFrame, path: str | os.PathLike[str], *, layer: str = "buildings"
) -> int:
    """Write buildings to a GeoPackage atomically (temp file + rename).

    Parameters
    ----------
    buildings
        A frame from :func:`buildings_from_citygml`.
    path
        The ``.gpkg`` file; replaced if it exists.
    layer
        Layer name.

    Returns
    -------
    int
        The number of buildings written.

    Notes
    -----
    The ``*_sources`` columns hold lists of :class:`RiskSource` in memory; GeoPackage has no
    list type, so they are written as JSON text (``json.loads`` gives the lists back; an
    unbounded ``depth_upper_m`` of rank 6 is written as ``Infinity``, which Python reads but
    strict JSON parsers do not).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    frame = buildings.copy()
    for column in SOURCE_COLUMNS:
        if column in frame.columns:
            frame[column] = [
                None if value is None else json.dumps(list(value), ensure_ascii=False)
                for value in frame[column]
            ]
    temp = target.with_name(f".{target.name}.tmp.gpkg")  # GDAL warns on other extensions
    temp.unlink(missing_ok=True)
    try:
        frame.to_file(temp, driver="GPKG", layer=layer)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    log.info("wrote %d buildings to %s", len(frame), target)
    return len(frame)


_SUMMARY_KEYS = {
    kind: tuple(f"{kind}_{suffix}" for suffix in SUMMARY_SUFFIXES) for kind in DEPTH_HAZARDS
}


def summarise_depths(row: dict[str, Any], kind: str, sources: list[RiskSource]) -> None:
    """Per hazard: the greatest depth, rank, least and greatest bound over the sources."""
    # One pass (runs for every hazard of every building); the first of equal values is kept,
    # as max() would.
    depth = rank = upper = lower = duration = None
    for source in sources:
        value = source.get("depth_m")
        if value is not None and (depth is None or value > depth):
            depth = value
        code = source.get("rank")
        if code is not None and (rank is None or code > rank):
            rank = code
        bound = source.get("depth_upper_m")
        if bound is not None and (upper is None or bound > upper):
            upper = bound
        floor = _lower(source)
        if floor is not None and (lower is None or floor > lower):
            lower = floor
        hours = source.get("duration_h")
        if hours is not None and (duration is None or hours > duration):
            duration = hours
    depth_key, lower_key, rank_key, upper_key, sources_key = _SUMMARY_KEYS[kind]
    row[depth_key] = depth
    row[lower_key] = lower
    row[rank_key] = rank
    row[upper_key] = upper
    if kind == "flood":
        row["flood_duration_h"] = duration
    row[sources_key] = sources


def summarise_landslide(row: dict[str, Any], sources: list[RiskSource]) -> None:
    """The phenomena, and the strictest designated area (特別警戒区域 first)."""
    if not sources:
        row["landslide"] = row["landslide_area"] = None
    else:
        kinds = sorted({s.get("kind") or "土砂災害" for s in sources})
        areas = [s["area"] for s in sources if s.get("area")]
        special = [a for a in areas if a and "特別" in a]
        row["landslide"] = "・".join(kinds)
        row["landslide_area"] = (special or areas or [None])[0]
    row["landslide_sources"] = sources


def make_frame(columns: dict[str, list[Any]]) -> gpd.GeoDataFrame:
    """The frame from column lists (emptied as they are converted, to bound peak memory)."""
    import geopandas as gpd  # only where a frame is made: import-buildings makes none
    import pandas as pd

    data: dict[str, Any] = {}
    for column in COLUMNS:
        values = columns.pop(column)
        if column in FLOAT_COLUMNS:
            data[column] = np.array(
                [math.nan if v is None else v for v in values], dtype=np.float64
            )
        elif column in INT_COLUMNS:
            data[column] = pd.array(values, dtype="Int64")
        else:
            data[column] = pd.Series(values, dtype=object)
    geometry = gpd.GeoSeries(materialise(columns.pop("geometry")), crs=CRS)
    return gpd.GeoDataFrame(data, geometry=geometry, crs=CRS)


def _lower(source: RiskSource) -> float | None:
    """The least depth a source says the water reaches: its depth, else its class's floor."""
    depth = source.get("depth_m")
    if depth is not None:
        return depth
    rank = source.get("rank")
    if rank is not None:
        return RANK_LOWER_M[rank]
    return source.get("rank_org_lower_m")


def empty_columns() -> dict[str, list[Any]]:
    """Column lists for :func:`make_frame`, filled one building at a time."""
    return {column: [] for column in (*COLUMNS, "geometry")}
