"""Payload validation and the pure fold (current state and state at an instant)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from disaster_dx.errors import PayloadError
from disaster_dx.events import (
    Event,
    State,
    fold,
    open_state_changes,
    validate_payload,
)
from disaster_dx.model import Crowding, CrowdingThresholds, Hazard, Need, OpenState

T0 = datetime(2026, 9, 1, 3, 0, tzinfo=UTC)
REPORT = "shelter.status_reported"
CORRECTION = "shelter.correction"


def ev(seq: int, payload: dict[str, Any], *, kind: str = REPORT, minutes: float = 0) -> Event:
    at = T0 + timedelta(minutes=minutes if minutes else seq)
    return Event("inc", seq, at, "hq-tanaka", kind, payload, None)


# -- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "field", "words"),
    [
        ({"shelter_id": "S1", "evacuees": -3}, "evacuees", "0 or more"),
        ({"shelter_id": "S1", "evacuees": 2.5}, "evacuees", "whole number"),
        ({"shelter_id": "S1", "evacuees": "12"}, "evacuees", "whole number"),
        ({"shelter_id": "S1", "evacuees": True}, "evacuees", "whole number"),
        ({"shelter_id": "S1", "open_state": "開いてる"}, "open_state", "unknown value"),
        ({"shelter_id": "S1", "crowding_override": "packed"}, "crowding_override", "unknown"),
        ({"shelter_id": "S1", "public_note": "x" * 501}, "public_note", "at most 500"),
        ({"shelter_id": "S1", "internal_note": 5}, "internal_note", "must be text"),
        ({"shelter_id": "S1", "pets_accepted": "yes"}, "pets_accepted", "true or false"),
        ({"shelter_id": "S1", "needs": ["water", "beer"]}, "needs", "beer"),
        ({"shelter_id": "S1", "colour": "red"}, "colour", "not a field"),
        ({"evacuees": 3}, "shelter_id", "required"),
        ({"shelter_id": "S1"}, "payload", "changes nothing"),
        (
            {"shelter_id": "S1", "evacuees": 3, "voluntary_evacuees": 5},
            "voluntary_evacuees",
            "cannot exceed",
        ),
    ],
)
def test_invalid_payload_names_the_field(payload: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(PayloadError) as caught:
        validate_payload(REPORT, payload)
    problems = caught.value.by_field()
    assert field in problems, problems
    assert any(words in message for message in problems[field]), problems


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(PayloadError) as caught:
        validate_payload(REPORT, {"shelter_id": "S1", "evacuees": -1, "households": "two"})
    assert set(caught.value.by_field()) == {"evacuees", "households"}


def test_unknown_event_type_and_non_object_payload() -> None:
    with pytest.raises(PayloadError, match="unknown event type"):
        validate_payload("shelter.exploded", {"shelter_id": "S1"})
    with pytest.raises(PayloadError, match="must be an object"):
        validate_payload(REPORT, ["S1"])


def test_valid_payload_is_normalised() -> None:
    clean = validate_payload(
        REPORT, {"shelter_id": "S1", "needs": ["water", "food", "water"], "capacity": None}
    )
    assert clean["needs"] == ["food", "water"]


# -- fold ---------------------------------------------------------------------------------------


def test_fold_current_state() -> None:
    state = fold(
        [
            ev(1, {"shelter_id": "S1", "open_state": "preparing"}),
            ev(2, {"shelter_id": "S1", "open_state": "open", "evacuees": 10, "capacity": 100}),
            ev(3, {"shelter_id": "S2", "open_state": "open", "needs": ["water"]}),
            ev(4, {"shelter_id": "S1", "evacuees": 65, "households": 20}),
        ]
    )
    s1 = state.shelter("S1")
    assert (s1.open_state, s1.evacuees, s1.households, s1.version) == (OpenState.OPEN, 65, 20, 4)
    assert s1.opened_at == T0 + timedelta(minutes=2)
    assert s1.reported_by == "hq-tanaka"
    assert s1.crowding(CrowdingThresholds()) is Crowding.CROWDED
    assert state.shelter("S2").needs == frozenset({Need.WATER})
    assert state.shelter("never-mentioned").open_state is OpenState.NOT_OPEN
    assert state.shelter("never-mentioned").evacuees is None
    assert state.seq == 4


def test_fold_at_an_instant_matches_prefix_fold() -> None:
    rng = random.Random(7)
    events = [
        ev(
            n,
            {
                "shelter_id": rng.choice(["S1", "S2", "S3"]),
                "evacuees": rng.randrange(0, 500),
                "open_state": rng.choice([s.value for s in OpenState]),
            },
            kind=rng.choice([REPORT, REPORT, CORRECTION]),
        )
        for n in range(1, 200)
    ]
    for cut in (0, 1, 17, 100, 199):
        until = T0 + timedelta(minutes=cut, seconds=30)
        expected = fold(events[:cut])
        actual = fold(events, until=until)
        assert actual.shelters == expected.shelters
        assert actual.seq == expected.seq


def test_fold_continues_from_a_snapshot() -> None:
    events = [ev(n, {"shelter_id": f"S{n % 3}", "evacuees": n}) for n in range(1, 50)]
    snapshot = fold(events[:20])
    assert fold(events, initial=snapshot) == fold(events)


def test_correction_is_not_a_status_change() -> None:
    state = fold(
        [
            ev(1, {"shelter_id": "S1", "open_state": "open", "evacuees": 10}, minutes=1),
            ev(
                2,
                {"shelter_id": "S1", "evacuees": 100, "reason": "桁の打ち間違い"},
                kind=CORRECTION,
                minutes=50,
            ),
        ]
    )
    s1 = state.shelter("S1")
    assert s1.evacuees == 100
    assert s1.reported_at == T0 + timedelta(minutes=1)  # freshness unchanged by a correction
    assert s1.corrected_at == T0 + timedelta(minutes=50)
    assert s1.version == 2


def test_open_state_changes_ignore_corrections() -> None:
    events = [
        ev(1, {"shelter_id": "S1", "open_state": "open"}),
        ev(2, {"shelter_id": "S2", "open_state": "open"}, kind=CORRECTION),
        ev(3, {"shelter_id": "S1", "evacuees": 4}),
        ev(4, {"shelter_id": "S1", "open_state": "closed"}),
        ev(5, {"shelter_id": "S3", "open_state": "preparing"}),
    ]
    changes = open_state_changes(State(), events)
    assert [(c.shelter_id, c.after) for c in changes] == [
        ("S1", OpenState.OPEN),
        ("S1", OpenState.CLOSED),
    ]


def test_crowding_override_and_unknown_capacity() -> None:
    thresholds = CrowdingThresholds()
    state = fold([ev(1, {"shelter_id": "S1", "open_state": "open", "evacuees": 40})])
    assert state.shelter("S1").crowding(thresholds) is None  # capacity unknown
    assert state.shelter("S1").crowding(thresholds, master_capacity=50) is Crowding.FULL
    state = fold(
        [
            ev(1, {"shelter_id": "S1", "open_state": "open", "evacuees": 40, "capacity": 50}),
            ev(2, {"shelter_id": "S1", "crowding_override": "somewhat_crowded"}),
        ]
    )
    assert state.shelter("S1").crowding(thresholds) is Crowding.SOMEWHAT_CROWDED
    cleared = fold([*_events_of(state), ev(3, {"shelter_id": "S1", "crowding_override": None})])
    assert cleared.shelter("S1").crowding(thresholds) is Crowding.FULL


def _events_of(state: State) -> list[Event]:
    return [
        ev(1, {"shelter_id": "S1", "open_state": "open", "evacuees": 40, "capacity": 50}),
        ev(2, {"shelter_id": "S1", "crowding_override": "somewhat_crowded"}),
    ]


@pytest.mark.parametrize(
    ("evacuees", "capacity", "expected"),
    [
        (0, 100, Crowding.AVAILABLE),
        (29, 100, Crowding.AVAILABLE),
        (30, 100, Crowding.SOMEWHAT_CROWDED),
        (59, 100, Crowding.SOMEWHAT_CROWDED),
        (60, 100, Crowding.CROWDED),
        (79, 100, Crowding.CROWDED),
        (80, 100, Crowding.FULL),
        (250, 100, Crowding.FULL),
        (5, 0, None),
        (5, None, None),
    ],
)
def test_crowding_thresholds(
    evacuees: int, capacity: int | None, expected: Crowding | None
) -> None:
    assert CrowdingThresholds().classify(evacuees, capacity) is expected


def test_thresholds_must_rise() -> None:
    with pytest.raises(ValueError, match="rise"):
        CrowdingThresholds(50, 40, 90)


def test_urgent_needs_expire_unless_reconfirmed() -> None:
    events = [
        ev(1, {"shelter_id": "S1", "urgent_needs": ["water", "medical"]}, minutes=0.5),
        ev(2, {"shelter_id": "S1", "urgent_needs": ["water"]}, minutes=300),
    ]
    status = fold(events).shelter("S1")
    later = T0 + timedelta(hours=7)
    assert status.active_urgent_needs(later, expire_after=timedelta(hours=6)) == {Need.WATER}
    assert (
        status.active_urgent_needs(T0 + timedelta(hours=12), expire_after=timedelta(hours=6))
        == set()
    )


def test_usable_needs_open_flagged_and_not_full() -> None:
    thresholds = CrowdingThresholds()
    flagged = frozenset({Hazard.TSUNAMI})
    state = fold(
        [
            ev(1, {"shelter_id": "open", "open_state": "open", "evacuees": 1, "capacity": 10}),
            ev(2, {"shelter_id": "full", "open_state": "open", "evacuees": 9, "capacity": 10}),
            ev(3, {"shelter_id": "closed", "open_state": "closed"}),
        ]
    )
    assert state.shelter("open").usable(Hazard.TSUNAMI, flagged, thresholds)
    assert not state.shelter("open").usable(Hazard.FLOOD, flagged, thresholds)
    assert not state.shelter("full").usable(Hazard.TSUNAMI, flagged, thresholds)
    assert not state.shelter("closed").usable(Hazard.TSUNAMI, flagged, thresholds)


def test_area_counts_and_hazard_announcements() -> None:
    state = fold(
        [
            Event(
                "inc",
                1,
                T0,
                "hq",
                "hazard.announced",
                {"hazard": "tsunami", "title": "大津波警報"},
                None,
            ),
            Event(
                "inc",
                2,
                T0,
                "hq",
                "area.outside_reported",
                {"area": "前浜", "at_home": 40, "in_car": 12},
                "area:前浜",
            ),
            Event(
                "inc",
                3,
                T0,
                "hq",
                "area.outside_reported",
                {"area": "前浜", "in_car": 20},
                "area:前浜",
            ),
        ]
    )
    assert state.current_hazard is Hazard.TSUNAMI
    assert (state.areas["前浜"].at_home, state.areas["前浜"].in_car) == (40, 20)
    assert state.version_of("area:前浜") == 3
