"""Past disasters from what cities published: snapshots → a closed live incident.

A folder of open-shelter publications (:mod:`disaster_dx.io.history`) becomes one live
incident, already closed, whose events carry the publications' times: at each 時点 every
listed shelter is reported open with its 人数, and a shelter that was open and is no longer
listed is closed then. The record then replays on ``/drill/replay/<id>``, gets an
after-action report and can be exported as a drill scenario, like any incident.

Rows are matched to the shelter master by ID (the site id, a 共通ID, ``<団体コード>-<ID>`` or
the 自治体標準 ``ID`` of its source record), then by name (全角/半角 and spaces ignored).
An ID once matched keeps its shelter in later publications, so a renamed shelter stays the
same site. Rows of shelters the master does not know are reported, or added to the master
with ``add_unknown`` (they need 緯度/経度).

The incident and all its events are written in one transaction with the import's audit
entry; nothing is written when anything is wrong. Events are attributed to
``履歴取込:<operator>`` (:func:`history_actor`), so the log says both who imported them and
that nobody reported them live.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert, select

from disaster_dx._time import to_jst
from disaster_dx.errors import DisasterDxError, ImportFileError, Problem
from disaster_dx.events import SHELTER_STATUS_REPORTED, NewEvent, validate_payload
from disaster_dx.io.history import (
    Snapshot,
    SnapshotRow,
    SnapshotSeries,
    normalised_name,
    snapshots_from_folder,
)
from disaster_dx.model import Hazard, IncidentKind, OpenState, Shelter
from disaster_dx.store import Incident, Store, audit_table, events_table, incidents

log = logging.getLogger(__name__)

#: Events of an imported history are written by ``履歴取込:<operator>`` (shown as is on the
#: board, the log and the report: who imported it, and that nobody reported it live).
HISTORY_ACTOR_PREFIX = "履歴取込:"
#: Rows inserted per statement (one transaction for all of them).
INSERT_CHUNK = 2000
#: Unknown shelters and renames listed by name in the report (the rest are counted).
LISTED = 20


def history_actor(operator: str) -> str:
    """The actor of an imported record's events: ``履歴取込:<operator>``."""
    return f"{HISTORY_ACTOR_PREFIX}{operator}"[:64]


def is_history_actor(actor: str) -> bool:
    """Whether an event was written by a history import, not reported live."""
    return actor.startswith(HISTORY_ACTOR_PREFIX)


@dataclass(frozen=True)
class UnknownShelter:
    """A shelter of the publications that the master does not know."""

    local_id: str
    name: str
    district: str
    first: str
    rows: int
    max_evacuees: int
    added_as: str | None = None

    def line(self) -> str:
        """``ID 12 「○○公民館」（地区 輪島） first at … , in 5 publications, at most 40 people``."""
        ident = f"ID {self.local_id} " if self.local_id else ""
        district = f"（地区 {self.district}）" if self.district else ""
        added = f" → added as {self.added_as}" if self.added_as else ""
        return (
            f"{ident}「{self.name}」{district} first at {self.first}, in {self.rows} "
            f"publication(s), at most {self.max_evacuees} people{added}"
        )


@dataclass(frozen=True)
class Rename:
    """A shelter whose name changed between publications but kept its ID."""

    local_id: str
    shelter_id: str
    before: str
    after: str
    where: str


@dataclass
class HistoryPlan:
    """What an import would write: the timed events, matches, unknown shelters, renames."""

    series: SnapshotSeries
    events: list[tuple[datetime, NewEvent]] = field(default_factory=list)
    matched: dict[str, str] = field(default_factory=dict)
    unknown: list[UnknownShelter] = field(default_factory=list)
    renames: list[Rename] = field(default_factory=list)
    new_shelters: list[Shelter] = field(default_factory=list)
    skipped_evacuees: dict[str, int] = field(default_factory=dict)
    openings: int = 0
    closings: int = 0


