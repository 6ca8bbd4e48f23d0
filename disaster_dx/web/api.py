"""REST API v1 (``/api/v1``): shelter and area reports for phones, scripts and other systems.

Thin on purpose: it parses JSON, checks who is asking, and calls the same core functions as
the staff pages (:func:`disaster_dx.hq.report_status`, :func:`disaster_dx.hq.report_area`), so
role and shelter-scope checks, validation, per-field merge and conflicts are the core's.

- **Who**: a signed-in staff session (POSTs must repeat the session's CSRF token in
  ``X-CSRF-Token``, which another site cannot read) or a personal token
  (``Authorization: Bearer dxt_…``, from ``disaster-dx token create``). Refusals of known
  users and of bad tokens are audit-logged.
- **Which incident**: the one the user's screens use (their joined drill, else the live one);
  token requests always go to the live incident.
- **Exactly once**: every POST needs an ``Idempotency-Key``; the same key returns the same
  stored answer and never writes twice (:mod:`disaster_dx.idempotency`).
- **Errors**: RFC 9457 problem details (:mod:`disaster_dx.web.api_problems`); a conflict
  (409) lists each field changed by both sides with mine / theirs / original / by / at.

The OpenAPI 3.1 document is :mod:`disaster_dx.web.api_openapi`, served at
``/api/v1/openapi.json`` and checked against the running API by schemathesis in the tests.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timedelta
from typing import Any, NoReturn

from flask import Blueprint, Flask, Response, current_app, request, session
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from disaster_dx import api_tokens, drills, idempotency
from disaster_dx import hq as hq_core
from disaster_dx.auth import Role, User, list_users
from disaster_dx.errors import ConflictError, NotFoundError, ValidationError
from disaster_dx.events import STATUS_FIELDS, Event, ShelterStatus, State
from disaster_dx.model import Shelter
from disaster_dx.refusals import record_refusal
from disaster_dx.store import Incident
from disaster_dx.web.api_openapi import openapi_document
from disaster_dx.web.api_problems import (
    PROBLEM_MEDIA_TYPE,
    FieldError,
    best_language,
    field_errors,
    plain,
    problem,
    request_error,
)
from disaster_dx.web.context import EXTENSION_KEY, current
from disaster_dx.web.security import csrf_token, signed_in_user

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
#: Who may read and write shelter reports (as on the staff form) and area counts (HQ).
SHELTER_ROLES = (Role.HQ, Role.SHELTER_STAFF)
AREA_ROLES = (Role.HQ,)
AREA_FIELDS = ("at_home", "in_car", "note")
#: Versions are event numbers: a 32-bit column on PostgreSQL, so a larger one was never seen.
MAX_VERSION = 2_147_483_647
MAX_BODY = 64 * 1024
MAX_REASON = 200
#: An area's events have the subject ``area:<name>`` in a 200-character column.
MAX_AREA = 200 - len("area:")


class ApiProblem(Exception):
    """Stop handling a request and answer with this problem document."""

    def __init__(
        self, status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ):
        super().__init__(body.get("title", ""))
        self.status = status
        self.body = dict(body)
        self.headers = dict(headers or {})


api = Blueprint("api_v1", __name__, url_prefix=PREFIX)


def init_api(server: Flask) -> None:
    """Serve ``/api/v1`` on ``server`` and create the tables it keeps (tokens, keys)."""
    store = server.extensions[EXTENSION_KEY].store
    api_tokens.create_token_tables(store)
    idempotency.create_idempotency_tables(store)
    server.register_blueprint(api)
    # Unknown paths and wrong methods under /api/v1 fail in routing, before any view of the
    # blueprint: the app-level handler answers those with a problem document too (and leaves
    # every other path's errors as they were).
    server.register_error_handler(HTTPException, _http_error)
    server.before_request(_refuse_options)


# -- responses ------------------------------------------------------------------------------


def _json(body: Any, status: int = 200, *, media_type: str = "application/json") -> Response:
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    response = Response(text, status=status, mimetype=media_type)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _problem_response(error: ApiProblem) -> Response:
    response = _json(error.body, error.status, media_type=PROBLEM_MEDIA_TYPE)
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


def _is_api_request() -> bool:
    return request.path == PREFIX or request.path.startswith(PREFIX + "/")


def _http_error(error: HTTPException) -> Any:
    if not _is_api_request():
        return error
    status = error.code or 500
    kind = {
        400: "bad-request",
        401: "unauthenticated",
        403: "forbidden",
        404: "not-found",
        405: "method-not-allowed",
        413: "bad-request",
        415: "unsupported-media-type",
    }.get(status, "server-error" if status >= 500 else "bad-request")
    response = _problem_response(ApiProblem(status, problem(kind, status, _lang())))
    methods = getattr(error, "valid_methods", None)
    if status == 405 and methods:
        response.headers["Allow"] = ", ".join(methods)
    return response


def _allowed_methods(path: str) -> list[str]:
    """The methods this API serves at ``path`` (not Dash's page router, which matches all)."""
    from flask import current_app

    adapter = current_app.url_map.bind("localhost")
    allowed = []
    for method in ("GET", "POST"):
        try:
            endpoint, _args = adapter.match(path, method)
        except HTTPException:
            continue
        if str(endpoint).startswith("api_v1.") and endpoint != "api_v1.unknown":
            allowed.append(method)
    return allowed


def _refuse_options() -> Response | None:
    """OPTIONS is not part of this same-origin API (no CORS): 405 with the real methods."""
    if request.method != "OPTIONS" or not _is_api_request():
        return None
    allowed = _allowed_methods(request.path)
    status, kind = (405, "method-not-allowed") if allowed else (404, "not-found")
    response = _problem_response(ApiProblem(status, problem(kind, status, _lang())))
    if allowed:
        response.headers["Allow"] = ", ".join(allowed)
    return response


@api.errorhandler(ApiProblem)
def _api_problem(error: ApiProblem) -> Response:
    return _problem_response(error)


@api.errorhandler(Exception)
def _unexpected(error: Exception) -> Any:
    """Anything a view did not expect: a database that does not answer is 503, else 500."""
    if isinstance(error, HTTPException):
        return _http_error(error)
    if isinstance(error, OperationalError | InterfaceError):
        return _database_error(error)  # cannot reach the database: worth a retry
    log.exception("API: unexpected error on %s %s", request.method, request.path)
    return _problem_response(ApiProblem(500, problem("server-error", 500, _lang())))


def _database_error(error: DBAPIError) -> Response:
    log.error("API: database unavailable: %s", error.orig)
    body = problem(
        "unavailable",
        503,
        _lang(),
        detail=(
            "Could not save: the database at HQ did not answer. Your input was not lost; "
            "send it again later."
            if _lang() == "en"
            else "保存できませんでした。本部のデータベースが応答しません。入力は失われていません。"
            "しばらくしてからもう一度送ってください。"
        ),
    )
    return _problem_response(ApiProblem(503, body, {"Retry-After": "10"}))


def _lang() -> str:
    return best_language(request.args.get("lang"), request.headers.get("Accept-Language"))


def _refuse(kind: str, status: int, *, detail: str = "", **extra: Any) -> NoReturn:
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="disaster_dx"'
    raise ApiProblem(status, problem(kind, status, _lang(), detail=detail, **extra), headers)


# -- who is asking --------------------------------------------------------------------------


def _caller(roles: tuple[Role, ...]) -> tuple[User, str]:
    """The user and how they came (``token`` or ``session``), or a 401/403 problem."""
    store = current().store
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, credentials = header.strip().partition(" ")
        user = None
        if scheme.lower() == "bearer":
            user = api_tokens.user_for_token(store, credentials.strip())
        if user is None:
            # Anonymous: counted per client and minute, not one audit row per request.
            record_refusal(
                store,
                f"ip:{request.remote_addr or 'unknown'}",
                "api.token_refused",
                target=request.path[:200],
            )
            _refuse("unauthenticated", 401)
        via = "token"
    else:
        found = signed_in_user()
        if found is None:
            _refuse("unauthenticated", 401)
        user, via = found, "session"
        if request.method == "POST":
            sent = request.headers.get("X-CSRF-Token") or ""
            if not hmac.compare_digest(sent, session.get("csrf_token") or "-"):
                store.audit(user.username, "api.csrf_refused", target=request.path[:200])
                _refuse("csrf", 403)
    if not user.has(*roles):
        store.audit(
            user.username,
            "api.refused",
            target=request.path[:200],
            detail={"needs": sorted(r.value for r in roles)},
        )
        _refuse("forbidden", 403)
    return user, via


def _incident(via: str) -> Incident:
    """The incident this caller reads and writes: their joined drill (session), else live."""
    choice = session.get(drills.DRILL_SESSION_KEY) if via == "session" else None
    return drills.active_incident_for(current().store, choice)


def _names() -> dict[str, str]:
    """User name → display name, for showing people (one small read per request)."""
    return {u.username: u.display_name or u.username for u in list_users(current().store)}


def _person(username: str | None, names: Mapping[str, str]) -> dict[str, str] | None:
    if not username:
        return None
    return {"id": username, "name": names.get(username, username)}


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _incident_json(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.incident_id,
        "title": incident.title,
        "drill": incident.is_drill,
        "closed": incident.closed_at is not None,
    }


# -- shelters -------------------------------------------------------------------------------


def shelter_json(
    shelter: Shelter, status: ShelterStatus, *, names: Mapping[str, str]
) -> dict[str, Any]:
    """One shelter with its current report, as the API shows it (staff view)."""
    context = current()
    now = context.now()
    urgent_after = timedelta(hours=context.settings.urgent_need_hours)
    crowding = status.crowding(context.settings.crowding, master_capacity=shelter.capacity)
    active_urgent = status.active_urgent_needs(now, expire_after=urgent_after)
    return {
        "id": shelter.shelter_id,
        "name": shelter.name,
        "address": shelter.address,
        "lat": shelter.lat,
        "lon": shelter.lon,
        "kinds": sorted(k.value for k in shelter.kinds),
        "hazards": sorted(h.value for h in shelter.hazards),
        "master_capacity": shelter.capacity,
        "version": status.version,
        "fields": {
            "open_state": status.open_state.value,
            "evacuees": status.evacuees,
            "voluntary_evacuees": status.voluntary_evacuees,
            "households": status.households,
            "capacity": status.capacity,
            "crowding_override": plain(status.crowding_override),
            "needs": sorted(n.value for n in status.needs),
            "urgent_needs": sorted(n.value for n in active_urgent),
            "other_needs": status.other_needs,
            "pets_accepted": status.pets_accepted,
            "barrier_free": status.barrier_free,
            "public_note": status.public_note,
            "internal_note": status.internal_note,
        },
        "crowding": plain(crowding),
        "stale": hq_core.is_stale(
            status, now, stale_after=timedelta(minutes=context.settings.stale_report_minutes)
        ),
        "reported_at": _iso(status.reported_at),
        "reported_by": _person(status.reported_by, names),
        "corrected_at": _iso(status.corrected_at),
        "opened_at": _iso(status.opened_at),
    }


def _visible_shelters(user: User) -> list[Shelter]:
    shelters = current().store.shelters()
    if user.has(Role.HQ):
        return shelters
    return [s for s in shelters if s.shelter_id in user.shelter_ids]


@api.get("/me", provide_automatic_options=False)
def get_me() -> Response:
    """Who the caller is, the incident they work in, and (sessions) the CSRF token for POSTs."""
    user, via = _caller(tuple(Role))
    incident = _incident(via)
    names = _names()
    return _json(
        {
            "user": {
                **(_person(user.username, names) or {}),
                "roles": sorted(r.value for r in user.roles),
                "shelter_ids": sorted(s.shelter_id for s in _visible_shelters(user))
                if user.has(*SHELTER_ROLES)
                else [],
            },
            "auth": via,
            "csrf_token": csrf_token() if via == "session" else None,
            "incident": _incident_json(incident),
        }
    )


@api.get("/shelters", provide_automatic_options=False)
def list_shelters() -> Response:
    """The shelters the caller may report for, with their current state and version."""
    user, via = _caller(SHELTER_ROLES)
    incident = _incident(via)
    state = current().store.state(incident.incident_id)
    names = _names()
    return _json(
        {
            "incident": _incident_json(incident),
            "shelters": [
                shelter_json(s, state.shelter(s.shelter_id), names=names)
                for s in _visible_shelters(user)
            ],
        }
    )


def _shelter_in_scope(user: User, shelter_id: str) -> Shelter:
    store = current().store
    try:
        shelter = store.shelter(shelter_id)
    except NotFoundError:
        _refuse("not-found", 404, detail=_words("no_shelter", shelter_id))
    if not user.may_update_shelter(shelter_id):
        store.audit(user.username, "api.shelter_refused", target=shelter_id[:200])
        _refuse("forbidden", 403, detail=_words("not_your_shelter", shelter.name))
    return shelter


@api.get("/shelters/<shelter_id>", provide_automatic_options=False)
def get_shelter(shelter_id: str) -> Response:
    """One shelter the caller may report for, with its current state and version."""
    user, via = _caller(SHELTER_ROLES)
    shelter = _shelter_in_scope(user, shelter_id)
    incident = _incident(via)
    state = current().store.state(incident.incident_id)
    return _json(
        {
            "incident": _incident_json(incident),
            "shelter": shelter_json(shelter, state.shelter(shelter_id), names=_names()),
        }
    )


@api.post("/shelters/<shelter_id>/reports", provide_automatic_options=False)
def post_shelter_report(shelter_id: str) -> Response:
    """A report (or correction) of the fields the user changed, on the version they saw."""
    user, via = _caller(SHELTER_ROLES)
    shelter = _shelter_in_scope(user, shelter_id)
    key = _idempotency_key()
    body = _json_body()
    lang = _lang()
    base_version, fields, correction, reason = _parse_report(body, STATUS_FIELDS, lang)
    incident = _open_incident(via)
    store = current().store
    names = _names()

    def write() -> object:
        return hq_core.report_status(
            store,
            incident.incident_id,
            user,
            shelter_id,
            fields,
            seen_version=base_version,
            correction=correction,
            reason=reason,
        )

    def respond(events: list[Event]) -> idempotency.Answer:
        (event,) = events
        return idempotency.Answer(
            201,
            {
                "shelter_id": shelter_id,
                "version": event.seq,
                "at": event.at.isoformat(),
                "kind": "correction" if correction else "report",
                "written": {k: v for k, v in event.payload.items() if k in STATUS_FIELDS},
                "merged": _merged_json(event, names),
                "reported_by": _person(user.username, names),
                "incident": _incident_json(incident),
            },
        )

    def current_json() -> dict[str, Any]:
        state = store.state(incident.incident_id)
        return shelter_json(shelter, state.shelter(shelter_id), names=_names())

    return _keyed(user, key, body, write, respond, lang, fields, current_json)


# -- areas (在宅避難・車中泊) ------------------------------------------------------------------


def _area_json(area: str, state: State, names: Mapping[str, str]) -> dict[str, Any]:
    count = state.areas.get(area)
    return {
        "area": area,
        "version": count.version if count else 0,
        "fields": {
            "at_home": count.at_home if count else None,
            "in_car": count.in_car if count else None,
            "note": count.note if count else "",
        },
        "reported_at": _iso(count.reported_at if count else None),
        "reported_by": _person(count.reported_by if count else None, names),
    }


@api.get("/areas", provide_automatic_options=False)
def list_areas() -> Response:
    """Areas with people sheltering outside shelters (在宅避難・車中泊), with versions (HQ)."""
    _user, via = _caller(AREA_ROLES)
    incident = _incident(via)
    state = current().store.state(incident.incident_id)
    names = _names()
    return _json(
        {
            "incident": _incident_json(incident),
            "areas": [_area_json(a, state, names) for a in sorted(state.areas)],
        }
    )


@api.post("/areas/<area>/reports", provide_automatic_options=False)
def post_area_report(area: str) -> Response:
    """Counts of people at home or in cars in one area, on the version HQ saw (HQ only)."""
    user, via = _caller(AREA_ROLES)
    key = _idempotency_key()
    body = _json_body()
    lang = _lang()
    if len(area) > MAX_AREA:  # the core judges the rest (blank, control characters)
        _refuse(
            "validation",
            422,
            errors=[
                request_error(
                    "area",
                    "#/area",
                    "too_long",
                    f"地区名は{MAX_AREA}文字以内にしてください",
                    f"the area name must be at most {MAX_AREA} characters",
                    lang,
                ).as_json()
            ],
        )
    base_version, fields, _correction, _reason = _parse_report(
        body, AREA_FIELDS, lang, corrections=False
    )
    nulls = sorted(name for name, value in fields.items() if value is None)
    if nulls:
        # Leaving a field out keeps it; null is no value (the core reads None as "keep").
        _refuse(
            "validation",
            422,
            errors=[
                request_error(
                    name,
                    f"#/fields/{name}",
                    "null",
                    "値がありません（変えないときは送らないでください）",
                    "has no value (leave it out to keep it)",
                    lang,
                ).as_json()
                for name in nulls
            ],
        )
    incident = _open_incident(via)
    store = current().store
    names = _names()

    def write() -> object:
        return _report_area(store, incident.incident_id, user, area, fields, base_version)

    def respond(events: list[Event]) -> idempotency.Answer:
        (event,) = events
        return idempotency.Answer(
            201,
            {
                "area": event.payload["area"],
                "version": event.seq,
                "at": event.at.isoformat(),
                "written": {k: v for k, v in event.payload.items() if k in AREA_FIELDS},
                "merged": _merged_json(event, names),
                "reported_by": _person(user.username, names),
                "incident": _incident_json(incident),
            },
        )

    def current_json() -> dict[str, Any]:
        return _area_json(area, store.state(incident.incident_id), _names())

    return _keyed(user, key, body, write, respond, lang, fields, current_json)


def _merged_json(event: Event, names: Mapping[str, str]) -> dict[str, Any]:
    """Fields others changed after the base version, kept as they left them (per-field merge)."""
    return {
        str(name): {
            "value": plain(getattr(item, "value", None)),
            "by": _person(getattr(item, "by", None), names),
            "at": _iso(getattr(item, "at", None)),
        }
        for name, item in (getattr(event, "merged", None) or {}).items()
    }


def _report_area(
    store: Any, incident_id: str, user: User, area: str, fields: dict[str, Any], seen: int
) -> object:
    """Call the core's area write with only the fields the user changed (``note=None``: kept)."""
    return hq_core.report_area(
        store,
        incident_id,
        user,
        area,
        at_home=fields.get("at_home"),
        in_car=fields.get("in_car"),
        note=fields.get("note"),
        seen_version=seen,
    )


# -- request parsing ------------------------------------------------------------------------


def _idempotency_key() -> str:
    key = request.headers.get("Idempotency-Key")
    why = idempotency.check_key(key)
    if why is not None:
        _refuse("idempotency-key-missing", 400, detail=f"Idempotency-Key {why}")
    assert key is not None
    return key


def _json_body() -> Any:
    if (request.content_length or 0) > MAX_BODY:
        _refuse("bad-request", 413, detail=f"the body must be at most {MAX_BODY} bytes")
    if not request.is_json:
        _refuse("unsupported-media-type", 415)
    try:
        # The app's provider (web/json_limits) refuses deep nesting as a ValueError.
        return current_app.json.loads(request.get_data(cache=True) or b"null")
    except (ValueError, UnicodeDecodeError):
        _refuse("bad-request", 400, detail=_words("bad_json"))


def _parse_report(
    body: Any, allowed: Collection[str], lang: str, *, corrections: bool = True
) -> tuple[int, dict[str, Any], bool, str]:
    """``base_version``, the changed ``fields``, ``correction`` and ``reason`` of a report body.

    Only the request's shape is checked here (every problem at once, 422); the values are the
    core's to judge. Fields outside ``allowed`` are refused, never passed on: a report body
    can only ever name its own shelter's status fields.
    """
    errors: list[FieldError] = []

    def bad(field: str, pointer: str, code: str, ja: str, en: str) -> None:
        errors.append(request_error(field, pointer, code, ja, en, lang))

    if not isinstance(body, dict):
        bad("body", "#", "not_object", "JSONオブジェクトで送ってください", "send a JSON object")
        _refuse("validation", 422, errors=[e.as_json() for e in errors])
    known = {"base_version", "fields"} | ({"correction", "reason"} if corrections else set())
    for name in sorted(set(body) - known):
        bad(name, f"#/{name}", "unknown_field", "この項目は送れません", "unknown member")
    base = body.get("base_version")
    if "base_version" not in body:
        bad("base_version", "#/base_version", "required", "必須です", "is required")
    elif (
        isinstance(base, bool)
        or not isinstance(_whole(base), int)
        or base < 0
        or base > MAX_VERSION
    ):
        bad(
            "base_version",
            "#/base_version",
            "not_integer",
            "0以上の整数にしてください",
            "must be a whole number, 0 or more",
        )
    fields = body.get("fields")
    if not isinstance(fields, dict):
        bad(
            "fields",
            "#/fields",
            "not_object",
            "変更した項目をオブジェクトで送ってください",
            "send the changed fields as an object",
        )
        fields = {}
    elif not fields:
        bad(
            "fields",
            "#/fields",
            "no_change",
            "変更された項目がありません",
            "changes nothing: send at least one field",
        )
    for name in sorted(set(fields) - set(allowed)):
        bad(
            name,
            f"#/fields/{name}",
            "unknown_field",
            "この項目は送れません",
            "is not a field that can be reported",
        )
    correction = body.get("correction", False)
    if not isinstance(correction, bool):
        bad(
            "correction",
            "#/correction",
            "not_boolean",
            "true か false にしてください",
            "must be true or false",
        )
    reason = body.get("reason", "")
    if (
        not isinstance(reason, str)
        or len(reason) > MAX_REASON
        or any(ord(c) < 32 and c not in "\n\t" for c in reason)
    ):
        bad(
            "reason",
            "#/reason",
            "invalid",
            f"{MAX_REASON}文字以内の文字列（制御文字なし）にしてください",
            f"must be text of at most {MAX_REASON} characters, no control characters",
        )
    if errors:
        _refuse("validation", 422, errors=[e.as_json() for e in errors])
    return int(base), {k: _whole(v) for k, v in fields.items()}, bool(correction), str(reason)


def _whole(value: Any) -> Any:
    """JSON has one number type: ``12.0`` is the count 12 (a client may send either)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _open_incident(via: str) -> Incident:
    incident = _incident(via)
    if incident.closed_at is not None:
        _refuse("incident-closed", 409, incident=_incident_json(incident))
    return incident


# -- one keyed write ------------------------------------------------------------------------


def _keyed(
    user: User,
    key: str,
    body: Any,
    write: Callable[[], object],
    respond: Callable[[list[Event]], idempotency.Answer],
    lang: str,
    fields: Mapping[str, Any],
    current_json: Callable[[], dict[str, Any]],
) -> Response:
    """Run ``write`` once for ``key`` and answer; refusals are stored under the key too."""
    store = current().store

    def refuse(exc: Exception) -> idempotency.Answer | None:
        if isinstance(exc, hq_core.NotPermitted):
            return idempotency.Answer(403, problem("forbidden", 403, lang))
        if isinstance(exc, ValidationError):
            errors = [e.as_json() for e in field_errors(exc.problems, lang, fields=fields)]
            return idempotency.Answer(422, problem("validation", 422, lang, errors=errors))
        if isinstance(exc, ConflictError):
            return idempotency.Answer(409, _conflict_body(exc, fields, lang, current_json))
        if isinstance(exc, NotFoundError):
            return idempotency.Answer(409, problem("incident-closed", 409, lang))
        return None

    try:
        answer = idempotency.run_once(
            store,
            user.username,
            key,
            idempotency.fingerprint("POST", request.path, body),
            write,
            respond=respond,
            refuse=refuse,
        )
    except idempotency.KeyReused as exc:
        _refuse("idempotency-key-reused", 422, detail=str(exc))
    except idempotency.KeyInProgress:
        raise ApiProblem(
            409, problem("idempotency-in-progress", 409, lang), {"Retry-After": "1"}
        ) from None
    media = "application/json" if answer.status < 400 else PROBLEM_MEDIA_TYPE
    response = _json(dict(answer.body), answer.status, media_type=media)
    response.headers["Idempotency-Replayed"] = "true" if answer.replayed else "false"
    return response


def _conflict_body(
    exc: ConflictError,
    mine: Mapping[str, Any],
    lang: str,
    current_json: Callable[[], dict[str, Any]],
) -> dict[str, Any]:
    """The 409 document: each field changed by both sides, and the newest state.

    ``exc.fields`` (per-field merge) names the fields in conflict. A store that refuses any
    stale write gives none; the client then compares the newest state with what it saw.
    """
    names = _names()
    per_field: dict[str, Any] = {}
    for name, conflict in (getattr(exc, "fields", None) or {}).items():
        per_field[str(name)] = {
            "mine": plain(getattr(conflict, "mine", mine.get(name))),
            "theirs": plain(getattr(conflict, "theirs", None)),
            "original": plain(getattr(conflict, "original", None)),
            "by": _person(getattr(conflict, "by", None), names),
            "at": _iso(getattr(conflict, "at", None)),
        }
    detail = (
        "Someone else changed "
        + (", ".join(per_field) if per_field else "this record")
        + " after you loaded it. Nothing was saved. Check their values and send yours again "
        "on the newest version if they are still right."
        if lang == "en"
        else "あなたが画面を開いた後に、他の職員が同じ項目を更新しました。送信していません。"
        "内容を確かめ、必要なら最新の内容に対してもう一度送ってください。"
    )
    return problem(
        "conflict",
        409,
        lang,
        detail=detail,
        base_version=exc.expected,
        current_version=exc.actual,
        fields=per_field,
        current=current_json(),
    )


# -- unknown API paths and the OpenAPI document ----------------------------------------------


@api.get("/openapi.json", provide_automatic_options=False)
def get_openapi() -> Response:
    """The OpenAPI 3.1 description of this API."""
    response = _json(openapi_document())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@api.get("/<path:_rest>", provide_automatic_options=False)
def unknown(_rest: str) -> NoReturn:
    """Anything else under ``/api/v1`` is a 404 problem (not the Dash page router's HTML)."""
    _refuse("not-found", 404)


_WORDS: dict[str, tuple[str, str]] = {
    "no_shelter": ("避難所 {} は見つかりません", "no shelter {}"),
    "not_your_shelter": ("{} はあなたの担当避難所ではありません", "{} is not one of your shelters"),
    "bad_json": ("本文がJSONとして読めません", "the body is not valid JSON"),
}


def _words(name: str, *args: object) -> str:
    ja, en = _WORDS[name]
    return (en if _lang() == "en" else ja).format(*args)
