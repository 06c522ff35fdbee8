"""One student must not take more than a share (issue 11, items 10, 12, 20): a job stops when its time budget runs
out, its results kept; an estimate past the budget is refused at submit; waits read in human units; the teacher
password backs off; a failed allocation reaches the CLI user as one sentence.
"""
import os
import re
import time

import pytest
import torch

from explorer.access.teacher import TeacherGate
from explorer.data.config import DataConfig
from explorer.jobs.budget import JOB_BUDGET_ENV, JOB_BUDGET_S, MIN_JOB_BUDGET_S, job_budget_s
from explorer.jobs.failure import failure_message
from explorer.jobs.manager import JobError, JobManager
from explorer.jobs.request import JobRequest
from explorer.jobs.status import human_duration
from explorer.jobs.worker import run_experiment
from explorer.nets.config import ModelConfig
from explorer.store.runstore import worker_handle
from explorer.training import experiments
from explorer.training.recipes import TrainConfig

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _one_sentence(text: str) -> bool:
    return text[:1].isupper() and text.endswith(".") and "\n" not in text and not re.search(r"\.\s+[A-Z]", text)


def _runs(spec) -> list:
    return [{"name": n, "model": c.to_dict()} for n, c in spec.models]


# ----------------------------------------------------------------------------- item 10: the time budget
def test_a_job_past_its_budget_stops_with_its_results_kept(store):
    spec = experiments.twin(ModelConfig(depth=8), DataConfig("digits"),
                            TrainConfig(epochs=200, batch_size=16, lr=0.05, device="cpu", diagnostics=False,
                                        log_every=1))
    # The budget as the job manager records it at submit; the worker (local, warm-forked or Ray) reads it there.
    exp_id = store.create_experiment({**spec.to_dict(), "budget_s": 10.0}, _runs(spec), owner="alice")
    exp = run_experiment(store, exp_id)
    assert exp.status == "stopped" and "budget" in exp.message and _one_sentence(exp.message)
    assert "10 s" in exp.message
    for run in store.load_experiment(exp_id).runs:
        assert run.status == "stopped" and run.epochs < 200
        assert store.weights_path(exp_id, run.id, "final").is_file()  # what it reached is kept
        assert store.read_metrics(exp_id, run.id)


def test_the_issue_s_47_day_sweep_is_refused_at_submit_in_one_sentence(store):
    manager = JobManager(store, background=False)
    try:
        spec = experiments.sweep(ModelConfig(), [8, 14, 20, 32, 44, 56, 110], DataConfig("fashion_mnist"),
                                 TrainConfig(epochs=200, batch_size=16, device="cpu"))
        with pytest.raises(JobError) as err:
            manager.submit(JobRequest.training(spec, "alice"))
        assert _one_sentence(str(err.value)) and "days" in str(err.value) and "30 min" in str(err.value)
        assert not store.list_experiments()  # nothing queued
        small = experiments.twin(ModelConfig(depth=8), DataConfig("digits", train_subset=64),
                                 TrainConfig(epochs=1, device="cpu"))
        assert experiments.estimate_seconds(small) < 1.0
    finally:
        manager.shutdown()


def test_jobs_get_the_budget_a_teacher_set(store, worker_env, wait_for):
    manager = JobManager(store, background=False)
    try:
        assert manager.budget_s == job_budget_s()
        assert manager.set_budget(1) == MIN_JOB_BUDGET_S  # clamped to the allowed range
        manager.set_budget(15 * 60)
        spec = experiments.twin(ModelConfig(depth=8), DataConfig("digits", train_subset=64),
                                TrainConfig(epochs=50, device="cpu"))
        exp_id, _ = manager.submit(JobRequest.training(spec, "alice"))
        assert store.load_experiment(exp_id).spec["budget_s"] == 15 * 60  # what its worker reads
    finally:
        manager.shutdown(grace_s=2.0)


def test_the_deployment_budget_comes_from_the_environment():
    assert job_budget_s({}) == JOB_BUDGET_S
    assert job_budget_s({JOB_BUDGET_ENV: "600"}) == 600
    assert job_budget_s({JOB_BUDGET_ENV: "soon"}) == JOB_BUDGET_S
    assert job_budget_s({JOB_BUDGET_ENV: "1"}) == MIN_JOB_BUDGET_S
    assert job_budget_s({JOB_BUDGET_ENV: "nan"}) == JOB_BUDGET_S


