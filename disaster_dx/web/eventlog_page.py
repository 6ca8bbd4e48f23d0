"""``/hq/log``: the incident's event log — who, when, what changed (before → after).

HQ only. Events are never edited or deleted here; a correction is a new event. The table shows
the newest :data:`SHOWN_ROWS` rows of the filter; the CSV download has all of them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import dash
from dash import Dash, Input, Output, State, dash_table, dcc, html

from disaster_dx._time import to_jst
from disaster_dx.auth import Role, display_names, list_users
from disaster_dx.eventlog import LogRow, log_rows
from disaster_dx.web.context import current
from disaster_dx.web.drill_pages import current_incident, drill_banner
from disaster_dx.web.i18n import lang_of
from disaster_dx.web.security import page_user, requires
from disaster_dx.web.staff import TABLE_CELL, TABLE_HEADER, refusal, staff_header

SHOWN_ROWS = 500
LOG_SHELTER = "hq-log-shelter"
LOG_ACTOR = "hq-log-actor"
LOG_TABLE = "hq-log-table"
LOG_CSV = "hq-log-csv"
LOG_COUNT = "hq-log-count"
LOG_ROUTINE = "hq-log-routine"


def _table_rows(rows: list[LogRow]) -> list[dict[str, Any]]:
    names = display_names(current().store)  # people by the names they are known by
    return [
        {
            "seq": r.seq,
            "at": to_jst(r.at).strftime("%m/%d %H:%M:%S"),
            "actor": names.get(r.actor, r.actor),
            "type": r.type_label,
            "subject": f"{r.shelter_name or r.subject_label}",
            "changes": "\n".join(f"{c.label}: {c.before} → {c.after}" for c in r.changes)
            + (f"\n{r.detail}" if r.detail else ""),
        }
        for r in reversed(rows[-SHOWN_ROWS:])
    ]


def _rows(
    shelter_id: str | None, actor: str | None, routine: bool = False, lang: str = "ja"
) -> list[LogRow]:
    store = current().store
    incident = current_incident()
    return log_rows(
        store.events(incident.incident_id),
        {s.shelter_id: s for s in store.shelters(include_inactive=True)},
        shelter_id=shelter_id or None,
        actor=actor or None,
        skip_routine=not routine,
        lang=lang,
    )


def layout(lang: str | None = None, **_query: Any) -> html.Div:
    """The log with its filters (HQ/admin only)."""
    lang = lang_of(lang)
    user = page_user(Role.HQ)
    if user is None:
        return refusal(lang=lang)
    store = current().store
    en = lang == "en"
    rows = _rows(None, None, lang=lang)
    return html.Div(
        [
            drill_banner(current_incident(), lang=lang),
            staff_header(user, lang=lang, title_ja="操作ログ", title_en="Event log"),
            html.Main(
                [
                    html.Div(
                        [
                            html.Label("避難所" if not en else "Shelter", htmlFor=LOG_SHELTER),
                            dcc.Dropdown(
                                id=LOG_SHELTER,
                                options=[
                                    {"label": s.name, "value": s.shelter_id}
                                    for s in store.shelters(include_inactive=True)
                                ],
                                placeholder="すべて" if not en else "All",
                            ),
                            html.Label("担当者" if not en else "User", htmlFor=LOG_ACTOR),
                            dcc.Dropdown(
                                id=LOG_ACTOR,
                                options=[
                                    {
                                        "label": f"{u.display_name}（{u.username}）"
                                        if u.display_name
                                        else u.username,
                                        "value": u.username,
                                    }
                                    for u in list_users(store)
                                ],
                                placeholder="すべて" if not en else "All",
                            ),
                            html.Label(
                                "表示の範囲" if not en else "Shown",
                                htmlFor=LOG_ROUTINE,
                                className="dx-visually-hidden",
                            ),
                            dcc.Checklist(
                                id=LOG_ROUTINE,
                                options=[
                                    {
                                        "label": "カメラ画像の受信記録も表示"
                                        if not en
                                        else "Include camera frames",
                                        "value": "routine",
                                    }
                                ],
                                value=[],
                                inputStyle={"marginRight": ".3rem"},
                            ),
                            html.A(
                                "CSVで保存" if not en else "Download CSV",
                                id=LOG_CSV,
                                href="/hq/export/log.csv",
                                className="dx-button-link",
                            ),
                        ],
                        className="dx-log-filters",
                    ),
                    html.P(id=LOG_COUNT, children=_count_text(len(rows), lang)),
                    dash_table.DataTable(
                        id=LOG_TABLE,
                        columns=[
                            {"name": "番号" if not en else "#", "id": "seq"},
                            {"name": "日時" if not en else "Time (JST)", "id": "at"},
                            {"name": "担当者" if not en else "User", "id": "actor"},
                            {"name": "種類" if not en else "Event", "id": "type"},
                            {"name": "対象" if not en else "Subject", "id": "subject"},
                            {
                                "name": "変更内容（前 → 後）" if not en else "Changes",
                                "id": "changes",
                            },
                        ],
                        data=_table_rows(rows),
                        page_size=50,
                        sort_action="native",
                        style_cell={**TABLE_CELL, "whiteSpace": "pre-line"},
                        style_header=TABLE_HEADER,
                    ),
                ],
                className="dx-log",
            ),
        ],
        lang=lang,
    )


def _count_text(count: int, lang: str) -> str:
    if lang == "en":
        return f"{count} events (newest first; up to {SHOWN_ROWS} shown, all in the CSV)"
    return f"{count}件（新しい順。表示は最大{SHOWN_ROWS}件、CSVには全件）"


def register(app: Dash) -> None:
    """Attach the filter callback."""

    @app.callback(
        Output(LOG_TABLE, "data"),
        Output(LOG_CSV, "href"),
        Output(LOG_COUNT, "children"),
        Input(LOG_SHELTER, "value"),
        Input(LOG_ACTOR, "value"),
        Input(LOG_ROUTINE, "value"),
        State("_pages_location", "search"),
        prevent_initial_call=True,
    )
    @requires(Role.HQ)
    def filter_log(
        shelter_id: str | None, actor: str | None, routine: list[str] | None, search: str | None
    ) -> tuple[Any, ...]:
        """Filter by shelter and by user; the CSV link follows the same filter."""
        show_routine = "routine" in (routine or [])
        lang = "en" if "lang=en" in (search or "") else "ja"
        rows = _rows(shelter_id, actor, show_routine, lang)
        query = urlencode(
            {
                k: v
                for k, v in (
                    ("shelter", shelter_id),
                    ("actor", actor),
                    ("routine", "1" if show_routine else ""),
                )
                if v
            }
        )
        href = "/hq/export/log.csv" + (f"?{query}" if query else "")
        return _table_rows(rows), href, _count_text(len(rows), lang)


def register_page() -> None:
    """Register ``/hq/log``."""
    dash.register_page("hq_log", path="/hq/log", name="操作ログ", title="操作ログ", layout=layout)
