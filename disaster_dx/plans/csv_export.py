"""Every resident's plan for every hazard as one CSV, for the city's 要支援者 system (Excel).

One row per resident and hazard (:data:`~disaster_dx.plans.PLAN_HAZARDS`), with the 様式's
fields and the plan's result; the columns are :data:`COLUMNS` and are documented in
``docs/plans_csv.md``. The file is UTF-8 with a BOM and CRLF line ends and every text cell goes
through the project's one CSV writer (:func:`~disaster_dx.io.csv_out.csv_document`), so a name
typed as ``=HYPERLINK(…)`` stays text in Excel.

The CSV holds personal data: :func:`plans_csv` reads residents through the
:class:`~disaster_dx.plans.Planner` (planner/admin only, every read audit-logged with its
purpose) and writes one ``plans.export`` audit entry with the counts and ids (never names).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from disaster_dx.auth import User
from disaster_dx.errors import DisasterDxError
from disaster_dx.io.csv_out import csv_document
from disaster_dx.model import Hazard
from disaster_dx.plans import PLAN_HAZARDS, Mode, Plan, Planner
from disaster_dx.plans.sheet import STATUS_WORDS, alt_destination, depth_text, trigger_text
from disaster_dx.residents import Resident

#: Further supporters after the first that get their own columns (as in the residents CSV).
SUPPORTER_COLUMNS = 3

#: (header, meaning) of every column, in order; ``docs/plans_csv.md`` is the same list.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("管理番号", "the city's id of the resident"),
    ("氏名", "name"),
    ("住所", "address"),
    ("経度", "home longitude (EPSG:4326), blank when only the address is known"),
    ("緯度", "home latitude"),
    ("移動区分", "mobility code: independent, elderly, wheelchair, with_helper"),
    ("必要な支援", "needs, separated by 、"),
    ("配慮事項", "considerations for supporters"),
    ("持ち出し品", "items to take, separated by 、"),
    *(
        column
        for k in range(1, SUPPORTER_COLUMNS + 1)
        for column in (
            (f"避難支援等実施者{k}氏名", f"supporter {k}: name"),
            (f"避難支援等実施者{k}連絡先", f"supporter {k}: contact"),
        )
    ),
    ("緊急連絡先氏名", "emergency contact: name"),
    ("緊急連絡先続柄", "emergency contact: relation"),
    ("緊急連絡先電話番号", "emergency contact: phone"),
    ("名簿提供同意", "1/0: consent to share the list (災害対策基本法 49条の11)"),
    ("計画提供同意", "1/0, blank = not yet asked: consent to share the plan (49条の15)"),
    ("同意日", "day of the plan consent, YYYY-MM-DD"),
    ("作成日", "day the plan was made, YYYY-MM-DD"),
    ("見直し日", "day the plan is to be reviewed, YYYY-MM-DD"),
    ("災害種別", "hazard code: tsunami, flood, storm_surge, inland_flood"),
    ("災害種別名", "hazard in Japanese"),
    ("計画の条件", "scenario: designated (all designated sites) or live (open now)"),
    ("判定", "status code: reachable, vertical, late, outside, check"),
    ("判定名", "status in Japanese (as on the sheet)"),
    ("避難開始のタイミング", "when to start evacuating (the rule in docs/plans_csv.md)"),
    ("第一避難先ID", "shelter id, or building:<id> for a 津波避難ビル"),
    ("第一避難先", "name of the first destination"),
    ("道のり_m", "walking distance in metres"),
    ("歩く時間_分", "walking minutes at the resident's speed"),
    ("準備時間_分", "minutes before leaving (assumed per mobility class)"),
    ("津波到達・浸水開始までの時間_分", "assumed minutes until the hazard arrives; blank = none"),
    ("余裕_分", "arrival − preparation − walking; negative = too late"),
    ("第二避難先ID", "id of the second destination, blank when none"),
    ("第二避難先", "name of the second destination, blank when none"),
    ("第二避難先道のり_m", "walking distance to the second destination"),
    ("屋内安全確保", "vertical verdict code: safe, not_safe, unknown"),
    ("屋内安全確保の理由", "reason in Japanese"),
    ("想定浸水深", "expected depth as text (one value, a class range or 以上)"),
    ("想定浸水深下限_m", "lower bound of the depth class, metres"),
    ("想定浸水深上限_m", "upper bound; blank when unknown or unbounded"),
    ("架空データ", "1 when made from the synthetic demo data"),
)
HEADER: tuple[str, ...] = tuple(name for name, _ in COLUMNS)


@dataclass(frozen=True)
class PlansExport:
    """The CSV bytes and what is in them (counts and ids, for the audit entry)."""

    data: bytes
    rows: int
    resident_ids: tuple[str, ...]
    hazards: tuple[Hazard, ...]
    synthetic: bool


def plans_csv(
    planner: Planner,
    user: User,
    *,
    mode: Mode = "designated",
    hazards: Sequence[Hazard] = PLAN_HAZARDS,
    purpose: str = "plans.export.csv",
) -> PlansExport:
    """All residents × ``hazards`` as CSV (planner/admin; audited as a sensitive read).

    Raises
    ------
    disaster_dx.plans.NotPermitted
        ``user`` may not read residents (the refusal is audit-logged).
    DisasterDxError
        No road network is loaded yet.
    """
    store = planner.store
    state = None
    if mode == "live":
        state = store.state(store.live_incident(actor="plans").incident_id)
    rows: list[list[Any]] = []
    ids: set[str] = set()
    synthetic = False
    for hazard in hazards:
        scenario = planner.scenario_for(hazard, mode=mode, state=state)
        run = planner.compute(user, scenario, purpose=purpose, state=state)
        if run is None:
            raise DisasterDxError(
                "no road network yet: run disaster-dx import-roads (or demo-district)"
            )
        synthetic = synthetic or run.data.synthetic
        by_id = {r.resident_id: r for r in run.residents}
        for i in range(len(run.plans)):
            plan = run.plans.plan(i)
            resident = by_id.get(plan.resident_id)
            if resident is None:  # removed between the two reads: not exported
                continue
            ids.add(plan.resident_id)
            rows.append(_row(plan, resident, synthetic=run.data.synthetic))
    rows.sort(key=lambda r: (str(r[0]), HAZARD_ORDER.get(str(r[HEADER.index("災害種別")]), 99)))
    exported = tuple(sorted(ids))
    store.audit(
        user.username,
        "plans.export",
        target="plans_all.csv",
        detail={
            "purpose": purpose,
            "mode": mode,
            "hazards": [h.value for h in hazards],
            "rows": len(rows),
            "count": len(exported),
            "ids": list(exported[:200]),
        },
    )
    return PlansExport(csv_document(HEADER, rows), len(rows), exported, tuple(hazards), synthetic)


HAZARD_ORDER = {h.value: k for k, h in enumerate(PLAN_HAZARDS)}


def _number(value: float | None, digits: int = 0) -> float | int | str:
    if value is None or not math.isfinite(value):
        return ""
    return round(value) if digits == 0 else round(value, digits)


def _day(value: Any) -> str:
    return "" if value is None else value.isoformat()


def _row(plan: Plan, resident: Resident, *, synthetic: bool) -> list[Any]:
    scenario = plan.scenario
    supporters = resident.all_supporters
    supporter_cells: list[str] = []
    for k in range(SUPPORTER_COLUMNS):
        if k < len(supporters):
            supporter_cells += [supporters[k].name, supporters[k].contact]
        else:
            supporter_cells += ["", ""]
    if len(supporters) > SUPPORTER_COLUMNS:  # never drop one silently: the last cell lists them
        rest = "、".join(f"{s.name} {s.contact}".strip() for s in supporters[SUPPORTER_COLUMNS:])
        supporter_cells[-1] = f"{supporter_cells[-1]}（他：{rest}）"
    alt, alt_length = alt_destination(plan)
    destination = plan.destination
    upper = plan.depth_upper_m
    return [
        resident.resident_id,
        resident.name,
        resident.address,
        "" if resident.lon is None else resident.lon,
        "" if resident.lat is None else resident.lat,
        resident.mobility.value,
        "、".join(resident.needs),
        resident.considerations,
        "、".join(resident.carry_items),
        *supporter_cells,
        resident.emergency_name,
        resident.emergency_relation,
        resident.emergency_phone,
        1 if resident.consent else 0,
        "" if resident.plan_consent is None else int(resident.plan_consent),
        _day(resident.plan_consent_on),
        _day(resident.created_on),
        _day(resident.review_on),
        scenario.hazard.value,
        scenario.hazard.ja,
        scenario.mode,
        plan.status.value,
        STATUS_WORDS[plan.status],
        trigger_text(plan, resident),
        destination.destination_id if destination else "",
        destination.name if destination else "",
        _number(plan.length_m),
        "" if plan.minutes is None else math.ceil(plan.minutes),
        _number(plan.preparation_min),
        _number(scenario.arrival_minutes),
        "" if plan.margin_min is None else math.floor(plan.margin_min),
        alt.destination_id if alt else "",
        alt.name if alt else "",
        _number(alt_length) if alt else "",
        plan.vertical.value,
        plan.vertical_reason.ja,
        depth_text(plan),
        _number(plan.depth_lower_m, 2),
        _number(upper, 2),
        1 if synthetic else 0,
    ]
