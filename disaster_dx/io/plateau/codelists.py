"""A PLATEAU dataset's own code lists (``codelists/*.xml``) and decoding coded attributes.

Every PLATEAU dataset ships a ``codelists/`` folder beside ``udx/``: one ``gml:Dictionary``
per coded attribute, named after the attribute (``TsunamiRiskAttribute_rankOrg.xml``,
``Building_usage.xml`` …), each ``gml:Definition`` pairing a code (``gml:name``) with its
meaning (``gml:description``). Some lists are national (usage, structure, rank); others are the
city's own (``rankOrg`` depth classes, river and scenario ``description``), so only the
dataset's list can decode them.

A coded element names its list in ``codeSpace`` (``../../codelists/X.xml``, relative to the
file); without one the list is ``<Element>_<field>``. :class:`Decoder` looks a code up in the
dataset's list, else in the embedded national table, and counts every code it could not
decode, by list, so the import report can say so: unknown stays unknown, never guessed.
"""

from __future__ import annotations

import posixpath
import zipfile
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lxml import etree

from disaster_dx.errors import ImportFileError, Problem

_GML_NAMES = ("{http://www.opengis.net/gml}", "{http://www.opengis.net/gml/3.2}")
_MAX_LIST_BYTES = 8 << 20


def _parse_dictionary(data: bytes, where: str) -> dict[str, str]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise ImportFileError(
            f"{where}: code list is not well-formed XML, nothing was imported",
            [Problem(f"{where} line {exc.lineno}", str(exc.msg))],
        ) from exc
    table: dict[str, str] = {}
    for element in root.iter("{*}Definition"):
        code = label = None
        for child in element:
            if not isinstance(child.tag, str):
                continue
            if child.tag in (f"{ns}name" for ns in _GML_NAMES) and code is None:
                code = (child.text or "").strip() or None
            elif child.tag in (f"{ns}description" for ns in _GML_NAMES) and label is None:
                label = (child.text or "").strip() or None
        if code is not None and label is not None:
            table.setdefault(code, label)
    return table


class CodeLists:
    """The code lists of one dataset, by list name (the file's stem).

    Parameters
    ----------
    tables
        ``{list name: {code: label}}``.
    origin
        Where they were read from, for the report (``None``: no code lists).
    """

    def __init__(self, tables: Mapping[str, Mapping[str, str]], origin: str | None) -> None:
        self._tables = {name: dict(table) for name, table in tables.items()}
        self.origin = origin

    def __len__(self) -> int:
        return len(self._tables)

    def __repr__(self) -> str:
        return f"CodeLists({len(self._tables)} lists from {self.origin})"

    def get(self, name: str) -> dict[str, str] | None:
        """The list called ``name``; i-UR 2.0's ``Building…`` prefix is optional either way."""
        table = self._tables.get(name)
        if table is None and "RiskAttribute_" in name:
            other = name[8:] if name.startswith("Building") else f"Building{name}"
            table = self._tables.get(other)
        return table

    @classmethod
    def from_dir(cls, folder: Path) -> CodeLists:
        """Every ``*.xml`` list in ``folder`` (a missing folder is an error naming it)."""
        if not folder.is_dir():
            raise ImportFileError(
                f"{folder}: code list folder not found, nothing was imported",
                [Problem(str(folder), "no such folder")],
            )
        tables = {}
        for path in sorted(folder.glob("*.xml")):
            size = path.stat().st_size
            if size > _MAX_LIST_BYTES:
                raise ImportFileError(
                    f"{path.name}: code list too large",
                    [Problem(path.name, f"{size:,} bytes, more than {_MAX_LIST_BYTES:,} allowed")],
                )
            tables[path.stem] = _parse_dictionary(path.read_bytes(), path.name)
        return cls(tables, str(folder))

    @classmethod
    def from_zip(cls, archive: zipfile.ZipFile, folder: str) -> CodeLists:
        """Every ``folder/*.xml`` member of ``archive`` (``folder`` ends without a slash)."""
        tables = {}
        for info in archive.infolist():
            name = info.filename
            if posixpath.dirname(name) != folder or not name.lower().endswith(".xml"):
                continue
            if info.file_size > _MAX_LIST_BYTES:
                raise ImportFileError(
                    f"{name}: code list too large",
                    [Problem(name, f"{info.file_size:,} bytes, more than {_MAX_LIST_BYTES:,}")],
                )
            with archive.open(info) as handle:
                data = handle.read(_MAX_LIST_BYTES + 1)
            stem = posixpath.splitext(posixpath.basename(name))[0]
            tables[stem] = _parse_dictionary(data, name)
        return cls(tables, f"{archive.filename}:{folder}")


#: No code lists: every code falls back to the national tables.
NO_CODELISTS = CodeLists({}, None)


_LIST_NAMES: dict[str, str] = {}


def list_name(elem: Any, default: str) -> str:
    """The code list a coded element names in ``codeSpace`` (its file stem), else ``default``."""
    space = elem.get("codeSpace")
    if not space:
        return default
    name = _LIST_NAMES.get(space)  # a dataset uses a few dozen codeSpace values, many times
    if name is None:
        base = space.replace("\\", "/").rsplit("/", 1)[-1]
        name = base[:-4] if base.lower().endswith(".xml") else base
        if len(_LIST_NAMES) < 10_000:
            _LIST_NAMES[space] = name
    return name or default


class Decoder:
    """Decodes coded values with one dataset's lists and counts what it could not decode."""

    def __init__(self, lists: CodeLists) -> None:
        self.lists = lists
        #: Codes not decoded, by list name.
        self.unknown: Counter[str] = Counter()
        #: Lists named by the data but absent from the dataset (and with no national table).
        self.missing: set[str] = set()
        self._tables: dict[str, dict[str, str] | None] = {}

    def table(self, name: str) -> dict[str, str] | None:
        """The dataset's list ``name`` (``None`` when absent), looked up once per name."""
        try:
            return self._tables[name]
        except KeyError:
            table = self._tables[name] = self.lists.get(name)
            return table

    def decode(
        self, code: str | None, name: str, national: Mapping[str, str] | None = None
    ) -> tuple[str | None, bool]:
        """``(label, from_dataset)`` of ``code`` in list ``name``; ``(None, False)`` if unknown.

        The dataset's list wins over the national table; a code that neither knows is counted
        in :attr:`unknown` (a list that is absent altogether also in :attr:`missing`).
        """
        if code is None:
            return None, False
        table = self.table(name)
        if table is not None:
            label = table.get(code)
            if label is None:
                self.unknown[name] += 1
            return label, label is not None
        if national is not None:
            label = national.get(code)
            if label is None:
                self.unknown[name] += 1
            return label, False
        self.unknown[name] += 1
        self.missing.add(name)
        return None, False
