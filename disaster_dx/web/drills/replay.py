"""``/drill/replay/<incident>``: play, pause, seek and speed over any incident's record.

Drills for ``drill``/``hq``, past live incidents for ``hq``. The map and the board at the
slider's instant come from :func:`disaster_dx.projection.state_at` and the same ``layers`` and
:func:`disaster_dx.hq.board_rows` code as the live HQ page; the map clusters as HQ's does.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import dash_leaflet as dl
from dash import Dash, Input, Output, State, ctx, dcc, html
from flask import abort

from disaster_dx import auth, drills
from disaster_dx import hq as hq_core
from disaster_dx._time import JST, to_jst
from disaster_dx.cameras.frames import frame_span
from disaster_dx.errors import NotFoundError
from disaster_dx.events import Event
from disaster_dx.situation import incident_time
from disaster_dx.store import Incident, Store
from disaster_dx.web.cameras_web import replay_cards
from disaster_dx.web.context import current
from disaster_dx.web.drills.common import (
    _BOARD_COLUMNS,
    _BUTTON,
    _PRIMARY,
    DRILL_REPLAY_ROLES,
    REPLAY_SPEEDS,
    REPLAY_TICK_MS,
    columns,
    may_replay,
)
from disaster_dx.web.drills.ids import (
    REPLAY_BACK,
    REPLAY_BOARD,
    REPLAY_CAMERAS,
    REPLAY_CLOCK,
    REPLAY_FEED,
    REPLAY_FIRST,
    REPLAY_FORWARD,
    REPLAY_INCIDENT,
    REPLAY_INTERVAL,
    REPLAY_LAST,
    REPLAY_MAP,
    REPLAY_PLAY,
    REPLAY_SHELTERS,
    REPLAY_SLIDER,
    REPLAY_SPEED,
    REPLAY_TILES,
)
from disaster_dx.web.security import requires, signed_in_user
from disaster_dx.web.staff import grid, refusal, staff_header
from disaster_dx.web.user_incident import BANNER_TEXT, drill_banner
from layers.basemaps import basemap_control, map_view
from layers.shelters import shelter_features, shelter_layer, status_legend


def _replay_banner(incident: Incident) -> html.Div:
    banner = drill_banner(incident)
    if banner is not None:
        return banner
    return html.Div(
        html.P(
            "記録の再生（実災害） — 現在の状況ではありません / REPLAY of a past incident",
            style={**BANNER_TEXT, "background": "#003f6b", "color": "#fff"},
        ),
        role="note",
        id="drill-banner",
        style={"background": "#7fa7c9", "padding": "6px"},
    )


def _replay_window(store: Store, incident: Incident) -> tuple[datetime, datetime]:
    """Start and end of the slider: first event (or creation) to closing (or last event)."""
    # A list, not a half-read iterator: on PostgreSQL that would leave a server cursor open.
    first = store.events(incident.incident_id, limit=1)
    start = first[0].at if first else incident.created_at
    end = incident.closed_at or incident.last_at or start
    # Camera pictures taken while it was open widen it: they are not its events any more.
    pictures = frame_span(store, incident.created_at, incident.closed_at)
    if pictures is not None:
        start, end = min(start, pictures[0]), max(end, pictures[1])
    return start, max(start, end)


def _controls_of(store: Store, incident_id: str) -> list[Event]:
    """The drill's start/pause/speed commands (read by type: the rest of the log is not)."""
    return store.events(incident_id, types=[drills.DRILL_CONTROL])


def _clock_text(incident: Incident, controls: list[Event], moment: datetime) -> str:
    wall = to_jst(moment).strftime("%Y-%m-%d %H:%M:%S")
    if not incident.is_drill or not controls:
        return f"{wall}（日本時間）"
    elapsed = drills.scenario_clock(controls)(moment)
    start_time = controls[0].payload.get("start_time")
    nominal = ""
    if start_time:
        hour, minute = (int(p) for p in str(start_time).split(":"))
        base = datetime(2000, 1, 1, hour, minute, tzinfo=JST)
        nominal = f"想定時刻 {(base + elapsed).strftime('%H:%M:%S')}　"
    return f"{nominal}訓練経過 {drills.format_offset(elapsed)}　（記録時刻 {wall}）"


