"""Root Typer app. Each command group lives in its own module and registers itself here."""

from __future__ import annotations

import os

import typer

from terraplan.cli import (
    comp,
    data,
    demo,
    export,
    generate,
    keys,
    quota,
    rebalance,
    scenario,
    serve,
    solve,
    workspace,
)

app = typer.Typer(
    name="terraplan",
    help="Sales territory, quota and compensation planning.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
)


@app.callback()
def _root(debug: bool = typer.Option(
        False, "--debug", help="Show the full traceback on errors (same as TERRAPLAN_DEBUG=1).")
          ) -> None:
    """Sales territory, quota and compensation planning."""
    if debug:
        os.environ["TERRAPLAN_DEBUG"] = "1"


for _module in (demo, workspace, data, generate, scenario, solve, export, rebalance, quota,
                comp, keys, serve):
    _module.register(app)


def main() -> None:
    app()
