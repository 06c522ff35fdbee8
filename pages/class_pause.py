"""The teacher's Pause / Go on control on the Class page (explorer.classroom.pause decides what a pause holds;
the job manager holds the queue). Asked through the access policy (Action.PAUSE)."""
from __future__ import annotations

import time

import streamlit as st

from explorer.access.policy import Action
from explorer.classroom import pause
from pages.common import classroom, may

RUNNING_CHOICES = {False: "let running jobs finish", True: "stop running jobs (what they reached is kept)"}


def pause_controls(info) -> None:
    """Pause the class (choosing what happens to running jobs) or let it go on; one sentence says the state."""
    if not may(Action.PAUSE, class_id=info.id):
        return
    room = classroom()
    now = pause.paused(room, info.id)
    with st.container(border=True, key="class_pause_box"):
        if now is not None:
            since = time.strftime("%H:%M", time.localtime(now.paused))
            st.markdown(f"**The class is paused** since {since}: students start no runs, their queued runs wait, and "
                        f"running ones {'are stopped' if now.stop_running else 'may finish'}.")
            st.button("Go on (resume the class)", key="class_resume", type="primary", on_click=pause.resume,
                      args=(room, info.id), help="Students may start runs again; the held runs start.")
            return
        c = st.columns([3, 1], vertical_alignment="bottom")
        stop = c[0].radio("When pausing, running jobs", list(RUNNING_CHOICES), key="class_pause_stop",
                          format_func=RUNNING_CHOICES.get, horizontal=True)
        c[1].button("Pause the class", key="class_pause", on_click=pause.pause, args=(room, info.id, bool(stop)),
                    help="Students' start buttons are disabled with one sentence; queued runs wait until you go on.")
