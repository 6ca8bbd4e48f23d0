"""PLATEAU CityGML buildings in: footprints, heights and disaster-risk attributes out.

:func:`buildings_from_citygml` streams PLATEAU ``bldg`` files (city files run to gigabytes) with
``lxml.etree.iterparse``, one ``bldg:Building`` at a time, and returns one GeoDataFrame row per
building in lon/lat (EPSG:4326). :func:`write_buildings` writes that frame to a GeoPackage.
:func:`read_tiles` reads the same input one tile (mesh) at a time, and
:func:`disaster_dx.plans.building_import.import_buildings` stores tiles for plans, adding or
replacing each tile and leaving the others (what ``disaster-dx import-buildings`` runs).
Inputs are files, folders and PLATEAU zips as distributed (``udx/bldg/*.gml`` and
``codelists/``).

Modules: :mod:`.tiles` (inputs, zips, tiles), :mod:`.reader` (streaming one file),
:mod:`.attributes` (one building, its parts), :mod:`.geometry` (footprints),
:mod:`.codelists` (the dataset's code lists), :mod:`.codes` (national tables),
:mod:`.frame` (columns, GeoPackage), :mod:`.importer` (reading); storing is
:mod:`disaster_dx.plans.building_import`.

What is read, per building
--------------------------
- ids: ``gml:id`` and the city's building id (``uro:buildingIDAttribute/uro:BuildingIDAttribute/
  uro:buildingID``; in the 2020 layout ``gen:stringAttribute name="建物ID"``);
- ``bldg:measuredHeight``, ``bldg:storeysAboveGround``/``storeysBelowGround``, ``bldg:usage``,
  ``uro:buildingStructureType`` (in ``uro:BuildingDetailAttribute`` or the older
  ``uro:BuildingDetails``), with Japanese labels from the national code lists;
- disaster risk, one record per source (river, scale, scenario): tsunami, river flooding,
  high tide (高潮), inland flooding (内水) and landslide (土砂災害). i-UR 1.4/2.0/3.0 nest
  ``uro:Building<Kind>RiskAttribute`` in ``uro:buildingDisasterRiskAttribute``; i-UR 3.1/3.2
  nest ``uro:<Kind>RiskAttribute`` in ``uro:bldgDisasterRiskAttribute``. Elements are matched by
  local name, so any ``uro`` namespace version is accepted. The 2020 layout's
  ``gen:genericAttributeSet`` (``浸水ランク``, ``浸水深``, ``規模``, ``継続時間``; ``区域区分``,
  ``現象区分``) is read too, the hazard told from the set's name (津波, 高潮, 内水, 土砂, else
  river flooding).
- footprint, from the first usable of ``bldg:lod0FootPrint``, ``bldg:lod0RoofEdge``, the lowest
  horizontal face(s) of ``bldg:lod1Solid``, and the LOD2 ``bldg:GroundSurface`` faces; a
  building made of ``bldg:BuildingPart`` s gets the union of its parts' footprints (and their
  greatest height and storeys, the structure when they agree, the first name and usage, when
  the building itself has none; and every part's hazard records, so each hazard's summary is
  the worst over the building and its parts).

Columns
-------
``building_id``, ``gml_id``, ``name``, ``height_m``, ``storeys``, ``storeys_below``,
``structure``/``structure_ja`` and ``usage``/``usage_ja`` (code and label); per depth hazard
(``tsunami``, ``flood`` = river flooding, ``high_tide``, ``inland_flood``) ``<h>_depth_m``,
``<h>_rank``, ``<h>_depth_lower_m``, ``<h>_depth_upper_m`` and ``<h>_sources`` (a list of
:class:`RiskSource`), plus ``flood_duration_h``; ``landslide`` (the phenomena, e.g.
``土石流``), ``landslide_area`` (the strictest designated area) and ``landslide_sources``;
``footprint_source`` (which element gave the footprint), ``source_file``, ``tile`` (the mesh
code, see :func:`tile_of`) and ``geometry``. Integers are pandas ``Int64`` (nullable).

Conventions
-----------
- Axis order comes from ``srsName`` (on the geometry, else the file's ``gml:Envelope``, else
  PLATEAU's EPSG:6697): JGD2011 (EPSG:6697, 6668) and WGS 84 written as an EPSG URN or
  ``/def/crs/EPSG/0/…`` URL are latitude first, as EPSG defines them; a bare ``EPSG:4326``,
  ``…epsg.xml#4326`` and CRS84 are longitude first, as GIS software writes them. JGD2011 is
  stored as EPSG:4326 without a datum shift (they agree to well under a metre). Any other CRS is
  refused with an :class:`~disaster_dx.errors.ImportFileError`.
- Missing means unknown: an absent attribute is ``None``/``NaN``/``<NA>``, never zero, and so
  are PLATEAU's "unknown" sentinels (``storeysAboveGround`` 9999, ``measuredHeight`` -9999,
  negative depths). A building without a flood attribute is *not known to be dry*: PLATEAU only
  attaches risk attributes where a hazard map covers the building.
- Per hazard, ``*_depth_m`` is the greatest depth over all sources, ``*_rank`` the greatest rank
  (浸水ランク, national code list 1–6), and ``*_depth_upper_m`` the greatest depth the water may
  reach: each source's depth, or when a source gives only a rank, that rank's upper limit
  (``inf`` for rank 6, 20 m or more). ``rankOrg`` is a city-specific code list: it is kept raw,
  and decoded with the dataset's ``codelists/`` when they are found: its class (e.g.
  ``1m以上2m未満``) then bounds the depth. ``*_depth_lower_m`` is the greatest least depth over
  the sources (a depth, else its class's floor). River and scenario ``description`` codes are
  city-specific too: kept raw, and named in ``description_ja`` when the code lists are read.
  Codes that cannot be decoded stay unknown and are counted per code list in each file's
  summary (:attr:`CityGmlFile.unknown_codes`).
- Broken geometry (a coordinate count that is not a multiple of the dimension, fewer than three
  distinct points, non-numeric or non-finite numbers, a zero-area ring, positions outside Japan,
  which usually means a wrong axis order) is reported as a :class:`~disaster_dx.errors.Problem`
  naming the file, line, ``gml:id`` and building id. The building is *kept*: its footprint
  comes from the next usable source (the problem says which), or it is kept without one
  (geometry ``None``, ``footprint_source`` ``None``), because its hazard attributes still
  matter to planners; map and routing code must skip missing geometries. Other buildings are
  not affected. A ``gml:id`` or ``uro:buildingID`` seen before (in this or an earlier file of
  the import: buildings on a tile border are in both tiles) is reported and skipped.
- Malformed XML, a missing file and an unsupported CRS raise
  :class:`~disaster_dx.errors.ImportFileError` naming the file and line; nothing is imported.
"""

