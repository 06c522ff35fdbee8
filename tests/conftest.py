"""Shared fixtures: a tiny slice of the built-in digits, a fast recipe, a throwaway run store, polling, the app.

Keep this file small; fixtures used by one test file belong in that file.
"""
import os
from pathlib import Path

# Before torch is imported anywhere: OpenMP threads that spin while waiting for each other make small
# nets many times slower on a shared 2-core machine (docs/benchmarks.md). Set in the entry points too.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402
from store_fixtures import BACKENDS, fresh_url  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# Test files that share something outside the test process run one after another on one pytest-xdist worker.
SHARED = {"test_ray_backend": "ray-cluster", "test_replicas": "ray-cluster",  # the CI's one Ray cluster
          "test_browser": "chromium", "test_classroom_browser": "chromium"}  # a server and Chromium each: heavy
# The groups that take longest, longest first (a CI run's times: docs/benchmarks.md, "The test suite"). The workers
# take groups in collection order (pyproject.toml: --no-loadscope-reorder), so the long ones start at once and no
# worker is left alone with one at the end. Any other group with a browser or a slow test comes next, then the rest,
# most tests first.
LONGEST_FIRST = ("ray-cluster", "test_store_faults", "chromium", "test_figure6", "test_a11y_browser",
                 "test_i18n_browser", "test_classroom_app", "test_i18n", "test_wheel", "test_hostile_checkpoints",
                 "test_jobs", "test_static", "test_runs_app", "test_backends")


def group_of(nodeid: str) -> str:
    """The group a test runs in: its file's, or the one it shares with other files (SHARED)."""
    module = Path(nodeid.split("::", 1)[0]).stem
    return SHARED.get(module, module)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Each group goes whole to one pytest-xdist worker, so its module-scoped fixtures are built once and files that
    share the Ray cluster (or Chromium) never run at once. (xdist's own `loadgroup` reads `xdist_group` marks into
    node ids, which pytest >= 9.2 no longer lets it rename, so it would group nothing.)"""
    from xdist.scheduler import LoadScopeScheduling

    class ByGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid)

        def _reschedule(self, node) -> None:
            # xdist hands a worker its next group while two of its tests are left; one is enough (a worker runs its
            # last test once it knows what comes next), and the next group no longer waits behind two long tests.
            if node.shutting_down:
                return
            if not self.workqueue:
                node.shutdown()
            elif self._pending_of(self.assigned_work[node]) <= 1:
                self._assign_work_unit(node)
    return ByGroup(config, log)


def pytest_collection_modifyitems(config, items):
    """The longest groups first, each group's tests together and in their own order (the workers' collection order
    is the order in which groups are handed out). The PostgreSQL cases get a database per worker (store_fixtures)."""
    groups: dict[str, list] = {}
    for item in items:
        groups.setdefault(group_of(item.nodeid), []).append(item)

    def rank(name: str) -> tuple:
        members = groups[name]
        heavy = sum(1 for i in members if i.get_closest_marker("browser") or i.get_closest_marker("slow"))
        listed = LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)
        return listed, -heavy, -len(members)
    items[:] = [item for name in sorted(groups, key=rank) for item in groups[name]]


@pytest.fixture(scope="module")
def torch_one_thread():
    """One intra-op thread for the module's tests: tiny nets gain nothing from more, and on shared cores
    two threads that wait for each other make an 8-step run ten times slower. Restored afterwards."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_digits():
    """64 training and 64 test images of scikit-learn's digits (every class present)."""
    from explorer.data.config import DataConfig
    from explorer.data.datasets import load_dataset
    return load_dataset(DataConfig("digits", train_subset=64, test_subset=64))


@pytest.fixture
def tiny_recipe():
    """Two epochs of 4 steps each on tiny_digits, on the CPU."""
    from explorer.training.recipes import TrainConfig
    return TrainConfig(epochs=2, batch_size=16, lr=0.05, schedule="constant", device="cpu", log_every=2)


@pytest.fixture
def store(tmp_path):
    """An empty run store in a temporary folder."""
    from explorer.store.runstore import RunStore
    return RunStore(tmp_path / "runs")


@pytest.fixture
def worker_env(tmp_path, monkeypatch):
    """Environment for real worker and CLI subprocesses (and set in os.environ, which the job manager's workers
    inherit): temporary run and data folders, one thread, this checkout importable."""
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("EXPLORER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # see torch_one_thread; job-manager workers inherit os.environ
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


@pytest.fixture
def wait_for():
    """wait_for(predicate, timeout_s, what) polls every 0.1 s and returns the first truthy value, or fails."""
    from helpers import wait_until
    return wait_until



# ----------------------------------------------------------------------------- the app (Streamlit's AppTest)
@pytest.fixture
def runs_dir(tmp_path, monkeypatch, request):
    """The app's server for one test: a private run store (EXPLORER_RUNS_DIR, the same folder as `store`), one
    OpenMP thread for its workers, no teacher password unless the test is marked `teacher_password(PASSWORD)`.

    Streamlit's caches are process-wide: they are cleared first (a job manager cached by an earlier test points
    at that test's folder), and the app's job manager is shut down afterwards, stopping any worker it started.
    """
    import streamlit as st
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # job-manager workers inherit os.environ
    monkeypatch.delenv("EXPLORER_TEACHER_PASSWORD", raising=False)
    marked = request.node.get_closest_marker("teacher_password")
    if marked is not None:
        monkeypatch.setenv("EXPLORER_TEACHER_PASSWORD", marked.args[0])
    st.cache_resource.clear()
    st.cache_data.clear()
    yield tmp_path / "runs"
    from pages.common import job_manager
    job_manager().shutdown(grace_s=1.0)  # the app's own (cached) manager; a fresh one with no jobs if none was made
    st.cache_resource.clear()


@pytest.fixture
def new_app(runs_dir):
    """new_app(page=None, **query) -> an AppTest of streamlit_app.py after its first run (one browser session),
    opened with this URL query and switched to this page ("train" or "pages/train.py")."""
    from helpers import open_app
    return open_app


@pytest.fixture(params=BACKENDS)
def room(request, tmp_path):
    """A class room on a fresh run store, once per database backend (tests/store_fixtures.py; the class and
    gating tests share it)."""
    from explorer.classroom.classes import Classroom
    from explorer.store.runstore import RunStore
    store = RunStore(tmp_path / "runs", fresh_url(request.param))
    r = Classroom(store)
    yield r
    r.close_engines()
    store.close()
