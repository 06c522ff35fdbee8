"""Click-through: make heatmap cells clickable, read what was clicked, and the numbers behind an epoch.

Plotly heatmaps report no clicks to Streamlit's point selection, so `clickable_cells` lays an invisible
marker on every cell; `clicked_point` reads the first selected point from st.plotly_chart's selection state
(a plain dict: this module never imports streamlit).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from ..i18n import _
from ..text import plot_texts
from .style import RunSeries, as_number

CELL_TRACE = "click a cell"  # the name of the invisible trace, so pages and tests can find it


def clickable_cells(fig: go.Figure, x: list, y: list, hover: list | None = None, size: int = 28) -> go.Figure:
    """Add one invisible, selectable square marker at every (x, y) cell of a heatmap; returns the figure.

    Args:
        fig: a figure with a heatmap over categories x (columns) and y (rows).
        x, y: the categories as the heatmap shows them (names already through explorer.text.plot_text, as every
            figure here makes them): a click reports the category as shown.
        hover: optional rows x columns texts shown on hover (the heatmap's own hover is covered by the markers).
    """
    xs = [a for _x in y for a in x]
    ys = [b for b in y for _x in x]
    text = plot_texts(t for row in hover for t in row) if hover is not None else None
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers", name=CELL_TRACE, showlegend=False, hovertext=text,
                             hovertemplate="%{hovertext}<extra></extra>" if text else "%{y}, %{x}<extra></extra>",
                             marker=dict(symbol="square", size=size, color="rgba(0,0,0,0)"),
                             selected=dict(marker=dict(opacity=1)), unselected=dict(marker=dict(opacity=1))))
    fig.update_layout(clickmode="event+select", dragmode=False)
    if x and all(isinstance(v, (int, float)) for v in x):  # keep a numeric axis to the heatmap's own extent
        fig.update_xaxes(range=[min(x) - 0.5, max(x) + 0.5])
    return fig


def clicked_point(state: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The first point selected in st.plotly_chart's selection state, or None.

    Args:
        state: what st.plotly_chart returns (or st.session_state[key]) with on_select, a mapping:
            {"selection": {"points": [{"x", "y", "curve_number", "point_index", ...}]}}.
    Returns:
        {"x", "y", "curve", "index"} of the first selected point.
    """
    points = ((state or {}).get("selection") or {}).get("points") or []
    if not points:
        return None
    p = points[0]
    return {"x": p.get("x"), "y": p.get("y"), "curve": p.get("curve_number"), "index": p.get("point_index")}


def _percent(value: float | None) -> float | None:
    number = as_number(value)
    return None if number is None else round(100 * number, 2)


def epoch_table(runs: Sequence[RunSeries], epoch: float) -> list[dict[str, Any]]:
    """Each run's numbers at one epoch (what a click on a point of the training curves opens).

    Args:
        runs: from `run_series`. epoch: the clicked epoch (0 = before training).
    Returns:
        [{"run", "epoch", "train loss", "train error %", "test loss", "test error %", "learning rate",
        "seconds"}] (the column names in the reader's language), one per run that recorded that epoch; missing
        numbers are None.
    """
    rows = []
    for run in runs:
        rec = next((r for r in run.epochs() if r.epoch == epoch), None)
        if rec is None:
            continue
        rows.append({_("run"): run.name, _("epoch"): epoch, _("train loss"): as_number(rec.train_loss),
                     _("train error %"): _percent(rec.train_error), _("test loss"): as_number(rec.test_loss),
                     _("test error %"): _percent(rec.test_error), _("learning rate"): as_number(rec.lr),
                     _("seconds"): as_number(rec.elapsed)})
    return rows
