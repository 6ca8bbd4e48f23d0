"""Drills: scenario validation, the scheduler and its lease, isolation, replay, export."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from disaster_dx import drills, hq
from disaster_dx.bundled import ensure_initialised
from disaster_dx.errors import ConflictError, NotFoundError
from disaster_dx.events import (
    HAZARD_ANNOUNCED,
    SHELTER_CORRECTION,
    SHELTER_STATUS_REPORTED,
    Event,
    NewEvent,
    State,
    fold,
)
from disaster_dx.model import Hazard, IncidentKind, OpenState
from disaster_dx.projection import (
    StateProjection,
    state_from_dict,
    state_snapshots,
    state_to_dict,
)
from disaster_dx.store import Store
from tests.drill_support import FLOOD, TSUNAMI, FakeClock, add_users, ids_by_name
from tests.strategies import LOGS

HEADER = """version: 1
label: 訓練シナリオ
title: テスト訓練
hazard: 津波
start_time: "09:00"
"""


@pytest.fixture
def master(store: Store) -> Store:
    """The store with the bundled Nankoku master and a fake clock."""
    store.clock = FakeClock()
    ensure_initialised(store)
    return store


def _problems(text: str, store: Store, **kwargs) -> list[tuple[int, str]]:
    with pytest.raises(drills.ScenarioError) as caught:
        drills.parse_scenario(text, shelters=store.shelters(), source="t.yaml", **kwargs)
    return [(p.line, p.message) for p in caught.value.problems]


def _only(problems: list[tuple[int, str]], needle: str) -> int:
    lines = [line for line, message in problems if needle in message]
    assert len(lines) == 1, (needle, problems)
    return lines[0]


# -- scenario files ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", [TSUNAMI, FLOOD], ids=["tsunami", "flood"])
def test_bundled_scenarios_validate_against_the_real_master(master: Store, path: Path) -> None:
    scenario = drills.load_scenario(
        path, shelters=master.shelters(), camera_ids=drills.known_camera_ids(master)
    )
    assert scenario.title.startswith("【訓練シナリオ】")
    assert "訓練シナリオ" in path.read_text(encoding="utf-8").splitlines()[1]
    offsets = [i.offset for i in scenario.injects]
    assert offsets == sorted(offsets) and offsets[0] == timedelta(0)
    assert scenario.length == scenario.duration
    by_id = {s.shelter_id: s for s in master.shelters()}
    needed = [by_id[sid] for sid in scenario.needed_shelters]
    assert len(needed) == 6
    if path == FLOOD:
        assert scenario.hazard is Hazard.FLOOD
        assert all(Hazard.FLOOD in s.hazards for s in needed)
    else:
        assert scenario.hazard is Hazard.TSUNAMI
        assert all(s.hazards & {Hazard.TSUNAMI, Hazard.EARTHQUAKE} for s in needed)
        towers = [
            by_id[sid].name
            for i in scenario.injects
            if i.kind == "shelter"
            for sid in i.shelters
            if "タワー" in by_id[sid].name
        ]
        assert len(set(towers)) >= 5 and all(n.startswith("津波避難施設") for n in towers)
    kinds = {i.kind for i in scenario.injects}
    assert {"hazard", "shelter", "message", "camera", "area"} <= kinds


def test_schema_file_for_editors_is_the_schema_in_code() -> None:
    on_disk = json.loads((drills.SCENARIO_DIR / "scenario.schema.json").read_text("utf-8"))
    assert on_disk == drills.SCENARIO_SCHEMA


def test_names_labels_and_json_are_accepted(master: Store) -> None:
    as_json = json.dumps(
        {
            "version": 1,
            "label": "訓練シナリオ",
            "title": "JSON",
            "hazard": "tsunami",
            "start_time": "10:30",
            "injects": [
                {
                    "at": "+00:00:00",
                    "kind": "shelter",
                    "shelter": "E3920400009111",
                    "open_state": "open",
                    "crowding": "自動",
                    "needs": ["water", "毛布"],
                },
                {
                    "at": "+00:01:00",
                    "kind": "shelter",
                    "shelter": "大篠小学校",
                    "open_state": "開設準備中",
                    "correction": True,
                    "reason": "入力ミス",
                },
            ],
        },
        ensure_ascii=False,
    )
    scenario = drills.parse_scenario(as_json, shelters=master.shelters())
    first, second = scenario.injects
    assert first.events[0].payload == {
        "shelter_id": "E3920400009111",
        "open_state": "open",
        "crowding_override": None,
        "needs": ["blanket", "water"],
    }
    assert second.events[0].type == SHELTER_CORRECTION
    assert second.events[0].payload["reason"] == "入力ミス"
    assert scenario.start_time.hour == 10


def test_every_kind_of_error_is_reported_with_its_line(master: Store) -> None:
    text = (
        HEADER
        + """colour: red