@dataclass(frozen=True)
class HistoryImport:
    """What :func:`import_history` wrote."""

    incident: Incident
    plan: HistoryPlan

    def lines(self) -> list[str]:
        """The CLI's report: what was written, then everything inferred or left out."""
        incident = self.incident
        head = f"incident {incident.incident_id} 「{incident.title}」 (closed live record)"
        return [head, *self.describe(self.plan)]

    @staticmethod
    def describe(plan: HistoryPlan) -> list[str]:
        """What a plan holds and everything inferred or left out (also for ``--dry-run``)."""
        series = plan.series
        snapshots = series.snapshots
        encodings: dict[str, int] = {}
        for snapshot in snapshots:
            encodings[snapshot.encoding] = encodings.get(snapshot.encoding, 0) + 1
        from_names = [s.file for s in snapshots if s.time_from != "時点"]
        out = [
            f"  {len(snapshots)} publications from {to_jst(snapshots[0].at):%Y-%m-%d %H:%M} "
            f"to {to_jst(snapshots[-1].at):%Y-%m-%d %H:%M} JST; "
            f"{len(plan.events)} events ({plan.openings} openings, {plan.closings} closings)",
            f"  {len(plan.matched)} shelters matched to the master; encodings: "
            + ", ".join(f"{k} {v}" for k, v in sorted(encodings.items())),
        ]
        if from_names:
            shown = ", ".join(from_names[:LISTED])
            out.append(f"  time taken from the file name (no 時点 column): {shown}")
        for line in series.warnings.lines():
            out.append(f"  warning: {line}")
        for rename in plan.renames[:LISTED]:
            out.append(
                f"  renamed (matched by ID {rename.local_id} → {rename.shelter_id}): "
                f"「{rename.before}」 → 「{rename.after}」 at {rename.where}"
            )
        if len(plan.renames) > LISTED:
            out.append(f"  … {len(plan.renames) - LISTED} more renames")
        added = [u for u in plan.unknown if u.added_as]
        if added:
            out.append(f"  {len(added)} unknown shelters added to the master (--add-unknown):")
        elif plan.unknown:
            skipped = sum(u.rows for u in plan.unknown)
            out.append(
                f"  NOT imported: {len(plan.unknown)} shelters unknown to the master "
                f"({skipped} rows; import them with --add-unknown, or import the master first):"
            )
        for unknown in plan.unknown[:LISTED]:
            out.append(f"    {unknown.line()}")
        if len(plan.unknown) > LISTED:
            out.append(f"    … {len(plan.unknown) - LISTED} more")
        return out


class _Matcher:
    """Rows → master site ids: by ID, then by name; IDs remembered across publications."""

    def __init__(self, shelters: Sequence[Shelter], active: set[str]) -> None:
        self.by_id: dict[str, str] = {}
        local: dict[str, set[str]] = {}
        names: dict[str, list[Shelter]] = {}
        for shelter in shelters:
            keys = {shelter.shelter_id, *shelter.gsi_ids}
            for record_id, fields in shelter.source.items():
                keys.add(record_id)
                local_id = str(fields.get("ID") or fields.get("NO") or "").strip()
                if local_id:
                    local.setdefault(local_id, set()).add(shelter.shelter_id)
            for key in keys:
                self.by_id.setdefault(key, shelter.shelter_id)
            names.setdefault(normalised_name(shelter.name), []).append(shelter)
        # A bare 自治体標準 ID ("12") only counts when one site has it.
        self.by_local = {k: next(iter(v)) for k, v in local.items() if len(v) == 1}
        self.by_name: dict[str, list[str]] = {}
        for key, found in names.items():
            # A site still in the master wins over a removed one of the same name.
            current = [s.shelter_id for s in found if s.shelter_id in active]
            self.by_name[key] = current or sorted(s.shelter_id for s in found)
        self.learned: dict[str, str] = {}

    def match(self, row: SnapshotRow, problems: list[Problem]) -> str | None:
        """The site id of ``row``, or None when the master does not know it."""
        if row.local_id:
            found = self.learned.get(row.local_id) or self._by_id(row)
            if found is not None:
                self.learned[row.local_id] = found
                return found
        candidates = self.by_name.get(normalised_name(row.name), [])
        if len(candidates) > 1:
            problems.append(
                Problem(
                    row.where,
                    f"名称 「{row.name}」 matches {len(candidates)} shelters "
                    f"({', '.join(candidates[:5])}); give their ID",
                )
            )
            return None
        if candidates and row.local_id:
            self.learned[row.local_id] = candidates[0]
        return candidates[0] if candidates else None

    def _by_id(self, row: SnapshotRow) -> str | None:
        code = str(
            row.fields.get("全国地方公共団体コード") or row.fields.get("市区町村コード") or ""
        )
        for key in (row.local_id, f"{code}-{row.local_id}" if code else ""):
            if key and key in self.by_id:
                return self.by_id[key]
        return self.by_local.get(row.local_id)


