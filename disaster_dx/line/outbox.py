"""HQ's control of LINE messages: preview, hold, release, cancel, announce; the delivery log.

Every action needs role ``hq`` and is audit-logged. The delivery log is what HQ sees of
sending (attempts, outcomes, LINE request ids, keyed hashes of user ids, never raw ids).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    case,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from disaster_dx.auth import Role, User
from disaster_dx.config import Settings
from disaster_dx.errors import (
    DisasterDxError,
    NotFoundError,
    NotPermitted,
    Problem,
    ValidationError,
)
from disaster_dx.line.store import (
    CANCELLED,
    HELD,
    KIND_ANNOUNCEMENT,
    QUEUED,
    STATUS_LABELS,
    line_log,
    line_messages,
    serialise,
)
from disaster_dx.line.text import announcement_text
from disaster_dx.model import OpenState
from disaster_dx.store import (
    Store,
    read_city,
)

log = logging.getLogger(__name__)

#: The longest announcement HQ may type (the link footer is added after it).
MAX_ANNOUNCEMENT = 2000


# ---------------------------------------------------------------------------------------------
# HQ control: preview, hold, release, cancel, announce; the outbox and the delivery log
# ---------------------------------------------------------------------------------------------


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
