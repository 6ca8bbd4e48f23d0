"""Evacuation plans as map layers: residents, routes, building risk, HQ's flagged list, sheets.

Pure functions from plan data to dash-leaflet components (the ``/plans`` page and HQ) or to a
folium map page (the printable sheet). Statuses are never colour alone: every marker carries
its symbol (○ △ ✕ ◇ ？), building classes differ in outline (thick solid, dashed, thin) as well
as fill, and the legend says each in words.

Privacy: these layers show resident **ids**, never names (a map is read over shoulders and
ends up in screenshots). :func:`flagged_overlay` is what HQ sees: positions and ids of
residents who cannot reach safety in time, nothing else.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import dash_leaflet as dl
import numpy as np
import shapely
from dash import html as dhtml

from disaster_dx.plans import (
    FlaggedResident,
    Plan,
    PlanSet,
    PlanStatus,
    VerticalJudgement,
)

#: Buildings are drawn only from this zoom level: below it they merge into noise.
BUILDING_MIN_ZOOM = 16
#: At most this many buildings are sent to the browser at once (the visible area).
MAX_BUILDINGS = 4000

#: Marker look per status: symbol, colour (Okabe–Ito), and the word beside it in the legend.
STATUS_STYLE: dict[PlanStatus, tuple[str, str]] = {
    PlanStatus.REACHABLE: ("○", "#009E73"),
    PlanStatus.VERTICAL: ("△", "#E69F00"),
    PlanStatus.LATE: ("✕", "#D55E00"),
    PlanStatus.OUTSIDE: ("◇", "#0072B2"),
    PlanStatus.CHECK: ("？", "#555555"),
}
#: Building outline and fill per vertical answer; outside-the-area buildings are faint.
BUILDING_STYLE: dict[str, dict[str, Any]] = {
    "not_safe": {
        "color": "#000000",
        "weight": 2.5,
        "fillColor": "#D55E00",
        "fillOpacity": 0.55,
    },
    "unknown": {
        "color": "#333333",
        "weight": 1.5,
        "dashArray": "4 3",
        "fillColor": "#F0E442",
        "fillOpacity": 0.5,
    },
    "safe": {"color": "#0072B2", "weight": 1, "fillColor": "#56B4E9", "fillOpacity": 0.35},
    "outside": {"color": "#777777", "weight": 0.5, "fillColor": "#cccccc", "fillOpacity": 0.15},
}
_BUILDING_WORDS = {
    "not_safe": ("上階避難不可（太い実線）", "Not a safe refuge (thick line)"),
    "unknown": ("判定不能・要確認（破線）", "Unknown, check (dashed)"),
    "safe": ("上階避難可（細線）", "Safe upper floor (thin line)"),
    "outside": ("浸水想定区域外（薄い）", "Outside the hazard area (faint)"),
}


def _marker_html(symbol: str, colour: str, *, large: bool = False) -> str:
    size = 20 if large else 16
    # Only our own symbols go into this HTML; ids and names go into Tooltip text instead.
    return (
        f'<span style="display:inline-block;width:{size}px;height:{size}px;'
        f"line-height:{size}px;text-align:center;font-weight:700;font-size:{size - 3}px;"
        f"background:#fff;color:{colour};border:2px solid {colour};border-radius:50%;"
        f'box-shadow:0 1px 2px #0006">{html.escape(symbol)}</span>'
    )


def resident_markers(plans: PlanSet, *, selected: str | None = None) -> list[dl.DivMarker]:
    """One marker per located resident: status symbol, tooltip with id and status."""
    markers = []
    for i in range(len(plans)):
        lon, lat = plans.residents.lon[i], plans.residents.lat[i]
        if np.isnan(lon) or np.isnan(lat):
            continue
        status = plans.status_of(i)
        symbol, colour = STATUS_STYLE[status]
        rid = str(plans.resident_ids[i])
        markers.append(
            dl.DivMarker(
                position=[float(lat), float(lon)],
                iconOptions={
                    "html": _marker_html(symbol, colour, large=rid == selected),
                    "className": "plans-marker",
                    "iconSize": [20, 20],
                    "iconAnchor": [10, 10],
                },
                children=dl.Tooltip(f"{rid}：{status.symbol} {status.ja}"),
                zIndexOffset=1000 if rid == selected else 0,
            )
        )
    return markers


def route_features(plans: PlanSet) -> dict[str, Any]:
    """Every routed resident's route as GeoJSON lines (ids only)."""
    features = []
    for i in range(len(plans)):
        points = plans.route_lonlat(i)
        if len(points) < 2:
            continue
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "resident_id": str(plans.resident_ids[i]),
                    "status": plans.status_of(i).value,
                },
                "geometry": {"type": "LineString", "coordinates": [list(p) for p in points]},
            }
        )
    return {"type": "FeatureCollection", "features": features}


