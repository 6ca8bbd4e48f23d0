"""Users, roles and password checks (the web login and role checks build on these).

Passwords are stored only as salted hashes (werkzeug's scrypt). Every change to a user is
written to the audit log with the actor who made it; passwords never reach a log or message.

Sessions are checked on the server: each user has a *session generation*, copied into the
session when they log in and compared on every request. Logging out, a new password, new roles
or disabling the account raise it, which ends every session of that user at once, wherever the
cookie went. Idle and absolute lifetimes (:class:`SessionLimits`) end forgotten sessions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import insert, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from disaster_dx import login_throttle
from disaster_dx.errors import DisasterDxError, NotFoundError, Problem, ValidationError
from disaster_dx.login_throttle import DEFAULT_POLICY, ThrottlePolicy
from disaster_dx.store import Store, users_table

MIN_PASSWORD_LENGTH = 10
#: Login throttling: free failures per (account, client) and per client, then back-off.
MAX_FAILURES_PER_ACCOUNT = DEFAULT_POLICY.free_per_account_client
MAX_FAILURES_PER_ADDRESS = DEFAULT_POLICY.free_per_client
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")

# Checked against when the user is unknown, so a login takes as long either way. A fixed hash
# of a throwaway password with werkzeug's current scrypt parameters (a test keeps them equal to
# generate_password_hash's): hashing one at import cost every CLI command about 0.1 s.
_DUMMY_HASH = (
    "scrypt:32768:8:1$3bA3R4QKLgCQNvrg$913ddcc620b845e6d354bab8c852ea8418dd10834f17ee992cb0fb1"
    "20d33f870b5cb5cae961f4e9c7fa0975fed2cd9b38817783c81dfb496e9f7f71b13c44c92"
)


class Role(StrEnum):
    """Roles of DESIGN.md §5; anonymous public access needs none."""

    ADMIN = "admin"
    HQ = "hq"
    SHELTER_STAFF = "shelter_staff"
    PLANNER = "planner"
    DRILL = "drill"


@dataclass(frozen=True)
class User:
    """A staff account as the app sees it (never carries the password hash outward)."""

    username: str
    display_name: str
    roles: frozenset[Role]
    shelter_ids: frozenset[str]
    disabled: bool
    #: Sessions started under an older generation are over (see the module docstring).
    session_generation: int = 0

    def has(self, *roles: Role) -> bool:
        """Whether the user holds any of ``roles`` (admin holds them all)."""
        return not self.disabled and (
            Role.ADMIN in self.roles or any(r in self.roles for r in roles)
        )

    def may_update_shelter(self, shelter_id: str) -> bool:
        """HQ and admin update any shelter; shelter staff only their assigned ones."""
        if self.has(Role.HQ):
            return True
        return (
            not self.disabled
            and Role.SHELTER_STAFF in self.roles
            and shelter_id in self.shelter_ids
        )


def parse_roles(values: Iterable[str]) -> frozenset[Role]:
    """Roles from user input, with an error listing the valid ones."""
    roles: set[Role] = set()
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                roles.add(Role(part))
            except ValueError:
                valid = ", ".join(r.value for r in Role)
                raise DisasterDxError(f"unknown role {part!r}; valid roles: {valid}") from None
    return frozenset(roles)


def add_user(
    store: Store,
    username: str,
    password: str,
    roles: Iterable[Role],
    *,
    actor: str,
    display_name: str = "",
    shelter_ids: Sequence[str] = (),
) -> User:
    """Create a user; refuses weak passwords, unknown shelters and existing names."""
    roles = frozenset(roles)
    problems: list[Problem] = []
    if not _USERNAME.match(username):
        problems.append(Problem("username", "use 2-64 letters, digits or . _ @ - (no spaces)"))
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(Problem("password", f"must be at least {MIN_PASSWORD_LENGTH} characters"))
    if not roles:
        problems.append(Problem("roles", "give at least one role"))
    problems.extend(_unknown_shelters(store, shelter_ids))
    if problems:
        raise ValidationError(f"user {username!r}", problems)
    with store._write() as conn:
        exists = conn.execute(
            select(users_table.c.username).where(users_table.c.username == username)
        ).first()
        if exists:
            raise DisasterDxError(f"user {username!r} already exists")
        conn.execute(
            insert(users_table).values(
                username=username,
                display_name=display_name,
                password_hash=generate_password_hash(password),
                roles=sorted(r.value for r in roles),
                shelter_ids=sorted(shelter_ids),
                disabled=False,
                created_at=store.clock(),
                created_by=actor,
            )
        )
    store.audit(
        actor,
        "user.added",
        target=username,
        detail={"roles": sorted(r.value for r in roles), "shelter_ids": sorted(shelter_ids)},
    )
    return get_user(store, username)


def get_user(store: Store, username: str) -> User:
    """One user, or :class:`NotFoundError`."""
    with store._read() as conn:
        row = conn.execute(
            select(users_table).where(users_table.c.username == username)
        ).one_or_none()
    if row is None:
        raise NotFoundError(f"no user {username!r}")
    return _user(row._mapping)


def list_users(store: Store) -> list[User]:
    """All users, by name."""
    with store._read() as conn:
        rows = conn.execute(select(users_table).order_by(users_table.c.username))
        return [_user(r._mapping) for r in rows]


def display_names(store: Store) -> dict[str, str]:
    """Login id → the name people know the user by (the login id when none is set).

    Screens show people by these names; exports keep the login id beside them.
    """
    with store._read() as conn:
        rows = conn.execute(select(users_table.c.username, users_table.c.display_name))
        return {r.username: (r.display_name or r.username) for r in rows}


def set_disabled(store: Store, username: str, disabled: bool, *, actor: str) -> None:
    """Disable (or re-enable) an account; disabled users cannot log in or write.

    Either way every session of the user ends (a re-enabled user logs in afresh).
    """
    _update(store, username, {"disabled": disabled, **_NEXT_GENERATION})
    store.audit(actor, "user.disabled" if disabled else "user.enabled", target=username)


def set_roles(store: Store, username: str, roles: Iterable[Role], *, actor: str) -> None:
    """Replace a user's roles; their sessions end, so nobody keeps a page of a lost role open."""
    roles = frozenset(roles)
    if not roles:
        raise ValidationError(f"user {username!r}", [Problem("roles", "give at least one role")])
    _update(store, username, {"roles": sorted(r.value for r in roles), **_NEXT_GENERATION})
    store.audit(
        actor,
        "user.roles_changed",
        target=username,
        detail={"roles": sorted(r.value for r in roles)},
    )


