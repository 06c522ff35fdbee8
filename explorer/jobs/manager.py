"""The job manager: a queue, a limit of concurrent workers, owners and stop/delete rights.

A job is an experiment in the run store (its kind: `train`, `landscape`, ...) run by its own worker (`python -m
explorer worker DIR`), never by a thread of the app: a crash, an out-of-memory error or a kill ends that job only.
Where the worker runs is a backend's business (explorer.jobs.backends: local processes by default, a Ray cluster
with EXPLORER_BACKEND=ray); every policy stays here. The store is the truth; this class only starts, watches and
stops workers, and re-attaches to the ones an earlier app left running. Its loop asks the database for the queued
and running jobs only (indexed by status), never the history. What it stores is English (`N_`), shown translated.
Size budget: ~300 lines.
"""
from __future__ import annotations

import atexit
import contextlib
import dataclasses
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..access.policy import POLICY, Action, Actor
from ..access.teacher import TeacherGate, check_teacher  # noqa: F401 - re-exported: the app and tests import them here
from ..i18n import N_, _, count, ngettext
from ..store.budget import DiskBudget, enforce
from ..store.db import StoreError
from ..store.records import ACTIVE, Experiment
from ..store.runstore import RunStore, is_local, pid_alive, worker_alive
from ..training.experiments import ExperimentSpec
from . import estimate, holds
from .backends import Backend, LocalBackend, worker_command
from .budget import MAX_JOB_BUDGET_S, MIN_JOB_BUDGET_S, job_budget_s
from .handles import Handle, is_our_worker, kill_worker
from .request import JobRequest
from .status import QueuePlace, human_duration

log = logging.getLogger(__name__)

STOP_GRACE_S = 10.0  # a worker that has not stopped this long after a request is killed
HISTORY_REFRESH_S = 5.0  # estimates re-read the completed jobs at most this often
BACKENDS = ("local", "ray")


class JobError(ValueError):
    """A refused request (limits, rights, unknown job), with one sentence for the user."""


@dataclass(frozen=True)
class Limits:
    """How many workers run at once, and how much one owner may ask for."""

    concurrent: int = 1  # workers at once on this device (1 on a CPU; 2-4 on a GPU server)
    queued_per_owner: int = 1  # jobs one owner may have waiting
    running_per_owner: int = 1  # jobs one owner may have running
    starts_per_hour: int = 30  # jobs one owner may submit in an hour (stopped and deleted ones count too)
    # One client address (a new cookie does not reset it). A class of 30 behind one school NAT shares an address:
    # these allow all of them their per-owner share, and stop one browser minting cookies past a class's worth.
    active_per_client: int = 60  # jobs queued or running from one client address (30 students x 2)
    starts_per_client_hour: int = 300  # jobs one client address may submit in an hour (30 students x 10)

    @classmethod
    def from_env(cls, concurrent: int = 1) -> Limits:
        """From EXPLORER_MAX_JOBS and EXPLORER_MAX_*; `concurrent` when EXPLORER_MAX_JOBS is unset."""
        def num(name: str, default: int) -> int:
            try:
                return max(1, int(os.environ.get(name, default)))
            except ValueError:
                return default
        return cls(num("EXPLORER_MAX_JOBS", concurrent), num("EXPLORER_MAX_QUEUED_PER_OWNER", 1),
                   num("EXPLORER_MAX_RUNNING_PER_OWNER", 1), num("EXPLORER_MAX_STARTS_PER_HOUR", 30),
                   num("EXPLORER_MAX_ACTIVE_PER_CLIENT", 60), num("EXPLORER_MAX_STARTS_PER_CLIENT_HOUR", 300))


def make_backend(name: str | None = None) -> Backend:
    """The backend named (or EXPLORER_BACKEND's, else `local`). Raises ValueError for an unknown name."""
    name = (name or os.environ.get("EXPLORER_BACKEND") or "local").strip().lower()
    if name == "local":
        return LocalBackend()
    if name == "ray":
        from .raycluster import RayBackend
        return RayBackend()
    raise ValueError(f"EXPLORER_BACKEND must be one of {', '.join(BACKENDS)}; got {name!r}.")


