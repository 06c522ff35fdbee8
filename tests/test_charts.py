"""explorer.figures: each figure's data (traces, names, dashes, colours, axes), checked without a browser.

Most inputs are small hand-made metric records shaped like the engine's; one test feeds the charts the
records of a real (tiny, few-step) digits twin trained by explorer.training.engine, and the ablation, landscape and
response charts get their rows from the real library functions on a tiny net.
"""
import dataclasses
import json
import math
import re
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from explorer import figures as charts
from explorer.figures.style import RunSeries
from explorer.nets.config import ModelConfig
from explorer.store.records import Metric, Run

PAPERS_MD = Path(__file__).resolve().parents[2] / "shared" / "PAPERS.md"
CONVS = ["conv1", "layer1.0.conv1", "layer1.0.conv2", "layer2.0.conv1", "layer2.0.conv2", "fc_never_mind"]
UNITS = ["layer1.0", "layer2.0", "layer3.0"]


def _epoch(run, epoch, train=0.5, test=0.6, grads=None, ratios=None, **extra) -> Metric:
    rec = {"type": "epoch", "run": run, "epoch": epoch, "step": 10 * epoch,
           "train_loss": None if epoch == 0 else train * 2, "train_error": None if epoch == 0 else train,
           "test_loss": test * 2, "test_error": test, "elapsed": float(epoch), "eta": None, "lr": 0.1,
           "images_per_second": None if epoch == 0 else 100.0}
    if grads is not None:
        rec["grad_norms"] = dict(zip(CONVS[:len(grads)], grads, strict=False))
    if ratios is not None:
        rec["branch_ratios"] = dict(zip(UNITS, ratios, strict=False))
    rec.update(extra)
    return Metric.from_dict(rec)


def _steps(run, n=30) -> list:
    return [Metric("step", run, step=s, epoch=s / 10, train_loss=2.3 / (1 + s), train_error=0.5, lr=0.1, time=0.0)
            for s in range(1, n + 1)]


def _run(name, depth, plain, status="completed", epochs=3, grads=(1e-3, 1e-2, 1e-1)) -> RunSeries:
    recs = [_epoch(name, e, train=0.5 / (e + 1), test=0.6 / (e + 1), grads=[g * (e + 1) for g in grads],
                   ratios=[0.3, 0.2, 0.1]) for e in range(epochs + 1)]
    return RunSeries(name, depth, plain, status, tuple(_steps(name) + recs))


def _with(run: RunSeries, *records: Metric) -> RunSeries:
    return dataclasses.replace(run, records=run.records + records)


@pytest.fixture
def sweep():
    """A depth sweep: plain and residual at depths 20 and 56."""
    return [_run("plain-20", 20, True), _run("plain-56", 56, True), _run("resnet-20", 20, False),
            _run("resnet-56", 56, False)]


def _lines(fig):
    """Traces that draw a run's curve (not markers, not baselines), by name."""
    return [t for t in fig.data if t.type == "scatter" and "lines" in (t.mode or "")]


# ----------------------------------------------------------------------------- training curves
def test_training_curves_colour_per_depth_and_plain_dashed(sweep):
    fig = charts.training_curves(sweep)
    assert [a.text for a in fig.layout.annotations][:2] == ["Training error", "Test error"]
    lines = _lines(fig)
    assert len(lines) == 2 * len(sweep)  # a training and a test curve per run
    by_name = {}
    for t in lines:
        by_name.setdefault(t.name, []).append(t)
    assert set(by_name) == {"plain-20", "plain-56", "resnet-20", "resnet-56"}
    for name, traces in by_name.items():
        assert {t.line.dash for t in traces} == {"dash" if name.startswith("plain") else "solid"}
        assert sum(bool(t.showlegend) for t in traces) == 1  # one legend entry per run
    colour = {n: by_name[n][0].line.color for n in by_name}
    assert colour["plain-20"] == colour["resnet-20"] != colour["plain-56"] == colour["resnet-56"]


def test_training_curves_values_are_percent_and_epoch_zero_none_is_skipped(sweep):
    fig = charts.training_curves(sweep)
    train, test = [t for t in _lines(fig) if t.name == "resnet-20"]
    assert train.xaxis == "x" and test.xaxis == "x2"
    assert list(train.x) == [1, 2, 3]  # epoch 0 has no training error
    assert list(test.x) == [0, 1, 2, 3]  # but it has a test error: the untrained net
    assert train.y[0] == pytest.approx(100 * 0.5 / 2)
    assert "%" in fig.layout.yaxis.title.text


