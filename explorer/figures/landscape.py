"""Loss-landscape figures (Li et al. 2018): 2-D slices side by side, the 1-D line from initial to trained weights."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..i18n import _
from ..text import plot_text, plot_texts
from .style import RunSeries, apply_layout, as_number, empty_figure, named_runs, run_line, run_styles
from .words import MAX_TABLE_ROWS, Table, listing, num, say, sentences


def _finite_log(loss: Sequence[Sequence[float | None]], log: bool) -> np.ndarray:
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
        return say(empty_figure(_("Loss landscape"), _("No landscape computed yet.")), _("No landscape computed yet."))
    zs = {name: _finite_log(r["loss"], log) for name, r in results.items()}
    finite = np.concatenate([z[np.isfinite(z)] for z in zs.values()])
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    spec = {"type": "surface"} if kind == "surface" else {}
    fig = make_subplots(rows=1, cols=len(results), subplot_titles=plot_texts(results),
                        specs=[[spec] * len(results)], horizontal_spacing=0.06)
    label = _("log10 loss") if log else _("loss")
    for col, (name, r) in enumerate(results.items(), start=1):
        for trace in _landscape_panel(kind, name, r, zs[name], (lo, hi), label, last=col == len(results)):
            fig.add_trace(trace, row=1, col=col)
    if kind == "contour":
        fig.update_xaxes(title_text=_("α (direction 1)"))
        fig.update_yaxes(title_text=_("β (direction 2)"), row=1, col=1)
    else:
        fig.update_scenes(zaxis=dict(range=[lo, hi], title=label), xaxis_title="α", yaxis_title="β")
    mark = "★" if kind == "contour" else _("red dot")
    say(fig, surfaces_takeaway(results), _surfaces_table(results))
    return apply_layout(fig, _("Loss landscape around the trained weights ({mark}), coloured by {quantity}").format(
        mark=mark, quantity=label), height=520)


def _losses(result: dict) -> list[tuple[float, float, float]]:
    """(α, β, loss) of every computed point of one slice (the loss itself, not its log)."""
    out = []
    for i, line in enumerate(result["loss"]):
        for j, v in enumerate(line):
            loss = as_number(v)
            if loss is not None:
                out.append((float(result["alpha"][j]), float(result["beta"][i]), loss))
    return out


def surfaces_takeaway(results: dict) -> str:
    """Each net's loss at the trained weights and the highest loss across its slice; the net whose slice rises
    more is the rougher one (Li et al. 2018: without shortcuts a deep net's landscape turns chaotic)."""
    spans = []
    for name, r in results.items():
        points = _losses(r)
        if points:
            centre = next((v for a, b, v in points if a == 0 and b == 0), min(v for _x, _y, v in points))
            spans.append((name, centre, max(v for _x, _y, v in points)))
    if not spans:
        return _("No loss was computed on these slices.")
    text = _("Around the trained weights the loss goes {nets}.").format(nets=listing(
        [_("from {centre} up to {highest} for {net}").format(centre=num(c), highest=num(m), net=name)
         for name, c, m in spans]))
    if len(spans) >= 2:
        steep = max(spans, key=lambda t: t[2] / t[1] if t[1] > 0 else float("inf"))
        text = sentences(text, _("{net}'s slice rises the most from its centre: the rougher landscape.").format(
            net=steep[0]))
    return text


def _surfaces_table(results: dict) -> Table:
    rows = [(name, a, b, round(v, 6)) for name, r in results.items() for a, b, v in _losses(r)]
    return Table((_("net"), "α", "β", _("loss")), tuple(rows[:MAX_TABLE_ROWS]), max(0, len(rows) - MAX_TABLE_ROWS))


def _landscape_panel(kind: str, name: str, result: dict, z: np.ndarray, zrange: tuple, label: str,
                     last: bool) -> list:
    """The traces of one landscape panel: the slice on the shared colour range, and the trained point."""
    lo, hi = zrange
    bar = dict(title=label)
    if kind == "contour":
        return [go.Contour(x=result["alpha"], y=result["beta"], z=z, zmin=lo, zmax=hi, colorscale="Viridis",
                           showscale=last, colorbar=bar, autocontour=False, name=plot_text(name),
                           contours=dict(start=lo, end=hi, size=(hi - lo) / 20 or 1)),
                go.Scatter(x=[0], y=[0], mode="markers", name=_("trained weights"), showlegend=False,
                           marker=dict(symbol="star", size=16, color="white", line=dict(width=2)))]
    return [go.Surface(x=result["alpha"], y=result["beta"], z=z, cmin=lo, cmax=hi, colorscale="Viridis",
                       showscale=last, colorbar=bar, name=plot_text(name)),
            go.Scatter3d(x=[0], y=[0], z=[_landscape_centre(result, z)], mode="markers", name=_("trained weights"),
                         showlegend=False, marker=dict(size=6, color="red"))]


def _landscape_centre(result: dict, z: np.ndarray) -> float | None:
    """z at (α, β) = (0, 0), the trained weights, or None if that point is missing."""
    try:
        value = z[list(result["beta"]).index(0)][list(result["alpha"]).index(0)]
    except ValueError:
        return None
    return float(value) if np.isfinite(value) else None


def landscape_line(results: dict) -> go.Figure:
    """Loss along the straight line from the initial (α = 0) to the trained (α = 1) weights (log scale).

    Li et al. 2018, 1-D interpolation (after Goodfellow et al. 2015).

    Args: results: {net name: {"alpha": [k], "loss": [k]}} from explorer.analysis.landscape.line.
    Returns: one trace per net.
    """
    fig = go.Figure()
    styles = run_styles(named_runs(results))
    for name, r in results.items():
        y = [v if v is not None and v > 0 else None for v in map(as_number, r["loss"])]
        fig.add_trace(run_line(r["alpha"], y, RunSeries(name), styles[name], first=True, mode="lines+markers"))
    for x, text in ((0, _("initial")), (1, _("trained"))):
        fig.add_vline(x=x, line=dict(color="grey", dash="dot"), annotation_text=plot_text(text))
    fig.update_xaxes(title_text=_("α (0 = initial weights, 1 = trained weights)"))
    fig.update_yaxes(title_text=_("loss (log scale)"), type="log")
    return say(apply_layout(fig, _("From the initial to the trained weights")), line_takeaway(results))


def line_takeaway(results: dict) -> str:
    """Each net's loss at the initial (α = 0) and trained (α = 1) weights, and whether it rises on the way."""
    parts = []
    for name, r in results.items():
        points = [(float(a), v) for a, v in zip(r["alpha"], map(as_number, r["loss"]), strict=True)
                  if v is not None and v > 0]
        inside = [(a, v) for a, v in points if 0 <= a <= 1]
        if not inside:
            continue
        start, end = inside[0], inside[-1]
        peak = max(inside, key=lambda p: p[1])
        part = _("{net} from {start} at α = {start_alpha} to {end} at α = {end_alpha}, rising to {peak} at α = "
                 "{peak_alpha} on the way") if peak[1] > max(start[1], end[1]) else \
            _("{net} from {start} at α = {start_alpha} to {end} at α = {end_alpha}, with no bump on the way")
        parts.append(part.format(net=name, start=num(start[1]), start_alpha=f"{start[0]:g}", end=num(end[1]),
                                 end_alpha=f"{end[0]:g}", peak=num(peak[1]), peak_alpha=f"{peak[0]:g}"))
    if not parts:
        return _("No loss was computed along the line yet.")
    return _("Along the straight line from the initial to the trained weights the loss goes {nets}.").format(
        nets=_("; ").join(parts))
