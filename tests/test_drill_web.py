"""Drill pages through the Flask test client: roles, the operator's commands, join/leave."""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path

import pytest
import yaml
from plotly.utils import PlotlyJSONEncoder

from disaster_dx import drills
from disaster_dx.bundled import ensure_initialised
from disaster_dx.web import drill_pages as pages
from disaster_dx.web.context import EXTENSION_KEY, runtime_of
from tests.conftest import add_staff_user
from tests.drill_support import TSUNAMI, FakeClock, play_tsunami_drill
from tests.webtools import callback_request, login_client

SCHOOL = "E3920400089111"  # 大篠小学校


@pytest.fixture
def app(make_app):
    app = make_app()
    runtime_of(app.server).drill_scheduler.enabled = False  # tests tick the scheduler themselves
    return app


@pytest.fixture
def store(app):
    return app.server.extensions[EXTENSION_KEY].store


def _client(app, store, username: str, *roles: str):
    password = add_staff_user(store, username, *roles)
    client = app.server.test_client()
    login_client(client, username, password)
    return client


def _call(client, app, output: str, values: dict, triggered: str):
    body = callback_request(app, output, values, triggered)
    return client.post("/_dash-update-component", json=body)


def _csrf(client) -> str:
    page = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_anonymous_and_wrong_roles_get_nothing(app, store) -> None:
    anonymous = app.server.test_client()
    for path in (
        "/drill",
        "/drill/replay/x",
        "/drill/join",
        "/drill/report/x",
        "/drill/export/x.yaml",
        "/drill/plotly.min.js",
    ):
        response = anonymous.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"] == f"/login?next={path}"
    check = callback_request(app, pages.CHECK, {}, f"{pages.VALIDATE}.n_clicks")
    assert anonymous.post("/_dash-update-component", json=check).status_code == 401

    hq_client = _client(app, store, "hq1", "hq")
    refused = _call(
        hq_client,
        app,
        pages.CHECK,
        {(pages.SCENARIO, "value"): "nankai_trough_tsunami.yaml"},
        f"{pages.VALIDATE}.n_clicks",
    )
    assert refused.status_code == 403  # the operator console is for the drill role
    with app.server.test_request_context("/drill"):
        from flask_login import login_user

        from disaster_dx import auth
        from disaster_dx.web.security import WebUser

        login_user(WebUser(auth.get_user(store, "hq1")))
        rendered = json.dumps(pages.operator_layout(), cls=PlotlyJSONEncoder, ensure_ascii=False)
    assert "権限がありません" in rendered and pages.START not in rendered
    assert any(a["action"] == "access.refused" for a in store.audit_log(actor="hq1"))

    # Past live incidents are replayed by HQ only; a drill operator gets a refusal.
    live = store.live_incident()
    operator = _client(app, store, "op1", "drill")
    assert operator.get(f"/drill/report/{live.incident_id}").status_code == 403
    assert hq_client.get(f"/drill/report/{live.incident_id}").status_code == 200
    seek = _call(
        operator,
        app,
        pages.REPLAY_SHELTERS,
        {(pages.REPLAY_SLIDER, "value"): 0, (pages.REPLAY_INCIDENT, "data"): live.incident_id},
        f"{pages.REPLAY_SLIDER}.value",
    )
    assert seek.status_code == 403


