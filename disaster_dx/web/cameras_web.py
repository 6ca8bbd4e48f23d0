"""Camera images through the app, the HQ camera wall (``/hq/cameras``) and the HQ map layer.

Browsers never learn a camera's address: they get frames from this app, which only ever reads
them from the frame store on disk — nothing here fetches anything, so no request, however
crafted, can make the server contact another address (the poller alone fetches, and only the
registry's URLs). Camera ids and frame keys from requests are looked up, never used as paths
until they match the strict id / key patterns. Which frames exist (the newest, the newest at
an instant, the scrubber's timeline) is read from the ``camera_frames`` table
(``disaster_dx.camera_frames``), never from the incident log.

Access: HQ staff (and admins) see every camera; anyone may see a camera the registry marks
``public: true``; anything else gets 401 (not signed in) or 403 (audit-logged).

| route | what |
|---|---|
| ``/cameras/<id>/latest.jpg`` | the newest frame (``no-cache``) |
| ``/cameras/<id>/frames/<key>.jpg`` | a stored frame by its capture-time key (immutable) |
| ``/cameras/<id>/status.json`` | health, newest frame and its age, for the map popup |
| ``/hq/cameras`` | every camera's image, auto-refreshing, with a time scrubber over history |
| ``/hq/cameras/<id>`` | one camera large, the last hour as a strip (:mod:`.camera_view`) |
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import dash
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from flask import Flask, Response, abort, jsonify, request

from disaster_dx._time import to_jst
from disaster_dx.auth import Role
from disaster_dx.cameras import (
    Camera,
    CameraSettings,
    CameraStatus,
    age_label,
    camera_statuses,
    registered_cameras,
)
from disaster_dx.cameras.frames import (
    CAMERA_ID,
    FrameRecord,
    FrameRef,
    frame_at,
    frame_times,
    frames_at,
)
from disaster_dx.cameras.scripted import ScriptedCamera, scripted_cameras
from disaster_dx.errors import NotFoundError
from disaster_dx.store import Incident, Store
from disaster_dx.web import camera_view, ids
from disaster_dx.web.camera_app import camera_health, camera_web
from disaster_dx.web.context import current
from disaster_dx.web.i18n import lang_from_search, lang_of
from disaster_dx.web.security import page_user, requires, signed_in_user
from disaster_dx.web.staff import refusal, staff_header
from disaster_dx.web.user_incident import current_incident, drill_banner
from layers.cameras import (
    CAMERA_LAYER_ID,
    HEALTH_STYLE,
    camera_features,
    camera_legend,
    error_label,
    public_label,
    scripted_health,
    view_label,
)

log = logging.getLogger(__name__)

HQ_ROLES = (Role.HQ,)
WALL_REFRESH_MS = 5000

WALL = "hq-cameras-wall"
WALL_INTERVAL = "hq-cameras-interval"
SCRUBBER = "hq-cameras-scrubber"
TIME_LABEL = "hq-cameras-time"
PREV = "hq-cameras-prev"
NEXT = "hq-cameras-next"
LIVE = "hq-cameras-live"
FOLLOW = "hq-cameras-follow"


def init_cameras(server: Flask, app: Dash) -> None:
    """Camera routes, the wall page and callbacks for one app.

    The camera tables, the registry copy, the frame folder and the in-app poller are the
    runtime's (:func:`disaster_dx.runtime.build_runtime`).
    """
    server.add_url_rule("/cameras/<camera_id>/latest.jpg", "camera_latest", _latest)
    server.add_url_rule("/cameras/<camera_id>/frames/<key>.jpg", "camera_frame", _frame)
    server.add_url_rule("/cameras/<camera_id>/status.json", "camera_status", _status_json)
    server.add_url_rule("/cameras/<camera_id>/drill-image", "camera_drill_image", _drill_image)
    register_page()
    register(app)
    camera_view.register_page()
    camera_view.register(app)


# -- Flask routes -------------------------------------------------------------------------------


def _camera_for_request(camera_id: str) -> tuple[Camera, bool]:
    """The camera if this request may see it, and whether it is HQ; else abort 404/401/403."""
    if not CAMERA_ID.match(camera_id):
        abort(404)
    store = current().store
    camera = next((c for c in registered_cameras(store) if c.camera_id == camera_id), None)
    if camera is None:
        abort(404)
    user = signed_in_user()
    if user is not None and user.has(*HQ_ROLES):
        return camera, True
    if camera.public:
        return camera, False
    if user is None:
        abort(401)
    store.audit(user.username, "camera.refused", target=camera_id)
    abort(403)


def _image_response(ref: FrameRef, *, hq: bool, immutable: bool) -> Response:
    try:
        data = ref.path.read_bytes()  # a few hundred kB at most: no file handle outlives this
    except FileNotFoundError:  # retention removed it a moment ago
        abort(404)
    response = Response(data, mimetype="image/jpeg")
    response.set_etag(ref.key)
    response.last_modified = ref.captured_at
    scope = "private" if hq else "public"
    response.headers["Cache-Control"] = (
        f"{scope}, max-age=86400, immutable" if immutable else f"{scope}, no-cache"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Captured-At"] = ref.captured_at.isoformat()
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response.make_conditional(request)


def _latest(camera_id: str) -> Response:
    camera, hq = _camera_for_request(camera_id)
    newest = frame_at(current().store, camera.camera_id)
    ref = camera_web().frames.get(camera.camera_id, newest.key) if newest else None
    if ref is None:
        abort(404)
    return _image_response(ref, hq=hq, immutable=False)


def _frame(camera_id: str, key: str) -> Response:
    camera, hq = _camera_for_request(camera_id)
    ref = camera_web().frames.get(camera.camera_id, key)
    if ref is None:
        abort(404)
    response = _image_response(ref, hq=hq, immutable=True)
    if request.args.get("download") == "1":  # "save": the file is named by its capture time
        record = frame_at(current().store, camera.camera_id, ref.captured_at)
        if record is not None and record.key == ref.key:
            name = camera_view.download_name(record)
            response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _scripted(until: datetime | None = None) -> dict[str, ScriptedCamera]:
    """What the user's drill script shows for each camera (nothing outside a drill)."""
    incident = current_incident()
    if not incident.is_drill:
        return {}
    return scripted_cameras(current().store, incident.incident_id, until=until)


