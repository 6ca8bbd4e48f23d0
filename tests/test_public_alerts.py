"""避難情報 on the public side: the snapshot's ``alerts``, the banner in index.html, publishing."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import lxml.html
import pytest

from disaster_dx import alerts
from disaster_dx.areas import Area, whole_city_area
from disaster_dx.config import Settings
from disaster_dx.model import AlertLevel, Hazard, IncidentKind, Shelter, ShelterKind
from disaster_dx.public_alerts import LIFTED_SHOWN_HOURS, banner_html, shown_alerts
from disaster_dx.publish import PUBLIC_PROPERTIES, Publisher, publish
from disaster_dx.store import Store

T0 = datetime(2026, 9, 1, 6, 30, tzinfo=UTC)  # 15:30 JST
SCHOOL, HALL = "E3920400009111", "E3920400001111"
EVIL = "</script><script>alert(1)</script><img src=x onerror=alert(2)>"


class Clock:
    """The store's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def city(store: Store) -> Store:
    """Two shelters, the whole city and a 地区 whose names carry markup, and a manual clock."""
    store.clock = Clock()
    store.replace_shelters(
        [
            Shelter(
                SCHOOL,
                "稲生小学校",
                "高知県南国市稲生1",
                133.6237,
                33.5468,
                frozenset({ShelterKind.DESIGNATED}),
                frozenset({Hazard.TSUNAMI}),
                (SCHOOL,),
                100,
            ),
            Shelter(
                HALL,
                "中央公民館",
                "高知県南国市大埇1",
                133.64,
                33.575,
                frozenset({ShelterKind.EMERGENCY}),
                frozenset({Hazard.FLOOD}),
                (HALL,),
                50,
            ),
        ],
        source="test",
        actor="test",
    )
    store.replace_areas(
        [
            whole_city_area("南国市", city_name_en="Nankoku City", city_name_easy="なんこくし"),
            Area("d1", f"稲生地区{EVIL}", "Inou district", "いなぶ ちく", shelter_ids=(SCHOOL,)),
        ],
        source="test",
        actor="test",
    )
    store.live_incident(actor="test")
    return store


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(public_dir=tmp_path / "public", database_url="unused")


def _clock(store: Store) -> Clock:
    assert isinstance(store.clock, Clock)
    return store.clock


def _geojson(settings: Settings) -> dict:
    return json.loads((settings.public_dir / "shelters.geojson").read_text(encoding="utf-8"))


def _page(settings: Settings) -> str:
    return (settings.public_dir / "index.html").read_text(encoding="utf-8")


def _issue(store: Store, level: int, hazard: Hazard, *areas: str, reason: str = "") -> str:
    live = store.live_incident().incident_id
    return alerts.issue_alert(
        store,
        live,
        "hq-tanaka",
        level=AlertLevel.from_number(level),
        hazard=hazard,
        areas=list(areas),
        reason=reason,
    ).alert_id


def test_an_alert_in_force_is_in_the_snapshot_with_public_fields_only(
    city: Store, settings: Settings
) -> None:
    alert_id = _issue(city, 4, Hazard.TSUNAMI, "all", reason="INTERNAL 判断メモ")
    publish(city, settings)
    collection = _geojson(settings)
    assert collection["alerts"] == [
        {
            "id": alert_id,
            "level": 4,
            "level_code": "evacuate",
            "hazard": "tsunami",
            "areas": [
                {
                    "id": "all",
                    "name": "南国市全域",
                    "name_en": "All of Nankoku City",
                    "name_easy": "なんこくし ぜんぶ",
                }
            ],
            "issued_at": "2026-09-01T06:30:00+00:00",
        }
    ]
    # The alert alone (no warning) sets the hazard in force and moves updated_at.
    assert collection["hazard"] == "tsunami"
    assert collection["updated_at"] == "2026-09-01T06:30:00+00:00"
    for name in ("shelters.geojson", "index.html", "shelters.csv"):
        body = (settings.public_dir / name).read_text(encoding="utf-8")
        assert "INTERNAL" not in body and "hq-tanaka" not in body, name
    assert set(collection["features"][0]["properties"]) == set(PUBLIC_PROPERTIES)


def test_lifting_keeps_the_alert_with_its_lift_time_and_ends_the_hazard(
    city: Store, settings: Settings
) -> None:
    alert_id = _issue(city, 3, Hazard.FLOOD, "d1")
    _clock(city).now = T0 + timedelta(hours=2)
    alerts.lift_alert(city, city.live_incident().incident_id, "hq-tanaka", alert_id)
    publish(city, settings)
    collection = _geojson(settings)
    [item] = collection["alerts"]
    assert item["lifted_at"] == "2026-09-01T08:30:00+00:00"
    assert item["areas"][0]["name"] == f"稲生地区{EVIL}"  # data, escaped where it is shown
    assert collection["hazard"] is None
    assert collection["updated_at"] == "2026-09-01T08:30:00+00:00"


