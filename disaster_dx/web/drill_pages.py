"""Drill pages: ``/drill`` (operator), ``/drill/replay/<incident>`` (time slider), ``/drill/join``.

- ``/drill`` — role ``drill`` (or admin): load and validate a scenario, start, pause, resume,
  change speed, stop; the upcoming injects and the log of what fired, read from the database
  so every app worker shows the same thing.
- ``/drill/replay/<incident>`` — play, pause, seek and speed over any incident (drills for
  ``drill``/``hq``, past live incidents for ``hq``): the map and the board at the slider's
  instant come from :func:`disaster_dx.drills.state_at` and the same ``layers`` and
  :func:`disaster_dx.hq.board_rows` code as the live HQ page.
- ``/drill/join`` — staff (HQ, shelter staff) switch their own screens to a running drill,
  or back to live; the choice is kept in their session (:data:`DRILL_SESSION_KEY`) and
  :func:`current_incident` turns it into the incident their pages read and write.
- ``/drill/report/<incident>`` and ``/drill/export/<incident>.yaml`` — the after-action
  report and the record → scenario export.

Everything here shows the 訓練 / DRILL banner for a drill. Component ids start with ``drill-``
so the security guard refuses anonymous callbacks, and every callback re-checks the role.

Where the scheduler runs: starting or resuming a drill here starts a daemon scheduler thread
in this worker (unless ``DX_DRILL_SCHEDULER_THREAD`` is false in the Flask config, e.g. when
``disaster-dx drill run`` runs as its own process). Every worker may start one; the database
lease lets exactly one fire injects.
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
from datetime import datetime, timedelta
from typing import Any

import dash
import dash_leaflet as dl
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from flask import Flask, Response, abort, redirect, request, session
from plotly.offline import get_plotlyjs

from disaster_dx import auth, drills
from disaster_dx import hq as hq_core
from disaster_dx._time import JST, to_jst
from disaster_dx.auth import Role, User
from disaster_dx.cameras.frames import frame_span
from disaster_dx.errors import DisasterDxError, NotFoundError
from disaster_dx.events import Event
from disaster_dx.io.after_action import after_action, report_html
from disaster_dx.situation import incident_time
from disaster_dx.store import Incident, Store
from disaster_dx.templating import render
from disaster_dx.web.context import current
from disaster_dx.web.security import csrf_token, page_user, requires, signed_in_user
from disaster_dx.web.staff import grid, refusal, staff_header
from layers.basemaps import basemap_control, map_view
from layers.shelters import shelter_features, shelter_layer, status_legend

log = logging.getLogger(__name__)

OPERATOR_ROLES = (Role.DRILL,)
#: Drills may be replayed by their operators and by HQ; past live incidents only by HQ.
DRILL_REPLAY_ROLES = (Role.DRILL, Role.HQ)
LIVE_REPLAY_ROLES = (Role.HQ,)
#: Who may switch their own screens to a drill.
JOIN_ROLES = (Role.HQ, Role.SHELTER_STAFF, Role.DRILL)
DRILL_SESSION_KEY = drills.DRILL_SESSION_KEY
THREAD_FLAG = "DX_DRILL_SCHEDULER_THREAD"
_EXTENSION = "disaster_dx_drills"

SPEEDS = (1, 2, 5, 10, 30, 60)
REPLAY_SPEEDS = (1, 10, 60, 300)
POLL_MS = 1000
REPLAY_TICK_MS = 1000

# -- component ids (all start with "drill-": the security guard covers them) ------------------
SCENARIO = "drill-scenario"
UPLOAD = "drill-upload"
VALIDATE = "drill-validate"
CHECK = "drill-check"
SCENARIO_TEXT = "drill-scenario-text"
SPEED = "drill-speed"
START = "drill-start"
PUBLIC_NOTICE = "drill-public-notice"
START_CONFIRM = "drill-start-confirm"
RUN = "drill-run"
PAUSE = "drill-pause"
RESUME = "drill-resume"
STOP = "drill-stop"
STOP_CONFIRM = "drill-stop-confirm"
SET_SPEED = "drill-set-speed"
RESULT = "drill-result"
STATUS = "drill-status"
UPCOMING = "drill-upcoming"
FIRED = "drill-fired"
LINKS = "drill-links"
INTERVAL = "drill-interval"
FORCE = "drill-force"

REPLAY_INCIDENT = "drill-replay-incident"
REPLAY_SLIDER = "drill-replay-slider"
REPLAY_PLAY = "drill-replay-play"
REPLAY_SPEED = "drill-replay-speed"
REPLAY_INTERVAL = "drill-replay-interval"
REPLAY_FIRST = "drill-replay-first"
REPLAY_BACK = "drill-replay-back"
REPLAY_FORWARD = "drill-replay-forward"
REPLAY_LAST = "drill-replay-last"
REPLAY_CLOCK = "drill-replay-clock"
REPLAY_MAP = "drill-replay-map"
REPLAY_SHELTERS = "drill-replay-shelters"
REPLAY_BOARD = "drill-replay-board"
REPLAY_TILES = "drill-replay-tiles"
REPLAY_FEED = "drill-replay-feed"
REPLAY_CAMERAS = "drill-replay-cameras"

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


def _columns(*fields: tuple[str, str] | tuple[str, str, int]) -> list[dict[str, Any]]:
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
_STRIPES = "repeating-linear-gradient(135deg, #ffcc00 0 22px, #1a1a1a 22px 44px)"
_BANNER_TEXT = {
    "margin": 0,
    "background": "#1a1a1a",
    "color": "#ffcc00",
    "fontWeight": 700,
    "fontSize": "1.35rem",
    "textAlign": "center",
    "padding": ".3rem .5rem",
    "letterSpacing": ".06em",
}
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
        html.P([text, html.Br(), html.Small(incident.title)], style=_BANNER_TEXT),
        className="dx-drill-banner",
        role="note",
        id="drill-banner",
        style={"background": _STRIPES, "padding": "8px"},
    )


def _replay_banner(incident: Incident) -> html.Div:
    banner = drill_banner(incident)
    if banner is not None:
        return banner
    return html.Div(
        html.P(
            "記録の再生（実災害） — 現在の状況ではありません / REPLAY of a past incident",
            style={**_BANNER_TEXT, "background": "#003f6b", "color": "#fff"},
        ),
        role="note",
        id="drill-banner",
        style={"background": "#7fa7c9", "padding": "6px"},
    )


def current_incident() -> Incident:
    """The incident the signed-in user's screens read and write (their drill, else live).

    For the HQ pages: use this instead of ``store.live_incident()``.
    """
    return drills.active_incident_for(current().store, session.get(DRILL_SESSION_KEY))


# -- scheduler thread (one per app instance, kept on the Flask app, not in a module global) ----


def _ensure_scheduler(server: Flask, store: Store) -> None:
    if not server.config.get(THREAD_FLAG, True):
        return
    state: dict[str, Any] = server.extensions.setdefault(
        _EXTENSION, {"lock": threading.Lock(), "thread": None}
    )
    with state["lock"]:
        thread = state["thread"]
        if thread is not None and thread.is_alive():
            return
        thread = drills.scheduler_thread(store)
        state["thread"] = thread
        thread.start()
        log.info("drill scheduler thread started in this worker")


# -- operator page -----------------------------------------------------------------------------


def _scenario_options() -> list[dict[str, str]]:
    options = []
    for path in drills.bundled_scenarios():
        title = path.stem
        try:
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.startswith("title:"):
                    title = line.partition(":")[2].strip()
                    break
        except OSError:
            pass
        options.append({"label": title, "value": path.name})
    return options


def _run_options(store: Store) -> list[dict[str, str]]:
    return [
        {
            "label": f"{drills.STATUS_LABELS[r.status]}：{r.scenario_title}"
            f"（{to_jst(r.started_at).strftime('%m/%d %H:%M')} 開始・{r.incident_id}）",
            "value": r.incident_id,
        }
        for r in drills.drill_run_summaries(store)
    ]


def operator_layout(**_query: Any) -> html.Div:
    """``/drill``: the drill operator's console (role drill or admin)."""
    user = page_user(*OPERATOR_ROLES)
    if user is None:
        return refusal(lang="ja")
    store = current().store
    summaries = drills.drill_run_summaries(store)
    runs = _run_options(store)
    active = [r.incident_id for r in summaries if r.status != drills.STOPPED]
    options = _scenario_options()
    return html.Div(
        [
            html.Div(
                html.P(
                    "訓練 / DRILL — 訓練の運営画面です。ここでの操作は実災害のデータに影響しません",
                    style=_BANNER_TEXT,
                ),
                style={"background": _STRIPES, "padding": "8px"},
                role="note",
                id="drill-banner",
            ),
            staff_header(user, lang="ja", title_ja="訓練の運営", title_en="Drill operator"),
            html.Main(
                [
                    html.Section(
                        [
                            html.H2("1. シナリオを選んで確認する"),
                            html.Label("同梱のシナリオ", htmlFor=SCENARIO),
                            dcc.Dropdown(
                                id=SCENARIO,
                                options=options,
                                value=options[0]["value"] if options else None,
                                clearable=False,
                            ),
                            dcc.Upload(
                                html.Div(
                                    [
                                        "または、シナリオファイル（YAML）をここにドラッグするか、",
                                        html.A("ファイルを選んでください"),
                                    ]
                                ),
                                id=UPLOAD,
                                accept=".yaml,.yml,.json",
                                max_size=1_000_000,
                                style={
                                    "border": "2px dashed #888",
                                    "borderRadius": "6px",
                                    "padding": ".6rem",
                                    "margin": ".5rem 0",
                                    "textAlign": "center",
                                },
                            ),
                            html.Button("シナリオを確認", id=VALIDATE, style=_BUTTON),
                            html.Div(id=CHECK, role="status", **{"aria-live": "polite"}),
                            dcc.Store(id=SCENARIO_TEXT),
                        ],
                        style=_PANEL,
                    ),
                    html.Section(
                        [
                            html.H2("2. 訓練を始める"),
                            html.Label("進める速さ（1×＝実時間）", htmlFor=SPEED),
                            dcc.RadioItems(
                                id=SPEED,
                                options=[{"label": f"{s}×", "value": s} for s in SPEEDS],
                                value=1,
                                inline=True,
                                inputStyle={"marginRight": ".25rem", "marginLeft": ".6rem"},
                            ),
                            html.Label(
                                "市民向けページ",
                                htmlFor=PUBLIC_NOTICE,
                                className="dx-visually-hidden",
                            ),
                            dcc.Checklist(
                                id=PUBLIC_NOTICE,
                                options=[
                                    {
                                        "label": "市民向けページに「防災訓練を実施中」の"
                                        "お知らせを出す（住民参加の訓練のとき。"
                                        "訓練の内容は表示されません）",
                                        "value": "notice",
                                    }
                                ],
                                value=[],
                                inputStyle={"marginRight": ".3rem"},
                                style={"margin": ".4rem 0"},
                            ),
                            dcc.ConfirmDialogProvider(
                                html.Button("訓練を開始", id=START, style=_PRIMARY),
                                id=START_CONFIRM,
                                message="確認したシナリオで新しい訓練を開始します。"
                                "訓練用の記録（訓練インシデント）が作られます。よろしいですか？",
                            ),
                            html.P(
                                [
                                    "職員は ",
                                    html.A("訓練に参加（/drill/join）", href="/drill/join"),
                                    " で自分の画面を訓練に切り替えます。",
                                ]
                            ),
                        ],
                        style=_PANEL,
                    ),
                    html.Section(
                        [
                            html.H2("3. 実施中の訓練"),
                            html.Label("対象の訓練", htmlFor=RUN),
                            dcc.Dropdown(
                                id=RUN,
                                options=runs,
                                value=active[0] if active else (runs[0]["value"] if runs else None),
                                placeholder="訓練を選んでください",
                            ),
                            html.Div(id=STATUS, style={"margin": ".5rem 0"}),
                            html.Div(
                                [
                                    html.Button("一時停止", id=PAUSE, style=_BUTTON),
                                    html.Button("再開", id=RESUME, style=_BUTTON),
                                    html.Button("速さを変更", id=SET_SPEED, style=_BUTTON),
                                    dcc.ConfirmDialogProvider(
                                        html.Button("訓練を終了", id=STOP, style=_DANGER),
                                        id=STOP_CONFIRM,
                                        message="訓練を終了します。以後、状況付与も職員の入力も"
                                        "受け付けません（記録の再生と報告書は使えます）。"
                                        "よろしいですか？",
                                    ),
                                ],
                            ),
                            html.P(id=RESULT, role="status", **{"aria-live": "polite"}),
                            html.Div(id=LINKS),
                            html.H3("これからの状況付与"),
                            grid(
                                UPCOMING,
                                _columns(
                                    ("offset", "予定（経過時間）"),
                                    ("clock", "想定時刻"),
                                    ("eta", "あと"),
                                    ("summary", "内容", 3),
                                ),
                                [],
                                lang="ja",
                                options={"pagination": True, "paginationPageSize": 10},
                            ),
                            html.H3("実施した状況付与（記録）"),
                            grid(
                                FIRED,
                                _columns(
                                    ("index", "番号"),
                                    ("offset", "経過時間"),
                                    ("at", "実施時刻"),
                                    ("summary", "内容", 3),
                                ),
                                [],
                                lang="ja",
                                options={"pagination": True, "paginationPageSize": 15},
                            ),
                        ],
                        style=_PANEL,
                    ),
                    dcc.Store(id=FORCE, data=0),
                    dcc.Interval(id=INTERVAL, interval=POLL_MS),
                ],
                style={"maxWidth": "72rem", "margin": "0 auto", "padding": "0 1rem 2rem"},
            ),
        ],
        lang="ja",
    )


