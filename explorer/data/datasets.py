"""Datasets as uint8 tensors that live on the training device, batched and augmented there.

Which datasets there are, their shapes, classes, default augmentation and loaders: one DatasetSpec record
each in explorer.data.registry.DATASETS (the built-in ones: explorer.data.builtin). `load_dataset` calls the
record's loader and computes the dataset's typed Preprocessing (explorer.nets.preprocessing: classes, shape,
scale, per-channel mean/std, augmentation), which is saved with every run.

Size budget: ~250 lines.
"""
from __future__ import annotations

import dataclasses
import os
import pathlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from ..nets.preprocessing import Augment, Preprocessing
from .builtin import SPLIT_SEED
from .config import DataConfig
from .images import normalize
from .registry import DATASETS, Progress
from .registry import dataset_info as dataset_info  # re-exported: callers import it from here too

Batch = tuple[torch.Tensor, torch.Tensor]  # (x (B, C, H, W) normalised float32, y (B,) int64)


@dataclass
class Dataset:
    """Raw images and labels as tensors, plus the preprocessing that turns them into model inputs."""

    name: str
    x_train: torch.Tensor  # (N, C, H, W) uint8, raw values (digits 0..16, others 0..255)
    y_train: torch.Tensor  # (N,) int64
    x_test: torch.Tensor  # (M, C, H, W) uint8
    y_test: torch.Tensor  # (M,) int64
    preprocessing: Preprocessing  # saved with each run (as its to_dict())

    def to(self, device: torch.device | str) -> Dataset:
        """The same dataset with its four tensors on `device` (still uint8)."""
        return dataclasses.replace(self, x_train=self.x_train.to(device), y_train=self.y_train.to(device),
                                   x_test=self.x_test.to(device), y_test=self.y_test.to(device))


