from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from disaster_dx.errors import ValidationError
from disaster_dx.routing import (
    NO_NODE,
    WALKING_SPEED_M_S,
    RoadGraph,
    block_edges,
    edge_lengths,
    graph_from_arrays,
    graph_from_edges,
    nearest_destinations,
    nearest_nodes,
    project,
    routes_from_predecessors,
    walking_minutes,
)

LON0, LAT0 = 133.64, 33.57  # Nankoku; any point in EPSG:6672 zone IV would do


def line_graph_lonlat(n: int) -> tuple[np.ndarray, np.ndarray]:
    return LON0 + 0.001 * np.arange(n), np.full(n, LAT0)


def check_routes(graph: RoadGraph, dests: np.ndarray, expected: dict[int, float]) -> None:
    """Our search and reconstruction agree with ``expected`` distances for every node."""
    nearest = nearest_destinations(graph, dests)
    n = graph.n_nodes
    want = np.array([expected.get(i, np.inf) for i in range(n)])
    np.testing.assert_array_equal(nearest.distance, want)

    origins = np.arange(n)
    routes = routes_from_predecessors(nearest.predecessor, origins, distance=nearest.distance)
    assert len(routes) == n
    np.testing.assert_array_equal(routes.length, want)
    dest_set = set(dests.tolist())
    for origin in range(n):
        path = routes.path(origin)
        if not np.isfinite(want[origin]):
            assert path.size == 0
            assert routes.destination[origin] == NO_NODE
            assert nearest.destination[origin] == NO_NODE
            assert nearest.position[origin] == NO_NODE
            continue
        assert path[0] == origin
        assert path[-1] in dest_set
        assert path[-1] == routes.destination[origin] == nearest.destination[origin]
        assert dests[nearest.position[origin]] == path[-1]
        assert len(set(path.tolist())) == path.size  # no cycles
        legs = edge_lengths(graph, path[:-1], path[1:])
        assert not np.isnan(legs).any()
        assert legs.sum() == want[origin]  # quarter-metre lengths sum exactly


@st.composite
def random_graphs(draw: st.DrawFn) -> tuple[int, list[tuple[int, int, float]], list[int]]:
    n = draw(st.integers(1, 18))
    node = st.integers(0, n - 1)
    # Multiples of 1/4 m add up exactly, so equal distances compare exactly.
    length = st.integers(0, 40).map(lambda k: k / 4)
    edges = draw(st.lists(st.tuples(node, node, length), max_size=45))
    dests = draw(st.lists(node, max_size=4))
    return n, edges, dests


@settings(max_examples=150, deadline=None)
@given(random_graphs())
def test_agrees_with_networkx_multi_source_dijkstra(
    case: tuple[int, list[tuple[int, int, float]], list[int]],
) -> None:
    n, edges, dests = case
    lon, lat = line_graph_lonlat(n)
    u = np.array([e[0] for e in edges], dtype=int)
    v = np.array([e[1] for e in edges], dtype=int)
    w = np.array([e[2] for e in edges], dtype=float)
    graph = graph_from_arrays(lon, lat, u, v, w)

    reference = nx.Graph()
    reference.add_nodes_from(range(n))
    for a, b, length in edges:
        if a == b:
            continue
        if not reference.has_edge(a, b) or reference[a][b]["length"] > length:
            reference.add_edge(a, b, length=length)
    expected: dict[int, float] = {}
    if dests:
        expected = nx.multi_source_dijkstra_path_length(reference, set(dests), weight="length")
    assert graph.n_edges == reference.number_of_edges()
    check_routes(graph, np.array(dests, dtype=int), expected)


def test_parallel_edges_keep_the_shortest_and_self_loops_go() -> None:
    lon, lat = line_graph_lonlat(3)
    graph = graph_from_arrays(lon, lat, [0, 1, 1, 2], [1, 0, 1, 1], [5.0, 3.0, 1.0, 2.0])
    assert graph.n_edges == 2
    np.testing.assert_array_equal(
        edge_lengths(graph, [0, 1, 2, 0], [1, 0, 1, 2]), [3, 3, 2, np.nan]
    )
    # Stored once, smaller index first: csgraph reads it as undirected.
    np.testing.assert_array_equal(graph.edge_u, [0, 1])
    np.testing.assert_array_equal(graph.edge_v, [1, 2])


def test_zero_length_edges_are_edges() -> None:
    lon, lat = line_graph_lonlat(3)
    graph = graph_from_arrays(lon, lat, [0, 1], [1, 2], [0.0, 7.0])
    nearest = nearest_destinations(graph, [2])
    np.testing.assert_array_equal(nearest.distance, [7.0, 7.0, 0.0])


