"""Several app replicas on one PostgreSQL database with the ray backend, as docs/deploy.md sets them up: each
replica is its own OS process that builds the job manager from the environment alone (JobManager.from_env(),
as pages.common.job_manager() does) and pumps the one queue in the background, like an app server.

Checked with real tiny digits jobs on a real two-node Ray cluster (test_ray_backend's fixture): every job
submitted through either replica completes and is dispatched exactly once (one Ray job per experiment); the
global limit and each owner's limits hold across replicas; a stop or a delete through one replica reaches a job
that the other dispatched; a replica killed with SIGKILL leaves its job running, and the other sees it through.
Skipped, with the reason, without Ray or without a PostgreSQL server (EXPLORER_TEST_DATABASE_URL).
"""
import json
import os
import queue
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from helpers import DIGIT_NET, LONG, SHORT, wait_until
from sqlalchemy.engine import make_url
from store_fixtures import PG_URL
from test_ray_backend import ray_cluster  # noqa: F401 - a fixture

from explorer.jobs.handles import Handle
from explorer.jobs.manager import STOP_GRACE_S
from explorer.store.runstore import RunStore
from explorer.training.experiments import twin
from explorer.training.recipes import TrainConfig

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not PG_URL, reason="EXPLORER_TEST_DATABASE_URL is not set (.ci/run starts a PostgreSQL server and sets it)")]
MAX_JOBS = 2  # EXPLORER_MAX_JOBS on every replica; the test cluster's two one-CPU nodes hold two jobs as well
MEDIUM = (SHORT[0], {"epochs": 60, "batch_size": 16})  # some seconds of training: long enough to kill its replica
OVER_LIMIT = "You already have as many jobs running and waiting as allowed; stop one or wait for it to finish."

# One app replica: the job manager built from the environment, pumping in the background, driven by JSON lines
# on stdin; it answers each with one "REPLY {...}" line on stdout.
_REPLICA = """
import json, sys
from explorer.jobs.manager import JobError, JobManager
from explorer.jobs.request import JobRequest
manager = JobManager.from_env()
def reply(obj):
    print("REPLY " + json.dumps(obj), flush=True)
reply({"ready": manager.backend.name, "concurrent": manager.limits.concurrent, "url": manager.store.url})
for line in sys.stdin:
    ask = json.loads(line)
    try:
        if ask["op"] == "submit":
            request = JobRequest.from_json(ask["spec"], ask["owner"])
            reply({"ok": manager.submit(request)[0]})
        elif ask["op"] == "started":  # the jobs this replica's manager dispatched, and the ones it watches
            reply({"ok": sorted(manager._started), "watching": sorted(manager._handles)})
        elif ask["op"] == "pump":  # one pass of its loop, now (reap, enforce stops, start queued jobs)
            manager.pump()
            reply({"ok": None})
        else:
            getattr(manager, ask["op"])(ask["exp_id"], ask["owner"])
            reply({"ok": None})
    except JobError as exc:
        reply({"error": str(exc)})
"""


class Replica:
    """One app replica's process, and the way to ask it things."""

    def __init__(self, name: str, env: dict, log: Path) -> None:
        self.name = name
        with open(log, "wb") as err:  # the child keeps its own copy of the file
            self.proc = subprocess.Popen([sys.executable, "-c", _REPLICA], env=env, stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=err, text=True, bufsize=1)
        self._replies = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            if line.startswith("REPLY "):
                self._replies.put(json.loads(line[len("REPLY "):]))

    def reply(self, timeout_s: float = 120) -> dict:
        try:
            return self._replies.get(timeout=timeout_s)
        except queue.Empty:
            raise AssertionError(f"replica {self.name} did not answer in {timeout_s} s") from None

    def ask(self, **request) -> dict:
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        return self.reply()

    def submit(self, owner: str, seed: int, size=SHORT) -> dict:
        data, recipe = size
        spec = twin(DIGIT_NET, data, TrainConfig(seed=seed, device="cpu", log_every=1, schedule="constant", **recipe))
        return self.ask(op="submit", spec=spec.to_dict(), owner=owner)  # JobRequest.from_json on the other side

    def end(self) -> None:
        """The app process ends (its jobs stay on the cluster); wait_ended() waits for it."""
        if self.proc.poll() is None:
            self.proc.stdin.close()

    def wait_ended(self) -> None:
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _database(server_url: str, name: str, create: bool) -> None:
    """Create or drop one database on the test server (each test gets its own, so others' tables are untouched)."""
    import sqlalchemy as sa
    engine = sa.create_engine(server_url.replace("postgresql://", "postgresql+psycopg://", 1),
                              isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}" if create else f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    engine.dispose()


