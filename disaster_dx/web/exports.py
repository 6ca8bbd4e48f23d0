"""HQ downloads: the board, L-Alert fields (shelters, 避難情報), the A4 list, the event log.

Plain Flask routes under ``/hq/export/…``: HQ role only (checked here, not just by the guard),
every download audit-logged. The files are built by pure functions in the core.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from flask import Flask, Response, abort, request

from disaster_dx import auth
from disaster_dx import hq as hq_core
from disaster_dx.auth import Role
from disaster_dx.eventlog import iter_log_rows, log_csv
from disaster_dx.incidents import display_name
from disaster_dx.io.export import csv_bytes
from disaster_dx.io.lalert import (
    evacuation_csv,
    evacuation_records,
    evacuation_xml,
    lalert_csv,
    lalert_records,
    lalert_xml,
)
from disaster_dx.io.printable import printable_shelter_list
from disaster_dx.store import Store, subject_for_shelter
from disaster_dx.web.context import current
from disaster_dx.web.security import signed_in_user

EXPORTS = {
    "board.csv": ("text/csv; charset=utf-8", "避難所ボード.csv"),
    "board.geojson": ("application/geo+json", "shelters_board.geojson"),
    "lalert.csv": ("text/csv; charset=utf-8", "lalert_shelters.csv"),
    "lalert.xml": ("application/xml", "lalert_shelters.xml"),
    "lalert_evacuation.csv": ("text/csv; charset=utf-8", "lalert_evacuation.csv"),
    "lalert_evacuation.xml": ("application/xml", "lalert_evacuation.xml"),
    "print": ("text/html; charset=utf-8", ""),
    "log.csv": ("text/csv; charset=utf-8", "event_log.csv"),
}


def init_exports(server: Flask) -> None:
    """Register the download routes."""
    server.add_url_rule("/hq/export/<name>", "hq_export", _export)


def _log_csv(store: Store, incident_id: str) -> bytes:
    """Every row of the log's filter: an export may read the whole incident, streamed once.

    Filtered to one shelter, only that shelter's events are read (the subject index): its
    before → after values depend on nothing else.
    """
    shelter_id = request.args.get("shelter") or None
    event_type = request.args.get("type") or None
    events = store.iter_events(
        incident_id, subject=subject_for_shelter(shelter_id) if shelter_id else None
    )
    return log_csv(
        iter_log_rows(
            events,
            {s.shelter_id: s for s in store.shelters(include_inactive=True)},
            shelter_id=shelter_id,
            actor=request.args.get("actor") or None,
            types=[event_type] if event_type else None,
            skip_routine=request.args.get("routine") != "1",
        ),
        names=auth.display_names(store),
    )


def _export(name: str) -> Response:
    user = signed_in_user()
    if user is None:
        abort(401)
    if not user.has(Role.HQ):
        current().store.audit(user.username, "export.refused", target=name)
        abort(403)
    if name not in EXPORTS:
        abort(404)
    context = current()
    store, settings = context.store, context.settings
    incident = store.live_incident(actor="hq")
    state = store.state(incident.incident_id)
    shelters = store.shelters()
    now = context.now()
    body: bytes
    if name.startswith("board"):
        rows = hq_core.board_rows(
            shelters,
            state,
            thresholds=settings.crowding,
            now=now,
            stale_after=timedelta(minutes=settings.stale_report_minutes),
            urgent_after=timedelta(hours=settings.urgent_need_hours),
            names=auth.display_names(store),
        )
        title = display_name(incident)
        body = (
            _board_geojson(rows, shelters, incident.incident_id, title)
            if name.endswith("geojson")
            else _board_csv(rows, title)
        )
    elif name.startswith("lalert_evacuation"):
        records = evacuation_records(state, store.areas(), disaster_name=incident.title)
        body = (
            evacuation_csv(records)
            if name.endswith("csv")
            else evacuation_xml(
                records,
                disaster_name=incident.title,
                issued_at=now,
                municipality=store.city().full_name,
            )
        )
    elif name.startswith("lalert"):
        records = lalert_records(
            shelters,
            state,
            thresholds=settings.crowding,
            include_unopened=request.args.get("all") == "1",
        )
        body = (
            lalert_csv(records)
            if name.endswith("csv")
            else lalert_xml(
                records,
                issued_at=now,
                disaster_name=incident.title,
                municipality=store.city().full_name,
            )
        )
    elif name == "print":
        body = printable_shelter_list(
            shelters,
            state,
            thresholds=settings.crowding,
            now=now,
            incident_title=display_name(incident),
            municipality=store.city().full_name,
            include_internal=request.args.get("internal") == "1",
            urgent_expire_after=timedelta(hours=settings.urgent_need_hours),
            names=auth.display_names(store),
        ).encode("utf-8")
    else:
        body = _log_csv(store, incident.incident_id)
    store.audit(user.username, "export", target=name, detail=dict(request.args))
    mimetype, filename = EXPORTS[name]
    response = Response(body, content_type=mimetype)
    if filename:
        response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{_quote(filename)}"
    response.headers["Cache-Control"] = "no-store"
    return response


_BOARD_CSV_COLUMNS = (
    ("shelter_id", "共通ID"),
    ("name", "施設・場所名"),
    ("kind", "種別"),
    ("open_state", "開設状況"),
    ("crowding", "混雑状況"),
    ("evacuees", "避難者数"),
    ("capacity", "収容人数"),
    ("needs", "要望"),
    ("reported", "最終報告"),
    ("reported_by", "報告者"),
    ("reported_by_id", "報告者ID"),
    ("stale", "報告遅れ"),
    ("staffed_label", "職員"),
    ("internal_note", "内部メモ"),
)


def _board_csv(rows: list[dict[str, Any]], incident_title: str) -> bytes:
    """The board with the disaster's name on every row (a sheet is often read cut apart)."""
    return csv_bytes(
        [
            {**{label: row[key] for key, label in _BOARD_CSV_COLUMNS}, "災害名": incident_title}
            for row in rows
        ]
    )


def _board_geojson(
    rows: list[dict[str, Any]], shelters: list[Any], incident_id: str, incident_title: str
) -> bytes:
    position = {s.shelter_id: (s.lon, s.lat) for s in shelters}
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": list(position[row["id"]])},
            "properties": {label: row[key] for key, label in _BOARD_CSV_COLUMNS},
        }
        for row in rows
    ]
    collection = {
        "type": "FeatureCollection",
        "incident": {"id": incident_id, "title": incident_title},
        "features": features,
    }
    return json.dumps(collection, ensure_ascii=False).encode("utf-8")


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name)
