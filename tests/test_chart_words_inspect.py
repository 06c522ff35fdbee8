"""Words and numbers for the charts of Inspect, Why it works and Explain (issue 23): each takeaway's numbers are
read back from the figure's own data (its traces), never from the inputs the test gave."""
import statistics

import numpy as np
import pytest

from explorer.analysis.ablation import path_lengths
from explorer.figures.clicks import clickable_cells
from explorer.figures.curves import ablation_chart, branch_ratio_chart, layer_response_chart
from explorer.figures.images import (
    attribution_overlay,
    confusion_matrix,
    image_grid,
    mistakes_strip,
    sample_strip,
    topk_bars,
)
from explorer.figures.style import RunSeries
from explorer.figures.why import deletion_chart, highway_chart, path_landscape_chart, path_length_chart
from explorer.figures.words import ChartWords, pct, words_of
from explorer.store.records import Metric
from explorer.text import MAX_SHOWN_CHARS, reads_plainly


def _words(fig) -> ChartWords:
    """The chart's words, which must read plainly: a page shows them as they are, not as a code span."""
    words = words_of(fig)
    assert reads_plainly(words.takeaway) and len(words.takeaway) <= MAX_SHOWN_CHARS, words.takeaway
    return words


def test_top5_bars_say_the_top_class_and_the_runner_up():
    fig = topk_bars([("1", 0.04), ("7", 0.93), ("3", 0.01)], "resnet-20: top 5", "resnet-20")
    bar, words = fig.data[0], _words(fig)
    assert words.takeaway == (f"resnet-20 reads this image as {bar.y[0]} with {bar.x[0]:.1f}% probability; next is "
                              f"{bar.y[1]} at {bar.x[1]:.1f}%.")
    assert words.table.rows == tuple((i + 1, c, pytest.approx(v))
                                     for i, (c, v) in enumerate(zip(bar.y, bar.x, strict=True)))


def test_confusion_matrix_says_its_accuracy_and_most_confused_pair_and_clicks_keep_the_words():
    fig = confusion_matrix(np.array([[50, 1, 0], [2, 40, 6], [0, 3, 48]]), ["cat", "dog", "fish"], "plain-20")
    z = np.asarray(fig.data[0].z)
    off = z - np.diag(np.diag(z))
    i, j = np.unravel_index(off.argmax(), off.shape)
    takeaway = _words(fig).takeaway
    assert f"{np.trace(z)} of {z.sum()} test images correctly ({100 * np.trace(z) / z.sum():.1f}%)" in takeaway
    assert f"a true {fig.data[0].y[i]} as {fig.data[0].x[j]} ({off[i, j]} images)" in takeaway
    assert ("dog", "fish", 6) in _words(fig).table.rows and len(_words(fig).table.rows) == 9
    clickable = clickable_cells(fig, list(fig.data[0].x), list(fig.data[0].y))
    assert _words(clickable).takeaway == takeaway and len(clickable.data) == 2
    assert "confuses no pair" in _words(confusion_matrix(np.eye(2, dtype=int), ["a", "b"])).takeaway


def test_attribution_overlay_says_where_its_heat_is():
    amap = np.zeros((10, 10))
    amap[7:, 7:] = 5.0  # the bottom-right corner
    amap[0, 0] = 1.0
    fig = attribution_overlay(np.zeros((20, 20)), amap, 0.5, "t", "resnet-20's Grad-CAM map for '7'")
    drawn = np.sort(np.asarray(fig.data[1].z).ravel())[::-1]  # the map as the chart draws it, in [0, 1]
    share = 100 * drawn[:10].sum() / drawn.sum()
    assert _words(fig).takeaway == (f"resnet-20's Grad-CAM map for '7' puts {share:.0f}% of its weight in its "
                                      "brightest 10% of cells; it peaks in the bottom-right part of the image.")
    assert ("largest value (raw map)", "5") in _words(fig).table.rows
    assert "is flat" in _words(attribution_overlay(np.zeros((4, 4)), np.ones((2, 2)))).takeaway


