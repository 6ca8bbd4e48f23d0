"""``/plans``: individual evacuation plans for planners, plus printable sheets and exports.

Planner (and admin) only, three times over: the request guard sends anonymous visitors to the
login page and refuses anonymous callbacks touching ``plans-`` components, the layout renders a
refusal for other roles, and every callback and route checks the role again (403,
audit-logged). Every view of resident data is audit-logged with resident ids by
:func:`disaster_dx.plans.read_residents`.

Callbacks stay thin: parse inputs → :class:`disaster_dx.plans.Planner` → ``layers/plans.py``.
The planner (cached road graph and buildings, live re-planning listener) is per app, kept in
``server.extensions``; nothing lives in module globals.

Routes: ``/plans/sheet/<id>`` (one A4 sheet with a folium map over an offline SVG map),
``/plans/export/sheets.html`` (all sheets, two pages each; ``?consented=1`` only residents who
agreed to share their data, ``?status=late`` only one status), ``/plans/export/plans.csv``
(Excel CSV with BOM) and ``/plans/export/plans_all.csv`` (every resident × hazard with the
様式's fields, for the city's 要支援者 system; ``docs/plans_csv.md``).
"""

from __future__ import annotations

import logging
import math
from typing import Any
from urllib.parse import quote, urlencode

import dash
import dash_ag_grid as dag
import dash_leaflet as dl
from dash import Dash, Input, Output, State, dcc, html, no_update
from flask import Response, abort, request

from disaster_dx.auth import Role, User
from disaster_dx.demo_district import SYNTHETIC_LABEL
from disaster_dx.errors import DisasterDxError, NotFoundError
from disaster_dx.io.export import csv_bytes
from disaster_dx.model import Hazard
from disaster_dx.plans import (
    PLAN_HAZARDS,
    Planner,
    PlanRun,
    PlanStatus,
    read_resident,
)
from disaster_dx.plans.csv_export import plans_csv
from disaster_dx.plans.sheet import plan_sheet_html, plan_sheets_html
from disaster_dx.residents import Resident
from disaster_dx.web.context import current
from disaster_dx.web.i18n import lang_of
from disaster_dx.web.security import page_user, requires, signed_in_user
from disaster_dx.web.staff import grid, refusal, staff_header
from layers.basemaps import basemap_control
from layers.plans import (
    BUILDING_MIN_ZOOM,
    building_features,
    building_layers,
    plans_legend,
    resident_markers,
    route_features,
    route_layer,
    route_map_html,
    selected_route,
)

log = logging.getLogger(__name__)

PLANS_ROLES = (Role.PLANNER,)
#: The download of every resident × hazard (:mod:`disaster_dx.plans.csv_export`).
ALL_PLANS_CSV = "plans_all.csv"

# Component ids (``plans-`` prefix: the security guard refuses anonymous callbacks on them).
MAP = "plans-map"
HAZARD = "plans-hazard"
MODE = "plans-mode"
ARRIVAL = "plans-arrival"
SUMMARY = "plans-summary"
TABLE = "plans-table"
DETAIL = "plans-detail"
ROUTES = "plans-routes"
SELECTED = "plans-selected-route"
RESIDENTS = "plans-residents"
DESTINATIONS = "plans-destinations"
BUILDINGS = "plans-buildings"
ZOOM_NOTE = "plans-zoom-note"
EXPORTS = "plans-exports"
MESSAGE = "plans-message"

_MODES = (
    ("designated", "平常時の計画（指定避難場所をすべて開設と仮定）"),
    ("live", "現在の開設状況（開設中・満員でない避難所のみ）"),
)
_COLUMNS = (
    ("resident_id", "管理番号"),
    ("name", "氏名"),
    ("mobility", "移動"),
    ("status", "判定"),
    ("destination", "避難先"),
    ("minutes", "歩く時間"),
    ("margin", "余裕"),
    ("vertical", "自宅の上階"),
    ("consent", "同意"),
)


# -- per-app planner ------------------------------------------------------------------------------


def planner() -> Planner:
    """The planner of the app serving this request (built and registered by the runtime)."""
    return current().runtime.planner


