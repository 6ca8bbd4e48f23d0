"""Database leases: one holder at a time, take-over after expiry, hand-back, no double claims."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from disaster_dx import leases
from disaster_dx.store import Store

T0 = datetime(2026, 9, 1, 3, 0, tzinfo=UTC)
TTL = timedelta(seconds=30)


def test_one_holder_until_it_expires_or_hands_back(store: Store) -> None:
    leases.create_lease_table(store)
    leases.create_lease_table(store)  # idempotent
    assert leases.lease(store, "line-sender") is None
    assert leases.acquire_one(store, "line-sender", "a", T0, ttl=TTL)
    assert not leases.acquire_one(store, "line-sender", "b", T0 + timedelta(seconds=29), ttl=TTL)
    # The holder renews: the lease moves on, so b still waits.
    assert leases.acquire_one(store, "line-sender", "a", T0 + timedelta(seconds=20), ttl=TTL)
    assert not leases.acquire_one(store, "line-sender", "b", T0 + timedelta(seconds=40), ttl=TTL)
    current = leases.lease(store, "line-sender")
    assert current is not None and current.holder == "a"
    assert current.expires_at == T0 + timedelta(seconds=50)
    # a died: b takes over once the lease ran out.
    assert leases.acquire_one(store, "line-sender", "b", T0 + timedelta(seconds=51), ttl=TTL)
    assert not leases.acquire_one(store, "line-sender", "a", T0 + timedelta(seconds=52), ttl=TTL)
    # A clean stop hands back at once.
    leases.release(store, "b")
    assert leases.acquire_one(store, "line-sender", "a", T0 + timedelta(seconds=53), ttl=TTL)


def test_many_names_are_claimed_together_and_released_by_prefix(store: Store) -> None:
    leases.create_lease_table(store)
    names = ["camera:coast", "camera:river", "camera:coast"]
    assert leases.acquire(store, names, "poller-1", T0, ttl=TTL) == {"camera:coast", "camera:river"}
    assert leases.acquire_one(store, "drill-scheduler", "poller-1", T0, ttl=TTL)
    assert leases.acquire(store, ["camera:river", "camera:town"], "poller-2", T0, ttl=TTL) == {
        "camera:town"
    }
    leases.release(store, "poller-1", prefix="camera:")
    held = leases.leases(store, prefix="camera:")
    assert {n: lease.holder for n, lease in held.items()} == {
        "camera:coast": None,
        "camera:river": None,
        "camera:town": "poller-2",
    }
    assert leases.lease(store, "drill-scheduler").holder == "poller-1"  # other kinds stay
    # A prefix is literal text, not a LIKE pattern.
    assert leases.leases(store, prefix="camera_") == {}


def test_racing_holders_never_both_get_a_lease(store: Store) -> None:
    leases.create_lease_table(store)
    winners: list[str] = []
    start = threading.Barrier(6)

    def claim(holder: str) -> None:
        start.wait()
        if leases.acquire_one(store, "drill-scheduler", holder, T0, ttl=TTL):
            winners.append(holder)

    threads = [threading.Thread(target=claim, args=(f"h{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(winners) == 1
    assert leases.lease(store, "drill-scheduler").holder == winners[0]


def test_holder_names_differ_between_instances_and_fit_the_column() -> None:
    names = {leases.holder_name() for _ in range(20)}
    assert len(names) == 20
    column = leases.leases_table.c.holder.type.length
    assert all(len(name) <= column for name in names)
