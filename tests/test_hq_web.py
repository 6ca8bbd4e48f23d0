"""HQ security and writes through the Flask test client: what a hand-crafted request gets."""

from __future__ import annotations

import json
import re

import pytest
from plotly.utils import PlotlyJSONEncoder

from disaster_dx import auth
from disaster_dx.web import hq, ids, shelter_form
from disaster_dx.web.context import EXTENSION_KEY
from tests.common import camera_frame_payload
from tests.conftest import add_staff_user
from tests.webtools import callback_request, login_client

SCHOOL = "E3920400009111"  # 稲生ふれあい館: 指定避難所 and 指定緊急避難場所
OTHER = "E3920400001111"  # 特別養護老人ホーム 白銀荘


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def store(app):
    return app.server.extensions[EXTENSION_KEY].store


def _form_values(shelter_id: str, version: int, **changes) -> dict:
    values = {
        (ids.FORM_SHELTER_ID, "data"): shelter_id,
        (ids.FORM_VERSION, "data"): version,
        (ids.FORM_OPEN_STATE, "value"): "open",
        (ids.FORM_EVACUEES, "value"): 120,
        (ids.FORM_CROWDING_OVERRIDE, "value"): "crowded",
        (ids.FORM_NEEDS, "value"): ["water"],
        (ids.FORM_URGENT, "value"): [],
        (ids.FORM_PETS, "value"): "unknown",
        (ids.FORM_BARRIER_FREE, "value"): "unknown",
        (ids.FORM_PUBLIC_NOTE, "value"): "",
        (ids.FORM_INTERNAL_NOTE, "value"): "",
        (ids.FORM_CORRECTION, "value"): [],
        ("_pages_location", "search"): "",
    }
    for key, value in changes.items():
        values[(key, "value")] = value
    return values


def _submit(client, app, values):
    body = callback_request(app, ids.FORM_RESULT, values, f"{ids.FORM_SUBMIT}.n_clicks")
    return client.post("/_dash-update-component", json=body)


def _callback_text(response) -> str:
    """A callback response as readable JSON (the encoder may or may not escape Japanese)."""
    return json.dumps(response.json, ensure_ascii=False)


def _live_state(store):
    return store.state(store.live_incident().incident_id)


def test_anonymous_users_are_sent_to_login_and_callbacks_refused(app) -> None:
    client = app.server.test_client()
    for path in ("/hq", "/hq/log", f"/hq/shelter/{SCHOOL}"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"] == f"/login?next={path}"
    body = callback_request(app, ids.FORM_RESULT, _form_values(SCHOOL, 0), "x")
    assert client.post("/_dash-update-component", json=body).status_code == 401
    poll = callback_request(app, ids.HQ_BOARD, {}, f"{ids.HQ_INTERVAL}.n_intervals")
    assert client.post("/_dash-update-component", json=poll).status_code == 401
    # The page router must not render a staff page for an anonymous request either.
    router = {
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [
            {"id": "_pages_content", "property": "children"},
            {"id": "_pages_store", "property": "data"},
        ],
        "inputs": [
            {"id": "_pages_location", "property": "pathname", "value": "/hq"},
            {"id": "_pages_location", "property": "search", "value": ""},
        ],
        "state": [],
        "changedPropIds": ["_pages_location.pathname"],
    }
    assert client.post("/_dash-update-component", json=router).status_code == 401


def test_login_logout_and_throttling(app, store) -> None:
    password = add_staff_user(store, "hq1", "hq")
    client = app.server.test_client()
    page = client.get("/login")
    assert page.status_code == 200 and "職員ログイン" in page.get_data(as_text=True)
    wrong = login_client(client, "hq1", "not the password")
    assert wrong.status_code == 401
    assert "ユーザー名またはパスワードが違います" in wrong.get_data(as_text=True)
    ok = login_client(client, "hq1", password)
    assert ok.status_code == 302 and ok.headers["Location"] == "/hq"
    assert client.get("/hq").status_code == 200
    token = re.search(
        r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)
    ).group(1)
    assert client.post("/logout", data={}).status_code == 400  # no CSRF token, no logout
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/hq").status_code == 302

    other = app.server.test_client()
    for _ in range(auth.MAX_FAILURES_PER_ACCOUNT):  # the login above cleared this client's count
        assert login_client(other, "hq1", "guess").status_code == 401
    throttled = login_client(other, "hq1", password)  # even the right password waits
    assert throttled.status_code == 429 and 0 < int(throttled.headers["Retry-After"]) <= 30
    assert "あと1分" in throttled.get_data(as_text=True)
    actions = [a["action"] for a in store.audit_log(action=None)]
    assert "login.throttled" in actions and "login.ok" in actions and "logout" in actions
    assert all(
        "guess" not in json.dumps(a, ensure_ascii=False, default=str) for a in store.audit_log()
    )


