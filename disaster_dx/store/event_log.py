"""The append-only event log: appends with version checks and merging, reads, state.

A mixin of :class:`~disaster_dx.store.Store`. Every append goes through
:meth:`EventLogMixin._append`: it locks the incident row (PostgreSQL ``SELECT … FOR UPDATE``;
SQLite's write lock), so ``seq`` is gap-free, and checks the versions its writer saw
(optimistic concurrency): a stale write raises :class:`~disaster_dx.errors.ConflictError`
with the newer values instead of overwriting them, or is merged field by field
(:func:`disaster_dx.merge.merge_batch`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from disaster_dx.errors import ConflictError, DisasterDxError, NotFoundError
from disaster_dx.events import (
    ROUTINE_TYPES,
    Event,
    NewEvent,
    State,
    fold,
    validate_payload,
    vars_of,
)
from disaster_dx.merge import MergedEvent, MergeOutcome, merge_batch
from disaster_dx.store.base import _JOINED_HOOKS, StoreBase
from disaster_dx.store.tables import event_from_row, events_table, incidents


class EventLogMixin(StoreBase):
    """Appending to and reading an incident's events, and its state (through the projection)."""

    def append(
        self,
        incident_id: str,
        new_events: Sequence[NewEvent],
        *,
        actor: str,
        expected: Mapping[str, int] | None = None,
    ) -> list[Event]:
        """Append events atomically, all or nothing.

        ``expected`` is a whole-subject check (any change since refuses the write); people's
        reports use :meth:`append_merging`, which refuses only fields both changed.

        Parameters
        ----------
        incident_id
            The incident the events belong to.
        new_events
            Events to append, in order; payloads are validated before anything is written.
        actor
            Who is writing (user name or ``system``/``import``/``drill``); kept on every event.
        expected
            Versions the writer saw, by subject (``{"shelter:<id>": 12}``). If any subject has
            changed since, nothing is written and :class:`ConflictError` carries the newer values.

        Raises
        ------
        PayloadError
            A payload is invalid (every problem listed, each naming its field).
        ConflictError
            A subject changed since the writer read it.
        NotFoundError
            The incident does not exist or is closed.
        """
        stored, _ = self._append(incident_id, new_events, actor=actor, expected=expected)
        return stored

    def append_merging(
        self,
        incident_id: str,
        new_events: Sequence[NewEvent],
        *,
        actor: str,
        bases: Mapping[str, int],
        skip_conflicting: bool = False,
    ) -> MergeOutcome:
        """Append people's changes made on older versions, merging them field by field.

        Each event carries only the fields its writer changed; ``bases[subject]`` is the version
        the writer saw. Inside the write transaction the subject's events after it are read
        (``ix_events_subject``) and :func:`disaster_dx.merge.merge_batch` merges fields only
        others changed (``merged``) and refuses fields both changed differently.

        Parameters
        ----------
        bases
            The version each subject had when its writer read it (``{"shelter:<id>": 12}``).
        skip_conflicting
            Leave out the events of conflicting subjects and append the rest
            (:attr:`MergeOutcome.skipped`) instead of refusing the whole batch.

        Raises
        ------
        ConflictError
            Without ``skip_conflicting``: a subject conflicts; nothing is written, ``fields``
            names the conflicting fields (empty for a base version newer than the subject) and
            ``actual`` is the newest version, the base to re-apply on.
        """
        stored, outcome = self._append(
            incident_id, new_events, actor=actor, bases=bases, skip_conflicting=skip_conflicting
        )
        return MergeOutcome(stored, outcome.merged, outcome.skipped)

    def _append(
        self,
        incident_id: str,
        new_events: Sequence[NewEvent],
        *,
        actor: str,
        expected: Mapping[str, int] | None = None,
        bases: Mapping[str, int] | None = None,
        skip_conflicting: bool = False,
    ) -> tuple[list[Event], MergeOutcome]:
        """The one write path: lock the incident, check versions, insert, tell listeners."""
        if not actor or not actor.strip():
            raise DisasterDxError("every write needs an actor (who made it)")
        if not new_events:
            return [], MergeOutcome([], {}, {})
        cleaned = [NewEvent(e.type, validate_payload(e.type, e.payload)) for e in new_events]
        with self._write() as conn:
            row = conn.execute(
                select(incidents.c.last_seq, incidents.c.last_at, incidents.c.closed_at)
                .where(incidents.c.incident_id == incident_id)
                .with_for_update()
            ).one_or_none()
            if row is None:
                raise NotFoundError(f"no incident {incident_id!r}")
            if row.closed_at is not None:
                raise NotFoundError(f"incident {incident_id!r} is closed and takes no new events")
            for subject, seen in (expected or {}).items():
                actual = self._subject_version(conn, incident_id, subject)
                if actual != seen:
                    current = self._subject_state(conn, incident_id, subject)
                    raise ConflictError(subject, seen, actual, current)
            outcome = MergeOutcome([], {}, {})
            if bases:

                def events_of(subject: str, after: int = 0, upto: int = -1) -> list[Event]:
                    return self._subject_events(conn, incident_id, subject, after, upto)

                cleaned = merge_batch(
                    cleaned,
                    bases,
                    outcome,
                    newer=lambda subject, base: events_of(subject, after=base),
                    upto=lambda subject, base: events_of(subject, upto=base),
                    version=lambda subject: self._subject_version(conn, incident_id, subject),
                    current=lambda subject: self._subject_state(conn, incident_id, subject),
                    skip=skip_conflicting,
                )
            # Times never run backwards within an incident, so "state at t" is a prefix.
            at = self.clock()
            if row.last_at is not None and at < row.last_at:
                at = row.last_at
            seq = row.last_seq
            stored: list[Event] = []
            if not cleaned:  # every subject was skipped as conflicting
                return stored, outcome
            for new in cleaned:
                seq += 1
                fields = (incident_id, seq, at, actor, new.type, new.payload, new.subject)
                merged = outcome.merged.get(new.subject or "", {})
                stored.append(MergedEvent(*fields, merged) if bases else Event(*fields))
            conn.execute(
                insert(events_table),
                [
                    {
                        "incident_id": e.incident_id,
                        "seq": e.seq,
                        "at": e.at,
                        "actor": e.actor,
                        "type": e.type,
                        "subject": e.subject,
                        "payload": dict(e.payload),
                    }
                    for e in stored
                ],
            )
            conn.execute(
                update(incidents)
                .where(incidents.c.incident_id == incident_id)
                .values(last_seq=seq, last_at=at)
            )
            for owner, hook in _JOINED_HOOKS.get():
                if owner is self:
                    hook(conn, stored)
        unit = self._open_transaction()
        if unit is not None:  # not committed yet: told when the transaction commits
            unit.appended.append((incident_id, stored))
        else:
            self._announce(incident_id, stored)
        return stored, outcome

    def _subject_events(
        self, conn: Connection, incident_id: str, subject: str, after: int = 0, upto: int = -1
    ) -> list[Event]:
        """One subject's events with ``after < seq <= upto`` (``upto=-1``: no bound), indexed."""
        query = (
            select(events_table)
            .where(
                events_table.c.incident_id == incident_id,
                events_table.c.subject == subject,
                events_table.c.seq > after,
            )
            .order_by(events_table.c.seq)
        )
        if upto >= 0:
            query = query.where(events_table.c.seq <= upto)
        return [event_from_row(r._mapping) for r in conn.execute(query)]

    def _subject_version(self, conn: Connection, incident_id: str, subject: str) -> int:
        version = conn.execute(
            select(func.max(events_table.c.seq)).where(
                events_table.c.incident_id == incident_id, events_table.c.subject == subject
            )
        ).scalar_one()
        return int(version or 0)

    def _subject_state(self, conn: Connection, incident_id: str, subject: str) -> dict[str, Any]:
        state = fold(self._subject_events(conn, incident_id, subject))
        kind, _, key = subject.partition(":")
        if kind == "shelter":
            return vars_of(state.shelter(key))
        if kind == "area" and key in state.areas:
            return vars_of(state.areas[key])
        return {}

    def events(
        self,
        incident_id: str,
        *,
        after_seq: int = 0,
        until: datetime | None = None,
        subject: str | None = None,
        limit: int | None = None,
        types: Collection[str] | None = None,
    ) -> list[Event]:
        """Events of an incident in ``seq`` order, optionally a window of them."""
        return list(
            self.iter_events(
                incident_id,
                after_seq=after_seq,
                until=until,
                subject=subject,
                limit=limit,
                types=types,
            )
        )

    def iter_events(
        self,
        incident_id: str,
        *,
        after_seq: int = 0,
        until: datetime | None = None,
        subject: str | None = None,
        limit: int | None = None,
        types: Collection[str] | None = None,
    ) -> Iterator[Event]:
        """Stream events (large incidents do not need to fit in memory twice).

        ``types`` keeps only events of those types (filtered in the database).
        """
        query = (
            select(events_table)
            .where(events_table.c.incident_id == incident_id, events_table.c.seq > after_seq)
            .order_by(events_table.c.seq)
        )
        if until is not None:
            query = query.where(events_table.c.at <= until)
        if subject is not None:
            query = query.where(events_table.c.subject == subject)
        if types is not None:
            query = query.where(events_table.c.type.in_(sorted(types)))
        if limit is not None:
            query = query.limit(limit)
        with self._read() as conn:
            for row in conn.execution_options(yield_per=2000).execute(query):
                yield event_from_row(row._mapping)

    def last_seq(self, incident_id: str, *, skip_routine: bool = False) -> int:
        """Cheap "has anything changed?" check for polling screens.

        With ``skip_routine``, the seq of the newest event that is not one of the
        :data:`~disaster_dx.events.ROUTINE_TYPES` (camera frames), so a board does not
        re-render every few seconds while cameras run. That reads the events index backwards
        from the end and stops at the first such event: cheap while routine events are few
        since the last real change (hundreds per hour).
        """
        with self._read() as conn:
            value = conn.execute(
                select(incidents.c.last_seq).where(incidents.c.incident_id == incident_id)
            ).scalar_one_or_none()
            if value is None:
                raise NotFoundError(f"no incident {incident_id!r}")
            if skip_routine and ROUTINE_TYPES and value:
                # ORDER BY … LIMIT 1 (not max()): both engines then walk the primary key
                # backwards and stop at the first match instead of scanning the incident.
                value = conn.execute(
                    select(events_table.c.seq)
                    .where(
                        events_table.c.incident_id == incident_id,
                        events_table.c.type.not_in(sorted(ROUTINE_TYPES)),
                    )
                    .order_by(events_table.c.seq.desc())
                    .limit(1)
                ).scalar_one_or_none()
        return int(value or 0)

    def last_seq_at(self, incident_id: str, moment: datetime) -> int:
        """The seq of the newest event at or before ``moment`` (0 if none): "state at t" bound.

        Walks the ``(incident_id, at)`` index backwards from ``moment`` and sorts only the
        events sharing that one instant (a batch); both engines plan it so with or without
        statistics (a ``max(seq)`` form let SQLite walk the primary key instead).
        """
        with self._read() as conn:
            value = conn.execute(
                select(events_table.c.seq)
                .where(events_table.c.incident_id == incident_id, events_table.c.at <= moment)
                .order_by(events_table.c.at.desc(), events_table.c.seq.desc())
                .limit(1)
            ).scalar_one_or_none()
        return int(value or 0)

    def last_event_at(self, incident_id: str, *, types: Collection[str]) -> datetime | None:
        """When the newest event of one of ``types`` happened (None if there is none).

        One ``ORDER BY seq DESC LIMIT 1`` per type, each a single step backwards on the
        ``(incident_id, type, seq)`` index; the newest of those answers. (One query with
        ``type IN (…)`` let PostgreSQL read every matching event of a week and sort them.)
        """
        if not types:
            return None
        newest = [
            select(events_table.c.at)
            .where(events_table.c.incident_id == incident_id, events_table.c.type == kind)
            .order_by(events_table.c.seq.desc())
            .limit(1)
            .subquery()
            for kind in sorted(types)
        ]
        with self._read() as conn:
            found = [conn.execute(select(sub.c.at)).scalar_one_or_none() for sub in newest]
        moments = [moment for moment in found if moment is not None]
        return max(moments) if moments else None

    def state(self, incident_id: str, *, until: datetime | None = None) -> State:
        """Incident state now, or at the instant ``until``: always ``fold(events up to t)``.

        Never re-folds the whole log: the state now is this process's cached fold advanced
        from its last ``seq``, and a past instant is the nearest snapshot plus its tail (see
        :mod:`disaster_dx.projection`).
        """
        return self.projection.at(incident_id, until)

    def state_after(self, incident_id: str, seq: int) -> State:
        """The state just after event ``seq`` ("before" values for the log, notifications)."""
        return self.projection.at_seq(incident_id, seq)
