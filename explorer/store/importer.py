"""`python -m explorer import-store OLD_DIR [--runs-dir NEW_DIR]`: a file run store (one folder per experiment
with experiment.json, run.json, metrics.jsonl, progress.json and weights) into the database.

Idempotent: an experiment already in the database is left alone, so the command can run again after new
folders appear or after it was cut short (an experiment's rows are written last, in one transaction).
Weights and landscape results are copied beside the database (or referenced in place when OLD_DIR is the
runs folder itself); links and files that are not regular, or larger than the caps, are never read.
Size budget: ~150 lines.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from .runstore import RunStore, read_json, run_slug

MAX_METRICS_BYTES = 256 * 2**20  # a larger metrics.jsonl is imported up to this many bytes
ARTEFACTS = ("init.pt", "final.pt", "landscape.json")
BATCH = 5000


@dataclass(frozen=True)
class ImportResult:
    imported: int
    already: int
    damaged: tuple  # folder names that were skipped

    def sentence(self) -> str:
        damaged = f"; {len(self.damaged)} damaged folders skipped ({', '.join(self.damaged[:5])})" \
            if self.damaged else ""
        return f"Imported {self.imported} experiments ({self.already} were already in the database){damaged}."


def legacy_folders(old_dir: Path) -> list:
    """Experiment folders of a file store (real folders with an experiment.json), oldest first."""
    old_dir = Path(old_dir)
    if not old_dir.is_dir():
        return []
    return sorted(d for d in old_dir.iterdir() if not d.name.startswith(".") and not d.is_symlink()
                  and d.is_dir() and (d / "experiment.json").is_file())


def pending_import(store: RunStore) -> int:
    """How many file-store experiments in the runs folder are not in the database yet."""
    return sum(not store.has_experiment(d.name) and (read_json(d / "experiment.json") or {}).get("id") == d.name
               for d in legacy_folders(store.root))


def import_store(old_dir: Path, store: RunStore) -> ImportResult:
    """Import every experiment folder of `old_dir` that the database does not hold yet."""
    old_dir = Path(old_dir)
    if not old_dir.is_dir():
        raise ValueError(f"{old_dir} is not a folder.")
    imported, already, damaged = 0, 0, []
    for folder in legacy_folders(old_dir):
        if store.has_experiment(folder.name):
            already += 1
            continue
        try:
            _import_one(folder, store)
            imported += 1
        except (ValueError, KeyError, TypeError, AttributeError):
            damaged.append(folder.name)
            store.delete_metrics_after(folder.name, -2**31)
    return ImportResult(imported, already, tuple(damaged))


def _import_one(folder: Path, store: RunStore) -> None:
    exp = read_json(folder / "experiment.json")
    if exp is None or exp.get("id") != folder.name or not isinstance(exp.get("spec"), dict) \
            or not isinstance(exp.get("runs"), list):
        raise ValueError(f"{folder.name} is damaged.")
    exp_id = store.exp_dir(folder.name).name  # checks the name
    store.delete_metrics_after(exp_id, -2**31)  # a cut-short earlier import left metrics behind
    runs = []
    for row in exp["runs"]:
        rid = run_slug(row["id"])
        run = read_json(folder / rid / "run.json") or dict(row, status="failed")
        run = dict(run, id=rid, name=str(run.get("name") or row.get("name") or rid))
        run.update(_copy_artefacts(folder / rid, store, exp_id, rid))
        _import_metrics(folder / rid / "metrics.jsonl", store, exp_id, rid)
        runs.append(run)
    raw = exp.get("status")  # a running job's worker is gone; a record without a status never finished either
    status = raw if isinstance(raw, str) and raw != "running" else "interrupted"
    extra = {k: exp.get(k) for k in ("started", "finished", "message") if isinstance(exp.get(k), (int, float, str))}
    progress = read_json(folder / "progress.json")
    if progress is not None:
        extra["progress"] = json.dumps(progress)
    stamp = exp.get("created")
    created = float(stamp) if isinstance(stamp, int | float) else os.stat(folder).st_mtime
    store.insert_experiment(exp_id, exp["spec"], runs, owner=exp.get("owner"), spec_hash=exp.get("spec_hash"),
                            kind=exp.get("kind") or "train", created=created, status=status, **extra)


def _copy_artefacts(src: Path, store: RunStore, exp_id: str, run_id: str) -> dict:
    """Copy a run's weights (regular files only) beside the database; returns the run's weight-path fields."""
    dest = store.run_dir(exp_id, run_id)
    fields = {}
    for name in ARTEFACTS:
        path = src / name
        if path.is_symlink() or not path.is_file():
            continue
        target = dest / name
        if path.resolve() != target.resolve():
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        relative = store.publish(target)  # uploaded when the artefacts live at a remote location
        if name.endswith(".pt"):
            fields[f"{name[:-3]}_weights"] = relative
    return fields


def _import_metrics(path: Path, store: RunStore, exp_id: str, run_id: str) -> None:
    """metrics.jsonl into the database, in batches; a damaged line is skipped, a huge file read only so far."""
    if path.is_symlink() or not path.is_file():
        return
    batch, read = [], 0
    with open(path, "rb") as f:
        for line in f:
            read += len(line)
            if read > MAX_METRICS_BYTES:
                break
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict) and rec.get("type") in ("step", "epoch"):
                batch.append(rec)
            if len(batch) >= BATCH:
                store.append_metrics(exp_id, run_id, batch)
                batch = []
    store.append_metrics(exp_id, run_id, batch)