def route_layer(features: dict[str, Any], *, component_id: str) -> dl.GeoJSON:
    """All routes, thin and dark, under the markers."""
    return dl.GeoJSON(
        id=component_id,
        data=features,
        style={"color": "#333333", "weight": 2, "opacity": 0.55},
        interactive=False,
    )


def selected_route(plan: Plan | None, *, component_id: str) -> dl.Polyline:
    """The chosen resident's route, bold with a white casing so it reads on any basemap."""
    positions = [[lat, lon] for lon, lat in plan.route] if plan and plan.route else []
    return dl.Polyline(
        id=component_id,
        positions=positions,
        color="#000000",
        weight=6,
        opacity=0.9,
    )


def building_features(
    buildings: Any,
    vertical: VerticalJudgement,
    *,
    bounds: Sequence[Sequence[float]] | None,
    limit: int = MAX_BUILDINGS,
) -> dict[str, dict[str, Any]]:
    """Buildings in ``bounds`` (``[[south, west], [north, east]]``) as GeoJSON per class."""
    out: dict[str, dict[str, Any]] = {
        key: {"type": "FeatureCollection", "features": []} for key in BUILDING_STYLE
    }
    if buildings is None or len(buildings) == 0:
        return out
    lon = buildings["lon"].to_numpy(dtype=float)
    lat = buildings["lat"].to_numpy(dtype=float)
    inside = np.ones(len(buildings), dtype=bool)
    if bounds:
        (south, west), (north, east) = bounds
        inside = (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
    index = np.flatnonzero(inside)[:limit]
    geoms = np.asarray(buildings.geometry.array, dtype=object)[index]
    has = ~shapely.is_missing(geoms)
    index, geoms = index[has], geoms[has]
    geojson = shapely.to_geojson(geoms) if geoms.size else []
    ids = buildings["building_id"].to_numpy(dtype=str)
    import json

    for k, i in enumerate(index.tolist()):
        answer = vertical.vertical(i)
        reason = vertical.reason_of(i)
        key = "outside" if reason.value == "outside" else answer.value
        out[key]["features"].append(
            {
                "type": "Feature",
                "properties": {
                    "building_id": ids[i],
                    "vertical": answer.value,
                    "label": f"{answer.symbol} {answer.ja}：{reason.ja}",
                },
                "geometry": json.loads(geojson[k]),
            }
        )
    return out


def building_layers(
    features: dict[str, dict[str, Any]] | None, *, id_prefix: str
) -> list[dl.GeoJSON]:
    """One GeoJSON layer per building class, each with its own static style."""
    features = features or {}
    return [
        dl.GeoJSON(
            id=f"{id_prefix}-{key}",
            data=features.get(key, {"type": "FeatureCollection", "features": []}),
            style=style,
        )
        for key, style in BUILDING_STYLE.items()
    ]


def plans_legend(*, lang: str = "ja") -> dhtml.Div:
    """The legend in words: status symbols and building classes."""
    en = lang == "en"
    statuses = [
        dhtml.Li(
            [
                dhtml.Span(symbol, className="dx-symbol", style={"color": colour}),
                dhtml.Span(status.value if en else status.ja),
            ]
        )
        for status, (symbol, colour) in STATUS_STYLE.items()
    ]
    buildings = [
        dhtml.Li(
            [
                dhtml.Span(
                    className="dx-swatch",
                    style={
                        "display": "inline-block",
                        "width": "1.4em",
                        "height": "0.9em",
                        "background": style["fillColor"],
                        "border": f"{max(1, round(style['weight']))}px "
                        f"{'dashed' if 'dashArray' in style else 'solid'} {style['color']}",
                    },
                ),
                dhtml.Span(_BUILDING_WORDS[key][1 if en else 0]),
            ]
        )
        for key, style in BUILDING_STYLE.items()
    ]
    zoom_note = (
        f"Buildings appear from zoom {BUILDING_MIN_ZOOM}."
        if en
        else f"建物は拡大（ズーム{BUILDING_MIN_ZOOM}以上）すると表示されます。"
    )
    return dhtml.Div(
        [
            dhtml.H2("判定" if not en else "Status", className="dx-legend-title"),
            dhtml.Ul(statuses, className="dx-legend-list"),
            dhtml.H2("建物（上階避難）" if not en else "Buildings", className="dx-legend-title"),
            dhtml.Ul(buildings, className="dx-legend-list"),
            dhtml.P(zoom_note, className="dx-credit"),
        ],
        className="dx-legend",
        role="group",
        **{"aria-label": "凡例" if not en else "Legend"},
    )


# -- HQ -------------------------------------------------------------------------------------------


#: HQ's mark for a resident who cannot reach safety in time: a person (head and shoulders) in
#: a ring, so it cannot be read as a shelter's 閉鎖 ×, which shares HQ's map.
PERSON_MARK_HTML = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="22" height="22" viewBox="0 0 22 22" '
    'aria-hidden="true"><circle cx="11" cy="11" r="10" fill="#fff" stroke="#D55E00" '
    'stroke-width="2"/><circle cx="11" cy="8" r="3.2" fill="#D55E00"/>'
    '<path d="M5 17.5c0-3.4 2.7-5.6 6-5.6s6 2.2 6 5.6z" fill="#D55E00"/></svg>'
)