def test_open_redirect_is_refused(app, store) -> None:
    password = add_staff_user(store, "hq1", "hq")
    client = app.server.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(
        "/login",
        data={
            "username": "hq1",
            "password": password,
            "csrf_token": token,
            "next": "https://evil.example/",
        },
    )
    assert response.headers["Location"] == "/hq"


def test_hq_report_is_written_with_the_seen_version(app, store) -> None:
    password = add_staff_user(store, "hq1", "hq")
    client = app.server.test_client()
    login_client(client, "hq1", password)
    response = _submit(client, app, _form_values(SCHOOL, 0))
    assert response.status_code == 200, response.data[:300]
    assert "送信しました" in _callback_text(response)
    status = _live_state(store).shelter(SCHOOL)
    assert (status.open_state.value, status.evacuees, status.reported_by) == ("open", 120, "hq1")
    assert status.crowding_override.value == "crowded"

    # The same form submitted again from the old version: 避難者数 conflicts (120 vs 5); the
    # other values it sends agree with what is stored, so only 避難者数 is shown.
    stale = _submit(client, app, _form_values(SCHOOL, 0, **{ids.FORM_EVACUEES: 5}))
    text = _callback_text(stale)
    assert "他の職員が同じ項目を先に更新しました" in text and "入力が重なった項目" in text
    assert '"data-field": "evacuees"' in text and text.count('"data-field"') == 1
    assert _live_state(store).shelter(SCHOOL).evacuees == 120


def test_invalid_values_are_named_next_to_their_fields(app, store) -> None:
    password = add_staff_user(store, "hq1", "hq")
    client = app.server.test_client()
    login_client(client, "hq1", password)
    values = _form_values(SCHOOL, 0, **{ids.FORM_EVACUEES: 10, ids.FORM_VOLUNTARY: 50})
    payload = _submit(client, app, values).json["response"]
    assert "cannot exceed evacuees" in json.dumps(payload[ids.form_error("voluntary_evacuees")])
    assert "入力に誤りがあります" in json.dumps(payload[ids.FORM_RESULT], ensure_ascii=False)
    assert _live_state(store).seq == 0  # nothing written


def test_shelter_staff_cannot_change_another_shelter(app, store) -> None:
    password = add_staff_user(store, "staff1", "shelter_staff", shelters=(SCHOOL,))
    client = app.server.test_client()
    login_client(client, "staff1", password)
    assert _submit(client, app, _form_values(SCHOOL, 0)).status_code == 200
    refused = _submit(client, app, _form_values(OTHER, 0))
    assert refused.status_code == 403
    assert _live_state(store).shelter(OTHER).version == 0
    refusals = store.audit_log(action="shelter.update_refused")
    assert refusals and refusals[0]["actor"] == "staff1" and refusals[0]["target"] == OTHER
    # HQ-only callbacks (the board) refuse shelter staff too, and say so in the audit log.
    poll = callback_request(app, ids.HQ_BOARD, {}, f"{ids.HQ_FORCE}.data")
    assert client.post("/_dash-update-component", json=poll).status_code == 403
    assert store.audit_log(action="access.refused")[0]["actor"] == "staff1"