def _read_scenario(
    name: str | None, upload: str | None, filename: str | None
) -> tuple[str, bytes | None, str]:
    """(source name, bytes, problem) from the upload or the chosen bundled file."""
    if upload:
        try:
            data = base64.b64decode(upload.partition(",")[2], validate=True)
        except (binascii.Error, ValueError):
            return filename or "upload", None, "ファイルを読み取れませんでした。"
        return filename or "upload.yaml", data, ""
    bundled = {p.name: p for p in drills.bundled_scenarios()}
    if not name or name not in bundled:
        return name or "", None, "シナリオを選んでください。"
    return name, bundled[name].read_bytes(), ""


def _check_view(source: str, error: drills.ScenarioError | None, scenario: Any) -> html.Div:
    if error is not None:
        return html.Div(
            [
                html.P(
                    f"{source}：{len(error.problems)}件の問題があります。直してから読み込み直してください。",
                    className="dx-error",
                ),
                html.Ul(
                    [html.Li(f"{p.line}行目：{p.message}") for p in error.problems[:100]],
                    id="drill-check-problems",
                ),
            ]
        )
    assert scenario is not None
    return html.Div(
        [
            html.P(f"✔ {source}：問題はありません。", className="dx-ok"),
            html.Dl(
                [
                    html.Dt("題名"),
                    html.Dd(scenario.title),
                    html.Dt("想定の災害"),
                    html.Dd(scenario.hazard.ja),
                    html.Dt("開始時刻・長さ"),
                    html.Dd(
                        f"{scenario.start_time.strftime('%H:%M')} から "
                        f"{drills.format_offset(scenario.length)}"
                    ),
                    html.Dt("状況付与"),
                    html.Dd(f"{len(scenario.injects)}件"),
                    html.Dt("開設が必要な避難所"),
                    html.Dd(f"{len(scenario.needed_shelters)}か所"),
                ],
                style={
                    "display": "grid",
                    "gridTemplateColumns": "max-content 1fr",
                    "gap": "0 1rem",
                },
            ),
        ]
    )


