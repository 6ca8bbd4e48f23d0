"""The HQ core: board rows, summary tiles, staleness, outside-shelter history, role checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from disaster_dx import hq
from disaster_dx.auth import Role, User
from disaster_dx.errors import ConflictError, PayloadError
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
            store,
            incident,
            STAFF,
            ["A"],
            OpenState.OPEN,
            seen=hq.seen_on_screen(store.state(incident), ["A"]),
        )
    screen = hq.seen_on_screen(store.state(incident), ["A", "B"])
    opened = hq.set_open_state_bulk(
        store, incident, HQ_USER, ["A", "B"], OpenState.OPEN, seen=screen
    )
    assert [e.payload["shelter_id"] for e in opened.events] == ["A", "B"]
    assert {e.seq for e in opened.events} == {2, 3} and opened.skipped == {}
    # Closing from the same (now stale) screen: both were opened since, so both are skipped.
    closing = hq.set_open_state_bulk(
        store, incident, HQ_USER, ["A", "B"], OpenState.CLOSED, seen=screen
    )
    assert closing.events == [] and sorted(closing.skipped) == ["A", "B"]
    assert closing.skipped["A"].fields["open_state"].theirs == "open"
    assert store.last_seq(incident) == 3
    with pytest.raises(hq.NotPermitted):
        hq.report_area(store, incident, STAFF, "前浜", at_home=1, in_car=None, seen_version=0)
    hq.report_area(store, incident, HQ_USER, " 前浜 ", at_home=5, in_car=None, seen_version=0)
    assert store.state(incident).areas["前浜"].at_home == 5


STAFF_B = User("staff2", "", frozenset({Role.SHELTER_STAFF}), frozenset({"A"}), False)
STAFF_C = User("staff3", "", frozenset({Role.SHELTER_STAFF}), frozenset({"A"}), False)
PARKING = "駐車場は満車です。徒歩でお越しください。"


def test_reports_merge_field_by_field_and_conflict_only_where_both_changed(store: Store) -> None:
    """The issue's runs: B changes only 世帯数 on an old screen; nothing of A's is reverted."""
    store.replace_shelters([_shelter("A"), _shelter("B")], source="test", actor="t")
    incident = store.live_incident().incident_id
    first = {"open_state": "open", "evacuees": 80, "households": 30, "public_note": PARKING}
    seen = hq.report_status(store, incident, HQ_USER, "A", first, seen_version=0).seq
    hq.report_status(store, incident, HQ_USER, "B", {"evacuees": 3}, seen_version=0)
    a = hq.report_status(store, incident, STAFF, "A", {"evacuees": 82}, seen_version=seen)
    assert a.merged == {}

    # B saw the screen before A's report and changed only 世帯数: merged, nothing reverted.
    b = hq.report_status(store, incident, STAFF_B, "A", {"households": 31}, seen_version=seen)
    assert set(b.merged) == {"evacuees"}
    assert (b.merged["evacuees"].value, b.merged["evacuees"].by) == (82, "staff1")
    assert b.payload == {"shelter_id": "A", "households": 31}  # untouched fields not written
    status = store.state(incident).shelter("A")
    assert (status.evacuees, status.households, status.public_note) == (82, 31, PARKING)

    # C, on the same old screen, changed 避難者数 and the note: only 避難者数 conflicts.
    last = store.last_seq(incident)
    with pytest.raises(ConflictError) as caught:
        hq.report_status(
            store,
            incident,
            STAFF_C,
            "A",
            {"evacuees": 90, "public_note": "受付は体育館"},
            seen_version=seen,
        )
    conflict = caught.value
    assert set(conflict.fields) == {"evacuees"}
    field = conflict.fields["evacuees"]
    assert (field.mine, field.theirs, field.original, field.by) == (90, 82, 80, "staff1")
    assert field.at == a.at
    assert conflict.actual == b.seq and conflict.expected == seen
    assert store.last_seq(incident) == last  # nothing written

    # Re-applying: the same fields on the newest version; 世帯数 of B stays.
    again = hq.report_status(
        store,
        incident,
        STAFF_C,
        "A",
        {"evacuees": 90, "public_note": "受付は体育館"},
        seen_version=conflict.actual,
    )
    assert again.merged == {}
    status = store.state(incident).shelter("A")
    assert (status.evacuees, status.households, status.public_note) == (90, 31, "受付は体育館")
    assert status.open_state is OpenState.OPEN

    # The same value someone else already set is agreement, not a conflict.
    same = hq.report_status(store, incident, HQ_USER, "A", {"households": 31}, seen_version=seen)
    assert set(same.merged) == {"evacuees", "public_note"}
    # A version the shelter never had is a whole-subject conflict.
    with pytest.raises(ConflictError) as future:
        hq.report_status(store, incident, HQ_USER, "A", {"evacuees": 1}, seen_version=10_000)
    assert future.value.fields == {} and future.value.actual == same.seq


def test_a_report_cannot_name_another_shelter(store: Store) -> None:
    store.replace_shelters([_shelter("A"), _shelter("B")], source="test", actor="t")
    incident = store.live_incident().incident_id
    with pytest.raises(PayloadError) as caught:
        hq.report_status(
            store, incident, STAFF, "A", {"shelter_id": "B", "evacuees": 1}, seen_version=0
        )
    assert "shelter_id" in caught.value.by_field()
    assert store.last_seq(incident) == 0


def test_area_reports_merge_per_field(store: Store) -> None:
    incident = store.live_incident().incident_id
    hq.report_area(store, incident, HQ_USER, "前浜", at_home=10, in_car=2, seen_version=0)
    seen = store.state(incident).areas["前浜"].version
    other = User("hq2", "", frozenset({Role.HQ}), frozenset(), False)
    hq.report_area(store, incident, other, "前浜", at_home=12, in_car=None, seen_version=seen)
    merged = hq.report_area(
        store, incident, HQ_USER, "前浜", at_home=None, in_car=5, seen_version=seen
    )
    assert set(merged.merged) == {"at_home"}
    area = store.state(incident).areas["前浜"]
    assert (area.at_home, area.in_car) == (12, 5)
    with pytest.raises(ConflictError) as caught:
        hq.report_area(store, incident, HQ_USER, "前浜", at_home=7, in_car=None, seen_version=seen)
    assert caught.value.fields["at_home"].theirs == 12
    assert caught.value.fields["at_home"].original == 10
    # A new area someone else created meanwhile (the screen had version 0 for it).
    hq.report_area(store, incident, other, "十市", at_home=3, in_car=None, seen_version=0)
    with pytest.raises(ConflictError) as created:
        hq.report_area(store, incident, HQ_USER, "十市", at_home=4, in_car=None, seen_version=0)
    assert created.value.fields["at_home"].original is None


def test_outside_history_reads_only_new_area_reports_and_equals_the_full_history(
    store: Store,
) -> None:
    from disaster_dx.events import NewEvent
    from disaster_dx.hq import OutsideHistory, outside_history

    incident = store.create_incident("長期災害", actor="test").incident_id
    chart = OutsideHistory()
    read: list[int] = []
    iter_events = store.iter_events

    def counting(*args, **kwargs):
        for event in iter_events(*args, **kwargs):
            read.append(event.seq)
            yield event

    store.iter_events = counting  # type: ignore[method-assign]
    for round_no in range(5):
        store.append(
            incident,
            [
                NewEvent(
                    "area.outside_reported",
                    {"area": f"地区{n % 4}", "at_home": n + round_no, "in_car": n},
                )
                for n in range(300)
            ]
            + [NewEvent("shelter.status_reported", {"shelter_id": "S1", "evacuees": round_no})],
            actor="hq1",
        )
        read.clear()
        points = chart.points(store, incident, max_points=10_000)
        assert len(read) == 300  # only this round's area reports, never the earlier ones
        assert points == outside_history(iter_events(incident))
    thinned = chart.points(store, incident, max_points=50)
    assert len(thinned) == 50 and thinned[-1] == points[-1] and thinned[0] == points[0]
