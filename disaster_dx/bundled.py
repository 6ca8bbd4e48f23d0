"""First-run set-up: schema plus the bundled Nankoku shelter master.

``python app.py`` and ``disaster-dx init`` both call :func:`ensure_initialised`, so the app
works on a fresh clone with no other step, and running it twice changes nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path

from disaster_dx.areas import areas_from_geojson
from disaster_dx.config import BUNDLED_DATA_DIR
from disaster_dx.io.gsi import shelters_from_files
from disaster_dx.store import ImportReport, Store

log = logging.getLogger(__name__)

#: The city's GSI files shipped in ``data/gsi`` (指定避難所 and 指定緊急避難場所).
BUNDLED_SHELTER_FILES: tuple[Path, ...] = (
    BUNDLED_DATA_DIR / "gsi" / "evacuation_392049.geojson",
    BUNDLED_DATA_DIR / "gsi" / "emergency_392049.geojson",
)
#: The areas 避難情報 is issued for: 南国市全域 only (no invented 地区 boundaries).
BUNDLED_AREAS = BUNDLED_DATA_DIR / "areas.geojson"
#: The city outline (国土数値情報 行政区域), for the map frame.
CITY_OUTLINE = BUNDLED_DATA_DIR / "boundary" / "nankoku_392049.geojson"

ATTRIBUTION_GSI = "出典：国土地理院 指定緊急避難場所データ・指定避難所データ"
ATTRIBUTION_BOUNDARY = "出典：国土交通省 国土数値情報（行政区域データ）"


def import_shelter_files(store: Store, paths: list[Path], *, actor: str) -> ImportReport:
    """Import GSI shelter files as the new master (all or nothing) and report the changes."""
    result = shelters_from_files(paths)
    source = ", ".join(p.name for p in paths)
    return store.replace_shelters(
        result.shelters, source=source, actor=actor, sha256=result.sha256, notes=result.warnings
    )


def ensure_initialised(store: Store, *, actor: str = "system") -> ImportReport | None:
    """Create the schema and, if the master is empty, load the bundled Nankoku shelters."""
    store.create_schema()
    if not store.areas():
        store.replace_areas(
            areas_from_geojson(BUNDLED_AREAS), source=BUNDLED_AREAS.name, actor=actor
        )
    if store.shelters(include_inactive=True):
        return None
    report = import_shelter_files(store, list(BUNDLED_SHELTER_FILES), actor=actor)
    log.info("loaded bundled Nankoku shelter master: %s", report.summary())
    store.live_incident(actor=actor)
    return report
