"""Tower cameras as a map layer: an icon and a view cone per camera, coloured *and* labelled.

Each camera becomes two GeoJSON features — the cone (what it sees, from heading, field of view
and range, built in EPSG:6672 by :func:`disaster_dx.cameras.camera_cone`) and the tower icon —
with every label already translated. ``assets/dx_cameras.js`` only draws them: the cone's
colour *and* line pattern say the health, the icon carries the health in words (正常 / 映像が静止 /
遅延 / 停止 / 未確認), and clicking either opens a popup that fetches the newest frame and its age
from ``/cameras/<id>/status.json`` while it is open. Keeping the fast-changing parts (frame,
age) out of the layer's data means the layer is redrawn only when a camera's health changes,
so an open popup is not closed by every refresh.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import dash_leaflet as dl
from dash import html
from shapely.geometry import mapping

from disaster_dx._time import to_jst
from disaster_dx.cameras import (
    Camera,
    CameraStatus,
    FeedErrorKind,
    Health,
    camera_cone,
    health_of,
)
from disaster_dx.cameras.scripted import ScriptedCamera

#: Component id of the camera layer on the HQ map (``hq-`` so the staff guard covers it).
CAMERA_LAYER_ID = "hq-cameras"

#: Symbol, colour (Okabe–Ito, colour-blind safe) and cone line pattern per health.
HEALTH_STYLE: dict[Health, tuple[str, str, str]] = {
    Health.ONLINE: ("●", "#009E73", ""),
    Health.FROZEN: ("■", "#CC79A7", "2 4 8 4"),
    Health.STALE: ("▲", "#E69F00", "10 6"),
    Health.OFFLINE: ("×", "#D55E00", "3 6"),
    Health.UNKNOWN: ("？", "#6b6b6b", "1 6"),
}

_COMPASS_JA = (
    "北",
    "北北東",
    "北東",
    "東北東",
    "東",
    "東南東",
    "南東",
    "南南東",
    "南",
    "南南西",
    "南西",
    "西南西",
    "西",
    "西北西",
    "北西",
    "北北西",
)
_COMPASS_EN = (
    "N",
    "NNE",
    "NE",
    "ENE",
    "E",
    "ESE",
    "SE",
    "SSE",
    "S",
    "SSW",
    "SW",
    "WSW",
    "W",
    "WNW",
    "NW",
    "NNW",
)


def direction_label(heading_deg: float, lang: str = "ja") -> str:
    """``南南東 165°`` — the 16-point compass word and the bearing."""
    names = _COMPASS_EN if lang == "en" else _COMPASS_JA
    return f"{names[round(heading_deg / 22.5) % 16]} {heading_deg:.0f}°"


def view_label(camera: Camera, lang: str = "ja") -> str:
    """Direction, field of view and range in one line of words."""
    reach = (
        f"{camera.range_m / 1000:.1f} km" if camera.range_m >= 1000 else f"{camera.range_m:.0f} m"
    )
    if lang == "en":
        return (
            f"Facing {direction_label(camera.heading_deg, lang)} · "
            f"view {camera.fov_deg:.0f}° · range {reach}"
        )
    direction = direction_label(camera.heading_deg, lang)
    return f"向き {direction}・画角 {camera.fov_deg:.0f}°・範囲 {reach}"


def public_label(camera: Camera, lang: str = "ja") -> str:
    """Whether the image may be shown publicly, in words."""
    if lang == "en":
        return "Public image" if camera.public else "HQ only"
    return "公開画像" if camera.public else "本部のみ"


def error_label(status: CameraStatus | None, lang: str = "ja") -> str:
    """Why the camera is not well, in plain words for staff (no technical detail), or ``""``.

    The technical detail (status codes, bytes, exception names) stays in the server log.
    """
    if status is None:
        return ""
    en = lang == "en"
    if status.condition == "frozen" and status.failures == 0:
        since = f"{to_jst(status.same_since):%H:%M}" if status.same_since else ""
        if en:
            return f"The same picture {status.same_count} times in a row" + (
                f" (since {since})" if since else ""
            )
        return f"同じ画像が{status.same_count}回続いています" + (
            f"（{since}から）" if since else ""
        )
    if status.failures == 0 or status.last_error_kind is None:
        return ""
    kind = status.last_error_kind
    label = kind.label(lang) if isinstance(kind, FeedErrorKind) else str(kind)
    return f"{'Last error' if en else '直近のエラー'}: {label}"


def scripted_health(
    health: Health, scripted: ScriptedCamera | None, lang: str = "ja"
) -> tuple[Health, str]:
    """A camera's health and its words, as a drill's script shows them.

    A scripted outage is 停止 whatever the real camera does; a scripted picture counts as a
    working camera. Both say 訓練 in the label, so no one takes them for the real thing.
    """
    if scripted is None:
        return health, health.label(lang)
    en = lang == "en"
    if scripted.action == "offline":
        return Health.OFFLINE, Health.OFFLINE.label(lang) + (" (drill)" if en else "（訓練）")
    return Health.ONLINE, "Drill picture" if en else "訓練用画像"


def camera_features(
    cameras: Sequence[Camera],
    statuses: Mapping[str, CameraStatus],
    *,
    now: datetime,
    lang: str = "ja",
    stale_factor: float = 3.0,
    offline_factor: float = 10.0,
    include_errors: bool = True,
    scripted: Mapping[str, ScriptedCamera] | None = None,
) -> dict[str, Any]:
    """A FeatureCollection with a cone (Polygon) and an icon (Point) per camera.

    Properties carry translated labels and the same-origin URLs the popup fetches; no feed
    address ever appears here. ``include_errors`` adds the last error (HQ maps only).
    ``scripted`` (during a drill) shows the script's outages and pictures instead.
    """
    features: list[dict[str, Any]] = []
    for camera in cameras:
        status = statuses.get(camera.camera_id)
        health, health_label = scripted_health(
            health_of(
                camera, status, now, stale_factor=stale_factor, offline_factor=offline_factor
            ),
            (scripted or {}).get(camera.camera_id),
            lang,
        )
        symbol, colour, dash = HEALTH_STYLE[health]
        properties: dict[str, Any] = {
            "camera_id": camera.camera_id,
            "name": camera.name(lang),
            "health": health.value,
            "health_label": health_label,
            "symbol": symbol,
            "colour": colour,
            "dash": dash,
            "view_label": view_label(camera, lang),
            "public_label": public_label(camera, lang),
            "status_url": f"/cameras/{camera.camera_id}/status.json?lang={lang}",
            "wall_url": "/hq/cameras" + ("?lang=en" if lang == "en" else ""),
            "lang": lang,
        }
        if include_errors:
            properties["error_label"] = error_label(status, lang)
        features.append(
            {
                "type": "Feature",
                "id": f"{camera.camera_id}-cone",
                "geometry": mapping(camera_cone(camera)),
                "properties": {**properties, "part": "cone"},
            }
        )
        features.append(
            {
                "type": "Feature",
                "id": camera.camera_id,
                "geometry": {"type": "Point", "coordinates": [camera.lon, camera.lat]},
                "properties": {**properties, "part": "tower"},
            }
        )
    return _plain({"type": "FeatureCollection", "features": features})


def _plain(value: Any) -> Any:
    """Tuples (shapely's coordinates) as lists, so the data compares equal to its JSON echo."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def camera_layer(
    features: dict[str, Any] | None = None,
    *,
    component_id: str = CAMERA_LAYER_ID,
    lang: str = "ja",
) -> dl.GeoJSON:
    """The camera layer; drawing lives in ``assets/dx_cameras.js`` (``dx.cameras``)."""
    return dl.GeoJSON(
        id=component_id,
        data=features or {"type": "FeatureCollection", "features": []},
        pointToLayer={"variable": "dx.cameras.tower"},
        style={"variable": "dx.cameras.cone"},
        onEachFeature={"variable": "dx.cameras.bind"},
        hideout={"lang": lang},
    )