def _drill_image(camera_id: str) -> Response:
    """A drill script's picture for this camera (HQ only).

    Of the user's own drill, or of ``?incident=`` (a drill being replayed); ``?at=`` (UNIX
    seconds) is the instant whose script applies, so each picture has its own address.
    """
    camera, hq = _camera_for_request(camera_id)
    if not hq:
        abort(404)
    store = current().store
    try:
        incident = store.incident(request.args.get("incident") or current_incident().incident_id)
    except NotFoundError:
        abort(404)
    until = None
    at = request.args.get("at", "")
    if at.isdigit():
        until = datetime.fromtimestamp(int(at) + 1, UTC)
    scripted = (
        scripted_cameras(store, incident.incident_id, until=until).get(camera.camera_id)
        if incident.is_drill
        else None
    )
    path = scripted.image_path() if scripted is not None else None
    if path is None:
        abort(404)
    mimetype = "image/png" if path.suffix.lower() == ".png" else "image/jpeg"
    response = Response(path.read_bytes(), mimetype=mimetype)
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response


def _drill_image_url(scripted: ScriptedCamera, incident_id: str | None = None) -> str:
    # The inject's time in the URL: a later picture for the same camera is a new address.
    url = f"/cameras/{scripted.camera_id}/drill-image?at={int(scripted.at.timestamp())}"
    return url + (f"&incident={incident_id}" if incident_id else "")


def _scripted_text(scripted: ScriptedCamera, lang: str) -> str:
    en = lang == "en"
    if scripted.action == "offline":
        head = "No picture (drill scenario)" if en else "映像なし（訓練想定）"
    else:
        head = "Drill picture" if en else "訓練用画像"
    return f"{head}: {scripted.caption}" if scripted.caption else head


