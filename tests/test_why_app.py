"""The "Why it works" page in Streamlit's AppTest, on the shipped digits twin (its default): each view draws its
charts from the real nets, with the sentence built from their own numbers; the optimiser's path runs as a real
landscape job (worker process) on a tiny twin trained with snapshots, and on the shipped twin says why it cannot.
"""
import json
from pathlib import Path

import pytest
from helpers import poll_app

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture
def app(runs_dir, worker_env, new_app):
    """The app on the "Why it works" page (conftest's runs_dir: a private run store, its job manager shut down
    after)."""
    return new_app("why")


def _charts(at) -> dict:
    return {c.key: json.loads(c.proto.spec) for c in at.get("plotly_chart")}


def _open(at, tab: str):
    at.session_state["why_tab"] = tab
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def test_the_gradient_highway_view_splits_both_nets_before_and_after_training(app):
    at = _open(app, "Gradient highway")
    assert at.selectbox(key="why_exp").value == at.session_state["why_shipped"]
    fig = _charts(at)["why_highway"]
    names = {t["name"] for t in fig["data"] if t.get("showlegend", True)}
    assert names == {'resnet-20: through the identity shortcut (the "1")', "resnet-20: through the branch",
                     "resnet-20: through a downsampling shortcut (option A, zero-pad)", "plain-20: through its layers"}
    assert len(fig["data"]) == 8  # four traces in each of the two panels (initial and trained weights)
    text = " ".join(m.value for m in at.markdown)
    assert "At initialisation:" in text and "After training:" in text and "median" in text


def test_the_ensembles_view_draws_path_lengths_and_deletions(app):
    at = _open(app, "Ensembles of paths")
    figures = _charts(at)
    assert [t["name"] for t in figures["why_paths"]["data"]] == ["resnet-20"]
    assert len(figures["why_paths"]["data"][0]["x"]) == 10  # 9 units: paths of length 0..9
    deletions = {t["name"]: t["x"] for t in figures["why_deletions"]["data"]}
    assert deletions == {"plain-20": list(range(8)), "resnet-20": list(range(10))}
    assert any("with nothing deleted" in c.value for c in at.caption)
    assert any(c.value.startswith("Deleting units at random, plain-20's test error") for c in at.caption)


def test_take_it_home_offers_the_script_with_the_apps_numbers(app):
    at = _open(app, "Take it home")
    button = at.get("download_button")
    assert len(button) == 1 and button[0].proto.label == "Download the script"
    assert at.code and "--device cpu" in at.code[0].value
    assert any("resnet-20: 0.63%" in c.value for c in at.caption)  # the shipped twin's recorded final error


def test_the_optimisers_path_runs_as_a_job_on_a_twin_with_snapshots(app):
    from explorer.data.config import DataConfig
    from explorer.jobs.worker import run_experiment
    from explorer.nets.config import ModelConfig
    from explorer.store.runstore import RunStore
    from explorer.training import experiments
    from explorer.training.recipes import TrainConfig
    at = _open(app, "Optimiser's path")
    assert any("kept no weight snapshots" in i.value for i in at.info)  # the shipped twin has init and final only
    store = RunStore()
    recipe = TrainConfig(epochs=4, batch_size=32, lr=0.05, schedule="constant", device="cpu", log_every=4)
    spec = experiments.twin(ModelConfig(depth=8, in_channels=1, input_size=8, width=0.5),
                            DataConfig("digits", train_subset=128, test_subset=64), recipe)
    exp_id = store.create_experiment(spec.to_dict(), [{"name": n, "model": c.to_dict()} for n, c in spec.models],
                                     owner="someone", spec_hash=spec.spec_hash())
    assert run_experiment(store, exp_id).status == "completed"
    at.run()
    at.selectbox(key="why_exp").set_value(exp_id).run()
    at.select_slider(key="why_path_steps").set_value(5).run()
    at.button(key="why_path_start").click().run()
    assert not at.exception, at.exception

    def drawn(a):
        assert not a.error, [e.value for e in a.error]
        return "why_path_chart" in _charts(a)
    poll_app(at, drawn, "the optimiser's path on the chart", 120)
    fig = _charts(at)["why_path_chart"]
    contours = [t for t in fig["data"] if t["type"] == "contour"]
    paths = [t for t in fig["data"] if t.get("name", "").endswith(": path")]
    assert len(contours) == 2 and [t["name"] for t in paths] == ["plain-8: path", "resnet-8: path"]
    assert all(len(t["x"]) == 5 for t in paths)  # the initial weights, 3 snapshots, the trained weights
    assert "% of the path's variance" in fig["layout"]["xaxis"]["title"]["text"]
    assert any("first two directions hold" in c.value for c in at.caption)
