/* Shelters on a Leaflet map, grouped by Supercluster at city zoom (the public page and map.html).
 *
 * 139 sites on one screen are one blob of overlapping pins, so nearby sites are drawn as one
 * cluster saying how many there are of each open state (symbol + count, e.g. "● 3 ○ 12": the
 * symbols are explained in the legend, and never by colour alone). A tap on a cluster zooms in
 * until it splits. A single site says its open state as symbol + word, its crowding as a second
 * mark, and its name only from LABEL_ZOOM on, where names no longer run into each other.
 * Every pin and cluster is at least 44 × 44 px to tap (the visible badge is centred in a larger
 * transparent box).
 *
 * Plain ES5; data go into the page with textContent only (names are typed by people).
 * Usage: var layer = DxShelterLayer(map, options); layer.setItems([{id, lat, lon, p}, ...]).
 */
(function () {
    "use strict";

    var LABEL_ZOOM = 15;    // names from here on: city blocks apart, labels no longer overlap
    var CLUSTER_MAX = 16;   // beyond this zoom every site is drawn on its own
    // Supercluster measures in 512-unit tiles, Leaflet draws 256 px ones: 150 units = 75 px.
    var RADIUS = 150;       // two sites closer than 75 px at a zoom share a cluster
    var STATES = ["open", "permanent", "preparing", "not_open", "closed"];
    var OPEN = {open: true, permanent: true};

    function el(tag, className, text) {
        var node = document.createElement(tag);
        if (className) { node.className = className; }
        if (text !== undefined && text !== null) { node.textContent = text; }
        return node;
    }

    /* options:
     *   symbols        {state: "●", ...}
     *   stateWord      function (state) → "開設"
     *   nameOf         function (p) → the name in the page's language (default: p.name)
     *   crowding       function (p) → {symbol, word} for an open site, or null
     *   clusterTitle   function (total, parts) → words for screen readers ("15か所：開設 3・…")
     *   popup          function (item) → Element (built when the pin is opened)
     */
    function DxShelterLayer(map, options) {
        var L = window.L;
        var nameOf = options.nameOf || function (p) { return p.name; };
        var group = L.layerGroup().addTo(map);
        var featuredGroup = L.layerGroup().addTo(map);
        var index = null;
        var items = {};
        var markers = {};
        var drawn = {};               // key → marker now on the map (clusters, single sites)
        var featuredMarkers = {};     // id → marker of a suggested site (never clustered)
        var featuredIds = [];
        var featuredNamed = null;

        function counts(p) {
            var out = {};
            for (var i = 0; i < STATES.length; i++) { out["n_" + STATES[i]] = 0; }
            out["n_" + p.state] = 1;
            return out;
        }

        function named() { return Math.round(map.getZoom()) >= LABEL_ZOOM; }

        function redrawFeatured() {
            featuredGroup.clearLayers();
            featuredMarkers = {};
            featuredNamed = named();
            for (var i = 0; i < featuredIds.length; i++) {
                var item = items[featuredIds[i]];
                if (!item) { continue; }
                var marker = L.marker([item.lat, item.lon], {
                    icon: pinIcon(item, featuredNamed, i + 1),
                    title: (i + 1) + ". " + nameOf(item.p) + " " + options.stateWord(item.p.open_state),
                    keyboard: true,
                    zIndexOffset: 2500
                });
                marker.bindPopup(popupFor(item));
                marker.addTo(featuredGroup);
                featuredMarkers[item.id] = marker;
            }
        }

        /* list: every site to draw; featured: ids of the suggested ones, in order. Those are
         * never hidden in a cluster: each is drawn on its own with its number in the list. */
        function setItems(list, featured) {
            items = {};
            var features = [];
            var rank = {};
            featuredIds = featured || [];
            for (var f = 0; f < featuredIds.length; f++) { rank[featuredIds[f]] = true; }
            for (var i = 0; i < list.length; i++) {
                var item = list[i];
                items[item.id] = item;
                if (rank[item.id]) { continue; }
                features.push({
                    type: "Feature",
                    geometry: {type: "Point", coordinates: [item.lon, item.lat]},
                    properties: {id: item.id, state: item.p.open_state}
                });
            }
            group.clearLayers();   // new data: every marker is drawn afresh
            drawn = {};
            redrawFeatured();
            index = new window.Supercluster({
                radius: RADIUS,
                maxZoom: CLUSTER_MAX,
                map: counts,
                reduce: function (total, p) {
                    for (var i = 0; i < STATES.length; i++) {
                        total["n_" + STATES[i]] += p["n_" + STATES[i]];
                    }
                }
            }).load(features);
            redraw();
        }

        function clusterIcon(props) {
            var parts = [];
            for (var i = 0; i < STATES.length; i++) {
                var n = props["n_" + STATES[i]];
                if (n) { parts.push({state: STATES[i], n: n}); }
            }
            var anyOpen = props.n_open + props.n_permanent > 0;
            var box = el("span", "dx-cluster-box" + (anyOpen ? " dx-cluster-open" : ""));
            box.setAttribute("data-count", String(props.point_count));
            box.appendChild(el("span", "dx-cluster-n", String(props.point_count)));
            var line = el("span", "dx-cluster-parts");
            for (var j = 0; j < parts.length; j++) {
                var part = el("span", "dx-cluster-part dx-cp-" + parts[j].state,
                    options.symbols[parts[j].state] + parts[j].n);
                line.appendChild(part);
            }
            box.appendChild(line);
            return {
                icon: L.divIcon({html: box, className: "dx-pin dx-cluster", iconSize: [0, 0]}),
                title: options.clusterTitle(props.point_count, parts),
                open: anyOpen
            };
        }

        function pinIcon(item, named, rank) {
            var p = item.p;
            var box = el("span", "dx-pin-box dx-st-" + p.open_state +
                (p.crowding ? " dx-cr-" + p.crowding : "") + (rank ? " dx-pin-featured" : ""));
            box.setAttribute("data-shelter-id", p.shelter_id);
            if (named) { box.appendChild(el("span", "dx-pin-name", nameOf(p))); }
            var line = el("span", "dx-pin-line");
            if (rank) {
                // Its number in the list of suggestions above the map (the name is there).
                box.setAttribute("data-rank", String(rank));
                line.appendChild(el("span", "dx-pin-rank", String(rank)));
            }
            line.appendChild(el("span", "dx-pin-state",
                options.symbols[p.open_state] + " " + options.stateWord(p.open_state)));
            var crowd = OPEN[p.open_state] ? options.crowding(p) : null;
            if (crowd) {
                // The second mark: crowding, with its word once there is room for words.
                line.appendChild(el("span", "dx-pin-crowd dx-cr-" + (p.crowding || "unknown"),
                    named ? crowd.symbol + " " + crowd.word : crowd.symbol));
            }
            box.appendChild(line);
            return L.divIcon({html: box, className: "dx-pin", iconSize: [0, 0]});
        }

        function redraw() {
            // Markers already on the map stay (an open popup must survive its own auto-pan);
            // only what changed is added or removed.
            if (!index) { return; }
            var zoom = Math.round(map.getZoom());
            var b = map.getBounds().pad(0.3);
            var found = index.getClusters([b.getWest(), b.getSouth(), b.getEast(), b.getNorth()],
                zoom);
            var named = zoom >= LABEL_ZOOM;
            if (named !== featuredNamed) { redrawFeatured(); }
            var next = {};
            markers = {};
            for (var id in featuredMarkers) {
                if (featuredMarkers.hasOwnProperty(id)) { markers[id] = featuredMarkers[id]; }
            }
            for (var i = 0; i < found.length; i++) {
                var f = found[i];
                var key = f.properties.cluster ? "c" + zoom + ":" + f.properties.cluster_id
                    : "p" + (named ? "n" : "") + ":" + f.properties.id;
                var marker = drawn[key] || newMarker(f, named);
                next[key] = marker;
                if (!f.properties.cluster) { markers[f.properties.id] = marker; }
            }
            for (var old in drawn) {
                if (drawn.hasOwnProperty(old) && !next[old]) { group.removeLayer(drawn[old]); }
            }
            for (var k in next) {
                if (next.hasOwnProperty(k) && !drawn[k]) { next[k].addTo(group); }
            }
            drawn = next;
        }

        function newMarker(f, named) {
            var at = [f.geometry.coordinates[1], f.geometry.coordinates[0]];
            var marker;
            if (f.properties.cluster) {
                var c = clusterIcon(f.properties);
                marker = L.marker(at, {icon: c.icon, title: c.title, keyboard: true,
                    zIndexOffset: c.open ? 2000 : 500});
                marker.on("click", zoomInto(f.properties.cluster_id, at));
                return marker;
            }
            var item = items[f.properties.id];
            marker = L.marker(at, {
                icon: pinIcon(item, named),
                title: nameOf(item.p) + " " + options.stateWord(item.p.open_state),
                keyboard: true,
                zIndexOffset: OPEN[item.p.open_state] ? 1000 : 0
            });
            marker.bindPopup(popupFor(item));
            return marker;
        }

        function popupFor(item) {
            return function () { return options.popup(item); };
        }

        function zoomInto(clusterId, at) {
            return function () {
                var zoom = Math.min(index.getClusterExpansionZoom(clusterId), CLUSTER_MAX + 1);
                map.setView(at, Math.max(zoom, map.getZoom() + 1));
            };
        }

        /* Zoom to where the site is drawn on its own and open its popup. */
        function show(id) {
            var item = items[id];
            if (!item) { return false; }
            var zoom = Math.max(Math.round(map.getZoom()), LABEL_ZOOM);
            for (; zoom <= CLUSTER_MAX; zoom++) {
                var d = 0.0005;
                var near = index.getClusters([item.lon - d, item.lat - d, item.lon + d, item.lat + d],
                    zoom);
                var alone = false;
                for (var i = 0; i < near.length; i++) {
                    if (!near[i].properties.cluster && near[i].properties.id === id) { alone = true; }
                }
                if (alone) { break; }
            }
            map.setView([item.lat, item.lon], zoom, {animate: false});
            redraw();
            if (markers[id]) { markers[id].openPopup(); }
            return true;
        }

        map.on("zoomend moveend", redraw);
        return {setItems: setItems, redraw: redraw, show: show, labelZoom: LABEL_ZOOM};
    }

    window.DxShelterLayer = DxShelterLayer;
}());
