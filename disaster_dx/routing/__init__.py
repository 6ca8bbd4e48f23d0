"""Walking routes on a road graph held as CSR arrays: nearest destination for every node at once.

Individual evacuation plans (個別避難計画) ask the same question for tens of thousands of
residents: *which usable shelter is nearest on foot, by which streets, and how long does it
take at this person's walking speed?* Asking it per resident (one Dijkstra each) is hopeless
at city scale, and even networkx's multi-source Dijkstra spends most of its time building
Python lists. So the graph lives in flat numpy arrays and one compressed sparse row (CSR)
matrix, and the question is answered in three vectorised steps:

1. :func:`nearest_nodes` snaps every origin to the road network with a KD-tree over the
   projected node coordinates (:func:`access_points`: exactly onto the nearest street);
2. :func:`nearest_destinations` runs **one** multi-source Dijkstra
   (``scipy.sparse.csgraph.dijkstra(..., indices=destinations, min_only=True)``) that gives,
   for every node, the distance to the nearest destination, which destination that is, and
   the predecessor tree pointing back towards it (:func:`door_search`: door to door);
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

The package, in import order (each module imports only those above it):

- :mod:`~disaster_dx.routing.plane` — the CRSs, lon/lat ↔ metres, ``NO_NODE``, array types.
- :mod:`~disaster_dx.routing.graph` — :class:`RoadGraph`, :func:`graph_from_arrays`,
  :func:`edge_lengths`, :func:`block_edges`, and the graph's :class:`StreetIndex`.
- :mod:`~disaster_dx.routing.tables` — :func:`graph_from_edges`: a graph from node and edge
  tables, every bad row reported.
- :mod:`~disaster_dx.routing.access` — snapping: :func:`nearest_nodes`,
  :func:`access_points` (:class:`Access`), :func:`access_ties`.
- :mod:`~disaster_dx.routing.search` — :func:`nearest_destinations`, :func:`door_search`,
  :func:`access_factors`.
- :mod:`~disaster_dx.routing.routes` — :class:`Routes`, :func:`routes_from_predecessors`.
- :mod:`~disaster_dx.routing.walking` — :func:`walking_minutes`, :data:`WALKING_SPEED_M_S`.

Every name of the former single module is re-exported here, so callers import from
``disaster_dx.routing`` as before.
"""

from __future__ import annotations

from disaster_dx.routing.access import (
    TIE_M,
    Access,
    access_points,
    access_ties,
    nearest_nodes,
)
from disaster_dx.routing.graph import (
    STREET_SAMPLE_M,
    RoadGraph,
    StreetIndex,
    block_edges,
    edge_lengths,
    graph_from_arrays,
)
from disaster_dx.routing.plane import (
    GEOGRAPHIC_CRS,
    NO_NODE,
    PROJECTED_CRS,
    FloatArray,
    IntArray,
    project,
    to_lonlat,
    to_plane,
)
from disaster_dx.routing.routes import Routes, routes_from_predecessors
from disaster_dx.routing.search import (
    DoorSearch,
    NearestDestinations,
    access_factors,
    door_search,
    nearest_destinations,
)
from disaster_dx.routing.tables import Columns, graph_from_edges
from disaster_dx.routing.walking import WALKING_SPEED_M_S, walking_minutes

__all__ = [
    "GEOGRAPHIC_CRS",
    "NO_NODE",
    "PROJECTED_CRS",
    "STREET_SAMPLE_M",
    "TIE_M",
    "WALKING_SPEED_M_S",
    "Access",
    "Columns",
    "DoorSearch",
    "FloatArray",
    "IntArray",
    "NearestDestinations",
    "RoadGraph",
    "Routes",
    "StreetIndex",
    "access_factors",
    "access_points",
    "access_ties",
    "block_edges",
    "door_search",
    "edge_lengths",
    "graph_from_arrays",
    "graph_from_edges",
    "nearest_destinations",
    "nearest_nodes",
    "project",
    "routes_from_predecessors",
    "to_lonlat",
    "to_plane",
    "walking_minutes",
]
