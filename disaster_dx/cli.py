"""The ``disaster-dx`` command: set up, import, export, serve and manage users.

Exit codes: 0 done; 1 the input or request was refused (the message says what to fix);
2 wrong usage; 3 the database could not be reached. Messages go to stderr, data to stdout.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlparse

from sqlalchemy.exc import OperationalError, SQLAlchemyError

from disaster_dx import auth, cli_history, cli_incident
from disaster_dx.bundled import (
    BUNDLED_SHELTER_FILES,
    ensure_initialised,
    import_boundary_file,
    refresh_shelter_file_areas,
)
from disaster_dx.city import MUNICIPALITY_LIST_SOURCE, NANKOKU_CODE, city_for_code
from disaster_dx.cli_db import add_db_commands
from disaster_dx.cli_tokens import add_token_commands
from disaster_dx.cli_users import add_user_commands
from disaster_dx.config import Settings, settings_from_env
from disaster_dx.errors import DisasterDxError
from disaster_dx.io.export import FORMATS, export_shelters
from disaster_dx.io.gsi import shelters_from_files
from disaster_dx.store import Store

log = logging.getLogger("disaster_dx.cli")

MAX_DOWNLOAD_BYTES = 100 * 1024 * 1024
EXIT_REFUSED, EXIT_USAGE, EXIT_DATABASE = 1, 2, 3


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (also used by tests)."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    args.opened_stores = []
    try:
        settings = settings_from_env()
        if args.database_url:
            settings = settings.with_overrides(database_url=args.database_url)
        return int(args.handler(args, settings))
    except OperationalError as exc:
        _say(f"error: cannot use the database ({_redact(settings_url(args))}): {exc.orig}")
        return EXIT_DATABASE
    except DisasterDxError as exc:
        _say(f"error: {exc}")
        return EXIT_REFUSED
    except KeyboardInterrupt:
        _say("interrupted; nothing half-done was kept")
        return EXIT_REFUSED
    finally:
        for store in args.opened_stores:
            store.dispose()


def settings_url(args: argparse.Namespace) -> str:
    """The database URL in use, for error messages."""
    return str(args.database_url or os.environ.get("DATABASE_URL") or "(default SQLite file)")


def _redact(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(parsed.password, "***")
    return url


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _open_store(args: argparse.Namespace, settings: Settings) -> Store:
    """Open the store; :func:`main` closes it when the command ends, however it ends."""
    store = Store(settings.database_url)
    args.opened_stores.append(store)
    return store


# -- commands ---------------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace, settings: Settings) -> int:
    """Create the schema, record the city (by code), load Nankoku's bundled data for 392049."""
    store = _open_store(args, settings)
    _say(f"database: {_redact(settings.database_url)}")
    _say(store.create_schema().summary())  # created, upgraded (keeping every row) or current
    code = args.city or settings.city_code or store.recorded_city_code() or NANKOKU_CODE
    city = city_for_code(code, name_en=args.city_name_en or settings.city_name_en)
    report = ensure_initialised(store, actor="init", city=city)
    _say(f"city: {city.full_name} ({city.code}, {city.name_en}; {MUNICIPALITY_LIST_SOURCE})")
    shelters = store.shelters()
    if report is not None:
        _say(f"loaded the bundled Nankoku shelter master: {report.summary()}")
    elif shelters:
        _say(f"already initialised: {len(shelters)} shelters in the master (unchanged)")
    else:
        _say(
            f"no shelters yet: {city.name}'s own data is imported with\n"
            "  disaster-dx import-shelters FILE…   (自治体標準オープンデータセット 指定緊急避難場所"
            "一覧 CSV, or 国土地理院 指定避難所・指定緊急避難場所 GeoJSON/CSV)\n"
            "  disaster-dx import-boundary FILE    (国土数値情報 行政区域データ N03 GeoJSON of "
            f"{city.prefecture} or of {city.name})"
        )
    incident = store.live_incident(actor="init")
    _say(f"live incident: {incident.incident_id} ({incident.title})")

    username = args.admin_user or os.environ.get("DX_ADMIN_USER", "")
    if username:
        password = _admin_password(args)
        existing = {u.username for u in auth.list_users(store)}
        if username in existing:
            _say(f"admin user {username!r} already exists (left unchanged)")
        else:
            auth.add_user(store, username, password, {auth.Role.ADMIN}, actor="init")
            _say(f"created admin user {username!r}")
    return 0


