"""The ``disaster-dx`` command, run in-process and once as the installed entry point."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from disaster_dx.bundled import BUNDLED_SHELTER_FILES
from disaster_dx.cli import main
from disaster_dx.model import GSI_HAZARD_COLUMNS
from disaster_dx.store import Store
from tests.common import ROOT


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> Path:
    """Point the CLI at a fresh database and data folder."""
    for name in ("DX_ADMIN_USER", "DX_ADMIN_PASSWORD", "DX_USER_PASSWORD", "DISASTER_DX_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _source_features() -> dict[str, dict]:
    features = {}
    for path in BUNDLED_SHELTER_FILES:
        for feature in json.loads(path.read_text(encoding="utf-8"))["features"]:
            features[feature["properties"]["共通ID"]] = feature["properties"]
    return features


def test_init_then_export_round_trips_every_bundled_shelter(cli_env: Path) -> None:
    assert main(["init"]) == 0
    assert main(["export", "--format", "geojson", "-o", "out.geojson"]) == 0
    exported = json.loads((cli_env / "out.geojson").read_text(encoding="utf-8"))["features"]
    assert len(exported) == 139  # 76 指定避難所 + 102 指定緊急避難場所 − 39 sites in both
    source = _source_features()
    seen = []
    for feature in exported:
        properties = feature["properties"]
        ids = properties["共通ID"].split()
        seen.extend(ids)
        emergency = [source[i] for i in ids if i[11] == "2"]
        for column in GSI_HAZARD_COLUMNS.values():
            expected = "1" if any(e[column] == "1" for e in emergency) else ""
            assert properties[column] == expected, (ids, column)
        names = {source[i]["施設・場所名"] for i in ids}
        assert properties["施設・場所名"] in names
        assert properties["開設状況"] == "未開設"
    assert sorted(seen) == sorted(source)


def test_init_is_idempotent_and_creates_an_admin(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DX_ADMIN_PASSWORD", "a long enough password")
    assert main(["init", "--admin-user", "chief"]) == 0
    assert main(["init", "--admin-user", "chief"]) == 0
    err = capsys.readouterr().err
    assert "loaded the bundled Nankoku shelter master: added 139," in err
    assert "already initialised: 139 shelters" in err
    assert "admin user 'chief' already exists" in err
    assert main(["user", "list"]) == 0
    assert capsys.readouterr().out.startswith("chief\tadmin\tactive")


def test_init_admin_without_password_is_refused(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", "--admin-user", "chief"]) == 1
    assert "set DX_ADMIN_PASSWORD or pass --admin-password-file" in capsys.readouterr().err


def test_reimport_reports_no_change_then_the_change(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init"]) == 0
    files = [str(p) for p in BUNDLED_SHELTER_FILES]
    assert main(["import-shelters", *files]) == 0
    assert "imported: added 0, changed 0, removed 0, unchanged 139" in capsys.readouterr().err

    # The city drops one emergency-only site and renames another.
    document = json.loads(BUNDLED_SHELTER_FILES[1].read_text(encoding="utf-8"))
    dropped = document["features"].pop(0)["properties"]["共通ID"]
    document["features"][0]["properties"]["施設・場所名"] += "（改称）"
    edited = cli_env / "emergency_edited.geojson"
    edited.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    assert main(["import-shelters", files[0], str(edited), "-v"]) == 0
    err = capsys.readouterr().err
    assert "imported: added 0, changed 1, removed 1, unchanged 137" in err
    assert f"removed: {dropped}" in err
    # The public snapshot follows the new master at once.
    assert "published" in err
    public = json.loads((cli_env / "var" / "public" / "shelters.geojson").read_text("utf-8"))
    names = {f["properties"]["name"] for f in public["features"]}
    assert len(public["features"]) == 138 and any(n.endswith("（改称）") for n in names)
    assert dropped not in {f["id"] for f in public["features"]}


def test_bad_file_is_refused_with_exit_1_and_nothing_changes(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init"]) == 0
    broken = cli_env / "broken.geojson"
    broken.write_text('{"type": "FeatureCollection", "features": [}', encoding="utf-8")
    assert main(["import-shelters", str(BUNDLED_SHELTER_FILES[0]), str(broken)]) == 1
    assert "broken.geojson line 1 column 44: bad JSON" in capsys.readouterr().err
    store = Store(os.environ["DATABASE_URL"])
    try:
        assert len(store.shelters()) == 139
        assert len(store.import_history()) == 1
    finally:
        store.dispose()
    assert main(["import-shelters", "no/such/file.geojson"]) == 1
    assert "no such file: no/such/file.geojson" in capsys.readouterr().err


def test_dry_run_writes_nothing(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(p) for p in BUNDLED_SHELTER_FILES]
    assert main(["import-shelters", "--dry-run", *files]) == 0
    err = capsys.readouterr().err
    assert "139 sites in the new master" in err and "dry run: nothing written" in err
    assert "possible duplicate: 十市小学校" in err


@pytest.mark.parametrize("fmt", ["csv", "gpkg"])
def test_export_other_formats(cli_env: Path, fmt: str) -> None:
    assert main(["export", "--format", fmt, "-o", f"out.{fmt}"]) == 0
    path = cli_env / f"out.{fmt}"
    if fmt == "csv":
        raw = path.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")  # BOM, so Excel reads the Japanese right
        rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
        assert len(rows) == 139
        assert sum(r["津波"] == "1" for r in rows) == 63
    else:
        import geopandas

        frame = geopandas.read_file(path)
        assert len(frame) == 139 and frame.crs.to_epsg() == 4326


def test_unreachable_database_exits_3(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    url = "postgresql+psycopg://nobody:secret@127.0.0.1:9/none?connect_timeout=1"
    assert main(["--database-url", url, "init"]) == 3
    err = capsys.readouterr().err
    assert "cannot use the database" in err and "secret" not in err


def test_console_script_is_installed(tmp_path: Path) -> None:
    exe = shutil.which("disaster-dx") or str(Path(sys.executable).parent / "disaster-dx")
    if not Path(exe).exists():
        pytest.fail("the disaster-dx entry point is not installed; run pip install -e .")
    env = {**os.environ, "DATA_DIR": str(tmp_path), "DATABASE_URL": ""}
    done = subprocess.run(
        [exe, "--help"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60
    )
    assert done.returncode == 0
    assert "import-shelters" in done.stdout and "export" in done.stdout
