"""Models to explain: finished runs, the shipped digits twin, torchvision's ImageNet ResNets, uploaded checkpoints.

Every loader returns an `Explainable` (model in eval mode, preprocessing, ModelConfig), so the Explain and
Inspect pages treat them alike. Weights are read only with `torch.load(..., weights_only=True)`: a file
that asks to build anything but tensors and plain containers is refused before any of it runs. An
uploaded config is checked against its weights on the meta device (no memory) before the real model
is built. Also here: the test-set confusion matrix and the most confidently wrong test images.

Size budget: ~350 lines.
"""
from __future__ import annotations

import hashlib
import http.client
import io
import os
import secrets
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Callable, NamedTuple, Optional

import numpy as np
import torch
from PIL import Image

from .attribution import HEAVY_PARAMETERS
from .config import DataConfig, ModelConfig, preset
from .data import Dataset, load_dataset, normalize, test_batches
from .images import image_to_tensor, prepare_digit, tensor_to_display
from .models import ResNet, build_model, count_parameters, load_torchvision_weights
from .runs import RunStore, load_checkpoint

TWIN_DIR = Path(__file__).resolve().parent.parent / "assets" / "digits_twin"
TWIN_NAMES = ("plain-20", "resnet-20")  # plain first, as the paper's figures put it
MAX_CHECKPOINT_BYTES = 200 * 2**20  # Streamlit's default upload limit; a ResNet-50 checkpoint is ~100 MB
DIGIT_DATASETS = ("digits", "mnist")  # drawings and photos of digits go through images.prepare_digit
# torchvision weights per name (He et al. 2015 architectures; ResNet-50 with torchvision's improved recipe).
IMAGENET_WEIGHTS = {"resnet18": "ResNet18_Weights.IMAGENET1K_V1", "resnet50": "ResNet50_Weights.IMAGENET1K_V2"}
DOWNLOAD_TIMEOUT_S = 30  # seconds without an answer before a download gives up
# The methods that run the model many times (attribution._MANY_PASSES): on a big net they wait for a button.
MANY_PASS_METHODS = ("integrated_gradients", "smoothgrad", "occlusion")
_PRE_KEYS = ("classes", "in_channels", "input_size", "scale", "mean", "std")

Progress = Optional[Callable[[float], None]]


class Explainable(NamedTuple):
    """A model ready to explain: eval mode, the preprocessing its inputs need, and its config."""

    model: ResNet
    preprocessing: dict  # explorer.data's preprocessing dict (classes, input_size, scale, mean, std, ...)
    cfg: ModelConfig


class PretrainedUnavailable(RuntimeError):
    """Pretrained weights that are not cached and cannot be downloaded; the message is one sentence."""


# ----------------------------------------------------------------------------- our checkpoint format
def from_checkpoint(ckpt: dict) -> Explainable:
    """Rebuild a model from a checkpoint dict (runs.load_checkpoint's result) and load its weights strictly.

    Args:
        ckpt: {"state_dict", "model": ModelConfig dict, "preprocessing": dict}.
    Returns:
        An Explainable with the model in eval mode on the CPU.
    Raises:
        ValueError: one sentence, when the config is invalid or does not match the weights or the preprocessing.
    """
    if not isinstance(ckpt, dict) or any(k not in ckpt for k in ("state_dict", "model", "preprocessing")):
        raise ValueError("A checkpoint must hold the weights, the model config and the preprocessing.")
    try:
        cfg = ModelConfig.from_dict(ckpt["model"])
    except (ValueError, TypeError) as exc:
        raise ValueError(f"This checkpoint's model config is not valid: {exc}") from None
    pre = _checked_preprocessing(ckpt["preprocessing"], cfg)
    _check_shapes(cfg, ckpt["state_dict"])
    model = build_model(cfg)
    try:
        model.load_state_dict(ckpt["state_dict"], strict=True)
    except (RuntimeError, TypeError) as exc:
        raise ValueError("This checkpoint's weights do not fit its model config.") from exc
    model.eval()
    return Explainable(model, pre, cfg)


def _check_shapes(cfg: ModelConfig, state_dict: dict) -> None:
    """Compare the weights' names and shapes with the config's net built on the meta device (no memory used)."""
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in build_model(cfg).state_dict().items()}
    given = {k: tuple(v.shape) for k, v in state_dict.items() if isinstance(v, torch.Tensor)}
    if len(given) != len(state_dict) or given != expected:
        raise ValueError(f"This checkpoint's weights do not fit its model config ({cfg.name}).")


