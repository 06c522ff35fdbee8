"""explorer.training.engine: twins start equal, lockstep batches, seeds, stop requests, divergence, events."""
import copy
import dataclasses
import math
import subprocess
import sys

import pytest
import torch

from explorer.data.config import DataConfig
from explorer.nets.config import ModelConfig
from explorer.store.runstore import RunStore, load_checkpoint
from explorer.training.engine import Lockstep, build_models, lr_factor, train_models
from explorer.training.events import EndEvent, EpochEvent, StatusEvent, StepEvent
from explorer.training.experiments import twin
from explorer.training.recipes import TrainConfig

pytestmark = pytest.mark.usefixtures("torch_one_thread")

DIGIT_NET = ModelConfig(depth=8, in_channels=1, input_size=8, num_classes=10)


def _state(model):
    return model.state_dict()


def _shared_names(a, b):
    sa, sb = _state(a), _state(b)
    return [k for k in sa if k in sb and sa[k].shape == sb[k].shape]


def _epoch_records(events, run=None):
    """The epoch events (as docs/engine.md's dicts) of one run, or of all."""
    return [e.to_dict() for e in events if isinstance(e, EpochEvent) and (run is None or e.run == run)]


# ----------------------------------------------------------------------------- twins start equal
def test_twins_with_shortcuts_none_A_B_start_from_identical_weights():
    cfgs = [("plain", DIGIT_NET.plain()), ("A", DIGIT_NET), ("B", dataclasses.replace(DIGIT_NET, shortcut="B"))]
    models = build_models(cfgs, seed=3)
    for x, y in (("plain", "A"), ("plain", "B"), ("A", "B")):
        names = _shared_names(models[x], models[y])
        assert set(names) == set(_state(models[x]))  # every tensor of the smaller net has its twin
        for k in names:
            assert torch.equal(_state(models[x])[k], _state(models[y])[k]), (x, y, k)
    extra = set(_state(models["B"])) - set(_state(models["A"]))
    assert extra and all(".shortcut." in k for k in extra)  # B's projections are its own
    other = build_models(cfgs[:1], seed=4)["plain"]  # a different seed gives different weights
    assert not torch.equal(_state(other)["conv1.weight"], _state(models["plain"])["conv1.weight"])


@pytest.mark.parametrize("residual_first", [False, True])
def test_zero_init_residual_is_not_inherited_by_the_plain_twin(residual_first):
    residual = dataclasses.replace(DIGIT_NET, zero_init_residual=True)
    pair = [("plain", residual.plain()), ("resnet", residual)]
    models = build_models(pair[::-1] if residual_first else pair, seed=0)
    res_units, plain_units = models["resnet"].units(), models["plain"].units()
    assert all(not u.zero_init_target.weight.detach().any() for _, u in res_units)
    assert all(torch.all(u.zero_init_target.weight == 1) for _, u in plain_units)
    # the plain twin is exactly what it would be beside a residual twin without zero-init
    reference = build_models([("plain", residual.plain()), ("resnet", DIGIT_NET)], seed=0)["plain"]
    for k, v in _state(reference).items():
        assert torch.equal(v, _state(models["plain"])[k]), k
    zeroed = {f"{n}.{name}" for n, u in res_units for name, p in u.named_parameters() if p is u.zero_init_target.weight}
    for k in _shared_names(models["plain"], models["resnet"]):
        if k not in zeroed:
            assert torch.equal(_state(models["plain"])[k], _state(models["resnet"])[k]), k


# ----------------------------------------------------------------------------- lockstep and seeds
def test_lockstep_copies_see_the_same_batches_and_end_identical(tiny_digits, tiny_recipe):
    """Two copies of one net trained in lockstep stay bit-identical: same batches, order and augmentation."""
    models = build_models([("a", DIGIT_NET), ("b", DIGIT_NET)], seed=1)
    events = []
    results = train_models(models, tiny_digits, tiny_recipe, events.append)
    assert results["a"].status == results["b"].status == "completed"
    for k, v in _state(models["a"]).items():
        assert torch.equal(v, _state(models["b"])[k]), k

    def strip(recs):
        return [{k: v for k, v in r.items() if k not in ("run", "elapsed", "eta", "images_per_second")} for r in recs]
    assert strip(_epoch_records(events, "a")) == strip(_epoch_records(events, "b"))


