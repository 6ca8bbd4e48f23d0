"""Hypothesis strategies shared by the property tests: random event logs of an incident.

Reports and corrections with random field subsets on three shelters, area counts, hazard
warnings issued and cleared, and HQ messages — every event type the fold knows.
"""

from __future__ import annotations

from hypothesis import strategies as st

from disaster_dx.events import (
    ALERT_ISSUED,
    ALERT_LIFTED,
    AREA_OUTSIDE_REPORTED,
    HAZARD_ANNOUNCED,
    HAZARD_CLEARED,
    INCIDENT_MESSAGE,
    SHELTER_CORRECTION,
    SHELTER_STATUS_REPORTED,
    NewEvent,
)
from disaster_dx.model import AlertLevel, OpenState

SHELTERS = ("A", "B", "C")
WORDS = st.text(alphabet="あいう訓練 abc", max_size=8)
ALERT_IDS = st.sampled_from(["A1", "A2", "A3"])
NEEDS = st.lists(st.sampled_from(["water", "food", "blanket", "medical"]), unique=True, max_size=3)


@st.composite
def new_events(draw: st.DrawFn) -> NewEvent:
    kind = draw(
        st.sampled_from(
            [
                "report",
                "report",
                "report",
                "correction",
                "area",
                "hazard",
                "clear",
                "message",
                "alert",
                "lift",
            ]
        )
    )
    if kind in ("report", "correction"):
        fields = {
            "open_state": st.sampled_from([s.value for s in OpenState]),
            "evacuees": st.integers(0, 500),
            "households": st.integers(0, 100),
            "capacity": st.none() | st.integers(1, 500),
            "crowding_override": st.none() | st.sampled_from(["available", "crowded", "full"]),
            "needs": NEEDS,
            "urgent_needs": NEEDS,
            "public_note": WORDS,
            "staffed": st.none() | st.booleans(),
            "pets_accepted": st.none() | st.booleans(),
        }
        chosen = draw(
            st.lists(st.sampled_from(sorted(fields)), min_size=1, max_size=4, unique=True)
        )
        payload = {name: draw(fields[name]) for name in chosen}
        payload["shelter_id"] = draw(st.sampled_from(SHELTERS))
        if kind == "correction":
            payload["reason"] = draw(WORDS)
            return NewEvent(SHELTER_CORRECTION, payload)
        return NewEvent(SHELTER_STATUS_REPORTED, payload)
    if kind == "area":
        return NewEvent(
            AREA_OUTSIDE_REPORTED,
            {"area": draw(st.sampled_from(["北", "南"])), "at_home": draw(st.integers(0, 50))},
        )
    if kind == "hazard":
        return NewEvent(
            HAZARD_ANNOUNCED,
            {"hazard": draw(st.sampled_from(["tsunami", "flood"])), "title": "警報" + draw(WORDS)},
        )
    if kind == "clear":
        return NewEvent(HAZARD_CLEARED, {"hazard": draw(st.sampled_from(["tsunami", "flood"]))})
    if kind == "alert":
        return NewEvent(
            ALERT_ISSUED,
            {
                "alert_id": draw(ALERT_IDS),
                "level": draw(st.sampled_from([level.value for level in AlertLevel])),
                "hazard": draw(st.sampled_from(["tsunami", "flood"])),
                "areas": draw(
                    st.lists(st.sampled_from(["all", "北", "南"]), min_size=1, unique=True)
                ),
            },
        )
    if kind == "lift":
        return NewEvent(ALERT_LIFTED, {"alert_id": draw(ALERT_IDS)})
    return NewEvent(INCIDENT_MESSAGE, {"text": "連絡" + draw(WORDS)})


LOGS = st.lists(
    st.tuples(new_events(), st.sampled_from([0, 0, 1, 7, 60, 3600])), min_size=0, max_size=40
)
