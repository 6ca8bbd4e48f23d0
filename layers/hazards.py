"""Official hazard overlays from the ハザードマップポータルサイト (国土地理院 重ねるハザードマップ).

One table, so a city can check or swap a source in one place. The URL templates are the
portal's public raster tiles (``disaportaldata.gsi.go.jp/raster/…``); they are drawn
semi-transparent over the basemap and credited as the portal asks. The legend lists the depth
classes in words, so the overlay never relies on colour alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import dash_leaflet as dl
from dash import html

PORTAL_CREDIT = (
    '<a href="https://disaportal.gsi.go.jp/hazardmap/copyright/opendata.html">'
    "ハザードマップポータルサイト</a>"
)


@dataclass(frozen=True)
class HazardOverlay:
    """One raster overlay and its legend."""

    key: str
    ja: str
    en: str
    url: str
    legend: tuple[tuple[str, str, str], ...]  # (colour, ja, en)
    max_native_zoom: int = 17

    def label(self, lang: str) -> str:
        """The name in the layer switcher."""
        return self.en if lang == "en" else self.ja


_DEPTH_LEGEND = (
    ("#f7f5a9", "0.5m未満", "< 0.5 m"),
    ("#ffd8c0", "0.5〜3m", "0.5–3 m"),
    ("#ffb7b7", "3〜5m", "3–5 m"),
    ("#ff9191", "5〜10m", "5–10 m"),
    ("#f285c9", "10〜20m", "10–20 m"),
    ("#dc7adc", "20m以上", "≥ 20 m"),
)

HAZARD_OVERLAYS: tuple[HazardOverlay, ...] = (
    HazardOverlay(
        "tsunami",
        "津波浸水想定",
        "Tsunami inundation (assumed)",
        "https://disaportaldata.gsi.go.jp/raster/04_tsunami_newlegend_data/{z}/{x}/{y}.png",
        (
            ("#f7f5a9", "0.3m未満", "< 0.3 m"),
            ("#ffd8c0", "0.3〜0.5m", "0.3–0.5 m"),
            ("#ffb7b7", "0.5〜3m", "0.5–3 m"),
            ("#ff9191", "3〜5m", "3–5 m"),
            ("#f285c9", "5〜10m", "5–10 m"),
            ("#dc7adc", "10〜20m", "10–20 m"),
            ("#a15ea1", "20m以上", "≥ 20 m"),
        ),
    ),
    HazardOverlay(
        "flood",
        "洪水浸水想定区域（想定最大規模）",
        "River flood, largest assumed",
        "https://disaportaldata.gsi.go.jp/raster/01_flood_l2_shinsuishin_data/{z}/{x}/{y}.png",
        _DEPTH_LEGEND,
    ),
    HazardOverlay(
        "debris_flow",
        "土砂災害警戒区域（土石流）",
        "Sediment hazard zone (debris flow)",
        "https://disaportaldata.gsi.go.jp/raster/05_dosekiryukeikaikuiki/{z}/{x}/{y}.png",
        (("#e6c84b", "警戒区域", "Warning zone"), ("#c5433c", "特別警戒区域", "Special zone")),
    ),
    HazardOverlay(
        "steep_slope",
        "土砂災害警戒区域（急傾斜地の崩壊）",
        "Sediment hazard zone (steep slope)",
        "https://disaportaldata.gsi.go.jp/raster/05_kyukeishakeikaikuiki/{z}/{x}/{y}.png",
        (("#ffe04d", "警戒区域", "Warning zone"), ("#e44d3c", "特別警戒区域", "Special zone")),
    ),
    HazardOverlay(
        "landslide",
        "土砂災害警戒区域（地すべり）",
        "Sediment hazard zone (landslide)",
        "https://disaportaldata.gsi.go.jp/raster/05_jisuberikeikaikuiki/{z}/{x}/{y}.png",
        (("#ffb74d", "警戒区域", "Warning zone"), ("#d2552f", "特別警戒区域", "Special zone")),
    ),
)


def hazard_overlays(*, lang: str = "ja", checked: tuple[str, ...] = ()) -> list[dl.Overlay]:
    """Overlays for a ``dl.LayersControl``, each semi-transparent and credited."""
    return [
        dl.Overlay(
            dl.TileLayer(
                url=o.url,
                attribution=PORTAL_CREDIT,
                opacity=0.6,
                maxNativeZoom=o.max_native_zoom,
                maxZoom=20,
            ),
            name=o.label(lang),
            checked=o.key in checked,
        )
        for o in HAZARD_OVERLAYS
    ]


def hazard_legend(*, lang: str = "ja") -> html.Details:
    """A collapsible legend of every overlay's classes, in words beside each swatch."""
    sections = []
    for overlay in HAZARD_OVERLAYS:
        items = [
            html.Li(
                [
                    html.Span(className="dx-swatch", style={"background": colour}),
                    html.Span(en if lang == "en" else ja),
                ]
            )
            for colour, ja, en in overlay.legend
        ]
        sections.append(html.Div([html.H3(overlay.label(lang)), html.Ul(items)]))
    summary = "ハザード図の凡例" if lang != "en" else "Hazard overlay legend"
    source = "出典：ハザードマップポータルサイト"
    if lang == "en":
        source = "Source: GSI hazard map portal"
    return html.Details(
        [html.Summary(summary), *sections, html.P(source, className="dx-credit")],
        className="dx-hazard-legend",
    )
