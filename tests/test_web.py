"""The app factory and the overview page, through Flask's test client (no browser)."""

from __future__ import annotations

import json

from plotly.utils import PlotlyJSONEncoder

from disaster_dx import auth
from disaster_dx.config import Settings
from disaster_dx.web import overview
from disaster_dx.web.context import EXTENSION_KEY
from tests.conftest import add_staff_user


def _layout_json(app, lang: str | None = None) -> str:
    """The overview page as a signed-in staff member's browser receives it (staff only)."""
    from flask_login import login_user

    from disaster_dx.web.security import WebUser

    store = app.server.extensions[EXTENSION_KEY].store
    if not any(u.username == "viewer" for u in auth.list_users(store)):
        add_staff_user(store, "viewer", "shelter_staff")
    with app.server.test_request_context(overview.PATH):
        login_user(WebUser(auth.get_user(store, "viewer")))
        component = overview.layout(lang=lang)
    return json.dumps(component, cls=PlotlyJSONEncoder, ensure_ascii=False)


def test_first_start_creates_the_database_with_the_bundled_shelters(
    make_app,
    app_settings: Settings,
) -> None:
    app = make_app()
    client = app.server.test_client()
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json == {
        "ok": True,
        "shelters": 139,
        "components": {"database": "ok", "public_snapshots": "ok"},
    }
    page = client.get("/")  # the static public page, published on start
    assert page.status_code == 200
    assert '<html lang="ja"' in page.get_data(as_text=True)
    assert (app_settings.public_dir / "index.html").read_bytes() == page.get_data()
    # The Dash overview map is for staff: a citizen is sent to the public page.
    assert client.get("/overview").headers["Location"] == "/"
    # A second app on the same database (another worker) changes nothing.
    again = make_app()
    assert again.server.test_client().get("/healthz").json["shelters"] == 139


def test_overview_layout_has_every_shelter_and_the_credit(make_app, app_settings: Settings) -> None:
    app = make_app()
    text = _layout_json(app)
    assert text.count('"shelter_id"') == 139
    assert "出典：国土地理院" in text and "地理院タイル" in text
    assert "開設状況" in text and "満員" in text
    english = _layout_json(app, "en")
    assert "Nankoku City shelter map" in english and "Not open" in english


def test_session_cookie_settings(make_app, app_settings: Settings) -> None:
    config = make_app().server.config
    assert config["SESSION_COOKIE_HTTPONLY"] is True
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert config["SECRET_KEY"] == app_settings.secret_key
