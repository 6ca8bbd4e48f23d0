"""``/hq/incidents``: name the disaster HQ works on, close it, and open past records.

HQ (and admin) only. Naming and closing go through :mod:`disaster_dx.incidents` (the same
functions as ``disaster-dx incident open|close``), so the role check, the one-open-incident
rule and the "shelters still open" refusal are the core's. The records list links every live
incident (open and past) and every drill to its replay (``/drill/replay/<id>``) and
after-action report (``/drill/report/<id>``), which HQ may open for both.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import dash
from dash import Dash, Input, Output, State, dcc, html, no_update

from disaster_dx import incidents
from disaster_dx._time import JST, jst_minute
from disaster_dx.auth import Role
from disaster_dx.errors import DisasterDxError
from disaster_dx.model import Hazard
from disaster_dx.store import Incident, Store
from disaster_dx.web import ids
from disaster_dx.web.context import current
from disaster_dx.web.i18n import lang_from_search, lang_of
from disaster_dx.web.security import page_user, requires, signed_in_user
from disaster_dx.web.staff import refusal, staff_header
from disaster_dx.web.user_incident import current_incident

PATH = "/hq/incidents"
HQ_ROLES = (Role.HQ,)
START_FORMAT = "%Y-%m-%d %H:%M"


def _current_view(store: Store, lang: str) -> html.Div:
    incident = store.live_incident()
    en = lang == "en"
    rows: list[tuple[str, str, str]] = [
        ("災害名", "Disaster", incidents.display_name(incident, lang)),
        ("災害の種類", "Hazard", incident.hazard.label(lang) if incident.hazard else "—"),
        ("始まり", "Started", jst_minute(incident.started_at or incident.created_at)),
        ("記録の番号", "Record id", incident.incident_id),
    ]
    state = store.state(incident.incident_id)
    open_count = sum(1 for s in state.shelters.values() if s.open_state.is_open)
    rows.append(("開設中の避難所", "Open shelters", f"{open_count}"))
    rows.append(("発令中の避難情報", "Evacuation information", f"{len(state.alerts_in_force)}"))
    return html.Div(
        [
            html.Dl(
                [
                    item
                    for ja, en_, value in rows
                    for item in (html.Dt(en_ if en else ja), html.Dd(value))
                ],
                className="dx-inc-facts",
            ),
            html.P(
                "災害名がまだありません。災害が始まったら名前を付けてください。"
                if not incident.named and not en
                else (
                    "No disaster name yet: name it when a disaster starts."
                    if not incident.named
                    else ""
                ),
                className="dx-hint",
            ),
        ]
    )


def _records_view(store: Store, lang: str) -> html.Table:
    en = lang == "en"
    head = (
        ("種類", "名称", "期間（日本時間）", "状態", "", "")
        if not en
        else (
            "Kind",
            "Name",
            "Period (JST)",
            "State",
            "",
            "",
        )
    )
    body = [_record_row(i, lang) for i in store.incidents()]
    return html.Table(
        [
            html.Thead(html.Tr([html.Th(h) for h in head])),
            html.Tbody(body),
        ],
        className="dx-inc-records",
    )


def _record_row(incident: Incident, lang: str) -> html.Tr:
    en = lang == "en"
    start = incident.started_at or incident.created_at
    end = incident.closed_at
    if end is None:
        state = "進行中" if not en else "open"
    else:
        by = f"（{incident.closed_by}）" if incident.closed_by else ""
        state = f"終了{by}" if not en else f"closed{f' by {incident.closed_by}' if by else ''}"
    return html.Tr(
        [
            html.Td(incident.kind.label(lang)),
            html.Td(incidents.display_name(incident, lang)),
            html.Td(f"{jst_minute(start)} 〜 {jst_minute(end)}"),
            html.Td(state),
            html.Td(
                html.A(
                    "記録を再生" if not en else "Replay",
                    href=f"/drill/replay/{incident.incident_id}",
                )
            ),
            html.Td(
                html.A(
                    "事後検証報告書" if not en else "After-action report",
                    href=f"/drill/report/{incident.incident_id}",
                    target="_blank",
                )
            ),
        ],
        **{"data-incident": incident.incident_id},
    )


def layout(lang: str | None = None, **_query: Any) -> html.Div:
    """``/hq/incidents`` for HQ/admin."""
    lang = lang_of(lang)
    user = page_user(*HQ_ROLES)
    if user is None:
        return refusal(lang=lang, signed_in=signed_in_user() is not None)
    store = current().store
    en = lang == "en"
    in_drill = current_incident().is_drill
    hazards = [{"label": h.label(lang), "value": h.value} for h in Hazard]
    return html.Div(
        [
            staff_header(
                user, lang=lang, title_ja="災害名・記録", title_en="Disasters and records"
            ),
            html.Main(
                [
                    html.P(
                        "いまは訓練に参加中ですが、この画面は実災害の記録を扱います。"
                        if not en
                        else "You joined a drill; this page is about live incidents.",
                        className="dx-error",
                    )
                    if in_drill
                    else None,
                    html.Section(
                        [
                            html.H2("いまの災害（実災害）" if not en else "Current live incident"),
                            html.Div(_current_view(store, lang), id=ids.INC_CURRENT),
                        ],
                        className="dx-panel",
                    ),
                    html.Section(
                        [
                            html.H2(
                                "災害名を付けて始める" if not en else "Name the disaster (start)"
                            ),
                            html.P(
                                "同時に開けるのは1つだけです。前の災害は先に終えてください。"
                                if not en
                                else "Only one can be open at a time: close the previous one.",
                                className="dx-hint",
                            ),
                            html.Label(
                                "災害名（例：令和8年 台風第10号）"
                                if not en
                                else "Name (e.g. 令和8年 台風第10号)",
                                htmlFor=ids.INC_NAME,
                            ),
                            dcc.Input(id=ids.INC_NAME, type="text", maxLength=200),
                            html.Label(
                                "主な災害の種類" if not en else "Main hazard",
                                htmlFor=ids.INC_HAZARD,
                            ),
                            dcc.Dropdown(id=ids.INC_HAZARD, options=hazards),
                            html.Label(
                                "始まり（日本時間 YYYY-MM-DD HH:MM、空欄は今）"
                                if not en
                                else "Start (JST, YYYY-MM-DD HH:MM; blank: now)",
                                htmlFor=ids.INC_START,
                            ),
                            dcc.Input(
                                id=ids.INC_START,
                                type="text",
                                maxLength=16,
                                placeholder="2026-09-01 06:00",
                            ),
                            html.Button(
                                "この名前で始める" if not en else "Start with this name",
                                id=ids.INC_OPEN,
                                className="dx-submit",
                            ),
                            html.P(id=ids.INC_OPEN_RESULT, role="status"),
                        ],
                        className="dx-panel dx-inc-form",
                    ),
                    html.Section(
                        [
                            html.H2("いまの災害を終える" if not en else "Close the live incident"),
                            html.P(
                                "終えた災害は記録として残り、再生と報告書に使えます。"
                                "次の入力からは新しい（名前のない）記録になります。"
                                if not en
                                else "A closed incident stays for replay and the report; "
                                "the next write starts a new, unnamed one.",
                                className="dx-hint",
                            ),
                            html.Label(
                                "終え方" if not en else "How to close",
                                htmlFor=ids.INC_FORCE,
                                className="dx-visually-hidden",
                            ),
                            dcc.Checklist(
                                id=ids.INC_FORCE,
                                options=[
                                    {
                                        "label": "開設中の避難所や発令中の避難情報が"
                                        "残っていても終える"
                                        if not en
                                        else "Close even with shelters open or alerts in force",
                                        "value": "force",
                                    }
                                ],
                                value=[],
                            ),
                            dcc.ConfirmDialogProvider(
                                html.Button(
                                    "この災害を終える" if not en else "Close this incident",
                                    id=ids.INC_CLOSE,
                                    className="dx-danger",
                                ),
                                id=ids.INC_CLOSE_CONFIRM,
                                message="いまの災害の記録を終えます。よろしいですか？"
                                if not en
                                else "Close the current live incident?",
                            ),
                            html.P(id=ids.INC_CLOSE_RESULT, role="status"),
                        ],
                        className="dx-panel",
                    ),
                    html.Section(
                        [
                            html.H2(
                                "過去の災害と訓練の記録" if not en else "Past incidents and drills"
                            ),
                            html.Div(_records_view(store, lang), id=ids.INC_RECORDS),
                        ],
                        className="dx-panel dx-inc-list",
                    ),
                ],
                className="dx-inc",
            ),
        ],
        lang=lang,
    )


def parse_start(text: str | None) -> datetime | None:
    """``YYYY-MM-DD HH:MM`` in JST → aware datetime; blank → None; otherwise ``ValueError``."""
    if not text or not text.strip():
        return None
    return datetime.strptime(text.strip(), START_FORMAT).replace(tzinfo=JST)


def register(app: Dash) -> None:
    """Attach the page's callbacks."""

    @app.callback(
        Output(ids.INC_OPEN_RESULT, "children"),
        Output(ids.INC_CURRENT, "children"),
        Output(ids.INC_RECORDS, "children"),
        Input(ids.INC_OPEN, "n_clicks"),
        State(ids.INC_NAME, "value"),
        State(ids.INC_HAZARD, "value"),
        State(ids.INC_START, "value"),
        State("_pages_location", "search"),
        prevent_initial_call=True,
    )
    @requires(*HQ_ROLES)
    def open_incident(
        clicks: int | None, name: str | None, hazard: str | None, start: str | None, search: str
    ) -> tuple[Any, ...]:
        """Name the live incident (refused, with the open one's name, while one is open)."""
        lang = lang_from_search(search)
        en = lang == "en"
        if not clicks:
            return no_update, no_update, no_update
        store = current().store
        user = signed_in_user()
        assert user is not None
        try:
            started = parse_start(start)
        except ValueError:
            return (
                "始まりは 2026-09-01 06:00 の形で入力してください。"
                if not en
                else "Write the start as 2026-09-01 06:00.",
                no_update,
                no_update,
            )
        if not (name or "").strip():
            return (
                ("災害名を入力してください。" if not en else "Enter a name."),
                no_update,
                no_update,
            )
        current_live = store.live_incident(actor=user.username)
        if current_live.named:
            message = (
                f"「{current_live.title}」が開いています。同時に開ける実災害は1つだけです。"
                "先に「いまの災害を終える」で終えてから始めてください。"
                if not en
                else f"「{current_live.title}」 is still open; only one live incident can be "
                "open at a time. Close it first."
            )
            return html.Span(message, className="dx-error"), no_update, no_update
        try:
            opened = incidents.open_named_incident(
                store,
                user,
                name or "",
                hazard=Hazard(hazard) if hazard else None,
                started_at=started,
            )
        except (DisasterDxError, ValueError) as exc:
            return html.Span(str(exc), className="dx-error"), no_update, no_update
        done = f"「{opened.title}」を始めました。" if not en else f"Started: {opened.title}"
        return done, _current_view(store, lang), _records_view(store, lang)

    @app.callback(
        Output(ids.INC_CLOSE_RESULT, "children"),
        Output(ids.INC_CURRENT, "children", allow_duplicate=True),
        Output(ids.INC_RECORDS, "children", allow_duplicate=True),
        Input(ids.INC_CLOSE_CONFIRM, "submit_n_clicks"),
        State(ids.INC_FORCE, "value"),
        State("_pages_location", "search"),
        prevent_initial_call=True,
    )
    @requires(*HQ_ROLES)
    def close_incident(submitted: int | None, force: list[str] | None, search: str) -> Any:
        """Close the live incident; refused while shelters are open unless confirmed."""
        lang = lang_from_search(search)
        en = lang == "en"
        if not submitted:
            return no_update, no_update, no_update
        store = current().store
        user = signed_in_user()
        assert user is not None
        try:
            closed = incidents.close_live_incident(store, user, force="force" in (force or []))
        except incidents.IncidentStillActive as exc:
            names = incidents.shelter_names(store.shelters(), exc.open_shelters)
            message = (
                f"「{exc.incident.title}」には開設中の避難所が{len(exc.open_shelters)}か所"
                + (f"（{names}）" if names else "")
                + f"、発令中の避難情報が{len(exc.alerts_in_force)}件あります。"
                "閉鎖・解除してから終えるか、「残っていても終える」を選んでください。"
                if not en
                else f"{exc.incident.title} still has {len(exc.open_shelters)} open shelter(s) "
                f"and {len(exc.alerts_in_force)} alert(s) in force. Close and lift them "
                "first, or tick 'Close even with…'."
            )
            return html.Span(message, className="dx-error"), no_update, no_update
        except DisasterDxError as exc:
            return html.Span(str(exc), className="dx-error"), no_update, no_update
        title = incidents.display_name(closed.incident, lang)
        done = (
            f"「{title}」を終えました。記録は下の一覧から再生できます。"
            if not en
            else f"Closed {title}; replay it from the list below."
        )
        return done, _current_view(store, lang), _records_view(store, lang)


def register_page() -> None:
    """Register ``/hq/incidents`` with Dash pages."""
    dash.register_page(
        "hq_incidents", path=PATH, name="災害名・記録", title="災害名・記録", layout=layout
    )


__all__ = ["PATH", "layout", "parse_start", "register", "register_page"]
