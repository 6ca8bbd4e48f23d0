"""Schema migrations: a city upgrading keeps its log, and migrations equal the models.

The "database created by today's release" is built from ``tests/fixtures/release_0_1`` (the
DDL release 0.1 issued, captured from its code; see the README there) and filled with rows
written in terms of that schema only, never through today's store, so the test keeps meaning
what it means however the models change.
"""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import inspect, text
from werkzeug.security import generate_password_hash

from disaster_dx import auth, migrations
from disaster_dx.cli import main
from disaster_dx.events import Event, fold
from disaster_dx.migrations import SchemaError
from disaster_dx.store import Store
from tests.common import ROOT
from tests.conftest import POSTGRES_URL, fresh_postgres_schema, postgres_problem, skip_or_fail

RELEASE_0_1 = ROOT / "tests" / "fixtures" / "release_0_1"
UNUSED_TABLES = {"camera_leases", "drill_lease", "line_lease"}
INCIDENT = "live-20261120-0a1b2c3d"
DRILL = "drill-20261101-9f8e7d6c"
T0 = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
PASSWORD = "pw-hq-tanaka-0123456789"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database: a SQLite file, or a fresh PostgreSQL schema.

    The schema is chosen in the URL (``options=-csearch_path``) as ``database_url`` does, so
    the CLI and a ``Store`` opened on the URL both run the migrations in that schema.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'city.sqlite3'}"
        return
    problem = postgres_problem()
    if problem:
        skip_or_fail("postgres", problem)
    with fresh_postgres_schema(POSTGRES_URL, "dx_mig") as schema:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"


