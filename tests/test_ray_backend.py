"""The ray backend on a real local Ray cluster (a head and a second node): jobs complete with the local backend's
metrics, stop, delete, re-attach after an app restart, become `interrupted` when their node dies, and owners'
limits hold.

.ci/run starts the cluster and exports EXPLORER_TEST_RAY_ADDRESS (the dashboard) and EXPLORER_TEST_RAY_GCS
(the head, for adding a node); without them, the module starts its own cluster and stops it at the end.
Skipped, with the reason, where Ray is not installed or cannot start.
"""
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from helpers import LONG, submit_twin, wait_until

from explorer.jobs.backends import LocalBackend
from explorer.jobs.handles import Handle
from explorer.jobs.manager import STOP_GRACE_S, JobError, JobManager, Limits
from explorer.store.runstore import RunStore

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
RAY = Path(sys.executable).with_name("ray")
NODE_MEMORY = ["--memory", str(1_500_000_000), "--object-store-memory", str(100_000_000)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_node(head: str = None, resources: dict = None) -> tuple:
    """A Ray node in its own process group (`ray start --block`): (process, its temp dir)."""
    temp = tempfile.mkdtemp(prefix="ray-test-")
    low = 30000 + (os.getpid() * 7 + len(temp) * 131 + int(time.time())) % 20000
    args = [str(RAY), "start", "--block", "--num-cpus", "1", *NODE_MEMORY, "--temp-dir", temp,
            "--disable-usage-stats", "--min-worker-port", str(low), "--max-worker-port", str(low + 99),
            "--dashboard-agent-listen-port", str(_free_port()), "--resources", json.dumps(resources or {})]
    args += ["--address", head] if head else ["--head", "--port", str(_free_port()), "--dashboard-port",
                                              str(_free_port()), "--ray-client-server-port", str(_free_port())]
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    with open(Path(temp) / "start.log", "wb") as log:  # the node keeps its own copy of the descriptor
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True)
    return proc, temp, args


def _kill_node(proc) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def _alive_nodes(dashboard: str) -> list:
    from ray.util.state import list_nodes
    try:
        return [n for n in list_nodes(address=dashboard, detail=True, timeout=5) if n.state == "ALIVE"]
    except Exception:  # noqa: BLE001 - not up yet
        return []


@pytest.fixture(scope="module")
def ray_cluster():
    """{"dashboard": URL, "gcs": host:port} of a running two-node Ray cluster."""
    try:
        import ray.job_submission  # noqa: F401
    except ImportError:
        pytest.skip("Ray is not installed here (pip install -r requirements-cluster.txt).")
    if os.environ.get("EXPLORER_TEST_RAY_ADDRESS"):
        yield {"dashboard": os.environ["EXPLORER_TEST_RAY_ADDRESS"], "gcs": os.environ["EXPLORER_TEST_RAY_GCS"]}
        return
    head, temp, args = _start_node()
    nodes = [head]
    try:
        gcs = f"127.0.0.1:{args[args.index('--port') + 1]}"
        dashboard = f"http://127.0.0.1:{args[args.index('--dashboard-port') + 1]}"
        if not _wait_quietly(lambda: _alive_nodes(dashboard), 90):
            pytest.skip(f"Ray's head did not start here: {(Path(temp) / 'start.log').read_text()[-300:]}")
        nodes.append(_start_node(head=gcs)[0])
        if not _wait_quietly(lambda: len(_alive_nodes(dashboard)) >= 2, 90):
            pytest.skip("Ray's second node did not join the head here.")
        yield {"dashboard": dashboard, "gcs": gcs}
    finally:
        for proc in reversed(nodes):
            _kill_node(proc)


def _wait_quietly(predicate, timeout_s):
    try:
        return wait_until(predicate, timeout_s, "the cluster")
    except pytest.fail.Exception:
        return None


@pytest.fixture
def ray_env(ray_cluster, worker_env, monkeypatch):
    """The ray backend's settings for this cluster; workers import this checkout (PYTHONPATH is forwarded)."""
    monkeypatch.setenv("EXPLORER_RAY_ADDRESS", ray_cluster["dashboard"])
    monkeypatch.setenv("EXPLORER_RAY_PYTHON", sys.executable)
    monkeypatch.setenv("EXPLORER_CPU_PER_JOB", "1")
    monkeypatch.setenv("PYTHONPATH", worker_env["PYTHONPATH"])
    monkeypatch.delenv("EXPLORER_RAY_RESOURCES", raising=False)
    return ray_cluster


@pytest.fixture
def managers(store):
    """make(backend=None, on=None, **kwargs) -> a JobManager (the ray backend, the test's store by default)."""
    made = []

    def make(backend=None, on=None, **kwargs):
        if backend is None:
            from explorer.jobs.raycluster import RayBackend
            backend = RayBackend()
        made.append(JobManager(on or store, backend=backend, **kwargs))
        return made[-1]
    yield make
    for manager in made:
        manager.shutdown()
        for exp in manager.store.with_status(["running"]).items:
            handle = Handle.of(exp)
            if handle is not None and handle.backend == "ray":
                manager.backend.stop(handle)  # never leave a minutes-long job on the cluster


def _exp(store, exp_id):
    return store.load_experiment(exp_id)


def _status(store, exp_id):
    exp = store.load_experiment(exp_id)
    return exp.status if exp else None


def _job_id(store, exp_id):
    return Handle.of(store.load_experiment(exp_id)).ref


def _wait_status(store, exp_id, statuses, timeout_s=240):
    return wait_until(lambda: _status(store, exp_id) in statuses and _exp(store, exp_id), timeout_s,
                 f"{exp_id} to become {' or '.join(statuses)}")


