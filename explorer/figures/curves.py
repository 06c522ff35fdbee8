"""Every figure of the app, as pure functions: records (RunSeries of Metric records, or rows of the analysis
functions) in, a plotly Figure out.

The pages place the figures; nothing here knows about Streamlit, so tests check a figure's data without a
browser. This app's own convention, kept in every chart: one colour per depth, plain nets dashed and residual
nets solid. It is not the paper's: in He et al. 2015, Figure 6, dashed means training error and bold means test
error, with plain nets and ResNets in separate panels; `training_curves(..., layout="figure6")` draws that.
Errors are stored as fractions in [0, 1] and shown as percentages; fonts sized for a projector.
Size budget: ~400 lines.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..i18n import N_, _, ngettext
from ..store.records import Metric, Run
from ..text import plot_text, plot_texts
from .curve_words import DEGRADATION_GAP_POINTS, depth_order, heatmap_takeaway, loss_takeaway, profile_takeaway
from .inspect_words import (
    ablation_table,
    ablation_takeaway,
    branch_ratio_table,
    branch_ratio_takeaway,
    responses_table,
    responses_takeaway,
)
from .style import (
    RunSeries,
    Style,
    apply_layout,
    as_number,
    empty_figure,
    named_runs,
    run_label,
    run_line,
    run_styles,
    whole_ticks,
)
from .words import Table, listing, num, pct, say, sentences

MAX_POINTS = 2000  # step curves are thinned to this many points per run; the shape survives, the browser copes


def run_series(run: Run, records: Iterable[Metric]) -> RunSeries:
    """What every chart of a run takes, from a stored run and its metric records (explorer.store.records).

    Args:
        run: a Run record (name, model, status, depth). records: its Metric records (RunStore.read_metrics), in order.
    Returns:
        A RunSeries; its depth counts weighted layers (He et al. 2015), read from the config's own depth when
        the stored config cannot be rebuilt.
    """
    depth = run.depth if run.depth is not None else run.model.get("depth")
    return RunSeries(run.name, depth if isinstance(depth, int) else None, run.plain, run.status, tuple(records))


def _diverged_marker(x: list, y: list, run: RunSeries, colour: str, first: bool) -> go.Scatter | None:
    """A large ✕ at the last drawn point of a diverged run's curve; None when there is nothing to mark."""
    points = [(a, b) for a, b in zip(x, y, strict=True) if b is not None]
    if run.status != "diverged" or not points:
        return None
    return go.Scatter(x=[points[-1][0]], y=[points[-1][1]], mode="markers",
                      name=plot_text(_("{run} diverged").format(run=run.name)),
                      legendgroup=plot_text(run.name), showlegend=first,
                      hovertext=[plot_text(_("{run}: diverged here").format(run=run.name))],
                      marker=dict(symbol="x", size=18, color=colour, line=dict(width=2, color="white")))


CURVE_LAYOUTS = ("splits", "figure6")


