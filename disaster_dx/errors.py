"""Errors raised by the domain core.

Every error a person can act on is a ``ValueError`` subclass defined here, so callers (CLI, web)
can catch one family and show its message. Validators collect *every* problem first and raise
once, each problem naming the bad value and where it was (field, row, feature, building id).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing wrong with some input, and where it was.

    Parameters
    ----------
    where
        The place in the input, e.g. ``"evacuees"``, ``"row 12"``, ``"feature 3 (共通ID E392…)"``.
    message
        What is wrong, in words a person can act on.
    """

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class DisasterDxError(ValueError):
    """Base class of all errors the project raises on purpose."""


class ValidationError(DisasterDxError):
    """Input was rejected; ``problems`` lists every reason, each naming its place."""

    def __init__(self, what: str, problems: Iterable[Problem]) -> None:
        self.what = what
        self.problems: tuple[Problem, ...] = tuple(problems)
        shown = "\n".join(f"  - {p}" for p in self.problems[:50])
        more = len(self.problems) - 50
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(f"{what}: {len(self.problems)} problem(s)\n{shown}{tail}")

    def by_field(self) -> dict[str, list[str]]:
        """Group messages by place, for showing each next to its form field."""
        grouped: dict[str, list[str]] = {}
        for problem in self.problems:
            grouped.setdefault(problem.where, []).append(problem.message)
        return grouped


class PayloadError(ValidationError):
    """An event payload does not match its schema; nothing was written."""


class ImportFileError(ValidationError):
    """A data file could not be imported; nothing was imported."""


@dataclass(frozen=True)
class FieldConflict:
    """One field two people changed differently: what the writer sent, what is stored, by whom.

    Parameters
    ----------
    field
        The payload field, e.g. ``"evacuees"``.
    mine
        The value this writer sent.
    theirs
        The value in the store now, set by someone else after the writer's base version.
    original
        The value at the writer's base version (what the writer saw before editing).
    by
        Login id of who set ``theirs``.
    at
        When they set it (UTC).
    """

    field: str
    mine: Any
    theirs: Any
    original: Any
    by: str
    at: datetime


class ConflictError(DisasterDxError):
    """A write was based on a stale version: someone else changed what it changes first.

    Parameters
    ----------
    subject
        What was being changed, e.g. ``shelter:<id>``.
    expected
        The version the writer saw.
    actual
        The version in the store now (re-apply with this as the base version).
    current
        The newer values, so the writer can compare and re-apply.
    fields
        The fields both changed, each with mine / theirs / original / by / at. Empty when the
        whole subject conflicts (a whole-subject version check, or a base version from the
        future).
    """

    def __init__(
        self,
        subject: str,
        expected: int,
        actual: int,
        current: Mapping[str, Any] | None = None,
        fields: Mapping[str, FieldConflict] | None = None,
    ) -> None:
        self.subject = subject
        self.expected = expected
        self.actual = actual
        self.current: dict[str, Any] = dict(current or {})
        self.fields: dict[str, FieldConflict] = dict(fields or {})
        which = f" ({', '.join(self.fields)})" if self.fields else ""
        super().__init__(
            f"{subject} was changed by someone else{which} (you saw version {expected}, "
            f"it is now version {actual}); review the newer values and apply again"
        )


class NotPermitted(DisasterDxError):
    """The user may not do this; the attempt was refused and audit-logged (the web: 403)."""


class NotFoundError(DisasterDxError):
    """A referenced thing (incident, shelter, user) does not exist."""


class ConfigError(DisasterDxError):
    """Settings are missing or unsafe (for example no SECRET_KEY in production)."""
