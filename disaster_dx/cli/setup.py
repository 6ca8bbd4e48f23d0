"""``disaster-dx init`` and ``db upgrade|current|history``: the database and the city in it.

Exit codes are the CLI's: 0 done; 1 refused (``current --check`` on a database that needs an
upgrade, or a schema this version cannot upgrade); 3 the database could not be reached.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from disaster_dx.cli._common import EXIT_DATABASE, EXIT_REFUSED, open_store, redact, say
from disaster_dx.errors import DisasterDxError

if TYPE_CHECKING:
    from disaster_dx.config import Settings


def add_commands(commands: Any) -> None:
    """Add ``init`` and ``db`` to the ``disaster-dx`` parser."""
    init = commands.add_parser("init", help="create or upgrade the database, load bundled data")
    init.add_argument("--admin-user", help="create this admin user if missing (or DX_ADMIN_USER)")
    init.add_argument(
        "--admin-password-file", help="file holding the admin password (or DX_ADMIN_PASSWORD)"
    )
    init.add_argument(
        "--city",
        metavar="CODE",
        help="全国地方公共団体コード (or CITY_CODE); 392049 (南国市) loads the bundled data",
    )
    init.add_argument(
        "--city-name-en", help="the city's own English name (default: its romanised reading)"
    )
    init.set_defaults(handler=cmd_init)
    _add_db_commands(commands)


def cmd_init(args: argparse.Namespace, settings: Settings) -> int:
    """Create the schema, record the city (by code), load Nankoku's bundled data for 392049."""
    from disaster_dx import auth
    from disaster_dx.bundled import ensure_initialised
    from disaster_dx.city import MUNICIPALITY_LIST_SOURCE, NANKOKU_CODE, city_for_code

    store = open_store(args, settings)
    say(f"database: {redact(settings.database_url)}")
    say(store.create_schema().summary())  # created, upgraded (keeping every row) or current
    code = args.city or settings.city_code or store.recorded_city_code() or NANKOKU_CODE
    city = city_for_code(code, name_en=args.city_name_en or settings.city_name_en)
    report = ensure_initialised(store, actor="init", city=city)
    say(f"city: {city.full_name} ({city.code}, {city.name_en}; {MUNICIPALITY_LIST_SOURCE})")
    shelters = store.shelters()
    if report is not None:
        say(f"loaded the bundled Nankoku shelter master: {report.summary()}")
    elif shelters:
        say(f"already initialised: {len(shelters)} shelters in the master (unchanged)")
    else:
        say(
            f"no shelters yet: {city.name}'s own data is imported with\n"
            "  disaster-dx import-shelters FILE…   (自治体標準オープンデータセット 指定緊急避難場所"
            "一覧 CSV, or 国土地理院 指定避難所・指定緊急避難場所 GeoJSON/CSV)\n"
            "  disaster-dx import-boundary FILE    (国土数値情報 行政区域データ N03 GeoJSON of "
            f"{city.prefecture} or of {city.name})"
        )
    incident = store.live_incident(actor="init")
    say(f"live incident: {incident.incident_id} ({incident.title})")

    username = args.admin_user or os.environ.get("DX_ADMIN_USER", "")
    if username:
        password = _admin_password(args)
        existing = {u.username for u in auth.list_users(store)}
        if username in existing:
            say(f"admin user {username!r} already exists (left unchanged)")
        else:
            auth.add_user(store, username, password, {auth.Role.ADMIN}, actor="init")
            say(f"created admin user {username!r}")
    return 0


def _admin_password(args: argparse.Namespace) -> str:
    if args.admin_password_file:
        return Path(args.admin_password_file).read_text(encoding="utf-8").strip()
    password = os.environ.get("DX_ADMIN_PASSWORD", "")
    if not password:
        raise DisasterDxError(
            "a first admin needs a password: set DX_ADMIN_PASSWORD or pass "
            "--admin-password-file FILE (never on the command line, where others can see it)"
        )
    return password


def _add_db_commands(commands: Any) -> None:
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
    from sqlalchemy.engine import make_url

    from disaster_dx import migrations

    if args.db_command != "upgrade" and _missing_sqlite_file(settings.database_url):
        say(f"error: no database file at {make_url(settings.database_url).database}")
        return EXIT_DATABASE
    store = open_store(args, settings)
    if args.db_command == "upgrade":
        change = store.create_schema()
        say(change.summary())
        if args.rebuild_derived and change.action not in ("upgraded", "adopted"):
            migrations.rebuild_derived(store)
            say("rebuilt derived data (state snapshots) from the event log")
        return 0
    if args.db_command == "current":
        status = migrations.database_status(store)
        print(status.summary())
        if args.check and not status.is_current:
            say(f"the database needs `disaster-dx db upgrade` (to {status.head})")
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
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return False
    return not Path(parsed.database).expanduser().exists()
