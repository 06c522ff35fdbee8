"""Words and numbers for the training, class, screen and landscape charts (issue 23, item 1): every takeaway's numbers
are the figure's own data, every table holds the numbers drawn, and a network's description follows its config."""
import pytest

from explorer.classroom.screen import SnapshotPanel
from explorer.figures.classroom import class_figure6, projected, tally_chart
from explorer.figures.curves import gradient_heatmap, gradient_profile, loss_curve
from explorer.figures.debrief import _figure
from explorer.figures.landscape import landscape_line, landscape_surfaces
from explorer.figures.screen import for_screen, snapshot_figure
from explorer.figures.sound import figure_series
from explorer.figures.style import RunSeries
from explorer.figures.words import words_of
from explorer.nets.config import ModelConfig, preset
from explorer.nets.describe import describe_network
from explorer.store.records import Metric, Run


def _steps(losses):
    return tuple(Metric("step", step=i, epoch=(i + 1) / len(losses), train_loss=v) for i, v in enumerate(losses))


def _grads(epochs):
    """Epoch records with gradient norms: {epoch: [norm of conv1, conv2, conv3]}."""
    return tuple(Metric("epoch", epoch=float(e), grad_norms={f"conv{i + 1}": v for i, v in enumerate(norms)})
                 for e, norms in epochs.items())


def test_loss_curve_says_where_each_drawn_loss_starts_and_ends():
    runs = [RunSeries("plain-20", 20, True, "completed", _steps([2.3, 1.5, 0.9])),
            RunSeries("resnet-20", 20, False, "completed", _steps([2.31, 1.1, 0.25]))]
    fig = loss_curve(runs)
    words = words_of(fig)
    for t in fig.data:  # the chart's own first and last points
        assert f"from {t.y[0]:.3g} to {t.y[-1]:.3g} for {t.name}" in words.takeaway
    assert f"By epoch {fig.data[0].x[-1]:g} " in words.takeaway and "resnet-20 ends lowest" in words.takeaway
    assert words.table.rows == tuple((t.name, round(x, 6), y) for t in fig.data for x, y in zip(t.x, t.y, strict=True))
    assert words_of(loss_curve([])).takeaway.startswith("No training step has been recorded yet")
    one = words_of(loss_curve([RunSeries("plain-20", 20, True, "running", _steps([2.3]))])).takeaway
    assert one == "By epoch 1 the training loss is 2.3 for plain-20 (one point so far)."


def test_gradient_profile_takeaway_is_the_latest_panels_first_and_last_layer():
    runs = [RunSeries("plain-8", 8, True, "completed", _grads({0: [1e-4, 1e-3, 1e-2], 2: [2e-5, 4e-4, 5e-3]})),
            RunSeries("resnet-8", 8, False, "completed", _grads({0: [3e-3, 2e-3, 1e-2], 2: [4e-3, 5e-3, 8e-3]}))]
    fig = gradient_profile(runs)
    words = words_of(fig)
    latest = [t for t in fig.data if t.xaxis == "x2"]
    assert [t.name for t in latest] == ["plain-8", "resnet-8"]
    for t in latest:
        assert f"for {t.name}, {t.y[0]:.3g} at the first conv layer and {t.y[-1]:.3g} at the last" in words.takeaway
        assert f"(the first is {t.y[0] / t.y[-1]:.3g} times the last)" in words.takeaway
    assert "at epoch 2" in words.takeaway
    drawn = sorted(v for t in fig.data for v in t.y)
    assert sorted(r[4] for r in words.table.rows) == pytest.approx(drawn)
    assert words_of(gradient_profile([RunSeries("a")])).takeaway == "No gradient norms recorded yet."


