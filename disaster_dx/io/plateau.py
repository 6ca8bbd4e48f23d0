"""PLATEAU CityGML buildings in: footprints, heights and disaster-risk attributes out.

:func:`buildings_from_citygml` streams PLATEAU ``bldg`` files (city files run to gigabytes) with
``lxml.etree.iterparse``, one ``bldg:Building`` at a time, and returns one GeoDataFrame row per
building in lon/lat (EPSG:4326). :func:`write_buildings` writes that frame to a GeoPackage.

What is read, per building
--------------------------
- ids: ``gml:id`` and the city's building id (``uro:buildingIDAttribute/uro:BuildingIDAttribute/
  uro:buildingID``; in the 2020 layout ``gen:stringAttribute name="建物ID"``);
- ``bldg:measuredHeight``, ``bldg:storeysAboveGround``/``storeysBelowGround``, ``bldg:usage``,
  ``uro:buildingStructureType`` (in ``uro:BuildingDetailAttribute`` or the older
  ``uro:BuildingDetails``), with Japanese labels from the national code lists;
- disaster risk, one record per source (river, scale, scenario): tsunami, river flooding,
  high tide (高潮), inland flooding (内水) and landslide (土砂災害). i-UR 1.4/2.0/3.0 nest
  ``uro:Building<Kind>RiskAttribute`` in ``uro:buildingDisasterRiskAttribute``; i-UR 3.1/3.2
  nest ``uro:<Kind>RiskAttribute`` in ``uro:bldgDisasterRiskAttribute``. Elements are matched by
  local name, so any ``uro`` namespace version is accepted. The 2020 layout's
  ``gen:genericAttributeSet`` (``浸水ランク``, ``浸水深``, ``規模``, ``継続時間``; ``区域区分``,
  ``現象区分``) is read too, the hazard told from the set's name (津波, 高潮, 内水, 土砂, else
  river flooding).
- footprint, from the first usable of ``bldg:lod0FootPrint``, ``bldg:lod0RoofEdge``, the lowest
  horizontal face(s) of ``bldg:lod1Solid``, and the LOD2 ``bldg:GroundSurface`` faces; a
  building made of ``bldg:BuildingPart`` s gets the union of its parts' footprints (and their
  greatest height and storeys when the building itself has none).

Columns
-------
``building_id``, ``gml_id``, ``name``, ``height_m``, ``storeys``, ``storeys_below``,
``structure``/``structure_ja`` and ``usage``/``usage_ja`` (code and label); per depth hazard
(``tsunami``, ``flood`` = river flooding, ``high_tide``, ``inland_flood``) ``<h>_depth_m``,
``<h>_rank``, ``<h>_depth_upper_m`` and ``<h>_sources`` (a list of :class:`RiskSource`), plus
``flood_duration_h``; ``landslide`` (the phenomena, e.g. ``土石流``), ``landslide_area`` (the
strictest designated area) and ``landslide_sources``; ``footprint_source`` (which element gave
the footprint), ``source_file`` and ``geometry``. Integers are pandas ``Int64`` (nullable).

Conventions
-----------
- Axis order comes from ``srsName`` (on the geometry, else the file's ``gml:Envelope``, else
  PLATEAU's EPSG:6697): JGD2011 (EPSG:6697, 6668) and WGS 84 written as an EPSG URN or
  ``/def/crs/EPSG/0/…`` URL are latitude first, as EPSG defines them; a bare ``EPSG:4326``,
  ``…epsg.xml#4326`` and CRS84 are longitude first, as GIS software writes them. JGD2011 is
  stored as EPSG:4326 without a datum shift (they agree to well under a metre). Any other CRS is
  refused with an :class:`~disaster_dx.errors.ImportFileError`.
- Missing means unknown: an absent attribute is ``None``/``NaN``/``<NA>``, never zero, and so
  are PLATEAU's "unknown" sentinels (``storeysAboveGround`` 9999, ``measuredHeight`` -9999,
  negative depths). A building without a flood attribute is *not known to be dry*: PLATEAU only
  attaches risk attributes where a hazard map covers the building.
- Per hazard, ``*_depth_m`` is the greatest depth over all sources, ``*_rank`` the greatest rank
  (浸水ランク, national code list 1–6), and ``*_depth_upper_m`` the greatest depth the water may
  reach: each source's depth, or when a source gives only a rank, that rank's upper limit
  (``inf`` for rank 6, 20 m or more). ``rankOrg`` is a city-specific code list: it is kept raw in
  the source records and never decoded. River and scenario ``description`` codes are
  city-specific too and kept raw.
- Broken geometry (a coordinate count that is not a multiple of the dimension, fewer than three
  distinct points, non-numeric or non-finite numbers, a zero-area ring, positions outside Japan,
  which usually means a wrong axis order) is reported as a :class:`~disaster_dx.errors.Problem`
  naming the file, line, ``gml:id`` and building id. The building is *kept*: its footprint
  comes from the next usable source (the problem says which), or it is kept without one
  (geometry ``None``, ``footprint_source`` ``None``), because its hazard attributes still
  matter to planners; map and routing code must skip missing geometries. Other buildings are
  not affected. A ``gml:id`` seen before (in this or an earlier file) is reported and skipped.
- Malformed XML, a missing file and an unsupported CRS raise
  :class:`~disaster_dx.errors.ImportFileError` naming the file and line; nothing is imported.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import IO, Any, TypedDict

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from lxml import etree

from disaster_dx._parsing import check_size, file_limits
from disaster_dx.errors import ImportFileError, Problem

log = logging.getLogger(__name__)

#: CRS of every returned frame.
CRS = "EPSG:4326"

#: A generous box around Japan's territory (lon_min, lat_min, lon_max, lat_max). Footprints
#: outside it are reported: PLATEAU covers Japan only, so this is almost always a swapped axis.
JAPAN_BOUNDS = (122.0, 20.0, 154.5, 46.0)

#: Hazard kinds, in column order; each has ``<kind>_depth_m``, ``<kind>_rank``,
#: ``<kind>_depth_upper_m`` and ``<kind>_sources`` columns (landslide: see :data:`COLUMNS`).
DEPTH_HAZARDS = ("tsunami", "flood", "high_tide", "inland_flood")
HAZARDS = (*DEPTH_HAZARDS, "landslide")

#: 浸水ランク (rank) labels, the national code list shared by every depth hazard and i-UR version.
RANK_LABELS: dict[int, str] = {
    1: "0.5m未満",
    2: "0.5m以上3m未満",
    3: "3m以上5m未満",
    4: "5m以上10m未満",
    5: "10m以上20m未満",
    6: "20m以上",
}
#: Upper limit of each rank's depth range in metres (rank 6 has none).
RANK_UPPER_M: dict[int, float] = {1: 0.5, 2: 3.0, 3: 5.0, 4: 10.0, 5: 20.0, 6: math.inf}

#: ``uro:buildingStructureType`` (BuildingDetailAttribute_buildingStructureType).
STRUCTURE_TYPES: dict[str, str] = {
    "601": "木造・土蔵造",
    "602": "鉄骨鉄筋コンクリート造",
    "603": "鉄筋コンクリート造",
    "604": "鉄骨造",
    "605": "軽量鉄骨造",
    "606": "レンガ造・コンクリートブロック造・石造",
    "610": "非木造",
    "611": "不明",
}
#: ``bldg:usage`` (Building_usage).
USAGES: dict[str, str] = {
    "401": "業務施設",
    "402": "商業施設",
    "403": "宿泊施設",
    "404": "商業系複合施設",
    "411": "住宅",
    "412": "共同住宅",
    "413": "店舗等併用住宅",
    "414": "店舗等併用共同住宅",
    "415": "作業所併用住宅",
    "421": "官公庁施設",
    "422": "文教厚生施設",
    "431": "運輸倉庫施設",
    "441": "工場",
    "451": "農林漁業用施設",
    "452": "供給処理施設",
    "453": "防衛施設",
    "454": "その他",
    "461": "不明",
}
#: RiverFloodingRiskAttribute_adminType: who designated the river.
ADMIN_TYPES: dict[str, str] = {"1": "国", "2": "都道府県"}
#: RiverFloodingRiskAttribute_scale: L1 計画規模 (planned scale), L2 想定最大規模 (largest assumed).
SCALES: dict[str, str] = {"1": "L1", "2": "L2"}
#: LandSlideRiskAttribute_description: the phenomenon.
LANDSLIDE_KINDS: dict[str, str] = {"1": "急傾斜地の崩落", "2": "土石流", "3": "地すべり"}
#: LandSlideRiskAttribute_areaType.
LANDSLIDE_AREAS: dict[str, str] = {
    "1": "土砂災害警戒区域（指定済）",
    "2": "土砂災害特別警戒区域（指定済）",
    "3": "土砂災害警戒区域（指定前）",
    "4": "土砂災害特別警戒区域（指定前）",
}
# The 2020 layout's 区域区分 follows 国土数値情報 A33: 1 警戒区域, 2 特別警戒区域.
_LEGACY_LANDSLIDE_AREAS = {"1": "土砂災害警戒区域", "2": "土砂災害特別警戒区域"}

#: Where a footprint can come from, in order of preference.
FOOTPRINT_SOURCES = ("lod0FootPrint", "lod0RoofEdge", "lod1Solid", "lod2GroundSurface")

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
)
_FLOAT_COLUMNS = (
    "height_m",
    "flood_duration_h",
    *(f"{kind}_{suffix}" for kind in DEPTH_HAZARDS for suffix in ("depth_m", "depth_upper_m")),
)
_INT_COLUMNS = ("storeys", "storeys_below", *(f"{kind}_rank" for kind in DEPTH_HAZARDS))
_SOURCE_COLUMNS = tuple(f"{kind}_sources" for kind in HAZARDS)

_RISK_WRAPPERS = {"buildingDisasterRiskAttribute", "bldgDisasterRiskAttribute"}
_RISK_ELEMENTS = {
    "BuildingTsunamiRiskAttribute": "tsunami",
    "TsunamiRiskAttribute": "tsunami",
    "BuildingRiverFloodingRiskAttribute": "flood",
    "RiverFloodingRiskAttribute": "flood",
    "BuildingHighTideRiskAttribute": "high_tide",
    "HighTideRiskAttribute": "high_tide",
    "BuildingInlandFloodingRiskAttribute": "inland_flood",
    "InlandFloodingRiskAttribute": "inland_flood",
    "BuildingLandSlideRiskAttribute": "landslide",
    "LandSlideRiskAttribute": "landslide",
}
_DETAIL_WRAPPERS = {"buildingDetailAttribute", "buildingDetails"}
_LENGTH_UNITS = {"": 1.0, "m": 1.0, "cm": 0.01, "mm": 0.001}
_HOUR_UNITS = {"": 1.0, "hour": 1.0, "h": 1.0, "hr": 1.0, "min": 1 / 60, "minute": 1 / 60}
_HORIZONTAL_TOLERANCE_M = 0.05
_PROGRESS_STEP_BYTES = 1 << 20
_DEFAULT_SRS = "http://www.opengis.net/def/crs/EPSG/0/6697"

#: ``progress(done_bytes, total_bytes)``, called as the files are read.
ProgressHook = Callable[[int, int], object]


class RiskSource(TypedDict, total=False):
    """One hazard map's value for one building: one river and scale, or one scenario.

    Depth hazards (tsunami, flood, high_tide, inland_flood) carry ``description`` (the raw,
    city-specific code, or the attribute-set name in the 2020 layout), ``rank`` (1–6),
    ``rank_org`` (raw), ``depth_m`` and ``depth_upper_m``; river flooding adds ``admin_type``
    (国/都道府県), ``scale`` (L1/L2) and ``duration_h``. Landslide records carry
    ``description`` (raw code), ``kind`` (the phenomenon), ``area_type`` (raw code) and
    ``area`` (the designated area). Unknown values are ``None``.
    """

    description: str | None
    rank: int | None
    rank_org: str | None
    depth_m: float | None
    depth_upper_m: float | None
    admin_type: str | None
    scale: str | None
    duration_h: float | None
    kind: str | None
    area_type: str | None
    area: str | None


@dataclass(frozen=True)
class CityGmlFile:
    """What one CityGML file held.

    Parameters
    ----------
    path
        The file.
    buildings
        Buildings imported from it (duplicates skipped).
    problems
        Problems reported for it.
    size
        Bytes read.
    sha256
        Digest of the file's bytes, to tell a re-import of identical data.
    srs_name
        The file-level ``srsName`` (from its ``gml:Envelope``), if any.
    iur_version
        The i-UR version of its ``uro`` namespace (``"3.0"``, ``"3.1"`` …), if any.
    """

    path: Path
    buildings: int
    problems: int
    size: int
    sha256: str
    srs_name: str | None
    iur_version: str | None


@dataclass(frozen=True, eq=False)
class BuildingImport:
    """The buildings of one import, what was wrong with them and where they came from.

    Parameters
    ----------
    buildings
        One row per building, lon/lat (EPSG:4326), columns :data:`COLUMNS` and ``geometry``.
    problems
        Every problem found, each naming the file, line and building.
    files
        One summary per file, in the order read.
    """

    buildings: gpd.GeoDataFrame
    problems: tuple[Problem, ...]
    files: tuple[CityGmlFile, ...]

    @property
    def without_footprint(self) -> int:
        """Buildings kept without a footprint (broken or missing geometry)."""
        return int(self.buildings.geometry.isna().sum())

    def summary(self) -> str:
        """One line for logs and the CLI."""
        return (
            f"{len(self.buildings)} buildings from {len(self.files)} file(s); "
            f"{self.without_footprint} without a footprint; {len(self.problems)} problem(s)"
        )


# -- public API -------------------------------------------------------------------------------


def buildings_from_citygml(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    progress: ProgressHook | None = None,
) -> BuildingImport:
    """Read PLATEAU CityGML building files into one GeoDataFrame.

    Parameters
    ----------
    paths
        A ``.gml`` file, a folder (every ``*.gml`` below it, sorted), or several of either.
    progress
        Called as ``progress(done_bytes, total_bytes)`` at the start, about every megabyte
        and after each file, e.g. to drive a progress bar; totals cover all files.

    Returns
    -------
    BuildingImport
        The buildings (see the module docstring for columns and conventions), the problems
        found and a summary per file.

    Raises
    ------
    ImportFileError
        If a file is missing, not well-formed XML or uses an unsupported CRS; the message
        names the file and line, and nothing is imported.
    """
    files = _expand(paths)
    limits = file_limits()
    total = sum(check_size(path, "xml", limits=limits) for path in files)
    # Column-wise, so no per-building row dict outlives its building (memory on big cities).
    columns: dict[str, list[Any]] = {column: [] for column in (*COLUMNS, "geometry")}
    problems: list[Problem] = []
    summaries: list[CityGmlFile] = []
    seen: dict[str, str] = {}
    done = 0
    if progress is not None:
        progress(0, total)
    for path in files:
        reader = _FileReader(path, seen=seen, progress=progress, offset=done, total=total)
        summaries.append(reader.read(columns))
        problems.extend(reader.problems)
        done += summaries[-1].size
        if progress is not None:
            progress(done, total)
    frame = _frame(columns)
    result = BuildingImport(frame, tuple(problems), tuple(summaries))
    log.info("PLATEAU import: %s", result.summary())
    if problems:
        log.warning("PLATEAU import: %d problem(s); first: %s", len(problems), problems[0])
    return result


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
    for column in _SOURCE_COLUMNS:
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


# -- files ------------------------------------------------------------------------------------


def _expand(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Path]:
    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    files: list[Path] = []
    missing: list[Problem] = []
    for item in map(Path, items):
        if item.is_dir():
            found = sorted(item.rglob("*.gml"))
            if not found:
                missing.append(Problem(str(item), "folder holds no .gml files"))
            files.extend(found)
        elif item.is_file():
            files.append(item)
        else:
            missing.append(Problem(str(item), "no such file"))
    if missing:
        raise ImportFileError("PLATEAU import failed, nothing was imported", missing)
    if not files:
        raise ImportFileError("PLATEAU import failed", [Problem("input", "no files given")])
    return files


class _Reader:
    """A binary file that counts and hashes what the parser reads from it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.done = 0
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.done += len(data)
        self.digest.update(data)
        return data


