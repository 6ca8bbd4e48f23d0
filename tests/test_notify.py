"""LINE notifications against the local fake LINE server: batching, idempotency, HQ control."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from disaster_dx import auth, notify
from disaster_dx.bundled import ensure_initialised
from disaster_dx.config import Settings
from disaster_dx.errors import ValidationError
from disaster_dx.events import SHELTER_CORRECTION, SHELTER_STATUS_REPORTED, NewEvent
from disaster_dx.hq import seen_on_screen, set_open_state_bulk
from disaster_dx.line_fake import FakeLineServer
from disaster_dx.model import Hazard, IncidentKind, OpenState
from disaster_dx.store import Store
from tests.conftest import add_staff_user
from tests.line_sdk import validator

TOKEN = "test-channel-token"
START = datetime(2026, 9, 1, 3, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand (events, batch windows, backoff and leases use it)."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def fake():
    with FakeLineServer(token=TOKEN, validate=validator()) as server:
        yield server


@pytest.fixture
def clock(store: Store) -> Clock:
    clock = Clock()
    store.clock = clock
    return clock


@pytest.fixture
def settings(fake: FakeLineServer) -> Settings:
    return Settings(
        line_api_base=fake.base_url,
        line_channel_access_token=TOKEN,
        line_channel_secret="secret",
        public_base_url="https://bousai.example.jp/nankoku/",
    )


@pytest.fixture
def live(store: Store, settings: Settings, clock: Clock):
    """The bundled master, the live incident and the notifier listening on the store."""
    ensure_initialised(store, actor="test")
    notify.attach(store, settings)
    return store.live_incident()


@pytest.fixture
def hq_user(store: Store, live) -> auth.User:
    add_staff_user(store, "hq1", "hq")
    return auth.get_user(store, "hq1")


def _sender(store: Store, settings: Settings, clock: Clock, **kwargs) -> notify.Sender:
    return notify.Sender(store, settings, clock=clock, **kwargs)


def _tsunami_ids(store: Store, count: int) -> list[str]:
    return [s.shelter_id for s in store.shelters() if Hazard.TSUNAMI in s.hazards][:count]


def _report(store: Store, incident_id: str, shelter_id: str, state: OpenState, **more) -> None:
    payload = {"shelter_id": shelter_id, "open_state": state.value, **more}
    store.append(incident_id, [NewEvent(SHELTER_STATUS_REPORTED, payload)], actor="hq1")


def test_twenty_openings_in_one_batch_are_one_message(store, settings, clock, fake, live, hq_user):
    ids = _tsunami_ids(store, 20)
    assert len(ids) == 20
    seen = seen_on_screen(store.state(live.incident_id), ids)
    set_open_state_bulk(store, live.incident_id, hq_user, ids, OpenState.OPEN, seen=seen)
    (queued,) = notify.outbox(store)
    assert queued.status == notify.QUEUED and queued.opened == 20
    assert queued.due_at == START + timedelta(seconds=settings.line_batch_seconds)

    sender = _sender(store, settings, clock)
    assert sender.run_once() == 0  # the batch window is still open
    assert fake.sent == []
    clock.advance(seconds=61)
    assert sender.run_once() == 1
    clock.advance(minutes=10)
    assert sender.run_once() == 0

    (request,) = fake.sent
    assert request.endpoint == "broadcast"
    text = "\n".join(request.texts())
    # A summary first, then names only up to LINE_MAX_NAMES (the page has the full list).
    assert "避難所など20か所を開設しました。" in text
    names = {s.shelter_id: s.name for s in store.shelters()}
    listed = [sid for sid in ids if f"・{names[sid]}" in text]
    assert len(listed) == settings.line_max_names == 10
    assert "ほか10か所" in text
    assert settings.public_base_url in text
    assert f"Shelter status in English: {settings.public_base_url}?lang=en" in text
    assert "（9月1日 12:00 時点）" in text  # JST
    assert notify.message(store, queued.message_key).status == notify.SENT
    (entry,) = notify.delivery_log(store)
    assert (entry.outcome, entry.status_code, entry.request_id) == (
        "sent",
        200,
        request.request_id,
    )


def test_changes_within_the_window_join_one_message_then_a_new_one_starts(
    store, settings, clock, fake, live
):
    first, second, third = _tsunami_ids(store, 3)
    _report(store, live.incident_id, first, OpenState.OPEN)
    clock.advance(seconds=20)
    _report(store, live.incident_id, second, OpenState.OPEN)
    clock.advance(seconds=20)
    _report(store, live.incident_id, first, OpenState.OPEN, evacuees=12)  # no state change
    (queued,) = notify.outbox(store)
    assert queued.opened == 2

    clock.advance(seconds=25)  # the first window has ended
    _report(store, live.incident_id, third, OpenState.OPEN)
    _report(store, live.incident_id, first, OpenState.CLOSED)
    newest, oldest = notify.outbox(store)
    assert (oldest.opened, newest.opened, newest.closed) == (2, 1, 1)
    assert "避難所など1か所を閉鎖しました。" in newest.text

    sender = _sender(store, settings, clock)
    sender.run_once()
    assert len(fake.sent) == 1
    clock.advance(seconds=60)
    sender.run_once()
    assert len(fake.sent) == 2


def test_a_correction_never_announces(store, settings, clock, fake, live):
    shelter, other = _tsunami_ids(store, 2)
    # A correction that "opens" a shelter is a fix of the record, not an opening.
    store.append(
        live.incident_id,
        [
            NewEvent(
                SHELTER_CORRECTION,
                {"shelter_id": shelter, "open_state": "open", "reason": "入力ミス"},
            ),
            NewEvent(SHELTER_CORRECTION, {"shelter_id": other, "evacuees": 3, "reason": "訂正"}),
        ],
        actor="hq1",
    )
    assert notify.outbox(store) == []
    # Nor does closing it again by correction; a real report after it counts from its state.
    store.append(
        live.incident_id,
        [NewEvent(SHELTER_CORRECTION, {"shelter_id": shelter, "open_state": "closed"})],
        actor="hq1",
    )
    assert notify.outbox(store) == []
    clock.advance(minutes=5)
    _sender(store, settings, clock).run_once()
    assert fake.sent == []


def test_a_drill_never_announces(store, settings, clock, fake, live):
    drill = store.create_incident("津波避難訓練", kind=IncidentKind.DRILL, actor="drill1")
    ids = _tsunami_ids(store, 5)
    store.append(
        drill.incident_id,
        [NewEvent(SHELTER_STATUS_REPORTED, {"shelter_id": i, "open_state": "open"}) for i in ids],
        actor="drill1",
    )
    clock.advance(minutes=5)
    sender = _sender(store, settings, clock)
    sender.run_once()
    assert notify.outbox(store) == []
    assert notify.collect(store, settings, drill.incident_id, now=clock()) == []
    assert fake.sent == []


def test_opened_and_closed_again_within_the_window_is_not_sent(store, settings, clock, fake, live):
    (shelter,) = _tsunami_ids(store, 1)
    _report(store, live.incident_id, shelter, OpenState.OPEN)
    _report(store, live.incident_id, shelter, OpenState.CLOSED)
    (queued,) = notify.outbox(store)
    assert queued.items == ()
    clock.advance(seconds=61)
    _sender(store, settings, clock).run_once()
    assert notify.message(store, queued.message_key).status == notify.SKIPPED
    assert fake.sent == []


def test_a_sender_killed_after_sending_does_not_send_again(store, settings, clock, fake, live):
    _report(store, live.incident_id, _tsunami_ids(store, 1)[0], OpenState.OPEN)
    clock.advance(seconds=61)
    assert _sender(store, settings, clock).run_once() == 1  # then the process dies

    restarted = Store(store.url, schema=store.schema, clock=clock)
    try:
        clock.advance(minutes=1)  # the dead sender's lease has run out
        later = _sender(restarted, settings, clock)
        assert later.run_once() == 0
        clock.advance(minutes=10)
        assert later.run_once() == 0
    finally:
        restarted.dispose()
    assert len(fake.sent) == 1
    assert fake.duplicates == []  # it did not even try


def test_a_sender_killed_between_send_and_commit_is_saved_by_the_retry_key(
    store, settings, clock, fake, live, monkeypatch
):
    _report(store, live.incident_id, _tsunami_ids(store, 1)[0], OpenState.OPEN)
    clock.advance(seconds=61)
    first = _sender(store, settings, clock)

    def killed(*_args, **_kwargs):
        raise SystemExit("killed before recording the delivery")

    monkeypatch.setattr(first, "_finish_delivery", killed)
    with pytest.raises(SystemExit):
        first.run_once()
    assert len(fake.sent) == 1  # LINE accepted it, but the database does not know

    restarted = Store(store.url, schema=store.schema, clock=clock)
    try:
        clock.advance(minutes=1)
        _sender(restarted, settings, clock).run_once()
    finally:
        restarted.dispose()
    assert len(fake.sent) == 1  # LINE answered 409 for the same retry key: not sent twice
    assert fake.duplicates == [fake.sent[0].retry_key]
    (message,) = notify.outbox(store)
    assert message.status == notify.SENT
    assert [e.outcome for e in notify.delivery_log(store)] == ["duplicate"]


def test_failures_back_off_and_retry_with_the_same_key(store, settings, clock, fake, live):
    _report(store, live.incident_id, _tsunami_ids(store, 1)[0], OpenState.OPEN)
    clock.advance(seconds=61)
    sender = _sender(store, settings, clock)
    fake.fail_next(500)
    fake.fail_next(429, retry_after=30)
    assert sender.run_once() == 0
    clock.advance(seconds=1)
    assert sender.run_once() == 0  # backoff: 2 s after the first failure
    clock.advance(seconds=1)
    assert sender.run_once() == 0  # 429: LINE asked for 30 s
    clock.advance(seconds=29)
    assert sender.run_once() == 0
    clock.advance(seconds=1)
    assert sender.run_once() == 1
    log = list(reversed(notify.delivery_log(store)))
    assert [(e.outcome, e.status_code, e.attempt) for e in log] == [
        ("retry", 500, 1),
        ("retry", 429, 2),
        ("sent", 200, 3),
    ]
    assert len(fake.sent) == 1


def test_a_refused_request_fails_without_retrying(store, settings, clock, fake, live):
    _report(store, live.incident_id, _tsunami_ids(store, 1)[0], OpenState.OPEN)
    clock.advance(seconds=61)
    wrong = settings.with_overrides(line_channel_access_token="not-the-token")
    sender = _sender(store, wrong, clock)
    sender.run_once()
    clock.advance(minutes=10)
    sender.run_once()
    (message,) = notify.outbox(store)
    assert message.status == notify.FAILED
    (entry,) = notify.delivery_log(store)
    assert (entry.outcome, entry.status_code) == ("failed", 401)
    assert "not-the-token" not in json.dumps(entry.__dict__, default=str)


def test_only_the_lease_holder_sends(store, settings, clock, fake, live):
    _report(store, live.incident_id, _tsunami_ids(store, 1)[0], OpenState.OPEN)
    clock.advance(seconds=61)
    first = _sender(store, settings, clock, holder="worker-1")
    second = _sender(store, settings, clock, holder="worker-2")
    assert first.acquire_lease()
    assert second.run_once() == 0 and fake.sent == []
    first.release_lease()
    assert second.run_once() == 1
    assert not first.acquire_lease()


def test_hq_holds_releases_cancels_and_announces(store, settings, clock, fake, live, hq_user):
    first, second = _tsunami_ids(store, 2)
    _report(store, live.incident_id, first, OpenState.OPEN)
    (queued,) = notify.outbox(store)
    notify.hold(store, hq_user, queued.message_key, now=clock())
    clock.advance(minutes=2)
    _report(store, live.incident_id, second, OpenState.OPEN)  # joins the held message
    sender = _sender(store, settings, clock)
    sender.run_once()
    assert fake.sent == []
    held = notify.message(store, queued.message_key)
    assert (held.status, held.opened) == (notify.HELD, 2)
    clock.advance(minutes=settings.line_max_delay_minutes + 10)  # a long hold
    sender.run_once()
    assert fake.sent == []
    notify.release(store, hq_user, queued.message_key, now=clock())  # sent, not expired
    sender.run_once()
    assert len(fake.sent) == 1 and "避難所など2か所を開設しました" in fake.sent[0].texts()[0]

    clock.advance(minutes=1)
    _report(store, live.incident_id, first, OpenState.CLOSED)
    (cancelled, _) = notify.outbox(store)
    notify.cancel(store, hq_user, cancelled.message_key, now=clock())
    clock.advance(minutes=2)
    sender.run_once()
    assert len(fake.sent) == 1

    for _ in range(2):  # the same form sent twice: one message
        notify.announce(
            store, settings, hq_user, "避難指示を解除しました。", nonce="n1", now=clock()
        )
    sender.run_once()
    assert len(fake.sent) == 2
    text = fake.sent[1].texts()[0]
    assert text.startswith("避難指示を解除しました。") and settings.public_base_url in text
    actions = [a["action"] for a in store.audit_log()]
    for action in ("line.held", "line.released", "line.cancelled", "line.announce"):
        assert actions.count(action) == 1, action


def test_only_hq_controls_messages(store, settings, clock, live):
    _report(store, live.incident_id, _tsunami_ids(store, 1)[0], OpenState.OPEN)
    (queued,) = notify.outbox(store)
    add_staff_user(store, "staff1", "shelter_staff")
    staff = auth.get_user(store, "staff1")
    with pytest.raises(notify.NotPermitted):
        notify.hold(store, staff, queued.message_key, now=clock())
    with pytest.raises(notify.NotPermitted):
        notify.announce(store, settings, staff, "テスト", nonce="x", now=clock())
    assert [a["actor"] for a in store.audit_log(action="line.refused")] == ["staff1", "staff1"]
    assert notify.message(store, queued.message_key).status == notify.QUEUED


def test_announcements_are_checked(store, settings, clock, live, hq_user):
    with pytest.raises(ValidationError) as refused:
        notify.announce(store, settings, hq_user, " ", nonce="a", now=clock())
    assert "must not be empty" in str(refused.value)
    with pytest.raises(ValidationError, match="at most 2000"):
        notify.announce(store, settings, hq_user, "あ" * 2001, nonce="b", now=clock())


def test_multicast_sends_to_configured_users_and_stores_no_ids(store, settings, clock, fake, live):
    users = tuple(f"U{i:032x}" for i in range(3))
    multicast = settings.with_overrides(line_broadcast=False, line_multicast_to=users)
    _report(store, live.incident_id, _tsunami_ids(store, 1)[0], OpenState.OPEN)
    clock.advance(seconds=61)
    assert _sender(store, multicast, clock).run_once() == 1
    (request,) = fake.sent
    assert (request.endpoint, request.recipients) == ("multicast", 3)
    dump = _dump_notify_tables(store)
    assert not any(user in dump for user in users)


def test_catch_up_announces_what_came_without_a_listener(store, settings, clock, fake):
    ensure_initialised(store, actor="test")  # no notifier attached: e.g. a CLI process wrote
    notify.create_notify_tables(store)
    incident = store.live_incident()
    first, second = _tsunami_ids(store, 2)
    _report(store, incident.incident_id, first, OpenState.OPEN)
    sender = _sender(store, settings, clock)
    sender.run_once()  # the first look starts at the end: history is never announced
    assert notify.outbox(store) == []
    _report(store, incident.incident_id, second, OpenState.OPEN)
    sender.run_once()
    (queued,) = notify.outbox(store)
    assert queued.opened == 1 and second in json.dumps(queued.items)
    clock.advance(seconds=61)
    assert sender.run_once() == 1


def test_a_message_not_sent_in_time_expires(store, settings, clock, fake, live):
    _report(store, live.incident_id, _tsunami_ids(store, 1)[0], OpenState.OPEN)
    clock.advance(minutes=settings.line_max_delay_minutes + 2)
    _sender(store, settings, clock).run_once()
    (message,) = notify.outbox(store)
    assert message.status == notify.EXPIRED and fake.sent == []


def test_long_texts_are_split_at_line_ends() -> None:
    text = "\n".join(f"・避難所{i:04d}" + "あ" * 40 for i in range(400))
    pieces = notify.split_text(text)
    assert 1 < len(pieces) <= notify.MAX_MESSAGES
    assert all(len(p) <= notify.MAX_TEXT for p in pieces)
    assert pieces[0].startswith("・避難所0000")
    assert notify.split_text("短い") == ["短い"]


def test_backoff_doubles_up_to_a_limit() -> None:
    assert [notify.backoff(n).total_seconds() for n in (1, 2, 3)] == [2, 4, 8]
    assert notify.backoff(20) == notify.BACKOFF_MAX
    assert notify.backoff(1, retry_after=60).total_seconds() == 60


def _dump_notify_tables(store: Store) -> str:
    with store.engine.connect() as conn:
        rows = [
            dict(row._mapping)
            for table in notify.notify_metadata.sorted_tables
            for row in conn.execute(select(table))
        ]
    return json.dumps(rows, ensure_ascii=False, default=str)


def test_line_settings_are_read_and_checked() -> None:
    from disaster_dx.config import settings_from_env
    from disaster_dx.errors import ConfigError

    users = f"U{'a' * 32}, U{'b' * 32}"
    settings = settings_from_env(
        {
            "LINE_CHANNEL_ACCESS_TOKEN": "token-value",
            "LINE_CHANNEL_SECRET": "secret-value",
            "LINE_MULTICAST_TO": users,
            "LINE_BROADCAST": "false",
            "LINE_BATCH_SECONDS": "30",
            "LINE_MAX_NAMES": "25",
            "PUBLIC_BASE_URL": "https://bousai.example.jp/",
        }
    )
    assert settings.line_max_names == 25
    assert settings_from_env({}).line_max_names == 10
    assert settings.line_multicast_to == (f"U{'a' * 32}", f"U{'b' * 32}")
    assert (settings.line_broadcast, settings.line_batch_seconds) == (False, 30)
    assert settings.line_api_base == "https://api.line.me"
    shown = repr(settings)
    assert (
        "token-value" not in shown and "secret-value" not in shown and "U" + "a" * 32 not in shown
    )
    defaults = settings_from_env({})
    assert defaults.public_base_url == "http://127.0.0.1:8050/"
    assert (defaults.line_channel_access_token, defaults.line_worker) == ("", "app")
    for env, words in (
        ({"LINE_API_BASE": "ftp://x"}, "LINE_API_BASE"),
        ({"PUBLIC_BASE_URL": "bousai"}, "PUBLIC_BASE_URL"),
        ({"LINE_WORKER": "sometimes"}, "LINE_WORKER"),
        ({"LINE_BROADCAST": "perhaps"}, "LINE_BROADCAST"),
        ({"LINE_BATCH_SECONDS": "0"}, "positive"),
        ({"LINE_MAX_NAMES": "0"}, "LINE_MAX_NAMES"),
        ({"LINE_MAX_NAMES": "ten"}, "LINE_MAX_NAMES"),
    ):
        with pytest.raises(ConfigError, match=words):
            settings_from_env(env)
    with pytest.raises(ConfigError) as bad_id:
        settings_from_env({"LINE_MULTICAST_TO": "someone@example.jp"})
    assert "someone" not in str(bad_id.value)  # never echo a personal identifier
    production = {
        "DISASTER_DX_ENV": "production",
        "SECRET_KEY": "29537f4edbd8d5617be21dc61c0031503ed43f203ff4f184c0906c08f8a31f3a",
    }
    with pytest.raises(ConfigError, match="https"):
        settings_from_env(
            {**production, "LINE_CHANNEL_ACCESS_TOKEN": "t", "LINE_API_BASE": "http://line.example"}
        )
    local = {
        **production,
        "LINE_CHANNEL_ACCESS_TOKEN": "t",
        "LINE_API_BASE": "http://127.0.0.1:8901",
    }
    assert settings_from_env(local).line_api_base == "http://127.0.0.1:8901"


# -- 避難情報: sent at once, once; the opening summary follows the hazard in force ------------


def _issue(store: Store, incident_id: str, level: int, hazard: Hazard = Hazard.TSUNAMI) -> str:
    from disaster_dx import alerts
    from disaster_dx.model import AlertLevel

    return alerts.issue_alert(
        store,
        incident_id,
        "hq1",
        level=AlertLevel.from_number(level),
        hazard=hazard,
        areas=["all"],
        reason="INTERNAL 判断メモ",
    ).alert_id


def test_an_alert_is_sent_at_once_and_its_lift_too(store, settings, clock, fake, live):
    from disaster_dx import alerts

    # An opening batch is waiting for its window; the alert does not wait with it.
    _report(store, live.incident_id, _tsunami_ids(store, 1)[0], OpenState.OPEN)
    alert_id = _issue(store, live.incident_id, 4)
    sender = _sender(store, settings, clock)
    assert sender.run_once() == 1  # same instant: the alert only
    (request,) = fake.sent
    (text,) = request.texts()
    assert text.startswith("【南国市】警戒レベル4「避難指示」を発令しました\n")
    assert "対象地区：南国市全域" in text and "災害：津波" in text
    assert "危険な場所から全員避難してください。" in text
    assert "（9月1日 12:00 発令）" in text
    assert f"\n{settings.public_base_url}\n" in text
    english = text.splitlines()[-1]
    assert english.startswith("Nankoku City issued Alert level 4 (Evacuation instruction)")
    assert "All of Nankoku City (tsunami)" in english
    assert english.endswith(f"{settings.public_base_url}?lang=en")
    assert "INTERNAL" not in text and "hq1" not in text  # HQ's reason stays inside
    statuses = {m.kind: m.status for m in notify.outbox(store)}
    assert statuses == {notify.KIND_ALERT: notify.SENT, notify.KIND_STATUS: notify.QUEUED}
    clock.advance(seconds=61)
    assert sender.run_once() == 1  # the openings, when their window ends
    # Its words are those of when it opened, before the alert: no hazard was in force then.
    assert "\n避難所など1か所を開設しました。" in fake.sent[-1].texts()[0]

    clock.advance(minutes=89)
    alerts.lift_alert(store, live.incident_id, "hq1", alert_id)
    assert sender.run_once() == 1
    lifted = fake.sent[-1].texts()[0]
    assert lifted.startswith("【南国市】警戒レベル4「避難指示」を解除しました\n")
    assert "（9月1日 13:30 解除）" in lifted and "災害：津波" in lifted
    assert lifted.splitlines()[-1].endswith("?lang=en")
    assert "lifted Alert level 4" in lifted
    # Nothing is sent twice: not by this sender, not by a new one after a restart.
    clock.advance(minutes=5)
    sender.run_once()
    fresh = _sender(store, settings, clock)
    fresh.run_once()
    assert [r.texts()[0].splitlines()[0] for r in fake.sent] == [
        "【南国市】警戒レベル4「避難指示」を発令しました",
        "【南国市】避難所の開設状況のお知らせ",
        "【南国市】警戒レベル4「避難指示」を解除しました",
    ]
    assert notify.collect(store, settings, live.incident_id, now=clock()) == []
    assert len(fake.duplicates) == 0 and fake.refused == []


def test_raising_the_level_is_one_message_not_a_lift_and_an_issue(
    store, settings, clock, fake, live
):
    _issue(store, live.incident_id, 4)
    _sender(store, settings, clock).run_once()
    clock.advance(minutes=20)
    _issue(store, live.incident_id, 5)
    _sender(store, settings, clock).run_once()
    _first, second = (r.texts()[0] for r in fake.sent)
    assert second.startswith("【南国市】警戒レベル5「緊急安全確保」を発令しました")
    assert "（警戒レベル4「避難指示」から切り替えました）" in second
    assert "屋内安全確保" in second
    assert "解除" not in second
    assert len(fake.sent) == 2


def test_a_drill_alert_sends_nothing(store, settings, clock, fake, live):
    drill = store.create_incident("津波避難訓練", kind=IncidentKind.DRILL, actor="drill1")
    _issue(store, drill.incident_id, 5)
    clock.advance(minutes=5)
    _sender(store, settings, clock).run_once()
    assert notify.outbox(store) == [] and fake.sent == []


def test_openings_under_an_alert_say_how_many_suit_the_hazard(
    store, settings, clock, fake, live, hq_user
):
    _issue(store, live.incident_id, 4)  # an alert alone, no warning, sets the hazard in force
    tsunami = _tsunami_ids(store, 12)
    other = [s.shelter_id for s in store.shelters() if Hazard.TSUNAMI not in s.hazards][:2]
    names = {s.shelter_id: s.name for s in store.shelters()}
    state = store.state(live.incident_id)
    set_open_state_bulk(
        store,
        live.incident_id,
        hq_user,
        tsunami,
        OpenState.OPEN,
        seen=seen_on_screen(state, tsunami),
    )
    clock.advance(seconds=61)
    sender = _sender(store, settings, clock)
    sender.run_once()
    summary = fake.sent[-1].texts()[0]
    assert "津波に対応する避難所など12か所を開設しました。" in summary
    assert summary.count("\n・") == 10 and "ほか2か所" in summary
    assert "津波から避難するときは、津波に対応した避難所へ。" in summary

    clock.advance(minutes=5)
    state = store.state(live.incident_id)
    closing = [*other, tsunami[0]]
    set_open_state_bulk(
        store,
        live.incident_id,
        hq_user,
        closing,
        OpenState.CLOSED,
        seen=seen_on_screen(state, closing),
    )
    state = store.state(live.incident_id)
    set_open_state_bulk(
        store, live.incident_id, hq_user, other, OpenState.OPEN, seen=seen_on_screen(state, other)
    )
    clock.advance(seconds=61)
    sender.run_once()
    mixed = fake.sent[-1].texts()[0]
    assert "避難所など2か所を開設しました。このうち津波に対応しているのは0か所です。" in mixed
    assert all(f"・{names[i]}（津波には非対応）" in mixed for i in other)
    assert "避難所など1か所を閉鎖しました。" in mixed


def test_opening_counts_by_kind(store, settings, clock, fake, live, hq_user):
    from disaster_dx.model import ShelterKind

    master = store.shelters()
    designated = [s.shelter_id for s in master if s.kinds == {ShelterKind.DESIGNATED}][:2]
    emergency = [s.shelter_id for s in master if s.kinds == {ShelterKind.EMERGENCY}][:3]
    state = store.state(live.incident_id)
    chosen = designated + emergency
    set_open_state_bulk(
        store, live.incident_id, hq_user, chosen, OpenState.OPEN, seen=seen_on_screen(state, chosen)
    )
    (queued,) = notify.outbox(store)
    assert "（指定避難所 2か所、指定緊急避難場所 3か所）" in queued.text
    assert "避難所によって対応する災害の種類が異なります。" in queued.text  # no hazard in force


def test_every_body_sent_matches_the_official_line_bot_sdk(store, settings, clock, fake, live):
    from tests.line_sdk import require_sdk, sdk_problem

    require_sdk()
    assert fake.validate is not None  # the fake refuses what the SDK refuses, in every test
    assert "not a field" in sdk_problem(
        "broadcast", {"messages": [{"type": "text", "text": "x", "quick_reply": {}}]}
    )
    assert sdk_problem("broadcast", {"messages": []})
    _issue(store, live.incident_id, 3)
    _report(store, live.incident_id, _tsunami_ids(store, 1)[0], OpenState.OPEN)
    clock.advance(seconds=61)
    _sender(store, settings, clock).run_once()
    assert len(fake.sent) == 2 and fake.refused == []
