"""Plans of many residents at once: scenario, destinations, routing arrays and statuses.

The pipeline (:func:`plans_for_residents`) is vectorised end to end so a whole city (≈40k
residents, ≈50k-node road graph, ≈100 shelters) takes a fraction of a second:

1. **vertical judgement** per building (:func:`vertical_evacuation`), once per hazard;
2. **join** residents and destinations to the road graph at the nearest point of the nearest
   edge (:func:`disaster_dx.routing.access_points`, exact and vectorised);
3. **door to door**: one multi-source Dijkstra from the destinations' access points, whose
   links include the walk from the road to each destination, so the chosen destination is the
   nearest by the whole walk — home → road → streets → road → destination — and a second
   search for the nearest destination of another site, the alternative
   (:func:`disaster_dx.routing.door_search`); then vectorised route reconstruction;
4. **minutes** at each resident's walking speed, **margin** against the arrival time, and a
   **status** per resident.

Destinations and statuses
-------------------------
Eligible destinations (:func:`eligible_destinations`) are the shelters flagged for the hazard
that are usable in the live state — open AND flagged AND not full
(:meth:`disaster_dx.events.ShelterStatus.usable`) — plus, for tsunamis, buildings designated as
津波避難ビル (``refuge``) that pass the vertical judgement. In ``designated`` mode (planning in
peacetime, when nothing is open) every shelter designated for the hazard counts; sheets made
that way say so.

A resident's status (:class:`PlanStatus`) is ``reachable`` when a destination can be reached
before the arrival time (preparation time + walking time ≤ arrival), ``vertical`` when it cannot
but the home is a safe vertical refuge, ``late`` — **cannot reach safety in time**, flagged for
HQ — otherwise, ``outside`` when the home is outside the hazard area, and ``check`` when the
home position is unknown or far from any road in the network.

Destinations farther than :data:`MAX_SNAP_M` from the network cannot be routed to; they are
never dropped silently: :attr:`PlanSet.far_destinations` lists them, the log warns naming each,
and the CLI and the /plans page show them.

Landslide and long floods add :class:`~disaster_dx.plans.judgement.Caution` s: a plan that
relies on 屋内安全確保 in a 土砂災害警戒区域, or on a person needing care waiting upstairs longer
than the city's limit, is flagged like ``late``; a route that must cross a landslide area says
so. With landslide edge factors (:func:`disaster_dx.landslide.edge_cost_factors`) the search
avoids streets in the areas wherever another way exists.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from disaster_dx.events import State
from disaster_dx.io.residents import Mobility, Resident
from disaster_dx.landslide import ZoneLevel
from disaster_dx.model import CrowdingThresholds, Hazard, Shelter
from disaster_dx.plans.doors import SAME_SITE_M as SAME_SITE_M
from disaster_dx.plans.doors import _Costs, _door_ties, _DoorChoice, _sites
from disaster_dx.plans.judgement import (
    CARE_STAY_LIMIT_H,
    FLAGGING,
    Caution,
    CodeArray,
    FloatArray,
    IntArray,
    Vertical,
    VerticalJudgement,
    VerticalReason,
    cautions_of,
    plan_cautions,
)
from disaster_dx.routing import (
    WALKING_SPEED_M_S,
    Access,
    RoadGraph,
    Routes,
    access_factors,
    access_points,
    access_ties,
    door_search,
    project,
    routes_from_predecessors,
)

if TYPE_CHECKING:
    import geopandas as gpd

log = logging.getLogger(__name__)

#: Residents or destinations farther than this from the nearest road (metres) are not routed:
#: the network is missing their street, and a straight line would be a guess.
MAX_SNAP_M = 300.0
#: Minutes a resident needs before walking out of the door (支度・支援者の到着), by mobility
#: class. Planning defaults; a city sets its own.
PREPARATION_MINUTES: Mapping[str, float] = MappingProxyType(
    {"independent": 5.0, "elderly": 10.0, "wheelchair": 10.0, "with_helper": 15.0}
)
#: Minutes from the warning until the hazard arrives, used when the live incident does not say
#: (``hazard.announced`` ``arrival_at``). The tsunami figure is a **placeholder** for planning:
#: replace it with the city's 津波到達時間 from its 津波浸水想定.
DEFAULT_ARRIVAL_MINUTES: Mapping[Hazard, float] = MappingProxyType({Hazard.TSUNAMI: 20.0})


class PlanStatus(StrEnum):
    """The outcome of one resident's plan; ``late`` is flagged for HQ."""

    REACHABLE = "reachable"
    VERTICAL = "vertical"
    LATE = "late"
    OUTSIDE = "outside"
    CHECK = "check"

    @property
    def ja(self) -> str:
        """Japanese label, shown beside :attr:`symbol` (never colour alone)."""
        return _STATUS_JA[self][0]

    @property
    def symbol(self) -> str:
        """A symbol that reads in black and white."""
        return _STATUS_JA[self][1]

    @property
    def flagged(self) -> bool:
        """Cannot reach safety in time: HQ must know."""
        return self is PlanStatus.LATE


