"""The class's figures: Figure 6 across every student's seed (median and spread, with n), a question's tally.

Pure functions of plain data (explorer.classroom's records), tested without a browser.
Size budget: ~120 lines.
"""
from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import TYPE_CHECKING

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..i18n import _, ngettext, pct
from ..text import plot_text, plot_texts
from .curve_words import depth_order
from .screen import screen_text
from .words import Table, listing, say, sentences

if TYPE_CHECKING:
    from ..classroom.classes import Classroom
from .style import (
    apply_layout,
    as_number,
    empty_figure,
    name_style,
    named_runs,
    run_styles,
    whole_ticks,
)


def _hex_to_rgba(colour: str, alpha: float) -> str:
    c = colour.lstrip("#")
    return f"rgba({int(c[0:2], 16)},{int(c[2:4], 16)},{int(c[4:6], 16)},{alpha})"


def band(series: list, key: str) -> list:
    """[(epoch, median, low, high, n), ...] of one value across runs, at each epoch every run reached.

    Args:
        series: [[epoch record, ...] per run] (docs/engine.md's epoch records). key: "train_error", "test_error".
    Returns: the median and the spread (lowest to highest) across runs; n counts the runs with a value there.
    """
    by_epoch: dict = {}
    for records in series:
        for r in records:
            value, epoch = as_number(r.get(key)), as_number(r.get("epoch"))
            if value is not None and epoch is not None:
                by_epoch.setdefault(epoch, []).append(value)
    return [(e, statistics.median(v), min(v), max(v), len(v)) for e, v in sorted(by_epoch.items())]


def final_medians(curves: dict, key: str = "train_error", epochs: int | None = None) -> list:
    """Per net, the median of each finished run's own last value: [(name, median, n), ...] in the curves' order.

    A run counts only when it finished: it reached `epochs` (the recipe's), or, when that is not known, the last
    epoch any run of that net reached. Runs cut short never pull the median (their last epoch is not the end).
    """
    out = []
    for name, runs in curves.items():
        lasts = [(as_number(r[-1].get("epoch")), as_number(r[-1].get(key))) for r in runs if r]
        end = epochs if epochs is not None else max((e for e, _x in lasts if e is not None), default=None)
        done = [v for e, v in lasts if e is not None and v is not None and e == end]
        if done:
            out.append((name, statistics.median(done), len(done)))
    return out


