"""A made-up demo district on Nankoku's coast: roads, buildings, tsunami depths and residents.

No public road network or building model exists for Nankoku, and real 避難行動要支援者 lists are
personal data that must never ship with software. So the demo *generates* a small district,
seeded and reproducible, around the **real** coastal emergency evacuation sites and tsunami
towers of the bundled GSI shelter master (前浜, 浜改田, 久枝, 下島浜 …). Everything else is
invented and must be shown as such: every page and printout that shows it carries
:data:`SYNTHETIC_LABEL` (サンプル・架空データ), and the stored datasets are marked ``synthetic``.

How it is made (:func:`demo_district`):

1. **Coast.** A straight, made-up shoreline a little south of the real towers
   (:func:`coast_latitude`); the sea is south of it.
2. **Roads.** :func:`disaster_dx.io.roads.synthetic_grid_network` (a jittered grid, 80 m
   spacing) centred on the district, with the nodes in the sea removed and only the largest
   connected part kept.
3. **Buildings.** One to four rectangles per street block, 7–22 m a side, with a seeded mix of
   structures (about two thirds wooden houses, as in a Japanese coastal town), storeys and
   heights. Some heights, storeys and structures are left unknown on purpose, so the demo shows
   "unknown" answers. A few tall concrete buildings near the coast are marked as
   津波避難ビル (fictional names ending in （架空）).
4. **Tsunami depths.** Bands parallel to the made-up shoreline (5–10 m near the sea down to
   0.3–1 m about 2.6 km inland), written as A40-style depth-class polygons and attached to the
   buildings with :func:`disaster_dx.io.hazard_zones.add_zone_depths` — the same path real
   data takes. They are **not** the real 津波浸水想定 of Kochi Prefecture.
5. **Residents.** Fictional people (common surnames and given names, addresses
   「南国市（架空）…」, phone numbers in the unused 090-0000 block) living in the generated
   buildings, with a seeded mix of mobility classes, supporters and consent. Two have only an
   address, to show the "位置不明・要確認" case.

The same ``seed`` always gives the same district. Real data replaces each part through the
importers (``disaster-dx import-roads``, ``import-buildings``, ``import-residents``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import shapely
from scipy.sparse.csgraph import connected_components

from disaster_dx.geodesy import destinations, distance_m
from disaster_dx.io.hazard_zones import add_zone_depths
from disaster_dx.io.plateau import STRUCTURE_TYPES
from disaster_dx.io.roads import synthetic_grid_network
from disaster_dx.residents import Mobility, Resident
from disaster_dx.routing import RoadGraph, graph_from_arrays, project, to_lonlat

if TYPE_CHECKING:
    import geopandas as gpd

    from disaster_dx.auth import User
    from disaster_dx.store import Store

log = logging.getLogger(__name__)

#: Shown on every page and printout that shows demo data.
SYNTHETIC_LABEL = "サンプル・架空データ"
#: The English wording of the same warning.
SYNTHETIC_LABEL_EN = "Sample, fictional data"
#: Default seed: the same district every time.
DEFAULT_SEED = 20110311
#: Centre of the district: between the 前浜 and 浜改田 tsunami towers (real sites).
CENTER = (133.658, 33.5445)
#: The made-up shoreline passes here and rises to the east by this many degrees of latitude
#: per degree of longitude (the real coast runs roughly WSW–ENE).
_COAST_ANCHOR = (133.636, 33.5286)
_COAST_SLOPE = 0.09

#: Depth bands (distance inland in metres, lower m, upper m, label), nearest the sea first.
DEPTH_BANDS: tuple[tuple[float, float, float, str], ...] = (
    (450.0, 5.0, 10.0, "5m以上 10m未満（架空）"),
    (950.0, 3.0, 5.0, "3m以上 5m未満（架空）"),
    (1500.0, 2.0, 3.0, "2m以上 3m未満（架空）"),
    (2100.0, 1.0, 2.0, "1m以上 2m未満（架空）"),
    (2600.0, 0.3, 1.0, "0.3m以上 1m未満（架空）"),
)

_SURNAMES = (
    "山本", "田中", "中村", "小松", "岡林", "西森", "森", "浜田", "川村", "吉村",
    "山崎", "坂本", "野村", "竹内", "大野", "岡田", "溝渕", "公文", "門田", "北村",
)  # fmt: skip
_GIVEN = (
    "花子", "久子", "節子", "和子", "幸子", "キヨ", "ハル", "光子", "美代子", "千代",
    "一郎", "正", "茂", "勇", "清", "実", "博", "進", "武", "弘",
)  # fmt: skip
_PLACES = ("前浜", "浜改田", "久枝", "下島", "大湊", "十市", "里改田")
_NEEDS = (
    "歩行器",
    "車いす",
    "酸素ボンベ",
    "服薬（常用薬）",
    "聴覚障害：文字での伝達",
    "視覚障害：手引きが必要",
    "認知症：声かけが必要",
    "人工透析",
    "おむつ",
)
_MOBILITY_SHARE = (
    (Mobility.ELDERLY, 0.45),
    (Mobility.WITH_HELPER, 0.25),
    (Mobility.WHEELCHAIR, 0.2),
    (Mobility.INDEPENDENT, 0.1),
)


def coast_latitude(lon: float | np.ndarray) -> np.ndarray:
    """Latitude of the made-up shoreline at ``lon`` (the sea is south of it)."""
    lon_a = np.asarray(lon, dtype=float)
    return np.asarray(_COAST_ANCHOR[1] + (lon_a - _COAST_ANCHOR[0]) * _COAST_SLOPE)


@dataclass(frozen=True, eq=False)
class DemoDistrict:
    """One generated district (everything in lon/lat, EPSG:4326).

    Attributes
    ----------
    graph
        The road network.
    buildings
        Building frame with ``tsunami_depth_lower_m`` / ``_upper_m`` / ``_label``.
    zones
        The depth-class polygons the depths came from.
    residents
        Fictional residents.
    seed
        The seed it was made from.
    """

    graph: RoadGraph
    buildings: gpd.GeoDataFrame
    zones: gpd.GeoDataFrame
    residents: tuple[Resident, ...]
    seed: int

    def summary(self) -> str:
        """Counts for the CLI and logs."""
        refuges = int(self.buildings["refuge"].sum())
        return (
            f"{SYNTHETIC_LABEL}: {self.graph.n_nodes} road nodes, {self.graph.n_edges} edges, "
            f"{len(self.buildings)} buildings ({refuges} 津波避難ビル), "
            f"{len(self.residents)} residents (seed {self.seed})"
        )


def demo_district(
    *,
    seed: int = DEFAULT_SEED,
    n_residents: int = 120,
    grid_size: int = 46,
    spacing_m: float = 80.0,
) -> DemoDistrict:
    """Generate the demo district (see the module docstring for how).

    Parameters
    ----------
    seed
        Seed of every random choice.
    n_residents
        How many fictional residents (two of them with an address only, from 10 up).
    grid_size
        Street grid of ``grid_size × grid_size`` intersections before the sea is cut off.
    spacing_m
        Street spacing in metres.
    """
    import geopandas as gpd

    rng = np.random.default_rng(seed)
    grid = synthetic_grid_network(
        center_lon=CENTER[0],
        center_lat=CENTER[1],
        n_nodes=grid_size * grid_size,
        seed=seed,
        spacing_m=spacing_m,
    )
    graph = _on_land(grid)
    buildings = _buildings(graph, rng, spacing_m)
    zones = _zones(graph)
    buildings = add_zone_depths(buildings, zones, hazard="tsunami")
    residents = _residents(buildings, rng, n_residents)
    district = DemoDistrict(graph, buildings, zones, tuple(residents), seed)
    log.info("demo district: %s", district.summary())
    del gpd
    return district


def _on_land(graph: RoadGraph) -> RoadGraph:
    """The graph without nodes in the sea (south of the shoreline), largest part only."""
    land = graph.lat > coast_latitude(graph.lon) + 0.0004  # ~45 m of beach
    u, v = graph.edge_u, graph.edge_v
    keep_edge = land[u] & land[v]
    n = graph.n_nodes
    from scipy.sparse import coo_array

    adjacency = coo_array(
        (np.ones(int(keep_edge.sum())), (u[keep_edge], v[keep_edge])), shape=(n, n)
    ).tocsr()
    _, label = connected_components(adjacency, directed=False)
    sizes = np.bincount(label[land])
    main = np.flatnonzero(land & (label == np.argmax(sizes)))
    new_index = np.full(n, -1, dtype=np.intp)
    new_index[main] = np.arange(main.size)
    keep_edge &= (new_index[u] >= 0) & (new_index[v] >= 0)
    return graph_from_arrays(
        graph.lon[main],
        graph.lat[main],
        new_index[u[keep_edge]],
        new_index[v[keep_edge]],
        graph.edge_length[keep_edge],
        node_ids=np.arange(main.size),
    )


def _buildings(graph: RoadGraph, rng: np.random.Generator, spacing_m: float) -> gpd.GeoDataFrame:
    import geopandas as gpd

    # Block centres: the middle of each grid square whose corners are all land nodes.
    x, y = graph.x, graph.y
    x0, y0 = x.min(), y.min()
    cols = np.round((x - x0) / spacing_m).astype(int)
    rows = np.round((y - y0) / spacing_m).astype(int)
    occupied = set(zip(cols.tolist(), rows.tolist(), strict=True))
    blocks = [
        (c, r) for c, r in sorted(occupied) if {(c + 1, r), (c, r + 1), (c + 1, r + 1)} <= occupied
    ]
    half = spacing_m / 2
    polygons: list[shapely.Polygon] = []
    for c, r in blocks:
        centre_x = x0 + c * spacing_m + half
        centre_y = y0 + r * spacing_m + half
        count = int(rng.integers(1, 5))
        slots = rng.permutation(4)[:count]
        for slot in slots.tolist():
            sx = centre_x + (-1 if slot % 2 == 0 else 1) * spacing_m * 0.18
            sy = centre_y + (-1 if slot < 2 else 1) * spacing_m * 0.18
            w, h = rng.uniform(7.0, 14.0), rng.uniform(7.0, 12.0)
            polygons.append(shapely.box(sx - w / 2, sy - h / 2, sx + w / 2, sy + h / 2))
    n = len(polygons)
    kind = rng.choice(
        np.array(["601", "603", "604", "605", ""]), size=n, p=[0.64, 0.14, 0.1, 0.07, 0.05]
    )
    storeys = np.where(
        kind == "601",
        rng.choice([1, 2], size=n, p=[0.35, 0.65]),
        np.where(kind == "603", rng.integers(2, 8, size=n), rng.integers(1, 4, size=n)),
    ).astype(float)
    height = storeys * 3.0 + rng.uniform(0.8, 2.2, size=n)
    storeys[rng.random(n) < 0.08] = np.nan
    height[rng.random(n) < 0.12] = np.nan
    # Big concrete buildings are drawn larger, and the tallest near the coast are refuges.
    big = (kind == "603") & (np.nan_to_num(storeys) >= 4)
    for i in np.flatnonzero(big).tolist():
        polygons[i] = shapely.affinity.scale(polygons[i], 1.6, 1.6)
    to_geo = to_lonlat()

    def to_degrees(coords: np.ndarray) -> np.ndarray:
        lon, lat = to_geo.transform(coords[:, 0], coords[:, 1])
        return np.column_stack((lon, lat))

    footprints = shapely.transform(np.array(polygons, dtype=object), to_degrees)
    centroid = shapely.centroid(footprints)
    lon, lat = shapely.get_x(centroid), shapely.get_y(centroid)
    inland_m = _inland_m(lon, lat)
    candidates = np.flatnonzero(big & (np.nan_to_num(storeys) >= 5) & (inland_m < 1200))
    refuge = np.zeros(n, dtype=bool)
    refuge[rng.permutation(candidates)[: min(4, candidates.size)]] = True
    names = np.full(n, None, dtype=object)
    for k, i in enumerate(np.flatnonzero(refuge).tolist()):
        names[i] = (
            f"{_PLACES[k % len(_PLACES)]}{('中央', '海岸', '第一', '第二')[k % 4]}ビル（架空）"
        )
        storeys[i] = max(storeys[i], 5.0)
        height[i] = storeys[i] * 3.0 + 1.5
    structure = [s or None for s in kind.tolist()]
    return gpd.GeoDataFrame(
        {
            "building_id": [f"demo-b{i + 1:05d}" for i in range(n)],
            "name": names,
            "height_m": height,
            "storeys": np.where(np.isnan(storeys), np.nan, storeys),
            "structure": structure,
            "structure_ja": [STRUCTURE_TYPES.get(s) if s else None for s in structure],
            "refuge": refuge,
            "lon": lon,
            "lat": lat,
        },
        geometry=list(footprints),
        crs="EPSG:4326",
    ).astype({"storeys": "Int64"})


def _inland_m(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Distance (m) north of the made-up shoreline, measured along the meridian."""
    _, y = project(lon, lat)
    _, y_coast = project(lon, coast_latitude(lon))
    return np.asarray(y - y_coast)


