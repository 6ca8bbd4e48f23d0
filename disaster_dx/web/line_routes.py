"""LINE in the web app: the ``/line/webhook`` route and the HQ control page ``/hq/line``.

The webhook answers only requests LINE signed: a bad or missing ``X-Line-Signature`` gets 401
and an ``line.webhook_refused`` audit entry, and nothing of the body is read further. Verified
events are answered through the reply API by :class:`disaster_dx.line_bot.LineBot`.

``/hq/line`` (role ``hq``) previews the queued notification, holds, releases or cancels it,
sends an announcement, and shows the delivery log — with hashed user ids only. Every callback
is wrapped in ``requires(Role.HQ)``, and every action is audit-logged by the core
(:mod:`disaster_dx.line`).

:func:`init_line` registers the listener that queues notifications and, when a channel access
token is configured and ``LINE_WORKER=app``, a sender thread (a database lease makes exactly
one worker of several send).
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any
from urllib.parse import urlparse

import dash
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from flask import Flask, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from disaster_dx import auth
from disaster_dx._time import jst_minute, jst_second
from disaster_dx.auth import Role
from disaster_dx.errors import DisasterDxError
from disaster_dx.line import bot as line_bot
from disaster_dx.line import client as line_client
from disaster_dx.line import outbox
from disaster_dx.line import store as line_store
from disaster_dx.line import text as line_text
from disaster_dx.refusals import record_refusal
from disaster_dx.web.context import AppContext, current
from disaster_dx.web.i18n import lang_from_search, lang_of
from disaster_dx.web.security import page_user, requires, signed_in_user
from disaster_dx.web.staff import grid, refusal, staff_header

log = logging.getLogger(__name__)

PATH = "/hq/line"
WEBHOOK_PATH = "/line/webhook"
#: Where the sender thread of this app is kept (tests stop it).
#: LINE's webhook bodies are small; anything much larger is not from LINE.
MAX_WEBHOOK_BYTES = 1 << 20
#: Events answered per webhook request. LINE batches a few events (a user's quick messages,
#: a follow); a signed request with more is answered for its first 20, the rest are skipped
#: with a warning and an audit entry (each event costs writes and a reply call).
MAX_WEBHOOK_EVENTS = 20
POLL_MS = 5000
#: Message text as LINE shows it: line breaks kept, long URLs wrapped.
_PRE_STYLE = {"whiteSpace": "pre-wrap", "overflowWrap": "anywhere", "maxWidth": "40rem"}

LINE_QUEUE = "hq-line-queue"
LINE_PREVIEW = "hq-line-preview"
LINE_HOLD = "hq-line-hold"
LINE_RELEASE = "hq-line-release"
LINE_CANCEL = "hq-line-cancel"
LINE_CANCEL_CONFIRM = "hq-line-cancel-confirm"
LINE_ACTION_RESULT = "hq-line-action-result"
LINE_ANNOUNCE_TEXT = "hq-line-announce-text"
LINE_ANNOUNCE_PREVIEW = "hq-line-announce-preview"
LINE_ANNOUNCE_SEND = "hq-line-announce-send"
LINE_ANNOUNCE_CONFIRM = "hq-line-announce-confirm"
LINE_ANNOUNCE_RESULT = "hq-line-announce-result"
LINE_NONCE = "hq-line-nonce"
LINE_LOG = "hq-line-log"
LINE_OUTBOX = "hq-line-outbox"
LINE_INTERVAL = "hq-line-interval"
LINE_FORCE = "hq-line-force"


# -- Flask: setup and the webhook --------------------------------------------------------------


def init_line(server: Flask, app: Dash) -> None:
    """LINE's web side: the webhook and ``/hq/line``.

    Queueing notifications after each write and the sender loop are the runtime's
    (:mod:`disaster_dx.runtime`); this only adds the routes and the HQ page.
    """
    server.add_url_rule(WEBHOOK_PATH, "line_webhook", _webhook, methods=["POST"])
    register_page()
    register(app)


def _webhook() -> Any:
    context = current()
    store, settings = context.store, context.settings
    sent = request.headers.get("X-Line-Signature")
    # Refusals that need no body read none of it: an unsigned stranger costs nothing.
    if not settings.line_channel_secret:
        return _refuse("channel secret not configured", 0)
    if not sent:
        return _refuse("missing signature", 0)
    if (request.content_length or 0) > MAX_WEBHOOK_BYTES:
        return _refuse("too large", request.content_length or 0, status=413)
    # A chunked body has no Content-Length: the stream itself stops one byte past the limit,
    # so a 300 MB body costs one megabyte read, never 300 MB held in the worker.
    request.max_content_length = MAX_WEBHOOK_BYTES + 1
    try:
        body = request.get_data(cache=False)
    except RequestEntityTooLarge:
        return _refuse("too large", MAX_WEBHOOK_BYTES, status=413)
    if len(body) > MAX_WEBHOOK_BYTES:
        return _refuse("too large", len(body), status=413)
    if not line_bot.verify_signature(settings.line_channel_secret, body, sent):
        return _refuse("bad signature", len(body))
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return jsonify(error="body is not JSON"), 400
    if not isinstance(payload, dict):
        return jsonify(error="body is not a JSON object"), 400
    payload = _capped(payload)
    bot = line_bot.LineBot(store, settings, clock=context.now)
    replies = bot.replies(payload)
    if replies and not settings.line_channel_access_token:
        log.warning("LINE webhook: %d reply(ies) not sent, no channel access token", len(replies))
        return jsonify(ok=True)
    client = line_client.client_for(settings) if replies else None
    for reply in replies:
        assert client is not None
        response = client.reply(reply.reply_token, reply.messages)
        outcome = "sent" if response.ok else "failed"
        outbox.record(
            store,
            at=context.now(),
            kind="reply",
            outcome=outcome,
            target=reply.kind,
            attempt=1,
            status_code=response.status,
            request_id=response.request_id,
            user_hash=reply.user_hash,
            detail=response.error,
        )
        if not response.ok:
            log.warning(
                "LINE reply (%s) failed: HTTP %s %s", reply.kind, response.status, response.error
            )
    return jsonify(ok=True)


def _capped(payload: dict[str, Any]) -> dict[str, Any]:
    """At most :data:`MAX_WEBHOOK_EVENTS` events; the rest are skipped, said in log and audit.

    LINE sends a few events per request; hundreds can only come from a leaked channel secret
    or a fault, and each costs database writes and a reply call. The first ones are answered
    (their reply tokens are valid only briefly), the count of skipped ones is recorded.
    """
    events = payload.get("events")
    if not isinstance(events, list) or len(events) <= MAX_WEBHOOK_EVENTS:
        return payload
    skipped = len(events) - MAX_WEBHOOK_EVENTS
    log.warning(
        "LINE webhook: %d events in one request, answered the first %d and skipped %d "
        "(more than MAX_WEBHOOK_EVENTS)",
        len(events),
        MAX_WEBHOOK_EVENTS,
        skipped,
    )
    current().store.audit(
        "line",
        "line.webhook_events_skipped",
        target=WEBHOOK_PATH,
        detail={"events": len(events), "answered": MAX_WEBHOOK_EVENTS, "skipped": skipped},
    )
    return {**payload, "events": events[:MAX_WEBHOOK_EVENTS]}


def _refuse(reason: str, size: int, *, status: int = 401) -> Any:
    """Refuse a webhook request; count it per client and minute (never its body).

    Anonymous: one row per client, minute and reason however many arrive
    (:mod:`disaster_dx.refusals`), so a flood cannot turn into an audit-log flood.
    """
    record_refusal(
        current().store,
        f"ip:{request.remote_addr or 'unknown'}",
        "line.webhook_refused",
        reason=reason,
        target=WEBHOOK_PATH,
    )
    log.warning("LINE webhook refused: %s (%d bytes read)", reason, size)
    return jsonify(error="invalid signature" if status == 401 else reason), status


# -- the HQ page ---------------------------------------------------------------------------------


def _t(lang: str, ja: str, en: str) -> str:
    return en if lang == "en" else ja


def _queue_options(messages: list[outbox.OutboxMessage], lang: str) -> list[dict[str, str]]:
    options = []
    for message in messages:
        if message.kind == line_store.KIND_STATUS:
            parts = [
                _t(lang, f"{label_ja}{n}か所", f"{n} {label_en}")
                for n, label_ja, label_en in (
                    (message.opened, "開設", "opened"),
                    (message.closed, "閉鎖", "closed"),
                )
                if n
            ]
            what = _t(lang, "・", ", ").join(parts) or _t(lang, "変化なし", "no change")
        elif message.kind == line_store.KIND_ALERT:
            what = _t(lang, "避難情報", "Evacuation information")
        else:
            what = _t(lang, "お知らせ", "Announcement")
        when = jst_minute(message.due_at)[11:]
        label = _t(
            lang,
            f"{what}（{when} 送信予定・{message.status_label(lang)}）",
            f"{what} (due {when}, {message.status_label(lang)})",
        )
        options.append({"label": label, "value": message.message_key})
    return options


def _log_rows(entries: list[outbox.LogEntry]) -> list[dict[str, Any]]:
    return [
        {
            "at": jst_second(e.at),
            "kind": e.kind,
            "message": e.message_key,
            "target": e.target,
            "attempt": e.attempt,
            "outcome": e.outcome,
            "status": e.status_code or "",
            "request_id": e.request_id,
            "user": e.user_hash,
            "detail": e.detail,
        }
        for e in entries
    ]


def _outbox_rows(messages: list[outbox.OutboxMessage], lang: str) -> list[dict[str, Any]]:
    names = auth.display_names(current().store)  # staff by the names people know them by
    return [
        {
            "created": jst_second(m.created_at),
            "kind": _kind_label(m.kind, lang),
            "status": m.status_label(lang),
            "by": names.get(m.updated_by, m.updated_by),
            "sent": jst_second(m.sent_at),
            "first_line": _summary_line(m)[:80],
            "key": m.message_key,
        }
        for m in messages
    ]


def _kind_label(kind: str, lang: str) -> str:
    if kind == line_store.KIND_STATUS:
        return _t(lang, "開設状況", "Status")
    if kind == line_store.KIND_ALERT:
        return _t(lang, "避難情報", "Evacuation information")
    return _t(lang, "お知らせ", "Announcement")


def _summary_line(message: outbox.OutboxMessage) -> str:
    lines = [line for line in message.text.split("\n") if line.strip()]
    if message.kind == line_store.KIND_STATUS:
        lines = [line for line in lines if "か所を" in line] or lines
    return "　".join(lines[:2])


def _pending(store: Any) -> list[outbox.OutboxMessage]:
    return outbox.outbox(store, statuses=(line_store.QUEUED, line_store.HELD))


def _preview(store: Any, message_key: str | None, lang: str) -> Any:
    if not message_key:
        return html.P(_t(lang, "送信待ちのメッセージはありません。", "Nothing is queued."))
    try:
        message = outbox.message(store, message_key)
    except DisasterDxError:
        return html.P(_t(lang, "このメッセージは見つかりません。", "Message not found."))
    return html.Div(
        [
            html.P(
                _t(
                    lang,
                    f"状態：{message.status_label(lang)}　送信予定：{jst_minute(message.due_at)}",
                    f"Status: {message.status_label(lang)} · due {jst_minute(message.due_at)}",
                )
            ),
            html.Pre(message.text, className="dx-line-text", style=_PRE_STYLE),
        ]
    )


def _settings_panel(context: AppContext, lang: str) -> html.Section:
    settings = context.settings
    webhook_url = request.host_url.rstrip("/") + WEBHOOK_PATH
    yes, no = _t(lang, "設定済み", "set"), _t(lang, "未設定", "not set")
    rows = (
        (_t(lang, "送信先API", "API"), urlparse(settings.line_api_base).netloc),
        (
            _t(lang, "チャネルアクセストークン", "Channel access token"),
            yes if settings.line_channel_access_token else no,
        ),
        (
            _t(lang, "チャネルシークレット", "Channel secret"),
            yes if settings.line_channel_secret else no,
        ),
        (_t(lang, "Webhook URL", "Webhook URL"), webhook_url),
        (
            _t(lang, "全員に配信（ブロードキャスト）", "Broadcast"),
            _t(lang, "する", "on") if settings.line_broadcast else _t(lang, "しない", "off"),
        ),
        (
            _t(lang, "指定した相手に配信（マルチキャスト）", "Multicast"),
            _t(lang, f"{len(settings.line_multicast_to)}人", f"{len(settings.line_multicast_to)}"),
        ),
        (
            _t(lang, "まとめて送る間隔", "Batch window"),
            _t(lang, f"{settings.line_batch_seconds}秒", f"{settings.line_batch_seconds} s"),
        ),
        (_t(lang, "公開ページのURL", "Public page"), settings.public_base_url),
    )
    return html.Section(
        [
            html.H2(_t(lang, "接続設定", "Connection")),
            html.Dl([item for k, v in rows for item in (html.Dt(k), html.Dd(v))]),
        ],
        className="dx-panel",
    )


def layout(lang: str | None = None, **_query: Any) -> html.Div:
    """The LINE control page (HQ/admin only)."""
    lang = lang_of(lang)
    user = page_user(Role.HQ)
    if user is None:
        return refusal(lang=lang)
    context = current()
    store = context.store
    pending = _pending(store)
    selected = pending[0].message_key if pending else None
    return html.Div(
        [
            staff_header(user, lang=lang, title_ja="LINE配信", title_en="LINE messages"),
            html.Main(
                [
                    html.Section(
                        [
                            html.H2(_t(lang, "送信待ちのメッセージ", "Queued messages")),
                            html.P(
                                _t(
                                    lang,
                                    "避難所の開設・閉鎖は、まとめて1通にして送ります。"
                                    "送信前に内容を確認し、必要なら保留してください。",
                                    "Openings and closings are sent together as one message. "
                                    "Check it before it goes out; hold it if needed.",
                                )
                            ),
                            html.Label(
                                _t(lang, "確認するメッセージ", "Message to check"),
                                htmlFor=LINE_QUEUE,
                                className="dx-visually-hidden",
                            ),
                            dcc.RadioItems(
                                id=LINE_QUEUE,
                                options=_queue_options(pending, lang),
                                value=selected,
                                className="dx-line-queue",
                            ),
                            html.Div(
                                _preview(store, selected, lang),
                                id=LINE_PREVIEW,
                                **{"aria-live": "polite"},
                            ),
                            html.Div(
                                [
                                    html.Button(_t(lang, "保留する", "Hold"), id=LINE_HOLD),
                                    html.Button(
                                        _t(lang, "保留を解除する", "Release"), id=LINE_RELEASE
                                    ),
                                    dcc.ConfirmDialogProvider(
                                        html.Button(
                                            _t(lang, "送信を取り消す", "Cancel"), id=LINE_CANCEL
                                        ),
                                        id=LINE_CANCEL_CONFIRM,
                                        message=_t(
                                            lang,
                                            "このメッセージを送信せずに取り消します。よろしいですか？",
                                            "Cancel this message? It will not be sent.",
                                        ),
                                    ),
                                ],
                                className="dx-buttons",
                            ),
                            html.P(id=LINE_ACTION_RESULT, role="status"),
                        ],
                        className="dx-panel",
                    ),
                    html.Section(
                        [
                            html.H2(_t(lang, "お知らせを送る", "Send an announcement")),
                            html.Label(
                                _t(lang, "本文（2000字まで）", "Text (up to 2000 characters)"),
                                htmlFor=LINE_ANNOUNCE_TEXT,
                            ),
                            dcc.Textarea(
                                id=LINE_ANNOUNCE_TEXT,
                                maxLength=outbox.MAX_ANNOUNCEMENT,
                                style={"width": "100%", "minHeight": "6rem"},
                            ),
                            html.P(_t(lang, "送信される内容：", "What will be sent:")),
                            html.Pre(
                                id=LINE_ANNOUNCE_PREVIEW, className="dx-line-text", style=_PRE_STYLE
                            ),
                            dcc.ConfirmDialogProvider(
                                html.Button(
                                    _t(lang, "LINEで送信する", "Send on LINE"),
                                    id=LINE_ANNOUNCE_SEND,
                                ),
                                id=LINE_ANNOUNCE_CONFIRM,
                                message=_t(
                                    lang,
                                    "LINEの友だち全員に送信します。よろしいですか？",
                                    "Send this to every LINE friend of the account?",
                                ),
                            ),
                            html.P(id=LINE_ANNOUNCE_RESULT, role="status"),
                            dcc.Store(id=LINE_NONCE, data=uuid.uuid4().hex),
                        ],
                        className="dx-panel",
                    ),
                    _settings_panel(context, lang),
                    html.Section(
                        [
                            html.H2(_t(lang, "最近のメッセージ", "Recent messages")),
                            grid(
                                LINE_OUTBOX,
                                _columns(
                                    lang,
                                    ("created", "作成", "Created"),
                                    ("kind", "種類", "Kind"),
                                    ("status", "状態", "Status"),
                                    ("by", "操作者", "By"),
                                    ("sent", "送信", "Sent"),
                                    ("first_line", "内容", "Text"),
                                ),
                                _outbox_rows(outbox.outbox(store, limit=30), lang),
                                lang=lang,
                                options={"pagination": True, "paginationPageSize": 10},
                            ),
                            html.H2(_t(lang, "配信ログ", "Delivery log")),
                            html.P(
                                _t(
                                    lang,
                                    "利用者は個人を特定できない符号（ハッシュ）で表示しています。",
                                    "Users are shown as hashes, never their LINE ids.",
                                )
                            ),
                            grid(
                                LINE_LOG,
                                _columns(
                                    lang,
                                    ("at", "日時", "Time (JST)"),
                                    ("kind", "種類", "Kind"),
                                    ("message", "メッセージ", "Message"),
                                    ("target", "送信先", "Target"),
                                    ("attempt", "回", "Try"),
                                    ("outcome", "結果", "Outcome"),
                                    ("status", "HTTP", "HTTP"),
                                    ("user", "利用者", "User"),
                                    ("detail", "詳細", "Detail"),
                                ),
                                _log_rows(outbox.delivery_log(store, limit=100)),
                                lang=lang,
                                options={"pagination": True, "paginationPageSize": 20},
                            ),
                        ],
                        className="dx-panel",
                    ),
                    dcc.Store(id=LINE_FORCE, data=0),
                    dcc.Interval(id=LINE_INTERVAL, interval=POLL_MS),
                ],
                className="dx-line",
            ),
        ],
        lang=lang,
    )


def _columns(lang: str, *fields: tuple[str, str, str]) -> list[dict[str, Any]]:
    """Grid columns from ``(field, Japanese header, English header)``."""
    return [
        {"field": field, "headerName": en if lang == "en" else ja, "flex": 1, "minWidth": 70}
        for field, ja, en in fields
    ]


def register(app: Dash) -> None:
    """Attach this page's callbacks to ``app``."""

    @app.callback(
        Output(LINE_QUEUE, "options"),
        Output(LINE_QUEUE, "value"),
        Output(LINE_PREVIEW, "children"),
        Output(LINE_OUTBOX, "rowData"),
        Output(LINE_LOG, "rowData"),
        Input(LINE_INTERVAL, "n_intervals"),
        Input(LINE_FORCE, "data"),
        Input(LINE_QUEUE, "value"),
        State("_pages_location", "search"),
        prevent_initial_call=True,
    )
    @requires(Role.HQ)
    def refresh(
        _tick: int | None, _force: int | None, selected: str | None, search: str | None
    ) -> tuple[Any, ...]:
        """Queue, preview, outbox and log, re-read; the selection stays while it is queued."""
        lang = lang_from_search(search)
        store = current().store
        pending = _pending(store)
        keys = [m.message_key for m in pending]
        if selected not in keys:
            selected = keys[0] if keys else None
        return (
            _queue_options(pending, lang),
            selected,
            _preview(store, selected, lang),
            _outbox_rows(outbox.outbox(store, limit=30), lang),
            _log_rows(outbox.delivery_log(store, limit=100)),
        )

    @app.callback(
        Output(LINE_ACTION_RESULT, "children"),
        Output(LINE_FORCE, "data", allow_duplicate=True),
        Input(LINE_HOLD, "n_clicks"),
        Input(LINE_RELEASE, "n_clicks"),
        Input(LINE_CANCEL_CONFIRM, "submit_n_clicks"),
        State(LINE_QUEUE, "value"),
        State(LINE_FORCE, "data"),
        State("_pages_location", "search"),
        prevent_initial_call=True,
    )
    @requires(Role.HQ)
    def act(
        _hold: int | None,
        _release: int | None,
        _cancel: int | None,
        message_key: str | None,
        force: int | None,
        search: str | None,
    ) -> tuple[Any, Any]:
        """Hold, release or cancel the selected message (the core checks the role again)."""
        lang = lang_from_search(search)
        if not message_key:
            return _t(lang, "メッセージを選んでください。", "Choose a message."), no_update
        user = signed_in_user()
        assert user is not None  # requires() ran
        context = current()
        action = {
            LINE_HOLD: outbox.hold,
            LINE_RELEASE: outbox.release,
            LINE_CANCEL_CONFIRM: outbox.cancel,
        }[str(ctx.triggered_id)]
        try:
            message = action(context.store, user, message_key, now=context.now())
        except DisasterDxError as exc:
            return _t(lang, f"できませんでした：{exc}", f"Not done: {exc}"), (force or 0) + 1
        return (
            _t(
                lang,
                f"「{message.status_label(lang)}」にしました。",
                f"Now {message.status_label(lang)}.",
            ),
            (force or 0) + 1,
        )

    @app.callback(
        Output(LINE_ANNOUNCE_PREVIEW, "children"),
        Input(LINE_ANNOUNCE_TEXT, "value"),
        prevent_initial_call=True,
    )
    @requires(Role.HQ)
    def preview_announcement(text: str | None) -> str:
        """Show exactly what will be sent (the footer with the public link is added)."""
        if not text or not text.strip():
            return ""
        context = current()
        return line_text.announcement_text(
            text, public_url=context.settings.public_base_url, city=context.store.city()
        )

    @app.callback(
        Output(LINE_ANNOUNCE_RESULT, "children"),
        Output(LINE_NONCE, "data"),
        Output(LINE_ANNOUNCE_TEXT, "value"),
        Output(LINE_FORCE, "data", allow_duplicate=True),
        Input(LINE_ANNOUNCE_CONFIRM, "submit_n_clicks"),
        State(LINE_ANNOUNCE_TEXT, "value"),
        State(LINE_NONCE, "data"),
        State(LINE_FORCE, "data"),
        State("_pages_location", "search"),
        prevent_initial_call=True,
    )
    @requires(Role.HQ)
    def send_announcement(
        _submit: int | None,
        text: str | None,
        nonce: str | None,
        force: int | None,
        search: str | None,
    ) -> tuple[Any, ...]:
        """Queue the announcement once per form (the nonce), then clear the form."""
        lang = lang_from_search(search)
        user = signed_in_user()
        assert user is not None
        context = current()
        try:
            outbox.announce(
                context.store,
                context.settings,
                user,
                text or "",
                nonce=str(nonce or ""),
                now=context.now(),
            )
        except DisasterDxError as exc:
            problems = getattr(exc, "problems", ())
            detail = "；".join(p.message for p in problems) or str(exc)
            return (
                _t(lang, f"送信できませんでした：{detail}", f"Not sent: {detail}"),
                no_update,
                no_update,
                no_update,
            )
        return (
            _t(
                lang, "送信待ちに入れました。まもなく送信されます。", "Queued; it goes out shortly."
            ),
            uuid.uuid4().hex,
            "",
            (force or 0) + 1,
        )


def register_page() -> None:
    """Register ``/hq/line`` with Dash pages."""
    dash.register_page("hq_line", path=PATH, name="LINE配信", title="LINE配信", layout=layout)
