"""Unknown paths are 404, ``robots.txt`` is real, and no spelling of a staff path passes the guard.

Measured before: ``/robots.txt``, ``/.env`` and ``/anything`` answered 200 with the Dash page,
and ``//hq`` passed the login guard (the page itself still refused). Paths are sent as the
WSGI server hands them over (``PATH_INFO``), since the test client would read ``//hq`` as a
host name.
"""

from __future__ import annotations

import urllib.robotparser

import pytest

from disaster_dx.web.context import EXTENSION_KEY
from tests.conftest import add_staff_user
from tests.webtools import callback_request, login_client

SCHOOL = "E3920400009111"


@pytest.fixture
def app(make_app):
    return make_app()


def get(client, path: str, **kwargs):
    """GET with ``path`` exactly as a server puts it in the environ."""
    return client.get("/", environ_overrides={"PATH_INFO": path, "RAW_URI": path}, **kwargs)


def assert_not_found_page(answer) -> None:
    assert answer.status_code == 404
    page = answer.get_data(as_text=True)
    assert "ページが見つかりません" in page and "Page not found" in page
    assert "react-entry-point" not in page and "_dash-renderer" not in page  # no Dash shell
    assert answer.headers["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    "path", ["/.env", "/anything", "/.git/config", "/wp-login.php", "/overview/x"]
)
def test_unknown_public_paths_are_a_real_404(app, path: str) -> None:
    assert_not_found_page(get(app.server.test_client(), path))


def test_the_404_page_speaks_the_readers_language_first(app) -> None:
    client = app.server.test_client()
    english = get(client, "/nothing", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert english.get_data(as_text=True).index("Page not found") < english.get_data(
        as_text=True
    ).index("ページが見つかりません")
    assert '<html lang="en">' in english.get_data(as_text=True)
    japanese = get(client, "/nothing")
    assert '<html lang="ja">' in japanese.get_data(as_text=True)


def test_unknown_staff_paths_are_404_for_staff(app) -> None:
    store = app.server.extensions[EXTENSION_KEY].store
    password = add_staff_user(store, "hq1", "hq")
    client = app.server.test_client()
    login_client(client, "hq1", password)
    assert_not_found_page(get(client, "/hq/nonexistent"))
    assert_not_found_page(get(client, "/plans/nothing/here"))
    for page in ("/hq", "/hq/", "/hq/log", "/hq/incidents", f"/hq/shelter/{SCHOOL}", "/overview"):
        answer = get(client, page)
        assert answer.status_code == 200, page
        assert "react-entry-point" in answer.get_data(as_text=True), page
    # Another spelling of a page is sent to the page, once, keeping the query.
    moved = get(client, "/hq/../hq/log", query_string={"lang": "en"})
    assert moved.status_code == 308 and moved.headers["Location"] == "/hq/log?lang=en"


@pytest.mark.parametrize(
    "path",
    [
        "/hq",
        "//hq",
        "///hq/log",
        "/hq/../hq",
        "/./hq",
        "/%68q",
        "/%2568q",
        "/HQ",
        "/Hq/Log",
        "/\\hq",
        "/hq/",
        "//plans",
        "/%2Fdrill",
        "/x/../plans",
    ],
)
def test_every_spelling_of_a_staff_path_is_guarded(app, path: str) -> None:
    answer = get(app.server.test_client(), path)
    assert answer.status_code == 302, path
    assert answer.headers["Location"].startswith("/login?next=/"), answer.headers["Location"]


@pytest.mark.parametrize("pathname", ["//hq", "/hq/../hq", "/HQ", "/%68q/log"])
def test_the_page_router_does_not_render_a_staff_page_for_anonymous_callers(
    app, pathname: str
) -> None:
    client = app.server.test_client()
    client.get("/_dash-layout")  # Dash sets up its page router on its first request
    body = callback_request(
        app,
        "_pages_content",
        {("_pages_location", "pathname"): pathname},
        "_pages_location.pathname",
    )
    answer = client.post("/_dash-update-component", json=body)
    assert answer.status_code == 401, pathname


def test_robots_txt_lets_search_engines_index_the_public_page_only(app) -> None:
    answer = app.server.test_client().get("/robots.txt")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain")
    robots = urllib.robotparser.RobotFileParser()
    robots.parse(answer.get_data(as_text=True).splitlines())
    for public in ("/", "/index.html", "/shelters.csv", "/shelters.geojson", "/map.html"):
        assert robots.can_fetch("Googlebot", public), public
    assert robots.can_fetch("*", "/overview")
    for staff in ("/hq", "/hq/log", "/plans", "/drill", "/m/", "/api/v1/shelters", "/login"):
        assert not robots.can_fetch("Googlebot", staff), staff
    assert not robots.can_fetch("*", "/line/webhook") and not robots.can_fetch("*", "/cameras/a")


def test_dash_own_routes_and_files_still_answer(app) -> None:
    client = app.server.test_client()
    dash_paths = ("/_dash-layout", "/_dash-dependencies", "/_favicon.ico", "/assets/dx.css")
    for path in (*dash_paths, "/favicon.ico"):
        assert client.get(path).status_code == 200, path
    # /overview is staff-only now: an anonymous visitor goes to its public twin, the static page.
    assert client.get("/overview").headers["Location"] == "/"
    assert client.get("/").status_code == 200 and client.get("/shelters.csv").status_code == 200
