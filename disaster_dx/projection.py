"""The incident state without re-folding the log: a per-process cache plus stored snapshots.

A disaster lasts days and its log grows to hundreds of thousands of events, but every screen,
the public snapshot and the LINE bot need "the state now" many times a minute. Re-folding the
whole log on each read made every read cost as much as the disaster was long. Here:

- **The state now** (:meth:`StateProjection.current`) is a fold kept in this process and
  advanced from the ``seq`` it has reached: a read costs one indexed look-up of the incident's
  ``last_seq`` when nothing changed, and a fold of only the new events otherwise. A process
  that has no cached state yet (a fresh worker, the CLI) starts from the newest stored
  snapshot and folds the events after it.
- **Snapshots** (``state_snapshots``) are written after every :data:`SNAPSHOT_EVERY` events of
  any incident, live or drill, by the store right after the append commits, and lazily by any
  read that found a long tail. They are a cache of the log, never a second truth: each row is
  ``fold(events up to its seq)``; a crash between the append and the snapshot only leaves a
  snapshot missing, which the next write or read fills in.
- **The state at an instant** (:func:`state_at`, :meth:`StateProjection.at`: replay, the
  after-action report, camera history) is the newest snapshot at or before that instant plus
  a fold of at most :data:`SNAPSHOT_EVERY` events after it.

Why not a projection table updated inside the append's transaction? It would have to agree
with the fold field by field forever, and every writer would pay to rewrite it. The cache is
the fold itself (:func:`~disaster_dx.events.fold` with ``initial=``), so it equals the full
fold by construction; a property test checks that anyway, on both engines, across processes
and after simulated crashes (``tests/test_projection.py``). Every worker reads the same log
and snapshots, so two workers or two hosts never disagree for longer than one read.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Collection, Iterable, Iterator, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Column, Index, Integer, MetaData, String, Table, delete, insert, select
from sqlalchemy.exc import IntegrityError

from disaster_dx.events import (
    AreaCount,
    EvacuationAlert,
    Event,
    HazardAnnouncement,
    ShelterStatus,
    State,
    fold,
)
from disaster_dx.model import AlertLevel, Crowding, Hazard, Need, OpenState, WarningKind
from disaster_dx.store import UTCDateTime

if TYPE_CHECKING:
    from disaster_dx.store import Store

log = logging.getLogger(__name__)

#: A state snapshot is written every this many events of an incident.
SNAPSHOT_EVERY = 500
#: Bumped when the stored form of a state changes; older rows are then ignored (and rebuilt).
SNAPSHOT_FORMAT = 2
#: Incidents whose current state a process keeps (the live one and a few drills).
CACHED_INCIDENTS = 16

projection_metadata = MetaData()


state_snapshots = Table(
    "state_snapshots",
    projection_metadata,
    Column("incident_id", String(64), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", UTCDateTime, nullable=False),
    Column("format", Integer, nullable=False),
    Column("state", JSON, nullable=False),
    # "The newest snapshot at or before t" is answered from this index alone, in order, so
    # only the one chosen row (with its large JSON) is read.
    Index("ix_state_snapshots_at", "incident_id", "at", "seq"),
)


# ---------------------------------------------------------------------------------------------
# State (de)serialisation
# ---------------------------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _from_iso(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


SHELTER_TIME_FIELDS = ("reported_at", "opened_at", "state_changed_at", "corrected_at")
_SHELTER_PLAIN_FIELDS = (
    "shelter_id",
    "evacuees",
    "voluntary_evacuees",
    "households",
    "capacity",
    "other_needs",
    "pets_accepted",
    "barrier_free",
    "public_note",
    "internal_note",
    "staffed",
    "version",
    "reported_by",
)
_AREA_FIELDS = ("area", "at_home", "in_car", "note", "reported_by", "version")


def shelter_to_dict(status: ShelterStatus) -> dict[str, Any]:
    """A JSON-ready form of one shelter's status (snapshots, drill comparisons)."""
    data: dict[str, Any] = {name: getattr(status, name) for name in _SHELTER_PLAIN_FIELDS}
    data.update({name: _iso(getattr(status, name)) for name in SHELTER_TIME_FIELDS})
    data["open_state"] = status.open_state.value
    data["crowding_override"] = (
        None if status.crowding_override is None else status.crowding_override.value
    )
    data["needs"] = sorted(n.value for n in status.needs)
    data["urgent_needs"] = {n.value: at.isoformat() for n, at in status.urgent_needs.items()}
    return data


