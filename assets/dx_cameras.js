/* Tower-camera layer for dash-leaflet, referenced from Python as {"variable": "dx.cameras.…"}.
 * Python (layers/cameras.py) sends translated labels; these functions only draw them.
 * Health is shown by colour AND line pattern AND words. Every text goes in through textContent.
 * The popup asks the app (/cameras/<id>/status.json, same origin, the staff session) for the
 * newest frame and its age while it is open, so the map layer itself rarely changes. */
(function () {
    "use strict";

    function el(tag, className, text) {
        const node = document.createElement(tag);
        if (className) { node.className = className; }
        if (text !== undefined && text !== null) { node.textContent = text; }
        return node;
    }

    // A small camera drawn as SVG (no icon font or emoji needed), coloured by health.
    function cameraIcon(colour) {
        const ns = "http://www.w3.org/2000/svg";
        const svg = document.createElementNS(ns, "svg");
        svg.setAttribute("viewBox", "0 0 24 16");
        svg.setAttribute("width", "20");
        svg.setAttribute("height", "14");
        svg.setAttribute("class", "dx-camera-icon");
        svg.setAttribute("aria-hidden", "true");
        const body = document.createElementNS(ns, "rect");
        body.setAttribute("x", "1"); body.setAttribute("y", "3");
        body.setAttribute("width", "15"); body.setAttribute("height", "11");
        body.setAttribute("rx", "2"); body.setAttribute("fill", colour);
        const lens = document.createElementNS(ns, "polygon");
        lens.setAttribute("points", "16,7 23,3 23,14 16,10");
        lens.setAttribute("fill", colour);
        const dot = document.createElementNS(ns, "circle");
        dot.setAttribute("cx", "8.5"); dot.setAttribute("cy", "8.5"); dot.setAttribute("r", "3");
        dot.setAttribute("fill", "#fff");
        svg.appendChild(body); svg.appendChild(lens); svg.appendChild(dot);
        return svg;
    }

    function healthLine(p) {
        const line = el("div", "dx-camera-health dx-health-" + p.health);
        const symbol = el("span", "dx-camera-symbol", p.symbol);
        symbol.style.color = p.colour;
        line.appendChild(symbol);
        line.appendChild(el("span", "dx-camera-health-label", p.health_label));
        return line;
    }

    function popupContent(p) {
        const box = el("div", "dx-camera-popup");
        box.setAttribute("data-camera-id", p.camera_id);
        box.appendChild(el("strong", "dx-camera-name", p.name));
        box.appendChild(healthLine(p));
        const img = el("img", "dx-camera-frame");
        img.alt = p.name;
        img.width = 320;
        img.hidden = true;
        box.appendChild(img);
        box.appendChild(el("div", "dx-camera-age", p.lang === "en" ? "Loading…" : "読み込み中…"));
        box.appendChild(el("div", "dx-camera-error", p.error_label || ""));
        box.appendChild(el("div", "dx-camera-view", p.view_label + "・" + p.public_label));
        const link = el("a", "dx-camera-wall-link",
                        p.lang === "en" ? "Open the camera wall" : "カメラ一覧で見る");
        link.href = p.wall_url;
        const large = el("a", "dx-camera-large-link",
                         p.lang === "en" ? "Open large (last hour)" : "大きく表示（この1時間の記録）");
        large.href = "/hq/cameras/" + encodeURIComponent(p.camera_id) +
            (p.lang === "en" ? "?lang=en" : "");
        box.appendChild(large);
        box.appendChild(link);
        return box;
    }

    function refresh(box, p) {
        return fetch(p.status_url, {credentials: "same-origin", cache: "no-store"})
            .then(function (response) {
                if (!response.ok) { throw new Error("HTTP " + response.status); }
                return response.json();
            })
            .then(function (s) {
                const img = box.querySelector(".dx-camera-frame");
                if (s.frame_url && img.getAttribute("src") !== s.frame_url) {
                    img.src = s.frame_url;
                }
                img.hidden = !s.frame_url;
                const age = box.querySelector(".dx-camera-age");
                age.textContent = s.frame_label;
                age.setAttribute("data-frame", s.frame || "");
                const health = box.querySelector(".dx-camera-health");
                health.className = "dx-camera-health dx-health-" + s.health;
                health.querySelector(".dx-camera-symbol").textContent = s.symbol;
                health.querySelector(".dx-camera-symbol").style.color = s.colour;
                health.querySelector(".dx-camera-health-label").textContent = s.health_label;
                box.querySelector(".dx-camera-error").textContent = s.error_label || "";
            })
            .catch(function () {
                box.querySelector(".dx-camera-age").textContent =
                    p.lang === "en" ? "Could not load the frame." : "画像を読み込めませんでした。";
            });
    }

    window.dx = Object.assign({}, window.dx, {
        cameras: {
            tower: function (feature, latlng) {
                const p = feature.properties;
                const box = el("div", "dx-camera-marker dx-health-" + p.health);
                box.setAttribute("data-camera-id", p.camera_id);
                box.appendChild(cameraIcon(p.colour));
                box.appendChild(el("span", "dx-camera-marker-label", p.symbol + " " + p.health_label));
                return L.marker(latlng, {
                    icon: L.divIcon({html: box, className: "dx-camera-wrap", iconSize: null,
                                     iconAnchor: [10, 10]}),
                    title: p.name + "（" + p.health_label + "）",
                    alt: p.name,
                    keyboard: true,
                    zIndexOffset: 3000,
                });
            },
            cone: function (feature) {
                const p = feature.properties;
                return {
                    color: p.colour, weight: 2, opacity: 0.95, dashArray: p.dash || null,
                    fillColor: p.colour, fillOpacity: 0.18,
                };
            },
            bind: function (feature, layer) {
                const p = feature.properties;
                // A DOM node, not a string: Leaflet reads a string tooltip as HTML, and a
                // camera's name comes from the registry file (text only, never markup).
                const tip = document.createElement("span");
                tip.textContent = p.name + "・" + p.health_label;
                layer.bindTooltip(tip, {sticky: p.part === "cone"});
                const box = popupContent(p);
                layer.bindPopup(box, {minWidth: 330, maxWidth: 360, autoPanPadding: [20, 20]});
                let timer = null;
                layer.on("popupopen", function () {
                    refresh(box, p);
                    timer = window.setInterval(function () { refresh(box, p); }, 5000);
                });
                layer.on("popupclose", function () {
                    if (timer) { window.clearInterval(timer); timer = null; }
                });
                if (p.part === "cone") {
                    layer.on("add", function () {
                        const path = layer.getElement && layer.getElement();
                        if (path) {
                            path.classList.add("dx-camera-cone", "dx-health-" + p.health);
                            path.setAttribute("data-camera-id", p.camera_id);
                        }
                    });
                }
            },
        },
    });
}());
