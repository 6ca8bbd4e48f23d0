"""The camera registry (``data/cameras.yaml``): a JSON Schema, with every problem's line.

Credentials are only referenced (an environment variable or a secret file), never written.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from jsonschema import Draft202012Validator, TypeChecker, validators
from jsonschema.exceptions import ValidationError as SchemaError

from disaster_dx._parsing import check_bytes, read_limited
from disaster_dx.cameras.frames import CAMERA_ID
from disaster_dx.cameras.vocabulary import (
    BUNDLED_REGISTRY,
    CameraRegistryError,
    FeedError,
    FeedErrorKind,
)
from disaster_dx.errors import ImportFileError, Problem
from disaster_dx.yaml_lines import LocatedYaml, load_yaml_lines

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


#: Secrets are referenced (feed.auth), never written: a key containing one of these words is
#: refused with :data:`_SECRET_REFUSAL` wherever it is not an allowed key.
_SECRET_WORDS = ("pass", "secret", "token", "apikey", "api_key")
_SECRET_REFUSAL = (
    "secrets must not be written in the registry (it is kept in the repository): "
    "give password_env (an environment variable name) or password_file under feed.auth"
)
#: Number fields: (lowest, highest, highest allowed?, default). A default of None: required.
_NUMBER_FIELDS: dict[str, tuple[float, float, bool, float | None]] = {
    "lon": (122.0, 154.0, True, None),
    "lat": (20.0, 46.0, True, None),
    "height_m": (0.0, 300.0, True, 0.0),
    "heading_deg": (0.0, 360.0, False, None),
    "fov_deg": (1.0, 360.0, True, None),
    "range_m": (10.0, 30_000.0, True, None),
    "poll_interval_s": (1.0, 3600.0, True, 10.0),
}
_DEFAULT_KEYS = ("height_m", "fov_deg", "range_m", "poll_interval_s", "public")
#: JSON Schema ``pattern``s are searched, and Python's ``$`` also matches before a final
#: newline: ``(?![\s\S])`` is "the very end" in both Python and ECMA-262 (editors).
_END = r"(?![\s\S])"
_CAMERA_ID_PATTERN = CAMERA_ID.pattern.replace(r"\Z", _END)  # the frame store's rule
_ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,127}" + _END


def _number(name: str) -> dict[str, Any]:
    lowest, highest, inclusive, _ = _NUMBER_FIELDS[name]
    hint = " (inside Japan; are longitude and latitude swapped?)" if name in ("lon", "lat") else ""
    bound = f"at most {highest:g}" if inclusive else f"below {highest:g}"
    return {
        "type": "number",
        "minimum": lowest,
        ("maximum" if inclusive else "exclusiveMaximum"): highest,
        "x-messages": {
            "type": "must be a number, not {value!r}",
            "range": "{value!r} must be at least " + f"{lowest:g} and {bound}{hint}",
        },
    }


def _text(name: str, limit: int = 200) -> dict[str, Any]:
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": limit,
        "pattern": r"\S",
        "x-messages": {"*": f"{name} must be text of 1–{limit} characters"},
    }


def registry_schema(feed_kinds: tuple[str, ...]) -> dict[str, Any]:
    """The registry's JSON Schema (draft 2020-12) for the feed types registered now.

    Messages for people are kept next to each rule under ``x-messages`` (validator name, or
    ``range`` for the bounds, or ``*``), formatted with ``{value!r}`` where echoing the value
    is safe; values under ``feed`` are never echoed (an address may carry a password).
    """
    public = {"type": "boolean", "x-messages": {"type": "must be true or false, not {value!r}"}}
    auth = {
        "type": "object",
        "properties": {
            "scheme": {
                "enum": ["basic", "digest"],
                "x-messages": {"*": "feed.auth.scheme must be basic or digest, not {value!r}"},
            },
            "username": _text("feed.auth.username"),
            "username_env": {
                **_text("feed.auth.username_env", 128),
                "pattern": _ENV_NAME_PATTERN,
                "x-messages": {"*": "feed.auth.username_env must be an environment variable name"},
            },
            "password_env": {
                **_text("feed.auth.password_env", 128),
                "pattern": _ENV_NAME_PATTERN,
                "x-messages": {"*": "feed.auth.password_env must be an environment variable name"},
            },
            "password_file": _text("feed.auth.password_file", 1000),
        },
        "required": ["scheme"],
        "additionalProperties": False,
        "anyOf": [{"required": ["username"]}, {"required": ["username_env"]}],
        "oneOf": [{"required": ["password_env"]}, {"required": ["password_file"]}],
        "x-messages": {
            "type": "feed.auth must be a mapping of key: value",
            "anyOf": "feed.auth needs username or username_env",
            "oneOf": "feed.auth needs exactly one of password_env or password_file",
        },
    }
    feed = {
        "type": "object",
        "properties": {
            "type": {
                "enum": list(feed_kinds),
                "x-messages": {"*": "feed.type {value!r} is not one of " + ", ".join(feed_kinds)},
            },
            # Checked further in Python (_url_problem): scheme per type, no user:password.
            "url": {
                "type": "string",
                "pattern": r"\S",
                "x-messages": {
                    "*": "feed.url is required (the camera's snapshot, MJPEG or RTSP address)"
                },
            },
            "auth": auth,
        },
        "required": ["type", "url"],
        "additionalProperties": False,
        "x-messages": {"type": "feed must be a mapping of key: value (type, url, auth)"},
    }
    camera = {
        "type": "object",
        "properties": {
            "id": {
                "type": "string",
                "pattern": _CAMERA_ID_PATTERN,
                "x-messages": {
                    "*": "{value!r} is not a valid id: use 1–32 lower-case letters, digits, - or _ "
                    "(it becomes part of file names and URLs)"
                },
            },
            "name": {
                "type": "object",
                "properties": {"ja": _text("name.ja", 100), "en": _text("name.en", 100)},
                "required": ["ja", "en"],
                "additionalProperties": False,
                "x-messages": {
                    "type": "name must be a mapping with ja and en",
                    "additionalProperties": "unknown language {key!r}; give ja and en",
                },
            },
            **{name: _number(name) for name in _NUMBER_FIELDS},
            "public": public,
            "feed": feed,
        },
        "required": ["id", "name", "lon", "lat", "heading_deg", "fov_deg", "range_m", "feed"],
        "additionalProperties": False,
        "x-messages": {"type": "must be a mapping of key: value"},
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "disaster_dx camera registry (data/cameras.yaml)",
        "type": "object",
        "properties": {
            "version": {"const": 1, "x-messages": {"*": "version must be 1"}},
            "defaults": {
                "type": "object",
                "properties": {
                    **{name: _number(name) for name in _DEFAULT_KEYS if name != "public"},
                    "public": public,
                },
                "additionalProperties": False,
                "x-messages": {
                    "type": "must be a mapping of key: value",
                    "additionalProperties": "{key!r} cannot have a default; allowed: "
                    + ", ".join(sorted(_DEFAULT_KEYS)),
                },
            },
            "cameras": {
                "type": "array",
                "minItems": 1,
                "items": camera,
                "x-messages": {"*": "must be a non-empty list"},
            },
        },
        "required": ["cameras"],
        "additionalProperties": False,
        "x-messages": {
            "type": "must be a mapping of key: value",
            "required": "a cameras: list is required",
            "additionalProperties": "unknown key {key!r}; expected version, defaults, cameras",
        },
    }


def _finite_number(checker: TypeChecker, value: object) -> bool:
    """JSON has no NaN or infinity; YAML's ``.nan`` and ``.inf`` are not numbers here."""
    return bool(Draft202012Validator.TYPE_CHECKER.is_type(value, "number")) and math.isfinite(
        value  # type: ignore[arg-type]
    )


