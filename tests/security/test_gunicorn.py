"""The two measurements made behind gunicorn, repeated behind gunicorn (two sync workers).

- A 300 MB chunked body to ``/line/webhook`` is refused with 413 and the workers' memory stays
  where it was (before: about +290 MB in one worker).
- In development, a login made on one worker holds on every worker (before: each worker made
  its own key, so about half of the requests after a login were sent back to the login page).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode

import pytest

from disaster_dx.store import Store
from tests.conftest import add_staff_user

ROOT = Path(__file__).resolve().parents[2]
CHUNK = 64 * 1024


@dataclass
class Gunicorn:
    base_url: str
    port: int
    process: subprocess.Popen[bytes]

    def worker_rss_mb(self) -> dict[int, int]:
        """Resident memory of each worker (children of the master), in MB."""
        found = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True, check=False
        )
        sizes = {}
        for pid in map(int, found.stdout.split()):
            status = Path(f"/proc/{pid}/status").read_text()
            kilobytes = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
            sizes[pid] = kilobytes // 1024
        return sizes


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def gunicorn(database_url: str, tmp_path: Path) -> Iterator[Gunicorn]:
    if shutil.which("gunicorn") is None or not Path("/proc/self/status").exists():
        pytest.skip("needs gunicorn and /proc")
    port = _free_port()
    env = {
        **os.environ,
        "DISASTER_DX_ENV": "development",
        "DATA_DIR": str(tmp_path / "var"),
        "PUBLIC_DIR": str(tmp_path / "public"),
        "DATABASE_URL": database_url,
        "LINE_CHANNEL_SECRET": "gunicorn-test-secret",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("SECRET_KEY", None)
    log = (tmp_path / "gunicorn.log").open("wb")
    process = subprocess.Popen(
        # A long boot timeout: on a loaded CI machine building the app may take a while.
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            "2",
            "--timeout",
            "180",
            "-b",
            f"127.0.0.1:{port}",
            "app:server",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = Gunicorn(f"http://127.0.0.1:{port}", port, process)
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                with urllib.request.urlopen(f"{server.base_url}/healthz", timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail((tmp_path / "gunicorn.log").read_text(errors="replace")[-3000:])
                time.sleep(0.5)
        while len(server.worker_rss_mb()) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.mark.parametrize("path", ["/line/webhook", "/_dash-update-component"])
def test_a_300_mb_chunked_body_is_refused_without_growing_a_worker(
    gunicorn: Gunicorn, path: str
) -> None:
    before = gunicorn.worker_rss_mb()
    connection = socket.create_connection(("127.0.0.1", gunicorn.port))
    connection.sendall(
        f"POST {path} HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n".encode()
        + b"Content-Type: application/json\r\nX-Line-Signature: c2lnbmF0dXJl\r\n\r\n"
    )
    sent, chunk = 0, b" " * CHUNK
    try:
        while sent < 300 * 1024 * 1024:  # made as it is sent, never held whole
            connection.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
        connection.sendall(b"0\r\n\r\n")
    except OSError:
        pass  # the server answered and closed: it will not read the rest
    connection.settimeout(30)
    status_line = connection.recv(200).split(b"\r\n", 1)[0]
    connection.close()
    assert status_line.startswith(b"HTTP/1.1 413"), status_line
    assert sent < 100 * 1024 * 1024, f"the server kept reading: {sent / 2**20:.0f} MB"
    after = gunicorn.worker_rss_mb()
    grown = max(after.get(pid, 0) - size for pid, size in before.items())
    assert grown < 32, (before, after)


def test_a_development_login_holds_on_every_worker(gunicorn: Gunicorn, database_url: str) -> None:
    store = Store(database_url)
    try:
        password = add_staff_user(store, "hq1", "hq")
    finally:
        store.dispose()
    jar = CookieJar()

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    page = opener.open(f"{gunicorn.base_url}/login").read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    form = urlencode({"username": "hq1", "password": password, "csrf_token": token}).encode()
    try:
        opener.open(f"{gunicorn.base_url}/login", data=form)
    except urllib.error.HTTPError as redirect:
        assert redirect.code == 302
    statuses = []
    for _ in range(16):
        try:
            statuses.append(opener.open(f"{gunicorn.base_url}/hq").status)
        except urllib.error.HTTPError as refused:
            statuses.append(refused.code)
    assert statuses == [200] * 16
