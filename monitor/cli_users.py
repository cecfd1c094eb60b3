"""``dmn-monitor users``: accounts of the web console (create, list, set-password, disable).

Registered lazily on the main command group of :mod:`monitor.cli`. Passwords are read
hidden from the terminal (typed twice) or, with ``--password-stdin``, from the first
line of standard input; they are never printed.
"""

from __future__ import annotations

import getpass
import json
import sys

import click

from monitor.cli import _app, _Group, common_options
from monitor.tables import render_table
from monitor.timeutil import local_iso
from monitor.tokens import ROLES
from monitor.users import LANGS, create_user, disable_user, list_users, set_password

__all__ = ["users"]


def _read_password(from_stdin: bool) -> str:
    """The first line of stdin without its line end, or a hidden prompt typed twice."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = click.prompt(
        "Password / Mot de passe", hide_input=True, confirmation_prompt=True
    )
    return password


_PASSWORD_STDIN = click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of stdin instead of prompting.",
)


@click.group(cls=_Group)
def users() -> None:
    """Accounts of the web console (roles: viewer < quality < admin)."""


@users.command("create")
@common_options
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(list(ROLES)))
@click.option("--full-name", required=True, help="As the audit log and sign-offs show it.")
@click.option("--lang", type=click.Choice(list(LANGS)), default="fr", show_default=True)
@_PASSWORD_STDIN
@click.option("--user", default=None, help="Who creates it (audit log); default: login name.")
def users_create(
    username: str,
    role: str,
    full_name: str,
    lang: str,
    password_stdin: bool,
    user: str | None,
) -> None:
    """Create an account (the password is prompted for, or read with --password-stdin)."""
    password = _read_password(password_stdin)
    with _app().db.session.begin() as session:
        account = create_user(
            session,
            username,
            full_name=full_name,
            role=role,
            password=password,
            actor=user or getpass.getuser(),
            lang=lang,
        )
        label = f"{account.username} ({account.full_name}, {account.role})"
    click.echo(
        f"user {label} created; they can log in to the web console now.\n"
        f"Utilisateur {label} créé\u00a0; il peut se connecter à la console web dès "
        "maintenant."
    )


@users.command("list")
@common_options
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def users_list(fmt: str) -> None:
    """List accounts, disabled ones too (never their password hashes)."""
    app = _app()
    with app.db.session() as session:
        rows = [
            {
                "username": u.username,
                "full_name": u.full_name,
                "role": u.role,
                "lang": u.lang,
                "created_by": u.created_by,
                "created_at": local_iso(u.created_at, app.tz),
                "last_login_at": local_iso(u.last_login_at, app.tz),
                "disabled_at": local_iso(u.disabled_at, app.tz),
            }
            for u in list_users(session)
        ]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    click.echo(render_table(rows, list(rows[0])) if rows else "no users")


@users.command("set-password")
@common_options
@click.argument("username")
@_PASSWORD_STDIN
@click.option("--user", default=None, help="Who changes it (audit log); default: login name.")
def users_set_password(username: str, password_stdin: bool, user: str | None) -> None:
    """Replace an account's password (this also unlocks it)."""
    password = _read_password(password_stdin)
    with _app().db.session.begin() as session:
        account = set_password(session, username, password, actor=user or getpass.getuser())
        name = account.username
    click.echo(
        f"password of {name} changed; the account is unlocked.\n"
        f"Mot de passe de {name} modifié\u00a0; le compte est déverrouillé."
    )


@users.command("disable")
@common_options
@click.argument("username")
@click.option("--user", default=None, help="Who disables it (audit log); default: login name.")
def users_disable(username: str, user: str | None) -> None:
    """Disable an account: it can no longer log in and its open sessions end."""
    with _app().db.session.begin() as session:
        account = disable_user(session, username, actor=user or getpass.getuser())
        name = account.username
    click.echo(f"user {name} disabled.\nUtilisateur {name} désactivé.")
