"""Camera frames: the pictures on disk and their record in the ``camera_frames`` table.

A tower camera stores a picture every few seconds. Those pictures are telemetry, not HQ state:
nothing about a shelter, an area or a warning changes when one arrives. So their metadata lives
in a table of its own, one row per stored picture, and never passes through the incident log
or its fold (an earlier release appended a ``camera.frame`` event per picture to the live
incident and every open drill: ~100,000 events in four days with three cameras, slowing every
read of the live state). Only a camera's health *transitions* are incident events
(``camera.feed_failed``, ``camera.feed_recovered``, a drill's ``camera.scripted``).

Frames belong to a camera and an instant, not to an incident: the live camera wall, the replay
of the live incident and the replay of a drill all ask "the newest picture of camera X at or
before t", answered from the table's primary key ``(camera_id, captured_at)``.

- **Files** (:class:`FrameStore`): ``DATA_DIR/cameras/<camera id>/<key>.jpg``, the key being
  the capture time in UTC (``20250101T030000123456Z``), written atomically.
- **Rows** (:data:`camera_frames_table`): capture time, key, size, pixels, SHA-256, format.
  A row is written only after its file (the poller writes it in the same transaction as the
  camera's status, while it holds the camera's lease), and retention deletes rows *before*
  files, so the wall and replay never offer a picture whose file is gone — except for a moment
  while a file is being deleted, which the image route answers with 404.
- **Retention** (:func:`prune_frames`): the files decide (count and age; a camera's newest file
  is always kept), and the rows follow: every row without a kept file goes, up to the newest
  file listed (a frame stored meanwhile is never touched).

The registry and status tables are in :mod:`disaster_dx.cameras`; all camera tables share
:data:`camera_metadata` (created by ``cameras.create_camera_tables``).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, and_, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from disaster_dx._files import write_atomic
from disaster_dx.errors import Problem, ValidationError
from disaster_dx.store import Store, UTCDateTime

log = logging.getLogger(__name__)

# ``\Z``, not ``$`` (which also matches before a final newline), and ASCII digits only: these
# names become paths.
CAMERA_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}\Z")
FRAME_KEY = re.compile(r"^[0-9]{8}T[0-9]{12}Z\Z")
_FRAME_KEY_FORMAT = "%Y%m%dT%H%M%S%fZ"
_SHA256 = re.compile(r"^[0-9a-f]{64}\Z")
IMAGE_FORMATS = ("jpeg", "png")

#: The event type an earlier release wrote for every stored picture. Still registered (by
#: ``disaster_dx.cameras``) so old logs validate and render; nothing writes it any more.
CAMERA_FRAME = "camera.frame"

#: Every camera table (``camera_frames`` here; ``camera_registry``, ``camera_status`` in
#: :mod:`disaster_dx.cameras`, which re-exports this).
camera_metadata = MetaData()

#: One row per stored picture. The primary key ``(camera_id, captured_at)`` is the index of
#: both questions asked of it: the newest picture of a camera at or before an instant, and a
#: camera's pictures between two instants.
camera_frames_table = Table(
    "camera_frames",
    camera_metadata,
    Column("camera_id", String(32), primary_key=True),
    Column("captured_at", UTCDateTime, primary_key=True),
    Column("frame_key", String(32), nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("source_format", String(8), nullable=False),
)

_CHUNK = 500  # keys per DELETE … IN (…), well under every engine's parameter limit
_BATCH = 100  # rows per multi-row INSERT (8 values each: under SQLite's oldest 999 limit)


# ---------------------------------------------------------------------------------------------
# Keys and files
# ---------------------------------------------------------------------------------------------


def frame_key(moment: datetime) -> str:
    """The file-name key of a capture time, e.g. ``20250101T030000123456Z``."""
    if moment.tzinfo is None:
        raise ValueError("frame times must be aware (UTC)")
    return moment.astimezone(UTC).strftime(_FRAME_KEY_FORMAT)


def parse_frame_key(key: str) -> datetime | None:
    """The capture time of a key, or None when ``key`` is not exactly a frame key.

    Sliced rather than ``strptime``'d: retention parses every file name of a camera after each
    frame, and ``strptime`` made that listing ten times slower.
    """
    if not FRAME_KEY.match(key):
        return None
    try:
        return datetime(
            int(key[0:4]),
            int(key[4:6]),
            int(key[6:8]),
            int(key[9:11]),
            int(key[11:13]),
            int(key[13:15]),
            int(key[15:21]),
            tzinfo=UTC,
        )
    except ValueError:  # e.g. month 13
        return None


@dataclass(frozen=True)
class FrameRef:
    """One stored frame file: its key (the capture time, UTC) names it."""

    camera_id: str
    key: str
    captured_at: datetime
    path: Path


@dataclass(frozen=True)
class Retention:
    """What retention does to one camera's files: the keys it keeps, the files it deletes.

    Both oldest first; ``kept`` ends with the newest key whenever the camera has a file.
    """

    kept: list[str]
    doomed: list[FrameRef]


class FrameStore:
    """Frames on disk: ``<root>/<camera id>/<key>.jpg``, bounded by count and age.

    Only names that pass :data:`CAMERA_ID` and :data:`FRAME_KEY` ever become paths, so a
    request can never reach outside ``root``. The newest frame of a camera is always kept,
    however old, so HQ sees the last image a dead camera sent (with its age). Which frames
    exist is asked of the ``camera_frames`` table (:func:`frame_at`), not of the folder:
    :func:`prune_frames` applies retention to files and rows together.

    Parameters
    ----------
    root
        Folder for all cameras (``DATA_DIR/cameras``).
    keep
        Frames kept per camera.
    keep_age
        Older frames are deleted (except the newest).
    """

    def __init__(
        self, root: Path, *, keep: int = 360, keep_age: timedelta = timedelta(hours=24)
    ) -> None:
        if keep < 1:
            raise ValueError("keep must be at least 1")
        self.root = Path(root)
        self.keep = keep
        self.keep_age = keep_age

    def folder(self, camera_id: str) -> Path:
        """The folder of one camera (the id is checked first)."""
        if not CAMERA_ID.match(camera_id):
            raise ValueError(f"not a camera id: {camera_id[:40]!r}")
        return self.root / camera_id

    def save(self, camera_id: str, data: bytes, captured_at: datetime) -> FrameRef:
        """Store a checked frame atomically (readers never see half a file)."""
        key = frame_key(captured_at)
        path = self.folder(camera_id) / f"{key}.jpg"
        write_atomic(path, data)
        return FrameRef(camera_id, key, captured_at.astimezone(UTC), path)

    def keys(self, camera_id: str) -> list[str]:
        """The keys of a camera's frame files on disk, oldest first (names sort by time)."""
        try:
            names = os.listdir(self.folder(camera_id))
        except (FileNotFoundError, ValueError):
            return []
        keys = (name[: -len(".jpg")] for name in names if name.endswith(".jpg"))
        return sorted(key for key in keys if parse_frame_key(key) is not None)

    def frames(self, camera_id: str) -> list[FrameRef]:
        """The frame files of a camera on disk, oldest first."""
        return [self._ref(camera_id, key) for key in self.keys(camera_id)]

    def get(self, camera_id: str, key: str) -> FrameRef | None:
        """A frame by key, or None when the id or key is malformed or the file is gone."""
        moment = parse_frame_key(key)
        if moment is None or not CAMERA_ID.match(camera_id):
            return None
        path = self.root / camera_id / f"{key}.jpg"
        return FrameRef(camera_id, key, moment, path) if path.is_file() else None

    def retention(self, camera_id: str, now: datetime) -> Retention:
        """Which files retention keeps (count, then age; the newest always stays).

        Decided on the names alone (a key's text sorts as its time), so the listing that runs
        after every frame builds no path or time for the hundreds of files it keeps.
        """
        keys = self.keys(camera_id)
        if len(keys) <= 1:
            return Retention(kept=keys, doomed=[])
        cut = max(0, len(keys) - self.keep)
        too_old = frame_key(now - self.keep_age)
        doomed = set(keys[:cut]) | {key for key in keys[cut:-1] if key < too_old}
        return Retention(
            kept=[key for key in keys if key not in doomed],
            doomed=[self._ref(camera_id, key) for key in keys if key in doomed],
        )

    def _ref(self, camera_id: str, key: str) -> FrameRef:
        moment = parse_frame_key(key)
        assert moment is not None  # keys() lists only valid keys
        return FrameRef(camera_id, key, moment, self.root / camera_id / f"{key}.jpg")


