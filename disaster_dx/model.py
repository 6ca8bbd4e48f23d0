"""Value types and the project's one internal vocabulary.

Japan has no single shelter-status vocabulary (L-Alert, VACAN and each city differ), so the model
keeps its own stable codes (the enum values, ASCII, stored in events) with Japanese and English
labels, and :mod:`disaster_dx.vocab` maps them to each outside vocabulary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Self

#: A generous box around Japan's territory (lon_min, lat_min, lon_max, lat_max), in degrees.
#: Every coordinate the project stores lies inside: one outside is a data error, almost always
#: a swapped axis (lat, lon) or a projected CRS read as degrees.
JAPAN_BOUNDS = (122.0, 20.0, 154.5, 46.0)


class Labelled(StrEnum):
    """A vocabulary term: a stable code plus its Japanese and English labels."""

    @property
    def ja(self) -> str:
        """Japanese label, as shown to staff and citizens."""
        return _LABELS[self][0]

    @property
    def en(self) -> str:
        """English label."""
        return _LABELS[self][1]

    def label(self, lang: str = "ja") -> str:
        """Label in ``lang`` (``"ja"`` or ``"en"``); Japanese for anything else."""
        return self.en if lang == "en" else self.ja

    @classmethod
    def parse(cls, value: str) -> Self:
        """Accept the code, the Japanese label or the English label (case-insensitive)."""
        text = value.strip()
        for member in cls:
            if text in (member.value, member.ja) or text.lower() == member.en.lower():
                return member
        raise ValueError(f"unknown {cls.__name__} {value!r}")


class OpenState(Labelled):
    """開設状況: whether a shelter is open."""

    NOT_OPEN = "not_open"
    PREPARING = "preparing"
    OPEN = "open"
    CLOSED = "closed"
    PERMANENT = "permanent"

    @property
    def is_open(self) -> bool:
        """Open to evacuees now (open or permanently open)."""
        return self in (OpenState.OPEN, OpenState.PERMANENT)


class Crowding(Labelled):
    """混雑状況, from least to most crowded."""

    AVAILABLE = "available"
    SOMEWHAT_CROWDED = "somewhat_crowded"
    CROWDED = "crowded"
    FULL = "full"


class Hazard(Labelled):
    """Hazard kinds of the GSI suitability columns (指定緊急避難場所の災害種別)."""

    FLOOD = "flood"
    LANDSLIDE = "landslide"
    STORM_SURGE = "storm_surge"
    EARTHQUAKE = "earthquake"
    TSUNAMI = "tsunami"
    FIRE = "fire"
    INLAND_FLOOD = "inland_flood"
    VOLCANO = "volcano"


class ShelterKind(Labelled):
    """Designation of a site; one site may carry several."""

    DESIGNATED = "designated"
    EMERGENCY = "emergency"
    WELFARE = "welfare"


#: The order kinds are listed in wherever a site's kinds are shown or exported: 指定避難所,
#: 指定緊急避難場所, 福祉避難所 (the order of the 指定避難所等一覧 and GSI's files).
SHELTER_KIND_ORDER = (ShelterKind.DESIGNATED, ShelterKind.EMERGENCY, ShelterKind.WELFARE)


class Need(Labelled):
    """Supplies or help a shelter reports it needs."""

    WATER = "water"
    FOOD = "food"
    BLANKET = "blanket"
    MEDICAL = "medical"
    POWER = "power"
    TOILET = "toilet"


class AlertLevel(Labelled):
    """避難情報 that HQ issues per area (警戒レベル 3–5, 内閣府「避難情報に関するガイドライン」)."""

    ELDERLY_EVACUATE = "elderly_evacuate"
    EVACUATE = "evacuate"
    EMERGENCY_SAFETY = "emergency_safety"

    @property
    def number(self) -> int:
        """The 警戒レベル number, always shown with the words and the colour."""
        return _ALERT_NUMBERS[self]

    @property
    def colour(self) -> str:
        """The official colour (3 red, 4 purple, 5 black), never shown alone."""
        return _ALERT_COLOURS[self]

    @classmethod
    def from_number(cls, number: int) -> AlertLevel:
        """The level for 警戒レベル ``number`` (3, 4 or 5)."""
        for level, known in _ALERT_NUMBERS.items():
            if known == number:
                return level
        raise ValueError(f"警戒レベル must be 3, 4 or 5, not {number!r}")


class WarningKind(Labelled):
    """Warnings from JMA and the prefecture that set "the hazard in force" (発表中の警報等)."""

    MAJOR_TSUNAMI_WARNING = "major_tsunami_warning"
    TSUNAMI_WARNING = "tsunami_warning"
    TSUNAMI_ADVISORY = "tsunami_advisory"
    HEAVY_RAIN_EMERGENCY = "heavy_rain_emergency"
    HEAVY_RAIN_WARNING = "heavy_rain_warning"
    FLOOD_WARNING = "flood_warning"
    LANDSLIDE_ALERT = "landslide_alert"
    RECORD_RAIN = "record_rain"
    STORM_SURGE_WARNING = "storm_surge_warning"
    OTHER_WARNING = "other_warning"

    @property
    def hazard(self) -> Hazard | None:
        """The hazard a warning usually means (HQ may name another); None for その他."""
        return _WARNING_HAZARDS.get(self)


class IncidentKind(Labelled):
    """Live incidents feed the public page; drill incidents never do."""

    LIVE = "live"
    DRILL = "drill"


_LABELS: dict[Labelled, tuple[str, str]] = {
    OpenState.NOT_OPEN: ("未開設", "Not open"),
    OpenState.PREPARING: ("開設準備中", "Preparing"),
    OpenState.OPEN: ("開設", "Open"),
    OpenState.CLOSED: ("閉鎖", "Closed"),
    OpenState.PERMANENT: ("常設", "Permanently open"),
    Crowding.AVAILABLE: ("空き", "Available"),
    Crowding.SOMEWHAT_CROWDED: ("やや混雑", "Somewhat crowded"),
    Crowding.CROWDED: ("混雑", "Crowded"),
    Crowding.FULL: ("満員", "Full"),
    Hazard.FLOOD: ("洪水", "Flood"),
    Hazard.LANDSLIDE: ("崖崩れ、土石流及び地滑り", "Landslide / debris flow"),
    Hazard.STORM_SURGE: ("高潮", "Storm surge"),
    Hazard.EARTHQUAKE: ("地震", "Earthquake"),
    Hazard.TSUNAMI: ("津波", "Tsunami"),
    Hazard.FIRE: ("大規模な火事", "Large fire"),
    Hazard.INLAND_FLOOD: ("内水氾濫", "Inland flooding"),
    Hazard.VOLCANO: ("火山現象", "Volcanic phenomena"),
    ShelterKind.DESIGNATED: ("指定避難所", "Designated shelter"),
    ShelterKind.EMERGENCY: ("指定緊急避難場所", "Emergency evacuation site"),
    ShelterKind.WELFARE: ("福祉避難所", "Welfare shelter"),
    Need.WATER: ("水", "Water"),
    Need.FOOD: ("食料", "Food"),
    Need.BLANKET: ("毛布", "Blankets"),
    Need.MEDICAL: ("医療", "Medical care"),
    Need.POWER: ("電源", "Power"),
    Need.TOILET: ("トイレ", "Toilets"),
    AlertLevel.ELDERLY_EVACUATE: ("高齢者等避難", "Evacuation of elderly people, etc."),
    AlertLevel.EVACUATE: ("避難指示", "Evacuation instruction"),
    AlertLevel.EMERGENCY_SAFETY: ("緊急安全確保", "Emergency safety measures"),
    WarningKind.MAJOR_TSUNAMI_WARNING: ("大津波警報", "Major tsunami warning"),
    WarningKind.TSUNAMI_WARNING: ("津波警報", "Tsunami warning"),
    WarningKind.TSUNAMI_ADVISORY: ("津波注意報", "Tsunami advisory"),
    WarningKind.HEAVY_RAIN_EMERGENCY: ("大雨特別警報", "Heavy rain emergency warning"),
    WarningKind.HEAVY_RAIN_WARNING: ("大雨警報", "Heavy rain warning"),
    WarningKind.FLOOD_WARNING: ("洪水警報", "Flood warning"),
    WarningKind.LANDSLIDE_ALERT: ("土砂災害警戒情報", "Landslide alert"),
    WarningKind.RECORD_RAIN: ("記録的短時間大雨情報", "Record short-duration heavy rain"),
    WarningKind.STORM_SURGE_WARNING: ("高潮警報", "Storm surge warning"),
    WarningKind.OTHER_WARNING: ("その他の警報・情報", "Other warning"),
    IncidentKind.LIVE: ("実災害", "Live"),
    IncidentKind.DRILL: ("訓練", "Drill"),
}

_ALERT_NUMBERS: dict[AlertLevel, int] = {
    AlertLevel.ELDERLY_EVACUATE: 3,
    AlertLevel.EVACUATE: 4,
    AlertLevel.EMERGENCY_SAFETY: 5,
}
# 内閣府・気象庁の警戒レベルの色: 3 赤, 4 紫, 5 黒.
_ALERT_COLOURS: dict[AlertLevel, str] = {
    AlertLevel.ELDERLY_EVACUATE: "#ff2800",
    AlertLevel.EVACUATE: "#aa00aa",
    AlertLevel.EMERGENCY_SAFETY: "#0c000c",
}
_WARNING_HAZARDS: dict[WarningKind, Hazard] = {
    WarningKind.MAJOR_TSUNAMI_WARNING: Hazard.TSUNAMI,
    WarningKind.TSUNAMI_WARNING: Hazard.TSUNAMI,
    WarningKind.TSUNAMI_ADVISORY: Hazard.TSUNAMI,
    WarningKind.HEAVY_RAIN_EMERGENCY: Hazard.FLOOD,
    WarningKind.HEAVY_RAIN_WARNING: Hazard.INLAND_FLOOD,
    WarningKind.FLOOD_WARNING: Hazard.FLOOD,
    WarningKind.LANDSLIDE_ALERT: Hazard.LANDSLIDE,
    WarningKind.RECORD_RAIN: Hazard.FLOOD,
    WarningKind.STORM_SURGE_WARNING: Hazard.STORM_SURGE,
}

_VOCABULARIES = (
    OpenState,
    Crowding,
    Hazard,
    ShelterKind,
    Need,
    AlertLevel,
    WarningKind,
    IncidentKind,
)
if len(_LABELS) != sum(len(e) for e in _VOCABULARIES):
    # StrEnum members hash as their code, so two enums sharing a code would share a label.
    raise RuntimeError("vocabulary codes must be unique across enums and all labelled")

#: The GSI column name of each hazard flag, in the GSI files' column order.
GSI_HAZARD_COLUMNS: dict[Hazard, str] = {
    Hazard.FLOOD: "洪水",
    Hazard.LANDSLIDE: "崖崩れ、土石流及び地滑り",
    Hazard.STORM_SURGE: "高潮",
    Hazard.EARTHQUAKE: "地震",
    Hazard.TSUNAMI: "津波",
    Hazard.FIRE: "大規模な火事",
    Hazard.INLAND_FLOOD: "内水氾濫",
    Hazard.VOLCANO: "火山現象",
}


@dataclass(frozen=True)
class CrowdingThresholds:
    """Occupancy percentages at which crowding steps up (per-city setting).

    The defaults (30 / 60 / 80 %) are DESIGN.md's; a city may tune them.
    """

    somewhat_crowded: float = 30.0
    crowded: float = 60.0
    full: float = 80.0

    def __post_init__(self) -> None:
        if not 0 < self.somewhat_crowded < self.crowded < self.full <= 100:
            raise ValueError(
                "crowding thresholds must rise strictly within (0, 100]: "
                f"{self.somewhat_crowded}, {self.crowded}, {self.full}"
            )

    def classify(self, evacuees: int, capacity: int | None) -> Crowding | None:
        """Crowding from counts; ``None`` (unknown) when capacity is not known."""
        if capacity is None or capacity <= 0:
            return None
        percent = 100.0 * evacuees / capacity
        if percent >= self.full:
            return Crowding.FULL
        if percent >= self.crowded:
            return Crowding.CROWDED
        if percent >= self.somewhat_crowded:
            return Crowding.SOMEWHAT_CROWDED
        return Crowding.AVAILABLE


@dataclass(frozen=True)
class Shelter:
    """One site of the shelter master (reference data, imported, not an event).

    A site may be both a 指定避難所 and a 指定緊急避難場所; ``gsi_ids`` keeps every 共通ID the
    source lists gave it, and ``source`` keeps each source record's fields exactly.
    """

    shelter_id: str
    name: str
    address: str
    lon: float
    lat: float
    kinds: frozenset[ShelterKind]
    hazards: frozenset[Hazard]
    gsi_ids: tuple[str, ...] = ()
    capacity: int | None = None
    municipality_code: str = ""
    source: dict[str, dict[str, object]] = field(default_factory=dict, compare=False, hash=False)

    def suits(self, hazard: Hazard) -> bool:
        """Whether the site is designated for ``hazard`` (never suggest it otherwise)."""
        return hazard in self.hazards

    def _source_text(self, *columns: str) -> str:
        """The first non-empty value of ``columns`` over the source records (sorted by id)."""
        for record_id in sorted(self.source):
            record = self.source[record_id]
            for column in columns:
                value = record.get(column)
                if value is not None and str(value).strip():
                    return str(value).strip()
        return ""

    @property
    def name_kana(self) -> str:
        """名称_カナ as the city published it (shown as ふりがな; never guessed)."""
        return self._source_text("名称_カナ", "名称（カナ）", "名称カナ")

    @property
    def name_en(self) -> str:
        """名称_英字 as the city published it (the English name; never machine-translated)."""
        return self._source_text("名称_英字", "名称（英字）", "名称英字")

    @property
    def capacity_note(self) -> str:
        """想定収容人数 as written when it was text (「屋内480人／屋外3,350人」): the 屋外 part."""
        raw = self._source_text("想定収容人数")
        plain = raw.replace(",", "").removesuffix("人").removesuffix(".0")
        return "" if not raw or plain.isdigit() else raw

    @property
    def phone(self) -> str:
        """電話番号 of the facility, as published."""
        return self._source_text("電話番号")

    @property
    def elevation_m(self) -> float | None:
        """標高 in metres, as published (``None`` where blank or not a number)."""
        raw = self._source_text("標高").replace("m", "").replace("ｍ", "").strip()
        try:
            return float(raw) if raw else None
        except ValueError:
            return None

    @property
    def areas(self) -> tuple[str, ...]:
        """The 地区 and 町会・自治会 the city's own file says the site serves (in file order)."""
        names: list[str] = []
        for record_id in sorted(self.source):
            record = self.source[record_id]
            for column in SHELTER_AREA_COLUMNS:
                for name in split_area_names(str(record.get(column) or "")):
                    if name not in names:
                        names.append(name)
        return tuple(names)


#: Columns of the 自治体標準オープンデータセット that name the areas a shelter serves.
SHELTER_AREA_COLUMNS = ("地区", "対象となる町会・自治会")
_AREA_SEPARATORS = re.compile(r"[、,，;；/／\n]+")


def split_area_names(text: str) -> list[str]:
    """「東町、西町／北町」 → the names; 「・」 stays (it is part of many names)."""
    return [n.strip().strip("　") for n in _AREA_SEPARATORS.split(text) if n.strip().strip("　")]
