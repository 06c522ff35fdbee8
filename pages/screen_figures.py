"""The class screen's figures, built once per change of their data and shared by every screen of the server (the
Class page warms a snapshot's when the teacher pushes it, so the screen only draws it)."""
from __future__ import annotations

from typing import Any

import streamlit as st

from explorer.classroom import screen as S
from explorer.figures.classroom import class_chart
from explorer.figures.screen import for_screen, snapshot_figure
from explorer.i18n import _
from pages.common import classroom

CHART_PX = 880  # a chart's height: the heading and the chart fit 1080 px with no scrolling


def snapshot_view(class_id: str, snapshot_id: str, names: bool, lang: str) -> tuple[Any, str]:
    """(the snapshot's figure for the screen, its takeaway) in the language `lang`: three small queries, the figure
    from the cache unless one of its runs has new epochs."""
    room = classroom()
    snap = S.snapshot(room, class_id, snapshot_id)
    version = S.snapshot_version(room, snap) if snap is not None else ()
    return _snapshot_chart(class_id, snapshot_id, names, version, lang)


@st.cache_resource(max_entries=16, show_spinner=False)
def _snapshot_chart(class_id: str, snapshot_id: str, names: bool, version: tuple, lang: str) -> tuple[Any, str]:
    room = classroom()
    snap = S.snapshot(room, class_id, snapshot_id)
    panels = S.snapshot_panels(room, snap, S.screen_labels(room, class_id, names)) if snap else []
    title = _("Snapshot: {runs}").format(runs=" vs ".join(p.label for p in panels)) if panels else _("Snapshot")
    figure = for_screen(snapshot_figure(panels, snap.layout if snap else "side", title), CHART_PX)
    return figure, S.snapshot_takeaway(panels)


@st.cache_resource(max_entries=16, show_spinner=False)
def figure6_view(class_id: str, finished: tuple[str, ...], lang: str) -> tuple[Any, str | None]:
    """The class's Figure 6 for the screen and its scale sentence (in `lang`), rebuilt only when another of its
    sweeps finishes."""
    figure, scale = class_chart(classroom(), class_id, finished)
    return for_screen(figure, CHART_PX - 60), scale


@st.cache_resource(max_entries=32, show_spinner=False)
def tally_view(counts: tuple[tuple[str, int], ...], lang: str) -> Any:
    """A revealed question's tally for the screen, built once per set of counts (and language)."""
    from explorer.figures.classroom import tally_chart
    return for_screen(tally_chart(counts, _("The class's predictions")), CHART_PX - 100)
