"""The :class:`Store` itself: construction, the schema, and incidents (live disasters and drills).

:class:`Store` is composed of its parts: :class:`~disaster_dx.store.base.StoreBase`
(connections and transactions), :class:`~disaster_dx.store.event_log.EventLogMixin`,
:class:`~disaster_dx.store.reference.ReferenceDataMixin` and
:class:`~disaster_dx.store.audit.AuditMixin`. Incidents stay here because every part refers to
them, and the projection and migrations are imported inside the methods that use them: both
import the store.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update

from disaster_dx.errors import DisasterDxError, NotFoundError
from disaster_dx.events import utcnow
from disaster_dx.model import Hazard, IncidentKind
from disaster_dx.store.base import Clock
from disaster_dx.store.engine import _make_engine
from disaster_dx.store.event_log import EventLogMixin
from disaster_dx.store.reference import ReferenceDataMixin
from disaster_dx.store.tables import incidents

if TYPE_CHECKING:
    from disaster_dx.migrations import SchemaChange

log = logging.getLogger(__name__)

#: The title of a live incident before HQ names it is ``City.hq_title`` (「七尾市 災害対策本部」).


@dataclass(frozen=True)
class Incident:
    """A live disaster or a drill; every event belongs to exactly one."""

    incident_id: str
    kind: IncidentKind
    title: str
    created_at: datetime
    created_by: str
    closed_at: datetime | None
    last_seq: int
    last_at: datetime | None
    show_on_public: bool = False
    named: bool = False
    hazard: Hazard | None = None
    started_at: datetime | None = None
    closed_by: str | None = None

    @property
    def is_drill(self) -> bool:
        """Drill events never reach live state or the public page."""
        return self.kind is IncidentKind.DRILL


class Store(EventLogMixin, ReferenceDataMixin):
    """Access to one database; cheap to share, one per process (holds a connection pool).

    Parameters
    ----------
    url
        SQLAlchemy URL: ``sqlite:///path.sqlite3`` or ``postgresql+psycopg://user@host/db``.
    schema
        PostgreSQL schema to use (tests use a fresh one per run); ignored on SQLite.
    clock
        Source of "now" for event times; drills and tests inject their own.
    """

    def __init__(self, url: str, *, schema: str | None = None, clock: Clock = utcnow) -> None:
        self.url = url
        self.schema = schema
        self.clock = clock
        self.engine = _make_engine(url, schema=schema)
        self._listeners = []
        # The projection builds on the store (it reads events and snapshots through it), so
        # the store imports it here rather than at module level.
        from disaster_dx.projection import StateProjection

        self.projection = StateProjection(self)
        self._city = None

    def create_schema(self) -> SchemaChange:
        """Create the schema on an empty database, or upgrade it to the newest revision.

        Every module's tables, under Alembic (:mod:`disaster_dx.migrations`); safe to call on
        every start and from several workers at once.
        """
        from disaster_dx.migrations import create_or_upgrade  # it imports every module's tables

        return create_or_upgrade(self)

    # -- incidents ----------------------------------------------------------------------------

    def create_incident(
        self,
        title: str,
        *,
        kind: IncidentKind = IncidentKind.LIVE,
        actor: str,
        incident_id: str | None = None,
        show_on_public: bool = False,
    ) -> Incident:
        """Open a new incident (a live disaster or a drill).

        ``show_on_public`` (drills): while it is open, the public page says a drill is under
        way — only that; none of the drill's data ever reaches the public page.
        """
        if not title.strip():
            raise DisasterDxError("an incident needs a title")
        now = self.clock()
        new_id = incident_id or f"{kind.value}-{now:%Y%m%d}-{uuid.uuid4().hex[:8]}"
        with self._write() as conn:
            conn.execute(
                insert(incidents).values(
                    incident_id=new_id,
                    kind=kind.value,
                    title=title.strip(),
                    created_at=now,
                    created_by=actor,
                    last_seq=0,
                    show_on_public=show_on_public,
                )
            )
        log.info("incident %s (%s) opened by %s", new_id, kind.value, actor)
        return self.incident(new_id)

    def incident(self, incident_id: str) -> Incident:
        """One incident, or :class:`NotFoundError`."""
        with self._read() as conn:
            row = conn.execute(
                select(incidents).where(incidents.c.incident_id == incident_id)
            ).one_or_none()
        if row is None:
            raise NotFoundError(f"no incident {incident_id!r}")
        return _incident(row._mapping)

    def incidents(self, *, kind: IncidentKind | None = None) -> list[Incident]:
        """Incidents, newest first."""
        query = select(incidents).order_by(incidents.c.created_at.desc())
        if kind is not None:
            query = query.where(incidents.c.kind == kind.value)
        with self._read() as conn:
            return [_incident(r._mapping) for r in conn.execute(query)]

    def live_incident(self, *, actor: str = "system") -> Incident:
        """The open live incident HQ writes to, created on first use."""
        for found in self.incidents(kind=IncidentKind.LIVE):
            if found.closed_at is None:
                return found
        # Several app workers may start at once: check again under the write lock so only
        # one of them creates the incident (PostgreSQL needs the table lock for that).
        now = self.clock()
        new_id = f"{IncidentKind.LIVE.value}-{now:%Y%m%d}-{uuid.uuid4().hex[:8]}"
        with self._write() as conn:
            if self.dialect == "postgresql":
                conn.exec_driver_sql("LOCK TABLE incidents IN SHARE ROW EXCLUSIVE MODE")
            existing = conn.execute(
                select(incidents.c.incident_id)
                .where(incidents.c.kind == IncidentKind.LIVE.value)
                .where(incidents.c.closed_at.is_(None))
                .order_by(incidents.c.created_at.desc())
            ).first()
            if existing is None:
                conn.execute(
                    insert(incidents).values(
                        incident_id=new_id,
                        kind=IncidentKind.LIVE.value,
                        title=self.city().hq_title,
                        created_at=now,
                        created_by=actor,
                        last_seq=0,
                        show_on_public=False,
                    )
                )
                log.info("incident %s (live) opened by %s", new_id, actor)
            else:
                new_id = existing.incident_id
        return self.incident(new_id)

    def open_live_incident(
        self,
        title: str,
        *,
        actor: str,
        hazard: Hazard | None = None,
        started_at: datetime | None = None,
    ) -> Incident:
        """Name the disaster HQ is working on (「令和8年 台風第10号」): at most one is open.

        The city always has an open live incident (created unnamed on first use, so the
        public page and shelter reports work in peacetime). Opening a named incident names
        that one when it is still unnamed — its log, and every shelter already opened, stay
        — and otherwise is refused: close the open one first.
        """
        title = title.strip()
        if not title:
            raise DisasterDxError("a disaster needs a name (e.g. 令和8年 台風第10号)")
        current = self.live_incident(actor=actor)
        if current.named:
            raise DisasterDxError(
                f"「{current.title}」 is still open ({current.incident_id}); close it before "
                "opening another live incident (only one can be open at a time)"
            )
        with self._write() as conn:
            done = conn.execute(
                update(incidents)
                .where(
                    incidents.c.incident_id == current.incident_id,
                    incidents.c.closed_at.is_(None),
                    incidents.c.named.is_(False),
                )
                .values(
                    title=title,
                    named=True,
                    hazard=None if hazard is None else hazard.value,
                    started_at=started_at or self.clock(),
                )
            )
        if done.rowcount != 1:
            raise DisasterDxError("another live incident was opened at the same moment; reload")
        self.audit(actor, "incident.opened", target=current.incident_id, detail={"title": title})
        log.info("live incident %s named %r by %s", current.incident_id, title, actor)
        return self.incident(current.incident_id)

    def close_incident(self, incident_id: str, *, actor: str) -> None:
        """Close an incident: it stays readable and replayable but takes no more events."""
        with self._write() as conn:
            done = conn.execute(
                update(incidents)
                .where(incidents.c.incident_id == incident_id, incidents.c.closed_at.is_(None))
                .values(closed_at=self.clock(), closed_by=actor)
            )
        if done.rowcount != 1:
            raise NotFoundError(f"no open incident {incident_id!r}")
        log.info("incident %s closed by %s", incident_id, actor)


def _incident(row: Mapping[Any, Any]) -> Incident:
    return Incident(
        incident_id=row["incident_id"],
        kind=IncidentKind(row["kind"]),
        title=row["title"],
        created_at=row["created_at"],
        created_by=row["created_by"],
        closed_at=row["closed_at"],
        last_seq=row["last_seq"],
        last_at=row["last_at"],
        show_on_public=bool(row["show_on_public"]),
        named=bool(row["named"]),
        hazard=Hazard(row["hazard"]) if row["hazard"] else None,
        started_at=row["started_at"],
        closed_by=row["closed_by"],
    )
