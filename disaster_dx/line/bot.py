"""The LINE bot behind ``/line/webhook``: "where is the nearest open shelter?" in one message.

Residents who will never open a map page can send their location to the city's LINE account
and get the three nearest shelters they may go to *now*: open, designated for the hazard in
force (``State.current_hazard``; with none announced, any open one) and not full — the same
``ShelterStatus.usable`` rule the public page uses. Each comes with its distance, crowding in
words, how fresh the report is (「N分前」) and a map link, plus LINE location messages that open
the phone's map. Text 「避難所」 explains how to send a location; anything else gets a short
help. Replies are in English when the user wrote in English.

Security and privacy: the webhook trusts nothing it cannot verify (:func:`verify_signature`,
HMAC-SHA256 of the raw body with the channel secret, compared in constant time). LINE user ids
are personal identifiers: they are only ever turned into a keyed hash
(:func:`disaster_dx.line.store.hash_user_id`) for the per-user rate limit and the delivery log,
and are never stored, logged or shown. Nothing here needs Flask; the web layer only passes
bytes in and replies out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from disaster_dx._time import minutes_ago
from disaster_dx.areas import Area
from disaster_dx.city import City
from disaster_dx.config import Settings
from disaster_dx.events import EvacuationAlert, ShelterStatus, State
from disaster_dx.geodesy import distances_m
from disaster_dx.line.store import hash_user_id, line_rate, line_webhook_seen
from disaster_dx.line.text import DEFAULT_CITY
from disaster_dx.model import Crowding, CrowdingThresholds, Hazard, Shelter
from disaster_dx.store import Store

log = logging.getLogger(__name__)

#: How many shelters a location reply lists.
NEAREST_COUNT = 3
#: Farther than this from every usable shelter, the sender is probably outside the city.
OUTSIDE_CITY_METRES = 15_000.0
#: A map link that opens the phone's map app with a pin (and directions from there).
MAP_LINK = "https://www.google.com/maps/search/?api=1&query={lat:.6f},{lon:.6f}"
#: Rate-limit window; the count per window is ``LINE_RATE_LIMIT``.
RATE_WINDOW = timedelta(minutes=1)

_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff66-\uff9f]")
_LATIN = re.compile(r"[A-Za-z]")
_SHELTER_WORDS_JA = ("避難所", "ひなんじょ", "避難場所", "避難")
_SHELTER_WORDS_EN = ("shelter", "evacuat", "refuge")


# ---------------------------------------------------------------------------------------------
# Signatures
# ---------------------------------------------------------------------------------------------


def signature(secret: str, body: bytes) -> str:
    """The ``X-Line-Signature`` LINE sends with ``body``: base64 of HMAC-SHA256(secret, body)."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_signature(secret: str, body: bytes, sent: str | None) -> bool:
    """Whether ``sent`` is the signature of exactly these bytes (constant-time comparison).

    An empty secret verifies nothing: an unconfigured channel must not accept every request.
    """
    if not secret or not sent:
        return False
    return hmac.compare_digest(
        signature(secret, body).encode("ascii"), sent.encode("ascii", "replace")
    )


# ---------------------------------------------------------------------------------------------
# Language
# ---------------------------------------------------------------------------------------------


def is_english(text: str) -> bool:
    """Latin letters and no Japanese script: answer in English."""
    return bool(_LATIN.search(text)) and not _JAPANESE.search(text)


# ---------------------------------------------------------------------------------------------
# Nearest usable shelters
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Nearby:
    """A shelter suggested to someone at a location."""

    shelter: Shelter
    status: ShelterStatus
    distance_m: float
    crowding: Crowding | None
    minutes: int | None


