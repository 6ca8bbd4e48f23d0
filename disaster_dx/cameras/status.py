"""Camera tables, the registry copy in the database, each camera's status and health, and leases."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    Integer,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection

from disaster_dx import leases
from disaster_dx.cameras.frames import (  # every camera table, created by create_camera_tables
    camera_metadata,
)
from disaster_dx.cameras.registry import (
    Camera,
    CameraRegistry,
)
from disaster_dx.cameras.vocabulary import (
    FeedErrorKind,
    Health,
)
from disaster_dx.events import utcnow
from disaster_dx.store import Store, UTCDateTime

log = logging.getLogger("disaster_dx.cameras")  # one logger for the whole package

# ---------------------------------------------------------------------------------------------
# Database tables (this module's own metadata; created by create_camera_tables)
# ---------------------------------------------------------------------------------------------

camera_registry_table = Table(
    "camera_registry",
    camera_metadata,
    Column("camera_id", String(32), primary_key=True),
    Column("name_ja", String(200), nullable=False),
    Column("name_en", String(200), nullable=False),
    Column("lon", Float, nullable=False),
    Column("lat", Float, nullable=False),
    Column("height_m", Float, nullable=False),
    Column("heading_deg", Float, nullable=False),
    Column("fov_deg", Float, nullable=False),
    Column("range_m", Float, nullable=False),
    Column("poll_interval_s", Float, nullable=False),
    Column("public", Boolean, nullable=False),
    Column("feed_kind", String(32), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(64), nullable=False),
)

camera_status_table = Table(
    "camera_status",
    camera_metadata,
    Column("camera_id", String(32), primary_key=True),
    Column("polling_since", UTCDateTime),
    Column("last_attempt_at", UTCDateTime),
    Column("last_frame_at", UTCDateTime),
    Column("last_frame_key", String(32)),
    Column("last_error_kind", String(32)),
    Column("last_error", Text),
    Column("last_error_at", UTCDateTime),
    Column("failures", Integer, nullable=False, default=0),
    Column("holder", String(200)),
    Column("updated_at", UTCDateTime, nullable=False),
    # The feed's condition as last decided ("ok", "failed", "frozen"): transitions are
    # derived from this stored value, never from a poller's memory, so a restart or a lease
    # handover neither loses nor repeats one.
    Column("condition", String(16)),
    # Transitions decided so far; each event carries its number, so one left unlogged by a
    # crash is logged once by whoever polls the camera next (``pending_events``).
    Column("transitions", Integer, nullable=False, default=0, server_default="0"),
    Column("pending_events", JSON),
    # Frozen-picture detection: digest of the newest picture, how many polls in a row and
    # since when it has been the same.
    Column("content_digest", String(64)),
    Column("same_count", Integer, nullable=False, default=0, server_default="0"),
    Column("same_since", UTCDateTime),
)

#: Lease names of cameras (``disaster_dx.leases``): one poller per camera.
LEASE_PREFIX = "camera:"

_EPOCH = leases.EPOCH


def create_camera_tables(store: Store) -> None:
    """Create the camera tables (and the lease table) if missing; idempotent and race-safe."""
    store.create_tables(camera_metadata)
    leases.create_lease_table(store)


def sync_registry(store: Store, registry: CameraRegistry, *, actor: str) -> list[str]:
    """Make ``registry`` the cameras the database knows (no URLs, no credentials stored).

    Cameras missing from the new registry are marked inactive, never deleted (past frames and
    events name them). Returns the ids that were added or changed.
    """
    now = utcnow()
    changed: list[str] = []
    with store._write() as conn:
        if store.dialect == "postgresql":
            conn.exec_driver_sql("LOCK TABLE camera_registry IN SHARE ROW EXCLUSIVE MODE")
        existing = {
            r.camera_id: dict(r._mapping) for r in conn.execute(select(camera_registry_table))
        }
        for camera in registry.cameras:
            row = _registry_row(camera)
            before = existing.get(camera.camera_id)
            if before is None:
                conn.execute(
                    insert(camera_registry_table).values(**row, updated_at=now, updated_by=actor)
                )
                changed.append(camera.camera_id)
            elif any(before[k] != v for k, v in row.items()):
                conn.execute(
                    update(camera_registry_table)
                    .where(camera_registry_table.c.camera_id == camera.camera_id)
                    .values(**row, updated_at=now, updated_by=actor)
                )
                changed.append(camera.camera_id)
        gone = [cid for cid, r in existing.items() if r["active"] and cid not in registry.ids]
        if gone:
            conn.execute(
                update(camera_registry_table)
                .where(camera_registry_table.c.camera_id.in_(gone))
                .values(active=False, updated_at=now, updated_by=actor)
            )
    if changed or gone:
        log.info(
            "camera registry from %s by %s: %d added or changed, %d retired",
            registry.source or "(memory)",
            actor,
            len(changed),
            len(gone),
        )
    return changed


def _registry_row(camera: Camera) -> dict[str, Any]:
    return {
        "camera_id": camera.camera_id,
        "name_ja": camera.name_ja,
        "name_en": camera.name_en,
        "lon": camera.lon,
        "lat": camera.lat,
        "height_m": camera.height_m,
        "heading_deg": camera.heading_deg,
        "fov_deg": camera.fov_deg,
        "range_m": camera.range_m,
        "poll_interval_s": camera.poll_interval_s,
        "public": camera.public,
        "feed_kind": camera.feed_kind,
        "active": True,
    }


def registered_cameras(store: Store) -> list[Camera]:
    """The active cameras as the database knows them (no feed addresses), ordered by id."""
    query = (
        select(camera_registry_table)
        .where(camera_registry_table.c.active.is_(True))
        .order_by(camera_registry_table.c.camera_id)
    )
    with store._read() as conn:
        rows = [r._mapping for r in conn.execute(query)]
    return [
        Camera(
            camera_id=r["camera_id"],
            name_ja=r["name_ja"],
            name_en=r["name_en"],
            lon=r["lon"],
            lat=r["lat"],
            height_m=r["height_m"],
            heading_deg=r["heading_deg"],
            fov_deg=r["fov_deg"],
            range_m=r["range_m"],
            poll_interval_s=r["poll_interval_s"],
            public=bool(r["public"]),
            feed_kind=r["feed_kind"],
        )
        for r in rows
    ]


@dataclass(frozen=True)
class CameraStatus:
    """What the poller last recorded about a camera (health is computed from it when read)."""

    camera_id: str
    polling_since: datetime | None = None
    last_attempt_at: datetime | None = None
    last_frame_at: datetime | None = None
    last_frame_key: str | None = None
    last_error_kind: FeedErrorKind | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    failures: int = 0
    holder: str | None = None
    condition: str | None = None
    same_count: int = 0
    same_since: datetime | None = None


def camera_statuses(store: Store) -> dict[str, CameraStatus]:
    """Every camera's recorded status, by camera id."""
    with store._read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(camera_status_table))]
    return {r["camera_id"]: _status(r) for r in rows}


