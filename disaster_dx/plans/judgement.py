"""Vertical evacuation: whether staying on the highest floor of a building is safe.

Judged for every building at once (:func:`vertical_evacuation`), once per hazard.

Assumptions
-----------
A building is a safe vertical refuge for a depth hazard when the floor of its highest storey is
strictly higher than the *upper bound* of the expected depth plus a margin (a floor exactly at
depth + margin is not enough: the plan sheet says 「より高ければ可」):

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
  wash away or destroy wooden houses at depths that would not reach their upper floor. The rule
  holds whenever the building is known to be in the area, even when its depth is unknown (a
  PLATEAU tsunami attribute without a usable depth, a zone whose class was unreadable). When
  the structure is unknown the answer is "unknown", never "safe". River floods, high tide and
  inland flooding do not apply this rule (areas where river floods may wash houses away,
  家屋倒壊等氾濫想定区域, are not modelled here).
- **Unknown stays unknown.** No depth data, no height and no storeys, or no home building found
  → :attr:`Vertical.UNKNOWN` with the reason; never "safe". A home with depth 0 (outside the
  assumed area) is safe to stay in.

- **Landslide (土砂災害).** Height does not protect from a slope failure or a debris flow, so
  the answer follows the designated area the footprint touches
  (:mod:`disaster_dx.landslide`): in a 土砂災害特別警戒区域 the home is never a refuge
  (立退き避難 only); in a 土砂災害警戒区域 a home with an upper storey is 屋内安全確保 only as a
  last resort (:attr:`VerticalReason.LANDSLIDE_WARNING`, flagged in every plan that relies on
  it); a one-storey home there has no upper floor to go to; outside every area the home is
  safe to stay in; not known → unknown.
- **Flood duration (浸水継続時間).** Where PLATEAU gives one (``flood_duration_h``), a safe
  upper floor is still not a plan for someone needing care (mobility other than
  ``independent``) when the water stays longer than the city's limit (setting
  ``CARE_STAY_LIMIT_HOURS``, default :data:`CARE_STAY_LIMIT_H` = 24 h): water, power, toilets
  and medical care run out. Such plans carry :attr:`Caution.LONG_STAY` and are flagged.

These are planning defaults, not a legal standard; a city passes its own criteria (for example
its 津波避難ビル designation rules) through the keyword arguments.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from disaster_dx.landslide import ZoneLevel, zone_levels
from disaster_dx.model import Hazard

if TYPE_CHECKING:
    import pandas as pd  # imported where used: building storage runs without pandas

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
CodeArray = NDArray[np.int8]

#: Assumed height of one storey (metres, floor to floor). See the module docstring.
STOREY_HEIGHT_M = 3.0
#: Required clearance (metres) of the highest floor above the depth's upper bound.
SAFETY_MARGIN_M = 1.0
#: PLATEAU structure codes counted as wooden for the tsunami rule (601 木造・土蔵造).
WOODEN_STRUCTURES = frozenset({"601"})
#: Hazards with depth data, and the building column prefix that holds it (PLATEAU's names).
DEPTH_COLUMNS: Mapping[Hazard, str] = MappingProxyType(
    {
        Hazard.TSUNAMI: "tsunami",
        Hazard.FLOOD: "flood",
        Hazard.STORM_SURGE: "high_tide",
        Hazard.INLAND_FLOOD: "inland_flood",
    }
)
#: Hazards a plan can be made for: those with depth data, and landslide (designated areas).
PLAN_HAZARDS: tuple[Hazard, ...] = (*DEPTH_COLUMNS, Hazard.LANDSLIDE)
#: Hours a person needing care may be planned to wait upstairs for flood water to go down
#: (setting ``CARE_STAY_LIMIT_HOURS``); longer stays are flagged (:attr:`Caution.LONG_STAY`).
CARE_STAY_LIMIT_H = 24.0


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
    LANDSLIDE_SPECIAL = "landslide_special"
    LANDSLIDE_WARNING = "landslide_warning"
    LANDSLIDE_ONE_STOREY = "landslide_one_storey"
    LANDSLIDE_OUTSIDE = "landslide_outside"
    LANDSLIDE_UNKNOWN = "landslide_unknown"

    @property
    def ja(self) -> str:
        """Japanese explanation without numbers (see :meth:`Plan.vertical_text`)."""
        return _REASON_JA[self]


_REASON_JA = {
    VerticalReason.OUTSIDE: "浸水想定区域の外にある",
    VerticalReason.FLOOR_ABOVE: "最上階の床が想定浸水深の上限＋余裕より高い",
    VerticalReason.FLOOR_BELOW: "最上階の床が想定浸水深の上限＋余裕より高くない",
    VerticalReason.WOODEN_TSUNAMI: "木造のため、津波で流失・倒壊するおそれがある",
    VerticalReason.UNBOUNDED: "想定浸水深に上限がない（最も深い区分）",
    VerticalReason.DEPTH_UNKNOWN: "この建物の想定浸水深が分からない",
    VerticalReason.HEIGHT_UNKNOWN: "建物の高さ・階数が分からない",
    VerticalReason.STRUCTURE_UNKNOWN: "構造が分からない（木造でないことを確認できない）",
    VerticalReason.NO_BUILDING: "自宅の建物が特定できない",
    VerticalReason.NOT_APPLICABLE: "この災害では上階避難の判定をしない",
    VerticalReason.LANDSLIDE_SPECIAL: (
        "土砂災害特別警戒区域内のため、立退き避難が必要（屋内安全確保は不可）"
    ),
    VerticalReason.LANDSLIDE_WARNING: (
        "土砂災害警戒区域内：屋内安全確保（斜面と反対側の上階）は立退き避難ができないときの最終手段"
    ),
    VerticalReason.LANDSLIDE_ONE_STOREY: "土砂災害警戒区域内で、上階がない（平屋）",
    VerticalReason.LANDSLIDE_OUTSIDE: "土砂災害警戒区域の外にある",
    VerticalReason.LANDSLIDE_UNKNOWN: "土砂災害警戒区域に入るかどうか分からない",
}
#: English explanations, for CSV readers and English pages.
REASON_EN = {
    VerticalReason.OUTSIDE: "outside the assumed inundation area",
    VerticalReason.FLOOR_ABOVE: "top floor higher than the upper depth plus margin",
    VerticalReason.FLOOR_BELOW: "top floor not higher than the upper depth plus margin",
    VerticalReason.WOODEN_TSUNAMI: "wooden: tsunami may wash it away",
    VerticalReason.UNBOUNDED: "the depth class has no upper bound",
    VerticalReason.DEPTH_UNKNOWN: "expected depth unknown",
    VerticalReason.HEIGHT_UNKNOWN: "height and storeys unknown",
    VerticalReason.STRUCTURE_UNKNOWN: "structure unknown (cannot rule out wooden)",
    VerticalReason.NO_BUILDING: "home building not found",
    VerticalReason.NOT_APPLICABLE: "not judged for this hazard",
    VerticalReason.LANDSLIDE_SPECIAL: "landslide special warning zone: must leave",
    VerticalReason.LANDSLIDE_WARNING: (
        "landslide warning zone: sheltering upstairs is a last resort only"
    ),
    VerticalReason.LANDSLIDE_ONE_STOREY: "landslide warning zone, no upper floor",
    VerticalReason.LANDSLIDE_OUTSIDE: "outside landslide warning zones",
    VerticalReason.LANDSLIDE_UNKNOWN: "not known whether in a landslide warning zone",
}
_VERTICALS = (Vertical.SAFE, Vertical.NOT_SAFE, Vertical.UNKNOWN)
_REASONS = tuple(VerticalReason)
_V = {v: np.int8(i) for i, v in enumerate(_VERTICALS)}
_R = {r: np.int8(i) for i, r in enumerate(_REASONS)}


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
        The expected depth range (NaN when unknown; 0 outside the hazard area; NaN for
        landslide, which has areas, not depths).
    duration_h
        浸水継続時間 in hours (river flooding only; NaN when unknown or not a flood).
    zone_level
        :class:`~disaster_dx.landslide.ZoneLevel` per building (landslide only).
    """

    hazard: Hazard
    code: CodeArray
    reason: CodeArray
    floor_m: FloatArray
    depth_lower_m: FloatArray
    depth_upper_m: FloatArray
    margin_m: float = SAFETY_MARGIN_M
    storey_height_m: float = STOREY_HEIGHT_M
    duration_h: FloatArray | None = None
    zone_level: CodeArray | None = None

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

    @property
    def outside(self) -> NDArray[np.bool_]:
        """Which buildings are known to lie outside the hazard area (no need to leave)."""
        outside: NDArray[np.bool_] = np.isin(
            self.reason, [_R[VerticalReason.OUTSIDE], _R[VerticalReason.LANDSLIDE_OUTSIDE]]
        )
        return outside

    @property
    def last_resort(self) -> NDArray[np.bool_]:
        """Safe only as a last resort (土砂災害警戒区域): plans relying on it are flagged."""
        last: NDArray[np.bool_] = self.reason == _R[VerticalReason.LANDSLIDE_WARNING]
        return last


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
    if hazard is Hazard.LANDSLIDE:
        return _landslide(buildings, floor, margin_m, storey_height_m)
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
    in_area_depth_unknown = ~depth_known & _known_in_area(buildings, prefix, lower)
    floor_known = ~np.isnan(floor)
    # Strictly higher: a floor exactly at depth + margin is not safe (「より高ければ可」).
    high_enough = floor_known & (floor > np.where(flooded, upper, 0.0) + margin_m)
    conditions = [
        in_area_depth_unknown & tsunami & is_wooden,
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
        (Vertical.NOT_SAFE, VerticalReason.WOODEN_TSUNAMI),
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
    duration = (
        _float_column(buildings, "flood_duration_h")
        if hazard is Hazard.FLOOD
        else np.full(n, np.nan)
    )
    duration[duration < 0] = np.nan
    return VerticalJudgement(
        hazard, code, reason, floor, lower, upper, margin_m, storey_height_m, duration_h=duration
    )


def _known_in_area(buildings: pd.DataFrame, prefix: str, lower: FloatArray) -> NDArray[np.bool_]:
    """Buildings known to be in the hazard area even where the depth itself is unknown.

    Evidence: an ``<h>_in_area`` flag (stored frames), a depth lower bound above 0, a
    PLATEAU rank, a PLATEAU risk record (``<h>_sources``), or a zone label other than 区域外.
    """
    n = len(buildings)
    known = ~np.isnan(lower) & (lower > 0)
    flag = f"{prefix}_in_area"
    if flag in buildings:
        known |= buildings[flag].fillna(False).to_numpy(dtype=bool)
    rank = f"{prefix}_rank"
    if rank in buildings:
        import pandas as pd

        known |= pd.to_numeric(buildings[rank], errors="coerce").notna().to_numpy(bool)
    sources = f"{prefix}_sources"
    if sources in buildings:
        known |= np.array(
            [isinstance(s, list | tuple) and len(s) > 0 for s in buildings[sources]], dtype=bool
        )
    label = f"{prefix}_depth_label"
    if label in buildings:
        text = buildings[label].astype(object)
        known |= (text.notna() & ~text.isin(["", "区域外"])).to_numpy(bool)
    return known if known.shape == (n,) else np.zeros(n, dtype=bool)


def _landslide(
    buildings: pd.DataFrame, floor: FloatArray, margin_m: float, storey_height_m: float
) -> VerticalJudgement:
    """The landslide rules of the module docstring, by the strictest area each home touches."""
    n = len(buildings)
    level = zone_levels(buildings)
    has_upper = ~np.isnan(floor) & (floor > 0)
    one_storey = ~np.isnan(floor) & (floor <= 0)
    conditions = [
        level == ZoneLevel.SPECIAL,
        (level == ZoneLevel.WARNING) & has_upper,
        (level == ZoneLevel.WARNING) & one_storey,
        level == ZoneLevel.WARNING,
        level == ZoneLevel.OUTSIDE,
    ]
    choices = [
        (Vertical.NOT_SAFE, VerticalReason.LANDSLIDE_SPECIAL),
        (Vertical.SAFE, VerticalReason.LANDSLIDE_WARNING),
        (Vertical.NOT_SAFE, VerticalReason.LANDSLIDE_ONE_STOREY),
        (Vertical.UNKNOWN, VerticalReason.HEIGHT_UNKNOWN),
        (Vertical.SAFE, VerticalReason.LANDSLIDE_OUTSIDE),
    ]
    code = np.select(conditions, [_V[v] for v, _ in choices], default=_V[Vertical.UNKNOWN]).astype(
        np.int8
    )
    reason = np.select(
        conditions, [_R[r] for _, r in choices], default=_R[VerticalReason.LANDSLIDE_UNKNOWN]
    ).astype(np.int8)
    nan = np.full(n, np.nan)
    return VerticalJudgement(
        Hazard.LANDSLIDE,
        code,
        reason,
        floor,
        nan,
        nan.copy(),
        margin_m,
        storey_height_m,
        duration_h=nan.copy(),
        zone_level=level,
    )


def _float_column(frame: pd.DataFrame, name: str) -> FloatArray:
    if name not in frame:
        return np.full(len(frame), np.nan)
    import pandas as pd

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


# -- cautions on a plan -------------------------------------------------------------------------


class Caution(StrEnum):
    """Something a plan relies on that must not pass unnoticed (shown in the plan's text).

    ``LAST_RESORT`` and ``LONG_STAY`` flag the plan (:data:`FLAGGING`): the resident cannot
    reach a shelter in time and the home is no real refuge. ``ZONE_ROUTE`` only warns: the
    route reaches safety, but over streets in a 土砂災害警戒区域 because no other way exists.
    """

    LAST_RESORT = "last_resort"
    LONG_STAY = "long_stay"
    ZONE_ROUTE = "zone_route"

    @property
    def bit(self) -> int:
        """The bit of this caution in :attr:`~disaster_dx.plans.PlanSet.caution`."""
        return 1 << tuple(Caution).index(self)

    @property
    def ja(self) -> str:
        """Japanese text for plan sheets and pages."""
        return _CAUTION_TEXT[self][0]

    @property
    def en(self) -> str:
        """English text."""
        return _CAUTION_TEXT[self][1]


_CAUTION_TEXT = {
    Caution.LAST_RESORT: (
        "【要注意】土砂災害警戒区域内での屋内安全確保は最終手段です。"
        "早めの立退き避難（高齢者等避難の段階）を計画してください",
        "Caution: sheltering upstairs in a landslide warning zone is a last resort; "
        "plan to leave early (at 高齢者等避難)",
    ),
    Caution.LONG_STAY: (
        "【要注意】浸水継続時間が長く、要配慮者の上階での待機は続けられないおそれがあります"
        "（早めの立退き避難、または救助・支援の手配が必要）",
        "Caution: the water stays too long for a person needing care to wait upstairs; "
        "leave early or arrange rescue and support",
    ),
    Caution.ZONE_ROUTE: (
        "【要注意】避難経路が土砂災害警戒区域を通ります（ほかに道がないため）。"
        "雨が強まる前に通過してください",
        "Caution: the route crosses a landslide warning zone (no other way); "
        "pass before the rain gets heavy",
    ),
}
#: What a landslide plan's sheet advises, by plan status (the depth hazards' wording speaks of
#: water and floors, which would mislead here).
LANDSLIDE_ADVICE: Mapping[str, str] = MappingProxyType(
    {
        "reachable": "土砂災害警戒情報や避難指示が出たら（高齢者等避難の段階から）、"
        "下の経路で避難先へ立退き避難します。",
        "vertical": "避難先まで行けない見込みです。最終手段として、自宅の斜面と反対側の"
        "上階へ移動します（屋内安全確保）。早めの立退き避難を計画してください。",
        "late": "土砂災害特別警戒区域などで自宅にとどまれず、避難先にも行けない見込みです。"
        "早めの立退き避難、より近い避難先、支援者の確保を検討してください。",
        "outside": "自宅は土砂災害警戒区域の外です。周囲の状況に注意し、自宅で安全を確保します。",
    }
)
#: Cautions that flag the plan for HQ (cannot reach safety: the home is no real refuge).
FLAGGING = Caution.LAST_RESORT.bit | Caution.LONG_STAY.bit


def cautions_of(bits: int) -> tuple[Caution, ...]:
    """The cautions set in ``bits``."""
    return tuple(c for c in Caution if bits & c.bit)


def plan_cautions(
    vertical: VerticalJudgement,
    home: IntArray,
    needs_care: NDArray[np.bool_],
    stays: NDArray[np.bool_],
    zone_route_m: FloatArray | None,
    *,
    care_stay_limit_h: float = CARE_STAY_LIMIT_H,
) -> CodeArray:
    """Per resident, the :class:`Caution` bits of their plan.

    Parameters
    ----------
    vertical
        The judgement of the building frame ``home`` indexes.
    home
        Each resident's home row (``-1`` when not found).
    needs_care
        Whose mobility is other than independent (要配慮者).
    stays
        Whose plan is to stay at home upstairs (status ``vertical``).
    zone_route_m
        Metres of each resident's route on streets in a landslide area (NaN/inf when there is
        no route), or None when routes were not checked against areas.
    care_stay_limit_h
        Longest stay upstairs planned for a person needing care (hours).
    """
    if not care_stay_limit_h > 0:
        raise ValueError(f"care_stay_limit_h must be > 0, not {care_stay_limit_h!r}")
    n = home.size
    bits = np.zeros(n, dtype=np.int8)
    has_home = home >= 0
    if len(vertical) and has_home.any():
        where = home[has_home]
        last = np.zeros(n, dtype=bool)
        last[has_home] = vertical.last_resort[where]
        bits[stays & last] |= np.int8(Caution.LAST_RESORT.bit)
        if vertical.duration_h is not None:
            long = np.zeros(n, dtype=bool)
            duration = vertical.duration_h[where]
            long[has_home] = ~np.isnan(duration) & (duration > care_stay_limit_h)
            bits[stays & needs_care & long] |= np.int8(Caution.LONG_STAY.bit)
    if zone_route_m is not None:
        crosses = np.isfinite(zone_route_m) & (zone_route_m > 0)
        bits[crosses & ~stays] |= np.int8(Caution.ZONE_ROUTE.bit)
    return bits
