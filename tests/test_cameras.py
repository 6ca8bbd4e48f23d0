"""Camera core: registry, image checks, feed adapters against the simulator, poller, leases,
frame store and view cones. Schedules are asserted from an injected clock, never from sleeps."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import threading
from datetime import timedelta
from pathlib import Path

import pytest
import shapely
from PIL import Image
from pyproj import Geod
from shapely.geometry import Point, shape
from sqlalchemy import func, select

from disaster_dx import cameras, geodesy
from disaster_dx.camera_frames import FrameStore, frame_at, frame_key, frames_between
from disaster_dx.camera_simulator import CameraSimulator, SimCamera, SimMode, render_frame
from disaster_dx.cameras import (
    CAMERA_FEED_FAILED,
    CAMERA_FEED_RECOVERED,
    CAMERA_FRAME,
    CameraRegistryError,
    CameraSettings,
    Credentials,
    Feed,
    FeedError,
    FeedErrorKind,
    FetchLimits,
    Health,
    Poller,
    acquire_leases,
    age_label,
    camera_statuses,
    check_image,
    create_camera_tables,
    first_part,
    health_of,
    lease_holders,
    load_registry,
    registered_cameras,
    registry_from_yaml,
    sync_registry,
    view_cone,
)
from disaster_dx.config import BUNDLED_DATA_DIR
from disaster_dx.model import IncidentKind
from disaster_dx.store import Store, events_table
from tests.camera_tools import T0, ManualClock, registry_for
from tests.common import camera_frame_payload

PASSWORD = "s3cr3t-Pa55word-for-tests"
USERNAME = "viewer-account-x"


@pytest.fixture
def sim():
    with CameraSimulator(slow_seconds=30, huge_bytes=2 * 1024 * 1024) as simulator:
        yield simulator


@pytest.fixture
def frames(tmp_path: Path) -> FrameStore:
    return FrameStore(tmp_path / "cameras", keep=50)


@pytest.fixture
def camera_store(store: Store) -> Store:
    create_camera_tables(store)
    return store


def _settings(**changes) -> CameraSettings:
    values = dict(
        connect_timeout=2.0,
        read_timeout=2.0,
        total_timeout=5.0,
        max_frame_bytes=512 * 1024,
        backoff_max=60.0,
        lease_seconds=30.0,
    )
    values.update(changes)
    return CameraSettings(**values)


def _jpeg(size=(64, 48), colour=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="JPEG")
    return buffer.getvalue()


def _png(size=(64, 48), mode="RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size).save(buffer, format="PNG")
    return buffer.getvalue()


# -- registry ---------------------------------------------------------------------------------


def test_bundled_registry_is_a_demo_of_three_towers_inside_nankoku() -> None:
    registry = load_registry()
    assert registry.ids == ["coast", "river", "town"]
    text = (BUNDLED_DATA_DIR / "cameras.yaml").read_text(encoding="utf-8")
    assert "DEMO" in text and "NOT the city's real camera installation" in text
    outline = json.loads((BUNDLED_DATA_DIR / "boundary" / "nankoku_392049.geojson").read_text())
    city = shapely.union_all([shape(f["geometry"]) for f in outline["features"]])
    for camera in registry.cameras:
        assert city.contains(Point(camera.lon, camera.lat)), camera.camera_id
        assert camera.feed is not None and camera.feed.url.startswith("http://127.0.0.1:")
        assert camera.feed.credentials is None
        assert "デモ" in camera.name_ja and "demo" in camera.name_en
    # The coast camera looks out to sea: most of its cone lies outside the city (the Pacific).
    coast = registry.get("coast")
    assert coast is not None and coast.public
    assert (
        cameras.camera_cone(coast).intersection(city).area < 0.2 * cameras.camera_cone(coast).area
    )
    assert registry.get("town").public is False  # street views: HQ only


BAD_REGISTRY = """\
version: 1
defaults:
  poll_interval_s: 5
  feed: nope
cameras:
  - id: Coast Cam
    name: {ja: 海岸, en: Coast}
    lon: 33.53
    lat: 133.66
    heading_deg: 360
    fov_deg: 90
    range_m: 2000
    colour: red
    feed:
      type: jpeg
      url: http://admin:hunter2-LEAK@192.0.2.1/snap.jpg
  - id: river
    name: {ja: 川}
    lon: 133.68
    lat: 33.58
    heading_deg: 90
    fov_deg: 60
    range_m: 1000
    password: hunter3-LEAK
    feed:
      type: rtsp
      url: ftp://192.0.2.2/stream
      auth: {scheme: digest, username: viewer, password: hunter4-LEAK}
  - id: river
    name: {ja: 川2, en: River 2}
    lon: 133.68
    lat: 33.58
    heading_deg: 90
    fov_deg: 60
    range_m: 1000
    feed: {type: jpeg, url: "http://192.0.2.3/snap.jpg?pwd=hunter5-LEAK"}