def test_strips_and_grids_say_which_image_is_which():
    fig = sample_strip([np.zeros((4, 4))] * 3, ["0", "1", "2"], "One sample per class")
    assert _words(fig).takeaway == "One sample per class, 3 in all, labelled 0, 1 and 2."
    shown = [{"index": 12, "true": 3, "predicted": 8, "confidence": 0.97, "image": np.zeros((4, 4))},
             {"index": 40, "true": 9, "predicted": 5, "confidence": 0.5, "image": np.zeros((4, 4))}]
    fig = mistakes_strip(shown, [str(k) for k in range(10)], "Test images resnet-20 gets most confidently wrong")
    labels = [a.text for a in fig.layout.annotations]
    assert labels == ["#12: 3→8 97%", "#40: 9→5 50%"]
    assert _words(fig).takeaway == ("Test images resnet-20 gets most confidently wrong: test image 12 (3 read as 8, "
                                    "97% sure) and test image 40 (9 read as 5, 50% sure).")
    assert _words(fig).table.rows == ((12, "3", "8", 97.0), (40, "9", "5", 50.0))
    maps = [np.zeros((4, 4)), np.full((4, 4), 3.0), np.eye(4)]
    fig = image_grid(maps, "resnet-20: layer1.0 (16 channels)", item="channel")
    assert "The largest value is in channel 2 (3); 1 of 3 are zero everywhere." in _words(fig).takeaway
    assert _words(fig).table.rows[2] == (3, "channel 3", 1.0, 0.25)
    assert _words(image_grid([], "none")).takeaway == "none: no images to show."


def test_layer_responses_compare_plain_and_residual_as_in_figure7():
    responses = {"plain-20": {"conv1": 1.0, "layer1.0.conv1": 0.8, "layer1.0.conv2": 1.4},
                 "resnet-20": {"conv1": 1.0, "layer1.0.conv1": 0.3, "layer1.0.conv2": 0.2}}
    fig = layer_response_chart(responses)
    in_order = [t for t in fig.data if t.yaxis in (None, "y")]  # the top panel: network order
    means = {t.name: statistics.fmean(t.y) for t in in_order}
    takeaway = _words(fig).takeaway
    for name, mean in means.items():
        assert f"{mean:.3g} for {name}" in takeaway
    assert "plain-20's layer1.0.conv2 (1.4)" in takeaway and "smaller, as in Figure 7" in takeaway
    assert ("resnet-20", 2, "layer1.0.conv1", 0.3, 2) in _words(fig).table.rows
    swapped = layer_response_chart({"plain-20": responses["resnet-20"], "resnet-20": responses["plain-20"]})
    assert "larger than the plain net's, unlike Figure 7" in _words(swapped).takeaway
    close = layer_response_chart({"plain-20": {"a": 1.03}, "resnet-20": {"a": 1.02}})
    assert "not clearly smaller" in _words(close).takeaway


def test_branch_ratios_say_each_nets_median_and_largest():
    runs = [RunSeries(n, 20, n.startswith("plain"), "completed",
                      (Metric("epoch", epoch=1, branch_ratios=r),))
            for n, r in (("plain-20", {"layer1.0": 1.2, "layer1.1": 0.9, "layer2.0": 1.5}),
                         ("resnet-20", {"layer1.0": 0.2, "layer1.1": 0.4, "layer2.0": 0.9}))]
    fig = branch_ratio_chart(runs)
    takeaway = _words(fig).takeaway
    for trace in fig.data:
        top = max(range(len(trace.y)), key=lambda i: trace.y[i])
        assert f"a median of {statistics.median(trace.y):.3g}, at most {trace.y[top]:.3g} at {trace.x[top]}" in takeaway
    assert "‖F(x)‖/‖x‖" in takeaway and "‖out‖/‖in‖" in takeaway
    empty = branch_ratio_chart([RunSeries("resnet-20")])
    assert _words(empty).takeaway == "No branch ratios were recorded yet."


def _ablation(base, errors, stuck=()):
    rows = [{"unit": None, "skippable": True, "error": base}]
    return rows + [{"unit": f"layer{i}", "skippable": i not in stuck, "error": None if i in stuck else e,
                    "reason": "shape" if i in stuck else None} for i, e in enumerate(errors)]


def test_ablation_says_the_worst_missing_unit_per_net_and_compares_with_veit():
    results = {"plain-20": _ablation(0.05, [0.7, 0.8, None], stuck=(2,)), "resnet-20": _ablation(0.04, [0.05, 0.055])}
    fig = ablation_chart(results)
    takeaway = _words(fig).takeaway
    for name in results:
        line = next(t for t in fig.data if t.name == name)
        base = next(t for t in fig.data if t.name == f"{name}: nothing removed").y[0]
        drawn = [v for v in line.y if v is not None]
        unit = line.x[list(line.y).index(max(drawn))]
        assert f"{name}'s test error from {pct(base)} to at most {pct(max(drawn))} ({unit}" in takeaway
        assert f"{name} {statistics.median(drawn) - base:.1f}" in takeaway  # the median unit's cost, in points
    assert "(layer1; 1 unit cannot be skipped)" in takeaway
    assert "most blocks barely matter to the residual net, as Veit et al. 2016 found" in takeaway
    assert ("plain-20", "layer2", "no", None, None) in _words(fig).table.rows
    same = ablation_chart({"plain-20": _ablation(0.05, [0.06]), "resnet-20": _ablation(0.04, [0.5])})
    assert "unlike Veit et al. 2016's ResNets" in _words(same).takeaway
    partly = ablation_chart({"plain-20": _ablation(0.05, [0.9]), "resnet-20": _ablation(0.04, [0.2, 0.3, 0.9])})
    assert "though not barely" in _words(partly).takeaway
    stuck = ablation_chart({"plain-8": _ablation(0.05, [None], stuck=(0,))})
    assert _words(stuck).takeaway == "Skipping one unit takes plain-8's test error nowhere (none of its units can " \
                                     "be skipped)."


