"""Buildings and their hazard depths where there is no PLATEAU model.

Most towns (Nankoku among them) have no PLATEAU 3D city model yet, but every town has building
footprints (an OpenStreetMap export, 基盤地図情報 建築物の外周線, a city GIS layer) and the
official hazard maps as polygons of depth classes: 国土数値情報 津波浸水想定 (A40) and
洪水浸水想定区域 (A31), or a prefecture's own files in the same style. This module turns those into
the same building frame :mod:`disaster_dx.io.plateau` produces, so
:mod:`disaster_dx.plans` judges both alike.

- :func:`buildings_from_polygons` reads any polygon layer (GeoPackage, GeoJSON, Shapefile, or a
  GeoDataFrame) into building rows with ``building_id``, ``name``, ``height_m``, ``storeys``,
  ``structure``/``structure_ja`` (PLATEAU structure codes) and ``refuge`` (a designated
  津波避難ビル), guessing the usual column names of OSM, 基盤地図情報 and PLATEAU exports.
  Attributes that are missing or unreadable are *unknown* (NaN / ``<NA>`` / ``None``), never
  zero, and each unreadable value is reported.
- :func:`hazard_zones_from_file` reads depth-class polygons into ``depth_lower_m`` /
  ``depth_upper_m`` ranges. A40 ``A40_003`` holds the class as text in each prefecture's own
  wording ("0.3m以上 1m未満", "10m以上", "0.5m未満", "5～10m" …), which :func:`depth_range`
  parses; A31 ``A31_001`` holds a rank code (:data:`A31_RANK_CODES`); PLATEAU's national 浸水ランク
  1–6 are accepted too.
- :func:`add_zone_depths` gives every building the depth range of the deepest zone its
  footprint touches, as ``<hazard>_depth_lower_m``, ``<hazard>_depth_upper_m`` and
  ``<hazard>_depth_label``; ``<hazard>_depth_upper_m`` is the column PLATEAU frames carry too.

Ranges, judged conservatively
-----------------------------
A depth class is a range, never one number: "3m以上 5m未満" keeps ``lower=3``, ``upper=5``. A
building touching several classes takes the deepest one (the class polygons are coarse and the
water does not stop at their edges). Judgements use the **upper** bound; an open class
("10m以上", rank 6) has ``upper=inf`` and can never be judged safe.

A building touching no zone gets ``0`` / ``0`` and the label ``区域外`` (outside the assumed
area), which is how a hazard map is read. When the zone file covers only part of the buildings'
area, pass ``coverage`` (the area the map was made for): buildings outside it stay *unknown*
(NaN), because "not on the map" is not "dry".
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from disaster_dx._parsing import check_size
from disaster_dx.errors import ImportFileError, Problem
from disaster_dx.io.plateau import RANK_UPPER_M, STRUCTURE_TYPES

if TYPE_CHECKING:
    import geopandas as gpd

log = logging.getLogger(__name__)

#: CRS of every returned frame.
CRS = "EPSG:4326"

#: Hazard names used in building columns (PLATEAU's), e.g. ``tsunami_depth_upper_m``.
ZONE_HAZARDS = ("tsunami", "flood", "high_tide", "inland_flood")

#: 国土数値情報 A31 (洪水浸水想定区域) 浸水深ランクコード → (lower, upper) metres. ``1x`` is the
#: older five-class legend, ``2x`` the six-class legend used since 2015 (the national 浸水ランク).
#: A city whose file uses other codes passes its own table to :func:`hazard_zones_from_file`.
A31_RANK_CODES: Mapping[str, tuple[float, float]] = {
    "11": (0.0, 0.5),
    "12": (0.5, 1.0),
    "13": (1.0, 2.0),
    "14": (2.0, 5.0),
    "15": (5.0, math.inf),
    "21": (0.0, 0.5),
    "22": (0.5, 3.0),
    "23": (3.0, 5.0),
    "24": (5.0, 10.0),
    "25": (10.0, 20.0),
    "26": (20.0, math.inf),
}
#: The national 浸水ランク 1–6 (PLATEAU's code list) → (lower, upper) metres.
NATIONAL_RANKS: Mapping[int, tuple[float, float]] = {
    rank: (lower, RANK_UPPER_M[rank])
    for rank, lower in zip(range(1, 7), (0.0, 0.5, 3.0, 5.0, 10.0, 20.0), strict=True)
}

#: Column names tried, in order, when the caller names none.
RANK_COLUMNS = ("A40_003", "A31_001", "A31a_205", "depth_rank", "浸水深", "浸水深ランク", "rank")
_ID_COLUMNS = ("building_id", "buildingID", "id", "osm_id", "@id", "gml_id", "fid", "ID")
_NAME_COLUMNS = ("name", "名称", "建物名")
_HEIGHT_COLUMNS = ("height_m", "height", "measuredHeight", "高さ", "建物高さ")
_STOREY_COLUMNS = ("storeys", "building:levels", "levels", "storeysAboveGround", "階数", "地上階数")
_STRUCTURE_COLUMNS = ("structure", "構造", "building:material", "material", "種別", "type")
_REFUGE_COLUMNS = ("refuge", "tsunami_refuge", "津波避難ビル")

# Words → PLATEAU structure codes (uro:buildingStructureType). 基盤地図情報's 堅ろう建物
# (robust: concrete or steel) is 非木造; its 普通建物 says nothing about the material.
_STRUCTURE_WORDS: tuple[tuple[str, str], ...] = (
    ("非木造", "610"),
    ("鉄骨鉄筋", "602"),
    ("src", "602"),
    ("鉄筋コンクリート", "603"),
    ("reinforced_concrete", "603"),
    ("concrete", "603"),
    ("rc", "603"),
    ("軽量鉄骨", "605"),
    ("鉄骨", "604"),
    ("steel", "604"),
    ("木造", "601"),
    ("土蔵", "601"),
    ("wood", "601"),
    ("timber", "601"),
    ("brick", "606"),
    ("stone", "606"),
    ("block", "606"),
    ("れんが", "606"),
    ("レンガ", "606"),
    ("ブロック", "606"),
    ("石造", "606"),
    ("堅ろう", "610"),
    ("堅牢", "610"),
)
_TRUE_WORDS = {"1", "true", "yes", "y", "はい", "○", "〇", "有", "あり", "指定"}
_FALSE_WORDS = {"", "0", "false", "no", "n", "いいえ", "×", "無", "なし"}


@dataclass(frozen=True, eq=False)
class PolygonImport:
    """Buildings read from a polygon layer, and what could not be read.

    Parameters
    ----------
    buildings
        One row per building with a footprint, lon/lat (EPSG:4326).
    problems
        Every feature skipped (no usable polygon) and every attribute left unknown because its
        value could not be read, each naming the feature number and building id.
    skipped
        How many features were skipped.
    """

    buildings: gpd.GeoDataFrame
    problems: tuple[Problem, ...]
    skipped: int

    def summary(self) -> str:
        """One line for logs and the CLI."""
        return (
            f"{len(self.buildings)} buildings; {self.skipped} feature(s) skipped; "
            f"{len(self.problems)} problem(s)"
        )


# -- reading layers ---------------------------------------------------------------------------


def _read_layer(source: Path | str | gpd.GeoDataFrame, layer: str | None) -> gpd.GeoDataFrame:
    """A GeoDataFrame in EPSG:4326 from a file or frame; ImportFileError naming the file."""
    import geopandas as gpd

    if isinstance(source, gpd.GeoDataFrame):
        frame, name = source, "frame"
    else:
        path = Path(source)
        name = path.name
        if not path.is_file():
            raise ImportFileError(str(path), [Problem(name, "no such file")])
        check_size(path, "gis")
        try:
            with warnings.catch_warnings():
                # GDAL warns from its error handler (an exception there is lost); a feature it
                # could not read has no geometry, which the callers report by feature number.
                warnings.simplefilter("ignore", RuntimeWarning)
                frame = gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
        except Exception as exc:  # pyogrio raises several types; all mean "cannot read"
            raise ImportFileError(
                str(path), [Problem(name, f"cannot read as a GIS layer: {exc}")]
            ) from None
    if frame.crs is None:
        minx, miny, maxx, maxy = frame.total_bounds if len(frame) else (0.0, 0.0, 0.0, 0.0)
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            raise ImportFileError(
                name, [Problem(name, "no CRS and the coordinates are not lon/lat; add a CRS")]
            )
        return frame.set_crs(CRS)
    return frame if frame.crs.to_epsg() == 4326 else frame.to_crs(CRS)


def _pick(columns: Sequence[str], wanted: str | None, candidates: Sequence[str]) -> str | None:
    if wanted is not None:
        return wanted
    lowered = {c.lower(): c for c in columns}
    for candidate in candidates:
        if candidate in columns:
            return candidate
        if candidate.lower() in lowered:
            return lowered[candidate.lower()]
    return None


def _polygonal(geoms: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Valid (Multi)Polygons (repaired with make_valid) and which entries are usable."""
    out = np.asarray(geoms, dtype=object).copy()
    present = ~shapely.is_missing(out)
    invalid = present & ~shapely.is_valid(out)
    if invalid.any():
        out[invalid] = shapely.make_valid(out[invalid])
        # make_valid can return a collection; keep its polygonal part.
        collections = invalid & (
            shapely.get_type_id(out) == shapely.GeometryType.GEOMETRYCOLLECTION
        )
        for i in np.flatnonzero(collections):
            parts = [
                p
                for p in shapely.get_parts(out[i])
                if shapely.get_type_id(p)
                in (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON)
            ]
            out[i] = shapely.union_all(parts) if parts else None
    kind = shapely.get_type_id(out)
    usable = (
        ~shapely.is_missing(out)
        & np.isin(kind, [shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON])
        & ~shapely.is_empty(out)
    )
    usable[usable] = shapely.area(out[usable]) > 0
    return out, usable


