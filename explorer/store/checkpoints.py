"""Checkpoints in the store and from users: a run's saved weights, an uploaded file, the runs worth explaining.

Weights are read only with `torch.load(..., weights_only=True)`: a file that asks to build anything but
tensors and plain containers is refused before any of it runs. An upload's zip directory is checked first
(sizes after decompression, the caps below), and a refused file is remembered by its sha256, so a
rerun refuses it at once instead of reading it again.
"""
from __future__ import annotations

import hashlib
import io
import threading
import zipfile
from collections import OrderedDict
from dataclasses import dataclass

import torch

from ..data.config import DataConfig
from ..data.datasets import Dataset
from ..i18n import _, count, current
from ..nets.weights import Explainable, from_checkpoint
from .runstore import Filter, RunStore, load_checkpoint
from .uploaded import load_store_dataset

# Caps on a checkpoint from a user (docs/security.md), checked on the zip's directory before torch.load.
MAX_CHECKPOINT_BYTES = 50 * 2**20  # = server.maxUploadSize in .streamlit/config.toml (a test checks)
MAX_UNZIPPED_BYTES = MAX_CHECKPOINT_BYTES  # torch.save stores members uncompressed: inside = on the wire
MAX_DEFLATE_RATIO = 20  # a deflated member over 1 MiB expanding more than this is a bomb (weights: ~1.1x)
REFUSED_FILES_KEPT = 64  # sha256s of refused uploads remembered, so a rerun refuses at once

_REFUSED: OrderedDict = OrderedDict()  # sha256 of a refused upload -> {language: its sentence} (newest last)
_REFUSED_LOCK = threading.Lock()  # Streamlit serves each session from its own thread


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
    if store.artefact(path.relative_to(store.root).as_posix()) is None:
        raise ValueError((_("Run {run} has no final weights (it may still be training, it diverged, or its weights "
                            "were pruned to keep within the disk budget).") if which == "final" else
                          _("Run {run} has no init weights (it may still be training, it diverged, or its weights "
                            "were pruned to keep within the disk budget).")).format(run=run_id))
    ckpt = load_checkpoint(path)
    exp = store.load_experiment(exp_id, reconcile=False)
    run = exp.run(run_id) if exp is not None else None
    if run is not None and ckpt["model"] != run.model:  # initial weights shared with a lineage twin
        ckpt = dict(ckpt, model=run.model)
    return from_checkpoint(ckpt)


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
        raise ValueError(_("The checkpoint file is empty; upload a .pt file saved by ResNet Explorer."))
    if len(data) > max_bytes:
        raise ValueError(_("The checkpoint is {size} MB; files up to {most} MB are accepted.").format(
            size=count(len(data) / 2**20), most=count(max_bytes / 2**20)))
    digest, lang = hashlib.sha256(data).hexdigest(), current()
    with _REFUSED_LOCK:
        said = _REFUSED.get(digest, {})
        if lang in said:  # the sentence is in its reader's language: another language reads the file again
            raise ValueError(said[lang])
    try:
        return _read_upload(bytes(data))
    except ValueError as exc:
        with _REFUSED_LOCK:
            _REFUSED[digest] = {**_REFUSED.pop(digest, {}), lang: str(exc)}
            while len(_REFUSED) > REFUSED_FILES_KEPT:
                _REFUSED.popitem(last=False)
        raise


def _read_upload(data: bytes) -> Explainable:
    _check_zip_sizes(data)
    try:
        ckpt = load_checkpoint(data)
    except ValueError as exc:
        if _is_bare_state_dict(data):
            raise ValueError(_("This file holds weights only (a bare state_dict, e.g. torchvision's); upload a "
                               "ResNet Explorer checkpoint, which also carries the model config and preprocessing, "
                               "or choose the pretrained ImageNet models.")) from None
        raise ValueError(str(exc)) from None
    return from_checkpoint(ckpt)


def _check_zip_sizes(data: bytes, max_total: int = MAX_UNZIPPED_BYTES) -> None:
    """Refuse a .pt (a zip) whose members would decompress past the caps, from its directory alone.

    torch.save stores members uncompressed; a deflated member over 1 MiB may shrink a little, never by a bomb's
    ratio (small ones, names and versions, may shrink a lot and cannot amplify much).
    A file that is not a zip is left to torch.load (the legacy format holds raw bytes: no amplification).
    """
    if not zipfile.is_zipfile(io.BytesIO(data)):
        return
    try:
        members = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise ValueError(_("This checkpoint file is damaged (its zip directory cannot be read).")) from None
    total = sum(m.file_size for m in members)
    if total > max_total:
        raise ValueError(_("This checkpoint would unpack to {size} MB; checkpoints up to {most} MB are "
                           "accepted.").format(size=count(total / 2**20), most=count(max_total / 2**20)))
    for m in members:
        if m.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) or (
                m.compress_type == zipfile.ZIP_DEFLATED and m.file_size > 2**20
                and m.file_size > MAX_DEFLATE_RATIO * max(m.compress_size, 1)):
            raise ValueError(_("This checkpoint is compressed in a way ResNet Explorer never writes (a member expands "
                               "{ratio}-fold); save it again with torch.save.").format(
                ratio=count(m.file_size / max(m.compress_size, 1))))


def _is_bare_state_dict(data: bytes) -> bool:
    """True for a safely readable dict of tensors with ResNet-like names (only asked after a format error)."""
    try:
        obj = torch.load(io.BytesIO(bytes(data)), map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - unreadable: not a state_dict either
        return False
    return isinstance(obj, dict) and "conv1.weight" in obj and "fc.weight" in obj


@dataclass(frozen=True)
class TrainedExperiment:
    """An experiment with trained weights: its id, a label for pickers, and (run id, run name) of those runs."""

    exp_id: str
    label: str
    runs: tuple


def explainable_runs(store: RunStore, limit: int = 200) -> list:
    """The newest experiments with at least one run that has final weights (at most `limit` looked at).

    Returns:
        [TrainedExperiment, ...], newest first.
    """
    out = []
    for exp in store.page(Filter(kind="train"), limit=limit).items:
        runs = tuple((r.id, r.name) for r in exp.runs if r.final_weights)
        if runs:
            out.append(TrainedExperiment(exp.id, f"{exp.id} · {exp.spec_kind} on {exp.dataset}: "
                                                 f"{', '.join(n for _rid, n in runs)}", runs))
    return out


def load_run_dataset(store: RunStore, exp_id: str) -> Dataset:
    """The dataset an experiment trained on (same split and subsets), for its test images.

    Raises:
        ValueError: the experiment is unreadable. data.DatasetUnavailable: its data is not here.
    """
    exp = store.load_experiment(exp_id, with_runs=False)
    if exp is None or not isinstance(exp.spec.get("data"), dict):
        raise ValueError(_("Experiment {id} is missing or damaged.").format(id=exp_id))
    return load_store_dataset(store, DataConfig.from_dict(exp.spec["data"]))