def test_missing_lengths_are_measured_in_metres() -> None:
    lon = np.array([LON0, LON0 + 0.01, LON0 + 0.01])
    lat = np.array([LAT0, LAT0, LAT0 + 0.01])
    bent = shapely.LineString([(LON0 + 0.01, LAT0 + 0.01), (LON0, LAT0 + 0.01), (LON0, LAT0)])
    graph = graph_from_arrays(
        lon, lat, [0, 2], [1, 0], [np.nan, np.nan], edge_geometry=[None, bent]
    )
    x, y = project(lon, lat)
    straight = np.hypot(x[1] - x[0], y[1] - y[0])
    assert 900 < straight < 1000  # 0.01° of longitude at 33.6° N ≈ 927 m
    assert edge_lengths(graph, [0], [1])[0] == pytest.approx(straight)
    # The geometry was given 2 → 0; stored as 0 → 2, reversed to match, measured along it.
    geometry = graph.edge_geometry
    assert geometry is not None
    assert shapely.get_coordinates(geometry[1])[0] == pytest.approx([LON0, LAT0])
    bx, by = project([LON0 + 0.01, LON0, LON0], [LAT0 + 0.01, LAT0 + 0.01, LAT0])
    along = np.hypot(np.diff(bx), np.diff(by)).sum()
    assert edge_lengths(graph, [0], [2])[0] == pytest.approx(along, rel=1e-9)


def square_city() -> RoadGraph:
    """0 -- 1 -- 2 along a river bank (short), and a detour 0 -- 3 -- 4 -- 2 (long)."""
    nodes = {
        "node_id": np.array([10, 11, 12, 13, 14]),
        "lon": np.array([LON0, LON0 + 0.001, LON0 + 0.002, LON0, LON0 + 0.002]),
        "lat": np.array([LAT0, LAT0, LAT0, LAT0 + 0.001, LAT0 + 0.001]),
    }
    edges = {
        "u": np.array([10, 11, 10, 13, 14]),
        "v": np.array([11, 12, 13, 14, 12]),
    }
    return graph_from_edges(nodes, edges)


def flood_around(lon: float, lat: float, r: float = 0.0003) -> shapely.Polygon:
    return shapely.box(lon - r, lat - r, lon + r, lat + r)


def test_blocked_edges_are_avoided() -> None:
    graph = square_city()
    before = nearest_destinations(graph, [2])
    via_bank = routes_from_predecessors(before.predecessor, [0], distance=before.distance)
    assert via_bank.path(0).tolist() == [0, 1, 2]

    graph.kdtree  # noqa: B018 - build it, to check it is reused
    flood = flood_around(LON0 + 0.0015, LAT0)  # covers the bank street 1 -- 2 only
    blocked = block_edges(graph, flood)
    assert blocked.n_nodes == graph.n_nodes  # nodes stay: indices remain valid
    assert blocked.n_edges == graph.n_edges - 1
    assert blocked.kdtree is graph.kdtree
    after = nearest_destinations(blocked, [2])
    detour = routes_from_predecessors(after.predecessor, [0], distance=after.distance)
    assert detour.path(0).tolist() == [0, 3, 4, 2]
    assert after.distance[0] > before.distance[0]
    # Node 1 now only reaches the shelter back through 0 and the detour.
    assert after.distance[1] == pytest.approx(after.distance[0] + edge_lengths(graph, [0], [1])[0])


def test_blocking_at_build_time_and_midpoint_rule() -> None:
    nodes = {"lon": [LON0, LON0 + 0.002], "lat": [LAT0, LAT0]}
    edges = {"u": [0], "v": [1]}
    near_end = flood_around(LON0 + 0.0002, LAT0, r=0.0001)  # touches the street, not its middle
    assert graph_from_edges(nodes, edges, blocked=[near_end]).n_edges == 0
    assert block_edges(graph_from_edges(nodes, edges), near_end, rule="midpoint").n_edges == 1
    middle = flood_around(LON0 + 0.001, LAT0, r=0.0001)
    assert block_edges(graph_from_edges(nodes, edges), middle, rule="midpoint").n_edges == 0
    assert graph_from_edges(nodes, edges, blocked=[]).n_edges == 1
    with pytest.raises(ValueError, match="unknown rule"):
        block_edges(graph_from_edges(nodes, edges), middle, rule="centroid")  # type: ignore[arg-type]


