"""Printable A4 shelter list: standalone HTML, exact cell values, escaping, internal-only fields."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import lxml.html
import pytest

from disaster_dx.bundled import BUNDLED_SHELTER_FILES
from disaster_dx.events import Event, fold
from disaster_dx.io.gsi import shelters_from_files
from disaster_dx.io.printable import printable_shelter_list
from disaster_dx.model import CrowdingThresholds, Hazard, Shelter, ShelterKind

T0 = datetime(2026, 9, 1, 3, 0, tzinfo=UTC)  # 12:00 JST
NOW = T0 + timedelta(minutes=7)
REPORT = "shelter.status_reported"
SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE_BREAK = '"><img src=x onerror=alert(1)>'
INOU = "E3920400009111"  # 稲生ふれあい館, 指定避難所 and 指定緊急避難場所


@cache
def bundled() -> tuple[Shelter, ...]:
    return tuple(shelters_from_files(list(BUNDLED_SHELTER_FILES)).shelters)


def site(sid: str, name: str, *, capacity: int | None = 200) -> Shelter:
    return Shelter(
        shelter_id=sid,
        name=name,
        address="高知県南国市",
        lon=133.64,
        lat=33.57,
        kinds=frozenset({ShelterKind.EMERGENCY}),
        hazards=frozenset({Hazard.TSUNAMI}),
        gsi_ids=(sid,),
        capacity=capacity,
    )


def events(*items: tuple[float, str, dict[str, Any]]) -> list[Event]:
    """Events from (minutes after T0, actor, payload), all status reports."""
    return [
        Event("live", seq, T0 + timedelta(minutes=minutes), actor, REPORT, payload, None)
        for seq, (minutes, actor, payload) in enumerate(items, start=1)
    ]


def render(shelters: Any, log: list[Event], **options: Any) -> str:
    values: dict[str, Any] = {
        "thresholds": CrowdingThresholds(),
        "now": NOW,
        "incident_title": "令和8年台風第10号",
        "municipality": "高知県南国市",
        **options,
    }
    return printable_shelter_list(list(shelters), fold(log), **values)


def table(document: str) -> list[list[str]]:
    """The table as text cells, header row first (line breaks become " | ")."""
    tree = lxml.html.document_fromstring(document)
    for br in tree.iter("br"):
        br.tail = " | " + (br.tail or "")
    return [
        [cell.text_content().strip() for cell in row.xpath("./th|./td")]
        for row in tree.xpath("//table//tr")
    ]


OPEN_REPORT = {
    "shelter_id": INOU,
    "open_state": "open",
    "evacuees": 130,
    "households": 48,
    "capacity": 200,
    "needs": ["water", "blanket"],
    "urgent_needs": ["blanket"],
    "other_needs": "粉ミルク",
    "public_note": "駐車場は満車です",
    "internal_note": "発電機の燃料残り2時間",
}


def test_a_standalone_a4_page_with_city_incident_and_time() -> None:
    document = render(bundled(), events((0, "hq-tanaka", OPEN_REPORT)))
    assert document.startswith("<!DOCTYPE html>")
    assert '<html lang="ja">' in document and '<meta charset="utf-8">' in document
    assert "size: A4;" in document and "@page" in document
    assert 'counter(page) " / " counter(pages)' in document
    assert "thead { display: table-header-group; }" in document
    assert "<script" not in document and "<link" not in document and "<img" not in document
    tree = lxml.html.document_fromstring(document)
    assert tree.findtext(".//h1") == "高知県南国市 避難所一覧"
    meta = " ".join(p.text_content() for p in tree.xpath("//header/p"))
    assert "災害名: 令和8年台風第10号" in meta
    assert "作成日時: 2026-09-01 12:07 (JST)" in meta
    assert "開設中 1 か所・避難者 130 人" in meta


def test_row_values_of_a_real_bundled_shelter() -> None:
    rows = table(render(bundled(), events((0, "hq-tanaka", OPEN_REPORT))))
    assert rows[0] == [
        "避難所名",
        "種別",
        "開設状況",
        "混雑状況",
        "避難者数／収容人数",
        "世帯数",
        "必要な支援",
        "お知らせ",
        "最終報告",
    ]
    assert rows[1] == [
        "稲生ふれあい館高知県南国市稲生542",
        "指定避難所 | 指定緊急避難場所",
        "開設",
        "混雑",  # 65 %
        "130 / 200",
        "48",
        "【至急】毛布、水、粉ミルク",
        "駐車場は満車です",
        "2026-09-01 | 12:00 （7分前）",
    ]
    assert len(rows) == 2  # the other 138 bundled sites were never opened


def test_public_copy_never_shows_internal_notes_or_reporters() -> None:
    document = render(bundled(), events((0, "hq-tanaka", OPEN_REPORT)))
    assert "発電機" not in document and "hq-tanaka" not in document
    assert "内部メモ" not in document and "報告者" not in document
    assert "取扱注意" not in document


def test_hq_copy_adds_internal_note_and_reporter_with_a_warning_banner() -> None:
    document = render(bundled(), events((0, "hq-tanaka", OPEN_REPORT)), include_internal=True)
    rows = table(document)
    assert rows[0][-2:] == ["内部メモ", "報告者"]
    assert rows[1][-2:] == ["発電機の燃料残り2時間", "hq-tanaka"]
    assert "本部用（内部情報を含む・取扱注意）" in document


@pytest.mark.parametrize("hostile", [SCRIPT, ATTRIBUTE_BREAK])
def test_everything_typed_is_escaped(hostile: str) -> None:
    log = events(
        (
            0,
            hostile,
            {
                "shelter_id": "A",
                "open_state": "open",
                "public_note": hostile,
                "internal_note": hostile,
                "other_needs": hostile,
            },
        )
    )
    document = render(
        [site("A", hostile)],
        log,
        incident_title=hostile,
        municipality=hostile,
        include_internal=True,
    )
    assert "<script>" not in document and "<img" not in document
    assert "&lt;script&gt;" in document or "&#34;&gt;&lt;img" in document
    tree = lxml.html.document_fromstring(document)
    assert tree.xpath("//script|//img") == []
    assert tree.findtext(".//title") == f"{hostile} 避難所一覧 — {hostile}"
    cells = tree.xpath("//tbody/tr/td")
    texts = [cell.text_content() for cell in cells]
    assert texts[0] == hostile + "高知県南国市"  # name, then the address line
    assert texts[6] == hostile  # other needs
    assert texts[7] == hostile  # public note
    assert texts[9] == hostile  # internal note
    assert texts[10] == hostile  # reporter (user name)


def test_multi_line_notes_keep_their_lines() -> None:
    log = events(
        (0, "hq", {"shelter_id": "A", "open_state": "open", "public_note": "1行目\n2行目"})
    )
    rows = table(render([site("A", "体育館")], log))
    assert rows[1][7] == "1行目 | 2行目"


def test_open_first_then_preparing_closed_and_unopened_on_request() -> None:
    shelters = [site("A", "閉鎖"), site("B", "準備"), site("C", "未開設"), site("D", "開設")]
    log = events(
        (0, "hq", {"shelter_id": "A", "open_state": "open"}),
        (1, "hq", {"shelter_id": "A", "open_state": "closed"}),
        (2, "hq", {"shelter_id": "B", "open_state": "preparing"}),
        (3, "hq", {"shelter_id": "D", "open_state": "open", "evacuees": 12}),
    )
    rows = table(render(shelters, log))
    assert [(r[0], r[2], r[3]) for r in rows[1:]] == [
        ("開設高知県南国市", "開設", "空き"),
        ("準備高知県南国市", "開設準備中", "—"),
        ("閉鎖高知県南国市", "閉鎖", "—"),
    ]
    everything = table(render(shelters, log, include_unopened=True))
    assert [r[0] for r in everything[1:]][-1] == "未開設高知県南国市"
    assert everything[-1][4] == "— / 200" and everything[-1][8] == "未報告"


def test_unknown_crowding_and_manual_override_are_said_in_words() -> None:
    log = events(
        (0, "hq", {"shelter_id": "A", "open_state": "open", "evacuees": 30}),
        (1, "hq", {"shelter_id": "B", "open_state": "open", "crowding_override": "full"}),
    )
    rows = table(render([site("A", "甲", capacity=None), site("B", "乙")], log))
    assert rows[1][3] == "不明" and rows[1][4] == "30 / —"
    assert rows[2][3] == "満員（手動）"


def test_urgent_needs_lapse_after_the_expiry() -> None:
    log = events((0, "hq", {"shelter_id": "A", "open_state": "open", "urgent_needs": ["water"]}))
    fresh = table(render([site("A", "体育館")], log))
    assert fresh[1][6] == "【至急】水"
    stale = table(render([site("A", "体育館")], log, now=T0 + timedelta(hours=7)))
    assert stale[1][6] == ""  # an urgent need not re-confirmed lapses (and was never a need)
    assert stale[1][8] == "2026-09-01 | 12:00 （420分前）"
    log = events(
        (0, "hq", {"shelter_id": "A", "open_state": "open", "needs": ["water", "food"]}),
        (1, "hq", {"shelter_id": "A", "urgent_needs": ["water"]}),
    )
    assert table(render([site("A", "体育館")], log))[1][6] == "【至急】水、食料"
    lapsed = table(render([site("A", "体育館")], log, now=T0 + timedelta(hours=7)))
    assert lapsed[1][6] == "水、食料"  # still needed, no longer marked urgent


def test_english_copy() -> None:
    document = render(bundled(), events((0, "hq-tanaka", OPEN_REPORT)), lang="en")
    assert '<html lang="en">' in document
    rows = table(document)
    assert rows[0][:4] == ["Shelter", "Kind", "Open state", "Crowding"]
    assert rows[1][1:4] == [
        "Designated shelter | Emergency evacuation site",
        "Open",
        "Crowded",
    ]
    assert rows[1][8] == "2026-09-01 | 12:00 (7 min ago)"


def test_drill_lists_carry_an_unmistakable_banner() -> None:
    document = render(bundled(), events((0, "hq", OPEN_REPORT)), drill=True)
    tree = lxml.html.document_fromstring(document)
    assert tree.xpath("//p[contains(@class, 'drill')]")[0].text_content() == "訓練 / DRILL"
    assert "訓練" not in render(bundled(), events((0, "hq", OPEN_REPORT)))


def test_nothing_open_says_so() -> None:
    rows = table(render(bundled(), []))
    assert rows[1] == ["該当する避難所はありません。"]
