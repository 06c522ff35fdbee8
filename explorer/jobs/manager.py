"""The job manager: a queue, a limit of concurrent workers, owners and stop/delete rights.

A job is an experiment folder in the run store (its kind: `train`, `landscape`, ...) run by its own worker
(`python -m explorer worker DIR`), never by a thread of the app: a crash, an out-of-memory error or a kill
ends that job only. Where the worker runs is a backend's business (explorer.jobs.backends: local processes
by default, a Ray cluster with EXPLORER_BACKEND=ray); every policy stays here. The store is the truth; this
class only starts, watches and stops workers, and re-attaches to the ones an earlier app left running.
Size budget: ~300 lines.
"""
from __future__ import annotations

import atexit
import hmac
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Optional

from ..store.runstore import ACTIVE, RunStore, pid_alive, read_json
from .backends import Backend, Handle, LocalBackend, kill_group, worker_command

STOP_GRACE_S = 10.0  # a worker that has not stopped this long after a request is killed
BACKENDS = ("local", "ray")


class JobError(ValueError):
    """A refused request (limits, rights, unknown job), with one sentence for the user."""


@dataclass(frozen=True)
class Limits:
    """How many workers run at once, and how much one owner may ask for."""

    concurrent: int = 1  # workers at once on this device (1 on a CPU; 2-4 on a GPU server)
    queued_per_owner: int = 1  # jobs one owner may have waiting
    running_per_owner: int = 1  # jobs one owner may have running

    @classmethod
    def from_env(cls, concurrent: int = 1) -> "Limits":
        """From EXPLORER_MAX_JOBS and EXPLORER_MAX_*_PER_OWNER; `concurrent` when EXPLORER_MAX_JOBS is unset."""
        def num(name, default):
            try:
                return max(1, int(os.environ.get(name, default)))
            except ValueError:
                return default
        return cls(num("EXPLORER_MAX_JOBS", concurrent), num("EXPLORER_MAX_QUEUED_PER_OWNER", 1),
                   num("EXPLORER_MAX_RUNNING_PER_OWNER", 1))


def make_backend(name: Optional[str] = None) -> Backend:
    """The backend named (or EXPLORER_BACKEND's, else `local`). Raises ValueError for an unknown name."""
    name = (name or os.environ.get("EXPLORER_BACKEND") or "local").strip().lower()
    if name == "local":
        return LocalBackend()
    if name == "ray":
        from .raycluster import RayBackend
        return RayBackend()
    raise ValueError(f"EXPLORER_BACKEND must be one of {', '.join(BACKENDS)}; got {name!r}.")


def check_teacher(password: Optional[str], expected: Optional[str]) -> bool:
    """True when a teacher password is configured and this one matches it (constant-time)."""
    return bool(expected) and bool(password) and hmac.compare_digest(str(password), str(expected))


