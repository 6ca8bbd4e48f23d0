"""Which city this installation serves, by its 全国地方公共団体コード.

Every page, LINE text, print, L-Alert export and report names the city, so the city is data,
never a constant: ``disaster-dx init --city CODE`` records the code in the database, and its
names come from the bundled list of all municipalities (``data/municipalities.csv``, taken from
総務省「全国地方公共団体コード」; see :data:`MUNICIPALITY_LIST_SOURCE`). Nankoku (392049) is the
bundled example: only for that code are its shelters and outline loaded.

The sixth digit of a code is a check digit (総務省「全国地方公共団体コード」仕様): the first five
digits weighted 6, 5, 4, 3, 2 are summed; the check digit is the last digit of 11 minus the sum
modulo 11. Every code of the bundled list is validated with it (``tests/test_city.py``).
"""

from __future__ import annotations

import csv
import functools
import re
from dataclasses import dataclass

from disaster_dx.config import BUNDLED_DATA_DIR
from disaster_dx.errors import DisasterDxError

#: The bundled example city (its shelters, outline and scenarios ship in ``data/``).
NANKOKU_CODE = "392049"
#: The list of every prefecture and municipality (市町村 and 特別区) with its reading.
MUNICIPALITY_LIST = BUNDLED_DATA_DIR / "municipalities.csv"
#: Where the list comes from, for the README, ``disaster-dx init`` and reports.
MUNICIPALITY_LIST_SOURCE = (
    "総務省「全国地方公共団体コード」（都道府県・市区町村。政令指定都市の行政区を除く）"
)
#: The date of the official list the bundle was checked against.
MUNICIPALITY_LIST_AS_OF = "2024-01-01"

_CODE = re.compile(r"^\d{6}$")


class UnknownCityError(DisasterDxError):
    """A city code that is malformed, fails its check digit, or is not a municipality."""


@dataclass(frozen=True)
class City:
    """A municipality as the official list names it.

    ``name_en`` is the romanised reading (``Nanao City``) unless the city set its own English
    name; ``kana`` is the official reading in hiragana, used in やさしい日本語.
    """

    code: str
    prefecture: str
    name: str
    kana: str
    name_en: str

    @property
    def full_name(self) -> str:
        """Prefecture and city, as L-Alert and printed lists want it (高知県南国市)."""
        return f"{self.prefecture}{self.name}"

    @property
    def hq_title(self) -> str:
        """The live incident's title before HQ names the disaster (「七尾市 災害対策本部」)."""
        return f"{self.name} 災害対策本部"

    def label(self, lang: str = "ja") -> str:
        """The city's name in ``ja``, ``en`` or ``easy`` (やさしい日本語: the reading)."""
        if lang == "en":
            return self.name_en
        if lang in ("easy", "easy-ja"):
            return self.kana or self.name
        return self.name


def check_digit(first_five: str) -> str:
    """The check digit of a 全国地方公共団体コード's first five digits (39204 → 9)."""
    if len(first_five) != 5 or not first_five.isdigit():
        raise UnknownCityError(f"{first_five!r} is not five digits")
    total = sum(int(d) * w for d, w in zip(first_five, (6, 5, 4, 3, 2), strict=True))
    return str((11 - total % 11) % 10)


def is_valid_code(code: str) -> bool:
    """Whether ``code`` is six digits whose last is the right check digit."""
    return bool(_CODE.match(code)) and check_digit(code[:5]) == code[5]


@functools.cache
def municipalities() -> dict[str, City]:
    """Every municipality of the bundled list by code (prefectures themselves excluded)."""
    cities: dict[str, City] = {}
    with MUNICIPALITY_LIST.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if not row["name"]:
                continue  # a prefecture's own line
            cities[row["code"]] = City(
                code=row["code"],
                prefecture=row["prefecture"],
                name=row["name"],
                kana=row["kana"],
                name_en=english_name(row["kana"]),
            )
    return cities


