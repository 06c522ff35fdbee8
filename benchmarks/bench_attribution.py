"""CPU timings of explorer.analysis.attribution on ResNet-20 (3x32x32) and ResNet-50 (3x224x224).

Run from the repository root:
    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/bench_attribution.py [--repeats 5] [--threads N] \
        [--skip-resnet50]
Prints the machine and a markdown table: the first call (which also makes the library's kept copy of the
model) and the median of the repeats after it. On a shared, busy CPU set OMP_WAIT_POLICY=PASSIVE (before
Python starts) or use --threads 1: OpenMP threads that spin while waiting make every map many times slower.
Targets (issue 5): ResNet-20 saliency + Grad-CAM < 0.3 s; Integrated Gradients (32 steps) < 1 s.
Untrained weights: the time of a map does not depend on what the weights are.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from explorer.analysis.attribution import attribute
from explorer.nets.builder import build_model
from explorer.nets.config import preset


def _saliency_and_gradcam(model, x):
    attribute(model, x, "saliency")
    attribute(model, x, "gradcam")


# (model preset, what is timed, the call, target seconds or None to record only)
CASES = [
    ("resnet20", "saliency + Grad-CAM", _saliency_and_gradcam, 0.3),
    ("resnet20", "Integrated Gradients, 32 steps",
     lambda m, x: attribute(m, x, "integrated_gradients", n_steps=32, max_steps=32), 1.0),
    ("resnet20", "saliency", lambda m, x: attribute(m, x, "saliency"), None),
    ("resnet20", "Grad-CAM", lambda m, x: attribute(m, x, "gradcam"), None),
    ("resnet20", "SmoothGrad, 16 samples", lambda m, x: attribute(m, x, "smoothgrad"), None),
    ("resnet20", "occlusion, window 4, stride 2", lambda m, x: attribute(m, x, "occlusion"), None),
    ("resnet50", "saliency", lambda m, x: attribute(m, x, "saliency"), None),
    ("resnet50", "Grad-CAM", lambda m, x: attribute(m, x, "gradcam"), None),
    ("resnet50", "Integrated Gradients, 32 steps",
     lambda m, x: attribute(m, x, "integrated_gradients", n_steps=32, max_steps=32), None),
]


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def first_and_median_seconds(fn, repeats: int) -> tuple:
    """Wall time of the first call of fn(), and the median of `repeats` calls after it."""
    first = _seconds(fn)
    return first, statistics.median(_seconds(fn) for _ in range(repeats))


def machine() -> str:
    """CPU model, core count and torch version, for the record."""
    try:
        lines = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines()
        cpu = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("Model name")), "unknown")
    except (OSError, subprocess.CalledProcessError):
        cpu = platform.processor() or "unknown"
    wait = os.environ.get("OMP_WAIT_POLICY", "unset")
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "unknown"
    return (f"CPU: {cpu}; {torch.get_num_threads()} torch threads of {os.cpu_count()} logical CPUs; "
            f"OMP_WAIT_POLICY={wait}; load average {load}; torch {torch.__version__}; "
            f"Python {platform.python_version()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per case after the first")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--skip-resnet50", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    models = {}
    print(machine(), "\n")
    print("| model | input | method | first call s | median s | target | met |")
    print("|---|---|---|---|---|---|---|")
    for name, label, call, target in CASES:
        if name == "resnet50" and args.skip_resnet50:
            continue
        if name not in models:
            cfg = preset(name)
            models[name] = (build_model(cfg), torch.randn(1, cfg.in_channels, cfg.input_size, cfg.input_size))
        model, x = models[name]
        first, median = first_and_median_seconds(lambda call=call, model=model, x=x: call(model, x), args.repeats)
        met = "—" if target is None else ("yes" if median < target else "**no**")
        goal = "record" if target is None else f"< {target} s"
        print(f"| {name} | {tuple(x.shape[1:])} | {label} | {first:.3f} | {median:.3f} | {goal} | {met} |", flush=True)


if __name__ == "__main__":
    main()
