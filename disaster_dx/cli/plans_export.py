"""``disaster-dx export-plans`` / ``export-buildings``: for the 要支援者 system and for QGIS.

Kept out of ``cli.py``; :func:`add_plans_export_commands` plugs the two commands in.

- ``export-plans -o FILE.csv --user NAME`` writes every resident's plan for every hazard
  (:mod:`disaster_dx.plans.csv_export`, columns in ``docs/plans_csv.md``). Personal data: the
  account must be a planner or admin, and the read and the export are audit-logged.
- ``export-buildings -o FILE.geojson|FILE.gpkg`` writes the stored buildings with each
  hazard's depth and vertical-evacuation verdict (:mod:`disaster_dx.plans.buildings_export`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from disaster_dx.cli._common import open_store, say
from disaster_dx.cli.plans import plans_user
from disaster_dx.errors import DisasterDxError

if TYPE_CHECKING:
    from disaster_dx.config import Settings
    from disaster_dx.store import Store


def _store(args: argparse.Namespace, settings: Settings) -> Store:
    from disaster_dx.bundled import ensure_initialised

    store = open_store(args, settings)
    ensure_initialised(store, actor="export")
    return store


def cmd_export_plans(args: argparse.Namespace, settings: Settings) -> int:
    """Every resident × hazard plan as one Excel CSV (planner/admin; audited)."""
    from disaster_dx.model import Hazard
    from disaster_dx.plans import PLAN_HAZARDS, Planner
    from disaster_dx.plans.csv_export import plans_csv

    output = Path(args.output)
    if output.suffix.lower() != ".csv":
        raise DisasterDxError(f"{output.name}: the plans export is a .csv file")
    hazards = tuple(Hazard.parse(h) for h in args.hazard) if args.hazard else PLAN_HAZARDS
    unknown = [h.value for h in hazards if h not in PLAN_HAZARDS]
    if unknown:
        choices = ", ".join(h.value for h in PLAN_HAZARDS)
        raise DisasterDxError(f"no plans for {', '.join(unknown)}: choose from {choices}")
    store = _store(args, settings)
    user = plans_user(store, args.user)
    planner = Planner(
        store, thresholds=settings.crowding, care_stay_limit_h=settings.care_stay_limit_hours
    )
    export = plans_csv(planner, user, mode=args.mode, hazards=hazards, purpose="cli.export-plans")
    output.write_bytes(export.data)
    if export.synthetic:
        say("サンプル・架空データ (synthetic demo data)")
    say(
        f"wrote {export.rows} plans ({len(export.resident_ids)} residents × "
        f"{len(export.hazards)} hazards) to {output}"
    )
    return 0


def cmd_export_buildings(args: argparse.Namespace, settings: Settings) -> int:
    """The stored buildings with depths and verdicts per hazard, as GeoJSON or GeoPackage."""
    from disaster_dx.plans import load_buildings
    from disaster_dx.plans.buildings_export import write_buildings

    store = _store(args, settings)
    buildings = load_buildings(store)
    if buildings is None:
        raise DisasterDxError(
            "no buildings yet: run disaster-dx import-buildings (or demo-district)"
        )
    count = write_buildings(buildings, args.output)
    say(f"wrote {count:,} buildings to {args.output}")
    return 0


def add_commands(commands: argparse._SubParsersAction[Any]) -> None:
    """Add ``export-plans`` and ``export-buildings`` to the ``disaster-dx`` command."""
    plans = commands.add_parser(
        "export-plans",
        help="every resident's plan for every hazard as a CSV for the 要支援者 system",
    )
    plans.add_argument("-o", "--output", required=True, help="the CSV file to write")
    plans.add_argument("--user", help="planner or admin account (the read is audited)")
    plans.add_argument(
        "--mode",
        choices=["designated", "live"],
        default="designated",
        help="designated: all suitable shelters (default); live: open and not full now",
    )
    plans.add_argument(
        "--hazard", action="append", help="only this hazard (repeatable; default all four)"
    )
    plans.set_defaults(handler=cmd_export_plans)

    buildings = commands.add_parser(
        "export-buildings",
        help="buildings with each hazard's depth and vertical-evacuation verdict, for QGIS",
    )
    buildings.add_argument("-o", "--output", required=True, help="FILE.geojson or FILE.gpkg")
    buildings.set_defaults(handler=cmd_export_buildings)
