"""``/drill/join`` and ``/drill/leave``: staff switch their own screens to a drill, or back.

The choice is kept in their session (:data:`~disaster_dx.incidents.DRILL_SESSION_KEY`);
:func:`~disaster_dx.web.user_incident.current_incident` turns it into the incident their pages
read and write. Flask routes under ``/drill`` (the guard needs a login), audited.
"""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, request, session

from disaster_dx import drills
from disaster_dx.auth import User
from disaster_dx.errors import NotFoundError
from disaster_dx.templating import render
from disaster_dx.web.context import current
from disaster_dx.web.drills.common import JOIN_ROLES
from disaster_dx.web.security import csrf_token, signed_in_user
from disaster_dx.web.user_incident import BANNER_STRIPES, DRILL_SESSION_KEY


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
    return render(
        "drill_join.html",
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
