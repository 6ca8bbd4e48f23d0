"""One page of the event log, read from the database (``/hq/log``): never the whole log.

:mod:`disaster_dx.eventlog` turns events into audit rows by folding the log from its first
event, which is right for the CSV export but would make the screen cost as much as the
disaster is long. :func:`log_page` gives the same rows a page at a time:

- the page's events by keyset queries on ``seq``, every filter in SQL and served by an index
  (the primary key, ``(incident_id, subject, seq)``, ``(incident_id, actor, seq)``,
  ``(incident_id, type, seq)``; a time range becomes a seq range);
- each row's "before" from the state just before the page
  (:meth:`~disaster_dx.store.Store.state_after`: a snapshot plus a short tail) carried
  forward by the events about the row's subject in between;
- a count that stops at :data:`COUNT_CAP`.

The rows equal the corresponding rows of :func:`~disaster_dx.eventlog.log_rows` over the whole
log with the same filter (property-tested on both engines). HQ only, like the rows themselves.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select, true
from sqlalchemy.engine import Connection

# One feature split in two modules for size: the paging uses the row builders of eventlog.
from disaster_dx.eventlog import (
    _HAZARD_TYPES,
    Change,
    LogRow,
    SubjectKey,
    _hazard_change,
    _row,
    _subject_key,
    _SubjectFolder,
)
from disaster_dx.events import ROUTINE_TYPES, Event, State
from disaster_dx.model import Shelter
from disaster_dx.store import Store, event_from_row, events_table, subject_for_shelter

log = logging.getLogger(__name__)

#: Rows per page of ``/hq/log``.
PAGE_ROWS = 100
#: The count line counts up to this many rows, then says "more than". An exact count of a
#: week-long log reads every row (60–100 ms at 500k events on either engine, growing with
#: the log); this reads at most this many rows (≈ 5 ms on SQLite).
COUNT_CAP = 1_000
#: Under a user or type filter, a page whose rows span at most this many events of the log
#: reads every event about its subjects in that span in one query (one round trip instead of
#: one per subject).
PAGE_SPAN_READ = 2_000
#: "Before" values under a user or type filter follow each row's subject from row to row
#: by its own events (the subject index), read this many at a time. A chunk without a row
#: means the next row is far (a user's rows may be days apart): the subject then restarts
#: from the newest state snapshot before that row instead of reading on.
SUBJECT_CHUNK = 50
#: With no snapshot to restart from, at most about this many events about one subject are
#: read towards its next row before it restarts from :meth:`Store.state_after` that row. So
#: the events a page reads are bounded by its rows, never by the length of the log.
SUBJECT_BATCH = 500


@dataclass(frozen=True)
class LogFilter:
    """Which events of one incident the log shows; every field given must hold.

    The same choices as the keyword arguments of :func:`log_rows`, which the CSV export uses.
    """

    shelter_id: str | None = None
    actor: str | None = None
    types: frozenset[str] | None = None
    since: datetime | None = None
    until: datetime | None = None
    skip_routine: bool = False

    @property
    def leaves_gaps(self) -> bool:
        """Whether events about a shown subject may fall between the rows (user or type filter).

        Without one, the rows of a page are every event about their subjects within the page
        (routine events, which ``skip_routine`` leaves out, change no subject), so each row's
        "before" follows from the state before the page and the page's own earlier rows.
        """
        return self.actor is not None or self.types is not None


@dataclass(frozen=True)
class LogPage:
    """One page of the log, newest row first, with the cursors of its neighbours.

    ``older`` is the ``before_seq`` of the next older page and ``newer`` the ``after_seq`` of
    the next newer one (``None``: there is none). ``count`` is how many rows the filter has,
    counted up to :data:`COUNT_CAP`; ``count_exact`` is false when there are more.
    """

    rows: tuple[LogRow, ...]
    older: int | None
    newer: int | None
    count: int
    count_exact: bool


def log_page(
    store: Store,
    incident_id: str,
    shelters_by_id: Mapping[str, Shelter],
    where: LogFilter | None = None,
    *,
    before_seq: int | None = None,
    after_seq: int | None = None,
    size: int = PAGE_ROWS,
    lang: str = "ja",
) -> LogPage:
    """One page of an incident's log, read from the database without reading the whole log.

    The newest page by default; ``before_seq`` gives the rows just older than that ``seq``
    and ``after_seq`` those just newer (the newest page once fewer than a page are newer, or
    when a cursor finds nothing). Rows are found with keyset queries on ``seq`` with every
    filter in SQL, each served by an index: the primary key, ``(incident_id, subject, seq)``,
    ``(incident_id, actor, seq)`` or ``(incident_id, type, seq)``. "Before" values come from
    :meth:`~disaster_dx.store.Store.state_after` the page's first row plus the events about
    each row's subject up to it (see :data:`SUBJECT_BATCH`).

    The rows equal the corresponding rows of :func:`log_rows` over the whole log with the
    same filter (property-tested on both engines). HQ only, like :func:`log_rows`.

    Raises
    ------
    ValueError
        Both cursors at once, or a page size below 1.
    """
    if before_seq is not None and after_seq is not None:
        raise ValueError("give before_seq or after_seq, not both")
    if size < 1:
        raise ValueError(f"a page has at least one row, not {size}")
    where = where or LogFilter()
    with store.engine.connect() as conn:
        query = _LogQuery(conn, incident_id, where)
        events, older_left, newer_left = _page_events(query, before_seq, after_seq, size)
        changes = _PageChanges(store, query, events, lang).changes() if events else {}
        count = query.count(COUNT_CAP)
    log.debug("event log page of %s: %d rows, %d+ matching", incident_id, len(events), count)
    rows = tuple(
        _row(e, _subject_key(e), changes.get(e.seq, ()), shelters_by_id, lang)
        for e in reversed(events)
    )
    return LogPage(
        rows=rows,
        older=events[0].seq if older_left and events else None,
        newer=events[-1].seq if newer_left and events else None,
        count=min(count, COUNT_CAP),
        count_exact=count <= COUNT_CAP,
    )


def _page_events(
    query: _LogQuery, before_seq: int | None, after_seq: int | None, size: int
) -> tuple[list[Event], bool, bool]:
    """The page's events oldest first, and whether older and newer rows are left."""
    if after_seq is not None:
        found = query.events(after=after_seq, limit=size + 1)  # oldest first
        if len(found) > size:
            events = found[:size]
            return events, query.exists(before=events[0].seq), True
        before_seq = None  # fewer than a page are newer: show the newest page, full
    found = query.events(before=before_seq, limit=size + 1)  # newest first
    if not found and before_seq is not None:
        before_seq = None  # a cursor past the end (the filter changed): the newest page
        found = query.events(limit=size + 1)
    events = found[:size][::-1]
    newer_left = before_seq is not None and bool(events) and query.exists(after=events[-1].seq)
    return events, len(found) > size, newer_left