def _checked_preprocessing(pre, cfg: ModelConfig) -> dict:
    """The preprocessing dict, checked for what explaining needs and for agreement with the config."""
    if not isinstance(pre, dict) or any(k not in pre for k in _PRE_KEYS):
        raise ValueError(f"This checkpoint's preprocessing must give {', '.join(_PRE_KEYS)}.")
    channels = cfg.in_channels
    ok = (pre["in_channels"] == channels and pre["input_size"] == cfg.input_size
          and isinstance(pre["classes"], list) and len(pre["classes"]) == cfg.num_classes
          and isinstance(pre["scale"], (int, float)) and pre["scale"] > 0
          and all(isinstance(v, list) and len(v) == channels for v in (pre["mean"], pre["std"]))
          and all(isinstance(s, (int, float)) and s > 0 for s in pre["std"]))
    if not ok:
        raise ValueError(f"This checkpoint's preprocessing does not match its model ({channels} channels, "
                         f"{cfg.input_size}x{cfg.input_size} pixels, {cfg.num_classes} classes).")
    return pre


def load_run_model(store: RunStore, exp_id: str, run_id: str, which: str = "final") -> Explainable:
    """A run's saved weights (`final` or `init`) from the run store, rebuilt in eval mode.

    Args:
        store: the run store. exp_id, run_id: the run. which: "final" (after training) or "init".
    Returns:
        An Explainable with the run's own preprocessing (what its training data went through).
    Raises:
        ValueError: one sentence, when the weights are missing (still training, diverged) or unreadable.
    """
    path = store.weights_path(exp_id, run_id, which)
    if not path.is_file():
        raise ValueError(f"Run {run_id} has no {which} weights yet (it may still be training, or it diverged).")
    return from_checkpoint(load_checkpoint(path))


def load_uploaded_checkpoint(data: bytes, max_bytes: int = MAX_CHECKPOINT_BYTES) -> Explainable:
    """A checkpoint file a user uploaded (our format only), read with weights_only=True so nothing in it runs.

    Args:
        data: the file's bytes. max_bytes: larger files are refused before reading.
    Returns:
        An Explainable.
    Raises:
        ValueError: one sentence, for anything but a ResNet Explorer checkpoint whose config fits its weights.
    """
    if not isinstance(data, (bytes, bytearray)) or len(data) == 0:
        raise ValueError("The checkpoint file is empty; upload a .pt file saved by ResNet Explorer.")
    if len(data) > max_bytes:
        raise ValueError(f"The checkpoint is {len(data) / 2**20:.0f} MB; files up to {max_bytes / 2**20:.0f} MB "
                         f"are accepted.")
    try:
        ckpt = load_checkpoint(bytes(data))
    except ValueError as exc:
        if _is_bare_state_dict(data):
            raise ValueError("This file holds weights only (a bare state_dict, e.g. torchvision's); upload a "
                             "ResNet Explorer checkpoint, which also carries the model config and preprocessing, "
                             "or choose the pretrained ImageNet models.") from None
        raise ValueError(str(exc)) from None
    return from_checkpoint(ckpt)


