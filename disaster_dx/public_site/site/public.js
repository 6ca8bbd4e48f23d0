/* Public shelter page: list (a complete alternative to the map), hazard filter, nearest open
 * shelters, map, three languages, large text.
 *
 * The page is a static file: its data and wording are embedded as JSON (#dx-data, #dx-text),
 * and it re-reads shelters.geojson now and then when served over HTTP(S). Written in plain
 * ES5 for old phones. Every piece of data goes into the page with textContent, never innerHTML:
 * shelter names and notes are typed by people.
 */
(function () {
    "use strict";

    var CONFIG = JSON.parse(byId("dx-text").textContent);
    var TEXT = CONFIG.text;
    var data = JSON.parse(byId("dx-data").textContent);
    var OPEN_STATES = {open: true, permanent: true};
    var POLL_MS = 60000;
    var NEAREST = 3;

    var ui = {
        lang: chooseLang(),
        hazard: "",
        hazardChosen: false,   // the person picked a hazard themselves: never change it for them
        openOnly: false,
        listOnly: stored("dx-list-only") === "1",
        large: stored("dx-large") === "1",
        origin: null,          // {lat, lon, kind: "here"|"picked"|"landmark", name}
        picking: false,
        focusId: null
    };
    var map = null, shelterLayer = null, originMarker = null;
    var mapLoading = false;
    // Walking distances (site/walk.js): the network named by data.walk_graph, fetched only when
    // someone asks for the nearest shelters; straight lines until then, or when it fails.
    var walk = {file: null, net: null, state: "none", originKey: null, result: null};

    // -- small helpers -------------------------------------------------------------------------

    function byId(id) { return document.getElementById(id); }

    function stored(key) {
        try { return window.localStorage.getItem(key); } catch (e) { return null; }
    }

    function store(key, value) {
        try { window.localStorage.setItem(key, value); } catch (e) { /* private mode */ }
    }

    function queryParam(name) {
        var pairs = window.location.search.replace(/^\?/, "").split("&");
        for (var i = 0; i < pairs.length; i++) {
            var kv = pairs[i].split("=");
            if (decodeURIComponent(kv[0]) === name) {
                return decodeURIComponent((kv[1] || "").replace(/\+/g, " "));
            }
        }
        return null;
    }

    function chooseLang() {
        // site/lang.js chose it in <head>, before the first paint (one place decides).
        var chosen = document.documentElement.getAttribute("data-lang");
        return CONFIG.langs.hasOwnProperty(chosen) ? chosen : "ja";
    }

    function t(key, values) {
        var row = TEXT[key];
        var template = row ? (row[ui.lang] || row.ja) : key;
        if (!values) { return template; }
        return template.replace(/\{(\w+)\}/g, function (match, name) {
            return values.hasOwnProperty(name) ? String(values[name]) : match;
        });
    }

    // A shelter's name for the reader: the city's own English name (名称_英字) in English, its
    // reading (名称_カナ) beside the name in やさしい日本語; the name as it is where the city's
    // list has neither (never a machine-made reading or translation).
    function displayName(p) {
        if (ui.lang === "en" && p.name_en) { return p.name_en; }
        if (ui.lang === "easy-ja" && p.name_kana) { return p.name + "（" + p.name_kana + "）"; }
        return p.name;
    }

    function el(tag, className, text) {
        var node = document.createElement(tag);
        if (className) { node.className = className; }
        if (text !== undefined && text !== null) { node.textContent = text; }
        return node;
    }

    function clear(node) {
        while (node.firstChild) { node.removeChild(node.firstChild); }
    }

    function jst(iso) {
        // Japan has no daylight saving time: UTC+9 is exact, whatever the phone's zone.
        var d = new Date(Date.parse(iso) + 9 * 3600 * 1000);
        var hh = ("0" + d.getUTCHours()).slice(-2), mm = ("0" + d.getUTCMinutes()).slice(-2);
        if (ui.lang === "en") {
            var months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                "Nov", "Dec"];
            return d.getUTCDate() + " " + months[d.getUTCMonth()] + ", " + hh + ":" + mm + " JST";
        }
        return (d.getUTCMonth() + 1) + "月" + d.getUTCDate() + "日 " + hh + ":" + mm;
    }

    function age(iso) {
        var minutes = Math.floor((Date.now() - Date.parse(iso)) / 60000);
        if (isNaN(minutes)) { return ""; }
        if (minutes < 1) { return t("just_now"); }
        if (minutes < 120) { return t("minutes_ago", {n: minutes}); }
        return t("hours_ago", {n: Math.floor(minutes / 60)});
    }

    function metres(a, b) {
        var rad = Math.PI / 180, r = 6371008.8;
        var dLat = (b.lat - a.lat) * rad, dLon = (b.lon - a.lon) * rad;
        var h = Math.sin(dLat / 2) * Math.sin(dLat / 2) + Math.cos(a.lat * rad) *
            Math.cos(b.lat * rad) * Math.sin(dLon / 2) * Math.sin(dLon / 2);
        return 2 * r * Math.asin(Math.min(1, Math.sqrt(h)));
    }

    function distanceText(m) {
        if (m < 1000) { return t("distance_m", {n: Math.max(10, Math.round(m / 10) * 10)}); }
        return t("distance_km", {n: (Math.round(m / 100) / 10).toFixed(1)});
    }

    // -- the data ------------------------------------------------------------------------------

    function shelters() {
        var list = [];
        var features = data.features || [];
        for (var i = 0; i < features.length; i++) {
            var f = features[i];
            var p = f.properties;
            list.push({
                p: p,
                order: i,
                lat: f.geometry.coordinates[1],
                lon: f.geometry.coordinates[0],
                open: OPEN_STATES[p.open_state] === true
            });
        }
        return list;
    }

    function suits(s) {
        return !ui.hazard || s.p.hazards.indexOf(ui.hazard) >= 0;
    }

    function usable(s) {
        // The only shelters ever suggested: open, designated for the hazard, not full.
        return s.open && suits(s) && s.p.crowding !== "full";
    }

    function visible(s) {
        return suits(s) && (!ui.openOnly || s.open);
    }

    function withDistances(list) {
        var walked = walkResult();
        for (var i = 0; i < list.length; i++) {
            var s = list[i];
            s.distance = ui.origin ? metres(ui.origin, s) : null;
            s.walked = !!(walked && walked.hasOwnProperty(s.p.shelter_id));
            if (s.walked) { s.distance = walked[s.p.shelter_id]; }
        }
        // Open sites first, always: the person is looking for somewhere to go now. Then the
        // sites with a way along the roads before those measured in a straight line.
        list.sort(function (a, b) {
            if (a.open !== b.open) { return a.open ? -1 : 1; }
            if (ui.origin && a.walked !== b.walked) { return a.walked ? -1 : 1; }
            if (ui.origin) { return a.distance - b.distance; }
            return a.order - b.order;
        });
        return list;
    }

    // -- walking distance ------------------------------------------------------------------------

    function walkResult() {
        // Metres along the roads by shelter id for the current origin, or null (straight lines).
        if (!ui.origin || !walk.net || walk.file !== data.walk_graph) { return null; }
        var key = ui.origin.lat.toFixed(6) + "," + ui.origin.lon.toFixed(6);
        if (walk.originKey !== key) {
            walk.originKey = key;
            walk.result = walk.net.distances(ui.origin.lat, ui.origin.lon);
        }
        return walk.result.ok ? walk.result.byId : null;
    }

    function ensureWalk() {
        // Fetch the network once someone has a place to measure from; re-render when it is in.
        var file = data.walk_graph;
        if (!ui.origin || !file || !window.fetch || walk.state === "loading" ||
            (walk.file === file && walk.state !== "none")) { return; }
        walk.file = file;
        walk.net = null;
        walk.originKey = null;
        walk.state = "loading";
        function failed() {
            if (walk.file !== file) { return; }
            walk.state = "failed";
            render();
        }
        function fetchNetwork() {
            window.fetch(file).then(function (response) {
                if (!response.ok) { throw new Error("HTTP " + response.status); }
                return response.json();
            }).then(function (doc) {
                if (walk.file !== file) { return; }
                walk.net = window.DxWalk.fromDocument(doc);
                walk.state = walk.net ? "ready" : "failed";
                render();
                fitToSuggestions();
            })["catch"](failed);
        }
        if (window.DxWalk) { fetchNetwork(); return; }
        loadScripts([byId("dx-nearest").getAttribute("data-walk-script")], fetchNetwork, failed);
    }

    function distanceNote() {
        // Which distance the numbers are, in words: never let a straight line pass for a walk.
        if (!ui.origin) { return ""; }
        if (walkResult()) { return t("walk_distance"); }
        if (data.walk_graph && walk.state === "loading") { return t("walk_loading"); }
        if (walk.result && !walk.result.ok && walk.file === data.walk_graph) { return t("walk_far"); }
        return t("straight_line");
    }

    function distanceLabel(s) {
        // Along the roads, or marked as straight when others on the same list are walked.
        var text = distanceText(s.distance);
        return walkResult() && !s.walked ? t("straight_tag", {d: text}) : text;
    }

    // -- rendering -----------------------------------------------------------------------------

    function openBadge(p) {
        return el("span", "dx-badge dx-st-" + p.open_state,
            CONFIG.open_symbols[p.open_state] + " " + t("open_state." + p.open_state));
    }

    function crowdingBadge(p) {
        if (!p.crowding) { return el("span", "dx-badge dx-cr-unknown", "? " + t("crowding_unknown")); }
        return el("span", "dx-badge dx-cr-" + p.crowding,
            CONFIG.crowding_symbols[p.crowding] + " " + t("crowding." + p.crowding));
    }

    function joinLabels(prefix, codes) {
        var words = [];
        for (var i = 0; i < codes.length; i++) { words.push(t(prefix + codes[i])); }
        return words.join(ui.lang === "en" ? ", " : "・");
    }

    function yesNo(value, yes, no) {
        if (value === null || value === undefined) { return t("unknown"); }
        return value ? t(yes) : t(no);
    }

    function addRow(dl, label, value) {
        dl.appendChild(el("dt", null, label));
        dl.appendChild(el("dd", null, value));
    }

    function listItem(s) {
        var p = s.p;
        var li = el("li", "dx-item" + (ui.focusId === p.shelter_id ? " dx-focus" : ""));
        li.id = "s-" + p.shelter_id;
        li.setAttribute("tabindex", "-1");
        li.appendChild(el("h3", null, displayName(p)));
        var line = el("p", "dx-badges");
        line.appendChild(openBadge(p));
        if (s.open) { line.appendChild(crowdingBadge(p)); }
        if (s.distance !== null) { line.appendChild(el("span", "dx-distance", distanceLabel(s))); }
        li.appendChild(line);
        li.appendChild(el("p", "dx-kinds", joinLabels("kind.", p.kinds)));
        if (p.public_note) {
            var note = el("p", "dx-note");
            note.appendChild(el("strong", null, t("public_note") + "："));
            note.appendChild(document.createTextNode(p.public_note));
            li.appendChild(note);
        }
        var details = el("details");
        details.appendChild(el("summary", null, t("details")));
        // The rows are built when opened: 139 closed boxes cost a phone nothing that way.
        var built = false;
        function build() {
            if (built) { return; }
            built = true;
            fillDetails(details, s);
        }
        details.addEventListener("toggle", function () { if (details.open) { build(); } });
        if (ui.focusId === p.shelter_id) { build(); details.open = true; }
        li.appendChild(details);
        return li;
    }

    function fillDetails(details, s) {
        var p = s.p;
        var dl = el("dl");
        addRow(dl, t("address"), p.address);
        addRow(dl, t("kinds"), joinLabels("kind.", p.kinds));
        addRow(dl, t("hazards"), p.hazards.length ? joinLabels("hazard.", p.hazards) : t("hazards_none"));
        addRow(dl, t("open_state"), t("open_state." + p.open_state));
        addRow(dl, t("crowding"), (p.crowding ? t("crowding." + p.crowding) : t("unknown")) +
            (p.crowding && p.crowding_by_staff ? " " + t("crowding_by_staff") : ""));
        if (p.evacuees !== null) { addRow(dl, t("evacuees"), t("people", {n: p.evacuees})); }
        if (p.capacity !== null) { addRow(dl, t("capacity"), t("people", {n: p.capacity})); }
        addRow(dl, t("pets"), yesNo(p.pets_accepted, "yes_pets", "no_pets"));
        addRow(dl, t("barrier_free"), yesNo(p.barrier_free, "yes", "no"));
        addRow(dl, t("reported_at"), p.reported_at ? jst(p.reported_at) + paren(age(p.reported_at))
            : t("not_reported"));
        details.appendChild(dl);
        var onMap = el("button", "dx-link-button", t("show_on_map"));
        onMap.type = "button";
        onMap.setAttribute("data-shelter-id", p.shelter_id);
        onMap.addEventListener("click", function () { showOnMap(p.shelter_id); });
        details.appendChild(onMap);
    }

    var listRun = 0;    // a newer render cancels the rest of an older one

    function renderList(list, done) {
        // The first screenful at once; on the first view the rest follows in small steps, so
        // a slow phone never freezes for the whole list (the count below is final at once).
        var ul = byId("dx-list");
        clear(ul);
        var items = [];
        for (var i = 0; i < list.length; i++) { if (visible(list[i])) { items.push(list[i]); } }
        var shown = items.length;
        var run = ++listRun;
        var next = 0;
        function more(n) {
            if (run !== listRun) { if (done) { done(); } return; }
            var fragment = document.createDocumentFragment();
            for (var stop = Math.min(items.length, next + n); next < stop; next++) {
                fragment.appendChild(listItem(items[next]));
            }
            ul.appendChild(fragment);
            if (next < items.length) { window.setTimeout(function () { more(30); }, 0); }
            else if (done) { done(); }
        }
        more(done ? 12 : items.length);
        var count = t("list_count", {shown: shown, total: list.length});
        if (ui.hazard) { count += " " + t("filtered_by", {hazard: t("hazard." + ui.hazard)}); }
        byId("dx-count").textContent = count;
        var note = byId("dx-straight");
        note.hidden = !ui.origin;
        note.textContent = distanceNote();
    }

    function nearestUsable(list) {
        // Open, designated for the chosen or announced hazard and not full; by distance.
        var best = [];
        if (!ui.origin) { return best; }
        var byDistance = list.slice().sort(function (a, b) { return a.distance - b.distance; });
        for (var i = 0; i < byDistance.length && best.length < NEAREST; i++) {
            if (usable(byDistance[i])) { best.push(byDistance[i]); }
        }
        return best;
    }

    function directionLinks(s) {
        // The phone's own map app (geo:), and the two common ones with walking directions.
        var to = s.lat.toFixed(6) + "," + s.lon.toFixed(6);
        var from = ui.origin.lat.toFixed(6) + "," + ui.origin.lon.toFixed(6);
        var apps = [
            ["directions_app", "geo:" + to + "?q=" + to + "(" + encodeURIComponent(displayName(s.p)) + ")"],
            ["directions_google", "https://www.google.com/maps/dir/?api=1&origin=" + from +
                "&destination=" + to + "&travelmode=walking"],
            ["directions_apple", "https://maps.apple.com/?saddr=" + from + "&daddr=" + to +
                "&dirflg=w"]
        ];
        var line = el("p", "dx-directions");
        line.appendChild(el("span", "dx-directions-label", t("directions") + "："));
        for (var i = 0; i < apps.length; i++) {
            var a = el("a", "dx-direction", t(apps[i][0]));
            a.href = apps[i][1];
            a.rel = "noopener noreferrer";
            if (i > 0) { a.target = "_blank"; }
            a.setAttribute("aria-label", t("directions_to", {name: displayName(s.p), app: t(apps[i][0])}));
            line.appendChild(a);
        }
        return line;
    }

    function renderNearest(list) {
        var box = byId("dx-nearest");
        clear(box);
        if (!ui.origin) {
            box.appendChild(el("p", null, t("nearest_need_origin")));
            return;
        }
        var best = nearestUsable(list);
        if (!best.length) {
            box.appendChild(el("p", "dx-warn", t("nearest_none")));
            return;
        }
        var ol = el("ol");
        for (var j = 0; j < best.length; j++) {
            var s = best[j];
            var li = el("li");
            li.setAttribute("data-shelter-id", s.p.shelter_id);
            var link = el("a", null, displayName(s.p));
            link.href = "#s-" + s.p.shelter_id;
            link.setAttribute("data-shelter-id", s.p.shelter_id);
            link.addEventListener("click", focusFromLink);
            li.appendChild(link);
            li.appendChild(el("span", "dx-distance", distanceLabel(s)));
            li.appendChild(document.createTextNode(" "));
            li.appendChild(openBadge(s.p));
            li.appendChild(crowdingBadge(s.p));
            li.appendChild(directionLinks(s));
            ol.appendChild(li);
        }
        box.appendChild(ol);
        box.appendChild(el("p", "dx-hint dx-distance-note", distanceNote()));
    }

    function focusFromLink(event) {
        event.preventDefault();
        focusItem(this.getAttribute("data-shelter-id"));
    }

    function focusItem(id) {
        ui.focusId = id;
        render();
        var item = byId("s-" + id);
        if (item) {
            item.scrollIntoView();
            item.focus();
        }
    }

    function paren(text) {
        // English puts a space before "(…)"; Japanese full-width brackets need none.
        return ui.lang === "en" ? " (" + text + ")" : "（" + text + "）";
    }

    function renderUpdated() {
        var stamp = byId("dx-updated");
        stamp.setAttribute("data-updated", data.updated_at);
        stamp.textContent = t("updated_at", {time: jst(data.updated_at)});
        byId("dx-age").textContent = paren(age(data.updated_at));
    }

    function followAnnouncedHazard() {
        // The hazard HQ announced (津波警報 …) is offered first, until the person chooses.
        if (!ui.hazardChosen) { ui.hazard = data.hazard || ""; }
    }

    function renderHazardNow() {
        var line = byId("dx-hazard-now");
        line.hidden = !data.hazard;
        line.textContent = data.hazard ? t("hazard_in_force", {hazard: t("hazard." + data.hazard)}) : "";
    }

    // -- 避難情報: the same markup as disaster_dx/public_alerts.py writes into the page ----------

    function shownAlerts() {
        var alerts = data.alerts || [];
        var inForce = [], lifted = [], i, j;
        var newest = Date.parse(data.updated_at);
        var windowMs = CONFIG.lifted_shown_hours * 3600 * 1000;
        for (i = 0; i < alerts.length; i++) { if (!alerts[i].lifted_at) { inForce.push(alerts[i]); } }
        for (i = 0; i < alerts.length; i++) {
            var a = alerts[i];
            if (!a.lifted_at) { continue; }
            var liftedAt = Date.parse(a.lifted_at);
            if (newest - liftedAt > windowMs) { continue; }
            // Followed by another for the same hazard and area (4 → 5): not an all-clear.
            var replaced = false;
            for (j = 0; j < alerts.length && !replaced; j++) {
                var other = alerts[j];
                replaced = other.id !== a.id && other.hazard === a.hazard &&
                    Date.parse(other.issued_at) >= liftedAt && sharesArea(a, other);
            }
            if (!replaced) { lifted.push(a); }
        }
        return {inForce: inForce, lifted: lifted};
    }

    function sharesArea(a, b) {
        for (var i = 0; i < a.areas.length; i++) {
            for (var j = 0; j < b.areas.length; j++) {
                if (a.areas[i].id === b.areas[j].id) { return true; }
            }
        }
        return false;
    }

    function areaNames(alert) {
        var key = ui.lang === "en" ? "name_en" : (ui.lang === "easy-ja" ? "name_easy" : "");
        var names = [];
        for (var i = 0; i < alert.areas.length; i++) {
            names.push((key && alert.areas[i][key]) || alert.areas[i].name);
        }
        return names.join(ui.lang === "en" ? ", " : "・");
    }

    function alertBox(a) {
        var box = el("div", "dx-alert dx-alert-l" + a.level);
        box.setAttribute("data-alert-id", a.id);
        var head = el("h3", "dx-alert-head");
        head.appendChild(el("span", "dx-alert-level", t("alert_level", {n: a.level})));
        head.appendChild(document.createTextNode(" "));
        head.appendChild(el("span", "dx-alert-name", t("alert." + a.level_code)));
        box.appendChild(head);
        box.appendChild(el("p", "dx-alert-action", t("alert_action." + a.level_code)));
        box.appendChild(el("p", "dx-alert-meta", t("alert_meta", {
            hazard: t("hazard." + a.hazard), areas: areaNames(a), time: jst(a.issued_at)
        })));
        return box;
    }

    function liftedLine(a) {
        var line = el("p", "dx-alert-lifted", t("alert_lifted", {
            time: jst(a.lifted_at), n: a.level, name: t("alert." + a.level_code),
            hazard: t("hazard." + a.hazard), areas: areaNames(a)
        }));
        line.setAttribute("data-alert-id", a.id);
        return line;
    }

    function renderAlerts() {
        var shown = shownAlerts();
        var list = byId("dx-alert-list");
        clear(list);
        var count = shown.inForce.length + shown.lifted.length;
        byId("dx-alerts").hidden = count === 0;
        if (!count) { return; }
        var box = el("div");
        box.setAttribute("data-l", ui.lang);
        box.lang = CONFIG.langs[ui.lang];
        for (var i = 0; i < shown.inForce.length; i++) { box.appendChild(alertBox(shown.inForce[i])); }
        for (var j = 0; j < shown.lifted.length; j++) { box.appendChild(liftedLine(shown.lifted[j])); }
        list.appendChild(box);
    }

    function renderSummary(list) {
        var open = 0;
        for (var i = 0; i < list.length; i++) { if (list[i].open) { open++; } }
        byId("dx-summary").textContent = t("open_count", {n: open});
    }

    function renderOrigin() {
        var line = byId("dx-origin");
        byId("dx-clear-origin").hidden = !ui.origin;
        if (!ui.origin) { return; }
        if (ui.origin.kind === "landmark") {
            line.textContent = t("origin_landmark", {name: ui.origin.name});
        } else {
            line.textContent = t(ui.origin.kind === "here" ? "origin_here" : "origin_picked");
        }
    }

    function renderHazardOptions() {
        var select = byId("dx-hazard");
        var present = {};
        var features = data.features || [];
        for (var i = 0; i < features.length; i++) {
            var hazards = features[i].properties.hazards;
            for (var j = 0; j < hazards.length; j++) { present[hazards[j]] = true; }
        }
        clear(select);
        var any = el("option", null, t("hazard_any"));
        any.value = "";
        select.appendChild(any);
        for (var k = 0; k < CONFIG.hazards.length; k++) {
            var code = CONFIG.hazards[k];
            if (!present[code]) { continue; }
            var option = el("option", null, t("hazard." + code));
            option.value = code;
            select.appendChild(option);
        }
        select.value = ui.hazard;
    }

    function renderLandmarks() {
        var select = byId("dx-landmark");
        var current = select.value;
        // One collator for the whole sort: localeCompare builds one per call (slow on phones).
        var order = window.Intl && window.Intl.Collator ? new window.Intl.Collator("ja").compare
            : function (a, b) { return a.localeCompare(b, "ja"); };
        var list = shelters().slice().sort(function (a, b) { return order(a.p.name, b.p.name); });
        clear(select);
        var none = el("option", null, t("landmark_none"));
        none.value = "";
        select.appendChild(none);
        for (var i = 0; i < list.length; i++) {
            var option = el("option", null, displayName(list[i].p));
            option.value = list[i].p.shelter_id;
            select.appendChild(option);
        }
        select.value = current;
    }

    function renderLegend() {
        var box = byId("dx-legend");
        clear(box);
        var crowding = {};
        for (var c in CONFIG.crowding_symbols) {
            if (CONFIG.crowding_symbols.hasOwnProperty(c)) { crowding[c] = CONFIG.crowding_symbols[c]; }
        }
        crowding.unknown = "?";   // 不明: open, but no crowding reported yet
        var groups = [["open_state", CONFIG.open_symbols, "dx-st-"],
            ["crowding", crowding, "dx-cr-"]];
        for (var g = 0; g < groups.length; g++) {
            box.appendChild(el("p", null, t(groups[g][0])));
            var ul = el("ul");
            for (var code in groups[g][1]) {
                if (!groups[g][1].hasOwnProperty(code)) { continue; }
                var li = el("li");
                var word = code === "unknown" ? t("unknown") : t(groups[g][0] + "." + code);
                li.appendChild(el("span", "dx-badge " + groups[g][2] + code,
                    groups[g][1][code] + " " + word));
                ul.appendChild(li);
            }
            box.appendChild(ul);
        }
        var marks = el("ul", "dx-legend-marks");
        var cluster = el("li");
        var sample = el("span", "dx-legend-cluster", "12");
        sample.setAttribute("aria-hidden", "true");
        cluster.appendChild(sample);
        cluster.appendChild(document.createTextNode(" " + t("legend_cluster")));
        marks.appendChild(cluster);
        var here = el("li");
        here.appendChild(el("span", "dx-badge dx-legend-origin", "★ " + t("origin_here_marker")));
        marks.appendChild(here);
        box.appendChild(marks);
    }

    function applyTexts() {
        var html = document.documentElement;
        html.lang = CONFIG.langs[ui.lang];
        html.setAttribute("data-lang", ui.lang);
        html.className = (ui.large ? "dx-large" : "") + (ui.listOnly ? " dx-map-hidden" : "");
        document.title = t("page_title");
        var nodes = document.querySelectorAll("[data-t]");
        for (var i = 0; i < nodes.length; i++) { nodes[i].textContent = t(nodes[i].getAttribute("data-t")); }
        var labelled = document.querySelectorAll("[data-t-aria]");
        for (var j = 0; j < labelled.length; j++) {
            labelled[j].setAttribute("aria-label", t(labelled[j].getAttribute("data-t-aria")));
        }
        var links = document.querySelectorAll(".dx-langs a");
        for (var k = 0; k < links.length; k++) {
            var mine = links[k].getAttribute("data-lang") === ui.lang;
            if (mine) { links[k].setAttribute("aria-current", "true"); } else { links[k].removeAttribute("aria-current"); }
        }
        byId("dx-large").setAttribute("aria-pressed", ui.large ? "true" : "false");
        byId("dx-list-only").checked = ui.listOnly;
        byId("dx-pick").setAttribute("aria-pressed", ui.picking ? "true" : "false");
        renderHazardOptions();
        // 139 options nobody sees before touching the box: built right after the first paint.
        window.setTimeout(renderLandmarks, 0);
        renderLegend();
    }

    function render(done) {
        ensureWalk();
        var list = withDistances(shelters());
        byId("dx-drill-notice").hidden = !data.drill_notice;
        renderUpdated();
        renderAlerts();
        renderHazardNow();
        renderSummary(list);
        renderOrigin();
        renderNearest(list);
        renderList(list, done);
        renderMarkers(list);
    }

    // -- the map (optional: the list above does everything without it) -------------------------

    function loadScripts(urls, done, failed) {
        // One after another: the clustering needs Leaflet, the layer needs both.
        if (!urls.length) { done(); return; }
        var script = document.createElement("script");
        script.src = urls[0];
        script.onload = function () { loadScripts(urls.slice(1), done, failed); };
        script.onerror = failed;
        document.head.appendChild(script);
    }

    function ensureMap() {
        if (ui.listOnly || map || mapLoading) { return; }
        var box = byId("dx-map");
        if (window.L && window.Supercluster && window.DxShelterLayer) { createMap(); return; }
        mapLoading = true;
        box.appendChild(el("p", "dx-map-message", t("map_loading")));
        var css = document.createElement("link");
        css.rel = "stylesheet";
        css.href = box.getAttribute("data-leaflet-css");
        document.head.appendChild(css);
        loadScripts(box.getAttribute("data-scripts").split(" "), function () {
            mapLoading = false;
            createMap();
        }, function () {
            mapLoading = false;
            clear(box);
            box.appendChild(el("p", "dx-map-message", t("map_failed")));
        });
    }

    function mapWhenNear() {
        // Leaflet (150 kB of script) only once the map is about to be seen: a phone that reads
        // the list first, or never scrolls, does not pay for it.
        if (!window.IntersectionObserver) { ensureMap(); return; }
        var watcher = new window.IntersectionObserver(function (entries) {
            for (var i = 0; i < entries.length; i++) {
                if (entries[i].isIntersecting) { watcher.disconnect(); ensureMap(); return; }
            }
        });
        watcher.observe(byId("dx-map"));
    }

    function createMap() {
        var box = byId("dx-map");
        clear(box);
        map = window.L.map(box, {center: CONFIG.center, zoom: CONFIG.zoom, zoomControl: true});
        window.L.tileLayer(CONFIG.tiles.url, {
            attribution: CONFIG.tiles.attribution,
            maxNativeZoom: 18,
            maxZoom: 19
        }).addTo(map);
        shelterLayer = window.DxShelterLayer(map, {
            symbols: CONFIG.open_symbols,
            stateWord: function (state) { return t("open_state." + state); },
            nameOf: displayName,
            crowding: function (p) {
                return p.crowding ? {symbol: CONFIG.crowding_symbols[p.crowding], word: t("crowding." + p.crowding)}
                    : {symbol: "?", word: t("unknown")};   // as in the legend: ? 不明
            },
            clusterTitle: function (total, parts) {
                var words = [];
                for (var i = 0; i < parts.length; i++) {
                    words.push(t("open_state." + parts[i].state) + " " + parts[i].n);
                }
                return t("cluster_title", {n: total, parts: words.join(ui.lang === "en" ? ", " : "・")});
            },
            popup: function (item) { return popup(item.s); }
        });
        window.dxPublicMap = map;   // read by the browser tests (is a site in view?)
        map.on("click", function (event) {
            if (!ui.picking) { return; }
            ui.picking = false;
            byId("dx-map").parentNode.className = "dx-map-section";
            setOrigin({lat: event.latlng.lat, lon: event.latlng.lng, kind: "picked"});
        });
        renderMarkers(withDistances(shelters()));
        // City zoom (12) as it is: fitting every site would zoom out to 11, where the centre's
        // 130 sites become one cluster. A chosen place is fitted with its suggestions instead.
        if (ui.origin) { fitToSuggestions(); }
    }

    function popup(s) {
        var p = s.p;
        var box = el("div", "dx-popup");
        box.appendChild(el("strong", null, displayName(p)));
        var line = el("div");
        line.appendChild(openBadge(p));
        if (s.open) { line.appendChild(crowdingBadge(p)); }
        box.appendChild(line);
        if (s.distance !== null) { box.appendChild(el("div", "dx-distance", distanceLabel(s))); }
        var more = el("button", "dx-link-button", t("show_in_list"));
        more.type = "button";
        more.addEventListener("click", function () { map.closePopup(); focusItem(p.shelter_id); });
        box.appendChild(more);
        return box;
    }

    function renderMarkers(list) {
        if (!map) { return; }
        var shown = [];
        for (var i = 0; i < list.length; i++) {
            if (visible(list[i])) { shown.push({id: list[i].p.shelter_id, lat: list[i].lat, lon: list[i].lon, p: list[i].p, s: list[i]}); }
        }
        var best = nearestUsable(list), featured = [];
        for (var j = 0; j < best.length; j++) { featured.push(best[j].p.shelter_id); }
        shelterLayer.setItems(shown, featured);
        if (originMarker) { map.removeLayer(originMarker); originMarker = null; }
        if (ui.origin) {
            var word = t(ui.origin.kind === "here" ? "origin_here_marker" : "origin_marker");
            var mark = el("span", "dx-pin-box dx-pin-me", "★ " + word);
            originMarker = window.L.marker([ui.origin.lat, ui.origin.lon], {
                icon: window.L.divIcon({html: mark, className: "dx-pin dx-pin-origin", iconSize: [0, 0]}),
                title: word,
                keyboard: false,
                zIndexOffset: 3000
            }).addTo(map);
        }
    }

    function fitToSuggestions() {
        // Me and the suggested shelters on one screen: the answer must not be off-screen.
        if (!map || !ui.origin) { return; }
        var best = nearestUsable(withDistances(shelters()));
        var points = [[ui.origin.lat, ui.origin.lon]];
        for (var i = 0; i < best.length; i++) { points.push([best[i].lat, best[i].lon]); }
        if (points.length === 1) {
            map.setView(points[0], Math.max(map.getZoom(), 14));
            return;
        }
        // Room for the pins, which are centred on their points (about 100 px wide).
        map.fitBounds(window.L.latLngBounds(points), {padding: [56, 40], maxZoom: 16, animate: false});
    }

    function showOnMap(id) {
        if (ui.listOnly) { setListOnly(false); }
        ensureMap();
        var tries = 0;
        (function open() {
            if (!shelterLayer) {
                if (tries++ < 50) { window.setTimeout(open, 100); }
                return;
            }
            byId("dx-map").scrollIntoView();
            shelterLayer.show(id);
        })();
    }

    function setListOnly(value) {
        ui.listOnly = value;
        store("dx-list-only", value ? "1" : "0");
        applyTexts();
        if (!value) {
            ensureMap();
            if (map) { map.invalidateSize(); }
        }
    }

    // -- where am I ----------------------------------------------------------------------------

    function setOrigin(origin) {
        ui.origin = origin;
        ui.focusId = null;
        render();
        fitToSuggestions();
    }

    function locate() {
        var line = byId("dx-origin");
        if (!navigator.geolocation) {
            line.textContent = t("geo_unsupported");
            return;
        }
        line.textContent = t("locating");
        navigator.geolocation.getCurrentPosition(function (position) {
            setOrigin({lat: position.coords.latitude, lon: position.coords.longitude, kind: "here"});
        }, function () {
            line.textContent = t("geo_failed");
        }, {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
    }

    function pick() {
        ui.picking = !ui.picking;
        if (ui.picking) {
            if (ui.listOnly) { setListOnly(false); }
            ensureMap();
            byId("dx-origin").textContent = t("pick_hint");
            byId("dx-map").scrollIntoView();
        }
        byId("dx-map").parentNode.className = "dx-map-section" + (ui.picking ? " dx-picking" : "");
        byId("dx-pick").setAttribute("aria-pressed", ui.picking ? "true" : "false");
    }

    function landmark() {
        var id = byId("dx-landmark").value;
        if (!id) { setOrigin(null); return; }
        var list = shelters();
        for (var i = 0; i < list.length; i++) {
            if (list[i].p.shelter_id === id) {
                setOrigin({lat: list[i].lat, lon: list[i].lon, kind: "landmark", name: list[i].p.name});
                return;
            }
        }
    }

    // -- fresh data ----------------------------------------------------------------------------

    function poll() {
        if (!window.fetch || !/^https?:$/.test(window.location.protocol)) { return; }
        window.fetch("shelters.geojson", {cache: "no-cache"}).then(function (response) {
            if (!response.ok) { throw new Error("HTTP " + response.status); }
            return response.json();
        }).then(function (fresh) {
            byId("dx-stale").hidden = true;
            if (fresh.updated_at !== data.updated_at || fresh.features.length !== data.features.length ||
                    fresh.drill_notice !== data.drill_notice) {
                data = fresh;
                followAnnouncedHazard();
                renderHazardOptions();
                renderLandmarks();
                render();
            }
        })["catch"](function () {
            byId("dx-stale").hidden = false;
        });
    }

    // -- start -----------------------------------------------------------------------------------

    function start() {
        if (queryParam("lang")) { store("dx-lang", ui.lang); }
        followAnnouncedHazard();
        applyTexts();
        render(function () { document.documentElement.setAttribute("data-dx-ready", "1"); });
        byId("dx-hazard").addEventListener("change", function () {
            ui.hazard = this.value;
            ui.hazardChosen = true;
            render();
        });
        byId("dx-open-only").addEventListener("change", function () { ui.openOnly = this.checked; render(); });
        byId("dx-list-only").addEventListener("change", function () { setListOnly(this.checked); });
        byId("dx-large").addEventListener("click", function () {
            ui.large = !ui.large;
            store("dx-large", ui.large ? "1" : "0");
            applyTexts();
            if (map) { map.invalidateSize(); }
        });
        byId("dx-locate").addEventListener("click", locate);
        byId("dx-pick").addEventListener("click", pick);
        byId("dx-landmark").addEventListener("change", landmark);
        byId("dx-clear-origin").addEventListener("click", function () {
            byId("dx-landmark").value = "";
            setOrigin(null);
        });
        var links = document.querySelectorAll(".dx-langs a");
        for (var i = 0; i < links.length; i++) {
            links[i].addEventListener("click", function () { store("dx-lang", this.getAttribute("data-lang")); });
        }
        mapWhenNear();
        window.setInterval(poll, POLL_MS);
        window.setInterval(renderUpdated, 30000);
        document.addEventListener("visibilitychange", function () {
            if (document.visibilityState === "visible") { poll(); }
        });
    }

    start();
}());
