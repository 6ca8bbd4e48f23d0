"""Shared fixtures: a fresh store per test on SQLite and PostgreSQL, services that may be absent.

Tests that need PostgreSQL, Chromium or ``../shared/data`` skip with a reason when those are
missing, so the README test command passes on any machine. ``DX_REQUIRE`` (comma list of
``postgres``, ``browser``, ``shared_data``) turns those skips into failures: ``.ci/run`` sets it,
so CI cannot pass while silently skipping them.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

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


@pytest.fixture
def shared_data() -> Path:
    return require_shared_data()


def _postgres_store() -> Iterator[Store]:
    problem = postgres_problem()
    if problem:
        skip_or_fail("postgres", problem)
    schema = f"dx_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    store = Store(POSTGRES_URL, schema=schema)
    try:
        store.create_schema()
        yield store
    finally:
        store.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


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
    schema = f"dx_app_{uuid.uuid4().hex[:12]}"
    admin = create_engine(configured)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{configured}{'&' if '?' in configured else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