def camera_overlay(
    lang: str = "ja", *, features: dict[str, Any] | None = None, checked: bool = True
) -> dl.Overlay:
    """The camera layer as a switchable overlay for a map's ``dl.LayersControl``.

    The HQ map adds it empty; a callback registered by ``disaster_dx.web.cameras_web`` fills
    it on page load and whenever a camera's health changes.
    """
    name = "Tower cameras" if lang == "en" else "鉄塔カメラ"
    return dl.Overlay(
        camera_layer(features, lang=lang), name=name, checked=checked, id="hq-cameras-overlay"
    )


def camera_legend(*, lang: str = "ja") -> html.Div:
    """The legend in words: each health symbol, pattern and meaning (never colour alone)."""
    meaning = {
        Health.ONLINE: ("新しい画像が届いています", "frames arriving"),
        Health.FROZEN: (
            "同じ画像が続いています（カメラの故障の疑い）",
            "the same picture again and again",
        ),
        Health.STALE: ("画像が遅れています", "frames late"),
        Health.OFFLINE: ("長く画像が届いていません", "no frames for a long time"),
        Health.UNKNOWN: ("まだ画像を受信していません", "no frame received yet"),
    }
    items = [
        html.Li(
            [
                html.Span(symbol, className="dx-symbol", style={"color": colour}),
                html.Span(f"{health.label(lang)} — {meaning[health][1 if lang == 'en' else 0]}"),
            ]
        )
        for health, (symbol, colour, _dash) in HEALTH_STYLE.items()
    ]
    title = "Camera health" if lang == "en" else "カメラの状態"
    return html.Div(
        [html.H2(title, className="dx-legend-title"), html.Ul(items, className="dx-legend-list")],
        className="dx-legend dx-camera-legend",
        role="group",
        **{"aria-label": title},
    )
