"""What the drill pages share: who may do what, their look, grid columns, the scheduler thread."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask

from disaster_dx.auth import Role, User
from disaster_dx.store import Incident
from disaster_dx.web.context import runtime_of

log = logging.getLogger(__name__)

OPERATOR_ROLES = (Role.DRILL,)
#: Drills may be replayed by their operators and by HQ; past live incidents only by HQ.
DRILL_REPLAY_ROLES = (Role.DRILL, Role.HQ)
LIVE_REPLAY_ROLES = (Role.HQ,)
#: Who may switch their own screens to a drill.
JOIN_ROLES = (Role.HQ, Role.SHELTER_STAFF, Role.DRILL)

SPEEDS = (1, 2, 5, 10, 30, 60)
REPLAY_SPEEDS = (1, 10, 60, 300)
POLL_MS = 1000
REPLAY_TICK_MS = 1000

_BOARD_COLUMNS = (
    ("name", "避難所名"),
    ("kind", "種別"),
    ("open_state", "開設状況"),
    ("crowding", "混雑状況"),
    ("evacuees_capacity", "避難者／収容"),
    ("needs", "要望（!は緊急）"),
    ("reported", "最終報告"),
    ("reported_by", "報告者"),
    ("stale", "報告遅れ"),
    ("staffed_label", "職員"),
)


def columns(*fields: tuple[str, str] | tuple[str, str, int]) -> list[dict[str, Any]]:
    """Grid columns from ``(field, header[, flex])``; long texts wrap."""
    return [
        {
            "field": field[0],
            "headerName": field[1],
            "flex": field[2] if len(field) > 2 else 1,  # type: ignore[misc]
            "minWidth": 70,
            "wrapText": True,
            "autoHeight": True,
        }
        for field in fields
    ]


# -- look (inline: the shared stylesheet belongs to the HQ pages) ------------------------------
_PANEL = {
    "border": "1px solid #d0d0d0",
    "borderRadius": "6px",
    "padding": ".5rem .75rem",
    "margin": ".5rem 0",
    "background": "#fff",
}
_BUTTON = {
    "padding": ".45rem .9rem",
    "borderRadius": "6px",
    "border": "1px solid #333",
    "background": "#fff",
    "cursor": "pointer",
    "fontSize": "1rem",
    "marginRight": ".4rem",
}
_PRIMARY = {**_BUTTON, "background": "#0072B2", "color": "#fff", "border": "1px solid #0072B2"}
_DANGER = {**_BUTTON, "border": "2px solid #D55E00", "color": "#a33000", "fontWeight": 700}


def may_replay(user: User | None, incident: Incident) -> bool:
    """Drills for their operators and HQ; past live incidents for HQ only."""
    if user is None:
        return False
    return user.has(*(DRILL_REPLAY_ROLES if incident.is_drill else LIVE_REPLAY_ROLES))


# -- the scheduler: a loop of the app's runtime -----------------------------------------------


def ensure_scheduler(server: Flask) -> None:
    """Start this app's drill scheduler unless it runs (a loop of :mod:`disaster_dx.runtime`).

    Every worker may start one; the database lease lets exactly one fire injects.
    """
    runtime_of(server).drill_scheduler.ensure_running()
