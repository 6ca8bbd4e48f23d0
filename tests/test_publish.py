"""Public snapshots: what is written, when, and what can never get in (privacy, drills)."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import stat
from pathlib import Path

import pytest

from disaster_dx import auth
from disaster_dx.cli import main
from disaster_dx.config import Settings
from disaster_dx.events import NewEvent
from disaster_dx.model import Hazard, IncidentKind, Shelter, ShelterKind
from disaster_dx.publish import (
    INDEX_PAGES,
    PUBLIC_PROPERTIES,
    SNAPSHOT_FILES,
    Publisher,
    asset_files,
    publish,
)
from disaster_dx.store import Store
from layers.public_map import shelter_map_html

REPORT = "shelter.status_reported"
SCHOOL, PARK, HALL = "E3920400009111", "E3920400000221", "E3920400001111"
EVIL = '</script><script>alert(1)</script><!-- "><img src=x onerror=alert(2)>'

#: Key names that must never appear in any public file, whatever the state holds.
FORBIDDEN_KEYS = (
    "internal_note",
    "reported_by",
    "actor",
    "username",
    "password",
    "roles",
    "resident",
    "camera",
    "credential",
    "token",
    "urgent_needs",
)


def _shelter(sid: str, name: str, *, lon: float, lat: float, hazards: set[Hazard]) -> Shelter:
    return Shelter(
        shelter_id=sid,
        name=name,
        address=f"高知県南国市{name}1-1",
        lon=lon,
        lat=lat,
        kinds=frozenset({ShelterKind.DESIGNATED}),
        hazards=frozenset(hazards),
        gsi_ids=(sid,),
        capacity=100,
        municipality_code="392049",
        source={sid: {"施設・場所名": name}},
    )


@pytest.fixture
def master(store: Store) -> Store:
    """The store with a three-site master and its live incident."""
    store.replace_shelters(
        [
            _shelter(SCHOOL, "稲生小学校", lon=133.6237, lat=33.5468, hazards={Hazard.TSUNAMI}),
            _shelter(PARK, "高台公園", lon=133.6500, lat=33.5900, hazards={Hazard.EARTHQUAKE}),
            _shelter(HALL, "中央公民館", lon=133.6400, lat=33.5750, hazards={Hazard.FLOOD}),
        ],
        source="test",
        actor="test",
    )
    store.live_incident(actor="test")
    return store


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(public_dir=tmp_path / "public", database_url="unused")


def _files(public_dir: Path) -> dict[str, bytes]:
    return {
        p.relative_to(public_dir).as_posix(): p.read_bytes()
        for p in public_dir.rglob("*")
        if p.is_file()
    }


def _geojson(settings: Settings) -> dict:
    return json.loads((settings.public_dir / "shelters.geojson").read_text(encoding="utf-8"))


def _embedded(settings: Settings, element_id: str) -> dict:
    page = (settings.public_dir / "index.html").read_text(encoding="utf-8")
    found = re.search(
        rf'<script id="{element_id}" type="application/json">(.*?)</script>', page, re.S
    )
    assert found, element_id
    return json.loads(found.group(1))


def _report(store: Store, incident_id: str, sid: str, actor: str = "hq-tanaka", **payload) -> None:
    store.append(incident_id, [NewEvent(REPORT, {"shelter_id": sid, **payload})], actor=actor)


def test_publish_writes_every_file_world_readable(master: Store, settings: Settings) -> None:
    result = publish(master, settings, render_map=shelter_map_html)
    public = settings.public_dir
    for name in (*SNAPSHOT_FILES, *asset_files()):
        path = public / name
        assert path.is_file(), name
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, name  # nginx runs as another user
    assert result.shelters == 3 and set(SNAPSHOT_FILES) <= set(result.written)
    collection = _geojson(settings)
    assert collection["type"] == "FeatureCollection" and collection["updated_at"]
    assert [f["id"] for f in collection["features"]] == [PARK, HALL, SCHOOL]
    assert collection["features"][0]["geometry"]["coordinates"] == [133.65, 33.59]  # lon, lat
    # The page embeds exactly the same data, so it works with no server and no request.
    assert _embedded(settings, "dx-data") == collection
    rows = list(csv.DictReader(io.StringIO((public / "shelters.csv").read_text("utf-8-sig"))))
    assert [r["施設・場所名"] for r in rows] == ["高台公園", "中央公民館", "稲生小学校"]
    assert {r["開設状況"] for r in rows} == {"未開設"}
    # No temp file or lock is left where a web server could serve it by mistake.
    leftovers = [p.name for p in public.iterdir() if p.name.startswith(".")]
    assert leftovers == [".publish.lock"]


def test_snapshot_carries_whitelisted_public_fields_only(master: Store, settings: Settings) -> None:
    incident = master.live_incident().incident_id
    password = "correct-horse-battery-staple-9"
    auth.add_user(master, "hq-tanaka", password, {auth.Role.HQ}, actor="test")
    secret_user = auth.get_user(master, "hq-tanaka")
    _report(
        master,
        incident,
        SCHOOL,
        open_state="open",
        evacuees=42,
        capacity=100,
        crowding_override="crowded",
        needs=["water"],
        urgent_needs=["medical"],
        pets_accepted=True,
        barrier_free=False,
        public_note="駐車場は満車です",
        internal_note="INTERNAL 要配慮者 山田花子さん 090-0000-0000",
    )
    master.append(
        incident,
        [
            NewEvent("area.outside_reported", {"area": "稲生", "at_home": 3, "note": "AREA-NOTE"}),
            NewEvent("incident.message", {"text": "MESSAGE-TO-STAFF"}),
        ],
        actor="hq-tanaka",
    )
    publish(master, settings, render_map=shelter_map_html)

    collection = _geojson(settings)
    for feature in collection["features"]:
        assert tuple(feature["properties"]) == PUBLIC_PROPERTIES
    school = next(f["properties"] for f in collection["features"] if f["id"] == SCHOOL)
    assert school["open_state"] == "open" and school["crowding"] == "crowded"
    assert school["crowding_by_staff"] is True
    assert (school["evacuees"], school["capacity"]) == (42, 100)
    assert (school["pets_accepted"], school["barrier_free"]) == (True, False)
    assert school["public_note"] == "駐車場は満車です"
    assert school["reported_at"].endswith("+00:00")

    secrets = (
        "INTERNAL",
        "山田花子",
        "090-0000-0000",
        "hq-tanaka",
        password,
        secret_user.username,
        "AREA-NOTE",
        "MESSAGE-TO-STAFF",
        "medical",
    )
    for name, data in _files(settings.public_dir).items():
        text = data.decode("utf-8", errors="replace")
        for secret in secrets:
            assert secret not in text, (name, secret)
        if name.endswith((".geojson", ".csv", ".html")):
            for key in FORBIDDEN_KEYS:
                assert not re.search(rf'["\s,]{key}["\s,:]', text), (name, key)
    embedded = json.dumps(_embedded(settings, "dx-data"), ensure_ascii=False)
    assert "INTERNAL" not in embedded and "internal_note" not in embedded


def test_drill_incidents_never_change_the_snapshot(master: Store, settings: Settings) -> None:
    publisher = Publisher(master, settings, render_map=shelter_map_html)
    master.add_listener(publisher)
    publisher.publish()
    before = _files(settings.public_dir)

    drill = master.create_incident(
        "南海トラフ地震 想定訓練", kind=IncidentKind.DRILL, actor="drill"
    )
    for sid in (SCHOOL, PARK, HALL):
        _report(
            master,
            drill.incident_id,
            sid,
            actor="drill",
            open_state="open",
            evacuees=99,
            public_note="DRILL-ONLY 訓練です",
        )
    master.append(
        drill.incident_id,
        [NewEvent("hazard.announced", {"hazard": "tsunami", "title": "DRILL 大津波警報"})],
        actor="drill",
    )
    assert _files(settings.public_dir) == before  # the listener ignored every drill write
    publisher.publish()  # and an explicit publish reads the live incident only
    assert _files(settings.public_dir) == before
    assert all(f["properties"]["open_state"] == "not_open" for f in _geojson(settings)["features"])

    live = master.live_incident().incident_id
    _report(master, live, HALL, open_state="open")
    opened = [
        f["id"] for f in _geojson(settings)["features"] if f["properties"]["open_state"] == "open"
    ]
    assert opened == [HALL]
    assert "DRILL" not in (settings.public_dir / "index.html").read_text(encoding="utf-8")


def test_a_drill_announced_to_residents_shows_a_notice_and_nothing_else(
    master: Store, settings: Settings
) -> None:
    from disaster_dx import drills  # registers drill.control

    publisher = Publisher(master, settings, render_map=shelter_map_html)
    master.add_listener(publisher)
    publisher.publish()
    before = _geojson(settings)
    notice = re.compile(r'<p id="dx-drill-notice"[^>]*>')

    def page() -> str:
        return (settings.public_dir / "index.html").read_text(encoding="utf-8")

    assert before["drill_notice"] is False and " hidden " in notice.search(page()).group(0)
    shared_map = (settings.public_dir / "map.html").read_bytes()
    quiet = master.create_incident("【訓練】本部だけの訓練", kind=IncidentKind.DRILL, actor="op")
    untouched = _files(settings.public_dir)
    start = NewEvent(drills.DRILL_CONTROL, {"action": "start", "speed": 1.0})
    master.append(quiet.incident_id, [start], actor="op")
    assert _files(settings.public_dir) == untouched  # not announced: nothing changes

    drill = master.create_incident(
        "【訓練】住民参加の総合防災訓練", kind=IncidentKind.DRILL, actor="op", show_on_public=True
    )
    master.append(drill.incident_id, [start], actor="op")
    during = _geojson(settings)
    assert during["drill_notice"] is True and " hidden " not in notice.search(page()).group(0)
    assert "ただいま防災訓練を実施中です" in page()
    assert during["features"] == before["features"] and during["updated_at"] == before["updated_at"]
    _report(master, drill.incident_id, SCHOOL, actor="drill", open_state="open", evacuees=50)
    assert _geojson(settings)["features"] == before["features"]  # drill data never
    assert "住民参加の総合防災訓練" not in page()

    master.append(
        drill.incident_id,
        [NewEvent(drills.DRILL_CONTROL, {"action": "stop", "speed": 1.0})],
        actor="op",
    )
    master.close_incident(drill.incident_id, actor="op")
    assert _geojson(settings)["drill_notice"] is False  # gone with the stop
    assert " hidden " in notice.search(page()).group(0)
    # The shareable map never showed the notice: it was not re-rendered for it.
    assert (settings.public_dir / "map.html").read_bytes() == shared_map


def test_a_live_write_is_public_when_append_returns(master: Store, settings: Settings) -> None:
    master.add_listener(Publisher(master, settings, render_map=shelter_map_html))
    live = master.live_incident().incident_id
    _report(master, live, SCHOOL, open_state="open", evacuees=10)
    stored = master.events(live)[-1]
    collection = _geojson(settings)
    school = next(f["properties"] for f in collection["features"] if f["id"] == SCHOOL)
    assert school["open_state"] == "open" and school["evacuees"] == 10
    assert collection["updated_at"] == stored.at.isoformat(timespec="seconds")
    assert _embedded(settings, "dx-data") == collection
    shared = (settings.public_dir / "map.html").read_text(encoding="utf-8")
    assert json.dumps("稲生小学校")[1:-1] in shared  # folium embeds the data as ASCII JSON


def test_events_the_public_cannot_see_do_not_republish(master: Store, settings: Settings) -> None:
    publisher = Publisher(master, settings, render_map=shelter_map_html)
    master.add_listener(publisher)
    live = master.live_incident().incident_id
    _report(master, live, SCHOOL, open_state="open")
    published = publisher.last
    assert published is not None
    master.append(live, [NewEvent("incident.message", {"text": "本部会議"})], actor="hq")
    master.append(
        live, [NewEvent("area.outside_reported", {"area": "十市", "in_car": 3})], actor="hq"
    )
    assert publisher.last is published
    _report(master, live, SCHOOL, evacuees=12)
    assert publisher.last is not published


def test_unchanged_files_are_not_rewritten(master: Store, settings: Settings) -> None:
    live = master.live_incident().incident_id
    _report(master, live, SCHOOL, open_state="open")
    publish(master, settings, render_map=shelter_map_html)
    first = {n: os.stat(settings.public_dir / n) for n in SNAPSHOT_FILES}
    updated_at = _geojson(settings)["updated_at"]
    assert publish(master, settings, render_map=shelter_map_html).written == []
    # Events the public never sees (staff messages, counts outside shelters, internal notes)
    # do not make the page look newer, and rewrite nothing.
    master.append(
        live,
        [
            NewEvent("incident.message", {"text": "本部より連絡"}),
            NewEvent("area.outside_reported", {"area": "稲生", "in_car": 4}),
        ],
        actor="hq-tanaka",
    )
    assert publish(master, settings, render_map=shelter_map_html).written == []
    for name, info in first.items():
        now = os.stat(settings.public_dir / name)
        assert (now.st_ino, now.st_mtime_ns) == (info.st_ino, info.st_mtime_ns), name
    assert _geojson(settings)["updated_at"] == updated_at


def test_the_hazard_in_force_is_published_as_a_code(master: Store, settings: Settings) -> None:
    live = master.live_incident().incident_id
    publish(master, settings, render_map=shelter_map_html)
    assert _geojson(settings)["hazard"] is None
    master.append(
        live,
        [
            NewEvent(
                "hazard.announced",
                {"hazard": "tsunami", "title": "大津波警報", "detail": "INTERNAL 指示"},
            )
        ],
        actor="hq-tanaka",
    )
    publish(master, settings, render_map=shelter_map_html)
    collection = _geojson(settings)
    assert collection["hazard"] == "tsunami"
    assert collection["updated_at"] == master.events(live)[-1].at.isoformat(timespec="seconds")
    assert "INTERNAL" not in (settings.public_dir / "index.html").read_text(encoding="utf-8")
    master.append(live, [NewEvent("hazard.cleared", {"hazard": "tsunami"})], actor="hq-tanaka")
    publish(master, settings, render_map=shelter_map_html)
    assert _geojson(settings)["hazard"] is None


def test_a_failed_write_leaves_the_last_snapshot_whole(
    master: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(master, settings, render_map=shelter_map_html)
    before = _files(settings.public_dir)
    live = master.live_incident().incident_id
    _report(master, live, SCHOOL, open_state="open")

    def full_disk(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError):
        publish(master, settings, render_map=shelter_map_html)
    monkeypatch.undo()
    assert _files(settings.public_dir) == before  # no half-written file, no temp file
    publish(master, settings, render_map=shelter_map_html)
    assert _geojson(settings)["features"][2]["properties"]["open_state"] == "open"


def test_user_text_cannot_break_out_of_the_page(master: Store, settings: Settings) -> None:
    live = master.live_incident().incident_id
    _report(master, live, SCHOOL, open_state="open", public_note=EVIL)
    publish(master, settings, render_map=shelter_map_html)
    page = (settings.public_dir / "index.html").read_text(encoding="utf-8")
    assert "</script><script>alert" not in page and "<img src=x" not in page
    assert page.count("</script>") == 4  # lang.js, public.js, the two JSON blocks: nothing else
    school = next(f for f in _embedded(settings, "dx-data")["features"] if f["id"] == SCHOOL)
    assert school["properties"]["public_note"] == EVIL  # intact as data, inert as markup
    shared = (settings.public_dir / "map.html").read_text(encoding="utf-8")
    assert "</script><script>alert" not in shared and "<img src=x" not in shared


def test_pages_use_local_copies_not_cdns(master: Store, settings: Settings) -> None:
    publish(master, settings, render_map=shelter_map_html)
    for name in ("index.html", "map.html"):
        page = (settings.public_dir / name).read_text(encoding="utf-8")
        remote = re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?:|//)[^"]*"', page)
        assert remote == [], (name, remote)
    shared = (settings.public_dir / "map.html").read_text(encoding="utf-8")
    assert 'src="site/leaflet/leaflet.js"' in shared
    assert 'href="site/leaflet/leaflet.css"' in shared
    assert "user-scalable=no" not in shared and '<html lang="ja">' in shared
    index = (settings.public_dir / "index.html").read_text(encoding="utf-8")
    assert re.search(r'src="site/public\.js\?v=[0-9a-f]{12}"', index)
    # Leaflet is only named for loading later (when the map is near the screen), never loaded
    # by the first view: no <script> or <link> for it.
    tags = re.findall(r"<(?:script|link)\b[^>]*>", index)
    assert tags and not any("leaflet" in tag.lower() for tag in tags)
    assert 'data-scripts="site/leaflet/leaflet.js?v=' in index


def test_each_language_has_its_page_with_its_words_in_place(
    master: Store, settings: Settings
) -> None:
    """The first paint shows the right words: each language is published as its own page."""
    live = master.live_incident().incident_id
    _report(master, live, SCHOOL, open_state="open", evacuees=3)
    publish(master, settings, render_map=shelter_map_html)
    pages = {
        lang: (settings.public_dir / name).read_text(encoding="utf-8")
        for lang, name in INDEX_PAGES.items()
    }
    assert set(pages) == {"ja", "en", "easy-ja"}
    assert '<html lang="en" data-lang="en">' in pages["en"]
    assert '<html lang="ja" data-lang="easy-ja">' in pages["easy-ja"]
    assert '<h1 data-t="page_title">Nankoku City: shelter status</h1>' in pages["en"]
    # The summary line is filled in before any script runs.
    assert '<p id="dx-summary" class="dx-summary">Open now: 1 sites</p>' in pages["en"]
    assert "いま開設している避難所：1か所" in pages["ja"]
    assert "JST" in pages["en"] and "時点の情報" in pages["ja"]


def test_cli_publish_fills_a_folder_for_a_static_host(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "www"
    assert main(["publish", "--public-dir", str(target)]) == 0
    assert len(json.loads((target / "shelters.geojson").read_bytes())["features"]) == 139
    assert (target / "map.html").is_file() and (target / "site/leaflet/leaflet.js").is_file()
    assert main(["publish", "--public-dir", str(target)]) == 0  # idempotent
