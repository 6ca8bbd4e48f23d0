"""Login throttling slows guessers but never lets strangers lock a staff member out.

Before, five wrong passwords from five addresses kept the real user out for 15 minutes, nobody
could lift it, and 24 concurrent attempts got 6 password checks where 5 were allowed. Times
are driven by a hand-moved clock (the store's), never by sleeping.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from disaster_dx import auth, login_throttle
from disaster_dx.cli import main
from disaster_dx.config import Settings
from disaster_dx.errors import NotFoundError
from disaster_dx.store import Store
from tests.camera_tools import ManualClock
from tests.conftest import add_staff_user
from tests.webtools import login_client

FREE = auth.MAX_FAILURES_PER_ACCOUNT


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def app(make_app: Any, app_settings: Settings, clock: ManualClock) -> Any:
    return make_app(store=Store(app_settings.database_url, clock=clock))


@pytest.fixture
def app_store(app: Any) -> Store:
    from disaster_dx.web.context import EXTENSION_KEY

    store: Store = app.server.extensions[EXTENSION_KEY].store
    return store


def _attempt(app: Any, username: str, password: str, address: str) -> Any:
    client = app.server.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return login_client(client, username, password)


def test_strangers_from_other_addresses_never_lock_the_real_user_out(
    app: Any, app_store: Store
) -> None:
    password = add_staff_user(app_store, "hq1", "hq")
    attackers = [f"203.0.113.{n}" for n in range(1, 6)]
    for address in attackers:  # the measured attack: a wrong password from each of 5 addresses
        assert _attempt(app, "hq1", "guess-1", address).status_code == 401
    for address in attackers:  # and more: until every attacker address is itself throttled
        for _ in range(FREE - 1):
            assert _attempt(app, "hq1", "guess-2", address).status_code == 401
        assert _attempt(app, "hq1", password, address).status_code == 429
    real = _attempt(app, "hq1", password, "192.0.2.10")  # the real user, from their own PC
    assert real.status_code == 302 and real.headers["Location"] == "/hq"


def test_back_off_doubles_for_one_attacker(app: Any, app_store: Store, clock: ManualClock) -> None:
    add_staff_user(app_store, "hq1", "hq")
    attacker = "203.0.113.9"
    for _ in range(FREE):
        assert _attempt(app, "hq1", "guess", attacker).status_code == 401
    waits = []
    for _ in range(4):
        refused = _attempt(app, "hq1", "guess", attacker)
        assert refused.status_code == 429
        wait = int(refused.headers["Retry-After"])
        waits.append(wait)
        clock.advance(wait - 1)
        assert _attempt(app, "hq1", "guess", attacker).status_code == 429  # not a second early
        clock.advance(1)
        assert _attempt(app, "hq1", "guess", attacker).status_code == 401  # one more check
    assert waits == [30, 60, 120, 240]
    checks = len(app_store.audit_log(action="login.failed"))
    assert checks == FREE + 4


def test_one_client_spraying_many_names_is_slowed(app: Any, app_store: Store) -> None:
    password = add_staff_user(app_store, "hq1", "hq")
    sprayer = "203.0.113.77"
    for n in range(auth.MAX_FAILURES_PER_ADDRESS):
        assert _attempt(app, f"name{n}", "guess", sprayer).status_code == 401
    refused = _attempt(app, "someone-new", "guess", sprayer)
    assert refused.status_code == 429
    text = refused.get_data(as_text=True)  # the address to give the administrator (unlock)
    assert "アドレス 203.0.113.77" in text and "どのアカウントでも" in text
    assert _attempt(app, "hq1", password, "192.0.2.10").status_code == 302  # others unaffected


def test_locked_out_page_says_how_long_and_whom_to_call(
    make_app: Any, app_settings: Settings
) -> None:
    settings = app_settings.with_overrides(
        login_help_ja="危機管理課の山田（内線 2345）に電話してください。",
        login_help_en="Call Yamada, crisis management (ext. 2345).",
    )
    app = make_app(settings)
    from disaster_dx.web.context import EXTENSION_KEY

    add_staff_user(app.server.extensions[EXTENSION_KEY].store, "hq1", "hq")
    for _ in range(FREE):
        wrong = _attempt(app, "hq1", "guess", "192.0.2.10").get_data(as_text=True)
        assert "内線 2345" not in wrong  # a typo is not a lock-out: no call needed yet
    client = app.server.test_client()
    client.environ_base["REMOTE_ADDR"] = "192.0.2.10"
    page = login_client(client, "hq1", "guess").get_data(as_text=True)
    assert "あと1分はログインできません" in page and "危機管理課の山田（内線 2345）" in page
    page = client.get("/login?lang=en").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    english = client.post(
        "/login?lang=en", data={"username": "hq1", "password": "x", "csrf_token": token}
    )
    text = english.get_data(as_text=True)
    assert english.status_code == 429
    assert "wait 1 minute(s)" in text and "Call Yamada, crisis management (ext. 2345)." in text


def test_default_help_text_names_whom_to_call(app: Any, app_store: Store) -> None:
    add_staff_user(app_store, "hq1", "hq")
    for _ in range(FREE):
        _attempt(app, "hq1", "guess", "192.0.2.10")
    page = _attempt(app, "hq1", "guess", "192.0.2.10").get_data(as_text=True)
    assert "システム管理者" in page


def test_user_unlock_lets_the_user_in_at_once(
    app: Any, app_store: Store, app_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", app_settings.database_url)
    monkeypatch.setenv("DATA_DIR", str(app_settings.data_dir))
    password = add_staff_user(app_store, "hq1", "hq")
    for _ in range(FREE):
        _attempt(app, "hq1", "typo", "192.0.2.10")
    assert _attempt(app, "hq1", password, "192.0.2.10").status_code == 429
    assert main(["user", "unlock", "hq1", "--actor", "chief"]) == 0
    assert _attempt(app, "hq1", password, "192.0.2.10").status_code == 302
    unlocked = app_store.audit_log(action="user.unlocked")[0]
    assert unlocked["actor"] == "chief" and unlocked["target"] == "hq1"
    assert unlocked["detail"]["cleared"] == 1
    assert main(["user", "unlock", "no-such-user"]) == 1  # a typo is said, not ignored


def test_unlock_can_clear_a_client_counter_too(store: Store) -> None:
    auth.add_user(store, "hq1", "a long password 1", {auth.Role.HQ}, actor="admin")
    for n in range(auth.MAX_FAILURES_PER_ADDRESS):
        with pytest.raises(auth.LoginRefused):
            auth.login(store, f"name{n}", "guess", address="10.0.0.5")
    with pytest.raises(auth.LoginRefused) as refused:
        auth.login(store, "hq1", "a long password 1", address="10.0.0.5")
    assert refused.value.throttled is not None and refused.value.throttled.scope == "client"
    assert auth.unlock(store, "hq1", actor="chief", client="10.0.0.5") == 1
    assert auth.login(store, "hq1", "a long password 1", address="10.0.0.5").username == "hq1"
    with pytest.raises(NotFoundError):
        auth.unlock(store, "nobody", actor="chief")


def test_concurrent_attempts_get_exactly_the_allowed_checks(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """24 simultaneous guesses on one account from one client: exactly 5 password checks."""
    store.clock = ManualClock()  # one instant: no back-off period ends during the burst
    auth.add_user(store, "hq1", "a long password 1", {auth.Role.HQ}, actor="admin")
    checks = 0
    lock = threading.Lock()
    real_check = auth.check_password_hash

    def counting_check(stored: str, password: str) -> bool:
        nonlocal checks
        with lock:
            checks += 1
        return real_check(stored, password)

    monkeypatch.setattr(auth, "check_password_hash", counting_check)
    start = threading.Barrier(24)
    outcomes: list[str] = []

    def attempt() -> None:
        start.wait()
        try:
            auth.login(store, "hq1", "guess", address="203.0.113.1")
        except auth.LoginRefused as refused:
            outcome = "throttled" if refused.throttled else "wrong"
        else:
            outcome = "in"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=attempt) for _ in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert checks == FREE
    assert sorted(outcomes) == ["throttled"] * (24 - FREE) + ["wrong"] * FREE
    assert login_throttle.failures_for(store, "hq1") == {"203.0.113.1": FREE}


def test_counters_are_forgotten_after_a_quiet_day(store: Store) -> None:
    clock = ManualClock()
    store.clock = clock
    auth.add_user(store, "hq1", "a long password 1", {auth.Role.HQ}, actor="admin")

    def wrong_passwords_before_a_wait() -> int:
        for n in range(FREE + 1):
            try:
                auth.login(store, "hq1", "typo", address="192.0.2.10")
            except auth.LoginRefused as refused:
                if refused.throttled:
                    return n
        return FREE + 1

    assert wrong_passwords_before_a_wait() == FREE
    clock.advance(login_throttle.DEFAULT_POLICY.forget_after.total_seconds() + 1)
    assert wrong_passwords_before_a_wait() == FREE  # a fresh start, not one try per wait
