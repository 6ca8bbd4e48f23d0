"""What HQ reads at the top of ``/hq``, and the incident's own clock (drill time in a drill).

The panel shows the 避難情報 and warnings in force, the latest 状況付与 / 本部連絡 messages
(with whom they are for: 「避難所班へ…」) and the shelters still needing opening. In a drill,
players see the drill's injected warnings and messages there at drill time, and every time on
their screens — "N分前", 報告遅れ, 津波到達までの時間 — is drill time, as in the replay and the
after-action report (:func:`incident_time`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import select

from disaster_dx._time import JST, to_jst
from disaster_dx.drills import DRILL_CONTROL, MIN_SPEED, scenario_clock
from disaster_dx.events import INCIDENT_MESSAGE, State
from disaster_dx.hq import IncidentClock
from disaster_dx.store import Incident, Store, event_from_row, events_table

#: How many of the newest messages the panel lists.
MESSAGES_SHOWN = 5


@dataclass(frozen=True)
class IncidentTime:
    """How the screens of one incident tell time.

    A live incident reads JST wall time. A drill reads its scenario clock: ``clock`` maps a
    wall instant to drill time (pauses and 60× included) and ``base`` is the clock time drill
    time 0 stands for (the scenario's ``start_time``), so 「想定 09:28」 means the same on
    the HQ panel, in the replay and in the report.
    """

    clock: IncidentClock | None = None
    base: datetime | None = None
    speed: float = 1.0

    @property
    def is_drill(self) -> bool:
        """Whether times are drill times."""
        return self.clock is not None

    def label(self, moment: datetime) -> str:
        """``HH:MM``: JST for live, the scenario's clock for a drill."""
        if self.clock is None or self.base is None:
            return to_jst(moment).strftime("%H:%M")
        return (self.base + self.clock(moment)).strftime("%H:%M")

    def until(self, moment: datetime, now: datetime) -> timedelta:
        """Incident time from ``now`` to ``moment`` (negative once it has passed)."""
        if self.clock is None:
            return moment - now
        return self.clock(moment) - self.clock(now)

    def wall_after(self, now: datetime, wait: timedelta) -> datetime:
        """The wall instant ``wait`` of incident time after ``now`` (at the current speed)."""
        return now + wait / max(self.speed, MIN_SPEED)


def incident_time(store: Store, incident: Incident) -> IncidentTime:
    """The clock of ``incident``: wall time for live, drill time from its controls for a drill."""
    if not incident.is_drill:
        return IncidentTime()
    controls = store.events(incident.incident_id, types={DRILL_CONTROL})
    if not controls:
        return IncidentTime()
    start = controls[0]
    base = to_jst(start.at)
    start_time = start.payload.get("start_time")
    if start.payload.get("action") == "start" and start_time:
        hour, minute = (int(p) for p in str(start_time).split(":"))
        base = datetime.combine(base.date(), time(hour, minute), tzinfo=JST)
    return IncidentTime(
        clock=scenario_clock(controls),
        base=base,
        speed=float(controls[-1].payload.get("speed", 1.0)),
    )


@dataclass(frozen=True)
class Message:
    """A 状況付与 or 本部連絡 message: when, who wrote it, whom it is for, what it says."""

    at: datetime
    actor: str
    to: str
    text: str


def recent_messages(
    store: Store, incident_id: str, state: State, *, limit: int = MESSAGES_SHOWN
) -> list[Message]:
    """The newest ``limit`` messages, newest first, each with its addressee.

    The state keeps each message's time but not its addressee, so this reads only the
    message events from the ``limit``-th newest message's time on (the ``(incident, at)``
    index): a read that costs a few rows however long the log is.
    """
    if not state.messages or limit <= 0:
        return []
    since = state.messages[-limit:][0][0]
    query = (
        select(events_table)
        .where(
            events_table.c.incident_id == incident_id,
            events_table.c.at >= since,
            events_table.c.type == INCIDENT_MESSAGE,
            events_table.c.seq <= state.seq,
        )
        .order_by(events_table.c.seq.desc())
        .limit(limit)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    events = [event_from_row(r._mapping) for r in rows]
    return [
        Message(e.at, e.actor, str(e.payload.get("to") or ""), str(e.payload["text"]))
        for e in events
    ]
