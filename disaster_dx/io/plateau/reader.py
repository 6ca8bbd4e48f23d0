"""Streaming one CityGML file: ``lxml.etree.iterparse``, one ``bldg:Building`` at a time.

Each building is read, appended to column lists and freed together with everything before it,
so memory stays flat however large the file (city files run to gigabytes). Buildings are
deduplicated across every file of one import: by ``gml:id`` (the same element twice) and by
the city's building id (``uro:buildingID``: a building on a tile border appears in both tiles).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from lxml import etree

from disaster_dx.errors import ImportFileError, Problem
from disaster_dx.io.plateau._xml import local
from disaster_dx.io.plateau.attributes import BuildingReader
from disaster_dx.io.plateau.codelists import Decoder
from disaster_dx.io.plateau.codes import ProgressHook
from disaster_dx.io.plateau.geometry import latitude_first
from disaster_dx.io.plateau.tiles import GmlSource

log = logging.getLogger(__name__)

_PROGRESS_STEP_BYTES = 1 << 20


@dataclass(frozen=True)
class CityGmlFile:
    """What one CityGML file held.

    Parameters
    ----------
    path
        The file (``<zip>/<member>`` for a zip member).
    buildings
        Buildings imported from it (duplicates skipped).
    problems
        Problems reported for it (duplicates included).
    size
        Bytes read.
    sha256
        Digest of the file's bytes, to tell a re-import of identical data.
    srs_name
        The file-level ``srsName`` (from its ``gml:Envelope``), if any.
    iur_version
        The i-UR version of its ``uro`` namespace (``"3.0"``, ``"3.1"`` …), if any.
    tile
        The tile (mesh code, else the file's stem) it belongs to.
    duplicates
        Buildings skipped because an earlier file (or this one) already had them.
    without_building_id
        Buildings without ``uro:buildingID`` (their ``gml:id`` is their key in storage).
    unknown_codes
        Coded values that could not be decoded, by code list.
    missing_codelists
        Code lists the file names that the dataset does not hold.
    codelists
        Where the dataset's code lists were read from (``None``: none found).
    """

    path: Path
    buildings: int
    problems: int
    size: int
    sha256: str
    srs_name: str | None
    iur_version: str | None
    tile: str = ""
    duplicates: int = 0
    without_building_id: int = 0
    unknown_codes: Mapping[str, int] = field(default_factory=dict)
    missing_codelists: tuple[str, ...] = ()
    codelists: str | None = None


class _Reader:
    """A binary stream that counts and hashes what the parser reads, up to ``limit`` bytes."""

    def __init__(self, raw: IO[bytes], name: str, limit: int | None) -> None:
        self._raw = raw
        self._name = name
        self._limit = limit
        self.done = 0
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.done += len(data)
        if self._limit is not None and self.done > self._limit:
            raise ImportFileError(
                f"{self._name}: larger than allowed, nothing was imported",
                [Problem(self._name, f"more than {self._limit:,} bytes once decompressed")],
            )
        self.digest.update(data)
        return data


class FileReader:
    """Streams one file's buildings into column lists, collecting problems."""

    def __init__(
        self,
        source: GmlSource,
        *,
        seen: dict[str, str],
        seen_ids: dict[str, str],
        progress: ProgressHook | None,
        offset: int,
        total: int,
        limit: int | None = None,
    ) -> None:
        self.source = source
        self.path = source.path
        self.name = source.name
        self.tile = source.tile
        self.seen = seen
        self.seen_ids = seen_ids
        self.progress = progress
        self.offset = offset
        self.total = total
        self.limit = limit
        self.decoder = Decoder(source.codelists)
        self.problems: list[Problem] = []
        self.srs_name: str | None = None
        self.dimension = 3
        self.iur_version: str | None = None
        self.ignored: set[str] = set()
        self.duplicates = 0
        self.without_building_id = 0
        self._root_checked = False

    def read(self, columns: dict[str, list[Any]]) -> CityGmlFile:
        """Append this file's buildings to ``columns``; a summary of the file."""
        count = 0
        reported = 0
        appenders = [(column, values.append) for column, values in columns.items()]
        with self.source.open() as raw:
            stream = _Reader(raw, self.name, self.limit)
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
                    if local(elem.tag) == "Envelope":
                        if self.srs_name is None and count == 0:
                            self._file_srs(elem)
                        continue
                    row = self._building(elem)
                    if row is not None:
                        for column, append in appenders:
                            append(row[column])
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
            tile=self.tile,
            duplicates=self.duplicates,
            without_building_id=self.without_building_id,
            unknown_codes=dict(sorted(self.decoder.unknown.items())),
            missing_codelists=tuple(sorted(self.decoder.missing)),
            codelists=self.source.codelists.origin,
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
        """Whether ``srs_name`` is latitude first; an unsupported CRS stops the import."""
        try:
            return latitude_first(srs_name)
        except ValueError as exc:
            raise ImportFileError(
                f"{self.name}: unsupported coordinate reference system, nothing was imported",
                [Problem(f"{self.name} line {line}", str(exc))],
            ) from exc

    # -- one building -------------------------------------------------------------------------

    def _building(self, elem: Any) -> dict[str, Any] | None:
        gml_id = next((v for k, v in elem.attrib.items() if local(k) == "id"), None)
        building = BuildingReader(self, elem, gml_id)
        row = building.row()
        building_id = row["building_id"]
        if gml_id is not None:
            first = self.seen.get(gml_id)
            if first is not None:
                self.problems.append(
                    Problem(
                        building.where,
                        f"gml:id already imported from {first}; this copy was skipped",
                    )
                )
                self.duplicates += 1
                return None
        if building_id is not None:
            first = self.seen_ids.get(building_id)
            if first is not None:
                self.problems.append(
                    Problem(
                        building.where,
                        f"building id {building_id} already imported from {first}; "
                        "this copy was skipped",
                    )
                )
                self.duplicates += 1
                return None
            self.seen_ids[building_id] = self.name
        elif gml_id is None:
            self.problems.append(
                Problem(
                    building.where,
                    "neither uro:buildingID nor gml:id; kept in the frame but it cannot be stored",
                )
            )
        else:
            self.without_building_id += 1
        if gml_id is not None:
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