def flagged_markers(
    flagged: Sequence[FlaggedResident], *, lang: str = "ja", person: bool = False
) -> list[dl.DivMarker]:
    """Markers of residents who cannot reach safety in time: id and shortfall, no name.

    ``person`` draws :data:`PERSON_MARK_HTML` (HQ's map, where ✕ also means 閉鎖) instead of
    the plans page's ✕ status symbol.
    """
    symbol, colour = STATUS_STYLE[PlanStatus.LATE]
    mark = PERSON_MARK_HTML if person else _marker_html(symbol, colour)
    size = 22 if person else 18
    markers = []
    for person in flagged:
        if lang == "en":
            short = (
                f", {-person.margin_min:.0f} min short"
                if person.margin_min is not None and person.margin_min < 0
                else ""
            )
            text = f"Resident {person.resident_id}: cannot reach safety in time{short}"
        else:
            short = (
                f"（{-person.margin_min:.0f}分不足）"
                if person.margin_min is not None and person.margin_min < 0
                else ""
            )
            text = f"要支援者 {person.resident_id}：避難が間に合わない{short}"
        markers.append(
            dl.DivMarker(
                position=[person.lat, person.lon],
                iconOptions={
                    "html": mark,
                    "className": "plans-flagged-marker",
                    "iconSize": [size, size],
                    "iconAnchor": [size // 2, size // 2],
                },
                children=dl.Tooltip(text),
                title=text,
                # Above shelter labels: on HQ's map a person in trouble must not be hidden.
                zIndexOffset=1000,
            )
        )
    return markers


def flagged_overlay(
    flagged: Sequence[FlaggedResident],
    *,
    lang: str = "ja",
    component_id: str = "hq-plans-flagged",
    checked: bool = True,
    person: bool = False,
    overlay_id: str | None = None,
) -> dl.Overlay:
    """HQ's overlay of flagged residents (for ``basemap_control(overlays=[...])``).

    The markers live in a ``dl.LayerGroup`` with ``component_id``, so a callback can refresh
    them by returning :func:`flagged_markers` as its ``children``; ``overlay_id`` lets a
    callback switch the overlay on (``checked``).
    """
    # No count in the name: a layer control keeps the name it was created with, so a count
    # here would go stale; HQ shows the count in its summary tiles instead.
    mark = ("person mark" if lang == "en" else "人の記号") if person else "✕"
    name = (
        f"Residents who cannot reach safety in time ({mark})"
        if lang == "en"
        else f"避難が間に合わない要支援者（{mark}）"
    )
    return dl.Overlay(
        dl.LayerGroup(flagged_markers(flagged, lang=lang, person=person), id=component_id),
        name=name,
        checked=checked,
        **({"id": overlay_id} if overlay_id else {}),
    )


# -- the sheet's folium map -----------------------------------------------------------------------


def route_map_html(plan: Plan) -> str:
    """A small folium map of one route (地理院 淡色地図), as a standalone HTML page.

    Passed to :func:`disaster_dx.plans.sheet.plan_sheet_html` as ``map_html``. Only the words
    "自宅" and the destination's name appear in it, escaped; never the resident's name.
    """
    import folium

    if not plan.route:
        return ""
    points = [(lat, lon) for lon, lat in plan.route]
    lats = [p[0] for p in points]
    lons = [p[1] for p in points]
    figure = folium.Map(
        location=[sum(lats) / len(lats), sum(lons) / len(lons)],
        tiles="https://cyberjapandata.gsi.go.jp/xyz/pale/{z}/{x}/{y}.png",
        attr='<a href="https://maps.gsi.go.jp/development/ichiran.html">地理院タイル</a>',
        zoom_control=True,
        control_scale=True,
    )
    folium.PolyLine(points, color="#ffffff", weight=9, opacity=1).add_to(figure)
    folium.PolyLine(points, color="#000000", weight=5, opacity=1).add_to(figure)
    folium.CircleMarker(
        points[0],
        radius=8,
        color="#000000",
        fill=True,
        fill_color="#000000",
        fill_opacity=1,
        tooltip="自宅",
    ).add_to(figure)
    if plan.destination is not None:
        folium.CircleMarker(
            points[-1],
            radius=9,
            color="#000000",
            weight=3,
            fill=True,
            fill_color="#ffffff",
            fill_opacity=1,
            tooltip=html.escape(plan.destination.name),
        ).add_to(figure)
    figure.fit_bounds([[min(lats), min(lons)], [max(lats), max(lons)]], padding=(20, 20))
    rendered: str = figure.get_root().render()
    return rendered
