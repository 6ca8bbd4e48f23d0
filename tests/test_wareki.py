"""和暦 and ISO times as cities publish them: tolerant spelling, exact meaning."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from disaster_dx._time import JST
from disaster_dx.io.wareki import JapaneseTimeError, parse_japanese_time, time_from_file_name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("令和6年8月31日午後1時30分", datetime(2024, 8, 31, 13, 30, tzinfo=JST)),
        ("令和６年８月３１日　午後１時３０分時点", datetime(2024, 8, 31, 13, 30, tzinfo=JST)),
        ("令和元年10月13日（日）正午現在", datetime(2019, 10, 13, 12, 0, tzinfo=JST)),
        ("令和六年八月三十一日午後一時半", datetime(2024, 8, 31, 13, 30, tzinfo=JST)),
        ("令和6年1月1日午前0時", datetime(2024, 1, 1, 0, 0, tzinfo=JST)),
        ("令和6年1月1日午後0時", datetime(2024, 1, 1, 12, 0, tzinfo=JST)),
        ("令和6年1月2日 9時05分30秒", datetime(2024, 1, 2, 9, 5, 30, tzinfo=JST)),
        ("平成31年4月30日 23時59分", datetime(2019, 4, 30, 23, 59, tzinfo=JST)),
        ("R6.8.31 13:30", datetime(2024, 8, 31, 13, 30, tzinfo=JST)),
        ("2024年8月31日 13時30分", datetime(2024, 8, 31, 13, 30, tzinfo=JST)),
        ("2024/08/31 13:30", datetime(2024, 8, 31, 13, 30, tzinfo=JST)),
        ("2024-08-31T13:30:00+09:00", datetime(2024, 8, 31, 13, 30, tzinfo=JST)),
        ("2024-08-31T04:30:00Z", datetime(2024, 8, 31, 4, 30, tzinfo=UTC)),
    ],
)
def test_reads(text: str, expected: datetime) -> None:
    assert parse_japanese_time(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("平成31年5月1日午前9時", "is in 令和 (令和元年), not 平成"),
        ("令和元年4月30日9時", "令和 began on 2019-05-01"),
        ("令和0年5月1日9時", "令和0年 does not exist"),
        ("令和6年8月31日(日)午後1時", "is a 土曜日, not 日曜日"),
        ("令和6年8月31日", "no time of day"),
        ("2024-08-31", "no time of day"),
        ("令和6年2月30日午前9時", "not a real date"),
        ("令和6年8月31日午後12時", "read both ways"),
        ("令和6年8月31日午前12時", "read both ways"),
        ("令和6年8月31日午後13時", "午後 with hour 13"),
        ("令和6年8月31日25時", "not a time of day"),
        ("令和6年8月31日午後1時ごろまで", "cannot read the time of day"),
        ("", "is empty"),
    ],
)
def test_refuses_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(JapaneseTimeError) as caught:
        parse_japanese_time(text)
    assert reason in str(caught.value)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("20240831_1330.csv", datetime(2024, 8, 31, 13, 30, tzinfo=JST)),
        ("shelters_2024-08-31T13-30.csv", datetime(2024, 8, 31, 13, 30, tzinfo=JST)),
        ("避難所_令和6年8月31日午後1時30分.csv", datetime(2024, 8, 31, 13, 30, tzinfo=JST)),
        ("令和6年9月1日正午.csv", datetime(2024, 9, 1, 12, 0, tzinfo=JST)),
        ("open.csv", None),
    ],
)
def test_file_name_times(name: str, expected: datetime | None) -> None:
    assert time_from_file_name(name) == expected


def test_an_impossible_file_name_time_is_refused() -> None:
    with pytest.raises(JapaneseTimeError, match="not a real time"):
        time_from_file_name("20241399_1330.csv")
