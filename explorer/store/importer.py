"""`python -m explorer import-store OLD_DIR [--runs-dir NEW_DIR]`: a file run store (one folder per experiment
with experiment.json, run.json, metrics.jsonl, progress.json and weights) into the database.

Idempotent: an experiment already in the database is left alone, so the command can run again after new
folders appear or after it was cut short (an experiment's rows are written last, in one transaction).
Weights and landscape results are copied beside the database (or referenced in place when OLD_DIR is the
runs folder itself). An old folder is untrusted input (issue 19, finding 6): each experiment folder is
imported or skipped on its own, with one sentence; every file is opened without following links and its size
checked before it is read; JSON is bounded in bytes and depth, metrics lines in length, and every number is
checked by the configs' own validation (ModelConfig, DataConfig, TrainConfig) or its record's range.
Size budget: ~300 lines (bounded reading of the files: explorer.store.untrusted).
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from .artefacts import MAX_ARTEFACT_BYTES
from .records import FINAL_KEYS, MAX_EPOCHS, METRIC_FIELDS, STATUSES, run_slug
from .runstore import RunStore
from .untrusted import Skipped, bounded_lines, open_regular, parse_json, read_json_object

MAX_METRICS_BYTES = 256 * 2**20  # a larger metrics.jsonl is imported up to this many bytes
ARTEFACTS = ("init.pt", "final.pt", "landscape.json")
BATCH = 5000
_MAX_TEXT = 2000  # characters of a name, a message or an owner id kept from an old record
_MAX_NUMBER = 1e300  # a number past this (10**30 is fine, 10**400 is not a float) is not a measurement


@dataclass(frozen=True)
class ImportResult:
    imported: int
    already: int
    damaged: tuple  # folder names that were skipped
    notes: tuple = ()  # one sentence per folder imported or skipped (and per run or file skipped), in order

    def sentence(self) -> str:
        """The summary line: how many were imported, already there, skipped."""
        damaged = f"; {len(self.damaged)} damaged folders skipped ({', '.join(map(repr, self.damaged[:5]))})" \
            if self.damaged else ""
        return f"Imported {self.imported} experiments ({self.already} were already in the database){damaged}."

    def report(self) -> str:
        """One line per folder (and per run or file skipped), then the summary line."""
        return "".join(note + "\n" for note in self.notes) + self.sentence()


def legacy_folders(old_dir: Path) -> list:
    """Folders of a file store that claim to be experiments (an experiment.json inside), oldest first; links to
    folders are listed too, so that the import says it skips them (nothing behind a link is read)."""
    old_dir = Path(old_dir)
    if not old_dir.is_dir():
        return []
    return sorted(d for d in old_dir.iterdir() if not d.name.startswith(".") and d.is_dir()
                  and (d.is_symlink() or os.path.lexists(d / "experiment.json")))


def pending_import(store: RunStore) -> int:
    """How many file-store experiments in the runs folder are not in the database yet."""
    count = 0
    for d in legacy_folders(store.root):
        if d.is_symlink() or store.has_experiment(d.name):
            continue
        with contextlib.suppress(Skipped):
            count += read_json_object(d / "experiment.json").get("id") == d.name
    return count


def import_store(old_dir: Path, store: RunStore) -> ImportResult:
    """Import every experiment folder of `old_dir` that the database does not hold yet, each on its own."""
    old_dir = Path(old_dir)
    if not old_dir.is_dir():
        raise ValueError(f"{old_dir} is not a folder.")
    imported, already = 0, 0
    damaged: list[str] = []
    notes: list[str] = []
    for folder in legacy_folders(old_dir):
        if not folder.is_symlink() and store.has_experiment(folder.name):
            already += 1
            continue
        try:
            runs = _import_one(folder, store, notes)
            imported += 1
            notes.append(f"{folder.name!r} imported ({runs} runs).")
        except Skipped as exc:
            damaged.append(folder.name)
            notes.append(f"{folder.name!r} skipped: {exc}")
            if not folder.is_symlink():
                _forget(store, folder.name)
    return ImportResult(imported, already, tuple(damaged), tuple(notes))


def _forget(store: RunStore, name: str) -> None:
    """Drop the metrics a refused folder left behind (never an experiment row: none was written)."""
    with contextlib.suppress(ValueError):
        store.delete_metrics_after(store.exp_dir(name).name, -2**31)


# ----------------------------------------------------------------------------- one experiment
def _import_one(folder: Path, store: RunStore, notes: list) -> int:
    """One experiment folder into the database (its rows last, in one transaction); how many runs it has."""
    if folder.is_symlink():
        raise Skipped("it is a link, and links are never followed.")
    exp = read_json_object(folder / "experiment.json")
    if exp.get("id") != folder.name:
        raise Skipped("its experiment.json names another experiment.")
    try:
        exp_id = store.exp_dir(folder.name).name  # checks the name
    except ValueError as exc:
        raise Skipped(str(exc)) from None
    kind = exp.get("kind") or "train"
    if kind not in ("train", "landscape"):
        raise Skipped(f"its kind must be train or landscape; got {str(kind)[:40]!r}.")
    spec = _checked_spec(exp.get("spec"), kind)
    rows = exp.get("runs")
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise Skipped("its runs are not a list of records.")
    runs = [_run(folder, row, notes) for row in rows]
    if len({r["id"] for r in runs}) != len(runs):
        raise Skipped("two of its runs have the same id.")
    store.delete_metrics_after(exp_id, -2**31)  # a cut-short earlier import left metrics behind
    for run in runs:
        run.update(_import_files(folder, run["id"], store, exp_id, notes))
    _insert(store, exp_id, exp, spec, runs, kind, _progress(folder, notes), folder)
    return len(runs)


def _checked_spec(spec: object, kind: str) -> dict:
    """A spec as the library validates it (every number within its field's range), as the app writes it."""
    if not isinstance(spec, dict):
        raise Skipped("its spec is not a JSON object.")
    from ..data.config import DataConfig
    from ..nets.config import config_from_dict
    from ..training.experiments import ExperimentSpec
    budget = _measure(spec.get("budget_s"))  # the job manager's record of the wall-time budget, when it set one
    try:
        if kind != "train":  # a landscape job's settings are checked by the jobs layer when it runs
            return {**spec, "data": config_from_dict(DataConfig, spec.get("data")).to_dict(), "budget_s": budget}
        checked = ExperimentSpec.from_dict(spec)
    except (ValueError, TypeError, OverflowError) as exc:
        raise Skipped(_one_line(exc)) from None
    for name, _ in checked.models:
        _text(name, "a model name", required=True)
    return {**checked.to_dict(), **({"budget_s": budget} if budget is not None else {})}


def _run(folder: Path, row: dict, notes: list) -> dict:
    """A run's record from its run.json (else its row in experiment.json), every field checked."""
    rid = run_slug(str(_text(row.get("id"), "a run id", required=True)))
    where = folder / rid
    saved: dict = {}
    if where.is_symlink():
        notes.append(f"{folder.name!r}: run {rid!r} has a link for a folder; only its record in experiment.json is "
                     f"imported (links are never followed).")
    elif (where / "run.json").exists() or (where / "run.json").is_symlink():
        try:
            saved = read_json_object(where / "run.json")
        except Skipped as exc:
            notes.append(f"{folder.name!r}: run {rid!r}: {exc} Its record in experiment.json is imported instead.")
    source = saved or dict(row, status="failed")  # no run.json: it never finished
    run: dict[str, Any] = {"id": rid, "name": _text(source.get("name") or row.get("name") or rid, "a run name",
                                                    required=True)}
    model = source.get("model")
    if model is not None:
        from ..nets.config import ModelConfig
        try:
            run["model"] = ModelConfig.from_dict(model).to_dict()
        except (ValueError, TypeError, OverflowError) as exc:
            raise Skipped(f"run {rid!r}: {_one_line(exc)}") from None
    status = source.get("status")
    run["status"] = "interrupted" if status in ("running", "queued") else status if status in STATUSES else "failed"
    epochs = source.get("epochs", 0)
    run["epochs"] = epochs if _whole(epochs, 0, MAX_EPOCHS) else 0
    final = source.get("final")
    if isinstance(final, dict):
        run["final"] = {k: _measure(final.get(k)) for k in FINAL_KEYS}
    for key, kind in (("images_per_second", float), ("params", int), ("dataset", str), ("message", str)):
        value = source.get(key)
        run[key] = _text(value, key) if kind is str else _measure(value) if kind is float else \
            value if _whole(value, 0, 2**62) else None
    # every run has every column (one insert writes them all): a run without weights is one, not a damaged store
    return {**run, "init_weights": None, "final_weights": None}


def _insert(store: RunStore, exp_id: str, exp: dict, spec: dict, runs: list, kind: str, progress: dict | None,
            folder: Path) -> None:
    raw = exp.get("status")  # a running job's worker is gone; a record without a status never finished either
    status = raw if raw in STATUSES and raw not in ("running", "queued") else "interrupted"
    extra: dict[str, Any] = {k: _time(exp.get(k)) for k in ("started", "finished")}
    extra["message"] = _text(exp.get("message"), "its message")
    if progress is not None:
        extra["progress"] = json.dumps(progress)
    created = _time(exp.get("created"))
    if created is None:
        created = os.lstat(folder).st_mtime
    try:
        store.insert_experiment(exp_id, spec, runs, owner=_text(exp.get("owner"), "its owner"),
                                spec_hash=_text(exp.get("spec_hash"), "its spec hash"), kind=kind, created=created,
                                status=status, **extra)
    except (sa.exc.DataError, sa.exc.IntegrityError) as exc:  # a value this database refuses to hold
        raise Skipped(f"the database refused one of its values ({_one_line(exc.orig or exc)}).") from None


def _progress(folder: Path, notes: list) -> dict | None:
    path = folder / "progress.json"
    if not os.path.lexists(path):
        return None
    try:
        saved = read_json_object(path)
    except Skipped as exc:
        notes.append(f"{folder.name!r}: progress.json skipped: {exc}")
        return None
    kept: dict[str, Any] = {k: saved.get(k) for k in ("step", "total_steps", "epochs")
                            if _whole(saved.get(k), 0, 2**62)}  # the fields explorer.store.records.Progress reads
    kept.update({k: _measure(saved.get(k)) for k in ("epoch", "elapsed", "eta", "images_per_second")})
    return {**kept, "message": _text(saved.get("message"), "its progress message")}


# ----------------------------------------------------------------------------- files
def _import_files(folder: Path, rid: str, store: RunStore, exp_id: str, notes: list) -> dict:
    """A run's metrics and weights, when its folder is a real folder; the run's weight-path fields."""
    src = folder / rid
    if src.is_symlink() or not src.is_dir():
        return {}
    fields: dict = {}
    for name in ARTEFACTS:
        if not os.path.lexists(src / name):
            continue  # a run without weights is imported as one: an ordinary old store has such runs
        try:
            relative = _copy(src / name, store, exp_id, rid)
        except Skipped as exc:
            notes.append(f"{folder.name!r}: run {rid!r}: {exc}")
            continue
        if name.endswith(".pt"):
            fields[f"{name[:-3]}_weights"] = relative
    if os.path.lexists(src / "metrics.jsonl"):
        try:
            for _ in bounded_lines(src / "metrics.jsonl", MAX_METRICS_BYTES):  # every line's length first:
                pass  # a run's metrics go in whole or not at all
            _import_metrics(src / "metrics.jsonl", store, exp_id, rid)
        except Skipped as exc:
            notes.append(f"{folder.name!r}: run {rid!r}: its metrics are skipped: {exc}")
    return fields


def _copy(path: Path, store: RunStore, exp_id: str, run_id: str) -> str:
    """Copy one artefact (a regular file, opened without following links) beside the database; its key. A JSON
    result is parsed within the caps and written back as parsed (the app's reader has no depth check of its own)."""
    target = store.run_dir(exp_id, run_id) / path.name
    if path.suffix == ".json":
        text = json.dumps(read_json_object(path))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        return store.publish(target)
    fd, _ = open_regular(path, MAX_ARTEFACT_BYTES)
    with os.fdopen(fd, "rb") as f:
        if not (target.exists() and os.path.samestat(os.fstat(f.fileno()), os.stat(target))):
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as out:
                shutil.copyfileobj(f, out)
    return store.publish(target)  # uploaded when the artefacts live at a remote location


def _import_metrics(path: Path, store: RunStore, exp_id: str, run_id: str) -> None:
    """metrics.jsonl into the database, in batches; a damaged line is skipped, a huge file read only so far."""
    batch = []
    for line in bounded_lines(path, MAX_METRICS_BYTES):
        try:
            rec = parse_json(line, "a metrics line")
        except Skipped:
            continue
        metric = _metric(rec) if isinstance(rec, dict) else None
        if metric is not None:
            batch.append(metric)
        if len(batch) >= BATCH:
            store.append_metrics(exp_id, run_id, batch)
            batch = []
    store.append_metrics(exp_id, run_id, batch)


def _metric(rec: dict) -> dict | None:
    """A metric record with only the fields docs/engine.md names, each of its type (numbers within range)."""
    if rec.get("type") not in ("step", "epoch"):
        return None
    out: dict[str, Any] = {"type": rec["type"]}
    for key in METRIC_FIELDS[1:]:
        value = rec.get(key)
        if key == "run":
            value = _text(value, "a run name")
        elif key == "step":
            value = value if _whole(value, 0, 2**31 - 1) else None
        elif key in ("grad_norms", "branch_ratios"):
            value = {str(k)[:200]: _measure(v) for k, v in value.items()} if isinstance(value, dict) else None
        elif key == "partial":
            value = value is True or None
        else:
            value = _measure(value)
        if value is not None:
            out[key] = value
    return out


# ----------------------------------------------------------------------------- values
def _text(value: object, what: str, required: bool = False) -> str | None:
    """A string from an old record. A required one (a name, an id) is 1 to _MAX_TEXT characters without NUL (a
    database text column cannot hold it), else Skipped; an optional one of another type is dropped, a long one cut."""
    if isinstance(value, str) and len(value) <= _MAX_TEXT and "\x00" not in value and (value.strip() or not required):
        return value
    if required:
        raise Skipped(f"{what} is not a string of 1 to {_MAX_TEXT:,} characters without NUL.")
    return value.replace("\x00", "")[:_MAX_TEXT] if isinstance(value, str) else None


def _measure(value: object) -> float | None:
    """A measured number (finite or NaN, within ±1e300), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, int):
        return float(value) if abs(value) <= _MAX_NUMBER else None
    return value if math.isnan(value) or abs(value) <= _MAX_NUMBER else None


def _time(value: object) -> float | None:
    """A Unix time from 1970 to 2286 (pages turn it into a date: 1e300 would not be one), else None."""
    seconds = _measure(value)
    return seconds if seconds is not None and 0 <= seconds < 1e10 else None


def _whole(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _one_line(exc: BaseException) -> str:
    """An error's message on one line (a name in it may hold line breaks of any kind), at most 300 characters."""
    return " ".join(str(exc).split())[:300] or type(exc).__name__
