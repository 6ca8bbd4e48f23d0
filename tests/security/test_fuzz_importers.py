"""Fuzzing every importer: success or the project's located error, never a crash or half an import.

Each importer starts from a valid sample (the bundled data, the test fixtures) and Hypothesis
mutates it — bytes flipped, inserted, deleted, cut short, a field swapped for an awkward value
(NUL, a lone surrogate's bytes, ``1e999``, ``NaN``, an alias, an entity, a formula, nesting) —
or generates bytes outright. Files go through the real ``disaster-dx`` command on the test
database (SQLite, and PostgreSQL in CI's second run), so a value that passes validation but
breaks the database write is found too. After a refusal the database must be exactly as it was.

Derandomized with modest example counts: the same inputs every run, fast enough for CI on both
databases. Crashes found by fuzzing are kept as explicit regression examples (``@example``).
"""

from __future__ import annotations

import contextlib
import copy
import csv
import io
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import inspect, text

from disaster_dx import auth, cameras, drills
from disaster_dx.bundled import ensure_initialised
from disaster_dx.cli import main
from disaster_dx.config import BUNDLED_DATA_DIR
from disaster_dx.errors import DisasterDxError
from disaster_dx.store import Store
from tests.common import ROOT
from tests.test_gsi import GSI_EMERGENCY_HEADER, STANDARD_HEADER
from tests.test_residents import GOOD as RESIDENTS_CSV
from tests.test_roads import OSMNX_GRAPHML, PLUS, feature_collection

