"""RFC 9457 problem details for the REST API, in Japanese or English, naming each field.

Every refusal of ``/api/v1`` is ``application/problem+json``: ``type`` (a URN per kind of
problem), ``title``, ``status``, ``detail``, and for bad input ``errors`` — one entry per field
with a JSON pointer into the request body, a stable ``code`` a client can translate itself, and
``detail`` in the request's language. The core's validators speak English; their messages are
recognised here by pattern (a test feeds every core checker a bad value, so a changed message
cannot silently lose its code).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from disaster_dx.errors import Problem

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:disaster-dx:problem:"

#: Problem kinds: (title ja, title en).
TITLES: dict[str, tuple[str, str]] = {
    "bad-request": ("リクエストの形式が正しくありません", "The request is malformed"),
    "validation": (
        "入力に誤りがあります。送信していません",
        "Some entries are invalid; nothing was saved",
    ),
    "unauthenticated": ("ログインまたはAPIトークンが必要です", "Log in or send an API token"),
    "forbidden": ("この操作の権限がありません", "You may not do this"),
    "csrf": (
        "画面の有効期限が切れました。ページを開き直してください",
        "The page expired; reload it",
    ),
    "not-found": ("見つかりません", "Not found"),
    "method-not-allowed": ("この操作はできません", "Method not allowed"),
    "conflict": (
        "他の職員が先に同じ項目を更新しました。送信していません",
        "Someone else changed the same field first; nothing was saved",
    ),
    "incident-closed": (
        "この訓練は終了しました。送信していません",
        "This drill has ended; nothing was saved",
    ),
    "idempotency-key-missing": (
        "Idempotency-Key ヘッダーが必要です",
        "The Idempotency-Key header is required",
    ),
    "idempotency-key-reused": (
        "同じ Idempotency-Key が別の内容で使われています",
        "This Idempotency-Key was used for a different request",
    ),
    "idempotency-in-progress": (
        "同じ Idempotency-Key の送信を処理中です。少し待ってからもう一度送ってください",
        "A request with this Idempotency-Key is still running; retry shortly",
    ),
    "unsupported-media-type": (
        "JSON（application/json）で送ってください",
        "Send JSON (application/json)",
    ),
    "unavailable": (
        "保存できませんでした。通信または本部のサーバーに問題があります",
        "Could not save: a network or server problem at HQ",
    ),
    "server-error": (
        "本部のサーバーで問題が起きました。保存されていない可能性があります",
        "Something went wrong at HQ; the report may not have been saved",
    ),
}


@dataclass(frozen=True)
class FieldError:
    """One bad field: where it is in the request body, a stable code, and words."""

    field: str
    pointer: str
    code: str
    detail: str

    def as_json(self) -> dict[str, str]:
        """The ``errors`` entry of a problem document."""
        return {
            "field": self.field,
            "pointer": self.pointer,
            "code": self.code,
            "detail": self.detail,
        }


def problem(kind: str, status: int, lang: str, *, detail: str = "", **extra: Any) -> dict[str, Any]:
    """A problem document (the body); ``extra`` adds members such as ``errors``."""
    ja, en = TITLES[kind]
    title = en if lang == "en" else ja
    return {
        "type": TYPE_PREFIX + kind,
        "title": title,
        "status": status,
        "detail": detail or title,
        **extra,
    }


# -- the core's field messages, by pattern → (code, Japanese, English) ---------------------------

_PATTERNS: tuple[tuple[re.Pattern[str], str, str, str], ...] = tuple(
    (re.compile(pattern), code, ja, en)
    for pattern, code, ja, en in (
        (r"^is required$", "required", "入力してください", "is required"),
        (
            r"^must be a whole number",
            "not_integer",
            "整数（0以上の数字）で入力してください",
            "enter a whole number",
        ),
        (r"^must be 0 or more", "negative", "0以上の数で入力してください", "must be 0 or more"),
        (
            r"^must be at most ([\d,]+) characters",
            "too_long",
            "{0}文字以内で入力してください",
            "use at most {0} characters",
        ),
        (
            r"^must be at most ([\d,]+),",
            "too_large",
            "{0}以下で入力してください",
            "must be at most {0}",
        ),
        (r"^must be text", "not_text", "文字で入力してください", "must be text"),
        (r"^must not be empty", "empty", "入力してください", "must not be empty"),
        (
            r"^must not contain control characters",
            "control_characters",
            "使えない文字（制御文字）が含まれています",
            "contains control characters",
        ),
        (
            r"^must be true or false",
            "not_boolean",
            "「可」「不可」「未確認」から選んでください",
            "must be true, false or null",
        ),
        (
            r"^unknown value",
            "unknown_value",
            "選択肢から選んでください",
            "choose one of the options",
        ),
        (
            r"^must be a list of needs",
            "not_list",
            "選択肢の一覧で送ってください",
            "must be a list of choices",
        ),
        (r"^unknown need", "unknown_value", "選択肢から選んでください", "choose from the options"),
        (
            r"cannot exceed evacuees",
            "exceeds_evacuees",
            "避難者数より多くできません（自主避難者は避難者数に含めます）",
            "cannot exceed evacuees (voluntary evacuees are counted within evacuees)",
        ),
        (
            r"^is not a field of this event",
            "unknown_field",
            "この項目は送れません",
            "is not a field that can be reported",
        ),
        (
            r"^changes nothing",
            "no_change",
            "変更された項目がありません",
            "changes nothing: send at least one field",
        ),
        (
            r"^must be an object",
            "not_object",
            "オブジェクト（{…}）で送ってください",
            "must be a JSON object",
        ),
    )
)


def translate(message: str, lang: str) -> tuple[str, str]:
    """A core validator's message as ``(code, words in lang)``; ``invalid`` if unrecognised."""
    for pattern, code, ja, en in _PATTERNS:
        found = pattern.search(message)
        if found:
            words = (en if lang == "en" else ja).format(*found.groups())
            return code, words
    return "invalid", message


