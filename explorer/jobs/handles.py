"""A job's handle: where it runs, as the run store's `worker` field records it, and how to signal it safely.

Local workers record "host:pid:start ticks" (explorer.store.host); a job on a Ray cluster records
"ray:0:<Ray submission id>" (no pid, never local), given to its worker in EXPLORER_WORKER_HANDLE.
Size budget: ~100 lines.
"""
from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass

from ..store.runstore import is_local, worker_alive, worker_handle

RAY_PREFIX = "ray:0:"  # the store's worker field for a Ray job: "ray:0:<submission id>" (no pid, never local)
HANDLE_ENV = "EXPLORER_WORKER_HANDLE"  # set for a Ray job: the handle its worker records for itself


@dataclass(frozen=True)
class Handle:
    """Where one job runs: its backend's name, that backend's reference (a pid, a Ray submission id), and the
    string the store keeps in the experiment's `worker` field ("host:pid:start ticks", or "ray:0:<id>")."""

    backend: str
    ref: str
    worker: str

    @classmethod
    def local(cls, pid: int) -> Handle:
        return cls("local", str(pid), worker_handle(pid))

    @classmethod
    def ray(cls, job_id: str) -> Handle:
        return cls("ray", job_id, RAY_PREFIX + job_id)

    @classmethod
    def of(cls, exp: object) -> Handle | None:
        """The handle an experiment record carries; None for a claim, another machine's process, or none."""
        worker = str(getattr(exp, "worker", None) or "")
        if worker.startswith(RAY_PREFIX):
            return cls.ray(worker[len(RAY_PREFIX):])
        parts = worker.rsplit(":", 2)
        if len(parts) == 3 and parts[1].isdigit() and parts[2] != "claim" and is_local(worker):
            return cls("local", parts[1], worker)
        return None


def own_handle() -> str:
    """The `worker` field a worker records for itself: its Ray job's handle under the ray backend, else its pid's."""
    return os.environ.get(HANDLE_ENV) or worker_handle(os.getpid())


def is_our_worker(handle: str | None) -> bool:
    """True only for a live process of this machine that is a job's worker, with the recorded start time: one
    started as `python -m explorer worker`, or a job forked from the warm worker process.

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
    return (b"explorer" in argv and b"worker" in argv) or b"explorer.jobs.warm" in argv


def kill_worker(handle: str | None) -> None:
    """SIGKILL a worker's process group (a worker leads its own), only if that process is still our worker."""
    if is_our_worker(handle):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(int(str(handle).rsplit(":", 2)[1]), signal.SIGKILL)