def _admin_password(args: argparse.Namespace) -> str:
    if args.admin_password_file:
        return Path(args.admin_password_file).read_text(encoding="utf-8").strip()
    password = os.environ.get("DX_ADMIN_PASSWORD", "")
    if not password:
        raise DisasterDxError(
            "a first admin needs a password: set DX_ADMIN_PASSWORD or pass "
            "--admin-password-file FILE (never on the command line, where others can see it)"
        )
    return password


def cmd_import_shelters(args: argparse.Namespace, settings: Settings) -> int:
    """Import GSI files (paths or URLs) as the new shelter master, all or nothing."""
    paths: list[Path] = []
    download_dir = settings.data_dir / "downloads"
    for source in args.sources:
        if source.startswith(("http://", "https://")):
            paths.append(_download(source, download_dir))
        else:
            path = Path(source)
            if not path.is_file():
                raise DisasterDxError(f"no such file: {source}")
            paths.append(path)
    for path in paths:
        _say(f"reading {path.name} …")
    store = _open_store(args, settings)
    if not args.dry_run:
        store.create_schema()
    result = shelters_from_files(paths, city_code=_recorded_city_code(store, settings))
    if result.notes:
        _say(f"{len(result.notes)} warning(s), by kind (imported as read; check these rows):")
        for line in result.warning_report():
            _say(f"  {line}")
    _say(f"{len(result.shelters)} sites in the new master")
    if args.dry_run:
        _say("dry run: nothing written")
        return 0
    report = store.replace_shelters(
        result.shelters,
        source=", ".join(args.sources),
        actor=args.actor,
        sha256=result.sha256,
        notes=result.warnings,
    )
    _say(f"imported: {report.summary()}")
    named = refresh_shelter_file_areas(store, actor=args.actor)
    if named:
        _say(f"areas for 避難情報 from the file's 地区・町会・自治会: {named}")
    for label, ids in (
        ("added", report.added),
        ("changed", report.changed),
        ("removed", report.removed),
    ):
        if ids and args.verbose:
            _say(f"  {label}: {', '.join(ids)}")
    # The public page and the live plans both list shelters: bring them up to date now.
    _republish(store, settings)
    _refresh_live_plans(store, settings)
    return 0


def _recorded_city_code(store: Store, settings: Settings) -> str | None:
    """The city the database serves (or ``CITY_CODE`` before any is recorded)."""
    try:
        return store.recorded_city_code() or settings.city_code or None
    except SQLAlchemyError:  # a dry run on a database without the schema yet
        return settings.city_code or None


def cmd_import_boundary(args: argparse.Namespace, settings: Settings) -> int:
    """Store the city's outline (its features of an N03 file); maps and 全域 then use it."""
    store = _open_store(args, settings)
    store.create_schema()
    city = store.city()
    import_boundary_file(store, Path(args.file), actor=args.actor)
    _say(f"outline of {city.full_name} ({city.code}) imported from {Path(args.file).name}")
    _republish(store, settings)
    return 0


def _republish(store: Store, settings: Settings) -> None:
    """Publish the public snapshot after a master change; a failure is reported, not fatal."""
    from disaster_dx.publish import publish
    from layers.public_map import shelter_map_html

    try:
        result = publish(store, settings, render_map=shelter_map_html)
    except OSError as exc:
        _say(
            f"warning: could not publish to {settings.public_dir} ({exc}); "
            "run `disaster-dx publish` once it is writable"
        )
        return
    _say(f"published {result.summary()}")


def _download(url: str, folder: Path) -> Path:
    import requests  # only imports from URLs need it

    name = Path(urlparse(url).path).name or "download"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    _say(f"downloading {url} …")
    try:
        with requests.get(url, stream=True, timeout=(10, 120)) as response:
            response.raise_for_status()
            received = 0
            chunks = []
            for chunk in response.iter_content(chunk_size=1 << 16):
                received += len(chunk)
                if received > MAX_DOWNLOAD_BYTES:
                    raise DisasterDxError(
                        f"{url} is larger than {MAX_DOWNLOAD_BYTES // (1 << 20)} MB; "
                        "download it yourself and import the file"
                    )
                chunks.append(chunk)
    except requests.RequestException as exc:
        raise DisasterDxError(f"could not download {url}: {exc}") from None
    target.write_bytes(b"".join(chunks))
    _say(f"  {received:,} bytes")
    return target


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    """Export the master with live public status (GeoJSON, GeoPackage, CSV for Excel)."""
    store = _open_store(args, settings)
    ensure_initialised(store, actor="export")
    incident = store.live_incident(actor="export")
    state = store.state(incident.incident_id)
    shelters = store.shelters()
    output = Path(args.output or f"shelters{FORMATS[args.format]}")
    count = export_shelters(shelters, state, output, fmt=args.format, thresholds=settings.crowding)
    _say(f"wrote {count} shelters to {output}")
    return 0