# -- parameters ---------------------------------------------------------------------------------


def _params(hazard: Any, mode: Any, arrival: Any) -> dict[str, Any]:
    """Checked scenario parameters (bad values fall back to the defaults)."""
    hazard_code = hazard if hazard in {h.value for h in PLAN_HAZARDS} else Hazard.TSUNAMI.value
    mode_code = mode if mode in ("designated", "live") else "designated"
    minutes: float | None = None
    try:
        if arrival not in (None, ""):
            minutes = float(arrival)
            if not (math.isfinite(minutes) and 0 <= minutes <= 24 * 60):
                minutes = None
    except (TypeError, ValueError):
        minutes = None
    return {"hazard": hazard_code, "mode": mode_code, "arrival": minutes}


def _query(params: dict[str, Any]) -> str:
    values = {"hazard": params["hazard"], "mode": params["mode"]}
    if params["arrival"] is not None:
        values["arrival"] = f"{params['arrival']:g}"
    return urlencode(values)


def _run(
    user: User, params: dict[str, Any], *, purpose: str, with_residents: bool = True
) -> PlanRun | None:
    made = planner()
    hazard = Hazard(params["hazard"])
    state = None
    if params["mode"] == "live":
        store = made.store
        state = store.state(store.live_incident(actor="plans").incident_id)
    scenario = made.scenario_for(
        hazard, mode=params["mode"], state=state, arrival_minutes=params["arrival"]
    )
    return made.compute(user, scenario, purpose=purpose, state=state, with_residents=with_residents)


# -- table and summary -------------------------------------------------------------------------


def _rows(run: PlanRun) -> list[dict[str, Any]]:
    plans = run.plans
    by_id = {r.resident_id: r for r in run.residents}
    rows = []
    for i in range(len(plans)):
        rid = str(plans.resident_ids[i])
        resident = by_id.get(rid)
        status = plans.status_of(i)
        k = int(plans.destination[i])
        minutes = plans.minutes[i]
        margin = plans.margin_min[i]
        home = int(plans.residents.home[i])
        vertical = plans.vertical.vertical(home) if home >= 0 else None
        rows.append(
            {
                "id": rid,
                "resident_id": rid,
                "name": resident.name if resident else "",
                "mobility": resident.mobility.ja if resident else "",
                "status": f"{status.symbol} {status.ja}",
                "status_code": status.value,
                "destination": plans.destinations[k].name if k >= 0 else "—",
                "minutes": "—" if not math.isfinite(minutes) else f"{math.ceil(minutes)}分",
                "margin": "—"
                if math.isnan(margin) or not math.isfinite(minutes)
                else (f"{math.floor(margin)}分" if margin >= 0 else f"{math.ceil(-margin)}分不足"),
                "vertical": f"{vertical.symbol} {vertical.ja}" if vertical else "？ 建物不明",
                "consent": "あり" if resident and resident.consent else "なし",
            }
        )
    order = {s: n for n, s in enumerate((PlanStatus.LATE, PlanStatus.CHECK, PlanStatus.VERTICAL))}
    rows.sort(key=lambda r: (order.get(PlanStatus(r["status_code"]), 9), r["resident_id"]))
    return rows


def _summary(run: PlanRun) -> list[Any]:
    counts = run.plans.counts()
    scenario = run.plans.scenario
    arrival = (
        "到達時間の指定なし"
        if scenario.arrival_minutes is None
        else f"到達まで{scenario.arrival_minutes:.0f}分（想定）"
    )
    tiles = [
        html.Div(
            [
                html.Div(f"{status.symbol} {status.ja}", className="dx-tile-label"),
                html.Div([html.Span(str(counts[status]), className="dx-tile-value"), " 人"]),
            ],
            className="dx-tile" + (" dx-tile-alert" if status.flagged and counts[status] else ""),
            id=f"plans-count-{status.value}",
        )
        for status in PlanStatus
    ]
    return [
        html.P(
            f"{scenario.label_ja}。{arrival}。避難先の候補 {len(run.plans.destinations)} か所。",
            className="dx-hint",
        ),
        *_far_notice(run),
        html.Div(tiles, className="dx-tiles"),
    ]


