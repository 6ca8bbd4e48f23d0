"""The printable plan sheet: the 個別避難計画 様式 on two A4 pages per resident, in Japanese.

A 個別避難計画 is handed to the resident and their supporters and kept in a folder at the
welfare office, so the sheet is a standalone HTML page (inline CSS, no scripts of its own) that
prints in black and white: statuses are words with symbols, never colour alone, and no text is
smaller than 10 pt. It follows the items of the 様式 in the 内閣府「避難行動要支援者の避難行動支援に
関する取組指針」: when to start evacuating (:func:`disaster_dx.residents.evacuation_trigger`), the
first and second destinations, the route, the 避難支援等実施者 and an emergency contact, 配慮事項,
持ち出し品, 作成日 and 見直し日, and the consent to share the plan with a place to sign.

Page 1 is what to do (judgement, when to leave, where to, the map); page 2 is who helps and the
record (person, supporters, contacts, the home's risk, dates, consent). CSS page breaks keep
each page on its own sheet of paper, and each resident starts on a new sheet.

The HTML comes from Jinja2 templates shipped in ``disaster_dx/templates`` with autoescaping on:
everything people typed (names, addresses, needs, supporter details, shelter names) is escaped.
Only the SVG map built here (whose own texts go through :func:`html.escape`) is marked safe.

The map has two layers. Underneath, always, an inline SVG drawn here from the road network:
streets, the route, home and destinations, a scale bar and north — it prints without a network
connection. On top, optionally, an interactive map passed in as ready HTML (``map_html``; the
web app passes a folium map from ``layers/plans.py``, since this core module loads no UI
library). It sits in a transparent ``<iframe srcdoc>``: where its scripts and tiles load, it
covers the SVG; offline it draws nothing and the SVG shows through.

The sheet contains personal data: callers must have checked the reader's role and written the
audit entry (see :func:`disaster_dx.plans.read_resident`).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache

import numpy as np
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from disaster_dx._time import jst_minute
from disaster_dx.io.wareki import wareki_date
from disaster_dx.model import Hazard
from disaster_dx.plans import (
    SAFETY_MARGIN_M,
    STOREY_HEIGHT_M,
    Destination,
    Plan,
    PlanStatus,
)
from disaster_dx.plans.judgement import LANDSLIDE_ADVICE
from disaster_dx.residents import Resident, evacuation_trigger
from disaster_dx.routing import RoadGraph, project

#: Shown on sheets made from demo data (same words as ``demo_district.SYNTHETIC_LABEL``).
SYNTHETIC_BANNER = "サンプル・架空データ（実在の人物・建物・道路ではありません）"
#: Printed when the plan has no second destination.
NO_ALT_DESTINATION = "第二避難先：未設定"

#: The status words the sheet prints: the official 屋内安全確保 for staying upstairs.
STATUS_WORDS = {
    PlanStatus.REACHABLE: "避難先に間に合う",
    PlanStatus.VERTICAL: "避難先に間に合わない：屋内安全確保（自宅の最上階へ）",
    PlanStatus.LATE: "避難が間に合わない",
    PlanStatus.OUTSIDE: "区域外（立退き避難は不要の見込み）",
    PlanStatus.CHECK: "位置不明・要確認",
}
_ADVICE = {
    PlanStatus.REACHABLE: "避難を始めるタイミングになったら、下の経路で第一避難先へ向かいます。",
    PlanStatus.VERTICAL: (
        "避難先まで間に合わない見込みです。屋内安全確保として自宅の最上階へ上がります"
        "（それより早く出発できる場合は避難先へ）。"
    ),
    PlanStatus.LATE: (
        "避難先まで間に合わず、自宅での屋内安全確保も安全とはいえません。"
        "早めの避難開始、より近い避難先、支援者の確保を検討してください。"
    ),
    PlanStatus.OUTSIDE: (
        "自宅は浸水想定区域の外です。揺れや周囲の状況に注意し、自宅で安全を確保します。"
    ),
    PlanStatus.CHECK: (
        "自宅の位置が分からないため計算できません。経度・緯度（または建物）を登録してください。"
    ),
}


@cache
def _environment() -> Environment:
    """The templates shipped in the package (autoescaped; a missing value is an error)."""
    return Environment(
        loader=PackageLoader("disaster_dx", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=False,
        keep_trailing_newline=True,
    )


def _minutes(value: float | None) -> str:
    return "—" if value is None else f"約{math.ceil(value)}分"


def _metres(value: float | None) -> str:
    if value is None:
        return "—"
    return f"約{value / 1000:.1f}km" if value >= 1000 else f"約{round(value, -1):.0f}m"


def _m(value: float) -> str:
    return f"{value:.1f}m" if value % 1 else f"{value:.0f}m"


def _day(value: date | None) -> str:
    return "未記入" if value is None else wareki_date(value)


def depth_text(plan: Plan) -> str:
    """The expected depth: one value when the data gives one, else the class range.

    ``2.5m``; ``3m〜5m（区分の上限5mで判定）``; ``10m以上（上限なし）``.
    """
    if plan.scenario.hazard is Hazard.LANDSLIDE:  # the area, not a depth
        return plan.depth_text()
    lower, upper = plan.depth_lower_m, plan.depth_upper_m
    if upper is None:
        return "不明"
    if upper <= 0:
        return "浸水想定区域外"
    if math.isinf(upper):
        return f"{_m(lower or 0)}以上（上限なし）"
    if lower is None or math.isclose(lower, upper):
        return _m(upper)
    return f"{_m(lower)}〜{_m(upper)}（区分の上限{_m(upper)}で判定）"


def depth_is_range(plan: Plan) -> bool:
    """Whether :func:`depth_text` shows a class range (the footnote explains ranges then)."""
    if plan.scenario.hazard is Hazard.LANDSLIDE:
        return False
    lower, upper = plan.depth_lower_m, plan.depth_upper_m
    if upper is None or upper <= 0:
        return False
    return math.isinf(upper) or (lower is not None and not math.isclose(lower, upper))


def arrival_label(hazard: Hazard) -> str:
    """What the deadline is called: 津波到達までの時間 for tsunamis (never just 「到達」)."""
    if hazard is Hazard.TSUNAMI:
        return "津波到達までの時間（想定）"
    return "浸水が始まるまでの時間（想定）"


def alt_destination(plan: Plan) -> tuple[Destination | None, float | None]:
    """The plan's second destination (第二避難先: the nearest at another site) and its distance."""
    return plan.alt_destination, plan.alt_length_m


