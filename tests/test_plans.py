"""Individual evacuation plans: vertical judgement, destinations, routing, storage, re-planning."""

from __future__ import annotations

import json
import math
from collections import Counter
from functools import cache

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from disaster_dx import auth
from disaster_dx.bundled import BUNDLED_SHELTER_FILES, ensure_initialised
from disaster_dx.demo_district import DemoDistrict, demo_district
from disaster_dx.events import NewEvent, ShelterStatus, State
from disaster_dx.io.gsi import shelters_from_files
from disaster_dx.io.residents import Mobility, Resident
from disaster_dx.model import CrowdingThresholds, Hazard, IncidentKind, OpenState, Shelter
from disaster_dx.plans import (
    NotPermitted,
    Planner,
    PlanStatus,
    Scenario,
    Vertical,
    VerticalReason,
    eligible_destinations,
    flagged_residents,
    load_buildings,
    load_road_graph,
    plans_for_residents,
    read_resident,
    read_residents,
    resident_table,
    save_buildings,
    save_plan_results,
    save_residents,
    save_road_graph,
    stored_fingerprints,
    stored_keys,
    vertical_evacuation,
)
from disaster_dx.routing import graph_from_arrays
from tests.common import open_tsunami_shelters, set_open_state
from tests.conftest import add_staff_user
from tests.test_plans_doors import brute_force

THRESHOLDS = CrowdingThresholds()


@cache
def district() -> DemoDistrict:
    """A small demo district, made once per test run."""
    return demo_district(n_residents=60, grid_size=32)


@cache
def master() -> tuple[Shelter, ...]:
    return tuple(shelters_from_files(BUNDLED_SHELTER_FILES).shelters)


def frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows)


# -- vertical judgement -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "hazard", "vertical", "reason"),
    [
        # Floor of the highest storey: (storeys - 1) x 3 m, or height - 3 m, the lower of both.
        ({"storeys": 3, "structure": "603", "tsunami_depth_upper_m": 4.9}, Hazard.TSUNAMI,
         Vertical.SAFE, VerticalReason.FLOOR_ABOVE),  # 6 m > 4.9 + 1
        ({"storeys": 3, "structure": "603", "tsunami_depth_upper_m": 5.0}, Hazard.TSUNAMI,
         Vertical.NOT_SAFE, VerticalReason.FLOOR_BELOW),  # 6 m = 5 + 1 is not higher (#15)
        ({"storeys": 3, "height_m": 8.0, "structure": "603", "tsunami_depth_upper_m": 5.0},
         Hazard.TSUNAMI, Vertical.NOT_SAFE, VerticalReason.FLOOR_BELOW),  # min(6, 5) < 6
        ({"height_m": 12.0, "structure": "603", "tsunami_depth_upper_m": 5.0}, Hazard.TSUNAMI,
         Vertical.SAFE, VerticalReason.FLOOR_ABOVE),  # 9 m
        ({"storeys": 2, "structure": "603", "tsunami_depth_upper_m": 3.0}, Hazard.TSUNAMI,
         Vertical.NOT_SAFE, VerticalReason.FLOOR_BELOW),  # 3 m < 3 + 1: the upper bound counts
        # Wooden in a tsunami area: never a refuge, however tall.
        ({"storeys": 4, "structure": "601", "tsunami_depth_upper_m": 0.3}, Hazard.TSUNAMI,
         Vertical.NOT_SAFE, VerticalReason.WOODEN_TSUNAMI),
        # ...but the rule is for tsunamis: a tall wooden house may stay in a river flood.
        ({"storeys": 3, "structure": "601", "flood_depth_upper_m": 3.0}, Hazard.FLOOD,
         Vertical.SAFE, VerticalReason.FLOOR_ABOVE),
        # Unknowns are never "safe".
        ({"storeys": 5, "tsunami_depth_upper_m": 3.0}, Hazard.TSUNAMI,
         Vertical.UNKNOWN, VerticalReason.STRUCTURE_UNKNOWN),
        ({"storeys": 5, "structure": "611", "tsunami_depth_upper_m": 3.0}, Hazard.TSUNAMI,
         Vertical.UNKNOWN, VerticalReason.STRUCTURE_UNKNOWN),  # 611 = 不明
        ({"structure": "603", "tsunami_depth_upper_m": 3.0}, Hazard.TSUNAMI,
         Vertical.UNKNOWN, VerticalReason.HEIGHT_UNKNOWN),
        ({"storeys": 5, "structure": "603"}, Hazard.TSUNAMI,
         Vertical.UNKNOWN, VerticalReason.DEPTH_UNKNOWN),
        ({"storeys": 9, "structure": "603", "tsunami_depth_upper_m": math.inf}, Hazard.TSUNAMI,
         Vertical.NOT_SAFE, VerticalReason.UNBOUNDED),
        ({"storeys": 1, "structure": "601", "tsunami_depth_upper_m": 0.0}, Hazard.TSUNAMI,
         Vertical.SAFE, VerticalReason.OUTSIDE),
        ({"storeys": 5, "structure": "603", "tsunami_depth_upper_m": 3.0}, Hazard.EARTHQUAKE,
         Vertical.UNKNOWN, VerticalReason.NOT_APPLICABLE),
        # Landslide is judged by designated area (test_landslide_plans.py); none known here.
        ({"storeys": 5, "structure": "603", "tsunami_depth_upper_m": 3.0}, Hazard.LANDSLIDE,
         Vertical.UNKNOWN, VerticalReason.LANDSLIDE_UNKNOWN),
    ],
)  # fmt: skip
def test_vertical_judgement(row, hazard, vertical, reason) -> None:
    judged = vertical_evacuation(frame([row]), hazard)
    assert (judged.vertical(0), judged.reason_of(0)) == (vertical, reason)


