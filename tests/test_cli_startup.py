"""The ``disaster-dx`` command starts without the heavy libraries (issue 15 item 8).

Each check runs in a fresh interpreter, where ``sys.modules`` shows what a real start imports
(this process has imported everything already). No timing is asserted: the machine's speed is
not the code's; ``bench/cli_startup.py`` measures the time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: This checkout's code first (a worktree's, not an installed copy's).
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}

#: Never imported to build the parser: the GIS stack, the web stack, XML, video.
HEAVY = ("geopandas", "pandas", "dash", "flask", "lxml", "av")
#: Not imported by ``--help`` either (the light database commands do need SQLAlchemy).
NOT_FOR_HELP = (*HEAVY, "shapely", "numpy", "scipy", "pyproj", "sqlalchemy", "alembic", "yaml")

PROBE = """
import json, sys
from disaster_dx.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def imported_by(*argv: str) -> tuple[int, set[str]]:
    """Run the CLI with ``argv`` in a new interpreter: its exit code and top-level modules."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        capture_output=True,
        text=True,
        env=ENV,
        check=False,
        timeout=120,
    )
    assert done.stdout, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    return int(result["code"] or 0), {name.split(".")[0] for name in result["modules"]}


def test_importing_the_cli_loads_no_heavy_library() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sys, disaster_dx.cli; print(json.dumps(sorted(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        env=ENV,
        check=True,
        timeout=120,
    )
    loaded = {name.split(".")[0] for name in json.loads(done.stdout)}
    assert "disaster_dx" in loaded
    assert not loaded & set(NOT_FOR_HELP)


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["import-buildings", "--help"], ["drill", "run", "--help"], ["serve", "--help"]],
)
def test_help_loads_no_heavy_library(argv: list[str]) -> None:
    code, loaded = imported_by(*argv)
    assert code == 0
    assert not loaded & set(NOT_FOR_HELP)


def test_light_database_commands_load_no_heavy_library(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'light.db'}"
    assert imported_by("--database-url", url, "db", "upgrade")[0] == 0
    for argv in (["db", "current"], ["db", "history"], ["user", "list"], ["token", "list"]):
        code, loaded = imported_by("--database-url", url, *argv)
        assert code == 0, argv
        assert "sqlalchemy" in loaded  # the probe saw the command's own imports
        assert not loaded & {*HEAVY, "shapely", "numpy", "scipy", "pyproj"}, argv


def test_a_heavy_command_still_finds_its_libraries(tmp_path: Path) -> None:
    """The probe can see a heavy import: ``import-buildings --dry-run`` reads with geopandas."""
    code, loaded = imported_by("import-buildings", "--dry-run", str(tmp_path / "missing.gpkg"))
    assert code == 1  # the file does not exist: refused with a message
    assert "geopandas" in loaded


def test_every_feature_module_adds_its_commands() -> None:
    """A module of ``disaster_dx.cli`` left out of ``FEATURES`` would add no command."""
    import pkgutil

    from disaster_dx import cli

    modules = {m.name for m in pkgutil.iter_modules(cli.__path__) if not m.name.startswith("_")}
    listed = [feature.__name__.rsplit(".", 1)[1] for feature in cli.FEATURES]
    assert sorted(listed) == sorted(modules)
    assert all(callable(feature.add_commands) for feature in cli.FEATURES)
