"""The road graph: flat node arrays and one CSR matrix of edge lengths in metres.

:class:`RoadGraph` holds an undirected walking network; :func:`graph_from_arrays` builds one
from node positions and edges (self-loops dropped, parallel edges reduced to the shortest),
:func:`edge_lengths` looks edges up in bulk and :func:`block_edges` drops the streets inside
impassable areas. :class:`StreetIndex` (every street as straight segments with a KD-tree
over points along them) lives here because the graph builds and keeps it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Literal

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from scipy.sparse import csr_array
from scipy.spatial import cKDTree

from disaster_dx.routing.plane import FloatArray, IntArray, _project_coords, project

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class RoadGraph:
    """An undirected walking network as flat arrays.

    Node ``i`` is position ``i`` of every node array. Each undirected edge is stored once, as
    the entry ``csr[a, b]`` with ``a < b`` holding its length in metres; parallel edges were
    reduced to the shortest and self-loops dropped, so the CSR data array *is* the edge list
    (``edge_u``, ``edge_v``, ``edge_length`` are views of it) and ``edge_geometry`` lines up
    with it. Zero-length edges are kept as explicit entries (csgraph treats an explicit zero
    as an edge).

    Build one with :func:`graph_from_edges` or :func:`graph_from_arrays` (or a reader in
    :mod:`disaster_dx.io.roads`) rather than directly: they validate and normalise the
    edges.

    Parameters
    ----------
    node_ids
        Identifiers of the nodes in the source data (OSM ids, or ``0..n-1``).
    lon, lat
        Node positions, EPSG:4326 degrees.
    x, y
        Node positions in :data:`PROJECTED_CRS`, metres.
    csr
        ``(n, n)`` upper-triangular CSR matrix of edge lengths in metres, indices sorted.
    edge_geometry
        Optional shapely LineStrings (lon/lat) per edge, in CSR data order, each running from
        node ``edge_u`` to node ``edge_v``; ``None`` means straight lines between the nodes.
    """

    node_ids: NDArray[Any]
    lon: FloatArray
    lat: FloatArray
    x: FloatArray
    y: FloatArray
    csr: csr_array
    edge_geometry: NDArray[np.object_] | None = field(default=None)

    def __post_init__(self) -> None:
        n = self.node_ids.shape[0]
        if not all(a.shape == (n,) for a in (self.lon, self.lat, self.x, self.y)):
            raise ValueError("node arrays must all have one entry per node")
        if self.csr.shape != (n, n):
            raise ValueError(f"csr must be {n}×{n}, got {self.csr.shape}")
        if self.edge_geometry is not None and self.edge_geometry.shape != (self.csr.nnz,):
            raise ValueError("edge_geometry must have one entry per edge")

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.node_ids.shape[0])

    @property
    def n_edges(self) -> int:
        """Number of undirected edges."""
        return int(self.csr.nnz)

    @property
    def edge_u(self) -> IntArray:
        """First (smaller) node index of each edge, in CSR data order."""
        counts = np.diff(self.csr.indptr)
        return np.repeat(np.arange(self.n_nodes, dtype=np.intp), counts)

    @property
    def edge_v(self) -> IntArray:
        """Second (larger) node index of each edge, in CSR data order."""
        return np.asarray(self.csr.indices, dtype=np.intp)

    @property
    def edge_length(self) -> FloatArray:
        """Length of each edge in metres, in CSR data order."""
        return np.asarray(self.csr.data, dtype=float)

    @cached_property
    def kdtree(self) -> Any:
        """KD-tree over projected node coordinates, built on first use and kept."""
        return cKDTree(np.column_stack((self.x, self.y)))

    @cached_property
    def street_index(self) -> StreetIndex:
        """Every street as straight segments in metres, with a KD-tree over points along them.

        Built on first use and kept (see :func:`access_points`).
        """
        return StreetIndex.build(self)

    @cached_property
    def plane_lines(self) -> NDArray[np.object_]:
        """Edge lines in metres (:data:`PROJECTED_CRS`), each from ``edge_u`` to ``edge_v``."""
        u, v = self.edge_u, self.edge_v
        straight = np.asarray(
            shapely.linestrings(
                np.stack(
                    (
                        np.column_stack((self.x[u], self.y[u])),
                        np.column_stack((self.x[v], self.y[v])),
                    ),
                    axis=1,
                ).reshape(-1, 2, 2)
            ),
            dtype=object,
        )
        if self.edge_geometry is None:
            return straight
        has = ~shapely.is_missing(self.edge_geometry)
        lines = straight.copy()
        if has.any():
            lines[has] = shapely.transform(self.edge_geometry[has], _project_coords)
        return lines

    @cached_property
    def both_ways(self) -> tuple[IntArray, IntArray, FloatArray, IntArray]:
        """Every street in both directions as CSR arrays ``(indptr, indices, data, rows)``.

        For directed searches that grow extra rows (:func:`door_search`): csgraph's undirected
        mode transposes the matrix on every call, which this does once per graph.
        """
        rows = np.concatenate((self.edge_u, self.edge_v))
        cols = np.concatenate((self.edge_v, self.edge_u))
        data = np.concatenate((self.edge_length, self.edge_length))
        order = self._both_ways_order
        indptr = np.zeros(self.n_nodes + 1, dtype=np.intp)
        np.cumsum(np.bincount(rows, minlength=self.n_nodes), out=indptr[1:])
        return indptr, cols[order], data[order], rows[order]

    @cached_property
    def both_ways_edge(self) -> IntArray:
        """The edge (CSR data position) of each :attr:`both_ways` entry, for per-edge costs."""
        return self._both_ways_order % max(self.n_edges, 1)

    @cached_property
    def _both_ways_order(self) -> IntArray:
        rows = np.concatenate((self.edge_u, self.edge_v))
        cols = np.concatenate((self.edge_v, self.edge_u))
        return np.lexsort((cols, rows)).astype(np.intp)

    @cached_property
    def memo(self) -> dict[Any, Any]:
        """A cache of answers derived from this graph alone, dropped with the graph.

        E.g. where fixed destinations join it (:func:`access_points` of every shelter).
        """
        return {}

    @cached_property
    def isolated(self) -> NDArray[np.bool_]:
        """Which nodes have no edge (a point may be nearer such a node than to any street)."""
        degree = np.bincount(self.edge_u, minlength=self.n_nodes) + np.bincount(
            self.edge_v, minlength=self.n_nodes
        )
        isolated: NDArray[np.bool_] = degree == 0
        return isolated

    @cached_property
    def _edge_keys(self) -> NDArray[np.int64]:
        # Row-major CSR with sorted indices makes ``u * n + v`` globally sorted: one
        # searchsorted then finds any batch of edges.
        return self.edge_u.astype(np.int64) * self.n_nodes + self.edge_v

    def edge_lines(self) -> NDArray[np.object_]:
        """Edge geometries in lon/lat: the stored ones, or straight node-to-node lines."""
        if self.edge_geometry is not None:
            return self.edge_geometry
        u, v = self.edge_u, self.edge_v
        coords = np.stack(
            (
                np.column_stack((self.lon[u], self.lat[u])),
                np.column_stack((self.lon[v], self.lat[v])),
            ),
            axis=1,
        )
        return np.asarray(shapely.linestrings(coords), dtype=object)


def graph_from_arrays(
    lon: ArrayLike,
    lat: ArrayLike,
    u: ArrayLike,
    v: ArrayLike,
    length: ArrayLike | None = None,
    *,
    node_ids: ArrayLike | None = None,
    edge_geometry: ArrayLike | None = None,
) -> RoadGraph:
    """Build a :class:`RoadGraph` from node positions and edges given by node *position*.

    Edges are normalised so the CSR matrix can be used directly by csgraph: self-loops are
    dropped (they never shorten a walk), each edge is oriented from the smaller to the larger
    node index (geometry reversed to match), and parallel edges keep only the shortest,
    because ``csr_array`` would otherwise *sum* duplicates into a length no street has.

    Parameters
    ----------
    lon, lat
        Node positions in degrees (EPSG:4326).
    u, v
        Node positions (``0..n-1``) of each edge's ends.
    length
        Edge lengths in metres. ``None`` or NaN entries are measured: the geometry's length in
        :data:`PROJECTED_CRS` when given, else the straight distance between the nodes.
    node_ids
        Source identifiers of the nodes; ``0..n-1`` when omitted.
    edge_geometry
        Optional shapely LineStrings in lon/lat, one per edge, running from ``u`` to ``v``.

    Raises
    ------
    ValueError
        If arrays disagree in length, an edge names a node position out of range, or a length
        is negative or infinite.
    """
    lon_a = np.asarray(lon, dtype=float).ravel()
    lat_a = np.asarray(lat, dtype=float).ravel()
    n = lon_a.size
    if lat_a.size != n:
        raise ValueError(f"lon has {n} entries but lat has {lat_a.size}")
    ids = np.arange(n) if node_ids is None else np.asarray(node_ids)
    if ids.shape != (n,):
        raise ValueError(f"node_ids must have {n} entries, got shape {ids.shape}")
    u_a = np.asarray(u, dtype=np.intp).ravel()
    v_a = np.asarray(v, dtype=np.intp).ravel()
    m = u_a.size
    if v_a.size != m:
        raise ValueError(f"u has {m} entries but v has {v_a.size}")
    if m and (min(u_a.min(), v_a.min()) < 0 or max(u_a.max(), v_a.max()) >= n):
        raise ValueError(f"edge node positions must lie in 0..{n - 1}")
    geometry = None if edge_geometry is None else np.asarray(edge_geometry, dtype=object).ravel()
    if geometry is not None and geometry.size != m:
        raise ValueError(f"edge_geometry must have {m} entries, got {geometry.size}")
    x, y = project(lon_a, lat_a)

    lengths = np.full(m, np.nan) if length is None else np.asarray(length, dtype=float).ravel()
    if lengths.size != m:
        raise ValueError(f"length must have {m} entries, got {lengths.size}")
    missing = np.isnan(lengths)
    if missing.any():
        lengths = lengths.copy()
        lengths[missing] = _measure(x, y, u_a[missing], v_a[missing], geometry, missing)
    if (lengths < 0).any() or np.isinf(lengths).any():
        bad = np.flatnonzero((lengths < 0) | np.isinf(lengths))
        raise ValueError(f"edge lengths must be finite and ≥ 0 (edges {bad[:10].tolist()})")

    keep = u_a != v_a
    a = np.minimum(u_a, v_a)[keep]
    b = np.maximum(u_a, v_a)[keep]
    lengths = lengths[keep]
    if geometry is not None:
        swapped = (u_a > v_a)[keep]
        geometry = geometry[keep]
        if swapped.any():
            geometry[swapped] = shapely.reverse(geometry[swapped])
    # Sort by (a, b, length): the first of each (a, b) run is the shortest parallel edge, and
    # the survivors are already in CSR order, so the data array lines up with the geometry.
    order = np.lexsort((lengths, b, a))
    a, b, lengths = a[order], b[order], lengths[order]
    first = np.ones(a.size, dtype=bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    a, b, lengths = a[first], b[first], lengths[first]
    if geometry is not None:
        geometry = geometry[order][first]
    index_dtype = np.int32 if max(n, a.size) < np.iinfo(np.int32).max else np.int64
    indptr = np.zeros(n + 1, dtype=index_dtype)
    np.cumsum(np.bincount(a, minlength=n), out=indptr[1:])
    matrix = csr_array((lengths, b.astype(index_dtype), indptr), shape=(n, n))
    matrix.has_sorted_indices = True
    dropped = m - a.size
    if dropped:
        log.debug("graph: dropped %d self-loop or parallel edge(s) of %d", dropped, m)
    return RoadGraph(
        node_ids=ids, lon=lon_a, lat=lat_a, x=x, y=y, csr=matrix, edge_geometry=geometry
    )


def _measure(
    x: FloatArray,
    y: FloatArray,
    u: IntArray,
    v: IntArray,
    geometry: NDArray[np.object_] | None,
    which: NDArray[np.bool_],
) -> FloatArray:
    """Length in metres of the ``which`` edges: projected geometry length, else straight."""
    straight = np.hypot(x[v] - x[u], y[v] - y[u])
    if geometry is None:
        return straight
    geoms = geometry[which]
    has = ~shapely.is_missing(geoms)
    if has.any():
        projected = shapely.transform(geoms[has], _project_coords)
        straight[has] = shapely.length(projected)
    return straight


#: Spacing (metres) of the points :class:`StreetIndex` samples along every street segment.
STREET_SAMPLE_M = 40.0


@dataclass(frozen=True, eq=False)
class StreetIndex:
    """Streets as straight segments in metres, for exact nearest-street queries in numpy.

    Segment ``i`` runs from ``(x0, y0)`` by ``(dx, dy)`` and belongs to edge ``edge[i]``;
    ``start_m`` is how far along its edge (in the plane) a segment starts; ``plane_m`` the
    plane length of each edge. ``tree`` holds points every :data:`STREET_SAMPLE_M` (at most)
    along every segment, ends included, and ``sample_segment`` says whose they are: the
    nearest point of a segment lies within half a spacing of one of its samples.
    """

    edge: IntArray
    x0: FloatArray
    y0: FloatArray
    dx: FloatArray
    dy: FloatArray
    start_m: FloatArray
    plane_m: FloatArray
    sample_segment: IntArray
    tree: Any

    @classmethod
    def build(cls, graph: RoadGraph) -> StreetIndex:
        """Split the graph's (projected) edge lines into segments and sample them."""
        coords, which = shapely.get_coordinates(graph.plane_lines, return_index=True)
        same = which[1:] == which[:-1]
        edge = np.asarray(which[:-1][same], dtype=np.intp)
        x0, y0 = coords[:-1][same].T
        x1, y1 = coords[1:][same].T
        dx, dy = x1 - x0, y1 - y0
        length = np.hypot(dx, dy)
        total = np.cumsum(length)
        first = np.searchsorted(edge, edge, side="left")  # edges come in order
        start = total - length - (total[first] - length[first])
        plane = np.bincount(edge, weights=length, minlength=graph.n_edges).astype(float)
        pieces = np.maximum(np.ceil(length / STREET_SAMPLE_M), 1).astype(np.intp)
        segment = np.repeat(np.arange(edge.size, dtype=np.intp), pieces + 1)
        offsets = np.concatenate(([0], np.cumsum(pieces + 1)[:-1]))
        t = (np.arange(segment.size) - offsets[segment]) / pieces[segment]
        samples = np.column_stack((x0[segment] + t * dx[segment], y0[segment] + t * dy[segment]))
        return cls(edge, x0, y0, dx, dy, start, plane, segment, cKDTree(samples))

    def nearest(self, x: FloatArray, y: FloatArray) -> tuple[IntArray, FloatArray, FloatArray]:
        """Per point: nearest segment, its parameter ``t`` in [0, 1] and the distance, exactly.

        A k-nearest sample query gives candidates; a point is settled once its k-th sample is
        farther than the nearest sample plus half a spacing (no other segment can be nearer),
        else asked again with a larger k. Ties go to the first segment.
        """
        m = x.size
        best = np.full(m, -1, dtype=np.intp)
        best_t = np.zeros(m)
        best_d = np.full(m, np.inf)
        n_samples = self.sample_segment.size
        todo = np.arange(m)
        k = 16
        while todo.size and n_samples:
            k = min(k, n_samples)
            found, index = self.tree.query(np.column_stack((x[todo], y[todo])), k=k, workers=-1)
            found, index = found.reshape(todo.size, k), index.reshape(todo.size, k)
            seg = self.sample_segment[index]
            px, py = x[todo][:, None], y[todo][:, None]
            dx, dy = self.dx[seg], self.dy[seg]
            span = dx * dx + dy * dy
            with np.errstate(invalid="ignore", divide="ignore"):
                t = ((px - self.x0[seg]) * dx + (py - self.y0[seg]) * dy) / span
            t = np.clip(np.nan_to_num(t, nan=0.0), 0.0, 1.0)
            d = np.hypot(self.x0[seg] + t * dx - px, self.y0[seg] + t * dy - py)
            pick = np.argmin(d, axis=1)
            rows = np.arange(todo.size)
            best[todo] = seg[rows, pick]
            best_t[todo] = t[rows, pick]
            best_d[todo] = d[rows, pick]
            settled = (found[:, -1] > found[:, 0] + STREET_SAMPLE_M / 2) | (k == n_samples)
            todo = todo[~settled]
            k *= 4
        return best, best_t, best_d


