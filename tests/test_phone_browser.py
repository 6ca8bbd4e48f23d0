"""The light phone form (/m/) in headless Chromium at 360×740: offline, database down, conflicts.

Chromium's own network emulation (DevTools protocol) takes the phone offline; the database
is made unreachable by pointing the app's store at an address nobody answers.
"""

from __future__ import annotations

import json
import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as until
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import create_engine

from disaster_dx import auth
from disaster_dx.events import SHELTER_STATUS_REPORTED, NewEvent
from disaster_dx.web.context import EXTENSION_KEY
from tests.webtools import axe_violations, login_browser

SCHOOL = "E3920400009111"  # 稲生ふれあい館
QUEUED = "未送信（電波が戻ると自動で送信します）"
SERVER_DOWN = (
    "保存できませんでした。通信または本部のサーバーに問題があります。入力は端末に残っています。"
)


@pytest.fixture
def phone(dash_duo, make_app):
    """A started app with a shelter-staff user and HQ's earlier report; the phone's driver."""
    app = make_app()
    store = app.server.extensions[EXTENSION_KEY].store
    auth.add_user(
        store,
        "inabu1",
        "pw-inabu1-0123456789",
        {auth.Role.SHELTER_STAFF},
        actor="test",
        display_name="稲生 一郎",
        shelter_ids=[SCHOOL],
    )
    auth.add_user(
        store, "hq1", "pw-hq1-0123456789", {auth.Role.HQ}, actor="test", display_name="本部 花子"
    )
    _append(store, "hq1", open_state="open", evacuees=80, public_note="駐車場は満車です。")
    dash_duo.start_server(app, navigate=False)
    driver = dash_duo.driver
    driver.set_window_size(360, 740)
    return app, store, driver, dash_duo.server.url


def _append(store, actor: str, **fields) -> None:
    store.append(
        store.live_incident().incident_id,
        [NewEvent(SHELTER_STATUS_REPORTED, {"shelter_id": SCHOOL, **fields})],
        actor=actor,
    )


def _events(store) -> list:
    return store.events(store.live_incident().incident_id)


def _open_form(driver, base: str, *, lang: str = "") -> None:
    login_browser(driver, base, "inabu1", "pw-inabu1-0123456789", f"/m/shelter/{SCHOOL}{lang}")
    WebDriverWait(driver, 30).until(
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1"
    )


def _type(driver, name: str, value: str) -> None:
    box = driver.find_element(By.ID, f"f-{name}")
    box.clear()
    box.send_keys(value)


