"""Read a CRM export (CSV, Parquet or Excel) into a raw Arrow table, and write rejects files.

Everything here is format plumbing; no business rule lives in this module. The reader keeps the
user's values as they are (CSV cells stay text) so that validation can quote the exact value it
rejects and the rejects file can give the user back their own row.

CSV specifics
-------------
* Encoding: a byte-order mark decides (UTF-8, UTF-16); otherwise the whole file is checked as
  UTF-8 with an incremental decoder (cheap and constant memory) and, failing that, read as
  Windows-1252 — what Excel writes on Windows — or Latin-1 when the file holds bytes that
  Windows-1252 leaves undefined.
* Delimiter: sniffed among ``,`` ``;`` tab and ``|`` from the first lines: the candidate that
  splits every sample line into the same number (> 1) of fields wins, ties going to the one
  giving the most fields.
* Rows with the wrong number of fields are not fatal: they are kept aside as :class:`RaggedRow`
  with their spreadsheet row number, so the caller can reject them and keep counting.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import math
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from terraplan.errors import InputValidationError, Problem

log = logging.getLogger(__name__)

#: Delimiters the sniffer considers, in order of preference on ties.
DELIMITERS = (",", ";", "\t", "|")
_SAMPLE_BYTES = 1 << 16
_CHUNK = 1 << 24

CSV_SUFFIXES = (".csv", ".txt", ".tsv")
PARQUET_SUFFIXES = (".parquet", ".pq")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")


@dataclass(frozen=True, slots=True)
class RaggedRow:
    """A CSV row with the wrong number of fields, kept aside during parsing."""

    row: int  # spreadsheet row number (header = 1)
    expected: int
    actual: int
    text: str


@dataclass(slots=True, eq=False)
class RawTable:
    """A file as read, before validation.

    ``rownum[i]`` is the spreadsheet row number (header = row 1) of data row ``i``; rows with a
    wrong field count are in ``ragged`` and not in ``table``. Row indices everywhere refer to the
    rows as read, even after :meth:`shrink_to` dropped the rows no longer needed.
    """

    table: pa.Table
    source: str
    rownum: npt.NDArray[np.int64]
    ragged: tuple[RaggedRow, ...] = ()
    encoding: str | None = None
    delimiter: str | None = None
    notes: tuple[Problem, ...] = field(default_factory=tuple)
    n_rows: int = -1  # rows as read (set from the table)
    kept: npt.NDArray[np.intp] | None = None  # rows still in ``table`` after shrink_to

    def __post_init__(self) -> None:
        if self.n_rows < 0:
            self.n_rows = self.table.num_rows

    @property
    def rows_in(self) -> int:
        """Number of data rows in the file (parsed rows plus ragged rows)."""
        return self.n_rows + len(self.ragged)

    @property
    def columns(self) -> list[str]:
        return list(self.table.column_names)

    def shrink_to(self, rows: npt.NDArray[np.intp]) -> None:
        """Keep only ``rows`` (sorted indices as read) of the table, e.g. the rejected ones.

        A million-row export is large; once validation has taken what it needs, only the
        rejected rows are still needed (for the rejects file), so the rest is let go.
        """
        rows = np.asarray(rows, dtype=np.intp)
        pos = rows if self.kept is None else np.searchsorted(self.kept, rows)
        self.table = self.table.take(pa.array(pos, type=pa.int64()))
        self.kept = rows

    def positions(self, rows: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
        """Positions in ``table`` of ``rows`` (indices as read); they must not have been dropped."""
        rows = np.asarray(rows, dtype=np.intp)
        if self.kept is None:
            return rows
        pos = np.searchsorted(self.kept, rows)
        if len(rows) and (pos.max() >= len(self.kept) or np.any(self.kept[pos] != rows)):
            raise ValueError("rows were dropped from the raw table by shrink_to")
        return pos


def release_memory() -> None:
    """Hand memory freed by Arrow and by the C heap back to the operating system.

    Validation makes many column-sized temporaries. Arrow's allocator and glibc's heap keep
    freed pages for reuse, so without this the resident size of a million-row import would
    grow to several times the file size even though little is live. ``malloc_trim`` exists only
    on glibc; elsewhere this is just Arrow's release.
    """
    pa.default_memory_pool().release_unused()
    if _malloc_trim is not None:
        _malloc_trim(0)


@contextmanager
def import_memory_pool() -> Iterator[None]:
    """Make Arrow allocate from jemalloc (or the C heap) while an import runs.

    Arrow's default allocator (mimalloc in the wheels) keeps pages freed by another thread's
    heap, so the column-sized temporaries of validation pile up: on a million rows the peak
    resident size was 3.5x the file against 2.9x with jemalloc, which hands freed pages back on
    :func:`release_memory`. Buffers remember their pool, so switching back afterwards is safe.
    """
    global _pool_depth, _pool_previous
    # Imports may run concurrently (API workers): the first one in switches the pool, the last
    # one out restores it, so the process default never stays switched by accident.
    with _pool_lock:
        if _pool_depth == 0:
            try:
                pool = pa.jemalloc_memory_pool()
            except (NotImplementedError, pa.ArrowNotImplementedError):
                pool = pa.system_memory_pool()
            _pool_previous = pa.default_memory_pool()
            pa.set_memory_pool(pool)
        _pool_depth += 1
    try:
        yield
    finally:
        with _pool_lock:
            _pool_depth -= 1
            if _pool_depth == 0 and _pool_previous is not None:
                pa.set_memory_pool(_pool_previous)
                _pool_previous = None


_pool_lock = threading.Lock()
_pool_depth = 0
_pool_previous: pa.MemoryPool | None = None


def _find_malloc_trim() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


_malloc_trim = _find_malloc_trim()


def _fatal(source: str, reason: str, code: str) -> InputValidationError:
    return InputValidationError([Problem(reason, code=code, source=source)], rows_in=0)


def detect_encoding(path: Path) -> str:
    """Name of the codec to read ``path`` with (see the module docstring for the rules)."""
    with path.open("rb") as fh:
        head = fh.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        fh.seek(0)
        dec = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := fh.read(_CHUNK):
                dec.decode(chunk)
            dec.decode(b"", final=True)
            return "utf-8"
        except UnicodeDecodeError:
            pass
        fh.seek(0)
        dec1252 = codecs.getincrementaldecoder("cp1252")()
        try:
            while chunk := fh.read(_CHUNK):
                dec1252.decode(chunk)
            return "cp1252"
        except UnicodeDecodeError:
            return "latin-1"


def sniff_delimiter(sample: str) -> str:
    """Pick the delimiter among :data:`DELIMITERS` that splits ``sample`` most consistently."""
    lines = sample.splitlines()
    if len(lines) > 1 and not sample.endswith(("\n", "\r")):
        lines = lines[:-1]  # the sample may cut the last line short
    lines = [ln for ln in lines[:50] if ln.strip()]
    if not lines:
        return ","
    best, best_key = ",", (-1, -1, 0)
    for rank, d in enumerate(DELIMITERS):
        try:
            counts = [len(r) for r in csv.reader(lines, delimiter=d)]
        except csv.Error:
            continue
        if not counts or counts[0] < 2:
            continue
        consistent = sum(c == counts[0] for c in counts)
        key = (consistent, counts[0], -rank)
        if key > best_key:
            best, best_key = d, key
    return best


def _dedupe_header(names: Sequence[str]) -> list[str]:
    """Make header names unique (``a``, ``a`` -> ``a``, ``a.1``) so Arrow can hold them."""
    seen: dict[str, int] = {}
    out = []
    for raw in names:
        n = raw.strip()
        if n in seen:
            seen[n] += 1
            n = f"{n}.{seen[n]}"
            while n in seen:
                n += "_"
        seen.setdefault(n, 0)
        out.append(n)
    return out


def read_csv_table(path: Path, *, encoding: str | None = None,
                   delimiter: str | None = None) -> RawTable:
    """Read a CSV file with every column as text; see the module docstring for detection."""
    source = str(path)
    enc = encoding or detect_encoding(path)
    with path.open("rb") as fh:
        raw_sample = fh.read(_SAMPLE_BYTES)
    sample = raw_sample.decode(enc, errors="replace")
    if enc == "utf-8-sig" and sample.startswith("\ufeff"):
        sample = sample[1:]
    if not sample.strip():
        raise _fatal(source, "the file is empty (expected a header row)", "empty_file")
    if "\x00" in sample:
        raise _fatal(source, "the file looks binary, not CSV text", "not_csv")
    delim = delimiter or sniff_delimiter(sample)
    try:
        header = next(csv.reader(io.StringIO(sample), delimiter=delim))
    except (csv.Error, StopIteration):
        raise _fatal(source, "cannot read the header row", "bad_header") from None
    names = _dedupe_header(header)
    # Quoted values that span lines need the slower parser mode; only pay for it when the sample
    # shows them (a quoted field containing a newline).
    multiline = False
    try:
        multiline = any("\n" in f or "\r" in f
                        for r in csv.reader(io.StringIO(sample), delimiter=delim) for f in r)
    except csv.Error:
        multiline = False
    ragged: list[RaggedRow] = []

    def on_invalid(row: Any) -> str:
        ragged.append(RaggedRow(row.number or 0, row.expected_columns, row.actual_columns,
                                row.text))
        return "skip"

    try:
        # Single-threaded on purpose: it knows the row number of every ragged row, and on two
        # cores it is about as fast while leaving less freed memory in per-thread heaps (the
        # 1M-row peak was ~3.0x the file threaded against ~2.8x).
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(
                encoding="utf8" if enc == "utf-8" else enc, column_names=names, skip_rows=1,
                use_threads=False, block_size=1 << 22),
            parse_options=pacsv.ParseOptions(delimiter=delim, newlines_in_values=multiline,
                                             invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=False,
                quoted_strings_can_be_null=False),
        )
    except pa.ArrowInvalid as exc:
        raise _fatal(source, f"cannot parse the file as CSV: {exc}", "not_csv") from None
    except UnicodeDecodeError as exc:
        raise _fatal(source, f"cannot decode the file as {enc}: {exc.reason}",
                     "encoding") from None
    # the utf-8-sig codec already strips the BOM; a BOM left in a header name would break mapping
    if table.num_columns and table.column_names[0].startswith("\ufeff"):
        table = table.rename_columns([table.column_names[0][1:], *table.column_names[1:]])
    rownum = _row_numbers(table.num_rows, [r.row for r in ragged])
    release_memory()  # the parser's block buffers
    return RawTable(table, source, rownum, tuple(sorted(ragged, key=lambda r: r.row)), enc, delim)


def _row_numbers(n: int, skipped: Sequence[int]) -> npt.NDArray[np.int64]:
    """Spreadsheet row numbers of ``n`` parsed rows when the rows ``skipped`` were set aside."""
    if not skipped:
        return np.arange(2, n + 2, dtype=np.int64)
    # the file's data rows are 2 .. n+k+1; the parsed rows are those that were not set aside
    everything = np.arange(2, n + len(skipped) + 2, dtype=np.int64)
    kept = np.setdiff1d(everything, np.asarray(skipped, dtype=np.int64), assume_unique=False)
    if len(kept) < n:  # row numbers outside the expected range: fall back to extending
        kept = np.concatenate([kept, np.arange(n - len(kept), dtype=np.int64) + everything[-1] + 1])
    return kept[:n]


def read_parquet_table(path: Path) -> RawTable:
    """Read a Parquet file (column types are kept; validation casts as needed)."""
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise _fatal(str(path), f"cannot read the file as Parquet: {exc}", "not_parquet") from None
    names = _dedupe_header([str(c) for c in table.column_names])
    table = table.rename_columns(names)
    return RawTable(table, str(path), np.arange(2, table.num_rows + 2, dtype=np.int64))


def _cell_text(v: Any) -> str:
    """Excel cell value as the text a user would type (numbers without spurious ``.0``)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isfinite(v) and v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        return repr(v)
    if isinstance(v, datetime):
        return v.date().isoformat() if v.time() == time(0) else v.isoformat()
    if isinstance(v, date):
        return v.isoformat()
    return str(v)