def nearest_usable(
    shelters: Sequence[Shelter],
    state: State,
    lon: float,
    lat: float,
    *,
    thresholds: CrowdingThresholds,
    now: datetime,
    hazard: Hazard | None = None,
    count: int = NEAREST_COUNT,
) -> list[Nearby]:
    """The ``count`` nearest shelters that are usable for ``hazard``, nearest first.

    Usable is :meth:`ShelterStatus.usable`: open, flagged for the hazard (any, when ``None``)
    and not full. Closed, full or unsuitable shelters are never suggested, however close.
    """
    usable = [
        (shelter, status)
        for shelter in shelters
        if (status := state.shelter(shelter.shelter_id)).usable(
            hazard, shelter.hazards, thresholds, master_capacity=shelter.capacity
        )
    ]
    if not usable:
        return []
    lons = np.array([s.lon for s, _ in usable], dtype=float)
    lats = np.array([s.lat for s, _ in usable], dtype=float)
    dist = distances_m(lon, lat, lons, lats)
    order = np.argsort(dist, kind="stable")[:count]
    return [
        Nearby(
            shelter=usable[i][0],
            status=usable[i][1],
            distance_m=float(dist[i]),
            crowding=usable[i][1].crowding(thresholds, master_capacity=usable[i][0].capacity),
            minutes=minutes_ago(usable[i][1].reported_at, now),
        )
        for i in order
    ]


# ---------------------------------------------------------------------------------------------
# Reply texts
# ---------------------------------------------------------------------------------------------


def _distance_text(metres: float, lang: str) -> str:
    value = f"{round(metres / 10.0) * 10:.0f}m" if metres < 1000 else f"{metres / 1000:.1f}km"
    return f"about {value}" if lang == "en" else f"約{value}"


def _freshness_text(minutes: int | None, lang: str) -> str:
    if minutes is None:
        return "no report yet" if lang == "en" else "報告なし"
    if lang == "en":
        return f"reported {minutes} min ago"
    return f"{minutes}分前の情報"


def _crowding_text(crowding: Crowding | None, lang: str) -> str:
    if crowding is None:
        return "crowding unknown" if lang == "en" else "混雑状況不明"
    return crowding.label(lang)


def alert_notice(alerts: Sequence[EvacuationAlert], areas: Sequence[Area], lang: str) -> str:
    """One line per 避難情報 in force, level and words first (「【警戒レベル4 避難指示】…」)."""
    names = {a.area_id: a for a in areas}
    lines = []
    for alert in alerts:
        where = [names[a].label(lang) if a in names else a for a in alert.areas]
        if lang == "en":
            lines.append(
                f"[Alert level {alert.level.number}: {alert.level.en}] "
                f"{alert.hazard.en}: {', '.join(where)}"
            )
        else:
            lines.append(
                f"【警戒レベル{alert.level.number} {alert.level.ja}】"
                f"{alert.hazard.ja}：{'・'.join(where)}"
            )
    return "\n".join(lines)


def location_reply(
    nearby: Sequence[Nearby],
    *,
    hazard: Hazard | None,
    public_url: str,
    lang: str = "ja",
    notice: str = "",
    city: City = DEFAULT_CITY,
) -> list[dict[str, Any]]:
    """The reply to a location: one text listing the shelters, then a map pin for each.

    ``notice`` (from :func:`alert_notice`) goes first: what has been issued comes before where
    to go.
    """
    en = lang == "en"
    lead = f"{notice}\n\n" if notice else ""
    if not nearby:
        text = (
            "No open shelter can be suggested right now. If you feel in danger, move at once "
            "to a safe place nearby, such as the upper floors of a sturdy building.\n"
            f"Latest shelter status: {public_url}"
            if en
            else "現在、ご案内できる開設中の避難所はありません。"
            "危険を感じたら、近くの頑丈な建物の上の階など、安全な場所へすぐに避難してください。\n"
            f"最新の開設状況：{public_url}"
        )
        return [{"type": "text", "text": lead + text}]
    if en:
        head = "Open shelters nearest to you" + (
            f" (suitable for: {hazard.en})." if hazard else "."
        )
    else:
        head = "現在地から近い、開設中の避難所です" + (
            f"（{hazard.ja}に対応）。" if hazard else "。"
        )
    lines = [lead + head]
    for number, item in enumerate(nearby, start=1):
        details = "・".join(
            (
                _distance_text(item.distance_m, lang),
                _crowding_text(item.crowding, lang),
                _freshness_text(item.minutes, lang),
            )
        )
        if en:
            details = details.replace("・", " · ")
        lines += [
            "",
            f"{number}. {item.shelter.name}",
            f"　{details}",
            ("　Map: " if en else "　地図：")
            + MAP_LINK.format(lat=item.shelter.lat, lon=item.shelter.lon),
        ]
    if nearby[0].distance_m > OUTSIDE_CITY_METRES:
        lines += [
            "",
            f"You seem to be outside {city.name_en}; please also check your own municipality."
            if en
            else f"{city.name}の外にいらっしゃるようです。お住まいの市町村の情報もご確認ください。",
        ]
    if hazard is None:
        lines += [
            "",
            "Each shelter is designated for certain hazards only; check before you go."
            if en
            else "避難所によって対応する災害が異なります。避難の前にご確認ください。",
        ]
    lines += ["", (f"Latest status: {public_url}" if en else f"最新の状況：{public_url}")]
    messages: list[dict[str, Any]] = [{"type": "text", "text": "\n".join(lines)}]
    for item in nearby:
        messages.append(
            {
                "type": "location",
                "title": item.shelter.name[:100],
                "address": (item.shelter.address or item.shelter.name)[:100],
                "latitude": item.shelter.lat,
                "longitude": item.shelter.lon,
            }
        )
    return messages


