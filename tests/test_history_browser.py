"""An imported history replayed in headless Chromium, and its after-action report (screenshots)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.support.ui import WebDriverWait

from disaster_dx.web import drill_pages as pages
from disaster_dx.web.context import EXTENSION_KEY, runtime_of
from tests.conftest import add_staff_user
from tests.test_history_web import imported
from tests.webtools import login_browser


def _open_tile(dash_duo: Any) -> str:
    return str(dash_duo.find_element("#drill-replay-tile-open .dx-tile-value").text)


@pytest.mark.parametrize("size", [(1366, 768), (360, 740)])
def test_history_replay_and_report_render(
    make_app: Any,
    dash_duo: Any,
    screenshot: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    size: tuple[int, int],
) -> None:
    app = make_app()
    runtime_of(app.server).drill_scheduler.enabled = False
    incident_id, expected = imported(app, tmp_path, monkeypatch)
    store = app.server.extensions[EXTENSION_KEY].store
    password = add_staff_user(store, "chief", "hq")
    dash_duo.start_server(app, navigate=False)
    driver = dash_duo.driver
    driver.set_window_size(*size)
    login_browser(driver, dash_duo.server.url, "chief", password, f"/drill/replay/{incident_id}")
    # Clustered at city zoom, as HQ's map is.
    dash_duo.wait_for_element(f"#{pages.REPLAY_MAP} .dx-cluster", timeout=15)
    # The end of the record is the last publication: four shelters open.
    assert _open_tile(dash_duo) == str(len(expected[-1]))
    assert "2024-01-03 13:30:00" in dash_duo.find_element(f"#{pages.REPLAY_CLOCK}").text
    screenshot(driver, f"history_replay_end_{size[0]}")
    dash_duo.find_element(f"#{pages.REPLAY_FIRST}").click()
    WebDriverWait(driver, 10, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda _d: _open_tile(dash_duo) == str(len(expected[0]))
    )
    assert "2024-01-01 18:00:00" in dash_duo.find_element(f"#{pages.REPLAY_CLOCK}").text
    screenshot(driver, f"history_replay_first_{size[0]}")

    driver.get(f"{dash_duo.server.url}/drill/report/{incident_id}")
    WebDriverWait(driver, 15).until(lambda d: d.find_elements("css selector", ".plot-container"))
    screenshot(driver, f"history_report_{size[0]}")
    # HQ's list of incidents has the imported record with its publication period and links.
    driver.get(f"{dash_duo.server.url}/hq/incidents")
    dash_duo.wait_for_contains_text("body", "令和6年 南国市の記録（試験）", timeout=15)
    links = [a.get_attribute("href") for a in driver.find_elements("css selector", "a")]
    assert any(h and h.endswith(f"/drill/replay/{incident_id}") for h in links)
    assert "2024-01-01 18:00" in driver.find_element("css selector", "body").text
    screenshot(driver, f"history_incidents_{size[0]}")
    errors = [e for e in dash_duo.get_logs() if e["source"] != "network"]
    assert errors == [], errors
    driver.get("about:blank")
