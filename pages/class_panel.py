"""The class panel on every page: a class link's Join box, the caption saying which class this session is in, with a
button to leave it, and the "Predict first" box that stands where results are hidden (explorer.classroom.gating).
Membership only: a class link grants no rights (explorer.access.policy)."""
from __future__ import annotations

import streamlit as st

from explorer.classroom.gating import Gate
from explorer.classroom.records import ClassError
from explorer.i18n import _
from explorer.text import plain_text
from pages.common import classroom, my_class


def join_panel() -> None:
    """A class link (?join=CODE) asks for a display name and joins; a closed or unknown class gets one sentence."""
    if "join_problem" in st.session_state:
        st.warning(st.session_state.pop("join_problem"))

    code = st.session_state.get("join_code")
    if not code:
        return
    info = classroom().find(code)
    if info is None or not info.is_open:
        st.warning(_("This class has been closed by its teacher, so it takes no new members.") if info is not None
                   else _("There is no class with that code; check it with your teacher."))
        st.session_state.pop("join_code", None)
        return
    mine = my_class()
    if mine is not None and mine[0].id == info.id:
        st.session_state.pop("join_code", None)
        return
    with st.container(border=True):
        st.markdown(_("**Join the class {name}** (code {code}). Your name is shown to the teacher only.")
                    .format(name=plain_text(info.name), code=info.code))
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        c1.text_input(_("Your name (or leave empty to be \"Student N\")"), max_chars=40, key="sidebar_join_name",
                      autocomplete="nickname")
        c2.button(_("Join the class"), key="sidebar_join", type="primary", on_click=_join, args=(info.code,))


def _join(code: str) -> None:
    """The Join button's callback: membership before the page runs, so it already shows the class."""
    try:
        classroom().join(code, st.session_state["owner"], st.session_state.get("sidebar_join_name", ""))
    except ClassError as exc:
        st.session_state["join_problem"] = str(exc)
    st.session_state.pop("join_code", None)


def class_caption() -> None:
    """Above every page: which class this session is in, as whom, and a button to leave it."""
    mine = my_class()
    if mine is None:
        if "class_notice" in st.session_state:
            st.info(st.session_state.pop("class_notice"))
        return
    c = st.columns([5, 1], vertical_alignment="center")
    c[0].caption(_("In class {name} ({code}) as {member}.").format(name=plain_text(mine[0].name), code=mine[0].code,
                                                                    member=plain_text(mine[1].name)))
    c[1].button(_("Leave the class"), key="member_leave", on_click=_leave, args=(mine[0].id,),
                help=_("You become a lone user again; the class's code lets you join again while it is open."))


def _leave(class_id: str) -> None:
    classroom().leave(class_id, st.session_state["owner"])
    st.session_state["class_notice"] = _("You left the class; your experiments are still yours.")


# ----------------------------------------------------------------------------- predict, then observe
def predict_first(gate: Gate, prefix: str) -> None:
    """Where results are hidden: why, in one sentence, and, when this student can answer, the question with one
    Submit (widgets keyed `<prefix>_answer_...`); answering shows the results on the next run of the page."""
    question = gate.question
    with st.container(border=True):
        st.markdown(f"**{gate.title}** {gate.sentence}")
        if not gate.answerable:
            return
        st.markdown(f"**{plain_text(question.prompt)}**")
        if question.is_number:
            st.text_input(_("Your answer (a number)"), max_chars=40, key=f"{prefix}_answer_number")
        else:
            st.radio(_("Your answer"), list(question.choices), index=None, key=f"{prefix}_answer_choice",
                     format_func=plain_text)  # a choice the teacher typed: radio options read markdown
        st.button(_("Submit my prediction"), key=f"{prefix}_answer_submit", type="primary", on_click=_answer,
                  args=(question, prefix))
        if f"{prefix}_answer_problem" in st.session_state:
            st.warning(st.session_state.pop(f"{prefix}_answer_problem"))


def _answer(question, prefix: str) -> None:
    """Submit's callback: the answer is kept before the page runs again, which then shows the results."""
    from explorer.classroom import questions
    value = st.session_state.get(f"{prefix}_answer_number" if question.is_number else f"{prefix}_answer_choice")
    try:
        questions.answer(classroom(), question, st.session_state["owner"], value)
    except ClassError as exc:
        st.session_state[f"{prefix}_answer_problem"] = str(exc)
