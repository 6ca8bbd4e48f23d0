"""The 避難情報 panel at the top of ``/hq``, its map layers, and the per-shelter staffed choice.

Always visible above the tiles: the 避難情報 in force (警戒レベル number + official colour +
words, hazard, areas, time, who), the warnings in force (title, hazard, 津波到達予想時刻,
source), the latest 状況付与 / 本部連絡 messages and the shelters still 「開設が必要」 with a
one-click "open these" (the bulk action, with the versions HQ saw). Below, folded away so the
page stays compact at 1366×768: issue / lift 避難情報 and record / clear warnings, each with
a confirmation step that repeats what will be written.

It reads the user's incident (``current_incident``): in a drill, players see the drill's
injected warnings and messages here as they fire, with times in drill time
(:func:`disaster_dx.situation.incident_time`). Every callback is HQ-only (``requires``) and
the writes check the role again in the core (:mod:`disaster_dx.alerts`, :mod:`disaster_dx.hq`).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import shapely
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from shapely.geometry import shape

from disaster_dx import alerts, auth
from disaster_dx import hq as hq_core
from disaster_dx.areas import Area
from disaster_dx.auth import Role, User
from disaster_dx.drills import DRILL_ACTOR
from disaster_dx.errors import ConflictError, DisasterDxError, NotFoundError
from disaster_dx.events import EvacuationAlert, HazardAnnouncement
from disaster_dx.model import AlertLevel, Hazard, OpenState, WarningKind
from disaster_dx.situation import IncidentTime, Message, incident_time, recent_messages
from disaster_dx.store import Incident
from disaster_dx.web import ids
from disaster_dx.web.context import AppContext, current
from disaster_dx.web.i18n import lang_from_search, t
from disaster_dx.web.security import requires, signed_in_user
from disaster_dx.web.user_incident import current_incident
from layers.alerts import (
    LEVEL_TEXT,
    alert_area_features,
    alert_area_layer,
    level_words,
    needed_features,
    needed_layer,
)

log = logging.getLogger(__name__)

HQ_ROLES = (Role.HQ,)
#: Names listed under 「開設が必要」 before "and N more" (the map shows them all).
NEEDED_NAMES_SHOWN = 8
#: The city outline is drawn for 全域, simplified to ~40 m (a few KB instead of 100).
OUTLINE_TOLERANCE_DEG = 0.0004


# -- what the panel shows ----------------------------------------------------------------------


def situation(context: AppContext, incident: Incident, lang: str) -> dict[str, Any]:
    """Everything the panel and its map layers show, from one read of the incident."""
    store = context.store
    seq = store.last_seq(incident.incident_id, skip_routine=True)
    state = store.state(incident.incident_id)
    now = context.now()
    clock = incident_time(store, incident)
    areas = store.areas()
    shelters = store.shelters()
    in_force = state.alerts_in_force
    needed = alerts.shelters_needing_opening(state, shelters, areas)
    by_id = {a.area_id: a for a in areas}
    whole_city = any(by_id[a].whole_city for x in in_force for a in x.areas if a in by_id)
    warnings = sorted(state.hazards.values(), key=lambda a: a.announced_at, reverse=True)
    ticking = any(
        w.arrival_at is not None and clock.until(w.arrival_at, now).total_seconds() > 0
        for w in warnings
    )
    needed_ids = [s.shelter_id for s, _ in needed]
    people = auth.display_names(store)  # people by the names they are known by
    return {
        "seen": {
            "incident": incident.incident_id,
            "seq": seq,
            "ticking": ticking,
            "alerts": [[a.alert_id, *a.areas] for a in in_force],
        },
        "alerts": _alert_items(in_force, by_id, clock, lang, people),
        "warnings": _warning_items(warnings, clock, now, lang),
        "messages": _message_items(
            recent_messages(store, incident.incident_id, state), clock, lang, people
        ),
        "needed": _needed_items([s.name for s, _ in needed], lang),
        "needed_count": t("sit_needed_count", lang, count=len(needed)),
        "needed_seen": {"incident": incident.incident_id, "seq": state.seq, "ids": needed_ids},
        "needed_message": t("sit_needed_confirm", lang, count=len(needed)),
        "lift_options": [
            {"label": _alert_text(a, by_id, clock, lang), "value": a.alert_id} for a in in_force
        ],
        "clear_options": [
            {"label": f"{w.title}（{w.hazard.label(lang)}）", "value": w.hazard.value}
            for w in warnings
        ],
        "area_data": alert_area_features(
            in_force, areas, outline=_city_outline() if whole_city else None, lang=lang
        ),
        "needed_data": needed_features(needed, lang=lang),
        "drill_time": clock.is_drill,
    }


def _area_names(alert: EvacuationAlert, by_id: dict[str, Area], lang: str) -> str:
    names = [by_id[a].label(lang) if a in by_id else a for a in alert.areas]
    return ("、" if lang != "en" else ", ").join(names)


def _alert_text(
    alert: EvacuationAlert, by_id: dict[str, Area], clock: IncidentTime, lang: str
) -> str:
    return (
        f"{level_words(alert.level, lang)}・{alert.hazard.label(lang)}・"
        f"{_area_names(alert, by_id, lang)}（{clock.label(alert.issued_at)}）"
    )


def level_badge(level: AlertLevel, lang: str) -> html.Span:
    """The level as number + words on its official colour (text colour readable on it)."""
    style = {"background": level.colour, "color": LEVEL_TEXT[level]}
    if lang == "en":
        parts: list[Any] = ["Level ", html.B(str(level.number)), f" {level.en}"]
    else:
        parts = ["警戒レベル", html.B(str(level.number)), f" {level.ja}"]
    return html.Span(parts, className=f"dx-level dx-level-{level.number}", style=style)


def _alert_items(
    in_force: Sequence[EvacuationAlert],
    by_id: dict[str, Area],
    clock: IncidentTime,
    lang: str,
    people: dict[str, str],
) -> list[Any]:
    if not in_force:
        return [html.Li(t("sit_no_alerts", lang), className="dx-sit-none")]
    return [
        html.Li(
            [
                level_badge(a.level, lang),
                " ",
                html.Strong(a.hazard.label(lang)),
                "・" if lang != "en" else " · ",
                html.Span(_area_names(a, by_id, lang)),
                " ",
                html.Span(
                    t(
                        "sit_issued",
                        lang,
                        time=clock.label(a.issued_at),
                        who=people.get(a.issued_by, a.issued_by),
                    ),
                    className="dx-sit-meta",
                ),
            ],
            className="dx-sit-alert",
            **{"data-alert-id": a.alert_id, "data-level": str(a.level.number)},
        )
        for a in in_force
    ]


def _warning_items(
    warnings: Sequence[HazardAnnouncement], clock: IncidentTime, now: Any, lang: str
) -> list[Any]:
    if not warnings:
        return [html.Li(t("sit_no_warnings", lang), className="dx-sit-none")]
    items = []
    for w in warnings:
        parts: list[Any] = [html.Strong(f"⚠ {w.title}"), f"（{w.hazard.label(lang)}）"]
        if w.arrival_at is not None:
            minutes = math.ceil(clock.until(w.arrival_at, now).total_seconds() / 60)
            key = "sit_arrival" if minutes > 0 else "sit_arrival_passed"
            text = t(key, lang, time=clock.label(w.arrival_at), minutes=minutes)
            if w.hazard is not Hazard.TSUNAMI:  # 到達 is the tsunami's word only
                text = text.replace("津波到達予想時刻", "予想時刻").replace(
                    "tsunami arrival", "time"
                )
            parts += [html.Br(), html.Span(text, className="dx-sit-arrival")]
        meta = [t("sit_announced", lang, time=clock.label(w.announced_at))]
        if w.source:
            meta.append(w.source)
        parts += [" ", html.Span("・".join(meta), className="dx-sit-meta")]
        items.append(html.Li(parts, className="dx-sit-warning"))
    return items


def _message_items(
    messages: Sequence[Message], clock: IncidentTime, lang: str, people: dict[str, str]
) -> list[Any]:
    if not messages:
        return [html.Li(t("sit_no_messages", lang), className="dx-sit-none")]
    return [
        html.Li(
            [
                html.Span(clock.label(m.at), className="dx-sit-time"),
                " ",
                html.Strong(t("sit_to", lang, to=m.to)) if m.to else None,
                m.text,
                html.Span(f"（{people.get(m.actor, m.actor)}）", className="dx-sit-meta")
                if m.actor != DRILL_ACTOR
                else None,
            ],
            className="dx-sit-message",
        )
        for m in messages
    ]


def _needed_items(names: Sequence[str], lang: str) -> list[Any]:
    if not names:
        return [html.Li(t("sit_needed_none", lang), className="dx-sit-none")]
    items: list[Any] = [html.Li(name) for name in names[:NEEDED_NAMES_SHOWN]]
    if len(names) > NEEDED_NAMES_SHOWN:
        more = len(names) - NEEDED_NAMES_SHOWN
        items.append(html.Li(t("sit_needed_more", lang, count=more), className="dx-sit-meta"))
    return items


def _city_outline() -> dict[str, Any] | None:
    """The city's imported outline standing for 全域 (simplified; None until imported)."""
    outline = current().store.city_outline()
    if outline is None:
        return None
    try:
        geometry = shape(outline)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("city outline not drawn: %s", exc)
        return None
    simple = geometry.simplify(OUTLINE_TOLERANCE_DEG, preserve_topology=True)
    result: dict[str, Any] = json.loads(shapely.to_geojson(simple))
    return result


