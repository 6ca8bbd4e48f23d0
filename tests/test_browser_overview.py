"""The Dash overview map (``/overview``, staff only) in headless Chromium: real shelters drawn,
clustered with counts per open state at city zoom, names once zoomed in, no tiles needed. The
public page at ``/`` has its own tests (test_public_browser.py)."""

from __future__ import annotations

import contextlib

from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from disaster_dx.config import Settings
from disaster_dx.events import NewEvent
from disaster_dx.web import ids, overview
from disaster_dx.web.context import EXTENSION_KEY
from tests.conftest import add_staff_user
from tests.webtools import login_browser, map_counts, zoom_into_clusters

OPEN = 64


def _open_overview(dash_duo, app, *, lang: str = "ja") -> None:
    """Start the app, sign in and open the overview (staff only; ``/`` is the public page)."""
    store = app.server.extensions[EXTENSION_KEY].store
    password = add_staff_user(store, "viewer", "shelter_staff")
    dash_duo.start_server(app, navigate=False)
    dash_duo.driver.set_window_size(1366, 768)
    login_browser(dash_duo.driver, dash_duo.server.url, "viewer", password, "/hq")
    query = "?lang=en" if lang == "en" else ""
    dash_duo.driver.get(dash_duo.server.url + overview.PATH + query)
    dash_duo.wait_for_element(f"#{ids.OVERVIEW_MAP} .dx-cluster", timeout=15)


def _open_shelters(app, count: int) -> list[str]:
    store = app.server.extensions[EXTENSION_KEY].store
    chosen = [s.shelter_id for s in store.shelters()[::2][:count]]
    store.append(
        store.live_incident().incident_id,
        [NewEvent("shelter.status_reported", {"shelter_id": s, "open_state": "open"})
         for s in chosen],
        actor="hq1",
    )  # fmt: skip
    return chosen


def test_city_zoom_clusters_count_every_shelter_by_open_state(
    dash_duo, make_app, app_settings: Settings, screenshot
) -> None:
    app = make_app()
    opened = _open_shelters(app, OPEN)
    _open_overview(dash_duo, app)
    driver = dash_duo.driver
    counts = map_counts(driver, ids.OVERVIEW_MAP)
    # Every shelter counted once, per state, and most of them in clusters at city zoom.
    assert counts["total"] == 139, counts
    assert counts.get("open", 0) == OPEN and counts.get("not_open", 0) == 139 - OPEN, counts
    assert counts["clusters"] >= 5 and counts["markers"] < 30, counts
    cluster = dash_duo.find_element(".dx-cluster-open")
    # The cluster says its counts in symbols on the map and in words for everyone.
    assert "●" in cluster.text and "開設" in cluster.get_attribute("title")
    # Names are not drawn at city zoom (they would overlap) ...
    assert not any(n.is_displayed() for n in dash_duo.find_elements(".dx-marker-name"))
    assert dash_duo.find_element(f"#{ids.OVERVIEW_COUNT}").text == "139"
    legend = dash_duo.find_element(".dx-legend").text
    for word in ("未開設", "開設準備中", "閉鎖", "常設", "空き", "満員", "不明"):
        assert word in legend
    assert dash_duo.find_element("html").get_attribute("lang") == "ja"
    screenshot(driver, "overview_ja")

    # ... and once zoomed into a cluster far enough, each marker names its shelter.
    marker = zoom_into_clusters(
        driver, ids.OVERVIEW_MAP, ".dx-marker.dx-state-open", cluster=".dx-cluster-open"
    )
    shelter_id = marker.get_attribute("data-shelter-id")
    assert shelter_id in opened
    plus = driver.find_element(By.CSS_SELECTOR, f"#{ids.OVERVIEW_MAP} .leaflet-control-zoom-in")
    named = f"#{ids.OVERVIEW_MAP}.dx-show-names, #{ids.OVERVIEW_MAP} .dx-show-names"
    for _ in range(6):
        if driver.find_elements(By.CSS_SELECTOR, named):
            break
        plus.click()
        with contextlib.suppress(TimeoutException):  # one zoom step may not reach it yet
            WebDriverWait(driver, 1.5).until(lambda d: d.find_elements(By.CSS_SELECTOR, named))
    names = [
        n.text
        for n in dash_duo.find_elements(f"#{ids.OVERVIEW_MAP} .dx-marker-name")
        if n.is_displayed()
    ]
    assert names and all(names), names
    shown = {s.name for s in app.server.extensions[EXTENSION_KEY].store.shelters()}
    assert set(names) <= shown
    screenshot(driver, "overview_zoomed_ja")
    # Offline, tile requests fail (network); anything else would be a bug in our page.
    errors = [e for e in dash_duo.get_logs() if e["source"] != "network"]
    assert errors == [], errors


def test_map_in_english(dash_duo, make_app, app_settings: Settings, screenshot) -> None:
    app = make_app()
    _open_overview(dash_duo, app, lang="en")
    dash_duo.wait_for_text_to_equal(".dx-header h1", "Nankoku City shelter map", timeout=10)
    legend = dash_duo.find_element(".dx-legend").text
    assert "Not open" in legend and "Unknown" in legend
    assert "Not open" in dash_duo.find_element(".dx-cluster").get_attribute("title")
    screenshot(dash_duo.driver, "overview_en")