_STATUS_JA = {
    PlanStatus.REACHABLE: ("避難先に間に合う", "○"),
    PlanStatus.VERTICAL: ("間に合わない：自宅の上階へ", "△"),
    PlanStatus.LATE: ("避難が間に合わない", "✕"),
    PlanStatus.OUTSIDE: ("区域外（立退き不要の見込み）", "◇"),
    PlanStatus.CHECK: ("位置不明・要確認", "？"),
}
_STATUSES = tuple(PlanStatus)
_S = {s: np.int8(i) for i, s in enumerate(_STATUSES)}


# -- scenario and destinations ----------------------------------------------------------------

Mode = Literal["live", "designated"]


@dataclass(frozen=True)
class Scenario:
    """What a set of plans is made for.

    Parameters
    ----------
    hazard
        The hazard.
    mode
        ``live``: destinations must be usable in the live state (open, suitable, not full).
        ``designated``: every shelter designated for the hazard counts (peacetime planning).
    arrival_minutes
        Minutes until the hazard arrives (e.g. 津波到達時間), or None when there is no deadline.
    preparation_minutes
        Minutes before leaving, per mobility class.
    speeds
        Walking speed (m/s) per mobility class.
    max_snap_m
        Farthest a home or destination may lie from the road network.
    care_stay_limit_h
        Longest wait upstairs planned for a person needing care (浸水継続時間; setting
        ``CARE_STAY_LIMIT_HOURS``); longer is flagged (:attr:`Caution.LONG_STAY`).
    """

    hazard: Hazard
    mode: Mode = "live"
    arrival_minutes: float | None = None
    preparation_minutes: Mapping[str, float] = field(default_factory=lambda: PREPARATION_MINUTES)
    speeds: Mapping[str, float] = field(default_factory=lambda: WALKING_SPEED_M_S)
    max_snap_m: float = MAX_SNAP_M
    care_stay_limit_h: float = CARE_STAY_LIMIT_H

    def __post_init__(self) -> None:
        if self.mode not in ("live", "designated"):
            raise ValueError(f"mode must be 'live' or 'designated', not {self.mode!r}")
        missing = [m.value for m in Mobility if m.value not in self.speeds]
        if missing or any(not s > 0 for s in self.speeds.values()):
            raise ValueError(f"walking speeds must be > 0 for every class (missing {missing})")
        if self.arrival_minutes is not None and not math.isfinite(self.arrival_minutes):
            raise ValueError("arrival_minutes must be a finite number or None")
        if not (self.care_stay_limit_h > 0 and math.isfinite(self.care_stay_limit_h)):
            raise ValueError("care_stay_limit_h must be a finite number of hours > 0")

    @property
    def label_ja(self) -> str:
        """How the plan sheet names the scenario."""
        mode = (
            "現在の開設状況"
            if self.mode == "live"
            else "平常時の計画（指定避難場所をすべて開設と仮定）"
        )
        return f"{self.hazard.ja}・{mode}"


@dataclass(frozen=True)
class Destination:
    """Somewhere safe to walk to: a shelter, or a designated 津波避難ビル.

    ``destination_id`` is the shelter id, or ``building:<id>`` for a refuge building.
    """

    destination_id: str
    name: str
    kind: Literal["shelter", "refuge"]
    lon: float
    lat: float

    @property
    def kind_ja(self) -> str:
        """Japanese kind label."""
        return "指定避難場所" if self.kind == "shelter" else "津波避難ビル"


