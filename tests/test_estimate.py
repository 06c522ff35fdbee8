"""explorer.jobs.estimate: job times and queue waits as ranges, learnt from real jobs recorded in a real run store."""
import dataclasses
import time

import pytest
from helpers import DIGIT_NET

from explorer.data.config import DataConfig
from explorer.jobs import estimate
from explorer.jobs.request import JobRequest
from explorer.jobs.status import duration_range, job_status
from explorer.jobs.worker import run_experiment
from explorer.store.records import Experiment, Progress
from explorer.training.experiments import twin
from explorer.training.recipes import TrainConfig

pytestmark = pytest.mark.usefixtures("torch_one_thread")

DATA = DataConfig("digits", train_subset=64, test_subset=64)


def _spec(seed: int, epochs: int = 1) -> dict:
    train = TrainConfig(seed=seed, device="cpu", epochs=epochs, batch_size=32, schedule="constant")
    return JobRequest.training(twin(DIGIT_NET, DATA, train), "alice").to_json()


def _run(store, spec: dict) -> Experiment:
    """A real job, trained in this process, as a worker would: the store records its start and finish."""
    exp_id = store.create_experiment(spec, [], owner="alice")
    done = run_experiment(store, exp_id)
    assert done is not None and done.status == "completed"
    return done


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A store holding four real tiny twins (the newest last), and what the first three measured."""
    from explorer.store.runstore import RunStore
    store = RunStore(tmp_path_factory.mktemp("estimate") / "runs")
    jobs = [_run(store, _spec(seed)) for seed in range(4)]
    return store, jobs


def test_a_similar_jobs_estimate_is_what_the_measured_ones_took_inside_its_range(recorded):
    store, jobs = recorded
    history = estimate.measured_jobs(jobs[:3][::-1])  # newest first, as the store gives them
    assert len(history) == 3 and all(m.dataset == "digits" and m.device == "cpu" for m in history)
    span = estimate.job_time(history, jobs[3].spec)  # the fourth job, a different seed, as if not yet run
    # The same size of job: the estimate is the median of what the three took, inside its range. (How close it
    # comes to a job's real time on a quiet server is benchmarks/bench_class.py's figure: a test's 0.1 s jobs on
    # shared cores vary threefold.)
    took = sorted(j.finished - j.started for j in jobs[:3])
    assert span.measured and span.mid == pytest.approx(took[1], rel=1e-6), (span, took)
    assert span.low <= took[1] <= span.high
    assert span.high / span.low < 3  # a range, not a shrug (even when the first job paid one-time imports)


def test_the_store_s_history_survives_a_new_reader_and_scales_with_the_work(recorded):
    from explorer.store.runstore import RunStore
    store, jobs = recorded
    again = RunStore(store.root)  # a restarted server reads what the old one recorded
    done = again.with_status(["completed"], oldest_first=False, limit=estimate.HISTORY_JOBS).items
    history = estimate.measured_jobs(done)
    assert len(history) == 4
    one, five = estimate.job_time(history, _spec(9, epochs=1)), estimate.job_time(history, _spec(9, epochs=5))
    assert five.mid == pytest.approx(5 * one.mid, rel=0.35)  # five times the epochs: about five times as long


def test_without_history_the_range_is_wide_and_says_it_is_a_guess():
    span = estimate.job_time([], _spec(0))
    assert not span.measured and span.high == pytest.approx(6 * span.low)
    assert estimate.job_time([], {"kind": "landscape"}) is None  # a landscape job reports its own ETA


def _running(spec: dict, started: float, fraction: float) -> Experiment:
    return Experiment(id="r", kind="train", owner="bob", status="running", spec=spec, started=started,
                      progress=Progress(step=int(100 * fraction), total_steps=100))


def test_a_queued_wait_adds_the_running_jobs_time_left_and_the_jobs_ahead_and_moves_smoothly(recorded):
    store, jobs = recorded
    history = estimate.measured_jobs(jobs[::-1])
    one = estimate.job_time(history, _spec(5))
    now = time.time()
    running = [_running(_spec(5), now - one.mid / 2, 0.5)]  # half done, at the measured pace
    queued = [dataclasses.replace(running[0], id=f"q{i}", status="queued", progress=None) for i in range(3)]
    left = estimate.time_left(history, running[0], now, budget_s=1800)
    assert left.low <= one.mid / 2 <= left.high
    waits = [estimate.queue_wait(history, running, queued[:i], 1, now, 1800, 60.0) for i in range(3)]
    assert waits[0].mid == pytest.approx(left.mid)
    assert waits[1].mid == pytest.approx(left.mid + one.mid) and waits[2].mid == pytest.approx(left.mid + 2 * one.mid)
    assert all(w.low <= w.mid <= w.high and w.measured for w in waits)
    two_slots = estimate.queue_wait(history, running, queued[:2], 2, now, 1800, 60.0)
    assert two_slots.mid == pytest.approx(min(left.mid + one.mid, one.mid))  # the free slot takes the first ahead
    # A second later the wait moves by about a second, not by minutes (the 12 min -> 4 min -> 2 min -> 82 s).
    later = estimate.queue_wait(history, running, queued[:1], 1, now + 1.0, 1800, 60.0)
    assert abs(later.mid - waits[1].mid) <= 1.5


def test_pages_show_the_estimates_as_ranges():
    queued = Experiment(id="q", kind="train", owner=None, status="queued", spec={})
    shown = job_status(queued, {"place": 2, "wait_s": 100.0, "low_s": 80.0, "high_s": 150.0}).text
    assert shown == "Queued: number 2 in line, 80 s – 2 min to wait."
    running = _running({}, time.time(), 0.25)
    assert job_status(running, left=(120.0, 180.0)).text == "Step 25 of 100 · 2–3 min left"
    assert duration_range(40, 55) == "40–55 s" and duration_range(100, 110) == "about 2 min"


def test_a_job_on_an_uploaded_folder_is_not_priced_as_taking_no_time(tmp_path):
    """An uploaded folder's record has no image count (0): its size-based guess would be 0 s, and a running job's
    range was 0/0 (the Train page failed). Such a job is left to its own ETA, like a job of another kind."""
    from PIL import Image
    for label in ("cat", "dog"):
        (tmp_path / label).mkdir()
        for i in range(2):
            Image.new("RGB", (8, 8), (40 * i, 90, 200)).save(tmp_path / label / f"{i}.png")
    train = TrainConfig(seed=0, device="cpu", epochs=1, batch_size=32, schedule="constant")
    spec = JobRequest.training(twin(DIGIT_NET, DataConfig("folder", path=str(tmp_path)), train), "alice").to_json()
    assert estimate.guess(spec) is None and estimate.job_time([], spec) is None
