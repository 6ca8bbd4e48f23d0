"""The shelter form through the Flask test client: only changed fields, per-field conflicts,
bad input that never looks sent, questions before unlikely counts, a database that is down,
and where each role lands."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from plotly.utils import PlotlyJSONEncoder
from sqlalchemy import create_engine

from disaster_dx import auth
from disaster_dx import hq as hq_core
from disaster_dx.web import ids, shelter_form
from disaster_dx.web.context import EXTENSION_KEY
from disaster_dx.web.failures import SAVE_FAILED
from tests.conftest import add_staff_user
from tests.webtools import callback_request, login_client

SCHOOL = "E3920400009111"  # 稲生ふれあい館 (no capacity in the master)


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def store(app):
    return app.server.extensions[EXTENSION_KEY].store


def _live(store):
    return store.live_incident().incident_id


def _screen(app, store, shelter_id: str = SCHOOL) -> dict[str, Any]:
    """What the form shows now: its version and its controls' values (as ``layout`` draws them)."""
    context = app.server.extensions[EXTENSION_KEY]
    status = store.state(_live(store)).shelter(shelter_id)
    seen = shelter_form.form_values(
        status,
        now=context.now(),
        urgent_after=timedelta(hours=context.settings.urgent_need_hours),
    )
    return {"version": status.version, "seen": seen}


def _send(
    client,
    app,
    screen: dict[str, Any],
    edits: dict[str, Any] | None = None,
    *,
    trigger: dict[str, Any] | None = None,
    lang: str = "ja",
    shelter_id: str = SCHOOL,
) -> dict[str, Any]:
    """Press 送信する (or a pattern button ``trigger``) on a form showing ``screen``, edited."""
    values: dict[tuple[str, str], Any] = {
        (ids.FORM_SHELTER_ID, "data"): shelter_id,
        (ids.FORM_VERSION, "data"): screen["version"],
        (ids.FORM_SEEN, "data"): screen["seen"],
        (ids.FORM_CORRECTION, "value"): [],
        ("_pages_location", "search"): "?lang=en" if lang == "en" else "",
    }
    shown = {**screen["seen"], **(edits or {})}
    for name, control in shelter_form.CONTROLS.items():
        values[(control, "value")] = shown[name]
    body = callback_request(app, ids.FORM_RESULT, values, f"{ids.FORM_SUBMIT}.n_clicks")
    body["inputs"][0]["value"] = 1
    if trigger is not None:
        key = json.dumps(trigger, sort_keys=True, separators=(",", ":"))
        index = 1 if trigger["type"] == ids.FORM_REAPPLY else 2
        body["inputs"][index] = [{"id": trigger, "property": "n_clicks", "value": 1}]
        body["changedPropIds"] = [f"{key}.n_clicks"]
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.data[:500]
    return response.json["response"]


def _text(part: Any) -> str:
    return json.dumps(part, ensure_ascii=False, cls=PlotlyJSONEncoder)


def _errors(reply: dict[str, Any]) -> dict[str, str]:
    return {
        name: reply[ids.form_error(name)]["children"]
        for name in shelter_form.FIELDS
        if ids.form_error(name) in reply and reply[ids.form_error(name)]["children"]
    }


def _login(app, store, username: str = "hq1", *roles: str, shelters: tuple[str, ...] = ()):
    password = add_staff_user(store, username, *(roles or ("hq",)), shelters=shelters)
    client = app.server.test_client()
    login_client(client, username, password)
    return client


