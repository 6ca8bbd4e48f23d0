"""Idempotency keys: a request sent twice (a retry, a phone back in coverage) is done once.

A client names each write with a key it makes once (``Idempotency-Key``). The first request
with a key *claims* it (a row in ``idempotency_keys``), does the write and stores its answer;
any later request with the same key and the same content gets that stored answer back and
writes nothing. The same key with different content is refused (:class:`KeyReused`): it is a
client bug, and guessing which one was meant would lose data.

Exactly once, across workers, hosts and restarts:

- the claim is one write transaction on the database (SQLite ``BEGIN IMMEDIATE``; PostgreSQL's
  primary key refuses the second insert), so two requests racing with one key never both run;
  the second waits for the first's answer;
- a successful write stores its answer *inside the transaction of its event append*
  (:meth:`Store.joined_to_appends`), so a crash leaves either both or neither: never an event
  whose retry would write it again;
- a claim carries a random token and a time limit; if its worker died, a retry takes the claim
  over once the limit has passed, and the dead worker's late commit (if it ever came) would
  find the token changed and roll back.

Answers that are not a write (refusals, conflicts, bad fields) are stored too, so a retry
sees the same refusal; an unexpected failure (database down) releases the claim, so the
client's next retry runs the request again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from disaster_dx.errors import DisasterDxError
from disaster_dx.events import Event
from disaster_dx.store import Store, UTCDateTime

log = logging.getLogger(__name__)

MAX_KEY_LENGTH = 200
#: A claim not finished within this time is taken to belong to a worker that died.
CLAIM_TIME = timedelta(seconds=30)
#: How long a duplicate waits for the first request with its key to finish.
WAIT_FOR_FIRST = timedelta(seconds=10)
#: Answers are kept this long: an offline phone may send its queue days later.
KEEP_FOR = timedelta(days=30)

idempotency_metadata = MetaData()

idempotency_table = Table(
    "idempotency_keys",
    idempotency_metadata,
    Column("username", String(64), primary_key=True),
    Column("key", String(MAX_KEY_LENGTH), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("claim", String(32)),
    Column("claimed_until", UTCDateTime),
    Column("status", Integer),
    Column("body", JSON),
    Column("created_at", UTCDateTime, nullable=False),
    Column("completed_at", UTCDateTime),
    Index("ix_idempotency_created", "created_at"),
)


class KeyReused(DisasterDxError):
    """The key was used before for a different request (the client must make a new key)."""


class KeyInProgress(DisasterDxError):
    """Another request with this key is still running; retry in a moment."""


@dataclass(frozen=True)
class Answer:
    """The answer to a keyed request: HTTP status and JSON body; ``replayed`` if stored before."""

    status: int
    body: Mapping[str, Any]
    replayed: bool = False


@dataclass(frozen=True)
class Claim:
    """A key held by this worker, which must finish or release it."""

    username: str
    key: str
    token: str = field(default_factory=lambda: secrets.token_hex(16))


def create_idempotency_tables(store: Store) -> None:
    """Create the key table if missing (idempotent; several workers may call it at once)."""
    store.create_tables(idempotency_metadata)


def fingerprint(method: str, path: str, body: Any) -> str:
    """A digest of what a request asks for: the same request always gives the same one."""
    canonical = json.dumps(
        [method.upper(), path, body], sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def check_key(key: str | None) -> str | None:
    """Why ``key`` cannot be used as an idempotency key, or ``None`` when it can."""
    if not key:
        return "is required on every POST: a new random value (e.g. a UUID) per report"
    if len(key) > MAX_KEY_LENGTH:
        return f"must be at most {MAX_KEY_LENGTH} characters, not {len(key)}"
    if not all(33 <= ord(c) < 127 for c in key):
        return "must be printable ASCII without spaces"
    return None


def begin(
    store: Store,
    username: str,
    key: str,
    digest: str,
    *,
    wait: timedelta = WAIT_FOR_FIRST,
    sleep: Callable[[float], None] = time.sleep,
) -> Answer | Claim:
    """Claim ``key`` for ``username``, or return the answer already stored for it.

    Raises
    ------
    KeyReused
        The key was used for a request with another fingerprint.
    KeyInProgress
        Another request with the key did not finish within ``wait``.
    """
    waited = 0.0
    while True:
        try:
            found = _claim_or_read(store, username, key, digest)
        except IntegrityError:
            found = None  # another worker inserted the same key just now: read it next time
        if found is not None:
            return found
        if waited >= wait.total_seconds():
            raise KeyInProgress(f"a request with idempotency key {key!r} is still running")
        sleep(0.1)
        waited += 0.1


def _claim_or_read(store: Store, username: str, key: str, digest: str) -> Answer | Claim | None:
    table = idempotency_table
    now = store.clock()
    with store._write() as conn:
        row = conn.execute(
            select(table).where(table.c.username == username, table.c.key == key).with_for_update()
        ).one_or_none()
        if row is None:
            conn.execute(delete(table).where(table.c.created_at < now - KEEP_FOR))
            claim = Claim(username, key)
            conn.execute(
                insert(table).values(
                    username=username,
                    key=key,
                    fingerprint=digest,
                    claim=claim.token,
                    claimed_until=now + CLAIM_TIME,
                    created_at=now,
                )
            )
            return claim
        if row.fingerprint != digest:
            raise KeyReused(
                f"idempotency key {key!r} was already used for a different request; "
                "make a new key for each new report"
            )
        if row.status is not None:
            return Answer(int(row.status), dict(row.body or {}), replayed=True)
        if row.claimed_until is not None and row.claimed_until < now:
            claim = Claim(username, key)
            log.warning("idempotency key %r of %s: taking over an expired claim", key, username)
            conn.execute(
                update(table)
                .where(table.c.username == username, table.c.key == key)
                .values(claim=claim.token, claimed_until=now + CLAIM_TIME)
            )
            return claim
    return None


def _store_answer(conn: Connection, claim: Claim, answer: Answer, now: Any) -> bool:
    table = idempotency_table
    done = conn.execute(
        update(table)
        .where(
            table.c.username == claim.username,
            table.c.key == claim.key,
            table.c.claim == claim.token,
            table.c.status.is_(None),
        )
        .values(
            status=answer.status,
            body=dict(answer.body),
            claim=None,
            claimed_until=None,
            completed_at=now,
        )
    )
    return done.rowcount == 1


def finish(store: Store, claim: Claim, answer: Answer) -> None:
    """Store the answer of a request that wrote nothing (a refusal, a conflict, bad fields)."""
    with store._write() as conn:
        if not _store_answer(conn, claim, answer, store.clock()):
            log.warning("idempotency key %r: claim lost before its answer was stored", claim.key)


def release(store: Store, claim: Claim) -> None:
    """Give a key back after an unexpected failure, so the client's retry runs again."""
    table = idempotency_table
    with store._write() as conn:
        conn.execute(
            delete(table).where(
                table.c.username == claim.username,
                table.c.key == claim.key,
                table.c.claim == claim.token,
                table.c.status.is_(None),
            )
        )


