"""What to train on: DataConfig. Shapes, classes and preprocessing follow from the dataset (data.datasets)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..nets.config import choice, config_from_dict

DATASETS = ("digits", "fashion_mnist", "mnist", "cifar10", "folder")


@dataclass(frozen=True)
class DataConfig:
    """What to train on. Shapes, classes and preprocessing follow from the dataset (explorer.data)."""

    name: str = "digits"  # digits (built in, offline), fashion_mnist, mnist, cifar10, or folder
    path: str | None = None  # the image folder (one sub-folder per class) when name == "folder"
    data_dir: str | None = None  # where downloads live; None: EXPLORER_DATA_DIR or the user cache
    train_subset: int | None = None  # use only the first N training images (fast demos and tests)
    test_subset: int | None = None  # use only the first N test images
    augment: bool | None = None  # None: the dataset's own default augmentation; False: none

    def __post_init__(self) -> None:
        choice("dataset", self.name, DATASETS)
        if self.name == "folder" and not self.path:
            raise ValueError("The folder dataset needs a path to a folder with one sub-folder per class.")
        for name in ("train_subset", "test_subset"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ValueError(f"{name} must be a whole number of at least 1 (or empty for all); got {value!r}.")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> DataConfig:
        return config_from_dict(cls, d)
