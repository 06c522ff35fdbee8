"""The run store on its database with 10, 1,000 and 10,000 experiments kept: is every question flat in history?

    python benchmarks/bench_store.py [--sizes 10,1000,10000] [--database-url postgresql://...]

For each size, a fresh store is filled (in bulk) with finished twins (2 runs, 3 epoch records each) of 30
owners, then timed (median of repeats, milliseconds):
- pump: one job-manager loop turn (one worker running, five jobs queued behind it), as twice a second;
- submit: a new job (duplicate check by spec hash, the owner's counts and rate, insert, pump);
- Runs first page: the newest 20 experiments with their runs, and the count of all that match;
- Train page load: the owner's newest experiment, its runs, its metrics version and its metrics.
SQLite always (a file in a temporary folder); PostgreSQL when --database-url or EXPLORER_BENCH_DATABASE_URL names one.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SPEC = {"kind": "twin", "data": {"name": "digits"}, "train": {"device": "cpu", "seed": 0}, "models": []}
MODELS = [("plain-20", {"depth": 20, "shortcut": "none"}), ("resnet-20", {"depth": 20, "shortcut": "A"})]


def fill(store, n: int) -> None:
    """n finished experiments of 30 owners, in bulk (one transaction per 500)."""
    from explorer.store import db
    from explorer.store.tables import experiment_row, run_row
    t0 = 1.7e9
    for start in range(0, n, 500):
        exps, runs, metrics = [], [], []
        for i in range(start, min(n, start + 500)):
            exp_id = f"20250101-{i:06d}-bench"
            rows = [{"name": name, "model": m, "status": "completed", "epochs": 2,
                     "final": {"train_loss": 0.1, "train_error": 0.02, "test_loss": 0.2, "test_error": 0.05}}
                    for name, m in MODELS]
            exps.append(experiment_row(exp_id, dict(SPEC, train={"device": "cpu", "seed": i}), rows, f"owner{i % 30}",
                                       f"hash{i}", "train", t0 + i, "completed",
                                       {"started": t0 + i, "finished": t0 + i + 60}))
            runs += [run_row(exp_id, k, r) for k, r in enumerate(rows)]
            metrics += [{"exp_id": exp_id, "run_id": name, "type": "epoch", "step": 10 * e,
                         "record": json.dumps({"type": "epoch", "epoch": e, "step": 10 * e,
                                               "test_error": 0.5 / (e + 1)})}
                        for name, _ in MODELS for e in range(3)]
        with store._write.begin() as conn:  # noqa: SLF001 - a benchmark fills in bulk
            conn.execute(db.experiments.insert(), exps)
            conn.execute(db.runs.insert(), runs)
            conn.execute(db.metrics.insert(), metrics)


def timed(fn, repeats: int) -> float:
    fn()  # warm
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - t))
    return statistics.median(times)


def measure(url, n: int, repeats: int) -> dict:
    from explorer.jobs.manager import JobManager, Limits
    from explorer.store import db
    from explorer.store.runstore import Filter, RunStore, worker_handle
    folder = Path(tempfile.mkdtemp(prefix="bench-store-"))
    if url:
        import sqlalchemy as sa
        engine = sa.create_engine(db.database_url(folder, url))
        with engine.begin() as conn:
            db.metadata.drop_all(conn)
        engine.dispose()
    store = RunStore(folder / "runs", url)
    fill(store, n)
    stand_in = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)", "explorer", "worker"])
    try:
        runs = [{"name": name, "model": m} for name, m in MODELS]
        busy = store.create_experiment(SPEC, runs, owner="busy")
        store.update_experiment(busy, status="running", worker=worker_handle(stand_in.pid), started=time.time())
        for k in range(5):
            store.create_experiment(dict(SPEC, train={"seed": -k}), runs, owner="waiting")
        manager = JobManager(store, Limits(concurrent=1, queued_per_owner=10**6, running_per_owner=1,
                                           starts_per_hour=10**6), background=False)
        counter = iter(range(10**9))

        from explorer.data.config import DataConfig
        from explorer.jobs.request import JobRequest
        from explorer.nets.config import ModelConfig
        from explorer.training.experiments import twin
        from explorer.training.recipes import TrainConfig

        def submit():  # a new request each time (another seed): never attached, always a queued row
            seed = 10**6 + next(counter)
            spec = twin(ModelConfig(depth=20), DataConfig("digits"), TrainConfig(device="cpu", seed=seed))
            manager.submit(JobRequest.training(spec, "owner1"))

        def runs_page():
            page = store.page(Filter(kind="train"), limit=20)
            assert 0 < len(page.items) <= 20 and page.total >= n

        def train_load():
            [exp] = store.page(Filter(kind="train", owner="owner7"), limit=1, with_runs=False).items
            exp = store.load_experiment(exp.id)
            store.metrics_version(exp.id)
            [store.read_metrics(exp.id, r.id) for r in exp.runs]
        out = {"pump": timed(manager.pump, repeats), "submit": timed(submit, repeats),
               "runs_page": timed(runs_page, repeats), "train_load": timed(train_load, repeats)}
        manager._closed.set()  # noqa: SLF001 - no worker was started; nothing to stop
    finally:
        stand_in.kill()
        stand_in.wait()
        store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10,1000,10000")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--database-url", default=os.environ.get("EXPLORER_BENCH_DATABASE_URL"))
    args = parser.parse_args()
    from benchmarks.machine import cpu_name
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}")
    print("| database | experiments | pump ms | submit ms | Runs first page ms | Train page load ms |")
    print("|---|---|---|---|---|---|")
    for backend, url in (("SQLite", None), ("PostgreSQL", args.database_url)):
        if backend == "PostgreSQL" and not url:
            continue
        for n in [int(s) for s in args.sizes.split(",")]:
            r = measure(url, n, args.repeats)
            print(f"| {backend} | {n:,} | {r['pump']:.1f} | {r['submit']:.1f} | {r['runs_page']:.1f} | "
                  f"{r['train_load']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
