"""``/drill``: the drill operator's console (role ``drill`` or admin).

Load and validate a scenario, start, pause, resume, change speed, stop; the upcoming injects
and the log of what fired, read from the database so every app worker shows the same thing.
Starting or resuming a drill starts the in-app scheduler thread
(:func:`~disaster_dx.web.drills.common.ensure_scheduler`).
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from flask import Flask

from disaster_dx import drills
from disaster_dx._time import to_jst
from disaster_dx.errors import DisasterDxError, NotFoundError
from disaster_dx.store import Store
from disaster_dx.web.context import current
from disaster_dx.web.drills.common import (
    _BUTTON,
    _DANGER,
    _PANEL,
    _PRIMARY,
    OPERATOR_ROLES,
    POLL_MS,
    SPEEDS,
    columns,
    ensure_scheduler,
)
from disaster_dx.web.drills.ids import (
    CHECK,
    FIRED,
    FORCE,
    INTERVAL,
    LINKS,
    PAUSE,
    PUBLIC_NOTICE,
    RESULT,
    RESUME,
    RUN,
    SCENARIO,
    SCENARIO_TEXT,
    SET_SPEED,
    SPEED,
    START,
    START_CONFIRM,
    STATUS,
    STOP,
    STOP_CONFIRM,
    UPCOMING,
    UPLOAD,
    VALIDATE,
)
from disaster_dx.web.security import page_user, requires, signed_in_user
from disaster_dx.web.staff import grid, refusal, staff_header
from disaster_dx.web.user_incident import BANNER_STRIPES, BANNER_TEXT


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
                    style=BANNER_TEXT,
                ),
                style={"background": BANNER_STRIPES, "padding": "8px"},
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
                                columns(
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
                                columns(
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


def register_operator(app: Dash) -> None:
    """Attach the console's callbacks (validate, start, control, refresh) to ``app``."""
    server: Flask = app.server

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
        ensure_scheduler(server)
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
                ensure_scheduler(server)
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
