"""The audit view of an incident's event log (``/hq/log``): who changed what, from what to what.

The event log is the audit trail (events are never updated or deleted); this module makes it
readable. Each event becomes one :class:`LogRow` with its Japanese type label, its subject
(shelter id and name, or area) and, for every field the event touched, the value before and
after in words.

Before/after come from the same :func:`~disaster_dx.events.fold` the rest of the app uses, so
the log can never disagree with the board. The fold is incremental and per subject: each event
is folded at most once, on top of the previous status of its own shelter or area only
(``fold(events, initial=…)`` with a one-subject state), so a whole incident costs O(number of
events), never a re-fold per row, and a view filtered to one shelter folds only its events.

That is right for the CSV export (:func:`iter_log_rows`, which streams every row), but a
screen must not read a week of log per request: :func:`disaster_dx.eventlog_paging.log_page`
reads the same rows one page at a time from the database.

**This view is HQ-only.** It shows internal notes (内部メモ) and staff user names, because
auditing needs them; it must never back a public page or a public snapshot.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from disaster_dx._time import jst_second
from disaster_dx.errors import DisasterDxError
from disaster_dx.events import (
    AREA_OUTSIDE_REPORTED,
    HAZARD_ANNOUNCED,
    HAZARD_CLEARED,
    INCIDENT_MESSAGE,
    ROUTINE_TYPES,
    SHELTER_CORRECTION,
    SHELTER_STATUS_REPORTED,
    STATUS_FIELDS,
    TYPE_LABELS,
    TYPE_LABELS_EN,
    AreaCount,
    Event,
    HazardAnnouncement,
    ShelterStatus,
    State,
    fold,
)
from disaster_dx.io.csv_out import csv_document
from disaster_dx.model import Crowding, Hazard, Need, OpenState, Shelter

log = logging.getLogger(__name__)

#: Japanese label of each core event type; other modules give theirs when they register a type
#: (``events.TYPE_LABELS``); a type with neither shows its code.
EVENT_TYPE_LABELS: dict[str, str] = {
    SHELTER_STATUS_REPORTED: "状況報告",
    SHELTER_CORRECTION: "訂正",
    AREA_OUTSIDE_REPORTED: "避難所外避難者の報告",
    HAZARD_ANNOUNCED: "警報等の発表",
    HAZARD_CLEARED: "警報等の解除",
    INCIDENT_MESSAGE: "本部連絡",
}

#: Japanese label of each shelter status field (the payload fields of reports/corrections).
SHELTER_FIELD_LABELS: dict[str, str] = {
    "open_state": "開設状況",
    "evacuees": "避難者数",
    "voluntary_evacuees": "うち自主避難者数",
    "households": "世帯数",
    "capacity": "収容人数",
    "crowding_override": "混雑状況（手動設定）",
    "needs": "必要な支援",
    "urgent_needs": "至急の支援",
    "other_needs": "その他の支援",
    "pets_accepted": "ペット同行",
    "barrier_free": "バリアフリー",
    "public_note": "お知らせ（公開）",
    "internal_note": "内部メモ（非公開）",
    "staffed": "職員の常駐（報告遅れの対象）",
}

#: English labels of the same (the page in English; the CSV for the city stays Japanese).
EVENT_TYPE_LABELS_EN: dict[str, str] = {
    SHELTER_STATUS_REPORTED: "Status report",
    SHELTER_CORRECTION: "Correction",
    AREA_OUTSIDE_REPORTED: "People outside shelters",
    HAZARD_ANNOUNCED: "Warning announced",
    HAZARD_CLEARED: "Warning cleared",
    INCIDENT_MESSAGE: "HQ message",
}
SHELTER_FIELD_LABELS_EN: dict[str, str] = {
    "open_state": "Open state",
    "evacuees": "Evacuees",
    "voluntary_evacuees": "of which voluntary",
    "households": "Households",
    "capacity": "Capacity",
    "crowding_override": "Crowding (set by hand)",
    "needs": "Needs",
    "urgent_needs": "Urgent needs",
    "other_needs": "Other needs",
    "pets_accepted": "Pets",
    "barrier_free": "Barrier-free",
    "public_note": "Public notice",
    "internal_note": "Internal note",
    "staffed": "Staffed (reports expected)",
}
AREA_FIELD_LABELS_EN: dict[str, str] = {"at_home": "At home", "in_car": "In cars", "note": "Note"}

#: Japanese label of each area count field (在宅避難・車中泊).
AREA_FIELD_LABELS: dict[str, str] = {
    "at_home": "在宅避難者数",
    "in_car": "車中泊者数",
    "note": "メモ",
}

_HAZARD_TYPES = (HAZARD_ANNOUNCED, HAZARD_CLEARED)

NOT_REPORTED = "未報告"
EMPTY = "（なし）"
AUTOMATIC = "自動（人数から計算）"
CLEARED = "（解除）"

#: Small words of the log in both languages.
_WORDS: dict[str, tuple[str, str]] = {
    NOT_REPORTED: (NOT_REPORTED, "not reported"),
    EMPTY: (EMPTY, "(none)"),
    AUTOMATIC: (AUTOMATIC, "automatic (from the counts)"),
    CLEARED: (CLEARED, "(cleared)"),
    "可": ("可", "yes"),
    "不可": ("不可", "no"),
    "理由": ("理由", "Reason"),
    "宛先": ("宛先", "To"),
    "地区": ("地区", "Area"),
    "カメラ": ("カメラ", "Camera"),
    "原因": ("原因", "Cause"),
}


def _w(word: str, lang: str) -> str:
    ja, en = _WORDS[word]
    return en if lang == "en" else ja


#: Columns of :func:`log_csv`, one line per changed field.
CSV_COLUMNS: tuple[str, ...] = (
    "番号",
    "日時",
    "操作者",
    "種類",
    "避難所ID",
    "対象",
    "項目",
    "変更前",
    "変更後",
    "備考",
)


class Change(NamedTuple):
    """One field an event changed: its code, Japanese label, and the values as words."""

    field: str
    label: str
    before: str
    after: str


@dataclass(frozen=True)
class LogRow:
    """One event of the log, ready to show.

    ``changes`` lists only fields whose value differs; a status report that re-confirms
    every value has none (it still counts: it refreshes the report time). ``detail`` carries
    what is not a field change: a correction's reason, a message's text.
    """

    seq: int
    at: datetime
    actor: str
    type: str
    type_label: str
    shelter_id: str | None
    shelter_name: str
    changes: tuple[Change, ...]
    area: str | None = None
    detail: str = ""
    camera_id: str | None = None
    lang: str = "ja"

    @property
    def subject_label(self) -> str:
        """What the event is about: ``name（id）``, ``地区: …``, ``カメラ: …`` or ``""``."""
        if self.shelter_id is not None and self.shelter_name:
            return f"{self.shelter_name}（{self.shelter_id}）"
        if self.shelter_id is not None:
            return self.shelter_id
        if self.area is not None:
            return f"{_w('地区', self.lang)}: {self.area}"
        if self.camera_id is not None:
            return f"{_w('カメラ', self.lang)}: {self.camera_id}"
        return ""


def log_rows(
    events: Iterable[Event],
    shelters_by_id: Mapping[str, Shelter],
    *,
    shelter_id: str | None = None,
    actor: str | None = None,
    types: Collection[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    initial: State | None = None,
    skip_routine: bool = False,
    lang: str = "ja",
) -> list[LogRow]:
    """The incident's events as audit rows, optionally filtered, with before → after values.

    The whole list at once (tests, small logs); :func:`iter_log_rows` streams the same rows
    (the CSV export) and :func:`~disaster_dx.eventlog_paging.log_page` reads one page from
    the database (``/hq/log``).
    """
    return list(
        iter_log_rows(
            events,
            shelters_by_id,
            shelter_id=shelter_id,
            actor=actor,
            types=types,
            since=since,
            until=until,
            initial=initial,
            skip_routine=skip_routine,
            lang=lang,
        )
    )


def iter_log_rows(
    events: Iterable[Event],
    shelters_by_id: Mapping[str, Shelter],
    *,
    shelter_id: str | None = None,
    actor: str | None = None,
    types: Collection[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    initial: State | None = None,
    skip_routine: bool = False,
    lang: str = "ja",
) -> Iterator[LogRow]:
    """The incident's events as audit rows, one at a time, with before → after values.

    A row's "before" depends on every earlier event about its subject, whoever wrote it, so
    filters choose which rows are returned, not which events are folded; events about other
    subjects are only folded when a row about them is wanted.

    Parameters
    ----------
    events
        One incident's events in ``seq`` order (as :meth:`Store.iter_events` yields them).
    shelters_by_id
        The shelter master by id, for names; include inactive sites so that events about a
        removed site still show its name (a missing site shows its id only).
    shelter_id
        Only rows about this shelter.
    actor
        Only rows written by this user.
    types
        Only rows of these event types.
    since, until
        Only rows with ``since <= at <= until`` (aware times). Reading stops at the first event
        after ``until``: ``at`` never runs backwards within an incident.
    initial
        A state snapshot to continue from (events it already includes are skipped), so a long
        incident need not be folded from its first event.
    skip_routine
        Leave out :data:`~disaster_dx.events.ROUTINE_TYPES` (camera frames): a camera writes
        one every few seconds, which would bury the people's entries.
    lang
        ``"en"`` for the English page; the words of the log (labels, values, details) follow.

    Yields
    ------
    LogRow
        In ``seq`` order. Internal notes and user names are included: HQ only.

    Raises
    ------
    DisasterDxError
        When events are out of ``seq`` order or from more than one incident.
    """
    base = initial or State()
    subjects = _SubjectFolder(base, lang)
    hazards: dict[Hazard, HazardAnnouncement] = dict(base.hazards)
    incident_id, last_seq = base.incident_id, base.seq
    wanted_types = None if types is None else frozenset(types)
    for event in events:
        if incident_id is not None and event.incident_id != incident_id:
            raise DisasterDxError(
                f"event log mixes incidents: {event.incident_id!r} after {incident_id!r}"
            )
        if event.seq <= last_seq:
            if initial is not None and event.seq <= base.seq:
                continue  # already folded into the snapshot
            raise DisasterDxError(f"events must be in seq order: {event.seq} after {last_seq}")
        incident_id, last_seq = event.incident_id, event.seq
        if until is not None and event.at > until:
            break
        if skip_routine and event.type in ROUTINE_TYPES:
            continue  # routine events change no shelter or area: nothing to fold either
        subject = _subject_key(event)
        hazard_change = (
            _hazard_change(event, hazards, lang) if event.type in _HAZARD_TYPES else None
        )
        if shelter_id is not None and _shelter_id_of(event, subject) != shelter_id:
            continue  # another subject: nothing about it can show in this view
        if (
            (actor is not None and event.actor != actor)
            or (wanted_types is not None and event.type not in wanted_types)
            or (since is not None and event.at < since)
        ):
            if subject is not None:
                subjects.defer(subject, event)
            continue
        changes: tuple[Change, ...] = ()
        if subject is not None:
            changes = subjects.changes(subject, event)
        elif hazard_change is not None:
            changes = (hazard_change,)
        yield _row(event, subject, changes, shelters_by_id, lang)


def log_csv(rows: Iterable[LogRow], *, names: Mapping[str, str] | None = None) -> bytes:
    """The rows as CSV for Excel (UTF-8 with BOM, CRLF), one line per changed field.

    With ``names`` (login id → display name) a 操作者名 column follows 操作者, which keeps the
    login id: a name is what people read, the id is what the audit trail matches on.

    An event without field changes (a message, a re-confirming report) is one line with the
    change columns blank. Every cell goes through the one CSV writer's formula guard
    (:mod:`disaster_dx.io.csv_out`): notes are typed by people, and a log opened in Excel must
    not execute them. Internal notes are included: HQ only.
    """
    header = list(CSV_COLUMNS)
    if names is not None:
        header.insert(header.index("操作者") + 1, "操作者名")
    return csv_document(header, _log_csv_lines(rows, names))


def _log_csv_lines(rows: Iterable[LogRow], names: Mapping[str, str] | None) -> Iterator[list[str]]:
    for row in rows:
        who = [row.actor]
        if names is not None:
            who.append(names.get(row.actor, row.actor))
        lead = [
            str(row.seq),
            jst_second(row.at),
            *who,
            row.type_label,
            row.shelter_id or "",
            row.shelter_name if row.shelter_id is not None else row.subject_label,
        ]
        if not row.changes:
            yield [*lead, "", "", "", row.detail]
        for change in row.changes:
            yield [*lead, change.label, change.before, change.after, row.detail]


# ---------------------------------------------------------------------------------------------


SubjectKey = tuple[str, str]
"""``("shelter", id)`` or ``("area", name)``: whose status an event changes."""


#: Words for the ``action`` of drill control and scripted camera events (ja, en).
_ACTION_WORDS = {
    "start": ("開始", "started"),
    "pause": ("一時停止", "paused"),
    "resume": ("再開", "resumed"),
    "speed": ("速度変更", "speed changed"),
    "stop": ("終了", "stopped"),
    "image": ("訓練用画像に切替", "switched to a drill picture"),
    "offline": ("映像停止", "picture stopped"),
    "online": ("映像復帰", "picture back"),
}


def _other_detail(event: Event, lang: str = "ja") -> str:
    """One line for event types other modules own (cameras, drills), from known fields only."""
    payload = event.payload
    en = lang == "en"
    parts = []
    if "action" in payload:
        action = str(payload["action"])
        ja_word, en_word = _ACTION_WORDS.get(action, (action, action))
        word = en_word if en else ja_word
        if action in ("start", "speed") and payload.get("speed") is not None:
            word += f" ({payload['speed']:g}×)" if en else f"（{payload['speed']:g}倍速）"
        parts.append(word)
    for key in ("summary", "caption"):
        if payload.get(key):
            parts.append(str(payload[key]))
    if payload.get("error_kind"):
        # A camera's failure category in words; the technical detail stays in the server log.
        from disaster_dx.cameras.vocabulary import FeedErrorKind

        kind = str(payload["error_kind"])
        known = FeedErrorKind._value2member_map_.get(kind)
        word = known.label(lang) if isinstance(known, FeedErrorKind) else kind
        parts.append(f"{_w('原因', lang)}: {word}")
    if "polls" in payload:
        polls = payload["polls"]
        parts.append(f"the same picture {polls} times" if en else f"同じ画像が{polls}回")
    if "failures" in payload:
        failures = payload["failures"]
        parts.append(f"after {failures} failures" if en else f"失敗 {failures} 回の後")
    return " / ".join(parts)


def _subject_key(event: Event) -> SubjectKey | None:
    if event.type in (SHELTER_STATUS_REPORTED, SHELTER_CORRECTION):
        return ("shelter", str(event.payload["shelter_id"]))
    if event.type == AREA_OUTSIDE_REPORTED:
        return ("area", str(event.payload["area"]))
    return None


def _shelter_id_of(event: Event, subject: SubjectKey | None) -> str | None:
    """The shelter a row is about; event types of other modules name it in ``subject``."""
    if subject is not None:
        return subject[1] if subject[0] == "shelter" else None
    if event.subject and event.subject.startswith("shelter:"):
        return event.subject.partition(":")[2]
    return None


class _SubjectFolder:
    """Each shelter's and area's status, folded lazily and one subject at a time.

    A status depends only on its own subject's events, so an event nobody needs to see yet
    waits in its subject's queue; when a row about that subject is wanted, the queue is folded
    in one :func:`fold` call on top of the subject's last status, then the row's own event.
    Every event is folded at most once (O(n) overall), and a filtered view never folds the
    subjects it will not show.
    """

    def __init__(self, base: State, lang: str = "ja") -> None:
        self.lang = lang
        self.shelters: dict[str, ShelterStatus] = dict(base.shelters)
        self.areas: dict[str, AreaCount] = dict(base.areas)
        self.waiting: dict[SubjectKey, list[Event]] = {}

    def restart(self, subject: SubjectKey, state: State) -> None:
        """Take the subject's status from ``state`` (the state just before its next event)."""
        self.waiting.pop(subject, None)
        kind, key = subject
        if kind == "shelter":
            self.shelters[key] = state.shelter(key)
        else:
            self.areas[key] = state.areas.get(key) or AreaCount(key)

    def defer(self, subject: SubjectKey, event: Event) -> None:
        """Queue an event whose before/after nobody needs (yet)."""
        self.waiting.setdefault(subject, []).append(event)

    def changes(self, subject: SubjectKey, event: Event) -> tuple[Change, ...]:
        """Fold ``event`` (after any queued ones) and describe what it changed."""
        queued = self.waiting.pop(subject, [])
        kind, key = subject
        if kind == "shelter":
            before = self._shelter(key, queued)
            after = self._shelter(key, [event])
            found = (
                _shelter_change(n, before, after, self.lang)
                for n in STATUS_FIELDS
                if n in event.payload
            )
            return tuple(c for c in found if c is not None)
        area_before = self._area(key, queued)
        area_after = self._area(key, [event])
        found = (
            _area_change(n, area_before, area_after, self.lang)
            for n in AREA_FIELD_LABELS
            if n in event.payload
        )
        return tuple(c for c in found if c is not None)

    def _shelter(self, sid: str, events: list[Event]) -> ShelterStatus:
        status = self.shelters.get(sid) or ShelterStatus(sid)
        if events:
            status = fold(events, initial=State(shelters={sid: status})).shelter(sid)
            self.shelters[sid] = status
        return status

    def _area(self, area: str, events: list[Event]) -> AreaCount:
        count = self.areas.get(area) or AreaCount(area)
        if events:
            count = fold(events, initial=State(areas={area: count})).areas[area]
            self.areas[area] = count
        return count