def test_the_issue_s_wait_reads_in_human_units():
    assert human_duration(3_052_336) == "35 days"  # the probe was told "3,052,336 s"


def test_a_queued_wait_is_capped_by_the_budget(store):
    """The issue's 3,052,336 s wait: the job ahead reports a 35-day ETA, but it can run only for its budget."""
    manager = JobManager(store, background=False)
    try:
        ahead = store.create_experiment({"kind": "twin"}, [], owner="bob")
        store.update_experiment(ahead, status="running", worker=worker_handle(os.getpid()), started=time.time())
        store.write_progress(ahead, {"eta": 3_052_336})
        queued = store.create_experiment({"kind": "twin"}, [], owner="alice")
        assert manager.position(queued)["wait_s"] >= 3_052_336
        assert manager.queued_wait(queued)["wait_s"] == pytest.approx(manager.budget_s, abs=30)  # less its time run
    finally:
        manager.shutdown()


# ----------------------------------------------------------------------------- item 12: password back-off
class Clock:
    """A clock the test moves by hand: the back-off's arithmetic, without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_wrong_passwords_back_off_exponentially_per_session():
    clock = Clock()
    gate = TeacherGate(free=3, base_s=1.0, most_s=300.0, clock=clock)
    waits = []
    for _ in range(12):
        ok, wait = gate.attempt("guess", "s3cret", "alice")
        assert not ok
        waits.append(wait)
        clock.now += wait  # the attacker waits exactly as long as told
    assert waits[:2] == [0.0, 0.0] and waits[2:6] == [1.0, 2.0, 4.0, 8.0]  # then 16, 32, ... up to 300
    assert max(waits) == 300.0
    assert sum(waits) > 30 * 0.65  # 30 tries no longer fit in the probe's 20 s
    ok, wait = gate.attempt("s3cret", "s3cret", "alice")  # the teacher, after the wait
    assert ok and wait == 0.0


def test_a_try_during_the_wait_is_refused_unread_even_with_the_right_password():
    clock = Clock()
    gate = TeacherGate(free=1, base_s=10.0, clock=clock)
    assert gate.attempt("guess", "s3cret", "alice") == (False, 10.0)
    assert gate.attempt("s3cret", "s3cret", "alice") == (False, 10.0)
    clock.now += 10.0
    assert gate.attempt("s3cret", "s3cret", "alice") == (True, 0.0)


def test_new_sessions_share_the_server_wide_back_off():
    """Clearing cookies gives a new session, not a fresh count: the server's count backs off too."""
    clock = Clock()
    gate = TeacherGate(free=3, base_s=1.0, clock=clock)
    for i in range(8):  # free * free - 1 wrong tries from fresh sessions, each its first
        assert gate.attempt("guess", "s3cret", f"session-{i}") == (False, 0.0)
    assert gate.attempt("guess", "s3cret", "session-8") == (False, 1.0)  # the ninth: everyone now waits
    ok, wait = gate.attempt("s3cret", "s3cret", "session-new")
    assert not ok and wait > 0
    assert gate.wait_s("yet-another-session") > 0


# ----------------------------------------------------------------------------- item 20: one sentence in the CLI
@pytest.mark.parametrize("allocate", [lambda: torch.empty(2**45), lambda: bytearray(2**62)],
                         ids=["torch allocator", "python MemoryError"])
def test_an_allocation_failure_becomes_one_sentence_for_the_cli_and_the_page(allocate):
    """The worker's message (what the CLI prints after "error:" and the Train page shows) for a real failed
    allocation: torch's "DefaultCPUAllocator: can't allocate memory: you tried to allocate ... bytes" before."""
    with pytest.raises((RuntimeError, MemoryError)) as err:
        allocate()
    message = failure_message(err.value)
    assert _one_sentence(message) and "memory" in message
    assert "allocat" not in message.lower() and "bytes" not in message


def test_the_cli_refuses_a_net_over_the_caps_in_one_sentence(tmp_path, capsys):
    from explorer.cli import main
    rc = main(["train", "--dataset", "digits", "--depth", "110", "--width", "8", "--epochs", "1", "--device", "cpu",
               "--runs-dir", str(tmp_path / "runs")])
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert rc == 1 and line.startswith("error: ") and _one_sentence(line[len("error: "):]), line
    assert "M parameters" in line


