"""Shared fixtures: a fresh store per test on SQLite and PostgreSQL, services that may be absent.

Tests that need PostgreSQL, Chromium or ``../shared/data`` skip with a reason when those are
missing, so the README test command passes on any machine. ``DX_REQUIRE`` (comma list of
``postgres``, ``browser``, ``shared_data``, ``line_sdk``, ``lighthouse``) turns those skips into
failures: ``.ci/run`` sets it, so CI cannot pass while silently skipping them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from disaster_dx.config import Settings
from disaster_dx.store import Store
from tests.common import SHARED_DATA

POSTGRES_URL = os.environ.get(
    "DX_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRED = {p.strip() for p in os.environ.get("DX_REQUIRE", "").split(",") if p.strip()}


def skip_or_fail(service: str, reason: str) -> None:
    """Skip when a service is missing, unless ``DX_REQUIRE`` says CI needs it."""
    if service in REQUIRED:
        pytest.fail(f"{service} is required (DX_REQUIRE) but unavailable: {reason}")
    pytest.skip(reason)


@cache
def postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used, or None when it can (checked once per run)."""
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:  # any failure means "not available here"
        return f"PostgreSQL unreachable at {POSTGRES_URL}: {type(exc).__name__}"
    return None


@cache
def chromium_problem() -> str | None:
    """Why browser tests cannot run, or None when Chromium and its driver are installed."""
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        return "Chromium not installed (apt-get install chromium chromium-driver)"
    if not shutil.which("chromedriver"):
        return "chromedriver not installed (apt-get install chromium-driver)"
    return None


def require_shared_data() -> Path:
    """The shared reference data folder, or skip (fail under DX_REQUIRE) when absent."""
    if not SHARED_DATA.is_dir():
        skip_or_fail("shared_data", f"reference data folder {SHARED_DATA} is absent")
    return SHARED_DATA


def pytest_setup_options() -> object:
    """Chromium options for dash_duo: Debian's chromium, no sandbox (containers), no network."""
    from selenium.webdriver.chrome.options import Options

    options = Options()
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary:
        options.binary_location = binary
    for flag in (
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        "--lang=ja",
    ):
        options.add_argument(flag)
    return options


@pytest.fixture(autouse=True)
def _browser_available(request: pytest.FixtureRequest) -> None:
    """Browser tests (anything using dash_duo) skip cleanly without Chromium."""
    if "dash_duo" in request.fixturenames:
        request.applymarker(pytest.mark.browser)
        problem = chromium_problem()
        if problem:
            skip_or_fail("browser", problem)
        _next_dash_port_is_free()


def _next_dash_port_is_free() -> None:
    """dash_duo counts ports up from one fixed number in every process: two test runs on one
    machine (two worktrees, SQLite and PostgreSQL side by side) would serve each other's apps.
    Start each browser test on a port the system just handed out instead."""
    import socket

    from dash.testing.application_runners import BaseDashRunner

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        BaseDashRunner._next_port = probe.getsockname()[1]


@pytest.fixture
def shared_data() -> Path:
    return require_shared_data()


@contextlib.contextmanager
def fresh_postgres_schema(url: str, prefix: str) -> Iterator[str]:
    """A new PostgreSQL schema for one test, dropped afterwards: parallel runs never collide."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield schema
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _postgres_store() -> Iterator[Store]:
    problem = postgres_problem()
    if problem:
        skip_or_fail("postgres", problem)
    with fresh_postgres_schema(POSTGRES_URL, "dx_test") as schema:
        store = Store(POSTGRES_URL, schema=schema)
        try:
            store.create_schema()
            yield store
        finally:
            store.dispose()


def _sqlite_store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    store.create_schema()
    try:
        yield store
    finally:
        store.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh, empty store with the schema created, once per backend."""
    if request.param == "postgres":
        yield from _postgres_store()
    else:
        yield from _sqlite_store(tmp_path)


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A database URL for app-level tests: SQLite, or PostgreSQL when DX_TEST_DATABASE_URL says.

    ``.ci/run`` runs the whole suite a second time with ``DX_TEST_DATABASE_URL`` pointing at
    PostgreSQL, so the app, CLI and browser tests also run on it. A fresh schema per test keeps
    runs from colliding.
    """
    configured = os.environ.get("DX_TEST_DATABASE_URL", "")
    if not configured.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'app.sqlite3'}"
        return
    with fresh_postgres_schema(configured, "dx_app") as schema:
        yield f"{configured}{'&' if '?' in configured else '?'}options=-csearch_path%3D{schema}"


@pytest.fixture
def app_settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings for an app on a fresh database (SQLite, or PostgreSQL under CI's second run)."""
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "var",
        public_dir=tmp_path / "public",
        secret_key="test-secret-key-" + "x" * 32,
    )


SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"


@pytest.fixture
def screenshot() -> Callable[[object, str], Path]:
    """Save a PNG of the browser under ``screenshots/`` (git-ignored) for people to look at."""

    def save(driver: object, name: str) -> Path:
        SCREENSHOTS.mkdir(exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        driver.save_screenshot(str(path))  # type: ignore[attr-defined]
        return path

    return save


@pytest.fixture
def make_app(
    app_settings: Settings, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Any]]:
    """Build apps with :func:`create_app`; their database connections close after the test."""
    from disaster_dx.web.context import EXTENSION_KEY, runtime_of
    from disaster_dx.web.factory import create_app

    apps: list[Any] = []

    def build(settings: Settings | None = None, **kwargs: Any) -> Any:
        app = create_app(settings or app_settings, **kwargs)
        apps.append(app)
        return app

    yield build
    # A browser test's page keeps polling: leave it first, so no request opens a database
    # connection after the pool is closed (that connection would leak into a later test).
    for name in ("dash_duo", "second_browser"):
        if name in request.fixturenames:
            with contextlib.suppress(Exception):  # already torn down: nothing polls any more
                driver = request.getfixturevalue(name)
                getattr(driver, "driver", driver).get("about:blank")
    for app in apps:
        # Its loops (re-planning, LINE sender, pollers) must not outlive the database.
        runtime_of(app.server).stop()
        app.server.extensions[EXTENSION_KEY].store.dispose()


@pytest.fixture
def second_browser() -> Iterator[Any]:
    """Another headless Chromium session (a second HQ screen or a phone), closed afterwards."""
    problem = chromium_problem()
    if problem:
        skip_or_fail("browser", problem)
    from selenium import webdriver

    options = pytest_setup_options()
    options.add_argument("--headless=new")  # type: ignore[attr-defined]
    driver = webdriver.Chrome(options=options)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()


def add_staff_user(store: Store, username: str, *roles: str, shelters: tuple[str, ...] = ()) -> str:
    """A staff account for tests; returns its password."""
    from disaster_dx import auth

    password = f"pw-{username}-0123456789"
    auth.add_user(
        store,
        username,
        password,
        auth.parse_roles(roles),
        actor="test",
        shelter_ids=list(shelters),
    )
    return password
