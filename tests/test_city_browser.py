"""A city other than Nankoku in headless Chromium: 七尾市 set up by code, its own file imported,
避難情報 for one of its 地区, and the public page in three languages naming 七尾市 only.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from disaster_dx import alerts
from disaster_dx.areas import SHELTER_FILE_AREA_PREFIX
from disaster_dx.bundled import import_shelter_files
from disaster_dx.config import Settings
from disaster_dx.model import AlertLevel, Hazard
from disaster_dx.publish import publish
from disaster_dx.store import Store
from disaster_dx.web.context import EXTENSION_KEY
from layers.public_map import shelter_map_html
from tests.common import ROOT

pytestmark = pytest.mark.browser
NANAO_CSV = ROOT / "tests" / "fixtures" / "cities" / "nanao_172022_standard.csv"
NANKOKU_WORDS = re.compile(r"南国|Nankoku|なんこく", re.IGNORECASE)
SIZES = {"1366x768": (1366, 768, False), "360x740": (360, 740, True)}


def _size(driver: Any, key: str) -> None:
    width, height, mobile = SIZES[key]
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
    )


def _open(driver: Any, url: str) -> None:
    driver.get(url)
    WebDriverWait(driver, 10).until(
        lambda d: d.execute_script("return document.documentElement.dataset.dxReady") == "1"
    )


def test_nanao_public_page_names_nanao_in_every_language(
    dash_duo: Any, make_app: Any, app_settings: Settings, screenshot: Any
) -> None:
    settings = app_settings.with_overrides(city_code="172022")
    app = make_app(settings)
    store: Store = app.server.extensions[EXTENSION_KEY].store
    import_shelter_files(store, [NANAO_CSV], actor="test")
    incident = store.live_incident(actor="test")
    alerts.issue_alert(
        store,
        incident.incident_id,
        "chief",
        level=AlertLevel.EVACUATE,
        hazard=Hazard.LANDSLIDE,
        areas=[f"{SHELTER_FILE_AREA_PREFIX}和倉地区"],
    )
    publish(store, settings, render_map=shelter_map_html)
    dash_duo.start_server(app, navigate=False)
    base = str(dash_duo.server.url)
    driver = dash_duo.driver
    expected = {
        "ja": ("七尾市 避難所の開設状況", "和倉小学校", "和倉地区"),
        "en": ("Nanao City: shelter status", "Wakura Elementary School", "和倉地区"),
        "easy-ja": (
            "ななおし ひなんじょ の じょうほう",
            "和倉小学校（ワクラショウガッコウ）",
            "和倉地区",
        ),
    }
    for size in SIZES:
        _size(driver, size)
        for lang, (title, school, area) in expected.items():
            _open(driver, f"{base}/?lang={lang}")
            WebDriverWait(driver, 10).until(
                lambda d, t=title: d.find_element(By.TAG_NAME, "h1").text == t
            )
            body = driver.find_element(By.TAG_NAME, "body").text
            assert school in body, (lang, size)
            assert area in body, (lang, size)  # the 避難情報 banner names the city's 地区
            assert not NANKOKU_WORDS.search(body + driver.title), (lang, size)
            # The landslide alert in force lists the one site designated for landslides.
            items = driver.find_elements(By.CSS_SELECTOR, ".dx-item h3")
            assert [i.text for i in items] == [school], (lang, size)
            screenshot(driver, f"city_nanao_{lang}_{size}")
            driver.execute_script("arguments[0].scrollIntoView()", items[0])
            screenshot(driver, f"city_nanao_{lang}_{size}_list")
    # The shareable map opens on 七尾市's shelters and names no other city.
    driver.get(f"{base}/map.html")
    source = driver.page_source
    assert "七尾" in source and not NANKOKU_WORDS.search(source)
