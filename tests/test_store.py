"""The run store's contract on its database: SQLite always, PostgreSQL when a server is given (store_fixtures).

Typed records, transactions, filters and pages, damaged rows skipped with one sentence, the schema version
check, import-store (idempotent, fixed CLI contract), retention, and the store's side of issue 11's items
13-17 (damaged records, bounded reads, links, `..` names, a recorded pid that is not our worker).
"""
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
import torch
from store_fixtures import BACKENDS, fresh_url

from explorer.store import db
from explorer.store.importer import import_store, pending_import
from explorer.store.records import Experiment, Metric, Run, check_name, run_slug
from explorer.store.reports import export_csv
from explorer.store.retention import delete_by_filter, retention_count
from explorer.store.runstore import Filter, RunStore

ROOT = Path(__file__).resolve().parents[1]
SPEC = {"kind": "twin", "data": {"name": "digits"}, "train": {"device": "cpu"}, "models": []}
RUNS = [{"name": "plain-20", "model": {"depth": 20, "shortcut": "none"}}, {"name": "resnet-20", "model": {"depth": 20}}]


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path):
    s = RunStore(tmp_path / "runs", fresh_url(request.param))
    yield s
    s.close()


def _new(store, owner="a", spec=SPEC, runs=RUNS, **kw) -> str:
    return store.create_experiment(spec, runs, owner=owner, **kw)


def _raw(store, sql: str, **params) -> None:
    """Damage a row the way a bad disk, a bad import or a hand edit would."""
    engine = sa.create_engine(store.url)
    with engine.begin() as conn:
        conn.execute(sa.text(sql), params)
    engine.dispose()


# ----------------------------------------------------------------------------- records
def test_an_experiment_round_trips_as_typed_records(store):
    exp_id = _new(store, spec_hash="h1")
    store.update_run(exp_id, "plain-20", status="running", epochs=3, final={"train_loss": 1.0, "test_error": 0.5})
    store.write_progress(exp_id, {"step": 3, "total_steps": 10, "eta": 4.0, "message": "Training"})
    exp = store.load_experiment(exp_id)
    assert isinstance(exp, Experiment) and all(isinstance(r, Run) for r in exp.runs)
    assert (exp.owner, exp.status, exp.dataset, exp.spec_kind, exp.device) == ("a", "queued", "digits", "twin", "cpu")
    assert [r.name for r in exp.runs] == ["plain-20", "resnet-20"] and exp.runs[0].depth == 20
    assert exp.runs[0].final.test_error == 0.5 and exp.runs[0].epochs == 3 and exp.runs[0].plain
    assert exp.progress.fraction == 0.3 and exp.progress.eta == 4.0
    with pytest.raises(ValueError, match="no field"):
        store.update_experiment(exp_id, colour="red")
    with pytest.raises(FileNotFoundError):
        store.update_experiment("nope", status="failed")


def test_metrics_come_back_in_order_by_kind_and_in_bounded_pages(store):
    exp_id = _new(store)
    v0 = store.metrics_version(exp_id)
    store.append_metrics(exp_id, "plain-20", [{"type": "step", "step": i, "train_loss": 1 / (i + 1)}
                                              for i in range(50)])
    store.append_metrics(exp_id, "plain-20", [Metric("epoch", epoch=1, step=50, test_error=0.2,
                                                     grad_norms={"conv1": 1.0, "layer1.0.conv1": 0.5})])
    steps = store.read_metrics(exp_id, "plain-20", kind="step")
    assert [m.step for m in steps] == list(range(50)) and all(isinstance(m, Metric) for m in steps)
    [epoch] = store.read_metrics(exp_id, "plain-20", kind="epoch")
    assert list(epoch.grad_norms) == ["conv1", "layer1.0.conv1"]  # forward order kept
    assert len(store.read_metrics(exp_id, "plain-20", limit=7)) == 7
    assert store.read_metrics(exp_id, "resnet-20") == []
    assert store.metrics_version(exp_id) != v0
    assert "0.2" in export_csv(store, exp_id)


