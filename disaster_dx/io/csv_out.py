"""The one CSV writer for every CSV the project writes (public, board, exports, L-Alert, log).

Cities open these files in Excel. A cell a person typed (a shelter's public note, a name, a
reason) that starts with ``=``, ``+``, ``-`` or ``@`` — or a tab or carriage return, which
Excel skips before reading the rest as a formula — would run as a formula or become a live
link (``=HYPERLINK(…)``) in the city's spreadsheet, and any shelter-staff account can type one.
Every text cell therefore goes through :func:`safe_cell`, which puts an apostrophe in front
(Excel shows the text as typed and never evaluates it). Numbers the project computes are
written as numbers. Files are UTF-8 with a BOM and CRLF line ends, which Excel on Japanese
Windows opens correctly.

A CSV the project also *reads back* (the 要支援者 list, :mod:`disaster_dx.io.residents`) uses the
reversible pair :func:`guard_text` / :func:`unguard_text` instead, so a name or note typed as
``=1+2`` comes back exactly as typed after export and re-import.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

#: What makes a spreadsheet read a text cell as a formula (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A cell as written: blank for None, numbers as they are, text with the formula guard."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return value
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_START) else text


def guard_text(text: str) -> str:
    """The formula guard made reversible, for CSVs the project reads back.

    An apostrophe goes in front of a formula start *or* of text already starting with one.
    Guarding the apostrophe too is what makes :func:`unguard_text` exact: ``'=x`` typed by a
    person is written ``''=x`` and read back as ``'=x``, never confused with a guarded ``=x``.
    """
    return f"'{text}" if text.startswith((*FORMULA_START, "'")) else text


def unguard_text(text: str) -> str:
    """Inverse of :func:`guard_text`.

    One leading apostrophe is dropped when the next character is a formula start or an
    apostrophe (what the guard adds); any other text is unchanged, so a hand-made file's
    ``'Brien`` stays as typed.
    """
    if len(text) >= 2 and text[0] == "'" and text[1] in (*FORMULA_START, "'"):
        return text[1:]
    return text


def csv_document(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """A whole CSV file: the header (always, so an empty list never looks like a failure)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return buffer.getvalue().encode("utf-8-sig")
