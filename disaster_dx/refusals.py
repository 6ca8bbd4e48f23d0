"""Refused anonymous requests, counted per client and minute instead of one audit row each.

An anonymous client can send refused requests as fast as the network allows (measured: 461
audit rows a second from one client, which slowed every shelter write on SQLite). Each refusal
still counts — HQ must see that someone is knocking — but as one row per (minute, client,
action, reason) whose ``count`` goes up: an upsert, so a flood of N requests in M minutes
writes at most M rows per reason, and the count is exact (the upsert is atomic on SQLite's
write lock and PostgreSQL's ``ON CONFLICT``).

Refusals of a signed-in user stay individual rows in ``audit_log`` (:meth:`Store.audit`):
there the person matters, and a user's own actions cannot flood it unnoticed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from disaster_dx.store import Store, UTCDateTime

refusal_metadata = MetaData()

refusal_counts_table = Table(
    "refusal_counts",
    refusal_metadata,
    Column("minute", UTCDateTime, primary_key=True),
    Column("client", String(64), primary_key=True),
    Column("action", String(64), primary_key=True),
    Column("reason", String(64), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("first_at", UTCDateTime, nullable=False),
    Column("last_at", UTCDateTime, nullable=False),
    Column("last_target", String(200), nullable=False),
)


def create_refusal_tables(store: Store) -> None:
    """Create the table if missing (idempotent; several workers may call it at once)."""
    store.create_tables(refusal_metadata)


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def record_refusal(
    store: Store, client: str, action: str, *, reason: str = "", target: str = ""
) -> None:
    """Count one refused anonymous request of ``client`` (an address, ``ip:…``) this minute.

    ``reason`` must come from a fixed set in the code (never from the request): it is part of
    the key, so the rows per minute stay bounded whatever a client sends. ``target`` (the
    path) is kept only as the last one seen.
    """
    now = store.clock()
    values = {
        "minute": _minute(now),
        "client": (client or "unknown")[:64],
        "action": action[:64],
        "reason": reason[:64],
        "count": 1,
        "first_at": now,
        "last_at": now,
        "last_target": target[:200],
    }
    with store._write() as conn:
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        statement = insert(refusal_counts_table).values(**values)
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=["minute", "client", "action", "reason"],
                set_={
                    "count": refusal_counts_table.c.count + 1,
                    "last_at": statement.excluded.last_at,
                    "last_target": statement.excluded.last_target,
                },
            )
        )


def refusal_counts(
    store: Store, *, action: str | None = None, since: datetime | None = None
) -> list[dict[str, Any]]:
    """The counted refusals, newest minute first (for an operator or a test)."""
    table = refusal_counts_table
    query = select(table).order_by(table.c.minute.desc(), table.c.client, table.c.reason)
    if action is not None:
        query = query.where(table.c.action == action)
    if since is not None:
        query = query.where(table.c.minute >= _minute(since))
    with store._read() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]
