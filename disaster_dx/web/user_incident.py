"""Which incident the signed-in user's screens show, and the 訓練 / DRILL banner that says so.

Every staff page (HQ, shelter form, event log, cameras, incidents) reads and writes the
incident :func:`current_incident` returns: the live one, or the drill the user joined at
``/drill/join`` (kept in their session under :data:`DRILL_SESSION_KEY`). A page showing a
drill puts :func:`drill_banner` on top. Kept apart from the drill pages so that pages which
only need these two never import the drill console or replay (no import cycles).
"""

from __future__ import annotations

from dash import html
from flask import session

from disaster_dx.incidents import DRILL_SESSION_KEY, active_incident_for
from disaster_dx.store import Incident
from disaster_dx.web.context import current

#: The banner's yellow and black stripes (the drill pages' own banners use them too).
BANNER_STRIPES = "repeating-linear-gradient(135deg, #ffcc00 0 22px, #1a1a1a 22px 44px)"
#: The banner's text: large, yellow on black.
BANNER_TEXT = {
    "margin": 0,
    "background": "#1a1a1a",
    "color": "#ffcc00",
    "fontWeight": 700,
    "fontSize": "1.35rem",
    "textAlign": "center",
    "padding": ".3rem .5rem",
    "letterSpacing": ".06em",
}


def drill_banner(incident: Incident | None, *, lang: str = "ja") -> html.Div | None:
    """The unmistakable 訓練 / DRILL banner for screens showing a drill (None for live).

    For the HQ pages too: the lead adds it above their header when the user's incident is a
    drill, so nobody mistakes drill data for a real disaster.
    """
    if incident is None or not incident.is_drill:
        return None
    ended = incident.closed_at is not None
    text = (
        "訓練 / DRILL — 実際の災害ではありません（This is a drill）"
        if not ended
        else "訓練 / DRILL — この訓練は終了しました。記録の閲覧のみできます"
    )
    if lang == "en":
        text = "DRILL / 訓練 — this is not a real disaster" + (" (ended)" if ended else "")
    return html.Div(
        html.P([text, html.Br(), html.Small(incident.title)], style=BANNER_TEXT),
        className="dx-drill-banner",
        role="note",
        id="drill-banner",
        style={"background": BANNER_STRIPES, "padding": "8px"},
    )


def current_incident() -> Incident:
    """The incident the signed-in user's screens read and write (their drill, else live).

    For the HQ pages: use this instead of ``store.live_incident()``.
    """
    return active_incident_for(current().store, session.get(DRILL_SESSION_KEY))


__all__ = ["BANNER_STRIPES", "BANNER_TEXT", "DRILL_SESSION_KEY", "current_incident", "drill_banner"]
