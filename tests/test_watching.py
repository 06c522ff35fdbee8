"""Live views redraw once a second while few sessions watch, and slower as more do, so that all of them together
stay within the server's budget (explorer.jobs.watching, pages.live): the rule, the count of watching sessions,
and the Train page of several real AppTest sessions watching one running job."""
import subprocess
import sys
import time

import pytest

from explorer.jobs.watching import (
    DEFAULT_BUDGET_CORES,
    MAX_INTERVAL_S,
    REDRAW_CPU_S,
    LiveWatchers,
    budget_cores,
    live_interval,
)


def test_the_interval_keeps_all_watchers_within_the_budget():
    assert live_interval(1) == 1.0 and live_interval(10) == 1.0  # a lone user and a small group: every second
    for n in (11, 20, 30, 45, 80):
        every = live_interval(n)
        assert n * REDRAW_CPU_S / every <= DEFAULT_BUDGET_CORES + 1e-9
        assert every - 0.5 < max(1.0, n * REDRAW_CPU_S / DEFAULT_BUDGET_CORES)  # not slower than it must be
    assert live_interval(30) == 3.0
    assert live_interval(10_000) == MAX_INTERVAL_S
    assert live_interval(0, base_s=2.0) == 2.0 and live_interval(30, base_s=2.0) == 3.0
    assert live_interval(3, budget=0.03) == 3.0


def test_the_budget_comes_from_the_environment_or_the_default():
    assert budget_cores({}) == DEFAULT_BUDGET_CORES
    assert budget_cores({"EXPLORER_LIVE_BUDGET_CORES": "1.5"}) == 1.5
    for bad in ("", "lots", "-1", "0", "nan", "inf"):
        assert budget_cores({"EXPLORER_LIVE_BUDGET_CORES": bad}) == DEFAULT_BUDGET_CORES


def test_sessions_are_counted_once_and_forgotten_when_they_stop():
    w = LiveWatchers(forget_after_s=30.0)
    assert w.seen("a", now=0.0) == 1 and w.seen("a", now=1.0) == 1  # one session counts once
    assert w.seen("b", now=2.0) == 2
    w.gone("a")
    assert w.count() == 1
    assert w.seen("c", now=40.0) == 1  # b last redrew 38 s ago: its tab was closed
    assert w.interval("d", budget=0.03, now=41.0) == 2.0  # c and d


@pytest.fixture
def running_job(runs_dir, monkeypatch):
    """A running digits twin in the app's store (a stand-in worker process), and the app's settings (conftest's
    runs_dir: the app's own run store, its job manager shut down afterwards)."""
    from explorer.data.config import DataConfig
    from explorer.nets.config import ModelConfig
    from explorer.store.runstore import RunStore, worker_handle
    from explorer.training.experiments import twin
    from explorer.training.recipes import train_config_for
    monkeypatch.setenv("EXPLORER_LIVE_BUDGET_CORES", "0.03")  # one redraw a second in all: 3 watchers -> 3 s
    store = RunStore(runs_dir)
    from explorer.data.config import model_config_for
    from explorer.data.registry import dataset_info
    base = model_config_for(ModelConfig(), dataset_info("digits"))
    spec = twin(base, DataConfig("digits"), train_config_for("digits", epochs=200))
    runs = [{"name": n, "model": c.to_dict()} for n, c in spec.models]
    exp_id = store.create_experiment(spec.to_dict(), runs, owner="someone")
    stand_in = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "explorer", "worker"])
    store.update_experiment(exp_id, status="running", worker=worker_handle(stand_in.pid), started=time.time())
    store.write_progress(exp_id, {"step": 1, "total_steps": 1000, "eta": 600.0})
    yield store, exp_id
    stand_in.kill()
    stand_in.wait()


def _watching(exp_id: str):
    from helpers import open_app
    at = open_app()
    at.session_state["watch"] = exp_id
    at.switch_page("pages/train.py").run()
    assert not at.exception, at.exception
    return at


def _live_caption(at) -> str:
    return next((c.value for c in at.caption if c.value.startswith("Live: redrawn every")), "")


def test_the_train_page_redraws_less_often_as_more_sessions_watch(running_job):
    store, exp_id = running_job
    from pages.live import watchers
    first = _watching(exp_id)
    assert watchers().count() == 1 and _live_caption(first) == ""  # alone: every second, nothing to explain
    others = [_watching(exp_id) for _ in range(2)]
    assert watchers().count() == 3
    assert _live_caption(others[-1]) == ("Live: redrawn every 3 s while 3 sessions watch this server (keeps it "
                                         "responsive for everyone).")
    assert first.session_state["_live_every_live"] == 1.0  # its timer was set when it was alone ...
    first.run()  # ... its next run takes the new one
    assert first.session_state["_live_every_live"] == 3.0 and _live_caption(first).startswith("Live: redrawn every 3 s")

    store.update_experiment(exp_id, status="stopped", finished=time.time())  # the job ends
    for at in (first, *others):
        at.run()
        assert not at.exception, at.exception
    assert watchers().count() == 0  # nobody watches a finished job live
