"""Weight snapshots along training, for the optimiser's path (Li et al. 2018, section 7).

A run keeps `init.pt` and `final.pt` (recorded in the database); in between, the worker saves `snap-eNNN.pt`
(the weights at the end of epoch NNN) in the run's folder, in the same checkpoint format, within a stated
budget: every epoch while the run has at most MAX_SNAPSHOTS epochs and its snapshots fit in SNAPSHOT_BYTES;
otherwise that many epochs, evenly spaced. They go with the run's folder when it is deleted. Their bytes are
added to the run's `weights_bytes` when written, so the disk budgets (explorer.store.budget) count them with no
scan, and prune them first (drop_snapshots). With a remote artefact location
(explorer.store.artefacts) each is uploaded once written, and listed and downloaded from there.
A ResNet-20 (0.27M parameters, ~1.1 MB a snapshot) keeps every epoch of a 30-epoch run; a ResNet-110
(1.7M parameters, ~7 MB) keeps 9 snapshots.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ..nets.preprocessing import Preprocessing
from . import db
from .host import save_atomically
from .runstore import RunStore, load_checkpoint

if TYPE_CHECKING:
    import torch

MAX_SNAPSHOTS = 30  # per run, besides init.pt and final.pt
SNAPSHOT_BYTES = 64 * 2**20  # per run: all its snapshots together
_NAME = re.compile(r"^snap-e(\d{3,})\.pt$")


def snapshot_name(epoch: int) -> str:
    """The file stem of the weights after this epoch: "snap-e007"."""
    return f"snap-e{int(epoch):03d}"


def save_snapshot(store: RunStore, exp_id: str, run_id: str, epoch: int, model: torch.nn.Module, model_cfg: dict,
                  preprocessing: Preprocessing) -> Path:
    """Write the weights after `epoch` as <run folder>/snap-eNNN.pt (a checkpoint, written atomically); its path."""
    path = store.run_dir(exp_id, run_id) / f"{snapshot_name(epoch)}.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    folder = path.parent.relative_to(store.root).as_posix()
    before = store.artefacts.sizes(folder).get(path.name, 0)  # a resumed run rewrites an epoch's snapshot
    state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
    save_atomically(path, {"format": "resnet-explorer/1", "state_dict": state, "model": model_cfg,
                           "preprocessing": preprocessing.to_dict()})  # a full disk: OSError, no file left
    size = path.stat().st_size
    store.publish(path)
    store.update_run(exp_id, run_id, weights_bytes=db.runs.c.weights_bytes + (size - before))
    return path


def snapshot_epochs(epochs: int, bytes_per_snapshot: int) -> set:
    """The epochs (1 .. epochs-1) whose weights a run keeps; the last one is final.pt.

    Args:
        epochs: the run's planned epochs. bytes_per_snapshot: the size of one state_dict.
    Returns:
        every epoch before the last, or, past the budget, at most min(MAX_SNAPSHOTS, SNAPSHOT_BYTES //
        bytes_per_snapshot) of them, evenly spaced.
    """
    inner = list(range(1, max(1, epochs)))
    budget = min(MAX_SNAPSHOTS, SNAPSHOT_BYTES // max(1, bytes_per_snapshot))
    if len(inner) <= budget:
        return set(inner)
    if budget <= 0:
        return set()
    step = len(inner) / budget
    return {inner[min(len(inner) - 1, int(round((k + 0.5) * step)))] for k in range(budget)}


def run_snapshots(store: RunStore, exp_id: str, run_id: str) -> list:
    """[(epoch, path)] of a run's saved snapshots, oldest first."""
    return [(epoch, path) for epoch, rel in snapshot_keys(store, exp_id, run_id)
            if (path := store.artefact(rel)) is not None]


def snapshot_keys(store: RunStore, exp_id: str, run_id: str) -> list:
    """[(epoch, artefact path relative to the store)] of a run's saved snapshots, oldest first; nothing is
    downloaded (run_snapshots fetches them)."""
    folder = store.run_dir(exp_id, run_id).relative_to(store.root).as_posix()
    return sorted((int(m.group(1)), f"{folder}/{name}") for name in store.artefacts.names(folder)
                  if (m := _NAME.match(name)))


def snapshot_sizes(store: RunStore, exp_id: str, run_id: str) -> list:
    """[(artefact path, bytes)] of a run's saved snapshots, oldest first, from one listing of its folder."""
    folder = store.run_dir(exp_id, run_id).relative_to(store.root).as_posix()
    return sorted((f"{folder}/{name}", size) for name, size in store.artefacts.sizes(folder).items()
                  if _NAME.match(name))


def drop_snapshots(store: RunStore, exp_id: str, run_id: str) -> int:
    """Delete a run's snapshots (here and at a remote artefact location) and uncount them; returns the bytes."""
    found = snapshot_sizes(store, exp_id, run_id)
    for rel, _ in found:
        store.artefacts.delete(rel)
    freed = sum(size for _, size in found)
    if freed:
        left = db.runs.c.weights_bytes - freed  # never below 0 (snapshots written before they were counted)
        store.update_run(exp_id, run_id, weights_bytes=sa.case((left < 0, 0), else_=left))
    return freed


def path_states(store: RunStore, exp_id: str, run_id: str) -> tuple:
    """The weights along a run's path: ([epochs], [state_dicts]) for init.pt (epoch 0) and each snapshot.

    The final weights are not included (they are the path's end and the plane's origin).
    """
    epochs, states = [], []
    init = store.weights_path(exp_id, run_id, "init")  # maybe a lineage twin's shared file
    if init.is_file():  # downloaded first from a remote artefact location
        epochs.append(0)
        states.append(load_checkpoint(init)["state_dict"])
    for epoch, path in run_snapshots(store, exp_id, run_id):
        epochs.append(epoch)
        states.append(load_checkpoint(path)["state_dict"])
    return epochs, states
