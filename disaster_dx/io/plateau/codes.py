"""PLATEAU's national code tables and the hazard vocabulary every reader module shares.

The tables are the national code lists (i-UR 2.0–3.2 agree on them): a dataset's own
``codelists/`` folder, when read (:mod:`.codelists`), takes precedence, and ``rankOrg`` has no
national table at all (each dataset defines its own classes).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from typing import TypedDict

# Footprints outside Japan's box are reported: PLATEAU covers Japan only, so this is almost
# always a swapped axis.
from disaster_dx.model import JAPAN_BOUNDS as JAPAN_BOUNDS

#: CRS of every returned frame.
CRS = "EPSG:4326"


#: Hazard kinds, in column order; each has ``<kind>_depth_m``, ``<kind>_rank``,
#: ``<kind>_depth_upper_m`` and ``<kind>_sources`` columns (landslide: see :data:`COLUMNS`).
DEPTH_HAZARDS = ("tsunami", "flood", "high_tide", "inland_flood")
HAZARDS = (*DEPTH_HAZARDS, "landslide")

#: 浸水ランク (rank) labels, the national code list shared by every depth hazard and i-UR version.
RANK_LABELS: dict[int, str] = {
    1: "0.5m未満",
    2: "0.5m以上3m未満",
    3: "3m以上5m未満",
    4: "5m以上10m未満",
    5: "10m以上20m未満",
    6: "20m以上",
}
#: Upper limit of each rank's depth range in metres (rank 6 has none).
RANK_UPPER_M: dict[int, float] = {1: 0.5, 2: 3.0, 3: 5.0, 4: 10.0, 5: 20.0, 6: math.inf}
#: Lower limit of each rank's depth range in metres.
RANK_LOWER_M: dict[int, float] = {1: 0.0, 2: 0.5, 3: 3.0, 4: 5.0, 5: 10.0, 6: 20.0}

#: ``uro:buildingStructureType`` (BuildingDetailAttribute_buildingStructureType).
STRUCTURE_TYPES: dict[str, str] = {
    "601": "木造・土蔵造",
    "602": "鉄骨鉄筋コンクリート造",
    "603": "鉄筋コンクリート造",
    "604": "鉄骨造",
    "605": "軽量鉄骨造",
    "606": "レンガ造・コンクリートブロック造・石造",
    "610": "非木造",
    "611": "不明",
}
#: ``bldg:usage`` (Building_usage).
USAGES: dict[str, str] = {
    "401": "業務施設",
    "402": "商業施設",
    "403": "宿泊施設",
    "404": "商業系複合施設",
    "411": "住宅",
    "412": "共同住宅",
    "413": "店舗等併用住宅",
    "414": "店舗等併用共同住宅",
    "415": "作業所併用住宅",
    "421": "官公庁施設",
    "422": "文教厚生施設",
    "431": "運輸倉庫施設",
    "441": "工場",
    "451": "農林漁業用施設",
    "452": "供給処理施設",
    "453": "防衛施設",
    "454": "その他",
    "461": "不明",
}
#: RiverFloodingRiskAttribute_adminType: who designated the river.
ADMIN_TYPES: dict[str, str] = {"1": "国", "2": "都道府県"}
#: RiverFloodingRiskAttribute_scale: L1 計画規模 (planned scale), L2 想定最大規模 (largest assumed).
SCALES: dict[str, str] = {"1": "L1", "2": "L2"}
#: LandSlideRiskAttribute_description: the phenomenon.
LANDSLIDE_KINDS: dict[str, str] = {"1": "急傾斜地の崩落", "2": "土石流", "3": "地すべり"}
#: LandSlideRiskAttribute_areaType.
LANDSLIDE_AREAS: dict[str, str] = {
    "1": "土砂災害警戒区域（指定済）",
    "2": "土砂災害特別警戒区域（指定済）",
    "3": "土砂災害警戒区域（指定前）",
    "4": "土砂災害特別警戒区域（指定前）",
}
#: The 2020 layout's 区域区分 follows 国土数値情報 A33: 1 警戒区域, 2 特別警戒区域.
LEGACY_LANDSLIDE_AREAS = {"1": "土砂災害警戒区域", "2": "土砂災害特別警戒区域"}

#: Where a footprint can come from, in order of preference.
FOOTPRINT_SOURCES = ("lod0FootPrint", "lod0RoofEdge", "lod1Solid", "lod2GroundSurface")

#: ``progress(done_bytes, total_bytes)``, called as the files are read.
ProgressHook = Callable[[int, int], object]


class RiskSource(TypedDict, total=False):
    """One hazard map's value for one building: one river and scale, or one scenario.

    Depth hazards (tsunami, flood, high_tide, inland_flood) carry ``description`` (the raw,
    city-specific code, or the attribute-set name in the 2020 layout), ``rank`` (1–6),
    ``rank_org`` (raw), ``depth_m`` and ``depth_upper_m``; river flooding adds ``admin_type``
    (国/都道府県), ``scale`` (L1/L2) and ``duration_h``. Landslide records carry
    ``description`` (raw code), ``kind`` (the phenomenon), ``area_type`` (raw code) and
    ``area`` (the designated area). Unknown values are ``None``.

    Only when the dataset's code lists were read: ``description_ja`` (the river or scenario
    name), and for a ``rankOrg`` class ``rank_org_label`` (e.g. ``1m以上2m未満``),
    ``rank_org_lower_m`` and ``rank_org_upper_m``; a source with a class but no depth then has
    ``depth_upper_m`` from the class. ``rank`` stays the national 1–6 code: a dataset whose
    ``rank`` list has other classes is decoded like ``rankOrg``.
    """

    description: str | None
    rank: int | None
    rank_org: str | None
    depth_m: float | None
    depth_upper_m: float | None
    admin_type: str | None
    scale: str | None
    duration_h: float | None
    kind: str | None
    area_type: str | None
    area: str | None
    description_ja: str | None
    rank_org_label: str | None
    rank_org_lower_m: float | None
    rank_org_upper_m: float | None


_ABOVE = re.compile(r"(\d+(?:\.\d+)?)m以上")
_BELOW = re.compile(r"(\d+(?:\.\d+)?)m未満")


@lru_cache(maxsize=4096)
def depth_class(label: str | None) -> tuple[float, float] | None:
    """The depth range ``(lower, upper)`` in metres a class label names; ``None`` if none.

    Reads the labels PLATEAU's code lists use, full-width characters included:
    ``0.5m未満`` → (0, 0.5), ``0.3ｍ以上1m未満`` → (0.3, 1.0), ``20.0m以上`` → (20, ∞).
    """
    if not label:
        return None
    plain = unicodedata.normalize("NFKC", label).replace(" ", "").replace("ｍ", "m")
    above = _ABOVE.search(plain)
    below = _BELOW.search(plain)
    if above is None and below is None:
        return None
    lower = float(above.group(1)) if above else 0.0
    upper = float(below.group(1)) if below else math.inf
    return (lower, upper) if lower < upper else None


def label_of(table: dict[str, str], code: str | None) -> str | None:
    """The label of ``code``, or the raw code when the table does not know it."""
    if code is None:
        return None
    return table.get(code, code)
