"""One ``bldg:Building`` into one row: attributes, disaster risk, parts, footprint.

A building made of ``bldg:BuildingPart`` s gets its parts' attributes when it lacks its own:
the greatest height and storeys, the structure when the parts agree (else unknown, and the
disagreement is reported), the first name and usage, and every part's hazard records, so each
hazard's summary is the worst over the building and its parts. Coded values are decoded with
the dataset's code lists where they were read (:mod:`.codelists`), else the national tables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from disaster_dx.errors import Problem
from disaster_dx.io.plateau._xml import local, text, value_text
from disaster_dx.io.plateau.codelists import list_name
from disaster_dx.io.plateau.codes import (
    ADMIN_TYPES,
    DEPTH_HAZARDS,
    HAZARDS,
    LANDSLIDE_AREAS,
    LANDSLIDE_KINDS,
    LEGACY_LANDSLIDE_AREAS,
    RANK_LABELS,
    RANK_LOWER_M,
    RANK_UPPER_M,
    SCALES,
    STRUCTURE_TYPES,
    USAGES,
    RiskSource,
    depth_class,
    label_of,
)
from disaster_dx.io.plateau.frame import summarise_depths, summarise_landslide
from disaster_dx.io.plateau.geometry import FootprintMixin, union

if TYPE_CHECKING:
    from disaster_dx.io.plateau.reader import FileReader

_RISK_WRAPPERS = {"buildingDisasterRiskAttribute", "bldgDisasterRiskAttribute"}
_RISK_ELEMENTS = {
    "BuildingTsunamiRiskAttribute": "tsunami",
    "TsunamiRiskAttribute": "tsunami",
    "BuildingRiverFloodingRiskAttribute": "flood",
    "RiverFloodingRiskAttribute": "flood",
    "BuildingHighTideRiskAttribute": "high_tide",
    "HighTideRiskAttribute": "high_tide",
    "BuildingInlandFloodingRiskAttribute": "inland_flood",
    "InlandFloodingRiskAttribute": "inland_flood",
    "BuildingLandSlideRiskAttribute": "landslide",
    "LandSlideRiskAttribute": "landslide",
}
_BUILDING_ID, _STRUCTURE_TYPE = "{*}buildingID", "{*}buildingStructureType"
_DETAIL_WRAPPERS = {"buildingDetailAttribute", "buildingDetails"}
_LENGTH_UNITS = {"": 1.0, "m": 1.0, "cm": 0.01, "mm": 0.001}
_HOUR_UNITS = {"": 1.0, "hour": 1.0, "h": 1.0, "hr": 1.0, "min": 1 / 60, "minute": 1 / 60}
_NATIONAL_RANKS = {str(rank): label for rank, label in RANK_LABELS.items()}


@dataclass
class _Attributes:
    """What one Building or BuildingPart element says about itself."""

    values: dict[str, Any] = field(
        default_factory=lambda: dict.fromkeys(
            ("building_id", "name", "height_m", "storeys", "storeys_below", "structure", "usage")
        )
    )
    structure_list: str = "BuildingDetailAttribute_buildingStructureType"
    usage_list: str = "Building_usage"
    sources: dict[str, list[RiskSource]] = field(
        default_factory=lambda: {kind: [] for kind in HAZARDS}
    )
    geometry: dict[str, list[Any]] = field(default_factory=dict)
    parts: list[Any] = field(default_factory=list)


class BuildingReader(FootprintMixin):
    """Reads one ``bldg:Building`` element into a row."""

    def __init__(self, reader: FileReader, elem: Any, gml_id: str | None) -> None:
        self.reader = reader
        self.elem = elem
        self.gml_id = gml_id
        self.building_id: str | None = None
        self._messages: list[str] = []

    @property
    def where(self) -> str:
        """File, line and ids, for problems."""
        ids = " / ".join(x for x in (self.gml_id, self.building_id) if x) or "without gml:id"
        return f"{self.reader.name} line {self.elem.sourceline} (building {ids})"

    def problem(self, message: str) -> None:
        """Note a problem with this building (reported once the building is read)."""
        self._messages.append(message)

    def row(self) -> dict[str, Any]:
        """The building's row (:data:`~.frame.COLUMNS` and ``geometry``)."""
        own = self._read(self.elem)
        row = own.values
        row["gml_id"] = self.gml_id
        self.building_id = row["building_id"]
        footprint, source = self._footprint(own.geometry)
        disagreement = None
        if own.parts:
            footprint, source, disagreement = self._parts(own, footprint, source)
        if footprint is None and not self._messages:
            self.problem(
                "no footprint geometry (lod0FootPrint, lod0RoofEdge, lod1Solid or LOD2 "
                "GroundSurface); kept without a footprint"
            )
        if disagreement:
            self.problem(disagreement)
        decode = self.reader.decoder.decode
        structure, usage = row["structure"], row["usage"]
        row["structure_ja"] = decode(structure, own.structure_list, STRUCTURE_TYPES)[0] or structure
        row["usage_ja"] = decode(usage, own.usage_list, USAGES)[0] or usage
        for kind in DEPTH_HAZARDS:
            summarise_depths(row, kind, own.sources[kind])
        summarise_landslide(row, own.sources["landslide"])
        row["footprint_source"] = source
        row["source_file"] = self.reader.name
        row["tile"] = self.reader.tile
        row["geometry"] = footprint
        self.reader.problems.extend(Problem(self.where, m) for m in self._messages)
        return row

    def _read(self, elem: Any) -> _Attributes:
        """The attributes a Building or BuildingPart element carries itself."""
        found = _Attributes()
        row = found.values
        for child in elem:
            tag = child.tag
            if not isinstance(tag, str):
                continue
            name = local(tag)
            if name in _RISK_WRAPPERS:
                for risk in child:
                    kind = (
                        _RISK_ELEMENTS.get(local(risk.tag)) if isinstance(risk.tag, str) else None
                    )
                    if kind is None:
                        if isinstance(risk.tag, str):
                            self.reader.ignored.add(local(risk.tag))
                        continue
                    found.sources[kind].append(self._risk(risk, kind))
            elif name == "genericAttributeSet":
                legacy = self._legacy_risk(child)
                if legacy is not None:
                    found.sources[legacy[0]].append(legacy[1])
            elif name == "stringAttribute":
                if child.get("name") == "建物ID" and row["building_id"] is None:
                    row["building_id"] = value_text(child)
            elif name == "buildingIDAttribute":
                id_el = next(child.iterdescendants(_BUILDING_ID), None)
                if id_el is not None and id_el.text and id_el.text.strip():
                    row["building_id"] = id_el.text.strip()
            elif name in _DETAIL_WRAPPERS:
                structure_el = next(child.iterdescendants(_STRUCTURE_TYPE), None)
                if structure_el is not None and row["structure"] is None:
                    row["structure"] = text(structure_el)
                    found.structure_list = list_name(structure_el, found.structure_list)
            elif name == "consistsOfBuildingPart":
                found.parts.extend(p for p in child if isinstance(p.tag, str))
            elif name == "name" and row["name"] is None:
                row["name"] = text(child)
            elif name == "usage" and row["usage"] is None:
                row["usage"] = text(child)
                found.usage_list = list_name(child, found.usage_list)
            else:
                self._simple(name, child, row, found.geometry)
        return found

    def _simple(
        self, name: str, child: Any, row: dict[str, Any], geometry: dict[str, list[Any]]
    ) -> None:
        """Measurements and geometry."""
        if name == "measuredHeight":
            height = self._number(child, "measuredHeight")
            row["height_m"] = height if height is not None and height > 0 else None
        elif name == "storeysAboveGround":
            row["storeys"] = self._count(child, "storeysAboveGround")
        elif name == "storeysBelowGround":
            row["storeys_below"] = self._count(child, "storeysBelowGround")
        elif name in ("lod0FootPrint", "lod0RoofEdge", "lod1Solid"):
            geometry.setdefault(name, []).append(child)
        elif name == "boundedBy":
            for surface in child:
                if isinstance(surface.tag, str) and local(surface.tag) == "GroundSurface":
                    geometry.setdefault("lod2GroundSurface", []).append(surface)

    def _parts(
        self, own: _Attributes, footprint: Any, source: str | None
    ) -> tuple[Any, str | None, str | None]:
        """Fill what the building lacks from its ``bldg:BuildingPart`` s.

        Returns the footprint (the union of the parts' when the building has none), its
        source, and a note when the parts disagree on the structure.
        """
        row = own.values
        parts = [self._read(part) for part in own.parts]
        for key in ("height_m", "storeys", "storeys_below"):
            values = [p.values[key] for p in parts if p.values[key] is not None]
            if row[key] is None and values:
                row[key] = max(values)
        for key in ("name", "usage"):
            if row[key] is None:
                first = next((p for p in parts if p.values[key] is not None), None)
                if first is not None:
                    row[key] = first.values[key]
                    if key == "usage":
                        own.usage_list = first.usage_list
        disagreement = None
        if row["structure"] is None:
            given = {
                p.values["structure"]: p.structure_list for p in parts if p.values["structure"]
            }
            if len(given) == 1:
                row["structure"], own.structure_list = next(iter(given.items()))
            elif len(given) > 1:
                disagreement = (
                    f"BuildingParts give different structures ({', '.join(sorted(given))}); "
                    "structure taken as unknown"
                )
        for part in parts:
            for kind in HAZARDS:
                own.sources[kind].extend(part.sources[kind])
        if footprint is None:
            shapes = []
            part_sources = set()
            for part in parts:
                shape, part_source = self._footprint(part.geometry)
                if shape is not None:
                    shapes.append(shape)
                    part_sources.add(str(part_source))
            if shapes:
                footprint = union(shapes)
                source = "BuildingPart:" + "+".join(sorted(part_sources))
        return footprint, source, disagreement

    # -- attributes ---------------------------------------------------------------------------

    def _number(self, elem: Any, what: str, field: str | None = "") -> float | None:
        """The element's number; ``field`` ``None`` names it by its tag (only when reported)."""
        raw = text(elem)
        if raw is None:
            return None
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if math.isfinite(value):
            return value
        if field is None:
            field = local(elem.tag)
        label = f"{what} {field}" if field else what
        self.problem(f"{label} {raw!r} is not a finite number; taken as unknown")
        return None

    def _count(self, elem: Any, what: str) -> int | None:
        value = self._number(elem, what)
        if value is None or value >= 9999 or value < 0:
            return None  # 9999 is PLATEAU's "unknown"
        if value != int(value):
            self.problem(f"{what} {value} is not a whole number; taken as unknown")
            return None
        return int(value)

    def _measure(self, elem: Any, parent: str, units: dict[str, float]) -> float | None:
        """A depth or duration in ``parent``, in metres or hours; ``None`` when unknown."""
        value = self._number(elem, parent, None)
        if value is None or value < 0:
            return None  # negative depths and durations are "unknown" sentinels (-9999)
        uom = (elem.get("uom") or "").strip()
        factor = units.get(uom)
        if factor is None:
            factor = units.get(uom.lower())
        if factor is None:
            self.problem(f"{parent} {local(elem.tag)} unit {uom!r} is unknown; taken as unknown")
            return None
        return value * factor

    def _rank(self, text: str | None, what: str) -> int | None:
        if text is None:
            return None
        try:
            rank = int(text)
        except ValueError:
            rank = 0
        if rank not in RANK_LABELS:
            self.problem(f"{what} rank {text!r} is not a code 1–6; taken as unknown")
            return None
        return rank

    def _code(self, fields: dict[str, Any], name: str, what: str) -> tuple[str | None, str]:
        """A coded field's value and the code list it names."""
        elem = fields.get(name)
        if elem is None:
            return None, f"{what}_{name}"
        return text(elem), list_name(elem, f"{what}_{name}")

    def _risk(self, elem: Any, kind: str) -> RiskSource:
        fields: dict[str, Any] = {}
        for child in elem:
            tag = child.tag
            if type(tag) is str:
                name = local(tag)
                if name not in fields:  # the first of a repeated field counts
                    fields[name] = child
        what = local(elem.tag)
        decode = self.reader.decoder.decode
        description, description_list = self._code(fields, "description", what)
        if kind == "landslide":
            area_type, area_list = self._code(fields, "areaType", what)
            landslide_kind = decode(description, description_list, LANDSLIDE_KINDS)[0]
            area = decode(area_type, area_list, LANDSLIDE_AREAS)[0]
            return RiskSource(
                description=description,
                kind=landslide_kind or description,
                area_type=area_type,
                area=area or area_type,
            )
        depth_el, duration_el = fields.get("depth"), fields.get("duration")
        depth = None if depth_el is None else self._measure(depth_el, what, _LENGTH_UNITS)
        rank_code, rank_list = self._code(fields, "rank", what)
        rank_org, org_list = self._code(fields, "rankOrg", what)
        rank, dataset_class = self._dataset_rank(rank_code, rank_list, what)
        source = RiskSource(
            description=description,
            rank=rank,
            rank_org=rank_org,
            depth_m=depth,
            depth_upper_m=None,
        )
        described, from_dataset = decode(description, description_list)
        if from_dataset:
            source["description_ja"] = described
        if rank_org is not None:
            org_label = decode(rank_org, org_list)[0]
            org_class = depth_class(org_label)
            if org_label is not None:
                source["rank_org_label"] = org_label
            if org_class is not None:
                source["rank_org_lower_m"], source["rank_org_upper_m"] = org_class
        elif dataset_class is not None:
            source["rank_org_label"], (lower, upper) = dataset_class
            source["rank_org_lower_m"], source["rank_org_upper_m"] = lower, upper
        uppers = [RANK_UPPER_M[rank]] if rank is not None else []
        if source.get("rank_org_upper_m") is not None:
            uppers.append(source["rank_org_upper_m"])  # type: ignore[arg-type]
        source["depth_upper_m"] = depth if depth is not None else min(uppers, default=None)
        if kind == "flood":
            admin_code, admin_list = self._code(fields, "adminType", what)
            scale_code, scale_list = self._code(fields, "scale", what)
            admin = decode(admin_code, admin_list, ADMIN_TYPES)[0]
            scale = decode(scale_code, scale_list, SCALES)[0]
            source["admin_type"] = ADMIN_TYPES.get(admin_code or "") or admin or admin_code
            source["scale"] = SCALES.get(scale_code or "") or scale or scale_code
            source["duration_h"] = (
                None if duration_el is None else self._measure(duration_el, what, _HOUR_UNITS)
            )
        return source

    def _dataset_rank(
        self, code: str | None, list_name_: str, what: str
    ) -> tuple[int | None, tuple[str, tuple[float, float]] | None]:
        """The national rank, or the dataset's own class when its rank list differs.

        Returns ``(rank, None)`` for a national code, ``(None, (label, (lower, upper)))`` when
        the dataset's list gives this code another depth range (older i-UR datasets), and
        ``(None, None)`` when unknown.
        """
        if code is None:
            return None, None
        if self.reader.decoder.table(list_name_) is None:
            self.reader.decoder.decode(code, list_name_, _NATIONAL_RANKS)
            return self._rank(code, what), None
        label, _ = self.reader.decoder.decode(code, list_name_)
        if label is None:
            self.problem(
                f"{what} rank {code!r} is not in the dataset's code list; taken as unknown"
            )
            return None, None
        found = depth_class(label)
        if found is None:
            self.problem(f"{what} rank {code!r} ({label}) names no depth range; taken as unknown")
            return None, None
        if code.isdigit() and int(code) in RANK_LABELS:
            national = (RANK_LOWER_M[int(code)], RANK_UPPER_M[int(code)])
            if math.isclose(found[0], national[0]) and found[1] == national[1]:
                return int(code), None
        return None, (label, found)

    def _legacy_risk(self, elem: Any) -> tuple[str, RiskSource] | None:
        """A 2020-layout ``gen:genericAttributeSet`` holding one hazard map's values."""
        set_name = (elem.get("name") or "").strip()
        values: dict[str, Any] = {}
        for attribute in elem:
            if isinstance(attribute.tag, str) and attribute.get("name"):
                value = attribute.find("{*}value")
                if value is not None:
                    values.setdefault(attribute.get("name"), value)
        what = f"attribute set {set_name!r}"
        if "区域区分" in values or "現象区分" in values or "土砂" in set_name:
            description = text(values["現象区分"]) if "現象区分" in values else None
            area_type = text(values["区域区分"]) if "区域区分" in values else None
            return "landslide", RiskSource(
                description=description,
                kind=label_of(LANDSLIDE_KINDS, description),
                area_type=area_type,
                area=label_of(LEGACY_LANDSLIDE_AREAS, area_type),
            )
        if "浸水ランク" not in values and "浸水深" not in values:
            return None
        if "津波" in set_name:
            kind = "tsunami"
        elif "高潮" in set_name:
            kind = "high_tide"
        elif "内水" in set_name:
            kind = "inland_flood"
        else:
            kind = "flood"
        depth_el = values.get("浸水深")
        depth = (
            None if depth_el is None else self._measure(depth_el, f"{what} 浸水深", _LENGTH_UNITS)
        )
        rank = self._rank(text(values["浸水ランク"]) if "浸水ランク" in values else None, what)
        source = RiskSource(
            description=set_name or None,
            rank=rank,
            rank_org=None,
            depth_m=depth,
            depth_upper_m=_upper(depth, rank),
        )
        if kind == "flood":
            scale = text(values["規模"]) if "規模" in values else None
            if scale is None and "計画規模" in set_name:
                scale = "L1"
            elif scale is None and "想定最大規模" in set_name:
                scale = "L2"
            duration_el = values.get("継続時間")
            source["admin_type"] = None
            source["scale"] = scale
            source["duration_h"] = (
                None
                if duration_el is None
                else self._measure(duration_el, f"{what} 継続時間", _HOUR_UNITS)
            )
        return kind, source


def _upper(depth: float | None, rank: int | None) -> float | None:
    if depth is not None:
        return depth
    return None if rank is None else RANK_UPPER_M[rank]