def _status_json(camera_id: str) -> Response:
    camera, hq = _camera_for_request(camera_id)
    lang = lang_of(request.args.get("lang"))
    context = current()
    web = camera_web()
    status = camera_statuses(context.store).get(camera.camera_id)
    now = context.now()
    scripted = _scripted().get(camera.camera_id) if hq else None
    health, health_label = scripted_health(
        camera_health(camera, status, now, web.settings), scripted, lang
    )
    ref = frame_at(context.store, camera.camera_id) if scripted is None else None
    symbol, colour, _dash = HEALTH_STYLE[health]
    body: dict[str, Any] = {
        "camera_id": camera.camera_id,
        "name": camera.name(lang),
        "health": health.value,
        "health_label": health_label,
        "symbol": symbol,
        "colour": colour,
        "frame": ref.key if ref else None,
        "frame_url": _frame_url(ref),
        "captured_at": ref.captured_at.isoformat() if ref else None,
        "age_seconds": int((now - ref.captured_at).total_seconds()) if ref else None,
        "frame_label": frame_label(ref, now, lang),
    }
    if scripted is not None:
        body["frame_label"] = _scripted_text(scripted, lang)
        if scripted.image_path() is not None:
            body["frame_url"] = _drill_image_url(scripted)
    if hq:
        body["error_label"] = error_label(status, lang)
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


def _frame_url(ref: FrameRecord | None) -> str | None:
    return f"/cameras/{ref.camera_id}/frames/{ref.key}.jpg" if ref else None


def frame_label(ref: FrameRecord | None, now: datetime, lang: str) -> str:
    """``撮影 12:00:03（12秒前）`` — the capture time in JST and its age."""
    if ref is None:
        return "No frame yet" if lang == "en" else "画像はまだありません"
    age = age_label((now - ref.captured_at).total_seconds(), lang)
    local = to_jst(ref.captured_at)
    if lang == "en":
        return f"Taken {local:%H:%M:%S} ({age})"
    return f"撮影 {local:%H:%M:%S}（{age}）"


# -- HQ map layer -------------------------------------------------------------------------------


def map_features(lang: str) -> dict[str, Any]:
    """The HQ map's camera features now (cones, icons, health in words)."""
    context = current()
    web = camera_web()
    return camera_features(
        registered_cameras(context.store),
        camera_statuses(context.store),
        now=context.now(),
        lang=lang,
        stale_factor=web.settings.stale_factor,
        offline_factor=web.settings.offline_factor,
        scripted=_scripted(),
    )


# -- the camera wall ----------------------------------------------------------------------------


def _timeline(store: Store, cameras: list[Camera]) -> list[int]:
    """Every second (UNIX time) at which some camera stored a frame, oldest first.

    From the ``camera_frames`` record (bounded by retention), never from the incident log.
    """
    moments = frame_times(store, [c.camera_id for c in cameras])
    return sorted({int(moment.timestamp()) for moment in moments})


def _card(
    camera: Camera,
    status: CameraStatus | None,
    ref: FrameRecord | None,
    *,
    now: datetime,
    lang: str,
    settings: CameraSettings,
    live: bool,
    scripted: ScriptedCamera | None = None,
    incident_id: str | None = None,
    health_at: datetime | None = None,
) -> html.Article:
    """One camera's card; its health is judged at ``health_at`` (default ``now``)."""
    health, health_label = scripted_health(
        camera_health(camera, status, health_at or now, settings), scripted, lang
    )
    symbol, colour, _dash = HEALTH_STYLE[health]
    en = lang == "en"
    if scripted is not None:
        picture = _scripted_picture(camera, scripted, lang, incident_id)
    elif ref is not None:
        picture: Any = dcc.Link(
            html.Img(
                src=_frame_url(ref),
                alt=f"{camera.name(lang)} {frame_label(ref, now, lang)}",
                id=f"hq-camera-img-{camera.camera_id}",
                className="dx-camera-frame",
            ),
            href=f"/hq/cameras/{camera.camera_id}" + ("?lang=en" if en else ""),
            title="Open large, with the last hour" if en else "大きく表示（この1時間の記録つき）",
            className="dx-camera-open",
        )
    else:
        empty = (
            ("No frame yet" if en else "画像はまだありません")
            if live
            else ("No frame at this time" if en else "この時刻の画像はありません")
        )
        picture = html.Div(
            empty, className="dx-camera-noframe", id=f"hq-camera-img-{camera.camera_id}"
        )
    error = error_label(status, lang) if live and scripted is None else ""
    return html.Article(
        [
            html.H2(camera.name(lang)),
            html.P(
                [
                    html.Span(symbol, className="dx-camera-symbol", style={"color": colour}),
                    html.Span(
                        (
                            ("Now: " if en else "現在の状態：")
                            if live
                            else ("At that time: " if en else "この時刻の状態：")
                        )
                        + health_label,
                        className="dx-camera-health-label",
                    ),
                ],
                className=f"dx-camera-health dx-health-{health.value}",
            ),
            picture,
            html.P(
                _scripted_text(scripted, lang)
                if scripted is not None
                else (frame_label(ref, now, lang) if ref or live else ""),
                className="dx-camera-age",
                id=f"hq-camera-age-{camera.camera_id}",
                **{"data-frame": ref.key if ref else ""},
            ),
            html.P(error, className="dx-camera-error") if error else None,
            html.P(
                f"{view_label(camera, lang)}・{public_label(camera, lang)}",
                className="dx-camera-meta",
            ),
        ],
        className=f"dx-camera-card dx-health-{health.value}",
        id=f"hq-camera-card-{camera.camera_id}",
    )


