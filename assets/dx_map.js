/* Map marker functions for dash-leaflet, referenced from Python as {"variable": "dx.map.…"}.
 * Python sends data (GeoJSON properties, hideout); these only draw it.
 * Every text goes in through textContent, never innerHTML: names and notes are user data. */
window.dx = Object.assign({}, window.dx, {
    map: {
        shelterMarker: function (feature, latlng, context) {
            const p = feature.properties;
            const hideout = (context && context.hideout) || {};
            const box = document.createElement("div");
            box.className = "dx-marker dx-state-" + p.open_state +
                (p.crowding ? " dx-crowding-" + p.crowding : "") +
                (hideout.selected === p.shelter_id ? " dx-selected" : "");
            box.setAttribute("data-shelter-id", p.shelter_id);
            const symbol = document.createElement("span");
            symbol.className = "dx-marker-symbol";
            symbol.style.color = p.colour;
            symbol.textContent = p.symbol;
            box.appendChild(symbol);
            if (p.open) {
                const crowd = document.createElement("span");
                crowd.className = "dx-marker-crowding";
                crowd.textContent = p.crowding_label;
                box.appendChild(crowd);
            }
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
        shelterTooltip: function (feature, layer, context) {
            const p = feature.properties;
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
            const hideout = (context && context.hideout) || {};
            if (!hideout.hazard) { return true; }
            return feature.properties.hazards.indexOf(hideout.hazard) >= 0;
        },
    },
});
