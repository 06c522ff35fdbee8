"""Live views that space their redraws by how many sessions of this server are watching (explorer.jobs.watching).

`live_fragment(func, base_s)` runs `func` as a Streamlit fragment redrawn every `live_every(base_s)` seconds:
base_s while few sessions watch, longer as more do, so that all live views of one server together cost it about
EXPLORER_LIVE_BUDGET_CORES (default 0.3 cores). When the count moves enough to change a session's interval, that
session's page runs once in full to take the new one (a fragment's timer is set when the page runs).
"""
from __future__ import annotations

import secrets

import streamlit as st

from explorer.i18n import _, count, num
from explorer.jobs.watching import LiveWatchers, budget_cores


@st.cache_resource
def watchers() -> LiveWatchers:
    """One count of live sessions per server process."""
    return LiveWatchers()


def _session() -> str:
    return st.session_state.setdefault("_live_session", secrets.token_hex(8))


def live_every(base_s: float = 1.0) -> float:
    """This session's redraw interval now (and it counts as watching)."""
    return watchers().interval(_session(), budget_cores(), base_s)


def stop_watching() -> None:
    """This session no longer watches live (its job ended)."""
    watchers().gone(_session())


def _shown_key(func) -> str:
    """Where the interval of func's fragment timer is kept for this session."""
    return f"_live_every_{func.__name__}"


def live_caption(func) -> None:
    """Say why func's live view redraws less often than once a second, when it does."""
    every = st.session_state.get(_shown_key(func), 1.0)
    if every > 1.0:
        st.caption(_("Live: redrawn every {seconds} s while {n} sessions watch this server (keeps it responsive for "
                     "everyone).").format(seconds=num(every, 6), n=count(watchers().count())))


def live_fragment(func, base_s: float = 1.0):
    """`func` as a fragment with this session's interval; call the result with func's arguments."""
    every = live_every(base_s)
    st.session_state[_shown_key(func)] = every

    def redraw(*args, **kwargs):
        now = live_every(base_s)
        shown = st.session_state.get(_shown_key(func), every)
        if now >= 1.5 * shown or now <= shown / 1.5:
            st.rerun()  # the whole page, once: the fragment's timer takes the new interval
        return func(*args, **kwargs)
    redraw.__name__ = redraw.__qualname__ = f"live_{func.__name__}"
    redraw.__module__ = func.__module__
    return st.fragment(redraw, run_every=every)
