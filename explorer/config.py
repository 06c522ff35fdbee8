"""Configurations: what to build, what to train on and how. Frozen, validated, JSON round-trip.

Size budget: ~300 lines. Every field has a one-line comment; every check raises a ValueError with
one sentence a student can act on.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Optional

FAMILIES = ("cifar", "imagenet")
BLOCKS = ("basic", "bottleneck")
NORMS = ("batch", "none")
INITS = ("kaiming", "xavier")
# The shortcut and placement names live in explorer.blocks' registries; these tuples mirror them
# so that config stays importable without torch. A test checks that the two agree.
SHORTCUTS = ("none", "A", "B", "C")
PLACEMENTS = ("original", "no_final_relu", "bn_after_add", "relu_before_add", "relu_preact", "full_preact")

# ImageNet depths and their blocks per stage (He et al. 2015, Table 1).
IMAGENET_STAGES = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
CONVS_PER_BLOCK = {"basic": 2, "bottleneck": 3}


def _choice(name: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(str, allowed))}; got {value!r}.")


@dataclass(frozen=True)
class ModelConfig:
    """One network: family, depth, block, shortcut and BN/ReLU placement (He et al. 2015, 2016)."""

    family: str = "cifar"  # "cifar": 3x3 stem, stages of 16/32/64; "imagenet": 7x7 stem + max-pool, 64..512
    depth: int = 20  # weighted layers: CIFAR 6n+2 (basic) or 9n+2 (bottleneck); ImageNet 18/34/50/101/152
    block: str = "basic"  # "basic": two 3x3 convs; "bottleneck": 1x1, 3x3, 1x1 with expansion 4
    shortcut: str = "A"  # "none" plain; "A" zero-pad identity; "B" projection where shape changes; "C" always
    placement: str = "original"  # where BN and ReLU sit in each unit (see explorer.blocks.PLACEMENTS)
    norm: str = "batch"  # "batch" (BatchNorm2d) or "none"
    init: str = "kaiming"  # "kaiming" (He et al. 2015) or "xavier" (Glorot & Bengio 2010)
    zero_init_residual: bool = False  # zero the last BN scale of each branch (Goyal et al. 2017)
    stage_blocks: Optional[tuple] = None  # explicit blocks per stage; overrides depth when given
    width: float = 1.0  # multiplier on the base widths (16/32/64 or 64/128/256/512)
    in_channels: int = 3  # image channels: 1 for digits and MNIST, 3 for colour
    input_size: int = 32  # square input side in pixels
    num_classes: int = 10  # outputs of the final linear layer

    def __post_init__(self) -> None:
        if self.stage_blocks is not None and not isinstance(self.stage_blocks, tuple):
            object.__setattr__(self, "stage_blocks", tuple(self.stage_blocks))
        self._validate()

    # ----------------------------------------------------------------- validation
    def _validate(self) -> None:
        _choice("family", self.family, FAMILIES)
        _choice("block", self.block, BLOCKS)
        _choice("shortcut", self.shortcut, SHORTCUTS)
        _choice("placement", self.placement, PLACEMENTS)
        _choice("norm", self.norm, NORMS)
        _choice("init", self.init, INITS)
        for name in ("depth", "in_channels", "input_size", "num_classes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a whole number of at least 1; got {value!r}.")
        if not isinstance(self.width, (int, float)) or isinstance(self.width, bool) or not 0 < self.width <= 8:
            raise ValueError(f"width must be a multiplier between 0 and 8 (1.0 is the paper's); got {self.width!r}.")
        if self.stage_blocks is not None:
            self._validate_stage_blocks()
        else:
            self._validate_depth()
        min_size = 32 if self.family == "imagenet" else 4
        if self.input_size < min_size:
            raise ValueError(
                f"input_size must be at least {min_size} pixels for the {self.family} family "
                f"(its stem and stages shrink the image); got {self.input_size}."
            )
        if not isinstance(self.zero_init_residual, bool):  # "false" read from a file would be truthy
            raise ValueError(f"zero_init_residual must be true or false; got {self.zero_init_residual!r}.")
        if self.zero_init_residual and self.norm == "none":
            raise ValueError("zero_init_residual needs BatchNorm (there is no BN scale to zero with norm='none').")
        if self.zero_init_residual and self.shortcut == "none":
            raise ValueError("zero_init_residual needs a shortcut: a plain net whose branches start at zero cannot train.")

    def _validate_stage_blocks(self) -> None:
        stages = 4 if self.family == "imagenet" else 3
        blocks = self.stage_blocks
        if len(blocks) != stages or any(not isinstance(b, int) or isinstance(b, bool) or b < 1 for b in blocks):
            raise ValueError(
                f"stage_blocks must be {stages} whole numbers of at least 1 for the {self.family} family; got {blocks!r}."
            )

    def _validate_depth(self) -> None:
        if self.family == "imagenet":
            if self.depth not in IMAGENET_STAGES:
                raise ValueError(f"ImageNet depth must be one of 18, 34, 50, 101, 152; got {self.depth}.")
            wanted = IMAGENET_STAGES[self.depth][0]
            if self.block != wanted:
                raise ValueError(f"ImageNet depth {self.depth} uses {wanted} blocks; got block={self.block!r}.")
            return
        step = 3 * CONVS_PER_BLOCK[self.block]
        if (self.depth - 2) % step or self.depth < step + 2:
            rule = "6n+2 (8, 14, 20, 32, 44, 56, 110, ...)" if self.block == "basic" else "9n+2 (11, 20, 29, ..., 164)"
            raise ValueError(f"CIFAR depth with {self.block} blocks must be {rule}; got {self.depth}.")

    # ----------------------------------------------------------------- derived
    @property
    def blocks_per_stage(self) -> tuple:
        """Residual units in each stage."""
        if self.stage_blocks is not None:
            return self.stage_blocks
        if self.family == "imagenet":
            return IMAGENET_STAGES[self.depth][1]
        n = (self.depth - 2) // (3 * CONVS_PER_BLOCK[self.block])
        return (n, n, n)

    @property
    def num_layers(self) -> int:
        """Weighted layers as the paper counts them: stem conv + branch convs + the linear layer."""
        return sum(self.blocks_per_stage) * CONVS_PER_BLOCK[self.block] + 2

    @property
    def is_plain(self) -> bool:
        return self.shortcut == "none"

    @property
    def name(self) -> str:
        """`resnet-20` or `plain-20` (the paper's names)."""
        return f"{'plain' if self.is_plain else 'resnet'}-{self.num_layers}"

    def plain(self) -> "ModelConfig":
        """The plain twin: the same net without shortcuts (and without zero-init, which needs one)."""
        return dataclasses.replace(self, shortcut="none", zero_init_residual=False)

    def residual(self, shortcut: str = "A") -> "ModelConfig":
        """The residual twin of a plain config (unchanged if it already has shortcuts)."""
        return self if not self.is_plain else dataclasses.replace(self, shortcut=shortcut)

    # ----------------------------------------------------------------- JSON
    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        if d["stage_blocks"] is not None:
            d["stage_blocks"] = list(d["stage_blocks"])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        return _from_dict(cls, d)


def _from_dict(cls, d: dict):
    if not isinstance(d, dict):
        raise ValueError(f"A {cls.__name__} must be a JSON object; got {type(d).__name__}.")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ValueError(f"Unknown {cls.__name__} field(s): {', '.join(unknown)}. Allowed: {', '.join(sorted(known))}.")
    return cls(**d)


# --------------------------------------------------------------------- presets
_PRESETS = {
    **{f"resnet{d}": dict(family="cifar", depth=d, shortcut="A") for d in (20, 32, 44, 56, 110)},
    **{f"resnet{d}": dict(family="imagenet", depth=d, block="basic", shortcut="B", in_channels=3,
                          input_size=224, num_classes=1000) for d in (18, 34)},
    "resnet50": dict(family="imagenet", depth=50, block="bottleneck", shortcut="B", in_channels=3,
                     input_size=224, num_classes=1000),
    "preact_resnet164": dict(family="cifar", depth=164, block="bottleneck", shortcut="B", placement="full_preact"),
}
PRESETS = tuple(_PRESETS)


def preset(name: str, **overrides) -> ModelConfig:
    """The paper's nets by name (`resnet20` ... `resnet110`, `resnet18/34/50`, `preact_resnet164`)."""
    if name not in _PRESETS:
        raise ValueError(f"Unknown preset {name!r}; choose one of {', '.join(PRESETS)}.")
    return _from_dict(ModelConfig, {**_PRESETS[name], **overrides})


# --------------------------------------------------------------------- data and recipe
DATASETS = ("digits", "fashion_mnist", "mnist", "cifar10", "folder")


@dataclass(frozen=True)
class DataConfig:
    """What to train on. Shapes, classes and preprocessing follow from the dataset (explorer.data)."""

    name: str = "digits"  # digits (built in, offline), fashion_mnist, mnist, cifar10, or folder
    path: Optional[str] = None  # the image folder (one sub-folder per class) when name == "folder"
    data_dir: Optional[str] = None  # where downloads live; None: EXPLORER_DATA_DIR or the user cache
    train_subset: Optional[int] = None  # use only the first N training images (fast demos and tests)
    test_subset: Optional[int] = None  # use only the first N test images
    augment: Optional[bool] = None  # None: the dataset's own default augmentation; False: none

    def __post_init__(self) -> None:
        _choice("dataset", self.name, DATASETS)
        if self.name == "folder" and not self.path:
            raise ValueError("The folder dataset needs a path to a folder with one sub-folder per class.")
        for name in ("train_subset", "test_subset"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ValueError(f"{name} must be a whole number of at least 1 (or empty for all); got {value!r}.")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "DataConfig":
        return _from_dict(cls, d)


OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("constant", "step", "cosine", "onecycle")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass(frozen=True)
class TrainConfig:
    """How to train. Defaults are the digits demo's (see docs/engine.md), not the paper's CIFAR recipe."""

    epochs: int = 12  # passes over the training set (ignored when steps is set)
    steps: Optional[int] = None  # total optimiser steps; overrides epochs when given
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
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("schedule", self.schedule, SCHEDULES)
        _choice("device", self.device, DEVICES)
        _choice("precision", self.precision, PRECISIONS)
        for name, most in (("epochs", 1000), ("batch_size", 4096), ("log_every", 100_000)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= most:
                raise ValueError(f"{name} must be a whole number from 1 to {most:,}; got {value!r}.")
        steps = self.steps
        if steps is not None and (not isinstance(steps, int) or isinstance(steps, bool) or not 1 <= steps <= 10**7):
            raise ValueError(f"steps must be a whole number from 1 to 10,000,000 (or empty to use epochs); got {steps!r}.")
        if not isinstance(self.lr, (int, float)) or isinstance(self.lr, bool) or not 0 < self.lr <= 10:
            raise ValueError(f"lr (learning rate) must be a number above 0 and at most 10; got {self.lr!r}.")
        for name, low, high in (("momentum", 0, 1), ("weight_decay", 0, 1), ("label_smoothing", 0, 1)):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not low <= value < high:
                raise ValueError(f"{name} must be at least {low} and below {high}; got {value!r}.")
        if not isinstance(self.warmup_epochs, (int, float)) or self.warmup_epochs < 0:
            raise ValueError(f"warmup_epochs must be 0 or more; got {self.warmup_epochs!r}.")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ValueError(f"seed must be a whole number; got {self.seed!r}.")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        return _from_dict(cls, d)


# Recipe defaults per dataset (docs/engine.md explains them). They differ from the paper's CIFAR recipe,
# which needs ~164 epochs: these are for a short run in a class, with the same optimiser and step schedule.
TRAIN_DEFAULTS = {
    # Tuned so the Figure 6 sweep shows degradation in about a minute on a laptop (docs/engine.md).
    "digits": dict(epochs=15, batch_size=64, lr=0.1, schedule="cosine", warmup_epochs=2.0),
    "fashion_mnist": dict(epochs=5, batch_size=256, lr=0.1, schedule="onecycle"),
    "mnist": dict(epochs=4, batch_size=256, lr=0.1, schedule="onecycle"),
    "cifar10": dict(epochs=30, batch_size=128, lr=0.1, schedule="step", warmup_epochs=1.0),
    "folder": dict(epochs=15, batch_size=64, lr=0.05, schedule="cosine"),
}


def train_config_for(dataset: str, **overrides) -> TrainConfig:
    """The dataset's default recipe, with explicit overrides (None values ignored)."""
    _choice("dataset", dataset, DATASETS)
    fields = {**TRAIN_DEFAULTS[dataset], **{k: v for k, v in overrides.items() if v is not None}}
    return TrainConfig(**fields)
