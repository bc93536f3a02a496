"""The ``terraplan`` command line (Typer + rich): one module per command group."""

from terraplan.cli.app import app, main

__all__ = ["app", "main"]
