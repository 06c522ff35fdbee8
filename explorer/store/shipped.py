"""The digits twin that ships in assets/digits_twin/: load it, and import it once into the run store.

The twin (He et al. 2015's plain-20 and ResNet-20 trained on the built-in digits) is imported as a finished
experiment so every Inspect view and the landscape job treat it like a run the user trained.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from ..analysis.evaluation import test_metrics
from ..data.config import DataConfig
from ..data.datasets import Dataset, load_dataset
from ..nets.weights import Explainable, from_checkpoint
from ..resources import asset_path
from ..training.experiments import ExperimentSpec
from ..training.recipes import TrainConfig
from .runstore import RunStore, load_checkpoint, run_slug

TWIN_DIR = asset_path("digits_twin")


TWIN_NAMES = ("plain-20", "resnet-20")  # plain first, as the paper's figures put it
# Recorded results a lesson can open at once: {key: (folder, what it holds, in words)}. The 56-layer twin is the
# one Lessons 2 and 5 train (scripts/make_digits_twin.sh 56 rebuilds it).
RECORDINGS = {
    "twin20": (TWIN_DIR, "plain-20 and ResNet-20"),
    "twin56": (asset_path("digits_twin56"), "plain-56 and ResNet-56"),
}


def twin_names(folder: Path = TWIN_DIR) -> tuple[str, ...]:
    """The run names a shipped twin holds, plain first (from its spec.json; the 20-layer twin's when unreadable)."""
    try:
        spec = json.loads((Path(folder) / "spec.json").read_text())
        names = tuple(str(m["name"]) for m in spec["models"])
    except (OSError, ValueError, KeyError, TypeError):
        return TWIN_NAMES
    return names if len(names) == 2 else TWIN_NAMES


def shipped_twin(folder: Path = TWIN_DIR) -> dict:
    """The plain-20 and ResNet-20 trained on the built-in digits that ship in assets/digits_twin/.

    Returns:
        {"plain-20": Explainable, "resnet-20": Explainable} (He et al. 2015's CIFAR nets on 1x8x8 digits).
    Raises:
        FileNotFoundError: one sentence, when the files are missing (scripts/make_digits_twin.sh rebuilds them).
    """
    out = {}
    for name in twin_names(folder):
        path = Path(folder) / f"{name}.pt"
        if not path.is_file():
            raise FileNotFoundError(f"The recorded digits twin's {name} is missing from this installation; "
                                    "reinstall the app to get it back.")
        out[name] = from_checkpoint(load_checkpoint(path))
    return out


def shipped_twin_readme(folder: Path = TWIN_DIR) -> str:
    """How the shipped twin was trained, for a page (its README: recipe, date, torch version, final errors), without
    the lines meant for the repository's developers (the script that rebuilds it, the files and functions)."""
    path = Path(folder) / "README.md"
    if not path.is_file():
        return "How the recorded twin was trained is not recorded in this installation."
    text = path.read_text(encoding="utf-8").replace(" (run by `scripts/make_digits_twin.sh`)", "")
    text = re.sub(r"\n\(`[\w.]+\(\)`\)\.", ".", text)  # the developers' pointer to a function (an old name)
    return "\n".join(line for line in text.splitlines() if not line.startswith("Regenerate"))


SHIPPED_OWNER = "shipped"  # the owner recorded on the imported shipped twin (no session owns it)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _shipped_hash(folder: Path) -> str:
    sha = hashlib.sha256()
    for name in twin_names(folder):
        for suffix in (".pt", ".init.pt", ".metrics.jsonl"):
            path = Path(folder) / f"{name}{suffix}"
            sha.update(path.read_bytes() if path.is_file() else b"missing")
    return "shipped-" + sha.hexdigest()[:16]


def ensure_shipped_in_store(store: RunStore, folder: Path | None = None) -> str:
    """Import the shipped digits twin into the run store once, as a finished experiment; returns its id.

    The twin (He et al. 2015's plain-20 and ResNet-20 on the built-in digits) has final weights only, no
    metrics and no initial weights. Importing it lets every Inspect view and the landscape job treat it
    like a run the user trained. Its files and metrics are written first and its rows last, in one
    transaction with status `completed`, so the job manager never sees it half-made; a lock keeps two
    sessions of one server from importing it twice.

    Raises:
        FileNotFoundError: one sentence, when the shipped files are missing.
    """
    folder = Path(folder) if folder is not None else TWIN_DIR
    digest = _shipped_hash(folder)
    found = store.find_by_hash(digest, statuses=("completed",))
    if found is not None:
        return found.id
    with _file_lock(store.root / ".shipped.lock"):
        found = store.find_by_hash(digest, statuses=("completed",))
        return found.id if found is not None else _import_shipped(store, folder, digest)


def _import_shipped(store: RunStore, folder: Path, digest: str) -> str:
    twin = shipped_twin(folder)  # checks that the files load before anything is written
    spec_file = Path(folder) / "spec.json"  # the exact recipe it was trained with (scripts/make_digits_twin.sh)
    recipe = (TrainConfig.from_dict(json.loads(spec_file.read_text())["train"]) if spec_file.is_file() else
              TrainConfig(epochs=12, batch_size=128, lr=0.1, schedule="step", seed=0, device="cpu"))
    names = twin_names(folder)
    spec = ExperimentSpec("twin", tuple((n, twin[n].cfg) for n in names), DataConfig("digits"), recipe)
    data = load_dataset(spec.data)
    exp_id = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)
    runs = []
    for name in names:  # files and metrics first; the experiment's rows last, in one transaction
        rid = run_slug(name)
        run_dir = store.run_dir(exp_id, rid)
        run_dir.mkdir(parents=True)
        shutil.copyfile(Path(folder) / f"{name}.pt", run_dir / "final.pt")
        run = {"id": rid, "name": name, "model": twin[name].cfg.to_dict(), "status": "completed",
               "dataset": "digits", "epochs": recipe.epochs, "final_weights": store.publish(run_dir / "final.pt")}
        if (Path(folder) / f"{name}.init.pt").is_file():  # initial weights, when shipped
            shutil.copyfile(Path(folder) / f"{name}.init.pt", run_dir / "init.pt")
            run["init_weights"] = store.publish(run_dir / "init.pt")
        records = _shipped_metrics(Path(folder) / f"{name}.metrics.jsonl")
        store.append_metrics(exp_id, rid, records)
        runs.append(dict(run, final=_final_metrics(records, twin[name], data)))
    store.insert_experiment(exp_id, spec.to_dict(), runs, owner=SHIPPED_OWNER, spec_hash=digest, created=time.time(),
                            status="completed", finished=time.time(),
                            message=f"A recorded {' and '.join(names)} twin on the built-in digits, shipped with the "
                                    "app (trained with its digits recipe).")
    return exp_id


def _shipped_metrics(path: Path) -> list:
    """The recorded metrics that ship with the twin (JSON lines), or none."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            records.append(rec)
    return records


def _final_metrics(records: list, net: Explainable, data: Dataset) -> dict:
    """The last recorded epoch's metrics when they shipped, else the test metrics computed now."""
    epochs = [r for r in records if r.get("type") == "epoch"]
    if epochs and epochs[-1].get("train_error") is not None:
        return {k: epochs[-1][k] for k in ("train_loss", "train_error", "test_loss", "test_error")}
    return test_metrics(net, data)
