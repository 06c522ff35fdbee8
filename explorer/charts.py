"""Every figure of the app, as pure functions: plain data (dicts, lists, numpy) in, a plotly Figure out.

The pages place the figures; nothing here knows about Streamlit, so tests check a figure's data without a
browser. Conventions, kept in every chart (as in He et al. 2015, Figure 6): one colour per depth, plain nets
dashed and residual nets solid; errors are stored as fractions in [0, 1] and shown as percentages; fonts
sized for a projector. Size budget: ~400 lines.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Optional

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

PAPER_NUMBERS = Path(__file__).parent.parent / "assets" / "paper_numbers.json"
# Okabe & Ito's colour-blind-safe palette (yellow left out: it vanishes on a projector's white).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#999999")
FONT_SIZE = 16
MAX_POINTS = 2000  # step curves are thinned to this many points per run; the shape survives, the browser copes
_OVERLAY_SCALE = [[0.0, "rgba(255,0,0,0)"], [0.4, "rgba(255,80,0,0.5)"], [1.0, "rgba(255,230,0,1)"]]


# ----------------------------------------------------------------------------- run data
def run_series(run_json: dict, records: list) -> dict:
    """The run dict every chart takes, from a run's run.json and its metric records (explorer.runs).

    Args:
        run_json: {"name", "model": ModelConfig dict, "status", ...} as the run store keeps it.
        records: RunStore.read_metrics(exp_id, run_id), in order.
    Returns:
        {"name", "depth", "plain", "status", "records"}; depth counts weighted layers (He et al. 2015).
    """
    model = run_json.get("model") or {}
    try:
        from .config import ModelConfig
        depth = ModelConfig.from_dict(model).num_layers
    except (TypeError, ValueError, KeyError):
        depth = model.get("depth")
    return {"name": run_json.get("name", "run"), "depth": depth, "plain": model.get("shortcut") == "none",
            "status": run_json.get("status"), "records": list(records)}


def _epochs(run: dict) -> list:
    return [r for r in run.get("records", []) if r.get("type") == "epoch"]


def _number(value) -> Optional[float]:
    """A finite float, or None (plotly draws None as a gap)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _name_style(name: str) -> tuple:
    """(depth, plain) read from a name such as "plain-56" or "resnet-110-full_preact"."""
    found = re.search(r"(\d+)", name)
    return (int(found.group(1)) if found else None), name.lower().startswith("plain")


def _styles(runs: list) -> dict:
    """{run name: (colour, dash)}: one colour per depth, plain dashed, residual solid.

    When several runs of one kind share a depth (a placement comparison), depth cannot tell them apart,
    so each run gets its own colour instead.
    """
    kinds = [(r.get("depth"), bool(r.get("plain"))) for r in runs]
    by_depth = len(set(kinds)) == len(kinds)
    keys = [r.get("depth") if by_depth else r["name"] for r in runs]
    order = sorted(set(keys), key=lambda k: (isinstance(k, str), k if k is not None else -1))
    colour = {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(order)}
    return {r["name"]: (colour[k], "dash" if r.get("plain") else "solid") for r, k in zip(runs, keys)}


def _named_runs(names) -> list:
    """Run-like dicts for charts keyed by net name only (responses, ablation, landscapes)."""
    return [{"name": n, "depth": _name_style(n)[0], "plain": _name_style(n)[1]} for n in names]


def _layout(fig: go.Figure, title: str, height: int = 460) -> go.Figure:
    fig.update_layout(title=dict(text=title, x=0.0), template="plotly_white", height=height,
                      font=dict(size=FONT_SIZE), legend=dict(title=None), margin=dict(t=90, l=70, r=30, b=60),
                      hovermode="closest")
    fig.update_annotations(font_size=FONT_SIZE + 1)  # subplot titles
    return fig


def _whole_ticks(fig: go.Figure, largest, **where) -> None:
    """Tick every whole number on an x axis of epochs or layer indices, when there are few enough."""
    if largest is not None and largest <= 15:
        fig.update_xaxes(dtick=1, **where)


def _empty(title: str, message: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, title, height=300)


def _label(run: dict) -> str:
    return f"{run['name']} (diverged)" if run.get("status") == "diverged" else run["name"]


def _line(x, y, run: dict, style: tuple, first: bool, hover: Optional[list] = None, **kw) -> go.Scatter:
    colour, dash = style
    return go.Scatter(x=list(x), y=list(y), mode=kw.pop("mode", "lines"), name=_label(run),
                      legendgroup=run["name"], showlegend=first, line=dict(color=colour, dash=dash, width=3),
                      hovertext=hover, **kw)