def eligible_destinations(
    shelters: Sequence[Shelter],
    state: State | None,
    hazard: Hazard,
    *,
    mode: Mode,
    thresholds: CrowdingThresholds,
    buildings: pd.DataFrame | None = None,
    vertical: VerticalJudgement | None = None,
) -> list[Destination]:
    """Where residents may be sent for ``hazard``: shelters, then refuge buildings.

    A shelter counts only when flagged for the hazard; in ``live`` mode also open and not full
    in ``state`` (:meth:`~disaster_dx.events.ShelterStatus.usable`). For tsunamis, buildings
    marked ``refuge`` (津波避難ビル) count when ``vertical`` judges them safe.
    """
    if mode == "live" and state is None:
        raise ValueError("live mode needs the live state")
    found: list[Destination] = []
    for shelter in shelters:
        if not shelter.suits(hazard):
            continue
        if mode == "live" and state is not None:
            status = state.shelter(shelter.shelter_id)
            if not status.usable(
                hazard, shelter.hazards, thresholds, master_capacity=shelter.capacity
            ):
                continue
        found.append(
            Destination(shelter.shelter_id, shelter.name, "shelter", shelter.lon, shelter.lat)
        )
    if (
        hazard is Hazard.TSUNAMI
        and buildings is not None
        and vertical is not None
        and "refuge" in buildings
        and len(buildings)
    ):
        refuge = buildings["refuge"].fillna(False).to_numpy(dtype=bool) & vertical.safe
        for i in np.flatnonzero(refuge):
            row = buildings.iloc[int(i)]
            name = row.get("name")
            if name is None or pd.isna(name) or not str(name).strip():
                name = f"津波避難ビル {row['building_id']}"
            found.append(
                Destination(
                    f"building:{row['building_id']}",
                    str(name),
                    "refuge",
                    float(row["lon"]),
                    float(row["lat"]),
                )
            )
    return found


# -- residents as arrays ----------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ResidentTable:
    """What routing needs about residents, as arrays (no names, addresses or contacts).

    ``lon``/``lat`` are the home position (NaN when unknown); ``home`` is the row of the home
    building in the building frame (``-1`` when none was found); ``mobility`` indexes
    :class:`~disaster_dx.io.residents.Mobility` member order.
    """

    resident_id: NDArray[np.str_]
    lon: FloatArray
    lat: FloatArray
    mobility: NDArray[np.int8]
    home: IntArray

    def __len__(self) -> int:
        return int(self.resident_id.size)

    @property
    def located(self) -> NDArray[np.bool_]:
        """Whose home position is known."""
        return ~(np.isnan(self.lon) | np.isnan(self.lat))


_MOBILITIES = tuple(Mobility)


def resident_table(
    residents: Sequence[Resident], buildings: gpd.GeoDataFrame | None
) -> ResidentTable:
    """Arrays for routing, with each home building found once.

    The home is the building named by ``building_id``, else the building whose footprint
    contains the position, else the nearest footprint within 15 m (geocoded points often fall
    in the street in front). A resident with a building id but no position is placed at that
    building.
    """
    n = len(residents)
    ids = np.array([r.resident_id for r in residents], dtype=str)
    lon = np.array([np.nan if r.lon is None else r.lon for r in residents], dtype=float)
    lat = np.array([np.nan if r.lat is None else r.lat for r in residents], dtype=float)
    mobility = np.array([_MOBILITIES.index(r.mobility) for r in residents], dtype=np.int8)
    home = np.full(n, -1, dtype=np.intp)
    if buildings is not None and len(buildings) and n:
        position = {bid: i for i, bid in enumerate(buildings["building_id"].astype(str))}
        named = np.array([position.get(r.building_id or "", -1) for r in residents])
        home[:] = named
        placed = (home >= 0) & np.isnan(lon)
        if placed.any():
            lon[placed] = buildings["lon"].to_numpy(dtype=float)[home[placed]]
            lat[placed] = buildings["lat"].to_numpy(dtype=float)[home[placed]]
        look = np.flatnonzero((home < 0) & ~np.isnan(lon))
        if look.size:
            home[look] = _buildings_at(buildings, lon[look], lat[look])
    return ResidentTable(ids, lon, lat, mobility, home)


