"""Personal API tokens: a script or a phone acts as one staff user, without their password.

``disaster-dx token create USER`` prints a token once; only its SHA-256 is stored, so a copy of
the database never yields a usable token. A token carries no roles of its own: every request
made with it is checked against its user's *current* roles and shelters (a disabled user's
tokens stop working at once), exactly like a signed-in session. Every creation and revocation
is audit-logged.

A plain SHA-256 (not a slow password hash) is right here: the token is 256 random bits, so
there is nothing to guess, and the lookup is one indexed read per request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Column, Index, MetaData, String, Table, insert, select, update

from disaster_dx import auth
from disaster_dx.errors import DisasterDxError, NotFoundError
from disaster_dx.store import Store, UTCDateTime

#: Every token starts with this, so a leaked one is recognisable (secret scanners, logs).
TOKEN_PREFIX = "dxt_"
#: ``last_used_at`` is refreshed at most this often (a write per request would be waste).
LAST_USED_EVERY = timedelta(minutes=5)

token_metadata = MetaData()

api_tokens_table = Table(
    "api_tokens",
    token_metadata,
    Column("token_id", String(32), primary_key=True),
    Column("username", String(64), nullable=False),
    Column("label", String(200), nullable=False, default=""),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("last_used_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
    Column("revoked_by", String(64)),
    Index("ix_api_tokens_username", "username"),
)


@dataclass(frozen=True)
class ApiToken:
    """What is known about a token (never the token itself)."""

    token_id: str
    username: str
    label: str
    created_at: datetime
    created_by: str
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        """Not revoked (the user's own state is checked on each use)."""
        return self.revoked_at is None


def create_token_tables(store: Store) -> None:
    """Create the token table if missing (idempotent; several workers may call it at once)."""
    store.create_tables(token_metadata)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_token(
    store: Store, username: str, *, label: str = "", actor: str
) -> tuple[ApiToken, str]:
    """Make a new token for ``username``; returns its record and the token (shown only now)."""
    auth.get_user(store, username)  # NotFoundError for an unknown user
    label = label.strip()
    if len(label) > 200:
        raise DisasterDxError("a token label must be at most 200 characters")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = "tok_" + secrets.token_hex(6)
    with store._write() as conn:
        conn.execute(
            insert(api_tokens_table).values(
                token_id=token_id,
                username=username,
                label=label,
                token_hash=_digest(secret),
                created_at=store.clock(),
                created_by=actor,
            )
        )
    store.audit(actor, "token.created", target=username, detail={"token_id": token_id})
    return token(store, token_id), secret


def token(store: Store, token_id: str) -> ApiToken:
    """One token's record, or :class:`NotFoundError`."""
    with store._read() as conn:
        row = conn.execute(
            select(api_tokens_table).where(api_tokens_table.c.token_id == token_id)
        ).one_or_none()
    if row is None:
        raise NotFoundError(f"no API token {token_id!r}")
    return _token(row._mapping)


def list_tokens(store: Store, *, username: str | None = None) -> list[ApiToken]:
    """Tokens (revoked ones too, for the record), by user and creation time."""
    query = select(api_tokens_table).order_by(
        api_tokens_table.c.username, api_tokens_table.c.created_at
    )
    if username is not None:
        query = query.where(api_tokens_table.c.username == username)
    with store._read() as conn:
        return [_token(r._mapping) for r in conn.execute(query)]


def revoke_token(store: Store, token_id: str, *, actor: str) -> None:
    """Stop a token from working, at once and for good (the record stays)."""
    with store._write() as conn:
        done = conn.execute(
            update(api_tokens_table)
            .where(api_tokens_table.c.token_id == token_id, api_tokens_table.c.revoked_at.is_(None))
            .values(revoked_at=store.clock(), revoked_by=actor)
        )
    if done.rowcount != 1:
        raise NotFoundError(f"no active API token {token_id!r}")
    store.audit(actor, "token.revoked", target=token_id)


def user_for_token(store: Store, secret: str) -> auth.User | None:
    """The user a presented token acts for, or ``None`` (unknown, revoked, or user disabled)."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    with store._read() as conn:
        row = conn.execute(
            select(api_tokens_table).where(api_tokens_table.c.token_hash == _digest(secret))
        ).one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    try:
        user = auth.get_user(store, row.username)
    except NotFoundError:
        return None
    if user.disabled:
        return None
    now = store.clock()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_EVERY:
        with store._write() as conn:
            conn.execute(
                update(api_tokens_table)
                .where(api_tokens_table.c.token_id == row.token_id)
                .values(last_used_at=now)
            )
    return user


def _token(row: object) -> ApiToken:
    mapping = dict(row)  # type: ignore[call-overload]
    return ApiToken(
        token_id=mapping["token_id"],
        username=mapping["username"],
        label=mapping["label"],
        created_at=mapping["created_at"],
        created_by=mapping["created_by"],
        last_used_at=mapping["last_used_at"],
        revoked_at=mapping["revoked_at"],
    )
