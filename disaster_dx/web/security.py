"""Login, logout and the server-side role checks every staff page and callback goes through.

Three layers, so hiding a button is never the only check:

1. ``before_request``: anonymous requests to ``/hq…`` (and ``/plans``, ``/drill``) are sent to
   the login page; anonymous Dash callback requests that touch a staff component (ids starting
   ``hq-``, ``plans-``, ``drill-``) get 401.
2. Staff page layouts call :func:`page_user` and render a refusal instead of data.
3. Staff callbacks are wrapped with :func:`requires`, which checks the role again and aborts
   with 403 (audit-logged) — a hand-crafted callback request gets nothing.

Every request re-reads the user and checks the session against the server
(:func:`disaster_dx.auth.session_end_reason`): a cookie whose session was ended (logout, new
password or roles, disabled account) or that outlived its idle or absolute lifetime is cleared
and the request treated as anonymous, wherever that cookie was copied to.
"""

from __future__ import annotations

import functools
import hmac
import logging
import math
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, TypeVar
from urllib.parse import quote, urlparse

from flask import Flask, abort, jsonify, redirect, request, session
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user

from disaster_dx import auth
from disaster_dx.auth import Role, User
from disaster_dx.errors import NotFoundError
from disaster_dx.templating import render
from disaster_dx.web.context import current
from disaster_dx.web.i18n import lang_of
from disaster_dx.web.paths import canonical, normalised, under

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

#: Path prefixes only staff may open, and the component-id prefixes of their callbacks.
STAFF_PATHS = ("/hq", "/plans", "/drill")
STAFF_ID_PREFIXES = ("hq-", "plans-", "drill-")
#: Staff-only pages whose public counterpart an anonymous visitor is sent to instead of the
#: login page: a citizen following an old link to the Dash map lands on the light public map.
STAFF_PAGES_WITH_PUBLIC_TWIN = {"/overview": "/"}

#: Session keys: the user's session generation at login, login time, last request time
#: (POSIX seconds), and why the last session ended (shown once on the login page).
_GENERATION = "dx_generation"
_STARTED = "dx_started"
_SEEN = "dx_seen"
_NOTICE = "dx_notice"
#: The last-request time is rewritten at most this often (each rewrite re-sends the cookie).
_SEEN_EVERY = timedelta(minutes=1)


class WebUser(UserMixin):  # type: ignore[misc]
    """Flask-Login's view of a :class:`disaster_dx.auth.User`."""

    def __init__(self, user: User) -> None:
        self.user = user

    def get_id(self) -> str:
        """The session keeps only the user name; roles are re-read on every request."""
        return self.user.username


def init_security(server: Flask) -> None:
    """Install login handling and the request guard on ``server``."""
    manager = LoginManager()
    manager.init_app(server)
    manager.session_protection = "strong"

    @manager.user_loader
    def load_user(username: str) -> WebUser | None:
        try:
            user = auth.get_user(current().store, username)
        except NotFoundError:
            return None
        now = current().now()
        ended = auth.session_end_reason(
            user,
            generation=session.get(_GENERATION),
            started_at=_time(session.get(_STARTED)),
            seen_at=_time(session.get(_SEEN)),
            now=now,
            limits=session_limits(),
        )
        if ended is not None:
            session.clear()
            session[_NOTICE] = ended
            return None
        seen = _time(session.get(_SEEN))
        if seen is None or now - seen >= _SEEN_EVERY:
            session[_SEEN] = now.timestamp()
        return WebUser(user)

    server.before_request(_guard)
    server.add_url_rule("/login", "login", _login, methods=["GET", "POST"])
    server.add_url_rule("/logout", "logout", _logout, methods=["POST"])


def session_limits() -> auth.SessionLimits:
    """Idle and absolute session lifetimes of the app serving this request (settings)."""
    settings = current().settings
    return auth.SessionLimits(
        idle=timedelta(minutes=settings.session_idle_minutes),
        absolute=timedelta(hours=settings.session_max_hours),
    )


def _time(value: object) -> datetime | None:
    if isinstance(value, int | float) and math.isfinite(value):
        return datetime.fromtimestamp(value, UTC)
    return None


def _start_session(user: User) -> None:
    """A fresh session for ``user``: new cookie contents, their generation, its clock."""
    now = current().now().timestamp()
    session.clear()
    login_user(WebUser(user))
    session[_GENERATION] = user.session_generation
    session[_STARTED] = now
    session[_SEEN] = now
    _csrf_token()


def signed_in_user() -> User | None:
    """The signed-in staff user of this request, or ``None``."""
    if current_user and current_user.is_authenticated:
        user: User = current_user.user
        return user
    return None


