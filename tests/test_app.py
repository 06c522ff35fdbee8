"""The app in Streamlit's AppTest: every page renders; Build's numbers follow the widgets; Train starts, shows and
stops real jobs; bad links give one sentence; Home's button queues the sweep; identical requests attach.

Every test gets its own run store (EXPLORER_RUNS_DIR in tmp_path, set before the app runs) and a fresh job
manager (conftest's runs_dir and new_app: pages.common.job_manager is an st.cache_resource, so it is cleared
before and shut down after).
Jobs run in real worker processes on the built-in digits, one thread each, for one or two epochs.
"""
import json
import re
from pathlib import Path

import pytest
from helpers import poll_app

from explorer.data.config import model_config_for
from explorer.data.registry import dataset_info
from explorer.nets.builder import build_model
from explorer.nets.config import ModelConfig
from explorer.training.recipes import train_config_for

ROOT = Path(__file__).resolve().parent.parent
PAGES = ("home", "build", "train", "runs", "explain", "inspect", "why", "data", "lessons", "classroom")
JOB_DEADLINE_S = 180.0  # a 1-epoch digits twin takes ~8 s on an idle 2-core machine; shared cores are slower
pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _charts(at) -> dict:
    """{key: plotly figure JSON} of the charts on screen (AppTest keeps plotly charts as raw protos)."""
    return {c.key: json.loads(c.proto.spec) for c in at.get("plotly_chart")}


def _metrics(at) -> dict:
    return {m.label: m.value for m in at.metric}


def _params(depth: int, dataset: str = "digits", **fields) -> int:
    """The oracle: PyTorch's own parameter count of the net the Build page describes."""
    cfg = model_config_for(ModelConfig(depth=depth, **fields), dataset_info(dataset))
    return sum(p.numel() for p in build_model(cfg).parameters())


def _poll(at, done, what: str, timeout_s: float = JOB_DEADLINE_S):
    """Rerun the app about once a second (as the page's fragment would) until done(at) is truthy."""
    return poll_app(at, done, what, timeout_s)


def _status(at, word: str):
    """A finished job's sentence: green when it completed, yellow when stopped or diverged (explorer.jobs.status)."""
    return any(s.value.startswith(word) for s in [*at.success, *at.warning])


def _traces(fig: dict) -> dict:
    """{run name: [number of points per panel]} from a training_curves figure."""
    out = {}
    for trace in fig["data"]:
        out.setdefault(trace["name"], []).append(len(trace["x"]))
    return out


# ----------------------------------------------------------------------------- every page
@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_an_exception(new_app, page):
    at = new_app()
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, at.exception
    assert at.title, f"the {page} page drew no title"


def _load_stripes(root, progress):
    """A test-only dataset: 3 classes of 6x6 stripes (horizontal, vertical, none), 12 images each."""
    import torch

    from explorer.data.registry import Splits
    x = torch.zeros(36, 1, 6, 6, dtype=torch.uint8)
    x[0:12, :, ::2, :] = 200
    x[12:24, :, :, ::2] = 200
    y = torch.arange(3).repeat_interleave(12)
    return Splits(x[::2], y[::2], x[1::2], y[1::2])


def test_a_dataset_registered_at_test_time_is_offered_and_sets_the_recipe(new_app, monkeypatch):
    """The pages iterate the dataset registry: one record makes a dataset appear on Build and Train."""
    from explorer.data.registry import DATASETS, DatasetSpec, Recipe
    spec = DatasetSpec("stripes", "Stripes", "Three kinds of 6x6 stripes.", "Made up by tests/test_app.py.",
                       1, 6, ("horizontal", "vertical", "none"), _load_stripes,
                       Recipe(epochs=7, batch_size=32, lr=0.05, schedule="constant"))
    monkeypatch.setitem(DATASETS, spec.name, spec)
    at = new_app()
    at.switch_page("pages/build.py").run()
    assert at.selectbox(key="build_dataset").options[-1] == "stripes — 1×6²"
    at.switch_page("pages/train.py").run()
    assert "stripes" in at.selectbox(key="train_dataset").options
    at = new_app(dataset="stripes")  # a link to it: accepted, and the Train page opens on its recipe
    at.switch_page("pages/train.py").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="train_dataset").value == "stripes"
    assert at.number_input(key="train_epochs").value == 7 and at.selectbox(key="train_batch").value == 32


def test_home_says_the_resnets_start_with_zeroed_branches_and_why(new_app):
    """Home's Figure 6 button: the nets share batches, but the ResNets start from zero branches (Goyal et al. 2017)."""
    text = " ".join(m.value for m in new_app().markdown)
    assert "same start" not in text
    assert "zero-init" in text and "Goyal et al. 2017" in text and "starts as its shortcut" in text
    assert "not vanishing gradients" in text and "§4.1" in text