def training_curves(runs: Sequence[RunSeries], metric: str = "error", layout: str = "splits") -> go.Figure:
    """Training and test curves against epochs, in this app's layout or in the paper's Figure 6 layout.

    "splits" (this app's overlay): a training panel and a test panel, plain nets dashed, residual nets solid,
    one colour per depth. "figure6" (He et al. 2015, Figure 6): a plain-net panel and a ResNet panel, training
    dashed and test bold, one colour per depth. Either way a deeper plain net with a higher *training* error is
    the degradation problem. Training values come from each epoch record (epoch 0 has none); test values
    include epoch 0, the untrained net.

    Args:
        runs: from `run_series`. metric: "error" (shown in %) or "loss" (cross-entropy).
        layout: one of CURVE_LAYOUTS.
    Returns: a figure with two panels, two traces per run (plus a ✕ marker per curve of a diverged run).
    """
    if metric not in ("error", "loss"):
        raise ValueError(f"metric must be 'error' or 'loss'; got {metric!r}.")
    if layout not in CURVE_LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(CURVE_LAYOUTS)}; got {layout!r}.")
    figure6 = layout == "figure6"
    titles = (_("Plain nets"), _("ResNets")) if figure6 else \
        ((_("Training error"), _("Test error")) if metric == "error" else (_("Training loss"), _("Test loss")))
    fig = make_subplots(rows=1, cols=2, subplot_titles=titles, horizontal_spacing=0.08, shared_yaxes=figure6)
    styles = run_styles(runs)
    for run in runs:
        records = run.epochs()
        colour, dash = styles[run.name]
        for n, split in enumerate(("train", "test")):
            if figure6:  # the paper's convention: the panel says plain or ResNet, the line says training or test
                col, style, width = (1 if run.plain else 2), (colour, "dash" if split == "train" else "solid"), \
                    (2 if split == "train" else 4)
            else:
                col, style, width = n + 1, (colour, dash), 3
            _add_curve(fig, run, records, split, metric, style, width, col, first=n == 0)
    fig.update_xaxes(title_text=_("epoch"))
    whole_ticks(fig, max((r.epoch for run in runs for r in run.epochs() if r.epoch is not None), default=None))
    fig.update_yaxes(rangemode="tozero")
    # One y title, on the left panel: on a phone a second one sat on the left panel's curves.
    fig.update_yaxes(title_text=_("error (%)") if metric == "error" else _("loss (cross-entropy)"), row=1, col=1)
    say(fig, curves_takeaway(runs, metric), _curves_table(runs, metric))
    return apply_layout(fig, _(CURVE_TITLES[(metric, figure6)]))


CURVE_TITLES = {("error", True): N_("Error against epochs as in Figure 6: dashed = training, bold = test"),
                ("loss", True): N_("Loss against epochs as in Figure 6: dashed = training, bold = test"),
                ("error", False): N_("Error against epochs: plain (dashed) vs residual (solid)"),
                ("loss", False): N_("Loss against epochs: plain (dashed) vs residual (solid)")}


def _last(run: RunSeries, split: str, metric: str) -> tuple[float | None, float | None]:
    """(epoch, value shown: % for error) of the run's last epoch record with a value for this split."""
    scale = 100.0 if metric == "error" else 1.0
    for r in reversed(run.epochs()):
        v = as_number(getattr(r, f"{split}_{metric}"))
        if v is not None:
            return r.epoch, v * scale
    return None, None


def curves_takeaway(runs: Sequence[RunSeries], metric: str = "error") -> str:
    """Where each run's training curve ends, and what that says: plain against residual, deep against shallow
    (the degradation problem: a deeper plain net ending with a *higher training* error, He et al. 2015)."""
    fmt = pct if metric == "error" else num
    ends: list[tuple[RunSeries, float, float]] = []
    for run in runs:
        epoch, value = _last(run, "train", metric)
        if value is not None:
            ends.append((run, epoch or 0, value))
    if not ends:
        return _("No epoch has finished yet: the curves start after the first epoch.")
    epochs = int(max(e for _x, e, _y in ends))
    values = listing([_("{value} for {run}").format(value=fmt(v), run=run.name) for run, _x, v in ends])
    first = (ngettext("After {n} epoch the training error ends at {values}.",
                      "After {n} epochs the training error ends at {values}.", epochs) if metric == "error" else
             ngettext("After {n} epoch the training loss ends at {values}.",
                      "After {n} epochs the training loss ends at {values}.", epochs)).format(n=epochs, values=values)
    plain = sorted([(run.depth or 0, v, run.name) for run, _x, v in ends if run.plain])
    residual = sorted([(run.depth or 0, v, run.name) for run, _x, v in ends if not run.plain])
    if len(plain) >= 2 and plain[-1][0] > plain[0][0]:
        shallow, deep = plain[0][1], plain[-1][1]  # % of error; a loss's gap is taken relative to the shallower's
        order = depth_order(shallow, deep, DEGRADATION_GAP_POINTS if metric == "error" else 0.05 * shallow)
        then = {1: _("The deeper plain net ({deeper}) trains worse than the shallower {shallower}: the degradation "
                     "problem."),
                -1: _("The deeper plain net ({deeper}) trains better than the shallower {shallower}."),
                0: _("The deeper plain net ({deeper}) and the shallower {shallower} end too close together to say "
                     "which trains worse.")}[order]
        return sentences(first, then.format(deeper=plain[-1][2], shallower=plain[0][2]))
    if plain and residual:
        p, r = plain[-1], residual[-1]
        return sentences(first, _("The residual net ends lower than its plain twin.") if r[1] < p[1] else
                         _("The residual net ends higher than its plain twin."))
    return first


