"""A warm worker process: torch and the worker already imported, it forks one child per job.

A fresh `python -m explorer worker` spends ~2-3 s importing torch and the engine before its
first step (docs/benchmarks.md, "A class on one server"). This process pays that once: the job manager starts
it (`python -m explorer.jobs.warm`), and for each job it forks a child that runs exactly what the worker
command runs (explorer.jobs.worker.work), in its own process group (the warm process has its own session, away from
any terminal), with the manager's environment and
its output in the job's worker.log. A crash, an out-of-memory kill or a stop of one child ends that job
only; the warm process itself runs no torch operation (so no thread pool or CUDA context is forked).

Protocol, one JSON object a line: the manager writes {"id", "dir", "env", "cwd", "log"} on the process's
stdin; it answers {"ready": true} once, then {"id", "pid"} per job and {"exit": pid, "code": c} when a child
ends (c < 0: killed by signal -c). When stdin closes (the app is gone), it exits; its children run on.
OpenMP reads how its threads wait once, when torch loads, so a forked child keeps its warm process's waiting: the
manager's side (WarmWorkers) keeps one warm process per waiting and forks each job from the one explorer.cpu
chooses for the machine's load at that moment.
The local backend starts it with its first job, not with the app (one per server process, shared by every job
manager it makes: explorer.jobs.backends.shared_warm_workers), and ends it with a signal, not a wait:
a job manager that never starts a job (most of the test suite, an app nobody trains in) pays nothing for it.
Size budget: ~200 lines.
"""
from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

from ..cpu import CpuPlan, choose_wait

READY_TIMEOUT_S = 120.0  # importing torch on a loaded 2-core machine takes seconds, not minutes


# ----------------------------------------------------------------------------- the warm process
def _preload() -> None:
    """Import what every worker imports (torch, the engine), without running torch. The built-in digits are read
    from scikit-learn's file without importing scikit-learn (explorer.data.builtin), so it is not preloaded."""
    import torch  # noqa: F401
    # torch's optimisers import torch._dynamo on first use: 1.4 s of a 3-epoch job on this machine. An optional
    # speed-up: a torch without it still runs every job.
    with contextlib.suppress(Exception):
        import torch._dynamo  # noqa: F401
    from ..data import datasets  # noqa: F401
    from ..training import engine  # noqa: F401
    from . import landscape_job, worker  # noqa: F401