def _far_notice(run: PlanRun) -> list[Any]:
    """Destinations too far from the road network to route to: said, named, never hidden."""
    far = run.plans.far_destinations
    if not far:
        return []
    limit = run.plans.scenario.max_snap_m
    snap = {
        d.destination_id: float(m)
        for d, m in zip(run.plans.destinations, run.plans.destination_snap_m, strict=True)
    }
    names = [
        html.Li(
            f"{d.name}（{d.kind_ja}・{d.destination_id}）："
            + (
                f"道路から約{snap[d.destination_id]:,.0f}m"
                if math.isfinite(snap[d.destination_id])
                else "位置不明"
            )
        )
        for d in far
    ]
    return [
        html.Div(
            [
                html.P(
                    [
                        html.Strong(f"⚠ 経路を計算できない避難先が {len(far)} か所あります。"),
                        f"道路網から{limit:.0f}m以上離れているため、この避難先には誰も案内されません。"
                        "道路データ（不足している道）か避難先の位置を確認してください。",
                    ],
                    lang="ja",
                ),
                html.P(
                    f"Warning: {len(far)} destination(s) lie more than {limit:.0f} m from the road "
                    "network and cannot be routed to; no one is sent there. Check the road data "
                    "(a missing street) or the destination's position.",
                    lang="en",
                ),
                html.Details(
                    [
                        html.Summary("該当する避難先 / Destinations not routed"),
                        html.Ul(names),
                    ]
                ),
            ],
            role="note",
            id="plans-far-destinations",
            className="dx-error",
            style={"border": "2px solid #a33000", "padding": ".4rem .75rem", "margin": ".5rem 0"},
        )
    ]


def _destination_markers(run: PlanRun) -> list[dl.DivMarker]:
    used = {int(k) for k in run.plans.destination.tolist() if k >= 0}
    markers = []
    for k, destination in enumerate(run.plans.destinations):
        if k not in used:
            continue
        markers.append(
            dl.DivMarker(
                position=[destination.lat, destination.lon],
                iconOptions={
                    "html": '<span style="font-size:20px;color:#000;'
                    'text-shadow:0 0 3px #fff,0 0 3px #fff">★</span>',
                    "className": "plans-destination",
                    "iconSize": [20, 20],
                    "iconAnchor": [10, 10],
                },
                children=dl.Tooltip(f"★ {destination.name}（{destination.kind_ja}）"),
            )
        )
    return markers


def _export_links(params: dict[str, Any]) -> list[Any]:
    query = _query(params)
    links = (
        (f"/plans/export/sheets.html?{query}", "全員の計画書を印刷（A4・1人2ページ）"),
        (f"/plans/export/sheets.html?{query}&consented=1", "同意のある人の計画書だけ印刷"),
        (f"/plans/export/sheets.html?{query}&status=late", "間に合わない人の計画書だけ印刷"),
        (f"/plans/export/plans.csv?{query}", "一覧をCSV（Excel）で保存"),
        (
            f"/plans/export/{ALL_PLANS_CSV}?mode={params['mode']}",
            "要支援者システム用CSV（全員×全災害・様式の項目つき）を保存",
        ),
    )
    return [html.Li(html.A(text, href=href, target="_blank")) for href, text in links]


def _synthetic_banner() -> html.P:
    return html.P(
        f"{SYNTHETIC_LABEL}：この画面の道路・建物・浸水深・要支援者はデモ用に作った架空のものです。"
        "実在の人物・建物ではありません。",
        className="dx-error",
        role="note",
        id="plans-synthetic",
        style={"border": "3px double #a33000", "padding": ".4rem .75rem", "margin": ".5rem 1rem"},
    )


# -- layout ---------------------------------------------------------------------------------------