def _curves_table(runs: Sequence[RunSeries], metric: str) -> Table:
    """One row per run and epoch: training and test values (error in %)."""
    scale = 100.0 if metric == "error" else 1.0
    rows = []
    for run in runs:
        for r in run.epochs():
            train, test = as_number(getattr(r, f"train_{metric}")), as_number(getattr(r, f"test_{metric}"))
            rows.append((run.name, r.epoch, None if train is None else round(train * scale, 3),
                         None if test is None else round(test * scale, 3)))
    if metric == "error":
        return Table((_("run"), _("epoch"), _("training error (%)"), _("test error (%)")), tuple(rows))
    return Table((_("run"), _("epoch"), _("training loss"), _("test loss")), tuple(rows))


def _add_curve(fig: go.Figure, run: RunSeries, records: list[Metric], split: str, metric: str, style: Style,
               width: int, col: int, first: bool) -> None:
    """One run's training or test curve in panel `col`, and a ✕ at its end if the run diverged."""
    scale = 100.0 if metric == "error" else 1.0
    pts = [(r.epoch, as_number(getattr(r, f"{split}_{metric}"))) for r in records]
    x = [e for e, v in pts if v is not None]
    y = [v * scale for _x, v in pts if v is not None]
    hover = [_(CURVE_HOVER[(split, metric)]).format(run=run.name)] * len(x)
    line = run_line(x, y, run, style, first=first, hover=hover, mode="lines+markers", marker=dict(size=6))
    line.line.width = width
    fig.add_trace(line, row=1, col=col)
    marker = _diverged_marker(x, y, run, style[0], first=first)
    if marker is not None:
        fig.add_trace(marker, row=1, col=col)


CURVE_HOVER = {("train", "error"): N_("{run}: training error"), ("test", "error"): N_("{run}: test error"),
               ("train", "loss"): N_("{run}: training loss"), ("test", "loss"): N_("{run}: test loss")}


def _thin(x: list, y: list, max_points: int = MAX_POINTS) -> tuple[list, list]:
    step = max(1, math.ceil(len(x) / max_points))
    return x[::step], y[::step]


def loss_curve(runs: Sequence[RunSeries]) -> go.Figure:
    """Training loss at every step against (fractional) epoch: the live, fine-grained view of training.

    Args: runs: from `run_series` (their "step" records are used).
    Returns: one trace per run (a diverged run also gets a ✕ at its last finite loss).
    """
    fig = go.Figure()
    styles = run_styles(runs)
    drawn: list[tuple[RunSeries, list, list]] = []
    for run in runs:
        steps = run.steps()
        x, y = _thin([r.epoch for r in steps], [as_number(r.train_loss) for r in steps])
        drawn.append((run, x, y))
        fig.add_trace(run_line(x, y, run, styles[run.name], first=True))
        marker = _diverged_marker(x, y, run, styles[run.name][0], first=False)
        if marker is not None:
            fig.add_trace(marker)
    fig.update_xaxes(title_text=_("epoch"))
    fig.update_yaxes(title_text=_("training loss (cross-entropy)"), rangemode="tozero")
    rows = tuple((run.name, _round(e), _round(v)) for run, x, y in drawn for e, v in zip(x, y, strict=True))
    say(fig, loss_takeaway(drawn), Table((_("run"), _("epoch"), _("training loss")), rows))
    return apply_layout(fig, _("Training loss, step by step"))


