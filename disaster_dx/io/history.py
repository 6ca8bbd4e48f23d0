"""Published open-shelter snapshots (one CSV per publication time) → validated snapshots.

During a long disaster (the 2024 Noto Peninsula earthquake: eight months) cities and
volunteers publish the open shelters again and again, one CSV per publication:
``ID,地区,名称,人数,時点`` plus, often, the 自治体標準オープンデータセット columns (緯度, 経度,
住所 …). This module only reads such a folder; :mod:`disaster_dx.history` matches the rows to
the shelter master and writes the incident.

- Encodings as real files come: UTF-8 with or without BOM, and Shift_JIS/CP932 (Excel).
- 時点 as published (和暦 with 午前/午後, full-width digits, ISO 8601; see
  :mod:`disaster_dx.io.wareki`); a file without any 時点 takes the time in its name, and the
  report says so.
- All or nothing: every problem of every file is collected with its file, row and line, then
  :class:`~disaster_dx.errors.ImportFileError` is raised and nothing is read.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from disaster_dx._time import to_jst
from disaster_dx.errors import ImportFileError, Problem
from disaster_dx.io.wareki import JapaneseTimeError, parse_japanese_time, time_from_file_name

#: Header names read for each column (after NFKC and without spaces); the first is canonical.
COLUMNS: Mapping[str, tuple[str, ...]] = {
    "ID": ("ID", "NO", "番号"),
    "名称": ("名称", "避難所名", "避難所名称", "施設名"),
    "地区": ("地区", "地区名"),
    "人数": ("人数", "避難者数", "避難者数(人)", "避難人数"),
    "時点": ("時点", "更新日時", "日時"),
}
REQUIRED = ("名称", "人数")
#: 人数 written as these means "not reported" (a dash in a table), never zero.
NOT_REPORTED = frozenset({"", "-", "―", "ー", "‐", "−", "不明"})
_BLANK_COUNT_WORDS = {"-", "―", "ー", "‐", "−"}
#: How many rows each warning lists by place (the rest are counted).
SHOWN_PER_KIND = 5


@dataclass(frozen=True)
class SnapshotRow:
    """One shelter of one publication, as written (its ID, name and 人数)."""

    file: str
    row: int
    line: int
    local_id: str
    name: str
    district: str
    evacuees: int | None
    fields: Mapping[str, str]

    @property
    def where(self) -> str:
        """``20240831.csv row 3 (line 4)``: where a person finds it in the file."""
        return f"{self.file} row {self.row} (line {self.line})"


@dataclass(frozen=True)
class Snapshot:
    """One publication: its time, how that time was read, and its shelters."""

    file: str
    at: datetime
    time_from: str
    encoding: str
    rows: tuple[SnapshotRow, ...]


@dataclass
class Warnings:
    """Readings that were not errors but changed or inferred something, grouped by kind."""

    by_kind: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, where: str) -> None:
        """Count one more of ``kind`` at ``where``."""
        self.by_kind.setdefault(kind, []).append(where)

    def lines(self) -> list[str]:
        """One line per kind with its count and first places."""
        out = []
        for kind, places in self.by_kind.items():
            shown = "; ".join(places[:SHOWN_PER_KIND])
            more = (
                f"; … {len(places) - SHOWN_PER_KIND} more" if len(places) > SHOWN_PER_KIND else ""
            )
            out.append(f"{kind}: {len(places)} ({shown}{more})")
        return out


@dataclass(frozen=True)
class SnapshotSeries:
    """Every publication of a folder in time order, and the warnings from reading them."""

    folder: str
    snapshots: tuple[Snapshot, ...]
    warnings: Warnings


def snapshots_from_folder(folder: Path | str) -> SnapshotSeries:
    """Read every ``*.csv`` of ``folder`` as one publication each, ordered by time.

    Raises
    ------
    ImportFileError
        Any problem in any file (each with file, row and line); nothing is returned then.
    """
    path = Path(folder)
    if not path.is_dir():
        raise ImportFileError(str(path), [Problem(str(path), "is not a folder")])
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".csv")
    if not files:
        raise ImportFileError(str(path), [Problem(str(path), "holds no .csv file")])
    return snapshots_from_files(files, folder=str(path))


def snapshots_from_files(paths: Iterable[Path], *, folder: str = "") -> SnapshotSeries:
    """Read the given CSV files as publications (see :func:`snapshots_from_folder`)."""
    problems: list[Problem] = []
    warnings = Warnings()
    snapshots: list[Snapshot] = []
    for file_path in paths:
        snapshot = _read_snapshot(file_path.name, file_path.read_bytes(), problems, warnings)
        if snapshot is not None:
            snapshots.append(snapshot)
    seen: dict[datetime, str] = {}
    for snapshot in snapshots:
        other = seen.get(snapshot.at)
        if other is not None:
            problems.append(
                Problem(
                    snapshot.file,
                    f"has the same time ({to_jst(snapshot.at):%Y-%m-%d %H:%M}) as {other}: "
                    "two publications of one instant cannot be ordered",
                )
            )
        seen[snapshot.at] = snapshot.file
    if problems:
        raise ImportFileError(f"shelter snapshots in {folder or 'the files'}", problems)
    snapshots.sort(key=lambda s: s.at)
    return SnapshotSeries(folder, tuple(snapshots), warnings)


def decode_csv(raw: bytes) -> tuple[str, str]:
    """Text and the encoding it was read in: UTF-8 (± BOM) first, then CP932 (Shift_JIS).

    Raises ``ValueError`` naming the first undecodable byte when it is neither.
    """
    if raw.startswith(codecs.BOM_UTF16_LE) or raw.startswith(codecs.BOM_UTF16_BE):
        raise ValueError("is UTF-16 (Excel 'Unicode text'); save it as CSV UTF-8 or Shift_JIS")
    if raw.startswith(codecs.BOM_UTF8):
        try:
            return raw[len(codecs.BOM_UTF8) :].decode("utf-8"), "UTF-8 (BOM)"
        except UnicodeDecodeError as exc:
            raise ValueError(
                f"starts with a UTF-8 BOM but byte {exc.start + 3} is not UTF-8"
            ) from None
    try:
        return raw.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError as utf8:
        try:
            return raw.decode("cp932"), "CP932 (Shift_JIS)"
        except UnicodeDecodeError as sjis:
            raise ValueError(
                f"is neither UTF-8 (bad byte at {utf8.start}) nor Shift_JIS/CP932 "
                f"(bad byte at {sjis.start})"
            ) from None


def header_key(name: str) -> str:
    """A header as compared: NFKC, no spaces (「 名 称 」, 全角 ＩＤ)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name))


