"""Pause the class and follow the teacher (explorer.classroom.pause, explorer.classroom.follow): a paused class's
queued job is held by a real job manager and starts on resume; running jobs are stopped when the teacher says so;
a member's one-query class state and what their page does when it changes."""
import subprocess
import sys
import time

import pytest
from sqlalchemy import event

from explorer.classroom import pause
from explorer.classroom.follow import ClassState, class_state, next_move
from explorer.data.config import DataConfig
from explorer.jobs.manager import JobManager, Limits
from explorer.jobs.request import JobRequest
from explorer.nets.config import ModelConfig
from explorer.store.runstore import worker_handle
from explorer.training.experiments import twin
from explorer.training.recipes import TrainConfig

DIGIT_NET = ModelConfig(depth=8, width=0.25, in_channels=1, input_size=8, num_classes=10)


def _request(owner, seed=0):
    data = DataConfig("digits", train_subset=64, test_subset=64)
    spec = twin(DIGIT_NET, data, TrainConfig(epochs=1, batch_size=32, seed=seed, device="cpu", log_every=1,
                                             schedule="constant"))
    return JobRequest.training(spec, owner)


def _status(room, exp_id):
    return room.store.load_experiment(exp_id, with_runs=False).status


@pytest.fixture
def manager(room):
    made = JobManager(room.store, limits=Limits(concurrent=2), background=False, hold=pause.ClassHold(room))
    yield made
    made.shutdown(grace_s=1.0)


def test_a_paused_class_holds_its_queued_job_and_resume_starts_it(room, manager, worker_env):
    info = room.create("teacher", "Physics")
    room.join(info.code, "ann")
    pause.pause(room, info.id)
    request = _request("ann")  # queued as submit would queue it (its estimate and limits are test_jobs' business)
    held = room.store.create_experiment(request.to_json(), request.runs_json(), owner="ann", spec_hash="held")
    manager.pump()
    assert _status(room, held) == "queued"  # a free slot, and still it waits
    assert pause.paused(room, info.id) is not None
    pause.resume(room, info.id)
    assert pause.paused(room, info.id) is None
    manager.pump()
    assert _status(room, held) in ("running", "completed")  # dispatched to a worker (shut down with the manager)


@pytest.fixture
def stand_in():
    """A live process whose command line is a worker's, standing in for a running job's worker."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "explorer", "worker"])
    yield worker_handle(proc.pid)
    proc.kill()
    proc.wait()


@pytest.mark.parametrize("stop_running", [False, True])
def test_running_jobs_finish_or_are_stopped_as_the_teacher_chose(room, manager, stand_in, stop_running):
    info = room.create("teacher")
    room.join(info.code, "ann")
    request = _request("ann")
    exp_id = room.store.create_experiment(request.to_json(), request.runs_json(), owner="ann", spec_hash="x")
    room.store.update_experiment(exp_id, status="running", worker=stand_in, started=time.time())
    pause.pause(room, info.id, stop_running=stop_running)
    manager.pump()
    assert room.store.stop_requested(exp_id) is stop_running


def test_a_closed_or_deleted_class_holds_nothing(room):
    info = room.create("teacher")
    room.join(info.code, "ann")
    room.join(info.code, "cat")
    pause.pause(room, info.id, stop_running=True)
    assert pause.held_owners(room, ["ann", "bob", "cat"]) == {"ann": True, "cat": True}
    exp = room.store.create_experiment({"kind": "sweep"}, [{"name": "plain-20", "model": {}}], owner="ann")
    room.record_job(info.id, "ann", exp, 1)
    room.leave(info.id, "ann")  # leaving does not take a job started in the class out of the pause
    assert pause.held_owners(room, ["ann"]) == {} and pause.held_class_jobs(room, [exp]) == {exp: True}
    room.close(info.id)  # a closed class holds nothing
    assert pause.held_class_jobs(room, [exp]) == {} and pause.held_owners(room, ["cat"]) == {}
    room.delete(info.id)  # its pause goes with it
    assert pause.paused(room, info.id) is None


def test_a_members_class_state_is_one_query(room):
    info = room.create("teacher")
    assert class_state(room, "ann") is None  # a lone user
    room.join(info.code, "ann")
    room.set_lesson(info.id, "fix")
    pause.pause(room, info.id)
    statements = []

    def count(conn, cursor, statement, *rest):
        statements.append(statement)
    event.listen(room.reader, "before_cursor_execute", count)
    try:
        state = class_state(room, "ann")
    finally:
        event.remove(room.reader, "before_cursor_execute", count)
    assert state == ClassState(info.id, "fix", True, False)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1


def test_what_a_members_page_does_when_the_class_moves():
    one, two = ClassState("c", "degradation", False), ClassState("c", "fix", False)
    assert next_move(None, two, on_lessons=False, busy=False) is None  # the first look moves nobody
    assert next_move(one, one, on_lessons=False, busy=False) is None
    go = next_move(one, two, on_lessons=False, busy=False)
    assert go.lesson == "fix" and go.go and not go.rerun
    offer = next_move(one, two, on_lessons=False, busy=True)  # a run is mid-way: one click is offered
    assert offer.lesson == "fix" and not offer.go
    assert next_move(one, two, on_lessons=True, busy=False).rerun  # the Lessons page redraws with it
    paused = next_move(two, ClassState("c", "fix", True), on_lessons=False, busy=False)
    assert paused.rerun and paused.lesson is None  # the page runs again: its start buttons follow the pause
    assert next_move(two, ClassState("c", None, False), on_lessons=False, busy=False) is None  # walk alone
