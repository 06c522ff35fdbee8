"""Activation memory (issue 19, finding 1): a net within every size cap whose activations take gigabytes is refused
before anything real is allocated, a small net still runs, sessions together stay within the server's budget, a
training job over its cap is refused at submit, and the estimate is checked against measured memory.

The probe's net: CIFAR-style, 1,202 layers, width 0.125, 512×512 inputs: 0.31 M parameters, 11.3 G mult-adds, a
3.6 MB checkpoint; one Grad-CAM of it took the server from 0.9 to 4.2 GB. Memory is measured in a fresh interpreter
(tests/memory.py), whose address space is capped, so a regression fails there instead of taking the machine.
"""
import re
import threading
import time

import pytest
import torch
from memory import measure

from explorer.analysis.attribution import attribute, attribute_details
from explorer.jobs.manager import JobError
from explorer.nets.builder import build_model
from explorer.nets.caps import MAX_PARAMS
from explorer.nets.config import ModelConfig
from explorer.nets.memory import ALLOCATOR_SLACK, activation_profile, server_budget

pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tiny nets; see tests/conftest.py

PROBE = dict(depth=1202, width=0.125, input_size=512, in_channels=3)  # the finding's net
REFUSED_GROWTH_MB = 300  # the bound for a refused request (it took 3.2 GB in the library before)
REFUSED_CPU_S = 10


def _one_sentence(text: str) -> bool:
    return text.endswith(".") and "\n" not in text and not re.search(r"\.\s+[A-Z]", text) and "Traceback" not in text


@pytest.fixture
def digit():
    return torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(0))


@pytest.fixture
def digit_net():
    torch.manual_seed(0)
    return build_model(ModelConfig(depth=8, in_channels=1, input_size=8))


def _budget_mb(nbytes: float) -> str:
    return f"{nbytes / 2**20:.6f}"  # EXPLORER_ACTIVATION_BUDGET_MB takes megabytes (2**20 bytes), fractions too


# ----------------------------------------------------------------------------- measured in one child
EXPLAIN_NET = dict(depth=20, width=0.25, input_size=448, in_channels=3)  # saliency: ~75 MB live
TRAIN_NET = dict(depth=20, block="bottleneck", width=0.5, input_size=64, in_channels=3, placement="full_preact",
                 shortcut="B")  # a training step on 16 images: ~110 MB live

_SETUP = f"""
    import ctypes, time, torch
    torch.set_num_threads(1)
    from explorer.analysis.attribution import attribute
    from explorer.nets.builder import build_model
    from explorer.nets.config import ModelConfig

    def peak_of(run):
        # Peak resident growth of run() in MB: the kernel's high-water mark, reset first (clear_refs 5).
        def status(field):
            return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith(field)) / 1024
        # Freed blocks an earlier measurement left with glibc would be reused unseen (a training step once grew
        # only 61 MB after the saliency map, against ~100 MB alone): hand them back to the kernel first.
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        before, start = status("VmRSS:"), time.process_time()
        value = run()
        value = value if isinstance(value, list) else None
        return {{"growth_mb": status("VmHWM:") - before, "cpu_s": time.process_time() - start, "value": value}}

    def refusals():
        sentences = []
        for method in ("gradcam", "saliency", "integrated_gradients"):
            try:
                attribute(probe, torch.rand(1, 3, 512, 512), method)
                sentences.append(None)
            except ValueError as exc:
                sentences.append(str(exc))
        return sentences

    def step():
        loss = torch.nn.functional.cross_entropy(trained(torch.rand(16, 3, 64, 64)), torch.zeros(16, dtype=int))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    torch.manual_seed(0)
    probe = build_model(ModelConfig(**{PROBE!r}))  # a valid config: within the depth and input caps
    explained = build_model(ModelConfig(**{EXPLAIN_NET!r}))
    attribute(explained, torch.rand(1, 3, 64, 64), "saliency")  # warm-ups take one-off costs out of the measures
    trained = build_model(ModelConfig(**{TRAIN_NET!r})).train()
    opt = torch.optim.SGD(trained.parameters(), lr=0.1, momentum=0.9)
    trained(torch.rand(2, 3, 16, 16)).sum().backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
"""
_BODY = """
    outcome["value"] = {"params": sum(p.numel() for p in probe.parameters()), "probe": peak_of(refusals),
                        "saliency": peak_of(lambda: attribute(explained, torch.rand(1, 3, 448, 448), "saliency")),
                        "step": peak_of(step), "child_cpu_s": time.process_time()}
"""


