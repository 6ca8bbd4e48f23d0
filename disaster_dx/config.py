"""Settings from the environment, in one place.

Every setting has a safe default for a laptop (SQLite under ``DATA_DIR``, a generated development
secret), and production mode refuses to start on defaults that are unsafe there.

| variable | default | meaning |
|---|---|---|
| ``DISASTER_DX_ENV`` | ``development`` | ``development`` or ``production`` |
| ``DATA_DIR`` | ``./var`` | working data: SQLite file, camera frames |
| ``DATABASE_URL`` | SQLite file in ``DATA_DIR`` | SQLAlchemy URL (``postgresql+psycopg://…``) |
| ``PUBLIC_DIR`` | ``<DATA_DIR>/public`` | where public snapshots are written |
| ``SECRET_KEY`` | made once into ``DATA_DIR`` (development only) | signs session cookies |
| ``CITY_CODE`` | (recorded) | 全国地方公共団体コード; 392049 on a new database |
| ``CROWDING_THRESHOLDS`` | ``30,60,80`` | % occupancy for やや混雑, 混雑, 満員 |
| ``STALE_REPORT_MINUTES`` | ``60`` | open shelters silent longer than this are flagged |
| ``URGENT_NEED_HOURS`` | ``6`` | an urgent need expires unless re-confirmed |
| ``CARE_STAY_LIMIT_HOURS`` | ``24`` | a longer wait upstairs is flagged for people needing care |
| ``SESSION_IDLE_MINUTES`` | ``480`` | a staff session ends after this long without a request |
| ``SESSION_MAX_HOURS`` | ``16`` | a staff session ends this long after login, active or not |
| ``LOGIN_HELP_JA`` / ``_EN`` | (generic) | whom to call, shown when logins must wait |
| ``HOST`` / ``PORT`` | ``127.0.0.1`` / ``8050`` | where ``python app.py`` listens |
| ``PUBLIC_BASE_URL`` | ``http://127.0.0.1:8050/`` | the public page's address (links in LINE) |
| ``LINE_CHANNEL_ACCESS_TOKEN`` | (none) | LINE Messaging API token; without it nothing is sent |
| ``LINE_CHANNEL_SECRET`` | (none) | verifies ``X-Line-Signature`` of ``/line/webhook`` |
| ``LINE_API_BASE`` | ``https://api.line.me`` | Messaging API address (a local fake in tests) |
| ``LINE_BATCH_SECONDS`` | ``60`` | openings/closings within this window go out as one message |
| ``LINE_BROADCAST`` | ``true`` | send notifications to every friend of the account |
| ``LINE_MULTICAST_TO`` | (none) | comma-separated LINE user ids to multicast to as well |
| ``LINE_MAX_DELAY_MINUTES`` | ``30`` | a notification not sent by then expires, never late |
| ``LINE_MAX_NAMES`` | ``10`` | an opening notification names at most this many sites |
| ``LINE_RATE_LIMIT`` | ``10`` | bot answers per user per minute |
| ``LINE_WORKER`` | ``app`` | ``app``: the web app sends; ``off``: ``disaster-dx line run`` does |
| ``MAX_YAML_MB`` … | see :class:`~disaster_dx._parsing.FileLimits` | file size and nesting limits |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from disaster_dx._parsing import file_limits
from disaster_dx._resources import DATA_DIR
from disaster_dx.errors import ConfigError
from disaster_dx.model import CrowdingThresholds
from disaster_dx.secret_keys import check_production_key

#: The bundled data folder (Nankoku shelter master, city outline): ``data/`` in a checkout, a
#: copy inside the package when installed from a wheel (see :mod:`disaster_dx._resources`).
BUNDLED_DATA_DIR = DATA_DIR

#: Shown on the login page when attempts must wait: whom to call. Each city puts its own
#: contact here (LOGIN_HELP_JA / LOGIN_HELP_EN), e.g. the 危機管理課's extension.
DEFAULT_LOGIN_HELP_JA = (
    "急いでログインが必要なときは、システム管理者（災害対策本部の情報担当）に連絡してください。"
    "管理者はすぐに解除できます。"
)
DEFAULT_LOGIN_HELP_EN = (
    "If you need to log in now, contact the system administrator (the disaster HQ's IT "
    "contact): they can lift the wait at once."
)


@dataclass(frozen=True)
class Settings:
    """Resolved settings; build with :func:`settings_from_env` or directly in tests."""

    env: str = "development"
    data_dir: Path = Path("var")
    database_url: str = ""
    public_dir: Path = Path("var/public")
    secret_key: str = field(default="", repr=False)
    #: The city asked for by ``CITY_CODE`` ("" = the one the database recorded at init).
    city_code: str = ""
    city_name_en: str = ""
    crowding: CrowdingThresholds = field(default_factory=CrowdingThresholds)
    stale_report_minutes: int = 60
    urgent_need_hours: int = 6
    #: Longest wait upstairs planned for a person needing care (浸水継続時間), hours.
    care_stay_limit_hours: int = 24
    host: str = "127.0.0.1"
    port: int = 8050
    public_base_url: str = "http://127.0.0.1:8050/"
    line_channel_access_token: str = field(default="", repr=False)
    line_channel_secret: str = field(default="", repr=False)
    line_api_base: str = "https://api.line.me"
    line_batch_seconds: int = 60
    line_broadcast: bool = True
    line_multicast_to: tuple[str, ...] = field(default=(), repr=False)
    line_max_delay_minutes: int = 30
    line_max_names: int = 10
    line_rate_limit: int = 10
    line_worker: str = "app"
    trusted_proxies: int = 0
    #: Staff sessions: an HQ shift is up to 12 h plus handover; see the README.
    session_idle_minutes: int = 8 * 60
    session_max_hours: int = 16
    login_help_ja: str = DEFAULT_LOGIN_HELP_JA
    login_help_en: str = DEFAULT_LOGIN_HELP_EN

    @property
    def production(self) -> bool:
        """Whether unsafe defaults must be refused."""
        return self.env == "production"

    def with_overrides(self, **changes: object) -> Settings:
        """Copy with some fields changed (used by tests and the CLI)."""
        return replace(self, **changes)  # type: ignore[arg-type]


def settings_from_env(environ: Mapping[str, str] | None = None) -> Settings:
    """Read settings from ``environ`` (default ``os.environ``), validating every value.

    Raises
    ------
    ConfigError
        When a value is malformed, or production mode lacks a strong ``SECRET_KEY``.
    """
    env = dict(os.environ if environ is None else environ)
    mode = env.get("DISASTER_DX_ENV", "development").strip().lower() or "development"
    if mode not in ("development", "production"):
        raise ConfigError(f"DISASTER_DX_ENV must be development or production, not {mode!r}")
    data_dir = Path(env.get("DATA_DIR") or "var").expanduser()
    database_url = env.get("DATABASE_URL") or f"sqlite:///{(data_dir / 'disaster_dx.sqlite3')}"
    public_dir = Path(env.get("PUBLIC_DIR") or data_dir / "public").expanduser()

    secret_key = env.get("SECRET_KEY", "")
    if mode == "production":
        check_production_key(secret_key)  # an estimated 128 bits at least, no known example
    # Development without SECRET_KEY: the web app makes one key once into DATA_DIR, which
    # every worker reads (:func:`disaster_dx.secret_keys.development_key`).
    file_limits(env)  # a malformed MAX_* is refused at start-up, not at the first import

    return Settings(
        env=mode,
        data_dir=data_dir,
        database_url=database_url,
        public_dir=public_dir,
        secret_key=secret_key,
        city_code=env.get("CITY_CODE", "").strip(),
        city_name_en=env.get("CITY_NAME_EN", "").strip(),
        crowding=_thresholds(env.get("CROWDING_THRESHOLDS", "30,60,80")),
        stale_report_minutes=_positive_int(env, "STALE_REPORT_MINUTES", 60),
        urgent_need_hours=_positive_int(env, "URGENT_NEED_HOURS", 6),
        care_stay_limit_hours=_positive_int(env, "CARE_STAY_LIMIT_HOURS", 24),
        host=env.get("HOST", "127.0.0.1"),
        port=_positive_int(env, "PORT", 8050),
        trusted_proxies=_proxies(env.get("TRUSTED_PROXIES", "")),
        **_session_settings(env),
        **_line_settings(env, mode),
    )


def _session_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """Staff session lifetimes and the login page's whom-to-call text."""
    idle = _positive_int(env, "SESSION_IDLE_MINUTES", 8 * 60)
    most = _positive_int(env, "SESSION_MAX_HOURS", 16)
    if idle > most * 60:
        raise ConfigError(
            f"SESSION_IDLE_MINUTES ({idle}) must not exceed SESSION_MAX_HOURS ({most}) in minutes"
        )
    return {
        "session_idle_minutes": idle,
        "session_max_hours": most,
        "login_help_ja": (env.get("LOGIN_HELP_JA") or "").strip() or DEFAULT_LOGIN_HELP_JA,
        "login_help_en": (env.get("LOGIN_HELP_EN") or "").strip() or DEFAULT_LOGIN_HELP_EN,
    }