def read_excel_table(path: Path, sheet: str | None = None) -> RawTable:
    """Read the first (or the named) worksheet of an ``.xlsx`` file; the first row is the header."""
    import openpyxl  # imported lazily: only Excel users pay for it

    source = str(path)
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:  # openpyxl raises many types for a corrupt or foreign file
        raise _fatal(source, f"cannot read the file as Excel (.xlsx): {exc}", "not_excel") from None
    try:
        if sheet is not None and sheet not in wb.sheetnames:
            raise _fatal(source, f"no worksheet named {sheet!r}; found {wb.sheetnames}",
                         "bad_sheet")
        ws = wb[sheet] if sheet is not None else wb.worksheets[0]
        rows = ws.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None or all(v is None for v in header):
            raise _fatal(source, "the worksheet is empty (expected a header row)", "empty_file")
        width = len(header)
        while width and header[width - 1] is None:
            width -= 1
        names = _dedupe_header([_cell_text(v) or f"column_{i + 1}"
                                for i, v in enumerate(header[:width])])
        cols: list[list[str]] = [[] for _ in names]
        blank_tail = 0
        for r in rows:
            cells = [_cell_text(v) for v in r[:width]]
            cells += [""] * (width - len(cells))
            for c, v in zip(cols, cells, strict=True):
                c.append(v)
            blank_tail = blank_tail + 1 if not any(cells) else 0
        if blank_tail:  # trailing empty rows are formatting, not data
            cols = [c[:-blank_tail] for c in cols]
    finally:
        wb.close()
    table = pa.table({n: pa.array(c, type=pa.string()) for n, c in zip(names, cols, strict=True)})
    return RawTable(table, source, np.arange(2, table.num_rows + 2, dtype=np.int64))