def plan_sheet_html(
    plan: Plan,
    resident: Resident,
    *,
    made_at: datetime,
    synthetic: bool,
    graph: RoadGraph | None = None,
    map_html: str | None = None,
    sources: Sequence[str] = (),
) -> str:
    """One resident's plan as a standalone, printable HTML document (two A4 pages).

    Parameters
    ----------
    plan, resident
        The plan and whose it is (same ``resident_id``).
    made_at
        When the sheet is made (printed in JST).
    synthetic
        Demo data: a banner says so on the sheet.
    graph
        The road network, for the SVG map's streets (the route is drawn either way).
    map_html
        Optional interactive map page (folium) laid over the SVG; see the module docstring.
    sources
        Lines naming the data used (roads, buildings, hazard map).
    """
    return _render(
        [_sheet(plan, resident, graph, map_html, sources)],
        title=f"個別避難計画 {resident.resident_id}",
        made_at=made_at,
        synthetic=synthetic,
    )


def plan_sheets_html(
    items: Sequence[tuple[Plan, Resident]],
    *,
    made_at: datetime,
    synthetic: bool,
    graph: RoadGraph | None = None,
    sources: Sequence[str] = (),
) -> str:
    """Many sheets in one document, each on its own sheets of paper (batch; SVG maps only)."""
    sheets = [_sheet(p, r, graph, None, sources) for p, r in items]
    return _render(
        sheets, title=f"個別避難計画 一括（{len(items)}人）", made_at=made_at, synthetic=synthetic
    )


def _render(sheets: Sequence[_SheetView], *, title: str, made_at: datetime, synthetic: bool) -> str:
    template = _environment().get_template("plan_sheet.html.j2")
    return template.render(
        title=title,
        sheets=sheets,
        made_at=jst_minute(made_at),
        synthetic=synthetic,
        synthetic_banner=SYNTHETIC_BANNER,
    )


