"""Footprints from CityGML geometry: axis order, rings, solids' ground faces, checks.

A building's footprint comes from the first usable of :data:`~.codes.FOOTPRINT_SOURCES`;
each broken source is reported (file, line, ids) and the next one tried, so one bad ring never
loses a building's hazard attributes.
"""

from __future__ import annotations

import math
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
# Any-namespace tag filters (lxml matches "{*}name" in C, without a path parse per call).
_POLYGON, _POS_LIST, _POS = "{*}Polygon", "{*}posList", "{*}pos"
#: PLATEAU's CRS, assumed when neither the geometry nor the file names one.
DEFAULT_SRS = "http://www.opengis.net/def/crs/EPSG/0/6697"


class GeometryError(ValueError):
    """A geometry that cannot become a footprint; the message says why."""


class Shell:
    """A one-ring footprint not yet made a shapely polygon (built per tile, in bulk).

    Making one GEOS polygon per building costs more than parsing the building; most PLATEAU
    footprints are a single ring without holes, so they stay plain coordinate lists until
    :func:`materialise` turns a whole tile's into polygons with one ``from_ragged_array``.
    """

    __slots__ = ("xs", "ys")

    def __init__(self, xs: list[float], ys: list[float]) -> None:
        self.xs = xs
        self.ys = ys

    def polygon(self) -> Any:
        """The shapely polygon (the same coordinates as :func:`materialise` gives)."""
        return shapely.polygons(np.column_stack((self.xs, self.ys)))


def materialise(values: list[Any]) -> list[Any]:
    """``values`` with every :class:`Shell` replaced by its shapely polygon (in bulk)."""
    index = [i for i, value in enumerate(values) if type(value) is Shell]
    if not index:
        return values
    xs: list[float] = []
    ys: list[float] = []
    offsets = [0]
    for i in index:
        shell = values[i]
        xs.extend(shell.xs)
        ys.extend(shell.ys)
        if shell.xs[0] != shell.xs[-1] or shell.ys[0] != shell.ys[-1]:
            xs.append(shell.xs[0])  # shapely.polygons closes an open ring the same way
            ys.append(shell.ys[0])
        offsets.append(len(xs))
    ring_offsets = np.asarray(offsets, dtype=np.int64)
    polygon_offsets = np.arange(len(index) + 1, dtype=np.int64)
    polygons = shapely.from_ragged_array(
        shapely.GeometryType.POLYGON,
        np.column_stack((xs, ys)),
        (ring_offsets, polygon_offsets),
    )
    out = list(values)
    for i, polygon in zip(index, polygons.tolist(), strict=True):
        out[i] = polygon
    return out


def _signed_area(xs: list[float], ys: list[float]) -> float:
    """Twice the ring's signed area, as GEOS computes it (``Area::ofRingSigned``)."""
    if not (xs[0] == xs[-1] and ys[0] == ys[-1]):
        xs, ys = [*xs, xs[0]], [*ys, ys[0]]
    x0 = xs[0]
    total = 0.0
    for i in range(1, len(xs) - 1):
        total += (xs[i] - x0) * (ys[i - 1] - ys[i + 1])
    return total


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