class JobManager:
    """Start, watch and stop the workers of one run store's experiments, through one backend."""

    def __init__(self, store: RunStore, limits: Optional[Limits] = None, poll_s: float = 0.5,
                 background: bool = True, backend: Optional[Backend] = None) -> None:
        self.store = store
        self.backend = backend or make_backend()
        # On a cluster the nodes' resources bound the jobs at once, unless EXPLORER_MAX_JOBS says fewer.
        self.limits = limits or Limits.from_env(1 if self.backend.capacity() is None else 1_000_000)
        self._handles: dict = {}  # experiment id -> Handle, for every running job this manager watches
        self._started: set = set()  # ... of which it started these (the rest: left by an earlier app)
        self._stop_asked: dict = {}  # experiment id -> time a stop was requested
        self._lock = threading.RLock()
        self._closed = threading.Event()
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
                    return same["id"], True
            mine = [e for e in self.store.list_experiments(with_runs=False) if e.get("owner") == owner]
            queued = sum(e["status"] == "queued" for e in mine)
            active = queued + sum(e["status"] == "running" for e in mine)
            if queued >= self.limits.queued_per_owner or \
                    active >= self.limits.queued_per_owner + self.limits.running_per_owner:
                raise JobError("You already have as many jobs running and waiting as allowed; "
                               "stop one or wait for it to finish.")
            exp_id = self.store.create_experiment(spec, runs, owner=owner, spec_hash=spec_hash, kind=kind)
            self.pump()
            return exp_id, False

    def stop(self, exp_id: str, owner: Optional[str], teacher: bool = False) -> None:
        """Ask a job to stop at its next batch (a queued job stops at once). Owner or teacher only."""
        with self._lock:
            exp = self._owned(exp_id, owner, teacher, "stop")
            if exp["status"] == "queued":
                self.store.update_experiment(exp_id, status="stopped", finished=time.time(),
                                             message="Stopped before it started.")
                for run in exp["runs"]:
                    self.store.update_run(exp_id, run["id"], status="stopped")
            elif exp["status"] == "running":
                self.store.request_stop(exp_id)
                self._stop_asked.setdefault(exp_id, time.time())

    def delete(self, exp_id: str, owner: Optional[str], teacher: bool = False) -> None:
        """Delete a job and its files (a running one is killed first). Owner or teacher only."""
        with self._lock:
            exp = self._owned(exp_id, owner, teacher, "delete")
            handle = self._handles.pop(exp_id, None) or Handle.of(exp)
            if handle is not None and exp["status"] == "running":
                self._kill(handle)
                deadline = time.time() + STOP_GRACE_S  # a cluster ends its job a moment later: wait, so that
                while self._alive(handle) and time.time() < deadline:  # no late write recreates the files
                    time.sleep(0.1)
            self.store.delete_experiment(exp_id)

    def _owned(self, exp_id: str, owner: Optional[str], teacher: bool, verb: str) -> dict:
        exp = self.store.load_experiment(exp_id)
        if exp is None:
            raise JobError(f"There is no job {exp_id} (it may have been deleted).")
        if not teacher and (owner is None or exp.get("owner") != owner):
            raise JobError(f"Only the person who started this job (or the teacher) can {verb} it.")
        return exp

    # ------------------------------------------------------------------ reading
    def queue(self, experiments: Optional[list] = None) -> list:
        """Queued experiment ids, first to run first (from `experiments` when the caller has listed them)."""
        experiments = self.store.list_experiments(with_runs=False) if experiments is None else experiments
        queued = [e for e in experiments if e["status"] == "queued"]
        return [e["id"] for e in sorted(queued, key=lambda e: e.get("created") or 0)]

    def position(self, exp_id: str) -> Optional[dict]:
        """{"place": 1-based place in line, "wait_s": estimated wait} for a queued job, else None."""
        experiments = self.store.list_experiments(with_runs=False)  # one listing for everything below
        q = self.queue(experiments)
        if exp_id not in q:
            return None
        place = q.index(exp_id) + 1
        etas = sorted((read_json(self.store.exp_dir(e["id"]) / "progress.json") or {}).get("eta") or 30.0
                      for e in experiments if e["status"] == "running")
        slots = max(1, self._slots())
        first_free = etas[0] if len(etas) >= slots else 0.0
        return {"place": place, "wait_s": first_free + _typical_duration(experiments) * ((place - 1) // slots)}

    # ------------------------------------------------------------------ the loop
    def pump(self) -> None:
        """Reap finished workers, kill ones that ignore a stop, start queued jobs into free slots."""
        with self._lock:
            if self._closed.is_set():  # shut down: start nothing (a pump that waited on the lock included)
                return
            self._reap()
            self._enforce_stops()
            # Count from the store, so workers left by an earlier server process count too.
            experiments = self.store.list_experiments(with_runs=False)
            self._attach(experiments)
            running = Counter(e.get("owner") for e in experiments if e["status"] == "running")
            queued = sorted((e for e in experiments if e["status"] == "queued"), key=lambda e: e.get("created") or 0)
            free = (self._slots() - sum(running.values())) if queued else 0
            for exp in queued:
                if free <= 0:
                    break
                if running[exp.get("owner")] >= self.limits.running_per_owner:
                    continue  # this owner's next job waits for their running one; others may go first
                self._start(exp["id"])
                running[exp.get("owner")] += 1
                free -= 1

    def _slots(self) -> int:
        """Jobs at once: the limit, or fewer when the backend (a cluster's live nodes) holds fewer."""
        capacity = self.backend.capacity()
        return self.limits.concurrent if capacity is None else min(self.limits.concurrent, capacity)

    def _start(self, exp_id: str) -> None:
        d = self.store.exp_dir(exp_id)
        dispatched = time.time()
        handle = self.backend.start(exp_id, worker_command(d), d / "worker.log")
        self._handles[exp_id] = handle
        self._started.add(exp_id)
        fields = {"backend": handle.backend, "handle": handle.ref, "dispatched": dispatched}
        if handle.backend == "local":
            fields["pid"] = int(handle.ref)
        # Mark it running here too, so a second pump never double-starts it; a warm worker may have got there
        # first (and even finished, if it failed at once): then only the handle is added.
        exp = self.store.load_experiment(exp_id, with_runs=False)
        if exp is not None and exp["status"] == "queued":
            fields.update(status="running", started=dispatched)
        if exp is not None:
            self.store.update_experiment(exp_id, **fields)

    def _attach(self, experiments: list) -> None:
        """Watch running jobs started by an earlier app (their handle is on the experiment): re-attach."""
        for exp in experiments:
            if exp["status"] == "running" and exp["id"] not in self._handles:
                handle = Handle.of(exp)
                if handle is not None:
                    self._handles[exp["id"]] = handle

    def _alive(self, handle: Handle) -> Optional[bool]:
        if handle.backend == self.backend.name:
            return self.backend.alive(handle)
        return pid_alive(int(handle.ref)) if handle.backend == "local" and handle.ref.isdigit() else None

    def _kill(self, handle: Handle) -> None:
        if handle.backend == self.backend.name:
            self.backend.stop(handle)
        elif handle.backend == "local" and handle.ref.isdigit():  # left by an app on another backend
            kill_group(int(handle.ref))

    def _reap(self) -> None:
        for exp_id, handle in list(self._handles.items()):
            if self._alive(handle) is not False:
                continue  # running, or the backend cannot tell now (a cluster head restarting): ask again later
            del self._handles[exp_id]
            self._started.discard(exp_id)
            exp = self.store.load_experiment(exp_id)
            if exp is None or exp["status"] not in ACTIVE:
                continue
            if exp_id in self._stop_asked:
                self._mark_stopped(exp_id)
            else:
                self.store.mark_interrupted(exp_id, self.backend.why_ended(handle))

    def _enforce_stops(self) -> None:
        for exp_id, asked in list(self._stop_asked.items()):
            handle = self._handles.get(exp_id)
            if handle is not None and self._alive(handle) is False:
                continue  # _reap handles it
            if time.time() - asked <= STOP_GRACE_S:
                continue
            del self._stop_asked[exp_id]
            exp = self.store.load_experiment(exp_id, with_runs=False)
            if exp is None or exp["status"] != "running":
                continue
            handle = handle or Handle.of(exp)
            if handle is not None:
                self._kill(handle)
            self._handles.pop(exp_id, None)
            self._mark_stopped(exp_id)

    def _mark_stopped(self, exp_id: str) -> None:
        exp = self.store.update_experiment(exp_id, status="stopped", finished=time.time())
        for run in exp["runs"]:
            self.store.update_run(exp_id, run["id"], status="stopped")

    def _loop(self, poll_s: float) -> None:
        while not self._closed.wait(poll_s):
            try:
                self.pump()
            except Exception:  # noqa: BLE001 - the loop must survive a damaged folder or a race
                pass

    def shutdown(self, grace_s: float = 5.0) -> None:
        """Stop the local workers this manager started: ask, wait up to grace_s, then kill.

        Jobs on a cluster (the ray backend) run on: the next app re-attaches to them.
        """
        self._closed.set()
        with self._lock:
            mine = {} if self.backend.outlives_app else \
                {e: h for e, h in self._handles.items() if e in self._started}
            for exp_id, handle in mine.items():
                if self._alive(handle):
                    self.store.request_stop(exp_id)
            deadline = time.time() + grace_s
            for exp_id, handle in mine.items():
                while self._alive(handle) and time.time() < deadline:
                    time.sleep(0.1)
                if self._alive(handle):
                    self._kill(handle)
                    self._mark_stopped(exp_id)
            self._handles.clear()
            self._started.clear()
            self.backend.close()


def _typical_duration(experiments: list) -> float:
    """Mean wall time of the newest finished experiments (60 s when there are none yet)."""
    done = [e for e in experiments if e["status"] == "completed" and e.get("started") and e.get("finished")]
    times = [e["finished"] - e["started"] for e in done[:10]]
    return sum(times) / len(times) if times else 60.0


__all__ = ["JobManager", "JobError", "Limits", "check_teacher", "make_backend", "pid_alive", "STOP_GRACE_S"]