# -- buildings ----------------------------------------------------------------------------------


def buildings_from_polygons(
    source: Path | str | gpd.GeoDataFrame,
    *,
    layer: str | None = None,
    id_column: str | None = None,
    name_column: str | None = None,
    height_column: str | None = None,
    storeys_column: str | None = None,
    structure_column: str | None = None,
    refuge_column: str | None = None,
) -> PolygonImport:
    """Building footprints from any polygon layer, with whatever attributes it has.

    Columns are found by their usual names (OSM ``height`` / ``building:levels`` /
    ``building:material``, 基盤地図情報 ``種別``, PLATEAU-style ``measuredHeight`` /
    ``storeysAboveGround``) unless named. Heights like ``"12 m"`` and storeys like ``"3"`` are
    read; structure words become PLATEAU structure codes (木造 → ``601``, 鉄筋コンクリート / RC →
    ``603``, 堅ろう建物 → ``610`` 非木造 …). Anything else stays unknown and is reported.

    Parameters
    ----------
    source
        A ``.gpkg``, ``.geojson``, ``.shp`` … file, or a GeoDataFrame.
    layer
        Layer of a multi-layer file.
    id_column, name_column, height_column, storeys_column, structure_column, refuge_column
        Column names, when the guesses are wrong. Without an id column, ids are ``b<row>``.

    Returns
    -------
    PolygonImport
        Buildings with ``building_id``, ``name``, ``height_m``, ``storeys`` (``Int64``),
        ``structure``, ``structure_ja``, ``refuge`` and ``geometry``.

    Raises
    ------
    ImportFileError
        If the file cannot be read, a named column is missing, or building ids repeat.
    """
    import geopandas as gpd

    frame = _read_layer(source, layer)
    columns = [str(c) for c in frame.columns if c != frame.geometry.name]
    chosen = {
        "id": _pick(columns, id_column, _ID_COLUMNS),
        "name": _pick(columns, name_column, _NAME_COLUMNS),
        "height": _pick(columns, height_column, _HEIGHT_COLUMNS),
        "storeys": _pick(columns, storeys_column, _STOREY_COLUMNS),
        "structure": _pick(columns, structure_column, _STRUCTURE_COLUMNS),
        "refuge": _pick(columns, refuge_column, _REFUGE_COLUMNS),
    }
    label = "buildings" if isinstance(source, gpd.GeoDataFrame) else Path(source).name
    missing = [
        Problem(label, f"no column {name!r}")
        for name in (id_column, name_column, height_column, storeys_column, structure_column)
        if name is not None and name not in columns
    ]
    if missing:
        raise ImportFileError(label, missing)

    n = len(frame)
    ids = (
        [_text(v) or f"b{i + 1}" for i, v in enumerate(frame[chosen["id"]])]
        if chosen["id"]
        else [f"b{i + 1}" for i in range(n)]
    )
    repeated = pd.Series(ids)[pd.Series(ids).duplicated()].unique().tolist()
    if repeated:
        raise ImportFileError(
            label,
            [Problem(label, f"building id {rid!r} appears more than once") for rid in repeated],
        )
    problems: list[Problem] = []

    def where(i: int) -> str:
        return f"{label} feature {i + 1} (building {ids[i]})"

    geoms, usable = _polygonal(np.asarray(frame.geometry.array, dtype=object))
    for skipped in np.flatnonzero(~usable).tolist():
        problems.append(Problem(where(skipped), "no polygon footprint; skipped"))

    height = np.full(n, np.nan)
    storeys = pd.array([pd.NA] * n, dtype="Int64")
    structure: list[str | None] = [None] * n
    refuge = np.zeros(n, dtype=bool)
    if chosen["height"]:
        for i, value in enumerate(frame[chosen["height"]]):
            number = _number(value, unit="m")
            if number is _BAD or (number is not None and not 0 < number < 1000):
                problems.append(Problem(where(i), f"height {_show(value)} is not metres; unknown"))
            elif number is not None:
                height[i] = number
    if chosen["storeys"]:
        for i, value in enumerate(frame[chosen["storeys"]]):
            number = _number(value, unit="")
            if number is _BAD or (
                number is not None and (number < 1 or number > 200 or number != int(number))
            ):
                problems.append(
                    Problem(where(i), f"storeys {_show(value)} is not a count; unknown")
                )
            elif number is not None:
                storeys[i] = int(number)
    if chosen["structure"]:
        for i, value in enumerate(frame[chosen["structure"]]):
            structure[i] = structure_code(value)
    if chosen["refuge"]:
        for i, value in enumerate(frame[chosen["refuge"]]):
            text = _text(value).lower()
            if text in _TRUE_WORDS:
                refuge[i] = True
            elif text not in _FALSE_WORDS:
                problems.append(Problem(where(i), f"refuge {_show(value)} is not yes/no; no"))
    names = [_text(v) or None for v in frame[chosen["name"]]] if chosen["name"] else [None] * n
    buildings = gpd.GeoDataFrame(
        {
            "building_id": ids,
            "name": names,
            "height_m": height,
            "storeys": storeys,
            "structure": structure,
            "structure_ja": [STRUCTURE_TYPES.get(s) if s else None for s in structure],
            "refuge": refuge,
        },
        geometry=list(geoms),
        crs=CRS,
    )
    buildings = buildings[usable].reset_index(drop=True)
    result = PolygonImport(buildings, tuple(problems), int((~usable).sum()))
    log.info("building polygons from %s: %s", label, result.summary())
    return result


