"""Per-app objects kept on the Flask app under one key, never in module globals.

Each gunicorn worker builds its own app with :func:`disaster_dx.web.factory.create_app`; pages
and routes reach its objects through :func:`current` (in a request) or :func:`context_of` /
:func:`runtime_of` (setting up, tests). The domain objects (store, publisher, LINE notifier,
planner, loops) are the worker's :class:`~disaster_dx.runtime.Runtime`; this adds the few
things only the web side keeps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from flask import Flask, current_app

from disaster_dx.config import Settings
from disaster_dx.hq import OutsideHistory
from disaster_dx.runtime import Runtime
from disaster_dx.store import Store

if TYPE_CHECKING:
    from disaster_dx.web.public_routes import SnapshotFiles

#: The one key of ``server.extensions`` this app uses for its own objects.
EXTENSION_KEY = "disaster_dx"


@dataclass(frozen=True)
class AppContext:
    """What every page and route of one app instance shares."""

    runtime: Runtime
    #: The published public files as served (cached per file, refreshed by ETag).
    public_files: SnapshotFiles
    #: The HQ chart's 在宅避難・車中泊 points, advanced from the last area report read.
    outside_history: OutsideHistory = field(default_factory=OutsideHistory)

    @property
    def settings(self) -> Settings:
        """The app's settings."""
        return self.runtime.settings

    @property
    def store(self) -> Store:
        """The app's store (after-save actions registered by the runtime)."""
        return self.runtime.store

    def now(self) -> datetime:
        """The store's clock (tests and drills may replace it)."""
        return self.store.clock() if self.store.clock else datetime.now(UTC)


def context_of(server: Flask) -> AppContext:
    """The context of ``server`` (setting up an app, tests)."""
    context: AppContext = server.extensions[EXTENSION_KEY]
    return context


def runtime_of(server: Flask) -> Runtime:
    """The runtime of ``server``: its after-save actions and background loops."""
    return context_of(server).runtime


def current() -> AppContext:
    """The context of the app serving this request."""
    context: AppContext = current_app.extensions[EXTENSION_KEY]
    return context
