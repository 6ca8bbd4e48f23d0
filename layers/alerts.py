"""避難情報 on the HQ map: the areas under an alert, and the shelters that still need opening.

Pure functions: state + areas → GeoJSON for dash-leaflet layers drawn by ``assets/dx_alerts.js``.
An area is drawn with its polygon; 全域 with the city outline. Each area carries the level in
words (「警戒レベル4 避難指示」), the official colour AND a line pattern per level, so the map
never says it by colour alone. Areas given only as a list of shelters have no line to draw;
their shelters still appear in the 「開設が必要」 layer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dash_leaflet as dl

from disaster_dx.areas import Area
from disaster_dx.events import EvacuationAlert
from disaster_dx.model import AlertLevel, Shelter

#: Line pattern per level (drawn on top of the colour): 3 dashed, 4 dash-dot, 5 solid thick.
LEVEL_DASH: dict[AlertLevel, str | None] = {
    AlertLevel.ELDERLY_EVACUATE: "10 6",
    AlertLevel.EVACUATE: "14 5 3 5",
    AlertLevel.EMERGENCY_SAFETY: None,
}
#: Text colour readable on each level's colour (WCAG AA: black on red, white on purple/black).
LEVEL_TEXT: dict[AlertLevel, str] = {
    AlertLevel.ELDERLY_EVACUATE: "#000000",
    AlertLevel.EVACUATE: "#ffffff",
    AlertLevel.EMERGENCY_SAFETY: "#ffffff",
}


def level_words(level: AlertLevel, lang: str = "ja") -> str:
    """「警戒レベル4 避難指示」: the number and the words, always together."""
    if lang == "en":
        return f"Alert level {level.number}: {level.en}"
    return f"警戒レベル{level.number} {level.ja}"


def alert_area_features(
    alerts: Sequence[EvacuationAlert],
    areas: Sequence[Area],
    *,
    outline: Mapping[str, Any] | None,
    lang: str = "ja",
) -> dict[str, Any]:
    """One polygon feature per (alert, area) that has a shape; highest level drawn last.

    ``outline`` is the city boundary (a FeatureCollection or geometry) standing for 全域.
    """
    by_id = {a.area_id: a for a in areas}
    city = _geometry_of(outline) if outline is not None else None
    features = []
    # alerts_in_force lists the highest level first; draw it last so it is on top.
    for alert in reversed(list(alerts)):
        for area_id in alert.areas:
            area = by_id.get(area_id)
            if area is None:
                continue
            geometry = area.geometry or (city if area.whole_city else None)
            if geometry is None:
                continue
            features.append(
                {
                    "type": "Feature",
                    "geometry": dict(geometry),
                    "properties": {
                        "alert_id": alert.alert_id,
                        "level": alert.level.number,
                        "colour": alert.level.colour,
                        "dash": LEVEL_DASH[alert.level],
                        "label": f"{level_words(alert.level, lang)}（{alert.hazard.label(lang)}）"
                        if lang != "en"
                        else f"{level_words(alert.level, lang)} ({alert.hazard.label(lang)})",
                        "area": area.label(lang),
                    },
                }
            )
    return {"type": "FeatureCollection", "features": features}


def needed_features(
    needed: Sequence[tuple[Shelter, EvacuationAlert]], *, lang: str = "ja"
) -> dict[str, Any]:
    """Points for the shelters listed 「開設が必要」 (each with the level that asks for it)."""
    word = "開設が必要" if lang != "en" else "Needs opening"
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [shelter.lon, shelter.lat]},
                "properties": {
                    "shelter_id": shelter.shelter_id,
                    "name": shelter.name,
                    "word": word,
                    "level": alert.level.number,
                    "label": level_words(alert.level, lang),
                },
            }
            for shelter, alert in needed
        ],
    }


def alert_area_layer(data: dict[str, Any], *, component_id: str) -> dl.GeoJSON:
    """The areas under 避難情報: coloured outline + pattern, a light fill, the words on hover."""
    return dl.GeoJSON(
        id=component_id,
        data=data,
        style={"variable": "dx.alerts.areaStyle"},
        onEachFeature={"variable": "dx.alerts.areaTooltip"},
        interactive=True,
        bubblingMouseEvents=True,
    )


def needed_layer(data: dict[str, Any], *, component_id: str) -> dl.GeoJSON:
    """A 「開設が必要」 tag above each shelter that still needs opening."""
    return dl.GeoJSON(
        id=component_id,
        data=data,
        pointToLayer={"variable": "dx.alerts.neededMarker"},
    )


def _geometry_of(outline: Mapping[str, Any]) -> Mapping[str, Any] | None:
    if outline.get("type") == "FeatureCollection":
        features = outline.get("features") or []
        if len(features) == 1:
            geometry: Mapping[str, Any] | None = features[0].get("geometry")
            return geometry
        shapes = [f.get("geometry") for f in features if f.get("geometry")]
        polygons = []
        for shape in shapes:
            if shape["type"] == "Polygon":
                polygons.append(shape["coordinates"])
            elif shape["type"] == "MultiPolygon":
                polygons.extend(shape["coordinates"])
        return {"type": "MultiPolygon", "coordinates": polygons} if polygons else None
    if outline.get("type") == "Feature":
        return outline.get("geometry")
    return outline