def _offline(driver, offline: bool) -> None:
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd(
        "Network.emulateNetworkConditions",
        {"offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )


def _outbox(driver) -> list:
    found = driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const open = indexedDB.open("dx-phone", 1);
        open.onsuccess = () => {
          const request = open.result.transaction("outbox").objectStore("outbox").getAll();
          request.onsuccess = () => done(JSON.stringify(request.result));
        };
        open.onerror = () => done("[]");
        """
    )
    return json.loads(found)


def _wait_text(driver, element_id: str, text: str, timeout: float = 40) -> None:
    WebDriverWait(driver, timeout).until(
        until.text_to_be_present_in_element((By.ID, element_id), text)
    )


def test_the_list_and_the_form_show_the_last_report_in_japanese_and_english(
    phone, screenshot
) -> None:
    _app, _store, driver, base = phone
    login_browser(driver, base, "inabu1", "pw-inabu1-0123456789", "/m/?lang=ja")
    WebDriverWait(driver, 30).until(
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1"
    )
    listing = driver.find_element(By.TAG_NAME, "main").text
    assert "稲生ふれあい館" in listing and "開設" in listing and "本部 花子" in listing
    screenshot(driver, "phone_list_ja")
    driver.find_element(By.PARTIAL_LINK_TEXT, "稲生ふれあい館").click()
    WebDriverWait(driver, 30).until(
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1"
    )
    last = driver.find_element(By.ID, "last-report").text
    assert last.startswith("最終報告:") and "報告者: 本部 花子" in last
    assert driver.find_element(By.ID, "f-evacuees").get_attribute("value") == "80"
    assert driver.find_element(By.ID, "f-open_state-open").is_selected()
    screenshot(driver, "phone_form_ja")
    # Every tap target is at least 44 px high.
    small = driver.execute_script(
        """
        return Array.from(document.querySelectorAll('a, button, .choice, input[type=text], select'))
          .filter(e => e.offsetParent !== null && e.getBoundingClientRect().height < 44)
          .map(e => e.outerHTML.slice(0, 80));
        """
    )
    assert small == []
    assert axe_violations(driver) == []

    driver.get(f"{base}/m/shelter/{SCHOOL}?lang=en")
    WebDriverWait(driver, 30).until(
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1"
    )
    assert driver.find_element(By.ID, "last-report").text.startswith("Last report:")
    assert driver.find_element(By.ID, "send").text == "Send"
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    screenshot(driver, "phone_form_en")


def test_a_report_made_offline_is_kept_and_sent_once_when_back(phone, screenshot) -> None:
    _app, store, driver, base = phone
    _open_form(driver, base)
    _offline(driver, True)
    _type(driver, "evacuees", "95")
    _type(driver, "households", "40")
    driver.find_element(By.ID, "send").click()
    _wait_text(driver, "net", QUEUED)
    screenshot(driver, "phone_offline_queued")
    assert len(_events(store)) == 1  # only HQ's earlier report
    (entry,) = _outbox(driver)
    assert entry["body"] == {
        "base_version": 1,
        "fields": {"evacuees": 95, "households": 40},
        "correction": False,
        "reason": "",
    }
    assert "送信しました" not in driver.find_element(By.ID, "result").text

    _offline(driver, False)
    driver.execute_script("window.dispatchEvent(new Event('online'))")
    _wait_text(driver, "result", "送信しました")
    assert _outbox(driver) == []
    events = _events(store)
    assert len(events) == 2
    assert dict(events[-1].payload) == {"shelter_id": SCHOOL, "evacuees": 95, "households": 40}
    assert events[-1].actor == "inabu1"
    # Another attempt to flush (a reload) sends nothing more.
    driver.refresh()
    WebDriverWait(driver, 30).until(
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1"
    )
    driver.execute_script("window.dispatchEvent(new Event('online'))")
    time.sleep(1)
    assert len(_events(store)) == 2
    state = store.state(store.live_incident().incident_id).shelter(SCHOOL)
    assert state.public_note == "駐車場は満車です。"  # untouched fields never change


def test_a_database_that_does_not_answer_shows_the_error_and_keeps_the_input(
    phone, screenshot
) -> None:
    _app, store, driver, base = phone
    _open_form(driver, base)
    _type(driver, "evacuees", "55")
    working = store.engine
    store.engine = create_engine(
        "sqlite:////nonexistent-dir/down.sqlite3"
        if store.dialect == "sqlite"
        else "postgresql+psycopg://nobody@127.0.0.1:1/down"
    )
    try:
        driver.find_element(By.ID, "send").click()
        _wait_text(driver, "net", SERVER_DOWN)
        screenshot(driver, "phone_server_down")
        assert driver.find_element(By.ID, "f-evacuees").get_attribute("value") == "55"
        assert "送信しました" not in driver.find_element(By.ID, "result").text
        assert len(_outbox(driver)) == 1
    finally:
        store.engine.dispose()
        store.engine = working
    driver.execute_script("window.dispatchEvent(new Event('online'))")
    _wait_text(driver, "result", "送信しました")
    assert [e.payload.get("evacuees") for e in _events(store)] == [80, 55]


def test_a_conflict_shows_only_the_field_both_changed_and_reapplies_only_mine(
    phone, screenshot
) -> None:
    _app, store, driver, base = phone
    _open_form(driver, base)
    # Meanwhile HQ changes evacuees and the public note on its desk.
    _append(store, "hq1", evacuees=90, public_note="徒歩でお越しください。")
    _type(driver, "evacuees", "82")
    _type(driver, "households", "30")
    driver.find_element(By.ID, "send").click()
    WebDriverWait(driver, 20).until(until.presence_of_element_located((By.ID, "reapply")))
    rows = driver.find_elements(By.CSS_SELECTOR, "table.conflict tbody tr[data-field]")
    assert [r.get_attribute("data-field") for r in rows] == ["evacuees"]
    row = rows[0].text
    assert "82" in row and "90" in row and "80" in row and "本部 花子" in row
    headings = driver.find_element(By.CSS_SELECTOR, "table.conflict thead").text
    assert "あなたの入力" in headings and "他の職員の入力" in headings and "元の値" in headings
    screenshot(driver, "phone_conflict_ja")
    assert len(_events(store)) == 2

    driver.find_element(By.ID, "reapply").click()
    _wait_text(driver, "result", "送信しました")
    events = _events(store)
    assert len(events) == 3
    assert dict(events[-1].payload) == {"shelter_id": SCHOOL, "evacuees": 82, "households": 30}
    state = store.state(store.live_incident().incident_id).shelter(SCHOOL)
    assert state.public_note == "徒歩でお越しください。"  # HQ's note was never re-sent


def test_implausible_counts_are_questioned_before_sending(phone) -> None:
    _app, store, driver, base = phone
    _open_form(driver, base)
    _type(driver, "households", "500")  # 500 households for 80 evacuees
    _type(driver, "capacity", "30")  # 80 evacuees for 30 places
    driver.find_element(By.ID, "send").click()
    questions = driver.find_element(By.ID, "questions")
    WebDriverWait(driver, 5).until(lambda d: questions.is_displayed())
    assert "世帯数（500）が避難者数（80）より多く" in questions.text
    assert "収容人数（30）の2倍を超えています" in questions.text
    assert len(_events(store)) == 1
    for box in questions.find_elements(By.CSS_SELECTOR, "input[type=checkbox]"):
        box.click()
    driver.find_element(By.ID, "send").click()
    _wait_text(driver, "result", "送信しました")
    assert dict(_events(store)[-1].payload) == {
        "shelter_id": SCHOOL,
        "households": 500,
        "capacity": 30,
    }
    # A negative count never leaves the phone and is named next to its field.
    _type(driver, "evacuees", "-5")
    driver.find_element(By.ID, "send").click()
    _wait_text(driver, "err-evacuees", "0以上の整数")
    assert "送信しました" not in driver.find_element(By.ID, "result").text
    assert len(_events(store)) == 2
