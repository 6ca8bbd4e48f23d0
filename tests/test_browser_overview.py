"""The Dash overview map (``/overview``) in headless Chromium: real shelters drawn, labels
readable, no tiles needed. The public page at ``/`` has its own tests (test_public_browser.py)."""

from __future__ import annotations

from disaster_dx.config import Settings
from disaster_dx.web import ids, overview


def _open_overview(dash_duo, app) -> None:
    """Start the app and open the overview (``/`` is the static public page, not Dash)."""
    dash_duo.start_server(app, navigate=False)
    dash_duo.server_url = dash_duo.server.url + overview.PATH  # waits for Dash to render


def test_map_shows_every_nankoku_shelter(
    dash_duo, make_app, app_settings: Settings, screenshot
) -> None:
    app = make_app()
    _open_overview(dash_duo, app)
    dash_duo.wait_for_element(f"#{ids.OVERVIEW_MAP} .dx-marker", timeout=10)
    markers = dash_duo.find_elements(".dx-marker")
    assert len(markers) == 139
    assert all(m.get_attribute("data-shelter-id").startswith("E392040") for m in markers)
    assert dash_duo.find_element(f"#{ids.OVERVIEW_COUNT}").text == "139"
    legend = dash_duo.find_element(".dx-legend").text
    for word in ("未開設", "開設準備中", "閉鎖", "常設", "空き", "満員"):
        assert word in legend
    assert dash_duo.find_element("html").get_attribute("lang") == "ja"
    screenshot(dash_duo.driver, "overview_ja")
    # Offline, tile requests fail (network); anything else would be a bug in our page.
    errors = [e for e in dash_duo.get_logs() if e["source"] != "network"]
    assert errors == [], errors


def test_map_in_english(dash_duo, make_app, app_settings: Settings, screenshot) -> None:
    app = make_app()
    _open_overview(dash_duo, app)
    dash_duo.wait_for_element(".dx-marker", timeout=10)
    dash_duo.find_element(f"#{ids.LANG_LINK}").click()
    dash_duo.wait_for_text_to_equal(".dx-header h1", "Nankoku City shelter map", timeout=10)
    assert "Not open" in dash_duo.find_element(".dx-legend").text
    screenshot(dash_duo.driver, "overview_en")
