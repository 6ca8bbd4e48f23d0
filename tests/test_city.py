"""Any city by its 全国地方公共団体コード, from its own real open data (issue #20 items 1–2).

The fixtures in ``tests/fixtures/cities`` are written in the shapes real files have: a
pandas/spreadsheet export with ``1.0`` flags, ``屋内N人／屋外M人`` capacities and 地区 (七尾市),
and a file with ``○`` / ``TRUE`` flags, full-width digits and 「約200人」 (金沢市).
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import pytest

from disaster_dx import alerts, notify
from disaster_dx.areas import SHELTER_FILE_AREA_PREFIX
from disaster_dx.bundled import (
    CITY_OUTLINE,
    ensure_initialised,
    import_boundary_file,
    import_shelter_files,
)
from disaster_dx.city import (
    MUNICIPALITY_LIST,
    NANKOKU_CODE,
    UnknownCityError,
    check_digit,
    city_for_code,
    english_name,
    is_valid_code,
    municipalities,
)
from disaster_dx.cli import main
from disaster_dx.config import Settings
from disaster_dx.errors import DisasterDxError, ImportFileError
from disaster_dx.io.gsi import capacity_from_text, shelters_from_files
from disaster_dx.io.lalert import lalert_records, lalert_xml
from disaster_dx.model import AlertLevel, Hazard
from disaster_dx.store import Store
from disaster_dx.web.context import EXTENSION_KEY
from tests.common import ROOT
from tests.conftest import add_staff_user
from tests.webtools import login_client

FIXTURES = ROOT / "tests" / "fixtures" / "cities"
NANAO_CSV = FIXTURES / "nanao_172022_standard.csv"
KANAZAWA_CSV = FIXTURES / "kanazawa_172014_standard.csv"
NANKOKU_WORDS = re.compile(r"南国|Nankoku|なんこく|ナンコク|392049|高知", re.IGNORECASE)


# -- the bundled list ---------------------------------------------------------------------------


def test_every_bundled_code_passes_its_check_digit() -> None:
    with MUNICIPALITY_LIST.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 47 + 1747  # prefectures + 市町村・特別区 (北方領土の6村を含む)
    bad = [r["code"] for r in rows if not is_valid_code(r["code"])]
    assert bad == []
    assert len({r["code"] for r in rows}) == len(rows)
    assert all(r["kana"] for r in rows)


def test_check_digit_is_the_official_rule() -> None:
    # 392049 南国市, 172022 七尾市, 131016 千代田区, 402311 那珂川市 (remainder 0 → 1).
    assert [check_digit(c) for c in ("39204", "17202", "13101", "40231")] == ["9", "2", "6", "1"]
    assert not is_valid_code("392040")


def test_cities_by_code() -> None:
    nanao = city_for_code("172022")
    assert (nanao.prefecture, nanao.name, nanao.kana, nanao.name_en) == (
        "石川県",
        "七尾市",
        "ななおし",
        "Nanao City",
    )
    assert nanao.full_name == "石川県七尾市"
    assert nanao.hq_title == "七尾市 災害対策本部"
    assert city_for_code(NANKOKU_CODE).name_en == "Nankoku City"
    assert city_for_code("173843").name_en == "Shika Town"
    assert city_for_code("172022", name_en="City of Nanao").label("en") == "City of Nanao"
    assert len(municipalities()) == 1747


@pytest.mark.parametrize(
    ("kana", "english"),
    [
        ("こうちし", "Kochi City"),
        ("おおさかし", "Osaka City"),
        ("ちゅうおうく", "Chuo City"),
        ("のとちょう", "Noto Town"),
        ("はっぽうちょう", "Happo Town"),
        ("ひがしかぐらちょう", "Higashikagura Town"),
        ("しこたんむら", "Shikotan Village"),
    ],
)
def test_english_name_is_the_official_reading_romanised(kana: str, english: str) -> None:
    assert english_name(kana) == english


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("39204", "six-digit"),
        ("392040", "check digit (the sixth digit should be 9)"),
        ("390003", "a prefecture"),
        ("011011", "not a municipality"),  # 札幌市中央区: a ward, not a 地方公共団体
    ],
)
def test_bad_codes_are_refused_with_the_reason(code: str, words: str) -> None:
    with pytest.raises(UnknownCityError, match=re.escape(words)):
        city_for_code(code)


# -- real files ---------------------------------------------------------------------------------


def test_real_flag_spellings_and_capacity_texts() -> None:
    result = shelters_from_files([NANAO_CSV, KANAZAWA_CSV])
    by_name = {s.name: s for s in result.shelters}
    tobu = by_name["七尾市立七尾東部中学校"]
    assert tobu.hazards == {Hazard.FLOOD, Hazard.EARTHQUAKE, Hazard.TSUNAMI}
    assert tobu.capacity == 480
    assert tobu.capacity_note == "屋内480人／屋外3,350人(面積の1/2)"
    assert (tobu.name_kana, tobu.name_en) == (
        "ナナオシリツナナオトウブチュウガッコウ",
        "Nanao Tobu Junior High School",
    )
    assert (tobu.elevation_m, tobu.phone) == (5.2, "0767-53-0000")
    assert tobu.areas == ("七尾東部地区", "小島町会", "府中町会")
    assert by_name["小丸山城址公園"].capacity is None  # 屋外 only: no indoor figure
    kenroku = by_name["金沢市立兼六小学校"]
    assert kenroku.hazards == {Hazard.FLOOD, Hazard.EARTHQUAKE, Hazard.INLAND_FLOOD}
    assert kenroku.capacity == 200
    assert by_name["犀川河川敷"].hazards == {Hazard.EARTHQUAKE, Hazard.FIRE}
    gym = by_name["金沢市体育館"]
    assert gym.capacity == 1200  # full-width 「１，２００」
    assert gym.areas == ("泉野町会", "泉野出町会")
    assert by_name["田鶴浜地区コミュニティセンター"].name_en == ""  # none published: none made


def test_warnings_are_counted_and_grouped_by_kind() -> None:
    result = shelters_from_files([NANAO_CSV, KANAZAWA_CSV])
    kinds = [n.kind for n in result.notes]
    assert kinds.count("capacity-text") == 3  # two 屋内/屋外 texts and 「約200人」
    assert kinds.count("capacity-unreadable") == 1  # 「屋外5,000人」
    report = result.warning_report(examples=1)
    assert report[0].startswith("想定収容人数 read from text") and report[0].endswith(": 3")
    assert "nanao_172022_standard.csv row 1" in report[1]
    assert "→ 480 (屋外3,350人(面積の1/2) kept as a note)" in report[1]
    assert report[2] == "  … and 2 more"
    assert any(line.endswith(": 1") and "no number" in line for line in report)
    assert len(result.warnings) == len(result.notes)
    # A file of another municipality is imported, and said so, never silently.
    for_nanao = shelters_from_files([NANAO_CSV, KANAZAWA_CSV], city_code="172022")
    others = [n for n in for_nanao.notes if n.kind == "other-municipality"]
    assert len(others) == 3 and "172014, not 172022" in others[0].message
    assert any(
        line.startswith("records of another municipality") for line in for_nanao.warning_report()
    )


def test_capacity_text_readings() -> None:
    assert capacity_from_text("1,200") == (1200, None)
    assert capacity_from_text("480.0") == (480, None)
    assert capacity_from_text("屋内：1,200人")[0] == 1200
    assert capacity_from_text("未定")[0] is None
    assert capacity_from_text("")[1] is None


def test_real_errors_still_refuse_the_whole_file(tmp_path: Path) -> None:
    original = NANAO_CSV.read_text(encoding="utf-8-sig")
    text = original.replace("136.9189", "999")
    text = text.replace(",1.0,,,1.0,1.0,,,,1.0,", ",はい,,,1.0,1.0,,,,1.0,", 1)
    bad = tmp_path / "nanao_bad.csv"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(ImportFileError) as caught:
        shelters_from_files([bad])
    message = str(caught.value)
    assert "nothing was imported" in message
    assert "row 2 (line 3): position (999.0, 37.0883) is outside Japan" in message
    assert "row 1 (line 2): 災害種別_洪水 is 'はい'" in message
    twice = tmp_path / "nanao_twice.csv"
    twice.write_text(original.replace("\n172022,3,", "\n172022,1,"), encoding="utf-8")
    with pytest.raises(ImportFileError, match=r"row 3 .*: ID 172022-1 also appears at .* row 1"):
        shelters_from_files([twice])


# -- set-up and import through the store (SQLite and PostgreSQL) ----------------------------


def test_a_new_city_starts_empty_and_never_inherits_nankoku(store: Store) -> None:
    nanao = city_for_code("172022")
    assert ensure_initialised(store, actor="test", city=nanao) is None
    assert store.shelters(include_inactive=True) == []
    assert store.city_outline() is None
    assert [(a.name, a.name_en, a.name_easy) for a in store.areas()] == [
        ("七尾市全域", "All of Nanao City", "ななおし ぜんぶ")
    ]
    assert store.live_incident(actor="test").title == "七尾市 災害対策本部"
    with pytest.raises(DisasterDxError, match=r"serves 石川県七尾市 .* not 高知県南国市"):
        ensure_initialised(store, actor="test", city=city_for_code(NANKOKU_CODE))
    with pytest.raises(ImportFileError, match="no feature has N03_007 = 17202"):
        import_boundary_file(store, CITY_OUTLINE, actor="test")  # Nankoku's outline


def test_shelter_file_areas_drive_alerts(store: Store) -> None:
    ensure_initialised(store, actor="test", city=city_for_code("172022"))
    import_shelter_files(store, [NANAO_CSV], actor="test")
    areas = {a.name: a for a in store.areas()}
    assert next(iter(areas)) == "七尾市全域"
    assert set(areas) >= {"和倉地区", "七尾東部地区", "小島町会", "田鶴浜町会"}
    wakura = areas["和倉地区"]
    assert wakura.area_id == f"{SHELTER_FILE_AREA_PREFIX}和倉地区"
    incident = store.live_incident(actor="test")
    alerts.issue_alert(
        store,
        incident.incident_id,
        "chief",
        level=AlertLevel.EVACUATE,
        hazard=Hazard.LANDSLIDE,
        areas=[wakura.area_id],
    )
    needing = alerts.shelters_needing_opening(
        store.state(incident.incident_id), store.shelters(), store.areas()
    )
    assert [s.name for s, _ in needing] == ["和倉小学校"]
    # Re-importing the same file keeps the areas (and the alert's area id) as they are.
    import_shelter_files(store, [NANAO_CSV], actor="test")
    assert {a.area_id for a in store.areas()} == {a.area_id for a in areas.values()}


def test_nankoku_still_gets_its_bundled_data(store: Store) -> None:
    report = ensure_initialised(store, actor="test")
    assert report is not None and len(store.shelters()) == 139
    assert store.city().name == "南国市"
    assert store.city_outline() is not None
    assert [a.name for a in store.areas()] == ["南国市全域"]


# -- acceptance: every public text names the city, never 南国市 -------------------------------


def test_nanao_end_to_end_every_public_text_names_nanao(
    tmp_path: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    public = tmp_path / "public"
    monkeypatch.setenv("PUBLIC_DIR", str(public))
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("CITY_CODE", raising=False)
    base = ["--database-url", database_url]
    assert main([*base, "init", "--city", "172022"]) == 0
    said = capsys.readouterr().err
    assert "city: 石川県七尾市 (172022, Nanao City" in said
    assert "disaster-dx import-shelters FILE" in said and "import-boundary FILE" in said
    assert main([*base, "import-shelters", str(NANAO_CSV)]) == 0
    said = capsys.readouterr().err
    assert "3 warning(s), by kind" in said and "想定収容人数 read from text" in said
    assert "areas for 避難情報 from the file's 地区・町会・自治会" in said
    # Without --city the recorded city stays; asking for another one is refused.
    assert main([*base, "init"]) == 0
    monkeypatch.setenv("CITY_CODE", "392049")
    assert main([*base, "init"]) == 1
    assert "serves 石川県七尾市 (172022), not 高知県南国市" in capsys.readouterr().err
    monkeypatch.delenv("CITY_CODE")
    argv = [*base, "alert", "issue", "--level", "4", "--hazard", "landslide"]
    assert main([*argv, "--area", "和倉地区", "--actor", "chief"]) == 0
    capsys.readouterr()

    texts = {p.name: p.read_text(encoding="utf-8") for p in public.glob("*.*")}
    assert {"index.html", "shelters.geojson", "shelters.csv", "map.html"} <= set(texts)
    assert "<title>七尾市 避難所の開設状況</title>" in texts["index.html"]
    snapshot = json.loads(texts["shelters.geojson"])
    assert snapshot["city"] == {
        "code": "172022",
        "name": "七尾市",
        "name_en": "Nanao City",
        "kana": "ななおし",
    }
    assert snapshot["alerts"][0]["areas"][0]["name"] == "和倉地区"
    tobu = next(f["properties"] for f in snapshot["features"] if f["id"] == "172022-1")
    assert (tobu["name_en"], tobu["name_kana"]) == (
        "Nanao Tobu Junior High School",
        "ナナオシリツナナオトウブチュウガッコウ",
    )
    # The credit names the data's real source: the city's own file, not 国土地理院.
    assert snapshot["attribution"] == "出典：七尾市のオープンデータ（指定緊急避難場所一覧）"
    assert (
        "出典：七尾市のオープンデータ（指定緊急避難場所一覧）。地図：地理院タイル。"
        in texts["index.html"]
    )
    assert "出典：国土地理院" not in texts["index.html"]
    assert "Sources: Nanao City open data" in texts["index.html"]
    assert "Nanao City: shelter status" in texts["index.html"]  # the table, for ?lang=en
    assert "ななおし ひなんじょ の じょうほう" in texts["index.html"]
    for name, body in texts.items():
        assert not NANKOKU_WORDS.search(body), (name, NANKOKU_WORDS.search(body))

    store = Store(database_url)
    try:
        city = store.city()
        incident = store.live_incident(actor="test")
        xml = lalert_xml(
            lalert_records(
                store.shelters(),
                store.state(incident.incident_id),
                thresholds=Settings().crowding,
                include_unopened=True,
            ),
            issued_at=incident.created_at,
            municipality=city.full_name,
        ).decode("utf-8")
        assert "石川県七尾市" in xml and not NANKOKU_WORDS.search(xml)
        # LINE: the 避難情報 message as the notifier writes it.
        notify.attach(store, Settings(public_base_url="https://bousai.example.jp/nanao/"))
        alerts.issue_alert(
            store,
            incident.incident_id,
            "chief",
            level=AlertLevel.EMERGENCY_SAFETY,
            hazard=Hazard.LANDSLIDE,
            areas=[f"{SHELTER_FILE_AREA_PREFIX}和倉地区"],
        )
        queued = [m.text for m in notify.outbox(store)]
        assert queued and all("【七尾市】" in t and "Nanao City" in t for t in queued)
        assert not any(NANKOKU_WORDS.search(t) for t in queued)
    finally:
        store.engine.dispose()


def test_a_designated_shelter_without_flags_is_not_called_unusable() -> None:
    from disaster_dx.public_text import text

    assert text("hazards_none", "ja") == "災害の種類の指定はありません（指定避難所）"
    assert "designated shelter" in text("hazards_none", "en")
    assert text("hazards_none", "easy-ja").startswith("さいがい の しゅるい の してい は")


def test_boundary_takes_the_city_features_of_a_prefecture_file(
    store: Store, tmp_path: Path
) -> None:
    """An N03 file per prefecture holds every municipality: only the city's features count."""
    nankoku = json.loads(CITY_OUTLINE.read_text(encoding="utf-8"))["features"][0]
    square = {  # a made-up square standing for a neighbour, only to be left out
        "type": "Polygon",
        "coordinates": [[[133.5, 33.5], [133.55, 33.5], [133.55, 33.55], [133.5, 33.5]]],
    }
    neighbour = {
        "type": "Feature",
        "properties": {"N03_001": "高知県", "N03_004": "高知市", "N03_007": "39201"},
        "geometry": square,
    }
    path = tmp_path / "N03_39.geojson"
    path.write_text(
        json.dumps({"type": "FeatureCollection", "features": [neighbour, nankoku]}),
        encoding="utf-8",
    )
    ensure_initialised(store, actor="test", city=city_for_code("392049"))
    import_boundary_file(store, path, actor="test")
    outline = store.city_outline()
    assert outline is not None and outline["type"] in ("Polygon", "MultiPolygon")
    west, south, east, north = _bounds(outline)
    assert 133.55 < west < east < 133.8 and 33.5 < south < north < 33.75  # not the square
    assert store.audit_log(action="city.outline")[0]["target"] == "392049"


