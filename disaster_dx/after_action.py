"""After-action report (事後検証報告書) of a drill or a past incident, as one HTML file.

Everything is computed from the incident's event log with the same per-shelter fold the live
board uses, so the report cannot disagree with what staff saw. For a drill, times are drill
time (訓練経過時間, from the ``drill.control`` events): a 60× rehearsal or a lunch pause reads
the same as a real-time run, and the stale-report rule uses the city's setting in drill minutes.

The report answers the questions an 訓練 debrief asks:

- how many people were in shelters over time (plotly chart), and the peak;
- for each shelter an inject asked HQ to act on (``shelters:`` of a hazard or message inject),
  how long until the first status report or correction by staff;
- how long until every shelter the scenario needed (``needed_shelters``) was open;
- when open shelters went without a report for longer than the stale interval.

The HTML is self-contained (plotly.js inline by default), so it can be mailed, archived and
opened offline; its print style makes a readable A4 PDF from the browser's print dialog.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from disaster_dx._time import JST, jst_minute, to_jst
from disaster_dx.auth import display_names
from disaster_dx.drills import (
    DRILL_ACTOR,
    DRILL_CONTROL,
    DRILL_INJECT,
    format_offset,
    scenario_clock,
)
from disaster_dx.eventlog import EVENT_TYPE_LABELS
from disaster_dx.events import (
    ALERT_ISSUED,
    ALERT_LIFTED,
    AREA_OUTSIDE_REPORTED,
    HAZARD_ANNOUNCED,
    HAZARD_CLEARED,
    INCIDENT_MESSAGE,
    SHELTER_CORRECTION,
    SHELTER_STATUS_REPORTED,
    Event,
    ShelterStatus,
    State,
    fold,
)
from disaster_dx.history import is_history_actor
from disaster_dx.hq import IncidentClock, expects_reports, is_stale
from disaster_dx.incidents import display_name
from disaster_dx.model import AlertLevel, Hazard, OpenState, Shelter
from disaster_dx.store import Incident, Store
from disaster_dx.templating import render

log = logging.getLogger(__name__)

#: Okabe–Ito colours (colour-blind safe); lines also differ by dash and carry names.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#8C6D00")
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
#: How many shelters get their own line in the evacuees chart (the busiest ones).
TOP_SHELTERS = 8

_SHELTER_TYPES = (SHELTER_STATUS_REPORTED, SHELTER_CORRECTION)
#: Japanese label of each inject kind, for the timeline.
INJECT_KIND_LABELS = {
    "hazard": "警報等の発表",
    "hazard_cleared": "警報等の解除",
    "shelter": "現地からの報告",
    "area": "避難所外避難者",
    "message": "本部への連絡",
    "camera": "カメラ",
}
_EXTRA_LABELS = {
    ALERT_ISSUED: "避難情報の発令",
    ALERT_LIFTED: "避難情報の解除",
    DRILL_INJECT: "状況付与",
    DRILL_CONTROL: "訓練の操作",
    "camera.scripted": "カメラ（訓練）",
}


@dataclass(frozen=True)
class TimelineItem:
    """One line of the timeline: an inject or something people did."""

    at: datetime
    elapsed: timedelta
    actor: str
    kind: str
    subject: str
    text: str
    is_inject: bool


@dataclass(frozen=True)
class Response:
    """How long HQ took to act on a shelter after an inject asked about it."""

    shelter_id: str
    shelter_name: str
    inject_elapsed: timedelta
    inject_summary: str
    action_elapsed: timedelta | None
    action_by: str = ""
    action_text: str = ""

    @property
    def minutes(self) -> float | None:
        """Drill minutes from inject to first action (None: never acted on)."""
        if self.action_elapsed is None:
            return None
        return (self.action_elapsed - self.inject_elapsed).total_seconds() / 60


@dataclass(frozen=True)
class Opening:
    """When a needed shelter first opened (None: it never did)."""

    shelter_id: str
    shelter_name: str
    opened_elapsed: timedelta | None
    opened_by: str = ""


@dataclass(frozen=True)
class StalePeriod:
    """A stretch when an open shelter had not reported within the stale interval."""

    shelter_id: str
    shelter_name: str
    start: timedelta
    end: timedelta
    until_end: bool = False

    @property
    def minutes(self) -> float:
        """Length in drill minutes."""
        return (self.end - self.start).total_seconds() / 60


@dataclass(frozen=True)
class AfterAction:
    """Everything the report shows, computed once from the log."""

    incident: Incident
    scenario_title: str
    hazard: Hazard | None
    is_drill: bool
    base: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    length: timedelta
    inject_count: int
    action_count: int
    participants: Mapping[str, int]
    evacuees: list[tuple[timedelta, int]]
    open_counts: list[tuple[timedelta, int]]
    per_shelter: Mapping[str, list[tuple[timedelta, int]]]
    max_evacuees: int
    max_evacuees_at: timedelta | None
    busiest: tuple[str, int] | None
    responses: list[Response]
    needed: list[Opening]
    stale: list[StalePeriod]
    timeline: list[TimelineItem]
    stale_after: timedelta
    speeds: tuple[float, ...] = ()
    names: Mapping[str, str] = field(default_factory=dict)
    #: Publications of a record imported from published snapshots (0: reported live).
    publications: int = 0

    def stale_at(self, elapsed: timedelta) -> int:
        """How many shelters were 報告遅れ at drill time ``elapsed`` (the board's tile then).

        As on the board, a shelter is overdue once *more* than the interval has passed (so
        not at a stretch's start) and until the report that ends it (not at its end); one
        that lasted to the end of the drill counts at the end too.
        """
        return sum(
            p.start < elapsed and (elapsed < p.end or (p.until_end and elapsed == p.end))
            for p in self.stale
        )

    @property
    def all_needed_open_at(self) -> timedelta | None:
        """Drill time when the last needed shelter opened (None if any never did)."""
        if not self.needed or any(o.opened_elapsed is None for o in self.needed):
            return None
        return max(o.opened_elapsed for o in self.needed if o.opened_elapsed is not None)

    def clock_label(self, elapsed: timedelta) -> str:
        """``09:25（+00:25）`` for a drill, ``+00:25`` when there is no nominal start."""
        offset = format_offset(elapsed)[:-3]
        if self.base is None:
            return offset
        return f"{(self.base + elapsed).strftime('%H:%M')}（{offset}）"

    def x(self, elapsed: timedelta) -> datetime:
        """Chart x value: the nominal clock time (drill start time + drill time), naive JST."""
        base = self.base or datetime(2000, 1, 1, tzinfo=JST)
        return (base + elapsed).replace(tzinfo=None)


def after_action(
    store: Store,
    incident_id: str,
    *,
    stale_after: timedelta = timedelta(minutes=60),
) -> AfterAction:
    """Compute the report of one incident (drill or live) from its event log.

    ``stale_after`` is the city's stale-report interval (``STALE_REPORT_MINUTES``), applied in
    drill time.
    """
    incident = store.incident(incident_id)
    # The report is read by people: staff appear by their display names, not login ids.
    people = display_names(store)
    events = [
        replace(e, actor=people.get(e.actor, e.actor)) for e in store.iter_events(incident_id)
    ]
    shelters = {s.shelter_id: s for s in store.shelters(include_inactive=True)}
    names = {sid: s.name for sid, s in shelters.items()}
    clock = scenario_clock(events)
    start = next(
        (e for e in events if e.type == DRILL_CONTROL and e.payload["action"] == "start"), None
    )
    start_payload: Mapping[str, Any] = start.payload if start is not None else {}
    base = _nominal_base(incident, start_payload, events)
    hazard = Hazard(start_payload["hazard"]) if start_payload.get("hazard") else incident.hazard
    if hazard is None:
        announced = [e for e in events if e.type == HAZARD_ANNOUNCED]
        hazard = Hazard(announced[0].payload["hazard"]) if announced else None

    walker = _Walker(shelters, stale_after, clock)
    timeline: list[TimelineItem] = []
    prompts: list[tuple[Event, timedelta]] = []
    participants: dict[str, int] = {}
    inject_count = action_count = 0
    speeds: list[float] = []
    for event in events:
        elapsed = clock(event.at)
        if event.type == DRILL_CONTROL:
            speeds.append(float(event.payload["speed"]))
        if event.type == DRILL_INJECT:
            inject_count += 1
            concerned = "、".join(names.get(i, i) for i in event.payload.get("shelters", []))
            timeline.append(
                TimelineItem(
                    event.at,
                    elapsed,
                    "シナリオ",
                    INJECT_KIND_LABELS.get(event.payload["kind"], event.payload["kind"]),
                    concerned,
                    str(event.payload["summary"]),
                    True,
                )
            )
            if event.payload["kind"] in ("hazard", "message") and event.payload.get("shelters"):
                prompts.append((event, elapsed))
        elif _is_staff(event):
            action_count += 1
            participants[event.actor] = participants.get(event.actor, 0) + 1
            timeline.append(
                TimelineItem(
                    event.at,
                    elapsed,
                    event.actor,
                    EVENT_TYPE_LABELS.get(event.type) or _EXTRA_LABELS.get(event.type, event.type),
                    _subject(event, names),
                    _describe(event),
                    False,
                )
            )
        walker.apply(event, elapsed)
    end_elapsed = (
        clock(incident.closed_at)
        if incident.closed_at
        else (clock(events[-1].at) if events else timedelta(0))
    )
    walker.finish(end_elapsed)

    # A record imported from published snapshots: its gaps are the publication cadence, not
    # late reports, so 報告遅れ is not computed for it.
    imported = [e.at for e in events if e.type in _SHELTER_TYPES]
    publications = (
        len(set(imported))
        if imported and all(is_history_actor(e.actor) for e in events if e.type in _SHELTER_TYPES)
        else 0
    )
    responses = _responses(events, prompts, clock, names)
    needed = [
        Opening(sid, names.get(sid, sid), *walker.first_open.get(sid, (None, "")))
        for sid in start_payload.get("needed_shelters", [])
    ]
    per_shelter = walker.top_series(TOP_SHELTERS)
    busiest = max(walker.peak.items(), key=lambda kv: kv[1], default=None)
    return AfterAction(
        incident=incident,
        scenario_title=str(start_payload.get("scenario_title") or display_name(incident)),
        hazard=hazard,
        is_drill=incident.is_drill,
        base=base,
        started_at=events[0].at if events else None,
        ended_at=incident.closed_at or (events[-1].at if events else None),
        length=end_elapsed,
        inject_count=inject_count,
        action_count=action_count,
        participants=dict(sorted(participants.items(), key=lambda kv: -kv[1])),
        evacuees=walker.total_series,
        open_counts=walker.open_series,
        per_shelter=per_shelter,
        max_evacuees=walker.max_total,
        max_evacuees_at=walker.max_total_at,
        busiest=(names.get(busiest[0], busiest[0]), busiest[1]) if busiest else None,
        responses=responses,
        needed=needed,
        stale=[] if publications else sorted(walker.stale, key=lambda p: (p.start, p.shelter_name)),
        timeline=timeline,
        stale_after=stale_after,
        speeds=tuple(dict.fromkeys(speeds)),
        names=names,
        publications=publications,
    )


def _nominal_base(
    incident: Incident, start_payload: Mapping[str, Any], events: Sequence[Event]
) -> datetime | None:
    """The clock time drill time 0 stands for: the scenario's start time on the drill's day."""
    first = events[0].at if events else incident.created_at
    if start_payload.get("start_time"):
        hour, minute = (int(p) for p in str(start_payload["start_time"]).split(":"))
        return datetime.combine(to_jst(first).date(), time(hour, minute), tzinfo=JST)
    return to_jst(first)


#: Event types people write (reports, corrections, counts, warnings, messages). Machine
#: events (camera frames, drill bookkeeping) are never counted as anyone's action.
STAFF_TYPES = frozenset(
    {
        SHELTER_STATUS_REPORTED,
        SHELTER_CORRECTION,
        AREA_OUTSIDE_REPORTED,
        HAZARD_ANNOUNCED,
        HAZARD_CLEARED,
        INCIDENT_MESSAGE,
        ALERT_ISSUED,
        ALERT_LIFTED,
    }
)


def _is_staff(event: Event) -> bool:
    """Something a person did: a human event type, not written by the scenario."""
    return event.actor != DRILL_ACTOR and event.type in STAFF_TYPES


def _subject(event: Event, names: Mapping[str, str]) -> str:
    sid = event.payload.get("shelter_id")
    if sid:
        return names.get(str(sid), str(sid))
    if event.payload.get("area"):
        return f"地区: {event.payload['area']}"
    return ""


def _describe(event: Event) -> str:
    """A short Japanese description of what an event said."""
    payload = event.payload
    parts: list[str] = []
    if event.type == ALERT_ISSUED:
        level = AlertLevel(payload["level"])
        parts.append(
            f"警戒レベル{level.number}「{level.ja}」（{Hazard(payload['hazard']).ja}）"
            f" 対象: {'・'.join(payload['areas'])}"
        )
    elif event.type == ALERT_LIFTED:
        parts.append(f"避難情報 {payload['alert_id']} を解除")
    if "staffed" in payload:
        word = {True: "常駐", False: "無人", None: "種別による既定"}[payload["staffed"]]
        parts.append(f"職員配置: {word}")
    if "open_state" in payload:
        parts.append(OpenState(payload["open_state"]).ja)
    if payload.get("evacuees") is not None:
        parts.append(f"避難者{payload['evacuees']}人")
    for key, word in (("at_home", "在宅避難"), ("in_car", "車中泊")):
        if payload.get(key) is not None:
            parts.append(f"{word}{payload[key]}人")
    for key in ("title", "text", "public_note", "internal_note", "note", "reason"):
        if payload.get(key):
            parts.append(str(payload[key]))
    if not parts:
        parts = [f"{k}: {v}" for k, v in payload.items() if k != "shelter_id"]
    return "・".join(parts)[:300]


class _Walker:
    """Walks the log once, keeping each shelter's folded status and the running totals."""

    def __init__(
        self, shelters: Mapping[str, Shelter], stale_after: timedelta, clock: IncidentClock
    ) -> None:
        self.shelters = shelters
        self.stale_after = stale_after
        self.clock = clock
        self.status: dict[str, ShelterStatus] = {}
        self.total = 0
        self.open_count = 0
        self.total_series: list[tuple[timedelta, int]] = [(timedelta(0), 0)]
        self.open_series: list[tuple[timedelta, int]] = [(timedelta(0), 0)]
        self.series: dict[str, list[tuple[timedelta, int]]] = {}
        self.peak: dict[str, int] = {}
        self.max_total = 0
        self.max_total_at: timedelta | None = None
        self.first_open: dict[str, tuple[timedelta, str]] = {}
        self.stale: list[StalePeriod] = []
        # Drill time of each shelter's last report (or state change), while it is open.
        self.last_ref: dict[str, timedelta] = {}
        # Drill time since which each of those is watched (staffed and open).
        self.watched_since: dict[str, timedelta] = {}

    def apply(self, event: Event, elapsed: timedelta) -> None:
        if event.type not in _SHELTER_TYPES:
            return
        sid = str(event.payload["shelter_id"])
        before = self.status.get(sid) or ShelterStatus(sid)
        after = fold([event], initial=State(shelters={sid: before})).shelter(sid)
        self.status[sid] = after
        self._stale_check(sid, before, after, elapsed)
        contribution_before = (before.evacuees or 0) if before.open_state.is_open else 0
        contribution_after = (after.evacuees or 0) if after.open_state.is_open else 0
        self.total += contribution_after - contribution_before
        self.open_count += int(after.open_state.is_open) - int(before.open_state.is_open)
        _step(self.total_series, elapsed, self.total)
        _step(self.open_series, elapsed, self.open_count)
        if after.evacuees != before.evacuees or after.open_state != before.open_state:
            _step(self.series.setdefault(sid, [(timedelta(0), 0)]), elapsed, contribution_after)
            self.peak[sid] = max(self.peak.get(sid, 0), contribution_after)
        if self.total > self.max_total:
            self.max_total, self.max_total_at = self.total, elapsed
        if (
            after.open_state.is_open
            and not before.open_state.is_open
            and sid not in self.first_open
        ):
            self.first_open[sid] = (elapsed, event.actor)

    def _stale_check(
        self, sid: str, before: ShelterStatus, after: ShelterStatus, elapsed: timedelta
    ) -> None:
        """Close a stale stretch when a report (or a closing) ends it; track the new reference.

        A correction moves neither time, so it never ends a stale stretch (as on the board),
        except one that says nobody is at the site (``staffed``): from then on no report is
        expected. A site that becomes staffed counts from its last report, as the board does.
        """
        shelter = self.shelters.get(sid)
        watched = (
            after.open_state.is_open
            and after.open_state is not OpenState.PERMANENT
            and expects_reports(shelter, after)
        )
        moved = after.reported_at != before.reported_at or (
            after.state_changed_at != before.state_changed_at
        )
        if moved or not watched:
            self._close_stale(sid, elapsed, until_end=False)
        if not watched:
            self.last_ref.pop(sid, None)
            self.watched_since.pop(sid, None)
            return
        if sid not in self.last_ref:
            self.watched_since[sid] = elapsed
        if moved:
            self.last_ref[sid] = elapsed
        elif sid not in self.last_ref:
            last = after.reported_at or after.state_changed_at
            self.last_ref[sid] = self.clock(last) if last is not None else elapsed

    def _close_stale(self, sid: str, now: timedelta, *, until_end: bool) -> None:
        last = self.last_ref.get(sid)
        if last is None:
            return
        # The same rule as the live board (disaster_dx.hq.is_stale), in drill time.
        probe = ShelterStatus(
            sid,
            open_state=OpenState.OPEN,
            reported_at=datetime(2000, 1, 1) + last,
        )
        if is_stale(probe, datetime(2000, 1, 1) + now, stale_after=self.stale_after):
            name = self.shelters[sid].name if sid in self.shelters else sid
            start = max(last + self.stale_after, self.watched_since.get(sid, last))
            self.stale.append(StalePeriod(sid, name, start, now, until_end))

    def finish(self, end: timedelta) -> None:
        for sid in list(self.last_ref):
            self._close_stale(sid, end, until_end=True)
        _step(self.total_series, end, self.total)
        _step(self.open_series, end, self.open_count)
        for series in self.series.values():
            _step(series, end, series[-1][1])

    def top_series(self, count: int) -> dict[str, list[tuple[timedelta, int]]]:
        busiest = sorted(self.peak, key=lambda sid: -self.peak[sid])[:count]
        return {sid: self.series[sid] for sid in busiest if self.peak[sid] > 0}


def _step(series: list[tuple[timedelta, int]], at: timedelta, value: int) -> None:
    """Append a point; several changes at one instant keep only the last value."""
    if series and series[-1][0] == at:
        series[-1] = (at, value)
    else:
        series.append((at, value))


def _responses(
    events: Sequence[Event],
    prompts: Sequence[tuple[Event, timedelta]],
    clock: Callable[[datetime], timedelta],
    names: Mapping[str, str],
) -> list[Response]:
    """For each (prompting inject, shelter): the first staff report about it afterwards."""
    actions: dict[str, list[Event]] = {}
    for event in events:
        if event.type in _SHELTER_TYPES and _is_staff(event):
            actions.setdefault(str(event.payload["shelter_id"]), []).append(event)
    out: list[Response] = []
    for prompt, elapsed in prompts:
        for sid in prompt.payload["shelters"]:
            first = next((a for a in actions.get(sid, []) if a.seq > prompt.seq), None)
            out.append(
                Response(
                    shelter_id=sid,
                    shelter_name=names.get(sid, sid),
                    inject_elapsed=elapsed,
                    inject_summary=str(prompt.payload["summary"]),
                    action_elapsed=clock(first.at) if first else None,
                    action_by=first.actor if first else "",
                    action_text=_describe(first) if first else "",
                )
            )
    return out


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------


def _figure_layout(fig: go.Figure, *, title: str, y_title: str, x_title: str) -> None:
    fig.update_layout(
        title={"text": title, "x": 0, "font": {"size": 16}},
        font={
            "family": "IPAGothic, 'Noto Sans JP', 'Hiragino Kaku Gothic ProN', Meiryo, sans-serif"
        },
        height=380,
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        legend={"orientation": "h", "y": -0.2},
        plot_bgcolor="#ffffff",
        hovermode="x unified",
    )
    fig.update_xaxes(title=x_title, tickformat="%H:%M", gridcolor="#e5e5e5", showline=True)
    fig.update_yaxes(title=y_title, rangemode="tozero", gridcolor="#e5e5e5", showline=True)


def evacuees_figure(report: AfterAction) -> go.Figure:
    """Evacuees in open shelters over time: the total and the busiest shelters."""
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[report.x(t) for t, _ in report.evacuees],
            y=[v for _, v in report.evacuees],
            name="合計（開設中の避難所）",
            mode="lines",
            line={"shape": "hv", "width": 5, "color": "#333333"},
        )
    )
    for n, (sid, series) in enumerate(report.per_shelter.items()):
        fig.add_trace(
            go.Scatter(
                x=[report.x(t) for t, _ in series],
                y=[v for _, v in series],
                name=report.names.get(sid, sid),
                mode="lines",
                line={
                    "shape": "hv",
                    "width": 2,
                    "color": PALETTE[n % len(PALETTE)],
                    "dash": DASHES[n % len(DASHES)],
                },
            )
        )
    _figure_layout(fig, title="避難者数の推移", y_title="避難者数（人）", x_title=_x_title(report))
    return fig