_RegistryValidator = validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("number", _finite_number),
)


@cache
def _validator(feed_kinds: tuple[str, ...]) -> Draft202012Validator:
    """The validator for the feed types registered now (adapters may be added at run time)."""
    schema = registry_schema(feed_kinds)
    Draft202012Validator.check_schema(schema)
    validator: Draft202012Validator = _RegistryValidator(schema)
    return validator


_RANGE = {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}
_TYPE_WORDS = {"object": "a mapping of key: value", "array": "a list", "string": "text"}


class _Report:
    """Problems with their place: ``line N (camera 'id', field)`` as the registry always said."""

    def __init__(self, doc: LocatedYaml) -> None:
        self.doc = doc
        self.problems: list[tuple[int, Problem]] = []

    def label(self, index: int) -> str:
        cameras = self.doc.data.get("cameras") if isinstance(self.doc.data, dict) else None
        item = cameras[index] if isinstance(cameras, list) and index < len(cameras) else None
        raw_id = item.get("id") if isinstance(item, dict) else None
        return f"camera {raw_id!r}" if isinstance(raw_id, str) else f"camera {index + 1}"

    def add(self, path: Sequence[Any], message: str, *, line: int | None = None) -> None:
        line = line or self.doc.near(path)[0]
        if len(path) >= 2 and path[0] == "cameras" and isinstance(path[1], int):
            field = f", {path[2]}" if len(path) > 2 else ""
            where = f"line {line} ({self.label(path[1])}{field})"
        elif path and path[0] in ("cameras", "defaults"):
            where = f"line {line} ({path[0]})"
        elif path == () and not isinstance(self.doc.data, dict):
            where = f"line {line} (file)"
        else:
            where = f"line {line}"
        self.problems.append((line, Problem(where, message)))

    def schema_error(self, error: SchemaError) -> None:
        path = tuple(error.absolute_path)
        messages: dict[str, str] = error.schema.get("x-messages", {})
        value = error.instance
        if error.validator == "additionalProperties" and isinstance(value, dict):
            allowed = sorted(error.schema.get("properties", {}))
            for key in value:
                if key in allowed:
                    continue
                dotted = ".".join(str(p) for p in (*path[2:], key))
                if any(word in key.lower() for word in _SECRET_WORDS):
                    text = f"{dotted}: {_SECRET_REFUSAL}" if len(path) > 2 else _SECRET_REFUSAL
                elif "additionalProperties" in messages:
                    text = messages["additionalProperties"].format(key=key)
                elif len(path) > 2:
                    text = f"unknown field {dotted}; expected {', '.join(allowed)}"
                else:
                    text = f"unknown field; expected {', '.join(allowed)}"
                line = self.doc.key((*path, key))[0]
                self.add((*path, key) if len(path) == 2 else path, text, line=line)
            return
        if error.validator == "required" and "required" not in messages:
            # jsonschema reports each missing property as its own error, naming it.
            missing = re.search(r"'([^']+)' is a required property", error.message)
            dotted = "".join(f"{p}." for p in path[2:])
            self.add(path, f"{dotted}{missing.group(1) if missing else '?'} is required")
            return
        kind = "range" if error.validator in _RANGE else str(error.validator)
        template = messages.get(kind) or messages.get("*")
        if template is None:  # a rule without its own words: say what was expected
            if error.validator == "type":
                template = f"must be {_TYPE_WORDS.get(str(error.validator_value), 'valid')}"
            else:
                template = error.message  # never reached by the schema above
        self.add(path, template.format(value=value))


