"""The import contracts hold (pyproject ``[tool.importlinter]``): a violation fails the suite.

The core imports no Dash or Flask, ``layers/`` imports no web app, ``disaster_dx.io`` imports
neither plans nor the web app, and sibling packages and modules import each other one way only.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = ("core-no-ui", "layers-no-web", "io-no-plans", "no-cycles")
#: The ``lint-imports`` command, run by this interpreter (a venv's scripts may not be on PATH).
LINT_IMPORTS = "from importlinter.cli import lint_imports_command; lint_imports_command()"


def lint_imports(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` in ``cwd``, on the code there (this checkout's, not an installed one)."""
    path = os.pathsep.join([str(cwd), os.environ.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-c", LINT_IMPORTS, "--no-cache", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_every_import_contract_is_kept() -> None:
    done = lint_imports()
    assert done.returncode == 0, done.stdout + done.stderr
    for contract in CONTRACTS:  # each contract ran (none was dropped from the config)
        assert lint_imports("--contract", contract).returncode == 0, contract
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in done.stdout


def test_a_violation_breaks_the_contracts(tmp_path: Path) -> None:
    """The check can fail: a core module importing Dash is reported, named."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "pkg" / "core.py").write_text("import dash\n", encoding="utf-8")
    (tmp_path / "setup.cfg").write_text(
        "[importlinter]\nroot_package = pkg\ninclude_external_packages = True\n\n"
        "[importlinter:contract:core-no-ui]\nname = no UI\ntype = forbidden\n"
        "source_modules = pkg.core\nforbidden_modules = dash\n",
        encoding="utf-8",
    )
    done = lint_imports(cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "pkg.core is not allowed to import dash" in done.stdout