def test_injected_text_stays_text(app, store) -> None:
    password = add_staff_user(store, "hq1", "hq")
    client = app.server.test_client()
    login_client(client, "hq1", password)
    evil = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'
    values = _form_values(SCHOOL, 0, **{ids.FORM_PUBLIC_NOTE: evil, ids.FORM_INTERNAL_NOTE: evil})
    assert _submit(client, app, values).status_code == 200
    assert _live_state(store).shelter(SCHOOL).public_note == evil
    with app.server.test_request_context("/hq"):
        from flask_login import login_user

        from disaster_dx.web.security import WebUser

        login_user(WebUser(auth.get_user(store, "hq1")))
        rendered = json.dumps(hq.layout(), cls=PlotlyJSONEncoder, ensure_ascii=False)
        form = json.dumps(
            shelter_form.layout(shelter_id=SCHOOL), cls=PlotlyJSONEncoder, ensure_ascii=False
        )
    # Dash sends component trees as JSON data and React sets them as text; no HTML string
    # carrying the note is ever built (the map's marker code uses textContent).
    assert json.dumps(evil, ensure_ascii=False)[1:-1] in rendered
    assert '"dangerously_allow_html"' not in rendered and "DangerouslySetInnerHTML" not in rendered
    assert json.dumps(evil, ensure_ascii=False)[1:-1] in form


def test_exports_are_hq_only_and_carry_the_live_status(app, store) -> None:
    hq_password = add_staff_user(store, "hq1", "hq")
    staff_password = add_staff_user(store, "staff1", "shelter_staff", shelters=(SCHOOL,))
    staff = app.server.test_client()
    login_client(staff, "staff1", staff_password)
    assert staff.get("/hq/export/board.csv").status_code == 403
    assert app.server.test_client().get("/hq/export/board.csv").status_code == 302

    client = app.server.test_client()
    login_client(client, "hq1", hq_password)
    evil = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'
    values = _form_values(SCHOOL, 0, **{ids.FORM_PUBLIC_NOTE: evil, ids.FORM_INTERNAL_NOTE: "秘"})
    assert _submit(client, app, values).status_code == 200

    board = client.get("/hq/export/board.csv")
    assert board.data.startswith(b"\xef\xbb\xbf")
    text = board.data.decode("utf-8-sig")
    assert "稲生ふれあい館,指定避難所・指定緊急避難場所,開設,混雑（手動）,120" in text
    assert len(text.strip().splitlines()) == 140  # header + 139 shelters
    geo = client.get("/hq/export/board.geojson").json
    assert len(geo["features"]) == 139

    lalert = client.get("/hq/export/lalert.csv").data.decode("utf-8-sig")
    assert "稲生ふれあい館" in lalert and "混雑" in lalert and "120" in lalert
    assert len(lalert.strip().splitlines()) == 2  # only opened shelters by default
    xml = client.get("/hq/export/lalert.xml").data.decode("utf-8")
    assert "<areaName>稲生ふれあい館</areaName>" in xml

    printable = client.get("/hq/export/print").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in printable
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in printable
    assert "秘" not in printable  # internal notes only when asked for
    assert "秘" in client.get("/hq/export/print?internal=1").get_data(as_text=True)
    exports = [a["target"] for a in store.audit_log(action="export")]
    assert {"board.csv", "lalert.xml", "print"} <= set(exports)


