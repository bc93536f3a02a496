"""The import report and the problem collector shared by the account and rep importers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from terraplan.errors import Problem, Severity

OnError = Literal["raise", "skip"]
ON_ERROR_VALUES = ("raise", "skip")


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import read, loaded and rejected, and why.

    Invariant: ``rows_in == rows_loaded + rows_rejected``. ``problems`` holds the errors (each
    rejected row has at least one, file-level errors have ``row=None``); ``warnings`` the
    non-fatal findings (unknown columns, blank values defaulted, reps without an eligible pool).
    ``rows_loaded`` / ``rows_rejected`` split the rows by validity even in ``on_error="raise"``
    mode, where nothing is loaded when there is any error: they tell what ``"skip"`` would do.

    A report of several files (:func:`terraplan.io.load_data`) sums the counts and concatenates
    the problems; ``parts`` holds the per-file reports (``table`` = ``"accounts"``, ``"reps"``).
    """

    table: str
    source: str
    rows_in: int
    rows_loaded: int
    rows_rejected: int
    problems: tuple[Problem, ...] = ()
    warnings: tuple[Problem, ...] = ()
    rejects_path: Path | None = None
    parts: tuple[ImportReport, ...] = ()

    def __post_init__(self) -> None:
        if self.rows_in != self.rows_loaded + self.rows_rejected:
            raise AssertionError(
                f"import invariant broken for {self.source}: rows in {self.rows_in} != loaded "
                f"{self.rows_loaded} + rejected {self.rows_rejected}")

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not self.problems

    def part(self, table: str) -> ImportReport:
        """The per-file report of ``table`` (``"accounts"`` or ``"reps"``)."""
        if self.table == table:
            return self
        for p in self.parts:
            if p.table == table:
                return p
        raise KeyError(table)

    @property
    def accounts(self) -> ImportReport:
        return self.part("accounts")

    @property
    def reps(self) -> ImportReport:
        return self.part("reps")

    @classmethod
    def combine(cls, *parts: ImportReport) -> ImportReport:
        return cls(
            table="+".join(p.table for p in parts), source=", ".join(p.source for p in parts),
            rows_in=sum(p.rows_in for p in parts), rows_loaded=sum(p.rows_loaded for p in parts),
            rows_rejected=sum(p.rows_rejected for p in parts),
            problems=tuple(x for p in parts for x in p.problems),
            warnings=tuple(x for p in parts for x in p.warnings),
            rejects_path=next((p.rejects_path for p in parts if p.rejects_path), None),
            parts=tuple(parts),
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (used by ``terraplan validate --json`` and the API)."""

        def prob(p: Problem) -> dict[str, Any]:
            return {"severity": p.severity.value, "code": p.code, "source": p.source,
                    "row": p.row, "column": p.column, "value": p.value, "reason": p.reason}

        d: dict[str, Any] = {
            "table": self.table, "source": self.source, "rows_in": self.rows_in,
            "rows_loaded": self.rows_loaded, "rows_rejected": self.rows_rejected,
            "rejects_path": None if self.rejects_path is None else str(self.rejects_path),
            "errors": [prob(p) for p in self.problems],
            "warnings": [prob(p) for p in self.warnings],
        }
        if self.parts:
            d["parts"] = [p.to_dict() for p in self.parts]
        return d


class Collector:
    """Collects problems for one table and tracks which rows are bad.

    ``rownum`` maps table row index -> spreadsheet row number. Vectorised checks pass a boolean
    mask; only the flagged rows are visited in Python.
    """

    def __init__(self, source: str, rownum: npt.NDArray[np.int64]) -> None:
        self.source = source
        self.rownum = rownum
        self.bad = np.zeros(len(rownum), dtype=bool)
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []
        self.fatal: list[Problem] = []  # file-level errors: nothing can be loaded
        self.row_reasons: dict[int, list[str]] = {}

    def error_rows(self, idx: Sequence[int] | npt.NDArray[np.intp], column: str | None,
                   values: Sequence[Any], reasons: str | Sequence[str], code: str) -> None:
        """Record an error for each row index in ``idx`` (values/reasons aligned to ``idx``)."""
        idx_list = [int(i) for i in (idx.tolist() if isinstance(idx, np.ndarray) else idx)]
        if not idx_list:
            return
        rs = [reasons] * len(idx_list) if isinstance(reasons, str) else list(reasons)
        rows = self.rownum[np.asarray(idx_list, dtype=np.int64)].tolist()
        for i, r, v, why in zip(idx_list, rows, values, rs, strict=True):
            self.errors.append(Problem(why, row=int(r), column=column,
                                       value=None if v is None else str(v), code=code,
                                       source=self.source))
            self.row_reasons.setdefault(i, []).append(f"{column}: {why}" if column else why)
        self.bad[np.asarray(idx_list, dtype=np.int64)] = True

    def error_mask(self, mask: npt.NDArray[np.bool_], column: str | None,
                   values: Sequence[Any] | Any, reason: str, code: str) -> None:
        """Record ``reason`` for every row where ``mask`` is set; ``values`` is the full column
        (anything supporting ``take``) or a list aligned to the column."""
        idx = np.flatnonzero(mask)
        if not len(idx):
            return
        self.error_rows(idx, column, take_values(values, idx), reason, code)

    def warn(self, reason: str, *, column: str | None = None, row: int | None = None,
             value: str | None = None, code: str = "warning") -> None:
        self.warnings.append(Problem(reason, row=row, column=column, value=value,
                                     severity=Severity.WARNING, code=code, source=self.source))

    def file_error(self, reason: str, *, column: str | None = None, code: str = "invalid") -> None:
        self.fatal.append(Problem(reason, column=column, code=code, source=self.source))

    def reasons_for(self, idx: npt.NDArray[np.intp]) -> list[str]:
        return ["; ".join(self.row_reasons.get(int(i), ["rejected"])) for i in idx.tolist()]


def take_values(values: Any, idx: npt.NDArray[np.intp]) -> list[Any]:
    """Values of rows ``idx`` from an Arrow column, numpy array or list (for problem messages)."""
    if hasattr(values, "take") and not isinstance(values, np.ndarray):
        import pyarrow as pa

        return list(values.take(pa.array(idx, type=pa.int64())).to_pylist())
    if isinstance(values, np.ndarray):
        return list(values[idx].tolist())
    return [values[int(i)] for i in idx.tolist()]


def rows_text(rows: Sequence[int], limit: int = 5) -> str:
    """``[2, 5, 9, 11, 12, 40]`` -> ``'2, 5, 9, 11, 12 and 1 more'``."""
    shown = ", ".join(str(r) for r in rows[:limit])
    return shown + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


__all__ = ["Collector", "ImportReport", "OnError"]
