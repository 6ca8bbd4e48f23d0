/* /hq clientside callbacks (web/hq): only moves what the server already drew into view. */
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    dx_hq: {
        /* After a shelter is chosen, scroll the page just enough that its panel is in view. */
        showSide: function (detail) {
            const side = document.getElementById("hq-side");
            if (detail && side) {
                window.requestAnimationFrame(function () {
                    side.scrollIntoView({block: "nearest", inline: "nearest"});
                });
            }
            return Boolean(detail);
        },
    },
});
