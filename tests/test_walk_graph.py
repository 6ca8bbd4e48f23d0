"""The public page's road network: connectors at the nearest edge point, only real roads, files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse.csgraph import dijkstra

from disaster_dx.bundled import BUNDLED_SHELTER_FILES, import_shelter_files
from disaster_dx.model import Hazard, Shelter, ShelterKind
from disaster_dx.plans import save_road_graph
from disaster_dx.publish import publish
from disaster_dx.routing import RoadGraph, access_points, graph_from_arrays
from disaster_dx.store import Store
from disaster_dx.walk_graph import (
    MAX_OFF_ROAD_M,
    walk_document,
    walk_file,
    walk_file_for,
)

LAT0, LON0 = 33.56, 133.64
DEG_LAT = 1 / 110_900  # about a metre, enough for a test grid
DEG_LON = 1 / 92_900


def grid(n: int = 6, step_m: float = 100.0) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """An n×n street grid (nodes row by row) around Nankoku."""
    lon, lat, edges = [], [], []
    for r in range(n):
        for c in range(n):
            lon.append(LON0 + c * step_m * DEG_LON)
            lat.append(LAT0 + r * step_m * DEG_LAT)
            k = r * n + c
            if c + 1 < n:
                edges.append((k, k + 1))
            if r + 1 < n:
                edges.append((k, k + n))
    return np.array(lon), np.array(lat), edges


def shelter(sid: str, lon: float, lat: float) -> Shelter:
    return Shelter(
        shelter_id=sid,
        name=f"避難所{sid}",
        address="南国市",
        lon=lon,
        lat=lat,
        kinds=frozenset({ShelterKind.EMERGENCY}),
        hazards=frozenset({Hazard.TSUNAMI}),
    )


def test_shelters_join_the_nearest_point_of_the_nearest_edge() -> None:
    lon, lat, edges = grid()
    graph = graph_from_arrays(lon, lat, [a for a, _ in edges], [b for _, b in edges])
    # Halfway along the bottom street's first block, 40 m south of it.
    s = shelter("a", LON0 + 50 * DEG_LON, LAT0 - 40 * DEG_LAT)
    far = shelter("far", LON0 - (MAX_OFF_ROAD_M + 100) * DEG_LON, LAT0)
    doc = walk_document(graph, [s, far])
    edge, fraction, off = doc["shelters"]["a"]
    u = np.cumsum(doc["u"])[edge]
    v = u + doc["v"][edge]
    assert {int(u), int(v)} == {0, 1}
    assert fraction == pytest.approx(0.5, abs=0.02)
    assert off == pytest.approx(40, abs=1.5)
    assert "far" not in doc["shelters"]  # measured by straight line on the page, not dropped
    # Positions round-trip through the delta coding to a micro-degree.
    assert np.allclose(np.cumsum(doc["lon_e6"]) / 1e6, lon, atol=1e-6)
    assert np.allclose(np.cumsum(doc["lat_e6"]) / 1e6, lat, atol=1e-6)
    assert sum(doc["len_dm"]) / 10 == pytest.approx(graph.csr.data.sum(), rel=1e-3)


def test_the_document_gives_the_brute_force_door_to_door_distance() -> None:
    """Decode the file as the page does and walk it: equal to csgraph on the real graph."""
    rng = np.random.default_rng(7)
    lon, lat, edges = grid(8)
    keep = [e for e in edges if rng.random() > 0.25]  # a grid with gaps: detours matter
    graph = graph_from_arrays(lon, lat, [a for a, _ in keep], [b for _, b in keep])
    shelters = [
        shelter(str(i), LON0 + rng.uniform(0, 700) * DEG_LON, LAT0 + rng.uniform(0, 700) * DEG_LAT)
        for i in range(12)
    ]
    doc = walk_document(graph, shelters)
    person = (LON0 + 333 * DEG_LON, LAT0 + 271 * DEG_LAT)
    e0, t0, off0 = person_start(graph, *person)
    coo = graph.csr.tocoo()
    dist = dijkstra(graph.csr, directed=False)
    for sid, (edge, fraction, off) in doc["shelters"].items():
        a, b = coo.row[edge], coo.col[edge]
        best = np.inf
        for start, start_cost in ((coo.row[e0], t0), (coo.col[e0], 1 - t0)):
            for end, end_cost in ((a, fraction), (b, 1 - fraction)):
                best = min(
                    best,
                    start_cost * coo.data[e0] + dist[start, end] + end_cost * coo.data[edge],
                )
        if edge == e0:
            best = min(best, abs(fraction - t0) * coo.data[edge])
        expected = best + off0 + off
        # What the page computes from the file: the same numbers, to the file's rounding.
        page = page_distance(doc, (e0, t0, off0), sid)
        assert page == pytest.approx(expected, abs=1.0), sid


def person_start(graph: RoadGraph, lon: float, lat: float) -> tuple[int, float, float]:
    """Where a person joins the network (edge, fraction from its first node, metres off road)."""
    at = access_points(graph, [lon], [lat])
    return int(at.edge[0]), float(at.along_m[0] / at.edge_m[0]), float(at.distance_m[0])


def page_distance(doc: dict, start: tuple[int, float, float], sid: str) -> float:
    """The page's computation (site/walk.js) in Python, on the decoded file."""
    u = np.cumsum(doc["u"])
    v = u + np.array(doc["v"])
    length = np.array(doc["len_dm"]) / 10
    n = len(doc["lon_e6"])
    from scipy.sparse import coo_array

    matrix = coo_array((length, (u, v)), shape=(n, n)).tocsr()
    e0, t0, off0 = start
    seeds = {int(u[e0]): off0 + t0 * length[e0], int(v[e0]): off0 + (1 - t0) * length[e0]}
    dist = np.full(n, np.inf)
    for node, cost in seeds.items():
        dist = np.minimum(dist, dijkstra(matrix, directed=False, indices=node) + cost)
    edge, t, off = doc["shelters"][sid]
    d = min(dist[u[edge]] + t * length[edge], dist[v[edge]] + (1 - t) * length[edge])
    if edge == e0:
        d = min(d, off0 + abs(t - t0) * length[edge])
    return float(d + off)