def _scripted_picture(
    camera: Camera, scripted: ScriptedCamera, lang: str, incident_id: str | None = None
) -> Any:
    """The drill script's picture, or its outage, in place of the camera's frame."""
    text = _scripted_text(scripted, lang)
    if scripted.image_path() is not None:
        return html.Img(
            src=_drill_image_url(scripted, incident_id),
            alt=f"{camera.name(lang)} {text}",
            id=f"hq-camera-img-{camera.camera_id}",
            className="dx-camera-frame dx-camera-drill",
        )
    return html.Div(text, className="dx-camera-noframe", id=f"hq-camera-img-{camera.camera_id}")


def replay_cards(incident: Incident, moment: datetime, *, lang: str = "ja") -> list[Any]:
    """Each camera as HQ saw it at ``moment`` of a replayed incident (for the replay page).

    The newest frame at or before that instant with its health then, or, in a drill, what
    the script showed; frames older than the retention are gone and say so. HQ only, like
    every camera picture; other replay users get a sentence instead.
    """
    user = signed_in_user()
    if user is None or not user.has(*HQ_ROLES):
        return [
            html.P("カメラの画像は本部（HQ）の職員だけが見られます。", className="dx-camera-meta")
        ]
    store = current().store
    scripted = (
        scripted_cameras(store, incident.incident_id, until=moment) if incident.is_drill else {}
    )
    return _cards_then(
        registered_cameras(store),
        moment,
        now=moment,
        lang=lang,
        scripted=scripted,
        incident_id=incident.incident_id,
    )


def _cards_then(
    cameras: list[Camera],
    moment: datetime,
    *,
    now: datetime,
    lang: str,
    scripted: Mapping[str, ScriptedCamera],
    incident_id: str | None = None,
) -> list[html.Article]:
    """Cards of the record: each camera's newest frame at ``moment``, with its health then.

    ``now`` is what a frame's age is told against (the present on the wall, the replayed
    instant on the replay page).
    """
    web = camera_web()
    shown = frames_at(current().store, [c.camera_id for c in cameras], moment)
    cards = []
    for camera in cameras:
        ref = shown.get(camera.camera_id)
        then = CameraStatus(camera.camera_id, last_frame_at=ref.captured_at if ref else None)
        cards.append(
            _card(
                camera,
                then,
                ref,
                now=now,
                lang=lang,
                settings=web.settings,
                live=False,
                scripted=scripted.get(camera.camera_id),
                incident_id=incident_id,
                health_at=moment,
            )
        )
    return cards


