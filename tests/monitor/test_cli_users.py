"""``dmn-monitor users``: accounts are created, listed, given a new password and
disabled from the command line; the password comes from stdin or a hidden prompt
and is never printed; mistakes end with a one-line message saying what to fix."""

from __future__ import annotations

import json
from datetime import datetime

from click.testing import CliRunner, Result

from monitor.audit import list_entries
from monitor.cli import cli
from monitor.storage import open_database
from monitor.users import authenticate

PASSWORD = "correct horse battery staple"
NEW = "a brand new passphrase"


def _run(db_url: str, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["users", *args, "--db", db_url], input=input)


def _create(db_url: str, *extra: str, password: str = PASSWORD) -> Result:
    return _run(
        db_url,
        "create",
        "alice",
        "--role",
        "quality",
        "--full-name",
        "Alice Martin",
        "--password-stdin",
        "--user",
        "admin",
        *extra,
        input=password + "\n",
    )


def _login(db_url: str, password: str) -> str | None:
    """The reason a login with ``password`` fails, or None when it succeeds."""
    db = open_database(db_url)
    try:
        with db.session.begin() as session:
            return authenticate(session, "alice", password).reason
    finally:
        db.dispose()


def _listed(db_url: str) -> list[dict[str, str | None]]:
    result = _run(db_url, "list", "--format", "json")
    assert result.exit_code == 0, result.output
    rows: list[dict[str, str | None]] = json.loads(result.stdout)
    return rows


def test_create_reads_the_password_from_stdin_and_confirms_in_both_languages(
    db_url: str,
) -> None:
    created = _create(db_url, "--lang", "en")
    assert created.exit_code == 0, created.output
    assert "user alice (Alice Martin, quality) created" in created.stdout
    assert "Utilisateur alice (Alice Martin, quality) créé\u00a0;" in created.stdout
    assert PASSWORD not in created.output
    assert _login(db_url, PASSWORD) is None
    assert _login(db_url, PASSWORD + "\n") == "password"  # the newline is not part of it


def test_a_windows_line_end_on_stdin_is_not_part_of_the_password(db_url: str) -> None:
    assert _create(db_url, password=PASSWORD + "\r").exit_code == 0
    assert _login(db_url, PASSWORD) is None


def test_only_the_first_line_of_stdin_is_the_password(db_url: str) -> None:
    assert _create(db_url, password=PASSWORD + "\nsomething else").exit_code == 0
    assert _login(db_url, PASSWORD) is None


