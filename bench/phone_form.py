"""Benchmark the shelter phone form on a bad network: the light form (/m/) vs the Dash form.

DESIGN §6: staff on a congested mobile network or the city's satellite link. Budget: the form
and everything it loads ≤ 60 KB gzip, usable in < 3 s at 400 ms round trip and 50 KB/s.

Everything runs on 127.0.0.1 in a temporary folder and stops by itself:

1. a fresh SQLite database with the bundled shelters and one shelter-staff user; the app runs
   in a thread (werkzeug, threaded), compression on as in production;
2. for each form, ``--runs`` cold loads (default 3), each in a fresh headless Chromium (no
   HTTP cache, no service worker): log in unthrottled, then turn on Chromium's network
   emulation through the DevTools protocol (400 ms latency, 50 KB/s down and up, cache
   disabled) and open the form;
3. *time to usable*: from the navigation until the form can be used — the light form sets
   ``body[data-ready]`` once it is filled from the API; the Dash form when its fields are
   rendered and its first callback (the computed crowding) has answered, i.e. its callbacks
   are wired. *Bytes*: the sum of ``transferSize`` of the navigation and every resource
   (Resource Timing: bytes on the wire, headers included, after compression);
4. the Dash form once more with compression refused (``Accept-Encoding: identity``), as it
   was served before the app compressed staff responses.

(A repeat visit of the light form is answered by its service worker, whose own requests the
page's network emulation does not slow down, so it is not measured here.)

Prints the medians and the ratios Dash ÷ light. Needs ``chromium`` and ``chromedriver``.

Run: ``python bench/phone_form.py [--runs 3] [--latency-ms 400] [--kbps 50]``
"""

from __future__ import annotations

import argparse
import logging
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from disaster_dx import auth  # noqa: E402
from disaster_dx.config import Settings  # noqa: E402
from disaster_dx.web.context import EXTENSION_KEY  # noqa: E402
from disaster_dx.web.factory import create_app  # noqa: E402
from disaster_dx.web.phone import weight  # noqa: E402

SHELTER = "E3920400009111"  # 稲生ふれあい館
USER, PASSWORD = "bench-staff", "bench-password-0123"

TRANSFERRED = """
const entries = performance.getEntriesByType("navigation").concat(
    performance.getEntriesByType("resource"));
return entries.reduce((sum, e) => sum + (e.transferSize || 0), 0);
"""


def _browser() -> webdriver.Chrome:
    options = Options()
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary:
        options.binary_location = binary
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--window-size=360,740",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options)
    driver.set_page_load_timeout(120)
    return driver


def _login(driver: webdriver.Chrome, base: str) -> None:
    driver.get(f"{base}/login")
    driver.find_element(By.ID, "username").send_keys(USER)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login-submit").click()
    WebDriverWait(driver, 30).until(lambda d: "/login" not in d.current_url)
    driver.get("about:blank")


def _throttle(driver: webdriver.Chrome, latency_ms: float, kbps: float) -> None:
    rate = kbps * 1024
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    driver.execute_cdp_cmd(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": latency_ms,
            "downloadThroughput": rate,
            "uploadThroughput": rate,
        },
    )


def _light_ready(driver: webdriver.Chrome) -> bool:
    return driver.execute_script("return document.body && document.body.dataset.ready === '1'")


def _dash_ready(driver: webdriver.Chrome) -> bool:
    return driver.execute_script(
        "const c = document.getElementById('hq-form-crowding-computed');"
        "const s = document.getElementById('hq-form-submit');"
        "return !!(c && s && c.textContent.trim().length > 0);"
    )


def _measure(driver: webdriver.Chrome, url: str, ready: Any) -> tuple[float, int]:
    started = time.monotonic()
    driver.get(url)
    WebDriverWait(driver, 300, poll_frequency=0.05).until(ready)
    elapsed = time.monotonic() - started
    time.sleep(0.5)  # let late requests (service worker registration, polling) finish
    return elapsed, int(driver.execute_script(TRANSFERRED))


def _cold(
    base: str, path: str, ready: Any, args: argparse.Namespace, *, identity: bool = False
) -> tuple[float, int]:
    driver = _browser()
    try:
        _login(driver, base)
        _throttle(driver, args.latency_ms, args.kbps)
        if identity:
            driver.execute_cdp_cmd(
                "Network.setExtraHTTPHeaders", {"headers": {"Accept-Encoding": "identity"}}
            )
        return _measure(driver, base + path, ready)
    finally:
        driver.quit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=400)
    parser.add_argument("--kbps", type=float, default=50, help="KB/s down and up")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="dx-phone-bench-"))
    settings = Settings(
        database_url=f"sqlite:///{folder / 'bench.sqlite3'}",
        data_dir=folder / "var",
        public_dir=folder / "public",
        secret_key="bench-secret-" + "x" * 40,
    )
    app = create_app(settings)
    store = app.server.extensions[EXTENSION_KEY].store
    auth.add_user(
        store, USER, PASSWORD, {auth.Role.SHELTER_STAFF}, actor="bench", shelter_ids=[SHELTER]
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        forms = {
            "light /m/": (f"/m/shelter/{SHELTER}", _light_ready, False),
            "Dash /hq/shelter": (f"/hq/shelter/{SHELTER}", _dash_ready, False),
            "Dash, uncompressed": (f"/hq/shelter/{SHELTER}", _dash_ready, True),
        }
        results: dict[str, list[tuple[float, int]]] = {name: [] for name in forms}
        for _ in range(args.runs):
            for name, (path, ready, identity) in forms.items():
                results[name].append(_cold(base, path, ready, args, identity=identity))
    finally:
        server.shutdown()
        store.dispose()
        shutil.rmtree(folder, ignore_errors=True)

    files = weight()
    print(
        f"network: {args.latency_ms:.0f} ms latency, {args.kbps:.0f} KB/s; "
        f"{args.runs} cold runs each (median)"
    )
    print(
        f"light form files: {files['plain'] / 1024:.1f} KB, {files['gzip'] / 1024:.1f} KB gzip"
        " (page + script + style + icon; budget 60 KB gzip)"
    )
    medians = {}
    for name, runs in results.items():
        seconds = statistics.median(r[0] for r in runs)
        size = statistics.median(r[1] for r in runs)
        medians[name] = (seconds, size)
        print(f"{name:18} usable in {seconds:6.2f} s   {size / 1024:8.1f} KB over the wire")
    light = medians["light /m/"]
    for name in ("Dash /hq/shelter", "Dash, uncompressed"):
        dash = medians[name]
        print(
            f"ratio {name} / light: time {dash[0] / light[0]:.1f}x, bytes {dash[1] / light[1]:.1f}x"
        )


if __name__ == "__main__":
    main()