_LOCATION_BUTTON = {
    "items": [{"type": "action", "action": {"type": "location", "label": "位置情報を送る"}}]
}
_LOCATION_BUTTON_EN = {
    "items": [{"type": "action", "action": {"type": "location", "label": "Send location"}}]
}


def how_to_send_location(lang: str = "ja") -> list[dict[str, Any]]:
    """The reply to 「避難所」: how to send a location (with a one-tap button)."""
    if lang == "en":
        text = (
            "Send your location and we will reply with the 3 nearest open shelters.\n"
            "Tap the button below, or tap “+” at the bottom left of the chat and choose "
            "“Location”."
        )
        return [{"type": "text", "text": text, "quickReply": _LOCATION_BUTTON_EN}]
    text = (
        "現在地の位置情報を送っていただくと、近くの開設中の避難所を3か所お知らせします。\n"
        "下の「位置情報を送る」を押すか、トーク画面左下の「＋」から「位置情報」を選んで送ってください。"
    )
    return [{"type": "text", "text": text, "quickReply": _LOCATION_BUTTON}]


def help_reply(
    *, public_url: str, lang: str = "ja", city: City = DEFAULT_CITY
) -> list[dict[str, Any]]:
    """The reply to anything else: what this account can do, in a few lines."""
    if lang == "en":
        text = (
            f"{city.name_en} shelter guide.\n"
            "・Send your location: the 3 nearest open shelters.\n"
            "・Send “shelter”: how to send your location.\n"
            f"Shelter status: {public_url}\n"
            "We cannot answer individual questions here. In an emergency call 119 (fire, "
            "ambulance) or 110 (police)."
        )
        return [{"type": "text", "text": text, "quickReply": _LOCATION_BUTTON_EN}]
    text = (
        f"{city.name}の避難所案内です。\n"
        "・位置情報を送ると、近くの開設中の避難所を3か所お知らせします。\n"
        "・「避難所」と送ると、位置情報の送り方をご案内します。\n"
        f"避難所の開設状況：{public_url}\n"
        "このアカウントでは個別のご質問にはお答えできません。緊急の場合は119番（火事・救急）、"
        "110番（警察）へ通報してください。"
    )
    return [{"type": "text", "text": text, "quickReply": _LOCATION_BUTTON}]


def slow_down_reply(lang: str = "ja") -> list[dict[str, Any]]:
    """Sent once when a user goes over the rate limit; later messages get no reply."""
    if lang == "en":
        text = "We received many messages in a short time. Please wait a minute and try again."
    else:
        text = (
            "短い時間に多くのメッセージを受け付けました。"
            "1分ほどおいてから、もう一度お送りください。"
        )
    return [{"type": "text", "text": text}]


