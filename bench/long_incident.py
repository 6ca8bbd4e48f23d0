"""Benchmark a disaster that lasts for days: the hot paths at 10k, 100k and 500k events.

Issue 18 acceptance: at 500k events every hot path costs at most 1.5× what it costs at 10k
(a shelter write including publish p95 < 150 ms, a live state read < 20 ms), on SQLite and
on PostgreSQL. One run grows **one live incident** step by step and, at each size, times on
the real app (``create_app``, the app's own store and its listeners):

- **live state read** — ``Store.state(incident_id)``;
- **shelter write + publish** — :func:`disaster_dx.hq.report_status` on the app's store, whose
  listeners are the app's (the ``Publisher`` of ``web/public_routes.py`` into a temporary
  ``PUBLIC_DIR``, LINE notifier, planner, drill snapshots): the time until the call returns,
  which includes the publish done in the writer's thread; and **write → public**, from the
  call until ``shelters.geojson``, read back from disk, shows the new count;
- **HQ board** — the ``/hq`` refresh callback (map data, board, tiles, area table and chart)
  as the browser asks for it: ``POST /_dash-update-component`` through the Flask test client,
  logged in as an ``hq`` user through ``/login``, triggered by ``hq-force`` (a full re-render,
  as after a write);
- **LINE location reply** — a signed ``POST /line/webhook`` with a location message from a new
  user (so the rate limit never answers instead), the reply sent to the local fake LINE API
  (:mod:`disaster_dx.line_fake`) and checked to be the shelter answer;
- **state at a random instant** — :func:`disaster_dx.drills.state_at` (per round, the mean of
  :data:`INSTANTS_PER_ROUND` random instants), what replay, the
  after-action report and the camera history use.

The incident is **synthetic**: status reports on all 139 bundled Nankoku shelters (open and
close, counts, households, needs and urgent needs, notes, pets, barrier-free, corrections),
area counts (在宅避難・車中泊) and a few hazard announcements, at ``--reports-per-hour``; plus
camera frames at the rate the poller writes them: each camera of ``data/cameras.yaml`` every
``poll_interval_s`` (3 cameras × every 10 s ≈ 1,080 frames an hour, so frames are most of the
log and 100k events is about 3 days). Time is simulated (the stores share one clock that the
growth moves forward), so the log spans days while the run takes minutes. It grows in 5-minute
windows, each written as two ``Store.append`` batches like the app's writers: the staff events
through a store with the drill snapshot listener (as the app's store has), the frames through
a listener-free store (as the app's camera poller has) in :func:`record_frames`, the one place
to change when frames move out of the event log. The app's own measurements add a few events
at each size; sizes count every event of the incident.

Each size: one untimed warm-up of every operation, then ``--repeat`` rounds of the five in
turn (so a load spike hits all alike). p95 is the nearest rank (with 10 rounds, the slowest).
The machine's load average is printed before and after each size: other work on a shared
2-core machine shows up in the wall times, so the CPU time this process spent in each call is
printed too (it hardly moves with other processes' load; it leaves out the PostgreSQL
server's own work). No roads or residents are loaded, so the planner has
nothing to re-plan and HQ shows no flagged residents.

Run: ``python bench/long_incident.py [--sizes 10000,100000,500000]
[--engines sqlite,postgresql] [--repeat 10] [--postgresql-url URL]``
(PostgreSQL: a fresh schema, dropped afterwards).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import logging
import math
import os
import random
import re
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import create_engine, text

from disaster_dx import auth, drills, hq
from disaster_dx.auth import Role
from disaster_dx.cameras import load_registry
from disaster_dx.cameras.frames import frame_record, write_frame_row
from disaster_dx.config import Settings
from disaster_dx.events import (
    AREA_OUTSIDE_REPORTED,
    HAZARD_ANNOUNCED,
    HAZARD_CLEARED,
    SHELTER_CORRECTION,
    SHELTER_STATUS_REPORTED,
    NewEvent,
)
from disaster_dx.line import bot as line_bot
from disaster_dx.line.fake import FakeLineServer
from disaster_dx.model import Need, OpenState
from disaster_dx.store import Store
from disaster_dx.web import ids
from disaster_dx.web.context import EXTENSION_KEY
from disaster_dx.web.factory import create_app

START = datetime(2025, 9, 1, tzinfo=UTC)
WINDOW = timedelta(minutes=5)
AREAS = ["前浜", "浜改田", "十市", "稲生", "久枝", "大篠", "岡豊", "国府", "後免町", "岩村"]
NEEDS = [n.value for n in Need]
HAZARDS = {"tsunami": "津波警報", "flood": "洪水警報", "landslide": "土砂災害警戒情報"}
OPERATIONS = (
    ("state", "live state read"),
    ("write", "shelter write + publish"),
    ("public", "write → public files"),
    ("board", "HQ board callback"),
    ("line", "LINE location reply"),
    ("state_at", "state at a random instant"),
)
HQ_USER = "bench-hq"
LINE_SECRET = "bench-line-channel-secret"
LINE_TOKEN = "bench-line-token"


#: Random instants timed per round for "state at an instant" (their mean is the round's time).
INSTANTS_PER_ROUND = 25


class Timing(NamedTuple):
    """One timed call: wall-clock seconds, and CPU seconds this process spent meanwhile."""

    wall: float
    cpu: float


class Stopwatch:
    """Wall and process CPU time since creation.

    CPU time counts every thread of this process (the fake LINE API, background re-planning)
    but not the PostgreSQL server's work. Unlike wall time, it hardly moves when other
    processes load the machine, so it makes runs on a busy shared machine comparable.
    """

    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = time.process_time()

    def read(self) -> Timing:
        """Time since creation."""
        return Timing(time.perf_counter() - self.wall, time.process_time() - self.cpu)


class SimClock:
    """The simulated "now" every store of the run shares (growth moves it forward)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


