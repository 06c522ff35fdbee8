"""The Class page's own lessons (teacher, Action.AUTHOR): write a predict-then-observe question, pick the experiment it
gates and, with checkboxes, the controls its link locks or hides; each saved lesson gets its link, an Ask button
and a Delete; the class's lessons go out and come back as a small JSON file (explorer.classroom.authoring checks it).
"""
from __future__ import annotations

import urllib.parse

import streamlit as st

from explorer import urlstate
from explorer.access.policy import Action
from explorer.classroom import authoring
from explorer.classroom.questions import tally
from explorer.classroom.records import ClassError, ClassInfo
from explorer.i18n import N_, _, ngettext
from explorer.text import plain_text
from pages.class_screen_controls import public_join_link
from pages.common import classroom, may
from pages.display import confirmed

_P = "class_lessons"  # widget keys
LOCK_HELP = N_("Locked: the student sees the lesson's value, greyed out. Hidden: not shown, the lesson's value used.")


def lessons_panel(info: ClassInfo) -> None:
    """The class's own lessons and the form that writes one (nothing for anyone without Action.AUTHOR)."""
    if not may(Action.AUTHOR, class_id=info.id):
        return
    room = classroom()
    lessons = authoring.class_lessons(room, info.id)
    with st.expander(_("Your own lessons ({n})").format(n=len(lessons)), expanded=False,
                     key=f"{_P}_box"):  # open after a save
        if "_class_lessons_note" in st.session_state:
            st.success(plain_text(st.session_state.pop("_class_lessons_note")))
        for lesson in lessons:
            saved_lesson(info, lesson)
        lesson_form(info)
        carry_over(info, lessons)


def lesson_link(info: ClassInfo, lesson: authoring.TeacherLesson) -> str:
    """The lesson's link: the address students' devices use (the join link's: EXPLORER_PUBLIC_URL, a declared proxy's,
    or this browser's), the Lessons page, the class to join and the lesson's setup."""
    base = public_join_link(info.code).url.rsplit("/?join=", 1)[0]
    return f"{base}/lessons?{urllib.parse.urlencode(lesson.query(info.code))}"


def saved_lesson(info: ClassInfo, lesson: authoring.TeacherLesson) -> None:
    """One saved lesson: what it asks and runs, its link, Ask (opens its question) and Delete."""
    room = classroom()
    with st.container(border=True, key=f"{_P}_row_{lesson.id}"):
        st.markdown(f"**{plain_text(lesson.title)}** — {plain_text(lesson.prompt)}")
        answer = _("a number") if lesson.is_number else " · ".join(lesson.choices)
        length = (ngettext("{n} epoch", "{n} epochs", lesson.epochs).format(n=lesson.epochs) if lesson.epochs
                  else _("the dataset's recipe"))
        st.caption(plain_text(_("Answers: {answers}. Experiment: {experiment}, {length}. Locked: {locked}; hidden: "
                                "{hidden}.").format(
            answers=answer, experiment=_(lesson.setup.words), length=length,
            locked=", ".join(control_word(n) for n in lesson.lock) or _("nothing"),
            hidden=", ".join(control_word(n) for n in lesson.hide) or _("nothing"))))
        st.code(lesson_link(info, lesson), language=None)
        asked = authoring.asked(room, lesson)
        c = st.columns([2, 1, 3], vertical_alignment="center")
        if asked is None:
            c[0].button(_("Ask the class now"), key=f"{_P}_ask_{lesson.id}", on_click=authoring.lesson_gate,
                        args=(room, lesson), disabled=not may(Action.ASK, class_id=info.id),
                        help=_("Opens its question: its experiment's results stay hidden from each student until "
                               "they answer (or you reveal). A student's first prediction opens it too."))
        else:
            t = tally(room, asked)
            c[0].caption((_("Asked: {answered} of {members} answered; revealed.") if asked.revealed else
                          _("Asked: {answered} of {members} answered.")).format(answered=t.answered,
                                                                                members=t.members))
        if confirmed(c[1], _("Delete"), f"{_P}_delete_{lesson.id}",
                     _("Delete the lesson {title}?").format(title=lesson.title),
                     help=_("Its answers stay for the debrief; its question stops hiding results.")):
            authoring.delete_lesson(room, info.id, lesson.id)
            st.rerun()


WORDS = {"kind": N_("experiment kind"), "dataset": N_("dataset"), "epochs": N_("epochs"),
         "batch_size": N_("batch size"), "lr": N_("learning rate"), "schedule": N_("schedule"), "device": N_("device"),
         "preset": N_("preset"), "family": N_("family"), "block": N_("block"), "depth": N_("depth"),
         "width": N_("width"), "shortcut": N_("shortcut"), "placement": N_("placement"), "norm": N_("norm"),
         "init": N_("init"), "zero_init_residual": N_("zero-init")}  # the controls' names as the pages label them


def control_word(name: str) -> str:
    """A control's name as the pages label it, in the reader's language."""
    return _(WORDS[name]) if name in WORDS else name