class _GeometryError(ValueError):
    """A geometry that cannot become a footprint; the message says why."""


_LOCAL_NAMES: dict[str, str] = {}


def _local(tag: str) -> str:
    """``{namespace}name`` → ``name`` (cached: a file uses few distinct tags)."""
    name = _LOCAL_NAMES.get(tag)
    if name is None:
        name = tag[tag.find("}") + 1 :]
        if len(_LOCAL_NAMES) < 10_000:
            _LOCAL_NAMES[tag] = name
    return name


@cache
def _latitude_first(srs_name: str) -> bool:
    """Whether positions in ``srs_name`` are (lat, lon); ValueError for an unsupported CRS."""
    text = srs_name.strip()
    upper = text.upper()
    if "CRS84" in upper or upper in {"CRS:84", "OGC:CRS84"}:
        return False
    legacy = re.search(r"EPSG\.XML#(\d+)$", upper)
    if legacy and legacy.group(1) in {"4326", "6668", "6697", "4979"}:
        return False
    bare = re.fullmatch(r"EPSG:(\d+)", upper)
    if bare and bare.group(1) in {"4326", "4979"}:
        return False
    code = re.search(r"EPSG(?:/[\d.]+/|:[\d.]*:|:)(\d+)", upper)
    if code and code.group(1) in {"6697", "6668", "4326", "4979"}:
        return True
    raise ValueError(
        f"unsupported CRS {srs_name!r}: expected JGD2011 (EPSG:6697 or 6668) or WGS 84 "
        "(EPSG:4326) longitude/latitude"
    )


