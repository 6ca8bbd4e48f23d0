"""Production refuses weak ``SECRET_KEY`` values; development shares one key among workers.

Measured before: production accepted ``'a'*32`` and ``'changeme'*4``; in development each
gunicorn worker made its own key, so a cookie signed by one worker was refused by the next and
half of all logins failed.
"""

from __future__ import annotations

import multiprocessing
import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from disaster_dx.config import settings_from_env
from disaster_dx.errors import ConfigError
from disaster_dx.secret_keys import KEY_FILE, development_key, estimated_bits

ROOT = Path(__file__).resolve().parents[2]

WEAK = [
    "a" * 32,
    "changeme" * 4,
    "k" * 64,
    "0123456789" * 4,
    "abcdefghijklmnopqrstuvwxyz012345",
    "passwordpasswordpassword12345678",
    "ChangeMe",
    "short",
    "",
    # the placeholder of the README's deployment example, copied as it stands
    "<python -c 'import secrets; print(secrets.token_hex(32))'>",
]


@pytest.mark.parametrize("key", WEAK)
def test_production_refuses_a_weak_key_with_what_to_do(key: str) -> None:
    with pytest.raises(ConfigError, match=r"SECRET_KEY .*token_hex\(32\)"):
        settings_from_env({"DISASTER_DX_ENV": "production", "SECRET_KEY": key})


@pytest.mark.parametrize("make", [lambda: secrets.token_hex(32), lambda: secrets.token_urlsafe(32)])
def test_production_accepts_random_keys(make) -> None:
    for _ in range(200):
        key = make()
        assert settings_from_env({"DISASTER_DX_ENV": "production", "SECRET_KEY": key}).production
        assert estimated_bits(key) >= 200


def test_the_start_up_error_is_one_clear_line(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DISASTER_DX_ENV": "production",
        "SECRET_KEY": "changeme" * 4,
        "DATA_DIR": str(tmp_path),
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-c", "import app"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("disaster_dx: cannot start: SECRET_KEY is too weak")
    assert "Traceback" not in done.stderr


def _key_of_worker(data_dir: str) -> str:
    return development_key(Path(data_dir))


def test_development_workers_share_one_key_made_once_with_mode_0600(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    with multiprocessing.get_context("spawn").Pool(6) as pool:
        keys = pool.map(_key_of_worker, [str(data_dir)] * 12)
    assert len(set(keys)) == 1 and len(keys[0]) == 64
    path = data_dir / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in data_dir.iterdir()] == [KEY_FILE]  # no temporary files left
    assert development_key(data_dir) == keys[0]  # a restart keeps sessions


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    development_key(tmp_path)
    (tmp_path / KEY_FILE).chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        development_key(tmp_path)


def test_two_apps_on_one_data_dir_accept_each_others_cookies(make_app, app_settings) -> None:
    """Two gunicorn workers in miniature: a login on one is a login on the other."""
    from disaster_dx.web.context import EXTENSION_KEY
    from tests.conftest import add_staff_user
    from tests.webtools import login_client

    settings = app_settings.with_overrides(secret_key="")
    first, second = make_app(settings), make_app(settings)
    password = add_staff_user(first.server.extensions[EXTENSION_KEY].store, "hq1", "hq")
    client = first.server.test_client()
    login_client(client, "hq1", password)
    cookie = client.get_cookie("session")
    assert cookie is not None
    other = second.server.test_client()
    other.set_cookie("session", cookie.value)
    assert other.get("/hq").status_code == 200
