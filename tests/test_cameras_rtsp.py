"""RTSP cameras against a real RTSP server: GStreamer's, started by the test through the system
Python, serving a test pattern as H.264 — with and without a login, and a server that accepts
and then says nothing (it must never delay the other cameras)."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from disaster_dx.camera_simulator import CameraSimulator
from disaster_dx.cameras import (
    CAMERA_HEALTH_EVENTS,
    CameraRegistryError,
    CameraSettings,
    FeedErrorKind,
    Health,
    Poller,
    camera_statuses,
    check_image,
    create_camera_tables,
    health_of,
    registry_from_yaml,
)
from disaster_dx.cameras.frames import FrameStore
from disaster_dx.store import Store
from layers.cameras import camera_features, error_label
from tests.camera_tools import T0, ManualClock
from tests.conftest import skip_or_fail

SYSTEM_PYTHON = "/usr/bin/python3"
SERVER = Path(__file__).with_name("rtsp_server.py")
USER = "tower-viewer-q"
PASSWORD = "rtsp-Pa55-w0rd-for-tests"


def _gstreamer_or_skip() -> None:
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        skip_or_fail("gstreamer", f"{SYSTEM_PYTHON} not found (the RTSP server runs on it)")
    check = subprocess.run(
        [SYSTEM_PYTHON, str(SERVER), "--check"], capture_output=True, text=True, timeout=60
    )
    if check.returncode != 0:
        skip_or_fail(
            "gstreamer",
            "GStreamer RTSP server unavailable (apt-get install python3-gi "
            f"gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-ugly): {check.stderr.strip()}",
        )


class RtspServer:
    """GStreamer's RTSP server as a subprocess; the stream is at :attr:`url`."""

    def __init__(self, *, user: str = "", password: str = "") -> None:
        _gstreamer_or_skip()
        env = {**os.environ, "DX_TEST_RTSP_PW": password}
        args = [SYSTEM_PYTHON, str(SERVER), "--port", "0"]
        if user:
            args += ["--user", user, "--password-env", "DX_TEST_RTSP_PW"]
        self.errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        self.process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=self.errors, text=True, env=env
        )
        ready: list[str] = []
        reader = threading.Thread(
            target=lambda: ready.append(self.process.stdout.readline()),  # type: ignore[union-attr]
            daemon=True,
        )
        reader.start()
        reader.join(timeout=30)
        if not ready or not ready[0].startswith("READY "):
            self.stop()
            raise AssertionError("RTSP server did not start")
        self.port = int(ready[0].split()[1])
        self.url = f"rtsp://127.0.0.1:{self.port}/camera"

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.errors.seek(0)
        problems = self.errors.read().decode("utf-8", "replace")
        self.errors.close()
        if problems.strip():
            print(f"RTSP server said: {problems[-2000:]}")


@pytest.fixture
def rtsp() -> Iterator[RtspServer]:
    server = RtspServer()
    yield server
    server.stop()


@pytest.fixture
def rtsp_login() -> Iterator[RtspServer]:
    server = RtspServer(user=USER, password=PASSWORD)
    yield server
    server.stop()


