"""The public snapshot served by the app: ``/``, ``/public/…`` and the page's own files.

The files in ``PUBLIC_DIR`` are written by :mod:`disaster_dx.publish`; nginx or a CDN should
serve them to citizens (see the README). The app's copy is the fallback and the development
server, so it is built for a surge anyway:

- bytes come from memory, re-read only when a file's mtime, size or inode changes (one
  ``stat`` per request, never a database query or a recomputation), so the page keeps serving
  the last snapshot while the database is down;
- strong ``ETag`` (a content hash, so every worker and every restart agrees) and
  ``If-None-Match`` → ``304``; short ``Cache-Control`` for data and pages, long for assets whose
  URL carries a content hash; ``stale-if-error`` lets caches ride out an outage;
- text files are gzip-compressed once, in memory, for clients that accept it;
- a small WSGI middleware answers these paths before Flask's per-request machinery (session,
  user loading, login guard), which would cost more than the file itself.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import re
import stat
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote_plus

from flask import Flask, Response, abort, request
from werkzeug.http import http_date, parse_etags

from disaster_dx.publish import ASSET_FOLDER, INDEX_PAGES, SNAPSHOT_FILES, Publisher

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)


#: Pages and data change with every HQ write: browsers and CDNs re-check after a few seconds.
CACHE_DATA = "public, max-age=10, stale-while-revalidate=30, stale-if-error=86400"
#: Assets requested with ``?v=<content hash>`` never change under that URL.
CACHE_VERSIONED = "public, max-age=31536000, immutable"
#: Assets without a version (Leaflet, loaded on demand): a day, then re-checked by ETag.
CACHE_ASSET = "public, max-age=86400, stale-if-error=604800"

#: The public page's policy (also in the page as a <meta> tag, for static hosts).
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data: https://cyberjapandata.gsi.go.jp; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'none'"
)

MIMETYPES = {
    ".html": "text/html; charset=utf-8",
    ".geojson": "application/geo+json",
    ".json": "application/json",
    ".csv": "text/csv; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    "": "text/plain; charset=utf-8",
}
_COMPRESSIBLE = (".html", ".geojson", ".json", ".csv", ".js", ".css", ".svg", "")
_MAX_CACHED_FILE = 32 * 1024 * 1024
_ASSET_PREFIX = f"{ASSET_FOLDER}/"
#: The road network the page measures walking distance with (:mod:`disaster_dx.walk_graph`).
WALK_FILE = re.compile(r"walk-[0-9a-f]{12}\.json")


@dataclass(frozen=True)
class Variant:
    """One representation of a file (as stored, or gzip-compressed) with its fixed headers."""

    body: bytes
    etag: str
    headers: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class CachedFile:
    """One published file held in memory: validators and headers computed once per change."""

    key: tuple[int, int, int]
    content_type: str
    plain: Variant
    packed: Variant | None

    @property
    def body(self) -> bytes:
        """The bytes as published."""
        return self.plain.body

    @property
    def etag(self) -> str:
        """Strong ETag of the bytes as published (a content hash, quoted)."""
        return self.plain.etag


class SnapshotFiles:
    """Files of ``PUBLIC_DIR`` by relative name, cached in memory until they change on disk.

    Publishing replaces files by rename, so a changed file has a new inode and mtime: a
    ``stat`` per request notices it at once, and the file is read (and hashed, compressed)
    once per change, not once per request.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._root = str(root)
        self._cache: dict[str, CachedFile] = {}
        self._lock = threading.Lock()

    def path_of(self, name: str) -> str | None:
        """The file for a URL path, or None for anything outside the folder or hidden.

        Hidden names cover the publish lock and the temp files of a write in progress. Plain
        string checks, not pathlib: this runs on every request.
        """
        parts = name.split("/")
        for part in parts:
            if not part or part[0] == "." or "\\" in part or "\0" in part:
                return None
        if os.path.splitext(parts[-1])[1] not in MIMETYPES:
            return None
        return os.path.join(self._root, *parts)

    def get(self, name: str) -> CachedFile | None:
        """The current content of ``name``, or None when it does not exist."""
        path = self.path_of(name)
        if path is None:
            return None
        try:
            info = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        cached = self._cache.get(name)
        if cached is not None and cached.key == (info.st_mtime_ns, info.st_size, info.st_ino):
            return cached
        return self._load(name, path)

    def _load(self, name: str, path: str) -> CachedFile | None:
        try:
            with open(path, "rb") as handle:
                info = os.fstat(handle.fileno())
                if not stat.S_ISREG(info.st_mode) or info.st_size > _MAX_CACHED_FILE:
                    return None
                body = handle.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        suffix = os.path.splitext(name)[1]
        digest = hashlib.blake2b(body, digest_size=16).hexdigest()
        common = [
            ("Last-Modified", http_date(info.st_mtime)),
            ("X-Content-Type-Options", "nosniff"),
        ]
        page = name in _INDEX_NAMES
        if page:
            common += [("Content-Security-Policy", PAGE_CSP), ("Referrer-Policy", "no-referrer")]
        packed = None
        if suffix in _COMPRESSIBLE and len(body) > 1024:
            # ``/`` is chosen by Accept-Language too (:func:`index_for`): caches must keep both.
            vary = "Accept-Encoding, Accept-Language" if page else "Accept-Encoding"
            common.append(("Vary", vary))
            etag = f'"{digest}-gz"'
            packed = Variant(
                gzip.compress(body, compresslevel=6, mtime=0),
                etag,
                (("ETag", etag), ("Content-Encoding", "gzip"), *common),
            )
        etag = f'"{digest}"'
        entry = CachedFile(
            key=(info.st_mtime_ns, info.st_size, info.st_ino),
            content_type=MIMETYPES[suffix],
            plain=Variant(body, etag, (("ETag", etag), *common)),
            packed=packed,
        )
        with self._lock:
            self._cache[name] = entry
        return entry


