"""The take-home script's own parts: the experiment record, reading the data, the lockstep loop, the command line.

explorer.training.export writes the script from the library's source (explorer.training.bundle): the nets
(explorer.nets), the recipe (TrainConfig, the engine's schedule and optimiser), the batches and their augmentation
(explorer.data.datasets) and these functions, which only the script runs. What they call is the library's code,
so they need only torch (and torchvision where a dataset is downloaded at home).
Size budget: ~200 lines.
"""
from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import lzma
import math
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import torch
from torch import nn

from ..data.datasets import Dataset, interleaved_subset, test_batches, train_batches
from ..nets.config import ModelConfig
from ..nets.preprocessing import Augment, Preprocessing
from .engine import build_models, lr_factor, make_optimizer
from .recipes import TrainConfig


class Split(NamedTuple):
    """A dataset's images (uint8, (N, C, H, W)) and labels (int64, (N,)), split as the app split them."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


@dataclass(frozen=True)
class HomeExperiment:
    """What the app trained: its nets by name, its data and preprocessing, its recipe and seed."""

    id: str  # the app's experiment id
    models: list[tuple[str, ModelConfig]]  # (name, config) of each net, in the app's order
    dataset: str  # the dataset's name in the app
    load: Callable[[HomeExperiment, str], Split]  # (this experiment, data folder) -> the uint8 images and labels
    preprocessing: dict  # scale, per-channel mean and std, augmentation: as the app computed them
    recipe: TrainConfig  # optimiser, schedule, batch size, epochs, seed
    subsets: tuple[int | None, int | None] = (None, None)  # the first N training and test images (app's subsets)
    layout: tuple = ()  # ((name, dtype, shape), ...) of the tensors in `packed`
    packed: str = ""  # the app's exact split, lzma-compressed and base64-encoded (the block at the end)
    app_finals: dict = field(default_factory=dict)  # {name: the app's final metrics}, to compare with


# ----------------------------------------------------------------------------- the data
def unpack(exp: HomeExperiment, data_dir: str) -> Split:
    """The app's exact split, from the compressed block at the end of the file (nothing is downloaded)."""
    raw, at, tensors = lzma.decompress(base64.b64decode(exp.packed)), 0, []
    for _name, dtype, shape in exp.layout:
        kind = getattr(torch, dtype)
        size = math.prod(shape) * torch.empty((), dtype=kind).element_size()
        tensors.append(torch.frombuffer(bytearray(raw[at: at + size]), dtype=kind).reshape(shape))
        at += size
    return Split(*tensors)


def _torchvision_split(exp: HomeExperiment, dataset: Callable, data_dir: str) -> Split:
    """A torchvision dataset (downloaded into data_dir once), cut to the app's subsets as the app cuts them."""
    train, test = dataset(data_dir, train=True, download=True), dataset(data_dir, train=False, download=True)
    x_train, x_test = (torch.as_tensor(d.data) for d in (train, test))
    if x_train.ndim == 4:  # (N, H, W, C) colour -> (N, C, H, W)
        x_train, x_test = x_train.permute(0, 3, 1, 2), x_test.permute(0, 3, 1, 2)
    else:
        x_train, x_test = x_train.unsqueeze(1), x_test.unsqueeze(1)
    y_train, y_test = torch.as_tensor(train.targets).long(), torch.as_tensor(test.targets).long()
    x_train, x_test = x_train.contiguous(), x_test.contiguous()
    n_train, n_test = exp.subsets
    if n_train is not None:
        x_train, y_train = interleaved_subset(x_train, y_train, n_train)
    if n_test is not None:
        x_test, y_test = interleaved_subset(x_test, y_test, n_test)
    return Split(x_train, y_train, x_test, y_test)


def load_mnist(exp: HomeExperiment, data_dir: str) -> Split:
    """LeCun's MNIST, through torchvision."""
    import torchvision.datasets
    return _torchvision_split(exp, torchvision.datasets.MNIST, data_dir)


