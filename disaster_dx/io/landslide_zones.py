"""土砂災害警戒区域 polygons in (国土数値情報 A33, or a prefecture's file in the same style).

:func:`landslide_zones_from_file` reads the designated areas of the 土砂災害防止法 from a
GeoJSON, GeoPackage or Shapefile (or a GeoDataFrame); :func:`add_landslide_zones` gives every
building the strictest area its footprint touches, in the ``landslide`` / ``landslide_area``
columns PLATEAU frames carry (:mod:`disaster_dx.io.plateau`), so plans judge both alike
(:mod:`disaster_dx.landslide`).

A33 attributes
--------------
国土数値情報 土砂災害警戒区域データ (A33), 製品仕様書 第1.1版 (平成25年度) to 第2.0版
(令和4年度以降), one feature per area:

- ``A33_001`` 現象の種類 (phenomenon): 1 急傾斜地の崩壊, 2 土石流, 3 地すべり;
- ``A33_002`` 区域区分 (area): 1 土砂災害警戒区域, 2 土砂災害特別警戒区域; since 第1.2版 also
  3 警戒区域（指定前）and 4 特別警戒区域（指定前）(surveyed, not yet designated);
- ``A33_003`` 都道府県コード: 2 digits (an integer in some releases: ``1`` for 01);
- ``A33_004`` 区域番号, ``A33_005`` 区域名, ``A33_006`` 所在地: as written;
- ``A33_007`` 公示日: as written (``9999/1/1`` when unknown);
- ``A33_008`` 特別警戒未指定フラグ: 0 特別警戒区域指定済み, 1 未指定 (newer releases only).

Codes arrive as integers, floats (``2.0`` from a Shapefile) or text. The older releases have no
指定前 codes and no ``A33_008``; prefectures' own files often name the columns in Japanese
(``現象の種類``, ``区域区分``, ``区域名`` …) and write the values as words (``土石流``,
``特別警戒区域``, ``レッドゾーン``): all of these are read. The 線 (line) features some
releases add for 土石流 are not areas and are skipped with a count.

An area whose class cannot be read is an error naming the feature and value, and nothing is
imported: guessing "warning" for an unreadable "special" would send people back into the red
zone.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from disaster_dx.errors import ImportFileError, Problem
from disaster_dx.io.hazard_zones import CRS, _pick, _polygonal, _read_layer, _show, _text
from disaster_dx.landslide import OUTSIDE_LABEL, ZoneLevel, level_of, zone_levels

if TYPE_CHECKING:
    import geopandas as gpd

log = logging.getLogger(__name__)

#: A33_001 現象の種類 → the phenomenon.
A33_KINDS: Mapping[str, str] = {"1": "急傾斜地の崩壊", "2": "土石流", "3": "地すべり"}
#: A33_002 区域区分 → (area label, level). 3 and 4 (指定前: surveyed, not yet designated)
#: exist since 製品仕様書 第1.2版 and are as strict as the designated areas.
A33_AREAS: Mapping[str, tuple[str, ZoneLevel]] = {
    "1": ("土砂災害警戒区域（指定済）", ZoneLevel.WARNING),
    "2": ("土砂災害特別警戒区域（指定済）", ZoneLevel.SPECIAL),
    "3": ("土砂災害警戒区域（指定前）", ZoneLevel.WARNING),
    "4": ("土砂災害特別警戒区域（指定前）", ZoneLevel.SPECIAL),
}

KIND_COLUMNS = ("A33_001", "現象の種類", "現象区分", "現象", "phenomenon")
AREA_COLUMNS = ("A33_002", "区域区分", "区域種別", "zone_type", "area_type")
_PREFECTURE_COLUMNS = ("A33_003", "都道府県コード")
_NUMBER_COLUMNS = ("A33_004", "区域番号")
_NAME_COLUMNS = ("A33_005", "区域名", "name")
_ADDRESS_COLUMNS = ("A33_006", "所在地")
_DATE_COLUMNS = ("A33_007", "公示日", "告示日")
_PENDING_COLUMNS = ("A33_008", "特別警戒未指定フラグ")

# Words prefectures write instead of codes, tried in order (special before warning).
_KIND_WORDS = (
    ("急傾斜", "急傾斜地の崩壊"),
    ("がけ崩れ", "急傾斜地の崩壊"),
    ("崖崩れ", "急傾斜地の崩壊"),
    ("土石流", "土石流"),
    ("地すべり", "地すべり"),
    ("地滑り", "地すべり"),
)

#: Columns of :attr:`LandslideZoneImport.zones` (plus ``geometry``).
ZONE_COLUMNS = (
    "kind",
    "area",
    "level",
    "designated",
    "special_pending",
    "prefecture_code",
    "zone_number",
    "name",
    "address",
    "notified",
)


@dataclass(frozen=True, eq=False)
class LandslideZoneImport:
    """Designated landslide areas read from one layer.

    Parameters
    ----------
    zones
        One row per area polygon, lon/lat: ``kind`` (phenomenon, or None when the file does
        not say), ``area`` (label, as PLATEAU's code list writes it), ``level``
        (:class:`~disaster_dx.landslide.ZoneLevel`: 1 警戒, 2 特別警戒), ``designated``
        (False for 指定前), ``special_pending`` (A33_008 = 1: the 特別警戒区域 inside this
        warning zone is not designated yet; None when absent), ``prefecture_code``,
        ``zone_number``, ``name``, ``address``, ``notified`` (公示日 as written, None when
        unknown) and ``geometry``.
    kind_column, area_column
        The columns the classes were read from.
    skipped
        Features without an area (lines, points, empty geometry), not imported.
    """

    zones: gpd.GeoDataFrame
    kind_column: str | None
    area_column: str
    skipped: int

    def summary(self) -> str:
        """One line for logs and the CLI."""
        levels = self.zones["level"].to_numpy() if len(self.zones) else np.zeros(0)
        special = int((levels == ZoneLevel.SPECIAL).sum())
        return (
            f"{len(self.zones)} 土砂災害警戒区域 area(s), of which {special} "
            f"特別警戒区域 (special); {self.skipped} feature(s) without an area skipped"
        )


def landslide_zones_from_file(
    source: Path | str | gpd.GeoDataFrame,
    *,
    layer: str | None = None,
    kind_column: str | None = None,
    area_column: str | None = None,
) -> LandslideZoneImport:
    """Read 土砂災害警戒区域 areas (A33 or the same style) from a file or frame.

    Parameters
    ----------
    source
        A ``.geojson``, ``.gpkg``, ``.shp`` … file, or a GeoDataFrame.
    layer
        Layer of a multi-layer file.
    kind_column, area_column
        Column names of 現象の種類 and 区域区分 when they are not the usual ones.

    Raises
    ------
    ImportFileError
        If there is no 区域区分 column, or any area class or phenomenon cannot be read; every
        bad feature is named with its number and value, and nothing is returned.
    """
    import geopandas as gpd

    label = "zones" if isinstance(source, gpd.GeoDataFrame) else Path(source).name
    frame = _read_layer(source, layer)
    columns = [str(c) for c in frame.columns if c != frame.geometry.name]
    area_col = _pick(columns, area_column, AREA_COLUMNS)
    kind_col = _pick(columns, kind_column, KIND_COLUMNS)
    missing = [
        name for name in (area_column, kind_column) if name is not None and name not in columns
    ]
    if area_col is None or missing:
        what = (
            f"no column {', '.join(map(repr, missing))}"
            if missing
            else f"no 区域区分 column (looked for {', '.join(AREA_COLUMNS)}); name it with "
            "area_column"
        )
        raise ImportFileError(label, [Problem(label, f"{what}. Columns: {', '.join(columns)}")])

    n = len(frame)
    problems: list[Problem] = []
    areas: list[str | None] = [None] * n
    levels = np.zeros(n, dtype=np.int8)
    designated = np.ones(n, dtype=bool)
    kinds: list[str | None] = [None] * n
    for i, value in enumerate(frame[area_col]):
        found = area_class(value)
        if found is None:
            problems.append(
                Problem(
                    f"{label} feature {i + 1}",
                    f"{area_col}={_show(value)} is not a 区域区分 (1 警戒区域, 2 特別警戒区域, "
                    "3/4 指定前, or the words)",
                )
            )
            continue
        areas[i], level = found
        levels[i] = level
        designated[i] = "指定前" not in areas[i]  # type: ignore[operator]
    if kind_col is not None:
        for i, value in enumerate(frame[kind_col]):
            if not _text(value):
                continue  # the file does not say: the area still counts
            kinds[i] = phenomenon(value)
            if kinds[i] is None:
                problems.append(
                    Problem(
                        f"{label} feature {i + 1}",
                        f"{kind_col}={_show(value)} is not a 現象の種類 (1 急傾斜地の崩壊, "
                        "2 土石流, 3 地すべり, or the words)",
                    )
                )
    if problems:
        raise ImportFileError(label, problems)

    def texts(candidates: Sequence[str], *, unknown: Sequence[str] = ()) -> list[str | None]:
        """A text column as written (names keep their full-width characters)."""
        column = _pick(columns, None, candidates)
        if column is None:
            return [None] * n
        out: list[str | None] = []
        for value in frame[column]:
            text = _code_text(value) if not isinstance(value, str) else value.strip()
            out.append(None if not text or text in unknown else text)
        return out

    pending_col = _pick(columns, None, _PENDING_COLUMNS)
    pending: list[bool | None] = [None] * n
    if pending_col is not None:
        for i, value in enumerate(frame[pending_col]):
            text = _code_text(value)
            pending[i] = True if text == "1" else False if text == "0" else None
    prefecture = [
        None if p is None else p.zfill(2) if p.isdigit() else p for p in texts(_PREFECTURE_COLUMNS)
    ]
    geoms, usable = _polygonal(np.asarray(frame.geometry.array, dtype=object))
    skipped = int((~usable).sum())
    if skipped:
        log.warning("%s: %d feature(s) without an area (lines, points) skipped", label, skipped)
    text_columns = {
        "kind": kinds,
        "area": areas,
        "special_pending": pending,
        "prefecture_code": prefecture,
        "zone_number": texts(_NUMBER_COLUMNS),
        "name": texts(_NAME_COLUMNS),
        "address": texts(_ADDRESS_COLUMNS),
        "notified": texts(_DATE_COLUMNS, unknown=("9999/1/1", "9999/01/01", "9999-01-01")),
    }
    zones = gpd.GeoDataFrame(
        {
            **{k: pd.Series(v, dtype=object) for k, v in text_columns.items()},
            "level": levels,
            "designated": designated,
        },
        geometry=list(geoms),
        crs=CRS,
    )[usable].reset_index(drop=True)[[*ZONE_COLUMNS, "geometry"]]
    result = LandslideZoneImport(zones, kind_col, area_col, skipped)
    log.info("%s: %s", label, result.summary())
    return result


def _code_text(value: Any) -> str:
    """A cell as text, with ``2.0`` (a Shapefile's number) read as ``2``."""
    text = unicodedata.normalize("NFKC", _text(value)).strip()
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    return text


def area_class(value: Any) -> tuple[str, ZoneLevel] | None:
    """(label, level) of an A33_002 code or a prefecture's wording; None when unreadable."""
    text = _code_text(value)
    if text in A33_AREAS:
        return A33_AREAS[text]
    if not text or text.isdigit():
        return None
    level = level_of(text)
    if level not in (ZoneLevel.WARNING, ZoneLevel.SPECIAL):
        return None
    pending = "指定前" in text
    name = "土砂災害特別警戒区域" if level is ZoneLevel.SPECIAL else "土砂災害警戒区域"
    return f"{name}（{'指定前' if pending else '指定済'}）", level


def phenomenon(value: Any) -> str | None:
    """The phenomenon of an A33_001 code or word; None when unreadable."""
    text = _code_text(value)
    if text in A33_KINDS:
        return A33_KINDS[text]
    for word, kind in _KIND_WORDS:
        if word in text:
            return kind
    return None


def add_landslide_zones(
    buildings: gpd.GeoDataFrame,
    zones: gpd.GeoDataFrame,
    *,
    coverage: shapely.Geometry | None = None,
) -> gpd.GeoDataFrame:
    """A copy of ``buildings`` with the strictest landslide area each footprint touches.

    Sets ``landslide_area`` (the area's label; :data:`~disaster_dx.landslide.OUTSIDE_LABEL`
    when the footprint touches none) and ``landslide`` (the phenomena of every area touched,
    ``・``-joined). One STRtree query for all footprints. A value already in the frame (from
    PLATEAU) is kept when it is stricter: the two sources are combined, never downgraded.

    Parameters
    ----------
    zones
        From :func:`landslide_zones_from_file`.
    coverage
        The area the zone file covers. Buildings outside it keep what they had (unknown
        when nothing); without it the zones are taken to cover every building given.
    """
    out = buildings.copy()
    n = len(out)
    before = zone_levels(out)
    old_area = (
        out["landslide_area"].astype(object).to_numpy()
        if "landslide_area" in out
        else np.full(n, None, dtype=object)
    )
    old_kind = (
        out["landslide"].astype(object).to_numpy()
        if "landslide" in out
        else np.full(n, None, dtype=object)
    )
    level = np.zeros(n, dtype=np.int8)
    area = np.full(n, OUTSIDE_LABEL, dtype=object)
    kinds: list[set[str]] = [set() for _ in range(n)]
    footprints = np.asarray(out.geometry.array, dtype=object)
    present = ~shapely.is_missing(footprints)
    if len(zones) and present.any():
        tree = shapely.STRtree(np.asarray(zones.geometry.array, dtype=object))
        index = np.flatnonzero(present)
        b, z = tree.query(footprints[index], predicate="intersects")
        b = index[b]
        zone_level = zones["level"].to_numpy(dtype=np.int8)
        zone_designated = zones["designated"].to_numpy(dtype=bool)
        zone_area = zones["area"].to_numpy(dtype=object)
        zone_kind = zones["kind"].to_numpy(dtype=object)
        # Strictest per building: sort hits by (building, level, designated), keep each last.
        order = np.lexsort((zone_designated[z], zone_level[z], b))
        b, z = b[order], z[order]
        last = np.ones(b.size, dtype=bool)
        last[:-1] = b[1:] != b[:-1]
        level[b[last]] = zone_level[z[last]]
        area[b[last]] = zone_area[z[last]]
        for building, kind in zip(b.tolist(), zone_kind[z].tolist(), strict=True):
            if kind:
                kinds[building].add(kind)
    covered = present.copy()
    if coverage is not None:
        covered &= shapely.intersects(footprints, coverage)
    keep_old = ~covered | (before > level)
    new_area = np.where(keep_old, old_area, area)
    new_kind = np.empty(n, dtype=object)
    for i in range(n):
        found = set(kinds[i])
        if isinstance(old_kind[i], str) and old_kind[i]:
            # PLATEAU's code list says 急傾斜地の崩落 where A33 says 急傾斜地の崩壊: one name.
            found.update(phenomenon(k) or k for k in old_kind[i].split("・"))
        new_kind[i] = "・".join(sorted(found)) if found else None
    out["landslide_area"] = pd.Series(new_area, index=out.index, dtype=object)
    out["landslide"] = pd.Series(new_kind, index=out.index, dtype=object)
    after = zone_levels(out)
    log.info(
        "landslide areas: %d 特別警戒区域, %d 警戒区域, %d outside, %d unknown of %d building(s)",
        int((after == ZoneLevel.SPECIAL).sum()),
        int((after == ZoneLevel.WARNING).sum()),
        int((after == ZoneLevel.OUTSIDE).sum()),
        int((after == ZoneLevel.UNKNOWN).sum()),
        n,
    )
    return out


def read_landslide_files(
    paths: Sequence[Path | str],
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Every zone file's areas as one frame (for buildings and for routing), one line per file.

    Read once per import: a PLATEAU import applies them to each tile it reads
    (:func:`add_landslide_zones`) and stores them once
    (:func:`disaster_dx.plans.save_landslide_zones`).
    """
    import geopandas as gpd
    import pandas as pd

    found = [landslide_zones_from_file(path) for path in paths]
    lines = [f"{Path(path).name}: {one.summary()}" for path, one in zip(paths, found, strict=True)]
    zones = gpd.GeoDataFrame(pd.concat([one.zones for one in found], ignore_index=True), crs=CRS)
    return zones, lines


def landslide_summary(buildings: pd.DataFrame) -> str:
    """How many buildings lie in each kind of area (one line for the import's report)."""
    levels = zone_levels(buildings)
    return (
        f"buildings: {int((levels == ZoneLevel.SPECIAL).sum())} in a 土砂災害特別警戒区域, "
        f"{int((levels == ZoneLevel.WARNING).sum())} in a 土砂災害警戒区域, "
        f"{int((levels == ZoneLevel.OUTSIDE).sum())} outside"
    )


def add_landslide_files(
    buildings: gpd.GeoDataFrame, paths: Sequence[Path | str]
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, list[str]]:
    """Read every zone file, give ``buildings`` their areas; return both and one line per file.

    The zones of all files are returned together (for routing, see
    :func:`disaster_dx.plans.save_landslide_zones`).
    """
    zones, lines = read_landslide_files(paths)
    out = add_landslide_zones(buildings, zones)
    lines.append(landslide_summary(out))
    return out, zones, lines
