"""The audit log view: labels, before → after from an incremental fold, filters, CSV for Excel."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import pytest

from disaster_dx import eventlog
from disaster_dx.bundled import BUNDLED_SHELTER_FILES
from disaster_dx.errors import DisasterDxError
from disaster_dx.eventlog import CSV_COLUMNS, Change, LogRow, log_csv, log_rows
from disaster_dx.events import Event, NewEvent, State, fold
from disaster_dx.io.gsi import shelters_from_files
from disaster_dx.model import Shelter
from disaster_dx.store import Store

T0 = datetime(2026, 9, 1, 3, 0, tzinfo=UTC)  # 12:00 JST
REPORT = "shelter.status_reported"
CORRECTION = "shelter.correction"
INOU = "E3920400009111"  # 稲生ふれあい館
HOKURYO = "E3920400014111"  # 北陵中学校


@cache
def master() -> dict[str, Shelter]:
    return {s.shelter_id: s for s in shelters_from_files(list(BUNDLED_SHELTER_FILES)).shelters}


def ev(seq: int, minutes: float, actor: str, kind: str, payload: dict[str, Any]) -> Event:
    return Event("live", seq, T0 + timedelta(minutes=minutes), actor, kind, payload, None)


def incident() -> list[Event]:
    return [
        ev(
            1,
            0,
            "hq-tanaka",
            REPORT,
            {"shelter_id": INOU, "open_state": "open", "evacuees": 40, "needs": ["water"]},
        ),
        ev(2, 5, "shelter-yamada", REPORT, {"shelter_id": HOKURYO, "open_state": "preparing"}),
        ev(
            3,
            10,
            "shelter-yamada",
            REPORT,
            {"shelter_id": INOU, "evacuees": 130, "internal_note": "発電機の燃料残り2時間"},
        ),
        ev(4, 20, "hq-sato", CORRECTION, {"shelter_id": INOU, "evacuees": 13, "reason": "桁違い"}),
        ev(5, 25, "hq-sato", "area.outside_reported", {"area": "十市", "in_car": 12}),
        ev(6, 30, "hq-tanaka", "hazard.announced", {"hazard": "tsunami", "title": "津波警報"}),
        ev(7, 40, "hq-tanaka", "hazard.announced", {"hazard": "tsunami", "title": "大津波警報"}),
        ev(8, 50, "hq-sato", "incident.message", {"text": "給水車は14時着", "to": "稲生"}),
        ev(9, 60, "hq-tanaka", "hazard.cleared", {"hazard": "tsunami"}),
        ev(10, 70, "shelter-yamada", REPORT, {"shelter_id": INOU, "evacuees": 13}),
    ]


def test_rows_show_labels_subjects_and_before_after_in_words() -> None:
    rows = log_rows(incident(), master())
    assert [(r.seq, r.type_label, r.subject_label) for r in rows] == [
        (1, "状況報告", "稲生ふれあい館（E3920400009111）"),
        (2, "状況報告", "北陵中学校（E3920400014111）"),
        (3, "状況報告", "稲生ふれあい館（E3920400009111）"),
        (4, "訂正", "稲生ふれあい館（E3920400009111）"),
        (5, "避難所外避難者の報告", "地区: 十市"),
        (6, "警報等の発表", ""),
        (7, "警報等の発表", ""),
        (8, "本部連絡", ""),
        (9, "警報等の解除", ""),
        (10, "状況報告", "稲生ふれあい館（E3920400009111）"),
    ]
    assert rows[0].changes == (
        Change("open_state", "開設状況", "未開設", "開設"),
        Change("evacuees", "避難者数", "未報告", "40"),
        Change("needs", "必要な支援", "（なし）", "水"),
    )
    assert rows[1].changes == (Change("open_state", "開設状況", "未開設", "開設準備中"),)
    assert rows[2].changes == (
        Change("evacuees", "避難者数", "40", "130"),
        Change("internal_note", "内部メモ（非公開）", "（なし）", "発電機の燃料残り2時間"),
    )
    assert rows[3].changes == (Change("evacuees", "避難者数", "130", "13"),)
    assert rows[3].detail == "理由: 桁違い"
    assert rows[4].changes == (Change("in_car", "車中泊者数", "未報告", "12"),)
    assert rows[4].area == "十市" and rows[4].shelter_id is None
    assert rows[5].changes == (Change("hazard", "津波", "（なし）", "津波警報"),)
    assert rows[6].changes == (Change("hazard", "津波", "津波警報", "大津波警報"),)
    assert rows[7].changes == () and rows[7].detail == "宛先: 稲生 / 給水車は14時着"
    assert rows[8].changes == (Change("hazard", "津波", "大津波警報", "（解除）"),)
    # A report that re-confirms the corrected count changes nothing, but it is still listed.
    assert rows[9].changes == ()
    assert rows[0].actor == "hq-tanaka" and rows[0].at == T0


def test_filter_by_shelter_keeps_before_values_from_everyone() -> None:
    rows = log_rows(incident(), master(), shelter_id=INOU)
    assert [r.seq for r in rows] == [1, 3, 4, 10]
    assert {r.shelter_name for r in rows} == {"稲生ふれあい館"}


def test_filter_by_user_still_diffs_against_other_users_writes() -> None:
    rows = log_rows(incident(), master(), actor="hq-sato")
    assert [r.seq for r in rows] == [4, 5, 8]
    # The 130 being corrected was written by someone else, and still shows as "before".
    assert rows[0].changes == (Change("evacuees", "避難者数", "130", "13"),)


def test_filter_by_time_window_is_inclusive() -> None:
    rows = log_rows(
        incident(),
        master(),
        since=T0 + timedelta(minutes=10),
        until=T0 + timedelta(minutes=30),
    )
    assert [r.seq for r in rows] == [3, 4, 5, 6]
    assert rows[0].changes[0] == Change("evacuees", "避難者数", "40", "130")


def test_filters_combine() -> None:
    rows = log_rows(incident(), master(), shelter_id=INOU, actor="shelter-yamada")
    assert [r.seq for r in rows] == [3, 10]


def test_a_site_missing_from_the_master_shows_its_id() -> None:
    rows = log_rows([ev(1, 0, "hq", REPORT, {"shelter_id": "GONE", "open_state": "open"})], {})
    assert rows[0].shelter_id == "GONE" and rows[0].shelter_name == ""
    assert rows[0].subject_label == "GONE"


def test_an_unregistered_event_type_is_listed_by_its_code() -> None:
    reading = Event("live", 1, T0, "gauge", "gauge.reading", {"level_m": 2.1}, "gauge:g1")
    [row] = log_rows([reading], master())
    assert row.type_label == "gauge.reading" and row.changes == () and row.subject_label == ""
    assert row.detail == ""


def test_other_modules_types_have_words_and_camera_frames_can_be_left_out() -> None:
    # Importing the modules registers camera.* and drill.* with their words.
    import disaster_dx.cameras
    import disaster_dx.drills  # noqa: F401

    def other(seq: int, kind: str, payload: dict[str, Any], subject: str | None) -> Event:
        return Event("live", seq, T0 + timedelta(minutes=seq), "system", kind, payload, subject)

    frame = {"camera_id": "coast", "frame": "20260901T030000000000Z", "captured_at": "x"}
    events = [
        ev(1, 0, "hq-tanaka", REPORT, {"shelter_id": INOU, "open_state": "open"}),
        other(2, "camera.frame", frame, "camera:coast"),
        other(3, "camera.feed_failed", {"camera_id": "coast", "error_kind": "timeout"}, "camera:c"),
        other(4, "drill.control", {"action": "start", "speed": 60}, None),
        other(5, "drill.inject", {"index": 0, "kind": "message", "summary": "給水車の手配"}, None),
        other(6, "camera.feed_recovered", {"camera_id": "coast", "failures": 3}, "camera:coast"),
        ev(7, 10, "hq-tanaka", REPORT, {"shelter_id": INOU, "evacuees": 5}),
    ]  # fmt: skip
    rows = log_rows(events, master())
    assert [r.type_label for r in rows] == [
        "状況報告",
        "カメラ画像の受信",
        "カメラ映像の途絶",
        "訓練の進行操作",
        "訓練の状況付与",
        "カメラ映像の復旧",
        "状況報告",
    ]
    assert rows[2].detail == "原因: カメラから時間内に応答がありません"
    assert rows[2].subject_label == "カメラ: c"
    assert rows[3].detail == "開始（60倍速）"
    assert rows[4].detail == "給水車の手配"
    assert rows[5].detail == "失敗 3 回の後" and rows[5].subject_label == "カメラ: coast"
    # Leaving the frames out changes nothing else, before → after included.
    quiet = log_rows(events, master(), skip_routine=True)
    assert [r.seq for r in quiet] == [1, 3, 4, 5, 6, 7]
    assert quiet[-1].changes == rows[-1].changes


def test_every_field_and_value_kind_has_words() -> None:
    payload = {
        "shelter_id": INOU,
        "open_state": "permanent",
        "voluntary_evacuees": 0,
        "households": 7,
        "capacity": 90,
        "crowding_override": "crowded",
        "urgent_needs": ["medical", "toilet"],
        "other_needs": "粉ミルク",
        "pets_accepted": True,
        "barrier_free": False,
        "public_note": "受付は体育館",
    }
    clear = {"shelter_id": INOU, "crowding_override": None, "pets_accepted": None}
    rows = log_rows([ev(1, 0, "hq", REPORT, payload), ev(2, 1, "hq", REPORT, clear)], master())
    assert [(c.label, c.before, c.after) for c in rows[0].changes] == [
        ("開設状況", "未開設", "常設"),
        ("うち自主避難者数", "未報告", "0"),
        ("世帯数", "未報告", "7"),
        ("収容人数", "未報告", "90"),
        ("混雑状況（手動設定）", "自動（人数から計算）", "混雑"),
        ("至急の支援", "（なし）", "医療・トイレ"),
        ("その他の支援", "（なし）", "粉ミルク"),
        ("ペット同行", "未報告", "可"),
        ("バリアフリー", "未報告", "不可"),
        ("お知らせ（公開）", "（なし）", "受付は体育館"),
    ]
    assert [(c.label, c.before, c.after) for c in rows[1].changes] == [
        ("混雑状況（手動設定）", "混雑", "自動（人数から計算）"),
        ("ペット同行", "可", "未報告"),
    ]


def test_reconfirming_urgent_needs_is_not_a_change() -> None:
    log = [
        ev(1, 0, "hq", REPORT, {"shelter_id": INOU, "urgent_needs": ["water"]}),
        ev(2, 30, "hq", REPORT, {"shelter_id": INOU, "urgent_needs": ["water"]}),
    ]
    assert log_rows(log, master())[1].changes == ()


# -- the fold is incremental and agrees with a fold from scratch ----------------------------------


@pytest.fixture
def fold_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[int], int]]:
    """Every fold the log view makes: (seqs folded, subjects in the starting state)."""
    calls: list[tuple[list[int], int]] = []
    real_fold = eventlog.fold

    def counting_fold(events: Any, **kwargs: Any) -> State:
        events = list(events)
        initial = kwargs["initial"]
        calls.append(([e.seq for e in events], len(initial.shelters) + len(initial.areas)))
        return real_fold(events, **kwargs)

    monkeypatch.setattr(eventlog, "fold", counting_fold)
    return calls


def test_each_event_is_folded_once_on_its_own_subject(
    fold_calls: list[tuple[list[int], int]],
) -> None:
    log_rows(incident(), master())
    # Shelter and area events only (hazards and messages have no status to fold), one each.
    assert fold_calls == [([seq], 1) for seq in (1, 2, 3, 4, 5, 10)]


def test_a_shelter_view_folds_only_that_shelters_events(
    fold_calls: list[tuple[list[int], int]],
) -> None:
    log_rows(incident(), master(), shelter_id=HOKURYO)
    assert fold_calls == [([2], 1)]


def test_a_user_view_folds_other_users_events_in_one_batch_when_needed(
    fold_calls: list[tuple[list[int], int]],
) -> None:
    rows = log_rows(incident(), master(), actor="hq-sato")
    assert [r.seq for r in rows] == [4, 5, 8]
    # Events 1 and 3 (稲生, by others) wait until hq-sato's correction needs them; 2 and 10
    # are never needed by this view and are never folded.
    assert fold_calls == [([1, 3], 1), ([4], 1), ([5], 1)]


def random_log(seed: int, size: int) -> list[Event]:
    rng = random.Random(seed)
    ids = [INOU, HOKURYO, "E3920400021111"]
    log = []
    for seq in range(1, size + 1):
        if rng.random() < 0.1:
            area = {"area": rng.choice(["十市", "稲生"]), "at_home": rng.randrange(50)}
            log.append(ev(seq, seq, rng.choice(["a", "b"]), "area.outside_reported", area))
            continue
        payload: dict[str, Any] = {"shelter_id": rng.choice(ids)}
        payload["evacuees"] = rng.randrange(0, 300)
        if rng.random() < 0.3:
            payload["open_state"] = rng.choice(["open", "closed", "preparing", "not_open"])
        if rng.random() < 0.2:
            payload["public_note"] = rng.choice(["", "毛布あり", "駐車場満車"])
        kind = CORRECTION if rng.random() < 0.2 else REPORT
        log.append(ev(seq, seq, rng.choice(["a", "b", "c"]), kind, payload))
    return log


def test_after_values_match_a_fold_from_scratch_on_a_random_log() -> None:
    log = [e for e in random_log(7, 300) if e.type != "area.outside_reported"]
    rows = log_rows(log, master())
    assert len(rows) == len(log)
    for i, row in enumerate(rows):
        sid = log[i].payload["shelter_id"]
        before, after = fold(log[:i]).shelter(sid), fold(log[: i + 1]).shelter(sid)
        for change in row.changes:
            if change.field == "evacuees":
                old = "未報告" if before.evacuees is None else str(before.evacuees)
                assert (change.before, change.after) == (old, str(after.evacuees))
            elif change.field == "open_state":
                assert change.before == before.open_state.ja
                assert change.after == after.open_state.ja
            elif change.field == "public_note":
                assert change.after == (after.public_note or "（なし）")
        changed = {c.field for c in row.changes}
        assert ("evacuees" in changed) == (before.evacuees != after.evacuees)
        assert ("open_state" in changed) == (before.open_state != after.open_state)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_filtered_views_are_exactly_the_matching_rows_of_the_full_view(seed: int) -> None:
    log = random_log(seed, 400)
    full = log_rows(log, master())
    since, until = T0 + timedelta(minutes=100), T0 + timedelta(minutes=300)
    for options in (
        {"actor": "b"},
        {"shelter_id": HOKURYO},
        {"shelter_id": INOU, "actor": "c"},
        {"since": since, "until": until},
        {"actor": "a", "since": since},
    ):
        expected = [
            r
            for r in full
            if ("actor" not in options or r.actor == options["actor"])
            and ("shelter_id" not in options or r.shelter_id == options["shelter_id"])
            and ("since" not in options or r.at >= options["since"])
            and ("until" not in options or r.at <= options["until"])
        ]
        assert log_rows(log, master(), **options) == expected, options


def test_continuing_from_a_snapshot_gives_the_same_rows() -> None:
    log = incident()
    full = log_rows(log, master())
    snapshot = fold(log[:4])
    # The whole log may be passed: events already in the snapshot are skipped.
    assert log_rows(log, master(), initial=snapshot) == full[4:]
    assert log_rows(log[4:], master(), initial=snapshot) == full[4:]


def test_until_stops_reading_the_log() -> None:
    consumed: list[int] = []

    def stream() -> Any:
        for event in incident():
            consumed.append(event.seq)
            yield event

    rows = log_rows(stream(), master(), until=T0 + timedelta(minutes=5))
    assert [r.seq for r in rows] == [1, 2]
    assert consumed == [1, 2, 3]


def test_out_of_order_or_mixed_incidents_are_refused() -> None:
    first, second = incident()[:2]
    with pytest.raises(DisasterDxError, match="seq order: 1 after 2"):
        log_rows([second, first], master())
    other = Event("drill-1", 3, T0, "hq", REPORT, {"shelter_id": INOU, "evacuees": 1}, None)
    with pytest.raises(DisasterDxError, match="mixes incidents"):
        log_rows([first, second, other], master())


# -- CSV ------------------------------------------------------------------------------------------


def test_csv_one_line_per_change_for_excel() -> None:
    rows = log_rows(incident(), master())
    data = log_csv([rows[2], rows[3], rows[4], rows[7]])
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    assert text.split("\r\n")[:-1] == [
        ",".join(CSV_COLUMNS),
        "3,2026-09-01 12:10:00,shelter-yamada,状況報告,E3920400009111,稲生ふれあい館,"
        "避難者数,40,130,",
        "3,2026-09-01 12:10:00,shelter-yamada,状況報告,E3920400009111,稲生ふれあい館,"
        "内部メモ（非公開）,（なし）,発電機の燃料残り2時間,",
        "4,2026-09-01 12:20:00,hq-sato,訂正,E3920400009111,稲生ふれあい館,"
        "避難者数,130,13,理由: 桁違い",
        "5,2026-09-01 12:25:00,hq-sato,避難所外避難者の報告,,地区: 十市,車中泊者数,未報告,12,",
        "8,2026-09-01 12:50:00,hq-sato,本部連絡,,,,,,宛先: 稲生 / 給水車は14時着",
    ]


def test_csv_neutralises_formulas_typed_into_notes() -> None:
    log = [
        ev(1, 0, "=cmd", REPORT, {"shelter_id": INOU, "public_note": '=HYPERLINK("x")'}),
        ev(2, 1, "hq", "incident.message", {"text": "@SUM(A1)"}),
    ]
    lines = log_csv(log_rows(log, master())).decode("utf-8-sig").split("\r\n")
    assert lines[1] == (
        "1,2026-09-01 12:00:00,'=cmd,状況報告,E3920400009111,稲生ふれあい館,"
        'お知らせ（公開）,（なし）,"\'=HYPERLINK(""x"")",'
    )
    assert lines[2].endswith(",'@SUM(A1)")


def test_csv_of_no_rows_has_its_header() -> None:
    assert log_csv([]).decode("utf-8-sig") == ",".join(CSV_COLUMNS) + "\r\n"


# -- from the store, on both engines --------------------------------------------------------------


def test_rows_from_a_stored_incident(store: Store) -> None:
    now = [T0]
    store.clock = lambda: now[0]
    live = store.create_incident("令和8年台風第10号", actor="hq-tanaka")
    store.append(
        live.incident_id,
        [NewEvent(REPORT, {"shelter_id": INOU, "open_state": "open", "evacuees": 40})],
        actor="hq-tanaka",
    )
    now[0] = T0 + timedelta(minutes=3)
    store.append(
        live.incident_id,
        [NewEvent(CORRECTION, {"shelter_id": INOU, "evacuees": 4, "reason": "桁違い"})],
        actor="hq-sato",
    )
    rows = log_rows(store.iter_events(live.incident_id), master())
    assert rows == [
        LogRow(
            seq=1,
            at=T0,
            actor="hq-tanaka",
            type=REPORT,
            type_label="状況報告",
            shelter_id=INOU,
            shelter_name="稲生ふれあい館",
            changes=(
                Change("open_state", "開設状況", "未開設", "開設"),
                Change("evacuees", "避難者数", "未報告", "40"),
            ),
        ),
        LogRow(
            seq=2,
            at=T0 + timedelta(minutes=3),
            actor="hq-sato",
            type=CORRECTION,
            type_label="訂正",
            shelter_id=INOU,
            shelter_name="稲生ふれあい館",
            changes=(Change("evacuees", "避難者数", "40", "4"),),
            detail="理由: 桁違い",
        ),
    ]


def test_the_english_page_gets_english_words_and_the_csv_stays_japanese() -> None:
    rows = log_rows(incident(), master(), lang="en")
    first, correction, area, warning, message = rows[0], rows[3], rows[4], rows[5], rows[7]
    assert first.type_label == "Status report"
    assert [c[1:] for c in first.changes] == [
        ("Open state", "Not open", "Open"),
        ("Evacuees", "not reported", "40"),
        ("Needs", "(none)", "Water"),
    ]
    assert correction.type_label == "Correction" and correction.detail.startswith("Reason: ")
    assert area.subject_label == "Area: 十市"
    assert warning.type_label == "Warning announced" and warning.changes[0].before == "(none)"
    assert message.detail.startswith("To: ")
    for row in rows:  # every label and value in English (names, notes and titles are data)
        assert row.type_label.isascii()
        for change in row.changes:
            assert change.label.isascii(), change
    japanese = log_csv(log_rows(incident(), master()))
    assert "状況報告" in japanese.decode("utf-8-sig")
