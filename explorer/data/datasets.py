"""Datasets as uint8 tensors that live on the training device, batched and augmented there.

`digits` (scikit-learn's 1,797 real 8x8 digits) is built in and offline; `fashion_mnist` reads
Debian's IDX files when they are installed, else torchvision downloads it; `mnist` and `cifar10`
are downloaded into the data directory; `folder` reads one sub-folder per class through
explorer.images.load_image. Each Dataset carries a JSON-able `preprocessing` dict (classes,
shapes, scale, per-channel mean/std, augmentation) that is saved with every run.

Size budget: ~400 lines.
"""
from __future__ import annotations

import dataclasses
import os
import pathlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from ..nets.config import ModelConfig
from .config import DataConfig
from .files import DatasetCorrupt, DatasetUnavailable, read_cifar_batch, read_idx
from .images import MAX_BYTES, ImageError, fit_square, load_image, normalize

Progress = Optional[Callable[[str, float | None], None]]

DEBIAN_FASHION = pathlib.Path("/usr/share/datasets/fashion-mnist")
_FASHION_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
CIFAR_FOLDER = "cifar-10-batches-py"
_CIFAR_TRAIN = [f"data_batch_{i}" for i in range(1, 6)]
_CIFAR_TEST = ["test_batch"]
FOLDER_INPUT_SIZE = 32  # folder images are centre-cropped to a square and resized to 32 x 32 RGB
FOLDER_MAX_BYTES = 2 * 2**30  # folders larger than this as uint8 tensors are refused (no DataLoader fallback yet)
TEST_FRACTION = 0.2  # digits and folders: a stratified, seeded 80/20 split
SPLIT_SEED = 0
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif"}


def _debian_fashion_present() -> bool:
    return all((DEBIAN_FASHION / f).is_file() for pair in _FASHION_FILES.values() for f in pair)


