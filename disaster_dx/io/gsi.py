"""Shelter lists in, one shelter master out.

Reads the three formats a Japanese city's shelters come in and merges them into sites:

- 国土地理院 指定避難所 / 指定緊急避難場所 GeoJSON (``共通ID``, ``施設・場所名``, ``住所``, hazard
  columns ``1`` or blank, Point geometry);
- the same data as GSI CSV (UTF-8 with BOM, ``緯度``/``経度`` columns, quoted fields that may
  hold newlines; per-city files lack ``都道府県名及び市町村名``);
- the 自治体標準オープンデータセット 指定緊急避難場所一覧 CSV (``災害種別_洪水`` …,
  ``想定収容人数``).

GSI lists a site that is both a 指定避難所 and a 指定緊急避難場所 twice, once per list. The two
records share the first 11 characters of their 共通ID (the facility number; the suffix ``1xx``
marks the 指定避難所 record, ``2xx`` the 指定緊急避難場所 one). Within one facility number the
records are paired one-to-one, first by identical name and then by the nearest position within
:data:`PAIR_DISTANCE_M`; records are never merged across facility numbers, because two
numbers at one spot can be separate designations the city made on purpose (the report warns
about them instead). Every source record's fields are kept exactly in ``Shelter.source``.

Every reader validates the whole file and raises one :class:`~disaster_dx.errors.ImportFileError`
listing every problem with its row or feature number, so nothing partial is ever imported.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from disaster_dx._files import decode_utf8
from disaster_dx._parsing import load_json, read_limited
from disaster_dx.errors import ImportFileError, Problem
from disaster_dx.geodesy import distance_m
from disaster_dx.model import GSI_HAZARD_COLUMNS, Hazard, Shelter, ShelterKind
from disaster_dx.model import JAPAN_BOUNDS as JAPAN_BOUNDS  # re-exported (io.residents)

log = logging.getLogger(__name__)

#: Largest distance (metres) at which a 指定避難所 and a 指定緊急避難場所 record of the same
#: facility number are taken as one site when their names differ.
PAIR_DISTANCE_M = 100.0
#: Records of different facility numbers closer than this are reported as possible duplicates.
DUPLICATE_WARN_DISTANCE_M = 5.0

# Spellings of "designated for this hazard" found in real files: GSI's ``1``, a spreadsheet or
# pandas export's ``1.0``, ``○``, ``TRUE``. Compared after NFKC and lower-casing.
_FLAG_TRUE = {"1", "1.0", "○", "◯", "〇", "true"}
_FLAG_FALSE = {"", "0", "0.0", "-", "−", "ー", "×", "✕", "false", "nan"}
#: How many example rows the grouped warning report shows per kind.
WARNING_EXAMPLES = 3
_GSI_ID = re.compile(r"^[A-Z]\d{13}$")
_STANDARD_HAZARD_COLUMNS = {h: f"災害種別_{c}" for h, c in GSI_HAZARD_COLUMNS.items()}


@dataclass(frozen=True)
class SourceRecord:
    """One row or feature of a source list, validated, with its fields kept exactly."""

    kind: ShelterKind
    record_id: str
    name: str
    address: str
    lon: float
    lat: float
    hazards: frozenset[Hazard]
    capacity: int | None
    municipality_code: str
    where: str
    fields: dict[str, object] = field(compare=False, hash=False)
    notes: tuple[ImportNote, ...] = field(default=(), compare=False, hash=False)

    @property
    def facility_key(self) -> str:
        """The facility number that GSI's two lists share (first 11 characters of 共通ID)."""
        return self.record_id[:11] if _GSI_ID.match(self.record_id) else self.record_id


@dataclass(frozen=True)
class ImportNote:
    """Something read in a way a person should check (imported anyway, never silently)."""

    kind: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


#: Words for each kind of warning in the grouped report.
NOTE_KINDS = {
    "capacity-text": "想定収容人数 read from text (屋内 N人 taken; the rest kept as a note)",
    "capacity-unreadable": "想定収容人数 has no number to take (left empty; the text kept)",
    "possible-duplicate": "possible duplicate sites",
    "other-municipality": "records of another municipality (imported; check the file)",
}


