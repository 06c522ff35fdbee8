"""Class (teacher only): create a class and put its code on the projector, watch every student live, stop or
delete any job, project any student's charts in one click, ask a predict-then-observe question, draw the class's
Figure 6."""
import streamlit as st

from explorer import i18n
from explorer.access.policy import Action
from explorer.classroom import language as class_language
from explorer.classroom import questions
from explorer.classroom.once import create_once
from explorer.classroom.records import ClassError
from explorer.figures.classroom import class_chart, tally_chart
from explorer.figures.curves import run_series, training_curves
from explorer.i18n import N_, _, ngettext
from explorer.jobs.status import status_word
from explorer.text import clean, plain_text
from pages.class_attention import flag_words, needs_attention, sort_roster
from pages.class_debrief import debrief_downloads
from pages.class_lessons import lessons_panel
from pages.class_pause import pause_controls
from pages.class_screen_controls import join_link_warning, public_join_link, screen_controls
from pages.class_staff import staff_panel, visible_classes
from pages.common import classroom, ensure_entry, forget_class_roles, may, may_somewhere, store, train_cfg
from pages.display import confirmed, plot
from pages.job_actions import act
from pages.lti_roster import lms_roster
from pages.signin import signin_panel, teacher_bar

ensure_entry("pages/classroom.py")


ROW = (2.2, 1.1, 1.6, 3.6, 1.0, 0.6, 1.3)  # student, job, progress, final training errors, seed, jobs, project
HEADINGS = (N_("student"), N_("job"), N_("progress"), N_("final training errors"), N_("seed"), N_("jobs"), "")


def finals_text(row) -> str:
    return ", ".join(f"{n} {i18n.pct(tr * 100)}" for n, tr, _test in row.finals if tr is not None) or "–"


def roster_rows(rows, flags=None) -> None:
    """One row per student, each with its own Project button: one click puts that student's charts (their newest
    job, live) right under their row; a second click takes them away."""
    head = st.columns(ROW)
    for col, label in zip(head, HEADINGS, strict=True):
        col.caption(_(label) if label else "")
    projected, may_project = st.session_state.get("class_projected"), may(Action.PROJECT,
                                                                         class_id=st.session_state.get("class_pick"))
    for row in rows:
        with st.container(key=f"class_row_{row.member}"):
            c = st.columns(ROW, vertical_alignment="center")
            c[0].markdown(f"**{plain_text(row.name)}**{flag_words(flags or {}, row.owner)}")
            c[1].markdown(status_word(row.status))
            c[2].progress(row.fraction if row.fraction is not None else (1.0 if row.status == "completed" else 0.0))
            c[3].markdown(plain_text(finals_text(row)))  # run names
            c[4].markdown(str(row.seed) if row.seed is not None else "–")
            c[5].markdown(str(row.jobs))
            on = projected == row.member
            c[6].button(_("Projecting") if on else _("Project"), key=f"class_project_{row.member}",
                        disabled=row.exp_id is None or not may_project, type="primary" if on else "secondary",
                        on_click=_project, args=(None if on else row.member,),
                        help=_("Show {name}'s charts under this row").format(name=plain_text(row.name)) if not on
                        else _("Stop projecting"))
        if on and row.exp_id:
            projected_student(row)


def _project(member) -> None:
    st.session_state["class_projected"] = member


def student_actions(rows) -> None:
    """Pick a student: stop or delete their job (teacher's right; two steps, so no click on a projector ends one)."""
    class_id = st.session_state.get("class_pick")
    with_jobs = {r.exp_id: r for r in rows if r.exp_id}
    if not with_jobs:
        return
    c = st.columns([3, 1, 1], vertical_alignment="bottom")
    pick = c[0].selectbox(_("Stop or delete a student's job"), list(with_jobs), key="class_student",
                          format_func=lambda e: clean(with_jobs[e].name))
    if c[1].button(_("Stop"), key="class_stop") and act(Action.STOP, pick, class_id=class_id):
        st.toast(_("Stopping {name}'s job…").format(name=plain_text(with_jobs[pick].name)))
    if may(Action.DELETE, class_id=class_id) and confirmed(
            c[2], _("Delete"), "class_delete",
            _("Delete {name}'s job and its runs?").format(name=with_jobs[pick].name)):
        act(Action.DELETE, pick, class_id=class_id)


