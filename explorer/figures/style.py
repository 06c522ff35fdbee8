"""The figures' shared look: a colour-blind-safe palette, font size, layout, the empty-figure message."""
from __future__ import annotations

import math
import re

import plotly.graph_objects as go

# Okabe & Ito's colour-blind-safe palette (yellow left out: it vanishes on a projector's white).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#999999")


FONT_SIZE = 16


OVERLAY_SCALE = [[0.0, "rgba(255,0,0,0)"], [0.4, "rgba(255,80,0,0.5)"], [1.0, "rgba(255,230,0,1)"]]


def apply_layout(fig: go.Figure, title: str, height: int = 460) -> go.Figure:
    fig.update_layout(title=dict(text=title, x=0.0), template="plotly_white", height=height,
                      font=dict(size=FONT_SIZE), legend=dict(title=None), margin=dict(t=90, l=70, r=30, b=60),
                      hovermode="closest")
    fig.update_annotations(font_size=FONT_SIZE + 1)  # subplot titles
    return fig


def whole_ticks(fig: go.Figure, largest, **where) -> None:
    """Tick every whole number on an x axis of epochs or layer indices, when there are few enough."""
    if largest is not None and largest <= 15:
        fig.update_xaxes(dtick=1, **where)


def empty_figure(title: str, message: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return apply_layout(fig, title, height=300)


def as_number(value) -> float | None:
    """A finite float, or None (plotly draws None as a gap)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def name_style(name: str) -> tuple:
    """(depth, plain) read from a name such as "plain-56" or "resnet-110-full_preact"."""
    found = re.search(r"(\d+)", name)
    return (int(found.group(1)) if found else None), name.lower().startswith("plain")


def run_styles(runs: list) -> dict:
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


def named_runs(names) -> list:
    """Run-like dicts for charts keyed by net name only (responses, ablation, landscapes)."""
    return [{"name": n, "depth": name_style(n)[0], "plain": name_style(n)[1]} for n in names]


def run_label(run: dict) -> str:
    return f"{run['name']} (diverged)" if run.get("status") == "diverged" else run["name"]


def run_line(x, y, run: dict, style: tuple, first: bool, hover: list | None = None, **kw) -> go.Scatter:
    colour, dash = style
    return go.Scatter(x=list(x), y=list(y), mode=kw.pop("mode", "lines"), name=run_label(run),
                      legendgroup=run["name"], showlegend=first, line=dict(color=colour, dash=dash, width=3),
                      hovertext=hover, **kw)
