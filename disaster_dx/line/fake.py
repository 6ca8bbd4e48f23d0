"""A local stand-in for the LINE Messaging API, for tests and demos (127.0.0.1 only).

It answers the endpoints this app uses (broadcast, multicast, reply) the way LINE documents
them closely enough to test against: the bearer token is checked, message objects are
validated (1–5 per request, text at most 5,000 characters), and a repeated
``X-Line-Retry-Key`` gets ``409`` with ``x-line-accepted-request-id`` instead of a second
delivery — which is what makes a restarted sender safe. Failures can be injected
(:meth:`FakeLineServer.fail_next`) to exercise retries.

Everything accepted is recorded in memory (``sent``), optionally appended to a JSON-lines file,
and listed at ``GET /_fake/sent``. It never forwards anything anywhere. Multicast recipient ids
are recorded as a count only.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
ENDPOINTS = {
    "/v2/bot/message/broadcast": "broadcast",
    "/v2/bot/message/multicast": "multicast",
    "/v2/bot/message/reply": "reply",
}


@dataclass(frozen=True)
class Received:
    """One request the fake accepted (what LINE would have delivered)."""

    endpoint: str
    messages: list[dict[str, Any]]
    retry_key: str
    request_id: str
    recipients: int = 0
    reply_token: str = ""

    def texts(self) -> list[str]:
        """The text of each text message."""
        return [str(m.get("text", "")) for m in self.messages if m.get("type") == "text"]


@dataclass
class _Failure:
    status: int
    retry_after: int | None = None


@dataclass
class FakeLineServer:
    """The fake; use as a context manager or call :meth:`start` / :meth:`stop`.

    Parameters
    ----------
    port
        0 picks a free port (tests); the CLI uses a fixed one.
    token
        The channel access token to accept; ``None`` accepts any non-empty bearer token.
    record
        A JSON-lines file to append every accepted request to (the CLI demo's transcript).
    on_accept
        Called with each accepted request (the CLI prints it).
    validate
        A further check of each body, ``(endpoint, body) → problem`` ("" when fine): the tests
        pass one built on LINE's official SDK models, so a body LINE would refuse is refused.
    """

    port: int = 0
    token: str | None = None
    record: Path | None = None
    on_accept: Callable[[Received], None] | None = None
    validate: Callable[[str, dict[str, Any]], str] | None = None
    sent: list[Received] = field(default_factory=list)
    refused: list[tuple[str, int]] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    _accepted_keys: dict[str, str] = field(default_factory=dict)
    _failures: list[_Failure] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (use as ``LINE_API_BASE``)."""
        if self._server is None:
            raise RuntimeError("the fake LINE server is not running")
        return f"http://{HOST}:{self._server.server_address[1]}"

    def start(self) -> FakeLineServer:
        """Listen on 127.0.0.1 in a background thread."""
        self._server = ThreadingHTTPServer((HOST, self.port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-line", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Listen on 127.0.0.1 in this thread until interrupted (the CLI)."""
        self._server = ThreadingHTTPServer((HOST, self.port), _handler_for(self))
        self._server.daemon_threads = True
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> FakeLineServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def fail_next(self, status: int, *, count: int = 1, retry_after: int | None = None) -> None:
        """Answer the next ``count`` requests with ``status`` (nothing is delivered)."""
        with self._lock:
            self._failures.extend(_Failure(status, retry_after) for _ in range(count))

    def by_endpoint(self, endpoint: str) -> list[Received]:
        """Accepted requests to one endpoint (``broadcast``, ``multicast``, ``reply``)."""
        with self._lock:
            return [r for r in self.sent if r.endpoint == endpoint]

    # -- request handling (called from the handler thread) ------------------------------------

    def _handle(
        self, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        endpoint = ENDPOINTS.get(path)
        if endpoint is None:
            return 404, {"message": "Not found"}, {}
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            return self._refuse(endpoint, 401, "Authentication failed. Missing bearer token")
        if self.token is not None and auth[7:] != self.token:
            return self._refuse(endpoint, 401, "Authentication failed. Invalid token")
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return self._refuse(endpoint, 400, "The request body has 1 error(s)")
        problem = _check(endpoint, data)
        if not problem and self.validate is not None:
            problem = self.validate(endpoint, data)
        if problem:
            return self._refuse(endpoint, 400, problem)
        retry_key = headers.get("x-line-retry-key", "")
        if retry_key:
            if endpoint == "reply":
                return self._refuse(endpoint, 400, "X-Line-Retry-Key is not supported for reply")
            try:
                uuid.UUID(retry_key)
            except ValueError:
                return self._refuse(endpoint, 400, "The retry key must be a UUID")
        with self._lock:
            if self._failures:
                failure = self._failures.pop(0)
                self.refused.append((endpoint, failure.status))
                extra = {}
                if failure.retry_after is not None:
                    extra["Retry-After"] = str(failure.retry_after)
                return failure.status, {"message": "Injected failure"}, extra
            if retry_key and retry_key in self._accepted_keys:
                self.duplicates.append(retry_key)
                accepted = self._accepted_keys[retry_key]
                return (
                    409,
                    {"message": "The retry key is already accepted", "sentMessages": []},
                    {"x-line-accepted-request-id": accepted},
                )
            request_id = uuid.uuid4().hex
            received = Received(
                endpoint=endpoint,
                messages=list(data["messages"]),
                retry_key=retry_key,
                request_id=request_id,
                recipients=len(data.get("to") or []),
                reply_token=str(data.get("replyToken") or ""),
            )
            self.sent.append(received)
            if retry_key:
                self._accepted_keys[retry_key] = request_id
        if self.record is not None:
            line = {
                "endpoint": endpoint,
                "messages": received.messages,
                "recipients": received.recipients,
                "request_id": request_id,
            }
            with self.record.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(line, ensure_ascii=False) + "\n")
        if self.on_accept is not None:
            self.on_accept(received)
        return 200, {}, {"x-line-request-id": request_id}

    def _refuse(
        self, endpoint: str, status: int, message: str
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._lock:
            self.refused.append((endpoint, status))
        return status, {"message": message}, {}

    def _listing(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {
                    "endpoint": r.endpoint,
                    "messages": r.messages,
                    "recipients": r.recipients,
                    "request_id": r.request_id,
                }
                for r in self.sent
            ]


def _check(endpoint: str, data: Any) -> str:
    """What LINE would refuse in this body ("" when it is fine)."""
    if not isinstance(data, dict):
        return "The request body must be an object"
    messages = data.get("messages")
    if not isinstance(messages, list) or not 1 <= len(messages) <= 5:
        return "messages: must be 1 to 5 message objects"
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or "type" not in message:
            return f"messages[{index}].type: required"
        if message["type"] == "text":
            text = message.get("text")
            if not isinstance(text, str) or not text or len(text) > 5000:
                return f"messages[{index}].text: must be 1 to 5000 characters"
        elif message["type"] == "location":
            for key in ("title", "address", "latitude", "longitude"):
                if key not in message:
                    return f"messages[{index}].{key}: required"
    if endpoint == "multicast":
        to = data.get("to")
        if not isinstance(to, list) or not 1 <= len(to) <= 500:
            return "to: must be 1 to 500 user ids"
    if endpoint == "reply" and not data.get("replyToken"):
        return "replyToken: required"
    return ""


def _handler_for(fake: FakeLineServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "FakeLINE/1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(length, 1 << 20))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, payload, extra = fake._handle(self.path, headers, body)
            self._send(status, payload, extra)

        def do_GET(self) -> None:
            if self.path == "/_fake/sent":
                self._send(200, {"sent": fake._listing()}, {})
            else:
                self._send(404, {"message": "Not found"}, {})

        def _send(self, status: int, payload: Any, extra: dict[str, str]) -> None:
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("fake LINE: " + format, *args)

    return Handler
