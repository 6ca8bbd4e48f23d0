"""``/line/webhook`` and ``/hq/line`` through the app, with the fake LINE server on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import threading
import time

import pytest
from plotly.utils import PlotlyJSONEncoder
from werkzeug.serving import make_server

from disaster_dx import auth, line_bot, notify
from disaster_dx.cli import main
from disaster_dx.events import SHELTER_STATUS_REPORTED, NewEvent
from disaster_dx.line_fake import FakeLineServer
from disaster_dx.model import Hazard
from disaster_dx.refusals import refusal_counts
from disaster_dx.web import line_routes
from disaster_dx.web.context import EXTENSION_KEY, runtime_of
from tests.conftest import add_staff_user
from tests.line_sdk import validator
from tests.webtools import callback_request, login_client

TOKEN = "web-test-token"
SECRET = "web-test-secret"
USER_ID = "U" + "0123456789abcdef" * 2  # a made-up LINE user id


@pytest.fixture
def fake():
    with FakeLineServer(token=TOKEN, validate=validator()) as server:
        yield server


@pytest.fixture
def line_settings(app_settings, fake):
    return app_settings.with_overrides(
        line_api_base=fake.base_url,
        line_channel_access_token=TOKEN,
        line_channel_secret=SECRET,
        line_worker="off",
        public_base_url="https://bousai.example.jp/",
    )


@pytest.fixture
def app(make_app, line_settings):
    return make_app(line_settings)


@pytest.fixture
def store(app):
    return app.server.extensions[EXTENSION_KEY].store


def _post(client, body: dict, signature: str | None = "sign"):
    raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json"}
    if signature == "sign":
        headers["X-Line-Signature"] = line_bot.signature(SECRET, raw)
    elif signature is not None:
        headers["X-Line-Signature"] = signature
    return client.post("/line/webhook", data=raw, headers=headers)


def _open(store, count: int) -> list[str]:
    incident = store.live_incident()
    ids = [s.shelter_id for s in store.shelters() if Hazard.TSUNAMI in s.hazards][:count]
    store.append(
        incident.incident_id,
        [NewEvent(SHELTER_STATUS_REPORTED, {"shelter_id": i, "open_state": "open"}) for i in ids],
        actor="hq1",
    )
    return ids


def test_bad_or_missing_signature_is_refused_and_audited(app, store, fake):
    client = app.server.test_client()
    body = line_bot.sample_webhook_body("location", user_id=USER_ID)
    assert _post(client, body, signature=None).status_code == 401
    assert _post(client, body, signature="AAAA").status_code == 401
    wrong = line_bot.signature("another-secret", json.dumps(body).encode())
    assert _post(client, body, signature=wrong).status_code == 401
    # Anonymous refusals are counted per client, minute and reason (tests/security has floods).
    refused = refusal_counts(store, action="line.webhook_refused")
    assert sorted((r["reason"], r["count"]) for r in refused) == [
        ("bad signature", 2),
        ("missing signature", 1),
    ]
    assert fake.sent == []
    assert USER_ID not in json.dumps(store.audit_log(), default=str)
    assert USER_ID not in json.dumps(refused, default=str)


def test_an_unconfigured_channel_accepts_nothing(make_app, app_settings):
    app = make_app(app_settings)  # no LINE_CHANNEL_SECRET
    client = app.server.test_client()
    raw = b'{"events":[]}'
    response = client.post(
        "/line/webhook", data=raw, headers={"X-Line-Signature": line_bot.signature("", raw)}
    )
    assert response.status_code == 401


def test_a_location_gets_the_nearest_usable_shelters(app, store, fake, caplog):
    opened = _open(store, 8)
    client = app.server.test_client()
    caplog.set_level(logging.DEBUG)
    response = _post(client, line_bot.sample_webhook_body("location", user_id=USER_ID))
    assert response.status_code == 200
    (reply,) = fake.by_endpoint("reply")
    assert [m["type"] for m in reply.messages] == ["text", "location", "location", "location"]
    names = {s.shelter_id: s.name for s in store.shelters()}
    listed = [m["title"] for m in reply.messages[1:]]
    assert all(name in {names[i] for i in opened} for name in listed)
    assert "分前の情報" in reply.messages[0]["text"]
    # The same answer the core gives for the same point and state.
    expected = line_bot.LineBot(store, app.server.extensions[EXTENSION_KEY].settings)
    assert expected.location_messages(*line_bot.CITY_HALL)[1:] == reply.messages[1:]

    (entry,) = notify.delivery_log(store)
    assert (entry.kind, entry.target, entry.outcome) == ("reply", "location", "sent")
    assert entry.user_hash == notify.hash_user_id(USER_ID, secret=SECRET)
    # No LINE user id anywhere: logs, audit log, delivery log.
    assert USER_ID not in caplog.text
    assert USER_ID not in json.dumps(store.audit_log(), default=str)
    assert USER_ID not in json.dumps([e.__dict__ for e in notify.delivery_log(store)], default=str)


def test_a_redelivered_event_is_answered_once(app, store, fake):
    _open(store, 3)
    client = app.server.test_client()
    body = line_bot.sample_webhook_body("location", user_id=USER_ID)
    assert _post(client, body).status_code == 200
    # LINE thought we missed it (say our 200 came late) and sends the same event again.
    body["events"][0]["deliveryContext"] = {"isRedelivery": True}
    assert _post(client, body).status_code == 200
    assert len(fake.by_endpoint("reply")) == 1
    assert len(notify.delivery_log(store)) == 1
    # A new event from the same person is answered as usual.
    assert (
        _post(client, line_bot.sample_webhook_body("location", user_id=USER_ID)).status_code == 200
    )
    assert len(fake.by_endpoint("reply")) == 2


def test_text_and_english_replies(app, fake):
    client = app.server.test_client()
    for sample in ("shelter", "english", "help"):
        assert _post(client, line_bot.sample_webhook_body(sample)).status_code == 200
    shelter, english, help_ = (r.messages[0]["text"] for r in fake.by_endpoint("reply"))
    assert "「位置情報」" in shelter
    assert "Send your location" in english
    assert "https://bousai.example.jp/" in help_


# -- /hq/line --------------------------------------------------------------------------------------


def _render(app, store, username: str) -> str:
    with app.server.test_request_context("/hq/line"):
        from flask_login import login_user

        from disaster_dx.web.security import WebUser

        login_user(WebUser(auth.get_user(store, username)))
        return json.dumps(line_routes.layout(), cls=PlotlyJSONEncoder, ensure_ascii=False)


def test_hq_page_is_for_hq_only(app, store):
    client = app.server.test_client()
    response = client.get("/hq/line")
    assert response.status_code == 302 and response.headers["Location"] == "/login?next=/hq/line"
    refresh = callback_request(app, line_routes.LINE_LOG, {}, f"{line_routes.LINE_FORCE}.data")
    assert client.post("/_dash-update-component", json=refresh).status_code == 401
    password = add_staff_user(store, "staff1", "shelter_staff")
    login_client(client, "staff1", password)
    assert client.post("/_dash-update-component", json=refresh).status_code == 403
    add_staff_user(store, "staff2", "shelter_staff")
    assert "権限がありません" in _render(app, store, "staff2")


def test_hq_previews_holds_and_announces(app, store, fake):
    opened = _open(store, 3)
    client = app.server.test_client()
    _post(client, line_bot.sample_webhook_body("help", user_id=USER_ID))  # a log entry
    password = add_staff_user(store, "hq1", "hq")
    page = _render(app, store, "hq1")
    names = {s.shelter_id: s.name for s in store.shelters()}
    assert "避難所など3か所を開設しました。" in page
    assert all(names[i] in page for i in opened)
    assert notify.hash_user_id(USER_ID, secret=SECRET) in page
    assert USER_ID not in page and TOKEN not in page and SECRET not in page

    login_client(client, "hq1", password)
    (queued,) = notify.outbox(store)
    hold = callback_request(
        app,
        line_routes.LINE_ACTION_RESULT,
        {(line_routes.LINE_QUEUE, "value"): queued.message_key},
        f"{line_routes.LINE_HOLD}.n_clicks",
    )
    response = client.post("/_dash-update-component", json=hold)
    assert response.status_code == 200, response.data[:300]
    assert "保留中" in json.dumps(response.json, ensure_ascii=False)
    assert notify.message(store, queued.message_key).status == notify.HELD

    announce = callback_request(
        app,
        line_routes.LINE_ANNOUNCE_RESULT,
        {
            (line_routes.LINE_ANNOUNCE_TEXT, "value"): "給水を始めました。",
            (line_routes.LINE_NONCE, "data"): "form-1",
        },
        f"{line_routes.LINE_ANNOUNCE_CONFIRM}.submit_n_clicks",
    )
    for _ in range(2):  # a double submission queues it once
        assert client.post("/_dash-update-component", json=announce).status_code == 200
    announcements = [m for m in notify.outbox(store) if m.kind == notify.KIND_ANNOUNCEMENT]
    assert len(announcements) == 1 and announcements[0].created_by == "hq1"
    actions = [a["action"] for a in store.audit_log(actor="hq1")]
    assert "line.held" in actions and "line.announce" in actions

    refresh = callback_request(app, line_routes.LINE_LOG, {}, f"{line_routes.LINE_FORCE}.data")
    response = client.post("/_dash-update-component", json=refresh)
    text = json.dumps(response.json, ensure_ascii=False)
    assert "給水を始めました" in text and USER_ID not in text


def test_the_app_sender_thread_delivers(make_app, line_settings, fake):
    app = make_app(line_settings.with_overrides(line_worker="app", line_batch_seconds=1))
    store = app.server.extensions[EXTENSION_KEY].store
    runtime = runtime_of(app.server)
    assert runtime.line_sender is not None and not runtime.line_sender.running()  # not yet
    try:
        assert app.server.test_client().get("/healthz").status_code == 200
        assert runtime.line_sender.running()
        _open(store, 2)
        deadline = time.monotonic() + 20
        while not fake.by_endpoint("broadcast") and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        runtime.stop()
    (sent,) = fake.by_endpoint("broadcast")
    assert "避難所など2か所を開設しました。" in sent.texts()[0]


def test_cli_sender_and_sample_webhook(make_app, fake, line_settings, monkeypatch, capsys):
    app = make_app(line_settings.with_overrides(line_batch_seconds=1))
    store = app.server.extensions[EXTENSION_KEY].store
    for name, value in {
        "DATABASE_URL": line_settings.database_url,
        "LINE_API_BASE": fake.base_url,
        "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
        "LINE_CHANNEL_SECRET": SECRET,
        "LINE_BATCH_SECONDS": "1",
    }.items():
        monkeypatch.setenv(name, value)
    _open(store, 2)
    time.sleep(1.1)
    assert main(["line", "run", "--once"]) == 0
    assert len(fake.by_endpoint("broadcast")) == 1
    assert main(["line", "status"]) == 0
    assert "sent" in capsys.readouterr().out

    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/line/webhook"
        assert main(["line", "send-sample-webhook", "--url", url]) == 0
        assert (
            main(
                ["line", "send-sample-webhook", "--url", url, "--bad-signature", "--sample", "help"]
            )
            == 0
        )
    finally:
        server.shutdown()
        thread.join(5)
    assert len(fake.by_endpoint("reply")) == len(line_bot.SAMPLES)
    monkeypatch.delenv("LINE_CHANNEL_ACCESS_TOKEN")
    assert main(["line", "run", "--once"]) == 1  # refuses to run without a token


def test_cli_fake_server_records_what_would_be_sent(tmp_path, capsys):
    record = tmp_path / "sent.jsonl"
    done = threading.Thread(
        target=main,
        args=(["line", "fake-server", "--port", "0", "--seconds", "1.5", "--record", str(record)],),
    )
    done.start()
    time.sleep(0.5)
    err = capsys.readouterr().err
    base = err.split("fake LINE API on ", 1)[1].split(" ", 1)[0]
    client = notify.LineClient(base, "any-token")
    response = client.broadcast(
        [{"type": "text", "text": "テスト配信"}], retry_key="5f0c7a36-54a2-4a6a-8e0a-9c2f1d1e2b3c"
    )
    done.join(5)
    assert response.ok
    assert json.loads(record.read_text(encoding="utf-8"))["messages"][0]["text"] == "テスト配信"
    assert "テスト配信" in capsys.readouterr().out
