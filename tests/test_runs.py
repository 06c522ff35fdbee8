"""explorer.store.runstore and explorer.jobs.worker: atomic JSON, interrupted workers, CSV, safe weights."""
import csv
import io
import json
import os
import subprocess
import sys
import time

import pytest
import torch

from explorer.data.config import DataConfig
from explorer.jobs.worker import run_experiment
from explorer.nets.builder import build_model
from explorer.nets.config import ModelConfig
from explorer.store.reports import export_csv
from explorer.store.runstore import RunStore, atomic_write_json, load_checkpoint, pid_alive, read_json, worker_handle
from explorer.training.experiments import twin
from explorer.training.recipes import TrainConfig

pytestmark = pytest.mark.usefixtures("torch_one_thread")

DIGIT_NET = ModelConfig(depth=8, in_channels=1, input_size=8, num_classes=10)
RECIPE = TrainConfig(epochs=2, batch_size=16, lr=0.05, schedule="constant", device="cpu", log_every=2)


def _create(store, data=None, recipe=RECIPE):
    spec = twin(DIGIT_NET, data or DataConfig("digits", train_subset=64, test_subset=64), recipe)
    runs = [{"name": n, "model": c.to_dict()} for n, c in spec.models]
    return store.create_experiment(spec.to_dict(), runs, owner="tester", spec_hash=spec.spec_hash()), spec


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # reaped: the pid no longer names a process
    return proc.pid


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One tiny digits twin, trained in-process by the worker: (store, experiment id, spec)."""
    store = RunStore(tmp_path_factory.mktemp("finished") / "runs")
    exp_id, spec = _create(store)
    run_experiment(store, exp_id)
    return store, exp_id, spec


# ----------------------------------------------------------------------------- JSON files
def test_atomic_write_json_replaces_whole_files_and_keeps_the_old_one_on_failure(tmp_path):
    path = tmp_path / "x.json"
    atomic_write_json(path, {"a": 1})
    atomic_write_json(path, {"a": 2, "b": [1, 2]})
    assert read_json(path) == {"a": 2, "b": [1, 2]}
    with pytest.raises(TypeError):
        atomic_write_json(path, {"a": object()})  # fails half-way through writing
    assert read_json(path) == {"a": 2, "b": [1, 2]}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]  # no temp file left behind


def test_metrics_come_back_typed_in_order(store):
    exp_id, _ = _create(store)
    store.append_metrics(exp_id, "resnet-8", [{"type": "epoch", "epoch": 1}, {"type": "step", "step": 3}])
    assert [(m.type, m.epoch, m.step) for m in store.read_metrics(exp_id, "resnet-8")] == \
        [("epoch", 1, None), ("step", None, 3)]
    assert [m.step for m in store.read_metrics(exp_id, "resnet-8", kind="step")] == [3]


def test_store_refuses_ids_that_leave_its_folder_and_duplicate_run_names(store):
    for bad in ("../elsewhere", ".hidden", "", "a/b"):
        with pytest.raises(ValueError):
            store.exp_dir(bad)
    with pytest.raises(ValueError):
        store.create_experiment({}, [{"name": "x", "model": {}}, {"name": "x", "model": {}}])


# Damaged rows (the database's counterpart of damaged folders) are tested in test_store.py.


# ----------------------------------------------------------------------------- interrupted workers
def _state_of(pid) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="zombies are read from Linux's /proc")
def test_pid_alive_tells_running_reaped_and_zombie_processes_apart():
    assert pid_alive(os.getpid())
    assert not pid_alive(_dead_pid())
    assert not pid_alive(None) and not pid_alive(-1) and not pid_alive("123")
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 30
        while _state_of(child.pid) != "Z" and time.monotonic() < deadline:  # exited, not yet reaped
            time.sleep(0.05)
        assert _state_of(child.pid) == "Z"
        assert not pid_alive(child.pid)  # a crashed worker nobody has reaped yet counts as dead
    finally:
        child.wait()


def test_running_experiment_with_a_dead_worker_reads_interrupted(store):
    exp_id, _ = _create(store)
    store.update_experiment(exp_id, status="running", worker=worker_handle(_dead_pid()))
    store.update_run(exp_id, "plain-8", status="running")
    store.update_run(exp_id, "resnet-8", status="diverged")
    exp = store.load_experiment(exp_id)
    assert exp.status == "interrupted" and exp.message.endswith(".") and exp.finished
    assert {r.name: r.status for r in exp.runs} == {"plain-8": "interrupted", "resnet-8": "diverged"}
    assert store.load_experiment(exp_id, reconcile=False).status == "interrupted"  # written back
    assert [e.status for e in store.list_experiments()] == ["interrupted"]


def test_running_experiment_with_a_live_worker_stays_running(store):
    exp_id, _ = _create(store)
    store.update_experiment(exp_id, status="running", worker=worker_handle(os.getpid()))
    assert store.load_experiment(exp_id).status == "running"


# ----------------------------------------------------------------------------- a finished experiment
def test_worker_writes_statuses_metrics_and_final_results(finished):
    store, exp_id, spec = finished
    exp = store.load_experiment(exp_id)
    assert exp.status == "completed" and exp.started <= exp.finished and exp.owner == "tester"
    for run in exp.runs:
        epochs = store.read_metrics(exp_id, run.id, kind="epoch")
        assert [r.epoch for r in epochs] == [0, 1, 2]
        assert run.status == "completed" and run.epochs == 2 and run.images_per_second > 0
        assert run.final.to_dict() == {k: getattr(epochs[-1], k)
                                       for k in ("train_loss", "train_error", "test_loss", "test_error")}
        assert run.dataset == "digits" and run.params > 0
    progress = exp.progress
    assert progress.step == progress.total_steps == 8


def test_twins_initial_weights_on_disk_match_and_final_weights_rebuild(finished):
    store, exp_id, spec = finished
    plain = load_checkpoint(store.weights_path(exp_id, "plain-8", "init"))
    resnet = load_checkpoint(store.weights_path(exp_id, "resnet-8", "init"))
    assert plain["state_dict"].keys() == resnet["state_dict"].keys()  # shortcut A adds no parameters
    for k, v in plain["state_dict"].items():
        assert torch.equal(v, resnet["state_dict"][k]), k
    final = load_checkpoint(store.weights_path(exp_id, "resnet-8").read_bytes())  # bytes work too
    assert final["preprocessing"]["dataset"] == "digits" and final["preprocessing"]["in_channels"] == 1
    model = build_model(ModelConfig.from_dict(final["model"]))
    model.load_state_dict(final["state_dict"], strict=True)
    assert not torch.equal(final["state_dict"]["fc.weight"], resnet["state_dict"]["fc.weight"])  # it trained


def test_csv_export_has_a_row_per_run_per_epoch(finished):
    store, exp_id, _ = finished
    rows = list(csv.DictReader(io.StringIO(export_csv(store, exp_id))))
    assert {(r["run"], r["epoch"]) for r in rows} == {(n, str(e)) for n in ("plain-8", "resnet-8") for e in (0, 1, 2)}
    assert len(rows) == 6 and all(r["experiment"] == exp_id for r in rows)
    last = [r for r in rows if r["run"] == "resnet-8" and r["epoch"] == "2"][0]
    final = store.load_experiment(exp_id).runs[1].final
    assert float(last["test_error"]) == pytest.approx(final.test_error)
    with pytest.raises(FileNotFoundError):
        export_csv(store, "20990101-000000-nothere")


def test_a_diverged_run_is_stored_with_its_message_and_no_final_weights(store):
    # no BatchNorm and a learning rate of 10: the loss blows up within a few steps (deterministic on the CPU)
    net = ModelConfig(depth=8, norm="none")
    spec = twin(net, DataConfig("digits", train_subset=64, test_subset=64),
                TrainConfig(epochs=3, batch_size=16, lr=10, schedule="constant", device="cpu"))
    exp_id = store.create_experiment(spec.to_dict(), [{"name": n, "model": c.to_dict()} for n, c in spec.models])
    exp = run_experiment(store, exp_id)
    runs = store.load_experiment(exp_id).runs
    diverged = [r for r in runs if r.status == "diverged"]
    assert diverged and exp.status in ("completed", "diverged")
    assert exp.status == ("diverged" if len(diverged) == len(runs) else "completed")
    for run in diverged:
        assert "NaN" in run.message and run.epochs < 3
        assert not store.weights_path(exp_id, run.id).exists()  # no final weights from a blown-up net
        assert store.weights_path(exp_id, run.id, "init").is_file()


def test_a_failing_dataset_ends_the_experiment_failed_with_one_sentence(store, tmp_path):
    folder = tmp_path / "pictures"
    for cls in ("cats", "dogs"):
        (folder / cls).mkdir(parents=True)
        (folder / cls / "broken.png").write_bytes(b"not a png at all")
    exp_id, _ = _create(store, DataConfig("folder", path=str(folder)))
    exp = run_experiment(store, exp_id)
    assert exp.status == "failed" and str(folder) in exp.message and exp.message.count(". ") == 0
    assert all(r.status == "failed" for r in store.load_experiment(exp_id).runs)
    assert "Traceback" in (store.exp_dir(exp_id) / "worker.log").read_text()


# ----------------------------------------------------------------------------- safe weights
class _RunsCode:
    """Unpickling this calls os.mkdir(marker): what a malicious "checkpoint" would do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def test_a_pickle_that_runs_code_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {}, "model": {}, "preprocessing": {}, "payload": _RunsCode(marker)}, path)
    with pytest.raises(ValueError, match="not a ResNet Explorer checkpoint"):
        load_checkpoint(path)
    assert not marker.exists()
    torch.load(path, weights_only=False)  # the oracle: an unrestricted load does run it
    assert marker.is_dir()


