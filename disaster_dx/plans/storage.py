"""Plan storage: the privacy boundary of individual evacuation plans, readable in one file.

Roads, buildings, residents and the latest live plan results live in this package's own tables
(:data:`plan_metadata`, created by :func:`create_plan_tables`). Resident data is personal: every
read goes through a function that takes the reading :class:`~disaster_dx.auth.User`, refuses
anyone but ``planner``/``admin`` (:func:`_require`; HQ may see flagged positions only, without
names: :func:`flagged_residents`) and writes an audit entry naming resident **ids**, never
names. Log lines carry counts and ids only.

Here: the tables, dataset versions (:func:`dataset_infos`), the road network's blob, the live
plan results and HQ's flagged view. Building storage is in :mod:`disaster_dx.plans.buildings`,
resident storage in :mod:`disaster_dx.plans.residents`; both write only through this module's
tables and :func:`_require`.
"""

from __future__ import annotations

import io
import itertools
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    delete,
    insert,
    select,
    update,
)

from disaster_dx.auth import Role, User
from disaster_dx.errors import NotPermitted
from disaster_dx.model import Hazard
from disaster_dx.store import Store, UTCDateTime

if TYPE_CHECKING:
    # Routing (scipy) and the plan pipeline are imported where used, so building and
    # resident storage (``import-buildings``) do not pay for them at start-up.
    from disaster_dx.plans.destinations import PlanKeys, PlanSet
    from disaster_dx.routing import RoadGraph

log = logging.getLogger(__name__)

#: The account live re-planning reads and writes as (``REPLAN_USER`` in the planner module).
REPLAN_ACTOR = "system:replan"


# -- storage ------------------------------------------------------------------------------------

#: This package's own tables (the store's schema is not touched).
plan_metadata = MetaData()

