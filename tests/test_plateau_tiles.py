"""PLATEAU at city scale: tiles, zips, the dataset's code lists, BuildingParts, tile storage."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from disaster_dx.cli import main
from disaster_dx.errors import ImportFileError
from disaster_dx.io.plateau import (
    CodeLists,
    buildings_from_citygml,
    depth_class,
    read_tiles,
    tile_of,
)
from disaster_dx.plans import dataset_infos, load_buildings
from disaster_dx.plans.building_import import import_buildings
from disaster_dx.store import Store
from tests.common import ROOT
from tests.conftest import require_shared_data

FIXTURES = ROOT / "tests" / "fixtures" / "plateau"
DATASET = FIXTURES / "iur20_dataset"
TILE_A = FIXTURES / "tiles" / "53394601_bldg_6697_op.gml"
TILE_B = FIXTURES / "tiles" / "53394602_bldg_6697_op.gml"


def row(frame: pd.DataFrame, gml_id: str) -> pd.Series:
    rows = frame[frame["gml_id"] == gml_id]
    assert len(rows) == 1, f"{gml_id}: {len(rows)} rows"
    return rows.iloc[0]


# -- tiles and code lists -------------------------------------------------------------------------


def test_tile_of_takes_the_mesh_code_else_the_stem() -> None:
    assert tile_of("53394611_bldg_6697_op.gml") == "53394611"
    assert tile_of("53394611_bldg_6697_2_op.gml") == "53394611"  # a split mesh: same tile
    assert tile_of("osaka2024_uro31_51357309_bldg_6697_op.gml") == "51357309"
    assert tile_of("udx/bldg/523503_bldg_6697_op.gml") == "523503"
    assert tile_of("town_centre.gml") == "town_centre"


def test_depth_class_reads_code_list_labels() -> None:
    assert depth_class("0.5m未満") == (0.0, 0.5)
    assert depth_class("0.3ｍ以上1m未満") == (0.3, 1.0)  # full-width ｍ (小笠原村 2025)
    assert depth_class("20.0m以上") == (20.0, float("inf"))
    assert depth_class("高潮浸水想定区域図") is None


def test_iur20_rank_org_decoded_with_the_datasets_code_list() -> None:
    """i-UR 2.0 gives the tsunami only as rankOrg: the dataset's list bounds the depth."""
    result = buildings_from_citygml(DATASET)  # the folder: udx/bldg/*.gml + codelists/
    assert result.problems == ()
    [summary] = result.files
    assert (summary.iur_version, summary.tile) == ("2.0", "51337700")
    assert summary.codelists == str(DATASET / "codelists")
    r1 = row(result.buildings, "bldg_r1")
    assert pd.isna(r1["tsunami_rank"]) and pd.isna(r1["tsunami_depth_m"])
    assert (r1["tsunami_depth_lower_m"], r1["tsunami_depth_upper_m"]) == (1.0, 2.0)
    [source] = r1["tsunami_sources"]
    assert source["rank_org"] == "3" and source["rank_org_label"] == "1.0m以上2.0m未満"
    assert source["description_ja"] == "高知県津波浸水想定"
    # code 7 is not in the dataset's list: unknown, counted, never guessed
    r2 = row(result.buildings, "bldg_r2")
    assert pd.isna(r2["tsunami_depth_upper_m"]) and "rank_org_label" not in r2["tsunami_sources"][0]
    assert summary.unknown_codes == {"BuildingTsunamiRiskAttribute_rankOrg": 1}
    # no uro:buildingID: the frame says unknown, the summary counts it
    assert row(result.buildings, "bldg_r3")["building_id"] is None
    assert summary.without_building_id == 1


