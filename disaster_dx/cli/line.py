"""``disaster-dx line run|status|fake-server|send-sample-webhook``: LINE messages.

The sender holds a lease (one per deployment); the fake server is a local stand-in for the LINE
API on 127.0.0.1 for demos and tests.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from disaster_dx.cli._common import EXIT_REFUSED, open_store, say
from disaster_dx.errors import DisasterDxError

if TYPE_CHECKING:
    from disaster_dx.config import Settings


def cmd_line(args: argparse.Namespace, settings: Settings) -> int:
    """LINE: run the sender, serve the local fake API, post sample webhooks, show the outbox."""
    from disaster_dx.bundled import ensure_initialised

    if args.line_command == "fake-server":
        return _line_fake_server(args)
    if args.line_command == "send-sample-webhook":
        return _line_sample_webhook(args, settings)
    from disaster_dx.line import outbox
    from disaster_dx.line import store as line_store
    from disaster_dx.line.sender import Sender

    store = open_store(args, settings)
    ensure_initialised(store, actor="line")
    line_store.create_notify_tables(store)
    if args.line_command == "status":
        for message in outbox.outbox(store, limit=args.limit):
            print(
                f"{message.message_key}\t{message.kind}\t{message.status}\t"
                f"{message.due_at:%Y-%m-%dT%H:%MZ}"
            )
        for entry in outbox.delivery_log(store, limit=args.limit):
            print(
                f"{entry.at:%Y-%m-%dT%H:%M:%SZ}\t{entry.kind}\t{entry.outcome}\t"
                f"{entry.status_code or ''}\t{entry.message_key or entry.user_hash}"
            )
        return 0
    if not settings.line_channel_access_token:
        raise DisasterDxError(
            "set LINE_CHANNEL_ACCESS_TOKEN to send (see the README's LINE section); "
            "for a demo, run 'disaster-dx line fake-server' and point LINE_API_BASE at it"
        )
    import time

    sender = Sender(store, settings)
    say(f"LINE sender {sender.holder} → {urlparse(settings.line_api_base).netloc}")
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    try:
        while True:
            sent = sender.run_once()
            if sent:
                say(f"delivered {sent} request(s)")
            if args.once or (deadline is not None and time.monotonic() >= deadline):
                return 0
            time.sleep(args.interval)
    finally:
        sender.release_lease()


def _line_fake_server(args: argparse.Namespace) -> int:
    import json
    import threading
    import time

    from disaster_dx.line.fake import FakeLineServer, Received

    def show(received: Received) -> None:
        extra = f" to {received.recipients} user(s)" if received.recipients else ""
        print(f"--- {received.endpoint}{extra}", flush=True)
        for message in received.messages:
            shown = message.get("text") or json.dumps(message, ensure_ascii=False)
            print(shown, flush=True)

    fake = FakeLineServer(
        port=args.port,
        token=os.environ.get("LINE_CHANNEL_ACCESS_TOKEN") or None,
        record=Path(args.record) if args.record else None,
        on_accept=show,
    )
    fake.start()
    say(f"fake LINE API on {fake.base_url} (set LINE_API_BASE={fake.base_url}); Ctrl+C stops")
    try:
        if args.seconds is not None:
            time.sleep(args.seconds)
        else:
            threading.Event().wait()
    finally:
        fake.stop()
    return 0


def _line_sample_webhook(args: argparse.Namespace, settings: Settings) -> int:
    import json

    import requests

    from disaster_dx.line.bot import SAMPLES, sample_webhook_body, signature

    secret = settings.line_channel_secret
    if not secret:
        raise DisasterDxError("set LINE_CHANNEL_SECRET (the app must use the same one)")
    failed = 0
    for sample in args.sample or list(SAMPLES):
        kwargs = {}
        if args.lat is not None and args.lon is not None:
            kwargs = {"lat": args.lat, "lon": args.lon}
        body = json.dumps(sample_webhook_body(sample, **kwargs), ensure_ascii=False).encode()
        sign = "not-a-valid-signature" if args.bad_signature else signature(secret, body)
        try:
            response = requests.post(
                args.url,
                data=body,
                headers={"Content-Type": "application/json", "X-Line-Signature": sign},
                timeout=(5, 30),
            )
        except requests.RequestException as exc:
            raise DisasterDxError(f"could not reach {args.url}: {type(exc).__name__}") from None
        expected = 401 if args.bad_signature else 200
        failed += response.status_code != expected
        say(f"{sample}: HTTP {response.status_code}")
    return 0 if not failed else EXIT_REFUSED


def add_commands(commands: Any) -> None:
    """Add ``line`` and its actions to the ``disaster-dx`` parser."""
    line = commands.add_parser("line", help="LINE: sender, local fake API, sample webhooks")
    line.set_defaults(handler=cmd_line)
    actions = line.add_subparsers(dest="line_command", required=True, metavar="ACTION")
    run = actions.add_parser("run", help="send queued LINE messages (one sender holds a lease)")
    run.add_argument("--once", action="store_true", help="one round, then exit")
    run.add_argument("--seconds", type=float, help="stop after this many seconds")
    run.add_argument("--interval", type=float, default=2.0, help="seconds between rounds")
    status = actions.add_parser("status", help="list the outbox and the delivery log")
    status.add_argument("--limit", type=int, default=20)
    fake = actions.add_parser(
        "fake-server", help="a local stand-in for the LINE API on 127.0.0.1 (demo, tests)"
    )
    fake.add_argument("--port", type=int, default=8901, help="port on 127.0.0.1 (default 8901)")
    fake.add_argument("--record", help="append what would have been sent to this JSONL file")
    fake.add_argument("--seconds", type=float, help="stop after this many seconds")
    sample = actions.add_parser(
        "send-sample-webhook", help="post signed sample webhook events (LINE_CHANNEL_SECRET)"
    )
    sample.add_argument("--url", default="http://127.0.0.1:8050/line/webhook")
    sample.add_argument(
        "--sample",
        action="append",
        choices=["location", "shelter", "english", "help"],
        help="which event (repeatable; default all)",
    )
    sample.add_argument("--lat", type=float, help="latitude of the location sample")
    sample.add_argument("--lon", type=float, help="longitude of the location sample")
    sample.add_argument("--bad-signature", action="store_true", help="expect a 401 refusal")
