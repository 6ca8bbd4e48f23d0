"""The shape of the code: the domain core never loads a UI library."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

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


def _imported(path: Path) -> set[str]:
    """Every module a file imports, at any depth (``from a import b`` counts as ``a.b`` too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _under(modules: set[str], *packages: str) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(f"{p}.") for p in packages))


DRILL_PAGES = ("disaster_dx.web.drills", "disaster_dx.web.drill_pages")


def test_drawing_a_camera_never_imports_drills() -> None:
    """Cameras need a camera's view of a drill (``cameras.scripted``), not the drill module."""
    files = [
        ROOT / "layers" / "cameras.py",
        ROOT / "disaster_dx" / "web" / "cameras_web.py",
        *sorted((ROOT / "disaster_dx" / "cameras").glob("*.py")),
    ]
    for path in files:
        wrong = _under(_imported(path), "disaster_dx.drills", *DRILL_PAGES)
        assert wrong == [], f"{path.relative_to(ROOT)} imports {wrong}"


def test_only_the_app_factory_imports_the_drill_pages() -> None:
    """Staff pages take the banner and the user's incident from ``web.user_incident``.

    The drill pages import the camera pages (replay shows the cameras), so a page below them
    importing them back would be an import cycle.
    """
    web = ROOT / "disaster_dx" / "web"
    drill_pages = {web / "drill_pages.py", *(web / "drills").rglob("*.py")}
    for path in sorted(web.rglob("*.py")):
        if path in drill_pages or path == web / "factory.py":
            continue
        wrong = _under(_imported(path), *DRILL_PAGES)
        assert wrong == [], f"{path.relative_to(ROOT)} imports {wrong}"
