"""Searches over the graph: the nearest destination of every node at once.

:func:`nearest_destinations` is one multi-source Dijkstra from node destinations;
:func:`door_search` searches door to door (destinations joined at their access points) and
also finds the nearest destination of another site, optionally with per-edge cost factors
(:func:`access_factors`), whose chosen walks it measures back in real metres.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.sparse import csr_array
from scipy.sparse.csgraph import dijkstra

from disaster_dx.routing.access import Access
from disaster_dx.routing.graph import RoadGraph
from disaster_dx.routing.plane import NO_NODE, FloatArray, IntArray

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class NearestDestinations:
    """For every node of a graph: the nearest destination, how far, and the way there.

    Attributes
    ----------
    destination_nodes
        The destination node indices searched from, as given.
    distance
        Metres from each node to its nearest destination; ``inf`` when none is reachable.
    destination
        Node index of that destination, ``-1`` when unreachable.
    position
        Position in ``destination_nodes`` of that destination (first occurrence when a node
        was given twice, e.g. two shelters snapped to one corner), ``-1`` when unreachable.
    predecessor
        Next node on the way to the destination, ``-1`` at destinations and unreachable
        nodes. (csgraph calls it the predecessor: it searched *from* the destinations.)
    """

    destination_nodes: IntArray
    distance: FloatArray
    destination: IntArray
    position: IntArray
    predecessor: IntArray

    @property
    def reachable(self) -> NDArray[np.bool_]:
        """Whether each node can reach any destination."""
        return np.isfinite(self.distance)


def nearest_destinations(
    graph: RoadGraph,
    destination_nodes: ArrayLike,
    *,
    limit: float = np.inf,
) -> NearestDestinations:
    """Distance, identity and route tree to the nearest destination, for all nodes at once.

    One multi-source Dijkstra (``min_only=True``) seeded at every destination answers the
    question for every node of the graph in a single pass — on a city graph in milliseconds —
    so any number of residents costs the same search. Re-planning after a shelter closes or
    fills up is simply calling this again without it.

    Parameters
    ----------
    destination_nodes
        Node indices of the eligible destinations (e.g. open, suitable, not full shelters
        snapped with :func:`nearest_nodes`). May be empty: then nothing is reachable.
    limit
        Stop searching beyond this many metres; farther nodes count as unreachable. Useful
        when only "within reach in time" matters.

    Raises
    ------
    ValueError
        If a destination index is not a node of the graph.
    """
    dests = np.asarray(destination_nodes, dtype=np.intp).ravel()
    n = graph.n_nodes
    if dests.size and (dests.min() < 0 or dests.max() >= n):
        bad = dests[(dests < 0) | (dests >= n)]
        raise ValueError(f"destination node(s) {bad[:10].tolist()} not in graph of {n} nodes")
    if dests.size == 0:
        log.info("no destinations: every node is unreachable")
        nothing = np.full(n, NO_NODE, dtype=np.intp)
        return NearestDestinations(
            dests, np.full(n, np.inf), nothing, nothing.copy(), nothing.copy()
        )
    distance, predecessor, source = dijkstra(
        graph.csr,
        directed=False,
        indices=np.unique(dests),
        min_only=True,
        return_predecessors=True,
        limit=limit,
    )
    predecessor = predecessor.astype(np.intp)
    source = source.astype(np.intp)
    predecessor[predecessor < 0] = NO_NODE  # csgraph marks "none" with -9999
    unreachable = source < 0
    source[unreachable] = NO_NODE
    first_position = np.full(n, NO_NODE, dtype=np.intp)
    first_position[dests[::-1]] = np.arange(dests.size - 1, -1, -1)
    position = np.where(unreachable, NO_NODE, first_position[np.maximum(source, 0)])
    return NearestDestinations(
        destination_nodes=dests,
        distance=np.asarray(distance, dtype=float),
        destination=source,
        position=position,
        predecessor=predecessor,
    )


@dataclass(frozen=True, eq=False)
class DoorSearch:
    """For every node: the nearest destination *door to door*, and the nearest of another site.

    Destination ``i`` is joined to the network at its access point, which the search adds as
    node ``n_nodes + i`` (so node arrays here have ``n_nodes + len(destinations)`` entries and
    routes end at that node). Distances include the walk from the access point to the
    destination itself, so the nearest destination is the nearest by the whole walk, not the
    first one listed at a shared street corner.

    Attributes
    ----------
    distance, destination
        Metres to the nearest destination and its index (``inf`` / ``-1`` when none).
    predecessor
        Next node towards it (``-1`` at access points of destinations and unreachable nodes).
    alt_distance, alt_destination
        The same for the nearest destination whose site differs from ``destination``'s.
    """

    n_nodes: int
    distance: FloatArray
    destination: IntArray
    predecessor: IntArray
    alt_distance: FloatArray
    alt_destination: IntArray
    #: With per-edge ``factors`` (:func:`door_search`) the distances above are costs; these
    #: are the same walks in real metres, and the metres of the nearest's walk on streets
    #: whose factor is above 1 (along-street parts of the door links included). None without
    #: factors: then the distances are metres.
    metres: FloatArray | None = None
    alt_metres: FloatArray | None = None
    costly_metres: FloatArray | None = None


def door_search(
    graph: RoadGraph,
    doors: Access,
    site: ArrayLike | None = None,
    *,
    factors: ArrayLike | None = None,
) -> DoorSearch:
    """Nearest and second-nearest-site destination for all nodes: two csgraph searches.

    1. Each destination's access point becomes a node on its edge, linked to the edge's ends
       by ``distance_m + along_m`` and ``distance_m + edge_m − along_m``: one multi-source
       Dijkstra from these nodes (``min_only``) then gives every node its nearest destination
       by the full walk. The links never shorten a street (together they are at least the
       edge), so distances between other nodes are untouched.
    2. The nearest destination of *another site*: a shortest walk from a node to it leaves the
       node's own Voronoi cell (same site) somewhere through an edge ``(x, y)``; the rest is at
       least ``y``'s nearest distance, which it attains. So a second search over the edges
       inside cells only, seeded at every cell-leaving edge with ``w(x, y) + distance[y]``,
       gives it exactly, in the time of one more Dijkstra (not one search per destination).

    Parameters
    ----------
    doors
        :func:`access_points` of the destinations (unjoined ones are never reached).
    site
        A site number per destination: destinations of one site (a shelter and the 津波避難
        ビル it stands in) are never each other's alternative. Default: each its own site.
    factors
        Per-edge cost multipliers ≥ 1 (CSR order), e.g. landslide areas
        (:func:`disaster_dx.landslide.edge_cost_factors`): the searches then run on
        ``metres × factor`` for streets and for the door links (the along-street part by the
        door's street's factor, the walk from the street to the door by
        :func:`access_factors`), choosing by cost; the chosen walks' real metres come back in
        :attr:`DoorSearch.metres` / :attr:`DoorSearch.alt_metres`.
    """
    n = graph.n_nodes
    k = len(doors)
    total = n + k
    sites = np.arange(k, dtype=np.intp) if site is None else np.asarray(site, dtype=np.intp)
    if sites.shape != (k,):
        raise ValueError(f"site must have one entry per destination ({k})")
    none = np.full(total, NO_NODE, dtype=np.intp)
    factor: FloatArray | None = None
    if factors is not None:
        factor = np.asarray(factors, dtype=float)
        if factor.shape != (graph.n_edges,):
            raise ValueError(f"need one factor per edge ({graph.n_edges}), got {factor.shape}")
        if not np.all(factor >= 1.0) or not np.all(np.isfinite(factor)):
            raise ValueError("edge factors must be finite numbers ≥ 1")
    if k == 0 or n == 0:
        inf = np.full(total, np.inf)
        if factor is None:
            return DoorSearch(n, inf, none, none.copy(), inf.copy(), none.copy())
        return DoorSearch(
            n, inf, none, none.copy(), inf.copy(), none.copy(), inf.copy(), inf.copy(), inf.copy()
        )
    # 1. Searched *outwards* from the access points (directed, over both directions of every
    # street): their links to the edge ends are appended as extra rows, no re-sorting. The
    # links back (edge end → access point) are left out: a walk through another destination's
    # access point is never shorter than the street it stands on.
    joined = doors.u >= 0
    two = joined & (doors.v != doors.u)
    links = np.column_stack((joined, two))
    columns = np.column_stack((doors.u, doors.v))[links]
    weights = np.column_stack(
        (doors.distance_m + doors.along_m, doors.distance_m + (doors.edge_m - doors.along_m))
    )[links]
    base_ptr, base_cols, base_data, base_rows = graph.both_ways
    if factor is not None:
        base_metres, link_metres = base_data, weights
        street, off_road = access_factors(graph, doors, factor)
        base_data = base_metres * factor[graph.both_ways_edge]
        weights = np.column_stack(
            (
                doors.distance_m * off_road + doors.along_m * street,
                doors.distance_m * off_road + (doors.edge_m - doors.along_m) * street,
            )
        )[links]
    indptr = np.concatenate((base_ptr, base_ptr[-1] + np.cumsum(links.sum(axis=1))))
    indices = np.concatenate((base_cols, columns))
    data = np.concatenate((base_data, weights))
    distance, predecessor, source = dijkstra(
        csr_array((data, indices, indptr), shape=(total, total)),
        directed=True,
        indices=np.arange(n, total),
        min_only=True,
        return_predecessors=True,
    )
    distance = np.asarray(distance, dtype=float)
    predecessor = predecessor.astype(np.intp)
    predecessor[predecessor < 0] = NO_NODE
    source = source.astype(np.intp)
    destination = np.where(source >= 0, source - n, NO_NODE)
    metres = costly_metres = None
    if factor is not None:
        metres, costly_metres = _door_tree_metres(graph, doors, factor, predecessor, distance)

    # 2. Another site's nearest: searched inside cells, seeded where a walk leaves its cell.
    # Only the streets matter here (both directions are in the base arrays), and a node's
    # cheapest way out of its cell is over a street to a node of another site.
    owner = np.where(destination >= 0, sites[np.maximum(destination, 0)], NO_NODE)
    a, b = owner[base_rows], owner[base_cols]
    inside = (a >= 0) & (a == b)
    leaving = (a >= 0) & (b >= 0) & (a != b)
    exit_node = base_rows[leaving]
    exit_cost = base_data[leaving] + distance[base_cols[leaving]]
    exit_to = destination[base_cols[leaving]]
    # Or straight to another site's access point from the ends of its street.
    door_ends = np.repeat(np.arange(k, dtype=np.intp), links.sum(axis=1))
    other = (owner[columns] >= 0) & (owner[columns] != sites[door_ends])
    exit_node = np.concatenate((exit_node, columns[other]))
    exit_cost = np.concatenate((exit_cost, weights[other]))
    exit_to = np.concatenate((exit_to, door_ends[other]))
    exit_metres = None
    if factor is not None and metres is not None:
        exit_metres = np.concatenate(
            (base_metres[leaving] + metres[base_cols[leaving]], link_metres[other])
        )
    inf = np.full(total, np.inf)
    if exit_node.size == 0:  # one site only: there is no alternative
        if factor is None:
            return DoorSearch(n, distance, destination, predecessor, inf, none.copy())
        return DoorSearch(
            n,
            distance,
            destination,
            predecessor,
            inf,
            none.copy(),
            metres,
            inf.copy(),
            costly_metres,
        )
    order = np.lexsort((exit_cost, exit_node))  # per node, its cheapest way out first
    first = np.ones(order.size, dtype=bool)
    first[1:] = exit_node[order][1:] != exit_node[order][:-1]
    chosen = order[first]
    exit_node, exit_cost, exit_to = exit_node[chosen], exit_cost[chosen], exit_to[chosen]
    m = exit_node.size
    inner_ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(base_rows[inside], minlength=n), out=inner_ptr[1:])
    alt_distance, alt_predecessor, alt_source = dijkstra(
        csr_array(
            (
                np.concatenate((base_data[inside], exit_cost)),
                np.concatenate((base_cols[inside], exit_node)),
                np.concatenate((inner_ptr, inner_ptr[-1] + np.arange(1, m + 1))),
            ),
            shape=(n + m, n + m),
        ),
        directed=True,
        indices=np.arange(n, n + m),
        min_only=True,
        return_predecessors=True,
    )
    alt_source = alt_source[:n].astype(np.intp)
    alt_destination = np.full(total, NO_NODE, dtype=np.intp)
    alt_destination[:n] = np.where(alt_source >= 0, exit_to[np.maximum(alt_source - n, 0)], -1)
    inf[:n] = alt_distance[:n]
    if factor is None or metres is None or exit_metres is None:
        return DoorSearch(n, distance, destination, predecessor, inf, alt_destination)
    # Real metres of the alternative walks: inside the cell along the second search's tree
    # to the node where the walk leaves it, then that exit's own metres.
    alt_pred = np.asarray(alt_predecessor[:n], dtype=np.intp)
    seed = alt_pred >= n
    in_cell = (alt_pred >= 0) & ~seed
    step = np.zeros(n)
    step[in_cell] = _street_metres(graph, np.flatnonzero(in_cell), alt_pred[in_cell])
    step[seed] = exit_metres[chosen][alt_pred[seed] - n]
    alt_metres = np.full(total, np.inf)
    alt_metres[:n] = np.where(
        np.isfinite(alt_distance[:n]),
        _tree_sums(np.where(in_cell, alt_pred, NO_NODE), step),
        np.inf,
    )
    return DoorSearch(
        n,
        distance,
        destination,
        predecessor,
        inf,
        alt_destination,
        metres,
        alt_metres,
        costly_metres,
    )


def access_factors(
    graph: RoadGraph, access: Access, factors: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Per point: the cost factor of its street, and of its walk between the point and the street.

    The walk to the street takes the factor of the street it joins. Where it joins at a
    corner (an end of its street: the nearest point of several streets at once, common
    outside a corner or at a dead end) it could equally join any street there, so it takes the
    least factor among them: which street :func:`access_points` names at a corner is
    arbitrary, and must not decide whether a shelter counts as inside an area. A point at a
    node without streets, or without a position, has factor 1.
    """
    factor = np.asarray(factors, dtype=float)
    joined = access.edge >= 0
    street = np.ones(len(access))
    street[joined] = factor[access.edge[joined]]
    corner = np.full(graph.n_nodes, np.inf)
    np.minimum.at(corner, graph.edge_u, factor)
    np.minimum.at(corner, graph.edge_v, factor)
    off_road = street.copy()
    tolerance = 1e-6  # metres: ``along_m`` at a street's far end may miss it by a rounding
    at_u = joined & (access.along_m <= tolerance)
    at_v = joined & (access.edge_m - access.along_m <= tolerance)
    off_road[at_u] = np.minimum(off_road[at_u], corner[access.u[at_u]])
    off_road[at_v] = np.minimum(off_road[at_v], corner[access.v[at_v]])
    return street, off_road


