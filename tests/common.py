"""Small shared test helpers and paths."""

from __future__ import annotations

from pathlib import Path

#: The repository root.
ROOT = Path(__file__).resolve().parents[1]
#: ``../shared/data`` beside the checkout: real reference data, absent on a user's fresh clone.
SHARED_DATA = ROOT.parent / "shared" / "data"
