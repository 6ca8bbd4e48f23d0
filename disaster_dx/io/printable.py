"""A printable A4 shelter list: one standalone HTML page HQ prints or posts on a wall.

When the network or the app is down, paper still works: HQ hands the list to the phone desk,
posts it at the city office or faxes it to a community centre. So the page is self-contained
(inline CSS, no scripts, no web fonts, no images), prints in black and white (states are words,
never colours alone), repeats the table header on every page and numbers pages from CSS.

The page is the template ``templates/printable.html``. Everything people typed (shelter names
from imports, notes from staff, the incident title) is escaped by the template (autoescape, see
:mod:`disaster_dx.templating`); public notes are shown to the public, so a note containing
markup must print as the text it is. Internal notes and reporter names appear only with
``include_internal=True`` (the HQ copy); the public copy never carries them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from disaster_dx._time import jst_minute, minutes_ago
from disaster_dx.events import ShelterStatus, State
from disaster_dx.io.lalert import was_opened
from disaster_dx.model import (
    SHELTER_KIND_ORDER,
    CrowdingThresholds,
    Need,
    OpenState,
    Shelter,
)
from disaster_dx.templating import render

log = logging.getLogger(__name__)

#: An urgent need lapses unless re-confirmed within this (``Settings.urgent_need_hours``).
DEFAULT_URGENT_EXPIRY = timedelta(hours=6)

# Open shelters first (what readers look for), then the ones about to open, then the rest.
_STATE_ORDER = {
    OpenState.OPEN: 0,
    OpenState.PERMANENT: 1,
    OpenState.PREPARING: 2,
    OpenState.CLOSED: 3,
    OpenState.NOT_OPEN: 4,
}

# Column keys and widths: the public copy, and the HQ copy with internal columns.
_PUBLIC_COLUMNS = (
    ("name", "18%"),
    ("kind", "9%"),
    ("state", "7%"),
    ("crowding", "7%"),
    ("count", "9%"),
    ("households", "6%"),
    ("needs", "14%"),
    ("note", "19%"),
    ("reported", "11%"),
)
_INTERNAL_COLUMNS = (
    ("name", "15%"),
    ("kind", "7%"),
    ("state", "6%"),
    ("crowding", "6%"),
    ("count", "8%"),
    ("households", "5%"),
    ("needs", "10%"),
    ("note", "12%"),
    ("reported", "9%"),
    ("internal_note", "15%"),
    ("reporter", "7%"),
)

_WORDS: dict[str, dict[str, str]] = {
    "ja": {
        "title": "避難所一覧",
        "incident": "災害名",
        "made": "作成日時",
        "internal": "本部用（内部情報を含む・取扱注意）",
        "drill": "訓練 / DRILL",
        "name": "避難所名",
        "kind": "種別",
        "state": "開設状況",
        "crowding": "混雑状況",
        "count": "避難者数／収容人数",
        "households": "世帯数",
        "needs": "必要な支援",
        "note": "お知らせ",
        "reported": "最終報告",
        "internal_note": "内部メモ",
        "reporter": "報告者",
        "unknown": "不明",
        "none": "—",
        "not_reported": "未報告",
        "manual": "（手動）",
        "urgent": "至急",
        "ago": "（{n}分前）",
        "list_sep": "、",
        "summary": "開設中 {open} か所・避難者 {evacuees} 人（報告のある避難所の合計）",
        "empty": "該当する避難所はありません。",
    },
    "en": {
        "title": "Shelter list",
        "incident": "Incident",
        "made": "Made at",
        "internal": "HQ copy (contains internal information)",
        "drill": "DRILL",
        "name": "Shelter",
        "kind": "Kind",
        "state": "Open state",
        "crowding": "Crowding",
        "count": "Evacuees / capacity",
        "households": "Households",
        "needs": "Needs",
        "note": "Notice",
        "reported": "Last report",
        "internal_note": "Internal note",
        "reporter": "Reported by",
        "unknown": "Unknown",
        "none": "—",
        "not_reported": "Not reported",
        "manual": " (set by staff)",
        "urgent": "urgent",
        "ago": "({n} min ago)",
        "list_sep": ", ",
        "summary": "{open} shelters open, {evacuees} evacuees (sum of reported counts)",
        "empty": "No shelters to list.",
    },
}


def printable_shelter_list(
    shelters: Sequence[Shelter],
    state: State,
    *,
    thresholds: CrowdingThresholds,
    now: datetime,
    incident_title: str,
    include_internal: bool = False,
    lang: str = "ja",
    municipality: str,
    include_unopened: bool = False,
    drill: bool = False,
    urgent_expire_after: timedelta = DEFAULT_URGENT_EXPIRY,
    names: Mapping[str, str] | None = None,
) -> str:
    """The shelter list as one standalone HTML page for A4 paper.

    Parameters
    ----------
    shelters
        The shelter master; the list keeps this order within each open state (open first).
    state
        The incident state (a fold of its events).
    thresholds
        The city's crowding thresholds.
    now
        The instant the list is made (aware): the 作成日時 and every "N分前" count from it.
    incident_title
        The incident's title, printed in the header (escaped).
    include_internal
        HQ copy: add internal notes and reporter names. Never set it for a public copy.
    lang
        ``"ja"`` (default) or ``"en"``; vocabulary labels follow it.
    municipality
        The city named in the header.
    include_unopened
        Also list shelters never opened nor reported in this incident.
    drill
        Print an unmistakable 訓練 banner (a drill incident's list must never pass for live).
    urgent_expire_after
        An urgent need not re-confirmed within this is no longer marked 至急 (it lapses);
        it still shows if it is also among the ordinary needs.
    names
        Login id → display name, so the HQ copy names reporters as people know them.

    Returns
    -------
    str
        The HTML document.
    """
    words = _WORDS["en" if lang == "en" else "ja"]
    lang_code = "en" if lang == "en" else "ja"
    chosen = [
        (shelter, state.shelter(shelter.shelter_id))
        for shelter in shelters
        if include_unopened or was_opened(state.shelter(shelter.shelter_id))
    ]
    chosen.sort(key=lambda pair: _STATE_ORDER[pair[1].open_state])

    rows = [
        _row(
            shelter,
            status,
            words=words,
            lang=lang_code,
            thresholds=thresholds,
            now=now,
            include_internal=include_internal,
            urgent_expire_after=urgent_expire_after,
            names=names or {},
        )
        for shelter, status in chosen
    ]
    open_count = sum(1 for _, s in chosen if s.open_state.is_open)
    evacuees = sum(s.evacuees or 0 for _, s in chosen if s.open_state.is_open)

    made = jst_minute(now)
    document = render(
        "printable.html",
        lang=lang_code,
        words=words,
        title=f"{municipality} {words['title']}",
        incident_title=incident_title,
        made=made,
        summary=words["summary"].format(open=open_count, evacuees=f"{evacuees:,}"),
        drill=drill,
        include_internal=include_internal,
        columns=_INTERNAL_COLUMNS if include_internal else _PUBLIC_COLUMNS,
        rows=rows,
    )
    log.debug("printable list: %d shelters (internal=%s)", len(rows), include_internal)
    return document


def _row(
    shelter: Shelter,
    status: ShelterStatus,
    *,
    words: dict[str, str],
    lang: str,
    thresholds: CrowdingThresholds,
    now: datetime,
    include_internal: bool,
    urgent_expire_after: timedelta,
    names: Mapping[str, str],
) -> dict[str, object]:
    """One row's values as text; the template escapes them and lays out the cells."""
    crowding = status.crowding(thresholds, master_capacity=shelter.capacity)
    if not status.open_state.is_open:
        crowding_text = words["none"]
    elif crowding is None:
        crowding_text = words["unknown"]
    else:
        manual = words["manual"] if status.crowding_override is not None else ""
        crowding_text = crowding.label(lang) + manual
    capacity = status.capacity if status.capacity is not None else shelter.capacity
    count = f"{_number(status.evacuees, words)} / {_number(capacity, words)}"

    urgent = status.active_urgent_needs(now, expire_after=urgent_expire_after)
    needs = [f"【{words['urgent']}】{n.label(lang)}" for n in Need if n in urgent]
    needs += [n.label(lang) for n in Need if n in status.needs and n not in urgent]
    if status.other_needs:
        needs.append(status.other_needs)

    ago = minutes_ago(status.reported_at, now)
    reported: dict[str, str] | None = None
    if ago is not None:
        # Date and time on their own lines: the column is narrow on A4 portrait.
        day, clock = jst_minute(status.reported_at).split(" ")
        reported = {"day": day, "clock": clock, "ago": words["ago"].format(n=ago)}
    row: dict[str, object] = {
        "name": shelter.name,
        "address": shelter.address,
        "kinds": [k.label(lang) for k in SHELTER_KIND_ORDER if k in shelter.kinds],
        "state": status.open_state.label(lang),
        "crowding": crowding_text,
        "count": count,
        "households": _number(status.households, words),
        "needs": words["list_sep"].join(needs),
        "note": status.public_note,
        "reported": reported,
    }
    if include_internal:
        row["internal_note"] = status.internal_note
        reporter = status.reported_by or ""
        row["reporter"] = names.get(reporter, reporter)
    return row


def _number(value: int | None, words: dict[str, str]) -> str:
    return words["none"] if value is None else f"{value:,}"