def projected_student(row) -> None:
    """The student's newest job's curves, rebuilt only when its metrics grew."""
    exp = store().load_experiment(row.exp_id)
    if exp is None:
        return
    with st.container(border=True, key="class_projected_box"):
        st.subheader(_("{name}'s charts").format(name=plain_text(row.name)))
        version = (exp.status, *store().metrics_version(exp.id))
        plot(st, projected_figure(exp.id, version, exp, i18n.current()), key="class_projected_curves", listen=True)


@st.cache_resource(max_entries=16, show_spinner=False)
def projected_figure(exp_id: str, version: tuple, _exp, lang: str):
    series = [run_series(run, store().read_metrics(exp_id, run.id, kind="epoch")) for run in _exp.runs]
    return training_curves(series)


def question_panel(info) -> None:
    """Open a question; the newest one's tally, live, with a Reveal button."""
    room = classroom()
    latest = next(iter(questions.class_questions(room, info.id)), None)
    if latest is not None:
        t = questions.tally(room, latest)
        counts = {"answered": i18n.count(t.answered), "members": i18n.count(t.members)}
        state = (_("{answered} of {members} answered; revealed to everyone") if latest.revealed else
                 _("{answered} of {members} answered; hidden from the students")).format(**counts)
        st.markdown(f"**{plain_text(latest.prompt)}** ({state})")
        if t.answered:
            plot(st, tally_chart(t.counts), key="class_tally")
        else:
            st.caption(_("No answers yet."))
        if latest.revealed is None and may(Action.REVEAL, class_id=info.id):
            st.button(_("Reveal answers and curves"), key="class_reveal", on_click=questions.reveal,
                      args=(room, latest.id))


def lesson_predictions(info) -> None:
    """The class's predictions on the Lessons page, per lesson (each student once), with a chart for the lesson the
    class follows: two queries, whatever the class's size."""
    from explorer.classroom.lessons import LESSONS
    tallies = questions.lesson_tallies(classroom(), info.id, LESSONS)
    of = _("{answered} of {members}")
    rows = [{_("lesson"): _(x.title),
             _("answered"): of.format(answered=i18n.count(tallies[x.key].answered),
                                      members=i18n.count(tallies[x.key].members)),
             _("predictions"): " · ".join(f"{_(c)}: {i18n.count(n)}" for c, n in tallies[x.key].counts)}
            for x in LESSONS if tallies[x.key].answered or x.key == info.lesson]
    st.markdown(_("**Lesson predictions** (made on the Lessons page before *Run it*)"))
    if not rows:
        st.caption(_("No student has made a lesson's prediction yet."))
        return
    st.dataframe(rows, hide_index=True, key="class_lesson_tally")
    followed = next((x for x in LESSONS if x.key == info.lesson), None)
    if followed is not None:
        t = tallies[followed.key]
        if not t.answered:
            st.caption(_("{lesson}: no answers yet.").format(lesson=_(followed.title)))
            return
        title = _("{question} ({answered} of {members} answered)").format(
            question=_(followed.predict), answered=i18n.count(t.answered), members=i18n.count(t.members))
        plot(st, tally_chart(t.counts, title), key="class_lesson_chart")


@st.fragment(run_every=1.0)
def live(class_id: str) -> None:
    """The roster, the tally and the class's Figure 6, about once a second (a fixed number of queries)."""
    room = classroom()
    info = room.get(class_id)
    rows = room.roster(class_id)
    training, finished = sum(r.status == "running" for r in rows), sum(r.status == "completed" for r in rows)
    st.markdown(" · ".join((
        ngettext("**{n} student**", "**{n} students**", len(rows)).format(n=i18n.count(len(rows))),
        ngettext("{n} training", "{n} training", training).format(n=i18n.count(training)),
        ngettext("{n} finished", "{n} finished", finished).format(n=i18n.count(finished)))))
    flags = needs_attention(class_id, rows)
    roster_rows(sort_roster(rows, flags), flags)
    student_actions(rows)
    question_panel(info)
    lesson_predictions(info)
    figure, scale = class_figure(class_id, room.finished_jobs(class_id, "sweep"), i18n.current())
    plot(st, figure, key="class_figure6", listen=True)
    if scale:
        st.caption(scale)


