"""Atomic writes: whole files only, with the mode set before the file appears."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from disaster_dx._files import write_atomic


@pytest.mark.parametrize("mode", [0o600, 0o644])
def test_atomic_write_replaces_whole_files_with_the_asked_mode(tmp_path: Path, mode: int) -> None:
    target = tmp_path / "deep" / "shelters.geojson"
    write_atomic(target, b"first", mode=mode)
    write_atomic(target, b"second version", mode=mode)
    assert target.read_bytes() == b"second version"
    assert stat.S_IMODE(target.stat().st_mode) == mode
    assert [p.name for p in target.parent.iterdir()] == ["shelters.geojson"]  # no temp left


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "board.csv"
    write_atomic(target, b"old")

    with pytest.raises(TypeError):
        write_atomic(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["board.csv"]
