from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest
import shapely
from scipy.sparse.csgraph import connected_components

from disaster_dx.errors import ImportFileError
from disaster_dx.io.roads import (
    graph_from_file,
    graph_from_graphml,
    graph_from_lines,
    synthetic_grid_network,
)
from disaster_dx.routing import (
    RoadGraph,
    edge_lengths,
    nearest_destinations,
    nearest_nodes,
    project,
)

LON0, LAT0 = 133.64, 33.57
#: About one metre in degrees of longitude / latitude at 33.57° N.
M_LON, M_LAT = 1 / 92_800, 1 / 110_900

# -- GraphML ----------------------------------------------------------------------------------

OSMNX_GRAPHML = """<?xml version='1.0' encoding='utf-8'?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns
         http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">
  <key id="d9" for="edge" attr.name="geometry" attr.type="string" />
  <key id="d8" for="edge" attr.name="length" attr.type="string" />
  <key id="d7" for="edge" attr.name="highway" attr.type="string" />
  <key id="d4" for="node" attr.name="street_count" attr.type="string" />
  <key id="d3" for="node" attr.name="x" attr.type="string" />
  <key id="d2" for="node" attr.name="y" attr.type="string" />
  <key id="d1" for="graph" attr.name="crs" attr.type="string" />
  <key id="d0" for="graph" attr.name="created_with" attr.type="string" />
  <graph edgedefault="directed">
    <data key="d0">OSMnx 2.0.1</data>
    <data key="d1">epsg:4326</data>
    <node id="1001"><data key="d2">33.57</data><data key="d3">133.64</data></node>
    <node id="1002"><data key="d2">33.57</data><data key="d3">133.641</data></node>
    <node id="1003"><data key="d2">33.571</data><data key="d3">133.641</data></node>
    <node id="1004"><data key="d2">33.575</data><data key="d3">133.645</data></node>
    <edge source="1001" target="1002" id="0">
      <data key="d7">residential</data><data key="d8">92.8</data>
    </edge>
    <edge source="1002" target="1001" id="0">
      <data key="d7">residential</data><data key="d8">92.8</data>
    </edge>
    <edge source="1003" target="1002" id="0">
      <data key="d8">140.5</data>
      <data key="d9">LINESTRING (133.641 33.571, 133.6405 33.5705, 133.641 33.57)</data>
    </edge>
    <edge source="1002" target="1003" id="1"><data key="d8">200.0</data></edge>
    <edge source="1001" target="1003" id="0"><data key="d7">footway</data></edge>
  </graph>
</graphml>
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_graphml_osmnx_export(tmp_path: Path) -> None:
    graph = graph_from_graphml(write(tmp_path, "town.graphml", OSMNX_GRAPHML))
    assert graph.node_ids.dtype == np.int64
    assert graph.node_ids.tolist() == [1001, 1002, 1003, 1004]
    np.testing.assert_allclose(graph.lon, [133.64, 133.641, 133.641, 133.645])
    np.testing.assert_allclose(graph.lat, [33.57, 33.57, 33.571, 33.575])
    # Reciprocal and parallel edges collapse to one undirected edge with the shortest length.
    assert graph.n_edges == 3
    assert edge_lengths(graph, [0, 1], [1, 2]).tolist() == [92.8, 140.5]
    # No length attribute: measured as a straight line in EPSG:6672.
    x, y = project([133.64, 133.641], [33.57, 33.571])
    assert edge_lengths(graph, [0], [2])[0] == pytest.approx(np.hypot(*np.diff([x, y])))
    geometry = graph.edge_geometry
    assert geometry is not None
    kept = int(np.flatnonzero((graph.edge_u == 1) & (graph.edge_v == 2))[0])
    # Given 1003 → 1002, stored from the smaller node index (1002) to the larger (1003).
    assert shapely.get_coordinates(geometry[kept])[0] == pytest.approx([133.641, 33.57])
    nearest = nearest_destinations(graph, [2])
    assert nearest.distance[3] == np.inf  # 1004 has no edges: unreachable, not 0


def test_graphml_written_by_networkx_like_osmnx(tmp_path: Path) -> None:
    # ox.save_graphml stringifies every attribute, then calls nx.write_graphml.
    source = nx.MultiDiGraph(crs="epsg:4326", created_with="OSMnx")
    source.add_node("n1", x=str(LON0), y=str(LAT0), street_count="1")
    source.add_node("n2", x=str(LON0 + 0.001), y=str(LAT0), street_count="1")
    source.add_edge("n1", "n2", length="93.1", osmid="42")
    source.add_edge("n2", "n1", length="93.1", osmid="42")
    path = tmp_path / "nx.graphml"
    nx.write_graphml(source, path)
    graph = graph_from_file(path)
    assert graph.node_ids.tolist() == ["n1", "n2"]  # not integers: kept as text
    assert graph.n_edges == 1
    assert edge_lengths(graph, [0], [1])[0] == 93.1


def test_graphml_projected_uses_lon_lat_attributes(tmp_path: Path) -> None:
    x, y = project([LON0, LON0 + 0.001], [LAT0, LAT0])
    source = nx.MultiDiGraph(crs="EPSG:6672")
    for i in range(2):
        source.add_node(i + 1, x=str(x[i]), y=str(y[i]), lon=str(LON0 + 0.001 * i), lat=str(LAT0))
    source.add_edge(1, 2, length="93.0")
    path = tmp_path / "projected.graphml"
    nx.write_graphml(source, path)
    graph = graph_from_graphml(path)
    np.testing.assert_allclose(graph.lon, [LON0, LON0 + 0.001])
    np.testing.assert_allclose(graph.x, x)


def test_graphml_problems_are_all_listed_with_their_place(tmp_path: Path) -> None:
    text = (
        OSMNX_GRAPHML.replace('<data key="d2">33.571</data>', "")  # node 1003 loses y
        .replace('target="1001" id="0">', 'target="9999" id="0">')
        .replace('<data key="d8">200.0</data>', '<data key="d8">-3</data>')
        .replace("LINESTRING (133.641 33.571,", "LINESTRING (oops")
    )
    with pytest.raises(ImportFileError) as info:
        graph_from_graphml(write(tmp_path, "bad.graphml", text))
    problems = [str(p) for p in info.value.problems]
    assert len(problems) == 4, problems
    assert any(
        p.startswith("bad.graphml node '1003' (line ") and "no numeric position" in p
        for p in problems
    )
    assert any("edge '1002'→'9999'" in p and "unknown node '9999'" in p for p in problems)
    assert any("edge '1002'→'1003'" in p and "bad length '-3'" in p for p in problems)
    assert any("edge '1003'→'1002'" in p and "not a WKT LINESTRING" in p for p in problems)


def test_graphml_projected_without_lon_lat_is_refused(tmp_path: Path) -> None:
    source = nx.MultiDiGraph(crs="EPSG:6672")
    source.add_node(1, x="1000.0", y="2000.0")
    path = tmp_path / "projected.graphml"
    nx.write_graphml(source, path)
    with pytest.raises(ImportFileError, match=r"node '1'.*graph crs 'EPSG:6672'"):
        graph_from_graphml(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<graphml><graph>", r"bad\.graphml line \d+: not well-formed XML"),
        ("<roads><road/></roads>", "no GraphML <graph> element"),
        ("", "not well-formed XML"),
    ],
)
def test_graphml_that_is_not_graphml(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ImportFileError, match=message):
        graph_from_graphml(write(tmp_path, "bad.graphml", text))


def test_graphml_does_not_resolve_entities(tmp_path: Path) -> None:
    secret = write(tmp_path, "secret.txt", "133.64")
    text = OSMNX_GRAPHML.replace(
        "<?xml version='1.0' encoding='utf-8'?>",
        f'<?xml version="1.0"?><!DOCTYPE g [<!ENTITY s SYSTEM "file://{secret}">]>',
    ).replace('<data key="d3">133.64</data>', '<data key="d3">&s;</data>')
    with pytest.raises(ImportFileError, match="node '1001'"):
        graph_from_graphml(write(tmp_path, "xxe.graphml", text))


# -- line layers ------------------------------------------------------------------------------


def line(*points: tuple[float, float]) -> dict[str, Any]:
    """A GeoJSON LineString from offsets in metres east/north of (LON0, LAT0)."""
    return {
        "type": "LineString",
        "coordinates": [[LON0 + dx * M_LON, LAT0 + dy * M_LAT] for dx, dy in points],
    }


def feature_collection(*geometries: dict[str, Any] | None) -> str:
    features = [
        {"type": "Feature", "properties": {"name": f"road {i}"}, "geometry": g}
        for i, g in enumerate(geometries, start=1)
    ]
    return json.dumps({"type": "FeatureCollection", "features": features})


PLUS = (
    line((-100, 0), (0, 0), (100, 0)),  # east-west, crossing at the shared vertex (0, 0)
    line((0, -100), (0, 0), (0, 100)),  # north-south
)


def node_at(graph: RoadGraph, dx: float, dy: float) -> int:
    node, distance = nearest_nodes(graph, LON0 + dx * M_LON, LAT0 + dy * M_LAT)
    assert distance[0] < 1.0
    return int(node[0])


def test_lines_split_at_shared_vertices(tmp_path: Path) -> None:
    graph = graph_from_lines(write(tmp_path, "plus.geojson", feature_collection(*PLUS)))
    assert (graph.n_nodes, graph.n_edges) == (5, 4)
    np.testing.assert_allclose(graph.edge_length, 100.0, rtol=2e-3)
    centre = node_at(graph, 0, 0)
    nearest = nearest_destinations(graph, [centre])
    assert np.isfinite(nearest.distance).all()
    assert nearest.distance[node_at(graph, -100, 0)] == pytest.approx(100.0, rel=2e-3)
    # Each edge's geometry runs between its two nodes.
    geometry = graph.edge_geometry
    assert geometry is not None
    starts = shapely.get_coordinates(shapely.get_point(geometry, 0))
    np.testing.assert_allclose(starts, np.column_stack((graph.lon, graph.lat))[graph.edge_u])


def test_lines_without_splitting_join_only_ends(tmp_path: Path) -> None:
    path = write(tmp_path, "plus.geojson", feature_collection(*PLUS))
    graph = graph_from_lines(path, split_at_shared_vertices=False)
    assert (graph.n_nodes, graph.n_edges) == (4, 2)
    np.testing.assert_allclose(graph.edge_length, 200.0, rtol=2e-3)
    nearest = nearest_destinations(graph, [node_at(graph, -100, 0)])
    assert nearest.distance[node_at(graph, 0, 100)] == np.inf


def test_snapping_ends_and_t_junctions(tmp_path: Path) -> None:
    layer = feature_collection(
        line((0, 0), (100, 0), (200, 0)),
        line((200.4, 0.3), (300, 0)),  # starts half a metre from the first line's end
        line((100, 80), (100, 0.6)),  # ends 0.6 m from the first line's middle vertex
    )
    path = write(tmp_path, "t.geojson", layer)
    graph = graph_from_lines(path)  # snap_m = 1
    assert (graph.n_nodes, graph.n_edges) == (5, 4)
    assert np.isfinite(nearest_destinations(graph, [node_at(graph, 0, 0)]).distance).all()
    strict = graph_from_lines(path, snap_m=0.1)
    assert (strict.n_nodes, strict.n_edges) == (6, 3)


def test_crossing_without_common_vertex_is_a_bridge(tmp_path: Path) -> None:
    bridge = line((-50, -100), (-50, 100))
    graph = graph_from_lines(write(tmp_path, "b.geojson", feature_collection(*PLUS, bridge)))
    assert (graph.n_nodes, graph.n_edges) == (7, 5)
    nearest = nearest_destinations(graph, [node_at(graph, 0, 0)])
    assert nearest.distance[node_at(graph, -50, 100)] == np.inf


def test_multilinestrings_are_taken_part_by_part(tmp_path: Path) -> None:
    a, b = PLUS
    multi = {"type": "MultiLineString", "coordinates": [a["coordinates"], b["coordinates"]]}
    graph = graph_from_lines(write(tmp_path, "m.geojson", feature_collection(multi)))
    assert (graph.n_nodes, graph.n_edges) == (5, 4)


def test_geopackage_in_plane_coordinates_is_reprojected(tmp_path: Path) -> None:
    import geopandas

    shapes = [shapely.geometry.shape(g) for g in PLUS]
    frame = geopandas.GeoDataFrame({"name": ["a", "b"]}, geometry=shapes, crs=4326)
    path = tmp_path / "roads.gpkg"
    frame.to_crs(6672).to_file(path, layer="roads", engine="pyogrio")
    from_gpkg = graph_from_file(path, layer="roads")
    from_frame = graph_from_lines(frame)
    np.testing.assert_allclose(from_gpkg.lon, from_frame.lon, atol=1e-9)
    np.testing.assert_allclose(from_gpkg.edge_length, from_frame.edge_length, rtol=1e-9)


def test_line_frame_without_crs(tmp_path: Path) -> None:
    import geopandas

    lonlat = geopandas.GeoDataFrame(geometry=[shapely.geometry.shape(PLUS[0])])
    assert graph_from_lines(lonlat).n_edges == 1
    plane = geopandas.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (5000, 100000)])])
    with pytest.raises(ImportFileError, match="no CRS"):
        graph_from_lines(plane)


def test_line_layer_problems_name_their_feature(tmp_path: Path) -> None:
    layer = feature_collection(
        {"type": "Point", "coordinates": [LON0, LAT0]},
        None,
        PLUS[0],
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
        {"type": "LineString", "coordinates": [[500.0, 33.0], [501.0, 33.0]]},
    )
    with pytest.raises(ImportFileError) as info:
        graph_from_lines(write(tmp_path, "bad.geojson", layer))
    problems = [str(p) for p in info.value.problems]
    assert problems[0] == "bad.geojson feature 1: geometry is a Point, not a LineString"
    assert problems[1] == "bad.geojson feature 2: no geometry"
    assert problems[2] == "bad.geojson feature 4: geometry is a Polygon, not a LineString"
    assert problems[3].startswith("bad.geojson feature 5: coordinates [500.0, 33.0")
    assert len(problems) == 4


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("broken.geojson", '{"type": "FeatureCollection", "features": [', "cannot read"),
        ("roads.csv", "a,b\n1,2\n", "unsupported road file type '.csv'"),
    ],
)
def test_unreadable_road_files(tmp_path: Path, name: str, text: str, message: str) -> None:
    with pytest.raises(ImportFileError, match=message):
        graph_from_file(write(tmp_path, name, text))


def test_missing_files(tmp_path: Path) -> None:
    for name in ("none.graphml", "none.gpkg"):
        with pytest.raises(ImportFileError, match="no such file"):
            graph_from_file(tmp_path / name)


def test_empty_line_layer(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="no line features"):
        graph_from_lines(write(tmp_path, "empty.geojson", feature_collection()))


# -- synthetic --------------------------------------------------------------------------------


def test_synthetic_grid_network_is_seeded_connected_and_city_like() -> None:
    options = {"center_lon": LON0, "center_lat": LAT0, "n_nodes": 2500, "seed": 7}
    graph = synthetic_grid_network(**options)
    again = synthetic_grid_network(**options)
    other = synthetic_grid_network(**{**options, "seed": 8})
    assert graph.n_nodes == 2500
    assert graph.n_edges == pytest.approx(1.4 * 2500, rel=0.01)
    np.testing.assert_array_equal(graph.lon, again.lon)
    np.testing.assert_array_equal(graph.csr.indices, again.csr.indices)
    assert not np.array_equal(graph.lon, other.lon)
    count, _ = connected_components(graph.csr, directed=False)
    assert count == 1
    assert graph.lon.mean() == pytest.approx(LON0, abs=1e-3)
    assert graph.lat.mean() == pytest.approx(LAT0, abs=1e-3)
    assert 60 < np.median(graph.edge_length) < 100  # 80 m blocks, jittered
    assert graph.edge_length.min() > 0


def test_synthetic_grid_network_agrees_with_networkx() -> None:
    graph = synthetic_grid_network(center_lon=LON0, center_lat=LAT0, n_nodes=900, seed=1)
    reference = nx.Graph()
    reference.add_weighted_edges_from(
        zip(graph.edge_u.tolist(), graph.edge_v.tolist(), graph.edge_length.tolist(), strict=True)
    )
    dests = np.array([0, 450, 899])
    expected = nx.multi_source_dijkstra_path_length(reference, set(dests.tolist()))
    nearest = nearest_destinations(graph, dests)
    np.testing.assert_allclose(nearest.distance, [expected[i] for i in range(900)], rtol=1e-12)


@pytest.mark.parametrize("n_nodes", [1, 2, 7])
def test_synthetic_grid_network_tiny(n_nodes: int) -> None:
    graph = synthetic_grid_network(center_lon=LON0, center_lat=LAT0, n_nodes=n_nodes, seed=0)
    assert graph.n_nodes == n_nodes
    count, _ = connected_components(graph.csr, directed=False)
    assert count == 1


@pytest.mark.parametrize("split", [True, False])
def test_lines_rebuild_a_known_network(split: bool) -> None:
    import geopandas

    graph = synthetic_grid_network(center_lon=LON0, center_lat=LAT0, n_nodes=400, seed=3)
    frame = geopandas.GeoDataFrame(geometry=graph.edge_lines(), crs=4326)
    rebuilt = graph_from_lines(frame, split_at_shared_vertices=split)
    assert (rebuilt.n_nodes, rebuilt.n_edges) == (graph.n_nodes, graph.n_edges)
    same, snap = nearest_nodes(rebuilt, graph.lon, graph.lat)
    assert snap.max() < 1e-3
    before = nearest_destinations(graph, [0, 399]).distance
    after = nearest_destinations(rebuilt, same[[0, 399]]).distance[same]
    np.testing.assert_allclose(after, before, rtol=1e-9)


def test_long_polylines_are_split_into_the_grid() -> None:
    import geopandas

    # A 5 × 5 grid digitised as 5 long east-west and 5 long north-south polylines.
    steps = np.arange(5) * 100.0
    rows = [
        shapely.LineString([(LON0 + s * M_LON, LAT0 + r * M_LAT) for s in steps]) for r in steps
    ]
    cols = [
        shapely.LineString([(LON0 + c * M_LON, LAT0 + s * M_LAT) for s in steps]) for c in steps
    ]
    graph = graph_from_lines(geopandas.GeoDataFrame(geometry=rows + cols, crs=4326))
    assert (graph.n_nodes, graph.n_edges) == (25, 40)
    nearest = nearest_destinations(graph, [node_at(graph, 0, 0)])
    assert nearest.distance[node_at(graph, 400, 400)] == pytest.approx(800.0, rel=5e-3)
