"""The 避難情報 panel, the staffed choice and /hq/incidents through the Flask test client:
the callbacks a browser would call, role refusals, drills at drill time, and the named
incident from opening to replay."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from plotly.utils import PlotlyJSONEncoder

from disaster_dx import drills
from disaster_dx.after_action import after_action
from disaster_dx.events import NewEvent
from disaster_dx.model import OpenState
from disaster_dx.web import drill_pages, ids
from disaster_dx.web.context import EXTENSION_KEY, runtime_of
from tests.conftest import add_staff_user
from tests.drill_support import TSUNAMI, FakeClock, ids_by_name, play_tsunami_drill
from tests.webtools import callback_request, login_client

SCHOOL = "E3920400009111"  # 稲生ふれあい館: 指定避難所 and 指定緊急避難場所


@pytest.fixture
def app(make_app):
    app = make_app()
    runtime_of(app.server).drill_scheduler.enabled = False  # tests tick the scheduler themselves
    return app


@pytest.fixture
def store(app):
    return app.server.extensions[EXTENSION_KEY].store


def _client(app, store, username: str, *roles: str, shelters: tuple[str, ...] = ()):
    password = add_staff_user(store, username, *roles, shelters=shelters)
    client = app.server.test_client()
    login_client(client, username, password)
    return client


def _call(client, app, output: str, values: dict, triggered: str):
    body = callback_request(app, output, values, triggered)
    return client.post("/_dash-update-component", json=body)


def _text(value) -> str:
    return json.dumps(value, ensure_ascii=False, cls=PlotlyJSONEncoder)


def _refresh(client, app, seen=None, *, lang: str = "") -> dict:
    values = {(ids.HQ_SIT_SEQ, "data"): seen, ("_pages_location", "search"): lang}
    reply = _call(client, app, ids.HQ_SIT_ALERTS, values, f"{ids.HQ_FORCE}.data")
    assert reply.status_code == 200, reply.data[:300]
    return reply.json["response"]


def _prepare(client, app, trigger: str, **values) -> dict:
    states = {("_pages_location", "search"): values.pop("search", "")}
    states.update({(key, "value"): value for key, value in values.items()})
    reply = _call(client, app, ids.HQ_ALERT_PENDING, states, f"{trigger}.n_clicks")
    assert reply.status_code == 200, reply.data[:300]
    return reply.json["response"]


def _confirm(client, app, pending: dict, *, search: str = ""):
    values = {
        (ids.HQ_ALERT_CONFIRM, "n_clicks"): 1,
        (ids.HQ_ALERT_PENDING, "data"): pending,
        (ids.HQ_FORCE, "data"): 0,
        ("_pages_location", "search"): search,
    }
    return _call(client, app, ids.HQ_ALERT_RESULT, values, f"{ids.HQ_ALERT_CONFIRM}.n_clicks")


def _live(store):
    return store.live_incident().incident_id


def test_issue_and_lift_from_the_panel_with_a_confirmation_step(app, store) -> None:
    client = _client(app, store, "hq1", "hq")
    assert client.get("/hq").status_code == 200
    first = _refresh(client, app)
    assert "発令中の避難情報はありません" in _text(first[ids.HQ_SIT_ALERTS]["children"])

    asked = _prepare(
        client,
        app,
        ids.HQ_ALERT_ISSUE,
        **{
            ids.HQ_ALERT_LEVEL: "evacuate",
            ids.HQ_ALERT_HAZARD: "tsunami",
            ids.HQ_ALERT_AREAS: ["all"],
            ids.HQ_ALERT_REASON: "大津波警報の発表",
        },
    )
    pending = asked[ids.HQ_ALERT_PENDING]["data"]
    sentence = _text(asked[ids.HQ_ALERT_CONFIRM_TEXT]["children"])
    assert "警戒レベル4 避難指示（津波）を「南国市全域」に発令します" in sentence
    assert (
        "理由：大津波警報の発表" in sentence and asked[ids.HQ_ALERT_CONFIRM_BOX]["hidden"] is False
    )
    assert store.state(_live(store)).alerts == {}  # nothing written before 確定する

    done = _confirm(client, app, pending)
    assert done.status_code == 200
    response = done.json["response"]
    assert "記録しました：警戒レベル4 避難指示（津波）" in _text(response[ids.HQ_ALERT_RESULT])
    assert response[ids.HQ_FORCE]["data"] == 1  # the board and the panel re-read at once
    (alert,) = store.state(_live(store)).alerts_in_force
    assert (alert.level.number, alert.issued_by, alert.reason) == (4, "hq1", "大津波警報の発表")

    panel = _refresh(client, app, first[ids.HQ_SIT_SEQ]["data"])
    shown = _text(panel[ids.HQ_SIT_ALERTS]["children"])
    assert "警戒レベル" in shown and "避難指示" in shown and "#aa00aa" in shown
    assert "南国市全域" in shown and "hq1" in shown and "発令" in shown
    assert _text(panel[ids.HQ_SIT_NEEDED_COUNT]["children"]) == '"63か所"'
    assert len(panel[ids.HQ_NEEDED_LAYER]["data"]["features"]) == 63
    (area,) = panel[ids.HQ_ALERT_AREA_LAYER]["data"]["features"]  # 全域: the city outline
    assert area["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert area["properties"]["label"] == "警戒レベル4 避難指示（津波）"
    assert len(json.dumps(area)) < 30_000  # simplified outline, not the 100 KB file
    english = _refresh(client, app, lang="?lang=en")
    assert "Evacuation instruction" in _text(english[ids.HQ_SIT_ALERTS]["children"])

    lift = _prepare(
        client,
        app,
        ids.HQ_ALERT_LIFT,
        **{ids.HQ_ALERT_LIFT_ID: alert.alert_id, ids.HQ_ALERT_LIFT_REASON: "津波警報に切替"},
    )
    assert "警戒レベル4 避難指示（津波・南国市全域）を解除します" in _text(
        lift[ids.HQ_ALERT_CONFIRM_TEXT]["children"]
    )
    cancelled = _prepare(client, app, ids.HQ_ALERT_CANCEL)
    assert cancelled[ids.HQ_ALERT_PENDING]["data"] is None
    assert "取り消しました" in _text(cancelled[ids.HQ_ALERT_RESULT]["children"])
    assert _confirm(client, app, lift[ids.HQ_ALERT_PENDING]["data"]).status_code == 200
    lifted = store.state(_live(store)).alerts[alert.alert_id]
    assert lifted.lifted_by == "hq1" and lifted.lift_reason == "津波警報に切替"
    again = _confirm(client, app, lift[ids.HQ_ALERT_PENDING]["data"]).json["response"]
    assert "記録できませんでした" in _text(again[ids.HQ_ALERT_RESULT])  # already lifted

    missing = _prepare(
        client,
        app,
        ids.HQ_ALERT_ISSUE,
        **{ids.HQ_ALERT_LEVEL: "evacuate", ids.HQ_ALERT_HAZARD: "tsunami"},
    )
    assert missing[ids.HQ_ALERT_PENDING]["data"] is None
    assert "対象地区を選んでください" in _text(missing[ids.HQ_ALERT_RESULT]["children"])


def test_other_roles_are_refused_and_audited(app, store) -> None:
    staff = _client(app, store, "staff1", "shelter_staff", shelters=(SCHOOL,))
    pending = {
        "incident": _live(store),
        "action": "issue",
        "level": "emergency_safety",
        "hazard": "tsunami",
        "areas": ["all"],
        "reason": "",
    }
    assert _confirm(staff, app, pending).status_code == 403
    assert (
        staff.post(
            "/_dash-update-component",
            json=callback_request(app, ids.HQ_SIT_ALERTS, {}, f"{ids.HQ_FORCE}.data"),
        ).status_code
        == 403
    )
    refused = store.audit_log(action="access.refused")
    assert {r["target"] for r in refused} >= {"confirm", "refresh"}
    assert all(r["actor"] == "staff1" for r in refused)
    assert store.state(_live(store)).alerts == {}
    anonymous = app.server.test_client()
    body = callback_request(app, ids.HQ_ALERT_RESULT, {}, f"{ids.HQ_ALERT_CONFIRM}.n_clicks")
    assert anonymous.post("/_dash-update-component", json=body).status_code == 401


def test_warnings_are_recorded_with_the_time_until_arrival_and_cleared(app, store) -> None:
    clock = FakeClock()
    store.clock = clock
    client = _client(app, store, "hq1", "hq")
    asked = _prepare(
        client,
        app,
        ids.HQ_WARN_SAVE,
        **{
            ids.HQ_WARN_KIND: "major_tsunami_warning",
            ids.HQ_WARN_MINUTES: 25,
            ids.HQ_WARN_SOURCE: "気象庁",
        },
    )
    assert "「大津波警報」（津波）を発表中として記録します" in _text(
        asked[ids.HQ_ALERT_CONFIRM_TEXT]["children"]
    )
    assert _confirm(client, app, asked[ids.HQ_ALERT_PENDING]["data"]).status_code == 200
    warning = store.state(_live(store)).hazards[next(iter(store.state(_live(store)).hazards))]
    assert warning.arrival_at == clock.now + timedelta(minutes=25) and warning.source == "気象庁"
    panel = _refresh(client, app)
    shown = _text(panel[ids.HQ_SIT_WARNINGS]["children"])
    assert "大津波警報" in shown and "気象庁" in shown
    assert "津波到達予想時刻 09:25（到達まで あと25分）" in shown
    seen = panel[ids.HQ_SIT_SEQ]["data"]
    assert seen["ticking"] is True
    clock.sleep(10 * 60)  # nothing written, but the countdown moves on every poll
    values = {(ids.HQ_SIT_SEQ, "data"): seen, ("_pages_location", "search"): ""}
    tick = _call(client, app, ids.HQ_SIT_ALERTS, values, f"{ids.HQ_INTERVAL}.n_intervals")
    assert "あと15分" in _text(tick.json["response"][ids.HQ_SIT_WARNINGS]["children"])
    assert ids.HQ_SIT_ALERTS not in tick.json["response"]  # the rest stays as it is

    bad = _prepare(
        client,
        app,
        ids.HQ_WARN_SAVE,
        **{ids.HQ_WARN_KIND: "tsunami_warning", ids.HQ_WARN_MINUTES: -3},
    )
    assert "0以上の整数" in _text(bad[ids.HQ_ALERT_RESULT]["children"])
    clear = _prepare(client, app, ids.HQ_WARN_CLEAR, **{ids.HQ_WARN_CLEAR_ID: "tsunami"})
    assert _confirm(client, app, clear[ids.HQ_ALERT_PENDING]["data"]).status_code == 200
    assert store.state(_live(store)).hazards == {}


def test_open_the_shelters_that_need_opening_from_the_versions_seen(app, store) -> None:
    from disaster_dx import alerts, auth

    client = _client(app, store, "hq1", "hq")
    hq_user = auth.get_user(store, "hq1")
    alerts.issue_alert(
        store,
        _live(store),
        hq_user,
        level=alerts.AlertLevel.EVACUATE,
        hazard=alerts.Hazard.TSUNAMI,
        areas=["all"],
    )
    panel = _refresh(client, app)
    seen = panel[ids.HQ_SIT_NEEDED_SEEN]["data"]
    assert len(seen["ids"]) == 63 and panel[ids.HQ_SIT_OPEN_NEEDED]["disabled"] is False
    assert "63か所をすべて「開設」にします" in panel[ids.HQ_SIT_OPEN_NEEDED_CONFIRM]["message"]

    # Someone closes one of them after HQ looked: that one is skipped and named, the rest
    # open in one batch (the per-field rule: never overwrite a change HQ has not seen).
    other = seen["ids"][5]
    store.append(
        _live(store),
        [NewEvent("shelter.status_reported", {"shelter_id": other, "open_state": "closed"})],
        actor="hq2",
    )

    def open_needed(seen_now):
        values = {
            (ids.HQ_SIT_OPEN_NEEDED_CONFIRM, "submit_n_clicks"): 1,
            (ids.HQ_SIT_NEEDED_SEEN, "data"): seen_now,
            (ids.HQ_FORCE, "data"): 0,
            ("_pages_location", "search"): "",
        }
        trigger = f"{ids.HQ_SIT_OPEN_NEEDED_CONFIRM}.submit_n_clicks"
        return _call(client, app, ids.HQ_SIT_NEEDED_RESULT, values, trigger).json["response"]

    done = open_needed(seen)
    text = _text(done[ids.HQ_SIT_NEEDED_RESULT])
    assert "62か所を「開設」にしました" in text
    assert "そのままにしました" in text and store.shelter(other).name in text
    events = [e for e in store.events(_live(store)) if e.type == "shelter.status_reported"]
    opened = [e for e in events if e.actor == "hq1"]
    assert len(opened) == 62 and len({e.at for e in opened}) == 1  # the bulk action: one batch
    assert store.state(_live(store)).shelter(other).open_state is OpenState.CLOSED
    # Closed by HQ while the alert is in force: a decision, no longer listed (never re-opened).
    fresh = _refresh(client, app)[ids.HQ_SIT_NEEDED_SEEN]["data"]
    assert not fresh or other not in fresh.get("ids", [])
    after = _refresh(client, app)
    assert "開設が必要な避難所はありません" in _text(after[ids.HQ_SIT_NEEDED]["children"])
    assert (
        after[ids.HQ_SIT_OPEN_NEEDED]["disabled"] is True
        and not after[ids.HQ_NEEDED_LAYER]["data"]["features"]
    )


def test_staffed_choice_from_the_detail_changes_the_board_and_tiles(app, store) -> None:
    clock = FakeClock()
    store.clock = clock
    client = _client(app, store, "hq1", "hq")
    tower = ids_by_name(store)["津波避難施設　久枝南タワー"]
    for sid in (tower, SCHOOL):
        store.append(
            _live(store),
            [NewEvent("shelter.status_reported", {"shelter_id": sid, "open_state": "open"})],
            actor="hq1",
        )
    clock.sleep(2 * 3600)

    def board() -> tuple[dict, dict]:
        values = {(ids.HQ_SEQ, "data"): 0, ("_pages_location", "search"): ""}
        reply = _call(client, app, ids.HQ_BOARD, values, f"{ids.HQ_FORCE}.data").json["response"]
        rows = {r["id"]: r for r in reply[ids.HQ_BOARD]["rowData"]}
        return rows, reply[ids.HQ_TILES]

    rows, tiles = board()
    assert rows[tower]["stale"] == "" and rows[tower]["staffed_label"] == "無人"  # a tower
    assert rows[SCHOOL]["stale"] == "要確認" and rows[SCHOOL]["staffed_label"] == "常駐"
    assert '"報告遅れ"' in _text(tiles) and _stale_tile(tiles) == "1"

    values = {(ids.HQ_SHELTERS, "hideout"): {"selected": tower}, ("_pages_location", "search"): ""}
    shown = _call(client, app, ids.HQ_STAFFED_BOX, values, f"{ids.HQ_SHELTERS}.hideout")
    box = shown.json["response"]
    assert "種別による既定：無人" in _text(box[ids.HQ_STAFFED_BOX]["children"])
    seen = box[ids.HQ_STAFFED_SEEN]["data"]
    save = {
        (ids.HQ_STAFFED_SAVE, "n_clicks"): 1,
        (ids.HQ_STAFFED_CHOICE, "value"): "yes",
        (ids.HQ_STAFFED_SEEN, "data"): seen,
        (ids.HQ_FORCE, "data"): 0,
        ("_pages_location", "search"): "",
    }
    saved = _call(client, app, ids.HQ_STAFFED_RESULT, save, f"{ids.HQ_STAFFED_SAVE}.n_clicks")
    assert "常駐（本部設定）" in _text(saved.json["response"][ids.HQ_STAFFED_RESULT])
    rows, tiles = board()
    assert rows[tower]["stale"] == "要確認" and _stale_tile(tiles) == "2"
    assert store.events(_live(store))[-1].type == "shelter.correction"
    # The same choice again from the old screen changes nothing anyone else chose: no conflict.
    again = _call(client, app, ids.HQ_STAFFED_RESULT, save, f"{ids.HQ_STAFFED_SAVE}.n_clicks")
    assert "保存しました" in _text(again.json["response"])
    # Another choice from the old screen, over a change it never showed, is refused.
    other_choice = {**save, (ids.HQ_STAFFED_CHOICE, "value"): "no"}
    stale = _call(
        client, app, ids.HQ_STAFFED_RESULT, other_choice, f"{ids.HQ_STAFFED_SAVE}.n_clicks"
    )
    assert "先にこの避難所を更新しました" in _text(stale.json["response"])  # old version
    assert store.state(_live(store)).shelter(tower).staffed is True


def _stale_tile(tiles) -> str:
    """The number on the 報告遅れ tile (its value span) in a callback's tile children."""
    tiles = tiles["children"] if isinstance(tiles, dict) else tiles
    tile = next(t for t in tiles if t["props"]["id"] == "hq-tile-stale")
    return str(tile["props"]["children"][1]["props"]["children"][0]["props"]["children"])