def _checkboxes(label: str, what: str) -> None:
    """One checkbox per Build and Train control (urlstate.CONTROLS), Train's first, four to a row."""
    st.markdown(f"**{label}**")
    build = [n for n in urlstate.BUILD_CONTROLS if n not in urlstate.TRAIN_CONTROLS]
    for page, names in ((_("On Train"), urlstate.TRAIN_CONTROLS), (_("On Build"), build)):
        st.caption(page)
        cols = st.columns(4)
        for i, name in enumerate(names):
            cols[i % 4].checkbox(control_word(name), key=f"{_P}_{what}_{name}")


def _ticked(what: str) -> list[str]:
    return [name for name in urlstate.CONTROLS if st.session_state.get(f"{_P}_{what}_{name}")]


ANSWERS = {"choices": N_("choices"), "a number": N_("a number")}  # the answer's kind: value -> label


def lesson_form(info: ClassInfo) -> None:
    """Write a lesson: its title, question, answers (choices or a number), experiment, locked and hidden controls."""
    st.markdown(_("**Write a lesson**"))
    st.text_input(_("Title"), max_chars=authoring.MAX_TITLE, key=f"{_P}_title", placeholder=_("Deep twins"))
    st.text_input(_("Question the students answer before they run it"), max_chars=authoring.MAX_PROMPT,
                  key=f"{_P}_prompt", placeholder=_("Which twin ends with the lower training error?"))
    if st.radio(_("Answer"), list(ANSWERS), horizontal=True, key=f"{_P}_answer",
                format_func=lambda a: _(ANSWERS[a])) == "choices":
        st.text_input(_("Choices, separated by commas"), key=f"{_P}_choices",
                      placeholder="plain-56, resnet-56")  # not for translation
    keys = [e.key for e in authoring.EXPERIMENTS]
    words = {e.key: e.words for e in authoring.EXPERIMENTS}
    st.selectbox(_("The experiment it gates (its results stay hidden until each student answers)"), keys,
                 key=f"{_P}_experiment", format_func=lambda k: _(words[k]))
    st.number_input(_("Epochs its link sets (empty: the dataset's recipe)"), *urlstate.EPOCHS, value=None, step=1,
                    key=f"{_P}_epochs", help=_("A short run for a big class on a small machine: lock epochs too."))
    st.caption(_(LOCK_HELP))
    _checkboxes(_("Lock these controls"), "lock")
    _checkboxes(_("Hide these controls"), "hide")
    st.button(_("Save the lesson"), key=f"{_P}_save", type="primary", on_click=_save, args=(info.id,))
    if f"{_P}_problem" in st.session_state:
        st.warning(plain_text(st.session_state.pop(f"{_P}_problem")))


def _save(class_id: str) -> None:
    """Save's callback (it reads the form's state as it is at the click): the lesson is kept and the form empties,
    or one sentence says what to change."""
    ss = st.session_state
    choices = [] if ss.get(f"{_P}_answer") == "a number" else str(ss.get(f"{_P}_choices") or "").split(",")
    try:
        made = authoring.save_lesson(classroom(), class_id, ss.get(f"{_P}_title") or "", ss.get(f"{_P}_prompt") or "",
                                     choices, ss.get(f"{_P}_experiment"), _ticked("lock"), _ticked("hide"),
                                     None if ss.get(f"{_P}_epochs") is None else int(ss[f"{_P}_epochs"]))
    except ClassError as exc:
        ss[f"{_P}_problem"] = str(exc)
        return
    for key in ("title", "prompt", "choices"):
        ss[f"{_P}_{key}"] = ""
    ss[f"{_P}_epochs"] = None
    for name in urlstate.CONTROLS:
        ss[f"{_P}_lock_{name}"] = ss[f"{_P}_hide_{name}"] = False
    ss["_class_lessons_note"] = _("Saved {title}: its link is above.").format(title=made.title)


def carry_over(info: ClassInfo, lessons: list) -> None:
    """Export the class's lessons as a JSON file; import a file exported before (next year's class)."""
    st.markdown(_("**Next year's class**"))
    c = st.columns(2)
    c[0].download_button(_("Export these lessons (JSON)"), data=authoring.export_lessons(lessons),
                         file_name=f"lessons-{info.code}.json", mime="application/json", key=f"{_P}_export",
                         disabled=not lessons, on_click="ignore")
    c[1].file_uploader(_("Import lessons from a file exported here"), type=["json"], key=f"{_P}_import",
                       max_upload_size=1, on_change=_import, args=(info.id,))
    if f"{_P}_import_problem" in st.session_state:
        st.warning(plain_text(st.session_state.pop(f"{_P}_import_problem")))


def _import(class_id: str) -> None:
    """The uploader's callback: runs once per file chosen, so a rerun never imports it again."""
    upload = st.session_state.get(f"{_P}_import")
    if upload is None:
        return
    try:  # the size is checked before anything is parsed (and Streamlit refuses a file over 1 MB)
        made = authoring.import_lessons(classroom(), class_id, upload.getvalue())
    except ClassError as exc:
        st.session_state[f"{_P}_import_problem"] = str(exc)
        return
    st.session_state["_class_lessons_note"] = ngettext("Imported {n} lesson.", "Imported {n} lessons.",
                                                        len(made)).format(n=len(made))
