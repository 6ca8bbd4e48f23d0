"""``/drill/join`` and ``/drill/leave``: staff switch their own screens to a drill, or back.

The choice is kept in their session (:data:`~disaster_dx.incidents.DRILL_SESSION_KEY`);
:func:`~disaster_dx.web.user_incident.current_incident` turns it into the incident their pages
read and write. Flask routes under ``/drill`` (the guard needs a login), audited.
"""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, render_template_string, request, session

from disaster_dx import drills
from disaster_dx.auth import User
from disaster_dx.errors import NotFoundError
from disaster_dx.web.context import current
from disaster_dx.web.drills.common import JOIN_ROLES
from disaster_dx.web.security import csrf_token, signed_in_user
from disaster_dx.web.user_incident import BANNER_STRIPES, DRILL_SESSION_KEY

_JOIN_PAGE = """<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>訓練に参加</title><link rel="stylesheet" href="/assets/dx.css"></head>
<body>
<div role="note" style="background:{{ stripes }};padding:8px"><p style="margin:0;background:#1a1a1a;
color:#ffcc00;font-weight:700;font-size:1.3rem;text-align:center;padding:.3rem">
訓練 / DRILL — 自分の画面を訓練に切り替える</p></div>
<main class="dx-narrow">
<h1 style="font-size:1.3rem">訓練に参加</h1>
{% if chosen %}
<p class="dx-error" id="drill-joined">いまの画面は訓練「{{ chosen.title }}」を表示しています。
入力はすべて訓練の記録になり、実災害のデータには入りません。</p>
<form method="post" action="/drill/leave">
<input type="hidden" name="csrf_token" value="{{ token }}">
<button type="submit" id="drill-leave" class="dx-submit">実災害の画面に戻る</button></form>
{% else %}
<p id="drill-live">いまの画面は<strong>実災害</strong>の記録を表示しています。</p>
{% endif %}
<h2 style="font-size:1.1rem">実施中の訓練</h2>
{% if drills %}<ul class="dx-big-links" style="list-style:none;padding:0">
{% for d in drills %}<li><form method="post" action="/drill/join">
<input type="hidden" name="csrf_token" value="{{ token }}">
<input type="hidden" name="incident_id" value="{{ d.incident_id }}">
<button type="submit" class="dx-submit" style="margin:.3rem 0">
この訓練に参加：{{ d.title }}</button>
</form></li>{% endfor %}</ul>
{% else %}<p>実施中の訓練はありません。</p>{% endif %}
<p><a href="/hq">本部の画面へ</a></p>
</main></body></html>
"""


def _join_user() -> User:
    user = signed_in_user()
    if user is None:
        abort(401)
    if not user.has(*JOIN_ROLES):
        current().store.audit(user.username, "access.refused", target="drill.join")
        abort(403)
    return user


def _check_csrf() -> None:
    from hmac import compare_digest

    sent = request.form.get("csrf_token") or ""
    if not compare_digest(sent, session.get("csrf_token") or "-"):
        abort(400)


def _join_page() -> Any:
    _join_user()
    store = current().store
    choice = session.get(DRILL_SESSION_KEY)
    chosen = drills.active_incident_for(store, choice) if choice else None
    return render_template_string(
        _JOIN_PAGE,
        stripes=BANNER_STRIPES,
        chosen=chosen if chosen is not None and chosen.is_drill else None,
        drills=drills.open_drill_incidents(store),
        token=csrf_token(),
    )


def _join() -> Any:
    user = _join_user()
    _check_csrf()
    store = current().store
    incident_id = request.form.get("incident_id") or ""
    try:
        incident = store.incident(incident_id)
    except NotFoundError:
        abort(404)
    if not incident.is_drill or incident.closed_at is not None:
        abort(400)
    session[DRILL_SESSION_KEY] = incident.incident_id
    store.audit(user.username, "drill.join", target=incident.incident_id)
    return redirect("/hq")


def _leave() -> Any:
    user = _join_user()
    _check_csrf()
    left = session.pop(DRILL_SESSION_KEY, None)
    current().store.audit(user.username, "drill.leave", target=str(left or ""))
    return redirect("/drill/join")