def _is_bare_state_dict(data: bytes) -> bool:
    """True for a safely readable dict of tensors with ResNet-like names (only asked after a format error)."""
    try:
        obj = torch.load(io.BytesIO(bytes(data)), map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - unreadable: not a state_dict either
        return False
    return isinstance(obj, dict) and "conv1.weight" in obj and "fc.weight" in obj


# ----------------------------------------------------------------------------- the shipped digits twin
def shipped_twin(folder: Path = TWIN_DIR) -> dict:
    """The plain-20 and ResNet-20 trained on the built-in digits that ship in assets/digits_twin/.

    Returns:
        {"plain-20": Explainable, "resnet-20": Explainable} (He et al. 2015's CIFAR nets on 1x8x8 digits).
    Raises:
        FileNotFoundError: one sentence, when the files are missing (scripts/make_digits_twin.sh rebuilds them).
    """
    out = {}
    for name in TWIN_NAMES:
        path = Path(folder) / f"{name}.pt"
        if not path.is_file():
            raise FileNotFoundError(f"The shipped digits twin is missing ({path}); run scripts/make_digits_twin.sh.")
        out[name] = from_checkpoint(load_checkpoint(path))
    return out


def shipped_twin_readme(folder: Path = TWIN_DIR) -> str:
    """How the shipped twin was trained (its README: command, date, torch version, final errors)."""
    path = Path(folder) / "README.md"
    return path.read_text(encoding="utf-8") if path.is_file() else "The shipped twin's README.md is missing."


# ----------------------------------------------------------------------------- torchvision's ImageNet ResNets
def imagenet_preprocessing(name: str) -> dict:
    """Preprocessing for torchvision's ImageNet weights: RGB 224x224, ImageNet mean/std, its 1,000 class names.

    Available offline: the class names come with torchvision's weights metadata.
    """
    weights = _imagenet_weights(name)
    transform = weights.transforms()
    classes = list(weights.meta["categories"])
    return {"dataset": "imagenet", "classes": classes, "num_classes": len(classes), "in_channels": 3,
            "input_size": int(transform.crop_size[0]), "scale": 255.0, "mean": [float(m) for m in transform.mean],
            "std": [float(s) for s in transform.std], "light_on_dark": False, "weights": str(weights)}


def pretrained_imagenet(name: str, progress: Progress = None, cache_dir: Optional[Path] = None) -> Explainable:
    """torchvision's pretrained ResNet-18 or -50, downloaded once into torch's cache, loaded into our own model.

    Args:
        name: "resnet18" or "resnet50" (He et al. 2015, Table 1; shortcut B).
        progress: optional callable fed the fraction downloaded (0..1), only when a download happens.
        cache_dir: where the .pth file lives; default torch.hub's checkpoints folder (shared with torchvision).
    Returns:
        An Explainable whose logits equal torchvision's model with the same weights.
    Raises:
        PretrainedUnavailable: one sentence, when the weights are not cached and cannot be downloaded.
    """
    weights = _imagenet_weights(name)
    folder = Path(cache_dir) if cache_dir is not None else Path(torch.hub.get_dir()) / "checkpoints"
    path = _cached_download(weights.url, folder, progress)
    try:
        state_dict = torch.load(path, map_location="cpu", weights_only=True)
        cfg = preset(name)
        model = load_torchvision_weights(build_model(cfg), state_dict).eval()
    except Exception:  # noqa: BLE001 - a damaged or foreign file in the cache
        raise PretrainedUnavailable(f"The cached weights file {path} is damaged; delete it and try again.") from None
    if progress is not None:
        progress(1.0)
    return Explainable(model, imagenet_preprocessing(name), cfg)


def _imagenet_weights(name: str):
    from torchvision.models import get_weight
    if name not in IMAGENET_WEIGHTS:
        raise ValueError(f"Pretrained ImageNet models are {', '.join(IMAGENET_WEIGHTS)}; got {name!r}.")
    return get_weight(IMAGENET_WEIGHTS[name])


def _cached_download(url: str, folder: Path, progress: Progress) -> Path:
    """The file at url, from the cache folder or downloaded into it (checked against the hash in its name)."""
    filename = os.path.basename(urllib.parse.urlparse(url).path)
    target = folder / filename
    if target.is_file():
        return target
    expected = torch.hub.HASH_REGEX.search(filename)  # torchvision names end in the sha256's first digits
    tmp = folder / f".{filename}.{secrets.token_hex(3)}.partial"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        digest = _download(url, tmp, progress)
        if expected and not digest.startswith(expected.group(1)):
            raise PretrainedUnavailable(f"The download of {filename} was damaged (its checksum does not match); "
                                        f"try again.")
        os.replace(tmp, target)
    except (OSError, http.client.HTTPException):
        raise PretrainedUnavailable(f"The pretrained weights ({filename}) are not cached and could not be "
                                    f"downloaded; connect to the internet once, or put the file in {folder}.") from None
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _download(url: str, path: Path, progress: Progress) -> str:
    """Stream url into path, reporting the fraction done; returns the sha256 hex digest."""
    sha = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response, open(path, "wb") as f:
        total, done = int(response.headers.get("Content-Length") or 0), 0
        while chunk := response.read(1 << 20):
            f.write(chunk)
            sha.update(chunk)
            done += len(chunk)
            if progress is not None and total:
                progress(min(done / total, 0.99))
    return sha.hexdigest()


# ----------------------------------------------------------------------------- inputs
def is_digit_model(pre: dict) -> bool:
    """True when the model was trained on handwritten digits (drawings are brought to their look)."""
    return pre.get("dataset") in DIGIT_DATASETS


def to_model_input(img: Image.Image, pre: dict) -> tuple:
    """An image (upload or drawing) -> the model's input and the model's-eye view of it.

    Digit models get images.prepare_digit (cropped, centred, light-on-dark like the data); others get
    images.image_to_tensor (centre crop, resize, normalise).
    Returns:
        (x, view): x (1, C, H, W) normalised; view (H, W) or (H, W, 3) floats in [0, 1].
    Raises:
        images.ImageError: one sentence, e.g. when a drawing is blank.
    """
    if is_digit_model(pre):
        return prepare_digit(img, pre)
    x = image_to_tensor(img, pre)
    return x, tensor_to_display(x, pre)


def test_example(dataset: Dataset, index: int) -> tuple:
    """One test image: (x (1, C, H, W) normalised, view in [0, 1], true label)."""
    if not 0 <= index < len(dataset.y_test):
        raise ValueError(f"Pick a test image from 0 to {len(dataset.y_test) - 1}; got {index}.")
    raw = dataset.x_test[index : index + 1]  # (1, C, H, W) uint8
    x = normalize(raw, dataset.preprocessing)
    return x, tensor_to_display(x, dataset.preprocessing), int(dataset.y_test[index])


def is_heavy(model: torch.nn.Module, method: str) -> bool:
    """True when this attribution would stall a shared server (a big net and a many-pass method): ask first."""
    return method in MANY_PASS_METHODS and count_parameters(model) > HEAVY_PARAMETERS


# ----------------------------------------------------------------------------- runs and their test sets
def explainable_runs(store: RunStore) -> list:
    """Experiments with at least one run that has final weights, newest first.

    Returns:
        [{"exp_id", "label", "runs": [(run id, run name), ...]}, ...].
    """
    out = []
    for exp in store.list_experiments():
        runs = [(r["id"], r.get("name", r["id"])) for r in exp["runs"]
                if store.weights_path(exp["id"], r["id"]).is_file()]
        if runs:
            data = (exp.get("spec") or {}).get("data", {}).get("name", "?")
            kind = (exp.get("spec") or {}).get("kind", exp.get("kind", "?"))
            out.append({"exp_id": exp["id"], "label": f"{exp['id']} · {kind} on {data}: "
                                                      f"{', '.join(n for _, n in runs)}", "runs": runs})
    return out


def load_run_dataset(store: RunStore, exp_id: str) -> Dataset:
    """The dataset an experiment trained on (same split and subsets), for its test images.

    Raises:
        ValueError: the experiment is unreadable. data.DatasetUnavailable: its data is not here.
    """
    exp = store.load_experiment(exp_id, with_runs=False)
    if exp is None or not isinstance(exp.get("spec"), dict) or "data" not in exp["spec"]:
        raise ValueError(f"Experiment {exp_id} is missing or damaged.")
    return load_dataset(DataConfig.from_dict(exp["spec"]["data"]))


def confusion_and_mistakes(model: torch.nn.Module, dataset: Dataset, top: int = 8,
                           batch_size: int = 256) -> tuple:
    """The test-set confusion matrix and the test images the model gets most confidently wrong.

    Args:
        model: a classifier for the dataset (its train/eval mode is restored afterwards).
        dataset: with x_test (M, C, H, W) uint8 and its preprocessing. top: how many mistakes to return.
    Returns:
        (cm, mistakes): cm is a (K, K) int64 array, cm[i, j] = images of class i predicted as j; mistakes is a
        list of {"index", "true", "predicted", "confidence", "image"} (image (H, W) or (H, W, 3) in [0, 1]),
        highest confidence in the wrong class first.
    """
    k = int(dataset.preprocessing["num_classes"])
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    probs = []
    try:
        with torch.no_grad():
            for x, _ in test_batches(dataset, batch_size):
                probs.append(torch.softmax(model(x.to(device)).float(), dim=1).cpu())  # (B, K)
    finally:
        model.train(was_training)
    probs = torch.cat(probs) if probs else torch.zeros(0, k)
    confidence, predicted = probs.max(dim=1)
    truth = dataset.y_test.cpu()
    cm = torch.bincount(truth * k + predicted, minlength=k * k).reshape(k, k).numpy().astype(np.int64)
    wrong = (predicted != truth).nonzero().flatten()
    wrong = wrong[confidence[wrong].argsort(descending=True)][:top]
    mistakes = [{"index": int(i), "true": int(truth[i]), "predicted": int(predicted[i]),
                 "confidence": float(confidence[i]), "image": test_example(dataset, int(i))[1]} for i in wrong]
    return cm, mistakes
