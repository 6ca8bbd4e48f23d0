"""Pieces shared by the staff pages: header with navigation and logout, refusal page."""

from __future__ import annotations

from typing import Any

import dash_ag_grid as dag
from dash import dcc, html

from disaster_dx.auth import Role, User
from disaster_dx.web.context import current
from disaster_dx.web.security import csrf_token, home_for, signed_in_user

#: (path, Japanese, English, roles that see the link)
_NAV: tuple[tuple[str, str, str, tuple[Role, ...]], ...] = (
    ("/hq", "地図・ボード", "Map & board", (Role.HQ,)),
    ("/hq/cameras", "カメラ", "Cameras", (Role.HQ,)),
    ("/hq/line", "LINE配信", "LINE", (Role.HQ,)),
    ("/hq/log", "操作ログ", "Event log", (Role.HQ,)),
    ("/hq/incidents", "災害名・記録", "Disasters & records", (Role.HQ,)),
    ("/m/", "スマホ用画面", "Phone form", (Role.HQ, Role.SHELTER_STAFF)),
    ("/plans", "個別避難計画", "Plans", (Role.PLANNER,)),
    ("/drill", "訓練", "Drills", (Role.DRILL,)),
)


#: Grid texts AG Grid shows itself, in Japanese (English is its default).
_GRID_TEXT_JA = {
    "noRowsToShow": "表示する行がありません",
    "loadingOoo": "読み込み中…",
    "filterOoo": "絞込…",
    "contains": "を含む",
    "notContains": "を含まない",
    "equals": "と等しい",
    "notEqual": "と等しくない",
    "startsWith": "で始まる",
    "endsWith": "で終わる",
    "blank": "空欄",
    "notBlank": "空欄でない",
    "andCondition": "かつ",
    "orCondition": "または",
    "ariaRowSelect": "この行を選ぶ",
}


def grid(
    component_id: str,
    columns: list[dict[str, Any]],
    rows: list[dict[str, Any]],
    *,
    lang: str,
    height: str = "auto",
    row_id: str | None = None,
    options: dict[str, Any] | None = None,
    **props: Any,
) -> dag.AgGrid:
    """A staff table on AG Grid (dash-ag-grid), the same look on every staff page.

    ``height="auto"`` grows with its rows (short tables); give a CSS height for long ones, which
    then scroll inside. ``row_id`` names the field that identifies a row, so selection and
    ``scrollTo`` survive a refresh of ``rowData``. Texts are set as text, never as HTML.
    """
    grid_options: dict[str, Any] = {
        "animateRows": False,
        "enableCellTextSelection": True,
        "ensureDomOrder": True,
        "tooltipShowDelay": 0,
        **({"domLayout": "autoHeight"} if height == "auto" else {}),
        **({"localeText": _GRID_TEXT_JA} if lang != "en" else {}),
        **(options or {}),
    }
    return dag.AgGrid(
        id=component_id,
        columnDefs=columns,
        rowData=rows,
        defaultColDef={
            "sortable": True,
            "resizable": True,
            "wrapHeaderText": True,
            "autoHeaderHeight": True,
            "suppressMovable": True,
        },
        dashGridOptions=grid_options,
        className="ag-theme-quartz dx-grid",
        style={"height": None if height == "auto" else height, "width": "100%"},
        **({"getRowId": f"params.data.{row_id}"} if row_id else {}),
        **props,
    )


def staff_header(user: User, *, lang: str, title_ja: str, title_en: str) -> html.Header:
    """Title, navigation, who is signed in, and a logout button (POST with CSRF token)."""
    return html.Header(
        [
            html.H1(title_en if lang == "en" else title_ja),
            html.Nav(
                [html.A(label, href=href) for href, label in allowed_links(user, lang)],
                className="dx-nav",
            ),
            html.Span(className="dx-spacer"),
            html.Span(user.display_name or user.username, className="dx-user"),
            html.Form(
                [
                    dcc.Input(type="hidden", name="csrf_token", value=csrf_token()),
                    html.Button("ログアウト" if lang != "en" else "Log out", type="submit"),
                ],
                method="POST",
                action="/logout",
                className="dx-logout",
            ),
        ],
        className="dx-header",
    )


def allowed_links(user: User, lang: str) -> list[tuple[str, str]]:
    """``(path, label)`` of the staff pages ``user`` may open, for the header and refusals."""
    links = [(href, en if lang == "en" else ja) for href, ja, en, roles in _NAV if user.has(*roles)]
    if not links and Role.SHELTER_STAFF in user.roles and not user.disabled:
        links.append(("/hq", "Your shelters" if lang == "en" else "担当避難所"))
    return links


def refusal(*, lang: str, text: str | None = None) -> html.Div:
    """Shown instead of a staff page the user may not open (no data of that page leaves).

    Signed in: the staff header (navigation, logout) and links to what this user may open,
    their shelters by name for shelter staff; otherwise a login link.
    """
    en = lang == "en"
    user = signed_in_user()
    if user is None:
        return html.Div(
            [
                html.P(
                    text or ("Please log in." if en else "ログインしてください。"),
                    role="alert",
                    className="dx-error",
                ),
                html.A("ログイン / Log in", href="/login"),
            ],
            className="dx-refusal",
        )
    message = text or (
        "You do not have permission to open this page."
        if en
        else "この画面を開く権限がありません。"
    )
    links = [(home_for(user), "Your start page" if en else "あなたの最初の画面")]
    links += [link for link in allowed_links(user, lang) if link[0] != links[0][0]]
    if Role.SHELTER_STAFF in user.roles and not user.has(Role.HQ):
        names = {s.shelter_id: s.name for s in current().store.shelters()}
        links += [
            (f"/hq/shelter/{sid}" + ("?lang=en" if en else ""), names.get(sid, sid))
            for sid in sorted(user.shelter_ids)
        ]
    return html.Div(
        [
            staff_header(
                user,
                lang=lang,
                title_ja="開けない画面です",
                title_en="Page not available",
            ),
            html.Main(
                [
                    html.P(message, role="alert", className="dx-error"),
                    html.P("開ける画面：" if not en else "Pages you can open:"),
                    html.Ul(
                        [html.Li(html.A(label, href=href)) for href, label in links],
                        className="dx-big-links",
                    ),
                ],
                className="dx-narrow",
            ),
        ],
        className="dx-refused",  # full width: the header spans the page
    )
