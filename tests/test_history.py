"""History import: published open-shelter snapshots → a closed live incident (both engines).

The fixture ``tests/fixtures/history/wajima`` is four publications in the shapes cities used
in 2024: UTF-8 with BOM and the 自治体標準 columns, a CP932 (Shift_JIS) file with 全角 digits,
a UTF-8 file with 「（金）…現在」, and a file without 時点 whose time is in its (和暦) name.
Across them a shelter appears (ID 4), one disappears (ID 2), one is renamed (ID 1) and one
is unknown to the master (ID 9, with 緯度/経度).
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from disaster_dx import drills
from disaster_dx._time import JST
from disaster_dx.after_action import after_action, report_html
from disaster_dx.errors import DisasterDxError, ImportFileError
from disaster_dx.history import (
    HISTORY_ACTOR_PREFIX,
    import_history,
    plan_history,
)
from disaster_dx.io.history import decode_csv, snapshots_from_folder
from disaster_dx.model import Hazard, IncidentKind, OpenState, Shelter, ShelterKind
from disaster_dx.store import Store, audit_table, events_table, incidents

FIXTURE = Path(__file__).parent / "fixtures" / "history" / "wajima"

T1 = datetime(2024, 1, 1, 18, 0, tzinfo=JST)
T2 = datetime(2024, 1, 2, 9, 0, tzinfo=JST)
T3 = datetime(2024, 1, 5, 13, 30, tzinfo=JST)
T4 = datetime(2024, 1, 8, 12, 0, tzinfo=JST)
SCHOOL, HALL, EAST, MACHINO, OTHER = (
    "172049-1",
    "172049-2",
    "172049-3",
    "E1720490004",
    "172049-7",
)
#: Open shelters and their 人数 at each publication (ID 4 listed as 「-」 at T4: its last
#: count stands; ID 9 is unknown to the master and left out).
EXPECTED = {
    T1: {SCHOOL: 120, HALL: 45, EAST: 300},
    T2: {SCHOOL: 150, HALL: 38, EAST: 280, MACHINO: 30},
    T3: {SCHOOL: 132, EAST: 210, MACHINO: 41},
    T4: {SCHOOL: 98, MACHINO: 41},
}


def _standard(local_id: str, name: str, lat: float, lon: float) -> Shelter:
    """A site as the 自治体標準 import stores it: id ``<団体コード>-<ID>``, its record kept."""
    return Shelter(
        shelter_id=f"172049-{local_id}",
        name=name,
        address="石川県輪島市",
        lon=lon,
        lat=lat,
        kinds=frozenset({ShelterKind.EMERGENCY}),
        hazards=frozenset({Hazard.EARTHQUAKE}),
        gsi_ids=(f"172049-{local_id}",),
        municipality_code="172049",
        source={f"172049-{local_id}": {"kind": "emergency", "ID": local_id, "名称": name}},
    )


MASTER = [
    _standard("1", "輪島市立輪島中学校", 37.3905, 136.8990),
    _standard("2", "鳳至公民館", 37.3950, 136.8930),
    _standard("3", "門前東小学校", 37.2890, 136.7700),
    # Known under another id scheme and without the publisher's ID: matched by its name.
    Shelter(
        shelter_id=MACHINO,
        name="町野公民館",
        address="石川県輪島市町野町",
        lon=137.08,
        lat=37.41,
        kinds=frozenset({ShelterKind.DESIGNATED}),
        hazards=frozenset(),
        gsi_ids=(MACHINO,),
    ),
    _standard("7", "輪島市文化会館", 37.39, 136.90),
]


@pytest.fixture
def wajima(store: Store) -> Store:
    store.replace_shelters(MASTER, source="test master", actor="test")
    return store


def _open_at(store: Store, incident_id: str, moment: datetime) -> dict[str, int | None]:
    state = store.state(incident_id, until=moment)
    return {sid: s.evacuees for sid, s in state.shelters.items() if s.open_state.is_open}


def test_reader_reads_each_publication_in_its_encoding_and_time() -> None:
    series = snapshots_from_folder(FIXTURE)
    assert [s.at for s in series.snapshots] == [T1, T2, T3, T4]
    assert [s.encoding for s in series.snapshots] == [
        "UTF-8 (BOM)",
        "CP932 (Shift_JIS)",
        "UTF-8",
        "CP932 (Shift_JIS)",
    ]
    assert [s.time_from for s in series.snapshots] == ["時点", "時点", "時点", "ファイル名"]
    cp932 = series.snapshots[1]
    assert [r.name for r in cp932.rows] == [
        "輪島市立輪島中学校",
        "鳳至 公民館",
        "門前東小学校",
        "町野公民館",
    ]
    assert [r.evacuees for r in series.snapshots[3].rows] == [98, None, 12]
    warnings = "\n".join(series.warnings.lines())
    assert "ファイル名の時刻" in warnings and "令和6年1月8日正午.csv" in warnings
    assert "row 2 (line 3)" in warnings  # the 「-」 人数, located


def test_decode_refuses_what_is_neither_utf8_nor_cp932() -> None:
    with pytest.raises(ValueError, match="neither UTF-8"):
        decode_csv(b"ID,\x81\x20\xff\xfe\xfd")
    assert decode_csv("名称".encode("cp932")) == ("名称", "CP932 (Shift_JIS)")


def test_import_writes_a_closed_live_incident_replaying_each_publication(wajima: Store) -> None:
    done = import_history(
        wajima,
        str(FIXTURE),
        title="令和6年能登半島地震",
        operator="chief",
        hazard=Hazard.EARTHQUAKE,
    )
    incident = done.incident
    assert incident.kind is IncidentKind.LIVE and incident.named
    assert incident.title == "令和6年能登半島地震" and incident.hazard is Hazard.EARTHQUAKE
    assert incident.started_at == T1 and incident.closed_at == T4
    # The open live incident HQ works on is another one, untouched.
    assert wajima.live_incident().incident_id != incident.incident_id
    for moment, expected in EXPECTED.items():
        assert _open_at(wajima, incident.incident_id, moment) == expected, moment
        # Just before a publication the state is still the previous one.
        before = _open_at(wajima, incident.incident_id, moment - timedelta(seconds=1))
        previous = [v for t, v in EXPECTED.items() if t < moment]
        assert before == (previous[-1] if previous else {})
    closed = wajima.state(incident.incident_id, until=T3).shelter(HALL)
    assert closed.open_state is OpenState.CLOSED and "載っていない" in closed.internal_note
    events = wajima.events(incident.incident_id)
    assert {e.actor for e in events} == {f"{HISTORY_ACTOR_PREFIX}chief"}
    assert {e.at for e in events} == {T1, T2, T3, T4}
    # The renamed school kept its site (matched by ID), and the rename is reported.
    assert [(r.local_id, r.shelter_id, r.after) for r in done.plan.renames] == [
        ("1", SCHOOL, "輪島中学校（第2避難所）")
    ]
    assert [(u.local_id, u.name, u.rows, u.added_as) for u in done.plan.unknown] == [
        ("9", "南志見集会所", 2, None)
    ]
    report = "\n".join(done.lines())
    assert "NOT imported: 1 shelters" in report and "南志見集会所" in report
    assert "time taken from the file name" in report
    with wajima._read() as conn:
        audit = conn.execute(
            select(audit_table.c.actor, audit_table.c.detail).where(
                audit_table.c.action == "history.imported"
            )
        ).one()
    assert audit.actor == "chief" and audit.detail["publications"] == 4


def test_after_action_evacuee_curve_is_the_sum_of_each_publication(wajima: Store) -> None:
    done = import_history(wajima, str(FIXTURE), title="令和6年能登半島地震", operator="chief")
    report = after_action(wajima, done.incident.incident_id)
    base = T1
    curve = dict(report.evacuees)
    for moment, expected in EXPECTED.items():
        assert curve[moment - base] == sum(v or 0 for v in expected.values()), moment
    open_counts = dict(report.open_counts)
    assert [open_counts[t - base] for t in EXPECTED] == [3, 4, 3, 2]
    assert report.max_evacuees == 150 + 38 + 280 + 30
    # Gaps between publications are their cadence, not late reports.
    assert report.publications == 4 and report.stale == []
    html = report_html(report)
    assert "公表された避難所一覧 4 回分から取り込んだ記録" in html and "—（公表資料）" in html


def test_add_unknown_puts_the_shelter_in_the_master_and_the_record(wajima: Store) -> None:
    today = {s.shelter_id for s in wajima.shelters()}
    done = import_history(
        wajima, str(FIXTURE), title="令和6年能登半島地震", operator="chief", add_unknown=True
    )
    added = wajima.shelter("172049-9")
    assert added.name == "南志見集会所" and (added.lat, added.lon) == (37.43, 137.02)
    # A site known only from the past record is not one of today's shelters.
    assert {s.shelter_id for s in wajima.shelters()} == today
    assert _open_at(wajima, done.incident.incident_id, T3)["172049-9"] == 17
    assert _open_at(wajima, done.incident.incident_id, T4)["172049-9"] == 12
    assert "added to the master" in "\n".join(done.lines())


def _counts(store: Store) -> tuple[int, int, int, int]:
    with store._read() as conn:
        return (
            conn.execute(select(func.count()).select_from(incidents)).scalar_one(),
            conn.execute(select(func.count()).select_from(events_table)).scalar_one(),
            conn.execute(select(func.count()).select_from(audit_table)).scalar_one(),
            len(store.shelters()),
        )


def test_a_bad_row_is_located_and_nothing_is_written(wajima: Store, tmp_path: Path) -> None:
    folder = tmp_path / "snapshots"
    shutil.copytree(FIXTURE, folder)
    bad = folder / "20240102_0900.csv"
    text = bad.read_bytes().decode("cp932").replace(",38,", ",三十八人くらい,")
    bad.write_bytes(text.encode("cp932"))
    before = _counts(wajima)
    with pytest.raises(ImportFileError) as caught:
        import_history(
            wajima, str(folder), title="令和6年能登半島地震", operator="chief", add_unknown=True
        )
    assert [str(p) for p in caught.value.problems] == [
        "20240102_0900.csv row 2 (line 3): 人数 '三十八人くらい' is not a number"
    ]
    assert _counts(wajima) == before


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("令和6年1月5日（金）", "令和6年1月5日（土）"), "2024-01-05 is a 金曜日, not 土曜日"),
        (("令和6年1月5日（金）午後1時30分", "令和6年1月5日午後12時"), "午後12時 is read both ways"),
        (("4,町野,町野公民館,41", "3,町野,町野公民館,41"), "ID 3 is listed twice"),
    ],
)
def test_problems_name_file_row_and_line(
    wajima: Store, tmp_path: Path, edit: tuple[str, str], message: str
) -> None:
    folder = tmp_path / "snapshots"
    shutil.copytree(FIXTURE, folder)
    target = folder / "20240105_1330.csv"
    original = target.read_text(encoding="utf-8")
    assert edit[0] in original
    # Only the first data row's 時点 is edited for time cases, so rows disagree or fail.
    target.write_text(original.replace(edit[0], edit[1], 1), encoding="utf-8")
    with pytest.raises(ImportFileError) as caught:
        import_history(wajima, str(folder), title="令和6年能登半島地震", operator="chief")
    problems = [str(p) for p in caught.value.problems]
    assert any(p.startswith("20240105_1330.csv row ") and message in p for p in problems), problems
    assert _counts(wajima)[1] == 0


def test_without_any_time_the_file_is_refused(wajima: Store, tmp_path: Path) -> None:
    folder = tmp_path / "snapshots"
    folder.mkdir()
    (folder / "open.csv").write_text("ID,名称,人数\n1,輪島市立輪島中学校,3\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match="no 時点 in any row and no time in its file name"):
        import_history(wajima, str(folder), title="x", operator="chief")


def test_the_same_name_is_imported_once(wajima: Store) -> None:
    import_history(wajima, str(FIXTURE), title="令和6年能登半島地震", operator="chief")
    with pytest.raises(DisasterDxError, match="exists already"):
        import_history(wajima, str(FIXTURE), title="令和6年能登半島地震", operator="chief")


def test_a_name_shared_by_two_sites_needs_the_id(store: Store, tmp_path: Path) -> None:
    twins = [
        _standard("21", "町野公民館", 37.41, 137.08),
        _standard("22", "町野公民館", 37.42, 137.09),
    ]
    folder = tmp_path / "snapshots"
    folder.mkdir()
    (folder / "a.csv").write_text(
        "名称,人数,時点\n町野公民館,3,令和6年1月2日午前9時\n", encoding="utf-8"
    )
    series = snapshots_from_folder(folder)
    with pytest.raises(ImportFileError, match="matches 2 shelters"):
        plan_history(series, twins)


def test_exported_scenario_loads_back(wajima: Store) -> None:
    done = import_history(
        wajima,
        str(FIXTURE),
        title="令和6年能登半島地震",
        operator="chief",
        hazard=Hazard.EARTHQUAKE,
    )
    text = drills.scenario_from_incident(wajima, done.incident.incident_id)
    scenario = drills.parse_scenario(text, shelters=wajima.shelters(), source="export")
    assert scenario.hazard is Hazard.EARTHQUAKE
    assert drills.format_offset(scenario.length) == drills.format_offset(T4 - T1)
    shelter_injects = [i for i in scenario.injects if i.kind == "shelter"]
    assert len(shelter_injects) == len(wajima.events(done.incident.incident_id))


def test_rows_of_other_times_are_read_at_the_publication_time(tmp_path: Path) -> None:
    folder = tmp_path / "snapshots"
    folder.mkdir()
    (folder / "a.csv").write_text(
        "ID,名称,人数,時点\n"
        "1,輪島市立輪島中学校,3,令和6年1月2日午前9時\n"
        "2,鳳至公民館,4,令和6年1月2日午前8時30分\n"
        "3,門前東小学校,5,\n",
        encoding="utf-8",
    )
    series = snapshots_from_folder(folder)
    assert series.snapshots[0].at == T2
    warnings = "\n".join(series.warnings.lines())
    assert "時点がファイル内の最新（2024-01-02 09:00）と違う行" in warnings
    assert "a.csv row 2 (line 3)" in warnings
    assert "時点が空欄の行" in warnings and "a.csv row 3 (line 4)" in warnings
