"""``disaster-dx token create|list|revoke``: personal API tokens for the REST API.

The token is printed once, on stdout, and never again: only its hash is stored.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from disaster_dx.cli._common import open_store

if TYPE_CHECKING:
    from disaster_dx.config import Settings


def cmd_token(args: argparse.Namespace, settings: Settings) -> int:
    """Create, list or revoke API tokens."""
    from disaster_dx import api_tokens, auth

    store = open_store(args, settings)
    store.create_schema()
    api_tokens.create_token_tables(store)
    if args.token_command == "create":
        user = auth.get_user(store, args.username)
        record, secret = api_tokens.create_token(
            store, user.username, label=args.label or "", actor=args.actor
        )
        print(secret, flush=True)
        print(
            f"token {record.token_id} for {user.username} "
            f"({', '.join(sorted(user.roles))}); it is shown only this once: store it now",
            file=sys.stderr,
        )
    elif args.token_command == "list":
        for item in api_tokens.list_tokens(store, username=args.username):
            state = "active" if item.active else f"revoked {item.revoked_at:%Y-%m-%d %H:%M}Z"
            used = f"{item.last_used_at:%Y-%m-%d %H:%M}Z" if item.last_used_at else "never used"
            print(
                f"{item.token_id}\t{item.username}\t{item.label or '-'}\t"
                f"{item.created_at:%Y-%m-%d %H:%M}Z\t{used}\t{state}"
            )
    elif args.token_command == "revoke":
        api_tokens.revoke_token(store, args.token_id, actor=args.actor)
        print(f"{args.token_id}: revoked", file=sys.stderr)
    return 0


def add_commands(commands: Any) -> None:
    """Add ``token`` and its actions to the ``disaster-dx`` sub-command parser ``commands``."""
    token = commands.add_parser("token", help="personal API tokens (REST API /api/v1)")
    token.set_defaults(handler=cmd_token)
    actions = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="make a token for a user (printed once)")
    create.add_argument("username", metavar="NAME", help="the staff user the token acts for")
    create.add_argument("--label", help="what the token is for, e.g. 'tablet at 稲生ふれあい館'")
    listing = actions.add_parser("list", help="list tokens (never the tokens themselves)")
    listing.add_argument("username", nargs="?", metavar="NAME", help="only this user's")
    revoke = actions.add_parser("revoke", help="stop a token from working")
    revoke.add_argument("token_id", metavar="TOKEN_ID", help="as shown by 'token list'")
    for sub in actions.choices.values():
        sub.add_argument(
            "--actor",
            default=os.environ.get("USER", "cli"),
            help="who is making the change (audit log)",
        )
