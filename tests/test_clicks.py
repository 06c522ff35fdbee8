"""Click-through (issue 15): a confusion-matrix cell opens its test images, a gradient-flow cell opens that layer's
feature maps, a point of the training curves opens that epoch's numbers. The library parts on the real shipped
twin; the pages in AppTest, where a click is what the chart's on_select callback stores (a plain session key: AppTest
cannot click a plotly chart; tests/test_browser.py clicks one in Chromium).
"""
import json
from pathlib import Path

import numpy as np
import pytest

from explorer import figures as charts
from explorer.analysis.evaluation import confusion_and_mistakes, confusion_cell
from explorer.data.config import DataConfig
from explorer.data.datasets import load_dataset
from explorer.store.shipped import shipped_twin

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_clicked_point_reads_streamlits_selection_state():
    state = {"selection": {"points": [{"x": "3", "y": "5", "curve_number": 1, "point_index": 53}], "box": []}}
    assert charts.clicked_point(state) == {"x": "3", "y": "5", "curve": 1, "index": 53}
    assert charts.clicked_point({"selection": {"points": []}}) is None and charts.clicked_point(None) is None


def test_clickable_cells_covers_every_cell_once():
    fig = charts.confusion_matrix(np.eye(3, dtype=int), ["a", "b", "c"])
    charts.clickable_cells(fig, ["a", "b", "c"], ["a", "b", "c"])
    cells = fig.data[-1]
    assert cells.name == charts.CELL_TRACE and len(cells.x) == 9
    assert {(x, y) for x, y in zip(cells.x, cells.y, strict=True)} == {(x, y) for x in "abc" for y in "abc"}
    assert fig.layout.clickmode == "event+select"


def test_a_confusion_cell_holds_exactly_the_matrixs_count():
    net = shipped_twin()["plain-20"]
    data = load_dataset(DataConfig("digits"))
    cm, _ = confusion_and_mistakes(net.model, data)
    i, j = np.unravel_index(np.argmax(cm - np.diag(np.diag(cm))), cm.shape)  # the most frequent mistake
    shown = confusion_cell(net.model, data, int(i), int(j), limit=100)
    assert len(shown) == cm[i, j] > 0
    assert all(m["true"] == i and m["predicted"] == j and int(data.y_test[m["index"]]) == i for m in shown)
    assert [m["confidence"] for m in shown] == sorted((m["confidence"] for m in shown), reverse=True)
    assert len(confusion_cell(net.model, data, 0, 0, limit=5)) == 5  # capped
    with pytest.raises(ValueError, match="two classes"):
        confusion_cell(net.model, data, 0, 10)


def test_epoch_table_gives_each_runs_numbers_at_the_clicked_epoch():
    from explorer.figures.style import RunSeries
    from explorer.store.records import Metric
    runs = [RunSeries("plain-8", records=(Metric("epoch", epoch=1, train_error=0.5, test_error=0.25, train_loss=1.0,
                                                 test_loss=0.9, lr=0.1, elapsed=3.0),)),
            RunSeries("resnet-8", records=(Metric("step", epoch=1),))]
    assert charts.epoch_table(runs, 1) == [{"run": "plain-8", "epoch": 1, "train loss": 1.0, "train error %": 50.0,
                                            "test loss": 0.9, "test error %": 25.0, "learning rate": 0.1,
                                            "seconds": 3.0}]
    assert charts.epoch_table(runs, 2) == []


# ----------------------------------------------------------------------------- the pages
def _charts(at) -> dict:
    return {c.key: json.loads(c.proto.spec) for c in at.get("plotly_chart")}


def test_explain_a_clicked_confusion_cell_shows_its_test_images(new_app):
    at = new_app("pages/explain.py")
    cm = _charts(at)["explain_cm_plain-20"]
    assert cm["data"][-1]["name"] == charts.CELL_TRACE and cm["layout"]["clickmode"] == "event+select"
    assert any("Click a cell" in c.value for c in at.caption)
    at.session_state["explain_cell_plain-20"] = {"x": "1", "y": "1"}  # what a click on (true 1, predicted 1) stores
    at.run()
    assert not at.exception and not at.error
    strip = _charts(at)["explain_cell_strip_plain-20_0"]
    assert len([t for t in strip["data"] if t["type"] == "image"]) == 4
    assert any("**True 1, predicted 1:**" in m.value for m in at.markdown)  # class names as plain text (explorer.text)


def test_inspect_a_clicked_gradient_cell_shows_that_layers_feature_maps(new_app):
    at = new_app("pages/inspect.py")
    heat = _charts(at)["inspect_grad_resnet-20"]
    assert heat["data"][-1]["name"] == charts.CELL_TRACE
    at.session_state["inspect_grad_cell"] = {"x": 15, "y": "layer2.1.conv2", "net": "resnet-20"}
    at.run()
    assert not at.exception and not at.error
    maps = _charts(at)["inspect_grad_maps"]
    assert "resnet-20: layer2.1.conv2 on test image 0 (trained weights, 32 channels)" in maps["layout"]["title"]["text"]
    at.session_state["inspect_grad_cell"] = {"x": 0, "y": "conv1", "net": "plain-20"}
    at.run()
    assert "(initial weights, 16 channels)" in _charts(at)["inspect_grad_maps"]["layout"]["title"]["text"]


def test_train_a_clicked_point_of_the_curves_shows_that_epochs_numbers(new_app):
    from explorer.store.runstore import RunStore
    from explorer.store.shipped import ensure_shipped_in_store
    exp_id = ensure_shipped_in_store(RunStore())  # a finished twin with its recorded metrics
    at = new_app("pages/train.py")
    at.session_state["watch"] = exp_id
    at.run()
    assert any("Click a point" in c.value for c in at.caption)
    at.session_state["train_clicked_epoch"] = {"x": 15, "y": 0.6, "curve": 0, "index": 15}
    at.run()
    assert not at.exception
    assert any(m.value.startswith("**Epoch 15**") for m in at.markdown)
    table = next(d.value for d in at.dataframe if "train error %" in d.value.columns)  # AppTest finds no df by key
    assert list(table["run"]) == ["plain-20", "resnet-20"]
    assert list(table["train error %"]) == [1.81, 0.63]  # the shipped twin's final epoch (its README's numbers)
