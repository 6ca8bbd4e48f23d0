"""Walkable road networks in: OSMnx GraphML, line files, and a synthetic grid for demos.

Every reader returns a :class:`~disaster_dx.routing.RoadGraph` (lon/lat nodes, lengths in
metres measured in EPSG:6672) or raises one :class:`~disaster_dx.errors.ImportFileError`
listing every problem with the node, edge or feature it was found in, so nothing partial is
ever used for evacuation routes.

- :func:`graph_from_graphml` reads an OSMnx GraphML export (``ox.save_graphml``): node
  attributes ``x`` (lon) and ``y`` (lat), edge attributes ``length`` (metres) and optional
  ``geometry`` (WKT). OSMnx writes a two-way street as two directed edges; walking is
  undirected, so the shortest of any parallel edges is kept.
- :func:`graph_from_lines` reads a line layer (GeoPackage, GeoJSON, Shapefile) of
  (Multi)LineStrings, e.g. a road centre-line layer. Line *ends* within ``snap_m`` of each
  other become one node; by default lines are also split at interior vertices another line
  shares exactly or that another line's end snaps to, because many road layers are
  digitised as long polylines crossing at common vertices. Lines that merely cross without
  a common vertex are *not* connected: that is how bridges and underpasses are drawn.
- :func:`synthetic_grid_network` makes a plainly synthetic, seeded network (a jittered grid
  with streets removed and a few diagonals) for demos, tests and benchmarks. It is not any
  real town's road network.

:func:`graph_from_file` picks the reader from the file extension (:data:`READERS`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from numpy.typing import NDArray
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree
from scipy.spatial import cKDTree

from disaster_dx._parsing import check_size
from disaster_dx.errors import ImportFileError, Problem
from disaster_dx.routing import RoadGraph, graph_from_arrays, project, to_lonlat

if TYPE_CHECKING:
    import geopandas

log = logging.getLogger(__name__)

#: Default distance (metres) within which line ends are joined into one node.
SNAP_M = 1.0

_GRAPHML_NS = "http://graphml.graphdrawing.org/xmlns"
_LINE_TYPES = (shapely.GeometryType.LINESTRING, shapely.GeometryType.MULTILINESTRING)


def graph_from_file(path: Path | str, **options: Any) -> RoadGraph:
    """Read a road network, choosing the reader from the file extension.

    Parameters
    ----------
    path
        ``.graphml`` (OSMnx export), or a line layer: ``.gpkg``, ``.geojson``, ``.json``,
        ``.shp``.
    **options
        Passed to the reader, e.g. ``snap_m`` or ``layer`` for line files.

    Raises
    ------
    ImportFileError
        If the extension is not supported or the reader finds problems.
    """
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise ImportFileError(
            str(path),
            [
                Problem(
                    path.name,
                    f"unsupported road file type {path.suffix!r}; use {', '.join(READERS)}",
                )
            ],
        )
    return reader(path, **options)


# -- OSMnx GraphML ----------------------------------------------------------------------------


def graph_from_graphml(path: Path | str) -> RoadGraph:
    """Read an OSMnx GraphML export into a :class:`~disaster_dx.routing.RoadGraph`.

    Parsed with lxml (streaming, entities and network access off), so a city export of tens
    of megabytes neither needs networkx nor loads a DOM. Node ids that are all integers (OSM
    ids) become ``int64``; others are kept as text. An edge without ``length`` is measured
    from its geometry, or as a straight line. A graph projected with ``ox.project_graph``
    (``crs`` not EPSG:4326) is read from the ``lon``/``lat`` node attributes OSMnx keeps.

    Raises
    ------
    ImportFileError
        If the file is not well-formed GraphML, or any node lacks a usable position, any edge
        refers to an unknown node or has a bad length or geometry; every problem names the
        node or edge id and its line in the file.
    """
    from lxml import etree

    path = Path(path)
    name = path.name
    if not path.is_file():
        raise ImportFileError(str(path), [Problem(name, "no such file")])
    check_size(path, "xml")
    keys: dict[str, tuple[str, str, str | None]] = {}  # id -> (for, attr.name, default)
    graph_attrs: dict[str, str] = {}
    nodes: list[tuple[str, dict[str, str], int]] = []
    edges: list[tuple[str, str, dict[str, str], int]] = []
    seen_graph = False
    wanted = tuple(f"{{{_GRAPHML_NS}}}{t}" for t in ("key", "node", "edge", "data", "graph"))
    try:
        for _, elem in etree.iterparse(
            str(path),
            events=("end",),
            tag=wanted,
            resolve_entities=False,
            no_network=True,
            huge_tree=True,
        ):
            kind = etree.QName(elem).localname
            if kind == "key":
                default = elem.find(f"{{{_GRAPHML_NS}}}default")
                keys[elem.get("id", "")] = (
                    elem.get("for", "all"),
                    elem.get("attr.name", elem.get("id", "")),
                    None if default is None else (default.text or ""),
                )
            elif kind == "data":
                parent = elem.getparent()
                if parent is not None and etree.QName(parent).localname == "graph":
                    graph_attrs[_key_name(keys, elem.get("key", ""))] = elem.text or ""
                continue  # node and edge data are read with their element
            elif kind == "node":
                nodes.append((elem.get("id", ""), _data(keys, elem, "node"), elem.sourceline))
            elif kind == "edge":
                edges.append(
                    (
                        elem.get("source", ""),
                        elem.get("target", ""),
                        _data(keys, elem, "edge"),
                        elem.sourceline,
                    )
                )
            else:
                seen_graph = True
            if kind in ("node", "edge"):
                elem.clear(keep_tail=False)
                while elem.getprevious() is not None:
                    del elem.getparent()[0]
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else 1
        raise ImportFileError(
            str(path), [Problem(f"{name} line {line}", f"not well-formed XML: {exc.msg}")]
        ) from None
    if not seen_graph:
        raise ImportFileError(
            str(path),
            [Problem(name, "no GraphML <graph> element: is this an OSMnx GraphML export?")],
        )
    return _graph_from_parsed(path, graph_attrs, nodes, edges)


def _key_name(keys: dict[str, tuple[str, str, str | None]], key: str) -> str:
    return keys[key][1] if key in keys else key


def _data(keys: dict[str, tuple[str, str, str | None]], elem: Any, domain: str) -> dict[str, str]:
    """Attributes of a node or edge: its ``<data>`` children over the keys' defaults."""
    values = {
        attr: default
        for scope, attr, default in keys.values()
        if default is not None and scope in (domain, "all")
    }
    for child in elem:
        if _localname(child) == "data":
            values[_key_name(keys, child.get("key", ""))] = child.text or ""
    return values