def edge_lengths(graph: RoadGraph, u: ArrayLike, v: ArrayLike) -> FloatArray:
    """Length in metres of the edges ``u[k]–v[k]`` (either order), NaN where there is none.

    Vectorised lookup (one ``searchsorted`` over the CSR keys), so checking or summing the
    legs of thousands of routes costs no Python loop.
    """
    u_a = np.asarray(u, dtype=np.int64)
    v_a = np.asarray(v, dtype=np.int64)
    keys = np.minimum(u_a, v_a) * graph.n_nodes + np.maximum(u_a, v_a)
    stored = graph._edge_keys
    out = np.full(keys.shape, np.nan)
    if stored.size == 0:
        return out
    where = np.minimum(np.searchsorted(stored, keys), stored.size - 1)
    found = stored[where] == keys
    out[found] = graph.edge_length[where[found]]
    return out


def block_edges(
    graph: RoadGraph,
    areas: shapely.Geometry | Sequence[shapely.Geometry] | NDArray[np.object_],
    *,
    rule: Literal["segment", "midpoint"] = "segment",
) -> RoadGraph:
    """A copy of ``graph`` without the streets that lie in impassable ``areas``.

    Nodes are kept (only edges go), so node indices of origins and destinations stay valid
    and people inside an area simply become unreachable rather than silently re-indexed.

    Parameters
    ----------
    areas
        Polygon(s) in lon/lat, e.g. an inundated area or a fire perimeter.
    rule
        ``"segment"`` (default, cautious): drop an edge whose line touches or crosses any
        area at all — a flooded stretch anywhere makes the street unusable. ``"midpoint"``:
        drop only edges whose midpoint lies inside an area, for coarse area outlines where
        the cautious rule would also cut streets merely running along the border.
    """
    geoms = np.asarray(areas, dtype=object).ravel()
    geoms = geoms[~shapely.is_missing(geoms)]
    if geoms.size == 0 or graph.n_edges == 0:
        return graph
    tree = shapely.STRtree(geoms)
    lines = graph.edge_lines()
    if rule == "segment":
        hits = tree.query(lines, predicate="intersects")[0]
    elif rule == "midpoint":
        mids = shapely.line_interpolate_point(lines, 0.5, normalized=True)
        hits = tree.query(mids, predicate="within")[0]
    else:
        raise ValueError(f"unknown rule {rule!r}; use 'segment' or 'midpoint'")
    drop = np.zeros(graph.n_edges, dtype=bool)
    drop[hits] = True
    log.info("blocked %d of %d edge(s) (%s rule)", int(drop.sum()), graph.n_edges, rule)
    return _without_edges(graph, drop)


def _without_edges(graph: RoadGraph, drop: NDArray[np.bool_]) -> RoadGraph:
    if not drop.any():
        return graph
    keep = ~drop
    counts = np.bincount(graph.edge_u[keep], minlength=graph.n_nodes)
    indptr = np.zeros(graph.n_nodes + 1, dtype=graph.csr.indptr.dtype)
    np.cumsum(counts, out=indptr[1:])
    matrix = csr_array(
        (graph.csr.data[keep], graph.csr.indices[keep], indptr), shape=graph.csr.shape
    )
    matrix.has_sorted_indices = True
    geometry = None if graph.edge_geometry is None else graph.edge_geometry[keep]
    smaller = replace(graph, csr=matrix, edge_geometry=geometry)
    if "kdtree" in graph.__dict__:  # same nodes: reuse the tree instead of rebuilding it
        smaller.__dict__["kdtree"] = graph.__dict__["kdtree"]
    return smaller