# ----------------------------------------------------------------------------- Build
def test_build_depth_changes_the_parameter_count_and_the_plain_twin_matches(new_app):
    at = new_app()
    at.switch_page("pages/build.py").run()
    assert at.radio(key="build_shortcut").value == "A"
    for depth in (20, 56):
        at.selectbox(key="build_depth").set_value(depth).run()
        assert not at.exception, at.exception
        shown = _metrics(at)
        expected = f"{_params(depth, shortcut='A'):,}"
        assert shown[f"Parameters (resnet-{depth})"] == expected
        assert shown[f"Parameters (plain-{depth})"] == expected  # option A: the shortcut costs nothing
        assert any(c.value.startswith(f"resnet-{depth}: a 3×3 conv") and f"{depth} weighted layers" in c.value
                   for c in at.caption)  # the diagram's description (issue 23)
    assert _params(20) != _params(56)  # so the two checks above saw two different numbers


def test_build_never_turns_zero_init_on_where_a_zero_branch_cannot_learn(new_app):
    at = new_app()
    at.switch_page("pages/build.py").run()
    at.checkbox(key="build_zero_init_residual").check().run()
    assert at.session_state["model_cfg"]["zero_init_residual"] is True
    at.selectbox(key="build_placement").set_value("relu_before_add").run()
    assert not at.exception and not at.error, at.error
    box = at.checkbox(key="build_zero_init_residual")
    assert box.value is False and box.disabled
    assert any("relu_before_add placement" in c.value for c in at.caption)
    assert at.session_state["model_cfg"]["zero_init_residual"] is False


@pytest.mark.parametrize("widget, value, field", [("train_epochs", 12, "epochs"), ("train_batch", 128, "batch_size"),
                                                  ("train_schedule", "step", "schedule")])
def test_a_setting_equal_to_the_generic_default_survives_the_link(new_app, widget, value, field):
    """On digits (recipe: 15 epochs, batch 64, cosine), TrainConfig()'s 12 / 128 / step must reach the URL."""
    at = new_app()
    at.switch_page("pages/train.py").run()
    control = at.number_input(key=widget) if widget == "train_epochs" else at.selectbox(key=widget)
    control.set_value(value).run()
    # AppTest runs a switched-to page file on its own; the entry script (which mirrors the URL) runs again here.
    at.switch_page("streamlit_app.py").run()
    assert at.query_params.get(field) == str(value), dict(at.query_params)
    again = new_app(**at.query_params)
    assert again.session_state["train"][field] == value
    again.switch_page("pages/train.py").run()
    assert not again.exception and again.session_state[widget] == value


def test_build_shows_one_sentence_for_an_imagenet_net_on_8x8_digits(new_app):
    at = new_app()
    at.switch_page("pages/build.py").run()
    at.radio(key="build_family").set_value("imagenet").run()
    assert not at.exception, at.exception
    assert len(at.error) == 1
    text = at.error[0].value
    assert "32" in text and text.rstrip().endswith(".") and "\n" not in text
    assert not at.metric  # the page stops before drawing numbers for a net it cannot build


# ----------------------------------------------------------------------------- Train
@pytest.mark.slow
def test_train_a_digits_twin_until_it_finishes_and_see_both_curves(new_app, runs_dir):
    at = new_app()
    at.switch_page("pages/train.py").run()
    at.number_input(key="train_epochs").set_value(1).run()
    at.button(key="train_start").click().run()
    assert not at.exception and not at.error, (at.exception, at.error)
    _poll(at, lambda a: _status(a, "Finished"), "the twin to finish")
    traces = _traces(_charts(at)["train_curves"])
    # Training error has one point per epoch; test error also has epoch 0 (the untrained net).
    assert traces == {"plain-20": [1, 2], "resnet-20": [1, 2]}
    from explorer.store.runstore import RunStore
    [exp] = RunStore(runs_dir).list_experiments()
    assert exp.spec["train"]["epochs"] == 1
    assert any("not the paper" in c.value or "laid out differently" in c.value for c in at.caption)
    # each chart says its takeaway under it and offers its numbers (issue 23): curves, loss, gradients
    said = [c.value for c in at.caption]
    assert any(c.startswith("After 1 epoch the training error ends at") for c in said), said
    assert any(re.match(r"By epoch [\d.]+ the training loss goes from", c) for c in said), said
    assert [e.label for e in at.expander].count("Show as table") >= 3
    at.toggle(key="train_figure6").set_value(True).run()  # the paper's layout: plain | ResNet panels
    fig = _charts(at)["train_curves"]
    assert [a["text"] for a in fig["layout"]["annotations"]][:2] == ["Plain nets", "ResNets"]
    assert {t["name"]: t.get("xaxis", "x") for t in fig["data"]} == {"plain-20": "x", "resnet-20": "x2"}


