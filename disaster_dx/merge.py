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

from disaster_dx.errors import ConflictError, FieldConflict
from disaster_dx.events import Event, NewEvent

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


@dataclass(frozen=True)
class MergeOutcome:
    """What :meth:`~disaster_dx.store.Store.append_merging` wrote, merged and skipped.

    ``merged`` gives, per subject, the fields others changed after the writer's base version
    (kept as they left them); ``skipped`` the conflicting subjects left out of the batch.
    """

    events: list[Event]
    merged: dict[str, dict[str, MergedField]]
    skipped: dict[str, ConflictError]


Reader = Callable[[str, int], list[Event]]


def merge_batch(
    new_events: Sequence[NewEvent],
    bases: Mapping[str, int],
    outcome: MergeOutcome,
    *,
    newer: Reader,
    upto: Reader,
    version: Callable[[str], int],
    current: Callable[[str], Mapping[str, Any]],
    skip: bool,
) -> list[NewEvent]:
    """Check each based subject of a batch field by field; the events to write.

    The store calls this inside its write transaction with readers over the same connection:
    ``newer(subject, base)`` the subject's events after ``base``, ``upto(subject, base)`` those
    up to it (read only for a conflict), ``version(subject)`` its newest version and
    ``current(subject)`` its state (for the conflict message). Fills ``outcome.merged``; a
    conflict raises :class:`ConflictError`, or with ``skip`` lands in ``outcome.skipped`` and
    that subject's events are left out.
    """
    mine: dict[str, dict[str, Any]] = {}
    for new in new_events:
        if new.subject is not None and new.subject in bases:
            mine.setdefault(new.subject, {}).update(fields_of(new.payload))
    for subject, fields in mine.items():
        base = bases[subject]
        after = newer(subject, base)
        actual = after[-1].seq if after else version(subject)
        if base > actual:  # a version this subject never had: nothing to compare with
            conflict = ConflictError(subject, base, actual, current(subject))
        else:

            def original(subject: str = subject, base: int = base) -> dict[str, Any]:
                return values_at(subject, upto(subject, base))

            check = check_fields(subject, fields, after, original)
            if not check.conflicts:
                if check.merged:
                    outcome.merged[subject] = check.merged
                continue
            conflict = ConflictError(
                subject, base, actual, current(subject), fields=check.conflicts
            )
        if not skip:
            raise conflict
        outcome.skipped[subject] = conflict
    return [e for e in new_events if e.subject not in outcome.skipped]
