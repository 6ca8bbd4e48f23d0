"""The ``disaster-dx`` command: set up, import, export, serve and manage users.

Exit codes: 0 done; 1 the input or request was refused (the message says what to fix);
2 wrong usage; 3 the database could not be reached. Messages go to stderr, data to stdout.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlparse

from sqlalchemy.exc import OperationalError

from disaster_dx import auth
from disaster_dx.bundled import BUNDLED_SHELTER_FILES, ensure_initialised
from disaster_dx.config import Settings, settings_from_env
from disaster_dx.errors import DisasterDxError
from disaster_dx.io.export import FORMATS, export_shelters
from disaster_dx.io.gsi import shelters_from_files
from disaster_dx.store import Store

log = logging.getLogger("disaster_dx.cli")

MAX_DOWNLOAD_BYTES = 100 * 1024 * 1024
EXIT_REFUSED, EXIT_USAGE, EXIT_DATABASE = 1, 2, 3


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
    try:
        settings = settings_from_env()
        if args.database_url:
            settings = settings.with_overrides(database_url=args.database_url)
        return int(args.handler(args, settings))
    except OperationalError as exc:
        _say(f"error: cannot use the database ({_redact(settings_url(args))}): {exc.orig}")
        return EXIT_DATABASE
    except DisasterDxError as exc:
        _say(f"error: {exc}")
        return EXIT_REFUSED
    except KeyboardInterrupt:
        _say("interrupted; nothing half-done was kept")
        return EXIT_REFUSED
    finally:
        for store in args.opened_stores:
            store.dispose()


def settings_url(args: argparse.Namespace) -> str:
    """The database URL in use, for error messages."""
    return str(args.database_url or os.environ.get("DATABASE_URL") or "(default SQLite file)")


def _redact(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(parsed.password, "***")
    return url


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _open_store(args: argparse.Namespace, settings: Settings) -> Store:
    """Open the store; :func:`main` closes it when the command ends, however it ends."""
    store = Store(settings.database_url)
    args.opened_stores.append(store)
    return store


# -- commands ---------------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace, settings: Settings) -> int:
    """Create the schema, load the bundled Nankoku shelters, optionally a first admin."""
    store = _open_store(args, settings)
    _say(f"database: {_redact(settings.database_url)}")
    report = ensure_initialised(store, actor="init")
    if report is None:
        _say(f"already initialised: {len(store.shelters())} shelters in the master (unchanged)")
    else:
        _say(f"loaded the bundled Nankoku shelter master: {report.summary()}")
    incident = store.live_incident(actor="init")
    _say(f"live incident: {incident.incident_id} ({incident.title})")

    username = args.admin_user or os.environ.get("DX_ADMIN_USER", "")
    if username:
        password = _admin_password(args)
        existing = {u.username for u in auth.list_users(store)}
        if username in existing:
            _say(f"admin user {username!r} already exists (left unchanged)")
        else:
            auth.add_user(store, username, password, {auth.Role.ADMIN}, actor="init")
            _say(f"created admin user {username!r}")
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


def cmd_import_shelters(args: argparse.Namespace, settings: Settings) -> int:
    """Import GSI files (paths or URLs) as the new shelter master, all or nothing."""
    paths: list[Path] = []
    download_dir = settings.data_dir / "downloads"
    for source in args.sources:
        if source.startswith(("http://", "https://")):
            paths.append(_download(source, download_dir))
        else:
            path = Path(source)
            if not path.is_file():
                raise DisasterDxError(f"no such file: {source}")
            paths.append(path)
    for path in paths:
        _say(f"reading {path.name} …")
    result = shelters_from_files(paths)
    for warning in result.warnings:
        _say(f"warning: {warning}")
    _say(f"{len(result.shelters)} sites in the new master")
    if args.dry_run:
        _say("dry run: nothing written")
        return 0
    store = _open_store(args, settings)
    store.create_schema()
    report = store.replace_shelters(
        result.shelters,
        source=", ".join(args.sources),
        actor=args.actor,
        sha256=result.sha256,
        notes=result.warnings,
    )
    _say(f"imported: {report.summary()}")
    for label, ids in (("added", report.added), ("changed", report.changed),
                       ("removed", report.removed)):
        if ids and args.verbose:
            _say(f"  {label}: {', '.join(ids)}")
    return 0


def _download(url: str, folder: Path) -> Path:
    import requests  # only imports from URLs need it

    name = Path(urlparse(url).path).name or "download"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    _say(f"downloading {url} …")
    try:
        with requests.get(url, stream=True, timeout=(10, 120)) as response:
            response.raise_for_status()
            received = 0
            chunks = []
            for chunk in response.iter_content(chunk_size=1 << 16):
                received += len(chunk)
                if received > MAX_DOWNLOAD_BYTES:
                    raise DisasterDxError(
                        f"{url} is larger than {MAX_DOWNLOAD_BYTES // (1 << 20)} MB; "
                        "download it yourself and import the file"
                    )
                chunks.append(chunk)
    except requests.RequestException as exc:
        raise DisasterDxError(f"could not download {url}: {exc}") from None
    target.write_bytes(b"".join(chunks))
    _say(f"  {received:,} bytes")
    return target


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    """Export the master with live public status (GeoJSON, GeoPackage, CSV for Excel)."""
    store = _open_store(args, settings)
    ensure_initialised(store, actor="export")
    incident = store.live_incident(actor="export")
    state = store.state(incident.incident_id)
    shelters = store.shelters()
    output = Path(args.output or f"shelters{FORMATS[args.format]}")
    count = export_shelters(
        shelters, state, output, fmt=args.format, thresholds=settings.crowding
    )
    _say(f"wrote {count} shelters to {output}")
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Run the web app (development server; use gunicorn app:server in production)."""
    logging.getLogger("werkzeug").setLevel(logging.INFO)
    from disaster_dx.web.factory import create_app  # the CLI's other commands need no Dash

    host = args.host or settings.host
    port = args.port or settings.port
    app = create_app(settings)
    _say(f"serving on http://{host}:{port}/ (Ctrl+C to stop)")
    app.run(host=host, port=port, debug=False)
    return 0