def _proxies(raw: str) -> int:
    """How many reverse proxies (nginx, a load balancer) stand in front of the app.

    Their ``X-Forwarded-For``/``-Proto``/``-Host`` are believed for that many hops, so login
    throttling counts each client, not the proxy's one address. 0 (default): believe none,
    right when clients reach the app directly (a client could otherwise fake its address).
    """
    if raw.strip() == "":
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"TRUSTED_PROXIES must be a whole number, not {raw!r}") from None
    if not 0 <= value <= 5:
        raise ConfigError(f"TRUSTED_PROXIES must be between 0 and 5, not {value}")
    return value


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive, not {value}")
    return value


def _thresholds(raw: str) -> CrowdingThresholds:
    parts = [p.strip() for p in raw.split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise ConfigError(
            f"CROWDING_THRESHOLDS must be three percentages like 30,60,80, not {raw!r}"
        ) from None
    if len(values) != 3:
        raise ConfigError(f"CROWDING_THRESHOLDS needs exactly three percentages, not {raw!r}")
    try:
        return CrowdingThresholds(*values)
    except ValueError as exc:
        raise ConfigError(f"CROWDING_THRESHOLDS: {exc}") from None


def _line_settings(env: Mapping[str, str], mode: str) -> dict[str, Any]:
    """Public link and LINE settings (see :mod:`disaster_dx.notify` and the README's LINE)."""
    public_base_url = (env.get("PUBLIC_BASE_URL") or "http://127.0.0.1:8050/").strip()
    api_base = (env.get("LINE_API_BASE") or "https://api.line.me").strip().rstrip("/")
    for name, value in (("PUBLIC_BASE_URL", public_base_url), ("LINE_API_BASE", api_base)):
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ConfigError(f"{name} must be an http(s) URL, not {value!r}")
    token = env.get("LINE_CHANNEL_ACCESS_TOKEN", "").strip()
    local = urlparse(api_base).hostname in ("127.0.0.1", "localhost", "::1")
    if mode == "production" and token and urlparse(api_base).scheme != "https" and not local:
        raise ConfigError(
            "LINE_API_BASE must use https in production (the token travels with every request)"
        )
    broadcast = env.get("LINE_BROADCAST", "true").strip().lower()
    if broadcast not in ("true", "false", "1", "0", "yes", "no", "on", "off", ""):
        raise ConfigError(f"LINE_BROADCAST must be true or false, not {broadcast!r}")
    worker = (env.get("LINE_WORKER") or "app").strip().lower()
    if worker not in ("app", "off"):
        raise ConfigError(f"LINE_WORKER must be app or off, not {worker!r}")
    recipients = tuple(
        part.strip() for part in env.get("LINE_MULTICAST_TO", "").split(",") if part.strip()
    )
    bad = [r for r in recipients if not (r.startswith("U") and len(r) == 33)]
    if bad:
        # Say how many, never which: these are personal identifiers.
        raise ConfigError(
            f"LINE_MULTICAST_TO has {len(bad)} value(s) that are not LINE user ids (U + 32 hex)"
        )
    return {
        "public_base_url": public_base_url,
        "line_channel_access_token": token,
        "line_channel_secret": env.get("LINE_CHANNEL_SECRET", "").strip(),
        "line_api_base": api_base,
        "line_batch_seconds": _positive_int(env, "LINE_BATCH_SECONDS", 60),
        "line_broadcast": broadcast in ("true", "1", "yes", "on", ""),
        "line_multicast_to": recipients,
        "line_max_delay_minutes": _positive_int(env, "LINE_MAX_DELAY_MINUTES", 30),
        "line_max_names": _positive_int(env, "LINE_MAX_NAMES", 10),
        "line_rate_limit": _positive_int(env, "LINE_RATE_LIMIT", 10),
        "line_worker": worker,
    }