def test_a_warning_inject_reaches_a_players_panel_at_drill_time(app, store) -> None:
    clock = FakeClock()
    store.clock = clock
    scenario = drills.load_scenario(TSUNAMI, shelters=store.shelters())
    run = drills.start_drill(store, scenario, actor="op1", speed=60)
    player = _client(app, store, "hq1", "hq")
    with player.session_transaction() as session:
        session[drill_pages.DRILL_SESSION_KEY] = run.incident_id
    scheduler = drills.DrillScheduler(store, holder="test")

    def at_drill_minute(minute: int) -> dict:
        clock.now = run.started_at + timedelta(seconds=minute)  # 60×: a minute is a second
        scheduler.tick()
        return _refresh(player, app)

    before = at_drill_minute(2)
    warnings = _text(before[ids.HQ_SIT_WARNINGS]["children"])
    assert "南海トラフ地震 発生" in warnings and "大津波警報" not in warnings
    assert "本部長へ：" in _text(before[ids.HQ_SIT_MESSAGES]["children"])  # +0:01 message

    fired = at_drill_minute(3)
    warnings = _text(fired[ids.HQ_SIT_WARNINGS]["children"])
    assert "大津波警報（高知県）" in warnings
    # The arrival and every time shown are the scenario's clock (09:00 start), in drill time.
    assert "津波到達予想時刻 09:28（到達まで あと25分）" in warnings and "09:03 発表" in warnings
    assert fired[ids.HQ_SIT_SEQ]["data"]["incident"] == run.incident_id

    later = at_drill_minute(5)
    messages = _text(later[ids.HQ_SIT_MESSAGES]["children"])
    assert "避難所班へ：" in messages and "沿岸の津波避難タワー" in messages
    assert "あと23分" in _text(later[ids.HQ_SIT_WARNINGS]["children"])
    # The live incident's panel shows none of it.
    live_hq = _client(app, store, "hq2", "hq")
    assert "大津波警報" not in _text(_refresh(live_hq, app)[ids.HQ_SIT_WARNINGS])


