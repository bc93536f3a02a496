"""Money is integer cents, never float. Parsing goes through :class:`decimal.Decimal`."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

Cents = int


def to_cents(value: str | int | Decimal) -> Cents:
    """Convert a money amount in currency units to integer cents (round half up).

    Accepts ``"1,234.50"``, ``"$1234.5"``, ``Decimal("12.345")``, ``12`` (units). Raises
    ``ValueError`` for anything that is not a finite number.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a money amount: {value!r}")
    if isinstance(value, int):
        return value * 100
    if isinstance(value, Decimal):
        d = value
    else:
        text = str(value).strip()
        for ch in ",$€£":
            text = text.replace(ch, "")
        text = text.replace("_", "").replace(" ", "")
        try:
            d = Decimal(text)
        except InvalidOperation as exc:
            raise ValueError(f"not a money amount: {value!r}") from exc
    if not d.is_finite():
        raise ValueError(f"not a finite money amount: {value!r}")
    return int((d * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def format_cents(cents: int, symbol: str = "$") -> str:
    """``123456789 -> '$1,234,567.89'``."""
    sign = "-" if cents < 0 else ""
    units, c = divmod(abs(int(cents)), 100)
    return f"{sign}{symbol}{units:,}.{c:02d}"


def format_compact(cents: int | float, symbol: str = "$") -> str:
    """Human short form for tables: ``$4.1M``, ``$950k``, ``$12``."""
    v = float(cents) / 100.0
    a = abs(v)
    if a >= 1e9:
        return f"{symbol}{v / 1e9:.2f}B"
    if a >= 1e6:
        return f"{symbol}{v / 1e6:.2f}M"
    if a >= 1e3:
        return f"{symbol}{v / 1e3:.1f}k"
    return f"{symbol}{v:.0f}"