# -- layout pieces (placed by web/hq.py) -------------------------------------------------------


def map_layers(snap: dict[str, Any]) -> list[Any]:
    """The map layers: areas under an alert (below the shelters) and 「開設が必要」 tags."""
    return [
        alert_area_layer(snap["area_data"], component_id=ids.HQ_ALERT_AREA_LAYER),
        needed_layer(snap["needed_data"], component_id=ids.HQ_NEEDED_LAYER),
    ]


def _column(title: str, component_id: str, items: list[Any], extra: str = "") -> html.Div:
    # Focusable, so a keyboard can scroll a long list (a scrollable region needs that).
    return html.Div(
        [html.H2(title), html.Ul(items, id=component_id)],
        className=f"dx-sit-col {extra}".strip(),
        tabIndex="0",
        role="region",
        **{"aria-label": title},
    )


def panel(snap: dict[str, Any], *, lang: str, hazard: Hazard | None, areas: list[Area]) -> Any:
    """The panel at the top of ``/hq`` (``snap`` from :func:`situation`)."""
    needed_ids = snap["needed_seen"]["ids"]
    return html.Section(
        [
            html.Div(
                [
                    _column(t("sit_alerts", lang), ids.HQ_SIT_ALERTS, snap["alerts"], "dx-sit-a"),
                    _column(t("sit_warnings", lang), ids.HQ_SIT_WARNINGS, snap["warnings"]),
                    _column(t("sit_messages", lang), ids.HQ_SIT_MESSAGES, snap["messages"]),
                    html.Div(
                        [
                            html.H2(
                                [
                                    t("sit_needed", lang),
                                    " ",
                                    html.Span(snap["needed_count"], id=ids.HQ_SIT_NEEDED_COUNT),
                                    html.Span(
                                        [
                                            f"{'（' if lang != 'en' else ' ('}"
                                            f"{t('sit_needed_map', lang)}",
                                            html.Span("！", className="dx-sit-mark"),
                                            "）" if lang != "en" else ")",
                                        ],
                                        className="dx-sit-meta",
                                    ),
                                ]
                            ),
                            dcc.ConfirmDialogProvider(
                                html.Button(
                                    t("sit_open_needed", lang),
                                    id=ids.HQ_SIT_OPEN_NEEDED,
                                    disabled=not needed_ids,
                                    className="dx-sit-open",
                                ),
                                id=ids.HQ_SIT_OPEN_NEEDED_CONFIRM,
                                message=snap["needed_message"],
                            ),
                            html.P(id=ids.HQ_SIT_NEEDED_RESULT, role="status"),
                            html.Ul(
                                snap["needed"],
                                id=ids.HQ_SIT_NEEDED,
                                tabIndex="0",
                                **{"aria-label": t("sit_needed", lang)},
                            ),
                        ],
                        className="dx-sit-col dx-sit-needed",
                    ),
                ],
                className="dx-sit-grid",
                **{"aria-live": "polite"},
            ),
            html.P(t("sit_drill_time", lang), className="dx-sit-note")
            if snap["drill_time"]
            else None,
            _actions(snap, lang=lang, hazard=hazard, areas=areas),
            dcc.Store(id=ids.HQ_SIT_SEQ, data=snap["seen"]),
            dcc.Store(id=ids.HQ_SIT_NEEDED_SEEN, data=snap["needed_seen"]),
            dcc.Store(id=ids.HQ_ALERT_PENDING),
        ],
        id=ids.HQ_SIT,
        className="dx-sit",
        **{"aria-label": t("sit_region", lang)},
    )


