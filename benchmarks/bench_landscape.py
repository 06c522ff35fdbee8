"""Time a 21x21 loss-landscape slice for the digits ResNet-20 and its plain twin on this machine's CPU.

Target (issue 6): under a minute on 2 CPU cores with the default subset. Writes a markdown table to
docs/benchmarks_landscape.md (or --out) with the machine it ran on.

    python benchmarks/bench_landscape.py [--steps 21] [--subsets 256,512,1024] [--threads N] [--out PATH]

The weights are untrained (He init, BN statistics from a few train-mode passes): the cost of a grid point
does not depend on what the weights are, only on the net and the subset size.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import platform
import sys
import time

# OpenMP threads that spin while waiting for each other make small nets many times slower on shared
# cores (as tests/conftest.py notes); set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from benchmarks.machine import cpu_name  # noqa: E402
from explorer.analysis import landscape  # noqa: E402
from explorer.data.config import DataConfig
from explorer.jobs.request import DEFAULT_SUBSET  # noqa: E402
from explorer.nets.builder import build_model
from explorer.nets.config import ModelConfig

TARGET_S = 60.0
_NOTES = [
    "## Notes",
    "",
    "- How it is fast: the slice works on one deep copy; each grid point writes theta* + a d1 + b d2 into the "
    "conv and linear weights in place (precomputed directions, `torch.no_grad`) and runs one eval-mode forward "
    "of the whole subset. No model is rebuilt, nothing is copied per point.",
    "- The cost grows with the subset about linearly. The default subset (`jobs.request.DEFAULT_SUBSET`) is the "
    "largest size tried that leaves room for the twin pair (the Inspect page draws plain and residual) and "
    "for cores shared with other work; 1,024 images miss the target on a busy machine.",
    "- The load average column matters: other processes shared these 2 cores during the runs, so the times "
    "vary by about 2x between rows of the same size. Torch threads waiting on each other with OpenMP's "
    "default spin policy made a slice about 15x slower on busy cores; `OMP_WAIT_POLICY=PASSIVE` (set by "
    "this script, as tests/conftest.py does) removes that.",
]




def _digits(n: int):
    """The real digits training set when explorer.data is there; random 8x8 images otherwise."""
    try:
        from explorer.data.datasets import load_dataset, normalize
        ds = load_dataset(DataConfig("digits"))
        return normalize(ds.x_train, ds.preprocessing), ds.y_train, "digits (train split)"
    except ImportError:
        g = torch.Generator().manual_seed(0)
        return torch.randn(n, 1, 8, 8, generator=g), torch.randint(0, 10, (n,), generator=g), "random 8x8"


def _model(cfg: ModelConfig) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_model(cfg).train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(64, 1, 8, 8))
    return model


def _time_one(name: str, cfg: ModelConfig, x, y, steps: int, threads: int) -> tuple:
    model = _model(cfg)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    landscape.surface(model, x, y, steps=steps)
    seconds = time.perf_counter() - start
    ms = seconds / steps ** 2 * 1000
    print(f"{name} subset={len(y)} threads={threads}: {seconds:.1f} s, {ms:.1f} ms/point", flush=True)
    return name, len(y), threads, load, seconds, ms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=21)
    ap.add_argument("--subsets", default=f"{DEFAULT_SUBSET}")
    ap.add_argument("--threads", default=str(torch.get_num_threads()), help="torch CPU thread counts to try, e.g. 1,2")
    ap.add_argument("--out", default=str(pathlib.Path(__file__).resolve().parents[1] / "docs/benchmarks_landscape.md"))
    args = ap.parse_args()
    subsets = [int(s) for s in args.subsets.split(",")]
    x_all, y_all, source = _digits(max(subsets))
    cfg = ModelConfig(depth=20, in_channels=1, input_size=8)
    rows = []
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        for n in subsets:
            x, y = landscape.landscape_subset(x_all, y_all, n=n)
            for name, c in (("resnet-20", cfg), ("plain-20", cfg.plain())):
                rows.append(_time_one(name, c, x, y, args.steps, threads))
    _write(pathlib.Path(args.out), rows, args.steps, source)


def _write(path: pathlib.Path, rows: list, steps: int, source: str) -> None:
    lines = [
        "# Loss-landscape benchmark",
        "",
        f"`python benchmarks/bench_landscape.py`: a {steps}x{steps} slice (`explorer.analysis.landscape.surface`, "
        f"Li et al. 2018) of the digits ResNet-20 (`ModelConfig(depth=20, in_channels=1, input_size=8)`) "
        f"and its plain twin, on {source}. Target: under {TARGET_S:.0f} s with the default subset "
        f"({DEFAULT_SUBSET} images).",
        "",
        f"Machine: {cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"Python {platform.python_version()}. The load average (1 min) before each slice shows how busy the "
        "cores were with other work.",
        "",
        "| net | subset | torch threads | load avg | slice time (s) | per grid point (ms) | target met |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, n, threads, load, seconds, ms in rows:
        met = "yes" if seconds < TARGET_S else "no"
        lines.append(f"| {name} | {n} | {threads} | {load:.1f} | {seconds:.1f} | {ms:.1f} | {met} |")
    lines += ["", *_NOTES]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
