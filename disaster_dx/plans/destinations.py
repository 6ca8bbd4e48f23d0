"""Plans of many residents at once: scenario, destinations, routing arrays and statuses.

The pipeline (:func:`plans_for_residents`) is vectorised end to end so a whole city (≈40k
residents, ≈50k-node road graph, ≈100 shelters) takes a fraction of a second:

1. **vertical judgement** per building (:func:`vertical_evacuation`), once per hazard;
2. **snap** residents and destinations to the road graph (one KD-tree query each);
3. **one multi-source Dijkstra** from all eligible destinations
   (:func:`disaster_dx.routing.nearest_destinations`) and vectorised route reconstruction;
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

Landslide and long floods add :class:`~disaster_dx.plans.judgement.Caution` s: a plan that
relies on 屋内安全確保 in a 土砂災害警戒区域, or on a person needing care waiting upstairs longer
than the city's limit, is flagged like ``late``; a route that must cross a landslide area says
so. With landslide edge factors (:func:`disaster_dx.landslide.edge_cost_factors`) the search
avoids streets in the areas wherever another way exists.
"""

from __future__ import annotations

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
from disaster_dx.landslide import ZoneLevel, route_metres, with_edge_costs
from disaster_dx.model import CrowdingThresholds, Hazard, Shelter
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
    NO_NODE,
    WALKING_SPEED_M_S,
    RoadGraph,
    Routes,
    nearest_destinations,
    nearest_nodes,
    project,
    routes_from_predecessors,
)

if TYPE_CHECKING:
    import geopandas as gpd

#: Residents or destinations farther than this from the nearest road node (metres) are not
#: routed: the network is missing their street, and a straight line would be a guess.
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
    """Residents snapped to a road graph once (homes do not move between re-plans)."""

    node: IntArray
    distance_m: FloatArray


def snap_residents(graph: RoadGraph, residents: ResidentTable) -> Snapped:
    """Nearest road node of each located resident (``-1`` and ``inf`` for the others)."""
    node = np.full(len(residents), NO_NODE, dtype=np.intp)
    distance = np.full(len(residents), np.inf)
    located = residents.located
    if located.any() and graph.n_nodes:
        # routing.nearest_nodes, with the KD-tree query spread over every core.
        x, y = project(residents.lon[located], residents.lat[located])
        found, index = graph.kdtree.query(np.column_stack((x, y)), workers=-1)
        node[located], distance[located] = index, found
    return Snapped(node, distance)


@dataclass(frozen=True, eq=False)
class PlanSet:
    """Plans of many residents for one scenario, as arrays (one entry per resident).

    ``destination`` indexes :attr:`destinations` (``-1`` for none); ``length_m`` includes the
    walks from home to the road and from the road to the destination; ``routes`` holds the
    routes of routed residents, ``route_index`` says which route is whose (``-1`` for none).
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

    def destination_id(self, i: int) -> str | None:
        """Id of resident ``i``'s destination, or None."""
        k = int(self.destination[i])
        return None if k < 0 else self.destinations[k].destination_id

    def keys(self) -> PlanKeys:
        """What a changed plan would change, per resident, as arrays (for fast diffs)."""
        ids = np.array([d.destination_id for d in self.destinations] + [""], dtype=object)
        return PlanKeys(
            resident_id=self.resident_ids.astype(object),
            status=self.status.astype(np.int8),
            destination_id=ids[self.destination],  # -1 picks the trailing ""
            length_m=_rounded(self.length_m),
            flagged=self.flagged,
        )

    def changed_since(self, previous: PlanSet | PlanKeys) -> frozenset[str]:
        """Residents whose status, destination or route length differs from ``previous``."""
        before = previous.keys() if isinstance(previous, PlanSet) else previous
        return frozenset(self.resident_ids[self.keys().differs(before)].tolist())

    def route_lonlat(self, i: int) -> list[tuple[float, float]]:
        """Resident ``i``'s route as (lon, lat) points: home, streets, destination."""
        k = int(self.route_index[i])
        if k < 0:
            return []
        nodes = self.routes.path(k)
        points = [(float(self.residents.lon[i]), float(self.residents.lat[i]))]
        points.extend(
            zip(self.graph.lon[nodes].tolist(), self.graph.lat[nodes].tolist(), strict=True)
        )
        d = int(self.destination[i])
        if d >= 0:
            points.append((self.destinations[d].lon, self.destinations[d].lat))
        return points

    def plan(self, i: int) -> Plan:
        """Resident ``i``'s plan as one object (for pages and sheets)."""
        home = int(self.residents.home[i])
        v = self.vertical
        d = int(self.destination[i])
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
            cautions=self.cautions(i),
            zone_level=None if home < 0 or v.zone_level is None else int(v.zone_level[home]),
            duration_h=None if home < 0 or v.duration_h is None else _opt(v.duration_h[home]),
        )


def _rounded(length: FloatArray) -> FloatArray:
    """Route lengths as compared between plans: 0.1 m, ``-1`` for none."""
    return np.where(np.isfinite(length), np.round(length, 1), -1.0)


@dataclass(frozen=True, eq=False)
class PlanKeys:
    """Per resident: status code, destination id (``""`` for none) and rounded length.

    Two plans are "the same" when these agree; comparing arrays keeps the diff of a whole
    city's plans at a few milliseconds, which live re-planning needs.
    """

    resident_id: NDArray[np.object_]
    status: NDArray[np.int8]
    destination_id: NDArray[np.object_]
    length_m: FloatArray
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
    search = graph if edge_factors is None else with_edge_costs(graph, edge_factors)
    if snapped is None:
        snapped = snap_residents(graph, residents)
    dest_lon = np.array([d.lon for d in destinations], dtype=float)
    dest_lat = np.array([d.lat for d in destinations], dtype=float)
    if len(destinations) and graph.n_nodes:
        dest_node, dest_snap = nearest_nodes(graph, dest_lon, dest_lat)
    else:
        dest_node = np.zeros(0, dtype=np.intp)
        dest_snap = np.zeros(0)
    reachable_dest = np.flatnonzero(dest_snap <= scenario.max_snap_m)
    if graph.n_nodes:
        nearest = nearest_destinations(search, dest_node[reachable_dest])
        predecessor, distance = nearest.predecessor, nearest.distance
        position = nearest.position
    else:  # an empty network routes nobody
        predecessor = position = np.zeros(0, dtype=np.intp)
        distance = np.zeros(0)

    routed = np.flatnonzero((snapped.node >= 0) & (snapped.distance_m <= scenario.max_snap_m))
    routes = routes_from_predecessors(predecessor, snapped.node[routed], distance=distance)
    route_length, zone_m = routes.length, None
    if edge_factors is not None:
        route_length, route_zone_m = route_metres(graph, routes, edge_factors)
        zone_m = np.full(n, np.nan)
        zone_m[routed] = route_zone_m
    route_index = np.full(n, -1, dtype=np.intp)
    route_index[routed] = np.arange(routed.size)

    destination = np.full(n, -1, dtype=np.intp)
    length = np.full(n, np.inf)
    ok = routes.reachable
    who = routed[ok]
    dest_of = reachable_dest[position[snapped.node[who]]]
    destination[who] = dest_of
    length[who] = snapped.distance_m[who] + route_length[ok] + dest_snap[dest_of]

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
    unplaced = ~np.isfinite(snapped.distance_m) | (snapped.distance_m > scenario.max_snap_m)
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
        building_ids=building_ids,
        caution=caution,
    )
