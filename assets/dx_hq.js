/* /hq clientside callbacks (web/hq): only moves what the server already drew into view. */
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    dx_hq: {
        /* After a shelter is chosen, scroll the page just enough that the map and the board
         * are whole on screen: the panel (inside the map) and the selected row with them. */
        showSide: function (detail) {
            const side = document.getElementById("hq-side");
            const main = side && side.closest(".dx-hq-main");
            if (detail && main) {
                window.requestAnimationFrame(function () {
                    main.scrollIntoView({block: "nearest", inline: "nearest"});
                });
            }
            return Boolean(detail);
        },
    },
});
