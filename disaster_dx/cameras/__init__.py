"""Tower cameras: registry, feed adapters, poller, frame store and view cones.

Nankoku watches its coast, rivers and town from cameras on the 防災行政無線 towers. HQ needs,
for each camera, what it sees now, how old that image is and whether the camera is healthy —
and, after a drill or a disaster, what it saw at any past instant. This module is the core of
that, free of any web code:

- **Registry** (``data/cameras.yaml``): where each camera is, where it looks and how to reach
  it. Validated on load, every problem reported at once with its line number. Credentials are
  only *referenced* (an environment variable or a secret file), never written in the file; the
  registry copy kept in the database (:func:`sync_registry`) has no URL and no credentials, so
  the web app never even holds the addresses of the cameras.
- **Feed adapters**: an HTTP JPEG/PNG snapshot (the usual IP-camera / ONVIF snapshot URI, with
  basic or digest auth) and one frame read from an MJPEG ``multipart/x-mixed-replace`` stream;
  more kinds plug in through :func:`register_adapter`. Every fetch has connect, read and total
  time limits and a maximum size, never follows redirects (only registered addresses are ever
  fetched), and whatever arrives must be a real JPEG or PNG (magic bytes *and* a full decode).
- **Poller**: one thread per camera (a pool as wide as the registry), so a camera that hangs
  only ever holds its own thread; each camera is polled on its own interval with exponential
  backoff after failures. Scheduling reads an injectable clock, so tests assert the healthy
  cameras' schedule from timestamps instead of sleeping. Several app workers or hosts may each
  run a poller: a lease row per camera in the database makes exactly one of them poll it.
- **Frames** (:mod:`disaster_dx.camera_frames`, re-exported here): files on disk under
  ``DATA_DIR/cameras/<camera id>/``, newest frame plus a history bounded by count and age, and
  one row of metadata per stored frame in the ``camera_frames`` table (never its bytes, never
  an address or credential), so the wall and replay can show what the cameras saw at any
  instant. Frames are telemetry: they never pass through the incident log. Only a camera's
  health transitions are incident events (``camera.feed_failed``, ``camera.feed_recovered``),
  appended to the live incident and every open drill.
- **Health** 正常 / 遅延 / 停止 is computed when read, from the time of the last frame, so a
  dead poller shows up as a stale camera by itself.
- **View cones** are geodesic sectors (GRS80, :mod:`disaster_dx.geodesy`): every arc point is
  the range in ground metres from the tower along a true bearing, returned in lon/lat.
"""

from __future__ import annotations

from disaster_dx.cameras.adapters import (
    ADAPTERS,
    JPEG_MAGIC,
    PNG_MAGIC,
    CheckedImage,
    FeedAdapter,
    FetchLimits,
    MjpegAdapter,
    SnapshotAdapter,
    check_image,
    first_part,
    new_session,
    register_adapter,
    sniffed_boundary,
)
from disaster_dx.cameras.cones import (
    METRIC_CRS,
    camera_cone,
    view_cone,
)
from disaster_dx.cameras.events import (
    CAMERA_FEED_FAILED,
    CAMERA_FEED_FROZEN,
    CAMERA_FEED_RECOVERED,
    CAMERA_FEED_UNFROZEN,
    CAMERA_HEALTH_EVENTS,
    camera_event_incidents,
)
from disaster_dx.cameras.frames import (
    CAMERA_FRAME,
    CAMERA_ID,
    FRAME_KEY,
    IMAGE_FORMATS,
    FrameRecord,
    FrameRef,
    FrameStore,
    Retention,
    backfill_frames_from_events,
    camera_frames_table,
    camera_metadata,
    frame_at,
    frame_key,
    frame_record,
    frame_span,
    frame_times,
    frames_at,
    frames_between,
    parse_frame_key,
    prune_frames,
    record_frame,
    write_frame_row,
)
from disaster_dx.cameras.poller import (
    Attempt,
    Poller,
    default_holder,
)
from disaster_dx.cameras.registry import (
    Camera,
    CameraRegistry,
    Credentials,
    Feed,
    load_registry,
    registry_from_yaml,
    registry_schema,
)
from disaster_dx.cameras.scripted import (
    CAMERA_SCRIPTED,
    SCENARIO_DIR,
    ScriptedCamera,
    scripted_cameras,
)
from disaster_dx.cameras.status import (
    LEASE_PREFIX,
    CameraStatus,
    acquire_leases,
    age_label,
    camera_registry_table,
    camera_status_table,
    camera_statuses,
    create_camera_tables,
    health_of,
    lease_holders,
    registered_cameras,
    release_leases,
    sync_registry,
)
from disaster_dx.cameras.transitions import content_digest, same_picture
from disaster_dx.cameras.vocabulary import (
    BUNDLED_REGISTRY,
    RETIRED_FRAME_EVENTS_VARIABLE,
    CameraRegistryError,
    CameraSettings,
    FeedError,
    FeedErrorKind,
    Health,
    camera_settings_from_env,
)

__all__ = [
    "ADAPTERS",
    "BUNDLED_REGISTRY",
    "CAMERA_FEED_FAILED",
    "CAMERA_FEED_FROZEN",
    "CAMERA_FEED_RECOVERED",
    "CAMERA_FEED_UNFROZEN",
    "CAMERA_FRAME",
    "CAMERA_HEALTH_EVENTS",
    "CAMERA_ID",
    "CAMERA_SCRIPTED",
    "FRAME_KEY",
    "IMAGE_FORMATS",
    "JPEG_MAGIC",
    "LEASE_PREFIX",
    "METRIC_CRS",
    "PNG_MAGIC",
    "RETIRED_FRAME_EVENTS_VARIABLE",
    "SCENARIO_DIR",
    "Attempt",
    "Camera",
    "CameraRegistry",
    "CameraRegistryError",
    "CameraSettings",
    "CameraStatus",
    "CheckedImage",
    "Credentials",
    "Feed",
    "FeedAdapter",
    "FeedError",
    "FeedErrorKind",
    "FetchLimits",
    "FrameRecord",
    "FrameRef",
    "FrameStore",
    "Health",
    "MjpegAdapter",
    "Poller",
    "Retention",
    "ScriptedCamera",
    "SnapshotAdapter",
    "acquire_leases",
    "age_label",
    "backfill_frames_from_events",
    "camera_cone",
    "camera_event_incidents",
    "camera_frames_table",
    "camera_metadata",
    "camera_registry_table",
    "camera_settings_from_env",
    "camera_status_table",
    "camera_statuses",
    "check_image",
    "content_digest",
    "create_camera_tables",
    "default_holder",
    "first_part",
    "frame_at",
    "frame_key",
    "frame_record",
    "frame_span",
    "frame_times",
    "frames_at",
    "frames_between",
    "health_of",
    "lease_holders",
    "load_registry",
    "new_session",
    "parse_frame_key",
    "prune_frames",
    "record_frame",
    "register_adapter",
    "registered_cameras",
    "registry_from_yaml",
    "registry_schema",
    "release_leases",
    "same_picture",
    "scripted_cameras",
    "sniffed_boundary",
    "sync_registry",
    "view_cone",
    "write_frame_row",
]
