"""The package works when installed from a wheel, not only from a checkout.

Builds the wheel from a copy of the sources (the checkout stays untouched), installs it into a
fresh virtual environment that borrows the installed dependencies (no download), and from a
folder outside the checkout runs ``disaster-dx init`` and ``disaster-dx serve``: the bundled
data (Nankoku's shelters, the camera registry, scenarios), the staff assets, the public site
and the templates must all come from the installed package.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: What the build reads; tests, docs and local state stay out of the copy.
SOURCES = (
    "disaster_dx",
    "layers",
    "data",
    "assets",
    "pyproject.toml",
    "setup.py",
    "MANIFEST.in",
    "README.md",
)

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _build_wheel(tmp: Path) -> Path:
    source = tmp / "src"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=ignore)
        else:
            shutil.copy2(path, source / name)
    out = tmp / "dist"
    offline = ["--no-deps", "--no-build-isolation", "--no-index", "-q"]
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", *offline, "-w", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    # Building needs setuptools and, before setuptools 70.1, the wheel package (dev extras).
    assert built.returncode == 0, built.stderr
    (wheel,) = out.glob("disaster_dx-*.whl")
    return wheel


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment without the checkout on the path (so the installed copy is used)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DATABASE_URL")}
    env.update(extra)
    return env


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def test_wheel_installs_and_serves(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    for shipped in (
        "disaster_dx/_bundle/data/cameras.yaml",
        "disaster_dx/_bundle/data/gsi/evacuation_392049.geojson",
        "disaster_dx/_bundle/data/scenarios/scenario.schema.json",
        "disaster_dx/_bundle/data/municipalities.csv",
        "disaster_dx/_bundle/assets/dx.css",
        "disaster_dx/public_site/index.html",
        "disaster_dx/public_site/site/supercluster/supercluster.min.js",
        "disaster_dx/web/phone_static/app.js",
        "disaster_dx/templates/printable.html",
        "disaster_dx/migrations/script.py.mako",
    ):
        assert shipped in names, f"{shipped} is not in {wheel.name}"

    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    python = venv / "bin" / "python"
    offline = ["--no-deps", "--no-index", "-q", "--force-reinstall"]
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", *offline, str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stderr
    work = tmp_path / "elsewhere"  # not the checkout: nothing can be found by accident
    work.mkdir()
    env = _clean_env(DATA_DIR=str(work / "var"), PUBLIC_DIR=str(work / "var" / "public"))

    located = subprocess.run(
        [
            str(python),
            "-c",
            "import disaster_dx, disaster_dx._resources as r; "
            "print(disaster_dx.__file__); print(r.DATA_DIR); print(r.ASSETS_DIR)",
        ],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout.splitlines()
    site = venv.resolve()
    for line in located:
        assert Path(line).resolve().is_relative_to(site), f"{line} is not from the wheel"
        assert not Path(line).resolve().is_relative_to(ROOT)

    cli = venv / "bin" / "disaster-dx"
    init = subprocess.run(
        [str(cli), "init"], cwd=work, env=env, capture_output=True, text=True, timeout=300
    )
    assert init.returncode == 0, init.stderr
    # the bundled city and its shelter master, read from the wheel's data
    assert "392049" in init.stderr, init.stderr
    assert "loaded the bundled Nankoku shelter master" in init.stderr, init.stderr
    assert (work / "var").is_dir()

    port = _free_port()
    server = subprocess.Popen(
        [str(cli), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        status, page = 0, ""
        while time.monotonic() < deadline:
            assert server.poll() is None, (
                f"serve stopped: {server.stdout.read() if server.stdout else ''}"
            )
            try:
                status, page = _get(base + "/")
                break
            except OSError:
                time.sleep(0.5)
        assert status == 200, page
        status, login = _get(base + "/login")
        assert status == 200
        assert "ログイン" in login
        status, css = _get(base + "/assets/dx.css")
        assert status == 200 and css  # the staff assets, from the wheel's copy
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if server.stdout:
            server.stdout.close()