def test_operator_validates_starts_controls_and_sees_the_log(app, store) -> None:
    client = _client(app, store, "op1", "drill")
    assert client.get("/drill").status_code == 200
    ok = _call(
        client,
        app,
        pages.CHECK,
        {(pages.SCENARIO, "value"): "nankai_trough_tsunami.yaml"},
        f"{pages.VALIDATE}.n_clicks",
    ).json["response"]
    assert "問題はありません" in json.dumps(ok[pages.CHECK], ensure_ascii=False)
    loaded = ok[pages.SCENARIO_TEXT]["data"]
    assert loaded["source"] == "nankai_trough_tsunami.yaml" and "訓練シナリオ" in loaded["text"]

    bad = "version: 1\nlabel: 訓練シナリオ\ntitle: x\nhazard: 津波\nstart_time: '09:00'\n"
    bad += (
        "injects:\n  - at: '+00:00:00'\n    kind: shelter\n    shelter: どこか\n    evacuees: 1\n"
    )
    upload = "data:application/x-yaml;base64," + base64.b64encode(bad.encode()).decode()
    refused = _call(
        client,
        app,
        pages.CHECK,
        {(pages.UPLOAD, "contents"): upload, (pages.UPLOAD, "filename"): "mine.yaml"},
        f"{pages.UPLOAD}.contents",
    )
    shown = json.dumps(refused.json["response"][pages.CHECK], ensure_ascii=False)
    assert "mine.yaml：1件の問題" in shown and "9行目" in shown and "どこか" in shown
    assert refused.json["response"][pages.SCENARIO_TEXT]["data"] is None

    clock = FakeClock()
    store.clock = clock
    started = _call(
        client,
        app,
        pages.RESULT,
        {(pages.SCENARIO_TEXT, "data"): loaded, (pages.SPEED, "value"): 60},
        f"{pages.START_CONFIRM}.submit_n_clicks",
    )
    result = started.json["response"]
    incident_id = result[pages.RUN]["value"]
    assert "訓練を開始しました" in result[pages.RESULT]["children"]
    assert store.incident(incident_id).is_drill
    assert not store.incident(incident_id).show_on_public  # not announced unless ticked

    scheduler = drills.DrillScheduler(store, holder="test")
    for _ in range(4):
        scheduler.tick()
        clock.sleep(1)
    refresh = _call(
        client,
        app,
        pages.STATUS,
        {(pages.RUN, "value"): incident_id},
        f"{pages.INTERVAL}.n_intervals",
    ).json["response"]
    fired = refresh[pages.FIRED]["rowData"]
    assert [row["index"] for row in fired] == [3, 2, 1]  # newest first
    assert fired[-1]["summary"].startswith("地震：南海トラフ地震")
    upcoming = refresh[pages.UPCOMING]["rowData"]
    assert upcoming[0]["offset"] == "+00:05:00" and upcoming[0]["clock"] == "09:05:00"
    assert upcoming[0]["eta"] == "0分01秒"
    status = json.dumps(refresh[pages.STATUS]["children"], ensure_ascii=False)
    assert "実施中" in status and "3 / 31 件" in status
    links = json.dumps(refresh[pages.LINKS]["children"], ensure_ascii=False)
    assert f"/drill/replay/{incident_id}" in links and f"/drill/report/{incident_id}" in links

    def command(trigger: str, speed: int = 60) -> str:
        response = _call(
            client,
            app,
            pages.FORCE,
            {
                (pages.RUN, "value"): incident_id,
                (pages.SPEED, "value"): speed,
                (pages.FORCE, "data"): 0,
            },
            trigger,
        )
        return response.json["response"][pages.RESULT]["children"]

    assert "一時停止しました" in command(f"{pages.PAUSE}.n_clicks")
    assert "できませんでした" in command(f"{pages.PAUSE}.n_clicks")
    assert "再開しました" in command(f"{pages.RESUME}.n_clicks")
    assert "10× にしました" in command(f"{pages.SET_SPEED}.n_clicks", 10)
    assert "終了しました" in command(f"{pages.STOP_CONFIRM}.submit_n_clicks")
    assert drills.drill_run(store, incident_id).status == drills.STOPPED
    assert store.incident(incident_id).closed_at is not None
    actors = {e.actor for e in store.events(incident_id) if e.type == drills.DRILL_CONTROL}
    assert actors == {"op1"}


def test_staff_join_a_drill_and_go_back_to_live(app, store) -> None:
    scenario = drills.load_scenario(TSUNAMI, shelters=store.shelters())
    run = drills.start_drill(store, scenario, actor="op1", speed=60)
    client = _client(app, store, "hq1", "hq")
    page = client.get("/drill/join").get_data(as_text=True)
    assert "実災害" in page and "この訓練に参加" in page and run.incident_id in page
    token = _csrf(client)
    assert client.post("/drill/join", data={"incident_id": run.incident_id}).status_code == 400
    joined = client.post("/drill/join", data={"incident_id": run.incident_id, "csrf_token": token})
    assert joined.status_code == 302 and joined.headers["Location"] == "/hq"
    with client.session_transaction() as session:
        assert session[pages.DRILL_SESSION_KEY] == run.incident_id
    assert "訓練「" in client.get("/drill/join").get_data(as_text=True)
    with app.server.test_request_context("/hq"):
        from flask import session

        session[pages.DRILL_SESSION_KEY] = run.incident_id
        incident = pages.current_incident()
        assert incident.incident_id == run.incident_id
        banner = json.dumps(pages.drill_banner(incident), cls=PlotlyJSONEncoder, ensure_ascii=False)
        assert "訓練 / DRILL" in banner
        session.pop(pages.DRILL_SESSION_KEY)
        assert pages.current_incident().incident_id == store.live_incident().incident_id
        assert pages.drill_banner(pages.current_incident()) is None
    left = client.post("/drill/leave", data={"csrf_token": token})
    assert left.status_code == 302
    with client.session_transaction() as session:
        assert pages.DRILL_SESSION_KEY not in session
    # A drill that has ended can no longer be joined.
    drills.stop_drill(store, run.incident_id, actor="op1")
    assert (
        client.post(
            "/drill/join", data={"incident_id": run.incident_id, "csrf_token": token}
        ).status_code
        == 400
    )
    planner = _client(app, store, "plan1", "planner")
    assert planner.get("/drill/join").status_code == 403
    assert {"drill.join", "drill.leave"} <= {a["action"] for a in store.audit_log(actor="hq1")}


