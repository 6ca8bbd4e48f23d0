"""The 在宅避難・車中泊 history as a small SVG drawn on the server.

One small step chart does not justify the 4.8 MB plotly bundle on HQ's page; this SVG is a
few kilobytes, needs no script, and reads the same: two step lines told apart by dash pattern
and marker shape as well as colour, with a legend in words and the latest numbers in the
image's text alternative.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from html import escape
from typing import Any
from urllib.parse import quote

from dash import html

from disaster_dx._time import to_jst

WIDTH, HEIGHT = 460, 170
_LEFT, _RIGHT, _TOP, _BOTTOM = 44, 10, 10, 42
_HOME = ("#0072B2", "")  # solid, circles
_CAR = ("#D55E00", "6 4")  # dashed, squares


def _nice_top(value: int) -> int:
    """A round axis maximum at or above ``value`` (1, 2, 5 × 10^n)."""
    top = 1
    while True:
        for step in (1, 2, 5):
            if step * top >= value:
                return step * top
        top *= 10


def _step_path(points: Sequence[tuple[float, float]]) -> str:
    if not points:
        return ""
    parts = [f"M{points[0][0]:.1f},{points[0][1]:.1f}"]
    for x, y in points[1:]:
        parts.append(f"H{x:.1f}V{y:.1f}")
    return "".join(parts)


def history_svg(history: Sequence[tuple[datetime, int, int]], lang: str) -> str:
    """The chart as an SVG document (empty axes and a note until the first area report)."""
    en = lang == "en"
    home_word, car_word = ("At home", "In cars") if en else ("在宅避難", "車中泊")
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
    times = [to_jst(at) for at, _, _ in history]
    top = _nice_top(max([1, *(max(h, c) for _, h, c in history)]))
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">',
        f'<rect x="{_LEFT}" y="{_TOP}" width="{plot_w}" height="{plot_h}" fill="#fff" '
        'stroke="#ccc"/>',
    ]
    for fraction in (0, 0.5, 1):
        y = _TOP + plot_h * (1 - fraction)
        out.append(f'<line x1="{_LEFT}" x2="{_LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
                   'stroke="#e5e5e5"/>')  # fmt: skip
        out.append(f'<text x="{_LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">'
                   f"{int(top * fraction):,}</text>")  # fmt: skip
    out.append(f'<text x="4" y="{_TOP + 10}">{"people" if en else "人"}</text>')
    if times:
        start, end = min(times), max(times)
        # At least an hour wide; one report sits in the middle of its hour.
        span = max((end - start).total_seconds(), 3600.0)
        origin = start if end > start else start - timedelta(minutes=30)

        def x_of(moment: datetime) -> float:
            return _LEFT + plot_w * (moment - origin).total_seconds() / span

        def y_of(value: int) -> float:
            return _TOP + plot_h * (1 - value / top)

        for tick in (origin.timestamp() + span * f for f in (0, 0.5, 1)):
            moment = datetime.fromtimestamp(tick, tz=origin.tzinfo)
            out.append(
                f'<text x="{x_of(moment):.1f}" y="{_TOP + plot_h + 14}" text-anchor="middle">'
                f"{moment:%H:%M}</text>"
            )
        end_x = _LEFT + plot_w
        for index, (colour, dash) in ((1, _HOME), (2, _CAR)):
            points = [(x_of(t), y_of(row[index])) for t, row in zip(times, history, strict=True)]
            points.append((end_x, points[-1][1]))  # the last count holds until now
            out.append(
                f'<path d="{_step_path(points)}" fill="none" stroke="{colour}" '
                f'stroke-width="2"{f" stroke-dasharray={chr(34)}{dash}{chr(34)}" if dash else ""}/>'
            )
            for x, y in points[:-1]:
                if index == 1:
                    out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"/>')
                else:
                    out.append(f'<rect x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7" '
                               f'fill="{colour}"/>')  # fmt: skip
    else:
        note = "No area report yet" if en else "地区からの報告はまだありません"
        out.append(f'<text x="{_LEFT + plot_w / 2}" y="{_TOP + plot_h / 2}" '
                   f'text-anchor="middle" fill="#555">{escape(note)}</text>')  # fmt: skip
    legend_y = HEIGHT - 8
    out.append(f'<line x1="{_LEFT}" x2="{_LEFT + 24}" y1="{legend_y - 4}" y2="{legend_y - 4}" '
               f'stroke="{_HOME[0]}" stroke-width="2"/>'
               f'<circle cx="{_LEFT + 12}" cy="{legend_y - 4}" r="3.5" fill="{_HOME[0]}"/>'
               f'<text x="{_LEFT + 30}" y="{legend_y}">{escape(home_word)}</text>')  # fmt: skip
    car_x = _LEFT + 130
    out.append(f'<line x1="{car_x}" x2="{car_x + 24}" y1="{legend_y - 4}" y2="{legend_y - 4}" '
               f'stroke="{_CAR[0]}" stroke-width="2" stroke-dasharray="{_CAR[1]}"/>'
               f'<rect x="{car_x + 8.5}" y="{legend_y - 7.5}" width="7" height="7" '
               f'fill="{_CAR[0]}"/>'
               f'<text x="{car_x + 30}" y="{legend_y}">{escape(car_word)}</text>')  # fmt: skip
    out.append("</svg>")
    return "".join(out)


def history_alt(history: Sequence[tuple[datetime, int, int]], lang: str) -> str:
    """The chart in words, for screen readers and for anyone who cannot tell the lines apart."""
    en = lang == "en"
    if not history:
        return (
            "People outside shelters over time: no area report yet"
            if en
            else "避難所外の避難者の推移：地区からの報告はまだありません"
        )
    at, home, car = history[-1]
    when = f"{to_jst(at):%H:%M}"
    if en:
        return (
            f"People outside shelters over time; latest ({when}): at home {home:,}, in cars {car:,}"
        )
    return f"避難所外の避難者の推移。最新（{when}）：在宅避難 {home:,}人、車中泊 {car:,}人"


def history_src(history: Sequence[tuple[datetime, int, int]], lang: str) -> str:
    """The chart as a ``data:`` URI for an ``<img>`` (no script, nothing to load)."""
    return "data:image/svg+xml;charset=utf-8," + quote(history_svg(history, lang))


def history_image(
    history: Sequence[tuple[datetime, int, int]], lang: str, **props: Any
) -> html.Img:
    """The chart as an image with its text alternative."""
    return html.Img(
        src=history_src(history, lang),
        alt=history_alt(history, lang),
        width=WIDTH,
        height=HEIGHT,
        **props,
    )
