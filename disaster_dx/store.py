"""The store: reference tables and the append-only event log, on SQLite or PostgreSQL.

SQLAlchemy Core only, so the same statements run on both engines. Writes to one incident are
serialised (SQLite ``BEGIN IMMEDIATE``; PostgreSQL ``SELECT … FOR UPDATE`` on the incident row),
which makes ``seq`` gap-free and lets an append check the versions its writer saw
(optimistic concurrency): a stale write raises :class:`~disaster_dx.errors.ConflictError`
with the newer values instead of overwriting them.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.types import TypeDecorator

from disaster_dx.areas import Area, area_from_row, area_to_row
from disaster_dx.city import NANKOKU_CODE, City, city_for_code
from disaster_dx.errors import ConflictError, DisasterDxError, NotFoundError
from disaster_dx.events import (
    ROUTINE_TYPES,
    Event,
    NewEvent,
    State,
    fold,
    subject_of,
    utcnow,
    validate_payload,
    vars_of,
)
from disaster_dx.merge import MergedEvent, MergeOutcome, merge_batch
from disaster_dx.model import Hazard, IncidentKind, Shelter, ShelterKind

if TYPE_CHECKING:
    from disaster_dx.migrations import SchemaChange

log = logging.getLogger(__name__)

#: The title of a live incident before HQ names it is ``City.hq_title`` (「七尾市 災害対策本部」).


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both engines (SQLite has no time zones, PostgreSQL has)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Refuse naive times; store UTC (naive on SQLite, which has no time zones)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store only takes aware UTC times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Give back aware UTC times whatever the engine returned."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

incidents = Table(
    "incidents",
    metadata,
    Column("incident_id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("title", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("closed_at", UTCDateTime),
    Column("last_seq", Integer, nullable=False, default=0),
    Column("last_at", UTCDateTime),
    Column("show_on_public", Boolean, nullable=False, default=False),
    # A live incident HQ has named (「令和8年 台風第10号」): its hazard kind and start.
    Column("named", Boolean, nullable=False, default=False, server_default="0"),
    Column("hazard", String(32)),
    Column("started_at", UTCDateTime),
    Column("closed_by", String(64)),
)

events_table = Table(
    "events",
    metadata,
    Column("incident_id", String(64), ForeignKey("incidents.incident_id"), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("type", String(64), nullable=False),
    Column("subject", String(200)),
    Column("payload", JSON, nullable=False),
    Index("ix_events_subject", "incident_id", "subject", "seq"),
    Index("ix_events_at", "incident_id", "at"),
    # Reads of one kind of event (the outside-shelter chart, drill controls, scripted cameras,
    # fired injects, warnings) and the event log filtered by type or by user walk these in
    # ``seq`` order and stop at their LIMIT instead of scanning the whole incident.
    Index("ix_events_type", "incident_id", "type", "seq"),
    Index("ix_events_actor", "incident_id", "actor", "seq"),
)

imports = Table(
    "imports",
    metadata,
    Column("import_id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("source", Text, nullable=False),
    Column("sha256", String(64), nullable=False, default=""),
    Column("imported_at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("added", Integer, nullable=False),
    Column("changed", Integer, nullable=False),
    Column("removed", Integer, nullable=False),
    Column("notes", JSON, nullable=False),
)

shelters_table = Table(
    "shelters",
    metadata,
    Column("shelter_id", String(64), primary_key=True),
    Column("name", String(300), nullable=False),
    Column("address", String(500), nullable=False),
    Column("lon", Float, nullable=False),
    Column("lat", Float, nullable=False),
    Column("kinds", JSON, nullable=False),
    Column("hazards", JSON, nullable=False),
    Column("gsi_ids", JSON, nullable=False),
    Column("capacity", Integer),
    Column("municipality_code", String(8), nullable=False, default=""),
    Column("source", JSON, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("import_id", Integer, ForeignKey("imports.import_id"), nullable=False),
)

shelter_history = Table(
    "shelter_history",
    metadata,
    Column("import_id", Integer, ForeignKey("imports.import_id"), primary_key=True),
    Column("shelter_id", String(64), primary_key=True),
    Column("change", String(16), nullable=False),
    Column("before", JSON),
    Column("after", JSON),
)

users_table = Table(
    "users",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("display_name", String(200), nullable=False, default=""),
    Column("password_hash", String(300), nullable=False),
    Column("roles", JSON, nullable=False),
    Column("shelter_ids", JSON, nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(64), nullable=False),
    # Raised to end every session of the user at once (logout, password, roles, disable).
    Column("session_generation", Integer, nullable=False, default=0, server_default="0"),
)

areas_table = Table(
    "areas",
    metadata,
    Column("area_id", String(64), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("name", String(200), nullable=False),
    Column("name_en", String(200), nullable=False, default=""),
    Column("name_easy", String(200), nullable=False, default=""),
    Column("whole_city", Boolean, nullable=False, default=False),
    Column("geometry", JSON),
    Column("shelter_ids", JSON, nullable=False),
    Column("source", Text, nullable=False, default=""),
    Column("import_id", Integer, ForeignKey("imports.import_id"), nullable=False),
)

# The city this database serves (one row), recorded by ``disaster-dx init --city CODE`` so every
# worker and command names the same city; names come from the bundled official list.
city_table = Table(
    "city",
    metadata,
    Column("code", String(6), primary_key=True),
    Column("name_en", String(200), nullable=False, default=""),
    # The city's outline (国土数値情報 N03 GeoJSON geometry, lon/lat) once imported.
    Column("outline", JSON),
    Column("outline_source", Text, nullable=False, default=""),
    Column("set_at", UTCDateTime, nullable=False),
    Column("set_by", String(64), nullable=False),
)

audit_table = Table(
    "audit_log",
    metadata,
    Column("audit_id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(200), nullable=False, default=""),
    Column("detail", JSON, nullable=False),
    Index("ix_audit_actor_at", "actor", "at"),
)


@dataclass(frozen=True)
class Incident:
    """A live disaster or a drill; every event belongs to exactly one."""

    incident_id: str
    kind: IncidentKind
    title: str
    created_at: datetime
    created_by: str
    closed_at: datetime | None
    last_seq: int
    last_at: datetime | None
    show_on_public: bool = False
    named: bool = False
    hazard: Hazard | None = None
    started_at: datetime | None = None
    closed_by: str | None = None

    @property
    def is_drill(self) -> bool:
        """Drill events never reach live state or the public page."""
        return self.kind is IncidentKind.DRILL


@dataclass(frozen=True)
class ImportReport:
    """What a shelter-master import changed."""

    import_id: int
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0

    def summary(self) -> str:
        """One line for the CLI and the log."""
        return (
            f"added {len(self.added)}, changed {len(self.changed)}, "
            f"removed {len(self.removed)}, unchanged {self.unchanged}"
        )


Clock = Callable[[], datetime]
AppendListener = Callable[[str, list[Event]], None]
#: Runs inside an append's transaction, after its rows are written and before the commit.
AppendHook = Callable[[Connection, list[Event]], None]

#: Hooks joined to the appends of this thread (or task), with the store they belong to.
_JOINED_HOOKS: ContextVar[tuple[tuple[Store, AppendHook], ...]] = ContextVar(
    "disaster_dx_joined_append_hooks", default=()
)


@dataclass
class _OpenTransaction:
    """A :meth:`Store.transaction` in progress: its connection and the appends made in it."""

    conn: Connection
    #: (incident id, events) of each append, told to the cache and listeners after the commit.
    appended: list[tuple[str, list[Event]]] = field(default_factory=list)


#: The transaction each store has open in this thread (or task), joined by its writes.
_OPEN_TRANSACTIONS: ContextVar[tuple[tuple[Store, _OpenTransaction], ...]] = ContextVar(
    "disaster_dx_open_transactions", default=()
)


class Store:
    """Access to one database; cheap to share, one per process (holds a connection pool).

    Parameters
    ----------
    url
        SQLAlchemy URL: ``sqlite:///path.sqlite3`` or ``postgresql+psycopg://user@host/db``.
    schema
        PostgreSQL schema to use (tests use a fresh one per run); ignored on SQLite.
    clock
        Source of "now" for event times; drills and tests inject their own.
    """

    def __init__(self, url: str, *, schema: str | None = None, clock: Clock = utcnow) -> None:
        self.url = url
        self.schema = schema
        self.clock = clock
        self.engine = _make_engine(url, schema=schema)
        self._listeners: list[AppendListener] = []
        # The projection builds on the store (it reads events and snapshots through it), so
        # the store imports it here rather than at module level.
        from disaster_dx.projection import StateProjection

        self.projection = StateProjection(self)
        self._city: City | None = None

    def add_listener(self, listener: AppendListener) -> None:
        """Call ``listener(incident_id, events)`` after each committed append in this process.

        Used to publish public snapshots and re-plan after a change. A failing listener is
        logged and never undoes or blocks the write (the events are already committed).
        """
        self._listeners.append(listener)

    @contextmanager
    def joined_to_appends(self, hook: AppendHook) -> Iterator[None]:
        """Run ``hook(conn, events)`` inside the transaction of each append made in this block.

        For records that must commit together with the events or not at all, whoever makes
        the append: the API stores its answer to an ``Idempotency-Key`` this way, so a crash
        can never leave an event without its answer (written twice on a retry) or an answer
        without its event. A hook that raises rolls the append back. Scoped to the current
        thread or task (a context variable), so other requests' appends are untouched.
        """
        token = _JOINED_HOOKS.set((*_JOINED_HOOKS.get(), (self, hook)))
        try:
            yield
        finally:
            _JOINED_HOOKS.reset(token)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def create_schema(self) -> SchemaChange:
        """Create the schema on an empty database, or upgrade it to the newest revision.

        Every module's tables, under Alembic (:mod:`disaster_dx.migrations`); safe to call on
        every start and from several workers at once.
        """
        from disaster_dx.migrations import create_or_upgrade  # it imports every module's tables

        return create_or_upgrade(self)

    def create_tables(self, tables: MetaData) -> None:
        """Create the tables of ``tables`` that do not exist yet (idempotent, race-safe).

        Modules with tables of their own (cameras, drills, plans, LINE, leases) call this on
        start, often from several workers at once. The check and the CREATE run in one write
        transaction (SQLite ``BEGIN IMMEDIATE``), so a writer meanwhile makes this wait its
        turn instead of failing with "database is locked"; if another worker created a table
        between our check and our CREATE (PostgreSQL), we check again.
        """
        for attempt in (1, 2):
            try:
                with self._write() as conn:
                    tables.create_all(conn, checkfirst=True)
                return
            except SQLAlchemyError:
                if attempt == 2:
                    raise

    def dispose(self) -> None:
        """Close pooled connections (tests, shutdown)."""
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One write transaction for several things: all of them are saved, or none.

        The one public way to write atomically. Inside the block, everything this store
        writes — :meth:`append` (with its version checks), :meth:`create_incident`,
        :meth:`close_incident`, :meth:`audit` … — joins this transaction, and so do statements
        run on the yielded connection (a module's own tables, such as ``drill_runs``). The
        block commits at its end and rolls everything back if it raises. The write lock is
        taken up front (SQLite ``BEGIN IMMEDIATE``), so keep the block short.

        The state cache and the append listeners (publishing, LINE, re-planning) hear of the
        block's appends only after the commit, so nobody ever acts on a rolled-back event.
        A block inside another joins the outer one. Scoped to this thread or task: other
        threads' writes are their own.
        """
        joined = self._open_transaction()
        if joined is not None:
            yield joined.conn
            return
        with self.engine.connect() as conn:
            conn.execution_options(sqlite_immediate=True)
            with conn.begin():
                unit = _OpenTransaction(conn)
                token = _OPEN_TRANSACTIONS.set((*_OPEN_TRANSACTIONS.get(), (self, unit)))
                try:
                    yield conn
                finally:
                    _OPEN_TRANSACTIONS.reset(token)
        for incident_id, stored in unit.appended:  # committed: now the world may know
            self._announce(incident_id, stored)

    def _open_transaction(self) -> _OpenTransaction | None:
        """The :meth:`transaction` of this store open in this thread or task, if any."""
        for owner, unit in reversed(_OPEN_TRANSACTIONS.get()):
            if owner is self:
                return unit
        return None

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction that takes the write lock up front (no upgrade deadlocks).

        Inside :meth:`transaction`, that transaction (its writes commit together).
        """
        joined = self._open_transaction()
        if joined is not None:
            yield joined.conn
            return
        with self.engine.connect() as conn:
            conn.execution_options(sqlite_immediate=True)
            with conn.begin():
                yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A read transaction; inside :meth:`transaction`, that one (it sees its own writes)."""
        joined = self._open_transaction()
        if joined is not None:
            yield joined.conn
            return
        with self.engine.connect() as conn, conn.begin():
            yield conn

    # -- incidents ----------------------------------------------------------------------------

    def create_incident(
        self,
        title: str,
        *,
        kind: IncidentKind = IncidentKind.LIVE,
        actor: str,
        incident_id: str | None = None,
        show_on_public: bool = False,
    ) -> Incident:
        """Open a new incident (a live disaster or a drill).

        ``show_on_public`` (drills): while it is open, the public page says a drill is under
        way — only that; none of the drill's data ever reaches the public page.
        """
        if not title.strip():
            raise DisasterDxError("an incident needs a title")
        now = self.clock()
        new_id = incident_id or f"{kind.value}-{now:%Y%m%d}-{uuid.uuid4().hex[:8]}"
        with self._write() as conn:
            conn.execute(
                insert(incidents).values(
                    incident_id=new_id,
                    kind=kind.value,
                    title=title.strip(),
                    created_at=now,
                    created_by=actor,
                    last_seq=0,
                    show_on_public=show_on_public,
                )
            )
        log.info("incident %s (%s) opened by %s", new_id, kind.value, actor)
        return self.incident(new_id)

    def incident(self, incident_id: str) -> Incident:
        """One incident, or :class:`NotFoundError`."""
        with self._read() as conn:
            row = conn.execute(
                select(incidents).where(incidents.c.incident_id == incident_id)
            ).one_or_none()
        if row is None:
            raise NotFoundError(f"no incident {incident_id!r}")
        return _incident(row._mapping)

    def incidents(self, *, kind: IncidentKind | None = None) -> list[Incident]:
        """Incidents, newest first."""
        query = select(incidents).order_by(incidents.c.created_at.desc())
        if kind is not None:
            query = query.where(incidents.c.kind == kind.value)
        with self._read() as conn:
            return [_incident(r._mapping) for r in conn.execute(query)]

    def live_incident(self, *, actor: str = "system") -> Incident:
        """The open live incident HQ writes to, created on first use."""
        for found in self.incidents(kind=IncidentKind.LIVE):
            if found.closed_at is None:
                return found
        # Several app workers may start at once: check again under the write lock so only
        # one of them creates the incident (PostgreSQL needs the table lock for that).
        now = self.clock()
        new_id = f"{IncidentKind.LIVE.value}-{now:%Y%m%d}-{uuid.uuid4().hex[:8]}"
        with self._write() as conn:
            if self.dialect == "postgresql":
                conn.exec_driver_sql("LOCK TABLE incidents IN SHARE ROW EXCLUSIVE MODE")
            existing = conn.execute(
                select(incidents.c.incident_id)
                .where(incidents.c.kind == IncidentKind.LIVE.value)
                .where(incidents.c.closed_at.is_(None))
                .order_by(incidents.c.created_at.desc())
            ).first()
            if existing is None:
                conn.execute(
                    insert(incidents).values(
                        incident_id=new_id,
                        kind=IncidentKind.LIVE.value,
                        title=self.city().hq_title,
                        created_at=now,
                        created_by=actor,
                        last_seq=0,
                        show_on_public=False,
                    )
                )
                log.info("incident %s (live) opened by %s", new_id, actor)
            else:
                new_id = existing.incident_id
        return self.incident(new_id)

    def open_live_incident(
        self,
        title: str,
        *,
        actor: str,
        hazard: Hazard | None = None,
        started_at: datetime | None = None,
    ) -> Incident:
        """Name the disaster HQ is working on (「令和8年 台風第10号」): at most one is open.

        The city always has an open live incident (created unnamed on first use, so the
        public page and shelter reports work in peacetime). Opening a named incident names
        that one when it is still unnamed — its log, and every shelter already opened, stay
        — and otherwise is refused: close the open one first.
        """
        title = title.strip()
        if not title:
            raise DisasterDxError("a disaster needs a name (e.g. 令和8年 台風第10号)")
        current = self.live_incident(actor=actor)
        if current.named:
            raise DisasterDxError(
                f"「{current.title}」 is still open ({current.incident_id}); close it before "
                "opening another live incident (only one can be open at a time)"
            )
        with self._write() as conn:
            done = conn.execute(
                update(incidents)
                .where(
                    incidents.c.incident_id == current.incident_id,
                    incidents.c.closed_at.is_(None),
                    incidents.c.named.is_(False),
                )
                .values(
                    title=title,
                    named=True,
                    hazard=None if hazard is None else hazard.value,
                    started_at=started_at or self.clock(),
                )
            )
        if done.rowcount != 1:
            raise DisasterDxError("another live incident was opened at the same moment; reload")
        self.audit(actor, "incident.opened", target=current.incident_id, detail={"title": title})
        log.info("live incident %s named %r by %s", current.incident_id, title, actor)
        return self.incident(current.incident_id)

    def close_incident(self, incident_id: str, *, actor: str) -> None:
        """Close an incident: it stays readable and replayable but takes no more events."""
        with self._write() as conn:
            done = conn.execute(
                update(incidents)
                .where(incidents.c.incident_id == incident_id, incidents.c.closed_at.is_(None))
                .values(closed_at=self.clock(), closed_by=actor)
            )
        if done.rowcount != 1:
            raise NotFoundError(f"no open incident {incident_id!r}")
        log.info("incident %s closed by %s", incident_id, actor)

    # -- events -------------------------------------------------------------------------------

    def append(
        self,
        incident_id: str,
        new_events: Sequence[NewEvent],
        *,
        actor: str,
        expected: Mapping[str, int] | None = None,
    ) -> list[Event]:
        """Append events atomically, all or nothing.

        ``expected`` is a whole-subject check (any change since refuses the write); people's
        reports use :meth:`append_merging`, which refuses only fields both changed.

        Parameters
        ----------
        incident_id
            The incident the events belong to.
        new_events
            Events to append, in order; payloads are validated before anything is written.
        actor
            Who is writing (user name or ``system``/``import``/``drill``); kept on every event.
        expected
            Versions the writer saw, by subject (``{"shelter:<id>": 12}``). If any subject has
            changed since, nothing is written and :class:`ConflictError` carries the newer values.

        Raises
        ------
        PayloadError
            A payload is invalid (every problem listed, each naming its field).
        ConflictError
            A subject changed since the writer read it.
        NotFoundError
            The incident does not exist or is closed.
        """
        stored, _ = self._append(incident_id, new_events, actor=actor, expected=expected)
        return stored

    def append_merging(
        self,
        incident_id: str,
        new_events: Sequence[NewEvent],
        *,
        actor: str,
        bases: Mapping[str, int],
        skip_conflicting: bool = False,
    ) -> MergeOutcome:
        """Append people's changes made on older versions, merging them field by field.

        Each event carries only the fields its writer changed; ``bases[subject]`` is the version
        the writer saw. Inside the write transaction the subject's events after it are read
        (``ix_events_subject``) and :func:`disaster_dx.merge.merge_batch` merges fields only
        others changed (``merged``) and refuses fields both changed differently.

        Parameters
        ----------
        bases
            The version each subject had when its writer read it (``{"shelter:<id>": 12}``).
        skip_conflicting
            Leave out the events of conflicting subjects and append the rest
            (:attr:`MergeOutcome.skipped`) instead of refusing the whole batch.

        Raises
        ------
        ConflictError
            Without ``skip_conflicting``: a subject conflicts; nothing is written, ``fields``
            names the conflicting fields (empty for a base version newer than the subject) and
            ``actual`` is the newest version, the base to re-apply on.
        """
        stored, outcome = self._append(
            incident_id, new_events, actor=actor, bases=bases, skip_conflicting=skip_conflicting
        )
        return MergeOutcome(stored, outcome.merged, outcome.skipped)

    def _append(
        self,
        incident_id: str,
        new_events: Sequence[NewEvent],
        *,
        actor: str,
        expected: Mapping[str, int] | None = None,
        bases: Mapping[str, int] | None = None,
        skip_conflicting: bool = False,
    ) -> tuple[list[Event], MergeOutcome]:
        """The one write path: lock the incident, check versions, insert, tell listeners."""
        if not actor or not actor.strip():
            raise DisasterDxError("every write needs an actor (who made it)")
        if not new_events:
            return [], MergeOutcome([], {}, {})
        cleaned = [NewEvent(e.type, validate_payload(e.type, e.payload)) for e in new_events]
        with self._write() as conn:
            row = conn.execute(
                select(incidents.c.last_seq, incidents.c.last_at, incidents.c.closed_at)
                .where(incidents.c.incident_id == incident_id)
                .with_for_update()
            ).one_or_none()
            if row is None:
                raise NotFoundError(f"no incident {incident_id!r}")
            if row.closed_at is not None:
                raise NotFoundError(f"incident {incident_id!r} is closed and takes no new events")
            for subject, seen in (expected or {}).items():
                actual = self._subject_version(conn, incident_id, subject)
                if actual != seen:
                    current = self._subject_state(conn, incident_id, subject)
                    raise ConflictError(subject, seen, actual, current)
            outcome = MergeOutcome([], {}, {})
            if bases:

                def events_of(subject: str, after: int = 0, upto: int = -1) -> list[Event]:
                    return self._subject_events(conn, incident_id, subject, after, upto)

                cleaned = merge_batch(
                    cleaned,
                    bases,
                    outcome,
                    newer=lambda subject, base: events_of(subject, after=base),
                    upto=lambda subject, base: events_of(subject, upto=base),
                    version=lambda subject: self._subject_version(conn, incident_id, subject),
                    current=lambda subject: self._subject_state(conn, incident_id, subject),
                    skip=skip_conflicting,
                )
            # Times never run backwards within an incident, so "state at t" is a prefix.
            at = self.clock()
            if row.last_at is not None and at < row.last_at:
                at = row.last_at
            seq = row.last_seq
            stored: list[Event] = []
            if not cleaned:  # every subject was skipped as conflicting
                return stored, outcome
            for new in cleaned:
                seq += 1
                fields = (incident_id, seq, at, actor, new.type, new.payload, new.subject)
                merged = outcome.merged.get(new.subject or "", {})
                stored.append(MergedEvent(*fields, merged) if bases else Event(*fields))
            conn.execute(
                insert(events_table),
                [
                    {
                        "incident_id": e.incident_id,
                        "seq": e.seq,
                        "at": e.at,
                        "actor": e.actor,
                        "type": e.type,
                        "subject": e.subject,
                        "payload": dict(e.payload),
                    }
                    for e in stored
                ],
            )
            conn.execute(
                update(incidents)
                .where(incidents.c.incident_id == incident_id)
                .values(last_seq=seq, last_at=at)
            )
            for owner, hook in _JOINED_HOOKS.get():
                if owner is self:
                    hook(conn, stored)
        unit = self._open_transaction()
        if unit is not None:  # not committed yet: told when the transaction commits
            unit.appended.append((incident_id, stored))
        else:
            self._announce(incident_id, stored)
        return stored, outcome

    def _announce(self, incident_id: str, stored: list[Event]) -> None:
        """Tell the state cache, then the listeners, of committed events."""
        # The state cache first, so every listener (publish, LINE, re-plan) reads it current.
        try:
            self.projection.appended(incident_id, stored)
        except Exception:  # a cache must never turn a committed write into an error
            log.exception("state cache not advanced for %s; the next read catches up", incident_id)
        for listener in self._listeners:
            try:
                listener(incident_id, stored)
            except Exception:  # a listener must never turn a committed write into an error
                log.exception("append listener %r failed for %s", listener, incident_id)

    def _subject_events(
        self, conn: Connection, incident_id: str, subject: str, after: int = 0, upto: int = -1
    ) -> list[Event]:
        """One subject's events with ``after < seq <= upto`` (``upto=-1``: no bound), indexed."""
        query = (
            select(events_table)
            .where(
                events_table.c.incident_id == incident_id,
                events_table.c.subject == subject,
                events_table.c.seq > after,
            )
            .order_by(events_table.c.seq)
        )
        if upto >= 0:
            query = query.where(events_table.c.seq <= upto)
        return [event_from_row(r._mapping) for r in conn.execute(query)]

    def _subject_version(self, conn: Connection, incident_id: str, subject: str) -> int:
        version = conn.execute(
            select(func.max(events_table.c.seq)).where(
                events_table.c.incident_id == incident_id, events_table.c.subject == subject
            )
        ).scalar_one()
        return int(version or 0)

    def _subject_state(self, conn: Connection, incident_id: str, subject: str) -> dict[str, Any]:
        state = fold(self._subject_events(conn, incident_id, subject))
        kind, _, key = subject.partition(":")
        if kind == "shelter":
            return vars_of(state.shelter(key))
        if kind == "area" and key in state.areas:
            return vars_of(state.areas[key])
        return {}

    def events(
        self,
        incident_id: str,
        *,
        after_seq: int = 0,
        until: datetime | None = None,
        subject: str | None = None,
        limit: int | None = None,
        types: Collection[str] | None = None,
    ) -> list[Event]:
        """Events of an incident in ``seq`` order, optionally a window of them."""
        return list(
            self.iter_events(
                incident_id,
                after_seq=after_seq,
                until=until,
                subject=subject,
                limit=limit,
                types=types,
            )
        )

    def iter_events(
        self,
        incident_id: str,
        *,
        after_seq: int = 0,
        until: datetime | None = None,
        subject: str | None = None,
        limit: int | None = None,
        types: Collection[str] | None = None,
    ) -> Iterator[Event]:
        """Stream events (large incidents do not need to fit in memory twice).

        ``types`` keeps only events of those types (filtered in the database).
        """
        query = (
            select(events_table)
            .where(events_table.c.incident_id == incident_id, events_table.c.seq > after_seq)
            .order_by(events_table.c.seq)
        )
        if until is not None:
            query = query.where(events_table.c.at <= until)
        if subject is not None:
            query = query.where(events_table.c.subject == subject)
        if types is not None:
            query = query.where(events_table.c.type.in_(sorted(types)))
        if limit is not None:
            query = query.limit(limit)
        with self._read() as conn:
            for row in conn.execution_options(yield_per=2000).execute(query):
                yield event_from_row(row._mapping)

    def last_seq(self, incident_id: str, *, skip_routine: bool = False) -> int:
        """Cheap "has anything changed?" check for polling screens.

        With ``skip_routine``, the seq of the newest event that is not one of the
        :data:`~disaster_dx.events.ROUTINE_TYPES` (camera frames), so a board does not
        re-render every few seconds while cameras run. That reads the events index backwards
        from the end and stops at the first such event: cheap while routine events are few
        since the last real change (hundreds per hour).
        """
        with self._read() as conn:
            value = conn.execute(
                select(incidents.c.last_seq).where(incidents.c.incident_id == incident_id)
            ).scalar_one_or_none()
            if value is None:
                raise NotFoundError(f"no incident {incident_id!r}")
            if skip_routine and ROUTINE_TYPES and value:
                # ORDER BY … LIMIT 1 (not max()): both engines then walk the primary key
                # backwards and stop at the first match instead of scanning the incident.
                value = conn.execute(
                    select(events_table.c.seq)
                    .where(
                        events_table.c.incident_id == incident_id,
                        events_table.c.type.not_in(sorted(ROUTINE_TYPES)),
                    )
                    .order_by(events_table.c.seq.desc())
                    .limit(1)
                ).scalar_one_or_none()
        return int(value or 0)

    def last_seq_at(self, incident_id: str, moment: datetime) -> int:
        """The seq of the newest event at or before ``moment`` (0 if none): "state at t" bound.

        Walks the ``(incident_id, at)`` index backwards from ``moment`` and sorts only the
        events sharing that one instant (a batch); both engines plan it so with or without
        statistics (a ``max(seq)`` form let SQLite walk the primary key instead).
        """
        with self._read() as conn:
            value = conn.execute(
                select(events_table.c.seq)
                .where(events_table.c.incident_id == incident_id, events_table.c.at <= moment)
                .order_by(events_table.c.at.desc(), events_table.c.seq.desc())
                .limit(1)
            ).scalar_one_or_none()
        return int(value or 0)

    def last_event_at(self, incident_id: str, *, types: Collection[str]) -> datetime | None:
        """When the newest event of one of ``types`` happened (None if there is none).

        One ``ORDER BY seq DESC LIMIT 1`` per type, each a single step backwards on the
        ``(incident_id, type, seq)`` index; the newest of those answers. (One query with
        ``type IN (…)`` let PostgreSQL read every matching event of a week and sort them.)
        """
        if not types:
            return None
        newest = [
            select(events_table.c.at)
            .where(events_table.c.incident_id == incident_id, events_table.c.type == kind)
            .order_by(events_table.c.seq.desc())
            .limit(1)
            .subquery()
            for kind in sorted(types)
        ]
        with self._read() as conn:
            found = [conn.execute(select(sub.c.at)).scalar_one_or_none() for sub in newest]
        moments = [moment for moment in found if moment is not None]
        return max(moments) if moments else None

    def state(self, incident_id: str, *, until: datetime | None = None) -> State:
        """Incident state now, or at the instant ``until``: always ``fold(events up to t)``.

        Never re-folds the whole log: the state now is this process's cached fold advanced
        from its last ``seq``, and a past instant is the nearest snapshot plus its tail (see
        :mod:`disaster_dx.projection`).
        """
        return self.projection.at(incident_id, until)

    def state_after(self, incident_id: str, seq: int) -> State:
        """The state just after event ``seq`` ("before" values for the log, notifications)."""
        return self.projection.at_seq(incident_id, seq)

    # -- audit log (writes and sensitive reads outside incidents) ------------------------------

    def audit(
        self, actor: str, action: str, *, target: str = "", detail: Mapping[str, Any] | None = None
    ) -> None:
        """Record who did what outside the incident event log (user admin, plan views, refusals).

        ``detail`` must never carry passwords or residents' personal data: callers pass ids.
        """
        with self._write() as conn:
            conn.execute(
                insert(audit_table).values(
                    at=self.clock(),
                    actor=actor or "anonymous",
                    action=action,
                    target=target,
                    detail=dict(detail or {}),
                )
            )

    def count_audit(
        self,
        action: str,
        *,
        since: datetime,
        actor: str | None = None,
        target: str | None = None,
    ) -> int:
        """How many ``action`` entries since ``since`` (login throttling counts failures)."""
        query = (
            select(func.count())
            .select_from(audit_table)
            .where(audit_table.c.action == action)
            .where(audit_table.c.at >= since)
        )
        if actor is not None:
            query = query.where(audit_table.c.actor == actor)
        if target is not None:
            query = query.where(audit_table.c.target == target)
        with self._read() as conn:
            return int(conn.execute(query).scalar_one())

    def audit_log(
        self, *, actor: str | None = None, action: str | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """Audit entries, newest first."""
        query = select(audit_table).order_by(audit_table.c.audit_id.desc()).limit(limit)
        if actor is not None:
            query = query.where(audit_table.c.actor == actor)
        if action is not None:
            query = query.where(audit_table.c.action == action)
        with self._read() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    # -- shelter master -----------------------------------------------------------------------

    def replace_shelters(
        self,
        shelters: Sequence[Shelter],
        *,
        source: str,
        actor: str,
        sha256: str = "",
        notes: Sequence[str] = (),
    ) -> ImportReport:
        """Make ``shelters`` the city's shelter master, in one transaction.

        Shelters absent from the new list are marked inactive (never deleted: past events
        still refer to them). An existing site keeps its id when the new data lists any of its
        共通IDs, so events stay attached across re-imports. If anything fails, the previous
        master is untouched.
        """
        ids = [s.shelter_id for s in shelters]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise DisasterDxError(f"duplicate shelter ids in import: {', '.join(duplicates)}")
        now = self.clock()
        with self._write() as conn:
            if self.dialect == "postgresql":
                # Two workers importing at once (first start) queue here instead of colliding.
                conn.exec_driver_sql("LOCK TABLE shelters IN SHARE ROW EXCLUSIVE MODE")
            existing = {
                r.shelter_id: dict(r._mapping) for r in conn.execute(select(shelters_table))
            }
            by_gsi_id = {
                gid: sid for sid, row in existing.items() if row["active"] for gid in row["gsi_ids"]
            }
            import_id = _record_import(
                conn, "shelters", source=source, sha256=sha256, at=now, actor=actor, notes=notes
            )
            report_added: list[str] = []
            report_changed: list[str] = []
            unchanged = 0
            seen: set[str] = set()
            for shelter in shelters:
                sid = next(
                    (by_gsi_id[g] for g in shelter.gsi_ids if g in by_gsi_id),
                    shelter.shelter_id,
                )
                if sid in seen:
                    sid = shelter.shelter_id
                seen.add(sid)
                row = _shelter_row(shelter, sid)
                before = existing.get(sid)
                if before is None:
                    conn.execute(insert(shelters_table).values(**row, import_id=import_id))
                    report_added.append(sid)
                    _history(conn, import_id, sid, "added", None, row)
                elif _comparable(before) != row:
                    conn.execute(
                        update(shelters_table)
                        .where(shelters_table.c.shelter_id == sid)
                        .values(**row, import_id=import_id)
                    )
                    report_changed.append(sid)
                    _history(conn, import_id, sid, "changed", _comparable(before), row)
                else:
                    unchanged += 1
            removed = sorted(sid for sid, r in existing.items() if r["active"] and sid not in seen)
            for sid in removed:
                conn.execute(
                    update(shelters_table)
                    .where(shelters_table.c.shelter_id == sid)
                    .values(active=False, import_id=import_id)
                )
                _history(conn, import_id, sid, "removed", _comparable(existing[sid]), None)
            conn.execute(
                update(imports)
                .where(imports.c.import_id == import_id)
                .values(added=len(report_added), changed=len(report_changed), removed=len(removed))
            )
        report = ImportReport(import_id, report_added, report_changed, removed, unchanged)
        log.info("shelter import %s from %s by %s: %s", import_id, source, actor, report.summary())
        return report

    def add_past_shelters(
        self, shelters: Sequence[Shelter], *, source: str, actor: str, notes: Sequence[str] = ()
    ) -> ImportReport:
        """Add sites known only from a past record (a history import), as *inactive* sites.

        Events of the record may name them and its replay finds them, but they never appear
        on today's maps, public page or LINE answers: a site a city published during a past
        disaster is not a designated shelter now. Refused whole if any id exists already.
        """
        with self._write() as conn:
            ids = [s.shelter_id for s in shelters]
            taken = sorted(
                conn.execute(
                    select(shelters_table.c.shelter_id).where(shelters_table.c.shelter_id.in_(ids))
                ).scalars()
            )
            if taken or len(set(ids)) != len(ids):
                clash = taken or sorted({i for i in ids if ids.count(i) > 1})
                raise DisasterDxError(f"shelter ids already in use: {', '.join(clash)}")
            import_id = _record_import(
                conn,
                "shelters",
                source=source,
                at=self.clock(),
                actor=actor,
                added=len(shelters),
                notes=notes,
            )
            for shelter in shelters:
                row = {**_shelter_row(shelter, shelter.shelter_id), "active": False}
                conn.execute(insert(shelters_table).values(**row, import_id=import_id))
                _history(conn, import_id, shelter.shelter_id, "added", None, row)
        report = ImportReport(import_id, ids, [], [], 0)
        log.info("past sites added from %s by %s: %s", source, actor, report.summary())
        return report

    def shelters(self, *, include_inactive: bool = False) -> list[Shelter]:
        """The shelter master, ordered by id."""
        query = select(shelters_table).order_by(shelters_table.c.shelter_id)
        if not include_inactive:
            query = query.where(shelters_table.c.active.is_(True))
        with self._read() as conn:
            return [_shelter(r._mapping) for r in conn.execute(query)]

    def shelter(self, shelter_id: str) -> Shelter:
        """One shelter of the master (active or not), or :class:`NotFoundError`."""
        with self._read() as conn:
            row = conn.execute(
                select(shelters_table).where(shelters_table.c.shelter_id == shelter_id)
            ).one_or_none()
        if row is None:
            raise NotFoundError(f"no shelter {shelter_id!r}")
        return _shelter(row._mapping)

    def city(self) -> City:
        """The city this database serves (recorded at ``init``).

        南国市 for a database from before cities were recorded, which were all Nankoku's.
        """
        if self._city is None:
            with self._read() as conn:
                row = conn.execute(select(city_table)).first()
            self._city = (
                city_for_code(row.code, name_en=row.name_en)
                if row is not None
                else city_for_code(NANKOKU_CODE)
            )
        return self._city

    def recorded_city_code(self) -> str | None:
        """The code ``init`` recorded, or ``None`` for a database that has none yet."""
        with self._read() as conn:
            row = conn.execute(select(city_table.c.code)).first()
        return None if row is None else str(row.code)

    def set_city(self, city: City, *, actor: str) -> None:
        """Record the city once; a database set up for another city is refused, never renamed.

        Raises
        ------
        DisasterDxError
            When the database already serves a different city (its events, shelters and
            reports belong to that city).
        """
        with self._write() as conn:
            if self.dialect == "postgresql":
                # Workers starting together: one records the city, the others then read it.
                conn.exec_driver_sql("LOCK TABLE city IN SHARE ROW EXCLUSIVE MODE")
            row = conn.execute(select(city_table)).first()
            if row is None:
                conn.execute(
                    insert(city_table).values(
                        code=city.code, name_en=city.name_en, set_at=self.clock(), set_by=actor
                    )
                )
                log.info("city %s %s recorded by %s", city.code, city.name, actor)
            elif row.code != city.code:
                recorded = city_for_code(row.code)
                raise DisasterDxError(
                    f"this database serves {recorded.full_name} ({recorded.code}), not "
                    f"{city.full_name} ({city.code}): use another DATABASE_URL for another city"
                )
            elif row.name_en != city.name_en:
                conn.execute(update(city_table).values(name_en=city.name_en))
        self._city = city

    def city_outline(self) -> dict[str, Any] | None:
        """The city's outline geometry (GeoJSON), or ``None`` until one is imported."""
        with self._read() as conn:
            row = conn.execute(select(city_table.c.outline)).first()
        return None if row is None or row.outline is None else dict(row.outline)

    def set_city_outline(self, geometry: Mapping[str, Any], *, source: str, actor: str) -> None:
        """Store the city's outline (``import-boundary``); the city must be recorded first."""
        with self._write() as conn:
            done = conn.execute(
                update(city_table).values(outline=dict(geometry), outline_source=source)
            ).rowcount
        if not done:
            raise DisasterDxError("no city recorded yet: run `disaster-dx init --city CODE` first")
        self.audit(actor, "city.outline", target=self.city().code, detail={"source": source})

    def replace_areas(
        self, areas: Sequence[Area], *, source: str, actor: str, if_empty: bool = False
    ) -> int:
        """Make ``areas`` the city's areas for 避難情報, in one transaction; returns the count.

        The whole list is replaced (a city's own 地区 file replaces the bundled 全域-only
        list); 避難情報 already issued keep the area ids they named. ``if_empty``: only when
        there are none yet (first start of several workers at once: one writes; returns 0
        for the others).
        """
        ids = [a.area_id for a in areas]
        if len(set(ids)) != len(ids):
            raise DisasterDxError("an area id appears twice")
        if not areas:
            raise DisasterDxError("an area list needs at least one area")
        with self._write() as conn:
            if self.dialect == "postgresql":
                conn.exec_driver_sql("LOCK TABLE areas IN SHARE ROW EXCLUSIVE MODE")
            if if_empty and conn.execute(select(areas_table.c.area_id).limit(1)).first():
                return 0
            import_id = _record_import(
                conn, "areas", source=source, at=self.clock(), actor=actor, added=len(areas)
            )
            conn.execute(areas_table.delete())
            conn.execute(
                insert(areas_table),
                [
                    {**area_to_row(a), "position": n, "import_id": import_id}
                    for n, a in enumerate(areas)
                ],
            )
        log.info("areas from %s by %s: %d", source, actor, len(areas))
        return len(areas)

    def areas(self) -> list[Area]:
        """The city's areas in their file's order (empty before any is loaded)."""
        with self._read() as conn:
            rows = conn.execute(select(areas_table).order_by(areas_table.c.position))
            return [area_from_row(r._mapping) for r in rows]

    def import_history(self, *, kind: str = "shelters") -> list[dict[str, Any]]:
        """Past imports, newest first (who, when, from where, what changed)."""
        with self._read() as conn:
            rows = conn.execute(
                select(imports).where(imports.c.kind == kind).order_by(imports.c.import_id.desc())
            )
            return [dict(r._mapping) for r in rows]


def read_city(conn: Connection) -> City:
    """The recorded city, read on a connection already open (inside another transaction)."""
    row = conn.execute(select(city_table)).first()
    if row is None:
        return city_for_code(NANKOKU_CODE)
    return city_for_code(row.code, name_en=row.name_en)


def _record_import(
    conn: Connection,
    kind: str,
    *,
    source: str,
    at: datetime,
    actor: str,
    sha256: str = "",
    added: int = 0,
    notes: Sequence[str] = (),
) -> int:
    """One row of the import log (who, when, from where); its id for the rows it explains."""
    inserted = conn.execute(
        insert(imports).values(
            kind=kind,
            source=source,
            sha256=sha256,
            imported_at=at,
            actor=actor,
            added=added,
            changed=0,
            removed=0,
            notes=list(notes),
        )
    ).inserted_primary_key
    assert inserted is not None  # every INSERT of a row with an id returns it
    return int(inserted[0])


def _shelter_row(shelter: Shelter, shelter_id: str) -> dict[str, Any]:
    return {
        "shelter_id": shelter_id,
        "name": shelter.name,
        "address": shelter.address,
        "lon": float(shelter.lon),
        "lat": float(shelter.lat),
        "kinds": sorted(k.value for k in shelter.kinds),
        "hazards": sorted(h.value for h in shelter.hazards),
        "gsi_ids": list(shelter.gsi_ids),
        "capacity": shelter.capacity,
        "municipality_code": shelter.municipality_code,
        "source": json.loads(json.dumps(shelter.source, ensure_ascii=False, default=str)),
        "active": True,
    }


def _comparable(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in _shelter_row_keys}


_shelter_row_keys = (
    "shelter_id",
    "name",
    "address",
    "lon",
    "lat",
    "kinds",
    "hazards",
    "gsi_ids",
    "capacity",
    "municipality_code",
    "source",
    "active",
)


def _history(
    conn: Connection,
    import_id: int,
    shelter_id: str,
    change: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
) -> None:
    conn.execute(
        insert(shelter_history).values(
            import_id=import_id,
            shelter_id=shelter_id,
            change=change,
            before=dict(before) if before else None,
            after=dict(after) if after else None,
        )
    )


def _shelter(row: Mapping[Any, Any]) -> Shelter:
    return Shelter(
        shelter_id=row["shelter_id"],
        name=row["name"],
        address=row["address"],
        lon=row["lon"],
        lat=row["lat"],
        kinds=frozenset(ShelterKind(k) for k in row["kinds"]),
        hazards=frozenset(Hazard(h) for h in row["hazards"]),
        gsi_ids=tuple(row["gsi_ids"]),
        capacity=row["capacity"],
        municipality_code=row["municipality_code"],
        source=row["source"],
    )


def _incident(row: Mapping[Any, Any]) -> Incident:
    return Incident(
        incident_id=row["incident_id"],
        kind=IncidentKind(row["kind"]),
        title=row["title"],
        created_at=row["created_at"],
        created_by=row["created_by"],
        closed_at=row["closed_at"],
        last_seq=row["last_seq"],
        last_at=row["last_at"],
        show_on_public=bool(row["show_on_public"]),
        named=bool(row["named"]),
        hazard=Hazard(row["hazard"]) if row["hazard"] else None,
        started_at=row["started_at"],
        closed_by=row["closed_by"],
    )


def event_from_row(row: Mapping[Any, Any]) -> Event:
    """An :class:`Event` from a row of the events table (for modules reading it themselves)."""
    return Event(
        incident_id=row["incident_id"],
        seq=row["seq"],
        at=row["at"],
        actor=row["actor"],
        type=row["type"],
        payload=row["payload"],
        subject=row["subject"],
    )


def _json_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _switch_to_wal(cursor: Any, *, wait_s: float = 15.0) -> None:
    """``PRAGMA journal_mode=WAL``, waiting while another connection holds the file's lock.

    Switching needs an exclusive lock, and SQLite answers "database is locked" at once, without
    its busy handler, when another connection (a worker creating the schema on a fresh file)
    holds one: seen as one worker of four failing at start. Wait as the busy timeout would.
    """
    deadline = time.monotonic() + wait_s
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _make_engine(url: str, *, schema: str | None) -> Engine:
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, json_serializer=_json_dumps)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own is deferred).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            # The wait first: switching a new file to WAL takes an exclusive lock, and several
            # workers starting on a fresh database must queue for it, not fail at once.
            cursor.execute("PRAGMA busy_timeout=15000")
            _switch_to_wal(cursor)
            cursor.execute("PRAGMA synchronous=FULL")  # durable commits, even on power loss
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            immediate = conn.get_execution_options().get("sqlite_immediate", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    connect_args: dict[str, Any] = {}
    if schema:
        connect_args["options"] = f"-csearch_path={schema}"
    return create_engine(
        url, json_serializer=_json_dumps, connect_args=connect_args, pool_pre_ping=True
    )


def subject_for_shelter(shelter_id: str) -> str:
    """The event-log subject of a shelter, as used in ``expected`` versions."""
    return subject_of("shelter.status_reported", {"shelter_id": shelter_id}) or ""