def _diverged_marker(x: list, y: list, run: dict, colour: str, first: bool) -> Optional[go.Scatter]:
    """A large ✕ at the last drawn point of a diverged run's curve; None when there is nothing to mark."""
    points = [(a, b) for a, b in zip(x, y) if b is not None]
    if run.get("status") != "diverged" or not points:
        return None
    return go.Scatter(x=[points[-1][0]], y=[points[-1][1]], mode="markers", name=f"{run['name']} diverged",
                      legendgroup=run["name"], showlegend=first, hovertext=[f"{run['name']}: diverged here"],
                      marker=dict(symbol="x", size=18, color=colour, line=dict(width=2, color="white")))


# ----------------------------------------------------------------------------- training curves
def training_curves(runs: list, metric: str = "error") -> go.Figure:
    """Training and test curves against epochs, side by side: the paper's Figure 6 for the user's runs.

    He et al. 2015, Figure 6: a deeper plain net has higher *training* error (degradation); with shortcuts,
    deeper is better. Training values come from each epoch record (epoch 0 has none); test values include
    epoch 0, the untrained net.

    Args:
        runs: run dicts from `run_series`. metric: "error" (shown in %) or "loss" (cross-entropy).
    Returns: a figure with two panels, two traces per run (plus a ✕ marker per panel for a diverged run).
    """
    if metric not in ("error", "loss"):
        raise ValueError(f"metric must be 'error' or 'loss'; got {metric!r}.")
    scale = 100.0 if metric == "error" else 1.0
    fig = make_subplots(rows=1, cols=2, subplot_titles=(f"Training {metric}", f"Test {metric}"),
                        horizontal_spacing=0.08)
    styles = _styles(runs)
    for run in runs:
        records = _epochs(run)
        for col, split in ((1, "train"), (2, "test")):
            pts = [(r["epoch"], _number(r.get(f"{split}_{metric}"))) for r in records]
            x = [e for e, v in pts if v is not None]
            y = [v * scale for _, v in pts if v is not None]
            fig.add_trace(_line(x, y, run, styles[run["name"]], first=col == 1, mode="lines+markers",
                                marker=dict(size=6)), row=1, col=col)
            marker = _diverged_marker(x, y, run, styles[run["name"]][0], first=col == 1)
            if marker is not None:
                fig.add_trace(marker, row=1, col=col)
    fig.update_xaxes(title_text="epoch")
    _whole_ticks(fig, max((r["epoch"] for run in runs for r in _epochs(run)), default=None))
    fig.update_yaxes(title_text="error (%)" if metric == "error" else "loss (cross-entropy)", rangemode="tozero")
    what = "Error" if metric == "error" else "Loss"
    return _layout(fig, f"{what} against epochs: plain (dashed) vs residual (solid)")


def _thin(x: list, y: list, max_points: int = MAX_POINTS) -> tuple:
    step = max(1, math.ceil(len(x) / max_points))
    return x[::step], y[::step]


def loss_curve(runs: list) -> go.Figure:
    """Training loss at every step against (fractional) epoch: the live, fine-grained view of training.

    Args: runs: run dicts from `run_series` (their "step" records are used).
    Returns: one trace per run (a diverged run also gets a ✕ at its last finite loss).
    """
    fig = go.Figure()
    styles = _styles(runs)
    for run in runs:
        steps = [r for r in run.get("records", []) if r.get("type") == "step"]
        x, y = _thin([r.get("epoch") for r in steps], [_number(r.get("train_loss")) for r in steps])
        fig.add_trace(_line(x, y, run, styles[run["name"]], first=True))
        marker = _diverged_marker(x, y, run, styles[run["name"]][0], first=False)
        if marker is not None:
            fig.add_trace(marker)
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(title_text="training loss (cross-entropy)", rangemode="tozero")
    return _layout(fig, "Training loss, step by step")


# ----------------------------------------------------------------------------- gradients and branches
def _with(run: dict, key: str) -> list:
    return [r for r in _epochs(run) if r.get(key)]