def test_only_changed_fields_are_sent_and_colleagues_fields_are_kept(app, store) -> None:
    """The issue's run: B changes only 世帯数 on an old screen; 避難者数 and the note stay."""
    a = _login(app, store, "staff1", "shelter_staff", shelters=(SCHOOL,))
    b = _login(app, store, "staff2", "shelter_staff", shelters=(SCHOOL,))
    auth._update(store, "staff1", {"display_name": "田中 花子"})
    first = _screen(app, store)
    note = "駐車場は満車です。徒歩でお越しください。"
    edits = {"open_state": "open", "evacuees": "80", "households": "30", "public_note": note}
    assert "送信しました" in _text(_send(a, app, first, edits))
    seen_by_both = _screen(app, store)
    assert "送信しました" in _text(_send(a, app, seen_by_both, {"evacuees": "82"}))

    reply = _send(b, app, seen_by_both, {"households": "31"})
    assert "送信しました" in _text(reply[ids.FORM_RESULT])
    assert "その間に他の職員が変更した項目（避難者数）はそのまま残し" in _text(reply)
    # The form now shows the newest record, so the next send is based on it.
    assert reply[ids.FORM_EVACUEES]["value"] == "82"
    assert reply[ids.FORM_VERSION]["data"] == store.last_seq(_live(store))
    assert "田中 花子" not in reply[ids.FORM_LAST_REPORT]["children"]  # B reported last
    events = store.events(_live(store))
    assert events[-1].payload == {"shelter_id": SCHOOL, "households": 31}
    status = store.state(_live(store)).shelter(SCHOOL)
    assert (status.evacuees, status.households, status.public_note) == (82, 31, note)

    nothing = _send(b, app, _screen(app, store))
    assert "変更された項目がありません" in _text(nothing) and "送信しました" not in _text(nothing)
    assert len(store.events(_live(store))) == len(events)


def test_a_conflict_shows_only_that_field_and_reapply_sends_only_mine(app, store) -> None:
    hq = _login(app, store, "hq1", "hq")
    staff = _login(app, store, "staff1", "shelter_staff", shelters=(SCHOOL,))
    auth._update(store, "staff1", {"display_name": "田中 花子"})
    _send(hq, app, _screen(app, store), {"open_state": "open", "evacuees": "120"})
    seen = _screen(app, store)
    _send(staff, app, seen, {"evacuees": "130", "households": "40"})

    # HQ, on the older screen, changed 避難者数 and the note: only 避難者数 clashes.
    reply = _send(hq, app, seen, {"evacuees": "150", "public_note": "受付は体育館"})
    view = _text(reply[ids.FORM_CONFLICT]["children"])
    assert "他の職員が同じ項目を先に更新しました。送信していません。" in _text(reply)
    assert view.count('"data-field"') == 1 and '"data-field": "evacuees"' in view
    for words in ("あなたの入力", "他の職員の入力", "元の値", "150", "130", "120", "田中 花子"):
        assert words in view, words
    assert "重ならなかったあなたの変更：お知らせ（市民に公開）" in view
    assert ids.FORM_EVACUEES not in reply  # the person's input stays on the screen
    status = store.state(_live(store)).shelter(SCHOOL)
    assert (status.evacuees, status.public_note) == (130, "")

    newest = store.last_seq(_live(store))
    again = _send(
        hq,
        app,
        seen,
        {"evacuees": "150", "public_note": "受付は体育館"},
        trigger={"type": ids.FORM_REAPPLY, "version": newest},
    )
    assert "送信しました" in _text(again[ids.FORM_RESULT])
    assert store.events(_live(store))[-1].payload == {
        "shelter_id": SCHOOL,
        "evacuees": 150,
        "public_note": "受付は体育館",
    }
    status = store.state(_live(store)).shelter(SCHOOL)
    assert (status.evacuees, status.households, status.public_note) == (150, 40, "受付は体育館")

    english = _send(hq, app, seen, {"evacuees": "1"}, lang="en")
    view = _text(english[ids.FORM_CONFLICT]["children"])
    assert (
        "Your entry" in view and "Entered by a colleague" in view and "Before either change" in view
    )


@pytest.mark.parametrize(
    ("typed", "error"),
    [("-5", "0以上の整数で入力してください"), ("abc", "整数で入力してください"), ("1.5", "整数")],
)
def test_a_bad_count_is_a_field_error_never_sent(app, store, typed, error) -> None:
    client = _login(app, store)
    reply = _send(client, app, _screen(app, store), {"open_state": "open", "evacuees": typed})
    assert error in _errors(reply)["evacuees"]
    assert "入力に誤りがあります" in _text(reply[ids.FORM_RESULT])
    assert "送信しました" not in _text(reply)
    assert store.last_seq(_live(store)) == 0


