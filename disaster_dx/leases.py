"""Database leases: one process does a job that must run once, however many are started.

Several gunicorn workers (and CLI processes) each run the same background threads — camera
polling, the drill scheduler, the LINE sender — but each job must run exactly once. A lease is
a row ``(name, holder, expires_at)``: a holder takes a free or expired lease, renews it while it
lives, and hands it back on a clean stop; when a process dies, another takes over once its lease
runs out. Names say what is leased: ``camera:coast``, ``drill-scheduler``, ``line-sender``.

Each claim is one write transaction (SQLite's ``BEGIN IMMEDIATE``; on PostgreSQL a lock on the
table), so two processes never both see a lease as free. Times come from the caller, so tests
and drills can run on an injected clock.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Column, Connection, MetaData, String, Table, insert, or_, select, update

from disaster_dx.store import Store, UTCDateTime

lease_metadata = MetaData()


def holder_name() -> str:
    """A holder name that differs between hosts, processes and instances (fits ``holder``)."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


leases_table = Table(
    "leases",
    lease_metadata,
    Column("name", String(200), primary_key=True),
    Column("holder", String(200)),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("acquired_at", UTCDateTime),
)

#: ``expires_at`` of a lease nobody holds.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Lease:
    """Who holds a lease and until when (``holder`` is ``None`` once handed back)."""

    name: str
    holder: str | None
    expires_at: datetime


def create_lease_table(store: Store) -> None:
    """Create the lease table if missing (idempotent; several workers may call it at once)."""
    store.create_tables(lease_metadata)


def acquire(
    store: Store, names: Sequence[str], holder: str, now: datetime, *, ttl: timedelta
) -> set[str]:
    """Take or renew the leases ``names`` for ``holder``; returns the names it holds after.

    A lease is taken when nobody holds it, ``holder`` already does, or its holder's time ran
    out. Renewing moves ``expires_at`` to ``now + ttl``.
    """
    if not names:
        return set()
    leases = leases_table
    with store._write() as conn:
        if store.dialect == "postgresql":
            conn.exec_driver_sql("LOCK TABLE leases IN SHARE ROW EXCLUSIVE MODE")
        known = set(conn.execute(select(leases.c.name).where(leases.c.name.in_(names))).scalars())
        for name in dict.fromkeys(names):
            if name not in known:
                conn.execute(insert(leases).values(name=name, holder=None, expires_at=EPOCH))
        held_before = _held(conn, names, holder)
        conn.execute(
            update(leases)
            .where(
                leases.c.name.in_(names),
                or_(
                    leases.c.holder == holder,
                    leases.c.holder.is_(None),
                    leases.c.expires_at < now,
                ),
            )
            .values(holder=holder, expires_at=now + ttl)
        )
        held = _held(conn, names, holder)
        if new := held - held_before:
            conn.execute(update(leases).where(leases.c.name.in_(new)).values(acquired_at=now))
    return held


def acquire_one(store: Store, name: str, holder: str, now: datetime, *, ttl: timedelta) -> bool:
    """Take or renew one lease; False while another live holder has it."""
    return name in acquire(store, [name], holder, now, ttl=ttl)


def release(
    store: Store, holder: str, *, names: Iterable[str] | None = None, prefix: str = ""
) -> None:
    """Hand back ``holder``'s leases so another process takes over at once.

    All of them, or only ``names``, or only those whose name starts with ``prefix``.
    """
    query = update(leases_table).where(leases_table.c.holder == holder)
    if names is not None:
        query = query.where(leases_table.c.name.in_(list(names)))
    if prefix:
        query = query.where(leases_table.c.name.startswith(prefix, autoescape=True))
    with store._write() as conn:
        conn.execute(query.values(holder=None, expires_at=EPOCH))


def leases(store: Store, *, prefix: str = "") -> dict[str, Lease]:
    """Every lease whose name starts with ``prefix``, by name (for status pages and tests)."""
    query = select(leases_table)
    if prefix:
        query = query.where(leases_table.c.name.startswith(prefix, autoescape=True))
    with store._read() as conn:
        return {r.name: Lease(r.name, r.holder, r.expires_at) for r in conn.execute(query)}


def lease(store: Store, name: str) -> Lease | None:
    """One lease, or ``None`` if it was never taken (a cheap read-only check)."""
    with store._read() as conn:
        row = conn.execute(select(leases_table).where(leases_table.c.name == name)).one_or_none()
    return None if row is None else Lease(row.name, row.holder, row.expires_at)


def holds(conn: Connection, name: str, holder: str) -> bool:
    """Whether ``holder`` holds ``name``, inside the caller's transaction (before a write)."""
    current = conn.execute(
        select(leases_table.c.holder).where(leases_table.c.name == name)
    ).scalar_one_or_none()
    return current == holder


def _held(conn: Connection, names: Sequence[str], holder: str) -> set[str]:
    rows = conn.execute(
        select(leases_table.c.name).where(
            leases_table.c.name.in_(names), leases_table.c.holder == holder
        )
    )
    return set(rows.scalars())
