"""``disaster-dx cameras check|run|simulate``: tower cameras (監視カメラ).

The poller is a process of its own beside the app; the simulator is a test tool serving fake
cameras on 127.0.0.1, never a real camera.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from disaster_dx.cli._common import EXIT_REFUSED, open_store, say
from disaster_dx.errors import DisasterDxError

if TYPE_CHECKING:
    from disaster_dx.config import Settings


def add_commands(commands: Any) -> None:
    """Add ``cameras`` and its actions to the ``disaster-dx`` parser."""
    cams = commands.add_parser("cameras", help="tower cameras: check, run the poller, simulate")
    cams.set_defaults(handler=cmd_cameras)
    cam_commands = cams.add_subparsers(dest="cameras_command", required=True, metavar="ACTION")
    check = cam_commands.add_parser("check", help="validate the camera registry and list it")
    run = cam_commands.add_parser("run", help="poll the cameras (a separate process from the app)")
    for sub in (check, run):
        sub.add_argument("--registry", help="registry YAML (default CAMERAS_FILE or the demo)")
    run.add_argument("--once", action="store_true", help="poll each camera once and exit")
    run.add_argument("--seconds", type=float, help="stop after this many seconds")
    sim = cam_commands.add_parser(
        "simulate", help="serve fake cameras on 127.0.0.1 (demo and tests; not a real camera)"
    )
    sim.add_argument("--port", type=int, default=8781, help="port on 127.0.0.1 (default 8781)")
    sim.add_argument(
        "--camera",
        action="append",
        metavar="NAME",
        help="camera names to list (default coast, river, town); any name is served",
    )
    for flag, what in (
        ("slow", "answer slowly"),
        ("errors", "answer HTTP 503"),
        ("garbage", "send bytes that are not an image"),
        ("hang", "accept and never answer"),
    ):
        sim.add_argument(
            f"--{flag}",
            action="append",
            metavar="NAME",
            help=f"make camera NAME (or all) {what}; repeatable",
        )
    sim.add_argument("--slow-seconds", type=float, default=2.0, help="delay of --slow (s)")
    sim.add_argument(
        "--auth",
        action="append",
        metavar="NAME:SCHEME:USER:PASSWORD_ENV",
        help="require basic/digest auth on NAME; the password is read from the "
        "environment variable PASSWORD_ENV",
    )


def cmd_cameras(args: argparse.Namespace, settings: Settings) -> int:
    """Tower cameras: check the registry, run the poller, or serve the simulator."""
    from disaster_dx import cameras  # requests, Pillow, pyproj: only these commands need them
    from disaster_dx.cameras.frames import FrameStore

    camera_settings = cameras.camera_settings_from_env()
    registry_file = Path(args.registry) if getattr(args, "registry", None) else None
    registry_file = registry_file or camera_settings.registry_file
    if args.cameras_command == "simulate":
        return _cameras_simulate(args)
    registry = cameras.load_registry(registry_file)
    if args.cameras_command == "check":
        say(f"{registry_file}: {len(registry.cameras)} camera(s), valid")
        for camera in registry.cameras:
            credentials = camera.feed.credentials if camera.feed else None
            auth = f", {credentials.scheme} auth" if credentials else ""
            public = "public" if camera.public else "HQ only"
            print(
                f"{camera.camera_id}\t{camera.name_ja}\t{camera.feed_kind}{auth}\t"
                f"every {camera.poll_interval_s:g} s\t{public}"
            )
        return 0
    store = open_store(args, settings)
    store.create_schema()
    cameras.create_camera_tables(store)
    cameras.sync_registry(store, registry, actor="cameras")
    frames = FrameStore(
        settings.data_dir / "cameras",
        keep=camera_settings.keep_frames,
        keep_age=camera_settings.keep_age,
    )
    poller = cameras.Poller(store, registry, frames, settings=camera_settings)
    if args.once:
        started = poller.run_due()
        poller.wait()
        poller.close()
        for attempt in poller.history:
            outcome = (
                f"frame {attempt.frame_key}" if attempt.ok else f"failed ({attempt.error_kind})"
            )
            say(f"{attempt.camera_id}: {outcome}")
        if not started:
            say("no camera polled: another poller holds them all")
        return 0 if all(a.ok for a in poller.history) else EXIT_REFUSED
    import signal
    import threading

    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if args.seconds:
        threading.Timer(args.seconds, stop.set).start()
    say(f"polling {len(poller.cameras)} camera(s) as {poller.holder} (Ctrl+C to stop)")
    try:
        poller.run_forever(stop)
    except KeyboardInterrupt:
        stop.set()
        poller.close()
    say("camera poller stopped")
    return 0


def _cameras_simulate(args: argparse.Namespace) -> int:
    from disaster_dx.camera_simulator import CameraSimulator, SimCamera, SimMode

    cams = {name: SimCamera(name) for name in args.camera or ["coast", "river", "town"]}
    for spec in args.auth or []:
        parts = spec.split(":")
        if len(parts) != 4 or parts[1] not in ("basic", "digest"):
            raise DisasterDxError(f"--auth needs NAME:basic|digest:USER:PASSWORD_ENV, not {spec!r}")
        name, scheme, user, env_name = parts
        password = os.environ.get(env_name, "")
        if not password:
            raise DisasterDxError(f"--auth {name}: environment variable {env_name} is not set")
        cams.setdefault(name, SimCamera(name)).auth = (scheme, user, password)
    sim = CameraSimulator(cams.values(), port=args.port, slow_seconds=args.slow_seconds)
    for mode, names in (
        (SimMode.SLOW, args.slow),
        (SimMode.ERROR, args.errors),
        (SimMode.GARBAGE, args.garbage),
        (SimMode.HANG, args.hang),
    ):
        for name in names or []:
            sim.set_mode(name, mode)
    say(f"camera simulator (a test tool, not a real camera) on http://127.0.0.1:{sim.port}/")
    for camera in sim.cameras.values():
        say(
            f"  {camera.name}: {sim.url(camera.name)}  {sim.url(camera.name, 'mjpeg')}"
            f"  [{camera.mode.value}]"
        )
    say(f"switch while running: curl -X POST 'http://127.0.0.1:{sim.port}/control/NAME?mode=hang'")
    try:
        sim.serve_forever()
    except KeyboardInterrupt:
        say("simulator stopped")
    return 0
