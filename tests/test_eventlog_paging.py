"""``/hq/log`` paged in the database: the same rows as the whole-log view, read a page at a time."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import disaster_dx.cameras  # noqa: F401  (registers camera.frame, a routine event type)
from disaster_dx import eventlog_paging as paging
from disaster_dx.bundled import BUNDLED_SHELTER_FILES
from disaster_dx.eventlog import LogRow, log_rows
from disaster_dx.eventlog_paging import LogFilter, log_page
from disaster_dx.events import Event, NewEvent
from disaster_dx.io.gsi import shelters_from_files
from disaster_dx.model import Shelter
from disaster_dx.store import Store, event_from_row
from disaster_dx.store import event_log as store_module  # where the store reads rows
from tests.common import camera_frame_payload

T0 = datetime(2026, 9, 1, 3, 0, tzinfo=UTC)
REPORT = "shelter.status_reported"
CORRECTION = "shelter.correction"
AREA = "area.outside_reported"
SHELTERS = ["E3920400009111", "E3920400014111", "E3920400021111"]
ACTORS = ["hq-tanaka", "hq-sato", "shelter-yamada"]


@cache
def master() -> dict[str, Shelter]:
    return {s.shelter_id: s for s in shelters_from_files(list(BUNDLED_SHELTER_FILES)).shelters}


def _random_event(rng: random.Random) -> NewEvent:
    roll = rng.random()
    if roll < 0.5:
        payload: dict[str, Any] = {"shelter_id": rng.choice(SHELTERS)}
        payload["evacuees"] = rng.randrange(0, 300)
        if rng.random() < 0.3:
            payload["open_state"] = rng.choice(["open", "closed", "preparing"])
        if rng.random() < 0.2:
            payload["needs"] = rng.sample(["water", "food", "blanket"], rng.randrange(3))
        if rng.random() < 0.2:
            payload["internal_note"] = rng.choice(["", "発電機の燃料残り2時間"])
        if rng.random() < 0.2:
            payload["reason"] = "桁違い"
            return NewEvent(CORRECTION, payload)
        return NewEvent(REPORT, payload)
    if roll < 0.6:
        return NewEvent(AREA, {"area": rng.choice(["十市", "稲生"]), "in_car": rng.randrange(40)})
    if roll < 0.68:
        title = rng.choice(["津波警報", "大津波警報"])
        return NewEvent("hazard.announced", {"hazard": "tsunami", "title": title})
    if roll < 0.72:
        return NewEvent("hazard.cleared", {"hazard": "tsunami"})
    if roll < 0.77:
        return NewEvent("incident.message", {"text": "給水車は14時着"})
    return NewEvent("camera.frame", camera_frame_payload())


def _grow(store: Store, incident_id: str, rng: random.Random, events: int) -> list[Event]:
    """Append about ``events`` random events in batches by random users, minutes apart."""
    now = [T0]
    store.clock = lambda: now[0]
    written: list[Event] = []
    while len(written) < events:
        batch = [_random_event(rng) for _ in range(rng.choice([1, 1, 2, 4]))]
        written += store.append(incident_id, batch, actor=rng.choice(ACTORS))
        now[0] += timedelta(minutes=rng.choice([0, 1, 5]))
    return written


def _filters(log: list[Event], rng: random.Random) -> list[LogFilter]:
    times = sorted(e.at for e in log)
    since, until = sorted(rng.choice(times) for _ in range(2))
    shelter, actor = rng.choice(SHELTERS), rng.choice(ACTORS)
    return [
        LogFilter(),
        LogFilter(skip_routine=True),
        LogFilter(shelter_id=shelter),
        LogFilter(actor=actor, skip_routine=True),
        LogFilter(actor=actor, shelter_id=shelter),
        LogFilter(types=frozenset([CORRECTION])),
        LogFilter(types=frozenset([CORRECTION, "hazard.cleared", AREA]), actor=actor),
        LogFilter(since=since, until=until, skip_routine=True),
        LogFilter(since=since, actor=actor),
        LogFilter(until=since, types=frozenset(["camera.frame", REPORT]), skip_routine=True),
    ]


def _whole(log: list[Event], where: LogFilter) -> list[LogRow]:
    """The rows the old view computed from every event, newest first."""
    rows = log_rows(
        log,
        master(),
        shelter_id=where.shelter_id,
        actor=where.actor,
        types=where.types,
        since=where.since,
        until=where.until,
        skip_routine=where.skip_routine,
    )
    return rows[::-1]


def _all_pages(store: Store, incident_id: str, where: LogFilter, size: int) -> list[LogRow]:
    """Every row, by following the "older" cursor from the newest page, then back "newer"."""
    page = log_page(store, incident_id, master(), where, size=size)
    assert page.newer is None
    pages = [page]
    while page.older is not None:
        page = log_page(store, incident_id, master(), where, before_seq=page.older, size=size)
        pages.append(page)
    # Back up again: each newer page is the one seen before it.
    for expected in reversed(pages[:-1]):
        assert page.newer is not None
        page = log_page(store, incident_id, master(), where, after_seq=page.newer, size=size)
        assert page.rows == expected.rows
    return [row for p in pages for row in p.rows]


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 10**6),
    size=st.integers(1, 12),
    every=st.integers(2, 40),
    batch=st.integers(1, 6),
    chunk=st.integers(1, 6),
    span=st.integers(0, 40),
)
def test_pages_are_the_rows_of_the_whole_log_under_every_filter(
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    seed: int,
    size: int,
    every: int,
    batch: int,
    chunk: int,
    span: int,
) -> None:
    # Tiny snapshot intervals, batches and spans, so a few dozen events take every path:
    # pages read in one query or subject by subject, snapshot restarts, busy subjects
    # falling back to state_after, and pages spanning snapshots.
    monkeypatch.setattr(store.projection, "every", every)
    monkeypatch.setattr(paging, "SUBJECT_BATCH", batch)
    monkeypatch.setattr(paging, "SUBJECT_CHUNK", chunk)
    monkeypatch.setattr(paging, "PAGE_SPAN_READ", span)
    monkeypatch.setattr(paging, "COUNT_CAP", 25)
    rng = random.Random(seed)
    incident_id = store.create_incident(f"訓練 {seed}", actor="hq-tanaka").incident_id
    log = _grow(store, incident_id, rng, rng.randrange(1, 70))
    if rng.random() < 0.3:
        store.projection.forget()  # a fresh worker: no cached state, snapshots only
    for where in _filters(log, rng):
        expected = _whole(log, where)
        assert _all_pages(store, incident_id, where, size) == expected, where
        first = log_page(store, incident_id, master(), where, size=size)
        assert (first.count, first.count_exact) == (
            min(len(expected), 25),
            len(expected) <= 25,
        ), where


def test_an_empty_or_unmatched_log_is_an_empty_page(store: Store) -> None:
    incident_id = store.create_incident("空", actor="hq").incident_id
    page = log_page(store, incident_id, master())
    assert (page.rows, page.older, page.newer, page.count, page.count_exact) == (
        (),
        None,
        None,
        0,
        True,
    )
    store.append(
        incident_id, [NewEvent(REPORT, {"shelter_id": SHELTERS[0], "evacuees": 1})], actor="hq"
    )
    assert log_page(store, incident_id, master(), LogFilter(actor="nobody")).rows == ()
    late = LogFilter(since=datetime(2100, 1, 1, tzinfo=UTC))
    assert log_page(store, incident_id, master(), late).count == 0


def test_a_cursor_past_the_end_shows_the_newest_page(store: Store) -> None:
    incident_id = store.create_incident("t", actor="hq").incident_id
    store.append(
        incident_id,
        [NewEvent(REPORT, {"shelter_id": SHELTERS[0], "evacuees": n}) for n in range(5)],
        actor="hq",
    )
    newest = log_page(store, incident_id, master(), size=2)
    assert [r.seq for r in newest.rows] == [5, 4] and newest.older == 4
    # A cursor from another filter that finds nothing: the newest page, not an empty one.
    assert log_page(store, incident_id, master(), before_seq=1, size=2).rows == newest.rows
    # The rows just newer than a cursor; fewer than a page newer: the newest page, full.
    newer = log_page(store, incident_id, master(), after_seq=2, size=2)
    assert ([r.seq for r in newer.rows], newer.newer, newer.older) == ([4, 3], 4, 3)
    assert log_page(store, incident_id, master(), after_seq=3, size=2).rows == newest.rows
    with pytest.raises(ValueError, match="not both"):
        log_page(store, incident_id, master(), before_seq=3, after_seq=1)


# -- reads are bounded by the page, not by the log ---------------------------------------------


@pytest.fixture
def events_read(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """How many event rows the store turned into events (every read of the log goes so)."""
    counter = [0]
    convert = event_from_row

    def counting(row: Any) -> Event:
        counter[0] += 1
        return convert(row)

    monkeypatch.setattr(store_module, "event_from_row", counting)
    monkeypatch.setattr(paging, "event_from_row", counting)
    yield counter


def _long_incident(store: Store, total: int) -> tuple[str, list[Event]]:
    """Reports on three shelters by three busy users, frames, and a user who writes rarely."""
    incident_id = store.create_incident("令和8年台風第10号", actor="hq").incident_id
    rng = random.Random(7)
    store.clock = lambda: T0
    written: list[Event] = []
    rare_at = 1000
    while len(written) < total:
        batch = []
        for _ in range(50):
            if rng.random() < 0.3:
                batch.append(NewEvent("camera.frame", camera_frame_payload()))
            else:
                payload = {"shelter_id": rng.choice(SHELTERS), "evacuees": rng.randrange(300)}
                batch.append(NewEvent(REPORT, payload))
        written += store.append(incident_id, batch, actor=rng.choice(ACTORS))
        if len(written) >= rare_at:
            payload = {"shelter_id": SHELTERS[0], "evacuees": len(written)}
            written += store.append(incident_id, [NewEvent(REPORT, payload)], actor="rare")
            rare_at += 1000
    return incident_id, written


def test_a_page_reads_a_bounded_number_of_events_however_long_the_log(
    store: Store, events_read: list[int]
) -> None:
    incident_id, log = _long_incident(store, 6000)
    rare_rows = [e for e in log if e.actor == "rare"]
    assert len(rare_rows) >= 5
    cases = [
        (LogFilter(skip_routine=True), None),
        (LogFilter(), None),
        (LogFilter(shelter_id=SHELTERS[1], skip_routine=True), None),
        (LogFilter(actor="hq-sato"), None),
        (LogFilter(types=frozenset([REPORT])), None),
        (LogFilter(actor="rare"), None),  # a few rows spread over the whole log
        (LogFilter(skip_routine=True), 3000),  # a page from the middle
    ]
    for where, before in cases:
        store.projection.forget()  # the state cache would hide the cost of the first page
        events_read[0] = 0
        page = log_page(store, incident_id, master(), where, before_seq=before, size=50)
        assert page.rows, where
        # One page and its neighbours' cursors, the state before it (a snapshot plus at most
        # SNAPSHOT_EVERY events), the subjects' events in between: a small part of the log.
        assert events_read[0] < 1_200, (where, events_read[0])
        expected = [r for r in _whole(log, where) if before is None or r.seq < before][:50]
        assert page.rows == tuple(expected), where
    store.projection.forget()
    events_read[0] = 0
    page = log_page(store, incident_id, master(), LogFilter(actor="rare"))
    assert len(page.rows) == page.count == len(rare_rows)
    # The rare user's rows lie 1,000 events apart: each costs a snapshot and a chunk or two of
    # that shelter's events, never the stretch of log between the rows.
    between = sum(
        1 for e in log if e.subject == f"shelter:{SHELTERS[0]}" and page.rows[-1].seq < e.seq
    )
    assert events_read[0] <= len(rare_rows) * (2 * paging.SUBJECT_CHUNK + 1)
    assert events_read[0] < between / 2


def test_a_snapshot_rebuilds_only_the_subjects_asked_for(store: Store) -> None:
    store.projection.every = 4
    incident_id = store.create_incident("t", actor="hq").incident_id
    _grow(store, incident_id, random.Random(3), 12)
    full = store.projection.snapshot_before(incident_id, 12)
    assert full is not None and full.seq == 12
    subject = f"shelter:{SHELTERS[0]}"
    part = store.projection.snapshot_before(incident_id, 12, only=[subject, "area:十市"])
    assert part is not None and part.seq == full.seq
    assert dict(part.shelters) == {k: v for k, v in full.shelters.items() if k == SHELTERS[0]}
    assert dict(part.areas) == {k: v for k, v in full.areas.items() if k == "十市"}
    assert part.hazards == full.hazards and part.messages == ()
    assert store.projection.snapshot_before(incident_id, 3) is None
