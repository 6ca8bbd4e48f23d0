"""The road network for the public page: walking distance to the nearest shelters, offline.

A citizen asking 「近くの避難所」 needs the way there, not a straight line across a river. The
public page is static (it must keep working when the app is overloaded or down), so it cannot
ask the server for routes. Instead, when a **real** road network is loaded (never the demo's
synthetic one: a citizen must not be guided by made-up roads), every publish writes it as one
compact JSON file, ``walk-<hash>.json``, and ``shelters.geojson`` names it. The page fetches
it only when the person asks for the nearest shelters, runs Dijkstra in the phone
(``site/walk.js``) and says which distance it shows: 道のり (along roads) or 直線 (straight,
when the file is missing, the person is far from any road, or no road reaches a shelter).

The file holds what the search needs and nothing personal: node positions (micro-degrees,
delta-coded), undirected edges with their lengths (decimetres) and, per shelter, where it meets
the road: the edge, the fraction along it and the walk off the road. Both ends connect to the
nearest point of the nearest edge, so a shelter 140 m off one road is not beaten by one 220 m
off the same corner. A shelter farther than :data:`MAX_OFF_ROAD_M` from every road has no
entry; the page shows it by straight line.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from disaster_dx.model import Shelter
    from disaster_dx.routing import RoadGraph
    from disaster_dx.store import Store

#: Bump when the file's layout changes (the page refuses a format it does not know).
WALK_FORMAT = 1
#: A shelter (or a person) farther than this from every road is measured in a straight line:
#: such a gap is a missing road in the data, not a walk the page can describe.
MAX_OFF_ROAD_M = 300.0
#: Edges compared per block when snapping (bounds memory to a few MB for any network).
_BLOCK = 4096


@dataclass(frozen=True)
class EdgePoints:
    """Where points meet the network: the edge, the fraction along it (u → v), the gap."""

    edge: NDArray[np.intp]
    fraction: NDArray[np.float64]
    off_m: NDArray[np.float64]


def nearest_edge_points(graph: RoadGraph, x: NDArray[Any], y: NDArray[Any]) -> EdgePoints:
    """The nearest point on the nearest edge for each projected point (straight segments).

    Edges are taken as straight segments between their nodes, as the page does; the fraction
    then scales the edge's real length. Brute force in blocks: a city has ~10⁵ edges and a
    few hundred shelters, which numpy does in well under a second.
    """
    coo = graph.csr.tocoo()
    ax, ay = graph.x[coo.row], graph.y[coo.row]
    dx, dy = graph.x[coo.col] - ax, graph.y[coo.col] - ay
    seg2 = dx * dx + dy * dy
    px, py = np.asarray(x, dtype=float)[:, None], np.asarray(y, dtype=float)[:, None]
    best_d = np.full(px.shape[0], np.inf)
    best_e = np.full(px.shape[0], -1, dtype=np.intp)
    best_t = np.zeros(px.shape[0])
    for start in range(0, ax.shape[0], _BLOCK):
        s = slice(start, start + _BLOCK)
        with np.errstate(invalid="ignore", divide="ignore"):
            t = ((px - ax[s]) * dx[s] + (py - ay[s]) * dy[s]) / seg2[s]
        t = np.clip(np.nan_to_num(t, nan=0.0), 0.0, 1.0)
        d = np.hypot(ax[s] + t * dx[s] - px, ay[s] + t * dy[s] - py)
        j = np.argmin(d, axis=1)
        rows = np.arange(px.shape[0])
        closer = d[rows, j] < best_d
        best_d[closer] = d[rows, j][closer]
        best_e[closer] = j[closer] + start
        best_t[closer] = t[rows, j][closer]
    return EdgePoints(best_e, best_t, best_d)


def _deltas(values: NDArray[Any]) -> list[int]:
    ints = np.asarray(values, dtype=np.int64)
    return np.diff(ints, prepend=0).tolist() if ints.size else []


def walk_document(graph: RoadGraph, shelters: Sequence[Shelter]) -> dict[str, Any]:
    """The page's walking network and the shelters' road connections (JSON-ready)."""
    from disaster_dx.routing import project

    coo = graph.csr.tocoo()
    doc: dict[str, Any] = {
        "format": WALK_FORMAT,
        "max_off_road_m": MAX_OFF_ROAD_M,
        "lon_e6": _deltas(np.round(graph.lon * 1e6)),
        "lat_e6": _deltas(np.round(graph.lat * 1e6)),
        "u": _deltas(coo.row),
        "v": (coo.col - coo.row).astype(np.int64).tolist(),
        "len_dm": np.round(coo.data * 10).astype(np.int64).tolist(),
        "shelters": {},
    }
    if shelters and graph.csr.nnz:
        x, y = project([s.lon for s in shelters], [s.lat for s in shelters])
        points = nearest_edge_points(graph, x, y)
        for i, shelter in enumerate(shelters):
            if points.off_m[i] <= MAX_OFF_ROAD_M:
                doc["shelters"][shelter.shelter_id] = [
                    int(points.edge[i]),
                    round(float(points.fraction[i]), 4),
                    round(float(points.off_m[i]), 1),
                ]
    return doc


def walk_file(graph: RoadGraph, shelters: Sequence[Shelter]) -> tuple[str, bytes]:
    """The file name (content hash: caches never serve a stale network) and its bytes."""
    data = json.dumps(walk_document(graph, shelters), separators=(",", ":")).encode()
    return f"walk-{hashlib.sha256(data).hexdigest()[:12]}.json", data


def _shelters_key(shelters: Sequence[Shelter]) -> str:
    text = "|".join(f"{s.shelter_id},{s.lon:.7f},{s.lat:.7f}" for s in shelters)
    return hashlib.sha256(text.encode()).hexdigest()


#: (database, roads version, shelters key) → the file written for them, per process: the
#: network is rebuilt only when roads or the shelter master change, never per status report.
_written: dict[tuple[str, int, str], tuple[str, bytes]] = {}


def walk_file_for(store: Store, shelters: Sequence[Shelter]) -> tuple[str, bytes] | None:
    """The walking-network file for the loaded roads, or None (no roads, or synthetic ones).

    Synthetic roads (the demo district) are never published: they would guide a citizen
    along streets that do not exist.
    """
    from sqlalchemy import inspect

    from disaster_dx.plans import dataset_infos, load_road_graph

    if not inspect(store.engine).has_table("plan_datasets", schema=store.schema):
        return None
    info = dataset_infos(store).get("roads")
    if info is None or info.synthetic:
        return None
    key = (str(store.engine.url) + (store.schema or ""), info.version, _shelters_key(shelters))
    if key not in _written:
        graph = load_road_graph(store)
        if graph is None:
            return None
        _written.clear()  # one network per process is all a publisher needs
        _written[key] = walk_file(graph, shelters)
    return _written[key]
