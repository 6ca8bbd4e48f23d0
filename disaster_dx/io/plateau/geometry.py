"""Footprints from CityGML geometry: axis order, rings, solids' ground faces, checks.

A building's footprint comes from the first usable of :data:`~.codes.FOOTPRINT_SOURCES`;
each broken source is reported (file, line, ids) and the next one tried, so one bad ring never
loses a building's hazard attributes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from disaster_dx.io.plateau.codes import FOOTPRINT_SOURCES, JAPAN_BOUNDS

if TYPE_CHECKING:
    from disaster_dx.io.plateau.reader import FileReader

_HORIZONTAL_TOLERANCE_M = 0.05
#: PLATEAU's CRS, assumed when neither the geometry nor the file names one.
DEFAULT_SRS = "http://www.opengis.net/def/crs/EPSG/0/6697"


class GeometryError(ValueError):
    """A geometry that cannot become a footprint; the message says why."""


@cache
def latitude_first(srs_name: str) -> bool:
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


def union(shapes: Sequence[Any]) -> Any:
    """One shape from several (a MultiPolygon when GEOS cannot union them)."""
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
        raise GeometryError(f"line {line}: solid has no horizontal face")
    lowest = min(height for height, _face in horizontal)
    return [face for height, face in horizontal if height - lowest <= _HORIZONTAL_TOLERANCE_M]


class FootprintMixin:
    """Footprint reading for :class:`~.attributes.BuildingReader` (needs ``reader``/``problem``)."""

    reader: FileReader

    def problem(self, message: str) -> None:  # pragma: no cover - overridden
        """Report a problem with the building being read."""
        raise NotImplementedError

    def _footprint(self, geometry: dict[str, list[Any]]) -> tuple[Any, str | None]:
        """The first usable footprint, reporting each broken source on the way."""
        broken: list[str] = []
        for source in FOOTPRINT_SOURCES:
            elements = geometry.get(source)
            if not elements:
                continue
            try:
                shape = self._surface(source, elements)
            except GeometryError as exc:
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
            srs = geometry_root.get("srsName") or self.reader.srs_name or DEFAULT_SRS
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
            raise GeometryError(f"line {elements[0].sourceline}: contains no gml:Polygon")
        if source == "lod1Solid":
            faces = _ground_faces(faces, elements[0].sourceline)
        shapes = []
        for shell, holes, _z, line in faces:
            shape = shapely.Polygon(shell, holes) if holes else shapely.polygons(shell)
            if not shape.area > 0:
                raise GeometryError(f"line {line}: polygon has zero area (points on one line)")
            shapes.append(shape)
        return union(shapes)

    def _polygon(
        self, polygon: Any, latitude_first: bool, dimension: int
    ) -> tuple[np.ndarray, list[np.ndarray], np.ndarray | None, int]:
        exterior = polygon.find("{*}exterior/{*}LinearRing")
        if exterior is None:
            raise GeometryError(f"line {polygon.sourceline}: polygon has no exterior LinearRing")
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
                raise GeometryError(f"line {ring.sourceline}: ring has no gml:posList or gml:pos")
            line = pos_elements[0].sourceline
            tokens = [token for p in pos_elements for token in (p.text or "").split()]
            dimension_text = pos_elements[0].get("srsDimension") or str(
                len((pos_elements[0].text or "").split())
            )
        if dimension_text:
            if not dimension_text.isdigit() or int(dimension_text) not in (2, 3):
                raise GeometryError(f"line {line}: srsDimension {dimension_text!r} is not 2 or 3")
            dimension = int(dimension_text)
        try:
            values = np.array(tokens, dtype=np.float64)
        except ValueError:
            bad = next(t for t in tokens if not _is_float(t))
            raise GeometryError(f"line {line}: coordinate {bad!r} is not a number") from None
        if len(values) % dimension:
            raise GeometryError(
                f"line {line}: {len(values)} numbers cannot be split into positions of "
                f"{dimension} (odd coordinate count)"
            )
        if not np.isfinite(values).all():
            raise GeometryError(f"line {line}: coordinates include NaN or infinity")
        positions = values.reshape(-1, dimension)
        xy = positions[:, [1, 0]] if latitude_first else positions[:, :2]
        if _distinct_points(positions, 3) < 3:  # in 3D: a solid's walls are rings too
            raise GeometryError(
                f"line {line}: ring has {_distinct_points(positions)} distinct point(s); "
                "a polygon needs 3 or more"
            )
        low = xy.min(axis=0)
        high = xy.max(axis=0)
        lon_min, lat_min, lon_max, lat_max = JAPAN_BOUNDS
        if low[0] < lon_min or low[1] < lat_min or high[0] > lon_max or high[1] > lat_max:
            raise GeometryError(
                f"line {line}: position (lon {xy[0, 0]:.6f}, lat {xy[0, 1]:.6f}) is outside "
                "Japan (wrong axis order or CRS?)"
            )
        return xy, (positions[:, 2] if dimension >= 3 else None)
