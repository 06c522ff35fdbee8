"""Figures for why shortcuts work: the gradient highway, ensembles of paths, the optimiser's path (pure functions).

Each says what it shows from its own numbers (explorer.figures.words), with the table behind it.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..i18n import N_, _, count, listing, ngettext, num, pct
from ..text import plot_text, plot_texts
from .style import PALETTE, Style, apply_layout, as_number, empty_figure, name_style
from .words import Cell, Table, say


def _net_styles(names: Iterable[str]) -> dict[str, Style]:
    """{net name: (colour, dash)}: one colour per net (twins share a depth), plain nets dashed."""
    return {n: (PALETTE[i % len(PALETTE)], "dash" if name_style(n)[1] else "solid") for i, n in enumerate(names)}


_SHORTCUT_LINES = {  # kind of shortcut -> (legend label, marker symbol, line drawn between its units)
    "identity": (N_("through the identity shortcut (the \"1\")"), "circle", True),
    "zero-pad": (N_("through a downsampling shortcut (option A, zero-pad)"), "x", False),
    "projection": (N_("through a projection shortcut (1×1 conv)"), "diamond", False),
}


def _highway_traces(rows: list, dash: str) -> list[tuple[str, str, dict]]:
    """(legend label, dash, trace keywords) for one net's lines: per kind of shortcut, then the branch."""
    x = [r["unit"] for r in rows]
    kinds = [r.get("kind", "identity" if r["shortcut"] > 0 else "none") for r in rows]
    if all(k == "none" for k in kinds):
        return [(_("through its layers"), dash, dict(x=x, y=[as_number(r["branch"]) for r in rows]))]
    out = []
    for kind, (label, symbol, joined) in _SHORTCUT_LINES.items():
        if kind in kinds:
            y = [as_number(r["shortcut"]) if k == kind else None for r, k in zip(rows, kinds, strict=True)]
            out.append((_(label), "solid", dict(x=x, y=y, mode="lines+markers" if joined else "markers",
                                             marker=dict(symbol=symbol, size=12 if not joined else 7))))
    out.append((_("through the branch"), "dot", dict(x=x, y=[as_number(r["branch"]) for r in rows])))
    return out


def highway_chart(splits: dict) -> go.Figure:
    """The gradient at each unit's input, split into its shortcut and branch parts (He et al. 2016, Eq. 5).

    Args:
        splits: {panel title (e.g. "at initialisation"): {net name: rows of analysis.highway.gradient_split}}.
    Returns:
        one panel per title, units along x, L2 norms on a log y axis: per residual net a solid line for the part
        through its identity shortcuts (Eq. 5's "1"), its own markers for a downsampling or projection shortcut's
        part (not the "1"), and a dotted line for the branch's; per plain net one dashed line (all of it the
        branch's). A part that is exactly zero (a zero-initialised branch) has no point on the log axis.
    """
    panels = {t: s for t, s in splits.items() if any(s.values())}
    if not panels:
        return say(empty_figure(_("The gradient highway"), _("No residual units to split.")),
                   _("No unit's gradient was split: there are no units to show."))
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=plot_texts(panels), horizontal_spacing=0.08)
    names = list(dict.fromkeys(n for s in panels.values() for n in s))
    styles = _net_styles(names)
    for col, rows_by_net in enumerate(panels.values(), start=1):
        for name, rows in rows_by_net.items():
            colour, dash = styles[name]
            for label, line_dash, kw in _highway_traces(rows, dash):
                kw.setdefault("mode", "lines+markers")
                fig.add_trace(go.Scatter(name=plot_text(f"{name}: {label}"), legendgroup=plot_text(f"{name}{label}"),
                                         showlegend=col == 1,
                                         line=dict(color=colour, dash=line_dash, width=3), **kw), row=1, col=col)
        fig.update_xaxes(title_text=_("unit (input side on the left)"), type="category", row=1, col=col)
        fig.update_yaxes(type="log", row=1, col=col)  # each panel its own scale: trained nets' gradients are smaller
    fig.update_yaxes(title_text=_("gradient's L2 norm over the batch"), row=1, col=1)
    say(fig, highway_takeaway(panels), _highway_table(panels))
    return apply_layout(fig, _("The gradient highway: what reaches each unit, and by which path"), height=480)


