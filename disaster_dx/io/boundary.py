"""A city's outline from 国土数値情報 行政区域データ (N03) GeoJSON.

N03 files come per prefecture (or cut to one city); each feature is one polygon of a
municipality with ``N03_001`` (prefecture), ``N03_004`` (municipality) and ``N03_007`` (the
行政区域コード: the 全国地方公共団体コード's first five digits, or all six). The city's features
are picked by code and joined into one geometry; a file without any of them is refused, naming
the codes it does hold, so another city's outline is never drawn as this one's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import shape

from disaster_dx.city import City
from disaster_dx.errors import ImportFileError, Problem

MAX_BOUNDARY_FILE_BYTES = 200 * 1024 * 1024


def outline_from_n03(path: Path, city: City) -> dict[str, Any]:
    """The city's outline (GeoJSON geometry, lon/lat) from an N03 GeoJSON file.

    Raises
    ------
    ImportFileError
        When the file is not a FeatureCollection of polygons, a feature of the city has a bad
        geometry (named by feature number), or no feature belongs to the city.
    """
    what = path.name
    try:
        if path.stat().st_size > MAX_BOUNDARY_FILE_BYTES:
            raise ImportFileError(
                what, [Problem("file", f"is larger than {MAX_BOUNDARY_FILE_BYTES:,} bytes")]
            )
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except OSError as exc:
        raise ImportFileError(what, [Problem("file", f"cannot be read: {exc}")]) from exc
    except UnicodeDecodeError as exc:
        raise ImportFileError(what, [Problem("file", f"is not UTF-8 ({exc.reason})")]) from exc
    except json.JSONDecodeError as exc:
        raise ImportFileError(
            what, [Problem(f"line {exc.lineno}", f"is not valid JSON: {exc.msg}")]
        ) from exc
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, list):
        raise ImportFileError(what, [Problem("file", "must be a GeoJSON FeatureCollection")])
    problems: list[Problem] = []
    parts = []
    others: set[str] = set()
    for number, feature in enumerate(features, start=1):
        properties = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(properties, dict):
            problems.append(Problem(f"feature {number}", "must be a Feature with properties"))
            continue
        code = str(properties.get("N03_007") or "").strip()
        if code not in (city.code, city.code[:5]):
            others.add(f"{code} {properties.get('N03_004') or ''}".strip())
            continue
        geometry = feature.get("geometry")
        try:
            if not isinstance(geometry, dict) or geometry.get("type") not in (
                "Polygon",
                "MultiPolygon",
            ):
                raise ValueError("geometry must be a Polygon or MultiPolygon")
            part = shape(geometry)
            if not part.is_valid:
                part = shapely.make_valid(part)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            problems.append(Problem(f"feature {number}", str(exc)))
            continue
        parts.append(part)
    if not parts and not problems:
        held = ", ".join(sorted(others)[:5]) or "none"
        problems.append(
            Problem(
                "features",
                f"no feature has N03_007 = {city.code[:5]} ({city.full_name}); the file holds "
                f"{held}{' …' if len(others) > 5 else ''}",
            )
        )
    if problems:
        raise ImportFileError(what, problems)
    west, south, east, north = shapely.union_all(parts).bounds
    if not (122 <= west <= east <= 154.5 and 20 <= south <= north <= 46):
        raise ImportFileError(what, [Problem("geometry", "is outside Japan (lon/lat expected)")])
    result: dict[str, Any] = json.loads(shapely.to_geojson(shapely.union_all(parts)))
    return result