def group_notes(notes: Sequence[ImportNote], *, examples: int = WARNING_EXAMPLES) -> list[str]:
    """``["想定収容人数 read from text: 12 rows", "  row 3: …", …]`` in first-seen order."""
    groups: dict[str, list[ImportNote]] = {}
    for note in notes:
        groups.setdefault(note.kind, []).append(note)
    lines = []
    for kind, members in groups.items():
        lines.append(f"{NOTE_KINDS.get(kind, kind)}: {len(members)}")
        lines.extend(f"  {note}" for note in members[:examples])
        if len(members) > examples:
            lines.append(f"  … and {len(members) - examples} more")
    return lines


@dataclass(frozen=True)
class SourceFile:
    """What one input file held."""

    path: Path
    format: str
    kind: ShelterKind
    records: int
    sha256: str


@dataclass(frozen=True)
class ShelterImport:
    """The merged shelter master and what went into it."""

    shelters: list[Shelter]
    files: list[SourceFile]
    warnings: list[str]
    #: The same warnings with their kind and row, for :meth:`warning_report`.
    notes: list[ImportNote] = field(default_factory=list)

    def warning_report(self, *, examples: int = WARNING_EXAMPLES) -> list[str]:
        """Warnings grouped by kind: one line per kind with its count, then its first rows."""
        return group_notes(self.notes, examples=examples)

    @property
    def sha256(self) -> str:
        """One digest over all input files, to tell re-imports of identical data."""
        digest = hashlib.sha256()
        for source in sorted(self.files, key=lambda f: f.sha256):
            digest.update(source.sha256.encode())
        return digest.hexdigest()


# -- public API -------------------------------------------------------------------------------


def shelters_from_files(
    paths: Iterable[Path | str], *, city_code: str | None = None
) -> ShelterImport:
    """Read GSI/standard shelter files and merge them into one master of sites.

    Parameters
    ----------
    paths
        GeoJSON or CSV files in any of the supported formats; typically the city's
        指定避難所 file and its 指定緊急避難場所 file.
    city_code
        The city the master is for: records of another municipality (a prefecture-wide file,
        a neighbour's site) are imported but counted as warnings, so nobody misses them.

    Raises
    ------
    ImportFileError
        If any file is unreadable or has any bad record, or an ID appears twice; every problem
        of every file is listed, and nothing is returned.
    """
    records: list[SourceRecord] = []
    files: list[SourceFile] = []
    problems: list[Problem] = []
    for path in map(Path, paths):
        try:
            file_records, source = read_shelter_file(path)
        except ImportFileError as exc:
            problems.extend(exc.problems)
            continue
        records.extend(file_records)
        files.append(source)
    problems.extend(_duplicate_id_problems(records))
    if problems:
        raise ImportFileError("shelter import failed, nothing was imported", problems)
    if not records:
        raise ImportFileError("shelter import failed", [Problem("input", "no shelter records")])
    shelters, merge_warnings = merge_records(records)
    log.info("read %d records from %d files into %d sites", len(records), len(files), len(shelters))
    notes = [note for record in records for note in record.notes]
    if city_code:
        notes.extend(
            ImportNote(
                "other-municipality",
                r.where,
                f"{r.name}: 全国地方公共団体コード {r.municipality_code}, not {city_code}",
            )
            for r in records
            if r.municipality_code and r.municipality_code != city_code
        )
    notes.extend(ImportNote("possible-duplicate", "sites", w) for w in merge_warnings)
    return ShelterImport(shelters, files, [str(n) for n in notes], notes)


def read_shelter_file(path: Path) -> tuple[list[SourceRecord], SourceFile]:
    """Read one file, choosing the reader from its extension and header."""
    if not path.is_file():
        raise ImportFileError(str(path), [Problem(path.name, "no such file")])
    suffix = path.suffix.lower()
    raw = read_limited(path, "json" if suffix in {".geojson", ".json"} else "csv")
    text = decode_utf8(raw, path.name)
    reader: Callable[[str, str], tuple[list[SourceRecord], str, ShelterKind]]
    if suffix in {".geojson", ".json"}:
        reader = _records_from_geojson
    elif suffix in {".csv", ".txt"}:
        reader = _records_from_csv
    else:
        raise ImportFileError(
            path.name,
            [Problem(path.name, f"unsupported file type {suffix!r}; use .geojson or .csv")],
        )
    records, fmt, kind = reader(text, path.name)
    storable = _storable_problems(records)
    if storable:
        raise ImportFileError(path.name, storable)
    digest = hashlib.sha256(raw).hexdigest()
    return records, SourceFile(path, fmt, kind, len(records), digest)


