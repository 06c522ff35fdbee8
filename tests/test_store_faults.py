"""The database store under faults and load: resume after a kill equals an uninterrupted run (CPU, same seed);
a SIGKILLed worker leaves a readable store and an `interrupted` job that resumes; four writer processes and
two readers hammering one database lose no update and never show "database is locked"."""
import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa
import store_fixtures
import torch
from helpers import interrupt_at_step
from store_fixtures import BACKENDS, fresh_url

from explorer.data.config import DataConfig
from explorer.jobs.worker import run_experiment
from explorer.nets.config import ModelConfig
from explorer.store import db
from explorer.store.runstore import RunStore
from explorer.training.experiments import single, twin
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
    import os, sys, time
    from explorer.store.runstore import RunStore
    root, url, exp_id, run_id, seconds = sys.argv[1], sys.argv[2] or None, sys.argv[3], sys.argv[4], float(sys.argv[5])
    store = RunStore(root, url)
    os.nice(10)
    n, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        n += 1
        store.append_metrics(exp_id, run_id, [{"type": "step", "step": n, "train_loss": 1.0 / n}])
        store.update_run(exp_id, run_id, epochs=n)
        store.write_progress(exp_id, {"step": n, "message": run_id})
    print(n)
""")
_READER = textwrap.dedent("""
    import os, sys, time
    from explorer.store.runstore import Filter, RunStore
    root, url, exp_id, seconds = sys.argv[1], sys.argv[2] or None, sys.argv[3], float(sys.argv[4])
    store = RunStore(root, url)
    os.nice(10)
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
def test_four_writers_and_two_readers_at_once_lose_nothing_and_never_see_a_lock(tmp_path, backend):
    url = fresh_url(backend)
    store = RunStore(tmp_path / "runs", url)
    runs = [{"name": f"run-{i}", "model": {"depth": 8}} for i in range(4)]
    exp_id = store.create_experiment({"kind": "compare", "data": {"name": "digits"}}, runs, owner="load")
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    # 12 s of writing after each process's imports: each writer commits hundreds of metric batches (the lock is
    # contended from the first second); EXPLORER_LOAD_TEST_S=300 soaks it longer
    seconds = float(os.environ.get("EXPLORER_LOAD_TEST_S", "12"))
    base = [str(store.root), url or ""]
    # Each process lowers its priority once its imports are done (nice 10, in _WRITER and _READER): they write and
    # read as fast as they can, interleaving as before, but take the cores' spare time rather than both cores
    # from the rest of the suite (they test correctness, not speed).
    low = dict(stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, *base, exp_id, f"run-{i}", str(seconds)], **low)
             for i in range(4)]
    procs += [subprocess.Popen([sys.executable, "-c", _READER, *base, exp_id, str(seconds)], **low)
              for _ in range(2)]
    outs = [p.communicate(timeout=seconds + 120) for p in procs]
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0 and "locked" not in err, err[-2000:]
    written = [int(out) for out, _ in outs[:4]]
    exp = store.load_experiment(exp_id)
    assert [r.epochs for r in exp.runs] == written  # every process's last update is there
    for i, n in enumerate(written):
        assert [m.step for m in store.read_metrics(exp_id, f"run-{i}")] == list(range(1, n + 1))  # none lost
    assert min(written) > 10 and all(int(out) > 10 for out, _ in outs[4:])


# ----------------------------------------------------------------------- issue 19, item 8: a store that cannot be used
def _one_sentence(text: str) -> bool:
    import re
    return text[:1].isupper() and text.endswith(".") and "\n" not in text and not re.search(r"\.\s+[A-Z]", text)


def _damaged_db(folder: Path, kind: str) -> Path:
    """A runs folder whose runs.db is garbage, or a real store's file cut in half."""
    import sqlite3
    folder.mkdir(parents=True)
    path = folder / "runs.db"
    if kind == "garbage":
        path.write_bytes(b"\x00garbage, not SQLite" * 200)
        return path
    store = RunStore(folder)
    for i in range(40):
        exp_id = store.create_experiment({"kind": "single"}, [{"name": "a", "model": {"depth": 8}}], owner=f"o{i}")
        store.append_metrics(exp_id, "a", [{"type": "step", "step": k, "train_loss": 0.5} for k in range(50)])
    store.close()
    with sqlite3.connect(path) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


@pytest.mark.parametrize("kind", ["garbage", "truncated"])
def test_a_damaged_runs_db_is_one_sentence_for_the_store_and_the_cli(tmp_path, capsys, kind):
    from explorer.cli import main
    from explorer.store.db import StoreError
    path = _damaged_db(tmp_path / "runs", kind)
    before = path.read_bytes()
    with pytest.raises(StoreError) as err:
        RunStore(tmp_path / "runs")
    assert _one_sentence(str(err.value)) and "damaged" in str(err.value)
    assert main(["resume", "x", "--runs-dir", str(tmp_path / "runs")]) == 2
    out = capsys.readouterr()
    assert out.err.strip().splitlines() == [f"error: {err.value}"] and "Traceback" not in out.err + out.out
    assert path.read_bytes() == before  # left as it was, for a backup or a look


