"""``/hq``: the 災害対策本部 map and board, live, with bulk actions and outside-shelter counts.

Callbacks are thin: each checks the role (``requires``), loads state, calls ``disaster_dx.hq``
and ``layers``, and returns outputs. Live updates poll a cheap ``last_seq`` every few seconds
and re-render only when the event log moved.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import dash
import dash_leaflet as dl
from dash import ALL, ClientsideFunction, Dash, Input, Output, State, ctx, dcc, html, no_update

from disaster_dx import auth
from disaster_dx import hq as hq_core
from disaster_dx._time import to_jst
from disaster_dx.auth import Role, User
from disaster_dx.errors import ConflictError, DisasterDxError
from disaster_dx.incidents import display_name
from disaster_dx.model import Hazard, OpenState
from disaster_dx.plans import flagged_residents, results_version
from disaster_dx.situation import incident_time
from disaster_dx.web import hq_alerts, ids
from disaster_dx.web.conflict_view import conflict_view, display_value, field_label, field_names
from disaster_dx.web.context import AppContext, current
from disaster_dx.web.failures import register_failure_output
from disaster_dx.web.hq.board import board, detail
from disaster_dx.web.hq.chart import history_alt, history_image, history_src
from disaster_dx.web.i18n import lang_from_search, lang_of
from disaster_dx.web.security import page_user, requires, signed_in_user
from disaster_dx.web.shelter_form import parse_count
from disaster_dx.web.staff import grid, refusal, staff_header
from disaster_dx.web.user_incident import current_incident, drill_banner
from layers.basemaps import basemap_control, map_view
from layers.cameras import camera_overlay
from layers.hazards import hazard_legend, hazard_overlays
from layers.plans import flagged_markers, flagged_overlay
from layers.shelters import shelter_features, shelter_layer, status_legend

__all__ = ["layout", "register", "register_page"]

POLL_MS = 3000
HQ_ROLES = (Role.HQ,)


def _zoom_button(lang: str) -> html.Button:
    """Fly the map to the residents who cannot reach safety in time."""
    return html.Button(
        "Show on map" if lang == "en" else "地図で表示",
        id=ids.HQ_FLAGGED_ZOOM,
        type="button",
        className="dx-tile-button",
    )


def _snapshot(
    context: AppContext,
    lang: str,
    hazard: str | None,
    flagged: int | None,
) -> dict[str, Any]:
    """Everything the page shows, from one read of the incident (``flagged``: see _tiles)."""
    store = context.store
    settings = context.settings
    incident = current_incident()
    # Read before the fold: an event landing in between only means one more re-render.
    seq = store.last_seq(incident.incident_id, skip_routine=True)
    state = store.state(incident.incident_id)
    shelters = store.shelters()
    now = context.now()
    stale_after = timedelta(minutes=settings.stale_report_minutes)
    # In a drill, "N分前" and 報告遅れ are drill minutes (as in the replay and the report).
    clock = incident_time(store, incident).clock
    features = shelter_features(
        shelters, state, thresholds=settings.crowding, now=now, lang=lang, include_internal=True
    )
    names = auth.display_names(store)
    rows = hq_core.board_rows(
        shelters,
        state,
        thresholds=settings.crowding,
        now=now,
        stale_after=stale_after,
        urgent_after=timedelta(hours=settings.urgent_need_hours),
        lang=lang,
        clock=clock,
        names=names,
    )
    if hazard:
        rows = [r for r in rows if hazard in r["hazards"].split()]
    # Open shelters first (what HQ works on), overdue ones at the very top.
    rows.sort(key=lambda r: (not r["stale"], r["open_state_code"] not in ("open", "permanent")))
    totals = hq_core.summary(
        shelters,
        state,
        thresholds=settings.crowding,
        now=now,
        stale_after=stale_after,
        clock=clock,
    )
    history = context.outside_history.points(store, incident.incident_id)
    return {
        "history": history,
        "seq": seq,
        "features": features,
        "rows": rows,
        "tiles": _tiles(totals, lang, flagged, alerted=bool(state.alerts_in_force)),
        "areas": [
            {
                "area": a.area,
                "at_home": a.at_home,
                "in_car": a.in_car,
                "reported_by": names.get(a.reported_by or "", a.reported_by or ""),
                "version": a.version,
            }
            for a in sorted(state.areas.values(), key=lambda a: a.area)
        ],
        # What this screen shows of each shelter: bulk actions are based on it, not on the
        # store at click time, so a change HQ has not seen yet is never overwritten.
        "seen": {
            sid: [state.shelter(sid).version, state.shelter(sid).open_state.value]
            for sid in (s.shelter_id for s in shelters)
        },
    }


def _tiles(
    totals: hq_core.Summary, lang: str, flagged: int | None, *, alerted: bool
) -> list[html.Div]:
    """Summary tiles, with the count of residents who cannot reach safety in time.

    ``flagged`` comes from the stored live plans; ``None`` in a drill, whose state no plan
    follows (the tile is left out rather than showing live numbers as the drill's). Those plans
    are computed against the shelters open now, not the peacetime plan, and the tile says so:
    before anything is open every resident counts, which is true but not an emergency while
    no 避難情報 is in force (``alerted``), so the tile is not raised as an alert then.
    """
    en = lang == "en"
    items: tuple[tuple[str, str, str, str, str, str], ...] = (
        ("open", "開設中", "Open", f"{totals.open_shelters}", "か所", "sites"),
        ("evacuees", "避難者", "Evacuees", f"{totals.evacuees:,}", "人", "people"),
        ("full", "満員", "Full", f"{totals.full_shelters}", "か所", "sites"),
        ("stale", "報告遅れ", "Overdue reports", f"{totals.stale_reports}", "か所", "sites"),
        (
            "outside",
            "在宅避難・車中泊",
            "At home / in cars",
            f"{totals.outside_at_home:,}・{totals.outside_in_car:,}",
            "人",
            "people",
        ),
    )
    if flagged is not None:
        items += (
            (
                "flagged",
                "避難が間に合わない要支援者（地図の人の記号）",
                "Cannot reach safety in time (person marks)",
                f"{flagged:,}",
                "人",
                "people",
            ),
        )
    return [
        html.Div(
            [
                html.Div(label_en if en else label_ja, className="dx-tile-label"),
                html.Div(
                    [
                        html.Span(value, className="dx-tile-value"),
                        " ",
                        unit_en if en else unit_ja,
                        _zoom_button(lang) if key == "flagged" and value != "0" else None,
                    ],
                ),
                _flagged_basis(lang, alerted) if key == "flagged" else None,
            ],
            className=f"dx-tile dx-tile-{key}"
            + (
                " dx-tile-alert"
                if key in ("full", "stale", "flagged")
                and value != "0"
                and (key != "flagged" or alerted)
                else ""
            ),
            id=f"hq-tile-{key}",
        )
        for key, label_ja, label_en, value, unit_ja, unit_en in items
    ]


def _flagged_basis(lang: str, alerted: bool) -> html.Div:
    """What the flagged count is computed against: live (shelters open now), not planning."""
    en = lang == "en"
    short = "Live (shelters open now)" if en else "現況（いま開設中の避難所）で算出"
    full = (
        "Counted against the shelters open now (live), not the peacetime plan."
        if en
        else "いま開設中の避難所を目的地として算出した人数です（平時の計画ではありません）。"
    )
    if not alerted:
        short += "; off the map (no order)" if en else "・発令なしのため地図に非表示"
        full += (
            " No evacuation order is in force, so the map does not show them until the layer"
            " is switched on."
            if en
            else "避難情報の発令がないため、レイヤーで表示するまで地図には出しません。"
        )
    return html.Div(short, title=full, className="dx-tile-basis", id="hq-tile-flagged-basis")


def layout(lang: str | None = None, **_query: Any) -> html.Div:
    """The HQ page for HQ/admin; shelter staff get the list of their shelters."""
    lang = lang_of(lang)
    user = page_user(*HQ_ROLES)
    if user is None:
        staff = signed_in_user()
        if staff is not None and Role.SHELTER_STAFF in staff.roles:
            return _staff_home(staff, lang)
        return refusal(lang=lang)
    context = current()
    plans = _flagged_plans(context, user)
    snap = _snapshot(context, lang, None, plans["count"])
    incident = current_incident()
    situation = hq_alerts.situation(context, incident, lang)
    alerted = bool(context.store.state(incident.incident_id).alerts_in_force)
    en = lang == "en"
    hazard_options = [{"label": "すべて" if not en else "All", "value": ""}] + [
        {"label": h.label(lang), "value": h.value} for h in Hazard
    ]
    return html.Div(
        [
            drill_banner(incident, lang=lang),
            staff_header(
                user,
                lang=lang,
                # A drill's title is on its banner just above; the header says 訓練 only.
                title_ja=f"{context.store.city().hq_title}｜"
                + ("訓練" if incident.is_drill else display_name(incident, "ja")),
                title_en=f"{context.store.city().name_en} HQ | "
                + ("Drill" if incident.is_drill else display_name(incident, "en")),
            ),
            hq_alerts.panel(
                situation,
                lang=lang,
                hazard=context.store.state(incident.incident_id).current_hazard or incident.hazard,
                areas=context.store.areas(),
            ),
            html.Div(
                snap["tiles"], id=ids.HQ_TILES, className="dx-tiles", **{"aria-live": "polite"}
            ),
            html.Div(
                [
                    html.Section(
                        [
                            dl.Map(
                                [
                                    basemap_control(
                                        lang=lang,
                                        overlays=[
                                            *hazard_overlays(lang=lang),
                                            camera_overlay(lang),
                                            # Off in peacetime: before an order every
                                            # resident is "late" against nothing open.
                                            flagged_overlay(
                                                plans["flagged"],
                                                lang=lang,
                                                component_id=ids.HQ_FLAGGED,
                                                checked=alerted,
                                                person=True,
                                                overlay_id=ids.HQ_FLAGGED_OVERLAY,
                                            ),
                                        ],
                                    ),
                                    *hq_alerts.map_layers(situation),
                                    shelter_layer(
                                        snap["features"], component_id=ids.HQ_SHELTERS, lang=lang
                                    ),
                                    dl.ScaleControl(position="bottomleft", imperial=False),
                                ],
                                id=ids.HQ_MAP,
                                **_view(snap["features"]),
                                style={"height": "100%", "minHeight": "320px"},
                            ),
                            # The selected shelter, over the map's right edge: always in view.
                            html.Aside(
                                [
                                    html.Button(
                                        "×",
                                        id=ids.HQ_DETAIL_CLOSE,
                                        type="button",
                                        className="dx-detail-close",
                                        title="Close" if en else "閉じる",
                                        **{"aria-label": "Close" if en else "詳細を閉じる"},
                                    ),
                                    html.Div(id=ids.HQ_DETAIL, className="dx-detail"),
                                    hq_alerts.staffed_box(lang),
                                ],
                                id=ids.HQ_SIDE,
                                className="dx-hq-side",
                                **{"aria-label": "Selected shelter" if en else "選んだ避難所"},
                            ),
                        ],
                        className="dx-hq-map",
                    ),
                    html.Section(
                        [
                            html.Div(
                                [
                                    html.Label(
                                        "対応する災害で絞り込み" if not en else "Suitable for",
                                        htmlFor=ids.HQ_HAZARD,
                                    ),
                                    dcc.Dropdown(
                                        id=ids.HQ_HAZARD,
                                        options=hazard_options,
                                        value="",
                                        clearable=False,
                                        searchable=False,
                                    ),
                                ],
                                className="dx-filter",
                            ),
                            html.Div(board(snap["rows"], lang), className="dx-hq-grid"),
                        ],
                        className="dx-hq-board",
                    ),
                ],
                className="dx-hq-main",
            ),
            html.Div(
                [
                    _bulk_panel(lang),
                    _area_panel(snap["areas"], snap["history"], lang),
                    _export_panel(lang),
                    html.Div([status_legend(lang=lang), hazard_legend(lang=lang)]),
                ],
                className="dx-hq-panels",
            ),
            dcc.Store(id=ids.HQ_SEQ, data=snap["seq"]),
            dcc.Store(id=ids.HQ_SIDE_SHOWN, data=False),
            dcc.Store(id=ids.HQ_SEEN, data=snap["seen"]),
            dcc.Store(id=ids.HQ_FORCE, data=0),
            dcc.Store(id=ids.HQ_PLANS, data=plans["seen"]),
            dcc.Interval(id=ids.HQ_INTERVAL, interval=POLL_MS),
        ],
        lang=lang,
        className="dx-hq",
    )


def _flagged_plans(
    context: AppContext, user: User, seen: dict[str, Any] | None = None
) -> dict[str, Any]:
    """HQ's flagged residents from the stored live plans, read only when they changed.

    Each read is audit-logged, so polling compares :func:`results_version` first and
    returns ``flagged=None`` (keep what is shown) when nothing moved. In a drill there is
    nothing to show: live plans follow the live incident, not the drill's.
    """
    if current_incident().is_drill:
        empty = {"version": None, "count": None}
        return {"flagged": [] if seen is None else None, "count": None, "seen": empty}
    version = results_version(context.store)
    if seen is not None and seen.get("version") == version:
        return {"flagged": None, "count": seen.get("count"), "seen": seen}
    flagged = flagged_residents(context.store, user)
    return {
        "flagged": flagged,
        "count": len(flagged),
        "seen": {"version": version, "count": len(flagged)},
    }


def _view(features: dict[str, Any]) -> dict[str, Any]:
    """Centre the map on the shelters (dash-leaflet needs a centre; bounds alone fail)."""
    return map_view(features)


def _bulk_panel(lang: str) -> html.Section:
    en = lang == "en"
    options = [{"label": h.label(lang), "value": h.value} for h in Hazard]
    return html.Section(
        [
            html.H2("一括操作" if not en else "Bulk action"),
            html.Label(
                "対象：次の災害に対応する避難所" if not en else "Shelters suitable for",
                htmlFor=ids.HQ_BULK_HAZARD,
            ),
            dcc.Dropdown(
                id=ids.HQ_BULK_HAZARD,
                options=options,
                value=Hazard.TSUNAMI.value,
                clearable=False,
                searchable=False,
            ),
            html.Div(
                [
                    dcc.ConfirmDialogProvider(
                        html.Button("まとめて開設" if not en else "Open all", id=ids.HQ_BULK_OPEN),
                        id=ids.HQ_BULK_OPEN_CONFIRM,
                        message="対象の避難所をすべて「開設」にします。よろしいですか？"
                        if not en
                        else "Set every matching shelter to Open?",
                    ),
                    dcc.ConfirmDialogProvider(
                        html.Button(
                            "まとめて閉鎖" if not en else "Close all", id=ids.HQ_BULK_CLOSE
                        ),
                        id=ids.HQ_BULK_CLOSE_CONFIRM,
                        message="対象の避難所をすべて「閉鎖」にします。よろしいですか？"
                        if not en
                        else "Set every matching shelter to Closed?",
                    ),
                ],
                className="dx-buttons",
            ),
            html.Div(id=ids.HQ_BULK_RESULT, role="status"),
        ],
        className="dx-panel",
    )


def _area_panel(areas: list[dict[str, Any]], history: list[Any], lang: str) -> html.Section:
    en = lang == "en"
    return html.Section(
        [
            html.H2("避難所外の避難者（在宅・車中泊）" if not en else "People outside shelters"),
            html.Label("地区名" if not en else "Area", htmlFor=ids.HQ_AREA_NAME),
            dcc.Input(id=ids.HQ_AREA_NAME, type="text", maxLength=200, debounce=False),
            html.Div(
                [
                    html.Label(
                        [
                            "在宅避難（人）" if not en else "At home",
                            dcc.Input(
                                id=ids.HQ_AREA_HOME,
                                type="text",
                                inputMode="numeric",
                                autoComplete="off",
                            ),
                        ]
                    ),
                    html.Label(
                        [
                            "車中泊（人）" if not en else "In cars",
                            dcc.Input(
                                id=ids.HQ_AREA_CAR,
                                type="text",
                                inputMode="numeric",
                                autoComplete="off",
                            ),
                        ]
                    ),
                ],
                className="dx-row",
            ),
            html.Button("記録する" if not en else "Record", id=ids.HQ_AREA_SAVE),
            html.Div(id=ids.HQ_AREA_RESULT, role="status"),
            html.Div(id=ids.HQ_AREA_CONFLICT),
            grid(
                ids.HQ_AREA_TABLE,
                [
                    {"field": "area", "headerName": "地区" if not en else "Area", "flex": 2},
                    {"field": "at_home", "headerName": "在宅" if not en else "At home", "flex": 1},
                    {"field": "in_car", "headerName": "車中泊" if not en else "In cars", "flex": 1},
                    {"field": "reported_by", "headerName": "報告者" if not en else "By", "flex": 1},
                ],
                areas,
                lang=lang,
                row_id="area",
            ),
            history_image(history, lang, id=ids.HQ_AREA_HISTORY, className="dx-chart"),
        ],
        className="dx-panel",
    )


def _export_panel(lang: str) -> html.Section:
    en = lang == "en"
    links = (
        ("board.csv", "ボードをCSV（Excel）で保存", "Board as CSV (Excel)"),
        ("board.geojson", "ボードをGeoJSONで保存", "Board as GeoJSON"),
        ("lalert.csv", "Lアラート用CSV", "L-Alert CSV"),
        ("lalert.xml", "Lアラート用XML", "L-Alert XML"),
        ("lalert_evacuation.csv", "Lアラート用 避難情報CSV", "L-Alert evacuation information CSV"),
        ("lalert_evacuation.xml", "Lアラート用 避難情報XML", "L-Alert evacuation information XML"),
        ("print", "印刷用一覧（A4）", "Printable list (A4)"),
        ("print?internal=1", "印刷用一覧（内部メモ付き）", "Printable list with internal notes"),
    )
    return html.Section(
        [
            html.H2("出力" if not en else "Exports"),
            html.Ul(
                [
                    html.Li(html.A(en_ if en else ja, href=f"/hq/export/{name}", target="_blank"))
                    for name, ja, en_ in links
                ]
            ),
        ],
        className="dx-panel",
    )


def _staff_home(user: User, lang: str) -> html.Div:
    """Shelter staff's start page: their shelters, each with its state and last report."""
    en = lang == "en"
    context = current()
    store = context.store
    names = {s.shelter_id: s.name for s in store.shelters()}
    people = auth.display_names(store)
    state = store.state(current_incident().incident_id)
    now = context.now()
    items = []
    for sid in sorted(user.shelter_ids, key=lambda i: names.get(i, i)):
        status = state.shelter(sid)
        minutes = None
        if status.reported_at is not None:
            minutes = max(0, int((now - status.reported_at).total_seconds() // 60))
        if status.reported_at is None:
            last = "まだ報告がありません" if not en else "no report yet"
        else:
            who = people.get(status.reported_by or "", status.reported_by or "")
            at = to_jst(status.reported_at).strftime("%H:%M")
            last = (
                f"最終報告 {at}（{hq_core.ago_text(minutes, lang)}）{who}"
                if not en
                else f"last report {at} JST ({hq_core.ago_text(minutes, lang)}), {who}"
            )
        items.append(
            html.Li(
                [
                    html.A(
                        names.get(sid, sid),
                        href=f"/hq/shelter/{sid}" + ("?lang=en" if en else ""),
                    ),
                    html.Div(
                        [
                            html.Span(
                                status.open_state.label(lang),
                                className=f"dx-state dx-state-{status.open_state.value}",
                            ),
                            " ",
                            html.Span(last),
                        ],
                        className="dx-hint",
                    ),
                ],
                **{"data-shelter-id": sid},
            )
        )
    return html.Div(
        [
            drill_banner(current_incident(), lang=lang),
            staff_header(user, lang=lang, title_ja="担当避難所", title_en="Your shelters"),
            html.Main(
                [
                    html.P(
                        "更新する避難所を選んでください。"
                        if not en
                        else "Choose the shelter to update."
                    ),
                    html.Ul(items, className="dx-big-links", id=ids.HQ_STAFF_SHELTERS)
                    if items
                    else html.P(
                        "担当の避難所がまだ割り当てられていません。本部に連絡してください。"
                        if not en
                        else "No shelter is assigned to you yet. Please contact HQ."
                    ),
                    html.P(
                        html.A(
                            "スマートフォン用の軽い画面（電波が弱くても使え、圏外で入力した報告は"
                            "電波が戻ると送信されます）"
                            if not en
                            else "Light phone form (works on a weak signal; reports made "
                            "offline are sent when the connection is back)",
                            href="/m/" + ("?lang=en" if en else ""),
                            id="hq-phone-form-link",
                        )
                    ),
                ],
                className="dx-narrow",
            ),
        ]
    )


# -- callbacks ----------------------------------------------------------------------------------


def register(app: Dash) -> None:
    """Attach this page's callbacks to ``app`` (per app, so tests can build many apps)."""

    @app.callback(
        Output(ids.HQ_SHELTERS, "data"),
        Output(ids.HQ_BOARD, "rowData"),
        Output(ids.HQ_TILES, "children"),
        Output(ids.HQ_AREA_TABLE, "rowData"),
        Output(ids.HQ_AREA_HISTORY, "src"),
        Output(ids.HQ_AREA_HISTORY, "alt"),
        Output(ids.HQ_SEQ, "data"),
        Output(ids.HQ_FLAGGED, "children"),
        Output(ids.HQ_PLANS, "data"),
        Output(ids.HQ_SEEN, "data"),
        Input(ids.HQ_INTERVAL, "n_intervals"),
        Input(ids.HQ_FORCE, "data"),
        Input(ids.HQ_HAZARD, "value"),
        State(ids.HQ_SEQ, "data"),
        State(ids.HQ_PLANS, "data"),
        State("_pages_location", "search"),
        prevent_initial_call=True,
    )
    @requires(*HQ_ROLES)
    def refresh(
        _tick: int | None,
        _force: int | None,
        hazard: str | None,
        seen: int | None,
        seen_plans: dict[str, Any] | None,
        search: str,
    ) -> tuple[Any, ...]:
        """Re-render only when the log or the live plans moved (or the filter changed).

        Camera frames (routine events) do not count as the log moving: the board shows
        nothing of them, and cameras write one every few seconds.
        """
        context = current()
        incident = current_incident()
        user = signed_in_user()
        assert user is not None  # requires() ran
        plans = _flagged_plans(context, user, seen_plans or {})
        if (
            ctx.triggered_id == ids.HQ_INTERVAL
            and plans["flagged"] is None
            and context.store.last_seq(incident.incident_id, skip_routine=True) == (seen or 0)
        ):
            return (no_update,) * 10
        lang = lang_from_search(search)
        snap = _snapshot(context, lang, hazard or None, plans["count"])
        flagged = plans["flagged"]
        markers = no_update if flagged is None else flagged_markers(flagged, lang=lang, person=True)
        return (
            snap["features"],
            snap["rows"],
            snap["tiles"],
            snap["areas"],
            history_src(snap["history"], lang),
            history_alt(snap["history"], lang),
            snap["seq"],
            markers,
            plans["seen"],
            snap["seen"],
        )

    @app.callback(
        Output(ids.HQ_MAP, "viewport"),
        Output(ids.HQ_FLAGGED_OVERLAY, "checked"),
        Input(ids.HQ_FLAGGED_ZOOM, "n_clicks"),
        State(ids.HQ_FLAGGED, "children"),
        prevent_initial_call=True,
    )
    @requires(*HQ_ROLES)
    def show_flagged(clicks: int | None, markers: Any) -> Any:
        """Fit the map to the flagged residents' markers the page already holds (no new read).

        The overlay is switched on too: it is off in peacetime, and a button that flies to
        markers nobody can see would be a lie.
        """
        positions = [
            m["props"]["position"]
            for m in (markers if isinstance(markers, list) else [])
            if isinstance(m, dict) and isinstance(m.get("props", {}).get("position"), list)
        ]
        if not clicks or not positions:
            return no_update, no_update
        lats = [float(p[0]) for p in positions]
        lons = [float(p[1]) for p in positions]
        pad = 0.002  # ~200 m, so markers on the edge stay visible
        return {
            "bounds": [[min(lats) - pad, min(lons) - pad], [max(lats) + pad, max(lons) + pad]],
            "transition": "flyToBounds",
        }, True

    @app.callback(
        Output(ids.HQ_SHELTERS, "hideout"),
        Output(ids.HQ_BOARD, "selectedRows"),
        Output(ids.HQ_BOARD, "scrollTo"),
        Output(ids.HQ_DETAIL, "children"),
        Output(ids.HQ_MAP, "viewport", allow_duplicate=True),
        Input(ids.HQ_HAZARD, "value"),
        Input(ids.HQ_SHELTERS, "clickData"),
        Input(ids.HQ_BOARD, "selectedRows"),
        Input(ids.HQ_DETAIL_CLOSE, "n_clicks"),
        State(ids.HQ_SHELTERS, "hideout"),
        State(ids.HQ_BOARD, "rowData"),
        State(ids.HQ_MAP, "zoom"),
        State("_pages_location", "search"),
        prevent_initial_call=True,
    )
    @requires(*HQ_ROLES)
    def select(
        hazard: str | None,
        click: dict[str, Any] | None,
        selected_rows: list[dict[str, Any]] | None,
        _close: int | None,
        hideout: dict[str, Any] | None,
        rows: list[dict[str, Any]] | None,
        zoom: float | None,
        search: str,
    ) -> tuple[Any, ...]:
        """Map click selects the board row and the other way round; one selection for both.

        A marker click selects the row and scrolls the board to it; a row chosen on the board
        marks the marker and brings the map to it, zoomed in far enough to show its name.
        """
        hideout = dict(hideout or {})
        hideout["hazard"] = hazard or None
        trigger = ctx.triggered_id
        selected = hideout.get("selected")
        rows_out: Any = no_update
        scroll: Any = no_update
        viewport: Any = no_update
        if trigger == ids.HQ_SHELTERS and click:
            properties = click.get("properties") or {}
            if properties.get("cluster"):  # a cluster click zooms in; it selects nothing
                return (no_update,) * 5
            selected = properties.get("shelter_id") or click.get("id")
            rows_out = {"ids": [selected]} if selected else []
            scroll = {"rowId": selected, "rowPosition": "middle"} if selected else no_update
        elif trigger == ids.HQ_BOARD:
            # The grid already shows this selection: answering with it again would loop.
            chosen = [r for r in selected_rows or [] if isinstance(r, dict) and r.get("id")]
            if not chosen or chosen[0]["id"] == selected:
                return (no_update,) * 5
            selected = chosen[0]["id"]
            viewport = _fly_to(selected, zoom, int(hideout.get("labelZoom") or 17))
        elif trigger == ids.HQ_DETAIL_CLOSE:
            selected = None
            rows_out = []
        hideout["selected"] = selected
        shown = detail(selected, rows or [], lang_from_search(search))
        return hideout, rows_out, scroll, shown, viewport

    app.clientside_callback(
        ClientsideFunction(namespace="dx_hq", function_name="showSide"),
        Output(ids.HQ_SIDE_SHOWN, "data"),
        Input(ids.HQ_DETAIL, "children"),
        prevent_initial_call=True,
    )

    register_failure_output(app, ids.HQ_BULK_RESULT, "children")
    register_failure_output(app, ids.HQ_AREA_RESULT, "children")

    @app.callback(
        Output(ids.HQ_BULK_RESULT, "children"),
        Output(ids.HQ_FORCE, "data", allow_duplicate=True),
        Input(ids.HQ_BULK_OPEN_CONFIRM, "submit_n_clicks"),
        Input(ids.HQ_BULK_CLOSE_CONFIRM, "submit_n_clicks"),
        State(ids.HQ_BULK_HAZARD, "value"),
        State(ids.HQ_SEEN, "data"),
        State(ids.HQ_FORCE, "data"),
        State("_pages_location", "search"),
        prevent_initial_call=True,
    )
    @requires(*HQ_ROLES)
    def bulk(
        _open: int | None,
        _close: int | None,
        hazard: str,
        seen: Any,
        force: int,
        search: str,
    ) -> tuple[Any, int]:
        """Open or close every shelter suitable for one hazard, from what this screen showed."""
        state = OpenState.OPEN if ctx.triggered_id == ids.HQ_BULK_OPEN_CONFIRM else OpenState.CLOSED
        return _bulk(state, hazard, seen, lang_from_search(search)), (force or 0) + 1

    @app.callback(
        Output(ids.HQ_AREA_RESULT, "children"),
        Output(ids.HQ_AREA_CONFLICT, "children"),
        Output(ids.HQ_FORCE, "data", allow_duplicate=True),
        Input(ids.HQ_AREA_SAVE, "n_clicks"),
        Input({"type": ids.HQ_AREA_REAPPLY, "version": ALL}, "n_clicks"),
        State(ids.HQ_AREA_NAME, "value"),
        State(ids.HQ_AREA_HOME, "value"),
        State(ids.HQ_AREA_CAR, "value"),
        State(ids.HQ_AREA_TABLE, "rowData"),
        State(ids.HQ_FORCE, "data"),
        State("_pages_location", "search"),
        prevent_initial_call=True,
    )
    @requires(*HQ_ROLES)
    def record_area(
        _clicks: int | None,
        reapply: list[int | None],
        area: Any,
        at_home_raw: Any,
        in_car_raw: Any,
        shown: Any,
        force: int,
        search: str,
    ) -> tuple[Any, Any, Any]:
        """Record 在宅避難・車中泊 counts for one area, on the version this screen showed."""
        lang = lang_from_search(search)
        en = lang == "en"
        trigger = ctx.triggered_id
        if isinstance(trigger, dict) and not any(reapply):
            return no_update, no_update, no_update
        name = area.strip() if isinstance(area, str) else ""
        at_home, home_problem = parse_count(at_home_raw, lang)
        in_car, car_problem = parse_count(in_car_raw, lang)
        problems = [
            f"{field_label(field, lang)}: {problem}"
            for field, problem in (("at_home", home_problem), ("in_car", car_problem))
            if problem
        ]
        if problems:
            return html.P("；".join(problems), className="dx-error"), None, no_update
        if isinstance(trigger, dict):
            seen_version = int(trigger["version"])  # HQ looked at the newer values
        else:
            rows = shown if isinstance(shown, list) else []
            seen_version = next(
                (
                    int(r.get("version") or 0)
                    for r in rows
                    if isinstance(r, dict) and r.get("area") == name
                ),
                0,  # an area this screen does not list yet
            )
        user = signed_in_user()
        assert user is not None
        context = current()
        incident = current_incident()
        try:
            event = hq_core.report_area(
                context.store,
                incident.incident_id,
                user,
                name,
                at_home=at_home,
                in_car=in_car,
                seen_version=seen_version,
            )
        except ConflictError as exc:
            mine = {k: v for k, v in (("at_home", at_home), ("in_car", in_car)) if v is not None}
            view = conflict_view(
                exc,
                names=auth.display_names(context.store),
                mine=mine,
                lang=lang,
                reapply_id={"type": ids.HQ_AREA_REAPPLY, "version": exc.actual},
            )
            text = (
                "Someone else recorded this area first. Nothing was recorded."
                if en
                else "他の職員が先にこの地区を記録しました。記録していません。"
            )
            return html.P(text, className="dx-error"), view, no_update
        except DisasterDxError as exc:
            return html.P(_problem_text(exc, lang), className="dx-error"), None, no_update
        done = "Recorded." if en else "記録しました。"
        if event.merged:
            merged = field_names(list(event.merged), lang)
            done += (
                f" Counts colleagues recorded meanwhile ({merged}) were kept."
                if en
                else f"その間に他の職員が記録した項目（{merged}）はそのまま残しました。"
            )
        return html.P(done, className="dx-ok"), None, (force or 0) + 1


def _bulk(open_state: OpenState, hazard_code: str, seen: Any, lang: str) -> Any:
    """Bulk open/close based on ``seen`` (the HQ_SEEN store: id → [version, open state])."""
    context = current()
    user = signed_in_user()
    assert user is not None  # requires() ran
    store = context.store
    incident = current_incident()
    en = lang == "en"
    hazard = Hazard(hazard_code)
    shown: dict[str, hq_core.SeenShelter] = {}
    for sid, value in (seen if isinstance(seen, dict) else {}).items():
        if isinstance(value, list) and len(value) == 2 and value[1] in OpenState._value2member_map_:
            shown[str(sid)] = hq_core.SeenShelter(int(value[0]), OpenState(value[1]))
    masters = {s.shelter_id: s for s in store.shelters()}
    targets = [sid for sid in shown if sid in masters and hazard in masters[sid].hazards]
    outcome = hq_core.set_open_state_bulk(
        store, incident.incident_id, user, targets, open_state, seen=shown
    )
    label = open_state.label(lang)
    changed, matching = len(outcome.events), len(targets)
    if en:
        done = f"{label}: {changed} shelters changed ({hazard.en}; {matching} match)."
    else:
        done = f"{hazard.ja}対応の{matching}か所のうち{changed}か所を「{label}」にしました。"
    if not outcome.skipped:
        return done
    names = auth.display_names(store)
    skipped = []
    for sid, exc in outcome.skipped.items():
        field = exc.fields.get("open_state")
        detail = ""
        if field is not None:
            who = names.get(field.by, field.by)
            when = to_jst(field.at).strftime("%H:%M")
            state = display_value("open_state", field.theirs, lang)
            detail = f" ({state}, {who} {when})" if en else f"（{state}・{who} {when}）"
        skipped.append(html.Li(masters[sid].name + detail))
    note = (
        f"Not changed: {len(skipped)} shelter(s) whose open state a colleague changed after "
        "this screen was drawn. Check them and change them one by one if needed:"
        if en
        else f"次の{len(skipped)}か所は、この画面の表示後に他の職員が開設状況を変更したため"
        "変更していません。確認のうえ、必要なら個別に変更してください："
    )
    return html.Div(
        [
            html.P(done),
            html.P(note, className="dx-error"),
            html.Ul(skipped, id=ids.HQ_BULK_SKIPPED),
        ]
    )


def _problem_text(exc: DisasterDxError, lang: str) -> str:
    problems = getattr(exc, "problems", None)
    if problems:
        return "；".join(f"{p.where}: {p.message}" for p in problems)
    return str(exc) if lang == "en" else f"記録できませんでした：{exc}"


def _fly_to(shelter_id: str, zoom: float | None, names_from: int) -> Any:
    """The map viewport that shows ``shelter_id`` with its name (no zoom out if closer)."""
    shelter = next((s for s in current().store.shelters() if s.shelter_id == shelter_id), None)
    if shelter is None:
        return no_update
    return {
        "center": [shelter.lat, shelter.lon],
        "zoom": max(float(zoom or 0), float(names_from)),
        "transition": "flyTo",
    }


def _page_title(**_path: Any) -> str:
    """The browser tab's title, naming the city this app serves."""
    return current().store.city().hq_title


def register_page() -> None:
    """Register ``/hq`` with Dash pages."""
    dash.register_page("hq", path="/hq", name="災害対策本部", title=_page_title, layout=layout)