def plan_history(
    series: SnapshotSeries,
    shelters: Sequence[Shelter],
    *,
    active: set[str] | None = None,
    add_unknown: bool = False,
) -> HistoryPlan:
    """Match every row and build the timed events (pure: nothing is read or written).

    Raises
    ------
    ImportFileError
        Rows that cannot be matched exactly (a name shared by several sites, two rows of one
        publication for one site, an unknown shelter without 緯度/経度 to add it).
    """
    plan = HistoryPlan(series)
    problems: list[Problem] = []
    master_ids = {s.shelter_id for s in shelters}
    matcher = _Matcher(shelters, master_ids if active is None else active)
    unknown_rows: dict[str, list[SnapshotRow]] = {}
    unknown_ids: dict[str, str] = {}
    last_name: dict[str, tuple[str, str]] = {}
    is_open: dict[str, bool] = {}
    for snapshot in series.snapshots:
        listed: dict[str, SnapshotRow] = {}
        for row in snapshot.rows:
            if row.local_id:
                before = last_name.get(row.local_id)
                if before is not None and normalised_name(before[0]) != normalised_name(row.name):
                    plan.renames.append(
                        Rename(row.local_id, before[1], before[0], row.name, row.where)
                    )
            sid = matcher.match(row, problems)
            if sid is None:
                key = f"id:{row.local_id}" if row.local_id else f"name:{normalised_name(row.name)}"
                unknown_rows.setdefault(key, []).append(row)
                if not add_unknown:
                    plan.skipped_evacuees[snapshot.file] = plan.skipped_evacuees.get(
                        snapshot.file, 0
                    ) + (row.evacuees or 0)
                    continue
                sid = unknown_ids.setdefault(key, _new_id(row, master_ids))
                if row.local_id:
                    matcher.learned[row.local_id] = sid
            if row.local_id:
                last_name[row.local_id] = (row.name, sid)
            if sid in listed:
                problems.append(
                    Problem(row.where, f"is the same shelter ({sid}) as {listed[sid].where}")
                )
                continue
            listed[sid] = row
            plan.matched.setdefault(sid, row.name)
        _snapshot_events(plan, snapshot, listed, is_open)
    for key, rows in unknown_rows.items():
        added_as = unknown_ids.get(key)
        if added_as is not None:
            shelter = _shelter_from_rows(added_as, rows, problems)
            if shelter is not None:
                plan.new_shelters.append(shelter)
        plan.unknown.append(
            UnknownShelter(
                local_id=rows[0].local_id,
                name=rows[-1].name,
                district=rows[-1].district,
                first=rows[0].where,
                rows=len(rows),
                max_evacuees=max((r.evacuees or 0) for r in rows),
                added_as=added_as,
            )
        )
    if problems:
        raise ImportFileError(f"shelter snapshots in {series.folder or 'the files'}", problems)
    return plan


