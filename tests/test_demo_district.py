"""The synthetic demo district: seeded, plainly labelled, placed at the real coastal sites."""

from __future__ import annotations

import numpy as np

from disaster_dx.bundled import BUNDLED_SHELTER_FILES
from disaster_dx.demo_district import (
    SYNTHETIC_LABEL,
    coast_latitude,
    demo_district,
    metres_between,
)
from disaster_dx.io.gsi import shelters_from_files
from disaster_dx.model import Hazard
from disaster_dx.routing import nearest_nodes


def test_same_seed_same_district_and_everything_is_labelled() -> None:
    a = demo_district(n_residents=30, grid_size=24)
    b = demo_district(n_residents=30, grid_size=24)
    assert a.residents == b.residents
    np.testing.assert_array_equal(a.graph.lon, b.graph.lon)
    assert a.buildings.drop(columns="geometry").equals(b.buildings.drop(columns="geometry"))
    c = demo_district(n_residents=30, grid_size=24, seed=7)
    assert c.residents != a.residents
    assert SYNTHETIC_LABEL in a.summary()
    assert all("架空" in r.address and "架空" in r.note for r in a.residents)
    assert all(r.supporter_contact.startswith("090-0000-") for r in a.residents)
    refuges = a.buildings[a.buildings.refuge]
    assert len(refuges) and all(name.endswith("（架空）") for name in refuges.name)
    assert set(a.zones.label.str.endswith("（架空）")) == {True}


def test_district_sits_on_land_around_the_real_tsunami_towers() -> None:
    district = demo_district(n_residents=40)
    graph = district.graph
    assert (graph.lat > coast_latitude(graph.lon)).all()  # no streets in the sea
    towers = [
        s
        for s in shelters_from_files(BUNDLED_SHELTER_FILES).shelters
        if s.suits(Hazard.TSUNAMI) and "タワー" in s.name
    ]
    _, snap = nearest_nodes(graph, [t.lon for t in towers], [t.lat for t in towers])
    near = sum(d < 300 for d in snap)
    assert near >= 8, f"only {near} of {len(towers)} towers are on the demo network"
    # Buildings: mixed structures, some unknowns on purpose, depths from the zones.
    assert {"601", "603"} <= set(district.buildings.structure.dropna())
    assert district.buildings.height_m.isna().any() and district.buildings.storeys.isna().any()
    upper = district.buildings.tsunami_depth_upper_m
    assert upper.max() == 10.0 and (upper == 0).any()
    # Residents live in generated buildings, two with only an address.
    located = [r for r in district.residents if r.located]
    assert len(district.residents) - len(located) == 2
    ids = set(district.buildings.building_id)
    assert all(r.building_id in ids for r in located)
    first = located[0]
    home = district.buildings.set_index("building_id").loc[first.building_id]
    assert metres_between(first.lon, first.lat, home.lon, home.lat) < 30