def _street_metres(graph: RoadGraph, a: IntArray, b: IntArray) -> FloatArray:
    """Real length of the street between nodes ``a[i]`` and ``b[i]`` (one exists for each)."""
    return graph.edge_length[_street_index(graph, a, b)]


def _street_index(graph: RoadGraph, a: IntArray, b: IntArray) -> IntArray:
    """Edge (CSR position) between nodes ``a[i]`` and ``b[i]``."""
    keys = np.minimum(a, b).astype(np.int64) * graph.n_nodes + np.maximum(a, b)
    stored = graph._edge_keys
    where = np.searchsorted(stored, keys)
    if np.any(where >= stored.size) or np.any(stored[np.minimum(where, stored.size - 1)] != keys):
        raise ValueError("a search tree uses a street that is not in the graph")
    return where.astype(np.intp)


def _tree_sums(predecessor: IntArray, step: FloatArray) -> FloatArray:
    """For every node, the sum of ``step`` over it and its ancestors in a predecessor tree.

    Pointer jumping: each round doubles how far every node has summed, so a tree of depth
    ``d`` takes ``log2(d)`` vectorised rounds (no per-node loop, no order by distance, which
    zero-length streets would make ambiguous).
    """
    total = step.astype(float, copy=True)
    up = predecessor.astype(np.intp, copy=True)
    for _ in range(64):
        going = up >= 0
        if not going.any():
            return total
        ahead = np.maximum(up, 0)
        total = total + np.where(going, total[ahead], 0.0)
        up = np.where(going, up[ahead], NO_NODE)
    raise ValueError("predecessor array contains a cycle; it is not a search tree")


