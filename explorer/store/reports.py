"""What a finished (or running) experiment amounts to, built once for the CLI's JSON and the Runs page's table.

`experiment_report` is the fixed JSON contract of `python -m explorer train|sweep|compare --json` (docs/engine.md);
`history_rows` is the Runs page's table. Both read each run's facts through `run_facts`.
"""
from __future__ import annotations

import time
from typing import Optional

from ..nets.config import ModelConfig
from .runstore import FINAL_KEYS


def run_facts(run: dict) -> dict:
    """A run's architecture and results: depth (None when its config is damaged), shortcut, placement, final."""
    model = run.get("model") if isinstance(run.get("model"), dict) else {}
    try:
        depth = ModelConfig.from_dict(model).num_layers
    except (ValueError, TypeError):
        depth = None
    final = run.get("final") if isinstance(run.get("final"), dict) else {}
    return {"depth": depth, "shortcut": model.get("shortcut"), "placement": model.get("placement"),
            "final": {k: final.get(k) for k in FINAL_KEYS}}


def experiment_report(exp: dict) -> dict:
    """The CLI's --json result: {"experiment", "status", "message", "runs": [{id, name, depth, ..., final}]}."""
    runs = []
    for run in exp.get("runs", []):
        facts = run_facts(run)
        runs.append({"id": f"{exp['id']}/{run['id']}", "name": run["name"], "depth": facts["depth"],
                     "shortcut": facts["shortcut"], "placement": facts["placement"], "status": run["status"],
                     "epochs": run.get("epochs", 0), "images_per_second": run.get("images_per_second"),
                     "final": facts["final"]})
    return {"experiment": exp["id"], "status": exp["status"], "message": exp.get("message"), "runs": runs}


def _percent(x) -> str:
    return f"{100 * x:.1f}%" if isinstance(x, (int, float)) and not isinstance(x, bool) else "–"


def _duration(exp: dict, now: Optional[float] = None) -> str:
    start, end = exp.get("started"), exp.get("finished")
    if not isinstance(start, (int, float)):
        return "–"
    return f"{(end if isinstance(end, (int, float)) else (now or time.time())) - start:,.0f} s"


def history_rows(experiments: list, me: Optional[str] = None) -> list:
    """The Runs page's table: one row per run, with its experiment's facts ("you" marks the viewer's own runs)."""
    rows = []
    for exp in experiments:
        spec = exp.get("spec") if isinstance(exp.get("spec"), dict) else {}
        data = spec.get("data") if isinstance(spec.get("data"), dict) else {}
        for run in exp.get("runs", []):
            facts = run_facts(run)
            rows.append({
                "key": f"{exp['id']}/{run['id']}", "experiment": exp["id"], "kind": spec.get("kind", "?"),
                "run": run.get("name", run["id"]), "dataset": data.get("name", "?"), "depth": facts["depth"],
                "shortcut": facts["shortcut"], "placement": facts["placement"], "status": run.get("status"),
                "train error": _percent(facts["final"]["train_error"]),
                "test error": _percent(facts["final"]["test_error"]), "epochs": run.get("epochs", 0),
                "duration": _duration(exp), "owner": "you" if me is not None and exp.get("owner") == me
                else "someone else"})
    return rows
