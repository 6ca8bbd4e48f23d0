"""Report fields in words, and the per-field conflict view shared by the staff forms.

A conflict shows only the fields two people changed differently, each as 「あなたの入力 /
他の職員の入力 / 元の値」 with who set the other value and when, so the person can decide
field by field. Everything else they changed was not refused and is sent again as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dash import html

from disaster_dx._time import to_jst
from disaster_dx.errors import ConflictError, FieldConflict
from disaster_dx.model import Crowding, Need, OpenState

#: Payload field → (Japanese label, English label), in form order.
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
    "at_home": ("在宅避難（人）", "At home"),
    "in_car": ("車中泊（人）", "In cars"),
    "note": ("メモ", "Note"),
}


def field_label(name: str, lang: str) -> str:
    """The field's label in ``lang`` (the payload name for a field without one)."""
    ja, en = FIELD_LABELS.get(name, (name, name))
    return en if lang == "en" else ja


def field_names(names: Mapping[str, Any] | list[str], lang: str) -> str:
    """Labels of several fields joined for a sentence (「避難者数、世帯数」)."""
    return ("、" if lang != "en" else ", ").join(field_label(n, lang) for n in names)


def display_value(name: str, value: Any, lang: str) -> str:
    """A payload value in words (codes as labels, yes/no, 「—」 for nothing)."""
    en = lang == "en"
    if name in ("needs", "urgent_needs") and isinstance(value, list | tuple):
        sep = ", " if en else "、"
        return sep.join(Need(v).label(lang) for v in value if v in Need._value2member_map_) or "—"
    if name == "open_state" and value in OpenState._value2member_map_:
        return OpenState(value).label(lang)
    if name == "crowding_override":
        if value in Crowding._value2member_map_:
            return Crowding(value).label(lang)
        return "Automatic" if en else "自動（計算どおり）"
    if isinstance(value, bool):
        return ("Yes" if value else "No") if en else ("可" if value else "不可")
    if value is None or value == "":
        return "—"
    return str(value)


def _one(conflict: FieldConflict, names: Mapping[str, str], lang: str) -> html.Div:
    en = lang == "en"
    who = names.get(conflict.by, conflict.by)
    when = to_jst(conflict.at).strftime("%H:%M")
    rows = (
        ("mine", "あなたの入力", "Your entry", display_value(conflict.field, conflict.mine, lang)),
        (
            "theirs",
            "他の職員の入力",
            "Entered by a colleague",
            f"{display_value(conflict.field, conflict.theirs, lang)}"
            + (f" ({who}, {when} JST)" if en else f"（{who}・{when}）"),
        ),
        (
            "original",
            "元の値",
            "Before either change",
            display_value(conflict.field, conflict.original, lang),
        ),
    )
    return html.Div(
        [
            html.H4(field_label(conflict.field, lang)),
            html.Dl(
                [
                    part
                    for key, ja, en_, text in rows
                    for part in (
                        html.Dt(en_ if en else ja),
                        html.Dd(text, className=f"dx-conflict-{key}"),
                    )
                ]
            ),
        ],
        className="dx-conflict-field",
        **{"data-field": conflict.field},
    )


def conflict_view(
    exc: ConflictError,
    *,
    names: Mapping[str, str],
    mine: Mapping[str, Any],
    lang: str,
    reapply_id: dict[str, Any] | str,
) -> html.Div:
    """The conflicting fields side by side, and a button to send the person's own fields again.

    ``mine`` is everything the person changed: the fields that did not conflict are named too,
    because the re-apply sends them again (on the newest version, nothing else).
    """
    en = lang == "en"
    others = [n for n in mine if n not in exc.fields]
    if exc.fields:
        intro = (
            "Someone else changed the same items after you opened this page. Compare them:"
            if en
            else "あなたが画面を開いた後に、他の職員が同じ項目を変更しました。見比べてください。"
        )
    else:
        intro = (
            "This record changed in a way that cannot be compared item by item. "
            "Reload the page to see the newest values."
            if en
            else "記録が項目ごとに比べられない形で変わりました。画面を開き直して最新の内容を"
            "確認してください。"
        )
    explain = (
        "Sending again writes only what you changed ("
        + field_names(list(mine), lang)
        + ") on top of the newest record; every other item stays as your colleagues left it."
        if en
        else "もう一度送信すると、あなたが変更した項目（"
        + field_names(list(mine), lang)
        + "）だけを最新の記録に書き込みます。ほかの項目は他の職員の入力のまま残ります。"
    )
    children: list[Any] = [
        html.H3(
            "入力が重なった項目" if not en else "Items changed by both", id="hq-conflict-heading"
        ),
        html.P(intro),
        *[_one(exc.fields[n], names, lang) for n in exc.fields],
    ]
    if others:
        children.append(
            html.P(
                ("Your other changes did not clash: " if en else "重ならなかったあなたの変更：")
                + field_names(others, lang),
                className="dx-hint",
            )
        )
    if exc.fields:
        children += [
            html.P(explain),
            html.Button(
                "確認したので自分の入力で送信する" if not en else "Send my entries anyway",
                id=reapply_id,
                className="dx-submit",
            ),
        ]
    return html.Div(children, className="dx-conflict", role="alert")