def test_without_code_lists_rank_org_stays_undecoded_and_is_counted(tmp_path: Path) -> None:
    lone = tmp_path / "51337700_bldg_6697_op.gml"
    shutil.copy(next((DATASET / "udx" / "bldg").glob("*.gml")), lone)
    result = buildings_from_citygml(lone)
    r1 = row(result.buildings, "bldg_r1")
    assert pd.isna(r1["tsunami_depth_upper_m"]) and r1["tsunami_sources"][0]["rank_org"] == "3"
    [summary] = result.files
    assert summary.codelists is None
    assert summary.unknown_codes == {
        "BuildingTsunamiRiskAttribute_description": 2,
        "BuildingTsunamiRiskAttribute_rankOrg": 2,
    }
    assert set(summary.missing_codelists) == set(summary.unknown_codes)
    # --codelists DIR decodes it all the same
    given = buildings_from_citygml(lone, codelists=DATASET / "codelists")
    assert row(given.buildings, "bldg_r1")["tsunami_depth_upper_m"] == 2.0


def test_missing_code_list_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="code list folder not found"):
        buildings_from_citygml(TILE_A, codelists=tmp_path / "nope")


@pytest.mark.shared_data
def test_real_ogasawara_with_its_code_lists() -> None:
    folder = require_shared_data() / "plateau"
    result = buildings_from_citygml(
        folder / "ogasawara2025_uro32_40425105_bldg_6697_op.gml",
        codelists=folder / "codelists_ogasawara2025_uro32",
    )
    assert result.problems == ()
    sources = [s for listed in result.buildings["tsunami_sources"] for s in listed]
    assert len(sources) == 15
    assert all(s["rank_org_label"] and s["description_ja"] for s in sources)
    assert {s["description_ja"] for s in sources} <= {
        "大正関東地震（島しょ部）",
        *(f"南海トラフケース{n}（島しょ部）" for n in "１２５６８"),
    }
    # The depth is given, so it stays the bound; the class must agree with it.
    for s in sources:
        assert s["depth_upper_m"] == s["depth_m"]
        assert s["rank_org_lower_m"] <= s["depth_m"] < s["rank_org_upper_m"]
    assert set(result.buildings["landslide"]) == {"急傾斜地の崩落"}
    [summary] = result.files
    # Building_usage is not among these lists: the national table decodes it.
    assert summary.unknown_codes == {} and summary.missing_codelists == ()


@pytest.mark.shared_data
def test_real_kawasaki_uro20_rank_org_list_loads() -> None:
    lists = CodeLists.from_dir(require_shared_data() / "plateau" / "codelists_kawasaki_uro20")
    table = lists.get("TsunamiRiskAttribute_rankOrg")  # i-UR 3 name finds the 2.0 list
    assert table is not None and depth_class(table["3"]) == (1.0, 2.0)
    assert depth_class(table["9"]) == (20.0, float("inf"))


# -- BuildingParts --------------------------------------------------------------------------------


def test_building_parts_give_structure_name_and_worst_hazards() -> None:
    result = buildings_from_citygml(FIXTURES / "iur31_part_attributes.gml")
    q = row(result.buildings, "bldg_q")
    assert (q["structure"], q["structure_ja"], q["name"]) == ("610", "非木造", "南国市テスト病院")
    assert (q["height_m"], q["storeys"]) == (12.0, 4)
    assert (q["tsunami_depth_m"], q["tsunami_rank"]) == (3.4, 3)  # the part's, not the 0.8 m
    assert len(q["tsunami_sources"]) == 2
    assert (q["landslide"], q["landslide_area"]) == ("土石流", "土砂災害特別警戒区域（指定済）")
    assert q["footprint_source"] == "BuildingPart:lod0FootPrint"
    d = row(result.buildings, "bldg_d")
    assert d["structure"] is None and d["structure_ja"] is None
    assert [p.message for p in result.problems] == [
        "BuildingParts give different structures (601, 603); structure taken as unknown"
    ]
    assert "bldg_d" in result.problems[0].where


# -- tiles in one import --------------------------------------------------------------------------


def test_building_on_a_tile_border_is_read_once() -> None:
    keys, tiles = read_tiles([TILE_A, TILE_B])
    assert keys == ["53394601", "53394602"]
    first, second = list(tiles)
    assert list(first.buildings["building_id"]) == ["39204-bldg-201", "39204-bldg-202"]
    assert list(second.buildings["building_id"]) == ["39204-bldg-203"]
    assert (first.duplicates, second.duplicates) == (0, 1)
    assert [p.message for p in second.problems] == [
        "building id 39204-bldg-202 already imported from 53394601_bldg_6697_op.gml; "
        "this copy was skipped"
    ]
    assert set(first.buildings["tile"]) == {"53394601"}


