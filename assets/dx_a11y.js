/* Accessible names for controls Dash draws as ARIA widgets, on every staff page.
 *
 * Dash 4 renders RadioItems, Checklist and Slider as ARIA widgets (role listbox, slider …)
 * inside a <div>, so a <label for="…"> beside them names nothing, and DataTable's row radios
 * and dcc.Upload's file input carry no name at all. Screen readers then announce "list box"
 * with no name. This script copies each label onto its widget (aria-labelledby) and gives the
 * nameless ones a short name in the page's language, whenever Dash changes the page.
 * Nothing here changes what is shown or how it works.
 */
(function () {
    "use strict";

    var NATIVE = /^(INPUT|SELECT|TEXTAREA|BUTTON|METER|OUTPUT|PROGRESS)$/;
    var WIDGETS = "[role=listbox],[role=radiogroup],[role=group],[role=slider]";

    function english(el) {
        var holder = el.closest("[lang]");
        return holder !== null && holder.getAttribute("lang") === "en";
    }

    function nameFromLabels() {
        document.querySelectorAll("label[for]").forEach(function (label) {
            var target = document.getElementById(label.htmlFor);
            if (target === null || NATIVE.test(target.tagName)) {
                return;  // a native control: the browser already uses the label
            }
            if (!label.id) {
                label.id = "dx-label-" + label.htmlFor;
            }
            var widgets = [target];
            target.querySelectorAll(WIDGETS).forEach(function (w) { widgets.push(w); });
            widgets.forEach(function (w) {
                if ((w === target && !w.getAttribute("role")) || w.hasAttribute("aria-label")) {
                    return;
                }
                if (w.getAttribute("aria-labelledby") !== label.id) {
                    w.setAttribute("aria-labelledby", label.id);
                }
            });
        });
    }

    function nameTheNameless() {
        document.querySelectorAll("input[name^='row-select-']:not([aria-label])").forEach(
            function (radio) {
                radio.setAttribute("aria-label", english(radio) ? "Select this row" : "この行を選択");
            }
        );
        document.querySelectorAll("input[type=file]:not([aria-label])").forEach(function (input) {
            var box = input.parentElement;
            var text = box !== null ? box.textContent.trim() : "";
            input.setAttribute("aria-label", text || (english(input) ? "Choose a file" : "ファイルを選択"));
        });
        document.querySelectorAll(".dash-slider-thumb:not([aria-label])").forEach(function (thumb) {
            var titled = thumb.closest("[title]");
            if (titled !== null) {
                thumb.setAttribute("aria-label", titled.getAttribute("title"));
            }
        });
    }

    var pending = false;

    function refresh() {
        pending = false;
        nameFromLabels();
        nameTheNameless();
    }

    function schedule() {
        if (!pending) {
            pending = true;
            window.requestAnimationFrame(refresh);
        }
    }

    function start() {
        new MutationObserver(schedule).observe(document.body, {childList: true, subtree: true});
        schedule();
    }

    if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", start);
    } else {
        start();
    }
}());