# -- growing the incident ------------------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    """One camera frame as the poller records it (metadata; the bench stores no JPEG)."""

    camera_id: str
    captured_at: datetime
    size: int


def record_frames(store: Store, incident_id: str, frames: Sequence[Frame]) -> None:
    """Record frames the way the camera poller does: one ``camera_frames`` row per picture.

    The poller writes each row with :func:`write_frame_row` inside its status transaction;
    here a window's rows go in one transaction (the rows are the same; growing the table is
    the point, not timing the poller). The incident log is not touched: frames are telemetry.
    """
    if not frames:
        return
    with store._write() as conn:
        for f in frames:
            write_frame_row(
                conn,
                frame_record(
                    f.camera_id,
                    f.captured_at,
                    size_bytes=f.size,
                    width=1280,
                    height=720,
                    sha256=hashlib.sha256(f"{f.camera_id}{f.captured_at}".encode()).hexdigest(),
                ),
            )


class Growth:
    """Writes the synthetic incident window by window, up to any number of events.

    Parameters
    ----------
    staff_store
        Where staff events go: a store with the drill snapshot listener, as the app's has.
    poller_store
        Where camera frames go: a store without listeners, as the app's camera poller has.
    """

    def __init__(
        self,
        staff_store: Store,
        poller_store: Store,
        clock: SimClock,
        incident_id: str,
        shelter_ids: list[str],
        *,
        reports_per_hour: float,
        seed: int,
    ) -> None:
        self.staff_store = staff_store
        self.poller_store = poller_store
        self.clock = clock
        self.incident_id = incident_id
        self.shelter_ids = shelter_ids
        self.per_window = reports_per_hour * WINDOW.total_seconds() / 3600
        self.rng = random.Random(seed)
        self.cameras = [(c.camera_id, c.poll_interval_s) for c in load_registry().cameras]
        self.next_frame = {camera_id: clock.now for camera_id, _ in self.cameras}
        self.carry = 0.0
        self.frames = 0
        self.staff = 0

    @property
    def grown(self) -> int:
        """Events this growth wrote (the rest of the incident is the app's timed writes)."""
        return self.staff

    def grow_to(self, size: int) -> None:
        """Append windows until the incident holds ``size`` events; frames go beside the log.

        Camera frames are no longer incident events, so ``size`` counts the staff events (and
        the app's timed writes); the frames of the same simulated time go to ``camera_frames``
        at the poller's rate, so that table grows as it would (≈1,080 rows an hour).
        """
        remaining = size - self.staff_store.incident(self.incident_id).last_seq
        while remaining > 0:
            end = self.clock.now + WINDOW
            staff = self._staff_events()[:remaining]
            frames = self._frames_until(end)
            self.clock.now = end
            if staff:
                self.staff_store.append(self.incident_id, staff, actor=self._staff_actor())
            record_frames(self.poller_store, self.incident_id, frames)
            self.staff += len(staff)
            self.frames += len(frames)
            remaining -= len(staff)

    def _staff_actor(self) -> str:
        return self.rng.choice(["hq-tanaka", "hq-yamamoto", "staff-inou", "staff-gomen"])

    def _frames_until(self, end: datetime) -> list[Frame]:
        out = []
        for camera_id, interval in self.cameras:
            while self.next_frame[camera_id] < end:
                captured = self.next_frame[camera_id]
                out.append(Frame(camera_id, captured, self.rng.randint(40_000, 95_000)))
                self.next_frame[camera_id] = captured + timedelta(seconds=interval)
        out.sort(key=lambda f: f.captured_at)
        return out

    def _staff_events(self) -> list[NewEvent]:
        self.carry += self.per_window
        count, self.carry = int(self.carry), self.carry - int(self.carry)
        return [self._staff_event() for _ in range(count)]

    def _staff_event(self) -> NewEvent:
        rng = self.rng
        roll = rng.random()
        sid = rng.choice(self.shelter_ids)
        if roll < 0.80:
            payload: dict[str, Any] = {"shelter_id": sid, "evacuees": rng.randint(0, 400)}
            if rng.random() < 0.15:
                payload["open_state"] = rng.choice(
                    [OpenState.OPEN.value] * 3 + [OpenState.PREPARING.value, "closed"]
                )
            if rng.random() < 0.4:
                payload["households"] = payload["evacuees"] // 2
            if rng.random() < 0.2:
                payload["needs"] = rng.sample(NEEDS, rng.randint(0, 3))
            if rng.random() < 0.05:
                payload["urgent_needs"] = rng.sample(NEEDS, rng.randint(0, 2))
            if rng.random() < 0.1:
                payload["public_note"] = f"お知らせ {rng.randint(1, 999)}：給水は正面玄関で"
            if rng.random() < 0.1:
                payload["internal_note"] = f"本部連絡 {rng.randint(1, 9999)}"
            if rng.random() < 0.03:
                payload["pets_accepted"] = rng.random() < 0.5
                payload["barrier_free"] = rng.random() < 0.5
            return NewEvent(SHELTER_STATUS_REPORTED, payload)
        if roll < 0.88:
            return NewEvent(
                SHELTER_CORRECTION,
                {"shelter_id": sid, "evacuees": rng.randint(0, 400), "reason": "人数の訂正"},
            )
        if roll < 0.995:
            return NewEvent(
                AREA_OUTSIDE_REPORTED,
                {
                    "area": rng.choice(AREAS),
                    "at_home": rng.randint(0, 300),
                    "in_car": rng.randint(0, 80),
                },
            )
        hazard = rng.choice(sorted(HAZARDS))
        if rng.random() < 0.7:
            return NewEvent(HAZARD_ANNOUNCED, {"hazard": hazard, "title": HAZARDS[hazard]})
        return NewEvent(HAZARD_CLEARED, {"hazard": hazard})