def _mark_label(incident: Incident, controls: list[Event], moment: datetime) -> str:
    """Slider mark: drill time as the scenario's clock for a drill, JST for a live record."""
    if incident.is_drill and controls:
        elapsed = drills.scenario_clock(controls)(moment)
        start_time = controls[0].payload.get("start_time")
        if start_time:
            hour, minute = (int(p) for p in str(start_time).split(":"))
            return (datetime(2000, 1, 1, hour, minute, tzinfo=JST) + elapsed).strftime("%H:%M")
        return drills.format_offset(elapsed)[:-3]
    return to_jst(moment).strftime("%m/%d %H:%M")


def _tiles(totals: hq_core.Summary) -> list[html.Div]:
    items = (
        ("open", "開設中", f"{totals.open_shelters}", "か所"),
        ("evacuees", "避難者", f"{totals.evacuees:,}", "人"),
        ("full", "満員", f"{totals.full_shelters}", "か所"),
        ("stale", "報告遅れ", f"{totals.stale_reports}", "か所"),
        ("outside", "在宅・車中泊", f"{totals.outside_at_home:,}・{totals.outside_in_car:,}", "人"),
    )
    return [
        html.Div(
            [
                html.Div(label, className="dx-tile-label"),
                html.Div([html.Span(value, className="dx-tile-value"), " ", unit]),
            ],
            className="dx-tile",
            id=f"drill-replay-tile-{key}",
        )
        for key, label, value, unit in items
    ]


def _replay_snapshot(incident: Incident, moment: datetime) -> dict[str, Any]:
    """Map features, board rows, tiles and the feed at ``moment``: one fold, as live."""
    context = current()
    store, settings = context.store, context.settings
    state = drills.state_at(store, incident.incident_id, moment)
    shelters = store.shelters()
    # A site the record names that is no longer (or never was) in today's master — removed
    # since, or known only from a history import — is shown as it was then.
    active = {s.shelter_id for s in shelters}
    if any(sid not in active for sid in state.shelters):
        shelters += [
            s
            for s in store.shelters(include_inactive=True)
            if s.shelter_id not in active and s.shelter_id in state.shelters
        ]
    stale_after = timedelta(minutes=settings.stale_report_minutes)
    # Drill time for a drill: the same 報告遅れ as the players' board and the report.
    clock = incident_time(store, incident).clock
    features = shelter_features(
        shelters, state, thresholds=settings.crowding, now=moment, include_internal=True
    )
    people = auth.display_names(store)
    rows = hq_core.board_rows(
        shelters,
        state,
        thresholds=settings.crowding,
        now=moment,
        stale_after=stale_after,
        urgent_after=timedelta(hours=settings.urgent_need_hours),
        clock=clock,
        names=people,
    )
    totals = hq_core.summary(
        shelters,
        state,
        thresholds=settings.crowding,
        now=moment,
        stale_after=stale_after,
        clock=clock,
    )
    feed: list[Any] = [
        html.Li(
            f"警戒レベル{a.level.number} {a.level.ja}（{a.hazard.ja}）発令中",
            className="dx-error",
        )
        for a in state.alerts_in_force
    ]
    feed += [
        html.Li(f"⚠ {a.hazard.ja}：{a.title}", className="dx-error")
        for a in sorted(state.hazards.values(), key=lambda a: a.announced_at)
    ]
    feed += [
        html.Li(f"{to_jst(at).strftime('%H:%M:%S')} {people.get(actor, actor)}：{text}")
        for at, actor, text in list(state.messages)[-6:][::-1]
    ]
    return {
        "features": features,
        "rows": rows,
        "tiles": _tiles(totals),
        "feed": feed,
        "cameras": replay_cards(incident, moment),
    }