def _round(v: float | None, digits: int = 6) -> float | None:
    return None if v is None else round(float(v), digits)


def _grad_norms(run: RunSeries) -> list[tuple[Metric, dict[str, float]]]:
    """(epoch record, its gradient norms) for each epoch record that has them."""
    return [(r, r.grad_norms) for r in run.epochs() if r.grad_norms]


def gradient_profile(runs: Sequence[RunSeries]) -> go.Figure:
    """Gradient norm of each conv layer, input to output, at the start and at the latest epoch (log scale).

    He et al. 2015 (§4.1) checked that with BN a deep plain net's gradients do not vanish: degradation is an
    optimisation difficulty. With identity shortcuts the gradient also has a direct path back to every earlier
    unit (He et al. 2016, Eq. 5). The chart shows what the user's own nets do, whichever way it goes.

    Args: runs: from `run_series` (epoch records with grad_norms {conv name: norm}).
    Returns: two panels, "At the start (epoch 0)" and "Latest epoch", one trace per run and panel.
    """
    if not any(_grad_norms(run) for run in runs):
        message = _("No gradient norms recorded yet.")
        return say(empty_figure(_("Gradient norm per layer"), message), message)
    fig = make_subplots(rows=1, cols=2, subplot_titles=(_("At the start (epoch 0)"), _("Latest epoch")),
                        shared_yaxes=True, horizontal_spacing=0.05)
    styles = run_styles(runs)
    profiles: list[tuple[RunSeries, int, float | None, list[str], list[float | None]]] = []
    for run in runs:
        recs = _grad_norms(run)
        start = [r for r in recs if r[0].epoch == 0]
        latest = [r for r in recs if r[0].epoch != 0]
        for col, picked in ((1, start[0] if start else None), (2, latest[-1] if latest else None)):
            if picked is None:
                continue
            rec, norms = picked
            names = list(norms)
            y = [v if v is not None and v > 0 else None for v in map(as_number, norms.values())]
            profiles.append((run, col, rec.epoch, names, y))
            hover = [_("{layer} (epoch {epoch})").format(layer=n, epoch=rec.epoch) for n in names]
            fig.add_trace(run_line(range(1, len(names) + 1), y, run, styles[run.name], first=col == 1,
                                   hover=hover, mode="lines+markers"), row=1, col=col)
    fig.update_xaxes(title_text=_("conv layer (1 = nearest the input)"), row=1, col=1)  # once: two overlap on a phone
    whole_ticks(fig, max((len(t.x) for t in fig.data), default=None))
    fig.update_yaxes(type="log")
    fig.update_yaxes(title_text=_("mean weight-gradient norm (log scale)"), row=1, col=1)
    rows = tuple((run.name, _round(epoch), i, name, _round(v, 9)) for run, _x, epoch, names, y in profiles
                 for i, (name, v) in enumerate(zip(names, y, strict=True), start=1))
    say(fig, profile_takeaway(profiles),
        Table((_("run"), _("epoch"), _("conv layer (1 = nearest the input)"), _("layer"), _("gradient norm")), rows))
    return apply_layout(fig, _("Gradient norm per layer: does the gradient reach the input?"))


def gradient_log_range(runs: Sequence[RunSeries]) -> tuple[float, float] | None:
    """(min, max) of log10 gradient norm over every epoch of `runs`: pass it to `gradient_heatmap` so
    twins share one colour scale. None when no norm is recorded."""
    logs = [math.log10(v) for run in runs for _x, norms in _grad_norms(run)
            for v in map(as_number, norms.values()) if v is not None and v > 0]
    return (min(logs), max(logs)) if logs else None


