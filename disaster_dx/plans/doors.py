"""Door to door: each resident's nearest destination and alternative from the search's answer.

:func:`disaster_dx.routing.door_search` gives every node of the network its nearest destination
(and the nearest of another site); a home, though, joins the network *on* a street, possibly at
several equally near spots, and may reach a destination on its own street without passing a
node. :class:`_DoorChoice` settles each resident's first choice and alternative over all of
that, by cost when landslide edge factors apply (:class:`_Costs`), and :func:`_sites` groups
destinations standing within :data:`SAME_SITE_M` of each other into one site.
:mod:`disaster_dx.plans.destinations` drives these in :func:`plans_for_residents`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from disaster_dx.plans.judgement import FloatArray, IntArray
from disaster_dx.routing import Access, DoorSearch, RoadGraph, access_ties

#: Destinations closer than this to each other (metres) count as one site (a shelter and the
#: 津波避難ビル on its grounds): the alternative destination is always another site.
SAME_SITE_M = 20.0


def _door_ties(graph: RoadGraph, doors: Access) -> tuple[Access, IntArray]:
    """:func:`access_ties` of the destinations' doors, kept per graph like :func:`_doors`."""
    key = ("plans.door_ties", doors.x.tobytes(), doors.y.tobytes())
    ties: tuple[Access, IntArray] | None = graph.memo.get(key)
    if ties is None:
        if len(graph.memo) > 64:
            graph.memo.clear()
        ties = graph.memo[key] = access_ties(graph, doors)
    return ties


@dataclass(frozen=True, eq=False)
class _Costs:
    """Cost factors of the walks the door search does not cover (see :class:`_DoorChoice`).

    ``home_street``/``home_off_road``: per resident, of the home's street and of the walk from
    the home to it; ``door_off_road``: per destination, of the walk from its street to it
    (:func:`~disaster_dx.routing.access_factors`).
    """

    home_street: FloatArray
    home_off_road: FloatArray
    door_off_road: FloatArray


class _DoorChoice:
    """Each routed resident's nearest destination and alternative, door to door.

    A home joins its street at an access point ``along_m`` from node ``u``: the walk goes on
    via ``u`` or via ``v`` (the search's distances from there), or — when a destination joins
    the *same* street — straight along it. The alternative is the best of the same three ways
    to a destination of another site than the first choice: from ``u``, the nearest overall
    when that is another site, else the search's nearest of another site.

    ``access`` has a row per spot a home joins the network at (:func:`access_ties`: several
    when equally near) and ``home`` says whose; each resident takes the best way over all
    its rows. ``first``/``alt`` are door rows (as searched); ``row`` is the home row chosen.

    With ``costs`` (landslide edge factors; the search ran with the same factors) every way is
    compared by cost — each part of the walk times its factor — while ``length``/
    ``alt_length`` are the chosen ways' real metres and ``zone_m`` the metres of the chosen way
    along streets whose factor is above 1. Without costs cost *is* metres and ``zone_m`` is
    None.
    """

    def __init__(
        self,
        access: Access,
        home: IntArray,
        doors: Access,
        sites: IntArray,
        search: DoorSearch,
        max_snap_m: float,
        costs: _Costs | None = None,
    ) -> None:
        # a resident's rows are routed when its access point is near enough (its first row)
        r = np.flatnonzero(access.joined & (access.distance_m[home] <= max_snap_m))
        u, v = access.u[r], access.v[r]
        snap, along = access.distance_m[r], access.along_m[r]
        walk_u, walk_v = snap + along, snap + (access.edge_m[r] - along)
        if costs is None:
            metres, alt_metres = search.distance, search.alt_distance
            cost_u, cost_v = walk_u, walk_v
            weights = None
        else:
            assert search.metres is not None and search.alt_metres is not None
            metres, alt_metres = search.metres, search.alt_metres
            street, off = costs.home_street[r], costs.home_off_road[r]
            cost_u = snap * off + along * street
            cost_v = snap * off + (access.edge_m[r] - along) * street
            weights = (off, street, costs.door_off_road)
        via_u = cost_u + search.distance[u]
        via_v = cost_v + search.distance[v]
        to_u, to_v = search.destination[u], search.destination[v]
        take_v = via_v < via_u
        cost = np.where(take_v, via_v, via_u)
        length = np.where(take_v, walk_v + metres[v], walk_u + metres[u])
        first = np.where(take_v, to_v, to_u)
        origin = np.where(take_v, v, u)
        direct, direct_m, direct_to = _along_one_street(
            access.edge[r], along, snap, doors, sites, None, weights
        )
        take = direct < cost
        cost[take], length[take], first[take] = direct[take], direct_m[take], direct_to[take]
        origin[take] = search.n_nodes + direct_to[take]  # the destination's access point
        zone: FloatArray | None = None
        if costs is not None:
            assert search.costly_metres is not None
            costly = costs.home_street[r] > 1.0
            zone = np.where(
                take_v,
                np.where(costly, access.edge_m[r] - along, 0.0) + search.costly_metres[v],
                np.where(costly, along, 0.0) + search.costly_metres[u],
            )
            door_along = doors.along_m[np.maximum(direct_to, 0)]
            zone[take] = np.where(costly, np.abs(along - door_along), 0.0)[take]

        # Per resident the cheapest of its rows (ties to the first row: the access point).
        owner = home[r]
        order = np.lexsort((r, cost, owner))
        best = order[np.r_[True, owner[order][1:] != owner[order][:-1]]] if r.size else order
        self.routed = owner[best]
        self.row = r[best]
        self.length, self.first, self.origin = length[best], first[best], origin[best]
        self.zone_m = None if zone is None else zone[best]

        # The alternative: over all rows, to another site than the resident's first choice.
        which = np.searchsorted(self.routed, owner)  # each row's resident among the routed
        chosen = first[best][which]
        first_site = _site_of(sites, chosen)
        alt_cost = np.full(r.size, np.inf)
        alt_length = np.full(r.size, np.inf)
        alt = np.full(r.size, -1, dtype=np.intp)
        for node, walk, walk_cost in ((u, walk_u, cost_u), (v, walk_v, cost_v)):
            nearest = search.destination[node]
            other = _site_of(sites, nearest) != first_site
            way = walk_cost + np.where(other, search.distance[node], search.alt_distance[node])
            to = np.where(other, nearest, search.alt_destination[node])
            better = (way < alt_cost) & (to >= 0) & (chosen >= 0)
            alt_cost[better], alt[better] = way[better], to[better]
            alt_length[better] = (walk + np.where(other, metres[node], alt_metres[node]))[better]
        direct, direct_m, direct_to = _along_one_street(
            access.edge[r], along, snap, doors, sites, first_site, weights
        )
        better = (direct < alt_cost) & (chosen >= 0)
        alt_cost[better], alt_length[better], alt[better] = (
            direct[better],
            direct_m[better],
            direct_to[better],
        )
        order = np.lexsort((r, alt_cost, owner))
        best_alt = order[np.r_[True, owner[order][1:] != owner[order][:-1]]] if r.size else order
        self.alt, self.alt_length = alt[best_alt], alt_length[best_alt]


