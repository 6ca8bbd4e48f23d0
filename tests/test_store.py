"""Store behaviour, run unchanged on SQLite and PostgreSQL (the ``store`` fixture's two params)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from disaster_dx.errors import ConflictError, NotFoundError, PayloadError
from disaster_dx.events import NewEvent
from disaster_dx.model import Hazard, IncidentKind, OpenState, Shelter, ShelterKind
from disaster_dx.store import Store, subject_for_shelter

REPORT = "shelter.status_reported"


def shelter(sid: str, name: str = "稲生小学校", **changes: object) -> Shelter:
    values: dict[str, object] = {
        "shelter_id": sid,
        "name": name,
        "address": "高知県南国市稲生561-1",
        "lon": 133.62369,
        "lat": 33.546843,
        "kinds": frozenset({ShelterKind.DESIGNATED, ShelterKind.EMERGENCY}),
        "hazards": frozenset({Hazard.TSUNAMI, Hazard.EARTHQUAKE}),
        "gsi_ids": (sid,),
        "capacity": 300,
        "municipality_code": "392049",
        "source": {sid: {"施設・場所名": name}},
    }
    values.update(changes)
    return Shelter(**values)  # type: ignore[arg-type]


def test_schema_creation_is_idempotent(store: Store) -> None:
    store.create_schema()
    store.create_schema()
    assert store.incidents() == []


def test_append_assigns_gapless_seq_and_keeps_actor(store: Store) -> None:
    incident = store.create_incident("訓練でない実災害", actor="admin")
    first = store.append(
        incident.incident_id,
        [NewEvent(REPORT, {"shelter_id": "S1", "open_state": "open", "evacuees": 3})],
        actor="hq-tanaka",
    )
    second = store.append(
        incident.incident_id,
        [
            NewEvent(REPORT, {"shelter_id": "S2", "open_state": "preparing"}),
            NewEvent(REPORT, {"shelter_id": "S1", "evacuees": 12}),
        ],
        actor="hq-suzuki",
    )
    assert [e.seq for e in first + second] == [1, 2, 3]
    stored = store.events(incident.incident_id)
    assert [(e.seq, e.actor, e.subject) for e in stored] == [
        (1, "hq-tanaka", "shelter:S1"),
        (2, "hq-suzuki", "shelter:S2"),
        (3, "hq-suzuki", "shelter:S1"),
    ]
    assert all(e.at.tzinfo is not None for e in stored)
    assert store.last_seq(incident.incident_id) == 3
    state = store.state(incident.incident_id)
    assert state.shelter("S1").evacuees == 12
    assert state.shelter("S1").open_state is OpenState.OPEN
    assert state.shelter("S1").version == 3


def test_japanese_text_round_trips(store: Store) -> None:
    incident = store.create_incident("台風第10号", actor="admin")
    note = "毛布が足りません。<script>alert(1)</script>"
    store.append(
        incident.incident_id,
        [NewEvent(REPORT, {"shelter_id": "S1", "public_note": note})],
        actor="hq",
    )
    assert store.state(incident.incident_id).shelter("S1").public_note == note


def test_invalid_payload_writes_nothing(store: Store) -> None:
    incident = store.create_incident("t", actor="admin")
    with pytest.raises(PayloadError) as caught:
        store.append(
            incident.incident_id,
            [
                NewEvent(REPORT, {"shelter_id": "S1", "evacuees": 5}),
                NewEvent(REPORT, {"shelter_id": "S1", "evacuees": -1}),
            ],
            actor="hq",
        )
    assert "evacuees" in str(caught.value)
    assert store.events(incident.incident_id) == []
    assert store.last_seq(incident.incident_id) == 0


def test_stale_expected_version_is_refused_with_newer_values(store: Store) -> None:
    incident = store.create_incident("t", actor="admin")
    subject = subject_for_shelter("S1")
    store.append(
        incident.incident_id,
        [NewEvent(REPORT, {"shelter_id": "S1", "open_state": "open", "evacuees": 10})],
        actor="a",
        expected={subject: 0},
    )
    store.append(
        incident.incident_id,
        [NewEvent(REPORT, {"shelter_id": "S1", "evacuees": 120})],
        actor="b",
        expected={subject: 1},
    )
    with pytest.raises(ConflictError) as caught:
        store.append(
            incident.incident_id,
            [NewEvent(REPORT, {"shelter_id": "S1", "evacuees": 15})],
            actor="a",
            expected={subject: 1},
        )
    assert caught.value.expected == 1
    assert caught.value.actual == 2
    assert caught.value.current["evacuees"] == 120
    assert caught.value.current["reported_by"] == "b"
    assert store.state(incident.incident_id).shelter("S1").evacuees == 120


def test_two_concurrent_writers_one_wins_one_conflicts(store: Store) -> None:
    """Both read version 0, then both write at once: exactly one lands, nothing is lost."""
    incident = store.create_incident("t", actor="admin")
    subject = subject_for_shelter("S1")
    other = Store(store.url, schema=store.schema)
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def writer(name: str, target: Store, evacuees: int) -> None:
        seen = target.state(incident.incident_id).version_of(subject)
        barrier.wait()
        try:
            target.append(
                incident.incident_id,
                [NewEvent(REPORT, {"shelter_id": "S1", "evacuees": evacuees})],
                actor=name,
                expected={subject: seen},
            )
            results[name] = "ok"
        except ConflictError as exc:
            results[name] = exc

    threads = [
        threading.Thread(target=writer, args=("a", store, 50)),
        threading.Thread(target=writer, args=("b", other, 70)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    other.dispose()
    assert sorted(type(r).__name__ for r in results.values()) == ["ConflictError", "str"]
    events = store.events(incident.incident_id)
    assert len(events) == 1
    winner = events[0].actor
    loser_error = results["b" if winner == "a" else "a"]
    assert isinstance(loser_error, ConflictError)
    assert loser_error.current["evacuees"] == events[0].payload["evacuees"]


def test_many_concurrent_appends_keep_seq_gapless(store: Store) -> None:
    incident = store.create_incident("t", actor="admin")
    stores = [Store(store.url, schema=store.schema) for _ in range(4)]

    def burst(target: Store, n: int) -> None:
        for i in range(10):
            target.append(
                incident.incident_id,
                [NewEvent(REPORT, {"shelter_id": f"S{n}", "evacuees": i})],
                actor=f"w{n}",
            )

    threads = [threading.Thread(target=burst, args=(s, n)) for n, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for target in stores:
        target.dispose()
    assert [e.seq for e in store.events(incident.incident_id)] == list(range(1, 41))


def test_event_times_never_run_backwards(store: Store) -> None:
    times = iter(
        [
            datetime(2026, 9, 1, 3, 0, tzinfo=UTC),  # create_incident
            datetime(2026, 9, 1, 3, 10, tzinfo=UTC),
            datetime(2026, 9, 1, 3, 5, tzinfo=UTC),  # a clock that stepped back
        ]
    )
    store.clock = lambda: next(times)
    incident = store.create_incident("t", actor="admin")
    for n in (1, 2):
        store.append(
            incident.incident_id,
            [NewEvent(REPORT, {"shelter_id": "S1", "evacuees": n})],
            actor="hq",
        )
    ats = [e.at for e in store.events(incident.incident_id)]
    assert ats == sorted(ats)


def test_state_at_an_instant(store: Store) -> None:
    base = datetime(2026, 9, 1, 3, 0, tzinfo=UTC)
    ticks = iter(base + timedelta(minutes=m) for m in range(100))
    store.clock = lambda: next(ticks)
    incident = store.create_incident("t", actor="admin")  # 03:00
    for evacuees in (10, 20, 30):  # 03:01, 03:02, 03:03
        store.append(
            incident.incident_id,
            [NewEvent(REPORT, {"shelter_id": "S1", "open_state": "open", "evacuees": evacuees})],
            actor="hq",
        )
    at_0230 = store.state(incident.incident_id, until=base + timedelta(minutes=2, seconds=30))
    assert at_0230.shelter("S1").evacuees == 20
    assert store.state(incident.incident_id, until=base).shelter("S1").evacuees is None
    assert store.state(incident.incident_id).shelter("S1").evacuees == 30


def test_unknown_or_closed_incident_refuses_writes(store: Store) -> None:
    event = NewEvent(REPORT, {"shelter_id": "S1", "evacuees": 1})
    with pytest.raises(NotFoundError):
        store.append("nope", [event], actor="hq")
    incident = store.create_incident("t", actor="admin")
    store.close_incident(incident.incident_id, actor="admin")
    with pytest.raises(NotFoundError, match="closed"):
        store.append(incident.incident_id, [event], actor="hq")


def test_live_incident_is_created_once(store: Store) -> None:
    first = store.live_incident()
    assert store.live_incident().incident_id == first.incident_id
    drill = store.create_incident("津波訓練", kind=IncidentKind.DRILL, actor="drill")
    assert drill.is_drill
    assert store.live_incident().incident_id == first.incident_id


def test_replace_shelters_reports_changes_and_is_idempotent(store: Store) -> None:
    first = store.replace_shelters(
        [shelter("E1"), shelter("E2", "北陵中学校")], source="a.geojson", actor="import"
    )
    assert (sorted(first.added), first.changed, first.removed) == (["E1", "E2"], [], [])
    again = store.replace_shelters(
        [shelter("E1"), shelter("E2", "北陵中学校")], source="a.geojson", actor="import"
    )
    assert (again.added, again.changed, again.removed, again.unchanged) == ([], [], [], 2)
    third = store.replace_shelters(
        [shelter("E1", "稲生小学校（体育館）"), shelter("E3")], source="b.geojson", actor="import"
    )
    assert (third.added, third.changed, third.removed) == (["E3"], ["E1"], ["E2"])
    assert [s.shelter_id for s in store.shelters()] == ["E1", "E3"]
    assert [s.shelter_id for s in store.shelters(include_inactive=True)] == ["E1", "E2", "E3"]
    assert store.shelter("E1").name == "稲生小学校（体育館）"
    assert store.shelter("E1").hazards == frozenset({Hazard.TSUNAMI, Hazard.EARTHQUAKE})
    assert len(store.import_history()) == 3


def test_reimport_keeps_site_id_when_a_gsi_id_matches(store: Store) -> None:
    store.replace_shelters([shelter("E2", gsi_ids=("E2",))], source="a", actor="import")
    report = store.replace_shelters(
        [shelter("E1", gsi_ids=("E1", "E2"))], source="b", actor="import"
    )
    assert report.changed == ["E2"]
    assert [s.gsi_ids for s in store.shelters()] == [("E1", "E2")]


def test_crash_mid_import_leaves_previous_master_intact(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.replace_shelters([shelter("E1"), shelter("E2")], source="a", actor="import")
    import disaster_dx.store.reference as store_module  # where replace_shelters looks it up

    real_row = store_module._shelter_row
    calls = {"n": 0}

    def failing_row(*args: object, **kwargs: object) -> dict[str, object]:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk went away mid-import")
        return real_row(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store_module, "_shelter_row", failing_row)
    with pytest.raises(OSError):
        store.replace_shelters(
            [shelter("E1", "変更後"), shelter("E4"), shelter("E5")], source="b", actor="import"
        )
    monkeypatch.undo()
    assert [(s.shelter_id, s.name) for s in store.shelters()] == [
        ("E1", "稲生小学校"),
        ("E2", "稲生小学校"),
    ]
    assert len(store.import_history()) == 1


def test_naive_datetimes_are_refused(store: Store) -> None:
    store.clock = lambda: datetime(2026, 1, 1)  # naive: a programming error
    with pytest.raises(Exception, match="naive"):
        store.create_incident("t", actor="admin")


def test_workers_starting_together_share_one_live_incident_and_master(store: Store) -> None:
    """Gunicorn workers all run first-start set-up at once: one incident, one import wins."""
    from disaster_dx.bundled import ensure_initialised

    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def start() -> None:
        try:
            barrier.wait()
            ensure_initialised(store, actor="worker")
            store.live_incident(actor="worker")
        except BaseException as exc:  # collected and re-raised by the test
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len([i for i in store.incidents() if i.closed_at is None]) == 1
    assert len(store.shelters()) == 139


def test_listeners_hear_committed_appends_and_cannot_break_them(store: Store) -> None:
    incident = store.live_incident()
    heard: list[tuple[str, list[int]]] = []
    store.add_listener(lambda iid, events: heard.append((iid, [e.seq for e in events])))

    def broken(_incident_id: str, _events: list) -> None:
        raise RuntimeError("listener bug")

    store.add_listener(broken)
    good = NewEvent(REPORT, {"shelter_id": "E1", "evacuees": 3})
    store.append(incident.incident_id, [good], actor="hq1")
    bad = NewEvent(REPORT, {"shelter_id": "E1", "evacuees": -1})
    with pytest.raises(PayloadError):
        store.append(incident.incident_id, [bad], actor="hq1")
    assert heard == [(incident.incident_id, [1])]
    assert store.state(incident.incident_id).shelter("E1").evacuees == 3


def test_a_transaction_saves_several_writes_together_or_none(store: Store) -> None:
    incident = store.create_incident("記録", actor="admin")
    heard: list[list[int]] = []
    store.add_listener(lambda _iid, events: heard.append([e.seq for e in events]))
    report = NewEvent(REPORT, {"shelter_id": "T1", "evacuees": 5})

    with pytest.raises(RuntimeError, match="after the writes"), store.transaction():
        store.append(incident.incident_id, [report], actor="hq1")
        store.close_incident(incident.incident_id, actor="hq1")
        # Inside the transaction its own writes are visible ...
        assert store.incident(incident.incident_id).closed_at is not None
        raise RuntimeError("a failure after the writes")
    # ... and after the failure none of them is: no event, incident open, nobody told.
    assert store.events(incident.incident_id) == []
    assert store.incident(incident.incident_id).closed_at is None
    assert "T1" not in store.state(incident.incident_id).shelters
    assert heard == []

    with store.transaction() as conn:
        store.append(incident.incident_id, [report], actor="hq1")
        with store.transaction() as inner:  # a block inside another joins it
            assert inner is conn
            second = NewEvent(REPORT, {"shelter_id": "T1", "evacuees": 7})
            store.append(incident.incident_id, [second], actor="hq1")
        assert heard == []  # listeners hear only committed events
    assert heard == [[1], [2]]
    assert store.state(incident.incident_id).shelter("T1").evacuees == 7
    assert [e.seq for e in store.events(incident.incident_id)] == [1, 2]


def test_another_thread_does_not_join_a_transaction(store: Store) -> None:
    incident = store.create_incident("記録", actor="admin")
    outside: list[BaseException] = []

    def write_elsewhere() -> None:
        try:
            other = NewEvent(REPORT, {"shelter_id": "T2", "evacuees": 1})
            store.append(incident.incident_id, [other], actor="hq2")
        except BaseException as exc:  # reported below
            outside.append(exc)

    with pytest.raises(RuntimeError), store.transaction():
        store.append(
            incident.incident_id,
            [NewEvent(REPORT, {"shelter_id": "T1", "evacuees": 5})],
            actor="hq1",
        )
        thread = threading.Thread(target=write_elsewhere)
        thread.start()
        raise RuntimeError("roll back only this thread's writes")
    thread.join(timeout=30)
    assert outside == []
    # The other thread's write waited for the lock and committed on its own.
    assert [e.subject for e in store.events(incident.incident_id)] == ["shelter:T2"]
