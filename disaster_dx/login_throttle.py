"""Login throttling that slows guessers without letting strangers lock staff out.

Failures are counted twice, in the database so every app worker sees the same numbers:

- per *(account, client)*: a client that keeps guessing one account waits longer and longer;
- per *client* (all accounts): one client spraying many names waits too.

There is deliberately no counter per account alone: failures from other addresses never slow
the real user on their own client (an attacker who knows a staff name could otherwise keep
that person out during a disaster). Each counter allows a few free failures, then every
further attempt must wait ``base_delay × 2^(failures − free)`` after the last failure, capped
at ``max_delay``; a counter untouched for ``forget_after`` starts again from zero.

Exactly as many passwords are checked as the limits allow, even under concurrent attempts: an
attempt *reserves* its check by counting itself as a failure in one write transaction holding
the counters' rows (PostgreSQL ``SELECT … FOR UPDATE``, SQLite ``BEGIN IMMEDIATE``), and a
correct password gives the reservation back afterwards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, Index, Integer, MetaData, String, Table, and_, delete, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from disaster_dx.store import Store, UTCDateTime

throttle_metadata = MetaData()

#: The per-client counter's ``account``: no staff name is empty (names are 2-64 characters).
ANY_ACCOUNT = ""

login_throttle_table = Table(
    "login_throttle",
    throttle_metadata,
    Column("account", String(64), primary_key=True),
    Column("client", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failure_at", UTCDateTime, nullable=False),
    Index("ix_login_throttle_last_failure_at", "last_failure_at"),
)


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failures are free and how the wait grows after them."""

    free_per_account_client: int = 5
    free_per_client: int = 20
    base_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(minutes=15)
    forget_after: timedelta = timedelta(hours=24)

    def wait_after(self, failures: int, free: int) -> timedelta:
        """How long after the last failure the next attempt must wait (zero while free)."""
        if failures < free:
            return timedelta(0)
        doublings = min(failures - free, 32)  # 2^32 × 30 s is far past any cap
        return min(self.max_delay, self.base_delay * (1 << doublings))


DEFAULT_POLICY = ThrottlePolicy()


@dataclass(frozen=True)
class Throttled:
    """An attempt refused before any password check: wait ``retry_after``."""

    retry_after: timedelta
    #: ``"account"`` (this client guessed this account) or ``"client"`` (many accounts).
    scope: str

    @property
    def minutes(self) -> int:
        """The wait in whole minutes, rounded up (at least 1), for people to read."""
        return max(1, math.ceil(self.retry_after.total_seconds() / 60))


def reserve_check(
    store: Store, account: str, client: str, *, policy: ThrottlePolicy = DEFAULT_POLICY
) -> Throttled | None:
    """Reserve one password check for ``account`` from ``client``, or say how long to wait.

    The reservation counts as a failure until :func:`record_success` gives it back, so
    concurrent attempts cannot all slip in before the first one's failure is written.
    """
    account, client = _key(account), _key(client)
    now = store.clock()
    keys = [(ANY_ACCOUNT, client), (account, client)]
    free = {keys[0]: policy.free_per_client, keys[1]: policy.free_per_account_client}
    forgotten_before = now - policy.forget_after
    _forget_old(store, forgotten_before)
    with store._write() as conn:
        rows = {  # a counter quiet long enough starts afresh
            key: (0 if last < forgotten_before else failures, last)
            for key, (failures, last) in _locked_rows(conn, store.dialect, keys, now).items()
        }
        waits: list[tuple[timedelta, str]] = []
        for key in keys:
            failures, last = rows[key]
            wait = policy.wait_after(failures, free[key])
            if failures and now < last + wait:
                waits.append((last + wait - now, "client" if key[0] == ANY_ACCOUNT else "account"))
        if waits:
            # Counters made just now for this refusal hold nothing: leave no empty rows.
            conn.execute(
                delete(login_throttle_table)
                .where(or_(*(_is(key) for key in keys)))
                .where(login_throttle_table.c.failures == 0)
            )
            retry_after, scope = max(waits)
            return Throttled(retry_after=retry_after, scope=scope)
        for key in keys:
            conn.execute(
                login_throttle_table.update()
                .where(_is(key))
                .values(failures=rows[key][0] + 1, last_failure_at=now)
            )
    return None


def record_success(store: Store, account: str, client: str) -> None:
    """Give back a reservation that found the right password.

    The (account, client) counter starts again from zero; the client's counter only loses this
    one reservation, so an insider cannot wipe the failures they made on other names by
    logging in to their own account.
    """
    account, client = _key(account), _key(client)
    with store._write() as conn:
        conn.execute(delete(login_throttle_table).where(_is((account, client))))
        conn.execute(
            login_throttle_table.update()
            .where(_is((ANY_ACCOUNT, client)))
            .where(login_throttle_table.c.failures > 0)
            .values(failures=login_throttle_table.c.failures - 1)
        )


def clear_account(store: Store, account: str, *, client: str | None = None) -> int:
    """Forget every failure counted against ``account`` (and ``client``'s own counter if given).

    For ``disaster-dx user unlock``; returns how many counters were cleared.
    """
    condition = login_throttle_table.c.account == _key(account)
    if client is not None:
        condition = or_(condition, _is((ANY_ACCOUNT, _key(client))))
    with store._write() as conn:
        return int(conn.execute(delete(login_throttle_table).where(condition)).rowcount)


def failures_for(store: Store, account: str) -> dict[str, int]:
    """Client → failures counted against ``account`` (for the CLI and tests)."""
    with store._read() as conn:
        rows = conn.execute(
            select(login_throttle_table.c.client, login_throttle_table.c.failures).where(
                login_throttle_table.c.account == _key(account)
            )
        )
        return {r.client: r.failures for r in rows}


def _forget_old(store: Store, before: datetime) -> None:
    """Delete counters quiet since ``before`` (housekeeping; correctness does not need it).

    Its own short transaction that skips rows another attempt holds (PostgreSQL
    ``SKIP LOCKED``), so it never waits and can never deadlock with a reservation.
    """
    table = login_throttle_table
    with store._write() as conn:
        old = conn.execute(
            select(table.c.account, table.c.client)
            .where(table.c.last_failure_at < before)
            .limit(500)
            .with_for_update(skip_locked=True)
        ).all()
        if old:
            conn.execute(delete(table).where(or_(*(_is((r.account, r.client)) for r in old))))


def _key(value: str) -> str:
    return value[:64]


def _is(key: tuple[str, str]) -> Any:
    return and_(login_throttle_table.c.account == key[0], login_throttle_table.c.client == key[1])


def _locked_rows(
    conn: Connection, dialect: str, keys: list[tuple[str, str]], now: datetime
) -> dict[tuple[str, str], tuple[int, datetime]]:
    """The counters of ``keys``, created at zero if missing and locked until commit.

    Rows are created and locked in key order, so two attempts never wait for each other in
    opposite orders (no deadlock on PostgreSQL).
    """
    ordered = sorted(keys)
    make = pg_insert if dialect == "postgresql" else sqlite_insert
    conn.execute(
        make(login_throttle_table)
        .values(
            [{"account": a, "client": c, "failures": 0, "last_failure_at": now} for a, c in ordered]
        )
        .on_conflict_do_nothing()
    )
    query = (
        select(login_throttle_table)
        .where(or_(*(_is(key) for key in ordered)))
        .order_by(login_throttle_table.c.account, login_throttle_table.c.client)
        .with_for_update()
    )
    return {(r.account, r.client): (r.failures, r.last_failure_at) for r in conn.execute(query)}