def test_the_file_name_follows_its_content() -> None:
    lon, lat, edges = grid(3)
    graph = graph_from_arrays(lon, lat, [a for a, _ in edges], [b for _, b in edges])
    name, data = walk_file(graph, [shelter("a", LON0, LAT0)])
    again, _ = walk_file(graph, [shelter("a", LON0, LAT0)])
    moved, _ = walk_file(graph, [shelter("a", LON0 + 0.001, LAT0)])
    assert name == again != moved
    assert json.loads(data)["format"] == 1


def test_publish_ships_real_roads_never_synthetic_ones(store: Store, app_settings) -> None:
    import_shelter_files(store, list(BUNDLED_SHELTER_FILES), actor="setup")
    lon, lat, edges = grid(4)
    graph = graph_from_arrays(lon, lat, [a for a, _ in edges], [b for _, b in edges])
    public: Path = app_settings.public_dir

    save_road_graph(store, graph, actor="planner", source="demo", synthetic=True)
    publish(store, app_settings)
    data = json.loads((public / "shelters.geojson").read_bytes())
    assert "walk_graph" not in data and not list(public.glob("walk-*.json"))
    assert walk_file_for(store, store.shelters()) is None

    save_road_graph(store, graph, actor="planner", source="osm.geojson")
    publish(store, app_settings)
    data = json.loads((public / "shelters.geojson").read_bytes())
    first = data["walk_graph"]
    assert (public / first).is_file()
    assert [p.name for p in public.glob("walk-*.json")] == [first]

    # A new network replaces the file; the old one goes once nothing names it.
    lon2, lat2, edges2 = grid(5)
    save_road_graph(
        store,
        graph_from_arrays(lon2, lat2, [a for a, _ in edges2], [b for _, b in edges2]),
        actor="planner",
        source="osm2.geojson",
    )
    publish(store, app_settings)
    second = json.loads((public / "shelters.geojson").read_bytes())["walk_graph"]
    assert second != first
    assert [p.name for p in public.glob("walk-*.json")] == [second]
