"""Moved to :mod:`disaster_dx.cameras.frames`; this name stays so existing imports keep working."""

from __future__ import annotations

from disaster_dx.cameras.frames import (
    CAMERA_FRAME as CAMERA_FRAME,
)
from disaster_dx.cameras.frames import (
    CAMERA_ID as CAMERA_ID,
)
from disaster_dx.cameras.frames import (
    FRAME_KEY as FRAME_KEY,
)
from disaster_dx.cameras.frames import (
    IMAGE_FORMATS as IMAGE_FORMATS,
)
from disaster_dx.cameras.frames import (
    FrameRecord as FrameRecord,
)
from disaster_dx.cameras.frames import (
    FrameRef as FrameRef,
)
from disaster_dx.cameras.frames import (
    FrameStore as FrameStore,
)
from disaster_dx.cameras.frames import (
    Retention as Retention,
)
from disaster_dx.cameras.frames import (
    backfill_frames_from_events as backfill_frames_from_events,
)
from disaster_dx.cameras.frames import (
    camera_frames_table as camera_frames_table,
)
from disaster_dx.cameras.frames import (
    camera_metadata as camera_metadata,
)
from disaster_dx.cameras.frames import (
    frame_at as frame_at,
)
from disaster_dx.cameras.frames import (
    frame_key as frame_key,
)
from disaster_dx.cameras.frames import (
    frame_record as frame_record,
)
from disaster_dx.cameras.frames import (
    frame_span as frame_span,
)
from disaster_dx.cameras.frames import (
    frame_times as frame_times,
)
from disaster_dx.cameras.frames import (
    frames_at as frames_at,
)
from disaster_dx.cameras.frames import (
    frames_between as frames_between,
)
from disaster_dx.cameras.frames import (
    parse_frame_key as parse_frame_key,
)
from disaster_dx.cameras.frames import (
    prune_frames as prune_frames,
)
from disaster_dx.cameras.frames import (
    record_frame as record_frame,
)
from disaster_dx.cameras.frames import (
    write_frame_row as write_frame_row,
)
