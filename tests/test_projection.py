"""The live-state projection always equals the full fold, on SQLite and PostgreSQL.

Several writers (separate :class:`Store` objects, as separate workers or processes would have)
append random events to a live incident and a drill; readers with warm caches, cold caches
and "crashed" writers (whose cache and snapshots were not updated after their commit) must all
see exactly ``fold(every event)``. A read must cost the new events, not the log.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select

from disaster_dx.events import SHELTER_STATUS_REPORTED, Event, NewEvent, State, fold
from disaster_dx.model import IncidentKind
from disaster_dx.projection import StateProjection, state_snapshots
from disaster_dx.store import Store
from tests.strategies import new_events

ROOT = Path(__file__).resolve().parents[1]


def full_fold(store: Store, incident_id: str) -> State:
    """What the projection must equal: the fold of every event, from the log itself."""
    state = fold(store.iter_events(incident_id))
    return state if state.incident_id is not None else State(incident_id=incident_id)


def sibling(store: Store, *, every: int) -> Store:
    """Another store on the same database: another worker's pool and cache."""
    other = Store(store.url, schema=store.schema)
    other.projection = StateProjection(other, every=every)
    return other


STEPS = st.lists(
    st.tuples(
        st.integers(0, 2),  # which writer appends
        st.booleans(),  # to the drill (True) or the live incident
        st.lists(new_events(), min_size=1, max_size=3),  # one append (a bulk action: several)
        st.integers(0, 3),  # who reads next: writer 0-2, or 3 = a brand-new process
        st.booleans(),  # the writer "crashes" after its commit, before the cache/snapshot update
    ),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=STEPS, every=st.integers(1, 4))
def test_the_projection_equals_the_fold_for_every_writer_and_reader(
    store: Store, steps: list[tuple[int, bool, list[NewEvent], int, bool]], every: int
) -> None:
    store.projection = StateProjection(store, every=every)
    writers = [store, sibling(store, every=every), sibling(store, every=every)]
    try:
        live = store.create_incident("長期災害", kind=IncidentKind.LIVE, actor="test")
        drill = store.create_incident("訓練", kind=IncidentKind.DRILL, actor="test")
        for writer_no, to_drill, batch, reader_no, crashes in steps:
            writer = writers[writer_no]
            target = drill.incident_id if to_drill else live.incident_id
            if crashes:
                # The commit happens; then the process dies before it updates anything else.
                original = writer.projection.appended
                writer.projection.appended = lambda *_args: None  # type: ignore[method-assign]
                try:
                    writer.append(target, batch, actor=f"staff{writer_no}")
                finally:
                    writer.projection.appended = original  # type: ignore[method-assign]
                writer.projection.forget()
            else:
                writer.append(target, batch, actor=f"staff{writer_no}")
            if reader_no == 3:
                reader = sibling(store, every=every)
                try:
                    for incident_id in (live.incident_id, drill.incident_id):
                        assert reader.state(incident_id) == full_fold(store, incident_id)
                finally:
                    reader.dispose()
            else:
                reader = writers[reader_no]
                for incident_id in (live.incident_id, drill.incident_id):
                    assert reader.state(incident_id) == full_fold(store, incident_id)
        for writer in writers:
            for incident_id in (live.incident_id, drill.incident_id):
                assert writer.state(incident_id) == full_fold(store, incident_id)
        # "The state just after event n" — what the event log and the notifier use.
        events = store.events(live.incident_id)
        for n in range(len(events) + 1):
            expected = fold(events[:n]) if n else State(incident_id=live.incident_id)
            got = store.state_after(live.incident_id, n)
            assert got == (
                expected if expected.incident_id else State(incident_id=live.incident_id)
            )
    finally:
        for writer in writers[1:]:
            writer.dispose()


def _report(n: int) -> NewEvent:
    return NewEvent(
        SHELTER_STATUS_REPORTED,
        {"shelter_id": f"S{n % 139}", "evacuees": n % 400, "open_state": "open"},
    )


class EventCounter:
    """Counts the events a store reads from its log (the cost a projection must bound)."""

    def __init__(self, store: Store) -> None:
        self.count = 0
        self._iter = store.iter_events

        def counting(*args: Any, **kwargs: Any) -> Iterator[Event]:
            for event in self._iter(*args, **kwargs):
                self.count += 1
                yield event

        store.iter_events = counting  # type: ignore[method-assign]


