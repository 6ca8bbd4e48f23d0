"""Shelters as a map layer: state → GeoJSON features → one dash-leaflet GeoJSON component.

The features carry every label already translated, so the browser-side marker function in
``assets/dx_map.js`` only draws: a symbol and a word for the open state, crowding as a second
mark, and the name once the map is zoomed in far enough for names not to overlap
(:func:`label_zoom`). Zoomed out, nearby shelters are drawn as one cluster (dash-leaflet's
built-in supercluster) that counts its shelters per open state, each count with its symbol.
Status is never shown by colour alone, and every text is set with ``textContent`` (never HTML),
because public notes are typed by people.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import dash_leaflet as dl
import numpy as np
from dash import html

from disaster_dx.events import State
from disaster_dx.model import (
    SHELTER_KIND_ORDER,
    Crowding,
    CrowdingThresholds,
    Hazard,
    OpenState,
    Shelter,
)

#: Symbol and colour per open state (Okabe–Ito palette: safe for colour-blind readers).
OPEN_STATE_STYLE: dict[OpenState, tuple[str, str]] = {
    OpenState.OPEN: ("●", "#009E73"),
    OpenState.PERMANENT: ("◆", "#0072B2"),
    OpenState.PREPARING: ("◐", "#E69F00"),
    OpenState.NOT_OPEN: ("○", "#6b6b6b"),
    OpenState.CLOSED: ("×", "#000000"),
}
#: Symbol per crowding level; the word is always shown beside it.
CROWDING_SYMBOL: dict[Crowding, str] = {
    Crowding.AVAILABLE: "▢",
    Crowding.SOMEWHAT_CROWDED: "▤",
    Crowding.CROWDED: "▦",
    Crowding.FULL: "■",
}
#: Symbol of a crowding not reported (shown with the word 不明, and in the legend).
CROWDING_UNKNOWN_SYMBOL = "?"
_UNKNOWN = {"ja": "不明", "en": "Unknown"}

#: A named marker's size in pixels ("● 開設 ▦ 混雑" plus a name of ~8 kanji), for label_zoom.
LABEL_BOX_PX = (150.0, 34.0)
#: A marker without its name ("● 開設 ▦ 混雑"): clusters stop where these stop overlapping.
MARKER_BOX_PX = (90.0, 22.0)
#: Zooms between which labels are switched on (city zoom .. the tiles' finest zoom).
LABEL_ZOOM_RANGE = (13, 18)
#: Share of labels allowed to touch a neighbour at the chosen zoom: some sites stand a few
#: tens of metres apart (a school's gym and its ground), and those part only at street zoom.
LABEL_OVERLAP_SHARE = 0.2
#: Radius (px) within which shelters are drawn as one cluster below the label zoom.
CLUSTER_RADIUS_PX = 100


def minutes_ago(moment: datetime | None, now: datetime) -> int | None:
    """Whole minutes since ``moment`` (None when never reported)."""
    if moment is None:
        return None
    return max(0, int((now - moment).total_seconds() // 60))


def shelter_features(
    shelters: Sequence[Shelter],
    state: State,
    *,
    thresholds: CrowdingThresholds,
    now: datetime,
    lang: str = "ja",
    include_internal: bool = False,
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of shelters with their live status, labels in ``lang``.

    ``include_internal`` adds staff-only fields (internal note, reporter); public pages never
    set it.
    """
    features = []
    for shelter in shelters:
        status = state.shelter(shelter.shelter_id)
        crowding = status.crowding(thresholds, master_capacity=shelter.capacity)
        symbol, colour = OPEN_STATE_STYLE[status.open_state]
        capacity = status.capacity if status.capacity is not None else shelter.capacity
        properties: dict[str, Any] = {
            # dash-leaflet's cluster layer keeps markers between zooms by ``properties.id``.
            "id": shelter.shelter_id,
            "shelter_id": shelter.shelter_id,
            "name": shelter.name,
            "address": shelter.address,
            "kinds": "・".join(k.label(lang) for k in SHELTER_KIND_ORDER if k in shelter.kinds),
            "hazards": [h.value for h in Hazard if h in shelter.hazards],
            "hazards_label": "・".join(h.label(lang) for h in Hazard if h in shelter.hazards),
            "open_state": status.open_state.value,
            "open_state_label": status.open_state.label(lang),
            "open": status.open_state.is_open,
            "symbol": symbol,
            "colour": colour,
            "crowding": crowding.value if crowding else None,
            "crowding_label": crowding.label(lang) if crowding else _UNKNOWN[lang],
            "crowding_symbol": CROWDING_SYMBOL[crowding] if crowding else CROWDING_UNKNOWN_SYMBOL,
            "crowding_override": status.crowding_override is not None,
            "evacuees": status.evacuees,
            "capacity": capacity,
            "public_note": status.public_note,
            "minutes_ago": minutes_ago(status.reported_at, now),
            "version": status.version,
        }
        if include_internal:
            properties["internal_note"] = status.internal_note
            properties["reported_by"] = status.reported_by
        features.append(
            {
                "type": "Feature",
                "id": shelter.shelter_id,
                "geometry": {"type": "Point", "coordinates": [shelter.lon, shelter.lat]},
                "properties": properties,
            }
        )
    return {"type": "FeatureCollection", "features": features}


