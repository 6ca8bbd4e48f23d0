"""Staff responses are compressed (brotli or gzip); public files keep their own gzip variant."""

from __future__ import annotations

import gzip
import re

import brotli
import pytest

from disaster_dx.web.context import EXTENSION_KEY
from tests.conftest import add_staff_user
from tests.webtools import login_client


@pytest.fixture
def app(make_app):
    return make_app()


def _bundle_urls(client) -> list[str]:
    page = client.get("/overview").get_data(as_text=True)  # a Dash page (staff only)
    return re.findall(r'src="(/_dash-component-suites/[^"]+)"', page)


def test_dash_bundles_are_compressed_once_and_answer_their_own_etag(app) -> None:
    client = app.server.test_client()
    store = app.server.extensions[EXTENSION_KEY].store
    login_client(client, "viewer", add_staff_user(store, "viewer", "shelter_staff"))
    urls = _bundle_urls(client)
    assert len(urls) > 5
    plain_total = packed_total = 0
    for url in urls:
        plain = client.get(url, headers={"Accept-Encoding": "identity"})
        packed = client.get(url, headers={"Accept-Encoding": "gzip, deflate, br"})
        assert plain.status_code == packed.status_code == 200
        assert "Content-Encoding" not in plain.headers
        if len(plain.data) < 500:
            continue
        assert packed.headers["Content-Encoding"] == "br"
        assert brotli.decompress(packed.data) == plain.data
        assert "Accept-Encoding" in packed.headers["Vary"]
        plain_total += len(plain.data)
        packed_total += len(packed.data)
    assert packed_total < plain_total / 3  # JavaScript shrinks to well under a third
    cache = app.server.extensions["disaster_dx.compression"]
    hits = cache.hits
    again = client.get(urls[-1], headers={"Accept-Encoding": "gzip"})
    assert again.headers["Content-Encoding"] == "gzip"
    gzip.decompress(again.data)
    client.get(urls[-1], headers={"Accept-Encoding": "gzip"})
    assert cache.hits == hits + 1  # the second gzip download came from memory


def test_assets_revalidate_with_the_compressed_etag(app) -> None:
    client = app.server.test_client()
    first = client.get("/assets/dx.css", headers={"Accept-Encoding": "gzip"})
    assert first.headers["Content-Encoding"] == "gzip"
    etag = first.headers["ETag"]
    assert etag.endswith(':gzip"')
    again = client.get("/assets/dx.css", headers={"Accept-Encoding": "gzip", "If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""


def test_callbacks_and_the_api_are_compressed(app) -> None:
    store = app.server.extensions[EXTENSION_KEY].store
    add_staff_user(store, "hq1", "hq")
    client = app.server.test_client()
    login_client(client, "hq1", "pw-hq1-0123456789")
    api = client.get("/api/v1/shelters", headers={"Accept-Encoding": "gzip"})
    assert api.headers["Content-Encoding"] == "gzip"
    assert b"E3920400009111" in gzip.decompress(api.data)
    layout = client.get("/_dash-layout", headers={"Accept-Encoding": "br"})
    assert layout.headers["Content-Encoding"] == "br"
    phone = client.get("/m/", headers={"Accept-Encoding": "br"})
    assert phone.headers["Content-Encoding"] == "br"


def test_public_files_and_the_login_page_are_left_as_they_were(app) -> None:
    client = app.server.test_client()
    data = client.get("/shelters.geojson", headers={"Accept-Encoding": "gzip, br"})
    assert data.headers["Content-Encoding"] == "gzip"
    assert data.headers["ETag"].endswith('-gz"')  # the middleware's own variant, once
    assert gzip.decompress(data.data).startswith(b"{")
    login = client.get("/login?next=/hq", headers={"Accept-Encoding": "gzip, br"})
    assert login.status_code == 200 and "Content-Encoding" not in login.headers