def cmd_publish(args: argparse.Namespace, settings: Settings) -> int:
    """Write the public snapshot (page, GeoJSON, CSV, shareable map) into PUBLIC_DIR now.

    The app publishes after every live write and on start; this is for cron, after a master
    import, or to refill a static host's folder.
    """
    from disaster_dx.publish import publish  # only this command needs it
    from layers.public_map import shelter_map_html  # folium: kept out of the other commands

    if args.public_dir:
        settings = settings.with_overrides(public_dir=Path(args.public_dir))
    store = _open_store(args, settings)
    ensure_initialised(store, actor="publish")
    result = publish(store, settings, render_map=shelter_map_html)
    _say(f"published {result.summary()}")
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Run the web app (development server; use gunicorn app:server in production)."""
    logging.getLogger("werkzeug").setLevel(logging.INFO)
    from disaster_dx.web.factory import create_app  # the CLI's other commands need no Dash

    host = args.host or settings.host
    port = args.port or settings.port
    app = create_app(settings)
    _say(f"serving on http://{host}:{port}/ (Ctrl+C to stop)")
    app.run(host=host, port=port, debug=False)
    return 0


# -- evacuation plans (個別避難計画) --------------------------------------------------------------


def _plans_user(store: Store, username: str | None) -> auth.User:
    """The planner/admin account a plans command acts as (its reads are audited under it)."""
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


def _refresh_live_plans(store: Store, settings: Settings) -> None:
    """Re-plan against the live state after new plan data, so HQ's flagged list is current."""
    from disaster_dx.plans import Planner

    planner = Planner(
        store, thresholds=settings.crowding, care_stay_limit_h=settings.care_stay_limit_hours
    )
    for report in planner.refresh_live():
        _say(
            f"live plans ({report.hazard.value}): {report.flagged} of {report.residents} "
            "cannot reach safety in time"
        )


def cmd_import_roads(args: argparse.Namespace, settings: Settings) -> int:
    """Import a walking network (OSMnx GraphML or a line layer) for evacuation plans."""
    from disaster_dx.io.roads import graph_from_file
    from disaster_dx.plans import save_road_graph

    options = {} if Path(args.path).suffix.lower() == ".graphml" else {"snap_m": args.snap_m}
    graph = graph_from_file(args.path, **options)
    _say(f"{graph.n_nodes:,} nodes, {graph.n_edges:,} edges")
    if args.dry_run:
        _say("dry run: nothing written")
        return 0
    store = _open_store(args, settings)
    ensure_initialised(store, actor=args.actor)
    version = save_road_graph(store, graph, actor=args.actor, source=str(args.path))
    _say(f"road network saved (version {version})")
    _refresh_live_plans(store, settings)
    return 0


