"""Per-field merge: random interleavings of three people's reports never lose a value silently.

An independent model of the rule (a list of accepted writes) predicts every conflict, every
merged field and the final values; the store must agree on SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from disaster_dx import hq
from disaster_dx.auth import Role, User
from disaster_dx.errors import ConflictError
from disaster_dx.events import NewEvent
from disaster_dx.model import Crowding, Need, OpenState, Shelter, ShelterKind
from disaster_dx.store import Store, subject_for_shelter

USERS = {
    name: User(name, "", frozenset({Role.HQ}), frozenset(), False) for name in ("u1", "u2", "u3")
}
SHELTERS = ("S1", "S2")
#: Few values per field, so people often agree (not a conflict) as well as disagree.
VALUES: dict[str, st.SearchStrategy[Any]] = {
    "open_state": st.sampled_from(["not_open", "open", "closed"]),
    "evacuees": st.integers(0, 3),
    "households": st.integers(0, 3),
    "capacity": st.one_of(st.none(), st.integers(0, 2)),
    "crowding_override": st.sampled_from([None, "crowded", "full"]),
    "needs": st.lists(st.sampled_from(["water", "food"]), unique=True).map(sorted),
    "pets_accepted": st.sampled_from([None, True, False]),
    "public_note": st.sampled_from(["", "a", "b"]),
}
DEFAULTS: dict[str, Any] = {"open_state": "not_open", "needs": [], "public_note": ""}


@dataclass(frozen=True)
class Write:
    """One attempted report: who, which shelter, which fields, how stale their screen was."""

    user: str
    shelter: str
    fields: dict[str, Any]
    stale: int
    correction: bool
    reapply: bool


WRITES = st.builds(
    Write,
    user=st.sampled_from(sorted(USERS)),
    shelter=st.sampled_from(SHELTERS),
    fields=st.fixed_dictionaries({}, optional=VALUES).filter(bool),
    stale=st.sampled_from([0, 0, 1, 2, 4]),
    correction=st.booleans(),
    reapply=st.booleans(),
)


@dataclass(frozen=True)
class Accepted:
    """A write the store took: its version, its base, who, and its fields."""

    seq: int
    base: int
    user: str
    fields: dict[str, Any]


def _value(history: list[Accepted], name: str, upto: int) -> Any:
    """The model's value of a field after the accepted writes with seq ≤ ``upto``."""
    value = DEFAULTS.get(name)
    for write in history:
        if write.seq <= upto and name in write.fields:
            value = write.fields[name]
    return value


def _expected(history: list[Accepted], base: int, mine: dict[str, Any]) -> tuple[set, dict]:
    """The model's prediction: conflicting fields, and fields merged (with their setters)."""
    latest: dict[str, Accepted] = {}
    for write in history:
        if write.seq > base:
            for name in write.fields:
                latest[name] = write
    conflicts = {n for n in mine if n in latest and latest[n].fields[n] != mine[n]}
    merged = {n: w for n, w in latest.items() if n not in mine}
    return conflicts, merged


def _as_payload(status: Any, name: str) -> Any:
    value = getattr(status, name)
    if isinstance(value, OpenState | Crowding):
        return value.value
    if name == "needs":
        return sorted(n.value for n in value if isinstance(n, Need))
    return value