def test_plateau_style_depth_columns_and_options() -> None:
    rows = frame(
        [
            {"storeys": 2, "structure": "603", "flood_depth_m": 1.2, "flood_depth_upper_m": 3.0},
            {"storeys": pd.NA, "height_m": 9999.0, "structure": "603", "flood_depth_upper_m": 1.0},
        ]
    )
    judged = vertical_evacuation(rows, Hazard.FLOOD)
    assert judged.depth_lower_m[0] == 1.2 and judged.floor_m[0] == 3.0
    assert judged.vertical(0) is Vertical.NOT_SAFE
    stricter = vertical_evacuation(rows, Hazard.FLOOD, storey_height_m=4.0, margin_m=0.5)
    assert stricter.vertical(0) is Vertical.SAFE  # 4 m ≥ 3 + 0.5
    with pytest.raises(ValueError, match="storey_height_m"):
        vertical_evacuation(rows, Hazard.FLOOD, storey_height_m=0)


# -- destinations -------------------------------------------------------------------------------


def _shelter(sid: str, *hazards: Hazard, capacity: int | None = 100) -> Shelter:
    return Shelter(sid, sid, "", 133.66, 33.54, frozenset(), frozenset(hazards), capacity=capacity)


def test_only_open_suitable_not_full_shelters_are_destinations() -> None:
    shelters = [
        _shelter("open", Hazard.TSUNAMI),
        _shelter("flood-only", Hazard.FLOOD),
        _shelter("closed", Hazard.TSUNAMI),
        _shelter("full", Hazard.TSUNAMI),
        _shelter("preparing", Hazard.TSUNAMI),
        _shelter("permanent", Hazard.TSUNAMI),
        _shelter("never-reported", Hazard.TSUNAMI),
    ]
    state = State(
        shelters={
            "open": ShelterStatus("open", OpenState.OPEN, evacuees=10),
            "flood-only": ShelterStatus("flood-only", OpenState.OPEN),
            "closed": ShelterStatus("closed", OpenState.CLOSED),
            "full": ShelterStatus("full", OpenState.OPEN, evacuees=95),
            "preparing": ShelterStatus("preparing", OpenState.PREPARING),
            "permanent": ShelterStatus("permanent", OpenState.PERMANENT),
        }
    )
    live = eligible_destinations(
        shelters, state, Hazard.TSUNAMI, mode="live", thresholds=THRESHOLDS
    )
    assert [d.destination_id for d in live] == ["open", "permanent"]
    planned = eligible_destinations(
        shelters, None, Hazard.TSUNAMI, mode="designated", thresholds=THRESHOLDS
    )
    assert "flood-only" not in {d.destination_id for d in planned} and len(planned) == 6
    with pytest.raises(ValueError, match="live state"):
        eligible_destinations(shelters, None, Hazard.TSUNAMI, mode="live", thresholds=THRESHOLDS)


