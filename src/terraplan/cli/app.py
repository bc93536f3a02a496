"""Root Typer app. Each command group lives in its own module and registers itself here."""

from __future__ import annotations

import typer

from terraplan.cli import comp, data, demo, generate, keys, quota, scenario, serve

app = typer.Typer(
    name="terraplan",
    help="Sales territory, quota and compensation planning.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
)

for _module in (demo, data, generate, scenario, quota, comp, keys, serve):
    _module.register(app)


def main() -> None:
    app()
