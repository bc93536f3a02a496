"""Regenerate the sample data of ``scenarios/carve`` and ``scenarios/geo_unit`` (deterministic).

    python scenarios/make_territory_examples.py

Both use the seeded generator (:func:`terraplan.io.generator.generate_book`, planar km, no
locked accounts). ``geo_unit`` keeps only the first three digits of every postal code
(ZIP3 areas), so its 300 accounts fall into a few dozen geographic units.
"""

from __future__ import annotations

import csv
from pathlib import Path

from terraplan.io.generator import generate_book, write_book

HERE = Path(__file__).resolve().parent


def main() -> None:
    carve = generate_book(300, 6, 7, coord_system="planar", locked_share=0.0)
    write_book(carve, HERE / "carve")
    geo = generate_book(300, 6, 7, coord_system="planar", locked_share=0.0)
    accounts, _ = write_book(geo, HERE / "geo_unit")
    with accounts.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    col = rows[0].index("postal_code")
    for row in rows[1:]:
        row[col] = row[col][:3]
    with accounts.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


if __name__ == "__main__":
    main()