def _shelter(sid: str) -> Shelter:
    return Shelter(
        shelter_id=sid,
        name=sid,
        address="高知県南国市",
        lon=133.64,
        lat=33.57,
        kinds=frozenset({ShelterKind.DESIGNATED}),
        hazards=frozenset(),
        gsi_ids=(sid,),
        capacity=None,
    )


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(writes=st.lists(WRITES, min_size=1, max_size=18))
def test_every_field_is_the_last_accepted_write_and_no_write_is_lost_silently(
    store: Store, writes: list[Write]
) -> None:
    store.replace_shelters([_shelter(s) for s in SHELTERS], source="test", actor="t")
    incident = store.create_incident("merge", actor="test").incident_id
    history: dict[str, list[Accepted]] = {s: [] for s in SHELTERS}
    conflicts_seen = 0

    def attempt(write: Write, base: int) -> ConflictError | None:
        past = history[write.shelter]
        want_conflicts, want_merged = _expected(past, base, write.fields)
        try:
            event = hq.report_status(
                store,
                incident,
                USERS[write.user],
                write.shelter,
                write.fields,
                seen_version=base,
                correction=write.correction,
                reason="訂正" if write.correction else "",
            )
        except ConflictError as exc:
            assert set(exc.fields) == want_conflicts and want_conflicts
            newest = past[-1]
            assert exc.actual == newest.seq and exc.expected == base
            for name, field in exc.fields.items():
                setter = max((w for w in past if name in w.fields), key=lambda w: w.seq)
                assert field.mine == write.fields[name]
                assert field.theirs == setter.fields[name] == _value(past, name, newest.seq)
                assert field.original == _value(past, name, base)
                assert field.by == setter.user
            return exc
        assert not want_conflicts, f"{want_conflicts} should have conflicted"
        assert {n: (m.value, m.by) for n, m in event.merged.items()} == {
            n: (w.fields[n], w.user) for n, w in want_merged.items()
        }
        assert event.payload.keys() - {"shelter_id", "reason"} == write.fields.keys()
        past.append(Accepted(event.seq, base, write.user, dict(write.fields)))
        return None

    for write in writes:
        versions = [0] + [w.seq for w in history[write.shelter]]
        base = versions[max(0, len(versions) - 1 - write.stale)]
        conflict = attempt(write, base)
        if conflict is not None:
            conflicts_seen += 1
            if write.reapply:  # the person looked at the conflict view and sends again
                assert attempt(write, conflict.actual) is None

    state = store.state(incident)
    for sid, past in history.items():
        status = state.shelter(sid)
        assert status.version == (past[-1].seq if past else 0)
        for name in VALUES:
            assert _as_payload(status, name) == _value(past, name, 10**9), (sid, name)
        # No accepted value was overwritten by someone who had not seen it, unless both
        # agreed: the value each write replaced was set at or before its base, or was equal.
        for later in past:
            for name in later.fields:
                replaced = [w for w in past if w.seq < later.seq and name in w.fields]
                if replaced and replaced[-1].seq > later.base:
                    assert replaced[-1].fields[name] == later.fields[name], (replaced[-1], later)


def test_two_people_changing_one_field_at_once_one_wins_one_conflicts(store: Store) -> None:
    """The check runs inside the write transaction: simultaneous writers cannot both pass it."""
    incident = store.create_incident("t", actor="admin").incident_id
    subject = subject_for_shelter("S1")
    first = store.append_merging(
        incident,
        [NewEvent("shelter.status_reported", {"shelter_id": "S1", "evacuees": 10})],
        actor="a",
        bases={subject: 0},
    )
    seen = first.events[0].seq
    other = Store(store.url, schema=store.schema)
    barrier = threading.Barrier(3)
    results: dict[str, object] = {}

    def writer(name: str, target: Store, payload: dict[str, Any]) -> None:
        barrier.wait()
        try:
            target.append_merging(
                incident,
                [NewEvent("shelter.status_reported", {"shelter_id": "S1", **payload})],
                actor=name,
                bases={subject: seen},
            )
            results[name] = "ok"
        except ConflictError as exc:
            results[name] = exc

    threads = [
        threading.Thread(target=writer, args=("b", store, {"evacuees": 50})),
        threading.Thread(target=writer, args=("c", other, {"evacuees": 70})),
        threading.Thread(target=writer, args=("d", other, {"households": 9})),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    other.dispose()
    assert results["d"] == "ok"  # another field: merged whatever the order
    assert sorted(type(results[n]).__name__ for n in "bc") == ["ConflictError", "str"]
    loser = next(n for n in "bc" if results[n] != "ok")
    winner = "c" if loser == "b" else "b"
    conflict = results[loser]
    assert isinstance(conflict, ConflictError) and set(conflict.fields) == {"evacuees"}
    assert conflict.fields["evacuees"].by == winner and conflict.fields["evacuees"].original == 10
    status = store.state(incident).shelter("S1")
    assert (status.evacuees, status.households) == ({"b": 50, "c": 70}[winner], 9)