class _LogQuery:
    """The SQL of one page: the filter as conditions, seq bounds for the time range, cursors."""

    def __init__(self, conn: Connection, incident_id: str, where: LogFilter) -> None:
        self.conn = conn
        self.incident_id = incident_id
        self.where = where
        table = events_table
        self.conditions: list[ColumnElement[bool]] = [table.c.incident_id == incident_id]
        if where.actor is not None:
            self.conditions.append(table.c.actor == where.actor)
        if where.shelter_id is not None:
            self.conditions.append(table.c.subject == subject_for_shelter(where.shelter_id))
        self.empty = False
        # ``at`` never runs backwards within an incident, so a time range is a seq range:
        # turn it into one, so every query walks an index in seq order.
        if where.since is not None:
            first = conn.execute(
                select(table.c.seq)
                .where(table.c.incident_id == incident_id, table.c.at >= where.since)
                .order_by(table.c.at, table.c.seq)
                .limit(1)
            ).scalar_one_or_none()
            self.empty |= first is None
            self.conditions.append(table.c.seq >= (first or 0))
        if where.until is not None:
            last = conn.execute(
                select(table.c.seq)
                .where(table.c.incident_id == incident_id, table.c.at <= where.until)
                .order_by(table.c.at.desc(), table.c.seq.desc())
                .limit(1)
            ).scalar_one_or_none()
            self.empty |= last is None
            self.conditions.append(table.c.seq <= (last or 0))
        # One query per wanted type, merged in Python: each then walks ``(incident_id, type,
        # seq)`` and stops at its LIMIT (an IN list would make both engines read every match
        # and sort).
        self.variants: list[ColumnElement[bool]]
        if where.types is not None:
            types = where.types - ROUTINE_TYPES if where.skip_routine else where.types
            self.variants = [table.c.type == t for t in sorted(types)]
        elif where.skip_routine and ROUTINE_TYPES:
            self.variants = [table.c.type.not_in(sorted(ROUTINE_TYPES))]
        else:
            self.variants = [true()]

    def events(
        self, *, before: int | None = None, after: int | None = None, limit: int
    ) -> list[Event]:
        """Up to ``limit`` matching events: newest first below ``before``, else oldest first."""
        if self.empty:
            return []
        seq = events_table.c.seq
        newest_first = after is None
        found: list[list[Event]] = []
        for variant in self.variants:
            query = (
                select(events_table)
                .where(*self.conditions, variant)
                .order_by(seq.desc() if newest_first else seq)
                .limit(limit)
            )
            if before is not None:
                query = query.where(seq < before)
            if after is not None:
                query = query.where(seq > after)
            found.append([event_from_row(r._mapping) for r in self.conn.execute(query)])
        if len(found) == 1:
            return found[0]
        merged = heapq.merge(*found, key=lambda e: e.seq, reverse=newest_first)
        return list(itertools.islice(merged, limit))

    def exists(self, *, before: int | None = None, after: int | None = None) -> bool:
        """Whether any matching event lies below ``before`` or above ``after``."""
        return bool(self.events(before=before, after=after, limit=1))

    def count(self, cap: int) -> int:
        """How many events match, counting at most ``cap + 1`` of them."""
        if self.empty:
            return 0
        total = 0
        for variant in self.variants:
            # Newest first, like the page: without an order SQLite may walk the covering
            # type index, where every camera frame sorts before the rows being counted.
            inner = (
                select(events_table.c.seq)
                .where(*self.conditions, variant)
                .order_by(events_table.c.seq.desc())
                .limit(cap + 1)
            ).subquery()
            total += int(self.conn.execute(select(func.count()).select_from(inner)).scalar_one())
            if total > cap:
                break
        return total

    def between(
        self, subjects: list[SubjectKey], warnings: bool, after: int, upto: int
    ) -> list[Event]:
        """Every event about these subjects (and warnings, if asked) in ``(after, upto]``.

        Bounded by the seq range, which callers keep short (:data:`PAGE_SPAN_READ`).
        """
        table = events_table
        about: list[ColumnElement[bool]] = []
        if subjects:
            about.append(table.c.subject.in_(sorted(f"{k}:{n}" for k, n in subjects)))
        if warnings:
            about.append(table.c.type.in_(_HAZARD_TYPES))
        if not about:
            return []
        query = (
            select(table)
            .where(
                table.c.incident_id == self.incident_id,
                table.c.seq > after,
                table.c.seq <= upto,
                or_(*about),
            )
            .order_by(table.c.seq)
        )
        return [event_from_row(r._mapping) for r in self.conn.execute(query)]

    def about(self, subject: SubjectKey, after: int, upto: int, limit: int) -> list[Event]:
        """Up to ``limit`` events about one shelter or area in ``(after, upto]``, oldest first."""
        seq = events_table.c.seq
        query = (
            select(events_table)
            .where(
                events_table.c.incident_id == self.incident_id,
                events_table.c.subject == f"{subject[0]}:{subject[1]}",
                seq > after,
                seq <= upto,
            )
            .order_by(seq)
            .limit(limit)
        )
        return [event_from_row(r._mapping) for r in self.conn.execute(query)]

    def warnings(self, after: int, upto: int, limit: int) -> list[Event]:
        """Up to ``limit`` warning announcements and clearances in ``(after, upto]``."""
        seq = events_table.c.seq
        found = [
            [
                event_from_row(r._mapping)
                for r in self.conn.execute(
                    select(events_table)
                    .where(
                        events_table.c.incident_id == self.incident_id,
                        events_table.c.type == kind,
                        seq > after,
                        seq <= upto,
                    )
                    .order_by(seq)
                    .limit(limit)
                )
            ]
            for kind in _HAZARD_TYPES
        ]
        merged = heapq.merge(*found, key=lambda e: e.seq)
        return list(itertools.islice(merged, limit))