class JobManager:
    """Start, watch and stop the workers of one run store's experiments, through one backend."""

    def __init__(self, store: RunStore, limits: Limits | None = None, poll_s: float = 0.5,
                 background: bool = True, backend: Backend | None = None, hold: holds.Hold | None = None) -> None:
        self.store, self.hold = store, hold  # asked before every dispatch: a paused class's jobs wait (holds)
        self.backend = backend or make_backend()
        # On a cluster the nodes' resources bound the jobs at once, unless EXPLORER_MAX_JOBS says fewer.
        self.limits = limits or Limits.from_env(1 if self.backend.capacity() is None else 1_000_000)
        self._handles: dict[str, Handle] = {}  # experiment id -> Handle, for every running job this manager watches
        self._started: set[str] = set()  # ... of which it started these (the rest: left by an earlier app)
        self._stop_asked: dict[str, float] = {}  # experiment id -> time a stop was requested
        self.damaged: dict[str, str] = {}  # experiment id -> the sentence reported for a damaged queued record
        self._lock = threading.RLock()
        self._closed = threading.Event()
        self._history: tuple[float, list[estimate.Measured]] | None = None  # (when read, what completed jobs measured)
        self.budget_s = job_budget_s()  # each job's wall-time budget; a teacher may change it (set_budget)
        atexit.register(self.shutdown)
        self._looping = background  # a loop pumps again soon: a start need not wait for the backend to be ready
        if background:
            threading.Thread(target=self._loop, args=(poll_s,), daemon=True, name="explorer-jobs").start()

    @classmethod
    def from_env(cls, background: bool = True) -> JobManager:
        """The app's job manager from the environment alone, as every replica builds it: its store (EXPLORER_RUNS_DIR,
        EXPLORER_DATABASE_URL), backend (EXPLORER_BACKEND, EXPLORER_RAY_*), limits (EXPLORER_MAX_*), class holds."""
        return cls(store := RunStore(), background=background, hold=holds.class_hold(store))

    # ------------------------------------------------------------------ asking
    def submit(self, request: JobRequest, attach: bool = True) -> tuple[str, bool]:
        """Queue a job, or (with `attach`) attach to an identical one queued, running or done. Returns (experiment id,
        attached). Raises JobError when the owner is over a limit, or a training experiment's estimate is past the
        job budget."""
        with self._lock:
            spec_hash = request.spec_hash()
            if attach:
                same = self.store.find_by_hash(spec_hash)
                if same is not None:
                    return same.id, True
            if request.recipe is not None:
                self._check_estimate(request.experiment())
                self._check_memory(request.experiment())  # activation memory (issue 19, finding 1)
            request = dataclasses.replace(request, budget_s=self.budget_s)  # every kind's worker stops at its end
            exp_id = self.store.create_experiment(request.to_json(), request.runs_json(), owner=request.owner,
                                                  spec_hash=spec_hash, kind=request.job_kind, admit=self._admit,
                                                  client=request.client)
            self.pump()
            return exp_id, False

    def _admit(self, counts: Callable[[float], dict[str, int]]) -> None:
        """Refuse, with one sentence, an owner or a client over a limit. counts(since) is the store's start_counts,
        read in the creating transaction under its claim lock, so requests through every app replica count; starts
        are counted in a table that deleting a job leaves alone."""
        counted = counts(time.time() - 3600)
        queued = counted.get("queued", 0)
        active = queued + counted.get("running", 0)
        if queued >= self.limits.queued_per_owner or \
                active >= self.limits.queued_per_owner + self.limits.running_per_owner:
            raise JobError(_("You already have as many jobs running and waiting as allowed; "
                             "stop one or wait for it to finish."))
        recent = counted["since"]
        if recent >= self.limits.starts_per_hour:
            raise JobError(ngettext("You have started {n} job in the last hour, the most allowed; wait a while before "
                                    "starting another.", "You have started {n} jobs in the last hour, the most "
                                    "allowed; wait a while before starting another.", recent).format(n=count(recent)))
        if counted.get("client_active", 0) >= self.limits.active_per_client or \
                counted.get("client_since", 0) >= self.limits.starts_per_client_hour:
            raise JobError(_("Too many jobs come from your network address right now; wait for some to finish, or "
                             "ask the teacher to raise the limit."))

    def set_budget(self, seconds: float) -> float:
        """Set the time budget of jobs that start from now on (clamped to the allowed range); returns it."""
        self.budget_s = min(max(float(seconds), MIN_JOB_BUDGET_S), MAX_JOB_BUDGET_S)
        return self.budget_s

    def _check_estimate(self, exp: ExperimentSpec) -> None:
        """Refuse, with one sentence, an experiment whose optimistic estimate is already past the budget."""
        import torch

        from ..training.experiments import estimate_seconds
        device = exp.train.device if exp.train.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            seconds = estimate_seconds(exp, device)
        except ValueError as exc:
            raise JobError(str(exc)) from None
        if seconds > self.budget_s:
            raise JobError(_("This experiment would take at least {duration} here, and a job may run for {budget}; use "
                             "fewer epochs, models or layers.").format(duration=human_duration(seconds), budget=
                                                                       human_duration(self.budget_s)))

    def _check_memory(self, exp: ExperimentSpec) -> None:
        """Refuse, in one sentence, a training step past a job's memory (explorer.nets.cost.check_training_memory)."""
        from ..nets.cost import check_training_memory
        try:
            check_training_memory([cfg for _name, cfg in exp.models], exp.train.batch_size)
        except ValueError as exc:
            raise JobError(str(exc)) from None

    def stop(self, exp_id: str, owner: str | None, teacher: bool = False, *, actor: Actor | None = None,
             class_id: str | None = None) -> None:
        """Ask a job to stop at its next batch (a queued job stops at once). Owner or teacher only."""
        with self._lock:
            exp = self._owned(exp_id, owner, teacher, "stop", actor, class_id)
            if exp.status == "queued":
                self.store.update_experiment(exp_id, status="stopped", finished=time.time(),
                                             message=N_("Stopped before it started."))  # stored in English
                self.store.update_runs(exp_id, status="stopped")
            elif exp.status == "running":
                self.store.request_stop(exp_id)
                self._stop_asked.setdefault(exp_id, time.time())

    def delete(self, exp_id: str, owner: str | None, teacher: bool = False, *, actor: Actor | None = None,
             class_id: str | None = None) -> None:
        """Delete a job and its files (a running one is killed first). Owner or teacher only."""
        with self._lock:
            exp = self._owned(exp_id, owner, teacher, "delete", actor, class_id)
            handle = self._handles.pop(exp_id, None) or Handle.of(exp)
            if handle is not None and exp.status == "running":
                self._kill(handle)
                deadline = time.time() + STOP_GRACE_S  # a cluster ends its job a moment later: wait, so that
                while self._alive(handle) and time.time() < deadline:  # no late write recreates its files
                    time.sleep(0.1)
            self.store.delete_experiment(exp_id)

    def resume(self, exp_id: str, owner: str | None, teacher: bool = False, *, actor: Actor | None = None,
             class_id: str | None = None) -> None:
        """Queue an interrupted job again; it goes on from its last completed epoch. Owner or teacher only."""
        with self._lock:
            exp = self._owned(exp_id, owner, teacher, "resume", actor, class_id)
            if exp.status != "interrupted":
                raise JobError(_("Only an interrupted job can be resumed."))
            self.store.update_experiment(exp_id, status="queued", finished=None, message=None, stop_requested=None)
            self.store.update_runs(exp_id, where_status=("interrupted",), status="queued")
            self.pump()

    def _owned(self, exp_id: str, owner: str | None, teacher: bool, verb: str, actor: Actor | None = None,
               class_id: str | None = None) -> Experiment:
        exp = self.store.load_experiment(exp_id)
        if exp is None:
            raise JobError(_("There is no job {id} (it may have been deleted).").format(id=exp_id))
        who = actor or (Actor.password_teacher(owner) if teacher else Actor(owner))
        if not POLICY.allows(who, Action(verb), exp.owner, class_id):
            raise JobError(POLICY.refusal(Action(verb)))
        return exp

    # ------------------------------------------------------------------ reading
    def queue(self) -> list[str]:
        """Queued experiment ids, first to run first."""
        return [e.id for e in self.store.with_status(["queued"]).items]

    def position(self, exp_id: str) -> QueuePlace | None:
        """{"place": 1-based place in line, "wait_s": estimated wait} for a queued job, else None."""
        q = self.queue()
        if exp_id not in q:
            return None
        place = q.index(exp_id) + 1
        etas = sorted((e.progress.eta if e.progress else None) or 30.0
                      for e in self.store.with_status(["running"]).items)
        slots = max(1, self._slots())
        first_free = etas[0] if len(etas) >= slots else 0.0
        return {"place": place, "wait_s": first_free + self.store.typical_duration() * ((place - 1) // slots)}

    def queued_wait(self, exp_id: str) -> QueuePlace | None:
        """A queued job's place in line and its wait as a range (explorer.jobs.estimate: this server's measured
        speed, the running jobs' time left, the jobs ahead), capped by the budget: no job ahead runs longer."""
        queue = list(self.store.with_status(["queued"]).items)
        place = next((i for i, e in enumerate(queue) if e.id == exp_id), None)
        if place is None:
            return None
        slots = max(1, self._slots())
        wait = estimate.queue_wait(self._measured(), self.store.with_status(["running"]).items, queue[:place], slots,
                                   time.time(), self.budget_s, self.store.typical_duration())
        rounds = -(-(place + 1) // slots)  # jobs ahead finish in this many budgets
        wait = wait.capped(rounds * self.budget_s)
        return {"place": place + 1, "wait_s": wait.mid, "low_s": wait.low, "high_s": wait.high}

    def time_left(self, job: Experiment) -> tuple[float, float] | None:
        """A running job's time left as (low, high) seconds (explorer.jobs.estimate); None when it is not running."""
        if job.status != "running":
            return None
        span = estimate.time_left(self._measured(), job, time.time(), self.budget_s)
        return None if span is None else (span.low, span.high)

    def job_time(self, spec: dict) -> tuple[float, float] | None:
        """A training job's expected wall time as (low, high) seconds, from its stored spec; None for other jobs."""
        span = estimate.job_time(self._measured(), spec)
        return None if span is None else (span.low, span.high)

    def _measured(self) -> list[estimate.Measured]:
        """What the newest completed jobs measured, read from the store at most every few seconds."""
        now = time.monotonic()
        if self._history is None or now - self._history[0] > HISTORY_REFRESH_S:
            done = self.store.with_status(["completed"], oldest_first=False, limit=estimate.HISTORY_JOBS)
            self._history = (now, estimate.measured_jobs(done.items))
        return self._history[1]

    # ------------------------------------------------------------------ the loop
    def pump(self) -> None:
        """Reap finished workers, kill ones that ignore a stop, start queued jobs into free slots."""
        with self._lock:
            if self._closed.is_set():  # shut down: start nothing (a pump that waited on the lock included)
                return
            self._reap()
            self._enforce_stops()
            # Count from the store, so workers left by an earlier server process count too.
            running_jobs = self._running()
            self._attach(running_jobs)
            running = Counter(e.owner for e in running_jobs)
            queued = self.store.with_status(["queued"])
            self._report_damaged(queued.damaged)
            slots = self._slots() if queued.items else 0
            free = slots - sum(running.values())
            if free > 0 and self._looping and not self.backend.ready():
                return  # the warm process still imports: the loop starts them next round, no page waits for it
            for exp in holds.not_held(self, running_jobs, queued.items):  # a paused class's jobs wait (holds)
                if free <= 0:
                    break
                if running[exp.owner] >= self.limits.running_per_owner:
                    continue  # this owner's next job waits for their running one; others may go first
                # The store counts again under its claim lock: another app replica may be claiming right now.
                if not self.store.claim(exp.id, most_running=slots, most_per_owner=self.limits.running_per_owner):
                    break  # another replica started this one, or filled the slot: it fills the rest this round
                self._start(exp.id)
                running[exp.owner] += 1
                free -= 1

    def _running(self) -> list[Experiment]:
        """Running jobs; one whose worker on this machine is gone, or is not a worker, is marked interrupted (freeing
        its slot). Another machine's workers are left to that machine's job manager (a shared PostgreSQL store)."""
        out = []
        for exp in self.store.with_status(["running"]).items:
            claimed = (exp.worker or "").endswith(":claim") and time.time() - (exp.started or 0) < 60
            if exp.id not in self._handles and exp.worker and is_local(exp.worker) and not claimed \
                    and not is_our_worker(exp.worker):
                self.store.mark_interrupted(exp.id, N_("The worker process ended unexpectedly."))
                continue
            out.append(exp)
        return out

    def _report_damaged(self, ids: Iterable[str]) -> None:
        """A damaged queued record is failed with one sentence (the queue goes on for everyone else)."""
        for exp_id in ids:
            sentence = N_("This job's record is damaged (its spec, status or creation time), so it cannot run.")
            self.damaged[exp_id] = sentence
            log.warning("Job %s: %s", exp_id, sentence)
            with contextlib.suppress(Exception):  # a row too damaged to update is left, and reported again
                self.store.update_experiment(exp_id, status="failed", message=sentence, finished=time.time())

    def _slots(self) -> int:
        """Jobs at once: the limit, or fewer when the backend (a cluster's live nodes) holds fewer."""
        capacity = self.backend.capacity()
        return self.limits.concurrent if capacity is None else min(self.limits.concurrent, capacity)

    def _start(self, exp_id: str) -> None:
        d = self.store.exp_dir(exp_id)
        d.mkdir(parents=True, exist_ok=True)
        env = {"EXPLORER_DATABASE_URL": self.store.url}
        if self.store.artefacts.url:  # a worker on any node uses the same artefact location
            env["EXPLORER_ARTIFACTS_URL"] = self.store.artefacts.url
        handle = self.backend.start(exp_id, worker_command(d), d / "worker.log", env)
        self._handles[exp_id] = handle
        self._started.add(exp_id)
        # claim() marked it running; the worker records its own handle too (a fast one may even have ended).
        self.store.update_experiment(exp_id, worker=handle.worker)

    def _attach(self, running: list[Experiment]) -> None:
        """Watch running jobs that an earlier app started (their handle is on the record): re-attach."""
        for exp in running:
            if exp.id not in self._handles:
                handle = Handle.of(exp)
                if handle is not None:
                    self._handles[exp.id] = handle

    def _alive(self, handle: Handle) -> bool | None:
        if handle.backend == self.backend.name:
            return self.backend.alive(handle)
        return worker_alive(handle.worker) if handle.backend == "local" else None

    def _kill(self, handle: Handle) -> None:
        if handle.backend == self.backend.name:
            self.backend.stop(handle)
        elif handle.backend == "local":  # left by an app that ran another backend
            kill_worker(handle.worker)

    def _reap(self) -> None:
        for exp_id, handle in list(self._handles.items()):
            if self._alive(handle) is not False:
                continue  # running, or the backend cannot tell now (a cluster's head restarting): ask again later
            del self._handles[exp_id]
            self._started.discard(exp_id)
            self._enforce_budget()
            exp = self.store.load_experiment(exp_id, with_runs=False, reconcile=False)
            if exp is None or exp.status not in ACTIVE:
                continue
            if exp_id in self._stop_asked:
                self._mark_stopped(exp_id)
            else:
                self.store.mark_interrupted(exp_id, self.backend.why_ended(handle))

    def _enforce_budget(self) -> None:
        """After a job ends: prune the oldest finished runs' weights if the disk budgets are exceeded."""
        budget = DiskBudget.from_env()
        if budget.total_bytes is not None or budget.owner_bytes is not None:
            enforce(self.store, budget)

    def _enforce_stops(self) -> None:
        for exp_id, asked in list(self._stop_asked.items()):
            handle = self._handles.get(exp_id)
            if handle is not None and self._alive(handle) is False:
                continue  # _reap handles it
            if time.time() - asked <= STOP_GRACE_S:
                continue
            del self._stop_asked[exp_id]
            exp = self.store.load_experiment(exp_id, with_runs=False)
            if exp is None or exp.status != "running":
                continue
            handle = handle or Handle.of(exp)
            if handle is not None:
                self._kill(handle)
            self._handles.pop(exp_id, None)
            self._mark_stopped(exp_id)

    def _mark_stopped(self, exp_id: str) -> None:
        self.store.update_experiment(exp_id, status="stopped", finished=time.time())
        self.store.update_runs(exp_id, where_status=ACTIVE, status="stopped")

    def _loop(self, poll_s: float) -> None:
        warned = -1e9
        while not self._closed.wait(poll_s):
            try:
                self.pump()
            except StoreError as exc:  # the database is away: say so once in a while, try again next round
                if time.monotonic() - warned > 30:
                    warned = time.monotonic()
                    log.warning("The job manager waits for the run database: %s", exc)
            except Exception:  # noqa: BLE001 - the loop must survive a damaged record or a race
                log.exception("The job manager's loop failed once; it goes on.")

    def shutdown(self, grace_s: float = 5.0) -> None:
        """Stop the local workers this manager started: ask, wait up to grace_s, then kill. Jobs on a cluster (the ray
        backend) run on: the next app re-attaches to them."""
        self._closed.set()
        with self._lock:
            mine = {} if self.backend.outlives_app else \
                {e: h for e, h in self._handles.items() if e in self._started}
            for exp_id, handle in mine.items():
                if self._alive(handle):
                    with contextlib.suppress(StoreError):  # the database away: the kill below still comes
                        self.store.request_stop(exp_id)
            deadline = time.time() + grace_s
            for exp_id, handle in mine.items():
                while self._alive(handle) and time.time() < deadline:
                    time.sleep(0.1)
                if self._alive(handle):
                    self._kill(handle)
                    with contextlib.suppress(StoreError):  # left `running`: the next app marks it interrupted
                        self._mark_stopped(exp_id)
            self._handles.clear()
            self._started.clear()
            self.backend.close()


__all__ = ["JobManager", "JobError", "JobRequest", "Limits", "check_teacher", "TeacherGate", "make_backend",
           "pid_alive", "STOP_GRACE_S"]