#: CI runs the same 25 inputs per importer; ``DX_FUZZ_EXAMPLES=2000`` explores new ones locally.
_DEEP = int(os.environ.get("DX_FUZZ_EXAMPLES", "0"))
FUZZ = settings(
    max_examples=_DEEP or 25,
    derandomize=not _DEEP,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

#: Values that break parsers: delimiters, nesting, non-numbers, encodings, YAML/XML tricks.
AWKWARD: list[bytes] = [
    b"",
    b"0",
    b"-1",
    b"1e999",
    b"NaN",
    b"-Infinity",
    b"null",
    b"true",
    b"[]",
    b"{}",
    b'"',
    b",",
    b"\n",
    b"\r",
    b"\t",
    b"\x00",
    b"\xff\xfe",
    b"\xed\xa0\x80",  # a lone surrogate in UTF-8 form
    "南国市".encode(),
    "１２３".encode(),
    "○".encode(),
    b'=HYPERLINK("http://x")',
    b"9" * 400,
    b"[" * 200,
    b'{"a":' * 100,
    b"&a [1, 2]",
    b"*a",
    b"!!python/object:os.system",
    b"<<: *a",
    b"<a>",
    b"</gml:posList>",
    b"&xxe;",
    b"<!DOCTYPE x [<!ENTITY xxe SYSTEM 'file:///etc/passwd'>]>",
    b"]]>",
    b"x" * 200_000,  # past the csv module's field size limit
]
_DELIMITERS = b" ,:;\"'\n\r\t[]{}<>="


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """``seed`` with one to four byte- or field-level changes."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["field", "field", "insert", "delete", "flip", "cut"]))
        at = draw(st.integers(0, len(data)))
        if op == "field":  # the run between two delimiters becomes an awkward value
            start = at
            while start > 0 and data[start - 1] not in _DELIMITERS:
                start -= 1
            end = at
            while end < len(data) and data[end] not in _DELIMITERS:
                end += 1
            value = draw(st.sampled_from(AWKWARD) | st.text(max_size=6).map(str.encode))
            data[start:end] = value
        elif op == "insert":
            data[at:at] = draw(st.sampled_from(AWKWARD) | st.binary(min_size=1, max_size=4))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        elif op == "flip" and data:
            index = min(at, len(data) - 1)
            data[index] ^= 1 << draw(st.integers(0, 7))
        else:
            del data[at:]
    return bytes(data)


#: Values of the wrong type or range, for field-level mutation of parsed JSON/YAML/CSV.
AWKWARD_VALUES: list[object] = [
    None,
    True,
    0,
    -1,
    10**30,
    1e308,
    -0.0,
    "",
    " ",
    "\x00",
    "=1+2",
    "南国市" * 200,
    [],
    {},
    [[[1]]],
    {"type": "Point", "coordinates": [133.6, 33.5]},
    [133.6, 33.5],
    "+00:00:00",
    "E3920400072111",
]


def _paths(value: object, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside parsed JSON/YAML (mappings and lists)."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_paths(item, (*prefix, index)))
    return found


@st.composite
def field_mutated(draw: st.DrawFn, seed: bytes, kind: str) -> bytes:
    """``seed`` parsed, one to three values replaced by awkward ones, and written again."""
    if kind == "csv":
        rows = list(csv.reader(io.StringIO(seed.decode("utf-8-sig"), newline="")))
        for _ in range(draw(st.integers(1, 3))):
            row = draw(st.integers(0, len(rows) - 1))
            column = draw(st.integers(0, max(len(rows[row]) - 1, 0)))
            value = draw(st.sampled_from(AWKWARD_VALUES) | st.text(max_size=8))
            if rows[row]:
                rows[row][column] = value if isinstance(value, str) else json.dumps(value)
        buffer = io.StringIO(newline="")
        csv.writer(buffer, lineterminator="\r\n").writerows(rows)
        return buffer.getvalue().encode("utf-8-sig")
    document = json.loads(seed) if kind == "json" else yaml.safe_load(seed)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(document)[1:]))
        parent = document
        for step in path[:-1]:
            parent = parent[step]
        # A copy: the shared lists and mappings must never end up inside themselves.
        value = copy.deepcopy(draw(st.sampled_from(AWKWARD_VALUES) | st.text(max_size=8)))
        parent[path[-1]] = value
    if kind == "json":
        return json.dumps(document, ensure_ascii=False).encode()
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False).encode()


def inputs(seed: bytes, kind: str | None = None) -> st.SearchStrategy[bytes]:
    """Mutations of a valid sample (bytes, and fields when ``kind`` says how to parse it),
    sometimes the sample itself or plain random bytes."""
    fields = [field_mutated(seed, kind)] * 2 if kind else []
    return st.one_of(mutated(seed), *fields, st.just(seed), st.binary(max_size=64))


# -- samples ------------------------------------------------------------------------------------


def _gsi_features(count: int = 3) -> list[dict]:
    path = BUNDLED_DATA_DIR / "gsi" / "emergency_392049.geojson"
    return json.loads(path.read_text(encoding="utf-8"))["features"][:count]


GSI_GEOJSON = json.dumps(
    {"type": "FeatureCollection", "features": _gsi_features()}, ensure_ascii=False, indent=1
).encode()


def _gsi_csv() -> bytes:
    header = GSI_EMERGENCY_HEADER.split(",")
    lines = [GSI_EMERGENCY_HEADER]
    for feature in _gsi_features():
        props = feature["properties"]
        lon, lat = feature["geometry"]["coordinates"]
        values = {**props, "緯度": str(lat), "経度": str(lon)}
        lines.append(",".join(str(values.get(column, "")) for column in header))
    return ("\r\n".join(lines) + "\r\n").encode("utf-8-sig")


GSI_CSV = _gsi_csv()
STANDARD_CSV = (
    f"{STANDARD_HEADER}\n"
    "392049,1,稲生ふれあい館,イナブフレアイカン,高知県南国市稲生542,33.546931,133.623414,"
    '1,,,1,,,1,,1,"1,200",\n'
    "392049,2,新しい広場,アタラシイヒロバ,高知県南国市どこか,33.56,133.64,,,,1,,,,,,80,\n"
).encode()
CITYGML = (ROOT / "tests" / "fixtures" / "plateau" / "iur30_nankoku.gml").read_bytes()
SCENARIO_YAML = (drills.SCENARIO_DIR / "typhoon_river_flood.yaml").read_bytes()
SCENARIO_JSON = json.dumps(yaml.safe_load(SCENARIO_YAML), ensure_ascii=False, indent=1).encode()
REGISTRY = (BUNDLED_DATA_DIR / "cameras.yaml").read_bytes()
AREAS = (BUNDLED_DATA_DIR / "areas.geojson").read_bytes()
ROADS_LINES = feature_collection(*PLUS).encode()


def _polygons(properties: list[dict]) -> bytes:
    """Small squares near Nankoku City Hall, one per properties dict."""
    features = []
    for i, props in enumerate(properties):
        x, y = 133.6413 + i * 0.001, 33.5757
        ring = [[x, y], [x + 0.0005, y], [x + 0.0005, y + 0.0004], [x, y + 0.0004], [x, y]]
        geometry = {"type": "Polygon", "coordinates": [ring]}
        features.append({"type": "Feature", "properties": props, "geometry": geometry})
    collection = {"type": "FeatureCollection", "features": features}
    return json.dumps(collection, ensure_ascii=False, indent=1).encode()


BUILDINGS = _polygons(
    [
        {"id": "b1", "name": "庁舎", "height": 15.2, "building:levels": 4, "building": "civic"},
        {"id": "b2", "name": "倉庫", "height": "7", "structure": "木造"},
    ]
)
ZONES = _polygons([{"A40_003": "0.3m以上 1m未満"}, {"A40_003": "5～10m"}])


# -- the harness --------------------------------------------------------------------------------


def snapshot(store: Store) -> dict[str, list[str]]:
    """Every row of every table, as text: what "the store is unchanged" compares."""
    tables: dict[str, list[str]] = {}
    with store.engine.connect() as conn:
        for name in sorted(inspect(conn).get_table_names()):
            rows = conn.execute(text(f'SELECT * FROM "{name}"')).all()
            tables[name] = sorted(repr(tuple(row)) for row in rows)
    return tables


@pytest.fixture
def city(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> Store:
    """A city's database as the CLI sees it, with a planner for the residents import."""
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("DISASTER_DX_ENV", raising=False)
    monkeypatch.chdir(tmp_path)
    store = Store(database_url)
    store.create_schema()
    ensure_initialised(store, actor="test")
    auth.add_user(store, "planner1", "planner-password-1234", {auth.Role.PLANNER}, actor="test")
    yield store
    store.dispose()


def run_cli(store: Store, path: Path, data: bytes, argv: list[str]) -> tuple[int, str]:
    """Write ``data`` to ``path`` and run the command: exit 0, or exit 1 with nothing changed."""
    path.write_bytes(data)
    before = snapshot(store)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()) as out:
        code = main(argv)  # anything but the project's own error escapes here and fails
    said = err.getvalue() + out.getvalue()
    assert code in (0, 1), said
    assert "Traceback" not in said
    if code == 1:
        assert path.name in said, f"the refusal must name the file: {said}"
        assert snapshot(store) == before, "a refused import changed the database"
    return code, said


