"""The run store on disk: experiments, their runs, metrics and weights. The single source of truth.

Layout (docs/engine.md has the full schema):

    <root>/<experiment id>/experiment.json     spec, owner, status, timestamps, worker pid
    <root>/<experiment id>/progress.json       step, total steps, ETA, images/s (rewritten while training)
    <root>/<experiment id>/stop                present when a stop was requested
    <root>/<experiment id>/<run id>/run.json   model config, status, completed epochs, final metrics
    <root>/<experiment id>/<run id>/metrics.jsonl   one JSON object a line: "step" and "epoch" records
    <root>/<experiment id>/<run id>/init.pt, final.pt   weights + model config + preprocessing

JSON files are written atomically (temp file + rename); weights are read only with weights_only=True.
Size budget: ~300 lines.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import os
import secrets
import shutil
import time
from pathlib import Path
from typing import Optional

import torch

log = logging.getLogger(__name__)

STATUSES = ("queued", "running", "completed", "stopped", "diverged", "failed", "interrupted")
ACTIVE = ("queued", "running")
FINAL_KEYS = ("train_loss", "train_error", "test_loss", "test_error")


def default_runs_dir() -> Path:
    """EXPLORER_RUNS_DIR, else ./runs."""
    return Path(os.environ.get("EXPLORER_RUNS_DIR") or "runs")


def atomic_write_json(path: Path, obj) -> None:
    """Write JSON to a temp file in the same folder, then rename over the target (readers never see half a file)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(3)}.tmp")
    try:
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # the target keeps its old content; leave no temp file behind
        raise


def read_json(path: Path) -> Optional[dict]:
    """The JSON object in a file, or None when missing or unreadable."""
    try:
        with open(path) as f:
            obj = json.load(f)
        return obj if isinstance(obj, dict) else None
    except (OSError, ValueError):
        return None


