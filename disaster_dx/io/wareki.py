"""Times as Japanese publications write them: 和暦 with 午前/午後, or ISO 8601.

Cities publish 「令和6年8月31日午後1時30分」, 「令和元年10月13日（日）正午現在」, full-width
digits, 「R6.8.31 13:30」, or a spreadsheet's 「2024/08/31 13:30」. Reading them is tolerant of
spelling (全角/半角, spaces, a weekday in brackets, 時点/現在 after the time) but exact in
meaning: an impossible date, a weekday that does not match, a year outside its era (平成31年5月
is 令和元年) or an ambiguous 午前12時/午後12時 is refused with the reason, never guessed.
A time without a zone is Japan time (JST), as every such publication means.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, tzinfo
from functools import lru_cache
from typing import NamedTuple

from disaster_dx._time import JST


class Era(NamedTuple):
    """One era: its name, its abbreviation, the year before its first (元年) and first day."""

    name: str
    letter: str
    offset: int
    first_day: date


ERAS = (
    Era("令和", "R", 2018, date(2019, 5, 1)),
    Era("平成", "H", 1988, date(1989, 1, 8)),
    Era("昭和", "S", 1925, date(1926, 12, 25)),
)
_ERA_BY_KEY = {key: era for era in ERAS for key in (era.name, era.letter)}
_WEEKDAYS = "月火水木金土日"
_KANJI_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")}

_DATE = re.compile(
    r"^(?:(?P<era>令和|平成|昭和|[RHS])(?P<eyear>元|\d{1,2})|(?P<year>\d{4}))"
    r"(?:年|[./-])(?P<month>\d{1,2})(?:月|[./-])(?P<day>\d{1,2})日?"
)
_WEEKDAY = re.compile(r"^\((?P<wd>[月火水木金土日])(?:曜日?)?\)")
_TIME = re.compile(
    r"^(?:(?P<noon>正午)|(?P<ampm>午前|午後|AM|PM)?"
    r"(?P<hour>\d{1,2})(?:時|:)(?:(?P<half>半)|(?P<minute>\d{1,2})分?)?"
    r"(?:(?::|分)?(?P<second>\d{1,2})秒?)?)"
)
_SUFFIXES = ("時点", "現在", "頃", "ごろ")


class JapaneseTimeError(ValueError):
    """A time text that cannot be read exactly; the message says why."""


@lru_cache(maxsize=4096)
def parse_japanese_time(text: str) -> datetime:
    """An aware datetime from 和暦, 西暦 with 年月日, or ISO 8601 text (JST when no zone).

    Cached: a publication repeats its 時点 on every row.
    """
    original = text
    normal = unicodedata.normalize("NFKC", text).strip()
    if not normal:
        raise JapaneseTimeError("is empty")
    iso = _iso(normal, original)
    if iso is not None:
        return iso
    cleaned = _clean(normal)
    match = _DATE.match(cleaned)
    if match is None:
        raise JapaneseTimeError(
            f"{original!r} is not a date and time (e.g. 令和6年8月31日午後1時30分)"
        )
    day = _date(match, original)
    rest = cleaned[match.end() :]
    weekday = _WEEKDAY.match(rest)
    if weekday is not None:
        written = weekday.group("wd")
        if _WEEKDAYS[day.weekday()] != written:
            raise JapaneseTimeError(
                f"{original!r}: {day:%Y-%m-%d} is a {_WEEKDAYS[day.weekday()]}曜日, "
                f"not {written}曜日"
            )
        rest = rest[weekday.end() :]
    if not rest:
        raise JapaneseTimeError(f"{original!r} has a date but no time of day")
    when = _TIME.match(rest)
    if when is None or when.end() != len(rest):
        raise JapaneseTimeError(f"{original!r}: cannot read the time of day {rest!r}")
    hour, minute, second = _clock(when, original)
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=JST)


@lru_cache(maxsize=1024)
def parse_japanese_date(text: str) -> date:
    """A calendar date from 和暦 (令和6年4月1日, R6.4.1) or 西暦 (2024-04-01, 2024年4月1日).

    For dates without a time of day, such as a plan's 作成日 or 見直し日; a weekday in brackets
    is checked like :func:`parse_japanese_time` checks it, and anything after the date refused.
    """
    original = text
    cleaned = _clean(unicodedata.normalize("NFKC", text).strip())
    if not cleaned:
        raise JapaneseTimeError("is empty")
    match = _DATE.match(cleaned)
    if match is None:
        raise JapaneseTimeError(f"{original!r} is not a date (e.g. 2024-04-01 or 令和6年4月1日)")
    day = _date(match, original)
    rest = cleaned[match.end() :]
    weekday = _WEEKDAY.match(rest)
    if weekday is not None:
        if _WEEKDAYS[day.weekday()] != weekday.group("wd"):
            raise JapaneseTimeError(
                f"{original!r}: {day:%Y-%m-%d} is a {_WEEKDAYS[day.weekday()]}曜日, "
                f"not {weekday.group('wd')}曜日"
            )
        rest = rest[weekday.end() :]
    if rest:
        raise JapaneseTimeError(f"{original!r}: unexpected text after the date: {rest!r}")
    return day


def wareki_date(day: date) -> str:
    """「令和7年4月1日」 (元年 for the first year); 西暦 before 昭和."""
    for era in ERAS:
        if day >= era.first_day:
            year = day.year - era.offset
            return f"{era.name}{'元' if year == 1 else year}年{day.month}月{day.day}日"
    return f"{day.year}年{day.month}月{day.day}日"


def _clean(normal: str) -> str:
    """No spaces, brackets unified, 漢数字 as digits, 時点/現在 dropped."""
    cleaned = re.sub(r"\s+", "", normal)
    cleaned = _KANJI_NUMBER.sub(lambda m: str(_kanji_number(m[0])), cleaned)
    for suffix in _SUFFIXES:
        cleaned = cleaned.removesuffix(suffix)
    return cleaned


_KANJI_NUMBER = re.compile(r"[〇一二三四五六七八九十]+")


def _kanji_number(text: str) -> int:
    """「二十四」 → 24, 「十」 → 10, 「〇五」 → 5 (the numbers dates and times use)."""
    if "十" not in text:
        return int("".join(str(_KANJI_DIGITS[c]) for c in text))
    tens, _, ones = text.partition("十")
    return (_KANJI_DIGITS[tens] if tens else 1) * 10 + (_KANJI_DIGITS[ones] if ones else 0)


_ISO = re.compile(
    r"^(?P<y>\d{4})[-/](?P<mo>\d{1,2})[-/](?P<d>\d{1,2})"
    r"(?:(?:T|\s+)(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.\d+)?)?)?"
    r"\s*(?P<tz>Z|[+-]\d{2}:?\d{2})?$"
)


def _iso(normal: str, original: str) -> datetime | None:
    """ISO 8601 (``2024-08-31T13:30+09:00``; ``2024/08/31 13:30`` too), else None."""
    found = _ISO.match(normal)
    if found is None:
        return None
    if found["h"] is None:
        raise JapaneseTimeError(f"{original!r} has a date but no time of day")
    zone: tzinfo = JST
    if found["tz"]:
        zone = datetime.fromisoformat(f"2000-01-01T00:00{found['tz']}").tzinfo or JST
    try:
        return datetime(
            int(found["y"]),
            int(found["mo"]),
            int(found["d"]),
            int(found["h"]),
            int(found["mi"]),
            int(found["s"] or 0),
            tzinfo=zone,
        )
    except ValueError:
        raise JapaneseTimeError(f"{original!r} is not a real date and time") from None


def _date(match: re.Match[str], original: str) -> date:
    if match.group("era"):
        era = _ERA_BY_KEY[match.group("era")]
        era_year = 1 if match.group("eyear") == "元" else int(match.group("eyear"))
        if era_year < 1:
            raise JapaneseTimeError(f"{original!r}: {era.name}{era_year}年 does not exist")
        year = era.offset + era_year
    else:
        era, year = None, int(match.group("year"))
    try:
        day = date(year, int(match.group("month")), int(match.group("day")))
    except ValueError:
        raise JapaneseTimeError(f"{original!r} is not a real date") from None
    if era is not None:
        if day < era.first_day:
            raise JapaneseTimeError(
                f"{original!r}: {era.name} began on {era.first_day:%Y-%m-%d}; this day is earlier"
            )
        later = next((e for e in ERAS if e.first_day > era.first_day), None)
        if later is not None and day >= later.first_day:
            era_year = day.year - later.offset
            named = "元" if era_year == 1 else str(era_year)
            raise JapaneseTimeError(
                f"{original!r}: {day:%Y-%m-%d} is in {later.name} ({later.name}{named}年), "
                f"not {era.name}"
            )
    return day


def _clock(when: re.Match[str], original: str) -> tuple[int, int, int]:
    if when.group("noon"):
        return 12, 0, 0
    hour = int(when.group("hour"))
    minute = 30 if when.group("half") else int(when.group("minute") or 0)
    second = int(when.group("second") or 0)
    ampm = when.group("ampm")
    if ampm:
        if hour == 12:
            raise JapaneseTimeError(
                f"{original!r}: {ampm}12時 is read both ways; write 正午, 午前0時 or 午後0時"
            )
        if hour > 12:
            raise JapaneseTimeError(f"{original!r}: {ampm} with hour {hour} (use 0–11)")
        if ampm in ("午後", "PM"):
            hour += 12
    if hour > 23 or minute > 59 or second > 59:
        raise JapaneseTimeError(f"{original!r}: {hour}時{minute}分{second}秒 is not a time of day")
    return hour, minute, second


_FILE_TIME = re.compile(
    r"(?<!\d)(?P<y>\d{4})[-_.]?(?P<mo>\d{2})[-_.]?(?P<d>\d{2})[T_\- ]?"
    r"(?P<h>\d{2})[-_.:h]?(?P<mi>\d{2})(?:[-_.:m]?(?P<s>\d{2}))?(?!\d)"
)
_FILE_WAREKI = re.compile(
    r"(?:令和|平成|昭和)(?:元|\d{1,2})年\d{1,2}月\d{1,2}日(?:\([^)]*\))?"
    r"(?:正午|(?:午前|午後)?\d{1,2}時(?:半|\d{1,2}分)?)"
)


def time_from_file_name(name: str) -> datetime | None:
    """The publication time written in a file name (``20240831_1330.csv``, 和暦), else None.

    Raises :class:`JapaneseTimeError` when the name holds a time that is not a real one.
    """
    stem = unicodedata.normalize("NFKC", name).rsplit(".", 1)[0]
    found = _FILE_TIME.search(stem)
    if found is not None:
        try:
            return datetime(
                int(found["y"]),
                int(found["mo"]),
                int(found["d"]),
                int(found["h"]),
                int(found["mi"]),
                int(found["s"] or 0),
                tzinfo=JST,
            )
        except ValueError:
            raise JapaneseTimeError(
                f"file name {name!r}: {found[0]!r} is not a real time"
            ) from None
    wareki = _FILE_WAREKI.search(stem)
    return parse_japanese_time(wareki[0]) if wareki is not None else None
