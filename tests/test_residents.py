"""The 要支援者 CSV import: formats, row-numbered problems, and no personal data in logs."""

from __future__ import annotations

import logging
from datetime import date

import pytest

from disaster_dx.errors import ImportFileError
from disaster_dx.io.residents import (
    Mobility,
    Resident,
    Supporter,
    residents_from_csv,
    residents_to_csv,
)

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


# -- the 個別避難計画 様式's fields ---------------------------------------------------------------

YOSHIKI = (
    "管理番号,氏名,住所,移動区分,同意,緊急連絡先氏名,緊急連絡先続柄,緊急連絡先電話番号,配慮事項,持ち出し品,"
    "支援者2氏名,支援者2連絡先,作成日,見直し日,計画提供同意,同意日\r\n"
    f"R-001,{NAME},{ADDRESS},車いす,1,架空 長男,長男,０８８-０００-１２３４,筆談で,"
    "お薬手帳、補聴器,支援 二郎,090-0000-0002,令和7年4月1日,2026/4/1,はい,2025-04-02\r\n"
    f"R-002,{NAME},{ADDRESS},高齢,0,,,,,,,,,,,\r\n"
)


def test_yoshiki_columns_are_read(tmp_path) -> None:
    first, second = residents_from_csv(write(tmp_path, YOSHIKI)).residents
    assert (first.emergency_name, first.emergency_relation) == ("架空 長男", "長男")
    assert first.emergency_phone == "088-000-1234"  # full-width digits as typed, normalised
    assert first.considerations == "筆談で" and first.carry_items == ("お薬手帳", "補聴器")
    assert first.supporters == (Supporter("支援 二郎", "090-0000-0002"),)
    assert (first.created_on, first.review_on) == (date(2025, 4, 1), date(2026, 4, 1))
    assert (first.plan_consent, first.plan_consent_on) == (True, date(2025, 4, 2))
    assert second.plan_consent is None and second.created_on is None  # blank: not yet asked
    again = residents_from_csv(
        write(tmp_path, residents_to_csv([first, second]).decode("utf-8-sig"))
    )
    assert again.residents == (first, second)


def test_yoshiki_problems_are_located_without_values(tmp_path) -> None:
    bad = (
        "id,name,address,mobility,consent,emergency_name,emergency_phone,created_on,review_on,"
        "plan_consent,plan_consent_on,supporter2_contact\n"
        f"R-1,{NAME},{ADDRESS},elderly,1,架空 家族,{CONTACT}x,2025-02-30,,1,,\n"
        f"R-2,{NAME},{ADDRESS},elderly,1,架空 家族,,2025-04-01,2025-03-01,たぶん,2025-04-01,"
        f"{CONTACT}\n"
    )
    with pytest.raises(ImportFileError) as caught:
        residents_from_csv(write(tmp_path, bad))
    text = "\n".join(str(p) for p in caught.value.problems)
    assert "line 2 (id R-1): emergency_phone is not a phone number" in text
    assert "line 2 (id R-1): created_on is not a date" in text
    assert "line 3 (id R-2): an emergency contact is given without emergency_phone" in text
    assert "line 3 (id R-2): review_on (見直し日) is before created_on (作成日)" in text
    assert "line 3 (id R-2): plan_consent must be blank" in text
    assert "line 3 (id R-2): plan_consent_on (同意日) is given but plan_consent is not yes" in text
    assert "line 3 (id R-2): supporter2_contact is given without a name" in text
    for secret in (NAME, CONTACT, "架空 家族", "2025-02-30", "たぶん"):
        assert secret not in text


def test_more_supporters_than_the_csv_holds_is_refused_not_dropped() -> None:
    crowded = Resident("R-9", NAME, supporters=tuple(Supporter(f"s{k}") for k in range(3)))
    with pytest.raises(ValueError, match="R-9"):
        residents_to_csv([crowded])


def test_domain_types_live_in_the_core_and_are_re_exported() -> None:
    from disaster_dx import residents as core
    from disaster_dx.io import residents as io_residents

    assert io_residents.Resident is core.Resident and io_residents.Mobility is core.Mobility
    assert core.Resident.__module__ == "disaster_dx.residents"
