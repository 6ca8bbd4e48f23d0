"""UI wording in Japanese (first) and English. Domain labels come from ``disaster_dx.model``."""

from __future__ import annotations

from urllib.parse import parse_qs

LANGS = ("ja", "en")

_TEXT: dict[str, tuple[str, str]] = {
    "app_title": ("{city} 避難所マップ", "{city} shelter map"),
    "site_count": ("指定避難所・指定緊急避難場所", "Designated shelters and evacuation sites"),
    "sites": ("か所", "sites"),
    "open_count": ("（開設中 {}）", " (open now: {})"),
    "map_label": ("{city}の避難所の地図", "Map of shelters in {city}"),
    "switch_lang": ("English", "日本語"),
    "data_credit": (
        "出典：国土地理院 指定緊急避難場所データ・指定避難所データ、"
        "国土交通省 国土数値情報（行政区域データ）",
        "Sources: GSI designated emergency evacuation site and shelter data; "
        "MLIT National Land Numerical Information (administrative boundaries)",
    ),
    "hover_hint": (
        "記号にマウスを重ねるかタップすると、名称と状況が表示されます。",
        "Hover over or tap a symbol to see its name and status.",
    ),
    **{
        f"sit_{k}": v
        for k, v in {
            # /hq: the 避難情報 panel (disaster_dx/web/hq_alerts.py)
            "region": ("避難情報・警報等", "Evacuation information and warnings"),
            "alerts": ("発令中の避難情報", "Evacuation information in force"),
            "no_alerts": ("発令中の避難情報はありません", "None in force"),
            "warnings": ("発表中の警報等", "Warnings in force"),
            "no_warnings": ("発表中の警報等はありません", "No warnings in force"),
            "messages": ("状況付与・本部連絡", "Messages to HQ"),
            "no_messages": ("連絡はありません", "No messages"),
            "needed": ("開設が必要", "Needs opening"),
            "needed_count": ("{count}か所", "{count} sites"),
            "needed_map": ("地図の", "on the map:"),
            "needed_none": ("開設が必要な避難所はありません", "No shelter needs opening"),
            "needed_more": ("ほか{count}か所", "and {count} more"),
            "open_needed": ("これらを開設する", "Open these"),
            "drill_time": ("時刻は訓練の想定時刻", "Times are drill times"),
            "issued": ("{time} 発令・{who}", "issued {time} by {who}"),
            "announced": ("{time} 発表", "announced {time}"),
            "arrival": (
                "津波到達予想時刻 {time}（到達まで あと{minutes}分）",
                "Expected tsunami arrival {time} ({minutes} min from now)",
            ),
            "arrival_passed": (
                "津波到達予想時刻 {time}（予想時刻を過ぎました）",
                "Expected tsunami arrival {time} (that time has passed)",
            ),
            "to": ("{to}へ：", "To {to}: "),
            "actions": (
                "避難情報の発令・解除／警報等の記録",
                "Issue or lift evacuation information; record warnings",
            ),
            "issue_title": ("避難情報を発令する", "Issue evacuation information"),
            "level": ("警戒レベル", "Alert level"),
            "hazard": ("災害の種類", "Hazard"),
            "areas": ("対象地区", "Areas"),
            "reason": ("理由（記録に残ります）", "Reason (kept in the log)"),
            "issue_button": ("発令内容を確認…", "Review and issue…"),
            "lift_title": ("避難情報を解除する", "Lift evacuation information"),
            "lift_which": ("解除する避難情報", "Evacuation information to lift"),
            "lift_button": ("解除内容を確認…", "Review and lift…"),
            "warn_title": ("警報等を記録する", "Record a warning"),
            "warning": ("警報等の種類", "Warning"),
            "warning_hazard": ("災害の種類（空欄: 警報から）", "Hazard (blank: from the warning)"),
            "arrival_minutes": ("津波到達までの時間（分）", "Minutes until tsunami arrival"),
            "source": ("発表元", "Issued by"),
            "warn_button": ("記録内容を確認…", "Review and record…"),
            "clear_which": ("終わった警報等", "Warning no longer in force"),
            "clear_button": ("終了を確認…", "Review and clear…"),
            "confirm": ("確定する", "Confirm"),
            "cancel": ("取り消す", "Cancel"),
            "confirm_issue": (
                "{level}（{hazard}）を「{areas}」に発令します。",
                "Issue {level} ({hazard}) for {areas}.",
            ),
            "confirm_lift": (
                "{level}（{hazard}・{areas}）を解除します。",
                "Lift {level} ({hazard}, {areas}).",
            ),
            "confirm_warn": (
                "「{warning}」（{hazard}）を発表中として記録します。",
                "Record {warning} ({hazard}) as in force.",
            ),
            "confirm_clear": (
                "「{title}」が終わったことを記録します。",
                "Record that {title} ended.",
            ),
            "confirm_reason": ("理由：{reason}", "Reason: {reason}"),
            "confirm_question": (
                "よろしければ「確定する」を押してください。",
                "Press Confirm to go ahead.",
            ),
            "done": ("記録しました：{text}", "Done: {text}"),
            "cancelled": (
                "取り消しました（何も記録していません）。",
                "Cancelled; nothing was recorded.",
            ),
            "stale_screen": (
                "表示している災害・訓練が切り替わりました。画面を読み込み直してください。",
                "The incident shown has changed; reload the page.",
            ),
            "need_areas": ("対象地区を選んでください。", "Choose at least one area."),
            "need_level": (
                "警戒レベルと災害の種類を選んでください。",
                "Choose a level and a hazard.",
            ),
            "need_alert": ("解除する避難情報を選んでください。", "Choose what to lift."),
            "need_warning": ("警報等の種類を選んでください。", "Choose a warning."),
            "need_clear": ("終わった警報等を選んでください。", "Choose the warning that ended."),
            "bad_minutes": (
                "津波到達までの時間は0以上の整数（分）で入力してください。",
                "Minutes until arrival must be a whole number, 0 or more.",
            ),
            "failed": ("記録できませんでした：{error}", "Not recorded: {error}"),
            "needed_done": ("{count}か所を「開設」にしました。", "{count} sites set to Open."),
            "needed_conflict": (
                "他の職員が同時に更新したため、実行しませんでした。表示を確かめてもう一度どうぞ。",
                "Someone changed a shelter meanwhile; nothing was done. Check and try again.",
            ),
            "needed_skipped": (
                "次の避難所は、この画面の表示後に他の職員が開設状況を変えたため、そのままにしました：{names}",
                "Left as they are (someone changed their open state after this screen): {names}",
            ),
            "needed_confirm": (
                "「開設が必要」の{count}か所をすべて「開設」にします。よろしいですか？",
                "Set all {count} sites that need opening to Open?",
            ),
            # the staffed choice under the shelter details
            "staffed_title": ("報告の要否（職員の常駐）", "Reports expected (staff on site)"),
            "staffed_default": ("種別による既定：{default}", "Default by kind: {default}"),
            "staffed_yes": ("常駐：報告を求める（報告遅れの対象）", "Staffed: reports expected"),
            "staffed_no": ("無人：報告を求めない", "Unstaffed: no reports expected"),
            "staffed_save": ("保存", "Save"),
            "staffed_done": ("保存しました：{label}", "Saved: {label}"),
            "staffed_conflict": (
                "他の職員が先にこの避難所を更新しました。もう一度選んでください。",
                "Someone updated this shelter first; choose again.",
            ),
            "staffed_pick": (
                "避難所を選ぶと、報告を求めるかどうか（報告遅れの対象）を変えられます。",
                "Select a shelter to change whether reports are expected from it.",
            ),
        }.items()
    },
}


def lang_of(value: object) -> str:
    """A supported language code from a query value; Japanese unless English was asked for."""
    return "en" if str(value or "").lower().startswith("en") else "ja"


def lang_from_search(search: str | None) -> str:
    """The language a page's URL asks for (Dash's ``search``, ``?lang=en``); Japanese otherwise."""
    asked = parse_qs((search or "").lstrip("?")).get("lang", [])
    return lang_of(asked[0] if asked else "ja")


def t(key: str, lang: str, **values: object) -> str:
    """The UI text ``key`` in ``lang``, with ``{placeholders}`` filled from ``values``."""
    ja, en = _TEXT[key]
    text = en if lang == "en" else ja
    return text.format(**values) if values else text
