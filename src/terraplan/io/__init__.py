"""Read and validate CRM exports (CSV, Parquet, Excel); write and read plans.

Entry points
------------
* :func:`load_scenario` — a YAML spec and the files it names -> ``(Scenario, ImportReport)``.
* :func:`load_data` — accounts and reps files -> ``(AccountBook, RepRoster, ImportReport)``.
* :func:`read_accounts`, :func:`read_reps` — one file each.
* :func:`read_adjacency` — a geo-unit scenario's unit adjacency (edge list or GeoJSON).
* :func:`validate_inputs` — the report only, never raising on bad data (``terraplan validate``).
* :func:`write_plan`, :func:`read_plan` — plans as CSV (+ ``.meta.json`` sidecar) or Parquet.

Validation collects every problem; ``on_error="raise"`` raises one
:class:`~terraplan.errors.InputValidationError`, ``on_error="skip"`` loads the good rows and writes
the rejected ones to a rejects file. Always ``rows_in == rows_loaded + rows_rejected``.
"""

from terraplan.io.adjacency import load_adjacency, read_adjacency
from terraplan.io.load import (
    default_rejects_path,
    load_data,
    load_scenario,
    read_accounts,
    read_reps,
    validate_inputs,
)
from terraplan.io.plans import plan_table, read_plan, sidecar_path, write_plan
from terraplan.io.report import ImportReport, OnError
from terraplan.io.reps import check_rep_pools
from terraplan.io.tables import RawTable, detect_encoding, read_table, sniff_delimiter

__all__ = [
    "ImportReport", "OnError", "RawTable", "check_rep_pools", "default_rejects_path",
    "detect_encoding", "load_adjacency", "load_data", "load_scenario", "plan_table",
    "read_accounts", "read_adjacency", "read_plan", "read_reps", "read_table", "sidecar_path",
    "sniff_delimiter", "validate_inputs", "write_plan",
]