def test_pages_are_newest_first_filtered_and_counted(store):
    ids = []
    for i in range(25):
        spec = dict(SPEC, kind="sweep" if i % 5 == 0 else "twin", data={"name": "fashion_mnist" if i % 2 else "digits"})
        runs = RUNS if i % 3 else [{"name": "resnet-56", "model": {"depth": 56}}]
        ids.append(_new(store, owner="me" if i < 10 else "other", spec=spec, runs=runs))
        store.update_experiment(ids[-1], created=1000.0 + i)
    first = store.page(limit=10)
    assert [e.id for e in first.items] == ids[::-1][:10] and first.total == 25
    assert [e.id for e in store.page(limit=10, offset=20).items] == ids[::-1][20:]
    assert store.page(Filter(owner="me")).total == 10
    assert store.page(Filter(dataset="digits")).total == 13
    assert store.page(Filter(spec_kind="sweep")).total == 5
    assert store.page(Filter(depth=56)).total == 9
    store.update_experiment(ids[3], status="completed")
    assert [e.id for e in store.page(Filter(status="completed")).items] == [ids[3]]
    assert store.page(Filter(before=1005.0)).total == 5
    assert store.find_by_hash("nope") is None
    assert store.owner_counts("me") == {"queued": 9, "completed": 1}
    assert [e.id for e in store.with_status(["queued"], limit=3).items] == [ids[0], ids[1], ids[2]]


def test_names_never_escape_the_store():
    assert run_slug("..") not in (".", "..") and run_slug(".hidden").startswith("_") and run_slug("a/b") == "a_b"
    for bad in ("..", ".", "a/b", "", "x" * 300):
        with pytest.raises(ValueError):
            check_name(bad)


# ----------------------------------------------------------------------------- damaged rows (issue 11: 13, 14)
@pytest.mark.parametrize("damage", [
    "UPDATE experiments SET spec = 'not json' WHERE id = :i",
    "UPDATE experiments SET spec = '\"a string\"' WHERE id = :i",
    "UPDATE runs SET name = '' WHERE exp_id = :i",
    "UPDATE experiments SET created = 'yesterday' WHERE id = :i",
    "UPDATE runs SET epochs = 1000000000000000000000000000000 WHERE exp_id = :i",
])
def test_a_damaged_record_is_skipped_with_one_sentence(store, damage, caplog):
    good, bad = _new(store, owner="x"), _new(store, owner="y")
    try:
        _raw(store, damage, i=bad)
    except sa.exc.DBAPIError:
        assert not store.is_sqlite  # PostgreSQL's column types refuse the damage itself
        return
    page = store.page()
    assert [e.id for e in page.items] == [good] and page.damaged == (bad,) and page.total == 2
    assert store.load_experiment(bad) is None and "damaged" in caplog.text


def test_the_job_manager_fails_a_damaged_queued_record_and_keeps_serving_the_others(store):
    from explorer.jobs.manager import JobManager, Limits
    bad, good = _new(store, owner="y"), _new(store, owner="x")
    try:
        _raw(store, "UPDATE experiments SET created = 'yesterday' WHERE id = :i", i=bad)
    except sa.exc.DBAPIError:
        _raw(store, "UPDATE experiments SET spec = 'not json' WHERE id = :i", i=bad)
    manager = JobManager(store, Limits(concurrent=0), background=False)  # nothing starts: only the queue is read
    try:
        manager.pump()
        assert manager.queue() == [good]
        assert bad in manager.damaged and "damaged" in manager.damaged[bad]
    finally:
        manager.shutdown()


