"""``disaster-dx db upgrade|current|history``: the schema's revision, for operators.

Kept apart from :mod:`disaster_dx.cli` (which is long enough); ``cli`` adds these commands to
its parser. Exit codes are the CLI's: 0 done; 1 refused (``current --check`` on a database that
needs an upgrade, or a schema this version cannot upgrade); 3 the database could not be reached.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sqlalchemy.engine import make_url

from disaster_dx import migrations
from disaster_dx.config import Settings

EXIT_REFUSED, EXIT_DATABASE = 1, 3


def add_db_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``db`` and its actions to the ``disaster-dx`` parser."""
    db = commands.add_parser("db", help="database schema: upgrade, current revision, history")
    db.set_defaults(handler=cmd_db)
    actions = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = actions.add_parser(
        "upgrade", help="create the schema or upgrade it to the newest revision (keeps all data)"
    )
    upgrade.add_argument(
        "--rebuild-derived",
        action="store_true",
        help="rebuild data derived from the event log (snapshots) even if nothing was upgraded",
    )
    current = actions.add_parser("current", help="the database's schema revision")
    current.add_argument(
        "--check", action="store_true", help="exit 1 when the database needs `db upgrade`"
    )
    actions.add_parser("history", help="the revisions, newest first; * marks the database's")


def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    """Run one ``db`` action."""
    from disaster_dx.cli import _open_store, _say  # the one store opener and message writer

    if args.db_command != "upgrade" and _missing_sqlite_file(settings.database_url):
        _say(f"error: no database file at {make_url(settings.database_url).database}")
        return EXIT_DATABASE
    store = _open_store(args, settings)
    if args.db_command == "upgrade":
        change = store.create_schema()
        _say(change.summary())
        if args.rebuild_derived and change.action not in ("upgraded", "adopted"):
            migrations.rebuild_derived(store)
            _say("rebuilt derived data (state snapshots) from the event log")
        return 0
    if args.db_command == "current":
        status = migrations.database_status(store)
        print(status.summary())
        if args.check and not status.is_current:
            _say(f"the database needs `disaster-dx db upgrade` (to {status.head})")
            return EXIT_REFUSED
        return 0
    newest = migrations.head()
    for revision in migrations.history(store):
        marks = [
            m
            for m, on in (("head", revision.revision == newest), ("current", revision.current))
            if on
        ]
        label = f" ({', '.join(marks)})" if marks else ""
        print(f"{'*' if revision.applied else ' '} {revision.revision}{label}: {revision.doc}")
    return 0


def _missing_sqlite_file(url: str) -> bool:
    """A read-only command must not create an empty SQLite file at a mistyped path."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return False
    return not Path(parsed.database).expanduser().exists()