def test_values_a_browser_never_sends_are_field_errors_not_500(app, store) -> None:
    client = _login(app, store)
    screen = _screen(app, store)
    odd = {
        "public_note": {"text": "JSON object"},
        "pets_accepted": "maybe",
        "open_state": "<script>",
        "needs": "water",
        "crowding_override": "very",
    }
    reply = _send(client, app, screen, odd)
    errors = _errors(reply)
    assert set(errors) == set(odd)
    assert "文字で入力してください" in errors["public_note"]
    assert store.last_seq(_live(store)) == 0  # pets never stored as "no"
    # Full-width digits (a Japanese keyboard) are read; blanking a reported count is refused.
    assert "送信しました" in _text(_send(client, app, screen, {"evacuees": "８０"}))
    assert store.state(_live(store)).shelter(SCHOOL).evacuees == 80
    blank = _send(client, app, _screen(app, store), {"evacuees": ""})
    assert "空欄にはできません" in _errors(blank)["evacuees"]


def test_crowding_read_out_names_the_count_that_is_missing(app, store) -> None:
    client = _login(app, store)

    def read_out(evacuees: Any, capacity: Any, lang: str = "") -> str:
        values = {
            (ids.FORM_EVACUEES, "value"): evacuees,
            (ids.FORM_CAPACITY, "value"): capacity,
            (ids.FORM_CROWDING_OVERRIDE, "value"): "auto",
            (ids.FORM_SHELTER_ID, "data"): SCHOOL,
            ("_pages_location", "search"): lang,
        }
        body = callback_request(
            app, ids.FORM_CROWDING_COMPUTED, values, f"{ids.FORM_EVACUEES}.value"
        )
        reply = client.post("/_dash-update-component", json=body)
        return reply.json["response"][ids.FORM_CROWDING_COMPUTED]["children"]

    assert read_out("60", "120") == "やや混雑（50%）"
    assert read_out("-5", "120") == "不明（避難者数を確認してください）"  # not "収容人数が未入力"
    assert read_out("", "120") == "不明（避難者数が未入力）"
    assert read_out("60", "") == "不明（収容人数が未入力）"  # this site has no master capacity
    assert read_out("60", "120", "?lang=en").startswith("Somewhat crowded (50%)")


def test_unlikely_counts_are_asked_about_before_sending(app, store) -> None:
    client = _login(app, store)
    screen = _screen(app, store)
    edits = {"open_state": "open", "evacuees": "30", "households": "500"}
    asked = _send(client, app, screen, edits)
    text = _text(asked[ids.FORM_RESULT])
    assert "世帯数（500）が避難者数（30人）より多くなっています" in text
    assert "送信しました" not in text and store.last_seq(_live(store)) == 0
    key = "evacuees=30,households=500,capacity=None"
    # Confirming a different number than the one asked about asks again.
    changed = _send(
        client,
        app,
        screen,
        {**edits, "households": "600"},
        trigger={"type": ids.FORM_CONFIRM, "key": key},
    )
    assert "世帯数（600）" in _text(changed) and store.last_seq(_live(store)) == 0
    sent = _send(client, app, screen, edits, trigger={"type": ids.FORM_CONFIRM, "key": key})
    assert "送信しました" in _text(sent[ids.FORM_RESULT])
    assert store.state(_live(store)).shelter(SCHOOL).households == 500
    crowded = _send(client, app, _screen(app, store), {"evacuees": "300", "capacity": "120"})
    assert "収容人数（120人）の2倍を超えています" in _text(crowded)