def _field(label: str, control: Any, control_id: str) -> html.Div:
    return html.Div([html.Label(label, htmlFor=control_id), control], className="dx-sit-field")


def _actions(
    snap: dict[str, Any], *, lang: str, hazard: Hazard | None, areas: list[Area]
) -> html.Details:
    hazards = [{"label": h.label(lang), "value": h.value} for h in Hazard]
    levels = [{"label": level_badge(level, lang), "value": level.value} for level in AlertLevel]
    area_options = [{"label": a.label(lang), "value": a.area_id} for a in areas]
    warnings = [{"label": w.label(lang), "value": w.value} for w in WarningKind]
    return html.Details(
        [
            html.Summary(t("sit_actions", lang)),
            html.Div(
                [
                    html.P(id=ids.HQ_ALERT_CONFIRM_TEXT),
                    html.Button(
                        t("sit_confirm", lang), id=ids.HQ_ALERT_CONFIRM, className="dx-sit-go"
                    ),
                    html.Button(t("sit_cancel", lang), id=ids.HQ_ALERT_CANCEL),
                ],
                id=ids.HQ_ALERT_CONFIRM_BOX,
                className="dx-sit-confirm",
                role="alertdialog",
                hidden=True,
                **{"aria-labelledby": ids.HQ_ALERT_CONFIRM_TEXT},
            ),
            html.P(id=ids.HQ_ALERT_RESULT, role="status"),
            html.Div(
                [
                    html.Fieldset(
                        [
                            html.Legend(t("sit_issue_title", lang)),
                            html.Div(
                                [
                                    html.Span(t("sit_level", lang), className="dx-sit-label"),
                                    dcc.RadioItems(
                                        id=ids.HQ_ALERT_LEVEL,
                                        options=levels,
                                        value=AlertLevel.EVACUATE.value,
                                        inline=True,
                                        className="dx-sit-levels",
                                    ),
                                ],
                                role="group",
                                **{"aria-label": t("sit_level", lang)},
                            ),
                            _field(
                                t("sit_hazard", lang),
                                dcc.Dropdown(
                                    id=ids.HQ_ALERT_HAZARD,
                                    options=hazards,
                                    value=(hazard or Hazard.TSUNAMI).value,
                                    clearable=False,
                                    searchable=False,
                                ),
                                ids.HQ_ALERT_HAZARD,
                            ),
                            _field(
                                t("sit_areas", lang),
                                dcc.Dropdown(
                                    id=ids.HQ_ALERT_AREAS,
                                    options=area_options,
                                    value=[areas[0].area_id] if len(areas) == 1 else [],
                                    multi=True,
                                ),
                                ids.HQ_ALERT_AREAS,
                            ),
                            _field(
                                t("sit_reason", lang),
                                dcc.Input(id=ids.HQ_ALERT_REASON, type="text", maxLength=500),
                                ids.HQ_ALERT_REASON,
                            ),
                            html.Button(t("sit_issue_button", lang), id=ids.HQ_ALERT_ISSUE),
                        ]
                    ),
                    html.Fieldset(
                        [
                            html.Legend(t("sit_lift_title", lang)),
                            _field(
                                t("sit_lift_which", lang),
                                dcc.Dropdown(id=ids.HQ_ALERT_LIFT_ID, options=snap["lift_options"]),
                                ids.HQ_ALERT_LIFT_ID,
                            ),
                            _field(
                                t("sit_reason", lang),
                                dcc.Input(id=ids.HQ_ALERT_LIFT_REASON, type="text", maxLength=500),
                                ids.HQ_ALERT_LIFT_REASON,
                            ),
                            html.Button(t("sit_lift_button", lang), id=ids.HQ_ALERT_LIFT),
                        ]
                    ),
                    html.Fieldset(
                        [
                            html.Legend(t("sit_warn_title", lang)),
                            _field(
                                t("sit_warning", lang),
                                dcc.Dropdown(id=ids.HQ_WARN_KIND, options=warnings),
                                ids.HQ_WARN_KIND,
                            ),
                            _field(
                                t("sit_warning_hazard", lang),
                                dcc.Dropdown(id=ids.HQ_WARN_HAZARD, options=hazards),
                                ids.HQ_WARN_HAZARD,
                            ),
                            _field(
                                t("sit_arrival_minutes", lang),
                                dcc.Input(id=ids.HQ_WARN_MINUTES, type="number", min=0, step=1),
                                ids.HQ_WARN_MINUTES,
                            ),
                            _field(
                                t("sit_source", lang),
                                dcc.Input(
                                    id=ids.HQ_WARN_SOURCE,
                                    type="text",
                                    maxLength=200,
                                    value="気象庁" if lang != "en" else "JMA",
                                ),
                                ids.HQ_WARN_SOURCE,
                            ),
                            html.Button(t("sit_warn_button", lang), id=ids.HQ_WARN_SAVE),
                            _field(
                                t("sit_clear_which", lang),
                                dcc.Dropdown(
                                    id=ids.HQ_WARN_CLEAR_ID, options=snap["clear_options"]
                                ),
                                ids.HQ_WARN_CLEAR_ID,
                            ),
                            html.Button(t("sit_clear_button", lang), id=ids.HQ_WARN_CLEAR),
                        ]
                    ),
                ],
                className="dx-sit-forms",
            ),
        ],
        id=ids.HQ_SIT_ACTIONS,
        className="dx-sit-actions",
    )


