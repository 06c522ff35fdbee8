"""The teacher's Pause / Go on control on the Class page (explorer.classroom.pause decides what a pause holds;
the job manager holds the queue). Asked through the access policy (Action.PAUSE)."""
from __future__ import annotations

import time

import streamlit as st

from explorer.access.policy import Action
from explorer.classroom import pause
from explorer.i18n import N_, _
from pages.common import classroom, may

RUNNING_CHOICES = {False: N_("let running jobs finish"), True: N_("stop running jobs (what they reached is kept)")}


def pause_controls(info) -> None:
    """Pause the class (choosing what happens to running jobs) or let it go on; one sentence says the state."""
    if not may(Action.PAUSE, class_id=info.id):
        return
    room = classroom()
    now = pause.paused(room, info.id)
    with st.container(border=True, key="class_pause_box"):
        if now is not None:
            since = time.strftime("%H:%M", time.localtime(now.paused))
            st.markdown((_("**The class is paused** since {time}: students start no runs, their queued runs wait, "
                           "and running ones are stopped.") if now.stop_running else
                         _("**The class is paused** since {time}: students start no runs, their queued runs wait, "
                           "and running ones may finish.")).format(time=since))
            st.button(_("Go on (resume the class)"), key="class_resume", type="primary", on_click=pause.resume,
                      args=(room, info.id), help=_("Students may start runs again; the held runs start."))
            return
        c = st.columns([3, 1], vertical_alignment="bottom")
        stop = c[0].radio(_("When pausing, running jobs"), list(RUNNING_CHOICES), key="class_pause_stop",
                          format_func=lambda v: _(RUNNING_CHOICES[v]), horizontal=True)
        c[1].button(_("Pause the class"), key="class_pause", on_click=pause.pause, args=(room, info.id, bool(stop)),
                    help=_("Students' start buttons are disabled with one sentence; queued runs wait until you go "
                           "on."))
