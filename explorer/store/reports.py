"""What a finished (or running) experiment amounts to, built once for the CLI's JSON and the Runs page's table.

`experiment_report` is the fixed JSON contract of `python -m explorer train|sweep|compare --json` (docs/engine.md);
`history_rows` is the Runs page's table. Both read each run's facts through `run_facts`. `export_csv` is the
Runs page's download of epoch metrics; `final_weights_bytes` its download of a run's weights.
"""
from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

from ..i18n import _
from .records import FINAL_KEYS, Experiment, Run

if TYPE_CHECKING:
    from .runstore import RunStore

MAX_WEIGHTS_BYTES = 200 * 2**20  # a weights file larger than this is not offered for download (held in memory)


def run_facts(run: Run) -> dict:
    """A run's architecture and results: depth (None when its config is damaged), shortcut, placement, final."""
    final = run.final.to_dict() if run.final is not None else {}
    return {"depth": run.depth, "shortcut": run.shortcut, "placement": run.placement,
            "final": {k: final.get(k) for k in FINAL_KEYS}}


def experiment_report(exp: Experiment) -> dict:
    """The CLI's --json result: {"experiment", "status", "message", "runs": [{id, name, depth, ..., final}]}."""
    runs = []
    for run in exp.runs:
        facts = run_facts(run)
        runs.append({"id": f"{exp.id}/{run.id}", "name": run.name, "depth": facts["depth"],
                     "shortcut": facts["shortcut"], "placement": facts["placement"], "status": run.status,
                     "epochs": run.epochs, "images_per_second": run.images_per_second, "final": facts["final"]})
    return {"experiment": exp.id, "status": exp.status, "message": exp.message, "runs": runs}


def _percent(x: object) -> str:
    return f"{100 * x:.1f}%" if isinstance(x, (int, float)) and not isinstance(x, bool) else "–"


def _duration(exp: Experiment) -> str:
    return f"{exp.duration:,.0f} s" if exp.duration is not None else "–"


def history_rows(experiments: list, me: str | None = None) -> list:
    """The Runs page's table: one row per run, with its experiment's facts ("you" marks the viewer's own runs)."""
    rows = []
    for exp in experiments:
        for run in exp.runs:
            facts = run_facts(run)
            rows.append({
                "key": f"{exp.id}/{run.id}", "experiment": exp.id, "kind": exp.spec_kind, "run": run.name,
                "dataset": exp.dataset, "depth": facts["depth"], "shortcut": facts["shortcut"],
                "placement": facts["placement"], "status": run.status,
                "train error": _percent(facts["final"]["train_error"]),
                "test error": _percent(facts["final"]["test_error"]), "epochs": run.epochs,
                "duration": _duration(exp), "owner": "you" if me is not None and exp.owner == me else "someone else"})
    return rows


def export_csv(store: RunStore, exp_id: str) -> str:
    """Epoch metrics of every run of an experiment as CSV text (one row per run and epoch), built on demand."""
    exp = store.load_experiment(exp_id)
    if exp is None:
        raise FileNotFoundError(_("Experiment {id} does not exist (or its record is damaged).").format(id=exp_id))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["experiment", "run", "epoch", *FINAL_KEYS, "lr", "elapsed"],
                            extrasaction="ignore")
    writer.writeheader()
    for run in exp.runs:
        for rec in store.read_metrics(exp_id, run.id, kind="epoch"):
            writer.writerow({"experiment": exp_id, "run": run.name, **rec.to_dict()})
    return buf.getvalue()


def final_weights_bytes(store: RunStore, exp: Experiment, run_id: str) -> bytes | None:
    """A run's final weights for a download: only from a regular file inside the store and at most
    MAX_WEIGHTS_BYTES (None otherwise: missing, not a regular file, or too large)."""
    run = exp.run(run_id)
    path = store.artefact(run.final_weights if run else None)
    if path is None or path.stat().st_size > MAX_WEIGHTS_BYTES:
        return None
    return path.read_bytes()