@pytest.mark.slow
def test_stop_ends_a_long_run_and_keeps_its_metrics(new_app, runs_dir):
    at = new_app(epochs=200)
    at.switch_page("pages/train.py").run()
    at.button(key="train_start").click().run()
    _poll(at, lambda a: "train_curves" in _charts(a), "the first epoch on the chart")
    at.button(key="train_stop").click().run()
    _poll(at, lambda a: _status(a, "Stopped"), "the job to stop")
    traces = _traces(_charts(at)["train_curves"])
    assert set(traces) == {"plain-20", "resnet-20"} and all(n[0] >= 1 for n in traces.values())
    from explorer.store.runstore import RunStore
    [exp] = RunStore(runs_dir).list_experiments()
    assert exp.status == "stopped" and all(r.status == "stopped" for r in exp.runs)
    assert all(r.epochs < 200 for r in exp.runs)


@pytest.mark.parametrize("query, field", [({"lr": "-1"}, "lr"), ({"depth": "21"}, "depth")])
def test_a_bad_link_shows_a_warning_sentence_not_an_exception(new_app, query, field):
    at = new_app(**query)
    assert not at.exception, at.exception
    shown = [w.value for w in at.warning]
    assert any(field in w and w.strip("` ").endswith(".") for w in shown), shown
    at.switch_page("pages/train.py").run()
    assert not at.exception, at.exception
    assert at.number_input(key="train_lr").value == pytest.approx(train_config_for("digits").lr)
    assert "`resnet-20`" in " ".join(m.value for m in at.markdown)  # the default net, not a 21-layer one


def test_reproduce_figure6_on_home_queues_the_sweep_and_opens_train(new_app, runs_dir):
    at = new_app(epochs=1)
    at.button(key="home_figure6").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Train"
    from explorer.store.runstore import RunStore
    [exp] = RunStore(runs_dir).list_experiments()
    assert exp.spec_kind == "sweep" and exp.spec["train"]["epochs"] == 1
    assert sorted(r.name for r in exp.runs) == ["plain-20", "plain-56", "resnet-20", "resnet-56"]
    assert at.session_state["watch"] == exp.id


# ----------------------------------------------------------------------------- two sessions
def test_two_sessions_asking_for_the_same_experiment_share_one_job(new_app, runs_dir):
    first, second = new_app(epochs=1), new_app(epochs=1)
    assert first.session_state["owner"] != second.session_state["owner"]
    for at in (first, second):
        at.switch_page("pages/train.py").run()
        at.button(key="train_start").click().run()
        assert not at.exception and not at.error, (at.exception, at.error)
    assert first.session_state["watch"] == second.session_state["watch"]
    assert any("already asked for" in i.value for i in second.info)
    from explorer.store.runstore import RunStore
    assert len(RunStore(runs_dir).list_experiments()) == 1


def test_runs_lists_other_jobs_and_their_owner_can_delete_them(new_app, runs_dir):
    """A landscape job shows under "Other jobs" on Runs; its owner deletes it; someone else's is not offered."""
    from explorer.store.runstore import RunStore
    at = new_app()
    store = RunStore(runs_dir)
    mine = store.create_experiment({"kind": "landscape", "source": "x"}, [{"name": "resnet-20", "model": {}}],
                                   owner=at.session_state["owner"], kind="landscape")
    theirs = store.create_experiment({"kind": "landscape", "source": "y"}, [{"name": "resnet-20", "model": {}}],
                                     owner="someone-else", kind="landscape")
    for exp_id in (mine, theirs):
        store.update_experiment(exp_id, status="completed")
    at.switch_page("pages/runs.py").run()
    assert not at.exception, at.exception
    tables = [d.value for d in at.dataframe if "job" in d.value.columns]
    assert len(tables) == 1 and set(tables[0]["job"]) == {mine, theirs}
    assert at.selectbox(key="runs_other_pick").options == [mine]  # only my own job can be deleted
    at.button(key="runs_other_delete").click().run()
    assert len(store.list_experiments()) == 2  # nothing deleted on the first press
    assert any("Delete the job" in c.value for c in at.caption)  # deleting asks first (WCAG 3.3.4)
    at.button(key="runs_other_delete_yes").click().run()
    assert not at.exception, at.exception
    assert [e.id for e in store.list_experiments()] == [theirs]