def field_errors(
    problems: Iterable[Problem], lang: str, *, fields: Iterable[str]
) -> list[FieldError]:
    """Problems of a payload as field errors pointing into the request.

    A problem with one of the request's ``fields`` points at ``#/fields/<name>``; the payload
    as a whole (the core says ``payload``) at ``#/fields``; anything else, such as the area
    named in the path, at ``#/<name>``.
    """
    sent = set(fields)
    errors = []
    for item in problems:
        code, words = translate(item.message, lang)
        where = item.where
        if where == "payload":
            pointer = "#/fields"
        elif where in sent:
            pointer = f"#/fields/{_escape(where)}"
        else:
            pointer = f"#/{_escape(where)}"
        errors.append(FieldError(where, pointer, code, words))
    return errors


def request_error(field: str, pointer: str, code: str, ja: str, en: str, lang: str) -> FieldError:
    """An error about the request's own shape (not a payload field), in ``lang``."""
    return FieldError(field, pointer, code, en if lang == "en" else ja)


def _escape(name: str) -> str:
    """A JSON pointer token (RFC 6901)."""
    return name.replace("~", "~0").replace("/", "~1")


def best_language(query_lang: str | None, accept_language: str | None) -> str:
    """``ja`` or ``en``: the ``lang`` query first, else the Accept-Language header, else ja."""
    if query_lang:
        return "en" if query_lang.lower().startswith("en") else "ja"
    best, best_q = "ja", -1.0
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip().lower()
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        for lang in ("ja", "en"):
            if (tag == lang or tag.startswith(lang + "-")) and quality > best_q:
                best, best_q = lang, quality
    return best


def plain(value: Any) -> Any:
    """A value from the core (enum, set, mapping, time) as plain JSON."""
    if value is None or isinstance(value, bool | int | float | str):
        return value.value if hasattr(value, "value") and not isinstance(value, bool) else value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, Mapping):
        # urgent needs are kept as {need: confirmed at}: the needs are what a person set
        return sorted(str(plain(k)) for k in value)
    if isinstance(value, set | frozenset | list | tuple):
        items = [plain(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    return str(value)