def _split(name, shortcut, branch):
    kind = "none" if shortcut is None else "identity"
    return [{"unit": f"u{i}", "kind": kind, "shortcut": s or 0.0, "branch": b}
            for i, (s, b) in enumerate(zip(shortcut or [None] * len(branch), branch, strict=True))]


def test_highway_counts_the_units_where_the_shortcut_carries_more():
    nets = {"plain-20": _split("plain-20", None, [0.2, 0.1, 0.05]),
            "resnet-20": _split("resnet-20", [1.0, 1.0, 0.5], [0.5, 2.0, 0.1])}
    splits = {"after training": nets, "at initialisation": nets}  # as the page draws it: fits one caption
    fig = highway_chart(splits)
    shortcut = next(t for t in fig.data if "identity shortcut" in t.name)
    branch = next(t for t in fig.data if t.name == "resnet-20: through the branch")
    bigger = sum(1 for s, b in zip(shortcut.y, branch.y, strict=True) if s > b)
    plain = next(t for t in fig.data if t.name.startswith("plain-20"))
    takeaway = _words(fig).takeaway
    assert f"resnet-20's shortcut carries more than its branch at {bigger} of its 3 identity shortcuts" in takeaway
    assert takeaway.startswith("After training: ")
    assert f"plain-20's gradient norm is {plain.y[0] / plain.y[-1]:.2g}× as large at its first unit" in takeaway
    assert len(_words(fig).table.rows) == 12


def test_path_lengths_and_deletions_say_their_numbers():
    fig = path_length_chart({"resnet-20": path_lengths(9)})
    bars = fig.data[0]
    top = max(bars.y)
    modes = [str(x) for x, y in zip(bars.x, bars.y, strict=True) if y == top]
    assert _words(fig).takeaway == (f"resnet-20's 9 units give {2 ** 9:,} paths; the commonest lengths are "
                                      f"{modes[0]} and {modes[1]} branches ({top:.1f}% of the paths each), and only "
                                      f"one path ({bars.y[0]:.2f}%) skips every branch.")
    rows = {"resnet-20": [{"k": k, "errors": [e], "mean": e, "low": e, "high": e} for k, e in
                          enumerate([0.02, 0.03, 0.4])]}
    fig = deletion_chart(rows)
    y = fig.data[0].y
    assert _words(fig).takeaway == (f"Deleting units at random, resnet-20's test error goes from {y[0]:.1f}% with "
                                      f"no unit deleted to {y[1]:.1f}% with one and {y[-1]:.1f}% with all 2 (mean "
                                      "over the draws).")


def test_path_landscape_reads_the_loss_at_the_paths_ends():
    alpha, beta = [-1.0, 0.0, 1.0], [-1.0, 0.0, 1.0]
    loss = [[4.0, 3.0, 2.0], [1.0, 0.5, 0.7], [0.9, 0.8, 0.6]]
    result = {"alpha": alpha, "beta": beta, "loss": loss, "explained": [0.6, 0.25],
              "path": {"alpha": [0.9, 0.4, 0.0], "beta": [-0.9, -0.2, 0.0], "epoch": [0, 1, 2]}}
    fig = path_landscape_chart({"resnet-8": result})
    z = fig.data[0].z  # log10 of the loss, rows follow beta
    start, trained = 10 ** z[0][2], 10 ** z[1][1]  # the grid points nearest (0.9, -0.9) and (0, 0)
    assert _words(fig).takeaway == (f"On resnet-8's plane the loss is {start:.3g} near the initial weights (○) and "
                                      f"{trained:.3g} near the trained ones (★); the plane holds 85% of the path's "
                                      "variation.")
    assert [r[1] for r in _words(fig).table.rows] == ["start", "epoch 1", "trained"]


def test_empty_charts_say_so_and_typed_names_stay_as_typed():
    for fig in (highway_chart({}), path_length_chart({}), deletion_chart({}), path_landscape_chart({})):
        assert _words(fig).takeaway.startswith("No ")
    hostile = "<b>x</b>"
    fig = topk_bars([("cat", 1.0)], "t", hostile)
    assert words_of(fig).takeaway.startswith(hostile) and fig.data[0].y[0] == "cat"
    assert _words(topk_bars([("a", 0.9996), ("b", 0.0004)], "t")).takeaway.endswith("next is b at under 0.1%.")
