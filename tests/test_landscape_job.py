"""The `landscape` job kind (Li et al. 2018) through the real worker path, and the shipped twin in the run store.

Oracles: explorer.analysis.evaluation.loss_at on the trained model and the same subset the job used; the run store's
own files. The tiny twin is trained by the real worker code (run_experiment) into a temporary store.
"""
import json
import shutil
import subprocess
import sys
from types import SimpleNamespace

import pytest

from explorer.analysis.landscape import landscape_subset, loss_at
from explorer.data.config import DataConfig
from explorer.data.datasets import load_dataset, normalize
from explorer.jobs.landscape import (
    NO_INIT,
    RESULT_FILE,
    landscape_request,
    landscape_spec,
    read_landscapes,
)
from explorer.jobs.landscape_job import run_landscape_job
from explorer.jobs.manager import JobManager
from explorer.jobs.worker import run_experiment
from explorer.nets.config import ModelConfig
from explorer.store.checkpoints import load_run_model
from explorer.store.shipped import SHIPPED_OWNER, TWIN_NAMES, ensure_shipped_in_store
from explorer.training import experiments
from explorer.training.experiments import plain_residual_pairs
from explorer.training.recipes import TrainConfig

pytestmark = pytest.mark.usefixtures("torch_one_thread")
TINY = ModelConfig(depth=8, in_channels=1, input_size=8, width=0.5)
DATA = DataConfig("digits", train_subset=64, test_subset=64)


@pytest.fixture
def twin_exp(store, tiny_recipe):
    """A finished plain-8/resnet-8 twin (2 tiny epochs) in a temporary run store: (store, experiment id)."""
    spec = experiments.twin(TINY, DATA, tiny_recipe)
    exp_id = store.create_experiment(spec.to_dict(), [{"name": n, "model": c.to_dict()} for n, c in spec.models],
                                     owner="me", spec_hash=spec.spec_hash())
    assert run_experiment(store, exp_id).status == "completed"
    return store, exp_id


def _submit(store, exp_id, **settings) -> str:
    exp = store.load_experiment(exp_id)
    spec = landscape_spec(exp_id, [r.id for r in exp.runs], **settings)
    request = landscape_request(store, spec, owner="me")
    return store.create_experiment(request.to_json(), request.runs_json(), owner=request.owner,
                                   spec_hash=request.spec_hash(), kind=request.job_kind)


