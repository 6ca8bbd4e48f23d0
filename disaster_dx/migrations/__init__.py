"""Schema migrations: Alembic owns the database schema, and a city upgrading keeps its log.

:func:`create_or_upgrade` (what ``Store.create_schema`` calls on every start) brings any
database to the newest revision, under a lock so several workers may start at once:

- **empty** (none of our tables) → every module's tables from :func:`all_metadata`
  (``create_all``) and ``stamp head``: fast, and what the test suite does per test;
- **versioned** (an ``alembic_version`` row) → ``upgrade head`` when behind, nothing when current;
- **from before Alembic** (our tables, no ``alembic_version``; release 0.1) → adopted: revision
  0001 creates whichever release-0.1 tables are missing and keeps the ones there (as ``stamp
  0001`` would), then the chain runs to head.

Everything runs in one transaction holding the schema lock (PostgreSQL
``pg_advisory_xact_lock`` per schema; SQLite ``BEGIN IMMEDIATE``), so a failed upgrade leaves the
database as it was. After an upgrade the database is compared with the models (missing tables or
columns are an error, other differences are logged), and :func:`rebuild_derived` rebuilds data
derived from the event log.

Both ways must give the same schema: the migration chain from empty and ``create_all`` of the
models. ``tests/test_migrations.py`` proves it with Alembic's ``compare_metadata`` on SQLite and
PostgreSQL. The revisions live in ``versions/``; no ``alembic.ini`` is needed (configured here).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import MetaData, inspect, text
from sqlalchemy.engine import Connection

from disaster_dx.errors import DisasterDxError

if TYPE_CHECKING:
    from disaster_dx.store import Store

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent

#: First key of the PostgreSQL advisory lock taken while the schema is created or upgraded
#: (the second key is the schema's name, hashed, so test schemas do not wait for each other).
LOCK_KEY = 0x0D15A57E

#: Alembic's table holding the database's revision (its default name).
VERSION_TABLE = "alembic_version"

Action = Literal["created", "upgraded", "adopted", "current"]


class SchemaError(DisasterDxError):
    """The database's schema cannot be brought to this version's (the message says why)."""


@dataclass(frozen=True)
class SchemaChange:
    """What :func:`create_or_upgrade` did: ``before`` is ``None`` for an unversioned database."""

    action: Action
    before: str | None
    after: str

    def summary(self) -> str:
        """One line for ``disaster-dx init`` and the log."""
        if self.action == "created":
            return f"created the database schema (revision {self.after})"
        if self.action == "adopted":
            return f"upgraded a database from before migrations (release 0.1) to {self.after}"
        if self.action == "upgraded":
            return f"upgraded the database schema from {self.before} to {self.after}"
        return f"database schema is up to date (revision {self.after})"


def all_metadata() -> list[MetaData]:
    """Every module's tables: the one list ``create_all``, Alembic and the schema test use.

    A module that adds a MetaData adds it here (and a revision creating its tables).
    """
    # Imported here: these modules import the store, which calls into this package.
    from disaster_dx import (
        api_tokens,
        cameras,
        drills,
        idempotency,
        leases,
        login_throttle,
        plans,
        projection,
        refusals,
        store,
    )
    from disaster_dx.line import store as line_store

    return [
        store.metadata,
        projection.projection_metadata,
        leases.lease_metadata,
        drills.drill_metadata,
        cameras.camera_metadata,
        plans.plan_metadata,
        line_store.notify_metadata,
        api_tokens.token_metadata,
        idempotency.idempotency_metadata,
        login_throttle.throttle_metadata,
        refusals.refusal_metadata,
    ]


def model_table_names() -> set[str]:
    """Names of every table the models define."""
    return {name for metadata in all_metadata() for name in metadata.tables}


@cache
def script_directory() -> ScriptDirectory:
    """The revisions shipped with the package (read once per process)."""
    return ScriptDirectory(str(MIGRATIONS_DIR))


def head() -> str:
    """The newest revision this version of disaster_dx knows."""
    found = script_directory().get_current_head()
    if found is None:  # pragma: no cover - the package always ships its revisions
        raise SchemaError(f"no migration revisions found in {MIGRATIONS_DIR / 'versions'}")
    return found


def alembic_config(
    connection: Connection | None = None, *, script_location: Path = MIGRATIONS_DIR
) -> Config:
    """An Alembic config for the shipped revisions, bound to ``connection`` (no alembic.ini)."""
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("file_template", "%%(rev)s")  # versions/<revision id>.py
    config.attributes["connection"] = connection
    return config


def write_revision(message: str, *, rev_id: str, script_location: Path = MIGRATIONS_DIR) -> Path:
    """Write the next revision file, autogenerated from what the models have that it lacks.

    For developers (``python -m disaster_dx.migrations revision``): a scratch SQLite database
    is brought to head through the revision chain (never ``create_all``), then Alembic compares
    it with :func:`all_metadata`. Review the file: autogenerate misses renames and data moves,
    and must be right on PostgreSQL too.
    """
    from disaster_dx.store import Store

    with tempfile.TemporaryDirectory() as scratch:
        store = Store(f"sqlite:///{scratch}/chain.sqlite3")
        try:
            with store.engine.begin() as conn:
                config = alembic_config(conn, script_location=script_location)
                command.upgrade(config, "head")
                written = command.revision(
                    config, message=message, rev_id=rev_id, autogenerate=True
                )
        finally:
            store.dispose()
    if written is None or isinstance(written, list) or written.path is None:
        raise SchemaError(f"Alembic wrote no single revision for {rev_id!r}")
    return Path(written.path)


def create_or_upgrade(store: Store) -> SchemaChange:
    """Create the schema on an empty database or bring it to the newest revision.

    Safe to call from several processes at once and on every start: on a current database it
    costs one locked read of ``alembic_version``. After an upgrade, :func:`rebuild_derived` runs
    (outside the schema transaction: it writes through the store).
    """
    with _schema_transaction(store) as conn:
        change = _bring_to_head(conn)
    if change.action != "current":
        log.log(logging.DEBUG if change.action == "created" else logging.INFO, change.summary())
    if change.action in ("upgraded", "adopted"):
        rebuild_derived(store)
    return change


def current_revision(store: Store) -> str | None:
    """The revision the database is at, or ``None`` when it has no ``alembic_version`` yet."""
    with store.engine.connect() as conn:
        return _stored_revision(conn, set(inspect(conn).get_table_names()))


@dataclass(frozen=True)
class DatabaseStatus:
    """Where a database stands, read without changing it (``disaster-dx db current``)."""

    revision: str | None
    head: str
    has_tables: bool

    @property
    def is_current(self) -> bool:
        """At the newest revision this version knows: nothing to upgrade."""
        return self.revision == self.head

    def summary(self) -> str:
        """One line for operators."""
        if self.revision is not None:
            where = "head" if self.is_current else f"behind head {self.head}"
            if not self.is_current and not _is_known(self.revision):
                where = f"unknown to this version (newest known: {self.head})"
            return f"{self.revision} ({where})"
        if self.has_tables:
            return "none: a database from before migrations (release 0.1); `db upgrade` adopts it"
        return "none: an empty database; `disaster-dx init` or `db upgrade` creates the schema"


def database_status(store: Store) -> DatabaseStatus:
    """The database's revision and whether it holds our tables (reads only)."""
    with store.engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        revision = _stored_revision(conn, tables)
        # A database with a revision holds our tables; only one without needs the models'
        # names, which imports every module (plans brings geopandas): `db current` stays light.
        has_tables = revision is not None or bool(tables & model_table_names())
    return DatabaseStatus(revision=revision, head=head(), has_tables=has_tables)


