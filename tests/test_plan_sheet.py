"""The printable 個別避難計画 sheet: the 様式's items, official terms, escaping, sizes, pages."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path

import pytest

from disaster_dx.bundled import BUNDLED_SHELTER_FILES
from disaster_dx.demo_district import DemoDistrict, demo_district
from disaster_dx.io.gsi import shelters_from_files
from disaster_dx.model import CrowdingThresholds, Hazard
from disaster_dx.plans import (
    Plan,
    PlanStatus,
    Scenario,
    eligible_destinations,
    plans_for_residents,
    resident_table,
    vertical_evacuation,
)
from disaster_dx.plans.sheet import (
    NO_ALT_DESTINATION,
    depth_text,
    plan_sheet_html,
    plan_sheets_html,
)
from disaster_dx.residents import Mobility, Resident, Supporter, Trigger, evacuation_trigger
from tests.conftest import skip_or_fail

MADE = datetime(2026, 4, 1, 1, 30, tzinfo=UTC)
TEMPLATES = Path(__file__).resolve().parents[1] / "disaster_dx" / "templates"


@cache
def district() -> DemoDistrict:
    return demo_district(n_residents=60, grid_size=32)


@cache
def _plans(hazard: Hazard = Hazard.TSUNAMI) -> tuple[Plan, ...]:
    d = district()
    master = tuple(shelters_from_files(BUNDLED_SHELTER_FILES).shelters)
    vertical = vertical_evacuation(d.buildings, hazard)
    destinations = eligible_destinations(
        master, None, hazard, mode="designated", thresholds=CrowdingThresholds(),
        buildings=d.buildings, vertical=vertical,
    )  # fmt: skip
    plans = plans_for_residents(
        d.graph, resident_table(d.residents, d.buildings), vertical, destinations,
        Scenario(hazard, mode="designated", arrival_minutes=20),
        building_ids=d.buildings["building_id"].to_numpy(dtype=str),
    )  # fmt: skip
    return tuple(plans.plan(i) for i in range(len(plans)))


def _plan(status: PlanStatus) -> Plan:
    return next(p for p in _plans() if p.status is status and p.route)


def _full(resident_id: str) -> Resident:
    """The demo resident with every 様式 field filled in (made-up values)."""
    person = next(r for r in district().residents if r.resident_id == resident_id)
    return dataclasses.replace(
        person,
        emergency_name="架空 緊急太郎",
        emergency_relation="長男",
        emergency_phone="088-000-1234",
        considerations="耳が聞こえにくいため筆談で",
        carry_items=("お薬手帳", "補聴器の電池"),
        supporters=(Supporter("架空 二番目", "090-0000-0002"),),
        created_on=date(2025, 4, 1),
        review_on=date(2026, 4, 1),
        plan_consent=True,
        plan_consent_on=date(2025, 4, 2),
    )


def _sheet(plan: Plan, resident: Resident | None = None) -> str:
    return plan_sheet_html(
        plan,
        resident or _full(plan.resident_id),
        made_at=MADE,
        synthetic=True,
        graph=district().graph,
    )


def test_the_sheet_carries_every_item_of_the_yoshiki() -> None:
    plan = dataclasses.replace(_plan(PlanStatus.REACHABLE), alt_destination=None, alt_length_m=None)
    text = _sheet(plan)
    for expected in (
        "避難を始めるタイミング",
        "揺れがおさまったらすぐ（津波警報・大津波警報の発表時も）",
        "第一避難先",
        NO_ALT_DESTINATION,
        "津波到達までの時間（想定）",
        "避難先まで歩く時間",
        "緊急連絡先（家族等）",
        "架空 緊急太郎",
        "長男",
        "088-000-1234",
        "配慮事項",
        "耳が聞こえにくいため筆談で",
        "持ち出し品",
        "お薬手帳、補聴器の電池",
        "支援者2",
        "架空 二番目",
        "作成日",
        "<th>作成日</th><td>令和7年4月1日</td>",
        "見直し日",
        "<th>見直し日</th><td>令和8年4月1日</td>",
        "同意日　令和7年4月2日",
        "本人署名",
        "同意あり（記録済み）",
    ):
        assert expected in text, expected
    # Official terms only: no bare 「到達までの時間」, no 「自宅の上階へ」.
    assert "到達までの時間" not in text.replace("津波到達までの時間", "")
    assert "自宅の上階へ" not in text
    assert "屋内安全確保" in text


def test_staying_upstairs_is_called_okunai_anzen_kakuho() -> None:
    text = _sheet(_plan(PlanStatus.VERTICAL))
    assert "避難先に間に合わない：屋内安全確保" in text and "自宅の上階へ" not in text


def test_no_internal_building_id_is_printed() -> None:
    plan = next(p for p in _plans() if p.building_id)
    text = _sheet(plan)
    assert plan.building_id is not None and plan.building_id not in text


def test_missing_fields_print_as_unset_not_as_blanks() -> None:
    plan = _plan(PlanStatus.REACHABLE)
    person = next(r for r in district().residents if r.resident_id == plan.resident_id)
    bare = Resident(person.resident_id, person.name, person.address, person.lon, person.lat)
    text = _sheet(plan, bare)
    assert text.count("未記入") >= 4  # 持ち出し品, emergency name, 作成日, 見直し日
    assert "未確認：本人（または代理人）の同意を確認し" in text


def test_typed_text_is_escaped() -> None:
    plan = _plan(PlanStatus.REACHABLE)
    evil = dataclasses.replace(
        _full(plan.resident_id),
        name="<script>alert(1)</script>",
        considerations='"><img src=x onerror=alert(1)>',
        carry_items=("<b>薬</b>",),
    )
    text = _sheet(plan, evil)
    assert "<script>alert" not in text and "<img src=x" not in text and "<b>薬" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_depth_prints_one_value_when_the_range_is_a_point() -> None:
    plan = _plan(PlanStatus.REACHABLE)
    point = dataclasses.replace(plan, depth_lower_m=2.5, depth_upper_m=2.5)
    assert depth_text(point) == "2.5m"
    text = _sheet(point)
    assert "2.5m〜2.5m" not in text and "区分（幅のある値）" not in text
    ranged = dataclasses.replace(plan, depth_lower_m=3.0, depth_upper_m=5.0)
    assert depth_text(ranged) == "3m〜5m（区分の上限5mで判定）"
    assert "区分（幅のある値）" in _sheet(ranged)
    open_class = dataclasses.replace(plan, depth_lower_m=10.0, depth_upper_m=float("inf"))
    assert depth_text(open_class) == "10m以上（上限なし）"


def test_every_text_is_at_least_10_pt() -> None:
    css = (TEMPLATES / "plan_sheet.css").read_text(encoding="utf-8")
    sizes = [float(v) for v in re.findall(r"font-size:\s*([\d.]+)pt", css)]
    assert sizes and min(sizes) >= 10
    assert not re.search(r"font-size:\s*[\d.]+(px|em|rem|%)", css)  # only pt in the CSS
    # SVG text: viewBox units scaled to the map box's 188 mm width.
    text = _sheet(_plan(PlanStatus.REACHABLE))
    svg = text[text.index("<svg") : text.index("</svg>")]
    width = float(re.search(r'viewBox="0 0 ([\d.]+) ', svg).group(1))  # type: ignore[union-attr]
    points_per_unit = 188 / width / 25.4 * 72
    svg_sizes = [float(v) for v in re.findall(r'font-size="([\d.]+)"', svg)]
    assert svg_sizes and min(svg_sizes) * points_per_unit >= 10


def test_two_pages_per_resident_with_page_breaks() -> None:
    items = [(p, _full(p.resident_id)) for p in _plans()[:3]]
    text = plan_sheets_html(items, made_at=MADE, synthetic=False)
    assert text.count('<section class="sheet">') == 3
    assert text.count('<div class="page">') == 6
    assert "1／2" in text and "2／2" in text
    assert ".page + .page { break-before: page;" in text
    assert "サンプル・架空データ" not in text
    empty = plan_sheets_html([], made_at=MADE, synthetic=False)
    assert "対象の要支援者はいません" in empty


def test_a_second_destination_is_printed_when_the_plan_has_one() -> None:
    plan = _plan(PlanStatus.REACHABLE)
    other = next(
        p.destination
        for p in _plans()
        if p.destination is not None and p.destination != plan.destination
    )
    with_alt = dataclasses.replace(plan, alt_destination=other, alt_length_m=1234.0)
    text = _sheet(with_alt)
    assert NO_ALT_DESTINATION not in text
    assert f"{other.name}（{other.kind_ja}）・道のり約1.2km・歩いて約" in text


@pytest.mark.parametrize(
    ("mobility", "needs", "hazard", "trigger"),
    [
        (Mobility.INDEPENDENT, (), Hazard.TSUNAMI, Trigger.TSUNAMI),
        (Mobility.WHEELCHAIR, ("酸素",), Hazard.TSUNAMI, Trigger.TSUNAMI),
        (Mobility.ELDERLY, (), Hazard.FLOOD, Trigger.LEVEL3),
        (Mobility.INDEPENDENT, ("視覚障害",), Hazard.STORM_SURGE, Trigger.LEVEL3),
        (Mobility.INDEPENDENT, (), Hazard.FLOOD, Trigger.LEVEL4),
        (Mobility.WITH_HELPER, (), Hazard.EARTHQUAKE, Trigger.EARTHQUAKE),
    ],
)
def test_when_to_leave_follows_the_person_and_the_hazard(
    mobility: Mobility, needs: tuple[str, ...], hazard: Hazard, trigger: Trigger
) -> None:
    person = Resident("T-1", "架空", mobility=mobility, needs=needs)
    assert evacuation_trigger(person, hazard) is trigger


def test_flood_sheet_names_the_level_3_trigger_and_its_own_deadline() -> None:
    plan = next(p for p in _plans(Hazard.FLOOD) if p.route)
    person = dataclasses.replace(_full(plan.resident_id), mobility=Mobility.ELDERLY)
    text = _sheet(plan, person)
    assert "高齢者等避難（警戒レベル3）の発令時に避難を始める" in text
    assert "津波到達までの時間" not in text and "浸水が始まるまでの時間（想定）" in text


@pytest.mark.browser
@pytest.mark.parametrize(
    "status", [PlanStatus.REACHABLE, PlanStatus.VERTICAL, PlanStatus.LATE, PlanStatus.OUTSIDE]
)
def test_each_sheet_prints_on_two_a4_pages_in_chromium(tmp_path: Path, status: PlanStatus) -> None:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        skip_or_fail("browser", "Chromium not installed")
    plan = _plan(status)
    page = tmp_path / "sheet.html"
    page.write_text(_sheet(plan), encoding="utf-8")
    pdf = tmp_path / "sheet.pdf"
    subprocess.run(
        [
            str(binary), "--headless", "--no-sandbox", "--disable-gpu",
            "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri(),
        ],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    data = pdf.read_bytes()
    pages = re.findall(rb"/Type\s*/Page[^s]", data)
    assert len(pages) == 2, f"{status}: {len(pages)} pages"
    sizes = set(re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)", data))
    assert sizes, "no page size in the PDF"
    for width, height in sizes:  # A4 is 595 × 842 points
        assert abs(float(width) - 595.3) < 1 and abs(float(height) - 841.9) < 1, sizes


@pytest.mark.browser
def test_a_batch_of_every_demo_plan_prints_two_pages_each(tmp_path: Path) -> None:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        skip_or_fail("browser", "Chromium not installed")
    plans = _plans()
    page = tmp_path / "sheets.html"
    page.write_text(
        plan_sheets_html(
            [(p, _full(p.resident_id)) for p in plans],
            made_at=MADE,
            synthetic=True,
            graph=district().graph,
            sources=["道路：デモ（架空）", "建物・浸水深：デモ（架空）"],
        ),
        encoding="utf-8",
    )
    pdf = tmp_path / "sheets.pdf"
    subprocess.run(
        [
            str(binary), "--headless", "--no-sandbox", "--disable-gpu",
            "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri(),
        ],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    pages = re.findall(rb"/Type\s*/Page[^s]", pdf.read_bytes())
    assert len(pages) == 2 * len(plans)
