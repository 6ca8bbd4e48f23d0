"""The shape of the code: the domain core never loads a UI library."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import disaster_dx
from tests.common import ROOT

UI_MODULES = ("dash", "dash_leaflet", "folium", "flask", "flask_login")


def _core_modules() -> list[str]:
    names = []
    for module in pkgutil.walk_packages(disaster_dx.__path__, "disaster_dx."):
        if not module.name.startswith("disaster_dx.web"):
            names.append(module.name)
    return names


def test_core_imports_no_ui_module() -> None:
    modules = _core_modules()
    assert "disaster_dx.store" in modules and "disaster_dx.io.gsi" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"loaded = sorted(m for m in {UI_MODULES!r} if m in sys.modules)\n"
        "print(','.join(loaded))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"core loaded UI modules: {done.stdout.strip()}"


def test_the_check_would_notice_a_ui_import() -> None:
    code = "import disaster_dx.web.factory, sys; print('dash' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.stdout.strip() == "True", done.stderr