def test_training_curves_loss_metric_and_bad_metric(sweep):
    fig = charts.training_curves(sweep, metric="loss")
    assert [a.text for a in fig.layout.annotations][:2] == ["Training loss", "Test loss"]
    train = [t for t in _lines(fig) if t.name == "plain-56"][0]
    assert train.y[0] == pytest.approx(2 * 0.5 / 2)  # loss is not scaled to %
    with pytest.raises(ValueError):
        charts.training_curves(sweep, metric="accuracy")


def test_diverged_run_gets_a_cross_marker_at_its_last_point():
    runs = [_run("plain-56", 56, True, status="diverged", epochs=2), _run("resnet-56", 56, False)]
    fig = charts.training_curves(runs)
    crosses = [t for t in fig.data if t.mode == "markers" and t.marker.symbol == "x"]
    assert len(crosses) == 2  # one per panel
    train_line = [t for t in _lines(fig) if t.name.startswith("plain-56")][0]
    assert "diverged" in train_line.name
    assert crosses[0].x[0] == train_line.x[-1] and crosses[0].y[0] == train_line.y[-1]
    assert not [t for t in charts.training_curves(runs[1:]).data if t.mode == "markers"]


def test_curves_survive_nan_partial_and_empty_runs():
    bad = _run("resnet-20", 20, False)
    bad = _with(bad, _epoch("resnet-20", 4, train=float("nan"), test=0.1, partial=True))
    empty = RunSeries("plain-20", 20, True, "queued")
    fig = charts.training_curves([bad, empty])
    train = [t for t in _lines(fig) if t.name == "resnet-20"][0]
    assert all(v is None or math.isfinite(v) for v in train.y)
    assert charts.loss_curve([bad, empty]).data  # does not raise


def test_loss_curve_uses_fractional_epochs_and_thins_long_runs():
    run = _run("resnet-20", 20, False)
    fig = charts.loss_curve([run])
    assert list(fig.data[0].x)[:3] == [0.1, 0.2, 0.3]
    assert fig.data[0].y[0] == pytest.approx(2.3 / 2)
    long = RunSeries("resnet-20", 20, False, records=tuple(_steps("r", 5000)))
    assert len(charts.loss_curve([long]).data[0].x) <= charts.MAX_POINTS


def test_same_depth_runs_of_one_kind_get_different_colours():
    """A placement comparison (all resnet-20): depth cannot tell them apart, so run names do."""
    runs = [_run(f"resnet-20-{p}", 20, False) for p in ("original", "full_preact")]
    colours = {t.line.color for t in _lines(charts.training_curves(runs))}
    assert len(colours) == 2


# ----------------------------------------------------------------------------- gradients, branches
def test_gradient_profile_log_axis_two_panels_and_hover_names(sweep):
    fig = charts.gradient_profile(sweep)
    assert [a.text for a in fig.layout.annotations][:2] == ["At the start (epoch 0)", "Latest epoch"]
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis2.type == "log"
    start = [t for t in fig.data if t.name == "plain-56" and t.xaxis == "x"][0]
    latest = [t for t in fig.data if t.name == "plain-56" and t.xaxis == "x2"][0]
    assert list(start.x) == [1, 2, 3] and start.line.dash == "dash"
    assert start.hovertext[1].startswith("layer1.0.conv1")
    assert latest.y[0] == pytest.approx(4 * 1e-3)  # epoch 3's norms
    assert "No gradient" in charts.gradient_profile([RunSeries("a")]).layout.annotations[0].text


def test_gradient_heatmap_rows_are_layers_columns_epochs():
    run = _run("plain-20", 20, True, grads=(1e-3, 0.0, 1e-1))
    fig = charts.gradient_heatmap(run, zrange=charts.gradient_log_range([run]))
    hm = fig.data[0]
    assert list(hm.x) == [0, 1, 2, 3] and list(hm.y) == CONVS[:3]
    assert hm.z[0][0] == pytest.approx(-3.0) and hm.z[2][3] == pytest.approx(math.log10(0.4))
    assert hm.z[1][0] is None  # a zero norm has no logarithm
    assert (hm.zmin, hm.zmax) == pytest.approx((-3.0, math.log10(0.4)))


def test_branch_ratio_chart_latest_epoch_per_unit(sweep):
    sweep[0] = _with(sweep[0], _epoch("plain-20", 4, ratios=[1.5, 1.2, 0.9]))
    fig = charts.branch_ratio_chart(sweep)
    assert len(fig.data) == 4
    plain = [t for t in fig.data if t.name.startswith("plain-20")][0]
    assert list(plain.x) == UNITS and list(plain.y) == [1.5, 1.2, 0.9] and plain.line.dash == "dash"