def read_table(path: str | Path, *, encoding: str | None = None,
               delimiter: str | None = None, sheet: str | None = None) -> RawTable:
    """Read a CSV, Parquet or Excel file by its suffix (anything unknown is tried as CSV)."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(2, "No such file or directory", str(p))
    if p.is_dir():
        raise IsADirectoryError(21, "Is a directory", str(p))
    suffix = p.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        return read_parquet_table(p)
    if suffix in EXCEL_SUFFIXES:
        return read_excel_table(p, sheet)
    if suffix == ".xls":
        raise _fatal(str(p), "legacy .xls workbooks are not supported; save as .xlsx or CSV",
                     "unsupported_format")
    return read_csv_table(p, encoding=encoding, delimiter=delimiter)


def write_rejects(raw: RawTable, rejected: npt.NDArray[np.intp], reasons: Sequence[str],
                  path: str | Path) -> Path:
    """Write the rejected rows (the user's own columns + ``row`` + ``reason``) to ``path``.

    ``rejected`` indexes ``raw.table``; ``reasons`` holds one text per rejected table row followed
    by one per ragged row. Ragged rows are written positionally (padded or cut to the header), and
    their reason quotes the raw line. CSV (UTF-8) unless the suffix says Parquet.
    """
    p = Path(path)
    names = raw.columns
    row_col = "row" if "row" not in names else "_row"
    reason_col = "reason" if "reason" not in names else "_reason"
    taken = raw.table.take(pa.array(raw.positions(rejected), type=pa.int64()))
    cols: dict[str, Any] = {}
    for n in names:
        col = taken.column(n)
        if not pa.types.is_string(col.type):
            col = col.cast(pa.string())
        cols[n] = col.to_pylist()
    rows = raw.rownum[rejected].tolist()
    for rg in raw.ragged:
        try:
            fields = next(csv.reader([rg.text], delimiter=raw.delimiter or ","))
        except (csv.Error, StopIteration):
            fields = [rg.text]
        fields = (fields + [""] * len(names))[: len(names)]
        for n, v in zip(names, fields, strict=True):
            cols[n].append(v)
        rows.append(rg.row)
    order = np.argsort(np.asarray(rows, dtype=np.int64), kind="stable").tolist()
    header = [*names, row_col, reason_col]
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.suffix.lower() in PARQUET_SUFFIXES:
        out = {n: pa.array([v[i] for i in order], type=pa.string()) for n, v in cols.items()}
        out[row_col] = pa.array([rows[i] for i in order], type=pa.int64())
        out[reason_col] = pa.array([reasons[i] for i in order], type=pa.string())
        pq.write_table(pa.table(out), p)
    else:
        # the csv module quotes only where needed, so the file reads like the user's own
        with p.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(header)
            data = [cols[n] for n in names]
            w.writerows([*(c[i] for c in data), rows[i], reasons[i]] for i in order)
    return p