def load_fashion_mnist(exp: HomeExperiment, data_dir: str) -> Split:
    """Zalando's Fashion-MNIST, through torchvision (the same files the app reads)."""
    import torchvision.datasets
    return _torchvision_split(exp, torchvision.datasets.FashionMNIST, data_dir)


def load_cifar10(exp: HomeExperiment, data_dir: str) -> Split:
    """CIFAR-10, through torchvision (170 MB, once)."""
    import torchvision.datasets
    return _torchvision_split(exp, torchvision.datasets.CIFAR10, data_dir)


def load_data(exp: HomeExperiment, data_dir: str) -> Dataset:
    """The experiment's data as the app's Dataset; the mean and std of downloaded images are computed here."""
    x_train, y_train, x_test, y_test = exp.load(exp, data_dir)
    pre = dict(exp.preprocessing)
    if "mean" not in pre:  # per channel, over the training images (as explorer.data.datasets does)
        x = x_train.to(torch.float64) / pre["scale"]
        pre["mean"] = [float(m) for m in x.mean(dim=(0, 2, 3))]
        pre["std"] = [float(s) for s in x.std(dim=(0, 2, 3)).clamp_min(1e-6)]
    record = Preprocessing(dataset=exp.dataset, classes=tuple(pre["classes"]), in_channels=int(x_train.shape[1]),
                           input_size=int(x_train.shape[-1]), scale=float(pre["scale"]), mean=tuple(pre["mean"]),
                           std=tuple(pre["std"]), augment=Augment(**pre["augment"]))
    return Dataset(exp.dataset, x_train, y_train, x_test, y_test, record)


# ----------------------------------------------------------------------------- the lockstep loop
@torch.no_grad()
def evaluate(model: nn.Module, data: Dataset, batch_size: int, criterion: nn.Module) -> tuple[float, float]:
    """(test loss, test error) over the whole test set, in eval mode."""
    model.eval()
    loss_sum, wrong, count = 0.0, 0, 0
    for x, y in test_batches(data, batch_size):
        logits = model(x).float()
        loss_sum += float(criterion(logits, y)) * len(y)
        wrong += int((logits.argmax(1) != y).sum())
        count += len(y)
    return loss_sum / max(1, count), wrong / max(1, count)


def _train_step(model: nn.Module, opt: torch.optim.Optimizer, criterion: nn.Module, x: torch.Tensor,
                y: torch.Tensor) -> tuple[float, int] | None:
    """One optimiser step; (loss, correct) or None when the loss is NaN or infinite (that net stops)."""
    model.train()
    logits = model(x)
    loss = criterion(logits.float(), y)
    if not torch.isfinite(loss):
        return None
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return float(loss.detach()), int((logits.argmax(1) == y).sum())


def train(exp: HomeExperiment, device: torch.device, epochs: int | None = None, data_dir: str = "data",
          log: Callable[[str], None] = print) -> tuple[dict, dict]:
    """Train every net on the same batches in lockstep, as the app's engine does; -> (final metrics, nets)."""
    recipe = dataclasses.replace(exp.recipe, epochs=epochs, steps=None) if epochs else exp.recipe
    data = load_data(exp, data_dir).to(device)
    models = {name: m.to(device) for name, m in build_models(exp.models, recipe.seed).items()}
    opts = {name: make_optimizer(m, recipe) for name, m in models.items()}
    criterion = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
    per_epoch = math.ceil(len(data.y_train) / recipe.batch_size)
    total = recipe.steps or recipe.epochs * per_epoch
    gen = torch.Generator(device=device).manual_seed(recipe.seed)  # one seed: batch order and augmentation
    step, alive, final = 0, list(models), {}
    for epoch in range(1, math.ceil(total / per_epoch) + 1):
        sums = {name: [0.0, 0, 0] for name in models}  # loss, correct, images
        for x, y in train_batches(data, recipe.batch_size, gen):
            if step >= total or not alive:
                break
            lr = recipe.lr * lr_factor(recipe, step, total, per_epoch)
            step += 1
            for name in list(alive):
                for group in opts[name].param_groups:
                    group["lr"] = lr
                done = _train_step(models[name], opts[name], criterion, x, y)
                if done is None:
                    alive.remove(name)
                    log(f"{name}: the loss became NaN or infinite at step {step}; it stops here.")
                    continue
                sums[name] = [sums[name][0] + done[0] * len(y), sums[name][1] + done[1], sums[name][2] + len(y)]
        for name in alive:
            loss, correct, count = sums[name]
            test_loss, test_error = evaluate(models[name], data, max(256, recipe.batch_size), criterion)
            final[name] = {"epoch": epoch, "train_loss": loss / max(1, count),
                           "train_error": 1 - correct / max(1, count), "test_loss": test_loss, "test_error": test_error}
            log(f"epoch {epoch:3d}  {name:>24}  train error {100 * final[name]['train_error']:6.2f}%  "
                f"test error {100 * test_error:6.2f}%")
        if step >= total or not alive:
            break
    return final, models