def _eta(run: drills.DrillRun, inject: drills.Inject, now: datetime) -> str:
    if run.status == drills.PAUSED:
        return "一時停止中"
    due = run.due_at(inject)
    if due is None:
        return "—"
    seconds = max(0, int((due - now).total_seconds()))
    minutes, secs = divmod(seconds, 60)
    return f"{minutes}分{secs:02d}秒"


def _status_view(run: drills.DrillRun, now: datetime) -> html.Div:
    position = run.position(now)
    fired = f"{run.fired} / {len(run.injects)} 件"
    return html.Div(
        [
            html.Strong(f"状態：{drills.STATUS_LABELS[run.status]}", id="drill-status-state"),
            html.Span(
                f"　経過時間 {drills.format_offset(position)}　速さ {run.speed:g}×"
                f"　状況付与 {fired}"
                + ("（すべて実施済み）" if run.all_fired else "")
                # The scheduler stops the drill there by itself (DrillScheduler.tick).
                + f"　終了予定 {drills.format_offset(run.end)}（シナリオの終わりで自動終了）"
            ),
        ]
    )


def _links(incident_id: str) -> html.Div:
    return html.Div(
        [
            html.A("記録を再生", href=f"/drill/replay/{incident_id}", style=_BUTTON),
            html.A(
                "事後検証報告書",
                href=f"/drill/report/{incident_id}",
                target="_blank",
                style=_BUTTON,
            ),
            html.A(
                "シナリオとして書き出す（YAML）",
                href=f"/drill/export/{incident_id}.yaml",
                style=_BUTTON,
            ),
        ],
        style={"margin": ".5rem 0"},
    )


