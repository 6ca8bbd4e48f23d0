"""Per-app objects (settings, store) kept on the Flask app, never in module globals.

Each gunicorn worker builds its own app with :func:`disaster_dx.web.factory.create_app`; pages
and routes reach its store through :func:`current`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import current_app

from disaster_dx.config import Settings
from disaster_dx.hq import OutsideHistory
from disaster_dx.store import Store

EXTENSION_KEY = "disaster_dx"


@dataclass(frozen=True)
class AppContext:
    """What every page and route of one app instance shares."""

    settings: Settings
    store: Store
    #: The HQ chart's 在宅避難・車中泊 points, advanced from the last area report read.
    outside_history: OutsideHistory = field(default_factory=OutsideHistory)

    def now(self) -> datetime:
        """The store's clock (tests and drills may replace it)."""
        return self.store.clock() if self.store.clock else datetime.now(UTC)


def current() -> AppContext:
    """The context of the app serving this request."""
    context: AppContext = current_app.extensions[EXTENSION_KEY]
    return context
