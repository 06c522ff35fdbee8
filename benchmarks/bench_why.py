"""Time the "Why it works" views on this machine's CPU (issue 15) and write docs/benchmarks_why.md (or --out).

- the gradient highway and the ensembles of paths on the shipped digits twin (targets: <= 2 s each, both nets);
- the optimiser's path landscape, 21x21 on its PCA plane, for a digits ResNet-20 and plain-20 trained with the
  shipped twin's recipe (15 epochs, so 14 snapshots + init + final per run) (target: <= 60 s for the pair).

    python benchmarks/bench_why.py [--steps 21] [--repeats 3] [--out PATH]
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
import sys
import tempfile
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see docs/benchmarks.md: spinning threads on shared cores

import torch  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from benchmarks.machine import cpu_name  # noqa: E402
from explorer.analysis.ablation import delete_random_units  # noqa: E402
from explorer.analysis.highway import gradient_split  # noqa: E402
from explorer.data.config import DataConfig  # noqa: E402
from explorer.data.datasets import load_dataset, normalize  # noqa: E402
from explorer.jobs.landscape import landscape_request, landscape_spec, read_landscapes  # noqa: E402
from explorer.jobs.landscape_job import run_landscape_job  # noqa: E402
from explorer.jobs.worker import run_experiment  # noqa: E402
from explorer.nets.weights import from_checkpoint  # noqa: E402
from explorer.store.runstore import RunStore, load_checkpoint  # noqa: E402
from explorer.store.shipped import TWIN_DIR, TWIN_NAMES  # noqa: E402
from explorer.training.experiments import ExperimentSpec  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_views(repeats: int) -> list:
    """(view, seconds) for the highway (init + final, both nets) and the deletions (both nets), as the page does."""
    data = load_dataset(DataConfig("digits"))
    nets = {(n, w): from_checkpoint(load_checkpoint(TWIN_DIR / f"{n}{'.init' if w == 'init' else ''}.pt"))
            for n in TWIN_NAMES for w in ("init", "final")}
    pre = nets[(TWIN_NAMES[0], "final")].preprocessing
    x_train, y_train = normalize(data.x_train[:128], pre), data.y_train[:128]
    x_test, y_test = normalize(data.x_test[:1000], pre), data.y_test[:1000]
    highway = _median_time(lambda: [gradient_split(net.model, x_train, y_train) for net in nets.values()], repeats)
    deletions = _median_time(lambda: [delete_random_units(nets[(n, "final")].model, x_test, y_test, draws=6)
                                      for n in TWIN_NAMES], repeats)
    return [("gradient highway: 4 nets (plain-20, ResNet-20; initial and trained), batch 128", highway),
            (f"ensembles: delete k random units, k = 0..n, 6 draws, {len(y_test)} test images, 2 nets", deletions)]


def bench_path(steps: int) -> tuple:
    """(training seconds, path-landscape seconds, {net: explained share}) for a freshly trained digits twin."""
    store = RunStore(pathlib.Path(tempfile.mkdtemp()) / "runs")
    spec = ExperimentSpec.from_dict(json.loads((TWIN_DIR / "spec.json").read_text()))
    exp_id = store.create_experiment(spec.to_dict(), [{"name": n, "model": c.to_dict()} for n, c in spec.models],
                                     owner="bench", spec_hash=spec.spec_hash())
    t0 = time.perf_counter()
    assert run_experiment(store, exp_id).status == "completed"
    trained = time.perf_counter() - t0
    request = landscape_request(store, landscape_spec(exp_id, list(TWIN_NAMES), steps=steps, plane="pca"), "bench")
    job = store.create_experiment(request.to_json(), request.runs_json(), owner=request.owner,
                                  spec_hash=request.spec_hash(), kind=request.job_kind)
    t0 = time.perf_counter()
    assert run_landscape_job(store, job).status == "completed"
    took = time.perf_counter() - t0
    shares = {n: r["surface"]["explained"] for n, r in read_landscapes(store, job).items()}
    return trained, took, shares, request.to_json()["subset"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=21)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks_why.md"))
    args = parser.parse_args()
    load = os.getloadavg()[0]
    views = bench_views(args.repeats)
    trained, path_s, shares, subset = bench_path(args.steps)
    lines = ["# The \"Why it works\" views: costs (issue 15)", "",
             f"`python benchmarks/bench_why.py` on {cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__}, "
             f"Python {platform.python_version()}; load average {load:.1f} at the start (shared machine).", "",
             "| view | seconds | target |", "|---|---|---|"]
    lines += [f"| {name} (median of {args.repeats}) | {s:.2f} | 2 |" for name, s in views]
    lines.append(f"| optimiser's path: {args.steps}x{args.steps} on the PCA plane, plain-20 + ResNet-20 (digits, "
                 f"{subset} training images) | {path_s:.1f} | 60 |")
    lines += ["", f"Training the twin that gave the path (15 epochs, snapshots every epoch): {trained:.0f} s.", "",
              "Share of the path's variance in its plane (direction 1 + direction 2): "
              + ", ".join(f"{n} {100 * a:.0f}% + {100 * b:.0f}%" for n, (a, b) in shares.items()) + "."]
    pathlib.Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
