"""``disaster-dx drill validate|list|run|control|export|report``: drills (訓練).

The scheduler runs here (one per deployment, holding a database lease); a drill announced to
residents changes the public page's notice, so starting or stopping one republishes it.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from disaster_dx.cli._common import EXIT_REFUSED, hazard_from_text, open_runtime, open_store, say
from disaster_dx.errors import DisasterDxError

if TYPE_CHECKING:
    from disaster_dx.config import Settings
    from disaster_dx.store import Store


def cmd_drill(args: argparse.Namespace, settings: Settings) -> int:
    """Drills: validate scenarios, run the scheduler, control, export and report."""
    from disaster_dx import drills  # jsonschema and plotly: only these commands need them
    from disaster_dx.bundled import ensure_initialised

    store = open_store(args, settings)
    ensure_initialised(store, actor="drill")
    drills.create_drill_tables(store)
    action = args.drill_command
    if action == "validate":
        failed = 0
        cameras = drills.known_camera_ids(store)
        for name in args.scenarios:
            try:
                scenario = drills.load_scenario(name, shelters=store.shelters(), camera_ids=cameras)
            except drills.ScenarioError as error:
                failed += 1
                for line in error.lines(name):
                    print(line)
                continue
            print(
                f"{name}: OK — {scenario.title}（{len(scenario.injects)}件の状況付与、"
                f"{drills.format_offset(scenario.length)}）"
            )
        return EXIT_REFUSED if failed else 0
    if action == "list":
        for run in drills.drill_runs_list(store):
            print(
                f"{run.incident_id}\t{drills.STATUS_LABELS[run.status]}\t{run.speed:g}x\t"
                f"{run.fired}/{len(run.injects)}\t{run.scenario_title}"
            )
        return 0
    if action in ("run", "control"):
        # The app's after-save actions: starting or stopping a drill announced to residents
        # changes the public page's notice (nothing else of a drill is published, queued for
        # LINE or re-planned: each action skips drill incidents itself).
        open_runtime(args, settings, store)
    if action == "run":
        return _drill_run(args, store)
    if action == "control":
        if args.what == "pause":
            run = drills.pause_drill(store, args.incident, actor=args.actor)
        elif args.what == "resume":
            run = drills.resume_drill(store, args.incident, actor=args.actor)
        elif args.what == "stop":
            run = drills.stop_drill(store, args.incident, actor=args.actor)
        else:
            if args.speed is None:
                raise DisasterDxError("give the new speed: drill control ID speed --speed 10")
            run = drills.set_drill_speed(store, args.incident, args.speed, actor=args.actor)
        say(f"{run.incident_id}: {drills.STATUS_LABELS[run.status]}, {run.speed:g}x")
        return 0
    if action == "export":
        try:
            until = drills.parse_offset(args.until) if args.until else None
        except ValueError as exc:
            raise DisasterDxError(f"--until: {exc}") from None
        text = drills.scenario_from_incident(
            store,
            args.incident,
            title=args.title,
            hazard=hazard_from_text(args.hazard) if args.hazard else None,
            until=until,
        )
        if args.output:
            Path(args.output).write_text(text, encoding="utf-8")
            say(f"wrote the scenario to {args.output}")
        else:
            sys.stdout.write(text)
        return 0
    from datetime import timedelta

    from disaster_dx.after_action import write_report

    output = Path(args.output or f"after-action-{args.incident}.html")
    write_report(
        store,
        args.incident,
        output,
        stale_after=timedelta(minutes=settings.stale_report_minutes),
    )
    say(f"wrote the after-action report to {output}")
    return 0


def _drill_run(args: argparse.Namespace, store: Store) -> int:
    """Start a drill (if a scenario is given) and run the scheduler in this process."""
    import time

    from disaster_dx import drills

    started = None
    if args.scenario:
        scenario = drills.load_scenario(
            args.scenario, shelters=store.shelters(), camera_ids=drills.known_camera_ids(store)
        )
        started = drills.start_drill(
            store,
            scenario,
            actor=args.actor,
            speed=args.speed,
            title=args.title,
            public_notice=args.public_notice,
        )
        say(f"drill {started.incident_id} started at {started.speed:g}x: {scenario.title}")
        say("staff join it at /drill/join; stop with Ctrl+C (the drill itself keeps its state)")
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    scheduler = drills.DrillScheduler(store)

    def should_stop() -> bool:
        if deadline is not None and time.monotonic() >= deadline:
            return True
        if started is not None and args.stop_when_done:
            # The scheduler itself stops a drill at its scenario's end.
            return not drills.drill_run(store, started.incident_id).active
        return False

    say(f"drill scheduler {scheduler.holder} running (one per deployment: a database lease)")
    scheduler.run(should_stop=should_stop, exit_when_idle=args.exit_when_idle)
    if started is not None and args.stop_when_done:
        run = drills.drill_run(store, started.incident_id)
        if run.active:  # --seconds ran out first
            drills.stop_drill(store, started.incident_id, actor=args.actor)
        reached = drills.format_offset(run.position(store.clock()))
        say(f"drill {started.incident_id}: stopped at {reached}")
    return 0


def add_commands(commands: Any) -> None:
    """Add ``drill`` and its actions to the ``disaster-dx`` parser."""
    drill = commands.add_parser(
        "drill", help="drills: validate scenarios, run the scheduler, export, report"
    )
    drill.set_defaults(handler=cmd_drill)
    actions = drill.add_subparsers(dest="drill_command", required=True, metavar="ACTION")
    validate = actions.add_parser("validate", help="check scenario files (errors with lines)")
    validate.add_argument("scenarios", nargs="+", metavar="FILE")
    actions.add_parser("list", help="list drills and their state")
    run = actions.add_parser(
        "run", help="run the drill scheduler here (optionally start a drill first)"
    )
    run.add_argument("scenario", nargs="?", help="start a new drill from this scenario first")
    run.add_argument("--speed", type=float, default=1.0, help="1 to 60 (default 1 = real time)")
    run.add_argument("--title", help="title of the drill incident")
    run.add_argument(
        "--public-notice",
        action="store_true",
        help="the public page says a drill is under way until it stops (drills with residents)",
    )
    run.add_argument(
        "--stop-when-done",
        action="store_true",
        help="exit when the drill reaches its scenario's end (where the scheduler stops it)",
    )
    run.add_argument(
        "--exit-when-idle", action="store_true", help="exit when no drill is running or paused"
    )
    run.add_argument("--seconds", type=float, help="stop the scheduler after this many seconds")
    control = actions.add_parser("control", help="pause, resume, stop or change a drill's speed")
    control.add_argument("incident")
    control.add_argument("what", choices=["pause", "resume", "stop", "speed"])
    control.add_argument("--speed", type=float, help="new speed for 'speed' (1 to 60)")
    export = actions.add_parser("export", help="write an incident's record as a new scenario")
    export.add_argument("incident")
    export.add_argument("--title", help="title of the new scenario")
    export.add_argument("--hazard", help="the scenario's hazard when the record names none")
    export.add_argument(
        "--until", metavar="+HH:MM:SS", help="only the record up to this time (long records)"
    )
    export.add_argument("-o", "--output", help="YAML file (default stdout)")
    report = actions.add_parser("report", help="write the after-action report (HTML)")
    report.add_argument("incident")
    report.add_argument("-o", "--output", help="HTML file (default after-action-ID.html)")
    for sub in (run, control):
        sub.add_argument(
            "--actor",
            default=os.environ.get("USER", "cli"),
            help="who is doing it (recorded in the drill's log)",
        )
