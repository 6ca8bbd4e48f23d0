"""The HQ board (AG Grid) and the selected shelter's detail panel.

The board fits a 1366×768 screen: the columns HQ acts on (state, crowding, people, overdue,
who reported) come first and are sized to the grid's width, so none is cut off on the right;
short headers, with the long wording as their tooltip. A row chosen on the map is selected
and scrolled into view (``scrollTo``); the detail opens in a panel over the map's right edge,
where it is in view whatever the board's scroll.
"""

from __future__ import annotations

from typing import Any

import dash_ag_grid as dag
from dash import html

from disaster_dx.web import ids
from disaster_dx.web.staff import grid

#: (field, Japanese header, English header, header tooltip ja, en, min width px, flex)
_COLUMNS: tuple[tuple[str, str, str, str, str, int, int], ...] = (
    ("name", "避難所名", "Shelter", "", "", 140, 3),
    ("open_state", "開設状況", "State", "", "Open state", 64, 1),
    ("crowding", "混雑", "Crowd", "混雑状況", "Crowding", 60, 1),
    ("evacuees_capacity", "避難者／収容", "People / cap.", "", "People / capacity", 84, 1),
    ("stale", "報告遅れ", "Overdue", "報告が予定より遅れている避難所", "Report overdue", 70, 1),
    ("reported", "最終報告", "Last report", "", "", 64, 1),
    ("reported_by", "報告者", "By", "", "", 70, 1),
    ("needs", "要望", "Needs", "要望（!は緊急）", "Needs (! urgent)", 76, 2),
    ("staffed_label", "職員", "Staff", "職員の配置", "Staffing", 48, 1),
    ("kind", "種別", "Kind", "", "", 76, 1),
)


def board(rows: list[dict[str, Any]], lang: str) -> dag.AgGrid:
    """Every shelter as a row; overdue rows tinted and marked in words (報告遅れ 要確認)."""
    en = lang == "en"
    columns: list[dict[str, Any]] = []
    for field, ja, en_, tip_ja, tip_en, min_width, flex in _COLUMNS:
        column: dict[str, Any] = {
            "field": field,
            "headerName": en_ if en else ja,
            "minWidth": min_width,
            "flex": flex,
            # Sorting by header click; only the name has a filter box (no icons eating width).
            "filter": False,
            "suppressHeaderMenuButton": True,
        }
        tip = tip_en if en else tip_ja
        if tip:
            column["headerTooltip"] = tip
        if field == "name":
            column.update(
                {
                    "pinned": "left",
                    "floatingFilter": True,
                    "filter": "agTextColumnFilter",
                    "filterParams": {"buttons": []},
                    "tooltipField": "name",
                }
            )
        if field in ("needs", "kind"):
            column["tooltipField"] = field
        columns.append(column)
    return grid(
        ids.HQ_BOARD,
        columns,
        rows,
        lang=lang,
        height="100%",
        row_id="id",
        options={
            "rowSelection": {
                "mode": "singleRow",
                "checkboxes": False,
                "enableClickSelection": True,
            },
            "rowHeight": 30,
            "headerHeight": 34,
            "floatingFiltersHeight": 30,
        },
        rowClassRules={
            "dx-row-stale": "params.data.stale !== ''",
            "dx-row-full": "params.data.crowding_code === 'full'",
        },
        selectedRows=[],
    )


def detail(shelter_id: str | None, rows: list[dict[str, Any]], lang: str) -> Any:
    """The selected shelter's details (nothing when none is selected: the panel hides)."""
    if not shelter_id:
        return None
    row = next((r for r in rows if r["id"] == shelter_id), None)
    if row is None:
        return None
    en = lang == "en"
    pairs = (
        ("開設状況", "Open state", row["open_state"]),
        ("混雑状況", "Crowding", row["crowding"]),
        ("避難者／収容", "Evacuees / capacity", row["evacuees_capacity"]),
        ("要望", "Needs", row["needs"] or "—"),
        ("最終報告", "Last report", f"{row['reported']} {row['reported_by']}".strip()),
        ("報告遅れ", "Overdue", row["stale"] or "—"),
        ("内部メモ", "Internal note", row["internal_note"] or "—"),
    )
    return html.Div(
        [
            html.H2(row["name"], id="hq-detail-name"),
            html.Dl(
                [
                    item
                    for ja, en_, value in pairs
                    for item in (html.Dt(en_ if en else ja), html.Dd(value))
                ]
            ),
            html.A(
                "この避難所の状況を更新する" if not en else "Update this shelter",
                href=f"/hq/shelter/{shelter_id}" + ("?lang=en" if en else ""),
                className="dx-button-link",
                id="hq-detail-update",
            ),
        ]
    )