@dataclass(frozen=True)
class _SheetView:
    """What the template prints for one resident (plain strings; the template escapes)."""

    resident_id: str
    hazard: str
    flagged: bool
    status_symbol: str
    status_word: str
    advice: str
    trigger: str
    destination_rows: tuple[tuple[str, str], ...]
    svg: Markup
    map_html: str | None
    has_alt_marker: bool
    person_rows: tuple[tuple[str, str], ...]
    carry_items: str
    supporter_rows: tuple[tuple[str, str], ...]
    emergency_rows: tuple[tuple[str, str], ...]
    home_rows: tuple[tuple[str, str], ...]
    date_rows: tuple[tuple[str, str], ...]
    consent_state: str
    consent_day: str
    notes: tuple[str, ...]


def _sheet(
    plan: Plan,
    resident: Resident,
    graph: RoadGraph | None,
    map_html: str | None,
    sources: Sequence[str],
) -> _SheetView:
    if plan.resident_id != resident.resident_id:
        raise ValueError("the plan and the resident are not the same person")
    scenario = plan.scenario
    status = plan.status
    destination = plan.destination
    alt, alt_length = alt_destination(plan)
    rows: list[tuple[str, str]] = [
        (
            "第一避難先",
            f"{destination.name}（{destination.kind_ja}）" if destination else "なし",
        ),
        ("道のり", _metres(plan.length_m)),
        ("避難先まで歩く時間", _minutes(plan.minutes)),
        ("準備にかかる時間", f"{plan.preparation_min:.0f}分（想定）"),
        (
            arrival_label(scenario.hazard),
            "指定なし"
            if scenario.arrival_minutes is None
            else f"{scenario.arrival_minutes:.0f}分（想定）",
        ),
        ("余裕", _margin(plan.margin_min)),
    ]
    if alt is None:
        rows.append(("第二避難先", NO_ALT_DESTINATION))
    else:
        walk = None if alt_length is None else alt_length / plan.speed_m_s / 60.0
        rows.append(
            (
                "第二避難先",
                f"{alt.name}（{alt.kind_ja}）・道のり{_metres(alt_length)}・歩いて{_minutes(walk)}",
            )
        )
    supporters = resident.all_supporters
    supporter_rows = [
        (f"支援者{k}" if len(supporters) > 1 else "支援者", f"{s.name or '—'}　{s.contact or ''}")
        for k, s in enumerate(supporters, start=1)
    ] or [("支援者", "未定")]
    notes = [
        f"計画の条件：{scenario.label_ja}。",
        f"屋内安全確保（上階避難）の判定：最上階の床の高さを（階数−1）×{STOREY_HEIGHT_M:.0f}m"
        f"（高さだけ分かるときは高さ−{STOREY_HEIGHT_M:.0f}m）と見積もり、"
        f"想定浸水深＋{SAFETY_MARGIN_M:.0f}m より高ければ可。津波浸水区域の木造建物は不可。"
        "分からない項目があれば「判定不能」とし、安全とはしない。",
    ]
    if depth_is_range(plan):
        notes.append(
            "想定浸水深は浸水想定区域図の区分（幅のある値）で、区分の上限の値で判定しています。"
        )
    notes.append(
        "時間は想定にもとづく目安です。地震の揺れ・がれき・夜間・渋滞で遅くなることがあります。"
    )
    if sources:
        notes.append("データ：" + "／".join(sources))
    if resident.plan_consent is True:
        consent_state = "同意あり（記録済み）"
    elif resident.plan_consent is False:
        consent_state = "同意なし：この計画は平常時には避難支援等関係者に提供しません。"
    else:
        consent_state = "未確認：本人（または代理人）の同意を確認し、署名をもらってください。"
    svg, alt_drawn = _map_svg(plan, graph, alt)
    return _SheetView(
        resident_id=resident.resident_id,
        hazard=scenario.hazard.ja,
        flagged=plan.flagged,
        status_symbol=status.symbol,
        status_word=STATUS_WORDS[status],
        advice=_advice(plan),
        trigger=trigger_text(plan, resident),
        destination_rows=tuple(rows),
        svg=svg,
        map_html=map_html or None,
        has_alt_marker=alt_drawn,
        person_rows=(
            ("氏名", resident.name),
            ("住所", resident.address or "—"),
            ("移動", f"{resident.mobility.ja}（歩く速さ 毎秒{plan.speed_m_s:.1f}m で計算）"),
            ("必要な支援", "、".join(resident.needs) or "—"),
            ("配慮事項", resident.considerations or "—"),
            (
                "名簿情報の提供",
                "同意あり" if resident.consent else "同意なし（平常時は支援者に提供しない）",
            ),
        ),
        carry_items="、".join(resident.carry_items) or "未記入",
        supporter_rows=tuple(supporter_rows),
        emergency_rows=(
            ("氏名", resident.emergency_name or "未記入"),
            ("続柄", resident.emergency_relation or "—"),
            ("電話番号", resident.emergency_phone or "—"),
        ),
        home_rows=(
            (plan.hazard_label, depth_text(plan)),
            ("屋内安全確保", f"{plan.vertical.symbol} {plan.vertical_text()}"),
        ),
        date_rows=(
            ("作成日", _day(resident.created_on)),
            ("見直し日", _day(resident.review_on)),
        ),
        consent_state=consent_state,
        consent_day=""
        if resident.plan_consent_on is None
        else wareki_date(resident.plan_consent_on),
        notes=tuple(notes),
    )


