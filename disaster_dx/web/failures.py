"""When the database cannot be reached: words people can act on, never a blank screen or a 500.

Every staff request reads the database (the signed-in user is re-read each time), so a
database that is down or unreachable fails the request before any callback runs. One Flask
error handler answers for all of them:

- a Dash callback whose outputs include a registered *result* output (the form's result line,
  HQ's bulk and area results) gets a normal callback answer that puts
  :data:`SAVE_FAILED` there and changes nothing else, so everything typed stays on the screen;
- other requests get ``503`` (JSON for callbacks and ``/healthz``, a short page otherwise).

``/healthz`` answers ``200`` with every component ``ok``, or ``503`` naming the failing ones.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from typing import Any

from dash import Dash, html
from flask import Flask, Response, request
from plotly.utils import PlotlyJSONEncoder
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from disaster_dx.config import Settings
from disaster_dx.store import Store
from disaster_dx.templating import render
from disaster_dx.web.i18n import lang_from_search

log = logging.getLogger(__name__)

SAVE_FAILED = {
    "ja": "保存できませんでした。通信または本部のサーバーに問題があります。"
    "入力は端末に残っています。",
    "en": "Could not save. There is a problem with the connection or HQ's server. "
    "Your input is still on this device.",
}
_PAGE_FAILED = {
    "ja": "本部のサーバーに問題があり、画面を表示できません。しばらくしてから開き直してください。",
    "en": "HQ's server has a problem and cannot show this page. Please try again shortly.",
}
_OUTPUTS_KEY = "disaster_dx.failure_outputs"


def register_failure_output(app: Dash, component_id: str, prop: str) -> None:
    """Let ``component_id.prop`` carry :data:`SAVE_FAILED` when the database fails."""
    outputs: set[tuple[str, str]] = app.server.extensions.setdefault(_OUTPUTS_KEY, set())
    outputs.add((component_id, prop))


def health(store: Store, settings: Settings) -> dict[str, str]:
    """Each component's state: ``"ok"`` or what is wrong (no secrets, no addresses)."""
    components: dict[str, str] = {}
    try:
        with store.engine.connect() as conn:
            conn.execute(text("select 1"))
        components["database"] = "ok"
    except SQLAlchemyError as exc:
        components["database"] = f"unreachable ({type(exc.orig or exc).__name__})"
    public = settings.public_dir
    if not public.is_dir():
        components["public_snapshots"] = "folder missing"
    elif not os.access(public, os.W_OK):
        components["public_snapshots"] = "folder not writable"
    else:
        components["public_snapshots"] = "ok"
    return components


def init_failures(server: Flask, store: Store, settings: Settings) -> None:
    """Install ``/healthz`` and the database-failure handler on ``server``."""

    def healthz() -> tuple[dict[str, object], int]:
        """Liveness and readiness, per component (503 names what fails)."""
        components = health(store, settings)
        failing = sorted(name for name, state in components.items() if state != "ok")
        body: dict[str, object] = {"ok": not failing, "components": components}
        if failing:
            body["failing"] = failing
            return body, 503
        body["shelters"] = len(store.shelters())  # the city's master is loaded
        return body, 200

    server.add_url_rule("/healthz", "healthz", healthz)
    server.register_error_handler(SQLAlchemyError, _database_failed(server, store, settings))


def _database_failed(
    server: Flask, store: Store, settings: Settings
) -> Callable[[SQLAlchemyError], Any]:
    def handle(exc: SQLAlchemyError) -> Any:
        log.error("database failed on %s %s: %s", request.method, request.path, exc)
        if request.path == "/healthz":
            components = health(store, settings)
            failing = sorted(n for n, s in components.items() if s != "ok") or ["database"]
            return {"ok": False, "components": components, "failing": failing}, 503
        if request.path.endswith("/_dash-update-component"):
            return _callback_answer(server)
        lang = "en" if request.args.get("lang") == "en" else "ja"
        page = render("page_failed.html", lang=lang, message=_PAGE_FAILED[lang])
        return Response(page, status=503, mimetype="text/html")

    return handle


def _callback_answer(server: Flask) -> Any:
    """A callback answer putting :data:`SAVE_FAILED` into the request's result output."""
    body = request.get_json(silent=True) or {}
    outputs = body.get("outputs")
    wanted = outputs if isinstance(outputs, list) else [outputs]
    registered: set[tuple[str, str]] = server.extensions.get(_OUTPUTS_KEY, set())
    lang = "ja"
    for item in [*(body.get("inputs") or []), *(body.get("state") or [])]:
        if (
            isinstance(item, dict)
            and item.get("id") == "_pages_location"
            and lang_from_search(str(item.get("value") or "")) == "en"
        ):
            lang = "en"
    for output in wanted:
        if not isinstance(output, dict):
            continue
        key = (output.get("id"), output.get("property"))
        if key in registered:
            message = html.P(SAVE_FAILED[lang], className="dx-error dx-save-failed")
            answer = {"multi": True, "response": {key[0]: {key[1]: message}}}
            return Response(
                json.dumps(answer, cls=PlotlyJSONEncoder), status=200, mimetype="application/json"
            )
    return {"error": "database unavailable", "message": SAVE_FAILED[lang]}, 503