def _worker(store, job_id, env) -> subprocess.Popen:
    """The job manager's command line: `python -m explorer worker DIR`."""
    return subprocess.Popen([sys.executable, "-m", "explorer", "worker", str(store.exp_dir(job_id))], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_landscape_job_through_the_worker_matches_loss_at(twin_exp, worker_env):
    store, exp_id = twin_exp
    job_id = _submit(store, exp_id, steps=5, subset=48, line_points=5)
    proc = _worker(store, job_id, worker_env)
    out = proc.communicate(timeout=120)[0].decode()
    assert proc.returncode == 0, out
    job = store.load_experiment(job_id)
    assert job.status == "completed" and job.kind == "landscape"
    assert [r.status for r in job.runs] == ["completed", "completed"]
    progress = job.progress
    assert progress.step == progress.total_steps == 2 * (25 + 5)
    data = load_dataset(DATA)
    results = read_landscapes(store, job_id)
    assert set(results) == {"plain-8", "resnet-8"}
    for run in store.load_experiment(exp_id).runs:
        final = load_run_model(store, exp_id, run.id, "final")
        x, y = landscape_subset(data.x_train, data.y_train, n=48, seed=0)
        expected = loss_at(final.model, normalize(x, final.preprocessing), y)
        surface, line = results[run.name]["surface"], results[run.name]["line"]
        assert surface["alpha"][2] == surface["beta"][2] == 0.0
        assert surface["loss"][2][2] == pytest.approx(expected, rel=1e-5)
        assert all(v is not None for row in surface["loss"] for v in row) and not surface["stopped"]
        assert line["loss"][line["alpha"].index(1.0)] == pytest.approx(expected, rel=1e-5)
        assert (store.run_dir(job_id, run.id) / RESULT_FILE).is_file()


def test_a_stop_request_ends_the_job_stopped_with_its_points_so_far(twin_exp, worker_env, wait_for):
    store, exp_id = twin_exp
    job_id = _submit(store, exp_id, steps=101, subset=32, line_points=3)  # far more points than the test waits for
    proc = _worker(store, job_id, worker_env)
    try:
        wait_for(lambda: getattr(store.load_experiment(job_id).progress, "step", 0) > 3,
                 60, "the slice to start")
        store.request_stop(job_id)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    job = store.load_experiment(job_id)
    assert job.status == "stopped" and job.message
    assert {r.status for r in job.runs} == {"stopped"}
    surface = read_landscapes(store, job_id)["plain-8"]["surface"]
    points = [v for row in surface["loss"] for v in row]
    assert surface["stopped"] and points[0] is not None and points[-1] is None


def test_an_identical_request_attaches_to_the_finished_job(twin_exp):
    store, exp_id = twin_exp
    job_id = _submit(store, exp_id, steps=2, subset=8, line_points=2)
    assert run_landscape_job(store, job_id).status == "completed"
    exp = store.load_experiment(exp_id)
    request = landscape_request(store, landscape_spec(exp_id, [r.id for r in exp.runs], steps=2, subset=8,
                                                      line_points=2), owner="someone else")
    manager = JobManager(store, background=False)
    try:
        assert manager.submit(request) == (job_id, True)
        other = landscape_request(store, landscape_spec(exp_id, [exp.runs[0].id], steps=3)).spec_hash()
        assert other != request.spec_hash()
    finally:
        manager.shutdown()


def test_bad_settings_and_missing_runs_are_one_sentence(twin_exp):
    store, exp_id = twin_exp
    for bad in (dict(steps=1), dict(span=0.0), dict(subset=0), dict(line_points=True)):
        with pytest.raises(ValueError, match=r"^[A-Z].*\.$"):
            landscape_spec(exp_id, ["plain-8"], **bad)
    with pytest.raises(ValueError, match="no trained weights"):
        landscape_request(store, landscape_spec(exp_id, ["nobody"]))
    with pytest.raises(ValueError, match="missing or damaged"):
        landscape_request(store, landscape_spec("20000101-000000-abcdef", ["plain-8"]))


def test_a_job_whose_source_vanished_fails_with_a_sentence(twin_exp):
    store, exp_id = twin_exp
    job_id = _submit(store, exp_id, steps=2, subset=8)
    for run in store.load_experiment(exp_id).runs:
        store.weights_path(exp_id, run.id, "final").unlink()
    job = run_landscape_job(store, job_id)
    assert job.status == "failed" and "no final weights" in job.message
    assert {r.status for r in store.load_experiment(job_id).runs} == {"failed"}


def test_shipped_twin_is_imported_once_with_its_metrics_and_initial_weights(store):
    exp_id = ensure_shipped_in_store(store)
    assert ensure_shipped_in_store(store) == exp_id
    assert [e.id for e in store.list_experiments()] == [exp_id]
    assert not any(p.name.startswith(".staging") for p in store.root.iterdir())
    exp = store.load_experiment(exp_id)
    assert exp.status == "completed" and exp.owner == SHIPPED_OWNER
    assert [r.name for r in exp.runs] == list(TWIN_NAMES)
    assert plain_residual_pairs(exp) == [("plain-20", "resnet-20")]
    from explorer.analysis.evaluation import confusion_and_mistakes
    from explorer.store.shipped import TWIN_DIR
    trained_epochs = json.loads((TWIN_DIR / "spec.json").read_text())["train"]["epochs"]
    digits = load_dataset(DataConfig("digits"))
    for run in exp.runs:  # the test error recorded in training, against the confusion matrix's own count
        cm = confusion_and_mistakes(load_run_model(store, exp_id, run.id).model, digits)[0]
        assert run.final.test_error == pytest.approx(1 - cm.trace() / cm.sum())
        assert run.epochs == trained_epochs
        epochs = store.read_metrics(exp_id, run.id, kind="epoch")
        assert [r.epoch for r in epochs] == list(range(trained_epochs + 1)) and epochs[0].grad_norms
    job_id = _submit(store, exp_id, steps=2, subset=8)
    assert run_landscape_job(store, job_id).status == "completed"
    result = read_landscapes(store, job_id)["resnet-20"]
    assert result["line"] is not None and result["line_note"] is None
    assert len(result["surface"]["loss"]) == 2


def test_a_shipped_twin_without_initial_weights_has_no_line(store, tmp_path):
    from explorer.store.shipped import TWIN_DIR
    folder = tmp_path / "twin"
    folder.mkdir()
    for f in TWIN_DIR.iterdir():
        if not f.name.endswith(".init.pt"):
            shutil.copyfile(f, folder / f.name)
    exp_id = ensure_shipped_in_store(store, folder)
    job_id = _submit(store, exp_id, steps=2, subset=8)
    assert run_landscape_job(store, job_id).status == "completed"
    result = read_landscapes(store, job_id)["resnet-20"]
    assert result["line"] is None and result["line_note"] == NO_INIT


def test_pairs_follow_the_plain_twin_of_each_residual_run():
    base = ModelConfig(depth=20, in_channels=1, input_size=8, zero_init_residual=True)
    spec = experiments.sweep(base, [8, 20], DATA, TrainConfig())
    exp = SimpleNamespace(runs=[SimpleNamespace(id=n, model=c.to_dict()) for n, c in spec.models])
    assert plain_residual_pairs(exp) == [("plain-8", "resnet-8"), ("plain-20", "resnet-20")]
    assert plain_residual_pairs(SimpleNamespace(runs=[SimpleNamespace(id="x", model=json.loads("null"))])) == []
