"""API tokens: the secret is shown once and only its hash is kept; roles are ordered;
revoked tokens are refused; creating and revoking is audited without the secret."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from monitor.audit import list_entries
from monitor.cli import cli
from monitor.errors import MonitorError, NotFoundError
from monitor.models import ApiToken
from monitor.storage import Database
from monitor.timeutil import utc_now
from monitor.tokens import ROLES, allows, create_token, list_tokens, revoke_token, verify_token


def test_roles_are_ordered_and_each_includes_the_ones_before() -> None:
    assert ROLES == ("viewer", "quality", "admin")
    assert allows("admin", "viewer") and allows("admin", "quality") and allows("admin", "admin")
    assert allows("quality", "viewer") and not allows("quality", "admin")
    assert not allows("viewer", "quality")
    assert not allows("root", "viewer") and not allows("admin", "root")


def test_only_the_hash_of_the_secret_is_stored(database: Database) -> None:
    with database.session.begin() as session:
        _token, secret = create_token(session, "ris-bridge", "quality", user="alice")
    assert secret.startswith("dmn_") and len(secret) >= 40
    with database.session() as session:
        stored = session.scalars(select(ApiToken)).one()
        row = {c.name: getattr(stored, c.name) for c in ApiToken.__table__.columns}
        assert stored.token_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert stored.prefix == secret[:12] and stored.created_by == "alice"
        assert secret not in json.dumps(row, default=str)
        entry = list_entries(session, entity="api_token")[0]
    assert (entry.action, entry.actor, entry.entity_id) == ("token.create", "alice", "ris-bridge")
    assert secret not in json.dumps(entry.details) and secret[12:] not in json.dumps(entry.details)


def test_a_secret_verifies_until_revoked(database: Database) -> None:
    with database.session.begin() as session:
        _, secret = create_token(session, "pacs", "viewer", user="alice")
    with database.session.begin() as session:
        token = verify_token(session, secret)
        assert token is not None and token.role == "viewer"
        assert verify_token(session, secret + "x") is None
        assert verify_token(session, "dmn_" + "A" * 43) is None
        assert verify_token(session, "") is None and verify_token(session, secret[4:]) is None
    with database.session.begin() as session:
        revoke_token(session, "pacs", user="bob")
    with database.session.begin() as session:
        assert verify_token(session, secret) is None
        assert [e.action for e in list_entries(session, entity="api_token")] == [
            "token.revoke",
            "token.create",
        ]
        with pytest.raises(MonitorError, match="already revoked"):
            revoke_token(session, "pacs", user="bob")
        with pytest.raises(NotFoundError):
            revoke_token(session, "nope", user="bob")


def test_last_use_is_written_at_most_once_a_minute(database: Database) -> None:
    with database.session.begin() as session:
        _, secret = create_token(session, "grafana", "viewer", user="alice")
    start = utc_now()
    with database.session.begin() as session:
        assert verify_token(session, secret, now=start) is not None
    with database.session.begin() as session:
        verify_token(session, secret, now=start + timedelta(seconds=30))
    with database.session() as session:
        assert session.scalars(select(ApiToken)).one().last_used_at == start
    with database.session.begin() as session:
        verify_token(session, secret, now=start + timedelta(seconds=61))
    with database.session() as session:
        assert session.scalars(select(ApiToken)).one().last_used_at == start + timedelta(seconds=61)


def test_names_are_unique_and_roles_known(database: Database) -> None:
    with database.session.begin() as session:
        create_token(session, "a", "admin", user="alice")
    with database.session.begin() as session:
        with pytest.raises(MonitorError, match="exists already"):
            create_token(session, "a", "viewer", user="alice")
        with pytest.raises(MonitorError, match="unknown role"):
            create_token(session, "b", "superuser", user="alice")
        with pytest.raises(MonitorError, match="name"):
            create_token(session, "  ", "viewer", user="alice")
    with database.session() as session:
        assert [t.name for t in list_tokens(session)] == ["a"]


def test_the_command_prints_the_secret_once_and_lists_without_it(db_url: str) -> None:
    runner = CliRunner()
    created = runner.invoke(
        cli,
        ["tokens", "create", "--name", "ci", "--role", "admin", "--user", "alice", "--db", db_url],
    )
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip()
    assert secret.startswith("dmn_") and "\n" not in secret
    assert "shown only once" in created.stderr and "affiché qu’une fois" in created.stderr
    listed = runner.invoke(cli, ["tokens", "list", "--format", "json", "--db", db_url])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [(r["name"], r["role"], r["prefix"]) for r in rows] == [("ci", "admin", secret[:12])]
    assert secret not in listed.output
    revoked = runner.invoke(cli, ["tokens", "revoke", "ci", "--user", "bob", "--db", db_url])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    again = runner.invoke(cli, ["tokens", "revoke", "ci", "--db", db_url])
    assert again.exit_code == 1 and "already revoked" in again.output
    bad = runner.invoke(cli, ["tokens", "create", "--name", "x", "--role", "root", "--db", db_url])
    assert bad.exit_code == 2
