"""One camera, large (``/hq/cameras/<id>``): what HQ opens from the wall or the map.

The picture fills the page; below it the last hour is a strip of thumbnails with a slider
over every stored frame of that hour, so staff can scrub back to the moment water crossed the
road. Each frame can be saved with its capture time (JST) in the file name, for reports and
for the after-action review. Pictures come from the frame store through this app, as on the
wall (never from the camera), and the page is HQ-only.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import dash
from dash import ALL, Dash, Input, Output, State, ctx, dcc, html, no_update

from disaster_dx._time import to_jst
from disaster_dx.auth import Role
from disaster_dx.cameras import Camera, FrameRecord, camera_statuses, registered_cameras
from disaster_dx.cameras.frames import CAMERA_ID, frames_between
from disaster_dx.web.camera_app import camera_health, camera_web
from disaster_dx.web.context import current
from disaster_dx.web.i18n import lang_of
from disaster_dx.web.security import page_user, requires
from disaster_dx.web.staff import refusal, staff_header
from layers.cameras import HEALTH_STYLE, error_label, view_label

HQ_ROLES = (Role.HQ,)
#: How far back the strip reaches.
HISTORY = timedelta(hours=1)
#: Thumbnails in the strip at most (evenly spaced over the hour); the slider reaches every frame.
MAX_THUMBS = 30
REFRESH_MS = 10_000

IMAGE = "hq-camera-view-img"
CAPTION = "hq-camera-view-caption"
SLIDER = "hq-camera-view-slider"
STRIP = "hq-camera-view-strip"
THUMB = "hq-camera-view-thumb"
DOWNLOAD = "hq-camera-view-download"
FRAMES = "hq-camera-view-frames"
CAMERA = "hq-camera-view-camera"
INTERVAL = "hq-camera-view-interval"
LATEST = "hq-camera-view-latest"


def download_name(frame: FrameRecord) -> str:
    """``coast_2025-09-01_120005JST.jpg``: the camera and the capture time, safe in any OS."""
    local = to_jst(frame.captured_at)
    return f"{frame.camera_id}_{local:%Y-%m-%d_%H%M%S}JST.jpg"


def frame_url(frame: FrameRecord, *, download: bool = False) -> str:
    """The app's address of a stored frame (``?download=1`` asks for a file to save)."""
    url = f"/cameras/{frame.camera_id}/frames/{frame.key}.jpg"
    return url + "?download=1" if download else url


def _hour(camera_id: str) -> list[FrameRecord]:
    store = current().store
    now = current().now()
    return frames_between(store, camera_id, now - HISTORY, now)


def _caption(frame: FrameRecord | None, index: int, total: int, lang: str) -> str:
    en = lang == "en"
    if frame is None:
        return "No picture in the last hour" if en else "この1時間の画像はありません"
    local = to_jst(frame.captured_at)
    position = f"{index + 1}/{total}"
    if en:
        return f"Taken {local:%Y-%m-%d %H:%M:%S} JST ({position} in the last hour)"
    return f"撮影 {local:%Y年%m月%d日 %H:%M:%S}（この1時間の {position} 枚目）"


def _thumb_indices(total: int) -> list[int]:
    if total <= MAX_THUMBS:
        return list(range(total))
    step = (total - 1) / (MAX_THUMBS - 1)
    return sorted({round(i * step) for i in range(MAX_THUMBS)})


def _strip(frames: list[FrameRecord], chosen: int, lang: str) -> list[Any]:
    en = lang == "en"
    items = []
    for index in _thumb_indices(len(frames)):
        frame = frames[index]
        local = f"{to_jst(frame.captured_at):%H:%M:%S}"
        items.append(
            html.Button(
                [
                    html.Img(src=frame_url(frame), alt=local, className="dx-camera-thumb-img"),
                    html.Span(local, className="dx-camera-thumb-time"),
                ],
                id={"type": THUMB, "index": index},
                type="button",
                className="dx-camera-thumb" + (" dx-selected" if index == chosen else ""),
                title=("Show " if en else "表示: ") + local,
                **{"aria-pressed": "true" if index == chosen else "false"},
            )
        )
    return items