@pytest.fixture
def open_store(empty_url: str) -> Iterator[Store]:
    """A store on the empty database (no schema created), closed after the test."""
    store = Store(empty_url)
    yield store
    store.dispose()


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, empty_url: str) -> str:
    """Point the CLI at the empty database; returns its URL."""
    for name in ("DX_ADMIN_USER", "DX_ADMIN_PASSWORD", "DISASTER_DX_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("PUBLIC_DIR", str(tmp_path / "public"))
    monkeypatch.setenv("DATABASE_URL", empty_url)
    monkeypatch.chdir(tmp_path)
    return empty_url


# -- a database created by release 0.1 ----------------------------------------------------------


def create_release_0_1_schema(store: Store) -> None:
    """Run release 0.1's DDL (and the unused tables earlier versions left) on ``store``."""
    script = (RELEASE_0_1 / f"schema.{store.dialect}.sql").read_text(encoding="utf-8")
    statements = [
        "\n".join(line for line in chunk.splitlines() if not line.startswith("--")).strip()
        for chunk in script.split(";\n")
    ]
    with store.engine.begin() as conn:
        for statement in filter(None, statements):
            conn.exec_driver_sql(statement)


def _table(name: str, **types: sa.types.TypeEngine[Any]) -> tuple[str, dict[str, Any]]:
    """A table of release 0.1 by name: only the column types that need converting are given."""
    return name, types


def _insert(conn: sa.Connection, table: tuple[str, dict[str, Any]], rows: list[dict]) -> None:
    """Insert ``rows`` naming the columns of release 0.1 (no model of today's is involved)."""
    name, types = table
    clause = sa.table(name, *(sa.column(column, types.get(column)) for column in rows[0]))
    conn.execute(sa.insert(clause), rows)


WHEN = sa.DateTime(timezone=True)


def _events() -> list[dict[str, Any]]:
    """520 events of one live incident: every kind HQ writes, plus camera frames.

    More than the 500 that make a state snapshot, so rebuilding derived data has work to do.
    """
    rows: list[dict[str, Any]] = []

    def add(event_type: str, payload: dict[str, Any], subject: str | None, actor: str) -> None:
        seq = len(rows) + 1
        rows.append(
            {
                "incident_id": INCIDENT,
                "seq": seq,
                "at": T0 + timedelta(seconds=30 * seq),
                "actor": actor,
                "type": event_type,
                "subject": subject,
                "payload": payload,
            }
        )

    add("hazard.announced", {"hazard": "tsunami", "title": "大津波警報"}, None, "hq-tanaka")
    for step in range(1, 129):
        shelter = f"S{step % 7}"
        add(
            "shelter.status_reported",
            {"shelter_id": shelter, "open_state": "open", "evacuees": step * 3},
            f"shelter:{shelter}",
            "staff-suzuki",
        )
        frame = T0 + timedelta(seconds=30 * step)
        for camera in ("coast", "river", "town"):
            add(
                "camera.frame",
                {
                    "camera_id": camera,
                    "frame": frame.strftime("%Y%m%dT%H%M%S%fZ"),
                    "captured_at": frame.isoformat(),
                    "bytes": 51_200,
                    "width": 1280,
                    "height": 720,
                    "sha256": "ab" * 32,
                },
                f"camera:{camera}",
                "camera-poller",
            )
        if step % 25 == 0:
            add(
                "shelter.correction",
                {"shelter_id": shelter, "evacuees": step, "reason": "入力誤り"},
                f"shelter:{shelter}",
                "hq-tanaka",
            )
    add("area.outside_reported", {"area": "十市", "in_car": 12}, "area:十市", "hq-tanaka")
    add("incident.message", {"text": "毛布を配布します"}, None, "hq-tanaka")
    assert len(rows) == 520
    return rows


def fill_release_0_1(store: Store) -> None:
    """Rows of every kind a city has: incidents, events, users, audit, plans, cameras, LINE."""
    events = _events()
    rows: list[tuple[tuple[str, dict[str, Any]], list[dict[str, Any]]]] = [
        (
            _table("incidents", created_at=WHEN, closed_at=WHEN, last_at=WHEN),
            [
                {
                    "incident_id": INCIDENT,
                    "kind": "live",
                    "title": "南国市 災害対策本部",
                    "created_at": T0,
                    "created_by": "init",
                    "closed_at": None,
                    "last_seq": len(events),
                    "last_at": events[-1]["at"],
                    "show_on_public": False,
                },
                {
                    "incident_id": DRILL,
                    "kind": "drill",
                    "title": "南海トラフ訓練",
                    "created_at": T0 - timedelta(days=19),
                    "created_by": "drill-op",
                    "closed_at": T0 - timedelta(days=19) + timedelta(hours=2),
                    "last_seq": 0,
                    "last_at": None,
                    "show_on_public": True,
                },
            ],
        ),
        (_table("events", at=WHEN, payload=sa.JSON()), events),
        (
            _table("imports", imported_at=WHEN, notes=sa.JSON()),
            [
                {
                    "import_id": 1,
                    "kind": "shelters",
                    "source": "evacuation_392049.geojson",
                    "sha256": "cd" * 32,
                    "imported_at": T0 - timedelta(days=30),
                    "actor": "init",
                    "added": 1,
                    "changed": 0,
                    "removed": 0,
                    "notes": ["1 行目: 住所なし"],
                }
            ],
        ),
        (
            _table(
                "shelters", kinds=sa.JSON(), hazards=sa.JSON(), gsi_ids=sa.JSON(), source=sa.JSON()
            ),
            [
                {
                    "shelter_id": "S1",
                    "name": "稲生小学校",
                    "address": "高知県南国市稲生561-1",
                    "lon": 133.62369,
                    "lat": 33.546843,
                    "kinds": ["designated", "emergency"],
                    "hazards": ["earthquake", "tsunami"],
                    "gsi_ids": ["S1"],
                    "capacity": 300,
                    "municipality_code": "392049",
                    "source": {"S1": {"施設・場所名": "稲生小学校"}},
                    "active": True,
                    "import_id": 1,
                }
            ],
        ),
        (
            _table("shelter_history", before=sa.JSON(), after=sa.JSON()),
            [
                {
                    "import_id": 1,
                    "shelter_id": "S1",
                    "change": "added",
                    "before": None,
                    "after": {"name": "稲生小学校"},
                }
            ],
        ),
        (
            _table("users", roles=sa.JSON(), shelter_ids=sa.JSON(), created_at=WHEN),
            [
                {
                    "username": "hq-tanaka",
                    "display_name": "田中",
                    "password_hash": generate_password_hash(PASSWORD),
                    "roles": ["hq"],
                    "shelter_ids": [],
                    "disabled": False,
                    "created_at": T0 - timedelta(days=30),
                    "created_by": "init",
                },
                {
                    "username": "staff-suzuki",
                    "display_name": "鈴木",
                    "password_hash": generate_password_hash("pw-staff-suzuki-0123456789"),
                    "roles": ["shelter_staff"],
                    "shelter_ids": ["S1"],
                    "disabled": True,
                    "created_at": T0 - timedelta(days=29),
                    "created_by": "hq-tanaka",
                },
            ],
        ),
        (
            _table("audit_log", at=WHEN, detail=sa.JSON()),
            [
                {
                    "at": T0 + timedelta(minutes=minute),
                    "actor": actor,
                    "action": action,
                    "target": target,
                    "detail": detail,
                }
                for minute, actor, action, target, detail in (
                    (0, "init", "user.add", "hq-tanaka", {"roles": ["hq"]}),
                    (5, "hq-tanaka", "login", "", {}),
                    (9, "anonymous", "login.failed", "hq-tanaka", {"address": "192.0.2.7"}),
                    (12, "planner-ito", "plan.read", "R-0001", {"hazard": "tsunami"}),
                )
            ],
        ),
        (
            _table("leases", expires_at=WHEN, acquired_at=WHEN),
            [
                {
                    "name": "camera:coast",
                    "holder": "host-a:123",
                    "expires_at": T0 + timedelta(minutes=1),
                    "acquired_at": T0,
                }
            ],
        ),
        (
            _table("camera_registry", updated_at=WHEN),
            [
                {
                    "camera_id": "coast",
                    "name_ja": "海岸鉄塔",
                    "name_en": "Coast tower",
                    "lon": 133.64,
                    "lat": 33.55,
                    "height_m": 30.0,
                    "heading_deg": 180.0,
                    "fov_deg": 60.0,
                    "range_m": 2000.0,
                    "poll_interval_s": 10.0,
                    "public": False,
                    "feed_kind": "jpeg_snapshot",
                    "active": True,
                    "updated_at": T0,
                    "updated_by": "admin",
                }
            ],
        ),
        (
            _table(
                "camera_status",
                polling_since=WHEN,
                last_attempt_at=WHEN,
                last_frame_at=WHEN,
                last_error_at=WHEN,
                updated_at=WHEN,
            ),
            [
                {
                    "camera_id": "coast",
                    "polling_since": T0,
                    "last_attempt_at": T0 + timedelta(hours=1),
                    "last_frame_at": T0 + timedelta(hours=1),
                    "last_frame_key": "20261120T020000000000Z",
                    "last_error_kind": None,
                    "last_error": None,
                    "last_error_at": None,
                    "failures": 0,
                    "holder": "host-a:123",
                    "updated_at": T0 + timedelta(hours=1),
                }
            ],
        ),
        (
            _table(
                "plan_residents",
                needs=sa.JSON(),
                updated_at=WHEN,
            ),
            [
                {
                    "resident_id": "R-0001",
                    "name": "架空 花子",
                    "address": "南国市十市1",
                    "lon": 133.61,
                    "lat": 33.53,
                    "mobility": "wheelchair",
                    "needs": ["電源"],
                    "supporter_name": "架空 太郎",
                    "supporter_contact": "088-000-0000",
                    "consent": True,
                    "building_id": None,
                    "note": "",
                    "updated_at": T0,
                    "updated_by": "planner-ito",
                }
            ],
        ),
        (
            _table("plan_results", computed_at=WHEN),
            [
                {
                    "resident_id": "R-0001",
                    "hazard": "tsunami",
                    "incident_id": INCIDENT,
                    "state_seq": 100,
                    "computed_at": T0 + timedelta(minutes=50),
                    "status": "ok",
                    "flagged": True,
                    "destination_id": "S1",
                    "length_m": 812.5,
                    "minutes": 14.2,
                    "margin_min": -3.5,
                }
            ],
        ),
        (_table("line_cursor"), [{"incident_id": INCIDENT, "last_seq": 400}]),
        (
            _table(
                "line_messages",
                items=sa.JSON(),
                created_at=WHEN,
                due_at=WHEN,
                updated_at=WHEN,
                sent_at=WHEN,
            ),
            [
                {
                    "message_key": f"status:{INCIDENT}:1",
                    "kind": "status",
                    "incident_id": INCIDENT,
                    "status": "sent",
                    "items": [{"shelter_id": "S1", "change": "opened"}],
                    "text": "【南国市】避難所を開設しました",
                    "created_at": T0,
                    "created_by": "system",
                    "due_at": T0 + timedelta(minutes=2),
                    "updated_at": T0 + timedelta(minutes=2),
                    "updated_by": "line-sender",
                    "sent_at": T0 + timedelta(minutes=2),
                }
            ],
        ),
        (
            _table("line_deliveries", next_attempt_at=WHEN, sent_at=WHEN),
            [
                {
                    "message_key": f"status:{INCIDENT}:1",
                    "target": "broadcast",
                    "retry_key": str(uuid.UUID(int=1)),
                    "recipients": 0,
                    "status": "sent",
                    "attempts": 1,
                    "next_attempt_at": T0 + timedelta(minutes=2),
                    "sent_at": T0 + timedelta(minutes=2),
                    "request_id": "req-1",
                    "last_error": "",
                }
            ],
        ),
        (
            _table("line_delivery_log", at=WHEN),
            [
                {
                    "at": T0 + timedelta(minutes=2),
                    "kind": "send",
                    "message_key": f"status:{INCIDENT}:1",
                    "target": "broadcast",
                    "attempt": 1,
                    "outcome": "sent",
                    "status_code": 200,
                    "request_id": "req-1",
                    "user_hash": "",
                    "detail": "",
                }
            ],
        ),
        (
            _table("line_rate", window_start=WHEN),
            [{"user_hash": "e" * 32, "window_start": T0, "count": 3}],
        ),
        (
            _table("line_webhook_seen", seen_at=WHEN),
            [{"event_id": "01HWEBHOOKEVENT", "seen_at": T0}],
        ),
        # what earlier versions left behind: dropped by revision 0002 even with rows in them
        (
            _table("camera_leases", expires_at=WHEN, acquired_at=WHEN),
            [{"camera_id": "coast", "holder": None, "expires_at": T0, "acquired_at": None}],
        ),
        (
            _table("drill_lease", acquired_at=WHEN, expires_at=WHEN),
            [{"name": "drill-scheduler", "holder": "h", "acquired_at": T0, "expires_at": T0}],
        ),
        (
            _table("line_lease", expires_at=WHEN),
            [{"name": "line-sender", "holder": "h", "expires_at": T0}],
        ),
    ]
    with store.engine.begin() as conn:
        for table, values in rows:
            _insert(conn, table, values)
        if store.dialect == "postgresql":
            # The rows above carry their ids; a real city's rows took them from the serial
            # sequences, which therefore stand after them. Make it so here too.
            for table, column in (
                ("imports", "import_id"),
                ("audit_log", "audit_id"),
                ("line_delivery_log", "log_id"),
            ):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                        f"(SELECT coalesce(max({column}), 0) + 1 FROM {table}), false)"
                    )
                )


