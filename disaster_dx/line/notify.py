"""Collecting what LINE should tell: the store listener and the outbox batches.

After each committed append, :class:`Notifier` (registered by :mod:`disaster_dx.runtime`)
keeps only real openings and closings of a *live* incident's shelters
(:func:`~disaster_dx.events.open_state_changes`: corrections never count; drills are ignored)
and 避難情報 issued or lifted. Changes join the incident's open batch, due
``LINE_BATCH_SECONDS`` later, so opening 20 shelters in one minute is one message; a shelter
that opens and closes again inside the window drops out. 避難情報 is never batched
(:func:`disaster_dx.line.store.queue_alerts`). Sending is :mod:`disaster_dx.line.sender`'s job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection

from disaster_dx.config import Settings
from disaster_dx.events import (
    SHELTER_CORRECTION,
    SHELTER_STATUS_REPORTED,
    Event,
    OpenStateChange,
    fold,
    open_state_changes,
)
from disaster_dx.line.store import (
    ALERT_TYPES,
    HELD,
    KIND_STATUS,
    QUEUED,
    create_notify_tables,
    line_cursor,
    line_messages,
    queue_alerts,
    serialise,
)
from disaster_dx.line.text import Site, status_message_text
from disaster_dx.model import Hazard, IncidentKind, OpenState, ShelterKind
from disaster_dx.store import (
    Store,
    event_from_row,
    events_table,
    incidents,
    read_city,
    shelters_table,
)

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# Collecting changes (the store listener)
# ---------------------------------------------------------------------------------------------


def _events_from_rows(rows: Iterable[Any]) -> list[Event]:
    return [event_from_row(r._mapping) for r in rows]


def _touches_open_state(event: Event) -> bool:
    return (
        event.type in (SHELTER_STATUS_REPORTED, SHELTER_CORRECTION)
        and "open_state" in event.payload
    )


def _merge(items: list[dict[str, Any]], changes: Sequence[OpenStateChange]) -> list[dict[str, Any]]:
    """Fold new changes into a batch: per shelter, first ``before`` and last ``after``.

    A shelter whose state is back where the batch found it (opened, then closed again) drops
    out: announcing both would only confuse.
    """
    by_id = {i["shelter_id"]: dict(i) for i in items}
    order = [i["shelter_id"] for i in items]
    for change in changes:
        item = by_id.get(change.shelter_id)
        if item is None:
            by_id[change.shelter_id] = {
                "shelter_id": change.shelter_id,
                "before": change.before.value,
                "after": change.after.value,
                "at": change.at.isoformat(),
                "seq": change.seq,
            }
            order.append(change.shelter_id)
        else:
            item.update(after=change.after.value, at=change.at.isoformat(), seq=change.seq)
    return [
        by_id[sid]
        for sid in order
        if OpenState(by_id[sid]["before"]).is_open != OpenState(by_id[sid]["after"]).is_open
    ]


def collect(
    store: Store,
    settings: Settings,
    incident_id: str,
    *,
    now: datetime,
    start_after: int | None = None,
) -> list[OpenStateChange]:
    """Queue the real openings/closings of ``incident_id`` not collected yet; returns them.

    Resumes after the incident's cursor, so it is safe to call from the listener of every
    worker and from the sender's catch-up: each event is collected once. On first use the
    cursor starts at ``start_after`` (the listener passes the seq before its events) or at
    the incident's current end, so history is never announced.

    Only live incidents are collected; for a drill this does nothing.
    """
    with store._write() as conn:
        serialise(conn, store)
        incident = conn.execute(
            select(incidents.c.kind, incidents.c.last_seq).where(
                incidents.c.incident_id == incident_id
            )
        ).one_or_none()
        if incident is None or incident.kind != IncidentKind.LIVE.value:
            return []
        cursor = conn.execute(
            select(line_cursor.c.last_seq).where(line_cursor.c.incident_id == incident_id)
        ).scalar_one_or_none()
        if cursor is None:
            cursor = incident.last_seq if start_after is None else start_after
            conn.execute(insert(line_cursor).values(incident_id=incident_id, last_seq=cursor))
        if incident.last_seq <= cursor:
            return []
        new_events = _events_from_rows(
            conn.execute(
                select(events_table)
                .where(events_table.c.incident_id == incident_id, events_table.c.seq > cursor)
                .order_by(events_table.c.seq)
            )
        )
        conn.execute(
            update(line_cursor)
            .where(line_cursor.c.incident_id == incident_id)
            .values(last_seq=new_events[-1].seq if new_events else incident.last_seq)
        )
        affected = sorted({e.payload["shelter_id"] for e in new_events if _touches_open_state(e)})
        alert_events = [e for e in new_events if e.type in ALERT_TYPES]
        if not affected and not alert_events:
            return []
        # "Open before this batch" from the state after the cursor (a snapshot plus a short
        # tail), not from every earlier event of these shelters: a bulk opening on day five
        # must not read the whole week. Events up to the cursor never change, so reading them
        # on another connection is consistent.
        before = store.state_after(incident_id, cursor)
        after = fold(new_events, initial=before)  # pure: the hazard in force, lifted alerts
        changes = open_state_changes(before, new_events) if affected else []
        if changes:
            _queue_changes(
                conn, settings, incident_id, changes, now=now, hazard=after.current_hazard
            )
        if alert_events:
            queue_alerts(conn, settings, incident_id, alert_events, after, now=now)
    if changes:
        log.info("LINE: queued %d open/close change(s) of incident %s", len(changes), incident_id)
    if alert_events:
        log.info("LINE: queued 避難情報 of incident %s to send at once", incident_id)
    return changes


def _queue_changes(
    conn: Connection,
    settings: Settings,
    incident_id: str,
    changes: Sequence[OpenStateChange],
    *,
    now: datetime,
    hazard: Hazard | None,
) -> None:
    open_batch = conn.execute(
        select(line_messages)
        .where(
            line_messages.c.kind == KIND_STATUS,
            line_messages.c.incident_id == incident_id,
            (line_messages.c.status == HELD)
            | ((line_messages.c.status == QUEUED) & (line_messages.c.due_at > now)),
        )
        .order_by(line_messages.c.created_at.desc())
    ).first()
    items = _merge(list(open_batch.items) if open_batch else [], changes)
    text = status_message_text(
        items,
        sites=_sites(conn, [i["shelter_id"] for i in items]),
        public_url=settings.public_base_url,
        at=changes[-1].at,
        hazard=hazard,
        max_names=settings.line_max_names,
        city=read_city(conn),
    )
    if open_batch is not None:
        # Conditional: the sender may have claimed it meanwhile (then start a new batch).
        done = conn.execute(
            update(line_messages)
            .where(
                line_messages.c.message_key == open_batch.message_key,
                line_messages.c.status.in_((QUEUED, HELD)),
            )
            .values(items=items, text=text, updated_at=now, updated_by="system")
        )
        if done.rowcount == 1:
            return
        items = _merge([], changes)
        text = status_message_text(
            items,
            sites=_sites(conn, [i["shelter_id"] for i in items]),
            public_url=settings.public_base_url,
            at=changes[-1].at,
            hazard=hazard,
            max_names=settings.line_max_names,
            city=read_city(conn),
        )
    conn.execute(
        insert(line_messages).values(
            message_key=f"status:{incident_id}:{changes[0].seq}",
            kind=KIND_STATUS,
            incident_id=incident_id,
            status=QUEUED,
            items=items,
            text=text,
            created_at=now,
            created_by="system",
            due_at=now + timedelta(seconds=settings.line_batch_seconds),
            updated_at=now,
            updated_by="system",
        )
    )


def _sites(conn: Connection, shelter_ids: Sequence[str]) -> dict[str, Site]:
    if not shelter_ids:
        return {}
    table = shelters_table.c
    rows = conn.execute(
        select(table.shelter_id, table.name, table.kinds, table.hazards).where(
            table.shelter_id.in_(list(shelter_ids))
        )
    )
    return {
        r.shelter_id: Site(
            r.name,
            frozenset(ShelterKind(k) for k in r.kinds),
            frozenset(Hazard(h) for h in r.hazards),
        )
        for r in rows
    }


class Notifier:
    """The store listener: collects open/close changes of live incidents after each append.

    Parameters
    ----------
    store
        The store whose appends to watch (``attach`` registers the listener on it).
    settings
        Batch window and public link.
    clock
        "Now" for batch windows; the store's clock unless a test injects one.
    """

    def __init__(
        self, store: Store, settings: Settings, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock or store.clock
        self._kinds: dict[str, str] = {}  # incident kinds never change: a per-process cache

    def __call__(self, incident_id: str, events: list[Event]) -> None:
        """Collect after an append (only when an event touched an open state or 避難情報)."""
        if not any(_touches_open_state(e) or e.type in ALERT_TYPES for e in events):
            return
        kind = self._kinds.get(incident_id)
        if kind is None:
            kind = self._kinds[incident_id] = self.store.incident(incident_id).kind.value
        if kind != IncidentKind.LIVE.value:
            return
        collect(
            self.store,
            self.settings,
            incident_id,
            now=self.clock(),
            start_after=events[0].seq - 1,
        )


def attach(
    store: Store, settings: Settings, *, clock: Callable[[], datetime] | None = None
) -> Notifier:
    """Create the tables and register a :class:`Notifier` on ``store``."""
    create_notify_tables(store)
    notifier = Notifier(store, settings, clock=clock)
    store.add_listener(notifier)
    return notifier