def _accepts_gzip(header: str) -> bool:
    for part in header.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            quality = params.strip().lower()
            return quality not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


@dataclass(frozen=True)
class Answer:
    """What to send for one request: status, headers (without the body length) and body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


def answer(
    files: SnapshotFiles,
    name: str,
    *,
    accept_encoding: str = "",
    if_none_match: str | None = None,
    versioned: bool = False,
) -> Answer | None:
    """The 200 or 304 for one published file (None when it does not exist).

    Everything here was computed when the file was loaded; a request only chooses a variant,
    compares an ETag and picks the ``Cache-Control`` line. No database, no recomputation.
    """
    entry = files.get(name)
    if entry is None:
        return None
    variant = entry.plain
    if entry.packed is not None and accept_encoding and _accepts_gzip(accept_encoding):
        variant = entry.packed
    if name.startswith(_ASSET_PREFIX):
        cache = CACHE_VERSIONED if versioned else CACHE_ASSET
    else:
        cache = CACHE_DATA
    if if_none_match and _matches(if_none_match, variant.etag):
        kept = [h for h in variant.headers if h[0] != "Content-Encoding"]
        return Answer(304, [*kept, ("Cache-Control", cache)], b"")
    headers = [*variant.headers, ("Cache-Control", cache), ("Content-Type", entry.content_type)]
    return Answer(200, headers, variant.body)


def file_response(files: SnapshotFiles, name: str) -> Response:
    """The Flask view of :func:`answer` (404 when the file does not exist)."""
    found = answer(
        files,
        name,
        accept_encoding=request.headers.get("Accept-Encoding", ""),
        if_none_match=request.headers.get("If-None-Match"),
        versioned=bool(request.args.get("v")),
    )
    if found is None:
        abort(404)
    return Response(found.body, status=found.status, headers=found.headers)


def public_name(path: str) -> str | None:
    """The published file a URL path names, or None when the path is not a public one.

    ``/`` and ``/public/`` are the page; ``/public/<file>`` is any published file; the page's
    own relative links (``shelters.geojson``, ``map.html``, ``site/…``) also work from ``/``.
    """
    if path in ("/", "/public/"):
        return "index.html"
    if path.startswith("/public/"):
        return path[len("/public/") :]
    if path.startswith(f"/{_ASSET_PREFIX}"):
        return path[1:]
    if path[1:] in SNAPSHOT_FILES or WALK_FILE.fullmatch(path[1:]):
        return path[1:]
    return None


_INDEX_NAMES = frozenset(INDEX_PAGES.values())
_EASY_JA = ("easy", "ja-easy")


def index_for(query: str, accept_language: str) -> str:
    """The public page in the language a visitor gets at ``/`` (the file name).

    The same choice ``site/lang.js`` makes in the browser, minus the one it remembers there:
    ``?lang=``, else English when the browser's first language is English, else Japanese.
    Serving the page already in that language means its first paint has the right words and
    nothing moves when the script starts (layout shift).
    """
    for part in query.split("&"):
        key, _, value = part.partition("=")
        if key == "lang":
            wanted = unquote_plus(value).lower()
            wanted = "easy-ja" if wanted in _EASY_JA else wanted
            if wanted in INDEX_PAGES:
                return INDEX_PAGES[wanted]
            break
    first = accept_language.split(",", 1)[0].split(";", 1)[0].strip().lower()
    if first == "en" or first.startswith("en-"):
        return INDEX_PAGES["en"]
    return INDEX_PAGES["ja"]


_REASONS = {200: "200 OK", 304: "304 Not Modified"}


class PublicFilesMiddleware:
    """Answers GET/HEAD for published files before Flask sees the request (WhiteNoise-style).

    The public snapshot is the same for everyone, so it needs none of what Flask does per
    request for staff pages: no request context, session cookie, user loading or login guard.
    Skipping them makes the fallback route cheaper than a bare Flask route (the budget is
    ≥ 0.9×, ``bench/public_load.py``) and keeps ``Vary: Cookie`` off public responses, so
    CDNs cache them. Anything else, and a file that does not exist, goes on to Flask, whose
    routes for the same paths give the same answers (and the 404s).
    """

    def __init__(self, app: WSGIApplication, files: SnapshotFiles) -> None:
        self.app = app
        self.files = files

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Serve a published file from memory, or pass the request on to Flask."""
        method = environ.get("REQUEST_METHOD")
        if method == "GET" or method == "HEAD":
            name = public_name(environ.get("PATH_INFO") or "/")
            if name is not None:
                query = environ.get("QUERY_STRING", "")
                if name == "index.html":
                    name = index_for(query, environ.get("HTTP_ACCEPT_LANGUAGE", ""))
                found = answer(
                    self.files,
                    name,
                    accept_encoding=environ.get("HTTP_ACCEPT_ENCODING", ""),
                    if_none_match=environ.get("HTTP_IF_NONE_MATCH"),
                    versioned=any(
                        part.startswith("v=") and len(part) > 2 for part in query.split("&")
                    ),
                )
                if found is not None:
                    headers = found.headers
                    if found.status == 200:
                        headers = [*headers, ("Content-Length", str(len(found.body)))]
                    start_response(_REASONS[found.status], headers)
                    return [] if method == "HEAD" else [found.body]
        return self.app(environ, start_response)


