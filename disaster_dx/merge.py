"""Per-field merge: a write based on an older version keeps everyone's changes.

A person's write carries only the fields they changed and the version they saw (the *base*).
Fields that others changed since then merge silently; a field both changed, to different
values, is a conflict for that field only, and nothing of that write is stored. Re-applying is
the same write with the newest version as its base.

These are pure functions over events. The store runs them inside the append's write
transaction (so no other write can slip in between the check and the insert), reading only the
subject's events after the base from its index, and the events up to the base only when there
is a conflict to explain.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from disaster_dx.errors import FieldConflict
from disaster_dx.events import Event

#: Payload keys that name the subject or explain the write: never merged as fields.
NOT_FIELDS = frozenset({"shelter_id", "area", "reason"})

#: Payload-form values of a subject nobody has written yet, by subject kind (``shelter``,
#: ``area``). A field missing here was never set: ``None``.
_DEFAULTS: dict[str, dict[str, Any]] = {
    "shelter": {
        "open_state": "not_open",
        "needs": [],
        "urgent_needs": [],
        "other_needs": "",
        "public_note": "",
        "internal_note": "",
    },
    "area": {"note": ""},
}


@dataclass(frozen=True)
class MergedField:
    """A field someone else changed after the writer's base version, kept as they left it."""

    field: str
    value: Any
    by: str
    at: datetime


@dataclass(frozen=True)
class MergedEvent(Event):
    """A stored event, plus the fields of others merged in because the writer's base was older.

    ``merged`` is empty when nothing changed since the base. It is an :class:`Event`, so
    callers that only need ``seq`` and ``at`` use it as before.
    """

    merged: Mapping[str, MergedField] = field(default_factory=dict)


@dataclass(frozen=True)
class FieldCheck:
    """What a write based on an older version meets: fields merged, and fields in conflict."""

    merged: dict[str, MergedField]
    conflicts: dict[str, FieldConflict]


def fields_of(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The fields a payload changes (without the subject's id or a correction's reason)."""
    return {k: v for k, v in payload.items() if k not in NOT_FIELDS}


def values_at(subject: str, events: Iterable[Event]) -> dict[str, Any]:
    """The subject's field values in payload form after ``events`` (its own, in seq order).

    Payload form (codes, sorted lists) is what writers send, so values compare directly.
    """
    kind = subject.partition(":")[0]
    values = dict(_DEFAULTS.get(kind, {}))
    for event in events:
        values.update(fields_of(event.payload))
    return values


def check_fields(
    subject: str,
    mine: Mapping[str, Any],
    newer: Sequence[Event],
    original: Callable[[], Mapping[str, Any]],
) -> FieldCheck:
    """Compare a write's fields with the subject's events after the writer's base version.

    Parameters
    ----------
    subject
        The subject written, e.g. ``shelter:<id>``.
    mine
        The fields the writer changed (payload form).
    newer
        The subject's events after the base, in seq order.
    original
        Gives the subject's values at the base; called only when there is a conflict.
    """
    latest: dict[str, Event] = {}
    for event in newer:
        for name in fields_of(event.payload):
            latest[name] = event
    conflicting = [
        name for name in mine if name in latest and latest[name].payload[name] != mine[name]
    ]
    conflicts: dict[str, FieldConflict] = {}
    if conflicting:
        before = original()
        kind_defaults = _DEFAULTS.get(subject.partition(":")[0], {})
        for name in conflicting:
            setter = latest[name]
            conflicts[name] = FieldConflict(
                field=name,
                mine=mine[name],
                theirs=setter.payload[name],
                original=before.get(name, kind_defaults.get(name)),
                by=setter.actor,
                at=setter.at,
            )
    merged = {
        name: MergedField(name, event.payload[name], event.actor, event.at)
        for name, event in latest.items()
        if name not in mine
    }
    return FieldCheck(merged=merged, conflicts=conflicts)
