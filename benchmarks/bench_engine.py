"""Engine throughput against the BEST bare PyTorch loop on the same models, batches and machine.

    python benchmarks/bench_engine.py [--cases single,twin,sweep] [--steps 60] [--busy 0] [--max-s 40]

The bare loop is what anyone would write: the same on-device batches (explorer.data.datasets.train_batches, same seed,
same augmentation), and per batch, for each model in turn, forward, cross-entropy, backward, SGD step. It is run
at every torch thread count (1 .. the cores) under every OpenMP wait policy (PASSIVE: threads sleep at once;
unset: OpenMP's default, spin ~ms then sleep; ACTIVE), each in its own process (OpenMP reads the policy when it
starts), and the best is the baseline. The engine runs as `python -m explorer` does (explorer.cpu chooses its
threads and waiting before torch loads) with its diagnostics on (per-step gradient norms of every conv, NaN
checks, step events, per-epoch evaluation and residual-branch ratios; evaluation is excluded from its images/s,
as the CLI reports). "engine, before" is the engine with the waiting of the code before issue 20 (always PASSIVE).
Throughput is images per second summed over the models (a twin that trains 2 models at 1,000 img/s each: 2,000).

Cases, digits 1x8x8, batch 128: `single` ResNet-20; `twin` plain-20 + ResNet-20; `sweep` Figure 6's four
(plain/ResNet 20 and 56). `--busy N` starts N busy-loop processes for the whole run (a known background load, to
measure a shared machine). Each measurement is one process, at most --max-s seconds of training (a spinning
loop on a loaded machine can be 10-30x slower). Target (issue 20): engine >= 0.9 of the best bare loop on a
quiet machine; on a loaded one no worse than before. Prints a markdown table and `uptime`'s load.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POLICIES = {"PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"}, "default": {}, "ACTIVE": {"OMP_WAIT_POLICY": "ACTIVE"}}
CASES = {"single": (20,), "twin": (20,), "sweep": (20, 56)}


def _models(case: str) -> list:
    """The case's named model configs: plain and residual (option A) at each depth; `single` is ResNet-20 alone."""
    import dataclasses

    from explorer.nets.config import ModelConfig
    base = ModelConfig(depth=20, in_channels=1, input_size=8).residual("A")
    if case == "single":
        return [("resnet-20", base)]
    nets = [dataclasses.replace(base, depth=d) for d in CASES[case]]
    return [(name, cfg) for net in nets for name, cfg in ((f"plain-{net.depth}", net.plain()),
                                                           (f"resnet-{net.depth}", net))]


def _child_bare(case: str, threads: int, steps: int, max_s: float) -> dict:
    import torch

    from explorer.data.config import DataConfig
    from explorer.data.datasets import load_dataset, train_batches
    from explorer.training.engine import build_models
    torch.set_num_threads(threads)
    data = load_dataset(DataConfig("digits"))
    nets = build_models(_models(case), seed=0)
    opts = {n: torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4) for n, m in nets.items()}
    loss_fn = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(0)
    x, y = next(iter(train_batches(data, 128, torch.Generator().manual_seed(1))))
    for m in nets.values():  # warm-up, as the engine's epoch-0 diagnostics pass is one
        m.train()
        loss_fn(m(x), y).backward()
        m.zero_grad(set_to_none=True)
    done, images, t0 = 0, 0, time.perf_counter()
    while done < steps and time.perf_counter() - t0 < max_s:
        for x, y in train_batches(data, 128, gen):
            for name, m in nets.items():
                loss = loss_fn(m(x), y)
                opts[name].zero_grad(set_to_none=True)
                loss.backward()
                opts[name].step()
                images += len(y)
            done += 1
            if done >= steps or time.perf_counter() - t0 >= max_s:
                break
    return {"img_s": images / (time.perf_counter() - t0), "threads": torch.get_num_threads()}


def _child_engine(case: str, steps: int) -> dict:
    import torch

    from explorer.data.config import DataConfig
    from explorer.data.datasets import load_dataset
    from explorer.training.devices import cpu_threads
    from explorer.training.engine import Lockstep, build_models
    from explorer.training.recipes import TrainConfig
    data = load_dataset(DataConfig("digits"))
    train = TrainConfig(steps=steps, batch_size=128, lr=0.05, schedule="constant", device="cpu", precision="fp32",
                        log_every=10, diagnostics=True)
    trainer = Lockstep(build_models(_models(case), seed=0), data, train)
    threads = {}
    with cpu_threads(trainer.device, len(trainer.runs)):  # what the engine's own run() will choose
        threads = {"threads": torch.get_num_threads(), "wait": os.environ.get("OMP_WAIT_POLICY", "")}
    results = trainer.run()
    return {"img_s": sum(r.images_per_second for r in results.values())} | threads


