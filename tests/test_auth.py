"""Users and roles: hashed passwords, scoped shelter staff, every change audited."""

from __future__ import annotations

import pytest

from disaster_dx import auth
from disaster_dx.auth import Role
from disaster_dx.errors import DisasterDxError, ValidationError
from disaster_dx.model import Hazard, Shelter, ShelterKind
from disaster_dx.store import Store, users_table

PASSWORD = "correct horse battery"


def _shelter(sid: str) -> Shelter:
    return Shelter(
        sid,
        sid,
        "高知県南国市",
        133.6,
        33.55,
        frozenset({ShelterKind.EMERGENCY}),
        frozenset({Hazard.TSUNAMI}),
        (sid,),
    )


def test_add_and_authenticate(store: Store) -> None:
    auth.add_user(store, "tanaka", PASSWORD, {Role.HQ}, actor="admin", display_name="田中")
    user = auth.authenticate(store, "tanaka", PASSWORD)
    assert user is not None and user.has(Role.HQ) and not user.has(Role.PLANNER)
    assert auth.authenticate(store, "tanaka", "wrong password!") is None
    assert auth.authenticate(store, "nobody", PASSWORD) is None
    with store.engine.connect() as conn:
        stored = conn.execute(users_table.select()).one()
    assert PASSWORD not in stored.password_hash
    entries = store.audit_log(action="user.added")
    assert entries[0]["actor"] == "admin" and entries[0]["target"] == "tanaka"
    assert PASSWORD not in str(entries)


def test_disabled_user_cannot_log_in(store: Store) -> None:
    auth.add_user(store, "suzuki", PASSWORD, {Role.HQ}, actor="admin")
    auth.set_disabled(store, "suzuki", True, actor="admin")
    assert auth.authenticate(store, "suzuki", PASSWORD) is None
    auth.set_disabled(store, "suzuki", False, actor="admin")
    assert auth.authenticate(store, "suzuki", PASSWORD) is not None


def test_shelter_staff_scope(store: Store) -> None:
    store.replace_shelters([_shelter("E1"), _shelter("E2")], source="t", actor="t")
    auth.add_user(
        store, "staff1", PASSWORD, {Role.SHELTER_STAFF}, actor="admin", shelter_ids=["E1"]
    )
    staff = auth.get_user(store, "staff1")
    assert staff.may_update_shelter("E1") and not staff.may_update_shelter("E2")
    auth.assign_shelters(store, "staff1", ["E2"], actor="admin")
    staff = auth.get_user(store, "staff1")
    assert staff.may_update_shelter("E2") and not staff.may_update_shelter("E1")
    auth.add_user(store, "boss", PASSWORD, {Role.ADMIN}, actor="admin")
    assert auth.get_user(store, "boss").may_update_shelter("E2")


def test_bad_users_are_refused_with_every_reason(store: Store) -> None:
    with pytest.raises(ValidationError) as caught:
        auth.add_user(store, "a b", "short", set(), actor="admin", shelter_ids=["nope"])
    assert set(caught.value.by_field()) == {"username", "password", "roles", "shelter_ids"}
    auth.add_user(store, "tanaka", PASSWORD, {Role.HQ}, actor="admin")
    with pytest.raises(DisasterDxError, match="already exists"):
        auth.add_user(store, "tanaka", PASSWORD, {Role.HQ}, actor="admin")
    with pytest.raises(DisasterDxError, match="unknown role"):
        auth.parse_roles(["hq,superuser"])


def test_unknown_user_dummy_hash_costs_what_a_real_hash_costs() -> None:
    """The fixed hash for unknown users has the parameters new passwords get (same time)."""
    from werkzeug.security import check_password_hash, generate_password_hash

    method = auth._DUMMY_HASH.split("$", 1)[0]
    assert method == generate_password_hash("any password here").split("$", 1)[0]
    assert check_password_hash(auth._DUMMY_HASH, "not-a-real-password-0000")
