"""The printable plan sheet: one A4 page per resident, in Japanese, that works on paper.

A 個別避難計画 is handed to the resident and their supporter and kept in a folder at the welfare
office, so the sheet is a standalone HTML page (inline CSS, no scripts of its own) that prints
on one A4 page in black and white: statuses are words with symbols, never colour alone.

The map has two layers. Underneath, always, an inline SVG drawn here from the road network:
streets, the route, home and destination, a scale bar and north — it prints without a network
connection. On top, optionally, an interactive map passed in as ready HTML (``map_html``; the
web app passes a folium map from ``layers/plans.py``, since this core module loads no UI
library). It sits in a transparent ``<iframe srcdoc>``: where its scripts and tiles load, it
covers the SVG; offline it draws nothing and the SVG shows through.

Everything people typed (names, addresses, needs, supporter details, shelter names) is escaped
with :func:`html.escape`. The sheet contains personal data: callers must have checked the
reader's role and written the audit entry (see :func:`disaster_dx.plans.read_resident`).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import datetime

import numpy as np

from disaster_dx._time import jst_minute
from disaster_dx.io.residents import Resident
from disaster_dx.model import Hazard
from disaster_dx.plans import (
    SAFETY_MARGIN_M,
    STOREY_HEIGHT_M,
    Plan,
    PlanStatus,
)
from disaster_dx.plans.judgement import LANDSLIDE_ADVICE
from disaster_dx.routing import RoadGraph, project

#: Shown on sheets made from demo data (same words as ``demo_district.SYNTHETIC_LABEL``).
SYNTHETIC_BANNER = "サンプル・架空データ（実在の人物・建物・道路ではありません）"

_CSS = """
@page { size: A4; margin: 10mm 11mm 10mm 11mm; }
* { box-sizing: border-box; }
body {
  font-family: "BIZ UDPGothic", "BIZ UDゴシック", "Noto Sans CJK JP", "Noto Sans JP",
    "Hiragino Sans", "Yu Gothic", "Meiryo", sans-serif;
  font-size: 10pt; line-height: 1.4; color: #000; background: #fff; margin: 0;
}
.sheet { width: 188mm; margin: 0 auto; padding: 4mm 0; page-break-after: always;
  break-after: page; }
.sheet:last-child { page-break-after: auto; break-after: auto; }
header { display: flex; align-items: baseline; gap: 4mm; border-bottom: 2px solid #000;
  padding-bottom: 1.5mm; margin-bottom: 2.5mm; }
h1 { font-size: 16pt; margin: 0; }
.rid { margin-left: auto; font-size: 9pt; }
.synthetic { border: 3px double #000; font-weight: bold; font-size: 12pt; text-align: center;
  padding: 1.2mm; margin: 0 0 2.5mm 0; letter-spacing: 0.05em; }
