"""The real ``terraplan solve`` in a pseudo-terminal: the live progress display renders, and
Ctrl-C (SIGINT) mid-search cancels cleanly — exit code 130, the run recorded, and either no
plan or a complete plan stored with that run (never a partial one)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from clikit import make_book, run, subprocess_env, terraplan_cmd, write_specs

from terraplan.services import Workspace

pexpect = pytest.importorskip("pexpect")

pytestmark = pytest.mark.slow  # a process start (5-15 s on a loaded 2-core box) + a search


def test_progress_renders_and_ctrl_c_leaves_a_consistent_store(tmp_path: Path) -> None:
    # big enough that CP-SAT is still searching after a few seconds (it runs its full minute)
    accounts, reps = make_book(tmp_path, accounts=2000, reps=16, seed=0)
    specs = write_specs(tmp_path)
    db = f"sqlite:///{tmp_path / 'store.db'}"
    assert run(["import", str(accounts), str(reps), "-q"], db).exit_code == 0
    assert run(["scenario", "create", "b", "--spec", str(specs["a"])], db).exit_code == 0
    env = subprocess_env(db)
    env.pop("NO_COLOR")
    env.pop("COLUMNS")
    env.update(TERM="xterm-256color", LANG="C.UTF-8", PYTHONIOENCODING="utf-8")
    cmd = terraplan_cmd()
    child = pexpect.spawn(cmd[0], [*cmd[1:], "solve", "b", "--backend", "cpsat",
                                   "--time-limit", "300"],
                          env=env, cwd=str(tmp_path), dimensions=(40, 160), encoding="utf-8",
                          codec_errors="replace", timeout=120)
    try:
        child.expect("solving b")  # the live panel's title
        child.expect(r"elapsed\s+\d+\.\d s")  # its clock ticking
        child.expect(r"incumbent [\d,]+\s+bound [\d,]+\s+gap [\d.]+ %")  # and the search
        time.sleep(1.0)
        assert child.isalive(), "the search ended before Ctrl-C could be tested"
        t0 = time.monotonic()
        child.sendintr()
        child.expect(pexpect.EOF, timeout=60)
        stopped_in = time.monotonic() - t0
    finally:
        child.close(force=True)
    assert child.exitstatus == 130, child.before
    assert "Traceback" not in (child.before or "")
    assert stopped_in < 30  # the cancel token stopped the search; no waiting for the limit
    ws = Workspace.open(db)
    try:
        runs = ws.list_solve_runs("b")
        assert len(runs) == 1
        plans = ws.list_plans("b")
        info = ws.get_scenario("b")
        if plans:  # kept the best plan found, complete and tied to the run
            (plan,) = plans
            assert plan.solve_run_id == runs[0].id
            assert plan.n_accounts == 2000
            assert ws.count_rows()["assignments"] == 2000
            assert info.status == "solved"
        else:  # cancelled before a plan: the run says so and nothing else changed
            assert runs[0].status == "cancelled" and runs[0].plan_id is None
            assert ws.count_rows()["assignments"] == 0
            assert info.status == "draft"
    finally:
        ws.close()
