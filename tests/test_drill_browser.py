"""Drill pages in headless Chromium: the replay slider, the operator console."""

from __future__ import annotations

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from disaster_dx import drills
from disaster_dx.model import OpenState
from disaster_dx.web import drill_pages as pages
from disaster_dx.web.context import EXTENSION_KEY, runtime_of
from tests.conftest import add_staff_user
from tests.drill_support import FakeClock, play_tsunami_drill
from tests.webtools import login_browser, map_counts, zoom_into_clusters


def _marker_class(dash_duo, shelter_id: str) -> str:
    return dash_duo.find_element(f".dx-marker[data-shelter-id='{shelter_id}']").get_attribute(
        "class"
    )


def _wait(driver, condition) -> None:
    """Wait for a condition; markers are redrawn on every seek, so stale elements are retried."""
    WebDriverWait(driver, 10, ignored_exceptions=(StaleElementReferenceException,)).until(condition)


def _leave(driver) -> None:
    """Stop the page's polling before the app's store is closed (``make_app`` teardown).

    ``make_app`` is requested before ``dash_duo`` so the server stops first; leaving the page
    also means no request can open a database connection after the store was disposed.
    """
    driver.get("about:blank")


def _board_row(dash_duo, name: str) -> str:
    rows = dash_duo.find_elements(f"#{pages.REPLAY_BOARD} .ag-row")
    return next(r.text for r in rows if name in r.text)


def test_replay_slider_moved_earlier_shows_earlier_statuses(make_app, dash_duo, screenshot) -> None:
    app = make_app()
    runtime_of(app.server).drill_scheduler.enabled = False
    store = app.server.extensions[EXTENSION_KEY].store
    clock = FakeClock()
    store.clock = clock
    run = play_tsunami_drill(store, clock, speed=60)
    password = add_staff_user(store, "op1", "drill")

    dash_duo.start_server(app, navigate=False)  # "/" is the static public page, not Dash
    driver = dash_duo.driver
    driver.set_window_size(1366, 900)
    login_browser(driver, dash_duo.server.url, "op1", password, f"/drill/replay/{run.incident_id}")
    # Clustered as HQ's map is: at city zoom, clusters that count every shelter by state.
    dash_duo.wait_for_element(f"#{pages.REPLAY_MAP} .dx-cluster", timeout=15)
    final = drills.state_at(store, run.incident_id)
    open_at_end = sum(s.open_state is OpenState.OPEN for s in final.shelters.values())
    counts = map_counts(driver, pages.REPLAY_MAP)
    assert counts["total"] == 139 and counts["clusters"] > 0
    assert counts.get("open") == open_at_end
    assert "訓練 / DRILL" in dash_duo.find_element("#drill-banner").text
    # At the end of the record: the school open with 180 people.
    assert "開設" in _board_row(dash_duo, "大篠小学校") and "180" in _board_row(
        dash_duo, "大篠小学校"
    )
    screenshot(driver, "drill_replay_end")

    # Move the slider itself back to drill minute 10 (10 s of the 60× record): keyboard on
    # the slider's handle, as a person without a mouse would.
    handle = dash_duo.find_element(f"#{pages.REPLAY_SLIDER} [role='slider']")
    handle.click()
    handle.send_keys(Keys.HOME)
    for _ in range(10):
        handle.send_keys(Keys.ARROW_RIGHT)
    dash_duo.wait_for_contains_text(f"#{pages.REPLAY_CLOCK}", "訓練経過 +00:10:00", timeout=10)
    _wait(driver, lambda d: map_counts(d, pages.REPLAY_MAP).get("open") == 3)
    assert map_counts(driver, pages.REPLAY_MAP)["total"] == 139
    assert "未開設" in _board_row(dash_duo, "大篠小学校")
    row = _board_row(dash_duo, "十市阿戸タワー")
    assert "開設" in row and "28" in row  # reported at +0:10
    assert dash_duo.find_element("#drill-replay-tile-open .dx-tile-value").text == "3"
    assert "想定時刻 09:10:00" in dash_duo.find_element(f"#{pages.REPLAY_CLOCK}").text
    screenshot(driver, "drill_replay_minute_10")

    # Zoomed into a cluster, one shelter open at minute 10 follows the slider as a marker:
    # not open at the start of the record, as the record ends with it at the end.
    marker = zoom_into_clusters(
        driver, pages.REPLAY_MAP, ".dx-marker.dx-state-open", cluster=".dx-cluster-open"
    )
    shelter_id = marker.get_attribute("data-shelter-id")
    dash_duo.find_element(f"#{pages.REPLAY_FIRST}").click()
    _wait(driver, lambda d: "dx-state-not_open" in _marker_class(dash_duo, shelter_id))
    # And forward again with the transport buttons: 最後 shows the end state once more.
    dash_duo.find_element(f"#{pages.REPLAY_LAST}").click()
    end_state = final.shelter(shelter_id).open_state.value
    _wait(driver, lambda d: f"dx-state-{end_state}" in _marker_class(dash_duo, shelter_id))
    screenshot(driver, "drill_replay_zoomed")
    errors = [e for e in dash_duo.get_logs() if e["source"] != "network"]
    assert errors == [], errors
    _leave(driver)


def test_operator_console_shows_the_running_drill(make_app, dash_duo, screenshot) -> None:
    app = make_app()
    runtime_of(app.server).drill_scheduler.enabled = False
    store = app.server.extensions[EXTENSION_KEY].store
    clock = FakeClock()
    store.clock = clock
    scenario = drills.load_scenario(
        drills.SCENARIO_DIR / "nankai_trough_tsunami.yaml", shelters=store.shelters()
    )
    run = drills.start_drill(store, scenario, actor="op1", speed=10)
    scheduler = drills.DrillScheduler(store, holder="test")
    for _ in range(61):  # ten minutes of drill time at 10×
        scheduler.tick()
        clock.sleep(1)
    scheduler.release()
    password = add_staff_user(store, "op1", "drill")
    dash_duo.start_server(app, navigate=False)  # "/" is the static public page, not Dash
    driver = dash_duo.driver
    driver.set_window_size(1366, 1400)
    login_browser(driver, dash_duo.server.url, "op1", password, "/drill")
    dash_duo.wait_for_contains_text(f"#{pages.CHECK}", "問題はありません", timeout=15)
    dash_duo.wait_for_contains_text(f"#{pages.STATUS}", "実施中", timeout=10)
    assert "10×" in dash_duo.find_element(f"#{pages.STATUS}").text
    fired = dash_duo.find_element(f"#{pages.FIRED}").text
    assert "大津波警報" in fired and "十市阿戸タワー" in fired
    upcoming = dash_duo.find_element(f"#{pages.UPCOMING}").text
    assert "+00:11:00" in upcoming and "久枝南タワー" in upcoming
    assert "訓練 / DRILL" in dash_duo.find_element("#drill-banner").text
    assert run.incident_id in dash_duo.find_element(f"#{pages.RUN}").text
    screenshot(driver, "drill_operator")
    errors = [e for e in dash_duo.get_logs() if e["source"] != "network"]
    assert errors == [], errors
    assert driver.find_elements(By.ID, pages.START)
    _leave(driver)