_DIGIT_NAMES = [str(d) for d in range(10)]
DATASET_INFO: dict = {
    "digits": dict(in_channels=1, input_size=8, num_classes=10, classes=_DIGIT_NAMES, offline=True,
                   description="scikit-learn's 1,797 real 8x8 handwritten digits (UCI), built in and offline."),
    "fashion_mnist": dict(in_channels=1, input_size=28, num_classes=10, offline=_debian_fashion_present(),
                          classes=["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
                          description="Zalando's 70,000 28x28 grayscale pictures of clothing in 10 classes."),
    "mnist": dict(in_channels=1, input_size=28, num_classes=10, classes=_DIGIT_NAMES, offline=False,
                  description="LeCun's 70,000 28x28 handwritten digits (needs a download)."),
    "cifar10": dict(in_channels=3, input_size=32, num_classes=10, offline=False,
                    classes=["airplane", "automobile", "bird", "cat", "deer",
                             "dog", "frog", "horse", "ship", "truck"],
                    description="60,000 32x32 colour photos in 10 classes, the paper's CIFAR-10 (needs a download)."),
    "folder": dict(in_channels=3, input_size=FOLDER_INPUT_SIZE, num_classes=None, classes=[], offline=True,
                   description="Your own images: one sub-folder per class, resized to 32x32 RGB."),
}
# The dataset's own default augmentation (He et al. 2015 for CIFAR-10: pad 4, random 32x32 crop, flip).
_AUGMENT = {"digits": (1, False), "mnist": (2, False), "fashion_mnist": (2, True), "cifar10": (4, True),
            "folder": (4, True)}
# Share of the side left empty around a digit (digits fill their 8x8 box; MNIST: 20x20 inside 28x28).
_MARGIN = {"digits": 0.0, "mnist": 4 / 28, "fashion_mnist": 0.0}


@dataclass
class Dataset:
    """Raw images and labels as tensors, plus the preprocessing that turns them into model inputs."""

    name: str
    x_train: torch.Tensor  # (N, C, H, W) uint8, raw values (digits 0..16, others 0..255)
    y_train: torch.Tensor  # (N,) int64
    x_test: torch.Tensor  # (M, C, H, W) uint8
    y_test: torch.Tensor  # (M,) int64
    preprocessing: dict  # JSON-able; see the module docstring

    def to(self, device) -> Dataset:
        """The same dataset with its four tensors on `device` (still uint8)."""
        return dataclasses.replace(self, x_train=self.x_train.to(device), y_train=self.y_train.to(device),
                                   x_test=self.x_test.to(device), y_test=self.y_test.to(device))


# --------------------------------------------------------------------- info and paths
def default_data_dir() -> pathlib.Path:
    """Where downloads live: $EXPLORER_DATA_DIR, else $XDG_CACHE_HOME (or ~/.cache)/resnet-explorer/data."""
    if os.environ.get("EXPLORER_DATA_DIR"):
        return pathlib.Path(os.environ["EXPLORER_DATA_DIR"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
    return pathlib.Path(cache).expanduser() / "resnet-explorer" / "data"


def dataset_info(name: str, path: str | None = None) -> dict:
    """Shape, classes and description of a dataset, without loading its images.

    Args:
        name: one of DATASET_INFO's keys.
        path: for "folder", the folder to scan (its sub-folders are the classes).
    Returns:
        A copy of DATASET_INFO[name]; for a folder, with its classes and num_classes filled in.
    """
    if name not in DATASET_INFO:
        raise ValueError(f"Unknown dataset {name!r}; choose one of {', '.join(DATASET_INFO)}.")
    info = {**DATASET_INFO[name], "classes": list(DATASET_INFO[name]["classes"])}
    if name == "folder":
        if not path:
            raise ValueError("The folder dataset needs a path to a folder with one sub-folder per class.")
        info["classes"] = _folder_classes(pathlib.Path(path))
        info["num_classes"] = len(info["classes"])
    return info


def model_config_for(model_cfg: ModelConfig, info_or_dataset) -> ModelConfig:
    """The model config with in_channels, input_size and num_classes taken from a dataset.

    Args:
        model_cfg: e.g. preset("resnet20") (3x32x32, 10 classes).
        info_or_dataset: a Dataset, its preprocessing dict, or a dataset_info dict.
    Returns:
        e.g. on digits, a 1-channel, 8x8, 10-class ResNet-20 config.
    """
    d = info_or_dataset.preprocessing if isinstance(info_or_dataset, Dataset) else info_or_dataset
    num_classes = d.get("num_classes") or len(d["classes"])
    return dataclasses.replace(model_cfg, in_channels=int(d["in_channels"]), input_size=int(d["input_size"]),
                               num_classes=int(num_classes))


# --------------------------------------------------------------------- loading
def load_dataset(cfg: DataConfig, progress: Progress = None) -> Dataset:
    """Load a dataset into uint8 tensors on the CPU, with its preprocessing computed.

    Args:
        cfg: which dataset, its folder or data directory, subsets and augmentation.
        progress: optional callable(message, fraction or None) for downloads and decoding.
    Returns:
        A Dataset; subsets keep the first N of a seeded, class-interleaved order, so they hold every class.
    Raises:
        DatasetUnavailable: the files are absent and cannot be downloaded (the message says where to put them).
    """
    progress = progress or (lambda message, fraction=None: None)
    root = pathlib.Path(cfg.data_dir).expanduser() if cfg.data_dir else default_data_dir()
    where = pathlib.Path(cfg.path) if cfg.name == "folder" else root
    loader = {"digits": _load_digits, "fashion_mnist": _load_fashion, "mnist": _load_mnist,
              "cifar10": _load_cifar10, "folder": _load_folder}[cfg.name]
    x_train, y_train, x_test, y_test, extra = loader(where, progress)
    if cfg.train_subset is not None:
        x_train, y_train = interleaved_subset(x_train, y_train, cfg.train_subset)
    if cfg.test_subset is not None:
        x_test, y_test = interleaved_subset(x_test, y_test, cfg.test_subset)
    pre = preprocessing_for(cfg, x_train, extra)
    return Dataset(cfg.name, x_train, y_train, x_test, y_test, pre)


def preprocessing_for(cfg: DataConfig, x_train: torch.Tensor, extra: dict) -> dict:
    """The JSON-able recipe that turns raw images into model inputs (saved with each run)."""
    info = DATASET_INFO[cfg.name]
    classes = extra.get("classes", info["classes"])
    scale = 16.0 if cfg.name == "digits" else 255.0
    x = x_train.to(torch.float64) / scale  # (N, C, H, W)
    mean = x.mean(dim=(0, 2, 3))
    std = x.std(dim=(0, 2, 3)).clamp_min(1e-6)
    pad, flip = _AUGMENT[cfg.name] if cfg.augment is not False else (0, False)
    pre = {"dataset": cfg.name, "classes": list(classes), "num_classes": len(classes),
           "in_channels": int(x_train.shape[1]), "input_size": int(x_train.shape[-1]), "scale": scale,
           "mean": [float(m) for m in mean], "std": [float(s) for s in std],
           "augment": {"pad": pad, "flip": flip}, "light_on_dark": cfg.name in _MARGIN}
    if cfg.name in _MARGIN:
        pre["margin"] = _MARGIN[cfg.name]
    if cfg.name == "folder":
        pre["skipped"] = extra.get("skipped", 0)
        pre["path"] = str(cfg.path)
    return pre


def interleaved_subset(x: torch.Tensor, y: torch.Tensor, n: int) -> tuple:
    """The first n of a seeded order that cycles through the classes (so n >= classes holds them all)."""
    g = torch.Generator().manual_seed(SPLIT_SEED)
    perm = torch.randperm(len(y), generator=g)
    ys = y[perm]
    rank = torch.empty_like(ys)  # each image's position among its class, in the shuffled order
    for c in ys.unique():
        where = (ys == c).nonzero().flatten()
        rank[where] = torch.arange(len(where))
    order = perm[torch.argsort(rank, stable=True)][:n]
    return x[order].contiguous(), y[order].contiguous()


def _stratified_split(y: np.ndarray, test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED) -> tuple:
    """Seeded split that keeps each class's share; a class with one image goes to training. -> (train idx, test idx)."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_test = min(len(idx) - 1, int(round(len(idx) * test_fraction)))
        test.extend(idx[:n_test])
        train.extend(idx[n_test:])
    return rng.permutation(np.array(train, dtype=np.int64)), rng.permutation(np.array(test, dtype=np.int64))


def _load_digits(root, progress) -> tuple:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.from_numpy(bunch.images.astype(np.uint8)).unsqueeze(1)  # (1797, 1, 8, 8), values 0..16
    y = torch.from_numpy(bunch.target.astype(np.int64))
    train, test = (torch.from_numpy(i) for i in _stratified_split(bunch.target))
    return x[train], y[train], x[test], y[test], {}


# --------------------------------------------------------------------- Fashion-MNIST and MNIST
def _read_idx_pair(folder: pathlib.Path, split: str) -> tuple:
    images_file, labels_file = _FASHION_FILES[split]
    x = read_idx(folder / images_file, 3)
    y = read_idx(folder / labels_file, 1)
    if len(x) != len(y) or (len(y) and y.max() > 9):
        raise DatasetCorrupt(f"{folder}: the {split} images and labels do not match; reinstall or re-download them.")
    return torch.from_numpy(x.copy()).unsqueeze(1), torch.from_numpy(y.astype(np.int64))


def _load_fashion(root: pathlib.Path, progress) -> tuple:
    if not _debian_fashion_present():
        return _load_torchvision("FashionMNIST", root, progress)
    progress(f"Reading Fashion-MNIST from {DEBIAN_FASHION}", 0.0)
    x_train, y_train = _read_idx_pair(DEBIAN_FASHION, "train")
    progress(f"Reading Fashion-MNIST from {DEBIAN_FASHION}", 0.85)
    x_test, y_test = _read_idx_pair(DEBIAN_FASHION, "test")
    progress("Fashion-MNIST ready", 1.0)
    return x_train, y_train, x_test, y_test, {}


def _load_mnist(root: pathlib.Path, progress) -> tuple:
    return _load_torchvision("MNIST", root, progress)


def _load_torchvision(cls_name: str, root: pathlib.Path, progress) -> tuple:
    """MNIST or FashionMNIST through torchvision, downloading (with its checksums) when absent."""
    import torchvision.datasets as tvd

    cls = getattr(tvd, cls_name)
    try:
        train, test = cls(str(root), train=True), cls(str(root), train=False)
    except RuntimeError:  # not downloaded yet
        progress(f"Downloading {cls_name} into {root}", None)
        try:
            train = cls(str(root), train=True, download=True)
            test = cls(str(root), train=False, download=True)
        except Exception:
            raise DatasetUnavailable(
                f"{cls_name} is not in {root / cls_name / 'raw'} and could not be downloaded; connect to the "
                f"internet once, or put its four -ubyte.gz files in that folder."
            ) from None
    progress(f"{cls_name} ready", 1.0)
    return (train.data.unsqueeze(1).contiguous(), train.targets.long(),
            test.data.unsqueeze(1).contiguous(), test.targets.long(), {})


# --------------------------------------------------------------------- CIFAR-10
def _load_cifar10(root: pathlib.Path, progress) -> tuple:
    folder = root / CIFAR_FOLDER
    if not all((folder / f).is_file() for f in _CIFAR_TRAIN + _CIFAR_TEST):
        _download_cifar10(root, progress)
    parts = []
    for i, name in enumerate(_CIFAR_TRAIN + _CIFAR_TEST):
        progress("Reading CIFAR-10", i / 6)
        parts.append(read_cifar_batch(folder / name))
    progress("CIFAR-10 ready", 1.0)
    x_train = torch.cat([p[0] for p in parts[:5]])
    y_train = torch.cat([p[1] for p in parts[:5]])
    return x_train, y_train, parts[5][0], parts[5][1], {}


def _download_cifar10(root: pathlib.Path, progress) -> None:
    from torchvision.datasets import CIFAR10
    from torchvision.datasets.utils import download_and_extract_archive

    progress(f"Downloading CIFAR-10 (170 MB) into {root}", None)
    try:
        download_and_extract_archive(CIFAR10.url, str(root), filename=CIFAR10.filename, md5=CIFAR10.tgz_md5)
    except Exception:
        raise DatasetUnavailable(
            f"CIFAR-10 is not in {root / CIFAR_FOLDER} and could not be downloaded; connect to the internet once, "
            f"or extract cifar-10-python.tar.gz into {root}."
        ) from None


# --------------------------------------------------------------------- image folders
def _folder_classes(path: pathlib.Path) -> list:
    if not path.is_dir():
        raise DatasetUnavailable(f"The image folder {path} does not exist.")
    classes = sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        raise DatasetUnavailable(f"The image folder {path} needs at least two sub-folders, one per class.")
    return classes


def _load_folder(path: pathlib.Path, progress) -> tuple:
    """Decode every file of each class sub-folder; unreadable files are skipped and counted."""

    classes = _folder_classes(path)
    files = [(f, c) for c, name in enumerate(classes) for f in sorted((path / name).iterdir())
             if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES]
    size = FOLDER_INPUT_SIZE
    if len(files) * 3 * size * size > FOLDER_MAX_BYTES:
        raise DatasetUnavailable(f"The image folder {path} is too large to hold in memory ({len(files)} images).")
    images, labels, skipped = [], [], 0
    for i, (f, c) in enumerate(files):
        if i % 100 == 0:
            progress(f"Decoding images in {path}", i / max(1, len(files)))
        try:
            if f.stat().st_size > MAX_BYTES:  # refused before a byte of it is read
                raise ImageError(f"{f} is too large.")
            img = fit_square(load_image(f.read_bytes()).convert("RGB"), size)
        except (ImageError, OSError):
            skipped += 1
            continue
        images.append(np.asarray(img, dtype=np.uint8).transpose(2, 0, 1))  # (3, 32, 32)
        labels.append(c)
    progress(f"Decoded {len(images)} images, skipped {skipped} unreadable", 1.0)
    if not images:
        raise DatasetUnavailable(f"The image folder {path} has no readable PNG, JPEG, WebP, BMP or GIF images.")
    x = torch.from_numpy(np.stack(images))
    y = torch.tensor(labels, dtype=torch.int64)
    train, test = (torch.from_numpy(i) for i in _stratified_split(y.numpy()))
    return x[train], y[train], x[test], y[test], {"classes": classes, "skipped": skipped}


# --------------------------------------------------------------------- batches on the device


def augment_batch(x: torch.Tensor, pre: dict, generator: torch.Generator) -> torch.Tensor:
    """The dataset's default augmentation on a whole batch at once: zero-pad, random crop, maybe flip.

    He et al. 2015 (CIFAR-10): pad 4 pixels on each side, take a random 32x32 crop, flip horizontally
    with probability 1/2. Done with one gather on x's device, no loop over images.

    Args:
        x: (B, C, H, W) raw batch.
        pre: preprocessing; pre["augment"] = {"pad": int, "flip": bool}.
        generator: draws the offsets and flips (on its own device), so a seed gives the same batch.
    Returns:
        (B, C, H, W), same dtype and device as x.
    """
    pad, flip = int(pre["augment"]["pad"]), bool(pre["augment"]["flip"])
    if pad == 0 and not flip:
        return x
    b, c, h, w = x.shape
    gdev = generator.device
    dy = torch.randint(0, 2 * pad + 1, (b, 1), generator=generator, device=gdev).to(x.device)
    dx = torch.randint(0, 2 * pad + 1, (b, 1), generator=generator, device=gdev).to(x.device)
    flipped = (torch.rand((b, 1), generator=generator, device=gdev) < 0.5).to(x.device) & flip
    rows = dy + torch.arange(h, device=x.device)  # (B, H) rows of the padded image
    cols = torch.arange(w, device=x.device).expand(b, w)
    cols = dx + torch.where(flipped, w - 1 - cols, cols)  # (B, W), reversed where flipped
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad)) if pad else x  # (B, C, H+2p, W+2p)
    batch = torch.arange(b, device=x.device).view(b, 1, 1, 1)
    channel = torch.arange(c, device=x.device).view(1, c, 1, 1)
    return padded[batch, channel, rows.view(b, 1, h, 1), cols.view(b, 1, 1, w)]  # (B, C, H, W)


def train_batches(ds: Dataset, batch_size: int, generator: torch.Generator,
                  augment: bool = True) -> Iterator[tuple]:
    """One shuffled, augmented epoch of (x normalised float32, y) batches; the last partial batch is kept.

    The same generator state gives the same batches, so lockstep models can share them.
    """
    n = len(ds.y_train)
    order = torch.randperm(n, generator=generator, device=generator.device).to(ds.x_train.device)
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        x = ds.x_train[idx]  # (B, C, H, W) uint8
        if augment:
            x = augment_batch(x, ds.preprocessing, generator)
        yield normalize(x, ds.preprocessing), ds.y_train[idx]


def test_batches(ds: Dataset, batch_size: int) -> Iterator[tuple]:
    """The test set in order, as (x normalised float32, y) batches, without augmentation."""
    for start in range(0, len(ds.y_test), batch_size):
        x = ds.x_test[start : start + batch_size]
        yield normalize(x, ds.preprocessing), ds.y_test[start : start + batch_size]