def _is_float(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def union(shapes: Sequence[Any]) -> Any:
    """One shape from several (a MultiPolygon when GEOS cannot union them)."""
    shapes = [s.polygon() if type(s) is Shell else s for s in shapes]
    if len(shapes) == 1:
        return shapes[0]
    try:
        return shapely.union_all(shapes)
    except shapely.errors.GEOSException:
        return shapely.MultiPolygon(shapes)


#: A ring's longitudes and latitudes.
Ring = tuple[list[float], list[float]]
#: One polygon as read: exterior ring, interior rings, heights (``None`` in 2D), source line.
Face = tuple[Ring, list[Ring], "list[float] | None", int]


def _ground_faces(faces: list[Face], line: int) -> list[Face]:
    """The lowest horizontal face(s) of a solid: its ground footprint."""
    if any(z is None for _shell, _holes, z, _line in faces):
        return faces[:1]  # 2D solid: PLATEAU writes the ground face first
    horizontal = [
        (float(heights.mean()), face)
        for face in faces
        for heights in [np.asarray(face[2], dtype=np.float64)]
        if float(np.ptp(heights)) <= _HORIZONTAL_TOLERANCE_M
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
        """One source's footprint: a :class:`Shell` for one ring, else a shapely shape."""
        faces: list[Face] = []
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
            for polygon in element.iter(_POLYGON):
                faces.append(self._polygon(polygon, latitude_first, dimension))
        if not faces:
            raise GeometryError(f"line {elements[0].sourceline}: contains no gml:Polygon")
        if source == "lod1Solid":
            faces = _ground_faces(faces, elements[0].sourceline)
        if len(faces) == 1 and not faces[0][1]:
            (xs, ys), _holes, _z, line = faces[0]
            if not abs(_signed_area(xs, ys)) > 0:
                raise GeometryError(f"line {line}: polygon has zero area (points on one line)")
            return Shell(xs, ys)
        shapes = []
        for (xs, ys), holes, _z, line in faces:
            shell = np.column_stack((xs, ys))
            shape = (
                shapely.Polygon(shell, [np.column_stack(hole) for hole in holes])
                if holes
                else shapely.polygons(shell)
            )
            if not shape.area > 0:
                raise GeometryError(f"line {line}: polygon has zero area (points on one line)")
            shapes.append(shape)
        return union(shapes)

    def _polygon(self, polygon: Any, latitude_first: bool, dimension: int) -> Face:
        ring = polygon.find("{*}exterior/{*}LinearRing")
        if ring is None:
            raise GeometryError(f"line {polygon.sourceline}: polygon has no exterior LinearRing")
        shell, z = self._ring(ring, latitude_first, dimension)
        holes = [
            self._ring(ring, latitude_first, dimension)[0]
            for ring in polygon.iterfind("{*}interior/{*}LinearRing")
        ]
        return shell, holes, z, polygon.sourceline

    def _ring(
        self, ring: Any, latitude_first: bool, dimension: int
    ) -> tuple[Ring, list[float] | None]:
        """A ring's lon/lat lists and heights, checked; plain Python (rings are short)."""
        pos_list = next(ring.iterchildren(_POS_LIST), None)
        if pos_list is not None:
            line = pos_list.sourceline
            tokens = (pos_list.text or "").split()
            dimension_text = pos_list.get("srsDimension")
        else:
            pos_elements = list(ring.iterchildren(_POS))
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
            values = list(map(float, tokens))
        except ValueError:
            bad = next(t for t in tokens if not _is_float(t))
            raise GeometryError(f"line {line}: coordinate {bad!r} is not a number") from None
        if len(values) % dimension:
            raise GeometryError(
                f"line {line}: {len(values)} numbers cannot be split into positions of "
                f"{dimension} (odd coordinate count)"
            )
        if not all(map(math.isfinite, values)):
            raise GeometryError(f"line {line}: coordinates include NaN or infinity")
        first, second = values[0::dimension], values[1::dimension]
        xs, ys = (second, first) if latitude_first else (first, second)
        heights = values[2::dimension] if dimension >= 3 else None
        # Distinct positions in all dimensions: in 3D a solid's walls are rings too.
        distinct = len(set(zip(*(values[k::dimension] for k in range(dimension)), strict=True)))
        if distinct < 3:
            raise GeometryError(
                f"line {line}: ring has {distinct} distinct point(s); a polygon needs 3 or more"
            )
        lon_min, lat_min, lon_max, lat_max = JAPAN_BOUNDS
        if min(xs) < lon_min or min(ys) < lat_min or max(xs) > lon_max or max(ys) > lat_max:
            raise GeometryError(
                f"line {line}: position (lon {xs[0]:.6f}, lat {ys[0]:.6f}) is outside "
                "Japan (wrong axis order or CRS?)"
            )
        return (xs, ys), heights