def structure_code(value: Any) -> str | None:
    """A PLATEAU structure code (``601``…``611``) from a code or a word; None when unknown."""
    text = unicodedata.normalize("NFKC", _text(value)).strip().lower()
    if not text:
        return None
    if text in STRUCTURE_TYPES:
        return text
    for code, words in STRUCTURE_TYPES.items():
        if text == words.lower():
            return code
    for word, code in _STRUCTURE_WORDS:
        if len(word) <= 3 and word.isascii():
            if re.search(rf"(^|[^a-z]){re.escape(word)}([^a-z]|$)", text):
                return code
        elif word in text:
            return code
    return None


# -- hazard zones -------------------------------------------------------------------------------


_NUMBER = r"(\d+(?:\.\d+)?)"


def depth_range(label: Any) -> tuple[float, float] | None:
    """The depth range ``(lower, upper)`` in metres a class label describes, or None.

    Reads the wordings prefectures use in A40 ``A40_003`` and similar files: ``"0.3m以上
    1m未満"``, ``"0.01m以上 〜 0.3m未満"``, ``"0.5m未満"``, ``"10m以上"``, ``"5～10m"``,
    ``"5.0m - 10.0m"``, full-width digits included. An open-ended class has ``upper=inf``.
    """
    text = unicodedata.normalize("NFKC", _text(label))
    text = text.replace("〜", "~").replace("～", "~").replace("−", "-").replace(" ", "")
    text = text.replace("ｍ", "m").replace("メートル", "m")
    if not text:
        return None
    numbers = [float(n) for n in re.findall(_NUMBER, text)]
    if len(numbers) == 2:
        lower, upper = numbers
        return (lower, upper) if lower < upper else None
    if len(numbers) != 1:
        return None
    (value,) = numbers
    after = text[re.search(_NUMBER, text).end() :]  # type: ignore[union-attr]
    before = text[: re.search(_NUMBER, text).start()]  # type: ignore[union-attr]
    if re.match(r"m?(以上|超|~$|-$|\+|を超える)", after):
        return (value, math.inf)
    if re.match(r"m?(未満|以下|まで)", after) or before.endswith(("~", "-", "<")):
        return (0.0, value)
    return None