def test_foreign_files_are_refused_with_one_sentence(tmp_path):
    tensor_only = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), tensor_only)
    for source in (tensor_only, b"definitely not a checkpoint", io.BytesIO(json.dumps({}).encode())):
        with pytest.raises(ValueError, match=r"^This file is not a ResNet Explorer checkpoint .*\.$"):
            load_checkpoint(source)


# ----------------------------------------------------------------------------- weights only when needed (issue 11: 11)
def test_lineage_twins_share_one_initial_weights_file_and_each_rebuilds_as_itself(finished):
    from explorer.store.checkpoints import load_run_model
    store, exp_id, _ = finished
    assert store.weights_path(exp_id, "plain-8", "init") == store.weights_path(exp_id, "resnet-8", "init")
    assert load_run_model(store, exp_id, "plain-8", "init").cfg.shortcut == "none"
    assert load_run_model(store, exp_id, "resnet-8", "init").cfg.shortcut == "A"
    runs = store.load_experiment(exp_id).runs
    assert {r.id: r.init_weights for r in runs}["plain-8"] == {r.id: r.init_weights for r in runs}["resnet-8"]


def test_a_disk_budget_prunes_the_oldest_finished_runs_weights_first(tmp_path):
    from explorer.store.budget import PRUNED, DiskBudget, enforce, weights_bytes
    store = RunStore(tmp_path / "runs")
    old, _ = _create(store)
    run_experiment(store, old)
    old_bytes = weights_bytes(store)  # its snapshots too (tests/test_budget_snapshots.py)
    new, _ = _create(store, recipe=TrainConfig(epochs=1, batch_size=16, device="cpu", seed=1))
    run_experiment(store, new)
    store.update_experiment(old, created=1.0)
    assert weights_bytes(store, owner="tester") == weights_bytes(store) > old_bytes > 0
    files = [store.weights_path(old, r, w) for r in ("plain-8", "resnet-8") for w in ("init", "final")]
    assert enforce(store, DiskBudget(total_bytes=weights_bytes(store) - old_bytes + 1000)) > 0
    assert all(not f.exists() for f in files)
    pruned = store.load_experiment(old)
    assert all(r.final_weights is None and r.message == PRUNED for r in pruned.runs)
    assert store.read_metrics(old, "resnet-8", kind="epoch")  # the curves stay
    assert all(r.final_weights for r in store.load_experiment(new).runs)
    assert enforce(store, DiskBudget(owner_bytes=1)) > 0 and weights_bytes(store) == 0
