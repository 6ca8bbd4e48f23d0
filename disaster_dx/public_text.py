"""Every word of the public shelter page, in 日本語, English and やさしい日本語, in one table.

The public page is static (written by :mod:`disaster_dx.publish`), so the browser switches
language from this table, which is embedded in the page. Keeping it in one Python table lets a
test fail when a key is missing in any language or a placeholder (``{n}``) differs between
languages, and lets a city employee review all three versions side by side.

やさしい日本語 (easy Japanese) follows the usual guidance for disaster information: short
sentences, words split by spaces, hiragana instead of difficult kanji, and one idea per sentence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from disaster_dx.city import City
from disaster_dx.model import AlertLevel, Crowding, Hazard, OpenState, ShelterKind

#: UI languages: code → value of the page's ``lang`` attribute.
LANGS: dict[str, str] = {"ja": "ja", "en": "en", "easy-ja": "ja"}
DEFAULT_LANG = "ja"

#: Symbol per open state, the same as on the staff maps (``layers/shelters.py``); the word is
#: always shown beside it, so nobody has to tell colours apart.
OPEN_STATE_SYMBOL: dict[OpenState, str] = {
    OpenState.OPEN: "●",
    OpenState.PERMANENT: "◆",
    OpenState.PREPARING: "◐",
    OpenState.NOT_OPEN: "○",
    OpenState.CLOSED: "×",
}
CROWDING_SYMBOL: dict[Crowding, str] = {
    Crowding.AVAILABLE: "▢",
    Crowding.SOMEWHAT_CROWDED: "▤",
    Crowding.CROWDED: "▦",
    Crowding.FULL: "■",
}

# One row per key: (日本語, English, やさしい日本語).
_ROWS: dict[str, tuple[str, str, str]] = {
    # -- page ---------------------------------------------------------------------------------
    # {city} is the city's name in each language (``city_texts``), never a constant.
    "page_title": (
        "{city} 避難所の開設状況",
        "{city}: shelter status",
        "{city} ひなんじょ の じょうほう",
    ),
    "page_description": (
        "{city}の避難所・避難場所の開設状況と混雑状況です。",
        "Which shelters in {city} are open, and how crowded they are.",
        "{city} の ひなんじょ が あいているか、こんでいるか が わかります。",
    ),
    "skip_to_list": ("避難所の一覧へ移動", "Skip to the shelter list", "ひなんじょ の リスト へ"),
    "lang_switch": ("表示する言語", "Language", "ことば"),
    "large_text": ("文字を大きく", "Larger text", "もじ を おおきく"),
    "emergency_call": (
        "命の危険を感じたら、すぐに安全な場所へ避難してください。救急・火事は119番、事件は110番。",
        "If your life is in danger, move to a safe place now. "
        "Ambulance or fire: call 119. Police: call 110.",
        "あぶない と おもったら、すぐ に あんぜん な ところ へ にげて ください。"
        "きゅうきゅうしゃ・かじ は 119、けいさつ は 110 に でんわ して ください。",
    ),
    "updated_at": ("{time} 時点の情報", "Information as of {time}", "{time} の じょうほう"),
    "open_count": (
        "いま開設している避難所：{n}か所",
        "Open now: {n} sites",
        "いま あいている ひなんじょ：{n}か しょ",
    ),
    "minutes_ago": ("{n}分前", "{n} min ago", "{n}ぷん まえ"),
    "hours_ago": ("{n}時間前", "{n} h ago", "{n}じかん まえ"),
    "just_now": ("たった今", "just now", "いま"),
    "drill_notice": (
        "ただいま防災訓練を実施中です。このページには訓練の情報ではなく、実際の避難所の開設状況を"
        "表示しています。",
        "A disaster drill is under way. This page shows the real status of the shelters, "
        "not the drill.",
        "いま、ぼうさい の くんれん を して います。この ページ は くんれん では なく、"
        "ほんとう の ひなんじょ の ようす です。",
    ),
    "update_failed": (
        "最新の情報を読み込めませんでした。表示しているのは上の時点の情報です。",
        "Could not load newer information. The page shows the information of the time above.",
        "あたらしい じょうほう を よめません でした。うえ の じかん の じょうほう です。",
    ),
    "no_script": (
        "このページは JavaScript を使います。使えないときは、"
        "下の CSV ファイルで避難所の状況を確認できます。",
        "This page needs JavaScript. Without it, you can read the shelter status "
        "in the CSV file below.",
        "この ページ は JavaScript を つかいます。"
        "つかえない とき は、した の CSV ファイル を みて ください。",
    ),
    # -- 避難情報 (the banner at the top) --------------------------------------------------------
    "alerts_title": (
        "発令中の避難情報",
        "Evacuation information in effect",
        "いま でている ひなん の じょうほう",
    ),
    "alert_level": ("警戒レベル{n}", "Alert level {n}", "けいかいレベル{n}"),
    "alert_meta": (
        "{hazard}／対象地区：{areas}／{time} 発令",
        "{hazard} · Areas: {areas} · Issued {time}",
        "{hazard}／ばしょ：{areas}／{time} に でました",
    ),
    "alert_lifted": (
        "{time} 解除：警戒レベル{n} {name}（{hazard}・{areas}）",
        "Lifted {time}: alert level {n}, {name} ({hazard}; {areas})",
        "{time} に かいじょ（おわり）：けいかいレベル{n} {name}（{hazard}・{areas}）",
    ),
    # What to do, in the words of 内閣府「避難情報に関するガイドライン」 (令和3年).
    "alert_action.elderly_evacuate": (
        "危険な場所から高齢者等は避難してください。ほかの人も避難の準備をしてください。",
        "Older people and others who need time to evacuate: leave dangerous places now. "
        "Everyone else: get ready to evacuate.",
        "おとしより や、にげる のに じかん が かかる ひと は、あぶない ところ から "
        "にげて ください。ほか の ひと も、にげる じゅんび を して ください。",
    ),
    "alert_action.evacuate": (
        "危険な場所から全員避難してください。",
        "Everyone in a dangerous place: evacuate now.",
        "あぶない ところ に いる ひと は、みんな すぐ に にげて ください。",
    ),
    "alert_action.emergency_safety": (
        "命の危険があります。直ちに身の安全を確保してください。外に出るのが危険なときは、"
        "建物の上の階など少しでも安全な場所へ移ってください（屋内安全確保）。",
        "Your life is in danger. Secure your safety at once. If going outside is dangerous, "
        "move to the upper floors of a building or the safest place you can reach.",
        "いのち が あぶない です。すぐ に いのち を まもって ください。そと に でる のが "
        "あぶない とき は、たてもの の うえ の かい など へ いって ください。",
    ),
    # -- search -------------------------------------------------------------------------------
    "search_title": ("避難所を探す", "Find a shelter", "ひなんじょ を さがす"),
    "hazard_label": (
        "どの災害から避難しますか",
        "Which hazard are you escaping from?",
        "どの さいがい から にげますか",
    ),
    "hazard_any": (
        "選ばない（すべての避難所）",
        "Not chosen (all shelters)",
        "えらばない（ぜんぶ の ひなんじょ）",
    ),
    "hazard_in_force": (
        "{hazard}の情報が出ています。{hazard}のときに使える避難所を表示しています。",
        "{hazard}: a warning or evacuation information is in effect. "
        "Shelters designated for it are shown.",
        "{hazard} の じょうほう が でて います。"
        "その とき に つかえる ひなんじょ を だして います。",
    ),
    "hazard_hint": (
        "災害を選ぶと、その災害のときに使える避難所だけを表示します。",
        "When you choose a hazard, only shelters designated for it are shown.",
        "さいがい を えらぶ と、その とき に つかえる ひなんじょ だけ を だします。",
    ),
    "open_only": (
        "開設中の避難所だけを表示",
        "Show only open shelters",
        "あいている ひなんじょ だけ を みる",
    ),
    "locate": (
        "現在地から近い避難所を探す",
        "Find shelters near me",
        "いま いる ところ から ちかい ひなんじょ を さがす",
    ),
    "pick_on_map": ("地図で場所を選ぶ", "Pick a place on the map", "ちず で ばしょ を えらぶ"),
    "pick_hint": (
        "地図の上で、探したい場所をタップ（クリック）してください。",
        "Tap (or click) the place on the map.",
        "ちず の うえ で、ばしょ を タップ して ください。",
    ),
    "landmark_label": (
        "近くの施設から探す（地図を使わない方法）",
        "Or choose a facility near you (without the map)",
        "ちかく の たてもの から さがす（ちず を つかわない）",
    ),
    "landmark_none": ("施設を選んでください", "Choose a facility", "たてもの を えらんで ください"),
    "locating": (
        "現在地を確認しています…",
        "Finding your location…",
        "いま いる ところ を しらべて います…",
    ),
    "geo_failed": (
        "現在地がわかりませんでした。「地図で場所を選ぶ」か、近くの施設を選んでください。",
        "Your location could not be found. Pick a place on the map or choose a facility near you.",
        "いま いる ところ が わかりません でした。"
        "ちず で えらぶ か、ちかく の たてもの を えらんで ください。",
    ),
    "geo_unsupported": (
        "この端末では現在地を使えません。「地図で場所を選ぶ」か、近くの施設を選んでください。",
        "This device cannot share its location. Pick a place on the map or choose a facility.",
        "この でんわ では いま いる ところ が つかえません。"
        "ちず か たてもの で えらんで ください。",
    ),
    "origin_here": (
        "現在地からの距離で並べています。",
        "Sorted by distance from your location.",
        "いま いる ところ から ちかい じゅん です。",
    ),
    "origin_picked": (
        "地図で選んだ場所からの距離で並べています。",
        "Sorted by distance from the place you picked.",
        "ちず で えらんだ ところ から ちかい じゅん です。",
    ),
    "origin_landmark": (
        "「{name}」からの距離で並べています。",
        "Sorted by distance from {name}.",
        "「{name}」から ちかい じゅん です。",
    ),
    "origin_marker": ("選んだ場所", "Chosen place", "えらんだ ところ"),
    "origin_here_marker": ("現在地", "You are here", "いま いる ところ"),
    "clear_origin": ("場所の選択をやめる", "Clear the chosen place", "ばしょ を けす"),
    # -- nearest ------------------------------------------------------------------------------
    "nearest_title": (
        "近くの開設中の避難所",
        "Nearest open shelters",
        "ちかくて あいている ひなんじょ",
    ),
    "nearest_need_origin": (
        "現在地か場所を選ぶと、近くの開設中の避難所を表示します。",
        "Share your location or pick a place to see the nearest open shelters.",
        "いま いる ところ か ばしょ を えらぶ と、ちかい ひなんじょ が でます。",
    ),
    "nearest_none": (
        "条件に合う開設中の避難所は、いまはありません。市の防災行政無線や防災メールの情報にも注意してください。",
        "No open shelter matches right now. Please also follow the city's announcements.",
        "いま あいている ひなんじょ は ありません。"
        "しやくしょ の ほうそう や メール を きいて ください。",
    ),
    "distance_m": ("約{n}m", "about {n} m", "やく {n}メートル"),
    "distance_km": ("約{n}km", "about {n} km", "やく {n}キロメートル"),
    "directions": ("道順", "Directions", "いきかた"),
    "directions_app": ("地図アプリ", "Map app", "ちず の アプリ"),
    "directions_google": ("Google", "Google", "グーグル"),
    "directions_apple": ("Apple", "Apple", "アップル"),
    "directions_to": (
        "{name}への道順（{app}）",
        "Directions to {name} ({app})",
        "{name} への いきかた（{app}）",
    ),
    "straight_line": (
        "距離は直線距離です。実際の道のりはもっと長くなります。",
        "Distances are in a straight line; the way there is longer.",
        "きょり は まっすぐ はかった ながさ です。みち は もっと ながい です。",
    ),
    "walk_distance": (
        "距離は道路に沿った道のりです（市の道路データから計算。通れない道があるかもしれません）。",
        "Distances are along the roads (from the city's road data; some roads may be blocked).",
        "きょり は みち を あるく ながさ です。とおれない みち が あるかも しれません。",
    ),
    "walk_loading": (
        "道のりを計算しています。いまは直線距離で表示しています。",
        "Working out the distance along the roads; straight-line distances for now.",
        "みち の ながさ を けいさん して います。いま は まっすぐ の ながさ です。",
    ),
    "walk_far": (
        "近くに道路のデータがないため、距離は直線距離です。実際の道のりはもっと長くなります。",
        "No road data near you, so distances are in a straight line; the way there is longer.",
        "ちかく に みち の データ が ない ので、まっすぐ の ながさ です。"
        "みち は もっと ながい です。",
    ),
    "straight_tag": ("{d}（直線）", "{d} (straight line)", "{d}（まっすぐ）"),
    # -- map and list -------------------------------------------------------------------------
    "list_only": (
        "一覧だけを表示（地図を使わない）",
        "List only (no map)",
        "リスト だけ みる（ちず を つかわない）",
    ),
    "map_label": ("避難所の地図", "Map of shelters", "ひなんじょ の ちず"),
    "map_note": (
        "地図と同じ内容は、下の一覧にもあります。",
        "Everything on the map is also in the list below.",
        "ちず と おなじ こと が、した の リスト にも あります。",
    ),
    "map_loading": ("地図を読み込んでいます…", "Loading the map…", "ちず を よんで います…"),
    "map_failed": (
        "地図を表示できませんでした。下の一覧をご覧ください。",
        "The map could not be shown. Please use the list below.",
        "ちず が でません。した の リスト を みて ください。",
    ),
    "cluster_title": ("{n}か所：{parts}", "{n} sites: {parts}", "{n}か しょ：{parts}"),
    "legend_cluster": (
        "数字は、近くにある避難所の数です（記号ごとの数も表示）。拡大すると分かれます。",
        "A number is how many sites are close together there, with a count per symbol. "
        "Zoom in to see each.",
        "すうじ は ちかく に ある ひなんじょ の かず です。おおきく すると わかれます。",
    ),
    "legend_title": ("記号の見方", "What the symbols mean", "きごう の いみ"),
    "list_title": ("避難所の一覧", "List of shelters", "ひなんじょ の リスト"),
    "list_count": (
        "{shown}か所を表示しています（全{total}か所）。",
        "Showing {shown} of {total} sites.",
        "{total}か しょ の うち {shown}か しょ を だして います。",
    ),
    "filtered_by": (
        "「{hazard}」のときに使える避難所だけを表示しています。",
        "Only shelters designated for “{hazard}” are shown.",
        "「{hazard}」の とき に つかえる ひなんじょ だけ です。",
    ),
    "details": ("詳しく見る", "Details", "くわしく みる"),
    "show_on_map": ("地図で見る", "Show on the map", "ちず で みる"),
    "show_in_list": ("一覧で詳しく見る", "See details in the list", "リスト で くわしく みる"),
    "address": ("住所", "Address", "じゅうしょ"),
    "kinds": ("種別", "Type", "しゅるい"),
    "hazards": ("使える災害", "Designated for", "つかえる さいがい"),
    # A 指定避難所 (a place to stay) has no hazard flags in GSI's list: say so, not 「なし」,
    # which reads as "usable for nothing".
    "hazards_none": (
        "災害の種類の指定はありません（指定避難所）",
        "Not designated for a particular type of disaster (designated shelter)",
        "さいがい の しゅるい の してい は ありません（ひなんじょ）",
    ),
    "open_state": ("開設状況", "Status", "あいているか"),
    "crowding": ("混雑状況", "Crowding", "こみぐあい"),
    "crowding_unknown": ("混雑状況不明", "Crowding unknown", "こみぐあい は わかりません"),
    "crowding_by_staff": ("（職員の判断）", "(set by staff)", "（しょくいん が きめました）"),
    "evacuees": ("避難している人", "People sheltering", "ひなん している ひと"),
    "capacity": ("収容できる人数", "Capacity", "はいれる ひと の かず"),
    "people": ("{n}人", "{n} people", "{n}にん"),
    "pets": ("ペットとの避難", "Pets", "ペット"),
    "barrier_free": ("バリアフリー", "Barrier-free", "くるまいす でも はいれる"),
    "yes_pets": ("できます", "Allowed", "いっしょ に いけます"),
    "no_pets": ("できません", "Not allowed", "いっしょ に いけません"),
    "yes": ("あり", "Yes", "はい"),
    "no": ("なし", "No", "いいえ"),
    "unknown": ("不明", "Unknown", "わかりません"),
    "not_reported": ("まだ報告がありません", "Not reported yet", "まだ ほうこく が ありません"),
    "public_note": ("お知らせ", "Notice", "おしらせ"),
    "reported_at": ("最終報告", "Last report", "さいご の ほうこく"),
    # -- footer -------------------------------------------------------------------------------
    "downloads": ("データのダウンロード", "Download the data", "データ"),
    "download_csv": (
        "一覧（CSV・Excelで開けます）",
        "List (CSV, opens in Excel)",
        "リスト（CSV）",
    ),
    "download_geojson": (
        "地図データ（GeoJSON）",
        "Map data (GeoJSON)",
        "ちず の データ（GeoJSON）",
    ),
    "download_map": ("共有用の地図ページ", "Shareable map page", "みんな に おくれる ちず"),
    # {sources}: the sources of the shelter master actually published (``city_texts``).
    "credit": (
        "出典：{sources}。地図：地理院タイル。",
        "Sources: {sources}. Map: GSI tiles.",
        "しりょう：{sources}。ちず：ちりいん タイル。",
    ),
    "source.gsi": (
        "国土地理院 指定緊急避難場所データ・指定避難所データ",
        "GSI designated evacuation site and shelter data",
        "こくどちりいん の ひなんじょ の データ",
    ),
    "source.city": (
        "{city}のオープンデータ（指定緊急避難場所一覧）",
        "{city} open data (designated emergency evacuation sites)",
        "{city} の オープンデータ",
    ),
}

# Vocabulary of the model, per language. Japanese and English come from the model's labels,
# with words citizens use (土砂災害, 大規模火災) where the GSI column names are technical.
Term = OpenState | Crowding | Hazard | ShelterKind | AlertLevel
_VOCAB_EASY: dict[Term, tuple[str, str, str]] = {
    OpenState.OPEN: ("開設", "Open", "あいています"),
    OpenState.PERMANENT: ("常設（いつでも避難できます）", "Always open", "いつも あいています"),
    OpenState.PREPARING: ("開設準備中", "Preparing to open", "あける じゅんび を しています"),
    OpenState.NOT_OPEN: ("未開設", "Not open", "まだ あいていません"),
    OpenState.CLOSED: ("閉鎖", "Closed", "しまりました"),
    Crowding.AVAILABLE: ("空き", "Available", "すいています"),
    Crowding.SOMEWHAT_CROWDED: ("やや混雑", "Somewhat crowded", "すこし こんでいます"),
    Crowding.CROWDED: ("混雑", "Crowded", "こんでいます"),
    Crowding.FULL: ("満員", "Full", "いっぱい です。はいれません"),
    Hazard.TSUNAMI: ("津波", "Tsunami", "つなみ"),
    Hazard.FLOOD: ("洪水", "River flood", "こうずい（かわ の みず が あふれる）"),
    Hazard.LANDSLIDE: (
        "土砂災害（崖崩れ・土石流・地滑り）",
        "Landslide / debris flow",
        "どしゃさいがい（がけ が くずれる など）",
    ),
    Hazard.EARTHQUAKE: ("地震", "Earthquake", "じしん"),
    Hazard.FIRE: ("大規模火災", "Large fire", "おおきな かじ"),
    Hazard.STORM_SURGE: ("高潮", "Storm surge", "たかしお（うみ の みず が たかく なる）"),
    Hazard.INLAND_FLOOD: (
        "内水氾濫（大雨で街があふれる）",
        "Inland flooding (heavy rain)",
        "おおあめ で まち に みず が あふれる",
    ),
    Hazard.VOLCANO: ("火山現象", "Volcanic activity", "かざん"),
    AlertLevel.ELDERLY_EVACUATE: (
        "高齢者等避難",
        "Evacuation of older people, etc.",
        "こうれいしゃとう ひなん",
    ),
    AlertLevel.EVACUATE: ("避難指示", "Evacuation instruction", "ひなんしじ"),
    AlertLevel.EMERGENCY_SAFETY: (
        "緊急安全確保",
        "Emergency safety measures",
        "きんきゅう あんぜん かくほ",
    ),
    ShelterKind.DESIGNATED: (
        "指定避難所",
        "Designated shelter (stay)",
        "ひなんじょ（とまれる ところ）",
    ),
    ShelterKind.EMERGENCY: (
        "指定緊急避難場所",
        "Emergency evacuation site (immediate safety)",
        "きんきゅう ひなん ばしょ（すぐ に にげる ところ）",
    ),
    ShelterKind.WELFARE: (
        "福祉避難所",
        "Welfare shelter",
        "ふくし ひなんじょ（たすけ が いる ひと の ため）",
    ),
}

#: The order hazards are offered in the filter: the city's main risks first.
HAZARD_ORDER: tuple[Hazard, ...] = (
    Hazard.TSUNAMI,
    Hazard.EARTHQUAKE,
    Hazard.FLOOD,
    Hazard.LANDSLIDE,
    Hazard.STORM_SURGE,
    Hazard.INLAND_FLOOD,
    Hazard.FIRE,
    Hazard.VOLCANO,
)

_PREFIX: dict[type[Term], str] = {
    OpenState: "open_state",
    Crowding: "crowding",
    Hazard: "hazard",
    ShelterKind: "kind",
    AlertLevel: "alert",
}


def vocab_key(term: Term) -> str:
    """The table key of a vocabulary term, e.g. ``open_state.open`` or ``hazard.tsunami``."""
    return f"{_PREFIX[type(term)]}.{term.value}"


def _table() -> dict[str, dict[str, str]]:
    table: dict[str, dict[str, str]] = {}
    for key, row in _ROWS.items():
        table[key] = dict(zip(LANGS, row, strict=True))
    for term, row in _VOCAB_EASY.items():
        table[vocab_key(term)] = dict(zip(LANGS, row, strict=True))
    return table


#: key → {language → text}; the one translation table of the public page.
PUBLIC_TEXT: dict[str, dict[str, str]] = _table()


#: Where the published shelter data came from: ``gsi`` (国土地理院), ``city`` (its own file).
DATA_SOURCES = ("gsi", "city")


def city_texts(city: City, sources: Sequence[str] = ("gsi",)) -> dict[str, dict[str, str]]:
    """The table with ``{city}`` and ``{sources}`` filled in each language.

    やさしい日本語 names the city by its reading; ``sources`` (:data:`DATA_SOURCES`) are the
    origins of the published shelters, so the credit never names a source the data lacks.
    """
    names = {lang: city.label("easy" if lang == "easy-ja" else lang) for lang in LANGS}
    joiner = {"ja": "、", "en": "; ", "easy-ja": "、"}
    table = {
        key: {lang: value.replace("{city}", names[lang]) for lang, value in row.items()}
        for key, row in PUBLIC_TEXT.items()
    }
    chosen = [s for s in DATA_SOURCES if s in sources] or ["gsi"]
    credit = {lang: joiner[lang].join(table[f"source.{s}"][lang] for s in chosen) for lang in LANGS}
    table["credit"] = {
        lang: value.replace("{sources}", credit[lang]) for lang, value in table["credit"].items()
    }
    return table


def texts_for(
    lang: str, city: City | None = None, sources: Sequence[str] = ("gsi",)
) -> dict[str, str]:
    """Every text in ``lang`` (unknown languages get Japanese), for ``city`` where given."""
    code = lang if lang in LANGS else DEFAULT_LANG
    table = PUBLIC_TEXT if city is None else city_texts(city, sources)
    return {key: row[code] for key, row in table.items()}


def text(key: str, lang: str = DEFAULT_LANG, **values: object) -> str:
    """One text with its ``{placeholders}`` filled."""
    template = PUBLIC_TEXT[key][lang if lang in LANGS else DEFAULT_LANG]
    return template.format(**values) if values else template


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def table_problems(table: Mapping[str, Mapping[str, str]] | None = None) -> list[str]:
    """Every missing, empty or inconsistent entry of the table (an empty list when complete).

    A key must have non-empty text in every language, and the same placeholders in each
    (a missing ``{n}`` in one language would show a sentence without its number).
    """
    table = PUBLIC_TEXT if table is None else table
    problems: list[str] = []
    for key, row in table.items():
        for lang in LANGS:
            if not str(row.get(lang, "")).strip():
                problems.append(f"{key}: no {lang} text")
        names = {lang: set(_PLACEHOLDER.findall(row.get(lang, ""))) for lang in LANGS}
        if len({frozenset(v) for v in names.values()}) > 1:
            problems.append(f"{key}: placeholders differ between languages: {names}")
    for enum in (OpenState, Crowding, Hazard, ShelterKind, AlertLevel):
        for term in enum:
            if isinstance(term, AlertLevel) and f"alert_action.{term.value}" not in table:
                problems.append(f"alert_action.{term.value}: missing")
            if vocab_key(term) not in table:
                problems.append(f"{vocab_key(term)}: missing")
    return problems