def test_gradient_heatmap_names_its_largest_and_smallest_cell():
    run = RunSeries("resnet-8", 8, False, "completed", _grads({0: [1e-4, 1e-3, 1e-2], 1: [1e-3, 0.0, 0.1]}))
    fig = gradient_heatmap(run)
    z = fig.data[0].z
    words = words_of(fig)
    cells = [v for line in z for v in line if v is not None]
    assert f"from {min(cells):.2f} (conv1, epoch 0) to {max(cells):.2f} (conv3, epoch 1)" in words.takeaway
    assert "3 conv layers and 2 epochs" in words.takeaway
    assert ("conv2", 1.0, None) in words.table.rows and ("conv3", 1.0, -1.0) in words.table.rows
    assert len(words.table.rows) == 6


def _epochs(train, test=None):
    return [{"epoch": i + 1, "train_error": v, "test_error": (test or train)[i]} for i, v in enumerate(train)]


def test_class_figure6_takeaway_is_the_median_band_and_says_degradation():
    curves = {"plain-20": [_epochs([0.4, 0.2]), _epochs([0.5, 0.3]), _epochs([0.45, 0.1])],
              "plain-56": [_epochs([0.6, 0.5]), _epochs([0.7, 0.4])],
              "resnet-56": [_epochs([0.3, 0.05]), _epochs([0.35, 0.07])]}
    fig = class_figure6(curves, pool="digits, 2 epochs")
    words = words_of(projected(fig, 1.6))  # the projector's copy keeps its words
    medians = {t.legendgroup: t for t in fig.data if t.xaxis in (None, "x") and t.fill != "toself"}
    assert medians["plain-20"].y[-1] == pytest.approx(20.0) and medians["plain-56"].y[-1] == pytest.approx(45.0)
    assert "20.0% for plain-20 (n = 3, 10.0% to 30.0%)" in words.takeaway
    assert "45.0% for plain-56 (n = 2, 40.0% to 50.0%)" in words.takeaway
    assert "At epoch 2" in words.takeaway and "(plain-56) ends higher than plain-20: the degradation" in words.takeaway
    assert ("resnet-56", 2, "training", 6.0, 5.0, 7.0, 2) in words.table.rows
    assert words_of(class_figure6({})).takeaway == "No finished runs in the class yet."
    close = {"plain-20": [_epochs([0.857])], "plain-56": [_epochs([0.868])]}  # one epoch, both near chance
    said = words_of(class_figure6(close)).takeaway
    assert "too close together to say which is higher" in said and "degradation" not in said, said
    heard = [name for name, _, _ in figure_series(fig)]  # Listen plays the medians, not the spread's outline
    assert heard == ["plain-20 (median of n = 3)", "plain-56 (median of n = 2)", "resnet-56 (median of n = 2)"]


def test_tally_takeaway_counts_every_bar_and_names_the_top_answer_or_a_tie():
    fig = tally_chart([("plain-56", 14), ("resnet-56", 3), ("both", 0)])
    words = words_of(fig)
    assert list(fig.data[0].y) == [14, 3, 0]
    assert words.takeaway == "17 students answered: 14 for plain-56, 3 for resnet-56 and 0 for both. " \
                             "Most chose plain-56 (14 of 17)."
    assert words.table.rows == (("plain-56", 14), ("resnet-56", 3), ("both", 0))
    tie = words_of(tally_chart([("plain-56", 5), ("resnet-56", 5)])).takeaway
    assert "plain-56 and resnet-56 tie with 5 each" in tie
    assert words_of(tally_chart([])).takeaway == "No answers yet."


def test_snapshot_takeaway_is_each_panels_last_training_error_and_survives_the_screen():
    def panel(label, name, errors):
        run = Run("e1", name, name, {"depth": 20, "shortcut": "none" if "plain" in name else "A"}, "completed")
        return SnapshotPanel(label, run, tuple(Metric("epoch", epoch=float(i + 1), train_error=e, test_error=e + 0.1)
                                              for i, e in enumerate(errors)))
    panels = [panel("Otter: plain-56", "plain-56", [0.8, 0.667]), panel("Falcon: resnet-56", "resnet-56", [0.4, 0.117])]
    for layout in ("side", "overlay"):
        fig = for_screen(snapshot_figure(panels, layout), 880)
        words = words_of(fig)
        assert words.takeaway == "Otter: plain-56 ends at 66.7% training error; Falcon: resnet-56 at 11.7%."
        assert ("Falcon: resnet-56", 2.0, 11.7, 21.7) in words.table.rows and len(words.table.rows) == 4
    lines = [t for t in snapshot_figure(panels, "overlay").data]
    assert [round(t.y[-1], 1) for t in lines] == [66.7, 11.7]