def _localname(elem: Any) -> str:
    """Local name of an lxml element's tag (comments and PIs have none)."""
    tag = elem.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _graph_from_parsed(
    path: Path,
    graph_attrs: dict[str, str],
    nodes: list[tuple[str, dict[str, str], int]],
    edges: list[tuple[str, str, dict[str, str], int]],
) -> RoadGraph:
    name = path.name
    problems: list[Problem] = []
    lon_key, lat_key = "x", "y"
    crs = graph_attrs.get("crs", "").strip()
    if crs and not _is_lonlat_crs(crs):
        # ox.project_graph keeps the original degrees as node attributes lon/lat.
        lon_key, lat_key = "lon", "lat"
    if not nodes:
        problems.append(Problem(name, "the graph has no nodes"))
    position: dict[str, int] = {}
    lon = np.full(len(nodes), np.nan)
    lat = np.full(len(nodes), np.nan)
    for i, (node_id, attrs, line) in enumerate(nodes):
        where = f"{name} node {node_id!r} (line {line})"
        if node_id in position:
            problems.append(Problem(where, "node id repeated"))
        position.setdefault(node_id, i)
        x, y = _number(attrs.get(lon_key)), _number(attrs.get(lat_key))
        if x is None or y is None:
            got = f"{lon_key}={attrs.get(lon_key)!r}, {lat_key}={attrs.get(lat_key)!r}"
            extra = f" (graph crs {crs!r}, so {lon_key}/{lat_key} are needed)" if crs else ""
            problems.append(Problem(where, f"no numeric position: {got}{extra}"))
        elif not (-180 <= x <= 180 and -90 <= y <= 90):
            problems.append(Problem(where, f"position ({x}, {y}) is not lon/lat in degrees"))
        else:
            lon[i], lat[i] = x, y
    u = np.zeros(len(edges), dtype=np.intp)
    v = np.zeros(len(edges), dtype=np.intp)
    length = np.full(len(edges), np.nan)
    wkt: list[str | None] = [None] * len(edges)
    for k, (source, target, attrs, line) in enumerate(edges):
        where = f"{name} edge {source!r}→{target!r} (line {line})"
        for column, node_id in ((u, source), (v, target)):
            if node_id not in position:
                problems.append(Problem(where, f"refers to unknown node {node_id!r}"))
            else:
                column[k] = position[node_id]
        if attrs.get("length", "").strip():
            value = _number(attrs["length"])
            if value is None or value < 0:
                problems.append(Problem(where, f"bad length {attrs['length']!r} (metres ≥ 0)"))
            else:
                length[k] = value
        if attrs.get("geometry", "").strip():
            wkt[k] = attrs["geometry"]
    geometry = None
    if any(w is not None for w in wkt):
        geometry = np.asarray(shapely.from_wkt(np.array(wkt, dtype=object), on_invalid="ignore"))
        given = np.array([w is not None for w in wkt])
        not_lines = given & (
            shapely.is_missing(geometry)
            | (shapely.get_type_id(geometry) != shapely.GeometryType.LINESTRING)
        )
        for bad in np.flatnonzero(not_lines).tolist():
            source, target, _, line = edges[bad]
            problems.append(
                Problem(
                    f"{name} edge {source!r}→{target!r} (line {line})",
                    f"geometry is not a WKT LINESTRING: {str(wkt[bad])[:60]!r}",
                )
            )
    if problems:
        raise ImportFileError(str(path), problems)
    ids = np.array([node_id for node_id, _, _ in nodes])
    with contextlib.suppress(ValueError):  # not all integers: keep the ids as text
        ids = ids.astype(np.int64)
    graph = graph_from_arrays(lon, lat, u, v, length, node_ids=ids, edge_geometry=geometry)
    log.info(
        "read %s: %d nodes, %d edges (%d directed edges in file)",
        name,
        graph.n_nodes,
        graph.n_edges,
        len(edges),
    )
    return graph


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _is_lonlat_crs(crs: str) -> bool:
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        return bool(CRS.from_user_input(crs).to_epsg() == 4326)
    except CRSError:
        return crs.lower() in ("epsg:4326", "wgs84")