def _train_twin(data, recipe, seed):
    events = []
    models = build_models([("plain", DIGIT_NET.plain()), ("resnet", DIGIT_NET)], seed=seed)
    train_models(models, data, dataclasses.replace(recipe, seed=seed), events.append)
    keys = ("run", "epoch", "train_loss", "train_error", "test_loss", "test_error", "grad_norms", "branch_ratios")
    return [{k: e.get(k) for k in keys} for e in _epoch_records(events)]


def test_same_seed_gives_the_same_metrics_on_the_cpu(tiny_digits, tiny_recipe):
    first = _train_twin(tiny_digits, tiny_recipe, seed=7)
    assert first == _train_twin(tiny_digits, tiny_recipe, seed=7)
    assert [r["epoch"] for r in first if r["run"] == "resnet"] == [0, 1, 2]
    other = _train_twin(tiny_digits, tiny_recipe, seed=8)
    assert [r["train_loss"] for r in other] != [r["train_loss"] for r in first]


# ----------------------------------------------------------------------------- stop and divergence
def _stop_after(k):
    calls = {"n": 0}

    def should_stop():
        calls["n"] += 1
        return calls["n"] > k  # polled once before each batch: k batches train
    return should_stop


@pytest.mark.parametrize("k", [2, 4])  # mid-epoch, and exactly at the end of the first epoch (4 steps)
def test_stop_request_keeps_runs_stopped_with_their_metrics(tiny_digits, tiny_recipe, k):
    models = build_models([("plain", DIGIT_NET.plain()), ("resnet", DIGIT_NET)], seed=0)
    events = []
    results = train_models(models, tiny_digits, tiny_recipe, events.append, should_stop=_stop_after(k))
    for name in ("plain", "resnet"):
        r = results[name]
        assert r.status == "stopped", r.message
        assert r.epochs == k // 4  # completed epochs only
        last = _epoch_records(events, name)[-1]
        assert last["step"] == k and last.get("partial", False) == (k % 4 != 0)
        assert r.final == {key: last[key] for key in ("train_loss", "train_error", "test_loss", "test_error")}
        assert all(math.isfinite(v) for v in r.final.values())
    assert isinstance(events[-1], EndEvent) and events[-1].stopped


def test_nan_marks_only_that_run_diverged_and_the_other_goes_on(tiny_digits, tiny_recipe):
    models = build_models([("plain", DIGIT_NET.plain()), ("resnet", DIGIT_NET)], seed=0)
    with torch.no_grad():
        models["plain"].fc.weight.fill_(float("nan"))
    events = []
    results = train_models(models, tiny_digits, tiny_recipe, events.append)
    assert results["plain"].status == "diverged" and results["plain"].epochs == 0
    assert results["plain"].message.endswith(".") and "NaN" in results["plain"].message
    assert results["resnet"].status == "completed" and results["resnet"].epochs == 2
    assert all(math.isfinite(v) for v in results["resnet"].final.values())
    statuses = [e for e in events if isinstance(e, StatusEvent)]
    assert [(e.run, e.status) for e in statuses] == [("plain", "diverged")]
    assert [e["epoch"] for e in _epoch_records(events, "plain")] == [0]  # nothing after it diverged
    assert [e["epoch"] for e in _epoch_records(events, "resnet")] == [0, 1, 2]
    assert events[-1].statuses == {"plain": "diverged", "resnet": "completed"}


