"""``terraplan export`` and ``terraplan compare``.

``export SCENARIO --format csv|parquet|crm --out DIR`` writes a stored plan:

* ``csv`` — ``plan.csv``: ``account_id, rep_id, reason`` (one row per account, book order);
* ``parquet`` — ``plan.parquet``: the same columns (plus the plan's provenance in the metadata);
* ``crm`` — four CSV files shaped like Salesforce Enterprise Territory Management (ETM 2.0),
  ready for a Data Loader upsert. One territory per rep who owns accounts (assign mode); the
  territory's ``DeveloperName`` is ``TP_<rep id>`` (letters, digits and single underscores, as
  Salesforce requires), its model is the scenario:

  ``accounts.csv`` — one row per account:
      ``AccountId`` (account id), ``Territory2DeveloperName`` (empty when unassigned),
      ``OwnerId`` (rep id of the territory's owner), ``Reason`` (why it sits there:
      unchanged, balance, departure, ...)
  ``Territory2.csv`` — one row per territory (the territory table with its members):
      ``DeveloperName``, ``Name``, ``Territory2ModelName`` (scenario name),
      ``Territory2TypeName`` (``Sales``), ``Description``, ``OwnerId`` (rep id),
      ``MemberUserIds`` (``;``-separated rep ids), ``AccountCount``, ``Potential``
      (currency units with cents), ``Workload`` (hours)
  ``UserTerritory2Association.csv`` — who works each territory:
      ``UserId`` (rep id), ``Territory2DeveloperName``, ``RoleInTerritory2`` (``Owner``),
      ``IsActive`` (``false`` for departing reps)
  ``ObjectTerritory2Association.csv`` — which accounts sit in each territory:
      ``ObjectId`` (account id), ``Territory2DeveloperName``, ``AssociationCause``
      (``Territory2Manual``: assigned by a plan, not by territory assignment rules)

  Rep and account ids are terraplan's ids, i.e. the CRM ids the files were exported with
  (``Employee ID`` / ``Account ID`` in the demo); map them to Salesforce ``User.Id`` /
  ``Account.Id`` in the loader if they differ.

``compare A B`` is the top-level alias of ``terraplan scenario compare`` (``--json`` on stdout,
``--csv FILE`` for the moves plus ``FILE_reps.csv``).
"""

from __future__ import annotations

import csv
import re
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import typer

from terraplan.cli.common import DB, JSON, console, emit_json, handle_errors, workspace
from terraplan.cli.quota import money

QUIET = typer.Option(False, "--quiet", "-q", help="Print nothing on success.")


class ExportFormat(StrEnum):
    CSV = "csv"
    PARQUET = "parquet"
    CRM = "crm"


def developer_name(rep_id: str) -> str:
    """A Salesforce ``DeveloperName`` for a rep's territory: starts with a letter, only letters,
    digits and single underscores, no trailing underscore, at most 80 characters."""
    body = re.sub(r"[^A-Za-z0-9]+", "_", rep_id).strip("_")
    return re.sub(r"_+", "_", f"TP_{body}")[:80].rstrip("_")


def _write(path: Path, header: list[str], rows: Any) -> int:
    n = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for row in rows:
            w.writerow(row)
            n += 1
    return n


