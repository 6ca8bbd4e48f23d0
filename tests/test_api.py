"""REST API v1 through the Flask test client: auth, scope, idempotency, problems, conflicts."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import create_engine

from disaster_dx import api_tokens, auth, errors, hq
from disaster_dx.cli import main
from disaster_dx.drills import DRILL_SESSION_KEY
from disaster_dx.events import STATUS_FIELDS, validate_payload
from disaster_dx.model import IncidentKind
from disaster_dx.refusals import refusal_counts
from disaster_dx.web.api_problems import translate
from disaster_dx.web.context import EXTENSION_KEY
from tests.conftest import add_staff_user
from tests.webtools import login_client

SCHOOL = "E3920400009111"  # 稲生ふれあい館
OTHER = "E3920400001111"  # 特別養護老人ホーム 白銀荘
REPORTS = f"/api/v1/shelters/{SCHOOL}/reports"


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def store(app):
    return app.server.extensions[EXTENSION_KEY].store


@pytest.fixture
def staff(store) -> dict[str, str]:
    """Bearer headers of a shelter-staff user (稲生ふれあい館 only), with a display name."""
    auth.add_user(
        store,
        "inabu1",
        "pw-inabu1-0123456789",
        {auth.Role.SHELTER_STAFF},
        actor="test",
        display_name="稲生 一郎",
        shelter_ids=[SCHOOL],
    )
    _record, secret = api_tokens.create_token(store, "inabu1", actor="test")
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def hq_user(store) -> dict[str, str]:
    add_staff_user(store, "hq1", "hq")
    _record, secret = api_tokens.create_token(store, "hq1", actor="test")
    return {"Authorization": f"Bearer {secret}"}


def _post(client, headers, body, *, key="k-1", path=REPORTS, **extra):
    return client.post(path, json=body, headers={**headers, "Idempotency-Key": key, **extra})


def _events(store):
    return store.events(store.live_incident().incident_id)


def test_tokens_see_only_the_shelters_their_user_may_report_for(app, staff, hq_user) -> None:
    client = app.server.test_client()
    mine = client.get("/api/v1/shelters", headers=staff)
    assert mine.status_code == 200
    assert [s["id"] for s in mine.json["shelters"]] == [SCHOOL]
    shelter = mine.json["shelters"][0]
    assert shelter["version"] == 0 and shelter["fields"]["open_state"] == "not_open"
    assert mine.json["incident"]["drill"] is False
    assert len(client.get("/api/v1/shelters", headers=hq_user).json["shelters"]) == 139
    me = client.get("/api/v1/me", headers=staff).json
    assert me["user"] == {
        "id": "inabu1",
        "name": "稲生 一郎",
        "roles": ["shelter_staff"],
        "shelter_ids": [SCHOOL],
    }
    assert me["auth"] == "token" and me["csrf_token"] is None


def test_refusals_are_problems_and_audited(app, store, staff) -> None:
    client = app.server.test_client()
    anonymous = client.get("/api/v1/shelters")
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    assert anonymous.mimetype == "application/problem+json"
    assert anonymous.json["type"] == "urn:disaster-dx:problem:unauthenticated"

    bad = client.get("/api/v1/shelters", headers={"Authorization": "Bearer dxt_forged"})
    assert bad.status_code == 401
    assert refusal_counts(store, action="api.token_refused")[0]["count"] == 1

    other = client.get(f"/api/v1/shelters/{OTHER}", headers=staff)
    assert other.status_code == 403 and "担当避難所ではありません" in other.json["detail"]
    written = _post(
        client,
        staff,
        {"base_version": 0, "fields": {"evacuees": 1}},
        path=f"/api/v1/shelters/{OTHER}/reports",
    )
    assert written.status_code == 403
    assert [e["target"] for e in store.audit_log(action="api.shelter_refused")] == [OTHER, OTHER]

    planner = add_staff_user(store, "plan1", "planner")
    _rec, secret = api_tokens.create_token(store, "plan1", actor="test")
    refused = client.get("/api/v1/shelters", headers={"Authorization": f"Bearer {secret}"})
    assert refused.status_code == 403 and planner
    assert store.audit_log(actor="plan1", action="api.refused")
    # HQ-only area counts are refused to shelter staff.
    area = _post(
        client,
        staff,
        {"base_version": 0, "fields": {"at_home": 3}},
        path="/api/v1/areas/稲生/reports",
    )
    assert area.status_code == 403

    missing = client.get("/api/v1/shelters/NOPE", headers=staff)
    assert missing.status_code == 404 and missing.json["status"] == 404
    assert _events(store) == []


def test_revoked_tokens_and_disabled_users_stop_at_once(app, store, staff) -> None:
    client = app.server.test_client()
    assert client.get("/api/v1/me", headers=staff).status_code == 200
    auth.set_disabled(store, "inabu1", True, actor="test")
    assert client.get("/api/v1/me", headers=staff).status_code == 401
    auth.set_disabled(store, "inabu1", False, actor="test")
    (token,) = api_tokens.list_tokens(store, username="inabu1")
    api_tokens.revoke_token(store, token.token_id, actor="test")
    assert client.get("/api/v1/me", headers=staff).status_code == 401


def test_session_posts_need_the_csrf_token(app, store) -> None:
    add_staff_user(store, "inabu2", "shelter_staff", shelters=(SCHOOL,))
    client = app.server.test_client()
    login_client(client, "inabu2", "pw-inabu2-0123456789")
    me = client.get("/api/v1/me").json
    assert me["auth"] == "session" and me["csrf_token"]
    body = {"base_version": 0, "fields": {"open_state": "open"}}
    refused = _post(client, {}, body)
    assert refused.status_code == 403 and refused.json["type"].endswith(":csrf")
    assert store.audit_log(actor="inabu2", action="api.csrf_refused")
    forged = _post(client, {"X-CSRF-Token": "guess"}, body, key="k-2")
    assert forged.status_code == 403
    assert _events(store) == []
    done = _post(client, {"X-CSRF-Token": me["csrf_token"]}, body, key="k-3")
    assert done.status_code == 201, done.json
    assert done.json["reported_by"] == {"id": "inabu2", "name": "inabu2"}


def test_a_session_in_a_drill_writes_to_the_drill(app, store) -> None:
    add_staff_user(store, "inabu3", "shelter_staff", shelters=(SCHOOL,))
    drill = store.create_incident("訓練", kind=IncidentKind.DRILL, actor="test")
    client = app.server.test_client()
    login_client(client, "inabu3", "pw-inabu3-0123456789")
    with client.session_transaction() as session:
        session[DRILL_SESSION_KEY] = drill.incident_id
    me = client.get("/api/v1/me").json
    assert me["incident"] == {
        "id": drill.incident_id,
        "title": "訓練",
        "drill": True,
        "closed": False,
    }
    sent = _post(
        client,
        {"X-CSRF-Token": me["csrf_token"]},
        {"base_version": 0, "fields": {"evacuees": 4}},
    )
    assert sent.status_code == 201 and sent.json["incident"]["drill"] is True
    assert _events(store) == [] and len(store.events(drill.incident_id)) == 1
    store.close_incident(drill.incident_id, actor="test")
    ended = _post(
        client,
        {"X-CSRF-Token": me["csrf_token"]},
        {"base_version": 1, "fields": {"evacuees": 5}},
        key="k-after-end",
    )
    assert ended.status_code == 409 and ended.json["type"].endswith(":incident-closed")


def test_only_the_changed_fields_are_written_and_replays_never_write_twice(
    app, store, staff
) -> None:
    client = app.server.test_client()
    first = _post(
        client, staff, {"base_version": 0, "fields": {"open_state": "open", "evacuees": 80}}
    )
    assert first.status_code == 201, first.json
    assert first.headers["Idempotency-Replayed"] == "false"
    assert first.json["written"] == {"open_state": "open", "evacuees": 80}
    assert first.json["reported_by"] == {"id": "inabu1", "name": "稲生 一郎"}
    again = _post(
        client, staff, {"base_version": 0, "fields": {"open_state": "open", "evacuees": 80}}
    )
    assert again.status_code == 201 and again.headers["Idempotency-Replayed"] == "true"
    assert again.json == first.json
    (event,) = _events(store)
    assert dict(event.payload) == {"shelter_id": SCHOOL, "open_state": "open", "evacuees": 80}

    reused = _post(client, staff, {"base_version": 0, "fields": {"evacuees": 81}})
    assert reused.status_code == 422 and reused.json["type"].endswith(":idempotency-key-reused")
    missing = client.post(
        REPORTS, json={"base_version": 1, "fields": {"evacuees": 1}}, headers=staff
    )
    assert missing.status_code == 400 and "Idempotency-Key" in missing.json["detail"]
    assert len(_events(store)) == 1

    shown = client.get(f"/api/v1/shelters/{SCHOOL}", headers=staff).json["shelter"]
    assert shown["version"] == 1 and shown["fields"]["evacuees"] == 80
    assert shown["reported_by"] == {"id": "inabu1", "name": "稲生 一郎"}


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        ({"evacuees": -5}, "evacuees", "negative"),
        ({"evacuees": "12"}, "evacuees", "not_integer"),
        ({"public_note": {"text": "x"}}, "public_note", "not_text"),
        ({"pets_accepted": "maybe"}, "pets_accepted", "not_boolean"),
        ({"shelter_id": OTHER}, "shelter_id", "unknown_field"),
        ({"reason": "x"}, "reason", "unknown_field"),
        ({"evacuees": 3, "voluntary_evacuees": 9}, "voluntary_evacuees", "exceeds_evacuees"),
        ({}, "fields", "no_change"),
    ],
)
def test_bad_fields_are_named_and_nothing_is_saved(app, store, staff, fields, field, code) -> None:
    client = app.server.test_client()
    response = _post(client, staff, {"base_version": 0, "fields": fields})
    assert response.status_code == 422, response.json
    assert response.mimetype == "application/problem+json"
    assert {"field": field, "code": code} in [
        {"field": e["field"], "code": e["code"]} for e in response.json["errors"]
    ]
    assert response.json["title"] == "入力に誤りがあります。送信していません"
    assert _events(store) == []


def test_problems_speak_english_when_asked(app, staff) -> None:
    client = app.server.test_client()
    response = _post(
        client,
        staff,
        {"base_version": 0, "fields": {"evacuees": -1}},
        **{"Accept-Language": "en-US,en;q=0.9"},
    )
    assert response.json["errors"][0]["detail"] == "must be 0 or more"
    assert "nothing was saved" in response.json["title"]
    shape = _post(client, staff, ["not", "an", "object"], key="k-2", **{"Accept-Language": "en"})
    assert shape.status_code == 422 and shape.json["errors"][0]["code"] == "not_object"
    text = client.post(
        REPORTS,
        data="{",
        headers={**staff, "Idempotency-Key": "k-3", "Content-Type": "application/json"},
    )
    assert text.status_code == 400
    form = client.post(REPORTS, data={"a": "b"}, headers={**staff, "Idempotency-Key": "k-4"})
    assert form.status_code == 415


def test_every_core_field_message_has_a_code() -> None:
    """A changed validator message must not silently lose its translation."""
    bad_values: dict[str, list[Any]] = {
        "open_state": ["ajar"],
        "evacuees": [-1, 1.5, 10**9],
        "voluntary_evacuees": [True],
        "households": ["3"],
        "capacity": [-2],
        "crowding_override": ["packed"],
        "needs": ["water", ["beer"]],
        "urgent_needs": [["beer"]],
        "other_needs": [3, "x" * 501, "bell\x07"],
        "pets_accepted": ["yes"],
        "barrier_free": [1],
        "public_note": [{"a": 1}],
        "internal_note": ["x" * 2001],
        "staffed": ["yes"],
    }
    assert set(bad_values) == set(STATUS_FIELDS)
    for name, values in bad_values.items():
        for value in values:
            with pytest.raises(errors.PayloadError) as caught:
                validate_payload("shelter.status_reported", {"shelter_id": SCHOOL, name: value})
            for problem in caught.value.problems:
                code, words = translate(problem.message, "ja")
                assert code != "invalid", problem
                assert words.isascii() is False, problem  # Japanese words, not the English


def test_a_stale_write_to_the_same_field_is_a_conflict(app, store, staff, hq_user) -> None:
    client = app.server.test_client()
    assert (
        _post(
            client, hq_user, {"base_version": 0, "fields": {"evacuees": 82}}, key="hq"
        ).status_code
        == 201
    )
    stale = _post(client, staff, {"base_version": 0, "fields": {"evacuees": 80}})
    assert stale.status_code == 409, stale.json
    body = stale.json
    assert body["type"] == "urn:disaster-dx:problem:conflict"
    assert body["base_version"] == 0 and body["current_version"] == 1
    assert body["current"]["fields"]["evacuees"] == 82
    assert body["current"]["reported_by"] == {"id": "hq1", "name": "hq1"}
    if body["fields"]:  # per-field merge in the core: the field both changed is named
        assert body["fields"]["evacuees"]["theirs"] == 82
        assert body["fields"]["evacuees"]["mine"] == 80
    assert len(_events(store)) == 1
    # The same retry gets the same stored conflict, not a second attempt.
    assert _post(client, staff, {"base_version": 0, "fields": {"evacuees": 80}}).json == body


@dataclasses.dataclass(frozen=True)
class _FieldConflict:
    """The per-field merge's FieldConflict (disaster_dx.errors, added by the merge work)."""

    field: str
    mine: Any
    theirs: Any
    original: Any
    by: str
    at: datetime


