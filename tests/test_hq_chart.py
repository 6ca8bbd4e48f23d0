"""HQ's 在宅避難・車中泊 chart: a server-built SVG with its text alternative (no plotly)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import unquote
from xml.etree import ElementTree

from disaster_dx.web.hq.chart import history_alt, history_src, history_svg

T0 = datetime(2026, 11, 26, 0, 0, tzinfo=UTC)  # 09:00 JST


def test_two_step_lines_told_apart_by_shape_and_dash_not_only_colour() -> None:
    history = [(T0, 12, 4), (T0 + timedelta(minutes=40), 30, 9)]
    svg = history_svg(history, "ja")
    root = ElementTree.fromstring(svg)  # well-formed
    paths = root.findall("{http://www.w3.org/2000/svg}path")
    assert len(paths) == 2
    assert [p.get("stroke-dasharray") for p in paths] == [None, "6 4"]
    # Circles for 在宅避難 and squares for 車中泊, one per report, plus one each in the legend.
    assert len(root.findall("{http://www.w3.org/2000/svg}circle")) == 3
    assert len(root.findall("{http://www.w3.org/2000/svg}rect")) == 1 + 3  # frame + 2 + legend
    text = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    assert "在宅避難" in text and "車中泊" in text and "09:00" in text
    assert (
        history_alt(history, "ja")
        == "避難所外の避難者の推移。最新（09:40）：在宅避難 30人、車中泊 9人"
    )
    assert "at home 30, in cars 9" in history_alt(history, "en")
    assert unquote(history_src(history, "en")).startswith("data:image/svg+xml;charset=utf-8,<svg")


def test_empty_history_says_so() -> None:
    svg = history_svg([], "en")
    ElementTree.fromstring(svg)
    assert "No area report yet" in svg and "<path" not in svg
    assert "no area report yet" in history_alt([], "en")