#: Tables whose every row an upgrade must keep as it was (derived data may be rebuilt).
KEPT_TABLES = (
    "incidents",
    "events",
    "imports",
    "shelters",
    "shelter_history",
    "users",
    "audit_log",
    "leases",
    "camera_registry",
    "camera_status",
    "plan_residents",
    "plan_results",
    "line_cursor",
    "line_messages",
    "line_deliveries",
    "line_delivery_log",
    "line_rate",
    "line_webhook_seen",
)


def dump_rows(store: Store) -> dict[str, list[dict[str, Any]]]:
    """Every row of the kept tables, in a stable order, as the database returns them."""
    dumped = {}
    with store.engine.connect() as conn:
        for name in KEPT_TABLES:
            table = sa.Table(name, sa.MetaData(), autoload_with=conn)
            query = sa.select(table).order_by(*table.primary_key.columns)
            dumped[name] = [dict(row._mapping) for row in conn.execute(query)]
    return dumped


def expected_state_after(rows: list[dict[str, Any]]) -> Any:
    """The fold of the events as written (not as read back): what the state must be."""
    return fold(
        Event(
            incident_id=r["incident_id"],
            seq=r["seq"],
            at=r["at"],
            actor=r["actor"],
            type=r["type"],
            payload=r["payload"],
            subject=r["subject"],
        )
        for r in rows
    )


