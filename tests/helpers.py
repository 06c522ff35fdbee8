"""Small helpers shared by several test files (fixtures live in conftest.py)."""
import torch
from torch import nn


def warm_bn(model: nn.Module, seed: int = 1) -> nn.Module:
    """Give BN non-trivial running statistics, as training would, with a few train-mode passes on 1x8x8 noise."""
    g = torch.Generator().manual_seed(seed)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(16, 1, 8, 8, generator=g) * 2 + 0.5)
    return model


# ----------------------------------------------------------------------------- polling and the app
def wait_until(predicate, timeout_s: float = 60.0, what: str = "the condition", every_s: float = 0.1):
    """Poll predicate() until it is truthy and return that value; fail the test after timeout_s."""
    import time

    import pytest
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every_s)
    pytest.fail(f"Timed out after {timeout_s:.0f} s waiting for {what}.")


def open_app(page: str | None = None, timeout_s: float = 120, **query):
    """An AppTest of streamlit_app.py after its first run (one browser session), opened with this URL query, then
    switched to this page ("train" or "pages/train.py") when one is named."""
    from pathlib import Path

    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "streamlit_app.py"), default_timeout=timeout_s)
    for k, v in query.items():
        at.query_params[k] = str(v)
    at.run()
    assert not at.exception, at.exception
    if page:
        at.switch_page(page if page.endswith(".py") else f"pages/{page}.py").run()
        assert not at.exception, at.exception
    return at


def poll_app(at, done, what: str, timeout_s: float = 180.0, every_s: float = 0.5):
    """Rerun the app about once a second (as a page's fragment would) until done(at) is truthy; that value.

    Every rerun must be free of exceptions; the test fails after timeout_s.
    """
    def rerun():
        at.run()
        assert not at.exception, at.exception
        return done(at)
    return wait_until(rerun, timeout_s, what, every_s)


# ----------------------------------------------------------------------------- jobs
class Killed(BaseException):
    """Stands for SIGKILL inside one process: nothing after it runs, not even the worker's failure handler."""


def interrupt_at_step(store, exp_id: str, step: int) -> None:
    """Run an experiment in this process until `step`, end it there as a killed worker would, mark it interrupted."""
    import pytest

    from explorer.jobs.worker import run_experiment
    from explorer.training.events import StepEvent

    def kill(event):
        if isinstance(event, StepEvent) and event.step == step:
            raise Killed
    with pytest.raises(Killed):
        run_experiment(store, exp_id, callback=kill)
    store.mark_interrupted(exp_id, "The worker process ended unexpectedly.")


def _digits():
    from explorer.data.config import DataConfig
    from explorer.nets.config import ModelConfig
    net = ModelConfig(depth=8, in_channels=1, input_size=8, num_classes=10)
    short = (DataConfig("digits", train_subset=64, test_subset=64), dict(epochs=2, batch_size=32))
    long = (DataConfig("digits", test_subset=64), dict(epochs=500, batch_size=16))  # minutes: stopped or killed
    return net, short, long


DIGIT_NET, SHORT, LONG = _digits()  # a twin of two 8-layer digits nets: a few seconds (SHORT) or minutes (LONG)


def submit_twin(manager, owner: str, seed: int = 0, size=SHORT) -> str:
    """Submit a DIGIT_NET twin of this size through a job manager; its experiment id."""
    from explorer.training.experiments import twin
    from explorer.training.recipes import TrainConfig
    data, recipe = size
    spec = twin(DIGIT_NET, data, TrainConfig(seed=seed, device="cpu", log_every=1, schedule="constant", **recipe))
    from explorer.jobs.request import JobRequest
    return manager.submit(JobRequest.training(spec, owner))[0]


def run(at):
    """Run an AppTest once more and check the app raised nothing; the AppTest, for chaining."""
    at.run()
    assert not at.exception, at.exception
    return at


def create_class(at, password: str, name: str) -> str:
    """On an AppTest after its first run: sign in as the teacher on the Class page with `password`, create the class
    `name`; its code."""
    at.switch_page("pages/classroom.py")
    run(at)
    at.text_input(key="class_teacher_pw").input(password)  # the Class page's password box (pages.signin)
    run(at)
    at.text_input(key="class_new_name").input(name)
    at.button(key="class_create").click()
    run(at)
    return next(m.value.split(": ")[1] for m in at.markdown if m.value.startswith("## Join code"))