def test_database_unreachable_says_so_and_keeps_the_input(app, store, tmp_path) -> None:
    client = _login(app, store)
    screen = _screen(app, store)
    working = store.engine
    store.engine = create_engine(
        "postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2"
        if store.dialect == "postgresql"
        else f"sqlite:///{tmp_path}/missing-folder/db.sqlite3"
    )
    try:
        reply = _send(client, app, screen, {"open_state": "open", "evacuees": "120"})
        assert list(reply) == [ids.FORM_RESULT]  # nothing else on the screen changes
        assert SAVE_FAILED["ja"] in _text(reply[ids.FORM_RESULT])
        english = _send(client, app, screen, {"evacuees": "120"}, lang="en")
        assert SAVE_FAILED["en"] in _text(english)
        health = app.server.test_client().get("/healthz")
        assert health.status_code == 503 and health.is_json
        assert health.json["ok"] is False and health.json["failing"] == ["database"]
        assert health.json["components"]["database"].startswith("unreachable")
        page = client.get("/hq")
        assert page.status_code == 503 and "本部のサーバーに問題があり" in page.get_data(
            as_text=True
        )
    finally:
        store.engine.dispose()
        store.engine = working
    # Back up: the kept input is sent as it was.
    assert "送信しました" in _text(
        _send(client, app, screen, {"open_state": "open", "evacuees": "120"})
    )
    assert app.server.test_client().get("/healthz").status_code == 200


def test_roles_land_where_they_work(app, store) -> None:
    from disaster_dx.model import OpenState

    for name, roles, home in (
        ("hq1", ("hq",), "/hq"),
        ("plan1", ("planner",), "/plans"),
        ("drill1", ("drill",), "/drill"),
        ("staff1", ("shelter_staff",), "/hq"),
    ):
        password = add_staff_user(
            store, name, *roles, shelters=(SCHOOL,) if name == "staff1" else ()
        )
        client = app.server.test_client()
        landed = login_client(client, name, password)  # asks for /hq, as the guard does
        assert landed.headers["Location"] == home, name
    # A page the user may open is kept as the next page.
    client = app.server.test_client()
    page = client.get("/login").get_data(as_text=True)
    assert "csrf_token" in page
    hq_core.report_status(
        store,
        _live(store),
        auth.get_user(store, "hq1"),
        SCHOOL,
        {"open_state": OpenState.OPEN.value},
        seen_version=0,
    )
    auth._update(store, "hq1", {"display_name": "本部 佐藤"})
    from disaster_dx.web import hq as hq_page
    from disaster_dx.web.staff import refusal

    with app.server.test_request_context("/hq"):
        from flask_login import login_user

        from disaster_dx.web.security import WebUser

        login_user(WebUser(auth.get_user(store, "staff1")))
        home = _text(hq_page.layout())
        refused = _text(refusal(lang="ja"))
    assert (
        "稲生ふれあい館" in home and "開設" in home and "最終報告" in home and "本部 佐藤" in home
    )
    assert "ログアウト" in refused and "/hq/shelter/E3920400009111" in refused
    assert "この画面を開く権限がありません" in refused


def test_people_are_shown_by_display_name_and_csv_keeps_the_login_id(app, store) -> None:
    client = _login(app, store, "hq1", "hq")
    auth._update(store, "hq1", {"display_name": "本部 佐藤"})
    _send(client, app, _screen(app, store), {"open_state": "open", "evacuees": "12"})
    board = client.get("/hq/export/board.csv").data.decode("utf-8-sig")
    assert "報告者,報告者ID" in board and "本部 佐藤,hq1" in board
    log = client.get("/hq/export/log.csv").data.decode("utf-8-sig")
    assert log.splitlines()[0].startswith("番号,日時,操作者,操作者名,") and ",hq1,本部 佐藤," in log
    body = callback_request(app, "hq-log-table", {}, "hq-log-shelter.value")
    rows = client.post("/_dash-update-component", json=body).json["response"]["hq-log-table"]
    assert rows["rowData"][0]["actor"] == "本部 佐藤"
    from disaster_dx.after_action import after_action

    report = after_action(store, _live(store))
    assert list(report.participants) == ["本部 佐藤"]
