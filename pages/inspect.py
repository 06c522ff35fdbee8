"""Inspect: what the shortcut changes inside a network, plain and residual twin side by side.

Pick a finished experiment (the shipped digits twin by default) and its plain/residual pair; five views: gradient
flow over training, layer responses, the loss landscape (a job of kind `landscape`), block ablation, feature maps.
The page only reads widgets, calls explorer and draws explorer.figures figures; heavy results are cached per run.
"""
import functools

import streamlit as st
from torch import nn

from explorer import i18n
from explorer.analysis.ablation import ablate_blocks
from explorer.analysis.diagnostics import (
    branch_ratios,
    feature_maps,
    first_layer_filters,
    gradient_flow_sentence,
    layer_responses,
)
from explorer.analysis.evaluation import test_example
from explorer.data.datasets import normalize
from explorer.figures.clicks import clickable_cells, clicked_point
from explorer.figures.curves import (
    ablation_chart,
    branch_ratio_chart,
    gradient_heatmap,
    gradient_log_range,
    layer_response_chart,
    run_series,
)
from explorer.figures.images import image_grid
from explorer.figures.landscape import landscape_line, landscape_surfaces
from explorer.figures.style import RunSeries
from explorer.i18n import N_, _
from explorer.jobs.landscape import landscape_spec, read_landscapes
from explorer.nets.blocks import ResidualUnit
from explorer.store.checkpoints import load_run_dataset, load_run_model
from explorer.store.records import Metric
from explorer.text import plain_text
from pages.class_panel import predict_first
from pages.common import ensure_entry, results_gating, store
from pages.display import choose_nets, guard_view, plot
from pages.job_actions import landscape_job

ensure_entry("pages/inspect.py")

TABS = [N_("Gradient flow"), N_("Layer responses"), N_("Loss landscape"), N_("Block ablation"), N_("Feature maps")]
PROBE_IMAGES = 256  # test images for layer responses and branch ratios
ABLATION_IMAGES = 1000  # test images per ablated net: enough for a clear error, quick on a CPU
MAPS_SHOWN = 16  # feature maps drawn per net
PLOT_KINDS = {"contour": N_("contour"), "surface": N_("surface")}

# ----------------------------------------------------------------------------- cached work (per run)
@st.cache_resource(max_entries=4, show_spinner=False)
def _load_dataset(exp_id: str):
    return load_run_dataset(store(), exp_id)


def _dataset(exp_id: str):
    with st.spinner(_("Loading the test set…")):
        return _load_dataset(exp_id)


def _model(exp_id: str, run_id: str):
    """A fresh copy of the run's trained net (each computation gets its own, so sessions never share hooks)."""
    return load_run_model(store(), exp_id, run_id, "final")


def _test_images(exp_id: str, pre: dict, n: int, start: int = 0) -> tuple:
    ds = _dataset(exp_id)
    return normalize(ds.x_test[start:start + n], pre), ds.y_test[start:start + n]


@st.cache_data(max_entries=32, show_spinner=False)
def _measure_responses(exp_id: str, run_id: str, mtime: float) -> tuple:
    net = _model(exp_id, run_id)
    x, _labels = _test_images(exp_id, net.preprocessing, PROBE_IMAGES)
    return layer_responses(net.model, x), branch_ratios(net.model, x)


def _responses(exp_id: str, run_id: str, mtime: float) -> tuple:
    with st.spinner(_("Measuring the layer responses…")):
        return _measure_responses(exp_id, run_id, mtime)


@st.cache_data(max_entries=32, show_spinner=False)
def _ablate(exp_id: str, run_id: str, mtime: float, lang: str) -> list:
    net = _model(exp_id, run_id)
    return ablate_blocks(net.model, *_test_images(exp_id, net.preprocessing, ABLATION_IMAGES))


def _ablation(exp_id: str, run_id: str, mtime: float) -> list:
    """Each block's ablation; its reasons (sentences) in the reader's language, so the language keys the cache."""
    with st.spinner(_("Removing one block at a time…")):
        return _ablate(exp_id, run_id, mtime, i18n.current())


@st.cache_data(max_entries=64, show_spinner=False)
def _maps(exp_id: str, run_id: str, mtime: float, layer: str, index: int):
    net = _model(exp_id, run_id)
    return feature_maps(net.model, _test_images(exp_id, net.preprocessing, 1, index)[0], layer).numpy()


@st.cache_data(max_entries=32, show_spinner=False)
def _filters(exp_id: str, run_id: str, mtime: float) -> list:
    w = first_layer_filters(_model(exp_id, run_id).model)  # (out, in, k, k) in [0, 1]
    return [f.permute(1, 2, 0).numpy() if f.shape[0] == 3 else f[0].numpy() for f in w]


def _mtime(exp_id: str, run_id: str) -> float:
    path = store().weights_path(exp_id, run_id, "final")
    return path.stat().st_mtime if path.is_file() else 0.0


def _each(nets: dict, fn, *args) -> dict:
    """{net name: fn(exp_id, run_id, mtime, *args)} for the chosen nets."""
    return {name: fn(exp, rid, _mtime(exp, rid), *args) for name, (exp, rid) in nets.items()}


