"""Request bodies limited while they stream: a long body is refused, never held or cut short.

Flask's ``MAX_CONTENT_LENGTH`` refuses a declared ``Content-Length`` over the limit before
reading. A chunked body declares none; behind gunicorn Werkzeug then reads at most the limit
and *stops without a word* (a body one byte too long arrives cut off, and a form cut off can
still parse). :class:`BodyLimit` wraps such a body in :class:`CappedInput`, which raises 413
as soon as the client sends more than the limit: the worker reads the limit and one byte more,
whatever the client has left to send.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import IO, Any

from werkzeug.exceptions import RequestEntityTooLarge

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class CappedInput(io.RawIOBase):
    """A body stream that raises :class:`RequestEntityTooLarge` past ``limit`` bytes.

    Reaching exactly ``limit`` it reads one byte ahead: only a longer body is refused.
    """

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self._stream = stream
        self._limit = limit
        self._read = 0

    def readable(self) -> bool:
        """A body is read, never written."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` from the body; 413 once the body proves longer than the limit."""
        remaining = self._limit - self._read
        if remaining <= 0:
            if self._stream.read(1):
                raise RequestEntityTooLarge()
            return 0
        data = self._stream.read(min(len(buffer), remaining))
        buffer[: len(data)] = data
        self._read += len(data)
        if data and self._read >= self._limit and self._stream.read(1):
            raise RequestEntityTooLarge()
        return len(data)


class BodyLimit:
    """WSGI middleware: a body without ``Content-Length`` may stream at most ``limit`` bytes."""

    def __init__(self, app: WSGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """Wrap the body of a chunked request (no length said); others pass untouched.

        Without ``Content-Length`` and ``Transfer-Encoding`` HTTP/1.1 has no body, so the
        common GET costs nothing here.
        """
        if (
            not environ.get("CONTENT_LENGTH")
            and environ.get("HTTP_TRANSFER_ENCODING")
            and "wsgi.input" in environ
        ):
            environ["wsgi.input"] = io.BufferedReader(
                CappedInput(environ["wsgi.input"], self.limit), 64 * 1024
            )
        return self.app(environ, start_response)