def _buildings_at(buildings: gpd.GeoDataFrame, lon: FloatArray, lat: FloatArray) -> IntArray:
    """Row of the footprint containing each point, else the nearest within 15 m, else -1."""
    from disaster_dx.routing import to_plane

    found = np.full(lon.size, -1, dtype=np.intp)
    geoms = np.asarray(buildings.geometry.array, dtype=object)
    present = np.flatnonzero(~shapely.is_missing(geoms))
    if present.size == 0:
        return found
    x, y = project(lon, lat)
    transformer = to_plane()

    def to_metres(coords: FloatArray) -> FloatArray:
        px, py = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack((px, py))

    footprints = shapely.transform(geoms[present], to_metres)
    tree = shapely.STRtree(footprints)
    points = shapely.points(x, y)
    p, b = tree.query(points, predicate="within")
    found[p] = present[b]
    rest = np.flatnonzero(found < 0)
    if rest.size:
        (p, b), distance = tree.query_nearest(points[rest], max_distance=15.0, return_distance=True)
        order = np.lexsort((distance, p))
        first = np.ones(order.size, dtype=bool)
        first[1:] = p[order][1:] != p[order][:-1]
        found[rest[p[order][first]]] = present[b[order][first]]
    return found


# -- the pipeline -----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Snapped:
    """Residents joined to a road graph once (homes do not move between re-plans)."""

    access: Access
    #: :func:`access_ties` of ``access`` (every equally near spot, and whose), when computed
    #: with it; re-plans reuse them like the access itself.
    ties: tuple[Access, IntArray] | None = None

    @property
    def distance_m(self) -> FloatArray:
        """Straight walk from each home to the road (``inf`` when not located)."""
        return self.access.distance_m


def snap_residents(graph: RoadGraph, residents: ResidentTable) -> Snapped:
    """Nearest point on the nearest road of each located resident (the others stay unjoined)."""
    access = access_points(graph, residents.lon, residents.lat)
    return Snapped(access, access_ties(graph, access))


