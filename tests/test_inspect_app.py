"""The Inspect page in Streamlit's AppTest: every view renders for a finished tiny twin and for the shipped twin;
a landscape job starts, cancels (ending `stopped`, never stuck running) and, run to its end, is drawn from the
store without being computed again. Also the page's one new chart, charts.image_grid.
"""
import json
import time
from pathlib import Path

import numpy as np
import pytest

from explorer import figures as charts
from explorer.data.config import DataConfig
from explorer.jobs.worker import run_experiment
from explorer.nets.config import ModelConfig
from explorer.training import experiments

ROOT = Path(__file__).resolve().parent.parent
TABS = ["Gradient flow", "Layer responses", "Loss landscape", "Block ablation", "Feature maps"]
TINY = ModelConfig(depth=8, in_channels=1, input_size=8, width=0.5)
pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture
def app(store, tiny_recipe, runs_dir, worker_env, new_app):
    """(AppTest on the Inspect page, run store, id of a finished tiny twin); workers are shut down afterwards
    (conftest's runs_dir: the app's store is `store`)."""
    # 256 training images: a 41x41 landscape then runs long enough (~20 s) to be cancelled while it runs.
    spec = experiments.twin(TINY, DataConfig("digits", train_subset=256, test_subset=64), tiny_recipe)
    exp_id = store.create_experiment(spec.to_dict(), [{"name": n, "model": c.to_dict()} for n, c in spec.models],
                                     owner="someone", spec_hash=spec.spec_hash())
    assert run_experiment(store, exp_id).status == "completed"
    return new_app("inspect"), store, exp_id


def _charts(at) -> dict:
    return {c.key: json.loads(c.proto.spec) for c in at.get("plotly_chart")}


def _open(at, tab: str):
    at.session_state["inspect_tab"] = tab
    at.run()
    assert not at.exception, at.exception
    return at


def test_every_view_renders_for_a_finished_tiny_twin(app):
    at, store, exp_id = app
    at.selectbox(key="inspect_exp").set_value(exp_id).run()
    assert at.selectbox(key=f"inspect_plain_{exp_id}").value == "plain-8"
    assert at.selectbox(key=f"inspect_residual_{exp_id}").value == "resnet-8"
    expected = {"Gradient flow": ["inspect_grad_plain-8", "inspect_grad_resnet-8"],
                "Layer responses": ["inspect_responses", "inspect_ratios"], "Loss landscape": [],
                "Block ablation": ["inspect_ablation"],
                "Feature maps": ["inspect_fm_plain-8", "inspect_filters_resnet-8"]}
    for tab, keys in expected.items():
        figures = _charts(_open(at, tab))
        assert not at.error, (tab, [e.value for e in at.error])
        assert all(k in figures for k in keys), (tab, list(figures))
        assert [e.label for e in at.expander].count("Show as table") == len(figures), tab  # each chart's words
    heat = _charts(_open(at, "Gradient flow"))["inspect_grad_plain-8"]["data"][0]
    assert heat["x"] == [0, 1, 2]  # epoch 0 (before the first step) and the two training epochs
    ablation = _charts(_open(at, "Block ablation"))["inspect_ablation"]
    assert {t["name"] for t in ablation["data"]} >= {"plain-8", "resnet-8"}
    assert any("cannot skip" in c.value for c in at.caption)  # plain-8's downsampling units


