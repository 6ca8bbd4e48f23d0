"""After-action report of the bundled tsunami drill: the numbers, the HTML, and how it looks."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from selenium.webdriver.support.ui import WebDriverWait

from disaster_dx import drills, hq
from disaster_dx.after_action import after_action, report_html, write_report
from disaster_dx.bundled import ensure_initialised
from disaster_dx.events import SHELTER_STATUS_REPORTED, NewEvent
from disaster_dx.model import CrowdingThresholds
from disaster_dx.store import Store
from tests.drill_support import FakeClock, ids_by_name, play_tsunami_drill


@pytest.fixture
def played(store: Store) -> tuple[Store, drills.DrillRun]:
    clock = FakeClock()
    store.clock = clock
    ensure_initialised(store)
    return store, play_tsunami_drill(store, clock, speed=60)


def test_report_numbers_agree_with_the_live_board(played) -> None:
    store, run = played
    report = after_action(store, run.incident_id, stale_after=timedelta(minutes=60))
    assert report.is_drill and report.inject_count == 31 and report.action_count == 10
    assert report.participants == {"hq1": 4, "hq2": 4, "staff1": 2}
    assert report.speeds == (60.0,)

    # Max evacuees: the HQ summary tile (same code as live) at every instant of the log.
    shelters = store.shelters()
    clock = drills.scenario_clock(store.events(run.incident_id))
    best, best_at = 0, None
    for moment in sorted({e.at for e in store.events(run.incident_id)}):
        state = drills.state_at(store, run.incident_id, moment)
        total = hq.summary(
            shelters,
            state,
            thresholds=CrowdingThresholds(),
            now=moment,
            stale_after=timedelta(hours=1),
        ).evacuees
        if total > best:
            best, best_at = total, clock(moment)
    assert (report.max_evacuees, report.max_evacuees_at) == (best, best_at)
    assert (
        report.evacuees[-1][1]
        == hq.summary(
            shelters,
            store.state(run.incident_id),
            thresholds=CrowdingThresholds(),
            now=store.clock(),
            stale_after=timedelta(hours=1),
        ).evacuees
    )

    needed = {o.shelter_name: o for o in report.needed}
    assert needed["日章小学校"].opened_elapsed is None  # judged unsafe, never opened
    assert needed["大篠小学校"].opened_elapsed == timedelta(minutes=38)
    assert needed["大篠小学校"].opened_by == "hq1"
    assert report.all_needed_open_at is None

    responses = {(r.shelter_name, r.inject_elapsed): r for r in report.responses}
    assert responses[("前浜防災コミュニティーセンター", timedelta(minutes=15))].minutes == 1
    assert responses[("大篠小学校", timedelta(minutes=30))].minutes == 8
    assert responses[("日章小学校", timedelta(minutes=45))].minutes == 55
    assert responses[("津波避難施設　久枝南タワー", timedelta(minutes=20))].minutes is None

    # The scheduler stopped the drill at the scenario's end (duration +02:40), not later.
    end = report.length
    assert end == timedelta(hours=2, minutes=40)
    assert store.incident(run.incident_id).closed_by == drills.DRILL_ACTOR
    stale = {(p.shelter_name, p.start, p.end, p.until_end) for p in report.stale}
    # Only staffed sites are overdue: the towers (指定緊急避難場所 only, nobody reports from
    # them) never are, however long since their last report.
    assert stale == {
        ("前浜防災コミュニティーセンター", timedelta(minutes=100), end, True),
        ("香長中学校", timedelta(minutes=104), timedelta(minutes=145), False),
        ("大篠小学校", timedelta(minutes=112), timedelta(minutes=140), False),
        ("三和防災コミュニティーセンター", timedelta(minutes=132), end, True),
    }
    assert report.stale_at(timedelta(minutes=120)) == 3 and report.stale_at(end) == 2


def test_report_html_is_labelled_escaped_and_complete(played, tmp_path: Path) -> None:
    store, run = played
    school = ids_by_name(store)["大篠小学校"]
    evil = '<script>alert("x")</script>'
    # The played drill is closed; a note typed by staff goes into a second drill.
    scenario = drills.load_scenario(
        drills.SCENARIO_DIR / "typhoon_river_flood.yaml", shelters=store.shelters()
    )
    other = drills.start_drill(store, scenario, actor="operator", speed=60)
    store.append(
        other.incident_id,
        [
            NewEvent(
                SHELTER_STATUS_REPORTED,
                {"shelter_id": school, "open_state": "open", "public_note": evil},
            )
        ],
        actor="hq1",
    )
    page = report_html(after_action(store, other.incident_id), plotly_js="/drill/plotly.min.js")
    assert evil not in page and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert '<script src="/drill/plotly.min.js"></script>' in page

    path = write_report(store, run.incident_id, tmp_path / "report.html")
    text = path.read_text(encoding="utf-8")
    for needle in (
        "訓練 / DRILL",
        "事後検証報告書",
        "避難者数の推移",
        "状況付与から最初の対応までの時間",
        "必要な避難所の開設",
        "日章小学校",
        "未開設",
        "報告遅れ",
        "津波避難施設　十市阿戸タワー",
        "（終了時まで）",
    ):
        assert needle in text, needle
    assert text.count('class="plotly-graph-div"') == 4
    assert len(text) > 3_000_000  # plotly.js inline: the file works offline


def test_report_of_the_bundled_tsunami_drill_is_readable(
    played, tmp_path: Path, second_browser, screenshot
) -> None:
    store, run = played
    path = write_report(store, run.incident_id, tmp_path / "after_action_tsunami.html")
    driver = second_browser
    driver.set_window_size(1280, 2400)
    driver.get(path.as_uri())
    WebDriverWait(driver, 20).until(
        lambda d: len(d.find_elements("css selector", ".plotly-graph-div .main-svg")) >= 4
    )
    body = driver.find_element("tag name", "body").text
    assert "訓練 / DRILL" in body and "事後検証報告書" in body
    assert "必要な避難所の開設" in body and "5 / 6 か所" in body
    legend = driver.find_elements("css selector", "#aar-plot-0 .legendtext")
    assert any("合計" in item.text for item in legend)
    screenshot(driver, "after_action_tsunami")
    driver.execute_script("window.scrollTo(0, document.body.scrollHeight * 0.45)")
    screenshot(driver, "after_action_tsunami_tables")
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [], errors
