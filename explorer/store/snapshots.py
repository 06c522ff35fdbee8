"""Weight snapshots along training, for the optimiser's path (Li et al. 2018, section 7).

A run keeps `init.pt` and `final.pt`; in between, the worker saves `snap-eNNN.pt` (the weights at the end of
epoch NNN) through RunStore.save_weights, within a stated budget: every epoch while the run has at most
MAX_SNAPSHOTS epochs and its snapshots fit in SNAPSHOT_BYTES; otherwise that many epochs, evenly spaced.
A ResNet-20 (0.27M parameters, ~1.1 MB a snapshot) keeps every epoch of a 30-epoch run; a ResNet-110
(1.7M parameters, ~7 MB) keeps 9 snapshots.
"""
from __future__ import annotations

import re

from .runstore import RunStore, load_checkpoint

MAX_SNAPSHOTS = 30  # per run, besides init.pt and final.pt
SNAPSHOT_BYTES = 64 * 2**20  # per run: all its snapshots together
_NAME = re.compile(r"^snap-e(\d{3,})\.pt$")


def snapshot_name(epoch: int) -> str:
    """The `which` of RunStore.save_weights for the weights after this epoch: "snap-e007"."""
    return f"snap-e{int(epoch):03d}"


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
    found = []
    folder = store.run_dir(exp_id, run_id)
    for path in folder.glob("snap-e*.pt"):
        match = _NAME.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def path_states(store: RunStore, exp_id: str, run_id: str) -> tuple:
    """The weights along a run's path: ([epochs], [state_dicts]) for init.pt (epoch 0) and each snapshot.

    The final weights are not included (they are the path's end and the plane's origin).
    """
    epochs, states = [], []
    init = store.weights_path(exp_id, run_id, "init")
    if init.is_file():
        epochs.append(0)
        states.append(load_checkpoint(init)["state_dict"])
    for epoch, path in run_snapshots(store, exp_id, run_id):
        epochs.append(epoch)
        states.append(load_checkpoint(path)["state_dict"])
    return epochs, states
