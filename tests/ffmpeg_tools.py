"""ffmpeg's own MJPEG HTTP server as a real third-party camera source for the tests.

``ffmpeg -f mpjpeg -listen 1`` serves one client a multipart JPEG stream labelled
``application/octet-stream`` (as many cameras do), then exits; :class:`FfmpegMjpegServer`
starts it again after every client, so a poller can poll it many times. Showing a still
picture it sends the very same JPEG bytes every frame: a frozen camera.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

from tests.conftest import skip_or_fail


def ffmpeg_or_skip() -> str:
    """Path of ffmpeg; skips (fails under ``DX_REQUIRE=ffmpeg``) where it is missing."""
    found = shutil.which("ffmpeg")
    if found is None:
        skip_or_fail("ffmpeg", "ffmpeg not installed (apt-get install ffmpeg)")
    assert found is not None
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def listening(port: int) -> bool:
    """Whether something listens on 127.0.0.1:``port``, without connecting (which would use
    up ffmpeg's single client)."""
    wanted = f"0100007F:{port:04X}"
    for table in ("/proc/net/tcp",):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            return False
        for line in lines:
            fields = line.split()
            if fields[1] == wanted and fields[3] == "0A":  # 0A = LISTEN
                return True
    return False


class FfmpegMjpegServer:
    """ffmpeg serving ``picture`` as MJPEG at :attr:`url`, restarted after each client."""

    def __init__(self, picture: Path, *, fps: float = 2.0) -> None:
        self.ffmpeg = ffmpeg_or_skip()
        self.picture = picture
        self.fps = fps
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/feed.mjpg"
        self._stop = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._generation = 0  # ffmpeg processes started so far
        self._used = 0  # the one the last client was promised
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._lock = threading.Lock()  # a picture change never slips between start and record

    def __enter__(self) -> FfmpegMjpegServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
        self._thread.join(timeout=10)
        if self._process is not None:
            self._process.wait(timeout=10)

    def show(self, picture: Path) -> None:
        """Serve another picture from the next client on (the waiting ffmpeg is replaced)."""
        with self._lock:
            self.picture = picture
            self._used = self._generation
            if self._process is not None and self._process.poll() is None:
                self._process.kill()

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Wait for a fresh ffmpeg (not the one the previous client used) to listen."""
        deadline = time.monotonic() + timeout
        while self._generation == self._used or not listening(self.port):
            if time.monotonic() > deadline:
                raise AssertionError("ffmpeg did not start listening")
            time.sleep(0.05)
        self._used = self._generation

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._lock.acquire()
            process = subprocess.Popen(
                [
                    self.ffmpeg,
                    "-hide_banner",
                    "-loglevel",
                    "error",
                    "-re",
                    "-loop",
                    "1",
                    "-i",
                    str(self.picture),
                    "-r",
                    f"{self.fps:g}",
                    "-f",
                    "mpjpeg",
                    "-listen",
                    "1",
                    self.url,
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            self._process = process
            self._generation += 1
            self._lock.release()
            while process.poll() is None and not self._stop.is_set():
                time.sleep(0.05)
