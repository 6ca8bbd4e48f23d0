"""A disaster's life as HQ runs it: name the live incident, close it, find past ones.

The city always has one open live incident (created unnamed on first use, so shelter reports
and the public page work in peacetime). When a disaster starts, HQ names it
(「令和8年 台風第10号」, its hazard kind and start); when it is over, HQ closes it and the next
write starts a new, unnamed one. A closed incident stays readable for replay and the
after-action report. The web page (``/hq/incidents``) and the CLI (``disaster-dx incident``)
both go through these functions, so the role check and the "still open" refusal are one.

Which incident a user is in: their screens read and write the live incident unless they
joined a drill; :func:`active_incident_for` turns the choice kept in their session
(:data:`DRILL_SESSION_KEY`) into the incident, and :func:`open_drill_incidents` lists the
drills they may join.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from disaster_dx.auth import User, hq_writer
from disaster_dx.errors import DisasterDxError, NotFoundError
from disaster_dx.events import EvacuationAlert
from disaster_dx.model import Hazard, IncidentKind, Shelter
from disaster_dx.store import Incident, Store

log = logging.getLogger(__name__)

#: Flask session key (and :func:`active_incident_for` argument) of a user's drill choice.
DRILL_SESSION_KEY = "dx_drill_incident"
#: Shown where a live incident has no name yet (printouts, exports, the HQ header).
UNNAMED_JA = "災害名未設定"
UNNAMED_EN = "no disaster name set"


class IncidentRefused(DisasterDxError):
    """The user may not open or close a live incident (refused and audit-logged)."""


class IncidentStillActive(DisasterDxError):
    """Closing was refused: shelters are still open or 避難情報 is still in force.

    Closing anyway would start the next incident with every shelter 未開設, so HQ has to
    close and lift them first, or confirm (``force``) that this is what they mean.
    """

    def __init__(
        self,
        incident: Incident,
        open_shelters: Sequence[str],
        alerts_in_force: Sequence[EvacuationAlert],
    ) -> None:
        self.incident = incident
        self.open_shelters = tuple(open_shelters)
        self.alerts_in_force = tuple(alerts_in_force)
        super().__init__(
            f"「{incident.title}」 still has {len(self.open_shelters)} open shelter(s) and "
            f"{len(self.alerts_in_force)} 避難情報 in force; close and lift them first, "
            "or confirm closing anyway"
        )


def display_name(incident: Incident, lang: str = "ja") -> str:
    """The disaster's name for prints and headers; says so when a live one has none yet."""
    if incident.named or incident.kind is IncidentKind.DRILL:
        return incident.title
    return f"（{UNNAMED_JA}）" if lang != "en" else f"({UNNAMED_EN})"


def _actor(store: Store, by: User | str, action: str, target: str) -> str:
    return hq_writer(
        store,
        by,
        action=action,
        target=target,
        refusal=lambda name: IncidentRefused(f"{name} may not open or close a live incident"),
    )


def open_named_incident(
    store: Store,
    by: User | str,
    title: str,
    *,
    hazard: Hazard | None = None,
    started_at: datetime | None = None,
) -> Incident:
    """Name the live incident HQ works on; refused while another named one is open.

    The refusal names the open incident (「…」 is still open; close it first), because only
    one live incident can be open at a time.
    """
    actor = _actor(store, by, "incident.open", title)
    if started_at is not None and started_at.tzinfo is None:
        raise DisasterDxError("the start time needs a time zone")
    return store.open_live_incident(title, actor=actor, hazard=hazard, started_at=started_at)


@dataclass(frozen=True)
class Closed:
    """What :func:`close_live_incident` closed, and what was still open when forced."""

    incident: Incident
    open_shelters: tuple[str, ...]
    alerts_in_force: tuple[EvacuationAlert, ...]


def close_live_incident(store: Store, by: User | str, *, force: bool = False) -> Closed:
    """Close the open live incident (kept for replay and reports).

    Raises :class:`IncidentStillActive` while shelters are open or 避難情報 is in force,
    unless ``force``; the result lists what was still open then.
    """
    actor = _actor(store, by, "incident.close", "live")
    incident = store.live_incident(actor=actor)
    state = store.state(incident.incident_id)
    still_open = tuple(s.shelter_id for s in state.shelters.values() if s.open_state.is_open)
    in_force = tuple(state.alerts_in_force)
    if (still_open or in_force) and not force:
        raise IncidentStillActive(incident, still_open, in_force)
    store.close_incident(incident.incident_id, actor=actor)
    return Closed(store.incident(incident.incident_id), still_open, in_force)


def shelter_names(shelters: Sequence[Shelter], ids: Sequence[str], *, limit: int = 10) -> str:
    """Up to ``limit`` shelter names for a message, with how many more there are."""
    names = {s.shelter_id: s.name for s in shelters}
    shown = [names.get(sid, sid) for sid in ids[:limit]]
    more = len(ids) - len(shown)
    return "、".join(shown) + (f" ほか{more}か所" if more > 0 else "")


def active_incident_for(store: Store, user_session_choice: str | None) -> Incident:
    """The incident a user's screens read and write: their chosen drill, else the live one.

    ``user_session_choice`` is the drill incident id kept in the user's session (``None``
    when they have not joined a drill). A choice that names no drill incident is ignored, so
    a session can never point staff at a *live* incident other than the current one. A drill
    that has ended is still returned: the screens keep showing the 訓練 banner and the store
    refuses writes to it, rather than silently sending the user's next report to live.
    """
    if user_session_choice:
        try:
            incident = store.incident(user_session_choice)
        except NotFoundError:
            log.warning("session names unknown incident %r; using live", user_session_choice)
        else:
            if incident.is_drill:
                return incident
            log.warning("session names non-drill incident %r; using live", user_session_choice)
    return store.live_incident()


def open_drill_incidents(store: Store) -> list[Incident]:
    """Drill incidents staff can join now (not closed), newest first."""
    return [i for i in store.incidents(kind=IncidentKind.DRILL) if i.closed_at is None]
