"""How a training process uses this machine's CPU cores: torch's threads per model, the models trained side by
side, and how OpenMP's threads wait (spin briefly, or sleep at once).

No torch here: `python -m explorer` and the warm worker process choose OpenMP's wait policy before torch loads,
because OpenMP reads OMP_WAIT_POLICY once, when it starts (docs/benchmarks.md, "Threads and waiting").

The rule, measured on a 2-core machine (docs/benchmarks.md):
- Threads per model are the job's share of the cores (cores // jobs at once) split over the models trained side by
  side. Only the machine and the server's settings decide them, never the load of the moment: the number of threads
  changes a convolution's summation order, so the same seed must always get the same threads (same curves).
- Waiting is chosen from the load when the job starts (it changes speed, never results): a job with its cores to
  itself lets OpenMP's threads spin briefly between operations (two threads on a quiet machine: ~2.6x passive
  sleeping); on a shared machine they sleep at once, since a thread spinning while the one it waits for is
  descheduled made small convolutions 10-30x slower.
Size budget: ~120 lines.
"""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass

SPIN_COUNT = 300_000  # OpenMP's own default (GOMP_SPINCOUNT): spin ~1-3 ms, then sleep; bounded even when active
IDLE_MARGIN = 0.5  # cores a job may find busy (the server itself, a shell) and still count as having them
WAIT_ENV = "EXPLORER_CPU_WAIT"  # auto (default), spin or passive: a deployment's override of the choice below


@dataclass(frozen=True)
class CpuPlan:
    """How one training process uses the CPU."""

    threads: int  # torch's intra-op threads for each model's operations
    side_by_side: int  # models trained at once, one Python thread each (1: one after another)
    spin: bool  # OpenMP threads spin briefly while waiting (True) or sleep at once (OMP_WAIT_POLICY=PASSIVE)

    def wait_env(self) -> dict[str, str]:
        """The environment variables that give a new process this plan's waiting."""
        if self.spin:
            return {"OMP_WAIT_POLICY": "ACTIVE", "GOMP_SPINCOUNT": str(SPIN_COUNT)}
        return {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "0"}


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask, e.g. a container's or taskset's limit)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def jobs_at_once(environ: Mapping[str, str] = os.environ) -> int:
    """How many jobs the server runs at once (EXPLORER_MAX_JOBS, default 1): each gets its share of the cores."""
    value = environ.get("EXPLORER_MAX_JOBS", "")
    return max(1, int(value)) if value.isdigit() else 1


def busy_cores(sample_s: float = 0.05) -> float:
    """How many cores are busy right now: /proc/stat over `sample_s` (Linux), else the 1-minute load average."""
    def _read() -> tuple[int, int] | None:
        try:
            with open("/proc/stat", encoding="ascii") as f:
                fields = [int(v) for v in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields[:8]), idle

    first = _read()
    if first is None:
        return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    time.sleep(sample_s)
    second = _read()
    if second is None or second[0] <= first[0]:
        return 0.0
    total, idle = second[0] - first[0], second[1] - first[1]
    return (os.cpu_count() or 1) * (1.0 - idle / total)


def plan_cpu(cores: int, jobs: int, models: int, busy: float) -> CpuPlan:
    """The plan for a job of `models` lockstep models on `cores` cores shared by `jobs` jobs at once, `busy` cores
    busy when it starts (see the module's docstring for why threads ignore `busy` and waiting does not)."""
    share = max(1, cores // max(1, jobs))
    side = max(1, min(share, models))
    threads = max(1, share // side)
    spin = threads > 1 and busy <= cores - share + IDLE_MARGIN
    return CpuPlan(threads, side, spin)


def choose_wait(environ: Mapping[str, str] = os.environ, busy: float | None = None) -> dict[str, str]:
    """OMP_WAIT_POLICY and GOMP_SPINCOUNT for a training process about to start, from this machine and its load.

    EXPLORER_CPU_WAIT=spin or passive fixes the choice (it overrides an inherited OMP_WAIT_POLICY, which the app's
    entry points set to PASSIVE for their own threads). Waiting matters only where a model gets more than one thread,
    and every model count gives the same answer then, so the caller needs not know the job's models.
    """
    forced = environ.get(WAIT_ENV, "auto").lower()
    if forced in ("spin", "passive"):
        return CpuPlan(2, 1, forced == "spin").wait_env()
    cores, jobs = usable_cores(), jobs_at_once(environ)
    if max(1, cores // jobs) < 2:
        return CpuPlan(1, 1, False).wait_env()  # one thread never waits for another: no need to sample the load
    return plan_cpu(cores, jobs, 1, busy_cores() if busy is None else busy).wait_env()


def report(plan: CpuPlan) -> None:
    """One line on stderr (a job's worker.log) saying how this training process uses the CPU."""
    print(f"explorer: training on the CPU with {plan.threads} thread(s) per model, {plan.side_by_side} model(s) "
          f"side by side, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '')}", file=sys.stderr, flush=True)


def apply_wait(environ: dict[str, str] | None = None) -> dict[str, str]:
    """Set the chosen waiting in `environ` (os.environ by default) before torch loads; returns what was set."""
    target = os.environ if environ is None else environ
    chosen = choose_wait(target)
    target.update(chosen)
    return chosen