# -- replay page -------------------------------------------------------------------------------


def _may_replay(user: User | None, incident: Incident) -> bool:
    if user is None:
        return False
    return user.has(*(DRILL_REPLAY_ROLES if incident.is_drill else LIVE_REPLAY_ROLES))


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
    from disaster_dx.web.cameras_web import replay_cards  # it imports this module

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
    if not _may_replay(user, incident):
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
                                        _columns(*_BOARD_COLUMNS),
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


# -- join / leave, report, export (Flask routes under /drill: the guard needs a login) ----------


def _join_user() -> User:
    user = signed_in_user()
    if user is None:
        abort(401)
    if not user.has(*JOIN_ROLES):
        current().store.audit(user.username, "access.refused", target="drill.join")
        abort(403)
    return user


def _check_csrf() -> None:
    from hmac import compare_digest

    sent = request.form.get("csrf_token") or ""
    if not compare_digest(sent, session.get("csrf_token") or "-"):
        abort(400)


def _join_page() -> Any:
    _join_user()
    store = current().store
    choice = session.get(DRILL_SESSION_KEY)
    chosen = drills.active_incident_for(store, choice) if choice else None
    return render(
        "drill_join.html",
        stripes=_STRIPES,
        chosen=chosen if chosen is not None and chosen.is_drill else None,
        drills=drills.open_drill_incidents(store),
        token=csrf_token(),
    )


