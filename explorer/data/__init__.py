"""Datasets as on-device uint8 tensors, their file readers, and the one door for image bytes.

Each dataset is one registered record (explorer.data.registry.DatasetSpec) in DATASETS; the built-in ones are
registered by explorer.data.builtin, imported here. The public API below is imported here and loads without torch
(the loaders import it when they run), so a config names a dataset with no torch in the process (Home's first
paint, docs/benchmarks.md). Loading and batching, which need torch, are imported from explorer.data.datasets.
"""
from ..nets.preprocessing import Augment, Preprocessing
from .builtin import CIFAR_FOLDER
from .config import DataConfig, InputShape, model_config_for
from .files import read_cifar_batch, read_idx
from .images import ImageError, load_image, normalize
from .registry import DATASETS, DatasetSpec, Recipe, Splits, dataset_info, register_dataset

__all__ = [
    "Augment",
    "CIFAR_FOLDER",
    "DATASETS",
    "DataConfig",
    "DatasetSpec",
    "ImageError",
    "InputShape",
    "Preprocessing",
    "Recipe",
    "Splits",
    "dataset_info",
    "load_image",
    "model_config_for",
    "normalize",
    "read_cifar_batch",
    "read_idx",
    "register_dataset",
]
