"""The 避難情報 panel in headless Chromium at 1366×768: issue → banner, in Japanese and English."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as until
from selenium.webdriver.support.ui import WebDriverWait

from disaster_dx.web import ids
from disaster_dx.web.context import EXTENSION_KEY, runtime_of
from tests.conftest import add_staff_user
from tests.test_staff_a11y_browser import _ours
from tests.webtools import axe_violations, login_browser


def test_issue_from_the_panel_shows_the_banner_and_the_areas(
    dash_duo, make_app, screenshot
) -> None:
    app = make_app()
    store = app.server.extensions[EXTENSION_KEY].store
    password = add_staff_user(store, "hq1", "hq")
    dash_duo.start_server(app, navigate=False)
    driver = dash_duo.driver
    driver.set_window_size(1366, 768)
    login_browser(driver, dash_duo.server.url, "hq1", password, "/hq")
    dash_duo.wait_for_element(f"#{ids.HQ_MAP} .dx-cluster", timeout=20)
    assert "発令中の避難情報はありません" in dash_duo.find_element(f"#{ids.HQ_SIT_ALERTS}").text

    driver.find_element(By.CSS_SELECTOR, f"#{ids.HQ_SIT_ACTIONS} > summary").click()
    driver.find_element(By.ID, ids.HQ_ALERT_REASON).send_keys("大津波警報の発表")
    driver.find_element(By.ID, ids.HQ_ALERT_ISSUE).click()
    wait = WebDriverWait(driver, 10)
    wait.until(until.visibility_of_element_located((By.ID, ids.HQ_ALERT_CONFIRM)))
    confirm_text = driver.find_element(By.ID, ids.HQ_ALERT_CONFIRM_TEXT).text
    assert "警戒レベル4 避難指示（津波）を「南国市全域」に発令します" in confirm_text
    assert store.state(store.live_incident().incident_id).alerts == {}  # not before 確定する
    screenshot(driver, "hq_alert_confirm_ja")
    driver.find_element(By.ID, ids.HQ_ALERT_CONFIRM).click()

    dash_duo.wait_for_contains_text(f"#{ids.HQ_SIT_ALERTS}", "避難指示", timeout=10)
    banner = dash_duo.find_element(f"#{ids.HQ_SIT_ALERTS} .dx-sit-alert")
    assert "警戒レベル4 避難指示" in banner.text and "南国市全域" in banner.text
    assert "hq1" in banner.text and "津波" in banner.text
    badge = banner.find_element(By.CSS_SELECTOR, ".dx-level")
    assert badge.value_of_css_property("background-color") == "rgba(170, 0, 170, 1)"
    dash_duo.wait_for_text_to_equal(f"#{ids.HQ_SIT_NEEDED_COUNT}", "63か所", timeout=10)
    # The area under the alert (全域 = the city outline) and the 「開設が必要」 tags on the map.
    dash_duo.wait_for_element(f"#{ids.HQ_MAP} path.leaflet-interactive", timeout=10)
    assert len(dash_duo.find_elements(".dx-needed-tag")) == 63
    # Compact: the panel (folded forms) leaves the map and board on the first screen.
    driver.find_element(By.CSS_SELECTOR, f"#{ids.HQ_SIT_ACTIONS} > summary").click()
    panel = dash_duo.find_element(f"#{ids.HQ_SIT}")
    assert panel.size["height"] < 190, panel.size
    map_top = dash_duo.find_element(f"#{ids.HQ_MAP}").rect["y"]
    assert map_top < 768 - 350, map_top
    screenshot(driver, "hq_alert_banner_ja_1366x768")
    found = _ours(driver, axe_violations(driver))
    assert found == [], found

    driver.get(f"{dash_duo.server.url}/hq?lang=en")
    dash_duo.wait_for_contains_text(f"#{ids.HQ_SIT_ALERTS}", "Evacuation instruction", timeout=20)
    banner = dash_duo.find_element(f"#{ids.HQ_SIT_ALERTS} .dx-sit-alert")
    assert "Level 4 Evacuation instruction" in banner.text and "All of Nankoku City" in banner.text
    assert "Needs opening" in dash_duo.find_element(f"#{ids.HQ_SIT}").text
    dash_duo.wait_for_element(f"#{ids.HQ_MAP} .dx-cluster", timeout=20)
    screenshot(driver, "hq_alert_banner_en_1366x768")

    driver.get(f"{dash_duo.server.url}/hq/incidents")
    dash_duo.wait_for_element("#hq-inc-records td", timeout=20)
    screenshot(driver, "hq_incidents_ja")


def test_a_drill_player_sees_the_injected_warning_and_messages(
    dash_duo, make_app, screenshot
) -> None:
    from datetime import timedelta

    from disaster_dx import drills
    from tests.drill_support import TSUNAMI, FakeClock

    app = make_app()
    runtime_of(app.server).drill_scheduler.enabled = False
    store = app.server.extensions[EXTENSION_KEY].store
    password = add_staff_user(store, "hq1", "hq")
    clock = FakeClock(store.clock())
    store.clock = clock
    run = drills.start_drill(
        store, drills.load_scenario(TSUNAMI, shelters=store.shelters()), actor="op", speed=60
    )
    scheduler = drills.DrillScheduler(store, holder="test")
    for minute in range(6):  # +0:00 … +0:05 of drill time
        clock.now = run.started_at + timedelta(seconds=minute)
        scheduler.tick()
    dash_duo.start_server(app, navigate=False)
    driver = dash_duo.driver
    driver.set_window_size(1366, 768)
    login_browser(driver, dash_duo.server.url, "hq1", password, "/drill/join")
    driver.find_element(By.CSS_SELECTOR, "form[action='/drill/join'] button").click()
    dash_duo.wait_for_contains_text(f"#{ids.HQ_SIT_WARNINGS}", "大津波警報", timeout=20)
    warnings = dash_duo.find_element(f"#{ids.HQ_SIT_WARNINGS}").text
    assert "津波到達予想時刻 09:28（到達まで あと23分）" in warnings
    assert "避難所班へ" in dash_duo.find_element(f"#{ids.HQ_SIT_MESSAGES}").text
    assert "時刻は訓練の想定時刻" in dash_duo.find_element(f"#{ids.HQ_SIT}").text
    assert "訓練 / DRILL" in dash_duo.find_element("#drill-banner").text
    assert dash_duo.find_element(".dx-header h1").text == "南国市 災害対策本部｜訓練"
    screenshot(driver, "hq_drill_panel_ja_1366x768")
