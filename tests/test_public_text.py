"""The public page's one translation table: complete in ja / en / やさしい日本語."""

from __future__ import annotations

import re

import pytest

from disaster_dx.model import Crowding, Hazard, OpenState, ShelterKind
from disaster_dx.public_text import (
    CROWDING_SYMBOL,
    HAZARD_ORDER,
    LANGS,
    OPEN_STATE_SYMBOL,
    PUBLIC_TEXT,
    table_problems,
    text,
    texts_for,
    vocab_key,
)
from disaster_dx.publish import SITE_SOURCE


def test_every_key_has_every_language_with_the_same_placeholders() -> None:
    assert set(LANGS) == {"ja", "en", "easy-ja"}
    assert table_problems() == []


def test_the_check_fails_on_a_missing_or_inconsistent_entry() -> None:
    broken = {key: dict(row) for key, row in PUBLIC_TEXT.items()}
    del broken["locate"]["easy-ja"]
    broken["minutes_ago"]["en"] = "minutes ago"  # lost its {n}
    broken["page_title"]["ja"] = "  "
    del broken[vocab_key(Hazard.TSUNAMI)]
    problems = table_problems(broken)
    assert "locate: no easy-ja text" in problems
    assert any(p.startswith("minutes_ago: placeholders differ") for p in problems)
    assert "page_title: no ja text" in problems
    assert "hazard.tsunami: missing" in problems


@pytest.mark.parametrize("enum", [OpenState, Crowding, Hazard, ShelterKind])
def test_the_whole_vocabulary_is_translated(enum) -> None:
    for term in enum:
        row = PUBLIC_TEXT[vocab_key(term)]
        assert set(row) == set(LANGS)
        assert row["ja"] and row["en"] and row["easy-ja"]


def test_easy_japanese_avoids_difficult_kanji_for_states() -> None:
    # やさしい日本語: the words a child or a newcomer reads, in hiragana.
    for term in (*OpenState, *Crowding):
        easy = PUBLIC_TEXT[vocab_key(term)]["easy-ja"]
        assert not re.search(r"[\u4e00-\u9fff]", easy), easy


def test_every_key_used_by_the_page_and_its_script_exists() -> None:
    page = (SITE_SOURCE / "index.html").read_text(encoding="utf-8")
    script = (SITE_SOURCE / "site" / "public.js").read_text(encoding="utf-8")
    used = set(re.findall(r"\{\{t:(\w+)\}\}", page))
    used |= set(re.findall(r'data-t(?:-aria)?="(\w+)"', page))
    used |= set(re.findall(r'\bt\("(\w+)"', script))
    assert used, "the scan found no keys: the pattern is out of date"
    assert sorted(used - set(PUBLIC_TEXT)) == []
    # Vocabulary keys built in the script ("open_state." + code) exist for every code.
    for prefix in ("open_state.", "crowding.", "hazard.", "kind."):
        assert f'"{prefix}"' in script or f't("{prefix}' in script or prefix in script


def test_symbols_match_the_staff_maps_and_cover_every_state() -> None:
    from layers.shelters import CROWDING_SYMBOL as STAFF_CROWDING
    from layers.shelters import OPEN_STATE_STYLE

    assert {s: sym for s, (sym, _colour) in OPEN_STATE_STYLE.items()} == OPEN_STATE_SYMBOL
    assert STAFF_CROWDING == CROWDING_SYMBOL
    assert set(HAZARD_ORDER) == set(Hazard)


def test_text_fills_placeholders_and_falls_back_to_japanese() -> None:
    assert text("minutes_ago", "en", n=5) == "5 min ago"
    assert text("minutes_ago", "easy-ja", n=5) == "5ぷん まえ"
    assert text("minutes_ago", "xx", n=5) == "5分前"
    assert texts_for("en")["open_state.open"] == "Open"