def test_refuge_buildings_count_for_tsunami_only_when_judged_safe() -> None:
    buildings = gpd.GeoDataFrame(
        {
            "building_id": ["tall", "low", "plain"],
            "name": ["（架空）ビル", None, None],
            "storeys": [8, 2, 8],
            "structure": ["603", "603", "603"],
            "refuge": [True, True, False],
            "tsunami_depth_upper_m": [5.0, 5.0, 5.0],
            "lon": [133.66, 133.661, 133.662],
            "lat": [33.54, 33.54, 33.54],
        },
        geometry=[None, None, None],
    )
    vertical = vertical_evacuation(buildings, Hazard.TSUNAMI)
    found = eligible_destinations(
        [], None, Hazard.TSUNAMI, mode="designated", thresholds=THRESHOLDS,
        buildings=buildings, vertical=vertical,
    )  # fmt: skip
    assert [(d.destination_id, d.kind, d.name) for d in found] == [
        ("building:tall", "refuge", "（架空）ビル")
    ]
    flood = eligible_destinations(
        [], None, Hazard.FLOOD, mode="designated", thresholds=THRESHOLDS,
        buildings=buildings, vertical=vertical_evacuation(buildings, Hazard.FLOOD),
    )  # fmt: skip
    assert flood == []


# -- the pipeline -------------------------------------------------------------------------------


def _plans(state: State | None, *, mode: str = "live", arrival: float | None = 20.0):
    d = district()
    vertical = vertical_evacuation(d.buildings, Hazard.TSUNAMI)
    destinations = eligible_destinations(
        master(), state, Hazard.TSUNAMI, mode=mode, thresholds=THRESHOLDS,
        buildings=d.buildings, vertical=vertical,
    )  # fmt: skip
    table = resident_table(d.residents, d.buildings)
    scenario = Scenario(Hazard.TSUNAMI, mode=mode, arrival_minutes=arrival)
    return plans_for_residents(
        d.graph, table, vertical, destinations, scenario,
        building_ids=d.buildings["building_id"].to_numpy(dtype=str),
    )  # fmt: skip


def test_routes_agree_with_a_brute_force_door_to_door_walk() -> None:
    plans = _plans(None, mode="designated")
    graph = plans.graph
    usable = np.flatnonzero(plans.destination_snap_m <= 300)
    shelters = [(plans.destinations[j].lon, plans.destinations[j].lat) for j in usable.tolist()]
    routed = np.flatnonzero(plans.snap_m <= 300)
    homes = [(float(plans.residents.lon[i]), float(plans.residents.lat[i])) for i in routed]
    expected = brute_force(graph, homes, shelters)
    checked = 0
    for i, (first, length, alt, alt_length) in zip(routed.tolist(), expected, strict=True):
        if first < 0:
            assert plans.destination[i] < 0
            continue
        assert plans.length_m[i] == pytest.approx(length, rel=1e-9, abs=1e-6)
        assert plans.alt_length_m[i] == pytest.approx(alt_length, rel=1e-9, abs=1e-6)
        # The same shelter, or one exactly as far (the lengths above are equal).
        assert plans.destination[i] == usable[first] or math.isclose(
            plans.length_m[i], length, abs_tol=1e-6
        )
        assert (plans.alt_destination[i] >= 0) == (alt >= 0)
        route = plans.plan(i).route
        assert route[0] == (plans.residents.lon[i], plans.residents.lat[i])
        assert route[-1] == (plans.destinations[plans.destination[i]].lon,
                             plans.destinations[plans.destination[i]].lat)  # fmt: skip
        checked += 1
    assert checked >= 40


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(st.sampled_from(["open", "closed", "full", "preparing", "none"]), min_size=64,
                max_size=64))  # fmt: skip