def test_unreachable_nodes_are_inf_and_minus_one() -> None:
    lon, lat = line_graph_lonlat(5)
    # Two islands: 0-1-2 and 3-4; the shelter is on the first.
    graph = graph_from_arrays(lon, lat, [0, 1, 3], [1, 2, 4], [1.0, 2.0, 4.0])
    nearest = nearest_destinations(graph, [2])
    np.testing.assert_array_equal(nearest.distance, [3, 2, 0, np.inf, np.inf])
    np.testing.assert_array_equal(nearest.reachable, [True, True, True, False, False])
    np.testing.assert_array_equal(nearest.destination, [2, 2, 2, -1, -1])
    np.testing.assert_array_equal(nearest.predecessor, [1, 2, -1, -1, -1])
    routes = routes_from_predecessors(nearest.predecessor, [4, 0, 2, 3], distance=nearest.distance)
    assert [routes.path(k).tolist() for k in range(4)] == [[], [0, 1, 2], [2], []]
    np.testing.assert_array_equal(routes.length, [np.inf, 3, 0, np.inf])
    np.testing.assert_array_equal(routes.destination, [-1, 2, 2, -1])
    np.testing.assert_array_equal(routes.n_hops, [-1, 2, 0, -1])
    np.testing.assert_array_equal(routes.reachable, [False, True, True, False])
    np.testing.assert_array_equal(walking_minutes(routes.length, "independent")[[0, 3]], np.inf)


def test_no_destinations_means_nothing_reachable() -> None:
    graph = square_city()
    nearest = nearest_destinations(graph, [])
    assert np.isinf(nearest.distance).all()
    assert (nearest.predecessor == NO_NODE).all()
    routes = routes_from_predecessors(nearest.predecessor, [0, 1], distance=nearest.distance)
    assert routes.nodes.size == 0
    np.testing.assert_array_equal(routes.offsets, [0, 0, 0])


def test_limit_and_bad_destinations() -> None:
    lon, lat = line_graph_lonlat(4)
    graph = graph_from_arrays(lon, lat, [0, 1, 2], [1, 2, 3], [10.0, 10.0, 10.0])
    nearest = nearest_destinations(graph, [0], limit=15.0)
    np.testing.assert_array_equal(nearest.distance, [0, 10, np.inf, np.inf])
    with pytest.raises(ValueError, match=r"destination node\(s\) \[7\]"):
        nearest_destinations(graph, [0, 7])


def test_duplicate_destinations_report_first_position() -> None:
    lon, lat = line_graph_lonlat(3)
    graph = graph_from_arrays(lon, lat, [0, 1], [1, 2], [1.0, 1.0])
    nearest = nearest_destinations(graph, [2, 0, 2])
    # Node 2 was given twice: the first position counts. Node 1 ties; either shelter is right.
    np.testing.assert_array_equal(nearest.position[[0, 2]], [1, 0])
    assert nearest.destination[1] in (0, 2)
    assert [2, 0, 2][nearest.position[1]] == nearest.destination[1]


def test_nearest_nodes_matches_brute_force() -> None:
    rng = np.random.default_rng(3)
    lon = LON0 + rng.uniform(0, 0.02, 300)
    lat = LAT0 + rng.uniform(0, 0.02, 300)
    graph = graph_from_arrays(lon, lat, [], [])
    qlon = LON0 + rng.uniform(-0.005, 0.025, 500)
    qlat = LAT0 + rng.uniform(-0.005, 0.025, 500)
    nodes, distance = nearest_nodes(graph, qlon, qlat)
    qx, qy = project(qlon, qlat)
    brute = np.hypot(qx[:, None] - graph.x[None, :], qy[:, None] - graph.y[None, :])
    np.testing.assert_array_equal(nodes, brute.argmin(axis=1))
    np.testing.assert_allclose(distance, brute.min(axis=1))
    one, d = nearest_nodes(graph, float(lon[5]), float(lat[5]))
    assert one.tolist() == [5]
    assert d[0] == pytest.approx(0.0, abs=1e-6)


def test_nearest_nodes_rejects_bad_input() -> None:
    graph = square_city()
    with pytest.raises(ValueError, match=r"points \[1\]"):
        nearest_nodes(graph, [LON0, np.nan], [LAT0, LAT0])
    with pytest.raises(ValueError, match="without nodes"):
        nearest_nodes(graph_from_arrays([], [], [], []), [LON0], [LAT0])