def _door_tree_metres(
    graph: RoadGraph,
    doors: Access,
    factor: FloatArray,
    predecessor: IntArray,
    distance: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Real metres from every node to its nearest door along the (cost) search tree.

    Also the metres of that walk on streets whose factor is above 1 (see :func:`door_search`).
    """
    n = graph.n_nodes
    total = predecessor.size
    step = np.zeros(total)
    costly = np.zeros(total)
    node = np.flatnonzero(predecessor >= 0)
    pred = predecessor[node]
    street = pred < n
    a, b = node[street], pred[street]
    edge = _street_index(graph, a, b)
    step[a] = graph.edge_length[edge]
    costly[a] = np.where(factor[edge] > 1.0, step[a], 0.0)
    # Door links: node ``x`` reached from door ``i``'s access point (node n + i).
    x, door = node[~street], pred[~street] - n
    along_u = x == doors.u[door]
    step[x] = np.where(
        along_u,
        doors.distance_m[door] + doors.along_m[door],
        doors.distance_m[door] + (doors.edge_m[door] - doors.along_m[door]),
    )
    door_costly = (doors.edge[door] >= 0) & (factor[np.maximum(doors.edge[door], 0)] > 1.0)
    along = np.where(along_u, doors.along_m[door], doors.edge_m[door] - doors.along_m[door])
    costly[x] = np.where(door_costly, along, 0.0)
    reached = np.isfinite(distance)
    metres = np.where(reached, _tree_sums(predecessor, step), np.inf)
    costly_metres = np.where(reached, _tree_sums(predecessor, costly), np.inf)
    return metres, costly_metres
