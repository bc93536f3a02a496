"""Generator speed at 1M accounts x 2,000 reps, CSV files included (target: <= 30 s).

Usage::

    python benchmarks/bench_generate.py [--accounts 1000000] [--reps 2000] [--seed 42]
                                        [--out /tmp/terraplan-bench-generate]
                                        [--format csv|parquet] [--repeat 3]

Each repeat times :func:`terraplan.io.generator.generate_book` and :func:`write_book` separately
and together (wall clock, ``time.perf_counter``) in this process; the table shows the median and
the best repeat, the file sizes, the peak RSS of the process and the current-potential CV of the
generated book. Every repeat uses the same seed and the files are checked to be byte-identical
across repeats (determinism is part of what is measured).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import resource
import statistics
import subprocess
import time
from pathlib import Path

from terraplan.io.generator import generate_book, write_book


def git_rev() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True,
                              cwd=Path(__file__).resolve().parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=2_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", type=Path, default=Path("/tmp/terraplan-bench-generate"))
    ap.add_argument("--format", choices=("csv", "parquet"), default="csv")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    gen_t, write_t, total_t = [], [], []
    digests: set[tuple[str, str]] = set()
    cv = 0.0
    sizes = (0, 0)
    for k in range(args.repeat):
        t0 = time.perf_counter()
        book = generate_book(args.accounts, args.reps, args.seed)
        t1 = time.perf_counter()
        a_path, r_path = write_book(book, args.out, fmt=args.format)
        t2 = time.perf_counter()
        gen_t.append(t1 - t0)
        write_t.append(t2 - t1)
        total_t.append(t2 - t0)
        cv = book.current_cv
        sizes = (a_path.stat().st_size, r_path.stat().st_size)
        digests.add((digest(a_path), digest(r_path)))
        print(f"repeat {k + 1}: generate {t1 - t0:.2f} s, write {t2 - t1:.2f} s, "
              f"total {t2 - t0:.2f} s")
        del book
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; git {git_rev()}")
    print(f"book: {args.accounts:,} accounts x {args.reps:,} reps, seed {args.seed}, "
          f"format {args.format}; current potential CV {cv:.3f}")
    print(f"files: accounts {sizes[0] / 2**20:.1f} MiB, reps {sizes[1] / 2**10:.1f} KiB; "
          f"byte-identical across {args.repeat} repeats: {len(digests) == 1}")
    print(f"peak RSS: {peak_mb:,.0f} MiB")
    print()
    print("| step | median (s) | best (s) | target |")
    print("|------|-----------:|---------:|--------|")
    print(f"| generate_book | {statistics.median(gen_t):.2f} | {min(gen_t):.2f} | |")
    print(f"| write_book ({args.format}) | {statistics.median(write_t):.2f} | "
          f"{min(write_t):.2f} | |")
    target_ok = statistics.median(total_t) <= 30.0
    print(f"| total | {statistics.median(total_t):.2f} | {min(total_t):.2f} | "
          f"<= 30 s: {'met' if target_ok else 'MISSED'} |")


if __name__ == "__main__":
    main()