def _wait_training(store, exp_id):
    wait_until(lambda: store.read_metrics(exp_id, "resnet-8", kind="step"), 240, "the worker's first step")


def _worker_pids(exp_id):
    """The pids of this machine's processes that run the worker of this experiment (Ray records no pid)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and exp_id.encode() in (proc / "cmdline").read_bytes():
                pids.append(int(proc.name))
        except OSError:
            pass
    return pids


def _ray_status(manager, exp_id):
    return manager.backend.client.get_job_status(_job_id(manager.store, exp_id)).value


def _epochs(store, exp_id):
    keys = ("train_loss", "train_error", "test_loss", "test_error")
    return {r.id: [{k: getattr(rec, k, None) if not isinstance(rec, dict) else rec[k] for k in keys}
                   for rec in store.read_metrics(exp_id, r.id, kind="epoch")]
            for r in _exp(store, exp_id).runs}


def test_ray_jobs_complete_with_the_local_metrics_and_owners_limits_hold(ray_env, store, tmp_path, managers):
    manager = managers(limits=Limits(concurrent=2, queued_per_owner=1, running_per_owner=1), poll_s=0.3)
    assert manager.backend.capacity() == 2  # two one-CPU nodes, one CPU a job
    alice1 = submit_twin(manager, "alice", seed=3)
    alice2 = submit_twin(manager, "alice", seed=4)
    with pytest.raises(JobError):
        submit_twin(manager, "alice", seed=5)  # one running and one waiting is her limit
    bob = submit_twin(manager, "bob", seed=6)
    assert [_status(store, e) for e in (alice1, alice2, bob)] == ["running", "queued", "running"]
    assert _exp(store, alice1).worker.startswith("ray:0:explorer-")
    for exp_id in (alice1, bob, alice2):
        exp = _wait_status(store, exp_id, ("completed", "failed", "interrupted"))
        assert exp.status == "completed", exp.message
    assert _exp(store, alice2).started >= _exp(store, alice1).finished - 1.0  # she waited for her slot
    local_store = RunStore(tmp_path / "local")
    local = managers(backend=LocalBackend(), on=local_store, poll_s=0.3)
    same = submit_twin(local, "alice", seed=3)
    _wait_status(local_store, same, ("completed",))
    assert _epochs(local_store, same) == _epochs(store, alice1)  # the same seed, the same numbers
    assert len(_epochs(store, alice1)["resnet-8"]) == 3  # epoch 0 (before training) and two epochs


def test_stop_and_delete_reach_the_ray_job(ray_env, store, managers):
    manager = managers(limits=Limits(concurrent=2, queued_per_owner=1, running_per_owner=1), poll_s=0.3)
    stopped = submit_twin(manager, "alice", size=LONG)
    deleted = submit_twin(manager, "bob", seed=1, size=LONG)
    _wait_training(store, stopped)
    asked = time.monotonic()
    manager.stop(stopped, "alice")
    exp = _wait_status(store, stopped, ("stopped",), STOP_GRACE_S + 30)
    assert time.monotonic() - asked < STOP_GRACE_S  # the worker honoured the stop; nobody had to kill it
    assert {r.status for r in exp.runs} == {"stopped"}
    wait_until(lambda: _ray_status(manager, stopped) == "SUCCEEDED", 30, "the Ray job to end")
    _wait_training(store, deleted)
    handle = _job_id(store, deleted)
    manager.delete(deleted, "bob")
    assert not store.exp_dir(deleted).exists()
    wait_until(lambda: manager.backend.client.get_job_status(handle).value == "STOPPED", 30, "the Ray job to stop")


def test_a_restarted_app_reattaches_to_its_ray_jobs(ray_env, store, managers):
    first = managers(limits=Limits(concurrent=2), poll_s=0.3)
    exp_id = submit_twin(first, "alice", size=LONG)
    _wait_training(store, exp_id)
    first.shutdown()  # the app goes away; the cluster keeps the job
    assert _status(store, exp_id) == "running" and _ray_status(first, exp_id) == "RUNNING"
    second = managers(limits=Limits(concurrent=2), poll_s=0.3)  # a new app on the same store
    second.pump()
    assert exp_id in second._handles  # re-attached through the Ray job id kept on the experiment
    second.backend.client.stop_job(_job_id(store, exp_id))  # the job dies behind the app's back ...
    exp = _wait_status(store, exp_id, ("interrupted",), 60)  # ... and the new app notices
    assert "Ray job" in exp.message and exp.message.endswith(".")


def test_a_job_whose_node_dies_is_interrupted(ray_env, store, managers, monkeypatch):
    node = _start_node(head=ray_env["gcs"], resources={"doomed": 1})[0]
    try:
        wait_until(lambda: any("doomed" in (n.resources_total or {}) for n in _alive_nodes(ray_env["dashboard"])),
              180, "the extra node to join")  # a Ray node starts in a minute or more on 2 busy cores
        monkeypatch.setenv("EXPLORER_RAY_RESOURCES", json.dumps({"doomed": 0.5}))  # run it on that node only
        manager = managers(limits=Limits(concurrent=2), poll_s=0.3)
        exp_id = submit_twin(manager, "alice", size=LONG)
        _wait_training(store, exp_id)
        _kill_node(node)  # the machine is gone: its raylet, its agents, and with them the job
        exp = _wait_status(store, exp_id, ("interrupted",), 120)
        assert {r.status for r in exp.runs} == {"interrupted"} and "Ray job" in exp.message
        wait_until(lambda: not _worker_pids(exp_id), 60, "the worker to die with its node")
    finally:
        _kill_node(node)