def cmd_import_buildings(args: argparse.Namespace, settings: Settings) -> int:
    """Import buildings (PLATEAU CityGML, or any polygon layer) and optional hazard zones."""
    from disaster_dx.io.hazard_zones import (
        add_zone_depths,
        buildings_from_polygons,
        hazard_zones_from_file,
    )
    from disaster_dx.plans import save_buildings

    paths = [Path(p) for p in args.paths]
    if all(p.is_dir() or p.suffix.lower() in (".gml", ".xml") for p in paths):
        from disaster_dx.io.plateau import buildings_from_citygml

        found = buildings_from_citygml(paths)
        buildings, problems, summary = found.buildings, found.problems, found.summary()
    else:
        if len(paths) != 1:
            raise DisasterDxError("give one polygon file (or CityGML files/folders)")
        polygons = buildings_from_polygons(paths[0], layer=args.layer)
        buildings, problems, summary = polygons.buildings, polygons.problems, polygons.summary()
    _say(summary)
    for problem in problems[: 20 if not args.verbose else None]:
        _say(f"  {problem}")
    landslide = None
    if args.zone_hazard == "landslide" and args.zones:
        from disaster_dx.io.landslide_zones import add_landslide_files

        buildings, landslide, lines = add_landslide_files(buildings, args.zones)
        for line in lines:
            _say(line)
    for zone_file in args.zones if args.zone_hazard != "landslide" else []:
        zones = hazard_zones_from_file(
            zone_file, hazard=args.zone_hazard, rank_column=args.rank_column
        )
        buildings = add_zone_depths(buildings, zones.zones, hazard=args.zone_hazard)
        inside = int((buildings[f"{args.zone_hazard}_depth_upper_m"] > 0).sum())
        _say(f"{zone_file}: {len(zones.zones)} {args.zone_hazard} zones; {inside} buildings inside")
    if args.dry_run:
        _say("dry run: nothing written")
        return 0
    store = _open_store(args, settings)
    ensure_initialised(store, actor=args.actor)
    source = ", ".join([*map(str, paths), *(args.zones or [])])
    version = save_buildings(store, buildings, actor=args.actor, source=source)
    _say(f"{len(buildings):,} buildings saved (version {version})")
    if landslide is not None:
        from disaster_dx.plans import save_landslide_zones

        save_landslide_zones(store, landslide, actor=args.actor, source=", ".join(args.zones))
        _say(f"{len(landslide):,} landslide areas saved: routes avoid them")
    _refresh_live_plans(store, settings)
    return 0


def cmd_import_residents(args: argparse.Namespace, settings: Settings) -> int:
    """Import the 避難行動要支援者 CSV (planner/admin; audited; prints counts only)."""
    from disaster_dx.io.residents import residents_from_csv
    from disaster_dx.plans import save_residents

    found = residents_from_csv(args.path)
    _say(found.summary())
    if args.dry_run:
        _say("dry run: nothing written")
        return 0
    store = _open_store(args, settings)
    ensure_initialised(store, actor="import")
    user = _plans_user(store, args.user)
    report = save_residents(
        store, found.residents, user, source=Path(args.path).name, sha256=found.sha256
    )
    _say(f"residents saved: {report.summary()}")
    _refresh_live_plans(store, settings)
    return 0


def cmd_plan(args: argparse.Namespace, settings: Settings) -> int:
    """Plan every resident; CSV of ids and results to stdout or -o, sheets with --sheets."""
    from disaster_dx.io.export import csv_bytes
    from disaster_dx.model import Hazard
    from disaster_dx.plans import Planner

    store = _open_store(args, settings)
    ensure_initialised(store, actor="plan")
    user = _plans_user(store, args.user)
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
        _say("サンプル・架空データ (synthetic demo data)")
    _say(f"{scenario.label_ja}: {len(plans)} residents")
    for status, count in plans.counts().items():
        _say(f"  {status.symbol} {status.ja} ({status.value}): {count}")
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
        _say(f"wrote {len(rows)} plans to {args.output}")
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    if args.sheets:
        from disaster_dx.io.plan_sheet import plan_sheets_html

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
        _say(f"wrote {len(items)} plan sheets to {args.sheets}")
    if args.mode == "live":
        for report in planner.refresh_live():
            _say(f"live plans stored ({report.hazard.value}): {len(report.changed)} changed")
    return 0


def cmd_demo_district(args: argparse.Namespace, settings: Settings) -> int:
    """Load the made-up demo district (roads, buildings, residents), marked サンプル・架空データ."""
    from disaster_dx.demo_district import load_demo_district

    store = _open_store(args, settings)
    ensure_initialised(store, actor="demo")
    user = (
        _plans_user(store, args.user)
        if args.user
        else auth.User("demo", "デモ", frozenset({auth.Role.PLANNER}), frozenset(), False)
    )
    district = load_demo_district(store, user, seed=args.seed, n_residents=args.residents)
    _say(district.summary())
    _refresh_live_plans(store, settings)
    return 0


def _add_plan_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    roads = commands.add_parser("import-roads", help="import a walking network for plans")
    roads.add_argument("path", help="OSMnx .graphml, or a line layer (.gpkg, .geojson, .shp)")
    roads.add_argument("--snap-m", type=float, default=1.0, help="join line ends this close")
    roads.add_argument("--dry-run", action="store_true", help="check the file, write nothing")
    roads.add_argument("--actor", default="import", help="name recorded as the importer")
    roads.set_defaults(handler=cmd_import_roads)

    buildings = commands.add_parser(
        "import-buildings", help="import buildings (PLATEAU CityGML or polygons) for plans"
    )
    buildings.add_argument("paths", nargs="+", help="CityGML files/folders, or one polygon file")
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


