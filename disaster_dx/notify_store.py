"""Old home of the LINE outbox's storage (:mod:`disaster_dx.line.store`), kept for old imports."""

from __future__ import annotations

from disaster_dx.line.store import ALERT_TYPES as ALERT_TYPES
from disaster_dx.line.store import CANCELLED as CANCELLED
from disaster_dx.line.store import EXPIRED as EXPIRED
from disaster_dx.line.store import FAILED as FAILED
from disaster_dx.line.store import HELD as HELD
from disaster_dx.line.store import KIND_ALERT as KIND_ALERT
from disaster_dx.line.store import KIND_ANNOUNCEMENT as KIND_ANNOUNCEMENT
from disaster_dx.line.store import KIND_STATUS as KIND_STATUS
from disaster_dx.line.store import QUEUED as QUEUED
from disaster_dx.line.store import SENDING as SENDING
from disaster_dx.line.store import SENT as SENT
from disaster_dx.line.store import SKIPPED as SKIPPED
from disaster_dx.line.store import STATUS_LABELS as STATUS_LABELS
from disaster_dx.line.store import create_notify_tables as create_notify_tables
from disaster_dx.line.store import hash_user_id as hash_user_id
from disaster_dx.line.store import line_cursor as line_cursor
from disaster_dx.line.store import line_deliveries as line_deliveries
from disaster_dx.line.store import line_log as line_log
from disaster_dx.line.store import line_messages as line_messages
from disaster_dx.line.store import line_rate as line_rate
from disaster_dx.line.store import line_webhook_seen as line_webhook_seen
from disaster_dx.line.store import notify_metadata as notify_metadata
from disaster_dx.line.store import queue_alerts as queue_alerts
from disaster_dx.line.store import serialise as serialise