# -- line layers ------------------------------------------------------------------------------


def graph_from_lines(
    source: Path | str | geopandas.GeoDataFrame,
    *,
    layer: str | None = None,
    snap_m: float = SNAP_M,
    split_at_shared_vertices: bool = True,
) -> RoadGraph:
    """Build a road graph from a line layer (GeoPackage, GeoJSON, Shapefile or GeoDataFrame).

    Nodes come from line ends: ends within ``snap_m`` of each other become one node, placed
    at their mean. With ``split_at_shared_vertices`` (the default) lines are also split at
    interior vertices that another line shares exactly (the usual way crossings are digitised
    in long polylines) or that another line's end lies within ``snap_m`` of (a T-junction).
    Switch it off for layers already split at every junction (for example OSMnx
    ``graph_to_gdfs`` edges): then only line ends make nodes, and a vertex that merely
    touches another line never creates a crossing. A crossing without a common vertex is never
    a junction either way (bridges, underpasses).

    Edge lengths are the lines' lengths in EPSG:6672; any length column in the file is
    ignored so every graph measures the same way. MultiLineStrings are taken part by part.
    Files without a CRS are accepted only when their coordinates are plainly lon/lat.

    Raises
    ------
    ImportFileError
        If the file cannot be read, or any feature has no geometry, a non-line geometry,
        non-finite coordinates or coordinates outside lon/lat after reprojection; every
        problem names its feature number (1-based, file order).
    """
    if snap_m < 0 or not math.isfinite(snap_m):
        raise ValueError(f"snap_m must be a finite distance ≥ 0, got {snap_m}")
    if isinstance(source, (str, Path)):
        path = Path(source)
        name, label = path.name, str(path)
        frame = _read_frame(path, layer)
    else:
        name = label = "lines"
        frame = source
    problems: list[Problem] = []
    if frame.crs is None:
        minx, miny, maxx, maxy = frame.total_bounds if len(frame) else (0.0, 0.0, 0.0, 0.0)
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            raise ImportFileError(
                label,
                [Problem(name, "no CRS and the coordinates are not lon/lat; save it with a CRS")],
            )
    elif frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)
    geoms = np.asarray(frame.geometry.array, dtype=object)
    problems.extend(_line_problems(geoms, name))
    if problems:
        raise ImportFileError(label, problems)
    if geoms.size == 0:
        raise ImportFileError(label, [Problem(name, "no line features")])
    graph = _graph_from_line_array(
        geoms, snap_m=snap_m, split_at_shared_vertices=split_at_shared_vertices
    )
    log.info(
        "read %s: %d features → %d nodes, %d edges", name, geoms.size, graph.n_nodes, graph.n_edges
    )
    return graph