@dataclass(frozen=True, eq=False)
class PlanSet:
    """Plans of many residents for one scenario, as arrays (one entry per resident).

    ``destination`` indexes :attr:`destinations` (``-1`` for none); ``length_m`` is door to
    door: home to the nearest point of the nearest road, along the streets, and from the road
    to the destination; ``alt_destination``/``alt_length_m`` the same for the nearest eligible
    destination at another site. ``routes`` holds the routes of routed residents over the
    nodes of :attr:`route_lon`/:attr:`route_lat` (graph nodes, then destination access
    points), ``route_index`` says which route is whose (``-1`` for none).
    ``destination_snap_m`` is each destination's distance to the road network.
    """

    scenario: Scenario
    graph: RoadGraph
    destinations: tuple[Destination, ...]
    residents: ResidentTable
    vertical: VerticalJudgement
    status: CodeArray
    destination: IntArray
    length_m: FloatArray
    minutes: FloatArray
    preparation_min: FloatArray
    margin_min: FloatArray
    snap_m: FloatArray
    routes: Routes
    route_index: IntArray
    alt_destination: IntArray
    alt_length_m: FloatArray
    destination_snap_m: FloatArray
    access_lon: FloatArray
    access_lat: FloatArray
    route_lon: FloatArray
    route_lat: FloatArray
    building_ids: NDArray[np.str_] | None = None
    #: :class:`Caution` bits per resident (None: no caution was computed).
    caution: CodeArray | None = None

    def __len__(self) -> int:
        return len(self.residents)

    @property
    def resident_ids(self) -> NDArray[np.str_]:
        """Resident ids in plan order."""
        return self.residents.resident_id

    @property
    def flagged(self) -> NDArray[np.bool_]:
        """Residents who cannot reach safety in time (late, or staying where it is no refuge)."""
        late: NDArray[np.bool_] = self.status == _S[PlanStatus.LATE]
        if self.caution is not None:
            late = late | ((self.caution & FLAGGING) != 0)
        return late

    def cautions(self, i: int) -> tuple[Caution, ...]:
        """The cautions of resident ``i``'s plan."""
        return () if self.caution is None else cautions_of(int(self.caution[i]))

    def status_of(self, i: int) -> PlanStatus:
        """Status of resident ``i``."""
        return _STATUSES[int(self.status[i])]

    def counts(self) -> dict[PlanStatus, int]:
        """How many residents have each status."""
        tally = np.bincount(self.status.astype(np.intp), minlength=len(_STATUSES))
        return {s: int(tally[i]) for i, s in enumerate(_STATUSES)}

    def index(self) -> dict[str, int]:
        """Resident id → position."""
        return {str(r): i for i, r in enumerate(self.resident_ids)}

    @property
    def far_destinations(self) -> tuple[Destination, ...]:
        """Eligible destinations too far from the road network to be routed to."""
        far = ~(self.destination_snap_m <= self.scenario.max_snap_m)
        return tuple(self.destinations[int(k)] for k in np.flatnonzero(far))

    def destination_id(self, i: int) -> str | None:
        """Id of resident ``i``'s destination, or None."""
        k = int(self.destination[i])
        return None if k < 0 else self.destinations[k].destination_id

    def alt_destination_id(self, i: int) -> str | None:
        """Id of resident ``i``'s alternative destination (another site), or None."""
        k = int(self.alt_destination[i])
        return None if k < 0 else self.destinations[k].destination_id

    def keys(self) -> PlanKeys:
        """What a changed plan would change, per resident, as arrays (for fast diffs)."""
        ids = np.array([d.destination_id for d in self.destinations] + [""], dtype=object)
        return PlanKeys(
            resident_id=self.resident_ids.astype(object),
            status=self.status.astype(np.int8),
            destination_id=ids[self.destination],  # -1 picks the trailing ""
            length_m=_rounded(self.length_m),
            alt_destination_id=ids[self.alt_destination],
            alt_length_m=_rounded(self.alt_length_m),
            flagged=self.flagged,
        )

    def changed_since(self, previous: PlanSet | PlanKeys) -> frozenset[str]:
        """Residents whose status, destinations or route lengths differ from ``previous``."""
        before = previous.keys() if isinstance(previous, PlanSet) else previous
        return frozenset(self.resident_ids[self.keys().differs(before)].tolist())

    def route_lonlat(self, i: int) -> list[tuple[float, float]]:
        """Resident ``i``'s route as (lon, lat) points: home, road, streets, road, destination."""
        k = int(self.route_index[i])
        if k < 0 or self.destination[i] < 0:
            return []
        nodes = self.routes.path(k)
        points = [
            (float(self.residents.lon[i]), float(self.residents.lat[i])),
            (float(self.access_lon[i]), float(self.access_lat[i])),
        ]
        points.extend(
            zip(self.route_lon[nodes].tolist(), self.route_lat[nodes].tolist(), strict=True)
        )
        d = self.destinations[int(self.destination[i])]
        points.append((d.lon, d.lat))
        return [p for j, p in enumerate(points) if j == 0 or p != points[j - 1]]

    def plan(self, i: int) -> Plan:
        """Resident ``i``'s plan as one object (for pages and sheets)."""
        home = int(self.residents.home[i])
        v = self.vertical
        d = int(self.destination[i])
        alt = int(self.alt_destination[i])
        mobility = _MOBILITIES[int(self.residents.mobility[i])]
        return Plan(
            resident_id=str(self.resident_ids[i]),
            scenario=self.scenario,
            status=self.status_of(i),
            destination=None if d < 0 else self.destinations[d],
            length_m=_opt(self.length_m[i]),
            minutes=_opt(self.minutes[i]),
            preparation_min=float(self.preparation_min[i]),
            margin_min=_opt(self.margin_min[i]),
            speed_m_s=float(self.scenario.speeds[mobility.value]),
            mobility=mobility,
            vertical=v.vertical(home) if home >= 0 else Vertical.UNKNOWN,
            vertical_reason=v.reason_of(home) if home >= 0 else VerticalReason.NO_BUILDING,
            floor_m=_opt(v.floor_m[home]) if home >= 0 else None,
            depth_lower_m=_opt(v.depth_lower_m[home], keep_inf=True) if home >= 0 else None,
            depth_upper_m=_opt(v.depth_upper_m[home], keep_inf=True) if home >= 0 else None,
            margin_m=v.margin_m,
            building_id=None
            if home < 0 or self.building_ids is None
            else str(self.building_ids[home]),
            snap_m=_opt(self.snap_m[i]),
            route=tuple(self.route_lonlat(i)),
            alt_destination=None if alt < 0 else self.destinations[alt],
            alt_length_m=_opt(self.alt_length_m[i]),
            cautions=self.cautions(i),
            zone_level=None if home < 0 or v.zone_level is None else int(v.zone_level[home]),
            duration_h=None if home < 0 or v.duration_h is None else _opt(v.duration_h[home]),
        )


def _rounded(length: FloatArray) -> FloatArray:
    """Route lengths as compared between plans: 0.1 m, ``-1`` for none."""
    return np.where(np.isfinite(length), np.round(length, 1), -1.0)


