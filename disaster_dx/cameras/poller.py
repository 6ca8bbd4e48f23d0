"""The poller: one thread per camera, leases, backoff, frames stored and health changes logged."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from sqlalchemy import insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from disaster_dx.cameras.adapters import (
    ADAPTERS,
    CheckedImage,
    FetchLimits,
    check_image,
    new_session,
)
from disaster_dx.cameras.events import CAMERA_HEALTH_EVENTS, camera_event_incidents
from disaster_dx.cameras.frames import (  # every camera table, created by create_camera_tables
    FrameRecord,
    FrameStore,
    frame_record,
    prune_frames,
    write_frame_row,
)
from disaster_dx.cameras.registry import (
    Camera,
    CameraRegistry,
)
from disaster_dx.cameras.status import (
    _EPOCH,
    _holds,
    acquire_leases,
    camera_status_table,
    release_leases,
)
from disaster_dx.cameras.transitions import (
    Decision,
    after_failure,
    after_frame,
    content_digest,
)
from disaster_dx.cameras.vocabulary import (
    CameraSettings,
    FeedError,
    FeedErrorKind,
)
from disaster_dx.errors import DisasterDxError
from disaster_dx.events import NewEvent, subject_of, utcnow
from disaster_dx.leases import holder_name
from disaster_dx.store import Store

log = logging.getLogger("disaster_dx.cameras")  # one logger for the whole package

Clock = Callable[[], datetime]

# ---------------------------------------------------------------------------------------------
# Poller
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """One poll of one camera, as the poller's clock saw it (tests read these)."""

    camera_id: str
    started_at: datetime
    finished_at: datetime
    ok: bool
    error_kind: FeedErrorKind | None = None
    frame_key: str | None = None


#: A name for this poller that differs between hosts, processes and instances.
default_holder = holder_name


