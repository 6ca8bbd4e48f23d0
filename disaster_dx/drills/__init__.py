"""Training drills: scenario files, drill incidents, the inject scheduler, replay and export.

The city runs 災害対策本部運営訓練 with the real HQ screens. A drill is an ordinary incident of
kind ``drill``: staff work in it exactly as in a live one, and a scheduler appends the
scenario's injects (状況付与) to it at their times. Because a drill is just another incident
with its own event log, it never touches live state or the public snapshot, and replaying it
afterwards is the same :func:`~disaster_dx.events.fold` the live screens use.

The package, one module per concern (import from here; the names stay where callers find them):

``events``
    The drill's event types (``drill.inject``, ``drill.control``, ``camera.scripted``), its
    actor and speed limits; :func:`register_drill_event_types`.
``schema``
    The scenario file format as a JSON Schema (draft 2020-12; ``data/scenarios/
    scenario.schema.json`` is the same schema for editors) and its errors in plain words.
``scenario``
    :class:`Scenario` and :class:`Inject`, offsets (``+HH:MM:SS``), problems, the bundled
    scenarios.
``parsing``
    Reading a scenario file: every problem at once with its line, from the YAML parser's node
    marks; shelters named by id or by their exact name in the real master.
``runs``
    A drill run (``drill_runs`` row): start, pause, resume, speed, stop; what fired.
``scheduler``
    :class:`DrillScheduler`, which fires due injects while it holds the ``drill-scheduler``
    lease (:mod:`disaster_dx.leases`), as ``disaster-dx drill run`` or a daemon thread of the
    web app; both compete for the same lease.
``record``
    Record → scenario (:func:`scenario_from_incident`), the scenario clock, whole runs on an
    injected clock, the operator's timeline.

Not drills, kept importable from here: the state at an instant (:func:`state_at`,
:func:`state_content`) lives in :mod:`disaster_dx.projection` beside the snapshots it reads,
for live incidents and drills alike; which incident a user is in (:func:`active_incident_for`,
:func:`open_drill_incidents`, :data:`DRILL_SESSION_KEY`) lives in :mod:`disaster_dx.incidents`.
What a drill's camera injects show is :mod:`disaster_dx.cameras.scripted`.
"""

from __future__ import annotations

from disaster_dx.cameras.scripted import (  # what a drill's camera injects show
    CAMERA_SCRIPTED,
    SCENARIO_DIR,
    ScriptedCamera,
    scripted_cameras,
)
from disaster_dx.drills.events import (
    CAMERA_ACTIONS,
    CONTROL_ACTIONS,
    DRILL_ACTOR,
    DRILL_CONTROL,
    DRILL_INJECT,
    INJECT_KINDS,
    MAX_SPEED,
    MIN_SPEED,
    register_drill_event_types,
)
from disaster_dx.drills.parsing import load_scenario, parse_scenario
from disaster_dx.drills.record import (
    drill_timeline,
    run_to_end,
    scenario_clock,
    scenario_from_incident,
)
from disaster_dx.drills.runs import (
    LEASE_NAME,
    PAUSED,
    RUNNING,
    STATUS_LABELS,
    STOPPED,
    Clock,
    DrillError,
    DrillRun,
    FiredInject,
    RunSummary,
    create_drill_tables,
    drill_metadata,
    drill_run,
    drill_run_summaries,
    drill_runs,
    drill_runs_list,
    drill_title,
    fired_injects,
    pause_drill,
    resume_drill,
    set_drill_speed,
    start_drill,
    stop_drill,
)
from disaster_dx.drills.scenario import (
    MAX_OFFSET,
    Inject,
    Scenario,
    ScenarioError,
    ScenarioProblem,
    bundled_scenarios,
    format_offset,
    known_camera_ids,
    parse_offset,
)
from disaster_dx.drills.scheduler import LEASE_SECONDS, DrillScheduler, scheduler_thread
from disaster_dx.drills.schema import (
    CAMERA_ID_PATTERN,
    OFFSET_PATTERN,
    SCENARIO_LABEL,
    SCENARIO_SCHEMA,
    SCENARIO_VERSION,
    TIME_OF_DAY_PATTERN,
)
from disaster_dx.incidents import DRILL_SESSION_KEY, active_incident_for, open_drill_incidents
from disaster_dx.projection import state_at, state_content

__all__ = [
    "CAMERA_ACTIONS",
    "CAMERA_ID_PATTERN",
    "CAMERA_SCRIPTED",
    "CONTROL_ACTIONS",
    "DRILL_ACTOR",
    "DRILL_CONTROL",
    "DRILL_INJECT",
    "DRILL_SESSION_KEY",
    "INJECT_KINDS",
    "LEASE_NAME",
    "LEASE_SECONDS",
    "MAX_OFFSET",
    "MAX_SPEED",
    "MIN_SPEED",
    "OFFSET_PATTERN",
    "PAUSED",
    "RUNNING",
    "SCENARIO_DIR",
    "SCENARIO_LABEL",
    "SCENARIO_SCHEMA",
    "SCENARIO_VERSION",
    "STATUS_LABELS",
    "STOPPED",
    "TIME_OF_DAY_PATTERN",
    "Clock",
    "DrillError",
    "DrillRun",
    "DrillScheduler",
    "FiredInject",
    "Inject",
    "RunSummary",
    "Scenario",
    "ScenarioError",
    "ScenarioProblem",
    "ScriptedCamera",
    "active_incident_for",
    "bundled_scenarios",
    "create_drill_tables",
    "drill_metadata",
    "drill_run",
    "drill_run_summaries",
    "drill_runs",
    "drill_runs_list",
    "drill_timeline",
    "drill_title",
    "fired_injects",
    "format_offset",
    "known_camera_ids",
    "load_scenario",
    "open_drill_incidents",
    "parse_offset",
    "parse_scenario",
    "pause_drill",
    "register_drill_event_types",
    "resume_drill",
    "run_to_end",
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
