"""The one YAML reader: YAML 1.2 scalars, every position kept, duplicates reported."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import yaml

from disaster_dx.yaml_lines import load_yaml_lines

ROOT = Path(__file__).resolve().parents[1]


def test_scalars_follow_yaml_1_2_not_1_1() -> None:
    doc = load_yaml_lines(
        "time: 9:00\nday: 2025-04-01\nyes_word: yes\nno_word: NO\non_word: on\n"
        "flag: true\nFlag: False\noctal_1_1: 010\noctal: 0o17\nhex: 0x1F\nunderscored: 1_000\n"
        "float: 1.5e3\ninf: -.inf\nnothing: ~\nempty:\nquoted: '1'\nblock: |\n  9:00\n"
    )
    assert doc.data == {
        "time": "9:00",  # YAML 1.1: 540
        "day": "2025-04-01",  # YAML 1.1: a date
        "yes_word": "yes",  # YAML 1.1: True
        "no_word": "NO",  # YAML 1.1: False (the Norway problem)
        "on_word": "on",
        "flag": True,
        "Flag": False,
        "octal_1_1": 10,  # YAML 1.1: 8
        "octal": 15,
        "hex": 31,
        "underscored": "1_000",  # YAML 1.1: 1000
        "float": 1500.0,
        "inf": -math.inf,
        "nothing": None,
        "empty": None,
        "quoted": "1",
        "block": "9:00\n",
    }
    assert math.isnan(load_yaml_lines("x: .nan").data["x"])


def test_every_value_and_key_keeps_its_line_and_column() -> None:
    doc = load_yaml_lines("top:\n  - a: 1\n    b: [x, {c: 2}]\n")
    assert doc.key(("top",)) == (1, 1)
    assert doc.of(("top", 0)) == (2, 5)
    assert doc.key(("top", 0, "b")) == (3, 5)
    assert doc.of(("top", 0, "b", 1, "c")) == (3, 16)
    assert doc.near(("top", 0, "b", 5)) == (3, 5)  # missing item: the nearest key
    assert doc.of(("nowhere",)) == (1, 1)


def test_duplicate_and_non_text_keys_are_reported_not_overwritten() -> None:
    doc = load_yaml_lines("a: 1\nb: 2\na: 3\n? [x]\n: 4\n1: one\n")
    assert doc.data == {"a": 1, "b": 2, "1": "one"}
    duplicate, not_text = doc.issues
    assert (duplicate.kind, duplicate.key, duplicate.mark, duplicate.first) == (
        "duplicate",
        "a",
        (3, 1),
        (1, 1),
    )
    assert not_text.kind == "not_text" and not_text.mark == (4, 3)


def test_aliases_and_syntax_errors_carry_their_line() -> None:
    with pytest.raises(yaml.MarkedYAMLError) as alias:
        load_yaml_lines("a: &x [1]\nb: *x\n")
    assert alias.value.problem_mark.line + 1 == 2 and "*x" in str(alias.value)
    with pytest.raises(yaml.MarkedYAMLError) as broken:
        load_yaml_lines("a: [1,\nb: 2\n")
    assert broken.value.problem_mark is not None
    assert load_yaml_lines("").data is None and load_yaml_lines("# only a comment\n").data is None


def test_deep_documents_are_walked_without_recursion() -> None:
    depth = 60  # under MAX_NESTING (64), far over what a recursive walk would like to see
    doc = load_yaml_lines("v: " + "[" * depth + "1" + "]" * depth)
    value = doc.data["v"]
    for _ in range(depth):
        value = value[0]
    assert value == 1


def test_every_yaml_file_is_read_by_this_module_only() -> None:
    # One reader for every YAML file: nobody else composes or loads YAML documents.
    pattern = re.compile(r"\b(?:safe_load|yaml\.load|yaml\.compose|compose_yaml)\b")
    allowed = {"disaster_dx/_parsing.py", "disaster_dx/yaml_lines.py"}
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("disaster_dx", "layers")
        for path in (ROOT / folder).rglob("*.py")
        if str(path.relative_to(ROOT)) not in allowed
        and pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
