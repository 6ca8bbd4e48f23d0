"""Benchmark one poller with 20 cameras of every kind for 60 s: does every healthy camera stay
on its interval while one camera hangs?

Issue 17 acceptance. The cameras are real peers on this machine:

- 8 HTTP JPEG snapshot cameras and 6 MJPEG cameras of the camera simulator
  (:mod:`disaster_dx.camera_simulator`, a threaded HTTP server);
- 5 RTSP cameras on GStreamer's RTSP server (``tests/rtsp_server.py``, run by the system
  Python), H.264, one keyframe a second — skipped, and said so, when GStreamer is missing;
- 1 camera that accepts the connection and then never answers (the simulator's ``hang``
  mode): its fetch runs into the time limits on its own thread.

All poll every ``--interval`` seconds (5 by default) with the real clock, into a fresh SQLite
database and a temporary frame folder, through :meth:`Poller.run_forever` with a 50 ms tick.

For each healthy camera it prints the polls, failures, and the **lateness** of each poll: how
much later than its previous start + interval it started (the poller never starts a camera
while its previous fetch is still running, so a slow fetch shows up here too), as the max in
ms and as a fraction of the interval. A healthy camera is on its interval when its max
lateness is a small fraction of the interval (the tick is 50 ms).

    python bench/camera_polling.py [--seconds 60] [--interval 5]
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from disaster_dx.camera_simulator import CameraSimulator, SimMode  # noqa: E402
from disaster_dx.cameras import (  # noqa: E402
    CameraSettings,
    Poller,
    create_camera_tables,
    registry_from_yaml,
)
from disaster_dx.cameras.frames import FrameStore  # noqa: E402
from disaster_dx.store import Store  # noqa: E402

SERVER = ROOT / "tests" / "rtsp_server.py"


def start_rtsp() -> tuple[subprocess.Popen[str] | None, str | None]:
    """GStreamer's RTSP server, or (None, why not)."""
    python = "/usr/bin/python3"
    if not os.access(python, os.X_OK):
        return None, f"{python} missing"
    check = subprocess.run([python, str(SERVER), "--check"], capture_output=True, text=True)
    if check.returncode != 0:
        return None, check.stderr.strip() or "GStreamer RTSP server unavailable"
    process = subprocess.Popen(
        [python, str(SERVER), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("READY "):
        process.kill()
        return None, "RTSP server did not start"
    return process, f"rtsp://127.0.0.1:{int(line.split()[1])}/camera"


def camera_yaml(camera_id: str, kind: str, url: str, interval: float, index: int) -> str:
    return (
        f"  - {{id: {camera_id}, name: {{ja: {camera_id}, en: {camera_id}}}, "
        f"lon: {133.60 + index * 0.002:.4f}, lat: 33.56, heading_deg: 180, fov_deg: 60, "
        f"range_m: 500, poll_interval_s: {interval:g}, feed: {{type: {kind}, url: '{url}'}}}}\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=5.0)
    args = parser.parse_args()

    rtsp_process, rtsp = start_rtsp()
    rtsp_url = rtsp if rtsp_process is not None else None
    if rtsp_process is None:
        print(f"RTSP cameras left out: {rtsp}")
    workdir = Path(tempfile.mkdtemp(prefix="dx-camera-bench-"))
    try:
        with CameraSimulator(mjpeg_fps=5.0) as sim:
            text, kinds = "version: 1\ncameras:\n", {}
            plan = [("jpeg", 8), ("mjpeg", 6), ("rtsp", 5 if rtsp_url else 0)]
            index = 0
            for kind, count in plan:
                for n in range(count):
                    camera_id = f"{kind}{n + 1:02d}"
                    url = (
                        rtsp_url
                        if kind == "rtsp"
                        else sim.url(camera_id, "mjpeg" if kind == "mjpeg" else "snapshot")
                    )
                    assert url is not None
                    text += camera_yaml(camera_id, kind, url, args.interval, index)
                    kinds[camera_id] = kind
                    index += 1
            sim.set_mode("hung", SimMode.HANG)
            text += camera_yaml("hung", "jpeg", sim.url("hung"), args.interval, index)
            registry = registry_from_yaml(text, source="bench")
            store = Store(f"sqlite:///{workdir / 'bench.sqlite'}")
            store.create_schema()
            create_camera_tables(store)
            frames = FrameStore(workdir / "cameras", keep=1000)
            settings = CameraSettings(
                connect_timeout=3.0, read_timeout=5.0, total_timeout=15.0, lease_seconds=30.0
            )
            poller = Poller(store, registry, frames, settings=settings)
            stop = threading.Event()
            thread = threading.Thread(
                target=poller.run_forever, args=(stop,), kwargs={"tick": 0.05}
            )
            print(
                f"{len(registry.cameras)} cameras ({', '.join(f'{k}: {c}' for k, c in plan)}, "
                f"1 hanging), every {args.interval:g} s, for {args.seconds:g} s …",
                flush=True,
            )
            started = time.monotonic()
            thread.start()
            time.sleep(args.seconds)
            stop.set()
            thread.join(timeout=60)
            elapsed = time.monotonic() - started
            history = list(poller.history)
            store.dispose()
    finally:
        if rtsp_process is not None:
            rtsp_process.kill()
            rtsp_process.wait()
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"ran {elapsed:.1f} s\n")
    head = ("camera", "kind", "polls", "failed", "max late ms", "late/interval")
    print(f"{head[0]:8} {head[1]:6} {head[2]:>5} {head[3]:>6} {head[4]:>11} {head[5]:>13}")
    worst = 0.0
    for camera_id, kind in kinds.items():
        polls = sorted((a for a in history if a.camera_id == camera_id), key=lambda a: a.started_at)
        failed = sum(not a.ok for a in polls)
        lateness = [
            (b.started_at - a.started_at).total_seconds() - args.interval
            for a, b in itertools.pairwise(polls)
        ]
        late = max(lateness, default=0.0)
        worst = max(worst, late) if failed == 0 else worst
        print(
            f"{camera_id:8} {kind:6} {len(polls):5d} {failed:6d} {late * 1000:11.0f} "
            f"{late / args.interval:13.3f}"
        )
    hung = [a for a in history if a.camera_id == "hung"]
    print(
        f"\nhanging camera: {len(hung)} attempt(s) finished "
        f"({', '.join(str(a.error_kind) for a in hung) or 'none: still hanging'})"
    )
    print(
        f"max lateness of any healthy camera: {worst * 1000:.0f} ms "
        f"= {worst / args.interval:.3f} × the interval"
    )


if __name__ == "__main__":
    main()
