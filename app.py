"""Run disaster_dx: ``python app.py`` (development server) or ``gunicorn app:server``.

On first start it creates the database (SQLite under ``DATA_DIR`` unless ``DATABASE_URL`` says
otherwise) and loads the bundled Nankoku shelter master.
"""

from __future__ import annotations

import logging
import sys

from disaster_dx.config import settings_from_env
from disaster_dx.errors import ConfigError
from disaster_dx.web.factory import create_app

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

try:
    settings = settings_from_env()
    app = create_app(settings)
except ConfigError as problem:
    # One line that says what to fix, not a traceback (gunicorn then stops: worker failed).
    print(f"disaster_dx: cannot start: {problem}", file=sys.stderr, flush=True)
    raise SystemExit(1) from None
server = app.server

if __name__ == "__main__":
    print(f"disaster_dx: http://{settings.host}:{settings.port}/", flush=True)
    app.run(host=settings.host, port=settings.port, debug=False)
