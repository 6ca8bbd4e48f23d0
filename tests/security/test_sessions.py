"""A captured session cookie stops working when its session ends, on the server.

Before, sessions were Flask signed cookies checked only for a valid signature and an enabled
user: a cookie copied from a staff browser kept working after logout, after ``user passwd``
and after a role change, for up to 31 days. Each test replays such a copied cookie against a
staff page, the REST API and a staff Dash callback. Lifetimes are driven by a hand-moved clock
(the store's), never by sleeping.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from disaster_dx.cli import main
from disaster_dx.config import Settings
from disaster_dx.store import Store
from tests.camera_tools import ManualClock
from tests.conftest import add_staff_user
from tests.webtools import login_client


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def app(make_app: Any, app_settings: Settings, clock: ManualClock) -> Any:
    return make_app(store=Store(app_settings.database_url, clock=clock))


@pytest.fixture
def store(app: Any) -> Store:
    from disaster_dx.web.context import EXTENSION_KEY

    store: Store = app.server.extensions[EXTENSION_KEY].store
    return store


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, app_settings: Settings) -> None:
    """The CLI on the app's database (as an operator on the server would run it)."""
    for name in ("DX_USER_PASSWORD", "DISASTER_DX_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", app_settings.database_url)
    monkeypatch.setenv("DATA_DIR", str(app_settings.data_dir))


def _captured_cookie(app: Any, username: str, password: str) -> tuple[Any, str]:
    """A logged-in client, and a copy of its session cookie as an attacker would keep it."""
    client = app.server.test_client()
    assert login_client(client, username, password).status_code == 302
    cookie = client.get_cookie("session")
    assert cookie is not None
    return client, cookie.value


def _replay(app: Any, cookie: str) -> dict[str, int]:
    """What a fresh client holding only ``cookie`` gets from a page, the API and a callback."""
    thief = app.server.test_client()
    thief.set_cookie("session", cookie)
    page = thief.get("/hq")
    api = thief.get("/api/v1/me")
    callback = thief.post(
        "/_dash-update-component",
        json={
            "output": "hq-board.children",
            "outputs": {"id": "hq-board", "property": "children"},
            "inputs": [{"id": "hq-refresh", "property": "n_intervals", "value": 1}],
            "changedPropIds": ["hq-refresh.n_intervals"],
        },
    )
    return {"page": page.status_code, "api": api.status_code, "callback": callback.status_code}


def _refused(app: Any, cookie: str) -> bool:
    seen = _replay(app, cookie)
    return seen == {"page": 302, "api": 401, "callback": 401}


def _logout(client: Any) -> int:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    return int(client.post("/logout", data={"csrf_token": token}).status_code)


def test_copied_cookie_works_until_the_session_ends(app: Any, store: Store) -> None:
    password = add_staff_user(store, "hq1", "hq")
    _, cookie = _captured_cookie(app, "hq1", password)
    seen = _replay(app, cookie)
    assert seen["page"] == 200 and seen["api"] == 200  # the control: the copy is live


def test_cookie_refused_after_logout(app: Any, store: Store) -> None:
    password = add_staff_user(store, "hq1", "hq")
    client, cookie = _captured_cookie(app, "hq1", password)
    _, other_screen = _captured_cookie(app, "hq1", password)  # the same user on another PC
    assert _logout(client) == 302
    assert _refused(app, cookie)
    assert _refused(app, other_screen)  # logout ends every session of the user
    assert [e["actor"] for e in store.audit_log(action="logout")] == ["hq1"]


def test_cookie_refused_after_user_passwd(
    app: Any, store: Store, cli_env: None, tmp_path: Any
) -> None:
    password = add_staff_user(store, "hq1", "hq")
    _, cookie = _captured_cookie(app, "hq1", password)
    new_password = tmp_path / "pw"
    new_password.write_text("a brand new password 42", encoding="utf-8")
    assert main(["user", "passwd", "hq1", "--password-file", str(new_password)]) == 0
    assert _refused(app, cookie)
    client = app.server.test_client()
    assert login_client(client, "hq1", "a brand new password 42").status_code == 302
    assert client.get("/hq").status_code == 200


