"""Import PLATEAU tiles into the plans' building storage, with a report per tile.

What ``disaster-dx import-buildings`` runs for CityGML input (and the benchmark): tiles are
read one at a time, each turned into table rows and spooled to a temporary file
(:class:`~disaster_dx.plans.buildings.TileSpool`), so memory holds about one tile however many
are imported; then all are stored in one write transaction that adds or replaces just those
tiles (:func:`~disaster_dx.plans.buildings.save_building_tiles`, loading one tile at a time),
so the database is locked for the write only, not for the parse.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from disaster_dx.errors import Problem
from disaster_dx.io.plateau.codes import ProgressHook
from disaster_dx.io.plateau.importer import (
    Paths,
    Tile,
    TileColumns,
    read_tile_columns,
    read_tiles,
)

if TYPE_CHECKING:
    import geopandas as gpd

    from disaster_dx.plans.buildings import TileSpool
    from disaster_dx.store import Store


@dataclass(frozen=True)
class TileReport:
    """One tile's import, for the CLI and the log.

    Parameters
    ----------
    tile
        Mesh code (or file stem).
    files
        Its files (zip members by their path in the zip).
    buildings
        Buildings read (after skipping copies already read in this import).
    duplicates
        Copies skipped while reading (same ``gml:id`` or ``uro:buildingID`` earlier).
    stored
        Buildings stored (``None`` on a dry run).
    stored_elsewhere
        Buildings skipped because another stored tile already has them (``None``: dry run).
    replaced
        Buildings this tile held before and that were replaced (``None``: dry run).
    problems
        Problems other than duplicates (bad geometry, values, buildings that cannot be stored).
    without_building_id
        Buildings without ``uro:buildingID``, stored under their ``gml:id``.
    unknown_codes
        Coded values not decoded, by code list.
    unstorable
        Buildings read but not storable: no footprint and no position, or no id at all
        (each also reported as a problem).
    """

    tile: str
    files: tuple[str, ...]
    buildings: int
    duplicates: int
    stored: int | None
    stored_elsewhere: int | None
    replaced: int | None
    problems: int
    without_building_id: int
    unknown_codes: dict[str, int]
    unstorable: int = 0

    def line(self) -> str:
        """One line: ``tile 52350324 (1 file): 135 buildings, …``."""
        parts = [f"{self.buildings} buildings"]
        if self.stored is not None:
            parts.append(f"{self.stored} stored")
            if self.replaced:
                parts.append(f"{self.replaced} replaced")
            if self.stored_elsewhere:
                parts.append(f"{self.stored_elsewhere} already stored in another tile")
        if self.unstorable:
            parts.append(f"{self.unstorable} not storable (no position or no id)")
        parts.append(f"{self.duplicates} duplicate(s)")
        parts.append(f"{self.problems} problem(s)")
        if self.without_building_id:
            parts.append(f"{self.without_building_id} without uro:buildingID (gml:id used)")
        unknown = sum(self.unknown_codes.values())
        parts.append(f"{unknown} unknown code(s)")
        files = self.files[0] if len(self.files) == 1 else f"{len(self.files)} files"
        return f"tile {self.tile} ({files}): " + ", ".join(parts)


@dataclass(frozen=True)
class ImportReport:
    """What one import read and stored."""

    tiles: tuple[TileReport, ...]
    problems: tuple[Problem, ...]
    version: int | None
    total_buildings: int | None
    total_tiles: int | None
    replace_all: bool
    codelists: tuple[str, ...]
    missing_codelists: tuple[str, ...]

    @property
    def unknown_codes(self) -> Counter[str]:
        """Codes not decoded over all tiles, by code list."""
        total: Counter[str] = Counter()
        for tile in self.tiles:
            total.update(tile.unknown_codes)
        return total

    def lines(self, *, tiles: int | None = 50) -> list[str]:
        """The per-tile report (the first ``tiles`` lines; all for ``None``) and totals."""
        out = [t.line() for t in (self.tiles if tiles is None else self.tiles[:tiles])]
        if tiles is not None and len(self.tiles) > tiles:
            out.append(f"… {len(self.tiles) - tiles} more tile(s) (--verbose lists all)")
        read = sum(t.buildings for t in self.tiles)
        duplicates = sum(t.duplicates for t in self.tiles)
        problems = sum(t.problems for t in self.tiles)
        no_id = sum(t.without_building_id for t in self.tiles)
        unknown = self.unknown_codes
        out.append(
            f"total: {len(self.tiles)} tile(s), {read:,} buildings read, {duplicates} "
            f"duplicate(s) skipped, {problems} problem(s), {no_id} without uro:buildingID, "
            f"{sum(unknown.values())} unknown code(s)"
        )
        if unknown:
            listed = ", ".join(f"{name} ×{count}" for name, count in unknown.most_common(8))
            out.append(f"unknown codes by list: {listed}")
        if self.codelists:
            out.append("code lists: " + ", ".join(self.codelists))
        else:
            out.append("code lists: none found (rankOrg and descriptions stay undecoded)")
        if self.missing_codelists:
            out.append("code lists not in the dataset: " + ", ".join(self.missing_codelists))
        if self.version is not None:
            stored = sum(t.stored or 0 for t in self.tiles)
            elsewhere = sum(t.stored_elsewhere or 0 for t in self.tiles)
            scope = "all tiles replaced" if self.replace_all else "other tiles kept"
            out.append(
                f"{stored:,} buildings saved in {len(self.tiles)} tile(s), {elsewhere} already "
                f"stored in another tile; {scope}; now {self.total_buildings:,} buildings in "
                f"{self.total_tiles} tile(s) (version {self.version})"
            )
        return out


def import_buildings(
    store: Store | None,
    paths: Paths,
    *,
    actor: str,
    codelists: str | os.PathLike[str] | None = None,
    replace_all: bool = False,
    source: str | None = None,
    progress: ProgressHook | None = None,
    transform: Callable[[gpd.GeoDataFrame], gpd.GeoDataFrame] | None = None,
) -> ImportReport:
    """Read PLATEAU tiles and store them for plans (``store`` ``None``: a dry run).

    Parameters
    ----------
    store
        Where to save; ``None`` reads and reports only.
    paths
        Files, folders and PLATEAU zips (see :func:`~disaster_dx.io.plateau.read_tiles`).
    actor
        Recorded as the importer.
    codelists
        The dataset's code-list folder, when not beside ``udx/`` or in the zip.
    replace_all
        Replace every stored building, not only the tiles read.
    source
        Recorded as the dataset's source (default: the paths).
    progress
        ``progress(done_bytes, total_bytes)`` while reading.
    transform
        Applied to each tile's frame before it is stored (e.g. depths from hazard zones).

    Raises
    ------
    ImportFileError
        If an input is missing, malformed or too large: nothing is stored.
    """
    from disaster_dx.plans.buildings import TileSpool

    # A dry run spools nothing (its rows are counted, not kept).
    with TileSpool() if store is not None else nullcontext() as spool:
        return _import(
            store, paths, spool, actor, codelists, replace_all, source, progress, transform
        )


def _import(
    store: Store | None,
    paths: Paths,
    spool: TileSpool | None,
    actor: str,
    codelists: str | os.PathLike[str] | None,
    replace_all: bool,
    source: str | None,
    progress: ProgressHook | None,
    transform: Callable[[gpd.GeoDataFrame], gpd.GeoDataFrame] | None,
) -> ImportReport:
    from disaster_dx.plans.buildings import (
        building_rows,
        building_rows_from_columns,
        save_building_tiles,
    )

    tiles: Iterator[Tile | TileColumns]
    if transform is None:  # straight from column lists to rows: no frame per tile
        keys, tiles = read_tile_columns(paths, progress=progress, codelists=codelists)
    else:
        keys, tiles = read_tiles(paths, progress=progress, codelists=codelists)
    problems: list[Problem] = []
    read: list[dict[str, Any]] = []
    lists: dict[str, None] = {}
    missing: dict[str, None] = {}
    for tile in tiles:
        key = tile.files[0].tile
        if isinstance(tile, TileColumns):
            count = len(tile)
            found = building_rows_from_columns(tile.columns, tile.columns["geometry"], tile=key)
        else:
            count = len(tile.buildings)
            assert transform is not None
            found = building_rows(transform(tile.buildings), tile=key)
        if spool is not None:
            spool.add(key, found.rows)
        duplicates = tile.duplicates
        unknown: Counter[str] = Counter()
        for f in tile.files:
            unknown.update(f.unknown_codes)
            if f.codelists:
                lists[f.codelists] = None
            missing.update(dict.fromkeys(f.missing_codelists))
        problems.extend(tile.problems)
        unstorable = found.skipped_without_id + found.skipped_without_position
        read.append(
            {
                "tile": key,
                "files": tuple(f.path.name for f in tile.files),
                "buildings": count,
                "duplicates": duplicates,
                "problems": len(tile.problems) - duplicates,
                "without_building_id": tile.without_building_id,
                "unknown_codes": dict(unknown),
                "unstorable": unstorable,
            }
        )
        del tile, found
    assert [r["tile"] for r in read] == keys
    version = total = total_tiles = None
    saved: dict[str, Any] = {}
    if store is not None and spool is not None:
        result = save_building_tiles(
            store,
            spool,
            actor=actor,
            source=source if source is not None else _source(paths),
            replace_all=replace_all,
            summary={
                "problems": sum(r["problems"] for r in read),
                "duplicates": sum(r["duplicates"] for r in read),
                "without_building_id": sum(r["without_building_id"] for r in read),
                "unknown_codes": sum(sum(r["unknown_codes"].values()) for r in read),
            },
        )
        version, total, total_tiles = result.version, result.total_buildings, result.total_tiles
        saved = {t.tile: t for t in result.tiles}
    reports = tuple(
        TileReport(
            tile=r["tile"],
            files=r["files"],
            buildings=r["buildings"],
            duplicates=r["duplicates"],
            stored=saved[r["tile"]].stored if saved else None,
            stored_elsewhere=saved[r["tile"]].skipped_stored_elsewhere if saved else None,
            replaced=saved[r["tile"]].replaced if saved else None,
            problems=r["problems"],
            without_building_id=r["without_building_id"],
            unknown_codes=r["unknown_codes"],
            unstorable=r["unstorable"],
        )
        for r in read
    )
    return ImportReport(
        reports,
        tuple(problems),
        version,
        total,
        total_tiles,
        replace_all,
        tuple(lists),
        tuple(missing),
    )


def _source(paths: Paths) -> str:
    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    return ", ".join(map(str, items))
