"""L-Alert (公共情報コモンズ) 避難所情報 and 避難情報 for the city's L-Alert operator: CSV and XML.

The city's L-Alert operator re-keys or uploads the shelter situation into the L-Alert sender.
This module gives that person the fields 避難所情報 asks for, mapped through
:mod:`disaster_dx.vocab` (the one place our vocabulary meets L-Alert's):

- CSV, UTF-8 with BOM and CRLF, so Excel on Japanese Windows opens it without mojibake;
- XML, for machine hand-off or checking before sending.

The XML follows the shape of the 公共情報コモンズ 避難所情報 body (``pcx_sh:Shelter``) as
two public sender implementations build it (the NIED SaigaiTask ``PcShelterService`` and the
lgdis Redmine plug-in): ``Shelter/TotalNumber``, ``TotalNumberOfShelter``,
``Informations/Information`` with ``Location/areaName``, ``Location/Address``, ``Sort``,
``Capacity``, ``Status``, ``NumberOf/HeadCount``, ``HeadCountVoluntary``, ``Households``
(``unit="世帯"``) and ``CheckedDateTime``. The exact namespace URIs, the EDXL-DE distribution
envelope and the report head could not be confirmed from a primary source, so this is **not**
the official EDXML: elements are unqualified, under a root :data:`XML_ROOT` whose ``purpose``
attribute (and a leading comment) says what it is. Two additions beyond the body are marked as
ours: ``Location/circle`` (EDXL-DE form ``"lat,lon radius_km"``, radius 0) and ``CommonID``.
Omitted on purpose: ``Type`` (避難所種別; our 指定避難所/指定緊急避難場所/福祉避難所 have no
agreed L-Alert mapping in :mod:`disaster_dx.vocab` yet) and ``DateTime`` (開設・閉鎖日時; the
state has no closing time that corrections cannot leave stale).

避難情報 (発令・解除; :func:`evacuation_records`) follows the 避難勧告・指示 body
(``EvacuationOrder``) as the LGDIS plug-in builds it: ``Disaster/DisasterName``, ``Detail``
with ``Sort`` (発令区分), ``IssueOrLift`` (発令/解除) and ``Areas/Area/Location/areaName`` with
``DateTime``. Its namespace (``…/pcxml1/body/evacuation3`` there) and the 発令区分 words after
the 2021 reform (高齢者等避難・避難指示・緊急安全確保, which replaced 避難準備・避難勧告・避難指示)
are not confirmed from the official specification: the words are the current legal names, and
the operator should check them against the sender's form. 災害名 is the live incident's name;
an incident not named yet gives its HQ title (「七尾市 災害対策本部」: the city recorded at init).

The export shows *state*, not events: a ``shelter.correction`` changes the corrected value but
never 確認日時 (``reported_at`` moves only with status reports), so fixing a typo never looks
like a new report or a re-opening to the operator.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from lxml import etree

from disaster_dx._time import jst_minute, to_jst
from disaster_dx.areas import Area
from disaster_dx.events import EvacuationAlert, ShelterStatus, State
from disaster_dx.io.csv_out import csv_document
from disaster_dx.model import CrowdingThresholds, OpenState, Shelter
from disaster_dx.public_alerts import replaced
from disaster_dx.vocab import lalert_sort, lalert_status

log = logging.getLogger(__name__)

#: CSV columns, in order (the L-Alert 避難所情報 fields plus position and 共通ID).
COLUMNS: tuple[str, ...] = (
    "避難所名",
    "住所",
    "区分",
    "避難所状況",
    "避難者数",
    "うち自主避難者数",
    "世帯数",
    "収容人数",
    "確認日時",
    "緯度",
    "経度",
    "共通ID",
)

#: Root element of the XML; see the module docstring for why it is not the EDXML envelope.
XML_ROOT = "LAlertShelterInput"
#: What the XML is, written into it so nobody mistakes it for the official envelope.
XML_PURPOSE = "L-Alert 避難所情報 input for the operator (not the official EDXML envelope)"

_OPEN_SORTS = {lalert_sort(OpenState.OPEN), lalert_sort(OpenState.PERMANENT)}
_COUNT_ELEMENTS = (
    ("避難者数", "HeadCount"),
    ("うち自主避難者数", "HeadCountVoluntary"),
    ("世帯数", "Households"),
)


def was_opened(status: ShelterStatus) -> bool:
    """Whether a shelter is or was in use in this incident (not 未開設, or has a report).

    A shelter that was opened and then closed stays in the L-Alert list, so its 閉鎖 reaches
    the operator; a site nobody has touched would only be noise among the city's 139.
    """
    return status.open_state is not OpenState.NOT_OPEN or status.reported_at is not None


def lalert_records(
    shelters: Sequence[Shelter],
    state: State,
    *,
    thresholds: CrowdingThresholds,
    include_unopened: bool = False,
) -> list[dict[str, Any]]:
    """One record per shelter with the L-Alert 避難所情報 fields, keyed by :data:`COLUMNS`.

    Parameters
    ----------
    shelters
        The shelter master, in the order the records should have.
    state
        The incident state (a fold of its events).
    thresholds
        The city's crowding thresholds, for 避難所状況 when staff did not set crowding by hand.
    include_unopened
        Also list shelters never opened nor reported in this incident (default: only those
        :func:`was_opened`).

    Returns
    -------
    list of dict
        Counts are ``None`` when not reported (never 0). 収容人数 is the reported capacity,
        else the master's 想定収容人数. 避難所状況 is 不明 for a shelter not taking evacuees
        (not open), since it has no crowding to report. 確認日時 is the last status report in
        JST (``YYYY-MM-DD HH:MM``); corrections do not move it.
    """
    records: list[dict[str, Any]] = []
    for shelter in shelters:
        status = state.shelter(shelter.shelter_id)
        if not include_unopened and not was_opened(status):
            continue
        crowding = (
            status.crowding(thresholds, master_capacity=shelter.capacity)
            if status.open_state.is_open
            else None
        )
        capacity = status.capacity if status.capacity is not None else shelter.capacity
        records.append(
            {
                "避難所名": shelter.name,
                "住所": shelter.address,
                "区分": lalert_sort(status.open_state),
                "避難所状況": lalert_status(crowding),
                "避難者数": status.evacuees,
                "うち自主避難者数": status.voluntary_evacuees,
                "世帯数": status.households,
                "収容人数": capacity,
                "確認日時": jst_minute(status.reported_at),
                "緯度": shelter.lat,
                "経度": shelter.lon,
                "共通ID": " ".join(shelter.gsi_ids),
            }
        )
    log.debug("L-Alert records: %d of %d shelters", len(records), len(shelters))
    return records


def lalert_csv(records: Sequence[Mapping[str, Any]]) -> bytes:
    """CSV in UTF-8 with BOM and CRLF (Excel), header always present; ``None`` becomes blank.

    The header is written even with no records, so the operator sees an empty list rather
    than an empty file that looks like a failed download.
    """
    return csv_document(COLUMNS, ([record[c] for c in COLUMNS] for record in records))


def lalert_xml(
    records: Sequence[Mapping[str, Any]],
    *,
    municipality: str,
    issued_at: datetime,
    disaster_name: str = "",
) -> bytes:
    """The records as XML in the 避難所情報 body shape (UTF-8, declaration included).

    Parameters
    ----------
    records
        From :func:`lalert_records`.
    municipality
        The sending municipality, written on the root.
    issued_at
        When this list was made (aware; written in JST as ``xs:dateTime``).
    disaster_name
        The incident title for ``Disaster/DisasterName``; omitted when empty.

    Returns
    -------
    bytes
        Well-formed XML; every text goes through lxml, so names or notes containing markup
        come out as escaped text. Unknown counts and capacity are omitted elements, as the
        body format asks ("不明の場合は要素を省略"), never zeros. ``TotalNumberOfShelter`` counts
        shelters whose 区分 is 開設 or 常設 (開設避難所数).
    """
    root = etree.Element(
        XML_ROOT,
        purpose=XML_PURPOSE,
        municipality=municipality,
        issuedAt=to_jst(issued_at).isoformat(timespec="seconds"),
        generator="disaster_dx",
    )
    root.addprevious(etree.Comment(f" {XML_PURPOSE} "))
    body = etree.SubElement(root, "Shelter")
    if disaster_name:
        disaster = etree.SubElement(body, "Disaster")
        etree.SubElement(disaster, "DisasterName").text = disaster_name

    totals = etree.Element("TotalNumber")
    for column, name in _COUNT_ELEMENTS:
        known = [r[column] for r in records if r[column] is not None]
        if known:
            _count_element(totals, name, sum(known))
    if len(totals):
        body.append(totals)
    opened = sum(1 for r in records if r["区分"] in _OPEN_SORTS)
    etree.SubElement(body, "TotalNumberOfShelter").text = str(opened)

    informations = etree.SubElement(body, "Informations")
    for record in records:
        information = etree.SubElement(informations, "Information")
        location = etree.SubElement(information, "Location")
        etree.SubElement(location, "areaName").text = record["避難所名"]
        if record["住所"]:
            etree.SubElement(location, "Address").text = record["住所"]
        etree.SubElement(location, "circle").text = f"{record['緯度']},{record['経度']} 0"
        etree.SubElement(information, "Sort").text = record["区分"]
        if record["収容人数"] is not None:
            etree.SubElement(information, "Capacity").text = str(record["収容人数"])
        etree.SubElement(information, "Status").text = record["避難所状況"]
        number_of = etree.Element("NumberOf")
        for column, name in _COUNT_ELEMENTS:
            if record[column] is not None:
                _count_element(number_of, name, record[column])
        if len(number_of):
            information.append(number_of)
        if record["確認日時"]:
            etree.SubElement(information, "CheckedDateTime").text = _xml_datetime(
                record["確認日時"]
            )
        if record["共通ID"]:
            etree.SubElement(information, "CommonID").text = record["共通ID"]
    data: bytes = etree.tostring(
        root.getroottree(), xml_declaration=True, encoding="UTF-8", pretty_print=True
    )
    return data


def _count_element(parent: etree._Element, name: str, value: int) -> None:
    element = etree.SubElement(parent, name)
    element.text = str(value)
    if name == "Households":
        element.set("unit", "世帯")


def _xml_datetime(jst_text: str) -> str:
    """``YYYY-MM-DD HH:MM`` (JST) as ``xs:dateTime`` with the +09:00 offset."""
    day, minute = jst_text.split(" ")
    return f"{day}T{minute}:00+09:00"


# ---------------------------------------------------------------------------------------------
# 避難情報 (発令・解除)
# ---------------------------------------------------------------------------------------------

#: CSV columns of 避難情報, one row per area of each 発令 or 解除.
EVACUATION_COLUMNS: tuple[str, ...] = (
    "災害名",
    "発令区分",
    "警戒レベル",
    "発令・解除区分",
    "災害種別",
    "地区名",
    "地区ID",
    "日時",
    "発令日時",
    "解除日時",
)
#: Root element of the 避難情報 XML (our wrapper, as for the shelters; not the EDXML envelope).
EVACUATION_XML_ROOT = "LAlertEvacuationInput"
EVACUATION_XML_PURPOSE = "L-Alert 避難情報 input for the operator (not the official EDXML envelope)"
ISSUE, LIFT = "発令", "解除"


def evacuation_records(
    state: State, areas: Sequence[Area], *, disaster_name: str
) -> list[dict[str, Any]]:
    """One record per area of each 避難情報 of the incident, keyed by :data:`EVACUATION_COLUMNS`.

    In force: 発令 with its 発令日時. Lifted: 解除 with its 解除日時 — except a lift that
    another 避難情報 for the same hazard and area followed (raising 4 → 5 is a 発令 of 5 for
    the area, as L-Alert senders report a change of 発令区分; an all-clear it is not).
    発令区分 uses the 2021 names (高齢者等避難・避難指示・緊急安全確保); 災害名 is the
    live incident's name (its HQ title while unnamed). Ordered as the senders list them:
    発令 before 解除, highest level first.
    """
    names = {a.area_id: a for a in areas}
    alerts = list(state.alerts.values())
    public = {a.alert_id: _alert_view(a) for a in alerts}
    rows: list[tuple[tuple[int, int, str], dict[str, Any]]] = []
    for alert in alerts:
        if alert.lifted_at is not None and replaced(public[alert.alert_id], list(public.values())):
            continue
        action = ISSUE if alert.in_force else LIFT
        moment = alert.issued_at if alert.in_force else alert.lifted_at
        for area_id in alert.areas:
            area = names.get(area_id)
            record = {
                "災害名": disaster_name,
                "発令区分": alert.level.ja,
                "警戒レベル": alert.level.number,
                "発令・解除区分": action,
                "災害種別": alert.hazard.ja,
                "地区名": area.name if area else area_id,
                "地区ID": area_id,
                "日時": jst_minute(moment),
                "発令日時": jst_minute(alert.issued_at),
                "解除日時": jst_minute(alert.lifted_at),
            }
            key = (0 if alert.in_force else 1, -alert.level.number, jst_minute(moment))
            rows.append((key, record))
    rows.sort(key=lambda r: r[0])
    return [record for _, record in rows]


def _alert_view(alert: EvacuationAlert) -> dict[str, Any]:
    """The fields :func:`~disaster_dx.public_alerts.replaced` reads."""
    view: dict[str, Any] = {
        "id": alert.alert_id,
        "hazard": alert.hazard.value,
        "areas": [{"id": a} for a in alert.areas],
        "issued_at": alert.issued_at.isoformat(),
    }
    if alert.lifted_at is not None:
        view["lifted_at"] = alert.lifted_at.isoformat()
    return view


def evacuation_csv(records: Sequence[Mapping[str, Any]]) -> bytes:
    """避難情報 CSV in UTF-8 with BOM and CRLF, header always present (see :func:`lalert_csv`)."""
    return csv_document(
        EVACUATION_COLUMNS, ([record[c] for c in EVACUATION_COLUMNS] for record in records)
    )


def evacuation_xml(
    records: Sequence[Mapping[str, Any]],
    *,
    disaster_name: str,
    municipality: str,
    issued_at: datetime,
) -> bytes:
    """避難情報 as XML in the shape public L-Alert senders build the body (see the module doc).

    ``EvacuationOrder`` / ``Disaster/DisasterName`` / one ``Detail`` per (発令区分, 発令・解除)
    with ``Sort``, ``IssueOrLift`` and ``Areas/Area`` (``Location/areaName``, ``DateTime``),
    as in the LGDIS Redmine plug-in's 公共情報コモンズ sender. Ours, marked by name:
    ``AlertLevel`` (the 警戒レベル number), ``HazardType`` (災害種別; the body has no hazard
    element) and ``areaId``. No ``Object`` (対象世帯数・人数): the state does not know them.
    """
    root = etree.Element(
        EVACUATION_XML_ROOT,
        purpose=EVACUATION_XML_PURPOSE,
        municipality=municipality,
        issuedAt=to_jst(issued_at).isoformat(timespec="seconds"),
        generator="disaster_dx",
    )
    root.addprevious(etree.Comment(f" {EVACUATION_XML_PURPOSE} "))
    body = etree.SubElement(root, "EvacuationOrder")
    disaster = etree.SubElement(body, "Disaster")
    etree.SubElement(disaster, "DisasterName").text = disaster_name
    details: dict[tuple[str, str, str], etree._Element] = {}
    for record in records:
        group = (record["発令区分"], record["発令・解除区分"], record["災害種別"])
        detail = details.get(group)
        if detail is None:
            detail = details[group] = etree.SubElement(body, "Detail")
            etree.SubElement(detail, "Sort").text = record["発令区分"]
            etree.SubElement(detail, "AlertLevel").text = str(record["警戒レベル"])
            etree.SubElement(detail, "IssueOrLift").text = record["発令・解除区分"]
            etree.SubElement(detail, "HazardType").text = record["災害種別"]
            etree.SubElement(detail, "Areas")
        area = etree.SubElement(detail.find("Areas"), "Area")
        location = etree.SubElement(area, "Location")
        etree.SubElement(location, "areaName").text = record["地区名"]
        etree.SubElement(location, "areaId").text = record["地区ID"]
        etree.SubElement(area, "DateTime").text = _xml_datetime(record["日時"])
    data: bytes = etree.tostring(
        root.getroottree(), xml_declaration=True, encoding="UTF-8", pretty_print=True
    )
    return data
