"""Shared helpers of the CLI tests: a small generated book, two rule sets, a history file and
an in-process runner (the subprocess tests use the real ``terraplan`` entry point instead)."""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from terraplan.cli.app import app

#: Rules A: eligibility, capacity, potential within ±10 % (hard), locks, families.
SPEC_A = """\
name: a
seed: 7
rules:
  eligibility: [segment, vertical, region]
  capacity: true
  balance:
    - {metric: potential, tolerance: 0.10, hard: true}
  locks: true
  families: true
objective: {travel: 1.0, disruption: 1.0, balance: 1.0}
"""

#: Rules B: tighter potential band, soft workload band, a continuity budget, dearer moves.
SPEC_B = """\
name: b
seed: 7
rules:
  eligibility: [segment, vertical, region]
  capacity: true
  balance:
    - {metric: potential, tolerance: 0.08, hard: true}
    - {metric: workload, tolerance: 0.15, hard: false, penalty: 50}
  locks: true
  families: true
  continuity: {max_moved_share: 0.40, move_cost: 1.0, move_weight: potential}
objective: {travel: 1.0, disruption: 2.0, balance: 1.0}
"""

#: Impossible rules: every rep's potential within ±0.01 % of target and a 1 km reach.
SPEC_INFEASIBLE = """\
name: tight
seed: 7
rules:
  eligibility: [segment, vertical, region]
  capacity: true
  balance:
    - {metric: potential, tolerance: 0.0001, hard: true}
  max_distance: 1.0
objective: {travel: 1.0}
"""


def make_book(folder: Path, accounts: int = 160, reps: int = 6, seed: int = 3
              ) -> tuple[Path, Path]:
    """Write a generated book (the same generator as ``terraplan generate``)."""
    from terraplan.io.generator import generate_book, write_book

    book = generate_book(accounts, reps, seed)
    a, r = write_book(book, folder, fmt="csv")
    return Path(a), Path(r)


def write_history(accounts_csv: Path, out: Path) -> dict[str, int]:
    """Last year's bookings = 30 % .. 90 % of each account's potential; returns cents."""
    cents: dict[str, int] = {}
    with open(accounts_csv, newline="", encoding="utf-8") as fh, \
            open(out, "w", newline="", encoding="utf-8") as oh:
        w = csv.writer(oh)
        w.writerow(["account_id", "bookings"])
        for i, row in enumerate(csv.DictReader(fh)):
            pot = round(float(row["potential"]) * 100)
            c = pot * (3 + i % 7) // 10
            cents[row["id"]] = c
            w.writerow([row["id"], f"{c // 100}.{c % 100:02d}"])
    return cents


def write_specs(folder: Path) -> dict[str, Path]:
    out = {}
    for name, text in (("a", SPEC_A), ("b", SPEC_B), ("tight", SPEC_INFEASIBLE)):
        p = folder / f"{name}.yaml"
        p.write_text(text, encoding="utf-8")
        out[name] = p
    return out


def run(args: list[str], db: str, **kw: Any) -> Result:
    """Invoke the CLI in-process against the store ``db``."""
    # TERRAPLAN_DEBUG is listed so the runner restores it: ``--debug`` sets it in-process
    return CliRunner().invoke(app, args, env={"TERRAPLAN_DATABASE_URL": db, "COLUMNS": "200",
                                              "TERRAPLAN_DEBUG": ""}, **kw)


def terraplan_cmd() -> list[str]:
    """The real command line: the installed entry point next to this interpreter."""
    exe = Path(sys.executable).with_name("terraplan")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "terraplan.cli"]


def subprocess_env(db: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TERRAPLAN_")}
    env.update(TERRAPLAN_DATABASE_URL=db, COLUMNS="200", NO_COLOR="1")
    return env
