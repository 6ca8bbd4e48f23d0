"""What HQ sees at the top of /hq, 報告遅れ only where a report is expected, drill time and the
drill's scripted end, and the named live incident's life (core; the web side is in
test_hq_alerts_web.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from disaster_dx import alerts, drills, hq, incidents
from disaster_dx.after_action import after_action
from disaster_dx.areas import Area
from disaster_dx.auth import Role, User
from disaster_dx.errors import ConflictError, DisasterDxError
from disaster_dx.events import INCIDENT_MESSAGE, NewEvent, ShelterStatus
from disaster_dx.model import AlertLevel, CrowdingThresholds, Hazard, OpenState, ShelterKind
from disaster_dx.situation import IncidentTime, incident_time, recent_messages
from disaster_dx.store import Store
from layers.alerts import alert_area_features, needed_features
from tests.drill_support import TSUNAMI, FakeClock, ids_by_name
from tests.test_hq import _shelter

HQ_USER = User("hq1", "本部", frozenset({Role.HQ}), frozenset(), False)
STAFF = User("staff1", "", frozenset({Role.SHELTER_STAFF}), frozenset({"A"}), False)
T0 = datetime(2026, 9, 1, 0, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def city(store: Store) -> Store:
    from disaster_dx.bundled import ensure_initialised

    store.clock = FakeClock(T0)
    ensure_initialised(store, actor="test")
    return store


# -- staffed: 報告遅れ only where a report is expected ------------------------------------------


def test_staffed_defaults_by_kind_and_hq_can_change_it() -> None:
    school = _shelter("S")  # 指定避難所
    tower = _shelter("T")
    tower = tower.__class__(**{**tower.__dict__, "kinds": frozenset({ShelterKind.EMERGENCY})})
    opened = ShelterStatus("x", open_state=OpenState.OPEN, reported_at=T0)
    now = T0 + 2 * HOUR
    assert hq.expects_reports(school, opened) and not hq.expects_reports(tower, opened)
    assert hq.is_stale(opened, now, stale_after=HOUR, shelter=school)
    assert not hq.is_stale(opened, now, stale_after=HOUR, shelter=tower)
    staffed_tower = ShelterStatus("x", open_state=OpenState.OPEN, reported_at=T0, staffed=True)
    assert hq.is_stale(staffed_tower, now, stale_after=HOUR, shelter=tower)
    unstaffed = ShelterStatus("x", open_state=OpenState.OPEN, reported_at=T0, staffed=False)
    assert not hq.is_stale(unstaffed, now, stale_after=HOUR, shelter=school)
    assert hq.staffed_label(tower, staffed_tower) == "常駐（本部設定）"
    assert hq.staffed_label(tower, opened, "en") == "Unstaffed"
    # Without the master record only HQ's explicit choice counts (the old rule otherwise).
    assert hq.is_stale(opened, now, stale_after=HOUR)


def test_drill_clock_measures_staleness_in_drill_minutes() -> None:
    status = ShelterStatus("x", open_state=OpenState.OPEN, reported_at=T0)
    sixty_times = lambda moment: (moment - T0) * 60  # noqa: E731 (a 60× drill from T0)
    two_wall_minutes = T0 + timedelta(minutes=2)
    assert not hq.is_stale(status, two_wall_minutes, stale_after=HOUR)  # wall: 2 minutes
    assert hq.is_stale(status, two_wall_minutes, stale_after=HOUR, clock=sixty_times)  # 120
    shelters = [_shelter("A")]
    from disaster_dx.events import State

    state = State(shelters={"A": ShelterStatus("A", open_state=OpenState.OPEN, reported_at=T0)})
    rows = hq.board_rows(
        shelters,
        state,
        thresholds=CrowdingThresholds(),
        now=two_wall_minutes,
        stale_after=HOUR,
        urgent_after=6 * HOUR,
        clock=sixty_times,
    )
    assert rows[0]["reported"] == "120分前" and rows[0]["stale"] == "要確認"
    assert rows[0]["staffed"] is True and rows[0]["staffed_label"] == "常駐"
    totals = hq.summary(
        shelters,
        state,
        thresholds=CrowdingThresholds(),
        now=two_wall_minutes,
        stale_after=HOUR,
        clock=sixty_times,
    )
    assert totals.stale_reports == 1


def test_set_staffed_is_an_hq_correction_from_the_seen_version(city: Store) -> None:
    incident = city.live_incident().incident_id
    tower = ids_by_name(city)["津波避難施設　久枝南タワー"]
    hq.set_open_state_bulk(
        city,
        incident,
        HQ_USER,
        [tower],
        OpenState.OPEN,
        seen=hq.seen_on_screen(city.state(incident), [tower]),
    )
    before = city.state(incident).shelter(tower)
    with pytest.raises(hq.NotPermitted):
        hq.set_staffed(city, incident, STAFF, tower, True, seen_version=before.version)
    assert city.audit_log(action="shelter.staffed_refused")[0]["target"] == tower
    hq.set_staffed(city, incident, HQ_USER, tower, True, seen_version=before.version)
    after = city.state(incident).shelter(tower)
    assert after.staffed is True
    assert after.reported_at == before.reported_at  # a correction, not a report
    event = city.events(incident)[-1]
    assert event.type == "shelter.correction" and event.payload["reason"] == "職員配置: 常駐"
    with pytest.raises(ConflictError):  # from an old screen: refused, not overwritten
        hq.set_staffed(city, incident, HQ_USER, tower, False, seen_version=before.version)
    hq.set_staffed(city, incident, HQ_USER, tower, None, seen_version=after.version)
    assert city.state(incident).shelter(tower).staffed is None  # back to the default
    # A record with staffed choices still becomes a scenario that replays them.
    text = drills.scenario_from_incident(city, incident, hazard=Hazard.TSUNAMI)
    assert "staffed: true" in text and "staffed: null" in text
    replayed = drills.run_to_end(
        city,
        drills.parse_scenario(text, shelters=city.shelters()),
        actor="operator",
        clock_step=city.clock.sleep,  # type: ignore[attr-defined]
    )
    assert city.state(replayed.incident_id).shelter(tower).staffed is None
    assert replayed.status == drills.STOPPED  # ended at the scenario's end by itself


# -- the named live incident ---------------------------------------------------------------------


def test_open_write_close_and_a_second_open_is_refused_by_name(city: Store) -> None:
    unnamed = city.live_incident()
    assert incidents.display_name(unnamed) == "（災害名未設定）"
    with pytest.raises(incidents.IncidentRefused):
        incidents.open_named_incident(city, STAFF, "令和8年 台風第10号")
    assert city.audit_log(action="incident.open_refused")[0]["actor"] == "staff1"
    named = incidents.open_named_incident(city, HQ_USER, "令和8年 台風第10号", hazard=Hazard.FLOOD)
    assert named.incident_id == unnamed.incident_id and incidents.display_name(named) == (
        "令和8年 台風第10号"
    )
    with pytest.raises(DisasterDxError, match="「令和8年 台風第10号」 is still open"):
        incidents.open_named_incident(city, HQ_USER, "令和8年 台風第11号")
    school = ids_by_name(city)["大篠小学校"]
    hq.report_status(
        city, named.incident_id, HQ_USER, school, {"open_state": "open"}, seen_version=0
    )
    with pytest.raises(incidents.IncidentStillActive) as refused:
        incidents.close_live_incident(city, HQ_USER)
    assert refused.value.open_shelters == (school,) and "1 open shelter" in str(refused.value)
    closed = incidents.close_live_incident(city, HQ_USER, force=True)
    assert closed.open_shelters == (school,) and closed.incident.closed_by == "hq1"
    # The next write starts a new, unnamed incident; the closed one keeps its log.
    assert city.live_incident().incident_id != named.incident_id
    assert city.state(named.incident_id).shelter(school).open_state is OpenState.OPEN
    second = incidents.open_named_incident(city, "operator", "令和8年 台風第11号")
    assert second.named and second.incident_id != named.incident_id


# -- the panel's reads -----------------------------------------------------------------------------


def test_recent_messages_keep_their_addressee_newest_first(city: Store) -> None:
    incident = city.live_incident().incident_id
    for n in range(7):
        city.clock.sleep(60)  # type: ignore[attr-defined]
        city.append(
            incident,
            [NewEvent(INCIDENT_MESSAGE, {"text": f"連絡{n}", "to": "避難所班"})],
            actor="hq1",
        )
    city.append(incident, [NewEvent(INCIDENT_MESSAGE, {"text": "宛先なし"})], actor="hq2")
    found = recent_messages(city, incident, city.state(incident), limit=3)
    assert [(m.text, m.to, m.actor) for m in found] == [
        ("宛先なし", "", "hq2"),
        ("連絡6", "避難所班", "hq1"),
        ("連絡5", "避難所班", "hq1"),
    ]
    assert recent_messages(city, incident, city.state(incident), limit=0) == []


def test_incident_time_is_the_scenario_clock_in_a_drill(city: Store) -> None:
    clock: FakeClock = city.clock  # type: ignore[assignment]
    assert incident_time(city, city.live_incident()) == IncidentTime()
    scenario = drills.load_scenario(TSUNAMI, shelters=city.shelters())
    run = drills.start_drill(city, scenario, actor="op", speed=60)
    clock.sleep(90)  # 90 s at 60× = 1 h 30 min of drill time
    when = incident_time(city, city.incident(run.incident_id))
    assert when.is_drill and when.label(clock.now) == "10:30"  # scenario starts 09:00
    assert when.until(clock.now + timedelta(seconds=25), clock.now) == timedelta(minutes=25)
    assert when.wall_after(clock.now, timedelta(minutes=30)) == clock.now + timedelta(seconds=30)


def test_alert_areas_and_needed_shelters_for_the_map(city: Store) -> None:
    incident = city.live_incident().incident_id
    polygon = {
        "type": "Polygon",
        "coordinates": [
            [[133.62, 33.53], [133.66, 33.53], [133.66, 33.56], [133.62, 33.56], [133.62, 33.53]]
        ],
    }
    areas = [
        *city.areas(),
        Area("coast", "沿岸地区", name_en="Coast", geometry=polygon),
        Area("listed", "一覧の地区", shelter_ids=("E3920400009111",)),
    ]
    city.replace_areas(areas, source="test", actor="test")
    alerts.issue_alert(
        city, incident, HQ_USER, level=AlertLevel.EVACUATE, hazard=Hazard.TSUNAMI, areas=["all"]
    )
    alerts.issue_alert(
        city,
        incident,
        HQ_USER,
        level=AlertLevel.EMERGENCY_SAFETY,
        hazard=Hazard.TSUNAMI,
        areas=["coast", "listed"],
    )
    state = city.state(incident)
    outline = {"type": "MultiPolygon", "coordinates": [polygon["coordinates"]]}
    data = alert_area_features(state.alerts_in_force, areas, outline=outline, lang="ja")
    drawn = [(f["properties"]["level"], f["properties"]["area"]) for f in data["features"]]
    # 全域 drawn with the city outline, the polygon area on top; a listed area has no line.
    assert drawn == [(4, "南国市全域"), (5, "沿岸地区")]
    top = data["features"][-1]["properties"]
    assert top["label"] == "警戒レベル5 緊急安全確保（津波）" and top["colour"] == "#0c000c"
    assert top["dash"] is None and data["features"][0]["properties"]["dash"]  # not colour alone
    needed = alerts.shelters_needing_opening(state, city.shelters(), areas)
    points = needed_features(needed, lang="en")["features"]
    assert len(points) == 63 and all(p["properties"]["word"] == "Needs opening" for p in points)
    # Each with the highest level that asks for it: 5 inside the coast polygon or listed.
    coast, listed = areas[1], areas[2]
    expected = {
        s.shelter_id: 5 if coast.contains(s) or listed.contains(s) else 4 for s, _ in needed
    }
    assert {p["properties"]["shelter_id"]: p["properties"]["level"] for p in points} == expected
    assert set(expected.values()) == {4, 5}


# -- drills end at their scenario's end ------------------------------------------------------------


def test_the_scheduler_stops_a_drill_at_its_scripted_end(city: Store) -> None:
    clock: FakeClock = city.clock  # type: ignore[assignment]
    scenario = drills.load_scenario(TSUNAMI, shelters=city.shelters())
    assert scenario.length == timedelta(hours=2, minutes=40)  # duration; last inject +2:30
    started = clock.now
    run = drills.start_drill(city, scenario, actor="operator", speed=60)
    assert drills.drill_run(city, run.incident_id).end == scenario.length
    scheduler = drills.DrillScheduler(city, holder="only")
    scheduler.run(sleep=clock.sleep, poll=5.0, exit_when_idle=True)  # returns once none is active
    ended = drills.drill_run(city, run.incident_id)
    assert ended.status == drills.STOPPED and ended.all_fired
    assert ended.elapsed_s == scenario.length.total_seconds()  # +2:40, not a second more
    # It waited for the end (not just for the last inject) and not longer than one poll.
    assert started + timedelta(seconds=160) <= ended.stopped_at <= clock.now
    assert clock.now - started <= timedelta(seconds=166)
    stop = city.events(run.incident_id)[-1]
    assert (stop.type, stop.actor, stop.payload["action"]) == (
        drills.DRILL_CONTROL,
        drills.DRILL_ACTOR,
        "stop",
    )
    assert city.incident(run.incident_id).closed_by == drills.DRILL_ACTOR
    report = after_action(city, run.incident_id)
    assert report.length == scenario.length  # the report shows no overrun


def test_a_paused_drill_is_not_stopped_and_the_end_follows_the_last_inject(city: Store) -> None:
    clock: FakeClock = city.clock  # type: ignore[assignment]
    text = TSUNAMI.read_text(encoding="utf-8").replace('duration: "+02:40:00"\n', "")
    scenario = drills.parse_scenario(text, shelters=city.shelters())
    assert scenario.duration is None
    run = drills.start_drill(city, scenario, actor="operator", speed=60)
    scheduler = drills.DrillScheduler(city, holder="only")
    clock.sleep(149)
    scheduler.tick()
    drills.pause_drill(city, run.incident_id, actor="operator")
    clock.sleep(600)
    scheduler.tick()
    assert drills.drill_run(city, run.incident_id).status == drills.PAUSED
    drills.resume_drill(city, run.incident_id, actor="operator")
    assert scheduler.seconds_to_next(poll=30) == pytest.approx(1.0)  # the last inject at +2:30
    clock.sleep(1)
    scheduler.tick()  # fires the last inject; the scenario ends with it
    ended = drills.drill_run(city, run.incident_id)
    assert ended.status == drills.STOPPED and ended.elapsed_s == 150 * 60