def page_user(*roles: Role) -> User | None:
    """For page layouts: the user if they hold one of ``roles``, else ``None`` (render refusal)."""
    user = signed_in_user()
    if user is None or not user.has(*roles):
        return None
    return user


#: Where each role does its work, in order of precedence (admin holds every role: ``/hq``).
_HOMES: tuple[tuple[Role, str], ...] = (
    (Role.HQ, "/hq"),
    (Role.PLANNER, "/plans"),
    (Role.DRILL, "/drill"),
    (Role.SHELTER_STAFF, "/hq"),  # their own shelters, each with its state and last report
)
#: Path → roles that may open it; the most specific prefix first. Pages check again.
_PAGE_ROLES: tuple[tuple[str, tuple[Role, ...]], ...] = (
    ("/hq/cameras", (Role.HQ,)),
    ("/hq/line", (Role.HQ,)),
    ("/hq/log", (Role.HQ,)),
    ("/hq/export", (Role.HQ,)),
    ("/hq", (Role.HQ, Role.SHELTER_STAFF)),
    ("/plans", (Role.PLANNER,)),
    ("/drill/join", (Role.HQ, Role.SHELTER_STAFF, Role.DRILL)),
    ("/drill/replay", (Role.HQ, Role.DRILL)),
    ("/drill", (Role.DRILL,)),
)


def home_for(user: User) -> str:
    """The page a user lands on after login: where their role works."""
    for role, path in _HOMES:
        if user.has(role):
            return path
    return "/"


def may_open(user: User, path: str) -> bool:
    """Whether ``user`` may open the staff page at ``path`` (unknown paths: the page decides)."""
    bare = path.split("?", 1)[0]
    if bare.startswith("/hq/shelter/"):
        return user.may_update_shelter(bare.removeprefix("/hq/shelter/").strip("/"))
    for prefix, roles in _PAGE_ROLES:
        if bare == prefix or bare.startswith(prefix + "/"):
            return user.has(*roles)
    return True


def requires(*roles: Role) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Wrap a Dash callback so it runs only for users holding one of ``roles`` (else 403)."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def checked(*args: P.args, **kwargs: P.kwargs) -> R:
            user = signed_in_user()
            if user is None:
                abort(401)
            if not user.has(*roles):
                current().store.audit(
                    user.username,
                    "access.refused",
                    target=function.__name__,
                    detail={"needs": sorted(r.value for r in roles)},
                )
                abort(403)
            return function(*args, **kwargs)

        return checked

    return decorate


# -- request guard ------------------------------------------------------------------------------


def _guard() -> Any:
    if signed_in_user() is not None:
        return None
    path = request.path
    # The normal form: ``//hq``, ``/hq/../hq``, ``/%68q`` and ``/HQ`` are guarded as ``/hq``.
    if under(path, STAFF_PATHS):
        return redirect(f"/login?next={quote(canonical(path))}")
    twin = STAFF_PAGES_WITH_PUBLIC_TWIN.get(normalised(path))
    if twin is not None:
        lang = "?lang=en" if request.args.get("lang") == "en" else ""
        return redirect(twin + lang)
    if path.endswith("/_dash-update-component") and _touches_staff_component():
        return jsonify(error="login required"), 401
    return None


def _touches_staff_component() -> bool:
    body = request.get_json(silent=True) or {}
    ids: list[Any] = []
    outputs = body.get("outputs")
    for group in (
        outputs if isinstance(outputs, list) else [outputs],
        body.get("inputs"),
        body.get("state"),
    ):
        for item in group or []:
            if isinstance(item, list):
                ids.extend(i.get("id") for i in item if isinstance(i, dict))
            elif isinstance(item, dict):
                ids.append(item.get("id"))
    output_text = str(body.get("output", ""))
    ids.append(output_text)
    for component_id in ids:
        text = component_id if isinstance(component_id, str) else str(component_id)
        if any(prefix in text for prefix in STAFF_ID_PREFIXES):
            return True
    # The page router renders layouts: a staff path must not be rendered for anonymous users.
    for item in body.get("inputs") or []:
        if isinstance(item, dict) and item.get("property") == "pathname":
            value = str(item.get("value") or "")
            if under(value, STAFF_PATHS):
                return True
            if value in STAFF_PAGES_WITH_PUBLIC_TWIN:
                return True
    return False


# -- login page ---------------------------------------------------------------------------------

