"""Figures for a screen across a room: every text of a figure at a size read from the back row, and a snapshot.

`screen_text` is the one function that sizes a figure's text (ticks, axis titles, legend, title, subplot titles,
bar labels); projector mode (explorer.figures.classroom.projected) and the class screen both use it. Plotly's font
sizes are CSS pixels, and a 1920x1080 screen shows them 1:1, so 20 px ticks stay 20 px there.
Size budget: ~150 lines.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..i18n import _
from ..text import plot_text, plot_texts
from .curves import run_series
from .style import PALETTE, RunSeries, apply_layout, as_number, empty_figure, run_styles, whole_ticks
from .words import Table, say

if TYPE_CHECKING:
    from ..classroom.classes import Classroom
    from ..classroom.screen import SnapshotPanel

SCREEN_FONT_PX = 24  # the class screen's tick, legend and axis-title text (issue 21: at least 20 px at 1920x1080)
SCREEN_INK = "#1f1f1f"  # near black: contrast survives a washed-out projector


def screen_text(fig: go.Figure, size: float) -> go.Figure:
    """Set every text of `fig` to `size` px (the title a quarter larger, subplot titles one px larger), in place.

    Explicit sizes, not only the layout's font: Streamlit's chart theme sets its own tick and legend sizes, which
    an inherited font does not override. Margins grow with the text so tick labels and titles are not cut.
    Returns: the same figure.
    """
    fig.update_layout(font=dict(size=size), legend=dict(font=dict(size=size)),
                      hoverlabel=dict(font=dict(size=size)))
    if fig.layout.title.text:
        fig.update_layout(title_font_size=size * 1.25)
    fig.update_xaxes(tickfont_size=size, title_font_size=size)
    fig.update_yaxes(tickfont_size=size, title_font_size=size)
    fig.update_annotations(font_size=size + 1)
    fig.update_traces(textfont_size=size, selector=dict(type="bar"))
    fig.update_traces(colorbar_tickfont_size=size, selector=dict(type="heatmap"))
    m = fig.layout.margin  # room for the larger text (idempotent: sizing twice does not grow them twice)
    lines = (fig.layout.title.text or "").count("<br>")  # a title's second line needs its own room
    fig.update_layout(margin=dict(t=max(m.t or 0, int(size * (4.5 + 1.5 * lines))), l=max(m.l or 0, int(size * 4.4)),
                                  b=max(m.b or 0, int(size * 3.8))))
    return fig


def for_screen(fig: go.Figure, height: int, size: float = SCREEN_FONT_PX) -> go.Figure:
    """A copy of `fig` for the class screen: every text at `size` px, thick lines, this height in px."""
    fig = go.Figure(fig)  # cached figures stay as they were
    screen_text(fig, size)
    dark = dict(color=SCREEN_INK)  # the theme's grey ticks fade on a projector
    fig.update_layout(height=height, font=dark, legend_font=dark)
    fig.update_xaxes(tickfont=dark, title_font=dark)
    fig.update_yaxes(tickfont=dark, title_font=dark)
    fig.update_annotations(font=dark)
    for trace in fig.data:  # thicker drawn lines; a band's outline (width 0) stays invisible
        line = getattr(trace, "line", None)
        if line is not None and line.width:
            trace.line.width = max(line.width, 5)
    return fig


def snapshot_figure(panels: Sequence[SnapshotPanel], layout: str = "side", title: str | None = None) -> go.Figure:
    """Two to four students' runs side by side (one panel each: training and test error) or overlaid (training
    error on one chart, one colour per run), labelled as the screen names them ("Otter: plain-56").

    He et al. 2015, Figure 6's reading: a deeper plain net ends with the higher training error (degradation), its
    residual twin does not. Args: panels: explorer.classroom.screen.SnapshotPanel records, in the teacher's order.
    layout: "side" or "overlay". Returns: a figure with error in %; its labels are plain text (explorer.text).
    """
    title = _("Snapshot") if title is None else title
    if not panels:
        message = _("The runs of this snapshot are no longer in the store.")
        return say(empty_figure(title, message), message)
    series = [run_series(p.run, p.epochs) for p in panels]
    if layout == "overlay":
        fig = go.Figure()
        for i, (panel, run) in enumerate(zip(panels, series, strict=True)):
            x, y = _error_line(run, "train_error")
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=plot_text(panel.label),
                                     line=dict(color=PALETTE[i % len(PALETTE)], width=3,
                                               dash="dash" if run.plain else "solid")))
        fig.update_yaxes(title_text=_("training error (%)"), rangemode="tozero")
    else:
        fig = make_subplots(rows=1, cols=len(panels), subplot_titles=plot_texts(p.label for p in panels),
                            shared_yaxes=True, horizontal_spacing=0.04)
        styles = run_styles(series)
        lines = (("train_error", "solid", _("training error")), ("test_error", "dot", _("test error")))
        for _key, dash, shown in lines:  # the legend in neutral ink: each panel has its own colour
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=shown, line=dict(color="#555", width=3,
                                                                                              dash=dash)))
        for col, run in enumerate(series, start=1):
            for key, dash, shown in lines:
                x, y = _error_line(run, key)
                fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=plot_text(f"{run.name} {shown}"),
                                         showlegend=False, line=dict(color=styles[run.name][0], width=3, dash=dash)),
                              row=1, col=col)
        fig.update_yaxes(title_text=_("error (%)"), rangemode="tozero", col=1)
        fig.update_yaxes(rangemode="tozero")
    fig.update_xaxes(title_text=_("epoch"))
    whole_ticks(fig, max((len(s.epochs()) for s in series), default=None))
    from ..classroom.screen import snapshot_takeaway  # the screen's own sentence, so chart and screen agree
    rows = []
    for panel, run in zip(panels, series, strict=True):
        epochs, train = _error_line(run, "train_error")
        _x, test = _error_line(run, "test_error")
        rows += [(panel.label, e, _rounded(a), _rounded(b)) for e, a, b in zip(epochs, train, test, strict=True)]
    say(fig, snapshot_takeaway(panels), Table((_("run"), _("epoch"), _("training error (%)"), _("test error (%)")),
                                              tuple(rows)))
    return apply_layout(fig, title)


def _rounded(v: float | None) -> float | None:
    return None if v is None else round(v, 3)


def _error_line(run: RunSeries, key: str) -> tuple[list[float], list[float | None]]:
    """(epochs, error in %) of one run's epoch records."""
    epochs = run.epochs()
    x = [as_number(r.epoch) for r in epochs]
    y = [(v * 100 if (v := as_number(getattr(r, key))) is not None else None) for r in epochs]
    return [e for e in x if e is not None], [v for e, v in zip(x, y, strict=True) if e is not None]


def debrief_snapshots(room: Classroom, class_id: str) -> list[tuple[str, go.Figure]]:
    """The class's snapshots, oldest first, as (title, figure) for the debrief page (the figure carries its takeaway,
    shown as its caption): students under their pseudonyms whatever the screen showed (the file leaves the app)."""
    from ..classroom.screen import screen_labels, snapshot_panels, snapshots
    labels = screen_labels(room, class_id, names=False)
    out = []
    for snap in snapshots(room, class_id):
        panels = snapshot_panels(room, snap, labels)
        if not panels:  # every run of it deleted since
            continue
        title = _("Snapshot: {runs}").format(runs=_(" vs ").join(p.label for p in panels))
        out.append((title, snapshot_figure(panels, snap.layout, title)))
    return out
