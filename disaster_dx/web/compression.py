"""Compressed staff responses: Dash's bundles, its callbacks, the API and the phone form.

flask-compress picks brotli or gzip from ``Accept-Encoding`` and compresses after each view;
on top of it:

- Dash's bundles (``/_dash-component-suites/…``, about 1.5 MB of JavaScript, plus plotly's
  4.8 MB on /hq) and other files whose URL carries a version (``?v=``, ``?m=``) are compressed
  once per process and kept in a bounded in-memory cache, instead of once per download;
- ETags stay right: flask-compress gives a compressed body its own strong ETag
  (``"<etag>:br"``) and answers ``If-None-Match`` for it with 304;
- the public files are left alone: their WSGI middleware answers before Flask (and keeps its
  own gzip variant with its own ETag), and a response that already has a
  ``Content-Encoding`` is never compressed again;
- the login page is never compressed: it carries the CSRF token next to text an attacker can
  choose (``next``, the user name), the setting a length side channel (BREACH) needs.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from flask import Flask, Request, Response, request
from flask_compress import Compress

#: Media types worth compressing (text-like); images and camera frames are already compressed.
COMPRESSIBLE = [
    "text/html",
    "text/css",
    "text/plain",
    "text/csv",
    "text/xml",
    "text/javascript",
    "application/javascript",
    "application/x-javascript",
    "application/json",
    "application/problem+json",
    "application/geo+json",
    "application/manifest+json",
    "application/xml",
    "image/svg+xml",
]
#: Paths whose answers are never compressed (see the module docstring).
NEVER = ("/login",)
#: Files up to this size are read whole to be compressed (Dash's assets are a few KB).
MAX_FILE = 4 * 1024 * 1024
#: The bundle cache holds at most this much compressed data per process.
CACHE_BYTES = 48 * 1024 * 1024


class BundleCache:
    """Compressed bodies of versioned static files, least recently used dropped first.

    flask-compress asks for ``"<algorithm>;<key>"``; our key function gives ``""`` for anything
    that is not a versioned file, and such keys are never stored or found.
    """

    def __init__(self, limit: int = CACHE_BYTES) -> None:
        self.limit = limit
        self.size = 0
        self.hits = 0
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        """The compressed body stored under ``key``, if any."""
        if key.endswith(";"):
            return None
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                self.hits += 1
            return found

    def set(self, key: str, value: bytes) -> None:
        """Keep ``value`` under ``key`` (unless it is not cacheable or too large)."""
        if key.endswith(";") or len(value) > self.limit // 4:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.size -= len(old)
            self._items[key] = value
            self.size += len(value)
            while self.size > self.limit and self._items:
                _dropped, body = self._items.popitem(last=False)
                self.size -= len(body)


def bundle_key(req: Request) -> str:
    """The cache key of a request for a versioned static file, else ``""`` (not cached)."""
    path = req.path
    if path.startswith("/_dash-component-suites/"):
        return req.full_path  # the version is in the file name (fingerprint) or the query
    if (path.startswith("/assets/") and req.args.get("m")) or (
        path.startswith("/m/") and req.args.get("v")
    ):
        return req.full_path
    return ""


def init_compression(server: Flask) -> Compress:
    """Compress ``server``'s responses (after every other ``after_request`` handler)."""
    cache = BundleCache()
    server.config.update(
        COMPRESS_REGISTER=False,  # registered below, with the exceptions
        COMPRESS_ALGORITHM=["br", "gzip"],
        # Only whole bodies: a streamed one (camera pictures, long downloads) is left as is,
        # files are read into memory first (below), so they get a Content-Length and a 304.
        COMPRESS_STREAMS=False,
        COMPRESS_BR_LEVEL=5,
        COMPRESS_LEVEL=6,
        COMPRESS_MIN_SIZE=500,
        COMPRESS_MIMETYPES=COMPRESSIBLE,
        COMPRESS_CACHE_KEY=bundle_key,
        COMPRESS_CACHE_BACKEND=lambda: cache,
    )
    compress = Compress(server)
    server.extensions["disaster_dx.compression"] = cache

    def compressed(response: Response) -> Any:
        if request.path in NEVER or "Content-Encoding" in response.headers:
            return response
        if (
            response.is_streamed
            and response.direct_passthrough  # a file (Dash's /assets/), not a generator
            and response.mimetype in COMPRESSIBLE
            and (response.content_length or 0) <= MAX_FILE
        ):
            response.direct_passthrough = False
            source = response.response
            response.set_data(response.get_data())
            close = getattr(source, "close", None)
            if close is not None:
                close()  # the file the view opened
        return compress.after_request(response)

    # after_request handlers run in reverse order of registration: registered first, this
    # runs last and sees each response as sent (after cookies and other headers are set).
    server.after_request_funcs.setdefault(None, []).insert(0, compressed)
    return compress
