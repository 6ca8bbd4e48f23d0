"""The /plans pages through the Flask test client: who may see what, and where names never go."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from plotly.utils import PlotlyJSONEncoder

from disaster_dx import auth
from disaster_dx.demo_district import SYNTHETIC_LABEL, load_demo_district
from disaster_dx.events import NewEvent
from disaster_dx.io.residents import residents_from_csv
from disaster_dx.model import Hazard
from disaster_dx.plans import flagged_residents, save_residents
from disaster_dx.web import plans_pages
from disaster_dx.web.context import EXTENSION_KEY
from disaster_dx.web.security import STAFF_PATHS
from layers.plans import flagged_overlay
from tests.common import open_tsunami_shelters, replanned, set_open_state
from tests.conftest import add_staff_user
from tests.webtools import callback_request, login_client

# Made-up people with unmistakable details: finding any of these anywhere public is a leak.
SECRETS = ("秘匿 花子", "秘匿 太郎", "南国市（架空）秘密町1-1", "090-0000-7777", "支援 秘密郎")


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def store(app):
    return app.server.extensions[EXTENSION_KEY].store


@pytest.fixture
def planner(store):
    password = add_staff_user(store, "plan1", "planner")
    return auth.get_user(store, "plan1"), password


@pytest.fixture
def district(store, planner, tmp_path):
    """The demo roads and buildings, plus two residents with the details above."""
    user, _ = planner
    district = load_demo_district(store, user, n_residents=30, grid_size=32)
    first, second = [r for r in district.residents if r.located][:2]
    csv = tmp_path / "residents.csv"
    csv.write_text(
        "id,name,address,lon,lat,mobility,needs,supporter_name,supporter_contact,consent\n"
        f"S-1,{SECRETS[0]},{SECRETS[2]},{first.lon},{first.lat},wheelchair,酸素,"
        f"{SECRETS[4]},{SECRETS[3]},1\n"
        f"S-2,{SECRETS[1]},{SECRETS[2]},{second.lon},{second.lat},elderly,,,,0\n",
        encoding="utf-8-sig",
    )
    people = residents_from_csv(csv).residents
    save_residents(store, [*district.residents, *people], user, source="test.csv")
    return district


def _router(path: str) -> dict:
    return {
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [
            {"id": "_pages_content", "property": "children"},
            {"id": "_pages_store", "property": "data"},
        ],
        "inputs": [
            {"id": "_pages_location", "property": "pathname", "value": path},
            {"id": "_pages_location", "property": "search", "value": ""},
        ],
        "state": [],
        "changedPropIds": ["_pages_location.pathname"],
    }


def _duplicate_output(app, component_id: str) -> str:
    """The ``id.prop@hash`` key part of a callback whose output allows duplicates."""
    key = next(k for k in app.callback_map if f"{component_id}." in k and "@" in k)
    part = next(p for p in key.strip(".").split("...") if p.startswith(f"{component_id}."))
    return part


def _recompute(app, hazard="tsunami", mode="designated", arrival=20):
    return callback_request(
        app,
        plans_pages.TABLE,
        {
            (plans_pages.HAZARD, "value"): hazard,
            (plans_pages.MODE, "value"): mode,
            (plans_pages.ARRIVAL, "value"): arrival,
        },
        f"{plans_pages.MODE}.value",
    )


def test_only_planners_and_admins_get_in(app, store, planner, district) -> None:
    anonymous = app.server.test_client()
    for path in ("/plans", "/plans/sheet/S-1", "/plans/export/plans.csv"):
        response = anonymous.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert anonymous.post("/_dash-update-component", json=_recompute(app)).status_code == 401
    assert anonymous.post("/_dash-update-component", json=_router("/plans")).status_code == 401

    hq_password = add_staff_user(store, "hq1", "hq")
    hq = app.server.test_client()
    login_client(hq, "hq1", hq_password)
    page = hq.post("/_dash-update-component", json=_router("/plans")).get_data(as_text=True)
    assert "権限がありません" in page and SECRETS[0] not in page
    assert hq.post("/_dash-update-component", json=_recompute(app)).status_code == 403
    assert hq.get("/plans/sheet/S-1").status_code == 403
    assert hq.get("/plans/export/sheets.html").status_code == 403
    refused = store.audit_log(actor="hq1", action="access.refused")
    assert {r["target"] for r in refused} >= {
        "recompute",
        "/plans/sheet/S-1",
        "/plans/export/sheets.html",
    }

    admin_password = add_staff_user(store, "admin1", "admin")
    admin = app.server.test_client()
    login_client(admin, "admin1", admin_password)
    assert admin.get("/plans/sheet/S-1").status_code == 200


def test_planner_views_are_audited_by_id(app, store, planner, district) -> None:
    _, password = planner
    client = app.server.test_client()
    login_client(client, "plan1", password)
    page = client.post("/_dash-update-component", json=_router("/plans")).get_data(as_text=True)
    assert SECRETS[0] in page and SYNTHETIC_LABEL in page  # planners see names; demo is labelled
    response = client.post("/_dash-update-component", json=_recompute(app, arrival=25))
    assert response.status_code == 200
    rows = response.json["response"][plans_pages.TABLE]["rowData"]
    assert {r["resident_id"] for r in rows} >= {"S-1", "S-2"}
    assert all(r["status"][0] in "○△✕◇？" for r in rows)  # a symbol with every status word

    sheet = client.get("/plans/sheet/S-1?hazard=tsunami&mode=designated")
    text = sheet.get_data(as_text=True)
    assert sheet.status_code == 200 and sheet.headers["Cache-Control"] == "no-store"
    assert SECRETS[0] in text and SECRETS[3] in text and "サンプル・架空データ" in text
    assert "<svg" in text and "srcdoc=" in text  # offline SVG map under the folium map
    assert SECRETS[0] not in text.split("srcdoc=")[1].split('"')[1]  # no name in the map

    select = callback_request(
        app,
        _duplicate_output(app, plans_pages.DETAIL),
        {
            (plans_pages.TABLE, "selectedRows"): [{"id": "S-2"}],
            (plans_pages.HAZARD, "value"): "tsunami",
            (plans_pages.MODE, "value"): "designated",
        },
        f"{plans_pages.TABLE}.selectedRows",
    )
    detail = client.post("/_dash-update-component", json=select)
    assert SECRETS[1] in detail.get_data(as_text=True)

    reads = store.audit_log(actor="plan1", action="residents.read")
    purposes = {r["detail"]["purpose"] for r in reads}
    assert {"plans.page", "plans.sheet", "plans.detail"} <= purposes
    assert any(r["target"] == "S-1" for r in reads) and any(r["target"] == "S-2" for r in reads)
    assert store.audit_log(action="plan.sheet")[0]["target"] == "S-1"
    everything = json.dumps(store.audit_log(limit=5000), ensure_ascii=False, default=str)
    for secret in SECRETS:
        assert secret not in everything


def test_names_never_reach_public_routes_logs_or_error_pages(
    app, store, planner, district, app_settings, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    _, password = planner
    client = app.server.test_client()
    login_client(client, "plan1", password)
    # Planner work, live re-planning and HQ's flagged list all happen...
    client.post("/_dash-update-component", json=_recompute(app))
    client.get("/plans/sheet/S-1")
    client.get("/plans/export/sheets.html")
    client.get("/plans/export/plans.csv")
    incident = store.live_incident()
    tsunami = [s.shelter_id for s in store.shelters() if s.suits(Hazard.TSUNAMI)]
    store.append(
        incident.incident_id,
        [NewEvent("shelter.status_reported", {"shelter_id": s, "open_state": "open"})
         for s in tsunami[:20]],
        actor="hq1",
    )  # fmt: skip
    replanned(app)
    assert "live plans (tsunami)" in caplog.text
    # ...error pages carry nothing personal...
    missing = client.get("/plans/sheet/NOPE")
    assert missing.status_code == 404
    bad = client.post("/_dash-update-component", json={"output": "plans-table.data"})
    pages = [missing.get_data(as_text=True), bad.get_data(as_text=True)]

    # ...and nothing public carries a name: every public route, the Dash shell, the snapshot.
    anonymous = app.server.test_client()
    for rule in app.server.url_map.iter_rules():
        path = rule.rule
        if "GET" not in rule.methods or rule.arguments - set(rule.defaults or {}):
            continue
        if any(path == p or path.startswith(p + "/") for p in STAFF_PATHS) or path in ("/logout",):
            continue
        pages.append(anonymous.get(path).get_data().decode("utf-8", errors="replace"))
    pages.append(
        anonymous.post("/_dash-update-component", json=_router("/overview")).get_data(as_text=True)
    )
    public_dir = Path(app_settings.public_dir)
    for file in public_dir.rglob("*") if public_dir.exists() else []:
        if file.is_file():
            pages.append(file.read_bytes().decode("utf-8", errors="replace"))
    assert len(pages) > 5
    for secret in SECRETS:
        assert all(secret not in page for page in pages), secret
        assert secret not in caplog.text, secret


def test_batch_exports_filter_and_label(app, store, planner, district) -> None:
    _, password = planner
    client = app.server.test_client()
    login_client(client, "plan1", password)
    everyone = client.get("/plans/export/sheets.html?hazard=tsunami&mode=designated")
    html = everyone.get_data(as_text=True)
    count = html.count('<section class="sheet">')
    assert count == len(district.residents) + 2
    consented = client.get("/plans/export/sheets.html?consented=1").get_data(as_text=True)
    assert SECRETS[0] in consented and SECRETS[1] not in consented  # S-2 did not consent
    late = client.get("/plans/export/sheets.html?status=late").get_data(as_text=True)
    assert 0 < late.count('<section class="sheet">') < count
    assert "避難が間に合わない" in late
    table = client.get("/plans/export/plans.csv")
    assert table.data.startswith(b"\xef\xbb\xbf")
    text = table.data.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("管理番号,氏名,移動,判定")
    assert SYNTHETIC_LABEL in text and SECRETS[0] in text
    exports = store.audit_log(action="plans.export")
    assert len(exports) == 4 and all(SECRETS[0] not in json.dumps(e["detail"]) for e in exports)


def test_buildings_only_at_legible_zoom(app, planner, district) -> None:
    _, password = planner
    client = app.server.test_client()
    login_client(client, "plan1", password)
    lon, lat = district.buildings.lon.mean(), district.buildings.lat.mean()
    bounds = [[lat - 0.002, lon - 0.003], [lat + 0.002, lon + 0.003]]

    def ask(zoom: int) -> dict:
        body = callback_request(
            app,
            f"{plans_pages.BUILDINGS}-not_safe",
            {
                (plans_pages.MAP, "zoom"): zoom,
                (plans_pages.MAP, "bounds"): bounds,
                (plans_pages.HAZARD, "value"): "tsunami",
            },
            f"{plans_pages.MAP}.zoom",
        )
        return client.post("/_dash-update-component", json=body).json["response"]

    far = ask(13)
    assert all(far[f"{plans_pages.BUILDINGS}-{k}"]["data"]["features"] == [] for k in ("safe",))
    assert "拡大" in far[plans_pages.ZOOM_NOTE]["children"]
    near = ask(17)
    shown = sum(
        len(near[f"{plans_pages.BUILDINGS}-{k}"]["data"]["features"])
        for k in ("not_safe", "unknown", "safe", "outside")
    )
    assert 0 < shown < len(district.buildings)
    label = near[f"{plans_pages.BUILDINGS}-not_safe"]["data"]["features"][0]["properties"]
    assert label["label"].startswith("✕ 上階避難不可")


def test_hq_flagged_overlay_has_ids_and_positions_only(app, store, planner, district) -> None:
    open_tsunami_shelters(store, actor="hq1")
    replanned(app)
    add_staff_user(store, "hq1", "hq")
    flagged = flagged_residents(store, auth.get_user(store, "hq1"))
    assert flagged
    overlay = flagged_overlay(flagged)
    rendered = json.dumps(overlay, cls=PlotlyJSONEncoder, ensure_ascii=False)
    assert "避難が間に合わない要支援者（✕）" in rendered
    assert flagged[0].resident_id in rendered
    for person in district.residents:
        assert person.name not in rendered and person.address not in rendered
    for secret in SECRETS:
        assert secret not in rendered


def test_hq_map_shows_flagged_residents_and_follows_live_replanning(
    app, store, planner, district
) -> None:
    from disaster_dx.plans import results_version, stored_fingerprints
    from disaster_dx.web import ids

    incident = store.live_incident()
    open_tsunami_shelters(store, actor="hq1")
    replanned(app)
    hq_password = add_staff_user(store, "hq1", "hq")
    client = app.server.test_client()
    login_client(client, "hq1", hq_password)
    hq_user = auth.get_user(store, "hq1")
    before = {f.resident_id for f in flagged_residents(store, hq_user)}

    # The page carries the overlay (ids, no names) and a tile with the count.
    page = client.post("/_dash-update-component", json=_router("/hq")).get_data(as_text=True)
    assert ids.HQ_FLAGGED in page and "避難が間に合わない要支援者" in page
    assert all(rid in page for rid in before)
    reads = len(store.audit_log(action="plans.flagged_read"))
    seen = {"version": results_version(store), "count": len(before)}

    def poll(seen_plans: dict) -> dict | None:
        body = callback_request(
            app,
            ids.HQ_BOARD,
            {(ids.HQ_SEQ, "data"): store.last_seq(incident.incident_id),
             (ids.HQ_PLANS, "data"): seen_plans},
            f"{ids.HQ_INTERVAL}.n_intervals",
        )  # fmt: skip
        reply = client.post("/_dash-update-component", json=body)
        assert reply.status_code in (200, 204)
        return reply.json if reply.status_code == 200 and reply.json["response"] else None

    # Nothing moved: the poll changes nothing and reads no resident data (no audit entry).
    assert poll(seen) is None
    assert len(store.audit_log(action="plans.flagged_read")) == reads

    # Closing the shelters in use re-plans live; the next poll brings the new markers and count.
    used = {d for _, d, _ in stored_fingerprints(store, Hazard.TSUNAMI).values() if d}
    set_open_state(store, sorted(used), "closed", actor="hq1")
    replanned(app)
    after = {f.resident_id for f in flagged_residents(store, hq_user)}
    assert after != before
    update = poll(seen)
    assert update is not None
    response = json.dumps(update["response"], ensure_ascii=False)
    assert all(rid in response for rid in after)
    assert update["response"][ids.HQ_PLANS]["data"]["count"] == len(after)
    tiles = json.dumps(update["response"][ids.HQ_TILES]["children"], ensure_ascii=False)
    assert "避難が間に合わない要支援者" in tiles and f"{len(after):,}" in tiles
    for person in district.residents:
        assert person.name not in response and person.name not in page
    for secret in SECRETS:
        assert secret not in response and secret not in page


def test_destinations_far_from_the_roads_are_named_on_the_page(
    app, store, planner, district
) -> None:
    # The city's designated shelters outside the small demo district are far from its roads:
    # the page says so in Japanese and English and names them (nothing dropped silently).
    _, password = planner
    client = app.server.test_client()
    login_client(client, "plan1", password)
    page = client.post("/_dash-update-component", json=_router("/plans"))  # designated by default
    text = page.get_data(as_text=True)
    assert "plans-far-destinations" in text
    assert "経路を計算できない避難先" in text and "cannot be routed to" in text
    assert "⚠" in text  # a symbol, not colour alone
    response = client.post("/_dash-update-component", json=_recompute(app))
    summary = json.dumps(response.json["response"][plans_pages.SUMMARY], ensure_ascii=False)
    assert "plans-far-destinations" in summary and "Destinations not routed" in summary

    select = callback_request(
        app,
        _duplicate_output(app, plans_pages.DETAIL),
        {
            (plans_pages.TABLE, "selectedRows"): [{"id": "S-1"}],
            (plans_pages.HAZARD, "value"): "tsunami",
            (plans_pages.MODE, "value"): "designated",
        },
        f"{plans_pages.TABLE}.selectedRows",
    )
    detail = client.post("/_dash-update-component", json=select).get_data(as_text=True)
    assert "次の候補（別の場所）" in detail