# ----------------------------------------------------------------------------- checkpoint and resume
def test_lockstep_constructed_with_checkpoint_and_resume_checkpoints_and_resumes(tiny_digits, tiny_recipe):
    """Lockstep built as its docstring invites (no attributes set afterwards) keeps a state after each completed
    epoch but the last, and goes on from one: the resumed epochs and weights equal an uninterrupted run's."""
    recipe = dataclasses.replace(tiny_recipe, epochs=3)
    cfgs = [("plain", DIGIT_NET.plain()), ("resnet", DIGIT_NET)]
    states, whole, resumed = [], [], []
    full = build_models(cfgs, seed=0)
    def keep(state):  # on the CPU a state shares the live tensors: copied at once, as the worker saves it at once
        states.append(copy.deepcopy(state))
    Lockstep(full, tiny_digits, recipe, whole.append, checkpoint=keep).run()
    assert [s["epoch"] for s in states] == [1, 2]
    again = build_models(cfgs, seed=5)  # other initial weights: only the resume state can make them equal
    results = Lockstep(again, tiny_digits, recipe, resumed.append, resume=states[0]).run()
    assert [e["epoch"] for e in _epoch_records(resumed, "resnet")] == [2, 3]  # epoch 1 is not trained again
    def strip(recs):
        return [{k: v for k, v in r.items() if k not in ("elapsed", "eta", "images_per_second")}
                for r in recs if r["epoch"] >= 2]
    assert strip(_epoch_records(resumed)) == strip(_epoch_records(whole))
    assert all(r.status == "completed" and r.epochs == 3 for r in results.values())
    for name, model in full.items():
        for k, v in _state(model).items():
            assert torch.equal(v, _state(again[name])[k]), (name, k)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("precision", ["auto", "fp16"])  # bf16 autocast where supported; fp16 with a GradScaler
def test_on_cuda_a_nan_run_diverges_and_the_other_trains(tiny_digits, tiny_recipe, precision):
    """On CUDA the loss is checked only on logged steps (no sync per step): the NaN must still be caught."""
    models = build_models([("plain", DIGIT_NET.plain()), ("resnet", DIGIT_NET)], seed=0)
    with torch.no_grad():
        models["plain"].fc.weight.fill_(float("nan"))
    recipe = dataclasses.replace(tiny_recipe, device="cuda", precision=precision)
    results = train_models(models, tiny_digits, recipe)
    assert results["plain"].status == "diverged"
    assert results["resnet"].status == "completed" and results["resnet"].epochs == 2
    assert all(math.isfinite(v) for v in results["resnet"].final.values())
    assert next(models["resnet"].parameters()).is_cuda


# ----------------------------------------------------------------------------- events
def test_events_carry_the_documented_fields(tiny_digits, tiny_recipe):
    model = build_models([("resnet", DIGIT_NET)], seed=0)
    events = []
    result = train_models(model, tiny_digits, tiny_recipe, events.append)["resnet"]
    kinds = [e.type for e in events]
    assert kinds[0] == "start" and kinds[-1] == "end" and events[0].total_steps == 8
    steps = [e for e in events if isinstance(e, StepEvent)]
    assert [e.step for e in steps] == [1, 2, 4, 6, 8]  # the first step, then every log_every
    assert all(e.lr == pytest.approx(0.05) and 0 <= e.train_error <= 1 for e in steps)
    convs = [n for n, m in model["resnet"].named_modules() if isinstance(m, torch.nn.Conv2d)]
    units = [n for n, _ in model["resnet"].units()]
    for rec in _epoch_records(events):
        assert 0 <= rec["test_error"] <= 1
        assert list(rec["grad_norms"]) == convs and all(v > 0 for v in rec["grad_norms"].values())
        assert sorted(rec["branch_ratios"]) == sorted(units)
    assert result.images_per_second > 0 and result.model is model["resnet"]


