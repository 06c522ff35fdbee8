"""A teacher-made lesson on the students' Lessons page (explorer.classroom.authoring): its question, a prediction kept
with the class (it answers the lesson's class question, so the experiment's results show once it is in), and Run it,
which opens the lesson's setup with its locked and hidden controls, as the lesson's link does."""
from __future__ import annotations

import streamlit as st

from explorer import urlstate
from explorer.classroom import authoring, questions
from explorer.classroom.authoring import TeacherLesson
from explorer.classroom.records import ClassError, ClassInfo, Member
from explorer.data.config import DataConfig
from explorer.i18n import _
from explorer.text import plain_text
from pages.common import classroom, train_cfg
from pages.job_actions import start_experiment


def own_lessons(mine: tuple[ClassInfo, Member] | None) -> dict[str, TeacherLesson]:
    """{Lessons page key: lesson}: the class's own lessons, and the one this session's link named (one or two
    queries). The linked one is picked once, the first time it is offered."""
    room, ss = classroom(), st.session_state
    found = {x.key: x for x in authoring.class_lessons(room, mine[0].id)} if mine is not None else {}
    linked = ss.get("lesson_link_id")
    if linked:
        lesson = next((x for x in found.values() if x.id == linked), None) or authoring.get_lesson(room, linked)
        if lesson is not None:
            found.setdefault(lesson.key, lesson)
            if not ss.get("_lesson_link_picked"):
                ss["lessons_pick"], ss["_lesson_link_picked"] = lesson.key, True
    return found


def _prediction(lesson: TeacherLesson, mine: tuple[ClassInfo, Member] | None) -> str | None:
    """The student's prediction: kept with the class when they are in the lesson's class, else in this session."""
    ss, key = st.session_state, f"lessons_own_{lesson.id}"
    member = mine is not None and mine[0].id == lesson.class_id
    kept = questions.my_answer(classroom(), authoring.gate_id(lesson.class_id, lesson.id), ss["owner"]) \
        if member else None
    if kept is not None:
        st.markdown(_("Your prediction: **{prediction}** (kept with your class).").format(prediction=plain_text(kept)))
        return kept
    if lesson.is_number:
        st.text_input(_("Your prediction (a number)"), max_chars=40, key=key)
        said = str(ss.get(key) or "").strip() or None
    else:
        said = st.radio(_("Your prediction"), list(lesson.choices), index=None, key=key, format_func=plain_text)
    if not member:
        st.caption(_("Join your teacher's class (its link) to keep your prediction with it."))
        return said
    st.button(_("Submit my prediction"), key=f"lessons_own_submit_{lesson.id}", disabled=said is None,
              on_click=_submit, args=(lesson,))
    if "_lessons_own_problem" in ss:
        st.warning(plain_text(ss.pop("_lessons_own_problem")))
    return None


def _submit(lesson: TeacherLesson) -> None:
    """Submit's callback: the prediction answers the lesson's class question (made now if nobody has yet)."""
    ss = st.session_state
    try:
        questions.answer(classroom(), authoring.lesson_gate(classroom(), lesson), ss["owner"],
                         ss.get(f"lessons_own_{lesson.id}"))
    except ClassError as exc:
        ss["_lessons_own_problem"] = str(exc)


def open_setup(lesson: TeacherLesson) -> None:
    """Set this session up as the lesson's link would: its experiment kind and net, its locked and hidden controls."""
    ss = st.session_state
    settings, _problems = urlstate.from_query(lesson.query())
    controls, _problems = urlstate.controls_from_query(lesson.query())
    ss["kind"] = ss["train_kind"] = settings["kind"] or "twin"
    ss["model_cfg"] = {**ss["model_cfg"], **settings["model"]}
    ss["train"] = {**ss.get("train", {}), **settings["train"]}
    if "epochs" in settings["train"]:
        ss["train_epochs"] = settings["train"]["epochs"]  # the Train page's widget shows the lesson's length
    ss["lesson_controls"] = controls
    ss["lesson_link"] = {"kind": ss["kind"], "dataset": ss.get("dataset", "digits"), "model": dict(settings["model"]),
                         "train": dict(settings["train"])}


def show_own_lesson(lesson: TeacherLesson, mine: tuple[ClassInfo, Member] | None) -> None:
    """The lesson's screen: its question, the prediction, the experiment and Run it."""
    st.header(plain_text(lesson.title))
    st.caption(_("A lesson your teacher wrote for the class."))
    with st.container(border=True):
        st.markdown(_("**Predict first:** {prediction}").format(prediction=plain_text(lesson.prompt)))
        guess = _prediction(lesson, mine)
        st.markdown(_("**The experiment:** {experiment}.").format(experiment=_(lesson.setup.words)))
        own = lesson.setup.builtin is None
        if st.button(_("Set it up on Train") if own else _("Run it"), key="lessons_own_run", type="primary",
                     disabled=guess is None, help=_("Make your prediction first.")):
            open_setup(lesson)
            try:
                spec = None if own else lesson.setup.spec(DataConfig(name=st.session_state.get("dataset", "digits")),
                                                          train_cfg())
            except ValueError as exc:
                st.error(plain_text(str(exc)))
                return
            if spec is None or start_experiment(spec):
                st.switch_page("pages/train.py")
