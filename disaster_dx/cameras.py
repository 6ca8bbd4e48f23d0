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
- **View cones** are built in JGD2011 平面直角座標系 第IV系 (EPSG:6672, metres), corrected for
  the grid convergence and scale at the tower, and returned in lon/lat.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import logging
import math
import os
import re
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
import urllib3
import yaml
from PIL import Image
from pyproj import Geod, Transformer
from shapely import Polygon
from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Integer,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from disaster_dx import leases
from disaster_dx._parsing import check_bytes, compose_yaml, read_limited
from disaster_dx.camera_frames import (
    CAMERA_FRAME,
    CAMERA_ID,
    FrameRecord,
    FrameStore,
    frame_record,
    parse_frame_key,
    prune_frames,
    write_frame_row,
)
from disaster_dx.camera_frames import (  # every camera table, created by create_camera_tables
    camera_metadata as camera_metadata,
)
from disaster_dx.config import BUNDLED_DATA_DIR
from disaster_dx.errors import (
    ConfigError,
    DisasterDxError,
    ImportFileError,
    Problem,
    ValidationError,
)
from disaster_dx.events import EventSchema, NewEvent, register_event_type, utcnow
from disaster_dx.model import IncidentKind
from disaster_dx.store import Store, UTCDateTime

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

#: The bundled demo registry (three towers, pointing at the local simulator).
BUNDLED_REGISTRY = BUNDLED_DATA_DIR / "cameras.yaml"

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")

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
    FeedErrorKind.TIMEOUT: ("応答がありません（時間切れ）", "No response (timed out)"),
    FeedErrorKind.CONNECTION: ("接続できません", "Cannot connect"),
    FeedErrorKind.AUTH: ("認証に失敗しました", "Authentication failed"),
    FeedErrorKind.HTTP_STATUS: ("カメラがエラーを返しました", "The camera returned an error"),
    FeedErrorKind.REDIRECT: ("転送先への接続は行いません", "Redirect refused"),
    FeedErrorKind.TOO_LARGE: ("画像が大きすぎます", "Image too large"),
    FeedErrorKind.NOT_IMAGE: (
        "画像ではないデータを受信しました",
        "Received data that is not an image",
    ),
    FeedErrorKind.PROTOCOL: ("映像の形式が正しくありません", "Malformed video stream"),
    FeedErrorKind.CONFIG: ("設定に問題があります", "Configuration problem"),
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

    def __post_init__(self) -> None:
        if self.keep_frames < 1:
            raise ConfigError(f"keep_frames must be at least 1, not {self.keep_frames}")
        if not 0 < self.stale_factor < self.offline_factor:
            raise ConfigError("stale_factor must be positive and below offline_factor")
        if min(self.connect_timeout, self.read_timeout, self.total_timeout) <= 0:
            raise ConfigError("camera timeouts must be positive")


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
    )


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """Where a camera's login lives — references only, so this object holds no secret.

    Parameters
    ----------
    scheme
        ``basic`` or ``digest`` (HTTP authentication as IP cameras implement it).
    username, username_env
        The user name, or the environment variable holding it.
    password_env, password_file
        The environment variable, or the file (e.g. a container secret), holding the password.
    """

    scheme: str
    username: str = ""
    username_env: str = ""
    password_env: str = ""
    password_file: str = ""

    def resolve(self, environ: Mapping[str, str] | None = None) -> tuple[str, str]:
        """The user name and password, read now (so a rotated secret is picked up).

        Raises
        ------
        FeedError
            A referenced variable or file is missing; the message names the reference,
            never a value.
        """
        env = os.environ if environ is None else environ
        username = self.username
        if self.username_env:
            username = env.get(self.username_env, "")
            if not username:
                raise FeedError(
                    FeedErrorKind.CONFIG,
                    f"environment variable {self.username_env} (user name) is not set",
                )
        if self.password_env:
            password = env.get(self.password_env, "")
            if not password:
                raise FeedError(
                    FeedErrorKind.CONFIG,
                    f"environment variable {self.password_env} (password) is not set",
                )
        else:
            try:
                password = Path(self.password_file).read_text(encoding="utf-8").strip()
            except OSError:
                raise FeedError(
                    FeedErrorKind.CONFIG, f"password file {self.password_file} cannot be read"
                ) from None
            if not password:
                raise FeedError(
                    FeedErrorKind.CONFIG, f"password file {self.password_file} is empty"
                )
        return username, password


@dataclass(frozen=True)
class Feed:
    """How the poller reaches a camera. Server-side only: never sent to a browser."""

    kind: str
    url: str = field(repr=False)
    credentials: Credentials | None = None


@dataclass(frozen=True)
class Camera:
    """One tower camera of the registry.

    ``feed`` is present only where the registry file was read (the poller); cameras read
    back from the database carry ``feed_kind`` but no address.
    """

    camera_id: str
    name_ja: str
    name_en: str
    lon: float
    lat: float
    height_m: float
    heading_deg: float
    fov_deg: float
    range_m: float
    poll_interval_s: float
    public: bool
    feed_kind: str
    feed: Feed | None = field(default=None, repr=False, compare=False)

    def name(self, lang: str = "ja") -> str:
        """The camera's name in ``lang``."""
        return self.name_en if lang == "en" else self.name_ja


@dataclass(frozen=True)
class CameraRegistry:
    """The validated registry: cameras in file order."""

    cameras: tuple[Camera, ...]
    source: str = ""

    def get(self, camera_id: str) -> Camera | None:
        """The camera with ``camera_id``, or None (ids from requests are looked up, never used)."""
        return next((c for c in self.cameras if c.camera_id == camera_id), None)

    @property
    def ids(self) -> list[str]:
        """Camera ids in file order."""
        return [c.camera_id for c in self.cameras]


_CAMERA_KEYS = {
    "id",
    "name",
    "lon",
    "lat",
    "height_m",
    "heading_deg",
    "fov_deg",
    "range_m",
    "poll_interval_s",
    "public",
    "feed",
}
_DEFAULT_KEYS = {"height_m", "fov_deg", "range_m", "poll_interval_s", "public"}
_FEED_KEYS = {"type", "url", "auth"}
_AUTH_KEYS = {"scheme", "username", "username_env", "password_env", "password_file"}
_SECRET_WORDS = ("password", "passwd", "secret", "token", "apikey", "api_key")
_REQUIRED_CAMERA_KEYS = ("id", "name", "lon", "lat", "heading_deg", "fov_deg", "range_m", "feed")
#: Number fields: (lowest, highest, default). A default of None means required.
_NUMBER_FIELDS: dict[str, tuple[float, float, float | None]] = {
    "lon": (122.0, 154.0, None),
    "lat": (20.0, 46.0, None),
    "height_m": (0.0, 300.0, 0.0),
    "heading_deg": (0.0, 360.0, None),
    "fov_deg": (1.0, 360.0, None),
    "range_m": (10.0, 30_000.0, None),
    "poll_interval_s": (1.0, 3600.0, 10.0),
}