# ---------------------------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FrameRecord:
    """What the record says of one stored picture (never its bytes, address or credentials)."""

    camera_id: str
    key: str
    captured_at: datetime
    size_bytes: int
    width: int
    height: int
    sha256: str
    source_format: str = "jpeg"


def frame_record(
    camera_id: str,
    captured_at: datetime,
    *,
    size_bytes: int,
    width: int,
    height: int,
    sha256: str,
    source_format: str = "jpeg",
) -> FrameRecord:
    """A checked :class:`FrameRecord`; every bad field is reported at once.

    Raises
    ------
    ValidationError
        A field is malformed; each problem names the field and its value.
    """
    problems: list[Problem] = []
    if not isinstance(camera_id, str) or not CAMERA_ID.match(camera_id):
        problems.append(Problem("camera_id", f"must be a camera id, not {camera_id!r}"))
    if not isinstance(captured_at, datetime) or captured_at.tzinfo is None:
        problems.append(Problem("captured_at", f"must be an aware time, not {captured_at!r}"))
    for name, value in (("size_bytes", size_bytes), ("width", width), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            problems.append(Problem(name, f"must be a whole number ≥ 0, not {value!r}"))
    if not isinstance(sha256, str) or not _SHA256.match(sha256):
        problems.append(Problem("sha256", "must be a SHA-256 hex digest (64 lower-case hex)"))
    if source_format not in IMAGE_FORMATS:
        problems.append(Problem("source_format", f"must be jpeg or png, not {source_format!r}"))
    if problems:
        raise ValidationError(f"camera frame {str(camera_id)[:40]!r}", problems)
    moment = captured_at.astimezone(UTC)
    return FrameRecord(
        camera_id=camera_id,
        key=frame_key(moment),
        captured_at=moment,
        size_bytes=size_bytes,
        width=width,
        height=height,
        sha256=sha256,
        source_format=source_format,
    )


def write_frame_row(conn: Connection, frame: FrameRecord) -> None:
    """Insert the row of ``frame`` in the caller's transaction (the poller's status update).

    Written again for the same camera and instant (a clock that did not move), the row is
    replaced: the file under that key was just replaced too, so the row describes what is on
    disk.
    """
    values = _row(frame)
    changing = {k: v for k, v in values.items() if k not in ("camera_id", "captured_at")}
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(camera_frames_table).values(**values)
    conn.execute(
        statement.on_conflict_do_update(index_elements=["camera_id", "captured_at"], set_=changing)
    )


def record_frame(
    store: Store,
    camera_id: str,
    captured_at: datetime,
    *,
    size_bytes: int,
    width: int,
    height: int,
    sha256: str,
    source_format: str = "jpeg",
) -> FrameRecord:
    """Record one stored picture's metadata, as the poller does for every frame it keeps.

    One short write transaction on ``camera_frames``; the incident log is not touched. The
    poller writes the same row (:func:`write_frame_row`) inside the transaction that updates
    the camera's status, and then applies :func:`prune_frames`. Benchmarks and importers call
    this; the file itself is :meth:`FrameStore.save`'s job.

    Raises
    ------
    ValidationError
        A field is malformed (see :func:`frame_record`).
    """
    frame = frame_record(
        camera_id,
        captured_at,
        size_bytes=size_bytes,
        width=width,
        height=height,
        sha256=sha256,
        source_format=source_format,
    )
    with store._write() as conn:
        write_frame_row(conn, frame)
    return frame


def frame_at(store: Store, camera_id: str, moment: datetime | None = None) -> FrameRecord | None:
    """The newest picture of a camera captured at or before ``moment`` (None: the newest).

    What HQ saw of that camera at that instant. One indexed lookup, however long the record.
    """
    return frames_at(store, [camera_id], moment).get(camera_id)


def frames_at(
    store: Store, camera_ids: Iterable[str], moment: datetime | None = None
) -> dict[str, FrameRecord]:
    """:func:`frame_at` for several cameras (one connection); cameras without one are left out."""
    table = camera_frames_table
    found: dict[str, FrameRecord] = {}
    with store._read() as conn:
        for camera_id in camera_ids:
            query = select(table).where(table.c.camera_id == camera_id)
            if moment is not None:
                query = query.where(table.c.captured_at <= moment)
            row = conn.execute(query.order_by(table.c.captured_at.desc()).limit(1)).first()
            if row is not None:
                found[camera_id] = _record(row._mapping)
    return found


def frames_between(
    store: Store,
    camera_id: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[FrameRecord]:
    """A camera's pictures captured from ``start`` to ``end`` (both included), oldest first."""
    table = camera_frames_table
    query = select(table).where(table.c.camera_id == camera_id)
    if start is not None:
        query = query.where(table.c.captured_at >= start)
    if end is not None:
        query = query.where(table.c.captured_at <= end)
    with store._read() as conn:
        rows = conn.execute(query.order_by(table.c.captured_at)).all()
    return [_record(row._mapping) for row in rows]


def frame_times(store: Store, camera_ids: Collection[str]) -> list[datetime]:
    """Every instant at which one of ``camera_ids`` stored a picture, oldest first (no repeats)."""
    if not camera_ids:
        return []
    table = camera_frames_table
    query = (
        select(table.c.captured_at)
        .where(table.c.camera_id.in_(sorted(camera_ids)))
        .distinct()
        .order_by(table.c.captured_at)
    )
    with store._read() as conn:
        return [moment for (moment,) in conn.execute(query)]


def frame_span(
    store: Store, start: datetime, end: datetime | None = None
) -> tuple[datetime, datetime] | None:
    """The first and last instant any camera stored a picture from ``start`` to ``end``.

    The replay of an incident covers the pictures recorded while it was open (they were
    events of the incident in earlier releases, so the slider always reached them).
    """
    table = camera_frames_table
    query = select(func.min(table.c.captured_at), func.max(table.c.captured_at)).where(
        table.c.captured_at >= start
    )
    if end is not None:
        query = query.where(table.c.captured_at <= end)
    with store._read() as conn:
        first, last = conn.execute(query).one()
    return None if first is None or last is None else (first, last)


def prune_frames(store: Store, frames: FrameStore, camera_id: str, now: datetime) -> int:
    """Apply retention to a camera's files and rows together; returns the files deleted.

    The files decide (:meth:`FrameStore.retention`). Rows go first, in one transaction: every
    row of the camera up to the newest file listed whose file is not kept — retention's victims,
    and rows whose file vanished some other way (or was deleted before the rows, e.g. by an
    earlier release or a crash). Then the files go. Rows of frames stored after the listing are
    never touched; a crash between the two steps leaves files without rows, which are never
    offered and go at the next pass. A camera without any file is left alone (its folder may
    simply not be on this host).
    """
    plan = frames.retention(camera_id, now)
    if not plan.kept:
        return 0
    horizon = parse_frame_key(plan.kept[-1])  # the newest file is always kept
    assert horizon is not None  # FrameStore.keys lists valid keys only
    kept = set(plan.kept)
    table = camera_frames_table
    with store._read() as conn:
        listed = conn.execute(
            select(table.c.frame_key).where(
                table.c.camera_id == camera_id, table.c.captured_at <= horizon
            )
        ).scalars()
        stale = sorted(key for key in listed if key not in kept)
    if stale:
        with store._write() as conn:
            for start in range(0, len(stale), _CHUNK):
                conn.execute(
                    delete(table).where(
                        and_(
                            table.c.camera_id == camera_id,
                            table.c.frame_key.in_(stale[start : start + _CHUNK]),
                        )
                    )
                )
    for ref in plan.doomed:
        ref.path.unlink(missing_ok=True)
    if stale or plan.doomed:
        log.debug(
            "camera %s: retention removed %d file(s), %d row(s)",
            camera_id,
            len(plan.doomed),
            len(stale),
        )
    return len(plan.doomed)


# ---------------------------------------------------------------------------------------------
# Upgrade from frame events
# ---------------------------------------------------------------------------------------------


def backfill_frames_from_events(store: Store, *, frames: FrameStore | None = None) -> int:
    """Copy the ``camera.frame`` events of every incident into ``camera_frames``; idempotent.

    For databases upgraded from a release that logged each picture as an event (the events
    stay in the log, untouched). The same picture was logged in the live incident and in every
    open drill: it becomes one row. Rows already there are left as they are, so running this
    again adds nothing. Events are streamed and written in batches, so a log of a million
    frames never sits in memory. Returns the number of rows added.

    With ``frames``, only pictures whose file is still on disk are copied (retention deleted
    the others long ago, and the wall must not offer them). Without it every event is copied
    and the poller's next retention pass (:func:`prune_frames`, every minute) drops the rows of
    files that are gone.
    """
    added = skipped = 0
    batch: list[FrameRecord] = []

    def flush() -> None:
        nonlocal added
        if batch:
            with store._write() as conn:
                added += _insert_new(conn, batch)
            batch.clear()

    for incident in store.incidents():
        for event in store.iter_events(incident.incident_id, types=[CAMERA_FRAME]):
            frame = _frame_of_event(event.payload)
            if frame is None:
                skipped += 1
            elif frames is None or frames.get(frame.camera_id, frame.key) is not None:
                batch.append(frame)
                if len(batch) >= _BATCH:
                    flush()
    flush()
    if skipped:
        log.warning("camera frame backfill: %d event(s) not readable as a frame, left out", skipped)
    log.info("camera frame backfill: %d row(s) added from frame events", added)
    return added


def _insert_new(conn: Connection, batch: list[FrameRecord]) -> int:
    """Insert the frames not yet recorded (``ON CONFLICT DO NOTHING``); returns rows added."""
    rows = list({(f.camera_id, f.captured_at): _row(f) for f in batch}.values())
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(camera_frames_table).values(rows).on_conflict_do_nothing()
    # RETURNING names the rows really added (rowcount is not reliable for this on psycopg).
    return len(conn.execute(statement.returning(camera_frames_table.c.camera_id)).all())


def _frame_of_event(payload: Mapping[str, Any]) -> FrameRecord | None:
    """The record of a ``camera.frame`` payload, or None if it is not a readable one."""
    moment = parse_frame_key(str(payload.get("frame", "")))
    if moment is None:
        return None
    try:
        return frame_record(
            str(payload.get("camera_id", "")),
            moment,  # the key names the file: it is the time that counts
            size_bytes=payload.get("bytes", -1),  # a missing field fails the check
            width=payload.get("width", -1),
            height=payload.get("height", -1),
            sha256=payload.get("sha256", ""),
            source_format=payload.get("source_format") or "jpeg",
        )
    except ValidationError:
        return None


def _row(frame: FrameRecord) -> dict[str, Any]:
    return {
        "camera_id": frame.camera_id,
        "captured_at": frame.captured_at,
        "frame_key": frame.key,
        "size_bytes": frame.size_bytes,
        "width": frame.width,
        "height": frame.height,
        "sha256": frame.sha256,
        "source_format": frame.source_format,
    }


def _record(row: Mapping[Any, Any]) -> FrameRecord:
    return FrameRecord(
        camera_id=row["camera_id"],
        key=row["frame_key"],
        captured_at=row["captured_at"],
        size_bytes=int(row["size_bytes"]),
        width=int(row["width"]),
        height=int(row["height"]),
        sha256=row["sha256"],
        source_format=row["source_format"],
    )
