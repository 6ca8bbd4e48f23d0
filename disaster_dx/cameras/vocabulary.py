"""Errors, health words and settings of the camera feature."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from pathlib import Path

from disaster_dx.config import BUNDLED_DATA_DIR
from disaster_dx.errors import ConfigError, DisasterDxError, ValidationError

log = logging.getLogger("disaster_dx.cameras")  # one logger for the whole package

BUNDLED_REGISTRY = BUNDLED_DATA_DIR / "cameras.yaml"

# ---------------------------------------------------------------------------------------------
# Errors and vocabulary
# ---------------------------------------------------------------------------------------------


class CameraRegistryError(ValidationError):
    """The camera registry file was refused; ``problems`` name each line and field."""


class FeedErrorKind(StrEnum):
    """Why a fetch failed, in categories HQ can act on (the detail stays technical)."""

    TIMEOUT = "timeout"
    CONNECTION = "connection"
    AUTH = "auth"
    HTTP_STATUS = "http_status"
    REDIRECT = "redirect"
    TOO_LARGE = "too_large"
    NOT_IMAGE = "not_image"
    PROTOCOL = "protocol"
    CONFIG = "config"

    def label(self, lang: str = "ja") -> str:
        """Short wording for HQ screens."""
        ja, en = _ERROR_LABELS[self]
        return en if lang == "en" else ja


_ERROR_LABELS: dict[FeedErrorKind, tuple[str, str]] = {
    FeedErrorKind.TIMEOUT: (
        "カメラから時間内に応答がありません",
        "The camera did not answer in time",
    ),
    FeedErrorKind.CONNECTION: (
        "カメラに接続できません（電源・回線をご確認ください）",
        "Cannot reach the camera (check its power and network)",
    ),
    FeedErrorKind.AUTH: (
        "カメラへのログインが拒否されました（ID・パスワードをご確認ください）",
        "The camera refused the login (check the user name and password)",
    ),
    FeedErrorKind.HTTP_STATUS: (
        "カメラが画像を返しませんでした",
        "The camera answered without a picture",
    ),
    FeedErrorKind.REDIRECT: (
        "カメラが別の宛先へ転送しようとしたため受信を中止しました",
        "The camera sent us elsewhere; not followed",
    ),
    FeedErrorKind.TOO_LARGE: (
        "画像が大きすぎるため受信を中止しました",
        "The picture was too large",
    ),
    FeedErrorKind.NOT_IMAGE: (
        "カメラから画像ではないデータが届きました",
        "The camera sent something that is not a picture",
    ),
    FeedErrorKind.PROTOCOL: (
        "カメラの映像を読み取れませんでした",
        "The camera's video could not be read",
    ),
    FeedErrorKind.CONFIG: (
        "カメラの設定に誤りがあります（担当者にご連絡ください）",
        "The camera is set up wrongly (tell the administrator)",
    ),
}


class FeedError(DisasterDxError):
    """A camera fetch failed; the message never contains an address or a credential.

    Parameters
    ----------
    kind
        The category (shown to HQ in words).
    detail
        Technical detail for the log and HQ (e.g. ``HTTP 503``), written by this module only —
        never an exception text from a library, which could quote the camera's URL.
    """

    def __init__(self, kind: FeedErrorKind, detail: str) -> None:
        self.kind = kind
        self.detail = detail
        super().__init__(f"{kind.value}: {detail}")


class Health(StrEnum):
    """健全性 of a camera, from the age of its newest frame (never shown by colour alone)."""

    ONLINE = "online"
    FROZEN = "frozen"
    STALE = "stale"
    OFFLINE = "offline"
    UNKNOWN = "unknown"

    @property
    def ja(self) -> str:
        """Japanese label."""
        return _HEALTH_LABELS[self][0]

    @property
    def en(self) -> str:
        """English label."""
        return _HEALTH_LABELS[self][1]

    def label(self, lang: str = "ja") -> str:
        """Label in ``lang``."""
        return self.en if lang == "en" else self.ja


_HEALTH_LABELS: dict[Health, tuple[str, str]] = {
    Health.ONLINE: ("正常", "Online"),
    Health.FROZEN: ("映像が静止", "Picture frozen"),
    Health.STALE: ("遅延", "Stale"),
    Health.OFFLINE: ("停止", "Offline"),
    Health.UNKNOWN: ("未確認", "Not yet checked"),
}


# ---------------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CameraSettings:
    """Limits and timings of the camera feature (environment variables in brackets).

    Parameters
    ----------
    registry_file
        The registry YAML [``CAMERAS_FILE``]; the bundled demo by default.
    keep_frames
        Frames kept per camera [``CAMERA_KEEP_FRAMES``]; the newest is always kept.
    keep_age
        Frames older than this are deleted [``CAMERA_KEEP_HOURS``].
    max_frame_bytes
        Larger responses are refused before they are read whole [``CAMERA_MAX_FRAME_MB``].
    max_pixels
        Larger images are refused before they are decoded (decompression bombs).
    connect_timeout, read_timeout
        Seconds to wait for a connection, and between bytes [``CAMERA_CONNECT_TIMEOUT``,
        ``CAMERA_READ_TIMEOUT``].
    total_timeout
        Seconds a whole fetch may take (a camera dripping bytes never holds its thread longer).
    backoff_max
        Longest wait between attempts after repeated failures, in seconds.
    stale_factor, offline_factor
        A camera is 遅延 when its newest frame is older than ``stale_factor`` × its interval,
        停止 when older than ``offline_factor`` × its interval.
    lease_seconds
        How long a poller's claim on a camera lasts without renewal (another poller takes
        over after that).
    frozen_polls, frozen_after
        A camera whose picture has not changed for this many polls in a row, or for this
        long, is 映像が静止 [``CAMERA_FROZEN_POLLS``, ``CAMERA_FROZEN_MINUTES``]: a camera whose
        encoder hung keeps answering with the same picture and would otherwise look healthy.
    frozen_perceptual
        Compare pictures by a 64-bit difference hash instead of their exact bytes
        [``CAMERA_FROZEN_PERCEPTUAL``], so a frozen picture re-encoded on every request still
        counts as unchanged. Off by default: a still night scene can then look frozen.
    poll_in_app
        Run a poller thread inside each web worker [``CAMERAS_POLL_IN_APP``]; leases keep it
        to one poller per camera. Off by default: ``disaster-dx cameras run`` is the
        recommended separate process.
    """

    registry_file: Path = BUNDLED_REGISTRY
    keep_frames: int = 360
    keep_age: timedelta = timedelta(hours=24)
    max_frame_bytes: int = 5 * 1024 * 1024
    max_pixels: int = 24_000_000
    connect_timeout: float = 3.0
    read_timeout: float = 5.0
    total_timeout: float = 15.0
    backoff_max: float = 300.0
    stale_factor: float = 3.0
    offline_factor: float = 10.0
    lease_seconds: float = 30.0
    poll_in_app: bool = False
    frozen_polls: int = 10
    frozen_after: timedelta = timedelta(minutes=5)
    frozen_perceptual: bool = False

    def __post_init__(self) -> None:
        if self.keep_frames < 1:
            raise ConfigError(f"keep_frames must be at least 1, not {self.keep_frames}")
        if not 0 < self.stale_factor < self.offline_factor:
            raise ConfigError("stale_factor must be positive and below offline_factor")
        if min(self.connect_timeout, self.read_timeout, self.total_timeout) <= 0:
            raise ConfigError("camera timeouts must be positive")
        if self.frozen_polls < 2:
            raise ConfigError(f"frozen_polls must be at least 2, not {self.frozen_polls}")


#: Switched ``camera.frame`` events off in an earlier release; frames are no longer events at
#: all, so it has nothing left to switch: a set value is logged as a warning, then ignored.
RETIRED_FRAME_EVENTS_VARIABLE = "CAMERA_FRAME_EVENTS"


def camera_settings_from_env(environ: Mapping[str, str] | None = None) -> CameraSettings:
    """Camera settings from the environment (see :class:`CameraSettings`).

    Raises
    ------
    ConfigError
        A value is malformed; the message names the variable.
    """
    env = os.environ if environ is None else environ

    def number(name: str, default: float) -> float:
        raw = (env.get(name) or "").strip()
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a number, not {raw!r}") from None
        if value <= 0 or not math.isfinite(value):
            raise ConfigError(f"{name} must be positive, not {raw!r}")
        return value

    def flag(name: str, default: bool) -> bool:
        raw = (env.get(name) or "").strip().lower()
        if not raw:
            return default
        if raw in ("1", "true", "yes", "on"):
            return True
        if raw in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name} must be 1 or 0, not {raw!r}")

    if (env.get(RETIRED_FRAME_EVENTS_VARIABLE) or "").strip():
        log.warning(
            "%s is no longer used: frames are recorded in the camera_frames table, never as "
            "incident events; health changes are always logged",
            RETIRED_FRAME_EVENTS_VARIABLE,
        )
    registry = (env.get("CAMERAS_FILE") or "").strip()
    return CameraSettings(
        registry_file=Path(registry).expanduser() if registry else BUNDLED_REGISTRY,
        keep_frames=int(number("CAMERA_KEEP_FRAMES", 360)),
        keep_age=timedelta(hours=number("CAMERA_KEEP_HOURS", 24)),
        max_frame_bytes=int(number("CAMERA_MAX_FRAME_MB", 5) * 1024 * 1024),
        connect_timeout=number("CAMERA_CONNECT_TIMEOUT", 3.0),
        read_timeout=number("CAMERA_READ_TIMEOUT", 5.0),
        poll_in_app=flag("CAMERAS_POLL_IN_APP", False),
        frozen_polls=max(2, int(number("CAMERA_FROZEN_POLLS", 10))),
        frozen_after=timedelta(minutes=number("CAMERA_FROZEN_MINUTES", 5)),
        frozen_perceptual=flag("CAMERA_FROZEN_PERCEPTUAL", False),
    )
