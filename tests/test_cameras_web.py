"""Camera routes, the HQ camera wall and the HQ map layer, through the Flask test client."""

from __future__ import annotations

import json
import logging
import re
import time
from datetime import UTC, datetime, timedelta

import dash_leaflet as dl
import pytest
import requests

from disaster_dx.camera_frames import frame_key
from disaster_dx.camera_simulator import CameraSimulator, SimMode
from disaster_dx.cameras import Poller, lease_holders, load_registry, sync_registry
from disaster_dx.runtime import CameraPollerService
from disaster_dx.store import Store
from disaster_dx.web import ids
from disaster_dx.web.cameras_web import (
    LIVE,
    NEXT,
    PREV,
    SCRUBBER,
    TIME_LABEL,
    WALL,
)
from disaster_dx.web.context import EXTENSION_KEY, runtime_of
from layers.cameras import CAMERA_LAYER_ID, camera_features, camera_overlay, direction_label
from tests.camera_tools import ManualClock, registry_for, registry_yaml
from tests.conftest import add_staff_user
from tests.webtools import callback_request, login_client

PASSWORD = "tower-Camera-pa55-NEVER-SHOWN"
USERNAME = "viewer-town-account"


@pytest.fixture
def sim():
    with CameraSimulator() as simulator:
        yield simulator


@pytest.fixture
def cams(make_app, sim, caplog, request):
    """An app whose three cameras (ids of the demo) were polled 10 min, 5 min and 5 s ago.

    The town camera needs digest auth; the first round uses a wrong password so an error is
    on record too.
    """
    caplog.set_level(logging.DEBUG)
    app = make_app()
    store = app.server.extensions[EXTENSION_KEY].store
    web = runtime_of(app.server).cameras
    # The poller has its own store, as the separate `cameras run` process would.
    poller_store = Store(store.url, schema=store.schema)
    request.addfinalizer(poller_store.dispose)
    sim.camera("town").auth = ("digest", USERNAME, PASSWORD)
    registry = registry_for(
        sim,
        {"coast": "jpeg", "river": "mjpeg", "town": "jpeg"},
        interval=60,
        auth={"town": f"{{scheme: digest, username: {USERNAME}, password_env: DX_TOWN_PW}}"},
    )
    sync_registry(store, registry, actor="test")
    now = datetime.now(UTC).replace(microsecond=0)
    clock = ManualClock(now - timedelta(minutes=10))
    times = []
    for offset, password in ((600, "wrong"), (300, PASSWORD), (5, PASSWORD)):
        clock.set(now - timedelta(seconds=offset))
        times.append(clock())
        poller = Poller(store, registry, web.frames, clock=clock, environ={"DX_TOWN_PW": password})
        try:
            poller.run_due()
            poller.wait(timeout=10)
        finally:
            poller.close()
    app.test_registry = registry  # for tests that poll once more
    app.test_poller_store = poller_store
    return app, store, sim, times


def _hq_client(app, store, username="hq1", role="hq"):
    password = add_staff_user(store, username, role)
    client = app.server.test_client()
    login_client(client, username, password)
    return client


def test_frames_are_served_only_to_those_allowed(cams) -> None:
    app, store, _sim, times = cams
    anonymous = app.server.test_client()
    coast = anonymous.get("/cameras/coast/latest.jpg")
    assert coast.status_code == 200 and coast.mimetype == "image/jpeg"
    assert coast.data.startswith(b"\xff\xd8\xff")
    assert coast.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-cache" in coast.headers["Cache-Control"]
    assert anonymous.get("/cameras/town/latest.jpg").status_code == 401  # HQ only
    old_key = frame_key(times[1])
    assert anonymous.get(f"/cameras/town/frames/{old_key}.jpg").status_code == 401
    public_status = anonymous.get("/cameras/coast/status.json").json
    assert public_status["health"] == "online" and "error_label" not in public_status

    staff = _hq_client(app, store, "staff1", "shelter_staff")
    assert staff.get("/cameras/town/latest.jpg").status_code == 403
    assert any(a["action"] == "camera.refused" for a in store.audit_log())

    hq = _hq_client(app, store)
    town = hq.get(f"/cameras/town/frames/{old_key}.jpg")
    assert town.status_code == 200 and town.data.startswith(b"\xff\xd8\xff")
    assert town.headers["Cache-Control"] == "private, max-age=86400, immutable"
    status = hq.get("/cameras/town/status.json?lang=ja").json
    assert status["frame"] == frame_key(times[2])
    assert status["frame_label"].startswith("撮影 ") and "秒前" in status["frame_label"]
    assert status["health_label"] == "正常"
    for path in (
        "/cameras/nowhere/latest.jpg",
        "/cameras/coast/frames/20200101T000000000000Z.jpg",
        "/cameras/coast/frames/..%2F..%2F..%2Fetc%2Fpasswd.jpg",
        "/cameras/..%2Fcoast/latest.jpg",
        "/cameras/COAST/latest.jpg",
    ):
        response = hq.get(path)
        # 404 from the camera routes; a path with ".." never reaches them at all (the Dash
        # page shell answers it), so no file outside the frame store is ever sent.
        assert response.status_code == 404 or response.mimetype == "text/html", path
        assert b"root:" not in response.data