def path_length_chart(n_units: dict) -> go.Figure:
    """Bars of the share of paths of each length in each residual net (Veit et al. 2016, Fig. 6a).

    Args:
        n_units: {net name: rows of analysis.ablation.path_lengths}.
    """
    if not n_units:
        return say(empty_figure(_("Paths through the net"), _("No residual net chosen.")),
                   _("No residual net is chosen, so there are no paths to count."))
    fig = go.Figure()
    for i, (name, rows) in enumerate(n_units.items()):
        fig.add_trace(go.Bar(x=[r["length"] for r in rows], y=[100 * r["share"] for r in rows], name=plot_text(name),
                             marker_color=PALETTE[i % len(PALETTE)],
                             hovertext=[_("{paths} of {total} paths").format(paths=count(r["paths"]),
                                                                             total=count(2 ** (len(rows) - 1)))
                                        for r in rows]))
    fig.update_xaxes(title_text=_("path length (residual branches passed through)"), dtick=1)
    fig.update_yaxes(title_text=_("share of all paths (%)"))
    table = Table((_("net"), _("path length"), _("paths"), _("share of all paths (%)")),
                  tuple((name, r["length"], r["paths"], round(100 * r["share"], 4))
                        for name, rows in n_units.items() for r in rows))
    say(fig, " ".join(_paths_sentence(name, rows) for name, rows in n_units.items()), table)
    return apply_layout(fig, _("A ResNet of n units offers 2ⁿ paths: their lengths are binomial"), height=420)


def deletion_chart(results: dict) -> go.Figure:
    """Test error after deleting k random units, mean with the range over draws (Veit et al. 2016, Fig. 3/5).

    Args:
        results: {net name: rows of analysis.ablation.delete_random_units}.
    """
    if not results:
        return say(empty_figure(_("Deleting units"), _("No net chosen.")),
                   _("No net is chosen, so no unit was deleted."))
    fig = go.Figure()
    styles = _net_styles(results)
    for name, rows in results.items():
        colour, dash = styles[name]
        k = [r["k"] for r in rows]
        fig.add_trace(go.Scatter(x=k, y=[100 * r["mean"] for r in rows], mode="lines+markers", name=plot_text(name),
                                 line=dict(color=colour, dash=dash, width=3),
                                 error_y=dict(type="data", symmetric=False, color=colour,
                                              array=[100 * (r["high"] - r["mean"]) for r in rows],
                                              arrayminus=[100 * (r["mean"] - r["low"]) for r in rows]),
                                 hovertext=[ngettext("{n} draws", "{n} draws", len(r["errors"]))
                                            .format(n=count(len(r["errors"]))) for r in rows]))
    fig.update_xaxes(title_text=_("units deleted (chosen at random)"), dtick=1)
    fig.update_yaxes(title_text=_("test error (%)"), range=[0, 100])
    table = Table((_("net"), _("units deleted"), _("mean test error (%)"), _("lowest (%)"), _("highest (%)"),
                   _("draws")),
                  tuple((name, r["k"], round(100 * r["mean"], 3), round(100 * r["low"], 3), round(100 * r["high"], 3),
                         len(r["errors"])) for name, rows in results.items() for r in rows))
    say(fig, deletion_takeaway(results), table)
    return apply_layout(fig, _("Delete k random units: test error (mean, and the range over draws)"), height=440)


