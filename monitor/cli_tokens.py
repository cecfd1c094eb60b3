"""``dmn-monitor tokens``: bearer tokens of the HTTP API (create, list, revoke).

Registered lazily on the main command group of :mod:`monitor.cli`.
"""

from __future__ import annotations

import getpass
import json

import click

from monitor.cli import _app, _Group, common_options
from monitor.tables import render_table
from monitor.timeutil import local_iso
from monitor.tokens import ROLES, create_token, list_tokens, revoke_token

__all__ = ["tokens"]


@click.group(cls=_Group)
def tokens() -> None:
    """Bearer tokens of the HTTP API (roles: viewer < quality < admin)."""


@tokens.command("create")
@common_options
@click.option("--name", required=True, help="A unique name (who or what uses the token).")
@click.option("--role", required=True, type=click.Choice(list(ROLES)))
@click.option("--user", default=None, help="Who creates it (audit log); default: login name.")
def tokens_create(name: str, role: str, user: str | None) -> None:
    """Create a token and print its secret, once."""
    with _app().db.session.begin() as session:
        token, secret = create_token(session, name, role, user=user or getpass.getuser())
        label = f"{token.name} ({token.role}, {token.prefix}...)"
    click.echo(secret)
    click.echo(
        f"token {label} created. Store the secret now: it is shown only once and cannot be "
        "recovered (only its hash is kept).\n"
        f"Jeton {label} créé. Conservez le secret maintenant : il n’est affiché qu’une "
        "fois et ne peut pas être retrouvé (seule son empreinte est conservée).",
        err=True,
    )


@tokens.command("list")
@common_options
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def tokens_list(fmt: str) -> None:
    """List tokens (never their secrets)."""
    app = _app()
    with app.db.session() as session:
        rows = [
            {
                "name": t.name,
                "role": t.role,
                "prefix": t.prefix,
                "created_by": t.created_by,
                "created_at": local_iso(t.created_at, app.tz),
                "last_used_at": local_iso(t.last_used_at, app.tz),
                "revoked_at": local_iso(t.revoked_at, app.tz),
            }
            for t in list_tokens(session)
        ]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    click.echo(render_table(rows, list(rows[0])) if rows else "no tokens")


@tokens.command("revoke")
@common_options
@click.argument("name")
@click.option("--user", default=None, help="Who revokes it (audit log); default: login name.")
def tokens_revoke(name: str, user: str | None) -> None:
    """Revoke a token: it is refused from now on."""
    with _app().db.session.begin() as session:
        token = revoke_token(session, name, user=user or getpass.getuser())
        click.echo(f"token {token.name} revoked")