# ----------------------------------------------------------------------------- with the real library
@pytest.fixture(scope="module")
def tiny_twin():
    from explorer.training.engine import build_models
    cfg = ModelConfig(depth=8, in_channels=1, input_size=8, width=0.5)
    return build_models([("resnet-8", cfg), ("plain-8", cfg.plain())], seed=0), cfg


@pytest.mark.slow
def test_charts_from_a_real_engine_run():
    from explorer.data.config import DataConfig, model_config_for
    from explorer.data.datasets import load_dataset
    from explorer.training.engine import build_models, train_models
    from explorer.training.events import EpochEvent, StepEvent
    from explorer.training.recipes import TrainConfig
    data = load_dataset(DataConfig(name="digits", train_subset=64, test_subset=32))
    cfg = model_config_for(ModelConfig(depth=8, width=0.5), data.preprocessing)
    models = build_models([("resnet-8", cfg), ("plain-8", cfg.plain())], seed=0)
    events = []
    train_models(models, data, TrainConfig(epochs=2, batch_size=64, device="cpu", log_every=1), events.append)
    runs = [charts.run_series(Run("exp", n, n, c.to_dict(), "completed", depth=c.num_layers),
                              [Metric.from_dict(e.to_dict()) for e in events
                               if isinstance(e, (StepEvent, EpochEvent)) and e.run == n])
            for n, c in (("resnet-8", cfg), ("plain-8", cfg.plain()))]
    assert runs[1].plain and runs[1].depth == 8 and not runs[0].plain
    curves = charts.training_curves(runs)
    assert len(_lines(curves)) == 4 and list(_lines(curves)[0].x) == [1, 2]
    profile = charts.gradient_profile(runs)
    convs = [n for n, m in models["plain-8"].named_modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(profile.data[0].x) == len(convs)
    assert len(charts.gradient_heatmap(runs[0]).data[0].x) == 3  # epochs 0, 1, 2
    assert charts.branch_ratio_chart(runs).data and charts.loss_curve(runs).data[0].x


def test_response_ablation_and_landscape_charts_from_real_rows(tiny_twin):
    from explorer.analysis import ablation, diagnostics, landscape
    models, _ = tiny_twin
    x = torch.randn(8, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    y = torch.arange(8) % 10
    responses = {n: diagnostics.layer_responses(m, x) for n, m in models.items()}
    fig = charts.layer_response_chart(responses)  # Figure 7: network order on top, sorted below
    assert [a.text for a in fig.layout.annotations][:2] == ["In network order", "Sorted by magnitude"]
    assert {t.name for t in fig.data} == {"resnet-8", "plain-8"}
    for t in fig.data:
        if t.yaxis == "y2":
            assert list(t.y) == sorted(responses[t.name].values(), reverse=True)
        else:
            assert list(t.y) == list(responses[t.name].values()) and list(t.hovertext) == list(responses[t.name])
    assert len([t for t in fig.data if t.yaxis == "y2"]) == 2
    assert "3×3" in fig.layout.xaxis.title.text and "after BN" in fig.layout.title.text

    rows = {n: ablation.ablate_blocks(m, x, y) for n, m in models.items()}
    fig = charts.ablation_chart(rows)
    baseline = [t for t in fig.data if t.name == "plain-8: nothing removed"][0]
    assert set(baseline.y) == {100 * rows["plain-8"][0]["error"]} and baseline.line.dash == "dashdot"
    stuck = [t for t in fig.data if t.name == "plain-8: cannot be skipped"][0]  # its downsampling blocks
    assert set(stuck.x) == {r["unit"] for r in rows["plain-8"] if not r["skippable"]}
    assert not [t for t in fig.data if t.name == "resnet-8: cannot be skipped"]

    surfaces = {n: landscape.surface(m, x, y, steps=3, span=0.5) for n, m in models.items()}
    for kind in ("contour", "surface"):
        fig = charts.landscape_surfaces(surfaces, kind=kind)
        main = [t for t in fig.data if t.type == kind]
        ranges = {(t.zmin, t.zmax) if kind == "contour" else (t.cmin, t.cmax) for t in main}
        assert len(main) == 2 and len(ranges) == 1  # one shared colour scale
        lo, hi = ranges.pop()
        all_logs = [math.log10(v) for s in surfaces.values() for row in s["loss"] for v in row]
        assert (lo, hi) == pytest.approx((min(all_logs), max(all_logs)))
        centre = [t for t in fig.data if t.name == "trained weights"]
        assert len(centre) == 2 and centre[0].x[0] == 0 and centre[0].y[0] == 0
    with pytest.raises(ValueError):
        charts.landscape_surfaces(surfaces, kind="bars")


def test_landscape_line_log_axis_one_trace_per_net():
    results = {"plain-20": {"alpha": [0, 0.5, 1], "loss": [2.3, 5.0, 0.1]},
               "resnet-20": {"alpha": [0, 0.5, 1], "loss": [2.3, 1.0, 0.05]}}
    fig = charts.landscape_line(results)
    assert fig.layout.yaxis.type == "log"
    assert [t.line.dash for t in fig.data] == ["dash", "solid"]
    assert fig.data[0].line.color == fig.data[1].line.color


# ----------------------------------------------------------------------------- predictions and images
def test_topk_bars_highest_on_top():
    fig = charts.topk_bars([("cat", 0.1), ("dog", 0.7), ("ship", 0.2)], "resnet-20")
    bar = fig.data[0]
    assert bar.orientation == "h" and list(bar.y) == ["dog", "ship", "cat"]
    assert fig.layout.yaxis.autorange == "reversed"  # first category drawn at the top
    assert list(bar.x) == pytest.approx([70, 20, 10])


def test_confusion_matrix_counts_and_shape_check():
    cm = np.array([[5, 1], [2, 7]])
    fig = charts.confusion_matrix(cm, ["0", "1"])
    assert np.array_equal(np.asarray(fig.data[0].z), cm) and fig.data[0].texttemplate == "%{text}"
    with pytest.raises(ValueError):
        charts.confusion_matrix(cm, ["0", "1", "2"])


def test_attribution_overlay_layers_map_on_image():
    img = np.random.default_rng(0).random((8, 8))
    amap = np.zeros((4, 4))
    amap[0, 0] = 3.0
    fig = charts.attribution_overlay(img, amap, opacity=0.7, title="resnet-20: saliency")
    image, heat = fig.data
    assert image.type == "image" and np.asarray(image.z).shape == (8, 8, 3)
    assert heat.type == "heatmap" and heat.opacity == pytest.approx(0.7)
    assert np.asarray(heat.z).max() == 1.0 and heat.dx == 2.0  # scaled to [0, 1], stretched over the image
    assert fig.layout.xaxis.showticklabels is False and fig.layout.yaxis.scaleanchor == "x"
    with pytest.raises(ValueError):
        charts.attribution_overlay(img, np.zeros(4), 0.5, "bad")


def test_sample_strip_one_image_per_label():
    imgs = [np.full((8, 8), k / 3) for k in range(3)] + [np.zeros((8, 8, 3))]
    fig = charts.sample_strip(imgs, ["0", "1", "2", "3"])
    assert [t.type for t in fig.data] == ["image"] * 4
    assert [a.text for a in fig.layout.annotations] == ["0", "1", "2", "3"]
    with pytest.raises(ValueError):
        charts.sample_strip(imgs, ["0"])


def test_figures_serialise_to_json(sweep):
    """What Streamlit does with a figure: it must serialise without error."""
    for fig in (charts.training_curves(sweep), charts.gradient_profile(sweep), charts.branch_ratio_chart(sweep)):
        assert isinstance(fig, go.Figure) and json.loads(fig.to_json())["data"]


# ----------------------------------------------------------------------------- the papers' numbers
def test_paper_reference_has_the_key_numbers():
    ref = charts.paper_reference()
    assert "not your dataset" in ref["label"]
    table6 = {r["depth"]: r["test_error"] for r in ref["resnet_depths"]["rows"]}
    assert table6[56] == 6.97
    assert ref["placements"]["rows"]["full_preact"]["test_error"]["110"] == 6.37
    from explorer.nets.config import PLACEMENTS
    assert set(ref["placements"]["rows"]) <= set(PLACEMENTS)
    assert set(ref["gross_wilber"]["variants"]) == {"original", "no_final_relu", "bn_after_add",
                                                    "bn_after_add_no_relu"}
    assert all(r["source"] for k, r in ref.items() if isinstance(r, dict))


def _error_numbers(obj):
    """Every error figure in the reference file (keys that say error, and the dicts of errors under them)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and re.search(r"error|skip|^\d+$", k):
                yield v
            elif isinstance(v, (dict, list)):
                yield from _error_numbers(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _error_numbers(v)


@pytest.mark.skipif(not PAPERS_MD.exists(), reason="shared/PAPERS.md is not next to this checkout")
def test_paper_numbers_match_papers_md():
    text = PAPERS_MD.read_text()
    numbers = list(_error_numbers(charts.paper_reference()))
    assert len(numbers) > 40
    missing = [v for v in numbers if f"{v:.2f}" not in text and f"{v:g}" not in text]
    assert not missing, f"numbers not in PAPERS.md: {missing}"


@pytest.mark.skipif(not PAPERS_MD.exists(), reason="shared/PAPERS.md is not next to this checkout")
def test_plain_net_numbers_name_the_reproductions_they_come_from():
    """The paper gives no table of plain-net errors: each number must say whose reproduction it is."""
    text = PAPERS_MD.read_text()
    plain = charts.paper_reference()["plain_depths"]
    names = plain["reproductions"]
    assert set(names.values()) == {"techxzen", "a-martyn"} and all(n in text for n in names.values())
    assert all(n in plain["source"] for n in names.values())
    for row in plain["rows"]:
        errors = {k for k in row if "error" in k}
        assert errors == set(names), row  # one number per named reproduction, no unnamed ranges


def _numbers_in(text: str) -> list:
    return re.findall(r"\d+\.\d+", text)


@pytest.mark.skipif(not PAPERS_MD.exists(), reason="shared/PAPERS.md is not next to this checkout")
def test_help_texts_cite_only_numbers_that_papers_md_has():
    """Every decimal number a shortcut or placement help sentence quotes is one of the papers' (PAPERS.md)."""
    from explorer.nets.kinds import PLACEMENTS, SHORTCUTS
    text = PAPERS_MD.read_text()
    helps = [k.help for k in SHORTCUTS.values()] + [p.help for p in PLACEMENTS.values()]
    quoted = [n for h in helps for n in _numbers_in(h)]
    assert quoted and not [n for n in quoted if n not in text]
    option_c = SHORTCUTS["C"].help  # slightly better only for ResNet-34 on ImageNet; far worse on ResNet-110
    assert "ResNet-34" in option_c and "ResNet-110" in option_c and "12.22" in option_c


# ----------------------------------------------------------------------------- Figure 6 layout
def test_figure6_layout_is_the_papers_plain_panel_resnet_panel_dashed_training_bold_test(sweep):
    """He et al. 2015, Figure 6: plain nets and ResNets in separate panels; dashed = training, bold = test."""
    fig = charts.training_curves(sweep, layout="figure6")
    assert [a.text for a in fig.layout.annotations][:2] == ["Plain nets", "ResNets"]
    assert "dashed = training, bold = test" in fig.layout.title.text
    lines = _lines(fig)
    assert len(lines) == 2 * len(sweep)
    for t in lines:
        assert t.xaxis == ("x" if t.name.startswith("plain") else "x2"), t.name
    for name in ("plain-20", "plain-56", "resnet-20", "resnet-56"):
        train, test = [t for t in lines if t.name == name]
        assert (train.line.dash, test.line.dash) == ("dash", "solid")
        assert test.line.width > train.line.width  # bold test curve
        assert list(train.x) == [1, 2, 3] and list(test.x) == [0, 1, 2, 3]
        assert "training" in train.hovertext[0] and "test" in test.hovertext[0]
    colour = {t.name: t.line.color for t in lines}
    assert colour["plain-20"] == colour["resnet-20"] != colour["plain-56"] == colour["resnet-56"]
    with pytest.raises(ValueError, match="layout"):
        charts.training_curves(sweep, layout="sideways")


def test_the_default_overlay_says_what_its_dashes_mean_and_does_not_claim_figure_6(sweep):
    fig = charts.training_curves(sweep)
    assert fig.layout.title.text.endswith("plain (dashed) vs residual (solid)")
    doc = charts.training_curves.__doc__ + charts.curves.__doc__
    assert "as in Figure 6" not in doc and "dashed means training error" in doc


def test_branch_ratio_chart_says_a_plain_unit_has_no_residual_branch(sweep):
    fig = charts.branch_ratio_chart(sweep)
    names = {t.name for t in fig.data}
    assert names == {"plain-20: ‖out‖/‖in‖", "plain-56: ‖out‖/‖in‖", "resnet-20", "resnet-56"}
    plain = [t for t in fig.data if t.name.startswith("plain")][0]
    assert "no F(x)" in plain.hovertext[0] and "plain" in fig.layout.yaxis.title.text


def test_reference_tables_show_the_plain_nets_under_their_reproductions_names():
    plain = charts.reference_tables()["plain"]
    assert [r["net"] for r in plain] == ["plain-20", "plain-32", "plain-44", "plain-56"]
    assert plain[-1] == {"net": "plain-56", "techxzen": 15.39, "a-martyn": 12.76}
