"""Where the CityGML comes from: files, folders and PLATEAU zips, grouped into tiles.

A PLATEAU city model is distributed as one zip holding ``udx/bldg/<mesh>_bldg_6697_op.gml``
(hundreds of files, one per 3rd-order mesh; a large mesh is split into ``_2_op``, ``_3_op`` …)
and ``codelists/*.xml``. A *tile* is the mesh code taken from the file name (the file's stem when
it names no mesh): importing a tile adds or replaces that tile's buildings and leaves the others.

Zip members are streamed (decompressed as they are parsed, never extracted); their declared
and their actual decompressed size are both held to the XML size limit.
"""

from __future__ import annotations

import os
import posixpath
import re
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from disaster_dx._parsing import check_size, file_limits
from disaster_dx.errors import ImportFileError, Problem
from disaster_dx.io.plateau.codelists import NO_CODELISTS, CodeLists

#: A mesh code (2nd-order 6 digits, 3rd-order 8, half 9, quarter 10) before ``_bldg``.
_MESH_BLDG = re.compile(r"(?:^|_)(\d{6}|\d{8,10})_bldg(?:_|$)")
_MESH_ANY = re.compile(r"(?:^|_)(\d{6}|\d{8,10})(?:_|$)")


def tile_of(file_name: str) -> str:
    """The tile a file belongs to: its mesh code, else its stem.

    >>> tile_of("52350324_bldg_6697_op.gml"), tile_of("53394611_bldg_6697_2_op.gml")
    ('52350324', '53394611')
    >>> tile_of("osaka_uro30_51357341_bldg_6697_op.gml"), tile_of("town.gml")
    ('51357341', 'town')
    """
    stem = file_name.rsplit("/", 1)[-1]
    stem = stem[: -len(".gml")] if stem.lower().endswith(".gml") else stem.rsplit(".", 1)[0]
    match = _MESH_BLDG.search(stem) or _MESH_ANY.search(stem)
    return match.group(1) if match else stem


@dataclass(frozen=True)
class GmlSource:
    """One CityGML file to read: on disk or a zip member.

    Parameters
    ----------
    path
        The file, or ``<zip>/<member>`` for a zip member (its ``name`` is the member's name).
    name
        Shown in problems: the file name, or the member's path inside the zip.
    tile
        :func:`tile_of` the name.
    size
        Bytes (a zip member's declared uncompressed size).
    codelists
        The dataset's code lists (:data:`~.codelists.NO_CODELISTS` when none were found).
    zip_path, member
        Set for a zip member.
    """

    path: Path
    name: str
    tile: str
    size: int
    codelists: CodeLists
    zip_path: Path | None = None
    member: str | None = None

    @contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        """The file's bytes, streamed."""
        if self.zip_path is None:
            with self.path.open("rb") as handle:
                yield handle
        else:
            assert self.member is not None
            with zipfile.ZipFile(self.zip_path) as archive, archive.open(self.member) as handle:
                yield handle


def expand(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    codelists: str | os.PathLike[str] | None = None,
) -> list[GmlSource]:
    """Every CityGML file the inputs name, in order, with the code lists that belong to it.

    Parameters
    ----------
    paths
        ``.gml`` files, folders (every ``*.gml`` below, sorted; inside a PLATEAU tree only
        ``udx/bldg``), and PLATEAU ``.zip`` files (their ``udx/bldg/*.gml`` members).
    codelists
        A folder of code lists for every file; by default each file's dataset's own
        ``codelists/`` folder (beside ``udx/``, or in the zip) when there is one.

    Raises
    ------
    ImportFileError
        Naming every input that is missing, empty or too large; nothing is read then.
    """
    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    given = None if codelists is None else CodeLists.from_dir(Path(codelists))
    limits = file_limits()
    limit = limits.max_bytes("xml")
    cache: dict[Path, CodeLists] = {}
    sources: list[GmlSource] = []
    missing: list[Problem] = []
    for item in map(Path, items):
        if item.is_dir():
            found = _folder_files(item)
            if not found:
                missing.append(Problem(str(item), "folder holds no .gml files"))
            for path in found:
                lists = given or _lists_beside(path, cache)
                size = check_size(path, "xml", limits=limits)
                sources.append(GmlSource(path, path.name, tile_of(path.name), size, lists))
        elif item.is_file() and item.suffix.lower() == ".zip":
            zipped = _zip_sources(item, given, limit)
            if not zipped:
                missing.append(Problem(str(item), "zip holds no udx/bldg .gml files"))
            sources.extend(zipped)
        elif item.is_file():
            lists = given or _lists_beside(item, cache)
            size = check_size(item, "xml", limits=limits)
            sources.append(GmlSource(item, item.name, tile_of(item.name), size, lists))
        else:
            missing.append(Problem(str(item), "no such file"))
    if missing:
        raise ImportFileError("PLATEAU import failed, nothing was imported", missing)
    if not sources:
        raise ImportFileError("PLATEAU import failed", [Problem("input", "no files given")])
    return sources


