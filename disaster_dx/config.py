"""Settings from the environment, in one place.

Every setting has a safe default for a laptop (SQLite under ``DATA_DIR``, a generated development
secret), and production mode refuses to start on defaults that are unsafe there.

| variable | default | meaning |
|---|---|---|
| ``DISASTER_DX_ENV`` | ``development`` | ``development`` or ``production`` |
| ``DATA_DIR`` | ``./var`` | working data: SQLite file, camera frames |
| ``DATABASE_URL`` | SQLite file in ``DATA_DIR`` | SQLAlchemy URL (``postgresql+psycopg://…``) |
| ``PUBLIC_DIR`` | ``<DATA_DIR>/public`` | where public snapshots are written |
| ``SECRET_KEY`` | random per process (development only) | signs session cookies |
| ``CITY_CODE`` | ``392049`` | 全国地方公共団体コード of the city |
| ``CROWDING_THRESHOLDS`` | ``30,60,80`` | % occupancy for やや混雑, 混雑, 満員 |
| ``STALE_REPORT_MINUTES`` | ``60`` | open shelters silent longer than this are flagged |
| ``URGENT_NEED_HOURS`` | ``6`` | an urgent need expires unless re-confirmed |
| ``HOST`` / ``PORT`` | ``127.0.0.1`` / ``8050`` | where ``python app.py`` listens |
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from disaster_dx.errors import ConfigError
from disaster_dx.model import CrowdingThresholds

#: The repository's bundled data folder (Nankoku shelter master, city outline).
BUNDLED_DATA_DIR = Path(__file__).resolve().parent.parent / "data"

_WEAK_SECRETS = {"", "change-me", "changeme", "secret", "dev", "development"}


@dataclass(frozen=True)
class Settings:
    """Resolved settings; build with :func:`settings_from_env` or directly in tests."""

    env: str = "development"
    data_dir: Path = Path("var")
    database_url: str = ""
    public_dir: Path = Path("var/public")
    secret_key: str = field(default="", repr=False)
    city_code: str = "392049"
    crowding: CrowdingThresholds = field(default_factory=CrowdingThresholds)
    stale_report_minutes: int = 60
    urgent_need_hours: int = 6
    host: str = "127.0.0.1"
    port: int = 8050

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
        if secret_key.strip().lower() in _WEAK_SECRETS or len(secret_key) < 32:
            raise ConfigError(
                "production mode needs SECRET_KEY set to a random value of at least 32 "
                "characters (e.g. python -c 'import secrets; print(secrets.token_hex(32))')"
            )
    elif not secret_key:
        # Development only: sessions simply do not survive a restart.
        secret_key = secrets.token_hex(32)

    return Settings(
        env=mode,
        data_dir=data_dir,
        database_url=database_url,
        public_dir=public_dir,
        secret_key=secret_key,
        city_code=env.get("CITY_CODE", "392049"),
        crowding=_thresholds(env.get("CROWDING_THRESHOLDS", "30,60,80")),
        stale_report_minutes=_positive_int(env, "STALE_REPORT_MINUTES", 60),
        urgent_need_hours=_positive_int(env, "URGENT_NEED_HOURS", 6),
        host=env.get("HOST", "127.0.0.1"),
        port=_positive_int(env, "PORT", 8050),
    )


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
