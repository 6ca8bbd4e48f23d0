"""Request bodies checked against LINE's official ``line-bot-sdk`` (v3) models.

Our sender builds the Messaging API JSON itself (one ``requests`` call, no SDK at run time);
these checks make sure every body it sends is one the official models accept, field names
included: the body is parsed by the SDK and rendered back, and everything we sent must come
back unchanged (a misspelt or misplaced field would be dropped by the model and show up).

``line-bot-sdk`` needs urllib3 2 while the Selenium that ``dash[testing]`` pins needs urllib3
1.26, so it cannot be a dev dependency pip resolves: ``.ci/run`` installs it with
``--no-deps`` (its models need only pydantic and aenum at run time). Without it, the fake
server skips this check and :func:`require_sdk` skips (fails under ``DX_REQUIRE=line_sdk``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.conftest import skip_or_fail


def _models() -> dict[str, Any] | None:
    try:
        from linebot.v3.messaging.models import (
            BroadcastRequest,
            MulticastRequest,
            ReplyMessageRequest,
        )
    except ImportError:
        return None
    return {
        "broadcast": BroadcastRequest,
        "multicast": MulticastRequest,
        "reply": ReplyMessageRequest,
    }


def _missing(sent: Any, back: Any, where: str) -> str:
    """The first part of ``sent`` that does not come back the same from the SDK model."""
    if isinstance(sent, dict):
        if not isinstance(back, dict):
            return f"{where}: the SDK made {type(back).__name__} of an object"
        for key, value in sent.items():
            if key not in back:
                return f"{where}.{key}: not a field of the official model"
            problem = _missing(value, back[key], f"{where}.{key}")
            if problem:
                return problem
        return ""
    if isinstance(sent, list):
        if not isinstance(back, list) or len(back) != len(sent):
            return f"{where}: the SDK read the list differently"
        for index, (a, b) in enumerate(zip(sent, back, strict=True)):
            problem = _missing(a, b, f"{where}[{index}]")
            if problem:
                return problem
        return ""
    return "" if sent == back else f"{where}: sent {sent!r}, the SDK read {back!r}"


def sdk_problem(endpoint: str, body: dict[str, Any]) -> str:
    """Why the official model refuses ``body`` for ``endpoint`` ("" when it accepts it)."""
    models = _models()
    if models is None:
        return ""
    model = models[endpoint]
    try:
        parsed = model.from_json(json.dumps(body, ensure_ascii=False))
    except Exception as exc:  # pydantic's and the SDK's own errors alike
        return f"line-bot-sdk {model.__name__} refused the body: {exc}"
    return _missing(body, parsed.to_dict(), model.__name__)


def validator() -> Callable[[str, dict[str, Any]], str] | None:
    """The check for :class:`~disaster_dx.line_fake.FakeLineServer`, or None without the SDK."""
    return sdk_problem if _models() is not None else None


def require_sdk() -> None:
    """Skip (fail under ``DX_REQUIRE=line_sdk``) when line-bot-sdk is not installed."""
    if _models() is None:
        skip_or_fail("line_sdk", "line-bot-sdk is not installed (see tests/line_sdk.py)")
