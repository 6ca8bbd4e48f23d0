/* 避難情報 on the HQ map (layers/alerts.py sends the data; this only draws it).
 * Each area: the level's official colour AND a line pattern AND the words (tooltip), never
 * colour alone. Text always goes in through textContent: area names come from imported files. */
window.dx = Object.assign({}, window.dx, {
    alerts: {
        areaStyle: function (feature) {
            const p = feature.properties;
            return {
                color: p.colour,
                weight: p.level >= 5 ? 5 : 4,
                dashArray: p.dash || null,
                fill: true,
                fillColor: p.colour,
                fillOpacity: 0.06,
            };
        },
        areaTooltip: function (feature, layer) {
            const p = feature.properties;
            const tip = document.createElement("div");
            const level = document.createElement("strong");
            level.textContent = p.label;
            tip.appendChild(level);
            const area = document.createElement("div");
            area.textContent = p.area;
            tip.appendChild(area);
            layer.bindTooltip(tip, {sticky: true, className: "dx-alert-tip"});
        },
        neededMarker: function (feature, latlng) {
            // A small "！" badge at the shelter marker's upper right: 60 of them must still
            // leave the map readable at city zoom. The words are in the panel's list.
            const p = feature.properties;
            const box = document.createElement("div");
            box.className = "dx-needed-tag";
            box.setAttribute("data-shelter-id", p.shelter_id);
            box.setAttribute("aria-label", p.name + "：" + p.word);
            box.textContent = "！";
            const icon = L.divIcon({
                html: box, className: "dx-needed-wrap", iconSize: null, iconAnchor: [-4, 20],
            });
            return L.marker(latlng, {
                icon: icon, keyboard: false, interactive: false, zIndexOffset: 1500,
            });
        },
    },
});