# ----------------------------------------------------------------------------- the command line
def reproducible(device: torch.device, threads: int = 1) -> None:
    """Set torch up so that, on the CPU, this script's numbers equal the app's: one thread, a fixed order of sums.

    The app trains twins and sweeps on the CPU with one thread per net (explorer.cpu: one net per core), and a
    single net with the threads of its share of the cores (two on a two-core server running one job at a time:
    pass --threads with that number to match it). A sum split over several threads is added in another order,
    so its last digits differ and a short run's errors drift apart (2 threads gave 5.77/4.18 % against the
    app's 6.40/6.69 %). With threads=1 on the CPU every kernel runs in one fixed order, and the same torch
    version and seed give the app's numbers exactly; more threads run faster and give the same errors only up
    to that drift. On a GPU, deterministic kernels are asked for (where torch has them), but nothing makes the
    run bit-equal to the app's CPU run.
    """
    if device.type == "cpu":
        torch.set_num_threads(max(1, threads))
    else:  # (on the CPU one thread is enough, and this call costs seconds of imports)
        torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False


def main(exp: HomeExperiment, argv: list[str] | None = None) -> None:
    """Retrain the experiment, print each net's errors beside the app's, keep the weights and metrics if asked."""
    parser = argparse.ArgumentParser(description="Retrain a ResNet Explorer experiment with PyTorch alone.")
    parser.add_argument("--device", default="cpu", help="cpu (the default, as the app's CPU runs), cuda or mps")
    parser.add_argument("--epochs", type=int, default=None, help="override the recipe's number of epochs")
    parser.add_argument("--data-dir", default="data", help="where torchvision keeps MNIST/CIFAR-10 downloads")
    parser.add_argument("--save-dir", default=None, help="save each trained net's state_dict here")
    parser.add_argument("--json", default=None, help="write the final metrics to this JSON file")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads (default 1: a twin's or sweep's numbers exactly as the app trained them; a "
                             "single net matches with the threads the app gave it; more is faster on a big net, "
                             "but the errors then differ by floating-point drift)")
    args = parser.parse_args(argv)
    reproducible(torch.device(args.device), args.threads)
    started = time.time()
    final, models = train(exp, torch.device(args.device), args.epochs, args.data_dir)
    print(f"done in {time.time() - started:.0f} s")
    for name, m in final.items():
        app = exp.app_finals.get(name) or {}
        theirs = (f" (the app: train {100 * app['train_error']:.2f}%, test {100 * app['test_error']:.2f}%)"
                  if app.get("train_error") is not None else "")
        print(f"{name:>24}: train error {100 * m['train_error']:.2f}%, test error {100 * m['test_error']:.2f}%{theirs}")
    if args.save_dir:
        os.makedirs(args.save_dir, exist_ok=True)
        for name, model in models.items():  # a name's odd characters never leave the folder
            torch.save(model.state_dict(), os.path.join(args.save_dir, re.sub(r"[^\w.-]|^\.+", "_", name) + ".pt"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(final, f, indent=1)
