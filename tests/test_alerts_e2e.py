"""Acceptance: 避難情報 issued from the CLI reaches the public page, LINE and L-Alert; lifting
reverses each.

As a city runs it: the operator types ``disaster-dx alert issue`` on the server (a process of
its own, with no listener of the app's), the CLI publishes the snapshot, the LINE sender
catches up on the new event and sends one message at once, and the L-Alert export lists the
発令. The page is read in headless Chromium from a plain static server, as nginx or a CDN
serves it to citizens, in 日本語, English and やさしい日本語, on a phone and a desktop.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from disaster_dx import notify
from disaster_dx.config import Settings
from disaster_dx.line_fake import FakeLineServer
from disaster_dx.store import Store
from tests.common import ROOT
from tests.line_sdk import require_sdk, validator
from tests.test_public_browser import _errors, static_server
from tests.webtools import axe_violations

pytestmark = pytest.mark.browser
TOKEN = "e2e-channel-token"
PUBLIC_URL = "https://bousai.example.jp/nankoku/"
SIZES = {"360x740": (360, 740, True), "1366x768": (1366, 768, False)}


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "disaster_dx.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def city(tmp_path: Path, database_url: str) -> Iterator[tuple[dict[str, str], Path, Store]]:
    """A city set up with ``disaster-dx init``: the CLI's environment, PUBLIC_DIR, a store."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("LINE_", "DISASTER_DX"))},
        "DATABASE_URL": database_url,
        "DATA_DIR": str(tmp_path / "var"),
        "PUBLIC_DIR": str(tmp_path / "public"),
        # The CLI queues LINE messages itself (the app's after-save actions), so it needs the
        # public address their links point to, as a deployment's shared environment has.
        "PUBLIC_BASE_URL": PUBLIC_URL,
        "PYTHONPATH": str(ROOT),
    }
    _cli(env, "init")
    store = Store(database_url)
    try:
        yield env, tmp_path / "public", store
    finally:
        store.dispose()


def _open(driver: Any, url: str, size: str) -> None:
    width, height, mobile = SIZES[size]
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
    )
    driver.get(url)
    WebDriverWait(driver, 15).until(
        lambda d: d.execute_script("return document.documentElement.dataset.dxReady") == "1"
    )


def _banner(driver: Any) -> dict[str, Any]:
    """What the banner shows and where it is, read in one step."""
    return dict(
        driver.execute_script(
            """
            const box = document.getElementById("dx-alerts"), r = box.getBoundingClientRect();
            const first = box.querySelector(".dx-alert");
            return {shown: !box.hidden && r.height > 0, text: box.innerText.trim(),
                    rect: [r.x, r.y, r.width, r.height],
                    colour: first ? getComputedStyle(first).backgroundColor : null,
                    ink: first ? getComputedStyle(first).color : null};
            """
        )
    )


def _hazard_select(driver: Any) -> str:
    return str(Select(driver.find_element(By.ID, "dx-hazard")).first_selected_option.text)


