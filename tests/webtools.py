"""Helpers for web tests: log in through the real form, call Dash callbacks by hand."""

from __future__ import annotations

import json
import re
from typing import Any

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
    wait.until(lambda d: d.current_url.rstrip("/").endswith(next_path))


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