def replay_layout(incident_id: str = "", **_query: Any) -> html.Div:
    """``/drill/replay/<incident_id>``: map and board at any instant of an incident."""
    user = signed_in_user()
    store = current().store
    try:
        incident = store.incident(incident_id)
    except NotFoundError:
        if user is None or not user.has(*DRILL_REPLAY_ROLES):
            return refusal(lang="ja")
        return html.P("その記録は見つかりません。", className="dx-error")
    if not may_replay(user, incident):
        if user is not None:
            store.audit(user.username, "replay.refused", target=incident_id)
        return refusal(lang="ja")
    assert user is not None
    start, end = _replay_window(store, incident)
    total = max(1, int((end - start).total_seconds() + 0.999))
    snap = _replay_snapshot(incident, start + timedelta(seconds=total))
    controls = _controls_of(store, incident_id)
    marks = {
        int(total * f): _mark_label(incident, controls, start + timedelta(seconds=total * f))
        for f in (0, 0.25, 0.5, 0.75, 1)
    }
    return html.Div(
        [
            _replay_banner(incident),
            staff_header(user, lang="ja", title_ja="記録の再生", title_en="Replay"),
            html.Main(
                [
                    html.H2(incident.title, style={"fontSize": "1.1rem", "margin": ".5rem 0"}),
                    html.Div(
                        [
                            html.Button("|◀ 最初", id=REPLAY_FIRST, style=_BUTTON),
                            html.Button("◀ 戻る", id=REPLAY_BACK, style=_BUTTON),
                            html.Button("▶ 再生", id=REPLAY_PLAY, style=_PRIMARY),
                            html.Button("進む ▶", id=REPLAY_FORWARD, style=_BUTTON),
                            html.Button("最後 ▶|", id=REPLAY_LAST, style=_BUTTON),
                            html.Label(
                                "再生の速さ", htmlFor=REPLAY_SPEED, style={"margin": "0 .4rem"}
                            ),
                            dcc.Dropdown(
                                id=REPLAY_SPEED,
                                options=[{"label": f"{s}×", "value": s} for s in REPLAY_SPEEDS],
                                value=10,
                                clearable=False,
                                searchable=False,
                                style={"width": "7rem"},
                            ),
                        ],
                        style={"display": "flex", "alignItems": "center", "flexWrap": "wrap"},
                    ),
                    html.Div(
                        dcc.Slider(
                            id=REPLAY_SLIDER,
                            min=0,
                            max=total,
                            step=1,
                            value=total,
                            marks=marks,
                            updatemode="mouseup",
                            allow_direct_input=False,
                        ),
                        style={"margin": ".75rem 0"},
                    ),
                    html.P(
                        _clock_text(incident, controls, start + timedelta(seconds=total)),
                        id=REPLAY_CLOCK,
                        role="status",
                        style={"fontWeight": 700, "fontSize": "1.1rem"},
                    ),
                    html.Div(snap["tiles"], id=REPLAY_TILES, className="dx-tiles"),
                    html.Div(
                        [
                            html.Section(
                                dl.Map(
                                    [
                                        basemap_control(lang="ja"),
                                        # Not clustered yet: the replay's tests and
                                        # its step-by-step reading follow each marker.
                                        shelter_layer(
                                            snap["features"],
                                            component_id=REPLAY_SHELTERS,
                                            cluster=False,
                                        ),
                                        dl.ScaleControl(position="bottomleft", imperial=False),
                                    ],
                                    id=REPLAY_MAP,
                                    **map_view(snap["features"]),
                                    style={"height": "60vh", "minHeight": "380px"},
                                ),
                                className="dx-hq-map",
                            ),
                            html.Section(
                                [
                                    # Every row drawn (139 shelters): the replay is read
                                    # and compared row by row, and searched with the browser.
                                    grid(
                                        REPLAY_BOARD,
                                        columns(*_BOARD_COLUMNS),
                                        snap["rows"],
                                        lang="ja",
                                        height="52vh",
                                        row_id="id",
                                        options={
                                            "suppressRowVirtualisation": True,
                                            "suppressColumnVirtualisation": True,
                                        },
                                        rowClassRules={
                                            "dx-row-stale": "params.data.stale !== ''",
                                            "dx-row-full": "params.data.crowding_code === 'full'",
                                        },
                                    ),
                                    html.H3(
                                        "発表中の警報等・本部への連絡", style={"fontSize": "1rem"}
                                    ),
                                    html.Ul(snap["feed"], id=REPLAY_FEED),
                                ],
                                className="dx-hq-board",
                            ),
                        ],
                        className="dx-hq-main",
                    ),
                    html.Section(
                        [
                            html.H3("鉄塔カメラ（この時刻の画像）", style={"fontSize": "1rem"}),
                            html.Div(
                                snap["cameras"], id=REPLAY_CAMERAS, className="dx-camera-wall"
                            ),
                        ],
                        style={"padding": "0 1rem"},
                    ),
                    html.Div(status_legend(lang="ja"), style={"padding": "0 1rem"}),
                    dcc.Store(id=REPLAY_INCIDENT, data=incident_id),
                    dcc.Interval(id=REPLAY_INTERVAL, interval=REPLAY_TICK_MS, disabled=True),
                ],
                style={"padding": "0 .5rem 1rem"},
            ),
        ],
        lang="ja",
    )


