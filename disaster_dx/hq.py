"""What the 災害対策本部 board shows and the writes HQ and shelter staff make.

The web layer stays thin: it parses inputs, calls these functions and renders their results.
Every write here checks the user's role and scope itself (the web layer checks too) and goes
through :meth:`disaster_dx.store.Store.append` with the version the user saw, so two people never
silently overwrite each other.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from disaster_dx.auth import Role, User
from disaster_dx.errors import DisasterDxError, Problem, ValidationError
from disaster_dx.events import (
    AREA_OUTSIDE_REPORTED,
    SHELTER_CORRECTION,
    SHELTER_STATUS_REPORTED,
    Event,
    NewEvent,
    ShelterStatus,
    State,
)
from disaster_dx.model import (
    Crowding,
    CrowdingThresholds,
    Hazard,
    Need,
    OpenState,
    Shelter,
    ShelterKind,
)
from disaster_dx.store import Store, subject_for_shelter

log = logging.getLogger(__name__)

_KIND_ORDER = (ShelterKind.DESIGNATED, ShelterKind.EMERGENCY, ShelterKind.WELFARE)


class NotPermitted(DisasterDxError):
    """The user may not make this change (it was refused and audit-logged)."""


@dataclass(frozen=True)
class Summary:
    """The HQ summary tiles."""

    open_shelters: int
    evacuees: int
    full_shelters: int
    stale_reports: int
    outside_at_home: int
    outside_in_car: int


def is_stale(status: ShelterStatus, now: datetime, *, stale_after: timedelta) -> bool:
    """An open shelter that has not reported within ``stale_after`` (HQ should call it)."""
    if not status.open_state.is_open or status.open_state is OpenState.PERMANENT:
        return False
    last = status.reported_at or status.state_changed_at
    return last is None or now - last > stale_after


def board_rows(
    shelters: Sequence[Shelter],
    state: State,
    *,
    thresholds: CrowdingThresholds,
    now: datetime,
    stale_after: timedelta,
    urgent_after: timedelta,
    lang: str = "ja",
) -> list[dict[str, Any]]:
    """One row per shelter for the HQ board (staff-only: includes reporter and internal note)."""
    rows = []
    for shelter in shelters:
        status = state.shelter(shelter.shelter_id)
        crowding = status.crowding(thresholds, master_capacity=shelter.capacity)
        capacity = status.capacity if status.capacity is not None else shelter.capacity
        urgent = status.active_urgent_needs(now, expire_after=urgent_after)
        needs = [
            (f"!{n.label(lang)}" if n in urgent else n.label(lang))
            for n in Need
            if n in status.needs or n in urgent
        ]
        if status.other_needs:
            needs.append(status.other_needs)
        minutes = None
        if status.reported_at is not None:
            minutes = max(0, int((now - status.reported_at).total_seconds() // 60))
        stale = is_stale(status, now, stale_after=stale_after)
        rows.append(
            {
                "id": shelter.shelter_id,
                "shelter_id": shelter.shelter_id,
                "name": shelter.name,
                "kind": "・".join(k.label(lang) for k in _KIND_ORDER if k in shelter.kinds),
                "hazards": " ".join(h.value for h in Hazard if h in shelter.hazards),
                "open_state": status.open_state.label(lang),
                "open_state_code": status.open_state.value,
                "crowding": (crowding.label(lang) if crowding else "—")
                + ("（手動）" if status.crowding_override and lang == "ja" else "")
                + (" (manual)" if status.crowding_override and lang == "en" else ""),
                "crowding_code": crowding.value if crowding else "",
                "evacuees": status.evacuees,
                "capacity": capacity,
                "evacuees_capacity": _fraction(status.evacuees, capacity),
                "needs": "、".join(needs) if lang == "ja" else ", ".join(needs),
                "urgent": bool(urgent),
                "reported_minutes": minutes,
                "reported": _ago(minutes, lang),
                "reported_by": status.reported_by or "",
                "stale": "要確認" if stale and lang == "ja" else ("CHECK" if stale else ""),
                "internal_note": status.internal_note,
                "version": status.version,
            }
        )
    return rows


def _fraction(evacuees: int | None, capacity: int | None) -> str:
    left = "—" if evacuees is None else str(evacuees)
    right = "—" if capacity is None else str(capacity)
    return f"{left} / {right}"


def _ago(minutes: int | None, lang: str) -> str:
    if minutes is None:
        return "未報告" if lang == "ja" else "no report"
    return f"{minutes}分前" if lang == "ja" else f"{minutes} min ago"


def summary(
    shelters: Sequence[Shelter],
    state: State,
    *,
    thresholds: CrowdingThresholds,
    now: datetime,
    stale_after: timedelta,
) -> Summary:
    """Counts for the tiles: open, evacuees, full, stale, and people outside shelters."""
    open_count = evacuees = full = stale = 0
    for shelter in shelters:
        status = state.shelter(shelter.shelter_id)
        if status.open_state.is_open:
            open_count += 1
            evacuees += status.evacuees or 0
            if status.crowding(thresholds, master_capacity=shelter.capacity) is Crowding.FULL:
                full += 1
        stale += is_stale(status, now, stale_after=stale_after)
    at_home = sum(a.at_home or 0 for a in state.areas.values())
    in_car = sum(a.in_car or 0 for a in state.areas.values())
    return Summary(open_count, evacuees, full, stale, at_home, in_car)


# -- writes -------------------------------------------------------------------------------------


def _require_shelter_access(store: Store, user: User, shelter_id: str) -> None:
    if not user.may_update_shelter(shelter_id):
        store.audit(user.username, "shelter.update_refused", target=shelter_id)
        log.warning("refused: %s may not update shelter %s", user.username, shelter_id)
        raise NotPermitted(f"{user.username} may not update shelter {shelter_id}")


def report_status(
    store: Store,
    incident_id: str,
    user: User,
    shelter_id: str,
    changes: Mapping[str, Any],
    *,
    seen_version: int,
    correction: bool = False,
    reason: str = "",
) -> Event:
    """Record a status report (or a correction) for one shelter, based on ``seen_version``.

    Raises
    ------
    NotPermitted
        The user may not update this shelter (audit-logged).
    PayloadError
        A value is invalid; every bad field is named.
    ConflictError
        Someone changed the shelter since ``seen_version``; carries the newer values.
    """
    _require_shelter_access(store, user, shelter_id)
    store.shelter(shelter_id)  # NotFoundError for an unknown id
    payload: dict[str, Any] = {"shelter_id": shelter_id, **changes}
    if correction:
        payload["reason"] = reason
    event_type = SHELTER_CORRECTION if correction else SHELTER_STATUS_REPORTED
    (event,) = store.append(
        incident_id,
        [NewEvent(event_type, payload)],
        actor=user.username,
        expected={subject_for_shelter(shelter_id): seen_version},
    )
    return event


def set_open_state_bulk(
    store: Store,
    incident_id: str,
    user: User,
    shelter_ids: Sequence[str],
    open_state: OpenState,
    *,
    state: State,
) -> list[Event]:
    """Open or close a group of shelters in one batch (HQ only); unchanged ones are skipped.

    The versions come from ``state`` (what HQ saw), so a shelter changed meanwhile makes the
    whole batch fail with a conflict instead of overwriting that change.
    """
    if not user.has(Role.HQ):
        store.audit(user.username, "shelter.bulk_refused", target=",".join(shelter_ids)[:200])
        raise NotPermitted(f"{user.username} may not change shelters in bulk")
    targets = [sid for sid in shelter_ids if state.shelter(sid).open_state is not open_state]
    if not targets:
        return []
    events = [
        NewEvent(SHELTER_STATUS_REPORTED, {"shelter_id": sid, "open_state": open_state.value})
        for sid in targets
    ]
    expected = {subject_for_shelter(sid): state.shelter(sid).version for sid in targets}
    return store.append(incident_id, events, actor=user.username, expected=expected)


def report_area(
    store: Store,
    incident_id: str,
    user: User,
    area: str,
    *,
    at_home: int | None,
    in_car: int | None,
    note: str = "",
    seen_version: int | None = None,
) -> Event:
    """Record people sheltering outside shelters (在宅避難・車中泊) in one area (HQ only)."""
    if not user.has(Role.HQ):
        store.audit(user.username, "area.update_refused", target=area[:200])
        raise NotPermitted(f"{user.username} may not record area counts")
    area = area.strip()
    if not area:
        raise ValidationError("area report", [Problem("area", "must not be empty")])
    payload: dict[str, Any] = {"area": area, "note": note}
    if at_home is not None:
        payload["at_home"] = at_home
    if in_car is not None:
        payload["in_car"] = in_car
    expected = None if seen_version is None else {f"area:{area}": seen_version}
    (event,) = store.append(
        incident_id,
        [NewEvent(AREA_OUTSIDE_REPORTED, payload)],
        actor=user.username,
        expected=expected,
    )
    return event


def outside_history(events: Iterable[Event]) -> list[tuple[datetime, int, int]]:
    """City-wide 在宅避難 and 車中泊 totals after each area report, for the chart over time.

    Each area counts with its latest report, so a re-report replaces, never adds to, that
    area's earlier number. Other events are skipped; callers read only area reports
    (``Store.iter_events(types=[AREA_OUTSIDE_REPORTED])``), not the whole log.
    """
    latest: dict[str, tuple[int, int]] = {}
    history: list[tuple[datetime, int, int]] = []
    for event in events:
        if event.type != AREA_OUTSIDE_REPORTED:
            continue
        area = str(event.payload["area"])
        home, car = latest.get(area, (0, 0))
        home = int(event.payload.get("at_home", home))
        car = int(event.payload.get("in_car", car))
        latest[area] = (home, car)
        history.append(
            (event.at, sum(h for h, _ in latest.values()), sum(c for _, c in latest.values()))
        )
    return history
