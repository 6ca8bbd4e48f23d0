"""The language a page asks for in its URL (one helper for every Dash page)."""

from __future__ import annotations

import pytest

from disaster_dx.web.i18n import lang_from_search, lang_of


@pytest.mark.parametrize(
    ("search", "lang"),
    [
        (None, "ja"),
        ("", "ja"),
        ("?lang=en", "en"),
        ("?shelter=S1&lang=en", "en"),
        ("lang=en", "en"),
        ("?lang=en-GB", "en"),
        ("?lang=ja", "ja"),
        ("?lang=fr", "ja"),  # unsupported: Japanese, the city's language
        ("?xlang=en", "ja"),  # another parameter that merely ends in "lang"
        ("?lang=", "ja"),
    ],
)
def test_lang_from_search(search: str | None, lang: str) -> None:
    assert lang_from_search(search) == lang


def test_lang_of_a_query_value() -> None:
    assert lang_of("EN") == "en"
    assert lang_of(None) == lang_of("") == lang_of("ja") == "ja"
