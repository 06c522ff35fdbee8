"""How to train: TrainConfig and each dataset's default recipe (docs/engine.md explains them)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..data.registry import DATASETS
from ..i18n import _, count
from ..nets.config import choice, config_from_dict

OPTIMIZERS = ("sgd", "adamw")


SCHEDULES = ("constant", "step", "cosine", "onecycle")


DEVICES = ("auto", "cpu", "cuda", "mps")


PRECISIONS = ("auto", "fp32", "bf16", "fp16")
MAX_RECIPE_EPOCHS = 1000  # epochs (and warm-up epochs) of one recipe; the paper's CIFAR runs stop at 64k steps (~164)
MAX_SEED = 2**31 - 1  # what torch, numpy and a database integer column all hold (links offer the same range)


@dataclass(frozen=True)
class TrainConfig:
    """How to train. Defaults are the digits demo's (see docs/engine.md), not the paper's CIFAR recipe."""

    epochs: int = 12  # passes over the training set (ignored when steps is set)
    steps: int | None = None  # total optimiser steps; overrides epochs when given
    batch_size: int = 128  # images per step (the paper: 128)
    optimizer: str = "sgd"  # "sgd" with momentum (the paper) or "adamw"
    lr: float = 0.1  # peak learning rate (the paper: 0.1)
    momentum: float = 0.9  # SGD momentum (the paper: 0.9)
    weight_decay: float = 1e-4  # L2 penalty (the paper: 1e-4)
    schedule: str = "step"  # constant; step (/10 at 50% and 75%, as the paper); cosine; onecycle
    warmup_epochs: float = 0.0  # linear warm-up from lr/10 (ResNet-110 used 400 iterations at 0.01)
    label_smoothing: float = 0.0  # cross-entropy label smoothing (0: none)
    seed: int = 0  # one seed for weights, batch order and augmentation
    device: str = "auto"  # auto picks cuda, then mps, then cpu
    precision: str = "auto"  # auto: bf16 autocast on a CUDA card that supports it, fp32 elsewhere
    compile: bool = False  # torch.compile the models (CUDA only; falls back cleanly)
    log_every: int = 10  # steps between step events
    diagnostics: bool = True  # per-epoch gradient norms and residual-branch ratios

    def __post_init__(self) -> None:
        choice("optimizer", self.optimizer, OPTIMIZERS)
        choice("schedule", self.schedule, SCHEDULES)
        choice("device", self.device, DEVICES)
        choice("precision", self.precision, PRECISIONS)
        for name, most in (("epochs", MAX_RECIPE_EPOCHS), ("batch_size", 4096), ("log_every", 100_000)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= most:
                raise ValueError(_("{name} must be a whole number from 1 to {most}; got {value}.").format(
                    name=name, most=count(most), value=repr(value)))
        steps = self.steps
        if steps is not None and (not isinstance(steps, int) or isinstance(steps, bool) or not 1 <= steps <= 10**7):
            raise ValueError(_("steps must be a whole number from 1 to {most} (or empty to use epochs); got "
                               "{value}.").format(most=count(10**7), value=repr(steps)))
        if not isinstance(self.lr, (int, float)) or isinstance(self.lr, bool) or not 0 < self.lr <= 10:
            raise ValueError(_("lr (learning rate) must be a number above 0 and at most 10; got {value}.").format(
                value=repr(self.lr)))
        for name, low, high in (("momentum", 0, 1), ("weight_decay", 0, 1), ("label_smoothing", 0, 1)):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not low <= value < high:
                raise ValueError(_("{name} must be at least {low} and below {high}; got {value}.").format(
                    name=name, low=low, high=high, value=repr(value)))
        warmup = self.warmup_epochs  # at most the longest recipe (NaN and infinity fail the comparison too)
        if not isinstance(warmup, (int, float)) or isinstance(warmup, bool) or not 0 <= warmup <= MAX_RECIPE_EPOCHS:
            raise ValueError(_("warmup_epochs must be a number from 0 to {most}; got {value}.").format(
                most=count(MAX_RECIPE_EPOCHS), value=repr(warmup)))
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or not 0 <= self.seed <= MAX_SEED:
            raise ValueError(_("seed must be a whole number from 0 to {most}; got {value}.").format(
                most=count(MAX_SEED), value=repr(self.seed)))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        return config_from_dict(cls, d)


def train_config_for(dataset: str, **overrides: Any) -> TrainConfig:
    """The dataset's default recipe (its record's `recipe` in DATASETS), with overrides (None values ignored).

    Args:
        dataset: its name. overrides: TrainConfig fields (any type here: TrainConfig checks each one).
    """
    choice("dataset", dataset, DATASETS)
    fields = {**dataclasses.asdict(DATASETS[dataset].recipe), **{k: v for k, v in overrides.items() if v is not None}}
    return TrainConfig(**fields)
