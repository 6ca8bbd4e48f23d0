"""Benchmark the PLATEAU CityGML importer.

First, the city-scale path ``disaster-dx import-buildings`` runs: ``--buildings`` SYNTHETIC
buildings (default 40,000) written as ``--tiles`` tile files (default 100, named like PLATEAU's
``<mesh>_bldg_6697_op.gml``) to a temp dir, imported with
:func:`disaster_dx.plans.building_import.import_buildings` into a fresh SQLite store; prints
wall time and the process's peak RSS (targets: under 10 s and 400 MB), with the CPU time
(``time.process_time``) and the load average beside the wall time, so a run on a shared, loaded
machine can be read. Then (``--parse``) it measures ``buildings_from_citygml`` on

1. the four real PLATEAU files in ``../shared/data/plateau`` (skipped when absent), and
2. a synthetic city file of ``--buildings`` buildings (default 40,000) written to a temp dir,
   shaped like PLATEAU i-UR 3.0 data: generic attributes, LOD0 footprint, a six-face LOD1
   solid, structure, usage, building id, and tsunami / two-scale river flood / high tide risk.

Each is compared with a bare ``lxml.etree.iterparse`` pass that only finds and frees the
buildings (the parse floor), so the ratio shows what the importer adds on top of parsing.

Run: ``python bench/plateau_import.py [--buildings 40000] [--tiles 100] [--parse] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import math
import os
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from lxml import etree

from disaster_dx.io.plateau import buildings_from_citygml
from disaster_dx.plans.building_import import import_buildings
from disaster_dx.store import Store

ROOT = Path(__file__).resolve().parents[1]
SHARED_PLATEAU = ROOT.parent / "shared" / "data" / "plateau"

HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<core:CityModel xmlns:core="http://www.opengis.net/citygml/2.0" \
xmlns:bldg="http://www.opengis.net/citygml/building/2.0" \
xmlns:gen="http://www.opengis.net/citygml/generics/2.0" xmlns:gml="http://www.opengis.net/gml" \
xmlns:uro="https://www.geospatial.jp/iur/uro/3.0">
\t<gml:boundedBy>
\t\t<gml:Envelope srsName="http://www.opengis.net/def/crs/EPSG/0/6697" srsDimension="3">
\t\t\t<gml:lowerCorner>33.50 133.55 0</gml:lowerCorner>
\t\t\t<gml:upperCorner>33.65 133.75 40</gml:upperCorner>
\t\t</gml:Envelope>
\t</gml:boundedBy>
"""

BUILDING = """\t<core:cityObjectMember>
\t\t<bldg:Building gml:id="bldg_synthetic_{i}">
\t\t\t<gen:stringAttribute name="町丁目名称">
\t\t\t\t<gen:value>南国市大埇甲</gen:value>
\t\t\t</gen:stringAttribute>
\t\t\t<gen:intAttribute name="ユーザーID"><gen:value>{i}</gen:value></gen:intAttribute>
\t\t\t<bldg:class codeSpace="../../codelists/Building_class.xml">3001</bldg:class>
\t\t\t<bldg:usage codeSpace="../../codelists/Building_usage.xml">411</bldg:usage>
\t\t\t<bldg:measuredHeight uom="m">{height:.1f}</bldg:measuredHeight>
\t\t\t<bldg:storeysAboveGround>{storeys}</bldg:storeysAboveGround>
\t\t\t<bldg:lod0FootPrint>
\t\t\t\t<gml:MultiSurface>
\t\t\t\t\t<gml:surfaceMember>
\t\t\t\t\t\t<gml:Polygon>
\t\t\t\t\t\t\t<gml:exterior>
\t\t\t\t\t\t\t\t<gml:LinearRing>
\t\t\t\t\t\t\t\t\t<gml:posList>{ground}</gml:posList>
\t\t\t\t\t\t\t\t</gml:LinearRing>
\t\t\t\t\t\t\t</gml:exterior>
\t\t\t\t\t\t</gml:Polygon>
\t\t\t\t\t</gml:surfaceMember>
\t\t\t\t</gml:MultiSurface>
\t\t\t</bldg:lod0FootPrint>
\t\t\t<bldg:lod1Solid>
\t\t\t\t<gml:Solid>
\t\t\t\t\t<gml:exterior>
\t\t\t\t\t\t<gml:CompositeSurface>
{faces}
\t\t\t\t\t\t</gml:CompositeSurface>
\t\t\t\t\t</gml:exterior>
\t\t\t\t</gml:Solid>
\t\t\t</bldg:lod1Solid>
\t\t\t<uro:buildingDetailAttribute>
\t\t\t\t<uro:BuildingDetailAttribute>
\t\t\t\t\t<uro:buildingStructureType codeSpace="x.xml">601</uro:buildingStructureType>
\t\t\t\t\t<uro:surveyYear>2021</uro:surveyYear>
\t\t\t\t</uro:BuildingDetailAttribute>
\t\t\t</uro:buildingDetailAttribute>
{risks}
\t\t\t<uro:buildingIDAttribute>
\t\t\t\t<uro:BuildingIDAttribute>
\t\t\t\t\t<uro:buildingID>39204-bldg-{i}</uro:buildingID>
\t\t\t\t\t<uro:prefecture codeSpace="x.xml">39</uro:prefecture>
\t\t\t\t\t<uro:city codeSpace="x.xml">39204</uro:city>
\t\t\t\t</uro:BuildingIDAttribute>
\t\t\t</uro:buildingIDAttribute>
\t\t</bldg:Building>
\t</core:cityObjectMember>
"""