def _hazard_change(
    event: Event, hazards: dict[Hazard, HazardAnnouncement], lang: str = "ja"
) -> Change:
    """Track warnings in force; the change is the warning's title before → after."""
    hazard = Hazard(event.payload["hazard"])
    previous = hazards.get(hazard)
    old_title = previous.title if previous else _w(EMPTY, lang)
    if event.type == HAZARD_ANNOUNCED:
        hazards[hazard] = HazardAnnouncement(hazard, str(event.payload["title"]), event.at)
        return Change("hazard", hazard.label(lang), old_title, str(event.payload["title"]))
    hazards.pop(hazard, None)
    return Change("hazard", hazard.label(lang), old_title, _w(CLEARED, lang))


def _row(
    event: Event,
    subject: SubjectKey | None,
    changes: tuple[Change, ...],
    shelters_by_id: Mapping[str, Shelter],
    lang: str = "ja",
) -> LogRow:
    payload = event.payload
    detail = ""
    if event.type == SHELTER_CORRECTION and payload.get("reason"):
        detail = f"{_w('理由', lang)}: {payload['reason']}"
    elif event.type in _HAZARD_TYPES:
        detail = str(payload.get("detail", ""))
    elif event.type == INCIDENT_MESSAGE:
        recipient = payload.get("to")
        detail = (
            f"{_w('宛先', lang)}: {recipient} / {payload['text']}"
            if recipient
            else str(payload["text"])
        )
    elif event.type in TYPE_LABELS:
        detail = _other_detail(event, lang)
    if lang == "en":
        type_label = EVENT_TYPE_LABELS_EN.get(event.type) or TYPE_LABELS_EN.get(
            event.type, event.type
        )
    else:
        type_label = EVENT_TYPE_LABELS.get(event.type) or TYPE_LABELS.get(event.type, event.type)
    sid = _shelter_id_of(event, subject)
    shelter = shelters_by_id.get(sid) if sid is not None else None
    return LogRow(
        seq=event.seq,
        at=event.at,
        actor=event.actor,
        type=event.type,
        type_label=type_label,
        shelter_id=sid,
        shelter_name=shelter.name if shelter else "",
        changes=changes,
        area=subject[1] if subject is not None and subject[0] == "area" else None,
        detail=detail,
        camera_id=_camera_of(event),
        lang=lang,
    )