from disaster_dx.io.plateau.codelists import CodeLists
from disaster_dx.io.plateau.codes import (
    ADMIN_TYPES,
    CRS,
    DEPTH_HAZARDS,
    FOOTPRINT_SOURCES,
    HAZARDS,
    JAPAN_BOUNDS,
    LANDSLIDE_AREAS,
    LANDSLIDE_KINDS,
    RANK_LABELS,
    RANK_LOWER_M,
    RANK_UPPER_M,
    SCALES,
    STRUCTURE_TYPES,
    USAGES,
    ProgressHook,
    RiskSource,
    depth_class,
)
from disaster_dx.io.plateau.frame import COLUMNS, write_buildings
from disaster_dx.io.plateau.importer import BuildingImport, Tile, buildings_from_citygml, read_tiles
from disaster_dx.io.plateau.reader import CityGmlFile
from disaster_dx.io.plateau.tiles import tile_of

__all__ = [
    "ADMIN_TYPES",
    "COLUMNS",
    "CRS",
    "DEPTH_HAZARDS",
    "FOOTPRINT_SOURCES",
    "HAZARDS",
    "JAPAN_BOUNDS",
    "LANDSLIDE_AREAS",
    "LANDSLIDE_KINDS",
    "RANK_LABELS",
    "RANK_LOWER_M",
    "RANK_UPPER_M",
    "SCALES",
    "STRUCTURE_TYPES",
    "USAGES",
    "BuildingImport",
    "CityGmlFile",
    "CodeLists",
    "ProgressHook",
    "RiskSource",
    "Tile",
    "buildings_from_citygml",
    "depth_class",
    "read_tiles",
    "tile_of",
    "write_buildings",
]