def _zones(graph: RoadGraph) -> gpd.GeoDataFrame:
    """Depth bands as polygons between lines parallel to the shoreline."""
    import geopandas as gpd

    west, east = graph.lon.min() - 0.01, graph.lon.max() + 0.01
    lons = np.linspace(west, east, 24)

    def line(offset_m: float) -> list[tuple[float, float]]:
        """The shoreline moved ``offset_m`` metres due north (south when negative)."""
        moved_lons, moved_lats = destinations(lons, coast_latitude(lons), 0.0, offset_m)
        return list(zip(moved_lons.tolist(), moved_lats.tolist(), strict=True))

    polygons, lower, upper, labels = [], [], [], []
    previous = -600.0  # reach into the sea so the beach is covered
    for limit, low, high, label in DEPTH_BANDS:
        south, north = line(previous), line(limit)
        polygons.append(shapely.Polygon(south + north[::-1]))
        lower.append(low)
        upper.append(high)
        labels.append(label)
        previous = limit
    return gpd.GeoDataFrame(
        {"hazard": "tsunami", "depth_lower_m": lower, "depth_upper_m": upper, "label": labels},
        geometry=polygons,
        crs="EPSG:4326",
    )


def _residents(
    buildings: gpd.GeoDataFrame, rng: np.random.Generator, n_residents: int
) -> list[Resident]:
    homes = np.flatnonzero(~buildings["refuge"].to_numpy(dtype=bool))
    chosen = rng.choice(homes, size=min(n_residents, homes.size), replace=False)
    classes = [m for m, _ in _MOBILITY_SHARE]
    shares = np.array([s for _, s in _MOBILITY_SHARE])
    residents = []
    for k, i in enumerate(chosen.tolist()):
        number = k + 1
        mobility = classes[int(rng.choice(len(classes), p=shares))]
        needs = tuple(
            sorted(set(rng.choice(_NEEDS, size=int(rng.integers(0, 3)), replace=False).tolist()))
        )
        point = shapely.point_on_surface(buildings.geometry.iloc[i])
        address_only = n_residents >= 10 and number in (7, n_residents // 2 + 1)
        place = _PLACES[int(rng.integers(len(_PLACES)))]
        residents.append(
            Resident(
                resident_id=f"demo-{number:04d}",
                name=f"{rng.choice(_SURNAMES)} {rng.choice(_GIVEN)}",
                address=f"南国市（架空）{place}{int(rng.integers(1, 2000))}番地",
                lon=None if address_only else round(float(point.x), 7),
                lat=None if address_only else round(float(point.y), 7),
                mobility=mobility,
                needs=needs,
                supporter_name=f"{rng.choice(_SURNAMES)} {rng.choice(_GIVEN)}"
                if rng.random() < 0.85
                else "",
                supporter_contact=f"090-0000-{int(rng.integers(0, 10_000)):04d}",
                consent=bool(rng.random() < 0.8),
                building_id=None if address_only else str(buildings["building_id"].iloc[i]),
                note="架空の人物です（デモ用）",
            )
        )
    return [_with_yoshiki_fields(k + 1, person) for k, person in enumerate(residents)]


#: Made-up 様式 details for the demo (no random draws: the district stays the same per seed).
_CARRY = {
    "酸素ボンベ": "予備の酸素ボンベ",
    "服薬（常用薬）": "常備薬（3日分）",
    "人工透析": "透析の記録（手帳）",
    "聴覚障害：文字での伝達": "筆談用のメモ帳",
    "歩行器": "歩行器",
}
_CONSIDER = {
    "聴覚障害：文字での伝達": "耳が聞こえにくいため、筆談や身ぶりで伝える",
    "視覚障害：手引きが必要": "目が見えにくいため、手引きで誘導する",
    "認知症：声かけが必要": "不安になりやすいため、名前を呼んで落ち着いて声をかける",
}
_RELATIONS = ("長男", "長女", "次男", "姪", "友人")


def _with_yoshiki_fields(number: int, person: Resident) -> Resident:
    """The person with made-up 様式 details derived from what they already have."""
    consented = number % 5 != 0
    asked = number % 7 != 0
    return replace(
        person,
        emergency_name=f"架空 緊急連絡{number}",
        emergency_relation=_RELATIONS[number % len(_RELATIONS)],
        emergency_phone=f"088-000-{number:04d}",
        considerations="、".join(_CONSIDER[n] for n in person.needs if n in _CONSIDER),
        carry_items=(
            "お薬手帳",
            "懐中電灯",
            *(_CARRY[n] for n in person.needs if n in _CARRY),
            *(("車いす用の雨具",) if person.mobility is Mobility.WHEELCHAIR else ()),
        ),
        created_on=date(2025, 4, 1),
        review_on=date(2026, 4, 1),
        plan_consent=consented if asked else None,
        plan_consent_on=date(2025, 4, 1) if consented and asked else None,
    )


def load_demo_district(
    store: Store,
    user: User,
    *,
    seed: int = DEFAULT_SEED,
    n_residents: int = 120,
    grid_size: int = 46,
) -> DemoDistrict:
    """Generate the district and store it as the plans' roads, buildings and residents.

    Every dataset is marked ``synthetic``, so pages and sheets show :data:`SYNTHETIC_LABEL`.
    ``user`` must be a planner or admin (the residents import is audited like a real one).
    """
    from disaster_dx.plans import save_buildings, save_residents, save_road_graph

    district = demo_district(seed=seed, n_residents=n_residents, grid_size=grid_size)
    source = f"{SYNTHETIC_LABEL} (disaster_dx.demo_district, seed {seed})"
    save_road_graph(store, district.graph, actor=user.username, source=source, synthetic=True)
    save_buildings(store, district.buildings, actor=user.username, source=source, synthetic=True)
    save_residents(store, district.residents, user, source=source, synthetic=True)
    return district


def metres_between(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Straight ground distance in metres (geodesic), for checks and tests."""
    return distance_m(lon1, lat1, lon2, lat2)