def write_crm(out: Path, scenario_name: str, book: Any, roster: Any, plan: Any) -> dict[str, int]:
    """Write the ETM-shaped files for ``plan`` into ``out``; returns rows per file."""
    from terraplan.domain import RepStatus

    owner = plan.aligned(book, roster)
    reasons = None if plan.reasons is None else np.asarray(plan.reasons)
    if reasons is not None and not np.array_equal(plan.account_ids, book.ids):
        pos = {a: i for i, a in enumerate(plan.account_ids.tolist())}
        reasons = np.asarray([reasons[pos[a]] if a in pos else -1 for a in book.ids.tolist()])
    from terraplan.domain import Reason

    def reason(i: int) -> str:
        if reasons is None or reasons[i] < 0:
            return ""
        try:
            return Reason(int(reasons[i])).name.lower()
        except ValueError:
            return ""

    rids = roster.ids
    dev = [developer_name(r) for r in rids]
    ids = book.ids.tolist()
    used = sorted(set(owner[owner >= 0].tolist()))
    counts = np.bincount(owner[owner >= 0], minlength=len(rids))
    pot = np.zeros(len(rids), dtype=np.int64)
    np.add.at(pot, owner[owner >= 0], book.potential[owner >= 0])
    wl = np.zeros(len(rids), dtype=np.float64)
    np.add.at(wl, owner[owner >= 0], book.workload[owner >= 0])
    out.mkdir(parents=True, exist_ok=True)
    n: dict[str, int] = {}
    n["accounts.csv"] = _write(
        out / "accounts.csv", ["AccountId", "Territory2DeveloperName", "OwnerId", "Reason"],
        ([a, dev[j] if j >= 0 else "", rids[j] if j >= 0 else "", reason(i)]
         for i, (a, j) in enumerate(zip(ids, owner.tolist(), strict=True))))
    n["Territory2.csv"] = _write(
        out / "Territory2.csv",
        ["DeveloperName", "Name", "Territory2ModelName", "Territory2TypeName", "Description",
         "OwnerId", "MemberUserIds", "AccountCount", "Potential", "Workload"],
        ([dev[j], f"{roster[j].name or rids[j]} ({rids[j]})", scenario_name, "Sales",
          f"terraplan scenario {scenario_name}: territory of {rids[j]}", rids[j], rids[j],
          int(counts[j]), money(int(pot[j])), f"{wl[j]:.1f}"] for j in used))
    n["UserTerritory2Association.csv"] = _write(
        out / "UserTerritory2Association.csv",
        ["UserId", "Territory2DeveloperName", "RoleInTerritory2", "IsActive"],
        ([rids[j], dev[j], "Owner",
          "false" if roster[j].status is RepStatus.DEPARTING else "true"] for j in used))
    n["ObjectTerritory2Association.csv"] = _write(
        out / "ObjectTerritory2Association.csv",
        ["ObjectId", "Territory2DeveloperName", "AssociationCause"],
        ([a, dev[j], "Territory2Manual"] for a, j in zip(ids, owner.tolist(), strict=True)
         if j >= 0))
    return n


def register(app: typer.Typer) -> None:
    @app.command("export")
    @handle_errors
    def export(
        scenario: str = typer.Argument(..., help="Scenario name or id."),
        fmt: ExportFormat = typer.Option(ExportFormat.CSV, "--format", "-f",
                                         help="csv, parquet, or crm (Salesforce ETM shape)."),
        out: Path = typer.Option(Path("."), "--out", "-o", file_okay=False,
                                 help="Output folder (created if missing)."),
        plan_id: int | None = typer.Option(None, "--plan-id", help="Plan version (default: "
                                           "the scenario's current plan)."),
        db: str | None = DB, as_json: bool = JSON, quiet: bool = QUIET,
    ) -> None:
        """Export a stored plan as CSV, Parquet or CRM territory files.

        Example: terraplan export fy27-base --format crm --out crm_load/
        """
        from terraplan.io import write_plan

        out.mkdir(parents=True, exist_ok=True)
        with workspace(db) as ws:
            info = ws.get_scenario(scenario)
            if fmt is ExportFormat.CSV:
                path = out / "plan.csv"
                rows = ws.export_plan(info.id, path, fmt="csv", plan_id=plan_id)
                files = {path.name: rows}
            else:
                plan = ws.get_plan(info.id, plan_id)
                if fmt is ExportFormat.PARQUET:
                    path = write_plan(plan, out / "plan.parquet")
                    files = {path.name: len(plan)}
                else:
                    sc = ws.load_scenario(info.id)
                    files = write_crm(out, info.name, sc.accounts, sc.reps, plan)
        if as_json:
            emit_json({"scenario": info.name, "format": fmt.value, "out": str(out),
                       "files": files})
        elif not quiet:
            for name, rows in files.items():
                console.print(f"wrote {out / name} ({rows:,} rows)")

    @app.command("compare")
    @handle_errors
    def compare(
        a: str = typer.Argument(..., help="Scenario A (the baseline)."),
        b: str = typer.Argument(..., help="Scenario B."),
        csv_out: Path | None = typer.Option(None, "--csv", help="Write the moves to this CSV "
                                            "and the per-rep deltas next to it (*_reps.csv)."),
        top: int = typer.Option(20, "--top", min=0, help="Moves shown in the terminal."),
        db: str | None = DB, as_json: bool = JSON,
    ) -> None:
        """Who moves between two scenarios' plans, per-rep deltas, quota/pay and fairness
        (alias of `terraplan scenario compare`).

        Example: terraplan compare fy27-base fy27-alt --csv moves.csv
        """
        from terraplan.cli.scenario import ExportFormat as CmpFormat
        from terraplan.cli.scenario import compare as scenario_compare

        scenario_compare(a=a, b=b, current=False, a_plan=None, b_plan=None, export=csv_out,
                         fmt=CmpFormat.CSV, top=top, db=db, as_json=as_json)