class _Nodes:
    """Walks the YAML node tree, so every value keeps the line it came from."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        self._constructor = yaml.SafeLoader("")

    @staticmethod
    def line(node: yaml.Node) -> int:
        return int(node.start_mark.line) + 1

    def key_line(self, items: Mapping[str, yaml.Node], key: str) -> int:
        return self.line(items[f"\0line:{key}"])

    def value(self, node: yaml.Node) -> Any:
        return self._constructor.construct_object(node, deep=True)

    def mapping(self, node: yaml.Node, where: str) -> dict[str, yaml.Node] | None:
        if not isinstance(node, yaml.MappingNode):
            self.problems.append(
                Problem(f"line {self.line(node)} ({where})", "must be a mapping of key: value")
            )
            return None
        items: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = self.value(key_node)
            if not isinstance(key, str):
                self.problems.append(
                    Problem(f"line {self.line(key_node)} ({where})", f"key {key!r} must be text")
                )
                continue
            if key in items:
                self.problems.append(
                    Problem(f"line {self.line(key_node)} ({where})", f"{key!r} is given twice")
                )
                continue
            items[key] = value_node
            items[f"\0line:{key}"] = key_node
        return items


def registry_from_yaml(text: str, *, source: str = "cameras.yaml") -> CameraRegistry:
    """Validate a registry document and return its cameras.

    Raises
    ------
    CameraRegistryError
        Listing every problem at once, each with its line number and field. A password (or
        a URL carrying one) in the file is refused without repeating it.
    """
    problems: list[Problem] = []
    try:
        check_bytes(text, source, "yaml")
        root = compose_yaml(text)  # no aliases, bounded depth and size: see disaster_dx._parsing
    except ImportFileError as exc:
        raise CameraRegistryError(source, exc.problems) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}" if mark is not None else "file"
        raise CameraRegistryError(
            source, [Problem(where, f"not valid YAML: {exc.problem or exc.context}")]
        ) from None
    except yaml.YAMLError as exc:
        raise CameraRegistryError(source, [Problem("file", f"not valid YAML: {exc}")]) from None
    if root is None:
        raise CameraRegistryError(source, [Problem("file", "is empty; it needs a cameras: list")])
    nodes = _Nodes(problems)
    top = nodes.mapping(root, "file")
    if top is None:
        raise CameraRegistryError(source, problems)
    for key in _keys(top):
        if key not in ("version", "defaults", "cameras"):
            problems.append(
                Problem(
                    f"line {nodes.key_line(top, key)}",
                    f"unknown key {key!r}; expected version, defaults, cameras",
                )
            )
    if "version" in top and nodes.value(top["version"]) != 1:
        problems.append(Problem(f"line {nodes.line(top['version'])}", "version must be 1"))
    defaults: dict[str, yaml.Node] = {}
    if "defaults" in top:
        defaults = nodes.mapping(top["defaults"], "defaults") or {}
        for key in _keys(defaults):
            if key not in _DEFAULT_KEYS:
                problems.append(
                    Problem(
                        f"line {nodes.key_line(defaults, key)} (defaults)",
                        f"{key!r} cannot have a default; allowed: "
                        + ", ".join(sorted(_DEFAULT_KEYS)),
                    )
                )
    cameras_node = top.get("cameras")
    cameras: list[Camera] = []
    if cameras_node is None:
        problems.append(Problem(f"line {nodes.line(root)}", "a cameras: list is required"))
    elif not isinstance(cameras_node, yaml.SequenceNode) or not cameras_node.value:
        problems.append(
            Problem(f"line {nodes.line(cameras_node)} (cameras)", "must be a non-empty list")
        )
    else:
        seen: dict[str, int] = {}
        for index, item in enumerate(cameras_node.value, start=1):
            raw_id = _peek_id(nodes, item)
            if raw_id is not None and raw_id in seen:
                problems.append(
                    Problem(
                        f"line {nodes.line(item)} (camera {raw_id!r})",
                        f"id is already used by the camera on line {seen[raw_id]}",
                    )
                )
            elif raw_id is not None:
                seen[raw_id] = nodes.line(item)
            camera = _camera(nodes, item, index, defaults)
            if camera is not None:
                cameras.append(camera)
    if problems:
        raise CameraRegistryError(source, problems)
    return CameraRegistry(tuple(cameras), source=source)


def load_registry(path: Path | str | None = None) -> CameraRegistry:
    """Read and validate a registry file (the bundled demo by default).

    Raises
    ------
    CameraRegistryError
        The file is missing, unreadable or invalid (every problem listed).
    """
    path = Path(path) if path is not None else BUNDLED_REGISTRY
    if not path.exists():
        raise CameraRegistryError(str(path), [Problem("file", "does not exist")])
    try:
        text = read_limited(path, "yaml").decode("utf-8")
    except ImportFileError as exc:
        raise CameraRegistryError(str(path), exc.problems) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CameraRegistryError(
            str(path), [Problem("file", f"cannot be read as UTF-8 text ({type(exc).__name__})")]
        ) from None
    return registry_from_yaml(text, source=str(path))


def _peek_id(nodes: _Nodes, item: yaml.Node) -> str | None:
    """A camera entry's id as written (for duplicate checks, even when the entry is bad)."""
    if not isinstance(item, yaml.MappingNode):
        return None
    for key_node, value_node in item.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == "id":
            value = nodes.value(value_node)
            return value if isinstance(value, str) else None
    return None


def _keys(items: Mapping[str, yaml.Node]) -> list[str]:
    return [k for k in items if not k.startswith("\0")]


def _camera(
    nodes: _Nodes, node: yaml.Node, index: int, defaults: Mapping[str, yaml.Node]
) -> Camera | None:
    """One camera entry; problems go to ``nodes.problems`` and None is returned."""
    before = len(nodes.problems)
    items = nodes.mapping(node, f"camera {index}")
    if items is None:
        return None
    raw_id = nodes.value(items["id"]) if "id" in items else None
    label = f"camera {raw_id!r}" if isinstance(raw_id, str) else f"camera {index}"
    item_line = nodes.line(node)

    def problem(key: str | None, message: str) -> None:
        line = nodes.key_line(items, key) if key and key in items else item_line
        nodes.problems.append(Problem(f"line {line} ({label}{', ' + key if key else ''})", message))

    for key in _keys(items):
        if any(word in key.lower() for word in _SECRET_WORDS):
            problem(key, _SECRET_REFUSAL)
        elif key not in _CAMERA_KEYS:
            problem(key, f"unknown field; expected {', '.join(sorted(_CAMERA_KEYS))}")
    for key in _REQUIRED_CAMERA_KEYS:
        if key not in items:
            problem(None, f"{key} is required")

    camera_id = ""
    if isinstance(raw_id, str) and CAMERA_ID.match(raw_id):
        camera_id = raw_id
    elif "id" in items:
        problem(
            "id",
            f"{raw_id!r} is not a valid id: use 1–32 lower-case letters, digits, - or _ "
            "(it becomes part of file names and URLs)",
        )

    names = {"ja": "", "en": ""}
    if "name" in items:
        name_items = nodes.mapping(items["name"], f"{label}, name")
        if name_items is not None:
            for lang in ("ja", "en"):
                value = nodes.value(name_items[lang]) if lang in name_items else None
                if not isinstance(value, str) or not value.strip() or len(value) > 100:
                    problem("name", f"name.{lang} must be text of 1–100 characters")
                else:
                    names[lang] = value.strip()
            for extra in _keys(name_items):
                if extra not in ("ja", "en"):
                    problem("name", f"unknown language {extra!r}; give ja and en")

    numbers: dict[str, float] = {}
    for key, (lowest, highest, default) in _NUMBER_FIELDS.items():
        source = items.get(key) or defaults.get(key)
        if source is None:
            if default is not None:
                numbers[key] = default
            continue
        value = nodes.value(source)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            problem(key, f"must be a number, not {value!r}")
            continue
        upper_ok = value < highest if key == "heading_deg" else value <= highest
        if not (lowest <= value and upper_ok):
            hint = ""
            if key in ("lon", "lat"):
                hint = " (inside Japan; are longitude and latitude swapped?)"
            bound = f"below {highest:g}" if key == "heading_deg" else f"at most {highest:g}"
            problem(key, f"{value!r} must be at least {lowest:g} and {bound}{hint}")
            continue
        numbers[key] = float(value)

    public = False
    public_node = items.get("public") or defaults.get("public")
    if public_node is not None:
        value = nodes.value(public_node)
        if not isinstance(value, bool):
            problem("public", f"must be true or false, not {value!r}")
        else:
            public = value

    feed: Feed | None = None
    if "feed" in items:
        feed = _feed(nodes, items["feed"], label, problem)

    if len(nodes.problems) > before or feed is None:
        return None
    return Camera(
        camera_id=camera_id,
        name_ja=names["ja"],
        name_en=names["en"],
        lon=numbers["lon"],
        lat=numbers["lat"],
        height_m=numbers["height_m"],
        heading_deg=numbers["heading_deg"],
        fov_deg=numbers["fov_deg"],
        range_m=numbers["range_m"],
        poll_interval_s=numbers["poll_interval_s"],
        public=public,
        feed_kind=feed.kind,
        feed=feed,
    )