@pytest.mark.parametrize("schedule,scheduler", [
    ("step", lambda opt, total: torch.optim.lr_scheduler.MultiStepLR(opt, [total // 2, 3 * total // 4], 0.1)),
    ("cosine", lambda opt, total: torch.optim.lr_scheduler.CosineAnnealingLR(opt, total)),
])
def test_schedules_match_pytorch_schedulers(schedule, scheduler):
    total = 40
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = scheduler(opt, total)
    recipe = TrainConfig(schedule=schedule, lr=1.0)
    for step in range(total):
        assert lr_factor(recipe, step, total, 10) == pytest.approx(opt.param_groups[0]["lr"], abs=1e-9), step
        opt.step()
        sched.step()


# ----------------------------------------------------------------------------- a real worker process
@pytest.mark.slow
def test_request_stop_ends_a_worker_process_as_stopped(tmp_path, worker_env, wait_for):
    store = RunStore(tmp_path / "runs")
    spec = twin(DIGIT_NET, DataConfig("digits", train_subset=256, test_subset=64),
                TrainConfig(epochs=200, batch_size=16, device="cpu", log_every=1))
    exp_id = store.create_experiment(spec.to_dict(), [{"name": n, "model": c.to_dict()} for n, c in spec.models])
    proc = subprocess.Popen([sys.executable, "-m", "explorer", "worker", str(store.exp_dir(exp_id))],
                            env=worker_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: store.read_metrics(exp_id, "resnet-8", kind="step"), 120, "the worker's first step")
        store.request_stop(exp_id)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    exp = store.load_experiment(exp_id)
    assert exp.status == "stopped"
    for run in exp.runs:
        assert run.status == "stopped" and run.epochs < 200
        assert run.final is not None  # the evaluation after the stop
        assert store.read_metrics(exp_id, run.id, kind="step")
        assert load_checkpoint(store.weights_path(exp_id, run.id))["model"] == run.model


# ----------------------------------------------------------------------------- threads and waiting (explorer.cpu)
@pytest.mark.parametrize("cores, jobs, models, busy, plan", [
    (2, 1, 1, 0.1, (2, 1, True)),  # a single run with the machine to itself: both cores, threads spin briefly
    (2, 1, 1, 1.5, (2, 1, False)),  # the same run on a busy machine: the same threads (same numbers), sleeping
    (2, 1, 2, 0.0, (1, 2, False)),  # a twin: one model per core, one thread each (nothing waits for a thread)
    (2, 1, 4, 0.0, (1, 2, False)),  # Figure 6's four nets on two cores
    (2, 2, 1, 0.0, (1, 1, False)),  # two jobs at once: each its core
    (2, 2, 2, 0.0, (1, 1, False)),  # ... a twin then trains its models one after the other on its core
    (16, 2, 1, 0.3, (8, 1, True)),  # a 16-core server, two jobs: each its 8 cores
    (16, 2, 1, 9.0, (8, 1, False)),  # ... with more than the other half busy: sleep
    (16, 1, 4, 0.0, (4, 4, True)),
    (1, 1, 2, 0.0, (1, 1, False)),
])
def test_the_cpu_plan_follows_cores_jobs_and_models_and_only_waiting_follows_the_load(cores, jobs, models, busy, plan):
    from explorer.cpu import plan_cpu
    chosen = plan_cpu(cores, jobs, models, busy)
    assert (chosen.threads, chosen.side_by_side, chosen.spin) == plan
    assert plan_cpu(cores, jobs, models, busy=0.0).threads == chosen.threads  # threads never follow the load
    env = chosen.wait_env()
    assert env["OMP_WAIT_POLICY"] == ("ACTIVE" if plan[2] else "PASSIVE") and int(env["GOMP_SPINCOUNT"]) >= 0


def test_the_wait_choice_reads_the_servers_jobs_and_a_deployments_override():
    from explorer.cpu import choose_wait, usable_cores
    quiet, busy = dict(EXPLORER_MAX_JOBS="1"), dict(EXPLORER_MAX_JOBS="1")
    expect_spin = usable_cores() >= 2
    assert (choose_wait(quiet, busy=0.0)["OMP_WAIT_POLICY"] == "ACTIVE") == expect_spin
    assert choose_wait(busy, busy=float(usable_cores()))["OMP_WAIT_POLICY"] == "PASSIVE"
    many = str(usable_cores() + 1)  # more jobs than cores: one thread each, which never waits for another
    assert choose_wait({"EXPLORER_MAX_JOBS": many}, busy=0.0)["OMP_WAIT_POLICY"] == "PASSIVE"
    assert choose_wait({"EXPLORER_CPU_WAIT": "passive"}, busy=0.0)["OMP_WAIT_POLICY"] == "PASSIVE"
    assert choose_wait({"EXPLORER_CPU_WAIT": "spin"}, busy=99.0)["OMP_WAIT_POLICY"] == "ACTIVE"


def _cpu_line(log_path):
    """The job log's line saying how it used the CPU, as (threads per model, models side by side, wait policy)."""
    import re
    text = log_path.read_text()
    found = re.search(r"with (\d+) thread\(s\) per model, (\d+) model\(s\) side by side, OMP_WAIT_POLICY=(\w*)", text)
    assert found, text
    return int(found[1]), int(found[2]), found[3]


def test_the_chosen_threads_and_waiting_reach_a_real_job_process(tmp_path, worker_env, monkeypatch):
    """Through the real path: the job manager, the local backend, a job forked from the warm process."""
    from helpers import DIGIT_NET, SHORT, wait_until

    from explorer.cpu import plan_cpu, usable_cores
    from explorer.jobs.backends import LocalBackend
    from explorer.jobs.manager import JobManager, Limits
    from explorer.jobs.request import JobRequest
    from explorer.training.experiments import single
    monkeypatch.delenv("OMP_NUM_THREADS")  # let the plan choose
    monkeypatch.setenv("EXPLORER_CPU_WAIT", "passive")  # this suite shares its cores: never spin here
    store = RunStore(tmp_path / "runs")
    manager = JobManager(store, Limits(concurrent=1), poll_s=0.1, backend=LocalBackend(warm=True))
    try:
        logs = []
        train = TrainConfig(device="cpu", epochs=1, batch_size=32, schedule="constant")
        for jobs, spec in (("1", single(DIGIT_NET, SHORT[0], train)), ("2", twin(DIGIT_NET, SHORT[0], train))):
            monkeypatch.setenv("EXPLORER_MAX_JOBS", jobs)
            exp_id = manager.submit(JobRequest.training(spec, "alice"))[0]
            wait_until(lambda exp_id=exp_id: store.load_experiment(exp_id).status == "completed", 120, "the job")
            logs.append(_cpu_line(store.exp_dir(exp_id) / "worker.log"))
    finally:
        manager.shutdown()
    cores = usable_cores()
    assert logs[0] == (cores, 1, "PASSIVE")  # one model, the whole machine: every core as threads
    half = plan_cpu(cores, 2, 2, busy=0.0)  # a twin, two jobs at once: half the machine
    assert logs[1] == (half.threads, half.side_by_side, "PASSIVE")


def test_models_side_by_side_give_the_same_records_as_one_after_another(monkeypatch):
    """The pool changes where a model trains, never its numbers: with one thread per op, side by side (epoch-0
    looks, steps, evaluation and branch ratios in the pool) equals one after another, record for record."""
    from explorer.data.datasets import load_dataset
    data = load_dataset(DataConfig("digits", train_subset=64, test_subset=64))
    records = {}
    for parallel in ("1", "0"):
        monkeypatch.setenv("EXPLORER_CPU_PARALLEL", parallel)
        events = []
        models = build_models([("plain", DIGIT_NET.plain()), ("resnet", DIGIT_NET)], seed=2)
        train_models(models, data, TrainConfig(epochs=1, batch_size=32, device="cpu", schedule="constant"),
                     events.append)
        records[parallel] = [{k: v for k, v in r.items() if k not in ("elapsed", "images_per_second", "eta", "time")}
                             for r in _epoch_records(events)]
    assert len(records["1"]) == 4 and records["1"] == records["0"]
