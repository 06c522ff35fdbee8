"""Datasets as on-device uint8 tensors, their file readers, and the one door for image bytes.

The public API below is imported here; the rest from its module.
"""
from .config import DATASETS, DataConfig
from .datasets import (
    CIFAR_FOLDER,
    Dataset,
    augment_batch,
    dataset_info,
    default_data_dir,
    load_dataset,
    model_config_for,
    test_batches,
    train_batches,
)
from .files import read_cifar_batch, read_idx
from .images import ImageError, load_image, normalize

__all__ = [
    "CIFAR_FOLDER",
    "augment_batch",
    "dataset_info",
    "default_data_dir",
    "model_config_for",
    "normalize",
    "read_cifar_batch",
    "read_idx",
    "test_batches",
    "train_batches",
    "DATASETS",
    "DataConfig",
    "Dataset",
    "ImageError",
    "load_dataset",
    "load_image",
]
