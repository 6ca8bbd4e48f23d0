"""Residents on the 避難行動要支援者 list: the domain types, and when each should leave.

The types live in the core (not in :mod:`disaster_dx.io.residents`, which reads and writes the
CSV) because plans, storage and sheets all use them.

A :class:`Resident` carries what the 個別避難計画 様式 of the 内閣府「避難行動要支援者の避難行動
支援に関する取組指針」 asks for: the person, how they move and what help they need, the
避難支援等実施者 (supporters), an emergency contact (家族等の緊急連絡先), 配慮事項, 持ち出し品, when
the plan was made and is to be reviewed (作成日・見直し日), and the person's consent to share the
plan with supporters (同意, with its date).

When to leave (:func:`evacuation_trigger`)
------------------------------------------
The 様式 names the moment the person starts to evacuate. It follows the hazard and the person:

- **Tsunami** — everyone: 「強い揺れや長い揺れを感じたら、揺れがおさまったらすぐ（津波警報・
  大津波警報の発表時も）避難を始める」. A tsunami gives no time to wait for 避難情報.
- **Other hazards** (洪水, 高潮, 内水氾濫, 土砂災害 …) — a person who walks slowly, uses a
  wheelchair, needs a helper or has any listed need is a 要配慮者 who needs time:
  「高齢者等避難（警戒レベル3）の発令時に避難を始める」 (内閣府「避難情報に関するガイドライン」).
  A listed person who walks on their own and lists no need:
  「避難指示（警戒レベル4）の発令時に避難を始める（高齢者等避難の発令時から準備する）」.
- **Earthquake or fire** (no 避難情報 levels): 「揺れがおさまり、身の安全を確保してから、周囲の状況
  を確かめて避難を始める」 / 「火災の延焼のおそれがあるとき、周囲の呼びかけに従い避難する」.

Personal fields stay out of ``repr`` so a log line or traceback shows only ids.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from disaster_dx.model import Hazard

__all__ = [
    "Mobility",
    "Resident",
    "Supporter",
    "Trigger",
    "evacuation_trigger",
    "needs_time",
]


class Mobility(StrEnum):
    """How a resident moves; the code is a key of ``routing.WALKING_SPEED_M_S``."""

    INDEPENDENT = "independent"
    ELDERLY = "elderly"
    WHEELCHAIR = "wheelchair"
    WITH_HELPER = "with_helper"

    @property
    def ja(self) -> str:
        """Japanese label."""
        return _MOBILITY_JA[self][0]

    @property
    def en(self) -> str:
        """English label."""
        return _MOBILITY_JA[self][1]

    @classmethod
    def parse(cls, value: str) -> Mobility:
        """The code, the Japanese label or a common word for it; ValueError otherwise."""
        text = unicodedata.normalize("NFKC", value).strip().lower().replace(" ", "")
        for member in cls:
            if text in (member.value, member.ja.lower()):
                return member
        for words, member in _MOBILITY_WORDS:
            if any(word in text for word in words):
                return member
        raise ValueError("unknown mobility class")


_MOBILITY_JA = {
    Mobility.INDEPENDENT: ("自力で歩ける", "Walks unaided"),
    Mobility.ELDERLY: ("ゆっくり歩く（高齢など）", "Walks slowly (elderly etc.)"),
    Mobility.WHEELCHAIR: ("車いす", "Wheelchair"),
    Mobility.WITH_HELPER: ("介助が必要", "Needs a helper"),
}
_MOBILITY_WORDS: tuple[tuple[tuple[str, ...], Mobility], ...] = (
    (("車いす", "車椅子", "車イス", "wheel"), Mobility.WHEELCHAIR),
    (("介助", "付き添い", "付添", "寝たきり", "担架", "helper", "assist"), Mobility.WITH_HELPER),
    (("高齢", "ゆっくり", "杖", "つえ", "elder", "slow"), Mobility.ELDERLY),
    (("自立", "独歩", "自力", "歩行可", "independent"), Mobility.INDEPENDENT),
)


@dataclass(frozen=True)
class Supporter:
    """A further 避難支援等実施者 (beyond the first): name and how to reach them."""

    name: str = field(repr=False)
    contact: str = field(default="", repr=False)


@dataclass(frozen=True)
class Resident:
    """One person on the 避難行動要支援者 list.

    Only ``resident_id``, ``consent``, ``plan_consent`` and ``building_id`` appear in ``repr``:
    the rest is personal data that must not reach logs or tracebacks.

    Parameters
    ----------
    resident_id
        The city's id for the person (used in audit entries instead of the name).
    name, address
        As listed.
    lon, lat
        Home position (EPSG:4326); None when only the address is known.
    mobility
        Walking class, which sets the walking speed.
    needs
        Help needed during evacuation (free text items).
    supporter_name, supporter_contact
        The first 避難支援等実施者 who helps, and how to reach them.
    consent
        Whether the person agreed to the *list* being given to supporters before a disaster
        (災害対策基本法 49条の11).
    building_id
        The home building, when the list names it; otherwise found from the position.
    note
        Free text for planners (not printed on the sheet).
    emergency_name, emergency_relation, emergency_phone
        家族等の緊急連絡先: who to call, their relation (続柄) and phone number.
    considerations
        配慮事項: what supporters must keep in mind (e.g. 聴覚障害のため筆談で).
    carry_items
        持ち出し品: what to take (medicines, devices …).
    supporters
        Further 避難支援等実施者 after the first.
    created_on, review_on
        作成日 and 見直し日 of the plan.
    plan_consent, plan_consent_on
        Whether the person agreed to the *plan* being shared with supporters (災害対策基本法
        49条の15) — None when not yet asked — and the day they signed.
    """

    resident_id: str
    name: str = field(repr=False)
    address: str = field(default="", repr=False)
    lon: float | None = field(default=None, repr=False)
    lat: float | None = field(default=None, repr=False)
    mobility: Mobility = field(default=Mobility.INDEPENDENT, repr=False)
    needs: tuple[str, ...] = field(default=(), repr=False)
    supporter_name: str = field(default="", repr=False)
    supporter_contact: str = field(default="", repr=False)
    consent: bool = False
    building_id: str | None = None
    note: str = field(default="", repr=False)
    emergency_name: str = field(default="", repr=False)
    emergency_relation: str = field(default="", repr=False)
    emergency_phone: str = field(default="", repr=False)
    considerations: str = field(default="", repr=False)
    carry_items: tuple[str, ...] = field(default=(), repr=False)
    supporters: tuple[Supporter, ...] = field(default=(), repr=False)
    created_on: date | None = field(default=None, repr=False)
    review_on: date | None = field(default=None, repr=False)
    plan_consent: bool | None = None
    plan_consent_on: date | None = field(default=None, repr=False)

    @property
    def located(self) -> bool:
        """Whether the home position is known."""
        return self.lon is not None and self.lat is not None

    @property
    def all_supporters(self) -> tuple[Supporter, ...]:
        """Every 避難支援等実施者, the first one (if named) first."""
        first = (
            (Supporter(self.supporter_name, self.supporter_contact),)
            if self.supporter_name or self.supporter_contact
            else ()
        )
        return first + self.supporters


# -- when to leave ---------------------------------------------------------------------------


class Trigger(StrEnum):
    """Which rule of the module docstring sets the moment to leave."""

    TSUNAMI = "tsunami"
    LEVEL3 = "level3"
    LEVEL4 = "level4"
    EARTHQUAKE = "earthquake"
    FIRE = "fire"

    @property
    def ja(self) -> str:
        """The sheet's words."""
        return _TRIGGER_TEXT[self][0]

    @property
    def en(self) -> str:
        """English words."""
        return _TRIGGER_TEXT[self][1]