def class_figure6(curves: dict, scale: float = 1.0, pool: str | None = None, others: int = 0) -> go.Figure:
    """Figure 6 for the whole class: for each net, the median curve across students' runs and its spread.

    He et al. 2015, Figure 6: the deeper plain net ends with the higher training error. With one run per
    student (each their own seed), the band shows whether that holds for every seed, not by luck.
    Args:
        curves: {run name: [[epoch record, ...] per student run]} (Classroom.epoch_curves), of one pool only: the
        same dataset, recipe and nets (explorer.training.experiments.like_with_like). scale: projector enlargement
        of fonts and lines (1: normal). pool: the pool's label, shown under the title. others: how many finished
        sweeps of other pools are left out.
    Returns: two panels (training, test error in %); each net's legend entry says its n.
    """
    if not curves:
        message = _("No finished runs in the class yet.")
        return projected(say(empty_figure(_("The class's Figure 6"), message), message), scale)
    fig = make_subplots(rows=1, cols=2, subplot_titles=(_("Training error"), _("Test error")), horizontal_spacing=0.08)
    names = sorted(curves, key=lambda n: (named_runs([n])[0].depth or 0, not named_runs([n])[0].plain))
    styles = run_styles(named_runs(names))
    bands: dict[str, dict[str, list]] = {}
    for name in names:
        colour, dash = styles[name]
        n = len(curves[name])
        for col, key in ((1, "train_error"), (2, "test_error")):
            pts = band(curves[name], key)
            if not pts:
                continue
            bands.setdefault(name, {})[key] = pts
            x = [p[0] for p in pts]
            group = dict(legendgroup=plot_text(name), hoverinfo="skip")
            fig.add_trace(go.Scatter(x=x + x[::-1], y=[p[3] * 100 for p in pts] + [p[2] * 100 for p in pts][::-1],
                                     fill="toself", fillcolor=_hex_to_rgba(colour, 0.18), mode="lines",
                                     line=dict(width=0),
                                     showlegend=False, name=plot_text(_("{net} spread").format(net=name)), **group),
                          row=1, col=col)
            hover = plot_texts(_("{net}: median {median}, {low}–{high}, n = {n}").format(
                net=name, median=_pc(p[1]), low=_pc(p[2]), high=_pc(p[3]), n=p[4]) for p in pts)
            fig.add_trace(go.Scatter(x=x, y=[p[1] * 100 for p in pts], mode="lines+markers",
                                     name=plot_text(_("{net} (median of n = {n})").format(net=name, n=n)),
                                     legendgroup=plot_text(name),
                                     showlegend=col == 1, line=dict(color=colour, dash=dash, width=3),
                                     marker=dict(size=6), hovertext=hover), row=1, col=col)
    fig.update_xaxes(title_text=_("epoch"))
    whole_ticks(fig, max((len(s) for runs in curves.values() for s in runs), default=None))
    fig.update_yaxes(title_text=_("error (%)"), rangemode="tozero")
    n_all = max(len(v) for v in curves.values())
    rows = tuple((name, p[0], _("training") if key == "train_error" else _("test"), round(p[1] * 100, 3),
                  round(p[2] * 100, 3), round(p[3] * 100, 3), p[4])
                 for name, by_key in bands.items() for key, pts in by_key.items() for p in pts)
    say(fig, figure6_takeaway(bands), Table((_("net"), _("epoch"), _("split"), _("median error (%)"), _("lowest (%)"),
                                             _("highest (%)"), _("runs (n)")), rows))
    fig = apply_layout(fig, _("The class's Figure 6: median and spread (lowest to highest) across n = {n} runs").format(
        n=n_all))
    if pool:  # a second, smaller line; apply_layout escapes the title, so the line break is added after it
        line = ngettext("{pool}; {n} sweep of another dataset or recipe left out",
                        "{pool}; {n} sweeps of another dataset or recipe left out", others).format(
            pool=pool, n=others) if others else pool
        fig.update_layout(title_text=f"{fig.layout.title.text}<br><sup>{plot_text(line)}</sup>")
    return projected(fig, scale)


def figure6_takeaway(bands: dict[str, dict[str, list]]) -> str:
    """Where each net's median training curve ends (with its spread and n), and whether the deeper plain net
    ends higher: the degradation problem (He et al. 2015, Figure 6)."""
    ends = [(name, pts["train_error"][-1]) for name, pts in bands.items() if pts.get("train_error")]
    if not ends:
        return _("No epoch has finished in the class's runs yet.")
    epoch = max(p[0] for _x, p in ends)
    values = listing([_("{median} for {net} (n = {n}, {low} to {high})").format(
        median=_pc(p[1]), net=name, n=p[4], low=_pc(p[2]), high=_pc(p[3])) for name, p in ends])
    text = _("At epoch {epoch} the class's median training error is {values}.").format(epoch=f"{epoch:g}",
                                                                                        values=values)
    plain = sorted((name_style(name)[0] or 0, p[1], name) for name, p in ends if name_style(name)[1])
    if len(plain) >= 2 and plain[-1][0] > plain[0][0]:
        then = {1: _("The deeper plain net ({deeper}) ends higher than {shallower}: the degradation problem."),
                -1: _("The deeper plain net ({deeper}) ends lower than {shallower}."),
                0: _("The deeper plain net ({deeper}) and {shallower} end too close together to say which is "
                     "higher.")}[depth_order(100 * plain[0][1], 100 * plain[-1][1])]  # medians, in points
        text = sentences(text, then.format(deeper=plain[-1][2], shallower=plain[0][2]))
    return text