def test_overdue_counts_agree_between_hq_replay_and_report_in_a_60x_drill(app, store) -> None:
    clock = FakeClock()
    store.clock = clock
    add_staff_user(store, "hqa", "hq")
    player = app.server.test_client()
    login_client(player, "hqa", "pw-hqa-0123456789")
    tiles: dict[int, str] = {}
    started: list = []

    def watch(minute: int, run) -> None:
        if not started:
            started.append(run.incident_id)
            with player.session_transaction() as session:
                session[drill_pages.DRILL_SESSION_KEY] = run.incident_id
        if minute in (70, 110, 120, 141, 150):
            values = {(ids.HQ_SEQ, "data"): 0, ("_pages_location", "search"): ""}
            reply = _call(player, app, ids.HQ_BOARD, values, f"{ids.HQ_FORCE}.data")
            tiles[minute] = _stale_tile(reply.json["response"][ids.HQ_TILES])

    run = play_tsunami_drill(store, clock, speed=60, on_minute=watch)
    end_minute = 160
    assert drills.drill_run(store, run.incident_id).status == drills.STOPPED
    tiles[end_minute] = _stale_tile(
        _call(
            player,
            app,
            ids.HQ_BOARD,
            {(ids.HQ_SEQ, "data"): 0, ("_pages_location", "search"): ""},
            f"{ids.HQ_FORCE}.data",
        ).json["response"][ids.HQ_TILES]
    )
    report = after_action(store, run.incident_id, stale_after=timedelta(minutes=60))
    replayer = _client(app, store, "op1", "drill")
    first_at = store.events(run.incident_id, limit=1)[0].at
    for minute, shown in tiles.items():
        slider = (run.started_at + timedelta(seconds=minute) - first_at).total_seconds()
        seek = _call(
            replayer,
            app,
            drill_pages.REPLAY_TILES,
            {
                (drill_pages.REPLAY_SLIDER, "value"): slider,
                (drill_pages.REPLAY_INCIDENT, "data"): run.incident_id,
            },
            f"{drill_pages.REPLAY_SLIDER}.value",
        )
        replay_tile = next(
            t
            for t in seek.json["response"][drill_pages.REPLAY_TILES]["children"]
            if t["props"]["id"] == "drill-replay-tile-stale"
        )["props"]["children"][1]["props"]["children"][0]["props"]["children"]
        expected = report.stale_at(timedelta(minutes=minute))
        assert (minute, shown, replay_tile) == (minute, str(expected), str(expected))
    # Counted in drill minutes: at +2:00 three staffed sites had gone an hour without a
    # report (on the wall clock only two minutes had passed).
    assert tiles[120] == "3" and tiles[end_minute] == "2"


