"""Camera health beyond "frames arrive": frozen pictures, transitions from the stored status
(exactly once across restarts and lease handovers), plain words for people, and MJPEG sent as
``application/octet-stream`` (ffmpeg's own server, a real third-party source)."""

from __future__ import annotations

import io
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from disaster_dx.camera_simulator import CameraSimulator, SimMode
from disaster_dx.cameras import (
    CAMERA_FEED_FAILED,
    CAMERA_FEED_FROZEN,
    CAMERA_FEED_RECOVERED,
    CAMERA_FEED_UNFROZEN,
    CAMERA_HEALTH_EVENTS,
    CameraSettings,
    FeedError,
    Health,
    Poller,
    camera_statuses,
    content_digest,
    create_camera_tables,
    health_of,
    registry_from_yaml,
    same_picture,
    sniffed_boundary,
)
from disaster_dx.cameras.frames import FrameStore
from disaster_dx.eventlog import log_rows
from disaster_dx.store import Store
from layers.cameras import camera_features, camera_legend, error_label
from tests.camera_tools import T0, ManualClock, registry_for
from tests.ffmpeg_tools import FfmpegMjpegServer


@pytest.fixture
def camera_store(store: Store) -> Store:
    create_camera_tables(store)
    return store


@pytest.fixture
def sim():
    with CameraSimulator(slow_seconds=30) as simulator:
        yield simulator


@pytest.fixture
def frames(tmp_path: Path) -> FrameStore:
    return FrameStore(tmp_path / "cameras", keep=50)


def _settings(**changes) -> CameraSettings:
    values = dict(connect_timeout=2.0, read_timeout=2.0, total_timeout=5.0, backoff_max=20.0)
    values.update(changes)
    return CameraSettings(**values)


def _health_events(store: Store) -> list[tuple[str, dict]]:
    live = store.live_incident().incident_id
    return [(e.type, dict(e.payload)) for e in store.iter_events(live, types=CAMERA_HEALTH_EVENTS)]


def _poll(poller: Poller, clock: ManualClock, seconds: float) -> None:
    clock.advance(seconds)
    assert poller.run_due(), "nothing was due"
    poller.wait(timeout=20)


