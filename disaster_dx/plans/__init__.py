"""Individual evacuation plans (個別避難計画) for residents who need help, and live re-planning.

For each resident on the 避難行動要支援者 list and one hazard, a plan answers: *is the home in the
hazard area, could they stay on an upper floor, which suitable shelter is nearest on foot, by
which streets, how long does it take at their speed — and is that before the water arrives?*
HQ needs the same answer during an incident for everyone at once, re-computed the moment a
shelter closes or fills up.

The package, in import order (each module imports only those above it):

- :mod:`~disaster_dx.plans.judgement` — the vertical-evacuation judgement per building
  (storey height, safety margin, wooden-in-tsunami rule; unknown is never "safe").
- :mod:`~disaster_dx.plans.doors` — door to door: each resident's nearest destination and
  alternative from the network search (own street, equally near spots, landslide costs), and
  destinations grouped into sites.
- :mod:`~disaster_dx.plans.destinations` — scenario, eligible destinations, residents as
  routing arrays, and :func:`plans_for_residents`: the vectorised pipeline from homes to
  routes, minutes, margins and statuses.
- :mod:`~disaster_dx.plans.storage` — the privacy boundary: the ``plan_*`` tables, dataset
  versions, role checks, the stored road network, live plan results and HQ's flagged view.
- :mod:`~disaster_dx.plans.buildings` — building storage (PLATEAU and hazard-zone frames).
- :mod:`~disaster_dx.plans.zones` — stored 土砂災害警戒区域 polygons that routes avoid.
- :mod:`~disaster_dx.plans.residents` — resident storage: audited, role-checked reads.
- :mod:`~disaster_dx.plans.planner` — :class:`Planner`, the per-app service: caches by
  dataset version and re-plans the live incident on every shelter or hazard event.

Every name callers used from the former single module is re-exported here, lazily: a
submodule is imported when one of its names is first used.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from disaster_dx.errors import (
        NotPermitted,
    )
    from disaster_dx.plans.buildings import (
        load_buildings,
        save_buildings,
    )
    from disaster_dx.plans.destinations import (
        DEFAULT_ARRIVAL_MINUTES,
        MAX_SNAP_M,
        PREPARATION_MINUTES,
        Destination,
        Mode,
        Plan,
        PlanKeys,
        PlanSet,
        PlanStatus,
        ResidentTable,
        Scenario,
        Snapped,
        eligible_destinations,
        plans_for_residents,
        resident_table,
        snap_residents,
    )
    from disaster_dx.plans.doors import SAME_SITE_M
    from disaster_dx.plans.judgement import (
        CARE_STAY_LIMIT_H,
        DEPTH_COLUMNS,
        PLAN_HAZARDS,
        SAFETY_MARGIN_M,
        STOREY_HEIGHT_M,
        WOODEN_STRUCTURES,
        Caution,
        CodeArray,
        FloatArray,
        IntArray,
        Vertical,
        VerticalJudgement,
        VerticalReason,
        vertical_evacuation,
    )
    from disaster_dx.plans.planner import (
        REPLAN_USER,
        Planner,
        PlanningData,
        PlanRun,
        ReplanReport,
    )
    from disaster_dx.plans.residents import (
        ResidentSaveReport,
        read_resident,
        read_residents,
        save_residents,
    )
    from disaster_dx.plans.storage import (
        DATASET_KINDS,
        DatasetInfo,
        FlaggedResident,
        SavedPlans,
        can_replan,
        create_plan_tables,
        dataset_infos,
        flagged_residents,
        load_road_graph,
        plan_buildings,
        plan_datasets,
        plan_metadata,
        plan_residents,
        plan_results,
        results_version,
        save_plan_results,
        save_road_graph,
        stored_fingerprints,
        stored_keys,
    )
    from disaster_dx.plans.zones import (
        LANDSLIDE_ZONES,
        StoredZones,
        load_landslide_zones,
        save_landslide_zones,
    )

#: Where each re-exported name lives (imported on first use: a plain building import must
#: not pay for routing and SciPy).
_SOURCES: dict[str, str] = {
    "CARE_STAY_LIMIT_H": "disaster_dx.plans.judgement",
    "Caution": "disaster_dx.plans.judgement",
    "CodeArray": "disaster_dx.plans.judgement",
    "DATASET_KINDS": "disaster_dx.plans.storage",
    "DEFAULT_ARRIVAL_MINUTES": "disaster_dx.plans.destinations",
    "DEPTH_COLUMNS": "disaster_dx.plans.judgement",
    "DatasetInfo": "disaster_dx.plans.storage",
    "Destination": "disaster_dx.plans.destinations",
    "FlaggedResident": "disaster_dx.plans.storage",
    "FloatArray": "disaster_dx.plans.judgement",
    "IntArray": "disaster_dx.plans.judgement",
    "LANDSLIDE_ZONES": "disaster_dx.plans.zones",
    "MAX_SNAP_M": "disaster_dx.plans.destinations",
    "Mode": "disaster_dx.plans.destinations",
    "NotPermitted": "disaster_dx.errors",
    "PLAN_HAZARDS": "disaster_dx.plans.judgement",
    "PREPARATION_MINUTES": "disaster_dx.plans.destinations",
    "Plan": "disaster_dx.plans.destinations",
    "PlanKeys": "disaster_dx.plans.destinations",
    "PlanRun": "disaster_dx.plans.planner",
    "PlanSet": "disaster_dx.plans.destinations",
    "PlanStatus": "disaster_dx.plans.destinations",
    "Planner": "disaster_dx.plans.planner",
    "PlanningData": "disaster_dx.plans.planner",
    "REPLAN_USER": "disaster_dx.plans.planner",
    "ReplanReport": "disaster_dx.plans.planner",
    "ResidentSaveReport": "disaster_dx.plans.residents",
    "ResidentTable": "disaster_dx.plans.destinations",
    "SAFETY_MARGIN_M": "disaster_dx.plans.judgement",
    "SAME_SITE_M": "disaster_dx.plans.doors",
    "STOREY_HEIGHT_M": "disaster_dx.plans.judgement",
    "SavedPlans": "disaster_dx.plans.storage",
    "Scenario": "disaster_dx.plans.destinations",
    "Snapped": "disaster_dx.plans.destinations",
    "StoredZones": "disaster_dx.plans.zones",
    "Vertical": "disaster_dx.plans.judgement",
    "VerticalJudgement": "disaster_dx.plans.judgement",
    "VerticalReason": "disaster_dx.plans.judgement",
    "WOODEN_STRUCTURES": "disaster_dx.plans.judgement",
    "can_replan": "disaster_dx.plans.storage",
    "create_plan_tables": "disaster_dx.plans.storage",
    "dataset_infos": "disaster_dx.plans.storage",
    "eligible_destinations": "disaster_dx.plans.destinations",
    "flagged_residents": "disaster_dx.plans.storage",
    "load_buildings": "disaster_dx.plans.buildings",
    "load_landslide_zones": "disaster_dx.plans.zones",
    "load_road_graph": "disaster_dx.plans.storage",
    "plan_buildings": "disaster_dx.plans.storage",
    "plan_datasets": "disaster_dx.plans.storage",
    "plan_metadata": "disaster_dx.plans.storage",
    "plan_residents": "disaster_dx.plans.storage",
    "plan_results": "disaster_dx.plans.storage",
    "plans_for_residents": "disaster_dx.plans.destinations",
    "read_resident": "disaster_dx.plans.residents",
    "read_residents": "disaster_dx.plans.residents",
    "resident_table": "disaster_dx.plans.destinations",
    "results_version": "disaster_dx.plans.storage",
    "save_buildings": "disaster_dx.plans.buildings",
    "save_landslide_zones": "disaster_dx.plans.zones",
    "save_plan_results": "disaster_dx.plans.storage",
    "save_residents": "disaster_dx.plans.residents",
    "save_road_graph": "disaster_dx.plans.storage",
    "snap_residents": "disaster_dx.plans.destinations",
    "stored_fingerprints": "disaster_dx.plans.storage",
    "stored_keys": "disaster_dx.plans.storage",
    "vertical_evacuation": "disaster_dx.plans.judgement",
}

__all__ = [
    "CARE_STAY_LIMIT_H",
    "DATASET_KINDS",
    "DEFAULT_ARRIVAL_MINUTES",
    "DEPTH_COLUMNS",
    "LANDSLIDE_ZONES",
    "MAX_SNAP_M",
    "PLAN_HAZARDS",
    "PREPARATION_MINUTES",
    "REPLAN_USER",
    "SAFETY_MARGIN_M",
    "SAME_SITE_M",
    "STOREY_HEIGHT_M",
    "WOODEN_STRUCTURES",
    "Caution",
    "CodeArray",
    "DatasetInfo",
    "Destination",
    "FlaggedResident",
    "FloatArray",
    "IntArray",
    "Mode",
    "NotPermitted",
    "Plan",
    "PlanKeys",
    "PlanRun",
    "PlanSet",
    "PlanStatus",
    "Planner",
    "PlanningData",
    "ReplanReport",
    "ResidentSaveReport",
    "ResidentTable",
    "SavedPlans",
    "Scenario",
    "Snapped",
    "StoredZones",
    "Vertical",
    "VerticalJudgement",
    "VerticalReason",
    "can_replan",
    "create_plan_tables",
    "dataset_infos",
    "eligible_destinations",
    "flagged_residents",
    "load_buildings",
    "load_landslide_zones",
    "load_road_graph",
    "plan_buildings",
    "plan_datasets",
    "plan_metadata",
    "plan_residents",
    "plan_results",
    "plans_for_residents",
    "read_resident",
    "read_residents",
    "resident_table",
    "results_version",
    "save_buildings",
    "save_landslide_zones",
    "save_plan_results",
    "save_residents",
    "save_road_graph",
    "snap_residents",
    "stored_fingerprints",
    "stored_keys",
    "vertical_evacuation",
]


def __getattr__(name: str) -> Any:
    """Import the submodule holding ``name`` on first use and cache the name here."""
    module = _SOURCES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