# -- cameras ------------------------------------------------------------------------------------


def cmd_cameras(args: argparse.Namespace, settings: Settings) -> int:
    """Tower cameras: check the registry, run the poller, or serve the simulator."""
    from disaster_dx import cameras  # requests, Pillow, pyproj: only these commands need them
    from disaster_dx.cameras.frames import FrameStore

    camera_settings = cameras.camera_settings_from_env()
    registry_file = Path(args.registry) if getattr(args, "registry", None) else None
    registry_file = registry_file or camera_settings.registry_file
    if args.cameras_command == "simulate":
        return _cameras_simulate(args)
    registry = cameras.load_registry(registry_file)
    if args.cameras_command == "check":
        _say(f"{registry_file}: {len(registry.cameras)} camera(s), valid")
        for camera in registry.cameras:
            credentials = camera.feed.credentials if camera.feed else None
            auth = f", {credentials.scheme} auth" if credentials else ""
            public = "public" if camera.public else "HQ only"
            print(
                f"{camera.camera_id}\t{camera.name_ja}\t{camera.feed_kind}{auth}\t"
                f"every {camera.poll_interval_s:g} s\t{public}"
            )
        return 0
    store = _open_store(args, settings)
    store.create_schema()
    cameras.create_camera_tables(store)
    cameras.sync_registry(store, registry, actor="cameras")
    frames = FrameStore(
        settings.data_dir / "cameras",
        keep=camera_settings.keep_frames,
        keep_age=camera_settings.keep_age,
    )
    poller = cameras.Poller(store, registry, frames, settings=camera_settings)
    if args.once:
        started = poller.run_due()
        poller.wait()
        poller.close()
        for attempt in poller.history:
            outcome = (
                f"frame {attempt.frame_key}" if attempt.ok else f"failed ({attempt.error_kind})"
            )
            _say(f"{attempt.camera_id}: {outcome}")
        if not started:
            _say("no camera polled: another poller holds them all")
        return 0 if all(a.ok for a in poller.history) else EXIT_REFUSED
    import signal
    import threading

    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if args.seconds:
        threading.Timer(args.seconds, stop.set).start()
    _say(f"polling {len(poller.cameras)} camera(s) as {poller.holder} (Ctrl+C to stop)")
    try:
        poller.run_forever(stop)
    except KeyboardInterrupt:
        stop.set()
        poller.close()
    _say("camera poller stopped")
    return 0


def _cameras_simulate(args: argparse.Namespace) -> int:
    from disaster_dx.camera_simulator import CameraSimulator, SimCamera, SimMode

    cams = {name: SimCamera(name) for name in args.camera or ["coast", "river", "town"]}
    for spec in args.auth or []:
        parts = spec.split(":")
        if len(parts) != 4 or parts[1] not in ("basic", "digest"):
            raise DisasterDxError(f"--auth needs NAME:basic|digest:USER:PASSWORD_ENV, not {spec!r}")
        name, scheme, user, env_name = parts
        password = os.environ.get(env_name, "")
        if not password:
            raise DisasterDxError(f"--auth {name}: environment variable {env_name} is not set")
        cams.setdefault(name, SimCamera(name)).auth = (scheme, user, password)
    sim = CameraSimulator(cams.values(), port=args.port, slow_seconds=args.slow_seconds)
    for mode, names in (
        (SimMode.SLOW, args.slow),
        (SimMode.ERROR, args.errors),
        (SimMode.GARBAGE, args.garbage),
        (SimMode.HANG, args.hang),
    ):
        for name in names or []:
            sim.set_mode(name, mode)
    _say(f"camera simulator (a test tool, not a real camera) on http://127.0.0.1:{sim.port}/")
    for camera in sim.cameras.values():
        _say(
            f"  {camera.name}: {sim.url(camera.name)}  {sim.url(camera.name, 'mjpeg')}"
            f"  [{camera.mode.value}]"
        )
    _say(f"switch while running: curl -X POST 'http://127.0.0.1:{sim.port}/control/NAME?mode=hang'")
    try:
        sim.serve_forever()
    except KeyboardInterrupt:
        _say("simulator stopped")
    return 0


