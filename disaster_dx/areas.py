"""The city's areas (地区) that 避難情報 is issued for, and which shelters belong to each.

HQ issues 高齢者等避難・避難指示・緊急安全確保 per area. An area has names in Japanese,
English and やさしい日本語, and either covers the whole city (全域), or a polygon from a real
source, or a listed set of shelters (a city's own 地区 ↔ 避難所 table). No boundary is ever
invented: the bundled file has only 南国市全域; a city imports its own 地区 file
(``disaster-dx import-areas FILE``), which replaces the list as a whole.

File format (GeoJSON FeatureCollection, UTF-8): one Feature per area, ``geometry`` a Polygon or
MultiPolygon in lon/lat or ``null``; ``properties``: ``id`` (or ``地区コード``), ``name`` (or
``地区名``), optional ``name_en``, ``name_easy``, ``whole_city`` (true for 全域), ``shelters``
(list of shelter ids) and ``source`` (the data's credit). Every problem of the file is reported
at once with the feature's number; then nothing is imported.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from disaster_dx._parsing import file_limits, load_json, read_limited
from disaster_dx.errors import ImportFileError, Problem
from disaster_dx.model import JAPAN_BOUNDS, Shelter

#: The id of the whole-city area every city has.
WHOLE_CITY = "all"
MAX_AREA_FILE_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class Area:
    """One area 避難情報 can be issued for."""

    area_id: str
    name: str
    name_en: str = ""
    name_easy: str = ""
    whole_city: bool = False
    geometry: Mapping[str, Any] | None = field(default=None, compare=False, hash=False)
    shelter_ids: tuple[str, ...] = ()
    source: str = ""

    def label(self, lang: str = "ja") -> str:
        """The name in ``lang`` (``ja``, ``en``, ``easy``), Japanese where none is given."""
        if lang == "en" and self.name_en:
            return self.name_en
        if lang in ("easy", "easy-ja") and self.name_easy:
            return self.name_easy
        return self.name

    def contains(self, shelter: Shelter) -> bool:
        """Whether ``shelter`` is in this area (whole city, listed, or inside the polygon)."""
        if self.whole_city or shelter.shelter_id in self.shelter_ids:
            return True
        if self.geometry is None:
            return False
        import shapely  # imported on use: the store imports this module, the CLI the store

        return bool(shapely.contains_xy(_polygon(self.geometry), shelter.lon, shelter.lat))


def whole_city_area(city_name: str, *, city_name_en: str = "", city_name_easy: str = "") -> Area:
    """The 全域 area of a city, named after it (every city has one)."""
    return Area(
        area_id=WHOLE_CITY,
        name=f"{city_name}全域",
        name_en=f"All of {city_name_en}" if city_name_en else "Whole city",
        name_easy=f"{city_name_easy or city_name} ぜんぶ",
        whole_city=True,
    )


#: Prefix of the ids of areas taken from the shelter file's 地区 / 町会・自治会 columns.
SHELTER_FILE_AREA_PREFIX = "from-shelters:"


def areas_from_shelters(shelters: Iterable[Shelter]) -> list[Area]:
    """One area per 地区 / 町会・自治会 the city's shelter file names, with its shelters.

    The areas are listed sets of shelters (no boundary is invented): 避難情報 for 「○○地区」
    reaches exactly the shelters the city's own file puts there.
    """
    members: dict[str, list[str]] = {}
    for shelter in shelters:
        for name in shelter.areas:
            members.setdefault(name, []).append(shelter.shelter_id)
    return [
        Area(
            area_id=_shelter_file_area_id(name),
            name=name,
            shelter_ids=tuple(ids),
            source="避難所一覧の地区・町会・自治会",
        )
        for name, ids in members.items()
    ]


def _shelter_file_area_id(name: str) -> str:
    """A stable id within the 64 characters the table allows (long names hashed)."""
    area_id = f"{SHELTER_FILE_AREA_PREFIX}{name}"
    if len(area_id) <= 64:
        return area_id
    return f"{SHELTER_FILE_AREA_PREFIX}{hashlib.sha256(name.encode()).hexdigest()[:24]}"


def shelters_in_areas(
    areas: Iterable[Area], area_ids: Iterable[str], shelters: Sequence[Shelter]
) -> list[Shelter]:
    """Shelters in any of the areas ``area_ids`` (unknown ids match nothing)."""
    wanted = set(area_ids)
    chosen = [a for a in areas if a.area_id in wanted]
    return [s for s in shelters if any(a.contains(s) for a in chosen)]


def areas_from_geojson(path: Path) -> list[Area]:
    """Read an area file; every problem reported at once, nothing returned half-checked."""
    what = path.name
    limits = file_limits()
    limits = replace(limits, json_bytes=min(limits.json_bytes, MAX_AREA_FILE_BYTES))
    raw = read_limited(path, "json", limits=limits)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(what, [Problem("file", f"is not UTF-8 ({exc.reason})")]) from exc
    data = load_json(text, what, limits=limits)  # syntax and nesting depth, with the line
    return areas_from_mapping(data, what=what)


def areas_from_mapping(data: Any, *, what: str) -> list[Area]:
    """Validate a parsed GeoJSON FeatureCollection of areas (see the module doc)."""
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise ImportFileError(what, [Problem("file", "must be a GeoJSON FeatureCollection")])
    features = data.get("features")
    if not isinstance(features, list) or not features:
        raise ImportFileError(what, [Problem("features", "must list at least one area")])
    problems: list[Problem] = []
    areas: list[Area] = []
    seen: set[str] = set()
    for number, feature in enumerate(features, start=1):
        where = f"feature {number}"
        if not isinstance(feature, dict) or not isinstance(feature.get("properties"), dict):
            problems.append(Problem(where, "must be a Feature with properties"))
            continue
        props = feature["properties"]
        area_id = str(props.get("id", props.get("地区コード", ""))).strip()
        name = str(props.get("name", props.get("地区名", ""))).strip()
        where = f"feature {number} ({area_id or name or 'no id'})"
        if not area_id:
            problems.append(Problem(where, "needs an id (id or 地区コード)"))
        elif area_id in seen:
            problems.append(Problem(where, f"repeats the id {area_id!r}"))
        seen.add(area_id)
        if not name:
            problems.append(Problem(where, "needs a name (name or 地区名)"))
        whole_city = props.get("whole_city", False)
        if not isinstance(whole_city, bool):
            problems.append(Problem(where, "whole_city must be true or false"))
            whole_city = False
        shelter_ids = props.get("shelters", [])
        if not isinstance(shelter_ids, list) or not all(isinstance(s, str) for s in shelter_ids):
            problems.append(Problem(where, "shelters must be a list of shelter ids"))
            shelter_ids = []
        geometry = feature.get("geometry")
        if geometry is not None:
            message = _geometry_problem(geometry)
            if message:
                problems.append(Problem(where, message))
                geometry = None
        if geometry is None and not whole_city and not shelter_ids:
            problems.append(
                Problem(where, "needs a polygon, a list of shelters, or whole_city: true")
            )
        texts = {k: props.get(k, "") for k in ("name_en", "name_easy", "source")}
        for key, value in texts.items():
            if not isinstance(value, str):
                problems.append(Problem(where, f"{key} must be text"))
        areas.append(
            Area(
                area_id=area_id,
                name=name,
                name_en=str(texts["name_en"]),
                name_easy=str(texts["name_easy"]),
                whole_city=whole_city,
                geometry=geometry,
                shelter_ids=tuple(shelter_ids),
                source=str(texts["source"]),
            )
        )
    if problems:
        raise ImportFileError(what, problems)
    return areas


def area_to_row(area: Area) -> dict[str, Any]:
    """The stored form of an area (the ``areas`` table)."""
    return {
        "area_id": area.area_id,
        "name": area.name,
        "name_en": area.name_en,
        "name_easy": area.name_easy,
        "whole_city": area.whole_city,
        "geometry": dict(area.geometry) if area.geometry is not None else None,
        "shelter_ids": list(area.shelter_ids),
        "source": area.source,
    }


def area_from_row(row: Mapping[Any, Any]) -> Area:
    """Invert :func:`area_to_row`."""
    return Area(
        area_id=row["area_id"],
        name=row["name"],
        name_en=row["name_en"],
        name_easy=row["name_easy"],
        whole_city=bool(row["whole_city"]),
        geometry=row["geometry"],
        shelter_ids=tuple(row["shelter_ids"]),
        source=row["source"],
    )


def _geometry_problem(geometry: Any) -> str | None:
    if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        return "geometry must be a Polygon or MultiPolygon (or null)"
    from shapely.geometry import shape

    try:
        polygon = shape(geometry)
    except (ValueError, TypeError, AttributeError, IndexError) as exc:
        return f"geometry is not readable: {exc}"
    if polygon.is_empty:
        return "geometry is empty"
    minx, miny, maxx, maxy = polygon.bounds
    west, south, east, north = JAPAN_BOUNDS
    if not (west <= minx and maxx <= east and south <= miny and maxy <= north):
        return "geometry lies outside Japan (coordinates must be lon, lat)"
    return None


def _polygon(geometry: Mapping[str, Any]) -> Any:
    from shapely.geometry import shape

    return shape(geometry)
