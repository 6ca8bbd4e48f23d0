"""A flood of refused anonymous requests writes rows per minute, not per request.

Measured before: one anonymous client wrote 461 audit rows a second (one per refused webhook
or API request), and SQLite shelter writes slowed fourfold meanwhile. Now each client's
refusals are one row per minute and reason whose count is exact; a signed-in user's refusals
stay one audit row each.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from disaster_dx import api_tokens, auth
from disaster_dx.refusals import create_refusal_tables, record_refusal, refusal_counts
from disaster_dx.store import Store
from disaster_dx.web.context import EXTENSION_KEY

T0 = datetime(2026, 9, 1, 3, 0, 10, tzinfo=UTC)


class SteppingClock:
    """A clock that moves ``step`` on every reading: a flood spread over a few minutes."""

    def __init__(self, start: datetime, step: timedelta) -> None:
        self.now = start
        self.step = step
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            self.now += self.step
            return self.now


@pytest.fixture
def flooded_app(make_app, app_settings):
    """An app whose clock advances 0.5 s per reading (several readings per request)."""
    clock = SteppingClock(T0, timedelta(milliseconds=500))
    store = Store(app_settings.database_url, clock=clock)
    app = make_app(app_settings.with_overrides(line_channel_secret="flood-secret"), store=store)
    return app, store, clock


def test_a_flood_of_anonymous_refusals_writes_rows_per_minute_with_exact_counts(
    flooded_app,
) -> None:
    app, store, clock = flooded_app
    before = len(store.audit_log())
    client = app.server.test_client()
    n = 400
    start = clock.now
    for i in range(n):
        if i % 2:
            answer = client.post("/line/webhook", data=b"{}", headers={"X-Line-Signature": "x"})
        else:
            answer = client.get("/api/v1/shelters", headers={"Authorization": "Bearer dxt_forged"})
        assert answer.status_code == 401
    minutes = int((clock.now - start).total_seconds() // 60) + 2
    rows = refusal_counts(store)
    assert sum(r["count"] for r in rows) == n
    assert sum(r["count"] for r in rows if r["action"] == "line.webhook_refused") == n // 2
    assert sum(r["count"] for r in rows if r["action"] == "api.token_refused") == n // 2
    assert {r["client"] for r in rows} == {"ip:127.0.0.1"}
    # O(minutes): at most one row per minute for each (action, reason), never one per request.
    assert len(rows) <= 2 * minutes < n / 10, (len(rows), minutes)
    assert len(store.audit_log()) == before, "anonymous refusals wrote audit rows"


def test_concurrent_refusals_of_one_client_are_counted_exactly(store: Store) -> None:
    """Many threads at once on one (minute, client) row: the upsert loses no count."""
    create_refusal_tables(store)
    threads, per_thread = 8, 25
    errors: list[BaseException] = []

    def hammer() -> None:
        try:
            for _ in range(per_thread):
                record_refusal(store, "ip:203.0.113.9", "line.webhook_refused", reason="x")
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=hammer) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    rows = refusal_counts(store, action="line.webhook_refused")
    assert sum(r["count"] for r in rows) == threads * per_thread
    assert len(rows) <= 2  # the test may straddle one minute boundary


def test_refusals_of_a_signed_in_user_stay_individual_audit_rows(make_app) -> None:
    app = make_app()
    store = app.server.extensions[EXTENSION_KEY].store
    auth.add_user(
        store,
        "inabu1",
        "pw-inabu1-0123456789",
        {auth.Role.SHELTER_STAFF},
        actor="test",
        shelter_ids=["E3920400009111"],
    )
    _record, secret = api_tokens.create_token(store, "inabu1", actor="test")
    client = app.server.test_client()
    for i in range(3):
        answer = client.post(
            "/api/v1/shelters/E3920400001111/reports",
            json={"base_version": 0, "changes": {"open_state": "open"}},
            headers={"Authorization": f"Bearer {secret}", "Idempotency-Key": f"k-{i}"},
        )
        assert answer.status_code in (403, 404)
    rows = [r for r in store.audit_log(actor="inabu1") if r["action"].endswith("refused")]
    assert len(rows) == 3
    assert refusal_counts(store) == []