# -- drills (訓練) ------------------------------------------------------------------------------


def cmd_drill(args: argparse.Namespace, settings: Settings) -> int:
    """Drills: validate scenarios, run the scheduler, control, export and report."""
    from disaster_dx import drills  # jsonschema and plotly: only these commands need them

    store = _open_store(args, settings)
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
        # Starting or stopping a drill announced to residents changes the public page's
        # notice: this process publishes it like the app would (nothing else of a drill).
        from disaster_dx.publish import Publisher
        from layers.public_map import shelter_map_html

        store.add_listener(Publisher(store, settings, render_map=shelter_map_html))
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
        _say(f"{run.incident_id}: {drills.STATUS_LABELS[run.status]}, {run.speed:g}x")
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
            hazard=cli_incident._hazard(args.hazard) if args.hazard else None,
            until=until,
        )
        if args.output:
            Path(args.output).write_text(text, encoding="utf-8")
            _say(f"wrote the scenario to {args.output}")
        else:
            sys.stdout.write(text)
        return 0
    from datetime import timedelta

    from disaster_dx.io.after_action import write_report

    output = Path(args.output or f"after-action-{args.incident}.html")
    write_report(
        store,
        args.incident,
        output,
        stale_after=timedelta(minutes=settings.stale_report_minutes),
    )
    _say(f"wrote the after-action report to {output}")
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
        _say(f"drill {started.incident_id} started at {started.speed:g}x: {scenario.title}")
        _say("staff join it at /drill/join; stop with Ctrl+C (the drill itself keeps its state)")
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    scheduler = drills.DrillScheduler(store)

    def should_stop() -> bool:
        if deadline is not None and time.monotonic() >= deadline:
            return True
        if started is not None and args.stop_when_done:
            # The scheduler itself stops a drill at its scenario's end.
            return not drills.drill_run(store, started.incident_id).active
        return False

    _say(f"drill scheduler {scheduler.holder} running (one per deployment: a database lease)")
    scheduler.run(should_stop=should_stop, exit_when_idle=args.exit_when_idle)
    if started is not None and args.stop_when_done:
        run = drills.drill_run(store, started.incident_id)
        if run.active:  # --seconds ran out first
            drills.stop_drill(store, started.incident_id, actor=args.actor)
        reached = drills.format_offset(run.position(store.clock()))
        _say(f"drill {started.incident_id}: stopped at {reached}")
    return 0


def _add_drill_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
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


# -- LINE ---------------------------------------------------------------------------------------


def cmd_line(args: argparse.Namespace, settings: Settings) -> int:
    """LINE: run the sender, serve the local fake API, post sample webhooks, show the outbox."""
    if args.line_command == "fake-server":
        return _line_fake_server(args)
    if args.line_command == "send-sample-webhook":
        return _line_sample_webhook(args, settings)
    from disaster_dx import notify

    store = _open_store(args, settings)
    ensure_initialised(store, actor="line")
    notify.create_notify_tables(store)
    if args.line_command == "status":
        for message in notify.outbox(store, limit=args.limit):
            print(
                f"{message.message_key}\t{message.kind}\t{message.status}\t"
                f"{message.due_at:%Y-%m-%dT%H:%MZ}"
            )
        for entry in notify.delivery_log(store, limit=args.limit):
            print(
                f"{entry.at:%Y-%m-%dT%H:%M:%SZ}\t{entry.kind}\t{entry.outcome}\t"
                f"{entry.status_code or ''}\t{entry.message_key or entry.user_hash}"
            )
        return 0
    if not settings.line_channel_access_token:
        raise DisasterDxError(
            "set LINE_CHANNEL_ACCESS_TOKEN to send (see the README's LINE section); "
            "for a demo, run 'disaster-dx line fake-server' and point LINE_API_BASE at it"
        )
    import time

    sender = notify.Sender(store, settings)
    _say(f"LINE sender {sender.holder} → {urlparse(settings.line_api_base).netloc}")
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    try:
        while True:
            sent = sender.run_once()
            if sent:
                _say(f"delivered {sent} request(s)")
            if args.once or (deadline is not None and time.monotonic() >= deadline):
                return 0
            time.sleep(args.interval)
    finally:
        sender.release_lease()


