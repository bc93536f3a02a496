"""Solve jobs: run :func:`terraplan.services.planning.solve_scenario` outside the request
handler, with the job's state kept in the store.

Process model
-------------
The API process queues a job row (``queued``) and submits :func:`run_solve_job` to a
:class:`~concurrent.futures.ProcessPoolExecutor` (``forkserver`` context where available, else
``spawn``: never ``fork`` — the server has threads and open connections). The worker opens its
own :class:`Workspace` from the store URL, moves the job to ``running`` and solves, with

* a progress callback that keeps the latest incumbent, bound and gap, and
* a heartbeat thread that writes them to the job row every :data:`HEARTBEAT_SECONDS` (the
  heartbeat), reads back ``cancel_requested`` (set by ``DELETE /v1/jobs/{id}``) and sets the
  solver's :class:`~terraplan.solvers.base.CancelToken`. It also cancels when the server process
  that submitted the job is gone, so an orphaned worker stops instead of solving for nobody.

The job ends ``succeeded`` (a plan was stored), ``cancelled`` or ``failed`` (infeasible, no
solution in time, an error), with the run's figures under ``progress["result"]``.

Restarts: a server that starts calls :meth:`Workspace.fail_interrupted_jobs` so jobs of a
killed server become ``failed`` instead of staying ``running`` for ever; a reaper also fails
jobs whose heartbeat stopped (a worker killed by the OOM killer, a server with several uvicorn
workers where one died). The server heartbeats the jobs it still has queued.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

from terraplan.errors import ConflictError, LifecycleError, NotFoundError
from terraplan.services.types import JobInfo
from terraplan.services.workspace import Workspace

log = logging.getLogger(__name__)

#: Seconds between two heartbeats (progress writes and cancel polls) of a running job.
HEARTBEAT_SECONDS = 1.0
#: Seconds between two heartbeats the server writes for the jobs it has queued.
QUEUED_HEARTBEAT_SECONDS = 15.0
#: A queued or running job whose heartbeat is older than this is failed by the reaper.
STALE_SECONDS = 120.0


def _update(ws: Workspace, job_id: str, **kw: Any) -> JobInfo | None:
    """``ws.update_job`` that retries optimistic-lock conflicts (the heartbeat thread and the
    solve thread both write the row) and ignores a job that was finished meanwhile."""
    for attempt in range(8):
        try:
            return ws.update_job(job_id, **kw)
        except ConflictError:
            time.sleep(0.02 * (attempt + 1))
        except (LifecycleError, NotFoundError) as exc:
            log.info("job %s: update skipped: %s", job_id, exc)
            return None
    log.warning("job %s: update gave up after repeated conflicts", job_id)
    return None


def _finite(x: float | None) -> float | None:
    if x is None or x != x or x in (float("inf"), float("-inf")):
        return None
    return float(x)


def run_solve_job(url: str, job_id: str, parent_pid: int | None = None) -> str:
    """Run one queued solve job to its end; returns the final state. Runs in a worker process
    (or a thread in tests and embedded use): everything it needs comes from the store."""
    # imported here: the solvers (OR-Tools, HiGHS) load in the worker, not in the API process
    from terraplan.services.planning import SolveRequest, solve_scenario
    from terraplan.solvers.base import CancelToken, Progress, Status

    ws = Workspace.open(url, migrate_schema=False)
    try:
        job = ws.get_job(job_id)
        if job.state != "queued":  # cancelled while it waited
            return job.state
        started = _update(ws, job_id, state="running", progress={"phase": "solving"})
        if started is None or started.state != "running":
            return ws.get_job(job_id).state
        cancel = CancelToken()
        stop = threading.Event()
        lock = threading.Lock()
        latest: dict[str, Any] = {}

        def on_progress(p: Progress) -> None:
            with lock:
                latest.update(elapsed=round(p.elapsed, 3), objective=_finite(p.objective),
                              bound=_finite(p.bound), gap=_finite(p.gap), message=p.message)

        def heartbeat() -> None:
            while not stop.wait(HEARTBEAT_SECONDS):
                if parent_pid is not None and not _alive(parent_pid):
                    log.warning("job %s: the server is gone; cancelling", job_id)
                    cancel.cancel()
                with lock:
                    prog = dict(latest)
                info = _update(ws, job_id, progress=prog)
                if info is None or info.cancel_requested or info.done:
                    cancel.cancel()

        beat = threading.Thread(target=heartbeat, name=f"job-{job_id[:8]}-heartbeat",
                                daemon=True)
        beat.start()
        opts = dict(job.options)
        request = SolveRequest(backend=str(opts.get("backend", "auto")),
                               time_limit=float(opts.get("time_limit", 60.0)),
                               seed=opts.get("seed"), threads=int(opts.get("threads", 1)),
                               gap=float(opts.get("gap", 1e-4)))
        try:
            outcome = solve_scenario(ws, job.scenario_id, request, actor=job.created_by,
                                     callbacks=(on_progress,), cancel=cancel, job_id=job_id)
        except Exception as exc:
            stop.set()
            beat.join()
            log.exception("job %s failed", job_id)
            _update(ws, job_id, state="failed", error=f"{type(exc).__name__}: {exc}",
                    progress={"phase": "done"})
            return "failed"
        stop.set()
        beat.join()
        res = outcome.result
        result = {
            "status": res.status.value, "objective": _finite(res.objective),
            "bound": _finite(res.bound), "gap": _finite(res.gap), "runtime": res.runtime,
            "backend": res.backend, "seed": res.seed, "solve_run_id": outcome.run.id,
            "plan_id": outcome.run.plan_id, "message": outcome.run.message,
            "conflicts": list(res.conflicts),
        }
        if outcome.after is not None:
            result["feasible"] = outcome.after.feasible
        with lock:
            prog = {**latest, "phase": "done", "result": result,
                    "objective": result["objective"], "bound": result["bound"],
                    "gap": result["gap"]}
        if res.status is Status.CANCELLED:
            state, error = "cancelled", None
        elif outcome.plan is not None:
            state, error = "succeeded", None
        else:
            state = "failed"
            error = f"{res.status.value}: {outcome.run.message or 'no plan found'}"
        _update(ws, job_id, state=state, progress=prog, error=error,
                solve_run_id=outcome.run.id)
        return state
    finally:
        ws.close()


def _alive(pid: int) -> bool:
    # the worker's parent is the forkserver, not the server: probe the server's pid itself
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _mp_context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


class JobRunner:
    """Submits queued jobs to a worker pool and keeps their rows honest.

    Parameters
    ----------
    ws : Workspace
        The server's workspace (job rows).
    url : str
        Store URL the workers open.
    workers : int
        Jobs solved at the same time.
    mode : {"process", "thread"}
        ``process`` (default) isolates solves from the server; ``thread`` is for tests and
        single-process embedding.
    """

    def __init__(self, ws: Workspace, url: str, *, workers: int = 1,
                 mode: str = "process",
                 target: Callable[[str, str, int | None], str] = run_solve_job) -> None:
        if mode not in ("process", "thread"):
            raise ValueError(f"job runner mode must be 'process' or 'thread', got {mode!r}")
        if workers < 1:
            raise ValueError(f"job runner needs at least one worker, got {workers}")
        self.ws, self.url, self.mode, self.target = ws, url, mode, target
        self.pool: Executor = (
            ProcessPoolExecutor(max_workers=workers, mp_context=_mp_context())
            if mode == "process" else
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="terraplan-job"))
        self._futures: dict[str, Future[str]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat_queued, daemon=True,
                                      name="terraplan-job-queue-heartbeat")
        self._beat.start()

    def submit(self, job_id: str) -> None:
        parent = os.getpid() if self.mode == "process" else None
        fut = self.pool.submit(self.target, self.url, job_id, parent)
        with self._lock:
            self._futures[job_id] = fut
        fut.add_done_callback(lambda f, j=job_id: self._done(j, f))  # type: ignore[misc]

    def _done(self, job_id: str, fut: Future[str]) -> None:
        with self._lock:
            self._futures.pop(job_id, None)
        if fut.cancelled():
            return
        exc = fut.exception()
        if exc is not None:  # the worker process died (BrokenProcessPool) or could not start
            log.error("job %s: worker failed: %r", job_id, exc)
            _update(self.ws, job_id, state="failed",
                    error=f"the worker running the job stopped: {type(exc).__name__}")

    def in_flight(self) -> list[str]:
        with self._lock:
            return list(self._futures)

    def _heartbeat_queued(self) -> None:
        while not self._stop.wait(QUEUED_HEARTBEAT_SECONDS):
            for job_id in self.in_flight():
                try:
                    if self.ws.get_job(job_id).state == "queued":
                        _update(self.ws, job_id)
                except Exception:
                    log.warning("job %s: queue heartbeat failed", job_id, exc_info=True)

    def shutdown(self, *, grace: float = 10.0) -> None:
        """Stop: cancel queued jobs, ask running ones to stop (they keep their best plan as a
        cancelled run), wait up to ``grace`` seconds, then fail whatever is left."""
        self._stop.set()
        pending = self.in_flight()
        for job_id in pending:
            with contextlib.suppress(LifecycleError, NotFoundError, ConflictError):
                self.ws.request_cancel(job_id, actor="server")
        deadline = time.monotonic() + grace
        while self.in_flight() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.pool.shutdown(wait=False, cancel_futures=True)
        for job_id in pending:
            try:
                if not self.ws.get_job(job_id).done:
                    _update(self.ws, job_id, state="failed",
                            error="interrupted: the server stopped while the job was running",
                            actor="server")
            except NotFoundError:
                pass


def job_links(job_id: str, scenario_id: int, progress: Mapping[str, Any]) -> dict[str, str]:
    """Hyperlinks of a job representation."""
    links = {"self": f"/v1/jobs/{job_id}", "scenario": f"/v1/scenarios/{scenario_id}"}
    result = progress.get("result")
    if isinstance(result, Mapping) and result.get("plan_id") is not None:
        links["plan"] = f"/v1/scenarios/{scenario_id}/plan?plan_id={result['plan_id']}"
    return links


__all__ = ["HEARTBEAT_SECONDS", "STALE_SECONDS", "JobRunner", "job_links", "run_solve_job"]
