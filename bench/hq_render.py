"""Benchmark the HQ page's first render in headless Chromium, with all layers on.

DESIGN §6 budget: HQ page first render < 2 s in headless Chromium with all layers on. Both
sides run in one process and one browser, on the same shelters, back to back:

- **HQ** ``/hq``: tiles, the map (139 shelters with their status labels, cameras and their
  view cones, the residents who cannot reach safety in time) and the board of 139 rows, then
  every overlay of the layer control switched on (the hazard overlays are tile layers that the
  browser fetches from the ハザードマップポータル; with no internet here they add their layer,
  not their pictures);
- **floor**: a bare Dash page with one ``dl.Map`` and the same shelter GeoJSON layer — what
  any Dash + dash-leaflet page costs before it shows anything of its own.

"Rendered" means: every element the user needs is in the DOM (every shelter on the map, as a
marker or counted in a cluster; the board's rows in view, as AG Grid draws only those; the
flagged residents' markers; each switched-on overlay's layer), timed from ``driver.get``
until that is true (polled every 10 ms). The first load of each page is a warm-up (browser
cache of the Dash bundles, the server's first imports), then ``--runs`` loads each,
alternating, and the median is printed with the ratio HQ / floor.

The plans data is the made-up demo district (サンプル・架空データ), with every tsunami shelter
open, so HQ's map has flagged residents to draw.

Run: ``python bench/hq_render.py [--runs 7]`` (needs Debian's chromium and chromium-driver).
"""

from __future__ import annotations

import argparse
import logging
import secrets
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import dash
import dash_leaflet as dl
from dash import html
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.common.by import By
from werkzeug.serving import make_server

from disaster_dx import auth
from disaster_dx.config import Settings
from disaster_dx.demo_district import load_demo_district
from disaster_dx.events import NewEvent
from disaster_dx.model import Hazard
from disaster_dx.web.context import EXTENSION_KEY
from disaster_dx.web.factory import ASSETS_DIR, create_app
from layers.shelters import shelter_features, shelter_layer

BUDGET_S = 2.0


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
    driver = webdriver.Chrome(options=options)
    driver.implicitly_wait(0)
    return driver


def _serve(app: Any) -> tuple[str, Any]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server


def _wait(driver: webdriver.Chrome, ready: Any, timeout: float = 30.0) -> None:
    deadline = time.perf_counter() + timeout
    while not ready(driver):
        if time.perf_counter() > deadline:
            raise TimeoutError("the page did not finish rendering in time")
        time.sleep(0.01)


def _count(driver: webdriver.Chrome, selector: str) -> int:
    return int(driver.execute_script(f"return document.querySelectorAll('{selector}').length"))


def _shelters_shown(driver: webdriver.Chrome, scope: str) -> int:
    """Shelters drawn under ``scope``: single markers plus the shelters each cluster counts."""
    return int(
        driver.execute_script(
            "const root = document.querySelector(arguments[0]); if (!root) { return 0; }"
            " let n = root.querySelectorAll('.dx-marker').length;"
            " root.querySelectorAll('.dx-cluster').forEach(function (c) {"
            "   n += Number(c.getAttribute('data-total')); });"
            " return n;",
            scope,
        )
    )


