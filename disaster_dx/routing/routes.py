"""Routes of many origins at once, rebuilt from a search's predecessor tree in flat arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from disaster_dx.routing.plane import NO_NODE, FloatArray, IntArray


@dataclass(frozen=True, eq=False)
class Routes:
    """Many routes in flat arrays: route ``k`` is ``nodes[offsets[k]:offsets[k + 1]]``.

    Flat arrays (not a list of lists) keep tens of thousands of routes cheap to build, store
    and turn into map lines. Each route runs from its origin node to its destination node;
    an origin that *is* a destination has a one-node route of length 0; an unreachable origin
    has an empty route, ``length`` ``inf`` and ``destination`` ``-1``.
    """

    origins: IntArray
    nodes: IntArray
    offsets: IntArray
    length: FloatArray
    destination: IntArray

    def __len__(self) -> int:
        return int(self.origins.size)

    def path(self, k: int) -> IntArray:
        """Node indices of route ``k``, origin first."""
        return self.nodes[self.offsets[k] : self.offsets[k + 1]]

    @property
    def reachable(self) -> NDArray[np.bool_]:
        """Whether each origin has a route."""
        return np.isfinite(self.length)

    @property
    def n_hops(self) -> IntArray:
        """Number of edges of each route (``-1`` when unreachable)."""
        return np.diff(self.offsets) - 1

    def route_of(self) -> IntArray:
        """For every entry of ``nodes``, which route it belongs to."""
        return np.repeat(np.arange(len(self), dtype=np.intp), np.diff(self.offsets))


def routes_from_predecessors(
    predecessor: ArrayLike,
    origins: ArrayLike,
    *,
    distance: ArrayLike,
) -> Routes:
    """Reconstruct the routes of many origins at once from a predecessor tree.

    All origins advance together, one hop per iteration, as numpy fancy indexing; an origin
    drops out when it reaches a destination. The loop therefore runs as many times as the
    *longest* route has edges (tens to a few hundred on a city graph), never once per origin,
    and total work is proportional to the number of route nodes written.

    Parameters
    ----------
    predecessor
        ``NearestDestinations.predecessor`` (or any csgraph predecessor row with ``-1`` or
        ``-9999`` for "none").
    origins
        Origin node indices, e.g. from :func:`nearest_nodes`.
    distance
        Distance array of the same search; it tells an origin that is itself a destination
        (0) from an unreachable one (``inf``), which the predecessor alone cannot.

    Raises
    ------
    ValueError
        If an origin is not a node, or ``predecessor`` has a cycle (not a search tree).
    """
    pred = np.asarray(predecessor, dtype=np.intp)
    dist = np.asarray(distance, dtype=float)
    origin_nodes = np.asarray(origins, dtype=np.intp).ravel()
    if origin_nodes.size and (origin_nodes.min() < 0 or origin_nodes.max() >= pred.size):
        bad = origin_nodes[(origin_nodes < 0) | (origin_nodes >= pred.size)]
        raise ValueError(f"origin node(s) {bad[:10].tolist()} not in graph of {pred.size} nodes")
    length = dist[origin_nodes]
    reachable = np.isfinite(length)

    active = np.flatnonzero(reachable)
    current = origin_nodes[active]
    hop_routes: list[IntArray] = []
    hop_nodes: list[IntArray] = []
    while active.size:
        if len(hop_routes) > pred.size:  # a tree has no route longer than n nodes
            raise ValueError("predecessor array contains a cycle; it is not a search tree")
        hop_routes.append(active)
        hop_nodes.append(current)
        current = pred[current]
        going = current >= 0
        active = active[going]
        current = current[going]

    # Place hop ``k`` of route ``r`` at ``offsets[r] + k``: one scatter for all routes.
    which = np.concatenate(hop_routes) if hop_routes else np.zeros(0, dtype=np.intp)
    hop = np.repeat(np.arange(len(hop_routes), dtype=np.intp), [r.size for r in hop_routes])
    offsets = np.zeros(origin_nodes.size + 1, dtype=np.intp)
    np.cumsum(np.bincount(which, minlength=origin_nodes.size), out=offsets[1:])
    nodes = np.empty(int(offsets[-1]), dtype=np.intp)
    if hop_routes:
        nodes[offsets[which] + hop] = np.concatenate(hop_nodes)

    destination = np.full(origin_nodes.size, NO_NODE, dtype=np.intp)
    destination[reachable] = nodes[offsets[1:][reachable] - 1]
    return Routes(
        origins=origin_nodes,
        nodes=nodes,
        offsets=offsets,
        length=length,
        destination=destination,
    )