@pytest.fixture
def cluster_app(ray_cluster, worker_env, tmp_path):  # noqa: F811 - ray_cluster is test_ray_backend's fixture
    """start(*names) -> replicas on one fresh PostgreSQL database and one runs folder, with the ray backend;
    yields (start, the test's own RunStore on that database, the Ray job client)."""
    from ray.job_submission import JobSubmissionClient
    name = f"explorer_replicas_{secrets.token_hex(4)}"
    try:
        _database(PG_URL, name, create=True)
    except Exception as exc:  # noqa: BLE001 - no server, or no right to create a database
        pytest.skip(f"Could not create a database on the test PostgreSQL server ({type(exc).__name__}).")
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    runs = tmp_path / "runs"
    unset = ("EXPLORER_MAX_", "EXPLORER_RAY_RESOURCES", "EXPLORER_GPU_PER_JOB", "EXPLORER_JOB_BUDGET_S")
    env = {k: v for k, v in worker_env.items() if not k.startswith(unset)} | {
        "EXPLORER_DATABASE_URL": url, "EXPLORER_RUNS_DIR": str(runs), "EXPLORER_BACKEND": "ray",
        "EXPLORER_RAY_ADDRESS": ray_cluster["dashboard"], "EXPLORER_RAY_PYTHON": sys.executable,
        "EXPLORER_CPU_PER_JOB": "1", "EXPLORER_MAX_JOBS": str(MAX_JOBS)}
    replicas, stores = [], []

    def start(*names):
        started = [Replica(n, env, tmp_path / f"replica-{n}.log") for n in names]  # all at once, on an empty database
        for replica in started:
            ready = replica.reply()
            assert ready["ready"] == "ray" and ready["concurrent"] == MAX_JOBS, ready
        replicas.extend(started)
        if not stores:
            stores.append(RunStore(runs, database_url=url))
        return started
    client = JobSubmissionClient(ray_cluster["dashboard"])
    try:
        yield start, (lambda: stores[0]), client
    finally:
        for replica in replicas:
            replica.end()
        for replica in replicas:
            replica.wait_ended()
        for job in _ray_jobs(client, runs):  # never leave a minutes-long job on a shared cluster
            if job.status.value in ("PENDING", "RUNNING"):
                client.stop_job(job.submission_id)
        for store in stores:
            store.close()
        _database(PG_URL, name, create=False)


def _ray_jobs(client, runs: Path) -> list:
    """The Ray jobs of this test's experiments (their worker's folder is in this test's runs folder)."""
    return [j for j in client.list_jobs() if str(runs) in (j.entrypoint or "")]


class RunningSampler:
    """Samples the store's running experiments every 0.1 s in a thread: the most at once, overall and per owner."""

    def __init__(self, store: RunStore) -> None:
        self.store, self.most, self.most_per_owner = store, 0, 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(0.1):
            running = self.store.with_status(["running"]).items
            self.most = max(self.most, len(running))
            self.most_per_owner = max([self.most_per_owner, *Counter(e.owner for e in running).values()])

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def _status(store, exp_id):
    exp = store.load_experiment(exp_id, with_runs=False)
    return exp.status if exp else None


def _wait_status(store, exp_id, statuses, timeout_s=240):
    wait_until(lambda: _status(store, exp_id) in statuses, timeout_s, f"{exp_id} to become {' or '.join(statuses)}")
    return store.load_experiment(exp_id)


def _wait_training(store, exp_id):
    wait_until(lambda: store.read_metrics(exp_id, "resnet-8", kind="step"), 240, f"{exp_id}'s first step")


def _ray_status(client, store, exp_id):
    return client.get_job_status(Handle.of(store.load_experiment(exp_id)).ref).value


