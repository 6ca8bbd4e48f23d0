"""Benchmark replay: state at any instant of a 100k-event incident, snapshots vs a full fold.

DESIGN §6 budget: the state at any instant of a 100k-event incident in < 100 ms (periodic
state snapshots + fold of the tail). Both sides answer the same question on the same store:

- ``state_at``: :func:`disaster_dx.drills.state_at` — the nearest snapshot at or before t
  (one indexed row, JSON) plus a fold of at most ``SNAPSHOT_EVERY`` events after it;
- naive: :meth:`disaster_dx.store.Store.state` with ``until=t`` — read and fold every event
  from the first one up to t.

Both are checked equal at every probe. The incident is **synthetic**: 100k events over ~4 days
on the real Nankoku shelter master (status reports, corrections, area counts, warnings and
messages, seeded), written straight into the events table in large batches so that building
it takes seconds, not the hours 100k separate HQ writes would. Snapshots are built once before
timing (in the app the store listener writes them as the incident grows); their cost is
printed too.

Run: ``python bench/replay.py [--events 100000] [--probes 40] [--database-url URL]``
(default: a temporary SQLite file; PostgreSQL with e.g.
``--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test``, in a fresh schema).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, select, text, update

from disaster_dx import drills
from disaster_dx.bundled import ensure_initialised
from disaster_dx.events import (
    AREA_OUTSIDE_REPORTED,
    HAZARD_ANNOUNCED,
    HAZARD_CLEARED,
    INCIDENT_MESSAGE,
    SHELTER_CORRECTION,
    SHELTER_STATUS_REPORTED,
    NewEvent,
    validate_payload,
)
from disaster_dx.model import IncidentKind, OpenState
from disaster_dx.projection import SNAPSHOT_EVERY, state_snapshots
from disaster_dx.store import Store, events_table, incidents

START = datetime(2025, 9, 1, tzinfo=UTC)
NEEDS = ["water", "food", "blanket", "medical", "power", "toilet"]
AREAS = ["前浜", "浜改田", "十市", "稲生", "久枝", "大篠", "岡豊", "国府"]


def synthetic_events(shelter_ids: list[str], count: int, seed: int) -> list[NewEvent]:
    """A plausible mix: mostly status reports, some corrections, counts, warnings, messages."""
    rng = random.Random(seed)
    out: list[NewEvent] = []
    for _ in range(count):
        roll = rng.random()
        sid = rng.choice(shelter_ids)
        if roll < 0.80:
            payload: dict = {"shelter_id": sid, "evacuees": rng.randint(0, 400)}
            if rng.random() < 0.2:
                payload["open_state"] = rng.choice([s.value for s in OpenState])
            if rng.random() < 0.2:
                payload["needs"] = rng.sample(NEEDS, rng.randint(0, 3))
            if rng.random() < 0.05:
                payload["urgent_needs"] = rng.sample(NEEDS, rng.randint(0, 2))
            if rng.random() < 0.1:
                payload["public_note"] = f"お知らせ {rng.randint(1, 999)}"
            out.append(NewEvent(SHELTER_STATUS_REPORTED, payload))
        elif roll < 0.88:
            out.append(
                NewEvent(
                    SHELTER_CORRECTION,
                    {"shelter_id": sid, "evacuees": rng.randint(0, 400), "reason": "訂正"},
                )
            )
        elif roll < 0.96:
            out.append(
                NewEvent(
                    AREA_OUTSIDE_REPORTED,
                    {
                        "area": rng.choice(AREAS),
                        "at_home": rng.randint(0, 300),
                        "in_car": rng.randint(0, 80),
                    },
                )
            )
        elif roll < 0.98:
            hazard = rng.choice(["tsunami", "flood", "earthquake", "landslide"])
            if rng.random() < 0.7:
                out.append(NewEvent(HAZARD_ANNOUNCED, {"hazard": hazard, "title": "警報"}))
            else:
                out.append(NewEvent(HAZARD_CLEARED, {"hazard": hazard}))
        else:
            out.append(NewEvent(INCIDENT_MESSAGE, {"text": f"本部連絡 {rng.randint(1, 9999)}"}))
    return out


def build_incident(store: Store, count: int, seed: int) -> tuple[str, list[datetime]]:
    """Write ``count`` events into a new incident in batches; returns its id and event times."""
    incident = store.create_incident(
        "ベンチマーク（合成データ）", kind=IncidentKind.DRILL, actor="bench"
    )
    shelter_ids = [s.shelter_id for s in store.shelters()]
    rng = random.Random(seed + 1)
    at = START
    times: list[datetime] = []
    rows = []
    for seq, new in enumerate(synthetic_events(shelter_ids, count, seed), start=1):
        at += timedelta(seconds=rng.choice([0, 1, 2, 3, 5, 8]))
        times.append(at)
        rows.append(
            {
                "incident_id": incident.incident_id,
                "seq": seq,
                "at": at,
                "actor": "bench",
                "type": new.type,
                "subject": new.subject,
                "payload": validate_payload(new.type, new.payload),
            }
        )
    with store.transaction() as conn:  # the events and the incident's last_seq together
        for start in range(0, len(rows), 5000):
            conn.execute(insert(events_table), rows[start : start + 5000])
        conn.execute(
            update(incidents)
            .where(incidents.c.incident_id == incident.incident_id)
            .values(last_seq=count, last_at=at)
        )
    return incident.incident_id, times


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--probes", type=int, default=40, help="random instants to query")
    parser.add_argument("--naive-probes", type=int, default=8, help="instants for the full fold")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    args = parser.parse_args()

    schema = None
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        if url.startswith("postgresql"):
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(url)
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        store = Store(url, schema=schema)
        try:
            run(store, args)
        finally:
            store.dispose()
            if schema:
                with admin.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()


def run(store: Store, args: argparse.Namespace) -> None:
    ensure_initialised(store, actor="bench")
    drills.create_drill_tables(store)
    (incident_id, times), seconds = timed(lambda: build_incident(store, args.events, args.seed))
    print(
        f"engine: {store.dialect}; synthetic incident: {args.events:,} events over "
        f"{(times[-1] - times[0]).total_seconds() / 3600:.1f} h, 139 real shelters "
        f"(written in {seconds:.1f} s)"
    )
    written, seconds = timed(lambda: store.projection.build_snapshots(incident_id))
    with store.engine.connect() as conn:
        sizes = [
            len(json.dumps(r[0], ensure_ascii=False).encode("utf-8"))
            for r in conn.execute(select(state_snapshots.c.state))
        ]
    print(
        f"snapshots: {written} (every {SNAPSHOT_EVERY} events), built once in "
        f"{seconds:.2f} s; {statistics.mean(sizes) / 1024:.0f} KB each on average, "
        f"{sum(sizes) / 2**20:.0f} MB in all (messages dominate: every HQ message stays in state)"
    )

    rng = random.Random(args.seed + 2)
    probes = [times[-1]] + [
        rng.choice(times) + timedelta(seconds=rng.random()) for _ in range(args.probes - 1)
    ]
    drills.state_at(store, incident_id, probes[0])  # warm the connection pool and caches
    ours = []
    for moment in probes:
        _state, seconds = timed(lambda m=moment: drills.state_at(store, incident_id, m))
        ours.append(seconds)
    naive = []
    for moment in probes[: args.naive_probes]:
        expected, seconds = timed(lambda m=moment: store.state(incident_id, until=m))
        naive.append(seconds)
        assert drills.state_at(store, incident_id, moment) == expected, moment

    ours_ms = sorted(s * 1000 for s in ours)
    naive_ms = sorted(s * 1000 for s in naive)
    p95 = ours_ms[min(len(ours_ms) - 1, int(0.95 * len(ours_ms)))]
    at_end_ours, at_end_naive = ours[0] * 1000, naive[0] * 1000
    print()
    print(f"{'state at an instant':<34}{'snapshots + tail':>18}{'full fold':>14}{'ratio':>9}")
    print(
        f"{'median over random instants (ms)':<34}{statistics.median(ours_ms):>18.1f}"
        f"{statistics.median(naive_ms):>14.1f}"
        f"{statistics.median(naive_ms) / statistics.median(ours_ms):>8.0f}×"
    )
    print(
        f"{'at the last event (ms)':<34}{at_end_ours:>18.1f}{at_end_naive:>14.1f}"
        f"{at_end_naive / at_end_ours:>8.0f}×"
    )
    print(f"{'p95 / max of snapshots + tail (ms)':<34}{p95:>18.1f}{max(ours_ms):>14.1f}")
    verdict = "OK" if max(ours_ms) < 100 else "OVER BUDGET"
    print(
        f"\nbudget < 100 ms at {args.events:,} events: {verdict} (max {max(ours_ms):.1f} ms; "
        f"{len(naive)} full folds checked equal)"
    )


if __name__ == "__main__":
    main()