# The class chart reads every finished run's epoch records: rebuilt only when another job finishes.
@st.cache_resource(max_entries=16, show_spinner=False)
def class_figure(class_id: str, finished: tuple, lang: str):
    """The class's Figure 6 and the scale of its degradation (explorer.figures.classroom.class_chart), in `lang`."""
    return class_chart(classroom(), class_id, finished)


GATED_LABELS = {"sweep": N_("depth sweeps (Figure 6)"), "twin": N_("twins"), "compare": N_("comparisons")}


def ask_form(info) -> None:
    """Open a question; after Ask the form closes and its fields are cleared (the question shows in the live view)."""
    if not may(Action.ASK, class_id=info.id):
        return
    ss = st.session_state
    try:
        default = questions.figure6_question(train_cfg())
    except ValueError:
        default = _("Which ends with the higher training error: plain-20 or plain-56?")
    ss.setdefault("class_q_prompt", default)
    ss.setdefault("class_q_choices", "plain-20, plain-56")
    with st.expander(_("Ask the class to predict"), key="class_ask_box", on_change="rerun"):
        st.text_input(_("Question"), max_chars=questions.MAX_PROMPT, key="class_q_prompt", placeholder=default)
        st.text_input(_("Choices, separated by commas (empty: the answer is a number)"), key="class_q_choices",
                      placeholder="plain-20, plain-56")  # not for translation
        st.selectbox(_("Hides the curves of"), questions.GATED_KINDS, key="class_q_kind",
                     format_func=lambda k: _(GATED_LABELS[k]))
        st.button(_("Ask"), key="class_q_open", type="primary", on_click=_ask, args=(info.id,))
    if "class_q_problem" in ss:
        st.warning(plain_text(ss.pop("class_q_problem")))


def _ask(class_id: str) -> None:
    """Ask's callback: open the question, then close the form and clear it; a refusal keeps what was typed."""
    ss = st.session_state
    try:
        questions.open_question(classroom(), class_id, ss.get("class_q_prompt", ""),
                                str(ss.get("class_q_choices", "")).split(","), ss.get("class_q_kind", "sweep"))
    except ClassError as exc:
        ss["class_q_problem"] = str(exc)
        return
    ss.update(class_q_prompt="", class_q_choices="", class_ask_box=False)
    st.toast(_("Asked: the question and its tally are in the live view below."))


def follow_me(info) -> None:
    """Put the class on a lesson: every student's Lessons page shows it."""
    from explorer.classroom.lessons import LESSONS
    keys = [None] + [x.key for x in LESSONS]
    titles = {x.key: x.title for x in LESSONS}
    st.selectbox(_("Follow me: the class's lesson"), keys,
                 index=keys.index(info.lesson) if info.lesson in keys else 0,
                 format_func=lambda k: _("none (everyone walks alone)") if k is None else _(titles[k]),
                 key="class_lesson",
                 on_change=lambda: classroom().set_lesson(info.id, st.session_state.get("class_lesson")))


def language_choice(info) -> None:
    """The class's language: its students and the class screen read the app in it unless they choose their own
    (pages.lang); "" is each reader's own (their choice, else their browser's)."""
    ss = st.session_state
    options = ["", *i18n.available()]
    ss["class_language"] = class_language.language(classroom(), info.id) or ""
    st.selectbox(_("The class's language"), options, key="class_language", on_change=_set_language,
                 args=(info.id,), format_func=lambda c: i18n.native_name(c) if c else _("Each reader's own"))
    st.caption(_("Students of this class and the class screen read the app in this language, unless they choose "
                 "their own."))
    if "class_language_problem" in ss:
        st.warning(ss.pop("class_language_problem"))


def _set_language(class_id: str) -> None:
    code = st.session_state.get("class_language") or None
    try:
        class_language.set_language(classroom(), class_id, code)
    except ValueError as exc:
        st.session_state["class_language_problem"] = str(exc)


def class_header(info) -> None:
    link = public_join_link(info.code)  # EXPLORER_PUBLIC_URL, the proxy's address, or this browser's
    st.markdown("## " + _("Join code: {code}").format(code=info.code))
    st.markdown(_("Join link:"))
    st.code(link.url, language=None)
    join_link_warning(link)
    st.caption(_("A link gives membership in the class, never rights: only the class's teacher and the staff they "
                 "add stop others' jobs."))