_SECRET_REFUSAL = (
    "secrets must not be written in the registry (it is kept in the repository): "
    "give password_env (an environment variable name) or password_file under feed.auth"
)


def _feed(
    nodes: _Nodes, node: yaml.Node, label: str, problem: Callable[[str | None, str], None]
) -> Feed | None:
    items = nodes.mapping(node, f"{label}, feed")
    if items is None:
        return None
    ok = True
    for key in _keys(items):
        if any(word in key.lower() for word in _SECRET_WORDS):
            problem("feed", f"feed.{key}: {_SECRET_REFUSAL}")
            ok = False
        elif key not in _FEED_KEYS:
            problem("feed", f"unknown field feed.{key}; expected type, url, auth")
            ok = False
    kind = nodes.value(items["type"]) if "type" in items else None
    if kind not in ADAPTERS:
        problem("feed", f"feed.type {kind!r} is not one of {', '.join(sorted(ADAPTERS))}")
        ok = False
    url = nodes.value(items["url"]) if "url" in items else None
    url_problem = _url_problem(url)
    if url_problem:
        problem("feed", f"feed.url {url_problem}")
        ok = False
    credentials = None
    if "auth" in items:
        credentials = _credentials(nodes, items["auth"], label, problem)
        ok = ok and credentials is not None
    if not ok:
        return None
    return Feed(kind=str(kind), url=str(url), credentials=credentials)


def _url_problem(url: object) -> str | None:
    """Why a feed URL is refused, without ever quoting a password it may carry."""
    if not isinstance(url, str) or not url.strip():
        return "is required (the camera's snapshot or MJPEG address)"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "is not a valid URL"
    if parts.password is not None or parts.username is not None:
        return (
            "must not carry a user name or password (user:pass@host); "
            "move them to feed.auth with username and password_env or password_file"
        )
    if parts.scheme not in ("http", "https"):
        return f"must start with http:// or https://, not {parts.scheme or '(none)'}:"
    if not parts.hostname:
        return "has no host"
    if port == 0:
        return "has port 0"
    if any(word in parts.query.lower() for word in (*_SECRET_WORDS, "pwd", "pass")):
        return (
            "carries what looks like a secret in its query string; use feed.auth "
            "(credentials by reference) instead"
        )
    return None


def _credentials(
    nodes: _Nodes, node: yaml.Node, label: str, problem: Callable[[str | None, str], None]
) -> Credentials | None:
    items = nodes.mapping(node, f"{label}, feed.auth")
    if items is None:
        return None
    values: dict[str, str] = {}
    ok = True
    for key in _keys(items):
        if key == "password" or (key not in _AUTH_KEYS and "pass" in key.lower()):
            problem("feed", f"feed.auth.{key}: {_SECRET_REFUSAL}")
            ok = False
            continue
        if key not in _AUTH_KEYS:
            problem(
                "feed", f"unknown field feed.auth.{key}; expected {', '.join(sorted(_AUTH_KEYS))}"
            )
            ok = False
            continue
        value = nodes.value(items[key])
        if not isinstance(value, str) or not value.strip():
            problem("feed", f"feed.auth.{key} must be text")
            ok = False
            continue
        values[key] = value.strip()
    scheme = values.get("scheme", "")
    if scheme not in ("basic", "digest"):
        problem("feed", f"feed.auth.scheme must be basic or digest, not {scheme or '(missing)'!r}")
        ok = False
    if not values.get("username") and not values.get("username_env"):
        problem("feed", "feed.auth needs username or username_env")
        ok = False
    if bool(values.get("password_env")) == bool(values.get("password_file")):
        problem("feed", "feed.auth needs exactly one of password_env or password_file")
        ok = False
    for key in ("username_env", "password_env"):
        if key in values and not _ENV_NAME.match(values[key]):
            problem("feed", f"feed.auth.{key} {values[key]!r} is not an environment variable name")
            ok = False
    if not ok:
        return None
    return Credentials(
        scheme=scheme,
        username=values.get("username", ""),
        username_env=values.get("username_env", ""),
        password_env=values.get("password_env", ""),
        password_file=values.get("password_file", ""),
    )


# ---------------------------------------------------------------------------------------------
# Database tables (this module's own metadata; created by create_camera_tables)
# ---------------------------------------------------------------------------------------------

camera_registry_table = Table(
    "camera_registry",
    camera_metadata,
    Column("camera_id", String(32), primary_key=True),
    Column("name_ja", String(200), nullable=False),
    Column("name_en", String(200), nullable=False),
    Column("lon", Float, nullable=False),
    Column("lat", Float, nullable=False),
    Column("height_m", Float, nullable=False),
    Column("heading_deg", Float, nullable=False),
    Column("fov_deg", Float, nullable=False),
    Column("range_m", Float, nullable=False),
    Column("poll_interval_s", Float, nullable=False),
    Column("public", Boolean, nullable=False),
    Column("feed_kind", String(32), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(64), nullable=False),
)

camera_status_table = Table(
    "camera_status",
    camera_metadata,
    Column("camera_id", String(32), primary_key=True),
    Column("polling_since", UTCDateTime),
    Column("last_attempt_at", UTCDateTime),
    Column("last_frame_at", UTCDateTime),
    Column("last_frame_key", String(32)),
    Column("last_error_kind", String(32)),
    Column("last_error", Text),
    Column("last_error_at", UTCDateTime),
    Column("failures", Integer, nullable=False, default=0),
    Column("holder", String(200)),
    Column("updated_at", UTCDateTime, nullable=False),
)

#: Lease names of cameras (``disaster_dx.leases``): one poller per camera.
LEASE_PREFIX = "camera:"

_EPOCH = leases.EPOCH


def create_camera_tables(store: Store) -> None:
    """Create the camera tables (and the lease table) if missing; idempotent and race-safe."""
    store.create_tables(camera_metadata)
    leases.create_lease_table(store)


