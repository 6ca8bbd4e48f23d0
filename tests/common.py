"""Small shared test helpers and paths."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

#: The repository root.
ROOT = Path(__file__).resolve().parents[1]
#: ``../shared/data`` beside the checkout: real reference data, absent on a user's fresh clone.
SHARED_DATA = ROOT.parent / "shared" / "data"


def set_open_state(store: Any, shelter_ids: Iterable[str], open_state: str, actor: str) -> None:
    """Report ``open_state`` for every shelter in one batch to the live incident."""
    from disaster_dx.events import NewEvent

    store.append(
        store.live_incident().incident_id,
        [
            NewEvent("shelter.status_reported", {"shelter_id": s, "open_state": open_state})
            for s in shelter_ids
        ],
        actor=actor,
    )


def open_tsunami_shelters(store: Any, actor: str = "hq1") -> list[str]:
    """Open every shelter suitable for tsunami in the live incident; returns their ids."""
    from disaster_dx.model import Hazard

    tsunami = [s.shelter_id for s in store.shelters() if s.suits(Hazard.TSUNAMI)]
    set_open_state(store, tsunami, "open", actor)
    return tsunami


def camera_frame_payload(camera_id: str = "coast") -> dict[str, Any]:
    """A valid ``camera.frame`` payload (a routine event) for tests that need one in the log."""
    return {
        "camera_id": camera_id,
        "frame": "20260901T030000000000Z",
        "captured_at": "2026-09-01T03:00:00+00:00",
        "bytes": 1000,
        "width": 640,
        "height": 360,
        "sha256": "0" * 64,
    }


def replanned(app: Any, timeout: float = 30.0) -> None:
    """Wait for the app's background live re-planning to catch up with the writes so far."""
    from disaster_dx.web.context import runtime_of

    assert runtime_of(app.server).planner.wait_idle(timeout), "re-planning did not finish"