def _line_fake_server(args: argparse.Namespace) -> int:
    import json
    import threading
    import time

    from disaster_dx.line_fake import FakeLineServer, Received

    def show(received: Received) -> None:
        extra = f" to {received.recipients} user(s)" if received.recipients else ""
        print(f"--- {received.endpoint}{extra}", flush=True)
        for message in received.messages:
            shown = message.get("text") or json.dumps(message, ensure_ascii=False)
            print(shown, flush=True)

    fake = FakeLineServer(
        port=args.port,
        token=os.environ.get("LINE_CHANNEL_ACCESS_TOKEN") or None,
        record=Path(args.record) if args.record else None,
        on_accept=show,
    )
    fake.start()
    _say(f"fake LINE API on {fake.base_url} (set LINE_API_BASE={fake.base_url}); Ctrl+C stops")
    try:
        if args.seconds is not None:
            time.sleep(args.seconds)
        else:
            threading.Event().wait()
    finally:
        fake.stop()
    return 0


def _line_sample_webhook(args: argparse.Namespace, settings: Settings) -> int:
    import json

    import requests

    from disaster_dx.line_bot import SAMPLES, sample_webhook_body, signature

    secret = settings.line_channel_secret
    if not secret:
        raise DisasterDxError("set LINE_CHANNEL_SECRET (the app must use the same one)")
    failed = 0
    for sample in args.sample or list(SAMPLES):
        kwargs = {}
        if args.lat is not None and args.lon is not None:
            kwargs = {"lat": args.lat, "lon": args.lon}
        body = json.dumps(sample_webhook_body(sample, **kwargs), ensure_ascii=False).encode()
        sign = "not-a-valid-signature" if args.bad_signature else signature(secret, body)
        try:
            response = requests.post(
                args.url,
                data=body,
                headers={"Content-Type": "application/json", "X-Line-Signature": sign},
                timeout=(5, 30),
            )
        except requests.RequestException as exc:
            raise DisasterDxError(f"could not reach {args.url}: {type(exc).__name__}") from None
        expected = 401 if args.bad_signature else 200
        failed += response.status_code != expected
        _say(f"{sample}: HTTP {response.status_code}")
    return 0 if not failed else EXIT_REFUSED


def _add_line_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    line = commands.add_parser("line", help="LINE: sender, local fake API, sample webhooks")
    line.set_defaults(handler=cmd_line)
    actions = line.add_subparsers(dest="line_command", required=True, metavar="ACTION")
    run = actions.add_parser("run", help="send queued LINE messages (one sender holds a lease)")
    run.add_argument("--once", action="store_true", help="one round, then exit")
    run.add_argument("--seconds", type=float, help="stop after this many seconds")
    run.add_argument("--interval", type=float, default=2.0, help="seconds between rounds")
    status = actions.add_parser("status", help="list the outbox and the delivery log")
    status.add_argument("--limit", type=int, default=20)
    fake = actions.add_parser(
        "fake-server", help="a local stand-in for the LINE API on 127.0.0.1 (demo, tests)"
    )
    fake.add_argument("--port", type=int, default=8901, help="port on 127.0.0.1 (default 8901)")
    fake.add_argument("--record", help="append what would have been sent to this JSONL file")
    fake.add_argument("--seconds", type=float, help="stop after this many seconds")
    sample = actions.add_parser(
        "send-sample-webhook", help="post signed sample webhook events (LINE_CHANNEL_SECRET)"
    )
    sample.add_argument("--url", default="http://127.0.0.1:8050/line/webhook")
    sample.add_argument(
        "--sample",
        action="append",
        choices=["location", "shelter", "english", "help"],
        help="which event (repeatable; default all)",
    )
    sample.add_argument("--lat", type=float, help="latitude of the location sample")
    sample.add_argument("--lon", type=float, help="longitude of the location sample")
    sample.add_argument("--bad-signature", action="store_true", help="expect a 401 refusal")


