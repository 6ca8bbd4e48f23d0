"""Individual evacuation plans (個別避難計画) for residents who need help, and live re-planning.

For each resident on the 避難行動要支援者 list and one hazard, a plan answers: *is the home in the
hazard area, could they stay on an upper floor, which suitable shelter is nearest on foot, by
which streets, how long does it take at their speed — and is that before the water arrives?*
HQ needs the same answer during an incident for everyone at once, re-computed the moment a
shelter closes or fills up.

The package, in import order (each module imports only those above it):

- :mod:`~disaster_dx.plans.judgement` — the vertical-evacuation judgement per building
  (storey height, safety margin, wooden-in-tsunami rule; unknown is never "safe").
- :mod:`~disaster_dx.plans.destinations` — scenario, eligible destinations, residents as
  routing arrays, and :func:`plans_for_residents`: the vectorised pipeline from homes to
  routes, minutes, margins and statuses.
- :mod:`~disaster_dx.plans.storage` — the privacy boundary: the ``plan_*`` tables, dataset
  versions, role checks, the stored road network, live plan results and HQ's flagged view.
- :mod:`~disaster_dx.plans.buildings` — building storage (PLATEAU and hazard-zone frames).
- :mod:`~disaster_dx.plans.residents` — resident storage: audited, role-checked reads.
- :mod:`~disaster_dx.plans.planner` — :class:`Planner`, the per-app service: caches by
  dataset version and re-plans the live incident on every shelter or hazard event.

Every name callers used from the former single module is re-exported here.
"""

from __future__ import annotations

from disaster_dx.plans.buildings import load_buildings, save_buildings
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
    NotPermitted,
    SavedPlans,
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
