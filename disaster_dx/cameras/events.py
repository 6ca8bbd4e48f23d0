"""Incident event types of cameras: health transitions (and the retired per-frame event)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from disaster_dx.cameras.frames import (  # every camera table, created by create_camera_tables
    CAMERA_FRAME,
    CAMERA_ID,
    parse_frame_key,
)
from disaster_dx.cameras.vocabulary import (
    FeedErrorKind,
)
from disaster_dx.events import EventSchema, register_event_type
from disaster_dx.model import IncidentKind
from disaster_dx.store import Store

# ---------------------------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------------------------

CAMERA_FEED_FAILED = "camera.feed_failed"
CAMERA_FEED_RECOVERED = "camera.feed_recovered"
CAMERA_FEED_FROZEN = "camera.feed_frozen"
CAMERA_FEED_UNFROZEN = "camera.feed_unfrozen"
#: Every health transition the poller logs (each carries its ``transition`` number).
CAMERA_HEALTH_EVENTS = (
    CAMERA_FEED_FAILED,
    CAMERA_FEED_RECOVERED,
    CAMERA_FEED_FROZEN,
    CAMERA_FEED_UNFROZEN,
)


def _camera_id_check(value: Any) -> str | None:
    if isinstance(value, str) and CAMERA_ID.match(value):
        return None
    return f"must be a camera id, not {value!r}"


def _frame_key_check(value: Any) -> str | None:
    if isinstance(value, str) and parse_frame_key(value) is not None:
        return None
    return f"must be a frame key like 20250101T030000000000Z, not {value!r}"


def _time_check(value: Any) -> str | None:
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        return f"must be an ISO 8601 time with a time zone, not {value!r}"
    return None


def _whole(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return f"must be a whole number ≥ 0, not {value!r}"
    return None


def _sha256_check(value: Any) -> str | None:
    if isinstance(value, str) and re.fullmatch(r"[0-9a-f]{64}", value):
        return None
    return "must be a SHA-256 hex digest"


def _error_kind_check(value: Any) -> str | None:
    if value in FeedErrorKind._value2member_map_:
        return None
    return f"must be one of {', '.join(k.value for k in FeedErrorKind)}"


def _short_text(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) > 300:
        return "must be text of at most 300 characters"
    return None


def _image_format_check(value: Any) -> str | None:
    return None if value in ("jpeg", "png") else "must be jpeg or png"


# Earlier releases logged every stored picture as a ``camera.frame`` event. Still registered
# so those logs validate, replay and render in the event log (as a routine event); nothing
# writes it any more — frames are rows of ``camera_frames`` (``backfill_frames_from_events``
# copies old ones there).
register_event_type(
    CAMERA_FRAME,
    EventSchema(
        required={
            "camera_id": _camera_id_check,
            "frame": _frame_key_check,
            "captured_at": _time_check,
            "bytes": _whole,
            "width": _whole,
            "height": _whole,
            "sha256": _sha256_check,
        },
        optional={"source_format": _image_format_check},
        subject_field="camera_id",
    ),
    label="カメラ画像の受信",
    label_en="Camera frame",
    routine=True,
)
register_event_type(
    CAMERA_FEED_FAILED,
    EventSchema(
        required={"camera_id": _camera_id_check, "error_kind": _error_kind_check},
        # ``detail`` (technical, English) was logged by earlier releases; it now stays in the
        # server log, and pages show ``error_kind`` in words.
        optional={
            "detail": _short_text,
            "last_frame": _frame_key_check,
            "transition": _whole,
        },
        subject_field="camera_id",
    ),
    label="カメラ映像の途絶",
    label_en="Camera feed lost",
)
register_event_type(
    CAMERA_FEED_RECOVERED,
    EventSchema(
        required={"camera_id": _camera_id_check, "failures": _whole},
        optional={"transition": _whole},
        subject_field="camera_id",
    ),
    label="カメラ映像の復旧",
    label_en="Camera feed back",
)
register_event_type(
    CAMERA_FEED_FROZEN,
    EventSchema(
        required={"camera_id": _camera_id_check, "polls": _whole},
        optional={"since": _time_check, "transition": _whole},
        subject_field="camera_id",
    ),
    label="カメラ映像が静止",
    label_en="Camera picture frozen",
)
register_event_type(
    CAMERA_FEED_UNFROZEN,
    EventSchema(
        required={"camera_id": _camera_id_check},
        optional={"transition": _whole},
        subject_field="camera_id",
    ),
    label="カメラ映像の静止が解消",
    label_en="Camera picture moving again",
)


def camera_event_incidents(store: Store) -> list[str]:
    """Incidents that log camera health changes: the live one, plus every open drill."""
    live = store.live_incident(actor="cameras").incident_id
    drills = [
        i.incident_id for i in store.incidents(kind=IncidentKind.DRILL) if i.closed_at is None
    ]
    return [live, *drills]
