"""Health transitions of a camera, decided from its *stored* status (never a poller's memory).

Each poll's outcome is folded into the camera's ``camera_status`` row inside the write
transaction that records it (while the poller holds the camera's lease): the stored
``condition`` (``ok`` / ``failed`` / ``frozen``) says where the feed was, the outcome says
where it is now, and a change becomes one numbered event (``transition``). The events are
stored with the status as ``pending_events`` and removed only once they are in the incident
log; whoever polls the camera next (the same poller, a restarted one or another worker after
a lease handover) logs what is still pending, skipping any number already in the log. So a
restart between a failure and the recovery gives exactly one ``camera.feed_recovered``.

Frozen pictures: a camera whose encoder hung keeps answering, on time, with the same
picture. Pictures are compared by their SHA-256 (exact) or, optionally, by a 64-bit
difference hash (a frozen picture re-encoded on every request).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from PIL import Image

from disaster_dx.cameras.events import (
    CAMERA_FEED_FAILED,
    CAMERA_FEED_FROZEN,
    CAMERA_FEED_RECOVERED,
    CAMERA_FEED_UNFROZEN,
)
from disaster_dx.cameras.vocabulary import CameraSettings, FeedErrorKind

OK, FAILED, FROZEN = "ok", "failed", "frozen"

#: Two difference hashes this close (of 64 bits) are the same picture: JPEG re-encoding
#: flips a bit or two, any real change in the scene many more.
PERCEPTUAL_TOLERANCE_BITS = 3
_PERCEPTUAL_PREFIX = "d:"


def content_digest(data: bytes, *, perceptual: bool) -> str:
    """What identifies a picture's content: its SHA-256, or ``d:`` + a 64-bit difference hash.

    The difference hash (grey, 9×8, is each pixel brighter than its right neighbour) survives
    re-encoding; it is computed from the already-checked image bytes.
    """
    if not perceptual:
        return hashlib.sha256(data).hexdigest()
    with Image.open(io.BytesIO(data)) as image:
        small = image.convert("L").resize((9, 8), Image.Resampling.BILINEAR)
        pixels = small.tobytes()  # one byte per pixel in mode L
    bits = 0
    for row in range(8):
        for col in range(8):
            left, right = pixels[row * 9 + col], pixels[row * 9 + col + 1]
            bits = (bits << 1) | (1 if left > right else 0)
    return f"{_PERCEPTUAL_PREFIX}{bits:016x}"


def same_picture(before: str | None, now: str) -> bool:
    """Whether two digests (both exact, or both perceptual) show the same picture."""
    if before is None:
        return False
    if before.startswith(_PERCEPTUAL_PREFIX) and now.startswith(_PERCEPTUAL_PREFIX):
        distance = (int(before[2:], 16) ^ int(now[2:], 16)).bit_count()
        return distance <= PERCEPTUAL_TOLERANCE_BITS
    return before == now


@dataclass
class Decision:
    """The status columns to write and the events this outcome adds (already numbered)."""

    values: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    failures_before: int = 0


class _Numbering:
    """Numbers new events after the camera's stored transition count."""

    def __init__(self, row: Mapping[str, Any] | None, camera_id: str) -> None:
        self.camera_id = camera_id
        self.count = int((row or {}).get("transitions") or 0)
        self.events: list[dict[str, Any]] = []

    def add(self, event_type: str, payload: Mapping[str, Any]) -> None:
        self.count += 1
        body = {"camera_id": self.camera_id, **payload, "transition": self.count}
        self.events.append({"type": event_type, "payload": body})


def _pending(row: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    pending = (row or {}).get("pending_events") or []
    return [dict(p) for p in pending if isinstance(p, Mapping)]


def after_frame(
    row: Mapping[str, Any] | None,
    camera_id: str,
    *,
    captured_at: datetime,
    digest: str,
    settings: CameraSettings,
) -> Decision:
    """Fold a stored picture into the status: recovered, frozen or moving again."""
    condition = (row or {}).get("condition") or OK
    failures = int((row or {}).get("failures") or 0)
    numbering = _Numbering(row, camera_id)
    if same_picture((row or {}).get("content_digest"), digest):
        same_count = int((row or {}).get("same_count") or 0) + 1
        same_since = (row or {}).get("same_since") or captured_at
    else:
        same_count, same_since = 1, captured_at
    frozen = same_count >= 2 and (
        same_count >= settings.frozen_polls or captured_at - same_since >= settings.frozen_after
    )
    if condition == FAILED:
        numbering.add(CAMERA_FEED_RECOVERED, {"failures": max(failures, 1)})
        condition = OK
    if frozen and condition != FROZEN:
        numbering.add(CAMERA_FEED_FROZEN, {"polls": same_count, "since": same_since.isoformat()})
    elif not frozen and condition == FROZEN:
        numbering.add(CAMERA_FEED_UNFROZEN, {})
    values = {
        "condition": FROZEN if frozen else OK,
        "failures": 0,
        "content_digest": digest,
        "same_count": same_count,
        "same_since": same_since,
        "transitions": numbering.count,
        "pending_events": _pending(row) + numbering.events,
    }
    return Decision(values, numbering.events, failures_before=failures)


def after_failure(
    row: Mapping[str, Any] | None, camera_id: str, *, kind: FeedErrorKind
) -> Decision:
    """Fold a failed fetch into the status: the first failure after a working feed is news."""
    condition = (row or {}).get("condition") or OK
    failures = int((row or {}).get("failures") or 0)
    numbering = _Numbering(row, camera_id)
    if condition != FAILED:
        numbering.add(CAMERA_FEED_FAILED, {"error_kind": kind.value})
    values = {
        "condition": FAILED,
        "failures": failures + 1,
        "transitions": numbering.count,
        "pending_events": _pending(row) + numbering.events,
    }
    return Decision(values, numbering.events, failures_before=failures)
