"""Reading a scenario file: YAML (or JSON) checked against the schema and the shelter master.

Every problem is reported at once with its line, from the YAML parser's node marks; duplicate
keys are refused; shelters are named by id or by their exact name in the real master.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Sequence
from datetime import time as time_of_day
from pathlib import Path
from typing import Any

import yaml
from jsonschema.exceptions import ValidationError as SchemaError

from disaster_dx._parsing import check_bytes, compose_yaml, read_limited
from disaster_dx.cameras.scripted import CAMERA_SCRIPTED, SCENARIO_DIR
from disaster_dx.drills.scenario import (
    Inject,
    Scenario,
    ScenarioError,
    ScenarioProblem,
    format_offset,
    parse_offset,
)
from disaster_dx.drills.schema import _VALIDATOR, OFFSET_PATTERN, _schema_message
from disaster_dx.errors import ImportFileError, PayloadError
from disaster_dx.events import (
    AREA_OUTSIDE_REPORTED,
    HAZARD_ANNOUNCED,
    HAZARD_CLEARED,
    INCIDENT_MESSAGE,
    SHELTER_CORRECTION,
    SHELTER_STATUS_REPORTED,
    NewEvent,
    validate_payload,
)
from disaster_dx.model import Crowding, Hazard, Labelled, Need, OpenState, Shelter


def load_scenario(
    path: str | Path, *, shelters: Sequence[Shelter], camera_ids: Collection[str] | None = None
) -> Scenario:
    """Read and validate a scenario file (see :func:`parse_scenario`)."""
    path = Path(path)
    try:
        data = read_limited(path, "yaml")
    except ImportFileError as exc:
        problems = [ScenarioProblem(p.where, p.message, line=1, column=1) for p in exc.problems]
        raise ScenarioError(path.name, problems) from None
    return parse_scenario(
        data, shelters=shelters, source=path.name, base_dir=path.parent, camera_ids=camera_ids
    )


def parse_scenario(
    text: str | bytes,
    *,
    shelters: Sequence[Shelter],
    source: str = "<scenario>",
    base_dir: Path | None = None,
    camera_ids: Collection[str] | None = None,
) -> Scenario:
    """Validate a scenario against the schema and the shelter master, all problems at once.

    Parameters
    ----------
    text
        The file's content (UTF-8, BOM allowed).
    shelters
        The active shelter master: injects name shelters by id or exact name.
    source
        File name used in messages.
    base_dir
        Folder of the file; camera images are looked up relative to it, then relative to
        :data:`SCENARIO_DIR` (so an exported scenario saved elsewhere still finds them).
    camera_ids
        Known camera ids; ``None`` accepts any well-formed id (the camera registry may not be
        configured).

    Raises
    ------
    ScenarioError
        Every problem, each with its line and column.
    """
    checker = _ScenarioChecker(shelters, source=source, base_dir=base_dir, camera_ids=camera_ids)
    return checker.check(text)


class _Marks:
    """Where each value (and each mapping key) of a YAML document was."""

    def __init__(self) -> None:
        self.values: dict[tuple[Any, ...], tuple[int, int]] = {}
        self.keys: dict[tuple[Any, ...], tuple[int, int]] = {}

    def of(self, path: tuple[Any, ...]) -> tuple[int, int]:
        """Line and column of the value at ``path`` (or of its nearest parent)."""
        while path not in self.values and path:
            path = path[:-1]
        return self.values.get(path, (1, 1))

    def key(self, path: tuple[Any, ...]) -> tuple[int, int]:
        """Line and column of the key naming ``path`` (falls back to the value)."""
        return self.keys.get(path) or self.of(path)


_STR_TAG = "tag:yaml.org,2002:str"
_SAFE = yaml.constructor.SafeConstructor()


def _compose(text: str, marks: _Marks, problems: list[ScenarioProblem]) -> Any:
    """Parse YAML keeping every node's position; duplicate keys are errors, not overwrites.

    PyYAML reads YAML 1.1, where ``9:00`` is the number 540 and ``2025-04-01`` a date; here
    such scalars stay text, which is what a scenario author meant.
    """
    node = compose_yaml(text)  # no aliases, bounded depth and size: see disaster_dx._parsing
    if node is None:
        return None

    def convert(node: yaml.Node, path: tuple[Any, ...], depth: int) -> Any:
        mark = (node.start_mark.line + 1, node.start_mark.column + 1)
        marks.values[path] = mark
        if depth > 50:
            problems.append(_problem(path, "入れ子が深すぎます", mark))
            return None
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
                key_mark = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                if key in out:
                    problems.append(
                        _problem(
                            (*path, key),
                            f"項目「{key}」が2回書かれています（前の値は上書きされません）"
                            f" / duplicate key {key!r}",
                            key_mark,
                        )
                    )
                    continue
                marks.keys[(*path, key)] = key_mark
                out[key] = convert(value_node, (*path, key), depth + 1)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [convert(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        if node.tag == _STR_TAG:
            return node.value
        if node.tag.endswith((":int", ":float")) and ":" in node.value:
            return node.value  # YAML 1.1 base-60 numbers: "9:00" is a time, not 540
        if node.tag.endswith(":timestamp"):
            return node.value
        return _SAFE.construct_object(node)

    return convert(node, (), 0)


def _path_text(path: Sequence[Any]) -> str:
    """``("injects", 3, "evacuees")`` → ``状況付与4件目 › evacuees`` (counted from 1)."""
    parts: list[str] = []
    for position, item in enumerate(path):
        if isinstance(item, int) and position == 1 and path[0] == "injects":
            parts[-1] = f"状況付与{item + 1}件目"
        elif isinstance(item, int):
            parts.append(f"{item + 1}番目")
        else:
            parts.append(str(item))
    return " › ".join(parts) if parts else "ファイル全体"


def _problem(path: Sequence[Any], message: str, mark: tuple[int, int]) -> ScenarioProblem:
    line, column = mark
    return ScenarioProblem(
        where=f"line {line}", message=f"{_path_text(path)}: {message}", line=line, column=column
    )


_STATUS_KEYS = (
    "open_state",
    "evacuees",
    "voluntary_evacuees",
    "households",
    "capacity",
    "crowding",
    "needs",
    "urgent_needs",
    "other_needs",
    "pets_accepted",
    "barrier_free",
    "public_note",
    "internal_note",
    "staffed",
)
#: Payload field → scenario key, where they differ (for placing payload problems on lines).
_PAYLOAD_KEYS = {
    "crowding_override": "crowding",
    "shelter_id": "shelter",
    "camera_id": "camera",
}
_CAMERA_WORDS = {"image": "訓練用画像に切替", "offline": "停止（映像なし）", "online": "復旧"}


def _normalised(name: str) -> str:
    """A name compared loosely, only to suggest the exact one (全角/半角, spaces)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name))


