"""``disaster-dx user …``: staff accounts, their roles, sessions and failed logins.

Every change
is audit-logged under ``--actor``; passwords come from a file or ``DX_USER_PASSWORD``, never
from the command line (where ``ps`` would show them).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from disaster_dx.cli._common import open_store, say
from disaster_dx.errors import DisasterDxError

if TYPE_CHECKING:
    from disaster_dx.config import Settings


def cmd_user(args: argparse.Namespace, settings: Settings) -> int:
    """Manage staff accounts."""
    from disaster_dx import auth, login_throttle

    store = open_store(args, settings)
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
        say(f"added {user.username} ({', '.join(sorted(user.roles))})")
    elif args.user_command == "list":
        for user in auth.list_users(store):
            state = "disabled" if user.disabled else "active"
            shelters = ",".join(sorted(user.shelter_ids)) or "-"
            print(f"{user.username}\t{','.join(sorted(user.roles))}\t{state}\t{shelters}")
    elif args.user_command in ("disable", "enable"):
        auth.set_disabled(store, args.username, args.user_command == "disable", actor=args.actor)
        say(f"{args.username}: {args.user_command}d")
    elif args.user_command == "assign":
        auth.assign_shelters(store, args.username, args.shelter, actor=args.actor)
        say(f"{args.username}: may update {', '.join(args.shelter)}")
    elif args.user_command == "passwd":
        auth.set_password(store, args.username, _password_from(args), actor=args.actor)
        say(f"{args.username}: password changed; every session of the user ended")
    elif args.user_command == "roles":
        roles = auth.parse_roles(args.roles)
        auth.set_roles(store, args.username, roles, actor=args.actor)
        say(f"{args.username}: roles {', '.join(sorted(roles))}; every session ended")
    elif args.user_command == "logout":
        auth.end_sessions(store, args.username)
        store.audit(args.actor, "user.sessions_ended", target=args.username)
        say(f"{args.username}: every session ended")
    elif args.user_command == "unlock":
        clients = sorted(login_throttle.failures_for(store, args.username))
        cleared = auth.unlock(store, args.username, actor=args.actor, client=args.client)
        where = f": {', '.join(clients)}" if clients else ""
        say(f"{args.username}: unlocked ({cleared} failure counter(s) cleared{where})")
        if not cleared:
            say(
                "no failures were counted against this name; if the user is still refused, "
                "their device's address is blocked for every account: run again with "
                "--client ADDRESS (the login page shows the address)"
            )
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


def add_commands(commands: Any) -> None:
    """Add ``user`` and its actions to the ``disaster-dx`` sub-command parser ``commands``."""
    user = commands.add_parser("user", help="manage staff accounts")
    user.set_defaults(handler=cmd_user)
    user_commands = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = user_commands.add_parser("add", help="add a user")
    add.add_argument("username")
    add.add_argument(
        "--roles",
        action="append",
        required=True,
        help="admin, hq, shelter_staff, planner, drill (comma-separated)",
    )
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
    passwd = user_commands.add_parser("passwd", help="change a password (ends its sessions)")
    passwd.add_argument("username")
    passwd.add_argument("--password-file")
    roles = user_commands.add_parser("roles", help="replace a user's roles (ends its sessions)")
    roles.add_argument("username")
    roles.add_argument(
        "--roles",
        action="append",
        required=True,
        help="admin, hq, shelter_staff, planner, drill (comma-separated)",
    )
    logout = user_commands.add_parser("logout", help="end every session of a user now")
    logout.add_argument("username")
    unlock = user_commands.add_parser(
        "unlock", help="forget a user's failed logins so they may log in at once"
    )
    unlock.add_argument("username")
    unlock.add_argument(
        "--client", help="also clear this client address's own counter (all accounts)"
    )
    for sub in user_commands.choices.values():
        sub.add_argument(
            "--actor",
            default=os.environ.get("USER", "cli"),
            help="who is making the change (audit log)",
        )
