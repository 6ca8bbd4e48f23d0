"""First-run set-up: schema, the city, and (for Nankoku only) the bundled shelter master.

``python app.py`` and ``disaster-dx init`` both call :func:`ensure_initialised`, so the app
works on a fresh clone with no other step, and running it twice changes nothing. The city is
recorded in the database by its 全国地方公共団体コード; only 南国市 (392049), the bundled example,
gets the bundled shelters, areas and outline. Any other city starts empty and imports its own
(``disaster-dx import-shelters``, ``import-boundary``): nothing of Nankoku's is inherited.
"""

from __future__ import annotations

import logging
from pathlib import Path

from disaster_dx.areas import (
    SHELTER_FILE_AREA_PREFIX,
    Area,
    areas_from_geojson,
    areas_from_shelters,
    whole_city_area,
)
from disaster_dx.city import NANKOKU_CODE, City
from disaster_dx.config import BUNDLED_DATA_DIR
from disaster_dx.io.boundary import outline_from_n03
from disaster_dx.io.gsi import shelters_from_files
from disaster_dx.store import ImportReport, Store

log = logging.getLogger(__name__)

#: Nankoku's GSI files shipped in ``data/gsi`` (指定避難所 and 指定緊急避難場所).
BUNDLED_SHELTER_FILES: tuple[Path, ...] = (
    BUNDLED_DATA_DIR / "gsi" / "evacuation_392049.geojson",
    BUNDLED_DATA_DIR / "gsi" / "emergency_392049.geojson",
)
#: Nankoku's areas for 避難情報: 南国市全域 only (no invented 地区 boundaries).
BUNDLED_AREAS = BUNDLED_DATA_DIR / "areas.geojson"
#: Nankoku's outline (国土数値情報 行政区域), loaded into the store at set-up.
CITY_OUTLINE = BUNDLED_DATA_DIR / "boundary" / "nankoku_392049.geojson"

ATTRIBUTION_GSI = "出典：国土地理院 指定緊急避難場所データ・指定避難所データ"
ATTRIBUTION_BOUNDARY = "出典：国土交通省 国土数値情報（行政区域データ）"


def import_shelter_files(store: Store, paths: list[Path], *, actor: str) -> ImportReport:
    """Import shelter files as the new master (all or nothing) and report the changes.

    When the files name 地区 or 対象となる町会・自治会, those become areas for 避難情報 (listed
    sets of the stored shelters), replacing the areas an earlier shelter file gave; areas
    imported with ``import-areas`` and 全域 are kept.
    """
    result = shelters_from_files(paths, city_code=store.city().code)
    source = ", ".join(p.name for p in paths)
    report = store.replace_shelters(
        result.shelters, source=source, actor=actor, sha256=result.sha256, notes=result.warnings
    )
    refresh_shelter_file_areas(store, actor=actor)
    return report


def refresh_shelter_file_areas(store: Store, *, actor: str) -> int:
    """Re-derive the areas named in the shelter master; returns how many there are now."""
    derived = areas_from_shelters(store.shelters())
    current = store.areas()
    kept = [a for a in current if not a.area_id.startswith(SHELTER_FILE_AREA_PREFIX)]
    previous = [a for a in current if a.area_id.startswith(SHELTER_FILE_AREA_PREFIX)]
    if derived == previous:
        return len(derived)
    if not any(a.whole_city for a in kept):
        kept.insert(0, _whole_city(store.city()))
    taken = {a.area_id for a in kept}
    store.replace_areas(
        [*kept, *(a for a in derived if a.area_id not in taken)],
        source="shelter master (地区・対象となる町会・自治会)",
        actor=actor,
    )
    return len(derived)


def import_boundary_file(store: Store, path: Path, *, actor: str) -> None:
    """Store the city's outline from an N03 GeoJSON (all or nothing; the city's features)."""
    geometry = outline_from_n03(path, store.city())
    store.set_city_outline(geometry, source=f"{path.name}（{ATTRIBUTION_BOUNDARY}）", actor=actor)


def _whole_city(city: City) -> Area:
    return whole_city_area(city.name, city_name_en=city.name_en, city_name_easy=city.kana)


def ensure_initialised(
    store: Store, *, actor: str = "system", city: City | None = None
) -> ImportReport | None:
    """Create the schema, record the city, and load Nankoku's bundled data for 392049 only.

    ``city`` is the city asked for (``init --city``, ``CITY_CODE``); ``None`` keeps the one
    recorded (南国市 on a database that has none). A database recorded for another city is
    refused (:meth:`Store.set_city`). Returns the import report when shelters were loaded.
    """
    store.create_schema()
    city = city or store.city()
    store.set_city(city, actor=actor)
    nankoku = city.code == NANKOKU_CODE
    if not store.areas():
        areas = areas_from_geojson(BUNDLED_AREAS) if nankoku else [_whole_city(city)]
        source = BUNDLED_AREAS.name if nankoku else "init"
        store.replace_areas(areas, source=source, actor=actor, if_empty=True)
    if nankoku and store.city_outline() is None:
        import_boundary_file(store, CITY_OUTLINE, actor=actor)
    report = None
    if nankoku and not store.shelters(include_inactive=True):
        report = import_shelter_files(store, list(BUNDLED_SHELTER_FILES), actor=actor)
        log.info("loaded bundled Nankoku shelter master: %s", report.summary())
        store.live_incident(actor=actor)
    return report