plan_datasets = Table(
    "plan_datasets",
    plan_metadata,
    Column("kind", String(32), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("source", Text, nullable=False),
    Column("sha256", String(64), nullable=False, default=""),
    Column("imported_at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("synthetic", Boolean, nullable=False, default=False),
    Column("summary", JSON, nullable=False),
    Column("payload", LargeBinary),
)

plan_buildings = Table(
    "plan_buildings",
    plan_metadata,
    Column("building_id", String(128), primary_key=True),
    # The PLATEAU tile (mesh code, else file stem) the building came from; "" when untiled.
    Column("tile", String(64), nullable=False, default="", server_default=""),
    Column("name", String(300)),
    Column("lon", Float, nullable=False),
    Column("lat", Float, nullable=False),
    Column("footprint", LargeBinary),
    Column("height_m", Float),
    Column("storeys", Integer),
    Column("structure", String(8)),
    # PLATEAU bldg:usage code (e.g. 411 住宅); decoded by the national table when read.
    Column("usage", String(16)),
    Column("refuge", Boolean, nullable=False, default=False),
    Column("depths", JSON, nullable=False),
    Index("ix_plan_buildings_tile", "tile"),
)

plan_residents = Table(
    "plan_residents",
    plan_metadata,
    Column("resident_id", String(64), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("address", String(300), nullable=False, default=""),
    Column("lon", Float),
    Column("lat", Float),
    Column("mobility", String(16), nullable=False),
    Column("needs", JSON, nullable=False),
    Column("supporter_name", String(100), nullable=False, default=""),
    Column("supporter_contact", String(200), nullable=False, default=""),
    Column("consent", Boolean, nullable=False, default=False),
    Column("building_id", String(128)),
    Column("note", Text, nullable=False, default=""),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(64), nullable=False),
    # The 個別避難計画 様式's fields (see disaster_dx.plans.residents).
    Column("emergency_name", String(100), nullable=False, default=""),
    Column("emergency_relation", String(50), nullable=False, default=""),
    Column("emergency_phone", String(50), nullable=False, default=""),
    Column("considerations", Text, nullable=False, default=""),
    Column("carry_items", JSON, nullable=False, default=list),
    Column("supporters", JSON, nullable=False, default=list),
    Column("created_on", Date),
    Column("review_on", Date),
    Column("plan_consent", Boolean),
    Column("plan_consent_on", Date),
)

plan_results = Table(
    "plan_results",
    plan_metadata,
    Column("resident_id", String(64), primary_key=True),
    Column("hazard", String(32), primary_key=True),
    Column("incident_id", String(64), nullable=False),
    Column("state_seq", Integer, nullable=False),
    Column("computed_at", UTCDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("flagged", Boolean, nullable=False),
    Column("destination_id", String(200)),
    Column("length_m", Float),
    Column("minutes", Float),
    Column("margin_min", Float),
    # The nearest eligible destination at another site, door to door (None when there is none).
    Column("alt_destination_id", String(200)),
    Column("alt_length_m", Float),
    Index("ix_plan_results_flagged", "flagged", "hazard"),
)

DATASET_KINDS = ("roads", "buildings", "residents")


def create_plan_tables(store: Store) -> None:
    """Create this module's tables if missing (idempotent and race-safe)."""
    store.create_tables(plan_metadata)


@dataclass(frozen=True)
class DatasetInfo:
    """Which roads, buildings or residents are loaded, from where, and whether made up."""

    kind: str
    version: int
    source: str
    imported_at: datetime
    actor: str
    synthetic: bool
    summary: Mapping[str, Any]


def dataset_infos(store: Store) -> dict[str, DatasetInfo]:
    """The loaded datasets by kind (one cheap query: pages and caches check it first)."""
    columns = [c for c in plan_datasets.c if c.name != "payload"]
    with store._read() as conn:
        rows = conn.execute(select(*columns))
        return {
            r.kind: DatasetInfo(
                r.kind, r.version, r.source, r.imported_at, r.actor, r.synthetic, r.summary
            )
            for r in rows
        }


def _bump_dataset(
    conn: Any,
    store: Store,
    kind: str,
    *,
    source: str,
    actor: str,
    synthetic: bool,
    summary: Mapping[str, Any],
    sha256: str = "",
    payload: bytes | None = None,
) -> int:
    current = conn.execute(
        select(plan_datasets.c.version).where(plan_datasets.c.kind == kind).with_for_update()
    ).scalar_one_or_none()
    values = {
        "source": source[:2000],
        "sha256": sha256,
        "imported_at": store.clock(),
        "actor": actor,
        "synthetic": synthetic,
        "summary": dict(summary),
        "payload": payload,
    }
    if current is None:
        conn.execute(insert(plan_datasets).values(kind=kind, version=1, **values))
        return 1
    conn.execute(
        update(plan_datasets)
        .where(plan_datasets.c.kind == kind)
        .values(version=current + 1, **values)
    )
    return int(current) + 1


def _require(store: Store, user: User, action: str, *roles: Role, target: str = "") -> None:
    if not user.has(*(roles or (Role.PLANNER,))):
        store.audit(user.username, f"{action}.refused", target=target[:200])
        log.warning("refused: %s may not %s", user.username, action)
        raise NotPermitted(f"{user.username} may not {action.replace('.', ' ')}")


# roads -----------------------------------------------------------------------------------------


def save_road_graph(
    store: Store, graph: RoadGraph, *, actor: str, source: str, synthetic: bool = False
) -> int:
    """Make ``graph`` the road network for plans; returns the new dataset version.

    Stored as one compressed array blob (no pickles): node ids, positions, edges, lengths and
    edge geometries as WKB.
    """
    buffer = io.BytesIO()
    arrays: dict[str, Any] = {
        "lon": graph.lon,
        "lat": graph.lat,
        "u": graph.edge_u,
        "v": graph.edge_v,
        "length": graph.edge_length,
        "node_ids": graph.node_ids.astype(np.int64)
        if np.issubdtype(graph.node_ids.dtype, np.integer)
        else graph.node_ids.astype(str),
    }
    if graph.edge_geometry is not None:
        # Missing geometries (straight edges) are stored as zero-length entries.
        wkb = [w or b"" for w in shapely.to_wkb(graph.edge_geometry)]
        sizes = np.array([len(w) for w in wkb], dtype=np.int64)
        arrays["geometry_offsets"] = np.concatenate(([0], np.cumsum(sizes)))
        arrays["geometry_bytes"] = np.frombuffer(b"".join(wkb), dtype=np.uint8)
    np.savez_compressed(buffer, **arrays)
    summary = {"nodes": graph.n_nodes, "edges": graph.n_edges}
    create_plan_tables(store)
    with store._write() as conn:
        version = _bump_dataset(
            conn,
            store,
            "roads",
            source=source,
            actor=actor,
            synthetic=synthetic,
            summary=summary,
            payload=buffer.getvalue(),
        )
    log.info("road network v%d saved: %d nodes, %d edges", version, graph.n_nodes, graph.n_edges)
    return version


def load_road_graph(store: Store) -> RoadGraph | None:
    """The stored road network, or None before one is imported."""
    from disaster_dx.routing import graph_from_arrays

    if not _has_tables(store):
        return None
    with store._read() as conn:
        payload = conn.execute(
            select(plan_datasets.c.payload).where(plan_datasets.c.kind == "roads")
        ).scalar_one_or_none()
    if payload is None:
        return None
    with np.load(io.BytesIO(payload), allow_pickle=False) as data:
        geometry = None
        if "geometry_offsets" in data:
            offsets = data["geometry_offsets"]
            raw = data["geometry_bytes"].tobytes()
            geometry = shapely.from_wkb(
                np.array(
                    [raw[a:b] or None for a, b in itertools.pairwise(offsets.tolist())],
                    dtype=object,
                )
            )
        return graph_from_arrays(
            data["lon"],
            data["lat"],
            data["u"],
            data["v"],
            data["length"],
            node_ids=data["node_ids"],
            edge_geometry=geometry,
        )


# plan results --------------------------------------------------------------------------------


def _result_rows(
    plans: PlanSet, *, incident_id: str, state_seq: int, now: datetime, which: Iterable[int]
) -> list[dict[str, Any]]:
    from disaster_dx.plans.destinations import _opt

    rows = []
    for i in which:
        rows.append(
            {
                "resident_id": str(plans.resident_ids[i]),
                "hazard": plans.scenario.hazard.value,
                "incident_id": incident_id,
                "state_seq": state_seq,
                "computed_at": now,
                "status": plans.status_of(i).value,
                "flagged": bool(plans.flagged[i]),
                "destination_id": plans.destination_id(i),
                "length_m": _opt(plans.length_m[i]),
                "minutes": _opt(plans.minutes[i]),
                "margin_min": _opt(plans.margin_min[i]),
                "alt_destination_id": plans.alt_destination_id(i),
                "alt_length_m": _opt(plans.alt_length_m[i]),
            }
        )
    return rows


def stored_keys(store: Store, hazard: Hazard) -> PlanKeys:
    """The stored live plans of ``hazard`` as :class:`PlanKeys` (ids only)."""
    with store._read() as conn:
        return _stored_keys(conn, hazard)


def _stored_keys(conn: Any, hazard: Hazard) -> PlanKeys:
    from disaster_dx.plans.destinations import _S, PlanKeys, PlanStatus, _rounded

    rows = conn.execute(
        select(
            plan_results.c.resident_id,
            plan_results.c.status,
            plan_results.c.destination_id,
            plan_results.c.length_m,
            plan_results.c.alt_destination_id,
            plan_results.c.alt_length_m,
            plan_results.c.flagged,
        ).where(plan_results.c.hazard == hazard.value)
    ).all()
    codes = {s.value: _S[s] for s in PlanStatus}
    length = np.array([np.nan if r.length_m is None else r.length_m for r in rows], dtype=float)
    alt_length = np.array(
        [np.nan if r.alt_length_m is None else r.alt_length_m for r in rows], dtype=float
    )
    return PlanKeys(
        resident_id=np.array([r.resident_id for r in rows], dtype=object),
        status=np.array([codes[r.status] for r in rows], dtype=np.int8),
        destination_id=np.array([r.destination_id or "" for r in rows], dtype=object),
        length_m=_rounded(length),
        alt_destination_id=np.array([r.alt_destination_id or "" for r in rows], dtype=object),
        alt_length_m=_rounded(alt_length),
        flagged=np.array([bool(r.flagged) for r in rows], dtype=bool),
    )


def stored_fingerprints(store: Store, hazard: Hazard) -> dict[str, tuple[int, str, float]]:
    """The stored live plans as ``{resident_id: (status code, destination id, length)}``."""
    keys = stored_keys(store, hazard)
    return {
        str(r): (int(s), str(d), float(m))
        for r, s, d, m in zip(
            keys.resident_id, keys.status, keys.destination_id, keys.length_m, strict=True
        )
    }


@dataclass(frozen=True)
class SavedPlans:
    """What :func:`save_plan_results` did: changed ids, and the stored version afterwards."""

    changed: frozenset[str]
    version: int
    keys: PlanKeys
    skipped_as_older: bool = False


def save_plan_results(
    store: Store,
    plans: PlanSet,
    *,
    incident_id: str,
    state_seq: int,
    previous: tuple[int, PlanKeys] | None = None,
) -> SavedPlans:
    """Store the live plans of one hazard, writing only residents whose plan changed.

    Runs in one write transaction that first locks this hazard's results (several workers may
    re-plan at once): the diff is taken against what is stored *then* — ``previous``
    (``(version, keys)`` the caller last wrote) is used only if nobody wrote since — and plans
    made from an older state than the stored ones are not written at all.
    """
    hazard = plans.scenario.hazard
    kind = f"results:{hazard.value}"
    now = plans.keys()
    create_plan_tables(store)
    with store._write() as conn:
        row = conn.execute(
            select(plan_datasets.c.version, plan_datasets.c.summary)
            .where(plan_datasets.c.kind == kind)
            .with_for_update()
        ).one_or_none()
        version = 0 if row is None else int(row.version)
        summary = {} if row is None else dict(row.summary or {})
        stored_seq = int(summary.get("state_seq", -1))
        if stored_seq > state_seq and summary.get("incident_id") == incident_id:
            return SavedPlans(frozenset(), version, now, skipped_as_older=True)
        if previous is not None and previous[0] == version:
            before = previous[1]
        else:
            before = _stored_keys(conn, hazard)
        changed_mask = now.differs(before)
        gone = sorted(before.missing_from(now).tolist())
        changed = sorted(plans.resident_ids[changed_mask].tolist())
        if not changed and not gone:
            return SavedPlans(frozenset(), version, now)
        rows = _result_rows(
            plans,
            incident_id=incident_id,
            state_seq=state_seq,
            now=store.clock(),
            which=np.flatnonzero(changed_mask).tolist(),
        )
        # One statement run for many ids (executemany) compiles once, unlike a long IN list.
        conn.execute(
            delete(plan_results).where(
                plan_results.c.hazard == bindparam("h"),
                plan_results.c.resident_id == bindparam("rid"),
            ),
            [{"h": hazard.value, "rid": rid} for rid in changed + gone],
        )
        for start in range(0, len(rows), 5000):
            conn.execute(insert(plan_results), rows[start : start + 5000])
        version = _bump_dataset(
            conn,
            store,
            kind,
            source=f"live plans ({hazard.value})",
            actor=REPLAN_ACTOR,
            synthetic=False,
            summary={
                "hazard": hazard.value,
                "changed": len(changed),
                "incident_id": incident_id,
                "state_seq": state_seq,
            },
        )
    return SavedPlans(frozenset(changed), version, now)


@dataclass(frozen=True)
class FlaggedResident:
    """A resident who cannot reach safety in time, as HQ sees them: no name, no address."""

    resident_id: str
    hazard: Hazard
    lon: float
    lat: float
    margin_min: float | None
    has_route: bool


def flagged_residents(
    store: Store, user: User, *, hazard: Hazard | None = None
) -> list[FlaggedResident]:
    """Positions of residents flagged "cannot reach safety in time" in the stored live plans.

    For HQ's map: ids and positions only (HQ must be able to send help; names stay with
    planners). HQ, planner and admin may call it; each call is audit-logged with the count.
    Call it when :func:`results_version` moves, not on every poll.
    """
    _require(store, user, "plans.flagged_read", Role.HQ, Role.PLANNER)
    query = (
        select(
            plan_results.c.resident_id,
            plan_results.c.hazard,
            plan_results.c.margin_min,
            plan_results.c.length_m,
            plan_residents.c.lon,
            plan_residents.c.lat,
            plan_buildings.c.lon.label("building_lon"),
            plan_buildings.c.lat.label("building_lat"),
        )
        .join(plan_residents, plan_residents.c.resident_id == plan_results.c.resident_id)
        .outerjoin(plan_buildings, plan_buildings.c.building_id == plan_residents.c.building_id)
        .where(plan_results.c.flagged.is_(True))
        .order_by(plan_results.c.resident_id)
    )
    if hazard is not None:
        query = query.where(plan_results.c.hazard == hazard.value)
    rows: list[Any] = []
    if _has_tables(store):
        with store._read() as conn:
            rows = list(conn.execute(query).all())
    found = []
    for r in rows:
        lon = r.lon if r.lon is not None else r.building_lon
        lat = r.lat if r.lat is not None else r.building_lat
        if lon is None or lat is None:
            continue
        found.append(
            FlaggedResident(
                r.resident_id,
                Hazard(r.hazard),
                float(lon),
                float(lat),
                r.margin_min,
                r.length_m is not None,
            )
        )
    store.audit(
        user.username,
        "plans.flagged_read",
        target=hazard.value if hazard else "all",
        detail={"count": len(found)},
    )
    return found


def results_version(store: Store) -> int:
    """A number that grows whenever stored live plans change (cheap polling check)."""
    if not _has_tables(store):
        return 0
    infos = dataset_infos(store)
    return sum(i.version for k, i in infos.items() if k.startswith("results:"))


def can_replan(store: Store) -> bool:
    """Whether live plans can be computed at all: plan tables, a road network and residents.

    Cheap (no routing import), so a command that changed plan data asks this before loading
    the planner.
    """
    if not _has_tables(store):
        return False
    infos = dataset_infos(store)
    return "roads" in infos and "residents" in infos


def _has_tables(store: Store) -> bool:
    from sqlalchemy import inspect

    return bool(inspect(store.engine).has_table("plan_datasets"))
