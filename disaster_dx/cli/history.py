"""``disaster-dx history import DIR --name …``: a past disaster from its published snapshots.

The record becomes a closed live incident (see :mod:`disaster_dx.history`): replay it on
``/drill/replay/<id>``, report on it (``disaster-dx drill report``) and turn it into next
year's exercise (``disaster-dx drill export``).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from disaster_dx.cli._common import actor_name, hazard_from_text, open_runtime, open_store, say

if TYPE_CHECKING:
    from disaster_dx.config import Settings


def cmd_history(args: argparse.Namespace, settings: Settings) -> int:
    """Import (or, with ``--dry-run``, only check) a folder of published snapshots."""
    from disaster_dx import history
    from disaster_dx.bundled import ensure_initialised
    from disaster_dx.io.history import snapshots_from_folder

    store = open_store(args, settings)
    operator = actor_name(args)
    ensure_initialised(store, actor=operator)
    # The app's after-save actions, for uniformity: the record itself is written as a closed
    # incident without running them (a past disaster is not news for LINE or the public page).
    open_runtime(args, settings, store)
    hazard = hazard_from_text(args.hazard) if args.hazard else None
    if args.dry_run:
        series = snapshots_from_folder(args.folder)
        active = {s.shelter_id for s in store.shelters()}
        plan = history.plan_history(
            series,
            store.shelters(include_inactive=True),
            active=active,
            add_unknown=args.add_unknown,
        )
        say(
            f"checked {len(series.snapshots)} publications: {len(plan.events)} events; "
            "nothing written"
        )
        for line in history.HistoryImport.describe(plan):
            say(line)
        return 0
    done = history.import_history(
        store,
        args.folder,
        title=args.name,
        operator=operator,
        hazard=hazard,
        add_unknown=args.add_unknown,
    )
    for line in done.lines():
        say(line)
    say(
        f"replay: /drill/replay/{done.incident.incident_id} · report: "
        f"disaster-dx drill report {done.incident.incident_id} · scenario: "
        f"disaster-dx drill export {done.incident.incident_id}"
    )
    return 0


def add_commands(commands: Any) -> None:
    """Add ``history import`` to the ``disaster-dx`` command."""
    parser = commands.add_parser("history", help="past disasters from published shelter snapshots")
    parser.set_defaults(handler=cmd_history)
    actions = parser.add_subparsers(dest="history_command", required=True, metavar="ACTION")
    imp = actions.add_parser(
        "import", help="a folder of open-shelter CSVs (ID,地区,名称,人数,時点) → a closed incident"
    )
    imp.add_argument("folder", metavar="DIR", help="one CSV per publication time")
    imp.add_argument("--name", required=True, help="the disaster's name, e.g. 令和6年能登半島地震")
    imp.add_argument("--hazard", help="its main hazard (earthquake, tsunami, flood, …)")
    imp.add_argument(
        "--add-unknown",
        action="store_true",
        help="add shelters the master lacks (rows need 緯度/経度) instead of leaving them out",
    )
    imp.add_argument("--dry-run", action="store_true", help="check and report; write nothing")
    imp.add_argument("--actor", help="who imports (default $USER)")
