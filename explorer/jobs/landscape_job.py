"""A landscape job run to its end in the worker (explorer.jobs.worker): the loss line and slice of each source run.

What a landscape job is, and how it is asked for and read: explorer.jobs.landscape. This side needs torch. It
writes progress.json as training does, checks for a stop between grid points (a stop request, or the wall-time
budget the job manager recorded at submit running out), and keeps each run's results as soon as they are done.

Size budget: ~200 lines.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ..analysis.landscape import landscape_subset, line, surface
from ..data.config import DataConfig
from ..i18n import N_, _
from ..nets.preprocessing import Preprocessing
from ..store.records import Experiment
from ..store.runstore import RunStore, atomic_write_json
from .failure import fail_job
from .handles import own_handle
from .landscape import NO_INIT, RESULT_FILE
from .request import JobRequest, LandscapeSettings
from .status import budget_message

if TYPE_CHECKING:
    from ..data.datasets import Dataset

PARTS = {"line": N_("{run}: line: step {step} of {total}"), "slice": N_("{run}: slice: step {step} of {total}"),
         "path plane": N_("{run}: path plane: step {step} of {total}")}


class _Progress:
    """progress.json with the keys a training job writes: step, total_steps, eta, message."""

    def __init__(self, store: RunStore, job_id: str, total: int) -> None:
        self.store, self.job_id, self.total = store, job_id, max(1, total)
        self.done, self.started = 0, time.time()

    def part(self, units: int, name: str, what: str) -> Callable[[float], None]:
        """A callback for one part of the work (`units` steps of the total: run `name`'s "line", "slice" or "path
        plane"), fed the fraction of it done."""
        base = self.done
        self.done += units

        def report(fraction: float) -> None:
            step = base + round(fraction * units)
            elapsed = time.time() - self.started
            eta = elapsed / step * (self.total - step) if step else None
            self.store.write_progress(self.job_id, {"step": step, "total_steps": self.total, "eta": eta,
                                                    "message": _(PARTS[what]).format(run=name, step=step,
                                                                                     total=self.total)})
        report(0.0)
        return report


def _source_models(store: RunStore, source: str, run_id: str) -> tuple:
    """(final Explainable, init model or None) of one source run."""
    from ..store.checkpoints import load_run_model
    final = load_run_model(store, source, run_id, "final")
    has_init = store.has_weights(source, run_id, "init")
    init = load_run_model(store, source, run_id, "init").model if has_init else None
    return final, init


def _training_subset(data: Dataset, preprocessing: Preprocessing,
                     spec: LandscapeSettings) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed training subset, taken from the raw images first, then normalised as the run was trained."""
    from ..data.datasets import normalize
    x, y = landscape_subset(data.x_train, data.y_train, n=spec.subset, seed=spec.seed)
    return normalize(x, preprocessing), y


def _one_run(store: RunStore, spec: LandscapeSettings, source_run: str, data: Dataset, tracker: _Progress, name: str,
             stop: Callable[[], bool]) -> dict[str, Any]:
    """Line and slice of one source run; each is skipped (None) once `stop()` (checked before every grid point)."""
    final, init = _source_models(store, spec.source, source_run)
    x, y = _training_subset(data, final.preprocessing, spec)
    if spec.plane == "pca":
        return _path_run(store, spec, source_run, final.model, x, y, tracker.part(spec.steps ** 2, name,
                                                                                   "path plane"), stop)
    result: dict[str, Any] = {"line": None, "line_note": None if init is not None else NO_INIT, "surface": None,
                              "subset": int(x.shape[0]), "source_run": source_run}
    if init is not None:
        result["line"] = line(init, final.model, x, y, points=spec.line_points,
                              progress=tracker.part(spec.line_points, name, "line"), should_stop=stop)
    if not (result["line"] or {}).get("stopped"):
        result["surface"] = surface(final.model, x, y, steps=spec.steps, span=spec.span, seed=spec.seed,
                                    progress=tracker.part(spec.steps ** 2, name, "slice"), should_stop=stop)
    return result


def _path_run(store: RunStore, spec: LandscapeSettings, source_run: str, model: nn.Module, x: torch.Tensor,
              y: torch.Tensor, progress: Callable[[float], None], stop: Callable[[], bool]) -> dict[str, Any]:
    """The loss on the plane of one run's optimiser path, with the path drawn on it (Li et al. 2018, §7)."""
    from ..analysis.trajectory import path_surface
    from ..store.snapshots import path_states
    epochs, states = path_states(store, spec.source, source_run)
    surface_ = path_surface(model, states, x, y, steps=spec.steps, progress=progress, should_stop=stop)
    surface_["path"]["epoch"] = epochs + ["final"]
    return {"line": None, "line_note": None, "surface": surface_, "subset": int(x.shape[0]),
            "source_run": source_run}


def _stopped(result: dict) -> bool:
    return any((result.get(part) or {}).get("stopped") for part in ("line", "surface")) or result["surface"] is None


def run_landscape_job(store: RunStore, job_id: str, budget_s: float | None = None) -> Experiment | None:
    """Compute a queued landscape job to its end (or to a stop); returns the experiment as stored.

    Writes <job>/<run>/landscape.json per run as soon as it is done, and progress.json as it goes. Never raises
    for a failure: the job ends `failed` with one sentence in its message (the traceback goes to worker.log).
    Args:
        budget_s: wall-time budget in seconds from now (None: the request's, recorded by the job manager at
            submit, or none); when it runs out the job stops at its next grid point like a stop request, the points
            computed so far kept, and says so in the training job's words (status.budget_message).
    """
    exp = store.load_experiment(job_id, with_runs=False)
    if exp is None:
        raise FileNotFoundError(f"Landscape job {job_id} does not exist (or its files are damaged).")
    store.update_experiment(job_id, status="running", worker=own_handle(), started=time.time())
    out_of_time: Callable[[], bool] = lambda: False  # noqa: E731 - until the request's budget is read
    try:
        job = store.load_experiment(job_id, reconcile=False)
        rows = [{"name": r.name, "model": r.model} for r in job.runs] if job else []
        request = JobRequest.from_json(exp.spec, exp.owner, rows)
        if request.landscape is None:
            raise ValueError("This job is not a landscape job.")
        budget_s = request.budget_s if budget_s is None else budget_s  # else the manager's, recorded at submit
        deadline = None if budget_s is None else time.monotonic() + budget_s
        out_of_time = lambda: deadline is not None and time.monotonic() > deadline  # noqa: E731
        pairs = list(zip([r.id for r in job.runs] if job else [], request.landscape.runs, strict=False))
        stopped = _compute(store, job_id, request.landscape, request.data, pairs,
                           lambda: out_of_time() or store.stop_requested(job_id))  # checked before every grid point
        return store.update_experiment(job_id, status="stopped" if stopped else "completed", finished=time.time(),
                                       message=_end_message(store, job_id, stopped, out_of_time(), budget_s))
    except Exception as exc:  # noqa: BLE001 - a worker must always leave a readable status behind
        return _fail(store, job_id, exc)


def _compute(store: RunStore, job_id: str, spec: LandscapeSettings, data_config: DataConfig,
             pairs: list[tuple[str, str]], stop: Callable[[], bool]) -> bool:
    """Each (job run, source run)'s results, written as soon as they are done; True when a stop cut it short."""
    from ..store.uploaded import load_store_dataset
    with_line = [store.has_weights(spec.source, src, "init") for _run, src in pairs]
    lines = spec.plane != "pca"  # the path's plane comes without the 1-D line
    total = sum(spec.steps ** 2 + (spec.line_points if has and lines else 0) for has in with_line)
    store.write_progress(job_id, {"step": 0, "total_steps": total, "eta": None, "message": N_("Loading the data…")})
    data = load_store_dataset(store, data_config)
    tracker, stopped = _Progress(store, job_id, total), False
    for job_run, source_run in pairs:
        if stopped:
            store.update_run(job_id, job_run, status="stopped")
            continue
        store.update_run(job_id, job_run, status="running")
        result = _one_run(store, spec, source_run, data, tracker, job_run, stop)
        store.run_dir(job_id, job_run).mkdir(parents=True, exist_ok=True)
        atomic_write_json(store.run_dir(job_id, job_run) / RESULT_FILE, result)
        store.publish(store.run_dir(job_id, job_run) / RESULT_FILE)
        stopped = _stopped(result)
        store.update_run(job_id, job_run, status="stopped" if stopped else "completed")
    return stopped


def _end_message(store: RunStore, job_id: str, stopped: bool, out_of_time: bool, budget_s: float | None) -> str | None:
    """Why a landscape job stopped: a stop request (it wins when both happened, as for training), or its budget."""
    if not stopped:
        return None
    if out_of_time and not store.stop_requested(job_id):
        return budget_message(budget_s)
    return N_("Stopped on request; the points computed before the stop are kept.")  # stored in English


def _fail(store: RunStore, job_id: str, exc: Exception) -> Experiment | None:
    return fail_job(store, job_id, exc, "landscape")