def test_graph_from_edges_reports_every_bad_row() -> None:
    nodes = {"node_id": [1, 2, 2, 4], "lon": [LON0, LON0, 500.0, LON0], "lat": [LAT0] * 4}
    edges = {"u": [1, 9, 4], "v": [2, 1, 1], "length": [-1.0, 5.0, "x"]}
    with pytest.raises(ValidationError) as info:
        graph_from_edges(nodes, edges)
    text = str(info.value)
    assert "node row 2: bad lon/lat (500.0" in text
    assert "node row 2: node_id 2 repeated" in text
    assert "edge row 1: u=9 is not a node id" in text
    assert "edge row 0: bad length -1.0" in text
    assert "edge row 2: bad length 'x'" in text
    assert len(info.value.problems) == 5
    # A blank length is not an error: it is measured.
    fine = {"u": [1, 2], "v": [2, 4], "length": [None, ""]}
    graph = graph_from_edges({"node_id": [1, 2, 4], "lon": [LON0] * 3, "lat": [LAT0] * 3}, fine)
    assert graph.edge_length.tolist() == [0.0, 0.0]
    with pytest.raises(ValidationError, match="missing column 'lat'"):
        graph_from_edges({"lon": [LON0]}, edges)


def test_graph_from_edges_takes_dataframes() -> None:
    import pandas as pd

    nodes = pd.DataFrame({"node_id": ["a", "b", "c"], "lon": [LON0, LON0 + 0.001, LON0 + 0.002]})
    nodes["lat"] = LAT0
    edges = pd.DataFrame({"u": ["a", "c"], "v": ["b", "b"], "length": [100.0, 90.0]})
    graph = graph_from_edges(nodes, edges)
    assert graph.node_ids.tolist() == ["a", "b", "c"]
    nearest = nearest_destinations(graph, [2])
    np.testing.assert_array_equal(nearest.distance, [190.0, 90.0, 0.0])


def test_walking_minutes() -> None:
    assert dict(WALKING_SPEED_M_S) == {
        "independent": 1.0,
        "elderly": 0.7,
        "wheelchair": 0.5,
        "with_helper": 0.5,
    }
    minutes = walking_minutes([600.0, 420.0, 300.0], ["independent", "elderly", "wheelchair"])
    np.testing.assert_allclose(minutes, [10.0, 10.0, 10.0])
    np.testing.assert_allclose(walking_minutes(120.0, "with_helper"), 4.0)
    custom = walking_minutes([60.0], ["elderly"], speeds={"elderly": 0.5})
    np.testing.assert_allclose(custom, [2.0])
    with pytest.raises(ValueError, match=r"unknown mobility class.*'skater'"):
        walking_minutes([1.0, 1.0], ["skater", "elderly"])
    with pytest.raises(ValueError, match="must be > 0"):
        walking_minutes([1.0], "elderly", speeds={"elderly": 0.0})
    with pytest.raises(TypeError):
        WALKING_SPEED_M_S["elderly"] = 2.0  # type: ignore[index]


def test_many_origins_vectorised_reconstruction_matches_single_paths() -> None:
    rng = np.random.default_rng(11)
    n = 400
    lon = LON0 + rng.uniform(0, 0.03, n)
    lat = LAT0 + rng.uniform(0, 0.03, n)
    u = rng.integers(0, n, 1200)
    v = rng.integers(0, n, 1200)
    graph = graph_from_arrays(lon, lat, u, v)
    dests = rng.choice(n, 6, replace=False)
    nearest = nearest_destinations(graph, dests)
    origins = rng.integers(0, n, 2000)
    routes = routes_from_predecessors(nearest.predecessor, origins, distance=nearest.distance)
    # Per-origin walk of the same tree, the slow obvious way.
    for k in range(0, 2000, 37):
        node, expected = int(origins[k]), []
        if np.isfinite(nearest.distance[node]):
            while node != NO_NODE:
                expected.append(node)
                node = int(nearest.predecessor[node])
        assert routes.path(k).tolist() == expected
    rid = routes.route_of()
    same = rid[:-1] == rid[1:]
    legs = edge_lengths(graph, routes.nodes[:-1][same], routes.nodes[1:][same])
    summed = np.bincount(rid[:-1][same], weights=legs, minlength=len(routes))
    ok = routes.reachable
    np.testing.assert_allclose(summed[ok], routes.length[ok], rtol=1e-12)


def test_routes_reject_bad_origins_and_cyclic_trees() -> None:
    with pytest.raises(ValueError, match=r"origin node\(s\) \[5\]"):
        routes_from_predecessors([-1, 0], [5], distance=[0.0, 1.0])
    with pytest.raises(ValueError, match="cycle"):
        routes_from_predecessors([1, 0], [0], distance=[1.0, 1.0])
