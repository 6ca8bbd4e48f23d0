"""Training drills: scenario files, drill incidents, the inject scheduler, replay and export.

The city runs 災害対策本部運営訓練 with the real HQ screens. A drill is an ordinary incident of
kind ``drill``: staff work in it exactly as in a live one, and a scheduler appends the
scenario's injects (状況付与) to it at their times. Because a drill is just another incident
with its own event log, it never touches live state or the public snapshot, and replaying it
afterwards is the same :func:`~disaster_dx.events.fold` the live screens use.

Scenario files
    YAML (or JSON, which is YAML) checked against :data:`SCENARIO_SCHEMA`, a JSON Schema
    (draft 2020-12; ``data/scenarios/scenario.schema.json`` is the same schema for editors).
    Every problem is reported at once with its line, from the YAML parser's node marks, and
    shelters are named by id or by their exact name in the real master.

The scheduler and its lease
    :class:`DrillScheduler` fires due injects of every running drill. Its working state (speed,
    pause, how many injects fired) is a row of ``drill_runs``, so any app worker can pause or
    speed up a drill and the scheduler picks it up. Exactly one scheduler fires per deployment:
    it must hold the ``drill-scheduler`` lease (:mod:`disaster_dx.leases`), which it renews
    while alive; another process takes over only after the lease expires. It runs either as
    ``disaster-dx drill run`` (a separate process, recommended with several gunicorn workers)
    or as a daemon thread the web app starts when an operator starts a drill; both compete for
    the same lease.

Replay
    :func:`state_at` gives the state at any instant from the nearest earlier snapshot plus a
    fold of the events after it (:mod:`disaster_dx.projection`, which keeps snapshots for live
    incidents and drills alike), so a 100k-event incident is answered in milliseconds.

Record → scenario
    :func:`scenario_from_incident` turns any incident's log into a new scenario file, so a real
    event or a good drill becomes next year's drill.

The tables here live on their own :data:`drill_metadata`; :func:`create_drill_tables` creates
them beside the store's schema.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import socket
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError
from sqlalchemy import (
    JSON,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)

from disaster_dx import leases
from disaster_dx._parsing import check_bytes, read_limited
from disaster_dx._time import JST, to_jst
from disaster_dx.cameras.scripted import (  # what a drill's camera injects show
    CAMERA_SCRIPTED,
    SCENARIO_DIR,
    ScriptedCamera,
    scripted_cameras,
)
from disaster_dx.errors import (
    DisasterDxError,
    ImportFileError,
    NotFoundError,
    PayloadError,
    Problem,
    ValidationError,
)
from disaster_dx.events import (
    AREA_OUTSIDE_REPORTED,
    HAZARD_ANNOUNCED,
    HAZARD_CLEARED,
    INCIDENT_MESSAGE,
    SHELTER_CORRECTION,
    SHELTER_STATUS_REPORTED,
    Event,
    EventSchema,
    NewEvent,
    State,
    register_event_type,
    validate_payload,
)
from disaster_dx.model import Crowding, Hazard, IncidentKind, Labelled, Need, OpenState, Shelter
from disaster_dx.projection import SHELTER_TIME_FIELDS, shelter_to_dict
from disaster_dx.store import Incident, Store, UTCDateTime, events_table
from disaster_dx.yaml_lines import load_yaml_lines

log = logging.getLogger(__name__)

#: The only scenario format version so far.
SCENARIO_VERSION = 1
#: Every scenario says what it is, so a file can never be mistaken for live data.
SCENARIO_LABEL = "訓練シナリオ"
#: Actor of everything the scenario writes (simulated field reports, warnings, messages).
#: A colon is not allowed in user names, so it can never be a member of staff.
DRILL_ACTOR = "drill:scenario"
#: Slowest and fastest drill speed (scenario seconds per real second).
MIN_SPEED, MAX_SPEED = 1.0, 60.0
#: How long a scheduler's lease lasts without renewal.
LEASE_SECONDS = 15.0
#: Flask session key (and ``active_incident_for`` argument) of a user's drill choice.
DRILL_SESSION_KEY = "dx_drill_incident"

Clock = Callable[[], datetime]

# ---------------------------------------------------------------------------------------------
# Event types owned by drills
# ---------------------------------------------------------------------------------------------

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


register_event_type(
    DRILL_INJECT,
    EventSchema(
        required={
            "index": _index_checker,
            "kind": _choice_checker(INJECT_KINDS),
            "offset": _text_checker(16, required=True),
            "summary": _text_checker(500, required=True),
        },
        optional={"shelters": _ids_checker},
    ),
    label="訓練の状況付与",
    label_en="Drill inject",
)
register_event_type(
    DRILL_CONTROL,
    EventSchema(
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
    ),
    label="訓練の進行操作",
    label_en="Drill control",
)
register_event_type(
    CAMERA_SCRIPTED,
    EventSchema(
        required={
            "camera_id": _text_checker(64, required=True),
            "action": _choice_checker(CAMERA_ACTIONS),
        },
        optional={"image": _text_checker(300), "caption": _text_checker(500)},
        subject_field="camera_id",
    ),
    label="訓練用カメラ映像",
    label_en="Drill camera script",
)

# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScenarioProblem(Problem):
    """A problem in a scenario file, with the 1-based line and column it was found at."""

    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class ScenarioError(ValidationError):
    """A scenario file was rejected; ``problems`` are :class:`ScenarioProblem` with lines."""

    problems: tuple[ScenarioProblem, ...]

    def lines(self, source: str | None = None) -> list[str]:
        """Compiler-style lines ``file:line:column: message`` for the CLI and the page."""
        name = source or self.what
        return [f"{name}:{p.line}:{p.column}: {p.message}" for p in self.problems]


class DrillError(DisasterDxError):
    """A drill command cannot be done now (wrong state, unknown drill, bad speed)."""


# ---------------------------------------------------------------------------------------------
# The scenario JSON Schema
# ---------------------------------------------------------------------------------------------

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

# ---------------------------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Inject:
    """One scripted event of a scenario (状況付与), resolved against the shelter master.

    ``events`` are the domain events it appends (without ``arrival_at``, which depends on when
    it fires); ``shelters`` are the shelters it concerns, for "inject → first HQ action".
    """

    index: int
    offset: timedelta
    kind: str
    summary: str
    events: tuple[NewEvent, ...]
    shelters: tuple[str, ...] = ()
    arrival_in: timedelta | None = None
    line: int = 0

    def new_events(self, *, fired_at: datetime, speed: float = 1.0) -> list[NewEvent]:
        """The marker plus the domain events to append when the inject fires at ``fired_at``.

        A warning's ``arrival_at`` is the firing time plus ``arrival_in`` at the drill's speed
        then, so a 60× drill shows the arrival coming 60× sooner, as its other injects do.
        """
        marker: dict[str, Any] = {
            "index": self.index,
            "kind": self.kind,
            "offset": format_offset(self.offset),
            "summary": self.summary[:500],
        }
        if self.shelters:
            marker["shelters"] = list(self.shelters)
        out = [NewEvent(DRILL_INJECT, marker)]
        for new in self.events:
            payload = dict(new.payload)
            if new.type == HAZARD_ANNOUNCED and self.arrival_in is not None:
                arrival = fired_at + self.arrival_in / max(speed, MIN_SPEED)
                payload["arrival_at"] = arrival.isoformat()
            out.append(NewEvent(new.type, payload))
        return out

    def to_spec(self) -> dict[str, Any]:
        """JSON form kept in ``drill_runs`` (the run never needs the master again)."""
        return {
            "index": self.index,
            "offset_s": int(self.offset.total_seconds()),
            "kind": self.kind,
            "summary": self.summary,
            "events": [{"type": e.type, "payload": dict(e.payload)} for e in self.events],
            "shelters": list(self.shelters),
            "arrival_in_s": None if self.arrival_in is None else self.arrival_in.total_seconds(),
            "line": self.line,
        }

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Inject:
        """Inverse of :meth:`to_spec`."""
        arrival = spec.get("arrival_in_s")
        return cls(
            index=int(spec["index"]),
            offset=timedelta(seconds=spec["offset_s"]),
            kind=str(spec["kind"]),
            summary=str(spec["summary"]),
            events=tuple(NewEvent(e["type"], e["payload"]) for e in spec["events"]),
            shelters=tuple(spec.get("shelters") or ()),
            arrival_in=None if arrival is None else timedelta(seconds=arrival),
            line=int(spec.get("line") or 0),
        )


@dataclass(frozen=True)
class Scenario:
    """A validated scenario: metadata and its injects in firing order."""

    title: str
    hazard: Hazard
    start_time: time_of_day
    injects: tuple[Inject, ...]
    description: str = ""
    needed_shelters: tuple[str, ...] = ()
    duration: timedelta | None = None
    origin: str = ""
    source: str = "<scenario>"
    text: str = field(default="", repr=False)

    @property
    def sha256(self) -> str:
        """Hash of the file text, recorded with the drill (which version was run)."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def length(self) -> timedelta:
        """Scenario length: ``duration`` if given, else the last inject's offset."""
        last = self.injects[-1].offset if self.injects else timedelta(0)
        return max(self.duration or timedelta(0), last)