#: Longest values the shelter master stores (``store.shelters_table``), with room for the id.
_MAX_STORED = {"record_id": 56, "name": 300, "address": 500}
_MAX_CAPACITY = 2**31 - 1  # an SQL INTEGER


def _storable_problems(records: Iterable[SourceRecord]) -> list[Problem]:
    """Values every reader accepted but a database cannot hold (found by fuzzing on PostgreSQL).

    A NUL character, an over-long id or name, a 全国地方公共団体コード that is not 5–6 digits or
    a capacity past an SQL integer made the store write fail after validation, with a
    traceback; each is a located problem here, before anything is written.
    """
    problems: list[Problem] = []
    for record in records:
        for name, limit in _MAX_STORED.items():
            value = getattr(record, name)
            if len(value) > limit:
                problems.append(Problem(record.where, f"{name} is longer than {limit} characters"))
            if any(ord(c) < 32 and c not in "\n\r\t" for c in value):  # GSI names may wrap
                problems.append(Problem(record.where, f"{name} contains control characters"))
        code = record.municipality_code
        if code and not (code.isascii() and code.isdigit() and len(code) <= 6):
            problems.append(
                Problem(record.where, "全国地方公共団体コード must be 6 digits (e.g. 392049)")
            )
        if record.capacity is not None and record.capacity > _MAX_CAPACITY:
            problems.append(Problem(record.where, f"capacity {record.capacity} is too large"))
        if any("\x00" in str(value) for value in record.fields.values()):
            problems.append(Problem(record.where, "a field contains a NUL character"))
    return problems


def merge_records(records: Sequence[SourceRecord]) -> tuple[list[Shelter], list[str]]:
    """Merge source records into sites (see the module docstring for the rule)."""
    warnings: list[str] = []
    by_facility: dict[str, list[SourceRecord]] = {}
    standard: list[SourceRecord] = []
    for record in records:
        if _GSI_ID.match(record.record_id):
            by_facility.setdefault(record.facility_key, []).append(record)
        else:
            standard.append(record)
    sites: list[list[SourceRecord]] = []
    for group in by_facility.values():
        sites.extend(_pair_facility(group))
    for record in standard:
        match = _matching_site(sites, record)
        if match is None:
            sites.append([record])
        else:
            match.append(record)
    shelters = sorted((_site(members) for members in sites), key=lambda s: s.shelter_id)
    warnings.extend(_possible_duplicates(shelters))
    return shelters, warnings


# -- GeoJSON ----------------------------------------------------------------------------------


def _records_from_geojson(text: str, name: str) -> tuple[list[SourceRecord], str, ShelterKind]:
    document = load_json(text, name)  # syntax and nesting depth refused with their line
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise ImportFileError(name, [Problem(name, "not a GeoJSON FeatureCollection")])
    features = document.get("features")
    if not isinstance(features, list):
        raise ImportFileError(name, [Problem(name, "FeatureCollection has no features list")])
    rows: list[tuple[str, dict[str, Any], Any]] = []
    problems: list[Problem] = []
    for number, feature in enumerate(features, start=1):
        where = f"{name} feature {number}"
        if not isinstance(feature, dict) or not isinstance(feature.get("properties"), dict):
            problems.append(Problem(where, "not a Feature with properties"))
            continue
        properties = feature["properties"]
        gsi_id = properties.get("共通ID")
        if gsi_id:
            where = f"{where} (共通ID {gsi_id})"
        rows.append((where, properties, feature.get("geometry")))
    kind = _kind_from_columns(set().union(*(p.keys() for _, p, _ in rows)) if rows else set())
    records = []
    for where, properties, geometry in rows:
        coords = _point(geometry)
        if coords is None:
            problems.append(Problem(where, "missing or invalid Point geometry"))
            continue
        record = _gsi_record(kind, properties, coords, where, problems)
        if record is not None:
            records.append(record)
    if problems:
        raise ImportFileError(name, problems)
    return records, "gsi-geojson", kind


def _point(geometry: Any) -> tuple[Any, Any] | None:
    if not isinstance(geometry, dict) or geometry.get("type") != "Point":
        return None
    coordinates = geometry.get("coordinates")
    if not isinstance(coordinates, list) or len(coordinates) < 2:
        return None
    return coordinates[0], coordinates[1]


# -- CSV ----------------------------------------------------------------------------------------