def _measure(args_: list, env: dict, timeout_s: float) -> dict | None:
    """One child process's JSON result (None when it timed out)."""
    full = dict(os.environ, PYTHONPATH=str(ROOT)) | env
    for key in [k for k, v in env.items() if v is None]:
        full.pop(key, None)
    try:
        out = subprocess.run([sys.executable, __file__, *args_], env={k: v for k, v in full.items() if v is not None},
                             capture_output=True, text=True, timeout=timeout_s, check=True).stdout
    except (subprocess.TimeoutExpired, subprocess.CalledProcessError):
        return None
    return json.loads(out.strip().splitlines()[-1])


def measure_case(case: str, steps: int, max_s: float) -> dict:
    """Every bare setting, the engine as it chooses and as before; img/s each, and the best bare's setting."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    bare = {}
    for threads in range(1, cores + 1):
        for name, policy in POLICIES.items():
            env = {"OMP_WAIT_POLICY": None, "GOMP_SPINCOUNT": None, "OMP_NUM_THREADS": None} | policy
            r = _measure(["--child", "bare", case, str(threads), str(steps), str(max_s)], env, max_s * 4 + 60)
            bare[(threads, name)] = r["img_s"] if r else 0.0
    no_choice = {"OMP_NUM_THREADS": None, "GOMP_SPINCOUNT": None, "EXPLORER_CPU_WAIT": None}
    engine = _measure(["--child", "engine", case, "0", str(steps), str(max_s)], no_choice, max_s * 8 + 60)
    before = _measure(["--child", "engine", case, "0", str(steps), str(max_s)],
                      no_choice | {"EXPLORER_CPU_WAIT": "passive"}, max_s * 8 + 60)
    best = max(bare, key=lambda k: bare[k])
    return {"case": case, "bare": bare, "best": best, "engine": engine["img_s"] if engine else 0.0,
            "before": before["img_s"] if before else 0.0,
            "chose": f"{engine['threads']} thr {engine['wait']}" if engine else "?"}


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        sys.path.insert(0, str(ROOT))
        kind, case, threads, steps = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
        max_s = float(sys.argv[6])
        if kind == "engine":
            from explorer.cpu import apply_wait
            apply_wait()  # as python -m explorer does, before torch loads
            print(json.dumps(_child_engine(case, steps)))
        else:
            print(json.dumps(_child_bare(case, threads, steps, max_s)))
        return
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", default="single,twin,sweep")
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--max-s", type=float, default=40.0, help="at most this long per bare measurement")
    p.add_argument("--busy", type=int, default=0, help="busy-loop processes running during the benchmark")
    args = p.parse_args()
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)]
    try:
        uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
        rows = [measure_case(c, args.steps, args.max_s) for c in args.cases.split(",")]
        uptime_after = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    finally:
        for proc in busy:
            proc.kill()
    sys.path.insert(0, str(ROOT))
    from benchmarks.machine import cpu_name
    print(f"{cpu_name()}, {os.cpu_count()} cores; {args.busy} busy-loop processes added; {args.steps} steps, batch 128")
    print(f"before: {uptime}\nafter:  {uptime_after}")
    settings = [k for k in rows[0]["bare"]]
    print("| case | " + " | ".join(f"bare {t} thr {p}" for t, p in settings)
          + " | best bare | engine, before | engine (its choice) | engine / best bare | before / best bare |")
    print("|---" * (len(settings) + 6) + "|")
    for r in rows:
        b = r["bare"][r["best"]] or 1e-9
        print(f"| {r['case']} | " + " | ".join(f"{r['bare'][k]:,.0f}" for k in settings)
              + f" | {b:,.0f} | {r['before']:,.0f} | {r['engine']:,.0f} ({r['chose']}) | **{r['engine'] / b:.2f}** |"
              f" {r['before'] / b:.2f} |")


if __name__ == "__main__":
    main()
