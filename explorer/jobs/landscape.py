"""Inspect's jobs: the loss landscape as a job of kind `landscape`, and the shipped digits twin in the run store.

A landscape job (Li et al. 2018, "Visualizing the Loss Landscape of Neural Nets") takes finished runs of a
source experiment and, for each, computes the 1-D line from its initial to its trained weights and a 2-D
slice around its trained weights (explorer.analysis.landscape), on a fixed subset of the run's own training data.
It is queued and run like a training job (explorer.jobs starts `python -m explorer worker DIR`), writes
progress.json as training does, checks for a stop between grid points (a stop request, or the wall-time budget the
job manager recorded at submit running out), and keeps its results (on a stop, the points computed so far) as
<job>/<run>/landscape.json, so the page shows a finished landscape without computing it again.

Size budget: ~300 lines.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ..analysis.landscape import DEFAULT_SUBSET, landscape_subset, line, surface
from ..data.config import DataConfig
from ..i18n import N_, _
from ..nets.config import ModelConfig
from ..nets.preprocessing import Preprocessing
from ..store.records import Experiment
from ..store.runstore import RunStore, atomic_write_json, read_json
from .failure import fail_job
from .handles import own_handle
from .request import JobRequest, LandscapeSettings, NamedModel
from .status import budget_message

if TYPE_CHECKING:
    from ..data.datasets import Dataset

log = logging.getLogger(__name__)


LANDSCAPE_KIND = "landscape"


RESULT_FILE = "landscape.json"


NO_INIT = N_("This run has no initial weights saved, so the line from its initial to its trained weights cannot be "
              "drawn.")  # stored in a result in English: the page shows it with _()


def landscape_spec(source_exp_id: str, run_ids: Iterable[str], steps: int = 21, span: float = 1.0,
                   subset: int = DEFAULT_SUBSET, seed: int = 0, line_points: int = 21,
                   plane: str = "random") -> LandscapeSettings:
    """The settings of a landscape job over some finished runs of one experiment (Li et al. 2018), checked.

    Args:
        source_exp_id: the experiment whose runs to look at. run_ids: their run ids (at least one).
        steps: grid points per axis of the 2-D slice. span: the slice covers [-span, span] on each axis.
        subset: training images the loss is measured on. seed: picks the subset and the directions.
        line_points: grid points of the 1-D line from the initial (0) to the trained (1) weights.
        plane: "random" (two filter-normalised random directions, with the line) or "pca" (the plane of the
            optimiser's path, Li et al. 2018 §7: its weight snapshots' two principal directions, no line).
    Returns:
        LandscapeSettings (its to_json() is what the store keeps, as before).
    Raises:
        ValueError: one sentence, for a setting the landscape cannot use.
    """
    run_ids = [str(r) for r in run_ids]
    checks = [(bool(run_ids) and len(set(run_ids)) == len(run_ids), N_("Pick at least one run, each only once.")),
              (_whole(steps) and 2 <= steps <= 101, N_("The slice needs from 2 to 101 steps per axis.")),
              (_whole(line_points) and 2 <= line_points <= 201, N_("The line needs from 2 to 201 points.")),
              (_whole(subset) and subset >= 1, N_("The landscape needs a subset of at least 1 image.")),
              (_whole(seed), N_("The seed must be a whole number.")),
              (isinstance(span, (int, float)) and not isinstance(span, bool) and 0 < span <= 100,
               N_("The span must be above 0 (and at most 100).")),
              (plane in ("random", "pca"), N_("The plane must be random or pca (the optimiser's path)."))]
    for ok, sentence in checks:
        if not ok:
            raise ValueError(_(sentence))
    return LandscapeSettings(str(source_exp_id), tuple(run_ids), int(steps), float(span), int(subset), int(seed),
                             int(line_points), plane)


# A landscape job's progress, by part of the work (written by the worker, in its language).
PARTS = {"line": N_("{run}: line: step {step} of {total}"), "slice": N_("{run}: slice: step {step} of {total}"),
         "path plane": N_("{run}: path plane: step {step} of {total}")}


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def landscape_request(store: RunStore, spec: LandscapeSettings, owner: str = "") -> JobRequest:
    """The job request for a landscape spec: the source's data and the source runs' configs added.

    Args:
        store: the run store holding the source experiment. spec: from `landscape_spec`. owner: who asks.
    Returns:
        A JobRequest of kind "landscape" (one model per source run). Identical requests hash the same, so the job
        manager attaches to a queued, running or finished one.
    Raises:
        ValueError: one sentence, when the source or one of its runs is missing or has no trained weights.
    """
    source = store.load_experiment(spec.source)
    damaged = _("Experiment {id} is missing or damaged, so it has no landscape to compute.").format(id=spec.source)
    if source is None:
        raise ValueError(damaged)
    runs = {r.id: r for r in source.runs}
    try:
        data = DataConfig.from_dict(source.spec["data"])
        configs = {rid: ModelConfig.from_dict(runs[rid].model) for rid in spec.runs if rid in runs}
    except (KeyError, TypeError, ValueError):
        raise ValueError(damaged) from None
    for rid in spec.runs:
        if rid not in runs or not store.has_weights(spec.source, rid, "final"):
            raise ValueError(_("Run {run} of experiment {id} has no trained weights to look at.").format(
                run=rid, id=spec.source))
    models = tuple(NamedModel(runs[rid].name, configs[rid]) for rid in spec.runs)
    return JobRequest(LANDSCAPE_KIND, models, data, owner, landscape=spec)


def read_landscapes(store: RunStore, job_id: str) -> dict:
    """The results a landscape job has written so far, by run name.

    Returns:
        {run name: {"line": {"alpha", "loss", "stopped"} or None, "line_note": sentence or None,
        "surface": {"alpha", "beta", "loss", ...} or None}}; runs without results are left out.
    """
    exp = store.load_experiment(job_id)
    if exp is None:
        return {}
    out = {}
    for run in exp.runs:
        path = store.artefact(f"{job_id}/{run.id}/{RESULT_FILE}")  # downloaded from a remote artefact location
        result = read_json(path) if path is not None else None
        if result is not None:
            out[run.name] = result
    return out


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
