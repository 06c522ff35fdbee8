"""The degradation problem on the built-in digits, for several seeds: the paper's Figure 6 in miniature.

    python benchmarks/figure6_seeds.py [--seeds 0,1,2,3,4] [--depths 20,56]

Runs `python -m explorer sweep --depths 20,56 --seed S --json` with the sweep's default settings, one
seed after another, and checks the shape of Figure 6 (He et al. 2015) for each seed:
  - plain-56's final training error is at least 0.10 above plain-20's (degradation), and
  - resnet-56 trains at least as well as resnet-20 (the shortcut removes it).
Prints a markdown table (for docs/engine.md) with each seed's final training errors and wall time.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def sweep(seed: int, depths: str, runs_dir: str) -> tuple:
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", PYTHONPATH=str(ROOT))
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "explorer", "sweep", "--depths", depths, "--seed", str(seed),
                          "--runs-dir", runs_dir, "--json"], capture_output=True, text=True, env=env, cwd=ROOT,
                         check=True)
    wall = time.perf_counter() - t0
    runs = {r["name"]: r for r in json.loads(out.stdout)["runs"]}
    return {name: r["final"]["train_error"] for name, r in runs.items()}, wall


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", default="0,1,2,3,4")
    p.add_argument("--depths", default="20,56")
    args = p.parse_args()
    shallow, deep = (int(d) for d in args.depths.split(","))
    ok_all = True
    print(f"| seed | plain-{shallow} | plain-{deep} | resnet-{shallow} | resnet-{deep} | degradation | fixed "
          "| wall s |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as runs_dir:
        for seed in [int(s) for s in args.seeds.split(",")]:
            err, wall = sweep(seed, args.depths, runs_dir)
            degr = err[f"plain-{deep}"] - err[f"plain-{shallow}"] >= 0.10
            fixed = err[f"resnet-{deep}"] <= err[f"resnet-{shallow}"]
            ok_all &= degr and fixed
            print(f"| {seed} | {err[f'plain-{shallow}']:.3f} | {err[f'plain-{deep}']:.3f} "
                  f"| {err[f'resnet-{shallow}']:.3f} | {err[f'resnet-{deep}']:.3f} | {'yes' if degr else 'NO'} "
                  f"| {'yes' if fixed else 'NO'} | {wall:.0f} |", flush=True)
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
