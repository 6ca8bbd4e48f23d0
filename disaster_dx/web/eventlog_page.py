"""``/hq/log``: the incident's event log — who, when, what changed (before → after).

HQ only. Events are never edited or deleted here; a correction is a new event. The table
shows one page of :data:`~disaster_dx.eventlog_paging.PAGE_ROWS` rows, newest first, read from
the database (:func:`~disaster_dx.eventlog_paging.log_page`: never the whole log), with
buttons to the newer and older pages; the CSV download has every row of the filter.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import dash
from dash import Dash, Input, Output, State, ctx, dcc, html

from disaster_dx._time import to_jst
from disaster_dx.auth import Role, display_names, list_users
from disaster_dx.eventlog import EVENT_TYPE_LABELS, EVENT_TYPE_LABELS_EN, LogRow
from disaster_dx.eventlog_paging import COUNT_CAP, PAGE_ROWS, LogFilter, LogPage, log_page
from disaster_dx.events import ROUTINE_TYPES, TYPE_LABELS, TYPE_LABELS_EN
from disaster_dx.web.context import current
from disaster_dx.web.i18n import lang_from_search, lang_of
from disaster_dx.web.security import page_user, requires
from disaster_dx.web.staff import grid, refusal, staff_header
from disaster_dx.web.user_incident import current_incident, drill_banner

LOG_SHELTER = "hq-log-shelter"
LOG_ACTOR = "hq-log-actor"
LOG_TYPE = "hq-log-type"
LOG_TABLE = "hq-log-table"
LOG_CSV = "hq-log-csv"
LOG_COUNT = "hq-log-count"
LOG_ROUTINE = "hq-log-routine"
LOG_NEWER = "hq-log-newer"
LOG_OLDER = "hq-log-older"
LOG_CURSORS = "hq-log-cursors"


def _table_rows(rows: tuple[LogRow, ...]) -> list[dict[str, Any]]:
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
        for r in rows
    ]


def _page(
    shelter_id: str | None,
    actor: str | None,
    event_type: str | None,
    routine: bool = False,
    lang: str = "ja",
    *,
    before_seq: int | None = None,
    after_seq: int | None = None,
) -> LogPage:
    store = current().store
    incident = current_incident()
    return log_page(
        store,
        incident.incident_id,
        {s.shelter_id: s for s in store.shelters(include_inactive=True)},
        LogFilter(
            shelter_id=shelter_id or None,
            actor=actor or None,
            types=frozenset([event_type]) if event_type else None,
            skip_routine=not routine,
        ),
        before_seq=before_seq,
        after_seq=after_seq,
        lang=lang,
    )


def _type_options(lang: str) -> list[dict[str, str]]:
    """Every event type a person writes (camera frames have their own switch)."""
    labels = {**TYPE_LABELS, **EVENT_TYPE_LABELS}
    if lang == "en":
        labels = {**labels, **TYPE_LABELS_EN, **EVENT_TYPE_LABELS_EN}
    return [
        {"label": label, "value": code}
        for code, label in sorted(labels.items(), key=lambda item: item[1])
        if code not in ROUTINE_TYPES
    ]


def layout(lang: str | None = None, **_query: Any) -> html.Div:
    """The log with its filters (HQ/admin only)."""
    lang = lang_of(lang)
    user = page_user(Role.HQ)
    if user is None:
        return refusal(lang=lang)
    store = current().store
    en = lang == "en"
    page = _page(None, None, None, lang=lang)
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
                            html.Label("種類" if not en else "Event", htmlFor=LOG_TYPE),
                            dcc.Dropdown(
                                id=LOG_TYPE,
                                options=_type_options(lang),
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
                    html.P(id=LOG_COUNT, children=_count_text(page, lang)),
                    dcc.Store(id=LOG_CURSORS, data=_cursors(page)),
                    _page_buttons(page, lang),
                    grid(
                        LOG_TABLE,
                        [
                            {"field": "seq", "headerName": "番号" if not en else "#", "width": 80},
                            {
                                "field": "at",
                                "headerName": "日時" if not en else "Time (JST)",
                                "width": 150,
                            },
                            {
                                "field": "actor",
                                "headerName": "担当者" if not en else "User",
                                "width": 110,
                            },
                            {
                                "field": "type",
                                "headerName": "種類" if not en else "Event",
                                "flex": 1,
                            },
                            {
                                "field": "subject",
                                "headerName": "対象" if not en else "Subject",
                                "flex": 1,
                            },
                            {
                                "field": "changes",
                                "headerName": "変更内容（前 → 後）" if not en else "Changes",
                                "flex": 2,
                                # One change per line, as the log writes them.
                                "wrapText": True,
                                "autoHeight": True,
                                "cellStyle": {"whiteSpace": "pre-line", "lineHeight": "1.4"},
                            },
                        ],
                        _table_rows(page.rows),
                        lang=lang,
                    ),
                ],
                className="dx-log",
            ),
        ],
        lang=lang,
    )


def _page_buttons(page: LogPage, lang: str) -> html.Div:
    en = lang == "en"
    return html.Div(
        [
            html.Button(
                "← Newer" if en else "← 新しい記録",
                id=LOG_NEWER,
                type="button",
                disabled=page.newer is None,
            ),
            html.Button(
                "Older →" if en else "古い記録 →",
                id=LOG_OLDER,
                type="button",
                disabled=page.older is None,
            ),
        ],
        className="dx-buttons dx-log-pages",
    )


def _cursors(page: LogPage) -> dict[str, int | None]:
    return {"older": page.older, "newer": page.newer}


def _count_text(page: LogPage, lang: str) -> str:
    """How many rows the filter has (counted up to COUNT_CAP) and which page is shown."""
    shown = ""
    if page.rows:
        newest, oldest = page.rows[0].seq, page.rows[-1].seq
        shown = (
            f"; showing #{newest}–#{oldest}"
            if lang == "en"
            else f"。表示中は番号{newest}〜{oldest}"
        )
    if lang == "en":
        count = f"{page.count}" if page.count_exact else f"more than {COUNT_CAP:,}"
        return f"{count} events (newest first, {PAGE_ROWS} per page{shown}; all in the CSV)"
    count = f"{page.count}件" if page.count_exact else f"{COUNT_CAP:,}件以上"
    return f"{count}（新しい順、{PAGE_ROWS}件ずつ{shown}。CSVには全件）"


def register(app: Dash) -> None:
    """Attach the filter and paging callback."""

    @app.callback(
        Output(LOG_TABLE, "rowData"),
        Output(LOG_CSV, "href"),
        Output(LOG_COUNT, "children"),
        Output(LOG_CURSORS, "data"),
        Output(LOG_NEWER, "disabled"),
        Output(LOG_OLDER, "disabled"),
        Input(LOG_SHELTER, "value"),
        Input(LOG_ACTOR, "value"),
        Input(LOG_TYPE, "value"),
        Input(LOG_ROUTINE, "value"),
        Input(LOG_NEWER, "n_clicks"),
        Input(LOG_OLDER, "n_clicks"),
        State(LOG_CURSORS, "data"),
        State("_pages_location", "search"),
        prevent_initial_call=True,
    )
    @requires(Role.HQ)
    def filter_log(
        shelter_id: str | None,
        actor: str | None,
        event_type: str | None,
        routine: list[str] | None,
        _newer: int | None,
        _older: int | None,
        cursors: dict[str, int | None] | None,
        search: str | None,
    ) -> tuple[Any, ...]:
        """Filter by shelter, user and type, or turn the page; the CSV link follows the filter.

        A filter change shows the newest page of the new filter.
        """
        show_routine = "routine" in (routine or [])
        lang = lang_from_search(search)
        cursors = cursors or {}
        before_seq = cursors.get("older") if ctx.triggered_id == LOG_OLDER else None
        after_seq = cursors.get("newer") if ctx.triggered_id == LOG_NEWER else None
        page = _page(
            shelter_id,
            actor,
            event_type,
            show_routine,
            lang,
            before_seq=before_seq,
            after_seq=after_seq,
        )
        query = urlencode(
            {
                k: v
                for k, v in (
                    ("shelter", shelter_id),
                    ("actor", actor),
                    ("type", event_type),
                    ("routine", "1" if show_routine else ""),
                )
                if v
            }
        )
        href = "/hq/export/log.csv" + (f"?{query}" if query else "")
        return (
            _table_rows(page.rows),
            href,
            _count_text(page, lang),
            _cursors(page),
            page.newer is None,
            page.older is None,
        )


def register_page() -> None:
    """Register ``/hq/log``."""
    dash.register_page("hq_log", path="/hq/log", name="操作ログ", title="操作ログ", layout=layout)
