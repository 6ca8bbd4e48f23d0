"""Cameras in headless Chromium: three cones on the HQ map, a popup with the newest frame and
its age, and the camera wall's scrubber going back to an older frame."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from disaster_dx.camera_frames import frame_key
from disaster_dx.camera_simulator import CameraSimulator, SimMode
from disaster_dx.cameras import Poller, sync_registry
from disaster_dx.store import Store
from disaster_dx.web.cameras_web import SCRUBBER, TIME_LABEL
from disaster_dx.web.context import EXTENSION_KEY, runtime_of
from tests.camera_tools import ManualClock, registry_for
from tests.conftest import add_staff_user
from tests.webtools import login_browser


def _poll_history(app, sim, clock: ManualClock) -> list[datetime]:
    """Polls 10 min, 4 min and 3 s ago, so the three cameras end in three different states.

    coast: frames every time (正常). river: none in the last poll, so its newest is 4 min old
    (遅延: more than 3 × 60 s). town: only the first (停止: more than 10 × 60 s).
    """
    app_store = app.server.extensions[EXTENSION_KEY].store
    store = Store(app_store.url, schema=app_store.schema)  # the poller's own, as in production
    frames = runtime_of(app.server).cameras.frames
    registry = registry_for(sim, {"coast": "jpeg", "river": "mjpeg", "town": "jpeg"}, interval=60)
    sync_registry(store, registry, actor="test")
    now = clock()
    times = []
    try:
        _rounds(store, registry, frames, clock, now, times, sim)
    finally:
        store.dispose()
    return times


def _rounds(store, registry, frames, clock, now, times, sim) -> None:
    for seconds, failing in ((600, ()), (240, ("town",)), (3, ("town", "river"))):
        for camera_id in failing:
            sim.set_mode(camera_id, SimMode.ERROR)
        clock.set(now - timedelta(seconds=seconds))
        times.append(clock())
        poller = Poller(store, registry, frames, clock=clock)
        try:
            poller.run_due()
            poller.wait(timeout=10)
        finally:
            poller.close()
        assert sorted(a.camera_id for a in poller.history if not a.ok) == sorted(failing)


def _frame_of(driver, camera_id: str) -> str | None:
    """The frame key a wall card shows (read in one go: the wall re-renders every 5 s)."""
    return driver.execute_script(
        "const e = document.getElementById(arguments[0]);"
        "return e ? e.getAttribute('data-frame') : null;",
        f"hq-camera-age-{camera_id}",
    )


def _text_of(driver, element_id: str) -> str:
    return driver.execute_script(
        "const e = document.getElementById(arguments[0]); return e ? e.textContent : '';",
        element_id,
    )


def _loaded(driver, selector: str) -> bool:
    return bool(
        driver.execute_script(
            "const i = document.querySelector(arguments[0]);"
            "return !!(i && i.complete && i.naturalWidth > 0);",
            selector,
        )
    )


def test_hq_map_cones_popup_and_camera_wall_scrubber(dash_duo, make_app, screenshot) -> None:
    app = make_app()
    store = app.server.extensions[EXTENSION_KEY].store
    password = add_staff_user(store, "hq1", "hq")
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    with CameraSimulator(clock=clock) as sim:  # frames show the (simulated) capture time
        times = _poll_history(app, sim, clock)
    dash_duo.start_server(app, navigate=False)  # "/" is the static public page, not Dash
    base = dash_duo.server.url
    driver = dash_duo.driver
    driver.set_window_size(1366, 900)
    wait = WebDriverWait(driver, 15)

    # The HQ map: three cones, each camera's health in words beside the colour and pattern.
    login_browser(driver, base, "hq1", password, "/hq")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "path.dx-camera-cone")) == 3)
    labels = {
        m.get_attribute("data-camera-id"): m.find_element(
            By.CSS_SELECTOR, ".dx-camera-marker-label"
        ).text
        for m in driver.find_elements(By.CSS_SELECTOR, ".dx-camera-marker")
    }
    assert labels == {"coast": "● 正常", "river": "▲ 遅延", "town": "× 停止"}
    cones = {
        c.get_attribute("data-camera-id"): c
        for c in driver.find_elements(By.CSS_SELECTOR, "path.dx-camera-cone")
    }
    assert "dx-health-online" in cones["coast"].get_attribute("class")
    assert "dx-health-stale" in cones["river"].get_attribute("class")
    assert "dx-health-offline" in cones["town"].get_attribute("class")
    assert cones["coast"].get_attribute("stroke-dasharray") in (None, "")
    assert cones["town"].get_attribute("stroke-dasharray")  # dotted: not colour alone
    screenshot(driver, "cameras_hq_map")

    # Clicking the coast cone opens a popup with the newest frame and its age.
    driver.find_element(By.CSS_SELECTOR, "path.dx-camera-cone[data-camera-id='coast']").click()
    popup = ".leaflet-popup .dx-camera-popup[data-camera-id='coast']"
    wait.until(lambda d: _loaded(d, f"{popup} img.dx-camera-frame"))
    age = driver.find_element(By.CSS_SELECTOR, f"{popup} .dx-camera-age")
    assert age.get_attribute("data-frame") == frame_key(times[2])
    assert age.text.startswith("撮影 ") and "秒前" in age.text
    assert "正常" in driver.find_element(By.CSS_SELECTOR, f"{popup} .dx-camera-health").text
    screenshot(driver, "cameras_hq_popup")

    # The camera wall: live images, then the scrubber goes back to the oldest frames.
    driver.get(f"{base}/hq/cameras")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".dx-camera-card img")) == 3)
    newest = {"coast": times[2], "river": times[1], "town": times[0]}
    for camera_id, taken in newest.items():
        wait.until(lambda d, c=camera_id: _loaded(d, f"#hq-camera-img-{c}"))
        assert _frame_of(driver, camera_id) == frame_key(taken)
    assert _text_of(driver, TIME_LABEL).startswith("ライブ表示")
    town = _text_of(driver, "hq-camera-card-town")
    assert "現在の状態：停止" in town and "直近のエラー: カメラが画像を返しませんでした" in town
    screenshot(driver, "cameras_wall_live")

    handle = driver.find_element(By.CSS_SELECTOR, f"#{SCRUBBER} [role='slider']")
    handle.click()
    handle.send_keys(Keys.HOME)
    wait.until(lambda d: _frame_of(d, "coast") == frame_key(times[0]))
    assert _text_of(driver, TIME_LABEL).startswith("記録 ")
    assert "10分前" in _text_of(driver, "hq-camera-age-coast")
    wait.until(lambda d: _loaded(d, "#hq-camera-img-coast"))
    src = driver.execute_script("return document.getElementById('hq-camera-img-coast').src")
    assert src.endswith(f"/cameras/coast/frames/{frame_key(times[0])}.jpg")
    screenshot(driver, "cameras_wall_history")

    # One step later, then back to live.
    driver.find_element(By.ID, "hq-cameras-next").click()
    wait.until(lambda d: _frame_of(d, "river") == frame_key(times[1]))
    driver.find_element(By.ID, "hq-cameras-live").click()
    wait.until(lambda d: _text_of(d, TIME_LABEL).startswith("ライブ表示"))
    assert _frame_of(driver, "coast") == frame_key(times[2])
    errors = [e for e in dash_duo.get_logs() if e["source"] != "network"]
    assert errors == [], errors