@pytest.mark.parametrize("url, words", [
    ("sqlite:////etc/passwd", "not a database"), ("mysql://u@host/db", "must start with"),
    ("ftp://host/x", "must start with"), ("sqlite:////no/such/folder/runs.db", "cannot be written"),
    ("postgresql://postgres@127.0.0.1:1/x", "not answering")])
def test_an_unusable_database_url_is_one_sentence_and_exit_code_2_in_the_cli(tmp_path, capsys, monkeypatch, url,
                                                                             words):
    """The issue's tracebacks: an unreachable PostgreSQL (port 1: refused at once), a system file, other kinds."""
    from explorer.cli import main
    monkeypatch.setenv("EXPLORER_DB_PATIENCE_S", "0.2")
    passwd = Path("/etc/passwd").read_bytes()
    assert main(["resume", "x", "--runs-dir", str(tmp_path / "runs"), "--database-url", url]) == 2
    out = capsys.readouterr()
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], out.err
    assert _one_sentence(lines[0][len("error: "):]) and "Traceback" not in out.err + out.out
    assert Path("/etc/passwd").read_bytes() == passwd  # opened, refused, never written


def test_the_app_shows_one_sentence_for_a_damaged_runs_db(runs_dir):
    from helpers import open_app
    _damaged_db(runs_dir, "garbage")
    at = open_app()  # asserts no exception (the generic error box)
    assert [e.value for e in at.error] and "damaged" in at.error[0].value and _one_sentence(at.error[0].value)
    (runs_dir / "runs.db").unlink()  # the fixture's teardown opens the store


# ------------------------------------------------------------------------ issue 19, item 9: the database goes away
@pytest.fixture
def pg_cluster():
    """A Cluster of this test's own, removed afterwards whatever happens (in a folder of /tmp's own, as .ci/run's:
    pytest's temporary folders are private to root, so user postgres could not reach one)."""
    import contextlib
    import shutil
    import tempfile
    folder = tempfile.mkdtemp(prefix="explorer-test-pg.")
    cluster = store_fixtures.Cluster(folder)
    try:
        yield cluster
    finally:
        with contextlib.suppress(Exception):  # stopped already
            cluster.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)


def _no_duplicates(store, exp_id) -> dict:
    """{run: completed epochs} of a finished experiment; every record is there once (a retried write that had
    committed is not stored twice; a job started twice would write its steps twice)."""
    exp = store.load_experiment(exp_id)
    out = {}
    for run in exp.runs:
        records = [(m.type, m.step) for m in store.read_metrics(exp_id, run.id)]
        assert len(records) == len(set(records)), f"{exp_id}/{run.id} has a record twice"
        epochs = [s for t, s in records if t == "epoch"]
        assert len(epochs) == run.epochs
        out[run.name] = run.epochs
    return out


@pytest.mark.slow
@pytest.mark.usefixtures("worker_env")
@store_fixtures.needs_pg_binaries
def test_a_postgresql_restart_and_a_stop_mid_class_lose_nothing(tmp_path, pg_cluster, wait_for, runs_dir,
                                                                 monkeypatch):
    """Two jobs running and three queued: the server restarts, then stops for a few seconds. The app shows one
    sentence while it is away and comes back by itself; the workers wait, retry and finish every epoch; no job
    runs twice (the app's own job manager pumps the same queue too, as a second replica)."""
    import time

    from helpers import open_app

    from explorer.jobs.manager import JobManager, Limits
    from explorer.jobs.request import JobRequest
    from explorer.store.db import UNAVAILABLE, StoreUnavailable
    store = RunStore(tmp_path / "runs", pg_cluster.url)
    manager = JobManager(store, limits=Limits(concurrent=2, starts_per_hour=100), poll_s=0.2)
    recipe = TrainConfig(epochs=2, batch_size=32, lr=0.05, device="cpu", log_every=1, diagnostics=False)
    data = DataConfig("digits", train_subset=64, test_subset=32)
    try:
        ids = [manager.submit(JobRequest.training(single(NET, data, dataclasses.replace(recipe, seed=i)),
                                                  f"student-{i}"))[0] for i in range(5)]
        wait_for(lambda: any(m.type == "epoch" for i in ids for m in store.read_metrics(i, "resnet-8")), 120,
                 "a first epoch")
        pg_cluster.restart()
        assert store.with_status(["running"]).items  # a worker was mid-job, and the app's store came back itself
        monkeypatch.setenv("EXPLORER_DATABASE_URL", pg_cluster.url)
        assert not open_app().error  # the app's server, its job manager and store made while the database is up
        pg_cluster.stop()
        with pytest.raises(StoreUnavailable) as err:
            store.ping(patience_s=0.3)
        assert str(err.value) == UNAVAILABLE
        # A browser that opens the app now (AppTest's reruns skip the entry script, so each check is a new visit;
        # open_app asserts there is no exception: no generic error box).
        assert [e.value for e in open_app().error] == [UNAVAILABLE]
        time.sleep(1)
        pg_cluster.start()
        assert not open_app().error  # the same server process and job manager: no restart
        wait_for(lambda: all(store.load_experiment(i).status not in ("queued", "running") for i in ids), 120,
                 "every job to end")
    finally:
        manager.shutdown(grace_s=2.0)
    assert [store.load_experiment(i).status for i in ids] == ["completed"] * 5
    assert [_no_duplicates(store, i) for i in ids] == [{"resnet-8": 2}] * 5
    assert store.select(sa.select(sa.func.count()).select_from(db.starts))[0][0] == 5
    store.close()


