"""Engine throughput against a bare PyTorch loop on the same model, batches and device.

    python benchmarks/bench_engine.py [--device cpu|cuda] [--steps 60] [--repeats 3] [--sizes 8,32]

The bare loop is what anyone would write: the same on-device batches (explorer.data.train_batches, same
seed, same augmentation), forward, cross-entropy, backward, SGD step, nothing else. The engine adds its
step events, per-step gradient norms of every conv, a NaN check, and per-epoch evaluation and residual-
branch ratios; its images/s count training time only (evaluation excluded), as the CLI reports it. The
two alternate within one run, so the ratio is fair on a noisy shared machine. Target: >= 0.95.
Prints a markdown table.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from benchmarks.machine import cpu_name  # noqa: E402
from explorer.data.config import DataConfig
from explorer.data.datasets import Dataset, load_dataset, train_batches
from explorer.nets.config import ModelConfig
from explorer.training.devices import resolve_device
from explorer.training.engine import build_models, train_models
from explorer.training.recipes import TrainConfig


def synthetic_cifar(n: int = 10_000) -> Dataset:
    """Random uint8 images in CIFAR-10's shape (3x32x32, 10 classes): throughput does not depend on content."""
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8)
    y = torch.randint(0, 10, (n,), generator=g)
    pre = {"dataset": "synthetic", "classes": [str(i) for i in range(10)], "num_classes": 10, "in_channels": 3,
           "input_size": 32, "scale": 255.0, "mean": [0.5] * 3, "std": [0.29] * 3, "augment": {"pad": 4, "flip": True}}
    return Dataset("synthetic", x, y, x[:512], y[:512], pre)


def bare_loop(model, data: Dataset, train: TrainConfig, steps: int) -> float:
    """Images per second of a plain training loop over the same batches."""
    device = resolve_device(train.device)
    model = model.to(device).train()
    data = data.to(device)
    opt = torch.optim.SGD(model.parameters(), lr=train.lr, momentum=train.momentum, weight_decay=train.weight_decay)
    loss_fn = torch.nn.CrossEntropyLoss()
    gen = torch.Generator(device=device).manual_seed(train.seed)
    x, y = next(iter(train_batches(data, train.batch_size, torch.Generator(device=device).manual_seed(1))))
    loss_fn(model(x), y).backward()  # warm-up, as the engine's epoch-0 diagnostics pass is one
    model.zero_grad(set_to_none=True)
    done, images, t0 = 0, 0, time.perf_counter()
    while done < steps:
        for x, y in train_batches(data, train.batch_size, gen):
            loss = loss_fn(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            done, images = done + 1, images + len(y)
            if done >= steps:
                break
    if device.type == "cuda":
        torch.cuda.synchronize()
    return images / (time.perf_counter() - t0)


def engine(model, data: Dataset, train: TrainConfig) -> float:
    result = train_models({"net": model}, data, train)
    return result["net"].images_per_second


def measure(name: str, cfg: ModelConfig, data: Dataset, args) -> dict:
    train = TrainConfig(steps=args.steps, batch_size=128, lr=0.05, schedule="constant", device=args.device,
                        precision="fp32", log_every=10, diagnostics=True)
    bare, eng = [], []
    for r in range(args.repeats):
        order = [("bare", bare), ("engine", eng)] if r % 2 == 0 else [("engine", eng), ("bare", bare)]
        for kind, out in order:
            model = build_models([("net", cfg)], seed=0)["net"]
            out.append(bare_loop(model, data, train, args.steps) if kind == "bare" else engine(model, data, train))
    b, e = statistics.median(bare), statistics.median(eng)
    return {"case": name, "bare": b, "engine": e, "ratio": e / b}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cpu")
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--sizes", default="8,32")
    args = p.parse_args()
    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        if size == 8:
            data = load_dataset(DataConfig("digits"))
            cfg = ModelConfig(depth=20, in_channels=1, input_size=8)
            rows.append(measure("ResNet-20, digits 1x8x8", cfg, data, args))
        else:
            rows.append(measure(f"ResNet-20, 3x{size}x{size} (CIFAR shape)", ModelConfig(depth=20), synthetic_cifar(),
                                args))
    cpu = cpu_name()
    print(f"device {args.device}, torch {torch.__version__}, {os.cpu_count()} cores ({cpu}), "
          f"{args.steps} steps x {args.repeats} repeats, batch 128, medians")
    print("| case | bare loop img/s | engine img/s | engine / bare |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r['case']} | {r['bare']:,.0f} | {r['engine']:,.0f} | {r['ratio']:.3f} |")


if __name__ == "__main__":
    main()
