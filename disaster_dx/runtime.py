"""What happens after a write, and which loops run beside the app: the one place that says so.

Read this file to follow a write past the store. Every process that writes (the web app,
each ``disaster-dx`` command that writes) builds one :class:`Runtime` with
:func:`build_runtime`, which registers the same **after-save actions** on its store, in
this order, run right after each committed append (a failing action is logged and never
undoes the write; :meth:`disaster_dx.store.Store.add_listener`):

0. *(the store itself, before any action)* the live state is advanced and a state snapshot
   is written every ``SNAPSHOT_EVERY`` events, live or drill (:mod:`disaster_dx.projection`):
   so the actions below read the state current without re-reading the log;
1. **publish** — :class:`~disaster_dx.publish.Publisher` rewrites the public snapshot
   (page, GeoJSON, CSV, map) after a public change of the live incident; for a drill only
   its notice appears or goes;
2. **LINE queue** — :class:`~disaster_dx.line.notify.Notifier` puts real openings/closings
   and 避難情報 of the live incident into the LINE outbox (drills never);
3. **re-plan** — :meth:`~disaster_dx.plans.Planner.on_append` re-plans 個別避難計画 after a
   shelter or hazard change of the live incident (on a background worker in the app, in
   the writer's thread in a command, whose process would otherwise end first).

Writes that are not appends (a new shelter master or outline, roads, buildings, residents)
call :meth:`Runtime.republish` and/or :meth:`Runtime.replan` instead.

The **background loops** are :class:`Service` objects (``start``/``stop``), started by
:meth:`Runtime.start` and stopped in reverse by :meth:`Runtime.stop`:

- the re-planner (:class:`ReplannerService`; its thread starts on the first change);
- the LINE sender (:class:`LineSenderService`; only with a channel token and
  ``LINE_WORKER=app``; one sender overall holds the ``line-sender`` lease);
- the camera poller (:class:`CameraPollerService`; only with ``CAMERAS_POLL_IN_APP=1``;
  leases keep one poller per camera across workers);
- the drill scheduler (:class:`DrillSchedulerService`; runs while a drill is active: on
  start when one is, and when an operator starts or resumes one).

A command (``role="command"``) registers the same after-save actions and starts no loop:
the LINE outbox and the drill and camera state are in the database, and the app's loops (or
the foreground loops ``disaster-dx line run``, ``drill run``, ``cameras run``) pick them up;
a one-shot command would end before a batch is due. Pure core: no Dash or Flask here.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from disaster_dx.config import Settings
from disaster_dx.line.notify import Notifier
from disaster_dx.line.notify import attach as attach_line
from disaster_dx.line.sender import Sender, SenderThread
from disaster_dx.publish import MapRenderer, Publisher, PublishResult
from disaster_dx.store import AppendListener, Store

if TYPE_CHECKING:  # heavy (requests, Pillow, pyproj; road graphs): loaded only when used
    from disaster_dx.cameras import CameraRegistry, CameraSettings
    from disaster_dx.cameras.frames import FrameStore
    from disaster_dx.plans import Planner, ReplanReport

log = logging.getLogger(__name__)

Role = Literal["app", "command"]


class Service(Protocol):
    """A background loop of one process: started once, stopped on shutdown (idempotent)."""

    name: str

    def start(self) -> None:
        """Start the loop (again, if it had ended); a running loop is left as it is."""

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop and wait up to ``timeout`` seconds for its threads to end."""


@dataclass(frozen=True)
class AfterSave:
    """One after-save action: a store listener with the name this module lists it by."""

    name: str
    action: AppendListener


# -- the services -------------------------------------------------------------------------------


class ReplannerService:
    """Live re-planning's worker thread: started by the first change, closed on shutdown.

    The thread starts lazily (in :meth:`~disaster_dx.plans.Planner.on_append`), so a server
    that forks its workers after loading the app (gunicorn ``--preload``) still gets one in
    every worker. Stopping lets the current run finish; no new one starts.
    """

    name = "re-planner"

    def __init__(self, planner: Planner) -> None:
        self.planner = planner

    def start(self) -> None:
        """Nothing to do: the worker starts on the first shelter or hazard change."""

    def stop(self, timeout: float = 10.0) -> None:
        """Close the planner's worker after its current run."""
        self.planner.close(timeout)