def end_sessions(store: Store, username: str) -> None:
    """End every session of ``username`` now (callers audit why: logout, CLI, …)."""
    _update(store, username, dict(_NEXT_GENERATION))


def unlock(store: Store, username: str, *, actor: str, client: str | None = None) -> int:
    """Forget the failed logins counted against ``username`` (and ``client``'s, if given).

    For a staff member slowed down by their own typing, or by someone guessing from the same
    address; returns how many counters were cleared.
    """
    get_user(store, username)  # a typo in the name is an error, not a silent no-op
    cleared = login_throttle.clear_account(store, username, client=client)
    detail: dict[str, object] = {"cleared": cleared}
    if client is not None:
        detail["client"] = client
    store.audit(actor, "user.unlocked", target=username, detail=detail)
    return cleared


def assign_shelters(store: Store, username: str, shelter_ids: Sequence[str], *, actor: str) -> None:
    """Set the shelters a ``shelter_staff`` user may update (replaces the previous list)."""
    problems = _unknown_shelters(store, shelter_ids)
    if problems:
        raise ValidationError(f"user {username!r}", problems)
    _update(store, username, {"shelter_ids": sorted(set(shelter_ids))})
    store.audit(
        actor, "user.assigned", target=username, detail={"shelter_ids": sorted(shelter_ids)}
    )