# -- the importers through the CLI -------------------------------------------------------------

SEEDS = {
    "shelters.geojson": (GSI_GEOJSON, ["import-shelters"]),
    "shelters.csv": (GSI_CSV, ["import-shelters"]),
    "standard.csv": (STANDARD_CSV, ["import-shelters"]),
    "tile_bldg.gml": (CITYGML, ["import-buildings"]),
    "buildings.geojson": (BUILDINGS, ["import-buildings"]),
    "residents.csv": (RESIDENTS_CSV.encode("utf-8-sig"), ["import-residents"]),
    "roads.graphml": (OSMNX_GRAPHML.encode(), ["import-roads"]),
    "roads.geojson": (ROADS_LINES, ["import-roads"]),
    "areas.geojson": (AREAS, ["import-areas"]),
    "scenario.yaml": (SCENARIO_YAML, ["drill", "validate"]),
    "scenario.json": (SCENARIO_JSON, ["drill", "validate"]),
}


@pytest.mark.parametrize("name", SEEDS)
def test_every_sample_imports(city: Store, tmp_path: Path, name: str) -> None:
    """The fuzzing starts from files that import: mutations then probe every later check."""
    data, command = SEEDS[name]
    path = tmp_path / name
    extra = ["--user", "planner1"] if name == "residents.csv" else []
    code, said = run_cli(city, path, data, [*command, str(path), *extra])
    assert code == 0, said


