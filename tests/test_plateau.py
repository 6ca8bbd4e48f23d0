"""PLATEAU CityGML building import: real files from ../shared/data and hand-written fixtures."""

from __future__ import annotations

import json
import math
import shutil
from collections import Counter
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from lxml import etree

from disaster_dx.errors import ImportFileError
from disaster_dx.io.plateau import (
    ADMIN_TYPES,
    COLUMNS,
    LANDSLIDE_AREAS,
    LANDSLIDE_KINDS,
    RANK_LABELS,
    RANK_UPPER_M,
    SCALES,
    STRUCTURE_TYPES,
    USAGES,
    BuildingImport,
    buildings_from_citygml,
    write_buildings,
)
from tests.common import ROOT
from tests.conftest import require_shared_data

FIXTURES = ROOT / "tests" / "fixtures" / "plateau"
GML = "{http://www.opengis.net/gml}"

OSAKA_135 = "osaka_uro30_52350324_bldg_6697_op.gml"
OSAKA_12 = "osaka_uro30_51357341_bldg_6697_op.gml"
OSAKA_63 = "osaka2024_uro31_51357309_bldg_6697_op.gml"
OGASAWARA_8 = "ogasawara2025_uro32_40425105_bldg_6697_op.gml"


def by_gml_id(result: BuildingImport, gml_id: str) -> pd.Series:
    rows = result.buildings[result.buildings["gml_id"] == gml_id]
    assert len(rows) == 1, f"{gml_id}: {len(rows)} rows"
    return rows.iloc[0]


def by_building_id(frame: gpd.GeoDataFrame, building_id: str) -> pd.Series:
    rows = frame[frame["building_id"] == building_id]
    assert len(rows) == 1, f"{building_id}: {len(rows)} rows"
    return rows.iloc[0]


