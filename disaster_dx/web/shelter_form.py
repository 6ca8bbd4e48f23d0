"""``/hq/shelter/<id>``: one shelter's status form, made for a 360 px phone and tired hands.

HQ's desk and shelter staff's phones use the same form. It keeps what the screen showed (the
version and every value) and sends only the fields the person changed, with that version
(:func:`disaster_dx.hq.report_status`). Fields colleagues changed meanwhile are kept; a field
both changed is shown side by side (あなたの入力 / 他の職員の入力 / 元の値) and re-applying
sends only the person's own fields on the newest version.

Bad input never looks sent: a value the form cannot read (``-5``, ``abc``, a note that is not
text, an unknown choice) is named next to its field and nothing is written; unlikely counts
are asked about before sending. A failing database shows its own message (see
:mod:`disaster_dx.web.failures`) and leaves the input on the screen.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import dash
from dash import ALL, Dash, Input, Output, State, ctx, dcc, html, no_update
from flask import abort

from disaster_dx import auth
from disaster_dx import hq as hq_core
from disaster_dx._time import to_jst
from disaster_dx.auth import Role
from disaster_dx.errors import ConflictError, NotFoundError, PayloadError
from disaster_dx.events import MAX_COUNT, ShelterStatus
from disaster_dx.model import Crowding, Need, OpenState
from disaster_dx.web import ids
from disaster_dx.web.conflict_view import conflict_view, field_label, field_names
from disaster_dx.web.context import current
from disaster_dx.web.failures import register_failure_output
from disaster_dx.web.i18n import lang_from_search, lang_of
from disaster_dx.web.security import requires, signed_in_user
from disaster_dx.web.staff import refusal, staff_header
from disaster_dx.web.user_incident import current_incident, drill_banner

FORM_ROLES = (Role.HQ, Role.SHELTER_STAFF)
AUTO = "auto"
UNKNOWN = "unknown"
_TRI = {"yes": True, "no": False, UNKNOWN: None}

#: Payload field → the control that edits it, in form order.
CONTROLS: dict[str, str] = {
    "open_state": ids.FORM_OPEN_STATE,
    "evacuees": ids.FORM_EVACUEES,
    "voluntary_evacuees": ids.FORM_VOLUNTARY,
    "households": ids.FORM_HOUSEHOLDS,
    "capacity": ids.FORM_CAPACITY,
    "crowding_override": ids.FORM_CROWDING_OVERRIDE,
    "needs": ids.FORM_NEEDS,
    "urgent_needs": ids.FORM_URGENT,
    "other_needs": ids.FORM_OTHER_NEEDS,
    "pets_accepted": ids.FORM_PETS,
    "barrier_free": ids.FORM_BARRIER_FREE,
    "public_note": ids.FORM_PUBLIC_NOTE,
    "internal_note": ids.FORM_INTERNAL_NOTE,
}
FIELDS = list(CONTROLS)
COUNT_FIELDS = ("evacuees", "voluntary_evacuees", "households", "capacity")
#: Counts that cannot be emptied once reported (0 is a number; capacity may fall back to
#: the master's).
_REQUIRED_COUNTS = ("evacuees", "voluntary_evacuees", "households")
_TEXT_LIMITS = {"other_needs": 500, "public_note": 500, "internal_note": 2000}


def _tri(value: bool | None) -> str:
    return UNKNOWN if value is None else ("yes" if value else "no")


def form_values(status: ShelterStatus, *, now: datetime, urgent_after: timedelta) -> dict[str, Any]:
    """The controls' values for ``status``, as the form shows them (what the person "saw")."""
    return {
        "open_state": status.open_state.value,
        **{name: _count_text(getattr(status, name)) for name in COUNT_FIELDS},
        "crowding_override": status.crowding_override.value if status.crowding_override else AUTO,
        "needs": sorted(n.value for n in status.needs),
        "urgent_needs": sorted(
            n.value for n in status.active_urgent_needs(now, expire_after=urgent_after)
        ),
        "other_needs": status.other_needs,
        "pets_accepted": _tri(status.pets_accepted),
        "barrier_free": _tri(status.barrier_free),
        "public_note": status.public_note,
        "internal_note": status.internal_note,
    }


def _count_text(value: int | None) -> str:
    return "" if value is None else str(value)


# -- reading the form ----------------------------------------------------------------------------


def _words(lang: str, ja: str, en: str) -> str:
    return en if lang == "en" else ja