def _pc(fraction: float) -> str:
    """A fraction as a percentage the reader's way (0.18 -> '18.0%')."""
    return pct(100 * fraction)


def tally_takeaway(counts: list[tuple[object, int]]) -> str:
    """How many students gave each answer, and which answer most gave (or a tie)."""
    total = sum(c for _x, c in counts)
    if not total:
        return _("Nobody has answered yet.")
    most = max(c for _x, c in counts)
    top = [str(a) for a, c in counts if c == most]
    each = listing([_("{count} for {answer}").format(count=c, answer=a) for a, c in counts])
    lead = (_("Most chose {answer} ({most} of {total}).").format(answer=top[0], most=most, total=total)
            if len(top) == 1 else _("{answers} tie with {most} each, of {total}.").format(answers=listing(top),
                                                                                          most=most, total=total))
    return sentences(ngettext("{n} student answered: {answers}.", "{n} students answered: {answers}.", total).format(
        n=total, answers=each), lead)


def tally_chart(counts: Iterable[tuple[object, int]], title: str | None = None,
                scale: float = 1.0) -> go.Figure:
    """A bar per answer (counts: ((answer, count), ...)); each student counts once. Title: "The class's answers"."""
    counts = list(counts)
    title = _("The class's answers") if title is None else title
    if not counts:
        return projected(say(empty_figure(title, _("No answers yet.")), _("No answers yet.")), scale)
    fig = go.Figure(go.Bar(x=plot_texts(str(a)[:40] for a, _x in counts), y=[c for _x, c in counts],
                           marker_color="#0072B2", text=[c for _x, c in counts], textposition="outside"))
    fig.update_yaxes(title_text=_("students"), rangemode="tozero", dtick=1)
    say(fig, tally_takeaway(counts), Table((_("answer"), _("students")), tuple((str(a), c) for a, c in counts)))
    return projected(apply_layout(fig, title, height=340), scale)


def projected(fig: go.Figure, scale: float = 1.0) -> go.Figure:
    """The figure with fonts, line widths and markers enlarged by `scale` for a projector (1: unchanged, no copy)."""
    if scale == 1.0:
        return fig
    fig = go.Figure(fig)  # a copy: cached figures stay as they were
    screen_text(fig, (fig.layout.font.size or 14) * scale)  # ticks, legends and axis titles too
    fig.update_layout(height=int((fig.layout.height or 460) * min(scale, 1.5)))
    for trace in fig.data:
        line = getattr(trace, "line", None)
        if line is not None and getattr(line, "width", None):
            trace.line.width = line.width * scale
        marker = getattr(trace, "marker", None)
        if marker is not None and isinstance(getattr(marker, "size", None), (int, float)):
            trace.marker.size = marker.size * scale
    return fig


def class_chart(room: Classroom, class_id: str, finished: tuple[str, ...]) -> tuple[go.Figure, str | None]:
    """The class's Figure 6 of its largest pool of like sweeps, and the scale of its degradation beside the paper's.

    Args: room: the explorer.classroom.Classroom. finished: its finished sweeps' ids (Classroom.finished_jobs), by
    which callers cache the result: it changes only when another job ends. Returns: (figure, sentence or None).
    """
    from ..training.experiments import like_with_like
    from .papers import degradation_note
    pools = like_with_like(room.experiment_specs(finished))  # pool only like with like, the largest shown
    if not pools:
        return class_figure6({}), None
    curves = room.epoch_curves(class_id, "sweep", ids=pools[0].ids)
    others = sum(len(g.ids) for g in pools[1:])
    medians = {name: median for name, median, _x in final_medians(curves, epochs=pools[0].epochs)}
    return (class_figure6(curves, pool=pools[0].label, others=others),
            degradation_note(medians, pools[0].dataset, who=_("Your class's medians")))
