"""The OpenAPI document stays true: schemathesis drives the real app with generated requests.

Every documented operation gets schema-valid and schema-invalid requests (as an HQ token, who
may do everything); every response must be a documented status with a body matching its
schema, and none may be a 5xx. ``.ci/run`` runs this on SQLite and on PostgreSQL, like the
rest of the suite.
"""

from __future__ import annotations

import re
import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from disaster_dx import api_tokens
from disaster_dx.web.api_openapi import openapi_document
from disaster_dx.web.context import EXTENSION_KEY
from tests.conftest import add_staff_user

#: The one rule a JSON schema cannot say (voluntary evacuees ≤ evacuees): a valid-looking
#: report may get a 422 for it, and for nothing else.
BUSINESS_RULES = {"exceeds_evacuees"}
_VALID_KEY = re.compile(r"^[!-~]{1,150}$")


@pytest.fixture
def token(make_app) -> tuple[object, str]:
    app = make_app()
    store = app.server.extensions[EXTENSION_KEY].store
    add_staff_user(store, "hq-schema", "hq")
    _record, secret = api_tokens.create_token(store, "hq-schema", actor="test")
    return app, secret


#: Each operation of the document with each generation mode, read without an app so pytest can
#: name one test per case. An operation that takes no input has nothing to get wrong: no negative.
CASES = [
    (method.upper(), path, mode)
    for path, item in openapi_document()["paths"].items()
    for method, operation in item.items()
    if method in {"get", "put", "post", "patch", "delete"}
    for mode in GenerationMode
    if mode is GenerationMode.POSITIVE
    or operation.get("parameters")
    or item.get("parameters")
    or operation.get("requestBody")
]


def _check(case, secret: str) -> None:
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and _VALID_KEY.match(key):
        # A real client makes a new key per report; generated cases reuse the same few values,
        # which the API rightly refuses (422) when the body differs.
        case.headers["Idempotency-Key"] = f"{key}-{uuid.uuid4()}"
    response = case.call_and_validate(
        # The WSGI transport hands schemathesis the raw body: ask for it uncompressed
        # (compression has its own tests in test_compression.py).
        headers={"Authorization": f"Bearer {secret}", "Accept-Encoding": "identity"},
        excluded_checks=[positive_data_acceptance],
    )
    if case.meta is not None and case.meta.generation.mode.is_positive:
        # Instead of schemathesis's positive_data_acceptance: the same, plus the one 422.
        if response.status_code == 422:
            codes = {e["code"] for e in response.json().get("errors", [])}
            assert codes <= BUSINESS_RULES, response.text[:500]
        else:
            assert response.status_code < 400 or response.status_code in (401, 403, 404, 409), (
                response.status_code,
                response.text[:500],
            )


# Driven through schemathesis's Python API and Hypothesis rather than its pytest plugin: the
# plugin's lazy fixture reaches into pytest internals (``Item._nodeid``) that pytest 9.2 removed.
@pytest.mark.parametrize(
    ("method", "path", "mode"), CASES, ids=[f"{m} {p} {g.value}" for m, p, g in CASES]
)
def test_the_api_matches_its_openapi_document(token, method: str, path: str, mode) -> None:
    app, secret = token
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app.server)
    operation = schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case) -> None:
        _check(case, secret)

    run()
