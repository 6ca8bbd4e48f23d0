"""Public snapshots: the files citizens read, written after every change to live shelter state.

Under a surge, Python must never be the path citizens hit (a static file server answers ~15×
more requests than any Python route). So the public side is a folder of static files in
``PUBLIC_DIR`` that nginx, a CDN or object storage can serve, and that keeps working when the
database or the app is down:

``shelters.geojson``
    Public fields only (:data:`PUBLIC_PROPERTIES`, a whitelist), with ``updated_at``.
``shelters.csv``
    The same sites in the GSI-style columns of :mod:`disaster_dx.io.export` (UTF-8 with BOM).
``index.html`` + ``site/``
    The public page: list, hazard filter, nearest open shelters, map; ja / en / やさしい日本語.
    Data and wording are embedded, Leaflet is a local copy: no app server, no outside CDN.
``map.html``
    A standalone folium map for sharing, drawn by a renderer passed in from ``layers/`` (the
    core never imports folium), with Leaflet pointed at the same local copy.

Every file is written atomically (temp file + rename), unchanged files are not rewritten (so
their ETags and caches stay valid), and writers in several processes take a lock so an older
state can never overwrite a newer one. Drill incidents never reach these files.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import math
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from disaster_dx._files import write_atomic
from disaster_dx._resources import package_path
from disaster_dx._time import jst_text
from disaster_dx.areas import Area
from disaster_dx.city import City, city_for_code
from disaster_dx.config import Settings
from disaster_dx.events import (
    ALERT_ISSUED,
    ALERT_LIFTED,
    HAZARD_ANNOUNCED,
    HAZARD_CLEARED,
    SHELTER_CORRECTION,
    SHELTER_STATUS_REPORTED,
    Event,
    State,
)
from disaster_dx.io.export import csv_bytes, shelter_records
from disaster_dx.model import (
    SHELTER_KIND_ORDER,
    Crowding,
    CrowdingThresholds,
    IncidentKind,
    OpenState,
    Shelter,
)
from disaster_dx.public_alerts import (
    LIFTED_SHOWN_HOURS,
    banner_all_languages,
    hazard_now_all_languages,
    in_all_languages,
    public_alerts,
)
from disaster_dx.public_text import (
    CROWDING_SYMBOL,
    DATA_SOURCES,
    DEFAULT_LANG,
    HAZARD_ORDER,
    LANGS,
    OPEN_STATE_SYMBOL,
    city_texts,
    text,
    texts_for,
)
from disaster_dx.store import Store
from disaster_dx.walk_graph import walk_file_for

log = logging.getLogger(__name__)

#: The public page's template and its assets (copied into ``PUBLIC_DIR``).
SITE_SOURCE = package_path("public_site")
#: Folder of the page's assets inside ``PUBLIC_DIR`` (and under ``/`` in the app).
ASSET_FOLDER = "site"
#: The public page in each language, written with its words already in place, so the first
#: paint shows the right ones and nothing moves when the script starts (the app serves the one
#: ``?lang=`` or the browser asks for at ``/``; a plain static host serves ``index.html`` and
#: the script switches language there).
INDEX_PAGES: dict[str, str] = {
    lang: "index.html" if lang == DEFAULT_LANG else f"index.{lang}.html" for lang in LANGS
}
#: The published files, besides the assets.
SNAPSHOT_FILES = (
    "index.html",
    *(name for name in INDEX_PAGES.values() if name != "index.html"),
    "shelters.geojson",
    "shelters.csv",
    "map.html",
)

#: The only properties a public feature may carry. Anything else (internal notes, reporter,
#: needs, resident or camera data) cannot reach the snapshot, whatever the state holds.
PUBLIC_PROPERTIES = (
    "shelter_id",
    "name",
    "name_kana",
    "name_en",
    "address",
    "kinds",
    "hazards",
    "open_state",
    "crowding",
    "crowding_by_staff",
    "evacuees",
    "capacity",
    "pets_accepted",
    "barrier_free",
    "public_note",
    "reported_at",
)

#: Event types that can change what the public sees; ``updated_at`` moves only with these.
PUBLIC_EVENT_TYPES = frozenset(
    {
        SHELTER_STATUS_REPORTED,
        SHELTER_CORRECTION,
        HAZARD_ANNOUNCED,
        HAZARD_CLEARED,
        ALERT_ISSUED,
        ALERT_LIFTED,
    }
)

#: Map frame when the city has no shelters yet (all of Japan); otherwise it fits the shelters.
MAP_CENTER = (36.2, 138.25)
MAP_ZOOM = 5
TILES = {
    "url": "https://cyberjapandata.gsi.go.jp/xyz/pale/{z}/{x}/{y}.png",
    # The credit GSI asks for, with a link to its tile list (our constant: Leaflet shows it as
    # HTML, which is fine for this string and never done with user text).
    "attribution": '<a href="https://maps.gsi.go.jp/development/ichiran.html">地理院タイル</a>',
}

_GSI_RECORD = re.compile(r"^[A-Z]\d{13}$")
_PLACEHOLDER = re.compile(r"\{\{(\w+)(?::([\w./-]+))?\}\}")

#: ``(collection, Japanese texts) → HTML`` for ``map.html``; ``layers.public_map`` has one.
MapRenderer = Callable[[Mapping[str, Any], Mapping[str, str]], str]


@dataclass(frozen=True)
class PublishResult:
    """What one publish did, for the log, the CLI and the latency benchmark."""

    public_dir: Path
    incident_id: str | None
    seq: int
    updated_at: str
    shelters: int
    written: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        """One line for the CLI and the log."""
        changed = ", ".join(self.written) if self.written else "nothing changed"
        return (
            f"{self.shelters} shelters as of {self.updated_at} (seq {self.seq}) → "
            f"{self.public_dir}: {changed} ({self.seconds * 1000:.0f} ms)"
        )


# -- what is public --------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat(timespec="seconds")


def public_feature(
    shelter: Shelter, state: State, *, thresholds: CrowdingThresholds
) -> dict[str, Any]:
    """One shelter as a GeoJSON feature with public fields only (language-neutral codes).

    ``reported_at`` is the last status report: a correction fixes data without making a
    silent shelter look fresh, as on the HQ board.
    """
    status = state.shelter(shelter.shelter_id)
    crowding: Crowding | None = status.crowding(thresholds, master_capacity=shelter.capacity)
    properties = {
        "shelter_id": shelter.shelter_id,
        "name": shelter.name,
        # As the city published them (名称_カナ, 名称_英字); empty where it did not: the page
        # then shows the name as it is, never a machine-made reading or translation.
        "name_kana": shelter.name_kana,
        "name_en": shelter.name_en,
        "address": shelter.address,
        "kinds": [k.value for k in SHELTER_KIND_ORDER if k in shelter.kinds],
        "hazards": [h.value for h in HAZARD_ORDER if h in shelter.hazards],
        "open_state": status.open_state.value,
        "crowding": crowding.value if crowding else None,
        "crowding_by_staff": status.crowding_override is not None,
        "evacuees": status.evacuees,
        "capacity": status.capacity if status.capacity is not None else shelter.capacity,
        "pets_accepted": status.pets_accepted,
        "barrier_free": status.barrier_free,
        "public_note": status.public_note,
        "reported_at": _iso(status.reported_at),
    }
    return {
        "type": "Feature",
        "id": shelter.shelter_id,
        "geometry": {"type": "Point", "coordinates": [shelter.lon, shelter.lat]},
        "properties": properties,
    }


def public_collection(
    shelters: Sequence[Shelter],
    state: State,
    *,
    thresholds: CrowdingThresholds,
    city_code: str,
    updated_at: datetime,
    drill_notice: bool = False,
    areas: Sequence[Area] = (),
    city: City | None = None,
    walk_graph: str | None = None,
) -> dict[str, Any]:
    """The public FeatureCollection as of ``updated_at`` (the last change to public data).

    ``hazard`` is the code of the hazard in force (the newest warning or 避難情報 not lifted;
    never its free-text title or detail, which staff type), so the page can offer its
    shelters first. ``alerts`` lists the incident's 避難情報, in force and lifted
    (:func:`~disaster_dx.public_alerts.public_alerts`; ``areas`` names their areas).
    ``drill_notice``: a drill the city announced to residents is under way (a flag only: no
    drill data). ``walk_graph`` names the road-network file the page measures walking
    distance with (:mod:`disaster_dx.walk_graph`); absent when no real network is loaded.
    """
    hazard = state.current_hazard
    city = city or city_for_code(city_code)
    sources = data_sources(shelters)
    return {
        "type": "FeatureCollection",
        "updated_at": _iso(updated_at),
        "hazard": hazard.value if hazard else None,
        "alerts": public_alerts(state, areas),
        "drill_notice": drill_notice,
        "city_code": city_code,
        "city": _city_names(city),
        "attribution": _attribution(sources, city),
        "sources": sources,
        "features": [public_feature(s, state, thresholds=thresholds) for s in shelters],
    } | ({"walk_graph": walk_graph} if walk_graph else {})


def geojson_bytes(collection: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 GeoJSON with Japanese left readable (smaller for phones)."""
    return json.dumps(collection, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# -- the public page -------------------------------------------------------------------------


def _script_json(value: Any) -> str:
    """JSON that is safe inside ``<script type="application/json">``.

    A note reading ``</script>`` or ``<!--`` cannot end the element, since ``<``, ``>`` and
    ``&`` are escaped (``JSON.parse`` reads the escapes back as the same characters).
    """
    dumped = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return (
        dumped.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def data_sources(shelters: Sequence[Shelter]) -> list[str]:
    """Which kinds of source the master holds: 国土地理院's lists, the city's own file, or both."""
    found = set()
    for shelter in shelters:
        for record_id in shelter.source:
            found.add("gsi" if _GSI_RECORD.match(record_id) else "city")
    return [s for s in DATA_SOURCES if s in found]


def _attribution(sources: Sequence[str], city: City) -> str:
    """The credit line for the data's users (Japanese, as 国土地理院's terms word it)."""
    table = city_texts(city, sources)
    return "出典：" + "、".join(table[f"source.{s}"]["ja"] for s in sources) if sources else ""


def _city_names(city: City) -> dict[str, str]:
    return {"code": city.code, "name": city.name, "name_en": city.name_en, "kana": city.kana}


def _city_of(collection: Mapping[str, Any]) -> City:
    """The city a collection was published for (names as recorded, English name included)."""
    names = collection.get("city") or {}
    code = str(names.get("code") or collection.get("city_code") or "")
    return city_for_code(code, name_en=str(names.get("name_en") or ""))


def map_frame(collection: Mapping[str, Any]) -> tuple[tuple[float, float], int]:
    """Centre (lat, lon) and zoom that fit the city's shelters on a phone-to-desktop map."""
    points = [f["geometry"]["coordinates"] for f in collection.get("features", [])]
    if not points:
        return MAP_CENTER, MAP_ZOOM
    lons = [float(p[0]) for p in points]
    lats = [float(p[1]) for p in points]
    span = max(max(lons) - min(lons), (max(lats) - min(lats)) * 1.25, 0.005)
    # At zoom z a 256-px tile spans 360/2^z degrees: fit the span into about 600 px.
    zoom = max(5, min(15, math.floor(math.log2(600 * 360 / (256 * span)))))
    return ((min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2), zoom


def _page_config(collection: Mapping[str, Any]) -> dict[str, Any]:
    center, zoom = map_frame(collection)
    return {
        "langs": LANGS,
        "text": city_texts(_city_of(collection), collection.get("sources") or ["gsi"]),
        "hazards": [h.value for h in HAZARD_ORDER],
        "open_symbols": {s.value: OPEN_STATE_SYMBOL[s] for s in OpenState},
        "crowding_symbols": {c.value: CROWDING_SYMBOL[c] for c in Crowding},
        "center": list(center),
        "zoom": zoom,
        "tiles": TILES,
        "lifted_shown_hours": LIFTED_SHOWN_HOURS,
    }


def asset_files() -> dict[str, bytes]:
    """The page's assets, by path relative to ``PUBLIC_DIR`` (``site/public.js``, …)."""
    root = SITE_SOURCE / ASSET_FOLDER
    return {
        f"{ASSET_FOLDER}/{path.relative_to(root).as_posix()}": path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and not path.name.startswith(".") and path.suffix != ".md"
    }


def _version(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def asset_url(name: str) -> str:
    """``site/<name>?v=<content hash>``: a URL a cache may keep for long (``map.html`` uses it)."""
    data = (SITE_SOURCE / ASSET_FOLDER / name).read_bytes()
    return f"{ASSET_FOLDER}/{name}?v={_version(data)}"


def render_index(
    collection: Mapping[str, Any], assets: Mapping[str, bytes], *, lang: str = DEFAULT_LANG
) -> bytes:
    """``index.html``: the template with its words in ``lang`` and data embedded.

    The words are also in the page as the whole translation table, so the browser switches
    language without another request. Asset URLs carry a content hash, so a static host may
    cache them for long without anyone seeing an old script with new data.
    """
    template = (SITE_SOURCE / "index.html").read_text(encoding="utf-8")
    texts = texts_for(lang, _city_of(collection), collection.get("sources") or ["gsi"])
    updated = datetime.fromisoformat(str(collection["updated_at"]))

    def fill(match: re.Match[str]) -> str:
        kind, arg = match.group(1), match.group(2)
        if kind == "t" and arg in texts:
            return html.escape(texts[arg])
        if kind == "v" and arg in assets:
            return _version(assets[arg])
        if kind == "text_json" and arg is None:
            return _script_json(_page_config(collection))
        if kind == "data_json" and arg is None:
            return _script_json(collection)
        if kind == "drill_notice_hidden" and arg is None:
            return "" if collection.get("drill_notice") else "hidden"
        if kind == "tri" and arg in texts:
            return in_all_languages(arg)
        if kind == "alerts_html" and arg is None:
            return banner_all_languages(collection)
        if kind == "alerts_hidden" and arg is None:
            return "" if banner_all_languages(collection) else "hidden"
        if kind == "hazard_now_html" and arg is None:
            return hazard_now_all_languages(collection)
        if kind == "hazard_now_hidden" and arg is None:
            return "" if collection.get("hazard") else "hidden"
        if kind == "updated_at" and arg is None:
            return html.escape(str(collection["updated_at"]))
        if kind == "updated_text" and arg is None:
            return html.escape(text("updated_at", lang, time=jst_text(updated, lang)))
        if kind == "current" and arg in LANGS:
            # The page's own language link is marked (bold) before the first paint too.
            return ' aria-current="true"' if arg == lang else ""
        if kind == "html_lang" and arg is None:
            return LANGS.get(lang, DEFAULT_LANG)
        if kind == "lang" and arg is None:
            return lang if lang in LANGS else DEFAULT_LANG
        if kind == "open_count_text" and arg is None:
            return html.escape(text("open_count", lang, n=_open_count(collection)))
        raise ValueError(f"unknown placeholder {match.group(0)!r} in the public page template")

    return _PLACEHOLDER.sub(fill, template).encode("utf-8")


def _open_count(collection: Mapping[str, Any]) -> int:
    """Sites open now (開設 or 常設), as the page's summary line counts them."""
    return sum(
        1
        for f in collection.get("features", ())
        if f["properties"]["open_state"] in (OpenState.OPEN.value, OpenState.PERMANENT.value)
    )


# -- writing -----------------------------------------------------------------------------------


@contextmanager
def _publish_lock(public_dir: Path) -> Iterator[None]:
    """One writer at a time per folder, across processes (several gunicorn workers).

    Reading the state happens under the lock too, so a slower writer holding an older state
    can never overwrite a newer snapshot. On platforms without ``fcntl`` (Windows) the app
    runs as one process, and the lock is a no-op.
    """
    public_dir.mkdir(parents=True, exist_ok=True)
    if sys.platform == "win32":  # pragma: no cover
        yield
        return
    import fcntl

    with open(public_dir / ".publish.lock", "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _write_if_changed(path: Path, data: bytes) -> bool:
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    # World-readable before it appears: nginx (another user) must never meet a file it
    # cannot open.
    write_atomic(path, data, mode=0o644)
    return True


def write_snapshot(
    shelters: Sequence[Shelter],
    state: State,
    public_dir: Path,
    *,
    thresholds: CrowdingThresholds,
    city_code: str,
    updated_at: datetime,
    render_map: MapRenderer | None = None,
    drill_notice: bool = False,
    areas: Sequence[Area] = (),
    city: City | None = None,
    walk: tuple[str, bytes] | None = None,
) -> list[str]:
    """Write every public file that changed; returns their names.

    Order matters for a reader arriving mid-publish: assets first, then data, then the page
    that refers to both, so every version of ``index.html`` finds what it links to.
    ``map.html`` is re-rendered only when the public data changed (folium is the slow part).
    ``walk`` is the road-network file (name, bytes) for walking distances, written before the
    data naming it; older ones are removed once a newer one is named.
    """
    collection = public_collection(
        shelters,
        state,
        thresholds=thresholds,
        city_code=city_code,
        updated_at=updated_at,
        drill_notice=drill_notice,
        areas=areas,
        city=city,
        walk_graph=walk[0] if walk else None,
    )
    assets = asset_files()
    written = [name for name, data in assets.items() if _write_if_changed(public_dir / name, data)]
    # The name is the content's hash: a file of that name already holds these bytes, so it is
    # not read back on every publish (a city's network is about a megabyte).
    if walk is not None and not (public_dir / walk[0]).exists():
        write_atomic(public_dir / walk[0], walk[1], mode=0o644)
        written.append(walk[0])
    geojson = geojson_bytes(collection)
    previous = _map_data(public_dir / "shelters.geojson")
    data_changed = _write_if_changed(public_dir / "shelters.geojson", geojson)
    if data_changed:
        written.append("shelters.geojson")
    # The drill notice is not on the shareable map: toggling it must not re-render map.html
    # (folium's output differs on every render, which would defeat caches and ETags).
    map_changed = data_changed and previous != _without_notice(json.loads(geojson))
    records = shelter_records(shelters, state, thresholds=thresholds)
    if _write_if_changed(public_dir / "shelters.csv", csv_bytes(records)):
        written.append("shelters.csv")
    map_path = public_dir / "map.html"
    if render_map is not None and (map_changed or not map_path.exists()):
        texts = texts_for("ja", _city_of(collection), collection.get("sources") or ["gsi"])
        page = render_map(collection, texts).encode("utf-8")
        if _write_if_changed(map_path, page):
            written.append("map.html")
    for lang, name in INDEX_PAGES.items():
        if _write_if_changed(public_dir / name, render_index(collection, assets, lang=lang)):
            written.append(name)
    _remove_old_walk_files(public_dir, keep=walk[0] if walk else None)
    return written


def _remove_old_walk_files(public_dir: Path, *, keep: str | None) -> None:
    """Drop road-network files no page names any more (a page already open keeps its copy)."""
    for path in public_dir.glob("walk-*.json"):
        if path.name != keep:
            path.unlink(missing_ok=True)


def _map_data(path: Path) -> Any:
    """What ``map.html`` shows of a written ``shelters.geojson`` (None if missing or unreadable)."""
    try:
        return _without_notice(json.loads(path.read_bytes()))
    except (OSError, ValueError):
        return None


def _without_notice(collection: Any) -> Any:
    if isinstance(collection, dict):
        collection.pop("drill_notice", None)
    return collection


def publish(
    store: Store,
    settings: Settings,
    *,
    render_map: MapRenderer | None = None,
    ending_drill: str | None = None,
) -> PublishResult:
    """Publish the live incident's current state into ``settings.public_dir``.

    Only the live incident is read: drill incidents are separate incidents, so their events
    can never reach the public files. ``updated_at`` is the time of the last event that can
    change what the public sees (:data:`PUBLIC_EVENT_TYPES`; the incident's opening when there
    is none yet), never the time of publishing and never a camera frame or a staff message:
    the same public state gives the same bytes, so nothing is rewritten and every cached copy
    and ETag stays valid. The drill notice shows while a drill announced to residents is open;
    ``ending_drill`` is one that has just been stopped (its incident closes right after).
    """
    started = time.perf_counter()
    public_dir = settings.public_dir
    with _publish_lock(public_dir):
        incident = store.live_incident(actor="publish")
        state = store.state(incident.incident_id)
        last_public = store.last_event_at(incident.incident_id, types=PUBLIC_EVENT_TYPES)
        shelters = store.shelters()
        updated_at = last_public or incident.created_at
        walk = walk_file_for(store, shelters)
        written = write_snapshot(
            shelters,
            state,
            public_dir,
            thresholds=settings.crowding,
            city_code=store.city().code,
            city=store.city(),
            updated_at=updated_at,
            render_map=render_map,
            areas=store.areas(),
            walk=walk,
            drill_notice=any(
                i.show_on_public and i.closed_at is None and i.incident_id != ending_drill
                for i in store.incidents(kind=IncidentKind.DRILL)
            ),
        )
    result = PublishResult(
        public_dir=public_dir,
        incident_id=incident.incident_id,
        seq=state.seq,
        updated_at=_iso(updated_at) or "",
        shelters=len(shelters),
        written=written,
        seconds=time.perf_counter() - started,
    )
    log.info("published %s", result.summary())
    return result


class Publisher:
    """Re-publishes after every committed append to a live incident (a store listener).

    Register with ``store.add_listener(publisher)``. Appends to drill incidents are ignored.
    Publishing runs in the writer's thread right after its commit, so when an HQ write returns,
    the public files already show it; a failure is logged by the store and never undoes the
    write (the next write, ``disaster-dx publish`` or a restart publishes again).

    Parameters
    ----------
    store, settings
        Where to read the live state and where to write (``settings.public_dir``).
    render_map
        Draws ``map.html``; without one, ``map.html`` is left as it is.
    """

    def __init__(
        self, store: Store, settings: Settings, *, render_map: MapRenderer | None = None
    ) -> None:
        self.store = store
        self.settings = settings
        self.render_map = render_map
        self._kinds: dict[str, IncidentKind] = {}
        self.last: PublishResult | None = None

    def __call__(self, incident_id: str, events: list[Event]) -> None:
        """The listener: publish if a live incident got an event the public can see.

        Other events (camera frames every few seconds, HQ messages, area counts) leave the
        snapshot as it is, so they cost no rebuild.
        """
        kind = self._kind(incident_id)
        if kind is IncidentKind.DRILL:
            actions = {e.payload.get("action") for e in events if e.type == "drill.control"}
            if actions & {"start", "stop"} and self.store.incident(incident_id).show_on_public:
                # The drill notice appears or goes; no drill data ever does.
                self.last = publish(
                    self.store,
                    self.settings,
                    render_map=self.render_map,
                    ending_drill=incident_id if "stop" in actions else None,
                )
            return
        if not any(e.type in PUBLIC_EVENT_TYPES for e in events):
            return
        if kind is not IncidentKind.LIVE:
            return
        self.publish()

    def _kind(self, incident_id: str) -> IncidentKind:
        # An incident's kind never changes, so one lookup per incident is enough.
        kind = self._kinds.get(incident_id)
        if kind is None:
            kind = self._kinds[incident_id] = self.store.incident(incident_id).kind
        return kind

    def publish(self) -> PublishResult:
        """Publish now (app start, the CLI, after a live write)."""
        self.last = publish(self.store, self.settings, render_map=self.render_map)
        return self.last
