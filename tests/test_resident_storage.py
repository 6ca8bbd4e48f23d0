"""Resident storage keeps every 個別避難計画 様式 field, for planners only, audited by id."""

from __future__ import annotations

import dataclasses
import json
from datetime import date

import pytest

from disaster_dx import auth
from disaster_dx.bundled import ensure_initialised
from disaster_dx.plans import NotPermitted, read_resident, read_residents, save_residents
from disaster_dx.residents import Mobility, Resident, Supporter
from tests.conftest import add_staff_user

PERSON = Resident(
    "Y-1",
    "架空 様式子",
    "南国市（架空）様式町1-1",
    133.66,
    33.54,
    Mobility.WHEELCHAIR,
    ("酸素",),
    "架空 支援一",
    "090-0000-0001",
    True,
    None,
    "メモ",
    emergency_name="架空 長女",
    emergency_relation="長女",
    emergency_phone="088-000-0000",
    considerations="筆談で",
    carry_items=("お薬手帳", "酸素ボンベ"),
    supporters=(Supporter("架空 支援二", "090-0000-0002"), Supporter("架空 支援三")),
    created_on=date(2025, 4, 1),
    review_on=date(2026, 4, 1),
    plan_consent=True,
    plan_consent_on=date(2025, 4, 2),
)


def test_every_yoshiki_field_round_trips_and_changes_are_noticed(store) -> None:
    ensure_initialised(store)
    add_staff_user(store, "plan1", "planner")
    add_staff_user(store, "hq1", "hq")
    planner, hq = auth.get_user(store, "plan1"), auth.get_user(store, "hq1")
    blank = Resident("Y-2", "架空 空欄", "南国市（架空）")
    save_residents(store, [PERSON, blank], planner, source="y.csv")
    assert read_resident(store, planner, "Y-1", purpose="test") == PERSON
    assert read_resident(store, planner, "Y-2", purpose="test") == blank  # None stays None
    with pytest.raises(NotPermitted):
        read_residents(store, hq, purpose="test")
    later = dataclasses.replace(PERSON, review_on=date(2027, 4, 1))
    report = save_residents(store, [later, blank], planner, source="z.csv")
    assert report.changed == ("Y-1",)
    log = json.dumps(store.audit_log(limit=50), ensure_ascii=False, default=str)
    for secret in ("架空 長女", "088-000-0000", "筆談で", "お薬手帳", "架空 支援二"):
        assert secret not in log
