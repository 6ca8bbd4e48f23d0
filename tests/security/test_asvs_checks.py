"""Small checks behind rows of docs/security.md that no other test proved."""

from __future__ import annotations

import re

import pytest

from disaster_dx import auth
from disaster_dx.auth import Role
from disaster_dx.store import Store
from tests.security.test_js_text_only import SCRIPTS

EVAL = re.compile(r"\beval\s*\(|\bnew\s+Function\s*\(|\bset(?:Timeout|Interval)\s*\(\s*['\"`]")


def test_long_passwords_are_never_truncated(store: Store) -> None:
    """ASVS 2.1.3: the whole password counts, however long (no bcrypt-style 72-byte cut)."""
    password = "長い合言葉-" + "x" * 190 + "-end"
    auth.add_user(store, "long", password, {Role.HQ}, actor="test")
    assert auth.authenticate(store, "long", password) is not None
    assert auth.authenticate(store, "long", password[:-1]) is None
    assert auth.authenticate(store, "long", password[:72]) is None


def test_shipped_scripts_never_evaluate_strings() -> None:
    """ASVS 5.2.4 / 5.5.4: no eval, Function() or string timers in the JavaScript we ship."""
    offenders = [
        f"{script.name}:{number}"
        for script in SCRIPTS
        for number, line in enumerate(script.read_text(encoding="utf-8").splitlines(), 1)
        if EVAL.search(line) and not line.strip().startswith(("//", "*"))
    ]
    assert offenders == []


@pytest.fixture
def app(make_app):
    return make_app()


def test_no_site_is_allowed_cross_origin(app) -> None:
    """ASVS 14.5.3: no CORS headers for any origin; a preflight to the API is refused."""
    client = app.server.test_client()
    preflight = client.options(
        "/api/v1/shelters",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 405
    assert "Access-Control-Allow-Origin" not in preflight.headers
    for path in ("/api/v1/openapi.json", "/login", "/overview", "/"):
        answer = client.get(path, headers={"Origin": "https://evil.example"})
        assert "Access-Control-Allow-Origin" not in answer.headers, path
