"""What Inspect's charts of a net's insides show, in words and numbers: Figure 7's layer responses, the residual
branch's size next to its input, and block ablation (explorer.figures.curves draws them; explorer.figures.words
carries the words).

Every number in a takeaway is one the chart draws. Size budget: ~150 lines.
"""
from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence

from .style import as_number, name_style
from .words import Cell, Table, listing, num, pct

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
        return "No layer response was measured."
    first = ("Averaged over the 3×3 layers, the std of the response is "
             + listing([f"{num(m)} for {name}" for name, m in means.items()]) + ".")
    peak = max(((name, layer, v) for name, stds in responses.items() for layer, v in
                ((k, as_number(x)) for k, x in stds.items()) if v is not None), key=lambda p: p[2])
    first += f" The largest is {peak[0]}'s {peak[1]} ({num(peak[2])})."
    plain = [m for n, m in means.items() if _is_plain(n)]
    residual = [m for n, m in means.items() if not _is_plain(n)]
    if not plain or not residual:
        return first
    if max(residual) < SMALLER * min(plain):
        return first + " The residual net's responses are smaller, as in Figure 7 of He et al. 2015."
    if max(residual) <= min(plain):
        return first + (f" The two are within {100 * (1 - SMALLER):.0f}% of each other: here the residual net's "
                        "responses are not clearly smaller, as they were in Figure 7 of He et al. 2015.")
    return first + " Here the residual net's responses are larger than the plain net's, unlike Figure 7 of " \
                   "He et al. 2015."


def responses_table(responses: Mapping[str, Mapping[str, float | None]]) -> Table:
    """One row per net and 3×3 layer: its place in the net, its std and its rank by size within the net."""
    rows: list[tuple[Cell, ...]] = []
    for name, stds in responses.items():
        values = [as_number(v) for v in stds.values()]
        size = [v if v is not None else float("-inf") for v in values]
        order = sorted(range(len(values)), key=lambda i: -size[i])
        rank = {i: r + 1 for r, i in enumerate(order)}
        rows += [(name, i + 1, layer, values[i], rank[i]) for i, layer in enumerate(stds)]
    return Table(("net", "order", "3×3 layer", "std of the response", "rank by size"), tuple(rows))


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
        what = "(no F(x)) ‖out‖/‖in‖" if plain else "‖F(x)‖/‖x‖"
        parts.append(f"in {name} {what} has a median of {num(statistics.median(values.values()))}, at most "
                     f"{num(values[top])} at {top}")
    if not parts:
        return "No branch ratios were recorded."
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "."


def branch_ratio_table(latest: Mapping[str, tuple[bool, Mapping[str, float | None]]]) -> Table:
    rows = tuple((name, unit, "‖out‖/‖in‖" if plain else "‖F(x)‖/‖x‖", as_number(v))
                 for name, (plain, ratios) in latest.items() for unit, v in ratios.items())
    return Table(("net", "unit", "ratio", "value"), rows)


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
        cannot = f"; {stuck} unit{'s' if stuck != 1 else ''} cannot be skipped" if stuck else ""
        if base is None or not errors:
            parts.append(f"{name}'s test error nowhere (none of its units can be skipped)")
            continue
        unit, worst = max(errors, key=lambda p: p[1])
        medians[name] = statistics.median(e - base for _, e in errors)
        parts.append(f"{name}'s test error from {pct(base)} to at most {pct(worst)} ({unit}{cannot})")
    text = "Skipping one unit takes " + "; ".join(parts) + "."
    plain = {n: m for n, m in medians.items() if _is_plain(n)}
    residual = {n: m for n, m in medians.items() if not _is_plain(n)}
    if not plain or not residual:
        return text
    (r_name, r_med), (p_name, p_med) = max(residual.items(), key=lambda p: p[1]), min(plain.items(), key=lambda p: p[1])
    costs = f" The median unit costs {r_name} {r_med:.1f} points and {p_name} {p_med:.1f}"
    if r_med >= p_med:
        return text + costs + ": no less for the residual net, unlike Veit et al. 2016's ResNets."
    if r_med <= BARELY < p_med:
        return text + costs + ": most blocks barely matter to the residual net, as Veit et al. 2016 found."
    return text + costs + ": less for the residual net, as Veit et al. 2016 found, though not barely."


def ablation_table(results: Mapping[str, Sequence[Mapping]]) -> Table:
    """One row per net and unit removed (first: nothing removed): its test error and the change in points."""
    rows: list[tuple[Cell, ...]] = []
    for name, units in results.items():
        base = as_number(units[0].get("error")) if units else None
        for r in units:
            e = as_number(r.get("error"))
            change = None if e is None or base is None else round(100 * (e - base), 3)
            rows.append((name, r.get("unit") or "nothing removed", "yes" if r.get("skippable") else "no",
                         None if e is None else round(100 * e, 3), change))
    return Table(("net", "unit removed", "can be skipped", "test error (%)", "change (points)"), tuple(rows))
