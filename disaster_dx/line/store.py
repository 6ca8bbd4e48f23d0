"""The LINE outbox's storage: message states, its tables, and queueing 避難情報 at once.

Kept apart from the listener and the sender so the outbox's schema and the 避難情報 path can
be read on their own. The tables use their own MetaData, created beside the store's schema
with :func:`create_notify_tables`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Integer, MetaData, String, Table, Text, insert, select
from sqlalchemy.engine import Connection

from disaster_dx import leases
from disaster_dx.areas import area_from_row
from disaster_dx.config import Settings
from disaster_dx.events import ALERT_ISSUED, ALERT_LIFTED, Event, State
from disaster_dx.line.text import alert_message_text
from disaster_dx.store import Store, UTCDateTime, areas_table, read_city

# Message states. ``queued`` and ``held`` still collect changes; ``sending`` is claimed.
QUEUED, HELD, SENDING, SENT, FAILED, CANCELLED, EXPIRED, SKIPPED = (
    "queued",
    "held",
    "sending",
    "sent",
    "failed",
    "cancelled",
    "expired",
    "skipped",
)
STATUS_LABELS: dict[str, tuple[str, str]] = {
    QUEUED: ("送信待ち", "Queued"),
    HELD: ("保留中", "Held"),
    SENDING: ("送信中", "Sending"),
    SENT: ("送信済み", "Sent"),
    FAILED: ("送信失敗", "Failed"),
    CANCELLED: ("取り消し", "Cancelled"),
    EXPIRED: ("期限切れ（未送信）", "Expired (not sent)"),
    SKIPPED: ("変化なし（未送信）", "No net change (not sent)"),
}
KIND_STATUS, KIND_ANNOUNCEMENT, KIND_ALERT = "status", "announcement", "alert"
#: 避難情報 events: each is sent at once, never held for the openings batch.
ALERT_TYPES = frozenset({ALERT_ISSUED, ALERT_LIFTED})

# -- tables ------------------------------------------------------------------------------------

notify_metadata = MetaData()

#: Up to which event of each incident changes have been collected (a restart resumes there).
line_cursor = Table(
    "line_cursor",
    notify_metadata,
    Column("incident_id", String(64), primary_key=True),
    Column("last_seq", Integer, nullable=False),
)

#: The outbox: one row per message; ``message_key`` is unique, so nothing is queued twice.
line_messages = Table(
    "line_messages",
    notify_metadata,
    Column("message_key", String(120), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("incident_id", String(64)),
    Column("status", String(16), nullable=False),
    Column("items", JSON, nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(64), nullable=False),
    Column("sent_at", UTCDateTime),
    Index("ix_line_messages_status_due", "status", "due_at"),
)

#: One row per request a message needs (broadcast; each multicast chunk of 500 ids).
line_deliveries = Table(
    "line_deliveries",
    notify_metadata,
    Column("message_key", String(120), primary_key=True),
    Column("target", String(32), primary_key=True),
    Column("retry_key", String(36), nullable=False, unique=True),
    Column("recipients", Integer, nullable=False, default=0),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Column("request_id", String(64), nullable=False, default=""),
    Column("last_error", String(300), nullable=False, default=""),
)

#: What HQ sees: every attempt and reply, with hashed user ids only.
line_log = Table(
    "line_delivery_log",
    notify_metadata,
    Column("log_id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("message_key", String(120), nullable=False, default=""),
    Column("target", String(32), nullable=False, default=""),
    Column("attempt", Integer, nullable=False, default=0),
    Column("outcome", String(16), nullable=False),
    Column("status_code", Integer, nullable=False, default=0),
    Column("request_id", String(64), nullable=False, default=""),
    Column("user_hash", String(32), nullable=False, default=""),
    Column("detail", String(300), nullable=False, default=""),
    Index("ix_line_log_at", "at"),
)

#: Per-user request counts for the bot's rate limit, keyed by the hashed user id.
line_rate = Table(
    "line_rate",
    notify_metadata,
    Column("user_hash", String(32), primary_key=True),
    Column("window_start", UTCDateTime, nullable=False),
    Column("count", Integer, nullable=False),
)

#: Webhook events already answered, by LINE's ``webhookEventId``: LINE redelivers an event it
#: thinks we missed, and the same event must not be answered (or counted) twice.
line_webhook_seen = Table(
    "line_webhook_seen",
    notify_metadata,
    Column("event_id", String(64), primary_key=True),
    Column("seen_at", UTCDateTime, nullable=False),
)


def create_notify_tables(store: Store) -> None:
    """Create the LINE tables (and the lease table) if missing; idempotent and race-safe."""
    store.create_tables(notify_metadata)
    leases.create_lease_table(store)


def serialise(conn: Connection, store: Store) -> None:
    """Serialise outbox writers on PostgreSQL (SQLite's ``BEGIN IMMEDIATE`` already does)."""
    if store.dialect == "postgresql":
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(392049, 8)")


# -- 避難情報: one message each, due at once ----------------------------------------------------


def queue_alerts(
    conn: Connection,
    settings: Settings,
    incident_id: str,
    events: Sequence[Event],
    after: State,
    *,
    now: datetime,
) -> None:
    """One message per 避難情報 issued or lifted, due now (never batched, never held back).

    A lift made in the same act as a new alert for the same hazard and areas (raising 4 → 5,
    :func:`disaster_dx.alerts.issue_alert`) is told inside the new alert's message, not as a
    解除 of its own. The key is the event's seq, so a restart never queues one twice.
    """
    areas = {r.area_id: area_from_row(r._mapping) for r in conn.execute(select(areas_table))}

    def item(event: Event, action: str) -> dict[str, Any]:
        alert = after.alerts[event.payload["alert_id"]]
        known = [areas.get(a) for a in alert.areas]
        return {
            "alert_id": alert.alert_id,
            "action": action,
            "level": alert.level.value,
            "hazard": alert.hazard.value,
            "areas": list(alert.areas),
            "area_names": [a.name if a else i for a, i in zip(known, alert.areas, strict=True)],
            "area_names_en": [
                (a.name_en or a.name) if a else i for a, i in zip(known, alert.areas, strict=True)
            ],
            "at": event.at.isoformat(),
            "seq": event.seq,
        }

    issued = [item(e, "issued") for e in events if e.type == ALERT_ISSUED]
    lifts = [item(e, "lifted") for e in events if e.type == ALERT_LIFTED]
    for lifted in lifts:
        if any(_replaces(new, lifted) for new in issued):
            continue
        _insert_alert(conn, settings, incident_id, lifted, None, now=now)
    for new in issued:
        replaced = next((old for old in lifts if _replaces(new, old)), None)
        _insert_alert(conn, settings, incident_id, new, replaced, now=now)


def _replaces(new: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
    return (
        new["hazard"] == old["hazard"]
        and set(new["areas"]) == set(old["areas"])
        and new["at"] == old["at"]
    )


def _insert_alert(
    conn: Connection,
    settings: Settings,
    incident_id: str,
    item: dict[str, Any],
    replaced: dict[str, Any] | None,
    *,
    now: datetime,
) -> None:
    items = [item] if replaced is None else [item, replaced]
    conn.execute(
        insert(line_messages).values(
            message_key=f"alert:{incident_id}:{item['seq']}",
            kind=KIND_ALERT,
            incident_id=incident_id,
            status=QUEUED,
            items=items,
            text=alert_message_text(
                item,
                public_url=settings.public_base_url,
                replaced=replaced,
                city=read_city(conn),
            ),
            created_at=now,
            created_by="system",
            due_at=now,
            updated_at=now,
            updated_by="system",
        )
    )


# ---------------------------------------------------------------------------------------------
# Hashing user ids
# ---------------------------------------------------------------------------------------------


def hash_user_id(user_id: str, *, secret: str) -> str:
    """A stable, keyed, one-way name for a LINE user id (16 hex digits).

    Keyed with the channel secret, so the hash cannot be matched against a list of known ids
    without it; stable across workers and restarts, so the rate limit and the log agree.
    """
    key = ("disaster_dx.line:" + secret).encode("utf-8")
    return hmac.new(key, user_id.encode("utf-8"), hashlib.sha256).hexdigest()[:16]
