"""What the 災害対策本部 board shows and the writes HQ and shelter staff make.

The web layer stays thin: it parses inputs, calls these functions and renders their results.
Every write here checks the user's role and scope itself (the web layer checks too) and goes
through :meth:`disaster_dx.store.Store.append_merging` with the version the user saw: only the
fields a person changed are written, fields others changed meanwhile are kept, and a field two
people changed differently is refused as a conflict, so two people never silently overwrite
each other.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from disaster_dx.auth import Role, User
from disaster_dx.errors import (
    ConflictError,
    PayloadError,
    Problem,
    ValidationError,
)
from disaster_dx.errors import NotPermitted as NotPermitted  # hq.NotPermitted, as before
from disaster_dx.events import (
    AREA_OUTSIDE_REPORTED,
    SHELTER_CORRECTION,
    SHELTER_STATUS_REPORTED,
    Event,
    NewEvent,
    ShelterStatus,
    State,
)
from disaster_dx.merge import MergedEvent
from disaster_dx.model import (
    SHELTER_KIND_ORDER,
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

#: Kinds of site where staff stay and report (報告遅れ applies unless HQ says otherwise).
STAFFED_KINDS = frozenset({ShelterKind.DESIGNATED, ShelterKind.WELFARE})

#: Maps a wall-clock instant to the incident's own time. In a drill that is drill time
#: (:func:`disaster_dx.situation.incident_time`), so a 60× drill counts 報告遅れ in drill minutes
#: on every screen and in the report; ``None`` means wall time (a live incident).
IncidentClock = Callable[[datetime], timedelta]


@dataclass(frozen=True)
class Summary:
    """The HQ summary tiles."""

    open_shelters: int
    evacuees: int
    full_shelters: int
    stale_reports: int
    outside_at_home: int
    outside_in_car: int


def expects_reports(shelter: Shelter | None, status: ShelterStatus) -> bool:
    """Whether staff at the site are expected to report, so that 報告遅れ applies.

    HQ's choice (``staffed``, set by a correction) wins. Otherwise a 指定避難所 or 福祉避難所
    is staffed and a site that is only a 指定緊急避難場所 (an open-air assembly point, a
    tsunami tower) is not: nobody is there to report, so it must not turn 報告遅れ an hour
    after a bulk opening. Without the master record only HQ's choice counts.
    """
    if status.staffed is not None:
        return status.staffed
    return shelter is None or bool(shelter.kinds & STAFFED_KINDS)


def elapsed_between(since: datetime, now: datetime, clock: IncidentClock | None) -> timedelta:
    """Time from ``since`` to ``now`` in the incident's own time (drill time in a drill)."""
    return now - since if clock is None else clock(now) - clock(since)


def is_stale(
    status: ShelterStatus,
    now: datetime,
    *,
    stale_after: timedelta,
    shelter: Shelter | None = None,
    clock: IncidentClock | None = None,
) -> bool:
    """An open, staffed shelter that has not reported within ``stale_after`` (HQ should call).

    ``shelter`` (the master record) decides the default of :func:`expects_reports`;
    ``clock`` measures the wait in drill time for a drill.
    """
    if not status.open_state.is_open or status.open_state is OpenState.PERMANENT:
        return False
    if not expects_reports(shelter, status):
        return False
    last = status.reported_at or status.state_changed_at
    return last is None or elapsed_between(last, now, clock) > stale_after


def staffed_label(shelter: Shelter | None, status: ShelterStatus, lang: str = "ja") -> str:
    """常駐 / 無人 in words, marked when HQ set it rather than the default by kind."""
    staffed = expects_reports(shelter, status)
    if lang == "en":
        word = "Staffed" if staffed else "Unstaffed"
        return word + (" (set by HQ)" if status.staffed is not None else "")
    return ("常駐" if staffed else "無人") + ("（本部設定）" if status.staffed is not None else "")


