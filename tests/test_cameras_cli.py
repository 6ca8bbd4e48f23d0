"""``disaster-dx cameras …``: check, run (also as two worker processes at once), simulate."""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from disaster_dx.camera_frames import CAMERA_FRAME, frames_between
from disaster_dx.camera_simulator import CameraSimulator
from disaster_dx.cameras import create_camera_tables, lease_holders
from disaster_dx.cli import main
from disaster_dx.store import Store
from tests.camera_tools import registry_yaml
from tests.common import ROOT


def test_check_lists_the_bundled_demo_and_refuses_a_bad_file(tmp_path: Path, capsys) -> None:
    assert main(["cameras", "check"]) == 0
    out, err = capsys.readouterr()
    assert "3 camera(s), valid" in err
    assert [line.split("\t")[0] for line in out.splitlines()] == ["coast", "river", "town"]
    assert "127.0.0.1" not in out  # addresses are not listed
    bad = tmp_path / "cameras.yaml"
    bad.write_text("cameras:\n  - id: x\n    lon: 200\n", encoding="utf-8")
    assert main(["cameras", "check", "--registry", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "line 3 (camera 'x', lon)" in err and "name is required" in err


def test_run_once_polls_every_camera(
    tmp_path: Path, database_url: str, monkeypatch, capsys
) -> None:
    with CameraSimulator() as sim:
        registry = tmp_path / "cameras.yaml"
        registry.write_text(registry_yaml(sim, {"coast": "jpeg", "river": "mjpeg"}), "utf-8")
        monkeypatch.setenv("DATABASE_URL", database_url)
        monkeypatch.setenv("DATA_DIR", str(tmp_path / "var"))
        assert main(["cameras", "run", "--once", "--registry", str(registry)]) == 0
    err = capsys.readouterr().err
    assert "coast: frame " in err and "river: frame " in err
    assert len(list((tmp_path / "var" / "cameras" / "coast").glob("*.jpg"))) == 1
    assert len(list((tmp_path / "var" / "cameras" / "river").glob("*.jpg"))) == 1
    store = Store(database_url)
    try:  # each picture on record, none in the incident log
        assert [len(frames_between(store, c)) for c in ("coast", "river")] == [1, 1]
        assert store.events(store.live_incident().incident_id) == []
    finally:
        store.dispose()


def test_two_worker_processes_never_poll_the_same_camera(tmp_path: Path, database_url: str) -> None:
    """Two ``cameras run`` processes on one database: each camera has exactly one poller."""
    store = Store(database_url)
    try:
        store.create_schema()  # first start done once, as `disaster-dx init` would
        create_camera_tables(store)
    finally:
        store.dispose()
    cameras = {"coast": "jpeg", "river": "mjpeg", "town": "jpeg"}
    with CameraSimulator() as sim:
        registry = tmp_path / "cameras.yaml"
        registry.write_text(registry_yaml(sim, cameras, interval=1), encoding="utf-8")
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "DATA_DIR": str(tmp_path / "var"),
            "CAMERAS_FILE": str(registry),
        }
        command = [sys.executable, "-m", "disaster_dx.cli", "cameras", "run", "--seconds", "4"]
        workers = [
            subprocess.Popen(
                command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            for _ in range(2)
        ]
        outputs = [w.communicate(timeout=120) for w in workers]
        for worker, (_out, err) in zip(workers, outputs, strict=True):
            assert worker.returncode == 0, err.decode()
        per_camera = {c: sim.requests_for(c) for c in cameras}
    for camera_id, received in per_camera.items():
        # One poller at a time: the requests come from one worker, or from one and then
        # (after it stopped and handed the camera over) the other — never interleaved, and
        # never at twice the rate.
        runs = [agent for agent, _ in itertools.groupby(r.user_agent for r in received)]
        assert len(runs) == len(set(runs)) <= 2, (camera_id, runs)
        assert 3 <= len(received) <= 6, (camera_id, len(received))  # ~1 s apart for 4 s
    store = Store(database_url)
    try:
        for camera_id, received in per_camera.items():
            recorded = frames_between(store, camera_id)
            assert len(recorded) == len(received)  # no frame recorded twice, none lost
            on_disk = sorted(p.stem for p in (tmp_path / "var" / "cameras" / camera_id).iterdir())
            assert [r.key for r in recorded] == on_disk
        assert all(e.type != CAMERA_FRAME for e in store.events(store.live_incident().incident_id))
        assert set(lease_holders(store).values()) == {None}  # both handed back on exit
    finally:
        store.dispose()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_simulate_serves_snapshots_and_switches_modes() -> None:
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "disaster_dx.cli",
            "cameras",
            "simulate",
            "--port",
            str(port),
            "--errors",
            "town",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                snapshot = requests.get(f"{base}/cam/coast/snapshot.jpg", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert snapshot.status_code == 200 and snapshot.headers["Content-Type"] == "image/jpeg"
        assert snapshot.content.startswith(b"\xff\xd8\xff")
        snapshot.close()
        with requests.get(f"{base}/cam/town/snapshot.jpg", timeout=2) as town:
            assert town.status_code == 503
        with requests.post(f"{base}/control/town?mode=normal", timeout=2) as switched:
            assert switched.status_code == 200
        with requests.get(f"{base}/cam/town/snapshot.jpg", timeout=2) as town:
            assert town.status_code == 200
        with requests.get(f"{base}/cam/river/mjpeg", timeout=2, stream=True) as stream:
            assert stream.headers["Content-Type"].startswith("multipart/x-mixed-replace")
    finally:
        server.terminate()
        _out, err = server.communicate(timeout=30)
    assert "a test tool, not a real camera" in err.decode()