def _bounds(geometry: dict) -> tuple[float, float, float, float]:
    import shapely
    from shapely.geometry import shape

    return tuple(shapely.bounds(shape(geometry)))  # type: ignore[return-value]


def test_staff_pages_name_the_recorded_city(make_app: Any, app_settings: Settings) -> None:
    app = make_app(app_settings.with_overrides(city_code="172022"))
    client = app.server.test_client()
    login = client.get("/login").get_data(as_text=True)
    assert "七尾市 災害対策本部 職員ログイン" in login and not NANKOKU_WORDS.search(login)
    english = client.get("/login?lang=en").get_data(as_text=True)
    assert "Nanao City disaster HQ — staff login" in english
    # /overview is staff-only: signed in, it names the city too.
    store = app.server.extensions[EXTENSION_KEY].store
    login_client(client, "hq-nanao", add_staff_user(store, "hq-nanao", "hq"))
    overview = client.get("/overview").get_data(as_text=True)
    assert "<title>七尾市 避難所マップ</title>" in overview
    # Another city's code on a database recorded for 七尾市 is refused at start.
    with pytest.raises(DisasterDxError, match="serves 石川県七尾市"):
        make_app(app_settings.with_overrides(city_code="392049"))


def test_workers_starting_together_record_one_city_and_one_area(store: Store) -> None:
    """Gunicorn workers run first-start set-up at once: nobody collides on the city or 全域."""
    import threading

    nanao = city_for_code("172022")
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def start() -> None:
        try:
            barrier.wait()
            ensure_initialised(store, actor="worker", city=nanao)
        except BaseException as exc:  # collected and re-raised by the test
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert store.recorded_city_code() == "172022"
    assert [a.name for a in store.areas()] == ["七尾市全域"]
