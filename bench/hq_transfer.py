"""Measure what ``/hq`` costs on the wire after login: every response's compressed bytes.

Issue #14's budget: ``/hq`` total transfer after login ≤ 1.5 MB (compressed). The app compresses
its answers (flask-compress, brotli or gzip), so the number that matters is what the browser
received, not the files' sizes on disk. Chromium reports that per request in its DevTools
protocol (``Network.loadingFinished.encodedDataLength``: headers and body as sent); this script
reads those events from Chromium's performance log and sums them for one cold load of ``/hq``
(empty cache, logged in), until the page has drawn its map and board, has been scrolled to the
bottom (a chart below the fold loads its code only when seen) and the network has been quiet
for two seconds. Tiles and the hazard overlays come from other hosts (not reachable
here, and not ours to shrink), so only requests to the app itself are counted; the others are
listed.

The page measured is whatever ``disaster_dx`` the interpreter imports, so the same script
measures another checkout: ``PYTHONPATH=/path/to/main python bench/hq_transfer.py``.

Run: ``python bench/hq_transfer.py [--top 12]`` (needs Debian's chromium and chromium-driver).
"""

from __future__ import annotations

import argparse
import json
import logging
import secrets
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.common.by import By
from werkzeug.serving import make_server

from disaster_dx import auth
from disaster_dx.config import Settings
from disaster_dx.web.context import EXTENSION_KEY
from disaster_dx.web.factory import create_app

BUDGET_BYTES = 1_500_000
QUIET_S = 2.0


def _browser() -> webdriver.Chrome:
    options = Options()
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary:
        options.binary_location = binary
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-dev-shm-usage",
        "--window-size=1366,768",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=options)
    driver.implicitly_wait(0)
    return driver


def _network_events(driver: webdriver.Chrome) -> list[dict[str, Any]]:
    """The DevTools Network events logged since the last call (reading empties the log)."""
    events = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method", "").startswith("Network."):
            events.append(message)
    return events


def _transfer(events: list[dict[str, Any]], origin: str) -> tuple[dict[str, int], list[str]]:
    """Encoded bytes per URL of ``origin`` (each finished request), and the other hosts' URLs."""
    urls: dict[str, str] = {}
    sizes: dict[str, int] = {}
    elsewhere = []
    for event in events:
        params = event["params"]
        if event["method"] == "Network.requestWillBeSent":
            urls[params["requestId"]] = params["request"]["url"]
        elif event["method"] == "Network.loadingFinished":
            url = urls.get(params["requestId"], "?")
            if not url.startswith(origin):
                elsewhere.append(url)
                continue
            path = url[len(origin) :]
            sizes[path] = sizes.get(path, 0) + int(params["encodedDataLength"])
    return sizes, elsewhere


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=12, help="list this many largest requests")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    folder = Path(tempfile.mkdtemp(prefix="dx-bench-transfer-"))
    settings = Settings(
        database_url=f"sqlite:///{folder / 'dx.sqlite'}",
        data_dir=folder / "var",
        public_dir=folder / "public",
        secret_key=secrets.token_hex(32),
    )
    app = create_app(settings)
    store = app.server.extensions[EXTENSION_KEY].store
    password = secrets.token_urlsafe(16)
    auth.add_user(store, "hq", password, {auth.Role.HQ}, actor="bench")
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_port}"

    driver = _browser()
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
        driver.get(f"{origin}/login?next=/hq")
        driver.find_element(By.ID, "username").send_keys("hq")
        driver.find_element(By.ID, "password").send_keys(password)
        _network_events(driver)  # the login page itself is not /hq's cost
        driver.find_element(By.ID, "login-submit").click()
        deadline = time.monotonic() + 60
        events: list[dict[str, Any]] = []
        quiet_since = time.monotonic()
        scrolled = False
        while time.monotonic() < deadline:
            fresh = _network_events(driver)
            events += fresh
            if fresh:
                quiet_since = time.monotonic()
            drawn = driver.execute_script(
                "return document.querySelectorAll('#hq-map .leaflet-marker-icon').length > 0"
                " && document.querySelector('#hq-board') !== null"
            )
            if drawn and not scrolled:
                # Parts below the fold (the chart) load their code when seen: look at all of it.
                driver.execute_script("window.scrollTo(0, document.body.scrollHeight)")
                scrolled, quiet_since = True, time.monotonic()
            elif drawn and time.monotonic() - quiet_since >= QUIET_S:
                break
            time.sleep(0.1)
        else:
            raise TimeoutError("/hq did not finish loading in 60 s")
    finally:
        driver.quit()
        server.shutdown()

    sizes, elsewhere = _transfer(events, origin)
    total = sum(sizes.values())
    print(f"/hq after login: {len(sizes)} requests to the app, {total / 1e6:.2f} MB transferred")
    for path, size in sorted(sizes.items(), key=lambda kv: -kv[1])[: args.top]:
        print(f"  {size / 1e3:8.1f} kB  {path[:110]}")
    if elsewhere:
        print(f"  (not counted: {len(elsewhere)} requests to other hosts, e.g. map tiles)")
    print(f"budget {BUDGET_BYTES / 1e6:.1f} MB: ratio {total / BUDGET_BYTES:.2f}", end=" ")
    print("— within budget" if total <= BUDGET_BYTES else "— OVER budget")


if __name__ == "__main__":
    main()
