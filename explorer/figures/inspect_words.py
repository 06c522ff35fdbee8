"""What Inspect's charts of a net's insides show, in words and numbers: Figure 7's layer responses, the residual
branch's size next to its input, and block ablation (explorer.figures.curves draws them; explorer.figures.words
carries the words).

Every number in a takeaway is one the chart draws. Size budget: ~150 lines.
"""
from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence

from ..i18n import _, decimal, ngettext
from .style import as_number, name_style
from .words import Cell, Table, listing, num, pct, sentences

BARELY = 2.0  # points of test error: a missing unit that costs no more than this "barely" matters (as in ablation)
SMALLER = 0.9  # a net's mean response is "smaller" than another's below this fraction of it; closer is "about the same"


def _is_plain(name: str) -> bool:
    return name_style(name)[1]


# ----------------------------------------------------------------------------- Figure 7: layer responses
def responses_takeaway(responses: Mapping[str, Mapping[str, float | None]]) -> str:
    """Each net's mean response std over its 3×3 layers and its largest layer; plain against residual as in
    He et al. 2015, Figure 7 (ResNets' responses generally smaller)."""
    means: dict[str, float] = {}
    for name, stds in responses.items():
        values = [v for v in map(as_number, stds.values()) if v is not None]
        if values:
            means[name] = statistics.fmean(values)
    if not means:
        return _("No layer response was measured.")
    first = _("Averaged over the 3×3 layers, the std of the response is {values}.").format(
        values=listing([_("{value} for {net}").format(value=num(m), net=name) for name, m in means.items()]))
    peak = max(((name, layer, v) for name, stds in responses.items() for layer, v in
                ((k, as_number(x)) for k, x in stds.items()) if v is not None), key=lambda p: p[2])
    first = sentences(first, _("The largest is {net}'s {layer} ({value}).").format(net=peak[0], layer=peak[1],
                                                                                      value=num(peak[2])))
    plain = [m for n, m in means.items() if _is_plain(n)]
    residual = [m for n, m in means.items() if not _is_plain(n)]
    if not plain or not residual:
        return first
    if max(residual) < SMALLER * min(plain):
        return sentences(first, _("The residual net's responses are smaller, as in Figure 7 of He et al. 2015."))
    if max(residual) <= min(plain):
        return sentences(first, _("The two are within {share} of each other: here the residual net's responses are "
                                  "not clearly smaller, as they were in Figure 7 of He et al. 2015.").format(
            share=pct(100 * (1 - SMALLER), 0)))
    return sentences(first, _("Here the residual net's responses are larger than the plain net's, unlike Figure 7 of "
                              "He et al. 2015."))


def responses_table(responses: Mapping[str, Mapping[str, float | None]]) -> Table:
    """One row per net and 3×3 layer: its place in the net, its std and its rank by size within the net."""
    rows: list[tuple[Cell, ...]] = []
    for name, stds in responses.items():
        values = [as_number(v) for v in stds.values()]
        size = [v if v is not None else float("-inf") for v in values]
        order = sorted(range(len(values)), key=lambda i: -size[i])
        rank = {i: r + 1 for r, i in enumerate(order)}
        rows += [(name, i + 1, layer, values[i], rank[i]) for i, layer in enumerate(stds)]
    return Table((_("net"), _("order"), _("3×3 layer"), _("std of the response"), _("rank by size")), tuple(rows))


# ----------------------------------------------------------------------------- the residual branch's size
def branch_ratio_takeaway(latest: Mapping[str, tuple[bool, Mapping[str, float | None]]]) -> str:
    """Per net: the median ‖F(x)‖/‖x‖ of its units and the largest (a plain unit: ‖out‖/‖in‖), from {net name:
    (plain, {unit: ratio})} as the chart draws them (He et al. 2015, §4.2: residual functions tend to stay small)."""
    parts = []
    for name, (plain, ratios) in latest.items():
        values = {u: v for u, v in ((u, as_number(x)) for u, x in ratios.items()) if v is not None}
        if not values:
            continue
        top = max(values, key=lambda u: values[u])
        part = _("in {net} (no F(x)) ‖out‖/‖in‖ has a median of {median}, at most {most} at {unit}") if plain else \
            _("in {net} ‖F(x)‖/‖x‖ has a median of {median}, at most {most} at {unit}")
        parts.append(part.format(net=name, median=num(statistics.median(values.values())), most=num(values[top]),
                                 unit=top))
    if not parts:
        return _("No branch ratios were recorded.")
    text = _("; ").join(parts)
    return _("{parts}.").format(parts=text[:1].upper() + text[1:])