def test_no_request_can_make_the_server_fetch_another_address(cams, monkeypatch) -> None:
    app, store, sim, _times = cams
    sent: list[str] = []
    real_send = requests.Session.send

    def spy(self, request, **kwargs):
        sent.append(request.url)
        return real_send(self, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", spy)
    camera_requests_before = len(sim.requests)
    with CameraSimulator() as canary:
        target = canary.url("stolen")
        quoted = target.replace(":", "%3A").replace("/", "%2F")
        hq = _hq_client(app, store)
        anonymous = app.server.test_client()
        for client in (hq, anonymous):
            for path in (
                f"/cameras/coast/latest.jpg?url={target}",
                f"/cameras/coast/status.json?url={target}&lang={target}",
                f"/cameras/{quoted}/latest.jpg",
                f"/cameras/coast/frames/{quoted}.jpg",
                f"/cameras/coast/frames/x.jpg?src={target}",
                f"/hq/cameras?url={target}",
            ):
                assert client.get(path).status_code in (200, 302, 401, 404), path
        for output, values, trigger in (
            (WALL, {(SCRUBBER, "value"): target}, f"{SCRUBBER}.value"),
            (WALL, {(SCRUBBER, "value"): 10**30}, f"{SCRUBBER}.value"),
            (CAMERA_LAYER_ID, {(CAMERA_LAYER_ID, "hideout"): {"lang": target}}, "x"),
        ):
            body = callback_request(app, output, values, trigger)
            assert hq.post("/_dash-update-component", json=body).status_code in (200, 204)
        assert canary.requests == []
    assert sent == []  # the web side never fetches anything at all
    assert len(sim.requests) == camera_requests_before


def _router(pathname: str) -> dict:
    return {
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [
            {"id": "_pages_content", "property": "children"},
            {"id": "_pages_store", "property": "data"},
        ],
        "inputs": [
            {"id": "_pages_location", "property": "pathname", "value": pathname},
            {"id": "_pages_location", "property": "search", "value": ""},
        ],
        "state": [],
        "changedPropIds": ["_pages_location.pathname"],
    }


def test_credentials_never_appear_in_pages_logs_or_errors(cams, caplog) -> None:
    app, store, sim, _times = cams
    web = runtime_of(app.server).cameras
    wrong = Poller(
        app.test_poller_store, app.test_registry, web.frames, environ={"DX_TOWN_PW": "nope"}
    )
    try:  # the town camera now refuses the login: its error is on the HQ screens
        wrong.run_due()
        wrong.wait(timeout=10)
    finally:
        wrong.close()
    hq = _hq_client(app, store)
    bodies = []
    for path in ("/hq", "/hq/cameras", "/_dash-layout", "/_dash-dependencies"):
        bodies.append(hq.get(path).get_data(as_text=True))
    for camera_id in ("coast", "river", "town"):
        for lang in ("ja", "en"):
            bodies.append(hq.get(f"/cameras/{camera_id}/status.json?lang={lang}").get_data(True))
    for pathname in ("/hq", "/hq/cameras"):
        page = hq.post("/_dash-update-component", json=_router(pathname))
        assert page.status_code == 200
        bodies.append(page.get_data(as_text=True))
    for output, trigger in ((CAMERA_LAYER_ID, "x"), (WALL, f"{LIVE}.n_clicks")):
        body = callback_request(app, output, {}, trigger)
        bodies.append(hq.post("/_dash-update-component", json=body).get_data(as_text=True))
    text = "\n".join(bodies)
    logged = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records)
    # The error shows in plain words, its technical detail only in the server log…
    assert "直近のエラー: カメラへのログインが拒否されました" in text
    assert "HTTP 401" not in text and "HTTP 401" in logged
    assert "camera town: auth" in logged
    address = f"127.0.0.1:{sim.port}"
    for secret in (PASSWORD, USERNAME, address, "/cam/town", "DX_TOWN_PW"):
        assert secret not in text, secret  # …but never the login, the address or its variable
    for secret in (PASSWORD, USERNAME):
        assert secret not in logged, secret
    errors = [e for e in store.events(store.live_incident().incident_id) if "feed" in e.type]
    assert PASSWORD not in json.dumps([dict(e.payload) for e in errors])


