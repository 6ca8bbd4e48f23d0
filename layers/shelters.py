"""Shelters as a map layer: state → GeoJSON features → one dash-leaflet GeoJSON component.

The features carry every label already translated, so the browser-side marker function in
``assets/dx_map.js`` only draws: a symbol and a word for the open state, and a word for crowding.
Status is never shown by colour alone, and every text is set with ``textContent`` (never HTML),
because public notes are typed by people.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import dash_leaflet as dl
from dash import html

from disaster_dx.events import State
from disaster_dx.model import (
    Crowding,
    CrowdingThresholds,
    Hazard,
    OpenState,
    Shelter,
    ShelterKind,
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
_KIND_ORDER = (ShelterKind.DESIGNATED, ShelterKind.EMERGENCY, ShelterKind.WELFARE)
_UNKNOWN = {"ja": "不明", "en": "Unknown"}


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
            "shelter_id": shelter.shelter_id,
            "name": shelter.name,
            "address": shelter.address,
            "kinds": "・".join(k.label(lang) for k in _KIND_ORDER if k in shelter.kinds),
            "hazards": [h.value for h in Hazard if h in shelter.hazards],
            "hazards_label": "・".join(h.label(lang) for h in Hazard if h in shelter.hazards),
            "open_state": status.open_state.value,
            "open_state_label": status.open_state.label(lang),
            "open": status.open_state.is_open,
            "symbol": symbol,
            "colour": colour,
            "crowding": crowding.value if crowding else None,
            "crowding_label": crowding.label(lang) if crowding else _UNKNOWN[lang],
            "crowding_symbol": CROWDING_SYMBOL[crowding] if crowding else "?",
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


def shelter_layer(
    features: dict[str, Any], *, component_id: str, lang: str = "ja", hazard: Hazard | None = None
) -> dl.GeoJSON:
    """The shelters layer; the marker look lives in ``assets/dx_map.js`` (``dx.map``)."""
    return dl.GeoJSON(
        id=component_id,
        data=features,
        pointToLayer={"variable": "dx.map.shelterMarker"},
        onEachFeature={"variable": "dx.map.shelterTooltip"},
        filter={"variable": "dx.map.shelterFilter"},
        hideout={"lang": lang, "hazard": hazard.value if hazard else None, "selected": None},
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
    ]
    return html.Div(
        [
            html.H2(title_state, className="dx-legend-title"),
            html.Ul(state_items, className="dx-legend-list"),
            html.H2(title_crowding, className="dx-legend-title"),
            html.Ul(crowding_items, className="dx-legend-list"),
        ],
        className="dx-legend",
        role="group",
        **{"aria-label": "凡例" if lang != "en" else "Legend"},
    )