# -- parser -------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="disaster-dx",
        description="Disaster-response GIS for Japanese municipalities (disaster_dx).",
    )
    parser.add_argument("--database-url", help="override DATABASE_URL for this command")
    parser.add_argument("-v", "--verbose", action="store_true", help="more detail")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init = commands.add_parser("init", help="create or upgrade the database, load bundled data")
    init.add_argument("--admin-user", help="create this admin user if missing (or DX_ADMIN_USER)")
    init.add_argument(
        "--admin-password-file", help="file holding the admin password (or DX_ADMIN_PASSWORD)"
    )
    init.add_argument(
        "--city",
        metavar="CODE",
        help="全国地方公共団体コード (or CITY_CODE); 392049 (南国市) loads the bundled data",
    )
    init.add_argument(
        "--city-name-en", help="the city's own English name (default: its romanised reading)"
    )
    init.set_defaults(handler=cmd_init)

    bnd = commands.add_parser(
        "import-boundary", help="the city's outline from a 国土数値情報 N03 GeoJSON file"
    )
    bnd.add_argument("file", help="N03 GeoJSON of the prefecture or the city")
    bnd.add_argument("--actor", default="import", help="name recorded as the importer")
    bnd.set_defaults(handler=cmd_import_boundary)
    cli_incident.register(commands, _open_store, republish=_republish)
    cli_history.register(commands, _open_store)

    imp = commands.add_parser(
        "import-shelters", help="import GSI shelter files (GeoJSON/CSV) or URLs as the master"
    )
    imp.add_argument(
        "sources",
        nargs="+",
        metavar="PATH|URL",
        help=f"files or URLs, e.g. {' '.join(p.name for p in BUNDLED_SHELTER_FILES)}",
    )
    imp.add_argument("--dry-run", action="store_true", help="check the files, write nothing")
    imp.add_argument("--actor", default="import", help="name recorded as the importer")
    imp.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="list the ids added, changed and removed",
    )
    imp.set_defaults(handler=cmd_import_shelters)

    exp = commands.add_parser("export", help="export shelters with live public status")
    exp.add_argument("--format", choices=sorted(FORMATS), default="geojson")
    exp.add_argument("-o", "--output", help="output file (default shelters.<ext>)")
    exp.set_defaults(handler=cmd_export)

    pub = commands.add_parser(
        "publish", help="write the public snapshot (page, GeoJSON, CSV, map) into PUBLIC_DIR"
    )
    pub.add_argument("--public-dir", help="write here instead of PUBLIC_DIR")
    pub.set_defaults(handler=cmd_publish)

    serve = commands.add_parser("serve", help="run the web app")
    serve.add_argument("--host", help="listen address (default HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default PORT or 8050)")
    serve.set_defaults(handler=cmd_serve)

    _add_plan_commands(commands)

    cams = commands.add_parser("cameras", help="tower cameras: check, run the poller, simulate")
    cams.set_defaults(handler=cmd_cameras)
    cam_commands = cams.add_subparsers(dest="cameras_command", required=True, metavar="ACTION")
    check = cam_commands.add_parser("check", help="validate the camera registry and list it")
    run = cam_commands.add_parser("run", help="poll the cameras (a separate process from the app)")
    for sub in (check, run):
        sub.add_argument("--registry", help="registry YAML (default CAMERAS_FILE or the demo)")
    run.add_argument("--once", action="store_true", help="poll each camera once and exit")
    run.add_argument("--seconds", type=float, help="stop after this many seconds")
    sim = cam_commands.add_parser(
        "simulate", help="serve fake cameras on 127.0.0.1 (demo and tests; not a real camera)"
    )
    sim.add_argument("--port", type=int, default=8781, help="port on 127.0.0.1 (default 8781)")
    sim.add_argument(
        "--camera",
        action="append",
        metavar="NAME",
        help="camera names to list (default coast, river, town); any name is served",
    )
    for flag, what in (
        ("slow", "answer slowly"),
        ("errors", "answer HTTP 503"),
        ("garbage", "send bytes that are not an image"),
        ("hang", "accept and never answer"),
    ):
        sim.add_argument(
            f"--{flag}",
            action="append",
            metavar="NAME",
            help=f"make camera NAME (or all) {what}; repeatable",
        )
    sim.add_argument("--slow-seconds", type=float, default=2.0, help="delay of --slow (s)")
    sim.add_argument(
        "--auth",
        action="append",
        metavar="NAME:SCHEME:USER:PASSWORD_ENV",
        help="require basic/digest auth on NAME; the password is read from the "
        "environment variable PASSWORD_ENV",
    )

    _add_drill_commands(commands)
    _add_line_commands(commands)
    add_db_commands(commands)
    add_token_commands(commands)

    add_user_commands(commands)
    return parser


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
