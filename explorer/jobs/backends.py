"""Where a job runs. A backend starts a worker command, says whether it still runs, kills it, and says how many
jobs it can run at once; the job manager keeps every policy (owners, limits, de-duplication, order).

- `local` (the default): worker processes on this machine, forked from a warm process that has torch imported
  (explorer.jobs.warm), so a job starts in a fraction of a second; a plain `python -m explorer worker`
  process when the warm one is unavailable (EXPLORER_WARM_WORKERS=0 asks for that).
- `ray`: each job is a Ray job on an existing cluster (explorer.jobs.raycluster), Ray choosing the node.

EXPLORER_BACKEND picks one (explorer.jobs.manager.make_backend). A job's handle (the pid, or the Ray submission id) is kept on its experiment
(`backend`, `handle`), so an app started later re-attaches to the jobs still running.
Size budget: ~150 lines.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..store.runstore import pid_alive

@dataclass(frozen=True)
class Handle:
    """Where one job runs: its backend's name and that backend's reference (a pid, a Ray submission id)."""

    backend: str
    ref: str

    @classmethod
    def of(cls, exp: dict) -> Optional["Handle"]:
        """The handle an experiment record carries (records written before backends existed: their pid)."""
        if exp.get("handle"):
            return cls(str(exp.get("backend") or "local"), str(exp["handle"]))
        return cls("local", str(exp["pid"])) if isinstance(exp.get("pid"), int) else None


class Backend:
    """The interface: start a command for a job, ask whether it runs, kill it, say how many can run."""

    name = "?"
    outlives_app = False  # True: its jobs run on when the app stops (a cluster); False: the app stops them

    def start(self, exp_id: str, command: list, log: Path) -> Handle:
        """Start `command` (["python", "-m", "explorer", "worker", DIR]) for a job; its output goes to `log`."""
        raise NotImplementedError

    def alive(self, handle: Handle) -> Optional[bool]:
        """True while the job runs (or waits for a node), False once it ended, None when it cannot tell."""
        raise NotImplementedError

    def stop(self, handle: Handle) -> None:
        """Kill the job now (a graceful stop is a stop request in the store, which the worker reads)."""
        raise NotImplementedError

    def why_ended(self, handle: Handle) -> str:
        """One sentence for a job that ended without writing its own end (a crash, a kill, a lost node)."""
        return "The worker process ended unexpectedly."

    def capacity(self) -> Optional[int]:
        """How many jobs it can run at once; None when only the job manager's limit counts."""
        return None

    def close(self) -> None:
        """Release what the backend holds (jobs it started keep running)."""


class LocalBackend(Backend):
    """Worker processes on this machine, each its own process group; forked from a warm process when possible."""

    name = "local"

    def __init__(self, warm: Optional[bool] = None) -> None:
        if warm is None:
            warm = os.environ.get("EXPLORER_WARM_WORKERS", "1") != "0"
        self._procs: dict = {}  # pid -> subprocess.Popen, for workers started without the warm process
        self._warm = None
        if warm:
            from .warm import WarmWorkers
            self._warm = WarmWorkers()  # imports torch in the background while the app starts

    def start(self, exp_id: str, command: list, log: Path) -> Handle:
        if self._warm is not None and self._warm.proc.poll() is not None:  # it died (the OOM killer?): again
            from .warm import WarmWorkers
            self._warm = WarmWorkers()
        if self._warm is not None and command[1:4] == ["-m", "explorer", "worker"] and self._warm.usable():
            pid = self._warm.fork(command[4], log)
            if pid is not None:
                return Handle(self.name, str(pid))
        with open(log, "ab") as out:
            proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=dict(os.environ, PYTHONUNBUFFERED="1"), start_new_session=True)
        self._procs[proc.pid] = proc
        return Handle(self.name, str(proc.pid))

    def alive(self, handle: Handle) -> Optional[bool]:
        if handle.backend != self.name or not handle.ref.isdigit():
            return None
        proc = self._procs.get(int(handle.ref))
        return proc.poll() is None if proc is not None else pid_alive(int(handle.ref))

    def stop(self, handle: Handle) -> None:
        if handle.backend == self.name and handle.ref.isdigit():
            kill_group(int(handle.ref))
            proc = self._procs.pop(int(handle.ref), None)
            if proc is not None:
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass

    def why_ended(self, handle: Handle) -> str:
        pid = int(handle.ref) if handle.ref.isdigit() else None
        proc = self._procs.pop(pid, None)
        code = proc.returncode if proc is not None else (self._warm.exit_code(pid) if self._warm else None)
        return "The worker process ended unexpectedly" + (f" (exit code {code})." if code is not None else ".")

    def close(self) -> None:
        if self._warm is not None:
            self._warm.close()


def kill_group(pid: int) -> None:
    """SIGKILL a worker's process group (workers start their own session, so its pid is the group's id)."""
    if pid > 0 and pid_alive(pid):
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def worker_command(exp_dir: Path) -> list:
    """The one command every backend runs for a job: `python -m explorer worker DIR`."""
    return [sys.executable, "-m", "explorer", "worker", str(Path(exp_dir).resolve())]
