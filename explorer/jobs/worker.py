"""Run one stored experiment: load its data, build its models, train them in lockstep, write everything
to the run store as it goes. The job manager starts this in its own process (`python -m explorer worker`);
the CLI calls it in-process.

After each completed epoch the worker keeps a resume state (explorer.store.resume); an experiment that has
one continues from it (`python -m explorer resume ID`, or Resume in the app) instead of starting over.
Size budget: ~180 lines.
"""
from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from ..i18n import N_, _
from ..nets.builder import ResNet, count_parameters
from ..nets.cost import check_model_cost
from ..nets.preprocessing import Preprocessing
from ..store.db import StoreUnavailable
from ..store.records import Experiment
from ..store.resume import load_resume_state, save_resume_state
from ..store.runstore import RunStore, run_slug
from ..store.snapshots import save_snapshot, snapshot_epochs
from ..training.engine import OnEpoch, build_models, train_models
from ..training.events import Callback, EpochEvent, Event, ProgressEvent, RunResult, StatusEvent, StepEvent
from ..training.experiments import ExperimentSpec
from .failure import fail_job
from .handles import own_handle
from .request import JobRequest
from .status import budget_message

if TYPE_CHECKING:
    from ..data.datasets import Dataset

log = logging.getLogger(__name__)

STOP_POLL_S = 0.25  # the database is asked for a stop request at most this often
WORKER_PATIENCE_S = 600.0  # a worker waits this long for a database that went away (a restart) before giving up


def worker_patience_s() -> float:
    """EXPLORER_WORKER_DB_PATIENCE_S (seconds, up to a day), else WORKER_PATIENCE_S."""
    try:
        value = float(os.environ.get("EXPLORER_WORKER_DB_PATIENCE_S", WORKER_PATIENCE_S))
    except ValueError:
        return WORKER_PATIENCE_S
    return value if 0 <= value <= 86_400 else WORKER_PATIENCE_S


class _StoreWriter:
    """Turns engine events into run-store writes (and passes them on to an optional callback)."""

    def __init__(self, store: RunStore, exp_id: str, names: dict[str, str], forward: Callback | None = None) -> None:
        self.store, self.exp_id, self.ids, self.forward = store, exp_id, names, forward

    def __call__(self, event: Event) -> None:
        if isinstance(event, (StepEvent, EpochEvent)):
            self.store.append_metrics(self.exp_id, self.ids[event.run], [event.to_dict()])
        elif isinstance(event, StatusEvent):
            self.store.update_run(self.exp_id, self.ids[event.run], status=event.status, message=event.message)
        elif isinstance(event, ProgressEvent):
            self.store.write_progress(self.exp_id, event.to_dict())
        if self.forward is not None:
            self.forward(event)


def _stop_poll(store: RunStore, exp_id: str) -> Callable[[], bool]:
    """A should_stop() for the engine that asks the database at most every STOP_POLL_S seconds."""
    asked_at, stop = [0.0], [False]

    def should_stop() -> bool:
        now = time.monotonic()
        if not stop[0] and now - asked_at[0] >= STOP_POLL_S:
            asked_at[0], stop[0] = now, store.stop_requested(exp_id)
        return stop[0]
    return should_stop


def _experiment_status(results: dict[str, RunResult], stopped: bool) -> str:
    statuses = {r.status for r in results.values()}
    if stopped:
        return "stopped"
    return "diverged" if statuses == {"diverged"} else "completed"


def run_experiment(store: RunStore, exp_id: str, callback: Callback | None = None,
                   budget_s: float | None = None) -> Experiment | None:
    """Train a queued (or resumed) experiment of the store to its end; returns the experiment as stored.

    Never raises for training failures: they end the experiment as `failed` with one sentence in
    its `message` (the traceback goes to worker.log in the experiment's folder).
    Args:
        callback: gets every engine event (explorer.training.events) after the store has it.
        budget_s: wall-time budget in seconds from now (None: the request's, set by the job manager at submit, or
            none); when it runs out the job stops at its next batch like a stop request, its results kept, and says
            so in its message.
    """
    exp = store.load_experiment(exp_id, with_runs=False, reconcile=False)
    if exp is None:
        raise FileNotFoundError(f"Experiment {exp_id} does not exist (or its record is damaged).")
    store.update_experiment(exp_id, status="running", worker=own_handle(), started=time.time(),
                            finished=None)
    try:
        request = JobRequest.from_json(exp.spec, exp.owner)
        budget_s = request.budget_s if budget_s is None else budget_s
        deadline = None if budget_s is None else time.monotonic() + budget_s
        out_of_time = (lambda: False) if deadline is None else (lambda: time.monotonic() > deadline)
        spec = request.experiment()
        results = _train(store, exp_id, spec, callback, out_of_time)
        stopped = any(r.status == "stopped" for r in results.values())
        status = _experiment_status(results, stopped)
        if stopped and out_of_time() and not store.stop_requested(exp_id):
            return store.update_experiment(exp_id, status=status, finished=time.time(),
                                           message=budget_message(budget_s))
        return store.update_experiment(exp_id, status=status, finished=time.time())
    except StoreUnavailable:  # the database stayed away past the worker's patience: resumable, not failed
        return store.mark_interrupted(exp_id, N_("The run database was away too long; resume this job."))
    except Exception as exc:  # noqa: BLE001 - a worker must always leave a readable status behind
        return fail_job(store, exp_id, exc, "experiment")


