"""explorer.jobs: queue, limits, attach, owners' rights, and real worker processes that finish, stop or die."""
import os
import signal
import subprocess
import sys
import time

import pytest

from explorer.data.config import DataConfig
from explorer.jobs.manager import STOP_GRACE_S, JobError, JobManager, Limits, check_teacher
from explorer.jobs.request import JobRequest
from explorer.nets.config import ModelConfig
from explorer.store.runstore import pid_alive, worker_handle
from explorer.training.experiments import twin
from explorer.training.recipes import TrainConfig

DIGIT_NET = ModelConfig(depth=8, in_channels=1, input_size=8, num_classes=10)
SHORT = (DataConfig("digits", train_subset=64, test_subset=64), dict(epochs=1, batch_size=32))
LONG = (DataConfig("digits", test_subset=64), dict(epochs=500, batch_size=16))  # minutes: stopped or killed


def _job(owner, seed=0, size=SHORT):
    """The JobRequest of a digits twin, as the app would submit it."""
    data, recipe = size
    spec = twin(DIGIT_NET, data, TrainConfig(seed=seed, device="cpu", log_every=1, schedule="constant", **recipe))
    return JobRequest.training(spec, owner)


def _stored(seed):
    """(spec, runs) of a digits twin as the store keeps them, for a row written straight into the store."""
    request = _job("", seed)
    return request.to_json(), request.runs_json()


def _submit(manager, owner, seed=0, size=SHORT):
    return manager.submit(_job(owner, seed, size))


@pytest.fixture
def managers(store):
    """make(**kwargs) -> a JobManager on the test's store; every one is shut down afterwards."""
    made = []

    def make(**kwargs):
        made.append(JobManager(store, **kwargs))
        return made[-1]
    yield make
    for manager in made:
        manager.shutdown()


@pytest.fixture
def stand_in():
    """A live process whose command line is a worker's (`... explorer worker`), standing in for one."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "explorer", "worker"])
    yield worker_handle(proc.pid)
    proc.kill()
    proc.wait()


@pytest.fixture
def busy(store, stand_in):
    """The one CPU slot taken by a job that a live worker process runs, so new jobs wait in the queue."""
    exp_id = store.create_experiment(*_stored(99), owner="someone", spec_hash="busy")
    store.update_experiment(exp_id, status="running", worker=stand_in, started=time.time())
    store.write_progress(exp_id, {"eta": 12.0})
    return exp_id


def _status(store, exp_id):
    exp = store.load_experiment(exp_id)
    return exp.status if exp else None


def _one_sentence(exc):
    text = str(exc.value)
    return text[:1].isupper() and text.endswith(".") and text.count(". ") == 0


# ----------------------------------------------------------------------------- bookkeeping (no workers)
def test_an_identical_request_attaches_instead_of_running_again(store, busy, managers):
    manager = managers(background=False)
    first, attached = _submit(manager, "alice")
    assert not attached and _status(store, first) == "queued"
    assert _submit(manager, "alice") == (first, True)
    assert _submit(manager, "bob") == (first, True)  # thirty students, one job
    store.update_experiment(first, status="completed")
    assert _submit(manager, "carol") == (first, True)  # finished results are reused too
    store.update_experiment(first, status="failed")
    again, attached = _submit(manager, "carol")  # a failed one is run again
    assert not attached and again != first
    assert len(store.list_experiments()) == 3


def test_an_owner_over_the_limit_gets_one_sentence(store, busy, managers):
    manager = managers(background=False, limits=Limits(concurrent=1, queued_per_owner=1, running_per_owner=1))
    queued, _ = _submit(manager, "alice", seed=1)
    with pytest.raises(JobError) as exc:
        _submit(manager, "alice", seed=2)
    assert _one_sentence(exc)
    _submit(manager, "bob", seed=2)  # other owners are not affected
    store.update_experiment(queued, status="running", worker=worker_handle(os.getpid()))  # alice's job now runs ...
    _submit(manager, "alice", seed=3)  # ... so she may queue one more
    with pytest.raises(JobError):
        _submit(manager, "alice", seed=4)
    roomy = managers(background=False, limits=Limits(concurrent=1, queued_per_owner=2, running_per_owner=1))
    _submit(roomy, "bob", seed=5)


def test_only_the_owner_or_the_teacher_stops_and_deletes(store, busy, managers):
    manager = managers(background=False)
    alices, _ = _submit(manager, "alice", seed=1)
    for verb in (manager.stop, manager.delete):
        for owner in ("bob", None):
            with pytest.raises(JobError) as exc:
                verb(alices, owner)
            assert _one_sentence(exc)
    assert _status(store, alices) == "queued"
    manager.stop(alices, "bob", teacher=True)  # a queued job stops at once
    exp = store.load_experiment(alices)
    assert exp.status == "stopped" and {r.status for r in exp.runs} == {"stopped"}
    manager.delete(alices, None, teacher=True)
    assert store.load_experiment(alices) is None and not store.exp_dir(alices).exists()
    bobs, _ = _submit(manager, "bob", seed=2)
    manager.stop(bobs, "bob")
    manager.delete(bobs, "bob")
    with pytest.raises(JobError):
        manager.stop(bobs, "bob")  # gone


def test_teacher_password_check():
    assert check_teacher("s3cret", "s3cret")
    assert not check_teacher("guess", "s3cret")
    assert not check_teacher("", "") and not check_teacher(None, None) and not check_teacher("x", None)


def test_queue_position_and_wait_estimate(store, busy, managers):
    manager = managers(background=False)
    done = store.create_experiment(*_stored(50), owner="old")
    store.update_experiment(done, status="completed", started=100.0, finished=120.0)  # history: 20 s a job
    first, _ = _submit(manager, "alice", seed=1)
    second, _ = _submit(manager, "bob", seed=2)
    assert manager.queue() == [first, second]
    assert manager.position(first) == {"place": 1, "wait_s": pytest.approx(12.0)}  # the running job's ETA
    assert manager.position(second) == {"place": 2, "wait_s": pytest.approx(32.0)}  # ... plus one typical job
    assert manager.position(busy) is None and manager.position(done) is None


@pytest.mark.slow
def test_a_free_slot_goes_to_another_owner_not_to_a_second_job_of_the_same_owner(store, worker_env, managers,
                                                                                   wait_for, stand_in):
    manager = managers(background=False, limits=Limits(concurrent=2, queued_per_owner=1, running_per_owner=1))
    mine = store.create_experiment(*_stored(98), owner="alice")
    store.update_experiment(mine, status="running", worker=stand_in)  # alice's first job holds one of two slots
    second, _ = _submit(manager, "alice", seed=1)
    assert _status(store, second) == "queued"  # she has one running already
    bobs, _ = _submit(manager, "bob", seed=2)
    assert _status(store, bobs) == "running" and _status(store, second) == "queued"  # bob jumps her queue
    wait_for(lambda: manager.pump() or _status(store, bobs) == "completed", 180, "bob's job to finish")
    assert _status(store, second) == "queued"


# ----------------------------------------------------------------------------- real worker processes
def _wait_status(store, wait_for, exp_id, statuses, timeout_s=180):
    return wait_for(lambda: _status(store, exp_id) in statuses and store.load_experiment(exp_id), timeout_s,
                    f"{exp_id} to become {' or '.join(statuses)}")


def _wait_training(store, wait_for, exp_id):
    """Until the worker has written a training step; returns the worker's pid."""
    wait_for(lambda: store.read_metrics(exp_id, "resnet-8", kind="step"), 180, "the worker's first step")
    return int(store.load_experiment(exp_id).worker.rsplit(":", 2)[1])