def _zip(tmp_path: Path) -> Path:
    """A PLATEAU zip as distributed: a top folder with udx/bldg, udx/tran and codelists."""
    path = tmp_path / "39204_nankoku-shi_city_2024_citygml_1_op.zip"
    top = "39204_nankoku-shi_city_2024_citygml_1_op"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(DATASET.rglob("*")):
            if file.is_file():
                archive.write(file, f"{top}/{file.relative_to(DATASET).as_posix()}")
        archive.write(TILE_A, f"{top}/udx/bldg/{TILE_A.name}")
        archive.writestr(f"{top}/udx/tran/53394601_tran_6697_op.gml", "<not-a-building/>")
        archive.writestr(f"{top}/metadata/readme.txt", "metadata")
    return path


def test_zip_as_distributed_is_streamed_with_its_code_lists(tmp_path: Path) -> None:
    result = buildings_from_citygml(_zip(tmp_path))
    assert [f.tile for f in result.files] == ["51337700", "53394601"]  # udx/tran ignored
    assert len(result.buildings) == 5
    assert row(result.buildings, "bldg_r1")["tsunami_depth_upper_m"] == 2.0
    origin = result.files[0].codelists
    assert origin is not None and origin.endswith("_citygml_1_op/codelists")
    assert result.files[0].path.name == "51337700_bldg_6697_op.gml"


def test_corrupt_zip_is_a_located_error(tmp_path: Path) -> None:
    bad = tmp_path / "broken.zip"
    bad.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(ImportFileError, match=r"broken\.zip: not a readable zip"):
        buildings_from_citygml(bad)


# -- storage --------------------------------------------------------------------------------------


def test_tiles_imported_one_after_another_keep_each_other(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 't.sqlite3'}")
    try:
        first = import_buildings(store, [TILE_A], actor="test")
        assert (first.version, first.total_buildings, first.total_tiles) == (1, 2, 1)
        second = import_buildings(store, [TILE_B], actor="test")
        [tile] = second.tiles
        # 39204-bldg-202 is stored in tile A already: that copy is kept, this one reported
        assert (tile.buildings, tile.stored, tile.stored_elsewhere) == (2, 1, 1)
        assert (second.version, second.total_buildings, second.total_tiles) == (2, 3, 2)
        stored = load_buildings(store)
        assert stored is not None
        assert dict(zip(stored["building_id"], stored["tile"], strict=True)) == {
            "39204-bldg-201": "53394601",
            "39204-bldg-202": "53394601",
            "39204-bldg-203": "53394602",
        }
        # re-importing tile A replaces it alone
        again = import_buildings(store, [TILE_A], actor="test")
        assert (again.tiles[0].replaced, again.tiles[0].stored, again.total_buildings) == (2, 2, 3)
        assert dataset_infos(store)["buildings"].summary["tiles"] == 2
        # --replace-all: only what was imported now remains
        only_b = import_buildings(store, [TILE_B], actor="test", replace_all=True)
        assert (only_b.total_buildings, only_b.total_tiles, only_b.version) == (2, 1, 4)
        assert "all tiles replaced" in only_b.lines()[-1]
    finally:
        store.dispose()


def test_buildings_without_ids_are_stored_by_gml_id_and_reported(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'n.sqlite3'}")
    try:
        report = import_buildings(store, [DATASET], actor="test")
        [tile] = report.tiles
        assert (tile.buildings, tile.stored, tile.without_building_id) == (3, 3, 1)
        assert sum(tile.unknown_codes.values()) == 1
        stored = load_buildings(store)
        assert stored is not None
        assert set(stored["building_id"]) == {"39204-bldg-101", "39204-bldg-102", "bldg_r3"}
        assert "None" not in set(stored["building_id"])
        # the decoded rankOrg class reaches the plans: the tsunami entry is stored
        r1 = stored.set_index("building_id").loc["39204-bldg-101"]
        assert (r1["tsunami_depth_lower_m"], r1["tsunami_depth_upper_m"]) == (1.0, 2.0)
        text = "\n".join(report.lines())
        assert "1 without uro:buildingID" in text and "1 unknown code(s)" in text
    finally:
        store.dispose()


