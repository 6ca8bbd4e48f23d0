"""Per-field merge and failures in headless Chromium: what staff see on a phone and at HQ.

A conflict on one field shows only that field (あなたの入力 / 他の職員の入力 / 元の値) and
re-applying never touches the fields the person left alone; a bulk open from a screen drawn
before a colleague closed a site skips that site and names it; a database that is down shows
its message and the input stays on the phone.
"""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as until
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import create_engine

from disaster_dx import auth, hq
from disaster_dx.model import Hazard
from disaster_dx.web import ids
from disaster_dx.web.context import EXTENSION_KEY
from disaster_dx.web.failures import SAVE_FAILED
from tests.conftest import add_staff_user
from tests.webtools import login_browser

SCHOOL = "E3920400009111"  # 稲生ふれあい館
PARKING = "駐車場は満車です。徒歩でお越しください。"


def _setup(make_app):
    app = make_app()
    store = app.server.extensions[EXTENSION_KEY].store
    passwords = {
        "hq1": add_staff_user(store, "hq1", "hq"),
        "staff1": add_staff_user(store, "staff1", "shelter_staff", shelters=(SCHOOL,)),
    }
    auth._update(store, "hq1", {"display_name": "本部 佐藤"})
    auth._update(store, "staff1", {"display_name": "田中 花子"})
    return app, store, passwords


def _type(driver, element_id: str, text: str) -> None:
    # Select and overwrite, as a person does: clear() bypasses React and the old value returns.
    box = driver.find_element(By.ID, element_id)
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.DELETE)
    box.send_keys(text)


def _status(store):
    return store.state(store.live_incident().incident_id).shelter(SCHOOL)


def test_a_conflict_on_one_field_shows_only_that_field_on_a_phone(
    dash_duo, make_app, screenshot
) -> None:
    app, store, passwords = _setup(make_app)
    live = store.live_incident().incident_id
    first = {"open_state": "open", "evacuees": 80, "households": 30, "public_note": PARKING}
    hq.report_status(store, live, auth.get_user(store, "hq1"), SCHOOL, first, seen_version=0)
    dash_duo.start_server(app, navigate=False)
    driver = dash_duo.driver
    driver.set_window_size(360, 740)
    base = dash_duo.server.url

    for lang, evacuees_hq, evacuees_phone in (("ja", 82, 90), ("en", 95, 99)):
        path = f"/hq/shelter/{SCHOOL}" + ("?lang=en" if lang == "en" else "")
        if lang == "ja":
            login_browser(driver, base, "staff1", passwords["staff1"], path)
        else:
            driver.get(base + path)
        dash_duo.wait_for_element(f"#{ids.FORM_SUBMIT}", timeout=10)
        seen = _status(store).version
        # HQ changes 避難者数 after the phone drew the form.
        hq.report_status(
            store,
            live,
            auth.get_user(store, "hq1"),
            SCHOOL,
            {"evacuees": evacuees_hq},
            seen_version=seen,
        )
        _type(driver, ids.FORM_EVACUEES, str(evacuees_phone))
        _type(driver, ids.FORM_OTHER_NEEDS, "毛布が不足" if lang == "ja" else "blankets")
        driver.find_element(By.ID, ids.FORM_SUBMIT).click()
        dash_duo.wait_for_element(f"#{ids.FORM_CONFLICT} .dx-conflict-field", timeout=10)
        fields = dash_duo.find_elements(f"#{ids.FORM_CONFLICT} .dx-conflict-field")
        assert [f.get_attribute("data-field") for f in fields] == ["evacuees"]
        text = dash_duo.find_element(f"#{ids.FORM_CONFLICT}").text
        mine, theirs, before = (
            ("あなたの入力", "他の職員の入力", "元の値")
            if lang == "ja"
            else ("Your entry", "Entered by a colleague", "Before either change")
        )
        assert mine in text and theirs in text and before in text
        assert str(evacuees_phone) in text and str(evacuees_hq) in text and "本部 佐藤" in text
        assert dash_duo.find_element(f"#{ids.FORM_EVACUEES}").get_attribute("value") == str(
            evacuees_phone
        )
        driver.execute_script(
            "document.getElementById(arguments[0]).scrollIntoView()", ids.FORM_RESULT
        )
        screenshot(driver, f"merge_conflict_phone_{lang}")
        assert _status(store).evacuees == evacuees_hq  # nothing was written

        button = driver.find_element(By.CSS_SELECTOR, f"#{ids.FORM_CONFLICT} button")
        button.click()
        dash_duo.wait_for_contains_text(
            f"#{ids.FORM_RESULT}", "送信しました" if lang == "ja" else "Sent", timeout=10
        )
        status = _status(store)
        assert status.evacuees == evacuees_phone
        assert status.other_needs == ("毛布が不足" if lang == "ja" else "blankets")
        # Fields nobody on this phone touched are exactly as they were.
        assert (status.households, status.public_note) == (30, PARKING)
        assert status.open_state.value == "open"
        events = store.events(live)
        assert set(events[-1].payload) == {"shelter_id", "evacuees", "other_needs"}


