"""explorer.jobs.backends: the local backend's warm worker process (started by the first job, ended by a signal;
forked jobs equal fresh ones, each in its own process group, a kill ends one job only) and the backend choice."""
import os
import signal
import socket

import pytest
from helpers import LONG, submit_twin

from explorer.jobs.backends import LocalBackend, close_shared_warm
from explorer.jobs.handles import Handle
from explorer.jobs.manager import JobManager, Limits, make_backend
from explorer.jobs.warm import WarmWorkers
from explorer.store.runstore import RunStore


def _epochs(store, exp_id):
    """Each run's epoch records without their clock fields (elapsed, eta, images/s, time)."""
    keep = ("epoch", "step", "train_loss", "train_error", "test_loss", "test_error", "lr")
    return {r.id: [{k: getattr(rec, k) for k in keep} for rec in store.read_metrics(exp_id, r.id, kind="epoch")]
            for r in store.load_experiment(exp_id).runs}


def _status(store, exp_id):
    return store.load_experiment(exp_id).status


def _pid(store, exp_id):
    return int(Handle.of(store.load_experiment(exp_id)).ref)


@pytest.fixture
def managers():
    made = []

    def make(store, warm, **kwargs):
        made.append(JobManager(store, backend=LocalBackend(warm=warm), **kwargs))
        return made[-1]
    yield make
    for manager in made:
        manager.shutdown()


@pytest.mark.slow
def test_a_forked_job_equals_a_fresh_process_and_runs_in_its_own_group(tmp_path, worker_env, managers, wait_for):
    results = {}
    for warm in (True, False):
        store = RunStore(tmp_path / f"warm-{warm}")
        manager = managers(store, warm, limits=Limits(concurrent=1), poll_s=0.2)
        assert manager.backend._warm is None  # nothing started before the first job
        exp_id = submit_twin(manager, "alice", seed=7)  # the loop starts it once the warm process has imported torch
        pid = wait_for(lambda store=store, exp_id=exp_id: Handle.of(store.load_experiment(exp_id)) and
                       _pid(store, exp_id), 120, "the job to start")
        if warm:
            assert os.getpgid(pid) == pid  # its own session and process group: a stop kills it and nothing else
            assert manager.backend._warm.proc.pid != pid
        wait_for(lambda store=store, exp_id=exp_id: _status(store, exp_id) == "completed", 180,
                 "the job to complete")
        results[warm] = _epochs(store, exp_id)
    assert results[True] == results[False] and len(results[True]["resnet-8"]) == 3  # the same seed, the same numbers


@pytest.mark.slow
def test_killing_one_forked_job_leaves_the_warm_process_and_the_other_job(store, worker_env, managers, wait_for):
    manager = managers(store, True, limits=Limits(concurrent=2), poll_s=0.2)
    doomed = submit_twin(manager, "alice", size=LONG)
    other = submit_twin(manager, "bob", seed=1)
    wait_for(lambda: store.read_metrics(doomed, "resnet-8", kind="step"), 180, "the first step")
    os.kill(_pid(store, doomed), signal.SIGKILL)  # as the kernel's OOM killer would
    wait_for(lambda: manager.pump() or _status(store, doomed) == "interrupted", 60,
             "the killed job to read interrupted")
    wait_for(lambda: _status(store, other) == "completed", 180, "the other job to complete")
    warm = manager.backend._warm
    assert warm.proc.poll() is None  # the warm process lives on ...
    again = submit_twin(manager, "carol", seed=2)  # ... and forks the next job
    wait_for(lambda: _status(store, again) == "completed", 180, "the next job to complete")
    warm.proc.kill()  # and if the warm process itself is killed, the next job gets a new one
    warm.proc.wait()
    last = submit_twin(manager, "dave", seed=3)
    assert manager.backend._warm is not warm and manager.backend._warm.proc.poll() is None
    wait_for(lambda: _status(store, last) == "completed", 180, "the last job to complete")


@pytest.mark.slow
def test_the_first_job_of_a_fresh_server_waits_in_the_queue_not_in_the_page(store, worker_env, wait_for):
    """A fresh server's warm process imports torch for seconds (a minute on a loaded machine): the click that
    submits the first job returns at once instead of waiting under the job manager's lock, the job waits queued,
    and the manager's loop starts it once the warm process is ready."""
    close_shared_warm()  # this process's warm process is gone: as on a server that just started
    manager = JobManager(store, backend=LocalBackend(warm=True), poll_s=0.2)
    try:
        exp_id = submit_twin(manager, "owner")
        status = _status(store, exp_id)
        ready = manager.backend.warm_up(wait=False)  # read after the status: a start only ever follows readiness
        assert status == "queued" or ready, "a job started before the warm process was ready"
        wait_for(lambda: _status(store, exp_id) == "completed", 240, "the first job to finish")
    finally:
        manager.shutdown()


def test_a_backend_without_jobs_starts_no_warm_process_and_one_starting_up_is_ended_by_a_signal():
    backend = LocalBackend(warm=True)
    assert backend._warm is None  # an app (or a test) that starts no job pays nothing for it
    backend.close()
    warm = WarmWorkers()
    warm.close()  # while it still imports torch it reads no stdin: it is signalled, not waited for
    assert warm.proc.returncode == -signal.SIGTERM


def test_the_backend_is_chosen_by_name_with_one_sentence_for_a_wrong_one(monkeypatch):
    with pytest.raises(ValueError, match=r"^EXPLORER_BACKEND must be one of local, ray; got 'slurm'\.$"):
        make_backend("slurm")
    monkeypatch.setenv("EXPLORER_WARM_WORKERS", "0")
    assert isinstance(make_backend(), LocalBackend)


def test_a_ray_backend_without_a_cluster_says_so(monkeypatch):
    pytest.importorskip("ray.job_submission", reason="Ray is not installed (requirements-cluster.txt)")
    from explorer.jobs.raycluster import RayBackend
    monkeypatch.setenv("EXPLORER_RAY_ADDRESS", "127.0.0.1:9")  # nothing listens on the discard port
    with pytest.raises(ValueError) as exc:
        RayBackend()
    text = str(exc.value)
    assert text.startswith("No Ray cluster answers at http://127.0.0.1:9") and text.endswith(".")


def test_handles_come_from_the_experiment_record():
    class Record:  # the one field a handle is read from
        def __init__(self, worker):
            self.worker = worker
    mine = Handle.local(os.getpid())
    assert Handle.of(Record(mine.worker)) == mine and mine.ref == str(os.getpid())
    assert Handle.of(Record("ray:0:explorer-x-1")) == Handle("ray", "explorer-x-1", "ray:0:explorer-x-1")
    assert Handle.of(Record(f"{socket.gethostname()}:123:claim")) is None  # a claim, not yet a worker
    assert Handle.of(Record("another-host:123:456")) is None and Handle.of(Record(None)) is None
    assert LocalBackend(warm=False).alive(mine)
