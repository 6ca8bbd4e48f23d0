"""Scripted cameras: what a drill's script shows instead of a camera's live picture.

A drill's ``camera`` injects append ``camera.scripted`` events (see :mod:`disaster_dx.drills`);
the camera wall, the HQ map and replay read them here, so drawing a camera never needs the
drill module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from disaster_dx.config import BUNDLED_DATA_DIR
from disaster_dx.store import Store

#: The folder of bundled scenarios (南海トラフ地震・津波, 台風による河川洪水); drill pictures
#: are files in it.
SCENARIO_DIR = BUNDLED_DATA_DIR / "scenarios"
#: A scripted camera state (switch to a drill image, go offline, come back). Generic on
#: purpose: the camera module decides how to show it; replay and reports read it from the log.
CAMERA_SCRIPTED = "camera.scripted"


@dataclass(frozen=True)
class ScriptedCamera:
    """A camera the drill's script has taken over: a drill picture, or an outage.

    ``action`` is ``"image"`` (show :attr:`image`, a scenario file) or ``"offline"`` (show no
    picture and 停止). An ``"online"`` inject ends it: the live picture shows again.
    """

    camera_id: str
    action: str
    caption: str
    at: datetime
    image: str | None = None

    def image_path(self) -> Path | None:
        """The picture's file in :data:`SCENARIO_DIR`, or ``None`` (never outside that folder)."""
        if self.action != "image" or not self.image:
            return None
        root = SCENARIO_DIR.resolve()
        path = (root / self.image).resolve()
        if not path.is_relative_to(root) or path.suffix.lower() not in (".png", ".jpg", ".jpeg"):
            return None
        return path if path.is_file() else None


def scripted_cameras(
    store: Store, incident_id: str, *, until: datetime | None = None
) -> dict[str, ScriptedCamera]:
    """Cameras the drill's script shows as a drill picture or as out of order, by id.

    Read from the incident's ``camera.scripted`` events (up to ``until`` for replay), the
    latest per camera winning; a live incident has none.
    """
    scripted: dict[str, ScriptedCamera] = {}
    for event in store.iter_events(incident_id, until=until, types=[CAMERA_SCRIPTED]):
        payload = event.payload
        camera_id = str(payload["camera_id"])
        if payload["action"] == "online":
            scripted.pop(camera_id, None)
            continue
        scripted[camera_id] = ScriptedCamera(
            camera_id=camera_id,
            action=str(payload["action"]),
            caption=str(payload.get("caption") or ""),
            at=event.at,
            image=payload.get("image"),
        )
    return scripted