def gradient_profile(runs: list) -> go.Figure:
    """Gradient norm of each conv layer, input to output, at the start and at the latest epoch (log scale).

    In a deep plain net the gradient reaching the first layers is much smaller than at the top; the
    shortcut carries it back undiminished (He et al. 2016, Eq. 5).

    Args: runs: run dicts from `run_series` (epoch records with "grad_norms" {conv name: norm}).
    Returns: two panels, "At the start (epoch 0)" and "Latest epoch", one trace per run and panel.
    """
    if not any(_with(run, "grad_norms") for run in runs):
        return _empty("Gradient norm per layer", "No gradient norms recorded yet.")
    fig = make_subplots(rows=1, cols=2, subplot_titles=("At the start (epoch 0)", "Latest epoch"),
                        shared_yaxes=True, horizontal_spacing=0.05)
    styles = _styles(runs)
    for run in runs:
        recs = _with(run, "grad_norms")
        start = [r for r in recs if r.get("epoch") == 0]
        latest = [r for r in recs if r.get("epoch") != 0]
        for col, rec in ((1, start[0] if start else None), (2, latest[-1] if latest else None)):
            if rec is None:
                continue
            names = list(rec["grad_norms"])
            y = [v if v is not None and v > 0 else None for v in map(_number, rec["grad_norms"].values())]
            hover = [f"{n} (epoch {rec['epoch']})" for n in names]
            fig.add_trace(_line(range(1, len(names) + 1), y, run, styles[run["name"]], first=col == 1,
                                hover=hover, mode="lines+markers"), row=1, col=col)
    fig.update_xaxes(title_text="conv layer (1 = nearest the input)")
    _whole_ticks(fig, max((len(t.x) for t in fig.data), default=None))
    fig.update_yaxes(type="log")
    fig.update_yaxes(title_text="mean weight-gradient norm (log scale)", row=1, col=1)
    return _layout(fig, "Gradient norm per layer: does the gradient reach the input?")


def gradient_log_range(runs: list) -> Optional[tuple]:
    """(min, max) of log10 gradient norm over every epoch of `runs`: pass it to `gradient_heatmap` so
    twins share one colour scale. None when no norm is recorded."""
    logs = [math.log10(v) for run in runs for r in _with(run, "grad_norms")
            for v in map(_number, r["grad_norms"].values()) if v is not None and v > 0]
    return (min(logs), max(logs)) if logs else None


def gradient_heatmap(run: dict, zrange: Optional[tuple] = None) -> go.Figure:
    """log10 gradient norm per conv layer (y, input at the bottom) and epoch (x, 0 = before training).

    Args:
        run: a run dict from `run_series`. zrange: (min, max) colour range, e.g. `gradient_log_range(twins)`.
    Returns: one Heatmap trace; z[i][j] is layer i at epoch j (None where a value is missing or zero).
    """
    recs = _with(run, "grad_norms")
    if not recs:
        return _empty(f"Gradient flow: {run['name']}", "No gradient norms recorded for this run.")
    layers = list(recs[0]["grad_norms"])
    z = [[None] * len(recs) for _ in layers]
    for j, rec in enumerate(recs):
        for i, name in enumerate(layers):
            v = _number(rec["grad_norms"].get(name))
            z[i][j] = math.log10(v) if v is not None and v > 0 else None
    lo, hi = zrange if zrange is not None else (None, None)
    fig = go.Figure(go.Heatmap(z=z, x=[r["epoch"] for r in recs], y=layers, zmin=lo, zmax=hi,
                               colorscale="Viridis", colorbar=dict(title="log10 norm"),
                               hovertemplate="%{y}<br>epoch %{x}<br>log10 norm %{z:.2f}<extra></extra>"))
    fig.update_xaxes(title_text="epoch (0 = before training)", dtick=1)
    fig.update_yaxes(title_text="conv layer", type="category")
    return _layout(fig, f"Gradient flow over training: {_label(run)}", height=max(420, 16 * len(layers)))


def branch_ratio_chart(runs: list) -> go.Figure:
    """‖F(x)‖ / ‖x‖ per unit at the latest epoch: how big the residual branch is next to the shortcut.

    He et al. 2015, §4.2 (with Figure 7): the residual functions tend to stay small. For a plain unit the
    ratio is ‖output‖ / ‖input‖.

    Args: runs: run dicts from `run_series` (epoch records with "branch_ratios" {unit: ratio}).
    Returns: one trace per run, x = unit names in forward order.
    """
    if not any(_with(run, "branch_ratios") for run in runs):
        return _empty("Residual branch size", "No branch ratios recorded yet.")
    fig = go.Figure()
    styles = _styles(runs)
    for run in runs:
        recs = _with(run, "branch_ratios")
        if recs:
            ratios = recs[-1]["branch_ratios"]
            fig.add_trace(_line(list(ratios), [_number(v) for v in ratios.values()], run, styles[run["name"]],
                                first=True, mode="lines+markers"))
    fig.update_xaxes(title_text="unit (input to output)", type="category")
    fig.update_yaxes(title_text="‖F(x)‖ / ‖x‖", rangemode="tozero")
    return _layout(fig, "Residual branch size next to its input (latest epoch)")


