"""Artefacts at an fsspec URL (explorer.store.artefacts): two "machines" that share only the database and that
location, never a disk, and the Artefacts class itself on fsspec's in-memory filesystem.

The two-machine test runs a real tiny digits twin through the real worker (`python -m explorer worker`, its own
process, its own runs folder) and then, from the app's store with a different runs folder, loads and evaluates
its weights, lists its snapshots, reads its resume state, runs a landscape job on a third runs folder, prunes
weights to a budget and deletes by retention, checking the files at the shared location each time.
"""
import json
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from store_fixtures import BACKENDS, fresh_url

from explorer.data.config import DataConfig
from explorer.jobs.request import JobRequest
from explorer.nets.config import ModelConfig
from explorer.nets.preprocessing import Preprocessing
from explorer.store.artefacts import Artefacts, check_key
from explorer.store.runstore import RunStore
from explorer.training import experiments
from explorer.training.recipes import TrainConfig

EPOCHS = 3


def _remote_files(shared: Path, exp_id: str) -> set:
    folder = shared / exp_id
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} if folder.is_dir() else set()


def _worker(env: dict, root: Path, exp_id: str, db_url: str, artefacts_url: str) -> None:
    """`python -m explorer worker` on its own runs folder, as on another node."""
    out = subprocess.run([sys.executable, "-m", "explorer", "worker", str(root / exp_id), "--database-url", db_url,
                          "--artifacts-url", artefacts_url], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_machines_share_only_the_database_and_the_artefact_location(tmp_path, worker_env, backend):
    from explorer.analysis.evaluation import test_metrics
    from explorer.jobs.landscape import landscape_request, landscape_spec, read_landscapes
    from explorer.store.budget import DiskBudget, enforce
    from explorer.store.checkpoints import load_run_dataset, load_run_model
    from explorer.store.resume import load_resume_state
    from explorer.store.retention import delete_by_filter
    from explorer.store.runstore import Filter
    from explorer.store.snapshots import path_states, run_snapshots

    shared = tmp_path / "shared-artefacts"
    url = shared.as_uri()  # file:///...: a real fsspec filesystem, not either machine's runs folder
    db_url = fresh_url(backend) or f"sqlite:///{tmp_path / 'shared.db'}"
    app = RunStore(tmp_path / "app-runs", db_url, url)
    recipe = TrainConfig(epochs=EPOCHS, batch_size=32, lr=0.05, schedule="constant", device="cpu", log_every=4)
    spec = experiments.twin(ModelConfig(depth=8, in_channels=1, input_size=8, width=0.5),
                            DataConfig("digits", train_subset=256, test_subset=64), recipe)
    exp_id = app.create_experiment(spec.to_dict(), [{"name": n, "model": c.to_dict()} for n, c in spec.models],
                                   owner="someone", spec_hash=spec.spec_hash())
    _worker(worker_env, tmp_path / "worker-runs", exp_id, db_url, url)

    exp = app.load_experiment(exp_id)
    assert exp.status == "completed", exp.message
    assert not list((tmp_path / "app-runs").rglob("*.pt"))  # the app's disk holds nothing the worker wrote
    assert {"resume.pt", "plain-8/final.pt", "resnet-8/final.pt", "plain-8/snap-e001.pt"} <= _remote_files(shared,
                                                                                                        exp_id)
    data = load_run_dataset(app, exp_id)
    for run in exp.runs:  # downloaded, rebuilt and evaluated on the app's side: the worker's recorded test error
        net = load_run_model(app, exp_id, run.id)
        assert test_metrics(net, data)["test_error"] == pytest.approx(run.final.test_error, abs=1e-6)
        assert [e for e, _ in run_snapshots(app, exp_id, run.id)] == list(range(1, EPOCHS))
        epochs, states = path_states(app, exp_id, run.id)
        assert epochs == list(range(EPOCHS)) and all("conv1.weight" in s for s in states)
    assert load_resume_state(app, exp_id)["step"] > 0  # the worker's last completed epoch, read from the location

    # A landscape job queued by the app, computed by a worker on a third machine, read back by the app.
    request = landscape_request(app, landscape_spec(exp_id, ["resnet-8"], steps=3, line_points=3, subset=32), "someone")
    job_id = app.create_experiment(request.to_json(), request.runs_json(), owner=request.owner,
                                   spec_hash=request.spec_hash(), kind=request.job_kind)
    _worker(worker_env, tmp_path / "third-runs", job_id, db_url, url)
    assert app.load_experiment(job_id).status == "completed"
    result = read_landscapes(app, job_id)["resnet-8"]
    assert len(result["line"]["loss"]) >= 3 and len(result["surface"]["loss"]) == 3

    # The disk budget prunes the weights at the shared location, not only the database's references.
    assert enforce(app, DiskBudget(total_bytes=0)) > 0
    left = _remote_files(shared, exp_id)
    assert not {"plain-8/final.pt", "resnet-8/final.pt", "plain-8/init.pt", "resnet-8/init.pt"} & left
    assert not app.has_weights(exp_id, "resnet-8") and not (tmp_path / "app-runs" / exp_id / "resnet-8" /
                                                             "final.pt").exists()
    with pytest.raises(ValueError, match="no final weights"):
        load_run_model(app, exp_id, "resnet-8")

    # Retention deletes both experiments' rows and their folders at the shared location.
    assert delete_by_filter(app, Filter(kind=None), expected=2) == 2
    assert not (shared / exp_id).exists() and not (shared / job_id).exists()
    app.close()


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_an_in_memory_location_publishes_fetches_caches_lists_and_deletes(tmp_path):
    url = f"memory://explorer-test-{secrets.token_hex(4)}/artefacts"
    writer, reader = Artefacts(tmp_path / "a", url), Artefacts(tmp_path / "b", url)
    assert writer.remote and reader.remote
    rel = writer.publish(_write(tmp_path / "a" / "E1" / "run" / "final.pt", b"weights v1"))
    assert rel == "E1/run/final.pt" and writer.exists(rel) and reader.exists(rel)
    assert writer.fs.cat_file(f"{writer.base}/{rel}") == b"weights v1"
    assert writer.names("E1/run") == ["final.pt"]  # no temporary upload name is left behind

    path = reader.fetch(rel)
    assert path == tmp_path / "b" / rel and path.read_bytes() == b"weights v1"
    path.write_bytes(b"weights XX")  # same size: the cached copy is used while the remote file is unchanged
    assert reader.fetch(rel).read_bytes() == b"weights XX"
    writer.publish(_write(tmp_path / "a" / rel, b"weights v2"))  # a new upload has a new version stamp
    assert reader.fetch(rel).read_bytes() == b"weights v2"
    path.write_bytes(b"stale")
    assert reader.fetch(rel, cache=False).read_bytes() == b"weights v2"

    small = Artefacts(tmp_path / "c", url, max_bytes=4)
    assert small.fetch(rel) is None and not (tmp_path / "c" / rel).exists()  # over the cap: never downloaded
    assert reader.fetch("E1/run/missing.pt") is None and not reader.exists("E1/run/missing.pt")
    for bad in ("../E1/run/final.pt", "/E1/run/final.pt", "E1/../../x", "E1\\x"):
        with pytest.raises(ValueError):
            check_key(bad)
        assert reader.fetch(bad) is None

    reader.delete(rel)
    assert not writer.exists(rel) and not (tmp_path / "b" / rel).exists()
    writer.publish(_write(tmp_path / "a" / "E1" / "other.json", json.dumps({"a": 1}).encode()))
    writer.delete_folder("E1")
    assert writer.names("E1") == [] and not writer.exists("E1/other.json")


def test_unset_means_the_runs_folder_and_no_fsspec(tmp_path, monkeypatch):
    monkeypatch.delenv("EXPLORER_ARTIFACTS_URL", raising=False)
    local = Artefacts(tmp_path)
    assert not local.remote and local.fs is None
    path = _write(tmp_path / "E1" / "run" / "final.pt", b"w")
    assert local.publish(path) == "E1/run/final.pt" and local.fetch("E1/run/final.pt") == path
    (tmp_path / "E1" / "run" / "link.pt").symlink_to(path)
    assert local.fetch("E1/run/link.pt") is None  # a link is never followed, as before
    local.delete("E1/run/final.pt")
    assert not path.exists()
    out = subprocess.run([sys.executable, "-c", "import sys; from explorer.store.runstore import RunStore; "
                          f"RunStore({str(tmp_path / 'r')!r}); print('fsspec' in sys.modules)"],
                         capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin",
                                                                         "PYTHONPATH": str(Path.cwd())})
    assert out.stdout.strip() == "False", out.stderr[-2000:]