def _snapshot_events(
    plan: HistoryPlan,
    snapshot: Snapshot,
    listed: Mapping[str, SnapshotRow],
    is_open: dict[str, bool],
) -> None:
    """One publication's events: listed sites open with their 人数; unlisted open ones close."""
    when = f"{to_jst(snapshot.at):%Y-%m-%d %H:%M}"
    for sid, row in listed.items():
        if row.evacuees is None and is_open.get(sid):
            # Listed without a count: still open, nothing newly reported (its last count
            # stands and its report ages, as a shelter that does not report on the board).
            continue
        payload: dict[str, object] = {"shelter_id": sid, "open_state": OpenState.OPEN.value}
        if row.evacuees is not None:
            payload["evacuees"] = row.evacuees
        if sid in is_open and not is_open[sid]:
            payload["internal_note"] = ""  # the closing's explanation no longer applies
        if not is_open.get(sid):
            plan.openings += 1
        is_open[sid] = True
        plan.events.append((snapshot.at, NewEvent(SHELTER_STATUS_REPORTED, payload)))
    for sid, was_open in is_open.items():
        if was_open and sid not in listed:
            is_open[sid] = False
            plan.closings += 1
            note = f"{when} の公表（{snapshot.file}）に載っていないため閉鎖とした（履歴の取り込み）"
            plan.events.append(
                (
                    snapshot.at,
                    NewEvent(
                        SHELTER_STATUS_REPORTED,
                        {
                            "shelter_id": sid,
                            "open_state": OpenState.CLOSED.value,
                            "evacuees": 0,
                            "internal_note": note,
                        },
                    ),
                )
            )


def _new_id(row: SnapshotRow, taken: set[str]) -> str:
    """A master id for a shelter added from the publications (``<団体コード>-<ID>`` as gsi)."""
    code = str(row.fields.get("全国地方公共団体コード") or "").strip()
    if row.local_id:
        base = f"{code}-{row.local_id}" if code else f"history-{row.local_id}"
    else:
        digest = hashlib.sha256(normalised_name(row.name).encode()).hexdigest()[:10]
        base = f"history-{digest}"
    candidate, n = base[:60], 2
    while candidate in taken:
        candidate, n = f"{base[:56]}-{n}", n + 1
    taken.add(candidate)
    return candidate


def _shelter_from_rows(
    shelter_id: str, rows: Sequence[SnapshotRow], problems: list[Problem]
) -> Shelter | None:
    """A master site from the publications' own columns; 緯度/経度 are required."""
    placed = next((r for r in rows if r.fields.get("緯度") and r.fields.get("経度")), None)
    if placed is None:
        problems.append(
            Problem(
                rows[0].where,
                f"「{rows[0].name}」 is not in the master and its rows have no 緯度/経度, so "
                "--add-unknown cannot place it; import the master first",
            )
        )
        return None
    try:
        lat, lon = float(placed.fields["緯度"]), float(placed.fields["経度"])
    except ValueError:
        problems.append(Problem(placed.where, "緯度/経度 are not numbers"))
        return None
    if not (20.0 <= lat <= 46.0 and 122.0 <= lon <= 154.0):
        problems.append(Problem(placed.where, f"緯度 {lat}, 経度 {lon} is outside Japan"))
        return None
    latest = rows[-1]
    code = str(latest.fields.get("全国地方公共団体コード") or "").strip()
    return Shelter(
        shelter_id=shelter_id,
        name=latest.name,
        address=str(latest.fields.get("所在地_連結表記") or latest.fields.get("住所") or ""),
        lon=lon,
        lat=lat,
        kinds=frozenset(),
        hazards=frozenset(),
        municipality_code=code.zfill(6) if code.isdigit() else code,
        source={f"history:{placed.file}#{placed.row}": {"kind": "history", **dict(placed.fields)}},
    )


def import_history(
    store: Store,
    folder: str,
    *,
    title: str,
    operator: str,
    hazard: Hazard | None = None,
    add_unknown: bool = False,
) -> HistoryImport:
    """Read ``folder``, match it to the master, and write it as a closed live incident.

    Raises
    ------
    ImportFileError
        Any problem in any file or row (with its file, row and line); nothing is written.
    DisasterDxError
        A live incident with this title exists already (import it once), or no shelter of
        the publications is known.
    """
    title = title.strip()
    if not title:
        raise DisasterDxError("the disaster needs a name (--name 令和6年能登半島地震)")
    same = [i for i in store.incidents(kind=IncidentKind.LIVE) if i.title == title]
    if same:
        raise DisasterDxError(
            f"a live incident 「{title}」 exists already ({same[0].incident_id}); "
            "give the imported record another name"
        )
    series = snapshots_from_folder(folder)
    active = {s.shelter_id for s in store.shelters()}
    plan = plan_history(
        series, store.shelters(include_inactive=True), active=active, add_unknown=add_unknown
    )
    if not plan.events:
        raise DisasterDxError(
            "no shelter of these publications is in the master, so there is nothing to record "
            "(import the city's shelters first, or use --add-unknown)"
        )
    if plan.new_shelters:
        # The master is reference data with its own import log; added sites go in first, so
        # no event ever names a site the master lacks (if the incident write then fails, the
        # sites stay, listed in this import's note).
        store.add_past_shelters(
            plan.new_shelters,
            source=f"history import {series.folder}",
            actor=operator,
            notes=[f"added from the published snapshots of 「{title}」"],
        )
    incident = write_closed_incident(
        store, title, plan.events, operator=operator, hazard=hazard, detail=_audit_detail(plan)
    )
    log.info(
        "history %s imported by %s: %d events", incident.incident_id, operator, len(plan.events)
    )
    return HistoryImport(incident, plan)


