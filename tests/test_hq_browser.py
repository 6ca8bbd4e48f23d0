"""The HQ pages driven in headless Chromium: log in, report, watch another screen update."""

from __future__ import annotations

import time

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as until
from selenium.webdriver.support.ui import WebDriverWait

from disaster_dx.web import ids
from disaster_dx.web.context import EXTENSION_KEY
from tests.conftest import add_staff_user
from tests.webtools import login_browser

SCHOOL = "E3920400009111"  # 稲生ふれあい館


def _fill_form(driver, *, evacuees: int, crowding_label: str) -> None:
    wait = WebDriverWait(driver, 10)
    wait.until(until.presence_of_element_located((By.ID, ids.FORM_SUBMIT)))
    driver.find_element(
        By.XPATH, f"//div[@id='{ids.FORM_OPEN_STATE}']//label[normalize-space()='開設']"
    ).click()
    box = driver.find_element(By.ID, ids.FORM_EVACUEES)
    box.send_keys(Keys.CONTROL, "a")  # overwrite as a person does (clear() bypasses React)
    box.send_keys(Keys.DELETE)
    box.send_keys(str(evacuees))
    driver.find_element(
        By.XPATH,
        f"//div[@id='{ids.FORM_CROWDING_OVERRIDE}']//label[normalize-space()='{crowding_label}']",
    ).click()


def test_report_updates_map_board_tiles_and_other_screens(
    dash_duo, make_app, second_browser, screenshot
) -> None:
    app = make_app()
    store = app.server.extensions[EXTENSION_KEY].store
    password = add_staff_user(store, "hq1", "hq")
    staff_password = add_staff_user(store, "staff1", "shelter_staff", shelters=(SCHOOL,))
    dash_duo.start_server(app, navigate=False)  # "/" is the static public page, not Dash
    base = dash_duo.server.url
    driver = dash_duo.driver
    driver.set_window_size(1366, 768)

    # HQ screen A: the board of all shelters.
    login_browser(driver, base, "hq1", password, "/hq")
    dash_duo.wait_for_element(f"#{ids.HQ_MAP} .dx-marker", timeout=15)
    assert len(dash_duo.find_elements(".dx-marker")) == 139
    assert dash_duo.find_element("#hq-tile-open .dx-tile-value").text == "0"
    screenshot(driver, "hq_before")

    # Screen B (a phone): shelter staff report 開設, 120 evacuees, 混雑 by hand.
    second_browser.set_window_size(360, 740)
    login_browser(second_browser, base, "staff1", staff_password, "/hq")
    WebDriverWait(second_browser, 10).until(
        until.element_to_be_clickable((By.LINK_TEXT, "稲生ふれあい館"))
    ).click()
    _fill_form(second_browser, evacuees=120, crowding_label="混雑")
    screenshot(second_browser, "hq_form_phone")
    sent_at = time.monotonic()
    second_browser.find_element(By.ID, ids.FORM_SUBMIT).click()
    WebDriverWait(second_browser, 10).until(
        until.text_to_be_present_in_element((By.ID, ids.FORM_RESULT), "送信しました")
    )

    # Screen A sees it without reload, within 5 s: tiles, marker, board row.
    dash_duo.wait_for_text_to_equal("#hq-tile-open .dx-tile-value", "1", timeout=5)
    assert time.monotonic() - sent_at < 5.5
    assert dash_duo.find_element("#hq-tile-evacuees .dx-tile-value").text == "120"
    marker = dash_duo.find_element(f".dx-marker[data-shelter-id='{SCHOOL}']")
    assert "混雑" in marker.text and "dx-state-open" in marker.get_attribute("class")
    board = dash_duo.find_element(f"#{ids.HQ_BOARD}").text
    assert "稲生ふれあい館" in board and "混雑（手動）" in board and "120 / —" in board

    # Clicking the marker selects the board row and shows the details.
    marker.click()
    dash_duo.wait_for_text_to_equal("#hq-detail-name", "稲生ふれあい館", timeout=5)
    selected = dash_duo.find_elements(f"#{ids.HQ_BOARD} input[type=radio]:checked")
    assert len(selected) == 1
    screenshot(driver, "hq_after")

    # A stale write: A opens the form (version v), B reports again, A submits → conflict view.
    driver.get(f"{base}/hq/shelter/{SCHOOL}")
    _fill_form(driver, evacuees=150, crowding_label="満員")
    second_browser.refresh()
    _fill_form(second_browser, evacuees=130, crowding_label="混雑")
    second_browser.find_element(By.ID, ids.FORM_SUBMIT).click()
    WebDriverWait(second_browser, 10).until(
        until.text_to_be_present_in_element((By.ID, ids.FORM_RESULT), "送信しました")
    )
    driver.find_element(By.ID, ids.FORM_SUBMIT).click()
    dash_duo.wait_for_contains_text(
        f"#{ids.FORM_RESULT}", "他の職員が同じ項目を先に更新しました", timeout=10
    )
    conflict = dash_duo.find_element(f"#{ids.FORM_CONFLICT}").text
    assert "130" in conflict and "staff1" in conflict
    # Only 避難者数 clashed: B left 混雑状況 as it was, so A's 満員 is not in the view.
    fields = dash_duo.find_elements(f"#{ids.FORM_CONFLICT} .dx-conflict-field")
    assert [f.get_attribute("data-field") for f in fields] == ["evacuees"]
    driver.execute_script("document.getElementById(arguments[0]).scrollIntoView()", ids.FORM_RESULT)
    screenshot(driver, "hq_conflict")
    state = store.state(store.live_incident().incident_id).shelter(SCHOOL)
    assert state.evacuees == 130
    # Re-apply after seeing the newer values.
    driver.find_element(By.CSS_SELECTOR, f"#{ids.FORM_CONFLICT} button").click()
    dash_duo.wait_for_contains_text(f"#{ids.FORM_RESULT}", "送信しました", timeout=10)
    state = store.state(store.live_incident().incident_id).shelter(SCHOOL)
    assert (state.evacuees, state.reported_by) == (150, "hq1")
    # Back on the board, HQ's own report shows in the tiles, the marker and the row.
    driver.find_element(By.LINK_TEXT, "← 地図・ボード").click()
    dash_duo.wait_for_text_to_equal("#hq-tile-evacuees .dx-tile-value", "150", timeout=10)
    marker = dash_duo.find_element(f".dx-marker[data-shelter-id='{SCHOOL}']")
    assert "満員" in marker.text
    assert "150 / —" in dash_duo.find_element(f"#{ids.HQ_BOARD}").text
    errors = [e for e in dash_duo.get_logs() if e["source"] != "network"]
    assert errors == [], errors


