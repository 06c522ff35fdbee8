"""Datasets as on-device uint8 tensors, their file readers, and the one door for image bytes.

The public API below is imported here; the rest from its module.
"""
from .config import DATASETS, DataConfig
from .datasets import Dataset, load_dataset
from .images import ImageError, load_image

__all__ = [
    "DATASETS",
    "DataConfig",
    "Dataset",
    "ImageError",
    "load_dataset",
    "load_image",
]