def shelter_from_dict(data: Mapping[str, Any]) -> ShelterStatus:
    """Invert :func:`shelter_to_dict` exactly."""
    values: dict[str, Any] = {name: data[name] for name in _SHELTER_PLAIN_FIELDS}
    values.update({name: _from_iso(data[name]) for name in SHELTER_TIME_FIELDS})
    override = data["crowding_override"]
    return ShelterStatus(
        **values,
        open_state=OpenState(data["open_state"]),
        crowding_override=None if override is None else Crowding(override),
        needs=frozenset(Need(n) for n in data["needs"]),
        urgent_needs={
            Need(n): datetime.fromisoformat(at) for n, at in data["urgent_needs"].items()
        },
    )


def state_to_dict(state: State) -> dict[str, Any]:
    """A JSON-ready form of a :class:`State` (for snapshots); :func:`state_from_dict` inverts it."""
    return {
        "incident_id": state.incident_id,
        "seq": state.seq,
        "as_of": _iso(state.as_of),
        "shelters": {k: shelter_to_dict(v) for k, v in state.shelters.items()},
        "areas": {
            k: {**{n: getattr(v, n) for n in _AREA_FIELDS}, "reported_at": _iso(v.reported_at)}
            for k, v in state.areas.items()
        },
        "hazards": {
            h.value: {
                "title": a.title,
                "announced_at": a.announced_at.isoformat(),
                "detail": a.detail,
                "arrival_at": _iso(a.arrival_at),
                "warning": None if a.warning is None else a.warning.value,
                "source": a.source,
            }
            for h, a in state.hazards.items()
        },
        "messages": [[at.isoformat(), actor, text] for at, actor, text in state.messages],
        "alerts": {
            k: {
                "level": a.level.value,
                "hazard": a.hazard.value,
                "areas": list(a.areas),
                "issued_at": a.issued_at.isoformat(),
                "issued_by": a.issued_by,
                "reason": a.reason,
                "lifted_at": _iso(a.lifted_at),
                "lifted_by": a.lifted_by,
                "lift_reason": a.lift_reason,
            }
            for k, a in state.alerts.items()
        },
    }


def state_from_dict(data: Mapping[str, Any], *, only: Collection[str] | None = None) -> State:
    """Rebuild the exact :class:`State` that :func:`state_to_dict` wrote.

    ``only`` (subjects such as ``shelter:<id>`` and ``area:<name>``) rebuilds just those
    shelters and areas, the warnings in force and no messages: a partial state for readers
    following a few subjects (rebuilding all 139 shelters takes about 6 ms per snapshot).
    """
    shelters, areas = data["shelters"], data["areas"]
    if only is not None:
        wanted = set(only)
        shelters = {k: v for k, v in shelters.items() if f"shelter:{k}" in wanted}
        areas = {k: v for k, v in areas.items() if f"area:{k}" in wanted}
    hazards = {}
    for code, item in data["hazards"].items():
        hazard = Hazard(code)
        hazards[hazard] = HazardAnnouncement(
            hazard=hazard,
            title=item["title"],
            announced_at=datetime.fromisoformat(item["announced_at"]),
            detail=item["detail"],
            arrival_at=_from_iso(item["arrival_at"]),
            warning=None if item["warning"] is None else WarningKind(item["warning"]),
            source=item["source"],
        )
    alerts = {
        alert_id: EvacuationAlert(
            alert_id=alert_id,
            level=AlertLevel(item["level"]),
            hazard=Hazard(item["hazard"]),
            areas=tuple(item["areas"]),
            issued_at=datetime.fromisoformat(item["issued_at"]),
            issued_by=item["issued_by"],
            reason=item["reason"],
            lifted_at=_from_iso(item["lifted_at"]),
            lifted_by=item["lifted_by"],
            lift_reason=item["lift_reason"],
        )
        for alert_id, item in data["alerts"].items()
    }
    return State(
        incident_id=data["incident_id"],
        seq=int(data["seq"]),
        as_of=_from_iso(data["as_of"]),
        shelters=MappingProxyType({k: shelter_from_dict(v) for k, v in shelters.items()}),
        areas=MappingProxyType(
            {
                k: AreaCount(
                    **{n: v[n] for n in _AREA_FIELDS}, reported_at=_from_iso(v["reported_at"])
                )
                for k, v in areas.items()
            }
        ),
        hazards=MappingProxyType(hazards),
        messages=()
        if only is not None
        else tuple(
            (datetime.fromisoformat(at), actor, text) for at, actor, text in data["messages"]
        ),
        alerts=MappingProxyType(alerts),
    )


# ---------------------------------------------------------------------------------------------
# The projection
# ---------------------------------------------------------------------------------------------


def _counted(events: Iterable[Event], counter: list[int]) -> Iterator[Event]:
    for event in events:
        counter[0] += 1
        yield event


