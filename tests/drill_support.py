"""Helpers for the drill tests: a fake clock, and a tsunami drill played with staff responses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from disaster_dx import auth, drills, hq
from disaster_dx.model import OpenState
from disaster_dx.store import Store

TSUNAMI = drills.SCENARIO_DIR / "nankai_trough_tsunami.yaml"
FLOOD = drills.SCENARIO_DIR / "typhoon_river_flood.yaml"


class FakeClock:
    """A settable clock; ``sleep`` advances it instead of waiting."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2025, 9, 1, 0, 0, tzinfo=UTC)
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


def ids_by_name(store: Store) -> dict[str, str]:
    """Shelter id by its (unique) name."""
    return {s.name: s.shelter_id for s in store.shelters()}


@dataclass(frozen=True)
class StaffAction:
    """At drill minute ``minute``, ``user`` reports ``changes`` for shelter ``name``."""

    minute: int
    user: str
    name: str
    changes: dict


#: What a plausible HQ did during the tsunami drill (one needed shelter, 日章小学校, is judged
#: unsafe and never opened; the towers are never re-polled, so their reports go stale).
OPEN = {"open_state": "open"}
TSUNAMI_RESPONSES = (
    StaffAction(16, "hq1", "前浜防災コミュニティーセンター", {**OPEN, "evacuees": 80}),
    StaffAction(21, "hq1", "津波避難施設　久枝北タワー", {**OPEN, "evacuees": 30}),
    StaffAction(38, "hq1", "大篠小学校", {**OPEN, "evacuees": 40}),
    StaffAction(44, "hq2", "香長中学校", {**OPEN, "evacuees": 25}),
    StaffAction(52, "staff1", "大篠小学校", {"evacuees": 120, "needs": ["water", "blanket"]}),
    StaffAction(72, "hq2", "三和防災コミュニティーセンター", {**OPEN, "evacuees": 60}),
    StaffAction(
        100,
        "hq1",
        "日章小学校",
        {"open_state": "closed", "internal_note": "液状化のため開設不可。大篠小学校へ誘導。"},
    ),
    StaffAction(110, "hq2", "高知工業高等専門学校", {**OPEN, "evacuees": 150}),
    StaffAction(140, "staff1", "大篠小学校", {"evacuees": 180}),
    StaffAction(145, "hq2", "香長中学校", {"evacuees": 95}),
)


def add_users(store: Store) -> dict[str, auth.User]:
    """HQ staff hq1, hq2 and shelter staff staff1 (大篠小学校)."""
    school = ids_by_name(store)["大篠小学校"]
    users = {}
    for name, roles, shelters in (
        ("hq1", {auth.Role.HQ}, []),
        ("hq2", {auth.Role.HQ}, []),
        ("staff1", {auth.Role.SHELTER_STAFF}, [school]),
    ):
        users[name] = auth.add_user(
            store, name, f"pw-{name}-0123456789", roles, actor="test", shelter_ids=shelters
        )
    return users


def play_tsunami_drill(
    store: Store,
    clock: FakeClock,
    *,
    speed: float = 60.0,
    stop: bool = True,
    on_minute: Callable[[int, drills.DrillRun], None] | None = None,
) -> drills.DrillRun:
    """Run the bundled tsunami scenario at ``speed`` with :data:`TSUNAMI_RESPONSES`.

    The store must use ``clock``. Every drill minute the clock moves on and the scheduler
    ticks; staff act at their minute through :func:`disaster_dx.hq.report_status` on the drill
    incident, as the HQ pages will once switched to it. The scheduler stops the drill at the
    scenario's end (+02:40). ``on_minute(minute, run)`` runs after each drill minute's
    tick and staff action (a screen looking at the drill then).
    """
    users = add_users(store)
    names = ids_by_name(store)
    scenario = drills.load_scenario(TSUNAMI, shelters=store.shelters())
    run = drills.start_drill(store, scenario, actor="operator", speed=speed)
    scheduler = drills.DrillScheduler(store, holder="test-scheduler")
    actions = {a.minute: a for a in TSUNAMI_RESPONSES}
    minute_seconds = 60.0 / speed
    last = int(scenario.length.total_seconds() // 60)
    for minute in range(last + 1):
        scheduler.tick()
        action = actions.get(minute)
        if action is not None:
            sid = names[action.name]
            state = store.state(run.incident_id)
            hq.report_status(
                store,
                run.incident_id,
                users[action.user],
                sid,
                action.changes,
                seen_version=state.shelter(sid).version,
            )
        if on_minute is not None:
            on_minute(minute, run)
        clock.sleep(minute_seconds)
    scheduler.release()
    if stop and drills.drill_run(store, run.incident_id).active:
        drills.stop_drill(store, run.incident_id, actor="operator")
    return drills.drill_run(store, run.incident_id)


__all__ = ["FLOOD", "TSUNAMI", "FakeClock", "OpenState", "play_tsunami_drill"]
