"""The phone form's files through the Flask test client: budget, policy, caching, login."""

from __future__ import annotations

import json
import re

import pytest

from disaster_dx.web import phone
from disaster_dx.web.context import EXTENSION_KEY
from tests.conftest import add_staff_user
from tests.webtools import login_client

SCHOOL = "E3920400009111"


@pytest.fixture
def app(make_app):
    return make_app()


def test_the_page_and_everything_it_loads_fit_the_budget() -> None:
    assert phone.weight()["gzip"] <= 60 * 1024


def test_the_script_sets_text_only_through_text_content() -> None:
    script = (phone.STATIC / "app.js").read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script


def test_the_shell_needs_a_login_and_carries_the_public_page_policy(app) -> None:
    client = app.server.test_client()
    anonymous = client.get(f"/m/shelter/{SCHOOL}?lang=en")
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"] == f"/login?next=/m/shelter/{SCHOOL}%3Flang%3Den"
    store = app.server.extensions[EXTENSION_KEY].store
    add_staff_user(store, "inabu1", "shelter_staff", shelters=(SCHOOL,))
    login_client(client, "inabu1", "pw-inabu1-0123456789")
    page = client.get(f"/m/shelter/{SCHOOL}")
    assert page.status_code == 200
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp
    html = page.get_data(as_text=True)
    assert "<script>" not in html  # no inline code: the vocabulary is inert JSON
    vocab = json.loads(re.search(r'id="dx-vocab">(.*?)</script>', html).group(1))
    assert ["open", "開設", "Open"] in vocab["open_state"]
    assert vocab["fields"]["households"] == ["世帯数", "Households"]
    assert client.get("/m/").get_data() == page.get_data()  # one shell for every /m/ page


def test_versioned_files_are_immutable_and_the_worker_names_its_version(app) -> None:
    client = app.server.test_client()  # the files carry no data: no login needed
    script = phone._asset("app.js")
    versioned = client.get(f"/m/app.js?v={script.digest}")
    assert versioned.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert versioned.data == script.body
    assert client.get("/m/app.js").headers["Cache-Control"] == "public, max-age=300"
    worker = client.get("/m/sw.js")
    assert worker.headers["Service-Worker-Allowed"] == "/m/"
    assert worker.headers["Cache-Control"] == "no-cache"
    text = worker.get_data(as_text=True)
    assert "__VERSION__" not in text and f"/m/app.js?v={script.digest}" in text
    manifest = client.get("/m/manifest.webmanifest")
    assert manifest.mimetype == "application/manifest+json"
    assert manifest.json["start_url"] == "/m/"
    etag = versioned.headers["ETag"]
    assert (
        client.get(f"/m/app.js?v={script.digest}", headers={"If-None-Match": etag}).status_code
        == 304
    )
