"""``terraplan keys create|list|revoke``: API keys of the REST API.

The secret of a new key is printed once (the store keeps only its sha256); give it to the
client and keep it in its secret store. Roles: viewer (read plans, owners), planner (also
scenarios, uploads, solves), admin (also activation and keys).
"""

from __future__ import annotations

import getpass
import os
from enum import StrEnum

import typer
from rich.table import Table

from terraplan.cli.common import console, emit_json, handle_errors

keys_app = typer.Typer(name="keys", no_args_is_help=True,
                       help="API keys of the REST API: create, list, revoke.")

DB = typer.Option(None, "--db", envvar="TERRAPLAN_DATABASE_URL",
                  help="Store URL (sqlite:///file.db or postgresql+psycopg://...).")
JSON = typer.Option(False, "--json", help="Machine-readable JSON on stdout.")


class Role(StrEnum):
    VIEWER = "viewer"
    PLANNER = "planner"
    ADMIN = "admin"


def _actor() -> str:
    try:
        return "cli:" + (os.environ.get("USER") or getpass.getuser())
    except (KeyError, OSError):
        return "cli:unknown"


def _key_dict(k: object) -> dict[str, object]:
    return {f: (v.isoformat() if hasattr(v, "isoformat") else v)
            for f in ("id", "name", "role", "prefix", "created_at", "created_by", "revoked_at",
                      "last_used_at") for v in (getattr(k, f),)}


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")


@keys_app.command("create")
@handle_errors
def create(
    name: str = typer.Argument(..., help="What the key is for, e.g. salesforce-sync."),
    role: Role = typer.Option(Role.VIEWER, "--role", help="viewer, planner or admin."),
    db: str | None = DB,
    as_json: bool = JSON,
) -> None:
    """Create an API key and print its secret (shown once).

    Example: terraplan keys create salesforce-sync --role viewer
    """
    from terraplan.services import Workspace
    from terraplan.services.keys import KeyStore

    with Workspace.open(db) as ws:
        new = KeyStore(ws).create(name, role.value, actor=_actor())
    if as_json:
        emit_json({**_key_dict(new.info), "secret": new.secret})
        return
    console.print(f"created key [bold]{new.info.name}[/] (id {new.info.id}, role "
                  f"{new.info.role}, prefix {new.info.prefix})")
    console.print("secret (shown once; the store keeps only its hash):")
    console.print(new.secret, markup=False, highlight=False, soft_wrap=True)


@keys_app.command("list")
@handle_errors
def list_keys(
    db: str | None = DB,
    all_: bool = typer.Option(False, "--all", help="Include revoked keys."),
    as_json: bool = JSON,
) -> None:
    """List API keys (never their secrets).

    Example: terraplan keys list --all
    """
    from terraplan.services import Workspace
    from terraplan.services.keys import KeyStore

    with Workspace.open(db) as ws:
        keys = KeyStore(ws).list(include_revoked=all_)
    if as_json:
        emit_json([_key_dict(k) for k in keys])
        return
    table = Table(title="API keys", header_style="bold")
    for col in ("id", "name", "role", "prefix", "created", "by", "last used", "revoked"):
        table.add_column(col)
    for k in keys:
        table.add_row(str(k.id), k.name, k.role, k.prefix, k.created_at.strftime("%Y-%m-%d"),
                      k.created_by,
                      "" if k.last_used_at is None else k.last_used_at.strftime("%Y-%m-%d %H:%M"),
                      "" if k.revoked_at is None else k.revoked_at.strftime("%Y-%m-%d %H:%M"))
    console.print(table)


@keys_app.command("revoke")
@handle_errors
def revoke(
    key: str = typer.Argument(..., help="Key id or prefix."),
    db: str | None = DB,
    as_json: bool = JSON,
) -> None:
    """Revoke an API key (servers stop accepting it within a few seconds).

    Example: terraplan keys revoke 3
    """
    from terraplan.services import Workspace
    from terraplan.services.keys import KeyStore

    with Workspace.open(db) as ws:
        info = KeyStore(ws).revoke(key, actor=_actor())
    if as_json:
        emit_json(_key_dict(info))
        return
    console.print(f"revoked key {info.name} (id {info.id}, prefix {info.prefix})")
