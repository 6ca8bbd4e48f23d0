"""The words of the city's LINE messages: openings and closings, 避難情報, HQ announcements.

Kept apart from the outbox and the sender (:mod:`disaster_dx.line.sender`) so the wording can be
read and reviewed in one place. Written as the city's 防災 staff would post them: what
happened first, then where to look, as of when; Japanese first, then one English line whose
link opens the public page in English (``?lang=en``).

Opening notifications start with a summary (「津波に対応する避難所など63か所を開設しました」, the
counts by kind) and list names only up to ``LINE_MAX_NAMES``: 63 names in one message bury the
news, and the public page has the full, current list. When a hazard is in force, the summary
says how many of the opened sites are designated for it, never more than are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from disaster_dx._time import jst_text
from disaster_dx.city import NANKOKU_CODE, City, city_for_code
from disaster_dx.model import SHELTER_KIND_ORDER, AlertLevel, Hazard, OpenState, ShelterKind

#: LINE refuses text messages longer than this, and more than this many messages per request.
MAX_TEXT = 5000
MAX_MESSAGES = 5
#: The city messages are sent for when a caller names none (tests of the wording); the
#: app always passes the city its database serves (``Store.city``).
DEFAULT_CITY = city_for_code(NANKOKU_CODE)

#: What a level asks people to do (内閣府「避難情報に関するガイドライン」, 令和3年).
_ACTION_JA = {
    AlertLevel.ELDERLY_EVACUATE: "危険な場所から高齢者等は避難してください。"
    "ほかの方も避難の準備をしてください。",
    AlertLevel.EVACUATE: "危険な場所から全員避難してください。",
    AlertLevel.EMERGENCY_SAFETY: "命の危険があります。直ちに身の安全を確保してください。"
    "外に出るのが危険なときは、建物の上の階など少しでも安全な場所へ（屋内安全確保）。",
}
_ACTION_EN = {
    AlertLevel.ELDERLY_EVACUATE: "Older people and others who need time: leave danger now.",
    AlertLevel.EVACUATE: "Everyone in a dangerous place: evacuate now.",
    AlertLevel.EMERGENCY_SAFETY: "Your life is in danger: secure your safety at once.",
}


@dataclass(frozen=True)
class Site:
    """What a message needs to know of a shelter: its name, kinds and hazards."""

    name: str
    kinds: frozenset[ShelterKind] = frozenset()
    hazards: frozenset[Hazard] = frozenset()


def with_lang(url: str, lang: str) -> str:
    """``url`` with ``lang=…`` in its query (replacing one already there)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "lang"]
    query.append(("lang", lang))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _kind_counts(ids: Sequence[str], sites: Mapping[str, Site]) -> str:
    """「指定避難所 20か所、指定緊急避難場所 50か所」; a site of two kinds counts in both."""
    counts = [
        (kind, sum(1 for i in ids if kind in sites.get(i, Site(i)).kinds))
        for kind in SHELTER_KIND_ORDER
    ]
    parts = [f"{kind.ja} {n}か所" for kind, n in counts if n]
    both = sum(1 for i in ids if len(sites.get(i, Site(i)).kinds) > 1)
    text = "、".join(parts)
    if both:
        text += f"。両方に指定された施設{both}か所は両方に数えています"
    return text


def _names(
    ids: Sequence[str], sites: Mapping[str, Site], *, hazard: Hazard | None, max_names: int
) -> list[str]:
    """Up to ``max_names`` names, those suitable for the hazard first, others marked as such."""
    ordered = sorted(
        ids, key=lambda i: hazard is not None and hazard not in sites.get(i, Site(i)).hazards
    )
    lines = []
    for sid in ordered[:max_names]:
        site = sites.get(sid, Site(sid))
        note = f"（{hazard.ja}には非対応）" if hazard and hazard not in site.hazards else ""
        lines.append(f"・{site.name}{note}")
    if len(ordered) > max_names:
        lines.append(f"ほか{len(ordered) - max_names}か所")
    return lines


