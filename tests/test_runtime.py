"""The composition root (``disaster_dx/runtime.py``): one set of after-save actions, one way
to start and stop the loops, for the web app and the CLI alike."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from disaster_dx import drills, runtime
from disaster_dx.camera_simulator import CameraSimulator
from disaster_dx.cli import main
from disaster_dx.events import SHELTER_STATUS_REPORTED, NewEvent
from disaster_dx.line import outbox
from disaster_dx.line.store import KIND_ALERT, KIND_STATUS
from disaster_dx.model import Hazard
from disaster_dx.store import Store
from disaster_dx.web.context import runtime_of
from tests.camera_tools import registry_yaml
from tests.drill_support import TSUNAMI

#: Threads of the runtime's loops (and of the camera poller's fetches).
LOOP_THREADS = ("line-sender", "camera-poller", "drill-scheduler", "live-replanning")


def _feature(public_dir: Path, shelter_id: str) -> dict[str, Any]:
    collection = json.loads((public_dir / "shelters.geojson").read_text(encoding="utf-8"))
    (found,) = [f for f in collection["features"] if f["id"] == shelter_id]
    return dict(found["properties"])


def _opened(shelter_id: str) -> NewEvent:
    return NewEvent(SHELTER_STATUS_REPORTED, {"shelter_id": shelter_id, "open_state": "open"})


def _registered(store: Store) -> list[Any]:
    return list(store._listeners)  # what runs after each append on this store, in order


def test_the_app_and_the_cli_register_the_same_after_save_actions(
    make_app, app_settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    app_runtime = runtime_of(app.server)
    assert [a.name for a in app_runtime.after_save] == list(runtime.AFTER_SAVE_ACTIONS)
    # Nothing else registers on the app's store: runtime.py is the whole list.
    assert _registered(app_runtime.store) == [a.action for a in app_runtime.after_save]

    built: list[runtime.Runtime] = []
    real_build = runtime.build_runtime

    def recording_build(*args: Any, **kwargs: Any) -> runtime.Runtime:
        made = real_build(*args, **kwargs)
        built.append(made)
        return made

    monkeypatch.setattr(runtime, "build_runtime", recording_build)
    monkeypatch.setenv("DATABASE_URL", app_settings.database_url)
    monkeypatch.setenv("DATA_DIR", str(app_settings.data_dir))
    monkeypatch.setenv("PUBLIC_DIR", str(app_settings.public_dir))
    for name in ("LINE_CHANNEL_ACCESS_TOKEN", "LINE_WORKER", "CAMERAS_POLL_IN_APP"):
        monkeypatch.delenv(name, raising=False)
    issue = ["alert", "issue", "--level", "4", "--hazard", "tsunami", "--area", "全域"]
    assert main([*issue, "--actor", "hq-cli"]) == 0

    (cli_runtime,) = built
    assert cli_runtime.role == "command"
    assert [a.name for a in cli_runtime.after_save] == list(runtime.AFTER_SAVE_ACTIONS)
    assert _registered(cli_runtime.store) == [a.action for a in cli_runtime.after_save]
    assert cli_runtime.stopped  # main stopped it when the command ended
    # The CLI's write reached the publisher and the LINE queue before the command returned.
    store = app_runtime.store
    (alert,) = store.state(store.live_incident().incident_id).alerts.values()
    snapshot = (app_settings.public_dir / "shelters.geojson").read_text(encoding="utf-8")
    assert f'"id":"{alert.alert_id}","level":4' in snapshot
    assert [m.kind for m in outbox.outbox(store)] == [KIND_ALERT]


def test_a_shelter_report_through_a_commands_store_is_published_and_queued(
    make_app, app_settings
) -> None:
    """The same report the app's form makes, written by another process (a command)."""
    app = make_app()
    app_store = runtime_of(app.server).store
    shelter = next(s for s in app_store.shelters() if Hazard.TSUNAMI in s.hazards)
    assert _feature(app_settings.public_dir, shelter.shelter_id)["open_state"] != "open"

    store = Store(app_settings.database_url)
    command = runtime.build_runtime(store, app_settings, role="command")
    try:
        store.append(
            store.live_incident().incident_id,
            [_opened(shelter.shelter_id)],
            actor="staff-cli",
        )
        assert _feature(app_settings.public_dir, shelter.shelter_id)["open_state"] == "open"
        (queued,) = outbox.outbox(store)
        assert queued.kind == KIND_STATUS and shelter.name in queued.text
    finally:
        command.stop()
        store.dispose()


def test_shutdown_stops_every_loop_in_reverse(
    make_app, app_settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with CameraSimulator() as sim:
        registry = tmp_path / "cameras.yaml"
        registry.write_text(
            registry_yaml(sim, {"coast": "jpeg", "town": "jpeg"}, interval=1), "utf-8"
        )
        monkeypatch.setenv("CAMERAS_FILE", str(registry))
        monkeypatch.setenv("CAMERAS_POLL_IN_APP", "1")
        before = set(threading.enumerate())
        app = make_app(
            app_settings.with_overrides(
                line_channel_access_token="test-token",
                line_worker="app",
                line_api_base="http://127.0.0.1:9",  # nothing becomes due: nothing is sent
            )
        )
        loops = runtime_of(app.server)
        assert [s.name for s in loops.services] == [
            "re-planner",
            "line-sender",
            "camera-poller",
            "drill-scheduler",
        ]
        store = loops.store
        scenario = drills.load_scenario(
            TSUNAMI, shelters=store.shelters(), camera_ids=drills.known_camera_ids(store)
        )
        drills.start_drill(store, scenario, actor="op1", speed=1.0)
        # Not started in the factory (threads of earlier tests' apps in the same process aside).
        assert not any(t.name in LOOP_THREADS for t in set(threading.enumerate()) - before)

        assert app.server.test_client().get("/healthz").status_code == 200  # starts the loops
        shelter = store.shelters()[0]
        store.append(  # the re-planner's worker starts with the first shelter change
            store.live_incident().incident_id,
            [_opened(shelter.shelter_id)],
            actor="hq1",
        )
        running = {t.name for t in set(threading.enumerate()) - before}
        assert set(LOOP_THREADS) <= running, running

        stopped: list[str] = []
        for service in loops.services:

            def recording_stop(
                timeout: float = 10.0, *, _stop: Any = service.stop, _name: str = service.name
            ) -> None:
                stopped.append(_name)
                _stop(timeout)

            monkeypatch.setattr(service, "stop", recording_stop)
        loops.stop()
        loops.stop()  # a second stop (the test fixture's) does nothing
        assert stopped == ["drill-scheduler", "camera-poller", "line-sender", "re-planner"]
        deadline = time.monotonic() + 10  # the simulator's request threads end on their own
        while time.monotonic() < deadline and set(threading.enumerate()) - before:
            time.sleep(0.1)
        left = sorted(t.name for t in set(threading.enumerate()) - before)
    assert left == [], f"threads left after shutdown: {left}"
