"""Exports of the shelter master with live status: GeoJSON, GeoPackage, Excel-friendly CSV.

Column names follow the GSI files (施設・場所名, 住所, the hazard columns with ``1`` or blank),
so staff recognise them and another system can read them back. Only public fields leave
here: internal notes and reporter names do not.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from disaster_dx._files import write_atomic
from disaster_dx.events import State
from disaster_dx.io.csv_out import csv_document
from disaster_dx.model import (
    GSI_HAZARD_COLUMNS,
    SHELTER_KIND_ORDER,
    CrowdingThresholds,
    Shelter,
)

#: Export formats by name, with their file extension.
FORMATS = {"geojson": ".geojson", "gpkg": ".gpkg", "csv": ".csv"}


def shelter_records(
    shelters: Sequence[Shelter], state: State, *, thresholds: CrowdingThresholds
) -> list[dict[str, Any]]:
    """One flat record per site: master fields, hazard flags, public live status."""
    records = []
    for shelter in shelters:
        status = state.shelter(shelter.shelter_id)
        crowding = status.crowding(thresholds, master_capacity=shelter.capacity)
        record: dict[str, Any] = {
            "shelter_id": shelter.shelter_id,
            "共通ID": " ".join(shelter.gsi_ids),
            "施設・場所名": shelter.name,
            "住所": shelter.address,
            "種別": "・".join(k.ja for k in SHELTER_KIND_ORDER if k in shelter.kinds),
            **{
                column: "1" if h in shelter.hazards else ""
                for h, column in GSI_HAZARD_COLUMNS.items()
            },
            "想定収容人数": shelter.capacity,
            "開設状況": status.open_state.ja,
            "混雑状況": crowding.ja if crowding else "不明",
            "避難者数": status.evacuees,
            "うち自主避難者数": status.voluntary_evacuees,
            "世帯数": status.households,
            "ペット同行": _yes_no(status.pets_accepted),
            "バリアフリー": _yes_no(status.barrier_free),
            "お知らせ": status.public_note,
            "更新日時": status.reported_at.isoformat() if status.reported_at else "",
            "経度": shelter.lon,
            "緯度": shelter.lat,
        }
        records.append(record)
    return records


def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("可" if value else "不可")


def export_shelters(
    shelters: Sequence[Shelter],
    state: State,
    path: Path,
    *,
    fmt: str,
    thresholds: CrowdingThresholds,
) -> int:
    """Write the export atomically (temp file + rename) and return the number of sites."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    records = shelter_records(shelters, state, thresholds=thresholds)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "geojson":
        write_atomic(path, geojson_bytes(records), mode=0o644)
    elif fmt == "csv":
        write_atomic(path, csv_bytes(records), mode=0o644)
    else:
        _write_gpkg(records, path)
    return len(records)


def geojson_bytes(records: Sequence[dict[str, Any]]) -> bytes:
    """FeatureCollection in [lon, lat] order, UTF-8, Japanese left readable."""
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [r["経度"], r["緯度"]]},
            "properties": {k: v for k, v in r.items() if k not in ("経度", "緯度")},
        }
        for r in records
    ]
    collection = {"type": "FeatureCollection", "features": features}
    return json.dumps(collection, ensure_ascii=False, indent=1).encode("utf-8")


def csv_bytes(records: Sequence[dict[str, Any]]) -> bytes:
    """CSV in UTF-8 with BOM and CRLF for Excel, through the one writer's formula guard."""
    if not records:
        return "".encode("utf-8-sig")
    header = list(records[0])
    return csv_document(header, ([record.get(k) for k in header] for record in records))


def _write_gpkg(records: Sequence[dict[str, Any]], path: Path) -> None:
    import geopandas as gpd  # heavy: only the GeoPackage export needs it
    import shapely

    frame = gpd.GeoDataFrame(
        [{k: v for k, v in r.items() if k not in ("経度", "緯度")} for r in records],
        geometry=shapely.points([r["経度"] for r in records], [r["緯度"] for r in records]),
        crs="EPSG:4326",
    )
    temp = path.with_name(f".{path.stem}.tmp.gpkg")  # GDAL wants the .gpkg suffix
    temp.unlink(missing_ok=True)
    frame.to_file(temp, driver="GPKG", layer="shelters")
    os.replace(temp, path)
