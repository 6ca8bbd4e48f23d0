"""Building storage for plans: footprints, heights, structures and depths per hazard.

Buildings are stored per *tile* (a PLATEAU mesh; ``""`` for a frame with no tiles): a city's
model is hundreds of tiles, imported a few at a time, so :func:`save_building_tiles` replaces
only the tiles it is given. :func:`save_buildings` replaces everything (demo, polygon layers).

Per depth hazard the ``depths`` JSON holds ``{"lower", "upper", "label"}`` and, when the
building is known to be in the area although its depth is not, ``"in_area": true`` (the
wooden-in-tsunami rule needs it); river flooding adds ``"duration_h"`` (浸水継続時間).
Landslide is ``depths["landslide"] = {"area": …, "kind": …}``: the strictest 土砂災害警戒区域
label (or 区域外) and the phenomena. Absent means unknown.
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from numpy.typing import NDArray
from sqlalchemy import delete, func, insert, select

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
    import pandas as pd

# pandas (~0.2 s to import) only where a frame is read or made: import-buildings makes rows
# from PLATEAU's column lists and needs none.

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildingRows:
    """One frame's buildings as table rows, and what could not become a row.

    Parameters
    ----------
    rows
        Rows for :data:`plan_buildings`, one per building kept.
    skipped_without_position
        Buildings with neither a footprint nor ``lon``/``lat``.
    skipped_without_id
        Buildings with neither ``building_id`` nor ``gml_id``.
    keyed_by_gml_id
        Buildings without ``building_id`` stored under their ``gml_id``.
    """

    rows: list[dict[str, Any]]
    skipped_without_position: int
    skipped_without_id: int
    keyed_by_gml_id: int


@dataclass(frozen=True)
class TileSave:
    """What storing one tile did.

    Parameters
    ----------
    tile
        The tile key.
    replaced
        Buildings of this tile stored before and removed now.
    stored
        Buildings stored for it.
    skipped_stored_elsewhere
        Buildings already stored under another tile (a tile border): the stored copy kept.
    """

    tile: str
    replaced: int
    stored: int
    skipped_stored_elsewhere: int


@dataclass(frozen=True)
class TilesSaveReport:
    """What :func:`save_building_tiles` changed."""

    version: int
    tiles: tuple[TileSave, ...]
    removed_other_tiles: int
    total_buildings: int
    total_tiles: int


def building_rows(buildings: gpd.GeoDataFrame, *, tile: str = "") -> BuildingRows:
    """Table rows for ``buildings`` (kept compact: an import holds these, not the frames).

    Accepts frames from :mod:`disaster_dx.io.plateau` and :mod:`disaster_dx.io.hazard_zones`:
    per depth hazard the stored depth is ``<h>_depth_lower_m`` (or PLATEAU's ``<h>_depth_m``),
    ``<h>_depth_upper_m`` and a label; PLATEAU's ``landslide``/``landslide_area`` go into the
    same JSON under ``landslide``. Unknown stays unknown (JSON null). Buildings without a
    footprint are kept with their representative point when they have one. The key is
    ``building_id``, else ``gml_id`` (counted); the tile is the frame's ``tile`` column when it
    has one, else ``tile``.
    """
    import pandas as pd

    frame = buildings.to_crs("EPSG:4326") if buildings.crs is not None else buildings
    n = len(frame)
    given: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None
    if "lon" in frame and "lat" in frame:
        given = (
            pd.to_numeric(frame["lon"], errors="coerce").to_numpy(dtype=float),
            pd.to_numeric(frame["lat"], errors="coerce").to_numpy(dtype=float),
        )
    refuge = (
        frame["refuge"].fillna(False).to_numpy(dtype=bool)
        if "refuge" in frame
        else np.zeros(n, dtype=bool)
    ).tolist()
    columns: dict[str, list[Any]] = {
        "height_m": _float_column(frame, "height_m").tolist(),
        "storeys": _float_column(frame, "storeys").tolist(),
        "refuge": refuge,
        "flood_duration_h": _float_column(frame, "flood_duration_h").tolist(),
    }
    for name in _TEXT_COLUMNS:
        columns[name] = _objects(frame, name).tolist()
    for prefix in DEPTH_COLUMNS.values():
        lower = f"{prefix}_depth_lower_m" if f"{prefix}_depth_lower_m" in frame else None
        lower_m = _float_column(frame, lower or f"{prefix}_depth_m")
        columns[f"{prefix}_depth_lower_m"] = lower_m.tolist()
        columns[f"{prefix}_in_area"] = _known_in_area(frame, prefix, lower_m).tolist()
        columns[f"{prefix}_depth_upper_m"] = _float_column(
            frame, f"{prefix}_depth_upper_m"
        ).tolist()
        columns[f"{prefix}_depth_label"] = _objects(frame, f"{prefix}_depth_label").tolist()
        columns[f"{prefix}_rank"] = _objects(frame, f"{prefix}_rank").tolist()
    return _rows(np.asarray(frame.geometry.array, dtype=object), given, columns, tile)


def building_rows_from_columns(
    columns: Mapping[str, Sequence[Any]], geometry: Sequence[Any], *, tile: str = ""
) -> BuildingRows:
    """:func:`building_rows` for PLATEAU column lists (lon/lat shapes), without a frame.

    ``columns`` are :data:`disaster_dx.io.plateau.COLUMNS` as read (``None`` for unknown);
    the rows are the ones :func:`building_rows` makes from the same buildings' frame, at a
    fraction of the cost (a city import makes hundreds of tiles' rows).
    """
    n = len(geometry)

    def floats(name: str) -> list[float]:
        values = columns.get(name)
        if values is None:
            return [math.nan] * n
        return [math.nan if v is None else float(v) for v in values]

    prepared: dict[str, list[Any]] = {
        "height_m": floats("height_m"),
        "storeys": floats("storeys"),
        "refuge": [False] * n,
        "flood_duration_h": floats("flood_duration_h"),
    }
    for name in _TEXT_COLUMNS:
        prepared[name] = list(columns.get(name) or [None] * n)
    for prefix in DEPTH_COLUMNS.values():
        lower = f"{prefix}_depth_lower_m" if f"{prefix}_depth_lower_m" in columns else None
        prepared[f"{prefix}_depth_lower_m"] = floats(lower or f"{prefix}_depth_m")
        prepared[f"{prefix}_depth_upper_m"] = floats(f"{prefix}_depth_upper_m")
        prepared[f"{prefix}_depth_label"] = list(columns.get(f"{prefix}_depth_label") or [None] * n)
        prepared[f"{prefix}_rank"] = list(columns.get(f"{prefix}_rank") or [None] * n)
        prepared[f"{prefix}_in_area"] = _in_area_from_lists(
            prepared[f"{prefix}_depth_lower_m"],
            columns.get(f"{prefix}_rank"),
            columns.get(f"{prefix}_sources"),
            prepared[f"{prefix}_depth_label"],
        )
    return _rows(np.asarray(geometry, dtype=object), None, prepared, tile)


def _in_area_from_lists(
    lower: Sequence[float],
    rank: Sequence[Any] | None,
    sources: Sequence[Any] | None,
    label: Sequence[Any],
) -> list[bool]:
    """:func:`~disaster_dx.plans.judgement._known_in_area` for PLATEAU column lists (no pandas).

    In the area although the depth may be unknown: a lower bound above 0, a rank, a risk
    record, or a zone label other than 区域外.
    """
    known = []
    for i, low in enumerate(lower):
        text = _present(label[i])
        known.append(
            (not math.isnan(low) and low > 0)
            or (rank is not None and rank[i] is not None)
            or (
                sources is not None and isinstance(sources[i], list | tuple) and len(sources[i]) > 0
            )
            or (text is not None and text != "区域外")
        )
    return known


_TEXT_COLUMNS = (
    "structure",
    "name",
    "building_id",
    "gml_id",
    "tile",
    "landslide",
    "landslide_area",
    "usage",
)


def _rows(
    geoms: NDArray[np.object_],
    given: tuple[NDArray[np.float64], NDArray[np.float64]] | None,
    columns: Mapping[str, list[Any]],
    tile: str,
) -> BuildingRows:
    """The rows from lon/lat geometries and plain per-building lists (NaN for unknown)."""
    n = len(geoms)
    present = ~shapely.is_missing(geoms)
    points = np.full(n, None, dtype=object)
    points[present] = shapely.point_on_surface(geoms[present])
    lon = np.where(present, shapely.get_x(points.astype(object)), np.nan)
    lat = np.where(present, shapely.get_y(points.astype(object)), np.nan)
    if given is not None:
        lon = np.where(np.isnan(lon), given[0], lon)
        lat = np.where(np.isnan(lat), given[1], lat)
    keep = ~(np.isnan(lon) | np.isnan(lat))
    wkb = np.full(n, None, dtype=object)
    wkb[present] = shapely.to_wkb(geoms[present])
    # Plain lists: per-element access to numpy scalars costs more than the rest of the loop.
    height, storeys, refuge = columns["height_m"], columns["storeys"], columns["refuge"]
    structure, names = columns["structure"], columns["name"]
    ids, gml_ids, tiles = columns["building_id"], columns["gml_id"], columns["tile"]
    landslide, landslide_area = columns["landslide"], columns["landslide_area"]
    duration = columns["flood_duration_h"]
    depth_columns = [
        (
            prefix,
            columns[f"{prefix}_depth_lower_m"],
            columns[f"{prefix}_depth_upper_m"],
            columns[f"{prefix}_depth_label"],
            columns[f"{prefix}_in_area"],
            columns[f"{prefix}_rank"],
        )
        for prefix in DEPTH_COLUMNS.values()
    ]
    usage = columns["usage"]
    lon_list, lat_list, wkb_list = lon.tolist(), lat.tolist(), wkb.tolist()
    isnan = math.isnan
    rows = []
    without_id = by_gml_id = 0
    for i in np.flatnonzero(keep).tolist():
        key = _present(ids[i])
        if key is None:
            key = _present(gml_ids[i])
            if key is None:
                without_id += 1
                continue
            by_gml_id += 1
        depths: dict[str, Any] = {}
        for prefix, lower, upper, label, in_area, rank in depth_columns:
            if not isnan(upper[i]) or in_area[i]:
                depths[prefix] = {
                    "lower": _json_number(lower[i]),
                    "upper": _json_number(upper[i]),
                    "label": _present(label[i]),
                }
                if in_area[i]:
                    depths[prefix]["in_area"] = True
                if _present(rank[i]) is not None:
                    depths[prefix]["rank"] = int(float(rank[i]))  # PLATEAU 浸水ランク 1–6
        if not isnan(duration[i]) and duration[i] >= 0:
            depths.setdefault("flood", {"lower": None, "upper": None, "label": None})
            depths["flood"]["duration_h"] = float(duration[i])
        # The area alone counts too: 区域外 from an A33 overlay is known, not unknown.
        if _present(landslide[i]) is not None or _present(landslide_area[i]) is not None:
            depths["landslide"] = {
                "kind": _present(landslide[i]),
                "area": _present(landslide_area[i]),
            }
        name = _present(names[i])
        rows.append(
            {
                "building_id": key,
                "tile": _present(tiles[i]) or tile,
                "name": None if name is None else str(names[i])[:300],
                "lon": lon_list[i],
                "lat": lat_list[i],
                "footprint": wkb_list[i],
                "height_m": None if isnan(height[i]) else height[i],
                "storeys": None if isnan(storeys[i]) else int(storeys[i]),
                "structure": _present(structure[i]),
                "usage": _present(usage[i]),
                "refuge": refuge[i],
                "depths": depths,
            }
        )
    return BuildingRows(rows, int((~keep).sum()), without_id, by_gml_id)


def _objects(frame: pd.DataFrame, column: str) -> NDArray[np.object_]:
    if column not in frame:
        return np.full(len(frame), None, dtype=object)
    values: NDArray[np.object_] = frame[column].astype(object).to_numpy()
    return values


def _present(value: Any) -> str | None:
    """``value`` as text; ``None`` for missing values (never the text ``'None'``)."""
    if type(value) is str:
        return value.strip() or None
    if value is None:
        return None
    if type(value) is int:
        return str(value)
    if type(value) is float:
        return None if math.isnan(value) else str(value)
    if not isinstance(value, str):
        import pandas as pd

        if pd.isna(value):
            return None
    text = str(value).strip()
    return text or None


def save_buildings(
    store: Store,
    buildings: gpd.GeoDataFrame,
    *,
    actor: str,
    source: str,
    synthetic: bool = False,
) -> int:
    """Make ``buildings`` the building set for plans (replacing every stored tile).

    See :func:`building_rows` for what is stored; :func:`save_building_tiles` adds or
    replaces tiles instead.

    Raises
    ------
    DisasterDxError
        If building ids repeat.
    """
    found = building_rows(buildings)
    rows = found.rows
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
            "skipped_without_position": found.skipped_without_position,
            "skipped_without_id": found.skipped_without_id,
            "keyed_by_gml_id": found.keyed_by_gml_id,
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


_SPOOL_COLUMNS = (
    "building_id",
    "tile",
    "name",
    "lon",
    "lat",
    "footprint",
    "height_m",
    "storeys",
    "structure",
    "usage",
    "refuge",
    "depths",
)


class TileSpool(Mapping[str, list[dict[str, Any]]]):
    """Tiles' rows spooled to a temporary SQLite file, read back one tile at a time.

    A city import reads hundreds of tiles before its one write transaction; keeping every
    tile's rows in memory until then made peak memory grow with the city. Here each tile's
    rows go to disk as soon as they are made, and :func:`save_building_tiles` (which takes any
    mapping of tile → rows) loads one tile at a time. ``depths`` round-trips through JSON,
    which keeps its numbers exactly. Use as a context manager: the file is removed on exit.
    """

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="dx_tiles_")
        self._db = sqlite3.connect(Path(self._dir.name) / "spool.sqlite3")
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        columns = ", ".join(_SPOOL_COLUMNS)
        self._db.execute(f"CREATE TABLE spool (seq INTEGER PRIMARY KEY, {columns})")
        marks = ", ".join("?" * (len(_SPOOL_COLUMNS) + 1))
        self._insert = f"INSERT INTO spool (seq, {columns}) VALUES ({marks})"
        #: Each tile's rows are one run of ``seq`` (first, end): read back by primary key.
        self._tiles: dict[str, tuple[int, int]] = {}
        self._next = 0

    def add(self, tile: str, rows: Sequence[dict[str, Any]]) -> None:
        """Spool ``rows`` as ``tile``'s (a tile added twice is an error: keys are unique)."""
        if tile in self._tiles:
            raise ValueError(f"tile {tile!r} spooled twice")
        first = self._next
        self._db.executemany(
            self._insert,
            (
                (
                    first + n,
                    *(
                        json.dumps(row[c]) if c == "depths" else tile if c == "tile" else row[c]
                        for c in _SPOOL_COLUMNS
                    ),
                )
                for n, row in enumerate(rows)
            ),
        )
        self._db.commit()
        self._next = first + len(rows)
        self._tiles[tile] = (first, self._next)

    def __getitem__(self, tile: str) -> list[dict[str, Any]]:
        first, end = self._tiles[tile]
        found = self._db.execute(
            f"SELECT {', '.join(_SPOOL_COLUMNS)} FROM spool WHERE seq >= ? AND seq < ? "
            "ORDER BY seq",
            (first, end),
        )
        rows = []
        for values in found:
            row = dict(zip(_SPOOL_COLUMNS, values, strict=True))
            row["refuge"] = bool(row["refuge"])
            row["depths"] = json.loads(row["depths"])
            rows.append(row)
        return rows

    def __iter__(self) -> Iterator[str]:
        return iter(self._tiles)

    def __len__(self) -> int:
        return len(self._tiles)

    def __contains__(self, tile: object) -> bool:
        return tile in self._tiles

    def close(self) -> None:
        """Remove the spool file."""
        self._db.close()
        self._dir.cleanup()

    def __enter__(self) -> TileSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def save_building_tiles(
    store: Store,
    tiles: Mapping[str, Sequence[dict[str, Any]]],
    *,
    actor: str,
    source: str,
    replace_all: bool = False,
    synthetic: bool = False,
    summary: Mapping[str, Any] | None = None,
) -> TilesSaveReport:
    """Add or replace the given tiles' buildings, leaving every other tile as it is.

    Parameters
    ----------
    tiles
        Rows (from :func:`building_rows`) by tile key; a tile given with no rows is emptied.
    replace_all
        Remove every stored building first (the other tiles too).
    summary
        Extra counts for the dataset record (e.g. problems found while reading).

    A building already stored under a tile that is not being replaced (the same id on both
    sides of a tile border) keeps its stored copy; the new copy is counted in
    :attr:`TileSave.skipped_stored_elsewhere`. Everything runs in one write transaction, and
    the dataset version is bumped once.
    """
    create_plan_tables(store)
    keys = list(tiles)
    saved: list[TileSave] = []
    column = plan_buildings.c
    with store._write() as conn:
        removed_other = 0
        counts: dict[str, int]
        if replace_all:
            counts = {
                k: int(v)
                for k, v in conn.execute(select(column.tile, func.count()).group_by(column.tile))
            }
            removed_other = sum(v for k, v in counts.items() if k not in tiles)
            conn.execute(delete(plan_buildings))
        else:
            counts = {}
            for chunk in _chunks(keys, 500):
                counts.update(
                    (k, int(v))
                    for k, v in conn.execute(
                        select(column.tile, func.count())
                        .where(column.tile.in_(chunk))
                        .group_by(column.tile)
                    )
                )
                conn.execute(delete(plan_buildings).where(column.tile.in_(chunk)))
        for key in keys:
            rows = [dict(row, tile=key) for row in tiles[key]]
            taken: set[str] = set()
            for chunk in _chunks([r["building_id"] for r in rows], 500):
                taken.update(
                    conn.execute(
                        select(column.building_id).where(column.building_id.in_(chunk))
                    ).scalars()
                )
            fresh = []
            for row in rows:
                if row["building_id"] not in taken:
                    taken.add(row["building_id"])
                    fresh.append(row)
            for start in range(0, len(fresh), 5000):
                conn.execute(insert(plan_buildings), fresh[start : start + 5000])
            saved.append(TileSave(key, int(counts.get(key, 0)), len(fresh), len(rows) - len(fresh)))
        total = int(conn.execute(select(func.count()).select_from(plan_buildings)).scalar_one())
        total_tiles = int(conn.execute(select(func.count(func.distinct(column.tile)))).scalar_one())
        record = {
            "buildings": total,
            "tiles": total_tiles,
            "imported_tiles": len(keys),
            "stored": sum(t.stored for t in saved),
            "replaced": sum(t.replaced for t in saved) + removed_other,
            "skipped_stored_elsewhere": sum(t.skipped_stored_elsewhere for t in saved),
            "replace_all": replace_all,
            **dict(summary or {}),
        }
        version = _bump_dataset(
            conn,
            store,
            "buildings",
            source=source,
            actor=actor,
            synthetic=synthetic,
            summary=record,
        )
    log.info(
        "buildings v%d: %d tile(s) saved, %d buildings stored in %d tile(s) (%s)",
        version,
        len(keys),
        total,
        total_tiles,
        source,
    )
    return TilesSaveReport(version, tuple(saved), removed_other, total, total_tiles)


def _chunks(values: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _json_number(value: float) -> float | str | None:
    """JSON-safe: NaN → null, ∞ → ``"inf"`` (PostgreSQL's JSON refuses Infinity)."""
    if math.isnan(value):
        return None
    if math.isinf(value):
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
    import pandas as pd

    if not _has_tables(store):
        return None
    with store._read() as conn:
        rows = conn.execute(select(plan_buildings).order_by(plan_buildings.c.building_id)).all()
        exists = conn.execute(
            select(plan_datasets.c.version).where(plan_datasets.c.kind == "buildings")
        ).scalar_one_or_none()
    if exists is None:
        return None
    from disaster_dx.io.plateau import STRUCTURE_TYPES, USAGES

    data: dict[str, Any] = {
        "building_id": [r.building_id for r in rows],
        "tile": [r.tile for r in rows],
        "name": [r.name for r in rows],
        "lon": np.array([r.lon for r in rows], dtype=float),
        "lat": np.array([r.lat for r in rows], dtype=float),
        "height_m": np.array([np.nan if r.height_m is None else r.height_m for r in rows]),
        "storeys": pd.array([r.storeys for r in rows], dtype="Int64"),
        "structure": [r.structure for r in rows],
        "structure_ja": [STRUCTURE_TYPES.get(r.structure or "") for r in rows],
        "usage": pd.Series([r.usage for r in rows], dtype=object),
        "usage_ja": pd.Series([USAGES.get(r.usage or "") for r in rows], dtype=object),
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
        data[f"{prefix}_rank"] = pd.array(
            [(r.depths.get(prefix) or {}).get("rank") for r in rows], dtype="Int64"
        )
    data["flood_duration_h"] = np.array(
        [_from_json_number((r.depths.get("flood") or {}).get("duration_h")) for r in rows]
    )
    landslide = [r.depths.get("landslide") or {} for r in rows]
    # Object columns: unknown stays None (a str column would turn it into NaN).
    data["landslide"] = pd.Series([x.get("kind") for x in landslide], dtype=object)
    data["landslide_area"] = pd.Series([x.get("area") for x in landslide], dtype=object)
    wkb = np.array([r.footprint for r in rows], dtype=object)
    geometry = shapely.from_wkb(wkb) if len(rows) else np.zeros(0, dtype=object)
    return gpd.GeoDataFrame(data, geometry=list(geometry), crs="EPSG:4326")