@dataclass(frozen=True, eq=False)
class PlanKeys:
    """Per resident: status code, destination ids (``""`` for none) and rounded lengths.

    Two plans are "the same" when these agree; comparing arrays keeps the diff of a whole
    city's plans at a few milliseconds, which live re-planning needs.
    """

    resident_id: NDArray[np.object_]
    status: NDArray[np.int8]
    destination_id: NDArray[np.object_]
    length_m: FloatArray
    alt_destination_id: NDArray[np.object_]
    alt_length_m: FloatArray
    #: Whether each plan is flagged (a caution can flag a plan whose status did not change);
    #: None when not known, and then not compared.
    flagged: NDArray[np.bool_] | None = None

    def differs(self, before: PlanKeys) -> NDArray[np.bool_]:
        """For each resident here: new, or changed since ``before``."""
        where = _align(self.resident_id, before.resident_id)
        found = where >= 0
        changed = ~found
        k = where[found]
        changed[found] = (
            (self.status[found] != before.status[k])
            | (self.destination_id[found] != before.destination_id[k])
            | (self.length_m[found] != before.length_m[k])
            | (self.alt_destination_id[found] != before.alt_destination_id[k])
            | (self.alt_length_m[found] != before.alt_length_m[k])
        )
        if self.flagged is not None and before.flagged is not None:
            changed[found] |= self.flagged[found] != before.flagged[k]
        return changed

    def missing_from(self, now: PlanKeys) -> NDArray[np.object_]:
        """Residents here that ``now`` no longer has."""
        return self.resident_id[_align(self.resident_id, now.resident_id) < 0]


def _align(ids: NDArray[np.object_], other: NDArray[np.object_]) -> IntArray:
    """Position of each of ``ids`` in ``other`` (``-1`` when absent), without Python loops."""
    if other.size == 0:
        return np.full(ids.size, -1, dtype=np.intp)
    if ids.size == other.size and np.array_equal(ids, other):
        return np.arange(ids.size, dtype=np.intp)
    a = ids.astype(str)
    b = other.astype(str)
    order = np.argsort(b, kind="stable")
    pos = np.minimum(np.searchsorted(b[order], a), b.size - 1)
    hit = b[order][pos] == a
    return np.where(hit, order[pos], -1).astype(np.intp)


def _opt(value: Any, *, keep_inf: bool = False) -> float | None:
    number = float(value)
    if math.isnan(number) or (math.isinf(number) and not keep_inf):
        return None
    return number


@dataclass(frozen=True)
class Plan:
    """One resident's plan for one scenario (ids and numbers; personal data stays in Resident)."""

    resident_id: str
    scenario: Scenario
    status: PlanStatus
    destination: Destination | None
    length_m: float | None
    minutes: float | None
    preparation_min: float
    margin_min: float | None
    speed_m_s: float
    mobility: Mobility
    vertical: Vertical
    vertical_reason: VerticalReason
    floor_m: float | None
    depth_lower_m: float | None
    depth_upper_m: float | None
    margin_m: float
    building_id: str | None
    snap_m: float | None
    route: tuple[tuple[float, float], ...] = ()
    #: The nearest eligible destination at another site, door to door (None when none).
    alt_destination: Destination | None = None
    alt_length_m: float | None = None
    cautions: tuple[Caution, ...] = ()
    #: :class:`~disaster_dx.landslide.ZoneLevel` of the home (landslide plans only).
    zone_level: int | None = None
    #: 浸水継続時間 at the home in hours (river-flood plans, where known).
    duration_h: float | None = None

    @property
    def flagged(self) -> bool:
        """Cannot reach safety in time (late, or staying where it is no real refuge)."""
        return self.status.flagged or any(c.bit & FLAGGING for c in self.cautions)

    @property
    def hazard_label(self) -> str:
        """What :meth:`depth_text` shows: the area for landslide, the depth otherwise."""
        return "土砂災害警戒区域" if self.scenario.hazard is Hazard.LANDSLIDE else "想定浸水深"

    def depth_text(self) -> str:
        """The expected depth as a range, e.g. ``3〜5m（上限5mで判定）``."""
        if self.scenario.hazard is Hazard.LANDSLIDE:
            level = ZoneLevel.UNKNOWN if self.zone_level is None else ZoneLevel(self.zone_level)
            return level.ja
        lower, upper = self.depth_lower_m, self.depth_upper_m
        if upper is None:
            return "不明"
        if upper <= 0:
            return "浸水想定区域外"
        if math.isinf(upper):
            return f"{_m(lower or 0)}以上（上限なし）"
        low = "" if lower is None else f"{_m(lower)}〜"
        return f"{low}{_m(upper)}（上限{_m(upper)}で判定）"

    def vertical_text(self) -> str:
        """The vertical answer with its reason and numbers, in Japanese."""
        reason = self.vertical_reason
        text = f"{self.vertical.ja}：{reason.ja}"
        if reason in (VerticalReason.FLOOR_ABOVE, VerticalReason.FLOOR_BELOW):
            relation = "より高い" if reason is VerticalReason.FLOOR_ABOVE else "以下"
            text += (
                f"（最上階の床 約{_m(self.floor_m or 0)}：想定浸水深の上限 "
                f"{_m(self.depth_upper_m or 0)}＋余裕{_m(self.margin_m)}{relation}）"
            )
        if (
            self.vertical is Vertical.SAFE
            and self.mobility
            in (
                Mobility.WHEELCHAIR,
                Mobility.WITH_HELPER,
            )
            and reason is VerticalReason.FLOOR_ABOVE
        ):
            text += "。階段の移動に介助が必要"
        if self.duration_h is not None:
            text += f"。浸水継続時間 約{self.duration_h:.0f}時間"
        for caution in self.cautions:
            text += f"。{caution.ja}"
        return text