def _floor_app(features: dict[str, Any]) -> dash.Dash:
    app = dash.Dash(__name__, serve_locally=True, assets_folder=str(ASSETS_DIR))
    app.layout = html.Div(
        dl.Map(
            [
                dl.TileLayer(),
                shelter_layer(features, component_id="floor-shelters", lang="ja"),
            ],
            center=[33.57, 133.64],
            zoom=11,  # every shelter in view: clusters are drawn only for the view
            style={"height": "90vh"},
        )
    )
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request

    folder = Path(tempfile.mkdtemp(prefix="dx-bench-hq-"))
    settings = Settings(
        database_url=f"sqlite:///{folder / 'dx.sqlite'}",
        data_dir=folder / "var",
        public_dir=folder / "public",
        secret_key=secrets.token_hex(32),
    )
    app = create_app(settings)
    store = app.server.extensions[EXTENSION_KEY].store
    password = secrets.token_urlsafe(16)
    auth.add_user(store, "planner", password, {auth.Role.PLANNER}, actor="bench")
    auth.add_user(store, "hq", password, {auth.Role.HQ}, actor="bench")
    district = load_demo_district(store, auth.get_user(store, "planner"))
    live = store.live_incident().incident_id
    tsunami = [s.shelter_id for s in store.shelters() if s.suits(Hazard.TSUNAMI)]
    store.append(
        live,
        [NewEvent("shelter.status_reported", {"shelter_id": s, "open_state": "open"})
         for s in tsunami],
        actor="hq",
    )  # fmt: skip
    shelters = store.shelters()
    features = shelter_features(
        shelters, store.state(live), thresholds=settings.crowding, now=store.clock()
    )
    hq_url, hq_server = _serve(app.server)
    floor_url, floor_server = _serve(_floor_app(features).server)

    driver = _browser()
    try:
        driver.get(f"{hq_url}/login?next=/hq")
        driver.find_element(By.ID, "username").send_keys("hq")
        driver.find_element(By.ID, "password").send_keys(password)
        driver.find_element(By.ID, "login-submit").click()
        _wait(driver, lambda d: d.current_url.rstrip("/").endswith("/hq"))
        n_shelters = len(shelters)
        flagged_expected: list[int] = []

        def hq_ready(d: webdriver.Chrome) -> bool:
            return (
                _shelters_shown(d, "#hq-map") >= n_shelters and _count(d, "#hq-board .ag-row") > 0
            )

        def all_layers_on(d: webdriver.Chrome) -> int:
            boxes = d.find_elements(
                By.CSS_SELECTOR, ".leaflet-control-layers-overlays input[type=checkbox]"
            )
            for box in boxes:
                if not box.is_selected():
                    d.execute_script("arguments[0].click()", box)
            return len(boxes)

        def timed_hq() -> float:
            start = time.perf_counter()
            driver.get(f"{hq_url}/hq")
            _wait(driver, hq_ready)
            overlays = all_layers_on(driver)
            _wait(
                driver,
                lambda d: all(
                    b.is_selected()
                    for b in d.find_elements(
                        By.CSS_SELECTOR, ".leaflet-control-layers-overlays input[type=checkbox]"
                    )
                ),
            )
            assert overlays >= 5, overlays
            # The flagged residents' overlay is off while no 避難情報 is in force: on with
            # the others, its markers count as rendered once drawn.
            _wait(driver, lambda d: _count(d, ".plans-flagged-marker") == flagged_expected[0])
            return time.perf_counter() - start

        def timed_floor() -> float:
            start = time.perf_counter()
            driver.get(floor_url)
            _wait(driver, lambda d: _shelters_shown(d, "body") >= n_shelters)
            return time.perf_counter() - start

        # Warm-up, and learn how many flagged markers the HQ map must show.
        driver.get(f"{hq_url}/hq")
        _wait(driver, lambda d: _shelters_shown(d, "#hq-map") >= n_shelters)
        all_layers_on(driver)
        _wait(driver, lambda d: _count(d, ".plans-flagged-marker") > 0)
        time.sleep(0.5)
        flagged_expected.append(_count(driver, ".plans-flagged-marker"))
        timed_floor()
        hq_times, floor_times = [], []
        for _ in range(args.runs):
            hq_times.append(timed_hq())
            floor_times.append(timed_floor())
    finally:
        driver.quit()
        hq_server.shutdown()
        floor_server.shutdown()
        store.dispose()
        shutil.rmtree(folder, ignore_errors=True)

    hq_median = statistics.median(hq_times)
    floor_median = statistics.median(floor_times)
    print(
        f"HQ page: {n_shelters} shelters, {flagged_expected[0]} flagged residents of "
        f"{len(district.residents)} (synthetic demo district), all overlays on"
    )
    print(f"HQ first render:   median {hq_median * 1000:.0f} ms (max {max(hq_times) * 1000:.0f})")
    print(
        f"bare Dash map:     median {floor_median * 1000:.0f} ms "
        f"(max {max(floor_times) * 1000:.0f})"
    )
    print(f"HQ vs bare Dash map: {hq_median / floor_median:.2f}x")
    verdict = "within" if hq_median < BUDGET_S else "OVER"
    print(f"budget < {BUDGET_S:.0f} s: {verdict}")


if __name__ == "__main__":
    main()