def _run_child(request: dict, protocol_fds: tuple[int, int]) -> None:
    """In the forked child: become a session leader, take the job's log, environment and folder, run, exit."""
    code = 1
    try:
        for fd in protocol_fds:
            os.close(fd)
        os.setpgid(0, 0)  # its own process group (the server sets it too, before it reports the pid)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        try:  # `top` and `ps -o comm` show a job, not a second warm process (Linux; cosmetic elsewhere)
            with open("/proc/self/comm", "w") as comm:
                comm.write("explorer-job")
        except OSError:
            pass
        os.chdir(request.get("cwd") or os.getcwd())
        os.environ.clear()
        os.environ.update(request.get("env") or {})
        _fresh_process_state()
        from .worker import work
        code = work(request["dir"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - the child must always exit, never return into the server loop
        import traceback
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code if isinstance(code, int) else 1)


def _fresh_process_state() -> None:
    """What a newly started interpreter would have: entropy-seeded `random`/numpy, threads from the environment.

    torch's generator is left alone: the warm process never drew from it, so it holds a fresh process's state,
    and the engine seeds it per experiment anyway.
    """
    import random

    import numpy as np
    import torch
    random.seed()
    np.random.seed()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    threads = os.environ.get("OMP_NUM_THREADS", "")
    if threads.isdigit() and int(threads) > 0:
        torch.set_num_threads(int(threads))


def _send(fd: int, message: dict) -> None:
    os.write(fd, (json.dumps(message) + "\n").encode())


def _reap(out_fd: int) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _send(out_fd, {"exit": pid, "code": os.waitstatus_to_exitcode(status)})


def serve() -> None:
    """The warm process's loop: read job requests on stdin, fork a child for each, report pids and exits."""
    in_fd, out_fd = os.dup(0), os.dup(1)  # the protocol's own descriptors ...
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(2, 1)  # ... so that a stray print can never corrupt it
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C in the app's terminal is the app's business
    _preload()
    _send(out_fd, {"ready": True, "pid": os.getpid()})
    pending = b""
    while True:
        readable, _, _ = select.select([in_fd], [], [], 0.2)
        _reap(out_fd)
        if not readable:
            continue
        chunk = os.read(in_fd, 1 << 20)
        if not chunk:
            return  # the manager is gone; running children keep running in their own sessions
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            request = json.loads(line)
            pid = os.fork()
            if pid == 0:
                _run_child(request, (in_fd, out_fd))
            # Set here as well, so that the group exists before anyone can be told to kill it (an error: the child
            # got there first, or has already ended).
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.setpgid(pid, pid)
            _send(out_fd, {"id": request["id"], "pid": pid})


# ----------------------------------------------------------------------------- the manager's side
class WarmWorkers:
    """The manager's warm processes, one per way OpenMP's threads wait (fixed in a process when torch loads).

    Jobs fork from the sleeping-threads process (OMP_WAIT_POLICY=PASSIVE, started first) unless the machine is quiet
    enough for a job's threads to spin (explorer.cpu.choose_wait): then from a second, spinning process, started the
    first time one is wanted (its jobs fork from the first until it has imported everything).
    """

    def __init__(self, env: dict | None = None) -> None:
        self._env = dict(env if env is not None else os.environ)
        self._passive = _WarmProcess(self._env | CpuPlan(1, 1, False).wait_env())
        self._spinning: _WarmProcess | None = None
        self._forked_by: dict[int, _WarmProcess] = {}

    @property
    def proc(self) -> subprocess.Popen[bytes]:
        """The first warm process (the one every job can fork from)."""
        return self._passive.proc

    def usable(self, timeout_s: float = READY_TIMEOUT_S) -> bool:
        """True once the first warm process has imported everything (waits up to timeout_s), False if it died."""
        return self._passive.usable(timeout_s)

    def _for_waiting(self, wait: dict[str, str]) -> _WarmProcess:
        if wait.get("OMP_WAIT_POLICY") != "ACTIVE":
            return self._passive
        if self._spinning is None or self._spinning.proc.poll() is not None:
            self._spinning = _WarmProcess(self._env | wait)
        return self._spinning if self._spinning.usable(timeout_s=0.0) else self._passive

    def fork(self, exp_dir: Path, log: Path, env: dict | None = None, timeout_s: float = 30.0) -> int | None:
        """Run `python -m explorer worker EXP_DIR` as a forked child; its pid, or None when the warm process cannot.
        The child's OMP_WAIT_POLICY and GOMP_SPINCOUNT say how its threads wait (those of the process it came from)."""
        env = dict(env if env is not None else os.environ)
        process = self._for_waiting(choose_wait(env))
        pid = process.fork(exp_dir, log, env | process.wait, timeout_s)
        if pid is not None:
            self._forked_by[pid] = process
        return pid

    def exit_code(self, pid: int, wait_s: float = 1.0) -> int | None:
        """A forked child's exit code (negative: the signal that ended it), waiting briefly for the report."""
        process = self._forked_by.get(pid, self._passive)
        code = process.exit_code(pid, wait_s)
        if code is not None:
            self._forked_by.pop(pid, None)
        return code

    def close(self) -> None:
        """End the warm processes now (jobs they forked run on in their own process groups)."""
        for process in (self._spinning, self._passive):
            if process is not None:
                process.close()


class _WarmProcess:
    """The manager's handle on one warm process: start it, ask it to fork jobs, learn their exit codes."""

    def __init__(self, env: dict | None = None) -> None:
        self.exit_codes: dict[int, int] = {}  # child pid -> exit code (negative: the signal that ended it)
        self._replies: dict[int, int] = {}
        self._ready = threading.Event()
        self._cond = threading.Condition()
        self._next_id = 0
        self.wait = {k: v for k, v in (env or {}).items() if k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
        self.proc = subprocess.Popen([sys.executable, "-m", "explorer.jobs.warm"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     env=dict(env or os.environ, PYTHONUNBUFFERED="1"), start_new_session=True)
        self._stdin: IO[bytes] = _pipe(self.proc.stdin)
        self._stdout: IO[bytes] = _pipe(self.proc.stdout)
        threading.Thread(target=self._read, daemon=True, name="explorer-warm-reader").start()

    def _read(self) -> None:
        for line in self._stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            with self._cond:
                if message.get("ready"):
                    self._ready.set()
                elif "exit" in message:
                    self.exit_codes[message["exit"]] = message["code"]
                elif "id" in message:
                    self._replies[message["id"]] = message["pid"]
                self._cond.notify_all()
        with self._cond:  # the warm process ended: wake anyone waiting for it
            self._cond.notify_all()

    def usable(self, timeout_s: float = READY_TIMEOUT_S) -> bool:
        """True once the warm process has imported everything (waits up to timeout_s), False if it died."""
        deadline = time.monotonic() + timeout_s
        while not self._ready.is_set():
            if self.proc.poll() is not None or time.monotonic() >= deadline:
                return False
            self._ready.wait(min(0.1, max(0.0, deadline - time.monotonic())))
        return self.proc.poll() is None

    def fork(self, exp_dir: Path, log: Path, env: dict | None = None, timeout_s: float = 30.0) -> int | None:
        """Run `python -m explorer worker EXP_DIR` as a forked child; its pid, or None when the warm process cannot."""
        with self._cond:
            self._next_id += 1
            request_id = self._next_id
            request = {"id": request_id, "dir": str(exp_dir), "log": str(log), "cwd": os.getcwd(),
                       "env": dict(env if env is not None else os.environ, PYTHONUNBUFFERED="1")}
            try:
                self._stdin.write((json.dumps(request) + "\n").encode())
                self._stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                return None
            deadline = time.monotonic() + timeout_s
            while request_id not in self._replies:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    return None
                self._cond.wait(0.1)
            return self._replies.pop(request_id)

    def exit_code(self, pid: int, wait_s: float = 1.0) -> int | None:
        """A forked child's exit code (negative: the signal that ended it), waiting briefly for the report."""
        deadline = time.monotonic() + wait_s
        with self._cond:
            while pid not in self.exit_codes and time.monotonic() < deadline and self.proc.poll() is None:
                self._cond.wait(0.05)
            return self.exit_codes.pop(pid, None)

    def close(self) -> None:
        """End the warm process now (jobs it forked run on in their own process groups; the manager stops those).

        It holds no state worth a clean exit, and while it still imports torch it reads no stdin: so it gets
        SIGTERM rather than a wait for it to notice its input closing (a wait that took 5 s in every app test).
        """
        with contextlib.suppress(OSError):
            self._stdin.close()
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=5)  # SIGTERM's default action: gone within milliseconds
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _pipe(stream: IO[bytes] | None) -> IO[bytes]:
    """A pipe Popen was asked to make (it is None only when it was not asked)."""
    if stream is None:
        raise RuntimeError("The warm process was started without its protocol pipes.")
    return stream

if __name__ == "__main__":
    serve()  # OMP_WAIT_POLICY is the manager's to give (WarmWorkers): importing explorer.jobs has loaded torch
