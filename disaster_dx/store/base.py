"""What every part of the store stands on: its connection, transactions and after-commit news.

:class:`StoreBase` holds the engine and the clock and gives the parts (the event log, the
reference tables, the audit log, incidents) their one way to a connection: :meth:`~StoreBase._write`
and :meth:`~StoreBase._read`, which join an open :meth:`~StoreBase.transaction`. Writes to one
incident are serialised by the write lock taken up front (SQLite ``BEGIN IMMEDIATE``), and the
state cache and append listeners hear of appends only after their commit
(:meth:`~StoreBase._announce`). :class:`disaster_dx.store.Store` sets the attributes declared here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine, MetaData
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from disaster_dx.events import Event

if TYPE_CHECKING:
    from disaster_dx.projection import StateProjection

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
AppendListener = Callable[[str, list[Event]], None]
#: Runs inside an append's transaction, after its rows are written and before the commit.
AppendHook = Callable[[Connection, list[Event]], None]

#: Hooks joined to the appends of this thread (or task), with the store they belong to.
_JOINED_HOOKS: ContextVar[tuple[tuple[StoreBase, AppendHook], ...]] = ContextVar(
    "disaster_dx_joined_append_hooks", default=()
)


@dataclass
class _OpenTransaction:
    """A :meth:`Store.transaction` in progress: its connection and the appends made in it."""

    conn: Connection
    #: (incident id, events) of each append, told to the cache and listeners after the commit.
    appended: list[tuple[str, list[Event]]] = field(default_factory=list)


#: The transaction each store has open in this thread (or task), joined by its writes.
_OPEN_TRANSACTIONS: ContextVar[tuple[tuple[StoreBase, _OpenTransaction], ...]] = ContextVar(
    "disaster_dx_open_transactions", default=()
)


class StoreBase:
    """The engine, clock and listeners of a :class:`~disaster_dx.store.Store`, and its transactions.

    Not used alone: :class:`~disaster_dx.store.Store` sets these attributes in its constructor
    (it also makes the projection, which needs the whole store).
    """

    url: str
    schema: str | None
    clock: Clock
    engine: Engine
    projection: StateProjection
    _listeners: list[AppendListener]

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