# ---------------------------------------------------------------------------------------------
# Rate limit (in the database, so every worker counts the same)
# ---------------------------------------------------------------------------------------------


def take_rate_token(
    store: Store, user_hash: str, *, now: datetime, window: timedelta = RATE_WINDOW
) -> int:
    """Count one request of ``user_hash`` in the current window; returns the count so far.

    A fixed window per user: the count starts again a ``window`` after its first request.
    """
    try:
        return _count_request(store, user_hash, now=now, window=window)
    except IntegrityError:  # the same user's first two messages at once (PostgreSQL): again
        return _count_request(store, user_hash, now=now, window=window)


def _count_request(store: Store, user_hash: str, *, now: datetime, window: timedelta) -> int:
    with store._write() as conn:
        row = conn.execute(
            select(line_rate).where(line_rate.c.user_hash == user_hash).with_for_update()
        ).one_or_none()
        if row is None:
            conn.execute(insert(line_rate).values(user_hash=user_hash, window_start=now, count=1))
            return 1
        if now - row.window_start >= window:
            conn.execute(
                update(line_rate)
                .where(line_rate.c.user_hash == user_hash)
                .values(window_start=now, count=1)
            )
            return 1
        conn.execute(
            update(line_rate)
            .where(line_rate.c.user_hash == user_hash)
            .values(count=line_rate.c.count + 1)
        )
        return int(row._mapping["count"]) + 1


def first_delivery(store: Store, event_id: str, *, now: datetime) -> bool:
    """Record a webhook event id; False if it was seen before (a redelivery we answered)."""
    try:
        with store._write() as conn:
            conn.execute(insert(line_webhook_seen).values(event_id=event_id, seen_at=now))
    except IntegrityError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# Events → replies
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """A reply to send for one webhook event (``user_hash`` for the log; no raw id)."""

    reply_token: str
    messages: list[dict[str, Any]]
    user_hash: str
    kind: str
    lang: str


