"""What a net's inputs go through: one typed Preprocessing record, built once, read everywhere.

A dataset builds it when it loads (explorer.data: classes, shape, scale, per-channel mean/std, augmentation);
it is saved with every weights file as a plain JSON-able dict (`to_dict`), and read back (`from_dict`) by
Explain and Inspect, so a prediction sees exactly what training saw. Like timm's per-weight `_cfg`: input
size, mean/std and the class names in one place, never a dict rebuilt and re-checked by each reader.

It lives with the nets (the lowest layer) because a loaded model carries it (explorer.nets.weights).
Size budget: ~150 lines.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

MAX_CLASS_NAME = 64  # characters; class names are drawn in charts as plain text


@dataclass(frozen=True)
class Augment:
    """A dataset's default training augmentation (He et al. 2015 for CIFAR-10: pad 4, random crop, flip)."""

    pad: int = 0  # zero-pad each side by this many pixels, then crop back at a random offset
    flip: bool = False  # mirror left-right with probability 1/2


@dataclass(frozen=True)
class Preprocessing:
    """How raw images become model inputs: (raw / scale - mean) / std per channel, at input_size, in classes."""

    dataset: str  # the dataset's registered name (explorer.data.DATASETS), or "imagenet" for torchvision's weights
    classes: tuple[str, ...]  # class names, in label order
    in_channels: int  # 1 (grayscale) or 3 (RGB)
    input_size: int  # square side in pixels
    scale: float  # the raw pixels' full scale: 16 for the 8x8 digits, 255 for 8-bit images
    mean: tuple[float, ...]  # per channel, of raw / scale (over the training set)
    std: tuple[float, ...]  # per channel, of raw / scale; every value > 0
    augment: Augment = Augment()  # the training augmentation (none when switched off)
    light_on_dark: bool = False  # bright strokes on a dark ground (the digits): drawings are inverted to match
    margin: float | None = None  # digits: share of the side left empty around the strokes (None: a default)
    path: str | None = None  # folder datasets: the folder the images were read from
    skipped: int | None = None  # folder datasets: files that could not be read
    weights: str | None = None  # pretrained nets: the torchvision weights this belongs to

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able dict saved with weights (the keys every checkpoint so far has used)."""
        d: dict[str, Any] = {
            "dataset": self.dataset, "classes": list(self.classes), "num_classes": self.num_classes,
            "in_channels": self.in_channels, "input_size": self.input_size, "scale": self.scale,
            "mean": list(self.mean), "std": list(self.std), "augment": dataclasses.asdict(self.augment),
            "light_on_dark": self.light_on_dark}
        optional = {"margin": self.margin, "path": self.path, "skipped": self.skipped, "weights": self.weights}
        return d | {k: v for k, v in optional.items() if v is not None}

    @classmethod
    def from_dict(cls, d: object) -> Preprocessing:
        """The record from a saved dict (a checkpoint's); a dict that is not one raises ValueError (one sentence).

        `num_classes`, where present, must agree with the classes; keys this version does not know are ignored.
        """
        if not isinstance(d, dict):
            raise ValueError("A preprocessing must be a JSON object.")
        if not all(isinstance(d.get(k), (list, tuple)) for k in ("classes", "mean", "std")):
            raise ValueError("A preprocessing must give its classes, mean and std as lists.")
        try:
            augment = d.get("augment") or {}
            pre = cls(dataset=str(d.get("dataset", "")), classes=tuple(d["classes"]),
                      in_channels=d["in_channels"], input_size=d["input_size"], scale=d["scale"],
                      mean=tuple(d["mean"]), std=tuple(d["std"]),
                      augment=Augment(pad=augment.get("pad", 0), flip=augment.get("flip", False)),
                      # a saved dict without the key predates it: the digits' look, as prepare_digit assumed
                      light_on_dark=d.get("light_on_dark", True), margin=d.get("margin"), path=d.get("path"),
                      skipped=d.get("skipped"), weights=d.get("weights"))
        except (KeyError, TypeError, AttributeError):
            raise ValueError("A preprocessing must give classes, in_channels, input_size, scale, mean and "
                             "std.") from None
        if d.get("num_classes", pre.num_classes) != pre.num_classes:
            raise ValueError("A preprocessing's num_classes must be the number of its classes.")
        return pre

    def __post_init__(self) -> None:
        problem = _problem(self)
        if problem:
            raise ValueError(f"This preprocessing is not valid: {problem}.")


def _whole(value: object, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _positive(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def _problem(pre: Preprocessing) -> str:
    """What is wrong with a preprocessing, in a few words, or "" (checked on every record, saved or read)."""
    if not _whole(pre.in_channels, 1) or not _whole(pre.input_size, 1):
        return "in_channels and input_size must be whole numbers of at least 1"
    if not all(isinstance(c, str) and len(c) <= MAX_CLASS_NAME and not set(c) & set("<>") for c in pre.classes):
        return f"class names must be plain text of up to {MAX_CLASS_NAME} characters"
    if not _positive(pre.scale):
        return "scale must be a number above 0"
    if len(pre.mean) != pre.in_channels or len(pre.std) != pre.in_channels:
        return "mean and std need one value per channel"
    if not all(isinstance(m, (int, float)) and math.isfinite(m) for m in pre.mean) or not all(map(_positive, pre.std)):
        return "mean must be finite numbers and std numbers above 0"
    if not _whole(pre.augment.pad, 0) or not isinstance(pre.augment.flip, bool):
        return "augment needs a whole pad of 0 or more and a true/false flip"
    return ""