# -- one file -----------------------------------------------------------------------------------


class _FileReader:
    """Streams one file's buildings into rows, collecting problems."""

    def __init__(
        self,
        path: Path,
        *,
        seen: dict[str, str],
        progress: ProgressHook | None,
        offset: int,
        total: int,
    ) -> None:
        self.path = path
        self.name = path.name
        self.seen = seen
        self.progress = progress
        self.offset = offset
        self.total = total
        self.problems: list[Problem] = []
        self.srs_name: str | None = None
        self.dimension = 3
        self.iur_version: str | None = None
        self.ignored: set[str] = set()
        self._root_checked = False

    def read(self, columns: dict[str, list[Any]]) -> CityGmlFile:
        count = 0
        reported = 0
        with self.path.open("rb") as raw:
            stream = _Reader(raw)
            events = etree.iterparse(
                stream,
                events=("end",),
                tag=("{*}Building", "{*}Envelope"),
                huge_tree=True,
                resolve_entities=False,
                no_network=True,
                remove_comments=True,
                remove_blank_text=True,
            )
            try:
                for _event, elem in events:
                    if not self._root_checked:
                        self._check_root(elem)
                    if _local(elem.tag) == "Envelope":
                        if self.srs_name is None and count == 0:
                            self._file_srs(elem)
                        continue
                    row = self._building(elem)
                    if row is not None:
                        for column, values in columns.items():
                            values.append(row[column])
                        count += 1
                    _release(elem)
                    if self.progress is not None and stream.done - reported >= _PROGRESS_STEP_BYTES:
                        reported = stream.done
                        self.progress(self.offset + reported, self.total)
            except etree.XMLSyntaxError as exc:
                line = exc.lineno or exc.position[0]
                raise ImportFileError(
                    f"{self.name}: not well-formed XML, nothing was imported",
                    [Problem(f"{self.name} line {line}", str(exc.msg))],
                ) from exc
            del events
            while stream.read(1 << 20):  # hash any trailing bytes the parser did not need
                pass
        if count == 0 and not self.problems:
            self.problems.append(
                Problem(self.name, "no bldg:Building found (is this a PLATEAU bldg file?)")
            )
        if self.ignored:
            log.info("%s: ignored %s", self.name, ", ".join(sorted(self.ignored)))
        log.debug("%s: %d buildings, %d problem(s)", self.name, count, len(self.problems))
        return CityGmlFile(
            path=self.path,
            buildings=count,
            problems=len(self.problems),
            size=stream.done,
            sha256=stream.digest.hexdigest(),
            srs_name=self.srs_name,
            iur_version=self.iur_version,
        )

    # -- file level ---------------------------------------------------------------------------

    def _check_root(self, elem: Any) -> None:
        self._root_checked = True
        root = elem.getroottree().getroot()
        for uri in root.nsmap.values():
            match = re.search(r"/iur/uro/([\d.]+)$", uri or "")
            if match:
                self.iur_version = match.group(1)

    def _file_srs(self, envelope: Any) -> None:
        srs = envelope.get("srsName")
        if not srs:
            return
        self.axis(srs, envelope.sourceline)
        self.srs_name = srs
        dimension = envelope.get("srsDimension")
        if dimension and dimension.isdigit():
            self.dimension = int(dimension)

    def axis(self, srs_name: str, line: int | None) -> bool:
        try:
            return _latitude_first(srs_name)
        except ValueError as exc:
            raise ImportFileError(
                f"{self.name}: unsupported coordinate reference system, nothing was imported",
                [Problem(f"{self.name} line {line}", str(exc))],
            ) from exc

    # -- one building -------------------------------------------------------------------------

    def _building(self, elem: Any) -> dict[str, Any] | None:
        gml_id = next((v for k, v in elem.attrib.items() if _local(k) == "id"), None)
        building = _Building(self, elem, gml_id)
        row = building.row()
        if gml_id is not None:
            first = self.seen.get(gml_id)
            if first is not None:
                self.problems.append(
                    Problem(
                        building.where,
                        f"gml:id already imported from {first}; this copy was skipped",
                    )
                )
                return None
            self.seen[gml_id] = self.name
        return row