def init_public(server: Flask, files: SnapshotFiles, publisher: Publisher) -> None:
    """Serve ``PUBLIC_DIR`` at ``/`` and ``/public/…``, and publish once now.

    Publishing after each write is an after-save action of the runtime
    (:mod:`disaster_dx.runtime`; drills never publish, only their notice); this publishes once
    at start, so a fresh install has a public page at once. The routes are registered before
    the Dash app is created, so ``/`` is this page, not Dash's; :class:`PublicFilesMiddleware`
    answers them first.
    """
    try:
        publisher.publish()
    except Exception:  # the staff side must start even if the folder is not writable
        log.exception("could not publish to %s; serving what is there", files.root)

    def index() -> Response:
        name = index_for(
            request.query_string.decode("latin-1"), request.headers.get("Accept-Language", "")
        )
        return file_response(files, name)

    def asset(name: str) -> Response:
        return file_response(files, f"{ASSET_FOLDER}/{name}")

    def public_file(name: str) -> Response:
        return file_response(files, name)

    server.add_url_rule("/", "public_index", index, methods=["GET"])
    server.add_url_rule("/public/", "public_folder_index", index, methods=["GET"])
    server.add_url_rule("/public/<path:name>", "public_file", public_file, methods=["GET"])
    for name in SNAPSHOT_FILES:
        server.add_url_rule(
            f"/{name}", f"public_top_{name}", public_file, methods=["GET"], defaults={"name": name}
        )
    server.add_url_rule(f"/{ASSET_FOLDER}/<path:name>", "public_asset", asset, methods=["GET"])
    server.wsgi_app = PublicFilesMiddleware(server.wsgi_app, files)  # type: ignore[method-assign]


def _matches(if_none_match: str, etag: str) -> bool:
    """Whether ``If-None-Match`` names this ETag or ``*`` (werkzeug versions differ on lists)."""
    if any(token.strip() == "*" for token in if_none_match.split(",")):
        return True
    return bool(parse_etags(if_none_match).contains_weak(etag.strip('"')))