def sync_registry(store: Store, registry: CameraRegistry, *, actor: str) -> list[str]:
    """Make ``registry`` the cameras the database knows (no URLs, no credentials stored).

    Cameras missing from the new registry are marked inactive, never deleted (past frames and
    events name them). Returns the ids that were added or changed.
    """
    now = utcnow()
    changed: list[str] = []
    with store._write() as conn:
        if store.dialect == "postgresql":
            conn.exec_driver_sql("LOCK TABLE camera_registry IN SHARE ROW EXCLUSIVE MODE")
        existing = {
            r.camera_id: dict(r._mapping) for r in conn.execute(select(camera_registry_table))
        }
        for camera in registry.cameras:
            row = _registry_row(camera)
            before = existing.get(camera.camera_id)
            if before is None:
                conn.execute(
                    insert(camera_registry_table).values(**row, updated_at=now, updated_by=actor)
                )
                changed.append(camera.camera_id)
            elif any(before[k] != v for k, v in row.items()):
                conn.execute(
                    update(camera_registry_table)
                    .where(camera_registry_table.c.camera_id == camera.camera_id)
                    .values(**row, updated_at=now, updated_by=actor)
                )
                changed.append(camera.camera_id)
        gone = [cid for cid, r in existing.items() if r["active"] and cid not in registry.ids]
        if gone:
            conn.execute(
                update(camera_registry_table)
                .where(camera_registry_table.c.camera_id.in_(gone))
                .values(active=False, updated_at=now, updated_by=actor)
            )
    if changed or gone:
        log.info(
            "camera registry from %s by %s: %d added or changed, %d retired",
            registry.source or "(memory)",
            actor,
            len(changed),
            len(gone),
        )
    return changed


def _registry_row(camera: Camera) -> dict[str, Any]:
    return {
        "camera_id": camera.camera_id,
        "name_ja": camera.name_ja,
        "name_en": camera.name_en,
        "lon": camera.lon,
        "lat": camera.lat,
        "height_m": camera.height_m,
        "heading_deg": camera.heading_deg,
        "fov_deg": camera.fov_deg,
        "range_m": camera.range_m,
        "poll_interval_s": camera.poll_interval_s,
        "public": camera.public,
        "feed_kind": camera.feed_kind,
        "active": True,
    }


def registered_cameras(store: Store) -> list[Camera]:
    """The active cameras as the database knows them (no feed addresses), ordered by id."""
    query = (
        select(camera_registry_table)
        .where(camera_registry_table.c.active.is_(True))
        .order_by(camera_registry_table.c.camera_id)
    )
    with store._read() as conn:
        rows = [r._mapping for r in conn.execute(query)]
    return [
        Camera(
            camera_id=r["camera_id"],
            name_ja=r["name_ja"],
            name_en=r["name_en"],
            lon=r["lon"],
            lat=r["lat"],
            height_m=r["height_m"],
            heading_deg=r["heading_deg"],
            fov_deg=r["fov_deg"],
            range_m=r["range_m"],
            poll_interval_s=r["poll_interval_s"],
            public=bool(r["public"]),
            feed_kind=r["feed_kind"],
        )
        for r in rows
    ]


@dataclass(frozen=True)
class CameraStatus:
    """What the poller last recorded about a camera (health is computed from it when read)."""

    camera_id: str
    polling_since: datetime | None = None
    last_attempt_at: datetime | None = None
    last_frame_at: datetime | None = None
    last_frame_key: str | None = None
    last_error_kind: FeedErrorKind | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    failures: int = 0
    holder: str | None = None


def camera_statuses(store: Store) -> dict[str, CameraStatus]:
    """Every camera's recorded status, by camera id."""
    with store._read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(camera_status_table))]
    return {r["camera_id"]: _status(r) for r in rows}


def _status(row: Mapping[str, Any]) -> CameraStatus:
    kind = row["last_error_kind"]
    return CameraStatus(
        camera_id=row["camera_id"],
        polling_since=row["polling_since"],
        last_attempt_at=row["last_attempt_at"],
        last_frame_at=row["last_frame_at"],
        last_frame_key=row["last_frame_key"],
        last_error_kind=FeedErrorKind(kind) if kind in FeedErrorKind._value2member_map_ else None,
        last_error=row["last_error"],
        last_error_at=row["last_error_at"],
        failures=int(row["failures"] or 0),
        holder=row["holder"],
    )


def health_of(
    camera: Camera,
    status: CameraStatus | None,
    now: datetime,
    *,
    stale_factor: float = 3.0,
    offline_factor: float = 10.0,
) -> Health:
    """正常 / 遅延 / 停止 (or 未確認) from the age of the newest frame.

    A camera is 正常 while its newest frame is at most ``stale_factor`` × its interval old,
    遅延 up to ``offline_factor`` × interval, then 停止. Before its first frame the clock starts
    when a poller took it on (未確認 meanwhile). Computing this when read, rather than having
    the poller store it, means a crashed poller makes its cameras go stale on their own.
    """
    if status is None or (status.last_frame_at is None and status.polling_since is None):
        return Health.UNKNOWN
    reference = status.last_frame_at or status.polling_since
    assert reference is not None
    age = (now - reference).total_seconds()
    interval = camera.poll_interval_s
    if age <= stale_factor * interval:
        return Health.ONLINE if status.last_frame_at is not None else Health.UNKNOWN
    if age <= offline_factor * interval:
        return Health.STALE
    return Health.OFFLINE


def age_label(seconds: float | None, lang: str = "ja") -> str:
    """``12秒前`` / ``3分前`` / ``2時間前`` (or English), for a frame's age; ``""`` if None."""
    if seconds is None:
        return ""
    value = max(0, int(seconds))
    for size, ja, en in (
        (86400, "日前", "d ago"),
        (3600, "時間前", "h ago"),
        (60, "分前", "min ago"),
    ):
        if value >= size:
            count = value // size
            return f"{count} {en}" if lang == "en" else f"{count}{ja}"
    return f"{value} s ago" if lang == "en" else f"{value}秒前"


# ---------------------------------------------------------------------------------------------
# Leases: exactly one poller per camera across workers and hosts
# ---------------------------------------------------------------------------------------------


def acquire_leases(
    store: Store, camera_ids: Sequence[str], holder: str, now: datetime, *, ttl: timedelta
) -> set[str]:
    """Claim or renew cameras for ``holder``; returns the camera ids it holds afterwards.

    A camera is taken when nobody polls it or its poller's lease has run out; the claim of
    all of them is one transaction (see :mod:`disaster_dx.leases`), so two pollers never
    both see a camera as free.
    """
    names = [LEASE_PREFIX + c for c in camera_ids]
    held = leases.acquire(store, names, holder, now, ttl=ttl)
    return {name.removeprefix(LEASE_PREFIX) for name in held}


def release_leases(store: Store, holder: str) -> None:
    """Give up every camera ``holder`` polls, so another poller takes over at once."""
    leases.release(store, holder, prefix=LEASE_PREFIX)


def lease_holders(store: Store) -> dict[str, str | None]:
    """Who polls each camera now (for the CLI and tests)."""
    return {
        name.removeprefix(LEASE_PREFIX): lease.holder
        for name, lease in leases.leases(store, prefix=LEASE_PREFIX).items()
    }


def _holds(conn: Connection, camera_id: str, holder: str) -> bool:
    return leases.holds(conn, LEASE_PREFIX + camera_id, holder)


# ---------------------------------------------------------------------------------------------
# Frames: checking and storing
# ---------------------------------------------------------------------------------------------

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class CheckedImage:
    """An image that passed every check, as the JPEG bytes to store."""

    data: bytes = field(repr=False)
    width: int
    height: int
    source_format: str