class LineBot:
    """Turns verified webhook bodies into replies, reading the live state when needed.

    Parameters
    ----------
    store, settings
        The live incident and shelter master; public link, crowding thresholds, channel
        secret (for hashing user ids) and the rate limit.
    clock
        "Now" for freshness and the rate limit.
    """

    def __init__(
        self, store: Store, settings: Settings, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock or store.clock

    def replies(self, body: Mapping[str, Any]) -> list[Reply]:
        """Replies for every event of a webhook body LINE signed (already verified)."""
        events = body.get("events")
        if not isinstance(events, list):
            return []
        out: list[Reply] = []
        for event in events:
            if isinstance(event, Mapping):
                reply = self._reply(event)
                if reply is not None:
                    out.append(reply)
        return out

    def _reply(self, event: Mapping[str, Any]) -> Reply | None:
        token = event.get("replyToken")
        if not isinstance(token, str) or not token:
            return None  # unfollow, redelivered or non-reply events
        if event.get("type") not in ("message", "follow"):
            return None
        event_id = event.get("webhookEventId")
        if (
            isinstance(event_id, str)
            and event_id
            and not first_delivery(self.store, event_id[:64], now=self.clock())
        ):
            log.info("LINE webhook: event delivered again, already answered")
            return None
        source = event.get("source") or {}
        raw_id = ""
        if isinstance(source, Mapping):
            raw_id = str(
                source.get("userId") or source.get("groupId") or source.get("roomId") or ""
            )
        user_hash = hash_user_id(raw_id or "anonymous", secret=self.settings.line_channel_secret)
        message = event.get("message") if event.get("type") == "message" else None
        message = message if isinstance(message, Mapping) else {}
        lang = self._lang(message)
        now = self.clock()
        count = take_rate_token(self.store, user_hash, now=now)
        if count > self.settings.line_rate_limit:
            if count == self.settings.line_rate_limit + 1:
                return Reply(token, slow_down_reply(lang), user_hash, "rate_limited", lang)
            return None
        kind, messages = self._answer(event, message, lang)
        return Reply(token, messages, user_hash, kind, lang)

    def _answer(
        self, event: Mapping[str, Any], message: Mapping[str, Any], lang: str
    ) -> tuple[str, list[dict[str, Any]]]:
        """What to answer: a location → shelters; 「避難所」 → how to; anything else → help."""
        help_ = (
            "help",
            help_reply(public_url=self.settings.public_base_url, lang=lang, city=self.store.city()),
        )
        if event.get("type") != "message":
            return help_  # follow: say what the account can do
        if message.get("type") == "location":
            try:
                lat, lon = float(message["latitude"]), float(message["longitude"])
            except (KeyError, TypeError, ValueError):
                return help_
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                return help_
            return "location", self.location_messages(lon, lat, lang=lang)
        text = str(message.get("text") or "") if message.get("type") == "text" else ""
        lowered = text.lower()
        if any(w in text for w in _SHELTER_WORDS_JA) or any(
            w in lowered for w in _SHELTER_WORDS_EN
        ):
            return "how_to", how_to_send_location(lang)
        return help_

    @staticmethod
    def _lang(message: Mapping[str, Any]) -> str:
        if message.get("type") == "text":
            return "en" if is_english(str(message.get("text") or "")) else "ja"
        if message.get("type") == "location":
            # LINE fills the address in the phone's language.
            return "en" if is_english(str(message.get("address") or "")) else "ja"
        return "ja"

    def location_messages(
        self, lon: float, lat: float, *, lang: str = "ja"
    ) -> list[dict[str, Any]]:
        """The reply to a location, from the live incident's state now.

        Only shelters suitable for the hazard in force are suggested: the newest warning or
        避難情報 not lifted (``State.current_hazard``), so an alert alone is enough.
        """
        incident = self.store.live_incident(actor="line")
        state = self.store.state(incident.incident_id)
        hazard = state.current_hazard
        in_force = state.alerts_in_force
        notice = alert_notice(in_force, self.store.areas(), lang) if in_force else ""
        nearby = nearest_usable(
            self.store.shelters(),
            state,
            lon,
            lat,
            thresholds=self.settings.crowding,
            now=self.clock(),
            hazard=hazard,
        )
        return location_reply(
            nearby,
            hazard=hazard,
            public_url=self.settings.public_base_url,
            lang=lang,
            notice=notice,
            city=self.store.city(),
        )


# ---------------------------------------------------------------------------------------------
# Sample webhook bodies (the demo script and tests)
# ---------------------------------------------------------------------------------------------

#: 南国市役所, a location well inside the city, for samples.
CITY_HALL = (133.6413, 33.5757)
SAMPLES = ("location", "shelter", "english", "help")


def sample_webhook_body(
    sample: str,
    *,
    lon: float = CITY_HALL[0],
    lat: float = CITY_HALL[1],
    user_id: str | None = None,
    timestamp_ms: int = 0,
) -> dict[str, Any]:
    """A webhook body shaped like LINE's, with one event of kind ``sample`` (see SAMPLES).

    The user id is made up (``U`` + random hex) unless given: samples never carry a real one.
    """
    if sample not in SAMPLES:
        raise ValueError(f"unknown sample {sample!r}; choose one of {', '.join(SAMPLES)}")
    user = user_id or "U" + uuid.uuid4().hex
    message: dict[str, Any]
    if sample == "location":
        message = {
            "id": "1",
            "type": "location",
            "title": "位置情報",
            "address": "高知県南国市大埇甲2301",
            "latitude": lat,
            "longitude": lon,
        }
    else:
        text = {"shelter": "避難所", "english": "Where is the shelter?", "help": "こんにちは"}
        message = {"id": "1", "type": "text", "text": text[sample]}
    return {
        "destination": "U" + "0" * 32,
        "events": [
            {
                "type": "message",
                "mode": "active",
                "timestamp": timestamp_ms,
                "source": {"type": "user", "userId": user},
                "webhookEventId": uuid.uuid4().hex.upper()[:26],
                "deliveryContext": {"isRedelivery": False},
                "replyToken": uuid.uuid4().hex,
                "message": message,
            }
        ],
    }