def test_event_log_page_filters_and_csv(app, store) -> None:
    password = add_staff_user(store, "hq1", "hq")
    client = app.server.test_client()
    login_client(client, "hq1", password)
    assert _submit(client, app, _form_values(SCHOOL, 0)).status_code == 200
    version = _live_state(store).shelter(SCHOOL).version
    values = _form_values(
        SCHOOL, version, **{ids.FORM_EVACUEES: 90, ids.FORM_CORRECTION: ["correction"]}
    )
    assert _submit(client, app, values).status_code == 200
    assert _submit(client, app, _form_values(OTHER, 0)).status_code == 200

    body = callback_request(
        app, "hq-log-table", {("hq-log-shelter", "value"): SCHOOL}, "hq-log-shelter.value"
    )
    response = client.post("/_dash-update-component", json=body).json["response"]
    rows = response["hq-log-table"]["rowData"]
    assert [r["subject"] for r in rows] == ["稲生ふれあい館", "稲生ふれあい館"]
    assert "避難者数: 120 → 90" in rows[0]["changes"] and rows[0]["type"] == "訂正"
    assert response["hq-log-csv"]["href"] == f"/hq/export/log.csv?shelter={SCHOOL}"
    csv_text = client.get(f"/hq/export/log.csv?shelter={SCHOOL}").data.decode("utf-8-sig")
    assert len(csv_text.strip().splitlines()) >= 3 and "120" in csv_text
    assert app.server.test_client().get("/hq/log").status_code == 302


def test_event_log_turns_pages_in_the_database_and_filters_by_type(app, store) -> None:
    from disaster_dx.eventlog_paging import PAGE_ROWS
    from disaster_dx.events import NewEvent

    password = add_staff_user(store, "hq1", "hq")
    client = app.server.test_client()
    login_client(client, "hq1", password)
    live = store.live_incident().incident_id
    total = 2 * PAGE_ROWS + 30  # evacuees 0, 1, 2, … in events 1, 2, 3, …
    for start in range(0, total, 50):
        reports = [
            NewEvent("shelter.status_reported", {"shelter_id": SCHOOL, "evacuees": n})
            for n in range(start, min(start + 50, total))
        ]
        store.append(live, reports, actor="hq1")
    correction = {"shelter_id": SCHOOL, "evacuees": 7, "reason": "桁違い"}
    store.append(live, [NewEvent("shelter.correction", correction)], actor="hq2")

    def callback(trigger: str, cursors: dict | None = None, **values) -> dict:
        inputs = {("hq-log-cursors", "data"): cursors}
        inputs.update({(f"hq-log-{k}", "value"): v for k, v in values.items()})
        body = callback_request(app, "hq-log-table", inputs, trigger)
        return client.post("/_dash-update-component", json=body).json["response"]

    def seqs(response: dict) -> list[int]:
        return [row["seq"] for row in response["hq-log-table"]["rowData"]]

    newest = callback("hq-log-routine.value")
    assert seqs(newest) == list(range(total + 1, total + 1 - PAGE_ROWS, -1))
    assert f"{total + 1}件" in newest["hq-log-count"]["children"]
    assert newest["hq-log-newer"]["disabled"] and not newest["hq-log-older"]["disabled"]
    older = callback("hq-log-older.n_clicks", newest["hq-log-cursors"]["data"])
    assert seqs(older) == list(range(total + 1 - PAGE_ROWS, total + 1 - 2 * PAGE_ROWS, -1))
    # The first row of a page still shows what it changed from (read from before the page).
    top = older["hq-log-table"]["rowData"][0]
    assert top["changes"] == f"避難者数: {top['seq'] - 2} → {top['seq'] - 1}"
    oldest = callback("hq-log-older.n_clicks", older["hq-log-cursors"]["data"])
    assert seqs(oldest) == list(range(31, 0, -1)) and oldest["hq-log-older"]["disabled"]
    assert oldest["hq-log-table"]["rowData"][-1]["changes"] == "避難者数: 未報告 → 0"
    back = callback("hq-log-newer.n_clicks", oldest["hq-log-cursors"]["data"])
    assert back["hq-log-table"]["rowData"] == older["hq-log-table"]["rowData"]

    corrections = callback("hq-log-type.value", type="shelter.correction")
    [row] = corrections["hq-log-table"]["rowData"]
    assert (row["actor"], row["changes"]) == ("hq2", f"避難者数: {total - 1} → 7\n理由: 桁違い")
    assert corrections["hq-log-csv"]["href"] == "/hq/export/log.csv?type=shelter.correction"
    csv_text = client.get(corrections["hq-log-csv"]["href"]).data.decode("utf-8-sig")
    assert len(csv_text.strip().splitlines()) == 2 and f",{total - 1},7," in csv_text


