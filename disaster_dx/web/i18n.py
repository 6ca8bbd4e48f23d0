"""UI wording in Japanese (first) and English. Domain labels come from ``disaster_dx.model``."""

from __future__ import annotations

LANGS = ("ja", "en")

_TEXT: dict[str, tuple[str, str]] = {
    "app_title": ("南国市 避難所マップ", "Nankoku City shelter map"),
    "site_count": ("指定避難所・指定緊急避難場所", "Designated shelters and evacuation sites"),
    "sites": ("か所", "sites"),
    "open_count": ("（開設中 {}）", " (open now: {})"),
    "map_label": ("南国市の避難所の地図", "Map of shelters in Nankoku City"),
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
}


def lang_of(value: object) -> str:
    """A supported language code from a query value; Japanese unless English was asked for."""
    return "en" if str(value or "").lower().startswith("en") else "ja"


def t(key: str, lang: str) -> str:
    """The UI text ``key`` in ``lang``."""
    ja, en = _TEXT[key]
    return en if lang == "en" else ja
