"""避難情報 on the public side: the snapshot's ``alerts`` member and the page's banner.

Citizens look first for "what has been issued for my area". The snapshot
(``shelters.geojson``) lists every 避難情報 of the live incident, in force and lifted, with
public fields only (never HQ's reason or who issued it). The page shows a banner at its top:
警戒レベル number, the official colour AND the words, what to do, the hazard, the areas and
the time issued.

The banner is written into ``index.html`` at publish time in all three languages, and a tiny
script in the page head picks the language before the first paint, so the banner never
appears or changes size after the page is drawn (no layout shift). The page script draws the
same markup from the same data when new data arrives (:func:`banner_html` here and
``renderAlerts`` in ``site/public.js`` must agree; a browser test compares them).

Lifted 避難情報 are shown as a short grey 「解除」 line — a person who evacuated wants to know
they may go home, and an alert that silently vanished looks like a broken page — but only for
:data:`LIFTED_SHOWN_HOURS` after the lift, counted to the snapshot's ``updated_at`` (not the
phone's clock: the server and the page decide alike from the data alone, and the same state
always gives the same bytes). A lifted alert followed by another for the same hazard and area
(4 → 5 is one act: the 4 is lifted as the 5 is issued) is not shown as 解除: "避難指示 解除"
next to 緊急安全確保 would read as all-clear (:func:`replaced`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

from disaster_dx._time import jst_text
from disaster_dx.areas import Area
from disaster_dx.events import EvacuationAlert, State
from disaster_dx.model import AlertLevel
from disaster_dx.public_text import LANGS, text

#: A lifted alert stays on the page as 「解除」 this long after the lift.
LIFTED_SHOWN_HOURS = 24


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def public_alert(alert: EvacuationAlert, areas: Mapping[str, Area]) -> dict[str, Any]:
    """One 避難情報 with public fields only; an area no longer in the area list keeps its id."""
    item: dict[str, Any] = {
        "id": alert.alert_id,
        "level": alert.level.number,
        "level_code": alert.level.value,
        "hazard": alert.hazard.value,
        "areas": [_public_area(area_id, areas.get(area_id)) for area_id in alert.areas],
        "issued_at": _iso(alert.issued_at),
    }
    if alert.lifted_at is not None:
        item["lifted_at"] = _iso(alert.lifted_at)
    return item


def _public_area(area_id: str, area: Area | None) -> dict[str, str]:
    if area is None:
        return {"id": area_id, "name": area_id, "name_en": "", "name_easy": ""}
    return {
        "id": area.area_id,
        "name": area.name,
        "name_en": area.name_en,
        "name_easy": area.name_easy,
    }


def public_alerts(state: State, areas: Sequence[Area]) -> list[dict[str, Any]]:
    """Every 避難情報 of the incident: in force first (highest level, newest), then lifted ones.

    Lifted ones are newest lift first.
    """
    by_id = {a.area_id: a for a in areas}
    lifted = sorted(
        (a for a in state.alerts.values() if not a.in_force),
        key=lambda a: (a.lifted_at or a.issued_at, a.alert_id),
        reverse=True,
    )
    return [public_alert(a, by_id) for a in [*state.alerts_in_force, *lifted]]


def shown_alerts(
    alerts: Sequence[Mapping[str, Any]], updated_at: str
) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """The alerts the banner shows: (in force, recently lifted and not replaced)."""
    in_force = [a for a in alerts if not a.get("lifted_at")]
    newest = datetime.fromisoformat(updated_at)
    window = timedelta(hours=LIFTED_SHOWN_HOURS)
    lifted = []
    for alert in alerts:
        if not alert.get("lifted_at"):
            continue
        lifted_at = datetime.fromisoformat(alert["lifted_at"])
        if newest - lifted_at > window:
            continue
        if not replaced(alert, alerts):
            lifted.append(alert)
    return in_force, lifted


def replaced(alert: Mapping[str, Any], alerts: Sequence[Mapping[str, Any]]) -> bool:
    """Whether a lifted alert was followed by another for the same hazard and an area of it.

    Raising 4 → 5 lifts the 4 as the 5 is issued; issuing again later supersedes an old
    lift. Either way the newer alert (in force, or its own 解除) is the news, not this 解除.
    """
    lifted_at = datetime.fromisoformat(alert["lifted_at"])
    ids = {area["id"] for area in alert["areas"]}
    return any(
        other["id"] != alert["id"]
        and other["hazard"] == alert["hazard"]
        and datetime.fromisoformat(other["issued_at"]) >= lifted_at
        and ids & {area["id"] for area in other["areas"]}
        for other in alerts
    )


def _area_names(alert: Mapping[str, Any], lang: str) -> str:
    key = {"en": "name_en", "easy-ja": "name_easy"}.get(lang)
    names = [(area.get(key) if key else "") or area["name"] for area in alert["areas"]]
    return (", " if lang == "en" else "・").join(names)


def alert_html(alert: Mapping[str, Any], lang: str) -> str:
    """One alert in force: level and words as a heading, what to do, hazard, areas, time."""
    level = AlertLevel(alert["level_code"])
    hazard = text(f"hazard.{alert['hazard']}", lang)
    meta = text(
        "alert_meta",
        lang,
        hazard=hazard,
        areas=_area_names(alert, lang),
        time=jst_text(datetime.fromisoformat(alert["issued_at"]), lang),
    )
    return (
        f'<div class="dx-alert dx-alert-l{level.number}" data-alert-id="{escape(alert["id"])}">'
        f'<h3 class="dx-alert-head"><span class="dx-alert-level">'
        f"{escape(text('alert_level', lang, n=level.number))}</span> "
        f'<span class="dx-alert-name">{escape(text(f"alert.{level.value}", lang))}</span></h3>'
        f'<p class="dx-alert-action">{escape(text(f"alert_action.{level.value}", lang))}</p>'
        f'<p class="dx-alert-meta">{escape(meta)}</p></div>'
    )


def lifted_html(alert: Mapping[str, Any], lang: str) -> str:
    """One recently lifted alert: a calm grey line, never in the alert colours."""
    level = AlertLevel(alert["level_code"])
    line = text(
        "alert_lifted",
        lang,
        time=jst_text(datetime.fromisoformat(alert["lifted_at"]), lang),
        n=level.number,
        name=text(f"alert.{level.value}", lang),
        hazard=text(f"hazard.{alert['hazard']}", lang),
        areas=_area_names(alert, lang),
    )
    return f'<p class="dx-alert-lifted" data-alert-id="{escape(alert["id"])}">{escape(line)}</p>'


def banner_html(alerts: Sequence[Mapping[str, Any]], updated_at: str, lang: str) -> str:
    """The banner's inner HTML in one language ("" when nothing is shown)."""
    in_force, lifted = shown_alerts(alerts, updated_at)
    parts = [alert_html(a, lang) for a in in_force] + [lifted_html(a, lang) for a in lifted]
    return "".join(parts)


def banner_all_languages(collection: Mapping[str, Any]) -> str:
    """The banner in every language, each in a ``data-l`` block the page's CSS picks from."""
    alerts = collection.get("alerts") or []
    updated_at = str(collection["updated_at"])
    if not banner_html(alerts, updated_at, "ja"):
        return ""
    return "".join(
        f'<div data-l="{lang}" lang="{LANGS[lang]}">{banner_html(alerts, updated_at, lang)}</div>'
        for lang in LANGS
    )


def hazard_now_all_languages(collection: Mapping[str, Any]) -> str:
    """「津波の情報が出ています…」 in every language (empty when no hazard is in force)."""
    hazard = collection.get("hazard")
    if not hazard:
        return ""
    return "".join(
        f'<span data-l="{lang}" lang="{LANGS[lang]}">'
        f"{escape(text('hazard_in_force', lang, hazard=text(f'hazard.{hazard}', lang)))}</span>"
        for lang in LANGS
    )


def in_all_languages(key: str) -> str:
    """One text of the table in every language, for text that must be right before any script."""
    return "".join(
        f'<span data-l="{lang}" lang="{LANGS[lang]}">{escape(text(key, lang))}</span>'
        for lang in LANGS
    )