def _m(value: float) -> str:
    return f"{value:.1f}m" if value % 1 else f"{value:.0f}m"


def plans_for_residents(
    graph: RoadGraph,
    residents: ResidentTable,
    vertical: VerticalJudgement,
    destinations: Sequence[Destination],
    scenario: Scenario,
    *,
    snapped: Snapped | None = None,
    building_ids: NDArray[np.str_] | None = None,
    edge_factors: FloatArray | None = None,
) -> PlanSet:
    """Plans for every resident at once: nearest eligible destination, route, time, status.

    Parameters
    ----------
    graph
        The walking network.
    residents
        From :func:`resident_table` (home buildings already found).
    vertical
        :func:`vertical_evacuation` of the same building frame ``residents.home`` indexes.
    destinations
        From :func:`eligible_destinations`.
    scenario
        Hazard, mode, arrival time, preparation times and speeds.
    snapped
        Residents already snapped to ``graph`` (re-planning reuses it); snapped here if None.
    building_ids
        Ids of the building rows, so plans can name the home building.
    edge_factors
        Per-edge cost factors (:func:`disaster_dx.landslide.edge_cost_factors`): the search
        avoids costly streets, lengths stay in metres, and routes over them get
        :attr:`Caution.ZONE_ROUTE`.
    """
    n = len(residents)
    if snapped is None:
        snapped = snap_residents(graph, residents)
    doors = _doors(graph, destinations)
    usable = np.flatnonzero(doors.distance_m <= scenario.max_snap_m)
    _warn_far(graph, destinations, doors.distance_m, scenario.max_snap_m)
    near = doors.take(usable)
    sites = _sites(near)
    # Every spot as near as the named one joins the search (a resident can step onto any).
    homes, home_of = snapped.ties or access_ties(graph, snapped.access)
    door_rows, door_of = _door_ties(graph, near)
    door_sites = sites[door_of]
    search = door_search(graph, door_rows, door_sites, factors=edge_factors)
    costs = None
    if edge_factors is not None:
        home_street, home_off_road = access_factors(graph, homes, edge_factors)
        door_off_road = access_factors(graph, door_rows, edge_factors)[1]
        costs = _Costs(home_street, home_off_road, door_off_road)
    route = _DoorChoice(homes, home_of, door_rows, door_sites, search, scenario.max_snap_m, costs)

    routed = route.routed
    routes = routes_from_predecessors(search.predecessor, route.origin, distance=search.distance)
    route_index = np.full(n, -1, dtype=np.intp)
    route_index[routed] = np.arange(routed.size)
    destination = np.full(n, -1, dtype=np.intp)
    length = np.full(n, np.inf)
    alt_destination = np.full(n, -1, dtype=np.intp)
    alt_length = np.full(n, np.inf)
    found = route.first >= 0
    destination[routed[found]] = usable[door_of[route.first[found]]]
    length[routed] = route.length
    found = route.alt >= 0
    alt_destination[routed[found]] = usable[door_of[route.alt[found]]]
    alt_length[routed] = route.alt_length
    access_lon, access_lat = snapped.access.lon.copy(), snapped.access.lat.copy()
    access_lon[routed], access_lat[routed] = homes.lon[route.row], homes.lat[route.row]
    zone_m = None
    if route.zone_m is not None:  # metres of each chosen route on streets in a landslide area
        zone_m = np.full(n, np.nan)
        zone_m[routed] = route.zone_m

    speeds = np.array([scenario.speeds[m.value] for m in _MOBILITIES])[residents.mobility]
    prep = np.array([scenario.preparation_minutes.get(m.value, 0.0) for m in _MOBILITIES])[
        residents.mobility
    ]
    minutes = length / speeds / 60.0
    if scenario.arrival_minutes is None:
        margin = np.full(n, np.nan)
        in_time = np.isfinite(length)
    else:
        margin = scenario.arrival_minutes - prep - minutes
        in_time = np.isfinite(length) & (margin >= 0)

    home = residents.home
    has_home = home >= 0
    safe_home = np.zeros(n, dtype=bool)
    outside = np.zeros(n, dtype=bool)
    if len(vertical):
        safe_home[has_home] = vertical.safe[home[has_home]]
        outside[has_home] = vertical.outside[home[has_home]]
    status = np.full(n, _S[PlanStatus.LATE], dtype=np.int8)
    status[in_time] = _S[PlanStatus.REACHABLE]
    status[~in_time & safe_home] = _S[PlanStatus.VERTICAL]
    status[outside] = _S[PlanStatus.OUTSIDE]
    unplaced = ~(snapped.distance_m <= scenario.max_snap_m)
    status[unplaced & ~outside] = _S[PlanStatus.CHECK]
    caution = plan_cautions(
        vertical,
        home,
        residents.mobility != _MOBILITIES.index(Mobility.INDEPENDENT),
        status == _S[PlanStatus.VERTICAL],
        zone_m,
        care_stay_limit_h=scenario.care_stay_limit_h,
    )
    return PlanSet(
        scenario=scenario,
        graph=graph,
        destinations=tuple(destinations),
        residents=residents,
        vertical=vertical,
        status=status,
        destination=destination,
        length_m=length,
        minutes=minutes,
        preparation_min=prep,
        margin_min=margin,
        snap_m=snapped.distance_m,
        routes=routes,
        route_index=route_index,
        alt_destination=alt_destination,
        alt_length_m=alt_length,
        destination_snap_m=doors.distance_m,
        access_lon=access_lon,
        access_lat=access_lat,
        route_lon=np.concatenate((graph.lon, door_rows.lon)),
        route_lat=np.concatenate((graph.lat, door_rows.lat)),
        building_ids=building_ids,
        caution=caution,
    )