def layout(lang: str | None = None, **query: Any) -> html.Div:
    """The plans page (planner/admin); others get a refusal without data."""
    lang = lang_of(lang)
    user = page_user(*PLANS_ROLES)
    if user is None:
        return refusal(lang=lang)
    params = _params(query.get("hazard"), query.get("mode"), query.get("arrival"))
    header = staff_header(user, lang=lang, title_ja="個別避難計画", title_en="Evacuation plans")
    run = _run(user, params, purpose="plans.page")
    if run is None:
        return html.Div(
            [
                header,
                html.Main(
                    [
                        html.P(
                            "道路網がまだありません。`disaster-dx import-roads` と "
                            "`import-buildings`、`import-residents` で取り込むか、"
                            "`disaster-dx demo-district` でサンプル（架空データ）を"
                            "読み込んでください。",
                            id=MESSAGE,
                        )
                    ],
                    className="dx-narrow",
                ),
            ]
        )
    plans = run.plans
    located = plans.residents.located
    if located.any():
        center = [
            float(plans.residents.lat[located].mean()),
            float(plans.residents.lon[located].mean()),
        ]
    else:
        graph = plans.graph
        center = [float(graph.lat.mean()), float(graph.lon.mean())]
    controls = html.Div(
        [
            html.Label("災害", htmlFor=HAZARD),
            dcc.Dropdown(
                id=HAZARD,
                options=[{"label": h.ja, "value": h.value} for h in PLAN_HAZARDS],
                value=params["hazard"],
                clearable=False,
                searchable=False,
                style={"minWidth": "9rem"},
            ),
            html.Label("避難先の条件", htmlFor=MODE, className="dx-visually-hidden"),
            dcc.RadioItems(
                id=MODE,
                options=[{"label": text, "value": value} for value, text in _MODES],
                value=params["mode"],
                inline=True,
                inputStyle={"marginRight": ".3rem", "marginLeft": ".8rem"},
            ),
            html.Label("到達までの時間（分）", htmlFor=ARRIVAL),
            dcc.Input(
                id=ARRIVAL,
                type="number",
                min=0,
                max=1440,
                step=1,
                value=plans.scenario.arrival_minutes,
                debounce=True,
                style={"width": "5rem"},
            ),
        ],
        className="dx-filter",
        style={"flexWrap": "wrap", "padding": ".5rem 1rem"},
    )
    vertical_note = html.P(
        "上階避難の判定：最上階の床を（階数−1）×3m と見積もり、"
        "想定浸水深の上限＋1m より高ければ可。"
        "津波浸水区域の木造は不可。分からなければ「判定不能」。",
        className="dx-hint",
        style={"padding": "0 1rem"},
    )
    return html.Div(
        [
            header,
            _synthetic_banner() if run.data.synthetic else html.Div(id="plans-synthetic-none"),
            controls,
            html.Div(
                _summary(run), id=SUMMARY, style={"padding": "0 1rem"}, **{"aria-live": "polite"}
            ),
            vertical_note,
            html.Div(
                [
                    html.Section(
                        [
                            dl.Map(
                                [
                                    basemap_control(lang=lang),
                                    *building_layers(None, id_prefix=BUILDINGS),
                                    route_layer(route_features(plans), component_id=ROUTES),
                                    selected_route(None, component_id=SELECTED),
                                    dl.LayerGroup(_destination_markers(run), id=DESTINATIONS),
                                    dl.LayerGroup(resident_markers(plans), id=RESIDENTS),
                                    dl.ScaleControl(position="bottomleft", imperial=False),
                                ],
                                id=MAP,
                                center=center,
                                zoom=14,
                                trackViewport=True,
                                style={"height": "62vh", "minHeight": "420px"},
                            ),
                            html.P(
                                f"建物の判定は拡大（ズーム{BUILDING_MIN_ZOOM}以上）すると表示されます。",
                                id=ZOOM_NOTE,
                                className="dx-hint",
                            ),
                        ],
                        className="dx-hq-map",
                    ),
                    html.Section(
                        [
                            _table(_rows(run)),
                            html.Div(
                                html.P("表の行を選ぶと、ここに計画の内容が出ます。"),
                                id=DETAIL,
                                className="dx-detail",
                            ),
                        ],
                        className="dx-hq-board",
                    ),
                ],
                className="dx-hq-main",
            ),
            html.Div(
                [
                    html.Section(
                        [html.H2("印刷・出力"), html.Ul(_export_links(params), id=EXPORTS)],
                        className="dx-panel",
                    ),
                    html.Section([plans_legend(lang=lang)], className="dx-panel"),
                ],
                className="dx-hq-panels",
            ),
        ],
        lang="ja",
        className="dx-hq",
    )