def test_the_banner_is_written_in_every_language_with_colour_number_and_words(
    city: Store, settings: Settings
) -> None:
    _issue(city, 5, Hazard.TSUNAMI, "all")
    _issue(city, 3, Hazard.FLOOD, "d1")
    publish(city, settings)
    page = _page(settings)
    tree = lxml.html.fromstring(page)
    (section,) = tree.xpath("//section[@id='dx-alerts']")
    assert section.get("hidden") is None
    blocks = {b.get("data-l"): b for b in section.xpath(".//div[@data-l]")}
    assert set(blocks) == {"ja", "en", "easy-ja"}
    assert blocks["en"].get("lang") == "en" and blocks["easy-ja"].get("lang") == "ja"
    ja, en, easy = (blocks[k].text_content() for k in ("ja", "en", "easy-ja"))
    # Highest level first; each with its level class (the colour), number and words.
    classes = [d.get("class") for d in blocks["ja"].xpath("./div")]
    assert classes == ["dx-alert dx-alert-l5", "dx-alert dx-alert-l3"]
    heads = [h.text_content() for h in blocks["ja"].xpath(".//h3")]
    assert heads == ["警戒レベル5 緊急安全確保", "警戒レベル3 高齢者等避難"]
    assert "津波／対象地区：南国市全域／9月1日 15:30 発令" in ja
    assert "危険な場所から全員避難" not in ja  # the level 4 words belong to level 4 only
    assert next(h.text_content() for h in blocks["en"].xpath(".//h3")) == (
        "Alert level 5 Emergency safety measures"
    )
    assert "Tsunami · Areas: All of Nankoku City · Issued 1 Sep, 15:30 JST" in en
    assert next(h.text_content() for h in blocks["easy-ja"].xpath(".//h3")) == (
        "けいかいレベル5 きんきゅう あんぜん かくほ"
    )
    assert "すぐ に いのち を まもって ください" in easy
    assert "いなぶ ちく" in easy and "Inou district" in en
    assert f"稲生地区{EVIL}" in ja  # shown as the text it is
    # An area name with markup is text, never markup.
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    # The hazard line is there before any script runs, in every language.
    (hazard_now,) = tree.xpath("//p[@id='dx-hazard-now']")
    assert hazard_now.get("hidden") is None
    assert [s.get("data-l") for s in hazard_now.xpath("./span")] == ["ja", "en", "easy-ja"]


def test_no_alert_no_banner(city: Store, settings: Settings) -> None:
    publish(city, settings)
    page = _page(settings)
    assert re.search(r'<section id="dx-alerts"[^>]*hidden>', page)
    assert re.search(r'<p id="dx-hazard-now"[^>]*hidden>', page)
    assert 'class="dx-alert ' not in page


def test_a_lifted_alert_shows_as_lifted_for_a_day_then_goes(
    city: Store, settings: Settings
) -> None:
    alert_id = _issue(city, 4, Hazard.TSUNAMI, "all")
    _clock(city).now = T0 + timedelta(hours=3)
    alerts.lift_alert(city, city.live_incident().incident_id, "hq-tanaka", alert_id)
    publish(city, settings)
    page = _page(settings)
    assert "9月1日 18:30 解除：警戒レベル4 避難指示（津波・南国市全域）" in page
    assert "Lifted 1 Sep, 18:30 JST: alert level 4, Evacuation instruction" in page
    assert 'class="dx-alert ' not in page  # no colour box for a lifted one
    # A later public change more than a day after the lift: the line goes.
    _clock(city).now = T0 + timedelta(hours=3 + LIFTED_SHOWN_HOURS, minutes=1)
    alerts.announce_warning(
        city,
        city.live_incident().incident_id,
        "hq-tanaka",
        warning=alerts.WarningKind.FLOOD_WARNING,
    )
    publish(city, settings)
    page = _page(settings)
    assert "解除" not in page.split('id="dx-alert-list">')[1].split("</section>")[0]
    assert _geojson(settings)["alerts"][0]["lifted_at"]  # still in the data


def test_raising_the_level_is_not_shown_as_an_all_clear(city: Store, settings: Settings) -> None:
    _issue(city, 4, Hazard.TSUNAMI, "all")
    _clock(city).now = T0 + timedelta(minutes=20)
    _issue(city, 5, Hazard.TSUNAMI, "all")
    publish(city, settings)
    collection = _geojson(settings)
    assert [a["level"] for a in collection["alerts"]] == [5, 4]
    assert "lifted_at" in collection["alerts"][1]
    in_force, lifted = shown_alerts(collection["alerts"], collection["updated_at"])
    assert [a["level"] for a in in_force] == [5] and lifted == []
    assert "解除" not in banner_html(collection["alerts"], collection["updated_at"], "ja")


def test_alert_events_republish_through_the_listener_and_drills_never_do(
    city: Store, settings: Settings
) -> None:
    publisher = Publisher(city, settings)
    city.add_listener(publisher)
    publisher.publish()
    assert _geojson(settings)["alerts"] == []
    alert_id = _issue(city, 4, Hazard.TSUNAMI, "all")
    assert [a["id"] for a in _geojson(settings)["alerts"]] == [alert_id]
    drill = city.create_incident("【訓練】津波", kind=IncidentKind.DRILL, actor="op")
    alerts.issue_alert(
        city,
        drill.incident_id,
        "op",
        level=AlertLevel.EMERGENCY_SAFETY,
        hazard=Hazard.TSUNAMI,
        areas=["all"],
    )
    assert [a["id"] for a in _geojson(settings)["alerts"]] == [alert_id]
    assert "緊急安全確保" not in _page(settings).split("dx-alert-list")[1].split("</section>")[0]


def test_the_shareable_map_shows_the_alerts_too(city: Store, settings: Settings) -> None:
    from layers.public_map import shelter_map_html

    _issue(city, 4, Hazard.FLOOD, "d1")
    publish(city, settings, render_map=shelter_map_html)
    page = (settings.public_dir / "map.html").read_text(encoding="utf-8")
    assert 'class="dx-alert dx-alert-l4"' in page and "警戒レベル4" in page and "避難指示" in page
    assert "<script>alert(1)" not in page and "稲生地区&lt;/script&gt;" in page