# -- the app and its requests --------------------------------------------------------------------


def _login(client: Any, username: str, password: str) -> None:
    """Log the test client in through ``/login`` with its CSRF token, as a browser does."""
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    if token is None:
        raise RuntimeError("no CSRF token on /login")
    reply = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token[1], "next": "/hq"},
    )
    if reply.status_code != 302:
        raise RuntimeError(f"login as {username} failed: HTTP {reply.status_code}")


def _callback_body(
    app: Any, output_id: str, values: dict[tuple[str, str], Any], triggered: str
) -> dict[str, Any]:
    """The JSON the browser sends for the callback that outputs ``output_id``."""
    key = next(k for k in app.callback_map if f"{output_id}." in k)
    spec = app.callback_map[key]

    def items(group: list[dict[str, Any]]) -> list[Any]:
        return [{**i, "value": values.get((i["id"], i["property"]))} for i in group]

    outputs = []
    for part in key.strip(".").split("..."):
        component, prop = part.split("@")[0].rsplit(".", 1)
        outputs.append({"id": component, "property": prop})
    return {
        "output": key,
        "outputs": outputs,
        "inputs": items(spec["inputs"]),
        "state": items(spec["state"]),
        "changedPropIds": [triggered],
    }


class Probes:
    """The timed operations, on one app (its store, its listeners, its routes)."""

    def __init__(self, app: Any, clock: SimClock, fake_line: FakeLineServer, seed: int) -> None:
        context = app.server.extensions[EXTENSION_KEY]
        self.app = app
        self.store: Store = context.store
        self.settings: Settings = context.settings
        self.clock = clock
        self.fake_line = fake_line
        self.rng = random.Random(seed)
        self.incident_id = self.store.live_incident().incident_id
        self.shelters = self.store.shelters()
        password = "bench-hq-password-" + uuid.uuid4().hex
        auth.add_user(self.store, HQ_USER, password, [Role.HQ], actor="bench")
        self.user = auth.get_user(self.store, HQ_USER)
        self.client = app.server.test_client()
        self.password = password
        _login(self.client, HQ_USER, password)
        self.versions: dict[str, int] = {}
        self.evacuees: dict[str, int | None] = {}
        self.plans_seen: Any = {}
        self.force = 0

    def _tick(self) -> None:
        # Staff act "now": a second after the newest event, so times keep moving forward.
        self.clock.now += timedelta(seconds=1)

    def sync(self) -> None:
        """Learn every shelter's version and count (untimed; before the rounds of a size)."""
        state = self.store.state(self.incident_id)
        for shelter in self.shelters:
            status = state.shelter(shelter.shelter_id)
            self.versions[shelter.shelter_id] = status.version
            self.evacuees[shelter.shelter_id] = status.evacuees

    def state(self) -> dict[str, Timing]:
        started = Stopwatch()
        self.store.state(self.incident_id)
        return {"state": started.read()}

    def write(self) -> dict[str, Timing]:
        self._tick()
        sid = self.rng.choice(self.shelters).shelter_id
        count = self.rng.randint(0, 500)
        if count == self.evacuees[sid]:
            count += 1
        started = Stopwatch()
        event = hq.report_status(
            self.store,
            self.incident_id,
            self.user,
            sid,
            {"evacuees": count},
            seen_version=self.versions[sid],
        )
        returned = started.read()
        self._wait_public(sid, count)
        public = started.read()
        self.versions[sid], self.evacuees[sid] = event.seq, count
        return {"write": returned, "public": public}

    def _wait_public(self, shelter_id: str, count: int, timeout: float = 30.0) -> None:
        path = self.settings.public_dir / "shelters.geojson"
        deadline = time.perf_counter() + timeout
        while True:
            try:
                features = json.loads(path.read_bytes())["features"]
            except (OSError, ValueError):  # between a rename and its reader: look again
                features = []
            for feature in features:
                properties = feature["properties"]
                if properties["shelter_id"] == shelter_id and properties["evacuees"] == count:
                    return
            if time.perf_counter() > deadline:
                raise RuntimeError(f"{path} did not show the write within {timeout} s")
            time.sleep(0.001)

    def board(self) -> dict[str, Timing]:
        self._tick()
        self.force += 1
        values = {
            (ids.HQ_FORCE, "data"): self.force,
            (ids.HQ_SEQ, "data"): 0,
            (ids.HQ_PLANS, "data"): self.plans_seen,
            ("_pages_location", "search"): "",
        }
        body = _callback_body(self.app, ids.HQ_BOARD, values, f"{ids.HQ_FORCE}.data")
        started = Stopwatch()
        reply = self.client.post("/_dash-update-component", json=body)
        elapsed = started.read()
        if reply.status_code != 200:
            raise RuntimeError(f"HQ board callback: HTTP {reply.status_code}")
        response = reply.json["response"]
        if len(response[ids.HQ_BOARD]["rowData"]) != len(self.shelters):
            raise RuntimeError("HQ board callback did not list every shelter")
        self.plans_seen = response[ids.HQ_PLANS]["data"]
        return {"board": elapsed}

    def line(self) -> dict[str, Timing]:
        self._tick()
        near = self.rng.choice(self.shelters)
        body = line_bot.sample_webhook_body(
            "location",
            lon=near.lon + self.rng.uniform(-0.01, 0.01),
            lat=near.lat + self.rng.uniform(-0.01, 0.01),
        )
        raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = {"X-Line-Signature": line_bot.signature(LINE_SECRET, raw)}
        replies_before = len(self.fake_line.by_endpoint("reply"))
        started = Stopwatch()
        reply = self.client.post(
            "/line/webhook", data=raw, headers=headers, content_type="application/json"
        )
        elapsed = started.read()
        if reply.status_code != 200:
            raise RuntimeError(f"LINE webhook: HTTP {reply.status_code}")
        sent = self.fake_line.by_endpoint("reply")
        if len(sent) != replies_before + 1 or not sent[-1].messages:
            raise RuntimeError("LINE webhook did not send one reply")
        return {"line": elapsed}

    def state_at(self) -> dict[str, Timing]:
        """The mean of :data:`INSTANTS_PER_ROUND` random instants (one timing per round).

        A call costs the fold of the events between the nearest snapshot and the instant: 0 to
        :data:`~disaster_dx.projection.SNAPSHOT_EVERY` of them, uniformly. A median of ten
        single draws mostly measured which tails were drawn (3.0 vs 7.2 ms for the same code);
        the mean of many draws per round measures the code.
        """
        incident = self.store.incident(self.incident_id)
        assert incident.last_at is not None
        span = (incident.last_at - incident.created_at).total_seconds()
        moments = [
            incident.created_at + timedelta(seconds=self.rng.uniform(0, span))
            for _ in range(INSTANTS_PER_ROUND)
        ]
        started = Stopwatch()
        for moment in moments:
            drills.state_at(self.store, self.incident_id, moment)
        total = started.read()
        return {
            "state_at": Timing(total.wall / len(moments), total.cpu / len(moments)),
        }

    def rounds(self, repeat: int) -> dict[str, list[Timing]]:
        """One untimed warm-up of each operation, then ``repeat`` timed rounds of all."""
        # The growth moved the simulated clock by hours or days: the HQ session has ended by
        # the app's own idle and absolute limits, as a real one would. Log in again (untimed).
        self.client = self.app.server.test_client()
        _login(self.client, HQ_USER, self.password)
        operations: list[Callable[[], dict[str, Timing]]] = [
            self.state,
            self.write,
            self.board,
            self.line,
            self.state_at,
        ]
        self.sync()
        for operation in operations:
            operation()
        times: dict[str, list[Timing]] = {name: [] for name, _ in OPERATIONS}
        for _ in range(repeat):
            for operation in operations:
                for name, timing in operation().items():
                    times[name].append(timing)
            gc.collect()  # between rounds, not inside a timed call
        return times


