"""Follow the class, on every page of a class member: about once a second one query (explorer.classroom.follow)
says whether the teacher moved the class to a lesson (the member is taken to it, or offered one click when a run
of theirs is mid-way on Train) or paused it (the page runs again, so its start buttons are disabled with one
sentence). Lone users get no timer at all.

Widget state: pages keep their choices under non-widget keys (pages.common), so a move loses nothing typed.
"""
from __future__ import annotations

import streamlit as st

from explorer.classroom.follow import ClassState, class_state, next_move
from explorer.classroom.lessons import lesson
from explorer.classroom.pause import PAUSED_SENTENCE
from explorer.i18n import _
from explorer.store.records import ACTIVE
from pages.common import classroom, store

FOLLOW_EVERY_S = 1.0  # the teacher's move reaches a student within this and a page run (the issue asks 2 s)
_SEEN = "_class_seen"  # the ClassState this session last acted on
_OFFER = "_class_offer"  # a lesson the member is offered (their run is mid-way)
LESSONS_PAGE = "pages/lessons.py"
LESSONS, TRAIN = "lessons", "train"  # their url paths


def follow_class(url_path: str) -> None:
    """Called by the entry script on every page run, before the page: read the member's class state once, and for
    a member run the follow timer. `url_path` is the page about to run ("train", "lessons", ...)."""
    ss = st.session_state
    state = class_state(classroom(), ss["owner"])
    ss["_class_paused"] = bool(state and state.paused)
    if state is None:
        ss.pop(_SEEN, None)
        return
    if url_path == LESSONS:
        ss.pop(_OFFER, None)
    ss["_class_fresh"] = state  # the fragment's first run, inside this page run, reads it instead of asking again
    st.fragment(_follow, run_every=FOLLOW_EVERY_S)(url_path)


def _busy(url_path: str) -> bool:
    """A run of this member's is mid-way on the page they look at (Train, watching an active job)."""
    watch = st.session_state.get("watch")
    if url_path != TRAIN or not watch:
        return False
    job = store().load_experiment(watch, with_runs=False)
    return job is not None and job.status in ACTIVE


def _follow(url_path: str) -> None:
    ss = st.session_state
    full_run = "_class_fresh" in ss  # the page runs in full below: a changed pause needs no extra run
    state: ClassState | None = ss.pop("_class_fresh") if full_run else class_state(classroom(), ss["owner"])
    seen = ss.get(_SEEN)
    ss[_SEEN] = state
    move = next_move(seen, state, on_lessons=url_path == LESSONS,
                     busy=_busy(url_path) if state is not None and state.lesson else False)
    if move is not None and move.lesson is not None and move.go:
        ss.pop(_OFFER, None)
        st.switch_page(LESSONS_PAGE, query_params=st.query_params.to_dict())
    if move is not None and move.lesson is not None:
        ss[_OFFER] = move.lesson
    if move is not None and move.rerun and not full_run:
        st.rerun(scope="app")
    _offer()


def _offer() -> None:
    """One click to follow the class to its lesson, while the member's run goes on."""
    key = st.session_state.get(_OFFER)
    if not key:
        return
    try:
        title = lesson(key).title
    except ValueError:
        return
    with st.container(border=True, key="follow_offer_box"):
        c = st.columns([4, 1], vertical_alignment="center")
        c[0].markdown(_("Your teacher moved the class to **{lesson}**; your run goes on while you follow.").format(
            lesson=title))
        if c[1].button(_("Follow the class"), key="follow_go", type="primary"):
            st.session_state.pop(_OFFER, None)
            st.switch_page(LESSONS_PAGE, query_params=st.query_params.to_dict())


def class_paused() -> bool:
    """Whether this session's class is paused now (read once per page run by follow_class)."""
    return bool(st.session_state.get("_class_paused"))


def pause_note() -> bool:
    """Where a page starts jobs: while the class is paused, one sentence; returns whether starts are disabled."""
    if not class_paused():
        return False
    st.info(_(PAUSED_SENTENCE))
    return True
