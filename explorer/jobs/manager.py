"""The job manager: a queue, a limit of concurrent workers per device, owners and stop/delete rights.

A job is an experiment in the run store (its kind: `train`, `landscape`, ...) run by its own worker
process (`python -m explorer worker DIR`), never by a thread of the app: a crash, an out-of-memory error
or a kill ends that job only. The store is the truth; this class only starts, watches and stops workers.
Its loop asks the database for the queued and running jobs only (indexed by status), never the history.
Size budget: ~300 lines.
"""
from __future__ import annotations

import atexit
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Optional

from ..nets.caps import JOB_BUDGET_ENV, MAX_JOB_BUDGET_S, MIN_JOB_BUDGET_S, job_budget_s
from ..store.budget import DiskBudget, enforce
from ..store.records import ACTIVE, Experiment
from ..store.runstore import RunStore, is_local, pid_alive, worker_alive, worker_handle
from .status import human_duration
from .teacher import TeacherGate, check_teacher  # noqa: F401 - re-exported: the app and tests import them here

log = logging.getLogger(__name__)

STOP_GRACE_S = 10.0  # a worker that has not stopped this long after a request is killed


class JobError(ValueError):
    """A refused request (limits, rights, unknown job), with one sentence for the user."""


@dataclass(frozen=True)
class Limits:
    """How many workers run at once, and how much one owner may ask for."""

    concurrent: int = 1  # workers at once on this device (1 on a CPU; 2-4 on a GPU server)
    queued_per_owner: int = 1  # jobs one owner may have waiting
    running_per_owner: int = 1  # jobs one owner may have running
    starts_per_hour: int = 30  # jobs one owner may submit in an hour (stopped and deleted ones count too)

    @classmethod
    def from_env(cls) -> "Limits":
        def num(name, default):
            try:
                return max(1, int(os.environ.get(name, default)))
            except ValueError:
                return default
        return cls(num("EXPLORER_MAX_JOBS", 1), num("EXPLORER_MAX_QUEUED_PER_OWNER", 1),
                   num("EXPLORER_MAX_RUNNING_PER_OWNER", 1), num("EXPLORER_MAX_STARTS_PER_HOUR", 30))