def register_replay(app: Dash) -> None:
    """Attach the replay's callbacks (seek, transport) to ``app``."""

    @app.callback(
        Output(REPLAY_SHELTERS, "data"),
        Output(REPLAY_BOARD, "rowData"),
        Output(REPLAY_TILES, "children"),
        Output(REPLAY_FEED, "children"),
        Output(REPLAY_CLOCK, "children"),
        Output(REPLAY_CAMERAS, "children"),
        Input(REPLAY_SLIDER, "value"),
        State(REPLAY_INCIDENT, "data"),
        prevent_initial_call=True,
    )
    @requires(*DRILL_REPLAY_ROLES)
    def seek(value: float | None, incident_id: str) -> tuple[Any, ...]:
        """The map, board, tiles, feed and camera pictures at the slider's instant."""
        store = current().store
        incident = store.incident(incident_id)
        if not may_replay(signed_in_user(), incident):
            abort(403)
        start, _end = _replay_window(store, incident)
        moment = start + timedelta(seconds=float(value or 0))
        snap = _replay_snapshot(incident, moment)
        clock = _clock_text(incident, _controls_of(store, incident_id), moment)
        return snap["features"], snap["rows"], snap["tiles"], snap["feed"], clock, snap["cameras"]

    @app.callback(
        Output(REPLAY_SLIDER, "value"),
        Output(REPLAY_INTERVAL, "disabled"),
        Output(REPLAY_PLAY, "children"),
        Input(REPLAY_INTERVAL, "n_intervals"),
        Input(REPLAY_PLAY, "n_clicks"),
        Input(REPLAY_FIRST, "n_clicks"),
        Input(REPLAY_BACK, "n_clicks"),
        Input(REPLAY_FORWARD, "n_clicks"),
        Input(REPLAY_LAST, "n_clicks"),
        State(REPLAY_SLIDER, "value"),
        State(REPLAY_SLIDER, "max"),
        State(REPLAY_SPEED, "value"),
        State(REPLAY_INTERVAL, "disabled"),
        prevent_initial_call=True,
    )
    @requires(*DRILL_REPLAY_ROLES)
    def transport(
        _tick: int | None,
        _play: int | None,
        _first: int | None,
        _back: int | None,
        _forward: int | None,
        _last: int | None,
        value: float | None,
        maximum: float,
        speed: float | None,
        paused: bool | None,
    ) -> tuple[Any, ...]:
        """Play/pause and seek buttons; while playing, each tick moves ``speed`` seconds on."""
        value = float(value or 0)
        trigger = ctx.triggered_id
        playing = not paused
        if trigger == REPLAY_PLAY:
            playing = not playing
            if playing and value >= maximum:
                value = 0.0  # play again from the start
        elif trigger == REPLAY_INTERVAL:
            value = min(maximum, value + float(speed or 1) * REPLAY_TICK_MS / 1000)
            if value >= maximum:
                playing = False
        elif trigger == REPLAY_FIRST:
            value = 0.0
        elif trigger == REPLAY_LAST:
            value = float(maximum)
        elif trigger in (REPLAY_BACK, REPLAY_FORWARD):
            # A twentieth of the record per press: minutes of a real-time drill, seconds of a
            # 60× rehearsal.
            step = max(1.0, float(maximum) / 20)
            value = min(
                float(maximum), max(0.0, value + (step if trigger == REPLAY_FORWARD else -step))
            )
        label = "⏸ 一時停止" if playing else "▶ 再生"
        return round(value), not playing, label
