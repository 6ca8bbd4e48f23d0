"""避難行動要支援者 (residents who need help to evacuate) from a CSV list.

Cities keep the 避難行動要支援者名簿 in a welfare system and export it as CSV, usually from Excel.
:func:`residents_from_csv` reads such a file: UTF-8 with or without BOM (Excel's 「CSV UTF-8」);
Shift_JIS is refused with a message saying how to re-save it, because guessing an encoding
silently garbles names.

Columns (Japanese or English headers, any order; extra columns are ignored):

| column | also accepted | required |
|---|---|---|
| ``id`` | ``resident_id``, ``ID``, ``管理番号``, ``番号`` | yes, unique |
| ``name`` | ``氏名``, ``名前`` | yes |
| ``address`` | ``住所`` | ``address`` or ``lon``+``lat`` |
| ``lon``, ``lat`` | ``経度``, ``緯度`` | ``address`` or ``lon``+``lat`` |
| ``mobility`` | ``移動区分``, ``歩行`` | yes: :class:`Mobility` code or Japanese word |
| ``needs`` | ``必要な支援``, ``支援内容`` | no; several separated by 、 , ; or / |
| ``supporter_name`` | ``支援者氏名``, ``避難支援者`` | no |
| ``supporter_contact`` | ``支援者連絡先``, ``連絡先`` | no |
| ``consent`` | ``同意``, ``名簿提供同意`` | yes: 1/0, はい/いいえ, 同意/不同意 … |
| ``building_id`` | ``建物ID`` | no |
| ``note`` | ``備考`` | no |
| ``emergency_name`` | ``緊急連絡先氏名``, ``家族等連絡先氏名`` | no |
| ``emergency_relation`` | ``緊急連絡先続柄`` | no (a bare 続柄 is the household relation) |
| ``emergency_phone`` | ``緊急連絡先電話番号`` | when a name or relation is given |
| ``considerations`` | ``配慮事項`` | no (free text) |
| ``carry_items`` | ``持ち出し品``, ``非常持出品`` | no; several, separated like needs |
| ``supporter2_name``, ``supporter2_contact`` | ``支援者2氏名``, ``支援者2連絡先`` | no |
| ``supporter3_name``, ``supporter3_contact`` | ``支援者3氏名``, ``支援者3連絡先`` | no |
| ``created_on``, ``review_on`` | ``作成日``, ``見直し日`` | no; 2025-04-01 or 令和7年4月1日 |
| ``plan_consent`` | ``計画提供同意`` | no; blank = not yet asked, else like consent |
| ``plan_consent_on`` | ``同意日`` | no; only with plan_consent yes |

``consent`` is the consent to share the *list* (名簿, 災害対策基本法 49条の11);
``plan_consent`` is the consent to share the *plan* (個別避難計画, 49条の15) signed on the sheet.
A phone number is digits with ``-`` ``(`` ``)`` ``+`` (6 to 15 digits); a 見直し日 before the
作成日 is refused.

A row with only an address is imported without a position; its plan says the position must be
entered (this project does not send addresses to an outside geocoder).

Personal data
-------------
This is personal data (DESIGN.md §5). Nothing here logs or puts into an error message a name,
address, contact, need, mobility class or coordinate: problems name the **line number, the
resident id and the column**, and say what is expected. :class:`Resident` keeps personal fields
out of its ``repr`` so an accidental log line or traceback shows only the id.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from disaster_dx._files import decode_utf8
from disaster_dx._parsing import read_limited
from disaster_dx.errors import ImportFileError, Problem
from disaster_dx.io.csv_out import guard_text, unguard_text
from disaster_dx.io.gsi import JAPAN_BOUNDS
from disaster_dx.io.wareki import JapaneseTimeError, parse_japanese_date
from disaster_dx.residents import Mobility, Resident, Supporter

__all__ = [
    "MAX_TEXT",
    "Mobility",
    "Resident",
    "ResidentImport",
    "Supporter",
    "parse_needs",
    "residents_from_csv",
    "residents_from_text",
    "residents_to_csv",
]

log = logging.getLogger(__name__)

MAX_TEXT = {
    "resident_id": 64,
    "name": 100,
    "address": 300,
    "supporter_name": 100,
    "supporter_contact": 200,
    "needs": 500,
    "note": 1000,
    "building_id": 128,
    "emergency_name": 100,
    "emergency_relation": 50,
    "emergency_phone": 50,
    "considerations": 1000,
    "carry_items": 500,
    "supporter2_name": 100,
    "supporter2_contact": 200,
    "supporter3_name": 100,
    "supporter3_contact": 200,
}
#: Further 避難支援等実施者 columns after the first (``supporter2_*``, ``supporter3_*``).
EXTRA_SUPPORTERS = 2


@dataclass(frozen=True)
class ResidentImport:
    """Residents read from one file (all rows valid, or nothing)."""

    residents: tuple[Resident, ...]
    source: str
    sha256: str

    @property
    def without_position(self) -> int:
        """Rows that gave only an address."""
        return sum(not r.located for r in self.residents)

    def summary(self) -> str:
        """One line for logs and the CLI: counts only, never personal data."""
        return (
            f"{len(self.residents)} residents from {self.source}; "
            f"{self.without_position} without a position (address only)"
        )


_HEADERS: dict[str, tuple[str, ...]] = {
    "resident_id": ("id", "resident_id", "管理番号", "要支援者番号", "番号"),
    "name": ("name", "氏名", "名前", "氏名（漢字）"),
    "address": ("address", "住所"),
    "lon": ("lon", "longitude", "経度"),
    "lat": ("lat", "latitude", "緯度"),
    "mobility": ("mobility", "移動区分", "移動", "歩行"),
    "needs": ("needs", "必要な支援", "支援内容"),
    "supporter_name": ("supporter_name", "支援者氏名", "避難支援者", "支援者"),
    "supporter_contact": ("supporter_contact", "支援者連絡先", "連絡先"),
    "consent": ("consent", "同意", "名簿提供同意", "情報提供同意"),
    "building_id": ("building_id", "建物id"),
    "note": ("note", "備考"),
    "emergency_name": ("emergency_name", "緊急連絡先氏名", "家族等連絡先氏名"),
    "emergency_relation": ("emergency_relation", "緊急連絡先続柄", "緊急連絡先との続柄"),
    "emergency_phone": ("emergency_phone", "緊急連絡先電話番号", "緊急連絡先電話"),
    "considerations": ("considerations", "配慮事項", "支援にあたっての配慮事項"),
    "carry_items": ("carry_items", "持ち出し品", "持出品", "非常持出品"),
    "supporter2_name": ("supporter2_name", "支援者2氏名", "避難支援者2"),
    "supporter2_contact": ("supporter2_contact", "支援者2連絡先"),
    "supporter3_name": ("supporter3_name", "支援者3氏名", "避難支援者3"),
    "supporter3_contact": ("supporter3_contact", "支援者3連絡先"),
    "created_on": ("created_on", "作成日", "計画作成日"),
    "review_on": ("review_on", "見直し日", "次回見直し日", "更新予定日"),
    "plan_consent": ("plan_consent", "計画提供同意", "個別避難計画の提供同意", "計画同意"),
    "plan_consent_on": ("plan_consent_on", "同意日", "計画同意日"),
}
_REQUIRED = ("resident_id", "name", "mobility", "consent")
_YES = {"1", "true", "yes", "y", "はい", "同意", "同意あり", "あり", "有", "○", "〇"}
_NO = {"0", "false", "no", "n", "いいえ", "不同意", "同意なし", "なし", "無", "×"}
_NEEDS_SPLIT = re.compile(r"[、,;；/／・\n]+")
# A phone number as people write it: digits with - ( ) + and spaces; 内線 after "内線" or "ext".
_PHONE = re.compile(r"\+?[0-9()\- ]+(?:(?:内線|ext\.?)\s*[0-9]+)?")


def residents_from_csv(path: Path | str) -> ResidentImport:
    """Read a 要支援者 CSV; every problem of every row is reported at once, or all is read.

    Raises
    ------
    ImportFileError
        If the file is missing, not UTF-8, lacks a required column, or any row has a problem;
        each problem names the line and resident id (never the person's data).
    """
    path = Path(path)
    if not path.is_file():
        raise ImportFileError(str(path), [Problem(path.name, "no such file")])
    raw = read_limited(path, "csv")
    return residents_from_text(decode_utf8(raw, path.name), source=path.name, sha256=_digest(raw))


def residents_from_text(
    text: str, *, source: str = "residents.csv", sha256: str = ""
) -> ResidentImport:
    """Like :func:`residents_from_csv`, for text already decoded (tests, uploads)."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFileError(source, [Problem(f"{source} line 1", "the file is empty")]) from None
    except csv.Error as exc:
        raise ImportFileError(source, [Problem(f"{source} line 1", f"bad CSV: {exc}")]) from None
    columns = _columns(header)
    missing = [name for name in _REQUIRED if name not in columns]
    if "address" not in columns and not ("lon" in columns and "lat" in columns):
        missing.append("address or lon+lat")
    if missing:
        shown = ", ".join(missing)
        raise ImportFileError(
            source,
            [
                Problem(
                    f"{source} line 1",
                    f"missing column(s): {shown}. Headers may be English or Japanese "
                    "(id/管理番号, name/氏名, address/住所, lon/経度, lat/緯度, mobility/移動区分, "
                    "consent/同意 …)",
                )
            ],
        )
    residents: list[Resident] = []
    problems: list[Problem] = []
    first_line: dict[str, int] = {}
    line = reader.line_num
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. a cell over the csv module's field size limit
            problems.append(Problem(f"{source} line {line + 1}", f"bad CSV: {exc}"))
            break
        start, line = line + 1, reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        # Cells this module wrote carry the reversible formula guard (see residents_to_csv).
        values = {key: unguard_text(row[i]) if i < len(row) else "" for key, i in columns.items()}
        resident, row_problems = _resident(values, start, source)
        if resident is not None and resident.resident_id in first_line:
            row_problems.append(
                Problem(
                    _where(source, start, resident.resident_id),
                    f"id also used on line {first_line[resident.resident_id]}; ids must be unique",
                )
            )
        problems.extend(row_problems)
        if resident is not None:
            first_line.setdefault(resident.resident_id, start)
            if not row_problems:
                residents.append(resident)
    if problems:
        log.info("resident import %s refused: %d problem(s)", source, len(problems))
        raise ImportFileError(source, problems)
    result = ResidentImport(tuple(residents), source, sha256)
    log.info("resident import: %s", result.summary())
    return result


def _columns(header: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for i, cell in enumerate(header):
        text = unicodedata.normalize("NFKC", cell).strip().lstrip("\ufeff").lower()
        for key, names in _HEADERS.items():
            if key not in found and text in {n.lower() for n in names}:
                found[key] = i
    return found


def _where(source: str, line: int, resident_id: str | None) -> str:
    who = f" (id {resident_id})" if resident_id else ""
    return f"{source} line {line}{who}"


def _resident(
    values: Mapping[str, str], line: int, source: str
) -> tuple[Resident | None, list[Problem]]:
    problems: list[Problem] = []
    rid = values.get("resident_id", "").strip()
    shown_id = rid if rid and len(rid) <= MAX_TEXT["resident_id"] and rid.isprintable() else None
    where = _where(source, line, shown_id)

    def text(key: str, *, required: bool = False) -> str:
        value = unicodedata.normalize("NFC", values.get(key, "")).strip()
        value = value.replace("\r\n", "\n").replace("\r", "\n")
        if required and not value:
            problems.append(Problem(where, f"{key} is empty"))
        limit = MAX_TEXT.get(key, 100)
        if len(value) > limit:
            problems.append(Problem(where, f"{key} is longer than {limit} characters"))
        if any(ord(c) < 32 and c not in "\n\t" for c in value):
            problems.append(Problem(where, f"{key} contains control characters"))
        return value

    resident_id = text("resident_id", required=True)
    if resident_id and not re.fullmatch(r"[0-9A-Za-z_.\-]+", resident_id):
        problems.append(Problem(where, "id may use only letters, digits and . _ -"))
    name = text("name", required=True)
    address = text("address")
    lon, lat = _position(values.get("lon", ""), values.get("lat", ""), where, problems)
    if lon is None and not address:
        problems.append(Problem(where, "give an address or both lon (経度) and lat (緯度)"))
    mobility = Mobility.INDEPENDENT
    raw_mobility = text("mobility", required=True)
    if raw_mobility:
        try:
            mobility = Mobility.parse(raw_mobility)
        except ValueError:
            choices = ", ".join(f"{m.value}/{m.ja}" for m in Mobility)
            problems.append(Problem(where, f"mobility is not one of: {choices}"))
    consent_text = unicodedata.normalize("NFKC", values.get("consent", "")).strip().lower()
    consent = consent_text in _YES
    if consent_text not in _YES and consent_text not in _NO:
        problems.append(Problem(where, "consent must be 1/0, はい/いいえ or 同意/不同意"))
    needs = parse_needs(text("needs"))
    building_id = text("building_id") or None
    emergency_name = text("emergency_name")
    emergency_relation = text("emergency_relation")
    emergency_phone = _phone(text("emergency_phone"), "emergency_phone", where, problems)
    if (emergency_name or emergency_relation) and not emergency_phone:
        problems.append(
            Problem(
                where, "an emergency contact is given without emergency_phone (緊急連絡先電話番号)"
            )
        )
    supporters = []
    for k in range(2, 2 + EXTRA_SUPPORTERS):
        extra_name = text(f"supporter{k}_name")
        extra_contact = text(f"supporter{k}_contact")
        if extra_contact and not extra_name:
            problems.append(Problem(where, f"supporter{k}_contact is given without a name"))
        if extra_name:
            supporters.append(Supporter(extra_name, extra_contact))
    created_on = _day(text("created_on"), "created_on", where, problems)
    review_on = _day(text("review_on"), "review_on", where, problems)
    if created_on and review_on and review_on < created_on:
        problems.append(Problem(where, "review_on (見直し日) is before created_on (作成日)"))
    plan_consent_text = unicodedata.normalize("NFKC", values.get("plan_consent", ""))
    plan_consent_text = plan_consent_text.strip().lower()
    plan_consent: bool | None = None
    if plan_consent_text in _YES:
        plan_consent = True
    elif plan_consent_text in _NO:
        plan_consent = False
    elif plan_consent_text:
        problems.append(
            Problem(
                where, "plan_consent must be blank (not asked), 1/0, はい/いいえ or 同意/不同意"
            )
        )
    plan_consent_on = _day(text("plan_consent_on"), "plan_consent_on", where, problems)
    if plan_consent_on is not None and plan_consent is not True:
        problems.append(
            Problem(where, "plan_consent_on (同意日) is given but plan_consent is not yes")
        )
    resident = Resident(
        resident_id=resident_id,
        name=name,
        address=address,
        lon=lon,
        lat=lat,
        mobility=mobility,
        needs=needs,
        supporter_name=text("supporter_name"),
        supporter_contact=text("supporter_contact"),
        consent=consent,
        building_id=building_id,
        note=text("note"),
        emergency_name=emergency_name,
        emergency_relation=emergency_relation,
        emergency_phone=emergency_phone,
        considerations=text("considerations"),
        carry_items=parse_needs(text("carry_items")),
        supporters=tuple(supporters),
        created_on=created_on,
        review_on=review_on,
        plan_consent=plan_consent,
        plan_consent_on=plan_consent_on,
    )
    return (resident if resident_id else None), problems


def _phone(value: str, key: str, where: str, problems: list[Problem]) -> str:
    """A phone number, kept as written (NFKC: full-width digits become ASCII)."""
    value = unicodedata.normalize("NFKC", value).strip()
    if not value:
        return ""
    digits = sum(c.isdigit() for c in value)
    if not _PHONE.fullmatch(value) or not 6 <= digits <= 15:
        problems.append(
            Problem(where, f"{key} is not a phone number (digits with - ( ) +, 6 to 15 digits)")
        )
    return value


def _day(value: str, key: str, where: str, problems: list[Problem]) -> date | None:
    """A date in 西暦 or 和暦; the message names the column only (never the value)."""
    if not value:
        return None
    try:
        return parse_japanese_date(value)
    except JapaneseTimeError:
        problems.append(
            Problem(where, f"{key} is not a date (e.g. 2025-04-01, 2025/4/1 or 令和7年4月1日)")
        )
        return None


def _position(
    lon_text: str, lat_text: str, where: str, problems: list[Problem]
) -> tuple[float | None, float | None]:
    lon_text = unicodedata.normalize("NFKC", lon_text).strip()
    lat_text = unicodedata.normalize("NFKC", lat_text).strip()
    if not lon_text and not lat_text:
        return None, None
    try:
        lon, lat = float(lon_text), float(lat_text)
    except ValueError:
        problems.append(Problem(where, "lon (経度) and lat (緯度) must both be decimal degrees"))
        return None, None
    west, south, east, north = JAPAN_BOUNDS
    if not (math.isfinite(lon) and math.isfinite(lat)):
        problems.append(Problem(where, "lon/lat must be finite numbers"))
        return None, None
    if not (west <= lon <= east and south <= lat <= north):
        hint = ""
        if west <= lat <= east and south <= lon <= north:
            hint = " (lon and lat look swapped)"
        problems.append(Problem(where, f"the position is not in Japan{hint}"))
        return None, None
    return lon, lat


def _digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def residents_to_csv(residents: Iterable[Resident]) -> bytes:
    """The residents as CSV in this module's own format (UTF-8 with BOM, for Excel).

    Every cell goes through :func:`~disaster_dx.io.csv_out.guard_text`: a name or note typed
    as ``=HYPERLINK(…)`` stays text in a spreadsheet, and :func:`residents_from_csv` removes
    exactly the apostrophes the guard added, so export → import gives the same residents.
    """
    residents = list(residents)
    crowded = [r.resident_id for r in residents if len(r.supporters) > EXTRA_SUPPORTERS]
    if crowded:  # never drop a supporter silently
        raise ValueError(
            f"the CSV holds {EXTRA_SUPPORTERS} further supporters; more for: {', '.join(crowded)}"
        )
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(
        [
            "id",
            "name",
            "address",
            "lon",
            "lat",
            "mobility",
            "needs",
            "supporter_name",
            "supporter_contact",
            "consent",
            "building_id",
            "note",
            "emergency_name",
            "emergency_relation",
            "emergency_phone",
            "considerations",
            "carry_items",
            *(
                f"supporter{k}_{part}"
                for k in range(2, 2 + EXTRA_SUPPORTERS)
                for part in ("name", "contact")
            ),
            "created_on",
            "review_on",
            "plan_consent",
            "plan_consent_on",
        ]
    )
    for r in residents:
        cells = [
            r.resident_id,
            r.name,
            r.address,
            "" if r.lon is None else repr(r.lon),  # shortest text that reads back exactly
            "" if r.lat is None else repr(r.lat),
            r.mobility.value,
            "、".join(r.needs),
            r.supporter_name,
            r.supporter_contact,
            "1" if r.consent else "0",
            r.building_id or "",
            r.note,
            r.emergency_name,
            r.emergency_relation,
            r.emergency_phone,
            r.considerations,
            "、".join(r.carry_items),
            *(
                cell
                for k in range(EXTRA_SUPPORTERS)
                for cell in (
                    (r.supporters[k].name, r.supporters[k].contact)
                    if k < len(r.supporters)
                    else ("", "")
                )
            ),
            _iso(r.created_on),
            _iso(r.review_on),
            "" if r.plan_consent is None else ("1" if r.plan_consent else "0"),
            _iso(r.plan_consent_on),
        ]
        writer.writerow([guard_text(cell) for cell in cells])
    return buffer.getvalue().encode("utf-8-sig")


def _iso(day: date | None) -> str:
    return "" if day is None else day.isoformat()


def parse_needs(text: str) -> tuple[str, ...]:
    """Split a needs cell into items (、 , ; / separated)."""
    return tuple(n.strip() for n in _NEEDS_SPLIT.split(text) if n.strip())