def test_row_selects_marker_area_counts_and_injected_text(dash_duo, make_app, screenshot) -> None:
    from disaster_dx import auth, hq

    app = make_app()
    store = app.server.extensions[EXTENSION_KEY].store
    password = add_staff_user(store, "hq1", "hq")
    evil = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'
    incident = store.live_incident().incident_id
    hq.report_status(
        store,
        incident,
        auth.get_user(store, "hq1"),
        SCHOOL,
        {"open_state": "open", "public_note": evil},
        seen_version=0,
    )
    dash_duo.start_server(app, navigate=False)  # "/" is the static public page, not Dash
    driver = dash_duo.driver
    driver.set_window_size(1366, 768)
    login_browser(driver, dash_duo.server.url, "hq1", password, "/hq")
    dash_duo.wait_for_element(f".dx-marker[data-shelter-id='{SCHOOL}']", timeout=15)

    # Choosing the row on the board marks the marker on the map.
    dash_duo.find_element(f"#{ids.HQ_BOARD} .dash-filter input").send_keys("稲生")
    radio = dash_duo.wait_for_element(f"#{ids.HQ_BOARD} input[type=radio]", timeout=5)
    radio.click()
    dash_duo.wait_for_element(f".dx-marker.dx-selected[data-shelter-id='{SCHOOL}']", timeout=5)
    dash_duo.wait_for_text_to_equal("#hq-detail-name", "稲生ふれあい館", timeout=5)

    # The note is shown as text in the tooltip; nothing ran.
    driver.execute_script(
        "document.querySelector(arguments[0]).dispatchEvent(new MouseEvent('mouseover',"
        " {bubbles: true}))",
        f".dx-marker[data-shelter-id='{SCHOOL}']",
    )
    tooltip = dash_duo.wait_for_element(".leaflet-tooltip", timeout=5)
    assert "<script>alert(1)</script>" in tooltip.text
    assert driver.find_elements(By.CSS_SELECTOR, ".leaflet-tooltip img") == []
    assert driver.execute_script("return window.alertCalled === undefined")

    # People outside shelters: recorded from the panel, summed in the tile.
    dash_duo.find_element(f"#{ids.HQ_AREA_NAME}").send_keys("前浜")
    dash_duo.find_element(f"#{ids.HQ_AREA_HOME}").send_keys("12")
    dash_duo.find_element(f"#{ids.HQ_AREA_CAR}").send_keys("4")
    dash_duo.find_element(f"#{ids.HQ_AREA_SAVE}").click()
    dash_duo.wait_for_text_to_equal("#hq-tile-outside .dx-tile-value", "12・4", timeout=5)
    assert "前浜" in dash_duo.find_element(f"#{ids.HQ_AREA_TABLE}").text
    driver.execute_script("window.scrollTo(0, document.body.scrollHeight)")
    screenshot(driver, "hq_panels")
    errors = [e for e in dash_duo.get_logs() if e["source"] != "network"]
    assert errors == [], errors