def run_once(
    store: Store,
    username: str,
    key: str,
    digest: str,
    write: Callable[[], object],
    *,
    respond: Callable[[list[Event]], Answer],
    refuse: Callable[[Exception], Answer | None],
) -> Answer:
    """Do ``write`` at most once for ``key``; always return the one answer for the key.

    ``write`` makes exactly one :meth:`Store.append` (e.g. :func:`disaster_dx.hq.report_status`)
    and returns the event (or events) it appended.
    ``respond`` turns the appended events into the answer, inside the append's transaction.
    ``refuse`` turns an exception ``write`` raised into a stored answer (a 4xx), or returns
    ``None`` for failures a retry may fix: the claim is then released and the error re-raised.
    """
    got = begin(store, username, key, digest)
    if isinstance(got, Answer):
        return got
    claim = got
    stored: list[Answer] = []

    def record(conn: Connection, events: list[Event]) -> None:
        if stored:
            raise DisasterDxError("a keyed request may make only one append")
        answer = respond(events)
        if not _store_answer(conn, claim, answer, store.clock()):
            raise KeyInProgress(f"idempotency key {key!r} was taken over; nothing written")
        stored.append(answer)

    try:
        with store.joined_to_appends(record):
            result = write()
    except Exception as exc:
        if isinstance(exc, KeyInProgress):
            raise
        answer = refuse(exc)
        if answer is None:
            try:
                release(store, claim)
            except Exception:  # the database may be the failure; the claim then times out
                log.warning("could not release idempotency key %r", key, exc_info=True)
            raise
        finish(store, claim, answer)
        return answer
    if stored:
        return stored[0]
    events = [result] if isinstance(result, Event) else result
    if isinstance(events, list) and events and all(isinstance(e, Event) for e in events):
        # The write committed through a path that does not run joined hooks: its answer is
        # stored right after (not atomically, but never a second write on a retry).
        log.error("keyed write to %s was not joined to its append's transaction", claim.key)
        answer = respond(events)
        finish(store, claim, answer)
        return answer
    release(store, claim)
    raise DisasterDxError("the keyed write appended nothing")