def test_landscape_takeaways_read_the_slices_and_the_line():
    results = {"plain-20": {"alpha": [-1, 0, 1], "beta": [-1, 0, 1],
                            "loss": [[9.0, 4.0, 8.0], [3.0, 0.5, 6.0], [7.0, None, 2.0]]},
               "resnet-20": {"alpha": [-1, 0, 1], "beta": [-1, 0, 1],
                             "loss": [[1.0, 0.8, 1.2], [0.9, 0.2, 1.1], [1.3, 0.7, 1.0]]}}
    words = words_of(landscape_surfaces(results))
    assert "from 0.5 up to 9 for plain-20 and from 0.2 up to 1.3 for resnet-20" in words.takeaway
    assert "plain-20's slice rises the most" in words.takeaway
    assert len(words.table.rows) == 17 and ("plain-20", 1.0, -1.0, 8.0) in words.table.rows
    line = landscape_line({"plain-20": {"alpha": [0, 0.5, 1], "loss": [2.3, 5.0, 0.1]},
                           "resnet-20": {"alpha": [0, 0.5, 1], "loss": [2.3, 1.0, 0.05]}})
    said = words_of(line).takeaway
    for t in line.data:
        assert f"{t.name} from {t.y[0]:.3g} at α = 0 to {t.y[-1]:.3g} at α = 1" in said
    assert "plain-20 from 2.3 at α = 0 to 0.1 at α = 1, rising to 5 at α = 0.5" in said
    assert "resnet-20 from 2.3 at α = 0 to 0.05 at α = 1, with no bump" in said


def test_the_debrief_figure_carries_its_takeaway_as_name_caption_and_table():
    html = _figure(tally_chart([("plain-56 <b>", 2), ("resnet-56", 1)]), "tally-0")
    said = "3 students answered: 2 for plain-56 &lt;b&gt; and 1 for resnet-56. Most chose plain-56 &lt;b&gt; (2 of 3)."
    assert f'<figure aria-label="{said}">' in html and f"<figcaption>{said}</figcaption>" in html
    assert "<td>plain-56 &lt;b&gt;</td><td>2</td>" in html and "explorer_words" not in html


@pytest.mark.parametrize("cfg, said", [
    (ModelConfig(), "resnet-20: a 3×3 conv, BN and ReLU, then 3 stages of 3 basic units (16, 32, 64 channels) with "
                    "identity shortcuts (option A: zero-padding where the width doubles), global average pooling and "
                    "a 10-way fully connected layer: 20 weighted layers. Each unit: 3×3 conv, BN, ReLU, 3×3 conv, BN, "
                    "add the shortcut, ReLU. It takes 3×32×32 images."),
    (ModelConfig(depth=56, shortcut="none", width=0.5), "plain-56: a 3×3 conv, BN and ReLU, then 3 stages of 9 basic "
     "units (8, 16, 32 channels) with no shortcuts"),
    (preset("resnet50"), "4 stages of 3, 4, 6, 3 bottleneck units (64, 128, 256, 512 channels inside, 256, 512, "
     "1024, 2048 out) with identity shortcuts (option B"),
    (preset("preact_resnet164"), "BN and ReLU, then global average pooling and a 10-way fully connected layer: 164 "
     "weighted layers. Each unit: BN, ReLU, 1×1 conv, BN, ReLU, 3×3 conv, BN, ReLU, 1×1 conv, add the shortcut."),
])
def test_a_network_is_described_from_its_config(cfg, said):
    text = describe_network(cfg)
    assert said in text
    assert f"{cfg.num_layers} weighted layers" in text and str(len(cfg.blocks_per_stage)) + " stages" in text