def label_zoom(features: dict[str, Any], *, box: tuple[float, float] = LABEL_BOX_PX) -> int:
    """The first zoom at which labels of ``box`` pixels no longer overlap (but a few close pairs).

    With :data:`LABEL_BOX_PX` it is where names are drawn; with :data:`MARKER_BOX_PX` where
    clusters stop, so a zoomed-out map shows counts instead of a blob of overlapping pills.
    Computed from the shelters' positions, so another city's spread gets its own zooms.
    """
    points = [f["geometry"]["coordinates"] for f in features.get("features", [])]
    low, high = LABEL_ZOOM_RANGE
    if len(points) < 2:
        return low
    lon = np.radians(np.array([p[0] for p in points], dtype=float))
    lat = np.radians(np.array([p[1] for p in points], dtype=float))
    # Web Mercator pixels at zoom 0 (256 px for the whole world).
    x = 256 * (lon + np.pi) / (2 * np.pi)
    y = 256 * (np.pi - np.log(np.tan(np.pi / 4 + lat / 2))) / (2 * np.pi)
    dx = np.abs(x[:, None] - x[None, :])
    dy = np.abs(y[:, None] - y[None, :])
    np.fill_diagonal(dx, np.inf)
    width, height = box
    for zoom in range(low, high + 1):
        scale = 2.0**zoom
        touching = ((dx * scale < width) & (dy * scale < height)).any(axis=1)
        if touching.mean() <= LABEL_OVERLAP_SHARE:
            return zoom
    return high


def state_words(lang: str) -> list[dict[str, str]]:
    """Each open state's code, symbol, colour and word, for the browser's cluster counts."""
    return [
        {"state": state.value, "symbol": symbol, "colour": colour, "label": state.label(lang)}
        for state, (symbol, colour) in OPEN_STATE_STYLE.items()
    ]


def shelter_layer(
    features: dict[str, Any],
    *,
    component_id: str,
    lang: str = "ja",
    hazard: Hazard | None = None,
    cluster: bool = True,
) -> dl.GeoJSON:
    """The shelters layer; the marker and cluster look lives in ``assets/dx_map.js``.

    Clustered until markers stop overlapping (a click on a cluster zooms into it), then every
    shelter is its own marker, with its name from :func:`label_zoom` on. ``cluster=False``
    draws every shelter's marker at every zoom (names still only from the label zoom).
    """
    zoom = label_zoom(features)
    separate = min(label_zoom(features, box=MARKER_BOX_PX), zoom)
    return dl.GeoJSON(
        id=component_id,
        data=features,
        pointToLayer={"variable": "dx.map.shelterMarker"},
        onEachFeature={"variable": "dx.map.shelterTooltip"},
        filter={"variable": "dx.map.shelterFilter"},
        cluster=cluster,
        clusterToLayer={"variable": "dx.map.shelterCluster"},
        zoomToBoundsOnClick=True,
        superClusterOptions={"radius": CLUSTER_RADIUS_PX, "maxZoom": separate - 1},
        hideout={
            "lang": lang,
            "hazard": hazard.value if hazard else None,
            "selected": None,
            "labelZoom": zoom,
            "states": state_words(lang),
            "clusterHint": "Click to zoom in" if lang == "en" else "クリックで拡大",
        },
    )


def status_legend(*, lang: str = "ja") -> html.Div:
    """The legend in words: every symbol with its meaning (status is never colour alone)."""
    title_state, title_crowding = (
        ("開設状況", "混雑状況") if lang != "en" else ("Open state", "Crowding")
    )
    state_items = [
        html.Li(
            [
                html.Span(symbol, className="dx-symbol", style={"color": colour}),
                html.Span(state.label(lang)),
            ],
        )
        for state, (symbol, colour) in OPEN_STATE_STYLE.items()
    ]
    crowding_items = [
        html.Li([html.Span(symbol, className="dx-symbol"), html.Span(level.label(lang))])
        for level, symbol in CROWDING_SYMBOL.items()
    ] + [
        html.Li(
            [
                html.Span(CROWDING_UNKNOWN_SYMBOL, className="dx-symbol"),
                html.Span(
                    "Unknown (not reported yet)" if lang == "en" else "不明（まだ報告がない）"
                ),
            ]
        )
    ]
    cluster_item = html.Li(
        [
            html.Span("●3 ○12", className="dx-legend-cluster"),
            html.Span(
                "Nearby shelters counted by open state (click to zoom in)"
                if lang == "en"
                else "近くの避難所の数を開設状況ごとに表示（クリックで拡大）"
            ),
        ]
    )
    return html.Div(
        [
            html.H2(title_state, className="dx-legend-title"),
            html.Ul(state_items, className="dx-legend-list"),
            html.H2(title_crowding, className="dx-legend-title"),
            html.Ul(crowding_items, className="dx-legend-list"),
            html.H2("Groups" if lang == "en" else "まとめ表示", className="dx-legend-title"),
            html.Ul([cluster_item], className="dx-legend-list"),
        ],
        className="dx-legend",
        role="group",
        **{"aria-label": "凡例" if lang != "en" else "Legend"},
    )
