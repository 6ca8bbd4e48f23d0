"""Event types, payload validation and the fold from events to state.

Everything that changes during an incident is an event appended to the log; the state at any
instant is ``fold(events up to t)``. The fold is pure (no I/O, no clock), so the HQ board, the
public snapshot, drill replay and the after-action report all use the same code and agree.

Payloads use the internal vocabulary codes of :mod:`disaster_dx.model`. Validation rejects the
whole payload, listing every bad field, so nothing half-valid is ever written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from disaster_dx.errors import PayloadError, Problem
from disaster_dx.model import (
    AlertLevel,
    Crowding,
    CrowdingThresholds,
    Hazard,
    Need,
    OpenState,
    WarningKind,
)

MAX_COUNT = 1_000_000
MAX_PUBLIC_NOTE = 500
MAX_INTERNAL_NOTE = 2000
MAX_SHORT_TEXT = 200

# ---------------------------------------------------------------------------------------------
# Payload schemas
# ---------------------------------------------------------------------------------------------

Checker = Callable[[Any], str | None]
"""Returns an error message for a bad value, or None when the value is fine."""


def _count(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return f"must be a whole number, not {value!r}"
    if value < 0:
        return f"must be 0 or more, not {value}"
    if value > MAX_COUNT:
        return f"must be at most {MAX_COUNT:,}, not {value:,}"
    return None


def _optional(check: Checker) -> Checker:
    def checker(value: Any) -> str | None:
        return None if value is None else check(value)

    return checker


def _text(limit: int, *, required: bool = False) -> Checker:
    def checker(value: Any) -> str | None:
        if not isinstance(value, str):
            return f"must be text, not {type(value).__name__}"
        if required and not value.strip():
            return "must not be empty"
        if len(value) > limit:
            return f"must be at most {limit} characters, not {len(value)}"
        if any(ord(c) < 32 and c not in "\n\t" for c in value):
            return "must not contain control characters"
        return None

    return checker


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"must be true or false, not {value!r}"


def _member(
    enum: type[OpenState] | type[Crowding] | type[Hazard] | type[AlertLevel] | type[WarningKind],
) -> Checker:
    codes = [m.value for m in enum]

    def checker(value: Any) -> str | None:
        if value in codes:
            return None
        return f"unknown value {value!r}; expected one of {', '.join(codes)}"

    return checker


def _needs(value: Any) -> str | None:
    codes = {n.value for n in Need}
    if not isinstance(value, list | tuple):
        return f"must be a list of needs, not {type(value).__name__}"
    bad = [v for v in value if not isinstance(v, str) or v not in codes]
    if bad:
        return f"unknown need(s) {bad!r}; expected some of {', '.join(sorted(codes))}"
    return None


def _datetime_text(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"must be an ISO 8601 time, not {value!r}"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return f"must be an ISO 8601 time, not {value!r}"
    return None if parsed.tzinfo else f"must include a time zone, not {value!r}"


def _areas(value: Any) -> str | None:
    if not isinstance(value, list | tuple) or not value:
        return "must be a non-empty list of area ids"
    check = _text(64, required=True)
    for item in value:
        message = check(item)
        if message:
            return f"area {item!r} {message}"
    if len(set(value)) != len(value):
        return "lists an area twice"
    return None


#: Fields staff report about a shelter, shared by status reports and corrections.
STATUS_FIELDS: dict[str, Checker] = {
    "open_state": _member(OpenState),
    "evacuees": _count,
    "voluntary_evacuees": _count,
    "households": _count,
    "capacity": _optional(_count),
    "crowding_override": _optional(_member(Crowding)),
    "needs": _needs,
    "urgent_needs": _needs,
    "other_needs": _text(MAX_PUBLIC_NOTE),
    "pets_accepted": _optional(_boolean),
    "barrier_free": _optional(_boolean),
    "public_note": _text(MAX_PUBLIC_NOTE),
    "internal_note": _text(MAX_INTERNAL_NOTE),
    # Whether staff report from the site (報告遅れ applies); None = the default by kind.
    "staffed": _optional(_boolean),
}


@dataclass(frozen=True)
class EventSchema:
    """Fields of one event type: required, optional, and which one names the subject."""

    required: Mapping[str, Checker]
    optional: Mapping[str, Checker] = field(default_factory=dict)
    subject_field: str | None = None
    needs_change: bool = False


SHELTER_STATUS_REPORTED = "shelter.status_reported"
SHELTER_CORRECTION = "shelter.correction"
AREA_OUTSIDE_REPORTED = "area.outside_reported"
HAZARD_ANNOUNCED = "hazard.announced"
HAZARD_CLEARED = "hazard.cleared"
INCIDENT_MESSAGE = "incident.message"
ALERT_ISSUED = "alert.issued"
ALERT_LIFTED = "alert.lifted"

SCHEMAS: dict[str, EventSchema] = {
    SHELTER_STATUS_REPORTED: EventSchema(
        required={"shelter_id": _text(64, required=True)},
        optional=STATUS_FIELDS,
        subject_field="shelter_id",
        needs_change=True,
    ),
    SHELTER_CORRECTION: EventSchema(
        required={"shelter_id": _text(64, required=True)},
        optional={**STATUS_FIELDS, "reason": _text(MAX_SHORT_TEXT)},
        subject_field="shelter_id",
        needs_change=True,
    ),
    AREA_OUTSIDE_REPORTED: EventSchema(
        required={"area": _text(MAX_SHORT_TEXT, required=True)},
        optional={"at_home": _count, "in_car": _count, "note": _text(MAX_PUBLIC_NOTE)},
        subject_field="area",
        needs_change=True,
    ),
    HAZARD_ANNOUNCED: EventSchema(
        required={"hazard": _member(Hazard), "title": _text(MAX_SHORT_TEXT, required=True)},
        optional={
            "detail": _text(MAX_INTERNAL_NOTE),
            "arrival_at": _datetime_text,
            "warning": _member(WarningKind),
            "source": _text(MAX_SHORT_TEXT),
        },
    ),
    HAZARD_CLEARED: EventSchema(
        required={"hazard": _member(Hazard)},
        optional={"detail": _text(MAX_INTERNAL_NOTE)},
    ),
    INCIDENT_MESSAGE: EventSchema(
        required={"text": _text(MAX_INTERNAL_NOTE, required=True)},
        optional={"to": _text(MAX_SHORT_TEXT)},
    ),
    ALERT_ISSUED: EventSchema(
        required={
            "alert_id": _text(64, required=True),
            "level": _member(AlertLevel),
            "hazard": _member(Hazard),
            "areas": _areas,
        },
        optional={"reason": _text(MAX_INTERNAL_NOTE)},
        subject_field="alert_id",
    ),
    ALERT_LIFTED: EventSchema(
        required={"alert_id": _text(64, required=True)},
        optional={"reason": _text(MAX_INTERNAL_NOTE)},
        subject_field="alert_id",
    ),
}

_CHANGE_FIELDS_IGNORED = {"reason"}


#: Japanese words for event types other modules register (the core's own are in eventlog).
TYPE_LABELS: dict[str, str] = {}
#: English words for the same (the English event-log page).
TYPE_LABELS_EN: dict[str, str] = {}
#: Machine-written observations that change nothing HQ works with (camera frames, every few
#: seconds per camera): polling screens and the event-log view skip them so they neither
#: re-render a board nor bury the people's entries. They stay in the log for replay and audit.
ROUTINE_TYPES: set[str] = set()


def register_event_type(
    name: str,
    schema: EventSchema,
    *,
    label: str = "",
    label_en: str = "",
    routine: bool = False,
) -> None:
    """Add an event type owned by another module (cameras, drills) to the one registry.

    ``label`` and ``label_en`` are its words in the event log; ``routine`` marks it as one
    of the :data:`ROUTINE_TYPES`.
    """
    if name in SCHEMAS and SCHEMAS[name] != schema:
        raise ValueError(f"event type {name!r} is already registered with another schema")
    SCHEMAS[name] = schema
    if label:
        TYPE_LABELS[name] = label
    if label_en:
        TYPE_LABELS_EN[name] = label_en
    if routine:
        ROUTINE_TYPES.add(name)


def validate_payload(event_type: str, payload: Any) -> dict[str, Any]:
    """Check a payload against its type's schema and return a normalised copy.

    Raises
    ------
    PayloadError
        Listing every problem, each naming its field; nothing is returned half-checked.
    """
    schema = SCHEMAS.get(event_type)
    if schema is None:
        known = ", ".join(sorted(SCHEMAS))
        raise PayloadError(
            "event", [Problem("type", f"unknown event type {event_type!r}; known: {known}")]
        )
    if not isinstance(payload, Mapping):
        raise PayloadError(
            event_type, [Problem("payload", f"must be an object, not {type(payload).__name__}")]
        )
    problems: list[Problem] = []
    for name in schema.required:
        if name not in payload:
            problems.append(Problem(name, "is required"))
    allowed = {**schema.required, **schema.optional}
    for name, value in payload.items():
        check = allowed.get(name)
        if check is None:
            problems.append(Problem(str(name), "is not a field of this event"))
            continue
        message = check(value)
        if message:
            problems.append(Problem(name, message))
    if not problems:
        voluntary, evacuees = payload.get("voluntary_evacuees"), payload.get("evacuees")
        if voluntary is not None and evacuees is not None and voluntary > evacuees:
            problems.append(
                Problem(
                    "voluntary_evacuees",
                    f"({voluntary}) cannot exceed evacuees ({evacuees}): "
                    "voluntary evacuees are counted within evacuees",
                )
            )
        changed = set(payload) - set(schema.required) - _CHANGE_FIELDS_IGNORED
        if schema.needs_change and not changed:
            problems.append(Problem("payload", "changes nothing: give at least one field"))
    if problems:
        raise PayloadError(event_type, problems)

    clean = dict(payload)
    for name in ("needs", "urgent_needs"):
        if name in clean:
            clean[name] = sorted(set(clean[name]))
    return clean


def subject_of(event_type: str, payload: Mapping[str, Any]) -> str | None:
    """The thing an event changes (for per-subject versions), e.g. ``shelter:E39…``."""
    schema = SCHEMAS[event_type]
    if schema.subject_field is None:
        return None
    prefix = event_type.split(".", 1)[0]
    return f"{prefix}:{payload[schema.subject_field]}"


# ---------------------------------------------------------------------------------------------
# Events and state
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewEvent:
    """An event about to be appended (the store assigns ``seq`` and ``at``)."""

    type: str
    payload: Mapping[str, Any]

    @property
    def subject(self) -> str | None:
        """Subject derived from the payload, e.g. ``shelter:E3920400009111``."""
        return subject_of(self.type, self.payload)


@dataclass(frozen=True)
class Event:
    """A stored event: immutable, ordered by ``seq`` within its incident."""

    incident_id: str
    seq: int
    at: datetime
    actor: str
    type: str
    payload: Mapping[str, Any]
    subject: str | None = None


@dataclass(frozen=True)
class ShelterStatus:
    """Live status of one shelter in one incident.

    ``None`` means "not reported", never zero. ``reported_at`` moves only with status reports,
    not corrections, so fixing a typo never makes a silent shelter look fresh.
    """

    shelter_id: str
    open_state: OpenState = OpenState.NOT_OPEN
    evacuees: int | None = None
    voluntary_evacuees: int | None = None
    households: int | None = None
    capacity: int | None = None
    crowding_override: Crowding | None = None
    needs: frozenset[Need] = frozenset()
    urgent_needs: Mapping[Need, datetime] = field(default_factory=dict)
    other_needs: str = ""
    pets_accepted: bool | None = None
    barrier_free: bool | None = None
    public_note: str = ""
    internal_note: str = ""
    staffed: bool | None = None
    version: int = 0
    reported_at: datetime | None = None
    reported_by: str | None = None
    opened_at: datetime | None = None
    state_changed_at: datetime | None = None
    corrected_at: datetime | None = None

    def crowding(
        self, thresholds: CrowdingThresholds, *, master_capacity: int | None = None
    ) -> Crowding | None:
        """Crowding: the staff override if set, else computed from counts (None = unknown)."""
        if self.crowding_override is not None:
            return self.crowding_override
        if self.evacuees is None:
            return None
        capacity = self.capacity if self.capacity is not None else master_capacity
        return thresholds.classify(self.evacuees, capacity)

    def active_urgent_needs(self, now: datetime, *, expire_after: timedelta) -> frozenset[Need]:
        """Urgent needs confirmed within ``expire_after`` of ``now`` (older ones lapse)."""
        return frozenset(n for n, at in self.urgent_needs.items() if now - at <= expire_after)

    def usable(
        self,
        hazard: Hazard | None,
        hazards_flagged: frozenset[Hazard],
        thresholds: CrowdingThresholds,
        *,
        master_capacity: int | None = None,
    ) -> bool:
        """Open AND flagged for the hazard AND not full: the only shelters ever suggested."""
        if not self.open_state.is_open:
            return False
        if hazard is not None and hazard not in hazards_flagged:
            return False
        return self.crowding(thresholds, master_capacity=master_capacity) is not Crowding.FULL


@dataclass(frozen=True)
class AreaCount:
    """People sheltering outside shelters (在宅避難, 車中泊) in one area."""

    area: str
    at_home: int | None = None
    in_car: int | None = None
    note: str = ""
    reported_at: datetime | None = None
    reported_by: str | None = None
    version: int = 0


@dataclass(frozen=True)
class HazardAnnouncement:
    """A hazard warning in force (e.g. 大津波警報), from ``hazard.announced``."""

    hazard: Hazard
    title: str
    announced_at: datetime
    detail: str = ""
    arrival_at: datetime | None = None
    warning: WarningKind | None = None
    source: str = ""


@dataclass(frozen=True)
class EvacuationAlert:
    """避難情報 issued by HQ for some areas: in force until ``lifted_at``.

    Lifted ones stay in the state (the public snapshot lists them with ``lifted_at``, the
    after-action report and replay show when each was in force).
    """

    alert_id: str
    level: AlertLevel
    hazard: Hazard
    areas: tuple[str, ...]
    issued_at: datetime
    issued_by: str
    reason: str = ""
    lifted_at: datetime | None = None
    lifted_by: str | None = None
    lift_reason: str = ""

    @property
    def in_force(self) -> bool:
        """Issued and not lifted."""
        return self.lifted_at is None


@dataclass(frozen=True)
class State:
    """Everything the UI shows about one incident at one instant."""

    incident_id: str | None = None
    seq: int = 0
    as_of: datetime | None = None
    shelters: Mapping[str, ShelterStatus] = field(default_factory=dict)
    areas: Mapping[str, AreaCount] = field(default_factory=dict)
    hazards: Mapping[Hazard, HazardAnnouncement] = field(default_factory=dict)
    messages: tuple[tuple[datetime, str, str], ...] = ()
    alerts: Mapping[str, EvacuationAlert] = field(default_factory=dict)

    def shelter(self, shelter_id: str) -> ShelterStatus:
        """Status of a shelter, the default "not open, nothing reported" if never mentioned."""
        return self.shelters.get(shelter_id) or ShelterStatus(shelter_id)

    def version_of(self, subject: str) -> int:
        """Version (last seq) of a subject such as ``shelter:<id>`` (0 if never written)."""
        kind, _, key = subject.partition(":")
        if kind == "shelter":
            return self.shelter(key).version
        if kind == "area":
            area = self.areas.get(key)
            return area.version if area else 0
        return 0

    @property
    def alerts_in_force(self) -> list[EvacuationAlert]:
        """避難情報 not lifted, highest level first, then newest first."""
        return sorted(
            (a for a in self.alerts.values() if a.in_force),
            key=lambda a: (-a.level.number, -a.issued_at.timestamp(), a.alert_id),
        )

    @property
    def current_hazard(self) -> Hazard | None:
        """The hazard in force: the newest warning or 避難情報 not yet lifted.

        The public page presets its hazard filter to it, the LINE bot suggests only shelters
        suitable for it, and HQ lists the shelters for it that still need opening.
        """
        candidates: list[tuple[datetime, Hazard]] = [
            (a.announced_at, a.hazard) for a in self.hazards.values()
        ]
        candidates += [(a.issued_at, a.hazard) for a in self.alerts.values() if a.in_force]
        if not candidates:
            return None
        return max(candidates, key=lambda c: c[0])[1]


_STATUS_ENUMS: dict[str, Callable[[Any], Any]] = {
    "open_state": OpenState,
    "crowding_override": lambda v: None if v is None else Crowding(v),
    "needs": lambda v: frozenset(Need(n) for n in v),
}


def fold(
    events: Iterable[Event],
    *,
    until: datetime | None = None,
    initial: State | None = None,
) -> State:
    """Fold events (in ``seq`` order) into the state, optionally only those at or before ``until``.

    ``initial`` continues from a saved snapshot, so the state at any instant of a long incident
    is a snapshot plus the fold of its tail. Events already included in ``initial`` are skipped.
    """
    base = initial or State()
    # Only what the events touch is thawed into dicts and frozen again, so continuing from a
    # snapshot or a cached state costs as much as the new events, not the whole state.
    frozen_shelters: dict[str, ShelterStatus] = dict(base.shelters)
    frozen_areas: dict[str, AreaCount] = dict(base.areas)
    shelters: dict[str, dict[str, Any]] = {}
    areas: dict[str, dict[str, Any]] = {}
    hazards = dict(base.hazards)
    messages = list(base.messages)
    alerts = dict(base.alerts)
    incident_id, seq, as_of = base.incident_id, base.seq, base.as_of

    for event in events:
        if event.seq <= seq and incident_id == event.incident_id:
            continue
        if until is not None and event.at > until:
            continue
        incident_id, seq, as_of = event.incident_id, event.seq, event.at
        payload = event.payload
        if event.type in (SHELTER_STATUS_REPORTED, SHELTER_CORRECTION):
            sid = payload["shelter_id"]
            current = shelters.get(sid)
            if current is None:
                known = frozen_shelters.get(sid)
                current = shelters[sid] = vars_of(known or ShelterStatus(sid))
                if known is None:
                    frozen_shelters[sid] = ShelterStatus(sid)  # keeps first-mention order
            _apply_shelter(current, event)
        elif event.type == AREA_OUTSIDE_REPORTED:
            name = payload["area"]
            area = areas.get(name)
            if area is None:
                known_area = frozen_areas.get(name)
                area = areas[name] = vars_of(known_area or AreaCount(name))
                if known_area is None:
                    frozen_areas[name] = AreaCount(name)
            for field_name in ("at_home", "in_car", "note"):
                if field_name in payload:
                    area[field_name] = payload[field_name]
            area.update(reported_at=event.at, reported_by=event.actor, version=event.seq)
        elif event.type == HAZARD_ANNOUNCED:
            hazard = Hazard(payload["hazard"])
            arrival = payload.get("arrival_at")
            warning = payload.get("warning")
            hazards[hazard] = HazardAnnouncement(
                hazard=hazard,
                title=payload["title"],
                announced_at=event.at,
                detail=payload.get("detail", ""),
                arrival_at=datetime.fromisoformat(arrival) if arrival else None,
                warning=WarningKind(warning) if warning else None,
                source=payload.get("source", ""),
            )
        elif event.type == HAZARD_CLEARED:
            hazards.pop(Hazard(payload["hazard"]), None)
        elif event.type == INCIDENT_MESSAGE:
            messages.append((event.at, event.actor, payload["text"]))
        elif event.type == ALERT_ISSUED:
            alerts[payload["alert_id"]] = EvacuationAlert(
                alert_id=payload["alert_id"],
                level=AlertLevel(payload["level"]),
                hazard=Hazard(payload["hazard"]),
                areas=tuple(payload["areas"]),
                issued_at=event.at,
                issued_by=event.actor,
                reason=payload.get("reason", ""),
            )
        elif event.type == ALERT_LIFTED:
            issued = alerts.get(payload["alert_id"])
            if issued is not None and issued.in_force:
                alerts[payload["alert_id"]] = replace(
                    issued,
                    lifted_at=event.at,
                    lifted_by=event.actor,
                    lift_reason=payload.get("reason", ""),
                )

    frozen_shelters.update((k, ShelterStatus(**v)) for k, v in shelters.items())
    frozen_areas.update((k, AreaCount(**v)) for k, v in areas.items())
    return State(
        incident_id=incident_id,
        seq=seq,
        as_of=as_of if until is None else until,
        shelters=MappingProxyType(frozen_shelters),
        areas=MappingProxyType(frozen_areas),
        hazards=MappingProxyType(hazards),
        messages=tuple(messages),
        alerts=MappingProxyType(alerts),
    )


def _apply_shelter(current: dict[str, Any], event: Event) -> None:
    correction = event.type == SHELTER_CORRECTION
    payload = event.payload
    previous_state = current["open_state"]
    for name, value in payload.items():
        if name in ("shelter_id", "reason"):
            continue
        if name == "urgent_needs":
            confirmed = dict(current["urgent_needs"])
            listed = {Need(n) for n in value}
            for need in list(confirmed):
                if need not in listed:
                    del confirmed[need]
            for need in listed:
                # A correction fixes the list but does not re-confirm an old urgent need.
                if not correction or need not in confirmed:
                    confirmed[need] = event.at
            current["urgent_needs"] = confirmed
            continue
        convert = _STATUS_ENUMS.get(name)
        current[name] = convert(value) if convert else value
    current["version"] = event.seq
    if correction:
        current["corrected_at"] = event.at
        return
    current["reported_at"] = event.at
    current["reported_by"] = event.actor
    if current["open_state"] != previous_state:
        current["state_changed_at"] = event.at
        if current["open_state"].is_open and not previous_state.is_open:
            current["opened_at"] = event.at


def vars_of(obj: ShelterStatus | AreaCount) -> dict[str, Any]:
    """Shallow field dict of a frozen status (the fold mutates dicts, then freezes once)."""
    return {name: getattr(obj, name) for name in obj.__dataclass_fields__}


@dataclass(frozen=True)
class OpenStateChange:
    """A real opening or closing (never a correction), for announcements and notifications."""

    shelter_id: str
    before: OpenState
    after: OpenState
    at: datetime
    seq: int


def open_state_changes(before: State, events: Sequence[Event]) -> list[OpenStateChange]:
    """Openings/closings caused by ``events`` after ``before``; corrections never count."""
    states = {sid: s.open_state for sid, s in before.shelters.items()}
    changes: list[OpenStateChange] = []
    for event in events:
        if event.type != SHELTER_STATUS_REPORTED or "open_state" not in event.payload:
            if event.type == SHELTER_CORRECTION and "open_state" in event.payload:
                states[event.payload["shelter_id"]] = OpenState(event.payload["open_state"])
            continue
        sid = event.payload["shelter_id"]
        old = states.get(sid, OpenState.NOT_OPEN)
        new = OpenState(event.payload["open_state"])
        states[sid] = new
        if old.is_open != new.is_open:
            changes.append(OpenStateChange(sid, old, new, event.at, event.seq))
    return changes


def utcnow() -> datetime:
    """Aware UTC now; the one clock the store uses unless a test or drill injects another."""
    return datetime.now(UTC)