def open_figure(report: AfterAction) -> go.Figure:
    """How many shelters were open over time."""
    fig = go.Figure(
        go.Scatter(
            x=[report.x(t) for t, _ in report.open_counts],
            y=[v for _, v in report.open_counts],
            name="開設中の避難所",
            mode="lines",
            line={"shape": "hv", "width": 3, "color": PALETTE[2]},
            fill="tozeroy",
            fillcolor="rgba(0,158,115,0.15)",
        )
    )
    _figure_layout(fig, title="開設中の避難所の数", y_title="か所", x_title=_x_title(report))
    fig.update_layout(height=300, showlegend=False)
    return fig


def response_figure(report: AfterAction) -> go.Figure:
    """Minutes from inject to first HQ action, one bar per (inject, shelter)."""
    rows = [r for r in report.responses if r.minutes is not None]
    labels = [f"{r.shelter_name}（{format_offset(r.inject_elapsed)[:-3]}）" for r in rows]
    fig = go.Figure(
        go.Bar(
            x=[r.minutes for r in rows],
            y=labels,
            orientation="h",
            marker={"color": PALETTE[0]},
            text=[f"{r.minutes:.0f}分" for r in rows if r.minutes is not None],
            textposition="outside",
            name="対応までの時間",
        )
    )
    fig.update_layout(
        title={"text": "状況付与から最初の対応までの時間（分）", "x": 0, "font": {"size": 16}},
        font={"family": "IPAGothic, 'Noto Sans JP', Meiryo, sans-serif"},
        height=max(260, 28 * len(rows) + 100),
        margin={"l": 260, "r": 40, "t": 50, "b": 40},
        plot_bgcolor="#ffffff",
        showlegend=False,
    )
    fig.update_xaxes(title="分（訓練経過時間）", rangemode="tozero", gridcolor="#e5e5e5")
    fig.update_yaxes(autorange="reversed")
    return fig


