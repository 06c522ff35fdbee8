"""The Class page's debrief (teacher, Action.DEBRIEF): one self-contained HTML page to keep (the class's Figure 6,
each question's predictions against the runs, the snapshots, the lessons) and a CSV of predictions and outcomes per
pseudonymous student. Both are made when the button is clicked (deferred), from explorer.classroom.debrief."""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import plotly.graph_objects as go
import streamlit as st

from explorer.access.policy import Action
from explorer.classroom.debrief import csv_text, gather
from explorer.classroom.records import ClassInfo
from explorer.figures.debrief import debrief_html
from explorer.figures.screen import debrief_snapshots
from explorer.i18n import _, current, using
from pages.common import classroom, may


def _class_snapshots(class_id: str) -> Sequence[tuple[str, go.Figure]]:
    """The snapshots the teacher pushed to the class screen, as (title, figure), under pseudonyms."""
    return debrief_snapshots(classroom(), class_id)


def debrief_downloads(info: ClassInfo,
                      snapshots: Callable[[str], Sequence[tuple[str, go.Figure]]] = _class_snapshots) -> None:
    """Two downloads, made on the click: the debrief page (HTML, opens with no network) and the CSV."""
    if not may(Action.DEBRIEF, class_id=info.id):
        return
    room, class_id, day = classroom(), info.id, time.strftime("%Y-%m-%d")  # the callables run on another thread
    lang = current()  # ... where no session is: they write in this reader's language

    def page() -> str:
        with using(lang):
            return debrief_html(gather(room, class_id), snapshots(class_id))

    def table() -> str:
        with using(lang):
            return csv_text(gather(room, class_id))
    st.markdown(_("**At the end: a debrief to keep**"))
    c = st.columns(2)
    c[0].download_button(_("Download the debrief (HTML)"), key="class_debrief_html", mime="text/html",
                         file_name=f"debrief-{info.code}-{day}.html", on_click="ignore", type="primary",
                         data=page,
                         help=_("One page that opens in any browser with no network: the class's Figure 6, each "
                                "question's predictions against the runs, the snapshots and the lessons. Students "
                                "appear under their pseudonyms."))
    c[1].download_button(_("Download predictions and outcomes (CSV)"), key="class_debrief_csv", mime="text/csv",
                         file_name=f"predictions-{info.code}-{day}.csv", on_click="ignore",
                         data=table,
                         help=_("One row per student (by pseudonym) and question: the prediction and their own "
                                "runs' final errors."))
