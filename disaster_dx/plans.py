"""Individual evacuation plans (個別避難計画) for residents who need help, and live re-planning.

For each resident on the 避難行動要支援者 list and one hazard, a plan answers: *is the home in the
hazard area, could they stay on an upper floor, which suitable shelter is nearest on foot, by
which streets, how long does it take at their speed — and is that before the water arrives?*
HQ needs the same answer during an incident for everyone at once, re-computed the moment a
shelter closes or fills up.

The pipeline (:func:`plans_for_residents`) is vectorised end to end so a whole city (≈40k
residents, ≈50k-node road graph, ≈100 shelters) takes a fraction of a second:

1. **vertical judgement** per building (:func:`vertical_evacuation`), once per hazard;
2. **snap** residents and destinations to the road graph (one KD-tree query each);
3. **one multi-source Dijkstra** from all eligible destinations
   (:func:`disaster_dx.routing.nearest_destinations`) and vectorised route reconstruction;
4. **minutes** at each resident's walking speed, **margin** against the arrival time, and a
   **status** per resident.

Vertical evacuation: assumptions
--------------------------------
A building is a safe vertical refuge for a depth hazard when the floor of its highest storey is
above the *upper bound* of the expected depth plus a margin:

- **Floor height.** The highest storey's floor is taken at ``(storeys − 1) ×``
  :data:`STOREY_HEIGHT_M` (3.0 m, a typical storey of Japanese houses and low-rise buildings,
  slab to slab). With only a measured height (PLATEAU ``measuredHeight``, to the highest point
  of the roof) it is ``height − 3.0 m``: one storey below the top. With both, the lower of the
  two estimates is used. The ground floor's raised floor (床高) is ignored, which errs safe.
- **Margin.** :data:`SAFETY_MARGIN_M` (1.0 m) above the depth's upper bound, for the coarseness
  of depth classes and building heights.
- **Depth as a range.** Depth classes ("3m以上 5m未満") and PLATEAU ranks are ranges: the judgement
  uses the upper bound; an open class (rank 6, "10m以上") is never safe.
- **Structure rule.** In a tsunami inundation area, a wooden building (PLATEAU structure code
  ``601`` 木造・土蔵造) is **not** a safe refuge whatever its height: tsunami flow and debris
  wash away or destroy wooden houses at depths that would not reach their upper floor. When the
  structure is unknown the answer is "unknown", never "safe". River floods, high tide and
  inland flooding do not apply this rule (areas where river floods may wash houses away,
  家屋倒壊等氾濫想定区域, are not modelled here).
- **Unknown stays unknown.** No depth data, no height and no storeys, or no home building found
  → :attr:`Vertical.UNKNOWN` with the reason; never "safe". A home with depth 0 (outside the
  assumed area) is safe to stay in.

These are planning defaults, not a legal standard; a city passes its own criteria (for example
its 津波避難ビル designation rules) through the keyword arguments.

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

Storage, access and privacy
---------------------------
Roads, buildings, residents and the latest live plan results live in this module's own tables
(:data:`plan_metadata`, created by :func:`create_plan_tables`). Resident data is personal: every
read goes through a function that takes the reading :class:`~disaster_dx.auth.User`, refuses
anyone but ``planner``/``admin`` (HQ may see flagged positions only, without names) and writes
an audit entry naming resident **ids**, never names. Log lines carry counts and ids only.

:class:`Planner` is the per-app service: it caches the road graph and buildings per dataset
version and re-plans on every shelter or hazard event (:meth:`Planner.install` registers it as
a store listener), storing what changed.
"""

from __future__ import annotations

import io
import itertools
import logging
import math
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    delete,
    insert,
    select,
    update,
)

from disaster_dx.auth import Role, User
from disaster_dx.errors import DisasterDxError, NotFoundError
from disaster_dx.events import (
    HAZARD_ANNOUNCED,
    HAZARD_CLEARED,
    SHELTER_CORRECTION,
    SHELTER_STATUS_REPORTED,
    Event,
    State,
)
from disaster_dx.io.residents import Mobility, Resident
from disaster_dx.model import CrowdingThresholds, Hazard, Shelter
from disaster_dx.routing import (
    NO_NODE,
    WALKING_SPEED_M_S,
    RoadGraph,
    Routes,
    graph_from_arrays,
    nearest_destinations,
    nearest_nodes,
    project,
    routes_from_predecessors,
)
from disaster_dx.store import Store, UTCDateTime

if TYPE_CHECKING:
    import geopandas as gpd

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
CodeArray = NDArray[np.int8]

#: Assumed height of one storey (metres, floor to floor). See the module docstring.
STOREY_HEIGHT_M = 3.0
#: Required clearance (metres) of the highest floor above the depth's upper bound.
SAFETY_MARGIN_M = 1.0
#: PLATEAU structure codes counted as wooden for the tsunami rule (601 木造・土蔵造).
WOODEN_STRUCTURES = frozenset({"601"})
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
#: Hazards with depth data, and the building column prefix that holds it (PLATEAU's names).
DEPTH_COLUMNS: Mapping[Hazard, str] = MappingProxyType(
    {
        Hazard.TSUNAMI: "tsunami",
        Hazard.FLOOD: "flood",
        Hazard.STORM_SURGE: "high_tide",
        Hazard.INLAND_FLOOD: "inland_flood",
    }
)
#: Hazards a plan can be made for on the /plans page (those with depth data).
PLAN_HAZARDS: tuple[Hazard, ...] = tuple(DEPTH_COLUMNS)

#: The system account live re-planning reads residents as (audited like any reader).
REPLAN_USER = User(
    username="system:replan",
    display_name="自動再計算",
    roles=frozenset({Role.PLANNER}),
    shelter_ids=frozenset(),
    disabled=False,
)


class NotPermitted(DisasterDxError):
    """The user may not read or change resident data (refused and audit-logged)."""


# -- vocabulary -------------------------------------------------------------------------------