class StateProjection:
    """The current state of each incident for one store (one per process), and states at t.

    Thread-safe: reads may run in many request threads at once. Two threads that both fold
    the same new events produce equal states; the newer one is kept.
    """

    def __init__(self, store: Store, *, every: int = SNAPSHOT_EVERY) -> None:
        if every < 1:
            raise ValueError("every must be at least 1")
        self._store = store
        self.every = every
        self._lock = threading.Lock()
        self._current: OrderedDict[str, State] = OrderedDict()

    # -- reads ----------------------------------------------------------------------------------

    def current(self, incident_id: str) -> State:
        """The incident's state now: equal to ``fold(every event of the incident)``.

        Raises :class:`~disaster_dx.errors.NotFoundError` for an unknown incident.
        """
        last = self._store.last_seq(incident_id)
        cached = self._cached(incident_id)
        if cached is not None and cached.seq == last:
            return cached
        if cached is None or cached.seq > last:
            # No usable cache (a fresh process, or a database replaced under us): start
            # from the newest snapshot instead of the first event.
            cached = self._latest_snapshot(incident_id, None)
        after = cached.seq if cached is not None else 0
        counter = [0]
        state = fold(
            _counted(self._store.iter_events(incident_id, after_seq=after), counter),
            initial=cached,
        )
        if state.incident_id is None:
            state = State(incident_id=incident_id)
        self._remember(incident_id, state)
        if counter[0] > 2 * self.every:
            self._fill_snapshots(incident_id)
        return state

    def at(self, incident_id: str, until: datetime | None = None) -> State:
        """The state at instant ``until`` (now when ``None``): snapshot + tail, never the log.

        Equal to ``fold(events with at ≤ until, until=until)``; reads at most about
        :data:`SNAPSHOT_EVERY` events after the newest snapshot at or before ``until``.
        """
        if until is None:
            return self.current(incident_id)
        self._store.incident(incident_id)  # NotFoundError for an unknown incident
        cached = self._cached(incident_id)
        if cached is not None and cached.as_of is not None and cached.as_of <= until:
            base: State | None = cached  # nothing in the cache happened after ``until``
        else:
            base = self._latest_snapshot(incident_id, until)
        after = base.seq if base is not None else 0
        # The tail is a range of the primary key: ``at`` never runs backwards, so "at ≤ t" is
        # "seq ≤ the last seq at or before t" (one index look-up). Filtering on ``at`` instead
        # lets SQLite's planner walk the ``at`` index through every earlier event.
        upto = self._store.last_seq_at(incident_id, until)
        counter = [0]
        tail = _counted(
            self._store.iter_events(incident_id, after_seq=after, limit=max(upto - after, 0))
            if upto > after
            else iter(()),
            counter,
        )
        state = fold(tail, initial=base, until=until)
        if counter[0] > 2 * self.every:
            self._fill_snapshots(incident_id)
        if state.incident_id is None:
            return State(incident_id=incident_id, as_of=until)
        return state

    def at_seq(self, incident_id: str, seq: int) -> State:
        """The state just after event ``seq`` (``State()`` for 0): "what it was before X".

        For the event log's before → after values and the notifier's "open before this batch".
        """
        if seq <= 0:
            return State(incident_id=incident_id)
        cached = self._cached(incident_id)
        if cached is not None and cached.seq == seq:
            return cached
        base = self._snapshot_at_or_before_seq(incident_id, seq)
        after = base.seq if base is not None else 0
        tail = self._store.iter_events(incident_id, after_seq=after, limit=seq - after)
        state = fold(tail, initial=base)
        return state if state.incident_id is not None else State(incident_id=incident_id)

    def snapshot_before(
        self, incident_id: str, seq: int, *, only: Collection[str] | None = None
    ) -> State | None:
        """The newest stored snapshot at or before event ``seq`` (None when there is none).

        For readers that need a few subjects at many points of the log (the event log's
        "before" values under a user filter): they carry it forward with those subjects' own
        events (the subject index) instead of folding the whole tail as :meth:`at_seq` does.
        ``only`` rebuilds just those subjects (see :func:`state_from_dict`).
        """
        return self._snapshot_at_or_before_seq(incident_id, seq, only=only)

    # -- after an append --------------------------------------------------------------------

    def appended(self, incident_id: str, events: list[Event]) -> None:
        """Advance the cache with events this process just committed; snapshot past each N.

        Called by the store after every committed append, before the listeners (publishing,
        LINE, re-planning) read the state, so they find it already up to date.
        """
        if not events:
            return
        cached = self._cached(incident_id)
        if cached is not None and cached.seq == events[0].seq - 1:
            self._remember(incident_id, fold(events, initial=cached))
        last = events[-1].seq
        if last // self.every > (last - len(events)) // self.every:
            self._fill_snapshots(incident_id)

    def forget(self, incident_id: str | None = None) -> None:
        """Drop the cached state (tests simulating a fresh process; a restored database)."""
        with self._lock:
            if incident_id is None:
                self._current.clear()
            else:
                self._current.pop(incident_id, None)

    # -- snapshots --------------------------------------------------------------------------

    def build_snapshots(self, incident_id: str) -> int:
        """Write a snapshot after every :attr:`every` events not yet covered; how many written.

        Folds forward from the newest snapshot in chunks, so each event is folded once.
        Another worker writing the same snapshot meanwhile is fine: both are the same fold.
        """
        base = self._latest_snapshot(incident_id, None)
        state = base or State()
        rows: list[dict[str, Any]] = []
        chunk: list[Event] = []
        after = base.seq if base is not None else 0
        for event in self._store.iter_events(incident_id, after_seq=after):
            chunk.append(event)
            if event.seq % self.every == 0:
                state = fold(chunk, initial=state)
                chunk = []
                rows.append(
                    {
                        "incident_id": incident_id,
                        "seq": state.seq,
                        "at": state.as_of,
                        "format": SNAPSHOT_FORMAT,
                        "state": state_to_dict(state),
                    }
                )
        written = 0
        for row in rows:
            try:
                with self._store.engine.begin() as conn:
                    # A row of an older format at this seq is a stale cache: replace it.
                    conn.execute(
                        delete(state_snapshots).where(
                            state_snapshots.c.incident_id == incident_id,
                            state_snapshots.c.seq == row["seq"],
                            state_snapshots.c.format != SNAPSHOT_FORMAT,
                        )
                    )
                    conn.execute(insert(state_snapshots).values(**row))
                written += 1
            except IntegrityError:
                pass  # another worker wrote the same snapshot: identical by construction
        if written:
            log.info("incident %s: %d state snapshot(s) written", incident_id, written)
        return written

    def _fill_snapshots(self, incident_id: str) -> None:
        try:
            self.build_snapshots(incident_id)
        except Exception:  # a cache that could not be written must never fail a read or write
            log.exception("could not write state snapshots for %s", incident_id)

    def _latest_snapshot(self, incident_id: str, until: datetime | None) -> State | None:
        table = state_snapshots
        query = (
            select(table.c.state)
            .where(table.c.incident_id == incident_id, table.c.format == SNAPSHOT_FORMAT)
            .limit(1)
        )
        if until is None:
            query = query.order_by(table.c.seq.desc())
        else:
            # ``at`` never runs backwards within an incident, so the latest ``at`` ≤ t is also
            # the highest seq; ordering by the index's own columns avoids sorting candidates.
            query = query.where(table.c.at <= until).order_by(table.c.at.desc(), table.c.seq.desc())
        with self._store.engine.connect() as conn:
            data = conn.execute(query).scalar_one_or_none()
        return None if data is None else state_from_dict(data)

    def _snapshot_at_or_before_seq(
        self, incident_id: str, seq: int, *, only: Collection[str] | None = None
    ) -> State | None:
        table = state_snapshots
        query = (
            select(table.c.state)
            .where(
                table.c.incident_id == incident_id,
                table.c.format == SNAPSHOT_FORMAT,
                table.c.seq <= seq,
            )
            .order_by(table.c.seq.desc())
            .limit(1)
        )
        with self._store.engine.connect() as conn:
            data = conn.execute(query).scalar_one_or_none()
        return None if data is None else state_from_dict(data, only=only)

    # -- the cache --------------------------------------------------------------------------

    def _cached(self, incident_id: str) -> State | None:
        with self._lock:
            return self._current.get(incident_id)

    def _remember(self, incident_id: str, state: State) -> None:
        with self._lock:
            known = self._current.get(incident_id)
            if known is None or known.seq <= state.seq:
                self._current[incident_id] = state
            self._current.move_to_end(incident_id)
            while len(self._current) > CACHED_INCIDENTS:
                self._current.popitem(last=False)


# -- the state at an instant, and what a state says ----------------------------------------


def state_at(store: Store, incident_id: str, at: datetime | None = None) -> State:
    """The incident's state at instant ``at`` (now if ``None``): snapshot + fold of the tail.

    Equal to ``fold(events with at ≤ t, until=t)`` — the same fold the live screens use —
    but reads at most :data:`SNAPSHOT_EVERY` events after the nearest earlier snapshot
    (:meth:`disaster_dx.store.Store.state`).
    """
    return store.state(incident_id, until=at)


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
