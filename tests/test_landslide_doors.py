"""Door-to-door choice with landslide edge factors: chosen by cost, measured in metres.

With :func:`disaster_dx.landslide.edge_cost_factors` a street touching a landslide area costs
its length × 1000 for the search, and so do the walks from a home or a shelter to such a
street. The shelter (and the alternative at another site) must be the one a brute-force
Dijkstra *on costs* picks, while the plan's lengths are that walk's real metres and the
metres along costly streets decide the 「土砂災害警戒区域を通ります」 caution. The brute force is
the explicit networkx graph of ``test_plans_doors`` with a cost and a metre value per piece.
"""

from __future__ import annotations

import itertools
import math
import random

import networkx as nx
import numpy as np
import pytest
import shapely

from disaster_dx.landslide import ZONE_EDGE_FACTOR, edge_cost_factors
from disaster_dx.model import Hazard
from disaster_dx.plans import (
    SAME_SITE_M,
    Caution,
    PlanSet,
)
from disaster_dx.routing import RoadGraph, graph_from_arrays, project
from tests.test_plans_doors import _nearest_spots, lonlat
from tests.test_plans_doors import plan as door_plan

Answer = tuple[int, float, float, int, float]  # first, its metres, its zone metres, alt, metres


def brute_force(
    graph: RoadGraph,
    factors: np.ndarray,
    homes: list[tuple[float, float]],
    shelters: list[tuple[float, float]],
) -> list[Answer]:
    """Per home: the cheapest shelter by cost, its walk in metres and in costly metres, and
    the cheapest shelter of another site with its walk in metres."""
    edge_of = {
        (u, v): e
        for e, (u, v) in enumerate(zip(graph.edge_u.tolist(), graph.edge_v.tolist(), strict=True))
    }
    # Directed: streets both ways, homes only lead onto the network and shelters only off it
    # (a point joined at two spots is no way from one street to the other).
    net = nx.DiGraph()
    net.add_nodes_from(range(graph.n_nodes))

    def link(a: object, b: object, metres: float, factor: float) -> None:
        cost = metres * factor
        if not net.has_edge(a, b) or net[a][b]["weight"] > cost:
            zone = metres if factor > 1 else 0.0
            net.add_edge(a, b, weight=cost, metres=metres, zone=zone)
            net.add_edge(b, a, weight=cost, metres=metres, zone=zone)

    # A walk joining the network at a corner may join any street there: the least factor.
    corner = dict.fromkeys(range(graph.n_nodes), math.inf)
    for (u, v), e in edge_of.items():
        corner[u] = min(corner[u], float(factors[e]))
        corner[v] = min(corner[v], float(factors[e]))
    spots: dict[tuple[int, int], list[tuple[float, object]]] = {}
    points = [("home", i, p) for i, p in enumerate(homes)]
    points += [("shelter", j, p) for j, p in enumerate(shelters)]
    for kind, i, (lon, lat) in points:
        x, y = project([lon], [lat])
        # every spot as near as the nearest (see _nearest_spots): the walk may start on any
        for n, spot_at in enumerate(_nearest_spots(graph, float(x[0]), float(y[0]))):
            distance, u, v, along = spot_at
            spot = ("spot", kind, i, n)
            if u == v:
                factor = 1.0
            else:
                length = float(graph.edge_length[edge_of[(u, v)]])
                factor = float(factors[edge_of[(u, v)]])
                if along <= 1e-6:
                    factor = min(factor, corner[u])
                if length - along <= 1e-6:
                    factor = min(factor, corner[v])
            ends = ((kind, i), spot) if kind == "home" else (spot, (kind, i))
            net.add_edge(*ends, weight=distance * factor, metres=distance, zone=0.0)
            if u == v:
                link(spot, u, along, 1.0)
            else:
                spots.setdefault((u, v), []).append((along, spot))
    for (u, v), e in edge_of.items():
        length = float(graph.edge_length[e])
        chain = [(0.0, u), *sorted(spots.get((u, v), []), key=lambda s: s[0]), (length, v)]
        for (a_at, a), (b_at, b) in itertools.pairwise(chain):
            link(a, b, b_at - a_at, float(factors[e]))
    sx, sy = project([s[0] for s in shelters], [s[1] for s in shelters])
    site = list(range(len(shelters)))
    for a in range(len(shelters)):
        for b in range(a):
            if math.hypot(sx[a] - sx[b], sy[a] - sy[b]) < SAME_SITE_M:
                old, new = site[a], site[b]
                site = [new if s == old else s for s in site]
    answers = []
    for i in range(len(homes)):
        cost, path = nx.single_source_dijkstra(net, ("home", i), weight="weight")

        def along_path(j: int, key: str, paths: dict = path) -> float:
            nodes = paths[("shelter", j)]
            return sum(net[a][b][key] for a, b in itertools.pairwise(nodes))

        reach = sorted(
            (cost[("shelter", j)], j) for j in range(len(shelters)) if ("shelter", j) in cost
        )
        if not reach:
            answers.append((-1, math.inf, math.inf, -1, math.inf))
            continue
        first = reach[0][1]
        others = [j for _, j in reach if site[j] != site[first]]
        alt = others[0] if others else -1
        answers.append(
            (
                first,
                along_path(first, "metres"),
                along_path(first, "zone"),
                alt,
                along_path(alt, "metres") if alt >= 0 else math.inf,
            )
        )
    return answers


def plan(
    graph: RoadGraph,
    homes: list[tuple[float, float]],
    shelters: list[tuple[float, float]],
    factors: np.ndarray | None,
) -> PlanSet:
    return door_plan(graph, homes, shelters, hazard=Hazard.LANDSLIDE, edge_factors=factors)


