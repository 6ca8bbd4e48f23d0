"""What every ``disaster-dx`` command shares: exit codes, messages, the store, republishing.

One copy each, so a feature module says what it does and nothing about how the CLI works.
Building the parser imports this module and the feature modules only: they import what a
command needs (the store, SQLAlchemy, geopandas, …) inside that command, so ``--help`` and the
light commands start in a fraction of a second (``tests/test_cli_startup.py``).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from disaster_dx.errors import DisasterDxError

if TYPE_CHECKING:
    from disaster_dx.config import Settings
    from disaster_dx.model import Hazard
    from disaster_dx.store import Store

EXIT_REFUSED, EXIT_USAGE, EXIT_DATABASE = 1, 2, 3


def say(message: str) -> None:
    """A message for the operator: stderr, so stdout stays the command's data."""
    print(message, file=sys.stderr, flush=True)


def out(message: str) -> None:
    """A line of the command's data on stdout."""
    print(message, flush=True)


def settings_url(args: argparse.Namespace) -> str:
    """The database URL in use, for error messages."""
    return str(args.database_url or os.environ.get("DATABASE_URL") or "(default SQLite file)")


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(parsed.password, "***")
    return url


def open_store(args: argparse.Namespace, settings: Settings) -> Store:
    """Open the store; ``main`` closes it when the command ends, however it ends."""
    from disaster_dx.store import Store

    store = Store(settings.database_url)
    args.opened_stores.append(store)
    return store


def actor_name(args: argparse.Namespace) -> str:
    """Who does this: ``--actor``, else the login name (recorded in the log)."""
    named = getattr(args, "actor", None)
    return str(named or os.environ.get("USER") or getpass.getuser() or "operator")


def hazard_from_text(text: str) -> Hazard:
    """A ``--hazard`` value as a :class:`Hazard`; an unknown one lists the choices."""
    from disaster_dx.model import Hazard

    try:
        return Hazard.parse(text)
    except ValueError:
        choices = ", ".join(f"{h.value} ({h.ja})" for h in Hazard)
        raise DisasterDxError(f"unknown hazard {text!r}; one of: {choices}") from None


def republish(store: Store, settings: Settings) -> None:
    """Publish the public snapshot after a master change; a failure is reported, not fatal."""
    from disaster_dx.publish import publish
    from layers.public_map import shelter_map_html

    try:
        result = publish(store, settings, render_map=shelter_map_html)
    except OSError as exc:
        say(
            f"warning: could not publish to {settings.public_dir} ({exc}); "
            "run `disaster-dx publish` once it is writable"
        )
        return
    say(f"published {result.summary()}")


def refresh_live_plans(store: Store, settings: Settings) -> None:
    """Re-plan against the live state after new plan data, so HQ's flagged list is current."""
    from disaster_dx.plans import Planner

    for report in Planner(store, thresholds=settings.crowding).refresh_live():
        say(
            f"live plans ({report.hazard.value}): {report.flagged} of {report.residents} "
            "cannot reach safety in time"
        )