def _camera_of(event: Event) -> str | None:
    kind, _, camera_id = (event.subject or "").partition(":")
    return camera_id if kind == "camera" and camera_id else None


def _shelter_change(
    name: str, before: ShelterStatus, after: ShelterStatus, lang: str = "ja"
) -> Change | None:
    old: Any = getattr(before, name)
    new: Any = getattr(after, name)
    if name == "urgent_needs":
        # The mapping also holds confirmation times; the audit shows which needs are urgent.
        old, new = frozenset(old), frozenset(new)
    if old == new:
        return None
    labels = SHELTER_FIELD_LABELS_EN if lang == "en" else SHELTER_FIELD_LABELS
    label = labels.get(name, name)
    if name == "crowding_override":
        return Change(name, label, _crowding_words(old, lang), _crowding_words(new, lang))
    if name == "staffed":
        return Change(name, label, _staffed_words(old, lang), _staffed_words(new, lang))
    return Change(name, label, _words(old, lang), _words(new, lang))


def _staffed_words(value: bool | None, lang: str = "ja") -> str:
    if lang == "en":
        return {True: "staffed", False: "unstaffed", None: "default by kind"}[value]
    return {True: "常駐", False: "無人", None: "種別による既定"}[value]


def _area_change(name: str, before: AreaCount, after: AreaCount, lang: str = "ja") -> Change | None:
    old, new = getattr(before, name), getattr(after, name)
    if old == new:
        return None
    labels = AREA_FIELD_LABELS_EN if lang == "en" else AREA_FIELD_LABELS
    return Change(name, labels[name], _words(old, lang), _words(new, lang))


def _crowding_words(value: Crowding | None, lang: str = "ja") -> str:
    return _w(AUTOMATIC, lang) if value is None else value.label(lang)


def _words(value: Any, lang: str = "ja") -> str:
    """A status value as staff read it: labels for vocabulary, 可/不可, 未報告 for None."""
    if value is None:
        return _w(NOT_REPORTED, lang)
    if isinstance(value, bool):
        return _w("可" if value else "不可", lang)
    if isinstance(value, OpenState):
        return value.label(lang)
    if isinstance(value, frozenset):
        labels = [n.label(lang) for n in Need if n in value]
        return ("・" if lang != "en" else ", ").join(labels) if labels else _w(EMPTY, lang)
    if isinstance(value, int):
        return str(value)
    text = str(value)
    return text if text else _w(EMPTY, lang)
