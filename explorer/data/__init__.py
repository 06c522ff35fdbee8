"""Datasets as on-device uint8 tensors, their file readers, and the one door for image bytes.

Each dataset is one registered record (explorer.data.registry.DatasetSpec) in DATASETS; the built-in ones are
registered by explorer.data.builtin, imported here. The public API below is imported here; the rest from its
module.
"""
from ..nets.preprocessing import Augment, Preprocessing
from .builtin import CIFAR_FOLDER
from .config import DataConfig
from .datasets import (
    Dataset,
    augment_batch,
    default_data_dir,
    load_dataset,
    model_config_for,
    test_batches,
    train_batches,
)
from .files import read_cifar_batch, read_idx
from .images import ImageError, load_image, normalize
from .registry import DATASETS, DatasetSpec, Recipe, Splits, dataset_info, register_dataset

__all__ = [
    "Augment",
    "CIFAR_FOLDER",
    "DATASETS",
    "DataConfig",
    "Dataset",
    "DatasetSpec",
    "ImageError",
    "Preprocessing",
    "Recipe",
    "Splits",
    "augment_batch",
    "dataset_info",
    "default_data_dir",
    "load_dataset",
    "load_image",
    "model_config_for",
    "normalize",
    "read_cifar_batch",
    "read_idx",
    "register_dataset",
    "test_batches",
    "train_batches",
]
