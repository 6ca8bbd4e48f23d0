"""The camera registry's JSON Schema: YAML 1.2 values, located messages, the bundled file."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from disaster_dx.cameras import (
    CameraRegistryError,
    load_registry,
    registry_from_yaml,
    registry_schema,
)
from disaster_dx.cameras.adapters import ADAPTERS

CAMERA = (
    "  - id: {id}\n"
    "    name: {{ja: 海岸, en: Coast}}\n"
    "    lon: 133.66\n"
    "    lat: 33.53\n"
    "    heading_deg: 165\n"
    "    fov_deg: 90\n"
    "    range_m: 2000\n"
    "    feed: {{type: jpeg, url: 'http://192.0.2.1/snap.jpg'}}\n"
)


def problems(text: str) -> list[tuple[str, str]]:
    with pytest.raises(CameraRegistryError) as caught:
        registry_from_yaml(text, source="cameras.yaml")
    return [(p.where, p.message) for p in caught.value.problems]


def test_schema_is_valid_json_schema_and_names_every_feed_type() -> None:
    schema = registry_schema(tuple(sorted(ADAPTERS)))
    Draft202012Validator.check_schema(schema)
    feed_types = schema["properties"]["cameras"]["items"]["properties"]["feed"]["properties"]
    assert feed_types["type"]["enum"] == sorted(ADAPTERS)


def test_bundled_registry_is_valid() -> None:
    registry = load_registry()
    assert registry.ids == ["coast", "river", "town"]


def test_yaml_1_1_words_are_not_booleans_and_the_message_says_so() -> None:
    # YAML 1.1 reads yes as true; the registry reads YAML 1.2 and says what it wants.
    found = problems("cameras:\n" + CAMERA.format(id="coast") + "    public: yes\n")
    assert found == [("line 10 (camera 'coast', public)", "must be true or false, not 'yes'")]
    registry = registry_from_yaml("cameras:\n" + CAMERA.format(id="coast") + "    public: true\n")
    assert registry.cameras[0].public is True


def test_time_like_names_stay_text() -> None:
    # YAML 1.1 would make 9:00 the number 540 and refuse it as a name.
    text = "cameras:\n" + CAMERA.format(id="coast").replace("en: Coast", "en: 9:00")
    assert registry_from_yaml(text).cameras[0].name_en == "9:00"


def test_not_a_number_and_infinity_are_refused_with_their_line() -> None:
    text = "cameras:\n" + CAMERA.format(id="a").replace("range_m: 2000", "range_m: .nan")
    text = text.replace("lat: 33.53", "lat: .inf")
    assert problems(text) == [
        ("line 5 (camera 'a', lat)", "must be a number, not inf"),
        ("line 8 (camera 'a', range_m)", "must be a number, not nan"),
    ]


def test_defaults_are_checked_where_they_are_written() -> None:
    found = problems("defaults:\n  poll_interval_s: 0\ncameras:\n" + CAMERA.format(id="a"))
    assert found == [("line 2 (defaults)", "0 must be at least 1 and at most 3600")]
    registry = registry_from_yaml(
        "defaults:\n  poll_interval_s: 30\n  public: true\ncameras:\n" + CAMERA.format(id="a")
    )
    assert registry.cameras[0].poll_interval_s == 30.0 and registry.cameras[0].public


def test_duplicate_keys_missing_fields_and_auth_rules_are_located() -> None:
    text = (
        "cameras:\n"
        + CAMERA.format(id="a")
        + "    lon: 133.7\n"
        + "  - id: b\n"
        + "    feed:\n"
        + "      type: mjpeg\n"
        + "      url: http://192.0.2.9/video\n"
        + "      auth:\n"
        + "        scheme: basic\n"
        + "        password_env: CAM PW\n"
    )
    found = problems(text)
    assert ("line 10 (camera 'a', lon)", "'lon' is given twice") in found
    for field in ("name", "lon", "lat", "heading_deg", "fov_deg", "range_m"):
        assert ("line 11 (camera 'b')", f"{field} is required") in found
    assert ("line 15 (camera 'b', feed)", "feed.auth needs username or username_env") in found
    assert (
        "line 17 (camera 'b', feed)",
        "feed.auth.password_env must be an environment variable name",
    ) in found
    assert len(found) == 9


def test_ids_must_be_the_whole_value() -> None:
    # JSON Schema patterns are searched, and Python's $ accepts a final newline.
    ((where, message),) = problems("cameras:\n" + CAMERA.format(id='"coast\\n"'))
    assert where == "line 2 (camera 'coast\\n', id)" and "is not a valid id" in message
