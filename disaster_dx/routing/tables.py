"""A road graph from node and edge tables (an importer's or a (Geo)DataFrame's), checked.

:func:`graph_from_edges` validates the tables and reports every bad row at once, each named,
then hands over to :func:`~disaster_dx.routing.graph.graph_from_arrays`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import shapely
from numpy.typing import NDArray

from disaster_dx.errors import Problem, ValidationError
from disaster_dx.routing.graph import RoadGraph, block_edges, graph_from_arrays
from disaster_dx.routing.plane import FloatArray, IntArray


class Columns(Protocol):
    """Anything indexable by column name: a ``dict`` of arrays or a (Geo)DataFrame."""

    def __getitem__(self, key: str, /) -> Any: ...

    def __contains__(self, key: object, /) -> bool: ...


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