@pytest.fixture
def stalling_server() -> Iterator[str]:
    """Accepts RTSP connections and never answers (a camera whose firmware hung)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"rtsp://127.0.0.1:{listener.getsockname()[1]}/stream"
    stop.set()
    thread.join(timeout=5)
    for conn in held:
        conn.close()
    listener.close()


@pytest.fixture
def camera_store(store: Store) -> Store:
    create_camera_tables(store)
    return store


@pytest.fixture
def frames(tmp_path: Path) -> FrameStore:
    return FrameStore(tmp_path / "cameras", keep=50)


def _settings() -> CameraSettings:
    return CameraSettings(connect_timeout=2.0, read_timeout=2.0, total_timeout=6.0)


def _camera_yaml(camera_id: str, url: str, *, kind: str = "rtsp", auth: str = "") -> str:
    lines = [
        f"  - id: {camera_id}",
        f"    name: {{ja: 鉄塔{camera_id}, en: Tower {camera_id}}}",
        "    lon: 133.65",
        "    lat: 33.57",
        "    heading_deg: 180",
        "    fov_deg: 60",
        "    range_m: 800",
        "    poll_interval_s: 10",
        f"    feed: {{type: {kind}, url: '{url}'{', auth: ' + auth if auth else ''}}}",
    ]
    return "\n".join(lines) + "\n"


def _poll_once(poller: Poller) -> None:
    assert poller.run_due()
    poller.wait(timeout=60)


def test_rtsp_keyframe_is_stored_as_a_valid_jpeg(camera_store, frames, rtsp) -> None:
    store = camera_store
    registry = registry_from_yaml("cameras:\n" + _camera_yaml("tower", rtsp.url))
    clock = ManualClock()
    poller = Poller(store, registry, frames, settings=_settings(), clock=clock)
    try:
        _poll_once(poller)
    finally:
        poller.close()
    (attempt,) = poller.history
    assert attempt.ok, attempt
    (stored,) = frames.frames("tower")
    image = check_image(stored.path.read_bytes(), max_bytes=1 << 20)
    assert (image.width, image.height, image.source_format) == (320, 240, "jpeg")
    status = camera_statuses(store)["tower"]
    assert health_of(registry.cameras[0], status, clock()) is Health.ONLINE


def test_rtsp_login_by_reference_and_never_in_pages_or_logs(
    camera_store, frames, rtsp_login, caplog, capfd
) -> None:
    store = camera_store
    caplog.set_level(logging.DEBUG)
    auth = "{scheme: basic, username_env: DX_RTSP_USER, password_env: DX_RTSP_PW}"
    registry = registry_from_yaml(
        "cameras:\n"
        + _camera_yaml("good", rtsp_login.url, auth=auth)
        + _camera_yaml("wrong", rtsp_login.url, auth=auth.replace("DX_RTSP_PW", "DX_RTSP_OLD"))
        + _camera_yaml("none", rtsp_login.url)
    )
    environ = {"DX_RTSP_USER": USER, "DX_RTSP_PW": PASSWORD, "DX_RTSP_OLD": "expired-pw-99"}
    clock = ManualClock()
    poller = Poller(store, registry, frames, settings=_settings(), clock=clock, environ=environ)
    try:
        _poll_once(poller)
    finally:
        poller.close()
    outcome = {a.camera_id: (a.ok, a.error_kind) for a in poller.history}
    assert outcome == {
        "good": (True, None),
        "wrong": (False, FeedErrorKind.AUTH),
        "none": (False, FeedErrorKind.AUTH),
    }
    statuses = camera_statuses(store)
    assert error_label(statuses["wrong"]) == (
        "直近のエラー: カメラへのログインが拒否されました（ID・パスワードをご確認ください）"
    )
    features = camera_features(registry.cameras, statuses, now=clock(), lang="ja")
    live = store.live_incident().incident_id
    shown = "\n".join(
        [
            json.dumps(features, ensure_ascii=False, default=str),
            repr(statuses),
            json.dumps([e.payload for e in store.iter_events(live, types=CAMERA_HEALTH_EVENTS)]),
        ]
    )
    out, err = capfd.readouterr()
    logged = "\n".join(r.getMessage() for r in caplog.records) + out + err
    for secret in (PASSWORD, USER, "expired-pw-99"):
        assert secret not in shown, secret
        assert secret not in logged, secret
    assert "camera wrong: auth" in logged  # what happened is logged, without the login


def test_a_stalled_rtsp_server_never_delays_the_other_cameras(
    camera_store, frames, stalling_server
) -> None:
    store = camera_store
    with CameraSimulator() as sim:
        registry = registry_from_yaml(
            "cameras:\n"
            + _camera_yaml("stuck", stalling_server)
            + _camera_yaml("fine", sim.url("fine"), kind="jpeg")
        )
        clock = ManualClock()
        poller = Poller(store, registry, frames, settings=_settings(), clock=clock)
        try:
            for second in range(0, 31):
                clock.set(T0.replace(second=second))
                poller.run_due()
                poller.wait(["fine"], timeout=30)
                if second == 0:
                    assert poller.busy("stuck")  # hanging on its own thread meanwhile
            poller.wait(timeout=60)
        finally:
            poller.close()
    fine = [a for a in poller.history if a.camera_id == "fine"]
    assert [a.started_at.second for a in fine] == [0, 10, 20, 30]
    assert all(a.ok for a in fine)
    stuck = [a for a in poller.history if a.camera_id == "stuck"]
    assert stuck and all(a.error_kind is FeedErrorKind.TIMEOUT for a in stuck)


def test_rtsp_addresses_are_validated_with_their_line() -> None:
    text = (
        "cameras:\n"
        + _camera_yaml("a", "http://127.0.0.1/stream")
        + _camera_yaml("b", "rtsp://admin:secret-LEAK@127.0.0.1/stream")
    )
    with pytest.raises(CameraRegistryError) as caught:
        registry_from_yaml(text, source="cameras.yaml")
    problems = {p.where: str(p) for p in caught.value.problems}
    assert any(w.startswith("line 10 (camera 'a'") for w in problems), problems
    assert any("must start with rtsp:// or rtsps://, not http:" in t for t in problems.values())
    assert any(w.startswith("line 19 (camera 'b'") for w in problems), problems
    assert "LEAK" not in "\n".join(problems.values())