# ----------------------------------------------------------------------------- the views
def gradient_view(exp, nets: dict) -> None:
    st.markdown(_("**What to look for:** each square is the gradient norm that one conv layer (bottom: nearest the "
                  "input) received in one epoch (0 = before the first step), on a shared log colour scale. "
                  "He et al. 2015 (§4.1) checked that with BatchNorm a deep plain net's gradients do *not* vanish: "
                  "they put its higher training error down to optimisation difficulty, not vanishing gradients. "
                  "The identity shortcut adds a direct path for the gradient from any unit back to any earlier one "
                  "(He et al. 2016, Eq. 5). What your nets show:"))
    rows = {r.id: r for r in exp.runs}
    records = {n: store().read_metrics(eid, rid, kind="epoch") for n, (eid, rid) in nets.items()}
    series = {n: run_series(rows[rid], records[n]) for n, (_eid, rid) in nets.items()}
    zrange = gradient_log_range(list(series.values()))
    if zrange is None:
        st.info(_("This experiment recorded no gradient norms (it was imported with its weights only); "
                  "train a twin on the Train page to see how the gradient flows during training."))
        return
    st.markdown("\n".join(f"- {plain_text(gradient_flow_sentence(n, recs))}" for n, recs in records.items()))
    for col, (name, run) in zip(st.columns(len(series)), series.items(), strict=True):
        on_click = functools.partial(_remember_click, f"inspect_grad_{name}", "inspect_grad_cell", name)
        plot(col, _clickable_heatmap(run, zrange), f"inspect_grad_{name}", selection_mode="points", on_select=on_click)
    clicked_layer_maps(nets)


# ----------------------------------------------------------------------------- click-through (issue 15)
def _clickable_heatmap(run: RunSeries, zrange):
    fig = gradient_heatmap(run, zrange)
    heat = fig.data[0] if fig.data and fig.data[0].type == "heatmap" else None
    return clickable_cells(fig, list(heat.x), list(heat.y), size=14) if heat is not None else fig


def _remember_click(chart_key: str, state_key: str, net: str) -> None:
    """on_select callback: keep (net, clicked point) under a plain session key (the page reads that key)."""
    point = clicked_point(st.session_state.get(chart_key))
    st.session_state[state_key] = dict(point, net=net) if point else None


def clicked_layer_maps(nets: dict) -> None:
    """The feature maps of the layer whose gradient-flow cell was clicked, for the Feature maps tab's test image."""
    point = st.session_state.get("inspect_grad_cell")
    if not point or point.get("net") not in nets:
        st.caption(_("Click a cell of a heatmap to see that layer's feature maps for the chosen test image."))
        return
    eid, rid = nets[point["net"]]
    which = "init" if point.get("x") == 0 and store().weights_path(eid, rid, "init").is_file() else "final"
    index = int(st.session_state.get("inspect_fm_image", 0))
    net = load_run_model(store(), eid, rid, which)
    maps = feature_maps(net.model, _test_images(eid, net.preprocessing, 1, index)[0], str(point["y"])).numpy()
    title = (_("{net}: {layer} on test image {index} (initial weights, {n} channels)") if which == "init" else
             _("{net}: {layer} on test image {index} (trained weights, {n} channels)")).format(
        net=point["net"], layer=point["y"], index=index, n=maps.shape[0])
    plot(st, image_grid(list(maps[:MAPS_SHOWN]), title, columns=8, item="channel"), "inspect_grad_maps")


def responses_view(exp, nets: dict) -> None:
    st.markdown(_("**What to look for:** as in He et al. 2015 (Figure 7), the standard deviation of every 3×3 layer's "
                  "response (after its BN, before the addition or the ReLU) on {n} test images, in network "
                  "order and sorted by size. The paper found ResNets' responses generally smaller than plain nets': "
                  "the residual functions tend to stay close to zero. On the right, ‖F(x)‖/‖x‖ per residual unit; a "
                  "plain unit has no F(x), so its line shows ‖output‖/‖input‖ instead.").format(n=PROBE_IMAGES))
    results = _each(nets, _responses)
    rows = {r.id: r for r in exp.runs}
    ratios = [run_series(rows[rid], [Metric("epoch", epoch=0, branch_ratios=results[n][1])])
              for n, (_eid, rid) in nets.items()]
    left, right = st.columns(2)
    plot(left, layer_response_chart({n: r[0] for n, r in results.items()}), "inspect_responses")
    plot(right, branch_ratio_chart(ratios), "inspect_ratios")


def ablation_view(exp, nets: dict) -> None:
    st.markdown(_("**What to look for:** each point is the test error after removing one block (a residual block "
                  "keeps only its shortcut; a plain block becomes the identity where the shapes allow). Veit, Wilber "
                  "& Belongie 2016 found a ResNet barely notices a missing block, except where it downsamples, while "
                  "a plain net collapses: a ResNet behaves like an ensemble of many shorter paths."))
    results = _each(nets, _ablation)
    plot(st, ablation_chart(results), "inspect_ablation", listen=True)
    for name, rows in results.items():
        stuck = [r for r in rows if r["unit"] is not None and not r["skippable"]]
        if stuck:
            st.caption(_("{name} cannot skip {units}: {reason} A residual block can always fall back on its "
                         "shortcut, which matches the shapes.").format(
                name=plain_text(name), units=", ".join(r["unit"] for r in stuck), reason=stuck[0]["reason"]))