def _marks(frames: list[FrameRecord]) -> dict[int, str]:
    if not frames:
        return {}
    last = len(frames) - 1
    return {
        0: f"{to_jst(frames[0].captured_at):%H:%M}",
        last: f"{to_jst(frames[-1].captured_at):%H:%M}",
    }


def _view(camera: Camera, frames: list[FrameRecord], chosen: int, lang: str) -> dict[str, Any]:
    """Everything that changes with the chosen frame."""
    frame = frames[chosen] if frames else None
    return {
        "src": frame_url(frame) if frame else "",
        "caption": _caption(frame, chosen, len(frames), lang),
        "href": frame_url(frame, download=True) if frame else "",
        "download": download_name(frame) if frame else "",
        "alt": f"{camera.name(lang)} {_caption(frame, chosen, len(frames), lang)}",
    }


def layout(camera_id: str = "", lang: str | None = None, **_query: Any) -> html.Div:
    """The large view of one camera for HQ; everyone else gets the refusal page."""
    lang = lang_of(lang)
    user = page_user(*HQ_ROLES)
    if user is None:
        return refusal(lang=lang)
    en = lang == "en"
    store = current().store
    camera = (
        next((c for c in registered_cameras(store) if c.camera_id == camera_id), None)
        if CAMERA_ID.match(camera_id or "")
        else None
    )
    back = dcc.Link(
        "← Back to all cameras" if en else "← カメラ一覧へ戻る",
        href="/hq/cameras" + ("?lang=en" if en else ""),
        className="dx-back-link",
    )
    if camera is None:
        return html.Div(
            [
                staff_header(user, lang=lang, title_ja="鉄塔カメラ", title_en="Tower camera"),
                html.Main(
                    [html.P("No such camera." if en else "該当するカメラはありません。"), back]
                ),
            ],
            lang=lang,
        )
    frames = _hour(camera.camera_id)
    chosen = len(frames) - 1
    shown = _view(camera, frames, chosen, lang)
    status = camera_statuses(store).get(camera.camera_id)
    health = camera_health(camera, status, current().now(), camera_web().settings)
    symbol, colour, _dash = HEALTH_STYLE[health]
    reason = error_label(status, lang)
    return html.Div(
        [
            staff_header(user, lang=lang, title_ja=camera.name("ja"), title_en=camera.name("en")),
            html.Main(
                [
                    back,
                    html.P(
                        [
                            html.Span(
                                symbol, className="dx-camera-symbol", style={"color": colour}
                            ),
                            html.Span(
                                ("Now: " if en else "現在の状態：") + health.label(lang),
                                className="dx-camera-health-label",
                            ),
                            html.Span(f"　{reason}", className="dx-camera-error")
                            if reason
                            else None,
                        ],
                        className=f"dx-camera-health dx-health-{health.value}",
                    ),
                    html.Figure(
                        [
                            html.Img(
                                id=IMAGE,
                                src=shown["src"],
                                alt=shown["alt"],
                                className="dx-camera-large",
                            ),
                            html.Figcaption(
                                shown["caption"],
                                id=CAPTION,
                                role="status",
                                **{"aria-live": "polite"},
                            ),
                        ],
                        className="dx-camera-large-figure",
                    ),
                    html.Div(
                        [
                            html.A(
                                "この画像を保存（撮影時刻付きのファイル名）"
                                if not en
                                else "Save this picture (file named with its time)",
                                id=DOWNLOAD,
                                href=shown["href"],
                                download=shown["download"],
                                className="dx-button",
                            ),
                            html.Button(
                                "最新の画像へ" if not en else "Newest picture",
                                id=LATEST,
                                type="button",
                            ),
                        ],
                        className="dx-camera-view-actions",
                    ),
                    html.Section(
                        [
                            html.H2("この1時間の記録" if not en else "The last hour"),
                            dcc.Slider(
                                id=SLIDER,
                                min=0,
                                max=max(0, len(frames) - 1),
                                step=1,
                                value=max(0, chosen),
                                marks=_marks(frames),
                                disabled=len(frames) < 2,
                                updatemode="drag",
                                included=False,
                                allow_direct_input=False,
                            ),
                            html.Div(
                                _strip(frames, chosen, lang), id=STRIP, className="dx-camera-strip"
                            ),
                        ],
                        className="dx-camera-history",
                        **{"aria-label": "この1時間の記録" if not en else "The last hour"},
                    ),
                    html.P(
                        view_label(camera, lang),
                        className="dx-camera-meta",
                    ),
                ]
            ),
            dcc.Store(id=CAMERA, data={"camera_id": camera.camera_id, "lang": lang}),
            dcc.Store(id=FRAMES, data=[f.key for f in frames]),
            dcc.Interval(id=INTERVAL, interval=REFRESH_MS),
        ],
        lang=lang,
        className="dx-camera-page dx-camera-view-page",
    )