def check_upgraded(store: Store, before: dict[str, list[dict[str, Any]]]) -> None:
    """Everything the upgrade promises, checked on ``store``."""
    # Every event, user, audit, plan, camera and LINE row, each column as it was (later
    # revisions may add columns: those are compared by the schema check below). Only
    # `imports` may gain a row: `init` loads the bundled areas into a database that had none;
    # and `audit_log` one: `init` stores the city's bundled outline (audited `city.outline`).
    after = dump_rows(store)
    assert {
        name: [{k: row[k] for k in old} for row, old in zip(rows, before[name], strict=False)]
        for name, rows in after.items()
    } == before
    grown = {name for name, rows in after.items() if len(rows) != len(before[name])}
    assert grown <= {"imports", "audit_log"}
    assert len(after["imports"]) - len(before["imports"]) <= 1
    added_audit = after["audit_log"][len(before["audit_log"]) :]
    assert [row["action"] for row in added_audit] in ([], ["city.outline"])
    assert sum(len(rows) for rows in before.values()) > 540
    tables = set(inspect(store.engine).get_table_names())
    assert not tables & UNUSED_TABLES
    assert migrations.current_revision(store) == migrations.head()
    with store.engine.connect() as conn:
        assert migrations.schema_differences(conn) == []
    state = store.state(INCIDENT)
    assert state == fold(store.iter_events(INCIDENT))
    assert state == expected_state_after(_events())
    assert state.shelter("S5").evacuees == 124 * 3  # the last report to S5 (step 124)
    assert store.incident(DRILL).show_on_public
    # derived data was rebuilt from the log: the snapshot at event 500 exists
    with store.engine.connect() as conn:
        snapshots = conn.execute(text("SELECT seq FROM state_snapshots")).scalars().all()
    assert list(snapshots) == [500]
    # camera pictures logged as events by release 0.1 became camera_frames rows, one each
    frame_events = [e for e in _events() if e["type"] == "camera.frame"]
    with store.engine.connect() as conn:
        frames = conn.execute(
            text("SELECT camera_id, frame_key FROM camera_frames ORDER BY captured_at, camera_id")
        ).all()
    assert [(c, k) for c, k in frames] == [
        (e["payload"]["camera_id"], e["payload"]["frame"]) for e in frame_events
    ]
    # and the old accounts still sign in (the password hashes came through untouched)
    assert auth.authenticate(store, "hq-tanaka", PASSWORD) is not None


