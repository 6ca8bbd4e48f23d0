"""Idempotency keys on both engines: one write per key, whatever races, crashes or restarts."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from disaster_dx import idempotency
from disaster_dx.errors import ConflictError, DisasterDxError
from disaster_dx.events import SHELTER_STATUS_REPORTED, NewEvent
from disaster_dx.idempotency import Answer, Claim, KeyInProgress, KeyReused
from disaster_dx.store import Store, subject_for_shelter

SCHOOL_ID = "E3920400009111"


@pytest.fixture
def keyed_store(store: Store) -> Store:
    idempotency.create_idempotency_tables(store)
    return store


def _report(store: Store, incident_id: str, evacuees: int, *, seen: int | None = None) -> object:
    expected = None if seen is None else {subject_for_shelter(SCHOOL_ID): seen}
    return store.append(
        incident_id,
        [NewEvent(SHELTER_STATUS_REPORTED, {"shelter_id": SCHOOL_ID, "evacuees": evacuees})],
        actor="tanaka",
        expected=expected,
    )


def _respond(events: list) -> Answer:
    return Answer(201, {"version": events[0].seq})


def _refuse(exc: Exception) -> Answer | None:
    if isinstance(exc, ConflictError):
        return Answer(409, {"current_version": exc.actual})
    return None


def test_the_same_key_writes_once_and_returns_the_stored_answer(keyed_store: Store) -> None:
    incident = keyed_store.live_incident().incident_id
    digest = idempotency.fingerprint("POST", "/x", {"evacuees": 5})

    def once() -> Answer:
        return idempotency.run_once(
            keyed_store,
            "tanaka",
            "key-1",
            digest,
            lambda: _report(keyed_store, incident, 5),
            respond=_respond,
            refuse=_refuse,
        )

    first, second = once(), once()
    assert first == Answer(201, {"version": 1})
    assert second == Answer(201, {"version": 1}, replayed=True)
    assert len(keyed_store.events(incident)) == 1
    # Keys belong to their user: another user's identical key is a new request.
    other = idempotency.run_once(
        keyed_store,
        "suzuki",
        "key-1",
        digest,
        lambda: _report(keyed_store, incident, 5),
        respond=_respond,
        refuse=_refuse,
    )
    assert other == Answer(201, {"version": 2})


def test_a_key_reused_for_another_request_is_refused(keyed_store: Store) -> None:
    incident = keyed_store.live_incident().incident_id
    idempotency.run_once(
        keyed_store,
        "tanaka",
        "k",
        idempotency.fingerprint("POST", "/x", {"evacuees": 5}),
        lambda: _report(keyed_store, incident, 5),
        respond=_respond,
        refuse=_refuse,
    )
    with pytest.raises(KeyReused, match="different request"):
        idempotency.begin(
            keyed_store, "tanaka", "k", idempotency.fingerprint("POST", "/x", {"evacuees": 6})
        )
    assert len(keyed_store.events(incident)) == 1


def test_refusals_are_stored_and_unexpected_failures_release_the_key(keyed_store: Store) -> None:
    incident = keyed_store.live_incident().incident_id
    _report(keyed_store, incident, 1)
    stale = idempotency.run_once(
        keyed_store,
        "tanaka",
        "stale",
        "d1",
        lambda: _report(keyed_store, incident, 2, seen=0),
        respond=_respond,
        refuse=_refuse,
    )
    assert stale == Answer(409, {"current_version": 1})
    assert idempotency.begin(keyed_store, "tanaka", "stale", "d1") == Answer(
        409, {"current_version": 1}, replayed=True
    )

    def broken() -> object:
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError):
        idempotency.run_once(
            keyed_store, "tanaka", "retry-me", "d2", broken, respond=_respond, refuse=_refuse
        )
    # Released: the client's retry runs the request again.
    retried = idempotency.run_once(
        keyed_store,
        "tanaka",
        "retry-me",
        "d2",
        lambda: _report(keyed_store, incident, 3),
        respond=_respond,
        refuse=_refuse,
    )
    assert retried == Answer(201, {"version": 2})


def test_a_joined_hook_that_fails_rolls_the_append_back(keyed_store: Store) -> None:
    incident = keyed_store.live_incident().incident_id

    def refuse_commit(_conn: object, _events: list) -> None:
        raise DisasterDxError("no")

    with pytest.raises(DisasterDxError), keyed_store.joined_to_appends(refuse_commit):
        _report(keyed_store, incident, 5)
    assert keyed_store.events(incident) == []
    _report(keyed_store, incident, 5)  # outside the block the hook is gone
    assert len(keyed_store.events(incident)) == 1


def test_an_expired_claim_is_taken_over_and_the_late_worker_writes_nothing(
    keyed_store: Store,
) -> None:
    incident = keyed_store.live_incident().incident_id
    first = idempotency.begin(keyed_store, "tanaka", "k", "d")
    assert isinstance(first, Claim)
    # While the claim is fresh, a duplicate waits and then gives up (the first is running).
    with pytest.raises(KeyInProgress):
        idempotency.begin(keyed_store, "tanaka", "k", "d", wait=timedelta(0))
    table = idempotency.idempotency_table
    with keyed_store._write() as conn:
        conn.execute(update(table).values(claimed_until=keyed_store.clock() - timedelta(seconds=1)))
    second = idempotency.begin(keyed_store, "tanaka", "k", "d")
    assert isinstance(second, Claim) and second.token != first.token

    # The first worker was only slow, not dead: its commit must not go through now.
    def finish_first(conn: object, events: list) -> None:
        if not idempotency._store_answer(conn, first, _respond(events), keyed_store.clock()):  # type: ignore[arg-type]
            raise KeyInProgress("taken over")

    with pytest.raises(KeyInProgress), keyed_store.joined_to_appends(finish_first):
        _report(keyed_store, incident, 5)
    assert keyed_store.events(incident) == []


def test_two_threads_with_one_key_write_once_and_get_one_answer(keyed_store: Store) -> None:
    incident = keyed_store.live_incident().incident_id
    barrier = threading.Barrier(2)
    answers: list[Answer] = []
    errors: list[BaseException] = []

    def send() -> None:
        try:
            barrier.wait()
            answers.append(
                idempotency.run_once(
                    keyed_store,
                    "tanaka",
                    "same",
                    "d",
                    lambda: _report(keyed_store, incident, 7),
                    respond=_respond,
                    refuse=_refuse,
                )
            )
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert len(keyed_store.events(incident)) == 1
    assert sorted(a.replayed for a in answers) == [False, True]
    assert {a.body["version"] for a in answers} == {1}
    with keyed_store._read() as conn:
        rows = conn.execute(select(idempotency.idempotency_table)).all()
    assert len(rows) == 1 and rows[0].status == 201 and rows[0].claim is None


def test_check_key_names_what_is_wrong() -> None:
    assert idempotency.check_key("2f1c7a8e-uuid") is None
    assert "required" in (idempotency.check_key("") or "")
    assert "printable" in (idempotency.check_key("has space") or "")
    assert "at most" in (idempotency.check_key("x" * 201) or "")