@pytest.mark.slow
def test_two_owners_jobs_both_complete_one_at_a_time(store, worker_env, managers, wait_for):
    manager = managers(limits=Limits(concurrent=1), poll_s=0.2)
    a, _ = _submit(manager, "alice", seed=1)
    b, _ = _submit(manager, "bob", seed=2)
    assert _status(store, a) == "running" and _status(store, b) == "queued"
    assert manager.position(b)["place"] == 1
    exp_a = _wait_status(store, wait_for, a, ("completed",))
    exp_b = _wait_status(store, wait_for, b, ("completed",))
    assert exp_b.started >= exp_a.finished - 1.0  # the second waited for the free slot
    for exp, owner, seed in ((exp_a, "alice", 1), (exp_b, "bob", 2)):
        assert exp.owner == owner and exp.spec["train"]["seed"] == seed
        assert [r.status for r in exp.runs] == ["completed", "completed"]
        assert all(store.read_metrics(exp.id, r.id, kind="epoch") for r in exp.runs)


@pytest.mark.slow
def test_a_killed_worker_reads_interrupted_and_the_next_job_runs(store, worker_env, managers, wait_for):
    manager = managers(limits=Limits(concurrent=1), poll_s=0.2)
    doomed, _ = _submit(manager, "alice", size=LONG)
    waiting, _ = _submit(manager, "bob")
    pid = _wait_training(store, wait_for, doomed)
    os.kill(pid, signal.SIGKILL)
    exp = _wait_status(store, wait_for, doomed, ("interrupted",), 60)
    assert exp.message.endswith(".") and {r.status for r in exp.runs} == {"interrupted"}
    assert store.read_metrics(doomed, "resnet-8", kind="step")  # what it reached is kept
    _wait_status(store, wait_for, waiting, ("completed",))
    assert _status(store, doomed) == "interrupted"  # and it stays so


@pytest.mark.slow
def test_stop_ends_a_running_job_stopped_by_its_worker(store, worker_env, managers, wait_for):
    manager = managers(limits=Limits(concurrent=1), poll_s=0.2)
    exp_id, _ = _submit(manager, "alice", size=LONG)
    pid = _wait_training(store, wait_for, exp_id)
    with pytest.raises(JobError):
        manager.stop(exp_id, "bob")
    asked = time.monotonic()
    manager.stop(exp_id, "alice")
    exp = _wait_status(store, wait_for, exp_id, ("stopped",), STOP_GRACE_S + 60)
    assert time.monotonic() - asked < STOP_GRACE_S  # the worker honoured the stop file; nobody had to kill it
    for run in exp.runs:
        assert run.status == "stopped" and run.final is not None and run.epochs < 500
        assert store.weights_path(exp_id, run.id).is_file()  # only a worker that stops itself saves these
    wait_for(lambda: not pid_alive(pid), 30, "the worker to exit")


@pytest.mark.slow
def test_shutdown_stops_the_workers_it_started(store, worker_env, managers, wait_for):
    manager = managers(limits=Limits(concurrent=1), poll_s=0.2)
    exp_id, _ = _submit(manager, "alice", size=LONG)
    pid = _wait_training(store, wait_for, exp_id)
    manager.shutdown(grace_s=60)
    assert not pid_alive(pid)
    exp = store.load_experiment(exp_id)
    assert exp.status == "stopped" and {r.status for r in exp.runs} == {"stopped"}
    queued, _ = _submit(manager, "bob")  # a shut-down manager starts nothing new, however often it is pumped
    manager.pump()
    assert _status(store, queued) == "queued" and manager.queue() == [queued]
