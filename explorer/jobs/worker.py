"""Run one stored experiment: load its data, build its models, train them in lockstep, write everything
to the run store as it goes. The job manager starts this in its own process (`python -m explorer worker`);
the CLI calls it in-process.

Size budget: ~150 lines.
"""
from __future__ import annotations

import logging
import os
import time
import traceback
from typing import Callable, Optional

from ..nets.builder import count_parameters
from ..nets.cost import check_model_cost
from ..store.runstore import RunStore, run_slug
from ..training.devices import EngineError
from ..training.engine import build_models, train_models
from ..training.experiments import ExperimentSpec
from .status import human_duration

log = logging.getLogger(__name__)


class _StoreWriter:
    """Turns engine events into run-store writes (and passes them on to an optional callback)."""

    def __init__(self, store: RunStore, exp_id: str, names: dict, forward: Optional[Callable] = None) -> None:
        self.store, self.exp_id, self.ids, self.forward = store, exp_id, names, forward

    def __call__(self, event: dict) -> None:
        kind = event.get("type")
        if kind in ("step", "epoch"):
            self.store.append_metrics(self.exp_id, self.ids[event["run"]], [event])
        elif kind == "status":
            self.store.update_run(self.exp_id, self.ids[event["run"]], status=event["status"],
                                  message=event.get("message"))
        elif kind == "progress":
            self.store.write_progress(self.exp_id, event)
        if self.forward is not None:
            self.forward(event)


def _experiment_status(results: dict, stopped: bool) -> str:
    statuses = {r["status"] for r in results.values()}
    if stopped:
        return "stopped"
    return "diverged" if statuses == {"diverged"} else "completed"


def _out_of_memory(exc: BaseException) -> bool:
    """A MemoryError, or torch's allocator refusing ("can't allocate memory", CUDA out of memory)."""
    text = str(exc).lower()
    return isinstance(exc, MemoryError) or (isinstance(exc, RuntimeError) and (
        "allocate" in text or "out of memory" in text))


def _failure_message(exc: BaseException) -> str:
    """One sentence for a failed experiment; raw allocator or library errors never reach the user."""
    if _out_of_memory(exc):
        return "The models did not fit in memory; use fewer or smaller models, or a smaller batch size."
    if isinstance(exc, (EngineError, ValueError, RuntimeError)) and str(exc):
        return str(exc)
    return f"The experiment failed unexpectedly ({type(exc).__name__}); see worker.log in its folder."


def run_experiment(store: RunStore, exp_id: str, callback: Optional[Callable[[dict], None]] = None,
                   budget_s: Optional[float] = None) -> dict:
    """Train a queued experiment of the store to its end; returns the experiment as stored.

    Never raises for training failures: they end the experiment as `failed` with one sentence in
    its `message` (the traceback goes to worker.log in the experiment's folder).
    Args:
        budget_s: wall-time budget in seconds from now (None: none); when it runs out the job stops at its
            next batch like a stop request, its results kept, and says so in its message.
    """
    from ..data.datasets import load_dataset

    exp = store.load_experiment(exp_id, with_runs=False)
    if exp is None:
        raise FileNotFoundError(f"Experiment {exp_id} does not exist (or its files are damaged).")
    store.update_experiment(exp_id, status="running", pid=os.getpid(), started=time.time())
    deadline = None if budget_s is None else time.monotonic() + budget_s
    try:
        spec = ExperimentSpec.from_dict(exp["spec"])
        for _, cfg in spec.models:
            check_model_cost(cfg)  # a net over the caps is refused before any of it is built
        ids = {name: run_slug(name) for name, _ in spec.models}
        for rid in ids.values():
            store.update_run(exp_id, rid, status="running")
        store.write_progress(exp_id, {"message": f"Loading {spec.data.name}…"})
        data = load_dataset(spec.data)
        models = build_models(spec.models, spec.train.seed)
        for name, cfg in spec.models:
            store.save_weights(exp_id, ids[name], "init", models[name], cfg.to_dict(), data.preprocessing)
            store.update_run(exp_id, ids[name], params=count_parameters(models[name]), dataset=spec.data.name)
        writer = _StoreWriter(store, exp_id, ids, callback)
        out_of_time = (lambda: False) if deadline is None else (lambda: time.monotonic() > deadline)
        results = train_models(models, data, spec.train, writer,
                               lambda: out_of_time() or store.stop_requested(exp_id), augment=spec.data.augment)
        stopped = any(r["status"] == "stopped" for r in results.values())
        for name, cfg in spec.models:
            r = results[name]
            if r["status"] != "diverged":
                store.save_weights(exp_id, ids[name], "final", r["model"], cfg.to_dict(), data.preprocessing)
            store.update_run(exp_id, ids[name], status=r["status"], epochs=r["epochs"], final=r["final"],
                             images_per_second=r["images_per_second"],
                             **({"message": r["message"]} if r["message"] else {}))
        status = _experiment_status(results, stopped)
        if stopped and out_of_time() and not store.stop_requested(exp_id):
            return store.update_experiment(exp_id, status=status, finished=time.time(), message=(
                f"The job's time budget ({human_duration(budget_s)}) ran out; what it reached is kept."))
        return store.update_experiment(exp_id, status=status, finished=time.time())
    except Exception as exc:  # noqa: BLE001 - a worker must always leave a readable status behind
        message = _failure_message(exc)
        with open(store.exp_dir(exp_id) / "worker.log", "a") as f:
            f.write(traceback.format_exc())
        log.error("experiment %s failed: %s", exp_id, message)
        _fail_runs(store, exp_id)
        return store.update_experiment(exp_id, status="failed", message=message, finished=time.time())


def run_job(store: RunStore, exp_id: str, callback: Optional[Callable[[dict], None]] = None,
            budget_s: Optional[float] = None) -> dict:
    """Run a queued job of any kind, chosen by experiment.json's "kind": `train` (default) or `landscape`.

    budget_s: a training job's wall-time budget (see run_experiment); landscape jobs have their own caps.
    """
    exp = store.load_experiment(exp_id, with_runs=False)
    if exp is not None and exp.get("kind") == "landscape":
        from .landscape import run_landscape_job
        return run_landscape_job(store, exp_id)
    return run_experiment(store, exp_id, callback, budget_s=budget_s)


def _fail_runs(store: RunStore, exp_id: str) -> None:
    exp = store.load_experiment(exp_id) or {"runs": []}
    for run in exp["runs"]:
        if run.get("status") in ("queued", "running"):
            store.update_run(exp_id, run["id"], status="failed")