def is_unknown(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


# -- real PLATEAU files ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real() -> BuildingImport:
    folder = require_shared_data() / "plateau"
    return buildings_from_citygml(sorted(folder.glob("*.gml")))


def of_file(real: BuildingImport, name: str) -> gpd.GeoDataFrame:
    return real.buildings[real.buildings["source_file"] == name]


@pytest.mark.shared_data
def test_real_files_counts_versions_and_no_problems(real: BuildingImport) -> None:
    counts = {f.path.name: f.buildings for f in real.files}
    assert counts == {OSAKA_135: 135, OSAKA_12: 12, OSAKA_63: 63, OGASAWARA_8: 8}
    versions = {f.path.name: f.iur_version for f in real.files}
    assert versions == {OSAKA_135: "3.0", OSAKA_12: "3.0", OSAKA_63: "3.1", OGASAWARA_8: "3.2"}
    assert {f.srs_name for f in real.files} == {"http://www.opengis.net/def/crs/EPSG/0/6697"}
    assert real.problems == ()
    assert len(real.buildings) == 218
    assert real.buildings.crs.to_epsg() == 4326
    assert real.buildings.geometry.notna().all() and real.buildings.is_valid.all()
    assert real.buildings["gml_id"].is_unique and real.buildings["building_id"].is_unique
    assert list(real.buildings.columns) == [*COLUMNS, "geometry"]
    assert all(len(f.sha256) == 64 and f.size == f.path.stat().st_size for f in real.files)


@pytest.mark.shared_data
def test_real_footprints_lie_inside_each_files_envelope(real: BuildingImport) -> None:
    """Axis order: EPSG:6697 is (lat, lon); every footprint must land inside its envelope."""
    for source in real.files:
        root_envelope = etree.parse(str(source.path)).find(f"{GML}boundedBy/{GML}Envelope")
        lat_lo, lon_lo = map(float, root_envelope.findtext(f"{GML}lowerCorner").split()[:2])
        lat_hi, lon_hi = map(float, root_envelope.findtext(f"{GML}upperCorner").split()[:2])
        bounds = of_file(real, source.path.name).bounds
        assert (bounds["minx"] >= lon_lo - 1e-9).all() and (bounds["maxx"] <= lon_hi + 1e-9).all()
        assert (bounds["miny"] >= lat_lo - 1e-9).all() and (bounds["maxy"] <= lat_hi + 1e-9).all()


@pytest.mark.shared_data
def test_real_osaka_135_attribute_presence(real: BuildingImport) -> None:
    frame = of_file(real, OSAKA_135)
    assert len(frame) == 135
    assert frame["storeys"].notna().sum() == 81
    assert frame["height_m"].notna().sum() == 102
    assert frame["structure"].notna().sum() == 81
    assert frame["usage"].notna().sum() == 81
    assert frame["flood_depth_m"].notna().sum() == 130
    assert frame["flood_duration_h"].notna().sum() == 130
    assert frame["tsunami_depth_m"].notna().sum() == 132
    assert frame["high_tide_depth_m"].notna().sum() == 133
    assert frame["inland_flood_depth_m"].isna().all() and frame["landslide"].isna().all()
    assert Counter(frame["flood_rank"].dropna()) == {2: 99, 3: 24, 1: 7}
    assert Counter(frame["tsunami_rank"].dropna()) == {2: 94, 1: 33, 3: 5}
    assert Counter(frame["high_tide_rank"].dropna()) == {3: 92, 4: 32, 2: 9}
    assert (frame.loc[frame["flood_rank"].notna(), "flood_sources"].map(len) == 1).all()
    assert (frame["footprint_source"] == "lod0FootPrint").all()


@pytest.mark.shared_data
def test_real_osaka_135_sample_building(real: BuildingImport) -> None:
    b = by_building_id(of_file(real, OSAKA_135), "27100-bldg-496674")
    assert b["gml_id"] == "bldg_628f3eb7-a079-4e33-937e-02ba89056af0"
    assert b["height_m"] == 4.6 and b["storeys"] == 1
    assert (b["usage"], b["usage_ja"]) == ("452", "供給処理施設")
    assert (b["structure"], b["structure_ja"]) == ("610", "非木造")
    assert (b["flood_depth_m"], b["flood_rank"], b["flood_duration_h"]) == (1.633, 2, 7.75)
    assert b["flood_sources"] == [
        {
            "description": "1",
            "rank": 2,
            "rank_org": None,
            "depth_m": 1.633,
            "depth_upper_m": 1.633,
            "admin_type": "国",
            "scale": "L2",
            "duration_h": 7.75,
        }
    ]
    assert (b["tsunami_depth_m"], b["tsunami_rank"]) == (1.08, 2)
    assert (b["high_tide_depth_m"], b["high_tide_rank"]) == (3.822, 3)
    # posList starts "34.69120203333327 135.425838612215 0": latitude first in the file.
    first = shapely.get_coordinates(b.geometry.exterior)[0]
    assert tuple(first) == (135.425838612215, 34.69120203333327)


@pytest.mark.shared_data
def test_real_osaka_12_tsunami_and_high_tide(real: BuildingImport) -> None:
    frame = of_file(real, OSAKA_12)
    assert len(frame) == 12
    assert frame["storeys"].isna().all() and frame["structure"].isna().all()
    assert frame["height_m"].notna().all()
    assert set(frame["tsunami_rank"]) == {2} and set(frame["high_tide_rank"]) == {2}
    assert set(frame["high_tide_depth_m"]) == {2.0}
    depths = Counter(frame["tsunami_depth_m"])
    assert depths[2.56] == depths[2.43] == depths[2.6] == 2
    assert depths[2.51] == depths[2.28] == depths[2.64] == depths[1.89] == depths[2.53] == 1
    assert frame["flood_depth_m"].isna().all()
    b = by_building_id(frame, "27100-bldg-123839")
    assert (b["height_m"], b["tsunami_depth_m"], b["high_tide_depth_m"]) == (4.4, 2.51, 2.0)


@pytest.mark.shared_data
def test_real_osaka2024_iur31_river_flooding(real: BuildingImport) -> None:
    frame = of_file(real, OSAKA_63)
    assert len(frame) == 63
    assert frame["structure"].notna().all() and frame["usage"].notna().all()
    # storeys and height are present on all 63, but one of each is PLATEAU's "unknown"
    # sentinel (storeysAboveGround 9999, measuredHeight -9999): unknown, never a number.
    assert frame["storeys"].notna().sum() == 62
    assert pd.isna(by_building_id(frame, "27100-bldg-26885")["storeys"])
    assert frame["height_m"].notna().sum() == 62
    assert math.isnan(by_building_id(frame, "27100-bldg-26782")["height_m"])
    sources = [s for listed in frame["flood_sources"] for s in listed]
    assert len(sources) == 89
    assert Counter(s["rank"] for s in sources) == {1: 53, 2: 36}
    assert sum(s["duration_h"] is not None for s in sources) == 58
    assert frame["flood_depth_m"].notna().sum() == 58
    assert frame["tsunami_depth_m"].isna().all() and frame["high_tide_depth_m"].isna().all()
    b = by_building_id(frame, "27100-bldg-27086")
    assert [(s["depth_m"], s["rank"], s["scale"]) for s in b["flood_sources"]] == [
        (0.389, 1, "L1"),
        (0.94, 2, "L2"),
    ]
    assert (b["flood_depth_m"], b["flood_rank"], b["flood_duration_h"]) == (0.94, 2, 4.9667)
    assert (b["storeys"], b["height_m"], b["structure_ja"], b["usage_ja"]) == (
        2,
        7.0,
        "木造・土蔵造",
        "住宅",
    )


@pytest.mark.shared_data
def test_real_ogasawara_iur32_tsunami_scenarios_and_landslide(real: BuildingImport) -> None:
    frame = of_file(real, OGASAWARA_8)
    assert len(frame) == 8
    sources = [s for listed in frame["tsunami_sources"] for s in listed]
    assert len(sources) == 15
    # Nankai Trough scenarios carry depth + the city's rankOrg, no national rank.
    assert all(s["rank"] is None and s["rank_org"] is not None for s in sources)
    assert frame["tsunami_rank"].isna().all()
    assert sorted(s["depth_m"] for s in sources)[-3:] == [3.433, 3.601, 5.727]
    b = by_building_id(frame, "13421-bldg-1080")
    assert (b["name"], b["tsunami_depth_m"], b["height_m"]) == ("父島し尿処理場", 5.727, 6.041)
    assert by_building_id(frame, "13421-bldg-1076")["name"] == "小笠原村情報センター"
    assert frame["landslide"].notna().sum() == 8
    assert set(frame["landslide"]) == {"急傾斜地の崩落"}
    assert Counter(frame["landslide_area"]) == {
        "土砂災害特別警戒区域（指定済）": 5,
        "土砂災害警戒区域（指定済）": 3,
    }
    assert frame["storeys"].notna().sum() == 5  # three are 9999 (unknown)
    assert (frame["footprint_source"] == "lod0RoofEdge").all()


@pytest.mark.shared_data
def test_embedded_code_tables_match_the_published_code_lists() -> None:
    lists = require_shared_data() / "plateau" / "codelists_osaka2024_uro31"

    def table(name: str) -> dict[str, str]:
        tree = etree.parse(str(lists / name))
        return {
            d.findtext(f"{GML}name"): d.findtext(f"{GML}description")
            for d in tree.iter(f"{GML}Definition")
        }

    assert table("BuildingDetailAttribute_buildingStructureType.xml") == STRUCTURE_TYPES
    assert table("Building_usage.xml") == USAGES
    assert table("RiverFloodingRiskAttribute_adminType.xml") == ADMIN_TYPES
    assert {k: v[:2] for k, v in table("RiverFloodingRiskAttribute_scale.xml").items()} == SCALES
    assert table("LandSlideRiskAttribute_areaType.xml") == LANDSLIDE_AREAS
    assert table("LandSlideRiskAttribute_description.xml") == LANDSLIDE_KINDS
    for name in ("RiverFlooding", "Tsunami", "HighTide"):
        assert table(f"{name}RiskAttribute_rank.xml") == {str(k): v for k, v in RANK_LABELS.items()}


# -- hand-written fixtures: every attribute kind, both layouts ------------------------------------


@pytest.fixture(scope="module")
def nankoku() -> BuildingImport:
    return buildings_from_citygml(FIXTURES / "iur30_nankoku.gml")


def test_iur30_every_attribute_kind(nankoku: BuildingImport) -> None:
    assert nankoku.problems == () and len(nankoku.buildings) == 3
    assert nankoku.files[0].iur_version == "3.0"
    a = by_gml_id(nankoku, "bldg_a")
    assert (a["building_id"], a["name"]) == ("39204-bldg-1", "南国市テスト庁舎")
    assert (a["height_m"], a["storeys"], a["storeys_below"]) == (15.2, 4, 1)
    assert (a["structure"], a["structure_ja"]) == ("603", "鉄筋コンクリート造")
    assert (a["usage"], a["usage_ja"]) == ("421", "官公庁施設")
    assert (a["tsunami_depth_m"], a["tsunami_rank"], a["tsunami_depth_upper_m"]) == (2.4, 2, 2.4)
    assert (a["high_tide_depth_m"], a["high_tide_rank"]) == (0.7, 2)
    assert (a["inland_flood_depth_m"], a["inland_flood_rank"]) == (0.3, 1)
    # three river-flood sources: the maximum is summarised, every source kept
    assert (a["flood_depth_m"], a["flood_rank"], a["flood_duration_h"]) == (3.4, 3, 26.0)
    assert [
        (s["description"], s["scale"], s["admin_type"], s["depth_m"], s["duration_h"])
        for s in a["flood_sources"]
    ] == [
        ("1", "L1", "都道府県", 1.2, 5.5),
        ("1", "L2", "都道府県", 3.4, 26.0),
        ("2", "L2", "国", 0.8, None),
    ]
    assert (a["landslide"], a["landslide_area"]) == ("土石流", "土砂災害警戒区域（指定済）")
    assert a["landslide_sources"] == [
        {
            "description": "2",
            "kind": "土石流",
            "area_type": "1",
            "area": "土砂災害警戒区域（指定済）",
        }
    ]


def test_footprint_axis_order_hole_and_lod0_preferred(nankoku: BuildingImport) -> None:
    a = by_gml_id(nankoku, "bldg_a")
    assert a["footprint_source"] == "lod0FootPrint"  # not the LOD1 triangle elsewhere
    assert a.geometry.geom_type == "Polygon"
    assert a.geometry.bounds == pytest.approx((133.6400, 33.5750, 133.6402, 33.5751))
    assert len(a.geometry.interiors) == 1
    assert a.geometry.area == pytest.approx(0.0002 * 0.0001 - 0.00004 * 0.00002)
    # Nankoku is at lon ≈ 133.6, lat ≈ 33.6: a point inside the footprint, lon first.
    assert a.geometry.contains(shapely.Point(133.64002, 33.57502))


def test_missing_attributes_are_unknown_never_zero(nankoku: BuildingImport) -> None:
    b = by_gml_id(nankoku, "bldg_b")
    assert b["building_id"] == "39204-bldg-2"
    unknown = [c for c in COLUMNS if c.endswith(("_m", "_h", "_rank")) or c in ("storeys",)]
    unknown += ["name", "storeys_below", "structure", "structure_ja", "usage", "usage_ja"]
    unknown += ["landslide", "landslide_area"]
    for column in unknown:
        assert is_unknown(b[column]), f"{column} = {b[column]!r}"
    for column in ("tsunami", "flood", "high_tide", "inland_flood", "landslide"):
        assert b[f"{column}_sources"] == []
    frame = nankoku.buildings
    assert str(frame["storeys"].dtype) == "Int64" and frame["height_m"].dtype == "float64"


def test_lod1_footprint_is_the_lowest_horizontal_face(nankoku: BuildingImport) -> None:
    b = by_gml_id(nankoku, "bldg_b")
    assert b["footprint_source"] == "lod1Solid"
    assert b.geometry.bounds == pytest.approx((133.6410, 33.5760, 133.6412, 33.5762))
    assert not b.geometry.has_z


def test_rank_without_depth_gives_an_upper_bound_and_sentinels_are_unknown(
    nankoku: BuildingImport,
) -> None:
    c = by_gml_id(nankoku, "bldg_c")
    assert math.isnan(c["height_m"]) and pd.isna(c["storeys"])  # -9999 and 9999
    assert math.isnan(c["flood_depth_m"]) and c["flood_rank"] == 3
    assert c["flood_depth_upper_m"] == 5.0
    assert math.isnan(c["tsunami_depth_m"]) and c["tsunami_rank"] == 6
    assert c["tsunami_depth_upper_m"] == math.inf  # rank 6: 20 m or more
    assert math.isnan(c["high_tide_depth_m"]) and c["high_tide_depth_upper_m"] == 10.0
    assert c["footprint_source"] == "lod0RoofEdge"
    assert c.geometry.bounds == pytest.approx((133.6420, 33.5770, 133.6421, 33.5771))
    assert [RANK_UPPER_M[rank] for rank in range(1, 7)] == [0.5, 3.0, 5.0, 10.0, 20.0, math.inf]


def test_iur32_layout_building_parts_and_rank_org() -> None:
    result = buildings_from_citygml(FIXTURES / "iur32_parts.gml")
    assert result.problems == () and result.files[0].iur_version == "3.2"
    assert result.files[0].srs_name is None  # taken from each geometry's srsName
    p = by_gml_id(result, "bldg_p")
    assert (p["building_id"], p["usage_ja"]) == ("39204-bldg-10", "文教厚生施設")
    assert (p["height_m"], p["storeys"]) == (9.0, 3)  # greatest over the parts
    assert p["footprint_source"] == "BuildingPart:lod0FootPrint"
    assert p.geometry.geom_type == "Polygon"  # the two adjacent parts merged
    assert p.geometry.bounds == pytest.approx((133.6500, 33.5800, 133.6502, 33.5801))
    assert [(s["rank_org"], s["depth_m"]) for s in p["tsunami_sources"]] == [("3", 1.1), ("4", 3.3)]
    assert pd.isna(p["tsunami_rank"]) and p["tsunami_depth_m"] == 3.3
    assert (p["flood_depth_m"], p["flood_rank"], p["flood_duration_h"]) == (0.6, 2, 2.25)
    assert p["flood_sources"][0]["admin_type"] == "国"
    assert (p["inland_flood_depth_m"], p["high_tide_depth_m"]) == (0.45, 1.0)
    assert p["landslide"] == "地すべり・急傾斜地の崩落"
    assert p["landslide_area"] == "土砂災害特別警戒区域（指定済）"  # the stricter of the two


def test_legacy_2020_generic_attribute_layout() -> None:
    result = buildings_from_citygml(FIXTURES / "legacy_2020.gml")
    assert result.problems == () and result.files[0].iur_version == "1.4"
    b = by_gml_id(result, "BLD_legacy")
    assert (b["building_id"], b["height_m"], b["structure_ja"]) == (
        "39204-bldg-20",
        7.5,
        "木造・土蔵造",
    )
    assert [(s["scale"], s["depth_m"], s["duration_h"]) for s in b["flood_sources"]] == [
        ("L1", 0.65, None),
        ("L2", 2.16, 10.82),
    ]
    river = "物部川水系物部川洪水浸水想定区域"
    assert [s["description"] for s in b["flood_sources"]] == [
        f"{river}（計画規模）",
        f"{river}（想定最大規模）",
    ]
    assert (b["flood_depth_m"], b["flood_rank"]) == (2.16, 2)
    assert (b["tsunami_depth_m"], b["tsunami_rank"]) == (1.5, 2)
    assert (b["landslide"], b["landslide_area"]) == ("急傾斜地の崩落", "土砂災害特別警戒区域")
    assert b.geometry.bounds == pytest.approx((133.6600, 33.5900, 133.6601, 33.5901))


# -- broken input --------------------------------------------------------------------------------


def test_broken_geometry_is_reported_by_building_and_the_rest_imported() -> None:
    result = buildings_from_citygml(FIXTURES / "broken_geometry.gml")
    frame = result.buildings
    assert list(frame["gml_id"]) == [
        "bldg_odd",
        "bldg_few",
        "bldg_text",
        "bldg_swapped",
        "bldg_ok",
        "bldg_none",
    ]
    messages = {p.where.split("(building ")[1].split(")")[0]: [] for p in result.problems}
    for p in result.problems:
        messages[p.where.split("(building ")[1].split(")")[0]].append(p.message)
        assert p.where.startswith("broken_geometry.gml line ")
    assert messages["bldg_odd / 39204-bldg-31"] == [
        "lod0FootPrint: line 25: 14 numbers cannot be split into positions of 3 (odd coordinate "
        "count); footprint taken from lod1Solid instead"
    ]
    assert messages["bldg_few"] == [
        "lod0FootPrint: line 65: ring has 2 distinct point(s); a polygon needs 3 or more; "
        "kept without a footprint"
    ]
    assert messages["bldg_text"] == [
        "measuredHeight 'tall' is not a finite number; taken as unknown",
        "TsunamiRiskAttribute rank '9' is not a code 1–6; taken as unknown",
        "lod0FootPrint: line 83: coordinate 'abc' is not a number; kept without a footprint",
    ]
    assert len(messages["bldg_swapped"]) == 1 and "outside Japan" in messages["bldg_swapped"][0]
    assert messages["bldg_ok"] == [
        "gml:id already imported from broken_geometry.gml; this copy was skipped"
    ]
    assert messages["bldg_none"][0].startswith("no footprint geometry")
    wheres = [p.where for p in result.problems]
    assert wheres[0] == "broken_geometry.gml line 18 (building bldg_odd / 39204-bldg-31)"
    assert wheres[1] == "broken_geometry.gml line 57 (building bldg_few)"
    assert len(result.problems) == 8 and result.files[0].problems == 8
    # kept: the fallback footprint, or no footprint but the attributes
    odd = by_gml_id(result, "bldg_odd")
    assert odd["footprint_source"] == "lod1Solid"
    assert odd.geometry.bounds == pytest.approx((133.6500, 33.5800, 133.6501, 33.5801))
    few = by_gml_id(result, "bldg_few")
    assert few.geometry is None and few["footprint_source"] is None and few["height_m"] == 5.0
    text = by_gml_id(result, "bldg_text")
    assert math.isnan(text["height_m"]) and pd.isna(text["tsunami_rank"])
    assert text["tsunami_depth_m"] == 1.0
    ok = by_gml_id(result, "bldg_ok")
    assert ok["height_m"] == 6.5 and ok["footprint_source"] == "lod0FootPrint"  # first copy
    assert result.without_footprint == 4
    assert result.summary() == "6 buildings from 1 file(s); 4 without a footprint; 8 problem(s)"


def test_malformed_xml_raises_naming_file_and_line() -> None:
    with pytest.raises(ImportFileError) as caught:
        buildings_from_citygml([FIXTURES / "iur30_nankoku.gml", FIXTURES / "malformed.gml"])
    (problem,) = caught.value.problems
    assert problem.where == "malformed.gml line 10"
    assert "measuredHeight line 9" in problem.message
    assert "malformed.gml" in str(caught.value)


def test_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError) as caught:
        buildings_from_citygml([FIXTURES / "iur30_nankoku.gml", tmp_path / "nope.gml"])
    assert [p.message for p in caught.value.problems] == ["no such file"]
    assert caught.value.problems[0].where.endswith("nope.gml")


