"""Reading PLATEAU buildings: the whole input as one frame, or tile by tile for storage."""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from disaster_dx._parsing import file_limits
from disaster_dx.errors import Problem
from disaster_dx.io.plateau.codes import ProgressHook
from disaster_dx.io.plateau.frame import empty_columns, make_frame
from disaster_dx.io.plateau.geometry import materialise
from disaster_dx.io.plateau.reader import CityGmlFile, FileReader
from disaster_dx.io.plateau.tiles import GmlSource, by_tile, expand

if TYPE_CHECKING:
    import geopandas as gpd

log = logging.getLogger(__name__)

Paths = str | os.PathLike[str] | Iterable[str | os.PathLike[str]]


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

    @property
    def duplicates(self) -> int:
        """Buildings skipped because another file (or tile) of this import had them."""
        return sum(f.duplicates for f in self.files)

    @property
    def without_building_id(self) -> int:
        """Buildings without ``uro:buildingID`` (keyed by ``gml:id`` when stored)."""
        return sum(f.without_building_id for f in self.files)

    @property
    def unknown_codes(self) -> Counter[str]:
        """Coded values not decoded, by code list."""
        total: Counter[str] = Counter()
        for f in self.files:
            total.update(f.unknown_codes)
        return total

    def summary(self) -> str:
        """One line for logs and the CLI."""
        return (
            f"{len(self.buildings)} buildings from {len(self.files)} file(s); "
            f"{self.without_footprint} without a footprint; {len(self.problems)} problem(s)"
        )


#: One tile as read: the same shape as a whole import.
Tile = BuildingImport


@dataclass(frozen=True, eq=False)
class TileColumns:
    """One tile as column lists (:data:`~.frame.COLUMNS` and ``geometry``), before any frame.

    What the city-scale import stores from: building no frame per tile saves most of the
    cost of turning buildings into table rows (and the geopandas import).
    """

    columns: dict[str, list[Any]]
    problems: tuple[Problem, ...]
    files: tuple[CityGmlFile, ...]

    def __len__(self) -> int:
        return len(self.columns["geometry"])

    @property
    def duplicates(self) -> int:
        """Buildings skipped because another file (or tile) of this import had them."""
        return sum(f.duplicates for f in self.files)

    @property
    def without_building_id(self) -> int:
        """Buildings without ``uro:buildingID`` (keyed by ``gml:id`` when stored)."""
        return sum(f.without_building_id for f in self.files)


def buildings_from_citygml(
    paths: Paths,
    *,
    progress: ProgressHook | None = None,
    codelists: str | os.PathLike[str] | None = None,
) -> BuildingImport:
    """Read PLATEAU CityGML building files into one GeoDataFrame.

    Parameters
    ----------
    paths
        A ``.gml`` file, a folder (every ``*.gml`` below it, sorted; only ``udx/bldg`` in a
        PLATEAU tree), a PLATEAU ``.zip``, or several of these.
    progress
        Called as ``progress(done_bytes, total_bytes)`` at the start, about every megabyte
        and after each file, e.g. to drive a progress bar; totals cover all files.
    codelists
        The dataset's code-list folder; by default the ``codelists/`` folder beside ``udx/``
        (or in the zip) when there is one.

    Returns
    -------
    BuildingImport
        The buildings (see the package docstring for columns and conventions), the problems
        found and a summary per file.

    Raises
    ------
    ImportFileError
        If a file is missing, not well-formed XML or uses an unsupported CRS; the message
        names the file and line, and nothing is imported.
    """
    sources = expand(paths, codelists=codelists)
    result = _read(sources, {}, {}, progress, 0, sum(s.size for s in sources))
    log.info("PLATEAU import: %s", result.summary())
    if result.problems:
        log.warning(
            "PLATEAU import: %d problem(s); first: %s", len(result.problems), result.problems[0]
        )
    return result


def read_tiles(
    paths: Paths,
    *,
    progress: ProgressHook | None = None,
    codelists: str | os.PathLike[str] | None = None,
) -> tuple[list[str], Iterator[Tile]]:
    """The tiles the inputs hold, and an iterator reading them one at a time.

    Only one tile's buildings are in memory at once (plus the ids seen so far, to drop a
    building repeated across a tile border: the first tile read keeps it). All inputs are
    checked (exist, sizes, code lists) before the first tile is read.

    Returns
    -------
    tuple
        The tile keys in the order they will be read, and the iterator.
    """
    keys, columns = read_tile_columns(paths, progress=progress, codelists=codelists)

    def tiles() -> Iterator[Tile]:
        for tile in columns:
            yield BuildingImport(make_frame(tile.columns), tile.problems, tile.files)

    return keys, tiles()


def read_tile_columns(
    paths: Paths,
    *,
    progress: ProgressHook | None = None,
    codelists: str | os.PathLike[str] | None = None,
) -> tuple[list[str], Iterator[TileColumns]]:
    """:func:`read_tiles` giving each tile's column lists instead of a frame."""
    sources = expand(paths, codelists=codelists)
    groups = by_tile(sources)
    total = sum(s.size for s in sources)

    def tiles() -> Iterator[TileColumns]:
        seen: dict[str, str] = {}
        seen_ids: dict[str, str] = {}
        done = 0
        for group in groups.values():
            tile = _read_columns(group, seen, seen_ids, progress, done, total)
            done += sum(f.size for f in tile.files)
            yield tile

    return list(groups), tiles()


def _read(
    sources: Sequence[GmlSource],
    seen: dict[str, str],
    seen_ids: dict[str, str],
    progress: ProgressHook | None,
    offset: int,
    total: int,
) -> BuildingImport:
    found = _read_columns(sources, seen, seen_ids, progress, offset, total)
    return BuildingImport(make_frame(found.columns), found.problems, found.files)


def _read_columns(
    sources: Sequence[GmlSource],
    seen: dict[str, str],
    seen_ids: dict[str, str],
    progress: ProgressHook | None,
    offset: int,
    total: int,
) -> TileColumns:
    # Column-wise, so no per-building row dict outlives its building (memory on big cities).
    columns = empty_columns()
    problems: list[Problem] = []
    summaries: list[CityGmlFile] = []
    limit = file_limits().max_bytes("xml")
    done = offset
    if progress is not None and offset == 0:
        progress(0, total)
    for source in sources:
        reader = FileReader(
            source,
            seen=seen,
            seen_ids=seen_ids,
            progress=progress,
            offset=done,
            total=total,
            limit=limit if source.zip_path is not None else None,
        )
        summaries.append(reader.read(columns))
        problems.extend(reader.problems)
        done += summaries[-1].size
        if progress is not None:
            progress(done, total)
    columns["geometry"] = materialise(columns["geometry"])  # one GEOS call per tile
    return TileColumns(columns, tuple(problems), tuple(summaries))