@dataclass(frozen=True, eq=False)
class ZoneImport:
    """Depth-class polygons of one hazard.

    Parameters
    ----------
    zones
        One row per polygon: ``hazard``, ``depth_lower_m``, ``depth_upper_m``, ``label``
        (the class as the file wrote it) and ``geometry``, lon/lat.
    column
        The column the classes were read from.
    """

    zones: gpd.GeoDataFrame
    column: str


def hazard_zones_from_file(
    source: Path | str | gpd.GeoDataFrame,
    *,
    hazard: str = "tsunami",
    layer: str | None = None,
    rank_column: str | None = None,
    rank_codes: Mapping[str, tuple[float, float]] | None = None,
) -> ZoneImport:
    """Read depth-class polygons (A40, A31 or the same style) into depth ranges.

    Each feature's class is read from ``rank_column`` (default: the first of
    :data:`RANK_COLUMNS` present): a code of ``rank_codes`` (default :data:`A31_RANK_CODES`),
    a national 浸水ランク 1–6, or a text label (:func:`depth_range`). Invalid polygons are
    repaired; features without a polygon are skipped and logged.

    Parameters
    ----------
    hazard
        One of :data:`ZONE_HAZARDS` (``tsunami``, ``flood``, ``high_tide``, ``inland_flood``).

    Raises
    ------
    ImportFileError
        If no class column is found, or any class cannot be read; every bad feature is named
        with its number and value, and nothing is returned.
    """
    if hazard not in ZONE_HAZARDS:
        raise ValueError(f"unknown zone hazard {hazard!r}; use one of {', '.join(ZONE_HAZARDS)}")
    import geopandas as gpd

    label = "zones" if isinstance(source, gpd.GeoDataFrame) else Path(source).name
    frame = _read_layer(source, layer)
    columns = [str(c) for c in frame.columns if c != frame.geometry.name]
    column = _pick(columns, rank_column, RANK_COLUMNS)
    if column is None or column not in columns:
        raise ImportFileError(
            label,
            [
                Problem(
                    label,
                    f"no depth-class column (looked for {', '.join(RANK_COLUMNS)}); "
                    f"name it with rank_column. Columns: {', '.join(columns) or 'none'}",
                )
            ],
        )
    codes = dict(A31_RANK_CODES if rank_codes is None else rank_codes)
    problems: list[Problem] = []
    lower = np.full(len(frame), np.nan)
    upper = np.full(len(frame), np.nan)
    texts: list[str] = []
    for i, value in enumerate(frame[column]):
        found = _class_range(value, codes)
        texts.append(_text(value))
        if found is None:
            problems.append(
                Problem(
                    f"{label} feature {i + 1}",
                    f"{column}={_show(value)} is not a depth class (e.g. '0.3m以上 1m未満', "
                    "an A31 code or a rank 1–6)",
                )
            )
        else:
            lower[i], upper[i] = found
    if problems:
        raise ImportFileError(label, problems)
    geoms, usable = _polygonal(np.asarray(frame.geometry.array, dtype=object))
    if (~usable).any():
        log.warning("%s: %d feature(s) without a polygon skipped", label, int((~usable).sum()))
    zones = gpd.GeoDataFrame(
        {
            "hazard": hazard,
            "depth_lower_m": lower,
            "depth_upper_m": upper,
            "label": texts,
        },
        geometry=list(geoms),
        crs=CRS,
    )[usable].reset_index(drop=True)
    log.info("%s: %d %s zone polygon(s) from column %s", label, len(zones), hazard, column)
    return ZoneImport(zones, column)