def test_replicas_dispatch_each_job_once_within_the_global_and_the_owners_limits(cluster_app, tmp_path):
    start, store, client = cluster_app
    a, b = start("a", "b")
    alice1 = a.submit("alice", seed=1)["ok"]
    alice2 = b.submit("alice", seed=2)["ok"]  # her second, waiting: through the other replica
    assert a.submit("alice", seed=3) == {"error": OVER_LIMIT}  # her third, through either replica
    assert b.submit("alice", seed=4) == {"error": OVER_LIMIT}
    sampler = RunningSampler(store())
    try:
        # two more owners, one through each replica: with Alice's first running, both want the global limit's
        # second slot at once (four Ray jobs in all: two fewer than before, the same contention)
        others = [a.submit("bob", seed=5)["ok"], b.submit("carol", seed=6)["ok"]]
        jobs = [alice1, alice2, *others]
        for exp_id in jobs:
            exp = _wait_status(store(), exp_id, ("completed", "failed", "interrupted"))
            assert exp.status == "completed", exp.message
    finally:
        sampler.stop()
    assert 0 < sampler.most <= MAX_JOBS  # both replicas pump the one queue, and never start a third at once
    assert sampler.most_per_owner == 1
    alice1_done, alice2_started = store().load_experiment(alice1).finished, store().load_experiment(alice2).started
    assert alice2_started >= alice1_done - 1.0  # her second waited for her first, whichever replica started it
    per_exp = Counter((j.metadata or {}).get("experiment") for j in _ray_jobs(client, tmp_path / "runs"))
    assert per_exp == Counter(jobs)  # exactly one Ray job per experiment, none for the refused ones
    assert a.proc.poll() is None and b.proc.poll() is None


def test_a_stop_and_a_delete_through_one_replica_reach_the_other_replicas_job(cluster_app):
    start, store, client = cluster_app
    a, = start("a")
    stopped = a.submit("alice", seed=1, size=LONG)["ok"]
    deleted = a.submit("bob", seed=2, size=LONG)["ok"]
    assert sorted(a.ask(op="started")["ok"]) == sorted([stopped, deleted])  # replica A dispatched both
    b, = start("b")  # a replica that joins later attaches to them
    _wait_training(store(), stopped)
    assert b.ask(op="stop", exp_id=stopped, owner="bob")["error"].startswith("Only the person who started")
    asked = time.monotonic()
    assert b.ask(op="stop", exp_id=stopped, owner="alice") == {"ok": None}
    exp = _wait_status(store(), stopped, ("stopped", "interrupted", "failed"), STOP_GRACE_S + 30)
    assert exp.status == "stopped" and time.monotonic() - asked < STOP_GRACE_S, (exp.status, exp.message)
    assert {r.status for r in exp.runs} == {"stopped"}
    wait_until(lambda: _ray_status(client, store(), stopped) in ("SUCCEEDED", "STOPPED"), 30, "the Ray job to end")
    _wait_training(store(), deleted)
    job = Handle.of(store().load_experiment(deleted)).ref
    assert b.ask(op="delete", exp_id=deleted, owner="bob") == {"ok": None}
    assert store().load_experiment(deleted) is None and not store().exp_dir(deleted).exists()
    wait_until(lambda: client.get_job_status(job).value == "STOPPED", 30, "the deleted job's Ray job to stop")
    assert a.ask(op="pump") == {"ok": None}  # replica A's loop notices both ends; it recreates nothing, revives nothing
    assert store().load_experiment(deleted) is None and not store().exp_dir(deleted).exists()
    assert _status(store(), stopped) == "stopped" and a.proc.poll() is None


def test_a_killed_replicas_job_runs_on_and_the_other_replica_sees_it_through(cluster_app):
    start, store, client = cluster_app
    a, = start("a")
    first = a.submit("alice", seed=1, size=MEDIUM)["ok"]
    second = a.submit("alice", seed=2)["ok"]  # waits for her first (one running job per owner)
    assert a.ask(op="started")["ok"] == [first] and _status(store(), second) == "queued"
    b, = start("b")
    _wait_training(store(), first)
    os.kill(a.proc.pid, signal.SIGKILL)  # the replica that dispatched it dies, without a word
    a.proc.wait(timeout=10)
    assert _ray_status(client, store(), first) == "RUNNING" and _status(store(), first) == "running"
    wait_until(lambda: first in b.ask(op="started")["watching"], 10, "replica B to watch the job")
    exp = _wait_status(store(), first, ("completed", "failed", "interrupted", "stopped"))
    assert exp.status == "completed", exp.message
    exp = _wait_status(store(), second, ("completed", "failed", "interrupted", "stopped"))
    assert exp.status == "completed", exp.message
    assert Counter((j.metadata or {}).get("experiment") for j in _ray_jobs(client, store().root)) == \
        Counter([first, second])