def test_a_store_saves_weights_to_the_location_and_loads_them_on_another_machine(tmp_path):
    url = f"memory://explorer-test-{secrets.token_hex(4)}/artefacts"
    db_url = f"sqlite:///{tmp_path / 'shared.db'}"
    a, b = RunStore(tmp_path / "a", db_url, url), RunStore(tmp_path / "b", db_url, url)
    cfg = ModelConfig(depth=8, in_channels=1, input_size=8, width=0.5)
    exp_id = a.create_experiment({"kind": "single"}, [{"name": "resnet-8", "model": cfg.to_dict()}])
    from explorer.nets.builder import build_model
    model = build_model(cfg)
    pre = Preprocessing("digits", tuple("0123456789"), 1, 8, 16.0, (0.5,), (0.5,))
    a.save_weights(exp_id, "resnet-8", "final", model, cfg.to_dict(), pre)
    assert b.has_weights(exp_id, "resnet-8") and not (tmp_path / "b" / exp_id / "resnet-8" / "final.pt").exists()
    from explorer.store.runstore import load_checkpoint
    loaded = load_checkpoint(b.weights_path(exp_id, "resnet-8"))["state_dict"]
    assert all(torch.equal(loaded[k], v) for k, v in model.state_dict().items())
    b.delete_experiment(exp_id)
    assert not a.artefacts.exists(f"{exp_id}/resnet-8/final.pt")

    from explorer.store.checkpoints import load_run_model
    from explorer.store.shipped import ensure_shipped_in_store
    shipped = ensure_shipped_in_store(a)  # imported on one machine, its weights uploaded
    assert load_run_model(b, shipped, "resnet-20").cfg.depth == 20
    a.close()
    b.close()


def test_the_job_manager_hands_its_artefact_location_to_its_workers(tmp_path, worker_env, monkeypatch, wait_for):
    from explorer.jobs.manager import JobManager, Limits
    monkeypatch.delenv("EXPLORER_ARTIFACTS_URL", raising=False)  # the store's own setting must reach the worker
    shared = tmp_path / "shared-artefacts"
    store = RunStore(tmp_path / "app-runs", None, shared.as_uri())
    spec = experiments.twin(ModelConfig(depth=8, in_channels=1, input_size=8, width=0.5),
                            DataConfig("digits", train_subset=64, test_subset=64),
                            TrainConfig(epochs=1, batch_size=32, device="cpu"))
    manager = JobManager(store, limits=Limits(concurrent=1), poll_s=0.2)
    try:
        exp_id = manager.submit(JobRequest.training(spec, "alice"))[0]
        def finished():
            manager.pump()
            e = store.load_experiment(exp_id)
            return e if e.status in ("completed", "failed", "interrupted") else None
        exp = wait_for(finished, 180, "the job to finish")
    finally:
        manager.shutdown()
    assert exp.status == "completed", exp.message
    assert {"plain-8/final.pt", "resnet-8/final.pt"} <= _remote_files(shared, exp_id)
    store.close()
