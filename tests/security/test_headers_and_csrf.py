"""What the ASVS checklist (docs/security.md) claims for headers, callbacks and login sessions.

- Every staff answer forbids framing by other sites (clickjacking of HQ's buttons) and MIME
  sniffing; pages with a stricter policy of their own keep it.
- A Dash callback cannot be fired cross-site: a form on another site can only send
  ``text/plain``, ``application/x-www-form-urlencoded`` or ``multipart/form-data``, and the
  callback endpoint takes JSON only (SameSite=Lax keeps the cookie off such posts as well).
- Login starts a new session: what the session held before (its CSRF token) is not kept.
"""

from __future__ import annotations

import json
import re
import secrets

import pytest

from disaster_dx.web.context import EXTENSION_KEY
from tests.conftest import add_staff_user
from tests.webtools import callback_request, login_client


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def hq_client(app):
    store = app.server.extensions[EXTENSION_KEY].store
    client = app.server.test_client()
    login_client(client, "hq1", add_staff_user(store, "hq1", "hq"))
    return client


@pytest.mark.parametrize("path", ["/hq", "/hq/log", "/login", "/overview", "/_dash-layout"])
def test_staff_answers_cannot_be_framed_by_other_sites_or_sniffed(hq_client, path: str) -> None:
    answer = hq_client.get(path)
    assert answer.status_code == 200, path
    assert answer.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] == "same-origin"


def test_a_page_with_its_own_policy_keeps_it(hq_client) -> None:
    answer = hq_client.get("/m/")
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_a_cross_site_form_cannot_fire_a_callback(app, hq_client, content_type: str) -> None:
    hq_client.get("/hq")
    body = callback_request(
        app, "_pages_content", {("_pages_location", "pathname"): "/hq"}, "_pages_location.pathname"
    )
    same_site = hq_client.post("/_dash-update-component", json=body)
    assert same_site.status_code == 200  # the same request as JSON from our page works
    forged = hq_client.post(
        "/_dash-update-component",
        data=json.dumps(body),
        headers={"Content-Type": content_type},
    )
    assert forged.status_code in (400, 415), forged.status_code


def _csrf(client) -> str:
    page = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def test_login_starts_a_new_session(app) -> None:
    store = app.server.extensions[EXTENSION_KEY].store
    password = add_staff_user(store, "hq1", "hq")
    client = app.server.test_client()
    before = _csrf(client)
    answer = client.post(
        "/login", data={"username": "hq1", "password": password, "csrf_token": before}
    )
    assert answer.status_code == 302
    assert _csrf(client) != before


def test_production_cookies_are_secure_http_only_and_same_site(make_app, app_settings) -> None:
    app = make_app(app_settings.with_overrides(env="production", secret_key=secrets.token_hex(32)))
    client = app.server.test_client()
    client.get("/login")  # sets the session (its CSRF token)
    cookie = client.get_cookie("session")
    assert cookie is not None
    assert cookie.secure and cookie.http_only and cookie.same_site == "Lax"
