/* Map marker functions for dash-leaflet, referenced from Python as {"variable": "dx.map.…"}.
 * Python sends data (GeoJSON properties, hideout); these only draw it.
 * Every text goes in through textContent, never innerHTML: names and notes are user data. */
(function () {
    "use strict";

    function span(className, text) {
        const element = document.createElement("span");
        element.className = className;
        element.textContent = text;
        return element;
    }

    function matchesHazard(properties, hideout) {
        return !hideout.hazard || (properties.hazards || []).indexOf(hideout.hazard) >= 0;
    }

    /* Names are drawn from hideout.labelZoom on (where they stop overlapping): the map's
     * container carries dx-show-names, and CSS shows or hides every marker's name at once.
     * (dash-leaflet keeps a marker between zooms, so the marker itself cannot decide.) */
    function followZoom(map, labelZoom) {
        if (!map || !map.getContainer) { return; }
        map._dxLabelZoom = labelZoom;
        const sync = function () {
            map.getContainer().classList.toggle(
                "dx-show-names", map.getZoom() >= (map._dxLabelZoom || 99));
        };
        if (!map._dxFollowsZoom) {
            map._dxFollowsZoom = true;
            map.on("zoomend", sync);
        }
        sync();
    }

    window.dx = Object.assign({}, window.dx, {
        map: {
            shelterMarker: function (feature, latlng, context) {
                const p = feature.properties;
                const hideout = (context && context.hideout) || {};
                followZoom(context && context.map, hideout.labelZoom);
                const box = document.createElement("div");
                box.className = "dx-marker dx-state-" + p.open_state +
                    (p.crowding ? " dx-crowding-" + p.crowding : "") +
                    (hideout.selected === p.shelter_id ? " dx-selected" : "");
                box.setAttribute("data-shelter-id", p.shelter_id);
                // The open state: symbol and word (never colour alone).
                const symbol = span("dx-marker-symbol", p.symbol);
                symbol.style.color = p.colour;
                box.appendChild(symbol);
                box.appendChild(span("dx-marker-state", p.open_state_label));
                // Crowding, only where people are: a second mark with its own symbol.
                if (p.open) {
                    box.appendChild(span("dx-marker-crowding",
                        p.crowding_symbol + " " + p.crowding_label));
                }
                box.appendChild(span("dx-marker-name", p.name));
                const icon = L.divIcon({
                    html: box,
                    className: "dx-marker-wrap",
                    iconSize: null,
                    iconAnchor: [9, 9],
                });
                // Open shelters (and the selected one) sit on top of closed ones nearby.
                const z = (hideout.selected === p.shelter_id ? 2000 : 0) + (p.open ? 1000 : 0);
                return L.marker(latlng, {
                    icon: icon, title: p.name, alt: p.name, keyboard: true, zIndexOffset: z,
                });
            },
            /* A cluster of nearby shelters: how many, per open state, each with its symbol.
             * Only shelters the hazard filter lets through are counted. */
            shelterCluster: function (feature, latlng, index, context) {
                const hideout = (context && context.hideout) || {};
                followZoom(context && context.map, hideout.labelZoom);
                const leaves = index.getLeaves(feature.properties.cluster_id, Infinity)
                    .filter(function (leaf) { return matchesHazard(leaf.properties, hideout); });
                if (leaves.length === 0) {
                    return L.marker(latlng, {
                        icon: L.divIcon({className: "dx-cluster-empty", html: ""}),
                        interactive: false, keyboard: false,
                    });
                }
                const counts = {};
                leaves.forEach(function (leaf) {
                    const state = leaf.properties.open_state;
                    counts[state] = (counts[state] || 0) + 1;
                });
                const box = document.createElement("div");
                box.className = "dx-cluster" + (counts.open || counts.permanent ? " dx-cluster-open" : "");
                box.setAttribute("data-total", String(leaves.length));
                box.appendChild(span("dx-cluster-total", String(leaves.length)));
                const words = [];
                (hideout.states || []).forEach(function (state) {
                    const n = counts[state.state];
                    if (!n) { return; }
                    box.setAttribute("data-state-" + state.state, String(n));
                    const part = span("dx-cluster-count dx-state-" + state.state, "");
                    const mark = span("dx-cluster-symbol", state.symbol);
                    mark.style.color = state.colour;
                    part.appendChild(mark);
                    part.appendChild(document.createTextNode(String(n)));
                    box.appendChild(part);
                    words.push(state.label + " " + n);
                });
                const en = hideout.lang === "en";
                const title = words.join(en ? ", " : "・") + (hideout.clusterHint
                    ? (en ? " (" + hideout.clusterHint + ")" : "（" + hideout.clusterHint + "）")
                    : "");
                box.setAttribute("title", title);
                box.setAttribute("role", "img");
                box.setAttribute("aria-label", title);
                const icon = L.divIcon({
                    html: box,
                    className: "dx-cluster-wrap",
                    iconSize: null,
                    iconAnchor: [22, 22],
                });
                return L.marker(latlng, {
                    icon: icon, title: title, alt: title, keyboard: true, zIndexOffset: 500,
                });
            },
            shelterTooltip: function (feature, layer, context) {
                const p = feature.properties;
                if (p.cluster) { return; }  // a cluster says its counts in its own title
                const tip = document.createElement("div");
                const name = document.createElement("strong");
                name.textContent = p.name;
                tip.appendChild(name);
                const lines = [
                    p.open_state_label + (p.open ? "・" + p.crowding_label : ""),
                    p.kinds,
                ];
                if (p.hazards_label) { lines.push(p.hazards_label); }
                if (p.evacuees !== null && p.evacuees !== undefined) {
                    lines.push(p.evacuees + (p.capacity ? " / " + p.capacity : "") + " 人");
                }
                if (p.minutes_ago !== null && p.minutes_ago !== undefined) {
                    lines.push(p.minutes_ago + "分前");
                }
                if (p.public_note) { lines.push(p.public_note); }
                lines.forEach(function (text) {
                    const line = document.createElement("div");
                    line.textContent = text;
                    tip.appendChild(line);
                });
                layer.bindTooltip(tip, {direction: "top", offset: [0, -8]});
            },
            shelterFilter: function (feature, context) {
                if (feature.properties.cluster) { return true; }  // counted in shelterCluster
                return matchesHazard(feature.properties, (context && context.hideout) || {});
            },
        },
    });
}());
