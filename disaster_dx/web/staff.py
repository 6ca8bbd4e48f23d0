"""Pieces shared by the staff pages: header with navigation and logout, refusal page."""

from __future__ import annotations

from dash import dcc, html

from disaster_dx.auth import Role, User
from disaster_dx.web.security import csrf_token

#: (path, Japanese, English, roles that see the link)
_NAV: tuple[tuple[str, str, str, tuple[Role, ...]], ...] = (
    ("/hq", "地図・ボード", "Map & board", (Role.HQ,)),
    ("/hq/cameras", "カメラ", "Cameras", (Role.HQ,)),
    ("/hq/line", "LINE配信", "LINE", (Role.HQ,)),
    ("/hq/log", "操作ログ", "Event log", (Role.HQ,)),
    ("/m/", "スマホ用画面", "Phone form", (Role.HQ, Role.SHELTER_STAFF)),
    ("/plans", "個別避難計画", "Plans", (Role.PLANNER,)),
    ("/drill", "訓練", "Drills", (Role.DRILL,)),
)


#: DataTable looks shared by the staff pages (cell font and alignment; the header band).
TABLE_FONT = {"fontFamily": "inherit", "fontSize": "13px", "textAlign": "left"}
TABLE_CELL = {**TABLE_FONT, "whiteSpace": "normal", "height": "auto"}
TABLE_HEADER = {"fontWeight": "bold", "backgroundColor": "#e8eef3"}


def staff_header(user: User, *, lang: str, title_ja: str, title_en: str) -> html.Header:
    """Title, navigation, who is signed in, and a logout button (POST with CSRF token)."""
    return html.Header(
        [
            html.H1(title_en if lang == "en" else title_ja),
            html.Nav(
                [
                    html.A(en if lang == "en" else ja, href=href)
                    for href, ja, en, roles in _NAV
                    if user.has(*roles)
                ],
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


def refusal(*, lang: str, signed_in: bool) -> html.Div:
    """Shown instead of a staff page to someone without the role (no data leaves)."""
    if signed_in:
        text = (
            "この画面を開く権限がありません。"
            if lang != "en"
            else "You do not have permission to open this page."
        )
    else:
        text = "ログインしてください。" if lang != "en" else "Please log in."
    return html.Div(
        [
            html.P(text, role="alert", className="dx-error"),
            html.A("ログイン / Log in", href="/login"),
        ],
        className="dx-refusal",
    )
