"""LINE notifications: shelter openings and closings reach the city's LINE friends, once each.

Many residents never open a map page but read the city's LINE official account, so every real
opening or closing of a shelter in the *live* incident becomes a LINE message with a link to
the public page. How a change travels:

1. :class:`Notifier` is a store listener (``store.add_listener``). After each committed append
   it folds the affected shelters and keeps only real open/close changes
   (:func:`~disaster_dx.events.open_state_changes`: corrections never count; drill incidents
   are ignored). The changes join the incident's open batch in the outbox, or start one that
   is due ``LINE_BATCH_SECONDS`` later, so opening 20 shelters in one minute is one message
   (a summary, then at most ``LINE_MAX_NAMES`` names; :mod:`disaster_dx.line_text`), not 20.
   A shelter that opens and closes again inside the window drops out. 避難情報 issued or
   lifted (``alert.*``) is never batched: each becomes a message of its own, due at once
   (:func:`disaster_dx.notify_store.queue_alerts`).
2. HQ may preview, hold, release or cancel a queued message and send an announcement
   (:func:`hold`, :func:`release`, :func:`cancel`, :func:`announce`; role ``hq``, audit-logged).
3. :class:`Sender` (a thread in the app, or ``disaster-dx line run``) takes a lease in the
   database so exactly one process sends, claims messages that are due, and delivers each
   through the Messaging API broadcast (and multicast, when configured) endpoints.

Sending is idempotent across crashes and restarts. Each delivery gets a UUID retry key when it
is claimed, stored *before* the request goes out and sent as ``X-Line-Retry-Key``; the
delivery is marked sent in its own transaction afterwards. A worker killed between the two
retries with the same key, and LINE answers ``409`` ("already accepted") instead of sending
again, which counts as sent. Failures back off exponentially (honouring ``Retry-After``);
a message not delivered within ``LINE_MAX_DELAY_MINUTES`` expires rather than reaching
people hours late.

The delivery log (:func:`delivery_log`) is what HQ sees: attempts, outcomes, LINE request
ids, and for replies a keyed hash of the user id. Raw LINE user ids are never stored or
logged (the multicast list lives only in the server's environment).

Storage is this module's own tables (:data:`notify_metadata`), created beside the store's
schema with :func:`create_notify_tables`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import requests
from sqlalchemy import (
    case,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from disaster_dx import leases
from disaster_dx.auth import Role, User
from disaster_dx.config import Settings
from disaster_dx.errors import DisasterDxError, NotFoundError, Problem, ValidationError
from disaster_dx.events import (
    SHELTER_CORRECTION,
    SHELTER_STATUS_REPORTED,
    Event,
    OpenStateChange,
    fold,
    open_state_changes,
)
from disaster_dx.line_text import MAX_MESSAGES as MAX_MESSAGES
from disaster_dx.line_text import MAX_TEXT as MAX_TEXT
from disaster_dx.line_text import Site, status_message_text
from disaster_dx.line_text import announcement_text as announcement_text
from disaster_dx.line_text import split_text as split_text
from disaster_dx.line_text import text_messages as text_messages
from disaster_dx.model import Hazard, IncidentKind, OpenState, ShelterKind
from disaster_dx.notify_store import (
    ALERT_TYPES,
    QUEUED,
    SENDING,
    line_cursor,
    line_deliveries,
    line_log,
    line_messages,
    queue_alerts,
    serialise,
)
from disaster_dx.notify_store import CANCELLED as CANCELLED
from disaster_dx.notify_store import EXPIRED as EXPIRED
from disaster_dx.notify_store import FAILED as FAILED
from disaster_dx.notify_store import HELD as HELD
from disaster_dx.notify_store import KIND_ALERT as KIND_ALERT
from disaster_dx.notify_store import KIND_ANNOUNCEMENT as KIND_ANNOUNCEMENT
from disaster_dx.notify_store import KIND_STATUS as KIND_STATUS
from disaster_dx.notify_store import SENT as SENT
from disaster_dx.notify_store import SKIPPED as SKIPPED
from disaster_dx.notify_store import STATUS_LABELS as STATUS_LABELS
from disaster_dx.notify_store import create_notify_tables as create_notify_tables
from disaster_dx.notify_store import line_rate as line_rate
from disaster_dx.notify_store import line_webhook_seen as line_webhook_seen
from disaster_dx.notify_store import notify_metadata as notify_metadata
from disaster_dx.store import (
    Store,
    event_from_row,
    events_table,
    incidents,
    read_city,
    shelters_table,
)

log = logging.getLogger(__name__)

#: Multicast takes at most this many user ids per request.
MULTICAST_CHUNK = 500
#: The longest announcement HQ may type (the link footer is added after it).
MAX_ANNOUNCEMENT = 2000

#: Delivery attempts before a message is marked failed, and the backoff between them.
MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(seconds=2)
BACKOFF_MAX = timedelta(minutes=5)
#: Only the holder of this lease sends (several gunicorn workers each run a sender thread).
LEASE_NAME = "line-sender"
LEASE_TTL = timedelta(seconds=30)

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


# ---------------------------------------------------------------------------------------------
# Collecting changes (the store listener)
# ---------------------------------------------------------------------------------------------


def _events_from_rows(rows: Iterable[Any]) -> list[Event]:
    return [event_from_row(r._mapping) for r in rows]


def _touches_open_state(event: Event) -> bool:
    return (
        event.type in (SHELTER_STATUS_REPORTED, SHELTER_CORRECTION)
        and "open_state" in event.payload
    )


def _merge(items: list[dict[str, Any]], changes: Sequence[OpenStateChange]) -> list[dict[str, Any]]:
    """Fold new changes into a batch: per shelter, first ``before`` and last ``after``.

    A shelter whose state is back where the batch found it (opened, then closed again) drops
    out: announcing both would only confuse.
    """
    by_id = {i["shelter_id"]: dict(i) for i in items}
    order = [i["shelter_id"] for i in items]
    for change in changes:
        item = by_id.get(change.shelter_id)
        if item is None:
            by_id[change.shelter_id] = {
                "shelter_id": change.shelter_id,
                "before": change.before.value,
                "after": change.after.value,
                "at": change.at.isoformat(),
                "seq": change.seq,
            }
            order.append(change.shelter_id)
        else:
            item.update(after=change.after.value, at=change.at.isoformat(), seq=change.seq)
    return [
        by_id[sid]
        for sid in order
        if OpenState(by_id[sid]["before"]).is_open != OpenState(by_id[sid]["after"]).is_open
    ]


def collect(
    store: Store,
    settings: Settings,
    incident_id: str,
    *,
    now: datetime,
    start_after: int | None = None,
) -> list[OpenStateChange]:
    """Queue the real openings/closings of ``incident_id`` not collected yet; returns them.

    Resumes after the incident's cursor, so it is safe to call from the listener of every
    worker and from the sender's catch-up: each event is collected once. On first use the
    cursor starts at ``start_after`` (the listener passes the seq before its events) or at
    the incident's current end, so history is never announced.

    Only live incidents are collected; for a drill this does nothing.
    """
    with store._write() as conn:
        serialise(conn, store)
        incident = conn.execute(
            select(incidents.c.kind, incidents.c.last_seq).where(
                incidents.c.incident_id == incident_id
            )
        ).one_or_none()
        if incident is None or incident.kind != IncidentKind.LIVE.value:
            return []
        cursor = conn.execute(
            select(line_cursor.c.last_seq).where(line_cursor.c.incident_id == incident_id)
        ).scalar_one_or_none()
        if cursor is None:
            cursor = incident.last_seq if start_after is None else start_after
            conn.execute(insert(line_cursor).values(incident_id=incident_id, last_seq=cursor))
        if incident.last_seq <= cursor:
            return []
        new_events = _events_from_rows(
            conn.execute(
                select(events_table)
                .where(events_table.c.incident_id == incident_id, events_table.c.seq > cursor)
                .order_by(events_table.c.seq)
            )
        )
        conn.execute(
            update(line_cursor)
            .where(line_cursor.c.incident_id == incident_id)
            .values(last_seq=new_events[-1].seq if new_events else incident.last_seq)
        )
        affected = sorted({e.payload["shelter_id"] for e in new_events if _touches_open_state(e)})
        alert_events = [e for e in new_events if e.type in ALERT_TYPES]
        if not affected and not alert_events:
            return []
        # "Open before this batch" from the state after the cursor (a snapshot plus a short
        # tail), not from every earlier event of these shelters: a bulk opening on day five
        # must not read the whole week. Events up to the cursor never change, so reading them
        # on another connection is consistent.
        before = store.state_after(incident_id, cursor)
        after = fold(new_events, initial=before)  # pure: the hazard in force, lifted alerts
        changes = open_state_changes(before, new_events) if affected else []
        if changes:
            _queue_changes(
                conn, settings, incident_id, changes, now=now, hazard=after.current_hazard
            )
        if alert_events:
            queue_alerts(conn, settings, incident_id, alert_events, after, now=now)
    if changes:
        log.info("LINE: queued %d open/close change(s) of incident %s", len(changes), incident_id)
    if alert_events:
        log.info("LINE: queued 避難情報 of incident %s to send at once", incident_id)
    return changes


def _queue_changes(
    conn: Connection,
    settings: Settings,
    incident_id: str,
    changes: Sequence[OpenStateChange],
    *,
    now: datetime,
    hazard: Hazard | None,
) -> None:
    open_batch = conn.execute(
        select(line_messages)
        .where(
            line_messages.c.kind == KIND_STATUS,
            line_messages.c.incident_id == incident_id,
            (line_messages.c.status == HELD)
            | ((line_messages.c.status == QUEUED) & (line_messages.c.due_at > now)),
        )
        .order_by(line_messages.c.created_at.desc())
    ).first()
    items = _merge(list(open_batch.items) if open_batch else [], changes)
    text = status_message_text(
        items,
        sites=_sites(conn, [i["shelter_id"] for i in items]),
        public_url=settings.public_base_url,
        at=changes[-1].at,
        hazard=hazard,
        max_names=settings.line_max_names,
        city=read_city(conn),
    )
    if open_batch is not None:
        # Conditional: the sender may have claimed it meanwhile (then start a new batch).
        done = conn.execute(
            update(line_messages)
            .where(
                line_messages.c.message_key == open_batch.message_key,
                line_messages.c.status.in_((QUEUED, HELD)),
            )
            .values(items=items, text=text, updated_at=now, updated_by="system")
        )
        if done.rowcount == 1:
            return
        items = _merge([], changes)
        text = status_message_text(
            items,
            sites=_sites(conn, [i["shelter_id"] for i in items]),
            public_url=settings.public_base_url,
            at=changes[-1].at,
            hazard=hazard,
            max_names=settings.line_max_names,
            city=read_city(conn),
        )
    conn.execute(
        insert(line_messages).values(
            message_key=f"status:{incident_id}:{changes[0].seq}",
            kind=KIND_STATUS,
            incident_id=incident_id,
            status=QUEUED,
            items=items,
            text=text,
            created_at=now,
            created_by="system",
            due_at=now + timedelta(seconds=settings.line_batch_seconds),
            updated_at=now,
            updated_by="system",
        )
    )


def _sites(conn: Connection, shelter_ids: Sequence[str]) -> dict[str, Site]:
    if not shelter_ids:
        return {}
    table = shelters_table.c
    rows = conn.execute(
        select(table.shelter_id, table.name, table.kinds, table.hazards).where(
            table.shelter_id.in_(list(shelter_ids))
        )
    )
    return {
        r.shelter_id: Site(
            r.name,
            frozenset(ShelterKind(k) for k in r.kinds),
            frozenset(Hazard(h) for h in r.hazards),
        )
        for r in rows
    }


class Notifier:
    """The store listener: collects open/close changes of live incidents after each append.

    Parameters
    ----------
    store
        The store whose appends to watch (``attach`` registers the listener on it).
    settings
        Batch window and public link.
    clock
        "Now" for batch windows; the store's clock unless a test injects one.
    """

    def __init__(
        self, store: Store, settings: Settings, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock or store.clock
        self._kinds: dict[str, str] = {}  # incident kinds never change: a per-process cache

    def __call__(self, incident_id: str, events: list[Event]) -> None:
        """Collect after an append (only when an event touched an open state or 避難情報)."""
        if not any(_touches_open_state(e) or e.type in ALERT_TYPES for e in events):
            return
        kind = self._kinds.get(incident_id)
        if kind is None:
            kind = self._kinds[incident_id] = self.store.incident(incident_id).kind.value
        if kind != IncidentKind.LIVE.value:
            return
        collect(
            self.store,
            self.settings,
            incident_id,
            now=self.clock(),
            start_after=events[0].seq - 1,
        )


def attach(
    store: Store, settings: Settings, *, clock: Callable[[], datetime] | None = None
) -> Notifier:
    """Create the tables and register a :class:`Notifier` on ``store``."""
    create_notify_tables(store)
    notifier = Notifier(store, settings, clock=clock)
    store.add_listener(notifier)
    return notifier


# ---------------------------------------------------------------------------------------------
# HQ control: preview, hold, release, cancel, announce; the outbox and the delivery log
# ---------------------------------------------------------------------------------------------


class NotPermitted(DisasterDxError):
    """The user may not control LINE messages (refused and audit-logged)."""


@dataclass(frozen=True)
class OutboxMessage:
    """A message in the outbox, as HQ previews it."""

    message_key: str
    kind: str
    status: str
    text: str
    items: tuple[Mapping[str, Any], ...]
    created_at: datetime
    created_by: str
    due_at: datetime
    updated_at: datetime
    updated_by: str
    sent_at: datetime | None

    def status_label(self, lang: str = "ja") -> str:
        """The status in words."""
        ja, en = STATUS_LABELS.get(self.status, (self.status, self.status))
        return en if lang == "en" else ja

    @property
    def opened(self) -> int:
        """How many shelters the message announces as opened."""
        return sum(OpenState(i["after"]).is_open for i in self.items if "after" in i)

    @property
    def closed(self) -> int:
        """How many shelters the message announces as closed."""
        return sum(not OpenState(i["after"]).is_open for i in self.items if "after" in i)


def _message(row: Any) -> OutboxMessage:
    return OutboxMessage(
        message_key=row.message_key,
        kind=row.kind,
        status=row.status,
        text=row.text,
        items=tuple(row.items or ()),
        created_at=row.created_at,
        created_by=row.created_by,
        due_at=row.due_at,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
        sent_at=row.sent_at,
    )


def outbox(
    store: Store, *, statuses: Sequence[str] | None = None, limit: int = 50
) -> list[OutboxMessage]:
    """Messages, newest first, optionally only some statuses (``(QUEUED, HELD)`` = pending)."""
    query = select(line_messages).order_by(line_messages.c.created_at.desc()).limit(limit)
    if statuses:
        query = query.where(line_messages.c.status.in_(list(statuses)))
    with store._read() as conn:
        return [_message(r) for r in conn.execute(query)]


def message(store: Store, message_key: str) -> OutboxMessage:
    """One message of the outbox, or :class:`NotFoundError`."""
    with store._read() as conn:
        row = conn.execute(
            select(line_messages).where(line_messages.c.message_key == message_key)
        ).one_or_none()
    if row is None:
        raise NotFoundError(f"no LINE message {message_key!r}")
    return _message(row)


def _require_hq(store: Store, user: User, action: str, target: str) -> None:
    if not user.has(Role.HQ):
        store.audit(user.username, "line.refused", target=target[:200], detail={"action": action})
        raise NotPermitted(f"{user.username} may not control LINE messages")


def _transition(
    store: Store,
    user: User,
    message_key: str,
    *,
    action: str,
    allowed_from: Sequence[str],
    to: str,
    now: datetime,
    values: Mapping[str, Any] | None = None,
) -> OutboxMessage:
    _require_hq(store, user, action, message_key)
    with store._write() as conn:
        serialise(conn, store)
        done = conn.execute(
            update(line_messages)
            .where(
                line_messages.c.message_key == message_key,
                line_messages.c.status.in_(list(allowed_from)),
            )
            .values(status=to, updated_at=now, updated_by=user.username, **(values or {}))
        )
    current = message(store, message_key)
    if done.rowcount != 1:
        raise DisasterDxError(
            f"LINE message {message_key} is {current.status_label('en').lower()} now; "
            f"it cannot be {action}"
        )
    store.audit(user.username, f"line.{action}", target=message_key)
    log.info("LINE message %s %s by %s", message_key, action, user.username)
    return current


def hold(store: Store, user: User, message_key: str, *, now: datetime) -> OutboxMessage:
    """Keep a queued message from being sent (new changes still join it) until released."""
    return _transition(
        store, user, message_key, action="held", allowed_from=(QUEUED,), to=HELD, now=now
    )


def release(store: Store, user: User, message_key: str, *, now: datetime) -> OutboxMessage:
    """Let a held message go: it is sent when its window ends, at once if that has passed.

    A long hold never makes it expire: HQ decided to send it, so it counts as due now.
    """
    due_now = case((line_messages.c.due_at < now, now), else_=line_messages.c.due_at)
    return _transition(
        store,
        user,
        message_key,
        action="released",
        allowed_from=(HELD,),
        to=QUEUED,
        now=now,
        values={"due_at": due_now},
    )


def cancel(store: Store, user: User, message_key: str, *, now: datetime) -> OutboxMessage:
    """Never send a queued or held message (it stays in the outbox as cancelled)."""
    return _transition(
        store,
        user,
        message_key,
        action="cancelled",
        allowed_from=(QUEUED, HELD),
        to=CANCELLED,
        now=now,
    )


def announce(
    store: Store,
    settings: Settings,
    user: User,
    text: str,
    *,
    nonce: str,
    now: datetime,
) -> OutboxMessage:
    """Queue an HQ announcement for the next send (role ``hq``; audit-logged).

    ``nonce`` names this submission (the form makes one per render): sending the same form
    twice (a double click, a retried request) queues the message once.
    """
    _require_hq(store, user, "announce", "announcement")
    body = text.strip()
    problems = []
    if not body:
        problems.append(Problem("text", "must not be empty"))
    if len(body) > MAX_ANNOUNCEMENT:
        problems.append(
            Problem("text", f"must be at most {MAX_ANNOUNCEMENT} characters, not {len(body)}")
        )
    if any(ord(c) < 32 and c not in "\n\t" for c in body):
        problems.append(Problem("text", "must not contain control characters"))
    if not nonce or len(nonce) > 64:
        problems.append(Problem("nonce", "missing or too long"))
    if problems:
        raise ValidationError("announcement", problems)
    key = f"announce:{nonce}"
    try:
        with store._write() as conn:
            conn.execute(
                insert(line_messages).values(
                    message_key=key,
                    kind=KIND_ANNOUNCEMENT,
                    incident_id=None,
                    status=QUEUED,
                    items=[],
                    text=announcement_text(
                        body, public_url=settings.public_base_url, city=read_city(conn)
                    ),
                    created_at=now,
                    created_by=user.username,
                    due_at=now,
                    updated_at=now,
                    updated_by=user.username,
                )
            )
    except IntegrityError:
        return message(store, key)  # the same submission again: already queued
    store.audit(user.username, "line.announce", target=key, detail={"chars": len(body)})
    log.info("LINE announcement %s queued by %s", key, user.username)
    return message(store, key)


@dataclass(frozen=True)
class LogEntry:
    """One row of the delivery log (never a raw user id)."""

    at: datetime
    kind: str
    message_key: str
    target: str
    attempt: int
    outcome: str
    status_code: int
    request_id: str
    user_hash: str
    detail: str


def record(
    store: Store,
    *,
    at: datetime,
    kind: str,
    outcome: str,
    message_key: str = "",
    target: str = "",
    attempt: int = 0,
    status_code: int = 0,
    request_id: str = "",
    user_hash: str = "",
    detail: str = "",
) -> None:
    """Append to the delivery log (``user_hash`` from :func:`hash_user_id`, never a raw id)."""
    with store._write() as conn:
        conn.execute(
            insert(line_log).values(
                at=at,
                kind=kind,
                message_key=message_key,
                target=target,
                attempt=attempt,
                outcome=outcome,
                status_code=status_code,
                request_id=request_id[:64],
                user_hash=user_hash,
                detail=detail[:300],
            )
        )


def delivery_log(store: Store, *, limit: int = 200) -> list[LogEntry]:
    """The newest delivery-log entries first."""
    query = select(line_log).order_by(line_log.c.log_id.desc()).limit(limit)
    with store._read() as conn:
        return [
            LogEntry(
                at=r.at,
                kind=r.kind,
                message_key=r.message_key,
                target=r.target,
                attempt=r.attempt,
                outcome=r.outcome,
                status_code=r.status_code,
                request_id=r.request_id,
                user_hash=r.user_hash,
                detail=r.detail,
            )
            for r in conn.execute(query)
        ]


# ---------------------------------------------------------------------------------------------
# The Messaging API client
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineResponse:
    """What LINE answered (``status`` 0: no answer — timeout or connection error)."""

    status: int
    request_id: str = ""
    accepted_request_id: str = ""
    retry_after: float | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        """The request was accepted now."""
        return 200 <= self.status < 300

    @property
    def already_accepted(self) -> bool:
        """``409`` for a retry key LINE had accepted before: sent earlier, not again now."""
        return self.status == 409

    @property
    def retryable(self) -> bool:
        """No answer, rate limited or a server error: worth trying again later."""
        return self.status == 0 or self.status == 429 or self.status >= 500


class LineClient:
    """A small client for the Messaging API endpoints this app uses.

    Parameters
    ----------
    base_url
        ``LINE_API_BASE`` (``https://api.line.me``, or the local fake in tests and demos).
    token
        The channel access token; sent only in the ``Authorization`` header, never logged.
    timeout
        Connect and read timeouts in seconds: a hung connection must not stall the sender.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (5.0, 15.0),
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.session = session or requests.Session()
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"LineClient({self.base_url!r})"

    def post(
        self, path: str, body: Mapping[str, Any], *, retry_key: str | None = None
    ) -> LineResponse:
        """POST ``body`` as JSON to ``path``; network failures become ``status=0``."""
        headers = {"Authorization": f"Bearer {self._token}"}
        if retry_key:
            headers["X-Line-Retry-Key"] = retry_key
        try:
            response = self.session.post(
                f"{self.base_url}{path}", json=dict(body), headers=headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            return LineResponse(0, error=type(exc).__name__)
        error = ""
        if not 200 <= response.status_code < 300:
            try:
                error = str(response.json().get("message", ""))
            except ValueError:
                error = response.text[:200]
        retry_after = None
        if response.headers.get("Retry-After", "").strip().isdigit():
            retry_after = float(response.headers["Retry-After"])
        return LineResponse(
            response.status_code,
            request_id=response.headers.get("x-line-request-id", ""),
            accepted_request_id=response.headers.get("x-line-accepted-request-id", ""),
            retry_after=retry_after,
            error=error[:200],
        )

    def broadcast(self, messages: list[dict[str, Any]], *, retry_key: str) -> LineResponse:
        """Send to every friend of the official account."""
        return self.post("/v2/bot/message/broadcast", {"messages": messages}, retry_key=retry_key)

    def multicast(
        self, to: Sequence[str], messages: list[dict[str, Any]], *, retry_key: str
    ) -> LineResponse:
        """Send to up to 500 user ids."""
        return self.post(
            "/v2/bot/message/multicast",
            {"to": list(to), "messages": messages},
            retry_key=retry_key,
        )

    def reply(self, reply_token: str, messages: list[dict[str, Any]]) -> LineResponse:
        """Answer a webhook event (reply tokens are single-use and short-lived)."""
        return self.post("/v2/bot/message/reply", {"replyToken": reply_token, "messages": messages})


def client_for(settings: Settings, *, session: requests.Session | None = None) -> LineClient:
    """A client configured from ``LINE_API_BASE`` and ``LINE_CHANNEL_ACCESS_TOKEN``."""
    return LineClient(settings.line_api_base, settings.line_channel_access_token, session=session)


# ---------------------------------------------------------------------------------------------
# The sender
# ---------------------------------------------------------------------------------------------


def backoff(attempt: int, *, retry_after: float | None = None) -> timedelta:
    """Wait before attempt ``attempt + 1``: 2 s, 4 s, 8 s … at most 5 min, or LINE's ask."""
    delay: timedelta = min(BACKOFF_BASE * 2 ** max(attempt - 1, 0), BACKOFF_MAX)
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=min(retry_after, 3600)))
    return delay