def board_rows(
    shelters: Sequence[Shelter],
    state: State,
    *,
    thresholds: CrowdingThresholds,
    now: datetime,
    stale_after: timedelta,
    urgent_after: timedelta,
    lang: str = "ja",
    clock: IncidentClock | None = None,
    names: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """One row per shelter for the HQ board (staff-only: includes reporter and internal note).

    ``clock`` (a drill's) makes "N分前" and 報告遅れ drill minutes, as the tiles and report.
    ``names`` maps login ids to display names: ``reported_by`` shows the name people know,
    ``reported_by_id`` keeps the login id (exports carry both).
    """
    names = names or {}
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
            waited = elapsed_between(status.reported_at, now, clock)
            minutes = max(0, int(waited.total_seconds() // 60))
        stale = is_stale(status, now, stale_after=stale_after, shelter=shelter, clock=clock)
        rows.append(
            {
                "id": shelter.shelter_id,
                "shelter_id": shelter.shelter_id,
                "name": shelter.name,
                "kind": "・".join(k.label(lang) for k in SHELTER_KIND_ORDER if k in shelter.kinds),
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
                "reported": ago_text(minutes, lang),
                "reported_by": names.get(status.reported_by or "", status.reported_by or ""),
                "reported_by_id": status.reported_by or "",
                "stale": "要確認" if stale and lang == "ja" else ("CHECK" if stale else ""),
                "staffed": expects_reports(shelter, status),
                "staffed_set": status.staffed,
                "staffed_label": staffed_label(shelter, status, lang),
                "internal_note": status.internal_note,
                "version": status.version,
            }
        )
    return rows


def _fraction(evacuees: int | None, capacity: int | None) -> str:
    left = "—" if evacuees is None else str(evacuees)
    right = "—" if capacity is None else str(capacity)
    return f"{left} / {right}"


def ago_text(minutes: int | None, lang: str) -> str:
    """「N分前」 / "N min ago", or 「未報告」 when never reported."""
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
    clock: IncidentClock | None = None,
) -> Summary:
    """Counts for the tiles: open, evacuees, full, stale, and people outside shelters.

    報告遅れ counts only staffed sites (:func:`expects_reports`), in drill time for a drill.
    """
    open_count = evacuees = full = stale = 0
    for shelter in shelters:
        status = state.shelter(shelter.shelter_id)
        if status.open_state.is_open:
            open_count += 1
            evacuees += status.evacuees or 0
            if status.crowding(thresholds, master_capacity=shelter.capacity) is Crowding.FULL:
                full += 1
        stale += is_stale(status, now, stale_after=stale_after, shelter=shelter, clock=clock)
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
) -> MergedEvent:
    """Record the fields a user changed on one shelter (a report or a correction).

    ``changes`` holds only the fields the user changed; untouched fields are never written.
    ``seen_version`` is the version the user's screen showed. Fields others changed since
    merge silently (the returned event's ``merged`` names them, with who and when); a field in
    ``changes`` that someone else changed since to another value is a conflict and nothing is
    written. Re-applying is the same call with ``seen_version=exc.actual`` and the same
    ``changes``.

    Raises
    ------
    NotPermitted
        The user may not update this shelter (audit-logged).
    PayloadError
        A value is invalid; every bad field is named.
    ConflictError
        Someone changed one of these fields since ``seen_version``: ``fields`` gives mine /
        theirs / original / by / at for each, ``actual`` the newest version.
    """
    _require_shelter_access(store, user, shelter_id)
    if "staffed" in changes and not user.has(Role.HQ):
        # Whether 報告遅れ applies to a site is HQ's call (set_staffed), not the site's own.
        store.audit(user.username, "shelter.staffed_refused", target=shelter_id)
        raise NotPermitted(f"{user.username} may not change whether a site is staffed")
    store.shelter(shelter_id)  # NotFoundError for an unknown id
    named = changes.get("shelter_id", shelter_id)
    if named != shelter_id:
        raise PayloadError(
            SHELTER_STATUS_REPORTED,
            [Problem("shelter_id", f"{named!r} is not the shelter being reported ({shelter_id})")],
        )
    payload: dict[str, Any] = {**changes, "shelter_id": shelter_id}
    if correction:
        payload["reason"] = reason
    event_type = SHELTER_CORRECTION if correction else SHELTER_STATUS_REPORTED
    outcome = store.append_merging(
        incident_id,
        [NewEvent(event_type, payload)],
        actor=user.username,
        bases={subject_for_shelter(shelter_id): seen_version},
    )
    (event,) = outcome.events
    assert isinstance(event, MergedEvent)  # append_merging returns them so
    return event


def set_staffed(
    store: Store,
    incident_id: str,
    user: User,
    shelter_id: str,
    staffed: bool | None,
    *,
    seen_version: int,
    reason: str = "",
) -> Event:
    """HQ says whether staff are at a site (``None``: back to the default by kind).

    A ``shelter.correction``: it never counts as a report, never re-announces anything, and
    the board, tiles, replay and report all read it from the log (HQ only, audit of refusals).
    """
    if not user.has(Role.HQ):
        store.audit(user.username, "shelter.staffed_refused", target=shelter_id)
        raise NotPermitted(f"{user.username} may not change whether a site is staffed")
    words = {True: "常駐", False: "無人", None: "種別による既定"}[staffed]
    return report_status(
        store,
        incident_id,
        user,
        shelter_id,
        {"staffed": staffed},
        seen_version=seen_version,
        correction=True,
        reason=reason or f"職員配置: {words}",
    )


@dataclass(frozen=True)
class SeenShelter:
    """What HQ's screen showed of one shelter: the version and the open state."""

    version: int
    open_state: OpenState


def seen_on_screen(state: State, shelter_ids: Sequence[str]) -> dict[str, SeenShelter]:
    """The :class:`SeenShelter` of each shelter in ``state`` (the state a screen was drawn from)."""
    return {
        sid: SeenShelter(state.shelter(sid).version, state.shelter(sid).open_state)
        for sid in shelter_ids
    }


@dataclass(frozen=True)
class BulkOutcome:
    """What a bulk open/close did.

    ``skipped`` holds the shelters someone changed the open state of after HQ's screen was
    drawn (left as they are; each with its conflict), ``unchanged`` those the screen already
    showed in the requested state.
    """

    events: list[Event]
    skipped: dict[str, ConflictError]
    unchanged: list[str]


def set_open_state_bulk(
    store: Store,
    incident_id: str,
    user: User,
    shelter_ids: Sequence[str],
    open_state: OpenState,
    *,
    seen: Mapping[str, SeenShelter],
) -> BulkOutcome:
    """Open or close a group of shelters in one batch (HQ only), from what HQ saw.

    ``seen`` is what HQ's screen showed of each shelter (not what the store holds at click
    time). Shelters it showed in ``open_state`` already are left alone. A shelter whose open
    state someone else changed since that screen, to another state, is skipped and listed;
    the rest are written in one batch (one instant), each merged with other fields changed
    meanwhile.
    """
    if not user.has(Role.HQ):
        store.audit(user.username, "shelter.bulk_refused", target=",".join(shelter_ids)[:200])
        raise NotPermitted(f"{user.username} may not change shelters in bulk")
    unseen = [sid for sid in shelter_ids if sid not in seen]
    if unseen:
        raise ValidationError(
            "bulk action",
            [Problem(sid, "was not on the screen: no version seen") for sid in unseen],
        )
    targets = [sid for sid in shelter_ids if seen[sid].open_state is not open_state]
    unchanged = [sid for sid in shelter_ids if sid not in targets]
    if not targets:
        return BulkOutcome([], {}, unchanged)
    outcome = store.append_merging(
        incident_id,
        [
            NewEvent(SHELTER_STATUS_REPORTED, {"shelter_id": sid, "open_state": open_state.value})
            for sid in targets
        ],
        actor=user.username,
        bases={subject_for_shelter(sid): seen[sid].version for sid in targets},
        skip_conflicting=True,
    )
    skipped = {subject.partition(":")[2]: exc for subject, exc in outcome.skipped.items()}
    return BulkOutcome(outcome.events, skipped, unchanged)


def report_area(
    store: Store,
    incident_id: str,
    user: User,
    area: str,
    *,
    at_home: int | None,
    in_car: int | None,
    note: str | None = None,
    seen_version: int,
) -> MergedEvent:
    """Record people sheltering outside shelters (在宅避難・車中泊) in one area (HQ only).

    Only the counts given (not ``None``) are written, on ``seen_version`` (the area's version
    HQ's screen showed; 0 for an area not listed yet), with the same per-field merge as
    :func:`report_status`.
    """
    if not user.has(Role.HQ):
        store.audit(user.username, "area.update_refused", target=area[:200])
        raise NotPermitted(f"{user.username} may not record area counts")
    area = area.strip()
    if not area:
        raise ValidationError("area report", [Problem("area", "must not be empty")])
    payload: dict[str, Any] = {"area": area}
    for name, value in (("at_home", at_home), ("in_car", in_car), ("note", note)):
        if value is not None:
            payload[name] = value
    outcome = store.append_merging(
        incident_id,
        [NewEvent(AREA_OUTSIDE_REPORTED, payload)],
        actor=user.username,
        bases={f"area:{area}": seen_version},
    )
    (event,) = outcome.events
    assert isinstance(event, MergedEvent)
    return event


@dataclass(frozen=True)
class Question:
    """A value that is allowed but unlikely: the person is asked to confirm before sending.

    ``fields`` are the payload fields involved (shown next to the question).
    """

    code: str
    fields: tuple[str, ...]
    ja: str
    en: str

    def text(self, lang: str) -> str:
        """The question in ``lang``."""
        return self.en if lang == "en" else self.ja


def plausibility_questions(
    *, evacuees: int | None, households: int | None, capacity: int | None
) -> list[Question]:
    """Questions for unlikely counts (a mistyped digit is the usual cause).

    More households than people, or more than twice as many people as the capacity, can
    happen but rarely do, so the person confirms them instead of being refused.
    """
    questions: list[Question] = []
    if evacuees is not None and households is not None and households > evacuees:
        questions.append(
            Question(
                "households_over_evacuees",
                ("households", "evacuees"),
                f"世帯数（{households}）が避難者数（{evacuees}人）より多くなっています。"
                "このままでよいですか？",
                f"Households ({households}) exceed evacuees ({evacuees}). Is that right?",
            )
        )
    if evacuees is not None and capacity and evacuees > 2 * capacity:
        questions.append(
            Question(
                "evacuees_over_twice_capacity",
                ("evacuees", "capacity"),
                f"避難者数（{evacuees}人）が収容人数（{capacity}人）の2倍を超えています。"
                "このままでよいですか？",
                f"Evacuees ({evacuees}) are more than twice the capacity ({capacity}). "
                "Is that right?",
            )
        )
    return questions


#: A point of the 在宅避難・車中泊 chart: when, people at home, people in cars (city totals).
OutsidePoint = tuple[datetime, int, int]


class OutsideHistory:
    """The 在宅避難・車中泊 chart's points, advanced from the last area report read.

    The chart shows city-wide totals after every area report of a week-long incident; reading
    every area report on each HQ poll would cost as much as the incident is long. One
    instance per app (per process) keeps each incident's running totals and points and reads
    only the area reports after the last one it saw (the ``(incident_id, type, seq)`` index);
    :meth:`points` then hands the chart at most ``max_points`` of them, evenly spread, always
    including the newest.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._incidents: dict[str, tuple[int, dict[str, tuple[int, int]], list[OutsidePoint]]] = {}

    def points(
        self, store: Store, incident_id: str, *, max_points: int = 240
    ) -> list[OutsidePoint]:
        """The chart's points now (equal to :func:`outside_history`, thinned to ``max_points``)."""
        with self._lock:
            seen, latest, history = self._incidents.get(incident_id, (0, {}, []))
            latest = dict(latest)
            new = list(
                store.iter_events(incident_id, after_seq=seen, types=[AREA_OUTSIDE_REPORTED])
            )
            for event in new:
                _add_outside_point(latest, history, event)
                seen = event.seq
            self._incidents[incident_id] = (seen, latest, history)
            if len(history) <= max_points:
                return list(history)
            step = len(history) / (max_points - 1)
            chosen = [history[int(i * step)] for i in range(max_points - 1)]
            return [*chosen, history[-1]]


def _add_outside_point(
    latest: dict[str, tuple[int, int]], history: list[OutsidePoint], event: Event
) -> None:
    area = str(event.payload["area"])
    home, car = latest.get(area, (0, 0))
    home = int(event.payload.get("at_home", home))
    car = int(event.payload.get("in_car", car))
    latest[area] = (home, car)
    history.append(
        (event.at, sum(h for h, _ in latest.values()), sum(c for _, c in latest.values()))
    )


def outside_history(events: Iterable[Event]) -> list[tuple[datetime, int, int]]:
    """City-wide 在宅避難 and 車中泊 totals after each area report, for the chart over time.

    Each area counts with its latest report, so a re-report replaces, never adds to, that
    area's earlier number. Other events are skipped; callers read only area reports
    (``Store.iter_events(types=[AREA_OUTSIDE_REPORTED])``), not the whole log.
    """
    latest: dict[str, tuple[int, int]] = {}
    history: list[OutsidePoint] = []
    for event in events:
        if event.type == AREA_OUTSIDE_REPORTED:
            _add_outside_point(latest, history, event)
    return history
