"""The figures' shared look: a colour-blind-safe palette, font size, layout, the empty-figure message."""
from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, SupportsFloat

import plotly.graph_objects as go

from ..i18n import _
from ..store.records import Metric
from ..text import plot_text, plot_texts

# Okabe & Ito's colour-blind-safe hues, each at least 3:1 against its background (WCAG 2.2 SC 1.4.11): on white the
# orange, sky blue and grey are darkened (Okabe-Ito's own failed, 2.3:1) and Tol's wine stands in for the orange,
# which darkened looked like the vermilion to a deuteranope; on the dark background black turns light grey and the
# yellow (gone on a projector's white) returns. Index i of one palette is index i of the other (themed()).
# tests/test_palette.py checks the ratios and the pairwise CIEDE2000 under simulated dichromacy.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#C972A2", "#000000", "#1D96DB", "#7A7A7A", "#882255")
PALETTE_DARK = ("#0072B2", "#F07A2E", "#00B386", "#CC79A7", "#E8E8E8", "#56B4E9", "#999999", "#F0E442")


@dataclass(frozen=True)
class ChartTheme:
    """The colours a chart is drawn in under one of Streamlit's themes (st.context.theme.type)."""

    name: str  # "light" or "dark"
    background: str  # the chart's paper and plot background: the app's own
    text: str  # titles, ticks, legends, annotations: at least 4.5:1 on the background (SC 1.4.3)
    grid: str  # gridlines: a faint guide, not needed to read a value (the ticks are)
    axis: str  # axis and zero lines: at least 3:1 (SC 1.4.11)
    palette: tuple[str, ...]
    template: str


LIGHT = ChartTheme("light", "#FFFFFF", "#1F2328", "#E1E4E8", "#6E7781", PALETTE, "plotly_white")
DARK = ChartTheme("dark", "#0E1117", "#E6EDF3", "#30363D", "#8B949E", PALETTE_DARK, "plotly_dark")
THEMES = {"light": LIGHT, "dark": DARK}


FONT_SIZE = 16


@dataclass(frozen=True)
class RunSeries:
    """What every chart of a run takes: its name, how it is drawn (depth, plain) and its metric records."""

    name: str
    depth: int | None = None  # weighted layers (He et al. 2015): one colour per depth
    plain: bool = False  # no shortcuts: drawn dashed
    status: str | None = None  # "diverged" gets a ✕ at its last point
    records: tuple[Metric, ...] = ()  # step and epoch records, in order (explorer.store.records.Metric)

    def epochs(self) -> list[Metric]:
        """The epoch records, in order."""
        return [r for r in self.records if r.type == "epoch"]

    def steps(self) -> list[Metric]:
        """The step records, in order."""
        return [r for r in self.records if r.type == "step"]


# Every chart's text: the browser's sans-serif first, then fonts that cover Chinese (plotly draws SVG text, so the
# reader's browser picks the glyphs: Noto Sans CJK / WenQuanYi on Linux, PingFang on macOS, Microsoft YaHei on
# Windows; docs/translating.md says how a server's browser gets one).
FONT_FAMILY = ('"Open Sans", "Noto Sans", "Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", '
               '"PingFang SC", "Microsoft YaHei", sans-serif')

OVERLAY_SCALE = [[0.0, "rgba(255,0,0,0)"], [0.4, "rgba(255,80,0,0.5)"], [1.0, "rgba(255,230,0,1)"]]


def apply_layout(fig: go.Figure, title: str, height: int = 460) -> go.Figure:
    """The shared look, with the title as plain text (explorer.text.plot_text: it may quote a run's name)."""
    # The legend goes under the plot, in rows: beside it, it took a third of a 390 px phone's width from the panels.
    fig.update_layout(title=dict(text=plot_text(title), x=0.0), template=LIGHT.template, height=height,
                      font=dict(size=FONT_SIZE, color=LIGHT.text, family=FONT_FAMILY), paper_bgcolor=LIGHT.background,
                      plot_bgcolor=LIGHT.background, margin=dict(t=90, l=70, r=20, b=60), hovermode="closest",
                      legend=dict(title=None, orientation="h", x=0.0, xanchor="left", y=-0.2, yanchor="top",
                                  yref="paper"))
    fig.update_layout(margin_b=60 + 30 * _legend_rows(fig))
    fig.update_annotations(font_size=FONT_SIZE + 1)  # subplot titles
    _axis_colours(fig, LIGHT)
    return fig