class Vertical(StrEnum):
    """Whether staying on the highest floor of a building is safe for one hazard."""

    SAFE = "safe"
    NOT_SAFE = "not_safe"
    UNKNOWN = "unknown"

    @property
    def ja(self) -> str:
        """Japanese label."""
        return {"safe": "上階避難可", "not_safe": "上階避難不可", "unknown": "判定不能（要確認）"}[
            self.value
        ]

    @property
    def symbol(self) -> str:
        """A symbol that reads without colour."""
        return {"safe": "○", "not_safe": "✕", "unknown": "？"}[self.value]


class VerticalReason(StrEnum):
    """Why a building got its :class:`Vertical` answer."""

    OUTSIDE = "outside"
    FLOOR_ABOVE = "floor_above"
    FLOOR_BELOW = "floor_below"
    WOODEN_TSUNAMI = "wooden_tsunami"
    UNBOUNDED = "unbounded"
    DEPTH_UNKNOWN = "depth_unknown"
    HEIGHT_UNKNOWN = "height_unknown"
    STRUCTURE_UNKNOWN = "structure_unknown"
    NO_BUILDING = "no_building"
    NOT_APPLICABLE = "not_applicable"

    @property
    def ja(self) -> str:
        """Japanese explanation without numbers (see :meth:`Plan.vertical_text`)."""
        return _REASON_JA[self]


_REASON_JA = {
    VerticalReason.OUTSIDE: "浸水想定区域の外にある",
    VerticalReason.FLOOR_ABOVE: "最上階の床が想定浸水深の上限＋余裕より高い",
    VerticalReason.FLOOR_BELOW: "最上階の床が想定浸水深の上限＋余裕より低い",
    VerticalReason.WOODEN_TSUNAMI: "木造のため、津波で流失・倒壊するおそれがある",
    VerticalReason.UNBOUNDED: "想定浸水深に上限がない（最も深い区分）",
    VerticalReason.DEPTH_UNKNOWN: "この建物の想定浸水深が分からない",
    VerticalReason.HEIGHT_UNKNOWN: "建物の高さ・階数が分からない",
    VerticalReason.STRUCTURE_UNKNOWN: "構造が分からない（木造でないことを確認できない）",
    VerticalReason.NO_BUILDING: "自宅の建物が特定できない",
    VerticalReason.NOT_APPLICABLE: "この災害では上階避難の判定をしない",
}
_VERTICALS = (Vertical.SAFE, Vertical.NOT_SAFE, Vertical.UNKNOWN)
_REASONS = tuple(VerticalReason)
_V = {v: np.int8(i) for i, v in enumerate(_VERTICALS)}
_R = {r: np.int8(i) for i, r in enumerate(_REASONS)}


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


# -- vertical judgement -----------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class VerticalJudgement:
    """Per building (in frame order): the answer, the reason and the numbers behind them.

    Attributes
    ----------
    hazard
        The hazard judged.
    code, reason
        Indices into :class:`Vertical` / :class:`VerticalReason` member order (small ints, so
        40k buildings cost no Python objects); use :meth:`vertical` / :meth:`reason_of`.
    floor_m
        Estimated floor height of the highest storey (NaN when unknown).
    depth_lower_m, depth_upper_m
        The expected depth range (NaN when unknown; 0 outside the hazard area).
    """

    hazard: Hazard
    code: CodeArray
    reason: CodeArray
    floor_m: FloatArray
    depth_lower_m: FloatArray
    depth_upper_m: FloatArray
    margin_m: float = SAFETY_MARGIN_M
    storey_height_m: float = STOREY_HEIGHT_M

    def __len__(self) -> int:
        return int(self.code.size)

    def vertical(self, i: int) -> Vertical:
        """The answer for building ``i``."""
        return _VERTICALS[int(self.code[i])]

    def reason_of(self, i: int) -> VerticalReason:
        """The reason for building ``i``."""
        return _REASONS[int(self.reason[i])]

    @property
    def safe(self) -> NDArray[np.bool_]:
        """Which buildings are safe vertical refuges."""
        safe: NDArray[np.bool_] = self.code == _V[Vertical.SAFE]
        return safe