def _read_frame(path: Path, layer: str | None) -> geopandas.GeoDataFrame:
    if not path.is_file():
        raise ImportFileError(str(path), [Problem(path.name, "no such file")])
    check_size(path, "gis")
    try:
        import geopandas
    except ImportError as exc:  # pragma: no cover - geopandas is a core dependency
        raise ImportFileError(
            str(path), [Problem(path.name, f"reading line layers needs geopandas ({exc})")]
        ) from exc
    try:
        with warnings.catch_warnings():
            # GDAL warns (e.g. "unsupported geometry … NULL geometry assigned") from its error
            # handler, where an exception is lost; every such feature is reported by number below.
            warnings.simplefilter("ignore", RuntimeWarning)
            return geopandas.read_file(path, layer=layer, engine="pyogrio")
    except Exception as exc:  # the I/O engines raise many types; all mean "unreadable"
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ImportFileError(
            str(path), [Problem(path.name, f"cannot read as a line layer: {message}")]
        ) from None


def _line_problems(geoms: NDArray[np.object_], name: str) -> list[Problem]:
    """One problem per feature without a usable (Multi)LineString in lon/lat."""
    missing = shapely.is_missing(geoms)
    type_id = shapely.get_type_id(geoms)
    wrong = ~missing & ~np.isin(type_id, _LINE_TYPES)
    empty = ~missing & ~wrong & shapely.is_empty(geoms)
    ok = ~(missing | wrong | empty)
    bounds = np.full((geoms.size, 4), np.nan)
    if ok.any():
        bounds[ok] = shapely.bounds(geoms[ok])
    finite = np.isfinite(bounds).all(axis=1)
    bad_coords = ok & ~finite
    outside = (
        ok
        & finite
        & (
            (bounds[:, 0] < -180)
            | (bounds[:, 2] > 180)
            | (bounds[:, 1] < -90)
            | (bounds[:, 3] > 90)
        )
    )
    problems = []
    for i in np.flatnonzero(missing | wrong | empty | bad_coords | outside):
        where = f"{name} feature {i + 1}"
        if missing[i]:
            problems.append(Problem(where, "no geometry"))
        elif wrong[i]:
            kind = shapely.GeometryType(type_id[i]).name.title().replace("string", "String")
            problems.append(Problem(where, f"geometry is a {kind}, not a LineString"))
        elif empty[i]:
            problems.append(Problem(where, "empty geometry"))
        elif bad_coords[i]:
            problems.append(Problem(where, "coordinates are not finite numbers"))
        else:
            problems.append(Problem(where, f"coordinates {bounds[i].tolist()} are not lon/lat"))
    return problems


