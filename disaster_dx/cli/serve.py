"""``disaster-dx serve``: the web app on the development server (gunicorn in production)."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING, Any

from disaster_dx.cli._common import say

if TYPE_CHECKING:
    from disaster_dx.config import Settings


def add_commands(commands: Any) -> None:
    """Add ``serve`` to the ``disaster-dx`` parser."""
    serve = commands.add_parser("serve", help="run the web app")
    serve.add_argument("--host", help="listen address (default HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default PORT or 8050)")
    serve.set_defaults(handler=cmd_serve)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Run the web app (development server; use gunicorn app:server in production)."""
    logging.getLogger("werkzeug").setLevel(logging.INFO)
    from disaster_dx.web.factory import create_app, shutdown  # other commands need no Dash

    host = args.host or settings.host
    port = args.port or settings.port
    app = create_app(settings)  # the app's runtime: every after-save action and loop
    say(f"serving on http://{host}:{port}/ (Ctrl+C to stop)")
    try:
        app.run(host=host, port=port, debug=False)
    finally:
        shutdown(app)  # its loops stop in reverse order of starting
    return 0
