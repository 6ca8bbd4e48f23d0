"""/plans and a printable plan sheet in headless Chromium, with screenshots to look at."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as until
from selenium.webdriver.support.ui import WebDriverWait

from disaster_dx import auth
from disaster_dx.demo_district import load_demo_district
from disaster_dx.web import plans_pages
from disaster_dx.web.context import EXTENSION_KEY
from tests.common import open_tsunami_shelters, replanned, set_open_state
from tests.conftest import add_staff_user
from tests.webtools import login_browser


def test_planner_page_and_printable_sheet(dash_duo, make_app, screenshot) -> None:
    app = make_app()
    store = app.server.extensions[EXTENSION_KEY].store
    password = add_staff_user(store, "plan1", "planner")
    district = load_demo_district(store, auth.get_user(store, "plan1"), n_residents=60)
    dash_duo.start_server(app, navigate=False)  # "/" is the static public page, not Dash
    driver = dash_duo.driver
    driver.set_window_size(1366, 900)
    login_browser(driver, dash_duo.server.url, "plan1", password, "/plans")

    dash_duo.wait_for_element(f"#{plans_pages.TABLE} .ag-row", timeout=20)
    assert "サンプル・架空データ" in dash_duo.find_element("#plans-synthetic").text
    late = dash_duo.find_element("#plans-count-late").text
    assert "✕ 避難が間に合わない" in late
    markers = dash_duo.find_elements(".plans-marker")
    assert len(markers) == sum(r.located for r in district.residents)
    # The first rows are the flagged ones; choosing one shows its plan and route.
    first = dash_duo.find_elements(
        f"#{plans_pages.TABLE} .ag-center-cols-container .ag-row[row-index='0'] .ag-cell"
    )[0]
    first.click()
    dash_duo.wait_for_element("#plans-detail-name", timeout=10)
    assert "避難が間に合わない" in dash_duo.find_element(f"#{plans_pages.DETAIL}").text
    screenshot(driver, "plans_page")
    link = dash_duo.find_element("#plans-sheet-link").get_attribute("href")

    # Switching to the live state: nothing is open, so only refuge buildings remain.
    driver.find_element(
        By.XPATH, f"//div[@id='{plans_pages.MODE}']//label[contains(., '現在の開設状況')]"
    ).click()
    dash_duo.wait_for_contains_text(f"#{plans_pages.SUMMARY}", "現在の開設状況", timeout=10)

    driver.set_window_size(900, 1300)
    driver.get(link)
    WebDriverWait(driver, 10).until(
        until.text_to_be_present_in_element((By.CSS_SELECTOR, "h1"), "個別避難計画")
    )
    body = driver.find_element(By.TAG_NAME, "body").text
    assert "サンプル・架空データ" in body and "自宅の危険と上階避難" in body
    assert driver.find_elements(By.CSS_SELECTOR, ".map svg polyline")
    screenshot(driver, "plan_sheet")
    errors = [
        e
        for e in dash_duo.get_logs() or []
        if e["source"] not in ("network",) and "cdn" not in e.get("message", "")
    ]
    assert errors == [], errors


def test_hq_sees_flagged_residents_on_the_map(dash_duo, make_app, screenshot) -> None:
    from disaster_dx import alerts
    from disaster_dx.model import AlertLevel, Hazard
    from disaster_dx.plans import flagged_residents, stored_fingerprints

    app = make_app()
    store = app.server.extensions[EXTENSION_KEY].store
    add_staff_user(store, "plan1", "planner")
    hq_password = add_staff_user(store, "hq1", "hq")
    load_demo_district(store, auth.get_user(store, "plan1"), n_residents=60)
    open_tsunami_shelters(store, actor="hq1")
    replanned(app)
    hq_user = auth.get_user(store, "hq1")
    before = flagged_residents(store, hq_user)
    dash_duo.start_server(app, navigate=False)
    driver = dash_duo.driver
    driver.set_window_size(1366, 768)
    login_browser(driver, dash_duo.server.url, "hq1", hq_password, "/hq")

    # No 避難情報 in force: the tile counts them (live, said in words) but the map is quiet.
    dash_duo.wait_for_element("#hq-tile-flagged", timeout=20)
    tile = dash_duo.find_element("#hq-tile-flagged").text
    assert "避難が間に合わない要支援者" in tile and "現況" in tile and "発令なし" in tile
    assert "dx-tile-alert" not in dash_duo.find_element("#hq-tile-flagged").get_attribute("class")
    assert dash_duo.find_elements(".plans-flagged-marker") == []

    # Once an order is in force, the overlay is on from the start.
    alerts.issue_alert(
        store,
        store.live_incident().incident_id,
        hq_user,
        level=AlertLevel.EVACUATE,
        hazard=Hazard.TSUNAMI,
        areas=[store.areas()[0].area_id],
    )
    replanned(app)
    before = flagged_residents(store, hq_user)
    driver.refresh()
    WebDriverWait(driver, 20).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, ".plans-flagged-marker")) == len(before)
    )
    assert "発令なし" not in dash_duo.find_element("#hq-tile-flagged").text
    screenshot(driver, "hq_flagged")

    # Closing the shelters in use re-plans live; HQ's map follows on its next poll.
    used = {d for _, d, _ in stored_fingerprints(store, Hazard.TSUNAMI).values() if d}
    set_open_state(store, sorted(used), "closed", actor="hq1")
    replanned(app)
    after = flagged_residents(store, hq_user)
    assert len(after) > len(before)
    WebDriverWait(driver, 10).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, ".plans-flagged-marker")) == len(after)
    )
    dash_duo.wait_for_contains_text("#hq-tile-flagged", f"{len(after):,}", timeout=5)

    # 「地図で表示」 flies the map to them: the markers spread out over the map.
    def spread() -> float:
        return float(
            driver.execute_script(
                "const xs = [...document.querySelectorAll('.plans-flagged-marker')]"
                ".map(e => e.getBoundingClientRect().left);"
                "return Math.max(...xs) - Math.min(...xs);"
            )
        )

    before_zoom = spread()
    driver.find_element(By.ID, "hq-plans-flagged-zoom").click()
    WebDriverWait(driver, 10).until(lambda d: spread() > 2 * before_zoom)
    map_box = driver.find_element(By.ID, "hq-map").rect
    for marker in driver.find_elements(By.CSS_SELECTOR, ".plans-flagged-marker"):
        box = marker.rect
        assert map_box["x"] <= box["x"] <= map_box["x"] + map_box["width"]
        assert map_box["y"] <= box["y"] <= map_box["y"] + map_box["height"]
    screenshot(driver, "hq_flagged_zoomed")
