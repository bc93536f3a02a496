"""Speed of the comp cost simulation and of the design LP (issue 5 targets).

Targets: 2,000 reps × 20,000 scenarios cost simulation ≤ 3 s and ≤ 2 GB peak memory; design LP
for one role ≤ 10 s.

    python benchmarks/bench_comp.py                       # both, default sizes
    python benchmarks/bench_comp.py --reps 2000 --scenarios 20000 --repeat 3
    python benchmarks/bench_comp.py --design-reps 300 --design-scenarios 20000

Peak memory is the process's maximum resident set size (includes the interpreter and numpy).
The simulation is re-checked against the closed form (z-score of the mean).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import time
from pathlib import Path

import numpy as np

from terraplan.comp import PayoutCurve, Team, design_curve, simulate_cost
from terraplan.quota import AttainmentModel


def _team(n: int, seed: int = 1) -> Team:
    rng = np.random.default_rng(seed)
    quota = rng.integers(50_000_000, 150_000_000, n)  # $0.5M-$1.5M
    ti = quota // 8  # BCR 12.5 %
    mu = AttainmentModel().mu_for_share(0.6) + rng.normal(0.0, 0.05, n)
    curve = PayoutCurve.from_tiers([(0, 1.0), (1.0, 2.0), (1.5, 3.0)], cap=3.0)
    return Team(tuple(f"r{i}" for i in range(n)), ti.copy(), ti, quota, mu, (curve,),
                np.zeros(n, dtype=np.intp), spif=5_000_000)


def _rev() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=Path(__file__).parent, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=2000)
    ap.add_argument("--scenarios", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--design-reps", type=int, default=300)
    ap.add_argument("--design-scenarios", type=int, default=10_000)
    ap.add_argument("--skip-design", action="store_true")
    args = ap.parse_args()

    print(f"git {_rev()} | {platform.machine()} | python {platform.python_version()} | "
          f"numpy {np.__version__}")
    model = AttainmentModel(sigma=0.35, rho=0.3)
    team = _team(args.reps)
    simulate_cost(team, model, n_scenarios=1_000, seed=0)  # warm-up (thread pool, caches)
    times = []
    cpu = []
    sim = None
    for r in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        sim = simulate_cost(team, model, n_scenarios=args.scenarios, seed=r)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    assert sim is not None
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"cost simulation {args.reps} reps x {args.scenarios} scenarios: "
          f"best {min(times):.2f} s, median {float(np.median(times)):.2f} s wall "
          f"(CPU {min(cpu):.2f} s over all threads), peak RSS {rss_gb:.2f} GB")
    print(f"  load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"  mean ${sim.mean / 100:,.0f} (closed form ${sim.closed_form_mean / 100:,.0f}, "
          f"z {sim.z_score:+.2f}), P90 ${sim.p90 / 100:,.0f}, CVaR90 ${sim.cvar90 / 100:,.0f}, "
          f"CCOS mean {sim.ccos_mean:.2%}")

    if args.skip_design:
        return
    dteam = _team(args.design_reps, seed=2)
    fixed = int(dteam.base.sum()) + dteam.spif
    ti = int(dteam.ti.sum())
    t0, c0 = time.perf_counter(), time.process_time()
    res = design_curve(dteam, model, budget=fixed + int(1.25 * ti),
                       cvar_budget=fixed + int(1.45 * ti), leverage_min=1.5,
                       n_scenarios=args.design_scenarios, seed=0)
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    print(f"design LP {args.design_reps} reps x {args.design_scenarios} scenarios "
          f"({res.solver}): {dt:.2f} s wall (CPU {dc:.2f} s), status {res.status}, "
          f"peak RSS now {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2:.2f} GB")
    if res.curve is not None:
        print(f"  curve {res.curve.describe()}; binding {', '.join(res.binding)}")


if __name__ == "__main__":
    main()