def _release(elem: Any) -> None:
    """Free a processed building and everything before it (keeps memory flat on huge files)."""
    elem.clear()
    member = elem.getparent()
    if member is None:
        return
    container = member.getparent()
    if container is None:
        return
    while member.getprevious() is not None:
        del container[0]


# -- one building -------------------------------------------------------------------------------


class _Building:
    """Reads one ``bldg:Building`` element into a row."""

    def __init__(self, reader: _FileReader, elem: Any, gml_id: str | None) -> None:
        self.reader = reader
        self.elem = elem
        self.gml_id = gml_id
        self.building_id: str | None = None
        self._messages: list[str] = []

    @property
    def where(self) -> str:
        ids = " / ".join(x for x in (self.gml_id, self.building_id) if x) or "without gml:id"
        return f"{self.reader.name} line {self.elem.sourceline} (building {ids})"

    def problem(self, message: str) -> None:
        self._messages.append(message)

    def row(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "building_id": None,
            "gml_id": self.gml_id,
            "name": None,
            "height_m": None,
            "storeys": None,
            "storeys_below": None,
            "structure": None,
            "usage": None,
        }
        sources: dict[str, list[RiskSource]] = {kind: [] for kind in HAZARDS}
        geometry: dict[str, list[Any]] = {}
        parts: list[Any] = []
        for child in self.elem:
            tag = child.tag
            if not isinstance(tag, str):
                continue
            name = _local(tag)
            if name in _RISK_WRAPPERS:
                for risk in child:
                    kind = (
                        _RISK_ELEMENTS.get(_local(risk.tag)) if isinstance(risk.tag, str) else None
                    )
                    if kind is None:
                        if isinstance(risk.tag, str):
                            self.reader.ignored.add(_local(risk.tag))
                        continue
                    sources[kind].append(self._risk(risk, kind))
            elif name == "genericAttributeSet":
                legacy = self._legacy_risk(child)
                if legacy is not None:
                    sources[legacy[0]].append(legacy[1])
            elif name == "stringAttribute":
                if child.get("name") == "建物ID" and row["building_id"] is None:
                    row["building_id"] = _value_text(child)
            elif name == "buildingIDAttribute":
                found = child.find(".//{*}buildingID")
                if found is not None and found.text and found.text.strip():
                    row["building_id"] = found.text.strip()
            elif name in _DETAIL_WRAPPERS:
                found = child.find(".//{*}buildingStructureType")
                if found is not None and row["structure"] is None:
                    row["structure"] = _text(found)
            elif name == "consistsOfBuildingPart":
                parts.extend(child)
            elif name == "name" and row["name"] is None:
                row["name"] = _text(child)
            else:
                self._simple(name, child, row, geometry)
        self.building_id = row["building_id"]
        footprint, source = self._footprint(geometry)
        if parts:
            footprint, source = self._parts(parts, row, footprint, source)
        if footprint is None and not self._messages:
            self.problem(
                "no footprint geometry (lod0FootPrint, lod0RoofEdge, lod1Solid or LOD2 "
                "GroundSurface); kept without a footprint"
            )
        row["structure_ja"] = _label(STRUCTURE_TYPES, row["structure"])
        row["usage_ja"] = _label(USAGES, row["usage"])
        for kind in DEPTH_HAZARDS:
            _summarise_depths(row, kind, sources[kind])
        _summarise_landslide(row, sources["landslide"])
        row["footprint_source"] = source
        row["source_file"] = self.reader.name
        row["geometry"] = footprint
        self.reader.problems.extend(Problem(self.where, m) for m in self._messages)
        return row

    def _simple(
        self, name: str, child: Any, row: dict[str, Any], geometry: dict[str, list[Any]]
    ) -> None:
        """Attributes and geometry that a Building and a BuildingPart share."""
        if name == "measuredHeight":
            height = self._number(child, "measuredHeight")
            row["height_m"] = height if height is not None and height > 0 else None
        elif name == "storeysAboveGround":
            row["storeys"] = self._count(child, "storeysAboveGround")
        elif name == "storeysBelowGround":
            row["storeys_below"] = self._count(child, "storeysBelowGround")
        elif name == "usage" and row.get("usage") is None:
            row["usage"] = _text(child)
        elif name in ("lod0FootPrint", "lod0RoofEdge", "lod1Solid"):
            geometry.setdefault(name, []).append(child)
        elif name == "boundedBy":
            for surface in child:
                if isinstance(surface.tag, str) and _local(surface.tag) == "GroundSurface":
                    geometry.setdefault("lod2GroundSurface", []).append(surface)

    def _parts(
        self, parts: Sequence[Any], row: dict[str, Any], footprint: Any, source: str | None
    ) -> tuple[Any, str | None]:
        """Fill what the building lacks from its ``bldg:BuildingPart`` s.

        The footprint becomes the union of the parts' footprints; height and storeys the
        greatest over the parts; usage the first part's.
        """
        shapes = []
        part_sources = set()
        found: dict[str, list[Any]] = {"height_m": [], "storeys": [], "storeys_below": []}
        for part in parts:
            part_row: dict[str, Any] = {}
            part_geometry: dict[str, list[Any]] = {}
            for child in part:
                if isinstance(child.tag, str):
                    self._simple(_local(child.tag), child, part_row, part_geometry)
            for key, values in found.items():
                if part_row.get(key) is not None:
                    values.append(part_row[key])
            if row["usage"] is None:
                row["usage"] = part_row.get("usage")
            if footprint is None:
                shape, part_source = self._footprint(part_geometry)
                if shape is not None:
                    shapes.append(shape)
                    part_sources.add(str(part_source))
        for key, values in found.items():
            if row[key] is None and values:
                row[key] = max(values)
        if footprint is None and shapes:
            footprint = _union(shapes)
            source = "BuildingPart:" + "+".join(sorted(part_sources))
        return footprint, source

    # -- attributes ---------------------------------------------------------------------------

    def _number(self, elem: Any, what: str, field: str = "") -> float | None:
        text = _text(elem)
        if text is None:
            return None
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if math.isfinite(value):
            return value
        label = f"{what} {field}" if field else what
        self.problem(f"{label} {text!r} is not a finite number; taken as unknown")
        return None

    def _count(self, elem: Any, what: str) -> int | None:
        value = self._number(elem, what)
        if value is None or value >= 9999 or value < 0:
            return None  # 9999 is PLATEAU's "unknown"
        if value != int(value):
            self.problem(f"{what} {value} is not a whole number; taken as unknown")
            return None
        return int(value)

    def _measure(self, elem: Any, parent: str, units: dict[str, float]) -> float | None:
        """A depth or duration in ``parent``, in metres or hours; ``None`` when unknown."""
        value = self._number(elem, parent, _local(elem.tag))
        if value is None or value < 0:
            return None  # negative depths and durations are "unknown" sentinels (-9999)
        uom = (elem.get("uom") or "").strip()
        factor = units.get(uom, units.get(uom.lower()))
        if factor is None:
            self.problem(f"{parent} {_local(elem.tag)} unit {uom!r} is unknown; taken as unknown")
            return None
        return value * factor

    def _rank(self, text: str | None, what: str) -> int | None:
        if text is None:
            return None
        try:
            rank = int(text)
        except ValueError:
            rank = 0
        if rank not in RANK_LABELS:
            self.problem(f"{what} rank {text!r} is not a code 1–6; taken as unknown")
            return None
        return rank

    def _risk(self, elem: Any, kind: str) -> RiskSource:
        texts: dict[str, str | None] = {}
        depth_el = duration_el = None
        for field in elem:
            tag = field.tag
            if not isinstance(tag, str):
                continue
            name = _local(tag)
            if name == "depth":
                depth_el = field
            elif name == "duration":
                duration_el = field
            elif name not in texts:
                texts[name] = _text(field)
        what = _local(elem.tag)
        if kind == "landslide":
            description = texts.get("description")
            area_type = texts.get("areaType")
            return RiskSource(
                description=description,
                kind=_label(LANDSLIDE_KINDS, description),
                area_type=area_type,
                area=_label(LANDSLIDE_AREAS, area_type),
            )
        depth = None if depth_el is None else self._measure(depth_el, what, _LENGTH_UNITS)
        rank = self._rank(texts.get("rank"), what)
        source = RiskSource(
            description=texts.get("description"),
            rank=rank,
            rank_org=texts.get("rankOrg"),
            depth_m=depth,
            depth_upper_m=_upper(depth, rank),
        )
        if kind == "flood":
            source["admin_type"] = _label(ADMIN_TYPES, texts.get("adminType"))
            source["scale"] = _label(SCALES, texts.get("scale"))
            source["duration_h"] = (
                None if duration_el is None else self._measure(duration_el, what, _HOUR_UNITS)
            )
        return source

    def _legacy_risk(self, elem: Any) -> tuple[str, RiskSource] | None:
        """A 2020-layout ``gen:genericAttributeSet`` holding one hazard map's values."""
        set_name = (elem.get("name") or "").strip()
        values: dict[str, Any] = {}
        for attribute in elem:
            if isinstance(attribute.tag, str) and attribute.get("name"):
                value = attribute.find("{*}value")
                if value is not None:
                    values.setdefault(attribute.get("name"), value)
        what = f"attribute set {set_name!r}"
        if "区域区分" in values or "現象区分" in values or "土砂" in set_name:
            description = _text(values["現象区分"]) if "現象区分" in values else None
            area_type = _text(values["区域区分"]) if "区域区分" in values else None
            return "landslide", RiskSource(
                description=description,
                kind=_label(LANDSLIDE_KINDS, description),
                area_type=area_type,
                area=_label(_LEGACY_LANDSLIDE_AREAS, area_type),
            )
        if "浸水ランク" not in values and "浸水深" not in values:
            return None
        if "津波" in set_name:
            kind = "tsunami"
        elif "高潮" in set_name:
            kind = "high_tide"
        elif "内水" in set_name:
            kind = "inland_flood"
        else:
            kind = "flood"
        depth_el = values.get("浸水深")
        depth = (
            None if depth_el is None else self._measure(depth_el, f"{what} 浸水深", _LENGTH_UNITS)
        )
        rank = self._rank(_text(values["浸水ランク"]) if "浸水ランク" in values else None, what)
        source = RiskSource(
            description=set_name or None,
            rank=rank,
            rank_org=None,
            depth_m=depth,
            depth_upper_m=_upper(depth, rank),
        )
        if kind == "flood":
            scale = _text(values["規模"]) if "規模" in values else None
            if scale is None and "計画規模" in set_name:
                scale = "L1"
            elif scale is None and "想定最大規模" in set_name:
                scale = "L2"
            duration_el = values.get("継続時間")
            source["admin_type"] = None
            source["scale"] = scale
            source["duration_h"] = (
                None
                if duration_el is None
                else self._measure(duration_el, f"{what} 継続時間", _HOUR_UNITS)
            )
        return kind, source

    # -- geometry -----------------------------------------------------------------------------

    def _footprint(self, geometry: dict[str, list[Any]]) -> tuple[Any, str | None]:
        """The first usable footprint, reporting each broken source on the way."""
        broken: list[str] = []
        for source in FOOTPRINT_SOURCES:
            elements = geometry.get(source)
            if not elements:
                continue
            try:
                shape = self._surface(source, elements)
            except _GeometryError as exc:
                broken.append(f"{source}: {exc}")
                continue
            for message in broken:
                self.problem(f"{message}; footprint taken from {source} instead")
            return shape, source
        for message in broken:
            self.problem(f"{message}; kept without a footprint")
        return None, None

    def _surface(self, source: str, elements: Sequence[Any]) -> Any:
        faces: list[tuple[np.ndarray, list[np.ndarray], np.ndarray | None, int]] = []
        for element in elements:
            geometry_root = next((c for c in element if isinstance(c.tag, str)), element)
            srs = geometry_root.get("srsName") or self.reader.srs_name or _DEFAULT_SRS
            latitude_first = self.reader.axis(srs, geometry_root.sourceline)
            dimension_text = geometry_root.get("srsDimension")
            dimension = (
                int(dimension_text)
                if dimension_text and dimension_text.isdigit()
                else self.reader.dimension
            )
            for polygon in element.iter("{*}Polygon"):
                faces.append(self._polygon(polygon, latitude_first, dimension))
        if not faces:
            raise _GeometryError(f"line {elements[0].sourceline}: contains no gml:Polygon")
        if source == "lod1Solid":
            faces = _ground_faces(faces, elements[0].sourceline)
        shapes = []
        for shell, holes, _z, line in faces:
            shape = shapely.Polygon(shell, holes) if holes else shapely.polygons(shell)
            if not shape.area > 0:
                raise _GeometryError(f"line {line}: polygon has zero area (points on one line)")
            shapes.append(shape)
        return _union(shapes)

    def _polygon(
        self, polygon: Any, latitude_first: bool, dimension: int
    ) -> tuple[np.ndarray, list[np.ndarray], np.ndarray | None, int]:
        exterior = polygon.find("{*}exterior/{*}LinearRing")
        if exterior is None:
            raise _GeometryError(f"line {polygon.sourceline}: polygon has no exterior LinearRing")
        shell, z = self._ring(exterior, latitude_first, dimension)
        holes = [
            self._ring(ring, latitude_first, dimension)[0]
            for ring in polygon.iterfind("{*}interior/{*}LinearRing")
        ]
        return shell, holes, z, polygon.sourceline

    def _ring(
        self, ring: Any, latitude_first: bool, dimension: int
    ) -> tuple[np.ndarray, np.ndarray | None]:
        pos_list = ring.find("{*}posList")
        if pos_list is not None:
            line = pos_list.sourceline
            tokens = (pos_list.text or "").split()
            dimension_text = pos_list.get("srsDimension")
        else:
            pos_elements = ring.findall("{*}pos")
            if not pos_elements:
                raise _GeometryError(f"line {ring.sourceline}: ring has no gml:posList or gml:pos")
            line = pos_elements[0].sourceline
            tokens = [token for p in pos_elements for token in (p.text or "").split()]
            dimension_text = pos_elements[0].get("srsDimension") or str(
                len((pos_elements[0].text or "").split())
            )
        if dimension_text:
            if not dimension_text.isdigit() or int(dimension_text) not in (2, 3):
                raise _GeometryError(f"line {line}: srsDimension {dimension_text!r} is not 2 or 3")
            dimension = int(dimension_text)
        try:
            values = np.array(tokens, dtype=np.float64)
        except ValueError:
            bad = next(t for t in tokens if not _is_float(t))
            raise _GeometryError(f"line {line}: coordinate {bad!r} is not a number") from None
        if len(values) % dimension:
            raise _GeometryError(
                f"line {line}: {len(values)} numbers cannot be split into positions of "
                f"{dimension} (odd coordinate count)"
            )
        if not np.isfinite(values).all():
            raise _GeometryError(f"line {line}: coordinates include NaN or infinity")
        positions = values.reshape(-1, dimension)
        xy = positions[:, [1, 0]] if latitude_first else positions[:, :2]
        if _distinct_points(positions, 3) < 3:  # in 3D: a solid's walls are rings too
            raise _GeometryError(
                f"line {line}: ring has {_distinct_points(positions)} distinct point(s); "
                "a polygon needs 3 or more"
            )
        low = xy.min(axis=0)
        high = xy.max(axis=0)
        lon_min, lat_min, lon_max, lat_max = JAPAN_BOUNDS
        if low[0] < lon_min or low[1] < lat_min or high[0] > lon_max or high[1] > lat_max:
            raise _GeometryError(
                f"line {line}: position (lon {xy[0, 0]:.6f}, lat {xy[0, 1]:.6f}) is outside "
                "Japan (wrong axis order or CRS?)"
            )
        return xy, (positions[:, 2] if dimension >= 3 else None)


