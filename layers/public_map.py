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
from branca.element import Element, Figure, MacroElement
from jinja2 import Template

from disaster_dx._time import jst_text
from disaster_dx.model import Crowding, OpenState
from disaster_dx.public_alerts import banner_html
from disaster_dx.public_text import CROWDING_SYMBOL, OPEN_STATE_SYMBOL
from disaster_dx.publish import asset_url
from layers.basemaps import BASEMAPS_BY_KEY, map_view

#: Where the page's assets live, relative to ``map.html`` (``PUBLIC_DIR/site``).
ASSETS = "site"

_DRAW = """
(function () {
    var data = %(data)s;
    var labels = %(labels)s;
    var items = [];
    for (var i = 0; i < data.features.length; i++) {
        var f = data.features[i];
        items.push({id: f.id, lat: f.geometry.coordinates[1], lon: f.geometry.coordinates[0],
            p: f.properties});
    }
    function jst(iso) {
        var d = new Date(Date.parse(iso) + 9 * 3600 * 1000);
        return (d.getUTCMonth() + 1) + "月" + d.getUTCDate() + "日 " +
            ("0" + d.getUTCHours()).slice(-2) + ":" + ("0" + d.getUTCMinutes()).slice(-2);
    }
    function popup(item) {
        var p = item.p;
        var open = p.open_state === "open" || p.open_state === "permanent";
        var pop = document.createElement("div");
        pop.className = "dx-popup";
        var name = document.createElement("strong");
        name.textContent = p.name;
        pop.appendChild(name);
        var crowd = p.crowding ? labels.crowding[p.crowding] : labels.crowding_unknown;
        var lines = [labels.open_state[p.open_state] + (open ? "・" + crowd : ""), p.address];
        if (p.reported_at) { lines.push(labels.reported_at + "：" + jst(p.reported_at)); }
        if (p.public_note) { lines.push(labels.public_note + "：" + p.public_note); }
        for (var i = 0; i < lines.length; i++) {
            var line = document.createElement("div");
            line.textContent = lines[i];
            pop.appendChild(line);
        }
        return pop;
    }
    var layer = window.DxShelterLayer(%(map)s, {
        symbols: labels.open_symbols,
        stateWord: function (state) { return labels.open_state[state]; },
        crowding: function (p) {
            if (!p.crowding) { return {symbol: "?", word: labels.unknown}; }
            return {symbol: labels.crowding_symbols[p.crowding], word: labels.crowding[p.crowding]};
        },
        clusterTitle: function (total, parts) {
            var words = [];
            for (var i = 0; i < parts.length; i++) {
                words.push(labels.open_state[parts[i].state] + " " + parts[i].n);
            }
            return labels.cluster_title.replace("{n}", total).replace("{parts}", words.join("・"));
        },
        popup: popup
    });
    layer.setItems(items);
}());
"""


class _ShelterLayer(MacroElement):  # type: ignore[misc]
    """The shared clustering layer (``site/shelter_layer.js``) on folium's map, after it exists."""

    _template = Template("{% macro script(this, kwargs) %}{{ this.code }}{% endmacro %}")

    def __init__(self, code: str) -> None:
        super().__init__()
        self._name = "DxShelterLayer"
        self.code = code


_TITLE = """
<div class="dx-share-title">
<strong>%(title)s</strong> <span>%(updated)s</span><br>
<a href="index.html" class="dx-share-link">%(link)s</a>
%(alerts)s</div>
%(legend)s
<style>
.dx-share-title .dx-alert { margin: .3rem 0 0; padding: .2rem .5rem; }
.dx-share-title .dx-alert-head { font-size: 1rem; }
.dx-share-title .dx-alert-action, .dx-share-title .dx-alert-meta { font-size: .85rem; }
.dx-share-legend {
    position: absolute; z-index: 1000; bottom: 3.6rem; left: .5rem; max-width: 20rem;
    background: #fff; border: 1px solid #555; border-radius: .3rem; padding: 0 .6rem;
    font-size: .9rem;
}
.dx-share-legend summary { min-height: 44px; line-height: 44px; cursor: pointer; font-weight: 700; }
.dx-share-legend ul {
    list-style: none; padding: 0; margin: 0 0 .3rem; display: flex; flex-wrap: wrap; gap: .3rem;
}
.dx-share-legend p { margin: .3rem 0 .1rem; }
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
    fmap.default_js = [
        ("leaflet", f"{ASSETS}/leaflet/leaflet.js"),
        ("supercluster", asset_url("supercluster/supercluster.min.js")),
        ("dx_shelter_layer", asset_url("shelter_layer.js")),
    ]
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
        "crowding_symbols": {c.value: CROWDING_SYMBOL[c] for c in Crowding},
        "crowding": {c.value: texts[f"crowding.{c.value}"] for c in Crowding},
        "crowding_unknown": texts["crowding_unknown"],
        "unknown": texts["unknown"],
        "reported_at": texts["reported_at"],
        "public_note": texts["public_note"],
        "cluster_title": texts["cluster_title"],
    }
    public = {
        "features": [
            {"id": f["id"], "geometry": f["geometry"], "properties": f["properties"]}
            for f in collection["features"]
        ]
    }
    code = _DRAW % {
        "data": _script_json(public),
        "labels": _script_json(labels),
        "map": fmap.get_name(),
    }
    _ShelterLayer(code).add_to(fmap)
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
                "legend": _legend_html(texts),
            }
        )
    )
    page = page_root.render()
    # folium's page has no language and forbids zooming the page (bad for low vision).
    page = page.replace("<html>", '<html lang="ja">', 1)
    page = page.replace("<head>", f"<head>\n<title>{html.escape(texts['page_title'])}</title>", 1)
    return page.replace("maximum-scale=1.0, user-scalable=no", "")


def _script_json(value: Any) -> str:
    """ASCII JSON that cannot end its ``<script>`` (names and notes are typed by people)."""
    dumped = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    return dumped.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _legend_html(texts: Mapping[str, str]) -> str:
    """Every mark on the map with its words: each open state, each crowding, 不明, clusters."""
    rows = [
        f'<li><span class="dx-badge dx-st-{s.value}">{OPEN_STATE_SYMBOL[s]} '
        f"{html.escape(texts[f'open_state.{s.value}'])}</span></li>"
        for s in OpenState
    ]
    crowd = [
        f'<li><span class="dx-badge dx-cr-{c.value}">{CROWDING_SYMBOL[c]} '
        f"{html.escape(texts[f'crowding.{c.value}'])}</span></li>"
        for c in Crowding
    ]
    crowd.append(
        f'<li><span class="dx-badge dx-cr-unknown">? {html.escape(texts["unknown"])}</span></li>'
    )
    return (
        '<details class="dx-share-legend"><summary>'
        f"{html.escape(texts['legend_title'])}</summary>"
        f"<p>{html.escape(texts['open_state'])}</p><ul>{''.join(rows)}</ul>"
        f"<p>{html.escape(texts['crowding'])}</p><ul>{''.join(crowd)}</ul>"
        f"<p>{html.escape(texts['legend_cluster'])}</p></details>"
    )


def _jst(iso: str) -> str:
    return jst_text(datetime.fromisoformat(iso))
