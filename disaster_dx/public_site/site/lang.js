/* Chooses the page's language before anything is drawn (loaded in <head>, not deferred).
 *
 * The banner of 避難情報 is written into the page in every language; CSS shows the one named
 * by <html data-lang>. Setting it here, before the body is parsed, means the first paint
 * already shows the right words, so nothing moves when public.js takes over. The choice:
 * ?lang=, then the one remembered from an earlier visit, then the browser's language.
 * public.js reads the result from <html data-lang> (one place decides).
 */
(function () {
    "use strict";
    var LANGS = {ja: "ja", en: "en", "easy-ja": "ja"};

    function asked() {
        var pairs = window.location.search.replace(/^\?/, "").split("&");
        for (var i = 0; i < pairs.length; i++) {
            var kv = pairs[i].split("=");
            try {
                if (decodeURIComponent(kv[0]) === "lang") {
                    return decodeURIComponent((kv[1] || "").replace(/\+/g, " ")).toLowerCase();
                }
            } catch (e) { return ""; }
        }
        return "";
    }

    function remembered() {
        try { return window.localStorage.getItem("dx-lang"); } catch (e) { return null; }
    }

    var lang = asked();
    if (lang === "easy" || lang === "ja-easy") { lang = "easy-ja"; }
    if (!LANGS.hasOwnProperty(lang)) {
        lang = remembered();
        if (!LANGS.hasOwnProperty(lang)) {
            var wanted = (navigator.languages && navigator.languages[0]) || navigator.language || "ja";
            lang = /^en\b/i.test(wanted) ? "en" : "ja";
        }
    }
    var html = document.documentElement;
    html.setAttribute("data-lang", lang);
    html.lang = LANGS[lang];
}());
