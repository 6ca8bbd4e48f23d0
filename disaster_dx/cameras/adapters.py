"""Feed adapters: one frame from a camera within time and size limits, checked as an image."""

from __future__ import annotations

import http.client
import io
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import requests
import urllib3
from PIL import Image

from disaster_dx.cameras.registry import (
    Credentials,
    Feed,
)
from disaster_dx.cameras.rtsp import RtspAdapter
from disaster_dx.cameras.vocabulary import (
    CameraSettings,
    FeedError,
    FeedErrorKind,
)

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
            main = content_type.split(";")[0].strip().lower()
            # Many cameras, and ffmpeg's own MJPEG server, send a multipart stream labelled
            # application/octet-stream (or nothing): then the bytes themselves must show it.
            sniff = boundary is None and main in ("application/octet-stream", "")
            if boundary is None and not sniff:
                raise FeedError(
                    FeedErrorKind.PROTOCOL,
                    f"expected multipart/x-mixed-replace with a boundary, got {main[:60]!r}",
                )
            limit = limits.max_bytes + 65536  # one frame plus its part headers
            buffer = bytearray()
            for chunk in _chunks(response, limits, started):
                buffer += chunk
                if boundary is None:
                    boundary = sniffed_boundary(bytes(buffer))
                    if boundary is None:
                        continue
                frame = first_part(bytes(buffer), boundary, max_bytes=limits.max_bytes)
                if frame is not None:
                    return frame
                if len(buffer) > limit:
                    raise FeedError(
                        FeedErrorKind.TOO_LARGE,
                        f"no whole frame within {limit:,} bytes of the stream",
                    )
        raise FeedError(FeedErrorKind.PROTOCOL, "the stream ended before a whole frame")


_SNIFF_BYTES = 256
_BOUNDARY_TOKEN = re.compile(rb"^--([!#-'*+.0-9A-Z^-z|~-]{1,70})$")


def sniffed_boundary(head: bytes) -> bytes | None:
    """The boundary of a multipart stream sent without its type, from its first line.

    Returns None while the first line has not fully arrived.

    Raises
    ------
    FeedError
        ``protocol``: the bytes are not a multipart stream (e.g. a bare picture or a page).
    """
    text = head.lstrip(b"\r\n")
    end = text.find(b"\n")
    if end < 0:
        if len(text) > _SNIFF_BYTES:
            raise FeedError(FeedErrorKind.PROTOCOL, "untyped stream without a boundary line")
        return None
    match = _BOUNDARY_TOKEN.match(text[:end].rstrip(b"\r"))
    if match is None:
        raise FeedError(
            FeedErrorKind.PROTOCOL,
            f"untyped stream starting {text[:8].hex(' ')} is not multipart",
        )
    return match.group(1)


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
ADAPTERS: dict[str, FeedAdapter] = {
    "jpeg": SnapshotAdapter(),
    "mjpeg": MjpegAdapter(),
    "rtsp": RtspAdapter(),
}


def register_adapter(kind: str, adapter: FeedAdapter) -> None:
    """Add a feed kind (e.g. an RTSP grabber); registries may then use ``type: <kind>``."""
    if not re.match(r"^[a-z][a-z0-9_]{0,31}$", kind):
        raise ValueError(f"feed kind {kind!r} must be a short lower-case word")
    ADAPTERS[kind] = adapter
