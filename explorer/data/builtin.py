"""The built-in datasets, one registered record each, with their loaders.

`digits` (scikit-learn's 1,797 real 8x8 digits) is built in and offline; `fashion_mnist` reads Debian's IDX
files when they are installed, else torchvision downloads it; `mnist` and `cifar10` are downloaded into the
data directory; `folder` reads one sub-folder per class through explorer.data.images.load_image (an uploaded
folder's images are decoded once and kept beside them as arrays, DECODED_FILE). To add a dataset, write its loader
and register one DatasetSpec (explorer.data.registry); nothing else changes. The loaders import torch when they
run: registering the datasets (which every DataConfig is checked against) loads no torch (docs/architecture.md).

Size budget: ~300 lines.
"""
from __future__ import annotations

import contextlib
import pathlib
from typing import TYPE_CHECKING

import numpy as np

from ..i18n import N_, _
from ..nets.preprocessing import Augment
from .files import (
    DatasetCorrupt,
    DatasetUnavailable,
    files_fingerprint,
    read_cifar_batch,
    read_decoded,
    read_idx,
    write_decoded,
)
from .images import MAX_BYTES, ImageError, fit_square, load_image
from .registry import DatasetSpec, Progress, Recipe, Splits, register_dataset

if TYPE_CHECKING:
    import torch

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
DECODED_FILE = ".decoded.npz"  # an uploaded folder's images, decoded once and kept beside them
UPLOAD_MARKER = ".skipped"  # written into every folder an upload made (its count of unreadable files)
_DIGITS = tuple(str(d) for d in range(10))


def _debian_fashion_present() -> bool:
    return all((DEBIAN_FASHION / f).is_file() for pair in _FASHION_FILES.values() for f in pair)