@pytest.fixture(scope="module")
def measured():
    """The probe's refusals, a saliency map and a training step, each measured in one fresh interpreter (whose
    address space is capped 2 GB above its start: the probe's 3.2 GB could not be allocated there)."""
    result = measure(_SETUP, _BODY)
    assert result["error"] is None, result
    return result["value"]


def test_the_probes_net_is_within_the_size_caps_but_its_explanations_are_refused_before_allocating(measured):
    assert 0.30e6 < measured["params"] < 0.32e6 <= MAX_PARAMS  # so the parameter cap could not catch it
    probe = measured["probe"]
    sentences = probe["value"]
    assert all(s is not None and _one_sentence(s) for s in sentences), sentences
    assert sentences[0].startswith("Grad-CAM would need about 4.") and "GB of memory" in sentences[0]  # 2.9 live
    assert probe["growth_mb"] < REFUSED_GROWTH_MB and probe["cpu_s"] < REFUSED_CPU_S, probe


def test_the_estimate_bounds_a_measured_explanation_and_training_step(measured):
    """The estimate is within [0.7, 3] of the measured peak growth: an upper bound as a rule, never far under.

    It counts live tensors (1.0-1.15x what a process holds when the C allocator hands big blocks back at once) times
    ALLOCATOR_SLACK, 1.5: with glibc's defaults freed blocks are kept, and the peak above live varies from run to
    run (explorer.nets.memory). Seen here: 1.0-1.1x for the map, 1.7-2.2x for the training step.
    """
    from explorer.nets.cost import training_memory
    explain = activation_profile(build_model(ModelConfig(**EXPLAIN_NET)), (3, 448, 448)).backward_bytes(1)
    train = training_memory([ModelConfig(**TRAIN_NET)], 16)
    assert ALLOCATOR_SLACK == 1.5
    for estimated, seen in ((explain, measured["saliency"]), (train, measured["step"])):
        assert seen["growth_mb"] > 50, measured  # well above the noise
        assert 0.7 * seen["growth_mb"] <= estimated / 2**20 <= 3 * seen["growth_mb"], (estimated / 2**20, seen)


def test_a_small_net_within_the_caps_still_runs(digit, digit_net):
    for method in ("gradcam", "saliency"):
        heat = attribute(digit_net, digit, method)
        assert heat.shape == (8, 8) and heat.sum() > 0


def test_integrated_gradients_shrinks_its_batch_to_fit_instead_of_refusing(monkeypatch, digit, digit_net):
    full = attribute_details(digit_net, digit, "integrated_gradients", n_steps=8, max_steps=8)
    one = activation_profile(digit_net, tuple(digit.shape)).backward_bytes(1)
    monkeypatch.setenv("EXPLORER_ACTIVATION_BUDGET_MB", _budget_mb(2.5 * one))  # two images fit, not eight
    held = []
    small = attribute_details(digit_net, digit, "integrated_gradients", n_steps=8, max_steps=8,
                              progress=lambda f: held.append(server_budget().used))
    assert max(held) <= 2.5 * one and len(held) >= 4  # 8 steps in forwards of 2 images
    assert torch.allclose(small.heat, full.heat, atol=1e-6) and small.n_steps == full.n_steps


# ----------------------------------------------------------------------------- the server's budget
def _hold_first_call(started: threading.Event, release: threading.Event):
    """A progress callback that, on its first call (inside the run, budget held), waits until released."""
    def progress(fraction: float) -> None:
        if not started.is_set():
            started.set()
            release.wait(10)
    return progress


@pytest.mark.parametrize("wait_s", [5.0, 0.2])
def test_two_sessions_over_the_budget_wait_in_line_or_hear_one_sentence(monkeypatch, digit, digit_net, wait_s):
    """Two real threads; the budget (EXPLORER_ACTIVATION_BUDGET_MB) holds one request, not both: the second
    waits until the first is done, or, past the wait allowed, is told the server is busy."""
    one = activation_profile(digit_net, tuple(digit.shape)).backward_bytes(4)
    monkeypatch.setenv("EXPLORER_ACTIVATION_BUDGET_MB", _budget_mb(1.5 * one))
    monkeypatch.setattr(server_budget(), "wait_s", wait_s)
    other = build_model(ModelConfig(depth=8, in_channels=1, input_size=8))
    started, release, outcome = threading.Event(), threading.Event(), {}

    def first() -> None:
        attribute(digit_net, digit, "integrated_gradients", n_steps=4, max_steps=4,
                  progress=_hold_first_call(started, release))

    def second() -> None:
        try:
            outcome["heat"] = attribute(other, digit, "integrated_gradients", n_steps=4, max_steps=4)
        except ValueError as exc:
            outcome["refused"] = str(exc)
        outcome["at"] = time.monotonic()

    one_thread = threading.Thread(target=first)
    one_thread.start()
    assert started.wait(10)
    two_thread = threading.Thread(target=second)
    two_thread.start()
    time.sleep(0.4)  # longer than the short wait; the second has not run meanwhile
    released_at = time.monotonic()
    release.set()
    one_thread.join(10)
    two_thread.join(10)
    if wait_s > 1:
        assert "heat" in outcome and outcome["at"] >= released_at  # it waited in line, then ran
    else:
        assert outcome["refused"] == "The server is busy with other large computations; try again in a moment."
    assert server_budget().used == 0