def check_image(data: bytes, *, max_bytes: int, max_pixels: int = 24_000_000) -> CheckedImage:
    """Accept only a real JPEG or PNG: magic bytes, size limits and a full decode.

    PNG frames are re-encoded as JPEG (the frame store and its URLs are ``.jpg``); JPEG bytes
    are kept exactly as the camera sent them.

    Raises
    ------
    FeedError
        ``too_large`` or ``not_image``, saying what arrived (its first bytes in hex, never
        its content as text).
    """
    if len(data) > max_bytes:
        raise FeedError(
            FeedErrorKind.TOO_LARGE, f"{len(data):,} bytes is more than the {max_bytes:,} allowed"
        )
    if data.startswith(JPEG_MAGIC):
        expected = "JPEG"
    elif data.startswith(PNG_MAGIC):
        expected = "PNG"
    else:
        raise FeedError(
            FeedErrorKind.NOT_IMAGE,
            f"{len(data):,} bytes starting {data[:8].hex(' ') or '(nothing)'} are not JPEG or PNG",
        )
    try:
        with Image.open(io.BytesIO(data), formats=[expected]) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise FeedError(
                    FeedErrorKind.TOO_LARGE,
                    f"{width}×{height} pixels is more than the {max_pixels:,} allowed",
                )
            image.load()
            if expected == "PNG":
                buffer = io.BytesIO()
                image.convert("RGB").save(buffer, format="JPEG", quality=90)
                data = buffer.getvalue()
    except FeedError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise FeedError(
            FeedErrorKind.NOT_IMAGE,
            f"{len(data):,} bytes look like {expected} but do not decode ({type(exc).__name__})",
        ) from None
    return CheckedImage(data=data, width=width, height=height, source_format=expected.lower())


# ---------------------------------------------------------------------------------------------
# Feed adapters
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchLimits:
    """Time and size limits of one fetch."""

    connect_timeout: float = 3.0
    read_timeout: float = 5.0
    total_timeout: float = 15.0
    max_bytes: int = 5 * 1024 * 1024

    @classmethod
    def from_settings(cls, settings: CameraSettings) -> FetchLimits:
        """The limits a :class:`CameraSettings` asks for."""
        return cls(
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            total_timeout=settings.total_timeout,
            max_bytes=settings.max_frame_bytes,
        )


class FeedAdapter(Protocol):
    """Fetches one frame's bytes from a feed; raises :class:`FeedError` on any failure."""

    def fetch(
        self,
        feed: Feed,
        session: requests.Session,
        limits: FetchLimits,
        *,
        environ: Mapping[str, str] | None = None,
        user_agent: str = "",
    ) -> bytes:
        """The raw bytes of one frame (checked afterwards by :func:`check_image`)."""
        ...


def new_session() -> requests.Session:
    """A session that ignores the environment's proxies and ``.netrc`` (no stray credentials)."""
    session = requests.Session()
    session.trust_env = False
    return session


def _auth(
    credentials: Credentials | None, environ: Mapping[str, str] | None
) -> requests.auth.AuthBase | None:
    if credentials is None:
        return None
    username, password = credentials.resolve(environ)
    if credentials.scheme == "digest":
        return requests.auth.HTTPDigestAuth(username, password)
    return requests.auth.HTTPBasicAuth(username, password)


def _open(
    feed: Feed,
    session: requests.Session,
    limits: FetchLimits,
    *,
    accept: str,
    environ: Mapping[str, str] | None,
    user_agent: str,
) -> requests.Response:
    """GET the registered URL, mapping every failure to a :class:`FeedError` without the URL."""
    auth = _auth(feed.credentials, environ)
    try:
        response = session.get(
            feed.url,
            auth=auth,
            timeout=(limits.connect_timeout, limits.read_timeout),
            stream=True,
            allow_redirects=False,
            headers={
                "Accept": accept,
                # The bytes must arrive as the camera encoded them: the image checks read them.
                "Accept-Encoding": "identity",
                "User-Agent": user_agent or "disaster_dx-camera-poller",
            },
        )
    except requests.ConnectTimeout:
        raise FeedError(
            FeedErrorKind.TIMEOUT, f"no connection within {limits.connect_timeout:g} s"
        ) from None
    except requests.ReadTimeout:
        raise FeedError(
            FeedErrorKind.TIMEOUT, f"no response within {limits.read_timeout:g} s"
        ) from None
    except requests.ConnectionError:
        raise FeedError(FeedErrorKind.CONNECTION, "connection refused or dropped") from None
    except requests.RequestException as exc:
        raise FeedError(FeedErrorKind.PROTOCOL, f"request failed ({type(exc).__name__})") from None
    status = response.status_code
    if status == 200:
        return response
    response.close()
    if status in (401, 403):
        raise FeedError(FeedErrorKind.AUTH, f"HTTP {status}: the camera refused the login")
    if 300 <= status < 400:
        raise FeedError(
            FeedErrorKind.REDIRECT,
            f"HTTP {status}: redirects are not followed (only the registered address is fetched)",
        )
    raise FeedError(FeedErrorKind.HTTP_STATUS, f"HTTP {status}")


def _chunks(response: requests.Response, limits: FetchLimits, started: float) -> Iterator[bytes]:
    """Body bytes as they arrive, stopping at the total time limit.

    Reads return whatever has arrived (``read1``) instead of waiting to fill a buffer, so a
    camera dripping one byte at a time is cut off at ``total_timeout`` rather than holding
    its thread for as long as it likes. Read errors become :class:`FeedError`.
    """
    raw = response.raw
    read1 = getattr(raw, "read1", None)
    if read1 is None:  # urllib3 1.x: its http.client response reads without filling a buffer
        read1 = raw._fp.read1
    try:
        while True:
            if time.monotonic() - started > limits.total_timeout:
                raise FeedError(
                    FeedErrorKind.TIMEOUT,
                    f"the frame did not arrive within {limits.total_timeout:g} s",
                )
            chunk = read1(16384)
            if not chunk:
                return
            yield chunk
    except (OSError, http.client.HTTPException, urllib3.exceptions.HTTPError) as exc:
        timed_out = isinstance(exc, TimeoutError | urllib3.exceptions.TimeoutError) or (
            "timed out" in str(exc).lower()
        )
        if timed_out:
            raise FeedError(
                FeedErrorKind.TIMEOUT,
                f"the camera stopped sending for {limits.read_timeout:g} s",
            ) from None
        raise FeedError(FeedErrorKind.CONNECTION, "the connection dropped mid-frame") from None


class SnapshotAdapter:
    """HTTP GET of a still image (IP-camera / ONVIF ``GetSnapshotUri`` style)."""

    def fetch(
        self,
        feed: Feed,
        session: requests.Session,
        limits: FetchLimits,
        *,
        environ: Mapping[str, str] | None = None,
        user_agent: str = "",
    ) -> bytes:
        """The body of one snapshot, at most ``limits.max_bytes``."""
        started = time.monotonic()
        response = _open(
            feed,
            session,
            limits,
            accept="image/jpeg, image/png",
            environ=environ,
            user_agent=user_agent,
        )
        with response:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > limits.max_bytes:
                raise FeedError(
                    FeedErrorKind.TOO_LARGE,
                    f"the camera announced {int(declared):,} bytes "
                    f"(more than the {limits.max_bytes:,} allowed)",
                )
            kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if kind and not kind.startswith("image/") and kind != "application/octet-stream":
                raise FeedError(FeedErrorKind.NOT_IMAGE, f"content type {kind[:60]!r}")
            body = bytearray()
            for chunk in _chunks(response, limits, started):
                body += chunk
                if len(body) > limits.max_bytes:
                    raise FeedError(
                        FeedErrorKind.TOO_LARGE,
                        f"more than the {limits.max_bytes:,} bytes allowed",
                    )
        return bytes(body)


