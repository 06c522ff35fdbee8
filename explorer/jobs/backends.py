"""Where a job runs. A backend starts a worker command, says whether it still runs, kills it, and says how many
jobs it can run at once; the job manager keeps every policy (owners, limits, de-duplication, order).

- `local` (the default): worker processes on this machine, forked from a warm process that has torch imported
  (explorer.jobs.warm, started with the first job), so later jobs start in a fraction of a second; a plain
  `python -m explorer worker` process when the warm one is unavailable (EXPLORER_WARM_WORKERS=0 asks for that).
- `ray`: each job is a Ray job on an existing cluster (explorer.jobs.raycluster), Ray choosing the node.

EXPLORER_BACKEND picks one (explorer.jobs.manager.make_backend). A job's handle (explorer.jobs.handles) is kept
in its experiment's `worker` field, so an app started later re-attaches to the jobs still running.
Size budget: ~150 lines.
"""
from __future__ import annotations

import atexit
import contextlib
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from ..i18n import N_, _
from ..store.runstore import worker_alive
from .handles import HANDLE_ENV, Handle, kill_worker

if TYPE_CHECKING:  # imported when first used: `python -m explorer.jobs.warm` must not find itself imported already
    from .warm import WarmWorkers


class Backend:
    """The interface: start a command for a job, ask whether it runs, kill it, say how many can run."""

    name = "?"
    outlives_app = False  # True: its jobs run on when the app stops (a cluster); False: the app stops them

    def start(self, exp_id: str, command: list, log: Path, env: dict) -> Handle:
        """Start `command` (["python", "-m", "explorer", "worker", DIR]) for a job, with these environment variables
        added (the store's database URL); its output goes to `log`."""
        raise NotImplementedError

    def alive(self, handle: Handle) -> bool | None:
        """True while the job runs (or waits for a node), False once it ended, None when it cannot tell."""
        raise NotImplementedError

    def stop(self, handle: Handle) -> None:
        """Kill the job now (a graceful stop is a stop request in the store, which the worker reads)."""
        raise NotImplementedError

    def why_ended(self, handle: Handle) -> str:
        """One sentence for a job that ended without writing its own end (a crash, a kill, a lost node)."""
        return N_("The worker process ended unexpectedly.")

    def capacity(self) -> int | None:
        """How many jobs it can run at once; None when only the job manager's limit counts."""
        return None

    def warm_up(self, wait: bool = False) -> bool:
        """Get ready for jobs before the first one asks (a server expecting a class); True when ready. wait: block
        until then. Backends start what they need with their first job anyway."""
        return True

    def ready(self) -> bool:
        """Whether a job started now starts at once. False while what jobs start from is still being made (the warm
        process importing torch): a job manager with a loop leaves its queue for the next round instead of waiting
        under its lock, from the page whose button was pressed (a minute on a loaded machine)."""
        return True

    def close(self) -> None:
        """Release what the backend holds (jobs it started keep running)."""


class LocalBackend(Backend):
    """Worker processes on this machine, each its own process group; forked from a warm process when possible."""

    name = "local"

    def __init__(self, warm: bool | None = None) -> None:
        if warm is None:
            warm = os.environ.get("EXPLORER_WARM_WORKERS", "1") != "0"
        self._procs: dict[int, subprocess.Popen[bytes]] = {}  # workers started without the warm process, by pid
        self._use_warm = warm
        self._warm: WarmWorkers | None = None  # started with the first job: a backend that runs none pays nothing

    def start(self, exp_id: str, command: list, log: Path, env: dict) -> Handle:
        env = {k: v for k, v in os.environ.items() if k != HANDLE_ENV} | dict(env, PYTHONUNBUFFERED="1")
        warm = self._warm_workers() if command[1:4] == ["-m", "explorer", "worker"] else None
        if warm is not None and warm.usable():
            pid = warm.fork(command[4], log, env)
            if pid is not None:
                return Handle.local(pid)
        with open(log, "ab") as out:
            proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=env, start_new_session=True)
        self._procs[proc.pid] = proc
        return Handle.local(proc.pid)

    def warm_up(self, wait: bool = False) -> bool:
        """Start the warm process now instead of with the first job; True once it has imported everything."""
        warm = self._warm_workers()
        if warm is None:
            return True
        return warm.usable() if wait else warm.usable(timeout_s=0.0)

    def ready(self) -> bool:
        """Starts the warm process if there is none; False while it imports (a warm process that died: True, the
        job runs as a fresh process)."""
        warm = self._warm_workers()
        return warm is None or warm.usable(timeout_s=0.0) or warm.proc.poll() is not None

    def _warm_workers(self) -> WarmWorkers | None:
        """The warm process, started now if there is none yet or the last one died (the OOM killer?).

        One per server process, shared by its backends (`shared_warm_workers`): a job manager made again (Streamlit
        cleared its cache; each test of the suite) forks from the warm process already there instead of paying
        ~5 s of a core to import torch again.
        """
        if not self._use_warm:
            return None
        if self._warm is None or self._warm.proc.poll() is not None:
            self._warm = shared_warm_workers()
        return self._warm

    def alive(self, handle: Handle) -> bool | None:
        if handle.backend != self.name:
            return None
        proc = self._procs.get(int(handle.ref))
        return proc.poll() is None if proc is not None else worker_alive(handle.worker)

    def stop(self, handle: Handle) -> None:
        if handle.backend == self.name:
            kill_worker(handle.worker)
            proc = self._procs.pop(int(handle.ref), None)
            if proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=5)

    def why_ended(self, handle: Handle) -> str:
        if not handle.ref.isdigit():
            return N_("The worker process ended unexpectedly.")
        pid = int(handle.ref)
        proc = self._procs.pop(pid, None)
        code = proc.returncode if proc is not None else (self._warm.exit_code(pid) if self._warm else None)
        if code is None:
            return N_("The worker process ended unexpectedly.")
        return _("The worker process ended unexpectedly (exit code {code}).").format(code=code)

    def close(self) -> None:
        """Let go of the shared warm process (it serves the next backend; it ends with the server process)."""
        self._warm = None


_SHARED_WARM: dict[tuple[str, str], WarmWorkers] = {}
_SHARED_LOCK = threading.Lock()


def shared_warm_workers() -> WarmWorkers:
    """This process's warm workers for this interpreter and import path, started on first use or after one died.

    What a job sees comes with each fork (its environment, folder and log: explorer.jobs.warm), so one warm process
    serves every job manager of the process. It ends when the process exits (its input closes; `close_shared_warm`
    also signals it at exit).
    """
    from .warm import WarmWorkers
    key = (sys.executable, os.environ.get("PYTHONPATH", ""))
    with _SHARED_LOCK:
        warm = _SHARED_WARM.get(key)
        if warm is None or warm.proc.poll() is not None:
            if not _SHARED_WARM:
                atexit.register(close_shared_warm)
            warm = _SHARED_WARM[key] = WarmWorkers()
        return warm


def close_shared_warm() -> None:
    """End this process's shared warm processes (jobs they forked run on in their own process groups)."""
    with _SHARED_LOCK:
        for warm in _SHARED_WARM.values():
            warm.close()
        _SHARED_WARM.clear()


def worker_command(exp_dir: Path) -> list:
    """The one command every backend runs for a job: `python -m explorer worker DIR`."""
    return [sys.executable, "-m", "explorer", "worker", str(Path(exp_dir).resolve())]
