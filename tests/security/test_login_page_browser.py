"""The locked-out login page in a real browser: how long to wait and whom to call, ja and en.

Screenshots land in ``screenshots/`` (1366x768 and 360x740) for people to look at; axe-core
checks the page has no serious accessibility problem.
"""

from __future__ import annotations

from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as until
from selenium.webdriver.support.ui import WebDriverWait

from disaster_dx import auth
from disaster_dx.web.context import EXTENSION_KEY
from tests.conftest import add_staff_user
from tests.webtools import axe_violations, login_browser

SIZES = ((1366, 768), (360, 740))


def _try(driver: Any, url: str, username: str, password: str) -> str:
    driver.get(url)
    wait = WebDriverWait(driver, 10)
    wait.until(until.presence_of_element_located((By.ID, "username"))).clear()
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login-submit").click()
    wait.until(until.presence_of_element_located((By.CSS_SELECTOR, "[role=alert]")))
    return str(driver.find_element(By.CSS_SELECTOR, "main").text)


def test_locked_out_login_page(dash_duo: Any, make_app: Any, screenshot: Any) -> None:
    app = make_app()
    add_staff_user(app.server.extensions[EXTENSION_KEY].store, "hq1", "hq")
    dash_duo.start_server(app, navigate=False)
    driver = dash_duo.driver
    base = dash_duo.server.url
    for _ in range(auth.MAX_FAILURES_PER_ACCOUNT):
        assert "ユーザー名またはパスワードが違います" in _try(
            driver, f"{base}/login", "hq1", "wrong password"
        )
    for lang in ("ja", "en"):
        text = _try(driver, f"{base}/login?lang={lang}", "hq1", "wrong password")
        if lang == "ja":
            assert "ログインできません" in text and "システム管理者" in text
        else:
            assert "Too many failed attempts" in text and "system administrator" in text
        assert driver.find_element(By.ID, "login-help").is_displayed()
        for width, height in SIZES:
            driver.set_window_size(width, height)
            screenshot(driver, f"login-locked-{lang}-{width}x{height}")
        assert axe_violations(driver) == []


def test_ended_session_is_explained_on_the_login_page(
    dash_duo: Any, make_app: Any, screenshot: Any
) -> None:
    app = make_app()
    store = app.server.extensions[EXTENSION_KEY].store
    password = add_staff_user(store, "hq2", "hq")
    dash_duo.start_server(app, navigate=False)
    driver = dash_duo.driver
    driver.set_window_size(360, 740)
    login_browser(driver, dash_duo.server.url, "hq2", password, "/hq")
    auth.set_password(store, "hq2", "changed by the administrator", actor="chief")
    driver.get(f"{dash_duo.server.url}/hq")
    notice = WebDriverWait(driver, 10).until(
        until.presence_of_element_located((By.CSS_SELECTOR, "[role=status]"))
    )
    assert "ログインが終了しました" in notice.text
    screenshot(driver, "login-session-ended-ja-360x740")