_LOGIN_TEXT = {
    "ja": {
        "title": "職員ログイン",
        "heading": "{hq} 職員ログイン",
        "username": "ユーザー名",
        "password": "パスワード",
        "submit": "ログイン",
        "wrong": "ユーザー名またはパスワードが違います。",
        "throttled": "ログインの失敗が続いたため、あと{minutes}分はログインできません。",
        "throttled_client": "この端末（アドレス {address}）からのログインの失敗が続いたため、"
        "あと{minutes}分はどのアカウントでもログインできません。管理者に連絡するときは、"
        "このアドレスを伝えてください。",
        "expired": "画面の有効期限が切れました。もう一度入力してください。",
        "session_ended": "ログインが終了しました（ログアウト、パスワードや権限の変更など）。"
        "もう一度ログインしてください。",
        "session_expired": "ログインの有効期限が切れました。もう一度ログインしてください。",
        "other": "English",
        "public": "市民向けの避難所マップはこちら",
    },
    "en": {
        "title": "Staff login",
        "heading": "{city} disaster HQ — staff login",
        "username": "User name",
        "password": "Password",
        "submit": "Log in",
        "wrong": "Wrong user name or password.",
        "throttled": "Too many failed attempts: please wait {minutes} minute(s) and try again.",
        "throttled_client": "Too many failed attempts from this device (address {address}): "
        "no account can log in from it for {minutes} minute(s). Give this address to the "
        "administrator when you call.",
        "expired": "The form expired. Please enter your details again.",
        "session_ended": "Your session was ended (logout, a new password or role change). "
        "Please log in again.",
        "session_expired": "Your session expired. Please log in again.",
        "other": "日本語",
        "public": "Public shelter map",
    },
}


def _safe_next(value: str | None) -> str:
    """Only same-site paths (an open redirect would help phishing); ``""`` for none."""
    if not value:
        return ""
    parsed = urlparse(value)
    if parsed.scheme or parsed.netloc or not value.startswith("/") or value.startswith("//"):
        return ""
    return value


def _csrf_token() -> str:
    token = session.get("csrf_token")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf_token"] = token
    return str(token)


def _login() -> Any:
    lang = lang_of(request.args.get("lang"))
    city = current().store.city()
    texts = {
        key: value.replace("{hq}", city.hq_title).replace("{city}", city.name_en)
        for key, value in _LOGIN_TEXT[lang].items()
    }
    next_path = _safe_next(request.values.get("next"))
    error = ""
    help_text = ""
    notice = ""
    ended = session.pop(_NOTICE, None)
    if ended in ("ended", "expired") and request.method == "GET":
        notice = texts[f"session_{ended}"]
    username = ""
    status = 200
    headers: dict[str, str] = {}
    if request.method == "POST":
        username = (request.form.get("username") or "").strip()[:64]
        sent = request.form.get("csrf_token") or ""
        address = request.remote_addr or "unknown"
        if not hmac.compare_digest(sent, session.get("csrf_token") or "-"):
            error, status = texts["expired"], 400
        else:
            try:
                user = auth.login(
                    current().store, username, request.form.get("password") or "", address=address
                )
            except auth.LoginRefused as refused:
                if refused.throttled is None:
                    error, status = texts["wrong"], 401
                else:
                    key = (
                        "throttled" if refused.throttled.scope == "account" else "throttled_client"
                    )
                    error = texts[key].format(minutes=refused.throttled.minutes, address=address)
                    settings = current().settings
                    help_text = settings.login_help_en if lang == "en" else settings.login_help_ja
                    status = 429
                    seconds = math.ceil(refused.throttled.retry_after.total_seconds())
                    headers["Retry-After"] = str(max(1, seconds))
            else:
                _start_session(user)
                log.info("login %s", user.username)
                # The page asked for if this user may open it, else where their role works.
                if next_path and may_open(user, next_path):
                    return redirect(next_path)
                return redirect(home_for(user))
    page = render(
        "login.html",
        lang=lang,
        other="en" if lang == "ja" else "ja",
        t=texts,
        error=error,
        help=help_text,
        notice=notice,
        username=username,
        next_path=next_path,
        csrf_token=_csrf_token(),
    )
    return page, status, headers


def _logout() -> Any:
    sent = request.form.get("csrf_token") or ""
    if not hmac.compare_digest(sent, session.get("csrf_token") or "-"):
        abort(400)
    user = signed_in_user()
    if user is not None:
        # Every session of this user ends, not just this browser's: a copied cookie (or a
        # session left open on another screen) is refused from now on.
        auth.end_sessions(current().store, user.username)
        current().store.audit(user.username, "logout")
    logout_user()
    session.clear()
    return redirect("/login")


def csrf_token() -> str:
    """The session's CSRF token, for forms that post to Flask routes (logout)."""
    return _csrf_token()