# -- engines, running, printing ------------------------------------------------------------------


@contextmanager
def database(engine: str, folder: Path, postgresql_url: str) -> Iterator[tuple[str, str | None]]:
    """A fresh database: a SQLite file, or a PostgreSQL schema dropped afterwards."""
    if engine == "sqlite":
        yield f"sqlite:///{folder / 'bench.sqlite3'}", None
        return
    schema = f"bench_long_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgresql_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield postgresql_url, schema
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def load_text() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def run_engine(engine: str, args: argparse.Namespace) -> dict[int, dict[str, list[Timing]]]:
    """Grow one live incident on ``engine`` through every size; the timings at each size."""
    results: dict[int, dict[str, list[Timing]]] = {}
    with (
        tempfile.TemporaryDirectory() as tmp,
        database(engine, Path(tmp), args.postgresql_url) as (url, schema),
        FakeLineServer(token=LINE_TOKEN) as fake_line,
    ):
        folder = Path(tmp)
        clock = SimClock(START)
        settings = Settings(
            database_url=url,
            data_dir=folder / "var",
            public_dir=folder / "public",
            secret_key="bench-" + uuid.uuid4().hex + uuid.uuid4().hex,
            line_channel_secret=LINE_SECRET,
            line_channel_access_token=LINE_TOKEN,
            line_api_base=fake_line.base_url,
            line_worker="off",  # no sender thread: only the webhook's reply is measured
        )
        app_store = Store(url, schema=schema, clock=clock)
        staff_store = Store(url, schema=schema, clock=clock)
        poller_store = Store(url, schema=schema, clock=clock)
        app = create_app(settings, store=app_store)
        try:
            probes = Probes(app, clock, fake_line, args.seed)
            growth = Growth(
                staff_store,
                poller_store,
                clock,
                probes.incident_id,
                [s.shelter_id for s in probes.shelters],
                reports_per_hour=args.reports_per_hour,
                seed=args.seed,
            )
            print(f"\n== {engine} ({app_store.dialect}); load average before: {load_text()}")
            for size in args.sizes:
                started = time.perf_counter()
                growth.grow_to(size)
                grown = time.perf_counter() - started
                hours = (clock.now - START).total_seconds() / 3600
                extra = probes.store.incident(probes.incident_id).last_seq - growth.grown
                print(
                    f"{size:>9,} events: {hours:,.0f} h of incident; {growth.frames:,} camera "
                    f"frames + {growth.staff:,} staff events grown in {grown:.0f} s (+ {extra} "
                    f"by the timed writes so far); load {load_text()}",
                    flush=True,
                )
                started = time.perf_counter()
                results[size] = probes.rounds(args.repeat)
                print(
                    f"{'':>9}  measured in {time.perf_counter() - started:.0f} s; "
                    f"load {load_text()}"
                )
                for name, label in OPERATIONS:
                    wall, cpu = _ms(results[size][name])
                    print(
                        f"{'':>11}{label:<28} median {statistics.median(wall):>9.1f} ms   "
                        f"p95 {percentile(wall, 0.95):>9.1f} ms   "
                        f"CPU median {statistics.median(cpu):>9.1f} ms"
                    )
                print(flush=True)
        finally:
            planner = app.server.extensions.get("disaster_dx.plans")
            if planner is not None:
                planner.close()
            for store in (app_store, staff_store, poller_store):
                store.dispose()
    return results


