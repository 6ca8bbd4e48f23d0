"""土砂災害警戒区域: A33 import, each building's strictest area, and routes around the areas."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from disaster_dx.errors import ImportFileError
from disaster_dx.io.landslide_zones import (
    add_landslide_zones,
    area_class,
    landslide_zones_from_file,
    phenomenon,
)
from disaster_dx.landslide import (
    OUTSIDE_LABEL,
    ZONE_EDGE_FACTOR,
    ZoneLevel,
    edge_cost_factors,
    level_of,
    route_metres,
    with_edge_costs,
    zone_levels,
)
from disaster_dx.routing import (
    graph_from_arrays,
    nearest_destinations,
    routes_from_predecessors,
)

FIXTURES = Path(__file__).parent / "fixtures" / "landslide"
V2 = FIXTURES / "a33_v2_synthetic.geojson"
V1 = FIXTURES / "a33_v1_synthetic.geojson"
WORDS = FIXTURES / "prefecture_words_synthetic.geojson"


def synthetic_buildings() -> gpd.GeoDataFrame:
    """Four footprints: in the special area, in the warning area only, outside, 指定前."""
    return gpd.GeoDataFrame(
        {"building_id": ["special", "warning", "outside", "pending"]},
        geometry=[
            shapely.box(133.6000, 33.5800, 133.6001, 33.5801),
            shapely.box(133.6010, 33.5800, 133.6011, 33.5801),
            shapely.box(133.6030, 33.5800, 133.6031, 33.5801),
            shapely.box(133.6041, 33.5800, 133.6042, 33.5801),
        ],
        crs="EPSG:4326",
    )


# -- reading A33 ---------------------------------------------------------------------------------


def test_a33_newer_layout_reads_codes_pending_flag_and_skips_lines() -> None:
    found = landslide_zones_from_file(V2)
    zones = found.zones
    assert found.area_column == "A33_002"
    assert found.kind_column == "A33_001"
    assert found.skipped == 1  # the 土石流 line feature
    assert zones["level"].tolist() == [1, 2, 1]
    assert zones["area"].tolist() == [
        "土砂災害警戒区域（指定済）",
        "土砂災害特別警戒区域（指定済）",
        "土砂災害警戒区域（指定前）",
    ]
    assert zones["designated"].tolist() == [True, True, False]
    assert zones["special_pending"].tolist() == [False, False, True]
    assert zones["kind"].tolist() == ["土石流", "土石流", "急傾斜地の崩壊"]
    assert zones["name"].iloc[0] == "架空沢（警戒）"  # names keep their full-width brackets
    assert zones["notified"].iloc[2] is None  # 9999/1/1 is "unknown"
    assert zones.crs.to_epsg() == 4326


def test_a33_older_layout_with_integer_codes_and_no_pending_flag() -> None:
    zones = landslide_zones_from_file(V1).zones
    assert zones["level"].tolist() == [1, 2]
    assert zones["kind"].tolist() == ["地すべり", "急傾斜地の崩壊"]
    assert zones["prefecture_code"].tolist() == ["39", "39"]
    assert zones["special_pending"].tolist() == [None, None]


def test_prefecture_file_with_japanese_columns_and_words() -> None:
    found = landslide_zones_from_file(WORDS)
    assert found.area_column == "区域区分"
    assert found.zones["level"].tolist() == [2, 1]
    assert found.zones["kind"].tolist() == ["急傾斜地の崩壊", "土石流"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, ("土砂災害警戒区域（指定済）", ZoneLevel.WARNING)),
        ("2", ("土砂災害特別警戒区域（指定済）", ZoneLevel.SPECIAL)),
        (2.0, ("土砂災害特別警戒区域（指定済）", ZoneLevel.SPECIAL)),
        ("４", ("土砂災害特別警戒区域（指定前）", ZoneLevel.SPECIAL)),
        ("レッドゾーン", ("土砂災害特別警戒区域（指定済）", ZoneLevel.SPECIAL)),
        ("土砂災害警戒区域（指定前）", ("土砂災害警戒区域（指定前）", ZoneLevel.WARNING)),
        ("5", None),
        ("", None),
        ("危険", None),
    ],
)
def test_area_classes(value: object, expected: object) -> None:
    assert area_class(value) == expected


def test_phenomena() -> None:
    assert phenomenon("3") == "地すべり"
    assert phenomenon("地滑り") == "地すべり"
    assert phenomenon("急傾斜地の崩落") == "急傾斜地の崩壊"
    assert phenomenon("9") is None


def test_unreadable_classes_are_all_named_and_nothing_is_imported(tmp_path: Path) -> None:
    data = json.loads(V2.read_text(encoding="utf-8"))
    data["features"][0]["properties"]["A33_002"] = "9"
    data["features"][1]["properties"]["A33_001"] = "土砂"
    bad = tmp_path / "bad.geojson"
    bad.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ImportFileError) as caught:
        landslide_zones_from_file(bad)
    text = str(caught.value)
    assert "feature 1" in text and "A33_002='9'" in text
    assert "feature 2" in text and "A33_001='土砂'" in text


def test_a_file_without_an_area_column_is_refused(tmp_path: Path) -> None:
    data = json.loads(V2.read_text(encoding="utf-8"))
    for feature in data["features"]:
        del feature["properties"]["A33_002"]
    bad = tmp_path / "noarea.geojson"
    bad.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ImportFileError, match="no 区域区分 column"):
        landslide_zones_from_file(bad)


def test_shapefile_and_geopackage_read_alike(tmp_path: Path) -> None:
    frame = gpd.read_file(V1)
    frame.to_file(tmp_path / "a33.shp")
    frame.to_file(tmp_path / "a33.gpkg", layer="A33", driver="GPKG")
    for path in (tmp_path / "a33.shp", tmp_path / "a33.gpkg"):
        assert landslide_zones_from_file(path).zones["level"].tolist() == [1, 2]


# -- buildings ------------------------------------------------------------------------------------


def test_each_building_gets_the_strictest_area_it_touches() -> None:
    zones = landslide_zones_from_file(V2).zones
    out = add_landslide_zones(synthetic_buildings(), zones)
    assert out["landslide_area"].tolist() == [
        "土砂災害特別警戒区域（指定済）",  # in both: the special area wins
        "土砂災害警戒区域（指定済）",
        OUTSIDE_LABEL,
        "土砂災害警戒区域（指定前）",
    ]
    assert out["landslide"].tolist() == ["土石流", "土石流", None, "急傾斜地の崩壊"]
    assert zone_levels(out).tolist() == [2, 1, 0, 1]


def test_a_stricter_plateau_value_is_kept_and_coverage_leaves_the_rest_unknown() -> None:
    buildings = synthetic_buildings()
    buildings["landslide_area"] = [None, "土砂災害特別警戒区域（指定済）", None, None]
    buildings["landslide"] = [None, "急傾斜地の崩落", None, None]
    zones = landslide_zones_from_file(V2).zones
    coverage = shapely.box(133.5990, 33.5790, 133.6020, 33.5810)  # not the last two buildings
    out = add_landslide_zones(buildings, zones, coverage=coverage)
    assert zone_levels(out).tolist() == [2, 2, -1, -1]
    assert out["landslide"].iloc[1] == "土石流・急傾斜地の崩壊"  # PLATEAU's 崩落 named as A33


def test_levels_from_labels() -> None:
    assert level_of("土砂災害特別警戒区域（指定前）") is ZoneLevel.SPECIAL
    assert level_of("土砂災害警戒区域") is ZoneLevel.WARNING
    assert level_of(OUTSIDE_LABEL) is ZoneLevel.OUTSIDE
    assert level_of(None) is ZoneLevel.UNKNOWN
    assert level_of(float("nan")) is ZoneLevel.UNKNOWN
    frame = gpd.GeoDataFrame({"building_id": ["a"]}, geometry=[None])
    assert zone_levels(frame).tolist() == [-1]  # no column: nothing is known


def test_ogasawara_plateau_sample_has_both_areas(shared_data: Path) -> None:
    from disaster_dx.io.plateau import buildings_from_citygml

    path = shared_data / "plateau" / "ogasawara2025_uro32_40425105_bldg_6697_op.gml"
    buildings = buildings_from_citygml([path]).buildings
    levels = zone_levels(buildings)
    assert (levels == ZoneLevel.SPECIAL).sum() == 5
    assert (levels == ZoneLevel.WARNING).sum() == 3
    assert set(buildings["landslide"]) == {"急傾斜地の崩落"}


# -- routes ---------------------------------------------------------------------------------------


def ladder(*, detour: bool) -> tuple[object, shapely.Polygon]:
    """Home (0) → shelter (2) straight through a zone at node 1, or round it via 3–4.

    Nodes (lon, lat): 0 (133.600, 33.580), 1 (133.601, 33.580), 2 (133.602, 33.580); the
    detour runs 0 → 3 (133.600, 33.581) → 4 (133.602, 33.581) → 2, about twice as long.
    """
    lon = [133.600, 133.601, 133.602, 133.600, 133.602]
    lat = [33.580, 33.580, 33.580, 33.581, 33.581]
    u, v = [0, 1], [1, 2]
    if detour:
        u += [0, 3, 4]
        v += [3, 4, 2]
    graph = graph_from_arrays(lon, lat, u, v)
    zone = shapely.box(133.6008, 33.5798, 133.6012, 33.5802)  # around node 1
    return graph, zone


def _route(graph: object, factors: np.ndarray) -> tuple[list[int], float, float]:
    costly = with_edge_costs(graph, factors)  # type: ignore[arg-type]
    nearest = nearest_destinations(costly, [2])
    routes = routes_from_predecessors(nearest.predecessor, [0], distance=nearest.distance)
    metres, inside = route_metres(graph, routes, factors)  # type: ignore[arg-type]
    return routes.path(0).tolist(), float(metres[0]), float(inside[0])


def test_route_avoids_a_zone_when_another_way_exists() -> None:
    graph, zone = ladder(detour=True)
    factors = edge_cost_factors(graph, [zone])  # type: ignore[arg-type]
    assert sorted(factors.tolist()) == [1.0, 1.0, 1.0, ZONE_EDGE_FACTOR, ZONE_EDGE_FACTOR]
    straight, _, _ = _route(graph, np.ones(graph.n_edges))  # type: ignore[attr-defined]
    assert straight == [0, 1, 2]
    path, metres, inside = _route(graph, factors)
    assert path == [0, 3, 4, 2]
    assert inside == 0.0
    assert 400 < metres < 450  # real metres (111 + 186 + 111), not the weighted cost


def test_route_crosses_a_zone_when_it_must_and_says_how_far() -> None:
    graph, zone = ladder(detour=False)
    factors = edge_cost_factors(graph, [zone])  # type: ignore[arg-type]
    path, metres, inside = _route(graph, factors)
    assert path == [0, 1, 2]
    assert inside == pytest.approx(metres)  # both streets touch the zone
    assert 180 < metres < 190


def test_edge_factor_must_be_at_least_one() -> None:
    graph, zone = ladder(detour=False)
    with pytest.raises(ValueError, match="≥ 1"):
        edge_cost_factors(graph, [zone], factor=0.5)  # type: ignore[arg-type]
    assert edge_cost_factors(graph, []).tolist() == [1.0, 1.0]  # type: ignore[arg-type]
