"""``disaster-dx incident|alert|lalert|import-areas``: the named disaster, 避難情報, L-Alert, areas.

The operator runs these on the server (as the other CLI writes, attributed with ``--actor``,
default ``$USER``). Each write is an incident event or an audited change, exactly as the same
act on ``/hq``, so the public page, LINE and L-Alert follow either way.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from disaster_dx._time import jst_minute
from disaster_dx.cli._common import (
    actor_name,
    hazard_from_text,
    open_runtime,
    open_store,
    out,
    say,
)
from disaster_dx.errors import DisasterDxError

if TYPE_CHECKING:
    from disaster_dx.config import Settings
    from disaster_dx.store import Incident, Store


def _incident_line(incident: Incident) -> str:
    state = "open" if incident.closed_at is None else f"closed {jst_minute(incident.closed_at)}"
    hazard = f" [{incident.hazard.ja}]" if incident.hazard else ""
    name = incident.title if incident.named else f"{incident.title}（災害名未設定）"
    return f"{incident.incident_id}  {name}{hazard}  {state}"


def cmd_incident(args: argparse.Namespace, settings: Settings) -> int:
    """Open (name), close or list live incidents."""
    from disaster_dx import incidents
    from disaster_dx.model import IncidentKind, OpenState

    store = open_store(args, settings)
    if args.action == "list":
        for incident in store.incidents(kind=IncidentKind.LIVE):
            out(_incident_line(incident))
        return 0
    if args.action == "open":
        started = datetime.fromisoformat(args.start) if args.start else None
        if started is not None and started.tzinfo is None:
            raise DisasterDxError("--start needs a time zone, e.g. 2026-09-01T06:00+09:00")
        incident = incidents.open_named_incident(
            store,
            actor_name(args),
            args.name,
            hazard=hazard_from_text(args.hazard) if args.hazard else None,
            started_at=started,
        )
        say(f"live incident named: {_incident_line(incident)}")
        return 0
    closed = incidents.close_live_incident(store, actor_name(args), force=args.force)
    incident = closed.incident
    say(f"closed: {incident.incident_id} ({incident.title}); it stays for replay and reports")
    if closed.open_shelters:
        shown = incidents.shelter_names(store.shelters(), closed.open_shelters)
        say(
            f"warning: closed with {len(closed.open_shelters)} shelter(s) open "
            f"({OpenState.OPEN.ja}): {shown}"
        )
    return 0


def cmd_alert(args: argparse.Namespace, settings: Settings) -> int:
    """Issue, lift or list 避難情報 and warnings in the open live incident.

    A write runs the app's after-save actions (:mod:`disaster_dx.runtime`): the public
    snapshot is published and the LINE message queued before the command returns; the
    sender (the app's, or ``disaster-dx line run``) delivers it.
    """
    store = open_store(args, settings)
    if args.action != "list":
        open_runtime(args, settings, store)  # publish, queue LINE, re-plan: as in the app
    return _alert(args, store)


def _alert(args: argparse.Namespace, store: Store) -> int:
    from disaster_dx import alerts
    from disaster_dx.model import AlertLevel, WarningKind

    incident = store.live_incident(actor=actor_name(args))
    areas = {a.area_id: a for a in store.areas()}
    if args.action == "list":
        state = store.state(incident.incident_id)
        out(f"# {incident.title}")
        if not state.alerts and not state.hazards:
            out("避難情報・警報等: なし")
        for alert in sorted(state.alerts.values(), key=lambda a: a.issued_at):
            where = "・".join(areas[a].name if a in areas else a for a in alert.areas)
            lifted = f"  解除 {jst_minute(alert.lifted_at)}" if alert.lifted_at else "  発令中"
            out(
                f"{alert.alert_id}  警戒レベル{alert.level.number} {alert.level.ja}  "
                f"{alert.hazard.ja}  {where}  発令 {jst_minute(alert.issued_at)}{lifted}"
            )
        for announcement in state.hazards.values():
            out(
                f"警報等  {announcement.title}  ({announcement.hazard.ja})  "
                f"{jst_minute(announcement.announced_at)}"
            )
        return 0
    if args.action == "issue":
        try:
            level = AlertLevel.from_number(args.level)
        except ValueError as exc:
            raise DisasterDxError(str(exc)) from None
        area_ids = [_area_id(name, areas) for name in args.area]
        alert = alerts.issue_alert(
            store,
            incident.incident_id,
            actor_name(args),
            level=level,
            hazard=hazard_from_text(args.hazard),
            areas=area_ids,
            reason=args.reason or "",
        )
        say(
            f"issued {alert.alert_id}: 警戒レベル{alert.level.number} {alert.level.ja} "
            f"({alert.hazard.ja}) for {', '.join(areas[a].name for a in alert.areas)}"
        )
        out(alert.alert_id)
        return 0
    if args.action == "lift":
        alert = alerts.lift_alert(
            store, incident.incident_id, actor_name(args), args.alert_id, reason=args.reason or ""
        )
        say(f"lifted {alert.alert_id}: 警戒レベル{alert.level.number} {alert.level.ja}")
        return 0
    if args.action == "warn":
        try:
            warning = WarningKind.parse(args.warning)
        except ValueError:
            choices = ", ".join(f"{w.value} ({w.ja})" for w in WarningKind)
            raise DisasterDxError(f"unknown warning {args.warning!r}; one of: {choices}") from None
        arrival = datetime.fromisoformat(args.arrival) if args.arrival else None
        announced = alerts.announce_warning(
            store,
            incident.incident_id,
            actor_name(args),
            warning=warning,
            hazard=hazard_from_text(args.hazard) if args.hazard else None,
            arrival_at=arrival,
            source=args.source or "",
        )
        say(f"recorded: {announced.title} ({announced.hazard.ja})")
        return 0
    alerts.clear_warning(
        store, incident.incident_id, actor_name(args), hazard_from_text(args.hazard)
    )
    say(f"cleared the warning for {hazard_from_text(args.hazard).ja}")
    return 0


def _area_id(name: str, areas: dict[str, Any]) -> str:
    if name in areas:
        return name
    for area in areas.values():
        if name in (area.name, area.name_en):
            return str(area.area_id)
    if name in ("全域", "all") and "all" in areas:
        return "all"
    choices = ", ".join(f"{a.area_id} ({a.name})" for a in areas.values())
    raise DisasterDxError(f"unknown area {name!r}; known: {choices or 'none (import-areas)'}")


def cmd_lalert(args: argparse.Namespace, settings: Settings) -> int:
    """Write the L-Alert fields of the open live incident (避難情報 or shelters) as CSV or XML.

    The same files as HQ's downloads; 災害名 is the incident's name (its HQ title while unnamed).
    """
    from disaster_dx._files import write_atomic
    from disaster_dx.io import lalert

    store = open_store(args, settings)
    incident = store.live_incident(actor=actor_name(args))
    state = store.state(incident.incident_id)
    now = store.clock()
    if args.kind == "evacuation":
        records = lalert.evacuation_records(state, store.areas(), disaster_name=incident.title)
        body = (
            lalert.evacuation_csv(records)
            if args.format == "csv"
            else lalert.evacuation_xml(
                records,
                disaster_name=incident.title,
                issued_at=now,
                municipality=store.city().full_name,
            )
        )
    else:
        records = lalert.lalert_records(
            store.shelters(), state, thresholds=settings.crowding, include_unopened=args.all
        )
        body = (
            lalert.lalert_csv(records)
            if args.format == "csv"
            else lalert.lalert_xml(
                records,
                issued_at=now,
                disaster_name=incident.title,
                municipality=store.city().full_name,
            )
        )
    if args.output in (None, "-"):
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
    else:
        write_atomic(Path(args.output), body)
        say(f"{args.output}: {len(records)} row(s) for 「{incident.title}」")
    return 0


def cmd_import_areas(args: argparse.Namespace, settings: Settings) -> int:
    """Replace the city's areas with a GeoJSON file (all or nothing)."""
    from disaster_dx.areas import areas_from_geojson

    store = open_store(args, settings)
    path = Path(args.path)
    found = areas_from_geojson(path)
    if args.dry_run:
        say(f"{path.name}: {len(found)} area(s), no problems (nothing imported: --dry-run)")
        return 0
    store.replace_areas(found, source=path.name, actor=actor_name(args))
    shelters = store.shelters()
    for area in found:
        inside = sum(1 for s in shelters if area.contains(s))
        say(f"{area.area_id}: {area.name} — {inside} shelter(s)")
    empty = [a.name for a in found if not any(a.contains(s) for s in shelters)]
    if empty:
        say(f"warning: no shelter lies in {len(empty)} area(s): {', '.join(empty)}")
    return 0


def add_commands(commands: Any) -> None:
    """Add ``incident``, ``alert``, ``lalert`` and ``import-areas`` to the parser."""
    incident = commands.add_parser("incident", help="name, close or list live incidents")
    incident.set_defaults(handler=cmd_incident)
    actions = incident.add_subparsers(dest="action", required=True)
    opened = actions.add_parser("open", help="name the disaster HQ works on (one at a time)")
    opened.add_argument("name", help="e.g. 令和8年 台風第10号")
    opened.add_argument("--hazard", help="the disaster's main hazard (tsunami, flood, …)")
    opened.add_argument("--start", help="when it began (ISO 8601 with time zone; default now)")
    closed = actions.add_parser("close", help="close the open live incident (kept for replay)")
    closed.add_argument("--force", action="store_true", help="even with shelters still open")
    actions.add_parser("list", help="live incidents, open and past")
    for sub in (opened, closed):
        sub.add_argument("--actor", help="who does this (default $USER)")

    alert = commands.add_parser("alert", help="避難情報 (警戒レベル3–5) and warnings in force")
    alert.set_defaults(handler=cmd_alert)
    actions = alert.add_subparsers(dest="action", required=True)
    issue = actions.add_parser("issue", help="issue 避難情報 for areas")
    issue.add_argument("--level", type=int, required=True, help="警戒レベル 3, 4 or 5")
    issue.add_argument("--hazard", required=True, help="tsunami, flood, landslide, …")
    issue.add_argument(
        "--area", action="append", required=True, help="area id or name (repeatable; 全域)"
    )
    issue.add_argument("--reason", help="why (kept in the log)")
    lift = actions.add_parser("lift", help="lift (解除) 避難情報")
    lift.add_argument("alert_id")
    lift.add_argument("--reason", help="why (kept in the log)")
    warn = actions.add_parser("warn", help="record a warning in force (大津波警報 …)")
    warn.add_argument("warning", help="e.g. major_tsunami_warning or 大津波警報")
    warn.add_argument("--hazard", help="the hazard, when the warning does not say it")
    warn.add_argument("--arrival", help="津波到達予想時刻 (ISO 8601 with time zone)")
    warn.add_argument("--source", help="e.g. 気象庁")
    clear = actions.add_parser("clear", help="a warning is no longer in force")
    clear.add_argument("--hazard", required=True)
    actions.add_parser("list", help="避難情報 and warnings of the open live incident")
    for sub in (issue, lift, warn, clear):
        sub.add_argument("--actor", help="who does this (default $USER)")

    out = commands.add_parser("lalert", help="L-Alert fields (避難情報 or shelters) as CSV/XML")
    out.add_argument("kind", choices=("evacuation", "shelters"))
    out.add_argument("--format", choices=("csv", "xml"), default="csv")
    out.add_argument("-o", "--output", help="file to write (default: standard output)")
    out.add_argument("--all", action="store_true", help="shelters: also those never opened")
    out.set_defaults(handler=cmd_lalert)

    areas = commands.add_parser("import-areas", help="replace the city's areas (GeoJSON)")
    areas.add_argument("path", help="GeoJSON FeatureCollection of the city's 地区")
    areas.add_argument("--dry-run", action="store_true", help="only check the file")
    areas.add_argument("--actor", help="who does this (default $USER)")
    areas.set_defaults(handler=cmd_import_areas)