def register(app: Dash) -> None:
    """The large view's one callback: pick a frame (slider, thumbnail, newest) or refresh."""

    @app.callback(
        Output(IMAGE, "src"),
        Output(IMAGE, "alt"),
        Output(CAPTION, "children"),
        Output(DOWNLOAD, "href"),
        Output(DOWNLOAD, "download"),
        Output(SLIDER, "max"),
        Output(SLIDER, "value"),
        Output(SLIDER, "marks"),
        Output(SLIDER, "disabled"),
        Output(STRIP, "children"),
        Output(FRAMES, "data"),
        Input(SLIDER, "value"),
        Input({"type": THUMB, "index": ALL}, "n_clicks"),
        Input(LATEST, "n_clicks"),
        Input(INTERVAL, "n_intervals"),
        State(FRAMES, "data"),
        State(CAMERA, "data"),
        prevent_initial_call=True,
    )
    @requires(*HQ_ROLES)
    def choose(
        value: Any,
        _thumbs: list[int | None],
        _latest: int | None,
        _tick: int | None,
        keys: list[str] | None,
        page: dict[str, Any] | None,
    ) -> tuple[Any, ...]:
        """Show the chosen frame; on the newest one, keep following new frames."""
        page = page if isinstance(page, dict) else {}
        camera_id = str(page.get("camera_id") or "")
        lang = lang_of(page.get("lang"))
        camera = (
            next(
                (c for c in registered_cameras(current().store) if c.camera_id == camera_id),
                None,
            )
            if CAMERA_ID.match(camera_id)
            else None
        )
        if camera is None:
            return (no_update,) * 11
        frames = _hour(camera_id)
        old = keys if isinstance(keys, list) else []
        at_newest = isinstance(value, int) and value >= len(old) - 1
        trigger = ctx.triggered_id
        if isinstance(trigger, dict) and trigger.get("type") == THUMB:
            wanted = trigger.get("index")
            key = old[wanted] if isinstance(wanted, int) and 0 <= wanted < len(old) else None
        elif trigger == SLIDER and isinstance(value, int) and 0 <= value < len(old):
            key = old[value]
        elif (
            trigger == INTERVAL
            and not at_newest
            and isinstance(value, int)
            and 0 <= value < len(old)
        ):
            key = old[value]  # looking at the past: stay on that frame
        else:
            key = None  # the newest
        if trigger == INTERVAL and at_newest and [f.key for f in frames] == old:
            return (no_update,) * 11
        positions = {f.key: i for i, f in enumerate(frames)}
        chosen = positions.get(key, len(frames) - 1) if key else len(frames) - 1
        chosen = max(chosen, 0)
        shown = _view(camera, frames, chosen, lang)
        return (
            shown["src"],
            shown["alt"],
            shown["caption"],
            shown["href"],
            shown["download"],
            max(0, len(frames) - 1),
            chosen,
            _marks(frames),
            len(frames) < 2,
            _strip(frames, chosen, lang),
            [f.key for f in frames],
        )


def register_page() -> None:
    """Register ``/hq/cameras/<camera_id>`` with Dash pages."""
    dash.register_page(
        "hq_camera_view",
        path_template="/hq/cameras/<camera_id>",
        name="鉄塔カメラ",
        title="鉄塔カメラ",
        layout=layout,
    )
