"""The drill's event types (``drill.inject``, ``drill.control``, ``camera.scripted``) and actor.

Registered with the one event registry (:func:`disaster_dx.events.register_event_type`) by
:func:`register_drill_event_types`, which the package runs once on import; the schemas are
module constants, so running it again is harmless.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from disaster_dx.cameras.scripted import CAMERA_SCRIPTED
from disaster_dx.events import EventSchema, register_event_type
from disaster_dx.model import Hazard

#: Actor of everything the scenario writes (simulated field reports, warnings, messages).
#: A colon is not allowed in user names, so it can never be a member of staff.
DRILL_ACTOR = "drill:scenario"
#: Slowest and fastest drill speed (scenario seconds per real second), as ``drill.control``
#: records it; an inject's warning arrival is scaled by it too.
MIN_SPEED, MAX_SPEED = 1.0, 60.0

DRILL_INJECT = "drill.inject"
DRILL_CONTROL = "drill.control"
INJECT_KINDS = ("hazard", "hazard_cleared", "shelter", "area", "message", "camera")
CAMERA_ACTIONS = ("image", "offline", "online")
CONTROL_ACTIONS = ("start", "pause", "resume", "speed", "stop")


def _text_checker(limit: int, *, required: bool = False) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return f"must be text, not {type(value).__name__}"
        if required and not value.strip():
            return "must not be empty"
        if len(value) > limit:
            return f"must be at most {limit} characters, not {len(value)}"
        return None

    return check


def _index_checker(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return f"must be a whole number ≥ 0, not {value!r}"
    return None


def _number_checker(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return f"must be a number, not {value!r}"
    return None


def _choice_checker(choices: Sequence[str]) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if value in choices else f"must be one of {', '.join(choices)}"

    return check


def _ids_checker(value: Any) -> str | None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return "must be a list of ids"
    return None


#: The payload schemas, built once: registering the same objects again is allowed.
INJECT_SCHEMA = EventSchema(
    required={
        "index": _index_checker,
        "kind": _choice_checker(INJECT_KINDS),
        "offset": _text_checker(16, required=True),
        "summary": _text_checker(500, required=True),
    },
    optional={"shelters": _ids_checker},
)
CONTROL_SCHEMA = EventSchema(
    required={"action": _choice_checker(CONTROL_ACTIONS), "speed": _number_checker},
    optional={
        "elapsed_s": _number_checker,
        "scenario_title": _text_checker(300),
        "hazard": _choice_checker([h.value for h in Hazard]),
        "start_time": _text_checker(5),
        "needed_shelters": _ids_checker,
        "inject_count": _index_checker,
        "scenario_sha256": _text_checker(64),
        "end_s": _number_checker,
    },
)
CAMERA_SCRIPTED_SCHEMA = EventSchema(
    required={
        "camera_id": _text_checker(64, required=True),
        "action": _choice_checker(CAMERA_ACTIONS),
    },
    optional={"image": _text_checker(300), "caption": _text_checker(500)},
    subject_field="camera_id",
)


def register_drill_event_types() -> None:
    """Add the drill's event types to the one registry (idempotent).

    The one place drills register anything with the core; the package calls it on import, so
    every process that can read or write a drill's log knows its types.
    """
    register_event_type(
        DRILL_INJECT, INJECT_SCHEMA, label="訓練の状況付与", label_en="Drill inject"
    )
    register_event_type(
        DRILL_CONTROL, CONTROL_SCHEMA, label="訓練の進行操作", label_en="Drill control"
    )
    register_event_type(
        CAMERA_SCRIPTED,
        CAMERA_SCRIPTED_SCHEMA,
        label="訓練用カメラ映像",
        label_en="Drill camera script",
    )


register_drill_event_types()