def _table(rows: list[dict[str, Any]]) -> dag.AgGrid:
    """Every resident's plan, flagged ones first and tinted; one row selectable at a time."""
    columns: list[dict[str, Any]] = [
        {"field": key, "headerName": label, "minWidth": 70, "flex": 1, "filter": True}
        for key, label in _COLUMNS
    ]
    columns[1].update({"floatingFilter": True, "filter": "agTextColumnFilter", "minWidth": 110})
    return grid(
        TABLE,
        columns,
        rows,
        lang="ja",
        height="58vh",
        row_id="id",
        options={
            "rowSelection": {
                "mode": "singleRow",
                "checkboxes": False,
                "enableClickSelection": True,
            },
            "rowHeight": 30,
        },
        rowClassRules={"dx-row-late": "params.data.status_code === 'late'"},
        selectedRows=[],
    )


def _detail(run: PlanRun, resident: Resident, params: dict[str, Any]) -> html.Div:
    plans = run.plans
    i = plans.index()[resident.resident_id]
    plan = plans.plan(i)
    destination = plan.destination
    pairs = (
        ("判定", f"{plan.status.symbol} {plan.status.ja}"),
        ("移動", f"{resident.mobility.ja}（毎秒{plan.speed_m_s:.1f}m）"),
        ("必要な支援", "、".join(resident.needs) or "—"),
        ("避難支援者", f"{resident.supporter_name or '未定'} {resident.supporter_contact}".strip()),
        (plan.hazard_label, plan.depth_text()),
        ("自宅の上階", plan.vertical_text()),
        ("避難先", f"{destination.name}（{destination.kind_ja}）" if destination else "なし"),
        (
            "次の候補（別の場所）",
            f"{plan.alt_destination.name}（{plan.alt_destination.kind_ja}）"
            f"・約{plan.alt_length_m:.0f}m"
            if plan.alt_destination is not None and plan.alt_length_m is not None
            else "なし",
        ),
        (
            "道のり・時間",
            "—"
            if plan.length_m is None or plan.minutes is None
            else f"約{plan.length_m:.0f}m・歩いて約{math.ceil(plan.minutes)}分"
            f"（準備{plan.preparation_min:.0f}分）",
        ),
        (
            "余裕",
            "—"
            if plan.margin_min is None
            else (
                f"{math.floor(plan.margin_min)}分"
                if plan.margin_min >= 0
                else f"{math.ceil(-plan.margin_min)}分足りない"
            ),
        ),
    )
    return html.Div(
        [
            html.H2(f"{resident.name}（{resident.resident_id}）", id="plans-detail-name"),
            html.Dl([item for label, value in pairs for item in (html.Dt(label), html.Dd(value))]),
            html.A(
                "計画書を開く（A4・印刷用）",
                href=f"/plans/sheet/{resident.resident_id}?{_query(params)}",
                target="_blank",
                className="dx-button-link",
                id="plans-sheet-link",
            ),
        ]
    )


# -- callbacks ------------------------------------------------------------------------------------


