"""GSI and 自治体標準 shelter import: the real Nankoku files, the merge rule, every bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from disaster_dx.bundled import BUNDLED_SHELTER_FILES
from disaster_dx.errors import ImportFileError
from disaster_dx.io.gsi import merge_records, read_shelter_file, shelters_from_files
from disaster_dx.model import GSI_HAZARD_COLUMNS, Hazard, ShelterKind

HAZARD_HEADER = ",".join(GSI_HAZARD_COLUMNS.values())
GSI_EMERGENCY_HEADER = (
    f"NO,共通ID,施設・場所名,住所,{HAZARD_HEADER},指定避難所との住所同一,緯度,経度,備考"
)
GSI_DESIGNATED_HEADER = (
    "NO,共通ID,施設・場所名,住所,指定緊急避難場所との住所同一,"
    "その他市町村長が必要と認める事項,受入対象者,緯度,経度,備考"
)


def _features(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["features"]


def _write(path: Path, text: str, encoding: str = "utf-8-sig") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def _geojson(path: Path, features: list[dict]) -> Path:
    document = {"type": "FeatureCollection", "features": features}
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


def _emergency_feature(gsi_id: str, name: str, lon: float, lat: float, **flags: str) -> dict:
    properties = {"共通ID": gsi_id, "施設・場所名": name, "住所": f"高知県南国市{name}"}
    properties |= {column: "" for column in GSI_HAZARD_COLUMNS.values()}
    properties |= flags
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": properties,
    }


def _designated_feature(gsi_id: str, name: str, lon: float, lat: float) -> dict:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {"共通ID": gsi_id, "施設・場所名": name, "住所": f"高知県南国市{name}"},
    }


# -- the real Nankoku files ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def nankoku():
    return shelters_from_files(BUNDLED_SHELTER_FILES)


def test_bundled_files_are_the_reference_files(shared_data: Path) -> None:
    for bundled in BUNDLED_SHELTER_FILES:
        assert bundled.read_bytes() == (shared_data / "gsi" / bundled.name).read_bytes()


def test_nankoku_sites_keep_every_source_record_once(nankoku) -> None:
    evacuation, emergency = (_features(p) for p in BUNDLED_SHELTER_FILES)
    assert (len(evacuation), len(emergency)) == (76, 102)
    source_ids = [f["properties"]["共通ID"] for f in evacuation + emergency]
    merged_ids = [gid for s in nankoku.shelters for gid in s.gsi_ids]
    assert sorted(merged_ids) == sorted(source_ids)
    both = [s for s in nankoku.shelters if len(s.kinds) == 2]
    assert len(both) == 39
    assert len(nankoku.shelters) == 76 + 102 - 39 == 139
    assert len({s.shelter_id for s in nankoku.shelters}) == 139
    assert all(s.municipality_code == "392049" for s in nankoku.shelters)


def test_nankoku_hazard_flags_match_the_emergency_file(nankoku) -> None:
    emergency = _features(BUNDLED_SHELTER_FILES[1])
    expected_totals = {
        Hazard.FLOOD: 45,
        Hazard.LANDSLIDE: 39,
        Hazard.STORM_SURGE: 1,
        Hazard.EARTHQUAKE: 37,
        Hazard.TSUNAMI: 63,
        Hazard.FIRE: 0,
        Hazard.INLAND_FLOOD: 49,
        Hazard.VOLCANO: 0,
    }
    for hazard, total in expected_totals.items():
        assert sum(hazard in s.hazards for s in nankoku.shelters) == total, hazard
    by_record = {gid: s for s in nankoku.shelters for gid in s.gsi_ids}
    for feature in emergency:
        properties = feature["properties"]
        shelter = by_record[properties["共通ID"]]
        flagged = {h for h, column in GSI_HAZARD_COLUMNS.items() if properties[column] == "1"}
        assert shelter.hazards == flagged, properties["施設・場所名"]


def test_nankoku_names_addresses_and_source_fields_are_exact(nankoku) -> None:
    by_record = {gid: s for s in nankoku.shelters for gid in s.gsi_ids}
    for path in BUNDLED_SHELTER_FILES:
        for feature in _features(path):
            properties = feature["properties"]
            shelter = by_record[properties["共通ID"]]
            kept = dict(shelter.source[properties["共通ID"]])
            kept.pop("kind")
            assert kept == properties
    white_silver = by_record["E3920400001111"]
    assert white_silver.name == "特別養護老人ホーム\u3000白銀荘"
    assert white_silver.address == "高知県南国市大埇乙1072-1"
    assert (white_silver.lon, white_silver.lat) == (133.65005, 33.565909)


def test_nankoku_pairs_share_a_facility_number_and_towers_stand_alone(nankoku) -> None:
    for shelter in nankoku.shelters:
        assert len({gid[:11] for gid in shelter.gsi_ids}) == 1
        if len(shelter.kinds) == 2:
            assert sorted(gid[11] for gid in shelter.gsi_ids) == ["1", "2"]
    towers = [s for s in nankoku.shelters if "タワー" in s.name]
    assert len(towers) == 14
    assert all(s.kinds == {ShelterKind.EMERGENCY} and Hazard.TSUNAMI in s.hazards for s in towers)


def test_same_place_different_facility_numbers_is_warned_not_merged(nankoku) -> None:
    tochi = [s for s in nankoku.shelters if s.name == "十市小学校"]
    assert len(tochi) == 2
    assert any("十市小学校" in w and "possible duplicate" in w for w in nankoku.warnings)


def test_reading_is_deterministic(nankoku) -> None:
    again = shelters_from_files(BUNDLED_SHELTER_FILES)
    assert again.shelters == nankoku.shelters
    assert again.sha256 == nankoku.sha256


# -- the merge rule on small cases --------------------------------------------------------------


def test_pairing_prefers_same_name_then_nearest(tmp_path: Path) -> None:
    evac = _geojson(
        tmp_path / "evac.geojson",
        [
            _designated_feature("E3920400050111", "体育館", 133.6000, 33.5500),
            _designated_feature("E3920400050112", "公民館", 133.6005, 33.5500),
        ],
    )
    emerg = _geojson(
        tmp_path / "emerg.geojson",
        [
            # Same name as the gym but nearer the hall, and the ground is nearest the gym:
            # the name wins, then the hall takes the nearest one left.
            _emergency_feature("E3920400050201", "体育館", 133.6006, 33.5500, 津波="1"),
            _emergency_feature("E3920400050202", "公民館グラウンド", 133.6001, 33.5500, 地震="1"),
            _emergency_feature("E3920400051201", "別施設", 133.6000, 33.5500, 洪水="1"),
        ],
    )
    result = shelters_from_files([evac, emerg])
    by_id = {s.shelter_id: s for s in result.shelters}
    assert by_id["E3920400050111"].gsi_ids == ("E3920400050111", "E3920400050201")
    assert by_id["E3920400050111"].hazards == {Hazard.TSUNAMI}
    assert by_id["E3920400050112"].gsi_ids == ("E3920400050112", "E3920400050202")
    assert by_id["E3920400050112"].name == "公民館"  # the 指定避難所 record names the site
    assert by_id["E3920400051201"].kinds == {ShelterKind.EMERGENCY}
    assert len(result.shelters) == 3


def test_far_apart_records_of_one_facility_stay_separate(tmp_path: Path) -> None:
    evac = _geojson(
        tmp_path / "evac.geojson", [_designated_feature("E3920400060111", "本館", 133.60, 33.55)]
    )
    emerg = _geojson(
        tmp_path / "emerg.geojson",
        [
            _emergency_feature(
                "E3920400060201", "裏山広場", 133.61, 33.55, **{"崖崩れ、土石流及び地滑り": "1"}
            )
        ],
    )
    result = shelters_from_files([evac, emerg])
    assert [s.gsi_ids for s in result.shelters] == [("E3920400060111",), ("E3920400060201",)]


# -- CSV formats ---------------------------------------------------------------------------------


def test_gsi_csv_with_bom_multiline_fields_and_no_city_column(tmp_path: Path) -> None:
    flags = ",,,,1,,,"
    path = _write(
        tmp_path / "emergency.csv",
        f"{GSI_EMERGENCY_HEADER}\r\n"
        f'1,E3920400137201,札場避難場所,高知県南国市ＪＡ十市園芸課北,{flags},,33.526434,133.618962,""\r\n'
        f'2,E3920400138201,"前浜\n津波避難タワー",高知県南国市前浜,{flags},,33.53,133.63,"2階\r\n以上"\r\n',
    )
    records, source = read_shelter_file(path)
    assert source.format == "gsi-csv" and source.kind is ShelterKind.EMERGENCY
    assert [r.name for r in records] == ["札場避難場所", "前浜\n津波避難タワー"]
    assert records[1].fields["備考"] == "2階\r\n以上"
    assert records[0].hazards == {Hazard.TSUNAMI}
    assert (records[0].lon, records[0].lat) == (133.618962, 33.526434)


def test_gsi_csv_and_geojson_give_the_same_sites(tmp_path: Path) -> None:
    lines = [GSI_EMERGENCY_HEADER]
    for feature in _features(BUNDLED_SHELTER_FILES[1]):
        p = feature["properties"]
        lon, lat = feature["geometry"]["coordinates"]
        flags = ",".join(p[c] for c in GSI_HAZARD_COLUMNS.values())
        lines.append(
            f'{p["NO"]},{p["共通ID"]},"{p["施設・場所名"]}",{p["住所"]},{flags},'
            f'{p["指定避難所との住所同一"]},{lat},{lon},"{p["備考"]}"'
        )
    csv_path = _write(tmp_path / "emergency.csv", "\r\n".join(lines) + "\r\n")
    from_csv = shelters_from_files([BUNDLED_SHELTER_FILES[0], csv_path]).shelters
    from_geojson = shelters_from_files(BUNDLED_SHELTER_FILES).shelters
    assert [(s.shelter_id, s.name, s.hazards, s.kinds, s.lon, s.lat) for s in from_csv] == [
        (s.shelter_id, s.name, s.hazards, s.kinds, s.lon, s.lat) for s in from_geojson
    ]


STANDARD_HEADER = (
    "全国地方公共団体コード,ID,名称,名称_カナ,所在地_連結表記,緯度,経度,"
    + ",".join(f"災害種別_{c}" for c in GSI_HAZARD_COLUMNS.values())
    + ",指定避難所との重複,想定収容人数,備考"
)


def test_standard_dataset_csv_brings_capacity(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "standard.csv",
        f"{STANDARD_HEADER}\n"
        "392049,1,稲生ふれあい館,イナブフレアイカン,高知県南国市稲生542,33.546931,133.623414,"
        '1,,,1,,,1,,1,"1,200",\n'
        "392049,2,新しい広場,アタラシイヒロバ,高知県南国市どこか,33.56,133.64,,,,1,,,,,,80,\n",
    )
    result = shelters_from_files([BUNDLED_SHELTER_FILES[1], path])
    inou = next(s for s in result.shelters if s.name == "稲生ふれあい館")
    assert inou.capacity == 1200
    assert "392049-1" in inou.gsi_ids and len(inou.gsi_ids) == 2
    new = next(s for s in result.shelters if s.name == "新しい広場")
    assert (new.shelter_id, new.capacity, new.hazards) == ("392049-2", 80, {Hazard.EARTHQUAKE})
    assert len(result.shelters) == 103


# -- malformed input: one clear error, with the place, nothing returned ---------------------------


def _problems(paths: list[Path]) -> str:
    with pytest.raises(ImportFileError) as caught:
        shelters_from_files(paths)
    assert "nothing was imported" in str(caught.value)
    return str(caught.value)


def test_bad_json_names_line_and_column(tmp_path: Path) -> None:
    text = '{"type": "FeatureCollection", "features": [\n  {,}\n]}'
    path = _write(tmp_path / "bad.geojson", text)
    assert "bad.geojson line 2 column 4: bad JSON" in _problems([path])


def test_not_a_feature_collection(tmp_path: Path) -> None:
    path = _write(tmp_path / "list.geojson", "[1, 2]")
    assert "not a GeoJSON FeatureCollection" in _problems([path])


def test_missing_coordinates_names_the_feature(tmp_path: Path) -> None:
    good = _designated_feature("E3920400070111", "A館", 133.6, 33.55)
    no_geometry = _designated_feature("E3920400071111", "B館", 133.6, 33.55) | {"geometry": None}
    blank_csv = _write(
        tmp_path / "blank.csv",
        f"{GSI_DESIGNATED_HEADER}\n1,E3920400072111,C館,南国市,,,,,133.6,\n",
    )
    path = _geojson(tmp_path / "shelters.geojson", [good, no_geometry])
    message = _problems([path, blank_csv])
    assert "shelters.geojson feature 2 (共通ID E3920400071111): missing or invalid Point" in message
    assert "blank.csv row 1 (line 2) (共通ID E3920400072111): latitude 緯度 is missing" in message


def test_coordinates_outside_japan_and_swapped(tmp_path: Path) -> None:
    path = _geojson(
        tmp_path / "far.geojson",
        [
            _designated_feature("E3920400080111", "ロンドン", -0.12, 51.5),
            _designated_feature("E3920400081111", "逆順", 33.55, 133.6),
        ],
    )
    message = _problems([path])
    assert "feature 1 (共通ID E3920400080111): position (-0.12, 51.5) is outside Japan" in message
    assert "feature 2 (共通ID E3920400081111)" in message and "look swapped" in message


def test_non_numeric_coordinate_and_bad_flag(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "emergency.csv",
        f"{GSI_EMERGENCY_HEADER}\n1,E3920400090201,X広場,南国市,,,,,はい,,,,,北緯33,133.6,\n",
    )
    message = _problems([path])
    where = "row 1 (line 2) (共通ID E3920400090201)"
    assert f"{where}: latitude 緯度 '北緯33' is not a number" in message
    assert "津波 is 'はい'; expected 1 (1.0, ○, TRUE) or blank" in message


def test_duplicate_ids_within_and_across_files(tmp_path: Path) -> None:
    feature = _designated_feature("E3920400100111", "重複館", 133.6, 33.55)
    first = _geojson(tmp_path / "a.geojson", [feature, feature])
    assert (
        "a.geojson feature 2 (共通ID E3920400100111): ID E3920400100111 also appears at "
        "a.geojson feature 1" in _problems([first])
    )
    twice = _problems([BUNDLED_SHELTER_FILES[0], BUNDLED_SHELTER_FILES[0]])
    assert "also appears at evacuation_392049.geojson feature 1" in twice


def test_shift_jis_csv_is_refused_with_the_encoding_named(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "sjis.csv",
        f"{GSI_DESIGNATED_HEADER}\n1,E3920400110111,南国市役所,南国市大埇甲2301,,,,33.57,133.64,\n",
        encoding="cp932",
    )
    message = _problems([path])
    assert "sjis.csv line 1: not UTF-8 text; it looks like Shift_JIS (CP932)" in message
    assert "UTF-8" in message


def test_short_row_and_unknown_layout(tmp_path: Path) -> None:
    short = _write(tmp_path / "short.csv", f"{GSI_DESIGNATED_HEADER}\n1,E3920400120111,館\n")
    assert "short.csv row 1 (line 2): has 3 fields but the header has 10" in _problems([short])
    other = _write(tmp_path / "other.csv", "name,lat,lon\nx,33,133\n")
    assert "unknown CSV layout" in _problems([other])
    missing = _write(tmp_path / "missing.csv", "NO,共通ID,施設・場所名,住所\n")
    assert "missing column(s): 緯度, 経度" in _problems([missing])


def test_every_problem_of_every_file_is_reported_at_once(tmp_path: Path) -> None:
    bad_json = _write(tmp_path / "a.geojson", "{")
    bad_id = _geojson(tmp_path / "b.geojson", [_designated_feature("X1", "館", 133.6, 33.55)])
    with pytest.raises(ImportFileError) as caught:
        shelters_from_files([bad_json, bad_id, tmp_path / "absent.geojson"])
    places = [p.where for p in caught.value.problems]
    assert places[0].startswith("a.geojson line 1")
    assert places[1] == "b.geojson feature 1 (共通ID X1)"
    assert places[2] == "absent.geojson"


def test_merge_of_nothing_is_nothing() -> None:
    assert merge_records([]) == ([], [])