# -- helpers ------------------------------------------------------------------------------------


def _text(elem: Any) -> str | None:
    text = elem.text
    if text is None:
        return None
    text = text.strip()
    return text or None


def _value_text(attribute: Any) -> str | None:
    value = attribute.find("{*}value")
    return None if value is None else _text(value)


def _label(table: dict[str, str], code: str | None) -> str | None:
    """The label of ``code``, or the raw code when the table does not know it."""
    if code is None:
        return None
    return table.get(code, code)


def _distinct_points(positions: np.ndarray, enough: int | None = None) -> int:
    """How many distinct rows ``positions`` holds (stops counting at ``enough``)."""
    seen: set[tuple[float, ...]] = set()
    for position in positions.tolist():
        seen.add(tuple(position))
        if enough is not None and len(seen) >= enough:
            break
    return len(seen)


def _is_float(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _upper(depth: float | None, rank: int | None) -> float | None:
    if depth is not None:
        return depth
    return None if rank is None else RANK_UPPER_M[rank]


def _union(shapes: Sequence[Any]) -> Any:
    if len(shapes) == 1:
        return shapes[0]
    try:
        return shapely.union_all(shapes)
    except shapely.errors.GEOSException:
        return shapely.MultiPolygon(shapes)


def _ground_faces(
    faces: list[tuple[np.ndarray, list[np.ndarray], np.ndarray | None, int]], line: int
) -> list[tuple[np.ndarray, list[np.ndarray], np.ndarray | None, int]]:
    """The lowest horizontal face(s) of a solid: its ground footprint."""
    if any(z is None for _shell, _holes, z, _line in faces):
        return faces[:1]  # 2D solid: PLATEAU writes the ground face first
    horizontal = [
        (float(z.mean()), face)
        for face in faces
        for z in [face[2]]
        if z is not None and float(np.ptp(z)) <= _HORIZONTAL_TOLERANCE_M
    ]
    if not horizontal:
        raise _GeometryError(f"line {line}: solid has no horizontal face")
    lowest = min(height for height, _face in horizontal)
    return [face for height, face in horizontal if height - lowest <= _HORIZONTAL_TOLERANCE_M]


def _summarise_depths(row: dict[str, Any], kind: str, sources: list[RiskSource]) -> None:
    depths = [d for s in sources if (d := s.get("depth_m")) is not None]
    ranks = [r for s in sources if (r := s.get("rank")) is not None]
    uppers = [u for s in sources if (u := s.get("depth_upper_m")) is not None]
    row[f"{kind}_depth_m"] = max(depths) if depths else None
    row[f"{kind}_rank"] = max(ranks) if ranks else None
    row[f"{kind}_depth_upper_m"] = max(uppers) if uppers else None
    if kind == "flood":
        durations = [d for s in sources if (d := s.get("duration_h")) is not None]
        row["flood_duration_h"] = max(durations) if durations else None
    row[f"{kind}_sources"] = sources


def _summarise_landslide(row: dict[str, Any], sources: list[RiskSource]) -> None:
    if not sources:
        row["landslide"] = row["landslide_area"] = None
    else:
        kinds = sorted({s.get("kind") or "土砂災害" for s in sources})
        areas = [s["area"] for s in sources if s.get("area")]
        special = [a for a in areas if a and "特別" in a]
        row["landslide"] = "・".join(kinds)
        row["landslide_area"] = (special or areas or [None])[0]
    row["landslide_sources"] = sources


def _frame(columns: dict[str, list[Any]]) -> gpd.GeoDataFrame:
    data: dict[str, Any] = {}
    for column in COLUMNS:
        values = columns.pop(column)
        if column in _FLOAT_COLUMNS:
            data[column] = np.array(
                [math.nan if v is None else v for v in values], dtype=np.float64
            )
        elif column in _INT_COLUMNS:
            data[column] = pd.array(values, dtype="Int64")
        else:
            data[column] = pd.Series(values, dtype=object)
    geometry = gpd.GeoSeries(columns.pop("geometry"), crs=CRS)
    return gpd.GeoDataFrame(data, geometry=geometry, crs=CRS)