def _audit_detail(plan: HistoryPlan) -> dict[str, object]:
    return {
        "folder": plan.series.folder,
        "files": [s.file for s in plan.series.snapshots][:200],
        "publications": len(plan.series.snapshots),
        "events": len(plan.events),
        "matched": len(plan.matched),
        "unknown": len(plan.unknown),
        "added": [s.shelter_id for s in plan.new_shelters],
        "renames": len(plan.renames),
    }


def write_closed_incident(
    store: Store,
    title: str,
    timed_events: Sequence[tuple[datetime, NewEvent]],
    *,
    operator: str,
    hazard: Hazard | None = None,
    detail: Mapping[str, object] | None = None,
) -> Incident:
    """Write a past live incident, already closed, with events at their own times.

    One transaction: the incident row (opened at the first event, closed at the last), every
    event (``seq`` 1…n, times never running backwards) and the audit entry naming the
    operator. No append listener runs — a record of the past is not news for LINE or the
    public page — and the replay snapshots are built afterwards (derived data).
    """
    if not timed_events:
        raise DisasterDxError("a past incident needs at least one event")
    times = [at for at, _ in timed_events]
    if any(at.tzinfo is None for at in times):
        raise DisasterDxError("event times need a time zone")
    if any(later < earlier for earlier, later in itertools.pairwise(times)):
        raise DisasterDxError("events must be in time order")
    cleaned = [NewEvent(e.type, validate_payload(e.type, e.payload)) for _, e in timed_events]
    actor = history_actor(operator)
    first, last = times[0], times[-1]
    incident_id = f"{IncidentKind.LIVE.value}-{to_jst(first):%Y%m%d}-{uuid.uuid4().hex[:8]}"
    rows = [
        {
            "incident_id": incident_id,
            "seq": seq,
            "at": at,
            "actor": actor,
            "type": event.type,
            "subject": event.subject,
            "payload": dict(event.payload),
        }
        for seq, (at, event) in enumerate(zip(times, cleaned, strict=True), start=1)
    ]
    with store._write() as conn:
        taken = conn.execute(
            select(incidents.c.incident_id).where(
                incidents.c.kind == IncidentKind.LIVE.value, incidents.c.title == title
            )
        ).first()
        if taken is not None:  # another import of the same name got there first
            raise DisasterDxError(f"a live incident 「{title}」 exists already ({taken[0]})")
        conn.execute(
            insert(incidents).values(
                incident_id=incident_id,
                kind=IncidentKind.LIVE.value,
                title=title,
                created_at=first,
                created_by=operator,
                closed_at=last,
                closed_by=operator,
                last_seq=len(rows),
                last_at=last,
                show_on_public=False,
                named=True,
                hazard=None if hazard is None else hazard.value,
                started_at=first,
            )
        )
        for start in range(0, len(rows), INSERT_CHUNK):
            conn.execute(insert(events_table), rows[start : start + INSERT_CHUNK])
        conn.execute(
            insert(audit_table).values(
                at=store.clock(),
                actor=operator,
                action="history.imported",
                target=incident_id,
                detail={"title": title, **dict(detail or {})},
            )
        )
    store.projection.build_snapshots(incident_id)
    return store.incident(incident_id)
