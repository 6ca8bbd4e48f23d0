"""Drill runs: start, pause, resume, change speed, stop; what fired; their table.

A drill's scheduler state (speed, pause, how many injects fired) is a row of ``drill_runs``,
so any app worker can pause or speed up a drill and the scheduler picks it up.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

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
from disaster_dx.drills.events import DRILL_CONTROL, DRILL_INJECT, MAX_SPEED, MIN_SPEED
from disaster_dx.drills.scenario import Inject, Scenario
from disaster_dx.errors import DisasterDxError, NotFoundError
from disaster_dx.events import NewEvent
from disaster_dx.model import Hazard, IncidentKind
from disaster_dx.store import Store, UTCDateTime, events_table

log = logging.getLogger(__name__)

#: Source of "now" (tests and :func:`~disaster_dx.drills.record.run_to_end` inject their own).
Clock = Callable[[], datetime]


class DrillError(DisasterDxError):
    """A drill command cannot be done now (wrong state, unknown drill, bad speed)."""


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