def test_camera_callbacks_refuse_anonymous_and_other_roles(cams) -> None:
    app, store, _sim, _times = cams
    anonymous = app.server.test_client()
    staff = _hq_client(app, store, "staff1", "shelter_staff")
    for output, trigger in ((CAMERA_LAYER_ID, "x"), (WALL, f"{LIVE}.n_clicks")):
        body = callback_request(app, output, {}, trigger)
        assert anonymous.post("/_dash-update-component", json=body).status_code == 401
        assert staff.post("/_dash-update-component", json=body).status_code == 403
    assert anonymous.get("/hq/cameras").status_code == 302
    page = staff.post("/_dash-update-component", json=_router("/hq/cameras"))
    assert "この画面を開く権限がありません" in page.get_data(as_text=True)


def test_map_layer_shows_cones_labelled_by_health_and_redraws_only_on_change(cams) -> None:
    app, store, _sim, _times = cams
    hq = _hq_client(app, store)
    body = callback_request(app, CAMERA_LAYER_ID, {}, f"{ids.HQ_INTERVAL}.n_intervals")
    first = hq.post("/_dash-update-component", json=body).json["response"]
    data = first[CAMERA_LAYER_ID]["data"]
    cones = [f for f in data["features"] if f["properties"]["part"] == "cone"]
    towers = [f for f in data["features"] if f["properties"]["part"] == "tower"]
    assert len(cones) == 3 and len(towers) == 3
    assert {f["properties"]["health_label"] for f in towers} == {"正常"}
    assert all(f["geometry"]["type"] == "Polygon" for f in cones)
    assert all(p["properties"]["symbol"] == "●" for p in towers)
    hideout = first[CAMERA_LAYER_ID]["hideout"]
    assert hideout["lang"] == "ja" and len(hideout["digest"]) == 16
    again = callback_request(
        app,
        CAMERA_LAYER_ID,
        {(CAMERA_LAYER_ID, "hideout"): hideout},
        f"{ids.HQ_INTERVAL}.n_intervals",
    )
    unchanged = hq.post("/_dash-update-component", json=again)
    assert unchanged.status_code == 204 or CAMERA_LAYER_ID not in unchanged.json["response"]


def test_wall_scrubber_shows_older_frames_and_returns_to_live(cams) -> None:
    app, store, _sim, times = cams
    hq = _hq_client(app, store)
    oldest, middle, newest = (int(t.timestamp()) for t in times)

    def wall(trigger: str, **values):
        state = {(k.replace("__", "-"), "value"): v for k, v in values.items()}
        body = callback_request(app, WALL, state, trigger)
        return hq.post("/_dash-update-component", json=body).json["response"]

    live = wall(f"{LIVE}.n_clicks")
    text = json.dumps(live, ensure_ascii=False)
    assert frame_key(times[2]) in text and frame_key(times[1]) not in text
    assert live[SCRUBBER]["min"] == oldest and live[SCRUBBER]["max"] == newest
    assert live[TIME_LABEL]["children"].startswith("ライブ表示")

    body = callback_request(
        app,
        WALL,
        {(SCRUBBER, "value"): middle, ("hq-cameras-follow", "data"): True},
        f"{SCRUBBER}.value",
    )
    past = hq.post("/_dash-update-component", json=body).json["response"]
    text = json.dumps(past, ensure_ascii=False)
    assert frame_key(times[1]) in text and frame_key(times[2]) not in text
    assert past[TIME_LABEL]["children"].startswith("記録 ")
    assert past["hq-cameras-follow"]["data"] is False
    # At the oldest instant the town camera had no frame (wrong password then).
    body = callback_request(
        app,
        WALL,
        {(SCRUBBER, "value"): oldest, ("hq-cameras-follow", "data"): False},
        f"{PREV}.n_clicks",
    )
    first = json.dumps(hq.post("/_dash-update-component", json=body).json, ensure_ascii=False)
    assert frame_key(times[0]) in first and "この時刻の画像はありません" in first
    body = callback_request(
        app,
        WALL,
        {(SCRUBBER, "value"): middle, ("hq-cameras-follow", "data"): False},
        f"{NEXT}.n_clicks",
    )
    back = hq.post("/_dash-update-component", json=body).json["response"]
    assert back["hq-cameras-follow"]["data"] is True and back[SCRUBBER]["value"] == newest


