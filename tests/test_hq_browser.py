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
from tests.webtools import in_view, login_browser, map_counts, zoom_into_clusters

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
    dash_duo.wait_for_element(f"#{ids.HQ_MAP} .dx-cluster", timeout=15)
    # City zoom: clusters counting every shelter, none open yet.
    counts = map_counts(driver, ids.HQ_MAP)
    assert counts["total"] == 139 and counts.get("open", 0) == 0, counts
    assert counts["clusters"] > 0
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
    WebDriverWait(driver, 5).until(lambda d: map_counts(d, ids.HQ_MAP).get("open") == 1)
    board = dash_duo.find_element(f"#{ids.HQ_BOARD}").text
    assert "稲生ふれあい館" in board and "混雑（手動）" in board and "120 / —" in board

    # Zooming into the cluster that counts one open shelter shows its marker: state and crowding.
    marker = zoom_into_clusters(
        driver, ids.HQ_MAP, f".dx-marker[data-shelter-id='{SCHOOL}']", cluster=".dx-cluster-open"
    )
    assert "開設" in marker.text and "混雑" in marker.text
    assert "dx-state-open" in marker.get_attribute("class")

    # Clicking the marker selects the board row and shows the details.
    driver.execute_script("arguments[0].click()", marker)
    dash_duo.wait_for_text_to_equal("#hq-detail-name", "稲生ふれあい館", timeout=5)
    selected = dash_duo.find_elements(f"#{ids.HQ_BOARD} .ag-row-selected")
    assert {row.get_attribute("row-id") for row in selected} == {SCHOOL}
    WebDriverWait(driver, 5).until(lambda d: in_view(d, d.find_element(By.ID, ids.HQ_SIDE)))
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
    # Choosing the row brings the map to the shelter, near enough to show its marker.
    dash_duo.find_element(f"#{ids.HQ_BOARD} .ag-row[row-id='{SCHOOL}'] .ag-cell").click()
    marker = dash_duo.wait_for_element(f".dx-marker[data-shelter-id='{SCHOOL}']", timeout=10)
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
    dash_duo.wait_for_element(f"#{ids.HQ_MAP} .dx-cluster", timeout=15)

    # Choosing the row on the board (found by its name) brings the map to it and marks it.
    dash_duo.find_element(f"#{ids.HQ_BOARD} .ag-floating-filter input").send_keys("稲生")
    row = dash_duo.wait_for_element(
        f"#{ids.HQ_BOARD} .ag-center-cols-container .ag-row[row-id='{SCHOOL}']", timeout=5
    )
    # Typed into the name filter: the rows left all carry the name typed.
    WebDriverWait(driver, 5).until(
        lambda d: all(
            "稲生" in r.text
            for r in d.find_elements(
                By.CSS_SELECTOR, f"#{ids.HQ_BOARD} .ag-pinned-left-cols-container .ag-row"
            )
        )
    )
    row.find_element(By.CSS_SELECTOR, ".ag-cell").click()
    dash_duo.wait_for_element(f".dx-marker.dx-selected[data-shelter-id='{SCHOOL}']", timeout=10)
    # Zoomed in far enough, the marker names the shelter.
    name = dash_duo.find_element(f".dx-marker[data-shelter-id='{SCHOOL}'] .dx-marker-name")
    WebDriverWait(driver, 5).until(lambda _d: name.is_displayed())
    assert name.text == "稲生ふれあい館"
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


def test_marker_click_scrolls_its_row_into_view(dash_duo, make_app, screenshot) -> None:
    """A shelter far down the board, chosen on the map: its row is selected and in view."""
    import numpy as np

    from disaster_dx import auth, hq

    app = make_app()
    store = app.server.extensions[EXTENSION_KEY].store
    password = add_staff_user(store, "hq1", "hq")
    shelters = store.shelters()
    lon = np.array([s.lon for s in shelters])
    lat = np.array([s.lat for s in shelters])
    metres = np.hypot((lon[:, None] - lon) * 92_800, (lat[:, None] - lat) * 111_000)
    np.fill_diagonal(metres, np.inf)
    # The target: late in the board (master order); its neighbour 60–250 m away gets opened,
    # so that neighbour's row is first and choosing it brings the map near the target.
    target, neighbour = next(
        (t, int(np.argmin(metres[t])))
        for t in range(len(shelters) - 1, 0, -1)
        if 60 < metres[t].min() < 250
    )
    target_id, neighbour_id = shelters[target].shelter_id, shelters[neighbour].shelter_id
    hq.report_status(
        store,
        store.live_incident().incident_id,
        auth.get_user(store, "hq1"),
        neighbour_id,
        {"open_state": "open"},
        seen_version=0,
    )
    dash_duo.start_server(app, navigate=False)
    driver = dash_duo.driver
    driver.set_window_size(1366, 768)
    login_browser(driver, dash_duo.server.url, "hq1", password, "/hq")
    first = dash_duo.wait_for_element(
        f"#{ids.HQ_BOARD} .ag-center-cols-container .ag-row[row-id='{neighbour_id}'] .ag-cell",
        timeout=15,
    )
    first.click()
    marker = dash_duo.wait_for_element(f".dx-marker[data-shelter-id='{target_id}']", timeout=10)
    rows = f"#{ids.HQ_BOARD} .ag-center-cols-container .ag-row[row-id='{target_id}']"
    assert not driver.find_elements(By.CSS_SELECTOR, rows)  # far down: not even drawn yet

    driver.execute_script("arguments[0].click()", marker)
    dash_duo.wait_for_text_to_equal("#hq-detail-name", shelters[target].name, timeout=5)
    row = dash_duo.wait_for_element(rows, timeout=5)
    WebDriverWait(driver, 5).until(lambda _d: "ag-row-selected" in row.get_attribute("class"))
    viewport = dash_duo.find_element(f"#{ids.HQ_BOARD} .ag-body-viewport")
    WebDriverWait(driver, 5).until(lambda d: in_view(d, row, viewport, axis="y"))
    WebDriverWait(driver, 5).until(lambda d: in_view(d, d.find_element(By.ID, ids.HQ_SIDE)))
    screenshot(driver, "hq_marker_scrolls_row")
    errors = [e for e in dash_duo.get_logs() if e["source"] != "network"]
    assert errors == [], errors