def test_a_release_0_1_database_upgrades_keeping_every_row(open_store: Store) -> None:
    create_release_0_1_schema(open_store)
    fill_release_0_1(open_store)
    assert set(inspect(open_store.engine).get_table_names()) >= UNUSED_TABLES
    before = dump_rows(open_store)

    change = open_store.create_schema()

    assert change.action == "adopted"
    assert (change.before, change.after) == (None, migrations.head())
    check_upgraded(open_store, before)
    after = dump_rows(open_store)
    again = open_store.create_schema()
    assert again.action == "current"
    assert dump_rows(open_store) == after


def test_disaster_dx_init_upgrades_a_release_0_1_database(
    cli_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store = Store(cli_env)
    try:
        create_release_0_1_schema(store)
        fill_release_0_1(store)
        before = dump_rows(store)

        assert main(["init"]) == 0
        err = capsys.readouterr().err
        assert "from before migrations (release 0.1)" in err
        assert "already initialised: 1 shelters" in err  # the city's master, not the bundled one
        assert f"live incident: {INCIDENT}" in err  # the incident HQ was working in
        check_upgraded(store, before)

        assert main(["init"]) == 0
        assert "database schema is up to date" in capsys.readouterr().err
    finally:
        store.dispose()


def test_a_release_0_1_database_that_lazily_lacked_module_tables_gets_them(
    open_store: Store,
) -> None:
    # Release 0.1 created module tables on first use: a city that never used LINE or plans
    # has only some of them. Adopting the database creates the rest.
    create_release_0_1_schema(open_store)
    with open_store.engine.begin() as conn:
        for name in ("line_rate", "line_webhook_seen", "plan_results", "plan_residents"):
            conn.exec_driver_sql(f"DROP TABLE {name}")
    assert open_store.create_schema().action == "adopted"
    with open_store.engine.connect() as conn:
        assert migrations.schema_differences(conn) == []


def test_a_pre_migration_database_missing_a_column_is_refused_and_left_as_it_was(
    open_store: Store,
) -> None:
    create_release_0_1_schema(open_store)
    with open_store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE users")
        conn.exec_driver_sql(
            "CREATE TABLE users (username VARCHAR(64) NOT NULL PRIMARY KEY, "
            "password_hash VARCHAR(300) NOT NULL)"
        )
    with pytest.raises(SchemaError, match=r"column users\.display_name"):
        open_store.create_schema()
    tables = set(inspect(open_store.engine).get_table_names())
    assert tables >= UNUSED_TABLES and "alembic_version" not in tables


# -- migrations equal the models ------------------------------------------------------------------


def _run_chain(store: Store, target: str, *, down: bool = False) -> None:
    with store.engine.begin() as conn:
        config = migrations.alembic_config(conn)
        (command.downgrade if down else command.upgrade)(config, target)


def test_the_migration_chain_from_empty_gives_exactly_the_models_schema(
    open_store: Store,
) -> None:
    _run_chain(open_store, "head")
    with open_store.engine.connect() as conn:
        assert migrations.schema_differences(conn) == []
    assert migrations.current_revision(open_store) == migrations.head()

    # the comparison sees a difference when there is one (it can fail)
    with open_store.engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_events_subject")
    with open_store.engine.connect() as conn:
        differences = migrations.schema_differences(conn)
    assert [d[0] for d in differences] == ["add_index"]
    assert differences[0][1].name == "ix_events_subject"


def test_create_all_and_stamp_gives_the_same_schema_as_the_chain(open_store: Store) -> None:
    assert open_store.create_schema().action == "created"
    assert migrations.current_revision(open_store) == migrations.head()
    with open_store.engine.connect() as conn:
        assert migrations.schema_differences(conn) == []
    assert open_store.create_schema().action == "current"


def test_every_revision_downgrades_and_upgrades_again(open_store: Store) -> None:
    _run_chain(open_store, "head")
    _run_chain(open_store, "base", down=True)
    assert set(inspect(open_store.engine).get_table_names()) <= {"alembic_version"}
    _run_chain(open_store, "head")
    with open_store.engine.connect() as conn:
        assert migrations.schema_differences(conn) == []


def test_all_metadata_covers_every_table_the_chain_creates(open_store: Store) -> None:
    _run_chain(open_store, "head")
    created = set(inspect(open_store.engine).get_table_names()) - {"alembic_version"}
    assert created == migrations.model_table_names()
    assert {"events", "leases", "state_snapshots", "camera_status", "plan_results"} <= created
    assert "line_webhook_seen" in created


def test_a_new_revision_autogenerated_now_would_be_empty(tmp_path: Path) -> None:
    # What `python -m disaster_dx.migrations revision` writes, on a copy of the revisions:
    # nothing to do, because the chain already gives the models' schema.
    copy = tmp_path / "migrations"
    shutil.copytree(migrations.MIGRATIONS_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    path = migrations.write_revision("nothing yet", rev_id="0999_probe", script_location=copy)
    assert path == copy / "versions" / "0999_probe.py"
    written = path.read_text(encoding="utf-8")
    assert f"down_revision = {migrations.head()!r}" in written
    assert "op." not in written.split("def downgrade")[0].split("def upgrade")[1]


def test_workers_starting_at_once_create_the_schema_once(empty_url: str) -> None:
    stores = [Store(empty_url) for _ in range(4)]
    results: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(stores))

    def worker(store: Store) -> None:
        start.wait()
        try:
            results.append(store.create_schema().action)
        except BaseException as exc:  # reported below, with the others' results
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert sorted(results) == ["created", "current", "current", "current"]
        assert migrations.current_revision(stores[0]) == migrations.head()
    finally:
        for store in stores:
            store.dispose()


def test_a_database_from_a_newer_release_is_refused_clearly(open_store: Store) -> None:
    open_store.create_schema()
    with open_store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099_from_the_future'"))
    with pytest.raises(SchemaError, match=r"'0099_from_the_future'.*newer release"):
        open_store.create_schema()
    status = migrations.database_status(open_store)
    assert not status.is_current
    assert "unknown to this version" in status.summary()
    assert not any(r.applied or r.current for r in migrations.history(open_store))


# -- the `disaster-dx db` commands ----------------------------------------------------------------


def test_db_commands_report_and_upgrade(cli_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    head = migrations.head()
    touched = Store(cli_env)  # an empty database exists (a SQLite file, a PostgreSQL schema)
    touched.engine.connect().close()
    touched.dispose()
    assert main(["db", "current"]) == 0
    assert capsys.readouterr().out.startswith("none: an empty database")
    assert main(["db", "current", "--check"]) == 1
    assert "needs `disaster-dx db upgrade`" in capsys.readouterr().err

    assert main(["db", "upgrade"]) == 0
    assert "created the database schema" in capsys.readouterr().err
    assert main(["db", "current", "--check"]) == 0
    assert capsys.readouterr().out.strip() == f"{head} (head)"

    assert main(["db", "history"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"* {head} (head, current): ")
    assert lines[-1].startswith("* 0001_release_0_1: Release 0.1")
    assert len(lines) == len(migrations.history())

    assert main(["db", "upgrade", "--rebuild-derived"]) == 0
    err = capsys.readouterr().err
    assert "up to date" in err and "rebuilt derived data" in err


def test_db_current_on_a_release_0_1_database_then_upgrade(
    cli_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store = Store(cli_env)
    try:
        create_release_0_1_schema(store)
        fill_release_0_1(store)
        before = dump_rows(store)
        assert main(["db", "current"]) == 0
        assert "before migrations (release 0.1)" in capsys.readouterr().out
        assert main(["db", "history"]) == 0
        assert not any(line.startswith("*") for line in capsys.readouterr().out.splitlines())
        assert main(["db", "upgrade"]) == 0
        assert "upgraded a database from before migrations" in capsys.readouterr().err
        check_upgraded(store, before)
    finally:
        store.dispose()


def test_db_current_never_creates_a_sqlite_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    missing = tmp_path / "typo.sqlite3"
    assert main(["--database-url", f"sqlite:///{missing}", "db", "current"]) == 3
    assert "no database file" in capsys.readouterr().err
    assert not missing.exists()


def test_db_on_an_unreachable_database_exits_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    url = "postgresql+psycopg://nobody:secret@127.0.0.1:9/none?connect_timeout=1"
    assert main(["--database-url", url, "db", "upgrade"]) == 3
    err = capsys.readouterr().err
    assert "cannot use the database" in err and "secret" not in err


def test_revision_ids_fit_alembic_version_column() -> None:
    # alembic_version.version_num is VARCHAR(32): a longer id fails only on PostgreSQL.
    ids = [rev.revision for rev in migrations.script_directory().walk_revisions()]
    assert ids and all(len(i) <= 32 for i in ids), ids