def path_landscape_chart(results: dict) -> go.Figure:
    """The loss on each net's optimiser-path plane, with the path drawn on the contours (Li et al. 2018, §7).

    Args:
        results: {net name: analysis.trajectory.path_surface result, with path["epoch"] labels}.
    Returns:
        one contour panel per net on one log10 colour scale; the path from the initial weights (○) to the
        trained ones (★), its epochs in the hover; each axis names the share of the path's variance it explains.
    """
    if not results:
        return say(empty_figure(_("The optimiser's path"), _("No path computed yet.")),
                   _("No path has been computed yet."))
    zs = {n: _log_loss(r["loss"]) for n, r in results.items()}
    finite = [v for z in zs.values() for row in z for v in row if v is not None]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    fig = make_subplots(rows=1, cols=len(results), subplot_titles=plot_texts(results), horizontal_spacing=0.08)
    for col, (name, r) in enumerate(results.items(), start=1):
        fig.add_trace(go.Contour(x=r["alpha"], y=r["beta"], z=zs[name], zmin=lo, zmax=hi, colorscale="Viridis",
                                 ncontours=20, showscale=col == len(results), colorbar=dict(title=_("log10 loss")),
                                 hovertemplate=_("a {x}, b {y}: log10 loss {z}").format(
                                     x="%{x:.3g}", y="%{y:.3g}", z="%{z:.3f}") + "<extra></extra>"),
                      row=1, col=col)
        path = r["path"]
        epochs = path.get("epoch") or list(range(len(path["alpha"])))
        fig.add_trace(go.Scatter(x=path["alpha"], y=path["beta"], mode="lines+markers",
                                 name=plot_text(_("{net}: path").format(net=name)),
                                 showlegend=False, line=dict(color="white", width=3),
                                 marker=dict(color="red", size=8, line=dict(color="white", width=1)),
                                 hovertext=[_("epoch {epoch}").format(epoch=e) for e in epochs]), row=1, col=col)
        ends = (([path["alpha"][0]], [path["beta"][0]], "circle-open", _("start")),
                ([0.0], [0.0], "star", _("trained")))
        for x, y, symbol, label in ends:
            fig.add_trace(go.Scatter(x=x, y=y, mode="markers", showlegend=False, hovertext=[label],
                                     marker=dict(symbol=symbol, size=18, color="red",
                                                 line=dict(color="white", width=2))),
                          row=1, col=col)
        share = r.get("explained") or [None, None]
        fig.update_xaxes(title_text=_pc_label(1, share[0]), row=1, col=col)
        fig.update_yaxes(title_text=_pc_label(2, share[1]), row=1, col=col)
    say(fig, *_path_words(results))
    title = _("The optimiser's path from the initial weights (○) to the trained ones (★)")
    return apply_layout(fig, title, height=540)


def _log_loss(loss: Sequence[Sequence[float | None]]) -> list[list[float | None]]:
    return [[math.log10(v) if v is not None and math.isfinite(v) and v > 0 else None for v in row] for row in loss]


def _pc_label(k: int, share: float | None) -> str:
    if share is None:
        return _("direction {k}").format(k=k)
    return _("direction {k} ({share} of the path's variance)").format(k=k, share=pct(100 * share, 0))


# ----------------------------------------------------------------------------- what each chart shows, in words
def highway_takeaway(panels: dict) -> str:
    """Per panel and net: at how many identity shortcuts the shortcut's part of the gradient beats the branch's
    (residual nets), or how the gradient at the first unit compares with the last (plain nets); from the rows drawn."""
    sentences = []
    for title, rows_by_net in panels.items():
        clauses = [_highway_clause(name, rows) for name, rows in rows_by_net.items() if rows]
        sentences.append(_("{weights}: {nets}.").format(weights=title[:1].upper() + title[1:],
                                                         nets=_("; ").join(clauses)))
    return " ".join(sentences)


def _highway_clause(name: str, rows: list) -> str:
    kinds = [r.get("kind", "identity" if r["shortcut"] > 0 else "none") for r in rows]
    if all(k == "none" for k in kinds):
        first, last = as_number(rows[0]["branch"]), as_number(rows[-1]["branch"])
        ratio = first / last if first is not None and last else None
        return _("{net}'s gradient norm is {ratio}× as large at its first unit as at its last").format(
            net=name, ratio=num(ratio, 2))
    picked = [r for r, k in zip(rows, kinds, strict=True) if k == "identity"] or \
        [r for r, k in zip(rows, kinds, strict=True) if k != "none"]
    bigger = sum(1 for r in picked if (as_number(r["shortcut"]) or 0.0) > (as_number(r["branch"]) or 0.0))
    if any(k == "identity" for k in kinds):
        # English says "shortcuts" for one too (as it always did); the plural is for languages that count otherwise
        text = ngettext("{net}'s shortcut carries more than its branch at {bigger} of its {n} identity shortcuts",
                        "{net}'s shortcut carries more than its branch at {bigger} of its {n} identity shortcuts",
                        len(picked))
    else:
        text = ngettext("{net}'s shortcut carries more than its branch at {bigger} of its {n} shortcuts",
                        "{net}'s shortcut carries more than its branch at {bigger} of its {n} shortcuts", len(picked))
    return text.format(net=name, bigger=count(bigger), n=count(len(picked)))