def register(app: Dash) -> None:
    """Attach callbacks and routes to ``app`` (live re-planning is the runtime's)."""
    server = app.server
    server.add_url_rule("/plans/sheet/<resident_id>", "plans_sheet", _sheet)
    server.add_url_rule("/plans/export/<name>", "plans_export", _export)

    @app.callback(
        Output(TABLE, "rowData"),
        Output(TABLE, "selectedRows"),
        Output(SUMMARY, "children"),
        Output(ROUTES, "data"),
        Output(RESIDENTS, "children"),
        Output(DESTINATIONS, "children"),
        Output(EXPORTS, "children"),
        Output(SELECTED, "positions"),
        Output(DETAIL, "children"),
        Input(HAZARD, "value"),
        Input(MODE, "value"),
        Input(ARRIVAL, "value"),
        prevent_initial_call=True,
    )
    @requires(*PLANS_ROLES)
    def recompute(hazard: Any, mode: Any, arrival: Any) -> tuple[Any, ...]:
        """Re-plan everyone for the chosen hazard, mode and arrival time."""
        user = signed_in_user()
        assert user is not None  # requires() ran
        params = _params(hazard, mode, arrival)
        run = _run(user, params, purpose="plans.page")
        if run is None:
            return (no_update,) * 9
        return (
            _rows(run),
            [],
            _summary(run),
            route_features(run.plans),
            resident_markers(run.plans),
            _destination_markers(run),
            _export_links(params),
            [],
            html.P("表の行を選ぶと、ここに計画の内容が出ます。"),
        )

    @app.callback(
        *(
            Output(f"{BUILDINGS}-{key}", "data")
            for key in ("not_safe", "unknown", "safe", "outside")
        ),
        Output(ZOOM_NOTE, "children"),
        Input(MAP, "zoom"),
        Input(MAP, "bounds"),
        Input(HAZARD, "value"),
        prevent_initial_call=True,
    )
    @requires(*PLANS_ROLES)
    def buildings(zoom: Any, bounds: Any, hazard: Any) -> tuple[Any, ...]:
        """Building risk only where legible: at zoom ≥ 16, and only the visible buildings."""
        empty = {"type": "FeatureCollection", "features": []}
        if not isinstance(zoom, int | float) or zoom < BUILDING_MIN_ZOOM:
            note = f"建物の判定は拡大（ズーム{BUILDING_MIN_ZOOM}以上）すると表示されます。"
            return (empty, empty, empty, empty, note)
        data = planner().data()
        params = _params(hazard, None, None)
        vertical = data.vertical(Hazard(params["hazard"]))
        valid_bounds = bounds if isinstance(bounds, list) and len(bounds) == 2 else None
        features = building_features(data.buildings, vertical, bounds=valid_bounds)
        shown = sum(len(f["features"]) for f in features.values())
        return (
            features["not_safe"],
            features["unknown"],
            features["safe"],
            features["outside"],
            f"表示中の建物 {shown} 棟（{Hazard(params['hazard']).ja}の上階避難の判定）",
        )

    @app.callback(
        Output(DETAIL, "children", allow_duplicate=True),
        Output(SELECTED, "positions", allow_duplicate=True),
        Input(TABLE, "selectedRows"),
        State(HAZARD, "value"),
        State(MODE, "value"),
        State(ARRIVAL, "value"),
        prevent_initial_call=True,
    )
    @requires(*PLANS_ROLES)
    def select(
        selected_rows: Any,
        hazard: Any,
        mode: Any,
        arrival: Any,
    ) -> tuple[Any, Any]:
        """Show one resident's plan and route (the view is audit-logged with their id)."""
        user = signed_in_user()
        assert user is not None
        chosen = [r for r in selected_rows or [] if isinstance(r, dict)]
        rid = chosen[0].get("id") if chosen else None
        if not isinstance(rid, str):
            return no_update, no_update
        params = _params(hazard, mode, arrival)
        try:
            resident = read_resident(planner().store, user, rid, purpose="plans.detail")
        except NotFoundError:
            return html.P("この要支援者は登録されていません。"), []
        run = _run(user, params, purpose="plans.detail", with_residents=False)
        if run is None or rid not in run.plans.index():
            return no_update, no_update
        plan = run.plans.plan(run.plans.index()[rid])
        return _detail(run, resident, params), [[lat, lon] for lon, lat in plan.route]


# -- routes ---------------------------------------------------------------------------------------


def _planner_user() -> User:
    user = signed_in_user()
    if user is None:
        abort(401)
    if not user.has(*PLANS_ROLES):
        current().store.audit(user.username, "access.refused", target=request.path[:200])
        abort(403)
    return user


def _sources(run: PlanRun) -> list[str]:
    labels = {"roads": "道路", "buildings": "建物・浸水深", "residents": "要支援者"}
    return [
        f"{labels[kind]}：{info.source}"
        for kind, info in sorted(run.data.infos.items())
        if kind in labels
    ]


