"""The `ray` backend: each job is a Ray job on an existing cluster, submitted through Ray's job submission API.

The entrypoint is the same `python -m explorer worker DIR` command a local worker runs, so the cluster's nodes
need this package installed (or its folder on PYTHONPATH, which is forwarded) and DIR on a folder every node
sees (docs/deploy.md). Ray chooses the node from each job's resource request:

    EXPLORER_RAY_ADDRESS    the head's dashboard, e.g. http://head:8265 (default http://127.0.0.1:8265)
    EXPLORER_CPU_PER_JOB    CPUs a job asks for (default 1)
    EXPLORER_GPU_PER_JOB    a GPU or a fraction of one (default 0; 0.25 lets four small nets share a GPU)
    EXPLORER_RAY_RESOURCES  extra custom resources as JSON, e.g. {"gpu_node": 0.01}, to pin jobs to nodes
    EXPLORER_RAY_PYTHON     the Python on the nodes (default `python`)

Ray is optional: `pip install -r requirements-cluster.txt`. Nothing here runs at import time.
Size budget: ~150 lines.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import shlex
import time
from pathlib import Path

from ..i18n import N_, _
from .backends import Backend
from .handles import HANDLE_ENV, Handle

CAPACITY_TTL_S = 5.0  # the job manager pumps twice a second; the cluster's size changes far more slowly
_FORWARDED = ("PYTHONPATH", "OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS")
_RUNNING = ("PENDING", "RUNNING")


def _number(name: str, default: float) -> float:
    try:
        return max(0.0, float(os.environ.get(name, default)))
    except ValueError:
        raise ValueError(f"{name} must be a number; got {os.environ.get(name)!r}.") from None


def dashboard_url(address: str | None) -> str:
    """The dashboard's http URL for an address given as `host:port` or a URL (default http://127.0.0.1:8265)."""
    address = (address or "").strip() or "http://127.0.0.1:8265"
    return address if "://" in address else f"http://{address}"


class RayBackend(Backend):
    """Jobs as Ray jobs: submit, poll their status, stop them; capacity from the live nodes' resources."""

    name = "ray"
    outlives_app = True  # the cluster owns its jobs: a restarted app re-attaches to them

    def __init__(self, address: str | None = None) -> None:
        try:
            from ray.job_submission import JobSubmissionClient
        except ImportError:
            raise ValueError("The ray backend needs Ray: pip install -r requirements-cluster.txt.") from None
        self.address = dashboard_url(address or os.environ.get("EXPLORER_RAY_ADDRESS"))
        self.cpus = _number("EXPLORER_CPU_PER_JOB", 1.0)
        self.gpus = _number("EXPLORER_GPU_PER_JOB", 0.0)
        try:
            self.resources = {str(k): float(v) for k, v in
                              json.loads(os.environ.get("EXPLORER_RAY_RESOURCES") or "{}").items()}
        except (ValueError, AttributeError):
            raise ValueError('EXPLORER_RAY_RESOURCES must be a JSON object such as {"gpu_node": 0.01}.') from None
        self.python = os.environ.get("EXPLORER_RAY_PYTHON") or "python"
        try:
            self.client = JobSubmissionClient(self.address)
        except Exception as exc:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError, ... for an absent head
            raise ValueError(f"No Ray cluster answers at {self.address} ({type(exc).__name__}); start one with "
                             "`ray start --head` or set EXPLORER_RAY_ADDRESS.") from None
        self._capacity = (0.0, 0)  # (monotonic time read, jobs the live nodes can run at once)

    def start(self, exp_id: str, command: list, log: Path, env: dict) -> Handle:
        job_id = f"explorer-{exp_id}-{secrets.token_hex(3)}"
        env = {**{k: os.environ[k] for k in _FORWARDED if os.environ.get(k)},
               **{k: v for k, v in os.environ.items() if k.startswith("EXPLORER_")}, **env,
               HANDLE_ENV: Handle.ray(job_id).worker}  # the worker records the Ray job, not its pid
        env.setdefault("OMP_NUM_THREADS", str(max(1, int(self.cpus))))  # torch's threads = the CPUs asked for
        self.client.submit_job(
            # `exec`: the worker is the job's own process, not a shell's child, so Ray's signals and its
            # clean-up when a node dies reach it directly.
            entrypoint="exec " + shlex.join([self.python, *command[1:]]), runtime_env={"env_vars": env},
            submission_id=job_id, metadata={"experiment": exp_id},
            entrypoint_num_cpus=self.cpus, entrypoint_num_gpus=self.gpus or None,
            entrypoint_resources=self.resources or None)
        with open(log, "a") as f:
            f.write(f"Submitted as Ray job {job_id} to {self.address}; its output is in Ray's job logs.\n")
        return Handle.ray(job_id)

    def alive(self, handle: Handle) -> bool | None:
        if handle.backend != self.name:
            return None
        try:
            return str(getattr(self.client.get_job_status(handle.ref), "value", "")) in _RUNNING
        except RuntimeError as exc:  # the head answers, and knows no such job
            return False if "does not exist" in str(exc) or "404" in str(exc) else None
        except Exception:  # noqa: BLE001 - the head is unreachable: say nothing rather than guess
            return None

    def stop(self, handle: Handle) -> None:
        if handle.backend != self.name:
            return
        with contextlib.suppress(Exception):  # already ended, or the head is gone with it
            self.client.stop_job(handle.ref)  # SIGTERM to the job's process group, SIGKILL a few seconds later

    def why_ended(self, handle: Handle) -> str:
        try:
            info = self.client.get_job_info(handle.ref)
        except Exception:  # noqa: BLE001
            return N_("The Ray job running it ended unexpectedly.")
        detail = " ".join((info.message or "").split())[:160]
        return _("The Ray job running it ended unexpectedly ({status}: {detail}).").format(
            status=info.status.value, detail=detail) if detail else \
            _("The Ray job running it ended unexpectedly ({status}).").format(status=info.status.value)

    def capacity(self) -> int | None:
        read_at, jobs = self._capacity
        if time.monotonic() - read_at < CAPACITY_TTL_S:
            return jobs
        try:
            from ray.util.state import list_nodes
            nodes = list_nodes(address=self.address, detail=True, timeout=10)
        except Exception:  # noqa: BLE001 - the head is unreachable: start nothing new until it answers
            return 0
        jobs = sum(self._jobs_on(node.resources_total or {}) for node in nodes if node.state == "ALIVE")
        self._capacity = (time.monotonic(), jobs)
        return jobs

    def _jobs_on(self, total: dict) -> int:
        """How many jobs one node's resources hold, given what each job asks for."""
        asks = {"CPU": self.cpus, "GPU": self.gpus, **self.resources}
        fits = [math.floor(total.get(name, 0.0) / amount + 1e-9) for name, amount in asks.items() if amount > 0]
        return min(fits) if fits else 0
