"""The camera registry (``data/cameras.yaml``): validated with line numbers.

Credentials are only referenced (an environment variable or a secret file), never written.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from disaster_dx._parsing import check_bytes, compose_yaml, read_limited
from disaster_dx.cameras.frames import (  # every camera table, created by create_camera_tables
    CAMERA_ID,
)
from disaster_dx.cameras.vocabulary import (
    BUNDLED_REGISTRY,
    CameraRegistryError,
    FeedError,
    FeedErrorKind,
)
from disaster_dx.errors import ImportFileError, Problem

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")

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
    from disaster_dx.cameras.adapters import ADAPTERS  # adapters use this module's types

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
    url_problem = _url_problem(url, str(kind))
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


#: Address schemes per feed type (anything else is refused with the line of the address).
_SCHEMES = {"rtsp": ("rtsp", "rtsps")}


def _url_problem(url: object, kind: str = "jpeg") -> str | None:
    """Why a feed URL is refused, without ever quoting a password it may carry."""
    if not isinstance(url, str) or not url.strip():
        return "is required (the camera's snapshot, MJPEG or RTSP address)"
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
    schemes = _SCHEMES.get(kind, ("http", "https"))
    if parts.scheme not in schemes:
        wanted = " or ".join(f"{s}://" for s in schemes)
        return f"of a {kind} feed must start with {wanted}, not {parts.scheme or '(none)'}:"
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