# --------------------------------------------------------------------- info and paths
def default_data_dir() -> pathlib.Path:
    """Where downloads live: $EXPLORER_DATA_DIR, else $XDG_CACHE_HOME (or ~/.cache)/resnet-explorer/data."""
    if os.environ.get("EXPLORER_DATA_DIR"):
        return pathlib.Path(os.environ["EXPLORER_DATA_DIR"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
    return pathlib.Path(cache).expanduser() / "resnet-explorer" / "data"


# --------------------------------------------------------------------- loading
def load_dataset(cfg: DataConfig, progress: Progress | None = None) -> Dataset:
    """Load a dataset into uint8 tensors on the CPU, with its preprocessing computed.

    Args:
        cfg: which dataset, its folder or data directory, subsets and augmentation.
        progress: optional callable(message, fraction or None) for downloads and decoding.
    Returns:
        A Dataset; subsets keep the first N of a seeded, class-interleaved order, so they hold every class.
    Raises:
        DatasetUnavailable: the files are absent and cannot be downloaded (the message says where to put them).
    """
    spec = DATASETS[cfg.name]  # DataConfig checked the name
    root = pathlib.Path(cfg.data_dir).expanduser() if cfg.data_dir else default_data_dir()
    where = pathlib.Path(cfg.path) if spec.needs_path and cfg.path else root
    splits = spec.loader(where, progress or _quiet)
    x_train, y_train, x_test, y_test = splits.x_train, splits.y_train, splits.x_test, splits.y_test
    if cfg.train_subset is not None:
        x_train, y_train = interleaved_subset(x_train, y_train, cfg.train_subset)
    if cfg.test_subset is not None:
        x_test, y_test = interleaved_subset(x_test, y_test, cfg.test_subset)
    pre = preprocessing_for(cfg, x_train, splits.classes, splits.skipped)
    return Dataset(cfg.name, x_train, y_train, x_test, y_test, pre)


def _quiet(message: str, fraction: float | None) -> None:
    """The progress callback when nobody listens."""


def preprocessing_for(cfg: DataConfig, x_train: torch.Tensor, classes: tuple[str, ...] | None = None,
                      skipped: int = 0) -> Preprocessing:
    """The record that turns raw images into model inputs (saved with each run).

    Args:
        cfg: the data config (its dataset's record gives the scale, augmentation and classes).
        x_train: (N, C, H, W) raw training images: the per-channel mean and std are theirs.
        classes, skipped: what a loader found in a folder (Splits.classes, Splits.skipped), if anything.
    """
    spec = DATASETS[cfg.name]
    x = x_train.to(torch.float64) / spec.scale  # (N, C, H, W)
    mean = x.mean(dim=(0, 2, 3))
    std = x.std(dim=(0, 2, 3)).clamp_min(1e-6)
    return Preprocessing(
        dataset=cfg.name, classes=classes or spec.classes, in_channels=int(x_train.shape[1]),
        input_size=int(x_train.shape[-1]), scale=spec.scale, mean=tuple(float(m) for m in mean),
        std=tuple(float(s) for s in std), augment=spec.augment if cfg.augment is not False else Augment(),
        light_on_dark=spec.light_on_dark, margin=spec.margin,
        path=str(cfg.path) if spec.needs_path else None, skipped=skipped if spec.needs_path else None)


def interleaved_subset(x: torch.Tensor, y: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first n of a seeded order that cycles through the classes (so n >= classes holds them all)."""
    g = torch.Generator().manual_seed(SPLIT_SEED)
    perm = torch.randperm(len(y), generator=g)
    ys = y[perm]
    rank = torch.empty_like(ys)  # each image's position among its class, in the shuffled order
    for c in ys.unique():
        where = (ys == c).nonzero().flatten()
        rank[where] = torch.arange(len(where))
    order = perm[torch.argsort(rank, stable=True)][:n]
    return x[order].contiguous(), y[order].contiguous()


# --------------------------------------------------------------------- batches on the device


def augment_batch(x: torch.Tensor, augment: Augment, generator: torch.Generator) -> torch.Tensor:
    """The dataset's default augmentation on a whole batch at once: zero-pad, random crop, maybe flip.

    He et al. 2015 (CIFAR-10): pad 4 pixels on each side, take a random 32x32 crop, flip horizontally
    with probability 1/2. Done with one gather on x's device, no loop over images.

    Args:
        x: (B, C, H, W) raw batch.
        augment: the pad and whether to flip (a Preprocessing's `augment`).
        generator: draws the offsets and flips (on its own device), so a seed gives the same batch.
    Returns:
        (B, C, H, W), same dtype and device as x.
    """
    pad, flip = augment.pad, augment.flip
    if pad == 0 and not flip:
        return x
    b, c, h, w = x.shape
    gdev = generator.device
    dy = torch.randint(0, 2 * pad + 1, (b, 1), generator=generator, device=gdev).to(x.device)
    dx = torch.randint(0, 2 * pad + 1, (b, 1), generator=generator, device=gdev).to(x.device)
    flipped = (torch.rand((b, 1), generator=generator, device=gdev) < 0.5).to(x.device) & flip
    rows = dy + torch.arange(h, device=x.device)  # (B, H) rows of the padded image
    cols = torch.arange(w, device=x.device).expand(b, w)
    cols = dx + torch.where(flipped, w - 1 - cols, cols)  # (B, W), reversed where flipped
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad)) if pad else x  # (B, C, H+2p, W+2p)
    batch = torch.arange(b, device=x.device).view(b, 1, 1, 1)
    channel = torch.arange(c, device=x.device).view(1, c, 1, 1)
    return padded[batch, channel, rows.view(b, 1, h, 1), cols.view(b, 1, 1, w)]  # (B, C, H, W)


def train_batches(ds: Dataset, batch_size: int, generator: torch.Generator,
                  augment: bool = True) -> Iterator[Batch]:
    """One shuffled, augmented epoch of (x normalised float32, y) batches; the last partial batch is kept.

    The same generator state gives the same batches, so lockstep models can share them.
    """
    n = len(ds.y_train)
    order = torch.randperm(n, generator=generator, device=generator.device).to(ds.x_train.device)
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        x = ds.x_train[idx]  # (B, C, H, W) uint8
        if augment:
            x = augment_batch(x, ds.preprocessing.augment, generator)
        yield normalize(x, ds.preprocessing), ds.y_train[idx]


def test_batches(ds: Dataset, batch_size: int) -> Iterator[Batch]:
    """The test set in order, as (x normalised float32, y) batches, without augmentation."""
    for start in range(0, len(ds.y_test), batch_size):
        x = ds.x_test[start : start + batch_size]
        yield normalize(x, ds.preprocessing), ds.y_test[start : start + batch_size]
