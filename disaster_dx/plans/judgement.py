"""Vertical evacuation: whether staying on the highest floor of a building is safe.

Judged for every building at once (:func:`vertical_evacuation`), once per hazard.

Assumptions
-----------
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
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from disaster_dx.model import Hazard

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
#: Hazards a plan can be made for on the /plans page (those with depth data).
PLAN_HAZARDS: tuple[Hazard, ...] = tuple(DEPTH_COLUMNS)


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
