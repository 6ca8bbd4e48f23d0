"""The scenario file format as a JSON Schema (draft 2020-12), and its errors in plain words.

``data/scenarios/scenario.schema.json`` is the same schema for editors.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError

from disaster_dx.drills.events import CAMERA_ACTIONS, INJECT_KINDS
from disaster_dx.model import Crowding, Hazard, Labelled, Need, OpenState

#: The only scenario format version so far.
SCENARIO_VERSION = 1
#: Every scenario says what it is, so a file can never be mistaken for live data.
SCENARIO_LABEL = "訓練シナリオ"

OFFSET_PATTERN = r"^\+[0-9]{1,3}:[0-5][0-9]:[0-5][0-9]$"
#: Camera ids as the camera registry (``data/cameras.yaml``) allows them.
CAMERA_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"
TIME_OF_DAY_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


def _labels(enum: Iterable[Labelled]) -> list[str]:
    """Codes and Japanese labels: a scenario may say ``open`` or ``開設``."""
    members = list(enum)
    return [m.value for m in members] + [m.ja for m in members]


def _build_schema() -> dict[str, Any]:
    text = {"type": "string", "minLength": 1, "maxLength": 2000}
    short = {"type": "string", "minLength": 1, "maxLength": 200}
    count = {"type": "integer", "minimum": 0, "maximum": 1_000_000}
    hazard = {"enum": _labels(Hazard), "description": "hazard code or Japanese label"}
    offset = {
        "type": "string",
        "pattern": OFFSET_PATTERN,
        "description": 'time after the drill starts, "+HH:MM:SS"',
    }
    refs = {
        "type": "array",
        "items": {"type": "string", "minLength": 1},
        "description": "shelter ids or exact names from the shelter master",
    }
    needs = {"type": "array", "items": {"enum": _labels(Need)}, "uniqueItems": True}
    common = {"at": offset, "kind": {"enum": list(INJECT_KINDS)}}
    kinds: dict[str, tuple[dict[str, Any], list[str]]] = {
        "hazard": (
            {
                "hazard": hazard,
                "title": short,
                "detail": text,
                "arrival_in": offset,
                "shelters": refs,
            },
            ["hazard", "title"],
        ),
        "hazard_cleared": ({"hazard": hazard, "detail": text}, ["hazard"]),
        "shelter": (
            {
                "shelter": {"type": "string", "minLength": 1},
                "open_state": {"enum": _labels(OpenState)},
                "evacuees": count,
                "voluntary_evacuees": count,
                "households": count,
                "capacity": {"type": ["integer", "null"], "minimum": 0, "maximum": 1_000_000},
                "crowding": {"enum": [*_labels(Crowding), "auto", "自動"]},
                "needs": needs,
                "urgent_needs": needs,
                "other_needs": {"type": "string", "maxLength": 500},
                "pets_accepted": {"type": ["boolean", "null"]},
                "barrier_free": {"type": ["boolean", "null"]},
                "public_note": {"type": "string", "maxLength": 500},
                "internal_note": {"type": "string", "maxLength": 2000},
                "staffed": {"type": ["boolean", "null"]},
                "correction": {"type": "boolean"},
                "reason": {"type": "string", "maxLength": 200},
            },
            ["shelter"],
        ),
        "area": (
            {
                "area": short,
                "at_home": count,
                "in_car": count,
                "note": {"type": "string", "maxLength": 500},
            },
            ["area"],
        ),
        "message": ({"text": text, "to": short, "shelters": refs}, ["text"]),
        "camera": (
            {
                "camera": {"type": "string", "pattern": CAMERA_ID_PATTERN},
                "action": {"enum": list(CAMERA_ACTIONS)},
                "image": {"type": "string", "minLength": 1, "maxLength": 300},
                "caption": {"type": "string", "maxLength": 500},
            },
            ["camera", "action"],
        ),
    }
    rules = [
        {
            "if": {"properties": {"kind": {"const": name}}, "required": ["kind"]},
            "then": {
                "properties": {**common, **properties},
                "required": ["at", "kind", *required],
                "additionalProperties": False,
            },
        }
        for name, (properties, required) in kinds.items()
    ]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/disaster-dx/disaster_dx/scenario.schema.json",
        "title": "disaster_dx 訓練シナリオ (drill scenario)",
        "type": "object",
        "required": ["version", "label", "title", "hazard", "start_time", "injects"],
        "additionalProperties": False,
        "properties": {
            "version": {"const": SCENARIO_VERSION},
            "label": {"const": SCENARIO_LABEL},
            "title": short,
            "hazard": hazard,
            "start_time": {
                "type": "string",
                "pattern": TIME_OF_DAY_PATTERN,
                "description": 'time of day the scenario starts, "HH:MM" (JST)',
            },
            "description": {"type": "string", "maxLength": 4000},
            "origin": {"type": "string", "maxLength": 500},
            "duration": offset,
            "needed_shelters": refs,
            "injects": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["at", "kind"],
                    "properties": common,
                    "allOf": rules,
                },
            },
        },
    }


#: The scenario file format as a JSON Schema (draft 2020-12).
SCENARIO_SCHEMA: dict[str, Any] = _build_schema()
_VALIDATOR = Draft202012Validator(SCENARIO_SCHEMA)


_TYPE_WORDS = {
    "string": "文字列",
    "integer": "整数",
    "number": "数値",
    "array": "リスト",
    "object": "項目の並び（key: value）",
    "boolean": "true / false",
    "null": "空（null）",
}


def _schema_message(error: SchemaError) -> str:
    value = error.instance
    validator = error.validator
    if validator == "required":
        name = re.search(r"'([^']+)' is a required property", error.message)
        return f"必須の項目「{name.group(1) if name else '?'}」がありません"
    if validator == "type":
        expected = error.validator_value
        names = expected if isinstance(expected, list) else [expected]
        words = "・".join(_TYPE_WORDS.get(str(n), str(n)) for n in names)
        return f"{words}で書いてください（今は {value!r}）"
    if validator == "enum":
        choices = error.validator_value
        shown = "、".join(str(c) for c in choices[:24])
        return f"{value!r} は使えません。使える値: {shown}"
    if validator == "const":
        return f"{error.validator_value!r} と書いてください（今は {value!r}）"
    if validator == "pattern":
        if error.validator_value == OFFSET_PATTERN:
            return f'時刻は開始からの経過時間 "+HH:MM:SS" で書いてください（今は {value!r}）'
        if error.validator_value == TIME_OF_DAY_PATTERN:
            return f'開始時刻は "HH:MM"（24時間制）で書いてください（今は {value!r}）'
        return f"{value!r} は書式が違います（{error.validator_value}）"
    if validator == "minimum":
        return f"{error.validator_value} 以上にしてください（今は {value!r}）"
    if validator == "maximum":
        return f"{error.validator_value} 以下にしてください（今は {value!r}）"
    if validator == "minLength":
        return "空にできません"
    if validator == "maxLength":
        return f"{error.validator_value} 文字以内にしてください（今は {len(value)} 文字）"
    if validator == "minItems":
        return f"少なくとも {error.validator_value} 件必要です"
    if validator == "uniqueItems":
        return "同じ値が2回書かれています"
    return str(error.message)
