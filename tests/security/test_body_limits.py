"""Request bodies are limited while they stream, not after they are held in memory.

Measured before: a 300 MB chunked (no Content-Length) anonymous body to ``/line/webhook`` was
read whole before the 1 MB check, adding about 290 MB to a worker. Here the body is produced
lazily and the test counts what the app read: the refusal comes after about one megabyte.
The WSGI flag ``wsgi.input_terminated`` is what gunicorn (and Werkzeug's server) set for a
chunked body, so the app sees the same environ as behind them.
"""

from __future__ import annotations

import io
import json
import logging

import pytest
from werkzeug.exceptions import RequestEntityTooLarge

from disaster_dx import line_bot
from disaster_dx.refusals import refusal_counts
from disaster_dx.web import line_routes
from disaster_dx.web.context import EXTENSION_KEY
from disaster_dx.web.factory import MAX_REQUEST_BYTES
from disaster_dx.web.limits import CappedInput

SECRET = "body-limit-test-secret"
TOTAL = 300 * 1024 * 1024
CHUNK = 64 * 1024


class LazyBody(io.RawIOBase):
    """``size`` bytes of JSON-looking filler, made as they are read; counts what was read."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), CHUNK, self.size - self.read_bytes)
        buffer[:n] = b" " * n
        self.read_bytes += n
        return n


@pytest.fixture
def app(make_app, app_settings):
    return make_app(app_settings.with_overrides(line_channel_secret=SECRET))


def _chunked_post(client, path: str, body: LazyBody, headers: dict[str, str]):
    return client.post(
        path,
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked", **headers},
        environ_overrides={"wsgi.input": body, "wsgi.input_terminated": True},
    )


def test_a_300_mb_chunked_webhook_body_is_refused_after_about_one_megabyte(app) -> None:
    body = LazyBody(TOTAL)
    answer = _chunked_post(
        app.server.test_client(), line_routes.WEBHOOK_PATH, body, {"X-Line-Signature": "x"}
    )
    assert answer.status_code == 413
    assert body.read_bytes <= line_routes.MAX_WEBHOOK_BYTES + CHUNK, body.read_bytes
    store = app.server.extensions[EXTENSION_KEY].store
    assert refusal_counts(store)[0]["reason"] == "too large"  # counted, not silent


def test_an_unsigned_chunked_body_is_not_read_at_all(app) -> None:
    body = LazyBody(TOTAL)
    answer = _chunked_post(app.server.test_client(), line_routes.WEBHOOK_PATH, body, {})
    assert answer.status_code == 401
    assert body.read_bytes == 0


def test_every_route_stops_a_chunked_body_at_the_app_limit(app) -> None:
    body = LazyBody(TOTAL)
    answer = _chunked_post(app.server.test_client(), "/_dash-update-component", body, {})
    assert answer.status_code == 413
    assert body.read_bytes <= MAX_REQUEST_BYTES + CHUNK, body.read_bytes


def _signed(events: int) -> tuple[bytes, dict[str, str]]:
    one = line_bot.sample_webhook_body("location", user_id="U" + "0" * 32)["events"][0]
    payload = {
        "destination": "U" + "1" * 32,
        "events": [
            {**one, "webhookEventId": f"01H{i:023d}", "replyToken": f"token-{i}"}
            for i in range(events)
        ],
    }
    raw = json.dumps(payload).encode()
    return raw, {
        "Content-Type": "application/json",
        "X-Line-Signature": line_bot.signature(SECRET, raw),
    }


def test_a_signed_request_with_too_many_events_is_answered_for_the_first_ones_and_says_so(
    app, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[int] = []
    original = line_bot.LineBot.replies

    def counting(self: line_bot.LineBot, body: dict) -> list:
        seen.append(len(body["events"]))
        return original(self, body)

    monkeypatch.setattr(line_bot.LineBot, "replies", counting)
    raw, headers = _signed(line_routes.MAX_WEBHOOK_EVENTS + 180)
    with caplog.at_level(logging.WARNING, logger=line_routes.__name__):
        answer = app.server.test_client().post(line_routes.WEBHOOK_PATH, data=raw, headers=headers)
    assert answer.status_code == 200
    assert seen == [line_routes.MAX_WEBHOOK_EVENTS]
    assert "skipped 180" in caplog.text
    store = app.server.extensions[EXTENSION_KEY].store
    [entry] = store.audit_log(action="line.webhook_events_skipped")
    assert entry["detail"]["skipped"] == 180


def test_a_signed_request_with_few_events_is_answered_whole(app, monkeypatch) -> None:
    seen: list[int] = []
    original = line_bot.LineBot.replies

    def counting(self: line_bot.LineBot, body: dict) -> list:
        seen.append(len(body["events"]))
        return original(self, body)

    monkeypatch.setattr(line_bot.LineBot, "replies", counting)
    raw, headers = _signed(3)
    answer = app.server.test_client().post(line_routes.WEBHOOK_PATH, data=raw, headers=headers)
    assert answer.status_code == 200 and seen == [3]


@pytest.mark.parametrize(("size", "refused"), [(1000, False), (1001, True), (0, False)])
def test_the_capped_stream_refuses_only_a_longer_body(size: int, refused: bool) -> None:
    stream = io.BufferedReader(CappedInput(io.BytesIO(b"x" * size), 1000))
    if refused:
        with pytest.raises(RequestEntityTooLarge):
            stream.read()
    else:
        assert stream.read() == b"x" * size
