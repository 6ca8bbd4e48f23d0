"""export-plans (CSV for the 要支援者 system) and export-buildings (GeoJSON/GeoPackage for QGIS)."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest

from disaster_dx import auth
from disaster_dx.bundled import ensure_initialised
from disaster_dx.cli import main
from disaster_dx.demo_district import demo_district, load_demo_district
from disaster_dx.plans import (
    DEPTH_COLUMNS,
    PLAN_HAZARDS,
    NotPermitted,
    Planner,
    load_buildings,
    read_residents,
    save_residents,
    vertical_evacuation,
)
from disaster_dx.plans.buildings_export import buildings_for_export, write_buildings
from disaster_dx.plans.csv_export import COLUMNS, HEADER, plans_csv
from disaster_dx.residents import Supporter
from disaster_dx.store import Store
from tests.conftest import add_staff_user, skip_or_fail

DOCS = Path(__file__).resolve().parents[1] / "docs" / "plans_csv.md"
SECRET_PHONE = "088-999-4242"


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> Path:
    for name in ("DX_ADMIN_USER", "DX_ADMIN_PASSWORD", "DX_USER_PASSWORD", "DISASTER_DX_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DX_USER_PASSWORD", "pw-planner-0123456789")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _with_yoshiki_fields(store: Store, user: auth.User) -> None:
    """Give the first demo resident every 様式 field (made-up values)."""
    import dataclasses

    people = read_residents(store, user, purpose="test")
    first = dataclasses.replace(
        people[0],
        name="=HYPERLINK(1)",
        emergency_name="架空 家族",
        emergency_relation="長女",
        emergency_phone=SECRET_PHONE,
        considerations="筆談で",
        carry_items=("お薬手帳", "補聴器"),
        supporters=(Supporter("架空 二番", "090-0000-0002"),),
        created_on=date(2025, 4, 1),
        review_on=date(2026, 4, 1),
        plan_consent=True,
        plan_consent_on=date(2025, 4, 2),
    )
    save_residents(store, [first, *people[1:]], user, source="test.csv", synthetic=True)


def test_plans_csv_one_row_per_resident_and_hazard(store) -> None:
    ensure_initialised(store)
    add_staff_user(store, "plan1", "planner")
    add_staff_user(store, "hq1", "hq")
    planner_user = auth.get_user(store, "plan1")
    load_demo_district(store, planner_user, n_residents=15, grid_size=20)
    _with_yoshiki_fields(store, planner_user)
    planner = Planner(store)
    with pytest.raises(NotPermitted):
        plans_csv(planner, auth.get_user(store, "hq1"))
    export = plans_csv(planner, planner_user)
    assert export.data.startswith(b"\xef\xbb\xbf") and b"\r\n" in export.data
    rows = list(csv.reader(io.StringIO(export.data.decode("utf-8-sig"))))
    assert tuple(rows[0]) == HEADER and all(len(r) == len(HEADER) for r in rows)
    body = rows[1:]
    assert len(body) == export.rows == 15 * len(PLAN_HAZARDS)
    pairs = {(r[0], r[HEADER.index("災害種別")]) for r in body}
    assert len(pairs) == len(body)  # one row per resident and hazard
    first = next(r for r in body if r[HEADER.index("緊急連絡先電話番号")] == SECRET_PHONE)
    cell = dict(zip(HEADER, first, strict=True))
    assert cell["氏名"] == "'=HYPERLINK(1)"  # the formula guard
    assert (cell["緊急連絡先氏名"], cell["緊急連絡先続柄"]) == ("架空 家族", "長女")
    assert cell["持ち出し品"] == "お薬手帳、補聴器" and cell["配慮事項"] == "筆談で"
    assert cell["避難支援等実施者2氏名"] == "架空 二番"
    assert (cell["作成日"], cell["見直し日"], cell["同意日"]) == (
        "2025-04-01",
        "2026-04-01",
        "2025-04-02",
    )
    assert cell["計画提供同意"] == "1" and cell["架空データ"] == "1"
    tsunami = [r for r in body if r[HEADER.index("災害種別")] == "tsunami"]
    triggers = {r[HEADER.index("避難開始のタイミング")] for r in tsunami}
    assert any("揺れがおさまったらすぐ" in t for t in triggers)
    with_alt = [r for r in tsunami if r[HEADER.index("第二避難先")]]
    assert with_alt and all(
        float(r[HEADER.index("第二避難先道のり_m")]) > 0
        and r[HEADER.index("第二避難先ID")] != r[HEADER.index("第一避難先ID")]
        for r in with_alt
    )
    flood = [r for r in body if r[HEADER.index("災害種別")] == "flood"]
    assert all("津波" not in r[HEADER.index("避難開始のタイミング")] for r in flood)
    # Audited as a sensitive read: one residents.read per hazard and one export, ids only.
    log = store.audit_log(actor="plan1", limit=100)
    reads = [a for a in log if a["action"] == "residents.read"]
    assert len([a for a in reads if a["detail"]["purpose"] == "plans.export.csv"]) == len(
        PLAN_HAZARDS
    )
    export_entry = next(a for a in log if a["action"] == "plans.export")
    assert export_entry["detail"]["rows"] == export.rows
    text = json.dumps(log, ensure_ascii=False, default=str)
    assert SECRET_PHONE not in text and "架空 家族" not in text


def test_the_columns_are_documented() -> None:
    documented = re.findall(r"^\| `([^`]+)` \|", DOCS.read_text(encoding="utf-8"), re.MULTILINE)
    assert documented == [name for name, _ in COLUMNS]


def test_export_plans_command(cli_env: Path, database_url: str, capsys) -> None:
    assert main(["demo-district", "--residents", "10"]) == 0
    assert main(["user", "add", "plan1", "--roles", "planner"]) == 0
    assert main(["user", "add", "hq1", "--roles", "hq"]) == 0
    capsys.readouterr()
    assert main(["export-plans", "-o", "all.csv", "--user", "plan1"]) == 0
    err = capsys.readouterr().err
    assert (
        f"wrote {10 * len(PLAN_HAZARDS)} plans (10 residents × {len(PLAN_HAZARDS)} hazards)" in err
    )
    text = (cli_env / "all.csv").read_bytes()
    assert text.startswith(b"\xef\xbb\xbf")
    assert len(text.decode("utf-8-sig").splitlines()) == 1 + 10 * len(PLAN_HAZARDS)
    assert main(["export-plans", "-o", "t.csv", "--user", "plan1", "--hazard", "tsunami"]) == 0
    assert len((cli_env / "t.csv").read_text("utf-8-sig").splitlines()) == 11
    assert main(["export-plans", "-o", "x.csv", "--user", "hq1"]) == 1  # not a planner
    assert main(["export-plans", "-o", "x.csv"]) == 1  # no account
    assert main(["export-plans", "-o", "x.txt", "--user", "plan1"]) == 1
    assert main(["export-plans", "-o", "x.csv", "--user", "plan1", "--hazard", "fire"]) == 1
    assert not (cli_env / "x.csv").exists()


def _ogrinfo(path: Path) -> str:
    binary = shutil.which("ogrinfo")
    if binary is None:
        skip_or_fail("gdal", "GDAL's ogrinfo is not installed (apt-get install gdal-bin)")
    done = subprocess.run(
        [str(binary), "-so", "-al", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg"])
def test_export_buildings_reads_in_gdal_with_every_field(
    cli_env: Path, database_url: str, capsys, suffix: str
) -> None:
    assert main(["demo-district", "--residents", "5"]) == 0
    path = cli_env / f"buildings{suffix}"
    assert main(["export-buildings", "-o", str(path)]) == 0
    store = Store(database_url)
    try:
        stored = load_buildings(store)
    finally:
        store.dispose()
    assert stored is not None
    summary = _ogrinfo(path)
    count = int(re.search(r"Feature Count: (\d+)", summary).group(1))  # type: ignore[union-attr]
    assert count == len(stored) > 0
    fields = dict(re.findall(r"^(\w+): (\w+)", summary, re.MULTILINE))
    if suffix == ".geojson":  # GeoJSON has no schema: GDAL reads an all-null field as String
        frame = buildings_for_export(stored)
        for name in frame.columns:
            if name != "geometry" and frame[name].isna().all():
                assert fields.get(name) == "String", name
                fields[name] = "(all null)"
    for name, kind in (
        ("building_id", ("String",)),
        ("height_m", ("Real",)),
        ("storeys", ("Integer", "Integer64")),
        ("structure", ("String",)),
        ("usage", ("String",)),
        ("floor_m", ("Real",)),
    ):
        assert fields.get(name) in (*kind, "(all null)"), (name, fields.get(name))
    for prefix in DEPTH_COLUMNS.values():
        for field in ("depth_lower_m", "depth_upper_m", "duration_h"):
            assert fields.get(f"{prefix}_{field}") in ("Real", "(all null)"), (prefix, field)
        assert fields.get(f"{prefix}_rank") in ("Integer", "Integer64", "(all null)")
        for field in ("vertical", "vertical_ja", "reason", "reason_ja"):
            assert fields.get(f"{prefix}_{field}") == "String", (prefix, field)
        assert fields.get(f"{prefix}_depth_label") in ("String", "(all null)")
    assert "EPSG" in summary and "4326" in summary
    assert main(["export-buildings", "-o", str(cli_env / "b.shp")]) == 1  # format refused


def test_export_values_are_the_judgement_as_it_is(tmp_path: Path) -> None:
    import geopandas as gpd

    district = demo_district(n_residents=5, grid_size=16)
    buildings = district.buildings
    frame = buildings_for_export(buildings)
    judged = vertical_evacuation(buildings, PLAN_HAZARDS[0])
    assert list(frame["tsunami_vertical"]) == [judged.vertical(i).value for i in range(len(frame))]
    assert list(frame["tsunami_reason"]) == [judged.reason_of(i).value for i in range(len(frame))]
    assert set(frame["tsunami_vertical"]) >= {"safe", "not_safe"}  # the demo has both
    path = tmp_path / "b.geojson"
    assert write_buildings(buildings, path) == len(buildings)
    back = gpd.read_file(path)
    assert list(back["building_id"]) == list(buildings["building_id"])
    assert list(back["tsunami_vertical"]) == list(frame["tsunami_vertical"])
    # An open class (no upper bound) is null plus a flag, never "Infinity" in the JSON.
    raw = path.read_text(encoding="utf-8")
    assert "Infinity" not in raw and "NaN" not in raw


def test_plans_page_download_is_for_planners_and_audited(make_app) -> None:
    from disaster_dx.web.context import EXTENSION_KEY
    from disaster_dx.web.plans_pages import ALL_PLANS_CSV, _export_links
    from tests.webtools import login_client

    app = make_app()
    store = app.server.extensions[EXTENSION_KEY].store
    password = add_staff_user(store, "plan1", "planner")
    hq_password = add_staff_user(store, "hq1", "hq")
    user = auth.get_user(store, "plan1")
    load_demo_district(store, user, n_residents=8, grid_size=20)
    _with_yoshiki_fields(store, user)
    path = f"/plans/export/{ALL_PLANS_CSV}?mode=designated"
    anonymous = app.server.test_client()
    assert anonymous.get(path).status_code in (302, 401)
    hq = app.server.test_client()
    login_client(hq, "hq1", hq_password)
    refused = hq.get(path)
    assert refused.status_code == 403 and SECRET_PHONE not in refused.get_data(as_text=True)
    client = app.server.test_client()
    login_client(client, "plan1", password)
    response = client.get(path)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = response.data.decode("utf-8-sig").splitlines()
    assert rows[0].split(",") == list(HEADER) and len(rows) == 1 + 8 * len(PLAN_HAZARDS)
    assert SECRET_PHONE in response.data.decode("utf-8-sig")
    entry = store.audit_log(actor="plan1", action="plans.export")[0]
    assert entry["detail"]["purpose"] == "plans.export.all_csv" and entry["detail"]["count"] == 8
    links = _export_links({"hazard": "tsunami", "mode": "designated", "arrival": None})
    assert any(getattr(link.children, "href", "") == path for link in links)  # on /plans


def test_a_plateau_import_exports_usage_and_each_hazards_rank(
    cli_env: Path, database_url: str, shared_data: Path
) -> None:
    """Real PLATEAU (Osaka i-UR 3.0): usage and 浸水ランク survive storage into the export."""
    from disaster_dx.io.plateau import buildings_from_citygml

    gml = shared_data / "plateau" / "osaka_uro30_52350324_bldg_6697_op.gml"
    read = buildings_from_citygml([gml]).buildings
    assert main(["import-buildings", str(gml)]) == 0
    path = cli_env / "osaka.geojson"
    assert main(["export-buildings", "-o", str(path)]) == 0
    exported = {
        f["properties"]["building_id"]: f["properties"]
        for f in json.loads(path.read_text("utf-8"))["features"]
    }
    with_usage = read[read["usage"].notna()]
    assert len(with_usage) > 0
    for _, building in with_usage.iterrows():
        row = exported[building["building_id"]]
        assert row["usage"] == building["usage"]
        assert row["usage_ja"] == building["usage_ja"]
    for kind in ("tsunami", "flood"):
        ranked = read[read[f"{kind}_rank"].notna()]
        assert len(ranked) > 0, kind
        for _, building in ranked.iterrows():
            assert exported[building["building_id"]][f"{kind}_rank"] == int(
                building[f"{kind}_rank"]
            )
