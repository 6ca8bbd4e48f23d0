"""File helpers shared by importers and writers: UTF-8 decoding, atomic writes."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from disaster_dx.errors import ImportFileError, Problem


def write_atomic(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Write via a temp file + rename, so readers (or a web server) never see half a file.

    ``mode`` is set *before* the file appears under its name: ``0o600`` (the default) for
    what only this app reads (camera frames), ``0o644`` for files others must open (the
    public snapshot that nginx serves as another user, exports handed to people).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def decode_utf8(raw: bytes, name: str) -> str:
    """UTF-8 text (BOM optional); anything else is refused with the likely encoding named.

    Japanese CSVs saved by Excel are often Shift_JIS; guessing silently could corrupt names, so
    the importer says what it found and how to re-save the file instead.
    """
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        guess = ""
        for encoding, label in (("cp932", "Shift_JIS (CP932)"), ("euc_jp", "EUC-JP")):
            try:
                raw.decode(encoding)
            except UnicodeDecodeError:
                continue
            guess = f"; it looks like {label}"
            break
        raise ImportFileError(
            name,
            [
                Problem(
                    f"{name} line {line}",
                    f"not UTF-8 text{guess}. Save the file as UTF-8 "
                    "(Excel: 「CSV UTF-8（コンマ区切り）」) and import it again",
                )
            ],
        ) from None
