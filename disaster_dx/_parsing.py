"""Safe parsing limits shared by every reader of files and uploads (YAML, JSON, XML, CSV, GIS).

A small file can still cost a worker gigabytes: a 1.4 KB YAML alias bomb expands to millions of
nodes, and a few kilobytes of ``[[[[…`` make Python's recursive readers raise ``RecursionError``
(a traceback on the CLI, HTTP 500 on the web). So every reader here:

- refuses a file larger than its kind's limit *before* reading it (:func:`read_limited`);
- reads YAML without aliases (``*name``), with a nesting depth and a node-count limit
  (:func:`compose_yaml`); a refused alias or depth is a :class:`YamlLimitError`, which is a
  ``yaml.MarkedYAMLError`` carrying the line, so callers that already report YAML syntax errors
  with their line report these the same way;
- reads JSON with a nesting depth limit (:func:`load_json`);
- leaves XML to lxml's own limits (entities off, network off, libxml2's depth limit), which the
  readers catch as ``XMLSyntaxError`` with its line.

The limits are generous for real data (a PLATEAU CityGML tile is tens of MB, a city's road
GraphML a few hundred) and set through the environment (see :class:`FileLimits`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from disaster_dx.errors import ConfigError, ImportFileError, Problem

FileKind = Literal["yaml", "json", "csv", "xml", "gis"]
_MIB = 1024 * 1024


@dataclass(frozen=True)
class FileLimits:
    """Largest file per kind, deepest nesting and most YAML nodes a reader accepts.

    Environment variables (whole numbers): ``MAX_YAML_MB`` (default 2; scenarios and the camera
    registry are a few kB), ``MAX_JSON_MB`` (256; GeoJSON is read whole), ``MAX_CSV_MB`` (256),
    ``MAX_XML_MB`` (4096; CityGML and GraphML are streamed), ``MAX_GIS_MB`` (4096; GeoPackage
    and Shapefile read by GDAL), ``MAX_NESTING`` (64 levels of lists/mappings in YAML and JSON;
    GeoJSON needs 7) and ``MAX_YAML_NODES`` (200000).
    """

    yaml_bytes: int = 2 * _MIB
    json_bytes: int = 256 * _MIB
    csv_bytes: int = 256 * _MIB
    xml_bytes: int = 4096 * _MIB
    gis_bytes: int = 4096 * _MIB
    max_depth: int = 64
    yaml_nodes: int = 200_000

    def max_bytes(self, kind: FileKind) -> int:
        """The size limit of one kind of file."""
        limit: int = getattr(self, f"{kind}_bytes")
        return limit


_ENV = {
    "MAX_YAML_MB": ("yaml_bytes", _MIB),
    "MAX_JSON_MB": ("json_bytes", _MIB),
    "MAX_CSV_MB": ("csv_bytes", _MIB),
    "MAX_XML_MB": ("xml_bytes", _MIB),
    "MAX_GIS_MB": ("gis_bytes", _MIB),
    "MAX_NESTING": ("max_depth", 1),
    "MAX_YAML_NODES": ("yaml_nodes", 1),
}


def file_limits(environ: Mapping[str, str] | None = None) -> FileLimits:
    """The limits from ``environ`` (default ``os.environ``), read at each call.

    Read per call rather than once, so a test or an operator changing the environment is
    honoured without restarting; the cost is a few dictionary look-ups per file.

    Raises
    ------
    ConfigError
        If a variable is set but is not a positive whole number.
    """
    env = os.environ if environ is None else environ
    values: dict[str, int] = {}
    for variable, (name, unit) in _ENV.items():
        raw = env.get(variable, "").strip()
        if not raw:
            continue
        if not raw.isdigit() or int(raw) <= 0:
            raise ConfigError(f"{variable} must be a positive whole number, not {raw!r}")
        values[name] = int(raw) * unit
    return FileLimits(**values)


def _size_problem(name: str, size: int, limit: int, kind: FileKind) -> ImportFileError:
    variable = next(v for v, (field, _) in _ENV.items() if field == f"{kind}_bytes")
    return ImportFileError(
        name,
        [
            Problem(
                name,
                f"the file is {size:,} bytes, larger than the {limit:,} bytes allowed for "
                f"{kind.upper()} files (ファイルが大きすぎます); "
                f"raise {variable} if it is real data",
            )
        ],
    )


def check_size(path: Path, kind: FileKind, *, limits: FileLimits | None = None) -> int:
    """The file's size, or a located error when it is missing or over its kind's limit."""
    limit = (limits or file_limits()).max_bytes(kind)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ImportFileError(str(path), [Problem(path.name, "no such file")]) from None
    except OSError as exc:
        raise ImportFileError(
            str(path), [Problem(path.name, f"cannot be read: {exc.strerror}")]
        ) from None
    if size > limit:
        raise _size_problem(path.name, size, limit, kind)
    return size


def read_limited(path: Path, kind: FileKind, *, limits: FileLimits | None = None) -> bytes:
    """The file's bytes, refused with a located error when larger than its kind's limit.

    Reads at most limit + 1 bytes, so a file that grows after the size check (or a FIFO) is
    refused too instead of filling memory.
    """
    limit = (limits or file_limits()).max_bytes(kind)
    check_size(path, kind, limits=limits)
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise ImportFileError(
            str(path), [Problem(path.name, f"cannot be read: {exc.strerror}")]
        ) from None
    if len(data) > limit:
        raise _size_problem(path.name, len(data), limit, kind)
    return data


def check_bytes(
    data: bytes | str, name: str, kind: FileKind, *, limits: FileLimits | None = None
) -> None:
    """Refuse an upload (already in memory) larger than its kind's limit, before parsing it."""
    limit = (limits or file_limits()).max_bytes(kind)
    size = len(data.encode("utf-8")) if isinstance(data, str) else len(data)
    if size > limit:
        raise _size_problem(name, size, limit, kind)


