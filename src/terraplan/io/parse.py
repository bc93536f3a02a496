"""Vectorised cell parsers: whole Arrow columns in, numpy arrays and per-row verdicts out.

Each parser returns a :class:`Parsed` with the values, a ``blank`` mask (empty cells) and a
``bad`` mask with one reason per bad row. Python loops run only over rows that need a closer look
(unusual notations, bad values), never over the whole column.

Number notation: currency symbols and codes ($ € £ ¥ USD EUR GBP), spaces, apostrophes and
underscores are ignored; ``(12.50)`` is negative. Commas are thousands separators when they group
digits by three (``1,234,567.89``); a comma followed by other than three digits, or after
dot-grouped thousands (``1.234.567,89``), is a decimal comma. ``1,234`` is therefore one thousand
two hundred and thirty-four. Anything else is reported, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

BoolArray = npt.NDArray[np.bool_]

_PLAIN = r"^[+-]?(\d+\.?\d*|\.\d+)$"
_FLOAT = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_US_GROUPS = r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$"
_EU_DECIMAL = r"^[+-]?(\d{1,3}(\.\d{3})+,\d*|\d{1,3}(\.\d{3}){2,}|\d+,\d+)$"
_NOT_A_NUMBER = r"(?i)^[+-]?(nan|inf|infinity)$"
#: int64 holds 9.2e18; 15 integer digits leave room for x100 (cents) with margin.
_MAX_INT_DIGITS = 15


@dataclass(frozen=True, slots=True, eq=False)
class Parsed:
    """Result of parsing one column.

    ``values`` are meaningful where neither ``blank`` nor a ``bad`` entry is set (0 / NaN there).
    ``bad`` maps row index -> reason (only bad rows appear).
    """

    values: npt.NDArray[Any]
    blank: BoolArray
    bad: dict[int, str] = field(default_factory=dict)

    def bad_mask(self) -> BoolArray:
        m = np.zeros(len(self.blank), dtype=bool)
        if self.bad:
            m[np.fromiter(self.bad, dtype=np.int64, count=len(self.bad))] = True
        return m


def as_text(col: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray:
    """A column as trimmed text (typed Parquet/Excel columns are cast; nulls become ``""``)."""
    if isinstance(col, pa.Array):
        col = pa.chunked_array([col])
    t = col.type
    if pa.types.is_dictionary(t):
        col = col.cast(t.value_type)
        t = col.type
    if pa.types.is_large_string(t):
        col = col.cast(pa.string())
    elif not pa.types.is_string(t):
        if pa.types.is_timestamp(t):
            col = pc.strftime(col, format="%Y-%m-%d")
        elif pa.types.is_date(t):
            col = col.cast(pa.string())
        elif pa.types.is_floating(t):
            # integral floats (ids read as doubles) print without ".0"
            arr = col.to_numpy(zero_copy_only=False)
            integral = np.isfinite(arr) & (np.floor(arr) == arr) & (np.abs(arr) < 1e15)
            text = col.cast(pa.string())
            if integral.any():
                ints = pc.cast(pc.if_else(pa.array(integral), col, 0.0), pa.int64()).cast(
                    pa.string())
                text = pc.if_else(pa.array(integral), ints, text)
            col = text
        else:
            col = col.cast(pa.string())
    # Trimming and null-filling copy the column; a clean million-row export needs neither, so
    # test first (cheap) and keep sharing the reader's buffers when possible.
    if col.null_count:
        col = pc.fill_null(col, "")
    if _has_edge_space(col):
        col = pc.utf8_trim_whitespace(col)
    return col


def _has_edge_space(col: pa.ChunkedArray) -> bool:
    """Whether any cell starts or ends with whitespace (first/last characters only: fast)."""
    for start, stop in ((0, 1), (-1, None)):
        edge = pc.utf8_slice_codeunits(col, start, stop)
        if pc.any(pc.utf8_is_space(edge)).as_py():
            return True
    return False


def blank_mask(text: pa.ChunkedArray) -> BoolArray:
    return np.asarray(pc.equal(text, "").to_numpy(zero_copy_only=False), dtype=bool)


def _np_bool(a: pa.ChunkedArray | pa.Array) -> BoolArray:
    return np.asarray(pc.fill_null(a, False).to_numpy(zero_copy_only=False), dtype=bool)


def normalise_number_text(text: pa.ChunkedArray) -> pa.ChunkedArray:
    """Strip currency marks and separators so that plain decimal notation remains."""
    if _np_bool(pc.match_substring_regex(text, _PLAIN)).all():
        return text  # the common, clean case costs one regex pass
    s = pc.replace_substring_regex(text, r"^\((.*)\)$", r"-\1")
    s = pc.replace_substring_regex(s, r"(?i)[$€£¥]|\b(usd|eur|gbp)\b", "")
    s = pc.replace_substring_regex(s, "[\\s\\x{00A0}\\x{202F}'_]", "")
    s = pc.replace_substring_regex(s, r"^([+-]?)[+-]?", r"\1")  # "$-5" left "-" in front already
    us = pc.match_substring_regex(s, _US_GROUPS)
    s = pc.if_else(us, pc.replace_substring(s, ",", ""), s)
    eu = pc.match_substring_regex(s, _EU_DECIMAL)
    s = pc.if_else(eu, pc.replace_substring(pc.replace_substring(s, ".", ""), ",", "."), s)
    return s


def _reason_for(raw: str) -> str:
    if raw.strip().lower().lstrip("+-") == "nan":
        return "NaN is not a number"
    if raw.strip().lower().lstrip("+-") in ("inf", "infinity"):
        return "infinite value"
    return "not a number"


def parse_float(col: pa.ChunkedArray) -> Parsed:
    """Parse a numeric column to float64; NaN, infinite and malformed cells are ``bad``."""
    n = len(col)
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type) \
            or pa.types.is_decimal(col.type):
        vals = np.asarray(pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False),
                          dtype=np.float64)
        blank = np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        vals = np.where(blank, np.nan, vals)
        badidx = np.flatnonzero(~blank & ~np.isfinite(vals))
        return Parsed(vals, blank, {
            int(i): ("NaN is not a number" if np.isnan(vals[i]) else "infinite value")
            for i in badidx.tolist()})
    text = as_text(col)
    blank = blank_mask(text)
    fast = _try_cast(text, blank, pa.float64())
    if fast is not None:  # plain notation throughout: Arrow parsed every cell
        vals = np.array(fast.to_numpy(zero_copy_only=False), dtype=np.float64)
        vals[blank] = np.nan
        badidx = np.flatnonzero(~blank & ~np.isfinite(vals))
        return Parsed(vals, blank, {
            int(i): ("NaN is not a number" if np.isnan(vals[i]) else "infinite value")
            for i in badidx.tolist()})
    s = normalise_number_text(text)
    ok = _np_bool(pc.match_substring_regex(s, _FLOAT))
    safe = pc.if_else(pa.array(ok), s, "0") if not ok.all() else s
    vals = np.asarray(pc.cast(safe, pa.float64()).to_numpy(zero_copy_only=False),
                      dtype=np.float64)
    vals = vals.copy() if not vals.flags.writeable else vals
    vals[~ok] = np.nan
    bad: dict[int, str] = {}
    wrong = np.flatnonzero(~ok & ~blank)
    if len(wrong):
        raw = text.take(pa.array(wrong)).to_pylist()
        bad.update({int(i): _reason_for(v) for i, v in zip(wrong.tolist(), raw, strict=True)})
    overflow = np.flatnonzero(ok & ~np.isfinite(vals))
    bad.update({int(i): "infinite value" for i in overflow.tolist()})
    assert n == len(vals)
    return Parsed(vals, blank, bad)


def _try_cast(text: pa.ChunkedArray, blank: BoolArray, to: pa.DataType) -> pa.Array | None:
    """``text`` cast to ``to`` (blank cells as 0) when every cell converts, else None."""
    if not len(text):
        return pa.array([], type=to)
    safe = pc.if_else(pa.array(blank), "0", text) if blank.any() else text
    try:
        out = pc.cast(safe, to)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out


def _decimal_unscaled(arr: pa.Array) -> npt.NDArray[np.int64]:
    """Unscaled integers of a decimal128 array whose values fit in int64 (precision <= 18).

    Each value is 16 little-endian bytes; for values in int64 range the low 8 bytes, read as a
    signed integer, are the value itself (two's complement).
    """
    words = np.frombuffer(arr.buffers()[1], dtype=np.int64)
    return np.array(words[2 * arr.offset: 2 * (arr.offset + len(arr)): 2], dtype=np.int64)


def _decimal_cents(text: str, scale: int) -> int:
    d = Decimal(text)
    if not d.is_finite():
        raise ValueError("NaN is not a number" if d.is_nan() else "infinite value")
    q = (d * scale).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    if abs(q) >= 10 ** (_MAX_INT_DIGITS + 2):
        raise ValueError("amount too large")
    return int(q)


def parse_money(col: pa.ChunkedArray, unit: str = "units") -> Parsed:
    """Parse a money column to exact integer cents (round half up, as :func:`to_cents`).

    ``unit`` is ``"units"`` (dollars, euros: multiply by 100) or ``"cents"`` (already cents;
    fractions of a cent round half up). Float columns (Parquet, Excel) go through their shortest
    decimal text, so ``1234.565`` becomes 123457 cents exactly as typed, not as the binary double.
    """
    digits = 2 if unit == "units" else 0
    scale = 10**digits
    n = len(col)
    if pa.types.is_integer(col.type):
        blank = np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        ints = np.asarray(pc.fill_null(col, 0).cast(pa.int64()).to_numpy(zero_copy_only=False),
                          dtype=np.int64)
        big = np.abs(ints) >= 10**_MAX_INT_DIGITS
        return Parsed(np.where(big, 0, ints) * scale, blank,
                      {int(i): "amount too large" for i in np.flatnonzero(big).tolist()})
    text = as_text(col)
    blank = blank_mask(text)
    # Fast path for the usual export: Arrow's cast to decimal(18, 2) (or (18, 0) for cents) is
    # exact and refuses any cell with more decimals, another notation or too many digits; the
    # decimal's unscaled value then *is* the amount in cents.
    fast = _try_cast(text, blank, pa.decimal128(18, digits))
    if fast is not None:
        cents_fast = _decimal_unscaled(fast)
        cents_fast[blank] = 0
        return Parsed(cents_fast, blank, {})
    s = normalise_number_text(text)
    parts = pc.extract_regex(s, r"^(?P<sign>[+-]?)(?P<int>\d*)\.?(?P<frac>\d*)$")
    matched = _np_bool(pc.is_valid(parts)) & ~blank
    sign = pc.fill_null(pc.struct_field(parts, "sign"), "")
    ipart = pc.fill_null(pc.struct_field(parts, "int"), "")
    frac = pc.fill_null(pc.struct_field(parts, "frac"), "")
    ilen = np.asarray(pc.utf8_length(ipart).to_numpy(zero_copy_only=False), dtype=np.int64)
    flen = np.asarray(pc.utf8_length(frac).to_numpy(zero_copy_only=False), dtype=np.int64)
    # "." alone or "-" alone match the pattern but hold no digit
    matched &= (ilen + flen) > 0
    fast = matched & (ilen <= _MAX_INT_DIGITS)
    fast_arr = pa.array(fast)
    ipart = pc.if_else(fast_arr, pc.if_else(pc.equal(ipart, ""), "0", ipart), "0")
    whole = np.asarray(pc.cast(ipart, pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)
    # keep digits+1 fractional digits: the first `digits` are cents, the next decides rounding
    frac = pc.if_else(fast_arr, frac, "")
    frac = pc.utf8_slice_codeunits(pc.utf8_rpad(frac, width=digits + 1, padding="0"), 0,
                                   digits + 1)
    f = np.asarray(pc.cast(frac, pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)
    cents = whole * scale + f // 10 + (f % 10 >= 5)
    neg = _np_bool(pc.equal(sign, "-"))
    cents = np.where(neg, -cents, cents)
    cents = np.where(fast, cents, 0)
    bad: dict[int, str] = {}
    slow = np.flatnonzero(~fast & ~blank)
    if len(slow):
        raw_norm = s.take(pa.array(slow)).to_pylist()
        raw = text.take(pa.array(slow)).to_pylist()
        for i, v, r in zip(slow.tolist(), raw_norm, raw, strict=True):
            try:
                cents[i] = _decimal_cents(v, scale)  # scientific notation, huge values
            except ValueError as exc:
                bad[i] = str(exc) if str(exc) in ("amount too large", "infinite value",
                                                  "NaN is not a number") else _reason_for(r)
            except (InvalidOperation, ArithmeticError):
                bad[i] = _reason_for(r)
    assert len(cents) == n
    return Parsed(cents.astype(np.int64, copy=False), blank, bad)


def split_list(value: str) -> frozenset[str]:
    """An eligibility list cell (``"SMB; MM"`` or ``"SMB|MM"``) as a set; blank = any."""
    if not value:
        return frozenset()
    sep = ";" if ";" in value else "|"
    return frozenset(v.strip() for v in value.split(sep) if v.strip())
