"""The plans commands: import-roads, import-buildings, import-residents, plan, demo-district."""

from __future__ import annotations

import csv
import io
import json
import logging
from pathlib import Path

import pytest
import shapely

from disaster_dx.cli import main
from disaster_dx.demo_district import demo_district
from disaster_dx.io.residents import residents_to_csv
from disaster_dx.plans import dataset_infos, load_buildings, load_road_graph
from disaster_dx.store import Store

NAME = "秘匿 三郎"


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> Path:
    for name in ("DX_ADMIN_USER", "DX_ADMIN_PASSWORD", "DX_USER_PASSWORD", "DISASTER_DX_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DX_USER_PASSWORD", "pw-planner-0123456789")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _store(database_url: str) -> Store:
    return Store(database_url)


def test_real_data_path_roads_buildings_zones_residents_plan(
    cli_env: Path, database_url: str, capsys, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    district = demo_district(n_residents=12, grid_size=20)
    # Roads as a line layer (as from an OSM export), buildings as polygons, zones as A40.
    graph = district.graph
    lines = [
        {
            "type": "Feature",
            "properties": {},
            "geometry": shapely.geometry.mapping(line),
        }
        for line in graph.edge_lines()
    ]
    (cli_env / "roads.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": lines}), encoding="utf-8"
    )
    polygons = district.buildings[["building_id", "height_m", "storeys", "structure", "geometry"]]
    polygons.assign(storeys=polygons.storeys.astype("float")).to_file(
        cli_env / "buildings.gpkg", driver="GPKG"
    )
    zones = district.zones.rename(columns={"label": "A40_003"})[["A40_003", "geometry"]]
    zones.to_file(cli_env / "zones.geojson", driver="GeoJSON")
    people = list(district.residents)
    people[0] = type(people[0])(**{**people[0].__dict__, "name": NAME})
    (cli_env / "residents.csv").write_bytes(residents_to_csv(people))

    assert main(["import-roads", "roads.geojson"]) == 0
    assert main(["import-buildings", "buildings.gpkg", "--zones", "zones.geojson"]) == 0
    assert main(["import-residents", "residents.csv"]) == 1  # needs a planner account
    assert "--user" in capsys.readouterr().err
    assert main(["user", "add", "hq1", "--roles", "hq"]) == 0
    assert main(["import-residents", "residents.csv", "--user", "hq1"]) == 1
    assert main(["user", "add", "plan1", "--roles", "planner"]) == 0
    assert main(["import-residents", "residents.csv", "--user", "plan1"]) == 0
    capsys.readouterr()
    assert main(["plan", "--user", "plan1", "--arrival-minutes", "15", "--sheets", "s.html"]) == 0
    out = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(out.out.lstrip("\ufeff"))))
    assert len(rows) == len(people)
    assert {r["status"] for r in rows} <= {"reachable", "vertical", "late", "outside", "check"}
    assert "resident_id" in rows[0] and "name" not in rows[0]
    assert NAME not in out.out and NAME not in out.err and NAME not in caplog.text
    assert "サンプル" not in out.err  # imported files are not marked as the demo
    sheets = (cli_env / "s.html").read_text(encoding="utf-8")
    assert NAME in sheets and sheets.count('<section class="sheet">') == len(people)
    # Planning against every designated shelter (the default mode): the city's shelters outside
    # this small district are far from its roads; the CLI counts and names them.
    err = out.err
    assert "経路を計算できない避難先" in err and "not routed to" in err
    far_lines = [line for line in err.splitlines() if line.startswith("    - ")]
    assert far_lines and all(line.rstrip().endswith(")") for line in far_lines)
    assert f" {len(far_lines)} か所" in err

    store = _store(database_url)
    try:
        infos = dataset_infos(store)
        assert {"roads", "buildings", "residents"} <= set(infos)
        assert not any(infos[k].synthetic for k in ("roads", "buildings", "residents"))
        assert load_road_graph(store).n_edges == graph.n_edges
        buildings = load_buildings(store)
        assert len(buildings) == len(district.buildings)
        assert (
            buildings.tsunami_depth_upper_m.max() == district.buildings.tsunami_depth_upper_m.max()
        )
        actions = {a["action"] for a in store.audit_log()}
        assert {"residents.imported", "residents.read", "residents.cli_refused"} <= actions
    finally:
        store.dispose()


def test_demo_district_then_live_plan(cli_env: Path, database_url: str, capsys) -> None:
    assert main(["demo-district", "--residents", "20"]) == 0
    err = capsys.readouterr().err
    assert "サンプル・架空データ" in err
    # The new data is planned against the live state at once, so HQ's flagged list is current.
    assert "live plans (tsunami):" in err and "of 20 cannot reach safety in time" in err
    assert main(["user", "add", "plan1", "--roles", "planner"]) == 0
    assert main(["plan", "--user", "plan1", "--mode", "live", "-o", "live.csv"]) == 0
    err = capsys.readouterr().err
    assert "サンプル・架空データ" in err and "live plans stored (tsunami)" in err
    rows = list(csv.DictReader(io.StringIO((cli_env / "live.csv").read_text("utf-8-sig"))))
    # Nothing is open in the live incident: only the demo's refuge buildings can be reached.
    assert {r["destination_id"][:9] for r in rows if r["destination_id"]} <= {"building:"}
    assert main(["plan", "--user", "nobody"]) == 1


def test_import_buildings_replans_only_when_there_is_something_to_plan(
    cli_env: Path, capsys
) -> None:
    tile = Path(__file__).parent / "fixtures" / "plateau" / "tiles" / "53394601_bldg_6697_op.gml"
    # No roads or residents yet: nothing to plan, so the planner (and routing) is not loaded.
    assert main(["import-buildings", str(tile)]) == 0
    err = capsys.readouterr().err
    assert "buildings saved in 1 tile(s)" in err and "live plans" not in err
    # With roads, residents and a live tsunami warning, new buildings re-plan at once.
    assert main(["demo-district", "--residents", "20"]) == 0
    capsys.readouterr()
    assert main(["import-buildings", str(tile)]) == 0
    err = capsys.readouterr().err
    assert "buildings saved in 1 tile(s)" in err
    assert "live plans (tsunami):" in err and "of 20 cannot reach safety in time" in err