def test_parts_landslide_and_structure_reach_storage(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'p.sqlite3'}")
    try:
        import_buildings(store, [FIXTURES / "iur31_part_attributes.gml"], actor="test")
        stored = load_buildings(store)
        assert stored is not None
        q = stored.set_index("building_id").loc["39204-bldg-301"]
        assert (q["structure"], q["name"], q["storeys"]) == ("610", "南国市テスト病院", 4)
        assert (q["landslide"], q["landslide_area"]) == ("土石流", "土砂災害特別警戒区域（指定済）")
        assert q["tsunami_depth_upper_m"] == 3.4
    finally:
        store.dispose()


@pytest.mark.shared_data
def test_real_samples_import_as_four_tiles(tmp_path: Path) -> None:
    folder = require_shared_data() / "plateau"
    store = Store(f"sqlite:///{tmp_path / 'r.sqlite3'}")
    try:
        report = import_buildings(store, sorted(folder.glob("*.gml")), actor="test")
        assert {t.tile: t.stored for t in report.tiles} == {
            "40425105": 8,
            "51357309": 63,
            "51357341": 12,
            "52350324": 135,
        }
        assert report.total_buildings == 218 and report.problems == ()
        # no code lists beside these files: the undecodable codes are counted, not hidden
        assert sum(report.unknown_codes.values()) > 0
    finally:
        store.dispose()


