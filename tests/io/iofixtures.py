"""Tiny CSV fixtures for the import tests, written to a temporary folder."""

from __future__ import annotations

from pathlib import Path

from terraplan.domain import Rep, RepRoster

REPS = RepRoster.of([Rep(id="r1", segments=frozenset({"SMB"})), Rep(id="r2")])


def write(tmp: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` (a CSV with ``\\n`` line ends) to ``tmp/name`` and return the path."""
    p = tmp / name
    p.write_bytes(text.encode(encoding))
    return p


def codes(problems: object) -> list[tuple[int | None, str]]:
    """``(row, code)`` of each problem, for compact assertions."""
    return [(p.row, p.code) for p in problems]  # type: ignore[attr-defined]


def csv_rows(path: Path) -> list[list[str]]:
    """All rows of a CSV file (closed before returning: tests run with warnings as errors)."""
    import csv

    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))
