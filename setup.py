"""Build hook: the wheel carries the checkout's ``data/`` and ``assets/`` inside the package.

Everything else about the build is in ``pyproject.toml``. The two folders stay at the top level
of the checkout (the README and the data's licences point there); an installed package has no
checkout around it, so ``build_py`` copies them to ``disaster_dx/_bundle/`` in the wheel, where
``disaster_dx._resources`` finds them. An editable install (``pip install -e .``) reads the
checkout's folders directly and copies nothing.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
#: Top-level folders that ship inside the package, as ``disaster_dx/_bundle/<name>``.
BUNDLED = ("data", "assets")


class BuildPyWithBundle(build_py):  # type: ignore[misc]
    """``build_py`` that also copies the bundled folders into the built package."""

    def run(self) -> None:
        """Build the packages, then add the bundled folders (not for editable installs)."""
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for name in BUNDLED:
            source = ROOT / name
            if not source.is_dir():
                raise SystemExit(f"cannot build disaster_dx: {source} is missing")
            target = Path(self.build_lib) / "disaster_dx" / "_bundle" / name
            self.copy_tree(str(source), str(target))


setup(cmdclass={"build_py": BuildPyWithBundle})