def delete_class(info, suffix: str = "") -> None:
    """Delete the class after a confirmation: its memberships, questions and answers go; experiments stay."""
    ss = st.session_state
    if not may(Action.DELETE_CLASS, class_id=info.id):
        return
    if ss.get("class_remove_pending") != info.id:
        st.button(_("Delete this class…"), key=f"class_remove{suffix}", on_click=ss.update,
                  args=({"class_remove_pending": info.id},), help=_("Asks for a confirmation first."))
        return
    with st.container(border=True):
        st.warning(_("Delete the class {name} ({code})? Its members, questions and answers are deleted; the "
                     "students' experiments are kept.").format(name=plain_text(info.name), code=info.code))
        c = st.columns(2)
        c[0].button(_("Yes, delete the class"), key=f"class_remove_confirm{suffix}", type="primary",
                    on_click=_delete_class, args=(info.id,))
        c[1].button(_("Cancel"), key=f"class_remove_cancel{suffix}", on_click=ss.pop,
                    args=("class_remove_pending", None))


def closed_classes(room, closed: list) -> None:
    """The teacher's closed classes: reopen one (its link takes members again) or delete it."""
    if not closed:
        return
    with st.expander(_("Closed classes ({n})").format(n=i18n.count(len(closed))), expanded=False):
        for info in closed:
            c = st.columns([3, 1, 2], vertical_alignment="center")
            c[0].markdown(f"{plain_text(info.name)} ({info.code})")
            c[1].button(_("Reopen"), key=f"class_reopen_{info.id}", on_click=room.reopen, args=(info.id,),
                        help=_("Its link takes new members again."),
                        disabled=not may(Action.MANAGE_CLASS, class_id=info.id))
            with c[2]:
                delete_class(info, f"_{info.id}")


def _delete_class(class_id: str) -> None:
    classroom().delete(class_id)
    for key in ("class_remove_pending", "class_pick", "class_projected"):
        st.session_state.pop(key, None)
    st.toast(_("The class was deleted."))


st.title(_("Class"))
teacher_bar()
if not (may(Action.CREATE_CLASS) or may_somewhere(Action.VIEW_CLASS)):
    signin_panel()
    st.stop()
room = classroom()
every_class = visible_classes(room.teacher_classes(include_closed=True))
if may(Action.CREATE_CLASS):
    with st.expander(_("New class"), expanded=not every_class):
        name = st.text_input(_("Class name"), max_chars=40, key="class_new_name")
        if st.button(_("Create the class"), key="class_create", type="primary"):
            made, new = create_once(room, st.session_state["owner"], name)  # a double press makes one class
            st.session_state["class_pick"] = made.id
            if not new:
                st.info(_("The class {name} ({code}) was just created; this press made no other.")
                        .format(name=plain_text(made.name), code=made.code))
            forget_class_roles()
            every_class = [made, *(c for c in every_class if c.id != made.id)]
open_classes = {c.id: c for c in every_class if c.closed is None}
closed_classes(room, [c for c in every_class if c.closed is not None])
if not open_classes:
    st.info(_("Create a class to get its join link and code."))
    st.stop()
if st.session_state.get("class_pick") not in open_classes:
    st.session_state["class_pick"] = next(iter(open_classes))
pick = st.selectbox(_("Class"), list(open_classes), key="class_pick",
                    format_func=lambda i: f"{clean(open_classes[i].name)} ({open_classes[i].code})")
info = open_classes[pick]
class_header(info)
lms_roster(info)  # a class opened from an LMS course: who has not joined yet (pages.lti_roster)
left, right = st.columns(2)
if may(Action.MANAGE_CLASS, class_id=info.id):
    left.button(_("Close this class"), key="class_close", help=_("Its link then refuses new members; runs are kept."),
                on_click=room.close, args=(info.id,))
with right:
    delete_class(info)
staff_panel(info)
if may(Action.MANAGE_CLASS, class_id=info.id):
    follow_me(info)
    language_choice(info)
screen_controls(info)
pause_controls(info)
ask_form(info)
lessons_panel(info)
debrief_downloads(info)
live(info.id)