def _wall(chosen: int | None, lang: str) -> tuple[list[html.Article], list[int], str, bool]:
    """Cards for the instant ``chosen`` (None = live), the timeline, the time text."""
    context = current()
    web = camera_web()
    cameras = registered_cameras(context.store)
    statuses = camera_statuses(context.store)
    now = context.now()
    timeline = _timeline(context.store, cameras)
    live = chosen is None
    moment = (
        None
        if chosen is None
        else datetime.fromtimestamp(chosen, UTC) + timedelta(seconds=1) - timedelta(microseconds=1)
    )
    scripted = _scripted(until=moment)
    if moment is not None:
        cards = _cards_then(cameras, moment, now=now, lang=lang, scripted=scripted)
    else:
        newest = frames_at(context.store, [c.camera_id for c in cameras])
        cards = [
            _card(
                camera,
                statuses.get(camera.camera_id),
                newest.get(camera.camera_id),
                now=now,
                lang=lang,
                settings=web.settings,
                live=True,
                scripted=scripted.get(camera.camera_id),
            )
            for camera in cameras
        ]
    en = lang == "en"
    if live:
        text = "Live — refreshes every 5 s" if en else "ライブ表示（5秒ごとに更新）"
    else:
        assert moment is not None
        shown = to_jst(moment).strftime("%Y-%m-%d %H:%M:%S")
        ago = age_label((now - moment).total_seconds(), lang)
        text = f"Recorded {shown} ({ago})" if en else f"記録 {shown}（{ago}）の画像を表示中"
    return cards, timeline, text, live


def _marks(timeline: list[int]) -> dict[int, str]:
    if not timeline:
        return {}
    first, last = timeline[0], timeline[-1]

    def label(second: int) -> str:
        return to_jst(datetime.fromtimestamp(second, UTC)).strftime("%H:%M")

    return {first: label(first), last: label(last)} if first != last else {first: label(first)}


def layout(lang: str | None = None, **_query: Any) -> html.Div:
    """The camera wall for HQ/admin; everyone else gets the refusal page."""
    lang = lang_of(lang)
    user = page_user(*HQ_ROLES)
    if user is None:
        return refusal(lang=lang)
    en = lang == "en"
    cards, timeline, text, _live = _wall(None, lang)
    return html.Div(
        [
            drill_banner(current_incident(), lang=lang),
            staff_header(
                user,
                lang=lang,
                title_ja="鉄塔カメラ一覧",
                title_en="Tower cameras",
            ),
            html.Main(
                [
                    html.Section(
                        [
                            html.Button(
                                "◀ 前の画像" if not en else "◀ Earlier", id=PREV, type="button"
                            ),
                            html.Div(
                                dcc.Slider(
                                    id=SCRUBBER,
                                    min=timeline[0] if timeline else 0,
                                    max=timeline[-1] if timeline else 1,
                                    step=1,
                                    value=timeline[-1] if timeline else 1,
                                    marks=_marks(timeline),
                                    disabled=not timeline,
                                    updatemode="mouseup",
                                    allow_direct_input=False,
                                    included=False,
                                ),
                                className="dx-camera-scrubber",
                                title="記録をさかのぼる" if not en else "Go back in the record",
                            ),
                            html.Button(
                                "次の画像 ▶" if not en else "Later ▶", id=NEXT, type="button"
                            ),
                            html.Button(
                                "ライブに戻る" if not en else "Back to live",
                                id=LIVE,
                                type="button",
                            ),
                            html.P(
                                text,
                                id=TIME_LABEL,
                                className="dx-camera-time",
                                role="status",
                                **{"aria-live": "polite"},
                            ),
                        ],
                        className="dx-camera-controls",
                        **{"aria-label": "表示する時刻" if not en else "Time shown"},
                    ),
                    html.Div(cards, id=WALL, className="dx-camera-wall"),
                    html.Div(
                        [
                            camera_legend(lang=lang),
                            html.P(
                                "画像は本アプリ経由で表示しています（カメラの接続先は表示しません）。"
                                if not en
                                else "Images come through this app; camera addresses are "
                                "never shown.",
                                className="dx-credit",
                            ),
                        ]
                    ),
                ]
            ),
            dcc.Store(id=FOLLOW, data=True),
            dcc.Interval(id=WALL_INTERVAL, interval=WALL_REFRESH_MS),
        ],
        lang=lang,
        className="dx-camera-page",
    )