needed_shelters:
  - 稲生ふれあい館
  - 十市小学校
injects:
  - at: "+00:01:00"
    kind: shelter
    shelter: 津波避難施設 前浜浜窪タワー
    evacuees: 10
  - at: "+00:02:00"
    kind: shelter
    shelter: 大篠小学校
    evacuees: -3
  - at: 0:03:00
    kind: message
    text: こんにちは
  - at: "+00:04:00"
    kind: hazard
    title: 大津波警報
  - at: "+00:05:00"
    kind: shelter
    shelter: 大篠小学校
    evacuees: 10
    voluntary_evacuees: 20
  - at: "+00:06:00"
    kind: teleport
  - at: "+00:07:00"
    kind: message
    text: 重複
    text: 二回目
  - at: "+00:08:00"
    kind: camera
    camera: nowhere
    action: image
    image: ../../etc/passwd
  - at: "+00:09:00"
    kind: message
    text: 余計な項目
    evacuees: 3
  - at: "+00:10:00"
    kind: shelter
    shelter: 存在しない避難所
    open_state: 開設
  - at: "+00:11:00"
    kind: shelter
    shelter: 大篠小学校
    open_state: half-open
"""
    )
    problems = _problems(text, master, camera_ids={"coast", "river", "town"})
    assert _only(problems, "「colour」はシナリオの項目ではありません") == 6
    assert _only(problems, "避難先に指定されていません") == 8  # 稲生ふれあい館: flood only
    assert _only(problems, "2か所あります") == 9  # 十市小学校: two sites share the name
    assert _only(problems, "「津波避難施設　前浜浜窪タワー」（E3920400074201）のことですか") == 13
    assert _only(problems, "0 以上にしてください") == 18
    assert _only(problems, '"+HH:MM:SS"') == 19
    assert _only(problems, "必須の項目「hazard」がありません") == 22
    assert _only(problems, "cannot exceed evacuees") == 29
    assert _only(problems, "'teleport' は使えません") == 31
    assert _only(problems, "が2回書かれています") == 35
    assert _only(problems, "カメラ「nowhere」はカメラ台帳にありません") == 38
    assert _only(problems, "相対パス") == 40
    assert _only(problems, "「evacuees」はこの状況付与の項目ではありません") == 44
    assert _only(problems, "避難所「存在しない避難所」は避難所台帳にありません") == 47
    assert _only(problems, "'half-open' は使えません") == 52
    assert [line for line, _ in problems] == sorted(line for line, _ in problems)


def test_file_level_errors_have_lines(master: Store) -> None:
    assert _problems("version: 1\ninjects: [1, 2\n", master)[0][0] == 3
    assert "single document" in _problems("a: 1\n---\nb: 2\n", master)[0][1]
    assert _problems("a: 1\n---\nb: 2\n", master)[0][0] == 2
    assert "UTF-8" in _problems("title: テスト\n".encode("shift_jis"), master)[0][1]  # type: ignore[arg-type]
    assert "マッピング" in _problems("- just a list\n", master)[0][1]
    missing = _problems("version: 1\nlabel: 訓練シナリオ\n", master)
    assert {m for _, m in missing} >= {
        "ファイル全体: 必須の項目「title」がありません",
        "ファイル全体: 必須の項目「injects」がありません",
    }
    unlabelled = _problems(HEADER.replace("訓練シナリオ", "本番") + "injects: []\n", master)
    assert any(line == 2 and "'訓練シナリオ' と書いてください" in m for line, m in unlabelled)
    assert any("少なくとも 1 件必要です" in m for _, m in unlabelled)
    late = HEADER + 'duration: "+00:10:00"\ninjects:\n  - at: "+00:20:00"\n    kind: message\n'
    late += "    text: 遅すぎる\n"
    assert _only(_problems(late, master), "を過ぎています") == 8
    # YAML 1.1 would read 9:00 as the number 540; here it is text, refused with a hint.
    assert _only(_problems(HEADER.replace('"09:00"', "9:00"), master), "HH:MM") == 5


def test_cli_validate_prints_lines_and_exit_code(tmp_path: Path, database_url: str, capsys) -> None:
    from disaster_dx import cli

    bad = tmp_path / "bad.yaml"
    bad.write_text(HEADER + "injects:\n  - at: nope\n    kind: message\n    text: x\n", "utf-8")
    code = cli.main(["--database-url", database_url, "drill", "validate", str(TSUNAMI), str(bad)])
    out = capsys.readouterr().out
    assert code == 1
    assert "nankai_trough_tsunami.yaml: OK" in out
    assert f"{bad}:7:9: 状況付与1件目 › at:" in out


# -- drills and the scheduler ------------------------------------------------------------------


def test_drill_at_60x_fires_injects_in_order_at_scaled_times(master: Store) -> None:
    clock: FakeClock = master.clock  # type: ignore[assignment]
    scenario = drills.load_scenario(TSUNAMI, shelters=master.shelters())
    started = clock.now
    run = drills.start_drill(master, scenario, actor="operator", speed=60)
    assert master.incident(run.incident_id).kind is IncidentKind.DRILL
    scheduler = drills.DrillScheduler(master, holder="only")

    def done() -> bool:
        return drills.drill_run(master, run.incident_id).all_fired

    scheduler.run(should_stop=done, sleep=clock.sleep, poll=0.5)
    fired = drills.fired_injects(master, run.incident_id)
    assert [f.index for f in fired] == list(range(len(scenario.injects)))
    for record, inject in zip(fired, scenario.injects, strict=True):
        assert record.at == started + inject.offset / 60, record
        assert record.summary == inject.summary
    # 2 h 30 min of scenario in 150 s of fake time, and nothing really slept.
    assert timedelta(seconds=150) <= clock.now - started <= timedelta(seconds=151)
    events = master.events(run.incident_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert all(e.actor == drills.DRILL_ACTOR for e in events if e.type != drills.DRILL_CONTROL)
    arrival = next(e for e in events if e.type == HAZARD_ANNOUNCED and "arrival_at" in e.payload)
    assert datetime.fromisoformat(arrival.payload["arrival_at"]) == arrival.at + timedelta(
        seconds=25
    )
    state = master.state(run.incident_id)
    towers = ids_by_name(master)
    assert state.shelter(towers["津波避難施設　久枝南タワー"]).evacuees == 96
    assert state.shelter(towers["高知空港旅客ターミナルビル"]).open_state is OpenState.OPEN
    assert state.hazards[Hazard.TSUNAMI].title.startswith("大津波警報を津波警報に切り替え")
    scheduler.release()


def test_scripted_cameras_follow_the_script_at_any_instant(master: Store) -> None:
    clock: FakeClock = master.clock  # type: ignore[assignment]
    scenario = drills.load_scenario(TSUNAMI, shelters=master.shelters())
    started = clock.now
    run = drills.start_drill(master, scenario, actor="operator", speed=60)
    scheduler = drills.DrillScheduler(master, holder="only")
    scheduler.run(
        should_stop=lambda: drills.drill_run(master, run.incident_id).all_fired,
        sleep=clock.sleep,
        poll=0.5,
    )
    scheduler.release()

    def at(minutes: float) -> dict[str, drills.ScriptedCamera]:  # scenario minutes at 60×
        until = started + timedelta(minutes=minutes) / 60
        return drills.scripted_cameras(master, run.incident_id, until=until)

    assert at(5) == {}
    assert {k: v.action for k, v in at(7).items()} == {"town": "offline"}
    both = at(29)
    assert {k: v.action for k, v in both.items()} == {"town": "offline", "coast": "image"}
    picture = both["coast"].image_path()
    assert picture is not None and picture.name == "tsunami_drill_frame.png"
    assert both["coast"].caption == "前浜海岸の様子（訓練用画像）"
    # +01:45 brings the town camera back: only the coast picture is left.
    assert set(drills.scripted_cameras(master, run.incident_id)) == {"coast"}
    assert drills.scripted_cameras(master, master.live_incident().incident_id) == {}
    # A picture path can never leave the scenario folder.
    escape = drills.ScriptedCamera("coast", "image", "", started, image="../../pyproject.toml")
    assert escape.image_path() is None


def test_pause_resume_and_speed_change_shift_later_injects(master: Store) -> None:
    clock: FakeClock = master.clock  # type: ignore[assignment]
    scenario = drills.load_scenario(TSUNAMI, shelters=master.shelters())
    t0 = clock.now
    run = drills.start_drill(master, scenario, actor="operator", speed=60)
    scheduler = drills.DrillScheduler(master, holder="only")

    def advance(seconds: float) -> None:
        end = clock.now + timedelta(seconds=seconds)
        while clock.now < end:
            scheduler.tick()
            clock.sleep(min(0.5, (end - clock.now).total_seconds()))
        scheduler.tick()

    advance(9)  # +00:09:00 reached: injects up to the 浜改田本村タワー report
    assert drills.drill_run(master, run.incident_id).fired == 7
    drills.pause_drill(master, run.incident_id, actor="operator")
    paused = drills.drill_run(master, run.incident_id)
    assert paused.status == drills.PAUSED and paused.position(clock.now) == timedelta(minutes=9)
    advance(100)
    assert drills.drill_run(master, run.incident_id).fired == 7  # nothing fires while paused
    assert paused.due_at(scenario.injects[7]) is None
    with pytest.raises(drills.DrillError):
        drills.pause_drill(master, run.incident_id, actor="operator")
    drills.resume_drill(master, run.incident_id, actor="operator")
    drills.set_drill_speed(master, run.incident_id, 30, actor="operator")
    advance(10)  # 10 s at 30× = 5 scenario minutes: up to +00:14:00
    fired = drills.fired_injects(master, run.incident_id)
    assert [f.offset for f in fired[7:]] == ["+00:10:00", "+00:11:00", "+00:12:00", "+00:14:00"]
    resumed_at = t0 + timedelta(seconds=109)
    for record in fired[7:]:
        minutes = int(record.offset[4:6])
        assert record.at == resumed_at + timedelta(seconds=(minutes - 9) * 2)
    with pytest.raises(drills.DrillError, match="between 1× and 60×"):
        drills.set_drill_speed(master, run.incident_id, 120, actor="operator")
    drills.stop_drill(master, run.incident_id, actor="operator")
    assert master.incident(run.incident_id).closed_at is not None
    advance(600)
    assert len(drills.fired_injects(master, run.incident_id)) == 11  # stopped: no more injects
    actions = [
        e.payload["action"]
        for e in master.events(run.incident_id)
        if e.type == drills.DRILL_CONTROL
    ]
    assert actions == ["start", "pause", "resume", "speed", "stop"]
    with pytest.raises(drills.DrillError):
        drills.resume_drill(master, run.incident_id, actor="operator")


@pytest.mark.parametrize("action", ["pause", "speed", "stop"])
def test_a_control_and_its_event_are_saved_together_or_not_at_all(
    master: Store, monkeypatch: pytest.MonkeyPatch, action: str
) -> None:
    scenario = drills.load_scenario(TSUNAMI, shelters=master.shelters())
    run = drills.start_drill(master, scenario, actor="operator", speed=10)
    real_append = master.append

    def append_then_fail(*args, **kwargs):
        real_append(*args, **kwargs)  # the run's row is updated and its event written ...
        raise RuntimeError("connection lost")  # ... then the transaction fails

    def control() -> drills.DrillRun:
        if action == "pause":
            return drills.pause_drill(master, run.incident_id, actor="operator")
        if action == "speed":
            return drills.set_drill_speed(master, run.incident_id, 30, actor="operator")
        return drills.stop_drill(master, run.incident_id, actor="operator")

    monkeypatch.setattr(master, "append", append_then_fail)
    with pytest.raises(RuntimeError, match="connection lost"):
        control()
    monkeypatch.undo()
    after = drills.drill_run(master, run.incident_id)
    assert (after.status, after.speed, after.stopped_at) == (drills.RUNNING, 10.0, None)
    controls = master.events(run.incident_id, types=[drills.DRILL_CONTROL])
    assert [e.payload["action"] for e in controls] == ["start"]
    assert master.incident(run.incident_id).closed_at is None
    # Nothing half-done is left in the way: the same command works once the failure is gone.
    done = control()
    assert done.status == {"pause": drills.PAUSED, "speed": drills.RUNNING}.get(
        action, drills.STOPPED
    )
    controls = master.events(run.incident_id, types=[drills.DRILL_CONTROL])
    assert [e.payload["action"] for e in controls] == ["start", action]


def test_a_drill_that_fails_to_start_leaves_no_incident_and_no_run(
    master: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = drills.load_scenario(TSUNAMI, shelters=master.shelters())

    def fail(*_args, **_kwargs):
        raise RuntimeError("connection lost")

    monkeypatch.setattr(master, "append", fail)
    with pytest.raises(RuntimeError):
        drills.start_drill(master, scenario, actor="operator")
    monkeypatch.undo()
    assert master.incidents(kind=IncidentKind.DRILL) == []
    assert drills.drill_runs_list(master) == []


def test_exactly_one_scheduler_fires_across_processes(master: Store) -> None:
    clock: FakeClock = master.clock  # type: ignore[assignment]
    # A second Store on the same database stands for another worker or host.
    other = Store(master.url, schema=master.schema, clock=clock)
    try:
        scenario = drills.load_scenario(TSUNAMI, shelters=master.shelters())
        run = drills.start_drill(master, scenario, actor="operator", speed=60)
        first = drills.DrillScheduler(master, holder="worker-a")
        second = drills.DrillScheduler(other, holder="worker-b")
        assert first.acquire() and not second.acquire()
        clock.sleep(5)
        assert second.tick() == []  # due injects, but no lease: nothing fires
        fired = first.tick()
        minutes = [i.offset.total_seconds() / 60 for i in scenario.injects]
        assert [f.index for f in fired] == [n for n, m in enumerate(minutes) if m <= 5]
        clock.sleep(drills.LEASE_SECONDS + 1)  # worker-a dies without renewing
        assert second.acquire() and not first.acquire()
        assert first.tick() == []
        taken_over = [f.index for f in second.tick()]
        assert taken_over == [n for n, m in enumerate(minutes) if 5 < m <= 21]
        second.release()  # a clean shutdown hands over at once
        assert first.acquire()
        indexes = [f.index for f in drills.fired_injects(master, run.incident_id)]
        assert indexes == list(range(len(indexes))) and len(indexes) > len(fired)
    finally:
        other.dispose()


def test_takeover_counts_an_inject_appended_just_before_a_crash(master: Store) -> None:
    clock: FakeClock = master.clock  # type: ignore[assignment]
    scenario = drills.load_scenario(TSUNAMI, shelters=master.shelters())
    run = drills.start_drill(master, scenario, actor="operator", speed=60)
    # The previous holder appended inject 0 and died before recording it as fired.
    master.append(
        run.incident_id,
        scenario.injects[0].new_events(fired_at=clock.now),
        actor=drills.DRILL_ACTOR,
    )
    assert drills.drill_run(master, run.incident_id).fired == 0
    scheduler = drills.DrillScheduler(master, holder="successor")
    clock.sleep(1)
    fired = scheduler.tick()
    assert [f.index for f in fired] == [1]
    assert [f.index for f in drills.fired_injects(master, run.incident_id)] == [0, 1]


def test_staff_actions_land_in_the_drill_and_live_state_is_untouched(master: Store) -> None:
    clock: FakeClock = master.clock  # type: ignore[assignment]
    users = add_users(master)
    school = ids_by_name(master)["大篠小学校"]
    live = master.live_incident()
    hq.report_status(
        master,
        live.incident_id,
        users["hq1"],
        school,
        {"open_state": "open", "evacuees": 5},
        seen_version=0,
    )
    live_events = master.events(live.incident_id)
    live_state = master.state(live.incident_id)
    seen: list[str] = []
    master.add_listener(lambda incident_id, _events: seen.append(incident_id))

    scenario = drills.load_scenario(TSUNAMI, shelters=master.shelters())
    run = drills.start_drill(master, scenario, actor="operator", speed=60)
    scheduler = drills.DrillScheduler(master, holder="only")
    for _ in range(60):
        scheduler.tick()
        clock.sleep(1)
    drill = drills.active_incident_for(master, run.incident_id)
    assert drill.incident_id == run.incident_id and drill.is_drill

    def version() -> int:
        return master.state(drill.incident_id).shelter(school).version

    seen_first = version()
    hq.report_status(
        master,
        drill.incident_id,
        users["hq1"],
        school,
        {"open_state": "open", "evacuees": 200},
        seen_version=seen_first,
    )
    hq.report_status(
        master,
        drill.incident_id,
        users["staff1"],
        school,
        {"evacuees": 220},
        seen_version=version(),
    )
    with pytest.raises(ConflictError):  # optimistic concurrency works inside a drill too
        hq.report_status(
            master,
            drill.incident_id,
            users["hq2"],
            school,
            {"evacuees": 1},
            seen_version=seen_first,
        )

    assert master.state(drill.incident_id).shelter(school).evacuees == 220
    assert master.events(live.incident_id) == live_events
    assert master.state(live.incident_id) == live_state
    assert master.state(live.incident_id).shelter(school).evacuees == 5
    assert set(seen) == {run.incident_id}
    assert drills.active_incident_for(master, None).incident_id == live.incident_id
    # A session naming a live incident (or nothing that exists) never redirects writes.
    assert drills.active_incident_for(master, "no-such").incident_id == live.incident_id
    assert drills.active_incident_for(master, live.incident_id).incident_id == live.incident_id
    # After the drill ends, the user still sees it (banner) and writes are refused.
    drills.stop_drill(master, run.incident_id, actor="operator")
    ended = drills.active_incident_for(master, run.incident_id)
    assert ended.incident_id == run.incident_id and ended.closed_at is not None
    with pytest.raises(NotFoundError, match="closed"):
        hq.report_status(
            master,
            ended.incident_id,
            users["hq1"],
            school,
            {"evacuees": 3},
            seen_version=version(),
        )
    assert drills.open_drill_incidents(master) == []


# -- replay --------------------------------------------------------------------------------------


def _record(
    store: Store, clock: FakeClock, log: list[tuple[NewEvent, int]]
) -> tuple[str, list[Event]]:
    incident = store.create_incident("再生テスト", kind=IncidentKind.DRILL, actor="test")
    for new, gap in log:
        clock.sleep(gap)
        store.append(incident.incident_id, [new], actor="tester")
    return incident.incident_id, store.events(incident.incident_id)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(log=LOGS, every=st.integers(1, 6), probes=st.lists(st.integers(-5, 200_000), max_size=8))
def test_replay_state_at_t_is_the_fold_of_events_up_to_t(
    store: Store, log: list[tuple[NewEvent, int]], every: int, probes: list[int]
) -> None:
    clock = FakeClock()
    store.clock = clock
    drills.create_drill_tables(store)
    start = clock.now
    incident_id, events = _record(store, clock, log)
    StateProjection(store, every=every).build_snapshots(incident_id)
    moments = [start + timedelta(seconds=p) for p in probes]
    moments += [e.at for e in events] + [None]
    for moment in moments:
        expected = fold([e for e in events if moment is None or e.at <= moment], until=moment)
        if expected.incident_id is None:
            expected = State(incident_id=incident_id, as_of=moment)
        got = drills.state_at(store, incident_id, moment)
        assert got == expected
        assert got == store.state(incident_id, until=moment)


@settings(max_examples=60, deadline=None)
@given(log=LOGS)
def test_state_serialisation_round_trips_exactly(log: list[tuple[NewEvent, int]]) -> None:
    at = datetime(2025, 9, 1, tzinfo=UTC)
    events = []
    for seq, (new, gap) in enumerate(log, start=1):
        at += timedelta(seconds=gap, microseconds=seq)
        events.append(Event("drill-x", seq, at, "tester", new.type, dict(new.payload), new.subject))
    state = fold(events)
    through_json = json.loads(json.dumps(state_to_dict(state), ensure_ascii=False))
    assert state_from_dict(through_json) == state


def test_snapshots_bound_the_tail_and_the_store_writes_them(master: Store) -> None:
    clock: FakeClock = master.clock  # type: ignore[assignment]
    drills.create_drill_tables(master)
    master.projection = StateProjection(master, every=10)
    incident = master.create_incident("長い記録", kind=IncidentKind.DRILL, actor="test")
    for n in range(35):
        clock.sleep(30)
        master.append(
            incident.incident_id,
            [NewEvent(SHELTER_STATUS_REPORTED, {"shelter_id": "S", "evacuees": n})],
            actor="tester",
        )
    from sqlalchemy import select

    with master.engine.connect() as conn:
        seqs = (
            conn.execute(
                select(state_snapshots.c.seq)
                .where(state_snapshots.c.incident_id == incident.incident_id)
                .order_by(state_snapshots.c.seq)
            )
            .scalars()
            .all()
        )
    assert seqs == [10, 20, 30]
    assert master.projection.build_snapshots(incident.incident_id) == 0  # nothing new
    middle = master.events(incident.incident_id)[24].at
    assert drills.state_at(master, incident.incident_id, middle).shelter("S").evacuees == 24
    with pytest.raises(NotFoundError):
        drills.state_at(master, "no-such-incident")


# -- record → scenario ---------------------------------------------------------------------------


def test_export_then_import_reproduces_the_final_state(master: Store) -> None:
    from tests.drill_support import play_tsunami_drill

    clock: FakeClock = master.clock  # type: ignore[assignment]
    recorded = play_tsunami_drill(master, clock, speed=60)
    original = master.state(recorded.incident_id)

    text = drills.scenario_from_incident(master, recorded.incident_id, title="記録からの訓練")
    assert text.startswith("# yaml-language-server") and "訓練シナリオ" in text
    scenario = drills.parse_scenario(text, shelters=master.shelters())
    assert scenario.needed_shelters == recorded.needed_shelters
    # Drill time, not wall time: the 60× record becomes a 2 h 40 min scenario again.
    assert timedelta(hours=2, minutes=20) < scenario.length <= timedelta(hours=2, minutes=41)
    staff = [i for i in scenario.injects if "大篠小学校" in i.summary and i.kind == "shelter"]
    assert staff

    replayed = drills.run_to_end(master, scenario, actor="operator", clock_step=clock.sleep)
    again = master.state(replayed.incident_id)
    assert drills.state_content(again) == drills.state_content(original)
    assert again.shelters.keys() == original.shelters.keys()
    # Only scenario-made events in the replay: the exported record plays every role.
    assert {e.actor for e in master.events(replayed.incident_id)} == {
        drills.DRILL_ACTOR,
        "operator",
    }


def test_export_keeps_corrections_areas_and_live_incidents(master: Store) -> None:
    clock: FakeClock = master.clock  # type: ignore[assignment]
    users = add_users(master)
    school = ids_by_name(master)["大篠小学校"]
    live = master.live_incident()
    master.append(
        live.incident_id,
        [NewEvent(HAZARD_ANNOUNCED, {"hazard": "flood", "title": "洪水警報"})],
        actor="hq1",
    )
    clock.sleep(120)
    hq.report_status(
        master,
        live.incident_id,
        users["hq1"],
        school,
        {"open_state": "open", "evacuees": 30, "urgent_needs": ["medical"]},
        seen_version=0,
    )
    clock.sleep(60)
    hq.report_status(
        master,
        live.incident_id,
        users["hq1"],
        school,
        {"evacuees": 13},
        seen_version=master.state(live.incident_id).shelter(school).version,
        correction=True,
        reason="桁の打ち間違い",
    )
    hq.report_area(
        master, live.incident_id, users["hq1"], "稲生地区", at_home=12, in_car=3, seen_version=0
    )
    master.append(
        live.incident_id,
        [NewEvent(drills.CAMERA_SCRIPTED, {"camera_id": "coast", "action": "offline"})],
        actor="hq1",
    )
    text = drills.scenario_from_incident(master, live.incident_id)
    assert "correction: true" in text and "桁の打ち間違い" in text and "稲生地区" in text
    scenario = drills.parse_scenario(text, shelters=master.shelters())
    assert scenario.hazard is Hazard.FLOOD
    assert [drills.format_offset(i.offset) for i in scenario.injects] == [
        "+00:00:00",
        "+00:02:00",
        "+00:03:00",
        "+00:03:00",
        "+00:03:00",
    ]
    replayed = drills.run_to_end(master, scenario, actor="operator", clock_step=clock.sleep)
    assert drills.state_content(master.state(replayed.incident_id)) == drills.state_content(
        master.state(live.incident_id)
    )


def test_scenario_clock_maps_wall_time_to_drill_time() -> None:
    t0 = datetime(2025, 9, 1, tzinfo=UTC)

    def control(seq: int, seconds: float, action: str, speed: float, elapsed: float) -> Event:
        return Event(
            "d",
            seq,
            t0 + timedelta(seconds=seconds),
            "op",
            drills.DRILL_CONTROL,
            {"action": action, "speed": speed, "elapsed_s": elapsed},
        )

    clock = drills.scenario_clock(
        [
            control(1, 0, "start", 60, 0),
            control(2, 10, "pause", 60, 600),
            control(3, 70, "resume", 60, 600),
            control(4, 80, "speed", 1, 1200),
        ]
    )
    assert clock(t0 + timedelta(seconds=5)) == timedelta(minutes=5)
    assert clock(t0 + timedelta(seconds=40)) == timedelta(minutes=10)  # paused
    assert clock(t0 + timedelta(seconds=75)) == timedelta(minutes=15)
    assert clock(t0 + timedelta(seconds=140)) == timedelta(minutes=21)


def test_offsets_and_titles() -> None:
    assert drills.format_offset(timedelta(hours=2, minutes=5, seconds=9)) == "+02:05:09"
    assert drills.parse_offset("+102:00:01") == timedelta(hours=102, seconds=1)
    with pytest.raises(ValueError):
        drills.parse_offset("00:01:00")
    assert drills.drill_title("【訓練シナリオ】津波") == "【訓練シナリオ】津波"
    assert drills.drill_title("津波想定") == "【訓練】津波想定"
