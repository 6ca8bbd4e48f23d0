"""The overview page (``/overview``): Nankoku's shelters on a Dash map with their live status.

Staff only (any signed-in role), read-only, public fields only: a wall map without HQ's
controls. Citizens get the static public page at ``/`` (:mod:`disaster_dx.publish`), which
shows the same shelters without the ~1 MB of Dash bundles a slow phone would otherwise load
for one map; an anonymous visitor to ``/overview`` is sent there
(:data:`disaster_dx.web.security.STAFF_PAGES_WITH_PUBLIC_TWIN`).
"""

from __future__ import annotations

from typing import Any

import dash_leaflet as dl
from dash import html

from disaster_dx.web import ids
from disaster_dx.web.context import current
from disaster_dx.web.i18n import lang_of, t
from disaster_dx.web.security import signed_in_user
from disaster_dx.web.staff import refusal
from layers.basemaps import basemap_control, map_view, outline_layer
from layers.shelters import shelter_features, shelter_layer, status_legend

#: Where the page lives (``/`` is the static public page).
PATH = "/overview"


def layout(lang: str | None = None, **_query: Any) -> html.Div:
    """Build the page from the live incident's current state."""
    lang = lang_of(lang)
    if signed_in_user() is None:  # the request guard redirects first; this is the second check
        return refusal(lang=lang)
    context = current()
    store = context.store
    shelters = store.shelters()
    state = store.state(store.live_incident(actor="app").incident_id)
    features = shelter_features(
        shelters, state, thresholds=context.settings.crowding, now=context.now(), lang=lang
    )
    open_count = sum(f["properties"]["open"] for f in features["features"])
    city = store.city()
    outline = store.city_outline()
    other = "en" if lang == "ja" else "ja"
    return html.Div(
        [
            html.Header(
                [
                    html.H1(t("app_title", lang, city=city.label(lang))),
                    html.Span(className="dx-spacer"),
                    html.A(
                        t("switch_lang", lang),
                        href=f"{PATH}?lang={other}",
                        id=ids.LANG_LINK,
                        lang=other,
                        hrefLang=other,
                    ),
                ],
                className="dx-header",
            ),
            html.Div(
                [
                    html.Main(
                        dl.Map(
                            [
                                basemap_control(lang=lang),
                                *(
                                    [
                                        outline_layer(
                                            _feature_collection(outline),
                                            component_id=ids.OVERVIEW_OUTLINE,
                                        )
                                    ]
                                    if outline
                                    else []
                                ),
                                shelter_layer(
                                    features, component_id=ids.OVERVIEW_SHELTERS, lang=lang
                                ),
                                dl.ScaleControl(position="bottomleft", imperial=False),
                            ],
                            id=ids.OVERVIEW_MAP,
                            **map_view(features),
                            style={"height": "100%", "minHeight": "70vh"},
                        ),
                        className="dx-map",
                        **{"aria-label": t("map_label", lang, city=city.label(lang))},
                    ),
                    html.Aside(
                        [
                            html.P(t("site_count", lang)),
                            html.P(
                                [
                                    html.Span(
                                        str(len(shelters)),
                                        id=ids.OVERVIEW_COUNT,
                                        className="dx-count",
                                    ),
                                    " ",
                                    t("sites", lang),
                                    t("open_count", lang).format(open_count),
                                ]
                            ),
                            status_legend(lang=lang),
                            html.P(t("hover_hint", lang)),
                            html.P(t("data_credit", lang), className="dx-credit"),
                        ],
                        className="dx-side",
                    ),
                ],
                className="dx-main",
            ),
        ],
        lang=lang,
    )


def _feature_collection(geometry: dict[str, Any]) -> dict[str, Any]:
    """dash-leaflet's GeoJSON draws FeatureCollections; the store keeps the bare geometry."""
    return {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {}, "geometry": geometry}],
    }
