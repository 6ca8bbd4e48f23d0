"""Helpers for web tests: log in through the real form, call Dash callbacks by hand."""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any
from urllib.parse import urlsplit

from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as until
from selenium.webdriver.support.ui import WebDriverWait

from tests.common import ROOT

AXE = ROOT / "tests" / "vendor" / "axe-core" / "axe.min.js"


def login_client(client: Any, username: str, password: str) -> Any:
    """Log a Flask test client in through ``/login`` (with its CSRF token)."""
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": "/hq"},
    )


def login_browser(driver: Any, base_url: str, username: str, password: str, next_path: str) -> None:
    """Log a browser in through the login page and wait for ``next_path`` to load."""
    driver.get(f"{base_url}/login?next={next_path}")
    wait = WebDriverWait(driver, 10)
    wait.until(until.presence_of_element_located((By.ID, "username"))).send_keys(username)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login-submit").click()
    # Not on the login page any more: ``/login?next=/hq`` itself ends with ``/hq``, which let
    # the wait pass before the login was answered (and the next page load raced it).
    wait.until(lambda d: _arrived(d.current_url, next_path))


def _arrived(url: str, next_path: str) -> bool:
    """Whether the browser left the login page for ``next_path`` (query included)."""
    parts = urlsplit(url)
    here = parts.path + (f"?{parts.query}" if parts.query else "")
    return parts.path.rstrip("/") != "/login" and here.rstrip("/").endswith(next_path.rstrip("/"))


def callback_request(
    app: Any, output_id: str, values: dict[tuple[str, str], Any], triggered: str
) -> dict[str, Any]:
    """The JSON body the browser would send for the callback that outputs ``output_id``.

    ``values`` gives ``(component id, property) → value`` for inputs and state; anything not
    given is sent as ``None``. Pattern-matching inputs are sent as empty lists.
    """
    matching = [k for k in app.callback_map if f"{output_id}." in k]
    # Several callbacks may write one output (allow_duplicate): take the one ``triggered`` fires.
    fired = [
        k
        for k in matching
        if any(f"{i['id']}.{i['property']}" == triggered for i in app.callback_map[k]["inputs"])
    ]
    key = (fired or matching)[0]
    spec = app.callback_map[key]

    def items(group: list[dict[str, Any]]) -> list[Any]:
        out: list[Any] = []
        for item in group:
            if str(item["id"]).startswith("{"):
                out.append([])
                continue
            out.append({**item, "value": values.get((item["id"], item["property"]))})
        return out

    outputs = []
    for part in key.strip(".").split("..."):
        component, prop = part.split("@")[0].rsplit(".", 1)
        outputs.append({"id": component, "property": prop})
    return {
        "output": key,
        "outputs": outputs if len(outputs) > 1 else outputs[0],
        "inputs": items(spec["inputs"]),
        "state": items(spec["state"]),
        "changedPropIds": [triggered],
    }


def axe_violations(driver: Any) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations on the current page."""
    driver.set_script_timeout(60)
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    found = driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        axe.run(document, {resultTypes: ["violations"]}).then(function (result) {
            done(JSON.stringify(result.violations.map(function (v) {
                return {id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.slice(0, 5).map(function (n) {
                            return n.target.join(" ");
                        })};
            })));
        }).catch(function (error) { done(JSON.stringify([{id: "axe-error", impact: "critical",
                                                          help: String(error), nodes: []}])); });
        """
    )
    return [v for v in json.loads(found) if v["impact"] in ("serious", "critical")]