def parse_values(
    values: Mapping[str, Any], lang: str = "ja"
) -> tuple[dict[str, Any], dict[str, str]]:
    """Payload-form values of every field from the controls' raw values, and problems by field.

    Anything a browser or a hand-made request can send is handled: counts typed with
    full-width digits are read, ``-5`` or ``abc`` is an error (never "blank"), a note that is
    not text or a choice outside the list is an error, never a guess.
    """
    parsed: dict[str, Any] = {}
    problems: dict[str, str] = {}

    def bad(name: str, ja: str, en: str) -> None:
        problems[name] = _words(lang, ja, en)

    state = values.get("open_state")
    if state in OpenState._value2member_map_:
        parsed["open_state"] = state
    else:
        bad("open_state", "一覧から選んでください", "choose one of the options")
    for name in COUNT_FIELDS:
        raw = values.get(name)
        count, message = parse_count(raw, lang)
        if message:
            problems[name] = message
        else:
            parsed[name] = count
    override = values.get("crowding_override") or AUTO
    if override == AUTO:
        parsed["crowding_override"] = None
    elif override in Crowding._value2member_map_:
        parsed["crowding_override"] = override
    else:
        bad("crowding_override", "一覧から選んでください", "choose one of the options")
    for name in ("needs", "urgent_needs"):
        chosen = values.get(name) or []
        if isinstance(chosen, list) and all(
            isinstance(v, str) and v in Need._value2member_map_ for v in chosen
        ):
            parsed[name] = sorted(set(chosen))
        else:
            bad(name, "一覧から選んでください", "choose from the list")
    for name, limit in _TEXT_LIMITS.items():
        text = values.get(name)
        if text is None:
            text = ""
        if not isinstance(text, str):
            bad(name, "文字で入力してください", "enter text")
            continue
        text = text.strip()
        if len(text) > limit:
            bad(name, f"{limit}文字以内にしてください", f"at most {limit} characters")
            continue
        parsed[name] = text
    for name in ("pets_accepted", "barrier_free"):
        choice = values.get(name)
        if choice is None:
            choice = UNKNOWN
        if isinstance(choice, str) and choice in _TRI:
            parsed[name] = _TRI[choice]
        else:
            bad(name, "「可・不可・未確認」から選んでください", "choose yes, no or unknown")
    return parsed, problems


def parse_count(raw: Any, lang: str = "ja") -> tuple[int | None, str]:
    """A count from what was typed: ``(number or None for blank, "" or the problem)``."""
    if raw is None:
        return None, ""
    if isinstance(raw, bool):
        return None, _words(lang, "整数で入力してください", "enter a whole number")
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, str):
        text = unicodedata.normalize("NFKC", raw).strip().replace(",", "")
        if not text:
            return None, ""
        if text.lstrip("+-").isdigit():
            raw = int(text)
    if not isinstance(raw, int):
        return None, _words(lang, "整数で入力してください", "enter a whole number")
    if raw < 0:
        return None, _words(lang, "0以上の整数で入力してください", "enter 0 or more")
    if raw > MAX_COUNT:
        return None, _words(lang, f"{MAX_COUNT:,}以下にしてください", f"at most {MAX_COUNT:,}")
    return raw, ""


def changes_from_form(
    values: Mapping[str, Any], seen: Mapping[str, Any], lang: str = "ja"
) -> tuple[dict[str, Any], dict[str, str]]:
    """The fields the person changed (payload form) and the problems, by field.

    ``seen`` holds the controls' values as the form was drawn; a field whose value reads the
    same as it did then is left out, so untouched fields are never written.
    """
    parsed, problems = parse_values(values, lang)
    before, _ = parse_values(seen, lang)
    changes: dict[str, Any] = {}
    for name in FIELDS:
        if name in problems or parsed.get(name) == before.get(name):
            continue
        if name in _REQUIRED_COUNTS and parsed[name] is None:
            problems[name] = _words(
                lang,
                "空欄にはできません（0人なら 0 と入力）",
                "cannot be left empty (enter 0 for none)",
            )
            continue
        changes[name] = parsed[name]
    return changes, problems