def test_ineligible_shelters_are_never_chosen(states: list[str]) -> None:
    tsunami_sites = [s for s in master() if s.suits(Hazard.TSUNAMI)]
    statuses = {}
    for shelter, kind in zip(tsunami_sites, states, strict=False):
        if kind == "open":
            statuses[shelter.shelter_id] = ShelterStatus(shelter.shelter_id, OpenState.OPEN)
        elif kind == "closed":
            statuses[shelter.shelter_id] = ShelterStatus(shelter.shelter_id, OpenState.CLOSED)
        elif kind == "full":
            statuses[shelter.shelter_id] = ShelterStatus(
                shelter.shelter_id, OpenState.OPEN, crowding_override=_full()
            )
        elif kind == "preparing":
            statuses[shelter.shelter_id] = ShelterStatus(shelter.shelter_id, OpenState.PREPARING)
    # A flood-only site opened too: it must never be suggested for a tsunami.
    flood_only = next(s for s in master() if s.suits(Hazard.FLOOD) and not s.suits(Hazard.TSUNAMI))
    statuses[flood_only.shelter_id] = ShelterStatus(flood_only.shelter_id, OpenState.OPEN)
    state = State(shelters=statuses)
    plans = _plans(state)
    by_id = {s.shelter_id: s for s in master()}
    for i in range(len(plans)):
        chosen = plans.destination_id(i)
        if chosen is None or chosen.startswith("building:"):
            continue
        shelter = by_id[chosen]
        assert state.shelter(chosen).usable(
            Hazard.TSUNAMI, shelter.hazards, THRESHOLDS, master_capacity=shelter.capacity
        ), chosen


def _full():
    from disaster_dx.model import Crowding

    return Crowding.FULL


def test_statuses_times_and_margins() -> None:
    plans = _plans(None, mode="designated", arrival=20.0)
    counts = plans.counts()
    assert counts[PlanStatus.CHECK] == 2  # the two address-only residents of the demo
    assert all(counts[s] > 0 for s in PlanStatus)
    for i in range(len(plans)):
        plan = plans.plan(i)
        if plan.status is PlanStatus.CHECK:
            assert plan.route == () and plan.minutes is None
            continue
        if plan.status is PlanStatus.OUTSIDE:
            assert plan.depth_upper_m == 0
            continue
        assert plan.minutes == pytest.approx(plan.length_m / plan.speed_m_s / 60)
        assert plan.margin_min == pytest.approx(20.0 - plan.preparation_min - plan.minutes)
        if plan.status is PlanStatus.REACHABLE:
            assert plan.margin_min >= 0
        elif plan.status is PlanStatus.VERTICAL:
            assert plan.margin_min < 0 and plan.vertical is Vertical.SAFE
        else:
            assert plan.flagged and plan.vertical is not Vertical.SAFE
            assert plan.margin_min is None or plan.margin_min < 0
        assert plan.route[0] != plan.route[-1]
    # Without a deadline, everyone with a route is "reachable" and nobody is flagged late.
    relaxed = _plans(None, mode="designated", arrival=None)
    assert not relaxed.flagged.any() and np.isnan(relaxed.margin_min).all()
    # Nothing open in the live state: nobody can reach a shelter (refuge buildings remain).
    nothing_open = _plans(State(), mode="live")
    assert {d.kind for d in nothing_open.destinations} == {"refuge"}


def test_slower_people_take_longer_on_the_same_route() -> None:
    graph = graph_from_arrays([133.66, 133.67], [33.54, 33.54], [0], [1])
    table = resident_table(
        [
            Resident("a", "A", lon=133.66, lat=33.54, mobility=Mobility.INDEPENDENT),
            Resident("b", "B", lon=133.66, lat=33.54, mobility=Mobility.WHEELCHAIR),
        ],
        None,
    )
    destination = eligible_destinations(
        [Shelter("s", "S", "", 133.67, 33.54, frozenset(), frozenset({Hazard.FLOOD}))],
        None, Hazard.FLOOD, mode="designated", thresholds=THRESHOLDS,
    )  # fmt: skip
    plans = plans_for_residents(
        graph, table, vertical_evacuation(pd.DataFrame(), Hazard.FLOOD), destination,
        Scenario(Hazard.FLOOD, mode="designated"),
    )  # fmt: skip
    assert plans.minutes[1] == pytest.approx(2 * plans.minutes[0])
    assert plans.length_m[0] == pytest.approx(928.7, abs=0.5)  # 0.01° of longitude here
    assert plans.plan(0).vertical_reason is VerticalReason.NO_BUILDING