def default_holder() -> str:
    """A lease holder name that differs between hosts, processes and instances."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Sender:
    """Sends due messages; only the holder of the database lease does (see module docs).

    Parameters
    ----------
    store, settings
        Where the outbox is, and the LINE endpoint, token, targets and limits.
    client
        The Messaging API client (tests point it at the fake server).
    clock
        "Now"; the store's clock unless a test injects one.
    holder
        This sender's name in the lease (host, process, instance by default).
    """

    store: Store
    settings: Settings
    client: LineClient | None = None
    clock: Callable[[], datetime] | None = None
    holder: str = field(default_factory=default_holder)
    _cleaned_at: datetime | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.client is None:
            self.client = client_for(self.settings)
        if self.clock is None:
            self.clock = self.store.clock

    def now(self) -> datetime:
        """The sender's clock."""
        assert self.clock is not None
        return self.clock()

    # -- lease --------------------------------------------------------------------------------

    def acquire_lease(self) -> bool:
        """Take or renew the sender lease; False when another live sender holds it."""
        return leases.acquire_one(self.store, LEASE_NAME, self.holder, self.now(), ttl=LEASE_TTL)

    def release_lease(self) -> None:
        """Give the lease up at a clean stop, so another sender takes over at once."""
        leases.release(self.store, self.holder, names=[LEASE_NAME])

    # -- one round ----------------------------------------------------------------------------

    def run_once(self) -> int:
        """Catch up, expire, claim and deliver what is due; returns deliveries now done.

        Safe to call from several processes: without the lease it does nothing. An idle round
        only reads (SQLite has one writer; an idle sender must not take its lock every tick).
        """
        if not self._hold_lease():
            return 0
        self._catch_up()
        if self._any_due_message():
            self._expire()
            self._claim_due()
        done = 0
        for key, target in self._due_deliveries():
            done += self._deliver(key, target)
        now = self.now()
        if self._cleaned_at is None or now - self._cleaned_at > _HOUR:
            self._cleanup()
            self._cleaned_at = now
        return done

    def _hold_lease(self) -> bool:
        """Renew the lease only when half of it has run out; read-only otherwise."""
        now = self.now()
        current = leases.lease(self.store, LEASE_NAME)
        if current is not None and current.holder is not None and now < current.expires_at:
            if current.holder != self.holder:
                return False
            if current.expires_at - now > LEASE_TTL / 2:
                return True
        return self.acquire_lease()

    def _catch_up(self) -> None:
        """Collect changes another process appended without a listener (CLI, drill tools)."""
        with self.store._read() as conn:
            behind = [
                r.incident_id
                for r in conn.execute(
                    select(incidents.c.incident_id, incidents.c.last_seq, line_cursor.c.last_seq)
                    .select_from(
                        incidents.outerjoin(
                            line_cursor, line_cursor.c.incident_id == incidents.c.incident_id
                        )
                    )
                    .where(
                        incidents.c.kind == IncidentKind.LIVE.value,
                        incidents.c.closed_at.is_(None),
                    )
                )
                if r[2] is None or r[1] > r[2]
            ]
        for incident_id in behind:
            collect(self.store, self.settings, incident_id, now=self.now())

    def _any_due_message(self) -> bool:
        with self.store._read() as conn:
            found = conn.execute(
                select(line_messages.c.message_key)
                .where(line_messages.c.status == QUEUED, line_messages.c.due_at <= self.now())
                .limit(1)
            ).first()
        return found is not None

    def _expire(self) -> None:
        """Queued messages older than ``LINE_MAX_DELAY_MINUTES`` are not sent late."""
        now = self.now()
        limit = now - timedelta(minutes=self.settings.line_max_delay_minutes)
        with self.store._write() as conn:
            serialise(conn, self.store)
            stale = [
                r.message_key
                for r in conn.execute(
                    select(line_messages.c.message_key).where(
                        line_messages.c.status == QUEUED, line_messages.c.due_at < limit
                    )
                )
            ]
            if stale:
                conn.execute(
                    update(line_messages)
                    .where(line_messages.c.message_key.in_(stale))
                    .values(status=EXPIRED, updated_at=now, updated_by="system")
                )
        for key in stale:
            log.warning("LINE message %s expired unsent (older than the maximum delay)", key)
            record(self.store, at=now, kind="message", message_key=key, outcome="expired")

    def _targets(self) -> list[tuple[str, int]]:
        targets = [("broadcast", 0)] if self.settings.line_broadcast else []
        recipients = self.settings.line_multicast_to
        for index in range(0, len(recipients), MULTICAST_CHUNK):
            chunk = recipients[index : index + MULTICAST_CHUNK]
            targets.append((f"multicast-{index // MULTICAST_CHUNK + 1}", len(chunk)))
        return targets

    def _claim_due(self) -> None:
        """Move due queued messages to ``sending`` and create their deliveries, atomically."""
        now = self.now()
        with self.store._write() as conn:
            serialise(conn, self.store)
            due = conn.execute(
                select(line_messages)
                .where(line_messages.c.status == QUEUED, line_messages.c.due_at <= now)
                .order_by(line_messages.c.due_at)
            ).all()
            for row in due:
                targets = self._targets()
                if row.kind == KIND_STATUS and not row.items:
                    status, note = SKIPPED, "no net change"
                elif not targets:
                    status, note = FAILED, "no recipients configured (LINE_BROADCAST is off)"
                else:
                    status, note = SENDING, ""
                conn.execute(
                    update(line_messages)
                    .where(line_messages.c.message_key == row.message_key)
                    .values(status=status, updated_at=now, updated_by="system")
                )
                for target, count in targets if status == SENDING else []:
                    conn.execute(
                        insert(line_deliveries).values(
                            message_key=row.message_key,
                            target=target,
                            retry_key=str(uuid.uuid4()),
                            recipients=count,
                            status="pending",
                            attempts=0,
                            next_attempt_at=now,
                            request_id="",
                            last_error="",
                        )
                    )
                if note:
                    conn.execute(
                        insert(line_log).values(
                            at=now,
                            kind="message",
                            message_key=row.message_key,
                            target="",
                            attempt=0,
                            outcome=status,
                            status_code=0,
                            request_id="",
                            user_hash="",
                            detail=note,
                        )
                    )

    def _due_deliveries(self) -> list[tuple[str, str]]:
        with self.store._read() as conn:
            rows = conn.execute(
                select(line_deliveries.c.message_key, line_deliveries.c.target)
                .where(
                    line_deliveries.c.status == "pending",
                    line_deliveries.c.next_attempt_at <= self.now(),
                )
                .order_by(line_deliveries.c.next_attempt_at, line_deliveries.c.message_key)
            )
            return [(r.message_key, r.target) for r in rows]

    def _deliver(self, message_key: str, target: str) -> int:
        """One attempt at one delivery; the outcome is stored before anything else happens."""
        assert self.client is not None
        with self.store._read() as conn:
            row = conn.execute(
                select(line_deliveries, line_messages.c.text)
                .join(line_messages, line_messages.c.message_key == line_deliveries.c.message_key)
                .where(
                    line_deliveries.c.message_key == message_key,
                    line_deliveries.c.target == target,
                )
            ).one()
        if row.status != "pending":
            return 0
        attempt = row.attempts + 1
        messages = text_messages(row.text)
        if target == "broadcast":
            response = self.client.broadcast(messages, retry_key=row.retry_key)
        else:
            chunk = int(target.rsplit("-", 1)[1]) - 1
            to = self.settings.line_multicast_to[
                chunk * MULTICAST_CHUNK : (chunk + 1) * MULTICAST_CHUNK
            ]
            response = self.client.multicast(to, messages, retry_key=row.retry_key)
        now = self.now()
        if response.ok or response.already_accepted:
            outcome = "sent" if response.ok else "duplicate"
            self._finish_delivery(
                message_key,
                target,
                status="sent",
                attempt=attempt,
                now=now,
                request_id=response.request_id or response.accepted_request_id,
            )
            log.info("LINE %s of %s: %s (attempt %d)", target, message_key, outcome, attempt)
        elif response.retryable and attempt < MAX_ATTEMPTS:
            outcome = "retry"
            self._retry_later(
                message_key,
                target,
                attempt=attempt,
                at=now + backoff(attempt, retry_after=response.retry_after),
                error=response.error or f"HTTP {response.status}",
            )
            log.warning(
                "LINE %s of %s failed (%s); retrying later (attempt %d)",
                target,
                message_key,
                response.error or response.status,
                attempt,
            )
        else:
            outcome = "failed"
            self._finish_delivery(
                message_key,
                target,
                status="failed",
                attempt=attempt,
                now=now,
                request_id=response.request_id,
                error=response.error or f"HTTP {response.status}",
            )
            log.error(
                "LINE %s of %s failed for good: HTTP %s %s",
                target,
                message_key,
                response.status,
                response.error,
            )
        record(
            self.store,
            at=now,
            kind=target.split("-", 1)[0],
            message_key=message_key,
            target=target,
            attempt=attempt,
            outcome=outcome,
            status_code=response.status,
            request_id=response.request_id or response.accepted_request_id,
            detail=response.error,
        )
        return 1 if outcome in ("sent", "duplicate") else 0

    def _finish_delivery(
        self,
        message_key: str,
        target: str,
        *,
        status: str,
        attempt: int,
        now: datetime,
        request_id: str,
        error: str = "",
    ) -> None:
        """Mark one delivery done and, when it was the last, its message (one transaction)."""
        with self.store._write() as conn:
            serialise(conn, self.store)
            conn.execute(
                update(line_deliveries)
                .where(
                    line_deliveries.c.message_key == message_key,
                    line_deliveries.c.target == target,
                    line_deliveries.c.status == "pending",
                )
                .values(
                    status=status,
                    attempts=attempt,
                    sent_at=now if status == "sent" else None,
                    request_id=request_id[:64],
                    last_error=error[:300],
                )
            )
            states = [
                r.status
                for r in conn.execute(
                    select(line_deliveries.c.status).where(
                        line_deliveries.c.message_key == message_key
                    )
                )
            ]
            if "pending" not in states:
                final = SENT if all(s == "sent" for s in states) else FAILED
                conn.execute(
                    update(line_messages)
                    .where(
                        line_messages.c.message_key == message_key,
                        line_messages.c.status == SENDING,
                    )
                    .values(
                        status=final,
                        sent_at=now if final == SENT else None,
                        updated_at=now,
                        updated_by="system",
                    )
                )

    def _retry_later(
        self, message_key: str, target: str, *, attempt: int, at: datetime, error: str
    ) -> None:
        with self.store._write() as conn:
            conn.execute(
                update(line_deliveries)
                .where(
                    line_deliveries.c.message_key == message_key,
                    line_deliveries.c.target == target,
                    line_deliveries.c.status == "pending",
                )
                .values(attempts=attempt, next_attempt_at=at, last_error=error[:300])
            )

    def _cleanup(self) -> None:
        """Forget rate-limit windows and answered webhook ids older than a day.

        Rate windows only ever need the last minute; LINE stops redelivering long before a day.
        """
        with self.store._write() as conn:
            conn.execute(delete(line_rate).where(line_rate.c.window_start < self.now() - _DAY))
            conn.execute(
                delete(line_webhook_seen).where(line_webhook_seen.c.seen_at < self.now() - _DAY)
            )


_DAY = timedelta(days=1)
_HOUR = timedelta(hours=1)


class SenderThread(threading.Thread):
    """Runs a :class:`Sender` every ``interval`` seconds until :meth:`stop`.

    Every gunicorn worker may run one; the lease makes exactly one of them send.
    """

    def __init__(self, sender: Sender, *, interval: float = 2.0) -> None:
        super().__init__(name="line-sender", daemon=True)
        self.sender = sender
        self.interval = interval
        self._stopping = threading.Event()

    def run(self) -> None:
        """Loop until stopped; one failing round is logged and the next one tries again."""
        while not self._stopping.wait(self.interval):
            try:
                self.sender.run_once()
            except Exception:  # the sender must outlive a database hiccup
                log.exception("LINE sender round failed; trying again")
        try:
            self.sender.release_lease()
        except SQLAlchemyError:
            log.warning("LINE sender could not release its lease (it expires by itself)")

    def stop(self, *, timeout: float = 10.0) -> None:
        """Stop after the current round and give the lease up."""
        self._stopping.set()
        if self.is_alive():
            self.join(timeout)