def _status(row: Mapping[str, Any]) -> CameraStatus:
    kind = row["last_error_kind"]
    return CameraStatus(
        camera_id=row["camera_id"],
        polling_since=row["polling_since"],
        last_attempt_at=row["last_attempt_at"],
        last_frame_at=row["last_frame_at"],
        last_frame_key=row["last_frame_key"],
        last_error_kind=FeedErrorKind(kind) if kind in FeedErrorKind._value2member_map_ else None,
        last_error=row["last_error"],
        last_error_at=row["last_error_at"],
        failures=int(row["failures"] or 0),
        holder=row["holder"],
        condition=row.get("condition"),
        same_count=int(row.get("same_count") or 0),
        same_since=row.get("same_since"),
    )


def health_of(
    camera: Camera,
    status: CameraStatus | None,
    now: datetime,
    *,
    stale_factor: float = 3.0,
    offline_factor: float = 10.0,
) -> Health:
    """正常 / 映像が静止 / 遅延 / 停止 (or 未確認) from the age of the newest frame.

    A camera is 正常 while its newest frame is at most ``stale_factor`` × its interval old,
    遅延 up to ``offline_factor`` × interval, then 停止. Before its first frame the clock starts
    when a poller took it on (未確認 meanwhile). A camera sending the same picture on time is
    映像が静止 (the poller's stored ``condition``); a late one is 遅延 or 停止 whatever it
    last sent. Computing this when read, rather than having
    the poller store it, means a crashed poller makes its cameras go stale on their own.
    """
    if status is None or (status.last_frame_at is None and status.polling_since is None):
        return Health.UNKNOWN
    reference = status.last_frame_at or status.polling_since
    assert reference is not None
    age = (now - reference).total_seconds()
    interval = camera.poll_interval_s
    if age <= stale_factor * interval:
        if status.last_frame_at is None:
            return Health.UNKNOWN
        # Pictures arrive on time but show the same thing: the poller decided so (stored).
        return Health.FROZEN if status.condition == "frozen" else Health.ONLINE
    if age <= offline_factor * interval:
        return Health.STALE
    return Health.OFFLINE


def age_label(seconds: float | None, lang: str = "ja") -> str:
    """``12秒前`` / ``3分前`` / ``2時間前`` (or English), for a frame's age; ``""`` if None."""
    if seconds is None:
        return ""
    value = max(0, int(seconds))
    for size, ja, en in (
        (86400, "日前", "d ago"),
        (3600, "時間前", "h ago"),
        (60, "分前", "min ago"),
    ):
        if value >= size:
            count = value // size
            return f"{count} {en}" if lang == "en" else f"{count}{ja}"
    return f"{value} s ago" if lang == "en" else f"{value}秒前"


# ---------------------------------------------------------------------------------------------
# Leases: exactly one poller per camera across workers and hosts
# ---------------------------------------------------------------------------------------------


def acquire_leases(
    store: Store, camera_ids: Sequence[str], holder: str, now: datetime, *, ttl: timedelta
) -> set[str]:
    """Claim or renew cameras for ``holder``; returns the camera ids it holds afterwards.

    A camera is taken when nobody polls it or its poller's lease has run out; the claim of
    all of them is one transaction (see :mod:`disaster_dx.leases`), so two pollers never
    both see a camera as free.
    """
    names = [LEASE_PREFIX + c for c in camera_ids]
    held = leases.acquire(store, names, holder, now, ttl=ttl)
    return {name.removeprefix(LEASE_PREFIX) for name in held}


def release_leases(store: Store, holder: str) -> None:
    """Give up every camera ``holder`` polls, so another poller takes over at once."""
    leases.release(store, holder, prefix=LEASE_PREFIX)


def lease_holders(store: Store) -> dict[str, str | None]:
    """Who polls each camera now (for the CLI and tests)."""
    return {
        name.removeprefix(LEASE_PREFIX): lease.holder
        for name, lease in leases.leases(store, prefix=LEASE_PREFIX).items()
    }


def _holds(conn: Connection, camera_id: str, holder: str) -> bool:
    return leases.holds(conn, LEASE_PREFIX + camera_id, holder)
