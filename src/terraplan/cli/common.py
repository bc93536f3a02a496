"""Shared CLI plumbing: one clear message and a stable exit code per error, never a traceback.

Exit codes: 0 ok; 1 infeasible, refused or conflict; 2 bad input. ``--debug`` (or
``TERRAPLAN_DEBUG=1``) re-raises so the traceback shows.
"""

from __future__ import annotations

import functools
import getpass
import json
import os
import sys
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any, TypeVar

import typer
from rich.console import Console

from terraplan.errors import InputValidationError, TerraplanError

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def debug_enabled() -> bool:
    return os.environ.get("TERRAPLAN_DEBUG", "") not in ("", "0", "false")


def handle_errors(fn: F) -> F:
    """Decorator for command functions: map terraplan errors to a message and exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except InputValidationError as exc:
            if debug_enabled():
                raise
            err_console.print(f"[bold red]error:[/] {len(exc.errors)} problem(s) in the input")
            for p in exc.errors[: exc.shown]:
                err_console.print(f"  {p}", markup=False, highlight=False)
            if len(exc.errors) > exc.shown:
                err_console.print(f"  ... and {len(exc.errors) - exc.shown} more")
            raise typer.Exit(exc.exit_code) from None
        except TerraplanError as exc:
            if debug_enabled():
                raise
            err_console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
            raise typer.Exit(exc.exit_code) from None
        except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
            if debug_enabled():
                raise
            err_console.print(f"[bold red]error:[/] {exc.strerror}: {exc.filename}")
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err_console.print("[yellow]interrupted[/]")
            raise typer.Exit(130) from None
        except Exception as exc:  # last resort: never a traceback unless --debug
            if debug_enabled():
                raise
            err_console.print(f"[bold red]internal error:[/] {type(exc).__name__}: {exc} "
                              "(run with TERRAPLAN_DEBUG=1 for the traceback)")
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


# -- options and helpers shared by the store-backed command groups --------------------------
DB = typer.Option(None, "--db", envvar="TERRAPLAN_DATABASE_URL",
                  help="Store URL (sqlite:///file.db or postgresql+psycopg://...).")
JSON = typer.Option(False, "--json", help="Machine-readable JSON on stdout.")
ACTOR = typer.Option(None, "--actor", help="Who is acting, for the audit log (default $USER).")
WHY = typer.Option("", "--why", help="Reason recorded in the audit log.")
VERSION = typer.Option(None, "--expected-version",
                       help="Refuse if the scenario changed since you read this version.")


def resolve_actor(actor: str | None) -> str:
    if actor:
        return actor
    try:
        return os.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@contextmanager
def workspace(db: str | None) -> Any:
    from terraplan.services import Workspace  # lazy: keep `terraplan --help` fast

    ws = Workspace.open(db)
    try:
        yield ws
    finally:
        ws.close()
