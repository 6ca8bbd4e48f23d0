"""The 要支援者 CSV import: formats, row-numbered problems, and no personal data in logs."""

from __future__ import annotations

import logging

import pytest

from disaster_dx.errors import ImportFileError
from disaster_dx.io.residents import Mobility, Resident, residents_from_csv, residents_to_csv

# Distinctive made-up values, so a leak into a message or log is unmistakable.
NAME = "漏洩 確認子"
ADDRESS = "南国市（架空）秘密町9-9-9"
CONTACT = "090-0000-4242"
SUPPORTER = "支援 秘密郎"

GOOD = (
    "管理番号,氏名,住所,経度,緯度,移動区分,必要な支援,支援者氏名,支援者連絡先,同意,備考\r\n"
    f"R-001,{NAME},{ADDRESS},133.6601,33.5401,車いす,酸素ボンベ、服薬,{SUPPORTER},{CONTACT},はい,\r\n"
    'R-002,山田 花子,"南国市（架空）前浜1番地, 2階",,,高齢,,,,0,"長い\r\n備考"\r\n'
    "R-003,田中 一郎,,133.6602,33.5402,with_helper,,,,同意,\r\n"
)


def write(tmp_path, text: str, *, encoding: str = "utf-8-sig"):
    path = tmp_path / "residents.csv"
    path.write_bytes(text.encode(encoding))
    return path


def test_reads_japanese_headers_bom_and_quoted_fields(tmp_path) -> None:
    found = residents_from_csv(write(tmp_path, GOOD))
    first, second, third = found.residents
    assert (first.resident_id, first.name, first.mobility) == ("R-001", NAME, Mobility.WHEELCHAIR)
    assert (first.lon, first.lat, first.consent) == (133.6601, 33.5401, True)
    assert first.needs == ("酸素ボンベ", "服薬")
    assert (first.supporter_name, first.supporter_contact) == (SUPPORTER, CONTACT)
    assert not second.located and second.address.endswith("2階") and not second.consent
    assert second.note == "長い\n備考"
    assert third.mobility is Mobility.WITH_HELPER and third.address == ""
    assert found.without_position == 1
    assert "3 residents" in found.summary() and NAME not in found.summary()
    assert len(found.sha256) == 64


def test_english_headers_and_round_trip(tmp_path) -> None:
    found = residents_from_csv(write(tmp_path, GOOD))
    again = residents_from_csv(
        write(tmp_path, residents_to_csv(found.residents).decode("utf-8-sig"))
    )
    assert again.residents == found.residents


def test_every_problem_is_named_by_line_and_id_without_personal_values(tmp_path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    bad = (
        "id,name,address,lon,lat,mobility,consent,supporter_contact\n"
        f"R-1,{NAME},{ADDRESS},33.54,133.66,wheelchair,1,{CONTACT}\n"  # swapped lon/lat
        f"R-2,,{ADDRESS},,,走る,maybe,\n"  # no name, unknown mobility and consent
        f"R-3,{NAME},,,,elderly,1,\n"  # neither address nor position
        f"R-1,{NAME},{ADDRESS},133.66,33.54,elderly,0,\n"  # id again
        f"R 5,{NAME},{ADDRESS},abc,33.54,elderly,0,\n"  # bad id and bad lon
    )
    with pytest.raises(ImportFileError) as caught:
        residents_from_csv(write(tmp_path, bad))
    problems = [str(p) for p in caught.value.problems]
    text = "\n".join(problems)
    assert "line 2 (id R-1): the position is not in Japan (lon and lat look swapped)" in text
    assert "line 3 (id R-2): name is empty" in text
    assert "line 3 (id R-2): mobility is not one of" in text
    assert "line 3 (id R-2): consent must be" in text
    assert "line 4 (id R-3): give an address or both lon" in text
    assert "line 5 (id R-1): id also used on line 2" in text
    assert "line 6 (id R 5): id may use only" in text
    assert "line 6 (id R 5): lon (経度) and lat (緯度)" in text
    for secret in (NAME, ADDRESS, CONTACT, "33.54", "133.66", "走る", "maybe", "abc"):
        assert secret not in text
        assert secret not in caplog.text
    assert "refused: 7 problem(s)" in caplog.text or "refused" in caplog.text


def test_import_logs_counts_only(tmp_path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    found = residents_from_csv(write(tmp_path, GOOD))
    logging.getLogger("test").info("kept %r", found.residents[0])  # a careless log line
    for secret in (NAME, ADDRESS, CONTACT, SUPPORTER, "酸素ボンベ", "133.6601"):
        assert secret not in caplog.text
    assert "R-001" in caplog.text  # the id is what identifies a record in logs
    assert NAME not in repr(found.residents[0]) and NAME not in str(found.residents[0])


def test_shift_jis_is_refused_with_a_fix(tmp_path) -> None:
    with pytest.raises(ImportFileError, match="Shift_JIS") as caught:
        residents_from_csv(write(tmp_path, GOOD.replace("\ufeff", ""), encoding="cp932"))
    assert "CSV UTF-8" in str(caught.value)


def test_missing_columns_are_listed(tmp_path) -> None:
    with pytest.raises(ImportFileError, match=r"missing column.*mobility.*consent"):
        residents_from_csv(write(tmp_path, "id,name,address\nR-1,x,y\n"))
    with pytest.raises(ImportFileError, match=r"address or lon\+lat"):
        residents_from_csv(write(tmp_path, "id,name,mobility,consent\nR-1,x,elderly,1\n"))
    with pytest.raises(ImportFileError, match="empty"):
        residents_from_csv(write(tmp_path, ""))


@pytest.mark.parametrize(
    ("word", "mobility"),
    [
        ("独歩", Mobility.INDEPENDENT),
        ("高齢者", Mobility.ELDERLY),
        ("杖歩行", Mobility.ELDERLY),
        ("車椅子", Mobility.WHEELCHAIR),
        ("要介助", Mobility.WITH_HELPER),
        ("寝たきり", Mobility.WITH_HELPER),
        ("WHEELCHAIR", Mobility.WHEELCHAIR),
        ("介助が必要", Mobility.WITH_HELPER),
    ],
)
def test_mobility_words(word: str, mobility: Mobility) -> None:
    assert Mobility.parse(word) is mobility


def test_resident_repr_shows_only_the_id() -> None:
    person = Resident("R-9", NAME, ADDRESS, 133.6, 33.5, supporter_contact=CONTACT)
    shown = repr(person)
    assert "R-9" in shown and NAME not in shown and ADDRESS not in shown and CONTACT not in shown
    assert "133.6" not in shown