def staffed_box(lang: str) -> html.Div:
    """Under the shelter details: whether reports are expected from the selected shelter."""
    return html.Div(
        [
            html.H3(t("sit_staffed_title", lang)),
            html.Div(html.P(t("sit_staffed_pick", lang)), id=ids.HQ_STAFFED_BOX),
            html.P(id=ids.HQ_STAFFED_RESULT, role="status"),
            dcc.Store(id=ids.HQ_STAFFED_SEEN),
        ],
        className="dx-staffed",
    )


# -- confirmation texts ------------------------------------------------------------------------


def _pending_for(
    trigger: Any, values: dict[str, Any], context: AppContext, incident: Incident, lang: str
) -> tuple[dict[str, Any] | None, str]:
    """What the user asked to write, and the sentence that confirms it (or a problem)."""
    store = context.store
    by_id = {a.area_id: a for a in store.areas()}
    reason = str(values.get("reason") or "").strip()
    base: dict[str, Any] = {"incident": incident.incident_id}
    if trigger == ids.HQ_ALERT_ISSUE:
        if not values.get("level") or not values.get("hazard"):
            return None, t("sit_need_level", lang)
        chosen = [a for a in values.get("areas") or [] if a]
        if not chosen:
            return None, t("sit_need_areas", lang)
        level, hazard = AlertLevel(values["level"]), Hazard(values["hazard"])
        names = ("、" if lang != "en" else ", ").join(
            by_id[a].label(lang) if a in by_id else a for a in chosen
        )
        text = t(
            "sit_confirm_issue",
            lang,
            level=level_words(level, lang),
            hazard=hazard.label(lang),
            areas=names,
        )
        pending = {**base, "action": "issue", "level": level.value, "hazard": hazard.value}
        return {**pending, "areas": chosen, "reason": reason}, text
    if trigger == ids.HQ_ALERT_LIFT:
        alert_id = values.get("lift_id")
        alert = store.state(incident.incident_id).alerts.get(alert_id or "")
        if alert is None or not alert.in_force:
            return None, t("sit_need_alert", lang)
        text = t(
            "sit_confirm_lift",
            lang,
            level=level_words(alert.level, lang),
            hazard=alert.hazard.label(lang),
            areas=_area_names(alert, by_id, lang),
        )
        reason = str(values.get("lift_reason") or "").strip()
        return {**base, "action": "lift", "alert_id": alert.alert_id, "reason": reason}, text
    if trigger == ids.HQ_WARN_SAVE:
        if not values.get("warning"):
            return None, t("sit_need_warning", lang)
        warning = WarningKind(values["warning"])
        hazard_code = values.get("warning_hazard") or None
        hazard_of = Hazard(hazard_code) if hazard_code else warning.hazard
        if hazard_of is None:
            return None, t("sit_need_level", lang)
        minutes = values.get("minutes")
        if minutes not in (None, ""):
            if not isinstance(minutes, int | float) or minutes < 0 or minutes != int(minutes):
                return None, t("sit_bad_minutes", lang)
            minutes = int(minutes)
        else:
            minutes = None
        text = t(
            "sit_confirm_warn", lang, warning=warning.label(lang), hazard=hazard_of.label(lang)
        )
        pending = {**base, "action": "warn", "warning": warning.value, "hazard": hazard_code}
        source = str(values.get("source") or "").strip()
        return {**pending, "minutes": minutes, "source": source}, text
    if trigger == ids.HQ_WARN_CLEAR:
        code = values.get("clear_hazard")
        announcement = store.state(incident.incident_id).hazards.get(Hazard(code)) if code else None
        if announcement is None:
            return None, t("sit_need_clear", lang)
        text = t("sit_confirm_clear", lang, title=announcement.title)
        return {**base, "action": "clear", "hazard": announcement.hazard.value}, text
    return None, ""