def _class_range(
    value: Any, codes: Mapping[str, tuple[float, float]]
) -> tuple[float, float] | None:
    text = unicodedata.normalize("NFKC", _text(value)).strip()
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    if text in codes:
        return codes[text]
    if text.isdigit() and int(text) in NATIONAL_RANKS:
        return NATIONAL_RANKS[int(text)]
    return depth_range(text)


def add_zone_depths(
    buildings: gpd.GeoDataFrame,
    zones: gpd.GeoDataFrame,
    *,
    hazard: str | None = None,
    coverage: shapely.Geometry | None = None,
) -> gpd.GeoDataFrame:
    """A copy of ``buildings`` with the depth range of the deepest zone each one touches.

    Adds ``<hazard>_depth_lower_m``, ``<hazard>_depth_upper_m`` and ``<hazard>_depth_label``
    (replacing any from an earlier run). One STRtree query for all footprints; a building
    touching several classes takes the greatest upper bound (and, with it, the greatest
    lower bound), because judgements must not rest on the shallow edge of a coarse polygon.

    Parameters
    ----------
    zones
        From :func:`hazard_zones_from_file` (``depth_lower_m``, ``depth_upper_m``, ``label``).
    hazard
        Column prefix; defaults to the zones' ``hazard`` value.
    coverage
        The area the hazard map covers. Buildings outside it are left unknown (NaN) instead of
        ``区域外``; without it, the zones are taken to cover every building given.
    """
    if hazard is not None:
        name = hazard
    elif len(zones):
        name = str(zones["hazard"].iloc[0])
    else:
        raise ValueError("no zones and no hazard given: name the hazard")
    if name not in ZONE_HAZARDS:
        raise ValueError(f"unknown zone hazard {name!r}; use one of {', '.join(ZONE_HAZARDS)}")
    out = buildings.copy()
    n = len(out)
    lower = np.zeros(n)
    upper = np.zeros(n)
    labels = np.full(n, "区域外", dtype=object)
    footprints = np.asarray(out.geometry.array, dtype=object)
    present = ~shapely.is_missing(footprints)
    if len(zones) and present.any():
        zone_geoms = np.asarray(zones.geometry.array, dtype=object)
        tree = shapely.STRtree(zone_geoms)
        index = np.flatnonzero(present)
        b, z = tree.query(footprints[index], predicate="intersects")
        b = index[b]
        zone_upper = zones["depth_upper_m"].to_numpy(dtype=float)
        zone_lower = zones["depth_lower_m"].to_numpy(dtype=float)
        zone_label = zones["label"].to_numpy(dtype=object)
        # Deepest zone per building: sort hits by (building, upper, lower), keep each last.
        order = np.lexsort((zone_lower[z], zone_upper[z], b))
        b, z = b[order], z[order]
        last = np.ones(b.size, dtype=bool)
        last[:-1] = b[1:] != b[:-1]
        upper[b[last]] = zone_upper[z[last]]
        lower[b[last]] = zone_lower[z[last]]
        labels[b[last]] = zone_label[z[last]]
    unknown = ~present
    if coverage is not None:
        unknown |= present & ~shapely.intersects(footprints, coverage)
    lower[unknown] = np.nan
    upper[unknown] = np.nan
    labels[unknown] = None
    out[f"{name}_depth_lower_m"] = lower
    out[f"{name}_depth_upper_m"] = upper
    out[f"{name}_depth_label"] = labels
    log.info(
        "%s depths: %d of %d building(s) in a zone, %d unknown",
        name,
        int((upper > 0).sum()),
        n,
        int(unknown.sum()),
    )
    return out


# -- small parsers --------------------------------------------------------------------------------

_BAD = object()
_SENTINELS = (-9999.0, 9999.0)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if value is pd.NA:
        return ""
    return str(value).strip()


def _show(value: Any) -> str:
    text = _text(value)
    return repr(text[:40]) if text else "(empty)"


def _number(value: Any, *, unit: str) -> Any:
    """A positive float, None when empty, or ``_BAD`` when it is not a number."""
    text = unicodedata.normalize("NFKC", _text(value)).lower().replace(",", "")
    if not text:
        return None
    if unit and text.endswith(unit):
        text = text[: -len(unit)].strip()
    if text.endswith("階"):
        text = text[:-1]
    try:
        number = float(text)
    except ValueError:
        return _BAD
    if number in _SENTINELS:
        return None  # PLATEAU-style "unknown" markers
    if not math.isfinite(number) or number <= 0:
        return _BAD
    return number
