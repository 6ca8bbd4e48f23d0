"""The ``disaster-dx`` command: set up, import, export, serve and manage users.

Exit codes: 0 done; 1 the input or request was refused (the message says what to fix);
2 wrong usage; 3 the database could not be reached. Messages go to stderr, data to stdout.

One module per feature, each adding its commands with ``add_commands(subparsers)``:
:mod:`.setup` (init, db), :mod:`.shelters`, :mod:`.incident`, :mod:`.history`, :mod:`.serve`,
:mod:`.plans`, :mod:`.cameras`, :mod:`.drills`, :mod:`.line`, :mod:`.users`, :mod:`.tokens`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeGuard

from disaster_dx.cli import (
    cameras,
    drills,
    history,
    incident,
    line,
    plans,
    plans_export,
    serve,
    setup,
    shelters,
    tokens,
    users,
)
from disaster_dx.cli._common import (
    EXIT_DATABASE,
    EXIT_REFUSED,
    EXIT_USAGE,
    redact,
    say,
    settings_url,
)
from disaster_dx.errors import DisasterDxError

if TYPE_CHECKING:
    from sqlalchemy.exc import OperationalError

__all__ = ["EXIT_DATABASE", "EXIT_REFUSED", "EXIT_USAGE", "main"]

log = logging.getLogger("disaster_dx.cli")

#: The feature modules, in the order their commands are listed by ``--help``.
FEATURES = (
    setup,
    shelters,
    incident,
    history,
    serve,
    plans,
    plans_export,
    cameras,
    drills,
    line,
    users,
    tokens,
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (also used by tests)."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    args.opened_stores = []
    args.opened_runtimes = []
    try:
        from disaster_dx.config import settings_from_env

        settings = settings_from_env()
        if args.database_url:
            settings = settings.with_overrides(database_url=args.database_url)
        return int(args.handler(args, settings))
    except DisasterDxError as exc:
        say(f"error: {exc}")
        return EXIT_REFUSED
    except KeyboardInterrupt:
        say("interrupted; nothing half-done was kept")
        return EXIT_REFUSED
    except Exception as exc:
        if not _database_unreachable(exc):
            raise
        say(f"error: cannot use the database ({redact(settings_url(args))}): {exc.orig}")
        return EXIT_DATABASE
    finally:
        for runtime in reversed(args.opened_runtimes):
            runtime.stop()
        for store in args.opened_stores:
            store.dispose()


def _database_unreachable(exc: Exception) -> TypeGuard[OperationalError]:
    """Whether ``exc`` is SQLAlchemy's OperationalError (the database could not be used).

    Only a command that opened a database can raise it, and that command imported SQLAlchemy:
    looking it up in ``sys.modules`` keeps SQLAlchemy out of ``--help`` and the other commands.
    """
    exc_module = sys.modules.get("sqlalchemy.exc")
    return exc_module is not None and isinstance(exc, exc_module.OperationalError)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="disaster-dx",
        description="Disaster-response GIS for Japanese municipalities (disaster_dx).",
    )
    parser.add_argument("--database-url", help="override DATABASE_URL for this command")
    parser.add_argument("-v", "--verbose", action="store_true", help="more detail")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for feature in FEATURES:
        feature.add_commands(commands)
    return parser