def test_without_password_stdin_the_password_is_prompted_twice_hidden(db_url: str) -> None:
    created = _run(
        db_url,
        "create",
        "bob",
        "--role",
        "viewer",
        "--full-name",
        "Bob Durand",
        "--user",
        "admin",
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert created.exit_code == 0, created.output
    assert created.output.count("Password") == 1 and "Repeat for confirmation" in created.output
    assert PASSWORD not in created.output
    assert [row["username"] for row in _listed(db_url)] == ["bob"]


def test_a_prompted_password_typed_differently_twice_creates_nothing(db_url: str) -> None:
    created = _run(
        db_url,
        "create",
        "bob",
        "--role",
        "viewer",
        "--full-name",
        "Bob Durand",
        input=f"{PASSWORD}\n{NEW}\n",
    )
    assert created.exit_code != 0
    assert "do not match" in created.output
    assert PASSWORD not in created.output and NEW not in created.output
    assert _listed(db_url) == []


def test_list_shows_the_accounts_in_local_time_without_their_hashes(db_url: str) -> None:
    empty = _run(db_url, "list")
    assert empty.exit_code == 0 and empty.stdout.strip() == "no users"
    assert _create(db_url).exit_code == 0
    rows = _listed(db_url)
    assert [{k: v for k, v in row.items() if k != "created_at"} for row in rows] == [
        {
            "username": "alice",
            "full_name": "Alice Martin",
            "role": "quality",
            "lang": "fr",
            "created_by": "admin",
            "last_login_at": None,
            "disabled_at": None,
        }
    ]
    created_at = rows[0]["created_at"]
    assert created_at is not None and datetime.fromisoformat(created_at).tzinfo is not None
    table = _run(db_url, "list")
    assert table.exit_code == 0 and "alice" in table.stdout and "Alice Martin" in table.stdout
    for output in (table.stdout, json.dumps(rows)):
        assert "scrypt" not in output and "password" not in output


def test_set_password_replaces_the_password_and_is_audited(db_url: str) -> None:
    assert _create(db_url).exit_code == 0
    changed = _run(
        db_url, "set-password", "alice", "--password-stdin", "--user", "bob", input=NEW + "\n"
    )
    assert changed.exit_code == 0, changed.output
    assert "password of alice changed" in changed.stdout
    assert "Mot de passe de alice modifié" in changed.stdout
    assert NEW not in changed.output
    assert _login(db_url, PASSWORD) == "password"
    assert _login(db_url, NEW) is None
    db = open_database(db_url)
    try:
        with db.session() as session:
            entry = list_entries(session, action_prefix="user.password")[0]
            assert (entry.actor, entry.entity_id) == ("bob", "alice")
    finally:
        db.dispose()


def test_set_password_prompts_twice_without_password_stdin(db_url: str) -> None:
    assert _create(db_url).exit_code == 0
    changed = _run(db_url, "set-password", "alice", "--user", "bob", input=f"{NEW}\n{NEW}\n")
    assert changed.exit_code == 0, changed.output
    assert _login(db_url, NEW) is None


def test_disable_ends_the_logins_and_shows_in_the_list(db_url: str) -> None:
    assert _create(db_url).exit_code == 0
    disabled = _run(db_url, "disable", "alice", "--user", "bob")
    assert disabled.exit_code == 0, disabled.output
    assert "user alice disabled" in disabled.stdout and "Utilisateur alice désactivé" in (
        disabled.stdout
    )
    assert _login(db_url, PASSWORD) == "disabled"
    (row,) = _listed(db_url)
    assert row["disabled_at"] is not None
    again = _run(db_url, "disable", "alice")
    assert again.exit_code == 1 and "already disabled" in again.output
    assert "Traceback" not in again.output


def test_a_short_password_is_refused_with_what_to_do(db_url: str) -> None:
    refused = _create(db_url, password="short")
    assert refused.exit_code == 1
    assert "Error: a password needs at least 12 characters" in refused.stderr
    assert "passphrase" in refused.stderr and "Traceback" not in refused.output
    assert _listed(db_url) == []
    empty = _create(db_url, password="")
    assert empty.exit_code == 1 and "at least 12 characters" in empty.stderr


def test_mistakes_end_with_a_message_saying_what_to_fix(db_url: str) -> None:
    assert _create(db_url).exit_code == 0
    duplicate = _create(db_url)
    assert duplicate.exit_code == 1 and "'alice' exists already" in duplicate.stderr
    unknown = _run(db_url, "set-password", "carol", "--password-stdin", input=NEW + "\n")
    assert unknown.exit_code == 1
    assert "no user 'carol'" in unknown.stderr and "users list" in unknown.stderr
    short = _run(db_url, "set-password", "alice", "--password-stdin", input="tiny\n")
    assert short.exit_code == 1 and "at least 12 characters" in short.stderr
    assert _login(db_url, PASSWORD) is None  # unchanged
    bad_name = _run(
        db_url,
        "create",
        "Alice Martin",
        "--role",
        "viewer",
        "--full-name",
        "Alice",
        "--password-stdin",
        input=PASSWORD + "\n",
    )
    assert bad_name.exit_code == 1 and "use 1 to 64 of a-z" in bad_name.stderr
    bad_role = _run(
        db_url, "create", "bob", "--role", "root", "--full-name", "Bob", "--password-stdin"
    )
    assert bad_role.exit_code == 2 and "viewer" in bad_role.stderr
    bad_lang = _run(
        db_url,
        "create",
        "bob",
        "--role",
        "viewer",
        "--full-name",
        "Bob",
        "--lang",
        "de",
        "--password-stdin",
    )
    assert bad_lang.exit_code == 2 and "'fr', 'en'" in bad_lang.stderr
    no_name = _run(db_url, "create", "bob", "--role", "viewer", "--password-stdin")
    assert no_name.exit_code == 2 and "--full-name" in no_name.stderr
    assert [row["username"] for row in _listed(db_url)] == ["alice"]