def _write(pending: dict[str, Any], user: User, context: AppContext, lang: str) -> str:
    """Carry out a confirmed action; returns what was done, in words."""
    store = context.store
    incident_id = pending["incident"]
    action = pending["action"]
    if action == "issue":
        alert = alerts.issue_alert(
            store,
            incident_id,
            user,
            level=AlertLevel(pending["level"]),
            hazard=Hazard(pending["hazard"]),
            areas=list(pending["areas"]),
            reason=pending.get("reason", ""),
        )
        return f"{level_words(alert.level, lang)}（{alert.hazard.label(lang)}）"
    if action == "lift":
        alert = alerts.lift_alert(
            store, incident_id, user, pending["alert_id"], reason=pending.get("reason", "")
        )
        lifted = "解除" if lang != "en" else "lifted"
        return f"{level_words(alert.level, lang)}（{alert.hazard.label(lang)}）{lifted}"
    if action == "warn":
        arrival = None
        if pending.get("minutes") is not None:
            clock = incident_time(store, store.incident(incident_id))
            arrival = clock.wall_after(context.now(), timedelta(minutes=int(pending["minutes"])))
        announced = alerts.announce_warning(
            store,
            incident_id,
            user,
            warning=WarningKind(pending["warning"]),
            hazard=Hazard(pending["hazard"]) if pending.get("hazard") else None,
            arrival_at=arrival,
            source=pending.get("source", ""),
        )
        return f"{announced.title}（{announced.hazard.label(lang)}）"
    hazard = Hazard(pending["hazard"])
    alerts.clear_warning(store, incident_id, user, hazard)
    return f"{hazard.label(lang)}（{'終了' if lang != 'en' else 'cleared'}）"


