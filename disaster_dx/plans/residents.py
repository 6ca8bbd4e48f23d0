"""Resident storage: the 避難行動要支援者 list, written and read only by planners and admins.

Every read is role-checked and audit-logged with ids (:func:`read_residents`); names never
reach the log.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select

from disaster_dx.auth import User
from disaster_dx.errors import DisasterDxError, NotFoundError
from disaster_dx.plans.storage import (
    _bump_dataset,
    _has_tables,
    _require,
    create_plan_tables,
    plan_residents,
    plan_results,
)
from disaster_dx.residents import Mobility, Resident, Supporter
from disaster_dx.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResidentSaveReport:
    """What a resident import changed (ids only)."""

    version: int
    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: int

    def summary(self) -> str:
        """Counts for the CLI and the log."""
        return (
            f"added {len(self.added)}, changed {len(self.changed)}, "
            f"removed {len(self.removed)}, unchanged {self.unchanged}"
        )


def _resident_row(resident: Resident, now: datetime, actor: str) -> dict[str, Any]:
    return {
        "resident_id": resident.resident_id,
        "name": resident.name,
        "address": resident.address,
        "lon": resident.lon,
        "lat": resident.lat,
        "mobility": resident.mobility.value,
        "needs": list(resident.needs),
        "supporter_name": resident.supporter_name,
        "supporter_contact": resident.supporter_contact,
        "consent": resident.consent,
        "building_id": resident.building_id,
        "note": resident.note,
        "updated_at": now,
        "updated_by": actor,
        "emergency_name": resident.emergency_name,
        "emergency_relation": resident.emergency_relation,
        "emergency_phone": resident.emergency_phone,
        "considerations": resident.considerations,
        "carry_items": list(resident.carry_items),
        "supporters": [{"name": s.name, "contact": s.contact} for s in resident.supporters],
        "created_on": resident.created_on,
        "review_on": resident.review_on,
        "plan_consent": resident.plan_consent,
        "plan_consent_on": resident.plan_consent_on,
    }


def _resident(row: Any) -> Resident:
    return Resident(
        resident_id=row.resident_id,
        name=row.name,
        address=row.address,
        lon=row.lon,
        lat=row.lat,
        mobility=Mobility(row.mobility),
        needs=tuple(row.needs or ()),
        supporter_name=row.supporter_name,
        supporter_contact=row.supporter_contact,
        consent=bool(row.consent),
        building_id=row.building_id,
        note=row.note,
        emergency_name=row.emergency_name,
        emergency_relation=row.emergency_relation,
        emergency_phone=row.emergency_phone,
        considerations=row.considerations,
        carry_items=tuple(row.carry_items or ()),
        supporters=tuple(
            Supporter(str(s.get("name", "")), str(s.get("contact", "")))
            for s in row.supporters or ()
        ),
        created_on=row.created_on,
        review_on=row.review_on,
        plan_consent=row.plan_consent,
        plan_consent_on=row.plan_consent_on,
    )


#: What makes a stored resident "changed": every field but the id (the row's columns are the
#: fields' names, so a field added to :class:`Resident` is compared without a list to update).
_COMPARED = tuple(f.name for f in fields(Resident) if f.name != "resident_id")


def save_residents(
    store: Store,
    residents: Sequence[Resident],
    user: User,
    *,
    source: str,
    sha256: str = "",
    synthetic: bool = False,
) -> ResidentSaveReport:
    """Make ``residents`` the list (planner/admin only), in one transaction.

    People no longer listed are deleted with their stored plans: personal data that is no
    longer needed is not kept. The audit entry records counts and changed ids, never names.

    Raises
    ------
    NotPermitted
        ``user`` is not a planner or admin (refusal audit-logged).
    """
    _require(store, user, "residents.import")
    ids = [r.resident_id for r in residents]
    if len(set(ids)) != len(ids):
        raise DisasterDxError("resident ids repeat; every resident needs their own id")
    create_plan_tables(store)
    now = store.clock()
    new_rows = {r.resident_id: _resident_row(r, now, user.username) for r in residents}
    with store._write() as conn:
        before = {r.resident_id: r._mapping for r in conn.execute(select(plan_residents))}
        added = sorted(set(new_rows) - set(before))
        removed = sorted(set(before) - set(new_rows))
        changed = sorted(
            rid
            for rid in set(new_rows) & set(before)
            if any(new_rows[rid][c] != before[rid][c] for c in _COMPARED)
        )
        conn.execute(delete(plan_residents))
        rows = list(new_rows.values())
        for start in range(0, len(rows), 5000):
            conn.execute(insert(plan_residents), rows[start : start + 5000])
        for start in range(0, len(removed), 500):
            conn.execute(
                delete(plan_results).where(
                    plan_results.c.resident_id.in_(removed[start : start + 500])
                )
            )
        version = _bump_dataset(
            conn,
            store,
            "residents",
            source=source,
            actor=user.username,
            synthetic=synthetic,
            summary={"residents": len(rows)},
            sha256=sha256,
        )
    report = ResidentSaveReport(
        version, tuple(added), tuple(changed), tuple(removed), len(rows) - len(added) - len(changed)
    )
    store.audit(
        user.username,
        "residents.imported",
        target=source[:200],
        detail={
            "residents": len(rows),
            "added": len(added),
            "changed": len(changed),
            "removed": len(removed),
            "removed_ids": list(removed[:200]),
        },
    )
    log.info("resident list v%d saved by %s: %s", version, user.username, report.summary())
    return report


def read_residents(
    store: Store, user: User, *, purpose: str, ids: Sequence[str] | None = None
) -> list[Resident]:
    """Residents (all, or ``ids``), for a planner or admin; every call is audit-logged.

    Parameters
    ----------
    purpose
        Why they are read (``plans.page``, ``plans.sheet``, ``replan`` …), kept in the audit
        log.
    ids
        Only these residents; the audit entry lists them.

    Raises
    ------
    NotPermitted
        ``user`` is not a planner or admin (refusal audit-logged).
    """
    _require(store, user, "residents.read", target=purpose)
    query = select(plan_residents).order_by(plan_residents.c.resident_id)
    if ids is not None:
        query = query.where(plan_residents.c.resident_id.in_(list(ids)))
    found: list[Resident] = []
    if _has_tables(store):  # before any import there is nothing to read (still audited)
        with store._read() as conn:
            found = [_resident(r) for r in conn.execute(query)]
    detail: dict[str, Any] = {"purpose": purpose, "count": len(found)}
    if ids is not None:
        detail["ids"] = sorted(r.resident_id for r in found)[:200]
    store.audit(
        user.username,
        "residents.read",
        target=(",".join(ids) if ids is not None else "all")[:200],
        detail=detail,
    )
    return found


def read_resident(store: Store, user: User, resident_id: str, *, purpose: str) -> Resident:
    """One resident (audited like :func:`read_residents`); NotFoundError when unknown."""
    found = read_residents(store, user, purpose=purpose, ids=[resident_id])
    if not found:
        raise NotFoundError(f"no resident {resident_id!r}")
    return found[0]
