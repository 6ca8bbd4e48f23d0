"""The audit log: who did what outside the incident event log (user admin, plan views, refusals).

A mixin of :class:`~disaster_dx.store.Store`; its own part because login throttling, user
administration and the privacy boundary of plans read and write it without the event log.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select

from disaster_dx.store.base import StoreBase
from disaster_dx.store.tables import audit_table


class AuditMixin(StoreBase):
    """Writes and reads of ``audit_log``."""

    def audit(
        self, actor: str, action: str, *, target: str = "", detail: Mapping[str, Any] | None = None
    ) -> None:
        """Record who did what outside the incident event log (user admin, plan views, refusals).

        ``detail`` must never carry passwords or residents' personal data: callers pass ids.
        """
        with self._write() as conn:
            conn.execute(
                insert(audit_table).values(
                    at=self.clock(),
                    actor=actor or "anonymous",
                    action=action,
                    target=target,
                    detail=dict(detail or {}),
                )
            )

    def count_audit(
        self,
        action: str,
        *,
        since: datetime,
        actor: str | None = None,
        target: str | None = None,
    ) -> int:
        """How many ``action`` entries since ``since`` (login throttling counts failures)."""
        query = (
            select(func.count())
            .select_from(audit_table)
            .where(audit_table.c.action == action)
            .where(audit_table.c.at >= since)
        )
        if actor is not None:
            query = query.where(audit_table.c.actor == actor)
        if target is not None:
            query = query.where(audit_table.c.target == target)
        with self._read() as conn:
            return int(conn.execute(query).scalar_one())

    def audit_log(
        self, *, actor: str | None = None, action: str | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """Audit entries, newest first."""
        query = select(audit_table).order_by(audit_table.c.audit_id.desc()).limit(limit)
        if actor is not None:
            query = query.where(audit_table.c.actor == actor)
        if action is not None:
            query = query.where(audit_table.c.action == action)
        with self._read() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]
