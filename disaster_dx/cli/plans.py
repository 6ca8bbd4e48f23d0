"""``disaster-dx import-roads|import-buildings|import-residents|plan|demo-district``.

個別避難計画 (individual evacuation plans): the data they are made from and the plans
themselves. Resident data needs a planner or admin account, and every read of it is audited.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from disaster_dx.cli._common import open_runtime, open_store, refresh_live_plans, say
from disaster_dx.errors import DisasterDxError

if TYPE_CHECKING:
    from geopandas import GeoDataFrame

    from disaster_dx import auth
    from disaster_dx.config import Settings
    from disaster_dx.store import Store


def plans_user(store: Store, username: str | None) -> auth.User:
    """The planner/admin account a plans command acts as (its reads are audited under it)."""
    from disaster_dx import auth

    if not username:
        raise DisasterDxError(
            "resident data needs a planner or admin account: pass --user NAME "
            "(create one with: disaster-dx user add NAME --roles planner)"
        )
    user = auth.get_user(store, username)
    if not user.has(auth.Role.PLANNER):
        store.audit(user.username, "residents.cli_refused", target=username)
        raise DisasterDxError(f"{username} is not a planner or admin")
    return user


def cmd_import_roads(args: argparse.Namespace, settings: Settings) -> int:
    """Import a walking network (OSMnx GraphML or a line layer) for evacuation plans."""
    from disaster_dx.io.roads import graph_from_file

    options = {} if Path(args.path).suffix.lower() == ".graphml" else {"snap_m": args.snap_m}
    graph = graph_from_file(args.path, **options)
    say(f"{graph.n_nodes:,} nodes, {graph.n_edges:,} edges")
    if args.dry_run:
        say("dry run: nothing written")
        return 0
    # The store and plans (SciPy, pyproj) only now: a dry run reads the file and nothing else.
    from disaster_dx.bundled import ensure_initialised
    from disaster_dx.plans import save_road_graph

    store = open_store(args, settings)
    ensure_initialised(store, actor=args.actor)
    version = save_road_graph(store, graph, actor=args.actor, source=str(args.path))
    say(f"road network saved (version {version})")
    refresh_live_plans(open_runtime(args, settings, store))
    return 0


def cmd_import_buildings(args: argparse.Namespace, settings: Settings) -> int:
    """Import buildings (PLATEAU CityGML tiles, or any polygon layer) and optional hazard zones.

    CityGML (files, folders, PLATEAU zips) is stored tile by tile: the tiles read are added or
    replaced and every other stored tile is kept (``--replace-all`` replaces everything).
    """
    # Imported where needed: a plain PLATEAU import loads no geopandas, polygon/zone readers
    # or routing (scipy) unless live plans are re-computed (start-up was 4-6 s, a tile 0.03 s).
    from disaster_dx.bundled import ensure_initialised
    from disaster_dx.plans.storage import can_replan

    paths = [Path(p) for p in args.paths]
    zones = []
    landslide: GeoDataFrame | None = None  # every file's areas: stored once, for routing
    if args.zones and args.zone_hazard == "landslide":
        from disaster_dx.io.landslide_zones import read_landslide_files

        landslide, lines = read_landslide_files(args.zones)
        for line in lines:
            say(line)
    elif args.zones:
        from disaster_dx.io.hazard_zones import hazard_zones_from_file

        zones = [
            (
                zone_file,
                hazard_zones_from_file(
                    zone_file, hazard=args.zone_hazard, rank_column=args.rank_column
                ),
            )
            for zone_file in args.zones
        ]

    def with_zones(buildings: GeoDataFrame) -> GeoDataFrame:
        """The depth zones, or the landslide areas, applied to one frame (a tile, or all)."""
        if landslide is not None:
            from disaster_dx.io.landslide_zones import add_landslide_zones, landslide_summary

            buildings = add_landslide_zones(buildings, landslide)
            say(landslide_summary(buildings))
            return buildings
        from disaster_dx.io.hazard_zones import add_zone_depths

        for zone_file, found in zones:
            buildings = add_zone_depths(buildings, found.zones, hazard=args.zone_hazard)
            inside = int((buildings[f"{args.zone_hazard}_depth_upper_m"] > 0).sum())
            say(f"{zone_file}: {len(found.zones)} {args.zone_hazard} zones; {inside} inside")
        return buildings

    source = ", ".join([*map(str, paths), *(args.zones or [])])
    if all(p.is_dir() or p.suffix.lower() in (".gml", ".xml", ".zip") for p in paths):
        from disaster_dx.plans.building_import import import_buildings

        store = None
        if not args.dry_run:
            store = open_store(args, settings)
            ensure_initialised(store, actor=args.actor)
        report = import_buildings(
            store,
            paths,
            actor=args.actor,
            codelists=args.codelists,
            replace_all=args.replace_all,
            source=source,
            transform=with_zones if zones or landslide is not None else None,
        )
        for line in report.lines(tiles=None if args.verbose else 50):
            say(line)
        for problem in report.problems[: 20 if not args.verbose else None]:
            say(f"  {problem}")
        if len(report.problems) > 20 and not args.verbose:
            say(f"  … {len(report.problems) - 20} more problem(s) (--verbose lists all)")
        if store is None:
            say("dry run: nothing written")
            return 0
        _save_landslide(store, landslide, args)
        if can_replan(store):
            refresh_live_plans(open_runtime(args, settings, store))
        return 0
    if len(paths) != 1:
        raise DisasterDxError("give one polygon file (or CityGML files/folders/zips)")
    if args.codelists or args.replace_all:
        raise DisasterDxError("--codelists and --replace-all apply to PLATEAU CityGML only")
    from disaster_dx.io.hazard_zones import buildings_from_polygons
    from disaster_dx.plans.buildings import save_buildings

    polygons = buildings_from_polygons(paths[0], layer=args.layer)
    buildings, problems = polygons.buildings, polygons.problems
    say(polygons.summary())
    for problem in problems[: 20 if not args.verbose else None]:
        say(f"  {problem}")
    buildings = with_zones(buildings)
    if args.dry_run:
        say("dry run: nothing written")
        return 0
    store = open_store(args, settings)
    ensure_initialised(store, actor=args.actor)
    version = save_buildings(store, buildings, actor=args.actor, source=source)
    say(f"{len(buildings):,} buildings saved, all replaced (version {version})")
    _save_landslide(store, landslide, args)
    if can_replan(store):
        refresh_live_plans(open_runtime(args, settings, store))
    return 0


def _save_landslide(store: Store, zones: GeoDataFrame | None, args: argparse.Namespace) -> None:
    """Store the landslide areas read for this import (routes avoid them), when there are any."""
    if zones is None:
        return
    from disaster_dx.plans.zones import save_landslide_zones

    save_landslide_zones(store, zones, actor=args.actor, source=", ".join(args.zones))
    say(f"{len(zones):,} landslide areas saved: routes avoid them")


def cmd_import_residents(args: argparse.Namespace, settings: Settings) -> int:
    """Import the 避難行動要支援者 CSV (planner/admin; audited; prints counts only)."""
    from disaster_dx.io.residents import residents_from_csv

    found = residents_from_csv(args.path)
    say(found.summary())
    if args.dry_run:
        say("dry run: nothing written")
        return 0
    from disaster_dx.bundled import ensure_initialised
    from disaster_dx.plans import save_residents

    store = open_store(args, settings)
    ensure_initialised(store, actor="import")
    user = plans_user(store, args.user)
    report = save_residents(
        store, found.residents, user, source=Path(args.path).name, sha256=found.sha256
    )
    say(f"residents saved: {report.summary()}")
    refresh_live_plans(open_runtime(args, settings, store))
    return 0


def cmd_plan(args: argparse.Namespace, settings: Settings) -> int:
    """Plan every resident; CSV of ids and results to stdout or -o, sheets with --sheets."""
    from disaster_dx.bundled import ensure_initialised
    from disaster_dx.io.export import csv_bytes
    from disaster_dx.model import Hazard
    from disaster_dx.plans import Planner

    store = open_store(args, settings)
    ensure_initialised(store, actor="plan")
    user = plans_user(store, args.user)
    planner = Planner(
        store, thresholds=settings.crowding, care_stay_limit_h=settings.care_stay_limit_hours
    )
    hazard = Hazard.parse(args.hazard)
    state = None
    if args.mode == "live":
        state = store.state(store.live_incident(actor="plan").incident_id)
    scenario = planner.scenario_for(
        hazard, mode=args.mode, state=state, arrival_minutes=args.arrival_minutes
    )
    run = planner.compute(user, scenario, purpose="cli.plan", state=state)
    if run is None:
        raise DisasterDxError(
            "no road network yet: run disaster-dx import-roads (or demo-district)"
        )
    plans = run.plans
    if run.data.synthetic:
        say("サンプル・架空データ (synthetic demo data)")
    say(f"{scenario.label_ja}: {len(plans)} residents")
    for status, count in plans.counts().items():
        say(f"  {status.symbol} {status.ja} ({status.value}): {count}")
    far = plans.far_destinations
    if far:
        limit = plans.scenario.max_snap_m
        say(
            f"  ⚠ 道路網から{limit:.0f}m以上離れていて経路を計算できない避難先 {len(far)} か所 "
            f"({len(far)} destination(s) more than {limit:.0f} m from the road network, "
            "not routed to):"
        )
        for destination in far:
            say(f"    - {destination.name} ({destination.destination_id})")
    rows = []
    for i in range(len(plans)):
        plan = plans.plan(i)
        rows.append(
            {
                "resident_id": plan.resident_id,
                "status": plan.status.value,
                "flagged": int(plan.flagged),
                "destination_id": plan.destination.destination_id if plan.destination else "",
                "destination": plan.destination.name if plan.destination else "",
                "length_m": "" if plan.length_m is None else round(plan.length_m),
                "minutes": "" if plan.minutes is None else round(plan.minutes, 1),
                "margin_min": "" if plan.margin_min is None else round(plan.margin_min, 1),
                "vertical": plan.vertical.value,
                "vertical_reason": plan.vertical_reason.value,
                "cautions": " ".join(c.value for c in plan.cautions),
            }
        )
    data = csv_bytes(rows)
    if args.output:
        Path(args.output).write_bytes(data)
        say(f"wrote {len(rows)} plans to {args.output}")
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    if args.sheets:
        from disaster_dx.plans.sheet import plan_sheets_html

        by_id = {r.resident_id: r for r in run.residents}
        items = [
            (plans.plan(i), by_id[str(plans.resident_ids[i])])
            for i in range(len(plans))
            if not args.consented_only or by_id[str(plans.resident_ids[i])].consent
        ]
        page = plan_sheets_html(
            items, made_at=store.clock(), synthetic=run.data.synthetic, graph=run.data.graph
        )
        Path(args.sheets).write_text(page, encoding="utf-8")
        store.audit(
            user.username, "plans.export", target="cli.sheets", detail={"count": len(items)}
        )
        say(f"wrote {len(items)} plan sheets to {args.sheets}")
    if args.mode == "live":
        for report in planner.refresh_live():
            say(f"live plans stored ({report.hazard.value}): {len(report.changed)} changed")
    return 0


def cmd_demo_district(args: argparse.Namespace, settings: Settings) -> int:
    """Load the made-up demo district (roads, buildings, residents), marked サンプル・架空データ."""
    from disaster_dx import auth
    from disaster_dx.bundled import ensure_initialised
    from disaster_dx.demo_district import load_demo_district

    store = open_store(args, settings)
    ensure_initialised(store, actor="demo")
    user = (
        plans_user(store, args.user)
        if args.user
        else auth.User("demo", "デモ", frozenset({auth.Role.PLANNER}), frozenset(), False)
    )
    district = load_demo_district(store, user, seed=args.seed, n_residents=args.residents)
    say(district.summary())
    refresh_live_plans(open_runtime(args, settings, store))
    return 0


def add_commands(commands: Any) -> None:
    """Add the evacuation-plan commands to the ``disaster-dx`` parser."""
    roads = commands.add_parser("import-roads", help="import a walking network for plans")
    roads.add_argument("path", help="OSMnx .graphml, or a line layer (.gpkg, .geojson, .shp)")
    roads.add_argument("--snap-m", type=float, default=1.0, help="join line ends this close")
    roads.add_argument("--dry-run", action="store_true", help="check the file, write nothing")
    roads.add_argument("--actor", default="import", help="name recorded as the importer")
    roads.set_defaults(handler=cmd_import_roads)

    buildings = commands.add_parser(
        "import-buildings", help="import buildings (PLATEAU CityGML or polygons) for plans"
    )
    buildings.add_argument(
        "paths", nargs="+", help="CityGML files/folders/PLATEAU zips, or one polygon file"
    )
    buildings.add_argument(
        "--codelists", help="the dataset's codelists folder (default: beside udx/ or in the zip)"
    )
    buildings.add_argument(
        "--replace-all",
        action="store_true",
        help="replace every stored building (default: only the tiles imported)",
    )
    buildings.add_argument("--layer", help="layer of a multi-layer polygon file")
    buildings.add_argument(
        "--zones", action="append", help="hazard depth-class polygons (A40/A31 style), repeatable"
    )
    buildings.add_argument(
        "--zone-hazard",
        default="tsunami",
        choices=["tsunami", "flood", "high_tide", "inland_flood", "landslide"],
        help="which hazard the --zones files show (landslide: 国土数値情報 A33 土砂災害警戒区域)",
    )
    buildings.add_argument("--rank-column", help="column holding the depth class")
    buildings.add_argument("--dry-run", action="store_true", help="check the files, write nothing")
    buildings.add_argument("--actor", default="import", help="name recorded as the importer")
    buildings.set_defaults(handler=cmd_import_buildings)

    residents = commands.add_parser(
        "import-residents", help="import the 避難行動要支援者 CSV (planner/admin)"
    )
    residents.add_argument("path", help="CSV, UTF-8 (BOM optional)")
    residents.add_argument("--user", help="planner or admin account doing the import")
    residents.add_argument("--dry-run", action="store_true", help="check the file, write nothing")
    residents.set_defaults(handler=cmd_import_residents)

    plan = commands.add_parser("plan", help="make evacuation plans for every resident")
    plan.add_argument("--user", help="planner or admin account (reads are audited)")
    plan.add_argument("--hazard", default="tsunami", help="tsunami, flood, storm_surge, …")
    plan.add_argument(
        "--mode",
        choices=["designated", "live"],
        default="designated",
        help="designated: all suitable shelters; live: open and not full now",
    )
    plan.add_argument("--arrival-minutes", type=float, help="minutes until the hazard arrives")
    plan.add_argument("-o", "--output", help="CSV of results (ids only; default stdout)")
    plan.add_argument("--sheets", help="write printable A4 sheets (HTML) for everyone here")
    plan.add_argument(
        "--consented-only",
        action="store_true",
        help="sheets only for residents who consented to sharing",
    )
    plan.set_defaults(handler=cmd_plan)

    demo = commands.add_parser(
        "demo-district", help="load the synthetic demo district (サンプル・架空データ)"
    )
    demo.add_argument("--seed", type=int, default=20110311)
    demo.add_argument("--residents", type=int, default=120)
    demo.add_argument("--user", help="planner or admin recorded as the importer (default: demo)")
    demo.set_defaults(handler=cmd_demo_district)