def _questions(
    changes: Mapping[str, Any], seen: Mapping[str, Any], master_capacity: int | None
) -> list[hq_core.Question]:
    """Plausibility questions about counts the person changed (not about others' numbers)."""
    if not any(n in changes for n in ("evacuees", "households", "capacity")):
        return []
    before, _ = parse_values(seen)

    def value(name: str) -> int | None:
        result = changes[name] if name in changes else before.get(name)
        return result if isinstance(result, int) else None

    return hq_core.plausibility_questions(
        evacuees=value("evacuees"),
        households=value("households"),
        capacity=value("capacity") or master_capacity,
    )


# -- layout ---------------------------------------------------------------------------------------


def _last_report(status: ShelterStatus, names: Mapping[str, str], lang: str) -> str:
    if status.reported_at is None:
        return _words(lang, "最終報告：まだありません", "Last report: none yet")
    who = names.get(status.reported_by or "", status.reported_by or "")
    when = to_jst(status.reported_at).strftime("%m/%d %H:%M")
    return _words(lang, f"最終報告：{when}　{who}", f"Last report: {when} JST, {who}")


def layout(shelter_id: str = "", lang: str | None = None, **_query: Any) -> html.Div:
    """The form, prefilled with the shelter's current status (only for users who may edit it)."""
    lang = lang_of(lang)
    en = lang == "en"
    user = signed_in_user()
    if user is None or not user.has(*FORM_ROLES):
        return refusal(lang=lang)
    context = current()
    try:
        shelter = context.store.shelter(shelter_id)
    except NotFoundError:
        missing = _words(lang, "その避難所は見つかりません。", "No such shelter.")
        return refusal(lang=lang, text=missing)
    if not user.may_update_shelter(shelter_id):
        context.store.audit(user.username, "shelter.form_refused", target=shelter_id)
        return refusal(lang=lang)
    incident = current_incident()
    status = context.store.state(incident.incident_id).shelter(shelter_id)
    urgent_hours = context.settings.urgent_need_hours
    seen = form_values(status, now=context.now(), urgent_after=timedelta(hours=urgent_hours))
    names = auth.display_names(context.store)

    def field(field_name: str, control: Any, hint: str = "") -> html.Div:
        return html.Div(
            [
                html.Label(field_label(field_name, lang), htmlFor=CONTROLS[field_name]),
                control,
                html.Small(hint, className="dx-hint") if hint else None,
                html.Div(id=ids.form_error(field_name), className="dx-field-error", role="alert"),
            ],
            className="dx-field",
        )

    yes_no = [
        {"label": "可" if not en else "Yes", "value": "yes"},
        {"label": "不可" if not en else "No", "value": "no"},
        {"label": "未確認" if not en else "Unknown", "value": UNKNOWN},
    ]
    return html.Div(
        [
            drill_banner(incident, lang=lang),
            staff_header(user, lang=lang, title_ja="避難所の状況報告", title_en="Shelter report"),
            html.Main(
                [
                    html.H2(shelter.name, id="hq-form-name"),
                    html.P(shelter.address, className="dx-hint"),
                    html.P(
                        _last_report(status, names, lang),
                        id=ids.FORM_LAST_REPORT,
                        className="dx-hint",
                    ),
                    dcc.Store(id=ids.FORM_SHELTER_ID, data=shelter_id),
                    dcc.Store(id=ids.FORM_VERSION, data=status.version),
                    dcc.Store(id=ids.FORM_SEEN, data=seen),
                    field(
                        "open_state",
                        dcc.RadioItems(
                            id=ids.FORM_OPEN_STATE,
                            options=[{"label": s.label(lang), "value": s.value} for s in OpenState],
                            value=seen["open_state"],
                            className="dx-choices",
                        ),
                    ),
                    html.Div(
                        [
                            field(name, _count_input(CONTROLS[name], seen[name]))
                            for name in COUNT_FIELDS
                        ],
                        className="dx-grid2",
                    ),
                    html.Div(
                        [
                            html.Span("混雑状況（計算）" if not en else "Crowding (computed)"),
                            html.Strong(id=ids.FORM_CROWDING_COMPUTED),
                        ],
                        className="dx-computed",
                        **{"aria-live": "polite"},
                    ),
                    field(
                        "crowding_override",
                        dcc.RadioItems(
                            id=ids.FORM_CROWDING_OVERRIDE,
                            options=[
                                {
                                    "label": "自動（計算どおり）" if not en else "Automatic",
                                    "value": AUTO,
                                }
                            ]
                            + [{"label": c.label(lang), "value": c.value} for c in Crowding],
                            value=seen["crowding_override"],
                            className="dx-choices",
                        ),
                    ),
                    field(
                        "needs",
                        dcc.Checklist(
                            id=ids.FORM_NEEDS,
                            options=[{"label": n.label(lang), "value": n.value} for n in Need],
                            value=seen["needs"],
                            className="dx-choices",
                        ),
                    ),
                    field(
                        "urgent_needs",
                        dcc.Checklist(
                            id=ids.FORM_URGENT,
                            options=[{"label": n.label(lang), "value": n.value} for n in Need],
                            value=seen["urgent_needs"],
                            className="dx-choices dx-urgent",
                        ),
                        hint=(
                            f"緊急の要請は{urgent_hours}時間で失効します。続いている場合は"
                            "もう一度チェックして送信してください。"
                            if not en
                            else f"Urgent needs lapse after {urgent_hours} h unless re-confirmed."
                        ),
                    ),
                    field(
                        "other_needs",
                        dcc.Input(
                            id=ids.FORM_OTHER_NEEDS,
                            type="text",
                            value=seen["other_needs"],
                            maxLength=500,
                        ),
                    ),
                    html.Div(
                        [
                            field(
                                "pets_accepted",
                                dcc.RadioItems(
                                    id=ids.FORM_PETS,
                                    options=yes_no,
                                    value=seen["pets_accepted"],
                                    className="dx-choices",
                                ),
                            ),
                            field(
                                "barrier_free",
                                dcc.RadioItems(
                                    id=ids.FORM_BARRIER_FREE,
                                    options=yes_no,
                                    value=seen["barrier_free"],
                                    className="dx-choices",
                                ),
                            ),
                        ],
                        className="dx-grid2",
                    ),
                    field(
                        "public_note",
                        dcc.Textarea(
                            id=ids.FORM_PUBLIC_NOTE, value=seen["public_note"], maxLength=500
                        ),
                    ),
                    field(
                        "internal_note",
                        dcc.Textarea(
                            id=ids.FORM_INTERNAL_NOTE, value=seen["internal_note"], maxLength=2000
                        ),
                    ),
                    html.Label(
                        "記録の種類" if not en else "Kind of record",
                        htmlFor=ids.FORM_CORRECTION,
                        className="dx-visually-hidden",
                    ),
                    dcc.Checklist(
                        id=ids.FORM_CORRECTION,
                        options=[
                            {
                                "label": "訂正として記録（入力ミスの修正。開設の通知はしません）"
                                if not en
                                else "Record as a correction (fixes a mistake; no announcement)",
                                "value": "correction",
                            }
                        ],
                        value=[],
                        className="dx-correction",
                    ),
                    html.Button(
                        "送信する" if not en else "Send", id=ids.FORM_SUBMIT, className="dx-submit"
                    ),
                    html.Div(id=ids.FORM_RESULT, role="status", className="dx-result"),
                    html.Div(id=ids.FORM_CONFLICT),
                    html.P(
                        html.A(
                            "← 地図・ボード" if not en else "← Map & board",
                            href="/hq" + ("?lang=en" if en else ""),
                        )
                    ),
                    html.P(
                        html.A(
                            "スマートフォン用の軽い画面で開く（電波が弱いとき）"
                            if not en
                            else "Open the light phone form (weak signal)",
                            href=f"/m/shelter/{shelter_id}" + ("?lang=en" if en else ""),
                            id="hq-form-phone-link",
                        )
                    ),
                ],
                className="dx-form",
            ),
        ],
        lang=lang,
    )