def test_the_shipped_twin_is_the_default_and_shows_its_gradient_history(app):
    at, store, _ = app
    shipped = at.session_state["inspect_shipped"]
    assert at.selectbox(key="inspect_exp").value == shipped
    assert store.load_experiment(shipped).owner == "shipped"
    gradients = _charts(_open(at, "Gradient flow"))
    assert {"inspect_grad_plain-20", "inspect_grad_resnet-20"} <= set(gradients), sorted(gradients)
    # The text says what these runs' own numbers show (and what the paper says), not a story about vanishing.
    text = " ".join(m.value for m in at.markdown)
    from explorer.analysis.diagnostics import gradient_flow_sentence
    for run in store.load_experiment(shipped).runs:
        assert gradient_flow_sentence(run.name, store.read_metrics(shipped, run.id, kind="epoch")) in text
    assert "do *not* vanish" in text and "far smaller gradients" not in text
    figures = _charts(_open(at, "Layer responses"))
    traces = figures["inspect_responses"]["data"]  # Figure 7: network order, then sorted; every 3x3 layer
    assert [t["name"] for t in traces] == ["plain-20", "plain-20", "resnet-20", "resnet-20"]
    assert all(len(t["x"]) == 19 for t in traces)  # the stem and 18 branch convs of a 20-layer net
    _open(at, "Feature maps")
    at.selectbox(key="inspect_fm_layer").set_value("layer3.2").run()
    assert not at.exception and "layer3.2" in _charts(at)["inspect_fm_resnet-20"]["layout"]["title"]["text"]


def _poll(at, predicate, timeout_s, what, store=None):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, at.exception
        if predicate():
            return
        time.sleep(0.3)
    states = [(e.status, e.message) for e in _jobs(store)] if store is not None else None
    pytest.fail(f"Timed out after {timeout_s} s waiting for {what}; landscape jobs: {states}.")


def _jobs(store) -> list:
    return [e for e in store.list_experiments() if e.kind == "landscape"]


def test_start_and_cancel_a_landscape_job_then_show_a_finished_one(app):
    at, store, exp_id = app
    at.selectbox(key="inspect_exp").set_value(exp_id).run()
    _open(at, "Loss landscape")
    at.select_slider(key="inspect_ls_steps").set_value(41).run()
    at.button(key="inspect_landscape_start").click().run()
    assert not at.exception and len(_jobs(store)) == 1
    _poll(at, lambda: _jobs(store)[0].status == "running" and at.button(key="inspect_landscape_cancel"),
          60, "the job to run", store)
    at.button(key="inspect_landscape_cancel").click().run()
    _poll(at, lambda: _jobs(store)[0].status not in ("queued", "running"), 60, "the job to stop", store)
    assert _jobs(store)[0].status == "stopped"
    at.run()  # the store may have turned "stopped" after the poll's last rerun drew the page
    assert any("stopped" in w.value for w in at.warning)

    at.select_slider(key="inspect_ls_steps").set_value(5).run()
    at.button(key="inspect_landscape_start").click().run()
    _poll(at, lambda: "inspect_ls_surface" in _charts(at), 90, "the finished landscape", store)
    done = [e for e in _jobs(store) if e.status == "completed"]
    assert len(done) == 1 and len(_charts(at)["inspect_ls_surface"]["data"]) == 4  # 2 nets x (slice, ★)
    assert "inspect_ls_line" in _charts(at)
    at.run()  # drawn again from the store: no Start button, no second job
    assert not [b for b in at.button if b.key == "inspect_landscape_start"] and len(_jobs(store)) == 2
    at.radio(key="inspect_ls_kind").set_value("surface").run()
    assert _charts(at)["inspect_ls_surface"]["data"][0]["type"] == "surface"


def test_image_grid_lays_out_rows_and_rescales_each_image():
    maps = [np.full((4, 4), 5.0), np.arange(16.0).reshape(4, 4), np.zeros((4, 4)), np.ones((4, 4, 3)) * 0.5]
    fig = charts.image_grid(maps, "maps", columns=3)
    assert len(fig.data) == 4 and {t.type for t in fig.data} == {"image"}
    assert fig.data[3].xaxis == "x4"  # the fourth image starts the second row of three
    ramp = np.asarray(fig.data[1].z)
    assert ramp[0, 0, 0] == 0 and ramp[3, 3, 0] == 255  # stretched to the full range on its own
    assert np.asarray(fig.data[0].z).max() == 0  # a constant map shows as black, not as noise
    kept = charts.image_grid([np.full((2, 2), 0.5)], "filters", rescale=False)
    assert np.asarray(kept.data[0].z)[0, 0, 0] == 128
    with pytest.raises(ValueError, match="one label per image"):
        charts.image_grid(maps, "x", labels=["a"])
    assert charts.image_grid([], "none").layout.annotations[0].text == "No images to show."
