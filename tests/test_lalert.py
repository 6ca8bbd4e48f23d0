"""L-Alert 避難所情報 export: fields, vocabulary mapping, JST times, CSV for Excel, safe XML."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import pytest
from lxml import etree

from disaster_dx.areas import Area
from disaster_dx.bundled import BUNDLED_SHELTER_FILES
from disaster_dx.events import Event, NewEvent, fold
from disaster_dx.io.gsi import shelters_from_files
from disaster_dx.io.lalert import (
    COLUMNS,
    EVACUATION_COLUMNS,
    EVACUATION_XML_ROOT,
    XML_PURPOSE,
    XML_ROOT,
    evacuation_csv,
    evacuation_records,
    evacuation_xml,
    lalert_csv,
    lalert_records,
    lalert_xml,
    was_opened,
)
from disaster_dx.model import CrowdingThresholds, Hazard, Shelter, ShelterKind
from disaster_dx.store import Store

T0 = datetime(2026, 9, 1, 3, 0, tzinfo=UTC)  # 12:00 JST
THRESHOLDS = CrowdingThresholds()
REPORT = "shelter.status_reported"
CORRECTION = "shelter.correction"
SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE_BREAK = '"><img src=x onerror=alert(1)>'


@cache
def bundled() -> dict[str, Shelter]:
    return {s.shelter_id: s for s in shelters_from_files(list(BUNDLED_SHELTER_FILES)).shelters}


def site(
    sid: str, name: str, *, capacity: int | None = 200, address: str = "高知県南国市"
) -> Shelter:
    return Shelter(
        shelter_id=sid,
        name=name,
        address=address,
        lon=133.64,
        lat=33.57,
        kinds=frozenset({ShelterKind.DESIGNATED}),
        hazards=frozenset({Hazard.EARTHQUAKE}),
        gsi_ids=(sid,),
        capacity=capacity,
    )


def events(*items: tuple[float, str, dict[str, Any]]) -> list[Event]:
    """Events from (minutes after T0, type, payload); seq in the given order."""
    return [
        Event("live", seq, T0 + timedelta(minutes=minutes), "hq-tanaka", kind, payload, None)
        for seq, (minutes, kind, payload) in enumerate(items, start=1)
    ]


def records_for(shelters: list[Shelter], log: list[Event], **options: Any) -> list[dict[str, Any]]:
    return lalert_records(shelters, fold(log), thresholds=THRESHOLDS, **options)


# -- records ------------------------------------------------------------------------------------


def test_record_of_a_real_bundled_shelter() -> None:
    inou = bundled()["E3920400009111"]
    log = events(
        (
            0,
            REPORT,
            {
                "shelter_id": inou.shelter_id,
                "open_state": "open",
                "evacuees": 130,
                "voluntary_evacuees": 20,
                "households": 51,
                "capacity": 200,
            },
        )
    )
    [record] = records_for([inou], log)
    assert record == {
        "避難所名": "稲生ふれあい館",
        "住所": "高知県南国市稲生542",
        "区分": "開設",
        "避難所状況": "混雑",  # 65 % of 200
        "避難者数": 130,
        "うち自主避難者数": 20,
        "世帯数": 51,
        "収容人数": 200,
        "確認日時": "2026-09-01 12:00",
        "緯度": 33.546931,
        "経度": 133.623414,
        "共通ID": "E3920400009111 E3920400009201",
    }
    assert list(record) == list(COLUMNS)


def test_only_shelters_opened_in_the_incident_unless_all_are_asked_for() -> None:
    shelters = [
        site("A", "開設中"),
        site("B", "閉鎖済"),
        site("C", "手つかず"),
        site("D", "準備中"),
    ]
    log = events(
        (0, REPORT, {"shelter_id": "A", "open_state": "open"}),
        (1, REPORT, {"shelter_id": "B", "open_state": "open"}),
        (2, REPORT, {"shelter_id": "B", "open_state": "closed", "evacuees": 0}),
        (3, REPORT, {"shelter_id": "D", "open_state": "preparing"}),
    )
    default = records_for(shelters, log)
    assert [(r["避難所名"], r["区分"]) for r in default] == [
        ("開設中", "開設"),
        ("閉鎖済", "閉鎖"),
        ("準備中", "未開設"),  # 開設準備中 has no L-Alert term: not yet taking evacuees
    ]
    everything = records_for(shelters, log, include_unopened=True)
    assert [r["避難所名"] for r in everything] == ["開設中", "閉鎖済", "手つかず", "準備中"]
    untouched = everything[2]
    assert untouched["区分"] == "未開設" and untouched["避難所状況"] == "不明"
    assert untouched["避難者数"] is None and untouched["確認日時"] == ""
    assert untouched["収容人数"] == 200  # the master's 想定収容人数


def test_a_report_without_opening_still_counts_as_touched() -> None:
    state = fold(events((0, REPORT, {"shelter_id": "A", "public_note": "待機中"})))
    assert was_opened(state.shelter("A"))
    assert not was_opened(state.shelter("never-mentioned"))


@pytest.mark.parametrize(
    ("payload", "capacity", "status"),
    [
        ({"evacuees": 10}, 200, "空き"),  # 5 %
        ({"evacuees": 70}, 200, "空き"),  # 35 %: やや混雑 still has room
        ({"evacuees": 130}, 200, "混雑"),  # 65 %
        ({"evacuees": 170}, 200, "定員一杯"),  # 85 %
        ({"evacuees": 10, "crowding_override": "full"}, 200, "定員一杯"),  # staff override
        ({"evacuees": 10}, None, "不明"),  # no capacity anywhere
        ({"evacuees": 10, "capacity": 10}, None, "定員一杯"),  # reported capacity is enough
        ({}, 200, "不明"),  # nothing counted yet
    ],
)
def test_status_follows_crowding_through_the_vocabulary(
    payload: dict[str, Any], capacity: int | None, status: str
) -> None:
    log = events((0, REPORT, {"shelter_id": "A", "open_state": "open", **payload}))
    [record] = records_for([site("A", "体育館", capacity=capacity)], log)
    assert record["避難所状況"] == status


def test_reported_capacity_wins_over_the_master() -> None:
    log = events((0, REPORT, {"shelter_id": "A", "open_state": "open", "capacity": 80}))
    [record] = records_for([site("A", "体育館", capacity=200)], log)
    assert record["収容人数"] == 80


def test_a_shelter_not_taking_evacuees_has_no_crowding_to_report() -> None:
    log = events(
        (0, REPORT, {"shelter_id": "A", "open_state": "open", "evacuees": 190}),
        (5, REPORT, {"shelter_id": "A", "open_state": "closed"}),
    )
    [record] = records_for([site("A", "体育館")], log)
    assert record["区分"] == "閉鎖" and record["避難所状況"] == "不明"
    assert record["確認日時"] == "2026-09-01 12:05"


def test_permanent_shelter_is_joset() -> None:
    log = events((0, REPORT, {"shelter_id": "A", "open_state": "permanent", "evacuees": 3}))
    [record] = records_for([site("A", "津波避難タワー")], log)
    assert record["区分"] == "常設" and record["避難所状況"] == "空き"


def test_correction_changes_the_value_but_never_the_checked_time() -> None:
    log = events(
        (0, REPORT, {"shelter_id": "A", "open_state": "open", "evacuees": 130}),
        (45, CORRECTION, {"shelter_id": "A", "evacuees": 13, "reason": "桁の入力ミス"}),
    )
    [record] = records_for([site("A", "体育館")], log)
    assert record["避難者数"] == 13
    assert record["確認日時"] == "2026-09-01 12:00"  # not 12:45: a correction is not a report
    assert record["区分"] == "開設"


def test_checked_time_is_jst_across_midnight() -> None:
    late = datetime(2026, 9, 1, 15, 30, tzinfo=UTC)
    log = [Event("live", 1, late, "hq", REPORT, {"shelter_id": "A", "open_state": "open"})]
    [record] = records_for([site("A", "体育館")], log)
    assert record["確認日時"] == "2026-09-02 00:30"


# -- CSV ------------------------------------------------------------------------------------------


def test_csv_is_excel_friendly_utf8_bom_crlf() -> None:
    log = events((0, REPORT, {"shelter_id": "A", "open_state": "open", "evacuees": 40}))
    data = lalert_csv(records_for([site("A", "稲生, 小学校")], log))
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    header, row = text.split("\r\n")[:2]
    assert header == ",".join(COLUMNS)
    assert row == '"稲生, 小学校",高知県南国市,開設,空き,40,,,200,2026-09-01 12:00,33.57,133.64,A'


def test_csv_with_nothing_open_still_has_its_header() -> None:
    assert lalert_csv([]).decode("utf-8-sig") == ",".join(COLUMNS) + "\r\n"


# -- XML ------------------------------------------------------------------------------------------


def _xml(shelters: list[Shelter], log: list[Event], **options: Any) -> etree._Element:
    options.setdefault("municipality", "高知県南国市")
    data = lalert_xml(
        records_for(shelters, log),
        issued_at=T0 + timedelta(minutes=30),
        **options,
    )
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    return etree.fromstring(data)


def test_xml_says_what_it_is_and_follows_the_shelter_body_shape() -> None:
    shelters = [site("A", "体育館"), site("B", "公民館", capacity=None, address="")]
    log = events(
        (
            0,
            REPORT,
            {
                "shelter_id": "A",
                "open_state": "open",
                "evacuees": 130,
                "voluntary_evacuees": 20,
                "households": 51,
            },
        ),
        (1, REPORT, {"shelter_id": "B", "open_state": "open", "evacuees": 12}),
    )
    root = _xml(shelters, log, disaster_name="令和8年台風第10号")
    assert root.tag == XML_ROOT
    assert root.get("purpose") == XML_PURPOSE
    assert "not the official EDXML envelope" in root.get("purpose", "")
    assert root.get("municipality") == "高知県南国市"
    assert root.get("issuedAt") == "2026-09-01T12:30:00+09:00"
    comment = root.getprevious()
    assert comment is not None and XML_PURPOSE in str(comment.text)

    assert root.findtext("Shelter/Disaster/DisasterName") == "令和8年台風第10号"
    assert root.findtext("Shelter/TotalNumber/HeadCount") == "142"
    assert root.findtext("Shelter/TotalNumber/HeadCountVoluntary") == "20"
    assert root.findtext("Shelter/TotalNumber/Households") == "51"
    assert root.find("Shelter/TotalNumber/Households").get("unit") == "世帯"
    assert root.findtext("Shelter/TotalNumberOfShelter") == "2"

    first, second = root.findall("Shelter/Informations/Information")
    assert [child.tag for child in first] == [
        "Location",
        "Sort",
        "Capacity",
        "Status",
        "NumberOf",
        "CheckedDateTime",
        "CommonID",
    ]
    assert first.findtext("Location/areaName") == "体育館"
    assert first.findtext("Location/Address") == "高知県南国市"
    assert first.findtext("Location/circle") == "33.57,133.64 0"
    assert first.findtext("Sort") == "開設"
    assert first.findtext("Capacity") == "200"
    assert first.findtext("Status") == "混雑"
    assert first.findtext("NumberOf/HeadCount") == "130"
    assert first.findtext("NumberOf/HeadCountVoluntary") == "20"
    assert first.findtext("NumberOf/Households") == "51"
    assert first.findtext("CheckedDateTime") == "2026-09-01T12:00:00+09:00"
    assert first.findtext("CommonID") == "A"
    # Unknown values are left out, never written as 0 or blank.
    assert second.find("Capacity") is None and second.find("Location/Address") is None
    assert second.find("NumberOf/HouseholdsVoluntary") is None
    assert second.find("NumberOf/Households") is None
    assert second.findtext("Status") == "不明"
    assert second.findtext("CheckedDateTime") == "2026-09-01T12:01:00+09:00"


def test_xml_counts_only_open_shelters_as_opened_and_skips_totals_when_unknown() -> None:
    log = events(
        (0, REPORT, {"shelter_id": "A", "open_state": "open"}),
        (1, REPORT, {"shelter_id": "B", "open_state": "closed"}),
    )
    root = _xml([site("A", "体育館"), site("B", "公民館")], log)
    assert root.findtext("Shelter/TotalNumberOfShelter") == "1"
    assert root.find("Shelter/TotalNumber") is None
    assert root.find("Shelter/Disaster") is None
    assert len(root.findall("Shelter/Informations/Information")) == 2


@pytest.mark.parametrize("hostile", [SCRIPT, ATTRIBUTE_BREAK, "A & B <避難所>"])
def test_xml_escapes_names_and_addresses(hostile: str) -> None:
    log = events((0, REPORT, {"shelter_id": "A", "open_state": "open"}))
    data = lalert_xml(
        records_for([site("A", hostile, address=hostile)], log),
        issued_at=T0,
        disaster_name=hostile,
        municipality=hostile,
    )
    assert b"<script>" not in data and b"<img" not in data and b"<\xe9\x81\xbf" not in data
    root = etree.fromstring(data)
    assert root.findtext("Shelter/Informations/Information/Location/areaName") == hostile
    assert root.findtext("Shelter/Informations/Information/Location/Address") == hostile
    assert root.findtext("Shelter/Disaster/DisasterName") == hostile
    assert root.get("municipality") == hostile
    assert len(root.findall(".//script")) == 0 and len(root.findall(".//img")) == 0


def test_xml_refuses_a_naive_issue_time() -> None:
    with pytest.raises(ValueError, match="naive"):
        lalert_xml([], issued_at=datetime(2026, 9, 1, 12, 0), municipality="高知県南国市")


def test_xml_of_an_empty_list_is_still_well_formed() -> None:
    root = etree.fromstring(lalert_xml([], issued_at=T0, municipality="高知県南国市"))
    assert root.findtext("Shelter/TotalNumberOfShelter") == "0"
    assert root.find("Shelter/Informations") is not None


# -- from the store, on both engines --------------------------------------------------------------


def test_records_from_a_stored_incident(store: Store) -> None:
    inou = bundled()["E3920400009111"]
    kokufu = replace(bundled()["E3920400014111"], capacity=300)
    now = [T0]
    store.clock = lambda: now[0]
    incident = store.create_incident("令和8年台風第10号", actor="hq-tanaka")
    store.append(
        incident.incident_id,
        [NewEvent(REPORT, {"shelter_id": inou.shelter_id, "open_state": "open", "evacuees": 5})],
        actor="hq-tanaka",
    )
    now[0] = T0 + timedelta(minutes=20)
    store.append(
        incident.incident_id,
        [
            NewEvent(
                REPORT,
                {"shelter_id": kokufu.shelter_id, "open_state": "open", "evacuees": 250},
            )
        ],
        actor="shelter-yamada",
    )
    now[0] = T0 + timedelta(minutes=50)
    store.append(
        incident.incident_id,
        [NewEvent(CORRECTION, {"shelter_id": inou.shelter_id, "evacuees": 50})],
        actor="hq-sato",
    )
    state = store.state(incident.incident_id)
    records = lalert_records([inou, kokufu], state, thresholds=THRESHOLDS)
    assert [
        (r["避難所名"], r["避難者数"], r["避難所状況"], r["収容人数"], r["確認日時"])
        for r in records
    ] == [
        ("稲生ふれあい館", 50, "不明", None, "2026-09-01 12:00"),
        ("北陵中学校", 250, "定員一杯", 300, "2026-09-01 12:20"),
    ]


# -- 避難情報 (発令・解除) ------------------------------------------------------------------------

ISSUED, LIFTED = "alert.issued", "alert.lifted"
AREAS = [
    Area("all", "南国市全域", "All of Nankoku City", "なんこくし ぜんぶ", whole_city=True),
    Area("d1", f"稲生地区{SCRIPT}", shelter_ids=("A",)),
]


def _alert(alert_id: str, level: str, hazard: str, *areas: str) -> dict[str, Any]:
    return {"alert_id": alert_id, "level": level, "hazard": hazard, "areas": list(areas)}


def test_evacuation_records_issue_lift_and_a_raise_that_is_no_all_clear() -> None:
    log = events(
        (0, ISSUED, _alert("A1", "elderly_evacuate", "flood", "d1")),
        (10, ISSUED, _alert("A2", "evacuate", "tsunami", "all")),
        # Raising the flood alert 3 → 5: the 3 is lifted as the 5 is issued (one act).
        (20, LIFTED, {"alert_id": "A1"}),
        (20, ISSUED, _alert("A3", "emergency_safety", "flood", "d1")),
        (90, LIFTED, {"alert_id": "A2"}),
    )
    records = evacuation_records(fold(log), AREAS, disaster_name="令和8年 台風第10号")
    assert [list(r) for r in records] == [list(EVACUATION_COLUMNS)] * 2
    assert [
        (r["発令区分"], r["警戒レベル"], r["発令・解除区分"], r["災害種別"], r["地区名"], r["日時"])
        for r in records
    ] == [
        ("緊急安全確保", 5, "発令", "洪水", f"稲生地区{SCRIPT}", "2026-09-01 12:20"),
        ("避難指示", 4, "解除", "津波", "南国市全域", "2026-09-01 13:30"),
    ]
    lifted = records[1]
    assert (lifted["発令日時"], lifted["解除日時"]) == ("2026-09-01 12:10", "2026-09-01 13:30")
    assert {r["災害名"] for r in records} == {"令和8年 台風第10号"}


def test_evacuation_csv_opens_in_excel_and_has_a_header_when_empty() -> None:
    empty = evacuation_csv([])
    assert empty.startswith("\ufeff".encode()) and empty.endswith(b"\r\n")
    assert empty.decode("utf-8-sig").strip() == ",".join(EVACUATION_COLUMNS)
    log = events((0, ISSUED, _alert("A1", "evacuate", "tsunami", "all")))
    text = evacuation_csv(
        evacuation_records(fold(log), AREAS, disaster_name="南国市 災害対策本部")
    ).decode("utf-8-sig")
    assert (
        "南国市 災害対策本部,避難指示,4,発令,津波,南国市全域,all,2026-09-01 12:00,2026-09-01 12:00,"
        in text
    )


def test_evacuation_xml_follows_the_evacuation_order_body_and_escapes_names() -> None:
    log = events(
        (0, ISSUED, _alert("A1", "evacuate", "tsunami", "all", "d1")),
        (5, ISSUED, _alert("A2", "elderly_evacuate", "flood", "d1")),
        (30, LIFTED, {"alert_id": "A2"}),
    )
    hostile = f"令和8年{ATTRIBUTE_BREAK}"
    data = evacuation_xml(
        evacuation_records(fold(log), AREAS, disaster_name=hostile),
        disaster_name=hostile,
        issued_at=T0 + timedelta(hours=1),
        municipality="高知県南国市",
    )
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert b"<script>" not in data and b'"><img' not in data
    root = etree.fromstring(data)
    assert root.tag == EVACUATION_XML_ROOT and "not the official" in root.get("purpose", "")
    assert root.findtext("EvacuationOrder/Disaster/DisasterName") == hostile
    details = root.findall("EvacuationOrder/Detail")
    assert [
        (d.findtext("Sort"), d.findtext("AlertLevel"), d.findtext("IssueOrLift")) for d in details
    ] == [("避難指示", "4", "発令"), ("高齢者等避難", "3", "解除")]
    issued = details[0].findall("Areas/Area")
    assert [a.findtext("Location/areaName") for a in issued] == ["南国市全域", f"稲生地区{SCRIPT}"]
    assert issued[0].findtext("DateTime") == "2026-09-01T12:00:00+09:00"
    assert details[1].findtext("Areas/Area/DateTime") == "2026-09-01T12:30:00+09:00"
    assert details[0].findtext("HazardType") == "津波"


def test_the_cli_writes_the_live_incidents_evacuation_fields(tmp_path, monkeypatch) -> None:
    from disaster_dx.cli import main

    monkeypatch.delenv("DISASTER_DX_ENV", raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'dx.sqlite3'}")
    monkeypatch.setenv("PUBLIC_DIR", str(tmp_path / "public"))
    assert main(["init"]) == 0
    assert main(["alert", "issue", "--level", "4", "--hazard", "tsunami", "--area", "全域"]) == 0
    out = tmp_path / "evac.csv"
    assert main(["lalert", "evacuation", "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8-sig")
    # Unnamed live incident: 災害名 is its HQ title.
    assert "南国市 災害対策本部,避難指示,4,発令,津波,南国市全域,all," in text
    assert main(["incident", "open", "令和8年 台風第10号", "--hazard", "tsunami"]) == 0
    xml = tmp_path / "evac.xml"
    assert main(["lalert", "evacuation", "--format", "xml", "-o", str(xml)]) == 0
    root = etree.fromstring(xml.read_bytes())
    assert root.findtext("EvacuationOrder/Disaster/DisasterName") == "令和8年 台風第10号"
    shelters = tmp_path / "shelters.xml"
    assert main(["lalert", "shelters", "--format", "xml", "-o", str(shelters)]) == 0
    assert (
        etree.fromstring(shelters.read_bytes()).findtext("Shelter/Disaster/DisasterName")
        == "令和8年 台風第10号"
    )


def test_hq_downloads_the_evacuation_fields_and_others_are_refused(make_app) -> None:
    from disaster_dx import alerts
    from disaster_dx.model import AlertLevel
    from disaster_dx.web.context import EXTENSION_KEY
    from tests.conftest import add_staff_user
    from tests.webtools import login_client

    app = make_app()
    store = app.server.extensions[EXTENSION_KEY].store
    live = store.live_incident()
    store.open_live_incident("令和8年 台風第10号", actor="hq1")
    alerts.issue_alert(
        store,
        live.incident_id,
        "hq1",
        level=AlertLevel.EVACUATE,
        hazard=Hazard.TSUNAMI,
        areas=["all"],
    )
    hq = app.server.test_client()
    login_client(hq, "hq1", add_staff_user(store, "hq1", "hq"))
    csv_text = hq.get("/hq/export/lalert_evacuation.csv").data.decode("utf-8-sig")
    assert "令和8年 台風第10号,避難指示,4,発令,津波,南国市全域,all," in csv_text
    xml = etree.fromstring(hq.get("/hq/export/lalert_evacuation.xml").data)
    assert xml.findtext("EvacuationOrder/Detail/Sort") == "避難指示"
    shelters = etree.fromstring(hq.get("/hq/export/lalert.xml").data)
    assert shelters.findtext("Shelter/Disaster/DisasterName") == "令和8年 台風第10号"
    staff = app.server.test_client()
    login_client(staff, "staff1", add_staff_user(store, "staff1", "shelter_staff"))
    assert staff.get("/hq/export/lalert_evacuation.csv").status_code == 403