def layer_response_chart(responses: dict, sort: bool = False) -> go.Figure:
    """Standard deviation of each unit's branch output, per net: the paper's Figure 7 for the user's nets.

    He et al. 2015, Figure 7: ResNets' responses are generally smaller than plain nets', the more so the
    deeper the ResNet.

    Args:
        responses: {net name: {unit name: std}} from explorer.diagnostics.layer_responses.
        sort: False for layer order (x = layer index), True to sort each net's values from largest down.
    Returns: one trace per net.
    """
    fig = go.Figure()
    styles = _styles(_named_runs(responses))
    for name, stds in responses.items():
        pairs = [(unit, _number(v)) for unit, v in stds.items()]
        if sort:
            pairs.sort(key=lambda p: -math.inf if p[1] is None else p[1], reverse=True)
        run = {"name": name}
        fig.add_trace(_line(range(1, len(pairs) + 1), [v for _, v in pairs], run, styles[name], first=True,
                            hover=[u for u, _ in pairs], mode="lines+markers"))
    fig.update_xaxes(title_text="layer index (sorted by size)" if sort else "layer index (input to output)")
    _whole_ticks(fig, max((len(t.x) for t in fig.data), default=None))
    fig.update_yaxes(title_text="std of the branch output", rangemode="tozero")
    order = "sorted by magnitude" if sort else "in layer order"
    return _layout(fig, f"Layer responses {order}")


def ablation_chart(results: dict) -> go.Figure:
    """Test error with one unit skipped at a time, per net, with each net's unablated error as a line.

    Veit, Wilber, Belongie 2016: a ResNet barely notices a missing block (except where it downsamples);
    a plain net collapses.

    Args: results: {net name: rows of explorer.ablation.ablate_blocks} (first row: the baseline).
    Returns: per net a line of errors, a dotted baseline, and ✕ markers at units that cannot be skipped.
    """
    fig = go.Figure()
    styles = _styles(_named_runs(results))
    for name, rows in results.items():
        base = _number(rows[0].get("error")) if rows else None
        units = [r for r in rows if r.get("unit") is not None]
        x = [r["unit"] for r in units]
        y = [None if _number(r.get("error")) is None else 100 * r["error"] for r in units]
        colour, dash = styles[name]
        fig.add_trace(_line(x, y, {"name": name}, styles[name], first=True, mode="lines+markers"))
        if base is not None and x:
            fig.add_trace(go.Scatter(x=[x[0], x[-1]], y=[100 * base] * 2, mode="lines", legendgroup=name,
                                     name=f"{name}: nothing removed",
                                     line=dict(color=colour, dash="dashdot" if dash == "dash" else "dot", width=2)))
        stuck = [r for r in units if not r.get("skippable")]
        if stuck:
            level = 100 * base if base is not None else 0.0
            fig.add_trace(go.Scatter(x=[r["unit"] for r in stuck], y=[level] * len(stuck), mode="markers",
                                     name=f"{name}: cannot be skipped", legendgroup=name,
                                     hovertext=[r.get("reason") for r in stuck],
                                     marker=dict(symbol="x-thin-open", size=16, color=colour, line=dict(width=3))))
    fig.update_xaxes(title_text="unit removed", type="category")
    fig.update_yaxes(title_text="test error (%)", range=[0, 100])
    return _layout(fig, "Remove one block at a time: test error")


# ----------------------------------------------------------------------------- loss landscapes
def _finite_log(loss, log: bool) -> np.ndarray:
    z = np.array([[np.nan if v is None else v for v in row] for row in loss], dtype=float)
    z[~np.isfinite(z)] = np.nan
    if log:
        z = np.log10(np.where(z > 0, z, np.nan))
    return z