def test_layer_functions_translate_and_never_carry_addresses(cams) -> None:
    _app, store, sim, _times = cams
    from disaster_dx.cameras import camera_statuses, registered_cameras

    now = datetime.now(UTC)
    features = camera_features(
        registered_cameras(store), camera_statuses(store), now=now + timedelta(hours=1), lang="en"
    )
    towers = [f["properties"] for f in features["features"] if f["properties"]["part"] == "tower"]
    assert {p["health_label"] for p in towers} == {"Offline"}
    assert {p["symbol"] for p in towers} == {"×"} and all(p["dash"] for p in towers)
    assert "127.0.0.1" not in json.dumps(features)
    assert direction_label(165) == "南南東 165°" and direction_label(350, "en") == "N 350°"
    overlay = camera_overlay("ja")
    assert isinstance(overlay, dl.Overlay) and overlay.name == "鉄塔カメラ" and overlay.checked
    assert overlay.children.id == CAMERA_LAYER_ID
    sim.set_mode("coast", SimMode.NORMAL)  # the simulator is still there; nothing was fetched


def test_in_app_pollers_of_two_workers_share_the_cameras_and_stop(
    make_app, sim, tmp_path, monkeypatch
) -> None:
    """``CAMERAS_POLL_IN_APP=1``: each worker starts a poller; the leases pick one per camera."""
    registry = tmp_path / "cameras.yaml"
    registry.write_text(
        registry_yaml(sim, {"coast": "jpeg", "river": "mjpeg"}, interval=1), "utf-8"
    )
    monkeypatch.setenv("CAMERAS_FILE", str(registry))
    # Both workers are built before any poller writes: other modules' first-start table
    # creation is not this test's subject.
    first = make_app()
    monkeypatch.setenv("CAMERAS_POLL_IN_APP", "1")
    second = make_app()
    assert runtime_of(first.server).cameras.poller is None  # off by default
    # The runtime starts its loops with the worker's first request, not in the factory.
    assert second.server.test_client().get("/healthz").status_code == 200
    started = runtime_of(second.server).cameras.poller
    web = runtime_of(first.server).cameras
    context = first.server.extensions[EXTENSION_KEY]
    other = CameraPollerService(context.store, load_registry(registry), web.frames, web.settings)
    other.start()
    pollers = [started, other]
    try:
        assert all(p is not None and p.thread.is_alive() for p in pollers)
        deadline = time.monotonic() + 20
        while (
            time.monotonic() < deadline
            and min(len(sim.requests_for("coast")), len(sim.requests_for("river"))) < 3
        ):
            time.sleep(0.1)
        for camera_id in ("coast", "river"):
            received = sim.requests_for(camera_id)
            assert len(received) >= 3
            assert len({r.user_agent for r in received}) == 1  # one poller per camera
        assert web.frames.frames("coast") and web.frames.frames("river")
    finally:
        for poller in pollers:
            if poller is not None:
                poller.stop()
    assert not any(p.thread.is_alive() for p in pollers if p is not None)
    assert set(lease_holders(context.store).values()) == {None}  # handed back on stop


def _page_text(client, pathname: str) -> str:
    """A Dash page's layout as readable JSON (the encoder escapes ``/`` and may escape Japanese)."""
    reply = client.post("/_dash-update-component", json=_router(pathname))
    assert reply.status_code == 200
    return json.dumps(reply.get_json(), ensure_ascii=False)


