"""Fake tower cameras on 127.0.0.1, for the demo and the tests — a test tool, not a camera.

``disaster-dx cameras simulate`` serves, for any camera name, a JPEG snapshot
(``/cam/<name>/snapshot.jpg``) and an MJPEG stream (``/cam/<name>/mjpeg``) whose frames show the
camera's name and the time, drawn with Pillow, so a glance at HQ's camera wall shows whether
frames are fresh. Each camera can be switched to misbehave the way real cameras do — go slow,
return errors, send garbage or an HTML login page, send far too much, redirect elsewhere, or
accept the connection and never answer — and can require basic or digest authentication, so
the poller's defences are tested against real sockets. The bundled ``data/cameras.yaml`` points
at this simulator; a city replaces those URLs with its cameras' own.

The server only ever listens on the loopback interface.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from PIL import Image, ImageDraw, ImageFont

from disaster_dx._time import to_jst

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 8781
_PATH = re.compile(r"^/cam/([a-z0-9][a-z0-9_-]{0,31})/(snapshot\.jpg|mjpeg)$")
_CONTROL = re.compile(r"^/control/([a-z0-9][a-z0-9_-]{0,31}|all)$")
_REALM = "disaster_dx camera simulator"


class SimMode(StrEnum):
    """How a simulated camera behaves."""

    NORMAL = "normal"
    SLOW = "slow"
    ERROR = "error"
    GARBAGE = "garbage"
    HTML = "html"
    HUGE = "huge"
    DRIP = "drip"
    HANG = "hang"
    REDIRECT = "redirect"
    FROZEN = "frozen"  # answers on time, always with the same picture (a hung encoder)


@dataclass
class SimCamera:
    """One simulated camera.

    Parameters
    ----------
    name
        The name in its URLs.
    mode
        How it behaves now (change with :meth:`CameraSimulator.set_mode`).
    auth
        ``(scheme, username, password)`` it demands, scheme ``basic`` or ``digest``; None for
        an open camera.
    redirect_to
        Where ``redirect`` mode sends clients.
    """

    name: str
    mode: SimMode = SimMode.NORMAL
    auth: tuple[str, str, str] | None = field(default=None, repr=False)
    redirect_to: str = ""
    frames_served: int = 0
    still: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class SimRequest:
    """One request the simulator received (tests check who asked for what)."""

    camera: str
    path: str
    user_agent: str
    authorised: bool
    at: float


class CameraSimulator:
    """A threaded HTTP server of fake cameras on 127.0.0.1.

    Parameters
    ----------
    cameras
        Cameras to configure up front (names or :class:`SimCamera`); any other name in a URL
        is served as a normal open camera.
    port
        Port on 127.0.0.1; 0 picks a free one (tests).
    slow_seconds
        How long ``slow`` mode waits before answering (or between MJPEG frames).
    huge_bytes
        How much ``huge`` mode sends (without announcing a length).
    mjpeg_fps
        Frames per second of the MJPEG streams.
    mjpeg_content_length
        Whether MJPEG parts carry Content-Length (real cameras differ; parsers must cope).
    clock
        Time drawn on the frames.
    """

    def __init__(
        self,
        cameras: Iterable[SimCamera | str] = (),
        *,
        port: int = 0,
        slow_seconds: float = 2.0,
        huge_bytes: int = 12 * 1024 * 1024,
        mjpeg_fps: float = 2.0,
        mjpeg_content_length: bool = True,
        clock: Callable[[], datetime] | None = None,
        size: tuple[int, int] = (640, 360),
    ) -> None:
        self.cameras: dict[str, SimCamera] = {}
        self.default_mode = SimMode.NORMAL
        for camera in cameras:
            sim = SimCamera(camera) if isinstance(camera, str) else camera
            self.cameras[sim.name] = sim
        self.slow_seconds = slow_seconds
        self.huge_bytes = huge_bytes
        self.mjpeg_fps = mjpeg_fps
        self.mjpeg_content_length = mjpeg_content_length
        self.clock = clock or (lambda: datetime.now(UTC))
        self.size = size
        self.requests: list[SimRequest] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._nonces: set[str] = set()
        self._server = ThreadingHTTPServer((LOOPBACK, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- life cycle -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self._server.server_address[1])

    def url(self, name: str, kind: str = "snapshot") -> str:
        """The URL of a camera's ``snapshot`` or ``mjpeg`` endpoint."""
        path = "snapshot.jpg" if kind == "snapshot" else "mjpeg"
        return f"http://{LOOPBACK}:{self.port}/cam/{name}/{path}"

    def start(self) -> CameraSimulator:
        """Serve in a background thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="camera-simulator", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (the CLI)."""
        try:
            self._server.serve_forever()
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop serving; hanging connections are released."""
        self.stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> CameraSimulator:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- behaviour ----------------------------------------------------------------------------

    def camera(self, name: str) -> SimCamera:
        """The named camera (created as a normal open camera on first use)."""
        with self._lock:
            if name not in self.cameras:
                self.cameras[name] = SimCamera(name, mode=self.default_mode)
            return self.cameras[name]

    def set_mode(self, name: str, mode: SimMode | str) -> None:
        """Switch a camera (or ``all``, including cameras first asked for later)."""
        if name == "all":
            self.default_mode = SimMode(mode)
        names = list(self.cameras) if name == "all" else [name]
        for each in names:
            self.camera(each).mode = SimMode(mode)
        log.info("simulator: %s → %s", name, SimMode(mode).value)

    def requests_for(self, name: str) -> list[SimRequest]:
        """Requests received for one camera."""
        with self._lock:
            return [r for r in self.requests if r.camera == name]

    def frame(self, name: str) -> bytes:
        """A JPEG frame of camera ``name`` showing the time (JST) and a frame counter."""
        camera = self.camera(name)
        if camera.mode is SimMode.FROZEN and camera.still is not None:
            return camera.still
        camera.frames_served += 1
        picture = render_frame(name, self.clock(), camera.frames_served, size=self.size)
        camera.still = picture  # what a frozen camera keeps sending
        return picture

    def _record(self, name: str, path: str, user_agent: str, authorised: bool) -> None:
        with self._lock:
            self.requests.append(SimRequest(name, path, user_agent, authorised, time.monotonic()))

    def new_nonce(self) -> str:
        """A digest-auth nonce this simulator will accept."""
        nonce = secrets.token_hex(16)
        with self._lock:
            self._nonces.add(nonce)
        return nonce

    def known_nonce(self, nonce: str) -> bool:
        """Whether the simulator issued ``nonce``."""
        with self._lock:
            return nonce in self._nonces


def render_frame(
    name: str, moment: datetime, counter: int, *, size: tuple[int, int] = (640, 360)
) -> bytes:
    """Draw a simulated view: sky, sea or town band, and the time — clearly a test image."""
    width, height = size
    image = Image.new("RGB", size, (140, 180, 215))
    draw = ImageDraw.Draw(image)
    seed = int(hashlib.sha256(name.encode()).hexdigest()[:6], 16)
    ground = ((seed >> 16) % 80 + 40, (seed >> 8) % 80 + 90, seed % 80 + 120)
    horizon = height * 5 // 9
    for band in range(12):  # a soft sky gradient
        top = horizon * band // 12
        shade = 215 - band * 4
        draw.rectangle((0, top, width, horizon * (band + 1) // 12), fill=(150, 185, shade))
    draw.rectangle((0, horizon, width, height), fill=ground)
    # A moving marker, so consecutive frames differ visibly.
    x = (counter * 37) % max(1, width - 40)
    draw.ellipse((x, horizon - 30, x + 28, horizon - 2), fill=(250, 250, 250))
    font = ImageFont.load_default(size=max(14, height // 15))
    small = ImageFont.load_default(size=max(12, height // 22))
    local = to_jst(moment)
    draw.rectangle((0, 0, width, height // 5), fill=(20, 20, 20))
    draw.text((12, 8), f"{name.upper()}  {local:%Y-%m-%d %H:%M:%S} JST", fill="white", font=font)
    draw.text(
        (12, height // 5 - height // 16),
        f"SIMULATED CAMERA - TEST IMAGE  #{counter}",
        fill=(255, 210, 0),
        font=small,
    )
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


def _digest_params(header: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for match in re.finditer(r'(\w+)=(?:"([^"]*)"|([^,\s]*))', header):
        params[match.group(1).lower()] = (
            match.group(2) if match.group(2) is not None else match.group(3)
        )
    return params


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def _handler_for(sim: CameraSimulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "disaster_dx-camera-simulator"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("simulator: " + format, *args)

        # -- routing ---------------------------------------------------------------------

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path == "/":
                self._index()
                return
            match = _PATH.match(path)
            if match is None:
                self._plain(404, "no such camera endpoint\n")
                return
            name, endpoint = match.groups()
            camera = sim.camera(name)
            authorised = self._authorised(camera)
            sim._record(name, path, self.headers.get("User-Agent", ""), authorised)
            if not authorised:
                return
            if endpoint == "mjpeg":
                self._mjpeg(camera)
            else:
                self._snapshot(camera)

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            match = _CONTROL.match(parts.path)
            mode = (parse_qs(parts.query).get("mode") or [""])[0]
            if match is None or mode not in SimMode._value2member_map_:
                modes = ", ".join(m.value for m in SimMode)
                self._plain(400, f"POST /control/<name|all>?mode=<{modes}>\n")
                return
            sim.set_mode(match.group(1), mode)
            self._plain(200, f"{match.group(1)}: {mode}\n")

        # -- auth ------------------------------------------------------------------------

        def _authorised(self, camera: SimCamera) -> bool:
            if camera.auth is None:
                return True
            scheme, username, password = camera.auth
            header = self.headers.get("Authorization", "")
            if scheme == "basic" and header.startswith("Basic "):
                expected = base64.b64encode(f"{username}:{password}".encode()).decode()
                if hmac.compare_digest(header[6:].strip(), expected):
                    return True
            if scheme == "digest" and header.startswith("Digest "):
                p = _digest_params(header[7:])
                if p.get("username") == username and sim.known_nonce(p.get("nonce", "")):
                    ha1 = _md5(f"{username}:{_REALM}:{password}")
                    ha2 = _md5(f"GET:{p.get('uri', '')}")
                    if p.get("qop"):
                        text = f"{ha1}:{p['nonce']}:{p.get('nc', '')}:{p.get('cnonce', '')}"
                        expected = _md5(f"{text}:{p['qop']}:{ha2}")
                    else:
                        expected = _md5(f"{ha1}:{p['nonce']}:{ha2}")
                    if hmac.compare_digest(p.get("response", ""), expected):
                        return True
            self.send_response(401)
            if scheme == "digest":
                challenge = (
                    f'Digest realm="{_REALM}", qop="auth", nonce="{sim.new_nonce()}", '
                    f'opaque="{secrets.token_hex(8)}", algorithm=MD5'
                )
            else:
                challenge = f'Basic realm="{_REALM}"'
            self.send_header("WWW-Authenticate", challenge)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "13")
            self.end_headers()
            self.wfile.write(b"unauthorised\n")
            return False

        # -- endpoints -------------------------------------------------------------------

        def _misbehave(self, camera: SimCamera) -> bool:
            """Answer as the camera's mode says; True when nothing more should be sent."""
            mode = camera.mode
            if mode is SimMode.HANG:
                sim.stopping.wait(3600)
                return True
            if mode is SimMode.SLOW and sim.stopping.wait(sim.slow_seconds):
                return True
            if mode is SimMode.ERROR:
                self._plain(503, "camera busy\n")
                return True
            if mode is SimMode.REDIRECT:
                self.send_response(302)
                self.send_header("Location", camera.redirect_to or "http://127.0.0.1:9/")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return True
            if mode is SimMode.HTML:
                body = b"<!DOCTYPE html><html><body><form>login</form></body></html>"
                self._bytes(200, "text/html; charset=utf-8", body)
                return True
            if mode is SimMode.DRIP:
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.end_headers()
                try:
                    for byte in sim.frame(camera.name):  # one byte at a time, never stalling
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        if sim.stopping.wait(0.2):
                            break
                except OSError:
                    pass
                self.close_connection = True
                return True
            if mode is SimMode.HUGE:
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.end_headers()  # no Content-Length: the client must count for itself
                self.wfile.write(b"\xff\xd8\xff\xe0")
                chunk = bytes(65536)
                try:
                    for _ in range(sim.huge_bytes // len(chunk)):
                        self.wfile.write(chunk)
                except OSError:
                    pass
                self.close_connection = True
                return True
            return False

        def _snapshot(self, camera: SimCamera) -> None:
            if self._misbehave(camera):
                return
            if camera.mode is SimMode.GARBAGE:
                self._bytes(200, "image/jpeg", os.urandom(4096))
                return
            self._bytes(200, "image/jpeg", sim.frame(camera.name))

        def _mjpeg(self, camera: SimCamera) -> None:
            streamed = (SimMode.SLOW, SimMode.GARBAGE, SimMode.HUGE, SimMode.DRIP)
            if camera.mode not in streamed and self._misbehave(camera):
                return
            boundary = "dxframe"
            self.send_response(200)
            self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={boundary}")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            deadline = time.monotonic() + 120
            try:
                while not sim.stopping.is_set() and time.monotonic() < deadline:
                    if camera.mode is SimMode.SLOW and sim.stopping.wait(sim.slow_seconds):
                        break
                    if camera.mode is SimMode.DRIP:  # a part arriving a byte at a time
                        self.wfile.write(
                            f"--{boundary}\r\nContent-Type: image/jpeg\r\n\r\n".encode()
                        )
                        for byte in sim.frame(camera.name):
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            if sim.stopping.wait(0.2):
                                break
                        break
                    if camera.mode is SimMode.HUGE:  # a part announcing far too much
                        head = f"--{boundary}\r\nContent-Type: image/jpeg\r\n"
                        self.wfile.write(f"{head}Content-Length: {sim.huge_bytes}\r\n\r\n".encode())
                        for _ in range(sim.huge_bytes // 65536):
                            self.wfile.write(bytes(65536))
                        break
                    data = (
                        os.urandom(4096)
                        if camera.mode is SimMode.GARBAGE
                        else sim.frame(camera.name)
                    )
                    head = f"--{boundary}\r\nContent-Type: image/jpeg\r\n"
                    if sim.mjpeg_content_length:
                        head += f"Content-Length: {len(data)}\r\n"
                    self.wfile.write(head.encode() + b"\r\n" + data + b"\r\n")
                    self.wfile.flush()
                    if sim.stopping.wait(1.0 / sim.mjpeg_fps):
                        break
            except OSError:
                pass  # the client read its frame and hung up: that is how pollers behave
            self.close_connection = True

        def _index(self) -> None:
            rows = "".join(
                f"<li>{c.name}: {c.mode.value}"
                f"{' (auth ' + c.auth[0] + ')' if c.auth else ''} — "
                f'<a href="/cam/{c.name}/snapshot.jpg">snapshot</a> · '
                f'<a href="/cam/{c.name}/mjpeg">mjpeg</a></li>'
                for c in sim.cameras.values()
            )
            body = (
                "<!DOCTYPE html><html lang='ja'><meta charset='utf-8'>"
                "<title>カメラ・シミュレーター（試験用）</title>"
                "<h1>カメラ・シミュレーター（試験用・実際のカメラではありません）</h1>"
                f"<ul>{rows}</ul><p>POST /control/&lt;name|all&gt;?mode=…</p></html>"
            )
            self._bytes(200, "text/html; charset=utf-8", body.encode("utf-8"))

        def _plain(self, status: int, text: str) -> None:
            self._bytes(status, "text/plain; charset=utf-8", text.encode("utf-8"))

        def _bytes(self, status: int, content_type: str, body: bytes) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass

    return Handler
