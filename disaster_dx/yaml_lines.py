"""One YAML reader for every YAML file the app reads (camera registry, drill scenarios).

It returns plain Python data (for JSON Schema) together with the line and column of every
value and every mapping key, so each reader can say *where* a problem is.

The rules are YAML 1.2's core schema, not PyYAML's YAML 1.1, because 1.1 surprises people
writing these files by hand:

- ``9:00`` is the text "9:00", not the base-60 number 540; ``2025-04-01`` is text, not a date;
- only ``true``/``false`` (also ``True``, ``TRUE``, …) are booleans: ``yes``, ``no``, ``on``
  and ``off`` stay text (Norway's ``NO`` is not ``False``), and a schema asking for a boolean
  says so;
- numbers are decimal, ``0o17`` octal or ``0x1F`` hexadecimal, and ``.inf``/``.nan``; ``010``
  is ten, ``1_000`` is text;
- ``~``, ``null`` and an empty value are ``None``;
- quoted and block scalars are always text.

Aliases, deep nesting and huge documents are refused by :func:`disaster_dx._parsing.compose_yaml`
(the limits live there); a duplicate key is reported, never silently overwritten.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from disaster_dx._parsing import FileLimits, compose_yaml

#: A path into the data: mapping keys (text) and list positions (from 0).
Path = tuple[Any, ...]
#: A 1-based (line, column).
Mark = tuple[int, int]

_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_TRUE = re.compile(r"^(?:true|True|TRUE)$")
_FALSE = re.compile(r"^(?:false|False|FALSE)$")
_INT10 = re.compile(r"^[-+]?[0-9]+$")
_INT8 = re.compile(r"^0o[0-7]+$")
_INT16 = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_INF = re.compile(r"^([-+]?)\.(?:inf|Inf|INF)$")
_NAN = re.compile(r"^\.(?:nan|NaN|NAN)$")


def scalar_value(node: yaml.ScalarNode) -> Any:
    """The value of one scalar by YAML 1.2's core schema (plain scalars only are typed)."""
    text: str = node.value
    if node.style is not None:  # quoted, literal (|) or folded (>): always text
        return text
    if _NULL.match(text):
        return None
    if _TRUE.match(text):
        return True
    if _FALSE.match(text):
        return False
    if _INT10.match(text):
        return int(text)
    if _INT8.match(text):
        return int(text[2:], 8)
    if _INT16.match(text):
        return int(text[2:], 16)
    if _FLOAT.match(text):
        return float(text)
    if infinite := _INF.match(text):
        return float(f"{infinite.group(1)}inf")
    if _NAN.match(text):
        return float("nan")
    return text


@dataclass(frozen=True)
class KeyIssue:
    """A mapping key that was not kept: given twice, or not a plain scalar."""

    path: Path
    key: str
    mark: Mark
    #: ``"duplicate"`` (the first value is kept) or ``"not_text"`` (a list or mapping as key).
    kind: str
    #: For a duplicate: where the key was first given.
    first: Mark | None = None


@dataclass
class LocatedYaml:
    """A YAML document as plain data, with where each value and key was written."""

    data: Any
    values: dict[Path, Mark] = field(default_factory=dict)
    keys: dict[Path, Mark] = field(default_factory=dict)
    issues: list[KeyIssue] = field(default_factory=list)

    def of(self, path: Sequence[Any]) -> Mark:
        """Line and column of the value at ``path`` (or of its nearest parent that exists)."""
        here = tuple(path)
        while here not in self.values and here:
            here = here[:-1]
        return self.values.get(here, (1, 1))

    def key(self, path: Sequence[Any]) -> Mark:
        """Line and column of the key naming ``path`` (falls back to :meth:`of`)."""
        return self.keys.get(tuple(path)) or self.of(path)

    def near(self, path: Sequence[Any]) -> Mark:
        """The key of the deepest mapping entry on ``path`` (else its value): a problem's line.

        For ``("cameras", 0, "feed", "url")`` that is the line of ``url:``; for a list item
        it is the item itself.
        """
        here = tuple(path)
        while here:
            if here in self.keys:
                return self.keys[here]
            if here in self.values:
                return self.values[here]
            here = here[:-1]
        return self.values.get((), (1, 1))


def _mark(node: yaml.Node) -> Mark:
    return (int(node.start_mark.line) + 1, int(node.start_mark.column) + 1)


def load_yaml_lines(text: str, *, limits: FileLimits | None = None) -> LocatedYaml:
    """Read one YAML document as plain data with the position of every value and key.

    Mapping keys are text (``1:`` gives the key ``"1"``). A key given twice keeps its first
    value and is listed in :attr:`LocatedYaml.issues`, as is a list or mapping used as a key;
    each reader words these in its own language. The walk is iterative: depth is bounded
    by :func:`~disaster_dx._parsing.compose_yaml` before this sees the tree.

    Raises
    ------
    yaml.MarkedYAMLError
        A syntax error, or an alias, depth or size over the limits, with where it was.
    """
    root = compose_yaml(text, limits=limits)
    result = LocatedYaml(data=None)
    if root is None:
        return result
    result.values[()] = _mark(root)
    holder: list[Any] = [None]
    # (node, path, container, slot): build each value into container[slot].
    stack: list[tuple[yaml.Node, Path, Any, Any]] = [(root, (), holder, 0)]
    while stack:
        node, path, container, slot = stack.pop()
        if isinstance(node, yaml.MappingNode):
            mapping: dict[str, Any] = {}
            container[slot] = mapping
            pending = []
            for key_node, value_node in node.value:
                key_mark = _mark(key_node)
                if not isinstance(key_node, yaml.ScalarNode):
                    result.issues.append(KeyIssue(path, "?", key_mark, "not_text"))
                    continue
                key = str(key_node.value)
                child = (*path, key)
                if key in mapping:
                    result.issues.append(
                        KeyIssue(child, key, key_mark, "duplicate", first=result.keys[child])
                    )
                    continue
                mapping[key] = None
                result.keys[child] = key_mark
                result.values[child] = _mark(value_node)
                pending.append((value_node, child, mapping, key))
            stack.extend(reversed(pending))
        elif isinstance(node, yaml.SequenceNode):
            items: list[Any] = [None] * len(node.value)
            container[slot] = items
            for index in reversed(range(len(node.value))):
                item = node.value[index]
                result.values[(*path, index)] = _mark(item)
                stack.append((item, (*path, index), items, index))
        else:
            container[slot] = scalar_value(node)
    result.data = holder[0]
    return result
