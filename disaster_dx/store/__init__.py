"""The store: reference tables and the append-only event log, on SQLite or PostgreSQL.

SQLAlchemy Core only, so the same statements run on both engines. Writes to one incident are
serialised (SQLite ``BEGIN IMMEDIATE``; PostgreSQL ``SELECT … FOR UPDATE`` on the incident row),
which makes ``seq`` gap-free and lets an append check the versions its writer saw
(optimistic concurrency): a stale write raises :class:`~disaster_dx.errors.ConflictError`
with the newer values instead of overwriting them.

A package so that no part outgrows one reading (#19); each module imports only those above it:

- ``tables``: the ``metadata`` and its tables, ``UTCDateTime``, ``event_from_row``,
  ``subject_for_shelter``.
- ``engine``: the engine for a URL (SQLite WAL, busy timeout, ``BEGIN IMMEDIATE``).
- ``base``: ``StoreBase``, connections and transactions (``transaction``, ``_write``,
  ``_read``), append listeners and hooks.
- ``audit``: ``AuditMixin`` (``audit``, ``count_audit``, ``audit_log``).
- ``event_log``: ``EventLogMixin`` (``append``, ``append_merging``, ``events``, ``last_seq``,
  ``state`` …).
- ``reference``: ``ReferenceDataMixin`` (shelter master and its imports, the city, areas),
  ``ImportReport``, ``read_city``.
- ``core``: ``Store`` (construction, ``create_schema``, incidents) and ``Incident``.

Every name is re-exported here: callers import from ``disaster_dx.store``.
"""

from __future__ import annotations

from disaster_dx.store.base import _JOINED_HOOKS as _JOINED_HOOKS
from disaster_dx.store.base import _OPEN_TRANSACTIONS as _OPEN_TRANSACTIONS
from disaster_dx.store.base import AppendHook, AppendListener, Clock, StoreBase
from disaster_dx.store.base import _OpenTransaction as _OpenTransaction
from disaster_dx.store.core import Incident, Store
from disaster_dx.store.core import _incident as _incident
from disaster_dx.store.engine import _json_dumps as _json_dumps
from disaster_dx.store.engine import _make_engine as _make_engine
from disaster_dx.store.engine import _switch_to_wal as _switch_to_wal
from disaster_dx.store.reference import ImportReport, read_city
from disaster_dx.store.reference import _comparable as _comparable
from disaster_dx.store.reference import _history as _history
from disaster_dx.store.reference import _record_import as _record_import
from disaster_dx.store.reference import _shelter as _shelter
from disaster_dx.store.reference import _shelter_row as _shelter_row
from disaster_dx.store.reference import _shelter_row_keys as _shelter_row_keys
from disaster_dx.store.tables import (
    UTCDateTime,
    areas_table,
    audit_table,
    city_table,
    event_from_row,
    events_table,
    imports,
    incidents,
    metadata,
    shelter_history,
    shelters_table,
    subject_for_shelter,
    users_table,
)

__all__ = [
    "AppendHook",
    "AppendListener",
    "Clock",
    "ImportReport",
    "Incident",
    "Store",
    "StoreBase",
    "UTCDateTime",
    "areas_table",
    "audit_table",
    "city_table",
    "event_from_row",
    "events_table",
    "imports",
    "incidents",
    "metadata",
    "read_city",
    "shelter_history",
    "shelters_table",
    "subject_for_shelter",
    "users_table",
]
