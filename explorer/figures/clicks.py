"""Click-through: make heatmap cells clickable, read what was clicked, and the numbers behind an epoch.

Plotly heatmaps report no clicks to Streamlit's point selection, so `clickable_cells` lays an invisible
marker on every cell; `clicked_point` reads the first selected point from st.plotly_chart's selection state
(a plain dict: this module never imports streamlit).
"""
from __future__ import annotations

import plotly.graph_objects as go

from .style import as_number

CELL_TRACE = "click a cell"  # the name of the invisible trace, so pages and tests can find it


def clickable_cells(fig: go.Figure, x: list, y: list, hover: list | None = None, size: int = 28) -> go.Figure:
    """Add one invisible, selectable square marker at every (x, y) cell of a heatmap; returns the figure.

    Args:
        fig: a figure with a heatmap over categories x (columns) and y (rows).
        hover: optional rows x columns texts shown on hover (the heatmap's own hover is covered by the markers).
    """
    xs = [a for _ in y for a in x]
    ys = [b for b in y for _ in x]
    text = [t for row in hover for t in row] if hover is not None else None
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers", name=CELL_TRACE, showlegend=False, hovertext=text,
                             hovertemplate="%{hovertext}<extra></extra>" if text else "%{y}, %{x}<extra></extra>",
                             marker=dict(symbol="square", size=size, color="rgba(0,0,0,0)"),
                             selected=dict(marker=dict(opacity=1)), unselected=dict(marker=dict(opacity=1))))
    fig.update_layout(clickmode="event+select", dragmode=False)
    if x and all(isinstance(v, (int, float)) for v in x):  # keep a numeric axis to the heatmap's own extent
        fig.update_xaxes(range=[min(x) - 0.5, max(x) + 0.5])
    return fig


def clicked_point(state) -> dict | None:
    """The first point selected in st.plotly_chart's selection state, or None.

    Args:
        state: what st.plotly_chart returns (or st.session_state[key]) with on_select: {"selection": {"points":
            [{"x", "y", "curve_number", "point_index", ...}]}}; attribute access works too.
    Returns:
        {"x", "y", "curve", "index"} of the first selected point.
    """
    selection = _get(state, "selection")
    points = _get(selection, "points") or []
    if not points:
        return None
    p = points[0]
    return {"x": _get(p, "x"), "y": _get(p, "y"), "curve": _get(p, "curve_number"), "index": _get(p, "point_index")}


def _get(obj, key):
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(key)
    return getattr(obj, key, None)


def epoch_table(runs: list, epoch) -> list:
    """Each run's numbers at one epoch (what a click on a point of the training curves opens).

    Args:
        runs: run dicts from `run_series`. epoch: the clicked epoch (0 = before training).
    Returns:
        [{"run", "epoch", "train loss", "train error %", "test loss", "test error %", "learning rate",
        "seconds"}], one per run that recorded that epoch; missing numbers are None.
    """
    rows = []
    for run in runs:
        rec = next((r for r in run.get("records", []) if r.get("type") == "epoch" and r.get("epoch") == epoch), None)
        if rec is None:
            continue
        pct = lambda v: None if as_number(v) is None else round(100 * v, 2)  # noqa: E731
        rows.append({"run": run["name"], "epoch": epoch, "train loss": as_number(rec.get("train_loss")),
                     "train error %": pct(rec.get("train_error")), "test loss": as_number(rec.get("test_loss")),
                     "test error %": pct(rec.get("test_error")), "learning rate": as_number(rec.get("lr")),
                     "seconds": as_number(rec.get("elapsed"))})
    return rows