def city_for_code(code: str, *, name_en: str = "") -> City:
    """The municipality with this code; ``name_en`` replaces the romanised English name.

    Raises
    ------
    UnknownCityError
        Naming what is wrong: not six digits, a wrong check digit (with the right one), a
        prefecture's code, or a code not in the list.
    """
    code = code.strip()
    if not _CODE.match(code):
        raise UnknownCityError(
            f"city code {code!r} must be the six-digit 全国地方公共団体コード (南国市: 392049)"
        )
    if not is_valid_code(code):
        raise UnknownCityError(
            f"city code {code} fails its check digit (the sixth digit should be "
            f"{check_digit(code[:5])}): check for a typing mistake"
        )
    city = municipalities().get(code)
    if city is None:
        kind = "a prefecture" if code[2:5] == "000" else "not a municipality"
        raise UnknownCityError(
            f"city code {code} is {kind} in the bundled list ({MUNICIPALITY_LIST_SOURCE}, "
            f"{MUNICIPALITY_LIST_AS_OF}); 政令指定都市 are set up by the city's code, not a ward's"
        )
    if name_en.strip():
        return City(city.code, city.prefecture, city.name, city.kana, name_en.strip())
    return city


# -- English names from the official reading ----------------------------------------------------

_SUFFIXES = (
    ("し", "City"),
    ("く", "City"),
    ("ちょう", "Town"),
    ("まち", "Town"),
    ("そん", "Village"),
    ("むら", "Village"),
)
_DIGRAPHS = {
    "きゃ": "kya", "きゅ": "kyu", "きょ": "kyo", "しゃ": "sha", "しゅ": "shu", "しょ": "sho",
    "ちゃ": "cha", "ちゅ": "chu", "ちょ": "cho", "にゃ": "nya", "にゅ": "nyu", "にょ": "nyo",
    "ひゃ": "hya", "ひゅ": "hyu", "ひょ": "hyo", "みゃ": "mya", "みゅ": "myu", "みょ": "myo",
    "りゃ": "rya", "りゅ": "ryu", "りょ": "ryo", "ぎゃ": "gya", "ぎゅ": "gyu", "ぎょ": "gyo",
    "じゃ": "ja", "じゅ": "ju", "じょ": "jo", "びゃ": "bya", "びゅ": "byu", "びょ": "byo",
    "ぴゃ": "pya", "ぴゅ": "pyu", "ぴょ": "pyo",
}  # fmt: skip
_KANA = dict(
    zip(
        "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわを"
        "がぎぐげござじずぜぞだぢづでどばびぶべぼぱぴぷぺぽゐゑ",
        [
            "a",
            "i",
            "u",
            "e",
            "o",
            "ka",
            "ki",
            "ku",
            "ke",
            "ko",
            "sa",
            "shi",
            "su",
            "se",
            "so",
            "ta",
            "chi",
            "tsu",
            "te",
            "to",
            "na",
            "ni",
            "nu",
            "ne",
            "no",
            "ha",
            "hi",
            "fu",
            "he",
            "ho",
            "ma",
            "mi",
            "mu",
            "me",
            "mo",
            "ya",
            "yu",
            "yo",
            "ra",
            "ri",
            "ru",
            "re",
            "ro",
            "wa",
            "o",
            "ga",
            "gi",
            "gu",
            "ge",
            "go",
            "za",
            "ji",
            "zu",
            "ze",
            "zo",
            "da",
            "ji",
            "zu",
            "de",
            "do",
            "ba",
            "bi",
            "bu",
            "be",
            "bo",
            "pa",
            "pi",
            "pu",
            "pe",
            "po",
            "i",
            "e",
        ],
        strict=True,
    )
)


def english_name(kana: str) -> str:
    """``ななおし`` → ``Nanao City``: Hepburn of the official reading, long vowels unmarked.

    This is a transliteration of the official reading, not a guessed one; a city whose own
    English name differs sets it with ``--city-name-en`` (or ``CITY_NAME_EN``).
    """
    kind = ""
    for suffix, word in _SUFFIXES:
        if kana.endswith(suffix) and len(kana) > len(suffix):
            kana, kind = kana[: -len(suffix)], word
            break
    out: list[str] = []
    i = 0
    double_next = False
    while i < len(kana):
        pair, char = kana[i : i + 2], kana[i]
        if pair in _DIGRAPHS:
            syllable, i = _DIGRAPHS[pair], i + 2
        elif char == "っ":
            double_next, i = True, i + 1
            continue
        elif char == "ん":
            syllable, i = "n", i + 1
        elif char == "ー":
            i += 1
            continue
        else:
            syllable, i = _KANA.get(char, char), i + 1
        if double_next:
            syllable = ("t" if syllable.startswith("ch") else syllable[0]) + syllable
            double_next = False
        out.append(syllable)
    word = "".join(out)
    for long, short in (("ou", "o"), ("oo", "o"), ("uu", "u")):
        word = word.replace(long, short)
    word = word[:1].upper() + word[1:]
    return f"{word} {kind}".strip()
