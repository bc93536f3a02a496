"""Import speed and memory at 1M accounts (target: <= 60 s, peak memory <= ~3x the file size).

Usage::

    python benchmarks/bench_import.py [--accounts 1000000] [--reps 500] [--seed 7]
                                      [--data-dir /tmp/terraplan-bench] [--format csv|parquet]
                                      [--repeat 1]

The book is made by :mod:`terraplan.io.generator` (reused from ``--data-dir`` when already there)
and each timed import runs in a fresh child process, so its peak RSS (``ru_maxrss``) belongs to
that import alone. We report the peak RSS and the peak minus the RSS the child had after importing
terraplan (the interpreter, numpy, pandas, pyarrow), i.e. the memory the import itself held.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
def rss_mb():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20
import terraplan.io as tio
base = rss_mb()
t0 = time.perf_counter()
book, roster, report = tio.load_data(sys.argv[1], sys.argv[2], on_error="skip",
                                     rejects=sys.argv[3])
dt = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": dt, "base_mb": base, "peak_mb": peak, "rows_in": report.rows_in,
                  "rows_loaded": report.rows_loaded, "rows_rejected": report.rows_rejected,
                  "accounts": len(book), "reps": len(roster), "warnings": len(report.warnings)}))
"""


def ensure_data(n: int, reps: int, seed: int, data_dir: Path, fmt: str) -> tuple[Path, Path]:
    d = data_dir / f"book-{n}-{reps}-{seed}"
    acc, rep = d / f"accounts.{fmt}", d / f"reps.{fmt}"
    if acc.exists() and rep.exists():
        return acc, rep
    from terraplan.io.generator import generate_book, write_book

    t0 = time.perf_counter()
    book = generate_book(n, reps, seed)
    write_book(book, d, fmt=fmt)  # type: ignore[arg-type]
    print(f"generated {n:,} accounts in {time.perf_counter() - t0:.1f} s -> {d}")
    return acc, rep


def make_dirty(acc: Path, share: float, seed: int) -> Path:
    """Copy of ``acc`` with ``share`` of the rows broken: half get a non-numeric potential, half
    repeat an earlier id. Exercises the problem loop and the rejects file at scale."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    out = acc.with_name(f"{acc.stem}.dirty{share:g}.csv")
    if out.exists():
        return out
    t = pacsv.read_csv(acc, convert_options=pacsv.ConvertOptions(
        column_types={n: pa.string() for n in pacsv.read_csv(acc, read_options=pacsv.ReadOptions(
            block_size=1 << 16)).column_names}, strings_can_be_null=False))
    rng = np.random.default_rng(seed)
    n = t.num_rows
    bad = rng.choice(np.arange(1, n), size=int(n * share), replace=False)
    half = len(bad) // 2
    pot = np.asarray(t.column("potential").to_pylist(), dtype=object)
    pot[bad[:half]] = "n/a"
    ids = np.asarray(t.column("id").to_pylist(), dtype=object)
    ids[bad[half:]] = ids[rng.integers(0, n, size=len(bad) - half)]
    t = t.set_column(t.column_names.index("potential"), "potential", pa.array(pot.tolist()))
    t = t.set_column(t.column_names.index("id"), "id", pa.array(ids.tolist()))
    pacsv.write_csv(t, out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=500)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--data-dir", type=Path, default=Path("/tmp/terraplan-bench"))
    ap.add_argument("--format", choices=("csv", "parquet"), default="csv")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--dirty", type=float, default=0.0,
                    help="share of rows to break (CSV only), imported with on_error='skip'")
    args = ap.parse_args()
    acc, rep = ensure_data(args.accounts, args.reps, args.seed, args.data_dir, args.format)
    if args.dirty:
        acc = make_dirty(acc, args.dirty, args.seed)
    size_mb = acc.stat().st_size / 2**20
    rejects = args.data_dir / "rejects.csv"
    runs = []
    for _ in range(args.repeat):
        out = subprocess.run([sys.executable, "-c", CHILD, str(acc), str(rep), str(rejects)],
                             check=True, capture_output=True, text=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    best = min(runs, key=lambda r: r["seconds"])
    worst = max(runs, key=lambda r: r["peak_mb"] - r["base_mb"])  # memory: report the worst run
    held = worst["peak_mb"] - worst["base_mb"]
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True, cwd=Path(__file__).parent).stdout.strip()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; git {rev}")
    print(f"file: {acc} ({size_mb:.1f} MiB, {args.format})")
    print(f"rows in {best['rows_in']:,} = loaded {best['rows_loaded']:,} + rejected "
          f"{best['rows_rejected']:,}; {best['accounts']:,} accounts, {best['reps']} reps")
    print(f"import: {best['seconds']:.2f} s (best of {len(runs)}; target <= 60 s)")
    print(f"peak RSS (worst of {len(runs)}): {worst['peak_mb']:.0f} MiB total, {held:.0f} MiB "
          f"above the {worst['base_mb']:.0f} MiB baseline = {held / size_mb:.2f}x the file size "
          f"(target <= ~3x)")
    for i, r in enumerate(runs, 1):
        print(f"  run {i}: {r['seconds']:.2f} s, peak {r['peak_mb']:.0f} MiB "
              f"({(r['peak_mb'] - r['base_mb']) / size_mb:.2f}x)")


if __name__ == "__main__":
    main()