def _graph_from_line_array(
    geoms: NDArray[np.object_], *, snap_m: float, split_at_shared_vertices: bool
) -> RoadGraph:
    """Nodes by snapping, edges by splitting at junction vertices; all vectorised.

    Every vertex of every line part is listed in order. A vertex is a *junction* when it
    ends its part, when a line end lies within ``snap_m`` of it, or (splitting) when another
    vertex has exactly its coordinates. Junctions linked by those relations form one node
    (connected components of the link graph), and each stretch of a part between two
    consecutive junctions becomes one edge whose length is read off the cumulative length
    along the part.
    """
    parts = shapely.remove_repeated_points(shapely.get_parts(geoms))
    coords, part_of = shapely.get_coordinates(parts, return_index=True)
    m = coords.shape[0]
    x, y = project(coords[:, 0], coords[:, 1])
    first = np.ones(m, dtype=bool)
    first[1:] = part_of[1:] != part_of[:-1]
    last = np.ones(m, dtype=bool)
    last[:-1] = first[1:]
    ends = np.flatnonzero(first | last)

    # Links between vertices that must become one node.
    xy = np.column_stack((x, y))
    links: list[NDArray[np.intp]] = []
    targets = np.arange(m) if split_at_shared_vertices else ends
    near = cKDTree(xy[ends]).sparse_distance_matrix(
        cKDTree(xy[targets]), snap_m, output_type="ndarray"
    )
    links.append(np.column_stack((ends[near["i"]], targets[near["j"]])).astype(np.intp))
    junction = first | last
    junction[targets[near["j"]]] = True
    if split_at_shared_vertices:
        _, group, counts = np.unique(coords, axis=0, return_inverse=True, return_counts=True)
        group = group.ravel()
        shared = counts[group] > 1
        junction |= shared
        # Link each shared vertex to the first vertex with the same coordinates.
        order = np.argsort(group, kind="stable")
        leader = order[np.concatenate(([0], np.cumsum(counts)[:-1]))]
        links.append(np.column_stack((np.flatnonzero(shared), leader[group[shared]])))
    pairs = np.concatenate(links)
    adjacency = coo_array(
        (np.ones(pairs.shape[0], dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(m, m)
    )
    _, component = connected_components(adjacency, directed=False)

    # Compact node numbers over junction vertices only; node position = mean of its vertices.
    jv = np.flatnonzero(junction)
    _, node_of_junction = np.unique(component[jv], return_inverse=True)
    weight = np.bincount(node_of_junction)
    node_lon = np.bincount(node_of_junction, weights=coords[jv, 0]) / weight
    node_lat = np.bincount(node_of_junction, weights=coords[jv, 1]) / weight
    node_x = np.bincount(node_of_junction, weights=x[jv]) / weight
    node_y = np.bincount(node_of_junction, weights=y[jv]) / weight
    spread = np.hypot(x[jv] - node_x[node_of_junction], y[jv] - node_y[node_of_junction])
    if spread.size and spread.max() > 5 * max(snap_m, 0.01):
        log.warning(
            "snapping chained vertices up to %.1f m from their node (snap_m=%.2f); "
            "the layer may have closely spaced parallel lines",
            float(spread.max()),
            snap_m,
        )

    # Edges: consecutive junctions within one part.
    segment = np.zeros(m)
    segment[1:] = np.hypot(np.diff(x), np.diff(y))
    segment[first] = 0.0
    along = np.cumsum(segment)
    starts = jv[:-1][~last[jv[:-1]]]  # junctions that begin a stretch
    stretch_end = jv[1:][~last[jv[:-1]]]
    u = node_of_junction[np.searchsorted(jv, starts)]
    v = node_of_junction[np.searchsorted(jv, stretch_end)]
    length = along[stretch_end] - along[starts]

    # Geometry: vertex i belongs to the stretch begun by the latest junction ≤ i, and a
    # junction that does not begin its part also closes the previous stretch.
    stretch_of = np.cumsum(junction) - 1  # index into jv of the latest junction ≤ i
    stretch_number = np.cumsum(~last[jv]) - 1  # stretch number begun at each junction
    body = ~last
    closing = junction & ~first
    member_vertex = np.concatenate((np.flatnonzero(body), np.flatnonzero(closing)))
    member_stretch = np.concatenate(
        (
            stretch_number[stretch_of[body]],
            stretch_number[stretch_of[closing] - 1],
        )
    )
    order = np.lexsort((member_vertex, member_stretch))
    lines = shapely.linestrings(coords[member_vertex[order]], indices=member_stretch[order])
    return graph_from_arrays(
        node_lon, node_lat, u, v, length, edge_geometry=np.asarray(lines, dtype=object)
    )


# -- synthetic network ------------------------------------------------------------------------


def synthetic_grid_network(
    *,
    center_lon: float,
    center_lat: float,
    n_nodes: int,
    seed: int,
    spacing_m: float = 80.0,
    jitter: float = 0.25,
    edges_per_node: float = 1.4,
    diagonal_share: float = 0.05,
) -> RoadGraph:
    """A plainly **synthetic**, seeded road network for demos, tests and benchmarks.

    Not any real place's streets: a square grid of ``n_nodes`` intersections around the given
    centre, each moved at random by up to ``jitter × spacing_m``; a random spanning tree of
    the grid keeps it connected, further grid streets are added at random until there are
    about ``edges_per_node`` edges per node (real street networks have roughly 1.3–1.6), and
    ``diagonal_share`` of them are diagonals across blocks. Edge lengths are the straight
    distances in EPSG:6672. The same arguments always give the same network.

    Parameters
    ----------
    center_lon, center_lat
        Centre of the grid in degrees (choose a point in zone IV, e.g. in Kochi).
    n_nodes
        Number of intersections.
    seed
        Seed of the random generator.
    spacing_m
        Grid spacing in metres.
    jitter
        Largest displacement of an intersection, as a fraction of the spacing (< 0.5 keeps
        streets from crossing each other).
    edges_per_node
        Target number of edges per node (at least ~1, the spanning tree).
    diagonal_share
        Fraction of the edges that are block diagonals.
    """
    if n_nodes < 1:
        raise ValueError(f"n_nodes must be ≥ 1, got {n_nodes}")
    if not 0 <= jitter < 0.5:
        raise ValueError(f"jitter must be in [0, 0.5), got {jitter}")
    rng = np.random.default_rng(seed)
    cols = math.ceil(math.sqrt(n_nodes))
    node = np.arange(n_nodes)
    row, col = np.divmod(node, cols)
    cx, cy = project(center_lon, center_lat)
    rows = math.ceil(n_nodes / cols)
    x = cx + (col - (cols - 1) / 2) * spacing_m
    y = cy + (row - (rows - 1) / 2) * spacing_m
    x = x + rng.uniform(-jitter, jitter, n_nodes) * spacing_m
    y = y + rng.uniform(-jitter, jitter, n_nodes) * spacing_m

    right = node[(col < cols - 1) & (node + 1 < n_nodes)]
    up = node[node + cols < n_nodes]
    grid_u = np.concatenate((right, up))
    grid_v = np.concatenate((right + 1, up + cols))
    weights = rng.uniform(1.0, 2.0, grid_u.size)
    tree = minimum_spanning_tree(
        coo_array((weights, (grid_u, grid_v)), shape=(n_nodes, n_nodes)).tocsr()
    ).tocoo()
    in_tree = np.zeros(grid_u.size, dtype=bool)
    grid_key = grid_u * n_nodes + grid_v
    order = np.argsort(grid_key)
    tree_key = np.minimum(tree.row, tree.col).astype(np.int64) * n_nodes + np.maximum(
        tree.row, tree.col
    )
    in_tree[order[np.searchsorted(grid_key[order], tree_key)]] = True

    target = max(round(edges_per_node * n_nodes), int(in_tree.sum()))
    n_diagonal = round(diagonal_share * target)
    spare = np.flatnonzero(~in_tree)
    n_extra = min(max(target - int(in_tree.sum()) - n_diagonal, 0), spare.size)
    extra = rng.choice(spare, size=n_extra, replace=False)
    corner = node[(col < cols - 1) & (node + cols + 1 < n_nodes)]
    diagonal = rng.choice(corner, size=min(n_diagonal, corner.size), replace=False)
    falling = rng.random(diagonal.size) < 0.5  # "\" instead of "/" across the block
    diag_u = np.where(falling, diagonal + 1, diagonal)
    diag_v = np.where(falling, diagonal + cols, diagonal + cols + 1)

    u = np.concatenate((grid_u[in_tree], grid_u[extra], diag_u))
    v = np.concatenate((grid_v[in_tree], grid_v[extra], diag_v))
    lon, lat = to_lonlat().transform(x, y)
    graph = graph_from_arrays(lon, lat, u, v, node_ids=np.arange(n_nodes))
    log.debug("synthetic network: %d nodes, %d edges (seed %d)", n_nodes, graph.n_edges, seed)
    return graph


#: Reader per file extension, for :func:`graph_from_file`.
READERS: dict[str, Callable[..., RoadGraph]] = {
    ".graphml": graph_from_graphml,
    ".gpkg": graph_from_lines,
    ".geojson": graph_from_lines,
    ".json": graph_from_lines,
    ".shp": graph_from_lines,
}