def vertical_evacuation(
    buildings: pd.DataFrame,
    hazard: Hazard,
    *,
    storey_height_m: float = STOREY_HEIGHT_M,
    margin_m: float = SAFETY_MARGIN_M,
    wooden: Iterable[str] = WOODEN_STRUCTURES,
) -> VerticalJudgement:
    """Judge every building at once: safe / not safe / unknown for vertical evacuation.

    Parameters
    ----------
    buildings
        A building frame (from :mod:`disaster_dx.io.plateau`, :mod:`disaster_dx.io.hazard_zones`
        or :func:`load_buildings`) with ``height_m``, ``storeys``, ``structure`` and, for depth
        hazards, ``<h>_depth_upper_m`` (and optionally ``<h>_depth_lower_m`` /
        ``<h>_depth_m``). Missing columns mean unknown.
    hazard
        The hazard; hazards without depth data get ``unknown`` / ``not_applicable``.
    storey_height_m, margin_m, wooden
        The assumptions of the module docstring.
    """
    if storey_height_m <= 0 or margin_m < 0:
        raise ValueError("storey_height_m must be > 0 and margin_m ≥ 0")
    n = len(buildings)
    code = np.full(n, _V[Vertical.UNKNOWN], dtype=np.int8)
    reason = np.full(n, _R[VerticalReason.NOT_APPLICABLE], dtype=np.int8)
    floor = _floor_height(buildings, storey_height_m)
    prefix = DEPTH_COLUMNS.get(hazard)
    if prefix is None:
        nan = np.full(n, np.nan)
        return VerticalJudgement(hazard, code, reason, floor, nan, nan.copy(), margin_m)
    upper = _float_column(buildings, f"{prefix}_depth_upper_m")
    lower = _float_column(buildings, f"{prefix}_depth_lower_m")
    if np.isnan(lower).all():
        lower = _float_column(buildings, f"{prefix}_depth_m")
    if "structure" in buildings:
        structure = buildings["structure"].astype(object)
        known_structure = (structure.notna() & ~structure.isin(["611", ""])).to_numpy(bool)
        is_wooden = structure.isin(list(wooden)).to_numpy(bool) & known_structure
    else:
        known_structure = np.zeros(n, dtype=bool)
        is_wooden = np.zeros(n, dtype=bool)

    depth_known = ~np.isnan(upper)
    outside = depth_known & (upper <= 0)
    unbounded = depth_known & np.isinf(upper)
    flooded = depth_known & (upper > 0) & ~unbounded
    tsunami = hazard is Hazard.TSUNAMI
    floor_known = ~np.isnan(floor)
    high_enough = floor_known & (floor >= np.where(flooded, upper, 0.0) + margin_m)
    conditions = [
        ~depth_known,
        outside,
        unbounded,
        flooded & tsunami & is_wooden,
        flooded & ~floor_known,
        flooded & ~high_enough,
        flooded & tsunami & ~known_structure,
        flooded,
    ]
    choices = [
        (Vertical.UNKNOWN, VerticalReason.DEPTH_UNKNOWN),
        (Vertical.SAFE, VerticalReason.OUTSIDE),
        (Vertical.NOT_SAFE, VerticalReason.UNBOUNDED),
        (Vertical.NOT_SAFE, VerticalReason.WOODEN_TSUNAMI),
        (Vertical.UNKNOWN, VerticalReason.HEIGHT_UNKNOWN),
        (Vertical.NOT_SAFE, VerticalReason.FLOOR_BELOW),
        (Vertical.UNKNOWN, VerticalReason.STRUCTURE_UNKNOWN),
        (Vertical.SAFE, VerticalReason.FLOOR_ABOVE),
    ]
    code = np.select(conditions, [_V[v] for v, _ in choices], default=code).astype(np.int8)
    reason = np.select(conditions, [_R[r] for _, r in choices], default=reason).astype(np.int8)
    return VerticalJudgement(hazard, code, reason, floor, lower, upper, margin_m, storey_height_m)


def _float_column(frame: pd.DataFrame, name: str) -> FloatArray:
    if name not in frame:
        return np.full(len(frame), np.nan)
    return np.array(pd.to_numeric(frame[name], errors="coerce"), dtype=float)  # a copy


def _floor_height(buildings: pd.DataFrame, storey_height_m: float) -> FloatArray:
    """Highest storey's floor: from storeys, from measured height, the lower of both."""
    storeys = _float_column(buildings, "storeys")
    height = _float_column(buildings, "height_m")
    storeys[storeys < 1] = np.nan
    height[height <= 0] = np.nan
    by_storeys = (storeys - 1.0) * storey_height_m
    by_height = np.maximum(height - storey_height_m, 0.0)
    return np.fmin(by_storeys, by_height)  # fmin ignores a NaN on one side


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
    """

    hazard: Hazard
    mode: Mode = "live"
    arrival_minutes: float | None = None
    preparation_minutes: Mapping[str, float] = field(default_factory=lambda: PREPARATION_MINUTES)
    speeds: Mapping[str, float] = field(default_factory=lambda: WALKING_SPEED_M_S)
    max_snap_m: float = MAX_SNAP_M

    def __post_init__(self) -> None:
        if self.mode not in ("live", "designated"):
            raise ValueError(f"mode must be 'live' or 'designated', not {self.mode!r}")
        missing = [m.value for m in Mobility if m.value not in self.speeds]
        if missing or any(not s > 0 for s in self.speeds.values()):
            raise ValueError(f"walking speeds must be > 0 for every class (missing {missing})")
        if self.arrival_minutes is not None and not math.isfinite(self.arrival_minutes):
            raise ValueError("arrival_minutes must be a finite number or None")

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

    def __len__(self) -> int:
        return len(self.residents)

    @property
    def resident_ids(self) -> NDArray[np.str_]:
        """Resident ids in plan order."""
        return self.residents.resident_id

    @property
    def flagged(self) -> NDArray[np.bool_]:
        """Residents who cannot reach safety in time."""
        late: NDArray[np.bool_] = self.status == _S[PlanStatus.LATE]
        return late

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

    @property
    def flagged(self) -> bool:
        """Cannot reach safety in time."""
        return self.status.flagged

    def depth_text(self) -> str:
        """The expected depth as a range, e.g. ``3〜5m（上限5mで判定）``."""
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
            text += (
                f"（最上階の床 約{_m(self.floor_m or 0)}、想定浸水深の上限 "
                f"{_m(self.depth_upper_m or 0)}＋余裕{_m(self.margin_m)}）"
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
    """
    n = len(residents)
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
        nearest = nearest_destinations(graph, dest_node[reachable_dest])
        predecessor, distance = nearest.predecessor, nearest.distance
        position = nearest.position
    else:  # an empty network routes nobody
        predecessor = position = np.zeros(0, dtype=np.intp)
        distance = np.zeros(0)

    routed = np.flatnonzero((snapped.node >= 0) & (snapped.distance_m <= scenario.max_snap_m))
    routes = routes_from_predecessors(predecessor, snapped.node[routed], distance=distance)
    route_index = np.full(n, -1, dtype=np.intp)
    route_index[routed] = np.arange(routed.size)

    destination = np.full(n, -1, dtype=np.intp)
    length = np.full(n, np.inf)
    ok = routes.reachable
    who = routed[ok]
    dest_of = reachable_dest[position[snapped.node[who]]]
    destination[who] = dest_of
    length[who] = snapped.distance_m[who] + routes.length[ok] + dest_snap[dest_of]

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
        upper = vertical.depth_upper_m[home[has_home]]
        outside[has_home] = ~np.isnan(upper) & (upper <= 0)
    status = np.full(n, _S[PlanStatus.LATE], dtype=np.int8)
    status[in_time] = _S[PlanStatus.REACHABLE]
    status[~in_time & safe_home] = _S[PlanStatus.VERTICAL]
    status[outside] = _S[PlanStatus.OUTSIDE]
    unplaced = ~np.isfinite(snapped.distance_m) | (snapped.distance_m > scenario.max_snap_m)
    status[unplaced & ~outside] = _S[PlanStatus.CHECK]
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
    )


