"""The SQLAlchemy engine for a database URL: SQLite tuned for several workers, or PostgreSQL.

SQLite needs the most care: WAL journal (readers never block the writer), a busy timeout so
workers queue for the write lock instead of failing, durable commits, foreign keys, and
``BEGIN IMMEDIATE`` for write transactions (``sqlite_immediate``) so a read never has to
upgrade to a write lock mid-transaction (the deadlock SQLite answers with "database is
locked"). PostgreSQL gets its schema through ``search_path`` and pre-pinged pooled connections.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url


def _json_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _switch_to_wal(cursor: Any, *, wait_s: float = 15.0) -> None:
    """``PRAGMA journal_mode=WAL``, waiting while another connection holds the file's lock.

    Switching needs an exclusive lock, and SQLite answers "database is locked" at once, without
    its busy handler, when another connection (a worker creating the schema on a fresh file)
    holds one: seen as one worker of four failing at start. Wait as the busy timeout would.
    """
    deadline = time.monotonic() + wait_s
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _make_engine(url: str, *, schema: str | None) -> Engine:
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, json_serializer=_json_dumps)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own is deferred).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            # The wait first: switching a new file to WAL takes an exclusive lock, and several
            # workers starting on a fresh database must queue for it, not fail at once.
            cursor.execute("PRAGMA busy_timeout=15000")
            _switch_to_wal(cursor)
            cursor.execute("PRAGMA synchronous=FULL")  # durable commits, even on power loss
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            immediate = conn.get_execution_options().get("sqlite_immediate", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    connect_args: dict[str, Any] = {}
    if schema:
        connect_args["options"] = f"-csearch_path={schema}"
    return create_engine(
        url, json_serializer=_json_dumps, connect_args=connect_args, pool_pre_ping=True
    )