def test_open_a_named_incident_write_close_and_replay_it(app, store) -> None:
    client = _client(app, store, "hq1", "hq")
    page = client.get("/hq/incidents")
    assert page.status_code == 200
    staff = _client(app, store, "staff1", "shelter_staff", shelters=(SCHOOL,))
    opened_values = {
        (ids.INC_OPEN, "n_clicks"): 1,
        (ids.INC_NAME, "value"): "令和8年 台風第10号",
        (ids.INC_HAZARD, "value"): "flood",
        (ids.INC_START, "value"): "2026-09-01 06:00",
        ("_pages_location", "search"): "",
    }
    refused = _call(staff, app, ids.INC_OPEN_RESULT, opened_values, f"{ids.INC_OPEN}.n_clicks")
    assert refused.status_code == 403
    opened = _call(client, app, ids.INC_OPEN_RESULT, opened_values, f"{ids.INC_OPEN}.n_clicks")
    assert "「令和8年 台風第10号」を始めました" in _text(opened.json["response"])
    incident = store.live_incident()
    assert incident.named and incident.hazard.value == "flood"
    assert incident.started_at.isoformat().startswith("2026-08-31T21:00")  # 06:00 JST

    # The name in the HQ header, the printable list and the board exports.
    from tests.test_hq_web import _form_values, _submit

    assert _submit(client, app, _form_values(SCHOOL, 0)).status_code == 200
    with app.server.test_request_context("/hq"):
        from flask_login import login_user

        from disaster_dx import auth
        from disaster_dx.web import hq
        from disaster_dx.web.security import WebUser

        login_user(WebUser(auth.get_user(store, "hq1")))
        assert "南国市 災害対策本部｜令和8年 台風第10号" in _text(hq.layout())
    assert "災害名: 令和8年 台風第10号" in client.get("/hq/export/print").get_data(as_text=True)
    board = client.get("/hq/export/board.csv").data.decode("utf-8-sig").splitlines()
    assert board[0].endswith(",災害名") and board[1].endswith(",令和8年 台風第10号")
    geo = client.get("/hq/export/board.geojson").json
    assert geo["incident"] == {"id": incident.incident_id, "title": "令和8年 台風第10号"}

    second = {**opened_values, (ids.INC_NAME, "value"): "令和8年 台風第11号"}
    again = _call(client, app, ids.INC_OPEN_RESULT, second, f"{ids.INC_OPEN}.n_clicks")
    assert "「令和8年 台風第10号」が開いています。同時に開ける実災害は1つだけです" in _text(
        again.json["response"]
    )

    def close(force: list[str]):
        values = {
            (ids.INC_CLOSE_CONFIRM, "submit_n_clicks"): 1,
            (ids.INC_FORCE, "value"): force,
            ("_pages_location", "search"): "",
        }
        trigger = f"{ids.INC_CLOSE_CONFIRM}.submit_n_clicks"
        return _text(_call(client, app, ids.INC_CLOSE_RESULT, values, trigger).json["response"])

    blocked = close([])
    assert "開設中の避難所が1か所（稲生ふれあい館）" in blocked
    assert store.incident(incident.incident_id).closed_at is None
    assert "「令和8年 台風第10号」を終えました" in close(["force"])
    assert store.incident(incident.incident_id).closed_by == "hq1"
    assert not store.live_incident().named  # the next disaster starts unnamed

    # The closed incident is listed, replayed and reported for HQ (not for drill operators).
    listing = client.get("/hq/incidents").get_data(as_text=True)
    assert listing  # Dash renders the page in the browser; the layout is checked below
    with app.server.test_request_context("/hq/incidents"):
        from flask_login import login_user

        from disaster_dx import auth
        from disaster_dx.web import incidents_page
        from disaster_dx.web.security import WebUser

        login_user(WebUser(auth.get_user(store, "hq1")))
        records = _text(incidents_page.layout())
    assert f"/drill/replay/{incident.incident_id}" in records and "令和8年 台風第10号" in records
    with app.server.test_request_context(f"/drill/replay/{incident.incident_id}"):
        from flask_login import login_user

        from disaster_dx import auth
        from disaster_dx.web.security import WebUser

        login_user(WebUser(auth.get_user(store, "hq1")))
        replay = _text(drill_pages.replay_layout(incident_id=incident.incident_id))
    assert "記録の再生（実災害）" in replay and "令和8年 台風第10号" in replay
    assert "稲生ふれあい館" in replay
    report = client.get(f"/drill/report/{incident.incident_id}").get_data(as_text=True)
    assert "実災害：令和8年 台風第10号" in report and "事後検証報告書" in report
    operator = _client(app, store, "op1", "drill")
    assert operator.get(f"/drill/report/{incident.incident_id}").status_code == 403
