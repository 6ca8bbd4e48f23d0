"""Where the package's files are: one answer for a checkout and for an installed wheel.

The bundled data (``data/``: Nankoku's shelters, outline, cameras, scenarios) and the staff
pages' ``assets/`` are edited at the checkout's top level, where the README points. A wheel
carries copies of both inside the package, under ``disaster_dx/_bundle/`` (``setup.py`` copies
them at build time), because an installed package has no checkout around it. Everything else
(the public site, templates, the phone form) already lives inside the package.

Every code path that opens one of these files asks here, so a checkout, ``pip install -e .``
and ``pip install .`` find the same files.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Literal

#: The installed (or checked-out) ``disaster_dx`` package folder. The package is always
#: installed as files (never zipped): Dash serves ``assets/`` from a real folder.
PACKAGE_DIR = Path(str(files("disaster_dx")))
#: Where a wheel keeps the copies of the checkout's top-level folders.
BUNDLE_DIR = PACKAGE_DIR / "_bundle"

BundledFolder = Literal["data", "assets"]


def package_path(*parts: str) -> Path:
    """A file or folder inside the package (``package_path("public_site", "index.html")``)."""
    return PACKAGE_DIR.joinpath(*parts)


def bundled_dir(name: BundledFolder) -> Path:
    """The bundled ``data`` or ``assets`` folder: the wheel's copy, else the checkout's.

    Raises
    ------
    FileNotFoundError
        When neither exists (a wheel built without them): better than an empty city.
    """
    for candidate in (BUNDLE_DIR / name, PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"the bundled {name!r} folder is missing: looked in {BUNDLE_DIR / name} (installed) "
        f"and {PACKAGE_DIR.parent / name} (checkout); reinstall disaster_dx"
    )


#: Nankoku's data, the camera registry and the drill scenarios (``data/`` in the checkout).
DATA_DIR = bundled_dir("data")
#: The staff pages' CSS and small scripts, served by Dash (``assets/`` in the checkout).
ASSETS_DIR = bundled_dir("assets")