@FUZZ
@given(data=inputs(GSI_GEOJSON, "json"))
def test_fuzz_gsi_geojson(city: Store, tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "shelters.geojson"
    run_cli(city, path, data, ["import-shelters", str(path)])


@FUZZ
@given(data=inputs(GSI_CSV, "csv"))
def test_fuzz_gsi_csv(city: Store, tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "shelters.csv"
    run_cli(city, path, data, ["import-shelters", str(path)])


#: Found by fuzzing on PostgreSQL: each passed validation, then broke the database write.
UNSTORABLE_STANDARD_CSV = [
    STANDARD_CSV.replace(b"\n392049,1,", b"\n\x00,1,"),  # NUL (PostgreSQL refuses it)
    STANDARD_CSV.replace(b"\n392049,1,", b"\n" + b"1" * 31 + b",1,"),  # code past String(8)
    STANDARD_CSV.replace(b'"1,200"', b"9" * 40),  # capacity past an SQL INTEGER
]


@pytest.mark.parametrize("data", UNSTORABLE_STANDARD_CSV)
def test_values_a_database_cannot_hold_are_refused_with_their_row(
    city: Store, tmp_path: Path, data: bytes
) -> None:
    path = tmp_path / "standard.csv"
    code, said = run_cli(city, path, data, ["import-shelters", str(path)])
    assert code == 1 and "standard.csv row 1 (line 2)" in said


@FUZZ
@given(data=inputs(STANDARD_CSV, "csv"))
@example(data=UNSTORABLE_STANDARD_CSV[0])
@example(data=UNSTORABLE_STANDARD_CSV[1])
def test_fuzz_standard_dataset_csv(city: Store, tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "standard.csv"
    run_cli(city, path, data, ["import-shelters", str(path)])


@FUZZ
@given(data=inputs(CITYGML))
def test_fuzz_citygml(city: Store, tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "tile_bldg.gml"
    run_cli(city, path, data, ["import-buildings", str(path)])


@FUZZ
@given(data=inputs(BUILDINGS, "json"))
def test_fuzz_building_polygons(city: Store, tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "buildings.geojson"
    run_cli(city, path, data, ["import-buildings", str(path)])


@FUZZ
@given(data=inputs(ZONES, "json"))
def test_fuzz_hazard_zones(city: Store, tmp_path: Path, data: bytes) -> None:
    buildings = tmp_path / "buildings.geojson"
    buildings.write_bytes(BUILDINGS)
    path = tmp_path / "zones.geojson"
    run_cli(city, path, data, ["import-buildings", str(buildings), "--zones", str(path)])


@FUZZ
@given(data=inputs(RESIDENTS_CSV.encode("utf-8-sig"), "csv"))
def test_fuzz_residents_csv(city: Store, tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "residents.csv"
    run_cli(city, path, data, ["import-residents", str(path), "--user", "planner1"])


@FUZZ
@given(data=inputs(OSMNX_GRAPHML.encode()))
def test_fuzz_roads_graphml(city: Store, tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "roads.graphml"
    run_cli(city, path, data, ["import-roads", str(path)])


@FUZZ
@given(data=inputs(ROADS_LINES, "json"))
def test_fuzz_roads_lines(city: Store, tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "roads.geojson"
    run_cli(city, path, data, ["import-roads", str(path)])


@FUZZ
@given(data=inputs(AREAS, "json"))
def test_fuzz_areas(city: Store, tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "areas.geojson"
    run_cli(city, path, data, ["import-areas", str(path)])


@FUZZ
@given(data=inputs(SCENARIO_YAML, "yaml") | inputs(SCENARIO_JSON, "json"))
@example(data=b"version: 1\x00\n")  # found by fuzzing: yaml's ReaderError escaped as a crash
def test_fuzz_scenario_files(city: Store, tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "scenario.yaml"
    run_cli(city, path, data, ["drill", "validate", str(path)])


# -- the camera registry: validated, then synced into the store ------------------------------------


@FUZZ
@given(data=inputs(REGISTRY, "yaml"))
@example(data=b"version: 1\x00\n")  # a ReaderError, not a MarkedYAMLError
def test_fuzz_camera_registry(city: Store, data: bytes) -> None:
    cameras.create_camera_tables(city)
    before = snapshot(city)
    try:
        registry = cameras.registry_from_yaml(data.decode("utf-8", "replace"), source="cams.yaml")
    except cameras.CameraRegistryError as error:
        assert error.problems and all(p.where for p in error.problems)
        assert snapshot(city) == before
        return
    cameras.sync_registry(city, registry, actor="fuzz")


# -- the upload path of the drill page, with the store's shelters ---------------------------------


@FUZZ
@given(data=inputs(SCENARIO_YAML, "yaml"))
def test_fuzz_scenario_upload(city: Store, data: bytes) -> None:
    shelters = city.shelters()
    parse: Callable[[], object] = lambda: drills.parse_scenario(  # noqa: E731
        data, shelters=shelters, source="upload.yaml", base_dir=drills.SCENARIO_DIR
    )
    try:
        parse()
    except drills.ScenarioError as error:
        assert error.problems and all(p.line >= 1 for p in error.problems)
    except DisasterDxError as error:  # pragma: no cover - the page shows only ScenarioError
        pytest.fail(f"the drill page would show a 500 for: {error}")