class JobManager:
    """Start, watch and stop worker processes for the experiments of one run store."""

    def __init__(self, store: RunStore, limits: Optional[Limits] = None, poll_s: float = 0.5,
                 background: bool = True) -> None:
        self.store = store
        self.limits = limits or Limits.from_env()
        self._procs: dict = {}  # experiment id -> subprocess.Popen
        self._stop_asked: dict = {}  # experiment id -> time a stop was requested
        self.damaged: dict = {}  # experiment id -> the sentence reported for a damaged queued record
        self._lock = threading.RLock()
        self._closed = threading.Event()
        self.budget_s = job_budget_s()  # each job's wall-time budget; a teacher may change it (set_budget)
        atexit.register(self.shutdown)
        if background:
            threading.Thread(target=self._loop, args=(poll_s,), daemon=True, name="explorer-jobs").start()

    # ------------------------------------------------------------------ asking
    def submit(self, spec: dict, runs: list, owner: str, spec_hash: Optional[str] = None,
               kind: str = "train") -> tuple:
        """Queue an experiment, or attach to an identical one queued, running or done.

        Returns (experiment id, attached: bool). Raises JobError when the owner is over a limit.
        """
        with self._lock:
            if spec_hash:
                same = self.store.find_by_hash(spec_hash)
                if same is not None:
                    return same.id, True
            if kind == "train":
                self._check_estimate(spec)
            counts = self.store.owner_counts(owner, since=time.time() - 3600)  # one query for both checks
            queued = counts.get("queued", 0)
            active = queued + counts.get("running", 0)
            if queued >= self.limits.queued_per_owner or \
                    active >= self.limits.queued_per_owner + self.limits.running_per_owner:
                raise JobError("You already have as many jobs running and waiting as allowed; "
                               "stop one or wait for it to finish.")
            recent = counts["since"]
            if recent >= self.limits.starts_per_hour:
                raise JobError(f"You have started {recent} jobs in the last hour, the most allowed; "
                               "wait a while before starting another.")
            exp_id = self.store.create_experiment(spec, runs, owner=owner, spec_hash=spec_hash, kind=kind)
            self.pump()
            return exp_id, False

    def set_budget(self, seconds: float) -> float:
        """Set the time budget of jobs that start from now on (clamped to the allowed range); returns it."""
        self.budget_s = min(max(float(seconds), MIN_JOB_BUDGET_S), MAX_JOB_BUDGET_S)
        return self.budget_s

    def _check_estimate(self, spec: dict) -> None:
        """Refuse, with one sentence, an experiment whose optimistic estimate is already past the budget."""
        import torch
        from ..training.experiments import ExperimentSpec, estimate_seconds
        try:
            exp = ExperimentSpec.from_dict(spec)
        except (ValueError, TypeError):
            return  # not a spec this can estimate: its worker fails it with one sentence
        device = exp.train.device if exp.train.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            seconds = estimate_seconds(exp, device)
        except ValueError as exc:
            raise JobError(str(exc)) from None
        if seconds > self.budget_s:
            raise JobError(f"This experiment would take at least {human_duration(seconds)} here, and a job may run "
                           f"for {human_duration(self.budget_s)}; use fewer epochs, models or layers.")

    def stop(self, exp_id: str, owner: Optional[str], teacher: bool = False) -> None:
        """Ask a job to stop at its next batch (a queued job stops at once). Owner or teacher only."""
        with self._lock:
            exp = self._owned(exp_id, owner, teacher, "stop")
            if exp.status == "queued":
                self.store.update_experiment(exp_id, status="stopped", finished=time.time(),
                                             message="Stopped before it started.")
                self.store.update_runs(exp_id, status="stopped")
            elif exp.status == "running":
                self.store.request_stop(exp_id)
                self._stop_asked.setdefault(exp_id, time.time())

    def delete(self, exp_id: str, owner: Optional[str], teacher: bool = False) -> None:
        """Delete a job and its files (a running one is killed first). Owner or teacher only."""
        with self._lock:
            exp = self._owned(exp_id, owner, teacher, "delete")
            proc = self._procs.pop(exp_id, None)
            if proc is not None and proc.poll() is None:
                _kill(proc)
            elif exp.status == "running":  # a worker left by an earlier server process
                _kill_worker(exp.worker)
            self.store.delete_experiment(exp_id)

    def resume(self, exp_id: str, owner: Optional[str], teacher: bool = False) -> None:
        """Queue an interrupted job again; it goes on from its last completed epoch. Owner or teacher only."""
        with self._lock:
            exp = self._owned(exp_id, owner, teacher, "resume")
            if exp.status != "interrupted":
                raise JobError("Only an interrupted job can be resumed.")
            self.store.update_experiment(exp_id, status="queued", finished=None, message=None, stop_requested=None)
            self.store.update_runs(exp_id, where_status=("interrupted",), status="queued")
            self.pump()

    def _owned(self, exp_id: str, owner: Optional[str], teacher: bool, verb: str) -> Experiment:
        exp = self.store.load_experiment(exp_id)
        if exp is None:
            raise JobError(f"There is no job {exp_id} (it may have been deleted).")
        if not teacher and (owner is None or exp.owner != owner):
            raise JobError(f"Only the person who started this job (or the teacher) can {verb} it.")
        return exp

    # ------------------------------------------------------------------ reading
    def queue(self) -> list:
        """Queued experiment ids, first to run first."""
        return [e.id for e in self.store.with_status(["queued"]).items]

    def position(self, exp_id: str) -> Optional[dict]:
        """{"place": 1-based place in line, "wait_s": estimated wait} for a queued job, else None."""
        q = self.queue()
        if exp_id not in q:
            return None
        place = q.index(exp_id) + 1
        etas = sorted((e.progress.eta if e.progress else None) or 30.0
                      for e in self.store.with_status(["running"]).items)
        slots = max(1, self.limits.concurrent)
        first_free = etas[0] if len(etas) >= slots else 0.0
        return {"place": place, "wait_s": first_free + self.store.typical_duration() * ((place - 1) // slots)}

    def queued_wait(self, exp_id: str) -> Optional[dict]:
        """position(), with the wait capped by the budget: no job ahead can run longer than its budget."""
        pos = self.position(exp_id)
        if pos is None:
            return None
        rounds = -(-pos["place"] // max(1, self.limits.concurrent))  # jobs ahead finish in this many budgets
        return {**pos, "wait_s": min(pos["wait_s"], rounds * self.budget_s)}

    # ------------------------------------------------------------------ the loop
    def pump(self) -> None:
        """Reap finished workers, kill ones that ignore a stop, start queued jobs into free slots."""
        with self._lock:
            if self._closed.is_set():  # shut down: start nothing (a pump that waited on the lock included)
                return
            self._reap()
            self._enforce_stops()
            # Count from the store, so workers left by an earlier server process count too.
            running = Counter(e.owner for e in self._running())
            free = self.limits.concurrent - sum(running.values())
            queued = self.store.with_status(["queued"])
            self._report_damaged(queued.damaged)
            for exp in queued.items:
                if free <= 0:
                    break
                if running[exp.owner] >= self.limits.running_per_owner:
                    continue  # this owner's next job waits for their running one; others may go first
                if not self.store.claim(exp.id):
                    continue  # another app process started it a moment ago
                self._start(exp.id)
                running[exp.owner] += 1
                free -= 1

    def _running(self) -> list:
        """Running jobs; one whose worker on this machine is gone, or is not a worker, is marked interrupted (freeing
        its slot). Another machine's workers are left to that machine's job manager (a shared PostgreSQL store)."""
        out = []
        for exp in self.store.with_status(["running"]).items:
            claimed = (exp.worker or "").endswith(":claim") and time.time() - (exp.started or 0) < 60
            if exp.id not in self._procs and exp.worker and is_local(exp.worker) and not claimed \
                    and not _is_our_worker(exp.worker):
                self.store.mark_interrupted(exp.id, "The worker process ended unexpectedly.")
                continue
            out.append(exp)
        return out

    def _report_damaged(self, ids) -> None:
        """A damaged queued record is failed with one sentence (the queue goes on for everyone else)."""
        for exp_id in ids:
            sentence = "This job's record is damaged (its spec, status or creation time), so it cannot run."
            self.damaged[exp_id] = sentence
            log.warning("Job %s: %s", exp_id, sentence)
            try:
                self.store.update_experiment(exp_id, status="failed", message=sentence, finished=time.time())
            except Exception:  # noqa: BLE001 - a row too damaged to update is left, and reported again
                pass

    def _start(self, exp_id: str) -> None:
        d = self.store.exp_dir(exp_id)
        d.mkdir(parents=True, exist_ok=True)
        log = open(d / "worker.log", "ab")
        env = dict(os.environ, PYTHONUNBUFFERED="1", EXPLORER_DATABASE_URL=self.store.url,
                   **{JOB_BUDGET_ENV: str(self.budget_s)})
        # The worker marks itself running with its pid; mark it here too, so a second pump never double-starts it.
        proc = subprocess.Popen([sys.executable, "-m", "explorer", "worker", str(d)], stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True)
        log.close()
        self.store.update_experiment(exp_id, status="running", worker=worker_handle(proc.pid), started=time.time())
        self._procs[exp_id] = proc

    def _reap(self) -> None:
        for exp_id, proc in list(self._procs.items()):
            if proc.poll() is None:
                continue
            del self._procs[exp_id]
            self._enforce_budget()
            exp = self.store.load_experiment(exp_id)
            if exp is None or exp.status not in ACTIVE:
                continue
            if exp_id in self._stop_asked:
                self._mark_stopped(exp_id)
            else:
                self.store.mark_interrupted(exp_id, f"The worker process ended unexpectedly (exit code {proc.returncode}).")

    def _enforce_budget(self) -> None:
        """After a job ends: prune the oldest finished runs' weights if the disk budgets are exceeded."""
        budget = DiskBudget.from_env()
        if budget.total_bytes is not None or budget.owner_bytes is not None:
            enforce(self.store, budget)

    def _enforce_stops(self) -> None:
        for exp_id, asked in list(self._stop_asked.items()):
            proc = self._procs.get(exp_id)
            if proc is not None and proc.poll() is not None:
                continue  # _reap handles it
            if time.time() - asked <= STOP_GRACE_S:
                continue
            del self._stop_asked[exp_id]
            if proc is not None:
                _kill(proc)
                self._procs.pop(exp_id, None)
            else:  # a worker left by an earlier server process: kill it by the pid it recorded
                exp = self.store.load_experiment(exp_id)
                if exp is None or exp.status != "running":
                    continue
                _kill_worker(exp.worker)
            self._mark_stopped(exp_id)

    def _mark_stopped(self, exp_id: str) -> None:
        self.store.update_experiment(exp_id, status="stopped", finished=time.time())
        self.store.update_runs(exp_id, where_status=ACTIVE, status="stopped")

    def _loop(self, poll_s: float) -> None:
        while not self._closed.wait(poll_s):
            try:
                self.pump()
            except Exception:  # noqa: BLE001 - the loop must survive a damaged record or a race
                log.exception("The job manager's loop failed once; it goes on.")

    def shutdown(self, grace_s: float = 5.0) -> None:
        """Stop every worker this manager started: ask, wait up to grace_s, then kill."""
        self._closed.set()
        with self._lock:
            for exp_id, proc in self._procs.items():
                if proc.poll() is None:
                    self.store.request_stop(exp_id)
            deadline = time.time() + grace_s
            for exp_id, proc in list(self._procs.items()):
                try:
                    proc.wait(timeout=max(0.1, deadline - time.time()))
                except subprocess.TimeoutExpired:
                    _kill(proc)
                    self._mark_stopped(exp_id)
            self._procs.clear()


def _is_our_worker(handle: Optional[str]) -> bool:
    """True only for a live process started as `python -m explorer worker` with the recorded start time.

    A recorded pid alone is not enough: after a restart the pid may belong to any process (or a crafted record
    may name one), and signalling it would hit an unrelated program.
    """
    if not is_local(handle) or not worker_alive(handle):
        return False
    try:
        pid = int(str(handle).rsplit(":", 2)[1])
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except (OSError, ValueError, IndexError):
        return False
    return b"explorer" in argv and b"worker" in argv


def _kill_worker(handle: Optional[str]) -> None:
    """Kill a worker's process group by its recorded handle, only if that process is still our worker."""
    if _is_our_worker(handle):
        try:
            os.killpg(int(str(handle).rsplit(":", 2)[1]), signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


__all__ = ["JobManager", "JobError", "Limits", "check_teacher", "TeacherGate", "pid_alive", "STOP_GRACE_S"]