def test_a_read_costs_the_new_events_not_the_log(store: Store) -> None:
    incident = store.create_incident("長期災害", kind=IncidentKind.LIVE, actor="test")
    for start in range(0, 3000, 500):
        store.append(
            incident.incident_id, [_report(n) for n in range(start, start + 500)], actor="a"
        )
    with store.engine.connect() as conn:
        snapshots = conn.execute(select(func.count()).select_from(state_snapshots)).scalar_one()
    assert snapshots == 6  # one per 500 events, written by the store after each append

    counter = EventCounter(store)
    assert store.state(incident.incident_id).seq == 3000
    assert counter.count == 0  # the cache was advanced by the appends themselves

    writer = Store(store.url, schema=store.schema)  # another worker writes three events
    try:
        writer.append(incident.incident_id, [_report(n) for n in range(3)], actor="b")
    finally:
        writer.dispose()
    state = store.state(incident.incident_id)
    assert counter.count == 3 and state.seq == 3003
    assert store.state(incident.incident_id) is state  # nothing new: no events read at all
    assert counter.count == 3

    fresh = Store(store.url, schema=store.schema)  # a new process: snapshot + tail
    try:
        fresh_counter = EventCounter(fresh)
        assert fresh.state(incident.incident_id) == full_fold(store, incident.incident_id)
        assert fresh_counter.count == 3
        # A past instant: snapshot + at most one snapshot interval of events.
        middle = store.events(incident.incident_id, after_seq=1700, limit=1)[0].at
        fresh_counter.count = 0
        fresh.state(incident.incident_id, until=middle)
        assert fresh_counter.count <= 500
    finally:
        fresh.dispose()


def test_missing_snapshots_are_rebuilt_and_never_change_an_answer(store: Store) -> None:
    incident = store.create_incident("長期災害", kind=IncidentKind.LIVE, actor="test")
    store.append(incident.incident_id, [_report(n) for n in range(1600)], actor="a")
    with store.engine.begin() as conn:  # a crash lost every snapshot
        conn.execute(delete(state_snapshots))
    store.projection.forget()
    assert store.state(incident.incident_id) == full_fold(store, incident.incident_id)
    with store.engine.connect() as conn:
        seqs = conn.execute(select(state_snapshots.c.seq).order_by(state_snapshots.c.seq))
        assert list(seqs.scalars()) == [500, 1000, 1500]  # the long read wrote them again


def test_a_failing_snapshot_write_never_fails_the_write(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    incident = store.create_incident("長期災害", kind=IncidentKind.LIVE, actor="test")

    def broken(_incident_id: str) -> int:
        raise OSError("disk full")

    monkeypatch.setattr(store.projection, "build_snapshots", broken)
    stored = store.append(incident.incident_id, [_report(n) for n in range(600)], actor="a")
    assert stored[-1].seq == 600
    assert store.state(incident.incident_id) == full_fold(store, incident.incident_id)


WRITER = """
import sys
from disaster_dx.events import NewEvent
from disaster_dx.store import Store
url, schema, incident_id, name = sys.argv[1:5]
store = Store(url, schema=schema or None)
for n in range(120):
    store.append(
        incident_id,
        [NewEvent("shelter.status_reported",
                  {"shelter_id": f"S{n % 7}", "evacuees": n, "public_note": name})],
        actor=name,
    )
    if n % 10 == 0:
        store.state(incident_id)
store.dispose()
"""


def test_processes_writing_at_once_all_agree_with_the_fold(store: Store) -> None:
    incident = store.create_incident("長期災害", kind=IncidentKind.LIVE, actor="test")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, store.url, store.schema or "", incident.incident_id, n],
            env=env,
        )
        for n in ("worker1", "worker2")
    ]
    while any(w.poll() is None for w in writers):
        # Reading while others write: every answer is a prefix of the log, folded exactly.
        state = store.state(incident.incident_id)
        if state.seq:
            assert state == fold(store.events(incident.incident_id, limit=state.seq))
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    assert store.state(incident.incident_id).seq == 240
    assert store.state(incident.incident_id) == full_fold(store, incident.incident_id)
