"""Japan Standard Time for everything people read: exports, printouts, the audit log.

The store keeps aware UTC times; staff, the L-Alert operator and printed lists read JST. Japan
has no daylight saving time, so a fixed +09:00 offset is exact and needs no time-zone database
(Windows has none without the ``tzdata`` package).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

#: Japan Standard Time (UTC+9, no daylight saving time).
JST = timezone(timedelta(hours=9), "JST")


def to_jst(moment: datetime) -> datetime:
    """The same instant in JST; naive times are refused (their zone would be a guess)."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: give an aware time (UTC or JST)")
    return moment.astimezone(JST)


def jst_minute(moment: datetime | None) -> str:
    """``YYYY-MM-DD HH:MM`` in JST, the form Japanese forms and Excel expect; ``""`` for None."""
    return "" if moment is None else to_jst(moment).strftime("%Y-%m-%d %H:%M")


def jst_second(moment: datetime | None) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in JST (the audit log needs seconds); ``""`` for None."""
    return "" if moment is None else to_jst(moment).strftime("%Y-%m-%d %H:%M:%S")


_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def jst_text(moment: datetime, lang: str = "ja") -> str:
    """A time as residents read it: ``9月1日 12:00``; English ``1 Sep, 12:00 JST``.

    The public page's script writes the same strings (``public_site``), so a time the server
    wrote does not change when the page refreshes it; LINE messages use them too.
    """
    local = to_jst(moment)
    if lang == "en":
        return f"{local.day} {_MONTHS_EN[local.month - 1]}, {local:%H:%M} JST"
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def minutes_ago(moment: datetime | None, now: datetime) -> int | None:
    """Whole minutes from ``moment`` to ``now`` (never negative); None when never reported."""
    if moment is None:
        return None
    return max(0, int((now - moment).total_seconds() // 60))
