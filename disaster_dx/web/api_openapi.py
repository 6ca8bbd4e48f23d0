"""The OpenAPI 3.1 description of ``/api/v1`` (served at ``/api/v1/openapi.json``).

Written by hand next to the code it describes and kept true by a schemathesis run against the
real app in the tests (every documented operation, generated and edge-case requests: no 5xx,
every response matching its schema). Field value rules come from the core's vocabulary, so a
new need or open state appears here without an edit.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from disaster_dx.events import MAX_COUNT, MAX_INTERNAL_NOTE, MAX_PUBLIC_NOTE
from disaster_dx.idempotency import MAX_KEY_LENGTH
from disaster_dx.model import Crowding, Hazard, Need, OpenState, ShelterKind


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _problem_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": _ref("Problem")}},
    }


_COUNT = {"type": "integer", "minimum": 0, "maximum": MAX_COUNT}
#: Text the core accepts: no control characters except tab and newline.
_PLAIN_TEXT = "^[^\\x00-\\x08\\x0b-\\x1f]*$"


def _text(limit: int, description: str = "") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "maxLength": limit, "pattern": _PLAIN_TEXT}
    if description:
        schema["description"] = description
    return schema


_NEEDS = {"type": "array", "items": {"enum": [n.value for n in Need]}, "uniqueItems": True}

_STATUS_FIELDS: dict[str, Any] = {
    "open_state": {"enum": [s.value for s in OpenState], "description": "開設状況"},
    "evacuees": {**_COUNT, "description": "避難者数"},
    "voluntary_evacuees": {**_COUNT, "description": "うち自主避難者数 (≤ evacuees)"},
    "households": {**_COUNT, "description": "世帯数"},
    "capacity": _nullable({**_COUNT, "description": "収容人数 (null: the master's)"}),
    "crowding_override": _nullable(
        {"enum": [c.value for c in Crowding], "description": "混雑状況 set by hand"}
    ),
    "needs": {**_NEEDS, "description": "必要な物資・支援"},
    "urgent_needs": {
        **_NEEDS,
        "description": "緊急の要請; sending a need re-confirms it (they lapse after some hours)",
    },
    "other_needs": _text(MAX_PUBLIC_NOTE),
    "pets_accepted": _nullable({"type": "boolean"}),
    "barrier_free": _nullable({"type": "boolean"}),
    "public_note": _text(MAX_PUBLIC_NOTE, "shown to citizens"),
    "internal_note": _text(MAX_INTERNAL_NOTE, "staff only"),
}

#: As shown: a count nobody has reported yet is null ("not reported", never zero).
_STATUS_VALUES: dict[str, Any] = {
    **_STATUS_FIELDS,
    **{
        name: _nullable(_STATUS_FIELDS[name])
        for name in ("evacuees", "voluntary_evacuees", "households")
    },
}

_PERSON = {
    "type": "object",
    "required": ["id", "name"],
    "properties": {
        "id": {"type": "string", "description": "login id"},
        "name": {"type": "string", "description": "display name"},
    },
}
_TIME = {"type": "string", "format": "date-time"}

_SCHEMAS: dict[str, Any] = {
    "Person": _PERSON,
    "Incident": {
        "type": "object",
        "required": ["id", "title", "drill", "closed"],
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "drill": {"type": "boolean", "description": "a drill (訓練): never real data"},
            "closed": {"type": "boolean"},
        },
    },
    "StatusFields": {
        "type": "object",
        "properties": _STATUS_FIELDS,
        "additionalProperties": False,
    },
    "StatusValues": {
        "type": "object",
        "required": sorted(_STATUS_VALUES),
        "properties": _STATUS_VALUES,
    },
    "Shelter": {
        "type": "object",
        "required": ["id", "name", "version", "fields", "reported_at", "reported_by"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "address": {"type": "string"},
            "lat": {"type": "number"},
            "lon": {"type": "number"},
            "kinds": {"type": "array", "items": {"enum": [k.value for k in ShelterKind]}},
            "hazards": {"type": "array", "items": {"enum": [h.value for h in Hazard]}},
            "master_capacity": _nullable({"type": "integer"}),
            "version": {
                "type": "integer",
                "minimum": 0,
                "description": "send it back as base_version with a report",
            },
            "fields": _ref("StatusValues"),
            "crowding": _nullable({"enum": [c.value for c in Crowding]}),
            "stale": {"type": "boolean", "description": "open and not reported for too long"},
            "reported_at": _nullable(_TIME),
            "reported_by": _nullable(_ref("Person")),
            "corrected_at": _nullable(_TIME),
            "opened_at": _nullable(_TIME),
        },
    },
    "ShelterReport": {
        "type": "object",
        "required": ["base_version", "fields"],
        "additionalProperties": False,
        "properties": {
            "base_version": {
                "type": "integer",
                "minimum": 0,
                "maximum": 2_147_483_647,
                "description": "the shelter's version when the user started editing",
            },
            "fields": {
                **_ref("StatusFields"),
                "minProperties": 1,
                "description": "ONLY the fields the user changed; untouched fields are never "
                "written. Fields others changed meanwhile merge; a field both changed is a 409.",
            },
            "correction": {
                "type": "boolean",
                "description": "訂正: fixes a mistake; never announced as a status change",
            },
            "reason": _text(200),
        },
    },
    "MergedFields": {
        "type": "object",
        "description": "fields others changed after base_version, kept as they left them",
        "additionalProperties": {
            "type": "object",
            "required": ["value", "by", "at"],
            "properties": {
                "value": {},
                "by": _nullable(_ref("Person")),
                "at": _nullable(_TIME),
            },
        },
    },
    "ShelterReportAccepted": {
        "type": "object",
        "required": ["shelter_id", "version", "at", "kind", "written", "reported_by", "incident"],
        "properties": {
            "shelter_id": {"type": "string"},
            "version": {"type": "integer"},
            "at": _TIME,
            "kind": {"enum": ["report", "correction"]},
            "written": {**_ref("StatusFields")},
            "merged": _ref("MergedFields"),
            "reported_by": _ref("Person"),
            "incident": _ref("Incident"),
        },
    },
    "AreaFields": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "at_home": {**_COUNT, "description": "在宅避難"},
            "in_car": {**_COUNT, "description": "車中泊"},
            "note": _text(MAX_PUBLIC_NOTE),
        },
    },
    "Area": {
        "type": "object",
        "required": ["area", "version", "fields"],
        "properties": {
            "area": {"type": "string"},
            "version": {"type": "integer", "minimum": 0},
            "fields": {
                "type": "object",
                "properties": {
                    "at_home": _nullable({"type": "integer"}),
                    "in_car": _nullable({"type": "integer"}),
                    "note": {"type": "string"},
                },
            },
            "reported_at": _nullable(_TIME),
            "reported_by": _nullable(_ref("Person")),
        },
    },
    "AreaReport": {
        "type": "object",
        "required": ["base_version", "fields"],
        "additionalProperties": False,
        "properties": {
            "base_version": {
                "type": "integer",
                "minimum": 0,
                "maximum": 2_147_483_647,
                "description": "0 for a new area",
            },
            "fields": {**_ref("AreaFields"), "minProperties": 1},
        },
    },
    "AreaReportAccepted": {
        "type": "object",
        "required": ["area", "version", "at", "written", "reported_by", "incident"],
        "properties": {
            "area": {"type": "string"},
            "version": {"type": "integer"},
            "at": _TIME,
            "written": _ref("AreaFields"),
            "merged": _ref("MergedFields"),
            "reported_by": _ref("Person"),
            "incident": _ref("Incident"),
        },
    },
    "FieldError": {
        "type": "object",
        "required": ["field", "pointer", "code", "detail"],
        "properties": {
            "field": {"type": "string"},
            "pointer": {"type": "string", "description": "JSON pointer into the request body"},
            "code": {
                "type": "string",
                "description": "stable: required, not_integer, negative, too_large, too_long, "
                "not_text, not_boolean, unknown_value, unknown_field, exceeds_evacuees, "
                "no_change, not_object, invalid, …",
            },
            "detail": {"type": "string", "description": "in the request's language"},
        },
    },
    "FieldConflict": {
        "type": "object",
        "required": ["mine", "theirs", "original", "by", "at"],
        "properties": {
            "mine": {"description": "the value this request sent"},
            "theirs": {"description": "the value someone else saved meanwhile"},
            "original": {"description": "the value at base_version"},
            "by": _nullable(_ref("Person")),
            "at": _nullable(_TIME),
        },
    },
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details; title and detail in Japanese unless "
        "?lang=en or Accept-Language prefers English",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {"type": "string", "description": "urn:disaster-dx:problem:<kind>"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "errors": {"type": "array", "items": _ref("FieldError")},
            "base_version": {"type": "integer"},
            "current_version": {"type": "integer"},
            "fields": {
                "type": "object",
                "additionalProperties": _ref("FieldConflict"),
                "description": "409: each field changed both here and by someone else",
            },
            "current": {"description": "409: the newest state (a Shelter or an Area)"},
            "incident": _ref("Incident"),
        },
    },
}

_AUTH_ERRORS = {
    "401": _problem_response("No valid session or token (WWW-Authenticate: Bearer)"),
    "403": _problem_response("The user lacks the role or the shelter (audit-logged)"),
}
_LANG = {
    "name": "lang",
    "in": "query",
    "required": False,
    "schema": {"type": "string", "examples": ["ja", "en"]},
    "description": "language of titles and error details: `en` (or any `en-…`) for English, "
    "anything else Japanese; without it, Accept-Language, else Japanese",
}
_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": True,
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_KEY_LENGTH,
        "pattern": "^[!-~]+$",
    },
    "description": "a new random value per report, made when the report is made; a retry with "
    "the same key and body returns the stored answer and writes nothing",
}
_CSRF = {
    "name": "X-CSRF-Token",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "session requests only: the csrf_token from GET /api/v1/me",
}
_POST_ERRORS = {
    "400": _problem_response("Missing or malformed Idempotency-Key, or a body that is not JSON"),
    **_AUTH_ERRORS,
    "404": _problem_response("No such shelter"),
    "409": _problem_response(
        "A field was changed both by this report and by someone else since base_version "
        "(fields: mine / theirs / original / by / at), a drill that has ended, or a request "
        "with the same key still running"
    ),
    "413": _problem_response("Body larger than 64 KB"),
    "415": _problem_response("Body not sent as application/json"),
    "422": _problem_response(
        "Invalid fields (errors: one entry per field), or an Idempotency-Key reused with a "
        "different body"
    ),
    "503": _problem_response("The database did not answer (Retry-After); nothing was saved"),
}


_TEXT_CHAR = "[^\\x00-\\x08\\x0b-\\x1f/]"
_AREA_PATTERN = f"^{_TEXT_CHAR}*[^\\s\\x00-\\x1f/]{_TEXT_CHAR}*$"


def _ok(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _post_body(name: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(name)}}}


_SHELTER_ID = {
    "name": "shelter_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[^/]+$"},
    "example": "E3920400009111",
}


@cache
def openapi_document() -> dict[str, Any]:
    """The document (built once per process; it depends only on the code)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "disaster_dx REST API",
            "version": "1",
            "description": "Shelter and area reports for the 災害対策本部. Authenticate with a "
            "personal token (`disaster-dx token create NAME`, then "
            "`Authorization: Bearer dxt_…`) or a staff session (POSTs then also send "
            "X-CSRF-Token). Every POST needs an Idempotency-Key. Errors are RFC 9457 problem "
            "details.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"session": []}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "dxt_…"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
            "schemas": _SCHEMAS,
        },
        "paths": {
            "/api/v1/me": {
                "get": {
                    "operationId": "getMe",
                    "summary": "Who I am, the incident I work in, and the CSRF token (sessions)",
                    "parameters": [_LANG],
                    "responses": {
                        "200": _ok(
                            {
                                "type": "object",
                                "required": ["user", "auth", "csrf_token", "incident"],
                                "properties": {
                                    "user": {
                                        "allOf": [_ref("Person")],
                                        "type": "object",
                                        "properties": {
                                            "roles": {"type": "array", "items": {"type": "string"}},
                                            "shelter_ids": {
                                                "type": "array",
                                                "items": {"type": "string"},
                                            },
                                        },
                                    },
                                    "auth": {"enum": ["token", "session"]},
                                    "csrf_token": _nullable({"type": "string"}),
                                    "incident": _ref("Incident"),
                                },
                            },
                            "The caller",
                        ),
                        **_AUTH_ERRORS,
                    },
                }
            },
            "/api/v1/shelters": {
                "get": {
                    "operationId": "listShelters",
                    "summary": "The shelters I may report for, with state and version",
                    "parameters": [_LANG],
                    "responses": {
                        "200": _ok(
                            {
                                "type": "object",
                                "required": ["incident", "shelters"],
                                "properties": {
                                    "incident": _ref("Incident"),
                                    "shelters": {"type": "array", "items": _ref("Shelter")},
                                },
                            },
                            "HQ: every shelter; shelter staff: their assigned ones",
                        ),
                        **_AUTH_ERRORS,
                    },
                }
            },
            "/api/v1/shelters/{shelter_id}": {
                "get": {
                    "operationId": "getShelter",
                    "summary": "One shelter with its state and version",
                    "parameters": [_SHELTER_ID, _LANG],
                    "responses": {
                        "200": _ok(
                            {
                                "type": "object",
                                "required": ["incident", "shelter"],
                                "properties": {
                                    "incident": _ref("Incident"),
                                    "shelter": _ref("Shelter"),
                                },
                            },
                            "The shelter",
                        ),
                        **_AUTH_ERRORS,
                        "404": _problem_response("No such shelter"),
                    },
                }
            },
            "/api/v1/shelters/{shelter_id}/reports": {
                "post": {
                    "operationId": "reportShelter",
                    "summary": "Report the fields I changed, on the version I saw",
                    "parameters": [_SHELTER_ID, _KEY, _CSRF, _LANG],
                    "requestBody": _post_body("ShelterReport"),
                    "responses": {
                        "201": _ok(_ref("ShelterReportAccepted"), "Saved (or the stored answer)"),
                        **_POST_ERRORS,
                    },
                }
            },
            "/api/v1/areas": {
                "get": {
                    "operationId": "listAreas",
                    "summary": "People outside shelters (在宅避難・車中泊) per area (HQ)",
                    "parameters": [_LANG],
                    "responses": {
                        "200": _ok(
                            {
                                "type": "object",
                                "required": ["incident", "areas"],
                                "properties": {
                                    "incident": _ref("Incident"),
                                    "areas": {"type": "array", "items": _ref("Area")},
                                },
                            },
                            "Areas with their counts and versions",
                        ),
                        **_AUTH_ERRORS,
                    },
                }
            },
            "/api/v1/areas/{area}/reports": {
                "post": {
                    "operationId": "reportArea",
                    "summary": "Report an area's counts, on the version I saw (HQ)",
                    "parameters": [
                        {
                            "name": "area",
                            "in": "path",
                            "required": True,
                            "schema": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": 195,
                                # some text that is not space; no control characters but tab
                                # and newline (the core's rule for text); no "/"
                                "pattern": _AREA_PATTERN,
                            },
                            "example": "稲生",
                            "description": "the area's name (地区), e.g. a 自治会; spaces "
                            "around it are ignored",
                        },
                        _KEY,
                        _CSRF,
                        _LANG,
                    ],
                    "requestBody": _post_body("AreaReport"),
                    "responses": {
                        "201": _ok(_ref("AreaReportAccepted"), "Saved (or the stored answer)"),
                        **_POST_ERRORS,
                    },
                }
            },
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "getOpenApi",
                    "summary": "This document",
                    "security": [],
                    "responses": {"200": _ok({"type": "object"}, "OpenAPI 3.1")},
                }
            },
        },
    }