def stratified_split(y: np.ndarray, test_fraction: float = TEST_FRACTION,
                     seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Seeded split that keeps each class's share; a class with one image goes to training. -> (train idx, test idx)."""
    rng = np.random.default_rng(seed)
    train: list[int] = []
    test: list[int] = []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_test = min(len(idx) - 1, int(round(len(idx) * test_fraction)))
        test.extend(idx[:n_test])
        train.extend(idx[n_test:])
    return rng.permutation(np.array(train, dtype=np.int64)), rng.permutation(np.array(test, dtype=np.int64))


def _split(x: torch.Tensor, y: torch.Tensor, classes: tuple[str, ...] | None = None, skipped: int = 0) -> Splits:
    """All images and labels -> a stratified, seeded 80/20 Splits (digits and folders come unsplit)."""
    import torch
    train, test = (torch.from_numpy(i) for i in stratified_split(y.numpy()))
    return Splits(x[train], y[train], x[test], y[test], classes, skipped)


# --------------------------------------------------------------------- digits
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as (images (1797, 8, 8), labels), read from the file it ships, as its load_digits
    reads it, without importing scikit-learn (about a second of a cold start); its loader where the file is not."""
    import importlib.util
    spec = importlib.util.find_spec("sklearn")  # finds the package without running it
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        path = pathlib.Path(folder) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            data = np.loadtxt(path, delimiter=",")
            return data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(int)
    from sklearn.datasets import load_digits
    bunch = load_digits()
    return bunch.images, bunch.target


def _load_digits(root: pathlib.Path, progress: Progress) -> Splits:
    import torch
    images, target = _digits_arrays()
    x = torch.from_numpy(images.astype(np.uint8)).unsqueeze(1)  # (1797, 1, 8, 8), values 0..16
    return _split(x, torch.from_numpy(target.astype(np.int64)))


# --------------------------------------------------------------------- Fashion-MNIST and MNIST
def _read_idx_pair(folder: pathlib.Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    import torch
    images_file, labels_file = _FASHION_FILES[split]
    x = read_idx(folder / images_file, 3)
    y = read_idx(folder / labels_file, 1)
    if len(x) != len(y) or (len(y) and y.max() > 9):
        raise DatasetCorrupt(_("{folder}: the {split} images and labels do not match; reinstall or re-download "
                               "them.").format(folder=folder, split=split))
    return torch.from_numpy(x.copy()).unsqueeze(1), torch.from_numpy(y.astype(np.int64))


def _load_fashion(root: pathlib.Path, progress: Progress) -> Splits:
    if not _debian_fashion_present():
        return _load_torchvision("FashionMNIST", root, progress)
    progress(_("Reading Fashion-MNIST from {folder}").format(folder=DEBIAN_FASHION), 0.0)
    x_train, y_train = _read_idx_pair(DEBIAN_FASHION, "train")
    progress(_("Reading Fashion-MNIST from {folder}").format(folder=DEBIAN_FASHION), 0.85)
    x_test, y_test = _read_idx_pair(DEBIAN_FASHION, "test")
    progress("Fashion-MNIST ready", 1.0)
    return Splits(x_train, y_train, x_test, y_test)


def _load_mnist(root: pathlib.Path, progress: Progress) -> Splits:
    return _load_torchvision("MNIST", root, progress)


def _load_torchvision(cls_name: str, root: pathlib.Path, progress: Progress) -> Splits:
    """MNIST or FashionMNIST through torchvision, downloading (with its checksums) when absent."""
    import torchvision.datasets as tvd

    cls = getattr(tvd, cls_name)
    try:
        train, test = cls(str(root), train=True), cls(str(root), train=False)
    except RuntimeError:  # not downloaded yet
        progress(_("Downloading {dataset} into {folder}").format(dataset=cls_name, folder=root), None)
        try:
            train = cls(str(root), train=True, download=True)
            test = cls(str(root), train=False, download=True)
        except Exception:
            raise DatasetUnavailable(
                _("{dataset} is not in {folder} and could not be downloaded; connect to the internet once, or put "
                  "its four -ubyte.gz files in that folder.").format(dataset=cls_name, folder=root / cls_name / "raw")
            ) from None
    progress(_("{dataset} ready").format(dataset=cls_name), 1.0)
    return Splits(train.data.unsqueeze(1).contiguous(), train.targets.long(),
                  test.data.unsqueeze(1).contiguous(), test.targets.long())


# --------------------------------------------------------------------- CIFAR-10
def _load_cifar10(root: pathlib.Path, progress: Progress) -> Splits:
    import torch
    folder = root / CIFAR_FOLDER
    if not all((folder / f).is_file() for f in _CIFAR_TRAIN + _CIFAR_TEST):
        _download_cifar10(root, progress)
    parts = []
    for i, name in enumerate(_CIFAR_TRAIN + _CIFAR_TEST):
        progress(_("Reading CIFAR-10"), i / 6)
        parts.append(read_cifar_batch(folder / name))
    progress(_("{dataset} ready").format(dataset="CIFAR-10"), 1.0)
    x_train = torch.cat([p[0] for p in parts[:5]])
    y_train = torch.cat([p[1] for p in parts[:5]])
    return Splits(x_train, y_train, parts[5][0], parts[5][1])


def _download_cifar10(root: pathlib.Path, progress: Progress) -> None:
    from torchvision.datasets import CIFAR10
    from torchvision.datasets.utils import download_and_extract_archive

    progress(_("Downloading CIFAR-10 (170 MB) into {folder}").format(folder=root), None)
    try:
        download_and_extract_archive(CIFAR10.url, str(root), filename=CIFAR10.filename, md5=CIFAR10.tgz_md5)
    except Exception:
        raise DatasetUnavailable(
            _("CIFAR-10 is not in {folder} and could not be downloaded; connect to the internet once, or extract "
              "cifar-10-python.tar.gz into {root}.").format(folder=root / CIFAR_FOLDER, root=root)
        ) from None


# --------------------------------------------------------------------- image folders
def folder_classes(path: pathlib.Path) -> tuple[str, ...]:
    """The class names of an image folder: its sub-folders, sorted; at least two, else DatasetUnavailable."""
    if not path.is_dir():
        raise DatasetUnavailable(_("The image folder {path} does not exist.").format(path=path))
    classes = tuple(sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")))
    if len(classes) < 2:
        raise DatasetUnavailable(_("The image folder {path} needs at least two sub-folders, one per class.").format(
            path=path))
    return classes


def folder_image(raw: bytes) -> np.ndarray:
    """One image file's bytes -> (3, 32, 32) uint8 as a folder dataset holds it (through the image door).

    Raises:
        ImageError: one sentence, for what explorer.data.images.load_image refuses.
    """
    img = fit_square(load_image(raw).convert("RGB"), FOLDER_INPUT_SIZE)
    return np.asarray(img, dtype=np.uint8).transpose(2, 0, 1)


def _folder_files(path: pathlib.Path) -> tuple[tuple[str, ...], list[tuple[pathlib.Path, int]]]:
    """(classes, [(image file, class index)]) in the order a folder dataset holds its images."""
    classes = folder_classes(path)
    files = [(f, c) for c, name in enumerate(classes) for f in sorted((path / name).iterdir())
             if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES]
    if len(files) * 3 * FOLDER_INPUT_SIZE**2 > FOLDER_MAX_BYTES:
        raise DatasetUnavailable(_("The image folder {path} is too large to hold in memory ({n} images).").format(
            path=path, n=len(files)))
    return classes, files


def keep_decoded(path: pathlib.Path, decoded: dict[str, np.ndarray] | None = None,
                 progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Decode a folder's images (those given in `decoded`, by file name relative to path, are used as they are)
    and keep them beside it (DECODED_FILE), so later loads read arrays, not images. -> (x, y, skipped)."""
    classes, files = _folder_files(path)
    x, y, skipped = _decode(files, path, progress, decoded)
    meta = {"classes": list(classes), "skipped": skipped, "files": files_fingerprint((f for f, _c in files), path)}
    with contextlib.suppress(OSError):  # a read-only folder: decoded again next time
        write_decoded(path / DECODED_FILE, x, y, meta)
    return x, y, skipped


def _load_folder(path: pathlib.Path, progress: Progress) -> Splits:
    """An image folder's images: an uploaded folder's kept arrays when they match its files, else every file of
    each class sub-folder decoded (and, for an uploaded folder, kept for next time); unreadable files are counted."""
    import torch
    classes, files = _folder_files(path)
    upload = (path / UPLOAD_MARKER).is_file()
    kept = _read_kept(path, classes, files) if upload else None
    if kept is not None:
        x, y, skipped = kept
    elif upload:
        x, y, skipped = keep_decoded(path, progress=progress)  # an upload from before the arrays were kept
    else:  # a folder on the server: decoded each time, nothing written into it
        x, y, skipped = _decode(files, path, progress)
    progress(_("Read {n} images, skipped {skipped} unreadable").format(n=len(x), skipped=skipped), 1.0)
    if not len(x):
        raise DatasetUnavailable(_("The image folder {path} has no readable PNG, JPEG, WebP, BMP or GIF "
                                   "images.").format(path=path))
    return _split(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y), classes=classes, skipped=skipped)


