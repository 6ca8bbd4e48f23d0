"""A scenario and its injects (状況付与): the validated form every drill runs from.

Reading a scenario file (YAML with every problem's line) is :mod:`disaster_dx.drills.parsing`;
the format itself is :mod:`disaster_dx.drills.schema`.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path
from typing import Any

from disaster_dx.cameras.scripted import SCENARIO_DIR
from disaster_dx.drills.events import DRILL_INJECT, MIN_SPEED
from disaster_dx.drills.schema import OFFSET_PATTERN
from disaster_dx.errors import Problem, ValidationError
from disaster_dx.events import HAZARD_ANNOUNCED, NewEvent
from disaster_dx.model import Hazard
from disaster_dx.store import Store

log = logging.getLogger(__name__)

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
