"""The reference tables: the shelter master (and its import history), the city, its areas.

A mixin of :class:`~disaster_dx.store.Store`. The shelter master is replaced whole by an
import, in one transaction, and never loses a site (absent ones become inactive: past events
still name them); each import is logged in ``imports`` with a per-site ``shelter_history``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from disaster_dx.areas import Area, area_from_row, area_to_row
from disaster_dx.city import NANKOKU_CODE, City, city_for_code
from disaster_dx.errors import DisasterDxError, NotFoundError
from disaster_dx.model import Hazard, Shelter, ShelterKind
from disaster_dx.store.audit import AuditMixin
from disaster_dx.store.tables import (
    areas_table,
    city_table,
    imports,
    shelter_history,
    shelters_table,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportReport:
    """What a shelter-master import changed."""

    import_id: int
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0

    def summary(self) -> str:
        """One line for the CLI and the log."""
        return (
            f"added {len(self.added)}, changed {len(self.changed)}, "
            f"removed {len(self.removed)}, unchanged {self.unchanged}"
        )


class ReferenceDataMixin(AuditMixin):
    """Shelters, the city (code, name, outline) and its areas; outline changes are audited."""

    #: The recorded city, read once (:meth:`city`); set by :class:`~disaster_dx.store.Store`.
    _city: City | None

    def replace_shelters(
        self,
        shelters: Sequence[Shelter],
        *,
        source: str,
        actor: str,
        sha256: str = "",
        notes: Sequence[str] = (),
    ) -> ImportReport:
        """Make ``shelters`` the city's shelter master, in one transaction.

        Shelters absent from the new list are marked inactive (never deleted: past events
        still refer to them). An existing site keeps its id when the new data lists any of its
        共通IDs, so events stay attached across re-imports. If anything fails, the previous
        master is untouched.
        """
        ids = [s.shelter_id for s in shelters]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise DisasterDxError(f"duplicate shelter ids in import: {', '.join(duplicates)}")
        now = self.clock()
        with self._write() as conn:
            if self.dialect == "postgresql":
                # Two workers importing at once (first start) queue here instead of colliding.
                conn.exec_driver_sql("LOCK TABLE shelters IN SHARE ROW EXCLUSIVE MODE")
            existing = {
                r.shelter_id: dict(r._mapping) for r in conn.execute(select(shelters_table))
            }
            by_gsi_id = {
                gid: sid for sid, row in existing.items() if row["active"] for gid in row["gsi_ids"]
            }
            import_id = _record_import(
                conn, "shelters", source=source, sha256=sha256, at=now, actor=actor, notes=notes
            )
            report_added: list[str] = []
            report_changed: list[str] = []
            unchanged = 0
            seen: set[str] = set()
            for shelter in shelters:
                sid = next(
                    (by_gsi_id[g] for g in shelter.gsi_ids if g in by_gsi_id),
                    shelter.shelter_id,
                )
                if sid in seen:
                    sid = shelter.shelter_id
                seen.add(sid)
                row = _shelter_row(shelter, sid)
                before = existing.get(sid)
                if before is None:
                    conn.execute(insert(shelters_table).values(**row, import_id=import_id))
                    report_added.append(sid)
                    _history(conn, import_id, sid, "added", None, row)
                elif _comparable(before) != row:
                    conn.execute(
                        update(shelters_table)
                        .where(shelters_table.c.shelter_id == sid)
                        .values(**row, import_id=import_id)
                    )
                    report_changed.append(sid)
                    _history(conn, import_id, sid, "changed", _comparable(before), row)
                else:
                    unchanged += 1
            removed = sorted(sid for sid, r in existing.items() if r["active"] and sid not in seen)
            for sid in removed:
                conn.execute(
                    update(shelters_table)
                    .where(shelters_table.c.shelter_id == sid)
                    .values(active=False, import_id=import_id)
                )
                _history(conn, import_id, sid, "removed", _comparable(existing[sid]), None)
            conn.execute(
                update(imports)
                .where(imports.c.import_id == import_id)
                .values(added=len(report_added), changed=len(report_changed), removed=len(removed))
            )
        report = ImportReport(import_id, report_added, report_changed, removed, unchanged)
        log.info("shelter import %s from %s by %s: %s", import_id, source, actor, report.summary())
        return report

    def add_past_shelters(
        self, shelters: Sequence[Shelter], *, source: str, actor: str, notes: Sequence[str] = ()
    ) -> ImportReport:
        """Add sites known only from a past record (a history import), as *inactive* sites.

        Events of the record may name them and its replay finds them, but they never appear
        on today's maps, public page or LINE answers: a site a city published during a past
        disaster is not a designated shelter now. Refused whole if any id exists already.
        """
        with self._write() as conn:
            ids = [s.shelter_id for s in shelters]
            taken = sorted(
                conn.execute(
                    select(shelters_table.c.shelter_id).where(shelters_table.c.shelter_id.in_(ids))
                ).scalars()
            )
            if taken or len(set(ids)) != len(ids):
                clash = taken or sorted({i for i in ids if ids.count(i) > 1})
                raise DisasterDxError(f"shelter ids already in use: {', '.join(clash)}")
            import_id = _record_import(
                conn,
                "shelters",
                source=source,
                at=self.clock(),
                actor=actor,
                added=len(shelters),
                notes=notes,
            )
            for shelter in shelters:
                row = {**_shelter_row(shelter, shelter.shelter_id), "active": False}
                conn.execute(insert(shelters_table).values(**row, import_id=import_id))
                _history(conn, import_id, shelter.shelter_id, "added", None, row)
        report = ImportReport(import_id, ids, [], [], 0)
        log.info("past sites added from %s by %s: %s", source, actor, report.summary())
        return report

    def shelters(self, *, include_inactive: bool = False) -> list[Shelter]:
        """The shelter master, ordered by id."""
        query = select(shelters_table).order_by(shelters_table.c.shelter_id)
        if not include_inactive:
            query = query.where(shelters_table.c.active.is_(True))
        with self._read() as conn:
            return [_shelter(r._mapping) for r in conn.execute(query)]

    def shelter(self, shelter_id: str) -> Shelter:
        """One shelter of the master (active or not), or :class:`NotFoundError`."""
        with self._read() as conn:
            row = conn.execute(
                select(shelters_table).where(shelters_table.c.shelter_id == shelter_id)
            ).one_or_none()
        if row is None:
            raise NotFoundError(f"no shelter {shelter_id!r}")
        return _shelter(row._mapping)

    def city(self) -> City:
        """The city this database serves (recorded at ``init``).

        南国市 for a database from before cities were recorded, which were all Nankoku's.
        """
        if self._city is None:
            with self._read() as conn:
                row = conn.execute(select(city_table)).first()
            self._city = (
                city_for_code(row.code, name_en=row.name_en)
                if row is not None
                else city_for_code(NANKOKU_CODE)
            )
        return self._city

    def recorded_city_code(self) -> str | None:
        """The code ``init`` recorded, or ``None`` for a database that has none yet."""
        with self._read() as conn:
            row = conn.execute(select(city_table.c.code)).first()
        return None if row is None else str(row.code)

    def set_city(self, city: City, *, actor: str) -> None:
        """Record the city once; a database set up for another city is refused, never renamed.

        Raises
        ------
        DisasterDxError
            When the database already serves a different city (its events, shelters and
            reports belong to that city).
        """
        with self._write() as conn:
            if self.dialect == "postgresql":
                # Workers starting together: one records the city, the others then read it.
                conn.exec_driver_sql("LOCK TABLE city IN SHARE ROW EXCLUSIVE MODE")
            row = conn.execute(select(city_table)).first()
            if row is None:
                conn.execute(
                    insert(city_table).values(
                        code=city.code, name_en=city.name_en, set_at=self.clock(), set_by=actor
                    )
                )
                log.info("city %s %s recorded by %s", city.code, city.name, actor)
            elif row.code != city.code:
                recorded = city_for_code(row.code)
                raise DisasterDxError(
                    f"this database serves {recorded.full_name} ({recorded.code}), not "
                    f"{city.full_name} ({city.code}): use another DATABASE_URL for another city"
                )
            elif row.name_en != city.name_en:
                conn.execute(update(city_table).values(name_en=city.name_en))
        self._city = city

    def city_outline(self) -> dict[str, Any] | None:
        """The city's outline geometry (GeoJSON), or ``None`` until one is imported."""
        with self._read() as conn:
            row = conn.execute(select(city_table.c.outline)).first()
        return None if row is None or row.outline is None else dict(row.outline)

    def set_city_outline(self, geometry: Mapping[str, Any], *, source: str, actor: str) -> None:
        """Store the city's outline (``import-boundary``); the city must be recorded first."""
        with self._write() as conn:
            done = conn.execute(
                update(city_table).values(outline=dict(geometry), outline_source=source)
            ).rowcount
        if not done:
            raise DisasterDxError("no city recorded yet: run `disaster-dx init --city CODE` first")
        self.audit(actor, "city.outline", target=self.city().code, detail={"source": source})

    def replace_areas(
        self, areas: Sequence[Area], *, source: str, actor: str, if_empty: bool = False
    ) -> int:
        """Make ``areas`` the city's areas for 避難情報, in one transaction; returns the count.

        The whole list is replaced (a city's own 地区 file replaces the bundled 全域-only
        list); 避難情報 already issued keep the area ids they named. ``if_empty``: only when
        there are none yet (first start of several workers at once: one writes; returns 0
        for the others).
        """
        ids = [a.area_id for a in areas]
        if len(set(ids)) != len(ids):
            raise DisasterDxError("an area id appears twice")
        if not areas:
            raise DisasterDxError("an area list needs at least one area")
        with self._write() as conn:
            if self.dialect == "postgresql":
                conn.exec_driver_sql("LOCK TABLE areas IN SHARE ROW EXCLUSIVE MODE")
            if if_empty and conn.execute(select(areas_table.c.area_id).limit(1)).first():
                return 0
            import_id = _record_import(
                conn, "areas", source=source, at=self.clock(), actor=actor, added=len(areas)
            )
            conn.execute(areas_table.delete())
            conn.execute(
                insert(areas_table),
                [
                    {**area_to_row(a), "position": n, "import_id": import_id}
                    for n, a in enumerate(areas)
                ],
            )
        log.info("areas from %s by %s: %d", source, actor, len(areas))
        return len(areas)

    def areas(self) -> list[Area]:
        """The city's areas in their file's order (empty before any is loaded)."""
        with self._read() as conn:
            rows = conn.execute(select(areas_table).order_by(areas_table.c.position))
            return [area_from_row(r._mapping) for r in rows]

    def import_history(self, *, kind: str = "shelters") -> list[dict[str, Any]]:
        """Past imports, newest first (who, when, from where, what changed)."""
        with self._read() as conn:
            rows = conn.execute(
                select(imports).where(imports.c.kind == kind).order_by(imports.c.import_id.desc())
            )
            return [dict(r._mapping) for r in rows]