def timeline_figure(report: AfterAction) -> go.Figure:
    """Injects and what people did, on one time axis (two lanes)."""
    fig = go.Figure()
    for is_inject, lane, symbol, colour in (
        (True, "状況付与", "diamond", PALETTE[1]),
        (False, "本部・避難所の操作", "circle", PALETTE[0]),
    ):
        items = [i for i in report.timeline if i.is_inject is is_inject]
        fig.add_trace(
            go.Scatter(
                x=[report.x(i.elapsed) for i in items],
                y=[lane] * len(items),
                mode="markers",
                marker={"symbol": symbol, "size": 12, "color": colour, "line": {"width": 1}},
                name=lane,
                text=[f"{i.actor} {i.subject} {i.text}"[:120] for i in items],
                hoverinfo="text+x",
            )
        )
    _figure_layout(fig, title="状況付与と対応の時系列", y_title="", x_title=_x_title(report))
    fig.update_layout(height=260, hovermode="closest")
    return fig


def _x_title(report: AfterAction) -> str:
    return "想定時刻（訓練）" if report.is_drill else "時刻（日本時間）"


def report_html(report: AfterAction, *, plotly_js: str = "inline") -> str:
    """The report as one HTML page (the template ``templates/after_action.html``).

    Parameters
    ----------
    plotly_js
        ``"inline"`` embeds plotly.js (a self-contained file that works offline); any other
        value is used as the script URL (the app serves plotly.js itself).
    """
    plots = {"evacuees": evacuees_figure(report), "open": open_figure(report)}
    if any(r.minutes is not None for r in report.responses):
        plots["response"] = response_figure(report)
    plots["timeline"] = timeline_figure(report)
    # plotly's own markup (a div and the script that draws it): trusted, not escaped.
    plot_html = {
        key: Markup(
            pio.to_html(
                fig,
                full_html=False,
                include_plotlyjs=False,
                config={"displaylogo": False, "responsive": True},
                div_id=f"aar-plot-{n}",
            )
        )
        for n, (key, fig) in enumerate(plots.items())
    }
    inline = plotly_js == "inline"
    responded = [r.minutes for r in report.responses if r.minutes is not None]
    unanswered = sum(r.minutes is None for r in report.responses)
    all_open = report.all_needed_open_at
    needed_done = sum(o.opened_elapsed is not None for o in report.needed)
    cards = [
        _Card("状況付与", f"{report.inject_count}件"),
        _Card("本部・避難所の操作", f"{report.action_count}件"),
        _Card(
            "最大避難者数",
            f"{report.max_evacuees:,}人",
            small=(
                report.clock_label(report.max_evacuees_at)
                if report.max_evacuees_at is not None
                else ""
            ),
        ),
        _Card(
            "必要な避難所の開設",
            f"{needed_done} / {len(report.needed)} か所",
            small=(
                f"全て開設: {_offset(all_open)}"
                if all_open is not None
                else ("未開設あり" if report.needed else "指定なし")
            ),
            alert=bool(report.needed) and all_open is None,
        ),
        _Card("対応までの時間（中央値）", f"{_median(responded):.0f}分" if responded else "—"),
        _Card("対応のなかった状況付与", f"{unanswered}件", alert=unanswered > 0),
        _Card(
            "報告遅れ",
            "—（公表資料）" if report.publications else f"{len(report.stale)}件",
            alert=bool(report.stale),
        ),
    ]
    return render(
        "after_action.html",
        report=report,
        plots=plot_html,
        plotly_src="" if inline else plotly_js,
        plotly_inline=Markup(get_plotlyjs()) if inline else "",
        period=f"{jst_minute(report.started_at)} 〜 {jst_minute(report.ended_at)}",
        speeds="・".join(f"{s:g}×" for s in report.speeds) if report.speeds else "—",
        cards=cards,
        stale_minutes=int(report.stale_after.total_seconds() // 60),
        offset=_offset,
        zero=timedelta(0),
        made=jst_minute(datetime.now(JST)),
    )


@dataclass(frozen=True)
class _Card:
    """One summary figure at the top of the report; ``alert`` adds a ⚠ and a border."""

    label: str
    value: str
    small: str = ""
    alert: bool = False


def _offset(elapsed: timedelta) -> str:
    """``+H:MM`` (elapsed time without seconds)."""
    return format_offset(elapsed)[:-3]


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def write_report(
    store: Store,
    incident_id: str,
    path: str | Path,
    *,
    stale_after: timedelta = timedelta(minutes=60),
) -> Path:
    """Compute the report and write it atomically to ``path`` (self-contained HTML)."""
    target = Path(path)
    text = report_html(after_action(store, incident_id, stale_after=stale_after))
    temporary = target.with_name(f".{target.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(target)
    log.info("after-action report of %s written to %s", incident_id, target)
    return target
