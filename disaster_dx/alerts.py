"""避難情報 and warnings in force: HQ's central act, as incident events.

HQ issues 警戒レベル3 高齢者等避難, 4 避難指示 and 5 緊急安全確保 per area for a hazard, and
lifts (解除) them; warnings from JMA or the prefecture (大津波警報, 洪水警報, 土砂災害警戒情報 …)
are recorded as ``hazard.announced`` / ``hazard.cleared``. Both set "the hazard in force"
(:attr:`~disaster_dx.events.State.current_hazard`) that the public page, the LINE bot and HQ's
「開設が必要」 list follow. Everything here is an event in the incident's log: attributed,
replayable, and the same in a drill (where the scenario writes the warnings).

Writers are either a signed-in :class:`~disaster_dx.auth.User` (checked for the ``hq`` role,
refusals audit-logged) or, from the CLI on the server, the operator's name.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from disaster_dx.areas import Area, shelters_in_areas
from disaster_dx.auth import User, hq_writer
from disaster_dx.errors import DisasterDxError, NotFoundError, Problem, ValidationError
from disaster_dx.events import (
    ALERT_ISSUED,
    ALERT_LIFTED,
    HAZARD_ANNOUNCED,
    HAZARD_CLEARED,
    EvacuationAlert,
    Event,
    HazardAnnouncement,
    NewEvent,
    State,
)
from disaster_dx.model import AlertLevel, Hazard, OpenState, Shelter, WarningKind
from disaster_dx.store import Store


class AlertRefused(DisasterDxError):
    """The user may not issue or lift 避難情報 (refused and audit-logged)."""


def _actor(store: Store, by: User | str, action: str, target: str) -> str:
    return hq_writer(
        store,
        by,
        action=action,
        target=target,
        refusal=lambda name: AlertRefused(f"{name} may not issue or lift 避難情報 or warnings"),
    )


def issue_alert(
    store: Store,
    incident_id: str,
    by: User | str,
    *,
    level: AlertLevel,
    hazard: Hazard,
    areas: Sequence[str],
    reason: str = "",
) -> EvacuationAlert:
    """Issue 避難情報 for ``areas``; returns it as the state now holds it.

    An alert in force for the same hazard and exactly the same areas is lifted in the same
    append (raising 4 → 5 or lowering 5 → 3 is one act, never two alerts in force at once).
    Unknown areas are refused with their names.
    """
    actor = _actor(store, by, "alert.issue", ",".join(areas))
    known = {a.area_id: a for a in store.areas()}
    unknown = [a for a in areas if a not in known]
    if unknown:
        names = ", ".join(repr(a) for a in unknown)
        choices = ", ".join(f"{a.area_id} ({a.name})" for a in known.values())
        raise ValidationError(
            "避難情報", [Problem("areas", f"unknown area(s) {names}; known: {choices}")]
        )
    state = store.state(incident_id)
    alert_id = f"A{uuid.uuid4().hex[:8]}"
    events: list[NewEvent] = [
        NewEvent(
            ALERT_LIFTED,
            {
                "alert_id": old.alert_id,
                "reason": f"警戒レベル{level.number}「{level.ja}」の発令により切り替え",
            },
        )
        for old in state.alerts_in_force
        if old.hazard is hazard and set(old.areas) == set(areas)
    ]
    payload = {
        "alert_id": alert_id,
        "level": level.value,
        "hazard": hazard.value,
        "areas": list(areas),
    }
    if reason:
        payload["reason"] = reason
    events.append(NewEvent(ALERT_ISSUED, payload))
    store.append(incident_id, events, actor=actor)
    return store.state(incident_id).alerts[alert_id]


def lift_alert(
    store: Store, incident_id: str, by: User | str, alert_id: str, *, reason: str = ""
) -> EvacuationAlert:
    """Lift (解除) 避難情報 in force; a lifted or unknown one is refused by name."""
    actor = _actor(store, by, "alert.lift", alert_id)
    alert = store.state(incident_id).alerts.get(alert_id)
    if alert is None:
        raise NotFoundError(f"no 避難情報 {alert_id!r} in this incident")
    if not alert.in_force:
        raise DisasterDxError(f"避難情報 {alert_id} was already lifted at {alert.lifted_at}")
    payload = {"alert_id": alert_id}
    if reason:
        payload["reason"] = reason
    store.append(incident_id, [NewEvent(ALERT_LIFTED, payload)], actor=actor)
    return store.state(incident_id).alerts[alert_id]


def announce_warning(
    store: Store,
    incident_id: str,
    by: User | str,
    *,
    warning: WarningKind,
    hazard: Hazard | None = None,
    arrival_at: datetime | None = None,
    source: str = "",
    detail: str = "",
) -> HazardAnnouncement:
    """Record a warning in force (e.g. 大津波警報 from JMA); it replaces one for the same hazard."""
    actor = _actor(store, by, "warning.announce", warning.value)
    hazard = hazard or warning.hazard
    if hazard is None:
        raise ValidationError(
            "警報", [Problem("hazard", f"{warning.ja}: say which hazard it is about")]
        )
    if arrival_at is not None and arrival_at.tzinfo is None:
        raise ValidationError("警報", [Problem("arrival_at", "must include a time zone")])
    payload: dict[str, object] = {
        "hazard": hazard.value,
        "title": warning.ja,
        "warning": warning.value,
    }
    if arrival_at is not None:
        payload["arrival_at"] = arrival_at.isoformat()
    if source:
        payload["source"] = source
    if detail:
        payload["detail"] = detail
    store.append(incident_id, [NewEvent(HAZARD_ANNOUNCED, payload)], actor=actor)
    return store.state(incident_id).hazards[hazard]


def clear_warning(
    store: Store, incident_id: str, by: User | str, hazard: Hazard, *, detail: str = ""
) -> Event:
    """Record that the warning for ``hazard`` is no longer in force."""
    actor = _actor(store, by, "warning.clear", hazard.value)
    if hazard not in store.state(incident_id).hazards:
        raise NotFoundError(f"no warning in force for {hazard.ja}")
    payload = {"hazard": hazard.value}
    if detail:
        payload["detail"] = detail
    (event,) = store.append(incident_id, [NewEvent(HAZARD_CLEARED, payload)], actor=actor)
    return event


def shelters_needing_opening(
    state: State, shelters: Sequence[Shelter], areas: Sequence[Area]
) -> list[tuple[Shelter, EvacuationAlert]]:
    """Shelters suitable for the hazard of 避難情報 in force in their area, not yet open.

    HQ lists them as 「開設が必要」 until they are opened; each with the alert that asks for
    it (the highest level when several do). A shelter HQ closed while that alert was in force
    (「建物損壊・使用不可」) is HQ's decision, not an omission: it is not listed again, so the
    one-click "open these" can never re-open it.
    """
    needed: dict[str, tuple[Shelter, EvacuationAlert]] = {}
    for alert in state.alerts_in_force:  # highest level first
        for shelter in shelters_in_areas(areas, alert.areas, shelters):
            if not shelter.suits(alert.hazard) or shelter.shelter_id in needed:
                continue
            status = state.shelter(shelter.shelter_id)
            if status.open_state.is_open:
                continue
            closed_since = status.state_changed_at
            if status.open_state is OpenState.CLOSED and (
                closed_since is not None and closed_since >= alert.issued_at
            ):
                continue
            needed[shelter.shelter_id] = (shelter, alert)
    return list(needed.values())