class _PageChanges:
    """Before → after of each row of one page, without the log before the page.

    Starts from the state just before the page's first row; each subject is then carried
    to each of its rows by its own events in between: the page's rows themselves when the
    filter leaves no gaps (:attr:`LogFilter.leaves_gaps`); else, when the page spans at
    most :data:`PAGE_SPAN_READ` events of the log, every event about the page's subjects
    in that span, in one read; else each subject's events by the subject index (warnings
    by the type index), a chunk at a time.
    """

    def __init__(self, store: Store, query: _LogQuery, events: list[Event], lang: str) -> None:
        self.store = store
        self.query = query
        self.events = events
        self.lang = lang
        self.start = events[0].seq - 1
        self.base = store.state_after(query.incident_id, self.start)
        self.out: dict[int, tuple[Change, ...]] = {}

    def changes(self) -> dict[int, tuple[Change, ...]]:
        """The changes of each row by its ``seq`` (rows without a subject have none)."""
        by_subject: dict[SubjectKey, list[Event]] = {}
        warnings: list[Event] = []
        for event in self.events:
            subject = _subject_key(event)
            if subject is not None:
                by_subject.setdefault(subject, []).append(event)
            elif event.type in _HAZARD_TYPES:
                warnings.append(event)
        known = self._known_between(list(by_subject), bool(warnings))
        folder = _SubjectFolder(self.base, self.lang)
        for subject, rows in by_subject.items():

            def step(event: Event, is_row: bool, subject: SubjectKey = subject) -> None:
                if is_row:
                    self.out[event.seq] = folder.changes(subject, event)
                else:
                    folder.defer(subject, event)

            def restart(state: State, subject: SubjectKey = subject) -> None:
                folder.restart(subject, state)

            self._follow(
                rows,
                None if known is None else known.get(subject, []),
                functools.partial(self.query.about, subject),
                step,
                restart,
                only=[f"{subject[0]}:{subject[1]}"],
            )
        if warnings:
            hazards = dict(self.base.hazards)

            def warn(event: Event, is_row: bool) -> None:
                change = _hazard_change(event, hazards, self.lang)
                if is_row:
                    self.out[event.seq] = (change,)

            def rewarn(state: State) -> None:
                hazards.clear()
                hazards.update(state.hazards)

            self._follow(
                warnings,
                None if known is None else known.get(None, []),
                self.query.warnings,
                warn,
                rewarn,
                only=(),
            )
        return self.out

    def _known_between(
        self, subjects: list[SubjectKey], warnings: bool
    ) -> dict[SubjectKey | None, list[Event]] | None:
        """Every event about these subjects (``None``: warnings) within the page, if cheap.

        Without gaps the rows themselves are all (empty lists); a page spanning at most
        :data:`PAGE_SPAN_READ` events is read in one query; a longer one returns ``None``
        (each subject is then read on its own).
        """
        if not self.query.where.leaves_gaps:
            return {}
        if self.events[-1].seq - self.start > PAGE_SPAN_READ:
            return None
        known: dict[SubjectKey | None, list[Event]] = {}
        for event in self.query.between(subjects, warnings, self.start, self.events[-1].seq):
            key = _subject_key(event)
            if key is not None or event.type in _HAZARD_TYPES:
                known.setdefault(key, []).append(event)
        return known

    def _follow(
        self,
        rows: list[Event],
        known: list[Event] | None,
        fetch: Callable[[int, int, int], list[Event]],
        step: Callable[[Event, bool], None],
        restart: Callable[[State], None],
        only: Collection[str],
    ) -> None:
        """Feed ``step`` every event about one subject from the page's start to its last row.

        ``known`` holds them all when they were read already (see :meth:`_known_between`).
        Otherwise ``fetch(after, upto, limit)`` gives the subject's events in ``(after,
        upto]``, read here :data:`SUBJECT_CHUNK` at a time. A chunk without a row means the
        next row is far: the subject then restarts from the newest snapshot before that row
        (rebuilding only the subjects ``only`` names), or, with no snapshot in between and
        more than :data:`SUBJECT_BATCH` events read, from :meth:`Store.state_after` that row.
        So each row costs at most about a batch of events and a snapshot, however long the log.
        """
        if known is not None:
            merged = {e.seq: e for e in known}
            merged.update((r.seq, r) for r in rows)
            row_seqs = {r.seq for r in rows}
            for seq in sorted(merged):
                step(merged[seq], seq in row_seqs)
            return
        incident_id = self.query.incident_id
        after, pending = self.start, rows
        idle = 0  # events read since the last row or restart
        tried = -1  # the row a snapshot was last looked up for
        while pending:
            batch = fetch(after, pending[-1].seq, SUBJECT_CHUNK)
            end = batch[-1].seq if len(batch) == SUBJECT_CHUNK else pending[-1].seq
            reach = [r for r in pending if r.seq <= end]
            row_seqs = {r.seq for r in reach}
            merged = {e.seq: e for e in batch}
            merged.update((r.seq, r) for r in reach)
            for seq in sorted(merged):
                step(merged[seq], seq in row_seqs)
            after, pending = end, pending[len(reach) :]
            idle = 0 if reach else idle + len(batch)
            if not pending or reach:
                continue
            first = pending[0].seq  # a whole chunk without a row: start nearer this one
            if tried != first:
                tried = first
                snapshot = self.store.projection.snapshot_before(incident_id, first - 1, only=only)
                if snapshot is not None and snapshot.seq > after:
                    restart(snapshot)
                    after, idle = snapshot.seq, 0
                    continue
            if idle > SUBJECT_BATCH:  # a busy stretch and no snapshot in it
                after, idle = first - 1, 0
                restart(self.store.state_after(incident_id, after))
