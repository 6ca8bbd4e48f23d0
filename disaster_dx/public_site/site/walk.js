/* Walking distance to the shelters, in the phone: Dijkstra over the city's road network.
 *
 * The publisher writes the network as walk-<hash>.json (disaster_dx/walk_graph.py) only when a
 * real road network is loaded. This file is fetched with it, only when someone asks for the
 * nearest shelters. Both the person and each shelter join the network at the nearest point
 * of the nearest road (plus the walk off the road), the same rule the server's plans use.
 * Plain ES5 with typed arrays, for old phones.
 */
(function () {
    "use strict";

    var R = 6371008.8, RAD = Math.PI / 180;

    function Network(doc) {
        var n = doc.lon_e6.length, m = doc.len_dm.length, i, acc;
        this.lon = new Float64Array(n);
        this.lat = new Float64Array(n);
        for (acc = 0, i = 0; i < n; i++) { acc += doc.lon_e6[i]; this.lon[i] = acc / 1e6; }
        for (acc = 0, i = 0; i < n; i++) { acc += doc.lat_e6[i]; this.lat[i] = acc / 1e6; }
        this.u = new Int32Array(m);
        this.v = new Int32Array(m);
        this.len = new Float64Array(m);
        for (acc = 0, i = 0; i < m; i++) {
            acc += doc.u[i];
            this.u[i] = acc;
            this.v[i] = acc + doc.v[i];
            this.len[i] = doc.len_dm[i] / 10;
        }
        // Both directions of every edge, grouped by node (compressed rows).
        var start = new Int32Array(n + 1), next = new Int32Array(n);
        for (i = 0; i < m; i++) { start[this.u[i] + 1]++; start[this.v[i] + 1]++; }
        for (i = 0; i < n; i++) { start[i + 1] += start[i]; next[i] = start[i]; }
        this.start = start;
        this.to = new Int32Array(2 * m);
        this.w = new Float64Array(2 * m);
        for (i = 0; i < m; i++) {
            this.to[next[this.u[i]]] = this.v[i];
            this.w[next[this.u[i]]++] = this.len[i];
            this.to[next[this.v[i]]] = this.u[i];
            this.w[next[this.v[i]]++] = this.len[i];
        }
        this.n = n;
        this.m = m;
        this.shelters = doc.shelters || {};
        this.maxOff = doc.max_off_road_m;
    }

    Network.prototype.nearestEdge = function (lat, lon) {
        // Metres in a local plane around the person: exact enough within a city.
        var kx = Math.cos(lat * RAD) * RAD * R, ky = RAD * R;
        var best = {edge: -1, t: 0, off: Infinity};
        for (var e = 0; e < this.m; e++) {
            var ax = (this.lon[this.u[e]] - lon) * kx, ay = (this.lat[this.u[e]] - lat) * ky;
            var dx = (this.lon[this.v[e]] - lon) * kx - ax, dy = (this.lat[this.v[e]] - lat) * ky - ay;
            var seg = dx * dx + dy * dy;
            var t = seg > 0 ? Math.max(0, Math.min(1, -(ax * dx + ay * dy) / seg)) : 0;
            var px = ax + t * dx, py = ay + t * dy;
            var d = Math.sqrt(px * px + py * py);
            if (d < best.off) { best = {edge: e, t: t, off: d}; }
        }
        return best;
    };

    Network.prototype.search = function (seeds) {
        // Dijkstra with a binary heap of (distance, node); stale entries are skipped.
        var dist = new Float64Array(this.n), done = new Uint8Array(this.n);
        var heapD = [], heapN = [], i;
        for (i = 0; i < this.n; i++) { dist[i] = Infinity; }
        function push(d, node) {
            var k = heapD.length;
            heapD.push(d);
            heapN.push(node);
            while (k > 0) {
                var p = (k - 1) >> 1;
                if (heapD[p] <= d) { break; }
                heapD[k] = heapD[p]; heapN[k] = heapN[p];
                k = p;
            }
            heapD[k] = d; heapN[k] = node;
        }
        function pop() {
            var top = heapN[0], lastD = heapD.pop(), lastN = heapN.pop(), k = 0, size = heapD.length;
            if (size) {
                for (;;) {
                    var c = 2 * k + 1;
                    if (c >= size) { break; }
                    if (c + 1 < size && heapD[c + 1] < heapD[c]) { c++; }
                    if (heapD[c] >= lastD) { break; }
                    heapD[k] = heapD[c]; heapN[k] = heapN[c];
                    k = c;
                }
                heapD[k] = lastD; heapN[k] = lastN;
            }
            return top;
        }
        for (i = 0; i < seeds.length; i++) {
            if (seeds[i][1] < dist[seeds[i][0]]) { dist[seeds[i][0]] = seeds[i][1]; push(seeds[i][1], seeds[i][0]); }
        }
        while (heapD.length) {
            var node = pop();
            if (done[node]) { continue; }
            done[node] = 1;
            for (var j = this.start[node]; j < this.start[node + 1]; j++) {
                var d = dist[node] + this.w[j], to = this.to[j];
                if (d < dist[to]) { dist[to] = d; push(d, to); }
            }
        }
        return dist;
    };

    Network.prototype.distances = function (lat, lon) {
        // {ok: true, byId: {shelter_id: metres}} — or {ok: false, reason: "far"} when the person
        // is farther from every road than the publisher allowed for shelters.
        var at = this.nearestEdge(lat, lon);
        if (at.edge < 0 || at.off > this.maxOff) { return {ok: false, reason: "far"}; }
        var e0 = at.edge, len0 = this.len[e0];
        var dist = this.search([[this.u[e0], at.off + at.t * len0], [this.v[e0], at.off + (1 - at.t) * len0]]);
        var byId = {};
        for (var id in this.shelters) {
            if (!this.shelters.hasOwnProperty(id)) { continue; }
            var s = this.shelters[id], e = s[0], t = s[1], off = s[2], len = this.len[e];
            var d = Math.min(dist[this.u[e]] + t * len, dist[this.v[e]] + (1 - t) * len);
            if (e === e0) { d = Math.min(d, at.off + Math.abs(t - at.t) * len); }
            if (isFinite(d)) { byId[id] = d + off; }
        }
        return {ok: true, byId: byId};
    };

    window.DxWalk = {
        // The network from its JSON document (format 1), or null for a format this page does not know.
        fromDocument: function (doc) { return doc && doc.format === 1 ? new Network(doc) : null; }
    };
})();