def _ms(timings: Sequence[Timing]) -> tuple[list[float], list[float]]:
    return [t.wall * 1000 for t in timings], [t.cpu * 1000 for t in timings]


def _short(size: int) -> str:
    return f"{size / 1000:g}k"


def print_table(engine: str, results: dict[int, dict[str, list[Timing]]]) -> None:
    """Wall time (median / p95) and CPU time (median) per size, and largest / smallest size."""
    sizes = sorted(results)
    first, last = sizes[0], sizes[-1]
    ratio = f"{_short(last)} / {_short(first)}" if len(sizes) > 1 else ""
    for title, width, cells, growth in (
        ("wall ms, median / p95", 22, _wall_cells, _wall_ratio),
        ("CPU ms of this process, median", 14, _cpu_cells, _cpu_ratio),
    ):
        print(
            f"{engine + ': ' + title:<40}" + "".join(f"{_short(s):>{width}}" for s in sizes), end=""
        )
        print(f"{ratio:>18}")
        for name, label in OPERATIONS:
            line = f"{label:<40}"
            for size in sizes:
                line += f"{cells(results[size][name]):>{width}}"
            if len(sizes) > 1:
                line += f"{growth(results[first][name], results[last][name]):>18}"
            print(line)
        print()


def _wall_cells(timings: Sequence[Timing]) -> str:
    wall, _cpu = _ms(timings)
    return f"{statistics.median(wall):,.1f} / {percentile(wall, 0.95):,.1f}"


