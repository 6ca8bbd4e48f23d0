"""``disaster-dx import-shelters|import-boundary|export|publish``: the shelter master.

The master comes from the city's files (GSI or 自治体標準オープンデータセット), the outline from
国土数値情報 N03; every change is published to the public page at once.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from disaster_dx.cli._common import open_runtime, open_store, refresh_live_plans, republish, say
from disaster_dx.errors import DisasterDxError
from disaster_dx.io.export import FORMATS

if TYPE_CHECKING:
    from disaster_dx.config import Settings
    from disaster_dx.store import Store

MAX_DOWNLOAD_BYTES = 100 * 1024 * 1024


def add_commands(commands: Any) -> None:
    """Add the shelter-master commands to the ``disaster-dx`` parser."""
    imp = commands.add_parser(
        "import-shelters", help="import GSI shelter files (GeoJSON/CSV) or URLs as the master"
    )
    imp.add_argument(
        "sources",
        nargs="+",
        metavar="PATH|URL",
        help="files or URLs, e.g. Nankoku's data/gsi/evacuation_392049.geojson",
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

    bnd = commands.add_parser(
        "import-boundary", help="the city's outline from a 国土数値情報 N03 GeoJSON file"
    )
    bnd.add_argument("file", help="N03 GeoJSON of the prefecture or the city")
    bnd.add_argument("--actor", default="import", help="name recorded as the importer")
    bnd.set_defaults(handler=cmd_import_boundary)

    exp = commands.add_parser("export", help="export shelters with live public status")
    exp.add_argument("--format", choices=sorted(FORMATS), default="geojson")
    exp.add_argument("-o", "--output", help="output file (default shelters.<ext>)")
    exp.set_defaults(handler=cmd_export)

    pub = commands.add_parser(
        "publish", help="write the public snapshot (page, GeoJSON, CSV, map) into PUBLIC_DIR"
    )
    pub.add_argument("--public-dir", help="write here instead of PUBLIC_DIR")
    pub.set_defaults(handler=cmd_publish)


def cmd_import_shelters(args: argparse.Namespace, settings: Settings) -> int:
    """Import GSI files (paths or URLs) as the new shelter master, all or nothing."""
    from disaster_dx.bundled import refresh_shelter_file_areas
    from disaster_dx.io.gsi import shelters_from_files

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
        say(f"reading {path.name} …")
    store = open_store(args, settings)
    if not args.dry_run:
        store.create_schema()
    result = shelters_from_files(paths, city_code=_recorded_city_code(store, settings))
    if result.notes:
        say(f"{len(result.notes)} warning(s), by kind (imported as read; check these rows):")
        for line in result.warning_report():
            say(f"  {line}")
    say(f"{len(result.shelters)} sites in the new master")
    if args.dry_run:
        say("dry run: nothing written")
        return 0
    report = store.replace_shelters(
        result.shelters,
        source=", ".join(args.sources),
        actor=args.actor,
        sha256=result.sha256,
        notes=result.warnings,
    )
    runtime = open_runtime(args, settings, store)
    say(f"imported: {report.summary()}")
    named = refresh_shelter_file_areas(store, actor=args.actor)
    if named:
        say(f"areas for 避難情報 from the file's 地区・町会・自治会: {named}")
    for label, ids in (
        ("added", report.added),
        ("changed", report.changed),
        ("removed", report.removed),
    ):
        if ids and args.verbose:
            say(f"  {label}: {', '.join(ids)}")
    # The public page and the live plans both list shelters: bring them up to date now.
    republish(runtime)
    refresh_live_plans(runtime)
    return 0


def _recorded_city_code(store: Store, settings: Settings) -> str | None:
    """The city the database serves (or ``CITY_CODE`` before any is recorded)."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return store.recorded_city_code() or settings.city_code or None
    except SQLAlchemyError:  # a dry run on a database without the schema yet
        return settings.city_code or None


def cmd_import_boundary(args: argparse.Namespace, settings: Settings) -> int:
    """Store the city's outline (its features of an N03 file); maps and 全域 then use it."""
    from disaster_dx.bundled import import_boundary_file

    store = open_store(args, settings)
    store.create_schema()
    city = store.city()
    import_boundary_file(store, Path(args.file), actor=args.actor)
    say(f"outline of {city.full_name} ({city.code}) imported from {Path(args.file).name}")
    republish(open_runtime(args, settings, store))
    return 0


def _download(url: str, folder: Path) -> Path:
    import requests  # only imports from URLs need it

    name = Path(urlparse(url).path).name or "download"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    say(f"downloading {url} …")
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
    say(f"  {received:,} bytes")
    return target


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    """Export the master with live public status (GeoJSON, GeoPackage, CSV for Excel)."""
    from disaster_dx.bundled import ensure_initialised
    from disaster_dx.io.export import export_shelters

    store = open_store(args, settings)
    ensure_initialised(store, actor="export")
    incident = store.live_incident(actor="export")
    state = store.state(incident.incident_id)
    shelters = store.shelters()
    output = Path(args.output or f"shelters{FORMATS[args.format]}")
    count = export_shelters(shelters, state, output, fmt=args.format, thresholds=settings.crowding)
    say(f"wrote {count} shelters to {output}")
    return 0


def cmd_publish(args: argparse.Namespace, settings: Settings) -> int:
    """Write the public snapshot (page, GeoJSON, CSV, shareable map) into PUBLIC_DIR now.

    The app publishes after every live write and on start; this is for cron, after a master
    import, or to refill a static host's folder.
    """
    from disaster_dx.bundled import ensure_initialised
    from disaster_dx.publish import publish  # only this command needs it
    from layers.public_map import shelter_map_html  # folium: kept out of the other commands

    if args.public_dir:
        settings = settings.with_overrides(public_dir=Path(args.public_dir))
    store = open_store(args, settings)
    ensure_initialised(store, actor="publish")
    result = publish(store, settings, render_map=shelter_map_html)
    say(f"published {result.summary()}")
    return 0