def read_city(conn: Connection) -> City:
    """The recorded city, read on a connection already open (inside another transaction)."""
    row = conn.execute(select(city_table)).first()
    if row is None:
        return city_for_code(NANKOKU_CODE)
    return city_for_code(row.code, name_en=row.name_en)


def _record_import(
    conn: Connection,
    kind: str,
    *,
    source: str,
    at: datetime,
    actor: str,
    sha256: str = "",
    added: int = 0,
    notes: Sequence[str] = (),
) -> int:
    """One row of the import log (who, when, from where); its id for the rows it explains."""
    inserted = conn.execute(
        insert(imports).values(
            kind=kind,
            source=source,
            sha256=sha256,
            imported_at=at,
            actor=actor,
            added=added,
            changed=0,
            removed=0,
            notes=list(notes),
        )
    ).inserted_primary_key
    assert inserted is not None  # every INSERT of a row with an id returns it
    return int(inserted[0])


def _shelter_row(shelter: Shelter, shelter_id: str) -> dict[str, Any]:
    return {
        "shelter_id": shelter_id,
        "name": shelter.name,
        "address": shelter.address,
        "lon": float(shelter.lon),
        "lat": float(shelter.lat),
        "kinds": sorted(k.value for k in shelter.kinds),
        "hazards": sorted(h.value for h in shelter.hazards),
        "gsi_ids": list(shelter.gsi_ids),
        "capacity": shelter.capacity,
        "municipality_code": shelter.municipality_code,
        "source": json.loads(json.dumps(shelter.source, ensure_ascii=False, default=str)),
        "active": True,
    }


def _comparable(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in _shelter_row_keys}


_shelter_row_keys = (
    "shelter_id",
    "name",
    "address",
    "lon",
    "lat",
    "kinds",
    "hazards",
    "gsi_ids",
    "capacity",
    "municipality_code",
    "source",
    "active",
)


def _history(
    conn: Connection,
    import_id: int,
    shelter_id: str,
    change: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
) -> None:
    conn.execute(
        insert(shelter_history).values(
            import_id=import_id,
            shelter_id=shelter_id,
            change=change,
            before=dict(before) if before else None,
            after=dict(after) if after else None,
        )
    )


def _shelter(row: Mapping[Any, Any]) -> Shelter:
    return Shelter(
        shelter_id=row["shelter_id"],
        name=row["name"],
        address=row["address"],
        lon=row["lon"],
        lat=row["lat"],
        kinds=frozenset(ShelterKind(k) for k in row["kinds"]),
        hazards=frozenset(Hazard(h) for h in row["hazards"]),
        gsi_ids=tuple(row["gsi_ids"]),
        capacity=row["capacity"],
        municipality_code=row["municipality_code"],
        source=row["source"],
    )
