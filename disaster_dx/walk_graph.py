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


def _deltas(values: NDArray[Any]) -> list[int]:
    ints = np.asarray(values, dtype=np.int64)
    return np.diff(ints, prepend=0).tolist() if ints.size else []


def walk_document(graph: RoadGraph, shelters: Sequence[Shelter]) -> dict[str, Any]:
    """The page's walking network and the shelters' road connections (JSON-ready)."""
    from disaster_dx.routing import access_points

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
        # The plans' own join (edge index in CSR data order, the order of ``coo`` above).
        points = access_points(graph, [s.lon for s in shelters], [s.lat for s in shelters])
        for i, shelter in enumerate(shelters):
            if points.edge[i] >= 0 and points.distance_m[i] <= MAX_OFF_ROAD_M:
                length = float(points.edge_m[i])
                doc["shelters"][shelter.shelter_id] = [
                    int(points.edge[i]),
                    round(float(points.along_m[i]) / length, 4) if length > 0 else 0.0,
                    round(float(points.distance_m[i]), 1),
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
