"""Walking routes on a road graph held as CSR arrays: nearest destination for every node at once.

Individual evacuation plans (個別避難計画) ask the same question for tens of thousands of
residents: *which usable shelter is nearest on foot, by which streets, and how long does it
take at this person's walking speed?* Asking it per resident (one Dijkstra each) is hopeless
at city scale, and even networkx's multi-source Dijkstra spends most of its time building
Python lists. So the graph lives in flat numpy arrays and one compressed sparse row (CSR)
matrix, and the question is answered in three vectorised steps:

1. :func:`nearest_nodes` snaps every origin to the road network with a KD-tree over the
   projected node coordinates;
2. :func:`nearest_destinations` runs **one** multi-source Dijkstra
   (``scipy.sparse.csgraph.dijkstra(..., indices=destinations, min_only=True)``) that gives,
   for every node, the distance to the nearest destination, which destination that is, and
   the predecessor tree pointing back towards it;
3. :func:`routes_from_predecessors` walks that tree for all origins at once, one hop per numpy
   step, and returns every route as one flat node array plus offsets.

Re-planning after a shelter closes or fills is step 2 and 3 again with one destination fewer
(a few tens of milliseconds), and :func:`block_edges` drops streets inside a flooded or
burning area before searching.

Distances are metres measured in JGD2011 平面直角座標系 第IV系 (:data:`PROJECTED_CRS`,
EPSG:6672), the plane rectangular zone that covers Kochi; nodes also keep lon/lat (EPSG:4326)
for maps. Walking is undirected: one-way restrictions for cars do not apply to people on foot.

Unreachable is always explicit: a distance of ``inf``, a node index of ``-1`` and an empty
route, never a silent zero.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from functools import cache, cached_property
from types import MappingProxyType
from typing import Any, Literal, Protocol

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj import Transformer
from scipy.sparse import csr_array
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from disaster_dx.errors import Problem, ValidationError

log = logging.getLogger(__name__)

#: The CRS node lon/lat are stored in.
GEOGRAPHIC_CRS = "EPSG:4326"
#: The plane CRS every distance is measured in: JGD2011 平面直角座標系 第IV系 (Shikoku, Kochi).
PROJECTED_CRS = "EPSG:6672"

#: Default walking speeds (m/s) by mobility class. Evacuation-planning guidance commonly uses
#: about 1.0 m/s for an unaided adult and slower speeds for elderly people and wheelchair
#: users; a city may pass its own table to :func:`walking_minutes`.
WALKING_SPEED_M_S: Mapping[str, float] = MappingProxyType(
    {"independent": 1.0, "elderly": 0.7, "wheelchair": 0.5, "with_helper": 0.5}
)

#: Marker for "no node" in every index array this module returns.
NO_NODE = -1

IntArray = NDArray[np.intp]
FloatArray = NDArray[np.float64]


class Columns(Protocol):
    """Anything indexable by column name: a ``dict`` of arrays or a (Geo)DataFrame."""

    def __getitem__(self, key: str, /) -> Any: ...

    def __contains__(self, key: object, /) -> bool: ...


@cache
def to_plane() -> Transformer:
    """The lon/lat → EPSG:6672 transformer, built once per process (creation is slow)."""
    return Transformer.from_crs(GEOGRAPHIC_CRS, PROJECTED_CRS, always_xy=True)


@cache
def to_lonlat() -> Transformer:
    """The EPSG:6672 → lon/lat transformer, built once per process."""
    return Transformer.from_crs(PROJECTED_CRS, GEOGRAPHIC_CRS, always_xy=True)


def project(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Lon/lat (degrees) → plane x/y (metres, EPSG:6672), vectorised."""
    x, y = to_plane().transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


# -- the graph --------------------------------------------------------------------------------


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


def _project_coords(coords: FloatArray) -> FloatArray:
    x, y = to_plane().transform(coords[:, 0], coords[:, 1])
    return np.column_stack((x, y))