def gradient_heatmap(run: RunSeries, zrange: tuple[float, float] | None = None) -> go.Figure:
    """log10 gradient norm per conv layer (y, input at the bottom) and epoch (x, 0 = before training).

    Args:
        run: from `run_series`. zrange: (min, max) colour range, e.g. `gradient_log_range(twins)`.
    Returns: one Heatmap trace; z[i][j] is layer i at epoch j (None where a value is missing or zero).
    """
    recs = _grad_norms(run)
    if not recs:
        message = _("No gradient norms recorded for {run}.").format(run=run.name)
        return say(empty_figure(_("Gradient flow: {run}").format(run=run.name), message), message)
    layers = list(recs[0][1])
    z: list[list[float | None]] = [[None] * len(recs) for _x in layers]
    for j, (_x, norms) in enumerate(recs):
        for i, name in enumerate(layers):
            v = as_number(norms.get(name))
            z[i][j] = math.log10(v) if v is not None and v > 0 else None
    lo, hi = zrange if zrange is not None else (None, None)
    fig = go.Figure(go.Heatmap(z=z, x=[r.epoch for r, _x in recs], y=plot_texts(layers), zmin=lo, zmax=hi,
                               colorscale="Viridis", colorbar=dict(title=_("log10 norm")),
                               hovertemplate="%{y}<br>" + _("epoch {epoch}").format(epoch="%{x}") + "<br>"
                               + _("log10 norm {value}").format(value="%{z:.2f}") + "<extra></extra>"))
    fig.update_xaxes(title_text=_("epoch (0 = before training)"), dtick=1)
    fig.update_yaxes(title_text=_("conv layer"), type="category")
    epochs = [r.epoch for r, _x in recs]
    rows = tuple((name, _round(epochs[j]), _round(z[i][j])) for i, name in enumerate(layers) for j in range(len(recs)))
    say(fig, heatmap_takeaway(run.name, layers, epochs, z), Table((_("conv layer"), _("epoch"), _("log10 norm")), rows))
    return apply_layout(fig, _("Gradient flow over training: {run}").format(run=run_label(run)),
                        height=max(420, 16 * len(layers)))


def branch_ratio_chart(runs: Sequence[RunSeries]) -> go.Figure:
    """‖F(x)‖ / ‖x‖ per unit at the latest epoch: how big the residual branch is next to the shortcut.

    He et al. 2015, §4.2 (with Figure 7): the residual functions tend to stay small. A plain unit has no F(x)
    (nothing is added to it): its ratio is ‖output‖ / ‖input‖, and its trace says so.

    Args: runs: from `run_series` (epoch records with branch_ratios {unit: ratio}).
    Returns: one trace per run, x = unit names in forward order.
    """
    latest = {run.name: next((r.branch_ratios for r in reversed(run.epochs()) if r.branch_ratios), None)
              for run in runs}
    if not any(latest.values()):
        return say(empty_figure(_("Residual branch size"), _("No branch ratios recorded yet.")),
                   _("No branch ratios were recorded yet."))
    fig = go.Figure()
    styles = run_styles(runs)
    for run in runs:
        ratios = latest[run.name]
        if ratios:
            what = _("‖output‖/‖input‖ (a plain unit has no F(x))") if run.plain else "‖F(x)‖/‖x‖"
            shown = dataclasses.replace(run, name=f"{run.name}: ‖out‖/‖in‖") if run.plain else run
            fig.add_trace(run_line(list(ratios), [as_number(v) for v in ratios.values()], shown, styles[run.name],
                                   first=True, hover=[f"{u}: {what}" for u in ratios], mode="lines+markers"))
    fig.update_xaxes(title_text=_("unit (input to output)"), type="category")
    fig.update_yaxes(title_text=_("‖F(x)‖ / ‖x‖ (plain: ‖out‖ / ‖in‖)"), rangemode="tozero")
    drawn = {run.name: (run.plain, latest[run.name] or {}) for run in runs if latest[run.name]}
    say(fig, branch_ratio_takeaway(drawn), branch_ratio_table(drawn))
    return apply_layout(fig, _("Residual branch size next to its input (latest epoch)"))


