"""Helpers for the camera tests: a hand-driven clock and registries pointing at a simulator."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from disaster_dx.camera_simulator import CameraSimulator
from disaster_dx.cameras import CameraRegistry, registry_from_yaml

T0 = datetime(2025, 9, 1, 3, 0, 0, tzinfo=UTC)


class ManualClock:
    """A clock that only moves when the test says so (thread-safe: pollers read it)."""

    def __init__(self, start: datetime = T0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = moment

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now


#: Positions of the bundled demo towers (ids match data/cameras.yaml).
TOWERS = {
    "coast": (133.6600, 33.5345, 165, 90, 2000, True),
    "river": (133.6790, 33.5790, 110, 70, 1200, True),
    "town": (133.6455, 33.5770, 230, 100, 700, False),
}


def registry_for(
    sim: CameraSimulator,
    cameras: dict[str, str],
    *,
    interval: float = 10,
    auth: dict[str, str] | None = None,
) -> CameraRegistry:
    """A registry of ``{camera id: "jpeg" | "mjpeg"}`` served by ``sim`` (YAML, parsed for real).

    ``auth`` maps a camera id to an auth block in YAML flow style, e.g.
    ``{scheme: digest, username: viewer, password_env: CAM_PW}``.
    """
    text = registry_yaml(sim, cameras, interval=interval, auth=auth)
    return registry_from_yaml(text, source="test registry")


def registry_yaml(
    sim: CameraSimulator,
    cameras: dict[str, str],
    *,
    interval: float = 10,
    auth: dict[str, str] | None = None,
) -> str:
    """The YAML text of :func:`registry_for`."""
    lines = ["version: 1", "cameras:"]
    for index, (camera_id, kind) in enumerate(cameras.items()):
        lon, lat, heading, fov, reach, public = TOWERS.get(
            camera_id, (133.60 + index * 0.01, 33.56, 180, 60, 500, False)
        )
        url = sim.url(camera_id, "mjpeg" if kind == "mjpeg" else "snapshot")
        lines += [
            f"  - id: {camera_id}",
            f"    name: {{ja: カメラ{camera_id}, en: Camera {camera_id}}}",
            f"    lon: {lon}",
            f"    lat: {lat}",
            f"    heading_deg: {heading}",
            f"    fov_deg: {fov}",
            f"    range_m: {reach}",
            f"    poll_interval_s: {interval}",
            f"    public: {'true' if public else 'false'}",
            "    feed:",
            f"      type: {kind}",
            f"      url: {url}",
        ]
        if auth and camera_id in auth:
            lines.append(f"      auth: {auth[camera_id]}")
    return "\n".join(lines) + "\n"