def _advice(plan: Plan) -> str:
    """What to do for the plan's status; landslide plans speak of areas, not water and floors."""
    advice = _ADVICE[plan.status]
    if plan.scenario.hazard is Hazard.LANDSLIDE:
        return LANDSLIDE_ADVICE.get(plan.status.value, advice)
    return advice


def trigger_text(plan: Plan, resident: Resident) -> str:
    """When to start evacuating (:func:`~disaster_dx.residents.evacuation_trigger`)."""
    if plan.status is PlanStatus.OUTSIDE:
        return (
            "自宅は区域外のため、立退き避難は不要の見込みです。"
            "周囲の状況と市の避難情報に注意します。"
        )
    return evacuation_trigger(resident, plan.scenario.hazard).ja


def _margin(margin: float | None) -> str:
    if margin is None:
        return "—"
    if margin < 0:
        return f"{math.ceil(-margin)}分足りない"
    return f"{math.floor(margin)}分"


# -- the SVG map ----------------------------------------------------------------------------------

_WIDTH, _HEIGHT = 700.0, 335.0  # the .map box: 188 mm × 90 mm (plan_sheet.css)


def _map_svg(plan: Plan, graph: RoadGraph | None, alt: Destination | None) -> tuple[Markup, bool]:
    """The SVG (safe: built here, every text escaped) and whether the 第二避難先 is drawn."""
    svg, drawn = _route_svg(plan, graph, alt)
    return Markup(svg), drawn  # built from escaped parts only


def route_svg(plan: Plan, graph: RoadGraph | None) -> str:
    """An inline SVG of the route over nearby streets, with a scale bar and north arrow."""
    return _route_svg(plan, graph, None)[0]