def normalised_name(name: str) -> str:
    """A shelter name as matched: NFKC (全角/半角) and no spaces of any width."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name))


def _read_snapshot(
    name: str, raw: bytes, problems: list[Problem], warnings: Warnings
) -> Snapshot | None:
    count = len(problems)
    try:
        text, encoding = decode_csv(raw)
    except ValueError as exc:
        problems.append(Problem(name, str(exc)))
        return None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        problems.append(Problem(name, "is empty (no header line)"))
        return None
    except csv.Error as exc:
        problems.append(Problem(f"{name} line 1", f"is not CSV: {exc}"))
        return None
    keys = [header_key(h) for h in header]
    columns = _columns(keys)
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        problems.append(
            Problem(
                f"{name} line 1",
                f"has no column {'/'.join(missing)} (columns: {', '.join(keys)}); "
                "expected ID,地区,名称,人数,時点",
            )
        )
        return None
    rows: list[SnapshotRow] = []
    times: list[tuple[datetime, str]] = []
    untimed: list[str] = []
    seen_ids: dict[str, str] = {}
    seen_names: dict[str, str] = {}
    line = 1
    try:
        for number, values in enumerate(reader, start=1):
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue  # a blank line (Excel leaves them at the end)
            where = f"{name} row {number} (line {line})"
            if len(values) != len(keys):
                problems.append(
                    Problem(where, f"has {len(values)} fields; the header has {len(keys)}")
                )
                continue
            fields = dict(zip(keys, (v.strip() for v in values), strict=True))
            row = _row(name, number, line, fields, columns, problems, warnings)
            if row is None:
                continue
            raw_time = _field(fields, columns, "時点")
            if raw_time:
                try:
                    times.append((parse_japanese_time(raw_time), where))
                except JapaneseTimeError as exc:
                    problems.append(Problem(where, f"時点 {exc}"))
            else:
                untimed.append(where)
            key, seen = (
                (row.local_id, seen_ids)
                if row.local_id
                else (normalised_name(row.name), seen_names)
            )
            if key in seen:
                label = f"ID {row.local_id}" if row.local_id else f"名称 {row.name}"
                problems.append(Problem(where, f"{label} is listed twice (also {seen[key]})"))
            seen[key] = where
            rows.append(row)
    except csv.Error as exc:
        problems.append(Problem(f"{name} line {line}", f"is not CSV: {exc}"))
        return None
    if len(problems) > count:
        return None
    at, time_from = _snapshot_time(name, times, untimed, problems, warnings)
    if at is None:
        return None
    return Snapshot(name, at, time_from, encoding, tuple(rows))


def _columns(keys: Sequence[str]) -> dict[str, str]:
    """Canonical column → the header as written in this file."""
    found: dict[str, str] = {}
    for canonical, names in COLUMNS.items():
        for key in keys:
            if key in names or key.upper() in names:
                found[canonical] = key
                break
    return found


def _field(fields: Mapping[str, str], columns: Mapping[str, str], canonical: str) -> str:
    """The value of an optional column, blank when the file has no such column."""
    return fields[columns[canonical]] if canonical in columns else ""


def _row(
    file: str,
    number: int,
    line: int,
    fields: Mapping[str, str],
    columns: Mapping[str, str],
    problems: list[Problem],
    warnings: Warnings,
) -> SnapshotRow | None:
    where = f"{file} row {number} (line {line})"
    name = fields[columns["名称"]]
    local_id = unicodedata.normalize("NFKC", _field(fields, columns, "ID")).strip()
    if not name:
        problems.append(Problem(where, "名称 is empty"))
        return None
    raw = unicodedata.normalize("NFKC", fields[columns["人数"]]).strip()
    evacuees: int | None = None
    if raw in NOT_REPORTED:
        label = f"「{raw}」" if raw else "空欄"
        warnings.add(f"人数が{label}（報告なし: 開設中のまま、人数は直前の報告）", where)
    else:
        digits = raw.replace(",", "").removesuffix("人").strip()
        try:
            value = float(digits)
        except ValueError:
            problems.append(Problem(where, f"人数 {fields[columns['人数']]!r} is not a number"))
            return None
        if value != int(value):
            problems.append(Problem(where, f"人数 {raw!r} is not a whole number"))
            return None
        if value < 0:
            problems.append(Problem(where, f"人数 {raw!r} is negative"))
            return None
        evacuees = int(value)
        if "." in digits:
            warnings.add("人数を小数表記から整数で読んだ（例 12.0 → 12）", where)
    return SnapshotRow(
        file=file,
        row=number,
        line=line,
        local_id=local_id,
        name=name,
        district=_field(fields, columns, "地区"),
        evacuees=evacuees,
        fields=dict(fields),
    )


def _snapshot_time(
    name: str,
    times: list[tuple[datetime, str]],
    untimed: list[str],
    problems: list[Problem],
    warnings: Warnings,
) -> tuple[datetime | None, str]:
    """The publication's time: its rows' 時点 (the newest), else the file name's time."""
    if times:
        newest = max(t for t, _ in times)
        for moment, where in times:
            if moment != newest:
                warnings.add(
                    f"時点がファイル内の最新（{to_jst(newest):%Y-%m-%d %H:%M}）と違う行"
                    "（最新の時点の公表として記録）",
                    where,
                )
        for where in untimed:
            warnings.add("時点が空欄の行（同じファイルの時点で記録）", where)
        return newest, "時点"
    try:
        from_name = time_from_file_name(name)
    except JapaneseTimeError as exc:
        problems.append(Problem(name, str(exc)))
        return None, ""
    if from_name is None:
        problems.append(
            Problem(
                name, "has no 時点 in any row and no time in its file name (e.g. 20240831_1330)"
            )
        )
        return None, ""
    warnings.add("時点の列がなくファイル名の時刻を使用", name)
    return from_name, "ファイル名"
