"""Benchmark the history import: 120 publications × 100 shelters into a closed incident.

Budget (issue 20): under 10 s for the whole import — reading and decoding every CSV, parsing
each 和暦 時点, matching every row to the master, validating and writing the events in one
transaction, and building the replay snapshots. Replay at every publication's instant is then
checked against the file it came from (the import is only fast if it is also right).

The publications are **synthetic** (seeded): a fictional city of 130 shelters, 100 listed in
each publication with shifting membership (some close, others open), half the files in
CP932, 時点 written as 「令和6年1月2日午前9時」 with 全角 digits in some. Times are every 12 hours
from 2024-01-01 18:00 JST (two months).

Run: ``python bench/history_import.py [--snapshots 120] [--shelters 100] [--database-url URL]``
(default a temporary SQLite file; PostgreSQL e.g. ``--database-url
postgresql+psycopg://postgres@127.0.0.1:5432/test``, in a fresh schema).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import unicodedata
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

from disaster_dx._time import JST
from disaster_dx.history import import_history
from disaster_dx.model import Hazard, Shelter, ShelterKind
from disaster_dx.store import Store

START = datetime(2024, 1, 1, 18, 0, tzinfo=JST)
STEP = timedelta(hours=12)
CODE = "999999"  # not a real 団体コード: the city is fictional


def wareki(moment: datetime) -> str:
    """「令和6年1月2日午前9時00分」 as the city writes it."""
    half = "午前" if moment.hour < 12 else "午後"
    hour = moment.hour % 12
    day = f"令和{moment.year - 2018}年{moment.month}月{moment.day}日"
    return f"{day}{half}{hour}時{moment.minute:02d}分"


def master(count: int) -> list[Shelter]:
    """The fictional city's shelter master (自治体標準-style ids ``999999-<ID>``)."""
    return [
        Shelter(
            shelter_id=f"{CODE}-{i}",
            name=f"架空市第{i}避難所",
            address="架空市",
            lon=136.9 + i * 0.001,
            lat=37.39,
            kinds=frozenset({ShelterKind.DESIGNATED}),
            hazards=frozenset({Hazard.EARTHQUAKE}),
            gsi_ids=(f"{CODE}-{i}",),
            municipality_code=CODE,
            source={f"{CODE}-{i}": {"kind": "designated", "ID": str(i)}},
        )
        for i in range(1, count + 1)
    ]


def write_snapshots(folder: Path, snapshots: int, listed: int, pool: int, seed: int) -> dict:
    """The CSV files; returns {time: {shelter_id: 人数}} to check the replay against."""
    rng = random.Random(seed)
    members = list(range(1, listed + 1))
    expected = {}
    for n in range(snapshots):
        at = START + n * STEP
        if n:  # a few close, as many others open
            for _ in range(rng.randint(0, 4)):
                out = rng.choice(members)
                members.remove(out)
                choices = [i for i in range(1, pool + 1) if i not in members and i != out]
                members.append(rng.choice(choices))
        counts = {i: rng.randint(0, 400) for i in members}
        when = wareki(at)
        if n % 3 == 0:
            when = unicodedata.normalize("NFKC", when).translate(
                str.maketrans("0123456789", "０１２３４５６７８９")
            )
        lines = ["ID,地区,名称,人数,時点"]
        lines += [f"{i},地区{i % 7},架空市第{i}避難所,{counts[i]},{when}" for i in members]
        body = "\r\n".join(lines) + "\r\n"
        name = folder / f"{at:%Y%m%d_%H%M}.csv"
        name.write_bytes(body.encode("cp932") if n % 2 else b"\xef\xbb\xbf" + body.encode())
        expected[at] = {f"{CODE}-{i}": c for i, c in counts.items()}
    return expected


def run(store: Store, args: argparse.Namespace, folder: Path) -> None:
    store.create_schema()
    store.replace_shelters(master(args.pool), source="bench", actor="bench")
    expected = write_snapshots(folder, args.snapshots, args.shelters, args.pool, args.seed)
    started = time.perf_counter()
    done = import_history(
        store, str(folder), title="架空市の記録（ベンチマーク）", operator="bench"
    )
    seconds = time.perf_counter() - started
    plan = done.plan
    print(
        f"engine: {store.dialect}; {args.snapshots} publications × {args.shelters} shelters "
        f"→ {len(plan.events):,} events ({plan.openings} openings, {plan.closings} closings)"
    )
    print(f"import: {seconds:.2f} s (budget 10 s: {seconds / 10:.0%} of it)")
    checked = time.perf_counter()
    for moment, counts in expected.items():
        state = store.state(done.incident.incident_id, until=moment)
        shown = {s: v.evacuees for s, v in state.shelters.items() if v.open_state.is_open}
        assert shown == counts, f"replay at {moment} differs from its publication"
    per = (time.perf_counter() - checked) / len(expected)
    print(f"replay checked at all {len(expected)} publication times: {per * 1000:.1f} ms each")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshots", type=int, default=120)
    parser.add_argument("--shelters", type=int, default=100, help="listed per publication")
    parser.add_argument("--pool", type=int, default=130, help="shelters in the master")
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    args = parser.parse_args()
    schema = None
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "snapshots"
        folder.mkdir()
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        admin = None
        if url.startswith("postgresql"):
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(url)
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        store = Store(url, schema=schema)
        try:
            run(store, args, folder)
        finally:
            store.dispose()
            if admin is not None:
                with admin.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()


if __name__ == "__main__":
    main()