# ----------------------------------------------------------------------------- issue 19, item 7: job limits bypassed
def _tiny(seed: int = 0) -> JobRequest:
    spec = experiments.single(ModelConfig(depth=8), DataConfig("digits", train_subset=64),
                              TrainConfig(epochs=1, device="cpu", seed=seed))
    return JobRequest.training(spec, "alice")


def _queue_only(store, **limits) -> JobManager:
    """A job manager that queues and never starts a worker (no slot): the limits alone are under test."""
    from explorer.jobs.manager import Limits
    return JobManager(store, limits=Limits(concurrent=0, **limits), background=False)


def test_deleting_a_job_does_not_give_back_its_start(store):
    """The probe's 40 submit+delete cycles were all accepted: the hourly count read the rows deletion removes. The
    same with a limit of 5 an hour (the default is 30) and 8 cycles."""
    manager = _queue_only(store, starts_per_hour=5)
    accepted, refusal = 0, None
    try:
        for i in range(8):
            try:
                exp_id, _ = manager.submit(_tiny(i), attach=False)
            except JobError as exc:
                refusal = str(exc)
                break
            accepted += 1
            manager.delete(exp_id, "alice")
    finally:
        manager.shutdown()
    assert accepted == 5
    assert refusal is not None and _one_sentence(refusal) and "5 jobs in the last hour" in refusal
    assert not store.list_experiments()  # every accepted one was deleted: the count lives elsewhere


def test_fresh_cookies_from_one_address_meet_the_per_client_limit(store):
    """Five fresh owner ids (cleared cookies) queued five jobs at once; a per-client limit a cookie doesn't reset
    stops the third here (a deployment where each student has an address of their own sets it this low)."""
    from dataclasses import replace
    manager = _queue_only(store, active_per_client=2)
    try:
        for i in range(2):
            manager.submit(replace(_tiny(i), owner=f"cookie-{i}", client="203.0.113.7"))
        with pytest.raises(JobError) as err:
            manager.submit(replace(_tiny(2), owner="cookie-2", client="203.0.113.7"))
        assert _one_sentence(str(err.value)) and "network address" in str(err.value)
        manager.submit(replace(_tiny(3), owner="cookie-3", client="198.51.100.1"))  # another address: its own count
        manager.submit(replace(_tiny(4), owner="cookie-4", client=None))  # localhost (a laptop): not counted
        assert len(manager.queue()) == 4
    finally:
        manager.shutdown()


def test_the_default_per_client_limits_let_a_class_of_30_behind_one_address_work(store):
    """A school NAT: thirty students share one address; each queues their job (and the limits still hold one
    browser that mints cookies to a class's worth: 60 jobs waiting or running)."""
    from dataclasses import replace
    manager = _queue_only(store)
    try:
        for i in range(30):
            manager.submit(replace(_tiny(i), owner=f"student-{i}", client="192.0.2.1"))
        assert len(manager.queue()) == 30 and manager.limits.active_per_client == 60
    finally:
        manager.shutdown()


def test_the_client_address_behind_a_proxy_is_the_right_most_trusted_hop():
    from explorer.jobs.request import client_key, proxy_setting
    assert client_key("203.0.113.7") == "203.0.113.7" and client_key(None) is None  # None: localhost
    spoofed = ["1.1.1.1, 203.0.113.7"]  # the client wrote 1.1.1.1; our proxy appended the address it saw
    assert client_key("10.0.0.2", spoofed, trusted_hops=1) == "203.0.113.7"
    assert client_key("10.0.0.2", ["1.1.1.1, 203.0.113.7", "10.0.0.9"], trusted_hops=2) == "203.0.113.7"
    assert client_key("10.0.0.2", [], trusted_hops=1) is None  # the header is missing: not counted
    assert proxy_setting({}) == (None, 0)
    assert proxy_setting({"EXPLORER_CLIENT_HEADER": "X-Forwarded-For"}) == ("X-Forwarded-For", 1)
    assert proxy_setting({"EXPLORER_CLIENT_HEADER": "X-Real-IP", "EXPLORER_TRUSTED_PROXIES": "2"}) == ("X-Real-IP", 2)
