"""Public import entry points: read, validate, load (or reject) accounts and reps.

``on_error="raise"`` (the default) loads nothing when any error is found and raises one
:class:`~terraplan.errors.InputValidationError` holding every problem (its ``report`` attribute
carries the :class:`ImportReport`). ``on_error="skip"`` loads the good rows and writes the
rejected ones, with their reasons, to a rejects file. File-level errors (unreadable file, no id
column, ambiguous column mapping) always raise: no row can be loaded from such a file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from terraplan.domain import AccountBook, RepRoster, Scenario, ScenarioSpec
from terraplan.errors import InputValidationError, ParameterError, Problem, SpecError
from terraplan.io.accounts import AccountsOutcome, validate_accounts
from terraplan.io.adjacency import load_adjacency
from terraplan.io.report import ON_ERROR_VALUES, Collector, ImportReport, OnError
from terraplan.io.reps import RepsOutcome, check_rep_pools, validate_reps
from terraplan.io.tables import RawTable, import_memory_pool, read_table, write_rejects


def _check_on_error(on_error: str) -> None:
    if on_error not in ON_ERROR_VALUES:
        raise ParameterError(f"The 'on_error' parameter must be one of {ON_ERROR_VALUES}. "
                             f"Got {on_error!r}.")


def default_rejects_path(source: str | Path) -> Path:
    """``data/accounts.csv`` -> ``data/accounts.rejects.csv`` (always CSV)."""
    p = Path(source)
    return p.with_name(f"{p.stem}.rejects.csv")


def _report(table: str, raw: RawTable, col: Collector, rows_loaded: int, rows_in: int,
            rejects_path: Path | None, extra_warnings: list[Problem] | None = None
            ) -> ImportReport:
    # file-level problems first, then by row as the user scrolls the file (stable within a row)
    problems = tuple(col.fatal) + tuple(sorted(col.errors, key=lambda p: p.row or 0))
    return ImportReport(
        table=table, source=raw.source, rows_in=rows_in, rows_loaded=rows_loaded,
        rows_rejected=rows_in - rows_loaded, problems=problems,
        warnings=tuple(col.warnings) + tuple(extra_warnings or ()), rejects_path=rejects_path,
    )


def _write_rejects(raw: RawTable, col: Collector, rejected: np.ndarray,
                   path: Path | None) -> Path | None:
    if path is None or (not len(rejected) and not raw.ragged):
        return None
    reasons = col.reasons_for(rejected)
    reasons += [f"expected {rg.expected} fields, got {rg.actual}" for rg in raw.ragged]
    return write_rejects(raw, rejected, reasons, path)


def _finish_accounts(raw: RawTable, out: AccountsOutcome, on_error: str,
                     rejects: Path | None, extra_warnings: list[Problem] | None = None
                     ) -> ImportReport:
    """Report for an accounts outcome; writes the rejects file in skip mode."""
    col = out.collector
    loaded = 0 if out.book is None else len(out.book)
    path = None
    if on_error == "skip" and not col.fatal and out.book is not None:
        path = _write_rejects(raw, col, out.rejected_idx,
                              rejects or default_rejects_path(raw.source))
    return _report("accounts", raw, col, loaded, out.rows_in, path, extra_warnings)


def _finish_reps(raw: RawTable, out: RepsOutcome, on_error: str, rejects: Path | None,
                 extra_warnings: list[Problem] | None = None) -> ImportReport:
    col = out.collector
    loaded = 0 if out.roster is None else len(out.roster)
    path = None
    if on_error == "skip" and not col.fatal and out.roster is not None:
        path = _write_rejects(raw, col, out.rejected_idx,
                              rejects or default_rejects_path(raw.source))
    return _report("reps", raw, col, loaded, out.rows_in, path, extra_warnings)


def _raise_if_needed(report: ImportReport, on_error: str) -> None:
    fatal = any(p.row is None for p in report.problems)
    if report.problems and (on_error == "raise" or fatal):
        exc = InputValidationError(report.problems + report.warnings, rows_in=report.rows_in)
        exc.report = report  # type: ignore[attr-defined]
        raise exc


def read_accounts(path: str | Path, *, spec: ScenarioSpec | None = None,
                  reps: RepRoster | None = None, on_error: OnError = "raise",
                  rejects: str | Path | None = None) -> tuple[AccountBook, ImportReport]:
    """Read and validate an accounts file (CSV, Parquet or Excel).

    Parameters
    ----------
    path : the accounts file.
    spec : the scenario spec (column mapping, coordinate system, currency unit, balance metrics);
        defaults to ``ScenarioSpec()``.
    reps : the roster, to check current owners and locks (skipped when None).
    on_error : ``"raise"`` or ``"skip"`` (see the module docstring).
    rejects : where ``"skip"`` writes rejected rows (default ``<name>.rejects.csv`` beside the
        input). Only written when some row is rejected.

    Returns
    -------
    (AccountBook, ImportReport)

    Raises
    ------
    InputValidationError
        On any error with ``on_error="raise"``; on file-level errors always.
    """
    _check_on_error(on_error)
    with import_memory_pool():
        raw = read_table(path)
        out = validate_accounts(raw, spec, reps)
    report = _finish_accounts(raw, out, on_error, None if rejects is None else Path(rejects))
    _raise_if_needed(report, on_error)
    assert out.book is not None
    return out.book, report


def read_reps(path: str | Path, *, spec: ScenarioSpec | None = None,
              on_error: OnError = "raise",
              rejects: str | Path | None = None) -> tuple[RepRoster, ImportReport]:
    """Read and validate a reps file; parameters as :func:`read_accounts`."""
    _check_on_error(on_error)
    with import_memory_pool():
        raw = read_table(path)
        out = validate_reps(raw, spec)
    report = _finish_reps(raw, out, on_error, None if rejects is None else Path(rejects))
    _raise_if_needed(report, on_error)
    assert out.roster is not None
    return out.roster, report


def _load(accounts: str | Path, reps: str | Path, spec: ScenarioSpec | None, on_error: str,
          rejects: str | Path | None, reps_rejects: str | Path | None
          ) -> tuple[AccountBook | None, RepRoster | None, ImportReport]:
    _check_on_error(on_error)
    spec = spec or ScenarioSpec()
    # Reps first: the account checks (owners, locks) need the roster.
    with import_memory_pool():
        rraw = read_table(reps)
        rout = validate_reps(rraw, spec)
        araw = read_table(accounts)
        aout = validate_accounts(araw, spec, rout.roster, rout.rejected_ids)
    pool_warnings: list[Problem] = []
    if aout.book is not None and rout.roster is not None:
        pool_warnings = check_rep_pools(aout.book, rout.roster, spec, rout.rep_rows,
                                        rraw.source)
    if rejects is not None and reps_rejects is None:
        r = Path(rejects)
        reps_rejects = r.with_name(f"{r.stem}.reps{r.suffix or '.csv'}")
    rrep = _finish_reps(rraw, rout, on_error, None if reps_rejects is None else Path(reps_rejects),
                        pool_warnings)
    arep = _finish_accounts(araw, aout, on_error, None if rejects is None else Path(rejects))
    return aout.book, rout.roster, ImportReport.combine(arep, rrep)


def load_data(accounts: str | Path, reps: str | Path, spec: ScenarioSpec | None = None, *,
              on_error: OnError = "raise", rejects: str | Path | None = None,
              reps_rejects: str | Path | None = None
              ) -> tuple[AccountBook, RepRoster, ImportReport]:
    """Read, validate and cross-check an accounts file and a reps file.

    Besides each file's own rules this checks current owners and locks against the roster and
    warns about reps that no account is eligible for. Errors of both files are raised together.
    ``rejects`` names the accounts rejects file; ``reps_rejects`` defaults to the same name with
    ``.reps`` inserted before the suffix (or ``<reps>.rejects.csv`` when ``rejects`` is None).

    Returns
    -------
    (AccountBook, RepRoster, ImportReport)
        The report sums both files; ``report.accounts`` / ``report.reps`` hold each.
    """
    book, roster, report = _load(accounts, reps, spec, on_error, rejects, reps_rejects)
    _raise_if_needed(report, on_error)
    assert book is not None and roster is not None
    return book, roster, report


def validate_inputs(accounts: str | Path, reps: str | Path, spec: ScenarioSpec | None = None,
                    *, on_error: OnError = "raise", rejects: str | Path | None = None,
                    reps_rejects: str | Path | None = None,
                    base: str | Path | None = None) -> ImportReport:
    """Validate both files and return the report without raising on bad data.

    With ``on_error="skip"`` the rejects files are written as by :func:`load_data`. Unreadable
    or empty files are reported as file-level problems too; only a missing accounts or reps
    file raises.

    A ``mode: geo_unit`` spec's ``inputs.adjacency`` file (relative to ``base``, the spec's
    folder; default the accounts file's folder) is validated against the accounts' units as
    ``load_scenario`` / ``scenario create`` would: its problems (a missing file included) are
    the report's part ``"adjacency"``. It is checked only when the accounts loaded.
    """
    _check_on_error(on_error)
    try:
        book, _, report = _load(accounts, reps, spec, on_error, rejects, reps_rejects)
    except InputValidationError as exc:  # a file that cannot be read at all
        bad = exc.problems[0].source if exc.problems else str(accounts)
        table = "accounts" if bad == str(Path(accounts)) else "reps"
        part = ImportReport(table, bad or "", 0, 0, 0, problems=exc.problems)
        return ImportReport.combine(part)
    if spec is None or book is None:
        return report
    folder = Path(accounts).parent if base is None else Path(base)
    name = spec.inputs.adjacency or ""
    try:
        _, unit_warnings = load_adjacency(spec, folder, book)
    except InputValidationError as exc:
        adj = ImportReport("adjacency", str(spec.resolve(folder, name)), 0, 0, 0,
                           problems=exc.errors,
                           warnings=tuple(p for p in exc.problems if p not in exc.errors))
    else:
        if not unit_warnings:
            return report
        adj = ImportReport("adjacency", str(spec.resolve(folder, name)), 0, 0, 0,
                           warnings=unit_warnings)
    return ImportReport.combine(*(report.parts or (report,)), adj)


def load_scenario(spec_path: str | Path, *, on_error: OnError = "raise",
                  rejects: str | Path | None = None,
                  reps_rejects: str | Path | None = None) -> tuple[Scenario, ImportReport]:
    """Load a scenario: the YAML spec plus the accounts and reps files it names.

    Input paths in the spec are relative to the spec file's folder. The scenario's ``warnings``
    are the report's warnings as text. A ``mode: geo_unit`` spec's ``inputs.adjacency`` (edge
    list or GeoJSON) is read into ``scenario.units`` by :func:`terraplan.io.read_adjacency`
    (every bad row reported); without one, ``units`` is ``None`` (Delaunay fallback).

    Raises
    ------
    SpecError
        The spec is invalid or does not name both input files.
    InputValidationError
        As :func:`load_data`, or the adjacency file has problems.
    """
    sp = Path(spec_path)
    spec = ScenarioSpec.from_yaml(sp)
    base = sp.parent
    acc = spec.resolve(base, spec.inputs.accounts)
    rep = spec.resolve(base, spec.inputs.reps)
    missing = [k for k, v in (("inputs.accounts", acc), ("inputs.reps", rep)) if v is None]
    if missing:
        raise SpecError(f"{sp}: the spec must name its input files; missing {', '.join(missing)}")
    assert acc is not None and rep is not None
    book, roster, report = load_data(acc, rep, spec, on_error=on_error, rejects=rejects,
                                     reps_rejects=reps_rejects)
    units, unit_warnings = load_adjacency(spec, base, book)
    scenario = Scenario(spec=spec, accounts=book, reps=roster, units=units,
                        warnings=tuple(str(w) for w in report.warnings + unit_warnings))
    return scenario, report