def _sheet(resident_id: str) -> Response:
    user = _planner_user()
    params = _params(
        request.args.get("hazard"), request.args.get("mode"), request.args.get("arrival")
    )
    store = current().store
    try:
        resident = read_resident(store, user, resident_id, purpose="plans.sheet")
    except NotFoundError:
        abort(404)
    run = _run(user, params, purpose="plans.sheet", with_residents=False)
    if run is None or resident_id not in run.plans.index():
        abort(404)
    plan = run.plans.plan(run.plans.index()[resident_id])
    page = plan_sheet_html(
        plan,
        resident,
        made_at=current().now(),
        synthetic=run.data.synthetic,
        graph=run.data.graph,
        map_html=route_map_html(plan),
        sources=_sources(run),
    )
    store.audit(user.username, "plan.sheet", target=resident_id, detail=params)
    return _private(Response(page, content_type="text/html; charset=utf-8"))


def _export(name: str) -> Response:
    user = _planner_user()
    if name == ALL_PLANS_CSV:
        return _export_all(user)
    if name not in ("sheets.html", "plans.csv"):
        abort(404)
    params = _params(
        request.args.get("hazard"), request.args.get("mode"), request.args.get("arrival")
    )
    run = _run(user, params, purpose=f"plans.export.{name}")
    if run is None:
        abort(404)
    plans = run.plans
    by_id = {r.resident_id: r for r in run.residents}
    wanted_status = request.args.get("status")
    chosen: list[int] = []
    for i in range(len(plans)):
        resident = by_id.get(str(plans.resident_ids[i]))
        if resident is None:
            continue
        if request.args.get("consented") == "1" and not resident.consent:
            continue
        if wanted_status and plans.status_of(i).value != wanted_status:
            continue
        chosen.append(i)
    ids = [str(plans.resident_ids[i]) for i in chosen]
    store = current().store
    store.audit(
        user.username,
        "plans.export",
        target=name,
        detail={**params, "count": len(ids), "ids": ids[:200]},
    )
    if name == "plans.csv":
        rows = []
        for i in chosen:
            plan = plans.plan(i)
            resident = by_id[plan.resident_id]
            rows.append(
                {
                    "管理番号": plan.resident_id,
                    "氏名": resident.name,
                    "移動": resident.mobility.ja,
                    "判定": plan.status.ja,
                    "避難先": plan.destination.name if plan.destination else "",
                    "道のり(m)": "" if plan.length_m is None else round(plan.length_m),
                    "歩く時間(分)": "" if plan.minutes is None else math.ceil(plan.minutes),
                    "余裕(分)": "" if plan.margin_min is None else math.floor(plan.margin_min),
                    "上階避難": plan.vertical.ja,
                    "同意": "あり" if resident.consent else "なし",
                    "データ": SYNTHETIC_LABEL if run.data.synthetic else "",
                }
            )
        response = Response(csv_bytes(rows), content_type="text/csv; charset=utf-8")
        filename = quote("個別避難計画.csv")
        response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{filename}"
        return _private(response)
    page = plan_sheets_html(
        [(plans.plan(i), by_id[str(plans.resident_ids[i])]) for i in chosen],
        made_at=current().now(),
        synthetic=run.data.synthetic,
        graph=run.data.graph,
        sources=_sources(run),
    )
    return _private(Response(page, content_type="text/html; charset=utf-8"))


def _export_all(user: User) -> Response:
    """Every resident × hazard for the city's 要支援者 system (docs/plans_csv.md; audited)."""
    params = _params(None, request.args.get("mode"), None)
    try:
        export = plans_csv(planner(), user, mode=params["mode"], purpose="plans.export.all_csv")
    except DisasterDxError:  # no road network yet
        abort(404)
    response = Response(export.data, content_type="text/csv; charset=utf-8")
    filename = quote("個別避難計画_全災害.csv")
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{filename}"
    return _private(response)


def _private(response: Response) -> Response:
    """Personal data: never cached by browsers or proxies, never indexed."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def register_page() -> None:
    """Register ``/plans`` with Dash pages."""
    dash.register_page(
        "plans",
        path="/plans",
        name="個別避難計画",
        title="個別避難計画",
        layout=layout,
    )