def _route_svg(plan: Plan, graph: RoadGraph | None, alt: Destination | None) -> tuple[str, bool]:
    points = plan.route
    if not points:
        return (
            f'<svg viewBox="0 0 {_WIDTH:.0f} {_HEIGHT:.0f}" role="img" '
            'aria-label="経路なし"><text x="20" y="40" font-size="18">'
            "経路を表示できません（位置が不明か、到達できる避難先がありません）</text></svg>"
        ), False
    lon = np.array([p[0] for p in points])
    lat = np.array([p[1] for p in points])
    x, y = project(lon, lat)
    pad = 120.0
    minx, maxx = x.min() - pad, x.max() + pad
    miny, maxy = y.min() - pad, y.max() + pad
    # Keep the page's aspect ratio: widen the shorter side around the centre.
    span_x, span_y = maxx - minx, maxy - miny
    if span_x / span_y < _WIDTH / _HEIGHT:
        grow = span_y * _WIDTH / _HEIGHT - span_x
        minx, maxx = minx - grow / 2, maxx + grow / 2
    else:
        grow = span_x * _HEIGHT / _WIDTH - span_y
        miny, maxy = miny - grow / 2, maxy + grow / 2
    scale = _WIDTH / (maxx - minx)

    def sx(v: np.ndarray) -> np.ndarray:
        return np.asarray((v - minx) * scale)

    def sy(v: np.ndarray) -> np.ndarray:
        return np.asarray((maxy - v) * scale)

    parts = [
        f'<svg viewBox="0 0 {_WIDTH:.0f} {_HEIGHT:.0f}" xmlns="http://www.w3.org/2000/svg" '
        'role="img" aria-label="避難経路の略図">',
        f'<rect width="{_WIDTH:.0f}" height="{_HEIGHT:.0f}" fill="#fff"/>',
    ]
    if graph is not None and graph.n_edges:
        u, v = graph.edge_u, graph.edge_v
        inside = (
            (graph.x[u] >= minx)
            & (graph.x[u] <= maxx)
            & (graph.y[u] >= miny)
            & (graph.y[u] <= maxy)
        ) | (
            (graph.x[v] >= minx)
            & (graph.x[v] <= maxx)
            & (graph.y[v] >= miny)
            & (graph.y[v] <= maxy)
        )
        ux, uy = sx(graph.x[u[inside]]), sy(graph.y[u[inside]])
        vx, vy = sx(graph.x[v[inside]]), sy(graph.y[v[inside]])
        path = "".join(
            f"M{a:.1f} {b:.1f}L{c:.1f} {d:.1f}"
            for a, b, c, d in zip(ux.tolist(), uy.tolist(), vx.tolist(), vy.tolist(), strict=True)
        )
        parts.append(f'<path d="{path}" stroke="#9a9a9a" stroke-width="1.4" fill="none"/>')
    route = " ".join(
        f"{a:.1f},{b:.1f}" for a, b in zip(sx(x).tolist(), sy(y).tolist(), strict=True)
    )
    parts.append(
        f'<polyline points="{route}" stroke="#fff" stroke-width="9" fill="none" '
        'stroke-linejoin="round" stroke-linecap="round"/>'
        f'<polyline points="{route}" stroke="#000" stroke-width="5" fill="none" '
        'stroke-linejoin="round" stroke-linecap="round"/>'
    )
    hx, hy = float(sx(x[:1])[0]), float(sy(y[:1])[0])
    parts.append(
        f'<rect x="{hx - 8:.1f}" y="{hy - 8:.1f}" width="16" height="16" fill="#000" '
        'stroke="#fff" stroke-width="2"/>' + _label(hx, hy, "自宅")
    )
    if plan.destination is not None:
        dx, dy = float(sx(x[-1:])[0]), float(sy(y[-1:])[0])
        parts.append(_star(dx, dy) + _label(dx, dy, plan.destination.name))
    alt_drawn = False
    if alt is not None:
        ax, ay = project(np.array([alt.lon]), np.array([alt.lat]))
        if minx <= ax[0] <= maxx and miny <= ay[0] <= maxy:
            px, py = float(sx(ax)[0]), float(sy(ay)[0])
            parts.append(_star(px, py, fill="#fff") + _label(px, py, f"第二 {alt.name}"))
            alt_drawn = True
    # Scale bar: a round length near a fifth of the width.
    metres = (maxx - minx) / 5
    nice = max(n for n in (50, 100, 200, 250, 500, 1000, 2000, 5000) if n <= max(metres, 50))
    bar = nice * scale
    parts.append(
        f'<g font-size="15"><rect x="12" y="{_HEIGHT - 34:.0f}" width="{bar + 16:.1f}" height="28" '
        'fill="#fff" opacity="0.85"/>'
        f'<path d="M20 {_HEIGHT - 14:.0f}h{bar:.1f}" stroke="#000" stroke-width="3"/>'
        f'<text x="20" y="{_HEIGHT - 19:.0f}">{nice}m</text></g>'
        f'<g font-size="17" font-weight="bold"><text x="{_WIDTH - 27:.0f}" y="26">N</text>'
        f'<path d="M{_WIDTH - 20:.0f} 32l-7 16h14z" fill="#000"/></g>'
    )
    parts.append("</svg>")
    return "".join(parts), alt_drawn


def _label(x: float, y: float, text: str) -> str:
    anchor = "end" if x > _WIDTH * 0.7 else "start"
    dx = -12 if anchor == "end" else 12
    return (
        f'<text x="{x + dx:.1f}" y="{y - 10:.1f}" font-size="15" font-weight="bold" '
        f'text-anchor="{anchor}" stroke="#fff" stroke-width="4" paint-order="stroke">'
        f"{html.escape(text)}</text>"
    )


def _star(x: float, y: float, r: float = 11.0, *, fill: str = "#000") -> str:
    points = []
    for k in range(10):
        radius = r if k % 2 == 0 else r * 0.45
        angle = math.pi / 2 + k * math.pi / 5
        points.append(f"{x + radius * math.cos(angle):.1f},{y - radius * math.sin(angle):.1f}")
    stroke = "#000" if fill == "#fff" else "#fff"
    return (
        f'<polygon points="{" ".join(points)}" fill="{fill}" stroke="{stroke}" stroke-width="2"/>'
    )
