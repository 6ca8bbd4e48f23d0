"""Registry and user strings reach the page only as text, in every script we ship.

Leaflet reads a *string* given to ``bindTooltip``/``bindPopup`` as HTML, and
``innerHTML``/``insertAdjacentHTML`` do the same: a camera name such as
``<img src=x onerror=…>`` in the registry would run on /hq. Every call must pass a DOM node
built with ``textContent`` (a variable), never a string expression.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(
    [
        *ROOT.glob("assets/*.js"),
        *ROOT.glob("disaster_dx/public_site/site/*.js"),
        *ROOT.glob("disaster_dx/web/phone_static/*.js"),
    ]
)
BIND = re.compile(r"\.(bindTooltip|bindPopup|setTooltipContent|setPopupContent)\(([^,)]*)")
HTML_SINKS = re.compile(r"\.innerHTML\s*=|insertAdjacentHTML|document\.write|outerHTML\s*=")


def test_scripts_are_found() -> None:
    assert len(SCRIPTS) >= 4, SCRIPTS


def test_leaflet_content_is_always_a_node_never_a_string() -> None:
    offenders = []
    for script in SCRIPTS:
        for number, line in enumerate(script.read_text(encoding="utf-8").splitlines(), 1):
            for match in BIND.finditer(line):
                argument = match.group(2).strip()
                if not re.fullmatch(r"[A-Za-z_$][\w$]*(\([\w$]*)?", argument):
                    offenders.append(f"{script.name}:{number}: {line.strip()}")
    assert offenders == []


def test_no_html_sinks() -> None:
    offenders = [
        f"{script.name}:{number}"
        for script in SCRIPTS
        for number, line in enumerate(script.read_text(encoding="utf-8").splitlines(), 1)
        if HTML_SINKS.search(line) and not line.strip().startswith(("//", "*"))
    ]
    assert offenders == []