def set_password(store: Store, username: str, password: str, *, actor: str) -> None:
    """Replace a password (length-checked); the audit entry records only that it changed."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            f"user {username!r}",
            [Problem("password", f"must be at least {MIN_PASSWORD_LENGTH} characters")],
        )
    _update(
        store, username, {"password_hash": generate_password_hash(password), **_NEXT_GENERATION}
    )
    store.audit(actor, "user.password_changed", target=username)


def authenticate(store: Store, username: str, password: str) -> User | None:
    """The user if the password matches and the account is enabled, else ``None``."""
    with store._read() as conn:
        row = conn.execute(
            select(users_table).where(users_table.c.username == username)
        ).one_or_none()
    if row is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(row.password_hash, password) or row.disabled:
        return None
    return _user(row._mapping)


#: Update values that end every session of a user (evaluated in the UPDATE, so two changes at
#: once both count).
_NEXT_GENERATION = {"session_generation": users_table.c.session_generation + 1}


def _update(store: Store, username: str, values: dict[str, object]) -> None:
    with store._write() as conn:
        done = conn.execute(
            update(users_table).where(users_table.c.username == username).values(**values)
        )
    if done.rowcount != 1:
        raise NotFoundError(f"no user {username!r}")


def _unknown_shelters(store: Store, shelter_ids: Sequence[str]) -> list[Problem]:
    if not shelter_ids:
        return []
    known = {s.shelter_id for s in store.shelters()}
    return [
        Problem("shelter_ids", f"unknown shelter {sid!r}")
        for sid in shelter_ids
        if sid not in known
    ]


def _user(row: object) -> User:
    mapping = dict(row)  # type: ignore[call-overload]
    return User(
        username=mapping["username"],
        display_name=mapping["display_name"],
        roles=frozenset(Role(r) for r in mapping["roles"]),
        shelter_ids=frozenset(mapping["shelter_ids"]),
        disabled=bool(mapping["disabled"]),
        session_generation=int(mapping.get("session_generation") or 0),
    )


def hq_writer(
    store: Store,
    by: User | str,
    *,
    action: str,
    target: str,
    refusal: Callable[[str], DisasterDxError],
) -> str:
    """Who writes an HQ-only act: a signed-in HQ user, or the CLI operator's name.

    A user without the ``hq`` role (admins have every role) is refused with ``refusal`` and
    the refusal is audit-logged as ``<action>_refused``; the CLI runs on the server as the
    operator, so a name is trusted but must not be empty.
    """
    if isinstance(by, str):
        if not by.strip():
            raise DisasterDxError("every write needs an actor (who made it)")
        return by
    if not by.has(Role.HQ):
        store.audit(by.username, f"{action}_refused", target=target[:200])
        raise refusal(by.username)
    return by.username


class LoginRefused(DisasterDxError):
    """A login attempt was refused; ``throttled`` tells "wait" from "wrong password"."""

    def __init__(self, message: str, *, throttled: login_throttle.Throttled | None = None) -> None:
        self.throttled = throttled
        super().__init__(message)


def login(
    store: Store,
    username: str,
    password: str,
    *,
    address: str,
    policy: ThrottlePolicy = DEFAULT_POLICY,
) -> User:
    """Check a login attempt, throttled per (account, client) and per client.

    The check is reserved first (:func:`disaster_dx.login_throttle.reserve_check`), so
    concurrent attempts get exactly as many password checks as the limits allow. Failures and
    throttled attempts are audit-logged (never the password).

    Raises
    ------
    LoginRefused
        Wrong name or password (one message for both, so names cannot be probed), a disabled
        account, or an attempt that must wait (``throttled`` says how long).
    """
    by_address = f"ip:{address}"
    waiting = login_throttle.reserve_check(store, username, address, policy=policy)
    if waiting is not None:
        store.audit(
            by_address,
            "login.throttled",
            target=username[:200],
            detail={
                "scope": waiting.scope,
                "retry_after_s": int(waiting.retry_after.total_seconds()),
            },
        )
        raise LoginRefused(
            f"too many failed attempts; try again in {waiting.minutes} minutes", throttled=waiting
        )
    user = authenticate(store, username, password)
    if user is None:
        store.audit(by_address, "login.failed", target=username[:200])
        raise LoginRefused("wrong user name or password")
    login_throttle.record_success(store, username, address)
    store.audit(user.username, "login.ok", detail={"address": address})
    return user


@dataclass(frozen=True)
class SessionLimits:
    """How long a session lives: ``idle`` since its last request, ``absolute`` since login."""

    idle: timedelta
    absolute: timedelta


def session_end_reason(
    user: User,
    *,
    generation: object,
    started_at: datetime | None,
    seen_at: datetime | None,
    now: datetime,
    limits: SessionLimits,
) -> str | None:
    """Why a session of ``user`` is over (``"ended"`` or ``"expired"``), ``None`` if it is not.

    ``"ended"``: the account was disabled, or the session's generation is not the user's
    (logout, new password, new roles; sessions from before generations existed too).
    ``"expired"``: idle or absolute lifetime passed, or the session lacks its times.
    """
    if user.disabled or generation != user.session_generation:
        return "ended"
    if started_at is None or seen_at is None:
        return "expired"
    if now - started_at >= limits.absolute or now - seen_at >= limits.idle:
        return "expired"
    return None