# -- storage and access -------------------------------------------------------------------------


def _planner(store) -> auth.User:
    add_staff_user(store, "plan1", "planner")
    return auth.get_user(store, "plan1")


def test_road_graph_round_trip_keeps_geometry_and_ids(store) -> None:
    line = shapely.LineString([(133.66, 33.54), (133.665, 33.541), (133.67, 33.54)])
    graph = graph_from_arrays(
        [133.66, 133.67, 133.68],
        [33.54, 33.54, 33.54],
        [0, 1],
        [1, 2],
        node_ids=np.array(["a", "b", "c"]),
        edge_geometry=[line, None],
    )
    assert load_road_graph(store) is None
    assert save_road_graph(store, graph, actor="test", source="t") == 1
    assert save_road_graph(store, graph, actor="test", source="t") == 2
    back = load_road_graph(store)
    assert back.node_ids.tolist() == ["a", "b", "c"]
    np.testing.assert_allclose(back.edge_length, graph.edge_length)
    assert shapely.equals(back.edge_geometry[0], line)
    assert shapely.is_missing(back.edge_geometry[1])


def test_buildings_round_trip_keeps_ranges_and_unknowns(store) -> None:
    d = district()
    save_buildings(store, d.buildings, actor="test", source="demo", synthetic=True)
    back = load_buildings(store).set_index("building_id")
    original = d.buildings.set_index("building_id")
    assert len(back) == len(original)
    sample = original.index[:200]
    np.testing.assert_array_equal(
        back.loc[sample, "tsunami_depth_upper_m"], original.loc[sample, "tsunami_depth_upper_m"]
    )
    assert back.loc[sample, "height_m"].isna().equals(original.loc[sample, "height_m"].isna())
    # Judgements are the same after the round trip.
    a = vertical_evacuation(original.reset_index(), Hazard.TSUNAMI)
    b = vertical_evacuation(back.loc[original.index].reset_index(), Hazard.TSUNAMI)
    np.testing.assert_array_equal(a.code, b.code)
    # An open-ended class survives PostgreSQL's JSON (no Infinity there).
    deep = d.buildings.iloc[:1].copy()
    deep["tsunami_depth_upper_m"] = math.inf
    save_buildings(store, deep, actor="test", source="inf")
    assert load_buildings(store)["tsunami_depth_upper_m"].iloc[0] == math.inf


def test_resident_reads_need_a_planner_and_are_audited_by_id(store) -> None:
    ensure_initialised(store)
    planner = _planner(store)
    add_staff_user(store, "hq1", "hq")
    hq = auth.get_user(store, "hq1")
    people = district().residents[:5]
    with pytest.raises(NotPermitted):
        save_residents(store, people, hq, source="x.csv")
    report = save_residents(store, people, planner, source="x.csv")
    assert len(report.added) == 5
    with pytest.raises(NotPermitted):
        read_residents(store, hq, purpose="test")
    assert [r.name for r in read_residents(store, planner, purpose="test")] == [
        p.name for p in sorted(people, key=lambda p: p.resident_id)
    ]
    one = read_resident(store, planner, people[2].resident_id, purpose="sheet")
    assert one == people[2]
    # Re-import: one gone (deleted, not kept), one changed.
    changed = [*people[:3], Resident(**{**people[3].__dict__, "note": "変更"})]
    again = save_residents(store, changed, planner, source="y.csv")
    assert (again.removed, again.changed) == ((people[4].resident_id,), (people[3].resident_id,))
    log = store.audit_log(limit=50)
    actions = Counter(a["action"] for a in log)
    assert actions["residents.read"] == 2 and actions["residents.read.refused"] == 1
    assert actions["residents.import.refused"] == 1 and actions["residents.imported"] == 2
    text = json.dumps(log, ensure_ascii=False, default=str)
    for person in people:
        assert person.name not in text and person.address not in text
    assert people[2].resident_id in text


