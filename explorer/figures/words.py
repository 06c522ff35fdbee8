"""Words and numbers for every chart (issue 23): a takeaway computed from the chart's data, and the table behind it.

A figure builder says what its chart shows with `say(fig, takeaway)`; the sentence travels in the figure's
`layout.meta`, so a cached figure keeps it and every page draws it the same way (pages.display.plot: the chart's
accessible name, a visible caption, "Show as table"). `words_of(fig)` reads it back with the table; a figure with
no takeaway is a bug (`MissingWords`), caught by every AppTest that draws it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go

# The sentence parts the builders share are explorer.i18n's (numbers, lists and sentences the reader's way).
from ..i18n import _, listing, num, pct, sentences  # noqa: F401 - re-exported for the figure builders

Cell = str | float | int | None
MAX_TABLE_ROWS = 2000  # a table past this says how many rows it left out (a 56-layer x 30-epoch heatmap is 1,680)
_META = "explorer_words"


class MissingWords(ValueError):
    """A chart drawn without a takeaway: every figure builder must `say` what its chart shows."""


@dataclass(frozen=True)
class Table:
    """The numbers behind a chart: column names and rows (plain values; None is a gap)."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    left_out: int = 0  # rows past MAX_TABLE_ROWS, not shown

    def as_dict(self) -> dict[str, list[Cell]]:
        """{column: values}: what st.dataframe takes."""
        return {c: [r[i] for r in self.rows] for i, c in enumerate(self.columns)}


@dataclass(frozen=True)
class ChartWords:
    """What a chart shows in words (one or two sentences) and in numbers."""

    takeaway: str
    table: Table


def say(fig: go.Figure, takeaway: str, table: Table | None = None) -> go.Figure:
    """Attach the chart's takeaway (and, when the traces' own numbers are not the right table, a table) to `fig`.

    Returns the same figure, so a builder can `return say(fig, ...)`.
    """
    if not takeaway.strip():
        raise MissingWords("A chart's takeaway cannot be empty.")
    meta = dict(fig.layout.meta) if isinstance(fig.layout.meta, dict) else {}
    meta[_META] = {"takeaway": takeaway.strip(),
                   "table": None if table is None else {"columns": list(table.columns),
                                                        "rows": [list(r) for r in table.rows],
                                                        "left_out": table.left_out}}
    fig.update_layout(meta=meta)
    return fig


def has_words(fig: go.Figure) -> bool:
    return isinstance(fig.layout.meta, dict) and _META in fig.layout.meta


def words_of(fig: go.Figure, strict: bool = True) -> ChartWords:
    """The chart's takeaway and table (its own table, else one made from its traces: `figure_table`).

    strict=False (only while figures are being given words) falls back to the chart's title as its takeaway.
    """
    if not has_words(fig) and not strict:
        return ChartWords(str(fig.layout.title.text or _("A chart.")), figure_table(fig))
    if not has_words(fig):
        title = fig.layout.title.text or "a chart"
        raise MissingWords(f"{title!r} has no takeaway: its builder must call explorer.figures.words.say.")
    meta = fig.layout.meta[_META]
    given = meta.get("table")
    table = figure_table(fig) if given is None else Table(tuple(given["columns"]),
                                                          tuple(tuple(r) for r in given["rows"]),
                                                          int(given.get("left_out", 0)))
    return ChartWords(meta["takeaway"], table)


def without_words(fig: go.Figure) -> go.Figure:
    """A copy of `fig` without the words in its meta (they go to the page as text, not to the browser twice)."""
    if not has_words(fig):
        return fig
    out = go.Figure(fig)
    meta = {k: v for k, v in fig.layout.meta.items() if k != _META}
    out.layout.meta = meta or None
    return out


# ----------------------------------------------------------------------------- the table behind a chart
def _cell(v: Any) -> Cell:
    if v is None or isinstance(v, (str, int)):
        return v
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    return None if math.isnan(f) else round(f, 6)


def _values(arr: Any) -> list[Any]:
    if arr is None:
        return []
    return list(arr.tolist() if hasattr(arr, "tolist") else arr)


def figure_table(fig: go.Figure) -> Table:
    """The numbers a figure draws, one row per point: lines and bars as (series, x, y), heatmaps as (panel, row,
    column, value), images as (panel, image, label). Used when a builder gives no table of its own."""
    kinds = {t.type for t in fig.data}
    rows: list[tuple[Cell, ...]] = []
    if kinds <= {"scatter", "bar", "scattergl"}:
        columns: tuple[str, ...] = (_("series"), _axis_title(fig, "x") or "x", _axis_title(fig, "y") or "y")
        for t in fig.data:
            if t.name is None and t.showlegend is False and t.mode == "markers" and t.hoverinfo == "skip":
                continue  # a decoration (a marker of the last point), not data
            xs, ys = _values(t.x), _values(t.y)  # under their own axes' titles, whichever way bars lie
            rows += [(_cell(t.name), _cell(x), _cell(y)) for x, y in zip(xs, ys, strict=False)]
    elif "heatmap" in kinds:
        columns = (_("panel"), _axis_title(fig, "y") or _("row"), _axis_title(fig, "x") or _("column"),
                   _("value"))
        for t in fig.data:
            if t.type != "heatmap":
                continue
            z = _values(t.z)
            ys, xs = _values(t.y), _values(t.x)
            for i, line in enumerate(z):
                for j, v in enumerate(_values(line)):
                    rows.append((_cell(t.name), _cell(ys[i] if i < len(ys) else i),
                                 _cell(xs[j] if j < len(xs) else j), _cell(v)))
    elif "surface" in kinds:
        columns = (_("surface"), "α", "β", _("loss"))
        for t in fig.data:
            if t.type != "surface":
                continue  # a marker (the trained weights' ★) on the surface, not a grid
            z, xs, ys = _values(t.z), _values(t.x), _values(t.y)
            for i, line in enumerate(z):
                for j, v in enumerate(_values(line)):
                    rows.append((_cell(t.name), _cell(xs[j] if j < len(xs) else j),
                                 _cell(ys[i] if i < len(ys) else i), _cell(v)))
    else:  # images: which is which (their pixels are not a table anyone reads)
        columns = (_("panel"), _("image"))
        titles = [a.text for a in fig.layout.annotations or ()]
        images = [t for t in fig.data if t.type == "image"]
        rows = [(i + 1, _cell(titles[i] if i < len(titles) else None)) for i in range(len(images))]
    left_out = max(0, len(rows) - MAX_TABLE_ROWS)
    return Table(columns, tuple(rows[:MAX_TABLE_ROWS]), left_out)


def _axis_title(fig: go.Figure, axis: str) -> str | None:
    layout_axis = getattr(fig.layout, f"{axis}axis", None)
    text = layout_axis.title.text if layout_axis is not None and layout_axis.title is not None else None
    return text or None