def _train(store: RunStore, exp_id: str, spec: ExperimentSpec, callback: Callback | None,
           out_of_time: Callable[[], bool]) -> dict[str, RunResult]:
    """Load, build, train (from the resume state, if one was kept) and keep each run's results in the store."""
    from ..store.uploaded import load_store_dataset
    for _name, cfg in spec.models:
        check_model_cost(cfg)  # a net over the caps is refused before any of it is built
    ids = {name: run_slug(name) for name, _cfg in spec.models}
    resume = load_resume_state(store, exp_id)
    store.update_runs(exp_id, where_status=("queued", "interrupted", "running"), status="running")
    store.write_progress(exp_id, {"message": _("Loading {dataset}…").format(dataset=spec.data.name)})
    data = load_store_dataset(store, spec.data)
    models = build_models(spec.models, spec.train.seed)
    # Resumed: the records past the saved epoch are trained again. Started over (no epoch was completed before
    # an interruption, or a first start): no record of an earlier attempt may stay.
    store.delete_metrics_after(exp_id, int(resume["step"]) if resume is not None else -2**31)
    if resume is None:
        _save_initial_weights(store, exp_id, spec, ids, models, data.preprocessing)
    for name, _cfg in spec.models:
        store.update_run(exp_id, ids[name], params=count_parameters(models[name]), dataset=spec.data.name)
    asked = _stop_poll(store, exp_id)
    results = train_models(models, data, spec.train, _StoreWriter(store, exp_id, ids, callback),
                           lambda: out_of_time() or asked(), augment=spec.data.augment,
                           checkpoint=lambda state: save_resume_state(store, exp_id, state), resume=resume,
                           on_epoch=_snapshotter(store, exp_id, spec, ids, models, data))
    for name, cfg in spec.models:
        r = results[name]
        if r.status != "diverged":
            store.save_weights(exp_id, ids[name], "final", r.model, cfg.to_dict(), data.preprocessing)
        store.update_run(exp_id, ids[name], status=r.status, epochs=r.epochs, final=r.final,
                         images_per_second=r.images_per_second, **({"message": r.message} if r.message else {}))
    return results


def _snapshotter(store: RunStore, exp_id: str, spec: ExperimentSpec, ids: dict[str, str],
                 models: dict[str, ResNet], data: Dataset) -> OnEpoch:
    """on_epoch for the engine: save the weights at the epochs the snapshot budget allows (store.snapshots)."""
    configs = dict(spec.models)
    per_epoch = math.ceil(len(data.y_train) / spec.train.batch_size)
    epochs = math.ceil(spec.train.steps / per_epoch) if spec.train.steps else spec.train.epochs
    keep = {name: snapshot_epochs(epochs, sum(t.numel() * t.element_size() for t in m.state_dict().values()))
            for name, m in models.items()}

    def save(name: str, epoch: int, model: nn.Module) -> None:
        if epoch in keep[name]:
            save_snapshot(store, exp_id, ids[name], epoch, model, configs[name].to_dict(), data.preprocessing)
    return save


def _save_initial_weights(store: RunStore, exp_id: str, spec: ExperimentSpec, ids: dict[str, str],
                          models: dict[str, ResNet], preprocessing: Preprocessing) -> None:
    """init.pt per run; lineage twins that start from identical tensors share one file (He et al. 2015's twins
    differ only in their shortcuts), so a comparison of many nets writes its initial weights once."""
    written: list[tuple[dict, str]] = []  # (state_dict, path relative to the store)
    for name, cfg in spec.models:
        state = models[name].state_dict()
        same = next((rel for other, rel in written if _identical(state, other)), None)
        path = store.save_weights(exp_id, ids[name], "init", models[name], cfg.to_dict(), preprocessing, reuse=same)
        if same is None:
            written.append((state, path.relative_to(store.root).as_posix()))


def _identical(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(a[k].shape == b[k].shape and torch.equal(a[k], b[k]) for k in a)


def run_job(store: RunStore, exp_id: str, callback: Callback | None = None,
            budget_s: float | None = None) -> Experiment | None:
    """Run a queued job of any kind, chosen by its kind: `train` (default) or `landscape`.

    budget_s: the job's wall-time budget (see run_experiment); None: the one the job manager recorded at submit.
    """
    exp = store.load_experiment(exp_id, with_runs=False, reconcile=False)
    if exp is not None and exp.kind == "landscape":
        from .landscape_job import run_landscape_job
        return run_landscape_job(store, exp_id, budget_s=budget_s)
    return run_experiment(store, exp_id, callback, budget_s=budget_s)


def work(experiment_dir: str | Path, database_url: str | None = None, artefacts_url: str | None = None) -> int:
    """What `python -m explorer worker DIR` does (the CLI and a warm worker's child): run the job in that folder.

    DIR's parent is this machine's runs folder; with an artefact URL (or EXPLORER_ARTIFACTS_URL) it is only
    scratch space, so the worker may run on a node that shares nothing but the database and that location.
    Returns the exit code: 1 when the job failed, else 0.
    """
    d = Path(experiment_dir)
    exp = run_job(RunStore(d.parent, database_url, artefacts_url, patience_s=worker_patience_s(),
                           check=False), d.name)
    return 1 if exp is None or exp.status == "failed" else 0
