"""Which paths exist: a real 404 for unknown ones, ``robots.txt``, and one normal form of a path.

Dash serves its pages through a catch-all route (``/<path:path>``), so before this every path —
``/.env``, ``/robots.txt``, ``/anything`` — answered 200 with the Dash shell. Here a request
that only the catch-all matched is let through when it names a registered Dash page (its path
or path template), sent once to the normal form of its path when that is a page
(``//hq`` → ``/hq``), and otherwise answered with a small 404 page in Japanese and English.
Dash's own routes (``/_dash-…``, ``/assets/…``) and every Flask route keep their rule.

:func:`normalised` is also what the login guard compares with, so ``//hq``, ``/hq/../hq``,
``/%68q`` or ``/HQ`` cannot slip past a check written for ``/hq``.
"""

from __future__ import annotations

import pkgutil
import posixpath
import re
from typing import Any
from urllib.parse import unquote

import dash
from flask import Flask, Response, redirect, request

from disaster_dx.templating import render
from disaster_dx.web.api_problems import best_language

#: Dash's catch-all page route (the endpoint name Dash gives it).
DASH_CATCH_ALL = "/<path:path>"

#: What crawlers may index: the public shelter page, its data and the public map — citizens
#: search for 「南国市 避難所」 in a disaster. Staff pages, the API, the phone form, the LINE
#: webhook and camera pictures are not for search engines (they need a login anyway; the
#: paths are in the open-source README, so listing them gives nothing away). Plain prefixes,
#: no ``$`` or ``*``: simple parsers (first match, no wildcards, like Python's
#: ``urllib.robotparser``) read it exactly as RFC 9309 crawlers do.
ROBOTS_TXT = """\
# 南国市 避難所情報 (disaster_dx)
User-agent: *
Disallow: /hq
Disallow: /plans
Disallow: /drill
Disallow: /m/
Disallow: /api/
Disallow: /login
Disallow: /logout
Disallow: /line/
Disallow: /cameras/
Disallow: /healthz
Allow: /
"""


def canonical(path: str) -> str:
    """``path`` decoded, with one slash between segments and no dot segments (case kept).

    Werkzeug decodes the path once; decoding again until it no longer changes catches a
    double-encoded ``%2568q``. Backslashes count as slashes (some proxies treat them so).
    """
    text = path
    for _ in range(3):
        decoded = unquote(text)
        if decoded == text:
            break
        text = decoded
    text = posixpath.normpath("/" + text.replace("\\", "/").lstrip("/"))
    return re.sub("/{2,}", "/", text)  # normpath keeps a leading '//'


def normalised(path: str) -> str:
    """What the guard compares: :func:`canonical` in lower case (``/HQ`` is ``/hq``)."""
    return canonical(path).lower()


def under(path: str, prefixes: tuple[str, ...]) -> bool:
    """Whether the normal form of ``path`` is one of ``prefixes`` or below one."""
    bare = normalised(path)
    return any(bare == p or bare.startswith(p + "/") for p in prefixes)


def _template_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(<[^>]+>)", template.strip("/"))
    body = "".join("[^/]+" if part.startswith("<") else re.escape(part) for part in parts)
    return re.compile(body)


def is_page(path: str) -> bool:
    """Whether ``path`` names a registered Dash page (trailing slash allowed, as Dash does)."""
    bare = path.strip("/")
    for page in dash.page_registry.values():
        template = page.get("path_template")
        if template and _template_pattern(template).fullmatch(bare):
            return True
        if bare == str(page["path"]).strip("/"):
            return True
    return False


def not_found_page() -> Response:
    """The 404 page: both languages, the reader's first (``?lang=`` or the browser's)."""
    first = best_language(request.args.get("lang"), request.headers.get("Accept-Language"))
    order = [first, "ja" if first == "en" else "en"]
    title = "Page not found" if first == "en" else "ページが見つかりません"
    body = render("not_found.html", first=first, order=order, title=title)
    response = Response(body, status=404, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _robots() -> Response:
    response = Response(ROBOTS_TXT, mimetype="text/plain")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


def _favicon() -> Response:
    """Dash's own icon (served at ``/_favicon.ico``) at the path every browser asks for.

    Pages that name no icon (the login page, the static pages) make the browser ask for
    ``/favicon.ico``: a 404 there is an error in every staff console.
    """
    icon = pkgutil.get_data("dash", "favicon.ico") or b""
    response = Response(icon, mimetype="image/x-icon")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


def _only_real_pages() -> Any:
    """A request only Dash's catch-all matched: a page, its normal form, or 404."""
    rule = request.url_rule
    if request.method not in ("GET", "HEAD") or rule is None or rule.endpoint != DASH_CATCH_ALL:
        return None  # OPTIONS and the rest: their own handlers (the API answers 405)
    if is_page(request.path):
        return None
    target = canonical(request.path)
    if target != request.path and is_page(target):
        query = request.query_string.decode("latin-1")
        return redirect(target + (f"?{query}" if query else ""), code=308)
    return not_found_page()


def init_paths(server: Flask) -> None:
    """Serve ``/robots.txt`` and answer unknown paths with 404 (after the login guard)."""
    server.add_url_rule("/robots.txt", "robots_txt", _robots, methods=["GET"])
    server.add_url_rule("/favicon.ico", "favicon_ico", _favicon, methods=["GET"])
    server.before_request(_only_real_pages)
