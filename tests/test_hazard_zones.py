"""Buildings from polygon files and depth ranges from A40/A31-style hazard polygons."""

from __future__ import annotations

import json
import math

import geopandas as gpd
import numpy as np
import pytest
import shapely

from disaster_dx.errors import ImportFileError
from disaster_dx.io.hazard_zones import (
    add_zone_depths,
    buildings_from_polygons,
    depth_range,
    hazard_zones_from_file,
    structure_code,
)
from disaster_dx.model import Hazard
from disaster_dx.plans import Vertical, VerticalReason, vertical_evacuation

A40 = "tsunami/kochi_A40-16_simplified_nankoku_area.geojson"


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("0.3m以上 1m未満", (0.3, 1.0)),
        ("0.01m以上 〜 0.3m未満", (0.01, 0.3)),
        ("５ｍ以上１０ｍ未満", (5.0, 10.0)),
        ("5～10m", (5.0, 10.0)),
        ("5.0m - 10.0m", (5.0, 10.0)),
        ("0.5m未満", (0.0, 0.5)),
        ("10m以上", (10.0, math.inf)),
        ("20m~", (20.0, math.inf)),
        ("", None),
        ("浅い", None),
        ("5m", None),  # one number without 以上/未満 is not a range
        ("10m以上 5m未満", None),
    ],
)
def test_depth_labels_become_ranges(label: str, expected: tuple[float, float] | None) -> None:
    assert depth_range(label) == expected


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("木造", "601"),
        ("木造2階建", "601"),
        ("非木造建物", "610"),
        ("堅ろう建物", "610"),
        ("普通建物", None),  # 基盤地図情報: says nothing about the material
        ("RC", "603"),
        ("鉄骨鉄筋コンクリート造", "602"),
        ("steel", "604"),
        ("wood", "601"),
        ("603", "603"),
        ("", None),
        (None, None),
    ],
)
def test_structure_words(value: object, code: str | None) -> None:
    assert structure_code(value) == code


@pytest.mark.shared_data
def test_real_kochi_a40_sample_reads_as_ranges(shared_data) -> None:
    found = hazard_zones_from_file(shared_data / A40)
    zones = found.zones
    assert found.column == "depth_rank" and len(zones) == 7
    assert zones.crs.to_epsg() == 4326
    pairs = sorted(zip(zones.depth_lower_m, zones.depth_upper_m, strict=True))
    assert pairs == [
        (0.01, 0.3),
        (0.3, 1.0),
        (1.0, 2.0),
        (2.0, 3.0),
        (3.0, 5.0),
        (5.0, 10.0),
        (10.0, 15.0),
    ]
    assert shapely.is_valid(np.asarray(zones.geometry.array)).all()


@pytest.mark.shared_data
def test_buildings_get_the_deepest_touching_class_and_upper_bound_judges(shared_data) -> None:
    zones = hazard_zones_from_file(shared_data / A40).zones
    deep = zones.loc[zones.depth_upper_m.idxmax()].geometry
    shallow = zones.loc[zones.depth_upper_m.idxmin()].geometry
    inside_deep = shapely.Point(shapely.point_on_surface(deep))
    inside_shallow = shapely.point_on_surface(shallow)

    def square(point: shapely.Point, half: float = 0.00005) -> shapely.Polygon:
        return shapely.box(point.x - half, point.y - half, point.x + half, point.y + half)

    far = shapely.Point(133.60, 33.70)  # inland, north of every zone
    buildings = gpd.GeoDataFrame(
        {
            "building_id": ["deep", "shallow", "far", "tall-unknown", "no-footprint"],
            "height_m": [40.0, 4.0, 6.0, np.nan, 9.0],
            "storeys": [12, 1, 2, None, 3],
            "structure": ["603", "603", "601", None, "603"],
        },
        geometry=[
            square(inside_deep),
            square(inside_shallow),
            square(far),
            square(inside_deep),
            None,
        ],
        crs="EPSG:4326",
    )
    out = add_zone_depths(buildings, zones, hazard="tsunami")
    assert out.loc[0, "tsunami_depth_upper_m"] == 15.0
    assert out.loc[0, "tsunami_depth_lower_m"] == 10.0
    assert "10m以上" in out.loc[0, "tsunami_depth_label"]
    assert out.loc[1, "tsunami_depth_upper_m"] == 0.3
    assert (out.loc[2, "tsunami_depth_upper_m"], out.loc[2, "tsunami_depth_label"]) == (
        0.0,
        "区域外",
    )
    assert math.isnan(out.loc[4, "tsunami_depth_upper_m"])  # no footprint: unknown, not dry

    judged = vertical_evacuation(out, Hazard.TSUNAMI)
    # 12 storeys: floor at 33 m ≥ 15 m (upper bound) + 1 m.
    assert judged.vertical(0) is Vertical.SAFE
    # 1 storey: floor at 0 m < 0.3 m + 1 m, judged on the upper bound.
    assert (judged.vertical(1), judged.reason_of(1)) == (
        Vertical.NOT_SAFE,
        VerticalReason.FLOOR_BELOW,
    )
    assert (judged.vertical(2), judged.reason_of(2)) == (Vertical.SAFE, VerticalReason.OUTSIDE)
    # Unknown height and storeys: "unknown", never "safe".
    assert (judged.vertical(3), judged.reason_of(3)) == (
        Vertical.UNKNOWN,
        VerticalReason.HEIGHT_UNKNOWN,
    )
    assert judged.reason_of(4) is VerticalReason.DEPTH_UNKNOWN

    # With the map's coverage given, buildings outside it stay unknown instead of 区域外.
    covered = add_zone_depths(
        buildings, zones, hazard="tsunami", coverage=shapely.box(133.5, 33.4, 133.75, 33.6)
    )
    assert math.isnan(covered.loc[2, "tsunami_depth_upper_m"])
    assert pd_isna(covered.loc[2, "tsunami_depth_label"])