def _read_kept(path: pathlib.Path, classes: tuple[str, ...],
               files: list[tuple[pathlib.Path, int]]) -> tuple[np.ndarray, np.ndarray, int] | None:
    """The arrays kept beside a folder, when they were made from exactly its files now; else None."""
    kept = read_decoded(path / DECODED_FILE, FOLDER_MAX_BYTES + 2**20)
    if kept is None:
        return None
    x, y, meta = kept
    skipped = meta.get("skipped")
    if meta.get("classes") != list(classes) or not isinstance(skipped, int) or len(x) + skipped != len(files) or \
            x.shape[1:] != (3, FOLDER_INPUT_SIZE, FOLDER_INPUT_SIZE) or \
            (len(y) and (int(y.min()) < 0 or int(y.max()) >= len(classes))) or \
            meta.get("files") != files_fingerprint((f for f, _c in files), path):
        return None
    return x, y, skipped


def _decode(files: list[tuple[pathlib.Path, int]], path: pathlib.Path, progress: Progress | None,
            decoded: dict[str, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Each file through the image door (or its array from `decoded`) -> (x (N, 3, 32, 32), y (N,), skipped)."""
    images, labels, skipped = [], [], 0
    for i, (f, c) in enumerate(files):
        if progress is not None and i % 100 == 0:
            progress(f"Decoding images in {path}", i / max(1, len(files)))
        known = (decoded or {}).get(f.relative_to(path).as_posix())
        try:
            if known is None and f.stat().st_size > MAX_BYTES:  # refused before a byte of it is read
                raise ImageError(f"{f} is too large.")
            images.append(known if known is not None else folder_image(f.read_bytes()))
        except (ImageError, OSError):
            skipped += 1
            continue
        labels.append(c)
    size = FOLDER_INPUT_SIZE
    return (np.stack(images) if images else np.zeros((0, 3, size, size), np.uint8),
            np.array(labels, dtype=np.int64), skipped)


# --------------------------------------------------------------------- the records
# Recipes differ from the paper's CIFAR recipe, which needs ~164 epochs: these are for a short run in a class,
# with the same optimiser and step schedule (docs/engine.md). Augmentation: He et al. 2015 for CIFAR-10.
register_dataset(DatasetSpec(
    "digits", N_("Digits (8×8)"), N_("scikit-learn's 1,797 real 8x8 handwritten digits (UCI), built in and offline."),
    "UCI Optical Recognition of Handwritten Digits (Alpaydin & Kaynak 1998), CC BY 4.0; shipped with scikit-learn.",
    1, 8, _DIGITS, _load_digits,
    # Tuned so the Figure 6 sweep shows degradation in about a minute on a laptop (docs/engine.md).
    Recipe(epochs=15, batch_size=64, lr=0.1, schedule="cosine", warmup_epochs=2.0),
    scale=16.0, augment=Augment(1, False), margin=0.0, drawn_digits=True, train_images=1437))  # 80 % of 1,797
register_dataset(DatasetSpec(
    "fashion_mnist", "Fashion-MNIST", N_("Zalando's 70,000 28x28 grayscale pictures of clothing in 10 classes."),
    "Zalando Research (Xiao, Rasul & Vollgraf 2017), MIT licence; Debian's dataset-fashion-mnist when installed.",
    1, 28, ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    _load_fashion, Recipe(epochs=5, batch_size=256, lr=0.1, schedule="onecycle"),
    augment=Augment(2, True), margin=0.0, train_images=60_000, torchvision="FashionMNIST",
    needs_download=not _debian_fashion_present()))
register_dataset(DatasetSpec(
    "mnist", "MNIST", N_("LeCun's 70,000 28x28 handwritten digits (needs a download)."),
    "Yann LeCun, Corinna Cortes and Chris Burges (LeCun et al. 1998), CC BY-SA 3.0; downloaded by torchvision.",
    1, 28, _DIGITS, _load_mnist, Recipe(epochs=4, batch_size=256, lr=0.1, schedule="onecycle"),
    augment=Augment(2, False), margin=4 / 28, drawn_digits=True, train_images=60_000, torchvision="MNIST",
    needs_download=True))  # margin: MNIST's digits are 20x20 inside 28x28
register_dataset(DatasetSpec(
    "cifar10", "CIFAR-10", N_("60,000 32x32 colour photos in 10 classes, the paper's CIFAR-10 (needs a download)."),
    "Alex Krizhevsky, Vinod Nair and Geoffrey Hinton (Krizhevsky 2009), University of Toronto; no stated licence.",
    3, 32, ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
    _load_cifar10, Recipe(epochs=30, batch_size=128, lr=0.1, schedule="step", warmup_epochs=1.0),
    augment=Augment(4, True), train_images=50_000, torchvision="CIFAR10", needs_download=True))
register_dataset(DatasetSpec(
    "folder", N_("Your images"), N_("Your own images: one sub-folder per class, resized to 32x32 RGB."),
    "Yours: uploaded as a zip or read from a folder on the server.",
    3, FOLDER_INPUT_SIZE, (), _load_folder, Recipe(epochs=15, batch_size=64, lr=0.05, schedule="cosine"),
    augment=Augment(4, True), needs_path=True, list_classes=folder_classes))
