"""Settings come from the environment with safe defaults; production refuses unsafe ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from disaster_dx.config import settings_from_env
from disaster_dx.errors import ConfigError
from disaster_dx.model import CrowdingThresholds


def test_defaults_are_a_local_sqlite_file() -> None:
    settings = settings_from_env({})
    assert settings.env == "development"
    assert settings.database_url == f"sqlite:///{Path('var') / 'disaster_dx.sqlite3'}"
    assert settings.public_dir == Path("var/public")
    assert len(settings.secret_key) >= 32
    assert settings.crowding == CrowdingThresholds(30, 60, 80)


def test_values_are_read() -> None:
    settings = settings_from_env(
        {
            "DATA_DIR": "/srv/dx",
            "DATABASE_URL": "postgresql+psycopg://dx@db/dx",
            "CROWDING_THRESHOLDS": "25, 50, 90",
            "STALE_REPORT_MINUTES": "30",
            "PORT": "9000",
            "TRUSTED_PROXIES": "1",
        }
    )
    assert settings.database_url == "postgresql+psycopg://dx@db/dx"
    assert settings.public_dir == Path("/srv/dx/public")
    assert settings.crowding == CrowdingThresholds(25, 50, 90)
    assert (settings.stale_report_minutes, settings.port) == (30, 9000)
    assert settings.trusted_proxies == 1
    assert settings_from_env({}).trusted_proxies == 0


@pytest.mark.parametrize("secret", ["", "change-me", "short"])
def test_production_refuses_weak_secret(secret: str) -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        settings_from_env({"DISASTER_DX_ENV": "production", "SECRET_KEY": secret})


def test_production_with_strong_secret() -> None:
    settings = settings_from_env({"DISASTER_DX_ENV": "production", "SECRET_KEY": "k" * 40})
    assert settings.production


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"DISASTER_DX_ENV": "staging"}, "development or production"),
        ({"CROWDING_THRESHOLDS": "30,60"}, "exactly three"),
        ({"CROWDING_THRESHOLDS": "a,b,c"}, "three percentages"),
        ({"CROWDING_THRESHOLDS": "60,30,80"}, "rise"),
        ({"STALE_REPORT_MINUTES": "soon"}, "whole number"),
        ({"PORT": "-1"}, "positive"),
        ({"TRUSTED_PROXIES": "all"}, "TRUSTED_PROXIES must be a whole number"),
        ({"TRUSTED_PROXIES": "9"}, "between 0 and 5"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        settings_from_env(env)


def test_session_lifetimes_and_login_help() -> None:
    defaults = settings_from_env({})
    assert (defaults.session_idle_minutes, defaults.session_max_hours) == (480, 16)
    assert "システム管理者" in defaults.login_help_ja and "administrator" in defaults.login_help_en
    settings = settings_from_env(
        {
            "SESSION_IDLE_MINUTES": "30",
            "SESSION_MAX_HOURS": "12",
            "LOGIN_HELP_JA": "危機管理課（内線 2345）へ",
            "LOGIN_HELP_EN": "Call ext. 2345",
        }
    )
    assert (settings.session_idle_minutes, settings.session_max_hours) == (30, 12)
    assert settings.login_help_ja == "危機管理課（内線 2345）へ"
    assert settings.login_help_en == "Call ext. 2345"
    with pytest.raises(ConfigError, match="SESSION_IDLE_MINUTES"):
        settings_from_env({"SESSION_IDLE_MINUTES": "900", "SESSION_MAX_HOURS": "8"})
    with pytest.raises(ConfigError, match="SESSION_MAX_HOURS"):
        settings_from_env({"SESSION_MAX_HOURS": "0"})
