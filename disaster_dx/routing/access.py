"""Where points join the network: nearest node, nearest point on the nearest street, ties.

:func:`nearest_nodes` snaps points to nodes with a KD-tree; :func:`access_points` finds the
exact nearest point on the nearest street (:class:`Access`), vectorised over all points;
:func:`access_ties` adds every other spot just as near (within :data:`TIE_M`), so a search
joins a point at each of them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import ArrayLike, NDArray

from disaster_dx.routing.graph import STREET_SAMPLE_M, RoadGraph
from disaster_dx.routing.plane import NO_NODE, FloatArray, IntArray, project, to_lonlat


def nearest_nodes(graph: RoadGraph, lon: ArrayLike, lat: ArrayLike) -> tuple[IntArray, FloatArray]:
    """The nearest graph node to each point, and how far it is (metres, straight line).

    One KD-tree query over projected coordinates for all points at once; the tree is built
    on the first call and kept on the graph. The snap distance is returned so callers can
    add the walk to the road and flag people far from any street (a snap of several hundred
    metres usually means a missing road, not a long walk).

    Parameters
    ----------
    lon, lat
        Points in degrees (EPSG:4326); scalars or arrays of one shape.

    Returns
    -------
    nodes
        Node index per point (1-D, even for scalar input).
    distance
        Straight-line distance to that node in metres.

    Raises
    ------
    ValueError
        If the graph has no nodes or a coordinate is not finite.
    """
    if graph.n_nodes == 0:
        raise ValueError("cannot snap to a graph without nodes")
    lon_a = np.atleast_1d(np.asarray(lon, dtype=float)).ravel()
    lat_a = np.atleast_1d(np.asarray(lat, dtype=float)).ravel()
    if lon_a.shape != lat_a.shape:
        raise ValueError(f"lon has {lon_a.size} entries but lat has {lat_a.size}")
    bad = ~(np.isfinite(lon_a) & np.isfinite(lat_a))
    if bad.any():
        raise ValueError(f"points {np.flatnonzero(bad)[:10].tolist()} have no finite lon/lat")
    x, y = project(lon_a, lat_a)
    distance, index = graph.kdtree.query(np.column_stack((x, y)))
    return np.asarray(index, dtype=np.intp), np.asarray(distance, dtype=float)


@dataclass(frozen=True, eq=False)
class Access:
    """Where each point joins the network: the nearest point on the nearest edge.

    A walk from a point goes straight to its access point (``distance_m``, at ``lon``/``lat``),
    then along its edge: ``along_m`` metres to node ``u`` or ``edge_m − along_m`` to node ``v``.
    Counting both walks (and not only the nearest *node*) is what makes door-to-door distances
    exact: a home halfway along a 200 m street is 100 m from either corner, not 0.

    A point nearest to a node without edges joins at that node (``u == v``, ``edge_m == 0``,
    ``edge == -1``); a point without a position has ``u == -1`` and ``distance_m`` ``inf``.
    ``x``/``y`` are the point itself in :data:`PROJECTED_CRS` (NaN without a position).
    """

    edge: IntArray
    u: IntArray
    v: IntArray
    along_m: FloatArray
    edge_m: FloatArray
    distance_m: FloatArray
    lon: FloatArray
    lat: FloatArray
    x: FloatArray
    y: FloatArray

    def __len__(self) -> int:
        return int(self.u.size)

    @property
    def joined(self) -> NDArray[np.bool_]:
        """Which points have an access point (a position and a non-empty graph)."""
        return self.u >= 0

    def take(self, which: IntArray) -> Access:
        """The access of the points ``which`` only (same order)."""
        return Access(
            *(
                np.asarray(getattr(self, f.name)[which])
                for f in fields(self)  # every field is a per-point array
            )
        )


def access_points(graph: RoadGraph, lon: ArrayLike, lat: ArrayLike) -> Access:
    """The nearest point on the nearest edge for every point (NaN positions stay unjoined).

    Exact and vectorised over all points (:meth:`StreetIndex.nearest`, built on the first call
    and kept on the graph); edge geometries are followed, so a curved street is joined where it
    really passes. Distances along an edge are scaled to the edge's length, so they add up
    with the network's lengths exactly.
    """
    lon_a = np.atleast_1d(np.asarray(lon, dtype=float)).ravel()
    lat_a = np.atleast_1d(np.asarray(lat, dtype=float)).ravel()
    if lon_a.shape != lat_a.shape:
        raise ValueError(f"lon has {lon_a.size} entries but lat has {lat_a.size}")
    m = lon_a.size
    edge = np.full(m, NO_NODE, dtype=np.intp)
    u = np.full(m, NO_NODE, dtype=np.intp)
    along = np.zeros(m)
    edge_m = np.zeros(m)
    distance = np.full(m, np.inf)
    ax = np.full(m, np.nan)
    ay = np.full(m, np.nan)
    located = np.flatnonzero(np.isfinite(lon_a) & np.isfinite(lat_a))
    px = np.full(m, np.nan)
    py = np.full(m, np.nan)
    if located.size and graph.n_nodes:
        x, y = project(lon_a[located], lat_a[located])
        px[located], py[located] = x, y
        if graph.n_edges:
            streets = graph.street_index
            seg, t, found = streets.nearest(x, y)
            e = streets.edge[seg]
            plane = streets.plane_m[e]
            on_plane = streets.start_m[seg] + t * np.hypot(streets.dx[seg], streets.dy[seg])
            fraction = np.divide(on_plane, plane, out=np.zeros_like(plane), where=plane > 0)
            edge[located] = e
            u[located] = graph.edge_u[e]
            edge_m[located] = graph.edge_length[e]
            along[located] = np.clip(fraction, 0.0, 1.0) * edge_m[located]
            distance[located] = found
            ax[located] = streets.x0[seg] + t * streets.dx[seg]
            ay[located] = streets.y0[seg] + t * streets.dy[seg]
        if graph.isolated.any():  # only a node without streets can be nearer than every street
            node_distance, node = graph.kdtree.query(np.column_stack((x, y)), workers=-1)
            node = np.asarray(node, dtype=np.intp)
            closer = graph.isolated[node] & (node_distance < distance[located])
            who = located[closer]
            node = node[closer]
            edge[who], u[who], along[who], edge_m[who] = NO_NODE, node, 0.0, 0.0
            distance[who] = node_distance[closer]
            ax[who], ay[who] = graph.x[node], graph.y[node]
    v = u.copy()
    on_edge = edge >= 0
    v[on_edge] = graph.edge_v[edge[on_edge]]
    access_lon, access_lat = to_lonlat().transform(ax, ay)
    return Access(
        edge=edge,
        u=u,
        v=v,
        along_m=along,
        edge_m=edge_m,
        distance_m=distance,
        lon=np.asarray(access_lon, dtype=float),
        lat=np.asarray(access_lat, dtype=float),
        x=px,
        y=py,
    )


#: Metres within which other spots of the network count as exactly as near a point as its
#: access point (:func:`access_ties`): a millimetre is far above rounding and far below
#: anything a walker could tell apart.
TIE_M = 1e-3
#: Metres within which two spots are one (a street's end reached by rounding): only these are
#: not repeated; spots a hair apart stay apart, so distances stay exact to the micrometre.
_SAME_SPOT_M = 1e-9


def access_ties(graph: RoadGraph, access: Access) -> tuple[Access, IntArray]:
    """Every spot of the network as near each point as its access point: rows and their owner.

    :func:`access_points` names one nearest spot, but several can be equally near: where two
    streets end at one place without sharing a node (duplicated or unjoined nodes, a node
    without streets on a corner), where streets overlap, or midway between two streets. Which
    one it names is arbitrary, and a resident standing there can step onto any of them; so a
    search that starts (or ends) at a point joins it at all of them (within :data:`TIE_M`).

    Returns ``rows`` — ``access`` itself first (row ``i`` is point ``i``), then one row per
    further spot — and ``owner``, the point of each row. Spots that are the same node as the
    point's own access point (a corner where several streets meet) are not repeated.
    """
    n = len(access)
    owner = np.arange(n, dtype=np.intp)
    joined = np.flatnonzero(access.joined & np.isfinite(access.x) & np.isfinite(access.distance_m))
    if joined.size == 0:
        return access, owner
    px, py = access.x[joined], access.y[joined]
    reach = access.distance_m[joined] + TIE_M
    parts: list[tuple[IntArray, IntArray, FloatArray, FloatArray, FloatArray, FloatArray]] = []
    if graph.n_edges:
        streets = graph.street_index
        hits = streets.tree.query_ball_point(
            np.column_stack((px, py)), reach + STREET_SAMPLE_M / 2, workers=-1
        )
        counts = np.fromiter((len(h) for h in hits), dtype=np.intp, count=joined.size)
        if counts.sum():
            who = np.repeat(np.arange(joined.size, dtype=np.intp), counts)
            sample = np.concatenate([np.asarray(h, dtype=np.intp) for h in hits if len(h)])
            pairs = np.unique(np.column_stack((who, streets.sample_segment[sample])), axis=0)
            who, seg = pairs[:, 0], pairs[:, 1]
            dx, dy = streets.dx[seg], streets.dy[seg]
            span = dx * dx + dy * dy
            with np.errstate(invalid="ignore", divide="ignore"):
                t = ((px[who] - streets.x0[seg]) * dx + (py[who] - streets.y0[seg]) * dy) / span
            t = np.clip(np.nan_to_num(t, nan=0.0), 0.0, 1.0)
            ax, ay = streets.x0[seg] + t * dx, streets.y0[seg] + t * dy
            d = np.hypot(ax - px[who], ay - py[who])
            keep = d <= reach[who]
            who, seg, t, ax, ay, d = who[keep], seg[keep], t[keep], ax[keep], ay[keep], d[keep]
            e = streets.edge[seg]
            plane = streets.plane_m[e]
            on_plane = streets.start_m[seg] + t * np.hypot(streets.dx[seg], streets.dy[seg])
            fraction = np.divide(on_plane, plane, out=np.zeros_like(plane), where=plane > 0)
            along = np.clip(fraction, 0.0, 1.0) * graph.edge_length[e]
            parts.append((who, e, along, d, ax, ay))
    if graph.isolated.any():
        near = graph.kdtree.query_ball_point(np.column_stack((px, py)), reach, workers=-1)
        counts = np.fromiter((len(h) for h in near), dtype=np.intp, count=joined.size)
        if counts.sum():
            who = np.repeat(np.arange(joined.size, dtype=np.intp), counts)
            node = np.concatenate([np.asarray(h, dtype=np.intp) for h in near if len(h)])
            d = np.hypot(graph.x[node] - px[who], graph.y[node] - py[who])
            keep = graph.isolated[node] & (d <= reach[who])
            who, node, d = who[keep], node[keep], d[keep]
            no_edge = np.full(node.size, NO_NODE, dtype=np.intp)
            # an isolated node is told apart from edges by edge == -1; ``along`` carries it
            parts.append((who, no_edge, node.astype(float), d, graph.x[node], graph.y[node]))
    if not parts:
        return access, owner
    who = np.concatenate([p[0] for p in parts])
    edge = np.concatenate([p[1] for p in parts])
    along = np.concatenate([p[2] for p in parts])
    distance = np.concatenate([p[3] for p in parts])
    ax = np.concatenate([p[4] for p in parts])
    ay = np.concatenate([p[5] for p in parts])
    point = joined[who]
    on_edge = edge >= 0
    node = np.where(on_edge, NO_NODE, along.astype(np.intp))
    along = np.where(on_edge, along, 0.0)
    u, v, edge_m = node.copy(), node.copy(), np.zeros(edge.size)
    u[on_edge], v[on_edge] = graph.edge_u[edge[on_edge]], graph.edge_v[edge[on_edge]]
    edge_m[on_edge] = graph.edge_length[edge[on_edge]]
    # The node a spot is at (a street's end, or a node without streets), -1 inside a street.
    corner = np.where(
        along <= _SAME_SPOT_M, u, np.where(edge_m - along <= _SAME_SPOT_M, v, NO_NODE)
    )
    own_along = access.along_m[point]
    own_edge_m = access.edge_m[point]
    own_corner = np.where(
        own_along <= _SAME_SPOT_M,
        access.u[point],
        np.where(own_edge_m - own_along <= _SAME_SPOT_M, access.v[point], NO_NODE),
    )
    same = (corner >= 0) & (corner == own_corner)
    same |= on_edge & (edge == access.edge[point]) & (np.abs(along - own_along) <= _SAME_SPOT_M)
    same |= ~on_edge & (access.edge[point] < 0) & (u == access.u[point])
    # One row per further spot: the same corner or the same place on one street only once.
    key = np.where(corner >= 0, -1 - corner, edge)
    order = np.lexsort((along, key, point))
    order = order[~same[order]]
    repeat = np.zeros(order.size, dtype=bool)
    repeat[1:] = (
        (point[order][1:] == point[order][:-1])
        & (key[order][1:] == key[order][:-1])
        & ((corner[order][1:] >= 0) | (np.diff(along[order]) <= _SAME_SPOT_M))
    )
    order = order[~repeat]
    if order.size == 0:
        return access, owner
    lon, lat = to_lonlat().transform(ax[order], ay[order])
    extra = Access(
        edge=edge[order],
        u=u[order],
        v=v[order],
        along_m=along[order],
        edge_m=edge_m[order],
        distance_m=distance[order],
        lon=np.asarray(lon, dtype=float),
        lat=np.asarray(lat, dtype=float),
        x=access.x[point[order]],
        y=access.y[point[order]],
    )
    rows = Access(
        *(np.concatenate((getattr(access, f.name), getattr(extra, f.name))) for f in fields(Access))
    )
    return rows, np.concatenate((owner, point[order]))
