"""What the local job backend costs a server that starts no job, and what its lazy warm worker costs the first job.

Run from the repository root:
    OMP_WAIT_POLICY=PASSIVE PYTHONPATH=. .venv/bin/python benchmarks/bench_backend.py [--repeats 3]
Prints the machine and a markdown table (medians of the repeats):
- a backend made and closed without a job: wall time, and CPU seconds of the processes it started;
- one warm process brought up (wall time to ready, CPU seconds): what every backend paid before the lazy start;
- a warm process closed while it still imports torch (a signal; before, a 5 s wait for it to read its input);
- start() of a first job (the warm process starts and imports, then forks) and of a second one (a fork).
"""
from __future__ import annotations

import argparse
import os
import pathlib
import resource
import statistics
import sys
import tempfile
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks.machine import cpu_name  # noqa: E402
from explorer.data.config import DataConfig  # noqa: E402
from explorer.jobs.backends import LocalBackend, worker_command  # noqa: E402
from explorer.jobs.warm import WarmWorkers  # noqa: E402
from explorer.nets.config import ModelConfig  # noqa: E402
from explorer.store.runstore import RunStore  # noqa: E402
from explorer.training.experiments import twin  # noqa: E402
from explorer.training.recipes import TrainConfig  # noqa: E402


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def no_job() -> tuple:
    """(wall s, children's CPU s) of LocalBackend() and close() with no job in between."""
    cpu, t = _children_cpu_s(), time.perf_counter()
    LocalBackend(warm=True).close()
    return time.perf_counter() - t, _children_cpu_s() - cpu


def warm_ready() -> tuple:
    """(wall s to ready, CPU s) of one warm process brought up and closed: what every backend paid before its
    warm process started lazily, job or no job."""
    cpu, t = _children_cpu_s(), time.perf_counter()
    warm = WarmWorkers()
    warm.usable()
    wall = time.perf_counter() - t
    warm.close()
    return wall, _children_cpu_s() - cpu


def closed_while_importing() -> float:
    """Wall seconds of closing a warm process that is still importing torch."""
    warm = WarmWorkers()
    t = time.perf_counter()
    warm.close()
    return time.perf_counter() - t


def first_and_second_start(root: pathlib.Path) -> tuple:
    """(s, s): start() of a first job on a fresh backend and of a second one; both jobs are tiny and run to the end."""
    store = RunStore(root)
    net = ModelConfig(depth=8, in_channels=1, input_size=8, num_classes=10)
    spec = twin(net, DataConfig("digits", train_subset=64, test_subset=64),
                TrainConfig(epochs=1, batch_size=32, device="cpu", schedule="constant"))
    backend, times, handles = LocalBackend(warm=True), [], []
    try:
        for _ in range(2):
            runs = [{"name": n, "model": c.to_dict()} for n, c in spec.models]
            exp_id = store.create_experiment(spec.to_dict(), runs)
            d = store.exp_dir(exp_id)
            t = time.perf_counter()
            handles.append(backend.start(exp_id, worker_command(d), d / "worker.log", {}))
            times.append(time.perf_counter() - t)
        deadline = time.monotonic() + 300
        while any(backend.alive(h) for h in handles) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        backend.close()
        store.close()
    return times[0], times[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = {"no job: wall s": [], "no job: CPU s of child processes": [], "a warm process: s to ready": [],
            "a warm process: CPU s": [], "closed while importing: wall s": [],
            "first job's start(): s": [], "second job's start(): s": []}
    for _ in range(args.repeats):
        wall, cpu = no_job()
        rows["no job: wall s"].append(wall)
        rows["no job: CPU s of child processes"].append(cpu)
        wall, cpu = warm_ready()
        rows["a warm process: s to ready"].append(wall)
        rows["a warm process: CPU s"].append(cpu)
        rows["closed while importing: wall s"].append(closed_while_importing())
        with tempfile.TemporaryDirectory(prefix="bench-backend-") as tmp:
            first, second = first_and_second_start(pathlib.Path(tmp) / "runs")
        rows["first job's start(): s"].append(first)
        rows["second job's start(): s"].append(second)
    print(f"CPU: {cpu_name()}; {os.cpu_count()} logical CPUs; load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}; Python {sys.version.split()[0]}")
    print("| measure | median | all |\n|---|---|---|")
    for name, values in rows.items():
        print(f"| {name} | {statistics.median(values):.3f} | {', '.join(f'{v:.3f}' for v in values)} |")


if __name__ == "__main__":
    main()
