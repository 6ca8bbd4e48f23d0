"""The Dash app factory: ``create_app(settings)`` builds one app with its own store.

Following the Flask tutorial's factory pattern, tests build an app per test on a temporary
database, and gunicorn workers each build their own (``app.py`` exposes ``server``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import dash
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from disaster_dx._resources import ASSETS_DIR
from disaster_dx.bundled import ensure_initialised
from disaster_dx.cameras import camera_settings_from_env
from disaster_dx.city import city_for_code
from disaster_dx.config import Settings, settings_from_env
from disaster_dx.errors import ConfigError
from disaster_dx.refusals import create_refusal_tables
from disaster_dx.runtime import build_runtime
from disaster_dx.secret_keys import development_key
from disaster_dx.store import Store
from disaster_dx.web import (
    drill_pages,
    eventlog_page,
    hq,
    hq_alerts,
    incidents_page,
    overview,
    plans_pages,
    shelter_form,
)
from disaster_dx.web.api import init_api
from disaster_dx.web.cameras_web import init_cameras
from disaster_dx.web.compression import init_compression
from disaster_dx.web.context import EXTENSION_KEY, AppContext, runtime_of
from disaster_dx.web.exports import init_exports
from disaster_dx.web.failures import init_failures
from disaster_dx.web.headers import init_headers
from disaster_dx.web.json_limits import init_json_limits
from disaster_dx.web.limits import BodyLimit
from disaster_dx.web.line_routes import init_line
from disaster_dx.web.paths import init_paths
from disaster_dx.web.phone import init_phone
from disaster_dx.web.public_routes import SnapshotFiles, init_public
from disaster_dx.web.security import init_security
from layers.public_map import shelter_map_html

log = logging.getLogger(__name__)

#: The largest request body any route reads (Flask ``MAX_CONTENT_LENGTH``). The biggest real
#: one is a drill scenario upload (1 MB, base64 in a Dash callback); a longer body, chunked or
#: not, is cut off with 413 after this many bytes instead of being held in the worker. Routes
#: with smaller bodies lower it for themselves (the LINE webhook: 1 MB).
MAX_REQUEST_BYTES = 8 * 1024 * 1024


def create_app(settings: Settings | None = None, *, store: Store | None = None) -> dash.Dash:
    """Build the Dash app (and its Flask server) for ``settings``.

    The database is created and the bundled Nankoku shelters loaded on first start, so a
    fresh clone shows a map with no other step. A start that fails (another city's database,
    a weak key) closes the database connections it opened, rather than leaving them to the
    garbage collector.
    """
    settings = settings or settings_from_env()
    if store is not None:
        return _assemble(settings, store)
    owned = Store(settings.database_url)
    try:
        return _assemble(settings, owned)
    except BaseException:
        owned.dispose()
        raise


def shutdown(app: dash.Dash, timeout: float = 10.0) -> None:
    """Stop the app's background loops, in reverse order of starting (tests, ``serve``)."""
    runtime_of(app.server).stop(timeout)


def _assemble(settings: Settings, store: Store) -> dash.Dash:
    if settings.database_url.startswith("sqlite:///"):
        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )
    wanted = (
        city_for_code(settings.city_code, name_en=settings.city_name_en)
        if settings.city_code
        else None
    )
    ensure_initialised(store, actor="app", city=wanted)
    city = store.city()
    create_refusal_tables(store)  # refused anonymous requests, counted per client and minute

    secret_key = settings.secret_key
    if not secret_key:
        if settings.production:
            raise ConfigError("production mode needs SECRET_KEY")
        secret_key = development_key(settings.data_dir)  # one key for every worker
    server = Flask("disaster_dx")
    server.config.update(
        SECRET_KEY=secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.production,
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
    )
    # Every after-save action and background loop of this worker: disaster_dx/runtime.py.
    runtime = build_runtime(
        store,
        settings,
        role="app",
        render_map=shelter_map_html,
        camera_settings=camera_settings_from_env(),
    )
    context = AppContext(runtime=runtime, public_files=SnapshotFiles(settings.public_dir))
    server.extensions[EXTENSION_KEY] = context
    # The loops start with the worker's first request, never in the factory (see Runtime.start).
    server.before_request(runtime.start)
    init_compression(server)  # first, so that it runs after every other after_request
    init_headers(server)  # framing, sniffing, referrer: for every answer lacking its own
    init_json_limits(server)  # deep JSON bodies are a 400, not a RecursionError (500)
    init_security(server)
    init_paths(server)  # robots.txt; unknown paths 404 (after the login guard)
    init_failures(server, store, settings)  # /healthz; a failing database answers in words
    init_exports(server)
    init_api(server)  # /api/v1 (before Dash, whose page router would answer its GETs)
    init_phone(server)  # /m/: the light phone form on the API
    init_public(server, context.public_files, runtime.publisher)  # before Dash: ``/`` is ours

    app = dash.Dash(
        __name__,
        server=server,
        use_pages=True,
        pages_folder="",
        assets_folder=str(ASSETS_DIR),
        title=f"{city.name} 避難所マップ",
        update_title=None,
        suppress_callback_exceptions=True,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    app.index_string = app.index_string.replace("<html>", '<html lang="ja">')
    dash.register_page(
        "overview",
        path=overview.PATH,
        name="避難所マップ",
        title=f"{city.name} 避難所マップ",
        layout=overview.layout,
    )
    hq.register_page()
    incidents_page.register_page()
    shelter_form.register_page()
    eventlog_page.register_page()
    drill_pages.register_page()
    plans_pages.register_page()
    app.layout = dash.html.Div(dash.page_container)
    hq.register(app)
    hq_alerts.register(app)  # the 避難情報 panel on /hq
    incidents_page.register(app)  # /hq/incidents: name, close, past records
    shelter_form.register(app)
    eventlog_page.register(app)
    init_line(server, app)  # /line/webhook, /hq/line
    drill_pages.register(app)
    init_cameras(server, app)  # camera routes, /hq/cameras, the HQ map's camera layer
    plans_pages.register(app)

    # Chunked bodies (no Content-Length) stop with 413 past the limit, never cut off silently.
    server.wsgi_app = BodyLimit(server.wsgi_app, MAX_REQUEST_BYTES)  # type: ignore[method-assign]
    if settings.trusted_proxies:
        # Outermost, so every layer (public files, login throttling, logs) sees the client.
        n = settings.trusted_proxies
        server.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            server.wsgi_app, x_for=n, x_proto=n, x_host=n
        )

    log.info("app ready (%s database)", store.dialect)
    return app
