"""Console accounts: passwords are kept as salted scrypt hashes only; names, roles and
languages are checked; a login is audited under the person's full name; five wrong
passwords in a row lock the account for a while; a disabled account cannot log in;
no password ever reaches the audit log."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.audit import list_entries
from monitor.errors import MonitorError, NotFoundError
from monitor.models import AuditEntry, User
from monitor.storage import Database
from monitor.timeutil import utc_now
from monitor.users import (
    LOCKOUT,
    MAX_FAILED_LOGINS,
    MIN_PASSWORD_LENGTH,
    actor_name,
    authenticate,
    create_user,
    disable_user,
    get_user,
    hash_password,
    list_users,
    set_password,
    verify_password,
)

PASSWORD = "correct horse battery staple"
OTHER = "tr0ub4dor&3-is-not-better"


def _alice(session: Session, password: str = PASSWORD) -> User:
    return create_user(
        session,
        "alice",
        full_name="Alice Martin",
        role="quality",
        password=password,
        actor="admin",
    )


def _audit_text(session: Session) -> str:
    """Every column of every audit entry, as one string to search."""
    entries = session.scalars(select(AuditEntry)).all()
    return json.dumps(
        [{c.name: getattr(e, c.name) for c in AuditEntry.__table__.columns} for e in entries],
        default=str,
        ensure_ascii=False,
    )


# --- hashing (no database) -------------------------------------------------------------


def test_a_hash_is_scrypt_with_its_parameters_a_16_byte_salt_and_a_32_byte_key() -> None:
    stored = hash_password(PASSWORD)
    scheme, n, r, p, salt, key = stored.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
    assert len(base64.b64decode(salt)) == 16 and len(base64.b64decode(key)) == 32
    assert PASSWORD not in stored


def test_the_stored_key_is_the_rfc_7914_scrypt_of_the_password_and_the_stored_salt() -> None:
    stored = hash_password(PASSWORD)
    _, n, r, p, salt, key = stored.split("$")
    independent = hashlib.scrypt(
        PASSWORD.encode("utf-8"),
        salt=base64.b64decode(salt),
        n=int(n),
        r=int(r),
        p=int(p),
        dklen=32,
    )
    assert independent == base64.b64decode(key)


def test_two_hashes_of_one_password_differ_and_both_verify() -> None:
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first != second
    assert first.split("$")[4] != second.split("$")[4]  # the salts
    assert verify_password(PASSWORD, first) and verify_password(PASSWORD, second)


def test_only_the_right_password_verifies() -> None:
    stored = hash_password(PASSWORD)
    assert verify_password(PASSWORD, stored)
    assert not verify_password(OTHER, stored)
    assert not verify_password(PASSWORD + " ", stored)
    assert not verify_password(PASSWORD.upper(), stored)
    assert not verify_password("", stored)


def test_a_non_ascii_password_verifies() -> None:
    password = "mot de passe très sûr ✓"
    assert verify_password(password, hash_password(password))
    assert not verify_password("mot de passe tres sur ✓", hash_password(password))


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "garbage",
        "scrypt$16384$8$1$only-five-parts",
        "bcrypt$16384$8$1$AAAA$AAAA",
        "scrypt$x$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAA",
        "scrypt$16384$8$1$%%%not-base64%%%$AAAA",
        "scrypt$3$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAA",  # n not a power of 2
        "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAA$extra",
    ],
)
def test_a_malformed_stored_hash_verifies_nothing_and_raises_nothing(stored: str) -> None:
    assert verify_password(PASSWORD, stored) is False


def test_the_hash_of_another_password_with_the_same_scheme_does_not_verify() -> None:
    scheme, n, r, p, salt, _key = hash_password(PASSWORD).split("$")
    _, _, _, _, _, other_key = hash_password(OTHER).split("$")
    assert not verify_password(PASSWORD, "$".join([scheme, n, r, p, salt, other_key]))


# --- accounts --------------------------------------------------------------------------


def test_creating_stores_only_the_hash_and_audits_without_the_password(
    database: Database,
) -> None:
    with database.session.begin() as session:
        user = create_user(
            session,
            "  Alice.Martin ",
            full_name=" Alice Martin ",
            role="admin",
            password=PASSWORD,
            actor="root-admin",
            lang="en",
        )
        assert user.username == "alice.martin"
    with database.session() as session:
        stored = session.scalars(select(User)).one()
        row = {c.name: getattr(stored, c.name) for c in User.__table__.columns}
        assert (stored.username, stored.full_name, stored.role, stored.lang) == (
            "alice.martin",
            "Alice Martin",
            "admin",
            "en",
        )
        assert stored.created_by == "root-admin" and stored.created_at is not None
        assert stored.last_login_at is None and stored.disabled_at is None
        assert stored.failed_logins == 0 and stored.locked_until is None
        assert verify_password(PASSWORD, stored.password_hash)
        assert PASSWORD not in json.dumps(row, default=str)
        entry = list_entries(session, entity="user")[0]
        assert (entry.action, entry.actor, entry.entity_id) == (
            "user.create",
            "root-admin",
            "alice.martin",
        )
        assert entry.details == {"role": "admin", "full_name": "Alice Martin"}
        assert PASSWORD not in _audit_text(session)


def test_the_language_defaults_to_french(database: Database) -> None:
    with database.session.begin() as session:
        assert _alice(session).lang == "fr"


@pytest.mark.parametrize("length", [0, 1, MIN_PASSWORD_LENGTH - 1])
def test_a_short_password_is_refused_with_the_minimum_length(
    database: Database, length: int
) -> None:
    too_short = f"at least {MIN_PASSWORD_LENGTH} characters"
    with database.session.begin() as session, pytest.raises(MonitorError, match=too_short):
        _alice(session, password="x" * length)
    with database.session() as session:
        assert list_users(session) == []
        assert list_entries(session) == []


def test_a_password_of_exactly_the_minimum_length_is_accepted(database: Database) -> None:
    with database.session.begin() as session:
        _alice(session, password="p" * MIN_PASSWORD_LENGTH)
    with database.session.begin() as session:
        assert authenticate(session, "alice", "p" * MIN_PASSWORD_LENGTH).user is not None


def test_a_password_over_1024_characters_is_refused(database: Database) -> None:
    with database.session.begin() as session, pytest.raises(MonitorError, match="at most 1024"):
        _alice(session, password="x" * 1025)


@pytest.mark.parametrize(
    "username", ["", "   ", "alice martin", "-alice", ".alice", "émilie", "a/b", "a" * 65]
)
def test_a_bad_username_is_refused(database: Database, username: str) -> None:
    with database.session.begin() as session, pytest.raises(MonitorError, match="user name"):
        create_user(
            session,
            username,
            full_name="Someone",
            role="viewer",
            password=PASSWORD,
            actor="admin",
        )


def test_usernames_are_unique_whatever_their_case(database: Database) -> None:
    with database.session.begin() as session:
        _alice(session)
    with database.session.begin() as session, pytest.raises(MonitorError, match="already"):
        create_user(
            session,
            "ALICE",
            full_name="Another Alice",
            role="viewer",
            password=OTHER,
            actor="admin",
        )
    with database.session() as session:
        assert [u.full_name for u in list_users(session)] == ["Alice Martin"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("role", "root", "unknown role 'root': use one of viewer, quality, admin"),
        ("lang", "de", "unknown language 'de': use one of fr, en"),
        ("full_name", "  ", "full name"),
        ("full_name", "x" * 81, "full name"),
        ("actor", " ", "--user"),
    ],
)
def test_unknown_roles_and_languages_and_missing_names_are_refused(
    database: Database, field: str, value: str, message: str
) -> None:
    arguments = {
        "full_name": "Bob Durand",
        "role": "viewer",
        "password": PASSWORD,
        "actor": "admin",
        "lang": "fr",
        field: value,
    }
    with database.session.begin() as session:
        with pytest.raises(MonitorError) as raised:
            create_user(session, "bob", **arguments)
        assert message in str(raised.value)


def test_accounts_are_listed_in_creation_order_and_found_by_name(database: Database) -> None:
    with database.session.begin() as session:
        for name in ("zoe", "bob", "alice"):
            create_user(
                session,
                name,
                full_name=name.title(),
                role="viewer",
                password=PASSWORD,
                actor="admin",
            )
    with database.session() as session:
        assert [u.username for u in list_users(session)] == ["zoe", "bob", "alice"]
        assert get_user(session, " BOB ").full_name == "Bob"
        with pytest.raises(NotFoundError, match="users list"):
            get_user(session, "carol")


# --- logging in ------------------------------------------------------------------------


def test_a_login_with_the_right_password_is_recorded_under_the_full_name(
    database: Database,
) -> None:
    with database.session.begin() as session:
        _alice(session)
    moment = utc_now()
    with database.session.begin() as session:
        result = authenticate(session, " Alice ", PASSWORD, now=moment)
        assert result.user is not None and result.reason is None
        assert result.user.username == "alice"
        assert actor_name(result.user) == "Alice Martin (alice)"
    with database.session() as session:
        assert get_user(session, "alice").last_login_at == moment
        entry = list_entries(session, entity="user")[0]
        assert (entry.action, entry.actor, entry.entity_id) == (
            "user.login",
            "Alice Martin (alice)",
            "alice",
        )
        assert PASSWORD not in _audit_text(session)


def test_a_wrong_password_is_refused_and_audited_with_its_reason_only(
    database: Database,
) -> None:
    with database.session.begin() as session:
        _alice(session)
    with database.session.begin() as session:
        result = authenticate(session, "alice", OTHER)
        assert (result.user, result.reason) == (None, "password")
    with database.session() as session:
        user = get_user(session, "alice")
        assert user.last_login_at is None and user.failed_logins == 1
        entry = list_entries(session, entity="user")[0]
        assert (entry.action, entry.actor, entry.entity_id) == (
            "user.login_failed",
            "alice",
            "alice",
        )
        assert entry.details == {"reason": "password"}
        text = _audit_text(session)
        assert OTHER not in text and PASSWORD not in text


def test_an_unknown_user_is_refused_and_audited_without_the_name_typed(
    database: Database,
) -> None:
    """The name typed is not kept: it may be a password typed in the wrong field."""
    with database.session.begin() as session:
        result = authenticate(session, "mallory", PASSWORD)
        assert (result.user, result.reason) == (None, "unknown")
    with database.session() as session:
        entry = list_entries(session, entity="user")[0]
        assert (entry.action, entry.actor, entry.entity_id, entry.details) == (
            "user.login_failed",
            "?",
            "?",
            {"reason": "unknown"},
        )
        assert "mallory" not in _audit_text(session)
        assert PASSWORD not in _audit_text(session)


def _fail(database: Database, times: int, at: datetime) -> None:
    for _ in range(times):
        with database.session.begin() as session:
            assert authenticate(session, "alice", OTHER, now=at).reason == "password"


def test_five_wrong_passwords_in_a_row_lock_the_account_until_the_lockout_ends(
    database: Database,
) -> None:
    assert (5, timedelta(minutes=15)) == (MAX_FAILED_LOGINS, LOCKOUT)
    with database.session.begin() as session:
        _alice(session)
    start = utc_now()
    _fail(database, MAX_FAILED_LOGINS, start)
    with database.session() as session:
        assert get_user(session, "alice").locked_until == start + LOCKOUT
    for moment in (start, start + LOCKOUT - timedelta(seconds=1)):
        with database.session.begin() as session:
            result = authenticate(session, "alice", PASSWORD, now=moment)
            assert (result.user, result.reason) == (None, "locked")
    with database.session.begin() as session:
        # A wrong password while locked neither extends the lockout nor counts.
        assert authenticate(session, "alice", OTHER, now=start).reason == "locked"
    with database.session() as session:
        assert get_user(session, "alice").locked_until == start + LOCKOUT
        assert get_user(session, "alice").last_login_at is None
        reasons = [e.details["reason"] for e in list_entries(session, action_prefix="user.login")]
        assert reasons == ["locked"] * 3 + ["password"] * MAX_FAILED_LOGINS
    after = start + LOCKOUT + timedelta(seconds=1)
    with database.session.begin() as session:
        assert authenticate(session, "alice", PASSWORD, now=after).user is not None
    with database.session() as session:
        user = get_user(session, "alice")
        assert user.locked_until is None and user.failed_logins == 0
        assert user.last_login_at == after


def test_the_count_is_of_failures_in_a_row_a_success_resets_it(database: Database) -> None:
    with database.session.begin() as session:
        _alice(session)
    start = utc_now()
    _fail(database, MAX_FAILED_LOGINS - 1, start)
    with database.session.begin() as session:
        assert authenticate(session, "alice", PASSWORD, now=start).user is not None
    _fail(database, MAX_FAILED_LOGINS - 1, start)
    with database.session.begin() as session:
        assert authenticate(session, "alice", PASSWORD, now=start).user is not None


def test_after_a_lockout_the_count_starts_again_from_zero(database: Database) -> None:
    with database.session.begin() as session:
        _alice(session)
    start = utc_now()
    _fail(database, MAX_FAILED_LOGINS, start)
    after = start + LOCKOUT + timedelta(seconds=1)
    _fail(database, 1, after)
    with database.session.begin() as session:
        assert authenticate(session, "alice", PASSWORD, now=after).user is not None


def test_a_disabled_account_cannot_log_in(database: Database) -> None:
    with database.session.begin() as session:
        _alice(session)
    with database.session.begin() as session:
        disable_user(session, "alice", actor="admin")
    with database.session.begin() as session:
        result = authenticate(session, "alice", PASSWORD)
        assert (result.user, result.reason) == (None, "disabled")
    with database.session.begin() as session:
        assert get_user(session, "alice").disabled_at is not None
        with pytest.raises(MonitorError, match="already disabled"):
            disable_user(session, "alice", actor="admin")
        with pytest.raises(NotFoundError):
            disable_user(session, "carol", actor="admin")
    with database.session() as session:
        assert [e.action for e in list_entries(session, entity="user")] == [
            "user.login_failed",
            "user.disable",
            "user.create",
        ]
        assert list_entries(session, action_prefix="user.disable")[0].actor == "admin"
        assert list_users(session)[0].username == "alice"  # still listed


def test_setting_a_password_changes_the_hash_and_unlocks_the_account(
    database: Database,
) -> None:
    with database.session.begin() as session:
        old_hash = _alice(session).password_hash
    start = utc_now()
    _fail(database, MAX_FAILED_LOGINS, start)
    with database.session.begin() as session:
        user = set_password(session, "alice", OTHER, actor="admin")
        assert user.locked_until is None and user.failed_logins == 0
    with database.session() as session:
        user = get_user(session, "alice")
        assert user.password_hash != old_hash
        assert verify_password(OTHER, user.password_hash)
        assert not verify_password(PASSWORD, user.password_hash)
        entry = list_entries(session, entity="user")[0]
        assert (entry.action, entry.actor, entry.entity_id) == ("user.password", "admin", "alice")
    with database.session.begin() as session:
        assert authenticate(session, "alice", PASSWORD, now=start).reason == "password"
    with database.session.begin() as session:
        assert authenticate(session, "alice", OTHER, now=start).user is not None


def test_setting_a_password_checks_it_the_account_and_the_actor(database: Database) -> None:
    with database.session.begin() as session:
        old_hash = _alice(session).password_hash
    with database.session.begin() as session:
        with pytest.raises(MonitorError, match=f"at least {MIN_PASSWORD_LENGTH}"):
            set_password(session, "alice", "short", actor="admin")
        with pytest.raises(NotFoundError, match="no user 'carol'"):
            set_password(session, "carol", OTHER, actor="admin")
        with pytest.raises(MonitorError, match="--user"):
            set_password(session, "alice", OTHER, actor="")
    with database.session() as session:
        assert get_user(session, "alice").password_hash == old_hash


def test_no_password_ever_reaches_the_audit_log(database: Database) -> None:
    third = "a third passphrase, never logged"
    with database.session.begin() as session:
        _alice(session)
    with database.session.begin() as session:
        authenticate(session, "alice", PASSWORD)
        authenticate(session, "alice", OTHER)
        authenticate(session, "nobody", third)
        set_password(session, "alice", third, actor="admin")
        authenticate(session, "alice", third)
        disable_user(session, "alice", actor="admin")
        authenticate(session, "alice", third)
    with database.session() as session:
        assert len(list_entries(session, limit=None)) == 8
        text = _audit_text(session)
    for password in (PASSWORD, OTHER, third):
        assert password not in text
    assert "scrypt$" not in text