class LineSenderService:
    """The LINE sender loop of this worker (:class:`~disaster_dx.line.sender.SenderThread`)."""

    name = "line-sender"

    def __init__(self, store: Store, settings: Settings, *, interval: float = 2.0) -> None:
        self.store = store
        self.settings = settings
        self.interval = interval
        self.thread: SenderThread | None = None

    def running(self) -> bool:
        """Whether the sender thread is alive."""
        return self.thread is not None and self.thread.is_alive()

    def start(self) -> None:
        """Start a sender thread (a thread cannot be restarted: a new one each time)."""
        if self.running():
            return
        self.thread = SenderThread(Sender(self.store, self.settings), interval=self.interval)
        self.thread.start()
        log.info("LINE sender thread started (%s)", self.settings.line_api_base)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the current round and give the lease up."""
        if self.thread is not None:
            self.thread.stop(timeout=timeout)


class CameraPollerService:
    """The in-app camera poller (``CAMERAS_POLL_IN_APP=1``), on a store of its own.

    Its own store (connection pool, no after-save actions), as ``disaster-dx cameras run``
    would: camera frames must not trigger the public snapshot. Leases keep it to one poller
    per camera across workers.
    """

    name = "camera-poller"

    def __init__(
        self,
        store: Store,
        registry: CameraRegistry,
        frames: FrameStore,
        settings: CameraSettings,
    ) -> None:
        self.url, self.schema = store.url, store.schema
        self.registry = registry
        self.frames = frames
        self.settings = settings
        self.thread: threading.Thread | None = None
        self.stop_event = threading.Event()
        self.holder = ""

    def running(self) -> bool:
        """Whether the poller thread is alive."""
        return self.thread is not None and self.thread.is_alive()

    def start(self) -> None:
        """Start polling in a thread; frames go to :attr:`frames`."""
        if self.running():
            return
        from disaster_dx.cameras import Poller

        self.stop_event = threading.Event()
        store = Store(self.url, schema=self.schema)
        poller = Poller(store, self.registry, self.frames, settings=self.settings)
        self.holder = poller.holder
        stop = self.stop_event

        def run() -> None:
            try:
                poller.run_forever(stop)
            finally:
                store.dispose()

        self.thread = threading.Thread(target=run, name="camera-poller", daemon=True)
        self.thread.start()
        log.info("camera poller thread started in this worker (%s)", poller.holder)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop polling and hand the leases back."""
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(timeout)


class DrillSchedulerService:
    """The drill scheduler of this worker: fires injects while any drill is active.

    Every worker may run one; the ``drill-scheduler`` lease lets exactly one fire. It ends by
    itself when no drill is active, and :meth:`ensure_running` starts it again when an
    operator starts or resumes one. Tests that tick the scheduler themselves set
    :attr:`enabled` to ``False``.
    """

    name = "drill-scheduler"

    def __init__(self, store: Store, *, poll: float = 0.5) -> None:
        self.store = store
        self.poll = poll
        self.enabled = True
        self.thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def running(self) -> bool:
        """Whether the scheduler thread is alive."""
        return self.thread is not None and self.thread.is_alive()

    def start(self) -> None:
        """Start the scheduler if a drill is active (a restart in the middle of a drill)."""
        from disaster_dx import drills

        if self.enabled and drills.drill_runs_list(self.store, active_only=True):
            self.ensure_running()

    def ensure_running(self) -> None:
        """Start the scheduler thread unless it runs (an operator started or resumed a drill)."""
        if not self.enabled:
            return
        from disaster_dx import drills

        with self._lock:
            if self.running():
                return
            self._stop = threading.Event()
            stop = self._stop

            def wait(seconds: float) -> None:
                stop.wait(seconds)  # a stop ends the wait at once

            def target() -> None:
                try:
                    drills.DrillScheduler(self.store).run(
                        should_stop=stop.is_set,
                        poll=self.poll,
                        sleep=wait,
                        exit_when_idle=True,
                    )
                except Exception:
                    log.exception("drill scheduler thread stopped")

            self.thread = threading.Thread(target=target, name="drill-scheduler", daemon=True)
            self.thread.start()
            log.info("drill scheduler thread started in this worker")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the current tick."""
        self._stop.set()
        if self.thread is not None:
            self.thread.join(timeout)


# -- the runtime --------------------------------------------------------------------------------


@dataclass
class Cameras:
    """The app's tower cameras: settings, the frame folder and the in-app poller (if on)."""

    settings: CameraSettings
    frames: FrameStore
    registry: CameraRegistry | None
    poller: CameraPollerService | None


