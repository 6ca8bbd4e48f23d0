"""The inject scheduler and its lease: exactly one scheduler fires per deployment.

:class:`DrillScheduler` fires due injects of every running drill. It must hold the
``drill-scheduler`` lease (:mod:`disaster_dx.leases`), which it renews while alive; another
process takes over only after the lease expires. It runs either as ``disaster-dx drill run``
(a separate process, recommended with several gunicorn workers) or as a daemon thread the web
app starts when an operator starts a drill (:func:`scheduler_thread`); both compete for the
same lease.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import update

from disaster_dx import leases
from disaster_dx.drills.events import DRILL_ACTOR
from disaster_dx.drills.runs import (
    LEASE_NAME,
    RUNNING,
    Clock,
    DrillError,
    DrillRun,
    FiredInject,
    create_drill_tables,
    drill_run,
    drill_runs,
    drill_runs_list,
    fired_injects,
    stop_drill,
)
from disaster_dx.drills.scenario import format_offset
from disaster_dx.errors import NotFoundError
from disaster_dx.leases import holder_name
from disaster_dx.store import Store

log = logging.getLogger(__name__)

#: How long a scheduler's lease lasts without renewal.
LEASE_SECONDS = 15.0


class _CountMoved(Exception):
    """The ``fired`` counter moved under us: another scheduler counted this inject (rolls back)."""


_holder_name = holder_name


class DrillScheduler:
    """Fires due injects of every running drill; only the holder of the lease fires.

    Parameters
    ----------
    store
        The deployment's store; drill tables are created if missing.
    clock
        Source of "now" (defaults to the store's clock, so event times and schedule agree).
        Tests inject a fake clock and a fake ``sleep`` that advances it: no real waiting.
    holder
        Name recorded in the lease (default ``host:pid:random``).
    lease_seconds
        How long the lease lasts without renewal; another scheduler takes over after that.
    """

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock | None = None,
        holder: str | None = None,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self.store = store
        self.clock = clock or store.clock
        self.holder = holder or _holder_name()
        self.lease_seconds = lease_seconds
        self._lease_until: datetime | None = None
        create_drill_tables(store)

    # -- lease ----------------------------------------------------------------------------------

    @property
    def holds_lease(self) -> bool:
        """Whether this scheduler's lease is still valid by its own clock."""
        return self._lease_until is not None and self.clock() < self._lease_until

    def acquire(self) -> bool:
        """Take or renew the lease; False while another live scheduler holds it.

        Renewal writes only when a third of the lease has passed, so a healthy scheduler
        costs one small write every few seconds.
        """
        now = self.clock()
        lease = timedelta(seconds=self.lease_seconds)
        if self._lease_until is not None and now < self._lease_until - lease * (2 / 3):
            return True
        expires = now + lease
        taken = leases.acquire_one(self.store, LEASE_NAME, self.holder, now, ttl=lease)
        was_holding = self._lease_until is not None
        self._lease_until = expires if taken else None
        if taken and not was_holding:
            log.info("drill scheduler %s holds the lease", self.holder)
            self._reconcile()
        return taken

    def release(self) -> None:
        """Give the lease up at once (a clean shutdown lets another take over immediately)."""
        if self._lease_until is None:
            return
        leases.release(self.store, self.holder, names=[LEASE_NAME])
        self._lease_until = None
        log.info("drill scheduler %s released the lease", self.holder)

    def _reconcile(self) -> None:
        """After taking over, trust the event log over the ``fired`` counter.

        An inject and its ``fired`` update are one transaction now; this still repairs a run
        whose inject was appended by an older version that died before updating the counter,
        so it is not fired twice.
        """
        for run in drill_runs_list(self.store, active_only=True):
            logged = fired_injects(self.store, run.incident_id)
            count = max((f.index for f in logged), default=-1) + 1
            if count > run.fired:
                with self.store.transaction() as conn:
                    conn.execute(
                        update(drill_runs)
                        .where(drill_runs.c.incident_id == run.incident_id)
                        .values(fired=count)
                    )

    # -- firing ---------------------------------------------------------------------------------

    def tick(self) -> list[FiredInject]:
        """Fire every inject that is due now, in order; nothing without the lease."""
        if not self.acquire():
            return []
        fired: list[FiredInject] = []
        for run in drill_runs_list(self.store, active_only=True):
            if run.status != RUNNING:
                continue
            fired.extend(self._fire_due(run))
            self._stop_at_end(run.incident_id)
        return fired

    def _stop_at_end(self, incident_id: str) -> None:
        """Stop a drill whose every inject fired once its scenario's end is reached.

        The stop is recorded at the scripted end (drill time = :attr:`DrillRun.end`, never
        an overrun), by :data:`DRILL_ACTOR`; the operator may still stop earlier.
        """
        run = drill_run(self.store, incident_id)
        end_at = run.end_due_at()
        if not run.all_fired or end_at is None or self.clock() < end_at:
            return
        if not self.holds_lease and not self.acquire():
            return
        try:
            stop_drill(self.store, incident_id, actor=DRILL_ACTOR, clock=lambda: end_at)
        except DrillError:  # the operator stopped or paused it meanwhile
            return
        log.info("drill %s reached its scenario's end and was stopped", incident_id)

    def _fire_due(self, run: DrillRun) -> list[FiredInject]:
        fired: list[FiredInject] = []
        index = run.fired
        while index < len(run.injects):
            now = self.clock()
            inject = run.injects[index]
            # A tiny tolerance: float scenario seconds must not delay an inject due "now".
            if inject.offset.total_seconds() > run.position(now).total_seconds() + 1e-6:
                break
            if not self.holds_lease and not self.acquire():
                break
            try:
                # The inject's events and the counter that says it fired are one transaction:
                # a crash in between can neither lose an inject nor fire it twice.
                with self.store.transaction() as conn:
                    stored = self.store.append(
                        run.incident_id,
                        inject.new_events(fired_at=now, speed=run.speed),
                        actor=DRILL_ACTOR,
                    )
                    moved = conn.execute(
                        update(drill_runs)
                        .where(
                            drill_runs.c.incident_id == run.incident_id,
                            drill_runs.c.fired == index,
                        )
                        .values(fired=index + 1)
                    )
                    if moved.rowcount != 1:
                        raise _CountMoved(run.incident_id, index)
            except NotFoundError:
                log.warning(
                    "drill %s was closed; its remaining injects are dropped", run.incident_id
                )
                break
            except _CountMoved:
                log.warning(
                    "drill %s: inject %d already counted as fired; not fired again",
                    run.incident_id,
                    index,
                )
                break
            marker = stored[0]
            fired.append(
                FiredInject(
                    run.incident_id,
                    marker.seq,
                    marker.at,
                    inject.index,
                    inject.kind,
                    format_offset(inject.offset),
                    inject.summary,
                    inject.shelters,
                )
            )
            log.info("drill %s: inject %d fired (%s)", run.incident_id, index, inject.summary)
            index += 1
        return fired

    def seconds_to_next(self, *, poll: float) -> float:
        """How long to sleep: until the next inject is due, at most ``poll`` seconds."""
        now = self.clock()
        wait = poll
        for run in drill_runs_list(self.store, active_only=True):
            if run.status != RUNNING:
                continue
            due = run.end_due_at() if run.all_fired else run.due_at(run.injects[run.fired])
            if due is not None:
                wait = min(wait, max(0.0, (due - now).total_seconds()))
        return wait

    def run(
        self,
        *,
        should_stop: Callable[[], bool] = lambda: False,
        poll: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        exit_when_idle: bool = False,
    ) -> None:
        """Run until ``should_stop()`` (or, with ``exit_when_idle``, until no drill is active).

        Without the lease it stands by and retries every third of a lease period, so it takes
        over within one lease period if the holder dies.
        """
        failures = 0
        try:
            while not should_stop():
                try:
                    if self.acquire():
                        self.tick()
                        wait = self.seconds_to_next(poll=poll)
                    else:
                        wait = self.lease_seconds / 3
                    if exit_when_idle and not drill_runs_list(self.store, active_only=True):
                        return
                    failures = 0
                except Exception:  # keep the drill going through a passing database hiccup
                    failures += 1
                    log.exception("drill scheduler tick failed (%d in a row)", failures)
                    if failures >= 5:
                        raise
                    wait = min(30.0, poll * 2**failures)
                sleep(wait)
        finally:
            try:
                self.release()
            except Exception:
                log.exception("could not release the drill lease (it will expire)")


def scheduler_thread(store: Store, *, poll: float = 0.5) -> threading.Thread:
    """A daemon thread running a scheduler until no drill is active (the in-app option).

    The web app starts one when an operator starts or resumes a drill. Every worker may
    start one; the lease lets exactly one fire, the others stand by.
    """

    def target() -> None:
        try:
            DrillScheduler(store).run(poll=poll, exit_when_idle=True)
        except Exception:
            log.exception("drill scheduler thread stopped")

    return threading.Thread(target=target, name="drill-scheduler", daemon=True)
