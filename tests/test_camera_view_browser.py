"""One camera large in headless Chromium: opened from the wall and from the map popup, the last
hour as a strip and a slider, and a frame saved under a name that carries its capture time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from disaster_dx._time import to_jst
from disaster_dx.camera_simulator import CameraSimulator
from disaster_dx.cameras import Poller, sync_registry
from disaster_dx.cameras.frames import frame_key
from disaster_dx.store import Store
from disaster_dx.web.camera_view import CAPTION, DOWNLOAD, IMAGE, SLIDER, STRIP
from disaster_dx.web.context import EXTENSION_KEY, runtime_of
from tests.camera_tools import ManualClock, registry_for
from tests.conftest import add_staff_user
from tests.webtools import login_browser


def _record_hour(app, clock: ManualClock) -> list[datetime]:
    """Twelve frames of the coast camera, one every five minutes over the last hour."""
    app_store = app.server.extensions[EXTENSION_KEY].store
    store = Store(app_store.url, schema=app_store.schema)
    frames = runtime_of(app.server).cameras.frames
    now = clock()
    times = []
    with CameraSimulator(clock=clock) as sim:
        registry = registry_for(sim, {"coast": "jpeg", "river": "jpeg"}, interval=60)
        sync_registry(store, registry, actor="test")
        try:
            for minutes in range(55, -1, -5):
                clock.set(now - timedelta(minutes=minutes))
                times.append(clock())
                poller = Poller(store, registry, frames, clock=clock)
                try:
                    poller.run_due()
                    poller.wait(timeout=10)
                finally:
                    poller.close()
        finally:
            store.dispose()
    return times


def _js(driver, script: str, *args):
    return driver.execute_script(script, *args)


def _src(driver) -> str:
    return _js(
        driver, "const i = document.getElementById(arguments[0]); return i ? i.src : '';", IMAGE
    )


def _loaded(driver) -> bool:
    return bool(
        _js(
            driver,
            "const i = document.getElementById(arguments[0]);"
            "return !!(i && i.complete && i.naturalWidth > 0);",
            IMAGE,
        )
    )


def test_large_view_with_the_last_hour_and_a_named_download(dash_duo, make_app, screenshot) -> None:
    app = make_app()
    store = app.server.extensions[EXTENSION_KEY].store
    password = add_staff_user(store, "hq1", "hq")
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    times = _record_hour(app, clock)
    dash_duo.start_server(app, navigate=False)
    base = dash_duo.server.url
    driver = dash_duo.driver
    driver.set_window_size(1366, 768)
    wait = WebDriverWait(driver, 15)

    # From the wall: the coast picture opens the large view.
    login_browser(driver, base, "hq1", password, "/hq/cameras")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#hq-camera-card-coast a.dx-camera-open"))
    driver.find_element(By.CSS_SELECTOR, "#hq-camera-card-coast a.dx-camera-open").click()
    wait.until(lambda d: d.current_url.endswith("/hq/cameras/coast"))
    wait.until(lambda d: _loaded(d))
    assert _src(driver).endswith(f"/cameras/coast/frames/{frame_key(times[-1])}.jpg")
    thumbs = driver.find_elements(By.CSS_SELECTOR, f"#{STRIP} .dx-camera-thumb")
    assert len(thumbs) == 12
    caption = driver.find_element(By.ID, CAPTION).text
    assert "12/12" in caption and f"{to_jst(times[-1]):%H:%M:%S}" in caption
    large_width = _js(driver, "return document.getElementById(arguments[0]).clientWidth;", IMAGE)
    assert large_width >= 900  # on a 1366 px screen, not the wall's ~300 px
    screenshot(driver, "camera_view_1366_ja")

    # A thumbnail picks a frame; the download link names it by its capture time.
    thumbs[0].click()
    wait.until(lambda d: _src(d).endswith(f"/cameras/coast/frames/{frame_key(times[0])}.jpg"))
    wait.until(lambda d: "1/12" in d.find_element(By.ID, CAPTION).text)
    link = driver.find_element(By.ID, DOWNLOAD)
    expected = f"coast_{to_jst(times[0]):%Y-%m-%d_%H%M%S}JST.jpg"
    assert link.get_attribute("download") == expected
    assert link.get_attribute("href").endswith(f"{frame_key(times[0])}.jpg?download=1")
    disposition = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {credentials: 'same-origin'})"
        ".then(r => done(r.status + ' ' + r.headers.get('Content-Disposition')));",
        link.get_attribute("href"),
    )
    assert disposition == f'200 attachment; filename="{expected}"'
    screenshot(driver, "camera_view_1366_ja_first")

    # The slider scrubs: End goes back to the newest frame.
    handle = driver.find_element(By.CSS_SELECTOR, f"#{SLIDER} [role='slider']")
    handle.click()
    handle.send_keys(Keys.END)
    wait.until(lambda d: _src(d).endswith(f"{frame_key(times[-1])}.jpg"))
    handle.send_keys(Keys.LEFT)
    wait.until(lambda d: _src(d).endswith(f"{frame_key(times[-2])}.jpg"))

    # English, and a phone-sized screen.
    driver.get(f"{base}/hq/cameras/coast?lang=en")
    wait.until(lambda d: _loaded(d))
    assert "Taken " in driver.find_element(By.ID, CAPTION).text
    assert "Save this picture" in driver.find_element(By.ID, DOWNLOAD).text
    screenshot(driver, "camera_view_1366_en")
    driver.set_window_size(360, 740)
    driver.get(f"{base}/hq/cameras/coast")
    wait.until(lambda d: _loaded(d))
    screenshot(driver, "camera_view_360_ja")
    driver.get(f"{base}/hq/cameras/coast?lang=en")
    wait.until(lambda d: _loaded(d))
    screenshot(driver, "camera_view_360_en")

    # From the map: the popup (opened from the camera's icon) links to the same view.
    driver.set_window_size(1366, 768)
    driver.get(f"{base}/hq")
    marker = ".dx-camera-marker[data-camera-id='coast']"
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, marker))
    driver.find_element(By.CSS_SELECTOR, marker).click()
    popup = ".leaflet-popup .dx-camera-popup[data-camera-id='coast']"
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f"{popup} a.dx-camera-large-link"))
    driver.find_element(By.CSS_SELECTOR, f"{popup} a.dx-camera-large-link").click()
    wait.until(lambda d: d.current_url.endswith("/hq/cameras/coast"))
    wait.until(lambda d: _loaded(d))
    errors = [e for e in dash_duo.get_logs() if e["source"] != "network"]
    assert errors == [], errors
