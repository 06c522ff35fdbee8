"""The dataset registry: one DatasetSpec record per dataset, in DATASETS (name -> record).

A record says everything the library, the app, the command line and the take-home script need to know
about a dataset: its label and source, its input shape and classes, how its raw pixels scale, its default
augmentation and training recipe, how to load it, and whether it needs a download. DataConfig validates
against DATASETS, load_dataset calls the record's loader, the pages and the CLI list its keys; adding a
dataset is one `register_dataset(DatasetSpec(...))` (the built-in ones: explorer.data.builtin).

Size budget: ~150 lines.
"""
from __future__ import annotations

import pathlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..i18n import _
from ..nets.preprocessing import Augment

if TYPE_CHECKING:
    import torch

Progress = Callable[[str, float | None], None]  # (message, fraction done or None) for downloads and decoding


@dataclass(frozen=True)
class Splits:
    """What a loader returns: raw uint8 images and int64 labels, split into training and test sets."""

    x_train: torch.Tensor  # (N, C, H, W) uint8, raw values (0..scale)
    y_train: torch.Tensor  # (N,) int64
    x_test: torch.Tensor  # (M, C, H, W) uint8
    y_test: torch.Tensor  # (M,) int64
    classes: tuple[str, ...] | None = None  # datasets read from a folder: the classes found there
    skipped: int = 0  # files that could not be read (folders)


Loader = Callable[[pathlib.Path, Progress], Splits]  # (the data directory, or the folder for `needs_path`) -> Splits


@dataclass(frozen=True)
class Recipe:
    """A dataset's default training recipe: TrainConfig fields for a short run in a class (docs/engine.md)."""

    epochs: int  # passes over the training set
    batch_size: int  # images per step
    lr: float  # peak learning rate
    schedule: str  # explorer.training.recipes.SCHEDULES
    warmup_epochs: float = 0.0  # linear warm-up from lr/10


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset: what it is, its shape, its preprocessing defaults, its recipe, and how to load it."""

    name: str  # the key in DATASETS, DataConfig.name and the CLI's --dataset
    label: str  # a short name for the UI, e.g. "CIFAR-10"
    description: str  # one sentence for the UI
    source: str  # where it comes from and under which licence
    in_channels: int  # 1 (grayscale) or 3 (RGB)
    input_size: int  # square side in pixels
    classes: tuple[str, ...]  # class names in label order; empty for folder datasets (read from the folder)
    loader: Loader  # loads the raw splits (see Loader)
    recipe: Recipe  # the default training recipe
    scale: float = 255.0  # the raw pixels' full scale (16 for the 8x8 digits)
    augment: Augment = Augment()  # the default training augmentation
    margin: float | None = None  # light-on-dark digit-like images: share of the side left empty; None: photos
    drawn_digits: bool = False  # drawings and photos of digits are brought to the look of this data (Explain)
    train_images: int = 0  # training images per epoch (for time estimates); 0 when unknown before it is read
    torchvision: str | None = None  # the torchvision.datasets class that fetches it (the take-home script
    #                                  downloads it that way); None: the script carries the data itself
    needs_download: bool = False  # True when it is not on this machine and must be downloaded first
    needs_path: bool = False  # read from a folder (DataConfig.path): classes come from its sub-folders
    list_classes: Callable[[pathlib.Path], tuple[str, ...]] | None = None  # needs_path: the folder's classes

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def offline(self) -> bool:
        """Usable without a network connection (the built-in digits, installed files, your own folder)."""
        return not self.needs_download

    @property
    def light_on_dark(self) -> bool:
        return self.margin is not None


DATASETS: dict[str, DatasetSpec] = {}  # name -> record, in the order the UI lists them


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Add a dataset to DATASETS (the app, the CLI, DataConfig and load_dataset pick it up); returns it."""
    if not spec.name or spec.name in DATASETS:
        raise ValueError(f"A dataset needs a new name; {spec.name!r} is empty or taken.")
    if spec.needs_path != (spec.list_classes is not None):
        raise ValueError(f"Dataset {spec.name!r}: a dataset read from a folder needs list_classes, and only it.")
    DATASETS[spec.name] = spec
    return spec


def dataset_info(name: str, path: str | None = None) -> DatasetSpec:
    """A dataset's record (shape, classes, description, ...), without loading its images; for a dataset read
    from a folder, with the folder's classes.

    Args:
        name: a key of DATASETS.
        path: for datasets read from a folder (`needs_path`), the folder to scan.
    Raises:
        ValueError: an unknown name, or a folder dataset without a path. DatasetUnavailable: an unusable folder.
    """
    if name not in DATASETS:
        raise ValueError(_("Unknown dataset {name}; choose one of {datasets}.").format(
            name=repr(name), datasets=", ".join(DATASETS)))
    spec = DATASETS[name]
    if spec.list_classes is None:
        return spec
    if not path:
        raise ValueError(_("The {name} dataset needs a path to a folder with one sub-folder per class.").format(
            name=name))
    return replace(spec, classes=spec.list_classes(pathlib.Path(path)))
