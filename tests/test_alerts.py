"""避難情報, warnings in force, areas and the named live incident (core and CLI)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from disaster_dx import alerts
from disaster_dx.areas import Area, areas_from_geojson, shelters_in_areas
from disaster_dx.auth import Role, User
from disaster_dx.bundled import ensure_initialised
from disaster_dx.cli import main
from disaster_dx.errors import DisasterDxError, ImportFileError, NotFoundError, ValidationError
from disaster_dx.events import NewEvent, fold
from disaster_dx.model import AlertLevel, Hazard, OpenState, WarningKind
from disaster_dx.store import Store

HQ = User("tanaka", "田中（本部）", frozenset({Role.HQ}), frozenset(), disabled=False)
STAFF = User("inabu1", "稲生1", frozenset({Role.SHELTER_STAFF}), frozenset(), disabled=False)


@pytest.fixture
def city(store: Store) -> Store:
    ensure_initialised(store, actor="test")
    return store


def live(store: Store) -> str:
    return store.live_incident(actor="test").incident_id


def test_the_bundled_areas_are_the_whole_city_only(city: Store) -> None:
    (area,) = city.areas()
    assert (area.area_id, area.name, area.whole_city) == ("all", "南国市全域", True)
    assert area.label("en") == "All of Nankoku City" and area.label("easy")
    assert len(shelters_in_areas(city.areas(), ["all"], city.shelters())) == 139


def test_issue_and_lift_set_and_clear_the_hazard_in_force(city: Store) -> None:
    incident = live(city)
    alert = alerts.issue_alert(
        city,
        incident,
        HQ,
        level=AlertLevel.EVACUATE,
        hazard=Hazard.TSUNAMI,
        areas=["all"],
        reason="大津波警報",
    )
    state = city.state(incident)
    assert state.current_hazard is Hazard.TSUNAMI
    assert [a.alert_id for a in state.alerts_in_force] == [alert.alert_id]
    assert (alert.level.number, alert.issued_by, alert.areas) == (4, "tanaka", ("all",))
    lifted = alerts.lift_alert(city, incident, HQ, alert.alert_id, reason="津波警報へ切替")
    assert lifted.lifted_at is not None and lifted.lifted_by == "tanaka"
    state = city.state(incident)
    assert state.current_hazard is None and state.alerts_in_force == []
    assert state.alerts[alert.alert_id].lift_reason == "津波警報へ切替"  # kept after lifting
    with pytest.raises(DisasterDxError, match="already lifted"):
        alerts.lift_alert(city, incident, HQ, alert.alert_id)
    with pytest.raises(NotFoundError):
        alerts.lift_alert(city, incident, HQ, "A-none")
    assert city.state(incident) == fold(city.events(incident))


def test_raising_the_level_for_the_same_areas_replaces_the_alert(city: Store) -> None:
    incident = live(city)
    first = alerts.issue_alert(
        city, incident, HQ, level=AlertLevel.EVACUATE, hazard=Hazard.TSUNAMI, areas=["all"]
    )
    second = alerts.issue_alert(
        city,
        incident,
        HQ,
        level=AlertLevel.EMERGENCY_SAFETY,
        hazard=Hazard.TSUNAMI,
        areas=["all"],
    )
    state = city.state(incident)
    assert [a.alert_id for a in state.alerts_in_force] == [second.alert_id]
    assert "警戒レベル5" in state.alerts[first.alert_id].lift_reason
    # Another hazard is a separate alert.
    alerts.issue_alert(
        city, incident, HQ, level=AlertLevel.ELDERLY_EVACUATE, hazard=Hazard.FLOOD, areas=["all"]
    )
    levels = [a.level.number for a in city.state(incident).alerts_in_force]
    assert levels == [5, 3]


def test_unknown_areas_and_roles_are_refused_and_audited(city: Store) -> None:
    incident = live(city)
    with pytest.raises(ValidationError, match="unknown area"):
        alerts.issue_alert(
            city, incident, HQ, level=AlertLevel.EVACUATE, hazard=Hazard.FLOOD, areas=["十市"]
        )
    with pytest.raises(alerts.AlertRefused):
        alerts.issue_alert(
            city, incident, STAFF, level=AlertLevel.EVACUATE, hazard=Hazard.FLOOD, areas=["all"]
        )
    assert city.audit_log(actor="inabu1")[0]["action"] == "alert.issue_refused"
    assert city.events(incident) == []


def test_warnings_set_the_hazard_and_keep_their_kind(city: Store) -> None:
    incident = live(city)
    announced = alerts.announce_warning(
        city, incident, HQ, warning=WarningKind.MAJOR_TSUNAMI_WARNING, source="気象庁"
    )
    assert (announced.hazard, announced.title, announced.source) == (
        Hazard.TSUNAMI,
        "大津波警報",
        "気象庁",
    )
    assert city.state(incident).current_hazard is Hazard.TSUNAMI
    with pytest.raises(ValidationError, match="which hazard"):
        alerts.announce_warning(city, incident, HQ, warning=WarningKind.OTHER_WARNING)
    alerts.clear_warning(city, incident, HQ, Hazard.TSUNAMI)
    assert city.state(incident).current_hazard is None


def test_shelters_needing_opening_follow_alerts_hazards_and_open_state(city: Store) -> None:
    incident = live(city)
    shelters = city.shelters()
    tsunami_sites = [s for s in shelters if s.suits(Hazard.TSUNAMI)]
    assert len(tsunami_sites) == 63
    assert alerts.shelters_needing_opening(city.state(incident), shelters, city.areas()) == []
    alerts.issue_alert(
        city, incident, HQ, level=AlertLevel.EVACUATE, hazard=Hazard.TSUNAMI, areas=["all"]
    )
    needed = alerts.shelters_needing_opening(city.state(incident), shelters, city.areas())
    assert {s.shelter_id for s, _ in needed} == {s.shelter_id for s in tsunami_sites}
    opened = tsunami_sites[0].shelter_id
    city.append(
        incident,
        [NewEvent("shelter.status_reported", {"shelter_id": opened, "open_state": "open"})],
        actor="tanaka",
    )
    needed = alerts.shelters_needing_opening(city.state(incident), shelters, city.areas())
    assert len(needed) == 62 and opened not in {s.shelter_id for s, _ in needed}


def test_areas_by_polygon_and_by_list(tmp_path: Path, city: Store) -> None:
    school = city.shelters()[0]
    square = {
        "type": "Polygon",
        "coordinates": [
            [
                [school.lon - 0.001, school.lat - 0.001],
                [school.lon + 0.001, school.lat - 0.001],
                [school.lon + 0.001, school.lat + 0.001],
                [school.lon - 0.001, school.lat + 0.001],
                [school.lon - 0.001, school.lat - 0.001],
            ]
        ],
    }
    other = city.shelters()[5]
    path = tmp_path / "chiku.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "geometry": None,
                        "properties": {"id": "all", "name": "全域", "whole_city": True},
                    },
                    {
                        "type": "Feature",
                        "geometry": square,
                        "properties": {"地区コード": "01", "地区名": "稲生"},
                    },
                    {
                        "type": "Feature",
                        "geometry": None,
                        "properties": {"id": "02", "name": "十市", "shelters": [other.shelter_id]},
                    },
                ],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    found = areas_from_geojson(path)
    city.replace_areas(found, source=path.name, actor="test")
    by_id = {a.area_id: a for a in city.areas()}
    assert [a.area_id for a in city.areas()] == ["all", "01", "02"]
    assert by_id["01"].contains(school) and not by_id["01"].contains(other)
    assert by_id["02"].contains(other) and not by_id["02"].contains(school)


def test_a_bad_area_file_names_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "bad.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "geometry": None, "properties": {"id": "a", "name": "A"}},
                    {
                        "type": "Feature",
                        "geometry": {
                            "type": "Polygon",
                            "coordinates": [
                                [[33.5, 133.6], [33.6, 133.6], [33.6, 133.7], [33.5, 133.6]]
                            ],
                        },
                        "properties": {"id": "a"},
                    },
                ],
            }
        ),
        encoding="utf-8",
    )
    with pytest.raises(ImportFileError) as caught:
        areas_from_geojson(path)
    text = str(caught.value)
    for expected in (
        "feature 1 (a): needs a polygon",
        "feature 2 (a): repeats the id",
        "needs a name",
        "outside Japan",
    ):
        assert expected in text
    assert isinstance(Area("x", "X").label("en"), str)


def test_one_named_live_incident_at_a_time(city: Store) -> None:
    unnamed = city.live_incident(actor="test")
    assert not unnamed.named
    city.append(
        unnamed.incident_id,
        [
            NewEvent(
                "shelter.status_reported",
                {"shelter_id": city.shelters()[0].shelter_id, "open_state": "open"},
            )
        ],
        actor="tanaka",
    )
    named = city.open_live_incident("令和8年 台風第10号", actor="tanaka", hazard=Hazard.FLOOD)
    # The open incident is named: its log (the shelter already open) stays.
    assert named.incident_id == unnamed.incident_id and named.named
    assert (named.title, named.hazard) == ("令和8年 台風第10号", Hazard.FLOOD)
    assert city.state(named.incident_id).shelters
    with pytest.raises(DisasterDxError, match="close it before"):
        city.open_live_incident("令和8年 台風第11号", actor="tanaka")
    city.close_incident(named.incident_id, actor="tanaka")
    closed = city.incident(named.incident_id)
    assert closed.closed_at is not None and closed.closed_by == "tanaka"
    fresh = city.live_incident(actor="test")
    assert fresh.incident_id != named.incident_id and not fresh.named
    assert city.state(fresh.incident_id).shelters == {}
    assert (
        city.open_live_incident("令和8年 台風第11号", actor="tanaka").incident_id
        == fresh.incident_id
    )


def test_cli_alert_and_incident_commands(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PUBLIC_DIR", str(tmp_path / "public"))
    base = ["--database-url", database_url]
    assert main([*base, "init"]) == 0
    assert (
        main(
            [
                *base,
                "alert",
                "issue",
                "--level",
                "4",
                "--hazard",
                "tsunami",
                "--area",
                "全域",
                "--actor",
                "tanaka",
            ]
        )
        == 0
    )
    alert_id = capsys.readouterr().out.strip()
    assert alert_id.startswith("A")
    # The CLI publishes at once: citizens see it without waiting for the app.
    snapshot = (tmp_path / "public" / "shelters.geojson").read_text(encoding="utf-8")
    assert f'"id":"{alert_id}"' in snapshot
    assert (
        main([*base, "alert", "issue", "--level", "7", "--hazard", "tsunami", "--area", "全域"])
        == 1
    )
    assert "3, 4 or 5" in capsys.readouterr().err
    assert (
        main([*base, "alert", "issue", "--level", "4", "--hazard", "tsunami", "--area", "十市"])
        == 1
    )
    assert "unknown area '十市'" in capsys.readouterr().err
    assert main([*base, "alert", "list"]) == 0
    listed = capsys.readouterr().out
    assert f"{alert_id}  警戒レベル4 避難指示  津波  南国市全域" in listed and "発令中" in listed
    assert main([*base, "incident", "open", "令和8年 台風第10号", "--hazard", "flood"]) == 0
    assert main([*base, "incident", "open", "別の災害"]) == 1
    assert "close it before" in capsys.readouterr().err
    assert main([*base, "incident", "close"]) == 1  # 避難情報 still in force
    assert "1 避難情報 in force" in capsys.readouterr().err
    assert main([*base, "alert", "lift", alert_id, "--reason", "津波警報解除"]) == 0
    assert main([*base, "incident", "close"]) == 0
    assert main([*base, "incident", "list"]) == 0
    assert "令和8年 台風第10号 [洪水]  closed" in capsys.readouterr().out
    # The record stays: every event kept, in order, attributed.
    store = Store(database_url)
    try:
        (past,) = [i for i in store.incidents() if i.named]
        types = [e.type for e in store.events(past.incident_id)]
        assert types == ["alert.issued", "alert.lifted"]
        assert store.events(past.incident_id)[0].actor == "tanaka"
        assert OpenState.NOT_OPEN.ja == "未開設"
    finally:
        store.dispose()