.status { border: 2px solid #000; padding: 2mm 3mm; margin: 0 0 2.5mm 0; }
.status .word { font-size: 15pt; font-weight: bold; }
.status .symbol { font-size: 17pt; font-weight: bold; margin-right: 2mm; }
.status.late { border-width: 4px; }
.status p { margin: 1mm 0 0 0; }
.cols { display: flex; gap: 4mm; }
.cols > section { flex: 1; }
h2 { font-size: 11pt; margin: 0 0 1mm 0; border-left: 4px solid #000; padding-left: 2mm; }
table { width: 100%; border-collapse: collapse; margin-bottom: 2.5mm; table-layout: fixed; }
th, td { border: 0.6pt solid #000; padding: 0.9mm 1.5mm; vertical-align: top; text-align: left;
  overflow-wrap: anywhere; }
th { width: 30%; background: #eee; font-weight: bold; }
.map { position: relative; width: 100%; height: 92mm; border: 0.6pt solid #000;
  margin-bottom: 2mm; overflow: hidden; }
.map svg { position: absolute; inset: 0; width: 100%; height: 100%; }
.map iframe { position: absolute; inset: 0; width: 100%; height: 100%; border: 0;
  background: transparent; }
.legend { font-size: 8.5pt; margin: 0 0 2mm 0; }
.notes { font-size: 8pt; margin: 0; padding-left: 4mm; }
.notes li { margin: 0.3mm 0; }
footer { font-size: 8pt; margin-top: 1.5mm; display: flex; gap: 4mm; flex-wrap: wrap; }
@media screen { body { background: #ddd; } .sheet { background: #fff; padding: 8mm 10mm;
  margin: 6mm auto; width: 210mm; box-shadow: 0 1px 4px #0006; } }
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _minutes(value: float | None) -> str:
    return "—" if value is None else f"約{math.ceil(value)}分"


def _metres(value: float | None) -> str:
    if value is None:
        return "—"
    return f"約{value / 1000:.1f}km" if value >= 1000 else f"約{round(value, -1):.0f}m"


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
    """One resident's plan as a standalone, printable A4 HTML page.

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
    return _document(
        [_sheet(plan, resident, made_at, synthetic, graph, map_html, sources)],
        title=f"個別避難計画 {resident.resident_id}",
    )


def plan_sheets_html(
    items: Sequence[tuple[Plan, Resident]],
    *,
    made_at: datetime,
    synthetic: bool,
    graph: RoadGraph | None = None,
    sources: Sequence[str] = (),
) -> str:
    """Many sheets in one document, one A4 page each (batch printing; SVG maps only)."""
    sheets = [_sheet(p, r, made_at, synthetic, graph, None, sources) for p, r in items]
    if not sheets:
        sheets = ['<section class="sheet"><p>対象の要支援者はいません。</p></section>']
    return _document(sheets, title=f"個別避難計画 一括（{len(items)}人）")


def _document(sheets: Sequence[str], *, title: str) -> str:
    body = "\n".join(sheets)
    return (
        '<!DOCTYPE html>\n<html lang="ja">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_e(title)}</title>\n"
        '<meta name="robots" content="noindex">\n'
        f"<style>{_CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _sheet(
    plan: Plan,
    resident: Resident,
    made_at: datetime,
    synthetic: bool,
    graph: RoadGraph | None,
    map_html: str | None,
    sources: Sequence[str],
) -> str:
    if plan.resident_id != resident.resident_id:
        raise ValueError("the plan and the resident are not the same person")
    scenario = plan.scenario
    status = plan.status
    parts = ['<section class="sheet">']
    parts.append(
        f"<header><h1>個別避難計画（{_e(scenario.hazard.ja)}）</h1>"
        f'<span class="rid">管理番号 {_e(resident.resident_id)}</span></header>'
    )
    if synthetic:
        parts.append(f'<p class="synthetic" role="note">{_e(SYNTHETIC_BANNER)}</p>')
    parts.append(_status_box(plan))
    parts.append('<div class="cols"><section>')
    parts.append("<h2>ご本人と支援者</h2><table>")
    parts.extend(
        _row(label, value)
        for label, value in (
            ("氏名", resident.name),
            ("住所", resident.address or "—"),
            ("移動", f"{resident.mobility.ja}（歩く速さ 毎秒{plan.speed_m_s:.1f}m で計算）"),
            ("必要な支援", "、".join(resident.needs) or "—"),
            ("避難支援者", resident.supporter_name or "未定"),
            ("支援者の連絡先", resident.supporter_contact or "—"),
            (
                "名簿情報の提供",
                "同意あり" if resident.consent else "同意なし（平常時は支援者に提供しない）",
            ),
        )
    )
    parts.append("</table></section><section>")
    parts.append("<h2>自宅の危険と上階避難</h2><table>")
    parts.extend(
        _row(label, value)
        for label, value in (
            (plan.hazard_label, plan.depth_text()),
            ("自宅の建物", plan.building_id or "特定できない"),
            ("上階避難", f"{plan.vertical.symbol} {plan.vertical_text()}"),
        )
    )
    parts.append("</table>")
    parts.append("<h2>避難先と時間</h2><table>")
    destination = plan.destination
    parts.extend(
        _row(label, value)
        for label, value in (
            (
                "避難先",
                f"{destination.name}（{destination.kind_ja}）" if destination else "なし",
            ),
            ("道のり", _metres(plan.length_m)),
            ("歩く時間", _minutes(plan.minutes)),
            ("準備の時間", f"{plan.preparation_min:.0f}分（想定）"),
            (
                "到達までの時間",
                "指定なし"
                if scenario.arrival_minutes is None
                else f"{scenario.arrival_minutes:.0f}分（想定）",
            ),
            ("余裕", _margin(plan.margin_min)),
        )
    )
    parts.append("</table></section></div>")
    parts.append('<div class="map" aria-label="避難経路の地図">')
    parts.append(route_svg(plan, graph))
    if map_html:
        parts.append(
            f'<iframe title="避難経路の地図（拡大縮小できる版）" srcdoc="{_e(map_html)}" '
            'loading="lazy" sandbox="allow-scripts"></iframe>'
        )
    parts.append("</div>")
    parts.append(
        '<p class="legend">地図：■ 自宅　★ 避難先　太線 避難経路　細線 道路　'
        "（経路は道路データ上の最短経路です。実際の道を歩いて確かめてください）</p>"
    )
    notes = [
        f"計画の条件：{scenario.label_ja}。",
        f"上階避難の判定：最上階の床の高さを（階数−1）×{STOREY_HEIGHT_M:.0f}m"
        f"（高さだけ分かるときは高さ−{STOREY_HEIGHT_M:.0f}m）と見積もり、"
        f"想定浸水深の上限＋{SAFETY_MARGIN_M:.0f}m より高ければ可。津波浸水区域の木造建物は不可。"
        "分からない項目があれば「判定不能」とし、安全とはしない。",
        "想定浸水深は浸水想定区域図の区分（幅のある値）で、上限の値で判定しています。",
        "時間は想定にもとづく目安です。地震の揺れ・がれき・夜間・渋滞で遅くなることがあります。",
    ]
    notes.extend(f"データ：{source}" for source in sources)
    parts.append('<ul class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>")
    parts.append(
        f"<footer><span>作成日時 {_e(jst_minute(made_at))}</span>"
        f"<span>判定 {_e(status.symbol)} {_e(status.ja)}</span>"
        "<span>個別避難計画（disaster_dx）</span></footer>"
    )
    parts.append("</section>")
    return "\n".join(parts)


def _row(label: str, value: str) -> str:
    return f"<tr><th>{_e(label)}</th><td>{_e(value)}</td></tr>"


def _margin(margin: float | None) -> str:
    if margin is None:
        return "—"
    if margin < 0:
        return f"{math.ceil(-margin)}分足りない"
    return f"{math.floor(margin)}分"


def _status_box(plan: Plan) -> str:
    status = plan.status
    advice = {
        PlanStatus.REACHABLE: "準備ができたら、下の経路で避難先へ向かいます。",
        PlanStatus.VERTICAL: (
            "避難先まで間に合わない見込みです。自宅の最上階へ上がります"
            "（それより早く出発できる場合は避難先へ）。"
        ),
        PlanStatus.LATE: (
            "避難先まで間に合わず、自宅の上階も安全とはいえません。"
            "早めの避難開始、より近い避難先、支援者の確保を検討してください。"
        ),
        PlanStatus.OUTSIDE: (
            "自宅は浸水想定区域の外です。揺れや周囲の状況に注意し、自宅で安全を確保します。"
        ),
        PlanStatus.CHECK: (
            "自宅の位置が分からないため計算できません。経度・緯度（または建物）を登録してください。"
        ),
    }[status]
    if plan.scenario.hazard is Hazard.LANDSLIDE:
        advice = LANDSLIDE_ADVICE.get(status.value, advice)
    css = "status late" if plan.flagged else "status"
    return (
        f'<div class="{css}" role="status"><span class="symbol">{_e(status.symbol)}</span>'
        f'<span class="word">{_e(status.ja)}</span><p>{_e(advice)}</p></div>'
    )


# -- the SVG map ----------------------------------------------------------------------------------

_WIDTH, _HEIGHT = 700.0, 340.0


def route_svg(plan: Plan, graph: RoadGraph | None) -> str:
    """An inline SVG of the route over nearby streets, with a scale bar and north arrow."""
    points = plan.route
    if not points:
        return (
            f'<svg viewBox="0 0 {_WIDTH:.0f} {_HEIGHT:.0f}" role="img" '
            'aria-label="経路なし"><text x="20" y="40" font-size="18">'
            "経路を表示できません（位置が不明か、到達できる避難先がありません）</text></svg>"
        )
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
    # Scale bar: a round length near a fifth of the width.
    metres = (maxx - minx) / 5
    nice = max(n for n in (50, 100, 200, 250, 500, 1000, 2000, 5000) if n <= max(metres, 50))
    bar = nice * scale
    parts.append(
        f'<g font-size="13"><rect x="12" y="{_HEIGHT - 30:.0f}" width="{bar + 16:.1f}" height="24" '
        'fill="#fff" opacity="0.85"/>'
        f'<path d="M20 {_HEIGHT - 14:.0f}h{bar:.1f}" stroke="#000" stroke-width="3"/>'
        f'<text x="20" y="{_HEIGHT - 18:.0f}">{nice}m</text></g>'
        f'<g font-size="16" font-weight="bold"><text x="{_WIDTH - 26:.0f}" y="26">N</text>'
        f'<path d="M{_WIDTH - 20:.0f} 32l-7 16h14z" fill="#000"/></g>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _label(x: float, y: float, text: str) -> str:
    anchor = "end" if x > _WIDTH * 0.7 else "start"
    dx = -12 if anchor == "end" else 12
    return (
        f'<text x="{x + dx:.1f}" y="{y - 10:.1f}" font-size="15" font-weight="bold" '
        f'text-anchor="{anchor}" stroke="#fff" stroke-width="4" paint-order="stroke">'
        f"{_e(text)}</text>"
    )


def _star(x: float, y: float, r: float = 11.0) -> str:
    points = []
    for k in range(10):
        radius = r if k % 2 == 0 else r * 0.45
        angle = math.pi / 2 + k * math.pi / 5
        points.append(f"{x + radius * math.cos(angle):.1f},{y - radius * math.sin(angle):.1f}")
    return f'<polygon points="{" ".join(points)}" fill="#000" stroke="#fff" stroke-width="2"/>'