class _ScenarioChecker:
    """One validation pass: collects every problem, then builds the scenario or raises."""

    def __init__(
        self,
        shelters: Sequence[Shelter],
        *,
        source: str,
        base_dir: Path | None,
        camera_ids: Collection[str] | None,
    ) -> None:
        self.source = source
        self.base_dir = base_dir
        self.camera_ids = None if camera_ids is None else set(camera_ids)
        self.by_id = {s.shelter_id: s for s in shelters}
        self.by_name: dict[str, list[Shelter]] = {}
        self.by_loose: dict[str, list[Shelter]] = {}
        for shelter in shelters:
            self.by_name.setdefault(shelter.name, []).append(shelter)
            self.by_loose.setdefault(_normalised(shelter.name), []).append(shelter)
        self.marks = _Marks()
        self.problems: list[ScenarioProblem] = []

    def add(self, path: Sequence[Any], message: str, *, key: bool = False) -> None:
        mark = self.marks.key(tuple(path)) if key else self.marks.of(tuple(path))
        self.problems.append(_problem(path, message, mark))

    def fail(self) -> ScenarioError:
        # The schema may report one bad value twice (base shape and kind rules): once is enough.
        unique = {(p.line, p.column, p.message): p for p in self.problems}
        ordered = sorted(unique.values(), key=lambda p: (p.line, p.column))
        return ScenarioError(self.source, ordered)

    def check(self, raw: str | bytes) -> Scenario:
        try:
            check_bytes(raw, self.source, "yaml")
        except ImportFileError as exc:
            message = exc.problems[0].message
            self.problems.append(ScenarioProblem("line 1", message, line=1, column=1))
            raise self.fail() from None
        text = self._decode(raw)
        if text is None:
            raise self.fail()
        try:
            data = _compose(text, self.marks, self.problems)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            detail = " ".join(str(p) for p in (exc.context, exc.problem) if p)
            start = exc.context_mark
            if start is not None and mark is not None and start.line != mark.line:
                detail += f"（{start.line + 1}行目から）"
            self.problems.append(
                ScenarioProblem(
                    where=f"line {line}",
                    message=f"YAMLの書き方に誤りがあります: {detail}",
                    line=line,
                    column=column,
                )
            )
            raise self.fail() from None
        if not isinstance(data, dict):
            self.add((), "シナリオは「項目: 値」の並び（YAMLのマッピング）で書いてください")
            raise self.fail()

        bad_injects: set[int] = set()
        top_level_bad = False
        for error in _VALIDATOR.iter_errors(data):
            path = tuple(error.absolute_path)
            if len(path) >= 2 and path[0] == "injects" and isinstance(path[1], int):
                bad_injects.add(path[1])
            else:
                top_level_bad = True
            self._schema_problem(error, path)
        raw_injects = data.get("injects")
        injects_data: list[Any] = raw_injects if isinstance(raw_injects, list) else []

        injects: list[Inject] = []
        for index, item in enumerate(injects_data):
            if index in bad_injects or not isinstance(item, dict):
                continue
            built = self._inject(index, item)
            if built is not None:
                injects.append(built)

        hazards_announced = {
            Hazard.parse(i["hazard"])
            for i in injects_data
            if isinstance(i, dict)
            and i.get("kind") == "hazard"
            and isinstance(i.get("hazard"), str)
            and _parses(Hazard, i["hazard"])
        }
        needed: list[str] = []
        main_hazard: Hazard | None = None
        if isinstance(data.get("hazard"), str) and _parses(Hazard, data["hazard"]):
            main_hazard = Hazard.parse(data["hazard"])
            hazards_announced.add(main_hazard)
        if isinstance(data.get("needed_shelters"), list):
            for i, ref in enumerate(data["needed_shelters"]):
                if not isinstance(ref, str):
                    continue
                shelter = self._shelter(("needed_shelters", i), ref)
                if shelter is None:
                    continue
                if not shelter.hazards & hazards_announced:
                    flagged = "・".join(h.ja for h in Hazard if h in shelter.hazards) or "なし"
                    wanted = "・".join(h.ja for h in Hazard if h in hazards_announced)
                    self.add(
                        ("needed_shelters", i),
                        f"「{shelter.name}」はこのシナリオの災害（{wanted}）の避難先に"
                        f"指定されていません（指定: {flagged}）",
                    )
                    continue
                if shelter.shelter_id in needed:
                    self.add(("needed_shelters", i), f"「{shelter.name}」が2回あります")
                    continue
                needed.append(shelter.shelter_id)

        duration = None
        if isinstance(data.get("duration"), str) and re.match(OFFSET_PATTERN, data["duration"]):
            duration = parse_offset(data["duration"])
            for inject in injects:
                if inject.offset > duration:
                    self.add(
                        ("injects", inject.index, "at"),
                        f"{format_offset(inject.offset)} はシナリオの長さ "
                        f"{data['duration']} を過ぎています",
                    )

        if self.problems or top_level_bad or bad_injects or main_hazard is None:
            raise self.fail()
        injects.sort(key=lambda i: (i.offset, i.index))
        ordered = tuple(
            Inject(n, i.offset, i.kind, i.summary, i.events, i.shelters, i.arrival_in, i.line)
            for n, i in enumerate(injects)
        )
        hour, minute = (int(p) for p in data["start_time"].split(":"))
        return Scenario(
            title=data["title"],
            hazard=main_hazard,
            start_time=time_of_day(hour, minute),
            injects=ordered,
            description=data.get("description", ""),
            needed_shelters=tuple(needed),
            duration=duration,
            origin=data.get("origin", ""),
            source=self.source,
            text=text,
        )

    def _decode(self, raw: str | bytes) -> str | None:
        if isinstance(raw, str):
            return raw.removeprefix("\ufeff")
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            self.problems.append(
                ScenarioProblem(
                    where=f"line {line}",
                    message="ファイルは UTF-8 で保存してください"
                    "（Shift_JIS などの文字コードは読めません）",
                    line=line,
                    column=1,
                )
            )
            return None

    def _schema_problem(self, error: SchemaError, path: tuple[Any, ...]) -> None:
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = set(error.schema.get("properties", {}))
            where = "シナリオ" if not path else "この状況付与"
            for key in error.instance:
                if key not in allowed:
                    self.add(
                        (*path, key),
                        f"「{key}」は{where}の項目ではありません"
                        f"（使える項目: {', '.join(sorted(allowed))}）",
                        key=True,
                    )
            return
        self.add(path, _schema_message(error))

    def _shelter(self, path: tuple[Any, ...], ref: str) -> Shelter | None:
        if ref in self.by_id:
            return self.by_id[ref]
        found = self.by_name.get(ref, [])
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            ids = "、".join(s.shelter_id for s in found)
            self.add(
                path,
                f"「{ref}」という名前の避難所が{len(found)}か所あります。"
                f"IDで指定してください（{ids}）",
            )
            return None
        near = self.by_loose.get(_normalised(ref), [])
        hint = f"。「{near[0].name}」（{near[0].shelter_id}）のことですか？" if near else ""
        self.add(path, f"避難所「{ref}」は避難所台帳にありません（IDか正確な名称で）{hint}")
        return None

    def _inject(self, index: int, item: dict[str, Any]) -> Inject | None:
        path: tuple[Any, ...] = ("injects", index)
        before = len(self.problems)
        kind = item["kind"]
        offset = parse_offset(item["at"])
        line = self.marks.of(path)[0]
        shelters: list[str] = []
        for i, ref in enumerate(item.get("shelters") or []):
            shelter = self._shelter((*path, "shelters", i), ref)
            if shelter is not None:
                shelters.append(shelter.shelter_id)
        events: list[NewEvent] = []
        arrival = None
        summary = ""
        if kind == "hazard":
            hazard = Hazard.parse(item["hazard"])
            payload = {"hazard": hazard.value, "title": item["title"]}
            if "detail" in item:
                payload["detail"] = item["detail"]
            events.append(NewEvent(HAZARD_ANNOUNCED, payload))
            summary = f"{hazard.ja}：{item['title']}"
            if "arrival_in" in item:
                arrival = parse_offset(item["arrival_in"])
                summary += f"（到達予想 {format_offset(arrival)}）"
        elif kind == "hazard_cleared":
            hazard = Hazard.parse(item["hazard"])
            payload = {"hazard": hazard.value}
            if "detail" in item:
                payload["detail"] = item["detail"]
            events.append(NewEvent(HAZARD_CLEARED, payload))
            summary = f"{hazard.ja}の警報等を解除"
        elif kind == "shelter":
            shelter = self._shelter((*path, "shelter"), item["shelter"])
            if shelter is None:
                return None
            shelters.insert(0, shelter.shelter_id)
            event, summary = self._shelter_event(path, shelter, item)
            if event is None:
                return None
            events.append(event)
        elif kind == "area":
            payload = {k: item[k] for k in ("area", "at_home", "in_car", "note") if k in item}
            events.append(NewEvent(AREA_OUTSIDE_REPORTED, payload))
            counts = [
                f"{word}{item[k]}人"
                for k, word in (("at_home", "在宅避難"), ("in_car", "車中泊"))
                if k in item
            ]
            summary = f"{item['area']}：" + ("・".join(counts) or item.get("note", ""))
        elif kind == "message":
            payload = {"text": item["text"]}
            if "to" in item:
                payload["to"] = item["to"]
            events.append(NewEvent(INCIDENT_MESSAGE, payload))
            recipient = f"{item['to']}へ：" if "to" in item else "本部へ："
            summary = recipient + item["text"].replace("\n", " ")
        elif kind == "camera":
            camera_id = item["camera"]
            if self.camera_ids is not None and camera_id not in self.camera_ids:
                self.add((*path, "camera"), f"カメラ「{camera_id}」はカメラ台帳にありません")
            if item["action"] == "image" and "image" not in item:
                self.add(path, "action: image には表示する画像（image）が必要です")
            if "image" in item:
                self._check_image((*path, "image"), item["image"])
            payload = {"camera_id": camera_id, "action": item["action"]}
            for key in ("image", "caption"):
                if key in item:
                    payload[key] = item[key]
            events.append(NewEvent(CAMERA_SCRIPTED, payload))
            summary = f"カメラ {camera_id}：{_CAMERA_WORDS[item['action']]}"
            if item.get("caption"):
                summary += f"（{item['caption']}）"
        for event in events:
            try:
                validate_payload(event.type, event.payload)
            except PayloadError as exc:
                for problem in exc.problems:
                    key = _PAYLOAD_KEYS.get(problem.where, problem.where)
                    if key in item:
                        self.add((*path, key), problem.message)
                    else:
                        self.add(path, f"{key}: {problem.message}")
        if len(self.problems) > before:
            return None
        return Inject(
            index=index,
            offset=offset,
            kind=kind,
            summary=summary,
            events=tuple(events),
            shelters=tuple(dict.fromkeys(shelters)),
            arrival_in=arrival,
            line=line,
        )

    def _shelter_event(
        self, path: tuple[Any, ...], shelter: Shelter, item: dict[str, Any]
    ) -> tuple[NewEvent | None, str]:
        payload: dict[str, Any] = {"shelter_id": shelter.shelter_id}
        words: list[str] = []
        for key in _STATUS_KEYS:
            if key not in item:
                continue
            value = item[key]
            if key == "open_state":
                state = OpenState.parse(value)
                payload[key] = state.value
                words.append(state.ja)
            elif key == "crowding":
                level = None if value in ("auto", "自動") else Crowding.parse(value)
                payload["crowding_override"] = None if level is None else level.value
                words.append(f"混雑状況 {level.ja if level else '自動'}")
            elif key in ("needs", "urgent_needs"):
                needs = sorted({Need.parse(v).value for v in value})
                payload[key] = needs
                if needs:
                    label = "至急" if key == "urgent_needs" else "要望"
                    words.append(f"{label} " + "・".join(n.ja for n in Need if n.value in needs))
            else:
                payload[key] = value
                if key == "evacuees":
                    words.append(f"避難者{value}人")
        correction = bool(item.get("correction"))
        if "reason" in item and not correction:
            self.add((*path, "reason"), "reason（訂正理由）は correction: true のときだけ書けます")
            return None, ""
        if correction:
            payload["reason"] = item.get("reason", "")
            words.append("（訂正）")
        event_type = SHELTER_CORRECTION if correction else SHELTER_STATUS_REPORTED
        return NewEvent(event_type, payload), f"{shelter.name}：" + "・".join(words)

    def _check_image(self, path: tuple[Any, ...], image: str) -> None:
        relative = Path(image)
        if relative.is_absolute() or ".." in relative.parts:
            self.add(path, "画像はシナリオと同じフォルダからの相対パスで書いてください")
            return
        folders = [d for d in (self.base_dir, SCENARIO_DIR) if d is not None]
        if self.base_dir is not None and not any((d / relative).is_file() for d in folders):
            self.add(
                path,
                f"画像ファイル {image} が見つかりません"
                "（シナリオと同じフォルダか data/scenarios に置いてください）",
            )


def _parses(enum: type[Labelled], value: str) -> bool:
    try:
        enum.parse(value)
    except ValueError:
        return False
    return True