class Poller:
    """Polls the registry's cameras, each on its own schedule and thread, storing frames.

    Call :meth:`run_due` repeatedly (``run_forever`` does, every ``tick`` seconds): it renews
    this poller's leases, then hands every camera that is due, held by this poller and not
    already being fetched to its own worker thread, and returns at once. A camera that hangs
    therefore only delays itself, and the others' start times stay exactly on schedule
    (``started_at + interval``), which tests check against an injected clock.

    After a failure the next attempt waits ``interval × 2^(failures-1)``, at most
    ``settings.backoff_max`` seconds.

    Parameters
    ----------
    store
        Where leases, statuses, frame rows and health-change events go.
    registry
        The cameras and their feeds (from the registry file: only these URLs are fetched).
    frames
        The frame store.
    settings
        Limits and timings.
    clock
        "Now" for schedules, capture times and leases.
    holder
        This poller's name in the lease table.
    environ
        Where credentials referenced by environment variable are looked up.
    session_factory
        Makes one HTTP session per camera.
    """

    def __init__(
        self,
        store: Store,
        registry: CameraRegistry,
        frames: FrameStore,
        *,
        settings: CameraSettings | None = None,
        clock: Clock = utcnow,
        holder: str | None = None,
        environ: Mapping[str, str] | None = None,
        session_factory: Callable[[], requests.Session] = new_session,
    ) -> None:
        self.store = store
        self.registry = registry
        self.frames = frames
        self.settings = settings or CameraSettings()
        self.clock = clock
        self.holder = holder or default_holder()
        self.environ = environ
        self.limits = FetchLimits.from_settings(self.settings)
        self.cameras = [c for c in registry.cameras if c.feed is not None]
        self._lock = threading.Lock()
        self._sessions = {c.camera_id: session_factory() for c in self.cameras}
        self._executor = ThreadPoolExecutor(
            max_workers=max(1, len(self.cameras)), thread_name_prefix="camera-poll"
        )
        self._next_due: dict[str, datetime] = {}
        self._failures: dict[str, int] = {}
        self._in_flight: dict[str, Future[None]] = {}
        self._held: set[str] = set()
        self._lease_due = _EPOCH
        self._prune_due = _EPOCH
        self._closed = False
        self.history: deque[Attempt] = deque(maxlen=2000)

    # -- scheduling ---------------------------------------------------------------------------

    @property
    def held(self) -> set[str]:
        """Cameras this poller holds the lease for."""
        with self._lock:
            return set(self._held)

    def run_due(self) -> list[str]:
        """Start every due camera's fetch on its own thread; returns the ids started."""
        if self._closed:
            return []
        now = self.clock()
        self._refresh_leases(now)
        started: list[str] = []
        with self._lock:
            for camera in self.cameras:
                camera_id = camera.camera_id
                if camera_id not in self._held:
                    continue
                running = self._in_flight.get(camera_id)
                if running is not None and not running.done():
                    continue
                if now < self._next_due.get(camera_id, now):
                    continue
                self._next_due[camera_id] = now + timedelta(seconds=camera.poll_interval_s)
                self._in_flight[camera_id] = self._executor.submit(self._poll, camera, now)
                started.append(camera_id)
        if now >= self._prune_due:
            self._prune_due = now + timedelta(minutes=1)
            for camera in self.cameras:
                self._prune(camera.camera_id, now)
        return started

    def wait(self, camera_ids: Sequence[str] | None = None, timeout: float | None = None) -> None:
        """Wait until the fetches in flight (of ``camera_ids``, default all) have finished."""
        with self._lock:
            futures = [
                f for cid, f in self._in_flight.items() if camera_ids is None or cid in camera_ids
            ]
        deadline = None if timeout is None else time.monotonic() + timeout
        for future in futures:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                future.result(timeout=remaining)
            except TimeoutError:
                raise
            except Exception:  # already logged by _poll
                pass

    def busy(self, camera_id: str) -> bool:
        """Whether a fetch of ``camera_id`` is in flight."""
        with self._lock:
            running = self._in_flight.get(camera_id)
        return running is not None and not running.done()

    def run_forever(self, stop: threading.Event, *, tick: float = 0.5) -> None:
        """Poll until ``stop`` is set; a database outage is logged and retried, never fatal."""
        log.info(
            "camera poller %s: %d camera(s) from %s",
            self.holder,
            len(self.cameras),
            self.registry.source or "(memory)",
        )
        try:
            while not stop.is_set():
                try:
                    self.run_due()
                except SQLAlchemyError as exc:
                    log.warning(
                        "camera poller: database unavailable (%s); retrying", type(exc).__name__
                    )
                except OSError as exc:  # e.g. the frame folder is full or not writable
                    log.error("camera poller: %s; retrying", type(exc).__name__)
                stop.wait(tick)
        finally:
            self.close()

    def close(self, *, wait: bool = True) -> None:
        """Stop: finish (or abandon) fetches in flight and hand the leases back."""
        if self._closed:
            return
        self._closed = True
        self._executor.shutdown(wait=wait, cancel_futures=True)
        try:
            release_leases(self.store, self.holder)
        except SQLAlchemyError as exc:
            log.warning("camera poller: could not release leases (%s)", type(exc).__name__)
        for session in self._sessions.values():
            session.close()

    def _refresh_leases(self, now: datetime) -> None:
        # Claims are renewed, and free cameras looked for, every third of the lease time:
        # often enough to keep what we hold, rare enough that idle workers cost the
        # database little. A cleanly stopped poller's cameras are taken over within that.
        if now < self._lease_due:
            return
        ids = [c.camera_id for c in self.cameras]
        ttl = timedelta(seconds=self.settings.lease_seconds)
        held = acquire_leases(self.store, ids, self.holder, now, ttl=ttl)
        with self._lock:
            new = held - self._held
            lost = self._held - held
            self._held = held
            for camera_id in new:
                self._next_due[camera_id] = now
                self._failures[camera_id] = 0
            self._lease_due = now + ttl / 3
        for camera_id in sorted(new):
            log.info("camera %s: polled by %s", camera_id, self.holder)
            self._write_status(camera_id, {"polling_since": now, "holder": self.holder}, now)
            self._log_pending(camera_id)  # what a previous poller decided but did not log
        for camera_id in sorted(lost):
            log.warning("camera %s: lease lost; another poller has it now", camera_id)

    # -- one fetch (runs on the camera's worker thread) ---------------------------------------

    def _poll(self, camera: Camera, started_at: datetime) -> None:
        assert camera.feed is not None
        adapter = ADAPTERS.get(camera.feed.kind)
        try:
            if adapter is None:
                raise FeedError(
                    FeedErrorKind.CONFIG, f"no adapter for feed type {camera.feed.kind}"
                )
            raw = adapter.fetch(
                camera.feed,
                self._sessions[camera.camera_id],
                self.limits,
                environ=self.environ,
                user_agent=f"disaster_dx-camera-poller ({self.holder})",
            )
            image = check_image(
                raw, max_bytes=self.limits.max_bytes, max_pixels=self.settings.max_pixels
            )
        except FeedError as exc:
            self._failed(camera, started_at, exc)
            return
        except Exception as exc:  # a bug or an adapter's surprise: never kill the thread
            error = FeedError(FeedErrorKind.PROTOCOL, f"unexpected {type(exc).__name__}")
            self._failed(camera, started_at, error)
            return
        try:
            self._succeeded(camera, started_at, image)
        except OSError as exc:  # the frame store is full or not writable
            error = FeedError(
                FeedErrorKind.CONFIG, f"the frame could not be stored ({type(exc).__name__})"
            )
            self._failed(camera, started_at, error)

    def _succeeded(self, camera: Camera, started_at: datetime, image: CheckedImage) -> None:
        captured_at = self.clock()
        camera_id = camera.camera_id
        ref = self.frames.save(camera_id, image.data, captured_at)
        frame = frame_record(
            camera_id,
            captured_at,
            size_bytes=len(image.data),
            width=image.width,
            height=image.height,
            sha256=hashlib.sha256(image.data).hexdigest(),
            source_format=image.source_format,
        )
        try:
            digest = content_digest(image.data, perceptual=self.settings.frozen_perceptual)
        except (OSError, ValueError):  # checked already; a perceptual hash falls back to bytes
            digest = frame.sha256
        decision = self._write_status(
            camera_id,
            {
                "last_attempt_at": started_at,
                "last_frame_at": captured_at,
                "last_frame_key": ref.key,
                "holder": self.holder,
            },
            captured_at,
            frame=frame,
            decide=lambda row: after_frame(
                row, camera_id, captured_at=captured_at, digest=digest, settings=self.settings
            ),
        )
        if decision is None:  # another poller took the camera meanwhile: its frame, not ours
            ref.path.unlink(missing_ok=True)
            self._remember(Attempt(camera_id, started_at, captured_at, False, FeedErrorKind.CONFIG))
            return
        with self._lock:
            self._failures[camera_id] = 0
        log.debug("camera %s: frame %s (%d bytes)", camera_id, ref.key, len(image.data))
        for event in decision.events:
            log.info("camera %s: %s %s", camera_id, event["type"], event["payload"])
        self._log_pending(camera_id)
        self._remember(Attempt(camera_id, started_at, captured_at, True, frame_key=ref.key))
        self._prune(camera_id, captured_at)

    def _failed(self, camera: Camera, started_at: datetime, error: FeedError) -> None:
        finished_at = self.clock()
        camera_id = camera.camera_id
        # Technical detail (English, maybe exception names or bytes) is for the server log
        # only; pages and the incident log say ``error.kind`` in words.
        decision = self._write_status(
            camera_id,
            {
                "last_attempt_at": started_at,
                "last_error_kind": error.kind.value,
                "last_error": error.detail[:300],
                "last_error_at": finished_at,
                "holder": self.holder,
            },
            finished_at,
            decide=lambda row: after_failure(row, camera_id, kind=error.kind),
        )
        with self._lock:
            # The stored count survives restarts, so the backoff does too.
            stored = decision.values["failures"] if decision is not None else None
            failures = stored or self._failures.get(camera_id, 0) + 1
            self._failures[camera_id] = failures
            delay = min(
                camera.poll_interval_s * 2 ** min(failures - 1, 20), self.settings.backoff_max
            )
            delay = max(delay, camera.poll_interval_s)
            self._next_due[camera_id] = started_at + timedelta(seconds=delay)
        log.warning(
            "camera %s: %s — %s; failure %d, next try in %g s",
            camera_id,
            error.kind.value,
            error.detail,
            failures,
            delay,
        )
        if decision is not None:
            self._log_pending(camera_id)
        self._remember(Attempt(camera_id, started_at, finished_at, False, error.kind))

    def _prune(self, camera_id: str, now: datetime) -> None:
        """Retention on files and rows; a failure waits for the next pass (within a minute)."""
        try:
            prune_frames(self.store, self.frames, camera_id, now)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("camera %s: retention not applied (%s)", camera_id, type(exc).__name__)

    def _remember(self, attempt: Attempt) -> None:
        with self._lock:
            self.history.append(attempt)

    def _write_status(
        self,
        camera_id: str,
        values: dict[str, Any],
        now: datetime,
        *,
        frame: FrameRecord | None = None,
        decide: Callable[[Mapping[str, Any] | None], Decision] | None = None,
    ) -> Decision | None:
        """Update the status row (and record ``frame``) if this poller still holds the camera.

        ``decide`` folds the outcome into the *stored* status (see
        :mod:`disaster_dx.cameras.transitions`) in the same transaction. Returns None, writing
        nothing, when the camera is no longer held: the status and the frame's row are one
        transaction, so a frame is on record exactly when its camera's status says so.
        """
        try:
            with self.store._write() as conn:
                if not _holds(conn, camera_id, self.holder):
                    return None
                if frame is not None:
                    write_frame_row(conn, frame)
                query = select(camera_status_table).where(
                    camera_status_table.c.camera_id == camera_id
                )
                if self.store.dialect == "postgresql":
                    query = query.with_for_update()
                found = conn.execute(query).one_or_none()
                row = dict(found._mapping) if found is not None else None
                decision = decide(row) if decide is not None else Decision({})
                merged = {**values, **decision.values}
                if row is not None:
                    conn.execute(
                        update(camera_status_table)
                        .where(camera_status_table.c.camera_id == camera_id)
                        .values(**merged, updated_at=now)
                    )
                else:
                    fresh = {"polling_since": now, "failures": 0, "same_count": 0, **merged}
                    conn.execute(
                        insert(camera_status_table).values(
                            camera_id=camera_id, **fresh, updated_at=now
                        )
                    )
        except SQLAlchemyError as exc:
            log.warning("camera %s: status not saved (%s)", camera_id, type(exc).__name__)
            return None
        return decision

    def _log_pending(self, camera_id: str) -> None:
        """Put the camera's pending health events in the incident log, each exactly once.

        Runs after every recorded poll and when this poller takes a camera over, so events a
        crash or a lost lease left pending are logged by whoever polls the camera next. An
        event whose ``transition`` number is already in an incident is not appended again.
        """
        try:
            with self.store._read() as conn:
                if not _holds(conn, camera_id, self.holder):
                    return
                pending = conn.execute(
                    select(camera_status_table.c.pending_events).where(
                        camera_status_table.c.camera_id == camera_id
                    )
                ).scalar_one_or_none()
            if not pending:
                return
            pending = sorted(pending, key=lambda e: int(e["payload"]["transition"]))
            subject = subject_of(pending[0]["type"], pending[0]["payload"])
            for incident_id in camera_event_incidents(self.store):
                logged = {
                    e.payload.get("transition")
                    for e in self.store.iter_events(
                        incident_id, subject=subject, types=CAMERA_HEALTH_EVENTS
                    )
                }
                new = [
                    NewEvent(e["type"], e["payload"])
                    for e in pending
                    if e["payload"]["transition"] not in logged
                ]
                if new:
                    self.store.append(incident_id, new, actor="cameras")
            done = int(pending[-1]["payload"]["transition"])
            with self.store._write() as conn:
                current = conn.execute(
                    select(camera_status_table.c.pending_events).where(
                        camera_status_table.c.camera_id == camera_id
                    )
                ).scalar_one_or_none()
                left = [e for e in current or [] if int(e["payload"]["transition"]) > done]
                conn.execute(
                    update(camera_status_table)
                    .where(camera_status_table.c.camera_id == camera_id)
                    .values(pending_events=left or None)
                )
        except (SQLAlchemyError, DisasterDxError) as exc:
            # Still pending in the status row: the next poll of this camera logs it.
            log.warning(
                "camera %s: health events not logged yet (%s)", camera_id, type(exc).__name__
            )
