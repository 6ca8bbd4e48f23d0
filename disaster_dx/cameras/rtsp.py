"""RTSP feeds (H.264/H.265 network cameras, ONVIF Profile S): one decoded keyframe per poll.

Most tower cameras offer RTSP and many offer no snapshot URL. Each poll opens the stream over
TCP (interleaved RTP: no UDP ports to open in the city's firewall), decodes the first
keyframe, re-encodes it as a JPEG and hangs up. Decoding is PyAV, whose wheel carries its
own FFmpeg.

Limits: ``connect_timeout`` for the connection and the RTSP handshake, ``read_timeout``
between packets (both enforced inside FFmpeg through PyAV's interrupt callback and the
socket's own I/O timeout) and ``total_timeout`` for the whole fetch, checked after every
packet. A server that accepts and then stalls therefore costs at most those limits, and only
on this camera's own poller thread.

Credentials are referenced as for HTTP cameras and put into the address only in memory for
FFmpeg; no message, log line or status written here ever contains the address (PyAV's
errors quote it, so they are reduced to their type name).
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

from disaster_dx.cameras.vocabulary import FeedError, FeedErrorKind

if TYPE_CHECKING:
    from disaster_dx.cameras.adapters import FetchLimits
    from disaster_dx.cameras.registry import Credentials, Feed

log = logging.getLogger("disaster_dx.cameras")

#: JPEG quality of the stored keyframe (the picture HQ sees).
JPEG_QUALITY = 85


def _with_credentials(
    url: str, credentials: Credentials | None, environ: Mapping[str, str] | None
) -> str:
    """The address with ``user:password@`` for FFmpeg (in memory only; never logged)."""
    if credentials is None:
        return url
    username, password = credentials.resolve(environ)
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    netloc = f"{quote(username, safe='')}:{quote(password, safe='')}@{host}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class RtspAdapter:
    """One keyframe of an RTSP stream, as JPEG bytes (checked afterwards like any frame)."""

    def fetch(
        self,
        feed: Feed,
        session: Any,
        limits: FetchLimits,
        *,
        environ: Mapping[str, str] | None = None,
        user_agent: str = "",
    ) -> bytes:
        """Open, decode the first keyframe, re-encode it as JPEG, hang up."""
        import av  # imported when an RTSP camera is first polled (the wheel is large)

        started = time.monotonic()
        address = _with_credentials(feed.url, feed.credentials, environ)
        options = {
            "rtsp_transport": "tcp",
            # FFmpeg's socket I/O timeout, in microseconds (connect and every read).
            "timeout": str(int(max(limits.connect_timeout, limits.read_timeout) * 1_000_000)),
            "user_agent": user_agent or "disaster_dx-camera-poller",
        }
        try:
            container = av.open(
                address,
                format="rtsp",
                options=options,
                timeout=(limits.connect_timeout, limits.read_timeout),
            )
        except Exception as exc:
            raise _feed_error(exc, limits, time.monotonic() - started, opening=True) from None
        try:
            streams = container.streams.video
            if not streams:
                raise FeedError(FeedErrorKind.PROTOCOL, "the RTSP stream has no video")
            stream = streams[0]
            stream.codec_context.skip_frame = "NONKEY"  # decode keyframes only
            for packet in container.demux(stream):
                if time.monotonic() - started > limits.total_timeout:
                    raise FeedError(
                        FeedErrorKind.TIMEOUT,
                        f"no keyframe within {limits.total_timeout:g} s",
                    )
                if packet.size > limits.max_bytes:
                    raise FeedError(
                        FeedErrorKind.TOO_LARGE,
                        f"a packet of {packet.size:,} bytes is more than the "
                        f"{limits.max_bytes:,} allowed",
                    )
                for frame in packet.decode():
                    if not frame.key_frame:
                        continue
                    buffer = io.BytesIO()
                    picture = frame.to_image()  # type: ignore[no-untyped-call]
                    picture.save(buffer, format="JPEG", quality=JPEG_QUALITY)
                    return buffer.getvalue()
            raise FeedError(FeedErrorKind.PROTOCOL, "the RTSP stream ended before a keyframe")
        except FeedError:
            raise
        except Exception as exc:
            raise _feed_error(exc, limits, time.monotonic() - started, opening=False) from None
        finally:
            try:
                container.close()
            except Exception:
                log.debug("RTSP session not closed cleanly", exc_info=False)


def _feed_error(exc: Exception, limits: FetchLimits, elapsed: float, *, opening: bool) -> FeedError:
    """A :class:`FeedError` from a PyAV/FFmpeg error, by its type only (never its text).

    FFmpeg reports a server that stops answering in several ways (an interrupt, a socket
    timeout, or "invalid data" for the half-read answer), so an error that came after the
    time limit ran out counts as a timeout whatever its type.
    """
    import av

    # Tuples, not ``A | B``: PyAV's error classes do not support ``|``.
    name = type(exc).__name__
    if isinstance(exc, (av.error.HTTPUnauthorizedError, av.error.HTTPForbiddenError)):
        return FeedError(FeedErrorKind.AUTH, f"RTSP {name}: the camera refused the login")
    limit = min(limits.connect_timeout, limits.read_timeout)
    waited = elapsed >= 0.9 * limit
    if waited or isinstance(exc, (av.error.ExitError, av.error.TimeoutError, TimeoutError)):
        if opening:
            return FeedError(
                FeedErrorKind.TIMEOUT,
                f"no RTSP session within {limits.connect_timeout:g} s ({name})",
            )
        return FeedError(
            FeedErrorKind.TIMEOUT, f"the camera stopped sending for {limits.read_timeout:g} s"
        )
    if isinstance(exc, (ConnectionError, av.error.ConnectionRefusedError)):
        return FeedError(FeedErrorKind.CONNECTION, f"RTSP connection failed ({name})")
    if isinstance(exc, (av.error.HTTPNotFoundError, av.error.HTTPClientError)):
        return FeedError(FeedErrorKind.HTTP_STATUS, f"RTSP request refused ({name})")
    if isinstance(exc, OSError) and opening:
        return FeedError(FeedErrorKind.CONNECTION, f"RTSP connection failed ({name})")
    return FeedError(FeedErrorKind.PROTOCOL, f"RTSP stream unreadable ({name})")