# -- callbacks ---------------------------------------------------------------------------------


def register(app: Dash) -> None:
    """Attach the panel's callbacks to ``app``."""

    @app.callback(
        Output(ids.HQ_SIT_ALERTS, "children"),
        Output(ids.HQ_SIT_WARNINGS, "children"),
        Output(ids.HQ_SIT_MESSAGES, "children"),
        Output(ids.HQ_SIT_NEEDED, "children"),
        Output(ids.HQ_SIT_NEEDED_COUNT, "children"),
        Output(ids.HQ_SIT_OPEN_NEEDED, "disabled"),
        Output(ids.HQ_SIT_OPEN_NEEDED_CONFIRM, "message"),
        Output(ids.HQ_SIT_NEEDED_SEEN, "data"),
        Output(ids.HQ_ALERT_LIFT_ID, "options"),
        Output(ids.HQ_WARN_CLEAR_ID, "options"),
        Output(ids.HQ_ALERT_AREA_LAYER, "data"),
        Output(ids.HQ_NEEDED_LAYER, "data"),
        Output(ids.HQ_SIT_SEQ, "data"),
        Input(ids.HQ_INTERVAL, "n_intervals"),
        Input(ids.HQ_FORCE, "data"),
        State(ids.HQ_SIT_SEQ, "data"),
        State("_pages_location", "search"),
        prevent_initial_call=True,
    )
    @requires(*HQ_ROLES)
    def refresh(_tick: int | None, _force: int | None, seen: Any, search: str) -> tuple[Any, ...]:
        """Re-render when the log moved; while a tsunami countdown runs, its line every poll."""
        context = current()
        incident = current_incident()
        seen = seen if isinstance(seen, dict) else {}
        same_incident = seen.get("incident") == incident.incident_id
        moved = (
            ctx.triggered_id != ids.HQ_INTERVAL
            or not same_incident
            or context.store.last_seq(incident.incident_id, skip_routine=True) != seen.get("seq")
        )
        if not moved and not seen.get("ticking"):
            return (no_update,) * 13
        snap = situation(context, incident, lang_from_search(search))
        if not moved:  # only the countdown changed
            keep = (no_update,) * 12
            return (keep[0], snap["warnings"], *keep[2:12], snap["seen"])
        areas_changed = not same_incident or snap["seen"]["alerts"] != seen.get("alerts")
        return (
            snap["alerts"],
            snap["warnings"],
            snap["messages"],
            snap["needed"],
            snap["needed_count"],
            not snap["needed_seen"]["ids"],
            snap["needed_message"],
            snap["needed_seen"],
            snap["lift_options"],
            snap["clear_options"],
            snap["area_data"] if areas_changed else no_update,
            snap["needed_data"],
            snap["seen"],
        )

    @app.callback(
        Output(ids.HQ_ALERT_PENDING, "data"),
        Output(ids.HQ_ALERT_CONFIRM_TEXT, "children"),
        Output(ids.HQ_ALERT_CONFIRM_BOX, "hidden"),
        Output(ids.HQ_ALERT_RESULT, "children"),
        Input(ids.HQ_ALERT_ISSUE, "n_clicks"),
        Input(ids.HQ_ALERT_LIFT, "n_clicks"),
        Input(ids.HQ_WARN_SAVE, "n_clicks"),
        Input(ids.HQ_WARN_CLEAR, "n_clicks"),
        Input(ids.HQ_ALERT_CANCEL, "n_clicks"),
        State(ids.HQ_ALERT_LEVEL, "value"),
        State(ids.HQ_ALERT_HAZARD, "value"),
        State(ids.HQ_ALERT_AREAS, "value"),
        State(ids.HQ_ALERT_REASON, "value"),
        State(ids.HQ_ALERT_LIFT_ID, "value"),
        State(ids.HQ_ALERT_LIFT_REASON, "value"),
        State(ids.HQ_WARN_KIND, "value"),
        State(ids.HQ_WARN_HAZARD, "value"),
        State(ids.HQ_WARN_MINUTES, "value"),
        State(ids.HQ_WARN_SOURCE, "value"),
        State(ids.HQ_WARN_CLEAR_ID, "value"),
        State("_pages_location", "search"),
        prevent_initial_call=True,
    )
    @requires(*HQ_ROLES)
    def prepare(
        _issue: int | None,
        _lift: int | None,
        _warn: int | None,
        _clear: int | None,
        _cancel: int | None,
        level: str | None,
        hazard: str | None,
        areas: list[str] | None,
        reason: str | None,
        lift_id: str | None,
        lift_reason: str | None,
        warning: str | None,
        warning_hazard: str | None,
        minutes: Any,
        source: str | None,
        clear_hazard: str | None,
        search: str,
    ) -> tuple[Any, ...]:
        """First step: say exactly what will be written, and wait for 確定する."""
        lang = lang_from_search(search)
        trigger = ctx.triggered_id
        if trigger == ids.HQ_ALERT_CANCEL:
            return None, "", True, t("sit_cancelled", lang)
        values = {
            "level": level,
            "hazard": hazard,
            "areas": areas,
            "reason": reason,
            "lift_id": lift_id,
            "lift_reason": lift_reason,
            "warning": warning,
            "warning_hazard": warning_hazard,
            "minutes": minutes,
            "source": source,
            "clear_hazard": clear_hazard,
        }
        try:
            pending, text = _pending_for(trigger, values, current(), current_incident(), lang)
        except ValueError:  # an option value that is not ours (a hand-made request)
            return None, "", True, t("sit_failed", lang, error="?")
        if pending is None:
            return None, "", True, text
        reason_text = pending.get("reason")
        sentence: list[Any] = [html.Strong(text)]
        if reason_text:
            sentence += [" ", t("sit_confirm_reason", lang, reason=reason_text)]
        sentence += [html.Br(), t("sit_confirm_question", lang)]
        return pending, sentence, False, ""

    @app.callback(
        Output(ids.HQ_ALERT_RESULT, "children", allow_duplicate=True),
        Output(ids.HQ_ALERT_PENDING, "data", allow_duplicate=True),
        Output(ids.HQ_ALERT_CONFIRM_BOX, "hidden", allow_duplicate=True),
        Output(ids.HQ_FORCE, "data", allow_duplicate=True),
        Input(ids.HQ_ALERT_CONFIRM, "n_clicks"),
        State(ids.HQ_ALERT_PENDING, "data"),
        State(ids.HQ_FORCE, "data"),
        State("_pages_location", "search"),
        prevent_initial_call=True,
    )
    @requires(*HQ_ROLES)
    def confirm(
        clicks: int | None, pending: dict[str, Any] | None, force: int | None, search: str
    ) -> tuple[Any, ...]:
        """Second step: write what the user confirmed (the core checks the role again)."""
        lang = lang_from_search(search)
        if not clicks or not pending:
            return no_update, no_update, no_update, no_update
        user = signed_in_user()
        assert user is not None  # requires() ran
        if pending.get("incident") != current_incident().incident_id:
            return t("sit_stale_screen", lang), None, True, no_update
        try:
            done = _write(pending, user, current(), lang)
        except (KeyError, ValueError, TypeError):
            return t("sit_failed", lang, error="?"), None, True, no_update
        except DisasterDxError as exc:
            return t("sit_failed", lang, error=_problem_text(exc)), None, True, no_update
        return t("sit_done", lang, text=done), None, True, (force or 0) + 1

    @app.callback(
        Output(ids.HQ_SIT_NEEDED_RESULT, "children"),
        Output(ids.HQ_FORCE, "data", allow_duplicate=True),
        Input(ids.HQ_SIT_OPEN_NEEDED_CONFIRM, "submit_n_clicks"),
        State(ids.HQ_SIT_NEEDED_SEEN, "data"),
        State(ids.HQ_FORCE, "data"),
        State("_pages_location", "search"),
        prevent_initial_call=True,
    )
    @requires(*HQ_ROLES)
    def open_needed(
        submitted: int | None, seen: dict[str, Any] | None, force: int | None, search: str
    ) -> tuple[Any, ...]:
        """Open every shelter listed 「開設が必要」, in one batch from the versions HQ saw."""
        lang = lang_from_search(search)
        if not submitted or not seen or not seen.get("ids"):
            return no_update, no_update
        context = current()
        incident = current_incident()
        if seen.get("incident") != incident.incident_id:
            return t("sit_stale_screen", lang), no_update
        user = signed_in_user()
        assert user is not None
        store = context.store
        state = store.state_after(incident.incident_id, int(seen["seq"]))
        shown = list(seen["ids"])
        try:
            outcome = hq_core.set_open_state_bulk(
                store,
                incident.incident_id,
                user,
                shown,
                OpenState.OPEN,
                seen=hq_core.seen_on_screen(state, shown),
            )
        except ConflictError:
            return t("sit_needed_conflict", lang), (force or 0) + 1
        except DisasterDxError as exc:
            return t("sit_failed", lang, error=_problem_text(exc)), no_update
        done = t("sit_needed_done", lang, count=len(outcome.events))
        if outcome.skipped:
            names = {s.shelter_id: s.name for s in store.shelters()}
            skipped = "、".join(names.get(sid, sid) for sid in outcome.skipped)
            done = f"{done} {t('sit_needed_skipped', lang, names=skipped)}"
        return done, (force or 0) + 1

    @app.callback(
        Output(ids.HQ_STAFFED_BOX, "children"),
        Output(ids.HQ_STAFFED_SEEN, "data"),
        Input(ids.HQ_SHELTERS, "hideout"),
        Input(ids.HQ_FORCE, "data"),
        State("_pages_location", "search"),
        prevent_initial_call=True,
    )
    @requires(*HQ_ROLES)
    def staffed_choice(hideout: dict[str, Any] | None, _force: int | None, search: str) -> Any:
        """The selected shelter's staffed choice (default by kind, or HQ's)."""
        lang = lang_from_search(search)
        shelter_id = (hideout or {}).get("selected")
        if not shelter_id:
            return html.P(t("sit_staffed_pick", lang)), None
        store = current().store
        incident = current_incident()
        try:
            shelter = store.shelter(str(shelter_id))
        except NotFoundError:
            return html.P(t("sit_staffed_pick", lang)), None
        status = store.state(incident.incident_id).shelter(shelter.shelter_id)
        default = bool(shelter.kinds & hq_core.STAFFED_KINDS)
        default_word = (
            ("常駐" if default else "無人")
            if lang != "en"
            else ("staffed" if default else "unstaffed")
        )
        value = {None: "default", True: "yes", False: "no"}[status.staffed]
        return (
            html.Div(
                [
                    html.P(
                        [
                            html.Strong(shelter.name),
                            "：",
                            hq_core.staffed_label(shelter, status, lang),
                        ],
                        id="hq-staffed-now",
                    ),
                    dcc.RadioItems(
                        id=ids.HQ_STAFFED_CHOICE,
                        options=[
                            {
                                "label": t("sit_staffed_default", lang, default=default_word),
                                "value": "default",
                            },
                            {"label": t("sit_staffed_yes", lang), "value": "yes"},
                            {"label": t("sit_staffed_no", lang), "value": "no"},
                        ],
                        value=value,
                        className="dx-staffed-choice",
                    ),
                    html.Button(t("sit_staffed_save", lang), id=ids.HQ_STAFFED_SAVE),
                ]
            ),
            {
                "incident": incident.incident_id,
                "shelter": shelter.shelter_id,
                "version": status.version,
            },
        )

    @app.callback(
        Output(ids.HQ_STAFFED_RESULT, "children"),
        Output(ids.HQ_FORCE, "data", allow_duplicate=True),
        Input(ids.HQ_STAFFED_SAVE, "n_clicks"),
        State(ids.HQ_STAFFED_CHOICE, "value"),
        State(ids.HQ_STAFFED_SEEN, "data"),
        State(ids.HQ_FORCE, "data"),
        State("_pages_location", "search"),
        prevent_initial_call=True,
    )
    @requires(*HQ_ROLES)
    def save_staffed(
        clicks: int | None,
        choice: str | None,
        seen: dict[str, Any] | None,
        force: int | None,
        search: str,
    ) -> tuple[Any, ...]:
        """Record HQ's staffed choice as a correction, from the version shown."""
        lang = lang_from_search(search)
        if not clicks or not seen or choice not in ("default", "yes", "no"):
            return no_update, no_update
        incident = current_incident()
        if seen.get("incident") != incident.incident_id:
            return t("sit_stale_screen", lang), no_update
        user = signed_in_user()
        assert user is not None
        store = current().store
        staffed = {"default": None, "yes": True, "no": False}[choice]
        try:
            hq_core.set_staffed(
                store,
                incident.incident_id,
                user,
                str(seen["shelter"]),
                staffed,
                seen_version=int(seen["version"]),
            )
        except ConflictError:
            return t("sit_staffed_conflict", lang), (force or 0) + 1
        except DisasterDxError as exc:
            return t("sit_failed", lang, error=_problem_text(exc)), no_update
        shelter = store.shelter(str(seen["shelter"]))
        status = store.state(incident.incident_id).shelter(shelter.shelter_id)
        label = hq_core.staffed_label(shelter, status, lang)
        return t("sit_staffed_done", lang, label=f"{shelter.name} {label}"), (force or 0) + 1


def _problem_text(exc: DisasterDxError) -> str:
    problems = getattr(exc, "problems", None)
    if problems:
        return "；".join(f"{p.where}: {p.message}" for p in problems)
    return str(exc)