# -- the command ----------------------------------------------------------------------------------


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> Path:
    for name in ("DX_ADMIN_USER", "DX_ADMIN_PASSWORD", "DX_USER_PASSWORD", "DISASTER_DX_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_cli_two_tiles_one_after_another_and_a_zip(
    cli_env: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import-buildings", str(TILE_A)]) == 0
    assert main(["import-buildings", str(TILE_B)]) == 0
    err = capsys.readouterr().err
    assert "tile 53394602 (53394602_bldg_6697_op.gml): 2 buildings, 1 stored" in err
    assert "1 already stored in another tile" in err
    assert "other tiles kept; now 3 buildings in 2 tile(s) (version 2)" in err
    assert main(["import-buildings", str(_zip(cli_env)), "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert "tile 51337700" in err and "dry run: nothing written" in err
    assert "1 without uro:buildingID" in err
    store = Store(database_url)
    try:
        stored = load_buildings(store)
        assert stored is not None and len(stored) == 3
    finally:
        store.dispose()


# -- spooling and the one-ring fast path ----------------------------------------------------------


def test_tile_spool_gives_back_exactly_the_rows_spooled() -> None:
    from disaster_dx.plans.buildings import TileSpool, building_rows

    rows = building_rows(buildings_from_citygml(TILE_A).buildings, tile="53394601").rows
    odd = {
        **rows[0],
        "building_id": "odd",
        "name": None,
        "footprint": None,
        "height_m": None,
        "storeys": None,
        "refuge": True,
        "depths": {"flood": {"lower": 5.0, "upper": "inf", "label": None}},
    }
    with TileSpool() as spool:
        spool.add("b", [odd])
        spool.add("a", rows)
        spool.add("empty", [])
        assert list(spool) == ["b", "a", "empty"] and len(spool) == 3
        assert "a" in spool and "c" not in spool
        assert spool["a"] == [dict(r, tile="a") for r in rows]
        assert spool["b"] == [dict(odd, tile="b")]
        assert spool["empty"] == []
        with pytest.raises(KeyError):
            spool["c"]
        with pytest.raises(ValueError, match="spooled twice"):
            spool.add("a", rows)
        folder = Path(spool._dir.name)
        assert folder.is_dir()
    assert not folder.exists()


def test_one_ring_footprints_match_shapely_polygons() -> None:
    import numpy as np
    import shapely

    from disaster_dx.io.plateau.geometry import Shell, materialise

    open_ring = Shell([133.6, 133.7, 133.7], [33.5, 33.5, 33.6])
    closed = Shell([133.6, 133.7, 133.7, 133.6], [33.5, 33.5, 33.6, 33.5])
    point = shapely.Point(1, 2)
    out = materialise([None, open_ring, point, closed])
    assert out[0] is None and out[2] is point
    for shell, shape in ((open_ring, out[1]), (closed, out[3])):
        expected = shapely.polygons(np.column_stack((shell.xs, shell.ys)))
        assert shapely.equals_exact(shape, expected, tolerance=0)
        assert shape.wkb == expected.wkb == shell.polygon().wkb


def test_collinear_one_ring_footprint_is_zero_area_and_the_next_source_is_used(
    tmp_path: Path,
) -> None:
    def ring(points: list[tuple[float, float]], z: float) -> str:
        coords = " ".join(f"{lat} {lon} {z}" for lat, lon in points)
        return (
            "<gml:Polygon><gml:exterior><gml:LinearRing><gml:posList>"
            f"{coords}</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>"
        )

    line = [(33.5, 133.6), (33.5, 133.7), (33.5, 133.8), (33.5, 133.6)]
    square = [(33.5, 133.6), (33.5001, 133.6), (33.5001, 133.6001), (33.5, 133.6001)]
    square.append(square[0])
    path = tmp_path / "53390000_bldg_6697_op.gml"
    path.write_text(
        '<core:CityModel xmlns:core="http://www.opengis.net/citygml/2.0" '
        'xmlns:bldg="http://www.opengis.net/citygml/building/2.0" '
        'xmlns:gml="http://www.opengis.net/gml"><core:cityObjectMember>'
        '<bldg:Building gml:id="b1"><bldg:lod0FootPrint><gml:MultiSurface '
        'srsName="http://www.opengis.net/def/crs/EPSG/0/6697"><gml:surfaceMember>'
        f"{ring(line, 0)}</gml:surfaceMember></gml:MultiSurface></bldg:lod0FootPrint>"
        '<bldg:lod1Solid><gml:Solid srsName="http://www.opengis.net/def/crs/EPSG/0/6697">'
        "<gml:exterior><gml:CompositeSurface><gml:surfaceMember>"
        f"{ring(square, 2)}</gml:surfaceMember><gml:surfaceMember>{ring(square[::-1], 8)}"
        "</gml:surfaceMember></gml:CompositeSurface></gml:exterior></gml:Solid>"
        "</bldg:lod1Solid></bldg:Building></core:cityObjectMember></core:CityModel>",
        encoding="utf-8",
    )
    found = buildings_from_citygml(path)
    building = row(found.buildings, "b1")
    assert building["footprint_source"] == "lod1Solid"
    assert building.geometry.area > 0
    assert [p.message for p in found.problems] == [
        "lod0FootPrint: line 1: polygon has zero area (points on one line); "
        "footprint taken from lod1Solid instead"
    ]


def test_rows_from_columns_equal_rows_from_the_frame() -> None:
    """The import's frame-free path stores exactly what the frame path would."""
    from disaster_dx.io.plateau.frame import make_frame
    from disaster_dx.io.plateau.importer import read_tile_columns
    from disaster_dx.plans.buildings import building_rows, building_rows_from_columns

    compared = 0
    names = [
        "iur30_nankoku",
        "iur31_part_attributes",
        "iur32_parts",
        "legacy_2020",
        "broken_geometry",
    ]
    for path in [DATASET, TILE_A, TILE_B, *(FIXTURES / f"{name}.gml" for name in names)]:
        _keys, tiles = read_tile_columns(path)
        for tile in tiles:
            direct = building_rows_from_columns(tile.columns, tile.columns["geometry"], tile="t")
            via_frame = building_rows(make_frame(dict(tile.columns)), tile="t")
            assert direct == via_frame
            compared += len(direct.rows)
    assert compared > 0


def test_building_import_path_loads_no_routing_pandas_or_geopandas() -> None:
    """import-buildings start-up: these took seconds to import and the import needs none."""
    import subprocess
    import sys

    code = (
        "import sys, disaster_dx.io.plateau, disaster_dx.plans.buildings; "
        "print(sorted(m for m in ('scipy', 'pandas', 'geopandas', 'disaster_dx.routing', "
        "'disaster_dx.plans.destinations') if m in sys.modules))"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert found.stdout.strip() == "[]"