def test_the_conflict_body_lists_each_field_with_mine_theirs_original_by_at(
    app, store, staff, hq_user, monkeypatch
) -> None:
    """Pins the 409 shape on the per-field merge's contract (ConflictError with ``fields``)."""
    client = app.server.test_client()
    assert (
        _post(
            client, hq_user, {"base_version": 0, "fields": {"evacuees": 90}}, key="hq"
        ).status_code
        == 201
    )
    auth.add_user(
        store, "tanaka", "pw-tanaka-0123456789", {auth.Role.HQ}, actor="t", display_name="田中 花子"
    )
    at = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    conflict_type = getattr(errors, "FieldConflict", _FieldConflict)

    def refuse(*_args: Any, **kwargs: Any) -> Any:
        exc = errors.ConflictError(f"shelter:{SCHOOL}", kwargs["seen_version"], 1, {})
        exc.fields = {  # type: ignore[attr-defined]
            "evacuees": conflict_type(
                field="evacuees", mine=82, theirs=90, original=80, by="tanaka", at=at
            ),
            "needs": conflict_type(
                field="needs",
                mine=frozenset({"water"}),
                theirs=frozenset(),
                original=frozenset({"food"}),
                by="tanaka",
                at=at,
            ),
        }
        raise exc

    monkeypatch.setattr(hq, "report_status", refuse)
    response = _post(
        client, staff, {"base_version": 0, "fields": {"evacuees": 82, "needs": ["water"]}}
    )
    assert response.status_code == 409
    assert response.json["fields"] == {
        "evacuees": {
            "mine": 82,
            "theirs": 90,
            "original": 80,
            "by": {"id": "tanaka", "name": "田中 花子"},
            "at": "2026-12-01T03:00:00+00:00",
        },
        "needs": {
            "mine": ["water"],
            "theirs": [],
            "original": ["food"],
            "by": {"id": "tanaka", "name": "田中 花子"},
            "at": "2026-12-01T03:00:00+00:00",
        },
    }
    assert response.json["current"]["version"] == 1


