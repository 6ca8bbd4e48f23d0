"""Camera frames: files on disk and their rows in ``camera_frames`` (never incident events)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from disaster_dx.camera_frames import (
    CAMERA_FRAME,
    FrameStore,
    backfill_frames_from_events,
    frame_at,
    frame_key,
    frame_times,
    frames_between,
    parse_frame_key,
    prune_frames,
    record_frame,
)
from disaster_dx.cameras import create_camera_tables
from disaster_dx.errors import ValidationError
from disaster_dx.events import NewEvent
from disaster_dx.model import IncidentKind
from disaster_dx.store import Store, events_table
from tests.camera_tools import T0

PICTURE = b"\xff\xd8\xff" + b"not decoded here" * 10


@pytest.fixture
def camera_store(store: Store) -> Store:
    create_camera_tables(store)
    return store


def _minute(m: float) -> datetime:
    return T0 + timedelta(minutes=m)


def _store_frame(store: Store, frames: FrameStore, camera_id: str, moment: datetime) -> None:
    """What the poller does with a picture: the file, then its row."""
    frames.save(camera_id, PICTURE, moment)
    _record(store, camera_id, moment)


def _record(store: Store, camera_id: str, moment: datetime, **changes: object) -> None:
    values: dict[str, object] = {
        "size_bytes": len(PICTURE),
        "width": 640,
        "height": 360,
        "sha256": hashlib.sha256(PICTURE).hexdigest(),
    }
    values.update(changes)
    record_frame(store, camera_id, moment, **values)


def _keys(store: Store, camera_id: str) -> list[str]:
    return [r.key for r in frames_between(store, camera_id)]


def _event_rows(store: Store) -> int:
    with store._read() as conn:
        return int(conn.execute(select(func.count()).select_from(events_table)).scalar_one())


def test_retention_keeps_files_by_count_and_age_and_the_rows_follow(
    camera_store: Store, tmp_path: Path
) -> None:
    store = camera_store
    frames = FrameStore(tmp_path / "frames", keep=5, keep_age=timedelta(hours=1))
    for minute in range(8):
        _store_frame(store, frames, "coast", _minute(minute))
        prune_frames(store, frames, "coast", _minute(minute))
    kept = frames.frames("coast")
    assert [f.captured_at for f in kept] == [_minute(m) for m in range(3, 8)]
    assert _keys(store, "coast") == [f.key for f in kept]
    assert frame_at(store, "coast", _minute(4.5)).key == kept[1].key
    assert frame_at(store, "coast", _minute(0)) is None  # its picture is gone
    # Three hours on, only the newest is left (however old: the last thing a dead camera sent).
    assert prune_frames(store, frames, "coast", _minute(180)) == 4
    assert [f.captured_at for f in frames.frames("coast")] == [_minute(7)]
    assert _keys(store, "coast") == [frame_key(_minute(7))]
    assert frame_at(store, "coast", _minute(500)).captured_at == _minute(7)


def test_rows_whose_file_vanished_go_but_frames_stored_meanwhile_stay(
    camera_store: Store, tmp_path: Path
) -> None:
    store = camera_store
    frames = FrameStore(tmp_path / "frames", keep=100)
    for minute in range(4):
        _store_frame(store, frames, "coast", _minute(minute))
    (frames.root / "coast" / f"{frame_key(_minute(1))}.jpg").unlink()  # lost some other way
    _record(store, "coast", _minute(9))  # a row committed after the folder was listed
    _record(store, "river", _minute(1))  # a camera whose folder is not on this host
    assert prune_frames(store, frames, "coast", _minute(9)) == 0  # no file was due to go
    assert _keys(store, "coast") == [frame_key(_minute(m)) for m in (0, 2, 3, 9)]
    assert prune_frames(store, frames, "river", _minute(9)) == 0
    assert _keys(store, "river") == [frame_key(_minute(1))]


def test_record_frame_checks_every_field_and_never_touches_the_event_log(
    camera_store: Store,
) -> None:
    store = camera_store
    store.live_incident()
    before = _event_rows(store)
    with pytest.raises(ValidationError) as refused:
        record_frame(
            store,
            "../coast",
            datetime(2025, 9, 1, 12, 0),  # naive
            size_bytes=-1,
            width=True,
            height=360,
            sha256="abc",
            source_format="gif",
        )
    problems = refused.value.by_field()
    assert set(problems) == {
        "camera_id",
        "captured_at",
        "size_bytes",
        "width",
        "sha256",
        "source_format",
    }
    assert "'../coast'" in problems["camera_id"][0] and "gif" in problems["source_format"][0]
    assert frames_between(store, "coast") == []
    recorded = record_frame(
        store,
        "coast",
        T0,
        size_bytes=1234,
        width=640,
        height=360,
        sha256="a" * 64,
        source_format="png",
    )
    assert recorded.key == frame_key(T0) == "20250901T030000000000Z"
    assert frame_at(store, "coast") == recorded
    # The same instant again (a clock that did not move): the file was replaced, so is the row.
    _record(store, "coast", T0, size_bytes=99)
    (again,) = frames_between(store, "coast")
    assert again.size_bytes == 99 and again.source_format == "jpeg"
    assert _event_rows(store) == before


def test_frames_between_and_frame_times_read_ranges_of_the_record(camera_store: Store) -> None:
    store = camera_store
    for camera_id, minutes in (("coast", (0, 1, 2, 3)), ("river", (1, 1.5, 3))):
        for minute in minutes:
            _record(store, camera_id, _minute(minute))
    window = frames_between(store, "coast", _minute(1), _minute(2))
    assert [r.captured_at for r in window] == [_minute(1), _minute(2)]  # both ends included
    assert [r.captured_at for r in frames_between(store, "river", start=_minute(2))] == [_minute(3)]
    assert frame_times(store, ["coast", "river"]) == [_minute(m) for m in (0, 1, 1.5, 2, 3)]
    assert frame_times(store, ["river"]) == [_minute(m) for m in (1, 1.5, 3)]
    assert frame_times(store, []) == []
    assert frame_at(store, "river", _minute(1.4)).captured_at == _minute(1)
    assert frame_at(store, "nowhere") is None


def _frame_event(camera_id: str, moment: datetime, size: int = 1000) -> NewEvent:
    """A ``camera.frame`` event as the previous release appended it."""
    return NewEvent(
        CAMERA_FRAME,
        {
            "camera_id": camera_id,
            "frame": frame_key(moment),
            "captured_at": moment.isoformat(),
            "bytes": size,
            "width": 640,
            "height": 360,
            "sha256": "b" * 64,
            "source_format": "jpeg",
        },
    )


def test_backfill_copies_frame_events_once_and_leaves_the_log_alone(
    camera_store: Store, tmp_path: Path
) -> None:
    store = camera_store
    live = store.live_incident().incident_id
    drill = store.create_incident("訓練", kind=IncidentKind.DRILL, actor="t").incident_id
    old = [_frame_event("coast", _minute(0)), _frame_event("coast", _minute(1), size=2000)]
    store.append(live, [*old, _frame_event("river", _minute(0))], actor="cameras")
    store.append(drill, [old[1]], actor="cameras")  # the same picture, logged in the drill too
    _record(store, "river", _minute(0))  # already recorded: left as it is
    events_before = store.events(live) + store.events(drill)
    # Only pictures still on disk, as an upgrade with the frame folder at hand does it.
    frames = FrameStore(tmp_path / "frames")
    frames.save("coast", PICTURE, _minute(1))
    assert backfill_frames_from_events(store, frames=frames) == 1
    (copied,) = frames_between(store, "coast")
    assert copied.key == frame_key(_minute(1)) and copied.size_bytes == 2000
    assert copied.sha256 == "b" * 64 and (copied.width, copied.height) == (640, 360)
    # Without the folder every event is copied; run again, nothing more.
    assert backfill_frames_from_events(store) == 1
    assert _keys(store, "coast") == [frame_key(_minute(0)), frame_key(_minute(1))]
    assert backfill_frames_from_events(store) == 0
    assert frames_between(store, "river")[0].size_bytes == len(PICTURE)  # not overwritten
    assert store.events(live) + store.events(drill) == events_before
    # The poller's next retention pass drops the row whose picture is long gone.
    prune_frames(store, frames, "coast", _minute(2))
    assert _keys(store, "coast") == [frame_key(_minute(1))]


def test_frame_keys_name_files_exactly() -> None:
    moment = T0 + timedelta(microseconds=123456)
    assert parse_frame_key(frame_key(moment)) == moment
    for bad in (
        frame_key(T0) + "\n",  # `$` would have let this through
        "٢٠٢٥0901T030000000000Z",  # digits, but not ASCII ones
        "20251301T030000000000Z",  # month 13
        "20250901T030000000000",
        "../20250901T030000000000Z",
    ):
        assert parse_frame_key(bad) is None, bad
    with pytest.raises(ValueError, match="aware"):
        frame_key(datetime(2025, 9, 1))