#: The latest scenario time an inject can have (``+999:59:59``, :data:`OFFSET_PATTERN`).
MAX_OFFSET = timedelta(hours=999, minutes=59, seconds=59)


def format_offset(offset: timedelta) -> str:
    """``+HH:MM:SS`` for a scenario offset (whole seconds, rounded)."""
    seconds = max(0, round(offset.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"+{hours:02d}:{minutes:02d}:{secs:02d}"


def parse_offset(text: str) -> timedelta:
    """Inverse of :func:`format_offset`; raises ``ValueError`` for any other form."""
    if not re.match(OFFSET_PATTERN, text):
        raise ValueError(f'offset must look like "+HH:MM:SS", not {text!r}')
    hours, minutes, seconds = (int(p) for p in text[1:].split(":"))
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


def known_camera_ids(store: Store | None = None) -> frozenset[str] | None:
    """Camera ids of the deployment's registry, or None when no registry can be read.

    Scenarios name cameras by registry id; validating against the registry catches a typo
    before the drill. Without a readable registry any well-formed id is accepted.
    """
    try:
        from disaster_dx import cameras  # the camera module is optional for drills

        if store is not None:
            registered = cameras.registered_cameras(store)
            if registered:
                return frozenset(c.camera_id for c in registered)
        return frozenset(cameras.load_registry().ids)
    except Exception:  # no camera module, tables or file: nothing to check against
        log.debug("no camera registry to check scenario cameras against", exc_info=True)
        return None


def bundled_scenarios() -> list[Path]:
    """The scenario files shipped in ``data/scenarios``."""
    return sorted(SCENARIO_DIR.glob("*.yaml"))


def load_scenario(
    path: str | Path, *, shelters: Sequence[Shelter], camera_ids: Collection[str] | None = None
) -> Scenario:
    """Read and validate a scenario file (see :func:`parse_scenario`)."""
    path = Path(path)
    try:
        data = read_limited(path, "yaml")
    except ImportFileError as exc:
        problems = [ScenarioProblem(p.where, p.message, line=1, column=1) for p in exc.problems]
        raise ScenarioError(path.name, problems) from None
    return parse_scenario(
        data, shelters=shelters, source=path.name, base_dir=path.parent, camera_ids=camera_ids
    )


def parse_scenario(
    text: str | bytes,
    *,
    shelters: Sequence[Shelter],
    source: str = "<scenario>",
    base_dir: Path | None = None,
    camera_ids: Collection[str] | None = None,
) -> Scenario:
    """Validate a scenario against the schema and the shelter master, all problems at once.

    Parameters
    ----------
    text
        The file's content (UTF-8, BOM allowed).
    shelters
        The active shelter master: injects name shelters by id or exact name.
    source
        File name used in messages.
    base_dir
        Folder of the file; camera images are looked up relative to it, then relative to
        :data:`SCENARIO_DIR` (so an exported scenario saved elsewhere still finds them).
    camera_ids
        Known camera ids; ``None`` accepts any well-formed id (the camera registry may not be
        configured).

    Raises
    ------
    ScenarioError
        Every problem, each with its line and column.
    """
    checker = _ScenarioChecker(shelters, source=source, base_dir=base_dir, camera_ids=camera_ids)
    return checker.check(text)


class _Marks:
    """Where each value (and each mapping key) of a YAML document was."""

    def __init__(self) -> None:
        self.values: dict[tuple[Any, ...], tuple[int, int]] = {}
        self.keys: dict[tuple[Any, ...], tuple[int, int]] = {}

    def of(self, path: tuple[Any, ...]) -> tuple[int, int]:
        """Line and column of the value at ``path`` (or of its nearest parent)."""
        while path not in self.values and path:
            path = path[:-1]
        return self.values.get(path, (1, 1))

    def key(self, path: tuple[Any, ...]) -> tuple[int, int]:
        """Line and column of the key naming ``path`` (falls back to the value)."""
        return self.keys.get(path) or self.of(path)


def _compose(text: str, marks: _Marks, problems: list[ScenarioProblem]) -> Any:
    """Parse YAML with the shared reader, keeping every value's and key's position.

    :func:`disaster_dx.yaml_lines.load_yaml_lines` reads YAML 1.2 scalars (``9:00`` and
    ``2025-04-01`` stay text, which is what a scenario author meant); a duplicate key is an
    error here, never an overwrite.
    """
    located = load_yaml_lines(text)  # no aliases, bounded depth and size: see _parsing
    marks.values.update(located.values)
    marks.keys.update(located.keys)
    for issue in located.issues:
        if issue.kind == "duplicate":
            message = (
                f"項目「{issue.key}」が2回書かれています（前の値は上書きされません）"
                f" / duplicate key {issue.key!r}"
            )
        else:
            message = "項目名はリストや項目の並びにできません / a key must be text"
        problems.append(_problem(issue.path, message, issue.mark))
    return located.data


def _path_text(path: Sequence[Any]) -> str:
    """``("injects", 3, "evacuees")`` → ``状況付与4件目 › evacuees`` (counted from 1)."""
    parts: list[str] = []
    for position, item in enumerate(path):
        if isinstance(item, int) and position == 1 and path[0] == "injects":
            parts[-1] = f"状況付与{item + 1}件目"
        elif isinstance(item, int):
            parts.append(f"{item + 1}番目")
        else:
            parts.append(str(item))
    return " › ".join(parts) if parts else "ファイル全体"


def _problem(path: Sequence[Any], message: str, mark: tuple[int, int]) -> ScenarioProblem:
    line, column = mark
    return ScenarioProblem(
        where=f"line {line}", message=f"{_path_text(path)}: {message}", line=line, column=column
    )


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


_STATUS_KEYS = (
    "open_state",
    "evacuees",
    "voluntary_evacuees",
    "households",
    "capacity",
    "crowding",
    "needs",
    "urgent_needs",
    "other_needs",
    "pets_accepted",
    "barrier_free",
    "public_note",
    "internal_note",
    "staffed",
)
#: Payload field → scenario key, where they differ (for placing payload problems on lines).
_PAYLOAD_KEYS = {
    "crowding_override": "crowding",
    "shelter_id": "shelter",
    "camera_id": "camera",
}
_CAMERA_WORDS = {"image": "訓練用画像に切替", "offline": "停止（映像なし）", "online": "復旧"}


def _normalised(name: str) -> str:
    """A name compared loosely, only to suggest the exact one (全角/半角, spaces)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name))


class _ScenarioChecker:
    """One validation pass: collects every problem, then builds the scenario or raises."""

    def __init__(
        self,
        shelters: Sequence[Shelter],
        *,
        source: str,
        base_dir: Path | None,
        camera_ids: Collection[str] | None,
    ) -> None:
        self.source = source
        self.base_dir = base_dir
        self.camera_ids = None if camera_ids is None else set(camera_ids)
        self.by_id = {s.shelter_id: s for s in shelters}
        self.by_name: dict[str, list[Shelter]] = {}
        self.by_loose: dict[str, list[Shelter]] = {}
        for shelter in shelters:
            self.by_name.setdefault(shelter.name, []).append(shelter)
            self.by_loose.setdefault(_normalised(shelter.name), []).append(shelter)
        self.marks = _Marks()
        self.problems: list[ScenarioProblem] = []

    def add(self, path: Sequence[Any], message: str, *, key: bool = False) -> None:
        mark = self.marks.key(tuple(path)) if key else self.marks.of(tuple(path))
        self.problems.append(_problem(path, message, mark))

    def fail(self) -> ScenarioError:
        # The schema may report one bad value twice (base shape and kind rules): once is enough.
        unique = {(p.line, p.column, p.message): p for p in self.problems}
        ordered = sorted(unique.values(), key=lambda p: (p.line, p.column))
        return ScenarioError(self.source, ordered)

    def check(self, raw: str | bytes) -> Scenario:
        try:
            check_bytes(raw, self.source, "yaml")
        except ImportFileError as exc:
            message = exc.problems[0].message
            self.problems.append(ScenarioProblem("line 1", message, line=1, column=1))
            raise self.fail() from None
        text = self._decode(raw)
        if text is None:
            raise self.fail()
        try:
            data = _compose(text, self.marks, self.problems)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            detail = " ".join(str(p) for p in (exc.context, exc.problem) if p)
            start = exc.context_mark
            if start is not None and mark is not None and start.line != mark.line:
                detail += f"（{start.line + 1}行目から）"
            self.problems.append(
                ScenarioProblem(
                    where=f"line {line}",
                    message=f"YAMLの書き方に誤りがあります: {detail}",
                    line=line,
                    column=column,
                )
            )
            raise self.fail() from None
        if not isinstance(data, dict):
            self.add((), "シナリオは「項目: 値」の並び（YAMLのマッピング）で書いてください")
            raise self.fail()

        bad_injects: set[int] = set()
        top_level_bad = False
        for error in _VALIDATOR.iter_errors(data):
            path = tuple(error.absolute_path)
            if len(path) >= 2 and path[0] == "injects" and isinstance(path[1], int):
                bad_injects.add(path[1])
            else:
                top_level_bad = True
            self._schema_problem(error, path)
        raw_injects = data.get("injects")
        injects_data: list[Any] = raw_injects if isinstance(raw_injects, list) else []

        injects: list[Inject] = []
        for index, item in enumerate(injects_data):
            if index in bad_injects or not isinstance(item, dict):
                continue
            built = self._inject(index, item)
            if built is not None:
                injects.append(built)

        hazards_announced = {
            Hazard.parse(i["hazard"])
            for i in injects_data
            if isinstance(i, dict)
            and i.get("kind") == "hazard"
            and isinstance(i.get("hazard"), str)
            and _parses(Hazard, i["hazard"])
        }
        needed: list[str] = []
        main_hazard: Hazard | None = None
        if isinstance(data.get("hazard"), str) and _parses(Hazard, data["hazard"]):
            main_hazard = Hazard.parse(data["hazard"])
            hazards_announced.add(main_hazard)
        if isinstance(data.get("needed_shelters"), list):
            for i, ref in enumerate(data["needed_shelters"]):
                if not isinstance(ref, str):
                    continue
                shelter = self._shelter(("needed_shelters", i), ref)
                if shelter is None:
                    continue
                if not shelter.hazards & hazards_announced:
                    flagged = "・".join(h.ja for h in Hazard if h in shelter.hazards) or "なし"
                    wanted = "・".join(h.ja for h in Hazard if h in hazards_announced)
                    self.add(
                        ("needed_shelters", i),
                        f"「{shelter.name}」はこのシナリオの災害（{wanted}）の避難先に"
                        f"指定されていません（指定: {flagged}）",
                    )
                    continue
                if shelter.shelter_id in needed:
                    self.add(("needed_shelters", i), f"「{shelter.name}」が2回あります")
                    continue
                needed.append(shelter.shelter_id)

        duration = None
        if isinstance(data.get("duration"), str) and re.match(OFFSET_PATTERN, data["duration"]):
            duration = parse_offset(data["duration"])
            for inject in injects:
                if inject.offset > duration:
                    self.add(
                        ("injects", inject.index, "at"),
                        f"{format_offset(inject.offset)} はシナリオの長さ "
                        f"{data['duration']} を過ぎています",
                    )

        if self.problems or top_level_bad or bad_injects or main_hazard is None:
            raise self.fail()
        injects.sort(key=lambda i: (i.offset, i.index))
        ordered = tuple(
            Inject(n, i.offset, i.kind, i.summary, i.events, i.shelters, i.arrival_in, i.line)
            for n, i in enumerate(injects)
        )
        hour, minute = (int(p) for p in data["start_time"].split(":"))
        return Scenario(
            title=data["title"],
            hazard=main_hazard,
            start_time=time_of_day(hour, minute),
            injects=ordered,
            description=data.get("description", ""),
            needed_shelters=tuple(needed),
            duration=duration,
            origin=data.get("origin", ""),
            source=self.source,
            text=text,
        )

    def _decode(self, raw: str | bytes) -> str | None:
        if isinstance(raw, str):
            return raw.removeprefix("\ufeff")
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            self.problems.append(
                ScenarioProblem(
                    where=f"line {line}",
                    message="ファイルは UTF-8 で保存してください"
                    "（Shift_JIS などの文字コードは読めません）",
                    line=line,
                    column=1,
                )
            )
            return None

    def _schema_problem(self, error: SchemaError, path: tuple[Any, ...]) -> None:
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = set(error.schema.get("properties", {}))
            where = "シナリオ" if not path else "この状況付与"
            for key in error.instance:
                if key not in allowed:
                    self.add(
                        (*path, key),
                        f"「{key}」は{where}の項目ではありません"
                        f"（使える項目: {', '.join(sorted(allowed))}）",
                        key=True,
                    )
            return
        self.add(path, _schema_message(error))

    def _shelter(self, path: tuple[Any, ...], ref: str) -> Shelter | None:
        if ref in self.by_id:
            return self.by_id[ref]
        found = self.by_name.get(ref, [])
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            ids = "、".join(s.shelter_id for s in found)
            self.add(
                path,
                f"「{ref}」という名前の避難所が{len(found)}か所あります。"
                f"IDで指定してください（{ids}）",
            )
            return None
        near = self.by_loose.get(_normalised(ref), [])
        hint = f"。「{near[0].name}」（{near[0].shelter_id}）のことですか？" if near else ""
        self.add(path, f"避難所「{ref}」は避難所台帳にありません（IDか正確な名称で）{hint}")
        return None

    def _inject(self, index: int, item: dict[str, Any]) -> Inject | None:
        path: tuple[Any, ...] = ("injects", index)
        before = len(self.problems)
        kind = item["kind"]
        offset = parse_offset(item["at"])
        line = self.marks.of(path)[0]
        shelters: list[str] = []
        for i, ref in enumerate(item.get("shelters") or []):
            shelter = self._shelter((*path, "shelters", i), ref)
            if shelter is not None:
                shelters.append(shelter.shelter_id)
        events: list[NewEvent] = []
        arrival = None
        summary = ""
        if kind == "hazard":
            hazard = Hazard.parse(item["hazard"])
            payload = {"hazard": hazard.value, "title": item["title"]}
            if "detail" in item:
                payload["detail"] = item["detail"]
            events.append(NewEvent(HAZARD_ANNOUNCED, payload))
            summary = f"{hazard.ja}：{item['title']}"
            if "arrival_in" in item:
                arrival = parse_offset(item["arrival_in"])
                summary += f"（到達予想 {format_offset(arrival)}）"
        elif kind == "hazard_cleared":
            hazard = Hazard.parse(item["hazard"])
            payload = {"hazard": hazard.value}
            if "detail" in item:
                payload["detail"] = item["detail"]
            events.append(NewEvent(HAZARD_CLEARED, payload))
            summary = f"{hazard.ja}の警報等を解除"
        elif kind == "shelter":
            shelter = self._shelter((*path, "shelter"), item["shelter"])
            if shelter is None:
                return None
            shelters.insert(0, shelter.shelter_id)
            event, summary = self._shelter_event(path, shelter, item)
            if event is None:
                return None
            events.append(event)
        elif kind == "area":
            payload = {k: item[k] for k in ("area", "at_home", "in_car", "note") if k in item}
            events.append(NewEvent(AREA_OUTSIDE_REPORTED, payload))
            counts = [
                f"{word}{item[k]}人"
                for k, word in (("at_home", "在宅避難"), ("in_car", "車中泊"))
                if k in item
            ]
            summary = f"{item['area']}：" + ("・".join(counts) or item.get("note", ""))
        elif kind == "message":
            payload = {"text": item["text"]}
            if "to" in item:
                payload["to"] = item["to"]
            events.append(NewEvent(INCIDENT_MESSAGE, payload))
            recipient = f"{item['to']}へ：" if "to" in item else "本部へ："
            summary = recipient + item["text"].replace("\n", " ")
        elif kind == "camera":
            camera_id = item["camera"]
            if self.camera_ids is not None and camera_id not in self.camera_ids:
                self.add((*path, "camera"), f"カメラ「{camera_id}」はカメラ台帳にありません")
            if item["action"] == "image" and "image" not in item:
                self.add(path, "action: image には表示する画像（image）が必要です")
            if "image" in item:
                self._check_image((*path, "image"), item["image"])
            payload = {"camera_id": camera_id, "action": item["action"]}
            for key in ("image", "caption"):
                if key in item:
                    payload[key] = item[key]
            events.append(NewEvent(CAMERA_SCRIPTED, payload))
            summary = f"カメラ {camera_id}：{_CAMERA_WORDS[item['action']]}"
            if item.get("caption"):
                summary += f"（{item['caption']}）"
        for event in events:
            try:
                validate_payload(event.type, event.payload)
            except PayloadError as exc:
                for problem in exc.problems:
                    key = _PAYLOAD_KEYS.get(problem.where, problem.where)
                    if key in item:
                        self.add((*path, key), problem.message)
                    else:
                        self.add(path, f"{key}: {problem.message}")
        if len(self.problems) > before:
            return None
        return Inject(
            index=index,
            offset=offset,
            kind=kind,
            summary=summary,
            events=tuple(events),
            shelters=tuple(dict.fromkeys(shelters)),
            arrival_in=arrival,
            line=line,
        )

    def _shelter_event(
        self, path: tuple[Any, ...], shelter: Shelter, item: dict[str, Any]
    ) -> tuple[NewEvent | None, str]:
        payload: dict[str, Any] = {"shelter_id": shelter.shelter_id}
        words: list[str] = []
        for key in _STATUS_KEYS:
            if key not in item:
                continue
            value = item[key]
            if key == "open_state":
                state = OpenState.parse(value)
                payload[key] = state.value
                words.append(state.ja)
            elif key == "crowding":
                level = None if value in ("auto", "自動") else Crowding.parse(value)
                payload["crowding_override"] = None if level is None else level.value
                words.append(f"混雑状況 {level.ja if level else '自動'}")
            elif key in ("needs", "urgent_needs"):
                needs = sorted({Need.parse(v).value for v in value})
                payload[key] = needs
                if needs:
                    label = "至急" if key == "urgent_needs" else "要望"
                    words.append(f"{label} " + "・".join(n.ja for n in Need if n.value in needs))
            else:
                payload[key] = value
                if key == "evacuees":
                    words.append(f"避難者{value}人")
        correction = bool(item.get("correction"))
        if "reason" in item and not correction:
            self.add((*path, "reason"), "reason（訂正理由）は correction: true のときだけ書けます")
            return None, ""
        if correction:
            payload["reason"] = item.get("reason", "")
            words.append("（訂正）")
        event_type = SHELTER_CORRECTION if correction else SHELTER_STATUS_REPORTED
        return NewEvent(event_type, payload), f"{shelter.name}：" + "・".join(words)

    def _check_image(self, path: tuple[Any, ...], image: str) -> None:
        relative = Path(image)
        if relative.is_absolute() or ".." in relative.parts:
            self.add(path, "画像はシナリオと同じフォルダからの相対パスで書いてください")
            return
        folders = [d for d in (self.base_dir, SCENARIO_DIR) if d is not None]
        if self.base_dir is not None and not any((d / relative).is_file() for d in folders):
            self.add(
                path,
                f"画像ファイル {image} が見つかりません"
                "（シナリオと同じフォルダか data/scenarios に置いてください）",
            )


def _parses(enum: type[Labelled], value: str) -> bool:
    try:
        enum.parse(value)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# Tables (own MetaData, created beside the store's schema)
# ---------------------------------------------------------------------------------------------

#: The drill module's own tables; :func:`create_drill_tables` creates them.
drill_metadata = MetaData()

drill_runs = Table(
    "drill_runs",
    drill_metadata,
    Column("incident_id", String(64), primary_key=True),
    Column("scenario_title", String(300), nullable=False),
    Column("scenario_source", String(300), nullable=False),
    Column("scenario_text", Text, nullable=False),
    Column("scenario_sha256", String(64), nullable=False),
    Column("hazard", String(32), nullable=False),
    Column("start_time", String(5), nullable=False),
    Column("needed_shelters", JSON, nullable=False),
    Column("injects", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("speed", Float, nullable=False),
    Column("elapsed_s", Float, nullable=False),
    Column("anchor_at", UTCDateTime, nullable=False),
    Column("fired", Integer, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("started_by", String(64), nullable=False),
    Column("stopped_at", UTCDateTime),
    # Scenario seconds at which the drill ends (its ``duration``, else the last inject).
    Column("end_s", Float),
    Index("ix_drill_runs_status", "status"),
)

#: The scheduler's lease (``disaster_dx.leases``): one scheduler fires injects.
LEASE_NAME = "drill-scheduler"


def create_drill_tables(store: Store) -> None:
    """Create the drill tables (and the lease table) if missing; idempotent and race-safe."""
    store.create_tables(drill_metadata)
    leases.create_lease_table(store)


# ---------------------------------------------------------------------------------------------
# Drill runs: start, pause, resume, speed, stop
# ---------------------------------------------------------------------------------------------

RUNNING, PAUSED, STOPPED = "running", "paused", "stopped"
STATUS_LABELS = {RUNNING: "実施中", PAUSED: "一時停止中", STOPPED: "終了"}


@dataclass(frozen=True)
class DrillRun:
    """A drill's scheduler state (one row of ``drill_runs``).

    The scenario position is anchored: at wall time ``anchor_at`` the scenario had run
    ``elapsed_s`` seconds; while running it advances ``speed`` scenario seconds per second.
    """

    incident_id: str
    scenario_title: str
    scenario_source: str
    scenario_text: str
    scenario_sha256: str
    hazard: Hazard
    start_time: str
    needed_shelters: tuple[str, ...]
    injects: tuple[Inject, ...]
    status: str
    speed: float
    elapsed_s: float
    anchor_at: datetime
    fired: int
    started_at: datetime
    started_by: str
    stopped_at: datetime | None
    end_s: float | None = None

    @property
    def end(self) -> timedelta:
        """Scenario time the drill ends at: the scenario's ``duration``, else its last inject.

        The scheduler stops the drill there by itself (:meth:`DrillScheduler.tick`), so a
        2 h 40 min scenario never runs on until the operator notices.
        """
        last = self.injects[-1].offset if self.injects else timedelta(0)
        return max(last, timedelta(seconds=self.end_s or 0.0))

    def end_due_at(self) -> datetime | None:
        """Wall time the end is due at the current speed (None while paused or stopped)."""
        if self.status != RUNNING:
            return None
        wait = (self.end.total_seconds() - self.elapsed_s) / self.speed
        return self.anchor_at + timedelta(seconds=max(0.0, wait))

    @property
    def active(self) -> bool:
        """Running or paused (not stopped)."""
        return self.status in (RUNNING, PAUSED)

    @property
    def all_fired(self) -> bool:
        """Every inject has fired (staff may still be working)."""
        return self.fired >= len(self.injects)

    def position(self, now: datetime) -> timedelta:
        """Scenario time reached at wall time ``now``."""
        seconds = self.elapsed_s
        if self.status == RUNNING:
            seconds += max(0.0, (now - self.anchor_at).total_seconds()) * self.speed
        return timedelta(seconds=seconds)

    def due_at(self, inject: Inject) -> datetime | None:
        """Wall time the inject is due at the current speed (None while paused or stopped)."""
        if self.status != RUNNING:
            return None
        wait = (inject.offset.total_seconds() - self.elapsed_s) / self.speed
        return self.anchor_at + timedelta(seconds=max(0.0, wait))

    def upcoming(self, limit: int | None = None) -> list[Inject]:
        """Injects not fired yet, in order."""
        pending = list(self.injects[self.fired :])
        return pending if limit is None else pending[:limit]


def _run(row: Mapping[str, Any]) -> DrillRun:
    return DrillRun(
        incident_id=row["incident_id"],
        scenario_title=row["scenario_title"],
        scenario_source=row["scenario_source"],
        scenario_text=row["scenario_text"],
        scenario_sha256=row["scenario_sha256"],
        hazard=Hazard(row["hazard"]),
        start_time=row["start_time"],
        needed_shelters=tuple(row["needed_shelters"]),
        injects=tuple(Inject.from_spec(s) for s in row["injects"]),
        status=row["status"],
        speed=float(row["speed"]),
        elapsed_s=float(row["elapsed_s"]),
        anchor_at=row["anchor_at"],
        fired=int(row["fired"]),
        started_at=row["started_at"],
        started_by=row["started_by"],
        stopped_at=row["stopped_at"],
        end_s=row["end_s"],
    )


def _check_speed(speed: float) -> float:
    if isinstance(speed, bool) or not isinstance(speed, int | float) or not math.isfinite(speed):
        raise DrillError(f"speed must be a number, not {speed!r}")
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise DrillError(f"speed must be between {MIN_SPEED:g}× and {MAX_SPEED:g}×, not {speed:g}×")
    return float(speed)


def start_drill(
    store: Store,
    scenario: Scenario,
    *,
    actor: str,
    speed: float = 1.0,
    title: str | None = None,
    clock: Clock | None = None,
    public_notice: bool = False,
) -> DrillRun:
    """Open a drill incident for ``scenario`` and schedule its injects from now.

    The drill incident is a new incident of kind ``drill``: nothing in it reaches live state
    or the public page. Injects fire when a scheduler (:class:`DrillScheduler`) runs. With
    ``public_notice`` (a drill residents take part in), the public page says that a drill is
    under way until it stops, and that what it shows is the real situation.
    """
    speed = _check_speed(speed)
    if not scenario.injects:
        raise DrillError("the scenario has no injects")
    create_drill_tables(store)
    now = (clock or store.clock)()
    incident = store.create_incident(
        title or drill_title(scenario.title),
        kind=IncidentKind.DRILL,
        actor=actor,
        show_on_public=public_notice,
    )
    with store.engine.begin() as conn:
        conn.execute(
            insert(drill_runs).values(
                incident_id=incident.incident_id,
                scenario_title=scenario.title,
                scenario_source=scenario.source[:300],
                scenario_text=scenario.text,
                scenario_sha256=scenario.sha256,
                hazard=scenario.hazard.value,
                start_time=scenario.start_time.strftime("%H:%M"),
                needed_shelters=list(scenario.needed_shelters),
                injects=[i.to_spec() for i in scenario.injects],
                status=RUNNING,
                speed=speed,
                elapsed_s=0.0,
                anchor_at=now,
                fired=0,
                started_at=now,
                started_by=actor,
                end_s=scenario.length.total_seconds(),
            )
        )
    store.append(
        incident.incident_id,
        [
            NewEvent(
                DRILL_CONTROL,
                {
                    "action": "start",
                    "speed": speed,
                    "elapsed_s": 0.0,
                    "scenario_title": scenario.title[:300],
                    "hazard": scenario.hazard.value,
                    "start_time": scenario.start_time.strftime("%H:%M"),
                    "needed_shelters": list(scenario.needed_shelters),
                    "inject_count": len(scenario.injects),
                    "scenario_sha256": scenario.sha256,
                    "end_s": scenario.length.total_seconds(),
                },
            )
        ],
        actor=actor,
    )
    log.info(
        "drill %s started by %s at %g×: %s", incident.incident_id, actor, speed, scenario.title
    )
    return drill_run(store, incident.incident_id)


def drill_title(scenario_title: str) -> str:
    """An incident title that says 訓練 first, without saying it twice."""
    title = scenario_title.strip()
    return title if title.startswith(("【訓練", "訓練")) else f"【訓練】{title}"


def drill_run(store: Store, incident_id: str) -> DrillRun:
    """The scheduler state of one drill, or :class:`NotFoundError`."""
    with store.engine.connect() as conn:
        row = conn.execute(
            select(drill_runs).where(drill_runs.c.incident_id == incident_id)
        ).one_or_none()
    if row is None:
        raise NotFoundError(f"no drill run for incident {incident_id!r}")
    return _run(dict(row._mapping))


def drill_runs_list(store: Store, *, active_only: bool = False) -> list[DrillRun]:
    """Drill runs, newest first."""
    query = select(drill_runs).order_by(drill_runs.c.started_at.desc())
    if active_only:
        query = query.where(drill_runs.c.status.in_((RUNNING, PAUSED)))
    with store.engine.connect() as conn:
        return [_run(dict(r._mapping)) for r in conn.execute(query)]


@dataclass(frozen=True)
class RunSummary:
    """A drill run's headline (for lists that poll: no scenario text, no injects)."""

    incident_id: str
    scenario_title: str
    status: str
    started_at: datetime


def drill_run_summaries(store: Store, *, limit: int = 30) -> list[RunSummary]:
    """The newest drill runs, headline columns only (the operator page polls this)."""
    table = drill_runs
    query = (
        select(table.c.incident_id, table.c.scenario_title, table.c.status, table.c.started_at)
        .order_by(table.c.started_at.desc())
        .limit(limit)
    )
    with store.engine.connect() as conn:
        return [RunSummary(r[0], r[1], r[2], r[3]) for r in conn.execute(query)]


def _control(
    store: Store,
    incident_id: str,
    action: str,
    *,
    actor: str,
    speed: float | None = None,
    clock: Clock | None = None,
) -> DrillRun:
    run = drill_run(store, incident_id)
    now = (clock or store.clock)()
    position = run.position(now).total_seconds()
    values: dict[str, Any] = {"elapsed_s": position, "anchor_at": now}
    if action == "pause":
        if run.status != RUNNING:
            raise DrillError(f"drill {incident_id} is {STATUS_LABELS[run.status]}: cannot pause")
        values["status"] = PAUSED
    elif action == "resume":
        if run.status != PAUSED:
            raise DrillError(f"drill {incident_id} is {STATUS_LABELS[run.status]}: cannot resume")
        values["status"] = RUNNING
    elif action == "speed":
        if not run.active:
            raise DrillError(f"drill {incident_id} has ended")
        values["speed"] = _check_speed(speed if speed is not None else run.speed)
    elif action == "stop":
        if not run.active:
            raise DrillError(f"drill {incident_id} has already ended")
        values.update(status=STOPPED, stopped_at=now)
    with store.engine.begin() as conn:
        done = conn.execute(
            update(drill_runs)
            .where(drill_runs.c.incident_id == incident_id, drill_runs.c.status == run.status)
            .values(**values)
        )
    if done.rowcount != 1:
        raise DrillError(f"drill {incident_id} changed meanwhile; look again and retry")
    store.append(
        incident_id,
        [
            NewEvent(
                DRILL_CONTROL,
                {"action": action, "speed": values.get("speed", run.speed), "elapsed_s": position},
            )
        ],
        actor=actor,
    )
    if action == "stop":
        store.close_incident(incident_id, actor=actor)
    log.info("drill %s: %s by %s", incident_id, action, actor)
    return drill_run(store, incident_id)


def pause_drill(
    store: Store, incident_id: str, *, actor: str, clock: Clock | None = None
) -> DrillRun:
    """Hold the scenario clock: no inject fires until :func:`resume_drill`."""
    return _control(store, incident_id, "pause", actor=actor, clock=clock)


def resume_drill(
    store: Store, incident_id: str, *, actor: str, clock: Clock | None = None
) -> DrillRun:
    """Continue a paused drill from where it stopped."""
    return _control(store, incident_id, "resume", actor=actor, clock=clock)


def set_drill_speed(
    store: Store, incident_id: str, speed: float, *, actor: str, clock: Clock | None = None
) -> DrillRun:
    """Change the speed (1×–60×) from now on; what already fired stays where it was."""
    return _control(store, incident_id, "speed", actor=actor, speed=speed, clock=clock)


def stop_drill(
    store: Store, incident_id: str, *, actor: str, clock: Clock | None = None
) -> DrillRun:
    """End the drill: no more injects, and the drill incident is closed (still replayable)."""
    return _control(store, incident_id, "stop", actor=actor, clock=clock)


@dataclass(frozen=True)
class FiredInject:
    """An inject as recorded in the drill's event log (the operator's "what fired" list)."""

    incident_id: str
    seq: int
    at: datetime
    index: int
    kind: str
    offset: str
    summary: str
    shelters: tuple[str, ...] = ()


def fired_injects(store: Store, incident_id: str) -> list[FiredInject]:
    """The injects that fired in a drill, from its event log (whichever process fired them)."""
    query = (
        select(events_table.c.seq, events_table.c.at, events_table.c.payload)
        .where(events_table.c.incident_id == incident_id, events_table.c.type == DRILL_INJECT)
        .order_by(events_table.c.seq)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        FiredInject(
            incident_id=incident_id,
            seq=r.seq,
            at=_aware(r.at),
            index=int(r.payload["index"]),
            kind=str(r.payload["kind"]),
            offset=str(r.payload["offset"]),
            summary=str(r.payload["summary"]),
            shelters=tuple(r.payload.get("shelters") or ()),
        )
        for r in rows
    ]


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# ---------------------------------------------------------------------------------------------
# The scheduler and its lease
# ---------------------------------------------------------------------------------------------


def _holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class DrillScheduler:
    """Fires due injects of every running drill; only the holder of the lease fires.

    Parameters
    ----------
    store
        The deployment's store; drill tables are created if missing.
    clock
        Source of "now" (defaults to the store's clock, so event times and schedule agree).
        Tests inject a fake clock and a fake ``sleep`` that advances it: no real waiting.
    holder
        Name recorded in the lease (default ``host:pid:random``).
    lease_seconds
        How long the lease lasts without renewal; another scheduler takes over after that.
    """

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock | None = None,
        holder: str | None = None,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self.store = store
        self.clock = clock or store.clock
        self.holder = holder or _holder_name()
        self.lease_seconds = lease_seconds
        self._lease_until: datetime | None = None
        create_drill_tables(store)

    # -- lease ----------------------------------------------------------------------------------

    @property
    def holds_lease(self) -> bool:
        """Whether this scheduler's lease is still valid by its own clock."""
        return self._lease_until is not None and self.clock() < self._lease_until

    def acquire(self) -> bool:
        """Take or renew the lease; False while another live scheduler holds it.

        Renewal writes only when a third of the lease has passed, so a healthy scheduler
        costs one small write every few seconds.
        """
        now = self.clock()
        lease = timedelta(seconds=self.lease_seconds)
        if self._lease_until is not None and now < self._lease_until - lease * (2 / 3):
            return True
        expires = now + lease
        taken = leases.acquire_one(self.store, LEASE_NAME, self.holder, now, ttl=lease)
        was_holding = self._lease_until is not None
        self._lease_until = expires if taken else None
        if taken and not was_holding:
            log.info("drill scheduler %s holds the lease", self.holder)
            self._reconcile()
        return taken

    def release(self) -> None:
        """Give the lease up at once (a clean shutdown lets another take over immediately)."""
        if self._lease_until is None:
            return
        leases.release(self.store, self.holder, names=[LEASE_NAME])
        self._lease_until = None
        log.info("drill scheduler %s released the lease", self.holder)

    def _reconcile(self) -> None:
        """After taking over, trust the event log over the ``fired`` counter.

        An inject appended just before a previous holder died counts as fired even if its
        ``fired`` update never happened, so it is not fired twice.
        """
        for run in drill_runs_list(self.store, active_only=True):
            logged = fired_injects(self.store, run.incident_id)
            count = max((f.index for f in logged), default=-1) + 1
            if count > run.fired:
                with self.store.engine.begin() as conn:
                    conn.execute(
                        update(drill_runs)
                        .where(drill_runs.c.incident_id == run.incident_id)
                        .values(fired=count)
                    )

    # -- firing ---------------------------------------------------------------------------------

    def tick(self) -> list[FiredInject]:
        """Fire every inject that is due now, in order; nothing without the lease."""
        if not self.acquire():
            return []
        fired: list[FiredInject] = []
        for run in drill_runs_list(self.store, active_only=True):
            if run.status != RUNNING:
                continue
            fired.extend(self._fire_due(run))
            self._stop_at_end(run.incident_id)
        return fired

    def _stop_at_end(self, incident_id: str) -> None:
        """Stop a drill whose every inject fired once its scenario's end is reached.

        The stop is recorded at the scripted end (drill time = :attr:`DrillRun.end`, never
        an overrun), by :data:`DRILL_ACTOR`; the operator may still stop earlier.
        """
        run = drill_run(self.store, incident_id)
        end_at = run.end_due_at()
        if not run.all_fired or end_at is None or self.clock() < end_at:
            return
        if not self.holds_lease and not self.acquire():
            return
        try:
            stop_drill(self.store, incident_id, actor=DRILL_ACTOR, clock=lambda: end_at)
        except DrillError:  # the operator stopped or paused it meanwhile
            return
        log.info("drill %s reached its scenario's end and was stopped", incident_id)

    def _fire_due(self, run: DrillRun) -> list[FiredInject]:
        fired: list[FiredInject] = []
        index = run.fired
        while index < len(run.injects):
            now = self.clock()
            inject = run.injects[index]
            # A tiny tolerance: float scenario seconds must not delay an inject due "now".
            if inject.offset.total_seconds() > run.position(now).total_seconds() + 1e-6:
                break
            if not self.holds_lease and not self.acquire():
                break
            try:
                stored = self.store.append(
                    run.incident_id,
                    inject.new_events(fired_at=now, speed=run.speed),
                    actor=DRILL_ACTOR,
                )
            except NotFoundError:
                log.warning(
                    "drill %s was closed; its remaining injects are dropped", run.incident_id
                )
                break
            with self.store.engine.begin() as conn:
                conn.execute(
                    update(drill_runs)
                    .where(
                        drill_runs.c.incident_id == run.incident_id,
                        drill_runs.c.fired == index,
                    )
                    .values(fired=index + 1)
                )
            marker = stored[0]
            fired.append(
                FiredInject(
                    run.incident_id,
                    marker.seq,
                    marker.at,
                    inject.index,
                    inject.kind,
                    format_offset(inject.offset),
                    inject.summary,
                    inject.shelters,
                )
            )
            log.info("drill %s: inject %d fired (%s)", run.incident_id, index, inject.summary)
            index += 1
        return fired

    def seconds_to_next(self, *, poll: float) -> float:
        """How long to sleep: until the next inject is due, at most ``poll`` seconds."""
        now = self.clock()
        wait = poll
        for run in drill_runs_list(self.store, active_only=True):
            if run.status != RUNNING:
                continue
            due = run.end_due_at() if run.all_fired else run.due_at(run.injects[run.fired])
            if due is not None:
                wait = min(wait, max(0.0, (due - now).total_seconds()))
        return wait

    def run(
        self,
        *,
        should_stop: Callable[[], bool] = lambda: False,
        poll: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        exit_when_idle: bool = False,
    ) -> None:
        """Run until ``should_stop()`` (or, with ``exit_when_idle``, until no drill is active).

        Without the lease it stands by and retries every third of a lease period, so it takes
        over within one lease period if the holder dies.
        """
        failures = 0
        try:
            while not should_stop():
                try:
                    if self.acquire():
                        self.tick()
                        wait = self.seconds_to_next(poll=poll)
                    else:
                        wait = self.lease_seconds / 3
                    if exit_when_idle and not drill_runs_list(self.store, active_only=True):
                        return
                    failures = 0
                except Exception:  # keep the drill going through a passing database hiccup
                    failures += 1
                    log.exception("drill scheduler tick failed (%d in a row)", failures)
                    if failures >= 5:
                        raise
                    wait = min(30.0, poll * 2**failures)
                sleep(wait)
        finally:
            try:
                self.release()
            except Exception:
                log.exception("could not release the drill lease (it will expire)")


def scheduler_thread(store: Store, *, poll: float = 0.5) -> threading.Thread:
    """A daemon thread running a scheduler until no drill is active (the in-app option).

    The web app starts one when an operator starts or resumes a drill. Every worker may
    start one; the lease lets exactly one fire, the others stand by.
    """

    def target() -> None:
        try:
            DrillScheduler(store).run(poll=poll, exit_when_idle=True)
        except Exception:
            log.exception("drill scheduler thread stopped")

    return threading.Thread(target=target, name="drill-scheduler", daemon=True)


# ---------------------------------------------------------------------------------------------
# Which incident a user works in
# ---------------------------------------------------------------------------------------------


def active_incident_for(store: Store, user_session_choice: str | None) -> Incident:
    """The incident a user's screens read and write: their chosen drill, else the live one.

    ``user_session_choice`` is the drill incident id kept in the user's session (``None``
    when they have not joined a drill). A choice that names no drill incident is ignored, so
    a session can never point staff at a *live* incident other than the current one. A drill
    that has ended is still returned: the screens keep showing the 訓練 banner and the store
    refuses writes to it, rather than silently sending the user's next report to live.
    """
    if user_session_choice:
        try:
            incident = store.incident(user_session_choice)
        except NotFoundError:
            log.warning("session names unknown incident %r; using live", user_session_choice)
        else:
            if incident.is_drill:
                return incident
            log.warning("session names non-drill incident %r; using live", user_session_choice)
    return store.live_incident()


def open_drill_incidents(store: Store) -> list[Incident]:
    """Drill incidents staff can join now (not closed), newest first."""
    return [i for i in store.incidents(kind=IncidentKind.DRILL) if i.closed_at is None]


# ---------------------------------------------------------------------------------------------
# Replay: the state at an instant (snapshots live in the core, disaster_dx.projection)
# ---------------------------------------------------------------------------------------------


def state_at(store: Store, incident_id: str, at: datetime | None = None) -> State:
    """The incident's state at instant ``at`` (now if ``None``): snapshot + fold of the tail.

    Equal to ``fold(events with at ≤ t, until=t)`` — the same fold the live screens use —
    but reads at most :data:`SNAPSHOT_EVERY` events after the nearest earlier snapshot
    (:meth:`disaster_dx.store.Store.state`).
    """
    return store.state(incident_id, until=at)


# ---------------------------------------------------------------------------------------------
# Record → scenario
# ---------------------------------------------------------------------------------------------


def state_content(state: State) -> dict[str, Any]:
    """What a state says, without who said it or when (to compare a re-run with its record).

    Versions, report times and reporters differ between a recorded incident and its replay
    as a drill; the statuses, counts, needs, notes, warnings and messages must not.
    """
    shelters = {}
    for sid, status in sorted(state.shelters.items()):
        data = shelter_to_dict(status)
        for name in ("version", "reported_by", *SHELTER_TIME_FIELDS):
            data.pop(name)
        data["urgent_needs"] = sorted(data["urgent_needs"])
        shelters[sid] = data
    return {
        "shelters": shelters,
        "areas": {k: (v.at_home, v.in_car, v.note) for k, v in sorted(state.areas.items())},
        "hazards": {h.value: (a.title, a.detail) for h, a in sorted(state.hazards.items())},
        "messages": [text for _at, _actor, text in state.messages],
    }


def scenario_clock(events: Iterable[Event]) -> Callable[[datetime], timedelta]:
    """Map wall time to scenario time for an incident, from its ``drill.control`` events.

    A drill run at 60× or paused for lunch is exported in scenario time, so the exported
    scenario plays as the original did. An incident without control events (a live one) maps
    to time since its first event.
    """
    anchors: list[tuple[datetime, float, float, bool]] = []
    first: datetime | None = None
    for event in events:
        first = first or event.at
        if event.type != DRILL_CONTROL:
            continue
        payload = event.payload
        running = payload["action"] in ("start", "resume") or (
            payload["action"] == "speed" and (not anchors or anchors[-1][3])
        )
        anchors.append(
            (event.at, float(payload.get("elapsed_s", 0.0)), float(payload["speed"]), running)
        )

    def clock(moment: datetime) -> timedelta:
        if not anchors:
            return max(timedelta(0), moment - (first or moment))
        at, elapsed, speed, running = anchors[0]
        for anchor in anchors:
            if anchor[0] <= moment:
                at, elapsed, speed, running = anchor
        seconds = elapsed + (max(0.0, (moment - at).total_seconds()) * speed if running else 0.0)
        return timedelta(seconds=seconds)

    return clock


def scenario_from_incident(
    store: Store,
    incident_id: str,
    *,
    title: str | None = None,
    hazard: Hazard | None = None,
    until: timedelta | None = None,
) -> str:
    """An incident's event log as a new scenario file (YAML text, validated before return).

    ``until`` keeps only what happened up to that scenario time (the first days of a record
    of months: a scenario holds at most :data:`MAX_OFFSET`); what is left out is counted in
    the file's header. The hazard is ``hazard``, else the drill's, else the live incident's
    own (``--hazard`` of a history import), else the first announced.

    Every status report, correction, area count, warning, message and camera state becomes an
    inject at its scenario time, so running the exported scenario reproduces the incident's
    final state. Markers and drill controls are regenerated by the new run, not copied;
    event types drills do not know (e.g. camera frames) are listed in a comment and skipped.
    Shelters are named by their exact name where that is unique, else by id.
    """
    incident = store.incident(incident_id)
    events = list(store.iter_events(incident_id))
    shelters = store.shelters(include_inactive=True)
    names = {s.shelter_id: s.name for s in shelters}
    name_count: dict[str, int] = {}
    for shelter in shelters:
        name_count[shelter.name] = name_count.get(shelter.name, 0) + 1
    clock = scenario_clock(events)
    start = next((e for e in events if e.type == DRILL_CONTROL), None)
    start_payload = (
        start.payload if start is not None and start.payload["action"] == "start" else {}
    )

    def ref(shelter_id: str) -> str:
        name = names.get(shelter_id)
        return name if name is not None and name_count[name] == 1 else shelter_id

    injects: list[dict[str, Any]] = []
    skipped: dict[str, int] = {}
    announced: list[Hazard] = []
    beyond = 0
    for event in events:
        elapsed = clock(event.at)
        if until is not None and elapsed > until:
            beyond += 1
            continue
        if elapsed > MAX_OFFSET:
            raise DisasterDxError(
                f"incident {incident_id} lasts longer than a scenario can ({format_offset(elapsed)}"
                f" > {format_offset(MAX_OFFSET)}): export a part of it, e.g. until +72:00:00"
            )
        offset = format_offset(elapsed)
        payload = event.payload
        item: dict[str, Any] = {"at": offset}
        if event.type in (SHELTER_STATUS_REPORTED, SHELTER_CORRECTION):
            item.update(kind="shelter", shelter=ref(payload["shelter_id"]))
            for key, value in payload.items():
                if key in ("shelter_id", "reason"):
                    continue
                if key == "open_state":
                    item[key] = OpenState(value).ja
                elif key == "crowding_override":
                    item["crowding"] = "自動" if value is None else Crowding(value).ja
                elif key in ("needs", "urgent_needs"):
                    item[key] = [Need(n).ja for n in value]
                else:
                    item[key] = value
            if event.type == SHELTER_CORRECTION:
                item["correction"] = True
                if payload.get("reason"):
                    item["reason"] = payload["reason"]
        elif event.type == AREA_OUTSIDE_REPORTED:
            item.update(kind="area", **dict(payload))
        elif event.type == HAZARD_ANNOUNCED:
            announced.append(Hazard(payload["hazard"]))
            item.update(kind="hazard", hazard=Hazard(payload["hazard"]).ja, title=payload["title"])
            if payload.get("detail"):
                item["detail"] = payload["detail"]
            if payload.get("arrival_at"):
                arrival = clock(datetime.fromisoformat(payload["arrival_at"])) - clock(event.at)
                if arrival > timedelta(0):
                    item["arrival_in"] = format_offset(arrival)
        elif event.type == HAZARD_CLEARED:
            item.update(kind="hazard_cleared", hazard=Hazard(payload["hazard"]).ja)
            if payload.get("detail"):
                item["detail"] = payload["detail"]
        elif event.type == INCIDENT_MESSAGE:
            item.update(kind="message", text=payload["text"])
            if payload.get("to"):
                item["to"] = payload["to"]
        elif event.type == CAMERA_SCRIPTED:
            item.update(kind="camera", camera=payload["camera_id"], action=payload["action"])
            for key in ("image", "caption"):
                if payload.get(key):
                    item[key] = payload[key]
        elif event.type in (DRILL_INJECT, DRILL_CONTROL):
            continue
        else:
            skipped[event.type] = skipped.get(event.type, 0) + 1
            continue
        injects.append(item)
    if not injects:
        raise DisasterDxError(f"incident {incident_id} has no events a scenario can replay")

    main = hazard
    if main is None and start_payload.get("hazard"):
        main = Hazard(start_payload["hazard"])
    if main is None and incident.hazard is not None:
        main = incident.hazard
    if main is None and announced:
        main = announced[0]
    if main is None:
        raise DisasterDxError(
            f"incident {incident_id} announced no hazard: say which hazard the scenario is for"
        )
    first_at = events[0].at if events else incident.created_at
    document: dict[str, Any] = {
        "version": SCENARIO_VERSION,
        "label": SCENARIO_LABEL,
        "title": (title or f"{incident.title.removeprefix('【訓練】')}（記録から作成）")[:200],
        "hazard": main.ja,
        "start_time": start_payload.get("start_time") or to_jst(first_at).strftime("%H:%M"),
        "origin": (
            f"{incident.kind.ja}「{incident.title}」（{incident.incident_id}）の記録から"
            f"{to_jst(store.clock()).strftime('%Y-%m-%d %H:%M')} に作成"
        )[:500],
    }
    needed = [s for s in start_payload.get("needed_shelters", []) if s in names]
    if needed:
        document["needed_shelters"] = [ref(s) for s in needed]
    document["injects"] = injects
    header = [
        "# yaml-language-server: $schema=scenario.schema.json",
        f"# {SCENARIO_LABEL}（訓練用の台本です。実際の災害情報ではありません）",
        f"# 元の記録: {incident.incident_id} — {len(events)} 件の記録から"
        f" {len(injects)} 件の状況付与",
    ]
    if beyond:
        header.append(
            f"# 記録の {format_offset(until or timedelta(0))} より後の {beyond} 件は含めていません"
        )
    if skipped:
        listed = "、".join(f"{k} {v}件" for k, v in sorted(skipped.items()))
        header.append(f"# シナリオにできない記録は省きました: {listed}")
    body: str = yaml.safe_dump(
        document, allow_unicode=True, sort_keys=False, width=100, default_flow_style=False
    )
    text = "\n".join(header) + "\n" + body
    parse_scenario(text, shelters=store.shelters(), source=f"export of {incident_id}")
    return text


def run_to_end(
    store: Store,
    scenario: Scenario,
    *,
    actor: str,
    clock_step: Callable[[float], None],
    clock: Clock | None = None,
    speed: float = MAX_SPEED,
) -> DrillRun:
    """Run a whole scenario at once on an injected clock (tests, benchmarks, demos).

    ``clock_step(seconds)`` must advance ``clock`` (and the store's clock); nothing sleeps.
    The drill ends, as any drill, at the scenario's end (the scheduler stops it).
    """
    run = start_drill(store, scenario, actor=actor, speed=speed, clock=clock)
    scheduler = DrillScheduler(store, clock=clock)

    def done() -> bool:
        return not drill_run(store, run.incident_id).active

    scheduler.run(should_stop=done, poll=1.0, sleep=clock_step)
    return drill_run(store, run.incident_id)


def drill_timeline(run: DrillRun) -> list[tuple[Inject, str]]:
    """Each inject with its wall-clock start time label (JST), for the operator's list."""
    hour, minute = (int(p) for p in run.start_time.split(":"))
    base = datetime(2000, 1, 1, hour, minute, tzinfo=JST)
    return [(i, (base + i.offset).strftime("%H:%M:%S")) for i in run.injects]


__all__ = [
    "CAMERA_SCRIPTED",
    "DRILL_ACTOR",
    "DRILL_CONTROL",
    "DRILL_INJECT",
    "DRILL_SESSION_KEY",
    "MAX_SPEED",
    "MIN_SPEED",
    "SCENARIO_DIR",
    "SCENARIO_SCHEMA",
    "DrillError",
    "DrillRun",
    "DrillScheduler",
    "FiredInject",
    "Inject",
    "Scenario",
    "ScenarioError",
    "ScenarioProblem",
    "ScriptedCamera",
    "active_incident_for",
    "bundled_scenarios",
    "create_drill_tables",
    "drill_run",
    "drill_run_summaries",
    "drill_runs_list",
    "fired_injects",
    "format_offset",
    "load_scenario",
    "open_drill_incidents",
    "parse_offset",
    "parse_scenario",
    "pause_drill",
    "resume_drill",
    "scenario_clock",
    "scenario_from_incident",
    "scheduler_thread",
    "scripted_cameras",
    "set_drill_speed",
    "start_drill",
    "state_at",
    "state_content",
    "stop_drill",
]