def _count_input(component_id: str, value: str) -> dcc.Input:
    # Text, not type="number": a browser reports an out-of-range number such as -5 as empty,
    # which would make a typo look like "unchanged". The server reads and checks the text.
    return dcc.Input(
        id=component_id,
        type="text",
        value=value,
        inputMode="numeric",
        autoComplete="off",
        className="dx-count-input",
    )


def _fail(lang: str) -> html.P:
    return html.P(
        _words(
            lang,
            "入力に誤りがあります。赤字の項目を直してください。送信していません。",
            "Some entries need fixing (in red). Nothing was sent.",
        ),
        className="dx-error",
    )


def _ask(questions: list[hq_core.Question], key: str, lang: str) -> html.Div:
    """Unlikely counts: the questions and a button that sends after all."""
    return html.Div(
        [
            html.P(
                _words(
                    lang, "確認してください（まだ送信していません）", "Please check (not sent yet)"
                ),
                className="dx-error",
            ),
            html.Ul([html.Li(q.text(lang)) for q in questions]),
            html.Button(
                _words(lang, "はい、この内容で送信する", "Yes, send as entered"),
                id={"type": ids.FORM_CONFIRM, "key": key},
                className="dx-submit",
            ),
        ],
        className="dx-question",
        role="alert",
    )


