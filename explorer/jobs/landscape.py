"""Inspect's landscape jobs, asked for and read: the settings (`landscape_spec`), the job request
(`landscape_request`) and the results a job has written (`read_landscapes`).

A landscape job (Li et al. 2018, "Visualizing the Loss Landscape of Neural Nets") takes finished runs of a
source experiment and, for each, computes the 1-D line from its initial to its trained weights and a 2-D
slice around its trained weights (explorer.analysis.landscape), on a fixed subset of the run's own training data.
It is queued and run like a training job; the worker runs it (explorer.jobs.landscape_job) and keeps its results
(on a stop, the points computed so far) as <job>/<run>/landscape.json, so the page shows a finished landscape
without computing it again. Nothing here needs torch: the pages ask for and read landscapes without it.

Size budget: ~150 lines.
"""
from __future__ import annotations

from collections.abc import Iterable

from ..data.config import DataConfig
from ..i18n import N_, _
from ..nets.config import ModelConfig
from ..store.runstore import RunStore, read_json
from .request import DEFAULT_SUBSET, JobRequest, LandscapeSettings, NamedModel

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