def test_area_reports_carry_the_version_hq_saw(app, store, hq_user) -> None:
    client = app.server.test_client()
    path = "/api/v1/areas/稲生/reports"
    first = _post(
        client,
        hq_user,
        {"base_version": 0, "fields": {"at_home": 12, "note": "公民館前"}},
        path=path,
    )
    assert first.status_code == 201, first.json
    assert first.json["written"] == {"at_home": 12, "note": "公民館前"}
    stale = _post(
        client, hq_user, {"base_version": 0, "fields": {"at_home": 10}}, path=path, key="k-2"
    )
    assert stale.status_code == 409
    newer = _post(
        client,
        hq_user,
        {"base_version": first.json["version"], "fields": {"in_car": 3}},
        path=path,
        key="k-3",
    )
    assert newer.status_code == 201
    (area,) = client.get("/api/v1/areas", headers=hq_user).json["areas"]
    assert area["fields"] == {"at_home": 12, "in_car": 3, "note": "公民館前"}
    assert area["version"] == newer.json["version"]
    bad = _post(
        client,
        hq_user,
        {"base_version": 0, "fields": {"at_home": -1, "pets": 1}},
        path=path,
        key="k-4",
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json["errors"]} == {"pets"}  # shape first, then values


def test_two_threads_with_one_key_make_one_event(app, store, staff) -> None:
    barrier = threading.Barrier(2)
    answers: list[Any] = []

    def send() -> None:
        client = app.server.test_client()
        barrier.wait()
        response = _post(client, staff, {"base_version": 0, "fields": {"evacuees": 7}}, key="dup")
        answers.append(
            (response.status_code, response.headers["Idempotency-Replayed"], response.json)
        )

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(answers) == 2
    assert sorted(a[1] for a in answers) == ["false", "true"]
    assert answers[0][0] == answers[1][0] == 201 and answers[0][2] == answers[1][2]
    assert len(_events(store)) == 1


