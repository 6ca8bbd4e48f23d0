"""A small client for the LINE Messaging API endpoints this app uses (broadcast, multicast, reply).

Network failures become ``status=0`` answers rather than exceptions, so the sender's backoff
treats a timeout like any other retryable answer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests

from disaster_dx.config import Settings

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# The Messaging API client
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineResponse:
    """What LINE answered (``status`` 0: no answer — timeout or connection error)."""

    status: int
    request_id: str = ""
    accepted_request_id: str = ""
    retry_after: float | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        """The request was accepted now."""
        return 200 <= self.status < 300

    @property
    def already_accepted(self) -> bool:
        """``409`` for a retry key LINE had accepted before: sent earlier, not again now."""
        return self.status == 409

    @property
    def retryable(self) -> bool:
        """No answer, rate limited or a server error: worth trying again later."""
        return self.status == 0 or self.status == 429 or self.status >= 500


class LineClient:
    """A small client for the Messaging API endpoints this app uses.

    Parameters
    ----------
    base_url
        ``LINE_API_BASE`` (``https://api.line.me``, or the local fake in tests and demos).
    token
        The channel access token; sent only in the ``Authorization`` header, never logged.
    timeout
        Connect and read timeouts in seconds: a hung connection must not stall the sender.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (5.0, 15.0),
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.session = session or requests.Session()
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"LineClient({self.base_url!r})"

    def post(
        self, path: str, body: Mapping[str, Any], *, retry_key: str | None = None
    ) -> LineResponse:
        """POST ``body`` as JSON to ``path``; network failures become ``status=0``."""
        headers = {"Authorization": f"Bearer {self._token}"}
        if retry_key:
            headers["X-Line-Retry-Key"] = retry_key
        try:
            response = self.session.post(
                f"{self.base_url}{path}", json=dict(body), headers=headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            return LineResponse(0, error=type(exc).__name__)
        error = ""
        if not 200 <= response.status_code < 300:
            try:
                error = str(response.json().get("message", ""))
            except ValueError:
                error = response.text[:200]
        retry_after = None
        if response.headers.get("Retry-After", "").strip().isdigit():
            retry_after = float(response.headers["Retry-After"])
        return LineResponse(
            response.status_code,
            request_id=response.headers.get("x-line-request-id", ""),
            accepted_request_id=response.headers.get("x-line-accepted-request-id", ""),
            retry_after=retry_after,
            error=error[:200],
        )

    def broadcast(self, messages: list[dict[str, Any]], *, retry_key: str) -> LineResponse:
        """Send to every friend of the official account."""
        return self.post("/v2/bot/message/broadcast", {"messages": messages}, retry_key=retry_key)

    def multicast(
        self, to: Sequence[str], messages: list[dict[str, Any]], *, retry_key: str
    ) -> LineResponse:
        """Send to up to 500 user ids."""
        return self.post(
            "/v2/bot/message/multicast",
            {"to": list(to), "messages": messages},
            retry_key=retry_key,
        )

    def reply(self, reply_token: str, messages: list[dict[str, Any]]) -> LineResponse:
        """Answer a webhook event (reply tokens are single-use and short-lived)."""
        return self.post("/v2/bot/message/reply", {"replyToken": reply_token, "messages": messages})


def client_for(settings: Settings, *, session: requests.Session | None = None) -> LineClient:
    """A client configured from ``LINE_API_BASE`` and ``LINE_CHANNEL_ACCESS_TOKEN``."""
    return LineClient(settings.line_api_base, settings.line_channel_access_token, session=session)
