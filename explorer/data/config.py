"""What to train on: DataConfig. Shapes, classes and preprocessing follow from the dataset's registered record."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Protocol

from ..i18n import _
from ..nets.config import ModelConfig, choice, config_from_dict
from .registry import DATASETS

# DATASETS: the registry (explorer.data.registry), name -> DatasetSpec
__all__ = ["DATASETS", "DataConfig", "InputShape", "model_config_for"]


@dataclass(frozen=True)
class DataConfig:
    """What to train on. Shapes, classes and preprocessing follow from the dataset (explorer.data.DATASETS)."""

    name: str = "digits"  # a key of DATASETS: digits (built in, offline), fashion_mnist, mnist, cifar10, folder, ...
    path: str | None = None  # the image folder (one sub-folder per class) for a dataset read from a folder
    data_dir: str | None = None  # where downloads live; None: EXPLORER_DATA_DIR or the user cache
    train_subset: int | None = None  # use only the first N training images (fast demos and tests)
    test_subset: int | None = None  # use only the first N test images
    augment: bool | None = None  # None: the dataset's own default augmentation; False: none

    def __post_init__(self) -> None:
        choice("dataset", self.name, DATASETS)
        if DATASETS[self.name].needs_path and not self.path:
            raise ValueError(_("The {name} dataset needs a path to a folder with one sub-folder per class.").format(
                name=self.name))
        for name in ("train_subset", "test_subset"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ValueError(_("{name} must be a whole number of at least 1 (or empty for all); got {value}.")
                                 .format(name=name, value=repr(value)))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DataConfig:
        return config_from_dict(cls, d)


class InputShape(Protocol):
    """What a model's first and last layers need from a dataset (a DatasetSpec or a Preprocessing has it)."""

    @property
    def in_channels(self) -> int: ...
    @property
    def input_size(self) -> int: ...
    @property
    def num_classes(self) -> int: ...


def model_config_for(model_cfg: ModelConfig, data: InputShape) -> ModelConfig:
    """The model config with in_channels, input_size and num_classes taken from a dataset.

    Args:
        model_cfg: e.g. preset("resnet20") (3x32x32, 10 classes).
        data: a dataset's Preprocessing (a loaded Dataset's `preprocessing`), or its DatasetSpec (dataset_info's
            record).
    Returns:
        e.g. on digits, a 1-channel, 8x8, 10-class ResNet-20 config.
    """
    return dataclasses.replace(model_cfg, in_channels=data.in_channels, input_size=data.input_size,
                               num_classes=data.num_classes)
