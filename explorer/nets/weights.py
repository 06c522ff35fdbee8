"""Models with their weights and how to feed them: our checkpoint dict -> model, and torchvision's ImageNet ResNets.

Every loader returns an `Explainable` (model in eval mode, preprocessing, ModelConfig), so Explain and Inspect
treat a finished run, the shipped twin, an upload and a pretrained net alike. A checkpoint's config is checked
against explorer.nets.caps and against its weights on the meta device (no memory), and its weights must be
finite, before the real model is built.

Size budget: ~250 lines.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import torch

from ..i18n import _
from .builder import ResNet, build_model, load_torchvision_weights, meta_model
from .config import ModelConfig, preset
from .cost import check_model_cost
from .preprocessing import MAX_CLASS_NAME, Preprocessing

if TYPE_CHECKING:
    from torchvision.models import WeightsEnum

# torchvision weights per name (He et al. 2015 architectures; ResNet-50 with torchvision's improved recipe).
IMAGENET_WEIGHTS = {"resnet18": "ResNet18_Weights.IMAGENET1K_V1", "resnet50": "ResNet50_Weights.IMAGENET1K_V2"}


DOWNLOAD_TIMEOUT_S = 30  # seconds without an answer before a download gives up


_PRE_KEYS = ("classes", "in_channels", "input_size", "scale", "mean", "std")


Progress = Callable[[float], None] | None


class Explainable(NamedTuple):
    """A model ready to explain: eval mode, the preprocessing its inputs need, and its config."""

    model: ResNet
    preprocessing: Preprocessing  # what its inputs go through (classes, input_size, scale, mean, std, ...)
    cfg: ModelConfig


class PretrainedUnavailable(RuntimeError):
    """Pretrained weights that are not cached and cannot be downloaded; the message is one sentence."""


def from_checkpoint(ckpt: dict[str, Any]) -> Explainable:
    """Rebuild a model from a checkpoint dict (runs.load_checkpoint's result) and load its weights strictly.

    Args:
        ckpt: {"state_dict", "model": ModelConfig dict, "preprocessing": dict}.
    Returns:
        An Explainable with the model in eval mode on the CPU.
    Raises:
        ValueError: one sentence, when the config is invalid or does not match the weights or the preprocessing.
    """
    if not isinstance(ckpt, dict) or any(k not in ckpt for k in ("state_dict", "model", "preprocessing")):
        raise ValueError(_("A checkpoint must hold the weights, the model config and the preprocessing."))
    try:
        cfg = ModelConfig.from_dict(ckpt["model"])
    except (ValueError, TypeError) as exc:
        raise ValueError(_("This checkpoint's model config is not valid: {error}").format(error=exc)) from None
    pre = _checked_preprocessing(ckpt["preprocessing"], cfg)
    check_model_cost(cfg)  # on the meta device: a net over the caps is never built
    _check_shapes(cfg, ckpt["state_dict"])
    _check_tensors(ckpt["state_dict"])
    model = build_model(cfg)
    try:
        model.load_state_dict(ckpt["state_dict"], strict=True)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(_("This checkpoint's weights do not fit its model config.")) from exc
    model.eval()
    return Explainable(model, pre, cfg)


def _check_shapes(cfg: ModelConfig, state_dict: dict[str, torch.Tensor]) -> None:
    """Compare the weights' names and shapes with the config's net built on the meta device (no memory used)."""
    expected = {k: tuple(v.shape) for k, v in meta_model(cfg).state_dict().items()}
    given = {k: tuple(v.shape) for k, v in state_dict.items() if isinstance(v, torch.Tensor)}
    if len(given) != len(state_dict) or given != expected:
        raise ValueError(_("This checkpoint's weights do not fit its model config ({name}).").format(name=cfg.name))


def _check_tensors(state_dict: dict[str, torch.Tensor]) -> None:
    """Refuse weights stored as views of fewer values (one number "expanded" to a whole layer: the file stays
    tiny while the model it builds does not), then weights holding NaN or infinity ("nan%" bars)."""
    for name, tensor in state_dict.items():
        if tensor.untyped_storage().nbytes() < tensor.numel() * tensor.element_size():
            raise ValueError(_("This checkpoint's weights are not stored in full ({name} is a view of fewer "
                               "values); save the model's own state_dict.").format(name=name))
    for name, tensor in state_dict.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ValueError(_("This checkpoint's weights are not finite ({name} holds NaN or infinity); the run "
                               "that saved it probably diverged.").format(name=name))


def _checked_preprocessing(pre: object, cfg: ModelConfig) -> Preprocessing:
    """A checkpoint's preprocessing dict read as the record (which checks itself), then checked against the config."""
    if not isinstance(pre, dict) or any(k not in pre for k in _PRE_KEYS):
        raise ValueError(_("This checkpoint's preprocessing must give {fields}.").format(fields=", ".join(_PRE_KEYS)))
    # class names are drawn in charts: short plain text only, no markup (Preprocessing refuses any other)
    mismatch = ValueError(_("This checkpoint's preprocessing does not match its model ({channels} channels, "
                            "{size}x{size} pixels, {classes} classes named in plain text of up to {most} "
                            "characters).").format(channels=cfg.in_channels, size=cfg.input_size,
                                                   classes=cfg.num_classes, most=MAX_CLASS_NAME))
    try:
        record = Preprocessing.from_dict(pre)
    except ValueError:
        raise mismatch from None
    if (record.in_channels, record.input_size, record.num_classes) != (cfg.in_channels, cfg.input_size,
                                                                        cfg.num_classes):
        raise mismatch
    return record


def imagenet_preprocessing(name: str) -> Preprocessing:
    """Preprocessing for torchvision's ImageNet weights: RGB 224x224, ImageNet mean/std, its 1,000 class names.

    Available offline: the class names come with torchvision's weights metadata.
    """
    weights = _imagenet_weights(name)
    transform = weights.transforms()
    return Preprocessing(dataset="imagenet", classes=tuple(weights.meta["categories"]), in_channels=3,
                         input_size=int(transform.crop_size[0]), scale=255.0,
                         mean=tuple(float(m) for m in transform.mean), std=tuple(float(s) for s in transform.std),
                         light_on_dark=False, weights=str(weights))


def pretrained_imagenet(name: str, progress: Progress = None, cache_dir: Path | None = None) -> Explainable:
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
        raise PretrainedUnavailable(_("The cached weights file {path} is damaged; delete it and try again.").format(
            path=path)) from None
    if progress is not None:
        progress(1.0)
    return Explainable(model, imagenet_preprocessing(name), cfg)


def _imagenet_weights(name: str) -> WeightsEnum:
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
            raise PretrainedUnavailable(_("The download of {filename} was damaged (its checksum does not match); "
                                          "try again.").format(filename=filename))
        os.replace(tmp, target)
    except (OSError, http.client.HTTPException):
        raise PretrainedUnavailable(_("The pretrained weights ({filename}) are not cached and could not be "
                                      "downloaded; connect to the internet once, or put the file in {folder}.").format(
            filename=filename, folder=folder)) from None
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
