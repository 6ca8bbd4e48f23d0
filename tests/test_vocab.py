"""The outside vocabularies map both ways, with the documented lossy cases only."""

from __future__ import annotations

import pytest

from disaster_dx import vocab
from disaster_dx.model import Crowding, Hazard, Labelled, OpenState, ShelterKind


@pytest.mark.parametrize("state", list(OpenState))
def test_lalert_sort_round_trip(state: OpenState) -> None:
    back = vocab.open_state_from_lalert(vocab.lalert_sort(state))
    # 開設準備中 has no L-Alert term: it is reported as 未開設 (not yet taking evacuees).
    assert back is (OpenState.NOT_OPEN if state is OpenState.PREPARING else state)


@pytest.mark.parametrize("term", ["未開設", "開設", "閉鎖", "常設", "不明"])
def test_every_lalert_sort_term_maps_in_and_out(term: str) -> None:
    state = vocab.open_state_from_lalert(term)
    assert vocab.lalert_sort(state) == term


@pytest.mark.parametrize("term", ["空き", "混雑", "定員一杯", "不明"])
def test_every_lalert_status_term_maps_in_and_out(term: str) -> None:
    assert vocab.lalert_status(vocab.crowding_from_lalert(term)) == term


def test_lalert_status_out() -> None:
    assert [vocab.lalert_status(c) for c in Crowding] == ["空き", "空き", "混雑", "定員一杯"]
    assert vocab.lalert_status(None) == "不明"


@pytest.mark.parametrize("crowding", list(Crowding))
def test_vacan_round_trip(crowding: Crowding) -> None:
    assert vocab.crowding_from_vacan(vocab.vacan_level(OpenState.OPEN, crowding)) is crowding


def test_vacan_not_accepting_and_unknown() -> None:
    assert vocab.vacan_level(OpenState.CLOSED, Crowding.FULL) == 0
    assert vocab.crowding_from_vacan(0) is None
    assert vocab.vacan_level(OpenState.OPEN, None) is None


@pytest.mark.parametrize(
    ("call", "arg"),
    [
        (vocab.open_state_from_lalert, "営業中"),
        (vocab.crowding_from_lalert, "ガラガラ"),
        (vocab.crowding_from_vacan, 9),
    ],
)
def test_unknown_outside_terms_are_rejected(call: object, arg: object) -> None:
    with pytest.raises(ValueError, match="unknown"):
        call(arg)  # type: ignore[operator]


@pytest.mark.parametrize("enum", [OpenState, Crowding, Hazard, ShelterKind])
def test_labels_parse_back(enum: type[Labelled]) -> None:
    for member in enum:
        assert enum.parse(member.ja) is member
        assert enum.parse(member.en.upper()) is member
        assert enum.parse(member.value) is member
        assert member.label("en") == member.en