def _join() -> Any:
    user = _join_user()
    _check_csrf()
    store = current().store
    incident_id = request.form.get("incident_id") or ""
    try:
        incident = store.incident(incident_id)
    except NotFoundError:
        abort(404)
    if not incident.is_drill or incident.closed_at is not None:
        abort(400)
    session[DRILL_SESSION_KEY] = incident.incident_id
    store.audit(user.username, "drill.join", target=incident.incident_id)
    return redirect("/hq")


def _leave() -> Any:
    user = _join_user()
    _check_csrf()
    left = session.pop(DRILL_SESSION_KEY, None)
    current().store.audit(user.username, "drill.leave", target=str(left or ""))
    return redirect("/drill/join")


def _incident_for_download(incident_id: str) -> Incident:
    user = signed_in_user()
    if user is None:
        abort(401)
    try:
        incident = current().store.incident(incident_id)
    except NotFoundError:
        abort(404)
    if not _may_replay(user, incident):
        current().store.audit(user.username, "access.refused", target=f"drill.report:{incident_id}")
        abort(403)
    return incident


def _report(incident_id: str) -> Response:
    incident = _incident_for_download(incident_id)
    context = current()
    report = after_action(
        context.store,
        incident.incident_id,
        stale_after=timedelta(minutes=context.settings.stale_report_minutes),
    )
    page = report_html(report, plotly_js="/drill/plotly.min.js")
    return Response(page, mimetype="text/html")


