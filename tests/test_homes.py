"""One home for each rule: Figure 6's definition, the sweep's architecture note, job status words, report rows."""
import pytest

from explorer.data.config import DataConfig
from explorer.jobs.status import human_duration, job_status
from explorer.nets.config import ModelConfig
from explorer.store.records import Experiment, Final, Progress, Run
from explorer.store.reports import experiment_report, history_rows
from explorer.training import experiments
from explorer.training.recipes import train_config_for


def test_figure6_is_plain_and_residual_at_20_and_56_with_the_dataset_recipe():
    spec = experiments.figure6()
    assert spec.kind == "sweep" and spec.data == DataConfig("digits")
    assert [n for n, _ in spec.models] == ["plain-20", "resnet-20", "plain-56", "resnet-56"]
    assert spec.train == train_config_for("digits")
    cfgs = dict(spec.models)
    assert cfgs["resnet-56"].shortcut == "A" and cfgs["resnet-56"].zero_init_residual
    assert cfgs["plain-56"].is_plain and not cfgs["plain-56"].zero_init_residual


def test_the_cli_sweep_defaults_to_figure6_depths():
    from explorer.cli import build_parser
    args = build_parser().parse_args(["sweep"])
    assert tuple(args.depths) == experiments.FIGURE6_DEPTHS


@pytest.mark.parametrize("family, block, depth, words", [
    ("imagenet", "basic", 18, ["ImageNet family"]),
    ("cifar", "bottleneck", 20, ["bottleneck block"]),
    ("imagenet", "bottleneck", 50, ["ImageNet family", "bottleneck block"]),
])
def test_a_sweep_that_changes_the_architecture_says_so(family, block, depth, words):
    base = ModelConfig(family=family, block=block, depth=depth, shortcut="B")
    fitted, note = experiments.fit_for_sweep(base)
    assert (fitted.family, fitted.block) == ("cifar", "basic")
    assert note and all(w in note for w in words) and note.endswith(".")


def test_a_cifar_basic_net_sweeps_as_it_is():
    base = ModelConfig(depth=32, shortcut="B", placement="full_preact")
    assert experiments.fit_for_sweep(base) == (base, None)


@pytest.mark.parametrize("seconds, text", [(None, "–"), (-1, "–"), (40, "40 s"), (180, "3 min"), (9000, "2.5 h"),
                                           (3_052_336, "35 days")])
def test_waits_are_in_human_units(seconds, text):
    assert human_duration(seconds) == text


def _job(status, progress=None, message=None) -> Experiment:
    return Experiment(id="j", kind="train", owner=None, status=status, spec={}, message=message,
                      progress=Progress.from_dict(progress))


def test_job_status_words_for_each_state():
    queued = job_status(_job("queued"), {"place": 3, "wait_s": 3_052_336})
    assert queued.level == "info" and "number 3" in queued.text and "35 days" in queued.text
    running = job_status(_job("running", {"step": 5, "total_steps": 20, "eta": 120, "images_per_second": 1500}))
    assert running.level == "progress" and running.fraction == 0.25
    assert "Step 5 of 20" in running.text and "2 min left" in running.text and "1,500 images/s" in running.text
    assert job_status(_job("completed")).level == "success"
    stopped = job_status(_job("stopped", message="Stopped at epoch 3"), what="The landscape job")
    assert stopped.level == "warning" and stopped.text == "The landscape job stopped: Stopped at epoch 3."
    assert job_status(_job("failed", message="Out of memory")).text == "Failed: Out of memory."


def _exp(model=None, final=None, depth=20):
    model = ModelConfig(depth=20, shortcut="A").to_dict() if model is None else model
    run = Run(exp_id="e1", id="resnet-20", name="resnet-20", status="completed", epochs=3, model=model, depth=depth,
              final=Final.from_dict({"train_error": 0.1, "test_error": 0.2} if final is None else final))
    return Experiment(id="e1", kind="train", status="completed", owner="me", started=10.0, finished=25.0,
                      spec={"kind": "twin", "data": {"name": "digits"}}, runs=(run,))


def test_report_and_history_rows_share_the_run_facts():
    exp = _exp()
    report = experiment_report(exp)
    [row] = history_rows([exp], me="me")
    assert report["runs"][0]["depth"] == row["depth"] == 20
    assert report["runs"][0]["final"] == {"train_loss": None, "train_error": 0.1, "test_loss": None,
                                          "test_error": 0.2}
    assert row["train error"] == "10.0%" and row["duration"] == "15 s" and row["owner"] == "you"
    assert history_rows([exp], me="other")[0]["owner"] == "someone else"


def test_history_rows_survive_a_damaged_model_config():
    [row] = history_rows([_exp(model={"depth": "twenty"}, final="bad", depth=None)], me=None)
    assert row["depth"] is None and row["train error"] == "–"