FACE = """\t\t\t\t\t\t\t<gml:surfaceMember><gml:Polygon><gml:exterior><gml:LinearRing>\
<gml:posList>{}</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon></gml:surfaceMember>"""

RISK = """\t\t\t<uro:buildingDisasterRiskAttribute>
\t\t\t\t<uro:Building{kind}RiskAttribute>
\t\t\t\t\t<uro:description codeSpace="x.xml">1</uro:description>
\t\t\t\t\t<uro:rank codeSpace="x.xml">{rank}</uro:rank>
\t\t\t\t\t<uro:depth uom="m">{depth:.3f}</uro:depth>{extra}
\t\t\t\t</uro:Building{kind}RiskAttribute>
\t\t\t</uro:buildingDisasterRiskAttribute>"""

FLOOD_EXTRA = """
\t\t\t\t\t<uro:adminType codeSpace="x.xml">2</uro:adminType>
\t\t\t\t\t<uro:scale codeSpace="x.xml">{scale}</uro:scale>
\t\t\t\t\t<uro:duration uom="hour">{duration:.2f}</uro:duration>"""


def _rank(depth: float) -> int:
    return 1 if depth < 0.5 else 2 if depth < 3 else 3 if depth < 5 else 4


def _pos(ring: list[tuple[float, float]], z: float) -> str:
    return " ".join(f"{lat:.9f} {lon:.9f} {z:.3f}" for lat, lon in ring)


def write_synthetic(path: Path, count: int, start: int = 0) -> None:
    """Write a PLATEAU-like bldg file with ``count`` buildings on a grid around Nankoku."""
    side = 200
    with path.open("w", encoding="utf-8") as out:
        out.write(HEADER)
        for i in range(start, start + count):
            row, col = divmod(i, side)
            lat, lon = 33.55 + row * 0.0002, 133.60 + col * 0.0002
            d_lat, d_lon = 0.00008 + (i % 5) * 0.00001, 0.0001
            ring = [(lat, lon), (lat + d_lat, lon), (lat + d_lat, lon + d_lon), (lat, lon + d_lon)]
            ring.append(ring[0])
            base, height = 2.0 + (i % 7) * 0.1, 3.0 + (i % 9) * 2.5
            faces = [_pos(ring, base), _pos(ring[::-1], base + height)]
            for a, b in itertools.pairwise(ring):
                wall = [(*a, base), (*b, base), (*b, base + height), (*a, base + height)]
                wall.append(wall[0])
                faces.append(" ".join(f"{p:.9f} {q:.9f} {z:.3f}" for p, q, z in wall))
            depth = (i % 40) * 0.15
            risks = [
                RISK.format(kind="Tsunami", rank=_rank(depth), depth=depth, extra=""),
                RISK.format(kind="HighTide", rank=_rank(depth / 2), depth=depth / 2, extra=""),
            ]
            for scale, factor in ((1, 0.5), (2, 1.0)):
                extra = FLOOD_EXTRA.format(scale=scale, duration=12 * factor)
                risks.append(
                    RISK.format(
                        kind="RiverFlooding",
                        rank=_rank(depth * factor),
                        depth=depth * factor,
                        extra=extra,
                    )
                )
            out.write(
                BUILDING.format(
                    i=i,
                    height=height,
                    storeys=1 + i % 4,
                    ground=_pos(ring, base),
                    faces="\n".join(FACE.format(f) for f in faces),
                    risks="\n".join(risks),
                )
            )
        out.write("</core:CityModel>\n")


def parse_floor(paths: list[Path]) -> int:
    """Buildings found by a bare streaming parse that frees each one: the lower bound."""
    count = 0
    for path in paths:
        for _event, elem in etree.iterparse(str(path), events=("end",), tag="{*}Building"):
            count += 1
            elem.clear()
            member = elem.getparent()
            while member is not None and member.getprevious() is not None:
                del member.getparent()[0]
    return count