def cmd_user(args: argparse.Namespace, settings: Settings) -> int:
    """Manage staff accounts."""
    store = _open_store(args, settings)
    store.create_schema()
    if args.user_command == "add":
        password = _password_from(args)
        user = auth.add_user(
            store,
            args.username,
            password,
            auth.parse_roles(args.roles),
            actor=args.actor,
            display_name=args.display_name or "",
            shelter_ids=args.shelter or [],
        )
        _say(f"added {user.username} ({', '.join(sorted(user.roles))})")
    elif args.user_command == "list":
        for user in auth.list_users(store):
            state = "disabled" if user.disabled else "active"
            shelters = ",".join(sorted(user.shelter_ids)) or "-"
            print(f"{user.username}\t{','.join(sorted(user.roles))}\t{state}\t{shelters}")
    elif args.user_command in ("disable", "enable"):
        auth.set_disabled(store, args.username, args.user_command == "disable", actor=args.actor)
        _say(f"{args.username}: {args.user_command}d")
    elif args.user_command == "assign":
        auth.assign_shelters(store, args.username, args.shelter, actor=args.actor)
        _say(f"{args.username}: may update {', '.join(args.shelter)}")
    elif args.user_command == "passwd":
        auth.set_password(store, args.username, _password_from(args), actor=args.actor)
        _say(f"{args.username}: password changed")
    return 0


def _password_from(args: argparse.Namespace) -> str:
    if args.password_file:
        return Path(args.password_file).read_text(encoding="utf-8").strip()
    password = os.environ.get("DX_USER_PASSWORD", "")
    if password:
        return password
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass("password: ")
    raise DisasterDxError("give the password with --password-file FILE or DX_USER_PASSWORD")


# -- parser -------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="disaster-dx",
        description="Disaster-response GIS for Japanese municipalities (disaster_dx).",
    )
    parser.add_argument("--database-url", help="override DATABASE_URL for this command")
    parser.add_argument("-v", "--verbose", action="store_true", help="more detail")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init = commands.add_parser("init", help="create the database and load the bundled data")
    init.add_argument("--admin-user", help="create this admin user if missing (or DX_ADMIN_USER)")
    init.add_argument(
        "--admin-password-file", help="file holding the admin password (or DX_ADMIN_PASSWORD)"
    )
    init.set_defaults(handler=cmd_init)

    imp = commands.add_parser(
        "import-shelters", help="import GSI shelter files (GeoJSON/CSV) or URLs as the master"
    )
    imp.add_argument(
        "sources",
        nargs="+",
        metavar="PATH|URL",
        help=f"files or URLs, e.g. {' '.join(p.name for p in BUNDLED_SHELTER_FILES)}",
    )
    imp.add_argument("--dry-run", action="store_true", help="check the files, write nothing")
    imp.add_argument("--actor", default="import", help="name recorded as the importer")
    imp.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
        help="list the ids added, changed and removed",
    )
    imp.set_defaults(handler=cmd_import_shelters)

    exp = commands.add_parser("export", help="export shelters with live public status")
    exp.add_argument("--format", choices=sorted(FORMATS), default="geojson")
    exp.add_argument("-o", "--output", help="output file (default shelters.<ext>)")
    exp.set_defaults(handler=cmd_export)

    serve = commands.add_parser("serve", help="run the web app")
    serve.add_argument("--host", help="listen address (default HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default PORT or 8050)")
    serve.set_defaults(handler=cmd_serve)

    user = commands.add_parser("user", help="manage staff accounts")
    user.set_defaults(handler=cmd_user)
    user_commands = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = user_commands.add_parser("add", help="add a user")
    add.add_argument("username")
    add.add_argument("--roles", action="append", required=True,
                     help="admin, hq, shelter_staff, planner, drill (comma-separated)")
    add.add_argument("--shelter", action="append", help="shelter id (shelter_staff), repeatable")
    add.add_argument("--display-name")
    add.add_argument("--password-file", help="file holding the password (or DX_USER_PASSWORD)")
    user_commands.add_parser("list", help="list users")
    for action in ("disable", "enable"):
        sub = user_commands.add_parser(action, help=f"{action} a user")
        sub.add_argument("username")
    assign = user_commands.add_parser("assign", help="set the shelters a user may update")
    assign.add_argument("username")
    assign.add_argument("--shelter", action="append", required=True)
    passwd = user_commands.add_parser("passwd", help="change a password")
    passwd.add_argument("username")
    passwd.add_argument("--password-file")
    for sub in user_commands.choices.values():
        sub.add_argument("--actor", default=os.environ.get("USER", "cli"),
                         help="who is making the change (audit log)")
    return parser


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