def _records_from_csv(text: str, name: str) -> tuple[list[SourceRecord], str, ShelterKind]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ImportFileError(name, [Problem(name, "empty file")]) from None
    except csv.Error as exc:
        raise ImportFileError(name, [Problem(f"{name} line 1", f"bad CSV: {exc}")]) from None
    columns = set(header)
    if "共通ID" in columns:
        fmt = "gsi-csv"
        required = ["共通ID", "施設・場所名", "住所", "緯度", "経度"]
    elif "名称" in columns and any(c in columns for c in _STANDARD_HAZARD_COLUMNS.values()):
        fmt = "standard-csv"
        required = ["名称", "緯度", "経度"]
    else:
        raise ImportFileError(
            name,
            [
                Problem(
                    f"{name} line 1",
                    "unknown CSV layout: expected a GSI shelter CSV (共通ID, 施設・場所名, 住所, "
                    "緯度, 経度 …) or a 自治体標準オープンデータセット 指定緊急避難場所一覧 "
                    "(名称, 緯度, 経度, 災害種別_洪水 …)",
                )
            ],
        )
    missing = [c for c in required if c not in columns]
    if missing:
        raise ImportFileError(
            name, [Problem(f"{name} line 1", f"missing column(s): {', '.join(missing)}")]
        )
    duplicated = sorted({c for c in header if header.count(c) > 1 and c})
    if duplicated:
        raise ImportFileError(
            name, [Problem(f"{name} line 1", f"column(s) repeated: {', '.join(duplicated)}")]
        )
    kind = _kind_from_columns(columns) if fmt == "gsi-csv" else ShelterKind.EMERGENCY
    records: list[SourceRecord] = []
    problems: list[Problem] = []
    row_number = 0
    while True:
        start_line = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(Problem(f"{name} line {start_line}", f"bad CSV: {exc}"))
            break
        row_number += 1
        if not any(v.strip() for v in values):
            continue
        where = f"{name} row {row_number} (line {start_line})"
        if len(values) != len(header):
            problems.append(
                Problem(where, f"has {len(values)} fields but the header has {len(header)}")
            )
            continue
        row = dict(zip(header, values, strict=True))
        coords = (row["経度"], row["緯度"])
        if fmt == "gsi-csv":
            where = f"{where} (共通ID {row['共通ID']})" if row["共通ID"] else where
            record = _gsi_record(kind, row, coords, where, problems)
        else:
            record = _standard_record(row, coords, where, problems)
        if record is not None:
            records.append(record)
    if problems:
        raise ImportFileError(name, problems)
    return records, fmt, kind


# -- records ------------------------------------------------------------------------------------


def _kind_from_columns(columns: set[str]) -> ShelterKind:
    """GSI's emergency list carries hazard columns; its shelter list does not."""
    if any(c in columns for c in GSI_HAZARD_COLUMNS.values()):
        return ShelterKind.EMERGENCY
    return ShelterKind.DESIGNATED


def _gsi_record(
    kind: ShelterKind,
    properties: Mapping[str, Any],
    coords: tuple[Any, Any],
    where: str,
    problems: list[Problem],
) -> SourceRecord | None:
    count = len(problems)
    gsi_id = _text(properties.get("共通ID"))
    if not gsi_id:
        problems.append(Problem(where, "共通ID is empty"))
    elif not _GSI_ID.match(gsi_id):
        problems.append(Problem(where, f"共通ID {gsi_id!r} is not a GSI id (letter + 13 digits)"))
    name = _text(properties.get("施設・場所名"))
    if not name:
        problems.append(Problem(where, "施設・場所名 is empty"))
    lon, lat = _lon_lat(coords, where, problems)
    hazards = _hazards(properties, GSI_HAZARD_COLUMNS, where, problems)
    if len(problems) > count:
        return None
    return SourceRecord(
        kind=kind,
        record_id=gsi_id,
        name=name,
        address=_text(properties.get("住所")),
        lon=lon,
        lat=lat,
        hazards=hazards,
        capacity=None,
        municipality_code=_code_with_check_digit(gsi_id[1:6]),
        where=where,
        fields=dict(properties),
    )