def test_cookie_refused_after_role_change(app: Any, store: Store, cli_env: None) -> None:
    password = add_staff_user(store, "boss", "admin")
    _, cookie = _captured_cookie(app, "boss", password)
    assert main(["user", "roles", "boss", "--roles", "hq,planner", "--actor", "chief"]) == 0
    assert _refused(app, cookie)
    changed = store.audit_log(action="user.roles_changed")[0]
    assert changed["actor"] == "chief" and changed["detail"]["roles"] == ["hq", "planner"]


def test_cookie_refused_after_disable_even_once_re_enabled(
    app: Any, store: Store, cli_env: None
) -> None:
    password = add_staff_user(store, "hq1", "hq")
    _, cookie = _captured_cookie(app, "hq1", password)
    assert main(["user", "disable", "hq1"]) == 0
    assert _refused(app, cookie)
    assert main(["user", "enable", "hq1"]) == 0
    assert _refused(app, cookie)  # re-enabling does not bring old sessions back


def test_user_logout_ends_every_session_from_the_cli(app: Any, store: Store, cli_env: None) -> None:
    password = add_staff_user(store, "staff1", "hq")
    _, cookie = _captured_cookie(app, "staff1", password)
    assert main(["user", "logout", "staff1", "--actor", "chief"]) == 0
    assert _refused(app, cookie)
    assert store.audit_log(action="user.sessions_ended")[0]["actor"] == "chief"


def test_idle_session_expires_and_activity_keeps_it(
    app: Any, store: Store, clock: ManualClock, app_settings: Settings
) -> None:
    idle = timedelta(minutes=app_settings.session_idle_minutes)
    most = timedelta(hours=app_settings.session_max_hours)
    password = add_staff_user(store, "hq1", "hq")
    client, _ = _captured_cookie(app, "hq1", password)
    clock.advance((idle - timedelta(minutes=1)).total_seconds())
    assert client.get("/hq").status_code == 200  # a request in time keeps the session
    clock.advance(idle.total_seconds())  # idle once more; short of the absolute lifetime
    assert 2 * idle - timedelta(minutes=1) < most
    expired = client.get("/hq")
    assert expired.status_code == 302 and expired.headers["Location"].startswith("/login")
    page = client.get(expired.headers["Location"]).get_data(as_text=True)
    assert "ログインの有効期限が切れました" in page


def test_absolute_lifetime_ends_even_a_busy_session(
    app: Any, store: Store, clock: ManualClock, app_settings: Settings
) -> None:
    most = timedelta(hours=app_settings.session_max_hours)
    password = add_staff_user(store, "hq1", "hq")
    client, _ = _captured_cookie(app, "hq1", password)
    busy = timedelta(minutes=30)
    elapsed = timedelta(0)
    while elapsed + busy < most:
        clock.advance(busy.total_seconds())
        elapsed += busy
        assert client.get("/api/v1/me").status_code == 200
    clock.advance((most - elapsed).total_seconds())
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/hq").status_code == 302


def test_lifetimes_come_from_settings(make_app: Any, app_settings: Settings) -> None:
    clock = ManualClock()
    settings = app_settings.with_overrides(session_idle_minutes=10, session_max_hours=1)
    app = make_app(settings, store=Store(settings.database_url, clock=clock))
    from disaster_dx.web.context import EXTENSION_KEY

    password = add_staff_user(app.server.extensions[EXTENSION_KEY].store, "hq1", "hq")
    client, _ = _captured_cookie(app, "hq1", password)
    clock.advance(9 * 60)
    assert client.get("/hq").status_code == 200
    clock.advance(10 * 60)
    assert client.get("/hq").status_code == 302


def test_session_ended_elsewhere_says_so_on_the_login_page(
    app: Any, store: Store, cli_env: None
) -> None:
    password = add_staff_user(store, "hq1", "hq")
    client, _ = _captured_cookie(app, "hq1", password)
    assert main(["user", "disable", "hq1"]) == 0
    sent_away = client.get("/hq")
    assert sent_away.status_code == 302
    page = client.get(sent_away.headers["Location"]).get_data(as_text=True)
    assert "ログインが終了しました" in page
    # Shown once: the notice does not stick to the next visit.
    assert "ログインが終了しました" not in client.get("/login").get_data(as_text=True)