def test_alert_issue_and_lift_reach_page_line_and_lalert(
    city, second_browser, screenshot, tmp_path
) -> None:
    require_sdk()
    env, public_dir, store = city
    driver = second_browser
    with FakeLineServer(token=TOKEN, validate=validator()) as fake:
        settings = Settings(
            database_url=env["DATABASE_URL"],
            line_api_base=fake.base_url,
            line_channel_access_token=TOKEN,
            public_base_url=PUBLIC_URL,
        )
        notify.create_notify_tables(store)
        sender = notify.Sender(store, settings)
        sender.run_once()  # the sender was already running when HQ issued

        # -- issue ---------------------------------------------------------------------------
        alert_id = _cli(
            env, "alert", "issue", "--level", "4", "--hazard", "tsunami", "--area", "全域"
        ).strip()
        snapshot = (public_dir / "shelters.geojson").read_text(encoding="utf-8")
        assert f'"id":"{alert_id}","level":4,"level_code":"evacuate","hazard":"tsunami"' in snapshot
        assert '"hazard":"tsunami","alerts"' in snapshot  # the filter's preset follows the alert

        with static_server(public_dir) as base:
            expected = {
                "ja": ("警戒レベル4 避難指示", "津波", "危険な場所から全員避難してください。"),
                "en": ("Alert level 4 Evacuation instruction", "Tsunami", "evacuate now"),
                "easy-ja": ("けいかいレベル4 ひなんしじ", "つなみ", "みんな すぐ に にげて"),
            }
            for lang, (head, hazard, action) in expected.items():
                for size in SIZES:
                    _open(driver, f"{base}/index.html?lang={lang}", size)
                    banner = _banner(driver)
                    assert banner["shown"] and head in banner["text"], (lang, banner)
                    assert action in banner["text"]
                    assert banner["colour"] == "rgb(170, 0, 170)"  # purple: level 4
                    assert banner["ink"] == "rgb(255, 255, 255)"
                    assert hazard in _hazard_select(driver)
                    items = driver.find_elements(By.CSS_SELECTOR, ".dx-item")
                    assert len(items) == sum(1 for s in store.shelters() if "tsunami" in s.hazards)
                    driver.execute_script("window.scrollTo(0, 0)")
                    screenshot(driver, f"alert_issued_{lang}_{size}")
                assert axe_violations(driver) == [], lang
                # The banner was there, in this language, before the page script ran: the
                # script draws the same thing in the same place (no layout shift).
                _open(driver, f"{base}/index.html?lang={lang}", "360x740")
                drawn = _banner(driver)
                driver.execute_cdp_cmd("Network.enable", {})
                driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*site/public.js*"]})
                driver.get(f"{base}/index.html?lang={lang}&static=1")
                WebDriverWait(driver, 10).until(
                    lambda d: d.execute_script("return document.readyState") == "complete"
                )
                assert (
                    driver.execute_script("return document.documentElement.dataset.dxReady") is None
                )
                assert _banner(driver) == drawn, lang
                driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
            assert _errors(driver.get_log("browser")) == []

        # -- LINE: one message at once, with level, area, hazard and the links ----------------
        assert sender.run_once() == 1
        (request,) = fake.sent
        (text,) = request.texts()
        assert "警戒レベル4「避難指示」を発令しました" in text
        assert "対象地区：南国市全域" in text and "災害：津波" in text
        assert PUBLIC_URL in text and text.rstrip().endswith(f"{PUBLIC_URL}?lang=en")
        assert fake.refused == []

        # -- L-Alert --------------------------------------------------------------------------
        issued = _cli(env, "lalert", "evacuation")
        assert "南国市 災害対策本部,避難指示,4,発令,津波,南国市全域,all," in issued

        # -- lift: each of these reverses ------------------------------------------------------
        _cli(env, "alert", "lift", alert_id)
        snapshot = (public_dir / "shelters.geojson").read_text(encoding="utf-8")
        assert '"hazard":null' in snapshot and '"lifted_at":"' in snapshot
        with static_server(public_dir) as base:
            for lang, words in (
                ("ja", "解除：警戒レベル4 避難指示"),
                ("en", "Lifted"),
                ("easy-ja", "かいじょ（おわり）"),
            ):
                for size in SIZES:
                    _open(driver, f"{base}/index.html?lang={lang}", size)
                    banner = _banner(driver)
                    assert words in banner["text"] and banner["colour"] is None, (lang, banner)
                    assert (
                        Select(
                            driver.find_element(By.ID, "dx-hazard")
                        ).first_selected_option.get_attribute("value")
                        == ""
                    )
                    assert len(driver.find_elements(By.CSS_SELECTOR, ".dx-item")) == 139
                    screenshot(driver, f"alert_lifted_{lang}_{size}")
                assert axe_violations(driver) == [], lang
        assert sender.run_once() == 1
        lifted = fake.sent[-1].texts()[0]
        assert "警戒レベル4「避難指示」を解除しました" in lifted and "災害：津波" in lifted
        assert lifted.rstrip().endswith(f"{PUBLIC_URL}?lang=en")
        assert sender.run_once() == 0 and len(fake.sent) == 2  # once each, never again
        xml = tmp_path / "evacuation.xml"
        _cli(env, "lalert", "evacuation", "--format", "xml", "-o", str(xml))
        root = etree.fromstring(xml.read_bytes())
        assert root.findtext("EvacuationOrder/Detail/IssueOrLift") == "解除"
        assert root.findtext("EvacuationOrder/Detail/Sort") == "避難指示"