class MjpegAdapter:
    """Reads the first whole frame of an MJPEG ``multipart/x-mixed-replace`` stream, hangs up."""

    def fetch(
        self,
        feed: Feed,
        session: requests.Session,
        limits: FetchLimits,
        *,
        environ: Mapping[str, str] | None = None,
        user_agent: str = "",
    ) -> bytes:
        """The first frame's bytes (by its Content-Length, else up to the next boundary)."""
        started = time.monotonic()
        response = _open(
            feed,
            session,
            limits,
            accept="multipart/x-mixed-replace, image/jpeg",
            environ=environ,
            user_agent=user_agent,
        )
        with response:
            content_type = response.headers.get("Content-Type", "")
            boundary = _boundary(content_type)
            if boundary is None:
                raise FeedError(
                    FeedErrorKind.PROTOCOL,
                    f"expected multipart/x-mixed-replace with a boundary, got "
                    f"{content_type.split(';')[0][:60]!r}",
                )
            limit = limits.max_bytes + 65536  # one frame plus its part headers
            buffer = bytearray()
            for chunk in _chunks(response, limits, started):
                buffer += chunk
                frame = first_part(bytes(buffer), boundary, max_bytes=limits.max_bytes)
                if frame is not None:
                    return frame
                if len(buffer) > limit:
                    raise FeedError(
                        FeedErrorKind.TOO_LARGE,
                        f"no whole frame within {limit:,} bytes of the stream",
                    )
        raise FeedError(FeedErrorKind.PROTOCOL, "the stream ended before a whole frame")


def _boundary(content_type: str) -> bytes | None:
    main, _, params = content_type.partition(";")
    if not main.strip().lower().startswith("multipart/"):
        return None
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "boundary" and value.strip():
            text = value.strip().strip('"')
            return text.encode("latin-1", errors="replace")
    return None


def first_part(buffer: bytes, boundary: bytes, *, max_bytes: int) -> bytes | None:
    """The body of the first complete part in ``buffer``, or None if it is not all there yet.

    Some cameras announce the boundary with its leading ``--`` and some without; both work.

    Raises
    ------
    FeedError
        A part announces more than ``max_bytes``.
    """
    for delimiter in (b"--" + boundary, boundary):
        start = buffer.find(delimiter)
        if start >= 0:
            break
    else:
        return None
    header_start = start + len(delimiter)
    header_end = buffer.find(b"\r\n\r\n", header_start)
    separator = 4
    if header_end < 0:
        header_end = buffer.find(b"\n\n", header_start)
        separator = 2
        if header_end < 0:
            return None
    headers = buffer[header_start:header_end].decode("latin-1", errors="replace")
    body_start = header_end + separator
    length = None
    for line in headers.splitlines():
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length" and value.strip().isdigit():
            length = int(value.strip())
    if length is not None:
        if length > max_bytes:
            raise FeedError(
                FeedErrorKind.TOO_LARGE,
                f"a frame of {length:,} bytes is more than the {max_bytes:,} allowed",
            )
        if len(buffer) < body_start + length:
            return None
        return buffer[body_start : body_start + length]
    end = buffer.find(b"\r\n" + delimiter, body_start)
    if end < 0:
        end = buffer.find(b"\n" + delimiter, body_start)
        if end < 0:
            return None
    return buffer[body_start:end]


#: Feed kinds the registry accepts, and who fetches them.
ADAPTERS: dict[str, FeedAdapter] = {"jpeg": SnapshotAdapter(), "mjpeg": MjpegAdapter()}


def register_adapter(kind: str, adapter: FeedAdapter) -> None:
    """Add a feed kind (e.g. an RTSP grabber); registries may then use ``type: <kind>``."""
    if not re.match(r"^[a-z][a-z0-9_]{0,31}$", kind):
        raise ValueError(f"feed kind {kind!r} must be a short lower-case word")
    ADAPTERS[kind] = adapter


# ---------------------------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------------------------

CAMERA_FEED_FAILED = "camera.feed_failed"
CAMERA_FEED_RECOVERED = "camera.feed_recovered"


def _camera_id_check(value: Any) -> str | None:
    if isinstance(value, str) and CAMERA_ID.match(value):
        return None
    return f"must be a camera id, not {value!r}"


def _frame_key_check(value: Any) -> str | None:
    if isinstance(value, str) and parse_frame_key(value) is not None:
        return None
    return f"must be a frame key like 20250101T030000000000Z, not {value!r}"


def _time_check(value: Any) -> str | None:
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        return f"must be an ISO 8601 time with a time zone, not {value!r}"
    return None


def _whole(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return f"must be a whole number ≥ 0, not {value!r}"
    return None


def _sha256_check(value: Any) -> str | None:
    if isinstance(value, str) and re.fullmatch(r"[0-9a-f]{64}", value):
        return None
    return "must be a SHA-256 hex digest"


def _error_kind_check(value: Any) -> str | None:
    if value in FeedErrorKind._value2member_map_:
        return None
    return f"must be one of {', '.join(k.value for k in FeedErrorKind)}"


def _short_text(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) > 300:
        return "must be text of at most 300 characters"
    return None


def _image_format_check(value: Any) -> str | None:
    return None if value in ("jpeg", "png") else "must be jpeg or png"


# Earlier releases logged every stored picture as a ``camera.frame`` event. Still registered
# so those logs validate, replay and render in the event log (as a routine event); nothing
# writes it any more — frames are rows of ``camera_frames`` (``backfill_frames_from_events``
# copies old ones there).
register_event_type(
    CAMERA_FRAME,
    EventSchema(
        required={
            "camera_id": _camera_id_check,
            "frame": _frame_key_check,
            "captured_at": _time_check,
            "bytes": _whole,
            "width": _whole,
            "height": _whole,
            "sha256": _sha256_check,
        },
        optional={"source_format": _image_format_check},
        subject_field="camera_id",
    ),
    label="カメラ画像の受信",
    label_en="Camera frame",
    routine=True,
)
register_event_type(
    CAMERA_FEED_FAILED,
    EventSchema(
        required={"camera_id": _camera_id_check, "error_kind": _error_kind_check},
        optional={"detail": _short_text, "last_frame": _frame_key_check},
        subject_field="camera_id",
    ),
    label="カメラ映像の途絶",
    label_en="Camera feed lost",
)
register_event_type(
    CAMERA_FEED_RECOVERED,
    EventSchema(
        required={"camera_id": _camera_id_check, "failures": _whole},
        subject_field="camera_id",
    ),
    label="カメラ映像の復旧",
    label_en="Camera feed back",
)


def camera_event_incidents(store: Store) -> list[str]:
    """Incidents that log camera health changes: the live one, plus every open drill."""
    live = store.live_incident(actor="cameras").incident_id
    drills = [
        i.incident_id for i in store.incidents(kind=IncidentKind.DRILL) if i.closed_at is None
    ]
    return [live, *drills]


# ---------------------------------------------------------------------------------------------
# View cones
# ---------------------------------------------------------------------------------------------

#: JGD2011 平面直角座標系 第IV系 — metres, covers Kochi Prefecture.
METRIC_CRS = "EPSG:6672"


@cache
def _transformers() -> tuple[Transformer, Transformer, Geod]:
    """Built once per process (per-call creation is ~10,000× slower); thread-safe since 3.1."""
    to_metric = Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True)
    to_lonlat = Transformer.from_crs(METRIC_CRS, "EPSG:4326", always_xy=True)
    return to_metric, to_lonlat, Geod(ellps="GRS80")


