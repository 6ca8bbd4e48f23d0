"""Small lxml helpers shared by the PLATEAU reader modules."""

from __future__ import annotations

from typing import Any

_LOCAL_NAMES: dict[str, str] = {}


def local(tag: str) -> str:
    """``{namespace}name`` → ``name`` (cached: a file uses few distinct tags)."""
    name = _LOCAL_NAMES.get(tag)
    if name is None:
        name = tag[tag.find("}") + 1 :]
        if len(_LOCAL_NAMES) < 10_000:
            _LOCAL_NAMES[tag] = name
    return name


def text(elem: Any) -> str | None:
    """The element's stripped text; ``None`` when empty."""
    value = elem.text
    if value is None:
        return None
    value = value.strip()
    return value or None


def value_text(attribute: Any) -> str | None:
    """The text of a ``gen:*Attribute``'s ``gen:value``."""
    value = attribute.find("{*}value")
    return None if value is None else text(value)