def _cpu_cells(timings: Sequence[Timing]) -> str:
    _wall, cpu = _ms(timings)
    return f"{statistics.median(cpu):,.1f}"


def _wall_ratio(small: Sequence[Timing], large: Sequence[Timing]) -> str:
    (a, _), (b, _) = _ms(small), _ms(large)
    median = statistics.median(b) / statistics.median(a)
    p95 = percentile(b, 0.95) / percentile(a, 0.95)
    return f"{median:.1f}× / {p95:.1f}×"


def _cpu_ratio(small: Sequence[Timing], large: Sequence[Timing]) -> str:
    (_, a), (_, b) = _ms(small), _ms(large)
    return f"{statistics.median(b) / statistics.median(a):.1f}×"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default="10000,100000,500000",
        help="incident sizes in events, ascending (default: 10000,100000,500000)",
    )
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--repeat", type=int, default=10, help="timed rounds at each size")
    parser.add_argument(
        "--reports-per-hour",
        type=float,
        default=1200,
        help="staff events per hour of incident (shelter reports, corrections, areas, hazards; "
        "1,200 = a busy day, about 9 per shelter an hour: 500k events ≈ 17 days)",
    )
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument(
        "--postgresql-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    args = parser.parse_args()
    args.sizes = [int(s.replace("_", "")) for s in args.sizes.split(",")]
    if args.sizes != sorted(set(args.sizes)) or args.sizes[0] < 1000:
        parser.error("--sizes must be ascending, distinct, each at least 1000")
    engines = [e.strip() for e in args.engines.split(",")]
    if not engines or not set(engines) <= {"sqlite", "postgresql"}:
        parser.error("--engines takes sqlite and/or postgresql")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    print(
        f"long incident: sizes {', '.join(f'{s:,}' for s in args.sizes)} events; "
        f"{args.repeat} timed rounds each; {os.cpu_count()} CPUs; "
        f"load average {load_text()} (1, 5, 15 min)"
    )
    results = {engine: run_engine(engine, args) for engine in engines}
    print(f"\nload average at the end: {load_text()}")
    print()
    for engine, by_size in results.items():
        print_table(engine, by_size)


if __name__ == "__main__":
    main()