def test_closing_a_shelter_changes_exactly_the_plans_that_used_it(store) -> None:
    ensure_initialised(store)
    user = _planner(store)
    d = district()
    save_road_graph(store, d.graph, actor="test", source="demo", synthetic=True)
    save_buildings(store, d.buildings, actor="test", source="demo", synthetic=True)
    save_residents(store, d.residents, user, source="demo", synthetic=True)
    planner = Planner(store).install()
    incident = store.live_incident()
    tsunami = open_tsunami_shelters(store, actor="hq")
    (first,) = planner.last_reports
    assert len(first.changed) == first.residents == len(d.residents)
    before = stored_fingerprints(store, Hazard.TSUNAMI)
    # The busiest *shelter* (a 津波避難ビル has no open state to close).
    used = Counter(
        value[1] for value in before.values() if value[1] and not value[1].startswith("building:")
    )
    busiest, _ = used.most_common(1)[0]
    users = {rid for rid, value in before.items() if value[1] == busiest}
    assert len(users) >= 2
    # Plans naming it as the alternative (another site, door to door) change too.
    keys = stored_keys(store, Hazard.TSUNAMI)
    as_alt = set(keys.resident_id[keys.alt_destination_id == busiest].tolist())
    assert as_alt and not as_alt & users

    store.append(
        incident.incident_id,
        [NewEvent("shelter.status_reported", {"shelter_id": busiest, "open_state": "closed"})],
        actor="hq",
    )
    (report,) = planner.last_reports
    assert report.changed == users | as_alt
    after = stored_fingerprints(store, Hazard.TSUNAMI)
    assert {rid for rid in before if before[rid] != after[rid]} == users
    assert all(after[rid][1] != busiest for rid in users)
    assert busiest not in stored_keys(store, Hazard.TSUNAMI).alt_destination_id
    assert report.seconds < 1.0

    # It fills up again after reopening: "full" is as ineligible as "closed".
    store.append(
        incident.incident_id,
        [NewEvent("shelter.status_reported", {"shelter_id": busiest, "open_state": "open"})],
        actor="hq",
    )
    assert planner.last_reports[0].changed == users | as_alt
    store.append(
        incident.incident_id,
        [NewEvent("shelter.status_reported",
                  {"shelter_id": busiest, "crowding_override": "full"})],
        actor="hq",
    )  # fmt: skip
    assert planner.last_reports[0].changed == users | as_alt

    # A drill incident never moves live plans; an unrelated event does not re-plan.
    drill = store.create_incident("訓練", kind=IncidentKind.DRILL, actor="drill")
    planner.last_reports = ()
    store.append(
        drill.incident_id,
        [NewEvent("shelter.status_reported", {"shelter_id": tsunami[0], "open_state": "closed"})],
        actor="drill",
    )
    store.append(incident.incident_id, [NewEvent("incident.message", {"text": "x"})], actor="hq")
    assert planner.last_reports == ()

    # HQ sees the flagged residents' positions, never names; the read is audited.
    add_staff_user(store, "hq1", "hq")
    hq = auth.get_user(store, "hq1")
    flagged = flagged_residents(store, hq)
    late = [
        rid for rid, value in after.items() if value[0] == list(PlanStatus).index(PlanStatus.LATE)
    ]
    assert sorted(f.resident_id for f in flagged) == sorted(late) and late
    assert all(not hasattr(f, "name") for f in flagged)
    assert store.audit_log(action="plans.flagged_read")[0]["detail"] == {"count": len(flagged)}
    add_staff_user(store, "staff1", "shelter_staff")
    with pytest.raises(NotPermitted):
        flagged_residents(store, auth.get_user(store, "staff1"))
    replan_reads = store.audit_log(actor="system:replan", action="residents.read")
    assert replan_reads and all("name" not in json.dumps(a["detail"]) for a in replan_reads)