def test_a_drill_script_takes_over_cameras_for_its_players_only(cams) -> None:
    from disaster_dx import drills
    from disaster_dx.events import NewEvent
    from disaster_dx.web import drill_pages
    from tests.drill_support import TSUNAMI

    app, store, _sim, _times = cams
    run = drills.start_drill(
        store, drills.load_scenario(TSUNAMI, shelters=store.shelters()), actor="op1", speed=60
    )
    scripted = [
        {"camera_id": "coast", "action": "image", "image": "images/tsunami_drill_frame.png",
         "caption": "前浜海岸の様子"},
        {"camera_id": "town", "action": "offline", "caption": "停電で映像が途絶"},
    ]  # fmt: skip
    store.append(
        run.incident_id, [NewEvent(drills.CAMERA_SCRIPTED, p) for p in scripted], actor="drill"
    )
    player = _hq_client(app, store, "hq1")
    with player.session_transaction() as session:
        session[drill_pages.DRILL_SESSION_KEY] = run.incident_id
    live = _hq_client(app, store, "hq2")

    # The popup: the drill picture instead of the real frame; the outage as 停止（訓練）.
    coast = player.get("/cameras/coast/status.json").get_json()
    assert coast["frame_url"].startswith("/cameras/coast/drill-image")
    assert coast["health_label"] == "訓練用画像" and "前浜海岸の様子" in coast["frame_label"]
    picture = player.get(coast["frame_url"])
    assert picture.status_code == 200 and picture.mimetype == "image/png"
    assert picture.data.startswith(b"\x89PNG")
    town = player.get("/cameras/town/status.json").get_json()
    assert town["health"] == "offline" and town["health_label"] == "停止（訓練）"
    assert town["frame_url"] is None and "停電で映像が途絶" in town["frame_label"]
    # The wall and the HQ map say the same, under the drill banner.
    wall = _page_text(player, "/hq/cameras")
    assert "訓練 / DRILL" in wall and "映像なし（訓練想定）" in wall and "drill-image" in wall
    body = callback_request(app, CAMERA_LAYER_ID, {}, "x")
    layer = player.post("/_dash-update-component", json=body).get_json()
    labels = {
        f["properties"]["camera_id"]: f["properties"]["health_label"]
        for f in layer["response"][CAMERA_LAYER_ID]["data"]["features"]
    }
    assert labels["town"] == "停止（訓練）" and labels["coast"] == "訓練用画像"

    # Staff on the live incident see the real cameras; the drill picture is not theirs.
    real = live.get("/cameras/coast/status.json").get_json()
    assert real["frame_url"].startswith("/cameras/coast/frames/") and real["health"] == "online"
    assert live.get("/cameras/coast/drill-image").status_code == 404
    assert "訓練" not in _page_text(live, "/hq/cameras")

    # "online" ends the script: the player sees the real camera again.
    store.append(
        run.incident_id,
        [NewEvent(drills.CAMERA_SCRIPTED, {"camera_id": "town", "action": "online"})],
        actor="drill",
    )
    town = player.get("/cameras/town/status.json").get_json()
    assert "訓練" not in town["health_label"]


def test_replay_shows_each_camera_as_it_was_at_that_instant(cams) -> None:
    from disaster_dx import drills
    from disaster_dx.events import NewEvent
    from disaster_dx.web import drill_pages
    from tests.drill_support import TSUNAMI

    app, store, _sim, times = cams
    hq = _hq_client(app, store)
    live = store.live_incident()
    start, _end = drill_pages._replay_window(store, live)
    # Half-way between the 5-minute and the 5-second round: the 5-minute frames, 正常 then.
    moment = times[1] + (times[2] - times[1]) / 2
    body = callback_request(
        app,
        drill_pages.REPLAY_CAMERAS,
        {
            (drill_pages.REPLAY_SLIDER, "value"): (moment - start).total_seconds(),
            (drill_pages.REPLAY_INCIDENT, "data"): live.incident_id,
        },
        f"{drill_pages.REPLAY_SLIDER}.value",
    )
    reply = hq.post("/_dash-update-component", json=body)
    cameras = json.dumps(
        reply.get_json()["response"][drill_pages.REPLAY_CAMERAS], ensure_ascii=False
    )
    assert f"/cameras/coast/frames/{frame_key(times[1])}.jpg" in cameras
    assert frame_key(times[2]) not in cameras  # nothing from after that instant

    # A drill's replay shows what its script showed, under its own address.
    run = drills.start_drill(
        store, drills.load_scenario(TSUNAMI, shelters=store.shelters()), actor="op1", speed=60
    )
    store.append(
        run.incident_id,
        [NewEvent(drills.CAMERA_SCRIPTED, {"camera_id": "coast", "action": "image",
                                           "image": "images/tsunami_drill_frame.png"})],
        actor="drill",
    )  # fmt: skip
    page = _page_text(hq, f"/drill/replay/{run.incident_id}")
    assert "鉄塔カメラ（この時刻の画像）" in page
    url = re.search(r'"(/cameras/coast/drill-image\?[^"]+)"', page).group(1)
    assert f"incident={run.incident_id}" in url
    picture = hq.get(url)
    assert picture.status_code == 200 and picture.data.startswith(b"\x89PNG")