@dataclass
class Runtime:
    """Everything one process keeps beside its store: after-save actions and loops.

    Built by :func:`build_runtime`; the web app keeps exactly one on its Flask app
    (:func:`disaster_dx.web.context.runtime_of`), a command one for its run.
    """

    store: Store
    settings: Settings
    role: Role
    publisher: Publisher
    notifier: Notifier
    planner: Planner
    after_save: tuple[AfterSave, ...]
    replanner: ReplannerService
    drill_scheduler: DrillSchedulerService
    line_sender: LineSenderService | None = None
    cameras: Cameras | None = None
    services: list[Service] = field(default_factory=list)
    started: bool = False
    stopped: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def start(self) -> None:
        """Start every service once (the app: on its first request, after the factory).

        Not in the factory: it is still creating other modules' tables, and a loop writing
        meanwhile would make SQLite refuse them; and threads started before gunicorn forks
        its workers would not survive the fork. Cheap after the first call.
        """
        if self.started:
            return
        with self._lock:
            if self.started or self.stopped:
                return
            for service in self.services:
                try:
                    service.start()
                except Exception:  # one loop failing to start must not keep the app down
                    log.exception("could not start %s", service.name)
            self.started = True
            atexit.register(self.stop)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every service, in reverse order of starting (idempotent)."""
        with self._lock:
            if self.stopped:
                return
            self.stopped = True
        atexit.unregister(self.stop)
        for service in reversed(self.services):
            try:
                service.stop(timeout)
            except Exception:
                log.exception("could not stop %s", service.name)

    def republish(self) -> PublishResult:
        """Publish now (after a master, outline or area change: not an append)."""
        return self.publisher.publish()

    def replan(self) -> list[ReplanReport]:
        """Re-plan the live incident now (after new roads, buildings, residents or shelters)."""
        return self.planner.refresh_live()


def _render_map(features: Mapping[str, Any], texts: Mapping[str, str]) -> str:
    """Folium's ``map.html``; folium is loaded on the first publish, not by importing this."""
    from layers.public_map import shelter_map_html

    return shelter_map_html(features, texts)


def build_runtime(
    store: Store,
    settings: Settings,
    *,
    role: Role,
    render_map: MapRenderer | None = None,
    camera_settings: CameraSettings | None = None,
) -> Runtime:
    """Register the after-save actions on ``store`` and prepare the loops (not started).

    ``role="app"`` (the web app) prepares every loop its settings ask for and re-plans in
    the background; ``role="command"`` registers the same actions, re-plans in the writer's
    thread and prepares no loop (see the module docs). ``camera_settings`` (app only) sets
    up the cameras: the registry is synced into the database, and a registry that fails
    validation is logged and leaves the camera list as it was (a camera typo must never
    keep the shelter app from starting during a disaster).
    """
    from disaster_dx.plans import Planner, create_plan_tables

    publisher = Publisher(store, settings, render_map=render_map or _render_map)
    store.add_listener(publisher)
    notifier = attach_line(store, settings)  # creates the outbox tables, then registers
    create_plan_tables(store)
    planner = Planner(
        store, thresholds=settings.crowding, care_stay_limit_h=settings.care_stay_limit_hours
    ).install(background=role == "app")
    after_save = (
        AfterSave("publish", publisher),
        AfterSave("line-queue", notifier),
        AfterSave("re-plan", planner.on_append),
    )
    runtime = Runtime(
        store=store,
        settings=settings,
        role=role,
        publisher=publisher,
        notifier=notifier,
        planner=planner,
        after_save=after_save,
        replanner=ReplannerService(planner),
        drill_scheduler=DrillSchedulerService(store),
    )
    runtime.services.append(runtime.replanner)
    if role == "command":
        return runtime
    if settings.line_channel_access_token and settings.line_worker == "app":
        runtime.line_sender = LineSenderService(store, settings)
        runtime.services.append(runtime.line_sender)
    if camera_settings is not None:
        runtime.cameras = _cameras(store, settings, camera_settings)
        if runtime.cameras.poller is not None:
            runtime.services.append(runtime.cameras.poller)
    runtime.services.append(runtime.drill_scheduler)
    return runtime


def _cameras(store: Store, settings: Settings, camera_settings: CameraSettings) -> Cameras:
    from disaster_dx.cameras import (
        CameraRegistryError,
        create_camera_tables,
        load_registry,
        sync_registry,
    )
    from disaster_dx.cameras.frames import FrameStore

    create_camera_tables(store)
    registry = None
    try:
        registry = load_registry(camera_settings.registry_file)
        sync_registry(store, registry, actor="app")
    except CameraRegistryError as exc:
        log.error("camera registry refused; the camera list is unchanged:\n%s", exc)
    frames = FrameStore(
        settings.data_dir / "cameras",
        keep=camera_settings.keep_frames,
        keep_age=camera_settings.keep_age,
    )
    poller = None
    if camera_settings.poll_in_app and registry is not None:
        poller = CameraPollerService(store, registry, frames, camera_settings)
    return Cameras(settings=camera_settings, frames=frames, registry=registry, poller=poller)


#: What :func:`build_runtime` names the after-save actions, in order (tests compare the app's
#: and a command's lists against it).
AFTER_SAVE_ACTIONS = ("publish", "line-queue", "re-plan")