def registry_from_yaml(text: str, *, source: str = "cameras.yaml") -> CameraRegistry:
    """Validate a registry document and return its cameras.

    The shape is checked by :func:`registry_schema` (JSON Schema), read with the shared YAML
    reader (:mod:`disaster_dx.yaml_lines`: YAML 1.2 scalars, lines kept); what a schema cannot
    say (duplicate ids, what a feed address may carry) is checked here.

    Raises
    ------
    CameraRegistryError
        Listing every problem at once, each with its line number and field. A password (or
        a URL carrying one) in the file is refused without repeating it.
    """
    from disaster_dx.cameras.adapters import ADAPTERS  # adapters use this module's types

    try:
        check_bytes(text, source, "yaml")
        doc = load_yaml_lines(text)  # no aliases, bounded depth and size: see _parsing
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
    if doc.data is None:
        raise CameraRegistryError(source, [Problem("file", "is empty; it needs a cameras: list")])
    report = _Report(doc)
    for issue in doc.issues:
        what = (
            f"{issue.key!r} is given twice" if issue.kind == "duplicate" else "a key must be text"
        )
        report.add(issue.path, what, line=issue.mark[0])
    for error in _validator(tuple(sorted(ADAPTERS))).iter_errors(doc.data):
        report.schema_error(error)
    data = doc.data
    cameras_data = data.get("cameras") if isinstance(data, dict) else None
    if isinstance(cameras_data, list):
        _check_cameras(report, cameras_data)
    if report.problems:
        # In line order, each once (a value can break more than one rule of the same words).
        unique = {(p.where, p.message): (line, p) for line, p in report.problems}
        ordered = [p for _, p in sorted(unique.values(), key=lambda item: item[0])]
        raise CameraRegistryError(source, ordered)
    defaults = data.get("defaults") or {}
    cameras = tuple(_camera(item, defaults) for item in cameras_data or [])
    return CameraRegistry(cameras, source=source)


