"""``/hq/line`` in headless Chromium: HQ sees the queued message, holds it, announces."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as until
from selenium.webdriver.support.ui import WebDriverWait

from disaster_dx import notify
from disaster_dx.events import SHELTER_STATUS_REPORTED, NewEvent
from disaster_dx.model import Hazard
from disaster_dx.web import line_routes
from disaster_dx.web.context import EXTENSION_KEY
from tests.conftest import add_staff_user
from tests.webtools import login_browser


def test_hq_holds_the_queued_message_and_announces(dash_duo, make_app, screenshot) -> None:
    app = make_app()
    store = app.server.extensions[EXTENSION_KEY].store
    password = add_staff_user(store, "hq1", "hq")
    incident = store.live_incident()
    ids = [s.shelter_id for s in store.shelters() if Hazard.TSUNAMI in s.hazards][:3]
    store.append(
        incident.incident_id,
        [NewEvent(SHELTER_STATUS_REPORTED, {"shelter_id": i, "open_state": "open"}) for i in ids],
        actor="hq1",
    )
    dash_duo.start_server(app, navigate=False)
    driver = dash_duo.driver
    login_browser(driver, dash_duo.server.url, "hq1", password, "/hq/line")
    dash_duo.wait_for_contains_text(
        f"#{line_routes.LINE_PREVIEW}", "避難所など3か所を開設しました。", timeout=15
    )
    screenshot(driver, "hq_line")

    driver.find_element(By.ID, line_routes.LINE_HOLD).click()
    dash_duo.wait_for_contains_text(f"#{line_routes.LINE_ACTION_RESULT}", "保留中", timeout=10)
    (queued,) = notify.outbox(store)
    assert queued.status == notify.HELD

    box = driver.find_element(By.ID, line_routes.LINE_ANNOUNCE_TEXT)
    box.send_keys("給水所を開設しました。")
    dash_duo.wait_for_contains_text(
        f"#{line_routes.LINE_ANNOUNCE_PREVIEW}", "（南国市 災害対策本部）", timeout=10
    )
    driver.find_element(By.ID, line_routes.LINE_ANNOUNCE_SEND).click()
    WebDriverWait(driver, 5).until(until.alert_is_present()).accept()  # the confirm dialog
    dash_duo.wait_for_contains_text(
        f"#{line_routes.LINE_ANNOUNCE_RESULT}", "送信待ちに入れました", timeout=10
    )
    kinds = sorted(m.kind for m in notify.outbox(store))
    assert kinds == [notify.KIND_ANNOUNCEMENT, notify.KIND_STATUS]
    assert dash_duo.get_logs() == [], "browser console errors"
