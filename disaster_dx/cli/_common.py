"""What every ``disaster-dx`` command shares: exit codes, messages, the store and its runtime.

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
    from disaster_dx.runtime import Runtime
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


def open_runtime(args: argparse.Namespace, settings: Settings, store: Store) -> Runtime:
    """The app's after-save actions on this command's store (:mod:`disaster_dx.runtime`).

    Every command that writes calls this once its schema exists, so a write here publishes,
    queues LINE and re-plans exactly as the same write in the app would. Commands start no
    loop (see the runtime's module docs); ``main`` stops the runtime when the command ends.
    """
    from disaster_dx.runtime import build_runtime

    runtime = build_runtime(store, settings, role="command")
    args.opened_runtimes.append(runtime)
    return runtime


def republish(runtime: Runtime) -> None:
    """Publish after a change that is not an append (shelter master, outline); never fatal."""
    settings = runtime.settings
    try:
        result = runtime.republish()
    except OSError as exc:
        say(
            f"warning: could not publish to {settings.public_dir} ({exc}); "
            "run `disaster-dx publish` once it is writable"
        )
        return
    say(f"published {result.summary()}")


def refresh_live_plans(runtime: Runtime) -> None:
    """Re-plan against the live state after new plan data, so HQ's flagged list is current."""
    for report in runtime.replan():
        say(
            f"live plans ({report.hazard.value}): {report.flagged} of {report.residents} "
            "cannot reach safety in time"
        )
