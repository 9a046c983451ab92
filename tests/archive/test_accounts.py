"""Staff accounts on the real catalog, SQLite and PostgreSQL (the `backend` fixture)."""
from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from archive import accounts
from archive.catalog import Catalog

PASSWORD = "correct horse battery staple"


@pytest.fixture
def catalog(backend, tmp_path):
    c = Catalog(backend.get("WEBINAR_ARCHIVE_DATABASE_URL", f"sqlite:///{tmp_path / 'catalog.sqlite3'}"))
    c.migrate()
    yield c
    c.dispose()


def _add(catalog, email, role="editor", password=PASSWORD, **kw) -> int:
    with catalog.transaction() as s:
        return accounts.add_user(s, email, password, role, **kw).id


def _auth(catalog, email, password=PASSWORD):
    with catalog.transaction() as s:
        return accounts.authenticate(s, email, password)


def test_addresses_are_unique_whatever_their_case(catalog):
    user_id = _add(catalog, "  Ana.Muller@Example.ORG ", "admin")
    with catalog.session() as s:
        user = accounts.get(s, user_id)
        assert (user.email, user.role, user.active, user.last_login_at) == ("ana.muller@example.org", "admin", True, None)
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    with pytest.raises(accounts.AccountError, match="already an account"):
        _add(catalog, "ANA.MULLER@example.org")
    assert _auth(catalog, "ana.MULLER@EXAMPLE.org").id == user_id


def test_wrong_password_unknown_address_and_deactivated_accounts_are_refused(catalog):
    _add(catalog, "admin@example.org", "admin")
    _add(catalog, "ed@example.org")
    assert _auth(catalog, "ed@example.org", PASSWORD + "x") is None
    assert _auth(catalog, "nobody@example.org") is None
    assert _auth(catalog, "ed@example.org", "") is None
    user = _auth(catalog, "ed@example.org")
    assert user is not None and user.last_login_at is not None
    with catalog.transaction() as s:
        accounts.deactivate(s, accounts.find(s, "ed@example.org"))
    assert _auth(catalog, "ed@example.org") is None
    with catalog.transaction() as s:
        accounts.activate(s, accounts.find(s, "ed@example.org"))
    assert _auth(catalog, "ed@example.org") is not None


def test_a_hash_with_older_parameters_is_replaced_at_login(catalog):
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
    user_id = _add(catalog, "ed@example.org", hasher=weak)
    with catalog.session() as s:
        old = accounts.get(s, user_id).password_hash
    assert "m=8192" in old
    assert _auth(catalog, "ed@example.org") is not None
    with catalog.session() as s:
        new = accounts.get(s, user_id).password_hash
    assert new != old and not accounts.HASHER.check_needs_rehash(new)
    assert _auth(catalog, "ed@example.org") is not None  # the new hash verifies
    with catalog.session() as s:
        assert accounts.get(s, user_id).password_hash == new  # and is kept


@pytest.mark.parametrize("email, password, role, message", [
    ("not-an-address", PASSWORD, "editor", "not an e-mail address"),
    ("a b@example.org", PASSWORD, "editor", "not an e-mail address"),
    ("ed@example.org", "short", "editor", "at least 12 characters"),
    ("ed@example.org", PASSWORD, "owner", "no such role"),
])
def test_bad_accounts_are_refused(catalog, email, password, role, message):
    with pytest.raises(accounts.AccountError, match=message):
        _add(catalog, email, role, password)
    with catalog.session() as s:
        assert accounts.list_users(s) == []


def test_the_last_active_admin_stays_one(catalog):
    _add(catalog, "admin@example.org", "admin")
    _add(catalog, "ed@example.org")
    with catalog.transaction() as s:
        admin = accounts.find(s, "admin@example.org")
        with pytest.raises(accounts.AccountError, match="last active admin"):
            accounts.set_role(s, admin, "editor")
        with pytest.raises(accounts.AccountError, match="last active admin"):
            accounts.deactivate(s, admin)
        accounts.set_role(s, accounts.find(s, "ed@example.org"), "admin")
    with catalog.transaction() as s:  # with a second admin, the first may step down
        accounts.set_role(s, accounts.find(s, "admin@example.org"), "editor")
    with catalog.session() as s:
        assert [(u.email, u.role) for u in accounts.list_users(s)] == [
            ("admin@example.org", "editor"), ("ed@example.org", "admin")]


def _session_id(catalog, email: str) -> str:
    with catalog.session() as s:
        return accounts.find(s, email).get_id()


def _opens(catalog, session_id: str) -> bool:
    with catalog.session() as s:
        return accounts.from_session_id(s, session_id) is not None


def test_a_new_password_a_new_role_and_deactivation_end_the_users_sessions(catalog):
    _add(catalog, "admin@example.org", "admin")
    _add(catalog, "ed@example.org")
    ended = []
    for change in (lambda s, u: accounts.set_password(s, u, PASSWORD + " again"),
                   lambda s, u: accounts.set_role(s, u, "admin"),
                   accounts.end_sessions,  # signing out
                   accounts.deactivate):
        before, admin = _session_id(catalog, "ed@example.org"), _session_id(catalog, "admin@example.org")
        assert _opens(catalog, before)
        with catalog.transaction() as s:
            change(s, accounts.find(s, "ed@example.org"))
        ended.append(not _opens(catalog, before))
        assert _opens(catalog, admin)  # another user's sessions go on
    assert ended == [True, True, True, True]
    with catalog.transaction() as s:
        accounts.activate(s, accounts.find(s, "ed@example.org"))
    user_id = _session_id(catalog, "ed@example.org").partition(":")[0]
    assert _opens(catalog, _session_id(catalog, "ed@example.org"))
    for forged in (user_id, f"{user_id}:", f"{user_id}:guess", f"{user_id}:ü", "", "x:y"):
        assert not _opens(catalog, forged)  # a bare id (a session from before 0010) included


def test_the_session_token_migration_gives_existing_users_a_token_each(backend, tmp_path):
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy import inspect, text

    from archive.catalog import MIGRATIONS

    c = Catalog(backend.get("WEBINAR_ARCHIVE_DATABASE_URL", f"sqlite:///{tmp_path / 'catalog.sqlite3'}"))
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    before = ScriptDirectory.from_config(cfg).get_revision("0010").down_revision
    try:
        with c.engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, before)
            for email in ("a@example.org", "b@example.org"):
                connection.execute(text("INSERT INTO users (email, password_hash, role, active, created_at) "
                                        "VALUES (:e, 'x', 'editor', true, CURRENT_TIMESTAMP)"), {"e": email})
        c.migrate()
        with c.session() as s:
            tokens = [u.session_token for u in accounts.list_users(s)]
        assert len(tokens) == 2 and len(set(tokens)) == 2 and all(len(t) >= 40 for t in tokens)
        with c.engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.downgrade(cfg, before)
            assert "session_token" not in {col["name"] for col in inspect(connection).get_columns("users")}
    finally:
        c.dispose()