def _export(incident_id: str) -> Response:
    incident = _incident_for_download(incident_id)
    try:
        text = drills.scenario_from_incident(current().store, incident.incident_id)
    except DisasterDxError as exc:
        return Response(f"書き出せませんでした: {exc}\n", status=400, mimetype="text/plain")
    name = f"scenario-{incident.incident_id}.yaml"
    return Response(
        text,
        mimetype="application/yaml",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _plotly_js() -> Response:
    response = Response(get_plotlyjs(), mimetype="application/javascript")
    response.cache_control.max_age = 86400
    return response


# -- registration ------------------------------------------------------------------------------


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
    store = server.extensions["disaster_dx"].store
    drills.create_drill_tables(store)
    server.add_url_rule("/drill/join", "drill_join_page", _join_page, methods=["GET"])
    server.add_url_rule("/drill/join", "drill_join", _join, methods=["POST"])
    server.add_url_rule("/drill/leave", "drill_leave", _leave, methods=["POST"])
    server.add_url_rule("/drill/report/<incident_id>", "drill_report", _report)
    server.add_url_rule("/drill/export/<incident_id>.yaml", "drill_export", _export)
    server.add_url_rule("/drill/plotly.min.js", "drill_plotly", _plotly_js)

    @app.callback(
        Output(CHECK, "children"),
        Output(SCENARIO_TEXT, "data"),
        Input(VALIDATE, "n_clicks"),
        Input(SCENARIO, "value"),
        Input(UPLOAD, "contents"),
        State(UPLOAD, "filename"),
    )
    @requires(*OPERATOR_ROLES)
    def validate(
        _clicks: int | None, name: str | None, upload: str | None, filename: str | None
    ) -> tuple[Any, Any]:
        """Validate the chosen or uploaded scenario against the schema and the master."""
        if ctx.triggered_id == SCENARIO:
            upload = None  # choosing a bundled file replaces an earlier upload
        source, data, problem = _read_scenario(name, upload, filename)
        if data is None:
            return html.P(problem, className="dx-error"), None
        store = current().store
        try:
            scenario = drills.parse_scenario(
                data,
                shelters=store.shelters(),
                source=source,
                base_dir=drills.SCENARIO_DIR,
                camera_ids=drills.known_camera_ids(store),
            )
        except drills.ScenarioError as error:
            return _check_view(source, error, None), None
        text = data.decode("utf-8-sig")
        return _check_view(source, None, scenario), {"source": source, "text": text}

    @app.callback(
        Output(RESULT, "children", allow_duplicate=True),
        Output(RUN, "options", allow_duplicate=True),
        Output(RUN, "value"),
        Input(START_CONFIRM, "submit_n_clicks"),
        State(SCENARIO_TEXT, "data"),
        State(SPEED, "value"),
        State(PUBLIC_NOTICE, "value"),
        prevent_initial_call=True,
    )
    @requires(*OPERATOR_ROLES)
    def start(
        _submit: int | None,
        loaded: dict[str, str] | None,
        speed: float,
        notice: list[str] | None,
    ) -> tuple[Any, ...]:
        """Start a new drill from the validated scenario (validated again: never trust it)."""
        user = signed_in_user()
        assert user is not None
        if not loaded:
            return "先にシナリオを確認してください。", no_update, no_update
        store = current().store
        try:
            scenario = drills.parse_scenario(
                loaded["text"],
                shelters=store.shelters(),
                source=loaded["source"],
                base_dir=drills.SCENARIO_DIR,
                camera_ids=drills.known_camera_ids(store),
            )
            run = drills.start_drill(
                store,
                scenario,
                actor=user.username,
                speed=float(speed),
                public_notice="notice" in (notice or []),
            )
        except DisasterDxError as exc:
            return f"開始できませんでした：{exc}", no_update, no_update
        _ensure_scheduler(server, store)
        return (
            f"訓練を開始しました（{run.incident_id}、{run.speed:g}×）。",
            _run_options(store),
            run.incident_id,
        )

    @app.callback(
        Output(RESULT, "children"),
        Output(FORCE, "data"),
        Input(PAUSE, "n_clicks"),
        Input(RESUME, "n_clicks"),
        Input(SET_SPEED, "n_clicks"),
        Input(STOP_CONFIRM, "submit_n_clicks"),
        State(RUN, "value"),
        State(SPEED, "value"),
        State(FORCE, "data"),
        prevent_initial_call=True,
    )
    @requires(*OPERATOR_ROLES)
    def command(
        _pause: int | None,
        _resume: int | None,
        _speed: int | None,
        _stop: int | None,
        incident_id: str | None,
        speed: float,
        force: int | None,
    ) -> tuple[str, int]:
        """Pause, resume, change speed or stop the selected drill."""
        user = signed_in_user()
        assert user is not None
        if not incident_id:
            return "訓練を選んでください。", no_update
        store = current().store
        trigger = ctx.triggered_id
        try:
            if trigger == PAUSE:
                drills.pause_drill(store, incident_id, actor=user.username)
                done = "一時停止しました。状況付与は再開まで止まります。"
            elif trigger == RESUME:
                drills.resume_drill(store, incident_id, actor=user.username)
                _ensure_scheduler(server, store)
                done = "再開しました。"
            elif trigger == SET_SPEED:
                run = drills.set_drill_speed(store, incident_id, float(speed), actor=user.username)
                done = f"速さを {run.speed:g}× にしました。"
            else:
                drills.stop_drill(store, incident_id, actor=user.username)
                done = "訓練を終了しました。記録の再生と事後検証報告書を使えます。"
        except DisasterDxError as exc:
            return f"できませんでした：{exc}", no_update
        return done, (force or 0) + 1

    @app.callback(
        Output(STATUS, "children"),
        Output(UPCOMING, "rowData"),
        Output(FIRED, "rowData"),
        Output(LINKS, "children"),
        Output(RUN, "options"),
        Input(INTERVAL, "n_intervals"),
        Input(FORCE, "data"),
        Input(RUN, "value"),
    )
    @requires(*OPERATOR_ROLES)
    def refresh(_tick: int | None, _force: int | None, incident_id: str | None) -> tuple[Any, ...]:
        """Status, upcoming injects and the fired log of the selected drill (from the database)."""
        store = current().store
        options = _run_options(store)
        if not incident_id:
            return html.P("訓練はまだありません。"), [], [], None, options
        try:
            run = drills.drill_run(store, incident_id)
        except NotFoundError:
            return html.P("その訓練は見つかりません。"), [], [], None, options
        now = current().now()
        timeline = dict((i.index, clock) for i, clock in drills.drill_timeline(run))
        upcoming = [
            {
                "offset": drills.format_offset(i.offset),
                "clock": timeline.get(i.index, ""),
                "eta": _eta(run, i, now),
                "summary": i.summary,
            }
            for i in run.upcoming(20)
        ]
        fired = [
            {
                "index": f.index + 1,
                "offset": f.offset,
                "at": to_jst(f.at).strftime("%H:%M:%S"),
                "summary": f.summary,
            }
            for f in reversed(drills.fired_injects(store, incident_id))
        ]
        return _status_view(run, now), upcoming, fired, _links(incident_id), options

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
        if not _may_replay(signed_in_user(), incident):
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


__all__ = [
    "DRILL_SESSION_KEY",
    "current_incident",
    "drill_banner",
    "register",
    "register_page",
]