POLYGON_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<core:CityModel xmlns:core="http://www.opengis.net/citygml/2.0"
    xmlns:bldg="http://www.opengis.net/citygml/building/2.0" xmlns:gml="http://www.opengis.net/gml">
  <gml:boundedBy><gml:Envelope srsName="{srs}" srsDimension="2"/></gml:boundedBy>
  <core:cityObjectMember>
    <bldg:Building gml:id="bldg_crs">
      <bldg:lod0FootPrint><gml:MultiSurface><gml:surfaceMember><gml:Polygon><gml:exterior>
        <gml:LinearRing><gml:posList>{positions}</gml:posList></gml:LinearRing>
      </gml:exterior></gml:Polygon></gml:surfaceMember></gml:MultiSurface></bldg:lod0FootPrint>
    </bldg:Building>
  </core:cityObjectMember>
</core:CityModel>
"""
# Nankoku City Hall area, (lon, lat)
SQUARE = [(133.6413, 33.5756), (133.6415, 33.5756), (133.6415, 33.5757), (133.6413, 33.5757)]


@pytest.mark.parametrize(
    ("srs", "latitude_first"),
    [
        ("http://www.opengis.net/def/crs/EPSG/0/6697", True),
        ("urn:ogc:def:crs:EPSG::6668", True),
        ("EPSG:6697", True),
        ("http://www.opengis.net/def/crs/EPSG/0/4326", True),
        ("EPSG:4326", False),
        ("urn:ogc:def:crs:OGC:1.3:CRS84", False),
    ],
)
def test_axis_order_follows_srs_name(tmp_path: Path, srs: str, latitude_first: bool) -> None:
    ring = [*SQUARE, SQUARE[0]]
    positions = " ".join(f"{lat} {lon}" if latitude_first else f"{lon} {lat}" for lon, lat in ring)
    path = tmp_path / "crs.gml"
    path.write_text(POLYGON_TEMPLATE.format(srs=srs, positions=positions), encoding="utf-8")
    result = buildings_from_citygml(path)
    assert result.problems == ()
    footprint = result.buildings.geometry.iloc[0]
    assert footprint.bounds == pytest.approx((133.6413, 33.5756, 133.6415, 33.5757))


def test_unsupported_crs_raises(tmp_path: Path) -> None:
    path = tmp_path / "plane.gml"
    srs = "http://www.opengis.net/def/crs/EPSG/0/6677"  # 平面直角座標系 第IX系
    path.write_text(POLYGON_TEMPLATE.format(srs=srs, positions="0 0 1 0 1 1 0 0"), "utf-8")
    with pytest.raises(ImportFileError) as caught:
        buildings_from_citygml(path)
    assert caught.value.problems[0].where == "plane.gml line 4"
    assert "6677" in caught.value.problems[0].message


# -- files, progress, output ---------------------------------------------------------------------


def test_folder_input_duplicates_across_files_and_progress(tmp_path: Path) -> None:
    folder = tmp_path / "udx" / "bldg"
    folder.mkdir(parents=True)
    shutil.copy(FIXTURES / "iur30_nankoku.gml", folder / "a_bldg_6697_op.gml")
    shutil.copy(FIXTURES / "iur30_nankoku.gml", folder / "b_bldg_6697_op.gml")
    (folder / "readme.txt").write_text("not a city model", encoding="utf-8")
    calls: list[tuple[int, int]] = []
    result = buildings_from_citygml(tmp_path / "udx", progress=lambda d, t: calls.append((d, t)))
    assert [f.path.name for f in result.files] == ["a_bldg_6697_op.gml", "b_bldg_6697_op.gml"]
    assert [f.buildings for f in result.files] == [3, 0]
    assert result.files[0].sha256 == result.files[1].sha256
    assert len(result.buildings) == 3
    assert [p.message for p in result.problems] == [
        "gml:id already imported from a_bldg_6697_op.gml; this copy was skipped"
    ] * 3
    total = 2 * (FIXTURES / "iur30_nankoku.gml").stat().st_size
    assert calls[-1] == (total, total)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert {t for _, t in calls} == {total}


def test_file_without_buildings_gives_an_empty_frame_and_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "empty.gml"
    path.write_text(
        '<core:CityModel xmlns:core="http://www.opengis.net/citygml/2.0"/>', encoding="utf-8"
    )
    result = buildings_from_citygml(path)
    assert len(result.buildings) == 0
    assert list(result.buildings.columns) == [*COLUMNS, "geometry"]
    assert result.buildings.crs.to_epsg() == 4326
    assert [p.message for p in result.problems] == [
        "no bldg:Building found (is this a PLATEAU bldg file?)"
    ]


def test_write_buildings_to_geopackage_round_trip(nankoku: BuildingImport, tmp_path: Path) -> None:
    path = tmp_path / "out" / "buildings.gpkg"
    assert write_buildings(nankoku.buildings, path) == 3
    assert [p.name for p in path.parent.iterdir()] == ["buildings.gpkg"]
    back = gpd.read_file(path, layer="buildings")
    assert back.crs.to_epsg() == 4326 and len(back) == 3
    a = back[back["gml_id"] == "bldg_a"].iloc[0]
    assert json.loads(a["flood_sources"]) == by_gml_id(nankoku, "bldg_a")["flood_sources"]
    assert a["storeys"] == 4 and a["usage_ja"] == "官公庁施設"
    b = back[back["gml_id"] == "bldg_b"].iloc[0]
    assert pd.isna(b["storeys"]) and pd.isna(b["height_m"]) and b["tsunami_sources"] == "[]"
    c = back[back["gml_id"] == "bldg_c"].iloc[0]
    assert c["tsunami_depth_upper_m"] == math.inf
    assert back.geometry.iloc[0].equals_exact(nankoku.buildings.geometry.iloc[0], 1e-12)