def view_cone(
    lon: float,
    lat: float,
    *,
    heading_deg: float,
    fov_deg: float,
    range_m: float,
    segments: int = 24,
) -> Polygon:
    """The ground a camera sees: a sector from the tower, as a lon/lat polygon.

    Built in EPSG:6672 so the range is in metres. Headings are true bearings (clockwise from
    true north), so the sector is turned by the grid convergence at the tower and stretched
    by the local scale factor, both measured from a 100 m geodesic step north. A field of
    view of 360° gives a circle.

    Parameters
    ----------
    lon, lat
        The tower, in degrees.
    heading_deg
        Centre of the view, degrees clockwise from true north.
    fov_deg
        Horizontal field of view, degrees.
    range_m
        How far the view reaches on the ground, metres.
    segments
        Straight pieces of the arc.
    """
    to_metric, to_lonlat, geod = _transformers()
    x0, y0 = to_metric.transform(lon, lat)
    north_lon, north_lat, _ = geod.fwd(lon, lat, 0.0, 100.0)
    xn, yn = to_metric.transform(north_lon, north_lat)
    convergence = math.atan2(xn - x0, yn - y0)  # grid bearing of true north
    scale = math.hypot(xn - x0, yn - y0) / 100.0
    radius = range_m * scale
    full = fov_deg >= 360.0
    start = math.radians(heading_deg - (180.0 if full else fov_deg / 2.0))
    sweep = math.radians(360.0 if full else fov_deg)
    xs: list[float] = [] if full else [x0]
    ys: list[float] = [] if full else [y0]
    for i in range(segments + (0 if full else 1)):
        bearing = start + sweep * i / segments + convergence
        xs.append(x0 + radius * math.sin(bearing))
        ys.append(y0 + radius * math.cos(bearing))
    lons, lats = to_lonlat.transform(xs, ys)
    return Polygon(list(zip(lons, lats, strict=True)))


def camera_cone(camera: Camera, *, segments: int = 24) -> Polygon:
    """:func:`view_cone` of a registered camera."""
    return view_cone(
        camera.lon,
        camera.lat,
        heading_deg=camera.heading_deg,
        fov_deg=camera.fov_deg,
        range_m=camera.range_m,
        segments=segments,
    )


# ---------------------------------------------------------------------------------------------
# Poller
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """One poll of one camera, as the poller's clock saw it (tests read these)."""

    camera_id: str
    started_at: datetime
    finished_at: datetime
    ok: bool
    error_kind: FeedErrorKind | None = None
    frame_key: str | None = None


