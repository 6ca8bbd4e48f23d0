"""The per-app planning service: cached data, audited reads, live re-planning.

:class:`Planner` is the per-app service: it caches the road graph and buildings per dataset
version and re-plans on every shelter or hazard event (:meth:`Planner.install` registers it as
a store listener), storing what changed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from disaster_dx.auth import Role, User
from disaster_dx.events import (
    HAZARD_ANNOUNCED,
    HAZARD_CLEARED,
    SHELTER_CORRECTION,
    SHELTER_STATUS_REPORTED,
    Event,
    State,
)
from disaster_dx.io.residents import Resident
from disaster_dx.landslide import edge_cost_factors
from disaster_dx.model import CrowdingThresholds, Hazard
from disaster_dx.plans.buildings import load_buildings
from disaster_dx.plans.destinations import (
    DEFAULT_ARRIVAL_MINUTES,
    Mode,
    PlanKeys,
    PlanSet,
    ResidentTable,
    Scenario,
    Snapped,
    eligible_destinations,
    plans_for_residents,
    resident_table,
    snap_residents,
)
from disaster_dx.plans.judgement import (
    CARE_STAY_LIMIT_H,
    PLAN_HAZARDS,
    FloatArray,
    VerticalJudgement,
    vertical_evacuation,
)
from disaster_dx.plans.residents import read_residents
from disaster_dx.plans.storage import (
    DATASET_KINDS,
    REPLAN_ACTOR,
    DatasetInfo,
    _has_tables,
    _require,
    can_replan,
    dataset_infos,
    load_road_graph,
    save_plan_results,
)
from disaster_dx.plans.zones import LANDSLIDE_ZONES, StoredZones, load_landslide_zones
from disaster_dx.routing import RoadGraph
from disaster_dx.store import Store

if TYPE_CHECKING:
    import geopandas as gpd

log = logging.getLogger(__name__)

#: The system account live re-planning reads residents as (audited like any reader).
REPLAN_USER = User(
    username=REPLAN_ACTOR,
    display_name="自動再計算",
    roles=frozenset({Role.PLANNER}),
    shelter_ids=frozenset(),
    disabled=False,
)


@dataclass(frozen=True, eq=False)
class PlanningData:
    """Road graph and buildings as loaded (per dataset version), with per-hazard judgements."""

    graph: RoadGraph | None
    buildings: gpd.GeoDataFrame | None
    infos: Mapping[str, DatasetInfo]
    verticals: dict[Hazard, VerticalJudgement] = field(default_factory=dict)
    landslide_zones: StoredZones | None = None
    _factors: dict[Hazard, FloatArray | None] = field(default_factory=dict)

    @property
    def synthetic(self) -> bool:
        """Whether any dataset in use is the made-up demo (pages and sheets must say so)."""
        return any(i.synthetic for k, i in self.infos.items() if k in DATASET_KINDS)

    @property
    def building_ids(self) -> NDArray[np.str_] | None:
        """Building ids in frame order."""
        if self.buildings is None:
            return None
        ids: NDArray[np.str_] = self.buildings["building_id"].to_numpy(dtype=str)
        return ids

    def vertical(self, hazard: Hazard) -> VerticalJudgement:
        """The vertical judgement of every building for ``hazard`` (computed once)."""
        if hazard not in self.verticals:
            frame = self.buildings if self.buildings is not None else pd.DataFrame()
            self.verticals[hazard] = vertical_evacuation(frame, hazard)
        return self.verticals[hazard]

    def edge_factors(self, hazard: Hazard) -> FloatArray | None:
        """Street cost factors routes for ``hazard`` use (landslide areas), computed once."""
        if hazard not in self._factors:
            factors = None
            if hazard is Hazard.LANDSLIDE and self.graph is not None and self.landslide_zones:
                factors = edge_cost_factors(self.graph, self.landslide_zones.geometry)
            self._factors[hazard] = factors
        return self._factors[hazard]


@dataclass(frozen=True)
class ReplanReport:
    """What one live re-plan changed (ids only)."""

    hazard: Hazard
    changed: frozenset[str]
    flagged: int
    residents: int
    seconds: float
    state_seq: int


@dataclass(frozen=True, eq=False)
class PlanRun:
    """Plans plus the residents they belong to (for pages and sheets; personal data inside)."""

    plans: PlanSet
    residents: tuple[Resident, ...]
    data: PlanningData
    state_seq: int


class Planner:
    """Plans for one app (or CLI run): cached data, audited reads, live re-planning.

    The cache holds the road graph, buildings and per-hazard judgements, reloaded whenever
    their dataset version changes (one cheap query per use), and the residents' routing arrays
    (positions and mobility, no names) per residents version. Nothing here is shared between
    processes: every worker keeps its own copy, checked against the database.

    Parameters
    ----------
    store
        The store.
    thresholds
        Crowding thresholds (``full`` decides "not full").
    default_hazard
        Hazard re-planned live when no hazard is announced.
    clock
        "Now", for arrival times from ``arrival_at``; the store's clock by default.
    care_stay_limit_h
        Longest wait upstairs planned for a person needing care (setting
        ``CARE_STAY_LIMIT_HOURS``); every scenario made here carries it.
    """

    def __init__(
        self,
        store: Store,
        *,
        thresholds: CrowdingThresholds | None = None,
        default_hazard: Hazard = Hazard.TSUNAMI,
        care_stay_limit_h: float = CARE_STAY_LIMIT_H,
    ) -> None:
        self.store = store
        self.thresholds = thresholds or CrowdingThresholds()
        self.default_hazard = default_hazard
        self.care_stay_limit_h = care_stay_limit_h
        self._data: PlanningData | None = None
        self._versions: tuple[int, ...] = ()
        self._table: tuple[int, ResidentTable, Snapped | None, int] | None = None
        # What this planner last stored per hazard, with the results version it left behind:
        # re-planning diffs against it instead of reading every stored plan back.
        self._stored: dict[Hazard, tuple[int, PlanKeys]] = {}
        self._lock = threading.Lock()
        self._replanner: _Replanner | None = None
        self._background = False
        self._closed = False
        # Not ``_lock``: that one is held for a whole re-plan, and writers must never wait.
        self._worker_lock = threading.Lock()
        self.last_reports: tuple[ReplanReport, ...] = ()

    # data ----------------------------------------------------------------------------------

    def data(self) -> PlanningData:
        """Road graph, buildings and landslide areas, reloaded only when their version changed."""
        infos = dataset_infos(self.store) if _has_tables(self.store) else {}
        kinds = ("roads", "buildings", LANDSLIDE_ZONES)
        versions = tuple(infos[k].version if k in infos else 0 for k in kinds)
        if self._data is None or versions != self._versions:
            graph = load_road_graph(self.store) if versions[0] else None
            buildings = load_buildings(self.store) if versions[1] else None
            zones = load_landslide_zones(self.store) if versions[2] else None
            self._data = PlanningData(graph, buildings, infos, landslide_zones=zones)
            if self._versions[:2] != versions[:2]:  # residents' homes and snaps depend on them
                self._table = None
            self._versions = versions
        else:
            self._data = PlanningData(
                self._data.graph,
                self._data.buildings,
                infos,
                self._data.verticals,
                self._data.landslide_zones,
                self._data._factors,
            )
        return self._data

    def _routing_table(
        self, user: User, data: PlanningData, *, purpose: str, with_residents: bool
    ) -> tuple[ResidentTable, Snapped | None, list[Resident]]:
        """Residents as routing arrays, rebuilt only when the list changed; always audited.

        With ``with_residents`` the full records are read (for display); otherwise the cached
        arrays (positions and mobility only) serve, and the read is audited all the same.
        """
        version = data.infos["residents"].version if "residents" in data.infos else 0
        graph_version = self._versions[0] if self._versions else 0
        cached = self._table
        fresh = cached is not None and cached[0] == version and cached[3] == graph_version
        if fresh and not with_residents:
            _require(self.store, user, "residents.read", target=purpose)
            assert cached is not None
            self.store.audit(
                user.username,
                "residents.read",
                target="all",
                detail={"purpose": purpose, "count": len(cached[1]), "fields": "routing"},
            )
            return cached[1], cached[2], []
        residents = read_residents(self.store, user, purpose=purpose)
        if fresh:
            assert cached is not None
            return cached[1], cached[2], residents
        table = resident_table(residents, data.buildings)
        snapped = snap_residents(data.graph, table) if data.graph is not None else None
        self._table = (version, table, snapped, graph_version)
        return table, snapped, residents

    # planning --------------------------------------------------------------------------------

    def scenario_for(
        self,
        hazard: Hazard,
        *,
        mode: Mode,
        state: State | None = None,
        arrival_minutes: float | None = None,
        now: datetime | None = None,
    ) -> Scenario:
        """A scenario, taking the arrival time from the live hazard announcement if any."""
        if arrival_minutes is None and mode == "live" and state is not None:
            announced = state.hazards.get(hazard)
            if announced is not None and announced.arrival_at is not None:
                moment = now or self.store.clock()
                arrival_minutes = max((announced.arrival_at - moment).total_seconds() / 60, 0.0)
        if arrival_minutes is None:
            arrival_minutes = DEFAULT_ARRIVAL_MINUTES.get(hazard)
        return Scenario(
            hazard,
            mode=mode,
            arrival_minutes=arrival_minutes,
            care_stay_limit_h=self.care_stay_limit_h,
        )

    def compute(
        self,
        user: User,
        scenario: Scenario,
        *,
        purpose: str,
        state: State | None = None,
        with_residents: bool = True,
    ) -> PlanRun | None:
        """Plans of every resident for ``scenario`` (audited read); None without a network.

        ``with_residents`` also returns the residents' records (names etc.) for display.
        """
        data = self.data()
        if data.graph is None:
            return None
        seq = 0
        if scenario.mode == "live" and state is None:
            incident = self.store.live_incident(actor="plans")
            state = self.store.state(incident.incident_id)
        if state is not None:
            seq = state.seq
        table, snapped, residents = self._routing_table(
            user, data, purpose=purpose, with_residents=with_residents
        )
        vertical = data.vertical(scenario.hazard)
        destinations = eligible_destinations(
            self.store.shelters(),
            state,
            scenario.hazard,
            mode=scenario.mode,
            thresholds=self.thresholds,
            buildings=data.buildings,
            vertical=vertical,
        )
        plans = plans_for_residents(
            data.graph,
            table,
            vertical,
            destinations,
            scenario,
            snapped=snapped,
            building_ids=data.building_ids,
            edge_factors=data.edge_factors(scenario.hazard),
        )
        return PlanRun(plans, tuple(residents), data, seq)

    def live_hazards(self, state: State) -> list[Hazard]:
        """Hazards re-planned live: those announced that plans judge, else the default."""
        announced = [h for h in state.hazards if h in PLAN_HAZARDS]
        return announced or [self.default_hazard]

    def refresh_live(self) -> list[ReplanReport]:
        """Re-plan every resident against the live state and store what changed."""
        with self._lock:  # one re-plan at a time per process; the database orders processes
            return self._refresh_live()

    def _refresh_live(self) -> list[ReplanReport]:
        if not can_replan(self.store):
            return []  # nothing to plan: skip folding the incident on every write
        incident = self.store.live_incident(actor="plans")
        state = self.store.state(incident.incident_id)
        reports = []
        for hazard in self.live_hazards(state):
            start = time.perf_counter()
            scenario = self.scenario_for(hazard, mode="live", state=state)
            run = self.compute(
                REPLAN_USER, scenario, purpose="replan", state=state, with_residents=False
            )
            if run is None or len(run.plans) == 0:
                continue
            saved = save_plan_results(
                self.store,
                run.plans,
                incident_id=incident.incident_id,
                state_seq=state.seq,
                previous=self._stored.get(hazard),
            )
            changed = saved.changed
            if not saved.skipped_as_older:
                self._stored[hazard] = (saved.version, saved.keys)
            report = ReplanReport(
                hazard,
                changed,
                int(run.plans.flagged.sum()),
                len(run.plans),
                time.perf_counter() - start,
                state.seq,
            )
            reports.append(report)
            log.info(
                "live plans (%s) at seq %d: %d of %d changed, %d cannot reach safety in time "
                "(%.0f ms)",
                hazard.value,
                state.seq,
                len(changed),
                report.residents,
                report.flagged,
                report.seconds * 1000,
            )
        self.last_reports = tuple(reports)
        return reports

    def on_append(self, incident_id: str, events: list[Event]) -> None:
        """Store listener: re-plan after a shelter or hazard change in the live incident.

        In the background when installed so (the web app): the writer's request returns at
        once and HQ sees the new plans on its next poll.
        """
        relevant = {SHELTER_STATUS_REPORTED, SHELTER_CORRECTION, HAZARD_ANNOUNCED, HAZARD_CLEARED}
        if not any(e.type in relevant for e in events):
            return
        try:
            incident = self.store.incident(incident_id)
            if incident.is_drill:
                return
            if self._background:
                if not self._closed:
                    self._worker().request()
            else:
                self.refresh_live()
        except Exception as exc:  # never let re-planning break a write; say so without data
            log.error("live re-planning failed after %s: %s", incident_id, type(exc).__name__)

    def install(self, *, background: bool = False) -> Planner:
        """Register :meth:`on_append` as a listener of the store; returns self.

        With ``background``, re-planning runs on one worker thread of this planner, and
        requests that arrive while it runs are folded into one more run: however many
        writes come in, plans are at most one run behind and writers never wait for them.
        """
        self._background = self._background or background
        self.store.add_listener(self.on_append)
        return self

    def _worker(self) -> _Replanner:
        """The background worker, started on first use in this process.

        Started lazily (not in :meth:`install`), so a server that forks its workers after
        loading the app (gunicorn ``--preload``) gets a live thread in every worker: threads
        do not survive a fork.
        """
        with self._worker_lock:
            if self._replanner is None or not self._replanner.is_alive():
                self._replanner = _Replanner(self)
                self._replanner.start()
            return self._replanner

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no background re-plan is queued or running (tests, clean shutdown)."""
        return self._replanner is None or self._replanner.wait_idle(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the background worker after its current run (if any); no new one starts."""
        self._closed = True
        if self._replanner is not None:
            self._replanner.close(timeout)


class _Replanner(threading.Thread):
    """The background worker of :meth:`Planner.install` (one per planner, coalescing)."""

    def __init__(self, planner: Planner) -> None:
        super().__init__(name="live-replanning", daemon=True)
        self.planner = planner
        self._changed = threading.Condition()
        self._pending = False
        self._busy = False
        self._closed = False

    def request(self) -> None:
        with self._changed:
            self._pending = True
            self._changed.notify_all()

    def run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._pending or self._closed)
                if self._closed:
                    return
                self._pending, self._busy = False, True
            try:
                self.planner.refresh_live()
            except Exception as exc:  # keep the worker alive; say so without data
                log.error("background live re-planning failed: %s", type(exc).__name__)
            finally:
                with self._changed:
                    self._busy = False
                    self._changed.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: not (self._pending or self._busy), timeout)

    def close(self, timeout: float) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        self.join(timeout)