def best_of(repeat: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def report(label: str, paths: list[Path], repeat: int) -> None:
    size = sum(p.stat().st_size for p in paths)
    result = buildings_from_citygml(paths)
    count = len(result.buildings)
    importer = best_of(repeat, lambda: buildings_from_citygml(paths))
    floor = best_of(repeat, lambda: parse_floor(paths))
    print(f"{label}: {count:,} buildings, {size / 1e6:.1f} MB in {len(paths)} file(s)")
    print(f"  {result.summary()}")
    print(
        f"  buildings_from_citygml  {importer:8.3f} s  {count / importer:10,.0f} buildings/s  "
        f"{size / 1e6 / importer:6.1f} MB/s"
    )
    print(
        f"  bare lxml iterparse     {floor:8.3f} s  {count / floor:10,.0f} buildings/s  "
        f"{size / 1e6 / floor:6.1f} MB/s"
    )
    print(f"  importer / parse floor  {importer / floor:8.2f}x")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mb() -> float:
    """Resident memory now (Linux ``/proc``; the peak since start where there is none)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return _rss_mb()
    return pages * resource.getpagesize() / 2**20


def tiled_import(buildings: int, tiles: int) -> None:
    """The CLI's path over ``tiles`` synthetic tile files into SQLite: wall time, peak RSS."""
    per_tile = math.ceil(buildings / tiles)
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp) / "udx" / "bldg"
        folder.mkdir(parents=True)
        start = time.perf_counter()
        for t in range(tiles):
            count = min(per_tile, buildings - t * per_tile)
            write_synthetic(folder / f"{53390000 + t}_bldg_6697_op.gml", count, t * per_tile)
        size = sum(p.stat().st_size for p in folder.iterdir())
        print(
            f"SYNTHETIC city: {buildings:,} buildings in {tiles} tile files, {size / 1e6:.0f} MB "
            f"(written in {time.perf_counter() - start:.1f} s)"
        )
        # What import_buildings imports on first use (plan storage, pandas, SQLAlchemy's
        # statements): timed apart, as the CLI's start-up, not as work per building.
        start, start_cpu = time.perf_counter(), time.process_time()
        importlib.import_module("disaster_dx.plans.buildings")
        print(
            f"  first-use imports (plans.buildings): {time.perf_counter() - start:.2f} s wall, "
            f"{time.process_time() - start_cpu:.2f} s CPU (not in the times below)"
        )
        before = _rss_mb()
        store = Store(f"sqlite:///{Path(temp) / 'bench.sqlite3'}")
        load_before = os.getloadavg()
        try:
            start, start_cpu = time.perf_counter(), time.process_time()
            sampled = [_current_rss_mb()]
            report = import_buildings(
                store,
                [Path(temp)],
                actor="bench",
                source="synthetic",
                progress=lambda _done, _total: sampled.append(_current_rss_mb()),
            )
            sampled.append(_current_rss_mb())
            wall = time.perf_counter() - start
            cpu = time.process_time() - start_cpu
        finally:
            store.dispose()
        load_after = os.getloadavg()
        print(f"  {report.lines()[-1]}")
        print(
            f"  import_buildings (parse + SQLite): {wall:.2f} s wall, {cpu:.2f} s CPU; "
            f"{buildings / wall:,.0f} buildings/s wall, {buildings / cpu:,.0f} buildings/s CPU "
            "(target < 10 s)"
        )
        print(
            f"  load average (1 min) {load_before[0]:.1f} before, {load_after[0]:.1f} after, on "
            f"{os.cpu_count()} CPU(s): wall exceeds CPU when other processes share the cores"
        )
        print(
            f"  peak RSS {_rss_mb():,.0f} MB (before the import {before:,.0f} MB; target < 400 MB)"
        )
        print(
            f"  RSS during the import, sampled about every MB read and at the end: "
            f"{sampled[0]:,.0f} MB at the start, at most {max(sampled):,.0f} MB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buildings", type=int, default=40_000)
    parser.add_argument("--tiles", type=int, default=100)
    parser.add_argument("--parse", action="store_true", help="also the parse-only comparison")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    tiled_import(args.buildings, args.tiles)
    if not args.parse:
        return

    real = sorted(SHARED_PLATEAU.glob("*.gml")) if SHARED_PLATEAU.is_dir() else []
    if real:
        report("real PLATEAU files", real, max(args.repeat, 5))
    else:
        print(f"real PLATEAU files: skipped ({SHARED_PLATEAU} is absent)")

    with tempfile.TemporaryDirectory() as temp:
        path = Path(temp) / "synthetic_bldg_6697_op.gml"
        start = time.perf_counter()
        write_synthetic(path, args.buildings)
        print(f"\n(synthetic file written in {time.perf_counter() - start:.1f} s)")
        report("synthetic city", [path], args.repeat)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of this process: {peak:,.0f} MB")


if __name__ == "__main__":
    main()
