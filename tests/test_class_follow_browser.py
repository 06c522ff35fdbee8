"""Follow the teacher and pause the class, in Chromium: one server (one job at a time), a teacher and a student on a
390x844 phone. The teacher moves the class to lesson 2 and the student, on Train, lands on it within 2 s without a
click, and what she typed on Train is still there when she goes back; the teacher pauses the class: her Start is
disabled with one sentence and her queued job is held although the server's slot is free; Go on starts it.
Screenshots of the phone's Lessons and Train: test-artifacts/follow_phone_*.png.
"""
from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest
from test_browser import ARTIFACTS, again_if_dropped, kill_workers, serve

from explorer.data.config import DataConfig
from explorer.jobs.request import JobRequest
from explorer.nets.config import ModelConfig
from explorer.training.experiments import twin
from explorer.training.recipes import TrainConfig

PASSWORD = "follow-pw"
TINY = JobRequest.training(twin(ModelConfig(depth=8, width=0.25, in_channels=1, input_size=8, num_classes=10),
                                DataConfig("digits", train_subset=64, test_subset=64),
                                TrainConfig(epochs=1, batch_size=32, device="cpu")), "")
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
FOLLOW_S = 2.0  # issue 21: a student sees the teacher's move within 2 s


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(base URL, Chromium, runs folder) of one server for the module: one job at a time, teacher mode on."""
    tmp = tmp_path_factory.mktemp("follow")
    for url, browser in serve(tmp, EXPLORER_TEACHER_PASSWORD=PASSWORD, EXPLORER_MAX_JOBS="1", OMP_NUM_THREADS="1"):
        yield url, browser, tmp / "runs"


def _no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0


def _teacher(url, browser):
    page = browser.new_context(viewport={"width": 1600, "height": 1000}).new_page()
    page.goto(url, timeout=60_000)
    page.get_by_role("heading", name="ResNet Explorer").wait_for(timeout=60_000)
    page.get_by_role("link", name="Class").first.click()  # the teacher signs in on the Class page (pages.signin)
    page.get_by_label("Teacher password").fill(PASSWORD)
    page.get_by_label("Teacher password").press("Enter")
    page.get_by_text("Teacher mode (the teacher password)").wait_for(timeout=30_000)
    page.get_by_label("Class name").fill("Period 4")
    page.get_by_role("button", name="Create the class").click()
    heading = page.get_by_role("heading", name=re.compile("Join code")).first
    heading.wait_for(timeout=30_000)
    return page, heading.inner_text().split(":")[1].strip()


def _open_sidebar(page) -> None:
    for selector in ('[data-testid="stExpandSidebarButton"]', '[data-testid="stSidebarCollapsedControl"] button'):
        if page.locator(selector).count():
            page.locator(selector).first.click()
            return


def _go(page, title: str) -> None:
    """Click a page in the navigation: on top on a wide screen, in the sidebar on a phone (opened first)."""
    link = page.get_by_role("link", name=title, exact=True).first
    in_sidebar = page.locator('[data-testid="stSidebarNavLink"]').count() > 0
    if in_sidebar:
        _open_sidebar(page)
    link.click()
    close = page.locator('[data-testid="stSidebarCollapseButton"] button')
    if in_sidebar and close.count() and close.first.is_visible():
        close.first.click()  # on a phone the open sidebar covers the page


def _pick(page, label: str, option: str) -> None:
    """Choose an option of a select box; a rerun that lands while it is open closes the list (seen under the full
    suite's load), so it is opened again."""
    def choose() -> None:
        page.get_by_label(label).click()
        page.get_by_role("option", name=option).click(timeout=15_000)
    again_if_dropped(choose)


@pytest.fixture
def stand_in():
    """A live process whose command line is a worker's: it holds the server's one slot until it is killed."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "explorer", "worker"])
    yield proc
    proc.kill()
    proc.wait()


def _status(store, exp_id):
    exp = store.load_experiment(exp_id, with_runs=False)
    return exp.status if exp else None


def _settled(page) -> None:
    """Wait until the page's run has ended (Streamlit's running indicator is gone)."""
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=30_000)


def _shot(page, name: str) -> None:
    """The whole page (Streamlit scrolls inside its own pane: the window is made tall for the picture)."""
    ARTIFACTS.mkdir(exist_ok=True)
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": 2400})
    try:
        page.screenshot(path=str(ARTIFACTS / f"follow_{name}.png"))
    finally:
        page.set_viewport_size(size)


@pytest.mark.browser
def test_a_phone_follows_the_teacher_keeps_its_input_and_pauses(served, stand_in, wait_for):
    url, browser, runs = served
    teacher, code = _teacher(url, browser)
    ann = browser.new_context(**PHONE).new_page()
    try:
        _follow_then_pause(url, teacher, code, ann, runs, stand_in, wait_for)
    except Exception:
        _shot(teacher, "failed_teacher")
        _shot(ann, "failed_phone")
        raise


def _follow_then_pause(url, teacher, code, ann, runs, stand_in, wait_for) -> None:
    from explorer.store.runstore import RunStore, worker_handle
    _pick(teacher, "Follow me: the class's lesson", "1. The degradation problem")
    ann.goto(f"{url}/?join={code}&depth=8&width=0.25&epochs=1", timeout=60_000)
    ann.get_by_role("button", name="Join the class").click()
    ann.get_by_text(re.compile(r"In class Period 4 \(.*\) as Student 1\.")).wait_for(timeout=30_000)
    _go(ann, "Lessons")  # the class's lesson 1, as the student had open
    ann.get_by_role("heading", name="1. The degradation problem").wait_for(timeout=30_000)
    _go(ann, "Train")
    epochs = ann.get_by_label("Epochs")
    epochs.fill("2")
    epochs.press("Enter")
    ann.wait_for_url(re.compile("epochs=2"), timeout=30_000)  # the page ran with it: it is kept in the setup

    _pick(teacher, "Follow me: the class's lesson", "2. The fix: a twin with identity shortcuts")
    _settled(teacher)  # the class is on lesson 2 now
    moved = time.monotonic()
    ann.get_by_role("heading", name="2. The fix: a twin with identity shortcuts").wait_for(timeout=30_000)
    took = time.monotonic() - moved
    assert took < FOLLOW_S, f"the student followed after {took:.1f} s"
    _settled(ann)
    _shot(ann, "phone_lessons")
    _go(ann, "Train")  # within the session: a reload would be a new session
    ann.get_by_label("Epochs").wait_for(timeout=30_000)
    assert ann.get_by_label("Epochs").input_value() == "2"  # what she typed survived the move

    store = RunStore(runs)  # the server's slot is busy, and Ann's tiny twin waits in line (written as submit would)
    busy = store.create_experiment({"kind": "twin"}, [{"name": "plain-8", "model": {}}], owner="someone")
    store.update_experiment(busy, status="running", worker=worker_handle(stand_in.pid), started=time.time())
    owner = next(c["value"] for c in ann.context.cookies() if c["name"] == "explorer_owner")
    mine = store.create_experiment(TINY.to_json(), TINY.runs_json(), owner=owner, spec_hash="ann-tiny")
    teacher.get_by_role("button", name="Pause the class").click()
    ann.get_by_text("Your teacher has paused the class, so new runs wait").first.wait_for(timeout=10_000)
    assert ann.locator(".st-key-train_start button").is_disabled()  # folded away under the setup: by its key
    ann.get_by_text("this job waits in the queue and starts when the class goes on").wait_for(timeout=10_000)
    stand_in.kill()
    wait_for(lambda: _status(store, busy) == "interrupted", 30, "the busy slot to free")
    assert _status(store, mine) == "queued"  # the pump that freed the slot held it: the class is paused
    teacher.get_by_role("button", name="Go on (resume the class)").click()
    wait_for(lambda: _status(store, mine) in ("running", "completed"), 30, "the held job to start")
    _settled(ann)
    _shot(ann, "phone_train")
    for page in (teacher, ann):
        _no_exception(page)
    store.close()
    kill_workers(runs)  # her tiny job has shown what it had to: the server need not wait for it at shutdown