def _standard_record(
    row: Mapping[str, str], coords: tuple[Any, Any], where: str, problems: list[Problem]
) -> SourceRecord | None:
    count = len(problems)
    code = _text(row.get("全国地方公共団体コード") or row.get("市区町村コード"))
    local_id = _text(row.get("ID") or row.get("NO"))
    if not local_id:
        problems.append(Problem(where, "ID is empty"))
    name = _text(row.get("名称"))
    if not name:
        problems.append(Problem(where, "名称 is empty"))
    lon, lat = _lon_lat(coords, where, problems)
    hazards = _hazards(row, _STANDARD_HAZARD_COLUMNS, where, problems)
    capacity, note = capacity_from_text(_text(row.get("想定収容人数")))
    notes = () if note is None else (ImportNote(note[0], where, note[1]),)
    if len(problems) > count:
        return None
    address = _text(row.get("所在地_連結表記") or row.get("住所"))
    return SourceRecord(
        kind=ShelterKind.EMERGENCY,
        record_id=f"{code or 'local'}-{local_id}",
        name=name,
        address=address,
        lon=lon,
        lat=lat,
        hazards=hazards,
        capacity=capacity,
        municipality_code=code.zfill(6) if code.isdigit() else code,
        where=where,
        fields=dict(row),
        notes=notes,
    )


_PLAIN_NUMBER = re.compile(r"^(\d+)(?:\.0+)?\s*人?$")
_INDOOR = re.compile(r"屋内[^\d]{0,6}?(\d[\d,]*)\s*人?")
_OUTDOOR = re.compile(r"屋外")
_ANY_NUMBER = re.compile(r"(\d+)\s*人")


def capacity_from_text(raw: str) -> tuple[int | None, tuple[str, str] | None]:
    """The capacity in 想定収容人数 and, when it had to be read from text, a note about it.

    ``480``, ``480.0``, ``3,350人`` and full-width digits are plain numbers. Text such as
    ``屋内480人／屋外3,350人(面積の1/2)`` gives the 屋内 number (people stay indoors in a
    shelter); the whole text stays in the record's source fields. Text with only an outdoor
    figure or no number gives no capacity. Both readings are returned as notes to count.
    """
    text = unicodedata.normalize("NFKC", raw).strip()
    if text in ("", "-", "−", "ー", "nan", "不明", "なし"):
        return None, None
    compact = text.replace(",", "")
    plain = _PLAIN_NUMBER.match(compact)
    if plain:
        return int(plain.group(1)), None
    indoor = _INDOOR.search(text)
    if indoor:
        number = int(indoor.group(1).replace(",", ""))
        rest = (text[: indoor.start()] + text[indoor.end() :]).strip(" /・、,")
        kept = f" ({rest} kept as a note)" if rest else ""
        return number, ("capacity-text", f"想定収容人数 {raw!r} → {number}{kept}")
    numbers = _ANY_NUMBER.findall(compact)
    if len(numbers) == 1 and not _OUTDOOR.search(compact):
        return int(numbers[0]), (
            "capacity-text",
            f"想定収容人数 {raw!r} → {numbers[0]}",
        )
    return None, ("capacity-unreadable", f"想定収容人数 {raw!r}: no indoor number, left empty")


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _lon_lat(coords: tuple[Any, Any], where: str, problems: list[Problem]) -> tuple[float, float]:
    values = []
    for label, value in zip(("longitude 経度", "latitude 緯度"), coords, strict=True):
        if isinstance(value, bool):
            value = None
        try:
            number = float(str(value).strip()) if value is not None and value != "" else math.nan
        except ValueError:
            problems.append(Problem(where, f"{label} {value!r} is not a number"))
            return math.nan, math.nan
        if not math.isfinite(number):
            problems.append(Problem(where, f"{label} is missing"))
            return math.nan, math.nan
        values.append(number)
    lon, lat = values
    west, south, east, north = JAPAN_BOUNDS
    if not (west <= lon <= east and south <= lat <= north):
        swapped = west <= lat <= east and south <= lon <= north
        hint = " (latitude and longitude look swapped)" if swapped else ""
        problems.append(Problem(where, f"position ({lon}, {lat}) is outside Japan{hint}"))
    return lon, lat


def _hazards(
    row: Mapping[str, Any], columns: Mapping[Hazard, str], where: str, problems: list[Problem]
) -> frozenset[Hazard]:
    flagged = set()
    for hazard, column in columns.items():
        raw = _text(row.get(column))
        value = unicodedata.normalize("NFKC", raw).lower()
        if value in _FLAG_TRUE:
            flagged.add(hazard)
        elif value not in _FLAG_FALSE:
            problems.append(
                Problem(where, f"{column} is {raw!r}; expected 1 (1.0, ○, TRUE) or blank (0, ×)")
            )
    return frozenset(flagged)