def test_a_failing_replan_never_breaks_the_write(store, monkeypatch, caplog) -> None:
    ensure_initialised(store)
    planner = Planner(store).install()

    def broken() -> None:
        raise RuntimeError(f"{district().residents[0].name} broke")  # the worst case

    monkeypatch.setattr(planner, "refresh_live", broken)
    incident = store.live_incident()
    events = store.append(
        incident.incident_id,
        [NewEvent("shelter.status_reported", {"shelter_id": master()[0].shelter_id,
                                              "open_state": "open"})],
        actor="hq",
    )  # fmt: skip
    assert events and store.state(incident.incident_id).seq == 1
    assert "live re-planning failed" in caplog.text and "RuntimeError" in caplog.text
    assert district().residents[0].name not in caplog.text


def test_two_workers_agree_and_an_older_replan_never_overwrites(store) -> None:
    ensure_initialised(store)
    user = _planner(store)
    d = district()
    save_road_graph(store, d.graph, actor="test", source="demo", synthetic=True)
    save_buildings(store, d.buildings, actor="test", source="demo", synthetic=True)
    save_residents(store, d.residents, user, source="demo", synthetic=True)
    Planner(store).install()  # the worker that takes the HQ writes
    second = Planner(store)  # another worker, which saw none of them
    incident = store.live_incident()
    open_tsunami_shelters(store, actor="hq")
    state = store.state(incident.incident_id)
    stale_run = second.compute(
        user, second.scenario_for(Hazard.TSUNAMI, mode="live", state=state), purpose="t",
        state=state,
    )  # fmt: skip
    used = Counter(  # the busiest *shelter* (a 津波避難ビル has no open state to close)
        v[1]
        for v in stored_fingerprints(store, Hazard.TSUNAMI).values()
        if v[1] and not v[1].startswith("building:")
    )
    busiest, _ = used.most_common(1)[0]
    store.append(
        incident.incident_id,
        [NewEvent("shelter.status_reported", {"shelter_id": busiest, "open_state": "closed"})],
        actor="hq",
    )
    after = stored_fingerprints(store, Hazard.TSUNAMI)
    # The other worker, knowing nothing, re-plans: it reads what is stored and finds no change.
    (report,) = second.refresh_live()
    assert report.changed == frozenset()
    # A re-plan made from the state before the closure arrives late: it is not written.
    saved = save_plan_results(
        store, stale_run.plans, incident_id=incident.incident_id, state_seq=state.seq
    )
    assert saved.skipped_as_older and saved.changed == frozenset()
    assert stored_fingerprints(store, Hazard.TSUNAMI) == after


def test_background_replanning_never_holds_a_write_and_coalesces(store) -> None:
    """Writers return while a re-plan runs; writes meanwhile fold into one more run."""
    import threading

    ensure_initialised(store)
    planner = Planner(store)
    started, release = threading.Event(), threading.Event()
    runs: list[int] = []

    def slow_refresh() -> list:
        runs.append(len(runs) + 1)
        started.set()
        assert release.wait(30)
        return []

    planner.refresh_live = slow_refresh  # type: ignore[method-assign]
    planner.install(background=True)
    try:
        tsunami = [s.shelter_id for s in store.shelters() if s.suits(Hazard.TSUNAMI)]
        set_open_state(store, tsunami[:1], "open", actor="hq")
        assert started.wait(10)  # the re-plan is running (and blocked)...
        for shelter_id in tsunami[1:4]:  # ...yet every write returns at once
            set_open_state(store, [shelter_id], "open", actor="hq")
        assert not planner.wait_idle(timeout=0.05)
        release.set()
        assert planner.wait_idle(timeout=30)
        assert runs == [1, 2]  # three writes during the first run: one more run, not three
        # An event that changes no shelter or hazard asks for nothing.
        store.append(
            store.live_incident().incident_id,
            [NewEvent("incident.message", {"text": "本部会議"})],
            actor="hq",
        )
        assert planner.wait_idle(timeout=30) and runs == [1, 2]
        # A worker that is gone (a forked server process has no threads of its parent)
        # is replaced on the next write.
        assert planner._replanner is not None
        planner._replanner.close(10)
        set_open_state(store, tsunami[4:5], "open", actor="hq")
        assert planner.wait_idle(timeout=30) and runs == [1, 2, 3]
    finally:
        release.set()
        planner.close()