def test_a_request_larger_than_the_whole_budget_is_refused_at_once(monkeypatch, digit, digit_net):
    one = activation_profile(digit_net, tuple(digit.shape)).backward_bytes(1)
    monkeypatch.setenv("EXPLORER_ACTIVATION_BUDGET_MB", _budget_mb(0.5 * one))
    with pytest.raises(ValueError) as err:
        attribute(digit_net, digit, "saliency")
    assert "Saliency would need about" in str(err.value) and _one_sentence(str(err.value))


# ----------------------------------------------------------------------------- training jobs
def test_a_training_job_over_its_memory_cap_is_refused_at_submit(monkeypatch, store):
    from explorer.data.config import DataConfig
    from explorer.jobs.manager import JobManager
    from explorer.jobs.request import JobRequest
    from explorer.nets.cost import training_memory
    from explorer.training import experiments
    from explorer.training.recipes import TrainConfig
    spec = experiments.twin(ModelConfig(depth=8), DataConfig("digits", train_subset=64),
                            TrainConfig(epochs=1, batch_size=64, device="cpu"))
    need = training_memory([cfg for _, cfg in spec.models], 64)  # both twins train in one worker
    monkeypatch.setenv("EXPLORER_JOB_ACTIVATION_MB", _budget_mb(0.9 * need))
    manager = JobManager(store, background=False)
    try:
        with pytest.raises(JobError) as err:
            manager.submit(JobRequest.training(spec, "alice"))
        assert "on batches of 64 images would need about" in str(err.value) and _one_sentence(str(err.value))
        assert not store.list_experiments()  # nothing queued
        monkeypatch.setenv("EXPLORER_JOB_ACTIVATION_MB", _budget_mb(1.1 * need))
        manager._check_memory(spec)  # just above the estimate: accepted (no JobError)
    finally:
        manager.shutdown()


# ----------------------------------------------------------------------------- the Explain page
def test_explain_shows_the_refusal_sentence_and_keeps_the_rest(new_app, monkeypatch):
    """A small budget (the variable a deployment sets) below one digit's map: each twin's column says so in one
    sentence, and its predictions are still drawn."""
    monkeypatch.setenv("EXPLORER_ACTIVATION_BUDGET_MB", "0.001")
    at = new_app("explain")
    assert not at.exception, at.exception
    refusals = [e.value for e in at.error if "would need about" in e.value]
    assert len(refusals) == 2 and all(_one_sentence(r) for r in refusals), [e.value for e in at.error]
    assert "one explanation may use" in refusals[0]
    charts = [c.key for c in at.get("plotly_chart")]
    assert sum(k.startswith("explain_top5_") for k in charts) == 2 and not any(k.startswith("explain_map_")
                                                                                for k in charts)


def test_build_shows_the_training_memory_and_the_sentence_over_the_cap(new_app, monkeypatch):
    from explorer.nets.cost import training_memory
    from explorer.nets.memory import human_bytes
    at = new_app()
    at.switch_page("pages/build.py").run()
    shown = {m.label: m.value for m in at.metric}
    label = next(label for label in shown if label.startswith("Training memory (both, batch "))
    batch = int(label.rsplit(" ", 1)[1].rstrip(")"))
    cfg = ModelConfig(depth=20, in_channels=1, input_size=8)  # the page's default: ResNet-20 on 8x8 digits
    assert shown[label] == human_bytes(training_memory((cfg, cfg.plain()), batch))
    monkeypatch.setenv("EXPLORER_JOB_ACTIVATION_MB", "0.001")
    at.run()
    sentences = [e.value for e in at.error if "would need about" in e.value]
    assert len(sentences) == 1 and "a job may use" in sentences[0] and _one_sentence(sentences[0])
    assert not any(label.startswith("Training memory") for label in (m.label for m in at.metric))
