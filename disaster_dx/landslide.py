"""Landslide (土砂災害) designated areas: which buildings lie in them, and routes around them.

Under the 土砂災害防止法 a prefecture designates 土砂災害警戒区域 (warning zone, "yellow") and,
inside it, 土砂災害特別警戒区域 (special warning zone, "red") for three phenomena: 急傾斜地の崩壊,
土石流 and 地すべり. The 内閣府「避難情報に関するガイドライン」 asks everyone in these areas to
leave (立退き避難) when 避難指示 is issued for 土砂災害: a building's height does not protect
it from a slope failure or a debris flow the way it protects from flood water. This module holds
the rules that follow from that, as pure functions:

- :class:`ZoneLevel` orders the areas: a building gets the *strictest* area its footprint
  touches (PLATEAU ``landslide_area``, or :func:`disaster_dx.io.landslide_zones.add_landslide_zones`
  from 国土数値情報 A33); :func:`zone_levels` reads that column for a whole frame.
- :func:`edge_cost_factors` gives every street of the walking network a cost factor:
  :data:`ZONE_EDGE_FACTOR` for a street that touches a zone, 1 elsewhere.
  :func:`with_edge_costs` makes the graph the search runs on, so a route avoids the zones
  wherever another way exists and crosses them (shortest stretch inside first) only when none
  does; :func:`route_metres` then measures each route in real metres and how much of it lies
  in a zone, so plans can flag the routes that do.

What a building's level means for a plan (see :mod:`disaster_dx.plans`): in a 特別警戒区域 the
home is never a refuge (立退き避難 only); in a 警戒区域 staying on an upper floor on the side
away from the slope (屋内安全確保) is a flagged last resort, not a plan.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import replace
from enum import IntEnum
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from numpy.typing import NDArray

if TYPE_CHECKING:  # the rules are read on every building import: no pandas or SciPy for them
    import pandas as pd

    from disaster_dx.routing import RoadGraph, Routes

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]

#: Label of a building known to lie outside every designated area.
OUTSIDE_LABEL = "区域外"

#: Cost factor of a street that touches a zone: a detour up to this many times the stretch
#: inside the zone is preferred. Large on purpose: during 土砂災害警戒情報 a slope street is
#: where people die, so the search leaves a zone by its shortest way out and never enters one
#: unless no other way to a shelter exists.
ZONE_EDGE_FACTOR = 1000.0


class ZoneLevel(IntEnum):
    """How strict the designated area a building lies in is (higher is stricter)."""

    UNKNOWN = -1
    OUTSIDE = 0
    WARNING = 1
    SPECIAL = 2

    @property
    def ja(self) -> str:
        """Official Japanese name."""
        return _LEVEL_JA[self][0]

    @property
    def en(self) -> str:
        """English name."""
        return _LEVEL_JA[self][1]


_LEVEL_JA = {
    ZoneLevel.UNKNOWN: ("区域の有無不明", "zone unknown"),
    ZoneLevel.OUTSIDE: ("土砂災害警戒区域外", "outside landslide warning zones"),
    ZoneLevel.WARNING: ("土砂災害警戒区域", "landslide warning zone"),
    ZoneLevel.SPECIAL: ("土砂災害特別警戒区域", "landslide special warning zone"),
}


def level_of(label: Any) -> ZoneLevel:
    """The level an area label names (PLATEAU's, A33's or :data:`OUTSIDE_LABEL`).

    ``土砂災害特別警戒区域（指定前）`` is as strict as a designated one: the survey found the
    danger; only the legal act is missing. Empty or missing means unknown, never outside.
    """
    missing = label is None or type(label).__name__ == "NAType"  # pandas' NA, without pandas
    if missing or (isinstance(label, float) and math.isnan(label)):
        return ZoneLevel.UNKNOWN
    text = str(label).strip()
    if not text:
        return ZoneLevel.UNKNOWN
    if text == OUTSIDE_LABEL:
        return ZoneLevel.OUTSIDE
    if "特別警戒" in text or "レッド" in text:
        return ZoneLevel.SPECIAL
    if "警戒" in text or "イエロー" in text:
        return ZoneLevel.WARNING
    return ZoneLevel.UNKNOWN


def zone_levels(buildings: pd.DataFrame) -> NDArray[np.int8]:
    """:class:`ZoneLevel` values of every building, from its ``landslide_area`` column.

    A frame without the column knows nothing about landslide areas: every building is
    ``UNKNOWN``. PLATEAU attaches landslide attributes only to buildings in an area, so a
    PLATEAU building without one is unknown too until an A33 import says it is outside.
    """
    n = len(buildings)
    if "landslide_area" not in buildings:
        return np.full(n, ZoneLevel.UNKNOWN, dtype=np.int8)
    labels = buildings["landslide_area"].astype(object).to_numpy()
    cache: dict[Any, int] = {}
    out = np.empty(n, dtype=np.int8)
    for i, label in enumerate(labels):
        key = label if isinstance(label, str) else None
        if key not in cache:
            cache[key] = int(level_of(key))
        out[i] = cache[key]
    return out


def edge_cost_factors(
    graph: RoadGraph,
    zones: Sequence[Any] | NDArray[np.object_],
    *,
    factor: float = ZONE_EDGE_FACTOR,
) -> FloatArray:
    """Per edge (CSR order): ``factor`` where the street touches any zone polygon, else 1.

    One STRtree query for all edges. A street merely running along a zone's border counts as
    touching it: zones are drawn to the toe of the slope, and the debris does not stop there.

    Parameters
    ----------
    zones
        Zone polygons in lon/lat (warning and special alike: both are to be avoided).
    factor
        Cost multiplier of a touching street; must be ≥ 1.
    """
    if not factor >= 1 or not math.isfinite(factor):
        raise ValueError(f"the zone edge factor must be a finite number ≥ 1, not {factor!r}")
    out = np.ones(graph.n_edges)
    geoms = np.asarray(zones, dtype=object).ravel()
    if geoms.size:
        geoms = geoms[~shapely.is_missing(geoms)]
    if geoms.size == 0 or graph.n_edges == 0:
        return out
    tree = shapely.STRtree(geoms)
    hits = tree.query(graph.edge_lines(), predicate="intersects")[0]
    out[np.unique(hits)] = factor
    log.info("landslide zones touch %d of %d street(s)", int((out > 1).sum()), graph.n_edges)
    return out


def with_edge_costs(graph: RoadGraph, factors: FloatArray) -> RoadGraph:
    """The same graph whose edge weights are ``length × factor`` (for the search only).

    Nodes and edge order are unchanged, so snapping and route reconstruction work on it as on
    ``graph``; lengths in metres must be read from ``graph`` (:func:`route_metres`).
    """
    factors = np.asarray(factors, dtype=float)
    if factors.shape != (graph.n_edges,):
        raise ValueError(f"need one factor per edge ({graph.n_edges}), got {factors.shape}")
    if np.all(factors == 1.0):
        return graph
    csr = graph.csr
    from scipy.sparse import csr_array

    weighted = csr_array((csr.data * factors, csr.indices, csr.indptr), shape=csr.shape)
    weighted.has_sorted_indices = True
    costly = replace(graph, csr=weighted)
    if "kdtree" in graph.__dict__:  # same nodes: reuse the tree
        costly.__dict__["kdtree"] = graph.__dict__["kdtree"]
    return costly


def route_metres(
    graph: RoadGraph, routes: Routes, factors: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Real length of each route and the part of it on streets touching a zone, in metres.

    ``routes`` came from a search on :func:`with_edge_costs`, so their ``length`` is a cost,
    not metres. Routes of one search follow one tree, so each node has one next node: the
    edges are looked up once per node (not once per route leg), then summed per route.
    Unreachable routes stay ``inf`` / ``inf``.
    """
    n = len(routes)
    total = np.full(n, np.inf)
    inside = np.full(n, np.inf)
    reachable = routes.reachable
    total[reachable] = 0.0
    inside[reachable] = 0.0
    nodes = routes.nodes
    if nodes.size < 2:
        return total, inside
    which = routes.route_of()
    leg = which[1:] == which[:-1]  # consecutive nodes of the same route
    start, owner = nodes[:-1][leg], which[1:][leg]
    following = np.full(graph.n_nodes, -1, dtype=np.intp)
    following[start] = nodes[1:][leg]
    stepping = np.flatnonzero(following >= 0)
    a, b = stepping, following[stepping]
    keys = np.minimum(a, b).astype(np.int64) * graph.n_nodes + np.maximum(a, b)
    stored = graph.edge_u.astype(np.int64) * graph.n_nodes + graph.edge_v  # sorted (CSR order)
    where = np.searchsorted(stored, keys)
    if np.any(where >= stored.size) or np.any(stored[np.minimum(where, stored.size - 1)] != keys):
        raise ValueError("a route uses a street that is not in the graph")
    step_m = np.zeros(graph.n_nodes)
    step_zone_m = np.zeros(graph.n_nodes)
    step_m[a] = graph.edge_length[where]
    step_zone_m[a] = np.where(np.asarray(factors, dtype=float)[where] > 1.0, step_m[a], 0.0)
    total += np.bincount(owner, weights=step_m[start], minlength=n)
    inside += np.bincount(owner, weights=step_zone_m[start], minlength=n)
    return total, inside
