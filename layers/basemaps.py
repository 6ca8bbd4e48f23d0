"""Background maps and the city outline: one table of tile sources, each with its credit.

地理院タイル need the credit 「地理院タイル」 with a link to the tile list; OpenStreetMap needs
「© OpenStreetMap contributors」. Tiles come from the providers' servers in the browser; nothing
here fetches them (tests and offline machines simply show no background).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import dash_leaflet as dl

GSI_CREDIT = '<a href="https://maps.gsi.go.jp/development/ichiran.html">地理院タイル</a>'
OSM_CREDIT = '© <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'


@dataclass(frozen=True)
class Basemap:
    """One background tile source."""

    key: str
    ja: str
    en: str
    url: str
    attribution: str
    max_native_zoom: int = 18

    def label(self, lang: str) -> str:
        """The name shown in the layer switcher."""
        return self.en if lang == "en" else self.ja


BASEMAPS: tuple[Basemap, ...] = (
    Basemap(
        "gsi_pale",
        "地理院 淡色地図",
        "GSI pale",
        "https://cyberjapandata.gsi.go.jp/xyz/pale/{z}/{x}/{y}.png",
        GSI_CREDIT,
    ),
    Basemap(
        "gsi_std",
        "地理院 標準地図",
        "GSI standard",
        "https://cyberjapandata.gsi.go.jp/xyz/std/{z}/{x}/{y}.png",
        GSI_CREDIT,
    ),
    Basemap(
        "gsi_photo",
        "地理院 写真",
        "GSI aerial photo",
        "https://cyberjapandata.gsi.go.jp/xyz/seamlessphoto/{z}/{x}/{y}.jpg",
        GSI_CREDIT,
    ),
    Basemap(
        "osm",
        "OpenStreetMap",
        "OpenStreetMap",
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        OSM_CREDIT,
        max_native_zoom=19,
    ),
)
BASEMAPS_BY_KEY = {b.key: b for b in BASEMAPS}

#: The frame of a map with no shelters yet (all of Japan): never another city's.
JAPAN_CENTER = (36.2, 138.25)
JAPAN_ZOOM = 5


def map_view(features: dict[str, Any], *, width: int = 600, height: int = 420) -> dict[str, Any]:
    """Centre and zoom that fit the shelters into a ``width`` × ``height`` px map.

    dash-leaflet needs a centre (bounds alone fail); Web Mercator, 256 px tiles. With no
    shelters, all of Japan.
    """
    bounds = bounds_of(features)
    if bounds is None:
        return {"center": list(JAPAN_CENTER), "zoom": JAPAN_ZOOM}
    (south, west), (north, east) = bounds
    mid_lat = math.radians((south + north) / 2)
    fit_lon = math.log2(width * 360 / (256 * max(east - west, 1e-6)))
    fit_lat = math.log2(height * 360 * math.cos(mid_lat) / (256 * max(north - south, 1e-6)))
    zoom = math.floor(4 * min(fit_lon, fit_lat, 16)) / 4
    return {"center": [(south + north) / 2, (west + east) / 2], "zoom": zoom, "zoomSnap": 0.25}


def basemap_control(
    *, lang: str = "ja", selected: str = "gsi_pale", overlays: list[Any] | None = None
) -> dl.LayersControl:
    """A layer switcher with every basemap (one checked) and optional overlays."""
    if selected not in BASEMAPS_BY_KEY:
        raise ValueError(
            f"unknown basemap {selected!r}; choose one of {', '.join(BASEMAPS_BY_KEY)}"
        )
    bases = [
        dl.BaseLayer(
            dl.TileLayer(
                url=b.url,
                attribution=b.attribution,
                maxNativeZoom=b.max_native_zoom,
                maxZoom=20,
            ),
            name=b.label(lang),
            checked=b.key == selected,
        )
        for b in BASEMAPS
    ]
    return dl.LayersControl([*bases, *(overlays or [])], position="topright")


def outline_layer(outline: dict[str, Any], *, component_id: str = "city-outline") -> dl.GeoJSON:
    """The city boundary as a thin line, so people see where the city ends."""
    return dl.GeoJSON(
        id=component_id,
        data=outline,
        style={"color": "#555555", "weight": 2, "fill": False, "dashArray": "6 4"},
        interactive=False,
    )


def bounds_of(features: dict[str, Any], *, pad: float = 0.004) -> list[list[float]] | None:
    """Leaflet bounds ``[[south, west], [north, east]]`` around a FeatureCollection's points."""
    points = [f["geometry"]["coordinates"] for f in features.get("features", [])]
    if not points:
        return None
    lons = [p[0] for p in points]
    lats = [p[1] for p in points]
    return [[min(lats) - pad, min(lons) - pad], [max(lats) + pad, max(lons) + pad]]
