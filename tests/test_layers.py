"""Map layers are pure: the same state always gives the same features, labels and legend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from disaster_dx.events import Event, State, fold
from disaster_dx.model import CrowdingThresholds, Hazard, OpenState, Shelter, ShelterKind
from layers.basemaps import BASEMAPS, basemap_control
from layers.shelters import OPEN_STATE_STYLE, shelter_features, shelter_layer, status_legend

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
SCHOOL = Shelter(
    shelter_id="E3920400001111",
    name="<b>南国</b>小学校",
    address="高知県南国市",
    lon=133.64,
    lat=33.57,
    kinds=frozenset({ShelterKind.DESIGNATED, ShelterKind.EMERGENCY}),
    hazards=frozenset({Hazard.TSUNAMI, Hazard.EARTHQUAKE}),
    gsi_ids=("E3920400001111", "E3920400001201"),
    capacity=200,
)
TOWER = Shelter(
    shelter_id="E3920400002201",
    name="前浜津波避難タワー",
    address="高知県南国市前浜",
    lon=133.65,
    lat=33.53,
    kinds=frozenset({ShelterKind.EMERGENCY}),
    hazards=frozenset({Hazard.TSUNAMI}),
    gsi_ids=("E3920400002201",),
)


def _state(**payload: object) -> State:
    event = Event(
        incident_id="live",
        seq=1,
        at=T0,
        actor="hq1",
        type="shelter.status_reported",
        subject="shelter:E3920400001111",
        payload={"shelter_id": "E3920400001111", **payload},
    )
    return fold([event])


def test_features_carry_translated_status_and_minutes() -> None:
    state = _state(open_state="open", evacuees=130, public_note="毛布あり", internal_note="内部")
    features = shelter_features(
        [SCHOOL, TOWER], state, thresholds=CrowdingThresholds(), now=T0 + timedelta(minutes=7)
    )["features"]
    school, tower = (f["properties"] for f in features)
    assert features[0]["geometry"]["coordinates"] == [133.64, 33.57]  # GeoJSON: lon, lat
    assert school["open_state_label"] == "開設" and school["open"] is True
    assert school["crowding"] == "crowded" and school["crowding_label"] == "混雑"  # 65 %
    assert school["minutes_ago"] == 7 and school["evacuees"] == 130 and school["capacity"] == 200
    assert school["kinds"] == "指定避難所・指定緊急避難場所"
    assert school["hazards"] == ["earthquake", "tsunami"]
    assert school["name"] == "<b>南国</b>小学校"  # raw text: the browser sets it as text
    assert "internal_note" not in school and "reported_by" not in school
    assert tower["open_state_label"] == "未開設" and tower["crowding_label"] == "不明"
    assert tower["minutes_ago"] is None and tower["evacuees"] is None


def test_english_labels_and_staff_fields_on_request() -> None:
    state = _state(open_state="open", evacuees=200, internal_note="発電機故障")
    features = shelter_features(
        [SCHOOL], state, thresholds=CrowdingThresholds(), now=T0, lang="en", include_internal=True
    )["features"]
    school = features[0]["properties"]
    assert school["open_state_label"] == "Open" and school["crowding_label"] == "Full"
    assert school["internal_note"] == "発電機故障" and school["reported_by"] == "hq1"


def test_every_open_state_has_a_distinct_symbol_and_legend_words() -> None:
    symbols = [symbol for symbol, _ in OPEN_STATE_STYLE.values()]
    assert len(set(symbols)) == len(OpenState) == len(symbols)
    legend = str(status_legend(lang="ja"))
    for state in OpenState:
        assert state.ja in legend
    for word in ("空き", "やや混雑", "混雑", "満員"):
        assert word in legend


def test_layer_and_basemaps() -> None:
    layer = shelter_layer({"type": "FeatureCollection", "features": []}, component_id="x")
    assert layer.pointToLayer == {"variable": "dx.map.shelterMarker"}
    assert layer.hideout["hazard"] is None
    control = basemap_control(lang="en", selected="osm")
    checked = [b.name for b in control.children if b.checked]
    assert checked == ["OpenStreetMap"]
    assert all(b.attribution for b in BASEMAPS)
    with pytest.raises(ValueError, match="unknown basemap 'nope'"):
        basemap_control(selected="nope")


def test_bounds_cover_every_point() -> None:
    from layers.basemaps import bounds_of

    features = shelter_features([SCHOOL, TOWER], fold([]), thresholds=CrowdingThresholds(), now=T0)
    (south, west), (north, east) = bounds_of(features, pad=0)
    assert (south, west, north, east) == (33.53, 133.64, 33.57, 133.65)
    assert bounds_of({"features": []}) is None


def _points(*lon_lat: tuple[float, float]) -> dict:
    return {
        "features": [
            {"geometry": {"type": "Point", "coordinates": [lon, lat]}} for lon, lat in lon_lat
        ]
    }


def test_label_zoom_is_where_names_stop_overlapping() -> None:
    from layers.shelters import LABEL_ZOOM_RANGE, MARKER_BOX_PX, label_zoom

    low, high = LABEL_ZOOM_RANGE
    # 150 px names: 0.01° of longitude (~930 m) is 150 px a little above zoom 14.
    apart = _points((133.60, 33.57), (133.61, 33.57))
    assert label_zoom(apart) == 15
    # Closer sites need a closer zoom; a lone site is labelled at once.
    assert label_zoom(_points((133.60, 33.57), (133.6025, 33.57))) == 17
    assert label_zoom(_points((133.60, 33.57))) == low
    # Smaller labels (markers without names) part sooner; sites that never part cap the zoom.
    assert label_zoom(apart, box=MARKER_BOX_PX) < label_zoom(apart)
    assert label_zoom(_points((133.60, 33.57), (133.60, 33.57))) == high


def test_shelter_layer_clusters_below_the_label_zoom_and_sends_every_state() -> None:
    from layers.shelters import label_zoom

    state = fold([])
    features = shelter_features(
        [SCHOOL, TOWER], state, thresholds=CrowdingThresholds(), now=T0, lang="en"
    )
    layer = shelter_layer(features, component_id="x", lang="en")
    assert layer.cluster is True
    assert layer.clusterToLayer == {"variable": "dx.map.shelterCluster"}
    assert layer.superClusterOptions["maxZoom"] < layer.hideout["labelZoom"]
    assert layer.hideout["labelZoom"] == label_zoom(features)
    assert [s["state"] for s in layer.hideout["states"]] == [s.value for s in OPEN_STATE_STYLE]
    assert {s["label"] for s in layer.hideout["states"]} >= {"Open", "Not open", "Closed"}
    # dash-leaflet keeps markers between zooms by properties.id.
    assert all(f["properties"]["id"] == f["id"] for f in features["features"])
    assert shelter_layer(features, component_id="x", cluster=False).cluster is False


def test_legend_names_unknown_crowding_and_the_cluster_mark() -> None:
    text = str(status_legend(lang="ja"))
    assert "不明" in text and "近くの避難所の数" in text
    assert "Unknown" in str(status_legend(lang="en"))


def test_hq_flagged_residents_are_a_person_mark_not_the_closed_cross() -> None:
    from disaster_dx.plans import FlaggedResident
    from layers.plans import PERSON_MARK_HTML, flagged_markers, flagged_overlay

    person = FlaggedResident(
        resident_id="R1", hazard=Hazard.TSUNAMI, lon=133.6, lat=33.57, margin_min=-5.0,
        has_route=True,
    )  # fmt: skip
    [marker] = flagged_markers([person], lang="ja", person=True)
    assert marker.iconOptions["html"] == PERSON_MARK_HTML and "✕" not in PERSON_MARK_HTML
    assert "✕" in flagged_markers([person], lang="ja")[0].iconOptions["html"]  # /plans keeps ✕
    overlay = flagged_overlay([person], lang="ja", person=True, checked=False, overlay_id="o")
    assert overlay.checked is False and "人の記号" in overlay.name and overlay.id == "o"