def pid_alive(pid) -> bool:
    """True if a process with this pid runs (a zombie counts as dead)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def run_slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:80] or "run"


class RunStore:
    """Experiments under one root folder. Workers write; pages, the CLI and the job manager read."""

    def __init__(self, root=None) -> None:
        self.root = Path(root) if root is not None else default_runs_dir()
        self.root.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ paths
    def exp_dir(self, exp_id: str) -> Path:
        if not exp_id or "/" in exp_id or exp_id.startswith("."):
            raise ValueError(f"Not an experiment id: {exp_id!r}.")
        return self.root / exp_id

    def run_dir(self, exp_id: str, run_id: str) -> Path:
        return self.exp_dir(exp_id) / run_slug(run_id)

    # ------------------------------------------------------------------ create and update
    def create_experiment(self, spec: dict, runs: list, owner: Optional[str] = None,
                          spec_hash: Optional[str] = None, kind: str = "train") -> str:
        """A new experiment folder, status queued, with one folder per run.

        Args:
            spec: the experiment's JSON spec (ExperimentSpec.to_dict()).
            runs: [{"name": ..., "model": ModelConfig dict}, ...]; names must be unique.
        Returns: the new experiment id.
        """
        names = [r["name"] for r in runs]
        if len(set(names)) != len(names):
            raise ValueError(f"Run names must be unique within an experiment; got {names}.")
        exp_id = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)
        d = self.exp_dir(exp_id)
        d.mkdir(parents=True)
        run_rows = []
        for r in runs:
            rid = run_slug(r["name"])
            (d / rid).mkdir()
            atomic_write_json(d / rid / "run.json", {"id": rid, "name": r["name"], "model": r["model"],
                                                     "status": "queued", "epochs": 0, "final": None})
            run_rows.append({"id": rid, "name": r["name"]})
        atomic_write_json(d / "experiment.json", {
            "id": exp_id, "kind": kind, "spec": spec, "spec_hash": spec_hash, "owner": owner,
            "created": time.time(), "started": None, "finished": None, "status": "queued",
            "message": None, "pid": None, "runs": run_rows})
        return exp_id

    def update_experiment(self, exp_id: str, **fields) -> dict:
        path = self.exp_dir(exp_id) / "experiment.json"
        exp = read_json(path)
        if exp is None:
            raise FileNotFoundError(f"Experiment {exp_id} does not exist (or its files are damaged).")
        exp.update(fields)
        atomic_write_json(path, exp)
        return exp

    def update_run(self, exp_id: str, run_id: str, **fields) -> dict:
        path = self.run_dir(exp_id, run_id) / "run.json"
        run = read_json(path) or {"id": run_id}
        run.update(fields)
        atomic_write_json(path, run)
        return run

    def write_progress(self, exp_id: str, progress: dict) -> None:
        atomic_write_json(self.exp_dir(exp_id) / "progress.json", progress)

    def append_metrics(self, exp_id: str, run_id: str, records: list) -> None:
        """Append metric records (dicts) as JSON lines; one write call, so readers see whole lines."""
        if not records:
            return
        text = "".join(json.dumps(r) + "\n" for r in records)  # key order kept: layers stay in forward order
        with open(self.run_dir(exp_id, run_id) / "metrics.jsonl", "a") as f:
            f.write(text)

    # ------------------------------------------------------------------ stop requests
    def request_stop(self, exp_id: str) -> None:
        (self.exp_dir(exp_id) / "stop").write_text(str(time.time()))

    def stop_requested(self, exp_id: str) -> bool:
        return (self.exp_dir(exp_id) / "stop").exists()

    # ------------------------------------------------------------------ read
    def read_metrics(self, exp_id: str, run_id: str, kind: Optional[str] = None) -> list:
        """Metric records of one run, in order; a half-written last line is ignored."""
        path = self.run_dir(exp_id, run_id) / "metrics.jsonl"
        records = []
        try:
            with open(path) as f:
                for line in f:
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(rec, dict) and (kind is None or rec.get("type") == kind):
                        records.append(rec)
        except OSError:
            pass
        return records

    def load_experiment(self, exp_id: str, with_runs: bool = True) -> Optional[dict]:
        """experiment.json (+ each run's run.json under "runs" and progress under "progress"), or None if damaged.

        An experiment that claims to be running but whose worker process is gone is marked interrupted here.
        """
        d = self.exp_dir(exp_id)
        exp = read_json(d / "experiment.json")
        if exp is None or "id" not in exp or not isinstance(exp.get("runs"), list) or \
                not all(isinstance(r, dict) and isinstance(r.get("id"), str) for r in exp["runs"]):
            return None
        # Only a local worker's pid says anything here; a cluster job's liveness is its backend's to tell.
        if exp.get("status") == "running" and exp.get("backend", "local") == "local" and not pid_alive(exp.get("pid")):
            exp = self.mark_interrupted(exp_id, "The worker process ended unexpectedly.")
        if with_runs:
            exp["runs"] = [read_json(d / run_slug(r.get("id", "")) / "run.json") or dict(r, status="failed")
                           for r in exp["runs"]]
            exp["progress"] = read_json(d / "progress.json")
        return exp

    def mark_interrupted(self, exp_id: str, message: str) -> dict:
        exp = self.update_experiment(exp_id, status="interrupted", message=message,
                                     finished=time.time())
        for r in exp["runs"]:
            run = read_json(self.run_dir(exp_id, r["id"]) / "run.json") or {}
            if run.get("status") in ACTIVE:
                self.update_run(exp_id, r["id"], status="interrupted")
        return exp

    def list_experiments(self, with_runs: bool = True) -> list:
        """All readable experiments, newest first; damaged folders are skipped with a warning.

        with_runs=False reads only each experiment.json (what the job manager's loop needs, twice a second).
        """
        out = []
        for d in sorted(self.root.iterdir(), reverse=True) if self.root.exists() else []:
            if not d.is_dir() or d.name.startswith("."):
                continue
            exp = self.load_experiment(d.name, with_runs=with_runs)
            if exp is None:
                log.warning("Skipping %s: its experiment.json is missing or damaged.", d)
                continue
            out.append(exp)
        return out

    def find_by_hash(self, spec_hash: str, statuses=("queued", "running", "completed")) -> Optional[dict]:
        """The newest experiment with this spec hash in one of these statuses, or None."""
        for exp in self.list_experiments(with_runs=False):
            if exp.get("spec_hash") == spec_hash and exp.get("status") in statuses:
                return exp
        return None

    def delete_experiment(self, exp_id: str) -> None:
        shutil.rmtree(self.exp_dir(exp_id), ignore_errors=True)

    # ------------------------------------------------------------------ weights
    def save_weights(self, exp_id: str, run_id: str, which: str, model: torch.nn.Module,
                     model_cfg: dict, preprocessing: dict) -> Path:
        """Save state_dict + model config + preprocessing as `which`.pt (atomic)."""
        path = self.run_dir(exp_id, run_id) / f"{which}.pt"
        state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        tmp = path.with_name(f".{path.name}.tmp")
        torch.save({"format": "resnet-explorer/1", "state_dict": state, "model": model_cfg,
                    "preprocessing": preprocessing}, tmp)
        os.replace(tmp, path)
        return path

    def weights_path(self, exp_id: str, run_id: str, which: str = "final") -> Path:
        return self.run_dir(exp_id, run_id) / f"{which}.pt"

    # ------------------------------------------------------------------ export
    def export_csv(self, exp_id: str) -> str:
        """Epoch metrics of every run of an experiment as CSV text (one row per run and epoch)."""
        exp = self.load_experiment(exp_id)
        if exp is None:
            raise FileNotFoundError(f"Experiment {exp_id} does not exist (or its files are damaged).")
        buf = io.StringIO()
        cols = ["experiment", "run", "epoch", *FINAL_KEYS, "lr", "elapsed"]
        writer = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore")
        writer.writeheader()
        for run in exp["runs"]:
            for rec in self.read_metrics(exp_id, run["id"], kind="epoch"):
                writer.writerow({"experiment": exp_id, "run": run["name"], **rec})
        return buf.getvalue()


def load_checkpoint(source) -> dict:
    """Read a checkpoint (path, bytes or file object) with weights_only=True and check its format.

    Returns {"state_dict", "model", "preprocessing"}; anything else raises ValueError with one sentence.
    """
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    try:
        ckpt = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for foreign files
        raise ValueError("This file is not a ResNet Explorer checkpoint (it could not be read safely).") from exc
    if not (isinstance(ckpt, dict) and isinstance(ckpt.get("state_dict"), dict) and isinstance(ckpt.get("model"), dict)
            and isinstance(ckpt.get("preprocessing"), dict)):
        raise ValueError("This file is not a ResNet Explorer checkpoint (weights, model config and preprocessing "
                         "are expected).")
    return ckpt
