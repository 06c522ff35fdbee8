"""A landscape job honours the wall-time budget a training job has (docs/security.md, "a job's wall time"): the job
manager records it at submit, the worker stops at the next grid point when it runs out, the points computed so far
kept, in the training job's words; a queued wait behind a landscape job is capped by the budget.

Real job manager, local backend, real `python -m explorer worker` process, the shipped digits twin (no training).
"""
import os
import time

import pytest

from explorer.jobs.backends import LocalBackend
from explorer.jobs.landscape import landscape_request, landscape_spec, read_landscapes
from explorer.jobs.landscape_job import run_landscape_job
from explorer.jobs.manager import JobManager
from explorer.jobs.status import budget_message
from explorer.store.records import ACTIVE
from explorer.store.runstore import worker_handle
from explorer.store.shipped import ensure_shipped_in_store

pytestmark = pytest.mark.usefixtures("torch_one_thread")
BUDGET_S = 4.0  # below the 60 s a teacher may set (set_budget's clamp, tested in test_hostile_jobs): a test waits
# seconds, not a minute, so it is set on the attribute submit reads, as test_hostile_jobs writes 10 s into a spec
SLACK_S = 10.0  # the last grid point begun before the deadline, and the final writes, on 2 busy cores


def _request(store, **settings):
    """A landscape JobRequest over the shipped twin, asked by alice."""
    exp_id = ensure_shipped_in_store(store)
    return landscape_request(store, landscape_spec(exp_id, [r.id for r in store.load_experiment(exp_id).runs],
                                                   **settings), owner="alice")


def _stored(request) -> tuple:
    """(spec, runs, hash) as the store keeps them, for rows written straight into the store."""
    return request.to_json(), request.runs_json(), request.spec_hash()


def test_a_landscape_job_past_its_budget_stops_with_its_points_kept(store, worker_env, wait_for):
    # 2 runs x (3 + 101²) points of resnet-20 on 256 images: minutes of work, far past the budget.
    request = _request(store, steps=101, subset=256, line_points=3)
    manager = JobManager(store, background=False, backend=LocalBackend())
    try:
        manager.budget_s = BUDGET_S
        job_id, attached = manager.submit(request)
        assert not attached and store.load_experiment(job_id).spec["budget_s"] == BUDGET_S  # what its worker reads

        def ended():
            manager.pump()  # reaps the worker, as the app's loop does
            return store.load_experiment(job_id).status not in ACTIVE
        wait_for(ended, 60 + BUDGET_S, "the landscape job to end")
        # Nobody asked: the budget stopped it. Read before the shutdown below, which asks any worker of its own
        # still alive to stop (one that wrote its end but has not exited yet, on a busy machine).
        assert not store.stop_requested(job_id)
    finally:
        manager.shutdown(grace_s=2.0)
    job = store.load_experiment(job_id)
    assert job.status == "stopped" and job.message == budget_message(BUDGET_S)
    assert "budget" in job.message and "4 s" in job.message
    assert job.finished - job.started <= BUDGET_S + SLACK_S  # started: when the worker began the job
    assert {r.status for r in job.runs} == {"stopped"}
    assert job.progress.step < job.progress.total_steps
    first = read_landscapes(store, job_id)["plain-20"]  # the points computed before the deadline are kept
    assert first["line"]["loss"] and all(v is not None for v in first["line"]["loss"])
    surface = first["surface"]
    points = [v for row in surface["loss"] for v in row]
    assert surface["stopped"] and points[0] is not None and points[-1] is None


def test_a_request_to_stop_keeps_its_own_words_within_the_budget(store):
    """A job whose budget has not run out keeps the stop-request message; with no budget, it runs to its end."""
    full, runs, digest = _stored(_request(store, steps=2, subset=8, line_points=2))
    job = store.create_experiment(full, runs, owner="alice", spec_hash=digest, kind="landscape")
    assert run_landscape_job(store, job).status == "completed"  # no budget recorded: none applies
    spent = store.create_experiment({**full, "budget_s": 0.0}, runs, owner="bob", kind="landscape")
    ended = run_landscape_job(store, spent)  # in-process: out of time at its first grid point
    assert ended.status == "stopped" and ended.message == budget_message(0.0)
    asked = store.create_experiment({**full, "budget_s": 0.0}, runs, owner="carol", kind="landscape")
    store.request_stop(asked)  # both: the request wins, as for a training job
    assert run_landscape_job(store, asked).message.startswith("Stopped on request")


def test_a_wait_behind_a_landscape_job_is_capped_by_the_budget(store):
    manager = JobManager(store, background=False, backend=LocalBackend())
    try:
        full, runs, digest = _stored(_request(store, steps=2, subset=8))
        ahead = store.create_experiment(full, runs, owner="bob", spec_hash=digest, kind="landscape")
        store.update_experiment(ahead, status="running", worker=worker_handle(os.getpid()), started=time.time())
        store.write_progress(ahead, {"eta": 3_052_336})  # a landscape ETA past any budget
        queued = store.create_experiment(full, runs, owner="alice", kind="landscape")
        assert manager.position(queued)["wait_s"] >= 3_052_336
        assert manager.queued_wait(queued)["wait_s"] == pytest.approx(manager.budget_s, abs=30)  # less its time run
    finally:
        manager.shutdown()