def _highway_table(panels: dict) -> Table:
    rows = [(title, name, r["unit"], r.get("kind", "identity" if r["shortcut"] > 0 else "none"),
             _round(r["shortcut"]), _round(r["branch"]))
            for title, rows_by_net in panels.items() for name, units in rows_by_net.items() for r in units]
    columns = (_("weights"), _("net"), _("unit"), _("shortcut"), _("through the shortcut"), _("through the branch"))
    return Table(columns, tuple(rows))


def _round(v: float | None, digits: int = 6) -> float | None:
    number = as_number(v)
    return None if number is None else float(f"{number:.{digits}g}")


def _paths_sentence(name: str, rows: list) -> str:
    """How many paths a net's units give and which lengths are commonest (Veit et al. 2016: binomial)."""
    n = len(rows) - 1
    top = max(r["share"] for r in rows)
    modes = [str(r["length"]) for r in rows if r["share"] == top]
    if len(modes) > 1:
        text = _("{net}'s {n} units give {paths} paths; the commonest lengths are {lengths} branches ({share} of the "
                 "paths each), and only one path ({one}) skips every branch.")
    else:
        text = _("{net}'s {n} units give {paths} paths; the commonest length is {lengths} branches ({share} of the "
                 "paths), and only one path ({one}) skips every branch.")
    return text.format(net=name, n=count(n), paths=count(2 ** n), lengths=listing(modes), share=pct(100 * top),
                       one=pct(100 / 2 ** n, 2))


def deletion_takeaway(results: dict) -> str:
    """Each net's mean test error with no unit, one unit and every deletable unit deleted (the chart's points)."""
    parts = []
    for name, rows in results.items():
        if len(rows) < 2:
            parts.append(_("{net} has no unit that can be deleted ({error} test error)").format(
                net=name, error=pct(100 * rows[0]["mean"]) if rows else _("no")))
            continue
        parts.append(_("{net}'s test error goes from {none} with no unit deleted to {one} with one and {all} with "
                       "all {k} (mean over the draws)").format(
            net=name, none=pct(100 * rows[0]["mean"]), one=pct(100 * rows[1]["mean"]),
            all=pct(100 * rows[-1]["mean"]), k=count(rows[-1]["k"])))
    return _("Deleting units at random, {nets}.").format(nets=_("; ").join(parts))


def _nearest(axis: Sequence[float], v: float) -> int:
    return min(range(len(axis)), key=lambda i: abs(axis[i] - v))


def _path_words(results: dict) -> tuple[str, Table]:
    """The loss at the grid point nearest the path's start (○) and its end (★), and the plane's share of the path."""
    sentences, rows = [], []
    for name, r in results.items():
        path = r["path"]
        epochs = path.get("epoch") or list(range(len(path["alpha"])))
        losses: list[float | None] = []
        for k, (a, b) in enumerate(zip(path["alpha"], path["beta"], strict=True)):
            value = as_number(r["loss"][_nearest(r["beta"], b)][_nearest(r["alpha"], a)])
            losses.append(value)
            point: Cell = _("start") if k == 0 else _("trained") if k == len(path["alpha"]) - 1 else \
                _("epoch {epoch}").format(epoch=epochs[k]) if k < len(epochs) else str(k)
            rows.append((name, point, _round(a), _round(b), _round(value)))
        share = sum(v for v in (r.get("explained") or []) if v is not None)
        sentences.append(_("On {net}'s plane the loss is {start} near the initial weights (○) and {end} near the "
                           "trained ones (★); the plane holds {share} of the path's variation.").format(
            net=name, start=num(losses[0]), end=num(losses[-1]), share=pct(100 * share, 0)))
    columns = (_("net"), _("point on the path"), _("direction {k}").format(k=1), _("direction {k}").format(k=2),
               _("loss at the nearest grid point"))
    return " ".join(sentences), Table(columns, tuple(rows))
