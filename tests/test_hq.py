"""The HQ core: board rows, summary tiles, staleness, outside-shelter history, role checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from disaster_dx import hq
from disaster_dx.auth import Role, User
from disaster_dx.errors import ConflictError
from disaster_dx.events import Event, fold
from disaster_dx.model import CrowdingThresholds, Hazard, OpenState, Shelter, ShelterKind
from disaster_dx.store import Store

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
THRESHOLDS = CrowdingThresholds()


def _shelter(sid: str, *hazards: Hazard, capacity: int | None = 100) -> Shelter:
    return Shelter(
        shelter_id=sid,
        name=f"避難所{sid}",
        address="高知県南国市",
        lon=133.64,
        lat=33.57,
        kinds=frozenset({ShelterKind.DESIGNATED}),
        hazards=frozenset(hazards),
        gsi_ids=(sid,),
        capacity=capacity,
    )


def _event(seq: int, minutes: int, type_: str, **payload: object) -> Event:
    subject = f"shelter:{payload['shelter_id']}" if "shelter_id" in payload else None
    if "area" in payload:
        subject = f"area:{payload['area']}"
    return Event("live", seq, T0 + timedelta(minutes=minutes), "hq1", type_, payload, subject)


HQ_USER = User("hq1", "本部", frozenset({Role.HQ}), frozenset(), False)
STAFF = User("staff1", "", frozenset({Role.SHELTER_STAFF}), frozenset({"A"}), False)


def test_board_rows_summary_and_staleness() -> None:
    shelters = [_shelter("A", Hazard.TSUNAMI), _shelter("B", Hazard.FLOOD), _shelter("C")]
    events = [
        _event(
            1,
            0,
            "shelter.status_reported",
            shelter_id="A",
            open_state="open",
            evacuees=85,
            urgent_needs=["water"],
            needs=["food"],
        ),
        _event(2, 5, "shelter.status_reported", shelter_id="B", open_state="open", evacuees=10),
        _event(3, 6, "area.outside_reported", area="前浜", at_home=12, in_car=3),
    ]
    state = fold(events)
    now = T0 + timedelta(minutes=70)
    rows = hq.board_rows(
        shelters,
        state,
        thresholds=THRESHOLDS,
        now=now,
        stale_after=timedelta(minutes=60),
        urgent_after=timedelta(hours=6),
    )
    a, b, c = rows
    assert (a["open_state"], a["crowding"], a["evacuees_capacity"]) == ("開設", "満員", "85 / 100")
    assert a["needs"] == "!水、食料" and a["urgent"] is True
    assert a["stale"] == "要確認" and a["reported"] == "70分前"  # 70 > 60 minutes
    assert b["stale"] == "要確認" and b["reported"] == "65分前"
    assert c["open_state"] == "未開設" and c["reported"] == "未報告" and c["stale"] == ""
    totals = hq.summary(
        shelters, state, thresholds=THRESHOLDS, now=now, stale_after=timedelta(minutes=60)
    )
    assert totals == hq.Summary(2, 95, 1, 2, 12, 3)
    later = hq.board_rows(
        shelters,
        state,
        thresholds=THRESHOLDS,
        now=T0 + timedelta(hours=7),
        stale_after=timedelta(minutes=60),
        urgent_after=timedelta(hours=6),
    )
    assert later[0]["needs"] == "食料" and later[0]["urgent"] is False  # urgent need lapsed


def test_outside_history_counts_each_area_once() -> None:
    events = [
        _event(1, 0, "area.outside_reported", area="前浜", at_home=10, in_car=2),
        _event(2, 5, "area.outside_reported", area="十市", at_home=4),
        _event(3, 9, "area.outside_reported", area="前浜", at_home=7, in_car=5),
        _event(4, 9, "shelter.status_reported", shelter_id="A", evacuees=1),
    ]
    history = hq.outside_history(events)
    assert [(h, c) for _, h, c in history] == [(10, 2), (14, 2), (11, 5)]
    assert history[-1][0] == T0 + timedelta(minutes=9)


def test_writes_check_roles_and_versions(store: Store) -> None:
    store.replace_shelters(
        [_shelter("A", Hazard.TSUNAMI), _shelter("B", Hazard.TSUNAMI), _shelter("Z")],
        source="test",
        actor="t",
    )
    incident = store.live_incident().incident_id
    with pytest.raises(hq.NotPermitted):
        hq.report_status(store, incident, STAFF, "B", {"evacuees": 1}, seen_version=0)
    assert store.audit_log(action="shelter.update_refused")[0]["target"] == "B"
    hq.report_status(store, incident, STAFF, "A", {"evacuees": 1}, seen_version=0)
    with pytest.raises(hq.NotPermitted):
        hq.set_open_state_bulk(
            store, incident, STAFF, ["A"], OpenState.OPEN, state=store.state(incident)
        )
    state = store.state(incident)
    opened = hq.set_open_state_bulk(
        store, incident, HQ_USER, ["A", "B"], OpenState.OPEN, state=state
    )
    assert [e.payload["shelter_id"] for e in opened] == ["A", "B"]
    assert {e.seq for e in opened} == {2, 3}
    # Again from the same (now stale) view: a conflict, nothing written.
    with pytest.raises(ConflictError):
        hq.set_open_state_bulk(store, incident, HQ_USER, ["A", "B"], OpenState.CLOSED, state=state)
    assert store.last_seq(incident) == 3
    with pytest.raises(hq.NotPermitted):
        hq.report_area(store, incident, STAFF, "前浜", at_home=1, in_car=None)
    hq.report_area(store, incident, HQ_USER, " 前浜 ", at_home=5, in_car=None)
    assert store.state(incident).areas["前浜"].at_home == 5
