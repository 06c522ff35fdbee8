"""A class at once: N students each start their own 3-epoch digits twin (different seeds) through the job manager.

For each backend asked for: do all complete (none lost); the median and 95th-percentile queue wait (submitted
-> handed to the backend); each job's wall time (handed to the backend -> finished) and its overhead (wall time
minus training time, training = the engine's elapsed time at its last epoch). Targets (issue 13), this 2-core
machine: local per-job overhead <= 1 s; 30 students with 2 jobs at once, p95 wait <= 90 s (issue 20: <= 25 s).

The estimates' error (issue 20): every second, each queued job's estimated wait (JobManager.queued_wait) and each
running job's estimated time left (JobManager.time_left) are read as a page would show them; each is compared with
what then happened (|estimate - actual| / actual, the range's middle); a job's error is the median over the
estimates shown for it, and the table gives the median over jobs (target <= 25%), plus the error of the first
estimate each job showed. `--history N` (default 2) runs N jobs before the class, as a server that has run
jobs before has measured them (0: a fresh server, whose first estimates are guesses from the nets' sizes).

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


def _shown(manager: JobManager, exps: list, now: float, shown: dict) -> None:
    """Note the estimates a page would show now: a queued job's wait, a running job's time left (the middles)."""
    for e in exps:
        if e is None:
            continue
        if e.status == "queued" and (place := manager.queued_wait(e.id)) is not None:
            shown.setdefault(("wait", e.id), []).append((now, place["wait_s"]))
        elif e.status == "running" and (left := manager.time_left(e)) is not None:
            shown.setdefault(("left", e.id), []).append((now, (left[0] + left[1]) / 2))


def _errors(shown: dict, started: dict, finished: dict) -> dict:
    """Median over jobs of (the median, and the first) relative error of the estimates shown for each job."""
    out = {}
    for kind, ends in (("wait", started), ("left", finished)):
        medians, firsts = [], []
        for (k, exp_id), seen in shown.items():
            end = ends.get(exp_id)
            if k != kind or end is None:
                continue
            errs = [abs(est - (end - t)) / (end - t) for t, est in seen if end - t > 1.0]
            if errs:
                medians.append(statistics.median(errs))
                firsts.append(errs[0])
        out[kind] = (statistics.median(medians) if medians else float("nan"),
                     statistics.median(firsts) if firsts else float("nan"), len(medians))
    return out


def run_class(name: str, students: int, epochs: int, concurrent: int, address: str, timeout_s: float,
              device: str = "cpu", history: int = 2) -> dict:
    """Submit `students` twins at once on one backend; returns the figures of one table row."""
    os.environ["EXPLORER_MAX_JOBS"] = str(concurrent)  # the job processes' share of the cores (explorer.cpu)
    store = RunStore(tempfile.mkdtemp(prefix=f"bench-class-{name}-"))
    backend = _backend(name, address)
    if name == "local":
        backend.warm_up(wait=True)  # started by the server's first job, long before a class arrives
    backend, dispatched = _recording(backend)
    manager = JobManager(store, Limits(concurrent, 1, 1, starts_per_hour=students), poll_s=0.2, backend=backend)
    base = preset("resnet20")
    for seed in range(1000, 1000 + history):  # what the server ran (and measured) before the class came
        spec = twin(base, DataConfig("digits"), train_config_for("digits", epochs=epochs, seed=seed, device=device))
        earlier = manager.submit(JobRequest.training(spec, f"earlier-{seed}"))[0]
        while (e := store.load_experiment(earlier, with_runs=False)) is not None and e.status in ACTIVE:
            time.sleep(0.5)
    dispatched.clear()
    t0 = time.time()
    ids, shown, guessed = [], {}, {}
    for seed in range(students):
        spec = twin(base, DataConfig("digits"), train_config_for("digits", epochs=epochs, seed=seed, device=device))
        request = JobRequest.training(spec, f"student-{seed}")
        ids.append(manager.submit(request)[0])
        guessed[ids[-1]] = manager.job_time(request.to_json())  # the job time shown when it was submitted
    while time.time() - t0 < timeout_s:
        exps = [store.load_experiment(i, with_runs=False) for i in ids]
        if all(e is not None and e.status not in ACTIVE for e in exps):
            break
        _shown(manager, exps, time.time(), shown)
        time.sleep(1.0)
    makespan = time.time() - t0
    manager.shutdown()
    exps = [store.load_experiment(i) for i in ids]
    done = [e for e in exps if e and e.status == "completed"]
    waits = [dispatched[e.id] - e.created for e in done]
    walls = [e.finished - dispatched[e.id] for e in done]
    overheads = [w - _training_s(store, e) for w, e in zip(walls, done, strict=True)]
    errors = _errors(shown, dispatched, {e.id: e.finished for e in done})
    job_errors = [abs(sum(guessed[e.id]) / 2 - (e.finished - e.started)) / (e.finished - e.started)
                  for e in done if guessed.get(e.id) and e.started and e.finished]
    errors["job"] = (statistics.median(job_errors) if job_errors else float("nan"), 0.0, len(job_errors))
    return {"errors": errors,
            "backend": name, "students": students, "completed": len(done), "lost": students - len(done),
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
    p.add_argument("--history", type=int, default=2, help="jobs the server ran (and measured) before the class")
    args = p.parse_args()
    print(f"Machine: {cpu_name()}, {os.cpu_count()} cores; load average before: {os.getloadavg()[0]:.1f}")
    print("| backend | students | completed | lost | wait median | wait p95 | job wall median | "
          "overhead median | overhead p95 | all done after |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in args.backends.split(","):
        r = run_class(name.strip(), args.students, args.epochs, args.concurrent, args.ray_address, args.timeout,
                      args.device, args.history)
        print(f"| {r['backend']} | {r['students']} | {r['completed']} | {r['lost']} | {r['wait_median']:.1f} s | "
              f"{r['wait_p95']:.1f} s | {r['wall_median']:.1f} s | {r['overhead_median']:.2f} s | "
              f"{r['overhead_p95']:.2f} s | {r['makespan']:.0f} s |", flush=True)
        (wait_med, wait_first, n_wait), (left_med, left_first, n_left) = r["errors"]["wait"], r["errors"]["left"]
        print(f"  estimates' error, median over jobs: queue wait {wait_med:.0%} (first shown {wait_first:.0%}; "
              f"{n_wait} jobs), job time left {left_med:.0%} (first shown {left_first:.0%}; {n_left} jobs), "
              f"job time at submit {r['errors']['job'][0]:.0%}", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