def test_the_board_reads_area_reports_not_the_whole_log(app, store, monkeypatch) -> None:
    from disaster_dx.cameras import CAMERA_FRAME
    from disaster_dx.events import NewEvent
    from disaster_dx.store import event_log as store_module  # where the store reads rows

    password = add_staff_user(store, "hq1", "hq")
    client = app.server.test_client()
    login_client(client, "hq1", password)
    live = store.live_incident().incident_id
    store.append(live, [NewEvent(CAMERA_FRAME, camera_frame_payload())] * 300, actor="cameras")
    area = {"area": "十市", "at_home": 12, "in_car": 3}
    store.append(live, [NewEvent("area.outside_reported", area)], actor="hq1")
    read = [0]
    convert = store_module.event_from_row

    def counting(row):
        read[0] += 1
        return convert(row)

    monkeypatch.setattr(store_module, "event_from_row", counting)
    values = {(ids.HQ_SEQ, "data"): 0, (ids.HQ_PLANS, "data"): {}}
    body = callback_request(app, ids.HQ_BOARD, values, f"{ids.HQ_INTERVAL}.n_intervals")
    reply = client.post("/_dash-update-component", json=body)
    assert reply.status_code == 200 and "十市" in _callback_text(reply)
    assert read[0] <= 1  # the one area report for the chart; the state is the projection's


def _screen(store) -> dict:
    """HQ_SEEN as the HQ page draws it: every shelter's version and open state on screen."""
    state = _live_state(store)
    return {
        s.shelter_id: [
            state.shelter(s.shelter_id).version,
            state.shelter(s.shelter_id).open_state.value,
        ]
        for s in store.shelters()
    }


def _bulk_open(client, app, seen: dict) -> str:
    body = callback_request(
        app,
        ids.HQ_BULK_RESULT,
        {
            (ids.HQ_BULK_OPEN_CONFIRM, "submit_n_clicks"): 1,
            (ids.HQ_BULK_HAZARD, "value"): "tsunami",
            (ids.HQ_SEEN, "data"): seen,
            (ids.HQ_FORCE, "data"): 0,
            ("_pages_location", "search"): "",
        },
        f"{ids.HQ_BULK_OPEN_CONFIRM}.submit_n_clicks",
    )
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200
    return _callback_text(response)


def test_bulk_open_of_tsunami_shelters_is_one_batch(app, store) -> None:
    password = add_staff_user(store, "hq1", "hq")
    client = app.server.test_client()
    login_client(client, "hq1", password)
    assert "津波対応の63か所のうち63か所を「開設」にしました" in _bulk_open(
        client, app, _screen(store)
    )
    events = store.events(store.live_incident().incident_id)
    assert len(events) == 63 and len({e.at for e in events}) == 1  # one batch, one instant
    assert all(
        e.payload == {"shelter_id": e.payload["shelter_id"], "open_state": "open"} for e in events
    )
    again = _bulk_open(client, app, _screen(store))
    assert "63か所のうち0か所" in again  # nothing left to change