@dataclass(frozen=True)
class Revision:
    """One revision of the chain, for ``disaster-dx db history``."""

    revision: str
    down_revision: str | None
    doc: str
    applied: bool
    current: bool


def history(store: Store | None = None) -> list[Revision]:
    """The revision chain, newest first; with ``store``, marks which are applied and current."""
    at = current_revision(store) if store is not None else None
    applied: set[str] = set()
    script = script_directory()
    if at is not None and _is_known(at):
        applied = {r.revision for r in script.iterate_revisions(at, "base")}
    return [
        Revision(
            revision=r.revision,
            down_revision=_single(r.down_revision),
            doc=r.doc or "",
            applied=r.revision in applied,
            current=r.revision == at,
        )
        for r in script.walk_revisions()
    ]


def rebuild_derived(store: Store) -> None:
    """Rebuild data derived from the event log after an upgrade (idempotent, may be re-run).

    Derived data is whatever can be recomputed from the append-only log: the state snapshots
    of every incident (:mod:`disaster_dx.projection`) and the ``camera_frames`` rows of
    pictures that earlier releases logged as ``camera.frame`` events (the events stay; rows
    whose file retention has since deleted are dropped by the poller's next retention pass).
    A revision that changes how derived data is stored leaves it to this step, which runs
    after the schema transaction commits; ``disaster-dx db upgrade --rebuild-derived`` runs it
    again by hand.
    """
    from disaster_dx.cameras.frames import backfill_frames_from_events

    for incident in store.incidents():
        store.projection.build_snapshots(incident.incident_id)
    copied = backfill_frames_from_events(store)
    log.info("derived data rebuilt from the event log (%d camera frame row(s) added)", copied)


