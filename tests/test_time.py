"""JST text for people: one helper each for the forms the project writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from disaster_dx._time import jst_minute, jst_second, jst_text


def test_jst_text_is_the_public_pages_form_in_both_languages() -> None:
    moment = datetime(2026, 8, 31, 23, 5, tzinfo=UTC)  # 9月1日 08:05 in Japan
    assert jst_text(moment) == "9月1日 08:05"
    assert jst_text(moment, "en") == "1 Sep, 08:05 JST"
    # the same instant given in another zone reads the same
    assert jst_text(moment.astimezone(timezone(timedelta(hours=-5)))) == "9月1日 08:05"


def test_jst_forms_refuse_a_naive_time() -> None:
    with pytest.raises(ValueError, match="naive"):
        jst_text(datetime(2026, 9, 1, 8, 5))


def test_jst_minute_and_second_keep_their_forms() -> None:
    moment = datetime(2026, 12, 31, 15, 0, 30, tzinfo=UTC)
    assert jst_minute(moment) == "2027-01-01 00:00"
    assert jst_second(moment) == "2027-01-01 00:00:30"
    assert jst_minute(None) == jst_second(None) == ""