def _check_cameras(report: _Report, cameras: list[Any]) -> None:
    """What the schema cannot say: each id once, and what a feed address may carry."""
    seen: dict[str, int] = {}
    for index, item in enumerate(cameras):
        if not isinstance(item, dict):
            continue
        raw_id = item.get("id")
        line = report.doc.of(("cameras", index))[0]
        if isinstance(raw_id, str) and raw_id in seen:
            report.add(
                ("cameras", index), f"id is already used by the camera on line {seen[raw_id]}"
            )
        elif isinstance(raw_id, str):
            seen[raw_id] = line
        feed = item.get("feed")
        url = feed.get("url") if isinstance(feed, dict) else None
        if isinstance(url, str) and url.strip():
            problem = _url_problem(url, str(feed.get("type")) if isinstance(feed, dict) else "")
            if problem:
                report.add(("cameras", index, "feed", "url"), f"feed.url {problem}")


def _camera(item: Mapping[str, Any], defaults: Mapping[str, Any]) -> Camera:
    """A camera from an entry the schema and :func:`_check_cameras` accepted."""
    numbers: dict[str, float] = {}
    for key, (_low, _high, _inclusive, default) in _NUMBER_FIELDS.items():
        numbers[key] = float(item.get(key, defaults.get(key, default)))
    feed = item["feed"]
    auth = feed.get("auth")
    credentials = None
    if auth is not None:
        credentials = Credentials(
            scheme=auth["scheme"],
            username=auth.get("username", "").strip(),
            username_env=auth.get("username_env", ""),
            password_env=auth.get("password_env", ""),
            password_file=auth.get("password_file", "").strip(),
        )
    return Camera(
        camera_id=item["id"],
        name_ja=item["name"]["ja"].strip(),
        name_en=item["name"]["en"].strip(),
        lon=numbers["lon"],
        lat=numbers["lat"],
        height_m=numbers["height_m"],
        heading_deg=numbers["heading_deg"],
        fov_deg=numbers["fov_deg"],
        range_m=numbers["range_m"],
        poll_interval_s=numbers["poll_interval_s"],
        public=bool(item.get("public", defaults.get("public", False))),
        feed_kind=feed["type"],
        feed=Feed(kind=feed["type"], url=feed["url"], credentials=credentials),
    )


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
