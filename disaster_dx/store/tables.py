"""The store's own tables (SQLAlchemy Core ``metadata``) and the row converters shared by its parts.

Kept apart from the :class:`~disaster_dx.store.Store` class so modules with tables of their own
(plans, cameras, LINE, drills) can name ``UTCDateTime`` and read ``events`` rows
(:func:`event_from_row`) the same way the store does, and so Alembic's table registry
(:func:`disaster_dx.migrations.all_metadata`) finds every table in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator

from disaster_dx.events import Event, subject_of


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both engines (SQLite has no time zones, PostgreSQL has)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Refuse naive times; store UTC (naive on SQLite, which has no time zones)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store only takes aware UTC times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Give back aware UTC times whatever the engine returned."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

incidents = Table(
    "incidents",
    metadata,
    Column("incident_id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("title", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("closed_at", UTCDateTime),
    Column("last_seq", Integer, nullable=False, default=0),
    Column("last_at", UTCDateTime),
    Column("show_on_public", Boolean, nullable=False, default=False),
    # A live incident HQ has named (「令和8年 台風第10号」): its hazard kind and start.
    Column("named", Boolean, nullable=False, default=False, server_default="0"),
    Column("hazard", String(32)),
    Column("started_at", UTCDateTime),
    Column("closed_by", String(64)),
)

events_table = Table(
    "events",
    metadata,
    Column("incident_id", String(64), ForeignKey("incidents.incident_id"), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("type", String(64), nullable=False),
    Column("subject", String(200)),
    Column("payload", JSON, nullable=False),
    Index("ix_events_subject", "incident_id", "subject", "seq"),
    Index("ix_events_at", "incident_id", "at"),
    # Reads of one kind of event (the outside-shelter chart, drill controls, scripted cameras,
    # fired injects, warnings) and the event log filtered by type or by user walk these in
    # ``seq`` order and stop at their LIMIT instead of scanning the whole incident.
    Index("ix_events_type", "incident_id", "type", "seq"),
    Index("ix_events_actor", "incident_id", "actor", "seq"),
)

imports = Table(
    "imports",
    metadata,
    Column("import_id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("source", Text, nullable=False),
    Column("sha256", String(64), nullable=False, default=""),
    Column("imported_at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("added", Integer, nullable=False),
    Column("changed", Integer, nullable=False),
    Column("removed", Integer, nullable=False),
    Column("notes", JSON, nullable=False),
)

shelters_table = Table(
    "shelters",
    metadata,
    Column("shelter_id", String(64), primary_key=True),
    Column("name", String(300), nullable=False),
    Column("address", String(500), nullable=False),
    Column("lon", Float, nullable=False),
    Column("lat", Float, nullable=False),
    Column("kinds", JSON, nullable=False),
    Column("hazards", JSON, nullable=False),
    Column("gsi_ids", JSON, nullable=False),
    Column("capacity", Integer),
    Column("municipality_code", String(8), nullable=False, default=""),
    Column("source", JSON, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("import_id", Integer, ForeignKey("imports.import_id"), nullable=False),
)

shelter_history = Table(
    "shelter_history",
    metadata,
    Column("import_id", Integer, ForeignKey("imports.import_id"), primary_key=True),
    Column("shelter_id", String(64), primary_key=True),
    Column("change", String(16), nullable=False),
    Column("before", JSON),
    Column("after", JSON),
)

users_table = Table(
    "users",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("display_name", String(200), nullable=False, default=""),
    Column("password_hash", String(300), nullable=False),
    Column("roles", JSON, nullable=False),
    Column("shelter_ids", JSON, nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(64), nullable=False),
    # Raised to end every session of the user at once (logout, password, roles, disable).
    Column("session_generation", Integer, nullable=False, default=0, server_default="0"),
)

areas_table = Table(
    "areas",
    metadata,
    Column("area_id", String(64), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("name", String(200), nullable=False),
    Column("name_en", String(200), nullable=False, default=""),
    Column("name_easy", String(200), nullable=False, default=""),
    Column("whole_city", Boolean, nullable=False, default=False),
    Column("geometry", JSON),
    Column("shelter_ids", JSON, nullable=False),
    Column("source", Text, nullable=False, default=""),
    Column("import_id", Integer, ForeignKey("imports.import_id"), nullable=False),
)

# The city this database serves (one row), recorded by ``disaster-dx init --city CODE`` so every
# worker and command names the same city; names come from the bundled official list.
city_table = Table(
    "city",
    metadata,
    Column("code", String(6), primary_key=True),
    Column("name_en", String(200), nullable=False, default=""),
    # The city's outline (国土数値情報 N03 GeoJSON geometry, lon/lat) once imported.
    Column("outline", JSON),
    Column("outline_source", Text, nullable=False, default=""),
    Column("set_at", UTCDateTime, nullable=False),
    Column("set_by", String(64), nullable=False),
)

audit_table = Table(
    "audit_log",
    metadata,
    Column("audit_id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(200), nullable=False, default=""),
    Column("detail", JSON, nullable=False),
    Index("ix_audit_actor_at", "actor", "at"),
)


def event_from_row(row: Mapping[Any, Any]) -> Event:
    """An :class:`Event` from a row of the events table (for modules reading it themselves)."""
    return Event(
        incident_id=row["incident_id"],
        seq=row["seq"],
        at=row["at"],
        actor=row["actor"],
        type=row["type"],
        payload=row["payload"],
        subject=row["subject"],
    )


def subject_for_shelter(shelter_id: str) -> str:
    """The event-log subject of a shelter, as used in ``expected`` versions."""
    return subject_of("shelter.status_reported", {"shelter_id": shelter_id}) or ""