def graph_from_edges(
    nodes: Columns,
    edges: Columns,
    *,
    blocked: shapely.Geometry | Sequence[shapely.Geometry] | None = None,
) -> RoadGraph:
    """Build a :class:`RoadGraph` from node and edge tables that refer to nodes by id.

    The usual hand-over from an importer or a (Geo)DataFrame: nodes carry ``lon``/``lat``
    and optionally ``node_id``; edges carry ``u``/``v`` (node ids) and optionally ``length``
    (metres) and ``geometry`` (lon/lat LineStrings). Every problem is collected and reported
    at once, each naming its row, so a bad table is fixed in one pass.

    Parameters
    ----------
    nodes
        Columns ``lon``, ``lat`` and optional ``node_id`` (default: row number).
    edges
        Columns ``u``, ``v`` and optional ``length`` and ``geometry``.
    blocked
        Areas (lon/lat polygons) whose streets are impassable, e.g. a flood in progress;
        see :func:`block_edges`.

    Raises
    ------
    ValidationError
        Listing every row with a missing column, bad coordinate, unknown node id, duplicated
        node id or bad length.
    """
    problems: list[Problem] = []
    for table, name, required in (
        (nodes, "nodes", ("lon", "lat")),
        (edges, "edges", ("u", "v")),
    ):
        problems.extend(Problem(name, f"missing column {c!r}") for c in required if c not in table)
    if problems:
        raise ValidationError("road network", problems)
    lon, _ = _float_column(nodes["lon"])  # junk is NaN, reported as a bad lon/lat below
    lat, _ = _float_column(nodes["lat"])
    ids = np.asarray(nodes["node_id"]) if "node_id" in nodes else np.arange(lon.size)
    bad = ~(np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90))
    problems.extend(
        Problem(f"node row {i}", f"bad lon/lat ({lon[i]}, {lat[i]})") for i in np.flatnonzero(bad)
    )
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    repeated = np.flatnonzero(sorted_ids[1:] == sorted_ids[:-1])
    problems.extend(
        Problem(f"node row {order[i + 1]}", f"node_id {_show(sorted_ids[i])} repeated")
        for i in repeated
    )
    u_pos = _positions(np.asarray(edges["u"]), sorted_ids, order, "u", problems)
    v_pos = _positions(np.asarray(edges["v"]), sorted_ids, order, "v", problems)
    length = None
    if "length" in edges:
        cells = np.asarray(edges["length"], dtype=object).ravel()
        length, junk = _float_column(cells)
        bad_len = junk | np.isinf(length) | (length < 0)
        problems.extend(
            Problem(f"edge row {i}", f"bad length {_show(cells[i])} (metres ≥ 0)")
            for i in np.flatnonzero(bad_len)
        )
    geometry = np.asarray(edges["geometry"], dtype=object) if "geometry" in edges else None
    if geometry is not None:
        wrong = ~shapely.is_missing(geometry) & (
            shapely.get_type_id(geometry) != shapely.GeometryType.LINESTRING
        )
        problems.extend(
            Problem(f"edge row {i}", "geometry is not a LineString") for i in np.flatnonzero(wrong)
        )
    if problems:
        raise ValidationError("road network", problems)
    graph = graph_from_arrays(lon, lat, u_pos, v_pos, length, node_ids=ids, edge_geometry=geometry)
    return graph if blocked is None else block_edges(graph, blocked)


def _float_column(values: Any) -> tuple[FloatArray, NDArray[np.bool_]]:
    """Numbers of a column, and which cells held something that is not a number.

    Blank cells (``None``, ``""``, NaN) are NaN and not flagged: a missing length is measured.
    """
    try:
        numbers = np.asarray(values, dtype=float).ravel()
        return numbers, np.zeros(numbers.size, dtype=bool)
    except (TypeError, ValueError):
        # Fall back per value so each bad cell is reported instead of one exception.
        cells = list(values)
        parsed = [_to_float(v) for v in cells]
        numbers = np.array([np.nan if p is None else p for p in parsed], dtype=float)
        return numbers, np.array([p is None for p in parsed], dtype=bool)


def _show(value: Any) -> str:
    """``repr`` of a cell as a person wrote it (``2``, not ``np.int64(2)``)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _to_float(value: Any) -> float | None:
    """The number in a cell; NaN when blank, ``None`` when it holds something else."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return float("nan")
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _positions(
    ids: NDArray[Any],
    sorted_ids: NDArray[Any],
    order: IntArray,
    column: str,
    problems: list[Problem],
) -> IntArray:
    """Node positions of ``ids``, reporting ids that are not nodes."""
    if sorted_ids.size == 0:
        problems.extend(
            Problem(f"edge row {i}", f"{column} refers to no node") for i in range(ids.size)
        )
        return np.zeros(ids.size, dtype=np.intp)
    try:
        where = np.searchsorted(sorted_ids, ids)
    except TypeError:  # e.g. int node ids and str edge ends: nothing can match
        where = np.zeros(ids.size, dtype=np.intp)
        found = np.zeros(ids.size, dtype=bool)
    else:
        where = np.minimum(where, sorted_ids.size - 1)
        found = sorted_ids[where] == ids
    problems.extend(
        Problem(f"edge row {i}", f"{column}={_show(ids[i])} is not a node id")
        for i in np.flatnonzero(~found)
    )
    return np.asarray(order[where], dtype=np.intp)


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


# -- snapping ---------------------------------------------------------------------------------


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


# -- search -----------------------------------------------------------------------------------


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


# -- routes -----------------------------------------------------------------------------------


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


# -- walking times ----------------------------------------------------------------------------


def walking_minutes(
    length_m: ArrayLike,
    mobility: str | Sequence[str] | NDArray[Any],
    *,
    speeds: Mapping[str, float] = WALKING_SPEED_M_S,
) -> FloatArray:
    """Minutes to walk ``length_m`` at the speed of each person's mobility class.

    Parameters
    ----------
    length_m
        Route lengths in metres (``inf`` stays ``inf``: unreachable is never "0 minutes").
    mobility
        One class for everyone, or one per length; keys of ``speeds``.
    speeds
        Walking speed in m/s per class; defaults to :data:`WALKING_SPEED_M_S`.

    Raises
    ------
    ValueError
        If a class is not in ``speeds`` or a speed is not positive.
    """
    lengths = np.asarray(length_m, dtype=float)
    bad_speed = sorted(k for k, s in speeds.items() if not s > 0)
    if bad_speed:
        raise ValueError(f"walking speeds must be > 0 m/s: {', '.join(bad_speed)}")
    classes = np.asarray(mobility)
    known, inverse = np.unique(classes, return_inverse=True)
    unknown = [str(c) for c in known if str(c) not in speeds]
    if unknown:
        raise ValueError(
            f"unknown mobility class(es) {', '.join(map(repr, unknown))}; "
            f"use one of {', '.join(speeds)}"
        )
    speed = np.array([speeds[str(c)] for c in known], dtype=float)[inverse.reshape(classes.shape)]
    return np.asarray(lengths / speed / 60.0, dtype=float)
