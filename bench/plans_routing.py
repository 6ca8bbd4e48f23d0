"""Benchmark whole-city evacuation routing: our CSR pipeline vs networkx, in one run.

DESIGN §6 budget: individual plans for ≈40k origins on a ≈50k-node road graph with ≈100
shelters in < 0.25 s on 2 cores and ≥ 5× faster than the same pipeline on networkx's
``multi_source_dijkstra``; re-planning after a status change < 0.1 s.

Both pipelines do the same three things on the same **synthetic** network
(:func:`disaster_dx.io.roads.synthetic_grid_network`, a seeded jittered grid, not a real
town) and the same random origins and shelter points:

1. snap origins and shelters to nodes (the same KD-tree for both: networkx has none);
2. find every node's nearest shelter (ours: one ``scipy.sparse.csgraph.dijkstra`` with
   ``min_only=True``; networkx: ``multi_source_dijkstra`` over the shelter nodes);
3. reconstruct every origin's route as one flat node array + offsets (ours: hop-by-hop over
   all origins with numpy; networkx: look up and reverse each origin's path list).

Graph building (CSR arrays, ``nx.Graph``) and the KD-tree build happen once, before timing,
as they would when a city's road network is loaded. Re-planning removes the shelter that
serves the most origins and runs steps 2–3 again (origins are already snapped).

Run: ``python bench/plans_routing.py [--nodes 50000] [--origins 40000] [--shelters 100]``
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import networkx as nx
import numpy as np

from disaster_dx.io.roads import synthetic_grid_network
from disaster_dx.routing import (
    RoadGraph,
    Routes,
    nearest_destinations,
    nearest_nodes,
    routes_from_predecessors,
)

CENTER = (133.6614, 33.5753)  # Nankoku city hall, only to place the synthetic grid in zone IV


def timed(fn: Callable[[], Any], repeat: int) -> tuple[Any, list[float]]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result, times


def ours(graph: RoadGraph, lon, lat, shelter_lon, shelter_lat) -> tuple[Routes, np.ndarray]:
    origins, _ = nearest_nodes(graph, lon, lat)
    shelters, _ = nearest_nodes(graph, shelter_lon, shelter_lat)
    nearest = nearest_destinations(graph, shelters)
    routes = routes_from_predecessors(nearest.predecessor, origins, distance=nearest.distance)
    return routes, shelters


def ours_replan(graph: RoadGraph, origins: np.ndarray, shelters: np.ndarray) -> Routes:
    nearest = nearest_destinations(graph, shelters)
    return routes_from_predecessors(nearest.predecessor, origins, distance=nearest.distance)


def networkx_routes(
    reference: nx.Graph, origins: np.ndarray, shelters: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    distance, paths = nx.multi_source_dijkstra(reference, set(shelters.tolist()), weight="length")
    origin_list = origins.tolist()
    # networkx paths run shelter → node; a plan needs origin → shelter.
    found = [paths.get(o, [])[::-1] for o in origin_list]
    offsets = np.zeros(len(found) + 1, dtype=np.intp)
    np.cumsum([len(p) for p in found], out=offsets[1:])
    nodes = np.fromiter(itertools.chain.from_iterable(found), dtype=np.intp, count=offsets[-1])
    length = np.array([distance.get(o, np.inf) for o in origin_list])
    return nodes, offsets, length


def theirs(graph: RoadGraph, reference: nx.Graph, lon, lat, shelter_lon, shelter_lat):
    origins, _ = nearest_nodes(graph, lon, lat)
    shelters, _ = nearest_nodes(graph, shelter_lon, shelter_lat)
    return networkx_routes(reference, origins, shelters)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=50_000)
    parser.add_argument("--origins", type=int, default=40_000)
    parser.add_argument("--shelters", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=7, help="runs of our pipeline")
    parser.add_argument("--repeat-networkx", type=int, default=3)
    args = parser.parse_args()

    print(f"cpus available: {len(os.sched_getaffinity(0))}")
    start = time.perf_counter()
    graph = synthetic_grid_network(
        center_lon=CENTER[0], center_lat=CENTER[1], n_nodes=args.nodes, seed=args.seed
    )
    built = time.perf_counter() - start
    start = time.perf_counter()
    graph.kdtree  # noqa: B018 - built once when the network is loaded
    tree = time.perf_counter() - start
    start = time.perf_counter()
    reference = nx.Graph()
    reference.add_nodes_from(range(graph.n_nodes))
    reference.add_weighted_edges_from(
        zip(graph.edge_u.tolist(), graph.edge_v.tolist(), graph.edge_length.tolist(), strict=True),
        weight="length",
    )
    nx_built = time.perf_counter() - start
    print(
        f"synthetic network: {graph.n_nodes:,} nodes, {graph.n_edges:,} edges "
        f"(CSR build {built * 1e3:.0f} ms, KD-tree {tree * 1e3:.0f} ms, "
        f"nx.Graph build {nx_built * 1e3:.0f} ms; not timed below)"
    )

    rng = np.random.default_rng(args.seed)
    west, east = graph.lon.min(), graph.lon.max()
    south, north = graph.lat.min(), graph.lat.max()
    lon = rng.uniform(west, east, args.origins)
    lat = rng.uniform(south, north, args.origins)
    shelter_lon = rng.uniform(west, east, args.shelters)
    shelter_lat = rng.uniform(south, north, args.shelters)
    print(f"{args.origins:,} origins, {args.shelters} shelters (random points)\n")

    # Step timings of our pipeline (for the report), then the whole pipeline.
    origins, _ = nearest_nodes(graph, lon, lat)
    _, t_snap = timed(lambda: nearest_nodes(graph, lon, lat), args.repeat)
    shelters, _ = nearest_nodes(graph, shelter_lon, shelter_lat)
    nearest, t_search = timed(lambda: nearest_destinations(graph, shelters), args.repeat)
    _, t_rebuild = timed(
        lambda: routes_from_predecessors(nearest.predecessor, origins, distance=nearest.distance),
        args.repeat,
    )
    (routes, shelters), t_ours = timed(
        lambda: ours(graph, lon, lat, shelter_lon, shelter_lat), args.repeat
    )
    (nx_nodes, nx_offsets, nx_length), t_nx = timed(
        lambda: theirs(graph, reference, lon, lat, shelter_lon, shelter_lat), args.repeat_networkx
    )

    # Same answers: equal lengths (paths may differ only between equally short ones).
    assert np.allclose(routes.length, nx_length, rtol=1e-9, equal_nan=False)
    same_path = np.array_equal(routes.offsets, nx_offsets) and np.array_equal(
        routes.nodes, nx_nodes
    )
    paths = "identical" if same_path else "differ only between equally short ones"
    print(f"answers agree with networkx: lengths equal, paths {paths}")
    print(
        f"route nodes written: {routes.nodes.size:,}; longest route {routes.n_hops.max()} edges\n"
    )

    def row(name: str, times: list[float]) -> float:
        med = statistics.median(times)
        print(f"  {name:<46} median {med * 1e3:8.1f} ms   best {min(times) * 1e3:8.1f} ms")
        return med

    print("ours, by step:")
    row("snap 40k origins (KD-tree)", t_snap)
    row("multi-source dijkstra (csgraph, min_only)", t_search)
    row("vectorised route reconstruction", t_rebuild)
    print("whole pipeline (snap + search + reconstruct):")
    m_ours = row("ours (CSR + csgraph + numpy)", t_ours)
    m_nx = row("networkx multi_source_dijkstra", t_nx)
    print(f"  speed-up vs networkx: {m_nx / m_ours:.1f}x")
    print(
        f"  budget: ours < 250 ms -> {'OK' if m_ours < 0.25 else 'OVER'}; "
        f">= 5x networkx -> {'OK' if m_nx / m_ours >= 5 else 'UNDER'}\n"
    )

    # Re-planning: the busiest shelter closes (or fills up).
    busiest = np.bincount(routes.destination[routes.reachable]).argmax()
    remaining = shelters[shelters != busiest]
    moved = int((routes.destination == busiest).sum())
    replanned, t_replan = timed(lambda: ours_replan(graph, origins, remaining), args.repeat)
    (_, _, nx_replanned), t_nx_replan = timed(
        lambda: networkx_routes(reference, origins, remaining), args.repeat_networkx
    )
    assert np.allclose(replanned.length, nx_replanned, rtol=1e-9)
    print(f"re-planning after the busiest shelter closes ({moved:,} origins move):")
    r_ours = row("ours", t_replan)
    r_nx = row("networkx", t_nx_replan)
    print(f"  speed-up vs networkx: {r_nx / r_ours:.1f}x")
    print(f"  budget: < 100 ms -> {'OK' if r_ours < 0.1 else 'OVER'}")


if __name__ == "__main__":
    main()
