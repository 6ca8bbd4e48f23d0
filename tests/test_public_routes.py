"""The app serving the public snapshot: ``/``, ``/public/…``, ETags, caching, database outages."""

from __future__ import annotations

import gzip
import json
import os

import pytest
from sqlalchemy.exc import OperationalError

from disaster_dx.events import NewEvent
from disaster_dx.publish import asset_files
from disaster_dx.store import Store
from disaster_dx.web.context import EXTENSION_KEY, runtime_of
from disaster_dx.web.public_routes import SnapshotFiles
from tests.conftest import add_staff_user
from tests.webtools import login_client

SCHOOL = "E3920400009111"  # 稲生ふれあい館


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.server.test_client()


def _store(app) -> Store:
    return app.server.extensions[EXTENSION_KEY].store


def test_root_is_the_static_public_page_not_dash(app, client, app_settings) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    body = page.get_data(as_text=True)
    assert '<html lang="ja" data-lang="ja">' in body and "南国市 避難所の開設状況" in body
    assert "_dash" not in body and "react" not in body.lower()  # no Dash bundle for citizens
    assert page.get_data() == (app_settings.public_dir / "index.html").read_bytes()
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    # The same bytes under /public/ and from the folder itself.
    assert client.get("/public/").get_data() == page.get_data()
    assert client.get("/public/index.html").get_data() == page.get_data()
    assert client.get("/public").status_code == 308  # relative links need the slash


def test_every_published_file_is_served_with_validators(client, app_settings) -> None:
    names = ["shelters.geojson", "shelters.csv", "map.html", "index.html", *asset_files()]
    for name in names:
        on_disk = (app_settings.public_dir / name).read_bytes()
        for url in (f"/public/{name}", f"/{name}"):
            response = client.get(url)
            assert response.status_code == 200, url
            assert response.get_data() == on_disk, url
            etag = response.headers["ETag"]
            assert etag.startswith('"') and not etag.startswith("W/"), url  # strong
            assert "public" in response.headers["Cache-Control"], url
    geojson = client.get("/public/shelters.geojson")
    assert geojson.headers["Content-Type"] == "application/geo+json"
    assert len(json.loads(geojson.get_data())["features"]) == 139
    assert client.get("/site/public.js?v=abc").headers["Cache-Control"].endswith("immutable")