def default_holder() -> str:
    """A name for this poller that differs between hosts, processes and instances."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Poller:
    """Polls the registry's cameras, each on its own schedule and thread, storing frames.

    Call :meth:`run_due` repeatedly (``run_forever`` does, every ``tick`` seconds): it renews
    this poller's leases, then hands every camera that is due, held by this poller and not
    already being fetched to its own worker thread, and returns at once. A camera that hangs
    therefore only delays itself, and the others' start times stay exactly on schedule
    (``started_at + interval``), which tests check against an injected clock.

    After a failure the next attempt waits ``interval × 2^(failures-1)``, at most
    ``settings.backoff_max`` seconds.

    Parameters
    ----------
    store
        Where leases, statuses, frame rows and health-change events go.
    registry
        The cameras and their feeds (from the registry file: only these URLs are fetched).
    frames
        The frame store.
    settings
        Limits and timings.
    clock
        "Now" for schedules, capture times and leases.
    holder
        This poller's name in the lease table.
    environ
        Where credentials referenced by environment variable are looked up.
    session_factory
        Makes one HTTP session per camera.
    """

    def __init__(
        self,
        store: Store,
        registry: CameraRegistry,
        frames: FrameStore,
        *,
        settings: CameraSettings | None = None,
        clock: Clock = utcnow,
        holder: str | None = None,
        environ: Mapping[str, str] | None = None,
        session_factory: Callable[[], requests.Session] = new_session,
    ) -> None:
        self.store = store
        self.registry = registry
        self.frames = frames
        self.settings = settings or CameraSettings()
        self.clock = clock
        self.holder = holder or default_holder()
        self.environ = environ
        self.limits = FetchLimits.from_settings(self.settings)
        self.cameras = [c for c in registry.cameras if c.feed is not None]
        self._lock = threading.Lock()
        self._sessions = {c.camera_id: session_factory() for c in self.cameras}
        self._executor = ThreadPoolExecutor(
            max_workers=max(1, len(self.cameras)), thread_name_prefix="camera-poll"
        )
        self._next_due: dict[str, datetime] = {}
        self._failures: dict[str, int] = {}
        self._in_flight: dict[str, Future[None]] = {}
        self._held: set[str] = set()
        self._lease_due = _EPOCH
        self._prune_due = _EPOCH
        self._closed = False
        self.history: deque[Attempt] = deque(maxlen=2000)

    # -- scheduling ---------------------------------------------------------------------------

    @property
    def held(self) -> set[str]:
        """Cameras this poller holds the lease for."""
        with self._lock:
            return set(self._held)

    def run_due(self) -> list[str]:
        """Start every due camera's fetch on its own thread; returns the ids started."""
        if self._closed:
            return []
        now = self.clock()
        self._refresh_leases(now)
        started: list[str] = []
        with self._lock:
            for camera in self.cameras:
                camera_id = camera.camera_id
                if camera_id not in self._held:
                    continue
                running = self._in_flight.get(camera_id)
                if running is not None and not running.done():
                    continue
                if now < self._next_due.get(camera_id, now):
                    continue
                self._next_due[camera_id] = now + timedelta(seconds=camera.poll_interval_s)
                self._in_flight[camera_id] = self._executor.submit(self._poll, camera, now)
                started.append(camera_id)
        if now >= self._prune_due:
            self._prune_due = now + timedelta(minutes=1)
            for camera in self.cameras:
                self._prune(camera.camera_id, now)
        return started

    def wait(self, camera_ids: Sequence[str] | None = None, timeout: float | None = None) -> None:
        """Wait until the fetches in flight (of ``camera_ids``, default all) have finished."""
        with self._lock:
            futures = [
                f for cid, f in self._in_flight.items() if camera_ids is None or cid in camera_ids
            ]
        deadline = None if timeout is None else time.monotonic() + timeout
        for future in futures:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                future.result(timeout=remaining)
            except TimeoutError:
                raise
            except Exception:  # already logged by _poll
                pass

    def busy(self, camera_id: str) -> bool:
        """Whether a fetch of ``camera_id`` is in flight."""
        with self._lock:
            running = self._in_flight.get(camera_id)
        return running is not None and not running.done()

    def run_forever(self, stop: threading.Event, *, tick: float = 0.5) -> None:
        """Poll until ``stop`` is set; a database outage is logged and retried, never fatal."""
        log.info(
            "camera poller %s: %d camera(s) from %s",
            self.holder,
            len(self.cameras),
            self.registry.source or "(memory)",
        )
        try:
            while not stop.is_set():
                try:
                    self.run_due()
                except SQLAlchemyError as exc:
                    log.warning(
                        "camera poller: database unavailable (%s); retrying", type(exc).__name__
                    )
                except OSError as exc:  # e.g. the frame folder is full or not writable
                    log.error("camera poller: %s; retrying", type(exc).__name__)
                stop.wait(tick)
        finally:
            self.close()

    def close(self, *, wait: bool = True) -> None:
        """Stop: finish (or abandon) fetches in flight and hand the leases back."""
        if self._closed:
            return
        self._closed = True
        self._executor.shutdown(wait=wait, cancel_futures=True)
        try:
            release_leases(self.store, self.holder)
        except SQLAlchemyError as exc:
            log.warning("camera poller: could not release leases (%s)", type(exc).__name__)
        for session in self._sessions.values():
            session.close()

    def _refresh_leases(self, now: datetime) -> None:
        # Claims are renewed, and free cameras looked for, every third of the lease time:
        # often enough to keep what we hold, rare enough that idle workers cost the
        # database little. A cleanly stopped poller's cameras are taken over within that.
        if now < self._lease_due:
            return
        ids = [c.camera_id for c in self.cameras]
        ttl = timedelta(seconds=self.settings.lease_seconds)
        held = acquire_leases(self.store, ids, self.holder, now, ttl=ttl)
        with self._lock:
            new = held - self._held
            lost = self._held - held
            self._held = held
            for camera_id in new:
                self._next_due[camera_id] = now
                self._failures[camera_id] = 0
            self._lease_due = now + ttl / 3
        for camera_id in sorted(new):
            log.info("camera %s: polled by %s", camera_id, self.holder)
            self._write_status(camera_id, {"polling_since": now, "holder": self.holder}, now)
        for camera_id in sorted(lost):
            log.warning("camera %s: lease lost; another poller has it now", camera_id)

    # -- one fetch (runs on the camera's worker thread) ---------------------------------------

    def _poll(self, camera: Camera, started_at: datetime) -> None:
        assert camera.feed is not None
        adapter = ADAPTERS.get(camera.feed.kind)
        try:
            if adapter is None:
                raise FeedError(
                    FeedErrorKind.CONFIG, f"no adapter for feed type {camera.feed.kind}"
                )
            raw = adapter.fetch(
                camera.feed,
                self._sessions[camera.camera_id],
                self.limits,
                environ=self.environ,
                user_agent=f"disaster_dx-camera-poller ({self.holder})",
            )
            image = check_image(
                raw, max_bytes=self.limits.max_bytes, max_pixels=self.settings.max_pixels
            )
        except FeedError as exc:
            self._failed(camera, started_at, exc)
            return
        except Exception as exc:  # a bug or an adapter's surprise: never kill the thread
            error = FeedError(FeedErrorKind.PROTOCOL, f"unexpected {type(exc).__name__}")
            self._failed(camera, started_at, error)
            return
        try:
            self._succeeded(camera, started_at, image)
        except OSError as exc:  # the frame store is full or not writable
            error = FeedError(
                FeedErrorKind.CONFIG, f"the frame could not be stored ({type(exc).__name__})"
            )
            self._failed(camera, started_at, error)

    def _succeeded(self, camera: Camera, started_at: datetime, image: CheckedImage) -> None:
        captured_at = self.clock()
        camera_id = camera.camera_id
        ref = self.frames.save(camera_id, image.data, captured_at)
        frame = frame_record(
            camera_id,
            captured_at,
            size_bytes=len(image.data),
            width=image.width,
            height=image.height,
            sha256=hashlib.sha256(image.data).hexdigest(),
            source_format=image.source_format,
        )
        with self._lock:
            failures = self._failures.get(camera_id, 0)
            self._failures[camera_id] = 0
        recorded = self._write_status(
            camera_id,
            {
                "last_attempt_at": started_at,
                "last_frame_at": captured_at,
                "last_frame_key": ref.key,
                "failures": 0,
                "holder": self.holder,
            },
            captured_at,
            frame=frame,
        )
        if not recorded:  # another poller took the camera meanwhile: its frame, not ours
            ref.path.unlink(missing_ok=True)
            self._remember(Attempt(camera_id, started_at, captured_at, False, FeedErrorKind.CONFIG))
            return
        log.debug("camera %s: frame %s (%d bytes)", camera_id, ref.key, len(image.data))
        if failures:  # a health change: the one kind of camera news the incident log takes
            log.info("camera %s: frames again after %d failure(s)", camera_id, failures)
            self._record_events(
                [NewEvent(CAMERA_FEED_RECOVERED, {"camera_id": camera_id, "failures": failures})]
            )
        self._remember(Attempt(camera_id, started_at, captured_at, True, frame_key=ref.key))
        self._prune(camera_id, captured_at)

    def _failed(self, camera: Camera, started_at: datetime, error: FeedError) -> None:
        finished_at = self.clock()
        camera_id = camera.camera_id
        with self._lock:
            failures = self._failures.get(camera_id, 0) + 1
            self._failures[camera_id] = failures
            delay = min(
                camera.poll_interval_s * 2 ** min(failures - 1, 20), self.settings.backoff_max
            )
            delay = max(delay, camera.poll_interval_s)
            self._next_due[camera_id] = started_at + timedelta(seconds=delay)
        log.warning(
            "camera %s: %s — %s; failure %d, next try in %g s",
            camera_id,
            error.kind.value,
            error.detail,
            failures,
            delay,
        )
        recorded = self._write_status(
            camera_id,
            {
                "last_attempt_at": started_at,
                "last_error_kind": error.kind.value,
                "last_error": error.detail[:300],
                "last_error_at": finished_at,
                "failures": failures,
                "holder": self.holder,
            },
            finished_at,
        )
        if recorded and failures == 1:
            self._record_events(
                [
                    NewEvent(
                        CAMERA_FEED_FAILED,
                        {
                            "camera_id": camera_id,
                            "error_kind": error.kind.value,
                            "detail": error.detail[:300],
                        },
                    )
                ]
            )
        self._remember(Attempt(camera_id, started_at, finished_at, False, error.kind))

    def _prune(self, camera_id: str, now: datetime) -> None:
        """Retention on files and rows; a failure waits for the next pass (within a minute)."""
        try:
            prune_frames(self.store, self.frames, camera_id, now)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("camera %s: retention not applied (%s)", camera_id, type(exc).__name__)

    def _remember(self, attempt: Attempt) -> None:
        with self._lock:
            self.history.append(attempt)

    def _write_status(
        self,
        camera_id: str,
        values: dict[str, Any],
        now: datetime,
        *,
        frame: FrameRecord | None = None,
    ) -> bool:
        """Update the status row (and record ``frame``) if this poller still holds the camera.

        Returns False, writing nothing, when it does not: the status and the frame's row are
        one transaction, so a frame is on record exactly when its camera's status says so.
        """
        try:
            with self.store._write() as conn:
                if not _holds(conn, camera_id, self.holder):
                    return False
                if frame is not None:
                    write_frame_row(conn, frame)
                done = conn.execute(
                    update(camera_status_table)
                    .where(camera_status_table.c.camera_id == camera_id)
                    .values(**values, updated_at=now)
                )
                if done.rowcount == 0:
                    row = {"polling_since": now, "failures": 0, **values}
                    conn.execute(
                        insert(camera_status_table).values(
                            camera_id=camera_id, **row, updated_at=now
                        )
                    )
        except SQLAlchemyError as exc:
            log.warning("camera %s: status not saved (%s)", camera_id, type(exc).__name__)
            return False
        return True

    def _record_events(self, events: list[NewEvent]) -> None:
        """Log health changes in the live incident and every open drill (never frames)."""
        try:
            incidents = camera_event_incidents(self.store)
        except (SQLAlchemyError, DisasterDxError) as exc:
            log.warning("camera events not recorded (%s)", type(exc).__name__)
            return
        for incident_id in incidents:
            try:
                self.store.append(incident_id, events, actor="cameras")
            except (SQLAlchemyError, DisasterDxError) as exc:
                log.warning(
                    "camera events not recorded in %s (%s)", incident_id, type(exc).__name__
                )
