"""The public page's 「近くの避難所」 by walking distance, in headless Chromium (site/walk.js).

A road network with a river between the coast and the nearest tower: in a straight line the
tower is nearest, along the roads it is not. The page must rank by the walk, say so, and fall
back to straight lines (saying so) when the network file cannot be fetched.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from disaster_dx.events import NewEvent
from disaster_dx.plans import save_road_graph
from disaster_dx.routing import graph_from_arrays
from tests.test_public_browser import (
    COAST,
    _errors,
    _metres,
    _nearest,
    _open,
    _phone,
    _place_phone_at,
    _report,
    _start,
    _store,
)
from tests.test_walk_graph import page_distance, person_start

pytestmark = pytest.mark.browser

RIVER_LON = 133.659  # between the coast point (133.656) and 下田村タワー (133.662)
BRIDGE_LAT = 33.561  # the only crossing, far to the north


def river_town() -> Any:
    """A 150 m street grid over the coast south of the airport, cut by a river with one bridge."""
    lats = np.arange(33.536, 33.5625, 150 / 110_900)
    lons = np.arange(133.637, 133.671, 150 / 92_900)
    lon, lat, u, v = [], [], [], []
    for r, y in enumerate(lats):
        for c, x in enumerate(lons):
            lon.append(x)
            lat.append(y)
            k = r * len(lons) + c
            crosses = x < RIVER_LON <= x + 150 / 92_900
            if c + 1 < len(lons) and (not crosses or y >= BRIDGE_LAT):
                u.append(k)
                v.append(k + 1)
            if r + 1 < len(lats):
                u.append(k)
                v.append(k + len(lons))
    return graph_from_arrays(lon, lat, u, v)


def test_nearest_ranks_by_the_walk_along_roads_and_says_so(dash_duo, make_app, screenshot) -> None:
    app = make_app()
    store = _store(app)
    graph = river_town()
    save_road_graph(store, graph, actor="planner", source="roads_test.geojson")
    master = {s.shelter_id: s for s in store.shelters()}
    near = sorted(master, key=lambda i: _metres(COAST, (master[i].lat, master[i].lon)))[:15]
    for sid in near:
        _report(store, sid, open_state="open", evacuees=3)
    store.append(
        store.live_incident().incident_id,
        [NewEvent("hazard.announced", {"hazard": "tsunami", "title": "津波警報"})],
        actor="hq-test",
    )
    public = store_public_dir(app)
    doc_name = json.loads((public / "shelters.geojson").read_bytes())["walk_graph"]
    doc = json.loads((public / doc_name).read_bytes())

    # The answer in Python: the person joins the nearest edge point, as the page does.
    start = person_start(graph, COAST[1], COAST[0])
    usable = [i for i in near if "tsunami" in {h.value for h in master[i].hazards}]
    walked = sorted(
        (i for i in usable if i in doc["shelters"]), key=lambda i: page_distance(doc, start, i)
    )
    straight = sorted(usable, key=lambda i: _metres(COAST, (master[i].lat, master[i].lon)))
    assert walked[:3] != straight[:3]  # the river makes the walk differ: the test can fail

    base = _start(dash_duo, app)
    driver = dash_duo.driver
    _phone(driver)
    _place_phone_at(driver, base, COAST)
    _open(driver, f"{base}/?lang=ja")
    driver.find_element(By.ID, "dx-locate").click()
    WebDriverWait(driver, 20).until(
        lambda d: "道路に沿った道のり" in d.find_element(By.ID, "dx-nearest").text
    )
    assert _nearest(driver) == walked[:3]
    first = driver.find_element(By.CSS_SELECTOR, "#dx-nearest li .dx-distance").text
    metres = page_distance(doc, start, walked[0])
    expected = (
        f"約{max(10, round(metres / 10) * 10)}m"
        if metres < 1000
        else f"約{round(metres / 100) / 10:.1f}km"
    )
    assert first == expected
    driver.execute_script("document.querySelector('.dx-nearest').scrollIntoView()")
    screenshot(driver, "public_walk_nearest_ja_360x740")

    # English says which distance, too.
    _open(driver, f"{base}/?lang=en")
    driver.find_element(By.ID, "dx-locate").click()
    WebDriverWait(driver, 20).until(
        lambda d: "along the roads" in d.find_element(By.ID, "dx-nearest").text
    )
    assert _nearest(driver) == walked[:3]

    # Without the network file (a saved copy, a failed fetch): straight lines, said plainly.
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*walk-*.json"]})
    _open(driver, f"{base}/?lang=ja")
    driver.find_element(By.ID, "dx-locate").click()
    WebDriverWait(driver, 20).until(
        lambda d: "直線距離" in d.find_element(By.ID, "dx-nearest").text
    )
    assert _nearest(driver) == straight[:3]
    assert not [e for e in _errors(dash_duo.get_logs()) if doc_name not in e["message"]]


def store_public_dir(app: Any) -> Path:
    from disaster_dx.web.context import EXTENSION_KEY

    return Path(app.server.extensions[EXTENSION_KEY].settings.public_dir)


def test_far_from_every_road_the_page_says_it_measures_straight(dash_duo, make_app) -> None:
    app = make_app()
    store = _store(app)
    save_road_graph(store, river_town(), actor="planner", source="roads_test.geojson")
    master = list(store.shelters())
    for s in master[:20]:
        _report(store, s.shelter_id, open_state="open")
    far = (33.62, 133.70)  # in the hills, kilometres from the test grid
    assert math.isfinite(_metres(far, COAST))
    base = _start(dash_duo, app)
    driver = dash_duo.driver
    _place_phone_at(driver, base, far)
    _open(driver, f"{base}/?lang=ja")
    driver.find_element(By.ID, "dx-locate").click()
    WebDriverWait(driver, 20).until(
        lambda d: "近くに道路のデータがないため" in d.find_element(By.ID, "dx-nearest").text
    )
    assert _nearest(driver)