def test_if_none_match_gets_304_and_gzip_has_its_own_etag(client) -> None:
    first = client.get("/public/shelters.geojson")
    etag = first.headers["ETag"]
    again = client.get("/public/shelters.geojson", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    assert again.headers["ETag"] == etag and "max-age" in again.headers["Cache-Control"]
    assert (
        client.get("/public/shelters.geojson", headers={"If-None-Match": '"x", *'}).status_code
        == 304
    )
    assert (
        client.get("/public/shelters.geojson", headers={"If-None-Match": '"old"'}).status_code
        == 200
    )

    packed = client.get("/public/shelters.geojson", headers={"Accept-Encoding": "gzip, br"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert packed.headers["Vary"] == "Accept-Encoding"  # no "Cookie": CDNs may cache it
    assert gzip.decompress(packed.get_data()) == first.get_data()
    assert packed.headers["ETag"] != etag
    assert len(packed.get_data()) < len(first.get_data()) / 3
    refused = client.get("/public/shelters.geojson", headers={"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers


def test_public_files_carry_no_session_and_answer_head(client) -> None:
    client.get("/login")  # a staff session cookie in the jar must not matter
    page = client.get("/")
    assert "Set-Cookie" not in page.headers and "Cookie" not in page.headers.get("Vary", "")
    head = client.head("/public/shelters.geojson")
    assert head.status_code == 200 and head.get_data() == b""
    assert int(head.headers["Content-Length"]) == len(client.get("/shelters.geojson").get_data())
    assert client.post("/").status_code == 405  # read-only


def test_a_write_is_served_at_once_with_a_new_etag(app, client) -> None:
    before = client.get("/public/shelters.geojson")
    store = _store(app)
    store.append(
        store.live_incident().incident_id,
        [NewEvent("shelter.status_reported", {"shelter_id": SCHOOL, "open_state": "open"})],
        actor="hq1",
    )
    after = client.get(
        "/public/shelters.geojson", headers={"If-None-Match": before.headers["ETag"]}
    )
    assert after.status_code == 200 and after.headers["ETag"] != before.headers["ETag"]
    school = next(f for f in json.loads(after.get_data())["features"] if f["id"] == SCHOOL)
    assert school["properties"]["open_state"] == "open"


def test_requests_never_touch_the_database_and_survive_its_outage(
    app, client, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.get("/")  # warm

    def down(*_args, **_kwargs):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    store = _store(app)
    monkeypatch.setattr(store.engine, "connect", down)
    for url in ("/", "/public/shelters.geojson", "/public/shelters.csv", "/map.html"):
        response = client.get(url)
        assert response.status_code == 200, url
    page = client.get("/").get_data(as_text=True)
    assert "時点の情報" in page  # the last snapshot, with its timestamp


def test_hidden_and_outside_files_are_never_served(client, app_settings) -> None:
    (app_settings.public_dir / ".env").write_text("SECRET_KEY=x", encoding="utf-8")
    (app_settings.public_dir / "notes.txt").write_text("x", encoding="utf-8")
    for url in (
        "/public/.publish.lock",
        "/public/.env",
        "/public/../app.sqlite3",
        "/public/%2e%2e/app.sqlite3",
        "/public/site/../../app.sqlite3",
        "/public/notes.txt",
        "/public/missing.geojson",
        "/site/..%2fshelters.geojson",
    ):
        assert client.get(url).status_code == 404, url


def test_memory_cache_reloads_only_when_the_file_changes(app_settings, tmp_path) -> None:
    folder = tmp_path / "pub"
    folder.mkdir()
    target = folder / "shelters.geojson"
    target.write_bytes(b'{"a":1}')
    files = SnapshotFiles(folder)
    first = files.get("shelters.geojson")
    assert first is not None and files.get("shelters.geojson") is first
    replacement = folder / ".new"
    replacement.write_bytes(b'{"a":2}')
    os.replace(replacement, target)  # the way publish replaces a file
    second = files.get("shelters.geojson")
    assert second is not None and second.body == b'{"a":2}' and second.etag != first.etag
    target.unlink()
    assert files.get("shelters.geojson") is None


def test_app_start_publishes_and_registers_the_listener(app, app_settings) -> None:
    site = runtime_of(app.server)
    assert site.publisher.last is not None and site.publisher.last.shelters == 139
    assert (app_settings.public_dir / "shelters.geojson").is_file()


def test_the_dash_overview_is_for_staff_and_sends_citizens_to_the_public_page(app, client) -> None:
    # Anonymous (a citizen with an old link): the light public map, in their language.
    assert client.get("/overview").headers["Location"] == "/"
    assert client.get("/overview?lang=en").headers["Location"] == "/?lang=en"
    router = {
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [
            {"id": "_pages_content", "property": "children"},
            {"id": "_pages_store", "property": "data"},
        ],
        "inputs": [
            {"id": "_pages_location", "property": "pathname", "value": "/overview"},
            {"id": "_pages_location", "property": "search", "value": ""},
        ],
        "state": [],
        "changedPropIds": ["_pages_location.pathname"],
    }
    assert client.post("/_dash-update-component", json=router).status_code == 401
    # Any signed-in staff member gets the Dash map.
    login_client(client, "viewer", add_staff_user(_store(app), "viewer", "shelter_staff"))
    page = client.get("/overview")
    assert page.status_code == 200
    assert 'id="react-entry-point"' in page.get_data(as_text=True)


def test_root_answers_in_the_language_asked_for(client, app_settings) -> None:
    """The page arrives with its words in place: no re-wording (layout shift) after the paint."""
    folder = app_settings.public_dir
    cases = {
        ("/?lang=en", ""): "index.en.html",
        ("/?lang=easy-ja", "en-US,en"): "index.easy-ja.html",
        ("/?lang=easy", ""): "index.easy-ja.html",
        ("/", "en-GB,en;q=0.9,ja;q=0.5"): "index.en.html",
        ("/", "ja-JP,ja;q=0.9,en;q=0.5"): "index.html",
        ("/?lang=ja", "en-US"): "index.html",
        ("/?lang=xx", ""): "index.html",
        ("/public/?lang=en", ""): "index.en.html",
    }
    for (url, accept), name in cases.items():
        page = client.get(url, headers={"Accept-Language": accept} if accept else {})
        assert page.status_code == 200, url
        assert page.get_data() == (folder / name).read_bytes(), (url, accept)
        packed = client.get(url, headers={"Accept-Encoding": "gzip", "Accept-Language": accept})
        assert "Accept-Language" in packed.headers["Vary"], url
        assert "script-src 'self'" in page.headers["Content-Security-Policy"], url
    english = client.get("/?lang=en").get_data(as_text=True)
    assert '<html lang="en" data-lang="en">' in english
    assert 'data-lang="en" aria-current="true">English</a>' in english
