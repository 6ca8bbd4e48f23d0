"""``map.html``: a standalone folium map of the public snapshot, for sharing in chats and mail.

:mod:`disaster_dx.publish` passes :func:`shelter_map_html` in as its map renderer (the core never
imports folium). The map embeds the public GeoJSON, which holds only whitelisted public fields,
and draws every marker in the browser with ``textContent`` (names and notes are typed by
people, and Leaflet would treat a string as HTML). folium's default CDN scripts and styles are
replaced by the local Leaflet copy the public page uses, so the file works from any static
host with no outside CDN.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

import folium
from branca.element import Element, Figure

from disaster_dx._time import to_jst
from disaster_dx.model import Crowding, OpenState
from disaster_dx.public_alerts import banner_html
from disaster_dx.public_text import OPEN_STATE_SYMBOL
from layers.basemaps import BASEMAPS_BY_KEY, map_view

#: Where the page's assets live, relative to ``map.html`` (``PUBLIC_DIR/site``).
ASSETS = "site"

_DRAW = """
function (feature, layer) {
    var labels = %(labels)s;
    var p = feature.properties;
    var open = p.open_state === "open" || p.open_state === "permanent";
    var box = document.createElement("span");
    box.className = "dx-pin-box dx-st-" + p.open_state + (p.crowding ? " dx-cr-" + p.crowding : "");
    box.textContent = labels.open_symbols[p.open_state] + (!open ? "" : " " +
        (p.crowding ? labels.crowding[p.crowding] : labels.open_state[p.open_state]));
    layer.setIcon(L.divIcon({html: box, className: "dx-pin", iconSize: null, iconAnchor: [8, 9]}));
    layer.options.title = p.name;
    layer.options.alt = p.name;
    layer.options.zIndexOffset = open ? 1000 : 0;
    var pop = document.createElement("div");
    pop.className = "dx-popup";
    var name = document.createElement("strong");
    name.textContent = p.name;
    pop.appendChild(name);
    var lines = [
        labels.open_state[p.open_state] +
            (open ? "・" + (p.crowding ? labels.crowding[p.crowding] : labels.unknown) : ""),
        p.address
    ];
    if (p.reported_at) { lines.push(labels.reported_at + "：" + jst(p.reported_at)); }
    if (p.public_note) { lines.push(labels.public_note + "：" + p.public_note); }
    for (var i = 0; i < lines.length; i++) {
        var line = document.createElement("div");
        line.textContent = lines[i];
        pop.appendChild(line);
    }
    layer.bindPopup(pop);
    function jst(iso) {
        var d = new Date(Date.parse(iso) + 9 * 3600 * 1000);
        return (d.getUTCMonth() + 1) + "月" + d.getUTCDate() + "日 " +
            ("0" + d.getUTCHours()).slice(-2) + ":" + ("0" + d.getUTCMinutes()).slice(-2);
    }
}
"""

_TITLE = """
<div class="dx-share-title">
<strong>%(title)s</strong> <span>%(updated)s</span><br>
<a href="index.html">%(link)s</a>
%(alerts)s</div>
<style>
.dx-share-title .dx-alert { margin: .3rem 0 0; padding: .2rem .5rem; }
.dx-share-title .dx-alert-head { font-size: 1rem; }
.dx-share-title .dx-alert-action, .dx-share-title .dx-alert-meta { font-size: .85rem; }
.dx-share-title {
    position: absolute; z-index: 1000; top: .5rem; left: 3.5rem; right: .5rem; max-width: 30rem;
    background: #fff; border: 1px solid #555; border-radius: .3rem; padding: .3rem .6rem;
    font-size: .9rem; line-height: 1.5;
}
</style>
"""


def shelter_map_html(collection: Mapping[str, Any], texts: Mapping[str, str]) -> str:
    """The whole ``map.html`` for ``collection`` (public GeoJSON) with labels from ``texts``.

    Parameters
    ----------
    collection
        The public FeatureCollection written to ``shelters.geojson``.
    texts
        The public page's texts in one language (``disaster_dx.public_text.texts_for``).
    """
    basemap = BASEMAPS_BY_KEY["gsi_pale"]
    view = map_view(dict(collection))
    fmap = folium.Map(
        location=view["center"], zoom_start=view["zoom"], tiles=None, control_scale=True
    )
    # Local copies instead of folium's CDN defaults; nothing else is needed (no jQuery,
    # Bootstrap or icon fonts: markers are plain divs).
    fmap.default_js = [("leaflet", f"{ASSETS}/leaflet/leaflet.js")]
    fmap.default_css = [
        ("leaflet_css", f"{ASSETS}/leaflet/leaflet.css"),
        ("dx_css", f"{ASSETS}/public.css"),
    ]
    folium.TileLayer(
        basemap.url,
        attr=basemap.attribution,
        name=basemap.ja,
        max_native_zoom=basemap.max_native_zoom,
        max_zoom=19,
    ).add_to(fmap)
    labels = {
        "open_symbols": {s.value: OPEN_STATE_SYMBOL[s] for s in OpenState},
        "open_state": {s.value: texts[f"open_state.{s.value}"] for s in OpenState},
        "crowding": {c.value: texts[f"crowding.{c.value}"] for c in Crowding},
        "unknown": texts["unknown"],
        "reported_at": texts["reported_at"],
        "public_note": texts["public_note"],
    }
    folium.GeoJson(
        dict(collection),
        name=texts["map_label"],
        marker=folium.Marker(icon=folium.DivIcon(html="")),
        on_each_feature=folium.JsCode(_DRAW % {"labels": json.dumps(labels, ensure_ascii=True)}),
    ).add_to(fmap)
    updated = texts["updated_at"].format(time=_jst(str(collection["updated_at"])))
    page_root = cast(Figure, fmap.get_root())
    page_root.html.add_child(
        Element(
            _TITLE
            % {
                "title": html.escape(texts["page_title"]),
                "updated": html.escape(updated),
                "link": html.escape(texts["show_in_list"]),
                # 避難情報 as on the page (already escaped there): colour, number and words.
                "alerts": banner_html(
                    collection.get("alerts") or [], str(collection["updated_at"]), "ja"
                ),
            }
        )
    )
    page = page_root.render()
    # folium's page has no language and forbids zooming the page (bad for low vision).
    page = page.replace("<html>", '<html lang="ja">', 1)
    page = page.replace("<head>", f"<head>\n<title>{html.escape(texts['page_title'])}</title>", 1)
    return page.replace("maximum-scale=1.0, user-scalable=no", "")


def _jst(iso: str) -> str:
    local = to_jst(datetime.fromisoformat(iso))
    return f"{local.month}月{local.day}日 {local:%H:%M}"
