"""An imported history through the CLI, the replay page, the report and the scenario export.

The publications are written by the test on the real bundled Nankoku master (shelters named
exactly as the master names them, IDs as the master's ids), three of them over two days.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from disaster_dx import drills
from disaster_dx._time import JST
from disaster_dx.cli import main
from disaster_dx.model import IncidentKind
from disaster_dx.store import Store
from disaster_dx.web import drill_pages as pages
from disaster_dx.web.context import EXTENSION_KEY, runtime_of
from tests.conftest import add_staff_user
from tests.webtools import callback_request, login_client

TIMES = [
    datetime(2024, 1, 1, 18, 0, tzinfo=JST),
    datetime(2024, 1, 2, 9, 0, tzinfo=JST),
    datetime(2024, 1, 3, 13, 30, tzinfo=JST),
]
WAREKI = [
    "令和6年1月1日午後6時00分",
    "令和６年１月２日　午前９時",
    "令和6年1月3日（水）午後1時30分現在",
]


def write_publications(store: Store, folder: Path) -> list[dict[str, int]]:
    """Three publications on the master's first five sites; returns {id: 人数} per time."""
    a, b, c, d, e = store.shelters()[:5]
    lists = [
        {a: 120, b: 45, c: 300},
        {a: 150, b: 38, c: 280, d: 30},  # d appears
        {a: 132, c: 210, d: 41, e: 7},  # b disappears (closed), e appears
    ]
    folder.mkdir(parents=True, exist_ok=True)
    for n, (listed, when) in enumerate(zip(lists, WAREKI, strict=True)):
        rows = ["ID,地区,名称,人数,時点"]
        for shelter, count in listed.items():
            # The third publication renames a (same ID): still the same site.
            name = f"{shelter.name}（第2）" if (n == 2 and shelter is a) else shelter.name
            rows.append(f"{shelter.shelter_id},南国,{name},{count},{when}")
        body = "\r\n".join(rows) + "\r\n"
        path = folder / f"{TIMES[n]:%Y%m%d_%H%M}.csv"
        path.write_bytes(body.encode("cp932") if n == 1 else b"\xef\xbb\xbf" + body.encode())
    return [{s.shelter_id: v for s, v in listed.items()} for listed in lists]


@pytest.fixture
def app(make_app: Any) -> Any:
    app = make_app()
    runtime_of(app.server).drill_scheduler.enabled = False
    return app


def imported(app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, list]:
    """Import through the CLI into the app's database; the new incident's id and the lists."""
    store = app.server.extensions[EXTENSION_KEY].store
    expected = write_publications(store, tmp_path / "pubs")
    settings = app.server.extensions[EXTENSION_KEY].settings
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "var"))
    code = main(
        [
            "history",
            "import",
            str(tmp_path / "pubs"),
            "--name",
            "令和6年 南国市の記録（試験）",
            "--hazard",
            "earthquake",
            "--actor",
            "chief",
        ]
    )
    assert code == 0
    found = [
        i
        for i in store.incidents(kind=IncidentKind.LIVE)
        if i.title == "令和6年 南国市の記録（試験）"
    ]
    return found[0].incident_id, expected


def _seek(client: Any, app: Any, incident_id: str, seconds: float) -> dict[str, Any]:
    body = callback_request(
        app,
        pages.REPLAY_SHELTERS,
        {(pages.REPLAY_SLIDER, "value"): seconds, (pages.REPLAY_INCIDENT, "data"): incident_id},
        f"{pages.REPLAY_SLIDER}.value",
    )
    answer = client.post("/_dash-update-component", json=body)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()["response"]