def layer_response_chart(responses: dict) -> go.Figure:
    """Std of each 3x3 layer's response, per net, in network order (top) and sorted (bottom): Figure 7.

    He et al. 2015, Figure 7: responses after BN, before the addition or ReLU; ResNets' are generally smaller
    than plain nets', the more so the deeper the ResNet.

    Args:
        responses: {net name: {3x3 conv name: std}} from explorer.analysis.diagnostics.layer_responses.
    Returns: two panels (rows), one trace per net in each.
    """
    fig = make_subplots(rows=2, cols=1, vertical_spacing=0.14,
                        subplot_titles=(_("In network order"), _("Sorted by magnitude")))
    styles = run_styles(named_runs(responses))
    for name, stds in responses.items():
        pairs = [(layer, as_number(v)) for layer, v in stds.items()]
        ranked = sorted(pairs, key=lambda p: -math.inf if p[1] is None else p[1], reverse=True)
        for row, shown in ((1, pairs), (2, ranked)):
            fig.add_trace(run_line(range(1, len(shown) + 1), [v for _x, v in shown], RunSeries(name), styles[name],
                                   first=row == 1, hover=[layer for layer, _x in shown], mode="lines+markers"),
                          row=row, col=1)
    fig.update_xaxes(title_text=_("3×3 layer (input to output)"), row=1, col=1)
    fig.update_xaxes(title_text=_("3×3 layer (sorted by std)"), row=2, col=1)
    whole_ticks(fig, max((len(t.x) for t in fig.data), default=None))
    fig.update_yaxes(title_text=_("std of the response"), rangemode="tozero")
    say(fig, responses_takeaway(responses), responses_table(responses))
    return apply_layout(fig, _("Layer responses: std after BN, before the addition or ReLU (Figure 7)"), height=720)


def ablation_chart(results: dict) -> go.Figure:
    """Test error with one unit skipped at a time, per net, with each net's unablated error as a line.

    Veit, Wilber, Belongie 2016: a ResNet barely notices a missing block (except where it downsamples);
    a plain net collapses.

    Args: results: {net name: rows of explorer.analysis.ablation.ablate_blocks} (first row: the baseline).
    Returns: per net a line of errors, a dotted baseline, and ✕ markers at units that cannot be skipped.
    """
    fig = go.Figure()
    styles = run_styles(named_runs(results))
    for name, rows in results.items():
        base = as_number(rows[0].get("error")) if rows else None
        units = [r for r in rows if r.get("unit") is not None]
        x = [r["unit"] for r in units]
        y = [None if as_number(r.get("error")) is None else 100 * r["error"] for r in units]
        colour, dash = styles[name]
        fig.add_trace(run_line(x, y, RunSeries(name), styles[name], first=True, mode="lines+markers"))
        if base is not None and x:
            fig.add_trace(go.Scatter(x=[x[0], x[-1]], y=[100 * base] * 2, mode="lines", legendgroup=plot_text(name),
                                     name=plot_text(_("{net}: nothing removed").format(net=name)),
                                     line=dict(color=colour, dash="dashdot" if dash == "dash" else "dot", width=2)))
        stuck = [r for r in units if not r.get("skippable")]
        if stuck:
            level = 100 * base if base is not None else 0.0
            fig.add_trace(go.Scatter(x=[r["unit"] for r in stuck], y=[level] * len(stuck), mode="markers",
                                     name=plot_text(_("{net}: cannot be skipped").format(net=name)),
                                     legendgroup=plot_text(name),
                                     hovertext=plot_texts(r.get("reason") for r in stuck),
                                     marker=dict(symbol="x-thin-open", size=16, color=colour, line=dict(width=3))))
    fig.update_xaxes(title_text=_("unit removed"), type="category")
    fig.update_yaxes(title_text=_("test error (%)"), range=[0, 100])
    say(fig, ablation_takeaway(results), ablation_table(results))
    return apply_layout(fig, _("Remove one block at a time: test error"))