def _whole_seconds(value: Any, default: int | None) -> int | None:
    """The scrubber's value as whole seconds; anything else (a crafted request) is ignored."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    try:
        return int(value)
    except (OverflowError, ValueError):
        return default


def register(app: Dash) -> None:
    """Attach the wall and map-layer callbacks to ``app`` (per app, like the other pages)."""

    @app.callback(
        Output(WALL, "children"),
        Output(SCRUBBER, "min"),
        Output(SCRUBBER, "max"),
        Output(SCRUBBER, "value"),
        Output(SCRUBBER, "marks"),
        Output(SCRUBBER, "disabled"),
        Output(TIME_LABEL, "children"),
        Output(TIME_LABEL, "className"),
        Output(FOLLOW, "data"),
        Input(WALL_INTERVAL, "n_intervals"),
        Input(SCRUBBER, "value"),
        Input(PREV, "n_clicks"),
        Input(NEXT, "n_clicks"),
        Input(LIVE, "n_clicks"),
        State(FOLLOW, "data"),
        State("_pages_location", "search"),
        prevent_initial_call=True,
    )
    @requires(*HQ_ROLES)
    def refresh_wall(
        _tick: int | None,
        value: float | None,
        _prev: int | None,
        _next: int | None,
        _live: int | None,
        follow: bool | None,
        search: str | None,
    ) -> tuple[Any, ...]:
        """Live images every few seconds, or the frames of the instant the scrubber shows."""
        lang = lang_from_search(search)
        store = current().store
        timeline = _timeline(store, registered_cameras(store))
        latest = timeline[-1] if timeline else None
        trigger = ctx.triggered_id
        follow = True if follow is None else bool(follow)
        chosen = _whole_seconds(value, latest)
        if trigger == LIVE:
            follow = True
        elif trigger == SCRUBBER:
            follow = latest is None or chosen is None or chosen >= latest
        elif trigger in (PREV, NEXT) and timeline:
            base = latest if follow or chosen is None else chosen
            if trigger == PREV:
                earlier = [t for t in timeline if t < base]
                chosen, follow = (earlier[-1] if earlier else timeline[0]), False
            else:
                later = [t for t in timeline if t > base]
                chosen = later[0] if later else latest
                follow = chosen == latest  # stepping onto the newest frame is live again
        if not timeline:
            follow = True
        if follow:
            chosen = latest
        elif chosen is not None:
            chosen = min(max(chosen, timeline[0]), timeline[-1])
        cards, timeline, text, live = _wall(None if follow else chosen, lang)
        return (
            cards,
            timeline[0] if timeline else 0,
            timeline[-1] if timeline else 1,
            chosen if chosen is not None else 1,
            _marks(timeline),
            not timeline,
            text,
            "dx-camera-time" if live else "dx-camera-time dx-history",
            follow,
        )

    @app.callback(
        Output(CAMERA_LAYER_ID, "data"),
        Output(CAMERA_LAYER_ID, "hideout"),
        Input(ids.HQ_INTERVAL, "n_intervals"),
        State(CAMERA_LAYER_ID, "hideout"),
    )
    @requires(*HQ_ROLES)
    def refresh_map_cameras(_tick: int | None, hideout: dict[str, Any] | None) -> Any:
        """Fill the HQ map's camera layer; redraw only when a camera's health changed.

        A digest of what is drawn rides in ``hideout``, so the browser need not send the
        features back on every poll, and an open popup stays open while nothing changed.
        """
        hideout = dict(hideout) if isinstance(hideout, dict) else {}
        lang = lang_of(hideout.get("lang"))
        features = map_features(lang)
        digest = hashlib.sha256(
            json.dumps(features, sort_keys=True, ensure_ascii=False).encode("utf-8")
        ).hexdigest()[:16]
        if hideout.get("digest") == digest:
            return no_update, no_update
        return features, {**hideout, "lang": lang, "digest": digest}


def register_page() -> None:
    """Register ``/hq/cameras`` with Dash pages."""
    dash.register_page(
        "hq_cameras",
        path="/hq/cameras",
        name="鉄塔カメラ一覧",
        title="鉄塔カメラ一覧",
        layout=layout,
    )