def landscape_surfaces(results: dict, kind: str = "contour", log: bool = True) -> go.Figure:
    """2-D loss slices around the trained weights, nets side by side on one colour scale (Li et al. 2018).

    Without shortcuts a deep net's slice turns chaotic; with them it stays smooth and nearly convex.

    Args:
        results: {net name: {"alpha": [m], "beta": [n], "loss": n x m (None where not computed)}}.
        kind: "contour" or "surface". log: colour (and height) by log10 of the loss.
    Returns: one panel per net sharing zmin/zmax, each with a marker at the trained weights (0, 0).
    """
    if kind not in ("contour", "surface"):
        raise ValueError(f"kind must be 'contour' or 'surface'; got {kind!r}.")
    if not results:
        return _empty("Loss landscape", "No landscape computed yet.")
    zs = {name: _finite_log(r["loss"], log) for name, r in results.items()}
    finite = np.concatenate([z[np.isfinite(z)] for z in zs.values()])
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    spec = {"type": "surface"} if kind == "surface" else {}
    fig = make_subplots(rows=1, cols=len(results), subplot_titles=list(results),
                        specs=[[spec] * len(results)], horizontal_spacing=0.06)
    label = "log10 loss" if log else "loss"
    for col, (name, r) in enumerate(results.items(), start=1):
        for trace in _landscape_panel(kind, name, r, zs[name], (lo, hi), label, last=col == len(results)):
            fig.add_trace(trace, row=1, col=col)
    if kind == "contour":
        fig.update_xaxes(title_text="α (direction 1)")
        fig.update_yaxes(title_text="β (direction 2)", row=1, col=1)
    else:
        fig.update_scenes(zaxis=dict(range=[lo, hi], title=label), xaxis_title="α", yaxis_title="β")
    mark = "★" if kind == "contour" else "red dot"
    return _layout(fig, f"Loss landscape around the trained weights ({mark}), coloured by {label}", height=520)


def _landscape_panel(kind: str, name: str, result: dict, z: np.ndarray, zrange: tuple, label: str,
                     last: bool) -> list:
    """The traces of one landscape panel: the slice on the shared colour range, and the trained point."""
    lo, hi = zrange
    bar = dict(title=label)
    if kind == "contour":
        return [go.Contour(x=result["alpha"], y=result["beta"], z=z, zmin=lo, zmax=hi, colorscale="Viridis",
                           showscale=last, colorbar=bar, autocontour=False, name=name,
                           contours=dict(start=lo, end=hi, size=(hi - lo) / 20 or 1)),
                go.Scatter(x=[0], y=[0], mode="markers", name="trained weights", showlegend=False,
                           marker=dict(symbol="star", size=16, color="white", line=dict(width=2)))]
    return [go.Surface(x=result["alpha"], y=result["beta"], z=z, cmin=lo, cmax=hi, colorscale="Viridis",
                       showscale=last, colorbar=bar, name=name),
            go.Scatter3d(x=[0], y=[0], z=[_landscape_centre(result, z)], mode="markers", name="trained weights",
                         showlegend=False, marker=dict(size=6, color="red"))]


def _landscape_centre(result: dict, z: np.ndarray) -> Optional[float]:
    """z at (α, β) = (0, 0), the trained weights, or None if that point is missing."""
    try:
        value = z[list(result["beta"]).index(0)][list(result["alpha"]).index(0)]
    except ValueError:
        return None
    return float(value) if np.isfinite(value) else None


def landscape_line(results: dict) -> go.Figure:
    """Loss along the straight line from the initial (α = 0) to the trained (α = 1) weights (log scale).

    Li et al. 2018, 1-D interpolation (after Goodfellow et al. 2015).

    Args: results: {net name: {"alpha": [k], "loss": [k]}} from explorer.landscape.line.
    Returns: one trace per net.
    """
    fig = go.Figure()
    styles = _styles(_named_runs(results))
    for name, r in results.items():
        y = [v if v is not None and v > 0 else None for v in map(_number, r["loss"])]
        fig.add_trace(_line(r["alpha"], y, {"name": name}, styles[name], first=True, mode="lines+markers"))
    for x, text in ((0, "initial"), (1, "trained")):
        fig.add_vline(x=x, line=dict(color="grey", dash="dot"), annotation_text=text)
    fig.update_xaxes(title_text="α (0 = initial weights, 1 = trained weights)")
    fig.update_yaxes(title_text="loss (log scale)", type="log")
    return _layout(fig, "From the initial to the trained weights")


# ----------------------------------------------------------------------------- predictions and images
def paper_reference() -> dict:
    """The papers' CIFAR-10 (and ImageNet) numbers with their sources, from assets/paper_numbers.json.

    He et al. 2015 Table 6, He et al. 2016 Tables 1 and 2, Gross & Wilber 2016, Li et al. 2018; errors in %.
    """
    with open(PAPER_NUMBERS, encoding="utf-8") as f:
        return json.load(f)


# ----------------------------------------------------------------------------- image grids (Inspect)


# The figures of images (predictions, attributions, samples, feature maps) live in charts_images.py.
from .charts_images import (attribution_overlay, confusion_matrix, image_grid, sample_strip,  # noqa: E402,F401
                             topk_bars)