def test_replay_report_and_export_of_an_imported_history(
    app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    incident_id, expected = imported(app, tmp_path, monkeypatch)
    said = capsys.readouterr().err
    assert f"/drill/replay/{incident_id}" in said and "renamed (matched by ID" in said
    store = app.server.extensions[EXTENSION_KEY].store
    names = {s.shelter_id: s.name for s in store.shelters()}
    client = app.server.test_client()
    login_client(client, "chief", add_staff_user(store, "chief", "hq"))

    page = client.get(f"/drill/replay/{incident_id}")
    assert page.status_code == 200
    for moment, listed in zip(TIMES, expected, strict=True):
        response = _seek(client, app, incident_id, (moment - TIMES[0]).total_seconds())
        rows = response[pages.REPLAY_BOARD]["rowData"]
        open_rows = {r["name"]: r["evacuees_capacity"] for r in rows if r["open_state"] == "開設"}
        assert set(open_rows) == {names[s] for s in listed}, moment
        for sid, count in listed.items():
            assert open_rows[names[sid]].startswith(f"{count}"), (moment, sid)
        assert "2024-01-0" in str(response[pages.REPLAY_CLOCK]["children"])

    report = client.get(f"/drill/report/{incident_id}").get_data(as_text=True)
    assert "事後検証報告書" in report and "令和6年 南国市の記録（試験）" in report
    peak = max(sum(listed.values()) for listed in expected)
    assert f"{peak:,}人" in report

    exported = client.get(f"/drill/export/{incident_id}.yaml")
    assert exported.status_code == 200
    document = yaml.safe_load(exported.get_data(as_text=True))
    assert document["hazard"] == "地震"
    scenario = drills.parse_scenario(exported.data, shelters=store.shelters())
    assert drills.format_offset(scenario.length) == "+43:30:00"


def test_drill_export_until_a_time_for_long_records(
    app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    incident_id, _expected = imported(app, tmp_path, monkeypatch)
    out = tmp_path / "first-day.yaml"
    assert main(["drill", "export", incident_id, "--until", "+24:00:00", "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "より後の" in text  # the header says what was left out
    store = app.server.extensions[EXTENSION_KEY].store
    scenario = drills.parse_scenario(text, shelters=store.shelters())
    assert drills.format_offset(scenario.length) == "+15:00:00"  # the second publication
    assert main(["drill", "export", incident_id, "--until", "tomorrow"]) == 1
    assert "--until" in capsys.readouterr().err


def test_dry_run_checks_and_writes_nothing(
    app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store = app.server.extensions[EXTENSION_KEY].store
    write_publications(store, tmp_path / "pubs")
    monkeypatch.setenv("DATABASE_URL", app.server.extensions[EXTENSION_KEY].settings.database_url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "var"))
    before = len(store.incidents())
    argv = ["history", "import", str(tmp_path / "pubs"), "--name", "試験", "--dry-run"]
    assert main(argv) == 0
    said = capsys.readouterr().err
    assert "checked 3 publications" in said and "nothing written" in said
    assert len(store.incidents()) == before
    (tmp_path / "pubs" / "bad.csv").write_text("ID,名称\n1,x\n", encoding="utf-8")
    assert main(argv) == 1
    assert "bad.csv line 1: has no column 人数" in capsys.readouterr().err


def test_replay_shows_a_site_removed_from_the_master_since(
    app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    incident_id, expected = imported(app, tmp_path, monkeypatch)
    store = app.server.extensions[EXTENSION_KEY].store
    gone = next(iter(expected[0]))  # open in the first publication
    name = store.shelter(gone).name
    store.replace_shelters(
        [s for s in store.shelters() if s.shelter_id != gone], source="test", actor="test"
    )
    assert gone not in {s.shelter_id for s in store.shelters()}
    client = app.server.test_client()
    login_client(client, "chief", add_staff_user(store, "chief", "hq"))
    rows = _seek(client, app, incident_id, 0)[pages.REPLAY_BOARD]["rowData"]
    assert {r["name"]: r["open_state"] for r in rows}[name] == "開設"


def _find(component: Any, component_id: str) -> Any:
    """The component with ``component_id`` in a Dash layout tree (depth first)."""
    if getattr(component, "id", None) == component_id:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and not isinstance(child, str):
            found = _find(child, component_id)
            if found is not None:
                return found
    return None


def test_replay_map_clusters_as_hqs_and_names_a_removed_site(
    app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flask_login import login_user

    from disaster_dx import auth
    from disaster_dx.web.security import WebUser
    from layers.shelters import label_zoom

    incident_id, expected = imported(app, tmp_path, monkeypatch)
    store = app.server.extensions[EXTENSION_KEY].store
    gone = next(iter(expected[0]))
    name = store.shelter(gone).name
    store.replace_shelters(
        [s for s in store.shelters() if s.shelter_id != gone], source="test", actor="test"
    )
    add_staff_user(store, "chief", "hq")
    with app.server.test_request_context(f"/drill/replay/{incident_id}"):
        login_user(WebUser(auth.get_user(store, "chief")))
        layer = _find(pages.replay_layout(incident_id=incident_id), pages.REPLAY_SHELTERS)
    assert layer.cluster is True  # as on HQ's map: counts per state until markers separate
    features = layer.data["features"]
    assert name in {f["properties"]["name"] for f in features}  # the site HQ saw then
    assert len(features) == len(store.shelters()) + 1
    assert layer.hideout["labelZoom"] == label_zoom(layer.data)
    assert layer.superClusterOptions["maxZoom"] < layer.hideout["labelZoom"]