# ----------------------------------------------------------------------------- files (issue 11: 16)
def test_weights_links_and_linked_folders_are_never_followed(store, tmp_path):
    exp_id = _new(store)
    run_dir = store.run_dir(exp_id, "plain-20")
    run_dir.mkdir(parents=True)
    (run_dir / "final.pt").symlink_to("/etc/passwd")
    store.update_run(exp_id, "plain-20", final_weights=f"{exp_id}/plain-20/final.pt")
    assert store.artefact(f"{exp_id}/plain-20/final.pt") is None
    assert not store.weights_path(exp_id, "plain-20").exists()
    assert store.artefact("../../etc/passwd") is None
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    other = _new(store)
    os.rmdir(store.exp_dir(other))
    store.exp_dir(other).symlink_to(outside)
    store.delete_experiment(other)
    assert not store.exp_dir(other).exists() and (outside / "keep.txt").read_text() == "keep"


# ----------------------------------------------------------------------------- schema version
def test_a_database_of_another_schema_version_gets_one_sentence(store, tmp_path):
    _raw(store, "UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(db.SchemaMismatch, match=r"schema version 99 .* upgrade the app"):
        RunStore(store.root, None if store.is_sqlite else store.url)


# ----------------------------------------------------------------------------- concurrency within one process
def test_concurrent_writers_in_threads_lose_no_update(store):
    exp_id = _new(store)

    def writer(run_id):
        for i in range(40):
            store.append_metrics(exp_id, run_id, [{"type": "step", "step": i}])
            store.update_run(exp_id, run_id, epochs=i)
    threads = [threading.Thread(target=writer, args=(r,)) for r in ("plain-20", "resnet-20")]
    [t.start() for t in threads]
    store.write_progress(exp_id, {"step": 1})
    [t.join() for t in threads]
    exp = store.load_experiment(exp_id)
    assert [r.epochs for r in exp.runs] == [39, 39] and exp.progress.step == 1
    assert [len(store.read_metrics(exp_id, r.id)) for r in exp.runs] == [40, 40]


# ----------------------------------------------------------------------------- retention
def test_retention_counts_first_and_never_deletes_active_jobs(store):
    ids = [_new(store, owner="old") for _ in range(4)]
    for i in ids:
        store.update_experiment(i, created=100.0, status="completed")
    store.update_experiment(ids[0], status="running")
    filt = Filter(kind=None, before=200.0)
    assert retention_count(store, filt) == 3
    newer = _new(store, owner="old")
    store.update_experiment(newer, created=150.0, status="stopped")
    with pytest.raises(ValueError, match="count again"):
        delete_by_filter(store, filt, expected=3)
    assert delete_by_filter(store, filt, expected=4) == 4
    assert [e.id for e in store.page(Filter(kind=None)).items] == [ids[0]]


# ----------------------------------------------------------------------------- import-store
# a spec the library validates (the import checks every number by the configs' own validation)
OLD_SPEC = {**SPEC, "models": [{"name": "resnet-8", "model": {"depth": 8, "in_channels": 1, "input_size": 8}}]}


def _old_store(root: Path, n: int = 2) -> list:
    """A file run store as it was before the database (docs/engine.md's old layout)."""
    ids = []
    for i in range(n):
        exp_id = f"20250101-00000{i}-abcdef"
        d = root / exp_id
        (d / "resnet-8").mkdir(parents=True)
        (d / "experiment.json").write_text(json.dumps({
            "id": exp_id, "kind": "train", "spec": OLD_SPEC, "spec_hash": f"h{i}", "owner": "o", "created": 10.0 + i,
            "started": 11.0, "finished": 20.0, "status": "completed" if i else "running", "message": None,
            "pid": 1, "runs": [{"id": "resnet-8", "name": "resnet-8"}]}))
        (d / "resnet-8" / "run.json").write_text(json.dumps({
            "id": "resnet-8", "name": "resnet-8", "model": {"depth": 8}, "status": "completed", "epochs": 2,
            "final": {"train_loss": 0.1, "train_error": 0.02, "test_loss": 0.2, "test_error": 0.05}}))
        (d / "resnet-8" / "metrics.jsonl").write_text(
            "".join(json.dumps({"type": "epoch", "run": "resnet-8", "epoch": e, "step": 4 * e, "test_error": 0.5})
                    + "\n" for e in range(3)) + '{"type": "ep')  # a half-written last line
        torch.save({"format": "resnet-explorer/1", "state_dict": {}, "model": {}, "preprocessing": {}},
                   d / "resnet-8" / "final.pt")
        ids.append(exp_id)
    (root / "junk").mkdir()
    (root / "junk" / "experiment.json").write_text("{damaged")
    return ids


def test_import_store_is_idempotent_and_copies_weights(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    ids = _old_store(old)
    store = RunStore(new)
    result = import_store(old, store)
    assert (result.imported, result.already, result.damaged) == (2, 0, ("junk",))
    exp = store.load_experiment(ids[0])
    assert exp.status == "interrupted"  # it claimed to be running: no worker of the file store survives
    assert [m.epoch for m in store.read_metrics(ids[1], "resnet-8")] == [0, 1, 2]
    assert store.weights_path(ids[1], "resnet-8").is_file() and exp.runs[0].final.test_error == 0.05
    again = import_store(old, store)
    assert (again.imported, again.already) == (0, 2)
    assert len(store.read_metrics(ids[1], "resnet-8")) == 3


def test_import_store_cli_contract_and_the_app_notice_count(tmp_path):
    old = tmp_path / "runs"
    _old_store(old, n=1)
    assert pending_import(RunStore(old)) == 1
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-m", "explorer", "import-store", str(old)], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and "Imported 1 experiments" in out.stdout, out.stderr
    assert pending_import(RunStore(old)) == 0
    out = subprocess.run([sys.executable, "-m", "explorer", "import-store", str(old), "--runs-dir",
                          str(tmp_path / "new")], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "Imported 1 experiments" in out.stdout


# ----------------------------------------------------------------------------- worker handles (issue 11: 17)
def test_a_recorded_pid_that_is_not_our_worker_is_never_signalled(store):
    from explorer.jobs.manager import JobManager, Limits
    from explorer.store.runstore import worker_handle
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        exp_id = _new(store, owner="me")
        store.update_experiment(exp_id, status="running", worker=worker_handle(bystander.pid), started=time.time())
        manager = JobManager(store, Limits(concurrent=1), background=False)
        try:
            manager.delete(exp_id, "me")
            manager.pump()
        finally:
            manager.shutdown()
        time.sleep(0.2)
        assert bystander.poll() is None  # still alive: it was not our worker
        assert store.load_experiment(exp_id) is None
        crafted = _new(store, owner="me")
        store.update_experiment(crafted, status="running", worker=worker_handle(bystander.pid))
        manager = JobManager(store, Limits(concurrent=1), background=False)
        manager.pump()  # frees the slot the crafted record held, and kills nothing
        manager.shutdown()
        assert store.load_experiment(crafted).status == "interrupted"
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


# ----------------------------------------------------------------------------- job starts per hour (issue 11: 11)
def test_an_owner_cannot_start_more_jobs_an_hour_than_allowed_even_after_stopping_them(store):
    from explorer.data.config import DataConfig
    from explorer.jobs.manager import JobError, JobManager, Limits
    from explorer.jobs.request import JobRequest
    from explorer.nets.config import ModelConfig
    from explorer.training.experiments import twin
    from explorer.training.recipes import TrainConfig
    manager = JobManager(store, Limits(concurrent=0, queued_per_owner=100, running_per_owner=100, starts_per_hour=3),
                         background=False)

    def request(owner, seed):
        return JobRequest.training(twin(ModelConfig(depth=8), DataConfig("digits"), TrainConfig(seed=seed)), owner)
    try:
        for seed in range(3):
            exp_id, _ = manager.submit(request("student", seed))
            manager.stop(exp_id, "student")  # stopped jobs still count: Start/Stop in a loop is no way round
        with pytest.raises(JobError, match=r"^You have started 3 jobs in the last hour.*\.$"):
            manager.submit(request("student", 9))
        manager.submit(request("someone else", 9))
    finally:
        manager.shutdown()


def test_another_machines_worker_is_neither_signalled_nor_freed(store):
    """A shared PostgreSQL store: a job running on another host belongs to that host's job manager."""
    from explorer.jobs.manager import JobManager, Limits
    exp_id = _new(store, owner="me")
    store.update_experiment(exp_id, status="running", worker=f"elsewhere-{os.getpid()}:1:1", started=time.time())
    manager = JobManager(store, Limits(concurrent=1), background=False)
    try:
        manager.pump()
        assert store.load_experiment(exp_id).status == "running"  # it still holds its slot
        queued = _new(store, owner="you")
        manager.pump()
        assert store.load_experiment(queued).status == "queued"
    finally:
        manager.shutdown()


def test_a_queued_job_is_claimed_by_one_job_manager_only(store):
    exp_id = _new(store)
    assert store.claim(exp_id) and not store.claim(exp_id)
    exp = store.load_experiment(exp_id)  # the claiming process is alive: the job stays running
    assert exp.status == "running" and exp.worker.endswith(":claim")


def _claim_all(root, url, ids, barrier, won) -> None:
    """One app replica's pump, in its own process with its own connection: claim what the limits allow."""
    replica = RunStore(root, url)
    replica.with_status(["queued"])  # connected before the race starts
    barrier.wait()
    won.put([i for i in ids if replica.claim(i, most_running=3, most_per_owner=1)])
    replica.close()


def test_claims_from_several_job_managers_at_once_stay_within_the_limits(store):
    """App replicas pumping one queue at the same moment: the claims count under one lock, so the running limit
    and each owner's hold across all of them (issue 13)."""
    import multiprocessing
    ctx = multiprocessing.get_context("fork")
    ids = [_new(store, owner="a" if i < 4 else f"o{i}") for i in range(8)]
    barrier, won = ctx.Barrier(4), ctx.Queue()
    # Each replica walks the queue from another place, as replicas do whose snapshots of it differ.
    procs = [ctx.Process(target=_claim_all, args=(store.root, store.url, ids[k:] + ids[:k], barrier, won))
             for k in (0, 2, 4, 6)]
    for p in procs:
        p.start()
    claimed = [exp_id for _ in procs for exp_id in won.get(timeout=60)]
    for p in procs:
        p.join(60)
    running = store.with_status(["running"]).items
    assert sorted(claimed) == sorted(e.id for e in running) and len(running) == 3
    assert [e.owner for e in running].count("a") <= 1


def _one_queued_each(counts) -> None:
    if counts(0.0).get("queued", 0) >= 1:
        raise ValueError("You already have a job waiting.")


def _submit_once(root, url, barrier, out) -> None:
    """One app replica's request for owner "a": created, or refused by its admit check."""
    replica = RunStore(root, url)
    replica.with_status(["queued"])  # connected before the race starts
    barrier.wait()
    try:
        out.put(_new(replica, admit=_one_queued_each))
    except ValueError as exc:
        out.put(str(exc))
    replica.close()


def test_requests_from_several_app_replicas_at_once_are_admitted_within_the_owners_limit(store):
    """The admit check of create_experiment reads the owner's counts under the claim lock, in the creating
    transaction: four replicas asking for one owner at the same moment get one job and three refusals."""
    import multiprocessing
    ctx = multiprocessing.get_context("fork")
    barrier, out = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_submit_once, args=(store.root, store.url, barrier, out)) for _ in range(4)]
    for p in procs:
        p.start()
    answers = sorted(out.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(60)
    assert answers[1:] == ["You already have a job waiting."] * 3
    assert [e.id for e in store.with_status(["queued"]).items] == answers[:1]
    assert sorted(p.name for p in store.root.iterdir() if p.is_dir()) == answers[:1]  # no folder for a refusal