# -- YAML -----------------------------------------------------------------------------------------


class YamlLimitError(yaml.MarkedYAMLError):  # type: ignore[misc]
    """A YAML document uses an alias, nests too deeply or has too many nodes (with its mark)."""


class YamlTextError(yaml.MarkedYAMLError):  # type: ignore[misc]
    """A character YAML does not allow (NUL, other control characters), with its mark.

    PyYAML reports these as a ``ReaderError`` carrying only an offset, which callers that
    handle ``MarkedYAMLError`` would miss (found by fuzzing: a NUL byte crashed the CLI).
    """


class _LimitedLoader(yaml.SafeLoader):  # type: ignore[misc]
    """PyYAML's safe loader, composing without aliases and within depth and node limits.

    PyYAML's scanner and parser are iterative; only the composer recurses, once per level,
    so counting here stops deep documents long before Python's recursion limit.
    """

    def __init__(self, stream: str, *, max_depth: int, max_nodes: int) -> None:
        super().__init__(stream)
        self.max_depth = max_depth
        self.max_nodes = max_nodes
        self.depth = 0
        self.nodes = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise YamlLimitError(
                problem=f"an alias (*{event.anchor}) is not allowed: write the value out in full "
                "(別名 * は使えません。値をそのまま書いてください)",
                problem_mark=event.start_mark,
            )
        self.nodes += 1
        if self.nodes > self.max_nodes:
            raise YamlLimitError(
                problem=f"more than {self.max_nodes:,} values in one document (項目が多すぎます)",
                problem_mark=event.start_mark,
            )
        self.depth += 1
        try:
            if self.depth > self.max_depth:
                raise YamlLimitError(
                    problem=f"nested more than {self.max_depth} levels deep (入れ子が深すぎます)",
                    problem_mark=event.start_mark,
                )
            node: yaml.Node = super().compose_node(parent, index)
            return node
        finally:
            self.depth -= 1


def compose_yaml(text: str, *, limits: FileLimits | None = None) -> yaml.Node | None:
    """The node tree of one YAML document (keeping every line), within the limits.

    Raises
    ------
    yaml.MarkedYAMLError
        A syntax error, or a :class:`YamlLimitError` (alias, depth, node count); both carry
        the mark of where it was.
    """
    limits = limits or file_limits()
    loader: _LimitedLoader | None = None
    try:
        # The reader checks every character when built, so building it is inside the try.
        loader = _LimitedLoader(text, max_depth=limits.max_depth, max_nodes=limits.yaml_nodes)
        node: yaml.Node | None = loader.get_single_node()
        return node
    except yaml.reader.ReaderError as exc:
        offset = min(int(exc.position), len(text))
        line = text.count("\n", 0, offset)
        column = offset - (text.rfind("\n", 0, offset) + 1)
        mark = yaml.Mark("<input>", offset, line, column, None, None)
        raise YamlTextError(
            problem=f"character {exc.character!r} is not allowed in YAML "
            "(使えない制御文字が含まれています)",
            problem_mark=mark,
        ) from None
    finally:
        if loader is not None:
            loader.dispose()


# -- JSON -----------------------------------------------------------------------------------------

_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.DOTALL)


def _too_deep_at(text: str, max_depth: int) -> tuple[int, int]:
    """Line and column where the nesting first goes deeper than ``max_depth`` (1-based)."""
    depth = 0
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > max_depth:
                start = match.start()
                line = text.count("\n", 0, start) + 1
                return line, start - (text.rfind("\n", 0, start) + 1) + 1
        elif token in "]}":
            depth -= 1
    return 1, 1


def nested_deeper_than(value: Any, max_depth: int) -> bool:
    """Whether parsed JSON nests deeper than ``max_depth`` (iterative, no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def load_json(text: str, name: str, *, limits: FileLimits | None = None) -> Any:
    """Parse JSON text, refusing syntax errors and deep nesting with the line where they are.

    Raises
    ------
    ImportFileError
        Bad JSON (line and column from the parser) or nesting deeper than
        :attr:`FileLimits.max_depth` (line and column where it goes too deep).
    """
    max_depth = (limits or file_limits()).max_depth
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFileError(
            name, [Problem(f"{name} line {exc.lineno} column {exc.colno}", f"bad JSON: {exc.msg}")]
        ) from None
    except RecursionError:
        document = None
        too_deep = True
    else:
        too_deep = isinstance(document, dict | list) and nested_deeper_than(document, max_depth)
    if too_deep:
        line, column = _too_deep_at(text, max_depth)
        raise ImportFileError(
            name,
            [
                Problem(
                    f"{name} line {line} column {column}",
                    f"nested more than {max_depth} levels deep (入れ子が深すぎます)",
                )
            ],
        )
    return document
