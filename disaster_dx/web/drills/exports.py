"""The after-action report and the record → scenario export of an incident.

``/drill/report/<incident>`` and ``/drill/export/<incident>.yaml``, for whoever may replay it.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Response, abort
from plotly.offline import get_plotlyjs

from disaster_dx import drills
from disaster_dx.after_action import after_action, report_html
from disaster_dx.errors import DisasterDxError, NotFoundError
from disaster_dx.store import Incident
from disaster_dx.web.context import current
from disaster_dx.web.drills.common import may_replay
from disaster_dx.web.security import signed_in_user


def _incident_for_download(incident_id: str) -> Incident:
    user = signed_in_user()
    if user is None:
        abort(401)
    try:
        incident = current().store.incident(incident_id)
    except NotFoundError:
        abort(404)
    if not may_replay(user, incident):
        current().store.audit(user.username, "access.refused", target=f"drill.report:{incident_id}")
        abort(403)
    return incident


def _report(incident_id: str) -> Response:
    incident = _incident_for_download(incident_id)
    context = current()
    report = after_action(
        context.store,
        incident.incident_id,
        stale_after=timedelta(minutes=context.settings.stale_report_minutes),
    )
    page = report_html(report, plotly_js="/drill/plotly.min.js")
    return Response(page, mimetype="text/html")


def _export(incident_id: str) -> Response:
    incident = _incident_for_download(incident_id)
    try:
        text = drills.scenario_from_incident(current().store, incident.incident_id)
    except DisasterDxError as exc:
        return Response(f"書き出せませんでした: {exc}\n", status=400, mimetype="text/plain")
    name = f"scenario-{incident.incident_id}.yaml"
    return Response(
        text,
        mimetype="application/yaml",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _plotly_js() -> Response:
    response = Response(get_plotlyjs(), mimetype="application/javascript")
    response.cache_control.max_age = 86400
    return response
