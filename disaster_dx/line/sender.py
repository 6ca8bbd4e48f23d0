"""Delivering the outbox: exactly one sender (a database lease) sends due messages.

Sending is idempotent across crashes and restarts. Each delivery gets a UUID retry key when it
is claimed, stored *before* the request goes out and sent as ``X-Line-Retry-Key``; the
delivery is marked sent in its own transaction afterwards. A worker killed between the two
retries with the same key, and LINE answers ``409`` ("already accepted") instead of sending
again, which counts as sent. Failures back off exponentially (honouring ``Retry-After``);
a message not delivered within ``LINE_MAX_DELAY_MINUTES`` expires rather than reaching
people hours late. :class:`SenderThread` is the in-app loop (a
:class:`disaster_dx.runtime.Service`); ``disaster-dx line run`` is the separate process.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import (
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import SQLAlchemyError

from disaster_dx import leases
from disaster_dx.config import Settings
from disaster_dx.leases import holder_name
from disaster_dx.line.client import LineClient, client_for
from disaster_dx.line.notify import collect
from disaster_dx.line.outbox import record
from disaster_dx.line.store import (
    EXPIRED,
    FAILED,
    KIND_STATUS,
    QUEUED,
    SENDING,
    SENT,
    SKIPPED,
    line_cursor,
    line_deliveries,
    line_log,
    line_messages,
    line_rate,
    line_webhook_seen,
    serialise,
)
from disaster_dx.line.text import text_messages
from disaster_dx.model import IncidentKind
from disaster_dx.store import (
    Store,
    incidents,
)

log = logging.getLogger(__name__)

#: Multicast takes at most this many user ids per request.
MULTICAST_CHUNK = 500

#: Delivery attempts before a message is marked failed, and the backoff between them.
MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(seconds=2)
BACKOFF_MAX = timedelta(minutes=5)
#: Only the holder of this lease sends (several gunicorn workers each run a sender thread).
LEASE_NAME = "line-sender"
LEASE_TTL = timedelta(seconds=30)


# ---------------------------------------------------------------------------------------------
# The sender
# ---------------------------------------------------------------------------------------------


def backoff(attempt: int, *, retry_after: float | None = None) -> timedelta:
    """Wait before attempt ``attempt + 1``: 2 s, 4 s, 8 s … at most 5 min, or LINE's ask."""
    delay: timedelta = min(BACKOFF_BASE * 2 ** max(attempt - 1, 0), BACKOFF_MAX)
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=min(retry_after, 3600)))
    return delay


#: A lease holder name that differs between hosts, processes and instances.
default_holder = holder_name


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