def _doors(graph: RoadGraph, destinations: Sequence[Destination]) -> Access:
    """Where each destination joins the network, kept per graph (shelters do not move)."""
    lon = np.array([d.lon for d in destinations], dtype=float)
    lat = np.array([d.lat for d in destinations], dtype=float)
    key = ("plans.doors", lon.tobytes(), lat.tobytes())
    doors: Access | None = graph.memo.get(key)
    if doors is None:
        if len(graph.memo) > 64:  # live states come and go; keep the cache small
            graph.memo.clear()
        doors = graph.memo[key] = access_points(graph, lon, lat)
    return doors


#: Far destinations already warned about in this process (the log names each once per graph).
_warned_far: set[tuple[str, float, float, int, int]] = set()


def _warn_far(
    graph: RoadGraph,
    destinations: Sequence[Destination],
    snap_m: FloatArray,
    max_snap_m: float,
) -> None:
    """Log a WARNING naming each destination too far from the network to be routed to."""
    far = np.flatnonzero(~(snap_m <= max_snap_m))
    for k in far.tolist():
        d = destinations[k]
        key = (d.destination_id, d.lon, d.lat, graph.n_nodes, graph.n_edges)
        if key in _warned_far:
            continue  # named once per process and network; PlanSet.far_destinations has all
        _warned_far.add(key)
        log.warning(
            "destination %s (%s) is %s from the road network (limit %.0f m): "
            "no resident can be routed there",
            d.destination_id,
            d.name,
            f"{snap_m[k]:.0f} m" if np.isfinite(snap_m[k]) else "an unknown distance",
            max_snap_m,
        )
    if far.size:
        log.info(
            "%d of %d destination(s) farther than %.0f m from the road network",
            far.size,
            len(destinations),
            max_snap_m,
        )