def schema_differences(conn: Connection) -> list[Any]:
    """What differs between the database behind ``conn`` and the models (Alembic's diff).

    Empty when the database is exactly the models' schema. Each item is an Alembic diff tuple
    such as ``("add_column", None, "events", Column(...))``.
    """
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, all_metadata()))  # type: ignore[arg-type]


# -- internals ----------------------------------------------------------------------------------


@contextmanager
def _schema_transaction(store: Store) -> Iterator[Connection]:
    """One transaction holding the schema lock: one process creates or upgrades at a time."""
    with store.engine.connect() as conn:
        conn.execution_options(sqlite_immediate=True)  # SQLite: the write lock up front
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(
                    f"SELECT pg_advisory_xact_lock({LOCK_KEY}, hashtext(current_schema()))"
                )
            yield conn


def _bring_to_head(conn: Connection) -> SchemaChange:
    target = head()
    tables = set(inspect(conn).get_table_names())
    if VERSION_TABLE in tables:
        before = _stored_revision(conn, tables)
        if before == target:
            return SchemaChange("current", before, target)
        _check_known(before)
        _upgrade(conn)
        return SchemaChange("upgraded", before, target)
    if not tables & model_table_names():
        _create(conn)
        return SchemaChange("created", None, target)
    log.warning("database has tables but no schema revision: adopting it as release 0.1")
    _upgrade(conn)
    return SchemaChange("adopted", None, target)


def _create(conn: Connection) -> None:
    """An empty database: the models' tables as they are now, stamped with the newest revision."""
    for metadata in all_metadata():
        metadata.create_all(conn, checkfirst=False)
    MigrationContext.configure(conn).stamp(script_directory(), "head")


def _stored_revision(conn: Connection, tables: set[str]) -> str | None:
    """The revision in ``alembic_version`` (read directly: a MigrationContext logs each time)."""
    if VERSION_TABLE not in tables:
        return None
    rows = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    return _single(list(rows))


def _upgrade(conn: Connection) -> None:
    """Run the revisions up to head on ``conn`` (inside the caller's transaction), then check."""
    command.upgrade(alembic_config(conn), "head")
    missing = []
    for diff in schema_differences(conn):
        kind = diff[0] if isinstance(diff, tuple) else diff[0][0]
        if kind in ("add_table", "add_column"):
            missing.append(diff)
        else:
            log.warning("schema differs from the models after the upgrade: %s", diff)
    if missing:
        raise SchemaError(
            "after upgrading, the database still lacks what this version needs (nothing was "
            f"changed): {'; '.join(_describe(d) for d in missing)}"
        )


def _is_known(revision: str) -> bool:
    try:
        script_directory().get_revision(revision)
    except CommandError:
        return False
    return True


def _check_known(revision: str | None) -> None:
    """A revision this version does not know is from a newer release (or another program)."""
    if revision is not None and not _is_known(revision):
        raise SchemaError(
            f"the database is at schema revision {revision!r}, which this version of "
            f"disaster_dx does not know (newest known: {head()}); it was upgraded by a newer "
            "release: run that release, or restore a backup made before its upgrade"
        )


def _describe(diff: Any) -> str:
    """A diff as words: "table plan_results" or "column events.subject"."""
    if diff[0] == "add_table":
        return f"table {diff[1].name}"
    return f"column {diff[2]}.{diff[3].name}"


def _single(value: str | tuple[str, ...] | list[str] | None) -> str | None:
    """The one head or down-revision (the chain is linear; a branch is a mistake to report)."""
    if value is None or isinstance(value, str):
        return value
    values = list(value)
    if len(values) > 1:
        raise SchemaError(f"the schema has several heads {values}: merge them into one revision")
    return values[0] if values else None