# -- storage ------------------------------------------------------------------------------------

#: This module's own tables (the store's schema is not touched).
plan_metadata = MetaData()

plan_datasets = Table(
    "plan_datasets",
    plan_metadata,
    Column("kind", String(32), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("source", Text, nullable=False),
    Column("sha256", String(64), nullable=False, default=""),
    Column("imported_at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("synthetic", Boolean, nullable=False, default=False),
    Column("summary", JSON, nullable=False),
    Column("payload", LargeBinary),
)

plan_buildings = Table(
    "plan_buildings",
    plan_metadata,
    Column("building_id", String(128), primary_key=True),
    Column("name", String(300)),
    Column("lon", Float, nullable=False),
    Column("lat", Float, nullable=False),
    Column("footprint", LargeBinary),
    Column("height_m", Float),
    Column("storeys", Integer),
    Column("structure", String(8)),
    Column("refuge", Boolean, nullable=False, default=False),
    Column("depths", JSON, nullable=False),
)

plan_residents = Table(
    "plan_residents",
    plan_metadata,
    Column("resident_id", String(64), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("address", String(300), nullable=False, default=""),
    Column("lon", Float),
    Column("lat", Float),
    Column("mobility", String(16), nullable=False),
    Column("needs", JSON, nullable=False),
    Column("supporter_name", String(100), nullable=False, default=""),
    Column("supporter_contact", String(200), nullable=False, default=""),
    Column("consent", Boolean, nullable=False, default=False),
    Column("building_id", String(128)),
    Column("note", Text, nullable=False, default=""),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(64), nullable=False),
)

plan_results = Table(
    "plan_results",
    plan_metadata,
    Column("resident_id", String(64), primary_key=True),
    Column("hazard", String(32), primary_key=True),
    Column("incident_id", String(64), nullable=False),
    Column("state_seq", Integer, nullable=False),
    Column("computed_at", UTCDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("flagged", Boolean, nullable=False),
    Column("destination_id", String(200)),
    Column("length_m", Float),
    Column("minutes", Float),
    Column("margin_min", Float),
    Index("ix_plan_results_flagged", "flagged", "hazard"),
)

DATASET_KINDS = ("roads", "buildings", "residents")


def create_plan_tables(store: Store) -> None:
    """Create this module's tables if missing (idempotent and race-safe)."""
    store.create_tables(plan_metadata)


@dataclass(frozen=True)
class DatasetInfo:
    """Which roads, buildings or residents are loaded, from where, and whether made up."""

    kind: str
    version: int
    source: str
    imported_at: datetime
    actor: str
    synthetic: bool
    summary: Mapping[str, Any]


def dataset_infos(store: Store) -> dict[str, DatasetInfo]:
    """The loaded datasets by kind (one cheap query: pages and caches check it first)."""
    columns = [c for c in plan_datasets.c if c.name != "payload"]
    with store._read() as conn:
        rows = conn.execute(select(*columns))
        return {
            r.kind: DatasetInfo(
                r.kind, r.version, r.source, r.imported_at, r.actor, r.synthetic, r.summary
            )
            for r in rows
        }


def _bump_dataset(
    conn: Any,
    store: Store,
    kind: str,
    *,
    source: str,
    actor: str,
    synthetic: bool,
    summary: Mapping[str, Any],
    sha256: str = "",
    payload: bytes | None = None,
) -> int:
    current = conn.execute(
        select(plan_datasets.c.version).where(plan_datasets.c.kind == kind).with_for_update()
    ).scalar_one_or_none()
    values = {
        "source": source[:2000],
        "sha256": sha256,
        "imported_at": store.clock(),
        "actor": actor,
        "synthetic": synthetic,
        "summary": dict(summary),
        "payload": payload,
    }
    if current is None:
        conn.execute(insert(plan_datasets).values(kind=kind, version=1, **values))
        return 1
    conn.execute(
        update(plan_datasets)
        .where(plan_datasets.c.kind == kind)
        .values(version=current + 1, **values)
    )
    return int(current) + 1


def _require(store: Store, user: User, action: str, *roles: Role, target: str = "") -> None:
    if not user.has(*(roles or (Role.PLANNER,))):
        store.audit(user.username, f"{action}.refused", target=target[:200])
        log.warning("refused: %s may not %s", user.username, action)
        raise NotPermitted(f"{user.username} may not {action.replace('.', ' ')}")


# roads -----------------------------------------------------------------------------------------


def save_road_graph(
    store: Store, graph: RoadGraph, *, actor: str, source: str, synthetic: bool = False
) -> int:
    """Make ``graph`` the road network for plans; returns the new dataset version.

    Stored as one compressed array blob (no pickles): node ids, positions, edges, lengths and
    edge geometries as WKB.
    """
    buffer = io.BytesIO()
    arrays: dict[str, Any] = {
        "lon": graph.lon,
        "lat": graph.lat,
        "u": graph.edge_u,
        "v": graph.edge_v,
        "length": graph.edge_length,
        "node_ids": graph.node_ids.astype(np.int64)
        if np.issubdtype(graph.node_ids.dtype, np.integer)
        else graph.node_ids.astype(str),
    }
    if graph.edge_geometry is not None:
        # Missing geometries (straight edges) are stored as zero-length entries.
        wkb = [w or b"" for w in shapely.to_wkb(graph.edge_geometry)]
        sizes = np.array([len(w) for w in wkb], dtype=np.int64)
        arrays["geometry_offsets"] = np.concatenate(([0], np.cumsum(sizes)))
        arrays["geometry_bytes"] = np.frombuffer(b"".join(wkb), dtype=np.uint8)
    np.savez_compressed(buffer, **arrays)
    summary = {"nodes": graph.n_nodes, "edges": graph.n_edges}
    create_plan_tables(store)
    with store._write() as conn:
        version = _bump_dataset(
            conn,
            store,
            "roads",
            source=source,
            actor=actor,
            synthetic=synthetic,
            summary=summary,
            payload=buffer.getvalue(),
        )
    log.info("road network v%d saved: %d nodes, %d edges", version, graph.n_nodes, graph.n_edges)
    return version


def load_road_graph(store: Store) -> RoadGraph | None:
    """The stored road network, or None before one is imported."""
    if not _has_tables(store):
        return None
    with store._read() as conn:
        payload = conn.execute(
            select(plan_datasets.c.payload).where(plan_datasets.c.kind == "roads")
        ).scalar_one_or_none()
    if payload is None:
        return None
    with np.load(io.BytesIO(payload), allow_pickle=False) as data:
        geometry = None
        if "geometry_offsets" in data:
            offsets = data["geometry_offsets"]
            raw = data["geometry_bytes"].tobytes()
            geometry = shapely.from_wkb(
                np.array(
                    [raw[a:b] or None for a, b in itertools.pairwise(offsets.tolist())],
                    dtype=object,
                )
            )
        return graph_from_arrays(
            data["lon"],
            data["lat"],
            data["u"],
            data["v"],
            data["length"],
            node_ids=data["node_ids"],
            edge_geometry=geometry,
        )


# buildings -------------------------------------------------------------------------------------


def save_buildings(
    store: Store,
    buildings: gpd.GeoDataFrame,
    *,
    actor: str,
    source: str,
    synthetic: bool = False,
) -> int:
    """Make ``buildings`` the building set for plans (replacing the previous one).

    Accepts frames from :mod:`disaster_dx.io.plateau` and :mod:`disaster_dx.io.hazard_zones`:
    per depth hazard the stored depth is ``<h>_depth_lower_m`` (or PLATEAU's ``<h>_depth_m``),
    ``<h>_depth_upper_m`` and a label. Unknown stays unknown (JSON null). Buildings without a
    footprint are kept with their representative point when they have one.
    """
    frame = buildings.to_crs("EPSG:4326") if buildings.crs is not None else buildings
    geoms = np.asarray(frame.geometry.array, dtype=object)
    present = ~shapely.is_missing(geoms)
    points = np.full(len(frame), None, dtype=object)
    points[present] = shapely.point_on_surface(geoms[present])
    lon = np.where(present, shapely.get_x(points.astype(object)), np.nan)
    lat = np.where(present, shapely.get_y(points.astype(object)), np.nan)
    if "lon" in frame and "lat" in frame:
        given_lon = pd.to_numeric(frame["lon"], errors="coerce").to_numpy(dtype=float)
        given_lat = pd.to_numeric(frame["lat"], errors="coerce").to_numpy(dtype=float)
        lon = np.where(np.isnan(lon), given_lon, lon)
        lat = np.where(np.isnan(lat), given_lat, lat)
    keep = ~(np.isnan(lon) | np.isnan(lat))
    wkb = np.full(len(frame), None, dtype=object)
    wkb[present] = shapely.to_wkb(geoms[present])
    height = _float_column(frame, "height_m")
    storeys = _float_column(frame, "storeys")
    structure = frame["structure"] if "structure" in frame else pd.Series([None] * len(frame))
    refuge = (
        frame["refuge"].fillna(False).to_numpy(dtype=bool)
        if "refuge" in frame
        else np.zeros(len(frame), dtype=bool)
    )
    names = frame["name"] if "name" in frame else pd.Series([None] * len(frame))
    depth_columns = {
        prefix: (
            _float_column(frame, f"{prefix}_depth_lower_m")
            if f"{prefix}_depth_lower_m" in frame
            else _float_column(frame, f"{prefix}_depth_m"),
            _float_column(frame, f"{prefix}_depth_upper_m"),
            frame[f"{prefix}_depth_label"].astype(object).to_numpy()
            if f"{prefix}_depth_label" in frame
            else np.full(len(frame), None, dtype=object),
        )
        for prefix in DEPTH_COLUMNS.values()
    }
    rows = []
    for i in np.flatnonzero(keep).tolist():
        depths = {}
        for prefix, (lower, upper, label) in depth_columns.items():
            if not np.isnan(upper[i]):
                depths[prefix] = {
                    "lower": _json_number(lower[i]),
                    "upper": _json_number(upper[i]),
                    "label": None if label[i] is None else str(label[i]),
                }
        rows.append(
            {
                "building_id": str(frame["building_id"].iloc[i]),
                "name": None if pd.isna(names.iloc[i]) else str(names.iloc[i])[:300],
                "lon": float(lon[i]),
                "lat": float(lat[i]),
                "footprint": wkb[i],
                "height_m": None if np.isnan(height[i]) else float(height[i]),
                "storeys": None if np.isnan(storeys[i]) else int(storeys[i]),
                "structure": None if pd.isna(structure.iloc[i]) else str(structure.iloc[i]),
                "refuge": bool(refuge[i]),
                "depths": depths,
            }
        )
    ids = [r["building_id"] for r in rows]
    if len(set(ids)) != len(ids):
        raise DisasterDxError("building ids repeat; every building needs its own id")
    create_plan_tables(store)
    with store._write() as conn:
        conn.execute(delete(plan_buildings))
        for start in range(0, len(rows), 5000):
            conn.execute(insert(plan_buildings), rows[start : start + 5000])
        summary = {
            "buildings": len(rows),
            "skipped_without_position": int((~keep).sum()),
            "refuges": int(sum(r["refuge"] for r in rows)),
        }
        version = _bump_dataset(
            conn,
            store,
            "buildings",
            source=source,
            actor=actor,
            synthetic=synthetic,
            summary=summary,
        )
    log.info("buildings v%d saved: %d (%s)", version, len(rows), source)
    return version


def _json_number(value: float) -> float | str | None:
    """JSON-safe: NaN → null, ∞ → ``"inf"`` (PostgreSQL's JSON refuses Infinity)."""
    if np.isnan(value):
        return None
    if np.isinf(value):
        return "inf"
    return float(value)


def _from_json_number(value: Any) -> float:
    if value is None:
        return np.nan
    if value == "inf":
        return np.inf
    return float(value)


def load_buildings(store: Store) -> gpd.GeoDataFrame | None:
    """The stored buildings as a frame (columns as :func:`vertical_evacuation` reads them)."""
    import geopandas as gpd

    if not _has_tables(store):
        return None
    with store._read() as conn:
        rows = conn.execute(select(plan_buildings).order_by(plan_buildings.c.building_id)).all()
        exists = conn.execute(
            select(plan_datasets.c.version).where(plan_datasets.c.kind == "buildings")
        ).scalar_one_or_none()
    if exists is None:
        return None
    from disaster_dx.io.plateau import STRUCTURE_TYPES

    data: dict[str, Any] = {
        "building_id": [r.building_id for r in rows],
        "name": [r.name for r in rows],
        "lon": np.array([r.lon for r in rows], dtype=float),
        "lat": np.array([r.lat for r in rows], dtype=float),
        "height_m": np.array([np.nan if r.height_m is None else r.height_m for r in rows]),
        "storeys": pd.array([r.storeys for r in rows], dtype="Int64"),
        "structure": [r.structure for r in rows],
        "structure_ja": [STRUCTURE_TYPES.get(r.structure or "") for r in rows],
        "refuge": np.array([bool(r.refuge) for r in rows], dtype=bool),
    }
    for prefix in DEPTH_COLUMNS.values():
        data[f"{prefix}_depth_lower_m"] = np.array(
            [_from_json_number((r.depths.get(prefix) or {}).get("lower")) for r in rows]
        )
        data[f"{prefix}_depth_upper_m"] = np.array(
            [_from_json_number((r.depths.get(prefix) or {}).get("upper")) for r in rows]
        )
        data[f"{prefix}_depth_label"] = [(r.depths.get(prefix) or {}).get("label") for r in rows]
    wkb = np.array([r.footprint for r in rows], dtype=object)
    geometry = shapely.from_wkb(wkb) if len(rows) else np.zeros(0, dtype=object)
    return gpd.GeoDataFrame(data, geometry=list(geometry), crs="EPSG:4326")


# residents -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResidentSaveReport:
    """What a resident import changed (ids only)."""

    version: int
    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: int

    def summary(self) -> str:
        """Counts for the CLI and the log."""
        return (
            f"added {len(self.added)}, changed {len(self.changed)}, "
            f"removed {len(self.removed)}, unchanged {self.unchanged}"
        )


def _resident_row(resident: Resident, now: datetime, actor: str) -> dict[str, Any]:
    return {
        "resident_id": resident.resident_id,
        "name": resident.name,
        "address": resident.address,
        "lon": resident.lon,
        "lat": resident.lat,
        "mobility": resident.mobility.value,
        "needs": list(resident.needs),
        "supporter_name": resident.supporter_name,
        "supporter_contact": resident.supporter_contact,
        "consent": resident.consent,
        "building_id": resident.building_id,
        "note": resident.note,
        "updated_at": now,
        "updated_by": actor,
    }


def _resident(row: Any) -> Resident:
    return Resident(
        resident_id=row.resident_id,
        name=row.name,
        address=row.address,
        lon=row.lon,
        lat=row.lat,
        mobility=Mobility(row.mobility),
        needs=tuple(row.needs or ()),
        supporter_name=row.supporter_name,
        supporter_contact=row.supporter_contact,
        consent=bool(row.consent),
        building_id=row.building_id,
        note=row.note,
    )


_COMPARED = (
    "name",
    "address",
    "lon",
    "lat",
    "mobility",
    "needs",
    "supporter_name",
    "supporter_contact",
    "consent",
    "building_id",
    "note",
)


def save_residents(
    store: Store,
    residents: Sequence[Resident],
    user: User,
    *,
    source: str,
    sha256: str = "",
    synthetic: bool = False,
) -> ResidentSaveReport:
    """Make ``residents`` the list (planner/admin only), in one transaction.

    People no longer listed are deleted with their stored plans: personal data that is no
    longer needed is not kept. The audit entry records counts and changed ids, never names.

    Raises
    ------
    NotPermitted
        ``user`` is not a planner or admin (refusal audit-logged).
    """
    _require(store, user, "residents.import")
    ids = [r.resident_id for r in residents]
    if len(set(ids)) != len(ids):
        raise DisasterDxError("resident ids repeat; every resident needs their own id")
    create_plan_tables(store)
    now = store.clock()
    new_rows = {r.resident_id: _resident_row(r, now, user.username) for r in residents}
    with store._write() as conn:
        before = {r.resident_id: r._mapping for r in conn.execute(select(plan_residents))}
        added = sorted(set(new_rows) - set(before))
        removed = sorted(set(before) - set(new_rows))
        changed = sorted(
            rid
            for rid in set(new_rows) & set(before)
            if any(new_rows[rid][c] != before[rid][c] for c in _COMPARED)
        )
        conn.execute(delete(plan_residents))
        rows = list(new_rows.values())
        for start in range(0, len(rows), 5000):
            conn.execute(insert(plan_residents), rows[start : start + 5000])
        for start in range(0, len(removed), 500):
            conn.execute(
                delete(plan_results).where(
                    plan_results.c.resident_id.in_(removed[start : start + 500])
                )
            )
        version = _bump_dataset(
            conn,
            store,
            "residents",
            source=source,
            actor=user.username,
            synthetic=synthetic,
            summary={"residents": len(rows)},
            sha256=sha256,
        )
    report = ResidentSaveReport(
        version, tuple(added), tuple(changed), tuple(removed), len(rows) - len(added) - len(changed)
    )
    store.audit(
        user.username,
        "residents.imported",
        target=source[:200],
        detail={
            "residents": len(rows),
            "added": len(added),
            "changed": len(changed),
            "removed": len(removed),
            "removed_ids": list(removed[:200]),
        },
    )
    log.info("resident list v%d saved by %s: %s", version, user.username, report.summary())
    return report


def read_residents(
    store: Store, user: User, *, purpose: str, ids: Sequence[str] | None = None
) -> list[Resident]:
    """Residents (all, or ``ids``), for a planner or admin; every call is audit-logged.

    Parameters
    ----------
    purpose
        Why they are read (``plans.page``, ``plans.sheet``, ``replan`` …), kept in the audit
        log.
    ids
        Only these residents; the audit entry lists them.

    Raises
    ------
    NotPermitted
        ``user`` is not a planner or admin (refusal audit-logged).
    """
    _require(store, user, "residents.read", target=purpose)
    query = select(plan_residents).order_by(plan_residents.c.resident_id)
    if ids is not None:
        query = query.where(plan_residents.c.resident_id.in_(list(ids)))
    found: list[Resident] = []
    if _has_tables(store):  # before any import there is nothing to read (still audited)
        with store._read() as conn:
            found = [_resident(r) for r in conn.execute(query)]
    detail: dict[str, Any] = {"purpose": purpose, "count": len(found)}
    if ids is not None:
        detail["ids"] = sorted(r.resident_id for r in found)[:200]
    store.audit(
        user.username,
        "residents.read",
        target=(",".join(ids) if ids is not None else "all")[:200],
        detail=detail,
    )
    return found


def read_resident(store: Store, user: User, resident_id: str, *, purpose: str) -> Resident:
    """One resident (audited like :func:`read_residents`); NotFoundError when unknown."""
    found = read_residents(store, user, purpose=purpose, ids=[resident_id])
    if not found:
        raise NotFoundError(f"no resident {resident_id!r}")
    return found[0]


# plan results --------------------------------------------------------------------------------


def _result_rows(
    plans: PlanSet, *, incident_id: str, state_seq: int, now: datetime, which: Iterable[int]
) -> list[dict[str, Any]]:
    rows = []
    for i in which:
        rows.append(
            {
                "resident_id": str(plans.resident_ids[i]),
                "hazard": plans.scenario.hazard.value,
                "incident_id": incident_id,
                "state_seq": state_seq,
                "computed_at": now,
                "status": plans.status_of(i).value,
                "flagged": bool(plans.flagged[i]),
                "destination_id": plans.destination_id(i),
                "length_m": _opt(plans.length_m[i]),
                "minutes": _opt(plans.minutes[i]),
                "margin_min": _opt(plans.margin_min[i]),
            }
        )
    return rows


def stored_keys(store: Store, hazard: Hazard) -> PlanKeys:
    """The stored live plans of ``hazard`` as :class:`PlanKeys` (ids only)."""
    with store._read() as conn:
        return _stored_keys(conn, hazard)


def _stored_keys(conn: Any, hazard: Hazard) -> PlanKeys:
    rows = conn.execute(
        select(
            plan_results.c.resident_id,
            plan_results.c.status,
            plan_results.c.destination_id,
            plan_results.c.length_m,
        ).where(plan_results.c.hazard == hazard.value)
    ).all()
    codes = {s.value: _S[s] for s in PlanStatus}
    length = np.array([np.nan if r.length_m is None else r.length_m for r in rows], dtype=float)
    return PlanKeys(
        resident_id=np.array([r.resident_id for r in rows], dtype=object),
        status=np.array([codes[r.status] for r in rows], dtype=np.int8),
        destination_id=np.array([r.destination_id or "" for r in rows], dtype=object),
        length_m=_rounded(length),
    )


def stored_fingerprints(store: Store, hazard: Hazard) -> dict[str, tuple[int, str, float]]:
    """The stored live plans as ``{resident_id: (status code, destination id, length)}``."""
    keys = stored_keys(store, hazard)
    return {
        str(r): (int(s), str(d), float(m))
        for r, s, d, m in zip(
            keys.resident_id, keys.status, keys.destination_id, keys.length_m, strict=True
        )
    }


@dataclass(frozen=True)
class SavedPlans:
    """What :func:`save_plan_results` did: changed ids, and the stored version afterwards."""

    changed: frozenset[str]
    version: int
    keys: PlanKeys
    skipped_as_older: bool = False


def save_plan_results(
    store: Store,
    plans: PlanSet,
    *,
    incident_id: str,
    state_seq: int,
    previous: tuple[int, PlanKeys] | None = None,
) -> SavedPlans:
    """Store the live plans of one hazard, writing only residents whose plan changed.

    Runs in one write transaction that first locks this hazard's results (several workers may
    re-plan at once): the diff is taken against what is stored *then* — ``previous``
    (``(version, keys)`` the caller last wrote) is used only if nobody wrote since — and plans
    made from an older state than the stored ones are not written at all.
    """
    hazard = plans.scenario.hazard
    kind = f"results:{hazard.value}"
    now = plans.keys()
    create_plan_tables(store)
    with store._write() as conn:
        row = conn.execute(
            select(plan_datasets.c.version, plan_datasets.c.summary)
            .where(plan_datasets.c.kind == kind)
            .with_for_update()
        ).one_or_none()
        version = 0 if row is None else int(row.version)
        summary = {} if row is None else dict(row.summary or {})
        stored_seq = int(summary.get("state_seq", -1))
        if stored_seq > state_seq and summary.get("incident_id") == incident_id:
            return SavedPlans(frozenset(), version, now, skipped_as_older=True)
        if previous is not None and previous[0] == version:
            before = previous[1]
        else:
            before = _stored_keys(conn, hazard)
        changed_mask = now.differs(before)
        gone = sorted(before.missing_from(now).tolist())
        changed = sorted(plans.resident_ids[changed_mask].tolist())
        if not changed and not gone:
            return SavedPlans(frozenset(), version, now)
        rows = _result_rows(
            plans,
            incident_id=incident_id,
            state_seq=state_seq,
            now=store.clock(),
            which=np.flatnonzero(changed_mask).tolist(),
        )
        # One statement run for many ids (executemany) compiles once, unlike a long IN list.
        conn.execute(
            delete(plan_results).where(
                plan_results.c.hazard == bindparam("h"),
                plan_results.c.resident_id == bindparam("rid"),
            ),
            [{"h": hazard.value, "rid": rid} for rid in changed + gone],
        )
        for start in range(0, len(rows), 5000):
            conn.execute(insert(plan_results), rows[start : start + 5000])
        version = _bump_dataset(
            conn,
            store,
            kind,
            source=f"live plans ({hazard.value})",
            actor=REPLAN_USER.username,
            synthetic=False,
            summary={
                "hazard": hazard.value,
                "changed": len(changed),
                "incident_id": incident_id,
                "state_seq": state_seq,
            },
        )
    return SavedPlans(frozenset(changed), version, now)


@dataclass(frozen=True)
class FlaggedResident:
    """A resident who cannot reach safety in time, as HQ sees them: no name, no address."""

    resident_id: str
    hazard: Hazard
    lon: float
    lat: float
    margin_min: float | None
    has_route: bool


def flagged_residents(
    store: Store, user: User, *, hazard: Hazard | None = None
) -> list[FlaggedResident]:
    """Positions of residents flagged "cannot reach safety in time" in the stored live plans.

    For HQ's map: ids and positions only (HQ must be able to send help; names stay with
    planners). HQ, planner and admin may call it; each call is audit-logged with the count.
    Call it when :func:`results_version` moves, not on every poll.
    """
    _require(store, user, "plans.flagged_read", Role.HQ, Role.PLANNER)
    query = (
        select(
            plan_results.c.resident_id,
            plan_results.c.hazard,
            plan_results.c.margin_min,
            plan_results.c.length_m,
            plan_residents.c.lon,
            plan_residents.c.lat,
            plan_buildings.c.lon.label("building_lon"),
            plan_buildings.c.lat.label("building_lat"),
        )
        .join(plan_residents, plan_residents.c.resident_id == plan_results.c.resident_id)
        .outerjoin(plan_buildings, plan_buildings.c.building_id == plan_residents.c.building_id)
        .where(plan_results.c.flagged.is_(True))
        .order_by(plan_results.c.resident_id)
    )
    if hazard is not None:
        query = query.where(plan_results.c.hazard == hazard.value)
    rows: list[Any] = []
    if _has_tables(store):
        with store._read() as conn:
            rows = list(conn.execute(query).all())
    found = []
    for r in rows:
        lon = r.lon if r.lon is not None else r.building_lon
        lat = r.lat if r.lat is not None else r.building_lat
        if lon is None or lat is None:
            continue
        found.append(
            FlaggedResident(
                r.resident_id,
                Hazard(r.hazard),
                float(lon),
                float(lat),
                r.margin_min,
                r.length_m is not None,
            )
        )
    store.audit(
        user.username,
        "plans.flagged_read",
        target=hazard.value if hazard else "all",
        detail={"count": len(found)},
    )
    return found


def results_version(store: Store) -> int:
    """A number that grows whenever stored live plans change (cheap polling check)."""
    if not _has_tables(store):
        return 0
    infos = dataset_infos(store)
    return sum(i.version for k, i in infos.items() if k.startswith("results:"))


def _has_tables(store: Store) -> bool:
    from sqlalchemy import inspect

    return bool(inspect(store.engine).has_table("plan_datasets"))


# -- the per-app service -----------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PlanningData:
    """Road graph and buildings as loaded (per dataset version), with per-hazard judgements."""

    graph: RoadGraph | None
    buildings: gpd.GeoDataFrame | None
    infos: Mapping[str, DatasetInfo]
    verticals: dict[Hazard, VerticalJudgement] = field(default_factory=dict)

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
    """

    def __init__(
        self,
        store: Store,
        *,
        thresholds: CrowdingThresholds | None = None,
        default_hazard: Hazard = Hazard.TSUNAMI,
    ) -> None:
        self.store = store
        self.thresholds = thresholds or CrowdingThresholds()
        self.default_hazard = default_hazard
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
        """Road graph and buildings, reloaded only when their version changed."""
        infos = dataset_infos(self.store) if _has_tables(self.store) else {}
        versions = tuple(infos[k].version if k in infos else 0 for k in ("roads", "buildings"))
        if self._data is None or versions != self._versions:
            graph = load_road_graph(self.store) if versions[0] else None
            buildings = load_buildings(self.store) if versions[1] else None
            self._data = PlanningData(graph, buildings, infos)
            self._versions = versions
            self._table = None
        else:
            self._data = PlanningData(
                self._data.graph, self._data.buildings, infos, self._data.verticals
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
        return Scenario(hazard, mode=mode, arrival_minutes=arrival_minutes)

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
        )
        return PlanRun(plans, tuple(residents), data, seq)

    def live_hazards(self, state: State) -> list[Hazard]:
        """Hazards re-planned live: those announced (with depth data), else the default."""
        announced = [h for h in state.hazards if h in DEPTH_COLUMNS]
        return announced or [self.default_hazard]

    def refresh_live(self) -> list[ReplanReport]:
        """Re-plan every resident against the live state and store what changed."""
        with self._lock:  # one re-plan at a time per process; the database orders processes
            return self._refresh_live()

    def _refresh_live(self) -> list[ReplanReport]:
        if not _has_tables(self.store):
            return []
        infos = dataset_infos(self.store)
        if "roads" not in infos or "residents" not in infos:
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
