"""``/hq/shelter/<id>``: one shelter's status form, made for a 360 px phone and tired hands.

The form carries the version the user saw. A write based on an older version is refused by
the store; the page then shows the newer values side by side and offers to apply the user's
entries on top of them (a deliberate second tap, never a silent overwrite).
"""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import Any

import dash
from dash import ALL, Dash, Input, Output, State, ctx, dcc, html, no_update
from flask import abort

from disaster_dx import hq as hq_core
from disaster_dx.auth import Role
from disaster_dx.errors import ConflictError, NotFoundError, PayloadError
from disaster_dx.events import ShelterStatus
from disaster_dx.model import Crowding, Need, OpenState
from disaster_dx.web import ids
from disaster_dx.web.context import current
from disaster_dx.web.drill_pages import current_incident, drill_banner
from disaster_dx.web.i18n import lang_of
from disaster_dx.web.security import requires, signed_in_user
from disaster_dx.web.staff import refusal, staff_header

FORM_ROLES = (Role.HQ, Role.SHELTER_STAFF)
AUTO = "auto"
UNKNOWN = "unknown"

#: Field name in the payload → (Japanese label, English label), in form order.
FIELD_LABELS: dict[str, tuple[str, str]] = {
    "open_state": ("開設状況", "Open state"),
    "evacuees": ("避難者数", "Evacuees"),
    "voluntary_evacuees": ("うち自主避難者数", "of whom voluntary"),
    "households": ("世帯数", "Households"),
    "capacity": ("収容人数", "Capacity"),
    "crowding_override": ("混雑状況（手動）", "Crowding (manual)"),
    "needs": ("必要な物資・支援", "Needs"),
    "urgent_needs": ("緊急の要請", "Urgent needs"),
    "other_needs": ("その他の要望", "Other needs"),
    "pets_accepted": ("ペット同行", "Pets"),
    "barrier_free": ("バリアフリー", "Barrier-free"),
    "public_note": ("お知らせ（市民に公開）", "Public note (shown to citizens)"),
    "internal_note": ("内部メモ（非公開）", "Internal note (staff only)"),
}
_COUNT_FIELDS = (
    (ids.FORM_EVACUEES, "evacuees"),
    (ids.FORM_VOLUNTARY, "voluntary_evacuees"),
    (ids.FORM_HOUSEHOLDS, "households"),
    (ids.FORM_CAPACITY, "capacity"),
)


def _label(field: str, lang: str) -> str:
    ja, en = FIELD_LABELS[field]
    return en if lang == "en" else ja


def _tri(value: bool | None) -> str:
    return UNKNOWN if value is None else ("yes" if value else "no")


