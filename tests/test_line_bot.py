"""The LINE bot core: signatures, nearest usable shelters (checked by brute force), replies."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from disaster_dx import line_bot, notify
from disaster_dx.bundled import BUNDLED_SHELTER_FILES, ensure_initialised
from disaster_dx.config import Settings
from disaster_dx.events import HAZARD_ANNOUNCED, SHELTER_STATUS_REPORTED, Event, NewEvent, fold
from disaster_dx.io.gsi import shelters_from_files
from disaster_dx.model import CrowdingThresholds, Hazard
from disaster_dx.store import Store

NOW = datetime(2026, 9, 1, 3, 0, tzinfo=UTC)
THRESHOLDS = CrowdingThresholds()
#: Points inside Nankoku: the city hall, the coast near the airport, the north of the city.
POINTS = [(133.6413, 33.5757), (133.6700, 33.5480), (133.6150, 33.6050), (133.7050, 33.5650)]


@pytest.fixture(scope="module")
def master():
    return shelters_from_files(list(BUNDLED_SHELTER_FILES)).shelters


def _haversine(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    radius = 6_371_008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * radius * math.asin(math.sqrt(a))


def _event(seq: int, event_type: str, payload: dict, minutes_ago: int = 5) -> Event:
    return Event("live-test", seq, NOW - timedelta(minutes=minutes_ago), "hq1", event_type, payload)


def _scenario(master, lon: float, lat: float, *, hazard: Hazard | None):
    """Open every site, then close or fill the sites nearest to the point.

    Returns the state and, for the brute force, the ids the test made closed or full.
    """
    by_distance = sorted(master, key=lambda s: _haversine(lon, lat, s.lon, s.lat))
    closed = {by_distance[0].shelter_id, by_distance[4].shelter_id}
    full_by_override = {by_distance[1].shelter_id}
    full_by_count = {by_distance[2].shelter_id}
    events = []
    for shelter in master:
        payload: dict = {"shelter_id": shelter.shelter_id, "open_state": "open"}
        if shelter.shelter_id in full_by_override:
            payload["crowding_override"] = "full"
        if shelter.shelter_id in full_by_count:
            payload.update(evacuees=95, capacity=100)
        if shelter.shelter_id in closed:
            payload["open_state"] = "closed"
        events.append(_event(len(events) + 1, SHELTER_STATUS_REPORTED, payload, minutes_ago=12))
    if hazard is not None:
        events.append(
            _event(
                len(events) + 1, HAZARD_ANNOUNCED, {"hazard": hazard.value, "title": "大津波警報"}
            )
        )
    return fold(events), closed | full_by_override | full_by_count


def _brute_force(master, lon, lat, excluded, hazard):
    candidates = [
        (_haversine(lon, lat, s.lon, s.lat), s.shelter_id)
        for s in master
        if s.shelter_id not in excluded and (hazard is None or hazard in s.hazards)
    ]
    return sorted(candidates)


@pytest.mark.parametrize("hazard", [Hazard.TSUNAMI, Hazard.FLOOD, None])
@pytest.mark.parametrize("point", POINTS)
def test_nearest_usable_matches_a_brute_force_over_the_real_master(master, point, hazard):
    lon, lat = point
    state, excluded = _scenario(master, lon, lat, hazard=hazard)
    assert state.current_hazard is hazard
    found = line_bot.nearest_usable(
        master, state, lon, lat, thresholds=THRESHOLDS, now=NOW, hazard=state.current_hazard
    )
    expected = _brute_force(master, lon, lat, excluded, hazard)
    assert len(found) == 3
    # The same three, in the same order (a spherical and an ellipsoidal distance agree to
    # well under 1 %; a near-tie at the cut is accepted either way).
    for got, (distance, shelter_id) in zip(found, expected[:3], strict=True):
        assert got.distance_m == pytest.approx(distance, rel=0.01)
        if got.shelter.shelter_id != shelter_id:
            twin = next(d for d, sid in expected if sid == got.shelter.shelter_id)
            assert twin == pytest.approx(distance, rel=0.01)
    # Closed and full sites were the nearest: the test is only meaningful if they were skipped.
    nearest_overall = min(_haversine(lon, lat, s.lon, s.lat) for s in master)
    assert found[0].distance_m > nearest_overall
    for item in found:
        assert item.shelter.shelter_id not in excluded
        assert hazard is None or item.shelter.suits(hazard)
        assert item.status.open_state.is_open
        assert item.minutes == 12


def test_unsuitable_sites_are_skipped_even_when_nearest(master):
    lon, lat = POINTS[0]
    state, _ = _scenario(master, lon, lat, hazard=Hazard.TSUNAMI)
    unsuitable = [s for s in master if Hazard.TSUNAMI not in s.hazards]
    found = line_bot.nearest_usable(
        master, state, lon, lat, thresholds=THRESHOLDS, now=NOW, hazard=Hazard.TSUNAMI
    )
    nearest_unsuitable = min(_haversine(lon, lat, s.lon, s.lat) for s in unsuitable)
    assert nearest_unsuitable < found[-1].distance_m  # there was a closer, unsuitable site
    assert all(Hazard.TSUNAMI in item.shelter.hazards for item in found)


def test_nothing_open_gives_no_suggestion(master):
    assert (
        line_bot.nearest_usable(master, fold([]), *POINTS[0], thresholds=THRESHOLDS, now=NOW) == []
    )
    (message,) = line_bot.location_reply([], hazard=None, public_url="https://x.example/")
    assert "ご案内できる開設中の避難所はありません" in message["text"]


def test_location_reply_lists_distance_crowding_freshness_and_map(master):
    lon, lat = POINTS[0]
    state, _ = _scenario(master, lon, lat, hazard=Hazard.TSUNAMI)
    found = line_bot.nearest_usable(
        master, state, lon, lat, thresholds=THRESHOLDS, now=NOW, hazard=Hazard.TSUNAMI
    )
    messages = line_bot.location_reply(
        found, hazard=Hazard.TSUNAMI, public_url="https://x.example/"
    )
    text = messages[0]["text"]
    assert text.startswith("現在地から近い、開設中の避難所です（津波に対応）。")
    for number, item in enumerate(found, start=1):
        assert f"{number}. {item.shelter.name}" in text
    assert text.count("12分前の情報") == 3
    assert text.count("https://www.google.com/maps/search/?api=1&query=") == 3
    assert "約" in text and "https://x.example/" in text
    assert [m["type"] for m in messages] == ["text", "location", "location", "location"]
    assert messages[1]["latitude"] == found[0].shelter.lat
    english = line_bot.location_reply(
        found, hazard=Hazard.TSUNAMI, public_url="https://x.example/", lang="en"
    )[0]["text"]
    assert "suitable for: Tsunami" in english and "reported 12 min ago" in english


def test_signatures_are_checked_in_constant_time_and_exactly() -> None:
    body = b'{"events":[]}'
    expected = base64.b64encode(hmac.new(b"secret", body, hashlib.sha256).digest()).decode()
    assert line_bot.signature("secret", body) == expected
    assert line_bot.verify_signature("secret", body, expected)
    assert not line_bot.verify_signature("secret", body + b" ", expected)
    assert not line_bot.verify_signature("other", body, expected)
    assert not line_bot.verify_signature("secret", body, None)
    assert not line_bot.verify_signature("secret", body, "")
    assert not line_bot.verify_signature("", body, line_bot.signature("", body))
    assert not line_bot.verify_signature("secret", body, "署名")  # non-ASCII never matches


@pytest.mark.parametrize(
    ("text", "english"),
    [
        ("Where is the shelter?", True),
        ("避難所", False),
        ("shelter 避難所", False),
        ("12345", False),
        ("", False),
    ],
)
def test_english_is_latin_letters_without_japanese(text, english) -> None:
    assert line_bot.is_english(text) is english


# -- the bot with a store -----------------------------------------------------------------------


@pytest.fixture
def bot(store: Store):
    ensure_initialised(store, actor="test")
    notify.create_notify_tables(store)
    settings = Settings(line_channel_secret="secret", public_base_url="https://x.example/")
    clock = [NOW]
    store.clock = lambda: clock[0]
    return line_bot.LineBot(store, settings), clock


def _reply(bot: line_bot.LineBot, sample: str, user: str = "U" + "a" * 32, **kwargs):
    return bot.replies(line_bot.sample_webhook_body(sample, user_id=user, **kwargs))


def test_bot_answers_location_shelter_english_and_help(bot, store):
    bot, _ = bot
    incident = store.live_incident()
    ids = [s.shelter_id for s in store.shelters() if Hazard.TSUNAMI in s.hazards][:10]
    store.append(
        incident.incident_id,
        [NewEvent(SHELTER_STATUS_REPORTED, {"shelter_id": i, "open_state": "open"}) for i in ids],
        actor="hq1",
    )
    (location,) = _reply(bot, "location")
    assert location.kind == "location" and len(location.messages) == 4
    assert "現在地から近い、開設中の避難所です。" in location.messages[0]["text"]
    assert "0分前の情報" in location.messages[0]["text"]
    (how_to,) = _reply(bot, "shelter")
    assert how_to.kind == "how_to" and "位置情報" in how_to.messages[0]["text"]
    assert how_to.messages[0]["quickReply"]["items"][0]["action"]["type"] == "location"
    (english,) = _reply(bot, "english")
    assert english.lang == "en" and "Send your location" in english.messages[0]["text"]
    (help_,) = _reply(bot, "help")
    assert help_.kind == "help" and "南国市の避難所案内です" in help_.messages[0]["text"]
    far = _reply(bot, "location", lon=139.767, lat=35.681)[0]  # Tokyo
    assert "南国市の外にいらっしゃるようです" in far.messages[0]["text"]


def test_events_without_reply_token_get_no_reply(bot):
    bot, _ = bot
    body = line_bot.sample_webhook_body("help")
    del body["events"][0]["replyToken"]
    assert bot.replies(body) == []
    assert bot.replies({"events": "nonsense"}) == []
    assert bot.replies({"destination": "U0", "events": []}) == []  # LINE's "Verify" button


def test_rate_limit_per_hashed_user(bot, store):
    bot, clock = bot
    limit = bot.settings.line_rate_limit
    user, other = "U" + "1" * 32, "U" + "2" * 32
    kinds = [(_reply(bot, "help", user) or [None])[0] for _ in range(limit + 2)]
    assert all(r is not None and r.kind == "help" for r in kinds[:limit])
    assert kinds[limit] is not None and kinds[limit].kind == "rate_limited"
    assert "1分ほどおいてから" in kinds[limit].messages[0]["text"]
    assert kinds[limit + 1] is None  # past the limit: silence, not a reply per message
    assert _reply(bot, "help", other)[0].kind == "help"  # others are not affected
    clock[0] = NOW + timedelta(minutes=1)
    assert _reply(bot, "help", user)[0].kind == "help"
    with store.engine.connect() as conn:
        stored = json.dumps([list(r) for r in conn.execute(select(notify.line_rate))], default=str)
    assert user not in stored and other not in stored
    assert notify.hash_user_id(user, secret="secret") in stored


def test_user_hashes_are_keyed_and_stable() -> None:
    user = "U" + "f" * 32
    first = notify.hash_user_id(user, secret="s1")
    assert first == notify.hash_user_id(user, secret="s1") and len(first) == 16
    assert first != notify.hash_user_id(user, secret="s2")
    assert user not in first


def test_an_alert_alone_sets_the_hazard_the_bot_filters_by(bot, store):
    """避難情報 with no warning announced: "nearest" suggests only sites for its hazard."""
    from disaster_dx import alerts
    from disaster_dx.model import AlertLevel

    bot, _ = bot
    incident = store.live_incident()
    master = store.shelters()
    here = line_bot.CITY_HALL
    by_distance = sorted(master, key=lambda s: _haversine(*here, s.lon, s.lat))
    unsuitable = [s for s in by_distance if Hazard.TSUNAMI not in s.hazards][:3]
    suitable = [s for s in by_distance if Hazard.TSUNAMI in s.hazards][:2]
    store.append(
        incident.incident_id,
        [
            NewEvent(SHELTER_STATUS_REPORTED, {"shelter_id": s.shelter_id, "open_state": "open"})
            for s in unsuitable + suitable
        ],
        actor="hq1",
    )
    (before,) = _reply(bot, "location")
    assert {m["title"] for m in before.messages[1:]} == {s.name[:100] for s in unsuitable}
    alerts.issue_alert(
        store,
        incident.incident_id,
        "hq1",
        level=AlertLevel.EVACUATE,
        hazard=Hazard.TSUNAMI,
        areas=["all"],
    )
    state = store.state(incident.incident_id)
    assert state.hazards == {} and state.current_hazard is Hazard.TSUNAMI
    (after,) = _reply(bot, "location")
    assert [m["title"] for m in after.messages[1:]] == [s.name[:100] for s in suitable]
    text = after.messages[0]["text"]
    assert text.startswith("【警戒レベル4 避難指示】津波：南国市全域\n\n")
    assert "（津波に対応）" in text
    reply = line_bot.location_reply(
        [],
        hazard=Hazard.TSUNAMI,
        public_url="https://x.example/",
        lang="en",
        notice=line_bot.alert_notice(state.alerts_in_force, store.areas(), "en"),
    )
    assert reply[0]["text"].startswith(
        "[Alert level 4: Evacuation instruction] Tsunami: All of Nankoku City\n\n"
    )
