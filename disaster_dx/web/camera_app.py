"""What every camera page needs of the app: its camera objects and a camera's health now.

Both the camera wall (:mod:`disaster_dx.web.cameras_web`) and the large view of one camera
(:mod:`disaster_dx.web.camera_view`) use these; living here, neither page imports the other
for them.
"""

from __future__ import annotations

from datetime import datetime

from disaster_dx.cameras import Camera, CameraSettings, CameraStatus, Health, health_of
from disaster_dx.runtime import Cameras
from disaster_dx.web.context import current


def camera_web() -> Cameras:
    """The camera objects of the app serving this request (set up by the runtime)."""
    cameras = current().runtime.cameras
    assert cameras is not None, "the app's runtime is built with camera settings"
    return cameras


def camera_health(
    camera: Camera, status: CameraStatus | None, now: datetime, settings: CameraSettings
) -> Health:
    """The camera's health at ``now`` with this app's stale and offline thresholds."""
    return health_of(
        camera,
        status,
        now,
        stale_factor=settings.stale_factor,
        offline_factor=settings.offline_factor,
    )