def test_bulk_open_from_a_stale_screen_skips_the_changed_shelter_and_names_it(
    dash_duo, make_app, screenshot
) -> None:
    app, store, passwords = _setup(make_app)
    live = store.live_incident().incident_id
    site = next(s for s in store.shelters() if Hazard.TSUNAMI in s.hazards)
    auth.assign_shelters(store, "staff1", [SCHOOL, site.shelter_id], actor="test")
    dash_duo.start_server(app, navigate=False)
    driver = dash_duo.driver
    driver.set_window_size(1366, 768)
    login_browser(driver, dash_duo.server.url, "hq1", passwords["hq1"], "/hq")
    dash_duo.wait_for_element(f"#{ids.HQ_MAP} .dx-cluster", timeout=15)

    driver.find_element(By.ID, ids.HQ_BULK_OPEN).click()
    alert = WebDriverWait(driver, 5).until(until.alert_is_present())
    # While HQ reads the question (the page is frozen by it), the site is found damaged.
    hq.report_status(
        store,
        live,
        auth.get_user(store, "staff1"),
        site.shelter_id,
        {"open_state": "closed", "public_note": "建物損壊・使用不可"},
        seen_version=0,
    )
    alert.accept()
    dash_duo.wait_for_element(f"#{ids.HQ_BULK_SKIPPED} li", timeout=10)
    result = dash_duo.find_element(f"#{ids.HQ_BULK_RESULT}").text
    assert "63か所のうち62か所を「開設」にしました" in result
    assert site.name in result and "閉鎖" in result and "田中 花子" in result
    status = store.state(live).shelter(site.shelter_id)
    assert status.open_state.value == "closed"
    driver.execute_script(
        "document.getElementById(arguments[0]).scrollIntoView()", ids.HQ_BULK_RESULT
    )
    screenshot(driver, "merge_bulk_skipped")


def test_database_down_shows_the_message_and_keeps_the_input(
    dash_duo, make_app, screenshot, tmp_path
) -> None:
    app, store, passwords = _setup(make_app)
    dash_duo.start_server(app, navigate=False)
    driver = dash_duo.driver
    driver.set_window_size(360, 740)
    login_browser(
        driver, dash_duo.server.url, "staff1", passwords["staff1"], f"/hq/shelter/{SCHOOL}"
    )
    dash_duo.wait_for_element(f"#{ids.FORM_SUBMIT}", timeout=10)
    working = store.engine
    store.engine = create_engine(
        "postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2"
        if store.dialect == "postgresql"
        else f"sqlite:///{tmp_path}/missing-folder/db.sqlite3"
    )
    try:
        driver.find_element(
            By.XPATH, f"//div[@id='{ids.FORM_OPEN_STATE}']//label[normalize-space()='開設']"
        ).click()
        _type(driver, ids.FORM_EVACUEES, "120")
        _type(driver, ids.FORM_PUBLIC_NOTE, "受付は体育館です")
        driver.find_element(By.ID, ids.FORM_SUBMIT).click()
        dash_duo.wait_for_contains_text(f"#{ids.FORM_RESULT}", SAVE_FAILED["ja"], timeout=10)
        assert "送信しました" not in dash_duo.find_element(f"#{ids.FORM_RESULT}").text
        assert dash_duo.find_element(f"#{ids.FORM_EVACUEES}").get_attribute("value") == "120"
        assert dash_duo.find_element(f"#{ids.FORM_PUBLIC_NOTE}").get_attribute("value") == (
            "受付は体育館です"
        )
        driver.execute_script(
            "document.getElementById(arguments[0]).scrollIntoView()", ids.FORM_RESULT
        )
        screenshot(driver, "merge_database_down_phone")
    finally:
        store.engine.dispose()
        store.engine = working
    # The server is back: the same input, sent as it is.
    driver.find_element(By.ID, ids.FORM_SUBMIT).click()
    dash_duo.wait_for_contains_text(f"#{ids.FORM_RESULT}", "送信しました", timeout=10)
    status = _status(store)
    assert (status.open_state.value, status.evacuees, status.public_note) == (
        "open",
        120,
        "受付は体育館です",
    )