def test_the_wall_never_offers_a_picture_retention_deleted(cams) -> None:
    from disaster_dx.camera_frames import FrameStore, prune_frames

    app, store, _sim, times = cams
    hq = _hq_client(app, store)
    web = runtime_of(app.server).cameras
    oldest = int(times[0].timestamp())
    body = callback_request(app, WALL, {}, f"{LIVE}.n_clicks")
    assert hq.post("/_dash-update-component", json=body).json["response"][SCRUBBER]["min"] == oldest
    # The polling camera's retention at two frames: the oldest pictures go, files and rows.
    strict = FrameStore(web.frames.root, keep=2)
    for camera_id in ("coast", "river", "town"):
        prune_frames(app.test_poller_store, strict, camera_id, times[2])
    after = hq.post("/_dash-update-component", json=body).json["response"]
    assert after[SCRUBBER]["min"] == int(times[1].timestamp())
    assert frame_key(times[0]) not in json.dumps(after)
    assert hq.get(f"/cameras/coast/frames/{frame_key(times[0])}.jpg").status_code == 404
    assert hq.get(f"/cameras/coast/frames/{frame_key(times[1])}.jpg").status_code == 200


def test_replay_slider_reaches_pictures_taken_after_the_last_event(make_app) -> None:
    """Frames are not events any more, yet the replay slider still covers their instants."""
    from disaster_dx.camera_frames import record_frame
    from disaster_dx.camera_simulator import render_frame
    from disaster_dx.events import NewEvent
    from disaster_dx.web import drill_pages

    app = make_app()
    store = app.server.extensions[EXTENSION_KEY].store
    web = runtime_of(app.server).cameras
    hq = _hq_client(app, store)
    live = store.live_incident().incident_id
    store.append(live, [NewEvent("incident.message", {"text": "本部設置"})], actor="hq1")
    (message,) = store.events(live)
    # HQ writes nothing more; the coast camera keeps sending pictures for three minutes.
    taken = [message.at + timedelta(minutes=m) for m in (1, 2, 3)]
    for moment in taken:
        data = render_frame("coast", moment, 1)
        web.frames.save("coast", data, moment)
        record_frame(
            store, "coast", moment, size_bytes=len(data), width=640, height=360, sha256="c" * 64
        )
    assert [e.seq for e in store.events(live)] == [1]
    incident = store.incident(live)
    start, end = drill_pages._replay_window(store, incident)
    assert (start, end) == (message.at, taken[-1])
    body = callback_request(
        app,
        drill_pages.REPLAY_CAMERAS,
        {
            (drill_pages.REPLAY_SLIDER, "value"): (taken[1] - start).total_seconds(),
            (drill_pages.REPLAY_INCIDENT, "data"): live,
        },
        f"{drill_pages.REPLAY_SLIDER}.value",
    )
    reply = hq.post("/_dash-update-component", json=body).get_json()
    shown = json.dumps(reply["response"][drill_pages.REPLAY_CAMERAS], ensure_ascii=False)
    assert f"/cameras/coast/frames/{frame_key(taken[1])}.jpg" in shown
    assert frame_key(taken[2]) not in shown
    # A closed incident ends at its closing: later pictures are not part of its record.
    store.close_incident(live, actor="hq1")
    closed = store.incident(live)
    assert drill_pages._replay_window(store, closed)[1] == closed.closed_at
