"""The disk budgets count the per-epoch weight snapshots (explorer.store.snapshots) and prune them first.

Real tiny digits twins trained by the real worker, in a runs folder and at a file:// artefact location: every
byte of weights on disk is counted in the database (nothing is scanned), the oldest finished runs lose their
snapshots before anyone loses init or final weights, and a running job's files are never touched.
"""
from pathlib import Path

import pytest

from explorer.data.config import DataConfig
from explorer.jobs.worker import run_experiment
from explorer.nets.config import ModelConfig
from explorer.store.budget import PRUNED, DiskBudget, enforce, weights_bytes
from explorer.store.checkpoints import load_run_model
from explorer.store.runstore import RunStore
from explorer.store.snapshots import path_states, save_snapshot, snapshot_keys
from explorer.training import experiments
from explorer.training.recipes import TrainConfig

pytestmark = pytest.mark.usefixtures("torch_one_thread")
RUNS = ("plain-8", "resnet-8")


def _twin(store: RunStore, train: bool = True) -> str:
    recipe = TrainConfig(epochs=3, batch_size=32, lr=0.05, schedule="constant", device="cpu", log_every=4)
    spec = experiments.twin(ModelConfig(depth=8, in_channels=1, input_size=8, width=0.5),
                            DataConfig("digits", train_subset=128, test_subset=64), recipe)
    exp_id = store.create_experiment(spec.to_dict(), [{"name": n, "model": c.to_dict()} for n, c in spec.models],
                                     owner="someone", spec_hash=spec.spec_hash())
    if train:
        assert run_experiment(store, exp_id).status == "completed"
    return exp_id


def _on_disk(place: Path, exp_id: str = "*") -> int:
    """Bytes of the weight files in run folders (a lineage twin's shared init.pt is one file)."""
    return sum(p.stat().st_size for p in place.glob(f"{exp_id}/*/*.pt") if not p.name.startswith("."))


def _snapshot_bytes(place: Path, exp_id: str) -> int:
    return sum(p.stat().st_size for p in place.glob(f"{exp_id}/*/snap-e*.pt"))


@pytest.mark.parametrize("location", ["runs folder", "file:// artefact location"])
def test_snapshots_are_counted_and_pruned_before_any_weights_and_running_jobs_are_never_touched(tmp_path, location):
    remote = tmp_path / "shared" if location.startswith("file") else None
    store = RunStore(tmp_path / "runs", artefacts_url=remote.as_uri() if remote else None)
    place = remote or store.root  # where the files every node sees are
    old = _twin(store)
    new = _twin(store)
    store.update_experiment(old, created=1.0)
    running = _twin(store, train=False)  # a job in progress: snapshots written by the worker's own writer
    store.update_experiment(running, status="running")
    net = load_run_model(store, old, "resnet-8")
    for epoch in (1, 2, 2):  # epoch 2 written twice (a resumed run): counted once
        save_snapshot(store, running, "resnet-8", epoch, net.model, net.cfg.to_dict(), net.preprocessing)

    # Counted: the database's total is every weight byte on disk, snapshots included, with no scan.
    assert [e for e, _ in snapshot_keys(store, old, "plain-8")] == [1, 2]
    assert weights_bytes(store) == weights_bytes(store, owner="someone") == _on_disk(place) > 0
    old_snaps = _snapshot_bytes(place, old)
    assert old_snaps > 0 and _snapshot_bytes(place, running) > 0

    # Over budget by the old experiment's snapshots: they alone go, every init and final weight stays.
    assert enforce(store, DiskBudget(total_bytes=weights_bytes(store) - old_snaps)) == old_snaps
    assert all(snapshot_keys(store, old, r) == [] for r in RUNS)
    assert all(store.has_weights(old, r, w) for r in RUNS for w in ("init", "final"))
    assert all(r.message != PRUNED for r in store.load_experiment(old).runs)
    assert path_states(store, old, "resnet-8")[0] == [0]  # the path view: init.pt only, "kept no snapshots"
    assert [e for e, _ in snapshot_keys(store, new, "resnet-8")] == [1, 2]
    assert weights_bytes(store) == _on_disk(place)

    # A budget nothing fits in: every finished run loses everything; the running job keeps its snapshots.
    running_bytes = _on_disk(place, running)
    assert enforce(store, DiskBudget(owner_bytes=1)) > 0
    assert _on_disk(place, old) == _on_disk(place, new) == 0
    assert all(r.message == PRUNED for e in (old, new) for r in store.load_experiment(e).runs)
    assert [e for e, _ in snapshot_keys(store, running, "resnet-8")] == [1, 2]
    assert weights_bytes(store) == running_bytes == _on_disk(place)
    assert store.read_metrics(old, "resnet-8", kind="epoch")  # the curves stay
    if remote:
        assert not list(store.root.glob(f"{old}/*/snap-e*.pt"))  # the local copies went too
    store.close()