def test_a_key_survives_an_app_restart(make_app, app_settings, app, store, staff) -> None:
    body = {"base_version": 0, "fields": {"evacuees": 7}}
    first = _post(app.server.test_client(), staff, body, key="across-restart")
    store.dispose()
    restarted = make_app(app_settings)
    again = _post(restarted.server.test_client(), staff, body, key="across-restart")
    assert again.status_code == 201 and again.headers["Idempotency-Replayed"] == "true"
    assert again.json == first.json
    new_store = restarted.server.extensions[EXTENSION_KEY].store
    assert len(new_store.events(new_store.live_incident().incident_id)) == 1


def test_a_database_that_does_not_answer_is_503_and_the_retry_saves(app, store, staff) -> None:
    client = app.server.test_client()
    body = {"base_version": 0, "fields": {"evacuees": 7}}
    working = store.engine
    broken = (
        "sqlite:////nonexistent-dir/down.sqlite3"
        if store.dialect == "sqlite"
        else "postgresql+psycopg://nobody@127.0.0.1:1/down"
    )
    store.engine = create_engine(broken)
    try:
        down = _post(client, staff, body, key="while-down")
    finally:
        store.engine.dispose()
        store.engine = working
    assert down.status_code == 503
    assert down.mimetype == "application/problem+json"
    assert down.headers["Retry-After"] == "10"
    assert "保存できませんでした" in down.json["title"]
    retried = _post(client, staff, body, key="while-down")
    assert retried.status_code == 201 and retried.headers["Idempotency-Replayed"] == "false"
    assert len(_events(store)) == 1