def test_a_sqlite_file_locked_by_another_process_is_waited_for(tmp_path, uninterrupted):
    """Another program holds runs.db's write lock for 2 s in the second epoch: the app still reads (WAL), the
    worker's writes wait and go on, and its curves equal an undisturbed run's."""
    import time

    from explorer.training.events import EpochEvent
    store = RunStore(tmp_path / "runs", patience_s=60)
    exp_id = _create(store)
    locker = textwrap.dedent("""
        import sqlite3, sys, time
        con = sqlite3.connect(sys.argv[1], isolation_level=None)
        con.execute("BEGIN EXCLUSIVE")
        print("locked", flush=True)
        time.sleep(2.0)
        con.execute("COMMIT")
    """)
    procs, read_s = [], []

    def lock_once(event):
        if isinstance(event, EpochEvent) and not procs:
            procs.append(subprocess.Popen([sys.executable, "-c", locker, str(store.root / "runs.db")],
                                          stdout=subprocess.PIPE, text=True))
            assert procs[0].stdout.readline().strip() == "locked"
            app = RunStore(store.root, patience_s=0.5)
            started = time.monotonic()
            assert app.load_experiment(exp_id).status == "running"
            read_s.append(time.monotonic() - started)
            app.close()
    exp = run_experiment(store, exp_id, callback=lock_once)
    assert procs[0].wait(timeout=30) == 0
    assert exp.status == "completed" and read_s[0] < 1.0
    assert _curves(store, exp_id) == uninterrupted


def test_a_retried_write_that_had_committed_is_not_stored_twice(store):
    """What a worker's retry does when its first try committed but the connection dropped before the answer."""
    from explorer.store.tables import insert_metrics
    exp_id = store.create_experiment({"kind": "single"}, [{"name": "a", "model": {"depth": 8}}], owner="me")
    rows = [{"exp_id": exp_id, "run_id": "a", "type": "epoch", "step": 8, "record": '{"type":"epoch","step":8}'}]
    tries: list = []
    store._tx(lambda c: insert_metrics(c, rows, tries))  # the first try: committed
    store._tx(lambda c: insert_metrics(c, rows, tries))  # the retry
    assert [m.step for m in store.read_metrics(exp_id, "a")] == [8]
    assert store.claim(exp_id) and not store.claim(exp_id)  # a claim still goes to one job manager only


# ------------------------------------------------------------------------------ issue 19, item 10: the disk fills
@pytest.fixture
def small_disk(tmp_path):
    """A 16 MiB tmpfs, mounted for this test: the kernel's own ENOSPC on the real write path (torch.save through
    explorer.store.host.save_atomically). Needs root, as CI runs; skipped with the reason elsewhere."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.strip()[:200]}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path) -> Path:
    """Write a file until the disk is full; returns it (delete it to give the space back)."""
    import errno
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def test_a_full_disk_fails_the_job_in_one_sentence_leaves_no_half_file_and_the_next_job_runs(tmp_path, small_disk):
    """Weights on a disk that fills during the first epoch (the database elsewhere, as with PostgreSQL or a
    separate volume): the job ends `failed` with one sentence; no partial file is left or read as valid; the store
    reads; once the space is back the next queued job completes."""
    from explorer.store.host import load_checkpoint
    from explorer.training.events import StepEvent
    store = RunStore(small_disk / "runs", f"sqlite:///{tmp_path / 'runs.db'}", patience_s=10)
    first, second = _create(store), _create(store, dataclasses.replace(RECIPE, seed=1))
    filled = []

    def fill_once(event):
        if isinstance(event, StepEvent) and not filled:
            filled.append(_fill(small_disk))
    exp = run_experiment(store, first, callback=fill_once)
    assert exp.status == "failed" and "disk is full" in exp.message and _one_sentence(exp.message)
    assert not list(small_disk.rglob("*.tmp"))  # the half-written file is gone
    for path in small_disk.rglob("*.pt"):  # every file left is whole (init.pt, written before the disk filled)
        assert "state_dict" in load_checkpoint(path) or "step" in torch.load(path, weights_only=True)
    assert RunStore(store.root, store.url).load_experiment(first).status == "failed"  # the store reads
    filled[0].unlink()  # the space is back
    assert run_experiment(store, second).status == "completed"
    assert [r.epochs for r in store.load_experiment(second).runs] == [4, 4]
