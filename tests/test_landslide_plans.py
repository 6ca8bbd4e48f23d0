"""Plans for landslide and long floods, and the two rule edges of issue #15.

- 土砂災害特別警戒区域 → the home is never a refuge (立退き避難);
- 土砂災害警戒区域 → 屋内安全確保 only as a flagged last resort;
- routes avoid landslide areas when another way exists, and say so when they must cross;
- 浸水継続時間 longer than the limit flags a stay upstairs for people needing care;
- wooden in the tsunami area with unknown depth → never a refuge;
- a top floor exactly at depth + margin is not "higher" → not safe.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from disaster_dx import auth
from disaster_dx.bundled import ensure_initialised
from disaster_dx.cli import main
from disaster_dx.config import settings_from_env
from disaster_dx.demo_district import demo_district
from disaster_dx.io.residents import Mobility, residents_to_csv
from disaster_dx.landslide import edge_cost_factors
from disaster_dx.model import Hazard
from disaster_dx.plans import (
    CARE_STAY_LIMIT_H,
    Caution,
    Destination,
    Planner,
    PlanStatus,
    ResidentTable,
    Scenario,
    Vertical,
    VerticalReason,
    dataset_infos,
    load_buildings,
    load_landslide_zones,
    plans_for_residents,
    save_buildings,
    save_landslide_zones,
    save_residents,
    save_road_graph,
    vertical_evacuation,
)
from disaster_dx.routing import graph_from_arrays
from disaster_dx.store import Store
from tests.conftest import add_staff_user

FIXTURES = Path(__file__).parent / "fixtures" / "landslide"
MOBILITIES = tuple(Mobility)


def judge(rows: list[dict], hazard: Hazard):
    return vertical_evacuation(pd.DataFrame(rows), hazard)


# -- judgement ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "vertical", "reason"),
    [
        # Special area: never a refuge, however tall and strong.
        ({"storeys": 8, "structure": "603", "landslide_area": "土砂災害特別警戒区域（指定済）"},
         Vertical.NOT_SAFE, VerticalReason.LANDSLIDE_SPECIAL),
        ({"storeys": 2, "landslide_area": "土砂災害特別警戒区域（指定前）"},
         Vertical.NOT_SAFE, VerticalReason.LANDSLIDE_SPECIAL),
        # Warning area: upstairs only as a last resort; a one-storey house has no upstairs.
        ({"storeys": 2, "landslide_area": "土砂災害警戒区域（指定済）"},
         Vertical.SAFE, VerticalReason.LANDSLIDE_WARNING),
        ({"storeys": 1, "landslide_area": "土砂災害警戒区域（指定済）"},
         Vertical.NOT_SAFE, VerticalReason.LANDSLIDE_ONE_STOREY),
        ({"landslide_area": "土砂災害警戒区域（指定済）"},
         Vertical.UNKNOWN, VerticalReason.HEIGHT_UNKNOWN),
        ({"storeys": 1, "landslide_area": "区域外"},
         Vertical.SAFE, VerticalReason.LANDSLIDE_OUTSIDE),
        ({"storeys": 3, "landslide_area": None},
         Vertical.UNKNOWN, VerticalReason.LANDSLIDE_UNKNOWN),
    ],
)  # fmt: skip
def test_landslide_judgement(row: dict, vertical: Vertical, reason: VerticalReason) -> None:
    judged = judge([row], Hazard.LANDSLIDE)
    assert (judged.vertical(0), judged.reason_of(0)) == (vertical, reason)
    assert bool(judged.last_resort[0]) == (reason is VerticalReason.LANDSLIDE_WARNING)
    assert bool(judged.outside[0]) == (reason is VerticalReason.LANDSLIDE_OUTSIDE)


def test_ogasawara_sample_judged_by_area(shared_data: Path) -> None:
    from disaster_dx.io.plateau import buildings_from_citygml

    path = shared_data / "plateau" / "ogasawara2025_uro32_40425105_bldg_6697_op.gml"
    judged = vertical_evacuation(buildings_from_citygml([path]).buildings, Hazard.LANDSLIDE)
    reasons = [judged.reason_of(i) for i in range(len(judged))]
    # 5 in a 特別警戒区域; the 3 in a 警戒区域 are one-storey or of unknown storeys.
    assert reasons.count(VerticalReason.LANDSLIDE_SPECIAL) == 5
    assert not judged.safe.any()


@pytest.mark.parametrize(
    ("evidence", "reason"),
    [
        ({"tsunami_rank": 2}, VerticalReason.WOODEN_TSUNAMI),
        ({"tsunami_sources": [{"description": "1", "depth_m": None}]},
         VerticalReason.WOODEN_TSUNAMI),
        ({"tsunami_depth_label": "不明な区分"}, VerticalReason.WOODEN_TSUNAMI),
        ({"tsunami_in_area": True}, VerticalReason.WOODEN_TSUNAMI),
        ({"tsunami_depth_label": "区域外"}, VerticalReason.DEPTH_UNKNOWN),
        ({}, VerticalReason.DEPTH_UNKNOWN),  # nothing says it is in the area
    ],
)  # fmt: skip
def test_wooden_in_the_tsunami_area_with_unknown_depth_is_never_a_refuge(
    evidence: dict, reason: VerticalReason
) -> None:
    row = {"storeys": 3, "structure": "601", "tsunami_depth_upper_m": math.nan, **evidence}
    judged = judge([row], Hazard.TSUNAMI)
    assert judged.reason_of(0) is reason
    expected = Vertical.NOT_SAFE if reason is VerticalReason.WOODEN_TSUNAMI else Vertical.UNKNOWN
    assert judged.vertical(0) is expected
    # Not wooden: the depth is still needed.
    concrete = judge([{**row, "structure": "603"}], Hazard.TSUNAMI)
    assert concrete.reason_of(0) is VerticalReason.DEPTH_UNKNOWN


def test_top_floor_exactly_at_depth_plus_margin_is_not_higher() -> None:
    rows = [
        {"storeys": 3, "structure": "603", "tsunami_depth_upper_m": 5.0},  # 6 m = 5 + 1
        {"storeys": 3, "structure": "603", "tsunami_depth_upper_m": 4.99},  # 6 m > 5.99
        {"height_m": 9.0, "flood_depth_upper_m": 5.0},  # 6 m = 5 + 1 by height too
    ]
    tsunami = judge(rows[:2], Hazard.TSUNAMI)
    assert [tsunami.reason_of(i) for i in range(2)] == [
        VerticalReason.FLOOR_BELOW,
        VerticalReason.FLOOR_ABOVE,
    ]
    assert judge(rows[2:], Hazard.FLOOD).reason_of(0) is VerticalReason.FLOOR_BELOW
    # The texts say the same as the rule: 「より高ければ可」, so equal is "not higher".
    assert VerticalReason.FLOOR_ABOVE.ja.endswith("より高い")
    assert VerticalReason.FLOOR_BELOW.ja.endswith("より高くない")


# -- plans: a home, a shelter, and a street through a landslide area ------------------------------


HOME = (133.600, 33.580)
SHELTER = (133.602, 33.580)
ZONE = shapely.box(133.6008, 33.5798, 133.6012, 33.5802)  # around the middle corner


def ladder(*, detour: bool):
    """Home (0) → shelter (2) straight via corner 1 (in the zone), or round it via 3–4."""
    lon = [133.600, 133.601, 133.602, 133.600, 133.602]
    lat = [33.580, 33.580, 33.580, 33.581, 33.581]
    u, v = [0, 1], [1, 2]
    if detour:
        u, v = [*u, 0, 3, 4], [*v, 3, 4, 2]
    return graph_from_arrays(lon, lat, u, v)


def residents(mobility: Mobility = Mobility.ELDERLY, n: int = 1) -> ResidentTable:
    return ResidentTable(
        resident_id=np.array([f"r{i}" for i in range(n)]),
        lon=np.full(n, HOME[0]),
        lat=np.full(n, HOME[1]),
        mobility=np.full(n, MOBILITIES.index(mobility), dtype=np.int8),
        home=np.zeros(n, dtype=np.intp),
    )


def shelter() -> list[Destination]:
    return [Destination("s1", "高台の避難場所（架空）", "shelter", *SHELTER)]


def test_special_area_home_must_leave_and_is_flagged_when_it_cannot() -> None:
    vertical = judge([{"storeys": 3, "landslide_area": "土砂災害特別警戒区域"}], Hazard.LANDSLIDE)
    graph = ladder(detour=True)
    scenario = Scenario(Hazard.LANDSLIDE, mode="designated")
    plans = plans_for_residents(graph, residents(), vertical, shelter(), scenario)
    assert plans.status_of(0) is PlanStatus.REACHABLE
    plan = plans.plan(0)
    assert plan.vertical is Vertical.NOT_SAFE and "立退き避難" in plan.vertical_text()
    assert plan.depth_text() == "土砂災害特別警戒区域"
    # No shelter: staying is no answer, so the plan is late (flagged), never "vertical".
    alone = plans_for_residents(graph, residents(), vertical, [], scenario)
    assert alone.status_of(0) is PlanStatus.LATE and alone.flagged[0]


def test_warning_area_upstairs_is_a_flagged_last_resort() -> None:
    vertical = judge([{"storeys": 2, "landslide_area": "土砂災害警戒区域"}], Hazard.LANDSLIDE)
    graph = ladder(detour=True)
    scenario = Scenario(Hazard.LANDSLIDE, mode="designated")
    leave = plans_for_residents(graph, residents(), vertical, shelter(), scenario)
    assert leave.status_of(0) is PlanStatus.REACHABLE and not leave.flagged[0]
    stay = plans_for_residents(graph, residents(), vertical, [], scenario)
    assert stay.status_of(0) is PlanStatus.VERTICAL
    assert stay.flagged[0]  # a last resort is flagged like "late"
    plan = stay.plan(0)
    assert plan.cautions == (Caution.LAST_RESORT,) and plan.flagged
    assert "屋内安全確保" in plan.vertical_text() and "最終手段" in plan.vertical_text()
    # Flagging is part of what a stored plan compares (it can change without the status).
    assert stay.keys().flagged.tolist() == [True]


def test_outside_every_area_needs_no_evacuation() -> None:
    vertical = judge([{"storeys": 1, "landslide_area": "区域外"}], Hazard.LANDSLIDE)
    scenario = Scenario(Hazard.LANDSLIDE, mode="designated")
    plans = plans_for_residents(ladder(detour=True), residents(), vertical, shelter(), scenario)
    assert plans.status_of(0) is PlanStatus.OUTSIDE


def test_route_avoids_the_area_when_it_can_and_says_so_when_it_cannot() -> None:
    vertical = judge([{"storeys": 1, "landslide_area": "土砂災害特別警戒区域"}], Hazard.LANDSLIDE)
    scenario = Scenario(Hazard.LANDSLIDE, mode="designated")
    detour = ladder(detour=True)
    plain = plans_for_residents(detour, residents(), vertical, shelter(), scenario)
    assert plain.length_m[0] == pytest.approx(186.0, abs=3)  # straight through, unchecked
    around = plans_for_residents(
        detour,
        residents(),
        vertical,
        shelter(),
        scenario,
        edge_factors=edge_cost_factors(detour, [ZONE]),
    )
    # Door to door: a route ends at the shelter's door node (n_nodes + its index), here
    # reached from corner 4 along the street into corner 2.
    assert around.routes.path(0).tolist() == [0, 3, 4, detour.n_nodes]
    assert around.length_m[0] == pytest.approx(408.0, abs=5)  # metres, not weighted cost
    assert around.plan(0).cautions == ()
    straight = ladder(detour=False)
    through = plans_for_residents(
        straight,
        residents(),
        vertical,
        shelter(),
        scenario,
        edge_factors=edge_cost_factors(straight, [ZONE]),
    )
    assert through.routes.path(0).tolist() == [0, 1, straight.n_nodes]
    assert through.length_m[0] == pytest.approx(186.0, abs=3)
    plan = through.plan(0)
    assert plan.status is PlanStatus.REACHABLE
    assert plan.cautions == (Caution.ZONE_ROUTE,)
    assert "土砂災害警戒区域を通ります" in plan.vertical_text()
    assert not plan.flagged  # it reaches safety: a warning, not "cannot reach"


# -- flood duration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mobility", "duration", "limit", "long_stay"),
    [
        (Mobility.ELDERLY, 48.0, CARE_STAY_LIMIT_H, True),
        (Mobility.WHEELCHAIR, 24.5, 24.0, True),
        (Mobility.WITH_HELPER, 24.0, 24.0, False),  # "longer than" the limit
        (Mobility.ELDERLY, 48.0, 72.0, False),  # the city's own limit
        (Mobility.INDEPENDENT, 200.0, 24.0, False),  # no care needed
        (Mobility.ELDERLY, math.nan, 24.0, False),  # unknown duration: no claim
    ],
)
def test_long_flood_flags_a_stay_upstairs_for_people_needing_care(
    mobility: Mobility, duration: float, limit: float, long_stay: bool
) -> None:
    row = {"storeys": 3, "flood_depth_upper_m": 2.0, "flood_duration_h": duration}
    vertical = judge([row], Hazard.FLOOD)
    assert vertical.safe[0]
    scenario = Scenario(Hazard.FLOOD, mode="designated", care_stay_limit_h=limit)
    stay = plans_for_residents(ladder(detour=False), residents(mobility), vertical, [], scenario)
    assert stay.status_of(0) is PlanStatus.VERTICAL
    plan = stay.plan(0)
    assert (Caution.LONG_STAY in plan.cautions) is long_stay
    assert bool(stay.flagged[0]) is long_stay
    if long_stay:
        assert "浸水継続時間" in plan.vertical_text() and "要配慮者" in plan.vertical_text()
    # Leaving in time needs no such caution.
    go = plans_for_residents(
        ladder(detour=False), residents(mobility), vertical, shelter(), scenario
    )
    assert go.status_of(0) is PlanStatus.REACHABLE and go.plan(0).cautions == ()


def test_osaka_sample_durations_reach_the_judgement(shared_data: Path) -> None:
    from disaster_dx.io.plateau import buildings_from_citygml

    path = shared_data / "plateau" / "osaka2024_uro31_51357309_bldg_6697_op.gml"
    buildings = buildings_from_citygml([path]).buildings
    judged = vertical_evacuation(buildings, Hazard.FLOOD)
    assert judged.duration_h is not None
    known = ~np.isnan(judged.duration_h)
    assert known.sum() == buildings["flood_duration_h"].notna().sum() > 0


def test_limit_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings_from_env({}).care_stay_limit_hours == 24
    assert settings_from_env({"CARE_STAY_LIMIT_HOURS": "72"}).care_stay_limit_hours == 72
    with pytest.raises(ValueError, match="CARE_STAY_LIMIT_HOURS"):
        settings_from_env({"CARE_STAY_LIMIT_HOURS": "0"})
    with pytest.raises(ValueError, match="care_stay_limit_h"):
        Scenario(Hazard.FLOOD, care_stay_limit_h=0.0)


# -- storage and the planner ------------------------------------------------------------------


def test_buildings_keep_landslide_duration_and_in_area_through_storage(store: Store) -> None:
    frame = gpd.GeoDataFrame(
        {
            "building_id": ["a", "b", "c"],
            "storeys": [2, 2, 3],
            "structure": ["601", "603", "603"],
            "tsunami_depth_upper_m": [math.nan, 3.0, math.nan],
            "tsunami_rank": pd.array([2, 2, pd.NA], dtype="Int64"),
            "flood_depth_upper_m": [1.0, math.nan, math.nan],
            "flood_duration_h": [36.0, math.nan, math.nan],
            "landslide_area": ["土砂災害警戒区域（指定済）", "区域外", None],
            "landslide": ["土石流", None, None],
        },
        geometry=[shapely.box(133.6, 33.58, 133.6001, 33.5801 + i * 1e-4) for i in range(3)],
        crs="EPSG:4326",
    )
    save_buildings(store, frame, actor="test", source="t")
    back = load_buildings(store).set_index("building_id").loc[["a", "b", "c"]].reset_index()
    assert back["landslide_area"].tolist() == ["土砂災害警戒区域（指定済）", "区域外", None]
    assert back["landslide"].tolist() == ["土石流", None, None]
    assert back["flood_duration_h"].iloc[0] == 36.0 and np.isnan(back["flood_duration_h"].iloc[1])
    assert back["tsunami_in_area"].tolist() == [True, True, False]
    for hazard in (Hazard.TSUNAMI, Hazard.FLOOD, Hazard.LANDSLIDE):
        before = vertical_evacuation(frame, hazard)
        after = vertical_evacuation(back, hazard)
        np.testing.assert_array_equal(before.reason, after.reason)
    assert vertical_evacuation(back, Hazard.TSUNAMI).reason_of(0) is VerticalReason.WOODEN_TSUNAMI


def test_planner_routes_round_stored_landslide_areas(store: Store) -> None:
    ensure_initialised(store)
    add_staff_user(store, "plan1", "planner")
    planner_user = auth.get_user(store, "plan1")
    d = demo_district(n_residents=12, grid_size=20)
    save_road_graph(store, d.graph, actor="test", source="demo", synthetic=True)
    save_residents(store, d.residents, planner_user, source="demo")
    homes = d.buildings.set_index("building_id").loc[[r.building_id for r in d.residents[:2]]]
    special = shapely.buffer(homes.geometry.iloc[0], 0.0003)
    warning = shapely.buffer(homes.geometry.iloc[1], 0.0003)
    zones = gpd.GeoDataFrame(
        {"level": np.array([2, 1], dtype=np.int8)}, geometry=[special, warning], crs="EPSG:4326"
    )
    from disaster_dx.io.landslide_zones import add_landslide_zones

    buildings = add_landslide_zones(
        d.buildings,
        zones.assign(
            area=["土砂災害特別警戒区域（指定済）", "土砂災害警戒区域（指定済）"],
            kind=["土石流", "急傾斜地の崩壊"],
            designated=True,
        ),
    )
    save_buildings(store, buildings, actor="test", source="demo", synthetic=True)
    planner = Planner(store, care_stay_limit_h=12.0)
    scenario = planner.scenario_for(Hazard.LANDSLIDE, mode="designated")
    assert scenario.care_stay_limit_h == 12.0
    before = planner.compute(planner_user, scenario, purpose="test")
    assert before is not None and before.data.edge_factors(Hazard.LANDSLIDE) is None
    save_landslide_zones(store, zones, actor="test", source="zones")
    assert "zones:landslide" in dataset_infos(store)
    stored = load_landslide_zones(store)
    assert stored is not None and stored.level.tolist() == [2, 1]
    run = planner.compute(planner_user, scenario, purpose="test")
    assert run is not None
    factors = run.data.edge_factors(Hazard.LANDSLIDE)
    assert factors is not None and (factors > 1).any()
    plans = run.plans
    index = plans.index()
    first = plans.plan(index[d.residents[0].resident_id])
    assert first.vertical_reason is VerticalReason.LANDSLIDE_SPECIAL
    assert first.status in (PlanStatus.REACHABLE, PlanStatus.LATE)
    # Everyone with a home found outside the areas needs no evacuation.
    outside = [
        plans.plan(i)
        for i in range(len(plans))
        if plans.plan(i).vertical_reason is VerticalReason.LANDSLIDE_OUTSIDE
    ]
    assert outside and all(p.status is PlanStatus.OUTSIDE for p in outside)
    # From a home inside an area no route avoids it: the plan reaches safety and says so.
    assert first.status is PlanStatus.REACHABLE
    assert first.cautions == (Caution.ZONE_ROUTE,)
    assert not any(before.plans.cautions(i) for i in range(len(before.plans)))
    # Tsunami plans never pay the landslide factors.
    assert run.data.edge_factors(Hazard.TSUNAMI) is None


# -- the command line ---------------------------------------------------------------------------


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> Path:
    for name in ("DX_ADMIN_USER", "DX_ADMIN_PASSWORD", "DX_USER_PASSWORD", "DISASTER_DX_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DX_USER_PASSWORD", "pw-planner-0123456789")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_cli_imports_a33_and_plans_landslide(cli_env: Path, capsys) -> None:
    d = demo_district(n_residents=12, grid_size=20)
    lines = [
        {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(line)}
        for line in d.graph.edge_lines()
    ]
    (cli_env / "roads.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": lines}), encoding="utf-8"
    )
    polygons = d.buildings[["building_id", "height_m", "storeys", "structure", "geometry"]]
    polygons.assign(storeys=polygons.storeys.astype("float")).to_file(
        cli_env / "buildings.gpkg", driver="GPKG"
    )
    homes = d.buildings.set_index("building_id").loc[[r.building_id for r in d.residents[:2]]]
    a33 = json.loads((FIXTURES / "a33_v2_synthetic.geojson").read_text(encoding="utf-8"))
    a33["features"] = a33["features"][1::-1]  # the special area, then a warning area
    for feature, home in zip(a33["features"], homes.geometry, strict=True):
        feature["geometry"] = shapely.geometry.mapping(shapely.buffer(home, 0.0002))
    (cli_env / "a33.geojson").write_text(json.dumps(a33, ensure_ascii=False), encoding="utf-8")
    (cli_env / "residents.csv").write_bytes(residents_to_csv(list(d.residents)))

    assert main(["import-roads", "roads.geojson"]) == 0
    argv = ["import-buildings", "buildings.gpkg", "--zones", "a33.geojson"]
    assert main([*argv, "--zone-hazard", "landslide"]) == 0
    err = capsys.readouterr().err
    assert "2 土砂災害警戒区域 area(s), of which 1 特別警戒区域" in err
    assert "landslide areas saved" in err
    assert main(["user", "add", "plan1", "--roles", "planner"]) == 0
    assert main(["import-residents", "residents.csv", "--user", "plan1"]) == 0
    capsys.readouterr()
    assert main(["plan", "--user", "plan1", "--hazard", "landslide"]) == 0
    out = capsys.readouterr().out
    rows = {r["resident_id"]: r for r in csv.DictReader(io.StringIO(out.lstrip("\ufeff")))}
    first, second = (rows[r.resident_id] for r in d.residents[:2])
    assert first["vertical_reason"] == "landslide_special"
    assert second["vertical_reason"] in (
        "landslide_warning",
        "landslide_one_storey",
        "height_unknown",
    )
    others = [rows[r.resident_id] for r in d.residents[2:] if r.building_id]
    # Outside every area: no evacuation needed (before, everyone was routed).
    assert others and all(r["status"] in ("outside", "check") for r in others)
    assert "cautions" in first


def test_landslide_sheet_speaks_of_areas_not_water() -> None:
    from datetime import UTC, datetime

    from disaster_dx.io.residents import Resident
    from disaster_dx.plans.sheet import plan_sheet_html

    vertical = judge([{"storeys": 2, "landslide_area": "土砂災害警戒区域"}], Hazard.LANDSLIDE)
    scenario = Scenario(Hazard.LANDSLIDE, mode="designated")
    stay = plans_for_residents(ladder(detour=False), residents(), vertical, [], scenario)
    person = Resident("r0", "架空 花子", lon=HOME[0], lat=HOME[1], mobility=Mobility.ELDERLY)
    made = datetime(2026, 9, 1, 3, 0, tzinfo=UTC)
    page = plan_sheet_html(stay.plan(0), person, made_at=made, synthetic=True)
    assert "<th>土砂災害警戒区域</th><td>土砂災害警戒区域</td>" in page
    assert "屋内安全確保" in page and "最終手段" in page
    assert 'class="status late"' in page  # a last resort is flagged on paper too
    assert "浸水想定区域の外" not in page