def test_bulk_open_from_a_stale_screen_skips_the_changed_shelter_and_names_it(app, store) -> None:
    """The issue's run: a shelter closed as 建物損壊 is not re-opened from an older screen."""
    from disaster_dx import hq as hq_core
    from disaster_dx.model import Hazard

    tower = next(s for s in store.shelters() if Hazard.TSUNAMI in s.hazards)
    password = add_staff_user(store, "hq1", "hq")
    add_staff_user(store, "staff1", "shelter_staff", shelters=(tower.shelter_id,))
    auth._update(store, "staff1", {"display_name": "田中 花子"})
    client = app.server.test_client()
    login_client(client, "hq1", password)
    live = store.live_incident().incident_id
    screen = _screen(store)  # HQ's board is drawn now…
    hq_core.report_status(  # …then the building is found damaged and the site closed
        store,
        live,
        auth.get_user(store, "staff1"),
        tower.shelter_id,
        {"open_state": "closed", "public_note": "建物損壊・使用不可"},
        seen_version=screen[tower.shelter_id][0],
    )
    text = _bulk_open(client, app, screen)
    assert "津波対応の63か所のうち62か所を「開設」にしました" in text
    assert "次の1か所は、この画面の表示後に他の職員が開設状況を変更したため変更していません" in text
    assert f"{tower.name}（閉鎖・田中 花子" in text
    status = _live_state(store).shelter(tower.shelter_id)
    assert status.open_state.value == "closed" and status.public_note == "建物損壊・使用不可"
    # From a screen drawn after the change HQ sees it closed and may open it deliberately.
    assert "63か所のうち1か所" in _bulk_open(client, app, _screen(store))


def test_board_poll_ignores_camera_frames_but_not_reports(app, store) -> None:
    from disaster_dx.camera_frames import CAMERA_FRAME
    from disaster_dx.events import NewEvent

    password = add_staff_user(store, "hq1", "hq")
    client = app.server.test_client()
    login_client(client, "hq1", password)
    live = store.live_incident().incident_id

    def poll(seen: int, plans: dict | None = None) -> dict:
        values = {(ids.HQ_SEQ, "data"): seen, (ids.HQ_PLANS, "data"): plans or {}}
        body = callback_request(app, ids.HQ_BOARD, values, f"{ids.HQ_INTERVAL}.n_intervals")
        reply = client.post("/_dash-update-component", json=body)
        assert reply.status_code in (200, 204)
        return reply.json["response"] if reply.status_code == 200 else {}

    first = poll(0)
    seen, plans = first[ids.HQ_SEQ]["data"], first[ids.HQ_PLANS]["data"]
    frame = camera_frame_payload()
    for _ in range(3):
        store.append(live, [NewEvent(CAMERA_FRAME, frame)], actor="cameras")
    assert poll(seen, plans) == {}  # nothing HQ sees changed: no re-render
    store.append(
        live, [NewEvent("shelter.status_reported", {"shelter_id": SCHOOL, "open_state": "open"})],
        actor="hq1",
    )  # fmt: skip
    update = poll(seen, plans)
    assert update[ids.HQ_SEQ]["data"] == store.last_seq(live) == seen + 4
    assert any(
        row["id"] == SCHOOL and "開設" in row["open_state"]
        for row in update[ids.HQ_BOARD]["rowData"]
    )
    # The event log leaves the frames out unless asked; the CSV follows the same choice.
    quiet = client.get("/hq/export/log.csv").get_data().decode("utf-8-sig")
    full = client.get("/hq/export/log.csv?routine=1").get_data().decode("utf-8-sig")
    assert "状況報告" in quiet and "カメラ画像の受信" not in quiet
    assert full.count("カメラ画像の受信") == 3
    values = {("hq-log-routine", "value"): ["routine"]}
    body = callback_request(app, "hq-log-table", values, "hq-log-routine.value")
    shown = _callback_text(client.post("/_dash-update-component", json=body))
    assert "カメラ画像の受信" in shown and "routine=1" in shown
    values[("_pages_location", "search")] = "?lang=en"
    body = callback_request(app, "hq-log-table", values, "hq-log-routine.value")
    shown = _callback_text(client.post("/_dash-update-component", json=body))
    assert "events (newest first" in shown  # the page's own words follow the page's language