def _question_key(changes: Mapping[str, Any]) -> str:
    """What a confirmation was given for: the counts asked about, so edits ask again."""
    return ",".join(f"{n}={changes.get(n)}" for n in ("evacuees", "households", "capacity"))


def register(app: Dash) -> None:
    """Attach the form's callbacks to ``app``."""
    register_failure_output(app, ids.FORM_RESULT, "children")

    @app.callback(
        Output(ids.FORM_CROWDING_COMPUTED, "children"),
        Input(ids.FORM_EVACUEES, "value"),
        Input(ids.FORM_CAPACITY, "value"),
        Input(ids.FORM_CROWDING_OVERRIDE, "value"),
        State(ids.FORM_SHELTER_ID, "data"),
        State("_pages_location", "search"),
    )
    @requires(*FORM_ROLES)
    def computed_crowding(
        evacuees_raw: Any,
        capacity_raw: Any,
        override: str | None,
        shelter_id: str,
        search: str | None,
    ) -> str:
        """Show what the city's thresholds make of the counts, and say which count is missing."""
        lang = lang_from_search(search)
        context = current()
        evacuees, evacuees_problem = parse_count(evacuees_raw, lang)
        capacity, capacity_problem = parse_count(capacity_raw, lang)
        if capacity is None and not capacity_problem:
            capacity = context.store.shelter(shelter_id).capacity
        level = None
        if evacuees_problem:
            text = _words(lang, "不明（避難者数を確認してください）", "unknown (check evacuees)")
        elif capacity_problem:
            text = _words(lang, "不明（収容人数を確認してください）", "unknown (check capacity)")
        elif evacuees is None:
            text = _words(lang, "不明（避難者数が未入力）", "unknown (no evacuee count)")
        elif not capacity:
            text = _words(lang, "不明（収容人数が未入力）", "unknown (no capacity)")
        else:
            level = context.settings.crowding.classify(evacuees, capacity)
            percent = f"{100 * evacuees / capacity:.0f}%"
            text = (level.label(lang) if level else "—") + _words(
                lang, f"（{percent}）", f" ({percent})"
            )
        if override and override != AUTO and override in Crowding._value2member_map_:
            manual = Crowding(override).label(lang)
            text += _words(lang, f" → 手動で「{manual}」", f" → set by hand: {manual}")
        return text

    @app.callback(
        Output(ids.FORM_RESULT, "children"),
        Output(ids.FORM_CONFLICT, "children"),
        Output(ids.FORM_VERSION, "data"),
        Output(ids.FORM_SEEN, "data"),
        Output(ids.FORM_LAST_REPORT, "children"),
        Output(ids.FORM_CORRECTION, "value"),
        *[Output(CONTROLS[name], "value") for name in FIELDS],
        *[Output(ids.form_error(name), "children") for name in FIELDS],
        Input(ids.FORM_SUBMIT, "n_clicks"),
        Input({"type": ids.FORM_REAPPLY, "version": ALL}, "n_clicks"),
        Input({"type": ids.FORM_CONFIRM, "key": ALL}, "n_clicks"),
        State(ids.FORM_SHELTER_ID, "data"),
        State(ids.FORM_VERSION, "data"),
        State(ids.FORM_SEEN, "data"),
        *[State(CONTROLS[name], "value") for name in FIELDS],
        State(ids.FORM_CORRECTION, "value"),
        State("_pages_location", "search"),
        prevent_initial_call=True,
    )
    @requires(*FORM_ROLES)
    def submit(
        _clicks: int | None,
        reapply_clicks: list[int | None],
        confirm_clicks: list[int | None],
        shelter_id: str,
        version: Any,
        seen: Any,
        *rest: Any,
    ) -> tuple[Any, ...]:
        """Validate, send only the changed fields with the seen version, report next to fields.

        ``rest`` is each field's control value (in :data:`FIELDS` order), the correction box
        and the page's query string.
        """
        raw_fields, correction, search = rest[: len(FIELDS)], rest[-2], rest[-1]
        lang = lang_from_search(search)
        keep = (no_update,) * len(FIELDS)
        blank_errors = ("",) * len(FIELDS)

        def answer(
            result: Any, conflict: Any = None, errors: tuple[Any, ...] = blank_errors
        ) -> tuple[Any, ...]:
            return (result, conflict, *(no_update,) * 4, *keep, *errors)

        trigger = ctx.triggered_id
        base = int(version) if isinstance(version, int) and version >= 0 else 0
        confirmed_key = None
        reapplying = False
        if isinstance(trigger, dict):
            reapplying = trigger.get("type") == ids.FORM_REAPPLY
            if not any(reapply_clicks if reapplying else confirm_clicks):
                return (no_update,) * (6 + 2 * len(FIELDS))
            if reapplying:
                base = int(trigger["version"])  # the person saw the newer values
            else:
                confirmed_key = str(trigger.get("key"))
        seen_values = seen if isinstance(seen, dict) else {}
        values = dict(zip(FIELDS, raw_fields, strict=True))
        changes, problems = changes_from_form(values, seen_values, lang)
        if problems:
            return answer(_fail(lang), errors=tuple(problems.get(n, "") for n in FIELDS))
        if not changes:
            return answer(
                html.P(
                    _words(
                        lang,
                        "変更された項目がありません。送信していません。",
                        "Nothing was changed. Nothing was sent.",
                    ),
                    className="dx-error",
                )
            )
        context = current()
        master_capacity = context.store.shelter(shelter_id).capacity
        questions = _questions(changes, seen_values, master_capacity)
        key = _question_key(changes)
        if questions and not reapplying and confirmed_key != key:
            return answer(_ask(questions, key, lang))
        user = signed_in_user()
        assert user is not None  # requires() ran
        incident = current_incident()
        is_correction = isinstance(correction, list) and "correction" in correction
        try:
            event = hq_core.report_status(
                context.store,
                incident.incident_id,
                user,
                shelter_id,
                changes,
                seen_version=base,
                correction=is_correction,
                reason="フォームからの訂正" if is_correction else "",
            )
        except hq_core.NotPermitted:
            abort(403)  # audit-logged by report_status; the page never offers this shelter
        except NotFoundError:
            text = _words(
                lang,
                "この訓練は終了しました。/drill/join で実災害の画面に戻ってください。",
                "This drill has ended. Go to /drill/join to return to the live incident.",
            )
            return answer(html.P(text, className="dx-error"))
        except PayloadError as exc:
            by_field = exc.by_field()
            return answer(_fail(lang), errors=tuple("；".join(by_field.get(n, [])) for n in FIELDS))
        except ConflictError as exc:
            return answer(
                html.P(
                    _words(
                        lang,
                        "他の職員が同じ項目を先に更新しました。送信していません。",
                        "Someone else changed the same items first. Nothing was sent.",
                    ),
                    className="dx-error",
                ),
                conflict_view(
                    exc,
                    names=auth.display_names(context.store),
                    mine=changes,
                    lang=lang,
                    reapply_id={"type": ids.FORM_REAPPLY, "version": exc.actual},
                ),
            )
        # Show the record as it is now (with colleagues' merged fields), as the new "seen".
        status = context.store.state(incident.incident_id).shelter(shelter_id)
        now_seen = form_values(
            status,
            now=context.now(),
            urgent_after=timedelta(hours=context.settings.urgent_need_hours),
        )
        names = auth.display_names(context.store)
        at = to_jst(event.at).strftime("%H:%M")
        done = _words(lang, f"送信しました（{at}）", f"Sent ({at} JST)")
        if event.merged:
            merged = field_names(list(event.merged), lang)
            done += _words(
                lang,
                f"。その間に他の職員が変更した項目（{merged}）はそのまま残し、画面を最新にしました。",
                f". Items colleagues changed meanwhile ({merged}) were kept; the form now shows "
                "the newest record.",
            )
        return (
            html.P(done, className="dx-ok"),
            None,
            status.version,
            now_seen,
            _last_report(status, names, lang),
            [],
            *(now_seen[n] for n in FIELDS),
            *blank_errors,
        )


def register_page() -> None:
    """Register the form with Dash pages (``/hq/shelter/<shelter_id>``)."""
    dash.register_page(
        "hq_shelter",
        path_template="/hq/shelter/<shelter_id>",
        name="避難所の状況報告",
        title="避難所の状況報告",
        layout=layout,
    )
