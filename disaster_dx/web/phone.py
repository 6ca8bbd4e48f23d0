"""``/m/``: the light, offline-first phone form for shelter staff (no Dash bundle).

One small page shell, one script, one style sheet, a service worker and a manifest, served
by Flask (well under 60 KB gzip together; the Dash form weighs about 1.5 MB). The script
talks only to the REST API (:mod:`disaster_dx.web.api`), so the rules are the API's: only the
fields the user changed are sent, each report with an ``Idempotency-Key`` made when the report
is made, and a conflict comes back per field.

- ``/m/`` lists the user's shelters (state, last report); ``/m/shelter/<id>`` is the form.
  Both are the same shell: the script reads the path, so the service worker can answer any
  ``/m/…`` page from its cache when there is no connection.
- Reports made offline wait in IndexedDB on the phone and are sent (once) when the
  connection is back; the page says so in words.
- The domain's labels (open states, crowding, needs, field names) come from the core's
  vocabulary, embedded in the shell as inert JSON; the script sets all text via
  ``textContent``. The page's policy is the public page's: scripts and styles from this site
  only, nothing inline.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import quote

from flask import Flask, Response, redirect, request

from disaster_dx._resources import package_path
from disaster_dx.auth import Role
from disaster_dx.model import Crowding, Need, OpenState
from disaster_dx.templating import render
from disaster_dx.web.conflict_view import FIELD_LABELS
from disaster_dx.web.security import signed_in_user

STATIC = package_path("web", "phone_static")
PATH = "/m/"
ROLES = (Role.HQ, Role.SHELTER_STAFF)

#: Like the public page: this site's scripts and styles only, no inline code, no framing.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; manifest-src 'self'; worker-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".webmanifest": "application/manifest+json",
}
#: Files of the phone form, by URL name (the service worker is rendered, see ``_sw``).
ASSETS = ("app.js", "app.css", "icon.svg", "manifest.webmanifest")


@dataclass(frozen=True)
class Asset:
    """One file of the form, with its content hash (for ``?v=`` URLs and the ETag)."""

    body: bytes
    content_type: str
    digest: str


@cache
def _asset(name: str) -> Asset:
    body = (STATIC / name).read_bytes()
    if name == "sw.js":
        # The worker names the versions it caches, so a new deploy is a new worker.
        body = body.replace(b"__VERSION__", _version().encode()).replace(
            b"__ASSETS__", json.dumps(_asset_urls()).encode()
        )
    suffix = Path(name).suffix
    digest = hashlib.blake2b(body, digest_size=8).hexdigest()
    return Asset(body, _TYPES[suffix], digest)


@cache
def _version() -> str:
    joined = "".join(_asset(n).digest for n in ASSETS) + _shell_digest()
    return hashlib.blake2b(joined.encode(), digest_size=6).hexdigest()


def _asset_urls() -> list[str]:
    versioned = [f"{PATH}{n}?v={_asset(n).digest}" for n in ("app.js", "app.css")]
    return [PATH, *versioned, f"{PATH}icon.svg", f"{PATH}manifest.webmanifest"]


def vocabulary() -> dict[str, object]:
    """The labels the form shows, from the core's one vocabulary (Japanese, English)."""
    return {
        "open_state": [[s.value, s.ja, s.en] for s in OpenState],
        "crowding": [[c.value, c.ja, c.en] for c in Crowding],
        "needs": [[n.value, n.ja, n.en] for n in Need],
        "fields": {name: list(labels) for name, labels in FIELD_LABELS.items()},
    }


@cache
def _shell() -> bytes:
    # ``tojson`` writes inert JSON for <script>: <, >, & and ' as \\u escapes.
    page = render(
        "phone_shell.html",
        css=_asset("app.css").digest,
        js=_asset("app.js").digest,
        vocab=vocabulary(),
    )
    return page.encode("utf-8")


@cache
def _shell_digest() -> str:
    return hashlib.blake2b(_shell(), digest_size=8).hexdigest()


def _page() -> Response:
    """The shell for ``/m/`` and ``/m/shelter/<id>``: login first when there is no session."""
    user = signed_in_user()
    if user is None:
        return redirect(f"/login?next={quote(request.full_path.rstrip('?'))}")  # type: ignore[return-value]
    response = Response(_shell(), mimetype="text/html")
    response.headers["Content-Security-Policy"] = PAGE_CSP
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-cache"
    response.set_etag(_shell_digest())
    return response.make_conditional(request)


def _file(name: str) -> Response:
    asset = _asset(name)
    response = Response(asset.body, content_type=asset.content_type)
    response.headers["X-Content-Type-Options"] = "nosniff"
    if name == "sw.js":
        response.headers["Cache-Control"] = "no-cache"
        response.headers["Service-Worker-Allowed"] = PATH
    elif request.args.get("v") == asset.digest:
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    else:
        response.headers["Cache-Control"] = "public, max-age=300"
    response.set_etag(asset.digest)
    return response.make_conditional(request)


def init_phone(server: Flask) -> None:
    """Serve the phone form at ``/m/`` on ``server``."""

    def shelter_page(shelter_id: str) -> Response:
        return _page()

    server.add_url_rule(PATH, "phone_list", _page, methods=["GET"])
    server.add_url_rule(f"{PATH}shelter/<shelter_id>", "phone_form", shelter_page, methods=["GET"])
    for name in (*ASSETS, "sw.js"):
        server.add_url_rule(
            f"{PATH}{name}",
            f"phone_{name}",
            _file,
            methods=["GET"],
            defaults={"name": name},
        )


def weight() -> dict[str, int]:
    """Bytes of the page and everything it loads, plain and gzip (for tests and the bench)."""
    import gzip

    files = {"shell": _shell(), **{n: _asset(n).body for n in ("app.js", "app.css", "icon.svg")}}
    plain = sum(len(b) for b in files.values())
    packed = sum(len(gzip.compress(b, 6)) for b in files.values())
    return {"plain": plain, "gzip": packed}