def _folder_files(folder: Path) -> list[Path]:
    """``*.gml`` below ``folder``; in a PLATEAU tree (``udx/`` present) only building files."""
    udx = folder / "udx"
    if udx.is_dir():
        return sorted((udx / "bldg").rglob("*.gml"))
    return sorted(folder.rglob("*.gml"))


def _lists_beside(path: Path, cache: dict[Path, CodeLists]) -> CodeLists:
    """The ``codelists/`` folder of the dataset ``path`` belongs to, if any.

    PLATEAU writes ``codeSpace="../../codelists/…"`` from ``udx/bldg/``; the folder is looked
    for beside each parent up to three levels up (also covers ``udx/bldg/<sub>/``).
    """
    for parent in list(path.resolve().parents)[:4]:
        folder = parent / "codelists"
        if folder in cache:
            return cache[folder]
        if folder.is_dir():
            cache[folder] = CodeLists.from_dir(folder)
            return cache[folder]
    return NO_CODELISTS


def _zip_sources(path: Path, given: CodeLists | None, limit: int) -> list[GmlSource]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportFileError(
            f"{path.name}: not a readable zip, nothing was imported",
            [Problem(path.name, str(exc))],
        ) from exc
    with archive:
        names = [i for i in archive.infolist() if not i.is_dir()]
        gml = [i for i in names if i.filename.lower().endswith(".gml")]
        in_udx = [i for i in gml if "udx/" in f"/{i.filename}"]
        chosen = [i for i in in_udx if "/udx/bldg/" in f"/{i.filename}"] if in_udx else gml
        folders: dict[str, CodeLists] = {}
        sources = []
        for info in sorted(chosen, key=lambda i: i.filename):
            if info.file_size > limit:
                raise ImportFileError(
                    f"{path.name}: {info.filename} too large, nothing was imported",
                    [
                        Problem(
                            f"{path.name}:{info.filename}",
                            f"{info.file_size:,} bytes, more than the {limit:,} bytes allowed "
                            "for XML (MAX_XML_MB)",
                        )
                    ],
                )
            lists = given
            if lists is None:
                root = info.filename.split("udx/", 1)[0] if "udx/" in info.filename else ""
                folder = posixpath.join(root, "codelists")
                if folder not in folders:
                    has = any(posixpath.dirname(n.filename) == folder for n in names)
                    folders[folder] = CodeLists.from_zip(archive, folder) if has else NO_CODELISTS
                lists = folders[folder]
            base = posixpath.basename(info.filename)
            sources.append(
                GmlSource(
                    path / info.filename,
                    info.filename,
                    tile_of(base),
                    info.file_size,
                    lists,
                    zip_path=path,
                    member=info.filename,
                )
            )
    return sources


def by_tile(sources: Iterable[GmlSource]) -> dict[str, list[GmlSource]]:
    """Sources grouped by tile, tiles in first-seen order, files in input order."""
    groups: dict[str, list[GmlSource]] = {}
    for source in sources:
        groups.setdefault(source.tile, []).append(source)
    return groups
