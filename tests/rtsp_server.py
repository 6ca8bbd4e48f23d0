"""A real RTSP camera for the tests: GStreamer's RTSP server serving a moving test pattern.

Run by the *system* Python (``/usr/bin/python3``), which has PyGObject and the GStreamer
typelibs from Debian (``python3-gi``, ``gir1.2-gst-rtsp-server-1.0``); the project's Python
only talks RTSP to it. Prints ``READY <port>`` once serving.

    /usr/bin/python3 tests/rtsp_server.py --port 8554 [--user U --password-env VAR]
    /usr/bin/python3 tests/rtsp_server.py --check   # exit 0 when everything needed is there

H.264 from ``x264enc`` (gstreamer1.0-plugins-ugly), a keyframe every second, over
``rtph264pay``; the stream is at ``rtsp://127.0.0.1:<port>/camera``.
"""

from __future__ import annotations

import argparse
import os
import sys

ELEMENTS = ("videotestsrc", "timeoverlay", "videoconvert", "x264enc", "rtph264pay")


def _gst():  # type: ignore[no-untyped-def]
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    Gst.init(None)
    return GLib, Gst, GstRtspServer


def check() -> int:
    """0 when PyGObject, the RTSP server library and every element are installed."""
    try:
        _glib, gst, _server = _gst()
    except (ImportError, ValueError) as exc:
        print(f"GStreamer RTSP server unavailable: {exc}", file=sys.stderr)
        return 1
    missing = [e for e in ELEMENTS if gst.ElementFactory.find(e) is None]
    if missing:
        print(f"GStreamer elements missing: {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


def serve(port: int, user: str, password: str) -> None:
    glib, gst, rtsp = _gst()
    server = rtsp.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(port))
    factory = rtsp.RTSPMediaFactory()
    factory.set_launch(
        "( videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,"
        "framerate=10/1 ! timeoverlay ! videoconvert ! x264enc tune=zerolatency "
        "speed-preset=ultrafast key-int-max=10 ! rtph264pay name=pay0 pt=96 config-interval=1 )"
    )
    # A pipeline per client: one shared pipeline failed when many clients came at once.
    factory.set_shared(False)
    if user:
        auth = rtsp.RTSPAuth()
        token = rtsp.RTSPToken()
        token.set_string("media.factory.role", "camera-user")
        auth.add_basic(rtsp.RTSPAuth.make_basic(user, password), token)
        server.set_auth(auth)
        permissions = rtsp.RTSPPermissions()
        permissions.add_role_from_structure(
            gst.Structure.from_string(
                "camera-user, media.factory.access=(boolean)true, "
                "media.factory.construct=(boolean)true"
            )[0]
        )
        factory.set_permissions(permissions)
    server.get_mount_points().add_factory("/camera", factory)
    if server.attach(None) == 0:
        print(f"cannot listen on port {port}", file=sys.stderr)
        sys.exit(2)
    print(f"READY {server.get_bound_port()}", flush=True)
    glib.MainLoop().run()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--user", default="")
    parser.add_argument("--password-env", default="", help="variable holding the password")
    args = parser.parse_args()
    if args.check:
        sys.exit(check())
    password = os.environ.get(args.password_env, "") if args.password_env else ""
    serve(args.port, args.user, password)


if __name__ == "__main__":
    main()