def _axis_colours(fig: go.Figure, theme: ChartTheme) -> None:
    """Ticks and axis titles in the theme's text colour, gridlines faint, axis and zero lines at 3:1."""
    for update in (fig.update_xaxes, fig.update_yaxes):
        update(tickfont_color=theme.text, title_font_color=theme.text, gridcolor=theme.grid,
               linecolor=theme.axis, zerolinecolor=theme.axis)


def themed(fig: go.Figure, theme: str) -> go.Figure:
    """The figure in the colours of Streamlit's "light" or "dark" theme (a copy for dark; light is how figures are
    built). Palette colours map index for index onto the theme's palette; text the chart set in the light text
    colour (or left unset) turns the theme's text colour. Draw it with st.plotly_chart(..., theme=None), or
    Streamlit's own chart theme replaces these colours with fainter ones (ticks at 3.7:1, issue 23)."""
    target = THEMES.get(theme, LIGHT)
    if target is LIGHT:
        return fig
    fig = go.Figure(fig)  # a copy: cached figures stay as they were
    swap = dict(zip(LIGHT.palette, target.palette, strict=True)) | {LIGHT.text: target.text}
    fig.update_layout(template=target.template, font_color=target.text, paper_bgcolor=target.background,
                      plot_bgcolor=target.background)
    _axis_colours(fig, target)
    for annotation in fig.layout.annotations:
        if annotation.font.color in (None, LIGHT.text):
            annotation.font.color = target.text
    for trace in fig.data:
        for part in ("line", "marker"):
            colour = getattr(getattr(trace, part, None), "color", None)
            if isinstance(colour, str) and colour in swap:
                getattr(trace, part).color = swap[colour]
    return fig


def _legend_rows(fig: go.Figure) -> int:
    """About how many rows the legend under the plot takes (entries of ~24 characters, three to a row)."""
    shown = sum(1 for t in fig.data if t.type in ("scatter", "bar") and t.showlegend is not False and t.name)
    return 0 if shown == 0 else 1 + (shown - 1) // 3


def whole_ticks(fig: go.Figure, largest: float | None, **where: Any) -> None:
    """Whole-number ticks on an x axis of epochs or layer indices, when there are few: every one up to 6, every
    other up to 12, every fifth up to 30 (more than 7 ticks crowded a 390 px phone's half-width panel). Past that,
    plotly's own ticks are whole numbers already."""
    if largest is None or largest > 30:
        return
    fig.update_xaxes(tick0=0, dtick=1 if largest <= 6 else 2 if largest <= 12 else 5, **where)


def empty_figure(title: str, message: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=plot_text(message), showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return apply_layout(fig, title, height=300)


def as_number(value: SupportsFloat | str | None) -> float | None:
    """A finite float, or None (plotly draws None as a gap)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def name_style(name: str) -> tuple[int | None, bool]:
    """(depth, plain) read from a name such as "plain-56" or "resnet-110-full_preact"."""
    found = re.search(r"(\d+)", name)
    return (int(found.group(1)) if found else None), name.lower().startswith("plain")


Style = tuple[str, str]  # (colour, dash)


def run_styles(runs: Sequence[RunSeries]) -> dict[str, Style]:
    """{run name: (colour, dash)}: one colour per depth, plain dashed, residual solid.

    When several runs of one kind share a depth (a placement comparison), depth cannot tell them apart,
    so each run gets its own colour instead.
    """
    kinds = [(r.depth, r.plain) for r in runs]
    by_depth = len(set(kinds)) == len(kinds)
    keys: list[int | str | None] = [r.depth if by_depth else r.name for r in runs]
    order = sorted(set(keys), key=lambda k: (isinstance(k, str), k if k is not None else -1))
    colour = {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(order)}
    return {r.name: (colour[k], "dash" if r.plain else "solid") for r, k in zip(runs, keys, strict=True)}


def named_runs(names: Iterable[str]) -> list[RunSeries]:
    """Runs for charts keyed by net name only (responses, ablation, landscapes): depth and plain read from the name."""
    return [RunSeries(n, *name_style(n)) for n in names]


def run_label(run: RunSeries) -> str:
    return _("{run} (diverged)").format(run=run.name) if run.status == "diverged" else run.name


def run_line(x: Iterable[Any], y: Iterable[Any], run: RunSeries, style: Style, first: bool,
             hover: list[str] | None = None, **kw: Any) -> go.Scatter:
    colour, dash = style
    return go.Scatter(x=list(x), y=list(y), mode=kw.pop("mode", "lines"), name=plot_text(run_label(run)),
                      legendgroup=plot_text(run.name), showlegend=first, line=dict(color=colour, dash=dash, width=3),
                      hovertext=plot_texts(hover) if hover is not None else None, **kw)