def test_unknown_api_paths_and_methods_are_problems(app, staff) -> None:
    client = app.server.test_client()
    missing = client.get("/api/v1/nothing-here", headers=staff)
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    wrong = client.delete("/api/v1/shelters", headers=staff)
    assert wrong.status_code == 405 and "GET" in wrong.headers["Allow"]
    document = client.get("/api/v1/openapi.json")
    assert document.status_code == 200 and document.json["openapi"] == "3.1.0"


def test_token_commands_print_the_token_once_and_revoke_it(
    app, app_settings, store, capsys, monkeypatch
) -> None:
    add_staff_user(store, "inabu4", "shelter_staff", shelters=(SCHOOL,))
    monkeypatch.setenv("DATABASE_URL", app_settings.database_url)
    assert main(["token", "create", "inabu4", "--label", "tablet", "--actor", "admin1"]) == 0
    printed = capsys.readouterr()
    secret = printed.out.strip()
    assert secret.startswith("dxt_") and "shown only this once" in printed.err
    client = app.server.test_client()
    assert (
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    )

    assert main(["token", "list"]) == 0
    listing = capsys.readouterr().out
    assert "inabu4\ttablet" in listing and secret not in listing and "active" in listing
    token_id = listing.split("\t", 1)[0]
    assert main(["token", "revoke", token_id, "--actor", "admin1"]) == 0
    assert (
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    )
    assert [e["action"] for e in store.audit_log(actor="admin1")] == [
        "token.revoked",
        "token.created",
    ]
    assert main(["token", "create", "nobody"]) == 1  # unknown user: a refusal, not a traceback


def test_a_saved_report_stores_its_answer_inside_the_append(app, store, staff, monkeypatch) -> None:
    """The answer commits with the event (Store.joined_to_appends), never in a second step."""
    from disaster_dx import idempotency

    def second_step(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("the answer of a write must be stored in the append's transaction")

    monkeypatch.setattr(idempotency, "finish", second_step)
    response = _post(
        app.server.test_client(), staff, {"base_version": 0, "fields": {"evacuees": 3}}
    )
    assert response.status_code == 201, response.json
    assert response.json["merged"] == {}
    assert len(_events(store)) == 1