def test_report_and_export_routes(app, store, tmp_path: Path) -> None:
    clock = FakeClock()
    store.clock = clock
    run = play_tsunami_drill(store, clock)
    client = _client(app, store, "op1", "drill")
    report = client.get(f"/drill/report/{run.incident_id}")
    page = report.get_data(as_text=True)
    assert report.status_code == 200 and "訓練 / DRILL" in page and "事後検証報告書" in page
    assert '<script src="/drill/plotly.min.js"></script>' in page
    assert client.get("/drill/plotly.min.js").status_code == 200
    exported = client.get(f"/drill/export/{run.incident_id}.yaml")
    assert exported.status_code == 200
    assert "attachment" in exported.headers["Content-Disposition"]
    document = yaml.safe_load(exported.get_data(as_text=True))
    assert document["label"] == "訓練シナリオ" and len(document["injects"]) == 41
    drills.parse_scenario(exported.data, shelters=store.shelters())
    assert client.get("/drill/report/no-such").status_code == 404


def test_starting_a_drill_in_the_app_starts_one_scheduler_thread(make_app) -> None:
    app = make_app()  # the thread is on by default
    store = app.server.extensions[EXTENSION_KEY].store
    ensure_initialised(store)
    client = _client(app, store, "op1", "drill")
    loaded = {"source": TSUNAMI.name, "text": TSUNAMI.read_text(encoding="utf-8")}
    started = _call(
        client,
        app,
        pages.RESULT,
        {(pages.SCENARIO_TEXT, "data"): loaded, (pages.SPEED, "value"): 60},
        f"{pages.START_CONFIRM}.submit_n_clicks",
    )
    incident_id = started.json["response"][pages.RUN]["value"]
    scheduler = runtime_of(app.server).drill_scheduler
    thread = scheduler.thread
    assert thread is not None and thread.is_alive()
    scheduler.ensure_running()  # a second start in this worker: same thread
    assert scheduler.thread is thread
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(drills.fired_injects(store, incident_id)) < 2:
        time.sleep(0.1)
    assert [f.index for f in drills.fired_injects(store, incident_id)][:2] == [0, 1]
    drills.stop_drill(store, incident_id, actor="op1")
    thread.join(timeout=10)
    assert not thread.is_alive()  # nothing left to run: the thread ends and frees the lease
    from disaster_dx import leases

    lease = leases.lease(store, drills.LEASE_NAME)
    assert lease is not None and lease.holder is None and lease.expires_at < store.clock()


def test_a_whole_drill_leaves_the_public_files_and_live_state_unchanged(app, store) -> None:
    from disaster_dx import hq
    from disaster_dx.auth import get_user

    settings = app.server.extensions[EXTENSION_KEY].settings
    anonymous_public = app.server.test_client()

    def public_output() -> dict[str, bytes]:
        files = {
            str(p.relative_to(settings.public_dir)): p.read_bytes()
            for p in sorted(settings.public_dir.rglob("*"))
            if p.is_file()
        }
        files["GET /"] = anonymous_public.get("/").data
        return files

    live = store.live_incident()
    before_files, before_state = public_output(), store.state(live.incident_id)
    before_events = store.events(live.incident_id)

    clock = FakeClock()
    store.clock = clock
    client = _client(app, store, "op1", "drill")
    add_staff_user(store, "hq1", "hq")
    loaded = {"source": TSUNAMI.name, "text": TSUNAMI.read_text(encoding="utf-8")}
    started = _call(
        client,
        app,
        pages.RESULT,
        {
            (pages.SCENARIO_TEXT, "data"): loaded,
            (pages.SPEED, "value"): 60,
            (pages.PUBLIC_NOTICE, "value"): ["notice"],
        },
        f"{pages.START_CONFIRM}.submit_n_clicks",
    )
    incident_id = started.json["response"][pages.RUN]["value"]
    # Announced to residents: the public page says a drill is on (and nothing of it).
    during = json.loads((settings.public_dir / "shelters.geojson").read_text(encoding="utf-8"))
    assert during["drill_notice"] is True
    scheduler = drills.DrillScheduler(store, holder="test")
    for _ in range(160):
        scheduler.tick()
        clock.sleep(1)
    state = store.state(incident_id)
    hq.report_status(
        store,
        incident_id,
        get_user(store, "hq1"),
        SCHOOL,
        {"open_state": "open", "evacuees": 300, "public_note": "訓練の入力"},
        seen_version=state.shelter(SCHOOL).version,
    )
    drills.stop_drill(store, incident_id, actor="op1")

    assert len(drills.fired_injects(store, incident_id)) == 31
    assert store.state(incident_id).shelter(SCHOOL).evacuees == 300
    assert store.events(live.incident_id) == before_events
    assert store.state(live.incident_id) == before_state
    after = public_output()
    assert after == before_files  # the notice went with the stop: byte for byte as before
    assert "訓練の入力" not in b"".join(after.values()).decode("utf-8", "replace")
