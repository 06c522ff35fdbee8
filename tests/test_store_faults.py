"""The database store under faults and load: resume after a kill equals an uninterrupted run (CPU, same seed);
a SIGKILLed worker leaves a readable store and an `interrupted` job that resumes; four writer processes and
two readers hammering one database lose no update and never show "database is locked"."""
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import interrupt_at_step
from store_fixtures import BACKENDS, fresh_url

from explorer.data.config import DataConfig
from explorer.jobs.worker import run_experiment
from explorer.nets.config import ModelConfig
from explorer.store.runstore import RunStore
from explorer.training.experiments import twin
from explorer.training.recipes import TrainConfig

pytestmark = pytest.mark.usefixtures("torch_one_thread")

ROOT = Path(__file__).resolve().parents[1]
NET = ModelConfig(depth=8, in_channels=1, input_size=8, num_classes=10)
DATA = DataConfig("digits", train_subset=128, test_subset=64)
RECIPE = TrainConfig(epochs=4, batch_size=16, lr=0.05, schedule="cosine", warmup_epochs=1, device="cpu", log_every=1)
STEPS_PER_EPOCH = 8
KEYS = ("train_loss", "train_error", "test_loss", "test_error", "lr")


def _create(store, recipe=RECIPE) -> str:
    spec = twin(NET, DATA, recipe)
    return store.create_experiment(spec.to_dict(), [{"name": n, "model": c.to_dict()} for n, c in spec.models],
                                   owner="me", spec_hash=spec.spec_hash())


def _curves(store, exp_id) -> dict:
    """{run: [(type, step, epoch, train_loss, ...)]}: the numbers a resumed run must reproduce."""
    exp = store.load_experiment(exp_id)
    return {r.name: [(m.type, m.step, m.epoch, *[getattr(m, k) for k in KEYS])
                     for m in store.read_metrics(exp_id, r.id)] for r in exp.runs}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    store = RunStore(tmp_path_factory.mktemp("whole") / "runs")
    exp_id = _create(store)
    run_experiment(store, exp_id)
    return _curves(store, exp_id)


def test_a_run_killed_mid_epoch_resumes_to_the_uninterrupted_metrics(tmp_path, uninterrupted):
    store = RunStore(tmp_path / "runs")
    exp_id = _create(store)
    interrupt_at_step(store, exp_id, 2 * STEPS_PER_EPOCH + 3)  # in the third epoch, after two completed ones
    exp = store.load_experiment(exp_id)
    assert exp.status == "interrupted" and exp.resumable
    run_experiment(store, exp_id)
    assert store.load_experiment(exp_id).status == "completed"
    assert _curves(store, exp_id) == uninterrupted


def test_a_run_killed_before_its_first_epoch_ended_starts_over_cleanly(tmp_path, uninterrupted):
    store = RunStore(tmp_path / "runs")
    exp_id = _create(store)
    interrupt_at_step(store, exp_id, 3)
    assert not store.load_experiment(exp_id).resumable
    run_experiment(store, exp_id)
    assert _curves(store, exp_id) == uninterrupted  # no record of the first attempt is left


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_sigkill_a_worker_mid_epoch_then_resume_from_the_cli(tmp_path, worker_env, wait_for, backend, uninterrupted):
    url = fresh_url(backend)
    store = RunStore(tmp_path / "runs", url)
    exp_id = _create(store, RECIPE)
    env = dict(worker_env, **({"EXPLORER_DATABASE_URL": url} if url else {}))
    proc = subprocess.Popen([sys.executable, "-m", "explorer", "worker", str(store.exp_dir(exp_id))], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(lambda: any((m.step or 0) > STEPS_PER_EPOCH + 2 for m in store.read_metrics(exp_id, "resnet-8")),
                 180, "the worker to be in its second epoch")
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    exp = store.load_experiment(exp_id)  # readable, and its dead worker is noticed
    assert exp.status == "interrupted" and all(r.status == "interrupted" for r in exp.runs)
    args = [sys.executable, "-m", "explorer", "resume", exp_id, "--runs-dir", str(store.root), "--json"]
    out = subprocess.run(args + (["--database-url", url] if url else []), env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["status"] == "completed" and [r["epochs"] for r in report["runs"]] == [4, 4]
    assert _curves(store, exp_id) == uninterrupted


_WRITER = textwrap.dedent("""
    import sys, time
    from explorer.store.runstore import RunStore
    root, url, exp_id, run_id, seconds = sys.argv[1], sys.argv[2] or None, sys.argv[3], sys.argv[4], float(sys.argv[5])
    store = RunStore(root, url)
    n, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        n += 1
        store.append_metrics(exp_id, run_id, [{"type": "step", "step": n, "train_loss": 1.0 / n}])
        store.update_run(exp_id, run_id, epochs=n)
        store.write_progress(exp_id, {"step": n, "message": run_id})
    print(n)
""")
_READER = textwrap.dedent("""
    import sys, time
    from explorer.store.runstore import Filter, RunStore
    root, url, exp_id, seconds = sys.argv[1], sys.argv[2] or None, sys.argv[3], float(sys.argv[4])
    store = RunStore(root, url)
    n, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        n += 1
        exp = store.load_experiment(exp_id)
        assert exp is not None and len(exp.runs) == 4
        store.page(Filter(kind=None), limit=20)
        store.read_metrics(exp_id, exp.runs[n % 4].id, limit=500)
    print(n)
""")


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_four_writers_and_two_readers_for_30_s_lose_nothing_and_never_see_a_lock(tmp_path, backend):
    url = fresh_url(backend)
    store = RunStore(tmp_path / "runs", url)
    runs = [{"name": f"run-{i}", "model": {"depth": 8}} for i in range(4)]
    exp_id = store.create_experiment({"kind": "compare", "data": {"name": "digits"}}, runs, owner="load")
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    seconds = float(os.environ.get("EXPLORER_LOAD_TEST_S", "30"))
    base = [str(store.root), url or ""]
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, *base, exp_id, f"run-{i}", str(seconds)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(4)]
    procs += [subprocess.Popen([sys.executable, "-c", _READER, *base, exp_id, str(seconds)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=seconds + 120) for p in procs]
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0 and "locked" not in err, err[-2000:]
    written = [int(out) for out, _ in outs[:4]]
    exp = store.load_experiment(exp_id)
    assert [r.epochs for r in exp.runs] == written  # every process's last update is there
    for i, n in enumerate(written):
        assert [m.step for m in store.read_metrics(exp_id, f"run-{i}")] == list(range(1, n + 1))  # none lost
    assert min(written) > 10 and all(int(out) > 10 for out, _ in outs[4:])
