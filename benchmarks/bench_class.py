"""A class at once: N students each start their own 3-epoch digits twin (different seeds) through the job manager.

For each backend asked for: do all complete (none lost); the median and 95th-percentile queue wait (submitted
-> handed to the backend); each job's wall time (handed to the backend -> finished) and its overhead (wall time
minus training time, training = the engine's elapsed time at its last epoch). Targets (issue 13), this 2-core
machine: local per-job overhead <= 1 s; 30 students with 2 jobs at once, p95 wait <= 90 s.

    python benchmarks/bench_class.py [--students 30] [--epochs 3] [--concurrent 2] [--device cpu|cuda]
                                     [--backends local,cold,ray] [--ray-address http://127.0.0.1:8265]

`local` forks each job from the warm worker process; `cold` is the same backend starting a fresh
`python -m explorer worker` per job (EXPLORER_WARM_WORKERS=0, the behaviour before issue 13); `ray` submits to
the Ray cluster at --ray-address (EXPLORER_CPU_PER_JOB CPUs per job; Ray's own capacity, capped by --concurrent).
Prints one markdown table row per backend.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import tempfile
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads (docs/benchmarks.md)

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from benchmarks.machine import cpu_name  # noqa: E402
from explorer.data.config import DataConfig  # noqa: E402
from explorer.jobs.backends import LocalBackend  # noqa: E402
from explorer.jobs.manager import JobManager, Limits  # noqa: E402
from explorer.jobs.request import JobRequest  # noqa: E402
from explorer.nets.config import preset  # noqa: E402
from explorer.store.records import ACTIVE  # noqa: E402
from explorer.store.runstore import RunStore  # noqa: E402
from explorer.training.experiments import twin  # noqa: E402
from explorer.training.recipes import train_config_for  # noqa: E402


def _p95(values: list) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]


def _backend(name: str, address: str):
    if name == "local":
        return LocalBackend(warm=True)
    if name == "cold":
        return LocalBackend(warm=False)
    os.environ["EXPLORER_RAY_ADDRESS"] = address
    from explorer.jobs.raycluster import RayBackend
    return RayBackend()


def _training_s(store: RunStore, exp) -> float:
    """The engine's elapsed time at the last epoch (all runs of a twin train in lockstep, so one clock)."""
    ends = [records[-1].elapsed or 0.0 for r in exp.runs if (records := store.read_metrics(exp.id, r.id, kind="epoch"))]
    return max(ends, default=0.0)


def _recording(backend):
    """The backend, its start() noting when each job was handed to it (the store keeps the worker's own start)."""
    dispatched = {}
    start = backend.start

    def timed_start(exp_id, *args):
        dispatched[exp_id] = time.time()
        return start(exp_id, *args)
    backend.start = timed_start
    return backend, dispatched


def run_class(name: str, students: int, epochs: int, concurrent: int, address: str, timeout_s: float,
              device: str = "cpu") -> dict:
    """Submit `students` twins at once on one backend; returns the figures of one table row."""
    store = RunStore(tempfile.mkdtemp(prefix=f"bench-class-{name}-"))
    backend = _backend(name, address)
    if name == "local":
        backend.warm_up(wait=True)  # started by the server's first job, long before a class arrives
    backend, dispatched = _recording(backend)
    manager = JobManager(store, Limits(concurrent, 1, 1, starts_per_hour=students), poll_s=0.2, backend=backend)
    base = preset("resnet20")
    t0 = time.time()
    ids = []
    for seed in range(students):
        spec = twin(base, DataConfig("digits"), train_config_for("digits", epochs=epochs, seed=seed, device=device))
        ids.append(manager.submit(JobRequest.training(spec, f"student-{seed}"))[0])
    while time.time() - t0 < timeout_s:
        exps = [store.load_experiment(i, with_runs=False) for i in ids]
        if all(e is not None and e.status not in ACTIVE for e in exps):
            break
        time.sleep(1.0)
    makespan = time.time() - t0
    manager.shutdown()
    exps = [store.load_experiment(i) for i in ids]
    done = [e for e in exps if e and e.status == "completed"]
    waits = [dispatched[e.id] - e.created for e in done]
    walls = [e.finished - dispatched[e.id] for e in done]
    overheads = [w - _training_s(store, e) for w, e in zip(walls, done, strict=True)]
    return {"backend": name, "students": students, "completed": len(done), "lost": students - len(done),
            "wait_median": statistics.median(waits), "wait_p95": _p95(waits),
            "wall_median": statistics.median(walls), "overhead_median": statistics.median(overheads),
            "overhead_p95": _p95(overheads), "makespan": makespan}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--students", type=int, default=30)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--concurrent", type=int, default=2)
    p.add_argument("--backends", default="local,cold")
    p.add_argument("--ray-address", default=os.environ.get("EXPLORER_RAY_ADDRESS", "http://127.0.0.1:8265"))
    p.add_argument("--timeout", type=float, default=1800.0)
    p.add_argument("--device", default="cpu", help="cpu, or cuda to measure jobs sharing a GPU")
    args = p.parse_args()
    print(f"Machine: {cpu_name()}, {os.cpu_count()} cores; load average before: {os.getloadavg()[0]:.1f}")
    print("| backend | students | completed | lost | wait median | wait p95 | job wall median | "
          "overhead median | overhead p95 | all done after |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in args.backends.split(","):
        r = run_class(name.strip(), args.students, args.epochs, args.concurrent, args.ray_address, args.timeout,
                      args.device)
        print(f"| {r['backend']} | {r['students']} | {r['completed']} | {r['lost']} | {r['wait_median']:.1f} s | "
              f"{r['wait_p95']:.1f} s | {r['wall_median']:.1f} s | {r['overhead_median']:.2f} s | "
              f"{r['overhead_p95']:.2f} s | {r['makespan']:.0f} s |", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