def branch_ratio_table(latest: Mapping[str, tuple[bool, Mapping[str, float | None]]]) -> Table:
    rows = tuple((name, unit, "‖out‖/‖in‖" if plain else "‖F(x)‖/‖x‖", as_number(v))
                 for name, (plain, ratios) in latest.items() for unit, v in ratios.items())
    return Table((_("net"), _("unit"), _("ratio"), _("value")), rows)


# ----------------------------------------------------------------------------- block ablation
def _skips(rows: Sequence[Mapping]) -> tuple[float | None, list[tuple[str, float]], int]:
    """(baseline error %, [(unit, error % without it)] for the units that can be skipped, units that cannot)."""
    base = as_number(rows[0].get("error")) if rows else None
    units = [r for r in rows if r.get("unit") is not None]
    errors = [(str(r["unit"]), 100 * e) for r in units if (e := as_number(r.get("error"))) is not None]
    return (None if base is None else 100 * base), errors, sum(1 for r in units if not r.get("skippable"))


def ablation_takeaway(results: Mapping[str, Sequence[Mapping]]) -> str:
    """How much skipping one unit costs each net at worst, and what the median unit costs, plain against residual
    (Veit, Wilber & Belongie 2016: most blocks of a trained ResNet barely matter; a plain net collapses)."""
    parts, medians = [], {}
    for name, rows in results.items():
        base, errors, stuck = _skips(rows)
        if base is None or not errors:
            parts.append(_("{net}'s test error nowhere (none of its units can be skipped)").format(net=name))
            continue
        unit, worst = max(errors, key=lambda p: p[1])
        medians[name] = statistics.median(e - base for _x, e in errors)
        where = ngettext("{unit}; {n} unit cannot be skipped", "{unit}; {n} units cannot be skipped", stuck).format(
            unit=unit, n=stuck) if stuck else unit
        parts.append(_("{net}'s test error from {base} to at most {worst} ({where})").format(
            net=name, base=pct(base), worst=pct(worst), where=where))
    text = _("Skipping one unit takes {parts}.").format(parts=_("; ").join(parts))
    plain = {n: m for n, m in medians.items() if _is_plain(n)}
    residual = {n: m for n, m in medians.items() if not _is_plain(n)}
    if not plain or not residual:
        return text
    (r_name, r_med), (p_name, p_med) = max(residual.items(), key=lambda p: p[1]), min(plain.items(), key=lambda p: p[1])
    if r_med >= p_med:
        costs = _("The median unit costs {residual} {residual_points} points and {plain} {plain_points}: no less for "
                  "the residual net, unlike Veit et al. 2016's ResNets.")
    elif r_med <= BARELY < p_med:
        costs = _("The median unit costs {residual} {residual_points} points and {plain} {plain_points}: most blocks "
                  "barely matter to the residual net, as Veit et al. 2016 found.")
    else:
        costs = _("The median unit costs {residual} {residual_points} points and {plain} {plain_points}: less for "
                  "the residual net, as Veit et al. 2016 found, though not barely.")
    return sentences(text, costs.format(residual=r_name, residual_points=decimal(r_med, 1), plain=p_name,
                                        plain_points=decimal(p_med, 1)))


def ablation_table(results: Mapping[str, Sequence[Mapping]]) -> Table:
    """One row per net and unit removed (first: nothing removed): its test error and the change in points."""
    rows: list[tuple[Cell, ...]] = []
    for name, units in results.items():
        base = as_number(units[0].get("error")) if units else None
        for r in units:
            e = as_number(r.get("error"))
            change = None if e is None or base is None else round(100 * (e - base), 3)
            rows.append((name, r.get("unit") or _("nothing removed"), _("yes") if r.get("skippable") else _("no"),
                         None if e is None else round(100 * e, 3), change))
    return Table((_("net"), _("unit removed"), _("can be skipped"), _("test error (%)"), _("change (points)")),
                 tuple(rows))