def _site_of(sites: IntArray, destination: IntArray) -> IntArray:
    """Site of each destination index (``-1`` for none)."""
    if sites.size == 0:
        return np.full(destination.shape, -1, dtype=np.intp)
    return np.where(destination >= 0, sites[np.maximum(destination, 0)], -1)


def _along_one_street(
    edge: IntArray,
    along: FloatArray,
    snap: FloatArray,
    doors: Access,
    sites: IntArray,
    not_site: IntArray | None,
    weights: tuple[FloatArray, FloatArray, FloatArray] | None = None,
) -> tuple[FloatArray, FloatArray, IntArray]:
    """Walks straight along the home's own street to a destination joined to that street.

    Per resident: the cheapest such walk, its metres and its destination (``inf``/``inf``/
    ``-1`` when none), not counting destinations of ``not_site``. ``weights`` are the cost
    factors (home's walk to the street, the street, per destination its walk from the street);
    without them cost is metres. Vectorised over residents; the loop runs as many times as
    the most destinations share one street (one or two).
    """
    best = np.full(edge.size, np.inf)
    best_m = best if weights is None else np.full(edge.size, np.inf)
    to = np.full(edge.size, -1, dtype=np.intp)
    on_edge = np.flatnonzero(doors.edge >= 0)
    if on_edge.size == 0 or edge.size == 0:
        return best, best_m, to
    order = on_edge[np.argsort(doors.edge[on_edge], kind="stable")]
    keys = doors.edge[order]
    low = np.searchsorted(keys, edge, side="left")
    high = np.searchsorted(keys, edge, side="right")
    width = np.where(edge >= 0, high - low, 0)
    for j in range(int(width.max(initial=0))):
        who = np.flatnonzero(width > j)
        d = order[low[who] + j]
        metres = snap[who] + np.abs(along[who] - doors.along_m[d]) + doors.distance_m[d]
        if weights is None:
            cost = metres
        else:
            off, street, door_off = weights
            cost = (
                snap[who] * off[who]
                + np.abs(along[who] - doors.along_m[d]) * street[who]
                + doors.distance_m[d] * door_off[d]
            )
        if not_site is not None:
            cost = np.where(sites[d] == not_site[who], np.inf, cost)
        better = cost < best[who]
        best[who[better]], to[who[better]] = cost[better], d[better]
        if weights is not None:
            best_m[who[better]] = metres[better]
    return best, best_m, to


def _sites(doors: Access) -> IntArray:
    """A site number per destination: those within :data:`SAME_SITE_M` of each other share one.

    Measured between the destinations themselves (not where they join the road).
    """
    k = len(doors)
    if k < 2:
        return np.arange(k, dtype=np.intp)
    xy = np.column_stack((doors.x, doors.y))
    if k <= 300:  # all pairs at once is cheaper than a tree at these sizes
        near = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) < SAME_SITE_M
        pairs = np.argwhere(np.triu(near, 1))
    else:
        pairs = cKDTree(xy).query_pairs(SAME_SITE_M, output_type="ndarray")
    if pairs.size == 0:
        return np.arange(k, dtype=np.intp)
    linked = coo_array((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(k, k))
    _, labels = connected_components(linked, directed=False)
    return np.asarray(labels, dtype=np.intp)
