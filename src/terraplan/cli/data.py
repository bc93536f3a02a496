"""``terraplan validate``: check CRM exports and report every problem."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    return None
