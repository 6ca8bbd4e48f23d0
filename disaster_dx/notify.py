"""Old home of LINE notifications, kept so existing imports work: see :mod:`disaster_dx.line`.

New code imports from the package (``disaster_dx.line.notify``, ``.outbox``, ``.sender``,
``.client``, ``.store``, ``.text``).
"""

from __future__ import annotations

from disaster_dx.errors import NotPermitted as NotPermitted
from disaster_dx.line.client import LineClient as LineClient
from disaster_dx.line.client import LineResponse as LineResponse
from disaster_dx.line.client import client_for as client_for
from disaster_dx.line.notify import Notifier as Notifier
from disaster_dx.line.notify import attach as attach
from disaster_dx.line.notify import collect as collect
from disaster_dx.line.outbox import MAX_ANNOUNCEMENT as MAX_ANNOUNCEMENT
from disaster_dx.line.outbox import LogEntry as LogEntry
from disaster_dx.line.outbox import OutboxMessage as OutboxMessage
from disaster_dx.line.outbox import announce as announce
from disaster_dx.line.outbox import cancel as cancel
from disaster_dx.line.outbox import delivery_log as delivery_log
from disaster_dx.line.outbox import hold as hold
from disaster_dx.line.outbox import message as message
from disaster_dx.line.outbox import outbox as outbox
from disaster_dx.line.outbox import record as record
from disaster_dx.line.outbox import release as release
from disaster_dx.line.sender import BACKOFF_BASE as BACKOFF_BASE
from disaster_dx.line.sender import BACKOFF_MAX as BACKOFF_MAX
from disaster_dx.line.sender import LEASE_NAME as LEASE_NAME
from disaster_dx.line.sender import LEASE_TTL as LEASE_TTL
from disaster_dx.line.sender import MAX_ATTEMPTS as MAX_ATTEMPTS
from disaster_dx.line.sender import MULTICAST_CHUNK as MULTICAST_CHUNK
from disaster_dx.line.sender import Sender as Sender
from disaster_dx.line.sender import SenderThread as SenderThread
from disaster_dx.line.sender import backoff as backoff
from disaster_dx.line.sender import default_holder as default_holder
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
from disaster_dx.line.text import MAX_MESSAGES as MAX_MESSAGES
from disaster_dx.line.text import MAX_TEXT as MAX_TEXT
from disaster_dx.line.text import announcement_text as announcement_text
from disaster_dx.line.text import split_text as split_text
from disaster_dx.line.text import text_messages as text_messages
