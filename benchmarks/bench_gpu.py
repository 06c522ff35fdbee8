"""GPU figures for docs/benchmarks.md: ResNet-20 training images/s at CIFAR-10's shape, and the time for
real Fashion-MNIST to reach 93 % test accuracy. Needs CUDA (exits with a sentence otherwise).

    python benchmarks/bench_gpu.py [--compile] [--data-dir DIR]

Fashion-MNIST comes from Debian's files where they are installed, else from DIR/FashionMNIST/raw (torchvision's
layout: copy the four .gz files there to run on a machine without the network); without either, that part says so
and the CIFAR-shaped part still runs.

Targets (issue 3): a CIFAR-10-sized epoch (50,000 images) of ResNet-20 in under 2 s; Fashion-MNIST to
93 % in under 30 s on one H100-class GPU. Only the engine is used (no Streamlit, plotly or captum), so
it runs where those are not installed.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from explorer.data.config import DataConfig, model_config_for  # noqa: E402
from explorer.data.datasets import Dataset, load_dataset  # noqa: E402
from explorer.data.files import DatasetUnavailable  # noqa: E402
from explorer.nets.config import ModelConfig  # noqa: E402
from explorer.nets.preprocessing import Augment, Preprocessing  # noqa: E402
from explorer.training.engine import build_models, train_models  # noqa: E402
from explorer.training.events import EpochEvent, Event  # noqa: E402
from explorer.training.recipes import TrainConfig  # noqa: E402


def synthetic_cifar(n: int = 10_000) -> Dataset:
    """Random uint8 images in CIFAR-10's shape (3x32x32, 10 classes): throughput does not depend on content."""
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8)  # (N, 3, 32, 32)
    y = torch.randint(0, 10, (n,), generator=g)
    pre = Preprocessing("synthetic", tuple(str(i) for i in range(10)), 3, 32, 255.0, (0.5,) * 3, (0.29,) * 3,
                        Augment(4, True))
    return Dataset("synthetic", x, y, x[:512], y[:512], pre)


def cifar_epoch(compile_: bool) -> dict:
    data = synthetic_cifar(50_000)
    cfg = ModelConfig(depth=20)
    steps = 50_000 // 128 + 1
    out = {}
    for label, epochs in (("warm-up", 1), ("timed", 2)):
        model = build_models([("net", cfg)], seed=0)["net"]
        train = TrainConfig(epochs=epochs, batch_size=128, lr=0.1, schedule="constant", device="cuda",
                            compile=compile_, diagnostics=False, log_every=steps)
        t0 = time.perf_counter()
        r = train_models({"net": model}, data, train)["net"]
        torch.cuda.synchronize()
        out[label] = {"images_per_second": r.images_per_second, "wall_s": time.perf_counter() - t0}
    ips = out["timed"]["images_per_second"]
    return {"images_per_second": ips, "epoch_s": 50_000 / ips}


def fashion_to_93(compile_: bool, epochs: int = 12, data_dir: str | None = None) -> dict:
    try:
        data = load_dataset(DataConfig("fashion_mnist", data_dir=data_dir))
    except DatasetUnavailable as exc:
        return {"t": None, "note": f"Fashion-MNIST is not here: {exc}"}
    cfg = model_config_for(ModelConfig(depth=20), data.preprocessing)
    model = build_models([("net", cfg)], seed=0)["net"]
    reached = {}
    t0 = time.perf_counter()

    def watch(event: Event) -> None:
        first = isinstance(event, EpochEvent) and event.epoch > 0 and "t" not in reached
        if first and event.test_error <= 0.07:
            reached.update(t=time.perf_counter() - t0, epoch=event.epoch, error=event.test_error)

    train = TrainConfig(epochs=epochs, batch_size=512, lr=0.4, schedule="onecycle", device="cuda",
                        compile=compile_, diagnostics=False, log_every=50)
    train_models({"net": model}, data, train, callback=watch, should_stop=lambda: "t" in reached)
    return reached or {"t": None, "note": f"93 % not reached in {epochs} epochs"}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--compile", action="store_true")
    p.add_argument("--data-dir", help="where FashionMNIST/raw/*.gz are, when Debian's files are not installed")
    args = p.parse_args()
    if not torch.cuda.is_available():
        print("No CUDA GPU here; this benchmark needs one.")
        return 2
    name = torch.cuda.get_device_name(0)
    print(f"GPU {name}, torch {torch.__version__}, compile={args.compile}")
    c = cifar_epoch(args.compile)
    print(f"ResNet-20 3x32x32 batch 128 bf16: {c['images_per_second']:,.0f} img/s; "
          f"50k-image epoch {c['epoch_s']:.2f} s")
    f = fashion_to_93(args.compile, data_dir=args.data_dir)
    print(f"Fashion-MNIST to 93 % test accuracy: {f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
