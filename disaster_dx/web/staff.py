"""Pieces shared by the staff pages: header with navigation and logout, refusal page."""

from __future__ import annotations

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