_TRIGGER_TEXT = {
    Trigger.TSUNAMI: (
        "強い揺れや長い揺れを感じたら、揺れがおさまったらすぐ（津波警報・大津波警報の発表時も）"
        "避難を始める",
        "As soon as strong or long shaking stops (or when a tsunami warning or major tsunami "
        "warning is issued), start to evacuate",
    ),
    Trigger.LEVEL3: (
        "高齢者等避難（警戒レベル3）の発令時に避難を始める",
        "Start to evacuate when 'Evacuation of elderly people etc.' (alert level 3) is issued",
    ),
    Trigger.LEVEL4: (
        "避難指示（警戒レベル4）の発令時に避難を始める（高齢者等避難の発令時から準備する）",
        "Start to evacuate when an evacuation instruction (alert level 4) is issued; get ready "
        "at level 3",
    ),
    Trigger.EARTHQUAKE: (
        "揺れがおさまり身の安全を確保してから、周囲の状況を確かめて避難を始める",
        "Once the shaking stops and you are safe, check the surroundings and start to evacuate",
    ),
    Trigger.FIRE: (
        "火災の延焼のおそれがあるとき、消防・市の呼びかけに従って避難を始める",
        "When fire may spread, evacuate as the fire service or the city calls",
    ),
}


def needs_time(resident: Resident) -> bool:
    """Whether the person is a 要配慮者 who needs time (not walking unaided, or any need)."""
    return resident.mobility is not Mobility.INDEPENDENT or bool(resident.needs)


def evacuation_trigger(resident: Resident, hazard: Hazard) -> Trigger:
    """When this person should start to evacuate from ``hazard`` (the module docstring's rule)."""
    if hazard is Hazard.TSUNAMI:
        return Trigger.TSUNAMI
    if hazard is Hazard.EARTHQUAKE:
        return Trigger.EARTHQUAKE
    if hazard is Hazard.FIRE:
        return Trigger.FIRE
    return Trigger.LEVEL3 if needs_time(resident) else Trigger.LEVEL4