def test_the_shelter_beyond_the_area_is_chosen_and_measured_in_metres() -> None:
    """Home at the west end of a street; shelter A 300 m east along it, through an area;
    shelter B 500 m round a loop north, outside every area."""
    lon, lat = zip(
        *(lonlat(x, y) for x, y in [(0, 0), (150, 0), (300, 0), (0, 100), (300, 100)]),
        strict=True,
    )
    # 0–1–2 along the street (the area covers corner 1); 0–3–4–2 the loop north.
    graph = graph_from_arrays(lon, lat, [0, 1, 0, 3, 4], [1, 2, 3, 4, 2])
    area = shapely.box(*lonlat(120, -20), *lonlat(180, 20))
    factors = edge_cost_factors(graph, [area])
    in_area = {
        (u, v)
        for u, v, f in zip(graph.edge_u.tolist(), graph.edge_v.tolist(), factors, strict=True)
        if f == ZONE_EDGE_FACTOR
    }
    assert in_area == {(0, 1), (1, 2)}
    home = [lonlat(10, -5)]  # 5 m off the street, 10 m from corner 0
    shelters = [lonlat(300, -8), lonlat(300, 108)]  # A by corner 2, B by corner 4

    plain = plan(graph, home, shelters, None)
    assert plain.destination_id(0) == "s0"
    around = plan(graph, home, shelters, factors)
    expected = brute_force(graph, factors, home, shelters)[0]
    first, metres, zone, alt, alt_metres = expected
    assert (first, alt) == (1, 0)
    assert around.destination_id(0) == "s1" and around.alt_destination_id(0) == "s0"
    # Real metres (5 + 10 back to corner 0, 100 + 300 + 8 round the loop), not costs.
    assert around.length_m[0] == pytest.approx(metres, abs=1e-6)
    assert metres == pytest.approx(5 + 10 + 100 + 300 + 8, abs=0.5)
    assert around.alt_length_m[0] == pytest.approx(alt_metres, abs=1e-6)
    assert around.minutes[0] == pytest.approx(metres / around.scenario.speeds["independent"] / 60)
    # The walk back along the home's own street is in the area (it touches it): said so.
    assert zone == pytest.approx(10.0, abs=0.5)
    assert around.plan(0).cautions == (Caution.ZONE_ROUTE,)
    path = around.routes.path(0).tolist()
    # Round the loop, never by corner 1; it ends at shelter B's door node (n_nodes + 1).
    assert path[:2] == [0, 3] and 1 not in path and path[-1] == graph.n_nodes + 1


def test_unit_factors_change_nothing() -> None:
    rng = random.Random(3)
    for _ in range(40):
        graph, homes, shelters = _random_case(rng)
        plain = plan(graph, homes, shelters, None)
        ones = plan(graph, homes, shelters, np.ones(graph.n_edges))
        np.testing.assert_array_equal(plain.destination, ones.destination)
        np.testing.assert_array_equal(plain.alt_destination, ones.alt_destination)
        np.testing.assert_allclose(plain.length_m, ones.length_m, rtol=1e-12)
        np.testing.assert_allclose(plain.alt_length_m, ones.alt_length_m, rtol=1e-12)
        assert not any(ones.cautions(i) for i in range(len(ones)))


@pytest.mark.parametrize("seed", range(6))
def test_costs_choose_metres_measure_against_a_brute_force_walk(seed: int) -> None:
    rng = random.Random(seed)
    checked = 0
    for _ in range(25):
        graph, homes, shelters = _random_case(rng)
        factors = np.array(
            [rng.choice([1.0, 1.0, 3.5, ZONE_EDGE_FACTOR]) for _ in range(graph.n_edges)]
        )
        plans = plan(graph, homes, shelters, factors)
        for i, (first, metres, zone, alt, alt_metres) in enumerate(
            brute_force(graph, factors, homes, shelters)
        ):
            got = plans.plan(i)
            if first < 0:
                assert got.destination is None and got.length_m is None
                continue
            assert got.destination is not None
            assert got.destination.destination_id == f"s{first}", i
            assert got.length_m == pytest.approx(metres, rel=1e-9, abs=1e-6), i
            assert (Caution.ZONE_ROUTE in got.cautions) == (zone > 1e-9), i
            if alt < 0:
                assert got.alt_destination is None
            else:
                assert got.alt_destination is not None
                assert got.alt_destination.destination_id == f"s{alt}", i
                assert got.alt_length_m == pytest.approx(alt_metres, rel=1e-9, abs=1e-6), i
            checked += 1
    assert checked > 20  # the cases route someone, not only the unreachable


def _random_case(
    rng: random.Random,
) -> tuple[RoadGraph, list[tuple[float, float]], list[tuple[float, float]]]:
    """A small random network with homes and shelters at general positions (no ties)."""
    k = rng.randint(3, 9)
    nodes = [(rng.uniform(0, 600), rng.uniform(0, 600)) for _ in range(k)]
    edges = [(rng.randrange(k), rng.randrange(k)) for _ in range(rng.randint(2, 14))]
    lon, lat = zip(*(lonlat(x, y) for x, y in nodes), strict=True)
    graph = graph_from_arrays(lon, lat, [a for a, _ in edges], [b for _, b in edges])
    homes = [lonlat(rng.uniform(0, 600), rng.uniform(0, 600)) for _ in range(rng.randint(1, 4))]
    shelters = [lonlat(rng.uniform(0, 600), rng.uniform(0, 600)) for _ in range(rng.randint(1, 4))]
    return graph, homes, shelters
