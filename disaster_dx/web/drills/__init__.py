"""Drill pages: ``/drill`` (operator), ``/drill/replay/<incident>`` (time slider), ``/drill/join``.

- ``/drill`` — role ``drill`` (or admin): load and validate a scenario, start, pause, resume,
  change speed, stop; the upcoming injects and the log of what fired, read from the database
  so every app worker shows the same thing.
- ``/drill/replay/<incident>`` — play, pause, seek and speed over any incident (drills for
  ``drill``/``hq``, past live incidents for ``hq``): the map and the board at the slider's
  instant come from :func:`disaster_dx.projection.state_at` and the same ``layers`` and
  :func:`disaster_dx.hq.board_rows` code as the live HQ page.
- ``/drill/join`` — staff (HQ, shelter staff) switch their own screens to a running drill,
  or back to live; the choice is kept in their session (``DRILL_SESSION_KEY``) and
  :func:`~disaster_dx.web.user_incident.current_incident` turns it into the incident their
  pages read and write.
- ``/drill/report/<incident>`` and ``/drill/export/<incident>.yaml`` — the after-action
  report and the record → scenario export.

Everything here shows the 訓練 / DRILL banner for a drill. Component ids start with ``drill-``
so the security guard refuses anonymous callbacks, and every callback re-checks the role.

Where the scheduler runs: starting or resuming a drill here starts a daemon scheduler thread
in this worker (unless ``DX_DRILL_SCHEDULER_THREAD`` is false in the Flask config, e.g. when
``disaster-dx drill run`` runs as its own process). Every worker may start one; the database
lease lets exactly one fire injects.
Modules: ``operator`` (the console), ``replay`` (the slider), ``join`` (join/leave),
``exports`` (report, scenario export), ``common`` (roles, look, the scheduler thread), ``ids``.
The banner and "which incident is mine" for every staff page are
:mod:`disaster_dx.web.user_incident`, below this package.
"""

from __future__ import annotations

import dash
from dash import Dash
from flask import Flask

from disaster_dx import drills
from disaster_dx.web.context import context_of
from disaster_dx.web.drills.exports import _export, _plotly_js, _report
from disaster_dx.web.drills.join import _join, _join_page, _leave
from disaster_dx.web.drills.operator import operator_layout, register_operator
from disaster_dx.web.drills.replay import register_replay, replay_layout


def register_page() -> None:
    """Register ``/drill`` and ``/drill/replay/<incident_id>`` with Dash pages."""
    dash.register_page(
        "drill",
        path="/drill",
        name="訓練の運営",
        title="訓練の運営（訓練）",
        layout=operator_layout,
    )
    dash.register_page(
        "drill_replay",
        path_template="/drill/replay/<incident_id>",
        name="記録の再生",
        title="記録の再生",
        layout=replay_layout,
    )


def register(app: Dash) -> None:
    """Attach callbacks and routes to ``app``; create the drill tables."""
    server: Flask = app.server
    store = context_of(server).store
    drills.create_drill_tables(store)
    server.add_url_rule("/drill/join", "drill_join_page", _join_page, methods=["GET"])
    server.add_url_rule("/drill/join", "drill_join", _join, methods=["POST"])
    server.add_url_rule("/drill/leave", "drill_leave", _leave, methods=["POST"])
    server.add_url_rule("/drill/report/<incident_id>", "drill_report", _report)
    server.add_url_rule("/drill/export/<incident_id>.yaml", "drill_export", _export)
    server.add_url_rule("/drill/plotly.min.js", "drill_plotly", _plotly_js)
    register_operator(app)
    register_replay(app)


__all__ = ["operator_layout", "register", "register_page", "replay_layout"]
