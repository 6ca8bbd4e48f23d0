"""docs/security.md points at tests that prove each "passed" row: those tests must exist."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)?(?:::(\w+))?`")


@cache
def _test_names(path: Path) -> frozenset[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return frozenset(
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    )


def test_every_test_the_checklist_cites_exists() -> None:
    missing: list[str] = []
    for number, line in enumerate((ROOT / "docs/security.md").read_text("utf-8").splitlines(), 1):
        current: str | None = None  # `::name` after a path names a test of that file
        for match in REFERENCE.finditer(line):
            path, name = match.groups()
            if path:
                current = path
                if not (ROOT / path).is_file():
                    missing.append(f"line {number}: {path}")
                    continue
            known = current and (ROOT / current).is_file()
            if name and known and name not in _test_names(ROOT / str(current)):
                missing.append(f"line {number}: {current}::{name}")
    assert missing == []