def test_a31_codes_and_national_ranks(tmp_path) -> None:
    frame = gpd.GeoDataFrame(
        {"A31_001": ["22", "26", "3"]},
        geometry=[shapely.box(133.6, 33.5, 133.61, 33.51)] * 3,
        crs="EPSG:4326",
    )
    zones = hazard_zones_from_file(frame, hazard="flood").zones
    assert list(zip(zones.depth_lower_m, zones.depth_upper_m, strict=True)) == [
        (0.5, 3.0),
        (20.0, math.inf),
        (3.0, 5.0),
    ]


def test_unreadable_classes_are_all_named(tmp_path) -> None:
    path = tmp_path / "zones.geojson"
    box = shapely.geometry.mapping(shapely.box(133.6, 33.5, 133.61, 33.51))
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "properties": {"A40_003": label}, "geometry": box}
                    for label in ("1m以上 2m未満", "深い", "", "3m以上5m未満")
                ],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    with pytest.raises(ImportFileError) as caught:
        hazard_zones_from_file(path)
    text = str(caught.value)
    assert "feature 2" in text and "'深い'" in text and "feature 3" in text
    assert "feature 1" not in text and "feature 4" not in text
    with pytest.raises(ImportFileError, match="no depth-class column"):
        hazard_zones_from_file(path, rank_column="nothing")


def test_polygon_buildings_keep_unknown_unknown(tmp_path) -> None:
    bowtie = shapely.Polygon([(133.6, 33.5), (133.601, 33.501), (133.601, 33.5), (133.6, 33.501)])
    features = [
        ({"osm_id": "w1", "height": "12 m", "building:levels": "4",
          "building:material": "concrete"}, shapely.box(133.6, 33.5, 133.6002, 33.5002)),
        ({"osm_id": "w2", "height": "tall", "building:levels": "二", "building:material": "wood"},
         shapely.box(133.601, 33.5, 133.6012, 33.5002)),
        ({"osm_id": "w3"}, shapely.box(133.602, 33.5, 133.6022, 33.5002)),
        ({"osm_id": "w4"}, shapely.Point(133.603, 33.5)),
        ({"osm_id": "w5", "building:levels": "-1"}, bowtie),
    ]  # fmt: skip
    frame = gpd.GeoDataFrame(
        [p for p, _ in features], geometry=[g for _, g in features], crs="EPSG:4326"
    )
    path = tmp_path / "osm.gpkg"
    frame.to_file(path, driver="GPKG")
    found = buildings_from_polygons(path)
    b = found.buildings.set_index("building_id")
    assert list(b.index) == ["w1", "w2", "w3", "w5"]  # the point was skipped
    assert (b.loc["w1", "height_m"], b.loc["w1", "storeys"], b.loc["w1", "structure"]) == (
        12.0,
        4,
        "603",
    )
    assert math.isnan(b.loc["w2", "height_m"]) and b.loc["w2", "storeys"] is pd_na()
    assert b.loc["w2", "structure_ja"] == "木造・土蔵造"
    assert math.isnan(b.loc["w3", "height_m"]) and pd_isna(b.loc["w3", "structure"])
    assert shapely.is_valid(b.loc["w5", "geometry"])  # the bow-tie was repaired
    text = "\n".join(map(str, found.problems))
    assert "feature 4 (building w4)" in text and "skipped" in text
    assert "building w2" in text and "'tall'" in text and "'二'" in text
    assert "building w5" in text and found.skipped == 1

    judged = vertical_evacuation(
        add_zone_depths(
            found.buildings,
            gpd.GeoDataFrame(
                {
                    "hazard": ["flood"],
                    "depth_lower_m": [0.5],
                    "depth_upper_m": [3.0],
                    "label": ["x"],
                },
                geometry=[shapely.box(133.59, 33.49, 133.61, 33.51)],
                crs="EPSG:4326",
            ),
            hazard="flood",
        ),
        Hazard.FLOOD,
    )
    answers = [judged.vertical(i) for i in range(len(judged))]
    assert answers[0] is Vertical.SAFE  # 4 storeys: 9 m ≥ 3 m + 1 m
    assert answers[2] is Vertical.UNKNOWN  # no height, no storeys: never "safe"


def test_repeated_building_ids_are_refused(tmp_path) -> None:
    frame = gpd.GeoDataFrame(
        {"building_id": ["a", "a"]},
        geometry=[shapely.box(133.6, 33.5, 133.6002, 33.5002)] * 2,
        crs="EPSG:4326",
    )
    with pytest.raises(ImportFileError, match="'a' appears more than once"):
        buildings_from_polygons(frame)


def pd_na() -> object:
    import pandas as pd

    return pd.NA


def pd_isna(value: object) -> bool:
    import pandas as pd

    return bool(pd.isna(value))