"""


def test_registry_lists_every_problem_with_its_line_and_never_repeats_a_secret() -> None:
    with pytest.raises(CameraRegistryError) as caught:
        registry_from_yaml(BAD_REGISTRY, source="bad.yaml")
    error = caught.value
    message = str(error)
    assert "LEAK" not in message
    where = {p.where for p in error.problems}
    texts = "\n".join(str(p) for p in error.problems)
    assert "line 4 (defaults)" in where  # feed cannot have a default
    assert any(w.startswith("line 6 (camera 'Coast Cam', id)") for w in where)
    assert "line 8 (camera 'Coast Cam', lon)" in where
    assert "longitude and latitude swapped" in texts
    assert "line 10 (camera 'Coast Cam', heading_deg)" in where
    assert "line 13 (camera 'Coast Cam', colour)" in where
    assert "must not carry a user name or password" in texts
    assert "line 18 (camera 'river', name)" in where  # name.en missing
    assert "line 24 (camera 'river', password)" in where
    assert "secrets must not be written in the registry" in texts
    # rtsp is a feed type now; its address must be rtsp:// (an ftp:// one is refused).
    assert "feed.url of a rtsp feed must start with rtsp:// or rtsps://, not ftp:" in texts
    assert "feed.auth.password" in texts
    assert any(w.startswith("line 29 (camera 'river')") for w in where)  # second 'river'
    assert "already used by the camera on line" in texts or "looks like a secret" in texts
    assert "looks like a secret in its query string" in texts
    assert len(error.problems) >= 12


def test_registry_syntax_errors_and_missing_files_are_reported_with_a_line() -> None:
    with pytest.raises(CameraRegistryError) as caught:
        registry_from_yaml("cameras:\n  - id: a\n    name: [unclosed\n", source="x.yaml")
    assert caught.value.problems[0].where.startswith("line ")
    with pytest.raises(CameraRegistryError, match="does not exist"):
        load_registry("/nonexistent/cameras.yaml")
    with pytest.raises(CameraRegistryError, match="non-empty list"):
        registry_from_yaml("cameras: []\n")


def test_credentials_are_references_resolved_when_used(tmp_path: Path) -> None:
    secret_file = tmp_path / "camera_secret"
    secret_file.write_text(PASSWORD + "\n", encoding="utf-8")
    by_file = Credentials("basic", username=USERNAME, password_file=str(secret_file))
    assert by_file.resolve({}) == (USERNAME, PASSWORD)
    by_env = Credentials("digest", username_env="CAM_USER", password_env="CAM_PW")
    assert by_env.resolve({"CAM_USER": USERNAME, "CAM_PW": PASSWORD}) == (USERNAME, PASSWORD)
    with pytest.raises(FeedError) as caught:
        by_env.resolve({"CAM_USER": USERNAME})
    assert "CAM_PW" in str(caught.value) and caught.value.kind is FeedErrorKind.CONFIG
    assert PASSWORD not in repr(by_env) and PASSWORD not in repr(by_file)


# -- view cones -------------------------------------------------------------------------------

# GRS80, for hand computation of the expected points.
_A = 6378137.0
_E2 = 0.00669438002290


def _meridian_metres_per_degree(lat: float) -> float:
    """M·π/180 with M = a(1−e²)/(1−e² sin²φ)^1.5 (meridian radius of curvature)."""
    s2 = math.sin(math.radians(lat)) ** 2
    return _A * (1 - _E2) / (1 - _E2 * s2) ** 1.5 * math.pi / 180


def _parallel_metres_per_degree(lat: float) -> float:
    """N cos φ · π/180 with N = a / sqrt(1−e² sin²φ) (prime vertical radius)."""
    s2 = math.sin(math.radians(lat)) ** 2
    return _A / math.sqrt(1 - _E2 * s2) * math.cos(math.radians(lat)) * math.pi / 180


def test_view_cone_at_the_origin_of_zone_iv_matches_hand_computed_points() -> None:
    # EPSG:6672's origin (133°30′E, 33°N): no grid convergence, so the sector is easy by hand.
    cone = view_cone(133.5, 33.0, heading_deg=45, fov_deg=90, range_m=1000, segments=2)
    coords = list(cone.exterior.coords)
    assert len(coords) == 5  # apex, three arc points, apex again
    apex, left, middle, right = coords[0], coords[1], coords[2], coords[3]
    assert apex == pytest.approx((133.5, 33.0), abs=1e-9)
    # Heading 0° (due north) 1 km: Δφ = 1000 m / (M·π/180) = 0.0090168°.
    assert left[0] == pytest.approx(133.5, abs=1e-7)
    assert left[1] == pytest.approx(33.0 + 1000 / _meridian_metres_per_degree(33.0), abs=2e-7)
    assert left[1] == pytest.approx(33.0090168, abs=2e-7)
    # Heading 90° (due east) 1 km: Δλ = 1000 m / (N cos φ · π/180) = 0.0107006°.
    assert right[0] == pytest.approx(133.5 + 1000 / _parallel_metres_per_degree(33.0), abs=2e-7)
    assert right[0] == pytest.approx(133.5107006, abs=2e-7)
    assert right[1] == pytest.approx(33.0, abs=2e-6)  # the geodesic bends 5 cm south
    # Heading 45° 1 km: 707.1 m north, then 707.1 m east measured along the parallel of the
    # point's own latitude (near the central meridian x = N cos φ · Δλ).
    north = 33.0 + 707.1068 / _meridian_metres_per_degree(33.0)
    assert middle[1] == pytest.approx(north, abs=3e-7)
    assert middle[0] == pytest.approx(
        133.5 + 707.1068 / _parallel_metres_per_degree(north), abs=1e-7
    )


def test_view_cone_in_nankoku_has_true_bearings_and_ground_range() -> None:
    # 14 km east of the zone's meridian the grid is turned ~0.08° and scaled by 0.99990:
    # the cone must still reach its range on the ground along true bearings.
    geod = Geod(ellps="GRS80")
    lon, lat, heading, fov, reach = 133.66, 33.5345, 165.0, 90.0, 2000.0
    cone = view_cone(lon, lat, heading_deg=heading, fov_deg=fov, range_m=reach, segments=6)
    arc = list(cone.exterior.coords)[1:-1]
    assert len(arc) == 7
    for i, (x, y) in enumerate(arc):
        azimuth, _back, distance = geod.inv(lon, lat, x, y)
        assert distance == pytest.approx(reach, abs=0.05)
        assert azimuth % 360 == pytest.approx(heading - fov / 2 + fov * i / 6, abs=1e-3)
    circle = view_cone(lon, lat, heading_deg=0, fov_deg=360, range_m=100, segments=36)
    assert circle.is_valid and not circle.contains(Point(lon, lat)).__eq__(False)
    assert circle.area > 0


def test_view_cone_geod_is_built_once() -> None:
    geodesy.geod()
    before = geodesy.geod.cache_info()
    for heading in range(0, 360, 30):
        view_cone(133.6, 33.57, heading_deg=heading, fov_deg=60, range_m=500)
    after = geodesy.geod.cache_info()
    assert after.misses == before.misses and after.hits >= before.hits + 12


# -- image checks and MJPEG parsing -----------------------------------------------------------


def test_only_real_jpeg_or_png_frames_are_accepted() -> None:
    ok = check_image(_jpeg(), max_bytes=100_000)
    assert (ok.width, ok.height, ok.source_format) == (64, 48, "jpeg")
    png = check_image(_png(), max_bytes=100_000)
    assert png.data.startswith(cameras.JPEG_MAGIC) and png.source_format == "png"
    cases = {
        b"<!DOCTYPE html><html>login</html>": FeedErrorKind.NOT_IMAGE,
        b"GIF89a" + bytes(100): FeedErrorKind.NOT_IMAGE,
        b"": FeedErrorKind.NOT_IMAGE,
        cameras.JPEG_MAGIC + b"\xe0garbage" * 20: FeedErrorKind.NOT_IMAGE,
        _jpeg()[:200]: FeedErrorKind.NOT_IMAGE,  # truncated
        _jpeg(size=(400, 300)): FeedErrorKind.TOO_LARGE,
    }
    for data, kind in cases.items():
        with pytest.raises(FeedError) as caught:
            check_image(data, max_bytes=2000 if len(data) > 2000 else 100_000)
        assert caught.value.kind is kind, data[:20]
    with pytest.raises(FeedError, match="pixels"):
        check_image(_png(size=(6000, 5000), mode="1"), max_bytes=10**7, max_pixels=24_000_000)


def test_first_part_of_a_multipart_stream() -> None:
    frame = _jpeg()
    with_length = (
        b"--dx\r\nContent-Type: image/jpeg\r\nContent-Length: "
        + str(len(frame)).encode()
        + b"\r\n\r\n"
        + frame
        + b"\r\n--dx\r\n"
    )
    assert first_part(with_length, b"dx", max_bytes=10**6) == frame
    assert first_part(with_length[:60], b"dx", max_bytes=10**6) is None  # not all there yet
    without_length = b"--dx\r\nContent-Type: image/jpeg\r\n\r\n" + frame + b"\r\n--dx\r\n"
    assert first_part(without_length, b"dx", max_bytes=10**6) == frame
    assert first_part(without_length, b"--dx", max_bytes=10**6) == frame  # "--" in the param
    with pytest.raises(FeedError) as caught:
        first_part(with_length, b"dx", max_bytes=100)
    assert caught.value.kind is FeedErrorKind.TOO_LARGE


# -- adapters against the simulator -----------------------------------------------------------


def _fetch(kind: str, url: str, *, credentials=None, environ=None, **limits) -> bytes:
    session = cameras.new_session()
    try:
        return cameras.ADAPTERS[kind].fetch(
            Feed(kind, url, credentials),
            session,
            FetchLimits(**{"read_timeout": 2.0, "total_timeout": 5.0, **limits}),
            environ=environ,
        )
    finally:
        session.close()


def test_snapshot_and_mjpeg_frames_arrive_with_basic_and_digest_auth(sim, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    sim.camera("open")
    sim.camera("basic").auth = ("basic", USERNAME, PASSWORD)
    sim.camera("digest").auth = ("digest", USERNAME, PASSWORD)
    environ = {"CAM_PW": PASSWORD}
    assert check_image(_fetch("jpeg", sim.url("open")), max_bytes=10**6).width == 640
    assert check_image(_fetch("mjpeg", sim.url("open", "mjpeg")), max_bytes=10**6).height == 360
    sim.mjpeg_content_length = False  # parts delimited by boundaries only
    assert check_image(_fetch("mjpeg", sim.url("open", "mjpeg")), max_bytes=10**6).width == 640
    for scheme in ("basic", "digest"):
        credentials = Credentials(scheme, username=USERNAME, password_env="CAM_PW")
        for kind, endpoint in (("jpeg", "snapshot"), ("mjpeg", "mjpeg")):
            data = _fetch(kind, sim.url(scheme, endpoint), credentials=credentials, environ=environ)
            assert check_image(data, max_bytes=10**6).width == 640
        with pytest.raises(FeedError) as caught:
            _fetch(
                "jpeg",
                sim.url(scheme),
                credentials=credentials,
                environ={"CAM_PW": "wrong-" + PASSWORD},
            )
        assert caught.value.kind is FeedErrorKind.AUTH
        assert PASSWORD not in str(caught.value) and USERNAME not in str(caught.value)
    assert {r.authorised for r in sim.requests_for("digest")} == {True, False}
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert PASSWORD not in logged and USERNAME not in logged


def test_redirects_are_never_followed(sim) -> None:
    with CameraSimulator() as elsewhere:
        sim.camera("moved").mode = SimMode.REDIRECT
        sim.camera("moved").redirect_to = elsewhere.url("target")
        with pytest.raises(FeedError) as caught:
            _fetch("jpeg", sim.url("moved"))
        assert caught.value.kind is FeedErrorKind.REDIRECT
        assert elsewhere.requests == []


# -- the poller -------------------------------------------------------------------------------


def _events(store: Store, incident_id: str, event_type: str):
    return [e for e in store.events(incident_id) if e.type == event_type]


def _event_rows(store: Store) -> int:
    """Rows of the events table, all incidents together."""
    with store._read() as conn:
        return int(conn.execute(select(func.count()).select_from(events_table)).scalar_one())


def test_frames_are_rows_of_camera_frames_and_never_incident_events(
    camera_store, sim, frames
) -> None:
    store = camera_store
    registry = registry_for(sim, {"coast": "jpeg", "river": "mjpeg"})
    sync_registry(store, registry, actor="test")
    store.create_incident("津波避難訓練", kind=IncidentKind.DRILL, actor="test")
    closed = store.create_incident("昨年の訓練", kind=IncidentKind.DRILL, actor="test")
    store.close_incident(closed.incident_id, actor="test")
    live = store.live_incident()
    before = _event_rows(store)
    clock = ManualClock()
    poller = Poller(store, registry, frames, settings=_settings(), clock=clock, holder="p1")
    rounds = 4
    try:
        for step in range(rounds):
            clock.set(T0 + timedelta(seconds=10 * step))
            assert sorted(poller.run_due()) == ["coast", "river"]
            poller.wait(timeout=10)
    finally:
        poller.close()
    assert all(a.ok for a in poller.history) and len(poller.history) == 2 * rounds
    # Polling 8 frames added not one row to the events table, in any incident.
    assert _event_rows(store) == before
    for incident in store.incidents():
        assert _events(store, incident.incident_id, CAMERA_FRAME) == []
    times = [T0 + timedelta(seconds=10 * step) for step in range(rounds)]
    for camera_id in ("coast", "river"):
        stored = frames.frames(camera_id)
        assert [f.captured_at for f in stored] == times
        rows = frames_between(store, camera_id)
        assert [r.key for r in rows] == [f.key for f in stored]
        for row, ref in zip(rows, stored, strict=True):
            data = ref.path.read_bytes()
            assert data.startswith(cameras.JPEG_MAGIC)
            assert row.size_bytes == len(data)
            assert row.sha256 == hashlib.sha256(data).hexdigest()
            with Image.open(io.BytesIO(data)) as image:
                assert (row.width, row.height) == image.size
            assert row.source_format == "jpeg" and row.camera_id == camera_id
            text = repr(row)
            assert "http" not in text and "127.0.0.1" not in text
        assert frame_at(store, camera_id) == rows[-1]
        assert frame_at(store, camera_id, times[1] + timedelta(seconds=9)) == rows[1]
    statuses = camera_statuses(store)
    known = {c.camera_id: c for c in registered_cameras(store)}
    for camera_id in ("coast", "river"):
        assert health_of(known[camera_id], statuses[camera_id], times[-1]) is Health.ONLINE
        assert statuses[camera_id].last_frame_key == frame_key(times[-1])
    assert store.state(live.incident_id).shelters == {}


def test_a_hanging_camera_goes_stale_then_offline_while_the_others_stay_on_schedule(
    camera_store, sim, frames, caplog
) -> None:
    store = camera_store
    registry = registry_for(sim, {"coast": "jpeg", "river": "mjpeg", "town": "jpeg"}, interval=10)
    sync_registry(store, registry, actor="test")
    known = {c.camera_id: c for c in registered_cameras(store)}
    clock = ManualClock()
    # The hang outlasts the test (read timeout 60 s): only stopping the simulator ends it.
    poller = Poller(
        store, registry, frames, settings=_settings(read_timeout=60, total_timeout=90), clock=clock
    )
    healthy = ["coast", "river"]
    town_health = []
    try:
        assert sorted(poller.run_due()) == ["coast", "river", "town"]
        poller.wait(timeout=10)
        sim.set_mode("town", SimMode.HANG)
        for step in range(1, 13):
            clock.set(T0 + timedelta(seconds=10 * step))
            started = poller.run_due()
            assert set(healthy) <= set(started)
            poller.wait(healthy, timeout=10)  # the healthy ones finish; town is still hanging
            assert poller.busy("town")
            statuses = camera_statuses(store)
            now = clock()
            for camera_id in healthy:
                assert health_of(known[camera_id], statuses[camera_id], now) is Health.ONLINE
            town_health.append(health_of(known["town"], statuses["town"], now))
    finally:
        caplog.set_level(logging.WARNING, logger="disaster_dx.cameras")
        sim.stop()  # releases the hanging connection
        poller.close()
    # Every healthy camera started exactly on its 10 s schedule, never waiting for town.
    for camera_id in healthy:
        starts = [a.started_at for a in poller.history if a.camera_id == camera_id]
        assert starts == [T0 + timedelta(seconds=10 * k) for k in range(13)]
    town_starts = [a.started_at for a in poller.history if a.camera_id == "town"]
    assert town_starts[:2] == [T0, T0 + timedelta(seconds=10)]  # one fetch, stuck since
    # Newest frame at T0: 正常 up to 30 s, 遅延 up to 100 s, then 停止.
    assert town_health[:3] == [Health.ONLINE] * 3
    assert town_health[3:10] == [Health.STALE] * 7
    assert town_health[10:] == [Health.OFFLINE] * 2
    failed = [a for a in poller.history if a.camera_id == "town" and not a.ok]
    assert failed and failed[0].error_kind in (FeedErrorKind.CONNECTION, FeedErrorKind.TIMEOUT)
    assert any("camera town:" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("mode", "kind"),
    [
        (SimMode.GARBAGE, FeedErrorKind.NOT_IMAGE),
        (SimMode.HTML, FeedErrorKind.NOT_IMAGE),
        (SimMode.HUGE, FeedErrorKind.TOO_LARGE),
        (SimMode.ERROR, FeedErrorKind.HTTP_STATUS),
        (SimMode.DRIP, FeedErrorKind.TIMEOUT),
    ],
)
@pytest.mark.parametrize("feed", ["jpeg", "mjpeg"])
def test_bad_responses_are_rejected_logged_and_never_stored(
    camera_store, sim, frames, caplog, mode, kind, feed
) -> None:
    if feed == "mjpeg" and mode in (SimMode.HTML, SimMode.DRIP):
        kind = FeedErrorKind.PROTOCOL if mode is SimMode.HTML else FeedErrorKind.TIMEOUT
    caplog.set_level(logging.WARNING)
    store = camera_store
    registry = registry_for(sim, {"bad": feed})
    sim.set_mode("bad", mode)
    poller = Poller(
        store, registry, frames, settings=_settings(total_timeout=1.0), clock=ManualClock()
    )
    try:
        poller.run_due()
        poller.wait(timeout=15)
    finally:
        poller.close()
    (attempt,) = poller.history
    assert not attempt.ok and attempt.error_kind is kind
    assert frames.frames("bad") == []
    status = camera_statuses(store)["bad"]
    assert status.last_error_kind is kind and status.failures == 1 and status.last_frame_at is None
    warnings = [r.getMessage() for r in caplog.records if r.name == "disaster_dx.cameras"]
    assert any(m.startswith(f"camera bad: {kind.value}") for m in warnings), warnings
    failed = _events(store, store.live_incident().incident_id, CAMERA_FEED_FAILED)
    assert [e.payload["error_kind"] for e in failed] == [kind.value]


def test_failures_back_off_exponentially_and_recovery_is_recorded(
    camera_store, sim, frames
) -> None:
    store = camera_store
    drill = store.create_incident("訓練", kind=IncidentKind.DRILL, actor="test").incident_id
    registry = registry_for(sim, {"flaky": "jpeg"}, interval=10)
    sim.set_mode("flaky", SimMode.ERROR)
    clock = ManualClock()
    poller = Poller(store, registry, frames, settings=_settings(backoff_max=60), clock=clock)
    try:
        for second in range(0, 256):
            clock.set(T0 + timedelta(seconds=second))
            if second == 200:
                sim.set_mode("flaky", SimMode.NORMAL)
            if poller.run_due():
                poller.wait(timeout=10)
    finally:
        poller.close()
    starts = [int((a.started_at - T0).total_seconds()) for a in poller.history]
    # Waits after 1, 2, 3, 4, 5 failures: 10, 20, 40, then 60 s (backoff_max).
    assert starts == [0, 10, 30, 70, 130, 190, 250]
    assert [a.ok for a in poller.history] == [False] * 6 + [True]  # works again from 200 s
    live = store.live_incident().incident_id
    assert len(_events(store, live, CAMERA_FEED_FAILED)) == 1  # once, not every retry
    recovered = _events(store, live, CAMERA_FEED_RECOVERED)
    assert [e.payload["failures"] for e in recovered] == [6]
    # Health changes are the camera's only incident events: the frame after recovery is a row.
    for incident_id in (live, drill):  # the live incident and every open drill
        types = [e.type for e in store.events(incident_id)]
        assert types == [CAMERA_FEED_FAILED, CAMERA_FEED_RECOVERED]
    assert [r.captured_at for r in frames_between(store, "flaky")] == [T0 + timedelta(seconds=250)]


def test_credentials_never_reach_logs_status_or_events(camera_store, sim, frames, caplog) -> None:
    caplog.set_level(logging.DEBUG)  # urllib3's debug lines too
    store = camera_store
    sim.camera("town").auth = ("digest", USERNAME, PASSWORD)
    registry = registry_for(
        sim,
        {"town": "jpeg"},
        auth={"town": f"{{scheme: digest, username: {USERNAME}, password_env: DX_TEST_CAM_PW}}"},
    )
    clock = ManualClock()
    wrong = Poller(
        store,
        registry,
        frames,
        settings=_settings(),
        clock=clock,
        environ={"DX_TEST_CAM_PW": "not-" + PASSWORD},
    )
    try:
        wrong.run_due()
        wrong.wait(timeout=10)
    finally:
        wrong.close()
    assert wrong.history[-1].error_kind is FeedErrorKind.AUTH
    clock.advance(60)
    right = Poller(
        store,
        registry,
        frames,
        settings=_settings(),
        clock=clock,
        environ={"DX_TEST_CAM_PW": PASSWORD},
    )
    try:
        right.run_due()
        right.wait(timeout=10)
    finally:
        right.close()
    assert right.history[-1].ok
    logged = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records)
    assert "camera town: auth" in logged
    events = store.events(store.live_incident().incident_id)
    stored = json.dumps([dict(e.payload) for e in events]) + repr(camera_statuses(store))
    stored += repr(frames_between(store, "town"))
    for secret in (PASSWORD, USERNAME):
        assert secret not in logged and secret not in stored
    assert "127.0.0.1" not in stored


def test_the_poller_applies_retention_to_files_and_rows_together(
    camera_store, sim, tmp_path
) -> None:
    frames = FrameStore(tmp_path / "polled", keep=3)
    registry = registry_for(sim, {"river": "mjpeg"}, interval=10)
    clock = ManualClock()
    poller = Poller(camera_store, registry, frames, settings=_settings(), clock=clock)
    try:
        for step in range(5):
            clock.set(T0 + timedelta(seconds=10 * step))
            poller.run_due()
            poller.wait(timeout=10)
    finally:
        poller.close()
    kept = [T0 + timedelta(seconds=10 * s) for s in (2, 3, 4)]
    assert [f.captured_at for f in frames.frames("river")] == kept
    # The record offers exactly the pictures still on disk.
    assert [r.captured_at for r in frames_between(camera_store, "river")] == kept
    assert frame_at(camera_store, "river", kept[0] - timedelta(microseconds=1)) is None


def test_frame_store_never_leaves_its_folder(tmp_path: Path) -> None:
    store = FrameStore(tmp_path / "frames")
    store.save("coast", _jpeg(), T0)
    key = frame_key(T0)
    assert store.get("coast", key) is not None
    for camera_id, frame in (
        ("../coast", key),
        ("coast", "../../etc/passwd"),
        ("coast", key + "/.."),
        ("COAST", key),
        ("coast", "20250901T030000000000Z.jpg"),
    ):
        assert store.get(camera_id, frame) is None
    with pytest.raises(ValueError):
        store.folder("../../etc")


def test_health_and_age_wording() -> None:
    camera = registry_from_yaml(
        "cameras:\n  - {id: a, name: {ja: A, en: A}, lon: 133.6, lat: 33.5, heading_deg: 0,"
        " fov_deg: 60, range_m: 100, poll_interval_s: 10,"
        " feed: {type: jpeg, url: 'http://127.0.0.1:9/x.jpg'}}\n"
    ).cameras[0]
    status = cameras.CameraStatus("a", polling_since=T0, last_frame_at=T0)
    assert health_of(camera, None, T0) is Health.UNKNOWN
    assert health_of(camera, status, T0 + timedelta(seconds=30)) is Health.ONLINE
    assert health_of(camera, status, T0 + timedelta(seconds=31)) is Health.STALE
    assert health_of(camera, status, T0 + timedelta(seconds=100)) is Health.STALE
    assert health_of(camera, status, T0 + timedelta(seconds=101)) is Health.OFFLINE
    never = cameras.CameraStatus("a", polling_since=T0)
    assert health_of(camera, never, T0 + timedelta(seconds=20)) is Health.UNKNOWN
    assert health_of(camera, never, T0 + timedelta(seconds=40)) is Health.STALE
    assert [age_label(s) for s in (5, 185, 7300, 90000)] == ["5秒前", "3分前", "2時間前", "1日前"]
    assert age_label(185, "en") == "3 min ago"
    assert [h.ja for h in Health] == ["正常", "映像が静止", "遅延", "停止", "未確認"]


# -- registry copy and leases in the database -------------------------------------------------


def test_registry_copy_in_the_database_has_no_addresses(camera_store, sim) -> None:
    store = camera_store
    registry = registry_for(sim, {"coast": "jpeg", "river": "mjpeg", "town": "jpeg"})
    assert sorted(sync_registry(store, registry, actor="test")) == ["coast", "river", "town"]
    assert sync_registry(store, registry, actor="test") == []  # unchanged
    stored = registered_cameras(store)
    assert [c.camera_id for c in stored] == ["coast", "river", "town"]
    assert all(c.feed is None for c in stored)
    with store._read() as conn:
        rows = conn.execute(cameras.camera_registry_table.select()).mappings().all()
    assert "127.0.0.1" not in repr(rows) and "url" not in cameras.camera_registry_table.c
    smaller = registry_for(sim, {"coast": "jpeg"})
    sync_registry(store, smaller, actor="test")
    assert [c.camera_id for c in registered_cameras(store)] == ["coast"]


def test_concurrent_lease_claims_never_give_a_camera_to_two_pollers(camera_store) -> None:
    second = Store(camera_store.url, schema=camera_store.schema)
    try:
        for round_ in range(8):
            ids = [f"cam{round_}-{i}" for i in range(4)]
            barrier = threading.Barrier(2)
            results: dict[str, set[str]] = {}

            def claim(name: str, store: Store, ids=ids, barrier=barrier, results=results) -> None:
                barrier.wait()
                results[name] = acquire_leases(store, ids, name, T0, ttl=timedelta(seconds=30))

            threads = [
                threading.Thread(target=claim, args=("a", camera_store)),
                threading.Thread(target=claim, args=("b", second)),
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=30)
            assert results["a"].isdisjoint(results["b"])
            assert results["a"] | results["b"] == set(ids)
    finally:
        second.dispose()


def test_two_pollers_share_nothing_and_take_over_when_one_stops_or_dies(
    camera_store, sim, tmp_path
) -> None:
    store = camera_store
    other_store = Store(store.url, schema=store.schema)
    registry = registry_for(sim, {"coast": "jpeg", "river": "mjpeg", "town": "jpeg"}, interval=10)
    clock = ManualClock()
    settings = _settings(lease_seconds=30)
    frames = FrameStore(tmp_path / "cameras")
    first = Poller(store, registry, frames, settings=settings, clock=clock, holder="worker-1")
    second = Poller(
        other_store, registry, frames, settings=settings, clock=clock, holder="worker-2"
    )
    third = None
    try:
        for step in range(4):
            clock.set(T0 + timedelta(seconds=10 * step))
            first.run_due()
            second.run_due()
            first.wait(timeout=10)
            second.wait(timeout=10)
        assert first.held == {"coast", "river", "town"} and second.held == set()
        agents = {
            r.camera: {r.user_agent for r in sim.requests_for(r.camera)} for r in sim.requests
        }
        assert all(len(a) == 1 and "worker-1" in next(iter(a)) for a in agents.values())
        assert all(len(sim.requests_for(c)) == 4 for c in ("coast", "river", "town"))

        first.close()  # a clean stop hands the cameras back at once…
        clock.advance(10)  # …and worker-2 takes them at its next lease check (lease / 3)
        second.run_due()
        second.wait(timeout=10)
        assert second.held == {"coast", "river", "town"}
        assert set(lease_holders(store).values()) == {"worker-2"}

        # worker-2 dies without a word: its leases run out, then worker-3 takes over.
        third = Poller(store, registry, frames, settings=settings, clock=clock, holder="worker-3")
        clock.advance(20)
        assert third.run_due() == []
        clock.advance(15)  # 35 s after worker-2's last renewal
        assert sorted(third.run_due()) == ["coast", "river", "town"]
        third.wait(timeout=10)
        # A late result from the dead worker is discarded: it no longer holds the camera.
        assert not second._write_status("coast", {"failures": 9}, clock())
        assert camera_statuses(store)["coast"].holder == "worker-3"
    finally:
        for poller in (first, second, third):
            if poller is not None:
                poller.close()
        other_store.dispose()


def test_simulator_draws_the_time_on_each_frame() -> None:
    data = render_frame("coast", T0, 7)
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG" and image.size == (640, 360)
    assert render_frame("coast", T0 + timedelta(seconds=1), 7) != data
    assert SimCamera("x").mode is SimMode.NORMAL


def test_last_seq_can_skip_camera_frames(store: Store) -> None:
    """Polling screens ask for the last event that is not a camera frame (see hq.refresh)."""
    from disaster_dx.events import NewEvent

    live = store.live_incident().incident_id
    assert store.last_seq(live, skip_routine=True) == 0
    frame = camera_frame_payload()
    store.append(live, [NewEvent(CAMERA_FRAME, frame)], actor="cameras")
    assert store.last_seq(live) == 1 and store.last_seq(live, skip_routine=True) == 0
    store.append(live, [NewEvent("incident.message", {"text": "本部会議 15時"})], actor="hq1")
    for _ in range(3):
        store.append(live, [NewEvent(CAMERA_FRAME, frame)], actor="cameras")
    assert store.last_seq(live) == 5 and store.last_seq(live, skip_routine=True) == 2


def test_settings_from_the_environment_and_the_retired_frame_events_switch(caplog) -> None:
    from disaster_dx.cameras import camera_settings_from_env
    from disaster_dx.errors import ConfigError

    settings = camera_settings_from_env({"CAMERA_KEEP_FRAMES": "20", "CAMERA_KEEP_HOURS": "2"})
    assert settings.keep_frames == 20 and settings.keep_age == timedelta(hours=2)
    assert not any("CAMERA_FRAME_EVENTS" in r.getMessage() for r in caplog.records)
    # Frames are never events now: the old switch has nothing to switch, and says so.
    with caplog.at_level(logging.WARNING, logger="disaster_dx.cameras"):
        assert camera_settings_from_env({"CAMERA_FRAME_EVENTS": "0"}) == CameraSettings()
    assert any("CAMERA_FRAME_EVENTS is no longer used" in r.getMessage() for r in caplog.records)
    with pytest.raises(ConfigError, match="CAMERAS_POLL_IN_APP"):
        camera_settings_from_env({"CAMERAS_POLL_IN_APP": "maybe"})