def map_counts(driver: Any, map_id: str) -> dict[str, int]:
    """Shelters a map shows, per open state and in total, over clusters and single markers.

    Clusters carry ``data-total`` and ``data-state-<state>`` (dx_map.js); single markers the
    class ``dx-state-<state>``.
    """
    counts: dict[str, int] = driver.execute_script(
        """
        const root = document.getElementById(arguments[0]);
        const out = {total: 0, clusters: 0, markers: 0};
        root.querySelectorAll('.dx-cluster').forEach(function (c) {
            out.total += Number(c.getAttribute('data-total'));
            out.clusters += 1;
            c.getAttributeNames().forEach(function (name) {
                if (name.indexOf('data-state-') === 0) {
                    const state = name.slice('data-state-'.length);
                    out[state] = (out[state] || 0) + Number(c.getAttribute(name));
                }
            });
        });
        root.querySelectorAll('.dx-marker').forEach(function (m) {
            const state = Array.from(m.classList).find(function (k) {
                return k.indexOf('dx-state-') === 0;
            }).slice('dx-state-'.length);
            out[state] = (out[state] || 0) + 1;
            out.total += 1;
            out.markers += 1;
        });
        return out;
        """,
        map_id,
    )
    return counts


def zoom_into_clusters(driver: Any, map_id: str, marker: str, *, cluster: str) -> Any:
    """Click the cluster matching ``cluster`` (a CSS selector) until ``marker`` is drawn.

    As a person does: a click on a cluster zooms to where it splits.
    """
    wait = WebDriverWait(driver, 5)
    for _ in range(8):
        found = driver.find_elements(By.CSS_SELECTOR, f"#{map_id} {marker}")
        if found:
            return found[0]
        target = wait.until(
            until.presence_of_element_located((By.CSS_SELECTOR, f"#{map_id} {cluster}"))
        )
        driver.execute_script("arguments[0].click()", target)
        # The layer redraws after the zoom (spiderfied in place: the next round looks again).
        with contextlib.suppress(TimeoutException):
            wait.until(until.staleness_of(target))
    raise AssertionError(f"{marker} never appeared after zooming into {cluster}")


def centre_on(driver: Any, map_id: str, element: Any) -> None:
    """Drag the map so ``element``'s point sits in its centre, as a person does before zooming.

    The zoom buttons zoom around the centre: a marker near the edge leaves the view after a
    few steps (where the map starts depends on the city's shelters).
    """
    from selenium.webdriver.common.action_chains import ActionChains

    offset = driver.execute_script(
        """
        // A marker's point is its symbol (the icon's anchor), not the middle of its label.
        const mark = arguments[0].querySelector(".dx-marker-symbol") || arguments[0];
        const box = mark.getBoundingClientRect();
        const map = document.getElementById(arguments[1]).getBoundingClientRect();
        return [Math.round(map.left + map.width / 2 - (box.left + box.width / 2)),
                Math.round(map.top + map.height / 2 - (box.top + box.height / 2))];
        """,
        element,
        map_id,
    )
    # From the map's centre (the map pane itself has no size), in small steps as a hand moves.
    container = driver.find_element(By.ID, map_id)
    steps = ActionChains(driver).move_to_element(container).click_and_hold()
    for _ in range(4):
        steps = steps.move_by_offset(offset[0] // 4, offset[1] // 4)
    steps.move_by_offset(offset[0] - 3 * (offset[0] // 4) - offset[0] // 4, 0)
    steps.move_by_offset(0, offset[1] - 4 * (offset[1] // 4)).release().perform()


def in_view(driver: Any, element: Any, container: Any | None = None, *, axis: str = "xy") -> bool:
    """Whether ``element`` lies inside ``container``'s box (default: the browser window).

    ``axis="y"`` checks top and bottom only (a table row wider than its scrolled viewport).
    """
    return bool(
        driver.execute_script(
            """
            const box = arguments[0].getBoundingClientRect();
            const outer = arguments[1] ? arguments[1].getBoundingClientRect()
                : {top: 0, left: 0, bottom: window.innerHeight, right: window.innerWidth};
            const fitsY = box.top >= outer.top - 1 && box.bottom <= outer.bottom + 1;
            const fitsX = box.left >= outer.left - 1 && box.right <= outer.right + 1;
            return box.height > 0 && fitsY && (arguments[2] === "y" || fitsX);
            """,
            element,
            container,
            axis,
        )
    )
