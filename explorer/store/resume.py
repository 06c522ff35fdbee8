"""Resume states: the last completed epoch of an experiment (weights, optimiser, schedule position, RNG, data
order), one file per experiment beside its weights, referenced from the database.

Written atomically after each completed epoch (temp file + rename, then the row), so a worker killed at any
moment leaves either the previous state or the new one; read only with weights_only=True.
"""
from __future__ import annotations

import torch

from .host import save_atomically
from .runstore import RunStore

RESUME_FILE = "resume.pt"


def save_resume_state(store: RunStore, exp_id: str, state: dict) -> None:
    """Keep `state` (engine.Lockstep.state) as the experiment's resume point."""
    path = store.exp_dir(exp_id) / RESUME_FILE
    save_atomically(path, state)  # a full disk: OSError (ENOSPC), the previous state kept whole
    store.update_experiment(exp_id, resume_state=store.publish(path), resume_step=int(state["step"]))


def load_resume_state(store: RunStore, exp_id: str) -> dict | None:
    """The experiment's resume point, or None when it has none (or its file is unreadable)."""
    exp = store.load_experiment(exp_id, with_runs=False, reconcile=False)
    if exp is None or not exp.resumable:
        return None
    path = store.artefacts.fetch(f"{exp_id}/{RESUME_FILE}", cache=False)  # rewritten each epoch: never cached
    if path is None:
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - a damaged state means starting over, not a crash
        return None
    return state if isinstance(state, dict) and state.get("format") == "resnet-explorer-resume/1" else None