def status_message_text(
    items: Sequence[Mapping[str, Any]],
    *,
    sites: Mapping[str, Site],
    public_url: str,
    at: datetime,
    hazard: Hazard | None = None,
    max_names: int = 10,
    city: City = DEFAULT_CITY,
) -> str:
    """The LINE text for a batch of openings and closings: a summary first, then some names.

    ``hazard`` is the hazard in force when the batch last changed (None: none is in force).
    """
    opened = [i["shelter_id"] for i in items if OpenState(i["after"]).is_open]
    closed = [i["shelter_id"] for i in items if not OpenState(i["after"]).is_open]
    lines = [f"【{city.name}】避難所の開設状況のお知らせ"]
    if opened:
        suitable = sum(1 for i in opened if hazard and hazard in sites.get(i, Site(i)).hazards)
        if hazard is None:
            head = f"避難所など{len(opened)}か所を開設しました。"
        elif suitable == len(opened):
            head = f"{hazard.ja}に対応する避難所など{len(opened)}か所を開設しました。"
        else:
            head = (
                f"避難所など{len(opened)}か所を開設しました。"
                f"このうち{hazard.ja}に対応しているのは{suitable}か所です。"
            )
        lines += ["", head, f"（{_kind_counts(opened, sites)}）"]
        lines += _names(opened, sites, hazard=hazard, max_names=max_names)
    if closed:
        lines += ["", f"避難所など{len(closed)}か所を閉鎖しました。"]
        lines += _names(closed, sites, hazard=None, max_names=max_names)
    lines += [
        "",
        f"{hazard.ja}から避難するときは、{hazard.ja}に対応した避難所へ。"
        if hazard
        else "避難所によって対応する災害の種類が異なります。",
        "すべての避難所の最新の開設状況・混雑状況は、こちらでご確認ください。",
        public_url,
        f"（{jst_text(at)} 時点）",
        "",
        f"Shelter status in English: {with_lang(public_url, 'en')}",
    ]
    return "\n".join(lines)


def alert_message_text(
    item: Mapping[str, Any],
    *,
    public_url: str,
    replaced: Mapping[str, Any] | None = None,
    city: City = DEFAULT_CITY,
) -> str:
    """The LINE text for one 避難情報 issued or lifted (``item`` as the outbox stores it).

    ``item``: ``action`` (``issued``/``lifted``), ``level`` (code), ``hazard``, ``area_names``
    and ``area_names_en``, ``at`` (ISO). ``replaced``: the alert this one replaced in the same
    act (raising 4 → 5 is one message, not a 解除 and a 発令).
    """
    level, hazard = AlertLevel(item["level"]), Hazard(item["hazard"])
    at = datetime.fromisoformat(item["at"])
    areas = "・".join(item["area_names"])
    areas_en = ", ".join(item["area_names_en"])
    name = f"警戒レベル{level.number}「{level.ja}」"
    name_en = f"Alert level {level.number} ({level.en})"
    if item["action"] == "issued":
        lines = [
            f"【{city.name}】{name}を発令しました",
            f"対象地区：{areas}",
            f"災害：{hazard.ja}",
            _ACTION_JA[level],
        ]
        if replaced is not None:
            old = AlertLevel(replaced["level"])
            lines.append(f"（警戒レベル{old.number}「{old.ja}」から切り替えました）")
        lines += [
            f"（{jst_text(at)} 発令）",
            "",
            "開設した避難所・混雑状況はこちら：",
            public_url,
            "",
            f"{city.name_en} issued {name_en} for {areas_en} ({hazard.en.lower()}). "
            f"{_ACTION_EN[level]} {with_lang(public_url, 'en')}",
        ]
        return "\n".join(lines)
    lines = [
        f"【{city.name}】{name}を解除しました",
        f"対象地区：{areas}",
        f"災害：{hazard.ja}",
        f"（{jst_text(at)} 解除）",
        "引き続き、市からの情報に注意してください。",
        "",
        "避難所の開設状況はこちら：",
        public_url,
        "",
        f"{city.name_en} lifted {name_en} for {areas_en} ({hazard.en.lower()}), "
        f"{jst_text(at, 'en')}. {with_lang(public_url, 'en')}",
    ]
    return "\n".join(lines)


def announcement_text(text: str, *, public_url: str, city: City = DEFAULT_CITY) -> str:
    """An HQ announcement with the sender and the public link below it."""
    return f"{text.strip()}\n\n（{city.hq_title}）\n避難所の開設状況：{public_url}"


def split_text(text: str, *, limit: int = MAX_TEXT) -> list[str]:
    """Split a long text at line ends into LINE-sized pieces (at most :data:`MAX_MESSAGES`)."""
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:  # a single over-long line (never from our templates)
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            pieces.append(current)
            current = line
        else:
            current = candidate
    if current or not pieces:
        pieces.append(current)
    if len(pieces) > MAX_MESSAGES:
        pieces = [*pieces[: MAX_MESSAGES - 1], "（続きは市の避難所情報ページをご覧ください）"]
    return pieces


def text_messages(text: str) -> list[dict[str, str]]:
    """LINE message objects for ``text``."""
    return [{"type": "text", "text": piece} for piece in split_text(text)]