def layout(shelter_id: str = "", lang: str | None = None, **_query: Any) -> html.Div:
    """The form, prefilled with the shelter's current status (only for users who may edit it)."""
    lang = lang_of(lang)
    en = lang == "en"
    user = signed_in_user()
    if user is None or not user.has(*FORM_ROLES):
        return refusal(lang=lang, signed_in=user is not None)
    context = current()
    try:
        shelter = context.store.shelter(shelter_id)
    except NotFoundError:
        return html.P("その避難所は見つかりません。" if not en else "No such shelter.")
    if not user.may_update_shelter(shelter_id):
        context.store.audit(user.username, "shelter.form_refused", target=shelter_id)
        return refusal(lang=lang, signed_in=True)
    incident = current_incident()
    status = context.store.state(incident.incident_id).shelter(shelter_id)

    def field(field_name: str, control: Any, hint: str = "") -> html.Div:
        return html.Div(
            [
                html.Label(_label(field_name, lang), htmlFor=_control_id(field_name)),
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
    urgent_hours = context.settings.urgent_need_hours
    return html.Div(
        [
            drill_banner(incident, lang=lang),
            staff_header(user, lang=lang, title_ja="避難所の状況報告", title_en="Shelter report"),
            html.Main(
                [
                    html.H2(shelter.name, id="hq-form-name"),
                    html.P(shelter.address, className="dx-hint"),
                    dcc.Store(id=ids.FORM_SHELTER_ID, data=shelter_id),
                    dcc.Store(id=ids.FORM_VERSION, data=status.version),
                    field(
                        "open_state",
                        dcc.RadioItems(
                            id=ids.FORM_OPEN_STATE,
                            options=[{"label": s.label(lang), "value": s.value} for s in OpenState],
                            value=status.open_state.value,
                            className="dx-choices",
                        ),
                    ),
                    html.Div(
                        [
                            field(name, _count_input(cid, getattr(status, name)))
                            for cid, name in _COUNT_FIELDS
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
                            value=status.crowding_override.value
                            if status.crowding_override
                            else AUTO,
                            className="dx-choices",
                        ),
                    ),
                    field(
                        "needs",
                        dcc.Checklist(
                            id=ids.FORM_NEEDS,
                            options=[{"label": n.label(lang), "value": n.value} for n in Need],
                            value=sorted(n.value for n in status.needs),
                            className="dx-choices",
                        ),
                    ),
                    field(
                        "urgent_needs",
                        dcc.Checklist(
                            id=ids.FORM_URGENT,
                            options=[{"label": n.label(lang), "value": n.value} for n in Need],
                            value=sorted(
                                n.value
                                for n in status.active_urgent_needs(
                                    context.now(), expire_after=timedelta(hours=urgent_hours)
                                )
                            ),
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
                            value=status.other_needs,
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
                                    value=_tri(status.pets_accepted),
                                    className="dx-choices",
                                ),
                            ),
                            field(
                                "barrier_free",
                                dcc.RadioItems(
                                    id=ids.FORM_BARRIER_FREE,
                                    options=yes_no,
                                    value=_tri(status.barrier_free),
                                    className="dx-choices",
                                ),
                            ),
                        ],
                        className="dx-grid2",
                    ),
                    field(
                        "public_note",
                        dcc.Textarea(
                            id=ids.FORM_PUBLIC_NOTE, value=status.public_note, maxLength=500
                        ),
                    ),
                    field(
                        "internal_note",
                        dcc.Textarea(
                            id=ids.FORM_INTERNAL_NOTE, value=status.internal_note, maxLength=2000
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
                    html.P(html.A("← 地図・ボード" if not en else "← Map & board", href="/hq")),
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


def _control_id(field_name: str) -> str:
    return {
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
    }[field_name]


def _count_input(component_id: str, value: int | None) -> dcc.Input:
    return dcc.Input(
        id=component_id,
        type="number",
        min=0,
        step=1,
        value=value,
        inputMode="numeric",
        className="dx-count-input",
    )


def changes_from_form(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Payload fields from the form's raw values, plus problems the browser let through.

    Blank counts are left out (unchanged); text that is not a whole number is an error next to
    its field, so nothing half-typed is written.
    """
    changes: dict[str, Any] = {"open_state": values["open_state"]}
    problems: dict[str, str] = {}
    for _cid, name in _COUNT_FIELDS:
        raw = values.get(name)
        if raw is None or raw == "":
            continue
        if isinstance(raw, float) and raw.is_integer():
            raw = int(raw)
        if isinstance(raw, str):
            try:
                raw = int(raw.strip())
            except ValueError:
                problems[name] = "整数で入力してください / enter a whole number"
                continue
        changes[name] = raw
    override = values.get("crowding_override") or AUTO
    changes["crowding_override"] = None if override == AUTO else override
    changes["needs"] = sorted(values.get("needs") or [])
    changes["urgent_needs"] = sorted(values.get("urgent_needs") or [])
    changes["other_needs"] = (values.get("other_needs") or "").strip()
    for name in ("pets_accepted", "barrier_free"):
        choice = values.get(name) or UNKNOWN
        changes[name] = None if choice == UNKNOWN else choice == "yes"
    changes["public_note"] = (values.get("public_note") or "").strip()
    changes["internal_note"] = (values.get("internal_note") or "").strip()
    return changes, problems


def _status_table(status: dict[str, Any], lang: str) -> html.Table:
    rows = []
    for name in FIELD_LABELS:
        if name not in status:
            continue
        value = status[name]
        if isinstance(value, list):
            value = "、".join(Need(v).label(lang) for v in value) or "—"
        elif name == "open_state" and value:
            value = OpenState(value).label(lang)
        elif name == "crowding_override":
            value = Crowding(value).label(lang) if value else "自動"
        elif value is None or value == "":
            value = "—"
        elif isinstance(value, bool):
            value = "可" if value else "不可"
        rows.append(html.Tr([html.Th(_label(name, lang)), html.Td(str(value))]))
    return html.Table(html.Tbody(rows), className="dx-conflict-table")


def _current_values(status: ShelterStatus) -> dict[str, Any]:
    return {
        "open_state": status.open_state.value,
        "evacuees": status.evacuees,
        "voluntary_evacuees": status.voluntary_evacuees,
        "households": status.households,
        "capacity": status.capacity,
        "crowding_override": status.crowding_override.value if status.crowding_override else None,
        "needs": sorted(n.value for n in status.needs),
        "other_needs": status.other_needs,
        "pets_accepted": status.pets_accepted,
        "barrier_free": status.barrier_free,
        "public_note": status.public_note,
        "internal_note": status.internal_note,
        "reported_by": status.reported_by,
    }


def register(app: Dash) -> None:
    """Attach the form's callbacks to ``app``."""

    @app.callback(
        Output(ids.FORM_CROWDING_COMPUTED, "children"),
        Input(ids.FORM_EVACUEES, "value"),
        Input(ids.FORM_CAPACITY, "value"),
        Input(ids.FORM_CROWDING_OVERRIDE, "value"),
        State(ids.FORM_SHELTER_ID, "data"),
    )
    @requires(*FORM_ROLES)
    def computed_crowding(
        evacuees: int | None, capacity: int | None, override: str | None, shelter_id: str
    ) -> str:
        """Show what the city's thresholds make of the counts, and whether it is overridden."""
        context = current()
        if capacity is None:
            capacity = context.store.shelter(shelter_id).capacity
        level = None
        if isinstance(evacuees, int | float) and evacuees >= 0:
            level = context.settings.crowding.classify(int(evacuees), capacity)
        text = level.ja if level else "不明（収容人数が未入力）"
        if level and capacity:
            text += f"（{100 * int(evacuees or 0) / capacity:.0f}%）"
        if override and override != AUTO:
            text += f" → 手動で「{Crowding(override).ja}」"
        return text

    field_names = list(FIELD_LABELS)

    @app.callback(
        Output(ids.FORM_RESULT, "children"),
        Output(ids.FORM_CONFLICT, "children"),
        Output(ids.FORM_VERSION, "data"),
        [Output(ids.form_error(name), "children") for name in field_names],
        Input(ids.FORM_SUBMIT, "n_clicks"),
        Input({"type": ids.FORM_REAPPLY, "version": ALL}, "n_clicks"),
        State(ids.FORM_SHELTER_ID, "data"),
        State(ids.FORM_VERSION, "data"),
        State(ids.FORM_OPEN_STATE, "value"),
        State(ids.FORM_EVACUEES, "value"),
        State(ids.FORM_VOLUNTARY, "value"),
        State(ids.FORM_HOUSEHOLDS, "value"),
        State(ids.FORM_CAPACITY, "value"),
        State(ids.FORM_CROWDING_OVERRIDE, "value"),
        State(ids.FORM_NEEDS, "value"),
        State(ids.FORM_URGENT, "value"),
        State(ids.FORM_OTHER_NEEDS, "value"),
        State(ids.FORM_PETS, "value"),
        State(ids.FORM_BARRIER_FREE, "value"),
        State(ids.FORM_PUBLIC_NOTE, "value"),
        State(ids.FORM_INTERNAL_NOTE, "value"),
        State(ids.FORM_CORRECTION, "value"),
        State("_pages_location", "search"),
        prevent_initial_call=True,
    )
    @requires(*FORM_ROLES)
    def submit(
        _clicks: int | None,
        reapply_clicks: list[int | None],
        shelter_id: str,
        version: int,
        open_state: str,
        evacuees: Any,
        voluntary: Any,
        households: Any,
        capacity: Any,
        override: str,
        needs: list[str],
        urgent: list[str],
        other_needs: str,
        pets: str,
        barrier_free: str,
        public_note: str,
        internal_note: str,
        correction: list[str],
        search: str | None,
    ) -> tuple[Any, ...]:
        """Validate, write with the seen version, and report back next to each field."""
        lang = "en" if search and "lang=en" in search else "ja"
        blank_errors = [""] * len(field_names)
        if isinstance(ctx.triggered_id, dict):
            if not any(reapply_clicks):
                return (no_update,) * (3 + len(field_names))
            version = int(ctx.triggered_id["version"])  # the user saw the newer values
        changes, problems = changes_from_form(
            {
                "open_state": open_state,
                "evacuees": evacuees,
                "voluntary_evacuees": voluntary,
                "households": households,
                "capacity": capacity,
                "crowding_override": override,
                "needs": needs,
                "urgent_needs": urgent,
                "other_needs": other_needs,
                "pets_accepted": pets,
                "barrier_free": barrier_free,
                "public_note": public_note,
                "internal_note": internal_note,
            }
        )
        if problems:
            errors = [problems.get(name, "") for name in field_names]
            return _fail(lang), None, no_update, *errors
        user = signed_in_user()
        assert user is not None
        context = current()
        incident = current_incident()
        try:
            event = hq_core.report_status(
                context.store,
                incident.incident_id,
                user,
                shelter_id,
                changes,
                seen_version=int(version or 0),
                correction="correction" in (correction or []),
                reason="フォームからの訂正" if correction else "",
            )
        except hq_core.NotPermitted:
            abort(403)  # audit-logged by report_status; the page never offers this shelter
        except NotFoundError:
            text = (
                "この訓練は終了しました。/drill/join で実災害の画面に戻ってください。"
                if lang != "en"
                else "This drill has ended. Go to /drill/join to return to the live incident."
            )
            return html.P(text, className="dx-error"), None, no_update, *blank_errors
        except PayloadError as exc:
            by_field = exc.by_field()
            errors = ["；".join(by_field.get(name, [])) for name in field_names]
            return _fail(lang), None, no_update, *errors
        except ConflictError as exc:
            newer = context.store.state(incident.incident_id).shelter(shelter_id)
            return (
                html.P(
                    "他の職員が先に更新しました。送信していません。"
                    if lang != "en"
                    else "Someone else updated this shelter first. Nothing was sent.",
                    className="dx-error",
                ),
                _conflict_view(_current_values(newer), exc.actual, lang),
                no_update,
                *blank_errors,
            )
        at = event.at.astimezone(_JST).strftime("%H:%M")
        done = f"送信しました（{at}）" if lang != "en" else f"Sent ({at} JST)"
        return html.P(done, className="dx-ok"), None, event.seq, *blank_errors


def _fail(lang: str) -> html.P:
    return html.P(
        "入力に誤りがあります。赤字の項目を直してください。送信していません。"
        if lang != "en"
        else "Some entries need fixing (in red). Nothing was sent.",
        className="dx-error",
    )


def _conflict_view(newer: dict[str, Any], version: int, lang: str) -> html.Div:
    en = lang == "en"
    by = newer.get("reported_by") or "—"
    return html.Div(
        [
            html.H3("いまの登録内容" if not en else "Current values", id="hq-conflict-heading"),
            html.P(f"報告者: {by}" if not en else f"Reported by: {by}"),
            _status_table(newer, lang),
            html.P(
                "内容を確認し、あなたの入力で上書きしてよければ下のボタンを押してください。"
                if not en
                else "Check them. To apply your entries on top, press the button."
            ),
            html.Button(
                "確認したので自分の入力で送信する" if not en else "Apply my entries",
                id={"type": ids.FORM_REAPPLY, "version": version},
                className="dx-submit",
            ),
        ],
        className="dx-conflict",
        role="alert",
    )


_JST = timezone(timedelta(hours=9), "JST")


def register_page() -> None:
    """Register the form with Dash pages (``/hq/shelter/<shelter_id>``)."""
    dash.register_page(
        "hq_shelter",
        path_template="/hq/shelter/<shelter_id>",
        name="避難所の状況報告",
        title="避難所の状況報告",
        layout=layout,
    )