def feature_view(exp, nets: dict) -> None:
    st.markdown(_("**What to look for:** the activations of one layer for one test image, plain and residual side "
                  "by side (first 16 channels, each scaled on its own), and the first layer's filters. Early layers "
                  "tend to respond to strokes and edges. Compare how much of the input's shape each net's maps still "
                  "show at the same depth: a residual unit's output is its input plus F(x), so the shortcut carries "
                  "the input along (the papers do not study these maps; this is for looking, not a result)."))
    models = {n: _model(*ids).model for n, ids in nets.items()}
    layers = [name for name, m in next(iter(models.values())).named_modules()
              if isinstance(m, (nn.Conv2d, ResidualUnit)) and all(name in dict(o.named_modules())
                                                                 for o in models.values())]
    pick, image = st.columns([4, 1])
    layer = pick.selectbox(_("Layer"), layers, key="inspect_fm_layer")
    dataset = _dataset(exp.id)
    index = int(pick.number_input(_("Test image"), 0, len(dataset.y_test) - 1, 0, key="inspect_fm_image"))
    _x, view, label = test_example(dataset, index)
    plot(image, image_grid([view], _("Test image {index}").format(index=index), columns=1,
                           labels=[_("label {label}").format(label=label)], rescale=False),
         "inspect_fm_input", config={"displayModeBar": False})
    for col, (name, (eid, rid)) in zip(st.columns(len(nets)), nets.items(), strict=True):
        maps = _maps(eid, rid, _mtime(eid, rid), layer, index)
        plot(col, image_grid(list(maps[:MAPS_SHOWN]), _("{name}: {layer} ({n} channels)").format(
            name=name, layer=layer, n=maps.shape[0]), columns=8, item="channel"), f"inspect_fm_{name}")
        plot(col, image_grid(_filters(eid, rid, _mtime(eid, rid)), _("{name}: first-layer filters").format(name=name),
                             columns=8, rescale=False, item="filter"), f"inspect_filters_{name}")


# ----------------------------------------------------------------------------- the loss landscape job
def landscape_results(job_id: str) -> None:
    results = read_landscapes(store(), job_id)
    if not results:
        return
    kind = st.radio(_("Plot"), ["contour", "surface"], horizontal=True, key="inspect_ls_kind",
                    format_func=lambda v: _(PLOT_KINDS[v]))
    surfaces = {n: r["surface"] for n, r in results.items() if r.get("surface")}
    plot(st, landscape_surfaces(surfaces, kind=kind), "inspect_ls_surface")
    lines = {n: r["line"] for n, r in results.items() if r.get("line") and r["line"]["loss"]}
    if lines:
        plot(st, landscape_line(lines), "inspect_ls_line", listen=True)
    for note in dict.fromkeys(r["line_note"] for r in results.values() if r.get("line_note")):
        st.caption(_(note))  # stored in English by the landscape job (explorer.jobs.landscape.NO_INIT)


def landscape_view(exp, nets: dict) -> None:
    st.markdown(_("**What to look for:** the training loss on a plane through the trained weights (★), along two "
                  "random filter-normalised directions, plain and residual on one colour scale; below it, the loss "
                  "on the straight line from the initial to the trained weights. Li et al. 2018 found that without "
                  "shortcuts a deep net's landscape turns chaotic, while with them it stays smooth and nearly "
                  "convex. It runs as a job: you can leave the page and come back."))
    left, right = st.columns(2)
    steps = left.select_slider(_("Grid points per axis"), [5, 9, 11, 15, 21, 31, 41], value=21,
                               key="inspect_ls_steps")
    span = right.select_slider(_("Span"), [0.25, 0.5, 1.0, 2.0], value=1.0, key="inspect_ls_span")
    spec = landscape_spec(exp.id, [rid for _eid, rid in nets.values()], steps=steps, span=span)
    landscape_job(spec, _("The landscape job"), "inspect_landscape", landscape_results)


# ----------------------------------------------------------------------------- the page
st.title(_("Inspect"))
st.caption(_("What the shortcut changes inside a network: the plain net and its residual twin on the same axes."))
exp, nets = choose_nets("inspect")
gate = results_gating().gate(exp.spec_kind, exp.owner) if exp is not None else None
if gate is not None:  # predict, then observe: this experiment's results wait for the class question
    predict_first(gate, "inspect")
elif nets:
    views = [gradient_view, responses_view, landscape_view, ablation_view, feature_view]
    for tab, view in zip(st.tabs([_(t) for t in TABS], key="inspect_tab", on_change="rerun"), views, strict=True):
        if tab.open:
            with tab:
                guard_view(view, exp, nets)