def _picture(colour: tuple[int, int, int], *, quality: int = 90, mark: int = 0) -> bytes:
    image = Image.new("RGB", (160, 120), colour)
    draw = ImageDraw.Draw(image)
    draw.rectangle((20 + mark, 20, 80 + mark, 90), fill=(255, 255, 255))
    draw.ellipse((100, 30, 150, 80), fill=(0, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


# -- frozen pictures --------------------------------------------------------------------------


def test_same_picture_for_n_polls_is_frozen_once_then_moving_again(
    camera_store, sim, frames
) -> None:
    store = camera_store
    registry = registry_for(sim, {"dam": "jpeg"}, interval=10)
    camera = registry.cameras[0]
    sim.set_mode("dam", SimMode.FROZEN)
    clock = ManualClock()
    poller = Poller(store, registry, frames, settings=_settings(frozen_polls=3), clock=clock)
    try:
        _poll(poller, clock, 0)
        _poll(poller, clock, 10)
        status = camera_statuses(store)["dam"]
        assert health_of(camera, status, clock()) is Health.ONLINE  # twice is not yet frozen
        _poll(poller, clock, 10)
        status = camera_statuses(store)["dam"]
        assert health_of(camera, status, clock()) is Health.FROZEN
        assert Health.FROZEN.ja == "映像が静止" and Health.FROZEN.en == "Picture frozen"
        assert error_label(status) == "同じ画像が3回続いています（12:00から）"
        assert error_label(status, "en") == "The same picture 3 times in a row (since 12:00)"
        # On the map: a symbol and the word, never the colour alone; the legend explains it.
        icon = next(
            f["properties"]
            for f in camera_features([camera], {"dam": status}, now=clock())["features"]
            if f["geometry"]["type"] == "Point"
        )
        assert (icon["symbol"], icon["health_label"]) == ("■", "映像が静止")
        assert "映像が静止 — 同じ画像が続いています" in str(camera_legend(lang="ja"))
        for _ in range(3):  # still frozen: no new event
            _poll(poller, clock, 10)
        sim.set_mode("dam", SimMode.NORMAL)
        _poll(poller, clock, 10)
        status = camera_statuses(store)["dam"]
        assert health_of(camera, status, clock()) is Health.ONLINE and error_label(status) == ""
    finally:
        poller.close()
    events = _health_events(store)
    assert [t for t, _ in events] == [CAMERA_FEED_FROZEN, CAMERA_FEED_UNFROZEN]
    assert events[0][1]["polls"] == 3 and events[0][1]["since"] == T0.isoformat()
    assert [p["transition"] for _, p in events] == [1, 2]
    rows = log_rows(store.events(store.live_incident().incident_id), {}, lang="ja")
    assert any(r.type_label == "カメラ映像が静止" and "同じ画像が3回" in r.detail for r in rows)


def test_same_picture_for_m_minutes_is_frozen_with_few_polls(camera_store, sim, frames) -> None:
    store = camera_store
    registry = registry_for(sim, {"dam": "jpeg"}, interval=60)
    sim.set_mode("dam", SimMode.FROZEN)
    clock = ManualClock()
    settings = _settings(frozen_polls=100, frozen_after=timedelta(minutes=2))
    poller = Poller(store, registry, frames, settings=settings, clock=clock)
    try:
        _poll(poller, clock, 0)
        _poll(poller, clock, 60)
        assert camera_statuses(store)["dam"].condition == "ok"  # one minute the same
        _poll(poller, clock, 60)
        assert camera_statuses(store)["dam"].condition == "frozen"  # two minutes
    finally:
        poller.close()
    assert [t for t, _ in _health_events(store)] == [CAMERA_FEED_FROZEN]


def test_perceptual_digest_sees_a_reencoded_picture_as_the_same() -> None:
    first, reencoded = _picture((30, 90, 160)), _picture((30, 90, 160), quality=60)
    moved = _picture((30, 90, 160), mark=40)
    assert first != reencoded
    exact = [content_digest(p, perceptual=False) for p in (first, reencoded, moved)]
    assert not same_picture(exact[0], exact[1])  # exact bytes: a re-encode is a change
    fuzzy = [content_digest(p, perceptual=True) for p in (first, reencoded, moved)]
    assert all(d.startswith("d:") and len(d) == 18 for d in fuzzy)
    assert same_picture(fuzzy[0], fuzzy[1])
    assert not same_picture(fuzzy[0], fuzzy[2])  # something moved in the scene


def test_frozen_settings_come_from_the_environment() -> None:
    from disaster_dx.cameras import camera_settings_from_env

    settings = camera_settings_from_env(
        {
            "CAMERA_FROZEN_POLLS": "4",
            "CAMERA_FROZEN_MINUTES": "1.5",
            "CAMERA_FROZEN_PERCEPTUAL": "1",
        }
    )
    assert settings.frozen_polls == 4 and settings.frozen_after == timedelta(seconds=90)
    assert settings.frozen_perceptual


# -- transitions from the stored status -------------------------------------------------------


def test_restart_between_failure_and_recovery_logs_exactly_one_recovery(
    camera_store, sim, frames
) -> None:
    store = camera_store
    registry = registry_for(sim, {"gate": "jpeg"}, interval=10)
    clock = ManualClock()
    first = Poller(store, registry, frames, settings=_settings(), clock=clock, holder="a")
    try:
        _poll(first, clock, 0)
        sim.set_mode("gate", SimMode.ERROR)
        _poll(first, clock, 10)
        _poll(first, clock, 10)
    finally:
        first.close()  # a restart (or a worker handing its cameras over)
    assert camera_statuses(store)["gate"].failures == 2
    sim.set_mode("gate", SimMode.NORMAL)
    second = Poller(store, registry, frames, settings=_settings(), clock=clock, holder="b")
    try:
        _poll(second, clock, 10)
        _poll(second, clock, 10)
    finally:
        second.close()
    events = _health_events(store)
    assert [t for t, _ in events] == [CAMERA_FEED_FAILED, CAMERA_FEED_RECOVERED]
    assert events[1][1]["failures"] == 2  # counted across the restart
    assert camera_statuses(store)["gate"].condition == "ok"


def test_a_crash_before_logging_is_logged_once_by_the_next_poller(
    camera_store, sim, frames, monkeypatch
) -> None:
    store = camera_store
    registry = registry_for(sim, {"gate": "jpeg"}, interval=10)
    clock = ManualClock()
    sim.set_mode("gate", SimMode.ERROR)
    crashed = Poller(store, registry, frames, settings=_settings(), clock=clock, holder="a")
    original = Store.append

    def database_gone(self, *args, **kwargs):
        from sqlalchemy.exc import OperationalError

        raise OperationalError("append", {}, Exception("down"))

    monkeypatch.setattr(Store, "append", database_gone)
    try:
        _poll(crashed, clock, 0)  # decided (stored), not logged
    finally:
        crashed.close()
    monkeypatch.setattr(Store, "append", original)
    assert _health_events(store) == []
    assert camera_statuses(store)["gate"].condition == "failed"
    # The next poller logs it on taking the camera over, and only once, however often it polls.
    taker = Poller(store, registry, frames, settings=_settings(), clock=clock, holder="b")
    try:
        _poll(taker, clock, 10)
        _poll(taker, clock, 20)
    finally:
        taker.close()
    assert [t for t, _ in _health_events(store)] == [CAMERA_FEED_FAILED]


def test_an_event_logged_but_not_marked_is_not_repeated(camera_store, sim, frames) -> None:
    store = camera_store
    registry = registry_for(sim, {"gate": "jpeg"}, interval=10)
    clock = ManualClock()
    sim.set_mode("gate", SimMode.ERROR)
    poller = Poller(store, registry, frames, settings=_settings(), clock=clock, holder="a")
    try:
        _poll(poller, clock, 0)
    finally:
        poller.close()
    # As if the process died after appending the event but before clearing it as pending.
    from sqlalchemy import update

    from disaster_dx.cameras.status import camera_status_table

    (logged,) = store.iter_events(store.live_incident().incident_id, types=CAMERA_HEALTH_EVENTS)
    with store._write() as conn:
        conn.execute(
            update(camera_status_table).values(
                pending_events=[{"type": logged.type, "payload": dict(logged.payload)}]
            )
        )
    again = Poller(store, registry, frames, settings=_settings(), clock=clock, holder="b")
    try:
        _poll(again, clock, 10)
    finally:
        again.close()
    assert [t for t, _ in _health_events(store)] == [CAMERA_FEED_FAILED]


# -- words for people -------------------------------------------------------------------------


def test_reasons_are_plain_words_and_detail_stays_in_the_server_log(
    camera_store, sim, frames, caplog
) -> None:
    store = camera_store
    caplog.set_level(logging.WARNING, logger="disaster_dx.cameras")
    registry = registry_for(sim, {"junk": "jpeg"}, interval=10)
    sim.set_mode("junk", SimMode.GARBAGE)
    clock = ManualClock()
    poller = Poller(store, registry, frames, settings=_settings(), clock=clock)
    try:
        _poll(poller, clock, 0)
    finally:
        poller.close()
    status = camera_statuses(store)["junk"]
    ja, en = error_label(status), error_label(status, "en")
    assert ja == "直近のエラー: カメラから画像ではないデータが届きました"
    assert en == "Last error: The camera sent something that is not a picture"
    events = _health_events(store)
    assert events == [
        (CAMERA_FEED_FAILED, {"camera_id": "junk", "error_kind": "not_image", "transition": 1})
    ]
    rows = log_rows(store.events(store.live_incident().incident_id), {}, lang="ja")
    (row,) = [r for r in rows if r.type_label == "カメラ映像の途絶"]
    assert row.detail == "原因: カメラから画像ではないデータが届きました"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "are not JPEG or PNG" in logged  # the technical detail, for the administrator


# -- MJPEG sent as application/octet-stream ---------------------------------------------------


def test_sniffing_accepts_only_multipart_streams() -> None:
    assert sniffed_boundary(b"--ffmpeg\r\nContent-type: image/jpeg\r\n") == b"ffmpeg"
    assert sniffed_boundary(b"\r\n--myboundary\r\n") == b"myboundary"
    assert sniffed_boundary(b"--ffm") is None  # not all there yet
    for junk in (b"\xff\xd8\xff\xe0\x00\x10JFIF\n", b"<html><body>login</body>\n"):
        with pytest.raises(FeedError) as refused:
            sniffed_boundary(junk)
        assert refused.value.kind.value == "protocol"


def test_ffmpeg_mjpeg_server_as_octet_stream_and_as_a_frozen_source(
    camera_store, frames, tmp_path
) -> None:
    store = camera_store
    still, other = tmp_path / "still.png", tmp_path / "other.png"
    Image.new("RGB", (320, 240), (40, 90, 160)).save(still)
    Image.new("RGB", (320, 240), (200, 120, 20)).save(other)
    with FfmpegMjpegServer(still) as server:
        registry = registry_from_yaml(
            "cameras:\n  - {id: ff, name: {ja: 試験, en: Test}, lon: 133.6, lat: 33.5,"
            " heading_deg: 0, fov_deg: 60, range_m: 100, poll_interval_s: 10,"
            f" feed: {{type: mjpeg, url: '{server.url}'}}}}\n"
        )
        camera = registry.cameras[0]
        clock = ManualClock()
        poller = Poller(store, registry, frames, settings=_settings(frozen_polls=3), clock=clock)
        try:
            for second in (0, 10, 10):
                server.wait_ready()
                _poll(poller, clock, second)
            assert [a.ok for a in poller.history] == [True] * 3, list(poller.history)
            status = camera_statuses(store)["ff"]
            assert health_of(camera, status, clock()) is Health.FROZEN
            server.show(other)
            server.wait_ready()
            _poll(poller, clock, 10)
        finally:
            poller.close()
    assert [t for t, _ in _health_events(store)] == [CAMERA_FEED_FROZEN, CAMERA_FEED_UNFROZEN]
    stored = frames.frames("ff")
    assert len(stored) == 4 and stored[-1].path.read_bytes().startswith(b"\xff\xd8\xff")


def test_a_lease_handover_after_a_crash_logs_the_recovery_once(camera_store, sim, frames) -> None:
    store = camera_store
    registry = registry_for(sim, {"gate": "jpeg"}, interval=10)
    clock = ManualClock()
    settings = _settings(lease_seconds=30.0)
    sim.set_mode("gate", SimMode.ERROR)
    crashed = Poller(store, registry, frames, settings=settings, clock=clock, holder="a")
    _poll(crashed, clock, 0)  # failed; then worker "a" dies without handing its lease back
    sim.set_mode("gate", SimMode.NORMAL)
    clock.advance(31)  # its lease runs out
    taker = Poller(store, registry, frames, settings=settings, clock=clock, holder="b")
    try:
        _poll(taker, clock, 0)
        _poll(taker, clock, 10)
    finally:
        taker.close()
        crashed.close()
    events = _health_events(store)
    assert [t for t, _ in events] == [CAMERA_FEED_FAILED, CAMERA_FEED_RECOVERED]
    assert [p["transition"] for _, p in events] == [1, 2]