def _code_with_check_digit(code5: str) -> str:
    """全国地方公共団体コード with its check digit (JIS X 0402), e.g. 39204 → 392049."""
    if len(code5) != 5 or not code5.isdigit():
        return code5
    total = sum(int(d) * w for d, w in zip(code5, (6, 5, 4, 3, 2), strict=True))
    return f"{code5}{(11 - total % 11) % 10}"


def _duplicate_id_problems(records: Sequence[SourceRecord]) -> list[Problem]:
    seen: dict[str, SourceRecord] = {}
    problems = []
    for record in records:
        first = seen.setdefault(record.record_id, record)
        if first is not record:
            problems.append(
                Problem(record.where, f"ID {record.record_id} also appears at {first.where}")
            )
    return problems


# -- merging ----------------------------------------------------------------------------------


def _distance_m(a: SourceRecord | Shelter, b: SourceRecord | Shelter) -> float:
    """Geodesic ground distance between two records or sites, metres."""
    return distance_m(a.lon, a.lat, b.lon, b.lat)


def _pair_facility(group: list[SourceRecord]) -> list[list[SourceRecord]]:
    designated = sorted(
        (r for r in group if r.kind is ShelterKind.DESIGNATED), key=lambda r: r.record_id
    )
    emergency = sorted(
        (r for r in group if r.kind is not ShelterKind.DESIGNATED), key=lambda r: r.record_id
    )
    sites: list[list[SourceRecord]] = []
    unpaired: list[SourceRecord] = []
    for shelter in designated:
        same_name = next((e for e in emergency if e.name == shelter.name), None)
        if same_name is not None:
            emergency.remove(same_name)
            sites.append([shelter, same_name])
        else:
            unpaired.append(shelter)
    for shelter in unpaired:
        near = [(d, e) for e in emergency if (d := _distance_m(shelter, e)) <= PAIR_DISTANCE_M]
        if near:
            _, closest = min(near, key=lambda pair: (pair[0], pair[1].record_id))
            emergency.remove(closest)
            sites.append([shelter, closest])
        else:
            sites.append([shelter])
    sites.extend([e] for e in emergency)
    return sites


def _matching_site(
    sites: list[list[SourceRecord]], record: SourceRecord
) -> list[SourceRecord] | None:
    """A GSI site the standard-dataset record describes (same name, within 100 m)."""
    for members in sites:
        if any(
            m.name == record.name
            and m.kind is ShelterKind.EMERGENCY
            and _GSI_ID.match(m.record_id)
            and _distance_m(m, record) <= PAIR_DISTANCE_M
            for m in members
        ) and not any(not _GSI_ID.match(m.record_id) for m in members):
            return members
    return None


def _site(members: list[SourceRecord]) -> Shelter:
    designated = next((m for m in members if m.kind is ShelterKind.DESIGNATED), None)
    emergency = [m for m in members if m.kind is ShelterKind.EMERGENCY]
    # The 指定避難所 record names the building people stay in; prefer it for the site's face.
    face = designated or emergency[0]
    ids = tuple(sorted(m.record_id for m in members))
    hazards: frozenset[Hazard] = frozenset().union(*(m.hazards for m in emergency))
    capacities = [m.capacity for m in members if m.capacity is not None]
    return Shelter(
        shelter_id=ids[0],
        name=face.name,
        address=face.address,
        lon=face.lon,
        lat=face.lat,
        kinds=frozenset(m.kind for m in members),
        hazards=hazards,
        gsi_ids=ids,
        capacity=max(capacities) if capacities else None,
        municipality_code=face.municipality_code,
        source={m.record_id: {"kind": m.kind.value, **m.fields} for m in members},
    )


def _possible_duplicates(shelters: Sequence[Shelter]) -> list[str]:
    """Distinct sites at (almost) the same spot: worth a look by whoever maintains the list."""
    warnings = []
    ordered = sorted(shelters, key=lambda s: (s.lat, s.lon))
    for i, first in enumerate(ordered):
        for second in ordered[i + 1 :]:
            # Sorted by latitude: once the north-south gap alone is too far, so is the rest.
            if distance_m(first.lon, first.lat, first.lon, second.lat) > DUPLICATE_WARN_DISTANCE_M:
                break
            if _distance_m(first, second) <= DUPLICATE_WARN_DISTANCE_M:
                warnings.append(
                    f"possible duplicate: {first.name} ({', '.join(first.gsi_ids)}) and "
                    f"{second.name} ({', '.join(second.gsi_ids)}) are at the same place but "
                    "have different facility numbers; kept as separate sites"
                )
    return warnings
