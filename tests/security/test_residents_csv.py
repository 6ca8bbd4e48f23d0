"""The 要支援者 CSV carries the formula guard and still reads back exactly.

The residents CSV is the one CSV the project both writes and reads. A name or note typed as
``=HYPERLINK(…)`` must stay text in Excel, and export → import must give the same residents, so
the guard is the reversible pair ``guard_text`` / ``unguard_text`` of ``io/csv_out``.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from disaster_dx.io.csv_out import FORMULA_START, guard_text, unguard_text
from disaster_dx.io.residents import (
    MAX_TEXT,
    Mobility,
    Resident,
    Supporter,
    parse_needs,
    residents_from_csv,
    residents_to_csv,
)
from tests.security.test_csv_formulas import PAYLOADS


def _cells(data: bytes) -> list[str]:
    rows = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    return [cell for row in rows for cell in row]


def _read_back(tmp_path: Path, data: bytes) -> tuple[Resident, ...]:
    path = tmp_path / "residents.csv"
    path.write_bytes(data)
    return residents_from_csv(path).residents


@pytest.mark.parametrize("payload", PAYLOADS)
def test_formula_cells_are_guarded_and_read_back_as_typed(tmp_path: Path, payload: str) -> None:
    typed = payload.strip()  # the importer strips surrounding blanks, so this is what it keeps
    person = Resident(
        resident_id="-1",  # an id may start with "-" too
        name=typed,
        address=typed,
        lon=133.6601,
        lat=33.5401,
        mobility=Mobility.WHEELCHAIR,
        needs=parse_needs(typed),  # as the importer splits them (、 , ; /)
        supporter_name="'" + typed,  # already starting with an apostrophe
        supporter_contact="'Brien",
        consent=True,
        building_id="@b1",
        note=typed,
    )
    data = residents_to_csv([person])
    formula_cells = [c for c in _cells(data) if c.startswith(FORMULA_START)]
    assert not formula_cells
    assert _read_back(tmp_path, data) == (person,)


def test_a_hand_made_file_keeps_its_apostrophes(tmp_path: Path) -> None:
    path = tmp_path / "residents.csv"
    path.write_text("id,name,address,mobility,consent\nR1,'Brien,南国市,自立,1\n", "utf-8")
    (person,) = residents_from_csv(path).residents
    assert person.name == "'Brien"  # only the apostrophe the guard adds is ever removed


@given(st.text(max_size=20))
def test_unguard_undoes_guard_for_any_text(text: str) -> None:
    assert unguard_text(guard_text(text)) == text
    assert not guard_text(text).startswith(FORMULA_START)


def _clean(text: str, limit: int) -> str:
    """Text as the importer keeps it: NFC, no surrounding blanks, no control characters."""
    text = unicodedata.normalize("NFC", text).replace("\r", "")
    text = "".join(c for c in text if ord(c) >= 32 or c in "\n\t")
    return text[:limit].strip()


_CHARS = st.characters(codec="utf-8", exclude_categories=("Cs",))
_TEXT = st.text(_CHARS | st.sampled_from(["=", "+", "-", "@", "'", "\t", ",", '"']), max_size=12)


@st.composite
def residents(draw: st.DrawFn) -> Resident:
    located = draw(st.booleans())
    address = _clean(draw(_TEXT), MAX_TEXT["address"])
    if not located and not address:
        address = "南国市"
    name = _clean(draw(_TEXT), MAX_TEXT["name"]) or "名"
    needs = parse_needs(_clean(draw(_TEXT), MAX_TEXT["needs"]))
    return Resident(
        resident_id=draw(st.from_regex(r"\A[-+@'0-9A-Za-z_.]{1,10}\Z").filter(_valid_id)),
        name=name,
        address=address,
        lon=draw(st.floats(122.0, 154.5)) if located else None,
        lat=draw(st.floats(20.0, 46.0)) if located else None,
        mobility=draw(st.sampled_from(list(Mobility))),
        needs=needs,
        supporter_name=_clean(draw(_TEXT), MAX_TEXT["supporter_name"]),
        supporter_contact=_clean(draw(_TEXT), MAX_TEXT["supporter_contact"]),
        consent=draw(st.booleans()),
        building_id=_clean(draw(_TEXT), MAX_TEXT["building_id"]) or None,
        note=_clean(draw(_TEXT), MAX_TEXT["note"]),
        **_yoshiki(draw),
    )


def _yoshiki(draw: st.DrawFn) -> dict[str, Any]:
    """The 様式's optional fields, as the importer keeps them (valid combinations only)."""
    emergency_name = _clean(draw(_TEXT), MAX_TEXT["emergency_name"])
    relation = _clean(draw(_TEXT), MAX_TEXT["emergency_relation"])
    created = draw(st.none() | st.dates(date(1990, 1, 1), date(2100, 1, 1)))
    review = draw(st.none() | st.dates(created or date(1990, 1, 1), date(2100, 12, 31)))
    plan_consent = draw(st.none() | st.booleans())
    supporters = draw(
        st.lists(st.builds(Supporter, _TEXT.map(lambda t: _clean(t, 100)).filter(bool),
                           _TEXT.map(lambda t: _clean(t, 200))), max_size=2)
    )  # fmt: skip
    return {
        "emergency_name": emergency_name,
        "emergency_relation": relation,
        "emergency_phone": draw(st.from_regex(r"\A(0[0-9]{1,4}-[0-9]{2,4}-[0-9]{4})\Z"))
        if emergency_name or relation or draw(st.booleans())
        else "",
        "considerations": _clean(draw(_TEXT), MAX_TEXT["considerations"]),
        "carry_items": parse_needs(_clean(draw(_TEXT), MAX_TEXT["carry_items"])),
        "supporters": tuple(supporters),
        "created_on": created,
        "review_on": review,
        "plan_consent": plan_consent,
        "plan_consent_on": draw(st.none() | st.dates(date(1990, 1, 1))) if plan_consent else None,
    }


def _valid_id(text: str) -> bool:
    return all(c.isascii() and (c.isalnum() or c in "_.-") for c in text)


@settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.lists(residents(), max_size=4, unique_by=lambda r: r.resident_id))
def test_export_then_import_gives_the_same_residents(tmp_path: Path, people) -> None:
    data = residents_to_csv(people)
    assert not [c for c in _cells(data) if c.startswith(FORMULA_START)]
    if people:
        assert _read_back(tmp_path, data) == tuple(people)