@pytest.mark.parametrize("proxies", [0, 1])
def test_behind_a_proxy_throttling_counts_each_client(make_app, app_settings, proxies) -> None:
    """With TRUSTED_PROXIES=1 (nginx in front) a guesser is throttled, not every colleague."""
    app = make_app(app_settings.with_overrides(trusted_proxies=proxies))
    store = app.server.extensions[EXTENSION_KEY].store
    passwords = {name: add_staff_user(store, name, "hq") for name in ("hq1", "hq2")}

    def attempt(username: str, password: str, client_address: str) -> int:
        client = app.server.test_client()
        client.environ_base.update(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=client_address)
        return login_client(client, username, password).status_code

    for n in range(auth.MAX_FAILURES_PER_ADDRESS):  # one address guesses many accounts
        assert attempt(f"nobody{n}", "guess", "203.0.113.5") == 401
    assert attempt("hq1", passwords["hq1"], "203.0.113.5") == 429
    colleague = attempt("hq2", passwords["hq2"], "198.51.100.7")
    # Without a trusted proxy every request comes from nginx's one address: all are throttled.
    assert colleague == (302 if proxies else 429)
    refused = store.audit_log(action="login.throttled")
    assert refused[0]["actor"] == ("ip:203.0.113.5" if proxies else "ip:127.0.0.1")


def test_area_reports_carry_the_version_shown_and_conflict_per_field(app, store) -> None:
    from disaster_dx import hq as hq_core

    password = add_staff_user(store, "hq1", "hq")
    add_staff_user(store, "hq2", "hq")
    client = app.server.test_client()
    login_client(client, "hq1", password)
    live = store.live_incident().incident_id
    other = auth.get_user(store, "hq2")
    hq_core.report_area(store, live, other, "前浜", at_home=10, in_car=2, seen_version=0)
    shown = [{"area": "前浜", "at_home": 10, "in_car": 2, "version": 1}]
    hq_core.report_area(store, live, other, "前浜", at_home=12, in_car=None, seen_version=1)

    def record(home: str, car: str, trigger: dict | None = None) -> str:
        values = {
            (ids.HQ_AREA_NAME, "value"): " 前浜 ",
            (ids.HQ_AREA_HOME, "value"): home,
            (ids.HQ_AREA_CAR, "value"): car,
            (ids.HQ_AREA_TABLE, "rowData"): shown,
            (ids.HQ_FORCE, "data"): 0,
            ("_pages_location", "search"): "",
        }
        body = callback_request(app, ids.HQ_AREA_RESULT, values, f"{ids.HQ_AREA_SAVE}.n_clicks")
        if trigger is not None:
            key = json.dumps(trigger, sort_keys=True, separators=(",", ":"))
            body["inputs"][1] = [{"id": trigger, "property": "n_clicks", "value": 1}]
            body["changedPropIds"] = [f"{key}.n_clicks"]
        response = client.post("/_dash-update-component", json=body)
        assert response.status_code == 200
        return _callback_text(response)

    # Only 車中泊 changed on this screen: 在宅 (12, by hq2) is merged, not reverted.
    assert "その間に他の職員が記録した項目（在宅避難（人））はそのまま残しました" in record("", "5")
    area = _live_state(store).areas["前浜"]
    assert (area.at_home, area.in_car) == (12, 5)
    # 在宅 typed on the same old screen: a conflict on that field alone, then re-applied.
    text = record("7", "")
    assert "他の職員が先にこの地区を記録しました" in text and '"data-field": "at_home"' in text
    assert _live_state(store).areas["前浜"].at_home == 12
    newest = _live_state(store).areas["前浜"].version
    assert "記録しました" in record("7", "", {"type": ids.HQ_AREA_REAPPLY, "version": newest})
    assert _live_state(store).areas["前浜"].at_home == 7
    assert "0以上の整数" in record("-5", "")
